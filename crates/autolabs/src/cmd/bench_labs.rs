//! `autolabs bench labs`: lab creations per second and their latency through the whole
//! stack — HTTP client → lab API (axum, auth) → provisioner (preflight from the watched
//! quota, Pod, then Service + NetworkPolicy + Ingress) → the in-process fake API server
//! (a test double with real HTTP, admission and quota accounting). Figures, not assertions.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use autolabs_fake::{FakeApiServer, FakeConfig};
use autolabs_kube::labs::ProvisionerConfig;
use autolabs_model::Platform;
use serde_json::json;

use super::lab::LabClient;
use super::serve;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Creates in flight at once (with --rate: at most this many). Default 50 on the fake
    /// API server, 20 on a real one (--kubeconfig/--server).
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Labs to create in the measured run. Default 2000 on the fake API server, 300 on a real one.
    #[arg(long)]
    pub count: Option<usize>,
    /// Creates before the measured run, not counted: connections opened, caches and heap
    /// grown, as in a service that has been up for a while. Their figures are printed too.
    /// Default 200 on the fake API server, 30 on a real one.
    #[arg(long)]
    pub warmup: Option<usize>,
    /// Offered load in creates per second (open loop, like wrk2): each create has a
    /// scheduled start and its latency counts from then, so a stalled server is not hidden
    /// by clients that wait. Without it, every client sends its next create as soon as the
    /// last one answered (closed loop, the machine's saturation point).
    #[arg(long)]
    pub rate: Option<f64>,
    /// MiB of heap to touch and free before starting, so the run reuses memory the machine
    /// has already backed (as latency-sensitive services pre-touch their heap; cf. the JVM's
    /// AlwaysPreTouch). On this project's VMs the first touch of fresh memory costs ~4 ms per
    /// 2 MiB huge page, and when it lands on the thread holding the fake API server's store
    /// lock every request waits: p99 then jumps to 50–85 ms in some runs. 0 measures that.
    #[arg(long, default_value_t = 512)]
    pub pretouch_mib: usize,
    /// Run against a real cluster (admin kubeconfig): the provisioner, acting as its own
    /// ServiceAccount, in a namespace of the bench's own made like `labs`, and the server's
    /// ceiling measured beside it. The namespace is deleted at the end.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<std::path::PathBuf>,
    /// Measure a running lab API at this URL (token: --token-file or AUTOLABS_API_TOKEN)
    /// instead of an in-process one; with --kubeconfig, the ceiling is measured on that
    /// cluster too. The bench deletes the labs it made through the API.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// File holding the lab API's bearer token (with --server); else AUTOLABS_API_TOKEN.
    #[arg(long)]
    pub token_file: Option<std::path::PathBuf>,
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

/// Allocates and writes `mib` MiB in 1 MiB blocks, then frees them: the allocator keeps the
/// pages for a while (mimalloc purges after a delay), so what the run allocates next is
/// already backed by the machine.
fn pretouch_heap(mib: usize) {
    let blocks: Vec<Vec<u8>> = (0..mib).map(|_| vec![1u8; 1 << 20]).collect();
    std::hint::black_box(&blocks);
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
    if args.kubeconfig.is_some() || args.server.is_some() {
        return super::bench_labs_real::run(args);
    }
    if cfg!(debug_assertions) {
        eprintln!(
            "note: this is a debug build; for real figures run `cargo run --release -p autolabs -- bench labs …`"
        );
    }
    let concurrency = args.concurrency.unwrap_or(50).max(1);
    let count = args.count.unwrap_or(2000).max(1);
    let warmup_count = args.warmup.unwrap_or(200);
    pretouch_heap(args.pretouch_mib);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async move {
        let server = FakeApiServer::start(FakeConfig::default()).await?;
        let platform = Platform::default();
        seed(&server, &platform, count + warmup_count)?;
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

        let load = Load { concurrency, rate: args.rate };
        let warmup = run_phase(&client, "warmup", warmup_count, load).await?;
        let measured = run_phase(&client, "bench", count, load).await?;
        let _ = stop_tx.send(());
        let _ = api.await;
        let mode = match args.rate {
            Some(rate) => format!("offered {rate:.0} creates/s, at most {concurrency} in flight (open loop)"),
            None => format!("concurrency {concurrency} (closed loop)"),
        };
        outln!(
            "bench labs: {count} creates of linux-basics at {mode}, after {} warm-up creates and {} MiB of heap pre-touched (HTTP API → provisioner → fake API server, 4 objects each)",
            warmup_count, args.pretouch_mib
        )?;
        outln!("  {}", measured.summary())?;
        if warmup_count > 0 {
            outln!("  warm-up: {}", warmup.summary())?;
        }
        let rate = args.rate.map(|r| format!(" --rate {r}")).unwrap_or_default();
        outln!(
            "  rerun: cargo run --release -p autolabs -- bench labs --concurrency {concurrency} --count {count} --warmup {} --pretouch-mib {}{rate}",
            warmup_count, args.pretouch_mib
        )?;
        server.shutdown().await;
        if measured.errors + warmup.errors > 0 {
            eprintln!("error: some creates failed; the figures above are not a clean run");
            return Ok(ExitCode::FAILURE);
        }
        Ok(ExitCode::SUCCESS)
    })
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Load {
    pub concurrency: usize,
    pub rate: Option<f64>,
}

/// What one phase measured.
pub(crate) struct Phase {
    pub count: usize,
    pub errors: usize,
    pub elapsed: Duration,
    /// Sorted.
    pub latencies: Vec<Duration>,
}

impl Phase {
    /// Successful creates per second.
    pub fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    pub fn percentile_ms(&self, p: f64) -> f64 {
        ms(percentile(&self.latencies, p))
    }

    pub fn summary(&self) -> String {
        let created = self.latencies.len();
        let secs = self.elapsed.as_secs_f64().max(f64::EPSILON);
        format!(
            "{created} of {} created, {} failed in {:.2} s: {:.0} creates/s; latency p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            self.count,
            self.errors,
            secs,
            created as f64 / secs,
            ms(percentile(&self.latencies, 50.0)),
            ms(percentile(&self.latencies, 90.0)),
            ms(percentile(&self.latencies, 99.0)),
            ms(self.latencies.last().copied().unwrap_or_default())
        )
    }
}

/// Creates `count` labs named `{prefix}-{i}` through the lab API under `load` and measures each.
pub(crate) async fn run_phase(
    client: &std::sync::Arc<LabClient>,
    prefix: &str,
    count: usize,
    load: Load,
) -> anyhow::Result<Phase> {
    let client = std::sync::Arc::clone(client);
    let prefix = prefix.to_string();
    measure(count, load, move |i| {
        let client = std::sync::Arc::clone(&client);
        let body = json!({"id": format!("{prefix}-{i}"), "template": "linux-basics"});
        async move {
            matches!(client.send("POST", "/v1/labs", Some(body)).await, Ok(answer) if answer.status == 201)
        }
    })
    .await
}

/// Runs `create(i)` for `i` in `0..count` under `load` (it answers whether the create
/// succeeded) and measures each.
pub(crate) async fn measure<F, Fut>(count: usize, load: Load, create: F) -> anyhow::Result<Phase>
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let interval = load.rate.filter(|r| *r > 0.0).map(|r| Duration::from_secs_f64(1.0 / r));
    let workers: Vec<_> = (0..load.concurrency.max(1))
        .map(|_| {
            let create = create.clone();
            let next = std::sync::Arc::clone(&next);
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0usize;
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= count {
                        return (latencies, errors);
                    }
                    // Open loop: wait for this create's slot and count its latency from there.
                    let scheduled = match interval {
                        Some(interval) => {
                            let at = started + interval.mul_f64(i as f64);
                            tokio::time::sleep_until(at.into()).await;
                            at
                        }
                        None => Instant::now(),
                    };
                    if create(i).await {
                        latencies.push(scheduled.elapsed());
                    } else {
                        errors += 1;
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
    Ok(Phase { count, errors, elapsed, latencies })
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
        super::run(super::Args {
            concurrency: Some(concurrency),
            count: Some(count),
            warmup: Some(200),
            rate: None,
            pretouch_mib: 512,
            kubeconfig: None,
            server: None,
            token_file: None,
        })
        .expect("bench runs");
    }

    #[test]
    fn percentiles_by_rank() {
        let samples: Vec<std::time::Duration> = (1..=100).map(std::time::Duration::from_millis).collect();
        assert_eq!(super::percentile(&samples, 50.0).as_millis(), 50);
        assert_eq!(super::percentile(&samples, 99.0).as_millis(), 99);
        assert_eq!(super::percentile(&[], 99.0).as_millis(), 0);
    }
}
