//! `verify --cluster --probe-rbac`: does our RBAC engine agree with the API server about
//! what a ServiceAccount may do?
//!
//! # Model
//!
//! A **question** is one request ([`Attributes`]): a verb on a resource (or subresource) in a
//! namespace, or cluster-wide. [`standard_questions`] asks every verb of [`PROBE_VERBS`] on
//! [`PROBE_RESOURCES`] — what the provisioner touches and what is dangerous to hold — in
//! [`PROBE_NAMESPACES`] and cluster-wide. For each, the server is asked with a
//! `SubjectAccessReview` (`spec.user` = the ServiceAccount's user name, `spec.groups` = the
//! groups its token authenticates with) and the engine with [`Authorizer::authorize`] for the
//! same [`UserInfo`]; every difference is a [`Disagreement`] carrying both answers and the
//! engine's grant chain.
//!
//! A `SelfSubjectRulesReview` reviews only the caller, so it is fetched only when the client
//! *is* the ServiceAccount (asked with a `SelfSubjectReview`); the rules it lists are then
//! matched against every question of the same namespace. Otherwise it is skipped with a note.
//!
//! The comparison ([`compare_answers`], [`compare_rules`]) is pure; [`probe_rbac`] only asks.
//! A real server may also run other authorizers (Node, webhooks): their answers show up as
//! disagreements too, which is what an operator wants to see.

use std::collections::BTreeSet;
use std::fmt;

use autolabs_rbac::rules::rule_allows;
use autolabs_rbac::{Attributes, Authorizer, Decision, UserInfo};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, ResourceRule, SelfSubjectRulesReview, SelfSubjectRulesReviewSpec,
    SubjectAccessReview, SubjectAccessReviewSpec, SubjectAccessReviewStatus,
};
use k8s_openapi::api::rbac::v1::PolicyRule;
use kube::api::{Api, PostParams};

use crate::live::{Client, ClusterError, error_code};

/// Verbs every question set asks (`kubectl auth can-i`'s resource verbs).
pub const PROBE_VERBS: [&str; 8] =
    ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"];

/// Namespaces asked about, besides cluster-wide.
pub const PROBE_NAMESPACES: [&str; 3] = ["labs", "platform", "default"];

/// One resource (or subresource) the probe asks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeResource {
    /// API group, empty for the core group.
    pub group: &'static str,
    pub resource: &'static str,
    /// Empty for the resource itself.
    pub subresource: &'static str,
    pub namespaced: bool,
}

const fn namespaced(group: &'static str, resource: &'static str, subresource: &'static str) -> ProbeResource {
    ProbeResource { group, resource, subresource, namespaced: true }
}

const fn cluster(group: &'static str, resource: &'static str, subresource: &'static str) -> ProbeResource {
    ProbeResource { group, resource, subresource, namespaced: false }
}

/// What the provisioner touches, and what would be dangerous for it to hold.
pub const PROBE_RESOURCES: &[ProbeResource] = &[
    namespaced("", "pods", ""),
    namespaced("", "pods", "exec"),
    namespaced("", "pods", "attach"),
    namespaced("", "pods", "log"),
    namespaced("", "pods", "portforward"),
    namespaced("", "services", ""),
    namespaced("networking.k8s.io", "networkpolicies", ""),
    namespaced("networking.k8s.io", "ingresses", ""),
    namespaced("", "secrets", ""),
    namespaced("", "configmaps", ""),
    namespaced("", "resourcequotas", ""),
    namespaced("", "limitranges", ""),
    namespaced("", "serviceaccounts", ""),
    namespaced("", "serviceaccounts", "token"),
    namespaced("", "persistentvolumeclaims", ""),
    namespaced("apps", "deployments", ""),
    namespaced("apps", "statefulsets", ""),
    namespaced("batch", "jobs", ""),
    namespaced("rbac.authorization.k8s.io", "roles", ""),
    namespaced("rbac.authorization.k8s.io", "rolebindings", ""),
    cluster("", "namespaces", ""),
    cluster("", "nodes", ""),
    cluster("", "nodes", "proxy"),
    cluster("", "persistentvolumes", ""),
    cluster("rbac.authorization.k8s.io", "clusterroles", ""),
    cluster("rbac.authorization.k8s.io", "clusterrolebindings", ""),
    cluster("admissionregistration.k8s.io", "validatingwebhookconfigurations", ""),
    cluster("admissionregistration.k8s.io", "mutatingwebhookconfigurations", ""),
];

/// Verbs that are dangerous on one resource only (RBAC escalation, impersonation).
pub const PROBE_SPECIAL: &[(&str, ProbeResource)] = &[
    ("bind", namespaced("rbac.authorization.k8s.io", "roles", "")),
    ("escalate", namespaced("rbac.authorization.k8s.io", "roles", "")),
    ("bind", cluster("rbac.authorization.k8s.io", "clusterroles", "")),
    ("escalate", cluster("rbac.authorization.k8s.io", "clusterroles", "")),
    ("impersonate", cluster("", "users", "")),
    ("impersonate", cluster("", "groups", "")),
    ("impersonate", namespaced("", "serviceaccounts", "")),
];

/// The ServiceAccount being probed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccountRef {
    pub namespace: String,
    pub name: String,
}

impl ServiceAccountRef {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        ServiceAccountRef { namespace: namespace.into(), name: name.into() }
    }

    /// The user (name and groups) its token authenticates as.
    pub fn user(&self) -> UserInfo {
        UserInfo::service_account(&self.namespace, &self.name)
    }
}

impl fmt::Display for ServiceAccountRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServiceAccount {}/{}", self.namespace, self.name)
    }
}

/// Every verb × resource in every probe namespace and cluster-wide (cluster-scoped resources
/// only cluster-wide), then the special verbs, in that order.
pub fn standard_questions() -> Vec<Attributes> {
    questions_in(&PROBE_NAMESPACES)
}

/// The questions for one ServiceAccount: the standard ones, and the same namespaced ones in
/// its own namespace (where a Role is most likely to grant it something) when that is not
/// already a probe namespace.
pub fn questions_for(subject: &ServiceAccountRef) -> Vec<Attributes> {
    if PROBE_NAMESPACES.contains(&subject.namespace.as_str()) {
        return standard_questions();
    }
    let mut namespaces: Vec<&str> = PROBE_NAMESPACES.to_vec();
    namespaces.push(&subject.namespace);
    questions_in(&namespaces)
}

fn questions_in(namespaces: &[&str]) -> Vec<Attributes> {
    let mut questions = Vec::new();
    let scopes = |resource: &ProbeResource| -> Vec<&str> {
        if resource.namespaced { namespaces.iter().copied().chain([""]).collect() } else { vec![""] }
    };
    let question = |verb: &str, resource: &ProbeResource, namespace: &str| {
        Attributes::resource(verb, resource.group, resource.resource)
            .subresource(resource.subresource)
            .in_namespace(namespace)
    };
    for resource in PROBE_RESOURCES {
        for namespace in scopes(resource) {
            for verb in PROBE_VERBS {
                questions.push(question(verb, resource, namespace));
            }
        }
    }
    for (verb, resource) in PROBE_SPECIAL {
        for namespace in scopes(resource) {
            questions.push(question(verb, resource, namespace));
        }
    }
    questions
}

/// The ServiceAccounts autolabs rendered (`app.kubernetes.io/managed-by: autolabs`) in a set
/// read from a cluster, sorted: what `--probe-rbac` probes by default.
pub fn platform_service_accounts(set: &autolabs_verify::ObjectSet) -> Vec<ServiceAccountRef> {
    let (label, value) = autolabs_model::topology::MANAGED_BY;
    let mut accounts: Vec<ServiceAccountRef> = set
        .objects
        .iter()
        .filter(|o| o.kind == "ServiceAccount" && o.group().is_empty())
        .filter(|o| {
            o.value.pointer("/metadata/labels").and_then(|l| l.get(label)).and_then(|v| v.as_str())
                == Some(value)
        })
        .filter_map(|o| Some(ServiceAccountRef::new(o.namespace.clone()?, o.name.clone())))
        .collect();
    accounts.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    accounts.dedup();
    accounts
}

/// What the server answered to one SubjectAccessReview.
// k8s.io/api/authorization/v1/types.go SubjectAccessReviewStatus
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerAnswer {
    pub allowed: bool,
    /// An explicit deny by some authorizer (RBAC never denies).
    pub denied: bool,
    pub reason: String,
    pub evaluation_error: String,
}

impl ServerAnswer {
    fn from_status(status: Option<SubjectAccessReviewStatus>) -> Self {
        let status = status.unwrap_or_default();
        ServerAnswer {
            allowed: status.allowed,
            denied: status.denied.unwrap_or(false),
            reason: status.reason.unwrap_or_default(),
            evaluation_error: status.evaluation_error.unwrap_or_default(),
        }
    }
}

impl fmt::Display for ServerAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = match (self.allowed, self.denied) {
            (true, _) => "allowed",
            (false, true) => "denied",
            (false, false) => "not allowed",
        };
        write!(f, "{word}")?;
        if !self.reason.is_empty() {
            write!(f, " ({})", self.reason)?;
        }
        if !self.evaluation_error.is_empty() {
            write!(f, " [evaluation error: {}]", self.evaluation_error)?;
        }
        Ok(())
    }
}

/// Which server API gave the answer that differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewSource {
    SubjectAccessReview,
    SelfSubjectRulesReview,
}

impl fmt::Display for ReviewSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReviewSource::SubjectAccessReview => "SubjectAccessReview",
            ReviewSource::SelfSubjectRulesReview => "SelfSubjectRulesReview",
        })
    }
}

/// One question the server and the engine answer differently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disagreement {
    pub question: Attributes,
    pub source: ReviewSource,
    pub server: ServerAnswer,
    pub engine_allowed: bool,
    /// The engine's grant chain (binding → subject → role → rule), or why nothing grants it.
    pub engine_chain: String,
}

impl fmt::Display for Disagreement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let engine = if self.engine_allowed { "allowed" } else { "not allowed" };
        write!(
            f,
            "{}: server ({}) says {}, the RBAC engine says {engine}: {}",
            self.question, self.source, self.server, self.engine_chain
        )
    }
}

/// Everything a probe found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProbeReport {
    /// `system:serviceaccount:NS:NAME`.
    pub user: String,
    /// SubjectAccessReviews asked.
    pub asked: usize,
    /// Questions both sides allow.
    pub agreed_allowed: usize,
    /// Questions both sides refuse.
    pub agreed_denied: usize,
    /// Questions checked against a SelfSubjectRulesReview (0 when it was skipped).
    pub rules_checked: usize,
    pub disagreements: Vec<Disagreement>,
    /// What was skipped and why (the SelfSubjectRulesReview, usually).
    pub notes: Vec<String>,
}

impl ProbeReport {
    pub fn agrees(&self) -> bool {
        self.disagreements.is_empty()
    }

    /// One line: counts.
    pub fn summary(&self) -> String {
        format!(
            "RBAC probe of {}: {} questions, {} allowed by both, {} refused by both, {} disagreement(s){}",
            self.user,
            self.asked,
            self.agreed_allowed,
            self.agreed_denied,
            self.disagreements.len(),
            if self.rules_checked > 0 {
                format!(", {} checked against the SelfSubjectRulesReview", self.rules_checked)
            } else {
                String::new()
            }
        )
    }
}

/// The engine's answer and its chain, in words.
pub fn engine_answer(authorizer: &Authorizer, user: &UserInfo, question: &Attributes) -> (bool, String) {
    match authorizer.authorize(user, question) {
        Decision::Allow(grant) => (true, grant.to_string()),
        Decision::NoOpinion { resolution_errors } if resolution_errors.is_empty() => {
            (false, "no RBAC rule allows it".to_string())
        }
        Decision::NoOpinion { resolution_errors } => {
            (false, format!("no RBAC rule allows it; unresolved: {}", resolution_errors.join("; ")))
        }
    }
}

/// Compares the server's SubjectAccessReview answers with the engine's (pure).
pub fn compare_answers(
    authorizer: &Authorizer,
    user: &UserInfo,
    answers: &[(Attributes, ServerAnswer)],
) -> ProbeReport {
    let mut report = ProbeReport { user: user.name.clone(), asked: answers.len(), ..Default::default() };
    for (question, server) in answers {
        let (engine_allowed, engine_chain) = engine_answer(authorizer, user, question);
        match (server.allowed, engine_allowed) {
            (true, true) => report.agreed_allowed += 1,
            (false, false) => report.agreed_denied += 1,
            _ => report.disagreements.push(Disagreement {
                question: question.clone(),
                source: ReviewSource::SubjectAccessReview,
                server: server.clone(),
                engine_allowed,
                engine_chain,
            }),
        }
    }
    report
}

/// The findings `verify --cluster --probe-rbac` reports: one error per disagreement (engine
/// `rbac`, rule `probe-disagreement`, file `cluster`).
pub fn findings(report: &ProbeReport) -> Vec<autolabs_verify::Finding> {
    report
        .disagreements
        .iter()
        .map(|disagreement| {
            let mut finding = autolabs_verify::Finding::new(
                "rbac",
                "probe-disagreement",
                autolabs_verify::Severity::Error,
                format!("{}: {disagreement}", report.user),
            );
            finding.file = Some(crate::live::CLUSTER_FILE.to_string());
            finding
        })
        .collect()
}

/// A SelfSubjectRulesReview rule as an RBAC rule (same fields, same matching).
// k8s.io/kubernetes/pkg/registry/authorization/selfsubjectrulesreview/rest.go (rules from RulesFor)
pub fn policy_rule(rule: &ResourceRule) -> PolicyRule {
    PolicyRule {
        api_groups: rule.api_groups.clone(),
        resources: rule.resources.clone(),
        resource_names: rule.resource_names.clone(),
        verbs: rule.verbs.clone(),
        non_resource_urls: None,
    }
}

/// Checks the questions of `namespace` against the rules a SelfSubjectRulesReview listed
/// there (pure). When the review is `incomplete`, a question the listed rules do not allow
/// proves nothing, so only rules that allow what the engine refuses count.
pub fn compare_rules(
    authorizer: &Authorizer,
    user: &UserInfo,
    namespace: &str,
    rules: &[PolicyRule],
    incomplete: bool,
    questions: &[Attributes],
) -> (usize, Vec<Disagreement>) {
    let mut checked = 0;
    let mut found = Vec::new();
    for question in questions.iter().filter(|q| q.namespace == namespace && q.resource_request) {
        checked += 1;
        let server_allowed = rules.iter().any(|rule| rule_allows(question, rule));
        let (engine_allowed, engine_chain) = engine_answer(authorizer, user, question);
        if server_allowed != engine_allowed && (server_allowed || !incomplete) {
            found.push(Disagreement {
                question: question.clone(),
                source: ReviewSource::SelfSubjectRulesReview,
                server: ServerAnswer {
                    allowed: server_allowed,
                    reason: if server_allowed {
                        "a listed rule allows it".into()
                    } else {
                        "no listed rule allows it".into()
                    },
                    ..Default::default()
                },
                engine_allowed,
                engine_chain,
            });
        }
    }
    (checked, found)
}

/// The SubjectAccessReview that asks `question` for `user`.
// k8s.io/api/authorization/v1/types.go SubjectAccessReviewSpec, ResourceAttributes
pub fn subject_access_review(user: &UserInfo, question: &Attributes) -> SubjectAccessReview {
    let some = |text: &str| (!text.is_empty()).then(|| text.to_string());
    let resource_attributes = question.resource_request.then(|| ResourceAttributes {
        verb: some(&question.verb),
        group: some(&question.api_group),
        resource: some(&question.resource),
        subresource: some(&question.subresource),
        namespace: some(&question.namespace),
        name: some(&question.name),
        ..Default::default()
    });
    let non_resource_attributes =
        (!question.resource_request).then(|| k8s_openapi::api::authorization::v1::NonResourceAttributes {
            verb: some(&question.verb),
            path: some(&question.path),
        });
    SubjectAccessReview {
        metadata: Default::default(),
        spec: SubjectAccessReviewSpec {
            user: Some(user.name.clone()),
            groups: Some(user.groups.clone()),
            resource_attributes,
            non_resource_attributes,
            ..Default::default()
        },
        status: None,
    }
}

/// How many reviews are in flight at once.
const CONCURRENT_REVIEWS: usize = 32;

/// Asks the server and the engine every question for `subject` and reports every
/// disagreement; adds the SelfSubjectRulesReview cross-check when the client is `subject`.
pub async fn probe_rbac(
    client: &Client,
    authorizer: &Authorizer,
    subject: &ServiceAccountRef,
    questions: &[Attributes],
) -> Result<ProbeReport, ClusterError> {
    let user = subject.user();
    let reviews: Api<SubjectAccessReview> = Api::all(client.clone());
    let answers: Vec<(Attributes, ServerAnswer)> = futures::stream::iter(questions.iter().cloned())
        .map(|question| {
            let reviews = reviews.clone();
            let review = subject_access_review(&user, &question);
            async move {
                let created = reviews.create(&PostParams::default(), &review).await.map_err(|source| {
                    ClusterError::Review { review: format!("SubjectAccessReview for {question}"), source }
                })?;
                Ok::<_, ClusterError>((question, ServerAnswer::from_status(created.status)))
            }
        })
        .buffered(CONCURRENT_REVIEWS)
        .try_collect()
        .await?;
    let mut report = compare_answers(authorizer, &user, &answers);
    match who_am_i(client).await? {
        None => report.notes.push(
            "SelfSubjectRulesReview skipped: the server does not say who the client is (no SelfSubjectReview)"
                .to_string(),
        ),
        Some(name) if name != user.name => report.notes.push(format!(
            "SelfSubjectRulesReview skipped: the client is {name:?}, not {:?} (it only reviews the caller)",
            user.name
        )),
        Some(_) => {
            let namespaces: BTreeSet<&str> =
                questions.iter().map(|q| q.namespace.as_str()).filter(|ns| !ns.is_empty()).collect();
            let rules_reviews: Api<SelfSubjectRulesReview> = Api::all(client.clone());
            for namespace in namespaces {
                let review = SelfSubjectRulesReview {
                    spec: SelfSubjectRulesReviewSpec { namespace: Some(namespace.to_string()) },
                    ..Default::default()
                };
                let created = rules_reviews.create(&PostParams::default(), &review).await.map_err(|source| {
                    ClusterError::Review { review: format!("SelfSubjectRulesReview in {namespace:?}"), source }
                })?;
                let status = created.status.unwrap_or_default();
                let rules: Vec<PolicyRule> = status.resource_rules.iter().map(policy_rule).collect();
                if status.incomplete {
                    report.notes.push(format!(
                        "SelfSubjectRulesReview in {namespace:?} is incomplete{}",
                        status.evaluation_error.map(|e| format!(": {e}")).unwrap_or_default()
                    ));
                }
                let (checked, found) =
                    compare_rules(authorizer, &user, namespace, &rules, status.incomplete, questions);
                report.rules_checked += checked;
                report.disagreements.extend(found);
            }
        }
    }
    Ok(report)
}

/// The client's own user name, by SelfSubjectReview; `None` when the server does not serve it
/// (before 1.28, or a server without authentication such as the fake).
/// [`probe_rbac`] for each ServiceAccount with its [`questions_for`], a few at a time;
/// the reports come back in `subjects` order.
pub async fn probe_service_accounts(
    client: &Client,
    authorizer: &Authorizer,
    subjects: &[ServiceAccountRef],
) -> Result<Vec<ProbeReport>, ClusterError> {
    futures::stream::iter(subjects)
        .map(|subject| async move { probe_rbac(client, authorizer, subject, &questions_for(subject)).await })
        .buffered(CONCURRENT_SUBJECTS)
        .try_collect()
        .await
}

/// How many ServiceAccounts are probed at once (each with [`CONCURRENT_REVIEWS`] reviews).
const CONCURRENT_SUBJECTS: usize = 4;

async fn who_am_i(client: &Client) -> Result<Option<String>, ClusterError> {
    let reviews: Api<SelfSubjectReview> = Api::all(client.clone());
    match reviews.create(&PostParams::default(), &SelfSubjectReview::default()).await {
        Ok(review) => Ok(review.status.and_then(|s| s.user_info).and_then(|u| u.username)),
        Err(error) if matches!(error_code(&error), Some(404 | 405)) => Ok(None),
        Err(source) => Err(ClusterError::Review { review: "SelfSubjectReview".to_string(), source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use autolabs_rbac::Policy;
    use autolabs_rbac::k8s::{ObjectMeta, Role, RoleBinding, Subject};
    use k8s_openapi::api::rbac::v1::RoleRef;

    fn rule(group: &str, resource: &str, verbs: &[&str]) -> PolicyRule {
        PolicyRule {
            api_groups: Some(vec![group.to_string()]),
            resources: Some(vec![resource.to_string()]),
            verbs: verbs.iter().map(|v| v.to_string()).collect(),
            ..Default::default()
        }
    }

    /// The provisioner: `get`/`create` pods in `labs`, nothing else.
    fn provisioner_engine() -> Authorizer {
        let meta = |name: &str| ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some("labs".to_string()),
            ..Default::default()
        };
        let role = Role { metadata: meta("p"), rules: Some(vec![rule("", "pods", &["get", "create"])]) };
        let binding = RoleBinding {
            metadata: meta("p"),
            role_ref: RoleRef {
                api_group: "rbac.authorization.k8s.io".into(),
                kind: "Role".into(),
                name: "p".into(),
            },
            subjects: Some(vec![Subject {
                kind: "ServiceAccount".into(),
                name: "p".into(),
                namespace: Some("platform".into()),
                ..Default::default()
            }]),
        };
        Authorizer::new(&Policy::bootstrap().with_object(role).with_object(binding)).expect("valid policy")
    }

    fn answer(allowed: bool) -> ServerAnswer {
        ServerAnswer { allowed, ..Default::default() }
    }

    #[test]
    fn answers_are_compared_question_by_question() {
        // (question, server allowed, disagreement expected) — rbac.go Authorize vs the server
        let pods = |verb: &str, ns: &str| Attributes::resource(verb, "", "pods").in_namespace(ns);
        let rows = [
            (pods("get", "labs"), true, false),
            (pods("delete", "labs"), false, false),
            (pods("delete", "labs"), true, true),
            (pods("create", "labs"), false, true),
            (pods("get", "default"), false, false),
        ];
        let engine = provisioner_engine();
        let user = ServiceAccountRef::new("platform", "p").user();
        for (question, server, expected) in rows {
            let report = compare_answers(&engine, &user, &[(question.clone(), answer(server))]);
            assert_eq!(report.disagreements.len(), usize::from(expected), "{question}: {report:?}");
            assert_eq!(report.asked, 1);
        }
        let all = [(pods("get", "labs"), answer(true)), (pods("list", "labs"), answer(true))];
        let report = compare_answers(&engine, &user, &all);
        assert_eq!((report.agreed_allowed, report.agreed_denied), (1, 0));
        let d = &report.disagreements[0];
        assert!(!d.engine_allowed && d.server.allowed);
        assert_eq!(d.engine_chain, "no RBAC rule allows it");
        let chain = engine_answer(&engine, &user, &pods("get", "labs")).1;
        assert!(chain.contains("RoleBinding \"labs/p\"") && chain.contains("Role \"labs/p\""), "{chain}");
        assert!(d.to_string().contains("server (SubjectAccessReview) says allowed"), "{d}");
        let found = findings(&report);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].engine, found[0].rule.as_str()), ("rbac", "probe-disagreement"));
        assert_eq!(found[0].severity, autolabs_verify::Severity::Error);
        assert!(
            found[0].message.starts_with("system:serviceaccount:platform:p: list pods"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn every_service_account_is_asked_about_its_own_namespace_too() {
        let standard = standard_questions();
        assert_eq!(questions_for(&ServiceAccountRef::new("platform", "p")), standard);
        let own = questions_for(&ServiceAccountRef::new("monitoring", "prometheus"));
        assert!(own.len() > standard.len());
        assert!(standard.iter().all(|q| own.contains(q)), "the standard questions are all still asked");
        assert!(own.iter().any(|q| q.namespace == "monitoring" && q.resource == "pods" && q.verb == "list"));
    }

    #[test]
    fn the_platforms_service_accounts_are_those_autolabs_rendered() {
        let mut set = autolabs_verify::ObjectSet::default();
        set.add_text(
            "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: b, namespace: platform, labels: {app.kubernetes.io/managed-by: autolabs}}\n---\n\
             apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a, namespace: platform, labels: {app.kubernetes.io/managed-by: autolabs}}\n---\n\
             apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: default, namespace: platform}\n",
            "cluster",
        );
        assert!(set.errors.is_empty(), "{:?}", set.errors);
        assert_eq!(
            platform_service_accounts(&set),
            [ServiceAccountRef::new("platform", "a"), ServiceAccountRef::new("platform", "b")]
        );
    }

    #[test]
    fn rules_reviews_are_matched_like_rbac_rules() {
        let engine = provisioner_engine();
        let user = ServiceAccountRef::new("platform", "p").user();
        let questions: Vec<Attributes> = ["get", "create", "delete"]
            .iter()
            .map(|verb| Attributes::resource(*verb, "", "pods").in_namespace("labs"))
            .chain([Attributes::resource("get", "", "pods").in_namespace("default")])
            .collect();
        // The same rules: agreement; only questions of the namespace are checked.
        let same = [rule("", "pods", &["get", "create"])];
        assert_eq!(compare_rules(&engine, &user, "labs", &same, false, &questions), (3, vec![]));
        // A rule missing: a disagreement, unless the review is incomplete.
        let fewer = [rule("", "pods", &["get"])];
        assert_eq!(compare_rules(&engine, &user, "labs", &fewer, false, &questions).1.len(), 1);
        assert_eq!(compare_rules(&engine, &user, "labs", &fewer, true, &questions).1.len(), 0);
        // A rule more: a disagreement even when incomplete.
        let more = [rule("", "pods", &["*"])];
        let (_, found) = compare_rules(&engine, &user, "labs", &more, true, &questions);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].question.verb, "delete");
        assert_eq!(found[0].source, ReviewSource::SelfSubjectRulesReview);
    }

    #[test]
    fn reviews_carry_the_service_accounts_user_and_groups() {
        let user = ServiceAccountRef::new("platform", "autolabs-provisioner").user();
        let question = Attributes::resource("create", "", "pods").subresource("exec").in_namespace("labs");
        let review = subject_access_review(&user, &question);
        let value = serde_json::to_value(&review).expect("serializes");
        assert_eq!(value["spec"]["user"], "system:serviceaccount:platform:autolabs-provisioner");
        assert_eq!(
            value["spec"]["groups"],
            serde_json::json!([
                "system:serviceaccounts",
                "system:serviceaccounts:platform",
                "system:authenticated"
            ])
        );
        assert_eq!(
            value["spec"]["resourceAttributes"],
            serde_json::json!({"verb": "create", "resource": "pods", "subresource": "exec", "namespace": "labs"})
        );
        assert!(value["spec"].get("nonResourceAttributes").is_none());
    }

    #[test]
    fn standard_questions_cover_every_scope_once() {
        let questions = standard_questions();
        let unique: BTreeSet<String> = questions.iter().map(|q| q.to_string()).collect();
        assert_eq!(unique.len(), questions.len(), "no question twice");
        let namespaced = PROBE_RESOURCES.iter().filter(|r| r.namespaced).count();
        let cluster_only = PROBE_RESOURCES.len() - namespaced;
        let special: usize = PROBE_SPECIAL
            .iter()
            .map(|(_, r)| if r.namespaced { PROBE_NAMESPACES.len() + 1 } else { 1 })
            .sum();
        assert_eq!(
            questions.len(),
            PROBE_VERBS.len() * (namespaced * (PROBE_NAMESPACES.len() + 1) + cluster_only) + special
        );
        assert!(questions.iter().any(|q| q.to_string() == "create pods/exec in namespace \"labs\""));
        assert!(questions.iter().any(|q| q.to_string() == "get nodes/proxy cluster-wide"));
        assert!(!questions.iter().any(|q| q.resource == "nodes" && !q.namespace.is_empty()));
    }
}
