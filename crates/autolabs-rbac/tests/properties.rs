//! Property tests: the authorizer's answers agree with each other on random small policies.
//!
//! - `authorize` allows ⇔ some rule of `rules_for(user, namespace)` allows the request
//!   (`RulesFor` and `Authorize` visit the same rules upstream);
//! - `authorize` allows ⇔ `who_can` names a subject that is this user;
//! - an allowing grant's rule really allows the request.

use autolabs_rbac::k8s::k8s_openapi::api::rbac::v1::RoleRef;
use autolabs_rbac::k8s::{
    ClusterRole, ClusterRoleBinding, ObjectMeta, PolicyRule, Role, RoleBinding, Subject,
};
use autolabs_rbac::request::service_account_username;
use autolabs_rbac::rules::rule_allows;
use autolabs_rbac::{Attributes, Authorizer, Decision, Policy, UserInfo};
use proptest::prelude::*;

const NAMESPACES: &[&str] = &["ns1", "ns2"];
const VERBS: &[&str] = &["get", "list", "create", "*"];
const GROUPS: &[&str] = &["", "apps", "*"];
const RESOURCES: &[&str] = &["pods", "pods/log", "*/log", "pods/*", "deployments", "secrets", "*"];
const NAMES: &[&str] = &["a", "b"];
const URLS: &[&str] = &["/healthz", "/logs/*", "*"];

fn pick(values: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::sample::select(values).prop_map(str::to_string)
}

fn some_of(values: &'static [&'static str]) -> impl Strategy<Value = Vec<String>> {
    prop::sample::subsequence(values, 1..=values.len().min(3))
        .prop_map(|v| v.iter().map(|s| s.to_string()).collect())
}

fn resource_rule() -> impl Strategy<Value = PolicyRule> {
    (some_of(VERBS), some_of(GROUPS), pick(RESOURCES), prop::option::of(pick(NAMES))).prop_map(
        |(verbs, groups, resource, name)| PolicyRule {
            verbs,
            api_groups: Some(groups),
            resources: Some(vec![resource]),
            resource_names: name.map(|n| vec![n]),
            non_resource_urls: None,
        },
    )
}

fn url_rule() -> impl Strategy<Value = PolicyRule> {
    (some_of(VERBS), some_of(URLS)).prop_map(|(verbs, urls)| PolicyRule {
        verbs,
        non_resource_urls: Some(urls),
        ..PolicyRule::default()
    })
}

fn subject() -> impl Strategy<Value = Subject> {
    let rbac = Some("rbac.authorization.k8s.io".to_string());
    prop_oneof![
        pick(&["u1", "u2"]).prop_map({
            let rbac = rbac.clone();
            move |name| Subject { kind: "User".into(), name, api_group: rbac.clone(), namespace: None }
        }),
        pick(&["g1", "system:serviceaccounts:ns1"]).prop_map(move |name| Subject {
            kind: "Group".into(),
            name,
            api_group: rbac.clone(),
            namespace: None,
        }),
        (pick(&["sa1", "sa2"]), pick(&["ns1", "ns2"])).prop_map(|(name, ns)| Subject {
            kind: "ServiceAccount".into(),
            name,
            api_group: None,
            namespace: Some(ns),
        }),
    ]
}

fn meta(namespace: Option<&str>, name: &str) -> ObjectMeta {
    ObjectMeta { name: Some(name.into()), namespace: namespace.map(Into::into), ..ObjectMeta::default() }
}

fn role_ref(kind: &str, name: &str) -> RoleRef {
    RoleRef { api_group: "rbac.authorization.k8s.io".into(), kind: kind.into(), name: name.into() }
}

prop_compose! {
    fn policy()(
        cluster_rules in prop::collection::vec(prop::collection::vec(prop_oneof![3 => resource_rule(), 1 => url_rule()], 0..3), 2),
        role_rules in prop::collection::vec(prop::collection::vec(resource_rule(), 0..3), 2),
        cluster_bindings in prop::collection::vec((0..2usize, prop::collection::vec(subject(), 1..3)), 0..3),
        role_bindings in prop::collection::vec((0..2usize, any::<bool>(), 0..2usize, prop::collection::vec(subject(), 1..3), any::<bool>()), 0..5),
    ) -> Policy {
        let mut policy = Policy::new();
        for (i, rules) in cluster_rules.into_iter().enumerate() {
            policy.cluster_roles.push(ClusterRole { metadata: meta(None, &format!("cr{i}")), rules: Some(rules), aggregation_rule: None });
        }
        for ns in NAMESPACES {
            for (i, rules) in role_rules.iter().enumerate() {
                policy.roles.push(Role { metadata: meta(Some(ns), &format!("r{i}")), rules: Some(rules.clone()) });
            }
        }
        for (i, (role, subjects)) in cluster_bindings.into_iter().enumerate() {
            policy.cluster_role_bindings.push(ClusterRoleBinding {
                metadata: meta(None, &format!("crb{i}")),
                role_ref: role_ref("ClusterRole", &format!("cr{role}")),
                subjects: Some(subjects),
            });
        }
        for (i, (ns, to_cluster_role, role, mut subjects, drop_sa_namespace)) in role_bindings.into_iter().enumerate() {
            if drop_sa_namespace {
                // A RoleBinding's ServiceAccount subject may leave the namespace empty.
                subjects.iter_mut().filter(|s| s.kind == "ServiceAccount").for_each(|s| s.namespace = None);
            }
            let (kind, name) = if to_cluster_role { ("ClusterRole", format!("cr{role}")) } else { ("Role", format!("r{role}")) };
            policy.role_bindings.push(RoleBinding {
                metadata: meta(Some(NAMESPACES[ns]), &format!("rb{i}")),
                role_ref: role_ref(kind, &name),
                subjects: Some(subjects),
            });
        }
        policy
    }
}

fn user() -> impl Strategy<Value = UserInfo> {
    prop_oneof![
        Just(UserInfo::new("u1", ["g1"])),
        Just(UserInfo::new("u2", Vec::<String>::new())),
        Just(UserInfo::service_account("ns1", "sa1")),
        Just(UserInfo::service_account("ns2", "sa1")),
        Just(UserInfo::service_account("ns2", "sa2")),
    ]
}

fn attributes() -> impl Strategy<Value = Attributes> {
    prop_oneof![
        3 => (pick(&["get", "list", "create", "delete"]), pick(&["", "apps", "batch"]), pick(&["pods", "deployments", "secrets"]),
              pick(&["", "log", "status"]), pick(&["", "a", "c"]), pick(&["", "ns1", "ns2"]))
            .prop_map(|(verb, group, resource, sub, name, ns)| Attributes::resource(verb, group, resource).subresource(sub).named(name).in_namespace(ns)),
        1 => (pick(&["get", "post"]), pick(&["/healthz", "/logs", "/logs/x", "/version"])).prop_map(|(verb, path)| Attributes::non_resource(verb, path)),
    ]
}

fn is_user(subject: &Subject, user: &UserInfo) -> bool {
    match subject.kind.as_str() {
        "User" => subject.name == user.name,
        "Group" => user.groups.contains(&subject.name),
        _ => {
            service_account_username(subject.namespace.as_deref().unwrap_or_default(), &subject.name)
                == user.name
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn answers_agree(policy in policy(), user in user(), attrs in attributes()) {
        let authorizer = Authorizer::new(&policy).expect("generated policies are valid");
        let decision = authorizer.authorize(&user, &attrs);
        let by_rules = authorizer.rules_for(&user, &attrs.namespace).iter().any(|rule| rule_allows(&attrs, rule));
        prop_assert_eq!(decision.is_allowed(), by_rules, "rules_for disagrees");
        let by_who_can = authorizer.who_can(&attrs).iter().any(|entry| is_user(&entry.subject, &user));
        prop_assert_eq!(decision.is_allowed(), by_who_can, "who_can disagrees");
        if let Decision::Allow(grant) = decision {
            prop_assert!(rule_allows(&attrs, &grant.rule));
            prop_assert!(is_user(&grant.subject, &user));
        }
    }
}
