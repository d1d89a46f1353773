//! `autolabs connlist [PATH…]`: every allowed connection at workload granularity, in np-guard
//! netpol-analyzer's formats (`txt`, `json`, `csv`, `md`, `dot`).
//!
//! Without PATHs it lists the baseline rendered from platform.yaml, with probe pods
//! (`ns/probe:…[Probe]`) standing in for the flow endpoints the baseline does not run itself
//! (ingress-nginx, kube-dns, lab pods), as `explain` does; `--intent FILE` adds such probes
//! for the flows of an intent file to any input.
//!
//! Exit codes: 0 listed, 2 usage or input errors (unreadable files, objects that do not decode
//! as their kind, invalid policies): never a list of connections from part of the input.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use autolabs_verify::ObjectSet;
use autolabs_verify::connlist::{self, ConnList};
use autolabs_verify::intent::{Intent, analyse_with_probes};
use clap::ValueEnum;

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Txt,
    Json,
    Csv,
    Md,
    Dot,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files, directories (recursive) or `-` for stdin. Without any, the baseline rendered from
    /// platform.yaml (or the built-in default).
    paths: Vec<PathBuf>,
    /// platform.yaml to render when no PATH is given.
    #[arg(short = 'f', long = "config")]
    config: Option<PathBuf>,
    /// An intent file (`kind: IsolationIntent` or `kind: Platform`): probe pods stand in for
    /// the flow endpoints that no input object runs, so their connections are listed too.
    #[arg(long, value_name = "FILE")]
    intent: Option<PathBuf>,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value = "txt")]
    format: Format,
    #[command(flatten)]
    inputs: super::inputs::InputArgs,
}

/// Reads an object set and lists its connections; `Err(code)` after the problems were
/// printed (exit 2), shared with `diff`.
pub fn list_paths(paths: &[PathBuf], inputs: &super::inputs::InputArgs) -> Result<ConnList, ExitCode> {
    let set = inputs.read(paths);
    list_set(&set, None)
}

/// Lists the connections of an object set, with probe pods for `intent` when given.
fn list_set(set: &ObjectSet, intent: Option<&Intent>) -> Result<ConnList, ExitCode> {
    if super::inputs::report(set) {
        return Err(ExitCode::from(2));
    }
    let (analysis, built) = match intent {
        Some(i) => analyse_with_probes(set, i),
        None => autolabs_verify::engines::netpol::analyse(set, Default::default()),
    };
    let failed = super::inputs::report_problems(&built.problems);
    let Some(analysis) = analysis.filter(|_| !failed) else { return Err(ExitCode::from(2)) };
    Ok(connlist::connlist(&analysis, &built))
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let intent = args.intent.as_deref().map(read_intent_file).transpose()?;
    let list = if args.paths.is_empty() {
        let (platform, _) = super::config::load(args.config.as_deref())?;
        let set = super::verify::rendered_set(&platform);
        let intent = intent.unwrap_or_else(|| Intent::of_platform(&platform));
        list_set(&set, Some(&intent))
    } else {
        list_set(&args.inputs.read(&args.paths), intent.as_ref())
    };
    let list = match list {
        Ok(list) => list,
        Err(code) => return Ok(code),
    };
    let text = match args.format {
        Format::Txt => connlist::to_txt(&list),
        Format::Json => format!("{:#}\n", connlist::to_json(&list)),
        Format::Csv => connlist::to_csv(&list),
        Format::Md => connlist::to_md(&list),
        Format::Dot => connlist::to_dot(&list),
    };
    print!("{text}");
    if list.connections.is_empty() {
        // np-guard warns the same way (netpolerrors.NoAllowedConnsWarning); stdout stays clean.
        eprintln!(
            "note: no allowed connections between the {} workload(s) of the input",
            list.workloads.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads an intent file for `verify --intent FILE` (`kind: IsolationIntent` or a whole
/// `kind: Platform`); the located problems are printed and summed up in the error.
pub fn read_intent_file(path: &Path) -> anyhow::Result<Intent> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {name}"))?;
    autolabs_verify::intent_file::load_intent(&text, &name).map_err(|errors| {
        eprintln!("{errors}");
        anyhow::anyhow!(
            "{name} is not a valid intent file ({} problem{})",
            errors.0.len(),
            if errors.0.len() == 1 { "" } else { "s" }
        )
    })
}
