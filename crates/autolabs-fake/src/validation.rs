//! Create/update validation: object metadata for every kind and the required fields of the
//! kinds a lab platform writes most (pods and pod templates, services, workload selectors,
//! role bindings). Each error is a `(field path, message)` pair for [`Status::invalid`](super::Status::invalid).
//!
//! It runs on the raw JSON, before the object is decoded into its API type, so that a missing
//! required field is a 422 `Required value` as upstream's validation reports it rather than a
//! decode error.

use std::collections::BTreeSet;

use autolabs_k8s::k8s::LabelSelector;
use autolabs_k8s::{Selector, names};
use serde_json::Value;

use super::resources::{NameRule, ResourceType};

/// A field error: path and message (`Required value`, `Invalid value: …`).
pub type FieldError = (String, String);

/// Validates an object about to be created or stored by an update.
pub fn validate(resource: &ResourceType, object: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut errors = validate_metadata(resource, object);
    let spec = object.get("spec");
    match resource.plural {
        "pods" => validate_pod_spec(spec, "spec", &mut errors),
        "services" => validate_service(spec, &mut errors),
        "deployments" | "statefulsets" | "daemonsets" | "replicasets" => {
            validate_workload(resource, spec, &mut errors)
        }
        "jobs" => validate_pod_spec(template_spec(spec), "spec.template.spec", &mut errors),
        "cronjobs" => {
            // k8s.io/kubernetes/pkg/apis/batch/validation/validation.go ValidateCronJobSpec
            if spec.and_then(|s| s.get("schedule")).and_then(Value::as_str).unwrap_or("").is_empty() {
                errors.push(("spec.schedule".into(), "Required value".into()));
            }
            let job_spec = spec.and_then(|s| s.get("jobTemplate")).and_then(|t| t.get("spec"));
            validate_pod_spec(template_spec(job_spec), "spec.jobTemplate.spec.template.spec", &mut errors);
        }
        "rolebindings" | "clusterrolebindings" => validate_role_ref(resource, object, old, &mut errors),
        _ => {}
    }
    errors
}

fn template_spec(spec: Option<&Value>) -> Option<&Value> {
    spec.and_then(|s| s.get("template")).and_then(|t| t.get("spec"))
}

/// `ValidateObjectMeta`: name (or generateName) syntax, label and annotation keys and values.
// k8s.io/apimachinery/pkg/api/validation/objectmeta.go ValidateObjectMeta
fn validate_metadata(resource: &ResourceType, object: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let meta = object.get("metadata");
    let text = |key: &str| meta.and_then(|m| m.get(key)).and_then(Value::as_str).unwrap_or("");
    let name = text("name");
    if name.is_empty() {
        errors.push(("metadata.name".into(), "Required value: name or generateName is required".into()));
    } else {
        for problem in name_problems(resource.name_rule, name) {
            errors.push(("metadata.name".into(), format!("Invalid value: {name:?}: {problem}")));
        }
    }
    if resource.namespaced {
        let namespace = text("namespace");
        if namespace.is_empty() {
            errors.push(("metadata.namespace".into(), "Required value".into()));
        }
    }
    if let Some(labels) = meta.and_then(|m| m.get("labels")).and_then(Value::as_object) {
        for (key, value) in labels {
            for problem in names::qualified_name(key) {
                errors.push(("metadata.labels".into(), format!("Invalid value: {key:?}: {problem}")));
            }
            let value = value.as_str().unwrap_or("");
            for problem in names::label_value(value) {
                errors.push(("metadata.labels".into(), format!("Invalid value: {value:?}: {problem}")));
            }
        }
    }
    if let Some(annotations) = meta.and_then(|m| m.get("annotations")).and_then(Value::as_object) {
        let mut total = 0usize;
        for (key, value) in annotations {
            // k8s.io/apimachinery/pkg/api/validation/objectmeta.go ValidateAnnotations (keys are lowercased)
            for problem in names::qualified_name(&key.to_ascii_lowercase()) {
                errors.push(("metadata.annotations".into(), format!("Invalid value: {key:?}: {problem}")));
            }
            total += key.len() + value.as_str().map_or(0, str::len);
        }
        const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;
        if total > TOTAL_ANNOTATION_SIZE_LIMIT {
            errors.push((
                "metadata.annotations".into(),
                format!("Too long: may not be more than {TOTAL_ANNOTATION_SIZE_LIMIT} bytes"),
            ));
        }
    }
    errors
}

/// The problems of `name` under the kind's naming rule (empty when valid).
pub fn name_problems(rule: NameRule, name: &str) -> Vec<String> {
    let (problems, regex) = match rule {
        NameRule::Dns1123Subdomain => (names::dns1123_subdomain(name), DNS1123_SUBDOMAIN_REGEX),
        NameRule::Dns1123Label => (names::dns1123_label(name), DNS1123_LABEL_REGEX),
        NameRule::Dns1035Label => (dns1035_label(name), DNS1035_LABEL_REGEX),
        NameRule::PathSegment => return path_segment_name(name),
    };
    problems.into_iter().map(|problem| with_regex(problem, regex)).collect()
}

const DNS1123_LABEL_REGEX: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN_REGEX: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1035_LABEL_REGEX: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";

/// The API server's wording of a pattern mismatch names the regex after the examples.
// k8s.io/apimachinery/pkg/util/validation/validation.go RegexError
fn with_regex(problem: String, regex: &str) -> String {
    match problem.strip_suffix(')') {
        Some(head) if head.contains("(e.g. ") => format!("{head}, regex used for validation is '{regex}')"),
        _ => problem,
    }
}

/// `IsDNS1035Label`: at most 63 characters, `[a-z]([-a-z0-9]*[a-z0-9])?`.
// k8s.io/apimachinery/pkg/util/validation/validation.go IsDNS1035Label
fn dns1035_label(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > 63 {
        errors.push("must be no more than 63 characters".to_string());
    }
    let b = value.as_bytes();
    let body_ok = !b.is_empty()
        && b[0].is_ascii_lowercase()
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[b.len() - 1] != b'-';
    if !body_ok {
        errors.push(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an \
             alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123')"
                .to_string(),
        );
    }
    errors
}

// k8s.io/apimachinery/pkg/api/validation/path/name.go IsValidPathSegmentName
fn path_segment_name(name: &str) -> Vec<String> {
    if name == "." || name == ".." {
        return vec![format!("may not be '{name}'")];
    }
    let mut errors = Vec::new();
    for bad in ["/", "%"] {
        if name.contains(bad) {
            errors.push(format!("may not contain '{bad}'"));
        }
    }
    errors
}

/// Containers: present, named (DNS-1123 labels, unique), with an image.
// k8s.io/kubernetes/pkg/apis/core/validation/validation.go validateContainers
fn validate_pod_spec(spec: Option<&Value>, path: &str, errors: &mut Vec<FieldError>) {
    let containers = spec.and_then(|s| s.get("containers")).and_then(Value::as_array);
    if containers.is_none_or(|c| c.is_empty()) {
        errors.push((format!("{path}.containers"), "Required value".into()));
    }
    let mut seen = BTreeSet::new();
    for list in ["initContainers", "containers"] {
        let Some(items) = spec.and_then(|s| s.get(list)).and_then(Value::as_array) else { continue };
        for (i, container) in items.iter().enumerate() {
            let at = format!("{path}.{list}[{i}]");
            let name = container.get("name").and_then(Value::as_str).unwrap_or("");
            if name.is_empty() {
                errors.push((format!("{at}.name"), "Required value".into()));
            } else {
                for problem in names::dns1123_label(name) {
                    errors.push((format!("{at}.name"), format!("Invalid value: {name:?}: {problem}")));
                }
                if !seen.insert(name.to_string()) {
                    errors.push((format!("{at}.name"), format!("Duplicate value: {name:?}")));
                }
            }
            if container.get("image").and_then(Value::as_str).unwrap_or("").trim().is_empty() {
                errors.push((format!("{at}.image"), "Required value".into()));
            }
        }
    }
}

// k8s.io/kubernetes/pkg/apis/core/validation/validation.go ValidateService
fn validate_service(spec: Option<&Value>, errors: &mut Vec<FieldError>) {
    let text = |key: &str| spec.and_then(|s| s.get(key)).and_then(Value::as_str).unwrap_or("");
    let service_type = text("type");
    let headless = text("clusterIP") == "None";
    let ports = spec.and_then(|s| s.get("ports")).and_then(Value::as_array);
    if service_type == "ExternalName" {
        if text("externalName").is_empty() {
            errors.push(("spec.externalName".into(), "Required value".into()));
        }
    } else if ports.is_none_or(|p| p.is_empty()) && !headless {
        errors.push(("spec.ports".into(), "Required value".into()));
    }
    for (i, port) in ports.into_iter().flatten().enumerate() {
        let number = port.get("port").and_then(Value::as_i64).unwrap_or(0);
        if !(1..=65535).contains(&number) {
            errors.push((
                format!("spec.ports[{i}].port"),
                format!("Invalid value: {number}: must be between 1 and 65535, inclusive"),
            ));
        }
        if ports.is_some_and(|p| p.len() > 1)
            && port.get("name").and_then(Value::as_str).unwrap_or("").is_empty()
        {
            errors.push((format!("spec.ports[{i}].name"), "Required value".into()));
        }
    }
}

/// Workloads need a non-empty selector that selects their own template.
// k8s.io/kubernetes/pkg/apis/apps/validation/validation.go ValidateDeploymentSpec
fn validate_workload(resource: &ResourceType, spec: Option<&Value>, errors: &mut Vec<FieldError>) {
    match spec.and_then(|s| s.get("selector")) {
        None | Some(Value::Null) => errors.push(("spec.selector".into(), "Required value".into())),
        Some(raw) => match serde_json::from_value::<LabelSelector>(raw.clone()) {
            Ok(selector) => match Selector::from_k8s(&selector) {
                Ok(parsed) if parsed.is_everything() => errors.push((
                    "spec.selector".into(),
                    format!("Invalid value: {raw}: empty selector is invalid for {}", resource.singular),
                )),
                Ok(parsed) => {
                    let labels = spec
                        .and_then(|s| s.pointer("/template/metadata/labels"))
                        .and_then(|l| serde_json::from_value(l.clone()).ok())
                        .unwrap_or_default();
                    if !parsed.matches(&labels) {
                        errors.push((
                            "spec.template.metadata.labels".into(),
                            format!("Invalid value: {labels:?}: `selector` does not match template `labels`"),
                        ));
                    }
                }
                Err(problems) => {
                    for p in problems {
                        errors.push((format!("spec.selector.{}", p.field), p.message));
                    }
                }
            },
            Err(e) => errors.push(("spec.selector".into(), format!("Invalid value: {raw}: {e}"))),
        },
    }
    validate_pod_spec(template_spec(spec), "spec.template.spec", errors);
}

// k8s.io/kubernetes/pkg/apis/rbac/validation/validation.go ValidateRoleBinding / ValidateRoleBindingUpdate
fn validate_role_ref(
    resource: &ResourceType,
    object: &Value,
    old: Option<&Value>,
    errors: &mut Vec<FieldError>,
) {
    let role_ref = object.get("roleRef");
    let text = |key: &str| role_ref.and_then(|r| r.get(key)).and_then(Value::as_str).unwrap_or("");
    let allowed: &[&str] = if resource.namespaced { &["Role", "ClusterRole"] } else { &["ClusterRole"] };
    let kind = text("kind");
    if !allowed.contains(&kind) {
        let supported = allowed.iter().map(|k| format!("{k:?}")).collect::<Vec<_>>().join(", ");
        errors.push((
            "roleRef.kind".into(),
            format!("Unsupported value: {kind:?}: supported values: {supported}"),
        ));
    }
    if text("name").is_empty() {
        errors.push(("roleRef.name".into(), "Required value".into()));
    }
    if let Some(old_ref) = old.and_then(|o| o.get("roleRef"))
        && role_ref != Some(old_ref)
    {
        errors.push((
            "roleRef".into(),
            format!("Invalid value: {}: cannot change roleRef", role_ref.cloned().unwrap_or(Value::Null)),
        ));
    }
}

/// `ValidatePodUpdate`: a pod's spec may only change in the few mutable fields.
/// Run on the decoded objects (so equal values written differently compare equal). Upstream
/// also appends a diff of the two specs to the message; this does not.
// k8s.io/kubernetes/pkg/apis/core/validation/validation.go ValidatePodUpdate
pub fn pod_update_problems(new: &Value, old: &Value) -> Vec<FieldError> {
    fn mutable_stripped(pod: &Value) -> Value {
        let mut spec = pod.get("spec").cloned().unwrap_or(Value::Null);
        if let Some(map) = spec.as_object_mut() {
            for mutable in
                ["activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds", "schedulingGates"]
            {
                map.remove(mutable);
            }
            for list in ["containers", "initContainers"] {
                if let Some(Value::Array(items)) = map.get_mut(list) {
                    for item in items.iter_mut().filter_map(Value::as_object_mut) {
                        item.remove("image");
                    }
                }
            }
        }
        spec
    }
    if mutable_stripped(new) == mutable_stripped(old) {
        return Vec::new();
    }
    vec![(
        "spec".into(),
        "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,\
         `spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to \
         existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was \
         previously negative)"
            .into(),
    )]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::find;
    use serde_json::json;

    fn fields(plural: &str, object: Value) -> Vec<String> {
        let resource = RESOURCE_GROUPS
            .iter()
            .find_map(|g| find(g, if *g == "autoscaling" { "v2" } else { "v1" }, plural))
            .unwrap();
        validate(resource, &object, None).into_iter().map(|(f, m)| format!("{f}: {m}")).collect()
    }

    const RESOURCE_GROUPS: [&str; 4] = ["", "apps", "batch", "rbac.authorization.k8s.io"];

    fn pod(name: &str, containers: Value) -> Value {
        json!({"metadata": {"name": name, "namespace": "n"}, "spec": {"containers": containers}})
    }

    #[test]
    fn one_row_per_rule() {
        let rows: Vec<(&str, Value, Vec<&str>)> = vec![
            // ValidateObjectMeta: name required
            (
                "pods",
                json!({"metadata": {"namespace": "n"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}),
                vec!["metadata.name: Required value: name or generateName is required"],
            ),
            // NameIsDNSSubdomain
            (
                "pods",
                pod("Bad", json!([{"name": "c", "image": "i"}])),
                vec!["metadata.name: Invalid value: \"Bad\""],
            ),
            // validateContainers: required, image required, duplicate names
            ("pods", pod("p", json!([])), vec!["spec.containers: Required value"]),
            ("pods", pod("p", json!([{"name": "c"}])), vec!["spec.containers[0].image: Required value"]),
            (
                "pods",
                pod("p", json!([{"name": "c", "image": "i"}, {"name": "c", "image": "i"}])),
                vec!["spec.containers[1].name: Duplicate value: \"c\""],
            ),
            // ValidateService: DNS-1035 names, ports required
            (
                "services",
                json!({"metadata": {"name": "1svc", "namespace": "n"}, "spec": {"ports": [{"port": 80}]}}),
                vec!["metadata.name: Invalid value: \"1svc\": a DNS-1035 label"],
            ),
            (
                "services",
                json!({"metadata": {"name": "s", "namespace": "n"}, "spec": {}}),
                vec!["spec.ports: Required value"],
            ),
            (
                "services",
                json!({"metadata": {"name": "s", "namespace": "n"}, "spec": {"clusterIP": "None"}}),
                vec![],
            ),
            // ValidateNamespaceName: DNS-1123 label (no dots)
            (
                "namespaces",
                json!({"metadata": {"name": "a.b"}}),
                vec!["metadata.name: Invalid value: \"a.b\""],
            ),
            // ValidateLabels
            (
                "configmaps",
                json!({"metadata": {"name": "c", "namespace": "n", "labels": {"ok": "-bad"}}}),
                vec!["metadata.labels: Invalid value: \"-bad\""],
            ),
            // ValidateDeploymentSpec: selector must match the template
            (
                "deployments",
                json!({"metadata": {"name": "d", "namespace": "n"}, "spec": {
                "selector": {"matchLabels": {"app": "x"}},
                "template": {"metadata": {"labels": {"app": "y"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}}),
                vec![
                    "spec.template.metadata.labels: Invalid value: {\"app\": \"y\"}: `selector` does not match template `labels`",
                ],
            ),
            (
                "deployments",
                json!({"metadata": {"name": "d", "namespace": "n"}, "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}}),
                vec!["spec.selector: Required value"],
            ),
            // ValidateRoleBinding: roleRef kind
            (
                "clusterrolebindings",
                json!({"metadata": {"name": "b"}, "roleRef": {"kind": "Role", "name": "r"}}),
                vec!["roleRef.kind: Unsupported value: \"Role\": supported values: \"ClusterRole\""],
            ),
            // IsValidPathSegmentName: RBAC names may hold ':'
            ("clusterroles", json!({"metadata": {"name": "system:thing"}}), vec![]),
        ];
        for (plural, object, expected) in rows {
            let got = fields(plural, object.clone());
            assert_eq!(got.len(), expected.len(), "{plural} {object}: {got:?}");
            for (g, e) in got.iter().zip(&expected) {
                assert!(g.starts_with(e), "{plural}: got {g:?}, expected prefix {e:?}");
            }
        }
    }

    #[test]
    fn pod_specs_are_immutable_but_images() {
        let old =
            json!({"spec": {"containers": [{"name": "c", "image": "a", "ports": [{"containerPort": 80}]}]}});
        let mut new_image = old.clone();
        new_image["spec"]["containers"][0]["image"] = json!("b");
        assert!(pod_update_problems(&new_image, &old).is_empty());
        let mut new_port = old.clone();
        new_port["spec"]["containers"][0]["ports"][0]["containerPort"] = json!(81);
        let problems = pod_update_problems(&new_port, &old);
        assert_eq!(problems[0].0, "spec");
        assert!(problems[0].1.starts_with("Forbidden: pod updates may not change fields other than"));
    }

    #[test]
    fn role_ref_is_immutable() {
        let resource = find("rbac.authorization.k8s.io", "v1", "rolebindings").unwrap();
        let old =
            json!({"metadata": {"name": "b", "namespace": "n"}, "roleRef": {"kind": "Role", "name": "a"}});
        let new =
            json!({"metadata": {"name": "b", "namespace": "n"}, "roleRef": {"kind": "Role", "name": "b"}});
        let errors = validate(resource, &new, Some(&old));
        assert_eq!(errors.len(), 1);
        assert!(errors[0].1.ends_with("cannot change roleRef"));
    }
}
