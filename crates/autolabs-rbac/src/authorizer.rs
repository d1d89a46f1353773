//! The authorizer: Kubernetes' RBAC decision, who-can, and the rules of a user.
//!
//! The model is the one of `k8s.io/kubernetes/pkg/registry/rbac/validation/rule.go`
//! (`VisitRulesFor`): the rules that apply to a user in a namespace are the rules of the role of
//! every ClusterRoleBinding with a matching subject, then — only for a namespaced request —
//! the rules of every RoleBinding of that namespace with a matching subject (a RoleBinding to a
//! ClusterRole grants that role's rules inside the binding's namespace only). A request is
//! allowed as soon as one of those rules allows it (`RuleAllows`); otherwise RBAC has no
//! opinion (it never denies). A binding whose role does not exist contributes nothing and is
//! reported as a resolution error, as upstream does.
//!
//! Subjects match by exact user name, by membership of the request's group list, or — for a
//! ServiceAccount subject — by the user name `system:serviceaccount:<ns>:<name>`, where the
//! namespace defaults to the RoleBinding's namespace (never for a ClusterRoleBinding).
//!
//! [`Authorizer::new`] validates the policy, resolves ClusterRole aggregation once, and
//! indexes bindings by subject so that a decision looks only at candidate bindings; bindings
//! are still visited in policy order, so the reported grant is the one upstream would name.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::OnceLock;

use crate::aggregation::{self, SourcedRule};
use crate::error::RbacError;
use crate::k8s::{PolicyRule, Subject};
use crate::policy::{self, Policy, defaulted_subject_group};
use crate::request::{Attributes, UserInfo, matches_service_account_username, service_account_username};
use crate::rules::{RequestMatcher, describe_rule, rules_equal};

/// The two kinds of binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BindingKind {
    RoleBinding,
    ClusterRoleBinding,
}

/// The two kinds of role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RoleKind {
    Role,
    ClusterRole,
}

/// Which binding granted something.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BindingRef {
    pub kind: BindingKind,
    /// The RoleBinding's namespace; `None` for a ClusterRoleBinding.
    pub namespace: Option<String>,
    pub name: String,
}

/// Which role a binding points at.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoleId {
    pub kind: RoleKind,
    /// The Role's namespace; `None` for a ClusterRole.
    pub namespace: Option<String>,
    pub name: String,
}

/// The chain that grants a permission: binding → (its matching subject) → role → rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    pub binding: BindingRef,
    /// The binding subject that matched (for who-can: the subject the entry is about), with a
    /// ServiceAccount's namespace filled in from the RoleBinding when it was left empty.
    pub subject: Subject,
    pub role: RoleId,
    /// Index of the rule in the role's effective (aggregated) rules.
    pub rule_index: usize,
    pub rule: PolicyRule,
    /// For an aggregated ClusterRole, the ClusterRole the rule was aggregated from.
    pub aggregated_from: Option<String>,
    /// Whether the binding and its role are exactly part of the default bootstrap policy.
    pub bootstrap: bool,
}

/// The RBAC decision on one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Allowed, by the first rule found (in upstream's visiting order).
    Allow(Box<Grant>),
    /// Not allowed by RBAC. `resolution_errors` lists bindings of this user whose role is
    /// missing (what upstream reports as the reason).
    NoOpinion { resolution_errors: Vec<String> },
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow(_))
    }
}

/// One subject that may perform a request, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct WhoCan {
    pub subject: Subject,
    pub grant: Grant,
}

impl fmt::Display for BindingRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{:?} \"{ns}/{}\"", self.kind, self.name),
            None => write!(f, "{:?} {:?}", self.kind, self.name),
        }
    }
}

impl fmt::Display for RoleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{:?} \"{ns}/{}\"", self.kind, self.name),
            None => write!(f, "{:?} {:?}", self.kind, self.name),
        }
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} → {} ", self.binding, subject_for_people(&self.subject))?;
        write!(f, "→ {}", self.role)?;
        if let Some(source) = &self.aggregated_from {
            write!(f, " (aggregated from ClusterRole {source:?})")?;
        }
        write!(f, " → rule[{}] {}", self.rule_index, describe_rule(&self.rule))
    }
}

/// `Kind "name"`, with `name/namespace` for a ServiceAccount, exactly as upstream words
/// subjects in its authorization reasons (the fake API server's SubjectAccessReviews must
/// answer as the real one does). For people, use [`subject_for_people`].
// k8s.io/kubernetes/pkg/registry/rbac/validation/rule.go describeSubject
pub fn describe_subject(subject: &Subject) -> String {
    match (subject.kind.as_str(), subject.namespace.as_deref()) {
        ("ServiceAccount", Some(ns)) => format!("ServiceAccount \"{}/{ns}\"", subject.name),
        _ => format!("{} {:?}", subject.kind, subject.name),
    }
}

/// A subject as kubectl users write it: `ServiceAccount "namespace/name"` (the order of
/// `kubectl -n NS get sa NAME` and of `system:serviceaccount:NS:NAME`; upstream's reason
/// strings put the name first, which reads backwards), `User "alice"`, `Group "devs"`.
pub fn subject_for_people(subject: &Subject) -> String {
    match (subject.kind.as_str(), subject.namespace.as_deref()) {
        ("ServiceAccount", Some(ns)) => format!("ServiceAccount \"{ns}/{}\"", subject.name),
        _ => format!("{} {:?}", subject.kind, subject.name),
    }
}

/// A binding, normalized for evaluation.
#[derive(Debug, Clone)]
pub(crate) struct Binding {
    pub id: BindingRef,
    pub role_kind: String,
    pub role_name: String,
    pub subjects: Vec<Subject>,
    pub bootstrap: bool,
}

impl Binding {
    fn namespace(&self) -> &str {
        self.id.namespace.as_deref().unwrap_or_default()
    }
}

/// Candidate bindings by subject: user names (ServiceAccount subjects under their user name)
/// and group names, each mapping to binding positions.
#[derive(Debug, Clone, Default)]
struct SubjectIndex {
    by_user: HashMap<String, Vec<usize>>,
    by_group: HashMap<String, Vec<usize>>,
}

impl SubjectIndex {
    fn build(bindings: &[Binding]) -> Self {
        let mut index = SubjectIndex::default();
        for (position, binding) in bindings.iter().enumerate() {
            for subject in &binding.subjects {
                match subject.kind.as_str() {
                    "User" => index.by_user.entry(subject.name.clone()).or_default().push(position),
                    "Group" => index.by_group.entry(subject.name.clone()).or_default().push(position),
                    "ServiceAccount" => {
                        if let Some(ns) = service_account_namespace(subject, binding.namespace()) {
                            let user = service_account_username(ns, &subject.name);
                            index.by_user.entry(user).or_default().push(position);
                        }
                    }
                    _ => {}
                }
            }
        }
        index
    }

    /// Positions of bindings that may apply to `user`, in policy order.
    fn candidates(&self, user: &UserInfo) -> Vec<usize> {
        let mut positions: Vec<usize> = self.by_user.get(&user.name).into_iter().flatten().copied().collect();
        for group in &user.groups {
            positions.extend(self.by_group.get(group).into_iter().flatten().copied());
        }
        positions.sort_unstable();
        positions.dedup();
        positions
    }
}

/// The namespace a ServiceAccount subject refers to: its own, else the RoleBinding's.
// k8s.io/kubernetes/pkg/registry/rbac/validation/rule.go appliesToUser (ServiceAccountKind)
fn service_account_namespace<'a>(subject: &'a Subject, binding_namespace: &'a str) -> Option<&'a str> {
    let ns = subject.namespace.as_deref().filter(|ns| !ns.is_empty()).unwrap_or(binding_namespace);
    (!ns.is_empty()).then_some(ns)
}

/// Whether one binding subject is this user.
// k8s.io/kubernetes/pkg/registry/rbac/validation/rule.go appliesToUser
pub(crate) fn applies_to_user(user: &UserInfo, subject: &Subject, binding_namespace: &str) -> bool {
    match subject.kind.as_str() {
        "User" => user.name == subject.name,
        "Group" => user.groups.contains(&subject.name),
        "ServiceAccount" => service_account_namespace(subject, binding_namespace)
            .is_some_and(|ns| matches_service_account_username(ns, &subject.name, &user.name)),
        _ => false,
    }
}

/// The first subject of the binding that is this user.
// k8s.io/kubernetes/pkg/registry/rbac/validation/rule.go appliesTo
fn applies_to(user: &UserInfo, binding: &Binding) -> Option<usize> {
    binding.subjects.iter().position(|subject| applies_to_user(user, subject, binding.namespace()))
}

/// An RBAC authorizer over one policy: aggregation resolved, bindings indexed.
#[derive(Debug, Clone)]
pub struct Authorizer {
    pub(crate) cluster_roles: HashMap<String, Vec<SourcedRule>>,
    /// Roles by namespace, then name.
    pub(crate) roles: HashMap<String, HashMap<String, Vec<SourcedRule>>>,
    pub(crate) cluster_bindings: Vec<Binding>,
    cluster_index: SubjectIndex,
    pub(crate) namespace_bindings: HashMap<String, Vec<Binding>>,
    namespace_index: HashMap<String, SubjectIndex>,
    /// ServiceAccounts known to exist (namespace, name), from the policy's ServiceAccount objects.
    pub(crate) service_accounts: BTreeSet<(String, String)>,
}

/// One applicable binding found while visiting: the binding, its matching subject, and its
/// role's rules (or why they could not be resolved).
pub(crate) struct Visit<'a> {
    pub binding: &'a Binding,
    pub subject: &'a Subject,
    pub rules: Result<&'a [SourcedRule], String>,
}

fn name_of(meta: &crate::k8s::ObjectMeta) -> String {
    meta.name.clone().unwrap_or_default()
}

fn namespace_of(meta: &crate::k8s::ObjectMeta) -> String {
    meta.namespace.clone().unwrap_or_default()
}

fn bootstrap_policy() -> &'static Policy {
    static BOOTSTRAP: OnceLock<Policy> = OnceLock::new();
    BOOTSTRAP.get_or_init(Policy::bootstrap)
}

fn normalized_subjects(subjects: &[Subject]) -> Vec<(String, String, String, String)> {
    subjects
        .iter()
        .map(|s| {
            (
                s.kind.clone(),
                s.name.clone(),
                s.namespace.clone().unwrap_or_default(),
                defaulted_subject_group(s).to_string(),
            )
        })
        .collect()
}

fn same_rules(a: &[PolicyRule], b: &[PolicyRule]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| rules_equal(x, y))
}

/// Whether a binding (and the role it refers to) is exactly one of the default bootstrap
/// policy: same name, roleRef and subjects, and a role with the same rules or aggregation rule.
fn is_bootstrap(
    policy: &Policy,
    id: &BindingRef,
    role_kind: &str,
    role_name: &str,
    subjects: &[Subject],
) -> bool {
    let defaults = bootstrap_policy();
    let binding_matches = |meta: &crate::k8s::ObjectMeta,
                           role_ref: &crate::k8s::k8s_openapi::api::rbac::v1::RoleRef,
                           default_subjects: &[Subject]| {
        meta.name.as_deref() == Some(id.name.as_str())
            && meta.namespace.as_deref() == id.namespace.as_deref()
            && role_ref.kind == role_kind
            && role_ref.name == role_name
            && normalized_subjects(default_subjects) == normalized_subjects(subjects)
    };
    let binding_is_default =
        match id.kind {
            BindingKind::ClusterRoleBinding => defaults.cluster_role_bindings.iter().any(|b| {
                binding_matches(&b.metadata, &b.role_ref, b.subjects.as_deref().unwrap_or_default())
            }),
            BindingKind::RoleBinding => defaults.role_bindings.iter().any(|b| {
                binding_matches(&b.metadata, &b.role_ref, b.subjects.as_deref().unwrap_or_default())
            }),
        };
    if !binding_is_default {
        return false;
    }
    if role_kind == "ClusterRole" {
        let find = |roles: &[crate::k8s::ClusterRole]| {
            roles.iter().rev().find(|r| r.metadata.name.as_deref() == Some(role_name)).cloned()
        };
        match (find(&policy.cluster_roles), find(&defaults.cluster_roles)) {
            (Some(actual), Some(default)) => {
                actual.aggregation_rule == default.aggregation_rule
                    && (actual.aggregation_rule.is_some()
                        || same_rules(
                            actual.rules.as_deref().unwrap_or_default(),
                            default.rules.as_deref().unwrap_or_default(),
                        ))
            }
            _ => false,
        }
    } else {
        let find = |roles: &[crate::k8s::Role]| {
            roles
                .iter()
                .rev()
                .find(|r| {
                    r.metadata.name.as_deref() == Some(role_name)
                        && r.metadata.namespace.as_deref() == id.namespace.as_deref()
                })
                .cloned()
        };
        match (find(&policy.roles), find(&defaults.roles)) {
            (Some(actual), Some(default)) => same_rules(
                actual.rules.as_deref().unwrap_or_default(),
                default.rules.as_deref().unwrap_or_default(),
            ),
            _ => false,
        }
    }
}

impl Authorizer {
    /// Validates the policy (as the API server would), resolves aggregation and indexes bindings.
    /// When several objects share an identity, the last one wins.
    pub fn new(policy: &Policy) -> Result<Authorizer, RbacError> {
        let mut problems = policy::validate(policy);
        let cluster_rules = match aggregation::resolve(&policy.cluster_roles) {
            Ok(rules) => rules,
            Err(more) => {
                problems.extend(more);
                Default::default()
            }
        };
        if !problems.is_empty() {
            return Err(RbacError::InvalidPolicy { problems });
        }

        let mut roles: HashMap<String, HashMap<String, Vec<SourcedRule>>> = HashMap::new();
        for role in &policy.roles {
            let rules = role
                .rules
                .iter()
                .flatten()
                .map(|rule| SourcedRule { rule: rule.clone(), aggregated_from: None });
            roles
                .entry(namespace_of(&role.metadata))
                .or_default()
                .insert(name_of(&role.metadata), rules.collect());
        }

        let make_binding = |kind,
                            meta: &crate::k8s::ObjectMeta,
                            role_ref: &crate::k8s::k8s_openapi::api::rbac::v1::RoleRef,
                            subjects: &Option<Vec<Subject>>| {
            let namespace = (kind == BindingKind::RoleBinding).then(|| namespace_of(meta));
            let id = BindingRef { kind, namespace, name: name_of(meta) };
            let subjects = subjects.clone().unwrap_or_default();
            let bootstrap = is_bootstrap(policy, &id, &role_ref.kind, &role_ref.name, &subjects);
            Binding {
                id,
                role_kind: role_ref.kind.clone(),
                role_name: role_ref.name.clone(),
                subjects,
                bootstrap,
            }
        };

        let mut cluster_bindings: Vec<Binding> = Vec::new();
        for binding in &policy.cluster_role_bindings {
            let made = make_binding(
                BindingKind::ClusterRoleBinding,
                &binding.metadata,
                &binding.role_ref,
                &binding.subjects,
            );
            cluster_bindings.retain(|existing| existing.id != made.id);
            cluster_bindings.push(made);
        }
        let mut namespace_bindings: HashMap<String, Vec<Binding>> = HashMap::new();
        for binding in &policy.role_bindings {
            let made = make_binding(
                BindingKind::RoleBinding,
                &binding.metadata,
                &binding.role_ref,
                &binding.subjects,
            );
            let list = namespace_bindings.entry(made.namespace().to_string()).or_default();
            list.retain(|existing| existing.id != made.id);
            list.push(made);
        }

        let cluster_index = SubjectIndex::build(&cluster_bindings);
        let namespace_index = namespace_bindings
            .iter()
            .map(|(ns, bindings)| (ns.clone(), SubjectIndex::build(bindings)))
            .collect();
        let service_accounts = policy
            .service_accounts
            .iter()
            .map(|account| (namespace_of(&account.metadata), name_of(&account.metadata)))
            .collect();

        Ok(Authorizer {
            cluster_roles: cluster_rules.into_iter().collect(),
            roles,
            cluster_bindings,
            cluster_index,
            namespace_bindings,
            namespace_index,
            service_accounts,
        })
    }

    /// The rules a binding's roleRef resolves to, or why not.
    // k8s.io/kubernetes/pkg/registry/rbac/validation/rule.go GetRoleReferenceRules
    pub(crate) fn role_rules(&self, binding: &Binding) -> Result<&[SourcedRule], String> {
        let found = match binding.role_kind.as_str() {
            "Role" => self.roles.get(binding.namespace()).and_then(|roles| roles.get(&binding.role_name)),
            "ClusterRole" => self.cluster_roles.get(&binding.role_name),
            other => return Err(format!("unsupported role reference kind: {other:?}")),
        };
        found.map(Vec::as_slice).ok_or_else(|| {
            format!(
                "{} references {} {:?}, which does not exist",
                binding.id, binding.role_kind, binding.role_name
            )
        })
    }

    pub(crate) fn role_id(binding: &Binding) -> RoleId {
        let kind = if binding.role_kind == "Role" { RoleKind::Role } else { RoleKind::ClusterRole };
        let namespace = (kind == RoleKind::Role).then(|| binding.namespace().to_string());
        RoleId { kind, namespace, name: binding.role_name.clone() }
    }

    /// Visits every binding that applies to `user` for a request in `namespace` ("" = cluster
    /// scope), ClusterRoleBindings first, stopping when `visitor` returns false.
    // k8s.io/kubernetes/pkg/registry/rbac/validation/rule.go VisitRulesFor
    pub(crate) fn visit<'a>(
        &'a self,
        user: &UserInfo,
        namespace: &str,
        mut visitor: impl FnMut(Visit<'a>) -> bool,
    ) {
        for position in self.cluster_index.candidates(user) {
            let binding = &self.cluster_bindings[position];
            if let Some(subject_index) = applies_to(user, binding)
                && !visitor(Visit {
                    binding,
                    subject: &binding.subjects[subject_index],
                    rules: self.role_rules(binding),
                })
            {
                return;
            }
        }
        if namespace.is_empty() {
            return;
        }
        let (Some(bindings), Some(index)) =
            (self.namespace_bindings.get(namespace), self.namespace_index.get(namespace))
        else {
            return;
        };
        for position in index.candidates(user) {
            let binding = &bindings[position];
            if let Some(subject_index) = applies_to(user, binding)
                && !visitor(Visit {
                    binding,
                    subject: &binding.subjects[subject_index],
                    rules: self.role_rules(binding),
                })
            {
                return;
            }
        }
    }

    pub(crate) fn grant(
        binding: &Binding,
        subject: &Subject,
        rule_index: usize,
        sourced: &SourcedRule,
    ) -> Grant {
        let mut subject = subject.clone();
        if subject.kind == "ServiceAccount" && subject.namespace.as_deref().unwrap_or_default().is_empty() {
            subject.namespace = binding.id.namespace.clone();
        }
        Grant {
            binding: binding.id.clone(),
            subject,
            role: Self::role_id(binding),
            rule_index,
            rule: sourced.rule.clone(),
            aggregated_from: sourced.aggregated_from.clone(),
            bootstrap: binding.bootstrap,
        }
    }

    /// The RBAC decision for `user` making the request `attrs`.
    // k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac/rbac.go (RBACAuthorizer).Authorize
    pub fn authorize(&self, user: &UserInfo, attrs: &Attributes) -> Decision {
        let matcher = RequestMatcher::new(attrs);
        let mut allowed = None;
        let mut resolution_errors = Vec::new();
        self.visit(user, &attrs.namespace, |visit| match visit.rules {
            Ok(rules) => match rules.iter().position(|sourced| matcher.allows(&sourced.rule)) {
                Some(index) => {
                    allowed = Some(Self::grant(visit.binding, visit.subject, index, &rules[index]));
                    false
                }
                None => true,
            },
            Err(error) => {
                resolution_errors.push(error);
                true
            }
        });
        match allowed {
            Some(grant) => Decision::Allow(Box::new(grant)),
            None => Decision::NoOpinion { resolution_errors },
        }
    }

    /// Every subject of every binding that allows `attrs`, with the first allowing rule of
    /// each binding. ClusterRoleBindings apply everywhere; RoleBindings only to requests in
    /// their namespace. A ServiceAccount subject of a RoleBinding without a namespace is
    /// reported in the binding's namespace; one of a ClusterRoleBinding without a namespace
    /// matches nobody and is left out.
    pub fn who_can(&self, attrs: &Attributes) -> Vec<WhoCan> {
        let mut found = Vec::new();
        let namespaced: &[Binding] = if attrs.namespace.is_empty() {
            &[]
        } else {
            self.namespace_bindings.get(&attrs.namespace).map(Vec::as_slice).unwrap_or_default()
        };
        let matcher = RequestMatcher::new(attrs);
        // Many bindings share a role: decide each role once per question.
        let mut first_allowing: HashMap<(&str, &str, &str), Option<usize>> = HashMap::new();
        for binding in self.cluster_bindings.iter().chain(namespaced) {
            let Ok(rules) = self.role_rules(binding) else { continue };
            let key = (binding.role_kind.as_str(), binding.namespace(), binding.role_name.as_str());
            let index = *first_allowing
                .entry(key)
                .or_insert_with(|| rules.iter().position(|sourced| matcher.allows(&sourced.rule)));
            let Some(index) = index else { continue };
            for subject in &binding.subjects {
                let matches_someone = match subject.kind.as_str() {
                    "User" | "Group" => true,
                    "ServiceAccount" => service_account_namespace(subject, binding.namespace()).is_some(),
                    _ => false,
                };
                if matches_someone {
                    let grant = Self::grant(binding, subject, index, &rules[index]);
                    found.push(WhoCan { subject: grant.subject.clone(), grant });
                }
            }
        }
        found
    }

    /// Every rule that applies to `user` in `namespace` ("" = cluster-scoped rules only), with
    /// the chain that grants it, in upstream's visiting order (what `kubectl auth can-i --list`
    /// is built from, via `RulesFor`).
    // k8s.io/kubernetes/pkg/registry/rbac/validation/rule.go RulesFor
    pub fn grants_for(&self, user: &UserInfo, namespace: &str) -> Vec<Grant> {
        let mut grants = Vec::new();
        self.visit(user, namespace, |visit| {
            if let Ok(rules) = visit.rules {
                for (index, sourced) in rules.iter().enumerate() {
                    grants.push(Self::grant(visit.binding, visit.subject, index, sourced));
                }
            }
            true
        });
        grants
    }

    /// The rules of [`Authorizer::grants_for`], without the chains.
    pub fn rules_for(&self, user: &UserInfo, namespace: &str) -> Vec<PolicyRule> {
        self.grants_for(user, namespace).into_iter().map(|grant| grant.rule).collect()
    }

    /// The effective rules of a ClusterRole (aggregation applied), if it exists.
    pub fn cluster_role_rules(&self, name: &str) -> Option<Vec<PolicyRule>> {
        self.cluster_roles.get(name).map(|rules| rules.iter().map(|sourced| sourced.rule.clone()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;

    /// A policy exercising every binding and subject form.
    fn policy() -> Policy {
        Policy {
            roles: vec![
                role("team-a", "pod-reader", vec![rule(&["get"], &[""], &["pods"])]),
                role("team-b", "pod-reader", vec![rule(&["get", "list"], &[""], &["pods"])]),
            ],
            cluster_roles: vec![
                cluster_role("secret-reader", &[], vec![rule(&["get"], &[""], &["secrets"])]),
                cluster_role("node-reader", &[], vec![rule(&["get"], &[""], &["nodes"])]),
            ],
            role_bindings: vec![
                role_binding("team-a", "alice-pods", "Role", "pod-reader", vec![user("alice")]),
                role_binding("team-a", "devs-secrets", "ClusterRole", "secret-reader", vec![group("devs")]),
                role_binding(
                    "team-a",
                    "local-sa",
                    "Role",
                    "pod-reader",
                    vec![service_account("", "builder")],
                ),
                role_binding("team-a", "dangling", "Role", "missing", vec![user("erin")]),
                role_binding(
                    "team-b",
                    "sa-group",
                    "Role",
                    "pod-reader",
                    vec![group("system:serviceaccounts:team-c")],
                ),
            ],
            cluster_role_bindings: vec![
                cluster_role_binding("nodes", "node-reader", vec![service_account("kube-system", "watcher")]),
                cluster_role_binding(
                    "authenticated-nodes",
                    "node-reader",
                    vec![group("system:authenticated")],
                ),
            ],
            service_accounts: Vec::new(),
        }
    }

    fn pods(verb: &str, namespace: &str) -> Attributes {
        Attributes::resource(verb, "", "pods").in_namespace(namespace)
    }

    #[test]
    fn authorize_table() {
        let authorizer = Authorizer::new(&policy()).expect("valid");
        let alice = UserInfo::new("alice", ["devs"]);
        let table: Vec<(&str, UserInfo, Attributes, bool)> = vec![
            ("appliesToUser User: exact user name", alice.clone(), pods("get", "team-a"), true),
            ("appliesToUser User: other user", UserInfo::new("bob", ["devs"]), pods("get", "team-a"), false),
            ("VisitRulesFor: RoleBinding only in its namespace", alice.clone(), pods("get", "team-b"), false),
            (
                "VisitRulesFor: cluster-scope request ignores RoleBindings",
                alice.clone(),
                Attributes::resource("get", "", "pods"),
                false,
            ),
            (
                "appliesToUser Group: member of a bound group",
                alice.clone(),
                Attributes::resource("get", "", "secrets").in_namespace("team-a"),
                true,
            ),
            (
                "GetRoleReferenceRules: RoleBinding to a ClusterRole is scoped to its namespace",
                alice.clone(),
                Attributes::resource("get", "", "secrets").in_namespace("team-b"),
                false,
            ),
            (
                "appliesToUser Group: only the request's groups count (no implied system:authenticated)",
                UserInfo::new("carol", Vec::<String>::new()),
                Attributes::resource("get", "", "nodes"),
                false,
            ),
            (
                "appliesToUser Group: system:authenticated when the request carries it",
                UserInfo::new("carol", ["system:authenticated"]),
                Attributes::resource("get", "", "nodes"),
                true,
            ),
            (
                "VisitRulesFor: ClusterRoleBindings apply to namespaced requests",
                UserInfo::new("carol", ["system:authenticated"]),
                Attributes::resource("get", "", "nodes").in_namespace("team-a"),
                true,
            ),
            (
                "appliesToUser ServiceAccount: explicit namespace",
                UserInfo::new("system:serviceaccount:kube-system:watcher", Vec::<String>::new()),
                Attributes::resource("get", "", "nodes"),
                true,
            ),
            (
                "appliesToUser ServiceAccount: namespace defaults to the RoleBinding's",
                UserInfo::service_account("team-a", "builder"),
                pods("get", "team-a"),
                true,
            ),
            (
                "appliesToUser ServiceAccount: same name in another namespace is someone else",
                UserInfo::new("system:serviceaccount:team-b:builder", Vec::<String>::new()),
                pods("get", "team-a"),
                false,
            ),
            (
                "appliesToUser Group: system:serviceaccounts:<ns> group",
                UserInfo::service_account("team-c", "anyone"),
                pods("list", "team-b"),
                true,
            ),
            (
                "appliesToUser ServiceAccount: groups are the request's, not derived from the name",
                UserInfo::new("system:serviceaccount:team-c:anyone", Vec::<String>::new()),
                pods("list", "team-b"),
                false,
            ),
            (
                "GetRoleReferenceRules: missing role grants nothing",
                UserInfo::new("erin", Vec::<String>::new()),
                pods("get", "team-a"),
                false,
            ),
        ];
        for (name, user, attrs, expected) in table {
            assert_eq!(
                authorizer.authorize(&user, &attrs).is_allowed(),
                expected,
                "{name}: {} {attrs}",
                user.name
            );
        }
    }

    #[test]
    fn decision_reports_the_chain_and_resolution_errors() {
        let authorizer = Authorizer::new(&policy()).expect("valid");
        let Decision::Allow(grant) =
            authorizer.authorize(&UserInfo::service_account("team-a", "builder"), &pods("get", "team-a"))
        else {
            panic!("allowed")
        };
        assert_eq!(grant.binding.name, "local-sa");
        assert_eq!(
            grant.role,
            RoleId { kind: RoleKind::Role, namespace: Some("team-a".into()), name: "pod-reader".into() }
        );
        assert_eq!(grant.subject.namespace.as_deref(), Some("team-a"), "ServiceAccount namespace filled in");
        assert!(grant.to_string().contains("RoleBinding \"team-a/local-sa\""), "{grant}");
        match authorizer.authorize(&UserInfo::new("erin", Vec::<String>::new()), &pods("get", "team-a")) {
            Decision::NoOpinion { resolution_errors } => {
                assert_eq!(resolution_errors.len(), 1);
                assert!(resolution_errors[0].contains("missing"), "{resolution_errors:?}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn who_can_and_rules_for() {
        let authorizer = Authorizer::new(&policy()).expect("valid");
        let mut who: Vec<String> = authorizer
            .who_can(&pods("get", "team-a"))
            .iter()
            .map(|w| subject_for_people(&w.subject))
            .collect();
        who.sort();
        assert_eq!(who, vec!["ServiceAccount \"team-a/builder\"", "User \"alice\""]);
        let rules = authorizer.rules_for(&UserInfo::new("alice", ["devs"]), "team-a");
        assert_eq!(rules.len(), 2, "pod-reader and secret-reader rules: {rules:?}");
        assert!(authorizer.rules_for(&UserInfo::new("alice", ["devs"]), "").is_empty());
    }

    #[test]
    fn later_objects_with_the_same_identity_replace_earlier_ones() {
        let policy =
            policy().with_object(role("team-a", "pod-reader", vec![rule(&["delete"], &[""], &["pods"])]));
        let authorizer = Authorizer::new(&policy).expect("valid");
        let alice = UserInfo::new("alice", ["devs"]);
        assert!(!authorizer.authorize(&alice, &pods("get", "team-a")).is_allowed());
        assert!(authorizer.authorize(&alice, &pods("delete", "team-a")).is_allowed());
    }
}
