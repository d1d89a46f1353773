//! The pure part of `autolabs probe`: the isolation matrix's pod classes → a probe plan →
//! verdicts. No I/O: the runner ([`super::run`]) executes the plan and hands back one
//! [`Outcome`] per probe; the tests hand back outcomes from a fake CNI instead.
//!
//! - Classes are the netpol engine's equivalence classes of the analysis `verify` proves the
//!   intent on ([`autolabs_verify::intent::analyse_with_probes_options`]): pods that share
//!   namespace, labels and named ports are one class, so one probe pod stands for all of them.
//!   `hostNetwork` classes are outside NetworkPolicy and are not probed.
//! - For each ordered pair of classes with at least one side in a namespace the intent
//!   governs (the pairs `verify` judges), and each asked protocol, a few ports are sampled:
//!   both ends of each allowed range (so a CNI that ignores `endPort` shows) and the ports
//!   right outside them, plus one port far from any rule. Each is predicted allowed or denied
//!   by [`Analysis::allows`].
//! - A probe reaching its target when predicted denied means the cluster does not enforce that
//!   policy; a probe blocked when predicted allowed names the rules that should allow it.

use std::collections::{BTreeMap, BTreeSet};

use autolabs_netpol::{Analysis, ClassId, ConnSet, Endpoint, NamedPort, PodId, Protocol};
use serde::Serialize;

/// A port far from every rule the baseline writes, sampled for every pair so that a pair with
/// no rule between them is probed too.
pub const FAR_PORT: u16 = 7077;

/// At most this many allowed and this many denied ports per pair and protocol.
pub const SAMPLES_PER_SIDE: usize = 2;

fn protocol_name<S: serde::Serializer>(protocol: &Protocol, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(protocol.as_str())
}

/// One probe pod: it stands for one class of the matrix, in its namespace, with its labels
/// and named ports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbePod {
    /// `p<index>`: the pod's name suffix and its key in reports.
    pub key: String,
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    #[serde(skip)]
    pub named_ports: Vec<NamedPort>,
    /// A member of the class (for explanations), e.g. `labs/probe:unlabelled`.
    pub stands_for: String,
    #[serde(skip)]
    pub class: ClassId,
    #[serde(skip)]
    pub representative: PodId,
}

/// One connection to try: `from` → `to` on `protocol`/`port`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    /// Index into [`ProbePlan::pods`].
    pub from: usize,
    pub to: usize,
    #[serde(serialize_with = "protocol_name")]
    pub protocol: Protocol,
    pub port: u16,
    /// What the policies say.
    pub predicted_allowed: bool,
    /// Allowed only as a later port of a range (`endPort`), not its first port: what a CNI
    /// without `endPort` support blocks.
    pub range_tail: bool,
    /// Why (the analysis' explanation of both sides).
    pub because: String,
}

/// The probe pods and the probes among them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbePlan {
    pub pods: Vec<ProbePod>,
    pub probes: Vec<Probe>,
    /// Classes left out, and why (hostNetwork).
    pub skipped_classes: Vec<String>,
}

/// What happened to one probe on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "detail", rename_all = "snake_case")]
pub enum Outcome {
    /// The target answered (a TCP connection, or the target's own "port closed" answer: the
    /// packets reached the pod).
    Reached,
    /// No answer within the timeout, or the network refused it on the way.
    Blocked(String),
    /// The probe could not be run (the image lacks a client for the protocol).
    NotRun(String),
}

/// The judgement of one probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    AsPredicted,
    /// Reached although the policies deny it: the cluster does not enforce them.
    AllowedButPredictedDenied,
    /// Blocked although the policies allow it.
    DeniedButPredictedAllowed,
    NotProbed,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::AsPredicted => "as predicted",
            Verdict::AllowedButPredictedDenied => "allowed but predicted denied",
            Verdict::DeniedButPredictedAllowed => "denied but predicted allowed",
            Verdict::NotProbed => "not probed",
        }
    }

    pub fn is_failure(self) -> bool {
        matches!(self, Verdict::AllowedButPredictedDenied | Verdict::DeniedButPredictedAllowed)
    }
}

/// One probe with its outcome and verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Judged {
    pub from: String,
    pub to: String,
    #[serde(serialize_with = "protocol_name")]
    pub protocol: Protocol,
    pub port: u16,
    pub predicted_allowed: bool,
    pub range_tail: bool,
    pub outcome: Outcome,
    pub verdict: Verdict,
    pub because: String,
}

/// Every probe judged, and what it says about the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub results: Vec<Judged>,
    pub as_predicted: usize,
    pub allowed_but_predicted_denied: usize,
    pub denied_but_predicted_allowed: usize,
    pub not_probed: usize,
    /// The summary an operator reads first.
    pub conclusions: Vec<String>,
}

impl Report {
    /// Every probed cell as predicted (exit 0).
    pub fn passed(&self) -> bool {
        self.allowed_but_predicted_denied == 0 && self.denied_but_predicted_allowed == 0
    }
}

fn pod_label(analysis: &Analysis, pod: PodId) -> String {
    analysis.pod(pod).map(|p| format!("{}/{}", p.namespace, p.name)).unwrap_or_default()
}

/// One sampled port of a pair and protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub port: u16,
    pub allowed: bool,
    /// Allowed, but not the first port of its allowed range.
    pub range_tail: bool,
}

/// The ports sampled for one pair and protocol, allowed first.
pub fn sample_ports(allowed: &ConnSet, protocol: Protocol) -> Vec<Sample> {
    let ranges = allowed.port_ranges(protocol);
    let mut candidates: Vec<u16> = Vec::new();
    for (lo, hi) in &ranges {
        candidates.extend([*lo, *hi]);
    }
    for (lo, hi) in &ranges {
        candidates.extend([lo.checked_sub(1), hi.checked_add(1)].into_iter().flatten());
    }
    candidates.push(FAR_PORT);
    let mut seen = BTreeSet::new();
    let (mut yes, mut no) = (Vec::new(), Vec::new());
    for port in candidates {
        if port == 0 || !seen.insert(port) {
            continue;
        }
        let side = if allowed.contains(protocol, port) { &mut yes } else { &mut no };
        if side.len() < SAMPLES_PER_SIDE {
            side.push(port);
        }
    }
    let range_tail = |port: u16| ranges.iter().any(|(lo, hi)| port > *lo && port <= *hi);
    yes.into_iter()
        .map(|port| Sample { port, allowed: true, range_tail: range_tail(port) })
        .chain(no.into_iter().map(|port| Sample { port, allowed: false, range_tail: false }))
        .collect()
}

/// The probe plan of an analysis: one probe pod per class (but `hostNetwork` ones), probes
/// between the classes of every pair `governed` admits, on `protocols`.
pub fn plan(analysis: &Analysis, governed: &dyn Fn(&str) -> bool, protocols: &[Protocol]) -> ProbePlan {
    let mut out = ProbePlan::default();
    for class in analysis.classes() {
        let Some(&representative) = class.members.first() else { continue };
        if class.host_network {
            out.skipped_classes.push(format!(
                "{}: hostNetwork pods are outside NetworkPolicy",
                pod_label(analysis, representative)
            ));
            continue;
        }
        out.pods.push(ProbePod {
            key: format!("p{}", out.pods.len()),
            namespace: class.namespace.clone(),
            labels: class.labels.clone(),
            named_ports: class.named_ports.clone(),
            stands_for: pod_label(analysis, representative),
            class: class.id,
            representative,
        });
    }
    for (i, from) in out.pods.iter().enumerate() {
        for (j, to) in out.pods.iter().enumerate() {
            if i == j || !(governed(&from.namespace) || governed(&to.namespace)) {
                continue;
            }
            let allowed = analysis.class_connection(from.class, to.class);
            for &protocol in protocols {
                for Sample { port, allowed: predicted_allowed, range_tail } in
                    sample_ports(&allowed, protocol)
                {
                    let because = analysis
                        .explain(
                            Endpoint::Pod(from.representative),
                            Endpoint::Pod(to.representative),
                            protocol,
                            port,
                        )
                        .map(|e| format!("egress {}; ingress {}", e.egress, e.ingress))
                        .unwrap_or_default();
                    out.probes.push(Probe {
                        from: i,
                        to: j,
                        protocol,
                        port,
                        predicted_allowed,
                        range_tail,
                        because,
                    });
                }
            }
        }
    }
    out
}

impl ProbePlan {
    /// The part of the plan between pods of `namespaces` only (`--namespaces`): a quick check
    /// of some cells with fewer probe pods. Pods of other namespaces, and every probe to or
    /// from them, are left out; the rest is unchanged.
    pub fn restricted_to(&self, namespaces: &BTreeSet<String>) -> ProbePlan {
        let mut index = BTreeMap::new();
        let mut out = ProbePlan { skipped_classes: self.skipped_classes.clone(), ..ProbePlan::default() };
        for (old, pod) in self.pods.iter().enumerate() {
            if namespaces.contains(&pod.namespace) {
                index.insert(old, out.pods.len());
                out.pods.push(ProbePod { key: format!("p{}", out.pods.len()), ..pod.clone() });
            }
        }
        out.probes = self
            .probes
            .iter()
            .filter_map(|probe| {
                Some(Probe { from: *index.get(&probe.from)?, to: *index.get(&probe.to)?, ..probe.clone() })
            })
            .collect();
        out
    }
}

/// Judges every probe of `plan` by its outcome (`outcomes[i]` is probe `i`'s).
pub fn judge(plan: &ProbePlan, outcomes: &[Outcome]) -> Report {
    let mut results = Vec::with_capacity(plan.probes.len());
    for (probe, outcome) in plan.probes.iter().zip(outcomes) {
        let verdict = match (outcome, probe.predicted_allowed) {
            (Outcome::NotRun(_), _) => Verdict::NotProbed,
            (Outcome::Reached, true) | (Outcome::Blocked(_), false) => Verdict::AsPredicted,
            (Outcome::Reached, false) => Verdict::AllowedButPredictedDenied,
            (Outcome::Blocked(_), true) => Verdict::DeniedButPredictedAllowed,
        };
        results.push(Judged {
            from: plan.pods[probe.from].stands_for.clone(),
            to: plan.pods[probe.to].stands_for.clone(),
            protocol: probe.protocol,
            port: probe.port,
            predicted_allowed: probe.predicted_allowed,
            range_tail: probe.range_tail,
            outcome: outcome.clone(),
            verdict,
            because: probe.because.clone(),
        });
    }
    let count = |v: Verdict| results.iter().filter(|r| r.verdict == v).count();
    let mut report = Report {
        as_predicted: count(Verdict::AsPredicted),
        allowed_but_predicted_denied: count(Verdict::AllowedButPredictedDenied),
        denied_but_predicted_allowed: count(Verdict::DeniedButPredictedAllowed),
        not_probed: count(Verdict::NotProbed),
        conclusions: Vec::new(),
        results,
    };
    report.conclusions = conclusions(&report.results);
    report
}

/// What the results say about the cluster as a whole: no enforcement at all, or none for a
/// protocol; allowed traffic blocked, and whether only inside port ranges (no `endPort`).
fn conclusions(results: &[Judged]) -> Vec<String> {
    let open = |r: &Judged| r.verdict == Verdict::AllowedButPredictedDenied;
    let denied: Vec<&Judged> =
        results.iter().filter(|r| !r.predicted_allowed && r.verdict != Verdict::NotProbed).collect();
    let mut out = Vec::new();
    if !denied.is_empty() && denied.iter().all(|r| open(r)) {
        out.push(format!(
            "this cluster's CNI does not enforce NetworkPolicy: all {} probes the policies deny went through",
            denied.len()
        ));
    } else {
        let mut explained = 0;
        for protocol in Protocol::ALL {
            let of: Vec<&&Judged> = denied.iter().filter(|r| r.protocol == protocol).collect();
            if !of.is_empty() && of.iter().all(|r| open(r)) {
                explained += of.len();
                out.push(format!(
                    "this cluster's CNI does not enforce NetworkPolicy for {p}: all {} {p} probes the policies deny went through",
                    of.len(),
                    p = protocol.as_str()
                ));
            }
        }
        let open_count = denied.iter().filter(|r| open(r)).count();
        if open_count > explained {
            out.push(format!(
                "{} probe(s) the policies deny went through: those policies are not enforced",
                open_count - explained
            ));
        }
    }
    let blocked: Vec<&Judged> =
        results.iter().filter(|r| r.verdict == Verdict::DeniedButPredictedAllowed).collect();
    if !blocked.is_empty() {
        let tails_only = blocked.iter().all(|r| r.range_tail);
        out.push(format!(
            "{} probe(s) the policies allow were blocked{}",
            blocked.len(),
            if tails_only {
                ": all inside port ranges past their first port, so the CNI does not support endPort"
            } else {
                ""
            }
        ));
    }
    // Cells not probed, by protocol and reason: a verdict that is silent about them would
    // read as covering them.
    let mut not_probed: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for r in results {
        if let Outcome::NotRun(why) = &r.outcome {
            *not_probed.entry((r.protocol.as_str(), why.as_str())).or_default() += 1;
        }
    }
    if out.is_empty() && results.iter().any(|r| r.verdict == Verdict::AsPredicted) {
        out.push("every probed cell is as predicted: the cluster enforces what the policies say".into());
    }
    for ((protocol, why), count) in &not_probed {
        out.push(format!("{count} {protocol} probe(s) not probed: {why}"));
    }
    out
}
