//! `autolabs bench labs --kubeconfig FILE` (and `--server URL`): lab creations per second and
//! their latency on a REAL API server, and in the same run the server's own ceiling — the same
//! four objects per lab (Pod, then its Service, NetworkPolicy and Ingress, owned by it) written
//! by a plain kube client that checks nothing, at the same concurrency — printed as a ratio.
//! Figures, not assertions.
//!
//! With `--kubeconfig` (an admin's) the bench makes a namespace of its own like `labs`
//! (`autolabs_kube::labs::bootstrap`: Pod Security labels, the rendered LimitRange, the
//! rendered quota made large enough not to refuse, the provisioner's ServiceAccount bound to
//! exactly `PROVISIONER_RULES`). The provisioner runs in this process behind the lab API, as
//! `autolabs serve` does, with that ServiceAccount's token — never the admin's — and the
//! ceiling's client uses the same token, so both pass the same authentication, authorization
//! and admission. The namespace, with every lab in it, is deleted at the end.
//!
//! With `--server URL` the creates go to a running lab API instead (the bench deletes the
//! labs it made through that API); with `--kubeconfig` as well, the ceiling is measured on
//! that cluster.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use autolabs_kube::labs::ProvisionerConfig;
use autolabs_kube::labs::bootstrap::{self, SeedOptions};
use autolabs_model::Platform;
use autolabs_model::lab::{LabContext, LabRequest, LabTemplate, desired};
use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use kube::Api;
use kube::api::{DeleteParams, ObjectMeta, PostParams};
use serde_json::json;

use super::bench_labs::{Args, Load, Phase, measure, run_phase};
use super::lab::LabClient;
use super::serve;

/// The in-process lab API's bearer token (it listens on loopback only).
const TOKEN: &str = "bench-token";

/// The template every create asks for.
const TEMPLATE: &str = "linux-basics";

/// The targets, printed beside the figures.
const TARGET_RATIO: f64 = 0.70;
const TARGET_P99_MS: f64 = 250.0;

/// A label on the bench's namespace, so a crashed run's leftovers can be found.
const BENCH_LABEL: &str = "autolabs.io/bench";

/// The bench's namespace on the cluster of `--kubeconfig`, seeded like `labs`.
struct BenchNamespace {
    admin: kube::Client,
    name: String,
    /// The cluster as the admin's config reaches it, with the provisioner's token instead.
    provisioner_config: kube::Config,
    identity: String,
}

impl BenchNamespace {
    async fn make(path: &std::path::Path, platform: &Platform, labs: usize) -> anyhow::Result<Self> {
        let (config, _source) = autolabs_kube::live::client_config(Some(path), None).await?;
        let admin = kube::Client::try_from(config.clone()).context("cannot build a Kubernetes client")?;
        let name = format!("autolabs-bench-{}", unique_suffix());
        let mut labels = bootstrap::labs_namespace_labels(platform);
        labels.insert(BENCH_LABEL.into(), "labs".into());
        let namespace = Namespace {
            metadata: ObjectMeta { name: Some(name.clone()), labels: Some(labels), ..ObjectMeta::default() },
            ..Namespace::default()
        };
        Api::<Namespace>::all(admin.clone())
            .create(&PostParams::default(), &namespace)
            .await
            .with_context(|| format!("cannot create namespace {name} (is {} an admin's?)", path.display()))?;
        let bench = BenchNamespace { admin, name, provisioner_config: config, identity: String::new() };
        // From here on a failure still deletes the namespace (see `finish`).
        match bench.seed(platform, labs).await {
            Ok(bench) => Ok(bench),
            Err((bench, error)) => {
                bench.delete().await;
                Err(error)
            }
        }
    }

    /// Seeds the namespace with a quota `labs` labs fit in (every resource of the rendered
    /// quota, scaled up), and takes the provisioner's token.
    async fn seed(mut self, platform: &Platform, labs: usize) -> Result<Self, (Self, anyhow::Error)> {
        let rendered = autolabs_model::render(platform);
        let mut options = SeedOptions::default();
        let hard = rendered
            .of_kind("ResourceQuota")
            .find(|m| m.namespace.as_deref() == Some(autolabs_model::topology::LABS))
            .and_then(|m| m.value.pointer("/spec/hard")?.as_object().cloned())
            .unwrap_or_default();
        // Generous: per lab at most 4 CPUs and 8 GiB, and one of each object.
        for resource in hard.keys() {
            let amount = if resource.contains("memory") || resource.contains("storage") {
                format!("{}Gi", labs * 8 + 64)
            } else if resource.contains("cpu") {
                format!("{}", labs * 4 + 64)
            } else {
                format!("{}", labs + 64)
            };
            options.quota_hard.insert(resource.clone(), amount);
        }
        let result = async {
            bootstrap::seed(&self.admin, &self.name, platform, &options).await?;
            bootstrap::service_account_token(
                &self.admin,
                &self.name,
                &options.service_account,
                Duration::from_secs(3600),
            )
            .await
        }
        .await;
        match result {
            Ok(token) => {
                self.provisioner_config.auth_info = match serde_json::from_value(json!({ "token": token })) {
                    Ok(auth_info) => auth_info,
                    Err(e) => {
                        let error =
                            anyhow::Error::new(e).context("cannot put the token into a kubeconfig user");
                        return Err((self, error));
                    }
                };
                self.identity = format!("system:serviceaccount:{}:{}", self.name, options.service_account);
                Ok(self)
            }
            Err(e) => {
                let error = anyhow::Error::new(e).context(format!("cannot seed namespace {}", self.name));
                Err((self, error))
            }
        }
    }

    fn provisioner_client(&self) -> anyhow::Result<kube::Client> {
        kube::Client::try_from(self.provisioner_config.clone())
            .context("cannot build the provisioner's client")
    }

    /// Deletes the namespace (its labs go with it), without waiting for it to be gone.
    async fn delete(&self) {
        let api: Api<Namespace> = Api::all(self.admin.clone());
        if let Err(e) = api.delete(&self.name, &DeleteParams::background()).await {
            eprintln!("warning: namespace {} was not deleted: {e}", self.name);
        }
    }
}

/// A short lowercase suffix that differs between runs (DNS-1123 label characters only).
fn unique_suffix() -> String {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let pid = u128::from(std::process::id());
    format!("{:x}", (nanos ^ (pid << 40)) & 0xff_ffff_ffff)
}

/// The ceiling: lab `i`'s four objects written by a plain client — the Pod, then (once its
/// uid is known) the Service, NetworkPolicy and Ingress owned by it, together. No preflight,
/// no single-flight, no retry: what the API server can take at this concurrency.
struct Ceiling {
    pods: Api<Pod>,
    services: Api<Service>,
    policies: Api<NetworkPolicy>,
    ingresses: Api<Ingress>,
    template: LabTemplate,
    platform: Platform,
    namespace: String,
}

impl Ceiling {
    async fn create(&self, id: &str) -> bool {
        let request = LabRequest { id: id.to_string(), template: TEMPLATE.into(), ttl_seconds: None };
        let now = autolabs_kube::labs::system_clock()();
        let Ok(mut bundle) = desired(&self.template, &request, &LabContext::new(&self.platform, now)) else {
            return false;
        };
        let namespace = Some(self.namespace.clone());
        bundle.pod.metadata.namespace.clone_from(&namespace);
        bundle.service.metadata.namespace.clone_from(&namespace);
        bundle.network_policy.metadata.namespace.clone_from(&namespace);
        bundle.ingress.metadata.namespace = namespace;
        let post = PostParams::default();
        let Ok(pod) = self.pods.create(&post, &bundle.pod).await else { return false };
        let name = pod.metadata.name.unwrap_or_default();
        bundle.owned_by(&name, &pod.metadata.uid.unwrap_or_default());
        let (service, policy, ingress) = tokio::join!(
            self.services.create(&post, &bundle.service),
            self.policies.create(&post, &bundle.network_policy),
            self.ingresses.create(&post, &bundle.ingress),
        );
        service.is_ok() && policy.is_ok() && ingress.is_ok()
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let concurrency = args.concurrency.unwrap_or(20).max(1);
    let count = args.count.unwrap_or(300).max(1);
    let warmup = args.warmup.unwrap_or(30);
    let load = Load { concurrency, rate: args.rate };
    let api_token = match &args.server {
        Some(_) => Some(serve::token(args.token_file.as_deref(), " (the lab API of --server needs it)")?),
        None => None,
    };
    let platform = Platform::default();
    let templates = serve::templates(None, &platform)?;
    let template = templates
        .get(TEMPLATE)
        .cloned()
        .with_context(|| format!("the shipped templates have no {TEMPLATE}"))?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        // Both phases' labs live in the bench's namespace at the end.
        let bench = match &args.kubeconfig {
            Some(path) => Some(BenchNamespace::make(path, &platform, 2 * (count + warmup)).await?),
            None => None,
        };
        let outcome = measure_all(&args, bench.as_ref(), api_token, load, count, warmup, platform, templates, template).await;
        if let Some(bench) = &bench {
            bench.delete().await;
        }
        let report = outcome?;
        let target = |value: bool| if value { "met" } else { "NOT met" };
        let lab_api = match &args.server {
            Some(url) => format!("the lab API at {url}"),
            None => "the lab API in this process".to_string(),
        };
        let on = match &bench {
            Some(bench) => format!(
                "on {} (namespace {}, deleted now; the provisioner and the plain client act as {})",
                bench.provisioner_config.cluster_url, bench.name, bench.identity
            ),
            None => String::new(),
        };
        let mode = match args.rate {
            Some(rate) => format!("offered {rate:.0} creates/s, at most {concurrency} in flight (open loop)"),
            None => format!("concurrency {concurrency} (closed loop)"),
        };
        outln!("bench labs: {count} creates of {TEMPLATE} at {mode}, after {warmup} warm-up creates, {on}")?;
        outln!("  provisioner ({lab_api} → provisioner → API server): {}", report.labs.summary())?;
        if let Some(ceiling) = &report.ceiling {
            outln!("  ceiling (plain client, the same 4 objects per lab, nothing checked): {}", ceiling.summary())?;
            let ratio = report.labs.rate() / ceiling.rate().max(f64::EPSILON);
            let p99 = report.labs.percentile_ms(99.0);
            outln!(
                "  ratio: the provisioner makes {:.0} % of the ceiling's labs/s (target ≥ {:.0} %: {}); its p99 {p99:.1} ms (target ≤ {TARGET_P99_MS:.0} ms: {})",
                ratio * 100.0,
                TARGET_RATIO * 100.0,
                target(ratio >= TARGET_RATIO),
                target(p99 <= TARGET_P99_MS),
            )?;
        } else {
            outln!("  ceiling: not measured (give --kubeconfig of the cluster to measure it)")?;
        }
        if warmup > 0 {
            outln!("  warm-up: provisioner {}", report.labs_warmup.summary())?;
        }
        let target_args = [
            args.kubeconfig.as_ref().map(|k| format!(" --kubeconfig {}", k.display())),
            args.server.as_ref().map(|s| format!(" --server {s}")),
            args.rate.map(|r| format!(" --rate {r}")),
        ]
        .into_iter()
        .flatten()
        .collect::<String>();
        outln!(
            "  rerun: cargo run --release -p autolabs -- bench labs{target_args} --concurrency {concurrency} --count {count} --warmup {warmup}"
        )?;
        let failed = report.labs.errors
            + report.labs_warmup.errors
            + report.ceiling.as_ref().map_or(0, |c| c.errors);
        if failed > 0 {
            eprintln!("error: {failed} creates failed; the figures above are not a clean run");
            return Ok(ExitCode::FAILURE);
        }
        Ok(ExitCode::SUCCESS)
    })
}

struct Report {
    labs_warmup: Phase,
    labs: Phase,
    ceiling: Option<Phase>,
}

#[allow(clippy::too_many_arguments)]
async fn measure_all(
    args: &Args,
    bench: Option<&BenchNamespace>,
    api_token: Option<String>,
    load: Load,
    count: usize,
    warmup: usize,
    platform: Platform,
    templates: autolabs_model::lab::Templates,
    template: LabTemplate,
) -> anyhow::Result<Report> {
    // The lab API: the one of --server, or one in this process over the provisioner.
    let mut local_api = None;
    let client = match (&args.server, bench) {
        (Some(url), _) => Arc::new(LabClient::new(url, api_token.as_deref().unwrap_or_default(), "en")),
        (None, Some(bench)) => {
            let mut config = ProvisionerConfig::new(platform.clone(), templates);
            config.namespace = bench.name.clone();
            let provisioner = serve::provisioner(bench.provisioner_client()?, config)?;
            anyhow::ensure!(
                provisioner.wait_synced(Duration::from_secs(30)).await,
                "the provisioner's caches did not sync"
            );
            let listener =
                tokio::net::TcpListener::bind("127.0.0.1:0").await.context("cannot listen on loopback")?;
            let address = listener.local_addr()?;
            let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
            let api = tokio::spawn(serve::serve(
                listener,
                provisioner,
                TOKEN,
                Duration::from_secs(3600),
                async move {
                    let _ = stop_rx.await;
                },
            ));
            local_api = Some((stop_tx, api));
            Arc::new(LabClient::new(&format!("http://{address}"), TOKEN, "en"))
        }
        (None, None) => anyhow::bail!("bench labs on a real cluster needs --kubeconfig or --server"),
    };
    let ceiling = bench.map(|bench| -> anyhow::Result<Arc<Ceiling>> {
        let client = bench.provisioner_client()?;
        Ok(Arc::new(Ceiling {
            pods: Api::namespaced(client.clone(), &bench.name),
            services: Api::namespaced(client.clone(), &bench.name),
            policies: Api::namespaced(client.clone(), &bench.name),
            ingresses: Api::namespaced(client, &bench.name),
            template,
            platform,
            namespace: bench.name.clone(),
        }))
    });
    let ceiling = ceiling.transpose()?;
    let run = unique_suffix();
    let ceiling_phase = |prefix: String, n: usize| {
        let ceiling = ceiling.clone();
        async move {
            match ceiling {
                Some(ceiling) => Some(
                    measure(n, load, move |i| {
                        let ceiling = Arc::clone(&ceiling);
                        let id = format!("{prefix}-{i}");
                        async move { ceiling.create(&id).await }
                    })
                    .await,
                ),
                None => None,
            }
        }
    };
    // Warm both paths up, then measure the provisioner and the ceiling one after the other.
    let labs_warmup = run_phase(&client, &format!("w{run}"), warmup, load).await?;
    ceiling_phase(format!("cw{run}"), warmup).await.transpose()?;
    let labs = run_phase(&client, &format!("b{run}"), count, load).await?;
    let ceiling = ceiling_phase(format!("c{run}"), count).await.transpose()?;

    if let Some((stop, api)) = local_api {
        let _ = stop.send(());
        let _ = api.await;
    } else if args.server.is_some() {
        // Through the API, the labs it made are the bench's to delete.
        let ids: Vec<String> = (0..warmup)
            .map(|i| format!("w{run}-{i}"))
            .chain((0..count).map(|i| format!("b{run}-{i}")))
            .collect();
        let client = Arc::clone(&client);
        let failed = futures_delete(&client, ids, load.concurrency).await;
        if failed > 0 {
            eprintln!("warning: {failed} labs the bench made were not deleted through the lab API");
        }
    }
    Ok(Report { labs_warmup, labs, ceiling })
}

/// Deletes labs `ids` through the lab API, `concurrency` at a time; answers how many failed.
async fn futures_delete(client: &Arc<LabClient>, ids: Vec<String>, concurrency: usize) -> usize {
    let ids = Arc::new(ids);
    let load = Load { concurrency, rate: None };
    let client = Arc::clone(client);
    let phase = measure(ids.len(), load, move |i| {
        let client = Arc::clone(&client);
        let id = ids[i].clone();
        async move {
            matches!(client.send("DELETE", &format!("/v1/labs/{id}"), None).await,
                     Ok(answer) if answer.status < 300 || answer.status == 404)
        }
    })
    .await;
    phase.map_or(usize::MAX, |p| p.errors)
}
