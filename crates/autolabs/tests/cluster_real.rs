//! The live paths of the binary on a real API server: `verify --cluster` and `dump` →
//! `verify FILE` give the same findings on the same cluster, and `verify --cluster
//! --probe-rbac` finds no disagreement between the RBAC engine and the server's
//! SubjectAccessReviews for any ServiceAccount of the baseline.
//!
//! `verify --cluster` reads the whole cluster, so objects other suites create on the shared
//! control plane at the same time would make the two reads differ: this runs on a control
//! plane of its own (port 18453, wiped at the end), with the default baseline applied by
//! `autolabs apply`.

use std::path::Path;
use std::process::{Command, Output};

use autolabs_testenv::OwnCluster;
use serde_json::Value;

const PORT: u16 = 18453;

fn autolabs(args: &[&str], kubeconfig: &Path, dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_autolabs"))
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .current_dir(dir)
        .output()
        .expect("run autolabs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The findings of `verify --format json`, each without where it was read from (`file`,
/// `line`: `cluster` for a live read, the dump's path and line for the file), sorted.
fn findings_without_location(output: &Output) -> (Vec<String>, Value) {
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("verify --format json: {e}: {}", text(&output.stdout)));
    let mut findings: Vec<String> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|finding| {
            let mut finding = finding.clone();
            let map = finding.as_object_mut().expect("a finding is an object");
            map.remove("file");
            map.remove("line");
            finding.to_string()
        })
        .collect();
    findings.sort();
    (findings, report["summary"].clone())
}

/// A workload its namespace's Pod Security level refuses, so the comparison has errors too.
const PRIVILEGED: &str = r#"{"apiVersion": "v1", "kind": "List", "items": [
  {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "scratch",
    "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}},
  {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "root-shell", "namespace": "scratch"},
   "spec": {"selector": {"matchLabels": {"app": "root-shell"}},
     "template": {"metadata": {"labels": {"app": "root-shell"}},
       "spec": {"hostNetwork": true, "containers": [{"name": "sh", "image": "local/busybox:1",
         "securityContext": {"privileged": true}}]}}}}]}"#;

#[tokio::test]
async fn live_and_dumped_verify_agree_and_the_rbac_probe_agrees_for_every_service_account() {
    let Some(own) = OwnCluster::start("cluster_real (verify --cluster, dump, --probe-rbac)", PORT).await
    else {
        return;
    };
    let kubeconfig = own.cluster().kubeconfig().to_path_buf();
    let dir = tempfile::tempdir().expect("temp dir");
    // Fail closed: before the baseline exists there is nobody to probe, and that is no "0
    // disagreements".
    let nobody =
        autolabs(&["verify", "--cluster", "--probe-rbac", "--only", "rbac"], &kubeconfig, dir.path());
    assert_eq!(nobody.status.code(), Some(2), "{}", text(&nobody.stderr));
    assert!(text(&nobody.stderr).contains("--probe-sa"), "says what to do: {}", text(&nobody.stderr));
    let bad =
        autolabs(&["verify", "--cluster", "--probe-rbac", "--probe-sa", "no-slash"], &kubeconfig, dir.path());
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad.stderr));

    let applied = autolabs(&["apply"], &kubeconfig, dir.path());
    assert!(applied.status.success(), "apply: {}{}", text(&applied.stdout), text(&applied.stderr));
    let privileged = dir.path().join("privileged.json");
    std::fs::write(&privileged, PRIVILEGED).expect("write");
    own.cluster().kubectl_ok(&["apply", "-f", privileged.to_str().expect("utf-8 path")]);

    // The same cluster read twice: a dump, the live verify, and a second dump that must be
    // identical to the first (else a controller was still writing: read again).
    let dump = dir.path().join("cluster.yaml");
    let dump_text = || {
        let dumped = autolabs(&["dump", "-o", "-"], &kubeconfig, dir.path());
        assert!(dumped.status.success(), "dump: {}", text(&dumped.stderr));
        text(&dumped.stdout)
    };
    let mut settled = None;
    for _ in 0..30 {
        let before = dump_text();
        let live = autolabs(&["verify", "--cluster", "--format", "json"], &kubeconfig, dir.path());
        if dump_text() == before {
            std::fs::write(&dump, before).expect("write the dump");
            settled = Some(live);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    let live = settled.expect("the cluster settles (two identical dumps around the live verify)");
    let file = autolabs(&["verify", "cluster.yaml", "--format", "json"], &kubeconfig, dir.path());
    let (live_findings, live_summary) = findings_without_location(&live);
    let (file_findings, file_summary) = findings_without_location(&file);
    assert!(
        live_findings.iter().any(|f| f.contains("\"severity\":\"error\"") && f.contains("root-shell")),
        "the privileged workload is an error finding: {live_findings:#?}"
    );
    assert_eq!(live_findings, file_findings, "verify --cluster and verify of the dump differ");
    assert_eq!(live_summary, file_summary);
    assert_eq!(live.status.code(), file.status.code(), "same exit code");
    assert_eq!(live.status.code(), Some(1), "an error finding fails both");

    // Every ServiceAccount the baseline renders is probed, and the server agrees each time.
    let accounts = autolabs_model::render(&autolabs_model::Platform::default())
        .manifests
        .iter()
        .filter(|m| m.kind == "ServiceAccount")
        .count();
    let probed = autolabs(
        &["verify", "--cluster", "--probe-rbac", "--only", "rbac", "--format", "json"],
        &kubeconfig,
        dir.path(),
    );
    let stderr = text(&probed.stderr);
    let summaries: Vec<&str> = stderr.lines().filter(|l| l.starts_with("RBAC probe of ")).collect();
    assert_eq!(summaries.len(), accounts, "one probe per rendered ServiceAccount: {stderr}");
    for summary in &summaries {
        assert!(summary.ends_with(" 0 disagreement(s)"), "{summary}");
    }
    assert!(
        summaries.iter().any(|s| !s.contains(" 0 allowed by both")),
        "some ServiceAccount is allowed something, so both answers are exercised: {summaries:#?}"
    );
    let (findings, _) = findings_without_location(&probed);
    assert!(!findings.iter().any(|f| f.contains("probe-disagreement")), "{findings:#?}");
}
