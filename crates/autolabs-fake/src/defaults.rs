//! API defaulting (`SetDefaults_*`), run on every create and update like the real server's
//! decode step, so that a body without the defaulted fields stores the same object.
//!
//! Only the defaults of the kinds a lab platform writes most are modelled: pod specs and
//! their containers (also inside workload templates) and services.

use serde_json::{Map, Value, json};

use super::resources::ResourceType;

/// Fills the defaulted fields of `object` that are missing.
pub fn set_defaults(resource: &ResourceType, object: &mut Value) {
    if !resource.group.is_empty() && !matches!(resource.group, "apps" | "batch") {
        return;
    }
    match (resource.group, resource.plural) {
        ("", "pods") => pod_spec(object.get_mut("spec")),
        ("", "services") => service_spec(object.get_mut("spec")),
        ("apps", _) | ("batch", "jobs") => pod_spec(object.pointer_mut("/spec/template/spec")),
        ("batch", "cronjobs") => pod_spec(object.pointer_mut("/spec/jobTemplate/spec/template/spec")),
        // k8s.io/kubernetes/pkg/apis/core/v1/defaults.go SetDefaults_Secret
        ("", "secrets") => {
            if let Some(secret) = object.as_object_mut() {
                insert_missing(secret, "type", json!("Opaque"));
            }
        }
        _ => {}
    }
}

fn insert_missing(map: &mut Map<String, Value>, key: &str, value: Value) {
    map.entry(key).or_insert(value);
}

// k8s.io/kubernetes/pkg/apis/core/v1/defaults.go SetDefaults_PodSpec (and the ServiceAccount
// admission plugin's serviceAccountName)
fn pod_spec(spec: Option<&mut Value>) {
    let Some(Value::Object(spec)) = spec else { return };
    insert_missing(spec, "restartPolicy", json!("Always"));
    insert_missing(spec, "dnsPolicy", json!("ClusterFirst"));
    insert_missing(spec, "schedulerName", json!("default-scheduler"));
    insert_missing(spec, "terminationGracePeriodSeconds", json!(30));
    insert_missing(spec, "enableServiceLinks", json!(true));
    insert_missing(spec, "securityContext", json!({}));
    insert_missing(spec, "serviceAccountName", json!("default"));
    // k8s.io/kubernetes/pkg/apis/core/v1/conversion.go Convert_core_PodSpec_To_v1_PodSpec
    // (the deprecated serviceAccount mirrors serviceAccountName)
    if let Some(account) = spec.get("serviceAccountName").cloned() {
        spec.insert("serviceAccount".into(), account);
    }
    for list in ["initContainers", "containers"] {
        if let Some(Value::Array(containers)) = spec.get_mut(list) {
            for container in containers.iter_mut().filter_map(Value::as_object_mut) {
                container_defaults(container);
            }
        }
    }
}

// k8s.io/kubernetes/pkg/apis/core/v1/defaults.go SetDefaults_Container
fn container_defaults(container: &mut Map<String, Value>) {
    insert_missing(container, "terminationMessagePath", json!("/dev/termination-log"));
    insert_missing(container, "terminationMessagePolicy", json!("File"));
    let image = container.get("image").and_then(Value::as_str).unwrap_or("").to_string();
    insert_missing(container, "imagePullPolicy", json!(image_pull_policy(&image)));
    if let Some(Value::Array(ports)) = container.get_mut("ports") {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            insert_missing(port, "protocol", json!("TCP"));
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(Value::Object(probe)) = container.get_mut(probe) {
            probe_defaults(probe);
        }
    }
}

// k8s.io/kubernetes/pkg/apis/core/v1/defaults.go SetDefaults_Probe (and SetDefaults_HTTPGetAction)
fn probe_defaults(probe: &mut Map<String, Value>) {
    insert_missing(probe, "timeoutSeconds", json!(1));
    insert_missing(probe, "periodSeconds", json!(10));
    insert_missing(probe, "successThreshold", json!(1));
    insert_missing(probe, "failureThreshold", json!(3));
    if let Some(Value::Object(get)) = probe.get_mut("httpGet") {
        insert_missing(get, "path", json!("/"));
        insert_missing(get, "scheme", json!("HTTP"));
    }
}

/// `Always` for `:latest` or untagged images (digests excepted), `IfNotPresent` otherwise.
// k8s.io/kubernetes/pkg/apis/core/v1/defaults.go SetDefaults_Container (parsers.ParseImageName)
fn image_pull_policy(image: &str) -> &'static str {
    if image.contains('@') {
        return "IfNotPresent";
    }
    let last_segment = image.rsplit('/').next().unwrap_or(image);
    match last_segment.split_once(':') {
        None => "Always",
        Some((_, "latest")) => "Always",
        Some(_) => "IfNotPresent",
    }
}

// k8s.io/kubernetes/pkg/apis/core/v1/defaults.go SetDefaults_Service
fn service_spec(spec: Option<&mut Value>) {
    let Some(Value::Object(spec)) = spec else { return };
    insert_missing(spec, "type", json!("ClusterIP"));
    insert_missing(spec, "sessionAffinity", json!("None"));
    let service_type = spec.get("type").and_then(Value::as_str).unwrap_or("ClusterIP").to_string();
    if service_type != "ExternalName" {
        insert_missing(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if let Some(Value::Array(ports)) = spec.get_mut("ports") {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            insert_missing(port, "protocol", json!("TCP"));
            if let Some(number) = port.get("port").cloned() {
                insert_missing(port, "targetPort", number);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::find;

    #[test]
    fn image_pull_policy_follows_the_tag() {
        // SetDefaults_Container: one row per case
        let rows = [
            ("busybox", "Always"),
            ("busybox:latest", "Always"),
            ("busybox:1.36", "IfNotPresent"),
            ("registry:5000/busybox", "Always"),
            ("registry:5000/busybox:1.0", "IfNotPresent"),
            ("busybox@sha256:abc", "IfNotPresent"),
        ];
        for (image, policy) in rows {
            assert_eq!(image_pull_policy(image), policy, "{image}");
        }
    }

    #[test]
    fn pods_templates_and_services_get_defaults() {
        let mut pod = json!({"spec": {"containers": [{"name": "c", "image": "i:1", "ports": [{"containerPort": 80}]}]}});
        set_defaults(find("", "v1", "pods").unwrap(), &mut pod);
        assert_eq!(pod["spec"]["restartPolicy"], "Always");
        assert_eq!(pod["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent");
        assert_eq!(pod["spec"]["containers"][0]["ports"][0]["protocol"], "TCP");
        let mut deployment =
            json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}});
        set_defaults(find("apps", "v1", "deployments").unwrap(), &mut deployment);
        assert_eq!(deployment["spec"]["template"]["spec"]["dnsPolicy"], "ClusterFirst");
        let mut service = json!({"spec": {"ports": [{"port": 80}]}});
        set_defaults(find("", "v1", "services").unwrap(), &mut service);
        assert_eq!(service["spec"]["type"], "ClusterIP");
        assert_eq!(service["spec"]["ports"][0]["targetPort"], 80);
        // an explicit value is never overwritten
        let mut explicit = json!({"spec": {"restartPolicy": "Never"}});
        set_defaults(find("", "v1", "pods").unwrap(), &mut explicit);
        assert_eq!(explicit["spec"]["restartPolicy"], "Never");
    }
}
