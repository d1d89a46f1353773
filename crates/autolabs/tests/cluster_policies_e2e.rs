//! `spec.network.clusterPolicies` on the real API server: without the network-policy-api
//! CRDs `apply` skips the kinds with its usual warning; with upstream's CRDs (standard
//! channel, from `$AUTOLABS_CONFORMANCE_DIR/network-policy-api`) the rendered
//! ClusterNetworkPolicies, AdminNetworkPolicies and the BaselineAdminNetworkPolicy are
//! accepted — the CRDs' schemas and CEL rules validate them.
//!
//! Installing CRDs is cluster-wide, so this runs on a control plane of its own (port 18463,
//! wiped at the end).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use autolabs_model::platform::ClusterPolicies;
use autolabs_testenv::OwnCluster;

const PORT: u16 = 18463;

fn autolabs(args: &[&str], kubeconfig: &Path, dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_autolabs"))
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .current_dir(dir)
        .output()
        .expect("run autolabs")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn crd_folder() -> Option<PathBuf> {
    let base = std::env::var_os("AUTOLABS_CONFORMANCE_DIR").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/conformance"))
    });
    let dir = base.join("network-policy-api");
    if dir.join("PROVENANCE").is_file() {
        return Some(dir);
    }
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{} is missing (CI=true)", dir.display());
    eprintln!("NOT RUN: {} is missing (set AUTOLABS_CONFORMANCE_DIR)", dir.display());
    None
}

fn platform_with(dir: &Path, kubeconfig: &Path, version: &str) {
    let init = autolabs(&["init", "-o", "platform.yaml"], kubeconfig, dir);
    assert!(init.status.success(), "init: {}", text(&init));
    let path = dir.join("platform.yaml");
    let yaml = std::fs::read_to_string(&path).expect("platform.yaml");
    assert!(yaml.contains("\n  network:\n"), "init writes a network section");
    let yaml = yaml.replace("\n  network:\n", &format!("\n  network:\n    clusterPolicies: {version}\n"));
    std::fs::write(&path, yaml).expect("write platform.yaml");
}

#[tokio::test]
async fn rendered_cluster_policies_are_skipped_without_crds_and_accepted_with_them() {
    let Some(crds) = crd_folder() else { return };
    let Some(own) = OwnCluster::start("cluster_policies_e2e", PORT).await else { return };
    let kubeconfig = own.cluster().kubeconfig().to_path_buf();
    let dir = tempfile::tempdir().expect("temp dir");
    platform_with(dir.path(), &kubeconfig, "v1alpha2");

    // No CRDs: the kinds are skipped with a warning, everything else applies.
    let applied = autolabs(&["apply"], &kubeconfig, dir.path());
    let out = text(&applied);
    assert!(applied.status.success(), "apply without CRDs: {out}");
    assert!(out.contains("ClusterNetworkPolicy") && out.contains("CRD absent"), "warns: {out}");

    // Upstream's CRDs, standard channel, both releases.
    for file in [
        "v0.2.0/crd/standard-clusternetworkpolicies.yaml",
        "v0.1.8/crd/standard-adminnetworkpolicies.yaml",
        "v0.1.8/crd/standard-baselineadminnetworkpolicies.yaml",
    ] {
        own.cluster().kubectl_ok(&["apply", "--server-side", "-f", crds.join(file).to_str().expect("utf-8")]);
    }
    own.cluster().kubectl_ok(&[
        "wait",
        "--for=condition=Established",
        "--timeout=30s",
        "crd/clusternetworkpolicies.policy.networking.k8s.io",
        "crd/adminnetworkpolicies.policy.networking.k8s.io",
        "crd/baselineadminnetworkpolicies.policy.networking.k8s.io",
    ]);

    // Every rendered object of both versions is accepted (and stored) by the server.
    for version in [ClusterPolicies::V1alpha2, ClusterPolicies::V1alpha1] {
        let mut platform = autolabs_model::Platform::default();
        platform.spec.network.cluster_policies = version;
        let rendered = autolabs_model::render(&platform);
        let ours: Vec<_> = rendered
            .manifests
            .iter()
            .filter(|m| m.api_version.starts_with("policy.networking.k8s.io/"))
            .collect();
        assert!(ours.len() > 2, "{version:?} renders guardrails");
        let file = dir.path().join(format!("{version:?}.yaml"));
        let yaml: Vec<String> = ours.iter().map(|m| autolabs_model::output::to_yaml(m)).collect();
        std::fs::write(&file, yaml.join("\n---\n")).expect("write");
        own.cluster().kubectl_ok(&["apply", "--validate=strict", "-f", file.to_str().expect("utf-8")]);
        for m in &ours {
            let resource = format!("{}.policy.networking.k8s.io/{}", m.kind.to_ascii_lowercase(), m.name);
            own.cluster().kubectl_ok(&["get", &resource, "-o", "name"]);
        }
    }

    // The server and our decoder refuse the same mistake (priority out of range).
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: bad}\n\
         spec: {tier: Admin, priority: 1001, subject: {namespaces: {}}}\n",
    )
    .expect("write");
    let refused = own
        .cluster()
        .kubectl()
        .args(["apply", "-f", bad.to_str().expect("utf-8")])
        .output()
        .expect("kubectl");
    assert!(!refused.status.success(), "the API server refuses priority 1001");
    let value: serde_json::Value = serde_saphyr::from_str(&std::fs::read_to_string(&bad).unwrap()).unwrap();
    assert!(autolabs_netpol::ClusterPolicy::from_value(&value).is_err(), "and so does the engine");
}
