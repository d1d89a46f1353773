//! `autolabs apply`: the rendered baseline onto the cluster of the current kubeconfig, by
//! server-side apply (field manager `autolabs`), in dependency order, with `--dry-run`
//! (the server's) and `--prune` (only this platform's objects that are no longer rendered).
//!
//! A progress bar on a terminal, one line per object otherwise (`progress.rs`), a summary,
//! and exit 1 naming every failed object with the server's message. The decisions live in `autolabs_kube::apply`; this is the
//! printing and the exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use autolabs_kube::apply::{self, ApplyOptions, ApplyReport, ObjectResult};
use autolabs_kube::live;
use autolabs_model::{Manifest, render};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// platform.yaml to read (`-` for stdin); default ./platform.yaml, else the built-in default.
    #[arg(short = 'f', long = "file")]
    file: Option<PathBuf>,
    /// The server's dry run: print what would be created / configured / unchanged, change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Delete objects labelled as this platform's that are no longer rendered (never namespaces or labs).
    #[arg(long)]
    prune: bool,
    /// Take over fields another field manager owns instead of failing on the conflict.
    #[arg(long)]
    force: bool,
    /// kubeconfig context to use (default: the current context).
    #[arg(long)]
    context: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (platform, source) = super::config::load(args.file.as_deref())?;
    let rendered = render(&platform);
    let options = ApplyOptions {
        platform: platform.metadata.name.clone(),
        dry_run: args.dry_run,
        prune: args.prune,
        force: args.force,
    };
    let runtime = runtime()?;
    runtime.block_on(async {
        let client = live::connect(args.context.as_deref()).await?;
        eprintln!(
            "autolabs apply: {} objects from {source} (platform {:?}){}",
            rendered.manifests.len(),
            options.platform,
            if options.dry_run { ", server dry run" } else { "" }
        );
        let report = apply_printing(&client, &rendered.manifests, &options, true).await?;
        Ok(exit_code(&report))
    })
}

/// A tokio runtime for the commands that talk to an API server.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")
}

/// Applies and prints: a bar when stderr is a terminal; otherwise every object's line when
/// `every_line`, else only the ones that are not created/configured/unchanged (skipped, kept,
/// failed). Then the summary and the failures.
pub async fn apply_printing(
    client: &live::Client,
    manifests: &[Manifest],
    options: &ApplyOptions,
    every_line: bool,
) -> anyhow::Result<ApplyReport> {
    let state = apply::read_state(client, manifests, options).await?;
    let plan = apply::plan(manifests, &state, options);
    let mut progress = super::progress::Progress::new(plan.steps.len(), every_line);
    let report = apply::execute(client, &plan, &state.served, options, |result: &ObjectResult| {
        progress.object(result)
    })
    .await?;
    progress.finish();
    outln!("{}", report.summary())?;
    let failures: Vec<&ObjectResult> = report.failures().collect();
    if !failures.is_empty() {
        eprintln!("error: {} object(s) failed:", failures.len());
        for failure in &failures {
            eprintln!("  {failure}");
        }
        if options.prune {
            eprintln!(
                "note: nothing was pruned, because {} object(s) failed: prune runs only after every apply succeeded",
                failures.len()
            );
        }
    }
    Ok(report)
}

/// 0 when every object succeeded, 1 otherwise.
pub fn exit_code(report: &ApplyReport) -> ExitCode {
    if report.succeeded() { ExitCode::SUCCESS } else { ExitCode::from(1) }
}
