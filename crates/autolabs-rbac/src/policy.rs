//! [`Policy`]: the RBAC objects of a cluster, as plain k8s-openapi values.
//!
//! A policy is what the authorizer is built from: Roles, ClusterRoles, RoleBindings,
//! ClusterRoleBindings, plus the ServiceAccounts that exist (used only by the escalation
//! findings, to name the accounts a pod creator can borrow). Adding an object whose identity
//! (kind, namespace, name) is already present replaces it, as `kubectl apply` would.
//!
//! [`validate`] applies the API server's own validation (`pkg/apis/rbac/validation`), after the
//! v1 defaulting of `pkg/apis/rbac/v1/defaults.go`, so that the authorizer never judges a
//! policy no real cluster could hold.

use autolabs_k8s::names;

use crate::error::FieldProblem;
use crate::k8s::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, ServiceAccount, Subject};
use crate::rules::field_list;

/// The API group of RBAC objects, the only valid `roleRef.apiGroup`.
pub const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// The RBAC objects (and ServiceAccounts) of a cluster.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Policy {
    pub roles: Vec<Role>,
    pub cluster_roles: Vec<ClusterRole>,
    pub role_bindings: Vec<RoleBinding>,
    pub cluster_role_bindings: Vec<ClusterRoleBinding>,
    pub service_accounts: Vec<ServiceAccount>,
}

/// Any object a [`Policy`] can hold.
#[derive(Debug, Clone, PartialEq)]
pub enum PolicyObject {
    Role(Role),
    ClusterRole(ClusterRole),
    RoleBinding(RoleBinding),
    ClusterRoleBinding(ClusterRoleBinding),
    ServiceAccount(ServiceAccount),
}

macro_rules! policy_object_from {
    ($($kind:ident),*) => {$(
        impl From<$kind> for PolicyObject {
            fn from(object: $kind) -> Self {
                PolicyObject::$kind(object)
            }
        }
    )*};
}
policy_object_from!(Role, ClusterRole, RoleBinding, ClusterRoleBinding, ServiceAccount);

fn identity(meta: &crate::k8s::ObjectMeta) -> (Option<&str>, Option<&str>) {
    (meta.namespace.as_deref(), meta.name.as_deref())
}

fn upsert<T>(items: &mut Vec<T>, item: T, meta: impl Fn(&T) -> &crate::k8s::ObjectMeta) {
    let key = identity(meta(&item));
    match items.iter().position(|existing| identity(meta(existing)) == key) {
        Some(index) => items[index] = item,
        None => items.push(item),
    }
}

impl Policy {
    /// An empty policy (no bootstrap roles).
    pub fn new() -> Self {
        Policy::default()
    }

    /// This policy with one more object; an object with the same kind, namespace and name is
    /// replaced.
    pub fn with_object(mut self, object: impl Into<PolicyObject>) -> Self {
        self.add(object.into());
        self
    }

    /// This policy with every object of `other` added (replacing same-identity objects).
    pub fn with(mut self, other: Policy) -> Self {
        let Policy { roles, cluster_roles, role_bindings, cluster_role_bindings, service_accounts } = other;
        roles.into_iter().for_each(|o| self.add(PolicyObject::Role(o)));
        cluster_roles.into_iter().for_each(|o| self.add(PolicyObject::ClusterRole(o)));
        role_bindings.into_iter().for_each(|o| self.add(PolicyObject::RoleBinding(o)));
        cluster_role_bindings.into_iter().for_each(|o| self.add(PolicyObject::ClusterRoleBinding(o)));
        service_accounts.into_iter().for_each(|o| self.add(PolicyObject::ServiceAccount(o)));
        self
    }

    /// Adds one object, replacing a same-identity one.
    pub fn add(&mut self, object: PolicyObject) {
        match object {
            PolicyObject::Role(o) => upsert(&mut self.roles, o, |o| &o.metadata),
            PolicyObject::ClusterRole(o) => upsert(&mut self.cluster_roles, o, |o| &o.metadata),
            PolicyObject::RoleBinding(o) => upsert(&mut self.role_bindings, o, |o| &o.metadata),
            PolicyObject::ClusterRoleBinding(o) => {
                upsert(&mut self.cluster_role_bindings, o, |o| &o.metadata)
            }
            PolicyObject::ServiceAccount(o) => upsert(&mut self.service_accounts, o, |o| &o.metadata),
        }
    }
}

/// `IsValidPathSegmentName`: the minimal name rule of RBAC objects.
// k8s.io/apimachinery/pkg/api/validation/path/name.go IsValidPathSegmentName
fn path_segment_problems(name: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if name == "." || name == ".." {
        problems.push(format!("may not be '{name}'"));
    }
    for bad in ["/", "%"] {
        if name.contains(bad) {
            problems.push(format!("may not contain '{bad}'"));
        }
    }
    problems
}

fn validate_meta(
    meta: &crate::k8s::ObjectMeta,
    namespaced: bool,
    path: &str,
    problems: &mut Vec<FieldProblem>,
) {
    // k8s.io/apimachinery/pkg/api/validation/objectmeta.go ValidateObjectMeta (name, namespace)
    match meta.name.as_deref() {
        None | Some("") => {
            problems.push(FieldProblem::new(format!("{path}.metadata.name"), "name is required"))
        }
        Some(name) => {
            for message in path_segment_problems(name) {
                problems.push(FieldProblem::new(format!("{path}.metadata.name"), message));
            }
        }
    }
    match (namespaced, meta.namespace.as_deref().filter(|ns| !ns.is_empty())) {
        (true, None) => {
            problems.push(FieldProblem::new(format!("{path}.metadata.namespace"), "namespace is required"))
        }
        (true, Some(ns)) => {
            for message in names::dns1123_label(ns) {
                problems.push(FieldProblem::new(format!("{path}.metadata.namespace"), message));
            }
        }
        (false, Some(_)) => problems.push(FieldProblem::new(
            format!("{path}.metadata.namespace"),
            "not allowed on this type (cluster-scoped)",
        )),
        (false, None) => {}
    }
}

// k8s.io/kubernetes/pkg/apis/rbac/validation/validation.go validatePolicyRule
fn validate_rule(rule: &PolicyRule, namespaced: bool, path: &str, problems: &mut Vec<FieldProblem>) {
    if rule.verbs.is_empty() {
        problems.push(FieldProblem::new(format!("{path}.verbs"), "verbs must contain at least one value"));
    }
    let (groups, resources, names) =
        (field_list(&rule.api_groups), field_list(&rule.resources), field_list(&rule.resource_names));
    if !field_list(&rule.non_resource_urls).is_empty() {
        if namespaced {
            problems.push(FieldProblem::new(
                format!("{path}.nonResourceURLs"),
                "namespaced rules cannot apply to non-resource URLs",
            ));
        }
        if !groups.is_empty() || !resources.is_empty() || !names.is_empty() {
            problems.push(FieldProblem::new(
                format!("{path}.nonResourceURLs"),
                "rules cannot apply to both regular resources and non-resource URLs",
            ));
        }
        return;
    }
    if groups.is_empty() {
        problems.push(FieldProblem::new(
            format!("{path}.apiGroups"),
            "resource rules must supply at least one api group",
        ));
    }
    if resources.is_empty() {
        problems.push(FieldProblem::new(
            format!("{path}.resources"),
            "resource rules must supply at least one resource",
        ));
    }
    // No rule ties resourceNames to a single resource (kubernetes/kubernetes#44659 proposed one
    // and was closed): the API server admits a name with several resources, as in
    // tigera-operator's ClusterRole, and the authorizer matches it for whichever resource.
}

/// The subject's API group after v1 defaulting (User and Group default to the RBAC group).
// k8s.io/kubernetes/pkg/apis/rbac/v1/defaults.go SetDefaults_Subject
pub(crate) fn defaulted_subject_group(subject: &Subject) -> &str {
    match subject.api_group.as_deref() {
        Some(group) if !group.is_empty() => group,
        _ if subject.kind == "User" || subject.kind == "Group" => RBAC_GROUP,
        _ => "",
    }
}

// k8s.io/kubernetes/pkg/apis/rbac/validation/validation.go validateRoleBindingSubject
fn validate_subject(subject: &Subject, namespaced: bool, path: &str, problems: &mut Vec<FieldProblem>) {
    if subject.name.is_empty() {
        problems.push(FieldProblem::new(format!("{path}.name"), "name is required"));
    }
    let group = defaulted_subject_group(subject);
    match subject.kind.as_str() {
        "ServiceAccount" => {
            if !subject.name.is_empty() {
                for message in names::dns1123_subdomain(&subject.name) {
                    problems.push(FieldProblem::new(format!("{path}.name"), message));
                }
            }
            if !group.is_empty() {
                problems.push(FieldProblem::new(
                    format!("{path}.apiGroup"),
                    format!("unsupported value {group:?}: supported values: \"\""),
                ));
            }
            if !namespaced && subject.namespace.as_deref().unwrap_or_default().is_empty() {
                problems.push(FieldProblem::new(format!("{path}.namespace"), "namespace is required"));
            }
        }
        "User" | "Group" => {
            if group != RBAC_GROUP {
                problems.push(FieldProblem::new(
                    format!("{path}.apiGroup"),
                    format!("unsupported value {group:?}: supported values: {RBAC_GROUP:?}"),
                ));
            }
        }
        other => problems.push(FieldProblem::new(
            format!("{path}.kind"),
            format!("unsupported value {other:?}: supported values: \"ServiceAccount\", \"User\", \"Group\""),
        )),
    }
}

// k8s.io/kubernetes/pkg/apis/rbac/validation/validation.go ValidateRoleBinding / ValidateClusterRoleBinding
fn validate_binding(
    role_ref: &crate::k8s::k8s_openapi::api::rbac::v1::RoleRef,
    subjects: &[Subject],
    namespaced: bool,
    path: &str,
    problems: &mut Vec<FieldProblem>,
) {
    // k8s.io/kubernetes/pkg/apis/rbac/v1/defaults.go SetDefaults_RoleBinding (empty apiGroup defaults)
    if !role_ref.api_group.is_empty() && role_ref.api_group != RBAC_GROUP {
        problems.push(FieldProblem::new(
            format!("{path}.roleRef.apiGroup"),
            format!("unsupported value {:?}: supported values: {RBAC_GROUP:?}", role_ref.api_group),
        ));
    }
    let kind_ok = match role_ref.kind.as_str() {
        "ClusterRole" => true,
        "Role" => namespaced,
        _ => false,
    };
    if !kind_ok {
        let supported = if namespaced { "\"Role\", \"ClusterRole\"" } else { "\"ClusterRole\"" };
        problems.push(FieldProblem::new(
            format!("{path}.roleRef.kind"),
            format!("unsupported value {:?}: supported values: {supported}", role_ref.kind),
        ));
    }
    if role_ref.name.is_empty() {
        problems.push(FieldProblem::new(format!("{path}.roleRef.name"), "name is required"));
    }
    for message in path_segment_problems(&role_ref.name) {
        problems.push(FieldProblem::new(format!("{path}.roleRef.name"), message));
    }
    for (index, subject) in subjects.iter().enumerate() {
        validate_subject(subject, namespaced, &format!("{path}.subjects[{index}]"), problems);
    }
}

/// Every problem a real API server would report for the objects of `policy`, with field paths
/// rooted at the policy's collections (`roleBindings[2].subjects[0].kind`). Aggregation
/// selectors are checked when the authorizer resolves them.
pub fn validate(policy: &Policy) -> Vec<FieldProblem> {
    let mut problems = Vec::new();
    for (index, role) in policy.roles.iter().enumerate() {
        let path = format!("roles[{index}]");
        validate_meta(&role.metadata, true, &path, &mut problems);
        for (rule_index, rule) in role.rules.iter().flatten().enumerate() {
            validate_rule(rule, true, &format!("{path}.rules[{rule_index}]"), &mut problems);
        }
    }
    for (index, role) in policy.cluster_roles.iter().enumerate() {
        let path = format!("clusterRoles[{index}]");
        validate_meta(&role.metadata, false, &path, &mut problems);
        for (rule_index, rule) in role.rules.iter().flatten().enumerate() {
            validate_rule(rule, false, &format!("{path}.rules[{rule_index}]"), &mut problems);
        }
    }
    for (index, binding) in policy.role_bindings.iter().enumerate() {
        let path = format!("roleBindings[{index}]");
        validate_meta(&binding.metadata, true, &path, &mut problems);
        let subjects = binding.subjects.as_deref().unwrap_or_default();
        validate_binding(&binding.role_ref, subjects, true, &path, &mut problems);
    }
    for (index, binding) in policy.cluster_role_bindings.iter().enumerate() {
        let path = format!("clusterRoleBindings[{index}]");
        validate_meta(&binding.metadata, false, &path, &mut problems);
        let subjects = binding.subjects.as_deref().unwrap_or_default();
        validate_binding(&binding.role_ref, subjects, false, &path, &mut problems);
    }
    for (index, account) in policy.service_accounts.iter().enumerate() {
        let path = format!("serviceAccounts[{index}]");
        validate_meta(&account.metadata, true, &path, &mut problems);
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;

    #[test]
    fn validation_table() {
        let mut no_namespace_sa = cluster_role_binding("b", "r", vec![service_account("", "x")]);
        no_namespace_sa.metadata.name = Some("b".into());
        let mut bad_kind = role_binding("ns", "b", "Role", "r", vec![user("u")]);
        bad_kind.role_ref.kind = "Group".into();
        let mut cluster_binding_to_role = cluster_role_binding("b", "r", vec![user("u")]);
        cluster_binding_to_role.role_ref.kind = "Role".into();
        let mut wrong_subject_group = role_binding("ns", "b", "Role", "r", vec![user("u")]);
        wrong_subject_group.subjects =
            Some(vec![Subject { api_group: Some("example.com".into()), ..user("u") }]);
        let mut unknown_subject = role_binding("ns", "b", "Role", "r", vec![user("u")]);
        unknown_subject.subjects = Some(vec![Subject { kind: "Robot".into(), ..user("u") }]);
        let mut url_in_role = role("ns", "r", vec![]);
        url_in_role.rules = Some(vec![PolicyRule {
            verbs: vec!["get".into()],
            non_resource_urls: Some(vec!["/healthz".into()]),
            ..PolicyRule::default()
        }]);

        // (upstream rule, policy, expected field path)
        let table: Vec<(&str, Policy, &str)> = vec![
            (
                "validatePolicyRule: verbs required",
                Policy::new().with_object(role("ns", "r", vec![rule(&[], &[""], &["pods"])])),
                "roles[0].rules[0].verbs",
            ),
            (
                "validatePolicyRule: resource rules need apiGroups",
                Policy::new().with_object(role("ns", "r", vec![rule(&["get"], &[], &["pods"])])),
                "roles[0].rules[0].apiGroups",
            ),
            (
                "validatePolicyRule: resource rules need resources",
                Policy::new().with_object(cluster_role("r", &[], vec![rule(&["get"], &[""], &[])])),
                "clusterRoles[0].rules[0].resources",
            ),
            (
                "validatePolicyRule: namespaced rules cannot use non-resource URLs",
                Policy::new().with_object(url_in_role),
                "roles[0].rules[0].nonResourceURLs",
            ),
            (
                "ValidateObjectMeta: Role needs a namespace",
                Policy::new().with_object(role("", "r", vec![])),
                "roles[0].metadata.namespace",
            ),
            (
                "minimalNameRequirements: no '/' in names",
                Policy::new().with_object(cluster_role("a/b", &[], vec![])),
                "clusterRoles[0].metadata.name",
            ),
            (
                "ValidateRoleBinding: roleRef.kind Role or ClusterRole",
                Policy::new().with_object(bad_kind),
                "roleBindings[0].roleRef.kind",
            ),
            (
                "ValidateClusterRoleBinding: roleRef.kind ClusterRole only",
                Policy::new().with_object(cluster_binding_to_role),
                "clusterRoleBindings[0].roleRef.kind",
            ),
            (
                "validateRoleBindingSubject: ServiceAccount in a ClusterRoleBinding needs a namespace",
                Policy::new().with_object(no_namespace_sa),
                "clusterRoleBindings[0].subjects[0].namespace",
            ),
            (
                "validateRoleBindingSubject: User apiGroup is rbac.authorization.k8s.io",
                Policy::new().with_object(wrong_subject_group),
                "roleBindings[0].subjects[0].apiGroup",
            ),
            (
                "validateRoleBindingSubject: unknown kind",
                Policy::new().with_object(unknown_subject),
                "roleBindings[0].subjects[0].kind",
            ),
        ];
        for (name, policy, field) in table {
            let problems = validate(&policy);
            assert!(
                problems.iter().any(|p| p.field == field),
                "{name}: expected a problem at {field}, got {problems:?}"
            );
        }
    }

    /// A name with several resources is valid (kubernetes/kubernetes#44659 proposed refusing it
    /// and was closed: "Specifying a resource name with multiple resources is a valid
    /// scenario"); the real API server admits tigera-operator's ClusterRole, which has one.
    #[test]
    fn resource_names_may_apply_to_several_resources() {
        let policy = Policy::new().with_object(role(
            "ns",
            "r",
            vec![named_rule(&["get"], &[""], &["pods", "secrets"], &["x"])],
        ));
        assert_eq!(validate(&policy), vec![]);
    }

    #[test]
    fn defaulting_lets_subjects_and_role_refs_omit_the_api_group() {
        // k8s.io/kubernetes/pkg/apis/rbac/v1/defaults.go SetDefaults_Subject / SetDefaults_RoleBinding
        let mut binding =
            role_binding("ns", "b", "Role", "r", vec![Subject { api_group: None, ..user("u") }]);
        binding.role_ref.api_group = String::new();
        assert_eq!(validate(&Policy::new().with_object(binding)), Vec::new());
    }
}
