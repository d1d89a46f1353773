//! `autolabs upgrade plan [--target-version 1.3x]`: upgrade readiness of the rendered
//! baseline (or manifests) and the node rollout order.
//!
//! Besides the objects, on the rendered baseline it checks the pins (`autolabs versions`): the Pod Security label
//! version and kubeadm's version that move with the target, targets this autolabs cannot
//! render or that skip minors, and images pinned by tag instead of digest.
//!
//! Exit codes: 0 ready, 1 an object uses an API the target no longer serves (or the target is
//! one autolabs does not support, or a downgrade), 2 input errors
//! (read as `verify` reads: `--as-admitted`, `--strict-inputs`; no plan is printed then).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::anyhow;
use autolabs_model::versions::{self, ChangeLevel};
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
    // The pins are the rendered baseline's: foreign manifests name their own images.
    let changes =
        if args.paths.is_empty() { versions::upgrade_changes(&platform.spec, target) } else { Vec::new() };
    if !changes.is_empty() {
        outln!("\nPinned versions (autolabs versions):")?;
    }
    for c in &changes {
        let level = match c.level {
            ChangeLevel::Error => "ERROR",
            ChangeLevel::Warning => "WARNING",
            ChangeLevel::Info => "INFO",
        };
        outln!("  {level:<7}  {}: {}", c.subject, c.message)?;
    }
    // Budgets are read from the same objects: the rendered ones, or the given manifests.
    let pdbs = deprecations::blocking_pdbs(&set);
    outln!("\nRollout order:")?;
    for (i, step) in deprecations::rollout_order(&platform.spec, target, &pdbs).iter().enumerate() {
        outln!("{}. {step}", i + 1)?;
    }
    let version_error = changes.iter().any(|c| c.level == ChangeLevel::Error);
    Ok(if version_error || findings.iter().any(|f| f.severity == Severity::Error) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
