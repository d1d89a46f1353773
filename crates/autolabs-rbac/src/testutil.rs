//! Terse constructors for the unit tests' tables.

use std::collections::BTreeMap;

use crate::k8s::k8s_openapi::api::rbac::v1::{AggregationRule, RoleRef};
use crate::k8s::{
    ClusterRole, ClusterRoleBinding, LabelSelector, ObjectMeta, PolicyRule, Role, RoleBinding, Subject,
};

fn strings(values: &[&str]) -> Option<Vec<String>> {
    (!values.is_empty()).then(|| values.iter().map(|v| v.to_string()).collect())
}

pub fn meta(namespace: &str, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: (!namespace.is_empty()).then(|| namespace.to_string()),
        ..ObjectMeta::default()
    }
}

pub fn rule(verbs: &[&str], groups: &[&str], resources: &[&str]) -> PolicyRule {
    PolicyRule {
        verbs: verbs.iter().map(|v| v.to_string()).collect(),
        api_groups: strings(groups),
        resources: strings(resources),
        ..PolicyRule::default()
    }
}

pub fn named_rule(verbs: &[&str], groups: &[&str], resources: &[&str], names: &[&str]) -> PolicyRule {
    PolicyRule { resource_names: strings(names), ..rule(verbs, groups, resources) }
}

pub fn role(namespace: &str, name: &str, rules: Vec<PolicyRule>) -> Role {
    Role { metadata: meta(namespace, name), rules: Some(rules) }
}

pub fn cluster_role(name: &str, labels: &[(&str, &str)], rules: Vec<PolicyRule>) -> ClusterRole {
    let mut metadata = meta("", name);
    metadata.labels = Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
    ClusterRole { metadata, rules: Some(rules), aggregation_rule: None }
}

pub fn aggregated(name: &str, labels: &[(&str, &str)], selectors: &[&[(&str, &str)]]) -> ClusterRole {
    let mut role = cluster_role(name, labels, vec![rule(&["get"], &[""], &["literal-rule-is-discarded"])]);
    role.aggregation_rule = Some(AggregationRule {
        cluster_role_selectors: Some(
            selectors
                .iter()
                .map(|labels| LabelSelector {
                    match_labels: Some(
                        labels
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_string()))
                            .collect::<BTreeMap<_, _>>(),
                    ),
                    match_expressions: None,
                })
                .collect(),
        ),
    });
    role
}

pub fn user(name: &str) -> Subject {
    Subject {
        kind: "User".into(),
        name: name.into(),
        api_group: Some(crate::policy::RBAC_GROUP.into()),
        namespace: None,
    }
}

pub fn group(name: &str) -> Subject {
    Subject { kind: "Group".into(), name: name.into(), ..user(name) }
}

pub fn service_account(namespace: &str, name: &str) -> Subject {
    Subject {
        kind: "ServiceAccount".into(),
        name: name.into(),
        api_group: None,
        namespace: (!namespace.is_empty()).then(|| namespace.to_string()),
    }
}

fn role_ref(kind: &str, name: &str) -> RoleRef {
    RoleRef { api_group: crate::policy::RBAC_GROUP.into(), kind: kind.into(), name: name.into() }
}

pub fn role_binding(
    namespace: &str,
    name: &str,
    role_kind: &str,
    role: &str,
    subjects: Vec<Subject>,
) -> RoleBinding {
    RoleBinding {
        metadata: meta(namespace, name),
        role_ref: role_ref(role_kind, role),
        subjects: Some(subjects),
    }
}

pub fn cluster_role_binding(name: &str, role: &str, subjects: Vec<Subject>) -> ClusterRoleBinding {
    ClusterRoleBinding {
        metadata: meta("", name),
        role_ref: role_ref("ClusterRole", role),
        subjects: Some(subjects),
    }
}
