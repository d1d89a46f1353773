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
