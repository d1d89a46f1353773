//! ResourceQuota admission for pods: the pod evaluator (`pkg/quota/v1/evaluator/core/
//! pods.go`) and the check of the quota admission plugin (`CheckRequest` in
//! `k8s.io/apiserver/pkg/admission/plugin/resourcequota/controller.go`).
//!
//! The model: a quota constrains the resources named in its `status.hard` that the pod
//! evaluator knows (`pods`, `count/pods`, `cpu`/`requests.cpu`, `limits.cpu`, memory and
//! ephemeral-storage alike, huge pages, `requests.<extended>`), for the pods its scopes
//! select. A matching quota that names cpu or memory makes every container state that
//! resource ("must specify …"). The pod's usage (`PodUsageFunc`: the pod totals with the
//! init-container and sidecar rule, plus overhead) is added to `status.used` and must stay
//! within `status.hard`; the first quota that would be exceeded rejects the pod.
//!
//! Objects other than pods are counted ([`check_object_count`]): one per object of the kind,
//! against `count/<resource>` and the legacy names (`services`, `configmaps`, …).

use std::collections::{BTreeMap, BTreeSet};

use autolabs_k8s::Quantity;
use autolabs_k8s::k8s::k8s_openapi::api::core::v1::ResourceQuotaStatus;
use autolabs_k8s::k8s::{LabelSelector, LabelSelectorRequirement, ResourceQuota};

use crate::ResourcesError;
use crate::pod::{PodResources, TotalOptions, pod_limits, pod_requests};
use crate::resource_list::{
    ResourceList, exceeding, mask, parse_list, pretty_print, remove_zeros, sum_lists, to_k8s_list,
};
use crate::resource_names::{
    COUNT_PODS, CPU, EPHEMERAL_STORAGE, HUGEPAGES_PREFIX, LIMITS_PREFIX, MEMORY, PODS, REQUESTS_PREFIX,
    is_extended, is_native,
};

/// The resources the pod evaluator tracks by exact name (`podResources`).
// k8s.io/kubernetes/pkg/quota/v1/evaluator/core/pods.go podResources
const POD_RESOURCES: [&str; 11] = [
    COUNT_PODS,
    CPU,
    MEMORY,
    EPHEMERAL_STORAGE,
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    PODS,
];

/// The quota resources a pod must state in every container when a quota tracks them
/// (`validationSet`, upstream's own "it was a mistake").
// k8s.io/kubernetes/pkg/quota/v1/evaluator/core/pods.go validationSet
const MUST_SPECIFY: [&str; 6] =
    [CPU, MEMORY, "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"];

/// One `scopes` entry or `scopeSelector.matchExpressions` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeRequirement {
    /// `Terminating`, `NotTerminating`, `BestEffort`, `NotBestEffort`, `PriorityClass`,
    /// `CrossNamespacePodAffinity`, or a scope pods never match.
    pub scope: String,
    /// `In`, `NotIn`, `Exists`, `DoesNotExist` (`spec.scopes` entries are `Exists`).
    pub operator: String,
    pub values: Vec<String>,
}

/// A ResourceQuota as admission sees it: its name, scopes and `status` (hard and used).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaState {
    pub name: String,
    /// `status.hard` (the quota controller copies `spec.hard` there).
    pub hard: ResourceList,
    /// `status.used`.
    pub used: ResourceList,
    pub scopes: Vec<ScopeRequirement>,
}

impl QuotaState {
    /// Reads a ResourceQuota. A quota whose status was never written (as in a manifest)
    /// is taken as the quota controller leaves it after syncing an empty namespace:
    /// `status.hard = spec.hard` and zero usage for each of those resources.
    pub fn from_k8s(quota: &ResourceQuota) -> Result<Self, ResourcesError> {
        let name = quota.metadata.name.clone().unwrap_or_default();
        let spec = quota.spec.as_ref();
        let spec_hard = parse_list(spec.and_then(|s| s.hard.as_ref()), "spec.hard")?;
        let status = quota.status.as_ref();
        let status_hard = parse_list(status.and_then(|s| s.hard.as_ref()), "status.hard")?;
        let (hard, used) = if status_hard.is_empty() {
            let used = spec_hard.keys().map(|k| (k.clone(), Quantity::ZERO)).collect();
            (spec_hard, used)
        } else {
            (status_hard, parse_list(status.and_then(|s| s.used.as_ref()), "status.used")?)
        };
        let mut scopes: Vec<ScopeRequirement> = spec
            .and_then(|s| s.scopes.clone())
            .unwrap_or_default()
            .into_iter()
            .map(|scope| ScopeRequirement { scope, operator: "Exists".into(), values: vec![] })
            .collect();
        let expressions =
            spec.and_then(|s| s.scope_selector.as_ref()).and_then(|s| s.match_expressions.as_ref());
        for (i, e) in expressions.into_iter().flatten().enumerate() {
            let requirement = ScopeRequirement {
                scope: e.scope_name.clone(),
                operator: e.operator.clone(),
                values: e.values.clone().unwrap_or_default(),
            };
            check_scope_requirement(&requirement, &format!("spec.scopeSelector.matchExpressions[{i}]"))?;
            scopes.push(requirement);
        }
        Ok(QuotaState { name, hard, used, scopes })
    }

    /// A quota with the given hard limits, no scopes and zero usage.
    pub fn new(name: impl Into<String>, hard: ResourceList) -> Self {
        let used = hard.keys().map(|k| (k.clone(), Quantity::ZERO)).collect();
        QuotaState { name: name.into(), hard, used, scopes: Vec::new() }
    }

    /// The quota's `status` in API form (to write back after recording usage).
    pub fn to_status(&self) -> ResourceQuotaStatus {
        ResourceQuotaStatus { hard: to_k8s_list(&self.hard), used: to_k8s_list(&self.used) }
    }

    /// `hard - used` for every hard resource (never below zero).
    pub fn remaining(&self) -> ResourceList {
        self.hard
            .iter()
            .map(|(name, hard)| {
                let used = self.used.get(name).copied().unwrap_or(Quantity::ZERO);
                let left = hard.checked_sub(used).filter(|q| !q.is_negative()).unwrap_or(Quantity::ZERO);
                (name.clone(), left.with_format(hard.format()))
            })
            .collect()
    }

    /// Whether this quota applies to the pod (`generic.Matches`): it tracks at least one
    /// pod resource and every scope selects the pod.
    // k8s.io/apiserver/pkg/quota/v1/generic/evaluator.go Matches
    pub fn matches(&self, pod: &PodResources) -> bool {
        !tracked_resources(self.hard.keys()).is_empty() && self.scopes.iter().all(|s| scope_matches(s, pod))
    }
}

/// `ValidateResourceQuota`'s scope-selector operator rules, applied when a quota is read so
/// that admission itself cannot meet a malformed selector.
// k8s.io/kubernetes/pkg/apis/core/validation/validation.go validateScopedResourceSelectorRequirement
fn check_scope_requirement(r: &ScopeRequirement, field: &str) -> Result<(), ResourcesError> {
    let error = |message: String| Err(ResourcesError::ScopeSelector { field: field.to_string(), message });
    match r.operator.as_str() {
        "In" | "NotIn" if r.values.is_empty() => {
            error("values: Required value: must be at least one value when `operator` is 'In' or 'NotIn' for scope selector".into())
        }
        "Exists" | "DoesNotExist" if !r.values.is_empty() => {
            error("values: Invalid value: must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector".into())
        }
        "In" | "NotIn" | "Exists" | "DoesNotExist" => Ok(()),
        other => error(format!("operator: Invalid value: {other:?}: not a valid selector operator")),
    }
}

/// `podMatchesScopeFunc`. Only `PriorityClass` reads the operator; the other scopes match
/// on their own fact whatever the operator says.
// k8s.io/kubernetes/pkg/quota/v1/evaluator/core/pods.go podMatchesScopeFunc
pub fn scope_matches(requirement: &ScopeRequirement, pod: &PodResources) -> bool {
    match requirement.scope.as_str() {
        "Terminating" => pod.is_terminating(),
        "NotTerminating" => !pod.is_terminating(),
        "BestEffort" => pod.is_best_effort(),
        "NotBestEffort" => !pod.is_best_effort(),
        "PriorityClass" if requirement.operator == "Exists" => !pod.priority_class_name.is_empty(),
        "PriorityClass" => priority_class_selected(requirement, &pod.priority_class_name),
        "CrossNamespacePodAffinity" => pod.cross_namespace_affinity,
        _ => false,
    }
}

/// `podMatchesSelector`: the requirement as a label selector over `{PriorityClass: name}`.
// k8s.io/kubernetes/pkg/quota/v1/evaluator/core/pods.go podMatchesSelector
fn priority_class_selected(requirement: &ScopeRequirement, priority_class: &str) -> bool {
    let selector = LabelSelector {
        match_expressions: Some(vec![LabelSelectorRequirement {
            key: requirement.scope.clone(),
            operator: requirement.operator.clone(),
            values: Some(requirement.values.clone()),
        }]),
        match_labels: None,
    };
    let mut labels = BTreeMap::new();
    if !priority_class.is_empty() {
        labels.insert(requirement.scope.clone(), priority_class.to_string());
    }
    // A selector that does not convert was refused when the quota was read.
    autolabs_k8s::Selector::from_k8s(&selector).is_ok_and(|s| s.matches(&labels))
}

/// `MatchingResources`: the quota resources the pod evaluator accounts for.
// k8s.io/kubernetes/pkg/quota/v1/evaluator/core/pods.go MatchingResources
pub fn tracked_resources<'a>(names: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    names
        .into_iter()
        .filter(|name| {
            POD_RESOURCES.contains(&name.as_str())
                || name.starts_with(HUGEPAGES_PREFIX)
                || name.starts_with("requests.hugepages-")
                || (name.starts_with(REQUESTS_PREFIX) && !is_native(name))
        })
        .cloned()
        .collect()
}

/// `podComputeUsageHelper`: quota usage from a request and a limit list.
// k8s.io/kubernetes/pkg/quota/v1/evaluator/core/pods.go podComputeUsageHelper
pub fn compute_usage(requests: &ResourceList, limits: &ResourceList) -> ResourceList {
    let mut usage = ResourceList::new();
    usage.insert(PODS.into(), Quantity::from_units(1));
    for name in [CPU, MEMORY, EPHEMERAL_STORAGE] {
        if let Some(q) = requests.get(name) {
            usage.insert(name.into(), *q);
            usage.insert(format!("{REQUESTS_PREFIX}{name}"), *q);
        }
        if let Some(q) = limits.get(name) {
            usage.insert(format!("{LIMITS_PREFIX}{name}"), *q);
        }
    }
    for (name, q) in requests {
        if name.starts_with(HUGEPAGES_PREFIX) {
            usage.insert(name.clone(), *q);
            usage.insert(format!("{REQUESTS_PREFIX}{name}"), *q);
        }
        if is_extended(name) {
            usage.insert(format!("{REQUESTS_PREFIX}{name}"), *q);
        }
    }
    usage
}

/// `PodUsageFunc`: `count/pods` always; compute usage unless the pod is terminal.
// k8s.io/kubernetes/pkg/quota/v1/evaluator/core/pods.go PodUsageFunc
pub fn pod_usage(pod: &PodResources) -> Result<ResourceList, ResourcesError> {
    let mut usage = ResourceList::new();
    usage.insert(COUNT_PODS.into(), Quantity::from_units(1));
    if pod.terminal {
        return Ok(usage);
    }
    let requests = pod_requests(pod, TotalOptions::QUOTA)?;
    let limits = pod_limits(pod, TotalOptions::QUOTA)?;
    sum_lists(&usage, &compute_usage(&requests, &limits), "pod usage")
}

/// `Constraints`: with a matching quota on cpu or memory, every container must state the
/// tracked request or limit. Skipped when pod-level resources are set.
// k8s.io/kubernetes/pkg/quota/v1/evaluator/core/pods.go Constraints
pub fn missing_requirements(required: &[String], pod: &PodResources) -> Option<String> {
    if pod.pod_level_resources_set() {
        return None;
    }
    let required: BTreeSet<&str> =
        required.iter().map(String::as_str).filter(|name| MUST_SPECIFY.contains(name)).collect();
    let mut missing: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for container in pod.all_containers() {
        let stated = compute_usage(&container.requests, &container.limits);
        for name in &required {
            if !stated.contains_key(*name) {
                missing.entry(name).or_default().insert(&container.name);
            }
        }
    }
    if missing.is_empty() {
        return None;
    }
    let parts: Vec<String> = missing
        .iter()
        .map(|(name, containers)| {
            format!("{name} for: {}", containers.iter().copied().collect::<Vec<_>>().join(","))
        })
        .collect();
    Some(format!("must specify {}", parts.join("; ")))
}

/// What admitting the pod adds to one quota's `status.used`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaCharge {
    pub quota: String,
    /// The pod's usage of the quota's hard resources (zero entries left out).
    pub requested: ResourceList,
}

/// Why the quota plugin refuses a pod (the text after `pods "NAME" is forbidden: `).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaDenial {
    pub quota: String,
    pub message: String,
}

/// `CheckRequest` for a pod create: the charges to record, or the first denial.
// k8s.io/apiserver/pkg/admission/plugin/resourcequota/controller.go CheckRequest
pub fn check_pod(
    quotas: &[QuotaState],
    pod: &PodResources,
) -> Result<Result<Vec<QuotaCharge>, QuotaDenial>, ResourcesError> {
    let mut interesting = Vec::new();
    for quota in quotas {
        if !quota.matches(pod) {
            continue;
        }
        let restricted = tracked_resources(quota.hard.keys());
        if let Some(message) = missing_requirements(&restricted, pod) {
            return Ok(Err(QuotaDenial {
                quota: quota.name.clone(),
                message: format!("failed quota: {}: {message}", quota.name),
            }));
        }
        // hasUsageStats: every restricted hard resource needs a used value.
        if restricted.iter().any(|n| !quota.used.contains_key(n)) {
            let mut names = restricted.clone();
            names.sort();
            return Ok(Err(QuotaDenial {
                quota: quota.name.clone(),
                message: format!("status unknown for quota: {}, resources: {}", quota.name, names.join(",")),
            }));
        }
        interesting.push(quota);
    }
    let usage = pod_usage(pod)?;
    let negative: Vec<&str> =
        usage.iter().filter(|(_, q)| q.is_negative()).map(|(n, _)| n.as_str()).collect();
    if !negative.is_empty() {
        return Ok(Err(QuotaDenial {
            quota: String::new(),
            message: format!("quota usage is negative for resource(s): {}", negative.join(",")),
        }));
    }
    let delta = remove_zeros(&usage);
    let mut charges = Vec::new();
    for quota in interesting {
        let requested = mask(&delta, quota.hard.keys());
        if requested.is_empty() {
            continue;
        }
        let new_used = sum_lists(&quota.used, &requested, "status.used")?;
        let masked_new = mask(&new_used, requested.keys());
        let exceeded = exceeding(&masked_new, &quota.hard);
        if !exceeded.is_empty() {
            return Ok(Err(QuotaDenial {
                quota: quota.name.clone(),
                message: format!(
                    "exceeded quota: {}, requested: {}, used: {}, limited: {}",
                    quota.name,
                    pretty_print(&mask(&requested, &exceeded)),
                    pretty_print(&mask(&quota.used, &exceeded)),
                    pretty_print(&mask(&quota.hard, &exceeded)),
                ),
            }));
        }
        charges.push(QuotaCharge { quota: quota.name.clone(), requested });
    }
    Ok(Ok(charges))
}

/// `CheckRequest` for the create of an object other than a pod: `usage` (what the kind's
/// object-count evaluator charges, e.g. `{count/configmaps: 1, configmaps: 1}`) is added to
/// every unscoped quota that limits one of its resources (object-count evaluators match no
/// scope); the first quota it would exceed refuses the object.
// k8s.io/apiserver/pkg/admission/plugin/resourcequota/controller.go CheckRequest (generic objectCountEvaluator.Matches)
pub fn check_object_count<'a>(
    quotas: impl IntoIterator<Item = &'a QuotaState>,
    usage: &ResourceList,
) -> Result<Result<Vec<QuotaCharge>, QuotaDenial>, ResourcesError> {
    let mut charges = Vec::new();
    for quota in quotas {
        if !quota.scopes.is_empty() {
            continue;
        }
        let requested = mask(usage, quota.hard.keys());
        if requested.is_empty() {
            continue;
        }
        let used = mask(&quota.used, requested.keys());
        let new_used = sum_lists(&used, &requested, "status.used")?;
        let exceeded = exceeding(&new_used, &quota.hard);
        if !exceeded.is_empty() {
            // A resource the status does not count yet reads as 0 in the message.
            let mut used_or_zero = quota.used.clone();
            for name in &exceeded {
                used_or_zero.entry(name.clone()).or_insert(Quantity::ZERO);
            }
            return Ok(Err(QuotaDenial {
                quota: quota.name.clone(),
                message: format!(
                    "exceeded quota: {}, requested: {}, used: {}, limited: {}",
                    quota.name,
                    pretty_print(&mask(&requested, &exceeded)),
                    pretty_print(&mask(&used_or_zero, &exceeded)),
                    pretty_print(&mask(&quota.hard, &exceeded)),
                ),
            }));
        }
        charges.push(QuotaCharge { quota: quota.name.clone(), requested });
    }
    Ok(Ok(charges))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pod::ContainerResources;

    fn list(entries: &[(&str, &str)]) -> ResourceList {
        entries.iter().map(|(k, v)| (k.to_string(), Quantity::parse(v).unwrap())).collect()
    }

    fn container(name: &str, requests: &[(&str, &str)], limits: &[(&str, &str)]) -> ContainerResources {
        ContainerResources {
            name: name.into(),
            requests: list(requests),
            limits: list(limits),
            restartable: false,
        }
    }

    fn pod(containers: Vec<ContainerResources>) -> PodResources {
        PodResources { name: "p".into(), containers, ..Default::default() }
    }

    fn verdict(quotas: &[QuotaState], pod: &PodResources) -> String {
        match check_pod(quotas, pod).unwrap() {
            Ok(charges) => charges
                .iter()
                .map(|c| format!("{}:{}", c.quota, pretty_print(&c.requested)))
                .collect::<Vec<_>>()
                .join(" "),
            Err(denial) => denial.message,
        }
    }

    #[test]
    fn quota_rules() {
        let q = |hard: &[(&str, &str)]| QuotaState::new("q", list(hard));
        let mut used = q(&[("requests.cpu", "2")]);
        used.used = list(&[("requests.cpu", "1500m")]);
        let mut no_stats = q(&[("requests.cpu", "2")]);
        no_stats.used.clear();
        let best_effort_only = QuotaState {
            scopes: vec![ScopeRequirement {
                scope: "BestEffort".into(),
                operator: "Exists".into(),
                values: vec![],
            }],
            ..q(&[("pods", "1")])
        };
        // (upstream rule, quotas, pod, expected verdict)
        let rows: Vec<(&str, Vec<QuotaState>, PodResources, &str)> = vec![
            (
                "PodUsageFunc + CheckRequest: usage within hard is charged",
                vec![q(&[("requests.cpu", "2"), ("pods", "2")])],
                pod(vec![container("c", &[("cpu", "1")], &[])]),
                "q:pods=1,requests.cpu=1",
            ),
            (
                "Constraints: a quota on limits.cpu needs every container to state one",
                vec![q(&[("limits.cpu", "2"), ("requests.memory", "1Gi")])],
                pod(vec![container("c1", &[("cpu", "1")], &[]), container("c0", &[], &[("cpu", "1")])]),
                "failed quota: q: must specify limits.cpu for: c1; requests.memory for: c0,c1",
            ),
            (
                "CheckRequest: exceeded quota names requested, used and limited",
                vec![used],
                pod(vec![container("c", &[("cpu", "750m")], &[])]),
                "exceeded quota: q, requested: requests.cpu=750m, used: requests.cpu=1500m, limited: requests.cpu=2",
            ),
            (
                "hasUsageStats: no used value is 'status unknown'",
                vec![no_stats],
                pod(vec![container("c", &[("cpu", "1")], &[])]),
                "status unknown for quota: q, resources: requests.cpu",
            ),
            (
                "MatchingResources: a quota on services does not apply to pods",
                vec![q(&[("services", "0")])],
                pod(vec![container("c", &[], &[])]),
                "",
            ),
            (
                "count/pods counts every pod",
                vec![q(&[("count/pods", "0")])],
                pod(vec![container("c", &[], &[])]),
                "exceeded quota: q, requested: count/pods=1, used: count/pods=0, limited: count/pods=0",
            ),
            (
                "scopes: a BestEffort quota ignores a Burstable pod",
                vec![best_effort_only.clone()],
                pod(vec![container("c", &[("cpu", "1")], &[])]),
                "",
            ),
            (
                "scopes: a BestEffort quota counts a BestEffort pod",
                vec![best_effort_only],
                pod(vec![container("c", &[], &[])]),
                "q:pods=1",
            ),
            (
                "podComputeUsageHelper: extended resources count as requests.<name>",
                vec![q(&[("requests.example.com/gpu", "1")])],
                pod(vec![container("c", &[("example.com/gpu", "2")], &[("example.com/gpu", "2")])]),
                "exceeded quota: q, requested: requests.example.com/gpu=2, used: requests.example.com/gpu=0, limited: requests.example.com/gpu=1",
            ),
            (
                "podComputeUsageHelper: ephemeral-storage counts plain, requests. and limits.",
                vec![q(&[
                    ("ephemeral-storage", "10Gi"),
                    ("requests.ephemeral-storage", "10Gi"),
                    ("limits.ephemeral-storage", "10Gi"),
                ])],
                pod(vec![container("c", &[("ephemeral-storage", "1Gi")], &[("ephemeral-storage", "2Gi")])]),
                "q:ephemeral-storage=1Gi,limits.ephemeral-storage=2Gi,requests.ephemeral-storage=1Gi",
            ),
            (
                "podComputeUsageHelper: huge pages count plain and as requests.",
                vec![q(&[("hugepages-2Mi", "1Gi"), ("requests.hugepages-2Mi", "1Gi")])],
                pod(vec![container(
                    "c",
                    &[("hugepages-2Mi", "4Mi"), ("memory", "1Mi")],
                    &[("hugepages-2Mi", "4Mi")],
                )]),
                "q:hugepages-2Mi=4Mi,requests.hugepages-2Mi=4Mi",
            ),
            (
                "PodUsageFunc: overhead is charged",
                vec![q(&[("requests.memory", "1Gi")])],
                PodResources {
                    overhead: list(&[("memory", "128Mi")]),
                    ..pod(vec![container("c", &[("memory", "128Mi")], &[])])
                },
                "q:requests.memory=256Mi",
            ),
            (
                "Constraints: cpu (plain) is satisfied by a cpu request",
                vec![q(&[("cpu", "2"), ("memory", "1Gi")])],
                pod(vec![container("c", &[("cpu", "1")], &[])]),
                "failed quota: q: must specify memory for: c",
            ),
            (
                "Constraints: skipped when pod-level resources are set",
                vec![q(&[("limits.cpu", "2")])],
                PodResources { pod_limits: list(&[("cpu", "1")]), ..pod(vec![container("c", &[], &[])]) },
                "q:limits.cpu=1",
            ),
            (
                "scopes: a Terminating quota ignores pods without activeDeadlineSeconds",
                vec![QuotaState {
                    scopes: vec![ScopeRequirement {
                        scope: "Terminating".into(),
                        operator: "Exists".into(),
                        values: vec![],
                    }],
                    ..q(&[("pods", "0")])
                }],
                pod(vec![container("c", &[], &[])]),
                "",
            ),
            (
                "first exceeded quota wins, in order",
                vec![q(&[("pods", "0")]), QuotaState { name: "second".into(), ..q(&[("count/pods", "0")]) }],
                pod(vec![container("c", &[], &[])]),
                "exceeded quota: q, requested: pods=1, used: pods=0, limited: pods=0",
            ),
        ];
        for (rule, quotas, pod, expected) in rows {
            assert_eq!(verdict(&quotas, &pod), expected, "{rule}");
        }
    }

    #[test]
    fn terminal_pods_only_count_objects() {
        // k8s.io/kubernetes/pkg/quota/v1/evaluator/core/pods.go QuotaV1Pod
        let mut p = pod(vec![container("c", &[("cpu", "1")], &[])]);
        p.terminal = true;
        assert_eq!(pretty_print(&pod_usage(&p).unwrap()), "count/pods=1");
    }

    #[test]
    fn priority_class_scopes() {
        // k8s.io/kubernetes/pkg/quota/v1/evaluator/core/pods.go podMatchesScopeFunc
        let mut p = pod(vec![]);
        p.priority_class_name = "lab-priority".into();
        let req = |op: &str, values: &[&str]| ScopeRequirement {
            scope: "PriorityClass".into(),
            operator: op.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        };
        assert!(scope_matches(&req("In", &["lab-priority"]), &p));
        assert!(!scope_matches(&req("NotIn", &["lab-priority"]), &p));
        assert!(scope_matches(&req("Exists", &[]), &p));
        assert!(!scope_matches(&req("Exists", &[]), &pod(vec![])));
        assert!(scope_matches(&req("DoesNotExist", &[]), &pod(vec![])));
        assert!(scope_matches(&req("NotIn", &["x"]), &pod(vec![])));
    }

    #[test]
    fn object_counts_against_unscoped_quotas() {
        let list = |entries: &[(&str, &str)]| -> ResourceList {
            entries.iter().map(|(k, v)| (k.to_string(), Quantity::parse(v).unwrap())).collect()
        };
        let usage = list(&[("count/configmaps", "1"), ("configmaps", "1")]);
        let mut full = QuotaState::new("objects", list(&[("configmaps", "2"), ("pods", "5")]));
        full.used = list(&[("configmaps", "2")]);
        let unlimited = QuotaState::new("other", list(&[("count/secrets", "1")]));
        let mut scoped = QuotaState::new("scoped", list(&[("count/configmaps", "0")]));
        scoped.scopes = vec![ScopeRequirement {
            scope: "BestEffort".into(),
            operator: "Exists".into(),
            values: Vec::new(),
        }];

        let denial = check_object_count([&unlimited, &scoped, &full], &usage).unwrap().unwrap_err();
        assert_eq!(denial.quota, "objects");
        assert_eq!(
            denial.message,
            "exceeded quota: objects, requested: configmaps=1, used: configmaps=2, limited: configmaps=2"
        );

        // Room left: one charge, of the resources the quota names only.
        full.used = list(&[("configmaps", "1")]);
        let charges = check_object_count([&unlimited, &scoped, &full], &usage).unwrap().unwrap();
        assert_eq!(
            charges,
            vec![QuotaCharge { quota: "objects".into(), requested: list(&[("configmaps", "1")]) }]
        );

        // A quota whose status counts nothing yet: used reads 0 in the message.
        let fresh = QuotaState::new("fresh", list(&[("count/configmaps", "0")]));
        let denial = check_object_count([&fresh], &usage).unwrap().unwrap_err();
        assert!(
            denial.message.ends_with("used: count/configmaps=0, limited: count/configmaps=0"),
            "{}",
            denial.message
        );
    }
}
