//! `metav1.Status` failures, built and worded as `k8s.io/apimachinery/pkg/api/errors` builds them.
//!
//! Every refusal of the fake (and of an [`Admission`](super::Admission) plugin) is one of these,
//! so a `kube::Client` sees exactly the `kube::Error::Api` a real API server would cause.

use serde_json::{Value, json};

/// `metav1.StatusReason`: the machine-readable reason of a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusReason {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    AlreadyExists,
    Conflict,
    Gone,
    /// `StatusReasonExpired`: what a watch or continue token older than the history gets (410).
    Expired,
    Invalid,
    MethodNotAllowed,
    NotAcceptable,
    UnsupportedMediaType,
    RequestEntityTooLarge,
    TooManyRequests,
    InternalError,
    ServiceUnavailable,
    Timeout,
    /// `metav1.StatusReasonUnknown` (`""`): the reason is left out.
    Unknown,
}

impl StatusReason {
    /// The reason as it appears in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            StatusReason::BadRequest => "BadRequest",
            StatusReason::Unauthorized => "Unauthorized",
            StatusReason::Forbidden => "Forbidden",
            StatusReason::NotFound => "NotFound",
            StatusReason::AlreadyExists => "AlreadyExists",
            StatusReason::Conflict => "Conflict",
            StatusReason::Gone => "Gone",
            StatusReason::Expired => "Expired",
            StatusReason::Invalid => "Invalid",
            StatusReason::MethodNotAllowed => "MethodNotAllowed",
            StatusReason::NotAcceptable => "NotAcceptable",
            StatusReason::UnsupportedMediaType => "UnsupportedMediaType",
            StatusReason::RequestEntityTooLarge => "RequestEntityTooLarge",
            StatusReason::TooManyRequests => "TooManyRequests",
            StatusReason::InternalError => "InternalError",
            StatusReason::ServiceUnavailable => "ServiceUnavailable",
            StatusReason::Timeout => "Timeout",
            StatusReason::Unknown => "",
        }
    }
}

/// One `details.causes` entry (a field-level validation error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCause {
    /// `FieldValueInvalid`, `FieldValueRequired`, …
    pub reason: String,
    pub message: String,
    /// The field path, such as `metadata.name`.
    pub field: String,
}

/// A failed API call: HTTP code, reason, message and details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub code: u16,
    pub reason: StatusReason,
    pub message: String,
    /// Boxed so that `Result<_, Status>` stays small.
    pub details: Box<StatusDetails>,
}

/// `metav1.StatusDetails`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatusDetails {
    /// `details.name`.
    pub name: Option<String>,
    /// `details.group`.
    pub group: Option<String>,
    /// `details.kind`: the resource (`pods`) for most errors, the Kind (`Pod`) for Invalid.
    pub kind: Option<String>,
    pub causes: Vec<StatusCause>,
    /// `details.retryAfterSeconds`, also sent as the `Retry-After` header.
    pub retry_after_seconds: Option<u32>,
    /// Send `details` even when empty (`{}`), as generic server responses do.
    pub shown_when_empty: bool,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({} {})", self.message, self.code, self.reason.as_str())
    }
}

impl std::error::Error for Status {}

/// `schema.GroupResource.String()`: `pods`, `deployments.apps`.
fn qualified(resource: &str, group: &str) -> String {
    if group.is_empty() { resource.to_string() } else { format!("{resource}.{group}") }
}

impl Status {
    /// A status with a code, reason and message and no details.
    pub fn new(code: u16, reason: StatusReason, message: impl Into<String>) -> Self {
        Status { code, reason, message: message.into(), details: Box::default() }
    }

    fn with_details(mut self, name: &str, group: &str, kind: &str) -> Self {
        self.details.name = (!name.is_empty()).then(|| name.to_string());
        self.details.group = (!group.is_empty()).then(|| group.to_string());
        self.details.kind = (!kind.is_empty()).then(|| kind.to_string());
        self
    }

    // k8s.io/apimachinery/pkg/api/errors/errors.go NewNotFound
    pub fn not_found(resource: &str, group: &str, name: &str) -> Self {
        Status::new(404, StatusReason::NotFound, format!("{} {name:?} not found", qualified(resource, group)))
            .with_details(name, group, resource)
    }

    // k8s.io/apimachinery/pkg/api/errors/errors.go NewAlreadyExists
    pub fn already_exists(resource: &str, group: &str, name: &str) -> Self {
        Status::new(
            409,
            StatusReason::AlreadyExists,
            format!("{} {name:?} already exists", qualified(resource, group)),
        )
        .with_details(name, group, resource)
    }

    // k8s.io/apimachinery/pkg/api/errors/errors.go NewConflict (with storage.ErrConflict's optimistic-lock text)
    pub fn conflict(resource: &str, group: &str, name: &str) -> Self {
        Status::conflict_because(
            resource,
            group,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    // k8s.io/apimachinery/pkg/api/errors/errors.go NewConflict
    pub fn conflict_because(resource: &str, group: &str, name: &str, why: &str) -> Self {
        Status::new(
            409,
            StatusReason::Conflict,
            format!("Operation cannot be fulfilled on {} {name:?}: {why}", qualified(resource, group)),
        )
        .with_details(name, group, resource)
    }

    /// A conflict the storage layer reports, which names the kind rather than the resource.
    // k8s.io/apiserver/pkg/storage/errors.go NewInvalidObjError → errors.NewConflict(kind)
    pub fn conflict_on_kind(kind: &str, group: &str, name: &str, why: &str) -> Self {
        Status::new(
            409,
            StatusReason::Conflict,
            format!("Operation cannot be fulfilled on {kind} {name:?}: {why}"),
        )
        .with_details(name, group, kind)
    }

    // k8s.io/apimachinery/pkg/api/errors/errors.go NewForbidden
    pub fn forbidden(resource: &str, group: &str, name: &str, why: &str) -> Self {
        let message = if name.is_empty() {
            format!("{} is forbidden: {why}", qualified(resource, group))
        } else {
            format!("{} {name:?} is forbidden: {why}", qualified(resource, group))
        };
        Status::new(403, StatusReason::Forbidden, message).with_details(name, group, resource)
    }

    /// A 422 for the given field errors (`field: message` pairs, message starting with
    /// `Invalid value: …`, `Required value…`, …).
    // k8s.io/apimachinery/pkg/api/errors/errors.go NewInvalid
    pub fn invalid(kind: &str, group: &str, name: &str, errors: &[(String, String)]) -> Self {
        let rendered: Vec<String> = errors.iter().map(|(field, m)| format!("{field}: {m}")).collect();
        // k8s.io/apimachinery/pkg/util/errors/errors.go aggregate.Error
        let aggregate = match rendered.as_slice() {
            [one] => one.clone(),
            many => format!("[{}]", many.join(", ")),
        };
        // schema.GroupKind.String(): `Kind.group` outside the core group
        let qualified_kind = if group.is_empty() { kind.to_string() } else { format!("{kind}.{group}") };
        let mut status = Status::new(
            422,
            StatusReason::Invalid,
            format!("{qualified_kind} {name:?} is invalid: {aggregate}"),
        )
        .with_details(name, group, kind);
        status.details.causes = errors
            .iter()
            .map(|(field, message)| StatusCause {
                reason: cause_reason(message).to_string(),
                message: message.clone(),
                field: field.clone(),
            })
            .collect();
        status
    }

    // k8s.io/apimachinery/pkg/api/errors/errors.go NewBadRequest
    pub fn bad_request(message: impl Into<String>) -> Self {
        Status::new(400, StatusReason::BadRequest, message)
    }

    /// 410 for a watch or continue token older than the retained history.
    // k8s.io/apiserver/pkg/storage/cacher/watch_cache.go errors.NewResourceExpired ("too old resource version")
    pub fn expired(message: impl Into<String>) -> Self {
        Status::new(410, StatusReason::Expired, message)
    }

    // k8s.io/apimachinery/pkg/api/errors/errors.go NewTooManyRequests
    pub fn too_many_requests(retry_after_seconds: u32) -> Self {
        let mut status =
            Status::new(429, StatusReason::TooManyRequests, "Too many requests, please try again later.");
        status.details.retry_after_seconds = Some(retry_after_seconds);
        status
    }

    /// A 500 with the handler's own message and no reason (errors the apiserver does not
    /// classify become such a Status).
    // k8s.io/apiserver/pkg/endpoints/handlers/responsewriters/status.go ErrorToAPIStatus (default case)
    pub fn internal_message(message: impl Into<String>) -> Self {
        Status::new(500, StatusReason::Unknown, message)
    }

    // k8s.io/apimachinery/pkg/api/errors/errors.go NewInternalError
    pub fn internal(why: &str) -> Self {
        Status::new(500, StatusReason::InternalError, format!("Internal error occurred: {why}"))
    }

    // k8s.io/apimachinery/pkg/api/errors/errors.go NewServiceUnavailable
    pub fn service_unavailable(why: &str) -> Self {
        Status::new(503, StatusReason::ServiceUnavailable, why)
    }

    // k8s.io/apimachinery/pkg/api/errors/errors.go NewMethodNotSupported
    pub fn method_not_supported(resource: &str, group: &str, action: &str) -> Self {
        Status::new(
            405,
            StatusReason::MethodNotAllowed,
            format!("{action} is not supported on resources of kind {:?}", qualified(resource, group)),
        )
        .with_details("", group, resource)
    }

    /// What the server answers for a path that names no resource it serves.
    // k8s.io/apiserver/pkg/endpoints/handlers/responsewriters/errors.go (NotFound with no details)
    pub fn no_such_path() -> Self {
        Status::new(404, StatusReason::NotFound, "the server could not find the requested resource")
    }

    /// A patch of a media type no patcher handles.
    // k8s.io/apiserver/pkg/endpoints/handlers/patch.go PatchResource (NewGenericServerResponse(415, "patch", …))
    pub fn unsupported_media_type() -> Self {
        let mut status = Status::new(415, StatusReason::UnsupportedMediaType, "415: Unsupported Media Type");
        status.details.shown_when_empty = true;
        status
    }

    /// The `Status` object as JSON.
    pub fn to_json(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason.as_str(),
            "code": self.code,
        });
        if self.reason == StatusReason::Unknown
            && let Some(map) = status.as_object_mut()
        {
            map.remove("reason");
        }
        let mut details = serde_json::Map::new();
        if let Some(name) = &self.details.name {
            details.insert("name".into(), json!(name));
        }
        if let Some(group) = &self.details.group {
            details.insert("group".into(), json!(group));
        }
        if let Some(kind) = &self.details.kind {
            details.insert("kind".into(), json!(kind));
        }
        if !self.details.causes.is_empty() {
            let causes: Vec<Value> = self
                .details
                .causes
                .iter()
                .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
                .collect();
            details.insert("causes".into(), Value::Array(causes));
        }
        if let Some(seconds) = self.details.retry_after_seconds {
            details.insert("retryAfterSeconds".into(), json!(seconds));
        }
        if !details.is_empty() || self.details.shown_when_empty {
            status["details"] = Value::Object(details);
        }
        status
    }
}

/// `field.ErrorType` → `metav1.CauseType`, judged from the message's leading words.
// k8s.io/apimachinery/pkg/util/validation/field/errors.go ErrorType.String
fn cause_reason(message: &str) -> &'static str {
    if message.starts_with("Required value") {
        "FieldValueRequired"
    } else if message.starts_with("Duplicate value") {
        "FieldValueDuplicate"
    } else if message.starts_with("Unsupported value") {
        "FieldValueNotSupported"
    } else if message.starts_with("Forbidden") {
        "FieldValueForbidden"
    } else if message.starts_with("Too long") {
        "FieldValueTooLong"
    } else {
        "FieldValueInvalid"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_worded_like_upstream() {
        let rows: [(Status, u16, &str, &str); 6] = [
            // errors.NewNotFound
            (Status::not_found("pods", "", "x"), 404, "NotFound", "pods \"x\" not found"),
            // errors.NewNotFound with a group: GroupResource.String()
            (
                Status::not_found("deployments", "apps", "web"),
                404,
                "NotFound",
                "deployments.apps \"web\" not found",
            ),
            // errors.NewAlreadyExists
            (Status::already_exists("pods", "", "x"), 409, "AlreadyExists", "pods \"x\" already exists"),
            // errors.NewConflict + storage optimistic lock message
            (
                Status::conflict("pods", "", "x"),
                409,
                "Conflict",
                "Operation cannot be fulfilled on pods \"x\": the object has been modified; please apply your changes to the latest version and try again",
            ),
            // errors.NewForbidden
            (
                Status::forbidden("pods", "", "p", "exceeded quota: q"),
                403,
                "Forbidden",
                "pods \"p\" is forbidden: exceeded quota: q",
            ),
            // errors.NewInvalid, one cause
            (
                Status::invalid(
                    "Pod",
                    "",
                    "P",
                    &[("metadata.name".into(), "Invalid value: \"P\": bad".into())],
                ),
                422,
                "Invalid",
                "Pod \"P\" is invalid: metadata.name: Invalid value: \"P\": bad",
            ),
        ];
        for (status, code, reason, message) in rows {
            assert_eq!(status.code, code);
            assert_eq!(status.reason.as_str(), reason);
            assert_eq!(status.message, message);
            let json = status.to_json();
            assert_eq!(json["kind"], "Status");
            assert_eq!(json["status"], "Failure");
            assert_eq!(json["code"], code);
        }
    }

    #[test]
    fn invalid_lists_causes_and_aggregates_several() {
        let status = Status::invalid(
            "Pod",
            "",
            "p",
            &[
                ("spec.containers".into(), "Required value".into()),
                ("metadata.name".into(), "Invalid value: \"p\": x".into()),
            ],
        );
        assert_eq!(
            status.message,
            "Pod \"p\" is invalid: [spec.containers: Required value, metadata.name: Invalid value: \"p\": x]"
        );
        let json = status.to_json();
        assert_eq!(json["details"]["causes"][0]["reason"], "FieldValueRequired");
        assert_eq!(json["details"]["causes"][1]["reason"], "FieldValueInvalid");
        assert_eq!(json["details"]["kind"], "Pod");
    }

    #[test]
    fn too_many_requests_carries_retry_after() {
        let json = Status::too_many_requests(2).to_json();
        assert_eq!(json["code"], 429);
        assert_eq!(json["details"]["retryAfterSeconds"], 2);
    }
}
