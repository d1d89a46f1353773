//! The parts of a Pod that admission reads and writes, parsed once: each container's
//! requests and limits, pod-level resources, overhead and the fields quota scopes match on.
//!
//! Also the pod totals upstream computes from them: `PodRequests`/`PodLimits`
//! (`k8s.io/component-helpers/resource`) with the sidecar rule — a pod needs the sum of its
//! containers and restartable init containers, or, while an init container runs, that init
//! container plus the restartable ones started before it, whichever is larger.

use autolabs_k8s::k8s::{Container, Pod};

use crate::ResourcesError;
use crate::resource_list::{ResourceList, add_into, max_into, parse_list, to_k8s_list};
use crate::resource_names::{HUGEPAGES_PREFIX, is_qos_compute_resource};

/// One container's resources.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerResources {
    pub name: String,
    pub requests: ResourceList,
    pub limits: ResourceList,
    /// An init container with `restartPolicy: Always` (a sidecar): it keeps running, so
    /// its resources add to the regular containers'.
    pub restartable: bool,
}

/// Which list of a container an aggregate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Requests,
    Limits,
}

impl ContainerResources {
    fn side(&self, side: Side) -> &ResourceList {
        match side {
            Side::Requests => &self.requests,
            Side::Limits => &self.limits,
        }
    }
}

/// A pod's quality-of-service class (`status.qosClass`).
// k8s.io/api/core/v1/types.go PodQOSClass
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QosClass {
    Guaranteed,
    Burstable,
    BestEffort,
}

impl QosClass {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            QosClass::Guaranteed => "Guaranteed",
            QosClass::Burstable => "Burstable",
            QosClass::BestEffort => "BestEffort",
        }
    }
}

/// The resource view of a Pod.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PodResources {
    /// `metadata.name`, or `metadata.generateName` when no name is given.
    pub name: String,
    pub containers: Vec<ContainerResources>,
    pub init_containers: Vec<ContainerResources>,
    /// `spec.resources.requests` (pod-level resources).
    pub pod_requests: ResourceList,
    /// `spec.resources.limits` (pod-level resources).
    pub pod_limits: ResourceList,
    /// `spec.overhead` (set by the RuntimeClass admission plugin).
    pub overhead: ResourceList,
    pub active_deadline_seconds: Option<i64>,
    pub priority_class_name: String,
    /// `status.phase` is `Succeeded` or `Failed`: no compute quota is charged.
    pub terminal: bool,
    /// Uses pod (anti-)affinity terms with `namespaces` or `namespaceSelector`.
    pub cross_namespace_affinity: bool,
}

fn parse_container(c: &Container, path: &str) -> Result<ContainerResources, ResourcesError> {
    let resources = c.resources.as_ref();
    Ok(ContainerResources {
        name: c.name.clone(),
        requests: parse_list(
            resources.and_then(|r| r.requests.as_ref()),
            &format!("{path}.resources.requests"),
        )?,
        limits: parse_list(resources.and_then(|r| r.limits.as_ref()), &format!("{path}.resources.limits"))?,
        restartable: c.restart_policy.as_deref() == Some("Always"),
    })
}

impl PodResources {
    /// Reads a Pod; fails on the first quantity that does not parse, naming its field.
    pub fn from_pod(pod: &Pod) -> Result<Self, ResourcesError> {
        let meta = &pod.metadata;
        let name = meta.name.clone().or_else(|| meta.generate_name.clone()).unwrap_or_default();
        let spec = pod.spec.as_ref();
        let containers = spec
            .map(|s| &s.containers[..])
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(i, c)| parse_container(c, &format!("spec.containers[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        let init_containers = spec
            .and_then(|s| s.init_containers.as_deref())
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(i, c)| parse_container(c, &format!("spec.initContainers[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        let pod_level = spec.and_then(|s| s.resources.as_ref());
        let affinity = spec.and_then(|s| s.affinity.as_ref());
        Ok(PodResources {
            name,
            containers,
            init_containers,
            pod_requests: parse_list(pod_level.and_then(|r| r.requests.as_ref()), "spec.resources.requests")?,
            pod_limits: parse_list(pod_level.and_then(|r| r.limits.as_ref()), "spec.resources.limits")?,
            overhead: parse_list(spec.and_then(|s| s.overhead.as_ref()), "spec.overhead")?,
            active_deadline_seconds: spec.and_then(|s| s.active_deadline_seconds),
            priority_class_name: spec.and_then(|s| s.priority_class_name.clone()).unwrap_or_default(),
            terminal: matches!(
                pod.status.as_ref().and_then(|s| s.phase.as_deref()),
                Some("Succeeded") | Some("Failed")
            ),
            cross_namespace_affinity: affinity.is_some_and(uses_cross_namespace_affinity),
        })
    }

    /// Writes every container's requests and limits back into `pod` (canonical strings).
    pub fn write_back(&self, pod: &mut Pod) {
        let Some(spec) = pod.spec.as_mut() else { return };
        let write = |target: &mut Container, source: &ContainerResources| {
            let requests = to_k8s_list(&source.requests);
            let limits = to_k8s_list(&source.limits);
            if requests.is_none() && limits.is_none() && target.resources.is_none() {
                return;
            }
            let resources = target.resources.get_or_insert_with(Default::default);
            resources.requests = requests;
            resources.limits = limits;
        };
        for (target, source) in spec.containers.iter_mut().zip(&self.containers) {
            write(target, source);
        }
        for (target, source) in spec.init_containers.iter_mut().flatten().zip(&self.init_containers) {
            write(target, source);
        }
    }

    /// Every container, regular ones first, then init containers.
    pub fn all_containers(&self) -> impl Iterator<Item = &ContainerResources> {
        self.containers.iter().chain(&self.init_containers)
    }

    /// `IsPodLevelResourcesSet`: pod-level requests or limits name a supported resource.
    // k8s.io/component-helpers/resource/helpers.go IsPodLevelResourcesSet
    pub fn pod_level_resources_set(&self) -> bool {
        self.pod_requests.keys().chain(self.pod_limits.keys()).any(|n| is_supported_pod_level(n, true))
    }

    /// `IsTerminating`: `activeDeadlineSeconds >= 0`.
    // k8s.io/kubernetes/pkg/quota/v1/evaluator/core/pods.go IsTerminating
    pub fn is_terminating(&self) -> bool {
        self.active_deadline_seconds.is_some_and(|s| s >= 0)
    }

    /// `GetPodQOS(pod) == BestEffort`.
    // k8s.io/kubernetes/pkg/apis/core/v1/helper/qos/qos.go ComputePodQOS
    pub fn is_best_effort(&self) -> bool {
        self.qos_class() == QosClass::BestEffort
    }

    /// The pod's QoS class (`status.qosClass`), from its cpu and memory: BestEffort without a
    /// positive request or limit, Guaranteed when every container limits both and the
    /// requests equal the limits, Burstable otherwise. Pod-level resources, when given,
    /// decide alone. A container's missing request counts as its limit, as API defaulting
    /// (`SetDefaults_Pod`) will have made it.
    // k8s.io/kubernetes/pkg/apis/core/v1/helper/qos/qos.go ComputePodQOS
    pub fn qos_class(&self) -> QosClass {
        let positive = |list: &ResourceList| -> ResourceList {
            list.iter()
                .filter(|(name, q)| is_qos_compute_resource(name) && q.nanos() > 0)
                .map(|(name, q)| (name.clone(), *q))
                .collect()
        };
        let mut requests = ResourceList::new();
        let mut limits = ResourceList::new();
        let mut guaranteed = true;
        if !self.pod_requests.is_empty() || !self.pod_limits.is_empty() {
            requests = positive(&self.pod_requests);
            limits = positive(&self.pod_limits);
            for (name, limit) in &limits {
                if !self.pod_requests.contains_key(name) {
                    requests.insert(name.clone(), *limit);
                }
            }
            guaranteed = limits.len() == 2;
        } else {
            for container in self.all_containers() {
                let container_limits = positive(&container.limits);
                let mut container_requests = positive(&container.requests);
                for (name, limit) in &container_limits {
                    if !container.requests.contains_key(name) {
                        container_requests.insert(name.clone(), *limit);
                    }
                }
                // Sums saturate: a pod whose cpu or memory overflows i128 nanos is not a real pod.
                let add = |total: &mut ResourceList, list: &ResourceList| {
                    for (name, q) in list {
                        let sum = total.get(name).map_or(Some(*q), |t| t.checked_add(*q));
                        total.insert(name.clone(), sum.unwrap_or(*q));
                    }
                };
                add(&mut requests, &container_requests);
                add(&mut limits, &container_limits);
                if container_limits.len() < 2 {
                    guaranteed = false;
                }
            }
        }
        if requests.is_empty() && limits.is_empty() {
            return QosClass::BestEffort;
        }
        let requests_equal_limits = requests.iter().all(|(name, request)| limits.get(name) == Some(request));
        if guaranteed && requests_equal_limits && requests.len() == limits.len() {
            QosClass::Guaranteed
        } else {
            QosClass::Burstable
        }
    }
}

/// Pod-level resources that override the container aggregate: cpu and memory, and, in
/// `component-helpers`, huge pages (the LimitRanger's own copy leaves those out).
// k8s.io/component-helpers/resource/helpers.go IsSupportedPodLevelResource
fn is_supported_pod_level(name: &str, with_hugepages: bool) -> bool {
    matches!(name, "cpu" | "memory") || (with_hugepages && name.starts_with(HUGEPAGES_PREFIX))
}

fn uses_cross_namespace_affinity(affinity: &autolabs_k8s::k8s::k8s_openapi::api::core::v1::Affinity) -> bool {
    use autolabs_k8s::k8s::k8s_openapi::api::core::v1::PodAffinityTerm;
    // k8s.io/kubernetes/pkg/quota/v1/evaluator/core/pods.go crossNamespacePodAffinityTerm
    let cross = |t: &PodAffinityTerm| {
        t.namespaces.as_ref().is_some_and(|n| !n.is_empty()) || t.namespace_selector.is_some()
    };
    let terms = |required: Option<&Vec<PodAffinityTerm>>, preferred: Vec<&PodAffinityTerm>| {
        required.into_iter().flatten().any(cross) || preferred.into_iter().any(cross)
    };
    let affinity_uses = affinity.pod_affinity.as_ref().is_some_and(|a| {
        terms(
            a.required_during_scheduling_ignored_during_execution.as_ref(),
            a.preferred_during_scheduling_ignored_during_execution
                .iter()
                .flatten()
                .map(|w| &w.pod_affinity_term)
                .collect(),
        )
    });
    let anti_uses = affinity.pod_anti_affinity.as_ref().is_some_and(|a| {
        terms(
            a.required_during_scheduling_ignored_during_execution.as_ref(),
            a.preferred_during_scheduling_ignored_during_execution
                .iter()
                .flatten()
                .map(|w| &w.pod_affinity_term)
                .collect(),
        )
    });
    affinity_uses || anti_uses
}

/// Which pod total to compute and how (the options of upstream's helpers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TotalOptions {
    /// Add `spec.overhead` (quota and scheduling do; the LimitRanger does not).
    pub include_overhead: bool,
    /// Pod-level huge pages override too (`component-helpers`) or only cpu/memory
    /// (the LimitRanger's `podRequests`).
    pub pod_level_hugepages: bool,
}

impl TotalOptions {
    /// `resourcehelper.PodRequests`/`PodLimits` as the quota evaluator calls them.
    pub const QUOTA: TotalOptions = TotalOptions { include_overhead: true, pod_level_hugepages: true };
    /// The LimitRanger's own `podRequests`/`podLimits`.
    pub const LIMIT_RANGER: TotalOptions =
        TotalOptions { include_overhead: false, pod_level_hugepages: false };
}

/// The container aggregate with the sidecar rule (`aggregateContainerResourcesByFn`).
// k8s.io/component-helpers/resource/helpers.go aggregateContainerResourcesByFn
pub fn aggregate_containers(pod: &PodResources, side: Side) -> Result<ResourceList, ResourcesError> {
    let field = match side {
        Side::Requests => "pod requests",
        Side::Limits => "pod limits",
    };
    let mut total = ResourceList::new();
    for c in &pod.containers {
        add_into(&mut total, c.side(side), field)?;
    }
    let mut restartable_so_far = ResourceList::new();
    let mut init_peak = ResourceList::new();
    for c in &pod.init_containers {
        if c.restartable {
            add_into(&mut total, c.side(side), field)?;
            add_into(&mut restartable_so_far, c.side(side), field)?;
            max_into(&mut init_peak, &restartable_so_far);
        } else {
            let mut running = c.side(side).clone();
            add_into(&mut running, &restartable_so_far, field)?;
            max_into(&mut init_peak, &running);
        }
    }
    max_into(&mut total, &init_peak);
    Ok(total)
}

/// `PodRequests`: the container aggregate, pod-level requests where given, plus overhead.
// k8s.io/component-helpers/resource/helpers.go PodRequests
pub fn pod_requests(pod: &PodResources, options: TotalOptions) -> Result<ResourceList, ResourcesError> {
    let mut total = aggregate_containers(pod, Side::Requests)?;
    for (name, q) in &pod.pod_requests {
        if is_supported_pod_level(name, options.pod_level_hugepages) {
            total.insert(name.clone(), *q);
        }
    }
    if options.include_overhead {
        add_into(&mut total, &pod.overhead, "spec.overhead")?;
    }
    Ok(total)
}

/// `PodLimits`: the container aggregate, pod-level limits where given, plus overhead on
/// every non-zero limit.
// k8s.io/component-helpers/resource/helpers.go PodLimits
pub fn pod_limits(pod: &PodResources, options: TotalOptions) -> Result<ResourceList, ResourcesError> {
    let mut total = aggregate_containers(pod, Side::Limits)?;
    for (name, q) in &pod.pod_limits {
        if is_supported_pod_level(name, options.pod_level_hugepages) {
            total.insert(name.clone(), *q);
        }
    }
    if options.include_overhead {
        for (name, extra) in &pod.overhead {
            if let Some(limit) = total.get(name).copied().filter(|l| !l.is_zero()) {
                total.insert(
                    name.clone(),
                    crate::resource_list::add_quantities(limit, *extra, "spec.overhead")?,
                );
            }
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use autolabs_k8s::Quantity;

    fn list(entries: &[(&str, &str)]) -> ResourceList {
        entries.iter().map(|(k, v)| (k.to_string(), Quantity::parse(v).unwrap())).collect()
    }

    fn container(name: &str, requests: &[(&str, &str)], restartable: bool) -> ContainerResources {
        ContainerResources { name: name.into(), requests: list(requests), limits: list(&[]), restartable }
    }

    fn cpu(l: &ResourceList) -> String {
        l.get("cpu").map(|q| q.to_string()).unwrap_or_default()
    }

    #[test]
    fn pod_totals() {
        let base = PodResources {
            containers: vec![
                container("a", &[("cpu", "1")], false),
                container("b", &[("cpu", "500m")], false),
            ],
            ..Default::default()
        };
        let with_init =
            |inits: Vec<ContainerResources>| PodResources { init_containers: inits, ..base.clone() };
        // (upstream rule, pod, options, expected cpu request)
        let rows: Vec<(&str, PodResources, TotalOptions, &str)> = vec![
            ("PodRequests: sum of containers", base.clone(), TotalOptions::QUOTA, "1500m"),
            (
                "PodRequests: an init container larger than the sum wins",
                with_init(vec![container("i", &[("cpu", "2")], false)]),
                TotalOptions::QUOTA,
                "2",
            ),
            (
                "PodRequests: a smaller init container does not count",
                with_init(vec![container("i", &[("cpu", "1")], false)]),
                TotalOptions::QUOTA,
                "1500m",
            ),
            (
                "PodRequests: a sidecar adds to the containers",
                with_init(vec![container("s", &[("cpu", "250m")], true)]),
                TotalOptions::QUOTA,
                "1750m",
            ),
            (
                "PodRequests: an init container after a sidecar runs beside it",
                with_init(vec![
                    container("s", &[("cpu", "1")], true),
                    container("i", &[("cpu", "2")], false),
                ]),
                TotalOptions::QUOTA,
                "3",
            ),
            (
                "PodRequests: overhead is added",
                PodResources { overhead: list(&[("cpu", "100m")]), ..base.clone() },
                TotalOptions::QUOTA,
                "1600m",
            ),
            (
                "limitranger podRequests: no overhead",
                PodResources { overhead: list(&[("cpu", "100m")]), ..base.clone() },
                TotalOptions::LIMIT_RANGER,
                "1500m",
            ),
            (
                "PodRequests: pod-level requests override the aggregate",
                PodResources { pod_requests: list(&[("cpu", "3")]), ..base.clone() },
                TotalOptions::QUOTA,
                "3",
            ),
        ];
        for (rule, pod, options, expected) in rows {
            assert_eq!(cpu(&pod_requests(&pod, options).unwrap()), expected, "{rule}");
        }
    }

    #[test]
    fn overhead_is_added_only_to_non_zero_limits() {
        // k8s.io/component-helpers/resource/helpers.go PodLimits
        let pod = PodResources {
            containers: vec![ContainerResources {
                name: "a".into(),
                limits: list(&[("cpu", "1"), ("memory", "0")]),
                ..Default::default()
            }],
            overhead: list(&[("cpu", "100m"), ("memory", "64Mi")]),
            ..Default::default()
        };
        let limits = pod_limits(&pod, TotalOptions::QUOTA).unwrap();
        assert_eq!(limits["cpu"].to_string(), "1100m");
        assert!(limits["memory"].is_zero());
    }

    #[test]
    fn qos_and_scope_facts() {
        // k8s.io/kubernetes/pkg/apis/core/v1/helper/qos/qos.go ComputePodQOS
        let empty = PodResources { containers: vec![container("a", &[], false)], ..Default::default() };
        assert!(empty.is_best_effort());
        let zero =
            PodResources { containers: vec![container("a", &[("cpu", "0")], false)], ..Default::default() };
        assert!(zero.is_best_effort(), "a zero request does not leave BestEffort");
        let gpu = PodResources {
            containers: vec![container("a", &[("example.com/gpu", "1")], false)],
            ..Default::default()
        };
        assert!(gpu.is_best_effort(), "only cpu and memory decide QoS");
        let burstable = PodResources {
            containers: vec![container("a", &[("memory", "1Mi")], false)],
            ..Default::default()
        };
        assert!(!burstable.is_best_effort());
        // k8s.io/kubernetes/pkg/quota/v1/evaluator/core/pods.go IsTerminating
        assert!(PodResources { active_deadline_seconds: Some(0), ..Default::default() }.is_terminating());
        assert!(!PodResources::default().is_terminating());
    }

    #[test]
    fn qos_classes() {
        // qos.ComputePodQOS: (rule, containers' (requests, limits), expected)
        let one = |requests: &[(&str, &str)], limits: &[(&str, &str)]| ContainerResources {
            name: "c".into(),
            requests: list(requests),
            limits: list(limits),
            restartable: false,
        };
        let both = [("cpu", "1"), ("memory", "1Gi")];
        let rows = [
            ("nothing set", vec![one(&[], &[])], QosClass::BestEffort),
            ("zero requests are not requests", vec![one(&[("cpu", "0")], &[])], QosClass::BestEffort),
            ("only cpu and memory count", vec![one(&[("nvidia.com/gpu", "1")], &[])], QosClass::BestEffort),
            ("limits only: requests default to them", vec![one(&[], &both)], QosClass::Guaranteed),
            ("requests equal limits", vec![one(&both, &both)], QosClass::Guaranteed),
            (
                "equal by value, not by spelling",
                vec![one(&[("cpu", "1000m"), ("memory", "1024Mi")], &both)],
                QosClass::Guaranteed,
            ),
            ("a request alone", vec![one(&[("cpu", "100m")], &[])], QosClass::Burstable),
            (
                "requests below limits",
                vec![one(&[("cpu", "500m"), ("memory", "1Gi")], &both)],
                QosClass::Burstable,
            ),
            ("cpu limited, memory not", vec![one(&[], &[("cpu", "1")])], QosClass::Burstable),
            (
                "one container unlimited",
                vec![one(&both, &both), one(&[("cpu", "1")], &[])],
                QosClass::Burstable,
            ),
        ];
        for (rule, containers, expected) in rows {
            let pod = PodResources { containers, ..Default::default() };
            assert_eq!(pod.qos_class(), expected, "{rule}");
        }
        let pod_level = PodResources {
            pod_limits: list(&both),
            containers: vec![one(&[("cpu", "100m")], &[])],
            ..Default::default()
        };
        assert_eq!(pod_level.qos_class(), QosClass::Guaranteed, "pod-level resources decide alone");
        assert_eq!(QosClass::BestEffort.as_str(), "BestEffort");
    }
}
