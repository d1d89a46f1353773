//! Escalation findings on the oracle scenario (bootstrap policy + scenario.yaml).

mod common;

use std::collections::{BTreeMap, BTreeSet};

use autolabs_rbac::{Authorizer, Capability, Policy};
use common::{conformance_dir, scenario};

#[test]
fn scenario_findings() {
    let Some(dir) = conformance_dir() else { return };
    let authorizer = Authorizer::new(&Policy::bootstrap().with(scenario(&dir))).expect("valid");
    let findings = authorizer.escalation_findings();
    let (bootstrap, ours): (Vec<_>, Vec<_>) = findings.iter().partition(|f| f.grant.bootstrap);
    println!(
        "{} findings: {} from the bootstrap policy (hidden by default), {} from the scenario",
        findings.len(),
        bootstrap.len(),
        ours.len()
    );

    let mut by_subject: BTreeMap<String, BTreeSet<Capability>> = BTreeMap::new();
    for finding in &ours {
        let scope = finding.scope.clone().unwrap_or_else(|| "*".into());
        by_subject
            .entry(format!("{}:{} in {scope}", finding.subject.kind, finding.subject.name))
            .or_default()
            .insert(finding.capability);
    }
    for (subject, capabilities) in &by_subject {
        println!("  {subject}: {capabilities:?}");
    }
    let has = |subject: &str, capability: Capability| {
        by_subject.get(subject).is_some_and(|set| set.contains(&capability))
    };
    // alice may read exactly one Secret in team-a.
    assert!(has("User:alice in team-a", Capability::ReadSecrets));
    let alice = ours.iter().find(|f| f.subject.name == "alice").expect("alice finding");
    assert_eq!(alice.resource_names, vec!["db-creds".to_string()]);
    // bob: edit in team-a gives workloads, exec, secrets, SA impersonation and tokens; widgets-all wildcards.
    for capability in [
        Capability::CreateWorkloads,
        Capability::PodExec,
        Capability::ReadSecrets,
        Capability::Impersonate,
        Capability::ServiceAccountToken,
        Capability::WildcardVerbs,
        Capability::WildcardResources,
    ] {
        assert!(has("User:bob in team-a", capability), "bob {capability:?}");
    }
    assert!(has("User:carol in *", Capability::Impersonate));
    assert!(has("Group:platform-admins in *", Capability::WildcardVerbs));
    // The lab provisioner can create pods in labs, so it can run as labs' default ServiceAccount.
    let provisioner = ours
        .iter()
        .find(|f| f.subject.name == "lab-provisioner" && f.capability == Capability::CreateWorkloads)
        .expect("provisioner creates pods");
    assert_eq!(provisioner.scope.as_deref(), Some("labs"));
    let borrowed: Vec<&str> =
        provisioner.borrowable_service_accounts.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(borrowed, vec!["default"]);
    // Support is read-only; its only finding is the `apps/*` wildcard (read of every apps resource).
    let support: Vec<_> = by_subject.get("Group:support in *").into_iter().flatten().collect();
    assert_eq!(support, vec![&Capability::WildcardResources]);
    // devs only read (view + pods/log): no findings.
    assert!(!by_subject.keys().any(|s| s.starts_with("Group:devs")), "{by_subject:#?}");
    // Every bootstrap finding comes from a binding of the default policy.
    assert!(
        bootstrap.iter().all(|f| f.subject.name.starts_with("system:") || f.subject.kind == "ServiceAccount")
    );
}
