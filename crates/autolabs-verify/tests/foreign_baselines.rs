//! Checks for baselines we did not render (issue 14): Pod Security labels of namespaces that
//! run workloads, backup jobs that cannot produce a backup, variables nothing sets, quotas no
//! node can satisfy, and the RBAC that well-known components need.

use autolabs_verify::engines;
use autolabs_verify::{Finding, ObjectSet, Severity};

fn set_of(yaml: &str) -> ObjectSet {
    let mut set = ObjectSet::default();
    set.add_text(yaml, "input.yaml");
    assert!(set.errors.is_empty(), "{:?}", set.errors);
    set
}

fn design_document() -> ObjectSet {
    set_of(include_str!("fixtures/design-document.yaml"))
}

fn dump(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|f| {
            format!("[{}/{} {}] {} {:?}", f.engine, f.rule, f.severity.as_str(), f.message, f.location())
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The findings of `rule`, as (severity, message).
fn of_rule<'a>(findings: &'a [Finding], rule: &str) -> Vec<&'a Finding> {
    findings.iter().filter(|f| f.rule == rule).collect()
}

// ---------------------------------------------------------------------------------------
// 1. Pod Security labels
// ---------------------------------------------------------------------------------------

#[test]
fn the_design_documents_namespaces_are_flagged_for_their_pod_security_labels() {
    let findings = engines::pss::namespace_label_findings(&design_document());
    let all = dump(&findings);
    // platform runs backend-platform and has no labels at all.
    let no_enforce = of_rule(&findings, "namespace-no-enforce");
    assert_eq!(no_enforce.len(), 1, "{all}");
    assert_eq!(no_enforce[0].severity, Severity::Warning);
    assert!(
        no_enforce[0].message.contains("\"platform\"")
            && no_enforce[0].message.contains("Deployment/backend-platform"),
        "{all}"
    );
    assert!(no_enforce[0].message.contains("privileged"), "{all}");
    assert_eq!(no_enforce[0].location().as_deref(), Some("input.yaml:17"), "{all}");
    // labs enforces restricted with no version.
    let unpinned = of_rule(&findings, "namespace-enforce-unpinned");
    assert_eq!(unpinned.len(), 1, "{all}");
    assert!(
        unpinned[0].message.contains("\"labs\"") && unpinned[0].message.contains("Pod/student-lab-1"),
        "{all}"
    );
    // infrastructure runs nothing: not reported.
    assert!(!all.contains("\"infrastructure\""), "{all}");
    // labs has warn and audit.
    assert!(of_rule(&findings, "namespace-no-warn-audit").is_empty(), "{all}");
}

#[test]
fn pod_security_label_rules_each_fire_only_on_their_condition() {
    let workload = |ns: &str| {
        format!(
            "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: app, namespace: {ns}}}\nspec:\n  selector: {{matchLabels: {{a: b}}}}\n  template:\n    metadata: {{labels: {{a: b}}}}\n    spec: {{containers: [{{name: c, image: i}}]}}\n"
        )
    };
    let ns = |name: &str, labels: &str| {
        format!("---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: {name}, labels: {{{labels}}}}}\n")
    };
    let full = "pod-security.kubernetes.io/enforce: baseline, pod-security.kubernetes.io/enforce-version: v1.32, pod-security.kubernetes.io/warn: restricted, pod-security.kubernetes.io/audit: restricted";
    let cases: [(&str, String, &[(&str, Severity)]); 6] = [
        ("fully labelled", ns("a", full) + &workload("a"), &[]),
        ("no workloads", ns("a", ""), &[]),
        ("no labels", ns("a", "") + &workload("a"), &[("namespace-no-enforce", Severity::Warning)]),
        (
            "unpinned, no warn",
            ns(
                "a",
                "pod-security.kubernetes.io/enforce: restricted, pod-security.kubernetes.io/audit: restricted",
            ) + &workload("a"),
            &[("namespace-enforce-unpinned", Severity::Warning), ("namespace-no-warn-audit", Severity::Info)],
        ),
        (
            "privileged on purpose needs no version",
            ns(
                "a",
                "pod-security.kubernetes.io/enforce: privileged, pod-security.kubernetes.io/warn: baseline, pod-security.kubernetes.io/audit: baseline",
            ) + &workload("a"),
            &[],
        ),
        (
            "kube-system unlabelled",
            ns("kube-system", "") + &workload("kube-system"),
            &[("namespace-enforce-unstated", Severity::Info)],
        ),
    ];
    for (name, yaml, expected) in cases {
        let findings = engines::pss::namespace_label_findings(&set_of(&yaml));
        let got: Vec<(&str, Severity)> = findings.iter().map(|f| (f.rule.as_str(), f.severity)).collect();
        assert_eq!(got, expected, "{name}:\n{}", dump(&findings));
    }
}

#[test]
fn a_namespace_the_inputs_do_not_define_is_noted_once() {
    let yaml = "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: elsewhere}\nspec: {containers: [{name: c, image: i}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: elsewhere}\nspec: {containers: [{name: c, image: i}]}\n";
    let findings = engines::pss::check(&set_of(yaml), Default::default());
    let notes = of_rule(&findings, "namespace-not-supplied");
    assert_eq!(notes.len(), 1, "{}", dump(&findings));
    assert_eq!(notes[0].severity, Severity::Info);
    assert!(
        notes[0].message.contains("\"elsewhere\"") && notes[0].message.contains("unknown"),
        "{}",
        dump(&findings)
    );
}
