//! Conformance of the cluster-wide layer: the objects of network-policy-api's conformance
//! suite for v0.2.0 (ClusterNetworkPolicy) and v0.1.8 (AdminNetworkPolicy,
//! BaselineAdminNetworkPolicy), from `$AUTOLABS_CONFORMANCE_DIR/network-policy-api`
//! (default `../shared/conformance`), with the verdicts of upstream's Go tests
//! (`tests/data/cluster_policy_verdicts.rs`, each row naming its Go test and subtest).
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
    for doc in documents(path) {
        if doc["kind"] == "NetworkPolicy" {
            cluster.policies.push(serde_json::from_value::<NetworkPolicy>(doc).unwrap());
        } else {
            let policy =
                ClusterPolicy::from_value(&doc).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            cluster.cluster_policies.push(policy);
        }
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
