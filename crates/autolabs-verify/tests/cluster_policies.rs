//! connlist, diff and explain over inputs holding cluster-wide policies
//! (ClusterNetworkPolicy / AdminNetworkPolicy): their effects show, an unreadable one is a
//! located error, never skipped.

use autolabs_netpol::{Endpoint, Options, Protocol};
use autolabs_verify::connlist;
use autolabs_verify::diff::{self, Change};
use autolabs_verify::engines::netpol::analyse;

mod support;
use support::{list_of, set_of};

const BASE: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: lab-a, labels: {role: lab}}
---
apiVersion: v1
kind: Namespace
metadata: {name: infra, labels: {role: infra}}
---
apiVersion: v1
kind: Pod
metadata: {name: student, namespace: lab-a, labels: {app: student}}
spec: {containers: [{name: c, image: busybox}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: infra, labels: {app: db}}
spec: {containers: [{name: c, image: postgres, ports: [{containerPort: 5432, name: pg}]}]}
"#;

const GUARDRAIL: &str = r#"
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: labs-guardrail}
spec:
  tier: Admin
  priority: 10
  subject: {namespaces: {matchLabels: {role: lab}}}
  egress:
  - {name: no-infra, action: Deny, to: [{namespaces: {matchLabels: {role: infra}}}]}
"#;

#[test]
fn connlist_and_diff_show_the_guardrail() {
    let open = list_of(&set_of(BASE));
    let guarded = list_of(&set_of(&format!("{BASE}{GUARDRAIL}")));
    let open_txt = connlist::to_txt(&open);
    let guarded_txt = connlist::to_txt(&guarded);
    assert!(open_txt.contains("lab-a/student[Pod] => infra/db[Pod] : All Connections"), "{open_txt}");
    assert!(!guarded_txt.contains("lab-a/student[Pod] => infra/db[Pod]"), "{guarded_txt}");
    // The other direction is untouched: the guardrail has no ingress rules.
    assert!(guarded_txt.contains("infra/db[Pod] => lab-a/student[Pod] : All Connections"), "{guarded_txt}");
    let d = diff::diff(&open, &guarded);
    assert_eq!(d.count(Change::Removed), 1, "{}", diff::to_table(&d));
}

#[test]
fn explain_names_the_cluster_rule() {
    let set = set_of(&format!("{BASE}{GUARDRAIL}"));
    let (analysis, _) = analyse(&set, Options::default());
    let a = analysis.expect("valid");
    let from = Endpoint::Pod(a.pod_id("lab-a", "student").unwrap());
    let to = Endpoint::Pod(a.pod_id("infra", "db").unwrap());
    let e = a.explain(from, to, Protocol::Tcp, 5432).unwrap();
    assert!(!e.allowed);
    let json = connlist::explanation_json(&e);
    assert_eq!(json["egress"]["verdict"], "cluster-denied", "{json:#}");
    assert_eq!(json["egress"]["rules"][0]["name"], "labs-guardrail");
    assert_eq!(json["egress"]["rules"][0]["tier"], "Admin");
    assert_eq!(json["egress"]["rules"][0]["field"], "spec.egress[0]");
}

#[test]
fn an_unreadable_cluster_policy_is_a_located_error() {
    let text = format!("{BASE}{}", GUARDRAIL.replace("name: no-infra,", "name: no-infra, bogus: 1,"));
    let set = set_of(&text);
    let (analysis, built) = analyse(&set, Options::default());
    let problem =
        built.problems.iter().find(|f| f.message.contains("bogus")).expect("an error names the field");
    assert!(problem.message.contains("spec.egress[0].bogus"), "{}", problem.message);
    assert!(problem.object.is_some(), "located at the object");
    // Fail closed: the analysis without the unreadable guardrail is not offered as clean.
    assert!(
        analysis.is_none() || built.problems.iter().any(|f| f.severity == autolabs_verify::Severity::Error)
    );
}
