//! `autolabs diff OLD NEW`: connections added, removed and changed between two manifest sets,
//! at workload granularity — a pull-request gate for NetworkPolicy changes.
//!
//! Exit codes: 0 no change, 1 something changed, 2 usage or input errors.

use std::path::PathBuf;
use std::process::ExitCode;

use autolabs_verify::diff;
use clap::ValueEnum;

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Md,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The manifests before the change: a file or a directory (recursive).
    old: PathBuf,
    /// The manifests after the change.
    new: PathBuf,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    format: Format,
    /// How pods with `hostNetwork: true` are treated on both sides: `exempt` from
    /// NetworkPolicy (most plugins) or `as-pod` (as np-guard's netpol-analyzer does).
    #[arg(long, value_enum, default_value = "exempt")]
    host_network: super::netpol_args::HostNetworkArg,
    #[command(flatten)]
    inputs: super::inputs::InputArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let options = args.host_network.options();
    let old =
        match super::connlist::list_paths(std::slice::from_ref(&args.old), &args.inputs, options.clone()) {
            Ok(list) => list,
            Err(code) => return Ok(code),
        };
    let new = match super::connlist::list_paths(std::slice::from_ref(&args.new), &args.inputs, options) {
        Ok(list) => list,
        Err(code) => return Ok(code),
    };
    let d = diff::diff(&old, &new);
    let text = match args.format {
        Format::Table => diff::to_table(&d),
        Format::Json => format!("{:#}\n", diff::to_json(&d)),
        Format::Md => diff::to_md(&d),
    };
    out!("{text}")?;
    Ok(if d.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
