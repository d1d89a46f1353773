//! `autolabs probe`: check on the wire that the cluster enforces what the NetworkPolicies say.
//!
//! Everything `verify` proves is about what the policies *say*; a CNI without policy support
//! stores them all and enforces none. This module plans probes over the isolation matrix's
//! pod classes ([`plan`], pure), runs them with short-lived probe pods ([`run`]: the only
//! I/O), and judges each probe against the prediction ([`plan::judge`]); [`report`] renders
//! the result as a table, JSON or JUnit.

pub mod plan;
pub mod report;
pub mod run;

use autolabs_netpol::{Analysis, Options, Protocol};
use autolabs_verify::intent::{Intent, analyse_with_probes_options};
use autolabs_verify::objects::ObjectSet;

pub use plan::{Outcome, ProbePlan, Report, Verdict, judge};

/// The analysis of `set` with the probe pods the intent needs (what `verify` proves the intent
/// on), and the probe plan over its classes. `Err` lists the input's problems (exit 2).
pub fn plan_for(
    set: &ObjectSet,
    intent: &Intent,
    protocols: &[Protocol],
) -> Result<(Analysis, ProbePlan), Vec<String>> {
    let (analysis, built) = analyse_with_probes_options(set, intent, Options::default());
    let errors: Vec<String> = built
        .problems
        .iter()
        .filter(|f| f.severity == autolabs_verify::finding::Severity::Error)
        .map(|f| f.message.clone())
        .collect();
    match analysis {
        Some(analysis) if errors.is_empty() => {
            let governed = |ns: &str| intent.namespaces.contains(ns);
            let plan = plan::plan(&analysis, &governed, protocols);
            Ok((analysis, plan))
        }
        _ => Err(if errors.is_empty() {
            vec!["the NetworkPolicies could not be analysed".into()]
        } else {
            errors
        }),
    }
}

/// The object set of the rendered baseline of `platform` (what `verify` reads without files).
pub fn rendered_set(platform: &autolabs_model::Platform) -> ObjectSet {
    let rendered = autolabs_model::render(platform);
    let mut set = ObjectSet::default();
    for m in &rendered.manifests {
        set.add_text(
            &autolabs_model::output::to_yaml(m),
            &format!("{}/{}", autolabs_model::output::folder(m), m.file_name()),
        );
    }
    set
}

/// What a sandbox copies from the input: each namespace's labels, and the NetworkPolicies.
pub type SandboxInputs =
    (std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>, Vec<serde_json::Value>);

/// The namespace labels and NetworkPolicies of `set`, for [`run::Runner::run`].
pub fn sandbox_inputs(set: &ObjectSet) -> SandboxInputs {
    let labels =
        set.objects.iter().filter(|o| o.kind == "Namespace").map(|o| (o.name.clone(), o.labels())).collect();
    let policies =
        set.objects.iter().filter(|o| o.kind == "NetworkPolicy").map(|o| o.value.clone()).collect();
    (labels, policies)
}

#[cfg(test)]
mod tests;
