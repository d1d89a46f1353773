//! `autolabs serve`: the lab provisioner's HTTP API (see `serve/router.rs`) over the cluster
//! of the current kubeconfig (or the in-cluster ServiceAccount), with the reaper running
//! beside it. Stateless: every replica reads and writes only Kubernetes objects.
//!
//! Shuts down gracefully on SIGTERM/Ctrl-C: stops accepting, finishes requests in flight,
//! stops the reaper.

pub mod openapi;
pub mod router;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use autolabs_kube::labs::{Metrics, Provisioner, ProvisionerConfig};
use autolabs_model::Platform;
use autolabs_model::lab::{Templates, load_templates};

use super::config;

/// The templates built into the binary (the repository's `templates/`).
pub use autolabs_model::lab::SHIPPED_TEMPLATES;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// platform.yaml (default ./platform.yaml, else the built-in default).
    #[arg(short = 'f', long = "config")]
    pub config: Option<PathBuf>,
    /// Directory of LabTemplate YAML files (default: the shipped templates).
    #[arg(long)]
    pub templates: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0:8080")]
    pub listen: String,
    /// File holding the bearer token (a mounted Secret); else AUTOLABS_API_TOKEN.
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// Namespace of the labs.
    #[arg(long, default_value = "labs")]
    pub namespace: String,
    /// Seconds between reaper passes (it also runs on every lab Pod change).
    #[arg(long, default_value_t = 30)]
    pub reaper_interval: u64,
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Kubeconfig file to use. Without it the cluster is chosen as kubectl chooses it: the
    /// `KUBECONFIG` variable, else `~/.kube/config`, else the in-cluster ServiceAccount (the
    /// mounted token, when running as a Pod). The first log line names the cluster and the
    /// identity the API server sees.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use (default: its current context).
    #[arg(long)]
    pub context: Option<String>,
}

/// A client as `--kubeconfig`/`--context` say, else as kubectl infers one; and the cluster
/// with where its config came from, for the first log line.
async fn connect(kubeconfig: Option<&Path>, context: Option<&str>) -> anyhow::Result<(kube::Client, String)> {
    let (config, source) = autolabs_kube::live::client_config(kubeconfig, context).await?;
    let description = format!("{} ({source})", config.cluster_url);
    let client = kube::Client::try_from(config).context("cannot build a Kubernetes client")?;
    Ok((client, description))
}

/// Who the API server says we are (a SelfSubjectReview, which every authenticated identity
/// may create), or why that is unknown.
async fn identity(client: &kube::Client) -> String {
    use k8s_openapi::api::authentication::v1::SelfSubjectReview;
    let api: kube::Api<SelfSubjectReview> = kube::Api::all(client.clone());
    match api.create(&kube::api::PostParams::default(), &SelfSubjectReview::default()).await {
        Ok(review) => review
            .status
            .and_then(|s| s.user_info)
            .and_then(|u| u.username)
            .unwrap_or_else(|| "an identity the API server did not name".into()),
        Err(error) => format!("an unknown identity (SelfSubjectReview: {error})"),
    }
}

/// Starts logging to stderr, as text or one JSON object a line. A second call does nothing.
pub fn init_logging(format: LogFormat) {
    use std::io::IsTerminal;
    // Colour codes only for a person at a terminal: log collectors store them verbatim.
    let builder = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Loads templates from `dir` (every `*.yaml`), or the shipped ones.
pub fn templates(dir: Option<&Path>, platform: &Platform) -> anyhow::Result<Templates> {
    let files: Vec<(String, String)> = match dir {
        None => SHIPPED_TEMPLATES.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect(),
        Some(dir) => {
            let mut files = Vec::new();
            for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
                let path = entry?.path();
                if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("cannot read {}", path.display()))?;
                    files.push((path.display().to_string(), text));
                }
            }
            files.sort();
            files
        }
    };
    match load_templates(&files, platform) {
        Ok(templates) if templates.is_empty() => bail!("no lab templates found"),
        Ok(templates) => Ok(templates),
        Err(errors) => {
            eprintln!("{errors}");
            bail!("the lab templates are not valid ({} problem(s))", errors.0.len())
        }
    }
}

/// The bearer token of the lab API, for the service and its client alike: `--token-file`,
/// else `AUTOLABS_API_TOKEN`; never empty (`missing` is added to the error when it is).
pub(crate) fn token(file: Option<&Path>, missing: &str) -> anyhow::Result<String> {
    let token = match file {
        Some(path) => {
            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?
        }
        None => std::env::var("AUTOLABS_API_TOKEN").unwrap_or_default(),
    };
    let token = token.trim().to_string();
    if token.is_empty() {
        bail!("no API token: give --token-file or set AUTOLABS_API_TOKEN{missing}");
    }
    Ok(token)
}

/// Builds the provisioner, refusing templates that Pod Security `restricted` or the LimitRange
/// would reject.
pub fn provisioner(client: kube::Client, config: ProvisionerConfig) -> anyhow::Result<Provisioner> {
    Provisioner::new(client, config, Metrics::new()).map_err(|errors| {
        for error in &errors {
            eprintln!("error: {error}");
        }
        anyhow::anyhow!("{} lab template(s) would be rejected by the cluster", errors.len())
    })
}

/// Serves the lab API on `listener` and runs the reaper until `shutdown` resolves, then
/// finishes the requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    provisioner: Provisioner,
    token: &str,
    reaper_interval: Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let reaper = {
        let provisioner = provisioner.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            provisioner
                .run_reaper(reaper_interval, async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
        })
    };
    let app = router::router(provisioner, token);
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        })
        .await;
    let _ = reaper.await;
    result.context("the lab API server failed")
}

/// SIGTERM (Kubernetes stopping the Pod) or Ctrl-C.
pub async fn termination() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutting down");
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    init_logging(args.log_format);
    let token = token(args.token_file.as_deref(), " (serve refuses to run without one)")?;
    let (platform, source) = config::load(args.config.as_deref())?;
    let templates = templates(args.templates.as_deref(), &platform)?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let (client, cluster) = connect(args.kubeconfig.as_deref(), args.context.as_deref()).await?;
        let user = identity(&client).await;
        tracing::info!(%cluster, identity = %user, "lab API connecting to the Kubernetes API");
        let mut config = ProvisionerConfig::new(platform, templates);
        config.namespace = args.namespace.clone();
        let provisioner = provisioner(client, config)?;
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        tracing::info!(
            listen = %args.listen,
            platform = %source,
            namespace = %args.namespace,
            templates = %provisioner.config().templates.names().join(","),
            "lab API serving"
        );
        serve(listener, provisioner, &token, Duration::from_secs(args.reaper_interval.max(1)), termination())
            .await?;
        Ok(ExitCode::SUCCESS)
    })
}
