//! `autolabs upgrade plan [--target-version 1.3x]`: upgrade readiness of the rendered
//! baseline (or manifests) and the node rollout order.
//!
//! Exit codes: 0 ready, 1 an object uses an API the target no longer serves, 2 input errors
//! (read as `verify` reads: `--as-admitted`, `--strict-inputs`; no plan is printed then).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::anyhow;
use autolabs_verify::engines::deprecations;
use autolabs_verify::finding::Summary;
use autolabs_verify::{Severity, report};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// APIs removed or deprecated in the target version, Pod Security pins older than it, and
    /// the node-by-node rollout order (control plane first, then workers, drains honouring PDBs).
    Plan(PlanArgs),
}

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// Files, directories (recursive) or `-` to check; without any, the rendered baseline.
    paths: Vec<PathBuf>,
    /// platform.yaml: the current version, profile and nodes (default ./platform.yaml, else the built-in default).
    #[arg(short = 'f', long = "config")]
    config: Option<PathBuf>,
    /// Kubernetes version to upgrade to, e.g. 1.32 (default: the next minor version).
    #[arg(long = "target-version", value_name = "1.N")]
    target_version: Option<String>,
    #[command(flatten)]
    inputs: super::inputs::InputArgs,
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Plan(a) => plan(a),
    }
}

fn plan(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let (platform, _) = super::config::load(args.config.as_deref())?;
    let target = match &args.target_version {
        Some(v) => deprecations::parse_target(v).map_err(|e| anyhow!("--target-version: {e}"))?,
        None => platform.spec.kubernetes_minor() + 1,
    };
    let set = if args.paths.is_empty() {
        autolabs_verify::run::rendered_set(&platform)
    } else {
        args.inputs.read(&args.paths)
    };
    // Fail closed: no readiness verdict or rollout order from part of the input.
    if super::inputs::report(&set) {
        return Ok(ExitCode::from(2));
    }
    let mut findings = deprecations::check(&set, target);
    report::sort(&mut findings);
    let summary = Summary::of(&findings, set.objects.len(), set.files);
    outln!(
        "Upgrade readiness: 1.{} → 1.{target} ({} profile)\n",
        platform.spec.kubernetes_minor(),
        platform.spec.profile.as_str()
    )?;
    out!("{}", report::table(&findings, &summary))?;
    // Budgets are read from the same objects: the rendered ones, or the given manifests.
    let pdbs = deprecations::blocking_pdbs(&set);
    outln!("\nRollout order:")?;
    for (i, step) in deprecations::rollout_order(&platform.spec, target, &pdbs).iter().enumerate() {
        outln!("{}. {step}", i + 1)?;
    }
    Ok(if findings.iter().any(|f| f.severity == Severity::Error) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
