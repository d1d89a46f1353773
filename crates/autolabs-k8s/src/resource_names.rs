//! Classes of resource names, as `pkg/apis/core/v1/helper/helpers.go` defines them:
//! native vs extended resources, huge pages, which may be overcommitted, which must be
//! whole numbers.

/// `cpu`.
pub const CPU: &str = "cpu";
/// `memory`.
pub const MEMORY: &str = "memory";
/// `ephemeral-storage`.
pub const EPHEMERAL_STORAGE: &str = "ephemeral-storage";
/// The quota resource counting non-terminal pods.
pub const PODS: &str = "pods";
/// The object-count quota resource for pods (every pod in storage).
pub const COUNT_PODS: &str = "count/pods";
/// Prefix of huge-page resources (`hugepages-2Mi`).
pub const HUGEPAGES_PREFIX: &str = "hugepages-";
/// Prefix of quota resources that count requests (`requests.cpu`).
pub const REQUESTS_PREFIX: &str = "requests.";
/// Prefix of quota resources that count limits (`limits.cpu`).
pub const LIMITS_PREFIX: &str = "limits.";

/// `IsHugePageResourceName`.
// k8s.io/kubernetes/pkg/apis/core/v1/helper/helpers.go IsHugePageResourceName
pub fn is_hugepages(name: &str) -> bool {
    name.starts_with(HUGEPAGES_PREFIX)
}

/// `IsNativeResource`: no domain, or a `kubernetes.io/` domain.
// k8s.io/kubernetes/pkg/apis/core/v1/helper/helpers.go IsNativeResource
pub fn is_native(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

/// `IsExtendedResourceName`: a domain-qualified, non-native name whose `requests.` form
/// is a valid qualified name.
// k8s.io/kubernetes/pkg/apis/core/v1/helper/helpers.go IsExtendedResourceName
pub fn is_extended(name: &str) -> bool {
    if is_native(name) || name.starts_with(REQUESTS_PREFIX) {
        return false;
    }
    crate::names::qualified_name(&format!("{REQUESTS_PREFIX}{name}")).is_empty()
}

/// `IsOvercommitAllowed`: native resources other than huge pages may have request < limit.
// k8s.io/kubernetes/pkg/apis/core/v1/helper/helpers.go IsOvercommitAllowed
pub fn is_overcommit_allowed(name: &str) -> bool {
    is_native(name) && !is_hugepages(name)
}

/// `IsStandardContainerResourceName`: what a container may request without a domain.
// k8s.io/kubernetes/pkg/apis/core/helper/helpers.go IsStandardContainerResourceName
pub fn is_standard_container_resource(name: &str) -> bool {
    matches!(name, CPU | MEMORY | EPHEMERAL_STORAGE) || is_hugepages(name)
}

/// `IsStandardResourceName`: the built-in resource names (and quota huge-page names).
// k8s.io/kubernetes/pkg/apis/core/helper/helpers.go IsStandardResourceName
pub fn is_standard_resource(name: &str) -> bool {
    const STANDARD: [&str; 19] = [
        "cpu",
        "memory",
        "ephemeral-storage",
        "requests.cpu",
        "requests.memory",
        "requests.ephemeral-storage",
        "limits.cpu",
        "limits.memory",
        "limits.ephemeral-storage",
        "pods",
        "services",
        "replicationcontrollers",
        "resourcequotas",
        "secrets",
        "configmaps",
        "persistentvolumeclaims",
        "requests.storage",
        "services.nodeports",
        "services.loadbalancers",
    ];
    STANDARD.contains(&name) || is_hugepages(name) || name.starts_with("requests.hugepages-")
}

/// `IsIntegerResourceName`: for container resources, the extended resources.
// k8s.io/kubernetes/pkg/apis/core/helper/helpers.go IsIntegerResourceName
pub fn is_integer_resource(name: &str) -> bool {
    const INTEGER: [&str; 9] = [
        "pods",
        "services",
        "replicationcontrollers",
        "resourcequotas",
        "secrets",
        "configmaps",
        "persistentvolumeclaims",
        "services.nodeports",
        "services.loadbalancers",
    ];
    INTEGER.contains(&name) || is_extended(name)
}

/// `isSupportedQoSComputeResource`: the resources that decide a pod's QoS class.
// k8s.io/kubernetes/pkg/apis/core/v1/helper/qos/qos.go isSupportedQoSComputeResource
pub fn is_qos_compute_resource(name: &str) -> bool {
    matches!(name, CPU | MEMORY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_classes() {
        type Class = fn(&str) -> bool;
        // (upstream rule, class, name, expected)
        let rows: [(&str, Class, &str, bool); 14] = [
            ("IsNativeResource: no domain", is_native, "cpu", true),
            ("IsNativeResource: kubernetes.io domain", is_native, "kubernetes.io/foo", true),
            ("IsNativeResource: other domain", is_native, "example.com/gpu", false),
            ("IsExtendedResourceName: domain-qualified", is_extended, "example.com/gpu", true),
            ("IsExtendedResourceName: native is not extended", is_extended, "cpu", false),
            ("IsExtendedResourceName: requests. prefix", is_extended, "requests.example.com/gpu", false),
            ("IsExtendedResourceName: invalid qualified name", is_extended, "example.com/-gpu", false),
            ("IsOvercommitAllowed: cpu", is_overcommit_allowed, "cpu", true),
            ("IsOvercommitAllowed: huge pages", is_overcommit_allowed, "hugepages-2Mi", false),
            ("IsOvercommitAllowed: extended", is_overcommit_allowed, "example.com/gpu", false),
            ("IsStandardContainerResourceName: pods is not", is_standard_container_resource, "pods", false),
            (
                "IsStandardContainerResourceName: huge pages",
                is_standard_container_resource,
                "hugepages-1Gi",
                true,
            ),
            ("IsIntegerResourceName: extended", is_integer_resource, "example.com/gpu", true),
            ("IsIntegerResourceName: cpu is not", is_integer_resource, "cpu", false),
        ];
        for (rule, class, name, expected) in rows {
            assert_eq!(class(name), expected, "{rule}: {name}");
        }
    }
}
