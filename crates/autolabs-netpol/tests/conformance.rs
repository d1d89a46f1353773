//! Conformance: Kubernetes' own NetworkPolicy e2e truth tables
//! (`test/e2e/network/netpol/network_policy.go`), transcribed in
//! `tests/data/upstream_e2e.yaml`, must be reproduced exactly for every pod pair.
//!
//! The shared `conformance/` folder (env `AUTOLABS_CONFORMANCE_DIR`) holds no NetworkPolicy
//! data yet; if a `netpol/upstream_e2e.yaml` appears there it is run too.

use std::collections::BTreeMap;
use std::path::PathBuf;

use autolabs_netpol::{Analysis, Cluster, Endpoint, Namespace, Options, Pod, Protocol};
use serde::Deserialize;

#[derive(Deserialize)]
struct Case {
    name: String,
    pods: Vec<String>,
    #[serde(default)]
    namespace_labels: BTreeMap<String, BTreeMap<String, String>>,
    policies: String,
    probes: Vec<Probe>,
    /// Set on cases we knowingly do not reproduce, with the reason.
    #[serde(default)]
    intended_difference: Option<String>,
}

#[derive(Deserialize)]
struct Probe {
    port: u16,
    protocol: String,
    expect: Vec<Expectation>,
}

#[derive(Deserialize)]
struct Expectation {
    from: PeerMatch,
    to: PeerMatch,
    allowed: bool,
}

#[derive(Deserialize, Default)]
struct PeerMatch {
    ns: Option<String>,
    pod: Option<String>,
}

impl PeerMatch {
    fn matches(&self, ns: &str, pod: &str) -> bool {
        self.ns.as_deref().is_none_or(|n| n == ns) && self.pod.as_deref().is_none_or(|p| p == pod)
    }
}

/// The e2e pod model: label `pod=<name>`, ports 80 and 81 on each protocol, named
/// `serve-<port>-<protocol>` (`netpol/model.go`).
fn e2e_pod(ns: &str, name: &str) -> Pod {
    let mut pod = Pod::new(ns, name).label("pod", name);
    for port in [80u16, 81] {
        for protocol in Protocol::ALL {
            pod =
                pod.named_port(format!("serve-{port}-{}", protocol.as_str().to_lowercase()), protocol, port);
        }
    }
    pod
}

fn run_cases(text: &str, source: &str) -> (usize, usize, Vec<String>) {
    let cases: Vec<Case> = serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("{source}: {e}"));
    let (mut checked, mut case_count, mut differences) = (0, 0, Vec::new());
    for case in &cases {
        case_count += 1;
        let namespaces = ["x", "y", "z"]
            .iter()
            .map(|n| Namespace::new(*n, case.namespace_labels.get(*n).cloned().unwrap_or_default()))
            .collect();
        let pods: Vec<Pod> = case
            .pods
            .iter()
            .map(|p| {
                let (ns, name) = p.split_once('/').expect("pod is ns/name");
                e2e_pod(ns, name)
            })
            .collect();
        let policies = case
            .policies
            .split("\n---")
            .filter(|d| !d.trim().is_empty())
            .map(|d| serde_saphyr::from_str(d).unwrap_or_else(|e| panic!("{}: {e}", case.name)))
            .collect();
        let cluster = Cluster { namespaces, pods: pods.clone(), policies, ..Default::default() };
        let analysis = Analysis::new(&cluster, Options::default())
            .unwrap_or_else(|e| panic!("{}: invalid policies: {e:?}", case.name));
        let mut mismatches = Vec::new();
        for probe in &case.probes {
            let protocol = Protocol::parse(&probe.protocol).expect("protocol");
            for from in &pods {
                for to in &pods {
                    if from.namespace == to.namespace && from.name == to.name {
                        continue; // upstream ignores loopback (ignoreLoopback)
                    }
                    let mut expected = true;
                    for e in &probe.expect {
                        if e.from.matches(&from.namespace, &from.name)
                            && e.to.matches(&to.namespace, &to.name)
                        {
                            expected = e.allowed;
                        }
                    }
                    let id = |p: &Pod| Endpoint::Pod(analysis.pod_id(&p.namespace, &p.name).expect("pod"));
                    let got = analysis.allows(id(from), id(to), protocol, probe.port);
                    checked += 1;
                    if got != expected {
                        mismatches.push(format!(
                            "{}/{} -> {}/{} {}/{}: expected {expected}, got {got}",
                            from.namespace, from.name, to.namespace, to.name, probe.protocol, probe.port
                        ));
                    }
                }
            }
        }
        match (&case.intended_difference, mismatches.is_empty()) {
            (None, true) => {}
            (None, false) => panic!("{source}: case {:?} disagrees:\n{}", case.name, mismatches.join("\n")),
            (Some(why), false) => differences.push(format!("{} ({why})", case.name)),
            (Some(_), true) => panic!("{source}: case {:?} is listed as a difference but agrees", case.name),
        }
    }
    (case_count, checked, differences)
}

#[test]
fn upstream_e2e_truth_tables() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/upstream_e2e.yaml");
    let text = std::fs::read_to_string(path).expect("bundled upstream cases");
    let (cases, checked, differences) = run_cases(&text, path);
    println!(
        "upstream e2e: {cases} cases, {checked} pod-pair probes agree; intended differences: {differences:?}"
    );
    assert!(cases >= 40, "expected the transcribed cases, found {cases}");
    // The intended differences: ipBlocks that upstream builds from live pod IPs.
    assert_eq!(differences.len(), 2, "{differences:?}");
}

#[test]
fn shared_conformance_folder() {
    let dir = std::env::var("AUTOLABS_CONFORMANCE_DIR").map(PathBuf::from).unwrap_or_else(|_| {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/conformance"))
    });
    if !dir.is_dir() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "conformance data missing at {}",
            dir.display()
        );
        println!("note: conformance data not found at {}; skipping", dir.display());
        return;
    }
    let file = dir.join("netpol/upstream_e2e.yaml");
    if !file.is_file() {
        println!(
            "note: {} holds no NetworkPolicy data (netpol/upstream_e2e.yaml); bundled cases cover it",
            dir.display()
        );
        return;
    }
    let text = std::fs::read_to_string(&file).expect("readable");
    let (cases, checked, differences) = run_cases(&text, &file.display().to_string());
    println!("shared netpol conformance: {cases} cases, {checked} probes; differences: {differences:?}");
}
