//! `autolabs verify` as a user runs it: a rendered directory and plain `verify` agree, and the
//! design document's YAML gets the foreign-baseline checks (issue 14).

use std::collections::BTreeSet;
use std::process::{Command, Output};

fn autolabs(args: &[&str], dir: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_autolabs")).args(args).current_dir(dir).output().expect("run autolabs")
}

/// (severity, engine, rule, object) of every warning and error.
fn problems(o: &Output) -> BTreeSet<(String, String, String, String)> {
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).expect("verify --format json");
    json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] != "info")
        .map(|f| {
            let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
            let o = &f["object"];
            (
                s(&f["severity"]),
                s(&f["engine"]),
                s(&f["rule"]),
                format!("{}/{}/{}", s(&o["namespace"]), s(&o["kind"]), s(&o["name"])),
            )
        })
        .collect()
}

#[test]
fn verify_of_the_rendered_directory_agrees_with_plain_verify() {
    for profile in ["mvp", "production"] {
        let dir = tempfile::tempdir().unwrap();
        let init = autolabs(&["init", "--profile", profile], dir.path());
        assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
        let render = autolabs(&["render", "-o", "out"], dir.path());
        assert!(render.status.success(), "{}", String::from_utf8_lossy(&render.stderr));

        let plain = autolabs(&["verify", "--format", "json"], dir.path());
        let rendered = autolabs(&["verify", "--format", "json", "out"], dir.path());
        assert_eq!(plain.status.code(), rendered.status.code(), "{profile}");
        assert_eq!(problems(&plain), problems(&rendered), "{profile}");
        let note = String::from_utf8_lossy(&rendered.stderr);
        assert!(note.contains("rendered baseline of platform") && note.contains("platform.yaml"), "{note}");
    }
}

#[test]
fn a_rendered_directory_of_another_platform_is_not_judged_by_this_platform_yaml() {
    let dir = tempfile::tempdir().unwrap();
    assert!(autolabs(&["init"], dir.path()).status.success());
    assert!(autolabs(&["render", "-o", "out"], dir.path()).status.success());
    let platform = std::fs::read_to_string(dir.path().join("platform.yaml")).unwrap();
    let renamed = platform.replacen("name: autolabs", "name: other", 1);
    assert_ne!(platform, renamed, "platform.yaml has no `name: autolabs`:\n{platform}");
    std::fs::write(dir.path().join("platform.yaml"), renamed).unwrap();
    let out = autolabs(&["verify", "--format", "json", "out"], dir.path());
    let note = String::from_utf8_lossy(&out.stderr);
    assert!(note.contains("is platform \"other\"") && note.contains("-f"), "{note}");
    // Without the intent, the admin group's cluster-admin binding is reported capability by capability.
    assert!(problems(&out).iter().any(|(_, e, r, _)| e == "rbac" && r == "impersonate"));
}

#[test]
fn verify_reports_the_design_documents_foreign_baseline_problems() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../autolabs-verify/tests/fixtures");
    for f in ["design-document.yaml", "design-document-backup.yaml"] {
        std::fs::copy(fixtures.join(f), dir.path().join(f)).unwrap();
    }
    std::fs::write(
        dir.path().join("node.yaml"),
        "apiVersion: v1\nkind: Node\nmetadata: {name: pve-1}\nstatus: {allocatable: {cpu: '8', memory: 32Gi, pods: '110'}}\n",
    )
    .unwrap();
    let out = autolabs(
        &["verify", "--format", "json", "design-document.yaml", "design-document-backup.yaml", "node.yaml"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let found: BTreeSet<String> = problems(&out).into_iter().map(|(_, e, r, _)| format!("{e}/{r}")).collect();
    for rule in [
        "pss/namespace-no-enforce",
        "pss/namespace-enforce-unpinned",
        "backup/write-path-without-volume",
        "backup/backup-runs-as-root",
        "hygiene/unset-variable",
        "resources/quota-exceeds-nodes",
    ] {
        assert!(found.contains(rule), "{rule} not in {found:?}");
    }
    // The Node is read by an engine, not skipped.
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(json["summary"]["skipped"].get("Node").is_none(), "{}", json["summary"]);
}
