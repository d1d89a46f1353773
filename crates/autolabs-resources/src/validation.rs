//! The resource part of Pod validation (`ValidateResourceRequirements`), which runs after
//! the mutating admission plugins and before the validating ones: a failure is a 422
//! Invalid whose causes read like `spec.containers[0].resources.requests: Invalid value:
//! "2": must be less than or equal to cpu limit of 1`.
//!
//! Also the decode-time Pod defaulting that precedes everything (`SetDefaults_Pod`):
//! a container that states a limit but no request for a resource requests its limit.

use autolabs_k8s::names;

use crate::pod::{ContainerResources, PodResources};
use crate::resource_names::{
    is_extended, is_hugepages, is_integer_resource, is_native, is_overcommit_allowed,
    is_qos_compute_resource, is_standard_container_resource, is_standard_resource,
};

/// `SetDefaults_Pod`: per resource, a missing request defaults to the limit (containers
/// and init containers; pod-level requests likewise from pod-level limits).
// k8s.io/kubernetes/pkg/apis/core/v1/defaults.go SetDefaults_Pod
pub fn default_requests_from_limits(pod: &mut PodResources) {
    for container in pod.containers.iter_mut().chain(pod.init_containers.iter_mut()) {
        for (name, limit) in &container.limits {
            container.requests.entry(name.clone()).or_insert(*limit);
        }
    }
    // defaultPodRequests (PodLevelResources): a pod-level limit without a pod-level request
    // defaults the request to the containers' aggregate when any container requests that
    // resource, else to the limit.
    let aggregate = crate::pod::aggregate_containers(pod, crate::pod::Side::Requests).ok();
    let pod_limits = pod.pod_limits.clone();
    for (name, limit) in pod_limits {
        if !matches!(name.as_str(), "cpu" | "memory") || pod.pod_requests.contains_key(&name) {
            continue;
        }
        let from_containers = aggregate.as_ref().and_then(|a| a.get(&name)).copied();
        pod.pod_requests.insert(name, from_containers.unwrap_or(limit));
    }
}

/// Every resource validation error of the pod, formatted as `field.Error.Error()`.
/// Containers are validated before init containers; inside one container upstream walks
/// maps (so its order varies between requests), we walk names in sorted order.
// k8s.io/kubernetes/pkg/apis/core/validation/validation.go validateContainers
pub fn resource_errors(pod: &PodResources) -> Vec<String> {
    let mut errors = Vec::new();
    for (i, c) in pod.containers.iter().enumerate() {
        container_errors(c, &format!("spec.containers[{i}].resources"), &mut errors);
    }
    for (i, c) in pod.init_containers.iter().enumerate() {
        container_errors(c, &format!("spec.initContainers[{i}].resources"), &mut errors);
    }
    // validateOverhead reuses the limits half of ValidateResourceRequirements.
    for (name, q) in &pod.overhead {
        let path = format!("spec.overhead[{name}]");
        resource_name_errors(name, &path, &mut errors);
        quantity_errors(name, q, &path, &mut errors);
    }
    errors
}

/// `ValidateResourceRequirements` for one container.
// k8s.io/kubernetes/pkg/apis/core/validation/validation.go ValidateResourceRequirements
fn container_errors(c: &ContainerResources, path: &str, errors: &mut Vec<String>) {
    let limits_path = format!("{path}.limits");
    let requests_path = format!("{path}.requests");
    let mut has_cpu_or_memory = false;
    let mut has_hugepages = false;
    for (name, q) in &c.limits {
        let field = format!("{limits_path}[{name}]");
        resource_name_errors(name, &field, errors);
        quantity_errors(name, q, &field, errors);
        has_cpu_or_memory |= is_qos_compute_resource(name);
        has_hugepages |= is_hugepages(name);
    }
    for (name, q) in &c.requests {
        let field = format!("{requests_path}[{name}]");
        resource_name_errors(name, &field, errors);
        quantity_errors(name, q, &field, errors);
        match c.limits.get(name) {
            Some(limit) if q != limit && !is_overcommit_allowed(name) => errors.push(format!(
                "{requests_path}: Invalid value: \"{q}\": must be equal to {name} limit of {limit}"
            )),
            Some(limit) if q > limit => errors.push(format!(
                "{requests_path}: Invalid value: \"{q}\": must be less than or equal to {name} limit of {limit}"
            )),
            Some(_) => {}
            None if !is_overcommit_allowed(name) => errors
                .push(format!("{limits_path}: Required value: Limit must be set for non overcommitable resources")),
            None => {}
        }
        has_cpu_or_memory |= is_qos_compute_resource(name);
        has_hugepages |= is_hugepages(name);
    }
    if has_hugepages && !has_cpu_or_memory {
        errors.push(format!("{path}: Forbidden: HugePages require cpu or memory"));
    }
}

/// `validateContainerResourceName` (with `validateResourceName`).
// k8s.io/kubernetes/pkg/apis/core/validation/validation.go validateContainerResourceName
fn resource_name_errors(name: &str, field: &str, errors: &mut Vec<String>) {
    let syntax = names::qualified_name(name);
    let syntax_ok = syntax.is_empty();
    for message in syntax {
        errors.push(format!("{field}: Invalid value: \"{name}\": {message}"));
    }
    let single_segment = !name.contains('/');
    if syntax_ok && single_segment && !is_standard_resource(name) {
        errors.push(format!(
            "{field}: Invalid value: \"{name}\": must be a standard resource type or fully qualified"
        ));
    }
    if single_segment {
        if !is_standard_container_resource(name) {
            errors.push(format!(
                "{field}: Invalid value: \"{name}\": must be a standard resource for containers"
            ));
        }
    } else if !is_native(name) && !is_extended(name) {
        errors.push(format!(
            "{field}: Invalid value: \"{name}\": doesn't follow extended resource name standard"
        ));
    }
}

/// `ValidateResourceQuantityValue`: not negative; whole for integer resources.
// k8s.io/kubernetes/pkg/apis/core/validation/validation.go ValidateResourceQuantityValue
fn quantity_errors(name: &str, q: &autolabs_k8s::Quantity, field: &str, errors: &mut Vec<String>) {
    if q.is_negative() {
        errors.push(format!("{field}: Invalid value: \"{q}\": must be greater than or equal to 0"));
    }
    if is_integer_resource(name) && q.milli_value() % 1000 != 0 {
        errors.push(format!("{field}: Invalid value: \"{q}\": must be an integer"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource_list::ResourceList;
    use autolabs_k8s::Quantity;

    fn list(entries: &[(&str, &str)]) -> ResourceList {
        entries.iter().map(|(k, v)| (k.to_string(), Quantity::parse(v).unwrap())).collect()
    }

    fn pod(requests: &[(&str, &str)], limits: &[(&str, &str)]) -> PodResources {
        PodResources {
            containers: vec![ContainerResources {
                name: "c".into(),
                requests: list(requests),
                limits: list(limits),
                restartable: false,
            }],
            ..Default::default()
        }
    }

    #[test]
    fn validation_rules() {
        let p = "spec.containers[0].resources";
        // (upstream rule, pod, expected errors)
        let rows: Vec<(&str, PodResources, Vec<String>)> = vec![
            ("request <= limit holds", pod(&[("cpu", "1")], &[("cpu", "1")]), vec![]),
            (
                "request above limit",
                pod(&[("cpu", "2")], &[("cpu", "1")]),
                vec![format!(
                    "{p}.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1"
                )],
            ),
            (
                "negative quantity",
                pod(&[("memory", "-1")], &[]),
                vec![format!(
                    "{p}.requests[memory]: Invalid value: \"-1\": must be greater than or equal to 0"
                )],
            ),
            (
                "extended resources need request == limit",
                pod(&[("example.com/gpu", "1")], &[("example.com/gpu", "2")]),
                vec![format!(
                    "{p}.requests: Invalid value: \"1\": must be equal to example.com/gpu limit of 2"
                )],
            ),
            (
                "extended resources need a limit",
                pod(&[("example.com/gpu", "1")], &[]),
                vec![format!(
                    "{p}.limits: Required value: Limit must be set for non overcommitable resources"
                )],
            ),
            (
                "extended resources are whole numbers",
                pod(&[("example.com/gpu", "500m")], &[("example.com/gpu", "500m")]),
                vec![
                    format!("{p}.limits[example.com/gpu]: Invalid value: \"500m\": must be an integer"),
                    format!("{p}.requests[example.com/gpu]: Invalid value: \"500m\": must be an integer"),
                ],
            ),
            (
                "unknown single-segment names",
                pod(&[], &[("gpu", "1")]),
                vec![
                    format!(
                        "{p}.limits[gpu]: Invalid value: \"gpu\": must be a standard resource type or fully qualified"
                    ),
                    format!(
                        "{p}.limits[gpu]: Invalid value: \"gpu\": must be a standard resource for containers"
                    ),
                ],
            ),
            (
                "huge pages need cpu or memory",
                pod(&[("hugepages-2Mi", "2Mi")], &[("hugepages-2Mi", "2Mi")]),
                vec![format!("{p}: Forbidden: HugePages require cpu or memory")],
            ),
        ];
        for (rule, pod, expected) in rows {
            assert_eq!(resource_errors(&pod), expected, "{rule}");
        }
    }

    #[test]
    fn requests_default_to_limits_per_resource() {
        // k8s.io/kubernetes/pkg/apis/core/v1/defaults.go SetDefaults_Pod
        let mut p = pod(&[("cpu", "100m")], &[("cpu", "1"), ("memory", "1Gi")]);
        default_requests_from_limits(&mut p);
        assert_eq!(crate::resource_list::pretty_print(&p.containers[0].requests), "cpu=100m,memory=1Gi");
    }
}
