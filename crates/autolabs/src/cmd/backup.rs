//! `autolabs backup check [PATH…]` and `autolabs backup restore-plan`.
//!
//! Without PATHs both read the baseline rendered from platform.yaml (or the built-in
//! default). `check` exits 1 when a finding reaches `--fail-on`, 2 on input errors (read as
//! `verify` reads: `--as-admitted`, `--strict-inputs`); `restore-plan` prints no plan then.

use std::path::PathBuf;
use std::process::ExitCode;

use autolabs_model::Profile;
use autolabs_verify::engines::backup;
use autolabs_verify::finding::Summary;
use autolabs_verify::{Finding, ObjectSet, report};

use super::findings_out::Format;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Find each stateful workload without a backup (on real storage, scheduled, with retention)
    /// or without a restore path; report the RPO each schedule implies.
    Check(CheckArgs),
    /// Print the ordered restore steps for the rendered platform (or the given manifests).
    RestorePlan(RestorePlanArgs),
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Files, directories (recursive) or `-`; without any, the rendered baseline.
    paths: Vec<PathBuf>,
    /// platform.yaml: what gets rendered without PATHs, and what decides the two expectations below.
    #[arg(short = 'f', long = "config")]
    config: Option<PathBuf>,
    /// Require an etcd snapshot CronJob (default: when platform.yaml's profile is production,
    /// or there are no PATHs).
    #[arg(long = "expect-etcd-backup")]
    expect_etcd_backup: bool,
    /// Require a VolumeSnapshotClass (default: when platform.yaml's provider supports snapshots).
    #[arg(long = "snapshots-supported")]
    snapshots_supported: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Exit 1 when a finding is at least this severe.
    #[arg(long, default_value = "error", value_parser = ["error", "warning", "info"])]
    fail_on: String,
    #[command(flatten)]
    inputs: super::inputs::InputArgs,
}

#[derive(Debug, clap::Args)]
pub struct RestorePlanArgs {
    /// Files, directories (recursive) or `-`; without any, the rendered baseline.
    paths: Vec<PathBuf>,
    /// platform.yaml to render (default ./platform.yaml, else the built-in default).
    #[arg(short = 'f', long = "config")]
    config: Option<PathBuf>,
    #[command(flatten)]
    inputs: super::inputs::InputArgs,
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Check(a) => check(a),
        Command::RestorePlan(a) => restore_plan(a),
    }
}

fn input(
    paths: &[PathBuf],
    config: Option<&std::path::Path>,
    inputs: &super::inputs::InputArgs,
) -> anyhow::Result<(ObjectSet, Option<autolabs_model::Platform>)> {
    let platform =
        if paths.is_empty() || config.is_some() { Some(super::config::load(config)?.0) } else { None };
    let set = match (&platform, paths.is_empty()) {
        (Some(p), true) => autolabs_verify::run::rendered_set(p),
        _ => inputs.read(paths),
    };
    Ok((set, platform))
}

fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let (set, platform) = input(&args.paths, args.config.as_deref(), &args.inputs)?;
    super::inputs::print_notes(&set);
    let opts = backup::Options {
        control_plane_backup_expected: args.expect_etcd_backup
            || platform
                .as_ref()
                .is_some_and(|p| args.paths.is_empty() || p.spec.profile == Profile::Production),
        snapshots_supported: args.snapshots_supported
            || platform.as_ref().is_some_and(|p| p.spec.snapshots_supported()),
    };
    // As in `verify`: input errors (and objects left out under --as-admitted) are findings.
    let mut findings: Vec<Finding> = autolabs_verify::run::load_findings(&set);
    findings.extend(backup::check(&set, opts));
    report::sort(&mut findings);
    let summary = Summary::of(&findings, set.objects.len(), set.files);
    super::findings_out::print_findings(args.format, &findings, &summary)?;
    Ok(super::findings_out::exit_code(&set, &findings, &args.fail_on))
}

fn restore_plan(args: RestorePlanArgs) -> anyhow::Result<ExitCode> {
    let (set, _) = input(&args.paths, args.config.as_deref(), &args.inputs)?;
    // Fail closed: no plan from part of the input.
    if super::inputs::report(&set) {
        return Ok(ExitCode::from(2));
    }
    for (i, step) in backup::restore_plan(&set).iter().enumerate() {
        outln!("{}. {step}", i + 1)?;
    }
    Ok(ExitCode::SUCCESS)
}
