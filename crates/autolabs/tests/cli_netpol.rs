//! `autolabs connlist` and `autolabs diff` as a user runs them: the built binary on files in a
//! temporary directory, checking stdout, stderr and exit codes.

use std::path::Path;
use std::process::{Command, Output};

const APP: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: app}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: app}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: c, image: api, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny-ingress, namespace: app}
spec: {podSelector: {}, policyTypes: [Ingress]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api-from-web, namespace: app}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}]
    ports: [{port: http}]
"#;

const APP_LINES: &str = "\
app/api[Deployment] => 0.0.0.0-255.255.255.255[External] : All Connections
app/web[Deployment] => 0.0.0.0-255.255.255.255[External] : All Connections
app/web[Deployment] => app/api[Deployment] : TCP 8080
";

/// APP with api also admitting web on 9090, and web admitting 203.0.113.0/24 on 443.
fn app_changed() -> String {
    APP.replace("    ports: [{port: http}]", "    ports: [{port: http}, {port: 9090}]")
        + "---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-from-partner, namespace: app}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{ipBlock: {cidr: 203.0.113.0/24}}]
    ports: [{port: 443}]
"
}

fn autolabs(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_autolabs"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run autolabs: {e}"))
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    std::fs::write(dir.path().join("old.yaml"), APP).unwrap_or_else(|e| panic!("write: {e}"));
    std::fs::write(dir.path().join("new.yaml"), app_changed()).unwrap_or_else(|e| panic!("write: {e}"));
    dir
}

#[test]
fn connlist_prints_np_guard_lines() {
    let dir = workdir();
    let out = autolabs(dir.path(), &["connlist", "old.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), APP_LINES);
}

#[test]
fn connlist_formats() {
    let dir = workdir();
    let json = autolabs(dir.path(), &["connlist", "old.yaml", "--format", "json"]);
    assert_eq!(json.status.code(), Some(0));
    let v: serde_json::Value =
        serde_json::from_str(&stdout(&json)).unwrap_or_else(|e| panic!("json output parses: {e}"));
    assert_eq!(v[2]["src"], "app/web[Deployment]");
    assert_eq!(v[2]["conn"], "TCP 8080");
    let csv = stdout(&autolabs(dir.path(), &["connlist", "old.yaml", "--format", "csv"]));
    assert!(csv.starts_with("src,dst,conn\n"), "{csv}");
    let md = stdout(&autolabs(dir.path(), &["connlist", "old.yaml", "--format", "md"]));
    assert!(md.contains("| app/web[Deployment] | app/api[Deployment] | TCP 8080 |"), "{md}");
    let dot = stdout(&autolabs(dir.path(), &["connlist", "old.yaml", "--format", "dot"]));
    assert!(dot.contains("subgraph \"cluster_app\""), "{dot}");
    assert!(dot.contains("shape=ellipse"), "{dot}");
    let bad = autolabs(dir.path(), &["connlist", "old.yaml", "--format", "yaml"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn connlist_without_paths_lists_the_rendered_baseline() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let out = autolabs(dir.path(), &["connlist"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let controller = "ingress-nginx/probe:app.kubernetes.io/component=controller,app.kubernetes.io/name=ingress-nginx[Probe]";
    assert!(
        text.lines()
            .any(|l| l == format!("{controller} => platform/backend-platform[Deployment] : TCP 8000")),
        "{text}"
    );
    assert!(text.lines().any(|l| l.ends_with(&format!("[External] => {controller} : TCP 80,443"))), "{text}");
}

#[test]
fn connlist_reports_bad_input_with_exit_2() {
    let dir = workdir();
    let missing = autolabs(dir.path(), &["connlist", "nope.yaml"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("nope.yaml"), "{}", stderr(&missing));
    std::fs::write(dir.path().join("bad.yaml"), APP.replace("ports: [{port: http}]", "ports: [{port: 0}]"))
        .unwrap_or_else(|e| panic!("write: {e}"));
    let invalid = autolabs(dir.path(), &["connlist", "bad.yaml"]);
    assert_eq!(invalid.status.code(), Some(2));
    assert!(stderr(&invalid).contains("bad.yaml:"), "located: {}", stderr(&invalid));
}

#[test]
fn connlist_with_an_intent_file_adds_probes_and_locates_its_errors() {
    let dir = workdir();
    let intent = "apiVersion: autolabs.io/v1alpha1
kind: IsolationIntent
spec:
  namespaces: [app]
  flows:
  - name: gateway-to-web
    from: {namespace: gateway, pods: {app: gw}}
    to: {namespace: app, pods: {app: web}}
    ports: [80]
";
    std::fs::write(dir.path().join("intent.yaml"), intent).unwrap_or_else(|e| panic!("write: {e}"));
    let out = autolabs(dir.path(), &["connlist", "old.yaml", "--intent", "intent.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // The gateway probe is not isolated, web's ingress is: nothing from it to web.
    assert!(stdout(&out).contains("app/web[Deployment] => gateway/probe:app=gw[Probe] : All Connections"));

    std::fs::write(dir.path().join("intent.yaml"), intent.replace("ports: [80]", "ports: [TCP/99999]"))
        .unwrap_or_else(|e| panic!("write: {e}"));
    let bad = autolabs(dir.path(), &["connlist", "old.yaml", "--intent", "intent.yaml"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("intent.yaml:9:"), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("spec.flows[0].ports[0]"), "{}", stderr(&bad));
}

#[test]
fn diff_is_a_gate() {
    let dir = workdir();
    let changed = autolabs(dir.path(), &["diff", "old.yaml", "new.yaml"]);
    assert_eq!(changed.status.code(), Some(1), "{}", stderr(&changed));
    let table = stdout(&changed);
    assert!(
        table.lines().any(|l| l.starts_with("added")
            && l.contains("203.0.113.0-203.0.113.255[External]  app/web[Deployment]")
            && l.ends_with("No Connections  TCP 443")),
        "{table}"
    );
    assert!(
        table.lines().any(|l| l.starts_with("changed")
            && l.contains("app/web[Deployment]")
            && l.ends_with("TCP 8080        TCP 8080,9090")),
        "{table}"
    );
    assert!(table.ends_with("1 added, 0 removed, 1 changed\n"), "{table}");

    let removed = autolabs(dir.path(), &["diff", "new.yaml", "old.yaml", "--format", "json"]);
    assert_eq!(removed.status.code(), Some(1));
    let v: serde_json::Value =
        serde_json::from_str(&stdout(&removed)).unwrap_or_else(|e| panic!("json: {e}"));
    assert_eq!(
        (v["added"].as_u64(), v["removed"].as_u64(), v["changed"].as_u64()),
        (Some(0), Some(1), Some(1))
    );

    let md = autolabs(dir.path(), &["diff", "old.yaml", "new.yaml", "--format", "md"]);
    assert!(stdout(&md).starts_with("| diff-type | source | destination | old | new |"));

    let same = autolabs(dir.path(), &["diff", "old.yaml", "old.yaml"]);
    assert_eq!(same.status.code(), Some(0));
    assert_eq!(stdout(&same), "0 added, 0 removed, 0 changed\n");

    let missing = autolabs(dir.path(), &["diff", "old.yaml", "nope"]);
    assert_eq!(missing.status.code(), Some(2));
}

/// A hostNetwork DaemonSet and a Deployment under a deny-all policy; two static (Node-owned)
/// pods; two pods of one absent ReplicaSet that a policy tells apart live in `split.yaml`.
const FOREIGN: &str = r#"apiVersion: apps/v1
kind: DaemonSet
metadata: {name: node-exporter, namespace: mon}
spec:
  selector: {matchLabels: {app: node-exporter}}
  template:
    metadata: {labels: {app: node-exporter}}
    spec: {hostNetwork: true, containers: [{name: c, image: ne}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: prometheus, namespace: mon}
spec:
  selector: {matchLabels: {app: prometheus}}
  template:
    metadata: {labels: {app: prometheus}}
    spec: {containers: [{name: c, image: p, ports: [{name: web, containerPort: 9090}]}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: mon}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: prometheus, namespace: mon}
spec:
  podSelector: {matchLabels: {app: prometheus}}
  ingress:
  - ports:
    - port: web
    - port: grpc
---
apiVersion: v1
kind: Pod
metadata:
  name: etcd-node1
  namespace: kube-system
  labels: {component: etcd}
  ownerReferences: [{apiVersion: v1, kind: Node, name: node1, uid: n1, controller: true}]
spec: {containers: [{name: c, image: e}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: kube-apiserver-node1
  namespace: kube-system
  labels: {component: kube-apiserver}
  ownerReferences: [{apiVersion: v1, kind: Node, name: node1, uid: n1, controller: true}]
spec: {containers: [{name: c, image: k}]}
"#;

/// Two pods of one absent ReplicaSet that a policy tells apart (shared with verify's tests).
const SPLIT: &str = include_str!("../../autolabs-verify/tests/fixtures/foreign/split-workload.yaml");

fn foreign_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    for (name, text) in [("foreign.yaml", FOREIGN), ("split.yaml", SPLIT)] {
        std::fs::write(dir.path().join(name), text).unwrap_or_else(|e| panic!("write: {e}"));
    }
    dir
}

#[test]
fn connlist_host_network_treatment_is_a_flag_and_is_said() {
    // (flag, expected lines, note part)
    // Prometheus admits its named port `web` (9090) from everyone, its egress is denied;
    // the static pods' namespace has no policy. Exempt, node-exporter is open both ways;
    // as a pod, deny-all isolates it.
    let rows: &[(&[&str], &str, &str)] = &[
        (
            &[],
            "0.0.0.0-255.255.255.255[External] => kube-system/etcd-node1[Pod] : All Connections
0.0.0.0-255.255.255.255[External] => kube-system/kube-apiserver-node1[Pod] : All Connections
0.0.0.0-255.255.255.255[External] => mon/node-exporter[DaemonSet] : All Connections
0.0.0.0-255.255.255.255[External] => mon/prometheus[Deployment] : TCP 9090
kube-system/etcd-node1[Pod] => 0.0.0.0-255.255.255.255[External] : All Connections
kube-system/etcd-node1[Pod] => kube-system/kube-apiserver-node1[Pod] : All Connections
kube-system/etcd-node1[Pod] => mon/node-exporter[DaemonSet] : All Connections
kube-system/etcd-node1[Pod] => mon/prometheus[Deployment] : TCP 9090
kube-system/kube-apiserver-node1[Pod] => 0.0.0.0-255.255.255.255[External] : All Connections
kube-system/kube-apiserver-node1[Pod] => kube-system/etcd-node1[Pod] : All Connections
kube-system/kube-apiserver-node1[Pod] => mon/node-exporter[DaemonSet] : All Connections
kube-system/kube-apiserver-node1[Pod] => mon/prometheus[Deployment] : TCP 9090
mon/node-exporter[DaemonSet] => 0.0.0.0-255.255.255.255[External] : All Connections
mon/node-exporter[DaemonSet] => kube-system/etcd-node1[Pod] : All Connections
mon/node-exporter[DaemonSet] => kube-system/kube-apiserver-node1[Pod] : All Connections
mon/node-exporter[DaemonSet] => mon/prometheus[Deployment] : TCP 9090
",
            "note: foreign.yaml:1: mon/node-exporter[DaemonSet] uses hostNetwork: treated as exempt",
        ),
        (
            &["--host-network", "as-pod"],
            "0.0.0.0-255.255.255.255[External] => kube-system/etcd-node1[Pod] : All Connections
0.0.0.0-255.255.255.255[External] => kube-system/kube-apiserver-node1[Pod] : All Connections
0.0.0.0-255.255.255.255[External] => mon/prometheus[Deployment] : TCP 9090
kube-system/etcd-node1[Pod] => 0.0.0.0-255.255.255.255[External] : All Connections
kube-system/etcd-node1[Pod] => kube-system/kube-apiserver-node1[Pod] : All Connections
kube-system/etcd-node1[Pod] => mon/prometheus[Deployment] : TCP 9090
kube-system/kube-apiserver-node1[Pod] => 0.0.0.0-255.255.255.255[External] : All Connections
kube-system/kube-apiserver-node1[Pod] => kube-system/etcd-node1[Pod] : All Connections
kube-system/kube-apiserver-node1[Pod] => mon/prometheus[Deployment] : TCP 9090
",
            "note: foreign.yaml:1: mon/node-exporter[DaemonSet] uses hostNetwork: analysed as an ordinary pod",
        ),
    ];
    let dir = foreign_dir();
    for (flags, lines, note) in rows {
        let mut args = vec!["connlist", "foreign.yaml"];
        args.extend_from_slice(flags);
        let out = autolabs(dir.path(), &args);
        assert_eq!(out.status.code(), Some(0), "{flags:?}: {}", stderr(&out));
        assert_eq!(stdout(&out), *lines, "{flags:?}");
        let err = stderr(&out);
        assert!(err.contains(note), "{flags:?}: {err}");
        // The named port no selected pod defines is a warning naming the rule entry.
        assert!(
            err.contains("warning: foreign.yaml:32: NetworkPolicy mon/prometheus spec.ingress[0].ports[1]: named port \"grpc\""),
            "{err}"
        );
    }
    let bad = autolabs(dir.path(), &["connlist", "foreign.yaml", "--host-network", "ignore"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn pods_of_one_owner_that_policies_tell_apart_refuse_the_listing() {
    let dir = foreign_dir();
    let out = autolabs(dir.path(), &["connlist", "split.yaml"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert_eq!(stdout(&out), "");
    let err = stderr(&out);
    assert!(
        err.contains("error: split.yaml:10: pods shop/web-1-a and shop/web-1-b of workload shop/web-1[ReplicaSet] are told apart by NetworkPolicy shop/isolate-canary spec.podSelector"),
        "{err}"
    );
    // diff refuses too; explain answers per pod and only notes it.
    let diff = autolabs(dir.path(), &["diff", "split.yaml", "foreign.yaml"]);
    assert_eq!(diff.status.code(), Some(2));
    let explain =
        autolabs(dir.path(), &["explain", "shop/web-1-a", "shop/web-1-b", "split.yaml", "--port", "80"]);
    assert_eq!(explain.status.code(), Some(1), "{}", stderr(&explain));
    assert!(stdout(&explain).contains("DENIED"), "{}", stdout(&explain));
    assert!(stderr(&explain).contains("note: split.yaml:10: pods shop/web-1-a"), "{}", stderr(&explain));
}

#[test]
fn explain_diff_and_verify_take_the_host_network_flag() {
    let dir = foreign_dir();
    let explain = |flags: &[&str]| {
        let mut args =
            vec!["explain", "mon/DaemonSet/node-exporter", "mon/Deployment/prometheus", "foreign.yaml"];
        args.extend_from_slice(&["--port", "9090"]);
        args.extend_from_slice(flags);
        autolabs(dir.path(), &args)
    };
    // Exempt: node-exporter's egress is outside policy, but prometheus' ingress admits only
    // its named ports from anyone — a hostNetwork source is matched by the peerless rule.
    let exempt = explain(&[]);
    assert_eq!(exempt.status.code(), Some(0), "{}{}", stdout(&exempt), stderr(&exempt));
    assert!(stdout(&exempt).contains("hostNetwork pod, outside NetworkPolicy"), "{}", stdout(&exempt));
    let as_pod = explain(&["--host-network", "as-pod"]);
    assert_eq!(as_pod.status.code(), Some(1), "{}", stdout(&as_pod));
    assert!(stdout(&as_pod).contains("denied: isolated by mon/deny-all"), "{}", stdout(&as_pod));

    // The same input on both sides of diff, with either treatment: no change.
    for flags in [&[][..], &["--host-network", "as-pod"][..]] {
        let mut args = vec!["diff", "foreign.yaml", "foreign.yaml"];
        args.extend_from_slice(flags);
        let out = autolabs(dir.path(), &args);
        assert_eq!(out.status.code(), Some(0), "{flags:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("uses hostNetwork"), "{}", stderr(&out));
    }

    let verify = |flags: &[&str]| {
        let mut args = vec!["verify", "foreign.yaml", "--only", "netpol", "--format", "json"];
        args.extend_from_slice(flags);
        let out = autolabs(dir.path(), &args);
        serde_json::from_str::<serde_json::Value>(&stdout(&out))
            .unwrap_or_else(|e| panic!("verify json: {e}: {}", stdout(&out)))
    };
    for (flags, said) in
        [(&[][..], "treated as exempt"), (&["--host-network", "as-pod"][..], "analysed as an ordinary pod")]
    {
        let report = verify(flags);
        let findings = report["findings"].as_array().cloned().unwrap_or_default();
        let host =
            findings.iter().find(|f| f["rule"] == "host-network").unwrap_or_else(|| panic!("{report:#}"));
        assert_eq!(host["severity"], "info");
        assert!(host["message"].as_str().unwrap_or_default().contains(said), "{host}");
        assert!(
            findings.iter().any(|f| f["rule"] == "named-port" && f["severity"] == "warning"),
            "{report:#}"
        );
    }
}
