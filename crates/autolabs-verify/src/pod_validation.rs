//! The API server's validation of the objects that carry a pod (Pods, pod templates and the
//! workloads around them), where decoding alone lets an object through that the server
//! refuses: a Pod with no `spec` decodes (its spec is optional in the schema) but
//! `spec.containers: Required value` keeps it out of the cluster. Without these rules such an
//! object would reach the engines without a pod and be skipped without a word.
//!
//! Only the rules that decide whether the object exists at all and that the schema cannot
//! express are here (required values, selectors against template labels); the field types
//! and unknown fields are [`crate::strict`]'s.

use std::collections::BTreeMap;

use autolabs_k8s::k8s::LabelSelector;
use autolabs_k8s::selector::Selector;
use serde_json::Value;

use crate::strict::Problem;

/// Appends the problems the API server's validation finds in the pod-carrying `kind`
/// (`spec_path`: where its PodSpec is, [`crate::objects::pod_spec_path`]).
pub(crate) fn check(
    api_version: &str,
    kind: &str,
    value: &Value,
    spec_path: &str,
    problems: &mut Vec<Problem>,
) {
    let group = api_version.split_once('/').map(|(g, _)| g).unwrap_or("");
    if group.is_empty() && kind == "ReplicationController" {
        return replication_controller(value, problems);
    }
    if api_version == "apps/v1" {
        apps_selector(kind, value, problems);
    }
    if group == "batch" && kind == "CronJob" && matches!(reach(value, "spec.schedule"), Reached::Absent) {
        // pkg/apis/batch/validation/validation.go validateCronJobSpec: schedule Required.
        problems.push(Problem::Missing { path: "spec.schedule".into() });
    }
    pod_spec(value, spec_path, problems);
    if group == "batch" {
        job_restart_policy(value, spec_path, problems);
    }
}

/// Where a walk down a dotted path ended.
enum Reached<'a> {
    /// The value at the path (never null).
    Found(&'a Value),
    /// The path, or one of its ancestors, is absent or null: the Go field is its zero value.
    Absent,
    /// An ancestor is not a mapping: a wrong type, which the decoder names.
    WrongType,
}

fn reach<'a>(value: &'a Value, dotted: &str) -> Reached<'a> {
    let mut current = value;
    for segment in dotted.split('.') {
        current = match current {
            Value::Object(fields) => match fields.get(segment) {
                None | Some(Value::Null) => return Reached::Absent,
                Some(v) => v,
            },
            _ => return Reached::WrongType,
        };
    }
    Reached::Found(current)
}

/// The PodSpec's required values: at least one container, and a name and an image for each
/// container and init container.
/// Mirrors: pkg/apis/core/validation/validation.go validateContainers (`len(containers) == 0`
/// → Required) and validateContainerCommon (empty `name`, empty `image` → Required).
fn pod_spec(value: &Value, spec_path: &str, problems: &mut Vec<Problem>) {
    let containers_path = format!("{spec_path}.containers");
    let containers = match reach(value, &containers_path) {
        Reached::WrongType => return,
        Reached::Absent => None,
        Reached::Found(Value::Array(items)) => Some(items),
        Reached::Found(_) => return,
    };
    if containers.is_none_or(Vec::is_empty) {
        problems.push(Problem::Missing { path: containers_path.clone() });
    }
    let init_path = format!("{spec_path}.initContainers");
    let init = match reach(value, &init_path) {
        Reached::Found(Value::Array(items)) => Some(items),
        _ => None,
    };
    for (path, list) in [(&containers_path, containers), (&init_path, init)] {
        for (i, container) in list.into_iter().flatten().enumerate() {
            let Value::Object(fields) = container else { continue };
            for field in ["name", "image"] {
                // A missing `name` is the decoder's (`missing field`); an empty one is ours.
                let empty = match fields.get(field) {
                    None => field == "image",
                    Some(Value::Null) => true,
                    Some(Value::String(s)) => s.is_empty(),
                    Some(_) => false,
                };
                if empty {
                    problems.push(Problem::Missing { path: format!("{path}[{i}].{field}") });
                }
            }
        }
    }
}

/// A Job's pods must not restart in place.
/// Mirrors: pkg/apis/batch/validation/validation.go validateJobSpec (restartPolicy not
/// OnFailure or Never → Required with the valid values).
fn job_restart_policy(value: &Value, spec_path: &str, problems: &mut Vec<Problem>) {
    let path = format!("{spec_path}.restartPolicy");
    let allowed = match reach(value, &path) {
        Reached::WrongType => return,
        Reached::Absent => false,
        Reached::Found(Value::String(policy)) => policy == "OnFailure" || policy == "Never",
        Reached::Found(_) => return,
    };
    if !allowed {
        problems.push(Problem::Rule {
            path,
            message: "Required value: valid values: \"OnFailure\", \"Never\"".into(),
        });
    }
}

/// The label selector of an `apps/v1` workload: required (but for DaemonSets), not empty, and
/// matching the pod template's labels.
/// Mirrors: pkg/apis/apps/validation/validation.go ValidateDeploymentSpec, ValidateReplicaSetSpec,
/// ValidateStatefulSetSpec and ValidateDaemonSetSpec (selector Required; "empty selector is
/// invalid for …"), and ValidatePodTemplateSpecForReplicaSet ("`selector` does not match
/// template `labels`").
fn apps_selector(kind: &str, value: &Value, problems: &mut Vec<Problem>) {
    let noun = match kind {
        // ReplicaSets share the Deployment's message upstream.
        "Deployment" | "ReplicaSet" => "deployment",
        "StatefulSet" => "statefulset",
        "DaemonSet" => "daemonset",
        _ => return,
    };
    let selector = match reach(value, "spec.selector") {
        Reached::WrongType => return,
        Reached::Absent => {
            if kind != "DaemonSet" {
                problems.push(Problem::Missing { path: "spec.selector".into() });
            }
            None
        }
        Reached::Found(raw) => {
            let Ok(parsed) = serde_json::from_value::<LabelSelector>(raw.clone()) else { return };
            let empty = parsed.match_labels.as_ref().is_none_or(BTreeMap::is_empty)
                && parsed.match_expressions.as_ref().is_none_or(Vec::is_empty);
            if empty {
                problems.push(Problem::Rule {
                    path: "spec.selector".into(),
                    message: format!("Invalid value: {{}}: empty selector is invalid for {noun}"),
                });
                return;
            }
            match Selector::from_k8s(&parsed) {
                Ok(selector) => Some(selector),
                Err(errors) => {
                    problems.extend(errors.into_iter().map(|e| Problem::Rule {
                        path: format!("spec.selector.{}", e.field),
                        message: e.message,
                    }));
                    return;
                }
            }
        }
    };
    template_labels_match(value, "spec.template.metadata.labels", selector.as_ref(), problems);
}

/// `selector: None` is a missing selector, which matches nothing (`LabelSelectorAsSelector(nil)`
/// is `labels.Nothing()`).
fn template_labels_match(
    value: &Value,
    labels_path: &str,
    selector: Option<&Selector>,
    problems: &mut Vec<Problem>,
) {
    let (labels, shown) = match reach(value, labels_path) {
        Reached::WrongType => return,
        Reached::Absent => (BTreeMap::new(), "null".to_string()),
        Reached::Found(Value::Object(fields)) => {
            let mut labels = BTreeMap::new();
            for (key, label) in fields {
                // A label value of another type is the decoder's to name.
                let Value::String(label) = label else { return };
                labels.insert(key.clone(), label.clone());
            }
            let shown = serde_json::to_string(&labels).unwrap_or_default();
            (labels, shown)
        }
        Reached::Found(_) => return,
    };
    if !selector.is_some_and(|s| s.matches(&labels)) {
        problems.push(Problem::Rule {
            path: labels_path.into(),
            message: format!("Invalid value: {shown}: `selector` does not match template `labels`"),
        });
    }
}

/// A ReplicationController: a template is required; the selector defaults to the template's
/// labels and must match them.
/// Mirrors: pkg/apis/core/v1/defaults.go SetDefaults_ReplicationController (selector from the
/// template's labels) and pkg/apis/core/validation/validation.go ValidateReplicationControllerSpec
/// and ValidatePodTemplateSpecForRC.
fn replication_controller(value: &Value, problems: &mut Vec<Problem>) {
    let template_labels = match reach(value, "spec.template.metadata.labels") {
        Reached::Found(Value::Object(fields)) => {
            fields.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect()
        }
        _ => BTreeMap::new(),
    };
    let selector: BTreeMap<String, String> = match reach(value, "spec.selector") {
        Reached::WrongType => return,
        Reached::Found(Value::Object(fields)) if !fields.is_empty() => {
            let strings: Option<BTreeMap<String, String>> =
                fields.iter().map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect();
            match strings {
                Some(selector) => selector,
                None => return,
            }
        }
        Reached::Found(Value::Object(_)) | Reached::Absent => template_labels,
        Reached::Found(_) => return,
    };
    if selector.is_empty() {
        problems.push(Problem::Missing { path: "spec.selector".into() });
    }
    match reach(value, "spec.template") {
        Reached::WrongType => {}
        Reached::Absent => problems.push(Problem::Missing { path: "spec.template".into() }),
        Reached::Found(_) => {
            if !selector.is_empty() {
                let selector = Selector::from_labels(selector);
                template_labels_match(value, "spec.template.metadata.labels", Some(&selector), problems);
            }
            pod_spec(value, "spec.template.spec", problems);
        }
    }
}
