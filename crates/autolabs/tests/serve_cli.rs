//! `autolabs serve` as an operator starts it: how it chooses the cluster (said in `--help`),
//! and a first log line that names the cluster and the identity the API server sees, without
//! colour codes when the log is not a terminal. Against the real API server of the test
//! environment (`autolabs-testenv`).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn help_says_how_the_cluster_is_chosen() {
    let out = Command::new(env!("CARGO_BIN_EXE_autolabs")).args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in ["--kubeconfig", "KUBECONFIG", "~/.kube/config", "in-cluster", "--context"] {
        assert!(help.contains(needle), "{needle} missing from:\n{help}");
    }
}

#[tokio::test]
async fn the_first_log_line_names_the_cluster_and_the_identity() {
    let Some(cluster) = autolabs_testenv::shared("serve names its cluster and identity").await else {
        return;
    };
    let ns = cluster.namespace("serve-cli", &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "test-token").unwrap();
    let mut serve = Command::new(env!("CARGO_BIN_EXE_autolabs"))
        .args(["serve", "--listen", "127.0.0.1:0", "--namespace", ns.name(), "--kubeconfig"])
        .arg(cluster.kubeconfig())
        .arg("--token-file")
        .arg(&token)
        .env_remove("KUBECONFIG")
        .current_dir(dir.path())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("serve starts");
    let mut first = String::new();
    BufReader::new(serve.stderr.take().unwrap()).read_line(&mut first).unwrap();
    let _ = serve.kill();
    let _ = serve.wait();
    let url = cluster.config().cluster_url.to_string();
    assert!(first.contains(&format!("cluster={url}")), "{first}");
    assert!(first.contains(&format!("kubeconfig {}", cluster.kubeconfig().display())), "{first}");
    // The shared control plane's admin kubeconfig authenticates as `admin`.
    assert!(first.contains("identity=admin"), "{first}");
    assert!(!first.contains('\u{1b}'), "colour codes in a piped log: {first:?}");
}

/// `verify --cluster` reads the cluster's Nodes, so a quota no node can satisfy is found live
/// as it is in files (`resources/quota-exceeds-nodes`). A Node object of the test's own,
/// registered with its status as a kubelet registers it, stands for a worker.
#[tokio::test]
async fn verify_cluster_weighs_quotas_against_the_clusters_nodes() {
    use k8s_openapi::api::core::v1::{Node, ResourceQuota};
    let Some(cluster) = autolabs_testenv::shared("verify --cluster reads Nodes").await else { return };
    let ns = cluster.namespace("quota-vs-nodes", &[]).await;
    let node_name = autolabs_testenv::unique_name("fake-worker");
    let node: Node = serde_json::from_value(serde_json::json!({
        "metadata": {"name": node_name, "labels": {"autolabs.io/test": "quota-vs-nodes"}},
        "status": {"capacity": {"cpu": "2", "memory": "4Gi", "pods": "110"},
                   "allocatable": {"cpu": "2", "memory": "4Gi", "pods": "110"}}
    }))
    .unwrap();
    let nodes: kube::Api<Node> = kube::Api::all(cluster.client());
    nodes.create(&kube::api::PostParams::default(), &node).await.expect("a Node object");
    let quota: ResourceQuota = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "too-big"},
        "spec": {"hard": {"requests.cpu": "500", "requests.memory": "1Gi"}}
    }))
    .unwrap();
    let quotas: kube::Api<ResourceQuota> = kube::Api::namespaced(cluster.client(), ns.name());
    quotas.create(&kube::api::PostParams::default(), &quota).await.expect("a quota");
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_autolabs"))
        .args(["verify", "--cluster", "--only", "resources", "--format", "json"])
        .env("KUBECONFIG", cluster.kubeconfig())
        .current_dir(dir.path())
        .output()
        .expect("verify runs");
    let _ = nodes.delete(&node_name, &kube::api::DeleteParams::default()).await;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let report: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{e}: {text}\n{}", String::from_utf8_lossy(&out.stderr)));
    let findings = report["findings"].as_array().cloned().unwrap_or_default();
    assert!(
        findings.iter().any(|f| f["rule"] == "quota-exceeds-nodes"
            && f["object"]["namespace"] == ns.name()
            && f["message"].as_str().is_some_and(|m| m.contains("cpu=2"))),
        "{text}"
    );
}
