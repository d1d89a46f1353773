//! `autolabs probe`: check on the wire that the cluster enforces the isolation matrix.
//!
//! The matrix's pod classes (the ones `verify` proves the intent on) are planned into probes
//! by `autolabs_kube::wire::plan`, run with short-lived probe pods by `wire::run`, and each is
//! judged against the prediction. Exit 0 when every probed cell is as predicted, 1 otherwise,
//! 2 when the probe could not run (input, API or pod errors, Ctrl-C); probe pods and their
//! namespaces are deleted in every case.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use autolabs_kube::wire::{self, run};
use autolabs_netpol::Protocol;
use autolabs_verify::intent::Intent;
use clap::ValueEnum;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
    Junit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ProtocolArg {
    Tcp,
    Udp,
    Sctp,
}

impl From<ProtocolArg> for Protocol {
    fn from(protocol: ProtocolArg) -> Protocol {
        match protocol {
            ProtocolArg::Tcp => Protocol::Tcp,
            ProtocolArg::Udp => Protocol::Udp,
            ProtocolArg::Sctp => Protocol::Sctp,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// platform.yaml whose rendered baseline is probed (default: ./platform.yaml, else the built-in default).
    #[arg(short = 'f', long = "config")]
    config: Option<PathBuf>,
    /// An intent file (`kind: IsolationIntent` or `kind: Platform`) whose matrix is probed instead of the platform's.
    #[arg(long)]
    intent: Option<PathBuf>,
    /// The probe image: it needs `sh`, `sleep`, `nc` (TCP), `nslookup` and `timeout` (UDP), as busybox has.
    #[arg(long, default_value = autolabs_model::versions::PROBE_IMAGE.default)]
    image: String,
    /// `Never` for an image imported on the nodes (no registry).
    #[arg(long, default_value = "IfNotPresent")]
    image_pull_policy: String,
    /// Probe in sandbox namespaces `<P>-<namespace>` holding copies of the baseline's NetworkPolicies,
    /// instead of in the real namespaces under the policies the cluster has.
    #[arg(long)]
    namespace_prefix: Option<String>,
    /// Seconds one connection attempt may take before it counts as blocked.
    #[arg(long, default_value_t = 2)]
    timeout: u64,
    /// API calls, and connection attempts inside each probe pod, at once.
    #[arg(long, default_value_t = 16)]
    parallel: usize,
    /// Protocols to probe. SCTP only where asked: its cells are reported "not probed", with
    /// the reason, as the probe image has no SCTP client (busybox speaks TCP and UDP only).
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["tcp", "udp"])]
    protocols: Vec<ProtocolArg>,
    /// Probe only between pods of these namespaces (a quick check of part of the matrix with
    /// fewer probe pods); default: every namespace of the matrix.
    #[arg(long, value_delimiter = ',', value_name = "NAMESPACE,...")]
    namespaces: Vec<String>,
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Print the RBAC the probe needs, and exit: what `spec.probe.enabled` renders (the
    /// ServiceAccount platform/autolabs-probe, a Role and RoleBinding in each namespace of the
    /// matrix); with --namespace-prefix, the ClusterRole a sandbox run needs instead.
    #[arg(long)]
    print_rbac: bool,
    /// kubeconfig file (default: KUBECONFIG, then ~/.kube/config).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// kubeconfig context to use (default: the current context).
    #[arg(long)]
    context: Option<String>,
}

/// Draws the progress: a redrawn bar on a terminal, one line per finished stage otherwise.
struct Progress {
    terminal: bool,
    last: Mutex<String>,
}

impl Progress {
    fn show(&self, stage: &str, done: usize, total: usize) {
        let mut stderr = std::io::stderr();
        if self.terminal {
            let line = super::progress::bar_line(done, total, stage, "", 100);
            let _ = write!(stderr, "\r\x1b[2K{line}");
        } else if done == total {
            let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
            if *last != stage {
                let _ = writeln!(stderr, "probe: {stage}: {done}/{total}");
                *last = stage.to_string();
            }
        }
    }

    fn finish(&self) {
        if self.terminal {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (platform, _) = super::config::load(args.config.as_deref())?;
    if args.print_rbac {
        // One source: what `render` writes when `spec.probe.enabled` is set.
        let manifests = match args.namespace_prefix {
            Some(_) => autolabs_model::render::probe::sandbox_rbac(&platform),
            None => autolabs_model::render::probe::rbac(&platform),
        };
        for manifest in &manifests {
            out!("---\n{}", autolabs_model::output::to_yaml(manifest))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let intent = match &args.intent {
        Some(path) => super::netpol_args::read_intent_file(path)?,
        None => Intent::of_platform(&platform),
    };
    let set = wire::rendered_set(&platform);
    let mut protocols: Vec<Protocol> = Vec::new();
    for protocol in args.protocols.iter().map(|p| Protocol::from(*p)) {
        if !protocols.contains(&protocol) {
            protocols.push(protocol);
        }
    }
    let (_, mut plan) = match wire::plan_for(&set, &intent, &protocols) {
        Ok(planned) => planned,
        Err(problems) => {
            for problem in problems {
                eprintln!("error: {problem}");
            }
            return Ok(ExitCode::from(2));
        }
    };
    if !args.namespaces.is_empty() {
        let only: std::collections::BTreeSet<String> = args.namespaces.iter().cloned().collect();
        let known: std::collections::BTreeSet<&str> =
            plan.pods.iter().map(|p| p.namespace.as_str()).collect();
        let unknown: Vec<&str> = only.iter().map(String::as_str).filter(|n| !known.contains(n)).collect();
        if !unknown.is_empty() {
            eprintln!(
                "error: --namespaces {}: no pod class of the matrix is there (namespaces: {})",
                unknown.join(","),
                known.into_iter().collect::<Vec<_>>().join(", ")
            );
            return Ok(ExitCode::from(2));
        }
        plan = plan.restricted_to(&only);
    }
    let (namespace_labels, policies) = wire::sandbox_inputs(&set);
    let config = run::RunConfig {
        image: args.image.clone(),
        image_pull_policy: args.image_pull_policy.clone(),
        namespace_prefix: args.namespace_prefix.clone(),
        connect_timeout: Duration::from_secs(args.timeout.max(1)),
        parallel: args.parallel.max(1),
        ..run::RunConfig::default()
    };
    eprintln!(
        "probe: {} pod classes, {} probes ({} image {})",
        plan.pods.len(),
        plan.probes.len(),
        if args.namespace_prefix.is_some() { "sandbox namespaces," } else { "real namespaces," },
        args.image
    );
    let progress = Progress { terminal: std::io::stderr().is_terminal(), last: Mutex::new(String::new()) };
    let runtime = super::apply::runtime()?;
    let began = Instant::now();
    let outcomes = runtime.block_on(async {
        let (client_config, _) =
            autolabs_kube::live::client_config(args.kubeconfig.as_deref(), args.context.as_deref()).await?;
        let client = kube::Client::try_from(client_config)?;
        let runner = run::Runner::new(client, config);
        let show = |stage: &str, done: usize, total: usize| progress.show(stage, done, total);
        tokio::select! {
            outcome = runner.run(&plan, &namespace_labels, &policies, &show) => Ok::<_, anyhow::Error>(Some(outcome)),
            _ = tokio::signal::ctrl_c() => {
                progress.finish();
                eprintln!("probe: interrupted: deleting the probe pods and namespaces");
                runner.cleanup().await;
                Ok(None)
            }
        }
    })?;
    progress.finish();
    let wall = began.elapsed().as_secs_f64();
    let outcomes = match outcomes {
        Some(Ok(outcomes)) => outcomes,
        Some(Err(e)) => {
            eprintln!("error: the probe could not run: {e}");
            return Ok(ExitCode::from(2));
        }
        None => return Ok(ExitCode::from(2)),
    };
    let report = wire::judge(&plan, &outcomes);
    if report.results.len() == report.not_probed {
        // Fail closed: nothing was checked, so nothing may be called as predicted.
        eprintln!("error: no cell of the matrix could be probed ({} probes planned)", plan.probes.len());
        return Ok(ExitCode::from(2));
    }
    match args.format {
        Format::Table => out!("{}", wire::report::to_table(&report, wall))?,
        Format::Json => outln!("{:#}", wire::report::to_json(&report, wall))?,
        Format::Junit => out!("{}", wire::report::to_junit(&report, wall))?,
    }
    Ok(if report.passed() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
