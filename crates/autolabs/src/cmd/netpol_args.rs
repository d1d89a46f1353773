//! Arguments and printing that the NetworkPolicy commands (`verify`, `connlist`, `explain`,
//! `diff`) share.

use std::path::Path;

use anyhow::Context;
use autolabs_netpol::{HostNetwork, Options};
use autolabs_verify::intent::Intent;
use autolabs_verify::{Finding, Severity};
use clap::ValueEnum;

/// `--host-network`: how pods with `hostNetwork: true` are analysed.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq, Default)]
pub enum HostNetworkArg {
    /// Outside NetworkPolicy (the default; Calico, Cilium and most plugins).
    #[default]
    Exempt,
    /// Ordinary pods, selected and isolated by their labels (np-guard's netpol-analyzer).
    AsPod,
}

impl HostNetworkArg {
    /// The analysis options for this choice.
    pub fn options(self) -> Options {
        let host_network = match self {
            HostNetworkArg::Exempt => HostNetwork::Exempt,
            HostNetworkArg::AsPod => HostNetwork::AsPod,
        };
        Options { host_network, ..Options::default() }
    }
}

/// Prints the engine's remarks about the input on stderr (`error:`, `warning:`, `note:`),
/// located where known; true when one is an error that `refuses` counts (an error it does
/// not count is only a note for this command).
pub fn print_problems(problems: &[Finding], refuses: impl Fn(&Finding) -> bool) -> bool {
    let mut refused = false;
    for p in problems {
        let prefix = match p.severity {
            Severity::Error if refuses(p) => {
                refused = true;
                "error"
            }
            Severity::Warning => "warning",
            Severity::Error | Severity::Info => "note",
        };
        match p.location() {
            Some(loc) => eprintln!("{prefix}: {loc}: {}", p.message),
            None => eprintln!("{prefix}: {}", p.message),
        }
    }
    refused
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
