//! `autolabs up --simulate`: a sandbox to try autolabs without a cluster.
//!
//! It starts the in-process fake API server (`autolabs_fake`, a test double that speaks
//! the Kubernetes REST protocol and runs our own admission engines, NOT a cluster: nothing
//! is scheduled or run, and no controller turns Deployments into pods), applies the rendered
//! baseline to it with the same code as `autolabs apply`, lets its kubelet stand-in mark
//! created pods Running, writes a kubeconfig so that kubectl (or `autolabs apply`, `dump`,
//! `verify --cluster`) can talk to it, and serves the lab API (`autolabs serve`'s router,
//! provisioner and reaper) against it, with a bearer token generated for this run and printed
//! once. Ctrl-C (or SIGTERM) stops the lab API gracefully (requests in flight finish, the
//! reaper stops), then the fake server, and removes the kubeconfig it wrote.

use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use autolabs_fake::{FakeApiServer, FakeConfig, KubeletConfig};
use autolabs_kube::apply::ApplyOptions;
use autolabs_kube::labs::ProvisionerConfig;
use autolabs_model::render;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run the simulator (an in-process fake API server), the only mode `up` has.
    #[arg(long)]
    simulate: bool,
    /// platform.yaml to read (`-` for stdin); default ./platform.yaml, else the built-in default.
    #[arg(short = 'f', long = "file")]
    file: Option<PathBuf>,
    /// Address of the lab API.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// Directory of LabTemplate YAML files (default: the shipped templates).
    #[arg(long)]
    templates: Option<PathBuf>,
    /// Where to write the kubeconfig that points kubectl at the simulator (removed on exit).
    #[arg(long, value_name = "FILE", default_value = "autolabs-simulator.kubeconfig")]
    kubeconfig: PathBuf,
    /// Print every object's apply line, not only the ones that were skipped or failed.
    #[arg(long)]
    verbose: bool,
}

/// Said first and last, so nobody mistakes the sandbox for a cluster.
const BANNER: &str = "SIMULATOR — not a Kubernetes cluster. This is autolabs' in-process fake API server, a test \
double for trying things: it stores objects and runs admission (LimitRange, ResourceQuota, Pod Security) with \
autolabs' own engines, but schedules and runs nothing; no controller turns Deployments into pods; pods are only \
marked Running.";

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !args.simulate {
        bail!(
            "`autolabs up` only runs the local simulator: pass --simulate. To put the baseline on a real cluster, use \
             `autolabs apply`"
        );
    }
    let (platform, source) = super::config::load(args.file.as_deref())?;
    let rendered = render(&platform);
    let options = ApplyOptions::new(platform.metadata.name.clone());
    let templates = super::serve::templates(args.templates.as_deref(), &platform)?;
    super::apply::runtime()?.block_on(async move {
        eprintln!("{BANNER}\n");
        // Bind first: a busy port should fail before anything starts.
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("cannot listen on {} for the lab API (choose another with --listen)", args.listen))?;
        let server = FakeApiServer::start(FakeConfig {
            kubelet: Some(KubeletConfig::default()),
            // SubjectAccessReviews answered by the RBAC engine over the stored roles, so
            // `verify --cluster --probe-rbac` against the simulator behaves like an RBAC server.
            authorizer: Some(std::sync::Arc::new(autolabs_fake::RbacReviewAuthorizer::new())),
            ..Default::default()
        })
            .await
            .context("cannot start the simulator")?;
        let client = server.client().context("cannot connect to the simulator")?;
        eprintln!("applying the baseline rendered from {source} to the simulator at {}", server.url());
        let report = super::apply::apply_printing(&client, &rendered.manifests, &options, args.verbose).await?;
        if !report.succeeded() {
            eprintln!(
                "warning: the simulator refused some objects (above); it keeps running with the rest. The fake \
                 server is stricter or simpler than kube-apiserver in places: check them with `autolabs apply \
                 --dry-run` against a real cluster."
            );
        }
        write_kubeconfig(&args.kubeconfig, &server.url())?;
        let provisioner = super::serve::provisioner(client, ProvisionerConfig::new(platform, templates))?;
        let template_names = provisioner.config().templates.names().join(", ");
        let token = generate_token();
        let lab_api = format!("http://{}", listener.local_addr().map(|a| a.to_string()).unwrap_or(args.listen.clone()));
        outln!()?;
        outln!("Simulated Kubernetes API: {}", server.url())?;
        outln!("  export KUBECONFIG={}", shown_path(&args.kubeconfig))?;
        outln!("  kubectl get namespaces")?;
        outln!("  kubectl -n labs get pods,services,networkpolicies,ingresses")?;
        outln!("  autolabs dump -o cluster.yaml && autolabs verify cluster.yaml")?;
        outln!()?;
        outln!("Lab API: {lab_api}   templates: {template_names}")?;
        outln!("  API token (shown only now): {token}")?;
        outln!("  export AUTOLABS_SERVER={lab_api} AUTOLABS_API_TOKEN={token}")?;
        outln!("  autolabs lab create demo --template linux-basics && autolabs lab list")?;
        outln!("  curl -H \"Authorization: Bearer $AUTOLABS_API_TOKEN\" {lab_api}/v1/capacity")?;
        outln!()?;
        outln!("Press Ctrl-C to stop.")?;
        super::serve::init_logging(super::serve::LogFormat::Text);
        let served = super::serve::serve(listener, provisioner, &token, Duration::from_secs(5), shutdown_signal()).await;
        eprintln!("\nstopping the simulator");
        server.shutdown().await;
        match std::fs::remove_file(&args.kubeconfig) {
            Ok(()) => eprintln!("removed {}", args.kubeconfig.display()),
            Err(e) => eprintln!("warning: could not remove {}: {e}", args.kubeconfig.display()),
        }
        served?;
        Ok(ExitCode::SUCCESS)
    })
}

/// 128 bits from the standard library's per-process random hash keys (seeded from the
/// operating system), as hex: a token for one local simulator run, printed once.
fn generate_token() -> String {
    let mut token = String::new();
    for part in 0..2u64 {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(part);
        token.push_str(&format!("{:016x}", hasher.finish()));
    }
    token
}

/// The path as the user should type it (absolute, so it works from any directory).
fn shown_path(path: &Path) -> String {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()).display().to_string()
}

/// A kubeconfig with one context for the simulator: plain HTTP, no credentials (the fake
/// authenticates nobody), default namespace `labs`.
pub fn kubeconfig_yaml(server_url: &str) -> String {
    format!(
        "# Written by `autolabs up --simulate`: a SIMULATOR (fake API server), not a cluster.\n\
         apiVersion: v1\n\
         kind: Config\n\
         clusters:\n\
         - name: autolabs-simulator\n  cluster:\n    server: {server_url}\n\
         users:\n\
         - name: autolabs-simulator\n  user: {{}}\n\
         contexts:\n\
         - name: autolabs-simulator\n  context:\n    cluster: autolabs-simulator\n    user: autolabs-simulator\n    namespace: labs\n\
         current-context: autolabs-simulator\n\
         preferences: {{}}\n"
    )
}

fn write_kubeconfig(path: &Path, server_url: &str) -> anyhow::Result<()> {
    std::fs::write(path, kubeconfig_yaml(server_url))
        .with_context(|| format!("cannot write the simulator's kubeconfig to {}", path.display()))
}

/// Ctrl-C, or SIGTERM on Unix (a container runtime or `kill` stopping us).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_and_differ() {
        let (a, b) = (generate_token(), generate_token());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }

    #[test]
    fn kubeconfig_is_a_valid_kubeconfig_pointing_at_the_simulator() {
        let text = kubeconfig_yaml("http://127.0.0.1:4321");
        let config =
            kube::config::Kubeconfig::from_yaml(&text).expect("the kubeconfig parses as kube's Kubeconfig");
        assert_eq!(config.current_context.as_deref(), Some("autolabs-simulator"));
        let cluster = config.clusters[0].cluster.as_ref().expect("cluster");
        assert_eq!(cluster.server.as_deref(), Some("http://127.0.0.1:4321"));
    }
}
