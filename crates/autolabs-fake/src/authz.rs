//! Access reviews on the fake: `POST /apis/authorization.k8s.io/v1/subjectaccessreviews` and
//! `selfsubjectaccessreviews` (`kubectl auth can-i`), and `POST
//! /apis/authentication.k8s.io/v1/selfsubjectreviews` (`kubectl auth whoami`).
//!
//! # Model
//!
//! The fake authorizes every request it serves (it has no authentication), but it can answer
//! the question "may user U with groups G do this?" the way an RBAC-enabled kube-apiserver
//! does, when [`FakeConfig::authorizer`](super::FakeConfig::authorizer) holds a
//! [`ReviewAuthorizer`]. The authorizer is a trait object so the fake stays independent of
//! any one policy:
//! - [`RbacReviewAuthorizer`] is the RBAC engine (`autolabs-rbac`) over the bootstrap policy
//!   plus the Roles, ClusterRoles, bindings and ServiceAccounts stored in the fake: the fake
//!   then answers like a cluster whose only authorizer is RBAC.
//! - [`OverridingAuthorizer`] wraps another and forces chosen answers: the way tests seed a
//!   server that disagrees with our engine.
//!
//! Without an authorizer the review says what the fake really does: allowed.
//!
//! The caller ("self"): the fake authenticates nobody and serves every request, so a caller
//! is what every request effectively is, an administrator ([`caller`]: group
//! `system:masters`, bound to `cluster-admin` by the bootstrap policy); kubectl's `--as` and
//! `--as-group` (the `Impersonate-User` and `Impersonate-Group` headers) ask as someone else.
//!
//! What it does not serve: `selfsubjectrulesreviews` and `localsubjectaccessreviews`, and
//! non-resource attributes are answered like resource ones are (by the authorizer).

use std::sync::{Arc, Mutex};

use autolabs_rbac::{Attributes, Authorizer, Decision, Policy, PolicyObject, UserInfo};
use serde_json::{Value, json};

use super::Shared;
use super::status::Status;

/// The path of the review of anyone's access.
pub(crate) const SUBJECT_ACCESS_REVIEWS: &str = "/apis/authorization.k8s.io/v1/subjectaccessreviews";
/// The path of the review of the caller's own access (`kubectl auth can-i`).
pub(crate) const SELF_SUBJECT_ACCESS_REVIEWS: &str = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
/// The path of the caller's own identity (`kubectl auth whoami`).
pub(crate) const SELF_SUBJECT_REVIEWS: &str = "/apis/authentication.k8s.io/v1/selfsubjectreviews";

/// The user name the fake gives a caller who impersonates nobody.
pub const ADMIN_USER: &str = "kubernetes-admin";

/// The RBAC objects stored in the fake when a review is asked, and the revision they are from.
#[derive(Debug, Clone, Copy)]
pub struct StoredPolicy<'a> {
    /// The store's resourceVersion: equal revisions mean equal objects.
    pub revision: u64,
    /// Every Role, ClusterRole, RoleBinding, ClusterRoleBinding and ServiceAccount, as stored.
    pub objects: &'a [Value],
}

/// A review's answer: `SubjectAccessReviewStatus`.
// k8s.io/api/authorization/v1/types.go SubjectAccessReviewStatus
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReviewDecision {
    pub allowed: bool,
    /// An explicit deny (RBAC never denies; only other authorizers do).
    pub denied: bool,
    pub reason: String,
    pub evaluation_error: String,
}

impl ReviewDecision {
    pub fn allow(reason: impl Into<String>) -> Self {
        ReviewDecision { allowed: true, reason: reason.into(), ..Default::default() }
    }

    /// No opinion: not allowed, not explicitly denied.
    pub fn no_opinion(reason: impl Into<String>) -> Self {
        ReviewDecision { reason: reason.into(), ..Default::default() }
    }
}

/// What answers access reviews on the fake.
pub trait ReviewAuthorizer: Send + Sync {
    /// A short name for logs and `Debug`.
    fn name(&self) -> &str;
    /// The decision for `user` making the request `attributes`, given what the fake stores.
    fn review(&self, user: &UserInfo, attributes: &Attributes, stored: StoredPolicy<'_>) -> ReviewDecision;
}

/// The RBAC engine over the bootstrap policy and the fake's stored RBAC objects. The engine is
/// rebuilt only when the store changed since the last review.
#[derive(Default)]
pub struct RbacReviewAuthorizer {
    cached: Mutex<Option<(u64, BuiltAuthorizer)>>,
}

/// The engine built from one revision, or why the stored policy could not be built.
type BuiltAuthorizer = Result<Arc<Authorizer>, String>;

impl RbacReviewAuthorizer {
    pub fn new() -> Self {
        RbacReviewAuthorizer::default()
    }

    fn authorizer(&self, stored: StoredPolicy<'_>) -> BuiltAuthorizer {
        let mut cached = self.cached.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((revision, authorizer)) = cached.as_ref()
            && *revision == stored.revision
        {
            return authorizer.clone();
        }
        let built = build_authorizer(stored.objects);
        *cached = Some((stored.revision, built.clone()));
        built
    }
}

/// Bootstrap policy + stored objects → the engine (an object that does not parse is skipped,
/// as the API server would never have stored it).
fn build_authorizer(objects: &[Value]) -> BuiltAuthorizer {
    let mut policy = Policy::bootstrap();
    for object in objects {
        let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
        let parsed: Option<PolicyObject> = match kind {
            "Role" => serde_json::from_value::<autolabs_rbac::k8s::Role>(object.clone()).ok().map(Into::into),
            "ClusterRole" => {
                serde_json::from_value::<autolabs_rbac::k8s::ClusterRole>(object.clone()).ok().map(Into::into)
            }
            "RoleBinding" => {
                serde_json::from_value::<autolabs_rbac::k8s::RoleBinding>(object.clone()).ok().map(Into::into)
            }
            "ClusterRoleBinding" => {
                serde_json::from_value::<autolabs_rbac::k8s::ClusterRoleBinding>(object.clone())
                    .ok()
                    .map(Into::into)
            }
            "ServiceAccount" => serde_json::from_value::<autolabs_rbac::k8s::ServiceAccount>(object.clone())
                .ok()
                .map(Into::into),
            _ => None,
        };
        if let Some(parsed) = parsed {
            policy.add(parsed);
        }
    }
    Authorizer::new(&policy).map(Arc::new).map_err(|e| e.to_string())
}

impl ReviewAuthorizer for RbacReviewAuthorizer {
    fn name(&self) -> &str {
        "RBAC"
    }

    fn review(&self, user: &UserInfo, attributes: &Attributes, stored: StoredPolicy<'_>) -> ReviewDecision {
        let authorizer = match self.authorizer(stored) {
            Ok(authorizer) => authorizer,
            Err(error) => {
                return ReviewDecision { evaluation_error: error, ..Default::default() };
            }
        };
        // k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac/rbac.go Authorize (reason wording)
        match authorizer.authorize(user, attributes) {
            Decision::Allow(grant) => ReviewDecision::allow(format!(
                "RBAC: allowed by {} of {} to {}",
                grant.binding,
                grant.role,
                autolabs_rbac::authorizer::describe_subject(&grant.subject)
            )),
            Decision::NoOpinion { resolution_errors } => ReviewDecision {
                evaluation_error: resolution_errors.join("; "),
                ..ReviewDecision::no_opinion("")
            },
        }
    }
}

/// Another authorizer, except for the listed requests, whose answer is forced: a server that
/// disagrees with the engine on purpose.
pub struct OverridingAuthorizer {
    pub inner: Arc<dyn ReviewAuthorizer>,
    /// `(request, allowed)`: a request equal to one listed (any user) gets that answer.
    pub overrides: Vec<(Attributes, bool)>,
}

impl ReviewAuthorizer for OverridingAuthorizer {
    fn name(&self) -> &str {
        "overriding"
    }

    fn review(&self, user: &UserInfo, attributes: &Attributes, stored: StoredPolicy<'_>) -> ReviewDecision {
        match self.overrides.iter().find(|(request, _)| request == attributes) {
            Some((_, true)) => ReviewDecision::allow("allowed by the test's override"),
            Some((_, false)) => ReviewDecision::no_opinion("denied by the test's override"),
            None => self.inner.review(user, attributes, stored),
        }
    }
}

/// Who a request is from: the impersonated user of `Impersonate-User` (groups from
/// `Impersonate-Group`, plus `system:authenticated`; a ServiceAccount's groups when none are
/// given), else [`ADMIN_USER`] in `system:masters`.
// k8s.io/apiserver/pkg/endpoints/filters/impersonation.go WithImpersonation
pub(crate) fn caller(headers: &::http::HeaderMap) -> UserInfo {
    let values = |name: &str| -> Vec<String> {
        headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).map(String::from).collect()
    };
    let Some(name) = values("impersonate-user").into_iter().next().filter(|n| !n.is_empty()) else {
        return UserInfo::new(ADMIN_USER, ["system:masters", "system:authenticated"]);
    };
    let mut groups = values("impersonate-group");
    if groups.is_empty()
        && let Some((namespace, _)) =
            name.strip_prefix("system:serviceaccount:").and_then(|rest| rest.split_once(':'))
    {
        groups = vec!["system:serviceaccounts".to_string(), format!("system:serviceaccounts:{namespace}")];
    }
    if name == "system:anonymous" {
        if !groups.iter().any(|g| g == "system:unauthenticated") {
            groups.push("system:unauthenticated".to_string());
        }
    } else if !groups.iter().any(|g| g == "system:authenticated") {
        groups.push("system:authenticated".to_string());
    }
    UserInfo::new(name, groups)
}

/// The configured authorizer's decision (allowed when there is none, as the fake allows all).
fn decide(shared: &Shared, user: &UserInfo, attributes: &Attributes) -> ReviewDecision {
    match &shared.authorizer {
        None => ReviewDecision::allow("the fake API server authorizes every request"),
        Some(authorizer) => {
            let (revision, objects) = {
                let store = shared.lock();
                let objects: Vec<Value> = store
                    .objects()
                    .filter(|(key, _)| {
                        key.group == "rbac.authorization.k8s.io"
                            || (key.group.is_empty() && key.plural == "serviceaccounts")
                    })
                    .map(|(_, object)| (**object).clone())
                    .collect();
                (store.revision(), objects)
            };
            authorizer.review(user, attributes, StoredPolicy { revision, objects: &objects })
        }
    }
}

fn parse_review(body: &[u8]) -> Result<Value, Status> {
    serde_json::from_slice(body)
        .map_err(|e| Status::bad_request(format!("the request body is not valid JSON: {e}")))
}

/// The review with its `status` filled in from `decision`.
fn answered(review: Value, decision: ReviewDecision) -> Value {
    let mut status = json!({"allowed": decision.allowed});
    if decision.denied {
        status["denied"] = json!(true);
    }
    if !decision.reason.is_empty() {
        status["reason"] = json!(decision.reason);
    }
    if !decision.evaluation_error.is_empty() {
        status["evaluationError"] = json!(decision.evaluation_error);
    }
    with_status(review, status)
}

/// The created review: its `status` set, and `metadata` an object as the server returns it.
fn with_status(mut review: Value, status: Value) -> Value {
    review["status"] = status;
    if review.get("metadata").is_none_or(|m| !m.is_object()) {
        review["metadata"] = json!({});
    }
    review
}

/// Answers `POST …/subjectaccessreviews` with the created review (status filled in).
// k8s.io/kubernetes/pkg/registry/authorization/subjectaccessreview/rest.go (REST).Create
pub(crate) fn subject_access_review(shared: &Shared, body: &[u8]) -> Result<(u16, Value), Status> {
    let review = parse_review(body)?;
    let (user, attributes) = review_request(&review)?;
    let decision = decide(shared, &user, &attributes);
    Ok((201, answered(review, decision)))
}

/// Answers `POST …/selfsubjectaccessreviews`: the same question about the caller.
// k8s.io/kubernetes/pkg/registry/authorization/selfsubjectaccessreview/rest.go (REST).Create
pub(crate) fn self_subject_access_review(
    shared: &Shared,
    caller: &UserInfo,
    body: &[u8],
) -> Result<(u16, Value), Status> {
    let review = parse_review(body)?;
    let mut as_subject = review.get("spec").and_then(Value::as_object).cloned().unwrap_or_default();
    as_subject.insert("user".into(), json!(caller.name));
    as_subject.insert("groups".into(), json!(caller.groups));
    // ValidateSelfSubjectAccessReviewSpec: the attribute checks of a SubjectAccessReview.
    let (_, attributes) = review_request_of("SelfSubjectAccessReview", &json!({"spec": as_subject}))?;
    let decision = decide(shared, caller, &attributes);
    Ok((201, answered(review, decision)))
}

/// Answers `POST …/selfsubjectreviews` with the caller's user info.
// k8s.io/kubernetes/pkg/registry/authentication/selfsubjectreview/rest.go (REST).Create
pub(crate) fn self_subject_review(caller: &UserInfo, body: &[u8]) -> Result<(u16, Value), Status> {
    let review = parse_review(body)?;
    let status = json!({"userInfo": {"username": caller.name, "groups": caller.groups}});
    Ok((201, with_status(review, status)))
}

/// The user and request attributes of a review's spec, validated as upstream validates them.
// k8s.io/kubernetes/pkg/apis/authorization/validation/validation.go ValidateSubjectAccessReviewSpec
// k8s.io/kubernetes/pkg/registry/authorization/util/helpers.go AuthorizationAttributesFrom
fn review_request(review: &Value) -> Result<(UserInfo, Attributes), Status> {
    review_request_of("SubjectAccessReview", review)
}

/// [`review_request`] for a review of this kind (the kind errors name).
fn review_request_of(kind: &str, review: &Value) -> Result<(UserInfo, Attributes), Status> {
    let spec = review.get("spec").cloned().unwrap_or(Value::Null);
    let text = |pointer: &str| spec.pointer(pointer).and_then(Value::as_str).unwrap_or("").to_string();
    let user = text("/user");
    let groups: Vec<String> = spec
        .get("groups")
        .and_then(Value::as_array)
        .map(|groups| groups.iter().filter_map(Value::as_str).map(String::from).collect())
        .unwrap_or_default();
    let resource = spec.get("resourceAttributes").filter(|v| v.is_object());
    let non_resource = spec.get("nonResourceAttributes").filter(|v| v.is_object());
    let mut problems = Vec::new();
    match (resource, non_resource) {
        (Some(_), Some(_)) => problems.push((
            "spec.nonResourceAttributes".to_string(),
            "Invalid value: \"null\": cannot be specified in combination with resourceAttributes"
                .to_string(),
        )),
        (None, None) => problems.push((
            "spec.resourceAttributes".to_string(),
            "Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified"
                .to_string(),
        )),
        _ => {}
    }
    if user.is_empty() && groups.is_empty() {
        problems.push((
            "spec.user".to_string(),
            "Invalid value: \"\": at least one of user or group must be specified".to_string(),
        ));
    }
    if !problems.is_empty() {
        return Err(Status::invalid(kind, "authorization.k8s.io", "", &problems));
    }
    let attributes = match (resource, non_resource) {
        (Some(attrs), _) => {
            let field = |name: &str| attrs.get(name).and_then(Value::as_str).unwrap_or("").to_string();
            let mut attributes = Attributes::resource(field("verb"), field("group"), field("resource"))
                .in_namespace(field("namespace"))
                .subresource(field("subresource"))
                .named(field("name"));
            // `version` does not take part in RBAC decisions.
            attributes.resource_request = true;
            attributes
        }
        (None, Some(attrs)) => {
            let field = |name: &str| attrs.get(name).and_then(Value::as_str).unwrap_or("").to_string();
            Attributes::non_resource(field("verb"), field("path"))
        }
        (None, None) => Attributes::default(),
    };
    Ok((UserInfo::new(user, groups), attributes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn review_specs_are_validated_like_upstream() {
        // (spec, accepted) — pkg/apis/authorization/validation ValidateSubjectAccessReviewSpec
        let rows = [
            (json!({"user": "u", "resourceAttributes": {"verb": "get", "resource": "pods"}}), true),
            (json!({"groups": ["g"], "nonResourceAttributes": {"verb": "get", "path": "/healthz"}}), true),
            (json!({"resourceAttributes": {"verb": "get", "resource": "pods"}}), false),
            (json!({"user": "u"}), false),
            (
                json!({"user": "u", "resourceAttributes": {"verb": "get"}, "nonResourceAttributes": {"verb": "get"}}),
                false,
            ),
        ];
        for (spec, accepted) in rows {
            let result = review_request(&json!({"spec": spec}));
            assert_eq!(result.is_ok(), accepted, "{spec}: {result:?}");
            if let Err(status) = result {
                assert_eq!(status.code, 422, "{spec}");
            }
        }
    }

    #[test]
    fn resource_attributes_become_the_engines_request() {
        let review = json!({"spec": {"user": "system:serviceaccount:platform:p", "groups": ["system:serviceaccounts"],
            "resourceAttributes": {"verb": "create", "namespace": "labs", "resource": "pods", "subresource": "exec", "name": "x"}}});
        let (user, attrs) = review_request(&review).expect("valid");
        assert_eq!(user.name, "system:serviceaccount:platform:p");
        assert_eq!(user.groups, vec!["system:serviceaccounts".to_string()]);
        assert_eq!(
            attrs,
            Attributes::resource("create", "", "pods").in_namespace("labs").subresource("exec").named("x")
        );
    }

    #[test]
    fn rbac_authorizer_uses_the_bootstrap_policy_and_stored_objects() {
        let role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "r", "namespace": "labs"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]});
        let binding = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "b", "namespace": "labs"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
            "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": "platform"}]});
        let authorizer = RbacReviewAuthorizer::new();
        let sa = UserInfo::service_account("platform", "sa");
        let get_pods = Attributes::resource("get", "", "pods").in_namespace("labs");
        let objects = [role, binding];
        let stored = StoredPolicy { revision: 1, objects: &objects };
        let allowed = authorizer.review(&sa, &get_pods, stored);
        assert!(allowed.allowed, "{allowed:?}");
        assert!(allowed.reason.contains("RoleBinding \"labs/b\""), "{}", allowed.reason);
        assert!(!authorizer.review(&sa, &get_pods.clone().in_namespace("default"), stored).allowed);
        // Bootstrap: every authenticated user may ask for its own access reviews' discovery.
        let discovery = Attributes::non_resource("get", "/version");
        assert!(authorizer.review(&sa, &discovery, stored).allowed);
        // A newer revision without the objects: the engine is rebuilt.
        assert!(!authorizer.review(&sa, &get_pods, StoredPolicy { revision: 2, objects: &[] }).allowed);
    }

    #[test]
    fn overrides_win_over_the_wrapped_authorizer() {
        let get_pods = Attributes::resource("get", "", "pods").in_namespace("labs");
        let authorizer = OverridingAuthorizer {
            inner: Arc::new(RbacReviewAuthorizer::new()),
            overrides: vec![(get_pods.clone(), true)],
        };
        let anyone = UserInfo::new("u", ["g"]);
        let stored = StoredPolicy { revision: 0, objects: &[] };
        assert!(authorizer.review(&anyone, &get_pods, stored).allowed);
        assert!(!authorizer.review(&anyone, &get_pods.clone().in_namespace("x"), stored).allowed);
    }
}
