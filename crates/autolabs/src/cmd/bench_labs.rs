//! `autolabs bench labs`: lab creations per second and their latency through the whole
//! stack — HTTP client → lab API (axum, auth) → provisioner (preflight from the watched
//! quota, Pod, then Service + NetworkPolicy + Ingress) → the in-process fake API server
//! (a test double with real HTTP, admission and quota accounting). Figures, not assertions.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use autolabs_kube::fake::{FakeApiServer, FakeConfig};
use autolabs_kube::labs::ProvisionerConfig;
use autolabs_model::Platform;
use serde_json::json;

use super::lab::LabClient;
use super::serve;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Creates in flight at once.
    #[arg(long, default_value_t = 50)]
    pub concurrency: usize,
    /// Labs to create in total.
    #[arg(long, default_value_t = 2000)]
    pub count: usize,
}

const TOKEN: &str = "bench-token";

/// Seeds the labs namespace, its LimitRange and the PriorityClasses as rendered, and a quota
/// large enough for `count` labs (the bench measures creation, not refusal).
fn seed(server: &FakeApiServer, platform: &Platform, count: usize) -> anyhow::Result<()> {
    for manifest in autolabs_model::render(platform).manifests {
        let in_labs = manifest.namespace.as_deref() == Some("labs")
            || (manifest.kind == "Namespace" && manifest.name == "labs");
        if (in_labs && matches!(manifest.kind.as_str(), "Namespace" | "LimitRange"))
            || manifest.kind == "PriorityClass"
        {
            server.apply_object(manifest.value)?;
        }
    }
    let n = (count + 10).to_string();
    server.apply_object(json!({
        "apiVersion": "v1", "kind": "ResourceQuota",
        "metadata": {"name": "labs-quota", "namespace": "labs"},
        "spec": {"hard": {"pods": n, "services": n, "count/ingresses.networking.k8s.io": n,
                          "requests.cpu": format!("{}", count + 10), "requests.memory": format!("{}Gi", count + 10),
                          "limits.cpu": format!("{}", count + 10), "limits.memory": format!("{}Gi", count + 10)}}
    }))?;
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if cfg!(debug_assertions) {
        eprintln!(
            "note: this is a debug build; for real figures run `cargo run --release -p autolabs -- bench labs …`"
        );
    }
    let concurrency = args.concurrency.max(1);
    let count = args.count.max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async move {
        let server = FakeApiServer::start(FakeConfig::default()).await?;
        let platform = Platform::default();
        seed(&server, &platform, count)?;
        let templates = serve::templates(None, &platform)?;
        let provisioner = serve::provisioner(server.client()?, ProvisionerConfig::new(platform, templates))?;
        anyhow::ensure!(provisioner.wait_synced(Duration::from_secs(10)).await, "caches did not sync");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("cannot listen on loopback")?;
        let address = listener.local_addr()?;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let api = tokio::spawn(serve::serve(listener, provisioner, TOKEN, Duration::from_secs(3600), async move {
            let _ = stop_rx.await;
        }));
        let client = std::sync::Arc::new(LabClient::new(&format!("http://{address}"), TOKEN, "en"));

        let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let started = Instant::now();
        let workers: Vec<_> = (0..concurrency)
            .map(|_| {
                let client = std::sync::Arc::clone(&client);
                let next = std::sync::Arc::clone(&next);
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    let mut errors = 0usize;
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if i >= count {
                            return (latencies, errors);
                        }
                        let body = json!({"id": format!("bench-{i}"), "template": "linux-basics"});
                        let t = Instant::now();
                        match client.send("POST", "/v1/labs", Some(body)).await {
                            Ok(answer) if answer.status == 201 => latencies.push(t.elapsed()),
                            _ => errors += 1,
                        }
                    }
                })
            })
            .collect();
        let mut latencies = Vec::with_capacity(count);
        let mut errors = 0;
        for worker in workers {
            let (l, e) = worker.await?;
            latencies.extend(l);
            errors += e;
        }
        let elapsed = started.elapsed();
        latencies.sort();
        let _ = stop_tx.send(());
        let _ = api.await;
        let created = latencies.len();
        println!("bench labs: {count} creates of linux-basics at concurrency {concurrency} (HTTP API → provisioner → fake API server, 4 objects each)");
        println!(
            "  {created} created, {errors} failed in {:.2} s: {:.0} creates/s",
            elapsed.as_secs_f64(),
            created as f64 / elapsed.as_secs_f64()
        );
        println!(
            "  latency p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            ms(percentile(&latencies, 50.0)),
            ms(percentile(&latencies, 90.0)),
            ms(percentile(&latencies, 99.0)),
            ms(latencies.last().copied().unwrap_or_default())
        );
        println!("  rerun: cargo run --release -p autolabs -- bench labs --concurrency {concurrency} --count {count}");
        server.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    /// The bench itself, for running it before `bench labs` is routed:
    /// `cargo test --release -p autolabs --lib bench_labs -- --ignored --nocapture`.
    #[test]
    #[ignore = "a benchmark: figures, not a test"]
    fn bench_labs_figures() {
        let concurrency = std::env::var("BENCH_CONCURRENCY").ok().and_then(|v| v.parse().ok()).unwrap_or(50);
        let count = std::env::var("BENCH_COUNT").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
        super::run(super::Args { concurrency, count }).expect("bench runs");
    }

    #[test]
    fn percentiles_by_rank() {
        let samples: Vec<std::time::Duration> = (1..=100).map(std::time::Duration::from_millis).collect();
        assert_eq!(super::percentile(&samples, 50.0).as_millis(), 50);
        assert_eq!(super::percentile(&samples, 99.0).as_millis(), 99);
        assert_eq!(super::percentile(&[], 99.0).as_millis(), 0);
    }
}
