//! Conformance: replays `conformance/admission/cases*.jsonl` — 1,000 Pods a real
//! kube-apiserver admitted or rejected (server-side dry run) in a namespace holding the
//! matching `setup*.yaml` — and requires our engine to agree on every verdict, HTTP status,
//! rejecting stage, message and every defaulted request and limit.
//!
//! **Quota usage does not accumulate between cases.** The cases were sent with
//! `dryRun=All`, and the quota plugin skips the `status.used` update for dry-run requests
//! (`checkQuotas`: "Don't update quota for admissionAttributes that correspond to dry-run
//! requests"). The data agrees: every `exceeded quota` message reports `used: …=0`, and
//! `cases.jsonl` admits 75 pods under a quota of `pods: "10"`. So each case is admitted
//! against the namespace as set up, and nothing is recorded.
//!
//! **Message comparison.** A message must match exactly, or else be the same prefix
//! (`Pod "p0" is invalid: ` / `pods "p0" is forbidden: `) followed by the same aggregated
//! causes in another order. Upstream builds these lists by iterating Go maps (the
//! resources of a container's requests/limits, a LimitRange item's min/max/ratio), whose
//! order is random per request; we iterate sorted names. For 422s we additionally require
//! the causes to name the same containers in the same order (only the order inside one
//! container may differ), because upstream validates containers in order. Both counts
//! are printed. No other exceptions.

use std::collections::BTreeMap;

use autolabs_k8s::k8s::{LimitRange, Pod, ResourceQuota};
use autolabs_resources::{Namespace, RejectionSource, admit_pod};
use serde_json::Value;

fn load_namespace(setup: &str) -> Namespace {
    let docs: Vec<Value> = serde_saphyr::from_multiple(setup).expect("setup YAML parses");
    let mut limit_ranges: Vec<LimitRange> = Vec::new();
    let mut quotas: Vec<ResourceQuota> = Vec::new();
    for doc in docs {
        match doc["kind"].as_str() {
            Some("LimitRange") => limit_ranges.push(serde_json::from_value(doc).expect("LimitRange")),
            Some("ResourceQuota") => quotas.push(serde_json::from_value(doc).expect("ResourceQuota")),
            _ => {}
        }
    }
    Namespace::from_k8s(&limit_ranges, &quotas).expect("setup objects are valid")
}

/// The stage a recorded answer came from, read off its status and wording.
fn expected_source(status: u64, message: &str) -> Option<RejectionSource> {
    match status {
        201 => None,
        422 => Some(RejectionSource::Validation),
        403 if ["exceeded quota:", "failed quota:", "status unknown for quota:"]
            .iter()
            .any(|m| message.contains(m)) =>
        {
            Some(RejectionSource::ResourceQuota)
        }
        403 => Some(RejectionSource::LimitRanger),
        400 => Some(RejectionSource::Decode),
        other => panic!("unexpected recorded status {other}"),
    }
}

/// Finds an order of `causes` that spells `body` as an aggregate (`[a, b, c]`), returning
/// that order.
fn permutation_spelling(body: &str, causes: &[String]) -> Option<Vec<String>> {
    fn search(rest: &str, left: &mut Vec<String>, order: &mut Vec<String>) -> bool {
        if left.is_empty() {
            return rest.is_empty();
        }
        for i in 0..left.len() {
            let candidate = left[i].clone();
            let Some(after) = rest.strip_prefix(candidate.as_str()) else { continue };
            let after = if left.len() == 1 { Some(after) } else { after.strip_prefix(", ") };
            let Some(after) = after else { continue };
            left.remove(i);
            order.push(candidate.clone());
            if search(after, left, order) {
                return true;
            }
            order.pop();
            left.insert(i, candidate);
        }
        false
    }
    let inner = if causes.len() > 1 { body.strip_prefix('[')?.strip_suffix(']')? } else { body };
    let mut left = causes.to_vec();
    let mut order = Vec::new();
    search(inner, &mut left, &mut order).then_some(order)
}

fn container_of(cause: &str) -> &str {
    cause.split(".resources").next().unwrap_or(cause)
}

#[derive(Default)]
struct Tally {
    cases: usize,
    allowed: usize,
    rejected: BTreeMap<String, usize>,
    exact_messages: usize,
    reordered_messages: usize,
    resources_checked: usize,
    disagreements: Vec<String>,
}

fn replay(dir: &std::path::Path, setup_file: &str, cases_file: &str, tally: &mut Tally) {
    let setup = std::fs::read_to_string(dir.join(setup_file)).expect("setup readable");
    let namespace = load_namespace(&setup);
    let cases = std::fs::read_to_string(dir.join(cases_file)).expect("cases readable");
    for (line_no, line) in cases.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).expect("case JSON");
        let pod: Pod = serde_json::from_value(case["pod"].clone()).expect("case pod");
        let name = pod.metadata.name.clone().unwrap_or_default();
        let at = format!("{cases_file}:{} ({name})", line_no + 1);
        let want_allowed = case["allowed"].as_bool().expect("allowed");
        let want_status = case["status"].as_u64().expect("status");
        let want_message = case["message"].as_str().unwrap_or_default();
        let want_source = expected_source(want_status, want_message);
        tally.cases += 1;

        let mut disagree = |what: String| tally.disagreements.push(format!("{at}: {what}"));
        match admit_pod(&namespace, &pod) {
            Ok(admitted) => {
                if !want_allowed {
                    disagree(format!("we admit, the server answered {want_status}: {want_message}"));
                    continue;
                }
                tally.allowed += 1;
                let spec = admitted.pod.spec.as_ref().expect("spec");
                let containers = spec.containers.iter().chain(spec.init_containers.iter().flatten());
                let ours: BTreeMap<String, Value> = containers
                    .map(|c| {
                        let r = c.resources.clone().unwrap_or_default();
                        let mut v = serde_json::Map::new();
                        if let Some(l) = r.limits {
                            v.insert("limits".into(), serde_json::to_value(l).expect("limits"));
                        }
                        if let Some(q) = r.requests {
                            v.insert("requests".into(), serde_json::to_value(q).expect("requests"));
                        }
                        (c.name.clone(), Value::Object(v))
                    })
                    .collect();
                let theirs: BTreeMap<String, Value> =
                    serde_json::from_value(case["resources"].clone()).expect("recorded resources");
                tally.resources_checked += theirs.len();
                if ours != theirs {
                    disagree(format!(
                        "defaulted resources differ:\n  ours:   {}\n  theirs: {}",
                        serde_json::to_string(&ours).unwrap_or_default(),
                        serde_json::to_string(&theirs).unwrap_or_default()
                    ));
                }
            }
            Err(rejection) => {
                *tally.rejected.entry(format!("{:?} {}", rejection.source, rejection.status)).or_default() +=
                    1;
                if want_allowed {
                    disagree(format!("we reject ({}), the server admitted", rejection.message));
                    continue;
                }
                if u64::from(rejection.status) != want_status {
                    disagree(format!("status {} vs recorded {want_status}", rejection.status));
                }
                if Some(rejection.source) != want_source {
                    disagree(format!("source {:?} vs recorded {want_source:?}", rejection.source));
                }
                if rejection.message == want_message {
                    tally.exact_messages += 1;
                    continue;
                }
                let prefix_len =
                    rejection.message.len() - crate_body_len(&rejection.message, &rejection.causes);
                let (our_prefix, _) = rejection.message.split_at(prefix_len);
                let reordered = want_message
                    .strip_prefix(our_prefix)
                    .and_then(|body| permutation_spelling(body, &rejection.causes))
                    .filter(|order| {
                        rejection.source != RejectionSource::Validation
                            || order
                                .iter()
                                .map(|c| container_of(c))
                                .eq(rejection.causes.iter().map(|c| container_of(c)))
                    });
                match reordered {
                    Some(_) => tally.reordered_messages += 1,
                    None => disagree(format!(
                        "message differs:\n  ours:   {}\n  theirs: {want_message}",
                        rejection.message
                    )),
                }
            }
        }
    }
}

/// Length of the aggregated-causes part at the end of our message.
fn crate_body_len(message: &str, causes: &[String]) -> usize {
    let body = if causes.len() > 1 { format!("[{}]", causes.join(", ")) } else { causes.join("") };
    assert!(message.ends_with(&body), "our message ends with its causes: {message}");
    body.len()
}

#[test]
fn admission_conformance() {
    let Some(dir) = autolabs_testenv::conformance_dir() else { return };
    let dir = dir.join("admission");
    let mut tally = Tally::default();
    let mut pairs = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("admission dir") {
        let file = entry.expect("entry").file_name().to_string_lossy().to_string();
        if let Some(suffix) = file.strip_prefix("setup").and_then(|s| s.strip_suffix(".yaml")) {
            pairs.push((file.clone(), format!("cases{suffix}.jsonl")));
        }
    }
    pairs.sort();
    assert!(!pairs.is_empty(), "no setup*.yaml in {}", dir.display());
    for (setup, cases) in &pairs {
        replay(&dir, setup, cases, &mut tally);
    }
    println!("admission conformance: {} cases from {} setups", tally.cases, pairs.len());
    println!(
        "  admitted: {} (defaulted requests/limits compared for {} containers)",
        tally.allowed, tally.resources_checked
    );
    for (kind, n) in &tally.rejected {
        println!("  rejected {kind}: {n}");
    }
    println!(
        "  messages: {} exact, {} equal up to Go map order of aggregated causes",
        tally.exact_messages, tally.reordered_messages
    );
    println!("  disagreements: {}", tally.disagreements.len());
    for d in tally.disagreements.iter().take(30) {
        println!("    {d}");
    }
    assert!(
        tally.disagreements.is_empty(),
        "{} disagreements with the recorded API server",
        tally.disagreements.len()
    );
    assert_eq!(tally.cases, 1000, "the README promises 1,000 cases");
}

/// The data itself shows dry run: more pods admitted than `pods` allows, and zero usage in
/// every quota message.
#[test]
fn recorded_quota_usage_never_accumulates() {
    let Some(dir) = autolabs_testenv::conformance_dir() else { return };
    let cases = std::fs::read_to_string(dir.join("admission/cases.jsonl")).expect("cases");
    let admitted = cases.lines().filter(|l| l.contains("\"allowed\": true")).count();
    assert!(admitted > 10, "setup.yaml allows pods: 10, the server admitted {admitted}");
    for file in ["admission/cases.jsonl", "admission/cases-no-defaults.jsonl"] {
        let text = std::fs::read_to_string(dir.join(file)).expect("cases");
        for line in text.lines().filter(|l| l.contains("exceeded quota")) {
            let message = serde_json::from_str::<Value>(line).expect("json")["message"]
                .as_str()
                .unwrap_or("")
                .to_string();
            let used =
                message.split(", used: ").nth(1).and_then(|s| s.split(", limited:").next()).unwrap_or("");
            assert!(used.split(',').all(|kv| kv.ends_with("=0")), "non-zero usage recorded: {message}");
        }
    }
}
