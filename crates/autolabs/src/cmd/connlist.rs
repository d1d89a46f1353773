//! `autolabs connlist [PATH…]`: every allowed connection at workload granularity, in np-guard
//! netpol-analyzer's formats (`txt`, `json`, `csv`, `md`, `dot`).
//!
//! Without PATHs it lists the baseline rendered from platform.yaml, with probe pods
//! (`ns/probe:…[Probe]`) standing in for the flow endpoints the baseline does not run itself
//! (ingress-nginx, kube-dns, lab pods), as `explain` does; `--intent FILE` adds such probes
//! for the flows of an intent file to any input.
//!
//! `--host-network exempt|as-pod` says how pods with `hostNetwork: true` are treated: exempt
//! from NetworkPolicy (the default, as Calico, Cilium and most plugins do) or as ordinary pods
//! (as np-guard's netpol-analyzer does); a `note:` line on stderr names each such workload and
//! its treatment. Warnings about the input (named ports that cannot match, owner references
//! the API server would refuse) are printed the same way.
//!
//! Exit codes: 0 listed, 2 usage or input errors (unreadable files, objects that do not decode
//! as their kind, invalid policies, pods of one workload that policies tell apart): never a
//! list of connections from part of the input.

use std::path::PathBuf;
use std::process::ExitCode;

use autolabs_netpol::Options;
use autolabs_verify::ObjectSet;
use autolabs_verify::connlist::{self, ConnList};
use autolabs_verify::engines::netpol::Built;
use autolabs_verify::intent::{Intent, analyse_with_probes_options};
use clap::ValueEnum;

use super::netpol_args::{HostNetworkArg, print_problems, read_intent_file};

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
    /// How pods with `hostNetwork: true` are treated: `exempt` from NetworkPolicy (most
    /// plugins) or `as-pod` (ordinary pods, as np-guard's netpol-analyzer does).
    #[arg(long, value_enum, default_value = "exempt")]
    host_network: HostNetworkArg,
    #[command(flatten)]
    inputs: super::inputs::InputArgs,
}

/// Reads an object set and lists its connections; `Err(code)` after the problems were
/// printed (exit 2), shared with `diff`.
pub fn list_paths(
    paths: &[PathBuf],
    inputs: &super::inputs::InputArgs,
    options: Options,
) -> Result<ConnList, ExitCode> {
    let set = inputs.read(paths);
    list_set(&set, None, options)
}

/// Lists the connections of an object set, with probe pods for `intent` when given. Every
/// remark about the input is printed; an error among them refuses the listing (exit 2).
fn list_set(set: &ObjectSet, intent: Option<&Intent>, options: Options) -> Result<ConnList, ExitCode> {
    if super::inputs::report(set) {
        return Err(ExitCode::from(2));
    }
    let (analysis, built): (_, Built<'_>) = match intent {
        Some(i) => analyse_with_probes_options(set, i, options),
        None => autolabs_verify::engines::netpol::analyse(set, options),
    };
    let refused = print_problems(&built.problems, |_| true);
    match analysis {
        Some(analysis) if !refused => Ok(connlist::connlist(&analysis, &built)),
        _ => Err(ExitCode::from(2)),
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let intent = args.intent.as_deref().map(read_intent_file).transpose()?;
    let list = if args.paths.is_empty() {
        let (platform, _) = super::config::load(args.config.as_deref())?;
        let set = autolabs_verify::run::rendered_set(&platform);
        let intent = intent.unwrap_or_else(|| Intent::of_platform(&platform));
        list_set(&set, Some(&intent), args.host_network.options())
    } else {
        list_set(&args.inputs.read(&args.paths), intent.as_ref(), args.host_network.options())
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
    out!("{text}")?;
    if list.connections.is_empty() {
        // np-guard warns the same way (netpolerrors.NoAllowedConnsWarning); stdout stays clean.
        eprintln!(
            "note: no allowed connections between the {} workload(s) of the input",
            list.workloads.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}
