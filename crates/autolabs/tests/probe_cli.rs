//! `autolabs probe` as a user runs it: exit codes, JSON, Ctrl-C (the JUnit and table
//! renderings are unit-tested in `autolabs_kube::wire`). The runs need the
//! REAL API server with a worker node (`../shared/kube/node up`); without one they print
//! NOT RUN and pass (under `CI=true` with `AUTOLABS_E2E_NODE=1` they fail). Input errors are
//! checked without any cluster.

use std::process::{Command, Stdio};
use std::time::Duration;

use autolabs_testenv::Cluster;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::Api;
use kube::api::ListParams;

fn autolabs() -> Command {
    Command::new(env!("CARGO_BIN_EXE_autolabs"))
}

/// `autolabs probe` on `cluster`'s local busybox, in sandbox namespaces `<prefix>-…`.
fn probe(cluster: &Cluster, prefix: &str, extra: &[&str]) -> Command {
    let mut command = autolabs();
    command
        .args([
            "probe",
            "--image",
            "local/busybox:1",
            "--image-pull-policy",
            "Never",
            "--namespace-prefix",
            prefix,
        ])
        .args(["--kubeconfig", &cluster.kubeconfig().display().to_string()])
        .args(extra)
        .env_remove("KUBECONFIG");
    command
}

/// The namespaces `prefix` made that are not being deleted.
async fn live_namespaces(cluster: &Cluster, prefix: &str) -> Vec<String> {
    let namespaces: Api<Namespace> = Api::all(cluster.client());
    let listed = namespaces.list(&ListParams::default()).await.expect("list namespaces").items;
    listed
        .into_iter()
        .filter(|n| n.metadata.deletion_timestamp.is_none())
        .filter_map(|n| n.metadata.name)
        .filter(|name| name.starts_with(&format!("{prefix}-")))
        .collect()
}

#[test]
fn input_errors_exit_2_without_touching_a_cluster() {
    let missing = autolabs().args(["probe", "-f", "/nonexistent/platform.yaml"]).output().expect("runs");
    assert_eq!(missing.status.code(), Some(2), "{}", String::from_utf8_lossy(&missing.stderr));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/platform.yaml"));
    let dir = tempfile::tempdir().expect("tempdir");
    let intent = dir.path().join("intent.yaml");
    std::fs::write(&intent, "kind: IsolationIntent\nflows: 3\n").expect("write");
    let bad = autolabs().args(["probe", "--intent"]).arg(&intent).output().expect("runs");
    assert_eq!(bad.status.code(), Some(2), "{}", String::from_utf8_lossy(&bad.stderr));
    let nowhere = autolabs().args(["probe", "--namespaces", "labs,nowhere"]).output().expect("runs");
    assert_eq!(nowhere.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&nowhere.stderr).contains("--namespaces nowhere"));
    let protocol = autolabs().args(["probe", "--protocols", "tcp,icmp"]).output().expect("runs");
    assert_eq!(protocol.status.code(), Some(2), "{}", String::from_utf8_lossy(&protocol.stderr));
    // --print-rbac prints what `spec.probe.enabled` renders: namespaced Roles only.
    let platform = dir.path().join("platform.yaml");
    std::fs::write(
        &platform,
        "apiVersion: autolabs.io/v1alpha1\nkind: Platform\nspec:\n  probe: {enabled: true}\n",
    )
    .expect("write");
    let rbac = autolabs().args(["probe", "--print-rbac", "-f"]).arg(&platform).output().expect("runs");
    assert_eq!(rbac.status.code(), Some(0), "{}", String::from_utf8_lossy(&rbac.stderr));
    let printed = String::from_utf8_lossy(&rbac.stdout).into_owned();
    assert!(printed.contains("kind: Role\n") && printed.contains("pods/log"), "{printed}");
    assert!(!printed.contains("ClusterRole"), "{printed}");
    let render_dir = dir.path().join("rendered");
    let rendered =
        autolabs().args(["render", "-f"]).arg(&platform).arg("-o").arg(&render_dir).output().expect("runs");
    assert_eq!(rendered.status.code(), Some(0), "{}", String::from_utf8_lossy(&rendered.stderr));
    let mut from_render = 0;
    for entry in walk(&render_dir) {
        let text = std::fs::read_to_string(&entry).expect("read");
        if text.contains("name: autolabs-probe\n") {
            from_render += 1;
            assert!(printed.contains(&text), "--print-rbac prints the rendered {}", entry.display());
        }
    }
    assert_eq!(printed.matches("---\n").count(), from_render, "{printed}");
    let sandbox =
        autolabs().args(["probe", "--print-rbac", "--namespace-prefix", "x"]).output().expect("runs");
    assert!(String::from_utf8_lossy(&sandbox.stdout).contains("kind: ClusterRole\n"));
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() { out.extend(walk(&path)) } else { out.push(path) }
    }
    out
}

#[tokio::test]
async fn json_on_the_local_node_says_the_cni_does_not_enforce_and_exits_1() {
    let Some(cluster) = autolabs_testenv::shared_with_node("probe_cli json").await else { return };
    let prefix = autolabs_testenv::unique_name("pj");
    // Part of the matrix (the whole one is probe_node_e2e's): what the CLI adds is the
    // exit code, the JSON, SCTP where asked, and the cleanup.
    let output = probe(
        &cluster,
        &prefix,
        &["--format", "json", "--namespaces", "labs,platform", "--protocols", "tcp,udp,sctp"],
    )
    .output()
    .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    assert_eq!(report["passed"], false);
    let blocked: Vec<&serde_json::Value> = report["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["verdict"] == "denied_but_predicted_allowed")
        .collect();
    assert!(blocked.is_empty(), "allowed probes blocked: {blocked:#?}");
    assert!(report["allowedButPredictedDenied"].as_u64().is_some_and(|n| n > 0), "{report:#}");
    let conclusion = report["conclusions"][0].as_str().unwrap_or_default();
    assert!(conclusion.starts_with("this cluster's CNI does not enforce NetworkPolicy"), "{conclusion}");
    let results = report["results"].as_array().expect("results");
    assert!(
        results.iter().all(|r| {
            let namespaces = [&r["from"], &r["to"]].map(|v| v.as_str().unwrap_or_default().split('/').next());
            namespaces.iter().all(|ns| matches!(ns, Some("labs" | "platform")))
        }),
        "only labs and platform were probed"
    );
    let sctp = results.iter().filter(|r| r["protocol"] == "SCTP").count();
    assert!(
        sctp > 0 && results.iter().filter(|r| r["protocol"] == "SCTP").all(|r| r["verdict"] == "not_probed")
    );
    assert_eq!(report["notProbed"].as_u64(), Some(sctp as u64));
    let said = report["conclusions"].as_array().into_iter().flatten().filter_map(|c| c.as_str());
    assert!(
        said.clone().any(|c| c
            .starts_with(&format!("{sctp} SCTP probe(s) not probed: the probe image has no SCTP client"))),
        "{:?}",
        said.collect::<Vec<_>>()
    );
    eprintln!(
        "autolabs probe --format json: {} probes in {} s",
        report["results"].as_array().map_or(0, Vec::len),
        report["wallSeconds"]
    );
    assert!(live_namespaces(&cluster, &prefix).await.is_empty(), "cleaned up");
}

#[tokio::test]
async fn ctrl_c_mid_run_deletes_the_probe_pods_and_namespaces_and_exits_2() {
    let Some(cluster) = autolabs_testenv::shared_with_node("probe_cli ctrl-c").await else { return };
    let prefix = autolabs_testenv::unique_name("pc");
    let child = probe(&cluster, &prefix, &["--namespaces", "labs"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // Interrupt once the first probe pods exist.
    let pods: Api<Pod> = Api::all(cluster.client());
    let selector = "autolabs.io/probe-run";
    let started = {
        let mut seen = false;
        for _ in 0..600 {
            let listed = pods.list(&ListParams::default().labels(selector)).await.expect("list pods").items;
            if listed
                .iter()
                .any(|p| p.metadata.namespace.as_deref().is_some_and(|ns| ns.starts_with(&prefix)))
            {
                seen = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        seen
    };
    assert!(started, "the probe made its pods");
    let interrupted =
        Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill runs");
    assert!(interrupted.success());
    let output =
        tokio::task::spawn_blocking(move || child.wait_with_output()).await.expect("join").expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(live_namespaces(&cluster, &prefix).await.is_empty(), "every sandbox namespace is being deleted");
}
