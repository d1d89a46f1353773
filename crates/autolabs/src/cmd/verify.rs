//! `autolabs verify`: every engine over manifests or the rendered baseline.
//!
//! Exit codes: 0 clean, 1 findings at or above `--fail-on`, 2 usage or input errors
//! (unreadable files, malformed documents, objects that do not decode as their kind or that
//! the API server's validation refuses, a bad platform.yaml).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use autolabs_model::Platform;
use autolabs_verify::run::rendered_set;
use autolabs_verify::{Engine, Finding, ObjectSet, Options, Report, engines, report};

use super::findings_out::{Format, exit_code, print_findings};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files, directories (recursive) or `-` for stdin; YAML or JSON, multi-document, `List`s.
    /// Without any, verifies the baseline rendered from platform.yaml (or the built-in default).
    paths: Vec<PathBuf>,
    /// platform.yaml: its nodes bound capacity checks; without PATHs it is what gets rendered.
    #[arg(short = 'f', long = "config")]
    config: Option<PathBuf>,
    /// Read the live cluster of the current kubeconfig instead of files (every engine runs on
    /// the same object set; Secrets and ConfigMaps are never read).
    #[arg(long, conflicts_with = "paths")]
    cluster: bool,
    /// With --cluster: cross-check the RBAC engine's answers for every ServiceAccount autolabs
    /// rendered (or those of --probe-sa) against the server's SubjectAccessReviews; every
    /// disagreement is an error.
    #[arg(long, requires = "cluster")]
    probe_rbac: bool,
    /// With --probe-rbac: probe this ServiceAccount (NAMESPACE/NAME; repeatable) instead.
    #[arg(long = "probe-sa", value_name = "NAMESPACE/NAME", requires = "probe_rbac")]
    probe_sa: Vec<String>,
    /// kubeconfig context for --cluster.
    #[arg(long, requires = "cluster")]
    context: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Exit 1 when a finding is at least this severe.
    #[arg(long, default_value = "error", value_parser = ["error", "warning", "info"])]
    fail_on: String,
    /// Run only these engines (comma-separated: pss,rbac,resources,netpol,intent,hygiene,backup,deprecations,alerts,load).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Skip these engines.
    #[arg(long, value_delimiter = ',')]
    skip: Vec<String>,
    /// Also report APIs removed or deprecated in this Kubernetes version (e.g. 1.32) and older
    /// Pod Security label pins.
    #[arg(long = "target-version", value_name = "1.N")]
    target_version: Option<String>,
    /// The isolation intent to prove: an `IsolationIntent` file, or a platform.yaml whose matrix
    /// applies (for clusters that are not rendered by autolabs).
    #[arg(long, value_name = "FILE")]
    intent: Option<PathBuf>,
    /// Print the namespace × namespace matrix of allowed connections.
    #[arg(long)]
    matrix: bool,
    /// Also write the matrix as a picture: FILE.dot, FILE.svg or FILE.html.
    #[arg(long = "matrix-out", value_name = "FILE")]
    matrix_out: Option<PathBuf>,
    /// Evaluate every pod at this Pod Security level, e.g. `restricted` or `baseline:v1.22`.
    #[arg(long = "pod-security", value_name = "LEVEL[:VERSION]")]
    pod_security: Option<String>,
    /// How the netpol and intent engines treat pods with `hostNetwork: true`: `exempt` from
    /// NetworkPolicy (most plugins) or `as-pod` (as np-guard's netpol-analyzer does).
    #[arg(long, value_enum, default_value = "exempt")]
    host_network: super::netpol_args::HostNetworkArg,
    #[command(flatten)]
    inputs: super::inputs::InputArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let engines = Engine::select(&args.only, &args.skip)?;
    let pod_security = match &args.pod_security {
        Some(s) => Some(
            s.parse::<autolabs_pss::LevelVersion>()
                .map_err(|e| anyhow::anyhow!("--pod-security {s:?}: {e}"))?,
        ),
        None => None,
    };

    let target_minor = match &args.target_version {
        Some(v) => Some(
            engines::deprecations::parse_target(v).map_err(|e| anyhow::anyhow!("--target-version: {e}"))?,
        ),
        None => None,
    };

    let needs_config = (args.paths.is_empty() && !args.cluster) || args.config.is_some();
    let platform: Option<Platform> =
        if needs_config { Some(super::config::load(args.config.as_deref())?.0) } else { None };
    let set = if args.cluster {
        super::dump::read_cluster_blocking(args.context.as_deref())?
    } else {
        match (&platform, args.paths.is_empty()) {
            (Some(p), true) => rendered_set(p),
            _ => args.inputs.read(&args.paths),
        }
    };

    super::inputs::print_notes(&set);
    // A directory `render` wrote, or a cluster `apply` wrote to, carries its platform's label:
    // read the same intent plain `verify` reads (the admin group, the matrix), so `verify out/`,
    // `verify --cluster` and `verify` of a dump of that cluster all agree.
    let platform = match platform {
        None => rendered_platform(&set)?,
        p => p,
    };
    let intent = args.intent.as_deref().map(super::netpol_args::read_intent_file).transpose()?;
    let additional = if args.probe_rbac {
        probe_rbac_findings(args.context.as_deref(), &set, &args.probe_sa)?
    } else {
        Vec::new()
    };
    let options = Options {
        engines,
        platform,
        whole_platform: args.paths.is_empty(),
        intent,
        pod_security,
        target_minor,
        netpol: args.host_network.options(),
        additional,
    };
    let Report { findings, summary, proof } = autolabs_verify::run(&set, &options);
    print_findings(args.format, &findings, &summary)?;
    if let (Some(p), Format::Table, true) = (&proof, args.format, args.matrix) {
        out!("{}", report::matrix_table(&p.matrix, &p.not_judged))?;
    }
    if let (Some(p), Some(path)) = (&proof, &args.matrix_out) {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let picture = match ext {
            "dot" | "gv" => report::matrix_dot(&p.matrix),
            "svg" => report::matrix_svg(&p.matrix, Some(&p.intended), Some(&p.not_judged)),
            "html" | "htm" => report::matrix_html(&p.matrix, Some(&p.intended), Some(&p.not_judged)),
            _ => bail!("--matrix-out {}: use a .dot, .svg or .html file", path.display()),
        };
        std::fs::write(path, picture).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        eprintln!("wrote the isolation matrix to {}", path.display());
    }
    if let Some(p) = &proof
        && args.format == Format::Table
    {
        outln!(
            "isolation matrix: {} intended flows checked over {} pod classes and {} class pairs",
            p.flows_checked,
            p.classes,
            p.pairs_checked
        )?;
    }
    Ok(exit_code(&set, &findings, &args.fail_on))
}

/// The platform a rendered directory came from: when objects carry `autolabs.io/platform`,
/// platform.yaml (or the built-in default) if its name matches, said on stderr either way.
fn rendered_platform(set: &ObjectSet) -> anyhow::Result<Option<Platform>> {
    use autolabs_model::topology::PLATFORM_LABEL;
    let Some(name) = set.objects.iter().find_map(|o| o.labels().get(PLATFORM_LABEL).cloned()) else {
        return Ok(None);
    };
    let (platform, source) = super::config::load(None)?;
    if platform.metadata.name == name {
        eprintln!(
            "note: the inputs are the rendered baseline of platform {name:?} (objects labelled {PLATFORM_LABEL}); \
             its intent (admin group, isolation matrix) is read from {source}; choose another with -f"
        );
        Ok(Some(platform))
    } else {
        eprintln!(
            "note: the inputs are the rendered baseline of platform {name:?}, but {source} is platform {:?}: \
             pass its platform.yaml with -f to check them against its intent",
            platform.metadata.name
        );
        Ok(None)
    }
}

/// `--probe-rbac`: the RBAC engine's answers for each ServiceAccount (those of `--probe-sa`,
/// else every one autolabs rendered) against the server's SubjectAccessReviews (and a
/// SelfSubjectRulesReview when the client is that SA).
fn probe_rbac_findings(
    context: Option<&str>,
    set: &ObjectSet,
    chosen: &[String],
) -> anyhow::Result<Vec<Finding>> {
    use autolabs_kube::probe;
    let subjects: Vec<probe::ServiceAccountRef> = if chosen.is_empty() {
        probe::platform_service_accounts(set)
    } else {
        chosen
            .iter()
            .map(|text| match text.split_once('/') {
                Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => {
                    Ok(probe::ServiceAccountRef::new(ns, name))
                }
                _ => bail!("--probe-sa {text:?}: write NAMESPACE/NAME"),
            })
            .collect::<anyhow::Result<_>>()?
    };
    // Fail closed: a probe that asked nothing must not read as "0 disagreements".
    if subjects.is_empty() {
        bail!(
            "--probe-rbac: the cluster has no ServiceAccount labelled app.kubernetes.io/managed-by=autolabs \
             (is the baseline applied?); name one with --probe-sa NAMESPACE/NAME"
        );
    }
    let (policy, _) = engines::rbac::policy(set);
    let authorizer = autolabs_rbac::Authorizer::new(&policy)?;
    let reports = super::apply::runtime()?.block_on(async {
        let client = autolabs_kube::live::connect(context).await?;
        Ok::<_, anyhow::Error>(probe::probe_service_accounts(&client, &authorizer, &subjects).await?)
    })?;
    let mut findings = Vec::new();
    for report in &reports {
        eprintln!("{}", report.summary());
        for note in &report.notes {
            eprintln!("note: {note}");
        }
        findings.extend(probe::findings(report));
    }
    Ok(findings)
}
