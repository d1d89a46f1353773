//! Strict decoding: each object is read as the API server reads it, so an object the engines
//! cannot read is never dropped without a word.
//!
//! The API server decodes a request body into its Go type and refuses it when a field has the
//! wrong type (`json: cannot unmarshal string into Go struct field …`), and, under strict field
//! validation (`kubectl apply`'s default `--validate=strict`), when a field is unknown
//! (`strict decoding error: unknown field "spec.containers[0].securityContext.runAsNonRot"`).
//! Mirrors: k8s.io/apimachinery/pkg/runtime/serializer/json/json.go `Serializer.Decode`
//! (strict mode) and k8s.io/apiserver/pkg/endpoints/handlers/rest.go field validation.
//!
//! k8s-openapi's types ignore unknown fields; `serde_ignored` reports each one as it is skipped,
//! in the same single pass that checks the types. Only when that pass fails does a second pass
//! with `serde_path_to_error` find where.

use k8s_openapi::Resource;
use k8s_openapi::api::{apps, autoscaling, batch, core, networking, policy, rbac, storage};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::de::DeserializeOwned;
use serde_json::Value;

use autolabs_k8s::{names, yaml};

/// Why the API server would not decode an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A field whose value has the wrong type (or an invalid value for its type).
    WrongType { path: String, message: String },
    /// A field the kind does not have.
    UnknownField { path: String },
    /// A required field that is absent.
    Missing { path: String },
    /// A value the API server's validation refuses (`metadata.name: Invalid value: …`).
    Invalid { path: String, value: String, message: String },
    /// Another rule of the API server's validation, in its words ("Required value: valid
    /// values: …", "Invalid value: {…}: `selector` does not match template `labels`").
    Rule { path: String, message: String },
}

impl Problem {
    /// The field path inside the object (`spec.containers[0].image`).
    pub fn path(&self) -> &str {
        match self {
            Problem::WrongType { path, .. }
            | Problem::UnknownField { path }
            | Problem::Missing { path }
            | Problem::Invalid { path, .. }
            | Problem::Rule { path, .. } => path,
        }
    }

    /// Whether the API server refuses the object only under strict field validation.
    pub fn only_when_strict(&self) -> bool {
        matches!(self, Problem::UnknownField { .. })
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::WrongType { path, message } | Problem::Rule { path, message } => {
                write!(f, "{path}: {message}")
            }
            Problem::UnknownField { path } => write!(f, "strict decoding error: unknown field {path:?}"),
            Problem::Missing { path } => write!(f, "{path}: Required value"),
            Problem::Invalid { path, value, message } => {
                write!(f, "{path}: Invalid value: {value:?}: {message}")
            }
        }
    }
}

/// Decodes `value` strictly as the kind its `apiVersion` and `kind` name; the problems found,
/// empty when the API server would decode it.
///
/// Kinds at the version k8s-openapi knows are decoded whole. Other versions of kinds that
/// carry a pod (`batch/v1beta1` CronJobs…) have their metadata and pod template decoded;
/// every other kind (custom resources too) has its `metadata` decoded, as the API server
/// decodes every object's ObjectMeta.
pub fn check(api_version: &str, kind: &str, value: &Value) -> Vec<Problem> {
    let mut problems = Vec::new();
    validate_metadata(api_version, kind, &value["metadata"], &mut problems);
    macro_rules! whole {
        ($($ty:ty),* $(,)?) => {
            $(
                if api_version == <$ty as Resource>::API_VERSION && kind == <$ty as Resource>::KIND {
                    decode::<$ty>(value, "", &mut problems);
                    return problems;
                }
            )*
        };
    }
    let group = api_version.split_once('/').map(|(g, _)| g).unwrap_or("");
    if let Some((_, spec)) = crate::objects::pod_spec_path(kind, group) {
        crate::pod_validation::check(api_version, kind, value, spec, &mut problems);
    }
    whole!(
        core::v1::Pod,
        core::v1::Namespace,
        core::v1::LimitRange,
        core::v1::ResourceQuota,
        core::v1::ServiceAccount,
        core::v1::PersistentVolumeClaim,
        core::v1::ReplicationController,
        core::v1::PodTemplate,
        core::v1::ConfigMap,
        core::v1::Service,
        apps::v1::Deployment,
        apps::v1::StatefulSet,
        apps::v1::DaemonSet,
        apps::v1::ReplicaSet,
        batch::v1::Job,
        batch::v1::CronJob,
        networking::v1::NetworkPolicy,
        rbac::v1::Role,
        rbac::v1::ClusterRole,
        rbac::v1::RoleBinding,
        rbac::v1::ClusterRoleBinding,
        storage::v1::StorageClass,
        policy::v1::PodDisruptionBudget,
        autoscaling::v1::HorizontalPodAutoscaler,
        autoscaling::v2::HorizontalPodAutoscaler,
    );
    decode_at::<ObjectMeta>(value, "metadata", &mut problems);
    if let Some((meta, spec)) = crate::objects::pod_spec_path(kind, group) {
        if !meta.is_empty() {
            decode_at::<ObjectMeta>(value, meta, &mut problems);
        }
        decode_at::<core::v1::PodSpec>(value, spec, &mut problems);
    }
    problems
}

/// The checks of ObjectMeta the API server makes for every object whose type it knows: a name
/// (or generateName), names of the right form, a namespace that is a DNS label, valid labels.
/// Mirrors: k8s.io/apimachinery/pkg/api/validation/objectmeta.go ValidateObjectMetaAccessor and
/// k8s.io/apimachinery/pkg/apis/meta/v1/validation/validation.go ValidateLabels.
fn validate_metadata(api_version: &str, kind: &str, meta: &Value, problems: &mut Vec<Problem>) {
    let group = api_version.split_once('/').map(|(g, _)| g).unwrap_or("");
    let name_rule: Option<fn(&str) -> Vec<String>> = match (group, kind) {
        // pkg/apis/core/validation/validation.go ValidateNamespaceName
        ("", "Namespace") => Some(names::dns1123_label),
        // pkg/apis/rbac/validation/validation.go ValidateRBACName (path.IsValidPathSegmentName)
        ("rbac.authorization.k8s.io", _) => Some(path_segment_name),
        // pkg/apis/core/validation/validation.go ValidateServiceName (DNS-1035 label)
        ("", "Service") => Some(dns1035_label),
        _ if crate::finding::is_read_by_an_engine(group, kind) && group != "monitoring.coreos.com" => {
            Some(names::dns1123_subdomain)
        }
        _ => None,
    };
    let Some(name_rule) = name_rule else { return };
    let string = |field: &str| meta.get(field).and_then(Value::as_str);
    match (string("name"), string("generateName")) {
        (Some(name), _) => invalid("metadata.name", name, name_rule(name), problems),
        (None, Some(_)) => {}
        (None, None) if meta.get("name").is_none_or(Value::is_null) => {
            problems.push(Problem::Missing { path: "metadata.name".into() })
        }
        (None, None) => {}
    }
    if let Some(ns) = string("namespace") {
        invalid("metadata.namespace", ns, names::dns1123_label(ns), problems);
    }
    if let Some(labels) = meta.get("labels").and_then(Value::as_object) {
        for (key, value) in labels {
            let path = yaml::join_key("metadata.labels", key);
            invalid(&path, key, names::qualified_name(key), problems);
            if let Some(v) = value.as_str() {
                invalid(&path, v, names::label_value(v), problems);
            }
        }
    }
}

fn invalid(path: &str, value: &str, errors: Vec<String>, problems: &mut Vec<Problem>) {
    if !errors.is_empty() {
        problems.push(Problem::Invalid {
            path: path.into(),
            value: value.into(),
            message: errors.join(", "),
        });
    }
}

/// k8s.io/apimachinery/pkg/api/validation/path/name.go IsValidPathSegmentName.
fn path_segment_name(name: &str) -> Vec<String> {
    if name == "." || name == ".." {
        return vec![format!("may not be '{name}'")];
    }
    name.chars()
        .filter(|c| *c == '/' || *c == '%')
        .take(1)
        .map(|c| format!("may not contain '{c}'"))
        .collect()
}

/// k8s.io/apimachinery/pkg/util/validation/validation.go IsDNS1035Label: a DNS-1123 label
/// that starts with a letter.
fn dns1035_label(name: &str) -> Vec<String> {
    let mut errors = names::dns1123_label(name);
    if errors.is_empty() && !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        errors.push("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123')".into());
    }
    errors
}

/// Decodes the value at a dotted path, when there is one.
fn decode_at<T: DeserializeOwned>(value: &Value, dotted: &str, problems: &mut Vec<Problem>) {
    let mut cur = value;
    for seg in dotted.split('.') {
        match cur.get(seg) {
            Some(v) => cur = v,
            None => return,
        }
    }
    if !cur.is_null() {
        decode::<T>(cur, dotted, problems);
    }
}

/// One pass that checks types and collects unknown fields. Only on failure, a second pass
/// locates the wrong type; the field is then taken out and the object decoded again, so every
/// wrong type and every unknown field is reported, as the API server reports them all.
fn decode<T: DeserializeOwned>(value: &Value, base: &str, problems: &mut Vec<Problem>) {
    const MOST_WRONG_TYPES: usize = 16;
    let mut unknown: Vec<String> = Vec::new();
    let mut without_wrong: Option<Value> = None;
    let mut removed: Vec<Vec<String>> = Vec::new();
    let mut wrong = Vec::new();
    loop {
        let current = without_wrong.as_ref().unwrap_or(value);
        let result: Result<T, _> = serde_ignored::deserialize(current, |p: serde_ignored::Path<'_>| {
            let path = ignored_path(base, &p);
            if !unknown.contains(&path) {
                unknown.push(path);
            }
        });
        if result.is_ok() {
            break;
        }
        let Err(e) = serde_path_to_error::deserialize::<_, T>(current) else { break };
        let mut path = base.to_string();
        let mut keys: Vec<String> = Vec::new();
        let mut removable = true;
        for seg in e.path().iter() {
            match seg {
                serde_path_to_error::Segment::Seq { index } => {
                    path = yaml::join_index(&path, *index);
                    keys.push(index.to_string());
                }
                serde_path_to_error::Segment::Map { key } => {
                    path = yaml::join_key(&path, key);
                    keys.push(key.clone());
                }
                serde_path_to_error::Segment::Enum { .. } | serde_path_to_error::Segment::Unknown => {
                    removable = false
                }
            }
        }
        let message = e.inner().to_string();
        if let Some(field) = missing_field(&message) {
            let mut missing = keys.clone();
            missing.push(field.to_string());
            let path = yaml::join_key(&path, field);
            // The validation rules may have named it, or a field inside it, already.
            let named = problems.iter().any(|p| {
                p.path() == path
                    || p.path().strip_prefix(path.as_str()).is_some_and(|rest| rest.starts_with(['.', '[']))
            });
            if !removed.contains(&missing) && !named {
                wrong.push(Problem::Missing { path });
            }
            break;
        }
        wrong.push(Problem::WrongType { path, message: with_yaml_hint(message) });
        let copy = without_wrong.get_or_insert_with(|| value.clone());
        if !removable || wrong.len() >= MOST_WRONG_TYPES || !remove_field(copy, &keys) {
            break;
        }
        removed.push(keys);
    }
    problems.extend(unknown.into_iter().map(|path| Problem::UnknownField { path }));
    problems.extend(wrong);
}

/// Takes the map entry at `keys` out of `value`; false when the last step is not a map key.
fn remove_field(value: &mut Value, keys: &[String]) -> bool {
    let Some((last, parents)) = keys.split_last() else { return false };
    let mut cur = value;
    for k in parents {
        cur = match cur {
            Value::Object(m) => match m.get_mut(k) {
                Some(v) => v,
                None => return false,
            },
            Value::Array(a) => match k.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                Some(v) => v,
                None => return false,
            },
            _ => return false,
        };
    }
    match cur {
        Value::Object(m) => m.shift_remove(last).is_some(),
        _ => false,
    }
}

/// serde's "missing field `containers`" names the field the API server calls Required.
fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

/// YAML turns unquoted `yes`, `on`, `0755`, `1.0` into booleans and numbers; say so when a
/// string was expected.
fn with_yaml_hint(message: String) -> String {
    let scalar_for_string = message.starts_with("invalid type:") && message.ends_with("expected a string");
    if scalar_for_string {
        format!("{message} (YAML reads unquoted true, yes, on, no, numbers… as other types: quote it)")
    } else {
        message
    }
}

/// serde_ignored's path in our dotted form, below `base`.
fn ignored_path(base: &str, p: &serde_ignored::Path<'_>) -> String {
    match p {
        serde_ignored::Path::Root => base.to_string(),
        serde_ignored::Path::Seq { parent, index } => yaml::join_index(&ignored_path(base, parent), *index),
        serde_ignored::Path::Map { parent, key } => yaml::join_key(&ignored_path(base, parent), key),
        serde_ignored::Path::Some { parent }
        | serde_ignored::Path::NewtypeStruct { parent }
        | serde_ignored::Path::NewtypeVariant { parent } => ignored_path(base, parent),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wrong_types_and_unknown_fields_are_found_with_their_paths() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"terminationGracePeriodSeconds": "30",
                     "containers": [{"name": "c", "image": "i", "securityContext": {"runAsNonRot": true}}]}});
        let problems = check("v1", "Pod", &pod);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(problems[0].path(), "spec.containers[0].securityContext.runAsNonRot");
        assert_eq!(
            problems[0].to_string(),
            "strict decoding error: unknown field \"spec.containers[0].securityContext.runAsNonRot\""
        );
        assert!(matches!(&problems[1], Problem::WrongType { path, message }
            if path == "spec.terminationGracePeriodSeconds" && message.contains("string \"30\"")));
    }

    #[test]
    fn pods_and_pod_templates_without_containers_are_refused() {
        let pod =
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": []}});
        let problems = check("v1", "Pod", &pod);
        assert_eq!(
            problems.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["spec.containers: Required value"]
        );
        let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"selector": {"matchLabels": {"a": "b"}},
                     "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": []}}}});
        let problems = check("apps/v1", "Deployment", &deploy);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].path(), "spec.template.spec.containers");
        let old_cronjob = json!({"apiVersion": "batch/v1beta1", "kind": "CronJob", "metadata": {"name": "c"},
            "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {"containers": [], "restartPolicy": "Never"}}}}}});
        let problems = check("batch/v1beta1", "CronJob", &old_cronjob);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].path(), "spec.jobTemplate.spec.template.spec.containers");
        let missing = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}});
        assert_eq!(check("v1", "Pod", &missing).len(), 1, "one Required, not two");
    }

    /// What the real API server answered (`kubectl create --dry-run=server`) for each input,
    /// in its order.
    #[test]
    fn objects_without_a_pod_spec_are_refused_as_the_api_server_refuses_them() {
        let cases = [
            (
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}),
                vec!["spec.containers: Required value"],
            ),
            (
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": null}),
                vec!["spec.containers: Required value"],
            ),
            (
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": null}}),
                vec!["spec.containers: Required value"],
            ),
            (
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                    "spec": {"containers": [{"name": "", "image": ""}], "initContainers": [{"name": "i"}]}}),
                vec![
                    "spec.containers[0].name: Required value",
                    "spec.containers[0].image: Required value",
                    "spec.initContainers[0].image: Required value",
                ],
            ),
            (
                json!({"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "t"}}),
                vec!["template.spec.containers: Required value"],
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}}),
                vec![
                    "spec.selector: Required value",
                    "spec.template.metadata.labels: Invalid value: null: `selector` does not match template `labels`",
                    "spec.template.spec.containers: Required value",
                ],
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {}}),
                vec![
                    "spec.selector: Required value",
                    "spec.template.metadata.labels: Invalid value: null: `selector` does not match template `labels`",
                    "spec.template.spec.containers: Required value",
                ],
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                    "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": null}}}),
                vec!["spec.template.spec.containers: Required value"],
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                    "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "c"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}}),
                vec![
                    "spec.template.metadata.labels: Invalid value: {\"a\":\"c\"}: `selector` does not match template `labels`",
                ],
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "s"},
                    "spec": {"selector": {}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}}),
                vec!["spec.selector: Invalid value: {}: empty selector is invalid for statefulset"],
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "s"}}),
                vec![
                    "spec.template.metadata.labels: Invalid value: null: `selector` does not match template `labels`",
                    "spec.template.spec.containers: Required value",
                ],
            ),
            (
                json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}}),
                vec![
                    "spec.template.spec.containers: Required value",
                    "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"",
                ],
            ),
            (
                json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
                    "spec": {"template": {"spec": {"restartPolicy": "Always", "containers": [{"name": "c", "image": "i"}]}}}}),
                vec![
                    "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"",
                ],
            ),
            (
                json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"}}),
                vec![
                    "spec.schedule: Required value",
                    "spec.jobTemplate.spec.template.spec.containers: Required value",
                    "spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"",
                ],
            ),
            (
                json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"}, "spec": {"schedule": "* * * * *", "jobTemplate": null}}),
                vec![
                    "spec.jobTemplate.spec.template.spec.containers: Required value",
                    "spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"",
                ],
            ),
            (
                json!({"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "r"}}),
                vec!["spec.selector: Required value", "spec.template: Required value"],
            ),
            (
                json!({"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "r"},
                    "spec": {"selector": {"a": "c"}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}}),
                vec![
                    "spec.template.metadata.labels: Invalid value: {\"a\":\"b\"}: `selector` does not match template `labels`",
                ],
            ),
            (
                json!({"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "r"},
                    "spec": {"template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}}),
                vec![],
            ),
        ];
        for (object, expected) in cases {
            let problems =
                check(object["apiVersion"].as_str().unwrap(), object["kind"].as_str().unwrap(), &object);
            let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
            assert_eq!(shown, expected, "{object}");
        }
        // A wrong type on the way is the decoder's to name, once.
        let wrong = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": "x"});
        let problems = check("v1", "Pod", &wrong);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(matches!(&problems[0], Problem::WrongType { path, .. } if path == "spec"), "{problems:?}");
    }

    #[test]
    fn label_values_must_be_strings() {
        let np = json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "deny", "labels": {"version": 1, "app.kubernetes.io/name": "x"}},
            "spec": {"podSelector": {}}});
        let problems = check("networking.k8s.io/v1", "NetworkPolicy", &np);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].path(), "metadata.labels.version");
        assert!(problems[0].to_string().contains("quote it"), "{}", problems[0]);
    }

    #[test]
    fn names_namespaces_and_labels_are_validated_as_the_api_server_does() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "My_Pod", "namespace": "lab.1", "labels": {"app": "a b"}},
            "spec": {"containers": [{"name": "c", "image": "i"}]}});
        let paths: Vec<String> = check("v1", "Pod", &pod).iter().map(ToString::to_string).collect();
        assert_eq!(paths.len(), 3, "{paths:?}");
        assert!(
            paths[0].starts_with("metadata.name: Invalid value: \"My_Pod\": a lowercase RFC 1123 subdomain"),
            "{paths:?}"
        );
        assert!(paths[1].starts_with("metadata.namespace: Invalid value: \"lab.1\""), "{paths:?}");
        assert!(paths[2].starts_with("metadata.labels.app: Invalid value: \"a b\""), "{paths:?}");
        let role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "system:aggregate-to-view"}});
        assert_eq!(check("rbac.authorization.k8s.io/v1", "ClusterRole", &role), vec![]);
        let unnamed = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}});
        assert_eq!(
            check("v1", "ConfigMap", &unnamed),
            vec![Problem::Missing { path: "metadata.name".into() }]
        );
        let generated = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"generateName": "j-"},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}], "restartPolicy": "Never"}}}});
        assert_eq!(check("batch/v1", "Job", &generated), vec![]);
    }

    #[test]
    fn quantities_may_be_numbers_and_nulls_are_absent_fields() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": null, "creationTimestamp": null},
            "spec": {"containers": [{"name": "c", "image": "i", "resources": {"limits": {"cpu": 1, "memory": "1Gi"}}}]},
            "status": {}});
        assert_eq!(check("v1", "Pod", &pod), vec![]);
    }

    #[test]
    fn other_versions_and_custom_resources_have_metadata_and_pod_templates_checked() {
        let cron = json!({"apiVersion": "batch/v1beta1", "kind": "CronJob", "metadata": {"name": "c", "labels": {"a": true}},
            "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "i", "imagePullPolcy": "Always"}]}}}}}});
        let paths: Vec<String> =
            check("batch/v1beta1", "CronJob", &cron).iter().map(|p| p.path().to_string()).collect();
        assert_eq!(
            paths,
            ["metadata.labels.a", "spec.jobTemplate.spec.template.spec.containers[0].imagePullPolcy"]
        );
        let custom = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "nmespace": "x"}, "spec": {"anything": 1}});
        let paths: Vec<String> =
            check("example.com/v1", "Widget", &custom).iter().map(|p| p.path().to_string()).collect();
        assert_eq!(paths, ["metadata.nmespace"]);
    }
}
