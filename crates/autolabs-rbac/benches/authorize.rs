//! Throughput of the RBAC authorizer on a large synthetic cluster
//! (`cargo bench -p autolabs-rbac`). Prints figures; asserts nothing about speed.

use std::hint::black_box;
use std::time::{Duration, Instant};

use autolabs_rbac::k8s::k8s_openapi::api::rbac::v1::RoleRef;
use autolabs_rbac::k8s::{
    ClusterRole, ClusterRoleBinding, ObjectMeta, PolicyRule, Role, RoleBinding, ServiceAccount, Subject,
};
use autolabs_rbac::{Attributes, Authorizer, Policy, UserInfo};

const NAMESPACES: usize = 1_000;
const CLUSTER_USERS: usize = 500;
const AGGREGATED_PARTS: usize = 200;

fn meta(namespace: &str, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: (!namespace.is_empty()).then(|| namespace.into()),
        ..ObjectMeta::default()
    }
}

fn rule(verbs: &[&str], group: &str, resources: &[&str]) -> PolicyRule {
    PolicyRule {
        verbs: verbs.iter().map(|v| v.to_string()).collect(),
        api_groups: Some(vec![group.into()]),
        resources: Some(resources.iter().map(|r| r.to_string()).collect()),
        ..PolicyRule::default()
    }
}

fn subject(kind: &str, name: &str, namespace: Option<&str>) -> Subject {
    Subject {
        kind: kind.into(),
        name: name.into(),
        namespace: namespace.map(Into::into),
        api_group: (kind != "ServiceAccount").then(|| "rbac.authorization.k8s.io".into()),
    }
}

fn role_ref(kind: &str, name: &str) -> RoleRef {
    RoleRef { api_group: "rbac.authorization.k8s.io".into(), kind: kind.into(), name: name.into() }
}

fn synthetic_policy() -> Policy {
    let mut policy = Policy::bootstrap();
    for i in 0..NAMESPACES {
        let ns = format!("tenant-{i}");
        policy.roles.push(Role {
            metadata: meta(&ns, "app"),
            rules: Some(vec![
                rule(&["get", "list", "watch"], "", &["pods", "pods/log", "services"]),
                rule(&["create", "delete"], "apps", &["deployments"]),
                rule(&["get"], "", &["configmaps"]),
            ]),
        });
        let bind = |name: &str, kind: &str, role: &str, subjects: Vec<Subject>| RoleBinding {
            metadata: meta(&ns, name),
            role_ref: role_ref(kind, role),
            subjects: Some(subjects),
        };
        policy.role_bindings.push(bind(
            "team",
            "Role",
            "app",
            vec![subject("Group", &format!("team-{i}"), None)],
        ));
        policy.role_bindings.push(bind("ci", "Role", "app", vec![subject("ServiceAccount", "ci", None)]));
        policy.role_bindings.push(bind(
            "owner",
            "ClusterRole",
            "edit",
            vec![subject("User", &format!("owner-{i}"), None)],
        ));
        for account in ["default", "ci"] {
            policy
                .service_accounts
                .push(ServiceAccount { metadata: meta(&ns, account), ..ServiceAccount::default() });
        }
    }
    for j in 0..AGGREGATED_PARTS {
        let mut role = ClusterRole {
            metadata: meta("", &format!("part-{j}")),
            rules: Some(vec![rule(&["get", "list"], &format!("group-{j}.example.com"), &["things"])]),
            aggregation_rule: None,
        };
        role.metadata.labels =
            Some([("example.com/aggregate-to-big".to_string(), "true".to_string())].into());
        policy.cluster_roles.push(role);
    }
    let mut big = ClusterRole { metadata: meta("", "big"), rules: None, aggregation_rule: None };
    big.aggregation_rule = Some(autolabs_rbac::k8s::k8s_openapi::api::rbac::v1::AggregationRule {
        cluster_role_selectors: Some(vec![autolabs_rbac::k8s::LabelSelector {
            match_labels: Some([("example.com/aggregate-to-big".to_string(), "true".to_string())].into()),
            match_expressions: None,
        }]),
    });
    policy.cluster_roles.push(big);
    for u in 0..CLUSTER_USERS {
        let role = if u % 2 == 0 { "view" } else { "big" };
        policy.cluster_role_bindings.push(ClusterRoleBinding {
            metadata: meta("", &format!("reader-{u}")),
            role_ref: role_ref("ClusterRole", role),
            subjects: Some(vec![subject("User", &format!("reader-{u}"), None)]),
        });
    }
    policy
}

fn queries() -> Vec<(UserInfo, Attributes)> {
    let mut out = Vec::new();
    for i in 0..20_000usize {
        let ns = format!("tenant-{}", (i * 7919) % NAMESPACES);
        let other = format!("tenant-{}", (i * 104_729) % NAMESPACES);
        let user = match i % 5 {
            0 => UserInfo::new(format!("owner-{}", (i * 7919) % NAMESPACES), ["system:authenticated"]),
            1 => UserInfo::new(
                "someone",
                [format!("team-{}", (i * 7919) % NAMESPACES), "system:authenticated".into()],
            ),
            2 => UserInfo::service_account(&ns, "ci"),
            3 => UserInfo::new(format!("reader-{}", i % CLUSTER_USERS), ["system:authenticated"]),
            _ => UserInfo::anonymous(),
        };
        let attrs = match i % 4 {
            0 => Attributes::resource("get", "", "pods").in_namespace(&ns),
            1 => Attributes::resource("create", "apps", "deployments").in_namespace(&other),
            2 => {
                Attributes::resource("list", format!("group-{}.example.com", i % AGGREGATED_PARTS), "things")
            }
            _ => Attributes::resource("get", "", "secrets").named("db").in_namespace(&ns),
        };
        out.push((user, attrs));
    }
    out
}

fn report(what: &str, count: usize, elapsed: Duration) {
    println!(
        "{what:<44} {count:>8} in {:>9.2} ms  = {:>10.2} µs each",
        elapsed.as_secs_f64() * 1e3,
        elapsed.as_secs_f64() * 1e6 / count as f64
    );
}

fn main() {
    let policy = synthetic_policy();
    println!(
        "synthetic cluster: {} Roles, {} ClusterRoles, {} RoleBindings, {} ClusterRoleBindings, {} ServiceAccounts",
        policy.roles.len(),
        policy.cluster_roles.len(),
        policy.role_bindings.len(),
        policy.cluster_role_bindings.len(),
        policy.service_accounts.len()
    );
    let started = Instant::now();
    let authorizer = Authorizer::new(&policy).expect("valid synthetic policy");
    report("Authorizer::new (validate, aggregate, index)", 1, started.elapsed());

    let queries = queries();
    let started = Instant::now();
    let mut allowed = 0usize;
    for _ in 0..5 {
        for (user, attrs) in &queries {
            allowed += usize::from(black_box(authorizer.authorize(user, attrs)).is_allowed());
        }
    }
    report("authorize", queries.len() * 5, started.elapsed());
    println!("  ({} allowed)", allowed / 5);

    let started = Instant::now();
    for (_, attrs) in queries.iter().take(1_000) {
        black_box(authorizer.who_can(attrs));
    }
    report("who_can", 1_000, started.elapsed());

    let started = Instant::now();
    for (user, attrs) in queries.iter().take(1_000) {
        black_box(authorizer.rules_for(user, &attrs.namespace));
    }
    report("rules_for", 1_000, started.elapsed());

    let started = Instant::now();
    let findings = authorizer.escalation_findings();
    report("escalation_findings (whole cluster)", 1, started.elapsed());
    println!(
        "  ({} findings, {} outside the bootstrap policy)",
        findings.len(),
        findings.iter().filter(|f| !f.grant.bootstrap).count()
    );
}
