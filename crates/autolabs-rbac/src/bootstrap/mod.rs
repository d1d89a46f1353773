//! The default (bootstrap) RBAC policy every cluster has, built in.
//!
//! Upstream creates these objects at API server start-up
//! (`k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac/bootstrappolicy`: `policy.go` for the
//! cluster roles and their bindings, `controller_policy.go` for the `system:controller:*`
//! roles, `namespace_policy.go` for the roles in `kube-system` and `kube-public`). We keep our
//! own compact table of them in the private `data` module (generated once from upstream's
//! bootstrap test data by the ignored test `regenerate_bootstrap_table` in
//! `tests/bootstrap.rs`, and proven equal to it by the other tests there) and expand it into
//! ordinary k8s-openapi objects here.
//!
//! Every bootstrap object carries the label `kubernetes.io/bootstrapping: rbac-defaults` and
//! the annotation `rbac.authorization.kubernetes.io/autoupdate: "true"`, as upstream's do; the
//! table lists only the other labels (the `aggregate-to-*` ones).

mod data;

use std::collections::BTreeMap;

use crate::k8s::k8s_openapi::api::rbac::v1::{AggregationRule, RoleRef};
use crate::k8s::{
    ClusterRole, ClusterRoleBinding, LabelSelector, ObjectMeta, PolicyRule, Role, RoleBinding, Subject,
};
use crate::policy::{Policy, RBAC_GROUP};

/// Label upstream puts on every bootstrap object.
pub const BOOTSTRAPPING_LABEL: (&str, &str) = ("kubernetes.io/bootstrapping", "rbac-defaults");
/// Annotation upstream puts on every bootstrap object (reconciled at start-up).
pub const AUTOUPDATE_ANNOTATION: (&str, &str) = ("rbac.authorization.kubernetes.io/autoupdate", "true");

type Pairs = &'static [(&'static str, &'static str)];
type Strs = &'static [&'static str];

/// One role of the table.
pub(crate) struct RoleSpec {
    name: &'static str,
    /// Labels besides the bootstrapping label.
    labels: Pairs,
    /// `matchLabels` of each aggregation selector, when the role is aggregated.
    aggregate: Option<&'static [Pairs]>,
    rules: &'static [RuleSpec],
}

/// One rule of the table.
pub(crate) struct RuleSpec {
    verbs: Strs,
    groups: Strs,
    resources: Strs,
    names: Strs,
    urls: Strs,
}

/// One binding of the table; `namespace` is empty for a ClusterRoleBinding.
pub(crate) struct BindingSpec {
    name: &'static str,
    role_kind: &'static str,
    role: &'static str,
    subjects: &'static [SubjectSpec],
}

/// One subject of the table: kind, name, namespace (ServiceAccounts only).
pub(crate) struct SubjectSpec(&'static str, &'static str, &'static str);

const fn role(
    name: &'static str,
    labels: Pairs,
    aggregate: Option<&'static [Pairs]>,
    rules: &'static [RuleSpec],
) -> RoleSpec {
    RoleSpec { name, labels, aggregate, rules }
}
/// A resource rule.
const fn r(verbs: Strs, groups: Strs, resources: Strs) -> RuleSpec {
    RuleSpec { verbs, groups, resources, names: &[], urls: &[] }
}
/// A resource rule restricted to some object names.
const fn rn(verbs: Strs, groups: Strs, resources: Strs, names: Strs) -> RuleSpec {
    RuleSpec { verbs, groups, resources, names, urls: &[] }
}
/// A non-resource URL rule.
const fn u(verbs: Strs, urls: Strs) -> RuleSpec {
    RuleSpec { verbs, groups: &[], resources: &[], names: &[], urls }
}
const fn bind(
    name: &'static str,
    role_kind: &'static str,
    role: &'static str,
    subjects: &'static [SubjectSpec],
) -> BindingSpec {
    BindingSpec { name, role_kind, role, subjects }
}
const fn user(name: &'static str) -> SubjectSpec {
    SubjectSpec("User", name, "")
}
const fn group(name: &'static str) -> SubjectSpec {
    SubjectSpec("Group", name, "")
}
const fn sa(namespace: &'static str, name: &'static str) -> SubjectSpec {
    SubjectSpec("ServiceAccount", name, namespace)
}

fn strings(values: Strs) -> Vec<String> {
    values.iter().map(|v| v.to_string()).collect()
}

fn optional(values: Strs) -> Option<Vec<String>> {
    (!values.is_empty()).then(|| strings(values))
}

fn pairs(values: Pairs) -> BTreeMap<String, String> {
    values.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn meta(name: &str, namespace: &str, extra_labels: Pairs) -> ObjectMeta {
    let mut labels = pairs(extra_labels);
    labels.insert(BOOTSTRAPPING_LABEL.0.to_string(), BOOTSTRAPPING_LABEL.1.to_string());
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: (!namespace.is_empty()).then(|| namespace.to_string()),
        labels: Some(labels),
        annotations: Some(pairs(&[AUTOUPDATE_ANNOTATION])),
        ..ObjectMeta::default()
    }
}

fn rule(spec: &RuleSpec) -> PolicyRule {
    PolicyRule {
        verbs: strings(spec.verbs),
        api_groups: optional(spec.groups),
        resources: optional(spec.resources),
        resource_names: optional(spec.names),
        non_resource_urls: optional(spec.urls),
    }
}

fn rules(specs: &[RuleSpec]) -> Option<Vec<PolicyRule>> {
    (!specs.is_empty()).then(|| specs.iter().map(rule).collect())
}

fn cluster_role(spec: &RoleSpec) -> ClusterRole {
    ClusterRole {
        metadata: meta(spec.name, "", spec.labels),
        aggregation_rule: spec.aggregate.map(|selectors| AggregationRule {
            cluster_role_selectors: Some(
                selectors
                    .iter()
                    .map(|labels| LabelSelector {
                        match_labels: Some(pairs(labels)),
                        match_expressions: None,
                    })
                    .collect(),
            ),
        }),
        rules: rules(spec.rules),
    }
}

fn role_ref(spec: &BindingSpec) -> RoleRef {
    RoleRef {
        api_group: RBAC_GROUP.to_string(),
        kind: spec.role_kind.to_string(),
        name: spec.role.to_string(),
    }
}

fn subjects(spec: &BindingSpec) -> Option<Vec<Subject>> {
    let subjects: Vec<Subject> = spec
        .subjects
        .iter()
        .map(|SubjectSpec(kind, name, namespace)| Subject {
            api_group: (*kind != "ServiceAccount").then(|| RBAC_GROUP.to_string()),
            kind: kind.to_string(),
            name: name.to_string(),
            namespace: (!namespace.is_empty()).then(|| namespace.to_string()),
        })
        .collect();
    (!subjects.is_empty()).then_some(subjects)
}

fn cluster_role_binding(spec: &BindingSpec) -> ClusterRoleBinding {
    ClusterRoleBinding {
        metadata: meta(spec.name, "", &[]),
        role_ref: role_ref(spec),
        subjects: subjects(spec),
    }
}

/// The parts of the bootstrap policy, kept apart because upstream ships them apart (and a
/// cluster may lack some, e.g. the namespace roles).
pub mod parts {
    use super::*;

    /// The cluster roles of `policy.go` (`ClusterRoles()`).
    pub fn cluster_roles() -> Vec<ClusterRole> {
        data::CLUSTER_ROLES.iter().map(cluster_role).collect()
    }
    /// The `system:controller:*` cluster roles of `controller_policy.go`.
    pub fn controller_roles() -> Vec<ClusterRole> {
        data::CONTROLLER_ROLES.iter().map(cluster_role).collect()
    }
    /// The cluster role bindings of `policy.go` (`ClusterRoleBindings()`).
    pub fn cluster_role_bindings() -> Vec<ClusterRoleBinding> {
        data::CLUSTER_ROLE_BINDINGS.iter().map(cluster_role_binding).collect()
    }
    /// The bindings of the controller roles to their controllers' ServiceAccounts.
    pub fn controller_role_bindings() -> Vec<ClusterRoleBinding> {
        data::CONTROLLER_ROLE_BINDINGS.iter().map(cluster_role_binding).collect()
    }
    /// The Roles of `namespace_policy.go` (in `kube-system` and `kube-public`).
    pub fn namespace_roles() -> Vec<Role> {
        data::NAMESPACE_ROLES
            .iter()
            .flat_map(|(namespace, specs)| {
                specs.iter().map(move |spec| Role {
                    metadata: meta(spec.name, namespace, spec.labels),
                    rules: rules(spec.rules),
                })
            })
            .collect()
    }
    /// The RoleBindings of `namespace_policy.go`.
    pub fn namespace_role_bindings() -> Vec<RoleBinding> {
        data::NAMESPACE_ROLE_BINDINGS
            .iter()
            .flat_map(|(namespace, specs)| {
                specs.iter().map(move |spec| RoleBinding {
                    metadata: meta(spec.name, namespace, &[]),
                    role_ref: role_ref(spec),
                    subjects: subjects(spec),
                })
            })
            .collect()
    }
}

impl Policy {
    /// The complete default policy of a cluster: cluster roles, controller roles, their
    /// bindings, and the namespace roles and bindings of `kube-system`/`kube-public`.
    pub fn bootstrap() -> Policy {
        let mut cluster_roles = parts::cluster_roles();
        cluster_roles.extend(parts::controller_roles());
        let mut cluster_role_bindings = parts::cluster_role_bindings();
        cluster_role_bindings.extend(parts::controller_role_bindings());
        Policy {
            roles: parts::namespace_roles(),
            cluster_roles,
            role_bindings: parts::namespace_role_bindings(),
            cluster_role_bindings,
            service_accounts: Vec::new(),
        }
    }
}
