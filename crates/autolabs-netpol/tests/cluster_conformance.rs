//! Conformance of the cluster-wide layer: the objects of network-policy-api's conformance
//! suite for v0.2.0 (ClusterNetworkPolicy) and v0.1.8 (AdminNetworkPolicy,
//! BaselineAdminNetworkPolicy), from `$AUTOLABS_CONFORMANCE_DIR/network-policy-api`
//! (default `../shared/conformance`), with the verdicts of upstream's Go tests
//! (`tests/data/cluster_policy_verdicts.rs`, each row naming its Go test and subtest), and
//! the probes those tests run after changing their objects, replayed with the same changes
//! (`tests/data/cluster_policy_mutations.rs`).
//!
//! The folder is not in the repository: without it the test says NOT RUN, and fails under
//! `CI=true`.

use std::path::PathBuf;

use autolabs_netpol::{
    Analysis, Cluster, ClusterPolicy, ClusterPolicyKind, Endpoint, Namespace, NetpolError, Options, Pod,
    Protocol,
};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::networking::v1::NetworkPolicy;

#[allow(dead_code)]
pub struct Row {
    release: &'static str,
    go_test: &'static str,
    short_name: &'static str,
    subtest: &'static str,
    manifest: &'static str,
    client: (&'static str, &'static str),
    server: (&'static str, &'static str),
    protocol: &'static str,
    port: u16,
    allowed: bool,
}

mod verdicts {
    use super::Row;
    include!("data/cluster_policy_verdicts.rs");
}

/// One ConformanceTest that changes its objects: its steps from the first change on.
#[allow(dead_code)]
pub struct Script {
    release: &'static str,
    go_test: &'static str,
    short_name: &'static str,
    manifest: &'static str,
    steps: &'static [Step],
}

/// What a subtest does, in order. Changes persist into the later subtests of the script, as
/// upstream's subtests share one cluster.
#[allow(dead_code)]
pub enum Step {
    /// Swap two rules (JSON pointers into the policy named `policy`).
    Swap {
        subtest: &'static str,
        policy: &'static str,
        a: &'static str,
        b: &'static str,
    },
    /// Set one field (a JSON pointer) to a JSON value: a priority, an action, a rule's ports.
    Set {
        subtest: &'static str,
        policy: &'static str,
        pointer: &'static str,
        value: &'static str,
    },
    DeleteNetworkPolicy {
        subtest: &'static str,
        namespace: &'static str,
        name: &'static str,
    },
    /// A change an offline analysis cannot make; the script's later probes are not checked.
    Unsupported {
        subtest: &'static str,
        reason: &'static str,
    },
    Probe {
        subtest: &'static str,
        client: (&'static str, &'static str),
        server: (&'static str, &'static str),
        protocol: &'static str,
        port: u16,
        allowed: bool,
    },
}

mod mutations {
    use super::{Script, Step};
    include!("data/cluster_policy_mutations.rs");
}

/// The shared folder, or `None` (NOT RUN) outside CI.
fn folder() -> Option<PathBuf> {
    let base = std::env::var_os("AUTOLABS_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance"));
    let dir = base.join("network-policy-api");
    if dir.join("PROVENANCE").is_file() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{} is missing: the network-policy-api conformance objects are required under CI",
        dir.display()
    );
    eprintln!("NOT RUN: {} is missing (set AUTOLABS_CONFORMANCE_DIR)", dir.display());
    None
}

/// The suite renders its manifests as Go templates with the host-network ports it picked
/// (`ConformanceTestSuite.HostNetworkPorts`); any free ports do, so `34340 + i`.
fn render_host_ports(text: &str) -> String {
    let mut out = text.to_string();
    for i in 0..10 {
        out = out.replace(&format!("{{{{ index .HostNetworkPorts {i} }}}}"), &(34340 + i).to_string());
    }
    assert!(!out.contains("{{"), "an unrendered template remains");
    out
}

fn documents(path: &std::path::Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = render_host_ports(&text);
    text.split("\n---")
        .filter(|doc| doc.lines().any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')))
        .map(|doc| {
            serde_saphyr::from_str::<serde_json::Value>(doc)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        })
        .collect()
}

/// Namespaces and pods of `conformance-base/manifests.yaml`: each StatefulSet stands for
/// its pods `<name>-0 .. <name>-<replicas-1>`.
fn base_cluster(release_dir: &std::path::Path) -> Cluster {
    let mut cluster = Cluster::default();
    for doc in documents(&release_dir.join("conformance-base/manifests.yaml")) {
        match doc["kind"].as_str() {
            Some("Namespace") => {
                let ns: k8s_openapi::api::core::v1::Namespace = serde_json::from_value(doc).unwrap();
                cluster.namespaces.push(Namespace::from_k8s(&ns));
            }
            Some("StatefulSet") => {
                let set: StatefulSet = serde_json::from_value(doc).unwrap();
                let ns = set.metadata.namespace.clone().unwrap();
                let name = set.metadata.name.clone().unwrap();
                let spec = set.spec.unwrap();
                for i in 0..spec.replicas.unwrap_or(1) {
                    cluster
                        .pods
                        .push(Pod::from_template(&ns, &format!("{name}-{i}"), &spec.template).unwrap());
                }
            }
            other => panic!("unexpected kind {other:?} in manifests.yaml"),
        }
    }
    cluster
}

/// Adds the objects of one manifest: cluster policies strictly decoded, NetworkPolicies.
fn add_manifest(cluster: &mut Cluster, path: &std::path::Path) {
    add_documents(cluster, &documents(path), &path.display().to_string());
}

fn add_documents(cluster: &mut Cluster, docs: &[serde_json::Value], origin: &str) {
    for doc in docs {
        if doc["kind"] == "NetworkPolicy" {
            cluster.policies.push(serde_json::from_value::<NetworkPolicy>(doc.clone()).unwrap());
        } else {
            let policy = ClusterPolicy::from_value(doc).unwrap_or_else(|e| panic!("{origin}: {e}"));
            cluster.cluster_policies.push(policy);
        }
    }
}

/// Sets the value at a JSON pointer, adding the last key when the object lacks it.
fn set_at(doc: &mut serde_json::Value, pointer: &str, value: serde_json::Value) {
    let (parent, key) = pointer.rsplit_once('/').expect("a JSON pointer");
    match doc.pointer_mut(parent) {
        Some(serde_json::Value::Object(map)) => {
            map.insert(key.to_string(), value);
        }
        Some(serde_json::Value::Array(list)) => list[key.parse::<usize>().expect("an index")] = value,
        _ => panic!("no {parent} to set {key} in"),
    }
}

const PREFIX: &str = "network-policy-conformance-";

#[test]
fn upstream_conformance_verdicts_are_reproduced() {
    let Some(dir) = folder() else { return };
    // Pod IPs come from a pod CIDR: a `networks` peer of 0.0.0.0/0 covers every pod, as the
    // inline-CIDR tests expect.
    let options = Options { pod_cidrs: vec!["10.244.0.0/16".parse().unwrap()], ..Options::default() };
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut analyses: std::collections::HashMap<(&str, &str), Analysis> = std::collections::HashMap::new();
    for row in verdicts::ROWS {
        let analysis = analyses.entry((row.release, row.manifest)).or_insert_with(|| {
            let release = dir.join(row.release);
            let mut cluster = base_cluster(&release);
            let manifest = row.manifest.strip_prefix("base/").expect("manifests live under base/");
            add_manifest(&mut cluster, &release.join("conformance-base").join(manifest));
            Analysis::new(&cluster, options.clone()).expect("conformance objects are valid")
        });
        let pod = |(ns, name): (&str, &str)| {
            analysis.pod_id(&format!("{PREFIX}{ns}"), name).unwrap_or_else(|| panic!("no pod {ns}/{name}"))
        };
        let (from, to) = (Endpoint::Pod(pod(row.client)), Endpoint::Pod(pod(row.server)));
        let protocol = Protocol::parse(&row.protocol.to_uppercase()).unwrap();
        let allowed = analysis.allows(from, to, protocol, row.port);
        let explained = analysis.explain(from, to, protocol, row.port).unwrap();
        assert_eq!(explained.allowed, allowed, "explain and allowed disagree: {explained}");
        checked += 1;
        if allowed != row.allowed {
            failures.push(format!(
                "{} {} ({} / {:?}): {}/{} -> {}/{} {}/{}: expected {}, got {}\n{explained}",
                row.release,
                row.go_test,
                row.short_name,
                row.subtest,
                row.client.0,
                row.client.1,
                row.server.0,
                row.server.1,
                row.protocol,
                row.port,
                row.allowed,
                allowed
            ));
        }
    }
    assert!(failures.is_empty(), "{} of {checked} rows differ:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(checked, verdicts::ROWS.len());
    assert!(checked >= 200, "the verdict table lost rows: {checked}");
}

/// Every object of both releases' conformance folders decodes strictly, experimental
/// channel included, with the kind its apiVersion names.
#[test]
fn every_conformance_object_decodes() {
    let Some(dir) = folder() else { return };
    let mut count = 0;
    for release in ["v0.2.0", "v0.1.8"] {
        let base = dir.join(release).join("conformance-base");
        for sub in std::fs::read_dir(&base).unwrap() {
            let sub = sub.unwrap().path();
            if !sub.is_dir() {
                continue;
            }
            for file in std::fs::read_dir(&sub).unwrap() {
                let file = file.unwrap().path();
                for doc in documents(&file) {
                    if doc["kind"] == "NetworkPolicy" {
                        continue;
                    }
                    let result = ClusterPolicy::from_value(&doc);
                    // domainNames peers resolve at run time: refused, never ignored.
                    let has_domains = doc.to_string().contains("domainNames");
                    match result {
                        Ok(p) => {
                            assert!(!has_domains, "{}: domainNames accepted", file.display());
                            let expected = if release == "v0.2.0" {
                                ClusterPolicyKind::ClusterNetworkPolicy
                            } else {
                                p.kind()
                            };
                            assert_eq!(p.kind(), expected);
                        }
                        Err(NetpolError::InvalidClusterPolicy { field, .. }) if has_domains => {
                            assert!(field.contains("domainNames"), "{}: {field}", file.display());
                        }
                        Err(e) => panic!("{}: {e}", file.display()),
                    }
                    count += 1;
                }
            }
        }
    }
    assert!(count > 30, "only {count} objects found");
}

/// The probes upstream's conformance tests run after changing their objects (two rules
/// swapped, a priority or an action changed, a port made a named port, a NetworkPolicy
/// deleted), replayed in order on the fixture objects: each change holds for the later
/// subtests of its test, as on upstream's one cluster. Rows: `tests/data/cluster_policy_mutations.rs`
/// (written by `extract_mutations.py` from upstream's Go tests, each step naming its subtest).
#[test]
fn upstream_verdicts_after_mutations_are_reproduced() {
    let Some(dir) = folder() else { return };
    let options = Options { pod_cidrs: vec!["10.244.0.0/16".parse().unwrap()], ..Options::default() };
    let (mut upstream, mut checked, mut failures) = (0, 0, Vec::new());
    let mut not_run = Vec::new();
    for script in mutations::SCRIPTS {
        let release = dir.join(script.release);
        let base = base_cluster(&release);
        let manifest = script.manifest.strip_prefix("base/").expect("manifests live under base/");
        let mut docs = documents(&release.join("conformance-base").join(manifest));
        let mut analysis: Option<Analysis> = None;
        let mut stopped = None;
        for step in script.steps {
            let policy_doc = |docs: &mut Vec<serde_json::Value>, name: &str| -> usize {
                let found: Vec<usize> = (0..docs.len())
                    .filter(|&i| docs[i]["kind"] != "NetworkPolicy" && docs[i]["metadata"]["name"] == name)
                    .collect();
                assert_eq!(found.len(), 1, "{} {}: policy {name}", script.release, script.go_test);
                found[0]
            };
            match step {
                Step::Swap { policy, a, b, .. } => {
                    let i = policy_doc(&mut docs, policy);
                    let (va, vb) = (docs[i].pointer(a).unwrap().clone(), docs[i].pointer(b).unwrap().clone());
                    set_at(&mut docs[i], a, vb);
                    set_at(&mut docs[i], b, va);
                    analysis = None;
                }
                Step::Set { policy, pointer, value, .. } => {
                    let i = policy_doc(&mut docs, policy);
                    set_at(&mut docs[i], pointer, serde_json::from_str(value).unwrap());
                    analysis = None;
                }
                Step::DeleteNetworkPolicy { namespace, name, .. } => {
                    let before = docs.len();
                    docs.retain(|d| {
                        !(d["kind"] == "NetworkPolicy"
                            && d["metadata"]["namespace"] == *namespace
                            && d["metadata"]["name"] == *name)
                    });
                    assert_eq!(docs.len(), before - 1, "{namespace}/{name} is in the manifest");
                    analysis = None;
                }
                Step::Unsupported { subtest, reason } => {
                    stopped = Some(format!("{} {} ({subtest:?}): {reason}", script.release, script.go_test));
                }
                Step::Probe { subtest, client, server, protocol, port, allowed } => {
                    upstream += 1;
                    if stopped.is_some() {
                        continue;
                    }
                    let a = analysis.get_or_insert_with(|| {
                        let mut cluster = base.clone();
                        add_documents(&mut cluster, &docs, script.manifest);
                        Analysis::new(&cluster, options.clone()).expect("changed objects are valid")
                    });
                    let pod = |(ns, name): (&str, &str)| {
                        a.pod_id(&format!("{PREFIX}{ns}"), name)
                            .unwrap_or_else(|| panic!("no pod {ns}/{name}"))
                    };
                    let (from, to) = (Endpoint::Pod(pod(*client)), Endpoint::Pod(pod(*server)));
                    let protocol_value = Protocol::parse(&protocol.to_uppercase()).unwrap();
                    let got = a.allows(from, to, protocol_value, *port);
                    let explained = a.explain(from, to, protocol_value, *port).unwrap();
                    assert_eq!(explained.allowed, got, "explain and allowed disagree: {explained}");
                    checked += 1;
                    if got != *allowed {
                        failures.push(format!(
                            "{} {} ({} / {subtest:?}): {}/{} -> {}/{} {protocol}/{port}: expected {allowed}, got {got}\n{explained}",
                            script.release, script.go_test, script.short_name, client.0, client.1, server.0, server.1
                        ));
                    }
                }
            }
        }
        not_run.extend(stopped);
    }
    eprintln!(
        "{checked} of {upstream} upstream probes after mutations checked; not checked (the rest of the test):\n  {}",
        not_run.join("\n  ")
    );
    assert!(failures.is_empty(), "{} of {checked} probes differ:\n{}", failures.len(), failures.join("\n"));
    // Both releases: 170 probes each after a change; 12 in each of the four inline-CIDR tests
    // follow the rule that names pod IPs.
    assert_eq!((checked, upstream), (292, 340), "the mutation table changed");
}
