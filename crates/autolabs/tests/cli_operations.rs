//! `autolabs plan`, `autolabs backup check|restore-plan` and `autolabs upgrade plan` as a user
//! runs them: the built binary, run from an empty temporary directory (so no platform.yaml is
//! picked up), checking stdout and exit codes.

use std::process::{Command, Output};

fn autolabs(args: &[&str], dir: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_autolabs")).args(args).current_dir(dir).output().expect("run autolabs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn plan_refuses_50_students_on_one_node_and_says_what_works() {
    let dir = tempfile::tempdir().unwrap();
    let out =
        autolabs(&["plan", "--students", "50", "--lab-cpu", "500m", "--lab-memory", "512Mi"], dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("DOES NOT FIT (10 labs fit"), "{text}");
    assert!(text.contains("3 × control-plane (4 CPU / 8Gi) + 5 × worker (8 CPU / 16Gi)"), "{text}");

    let out = autolabs(&["plan", "--students", "50", "--format", "json"], dir.path());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["fits"], false);
    assert_eq!(json["labsThatFit"], 10);
    assert_eq!(json["nodes"]["recommended"][1]["count"], 5);
    assert!(json["reasons"].as_array().is_some_and(|r| r.len() >= 5));

    let out = autolabs(&["plan", "--students", "10"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    let out = autolabs(&["plan", "--students", "10", "--lab-cpu", "lots"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--lab-cpu \"lots\""));
}

/// Reported: `error: error: plan: students: …` doubled its prefix; `--students 100000000`
/// printed an empty `recommended:` line; library internals leaked into YAML errors.
#[test]
fn plan_and_yaml_errors_speak_the_users_terms() {
    let dir = tempfile::tempdir().unwrap();
    let out = autolabs(&["plan", "--students", "0"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(stderr.starts_with("error: --students: must be at least 1\n"), "{stderr}");
    assert!(!stderr.contains("error: error"), "{stderr}");

    let out = autolabs(&["plan", "--students", "100000000"], dir.path());
    let text = stdout(&out);
    assert!(text.contains("recommended:      none: 100000000 students need more than"), "{text}");

    std::fs::write(dir.path().join("dup.yaml"), "apiVersion: v1\nkind: Namespace\nkind: Pod\n").unwrap();
    let out = autolabs(&["verify", "dup.yaml"], dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("duplicate key \"kind\" in one mapping"), "{text}");
    assert!(!text.contains("DuplicateKeyPolicy"), "{text}");

    std::fs::write(
        dir.path().join("platform.yaml"),
        "apiVersion: autolabs.io/v1alpha1\nkind: Platform\nkind: Platform\n",
    )
    .unwrap();
    let out = autolabs(&["plan"], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(stderr.contains("platform.yaml:3:1: not valid YAML: duplicate key \"kind\""), "{stderr}");
}

/// Reported: `0 2 31 2 *` was rendered, a warning in `verify` and an error in `backup check`.
/// One rule (robfig's parser, which the CronJob controller uses: it parses, and never runs)
/// and one severity everywhere.
#[test]
fn a_schedule_that_never_runs_is_an_error_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let out = autolabs(&["render", "-o", "out"], dir.path());
    assert_eq!(out.status.code(), Some(0));
    let cronjob = dir.path().join("out/infrastructure/cronjob-postgres-backup.yaml");
    let text = std::fs::read_to_string(&cronjob).unwrap();
    let schedule = text.lines().find(|l| l.trim_start().starts_with("schedule:")).expect("a schedule line");
    std::fs::write(&cronjob, text.replace(schedule, "  schedule: 0 2 31 2 *")).unwrap();
    for command in [&["verify", "out"][..], &["backup", "check", "out"][..]] {
        let out = autolabs(command, dir.path());
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(1), "{command:?}: {text}");
        // The finding stands under the ERROR heading: the last heading before it.
        let mut section = "";
        let mut found = None;
        for line in text.lines() {
            if line.starts_with("ERROR") || line.starts_with("WARNING") || line.starts_with("INFO") {
                section = line;
            }
            if line.contains("never-runs") {
                found = Some(section);
            }
        }
        let section = found.unwrap_or_else(|| panic!("{command:?}: no never-runs finding: {text}"));
        assert!(section.starts_with("ERROR"), "{command:?}: under {section:?}: {text}");
    }
    std::fs::write(
        dir.path().join("platform.yaml"),
        "apiVersion: autolabs.io/v1alpha1\nkind: Platform\nspec:\n  backup:\n    schedule: \"0 2 31 2 *\"\n",
    )
    .unwrap();
    let out = autolabs(&["render", "-o", "refused"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        stderr.contains("platform.yaml:5:15: spec.backup.schedule: \"0 2 31 2 *\" never runs"),
        "{stderr}"
    );
    assert!(!dir.path().join("refused").exists());
}

#[test]
fn backup_check_passes_the_baseline_and_flags_a_path_without_volume() {
    let dir = tempfile::tempdir().unwrap();
    let out = autolabs(&["backup", "check"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("0 error(s)"));

    let manifest = r#"apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: data}
spec:
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: postgres}]}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: db-backup, namespace: data}
spec:
  schedule: '0 2 * * *'
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: dump
            image: postgres
            command: [sh, -c, 'pg_dump -h db.data.svc -f /backups/db.sql']
"#;
    std::fs::write(dir.path().join("m.yaml"), manifest).unwrap();
    let out = autolabs(&["backup", "check", "m.yaml", "--format", "json"], dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rules: Vec<&str> =
        json["findings"].as_array().unwrap().iter().filter_map(|f| f["rule"].as_str()).collect();
    for rule in ["write-path-without-volume", "no-restore", "backup-without-storage", "rpo", "no-retention"] {
        assert!(rules.contains(&rule), "{rule} missing from {rules:?}");
    }
}

#[test]
fn restore_plan_and_upgrade_plan_print_ordered_steps() {
    let dir = tempfile::tempdir().unwrap();
    let out = autolabs(&["backup", "restore-plan"], dir.path());
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.starts_with("1. Stop writers"), "{text}");
    assert!(text.find("Restore etcd first") < text.find("infrastructure/StatefulSet/postgres"), "{text}");

    std::fs::write(
        dir.path().join("prod.yaml"),
        "apiVersion: autolabs.io/v1alpha1\nkind: Platform\nspec:\n  profile: production\n",
    )
    .unwrap();
    let out = autolabs(&["upgrade", "plan", "-f", "prod.yaml", "--target-version", "1.31"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.contains("kubeadm upgrade apply v1.31.x") && text.contains("kubectl uncordon worker-4"),
        "{text}"
    );
    assert!(text.contains("infrastructure/postgres (minAvailable 1 ≥ 1 replica)"), "{text}");

    std::fs::write(
        dir.path().join("old.yaml"),
        "apiVersion: batch/v1beta1\nkind: CronJob\nmetadata: {name: c, namespace: x}\nspec:\n  schedule: '0 * * * *'\n  jobTemplate: {spec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: i}]}}}}\n",
    )
    .unwrap();
    let out = autolabs(&["upgrade", "plan", "old.yaml", "--target-version", "1.25"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("batch/v1beta1 CronJob is no longer served as of 1.25"));
    let out = autolabs(&["upgrade", "plan", "--target-version", "one-thirty"], dir.path());
    assert_eq!(out.status.code(), Some(2));
}

/// Reported: ServiceAccounts were printed `ServiceAccount "autolabs-provisioner/platform"`
/// (upstream's reason order, name first); people read `namespace/name`.
#[test]
fn service_accounts_are_printed_namespace_first() {
    let dir = tempfile::tempdir().unwrap();
    let sa = "system:serviceaccount:platform:autolabs-provisioner";
    let out = autolabs(&["can-i", "create", "pods", "-n", "labs", "--as", sa, "-v"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("→ ServiceAccount \"platform/autolabs-provisioner\" →"),
        "{}",
        stdout(&out)
    );
    let out = autolabs(&["who-can", "create", "pods", "-n", "labs"], dir.path());
    let text = stdout(&out);
    assert!(text.lines().any(|l| l == "ServiceAccount \"platform/autolabs-provisioner\""), "{text}");
    assert!(!text.contains("\"autolabs-provisioner/platform\""), "{text}");
}

/// `render` refuses a config whose nodes cannot hold its students and sends the user to
/// `autolabs plan`; `plan` must then read that config and do the arithmetic, not refuse it too.
#[test]
fn plan_reads_a_config_that_render_refuses_for_capacity() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("platform.yaml"),
        "apiVersion: autolabs.io/v1alpha1\nkind: Platform\nspec:\n  labs:\n    students: 50\n",
    )
    .unwrap();
    let render = autolabs(&["render", "-o", "out"], dir.path());
    assert_eq!(render.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&render.stderr).contains("run `autolabs plan`"));
    let plan = autolabs(&["plan"], dir.path());
    assert_eq!(plan.status.code(), Some(1), "{}", String::from_utf8_lossy(&plan.stderr));
    assert!(stdout(&plan).contains("DOES NOT FIT (10 labs fit"), "{}", stdout(&plan));
}

#[test]
fn a_reader_that_closes_stdout_early_ends_the_command_quietly() {
    // `autolabs verify | head -1`: the write fails with EPIPE (Rust ignores SIGPIPE); the
    // command exits 0 without a panic message, as other Unix tools do.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_autolabs"))
        .args(["verify", "--format", "json"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run autolabs");
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("wait for autolabs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("error:"), "{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}

/// `autolabs versions` prints every pin as platform.yaml resolves it, as a table and as JSON.
#[test]
fn versions_prints_every_pin_as_table_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = autolabs(&["versions"], dir.path());
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.contains("Kubernetes:            1.30 (supported 1.28 … 1.37)"), "{text}");
    assert!(text.contains("Pod Security labels:   v1.30"), "{text}");
    assert!(
        text.contains("spec.provisioner.image") && text.contains("ghcr.io/autolabs/autolabs:0.1.0"),
        "{text}"
    );

    let sha = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    std::fs::write(
        dir.path().join("pinned.yaml"),
        format!(
            "apiVersion: autolabs.io/v1alpha1\nkind: Platform\nspec:\n  kubernetesVersion: \"1.32\"\n  provisioner:\n    image: registry.example/autolabs:0.2.0@{sha}\n"
        ),
    )
    .unwrap();
    let out = autolabs(&["versions", "-f", "pinned.yaml", "--format", "json"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["kubernetes"], "1.32");
    assert_eq!(json["podSecurityVersion"], "v1.32");
    assert_eq!(json["kubeadmVersion"], "v1.32.0");
    let provisioner = &json["images"][0];
    assert_eq!(provisioner["field"], "spec.provisioner.image");
    assert_eq!(provisioner["overridden"], true);
    assert_eq!(provisioner["digest"], sha);
    assert_eq!(json["images"][1]["digest"], serde_json::Value::Null);
    // The add-on charts come from the one table `render`'s addons/ is written from.
    let charts = json["charts"].as_array().expect("charts");
    assert!(
        charts.iter().any(|c| c["name"] == "tigera-operator" && c["component"].is_string()),
        "{charts:?}"
    );

    let out = autolabs(&["versions", "-f", "missing.yaml"], dir.path());
    assert_eq!(out.status.code(), Some(2));
}

/// `upgrade plan` on the rendered baseline says what moves among the pins, and refuses
/// targets it cannot serve (older, or newer than supported) with exit 1.
#[test]
fn upgrade_plan_checks_the_pins() {
    let dir = tempfile::tempdir().unwrap();
    let out = autolabs(&["upgrade", "plan", "--target-version", "1.31"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("Pinned versions (autolabs versions):"), "{text}");
    assert!(text.contains("pod-security.kubernetes.io/*-version: every platform namespace's Pod Security labels move from v1.30 to v1.31"), "{text}");
    assert!(text.contains("WARNING  spec.images.postgres: postgres:16.4 (PostgreSQL"), "{text}");

    let out = autolabs(&["upgrade", "plan", "--target-version", "1.33"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("skips 2 minor version(s)"), "{}", stdout(&out));
    for target in ["1.29", "1.38"] {
        let out = autolabs(&["upgrade", "plan", "--target-version", target], dir.path());
        assert_eq!(out.status.code(), Some(1), "{target}: {}", stdout(&out));
        assert!(stdout(&out).contains("ERROR    kubernetesVersion: "), "{}", stdout(&out));
    }
}
