//! Request bodies in Kubernetes' protobuf encoding (`application/vnd.kubernetes.protobuf`),
//! decoded to the JSON the rest of the fake reads.
//!
//! kube-apiserver accepts protobuf for every built-in kind, and client-go's typed clients
//! (kubectl ≥ 1.32: `kubectl create namespace|configmap|secret|…`, `kubectl auth can-i`)
//! send it by default ("prefers protobuf"), with no fallback to JSON on 415. The fake has no
//! generated protobuf code, so it decodes the wire format with a small table of message
//! layouts: the kinds those kubectl commands create, with the field numbers of upstream's
//! `generated.proto` files. A kind or field outside the table is a 415 naming it, never a
//! silently dropped field.
//!
//! Zero values: Go's protobuf marshalling writes every non-pointer field, empty ones included,
//! where its JSON encoding omits them (`omitempty`); decoding therefore drops empty strings,
//! empty messages and lists, and the zero of fields marked [`Ty::IntOmitZero`].

use serde_json::{Map, Value};

use super::status::{Status, StatusReason};

/// The media type of Kubernetes' protobuf encoding.
pub(crate) const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The 4-byte prefix of every protobuf-encoded object.
// k8s.io/apimachinery/pkg/runtime/serializer/protobuf/protobuf.go protoEncodingPrefix
const MAGIC: &[u8] = b"k8s\x00";

/// How one field's value is encoded.
#[derive(Clone, Copy)]
enum Ty {
    Str,
    /// A pointer integer (`*int64`): written only when set, so 0 is kept.
    Int,
    /// A non-pointer integer with `omitempty`.
    IntOmitZero,
    Bool,
    Msg(&'static Message),
    /// `metav1.Time`: `seconds` (1), `nanos` (2); the zero time is JSON `null`.
    Time,
    /// `map<string, string>`.
    MapStr,
    /// `map<string, bytes>` (base64 in JSON).
    MapBytes,
    /// `map<string, Quantity>` (`ResourceList`; `resource.Quantity` is `string` (1)).
    MapQuantity,
}

#[derive(Clone, Copy)]
struct Field {
    number: u64,
    name: &'static str,
    ty: Ty,
    repeated: bool,
}

struct Message {
    name: &'static str,
    fields: &'static [Field],
}

const fn one(number: u64, name: &'static str, ty: Ty) -> Field {
    Field { number, name, ty, repeated: false }
}

const fn many(number: u64, name: &'static str, ty: Ty) -> Field {
    Field { number, name, ty, repeated: true }
}

// k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto
static OBJECT_META: Message = Message {
    name: "ObjectMeta",
    fields: &[
        one(1, "name", Ty::Str),
        one(2, "generateName", Ty::Str),
        one(3, "namespace", Ty::Str),
        one(4, "selfLink", Ty::Str),
        one(5, "uid", Ty::Str),
        one(6, "resourceVersion", Ty::Str),
        one(7, "generation", Ty::IntOmitZero),
        one(8, "creationTimestamp", Ty::Time),
        one(9, "deletionTimestamp", Ty::Time),
        one(10, "deletionGracePeriodSeconds", Ty::Int),
        one(11, "labels", Ty::MapStr),
        one(12, "annotations", Ty::MapStr),
        many(13, "ownerReferences", Ty::Msg(&OWNER_REFERENCE)),
        many(14, "finalizers", Ty::Str),
    ],
};

static OWNER_REFERENCE: Message = Message {
    name: "OwnerReference",
    fields: &[
        one(1, "kind", Ty::Str),
        one(3, "name", Ty::Str),
        one(4, "uid", Ty::Str),
        one(5, "apiVersion", Ty::Str),
        one(6, "controller", Ty::Bool),
        one(7, "blockOwnerDeletion", Ty::Bool),
    ],
};

static LABEL_SELECTOR: Message = Message {
    name: "LabelSelector",
    fields: &[
        one(1, "matchLabels", Ty::MapStr),
        many(2, "matchExpressions", Ty::Msg(&LABEL_SELECTOR_REQUIREMENT)),
    ],
};

static LABEL_SELECTOR_REQUIREMENT: Message = Message {
    name: "LabelSelectorRequirement",
    fields: &[one(1, "key", Ty::Str), one(2, "operator", Ty::Str), many(3, "values", Ty::Str)],
};

// k8s.io/api/core/v1/generated.proto
static NAMESPACE: Message = Message {
    name: "Namespace",
    fields: &[
        one(1, "metadata", Ty::Msg(&OBJECT_META)),
        one(2, "spec", Ty::Msg(&NAMESPACE_SPEC)),
        one(3, "status", Ty::Msg(&NAMESPACE_STATUS)),
    ],
};

static NAMESPACE_SPEC: Message = Message { name: "NamespaceSpec", fields: &[many(1, "finalizers", Ty::Str)] };

static NAMESPACE_STATUS: Message = Message { name: "NamespaceStatus", fields: &[one(1, "phase", Ty::Str)] };

static CONFIG_MAP: Message = Message {
    name: "ConfigMap",
    fields: &[
        one(1, "metadata", Ty::Msg(&OBJECT_META)),
        one(2, "data", Ty::MapStr),
        one(3, "binaryData", Ty::MapBytes),
        one(4, "immutable", Ty::Bool),
    ],
};

static SECRET: Message = Message {
    name: "Secret",
    fields: &[
        one(1, "metadata", Ty::Msg(&OBJECT_META)),
        one(2, "data", Ty::MapBytes),
        one(3, "type", Ty::Str),
        one(4, "stringData", Ty::MapStr),
        one(5, "immutable", Ty::Bool),
    ],
};

static SERVICE_ACCOUNT: Message = Message {
    name: "ServiceAccount",
    fields: &[
        one(1, "metadata", Ty::Msg(&OBJECT_META)),
        many(2, "secrets", Ty::Msg(&OBJECT_REFERENCE)),
        many(3, "imagePullSecrets", Ty::Msg(&LOCAL_OBJECT_REFERENCE)),
        one(4, "automountServiceAccountToken", Ty::Bool),
    ],
};

static OBJECT_REFERENCE: Message = Message {
    name: "ObjectReference",
    fields: &[
        one(1, "kind", Ty::Str),
        one(2, "namespace", Ty::Str),
        one(3, "name", Ty::Str),
        one(4, "uid", Ty::Str),
        one(5, "apiVersion", Ty::Str),
        one(6, "resourceVersion", Ty::Str),
        one(7, "fieldPath", Ty::Str),
    ],
};

static LOCAL_OBJECT_REFERENCE: Message =
    Message { name: "LocalObjectReference", fields: &[one(1, "name", Ty::Str)] };

static RESOURCE_QUOTA: Message = Message {
    name: "ResourceQuota",
    fields: &[
        one(1, "metadata", Ty::Msg(&OBJECT_META)),
        one(2, "spec", Ty::Msg(&RESOURCE_QUOTA_SPEC)),
        one(3, "status", Ty::Msg(&RESOURCE_QUOTA_STATUS)),
    ],
};

static RESOURCE_QUOTA_SPEC: Message = Message {
    name: "ResourceQuotaSpec",
    fields: &[
        one(1, "hard", Ty::MapQuantity),
        many(2, "scopes", Ty::Str),
        one(3, "scopeSelector", Ty::Msg(&SCOPE_SELECTOR)),
    ],
};

static RESOURCE_QUOTA_STATUS: Message = Message {
    name: "ResourceQuotaStatus",
    fields: &[one(1, "hard", Ty::MapQuantity), one(2, "used", Ty::MapQuantity)],
};

static SCOPE_SELECTOR: Message =
    Message { name: "ScopeSelector", fields: &[many(1, "matchExpressions", Ty::Msg(&SCOPED_REQUIREMENT))] };

static SCOPED_REQUIREMENT: Message = Message {
    name: "ScopedResourceSelectorRequirement",
    fields: &[one(1, "scopeName", Ty::Str), one(2, "operator", Ty::Str), many(3, "values", Ty::Str)],
};

// k8s.io/api/rbac/v1/generated.proto
static ROLE: Message = Message {
    name: "Role",
    fields: &[one(1, "metadata", Ty::Msg(&OBJECT_META)), many(2, "rules", Ty::Msg(&POLICY_RULE))],
};

static CLUSTER_ROLE: Message = Message {
    name: "ClusterRole",
    fields: &[
        one(1, "metadata", Ty::Msg(&OBJECT_META)),
        many(2, "rules", Ty::Msg(&POLICY_RULE)),
        one(3, "aggregationRule", Ty::Msg(&AGGREGATION_RULE)),
    ],
};

static AGGREGATION_RULE: Message =
    Message { name: "AggregationRule", fields: &[many(1, "clusterRoleSelectors", Ty::Msg(&LABEL_SELECTOR))] };

static POLICY_RULE: Message = Message {
    name: "PolicyRule",
    fields: &[
        many(1, "verbs", Ty::Str),
        many(2, "apiGroups", Ty::Str),
        many(3, "resources", Ty::Str),
        many(4, "resourceNames", Ty::Str),
        many(5, "nonResourceURLs", Ty::Str),
    ],
};

static ROLE_BINDING: Message = Message {
    name: "RoleBinding",
    fields: &[
        one(1, "metadata", Ty::Msg(&OBJECT_META)),
        many(2, "subjects", Ty::Msg(&SUBJECT)),
        one(3, "roleRef", Ty::Msg(&ROLE_REF)),
    ],
};

static SUBJECT: Message = Message {
    name: "Subject",
    fields: &[
        one(1, "kind", Ty::Str),
        one(2, "apiGroup", Ty::Str),
        one(3, "name", Ty::Str),
        one(4, "namespace", Ty::Str),
    ],
};

static ROLE_REF: Message = Message {
    name: "RoleRef",
    fields: &[one(1, "apiGroup", Ty::Str), one(2, "kind", Ty::Str), one(3, "name", Ty::Str)],
};

// k8s.io/api/authorization/v1/generated.proto
static SELF_SUBJECT_ACCESS_REVIEW: Message = Message {
    name: "SelfSubjectAccessReview",
    fields: &[
        one(1, "metadata", Ty::Msg(&OBJECT_META)),
        one(2, "spec", Ty::Msg(&SELF_SUBJECT_ACCESS_REVIEW_SPEC)),
        one(3, "status", Ty::Msg(&SUBJECT_ACCESS_REVIEW_STATUS)),
    ],
};

static SELF_SUBJECT_ACCESS_REVIEW_SPEC: Message = Message {
    name: "SelfSubjectAccessReviewSpec",
    fields: &[
        one(1, "resourceAttributes", Ty::Msg(&RESOURCE_ATTRIBUTES)),
        one(2, "nonResourceAttributes", Ty::Msg(&NON_RESOURCE_ATTRIBUTES)),
    ],
};

static SUBJECT_ACCESS_REVIEW: Message = Message {
    name: "SubjectAccessReview",
    fields: &[
        one(1, "metadata", Ty::Msg(&OBJECT_META)),
        one(2, "spec", Ty::Msg(&SUBJECT_ACCESS_REVIEW_SPEC)),
        one(3, "status", Ty::Msg(&SUBJECT_ACCESS_REVIEW_STATUS)),
    ],
};

static SUBJECT_ACCESS_REVIEW_SPEC: Message = Message {
    name: "SubjectAccessReviewSpec",
    fields: &[
        one(1, "resourceAttributes", Ty::Msg(&RESOURCE_ATTRIBUTES)),
        one(2, "nonResourceAttributes", Ty::Msg(&NON_RESOURCE_ATTRIBUTES)),
        one(3, "user", Ty::Str),
        many(4, "groups", Ty::Str),
        one(6, "uid", Ty::Str),
    ],
};

static RESOURCE_ATTRIBUTES: Message = Message {
    name: "ResourceAttributes",
    fields: &[
        one(1, "namespace", Ty::Str),
        one(2, "verb", Ty::Str),
        one(3, "group", Ty::Str),
        one(4, "version", Ty::Str),
        one(5, "resource", Ty::Str),
        one(6, "subresource", Ty::Str),
        one(7, "name", Ty::Str),
    ],
};

static NON_RESOURCE_ATTRIBUTES: Message =
    Message { name: "NonResourceAttributes", fields: &[one(1, "path", Ty::Str), one(2, "verb", Ty::Str)] };

static SUBJECT_ACCESS_REVIEW_STATUS: Message = Message {
    name: "SubjectAccessReviewStatus",
    fields: &[
        one(1, "allowed", Ty::Bool),
        one(2, "reason", Ty::Str),
        one(3, "evaluationError", Ty::Str),
        one(4, "denied", Ty::Bool),
    ],
};

// k8s.io/api/authentication/v1/generated.proto
static SELF_SUBJECT_REVIEW: Message = Message {
    name: "SelfSubjectReview",
    fields: &[
        one(1, "metadata", Ty::Msg(&OBJECT_META)),
        one(2, "status", Ty::Msg(&SELF_SUBJECT_REVIEW_STATUS)),
    ],
};

static SELF_SUBJECT_REVIEW_STATUS: Message =
    Message { name: "SelfSubjectReviewStatus", fields: &[one(1, "userInfo", Ty::Msg(&USER_INFO))] };

static USER_INFO: Message = Message {
    name: "UserInfo",
    fields: &[one(1, "username", Ty::Str), one(2, "uid", Ty::Str), many(3, "groups", Ty::Str)],
};

/// `(apiVersion, kind)` → layout: the kinds the fake decodes from protobuf.
static KINDS: &[(&str, &str, &Message)] = &[
    ("v1", "Namespace", &NAMESPACE),
    ("v1", "ConfigMap", &CONFIG_MAP),
    ("v1", "Secret", &SECRET),
    ("v1", "ServiceAccount", &SERVICE_ACCOUNT),
    ("v1", "ResourceQuota", &RESOURCE_QUOTA),
    ("rbac.authorization.k8s.io/v1", "Role", &ROLE),
    ("rbac.authorization.k8s.io/v1", "ClusterRole", &CLUSTER_ROLE),
    ("rbac.authorization.k8s.io/v1", "RoleBinding", &ROLE_BINDING),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", &ROLE_BINDING),
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview", &SELF_SUBJECT_ACCESS_REVIEW),
    ("authorization.k8s.io/v1", "SubjectAccessReview", &SUBJECT_ACCESS_REVIEW),
    ("authentication.k8s.io/v1", "SelfSubjectReview", &SELF_SUBJECT_REVIEW),
];

/// Whether a `Content-Type` is the protobuf encoding.
pub(crate) fn is_protobuf(content_type: &str) -> bool {
    content_type.split(';').next().unwrap_or("").trim() == MEDIA_TYPE
}

/// A protobuf body as the JSON object it encodes (`apiVersion` and `kind` included).
// k8s.io/apimachinery/pkg/runtime/serializer/protobuf/protobuf.go (*Serializer).Decode
pub(crate) fn to_json(body: &[u8]) -> Result<Value, Status> {
    let envelope = body.strip_prefix(MAGIC).ok_or_else(|| {
        Status::bad_request(
            "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]",
        )
    })?;
    // k8s.io/apimachinery/pkg/runtime/generated.proto Unknown: typeMeta 1, raw 2.
    let mut api_version = String::new();
    let mut kind = String::new();
    let mut raw: &[u8] = &[];
    for entry in Reader::new(envelope) {
        match entry? {
            (1, Wire::Len(type_meta)) => {
                for entry in Reader::new(type_meta) {
                    match entry? {
                        (1, Wire::Len(b)) => api_version = utf8(b)?,
                        (2, Wire::Len(b)) => kind = utf8(b)?,
                        _ => {}
                    }
                }
            }
            (2, Wire::Len(b)) => raw = b,
            _ => {}
        }
    }
    let Some((_, _, message)) = KINDS.iter().find(|(v, k, _)| *v == api_version && *k == kind) else {
        return Err(unsupported(&format!("{kind} ({api_version})")));
    };
    let mut object = Map::new();
    object.insert("apiVersion".into(), Value::String(api_version));
    object.insert("kind".into(), Value::String(kind));
    if let Value::Object(fields) = decode(raw, message)? {
        object.extend(fields);
    }
    Ok(Value::Object(object))
}

/// 415: the fake cannot read this protobuf body (the client can send JSON instead).
fn unsupported(what: &str) -> Status {
    Status::new(
        415,
        StatusReason::UnsupportedMediaType,
        format!(
            "the fake API server decodes {MEDIA_TYPE} only for some kinds and fields and cannot decode {what}; \
             send application/json"
        ),
    )
}

fn malformed() -> Status {
    Status::bad_request("the protobuf request body is malformed")
}

fn utf8(bytes: &[u8]) -> Result<String, Status> {
    String::from_utf8(bytes.to_vec()).map_err(|_| malformed())
}

fn decode(bytes: &[u8], message: &Message) -> Result<Value, Status> {
    let mut object = Map::new();
    for entry in Reader::new(bytes) {
        let (number, wire) = entry?;
        let Some(field) = message.fields.iter().find(|f| f.number == number) else {
            return Err(unsupported(&format!("field {number} of {}", message.name)));
        };
        let Some(value) = value_of(field.ty, wire)? else { continue };
        match field.ty {
            Ty::MapStr | Ty::MapBytes | Ty::MapQuantity => {
                let entry = object.entry(field.name).or_insert_with(|| Value::Object(Map::new()));
                if let (Value::Object(map), Value::Object(pair)) = (entry, value) {
                    map.extend(pair);
                }
            }
            _ if field.repeated => {
                if let Value::Array(items) =
                    object.entry(field.name).or_insert_with(|| Value::Array(Vec::new()))
                {
                    items.push(value);
                }
            }
            _ => {
                object.insert(field.name.to_string(), value);
            }
        }
    }
    // Go's JSON omits what its protobuf encoding wrote empty.
    object.retain(|_, v| match v {
        Value::String(s) => !s.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => true,
    });
    Ok(Value::Object(object))
}

/// One field's value; `None` for a zero that JSON omits. Map fields give a one-entry object.
fn value_of(ty: Ty, wire: Wire<'_>) -> Result<Option<Value>, Status> {
    let value = match (ty, wire) {
        (Ty::Str, Wire::Len(b)) => Value::String(utf8(b)?),
        (Ty::Int, Wire::Varint(n)) => Value::from(n as i64),
        (Ty::IntOmitZero, Wire::Varint(0)) => return Ok(None),
        (Ty::IntOmitZero, Wire::Varint(n)) => Value::from(n as i64),
        (Ty::Bool, Wire::Varint(n)) => Value::Bool(n != 0),
        (Ty::Msg(message), Wire::Len(b)) => decode(b, message)?,
        (Ty::Time, Wire::Len(b)) => {
            let (mut seconds, mut nanos) = (0i64, 0i64);
            for entry in Reader::new(b) {
                match entry? {
                    (1, Wire::Varint(n)) => seconds = n as i64,
                    (2, Wire::Varint(n)) => nanos = n as i64,
                    _ => {}
                }
            }
            if seconds == 0 && nanos == 0 {
                return Ok(None);
            }
            Value::String(rfc3339(seconds))
        }
        (Ty::MapStr | Ty::MapBytes | Ty::MapQuantity, Wire::Len(b)) => {
            let (mut key, mut value) = (String::new(), Value::String(String::new()));
            for entry in Reader::new(b) {
                match entry? {
                    (1, Wire::Len(k)) => key = utf8(k)?,
                    (2, Wire::Len(v)) => {
                        value = match ty {
                            Ty::MapBytes => Value::String(base64(v)),
                            Ty::MapQuantity => quantity(v)?,
                            _ => Value::String(utf8(v)?),
                        }
                    }
                    _ => return Err(malformed()),
                }
            }
            let mut pair = Map::new();
            pair.insert(key, value);
            Value::Object(pair)
        }
        _ => return Err(malformed()),
    };
    Ok(Some(value))
}

fn quantity(bytes: &[u8]) -> Result<Value, Status> {
    let mut text = String::new();
    for entry in Reader::new(bytes) {
        if let (1, Wire::Len(s)) = entry? {
            text = utf8(s)?;
        }
    }
    Ok(Value::String(text))
}

/// Standard base64 with padding, as Go's `encoding/json` writes `[]byte`: what
/// `k8s_openapi::ByteString` (a Secret's `data` values) serializes to.
fn base64(bytes: &[u8]) -> String {
    match serde_json::to_value(k8s_openapi::ByteString(bytes.to_vec())) {
        Ok(Value::String(text)) => text,
        _ => String::new(),
    }
}

/// Seconds since the epoch as RFC 3339 UTC (`metav1.Time`'s JSON form); a time outside
/// years -9999..=9999 (which no Kubernetes object carries) becomes the epoch.
fn rfc3339(seconds: i64) -> String {
    let at = k8s_openapi::jiff::Timestamp::from_second(seconds)
        .unwrap_or(k8s_openapi::jiff::Timestamp::UNIX_EPOCH);
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// One field on the wire.
enum Wire<'a> {
    Varint(u64),
    Len(&'a [u8]),
    Fixed,
}

/// The fields of one message, in order.
struct Reader<'a> {
    bytes: &'a [u8],
    failed: bool,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, failed: false }
    }

    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for (i, byte) in self.bytes.iter().enumerate().take(10) {
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                self.bytes = &self.bytes[i + 1..];
                return Some(value);
            }
        }
        None
    }

    fn next_field(&mut self) -> Option<(u64, Wire<'a>)> {
        let key = self.varint()?;
        let wire = match key & 7 {
            0 => Wire::Varint(self.varint()?),
            1 | 5 => {
                let width = if key & 7 == 1 { 8 } else { 4 };
                self.bytes = self.bytes.get(width..)?;
                Wire::Fixed
            }
            2 => {
                let len = usize::try_from(self.varint()?).ok()?;
                let bytes = self.bytes;
                let value = bytes.get(..len)?;
                self.bytes = &bytes[len..];
                Wire::Len(value)
            }
            _ => return None,
        };
        Some((key >> 3, wire))
    }
}

impl<'a> Iterator for Reader<'a> {
    type Item = Result<(u64, Wire<'a>), Status>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.bytes.is_empty() {
            return None;
        }
        match self.next_field() {
            Some(field) => Some(Ok(field)),
            None => {
                self.failed = true;
                Some(Err(malformed()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kubectl_create_configmap_body_decodes() {
        // kubectl v1.33 `-n default create configmap c9 --from-literal=a=b`, as its -v=9 log dumps it.
        let body: &[u8] = &[
            0x6b, 0x38, 0x73, 0x00, 0x0a, 0x0f, 0x0a, 0x02, 0x76, 0x31, 0x12, 0x09, 0x43, 0x6f, 0x6e, 0x66,
            0x69, 0x67, 0x4d, 0x61, 0x70, 0x12, 0x23, 0x0a, 0x19, 0x0a, 0x02, 0x63, 0x39, 0x12, 0x00, 0x1a,
            0x07, 0x64, 0x65, 0x66, 0x61, 0x75, 0x6c, 0x74, 0x22, 0x00, 0x2a, 0x00, 0x32, 0x00, 0x38, 0x00,
            0x42, 0x00, 0x12, 0x06, 0x0a, 0x01, 0x61, 0x12, 0x01, 0x62, 0x1a, 0x00, 0x22, 0x00,
        ];
        assert_eq!(
            to_json(body).expect("decodes"),
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "c9", "namespace": "default"}, "data": {"a": "b"}})
        );
    }

    #[test]
    fn unknown_kinds_and_fields_are_415_and_garbage_is_400() {
        let unknown_kind = b"k8s\x00\x0a\x0e\x0a\x07apps/v1\x12\x03Foo\x12\x00";
        assert_eq!(to_json(unknown_kind).unwrap_err().code, 415);
        // A ConfigMap with field 9.
        let unknown_field = b"k8s\x00\x0a\x0f\x0a\x02v1\x12\x09ConfigMap\x12\x02\x48\x01";
        assert_eq!(to_json(unknown_field).unwrap_err().code, 415);
        assert_eq!(to_json(b"{}").unwrap_err().code, 400);
        assert_eq!(to_json(b"k8s\x00\x0a\xff").unwrap_err().code, 400);
    }

    #[test]
    fn scalars_render_like_go_json() {
        assert_eq!(base64(b"hello"), "aGVsbG8=");
        assert_eq!(base64(b"hi"), "aGk=");
        assert_eq!(base64(b"abc"), "YWJj");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_735_689_600), "2025-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
