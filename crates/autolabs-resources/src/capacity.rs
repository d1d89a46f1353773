//! Capacity planning on top of the admission model.
//!
//! - [`capacity`]: how many more pods of a given spec the namespace admits — per quota
//!   resource (`(hard − used) ÷ the pod's charge`) and per node (`free ÷ the pod's
//!   requests`, as the scheduler's NodeResourcesFit counts: requests incl. overhead, plus
//!   one of the node's `pods`) — and which of those binds.
//! - [`findings`]: settings that can never work: a LimitRange that contradicts itself (the
//!   API server's `ValidateLimitRange` rules), a LimitRange that allows containers no
//!   quota can hold, a quota larger than the nodes can ever provide, a LimitRange maximum
//!   larger than any node, and a namespace where a pod that states no resources is refused.
//!
//! Node capacity is what the caller passes: pass allocatable minus what already runs
//! there for a live answer, or plain allocatable for planning.

use autolabs_k8s::Quantity;
use autolabs_k8s::k8s::{Container, Pod, PodSpec};

use crate::admission::{Admitted, Namespace, Rejection, admit_pod};
use crate::limit_range::{LimitRangeItem, LimitType, ratio_string};
use crate::pod::{PodResources, TotalOptions, pod_requests};
use crate::resource_list::ResourceList;
use crate::resource_names::{LIMITS_PREFIX, PODS, REQUESTS_PREFIX};

/// The free resources of one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeCapacity {
    pub name: String,
    /// Allocatable (or free) resources, including `pods`.
    pub allocatable: ResourceList,
}

/// How many pods one quota resource still admits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaHeadroom {
    pub quota: String,
    pub resource: String,
    /// What one pod charges.
    pub per_pod: Quantity,
    /// `hard − used`.
    pub remaining: Quantity,
    pub fits: u64,
}

/// How many pods fit on one node, and the resource that runs out first there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeHeadroom {
    pub node: String,
    pub fits: u64,
    /// The resource that binds on this node (`None` when the pod requests nothing the
    /// node counts, which cannot happen: every pod takes one of `pods`).
    pub binding_resource: Option<String>,
    /// Per requested resource: (name, per pod, free on the node, pods that fit).
    pub per_resource: Vec<(String, Quantity, Quantity, u64)>,
}

/// What stops the next pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Binding {
    /// The pod is refused outright (validation, LimitRange or quota).
    Rejected,
    /// A quota resource runs out first.
    Quota { quota: String, resource: String },
    /// The nodes run out first.
    Nodes,
}

/// The answer of [`capacity`].
#[derive(Debug, Clone, PartialEq)]
pub struct CapacityReport {
    /// The pod as admission would store it, when it is admitted at all.
    pub admitted: Option<Admitted>,
    /// Why the pod is refused right now.
    pub rejection: Option<Rejection>,
    /// The pod's requests as the scheduler counts them (with overhead).
    pub scheduling_requests: ResourceList,
    pub quota_headroom: Vec<QuotaHeadroom>,
    pub node_headroom: Vec<NodeHeadroom>,
    /// Pods of this spec that still fit; `None` when nothing bounds them (no quota tracks
    /// what the pod uses and no nodes were given).
    pub fits: Option<u64>,
    pub binding: Option<Binding>,
    /// One human sentence with the numbers.
    pub summary: String,
}

fn whole_fits(available: Quantity, per_pod: Quantity) -> u64 {
    available.fits(per_pod).map_or(u64::MAX, |n| u64::try_from(n).unwrap_or(u64::MAX))
}

/// How many more pods like `pod` the namespace admits and the nodes hold.
pub fn capacity(namespace: &Namespace, pod: &Pod, nodes: &[NodeCapacity]) -> CapacityReport {
    let admitted = match admit_pod(namespace, pod) {
        Ok(admitted) => admitted,
        Err(rejection) => {
            let summary = format!("no pod of this spec is admitted now: {}", rejection.message);
            return CapacityReport {
                admitted: None,
                rejection: Some(rejection),
                scheduling_requests: ResourceList::new(),
                quota_headroom: Vec::new(),
                node_headroom: Vec::new(),
                fits: Some(0),
                binding: Some(Binding::Rejected),
                summary,
            };
        }
    };

    let mut quota_headroom = Vec::new();
    for charge in &admitted.charges {
        let Some(quota) = namespace.quota(&charge.quota) else { continue };
        let remaining = quota.remaining();
        for (resource, per_pod) in &charge.requested {
            let left = remaining.get(resource).copied().unwrap_or(Quantity::ZERO);
            quota_headroom.push(QuotaHeadroom {
                quota: quota.name.clone(),
                resource: resource.clone(),
                per_pod: *per_pod,
                remaining: left,
                // The pod was admitted, so one more fits: `(hard − used) ÷ per pod ≥ 1`.
                fits: whole_fits(left, *per_pod),
            });
        }
    }

    let scheduling_requests = PodResources::from_pod(&admitted.pod)
        .and_then(|p| pod_requests(&p, TotalOptions::QUOTA))
        .unwrap_or_default();
    let mut needs: Vec<(String, Quantity)> =
        scheduling_requests.iter().filter(|(_, q)| q.nanos() > 0).map(|(k, q)| (k.clone(), *q)).collect();
    needs.push((PODS.to_string(), Quantity::from_units(1)));
    let node_headroom: Vec<NodeHeadroom> = nodes
        .iter()
        .map(|node| {
            let per_resource: Vec<(String, Quantity, Quantity, u64)> = needs
                .iter()
                .map(|(name, per_pod)| {
                    let free = node.allocatable.get(name).copied().unwrap_or(Quantity::ZERO);
                    (name.clone(), *per_pod, free, whole_fits(free, *per_pod))
                })
                .collect();
            let binding = per_resource.iter().min_by_key(|(_, _, _, fits)| *fits);
            NodeHeadroom {
                node: node.name.clone(),
                fits: binding.map_or(0, |b| b.3),
                binding_resource: binding.map(|b| b.0.clone()),
                per_resource,
            }
        })
        .collect();

    let quota_bound = quota_headroom.iter().min_by_key(|h| h.fits);
    let node_total: Option<u64> =
        (!nodes.is_empty()).then(|| node_headroom.iter().fold(0u64, |sum, n| sum.saturating_add(n.fits)));
    let (fits, binding) = match (quota_bound, node_total) {
        (Some(q), Some(n)) if n < q.fits => (Some(n), Some(Binding::Nodes)),
        (Some(q), _) => {
            (Some(q.fits), Some(Binding::Quota { quota: q.quota.clone(), resource: q.resource.clone() }))
        }
        (None, Some(n)) => (Some(n), Some(Binding::Nodes)),
        (None, None) => (None, None),
    };

    let summary = summarize(fits, binding.as_ref(), quota_bound, &node_headroom);
    CapacityReport {
        admitted: Some(admitted),
        rejection: None,
        scheduling_requests,
        quota_headroom,
        node_headroom,
        fits,
        binding,
        summary,
    }
}

fn summarize(
    fits: Option<u64>,
    binding: Option<&Binding>,
    quota_bound: Option<&QuotaHeadroom>,
    nodes: &[NodeHeadroom],
) -> String {
    let node_detail = || {
        nodes
            .iter()
            .map(|n| {
                let why = n
                    .binding_resource
                    .as_ref()
                    .and_then(|r| n.per_resource.iter().find(|p| &p.0 == r))
                    .map(|(r, per_pod, free, _)| format!(" ({r}: {free} free, {per_pod} per pod)"))
                    .unwrap_or_default();
                format!("{}: {}{why}", n.node, n.fits)
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    match (fits, binding, quota_bound) {
        (Some(n), Some(Binding::Quota { .. }), Some(q)) => {
            let mut s = format!(
                "{n} more pod(s) fit: ResourceQuota {} binds on {} ({} left of the hard limit, {} per pod)",
                q.quota, q.resource, q.remaining, q.per_pod
            );
            if !nodes.is_empty() {
                s.push_str(&format!("; nodes would hold more ({})", node_detail()));
            }
            s
        }
        (Some(n), Some(Binding::Nodes), _) => {
            let mut s = format!("{n} more pod(s) fit on the nodes ({})", node_detail());
            if let Some(q) = quota_bound {
                s.push_str(&format!(
                    "; ResourceQuota {} would allow {} ({} on {} left, {} per pod)",
                    q.quota, q.fits, q.resource, q.remaining, q.per_pod
                ));
            }
            s
        }
        _ => {
            "no quota tracks what this pod uses and no nodes were given: nothing bounds the count".to_string()
        }
    }
}

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The API server refuses the object, or every ordinary pod is refused.
    Error,
    /// A setting that can never take effect.
    Warning,
}

/// One problem found by [`findings`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    /// Stable identifier (`limitrange-invalid`, `quota-exceeds-nodes`…).
    pub code: &'static str,
    /// `LimitRange/NAME`, `ResourceQuota/NAME` or `Namespace`.
    pub object: String,
    pub message: String,
}

/// Settings of `namespace` (and of `nodes`, when given) that can never work together.
pub fn findings(namespace: &Namespace, nodes: &[NodeCapacity]) -> Vec<Finding> {
    let mut out = Vec::new();
    for lr in &namespace.limit_ranges {
        for (i, item) in lr.items.iter().enumerate() {
            for message in limit_range_item_errors(item, &format!("spec.limits[{i}]")) {
                out.push(Finding {
                    severity: Severity::Error,
                    code: "limitrange-invalid",
                    object: format!("LimitRange/{}", lr.name),
                    message,
                });
            }
            limit_range_vs_quotas(namespace, &lr.name, item, &mut out);
            limit_range_vs_nodes(&lr.name, item, nodes, &mut out);
        }
    }
    quotas_vs_nodes(namespace, nodes, &mut out);
    bare_pod_probe(namespace, &mut out);
    out
}

/// `ValidateLimitRange`'s per-item rules, with the default values already applied (the
/// API server validates after defaulting).
// k8s.io/kubernetes/pkg/apis/core/validation/validation.go ValidateLimitRange
pub fn limit_range_item_errors(item: &LimitRangeItem, path: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if item.limit_type == LimitType::Pod {
        if !item.default.is_empty() {
            errors.push(format!("{path}.default: Forbidden: may not be specified when `type` is 'Pod'"));
        }
        if !item.default_request.is_empty() {
            errors
                .push(format!("{path}.defaultRequest: Forbidden: may not be specified when `type` is 'Pod'"));
        }
    }
    let names: std::collections::BTreeSet<&String> = item
        .max
        .keys()
        .chain(item.min.keys())
        .chain(item.default.keys())
        .chain(item.default_request.keys())
        .chain(item.max_limit_request_ratio.keys())
        .collect();
    for name in names {
        let (min, max) = (item.min.get(name), item.max.get(name));
        let (default, default_request) = (item.default.get(name), item.default_request.get(name));
        let ratio = item.max_limit_request_ratio.get(name);
        if let (Some(min), Some(max)) = (min, max)
            && min > max
        {
            errors.push(format!("{path}.min[{name}]: Invalid value: \"{min}\": min value {min} is greater than max value {max}"));
        }
        if let (Some(min), Some(dr)) = (min, default_request)
            && min > dr
        {
            errors.push(format!(
                "{path}.defaultRequest[{name}]: Invalid value: \"{dr}\": min value {min} is greater than default request value {dr}"
            ));
        }
        if let (Some(dr), Some(max)) = (default_request, max)
            && dr > max
        {
            errors.push(format!(
                "{path}.defaultRequest[{name}]: Invalid value: \"{dr}\": default request value {dr} is greater than max value {max}"
            ));
        }
        if let (Some(dr), Some(d)) = (default_request, default)
            && dr > d
        {
            errors.push(format!(
                "{path}.defaultRequest[{name}]: Invalid value: \"{dr}\": default request value {dr} is greater than default limit value {d}"
            ));
        }
        if let (Some(min), Some(d)) = (min, default)
            && min > d
        {
            errors.push(format!("{path}.default[{name}]: Invalid value: \"{min}\": min value {min} is greater than default value {d}"));
        }
        if let (Some(d), Some(max)) = (default, max)
            && d > max
        {
            errors.push(format!("{path}.default[{name}]: Invalid value: \"{max}\": default value {d} is greater than max value {max}"));
        }
        if let Some(ratio) = ratio
            && *ratio < Quantity::from_units(1)
        {
            errors.push(format!("{path}.maxLimitRequestRatio[{name}]: Invalid value: \"{ratio}\": ratio {ratio} is less than 1"));
        }
        if let (Some(ratio), Some(min), Some(max)) = (ratio, min, max)
            && !min.is_zero()
            && exceeds(*ratio, *min, *max)
        {
            errors.push(format!(
                "{path}.maxLimitRequestRatio[{name}]: Invalid value: \"{ratio}\": ratio {ratio} is greater than max/min = {}",
                ratio_string(*max, *min)
            ));
        }
    }
    errors
}

/// `ratio > max / min`, exactly: `ratio · min > max · 10⁹` in nano-units.
fn exceeds(ratio: Quantity, min: Quantity, max: Quantity) -> bool {
    let lhs = ratio.nanos().checked_mul(min.nanos());
    let rhs = max.nanos().checked_mul(1_000_000_000);
    match (lhs, rhs) {
        (Some(l), Some(r)) => l > r,
        _ => (ratio.nanos() as f64) * (min.nanos() as f64) > (max.nanos() as f64) * 1e9,
    }
}

/// The quota resources a LimitRange maximum on `name` is compared with.
fn quota_names_for(name: &str) -> [String; 3] {
    [name.to_string(), format!("{REQUESTS_PREFIX}{name}"), format!("{LIMITS_PREFIX}{name}")]
}

fn limit_range_vs_quotas(namespace: &Namespace, lr: &str, item: &LimitRangeItem, out: &mut Vec<Finding>) {
    if !matches!(item.limit_type, LimitType::Container | LimitType::Pod) {
        return;
    }
    let per = item.limit_type.as_str();
    for (name, max) in &item.max {
        for quota in &namespace.quotas {
            for quota_name in quota_names_for(name) {
                let Some(hard) = quota.hard.get(&quota_name) else { continue };
                if max > hard {
                    out.push(Finding {
                        severity: Severity::Warning,
                        code: "limitrange-max-exceeds-quota",
                        object: format!("LimitRange/{lr}"),
                        message: format!(
                            "LimitRange {lr} allows {name} up to {max} per {per}, but ResourceQuota {} limits \
                             {quota_name} to {hard} for the whole namespace: a {per} above {hard} is always refused",
                            quota.name
                        ),
                    });
                }
            }
        }
    }
}

fn limit_range_vs_nodes(lr: &str, item: &LimitRangeItem, nodes: &[NodeCapacity], out: &mut Vec<Finding>) {
    if nodes.is_empty() || !matches!(item.limit_type, LimitType::Container | LimitType::Pod) {
        return;
    }
    let per = item.limit_type.as_str();
    for (name, max) in &item.max {
        let largest =
            nodes.iter().filter_map(|n| n.allocatable.get(name).map(|q| (n, *q))).max_by_key(|(_, q)| *q);
        let Some((node, largest)) = largest else { continue };
        if *max > largest {
            out.push(Finding {
                severity: Severity::Warning,
                code: "limitrange-max-exceeds-node",
                object: format!("LimitRange/{lr}"),
                message: format!(
                    "LimitRange {lr} allows {name} requests up to {max} per {per}, but the largest node ({}) can \
                     allocate only {largest}: such a pod is admitted and never scheduled",
                    node.name
                ),
            });
        }
    }
}

/// The node resource a quota resource draws on (limits may overcommit, so they have none).
fn node_resource_for(quota_resource: &str) -> Option<&str> {
    if quota_resource == PODS {
        return Some(PODS);
    }
    if let Some(rest) = quota_resource.strip_prefix(REQUESTS_PREFIX) {
        return Some(rest);
    }
    matches!(quota_resource, "cpu" | "memory" | "ephemeral-storage").then_some(quota_resource)
}

fn quotas_vs_nodes(namespace: &Namespace, nodes: &[NodeCapacity], out: &mut Vec<Finding>) {
    if nodes.is_empty() {
        return;
    }
    for quota in &namespace.quotas {
        for (name, hard) in &quota.hard {
            let Some(node_resource) = node_resource_for(name) else { continue };
            let mut total = Quantity::ZERO.with_format(hard.format());
            for node in nodes {
                if let Some(q) = node.allocatable.get(node_resource) {
                    total = total.checked_add(*q).unwrap_or(total);
                }
            }
            if hard > &total {
                out.push(Finding {
                    severity: Severity::Warning,
                    code: "quota-exceeds-nodes",
                    object: format!("ResourceQuota/{}", quota.name),
                    message: format!(
                        "ResourceQuota {} allows {name}={hard}, but the {} node(s) can allocate only \
                         {node_resource}={total} in total: the quota can never be reached",
                        quota.name,
                        nodes.len()
                    ),
                });
            }
        }
    }
}

/// A pod with one container that states no resources: if even that is refused, every
/// workload that relies on the namespace's defaults is.
fn bare_pod_probe(namespace: &Namespace, out: &mut Vec<Finding>) {
    let probe = Pod {
        metadata: autolabs_k8s::k8s::ObjectMeta { name: Some("probe".into()), ..Default::default() },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "main".into(),
                image: Some("probe".into()),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    match admit_pod(namespace, &probe) {
        Ok(_) => {}
        Err(rejection) => out.push(Finding {
            severity: Severity::Error,
            code: "bare-pod-rejected",
            object: rejection.object.as_ref().map_or("Namespace".to_string(), |o| match rejection.source {
                crate::RejectionSource::LimitRanger => format!("LimitRange/{o}"),
                _ => format!("ResourceQuota/{o}"),
            }),
            message: format!(
                "a pod whose container states no requests or limits is refused ({}): {}",
                rejection.status, rejection.message
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limit_range::LimitRangePolicy;
    use crate::quota::QuotaState;

    fn list(entries: &[(&str, &str)]) -> ResourceList {
        entries.iter().map(|(k, v)| (k.to_string(), Quantity::parse(v).unwrap())).collect()
    }

    fn lab_namespace() -> Namespace {
        let mut container = LimitRangeItem {
            max: list(&[("cpu", "1"), ("memory", "1Gi")]),
            default: list(&[("cpu", "500m"), ("memory", "512Mi")]),
            default_request: list(&[("cpu", "250m"), ("memory", "256Mi")]),
            ..LimitRangeItem::new(LimitType::Container)
        };
        container.apply_stored_defaults();
        Namespace {
            limit_ranges: vec![LimitRangePolicy { name: "lab-limits".into(), items: vec![container] }],
            quotas: vec![QuotaState::new(
                "lab-quota",
                list(&[
                    ("requests.cpu", "3"),
                    ("requests.memory", "3Gi"),
                    ("limits.cpu", "8"),
                    ("pods", "10"),
                ]),
            )],
        }
    }

    fn pod(requests: &[(&str, &str)]) -> Pod {
        let resources = autolabs_k8s::k8s::ResourceRequirements {
            requests: crate::resource_list::to_k8s_list(&list(requests)),
            ..Default::default()
        };
        Pod {
            metadata: autolabs_k8s::k8s::ObjectMeta { name: Some("lab".into()), ..Default::default() },
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "main".into(),
                    resources: Some(resources),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn node(name: &str, allocatable: &[(&str, &str)]) -> NodeCapacity {
        NodeCapacity { name: name.into(), allocatable: list(allocatable) }
    }

    #[test]
    fn capacity_rules() {
        let ns = lab_namespace();
        let empty = Namespace::default();
        let mut used = lab_namespace();
        used.quotas[0].used =
            list(&[("requests.cpu", "2500m"), ("requests.memory", "0"), ("limits.cpu", "0"), ("pods", "1")]);
        // (rule, namespace, pod, nodes, expected fits, expected binding)
        type Row<'a> = (&'a str, &'a Namespace, Pod, Vec<NodeCapacity>, Option<u64>, Option<Binding>);
        let rows: Vec<Row> = vec![
            (
                "defaults apply: 250m per pod against requests.cpu=3 → 12, but pods=10 binds",
                &ns,
                pod(&[]),
                vec![],
                Some(10),
                Some(Binding::Quota { quota: "lab-quota".into(), resource: "pods".into() }),
            ),
            (
                "400m per pod: requests.cpu 3 ÷ 400m → 7",
                &ns,
                pod(&[("cpu", "400m")]),
                vec![],
                Some(7),
                Some(Binding::Quota { quota: "lab-quota".into(), resource: "requests.cpu".into() }),
            ),
            (
                "used quota counts: 500m of requests.cpu left, 250m per pod → 2",
                &used,
                pod(&[]),
                vec![],
                Some(2),
                Some(Binding::Quota { quota: "lab-quota".into(), resource: "requests.cpu".into() }),
            ),
            (
                "nodes bind when smaller: 1 cpu free ÷ 250m → 4, on one node",
                &ns,
                pod(&[]),
                vec![node("n1", &[("cpu", "1"), ("memory", "8Gi"), ("pods", "110")])],
                Some(4),
                Some(Binding::Nodes),
            ),
            (
                "the node pod count binds",
                &ns,
                pod(&[]),
                vec![
                    node("n1", &[("cpu", "8"), ("memory", "8Gi"), ("pods", "3")]),
                    node("n2", &[("cpu", "8"), ("memory", "8Gi"), ("pods", "2")]),
                ],
                Some(5),
                Some(Binding::Nodes),
            ),
            (
                "a refused pod fits zero times",
                &ns,
                pod(&[("cpu", "2")]),
                vec![],
                Some(0),
                Some(Binding::Rejected),
            ),
            ("nothing bounds an unquota'd namespace without nodes", &empty, pod(&[]), vec![], None, None),
        ];
        for (rule, namespace, pod, nodes, fits, binding) in rows {
            let report = capacity(namespace, &pod, &nodes);
            assert_eq!(report.fits, fits, "{rule}: {}", report.summary);
            assert_eq!(report.binding, binding, "{rule}: {}", report.summary);
        }
    }

    #[test]
    fn summary_has_numbers() {
        let report = capacity(&lab_namespace(), &pod(&[]), &[]);
        assert_eq!(
            report.summary,
            "10 more pod(s) fit: ResourceQuota lab-quota binds on pods (10 left of the hard limit, 1 per pod)"
        );
        let report = capacity(
            &lab_namespace(),
            &pod(&[]),
            &[node("n1", &[("cpu", "1"), ("memory", "8Gi"), ("pods", "110")])],
        );
        assert_eq!(
            report.summary,
            "4 more pod(s) fit on the nodes (n1: 4 (cpu: 1 free, 250m per pod)); ResourceQuota lab-quota would allow 10 \
             (pods on 10 left, 1 per pod)"
        );
    }

    #[test]
    fn limit_range_validation_rules() {
        // k8s.io/kubernetes/pkg/apis/core/validation/validation.go ValidateLimitRange
        let item = |max: &[(&str, &str)],
                    min: &[(&str, &str)],
                    default: &[(&str, &str)],
                    dr: &[(&str, &str)],
                    ratio: &[(&str, &str)]| {
            LimitRangeItem {
                max: list(max),
                min: list(min),
                default: list(default),
                default_request: list(dr),
                max_limit_request_ratio: list(ratio),
                ..LimitRangeItem::new(LimitType::Container)
            }
        };
        let p = "spec.limits[0]";
        let rows: Vec<(&str, LimitRangeItem, Vec<String>)> = vec![
            (
                "consistent",
                item(
                    &[("cpu", "1")],
                    &[("cpu", "100m")],
                    &[("cpu", "500m")],
                    &[("cpu", "250m")],
                    &[("cpu", "4")],
                ),
                vec![],
            ),
            (
                "min above max",
                item(&[("cpu", "1")], &[("cpu", "2")], &[], &[], &[]),
                vec![format!("{p}.min[cpu]: Invalid value: \"2\": min value 2 is greater than max value 1")],
            ),
            (
                "default above max",
                item(&[("memory", "1Gi")], &[], &[("memory", "2Gi")], &[], &[]),
                vec![format!(
                    "{p}.default[memory]: Invalid value: \"1Gi\": default value 2Gi is greater than max value 1Gi"
                )],
            ),
            (
                "default request above default",
                item(&[], &[], &[("cpu", "500m")], &[("cpu", "1")], &[]),
                vec![format!(
                    "{p}.defaultRequest[cpu]: Invalid value: \"1\": default request value 1 is greater than default limit value 500m"
                )],
            ),
            (
                "ratio below one",
                item(&[], &[], &[], &[], &[("cpu", "500m")]),
                vec![format!(
                    "{p}.maxLimitRequestRatio[cpu]: Invalid value: \"500m\": ratio 500m is less than 1"
                )],
            ),
            (
                "ratio above max/min",
                item(&[("cpu", "1")], &[("cpu", "500m")], &[], &[], &[("cpu", "4")]),
                vec![format!(
                    "{p}.maxLimitRequestRatio[cpu]: Invalid value: \"4\": ratio 4 is greater than max/min = 2.000000"
                )],
            ),
        ];
        for (rule, item, expected) in rows {
            assert_eq!(limit_range_item_errors(&item, p), expected, "{rule}");
        }
        let pod_item =
            LimitRangeItem { default: list(&[("cpu", "1")]), ..LimitRangeItem::new(LimitType::Pod) };
        assert_eq!(
            limit_range_item_errors(&pod_item, p),
            vec![format!("{p}.default: Forbidden: may not be specified when `type` is 'Pod'")]
        );
    }

    #[test]
    fn namespace_findings() {
        // A quota on requests.cpu with no LimitRange: every pod without requests is refused.
        let bare = Namespace {
            limit_ranges: vec![],
            quotas: vec![QuotaState::new("q", list(&[("requests.cpu", "2")]))],
        };
        let found = findings(&bare, &[]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].code, "bare-pod-rejected");
        assert_eq!(
            found[0].message,
            "a pod whose container states no requests or limits is refused (403): pods \"probe\" is forbidden: \
             failed quota: q: must specify requests.cpu for: main"
        );

        let mut big = lab_namespace();
        big.limit_ranges[0].items[0].max.insert("cpu".into(), Quantity::parse("8").unwrap());
        big.quotas[0].hard.insert("requests.memory".into(), Quantity::parse("64Gi").unwrap());
        let nodes = [node("n1", &[("cpu", "4"), ("memory", "16Gi"), ("pods", "110")])];
        let codes: Vec<(&str, String)> =
            findings(&big, &nodes).into_iter().map(|f| (f.code, f.message)).collect();
        let has = |code: &str, needle: &str| codes.iter().any(|(c, m)| *c == code && m.contains(needle));
        assert!(
            has(
                "limitrange-max-exceeds-quota",
                "allows cpu up to 8 per Container, but ResourceQuota lab-quota limits requests.cpu to 3"
            ),
            "{codes:?}"
        );
        assert!(!has("limitrange-max-exceeds-quota", "limits.cpu to 8"), "8 is not above 8: {codes:?}");
        assert!(has("limitrange-max-exceeds-node", "the largest node (n1) can allocate only 4"), "{codes:?}");
        assert!(
            has(
                "quota-exceeds-nodes",
                "allows requests.memory=64Gi, but the 1 node(s) can allocate only memory=16Gi"
            ),
            "{codes:?}"
        );
        assert!(!codes.iter().any(|(c, _)| *c == "bare-pod-rejected"), "{codes:?}");
    }
}
