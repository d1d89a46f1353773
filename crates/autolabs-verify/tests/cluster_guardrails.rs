//! `spec.network.clusterPolicies`: the rendered guardrails (ClusterNetworkPolicy, or
//! AdminNetworkPolicy + BaselineAdminNetworkPolicy) keep the matrix proof clean, make
//! isolation robust against NetworkPolicies namespace owners add, and without them the
//! robust-isolation obligation is not claimed.

use autolabs_model::Platform;
use autolabs_model::platform::ClusterPolicies;
use autolabs_verify::intent::{Intent, prove};
use autolabs_verify::{Finding, ObjectSet, Severity};

mod support;
use support::rendered;

fn with(version: ClusterPolicies) -> Platform {
    let mut p = Platform::default();
    p.spec.network.cluster_policies = version;
    p
}

fn errors(f: &[Finding]) -> Vec<String> {
    f.iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| format!("[{}/{}] {}", f.engine, f.rule, f.message))
        .collect()
}

#[test]
fn the_matrix_is_proven_with_and_without_guardrails_and_robust_with_them() {
    for version in [ClusterPolicies::None, ClusterPolicies::V1alpha1, ClusterPolicies::V1alpha2] {
        let p = with(version);
        let set = rendered(&p);
        let kinds: Vec<&str> = set
            .objects
            .iter()
            .filter(|o| o.group() == "policy.networking.k8s.io")
            .map(|o| o.kind.as_str())
            .collect();
        match version {
            ClusterPolicies::None => assert!(kinds.is_empty()),
            ClusterPolicies::V1alpha1 => {
                assert!(
                    kinds.contains(&"AdminNetworkPolicy") && kinds.contains(&"BaselineAdminNetworkPolicy")
                )
            }
            ClusterPolicies::V1alpha2 => {
                assert!(kinds.iter().all(|k| *k == "ClusterNetworkPolicy") && !kinds.is_empty())
            }
        }
        let proof = prove(&set, &Intent::of_platform(&p));
        let e = errors(&proof.findings);
        assert!(e.is_empty(), "{version:?}:\n{}", e.join("\n"));
    }
}

/// A student who adds "allow everything" in the labs namespace opens flows the matrix
/// forbids — unless the guardrails are on.
#[test]
fn an_allow_all_networkpolicy_in_labs_is_contained_by_the_guardrails() {
    let allow_all = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: student-opens-all, namespace: labs}\n\
spec: {podSelector: {}, policyTypes: [Ingress, Egress], ingress: [{}], egress: [{}]}\n";
    for version in [ClusterPolicies::None, ClusterPolicies::V1alpha2, ClusterPolicies::V1alpha1] {
        let p = with(version);
        let mut set = rendered(&p);
        set.add_text(allow_all, "student.yaml");
        let e = errors(&prove(&set, &Intent::of_platform(&p)).findings);
        let to_internet = e.iter().any(|m| m.contains("labs/") && m.contains("may connect to the internet"));
        if version == ClusterPolicies::None {
            assert!(
                to_internet,
                "without guardrails the student's policy opens the internet:\n{}",
                e.join("\n")
            );
        } else {
            assert!(!to_internet, "{version:?}: the guardrail should deny it:\n{}", e.join("\n"));
        }
    }
}

/// Robust isolation is reported: a guardrail that forgets a forbidden edge leaves it openable.
#[test]
fn a_missing_guardrail_rule_is_reported_as_not_robust() {
    let p = with(ClusterPolicies::V1alpha2);
    let full = rendered(&p);
    let mut set = ObjectSet::default();
    for o in &full.objects {
        if o.kind == "ClusterNetworkPolicy" && o.name == "autolabs-deny-labs" {
            continue;
        }
        set.add_text(&serde_json::to_string(&o.value).unwrap(), &o.file);
    }
    let findings = prove(&set, &Intent::of_platform(&p)).findings;
    let not_robust: Vec<&Finding> = findings.iter().filter(|f| f.rule == "not-robust").collect();
    assert!(!not_robust.is_empty(), "removing the labs guardrail must leave something openable");
    assert!(not_robust.iter().any(|f| f.message.contains("labs/")), "{:?}", not_robust[0].message);
}
