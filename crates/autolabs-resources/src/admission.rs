//! Pod create admission in the API server's order:
//!
//! 1. decode-time defaulting: requests default to limits (`SetDefaults_Pod`);
//! 2. LimitRanger, mutating: defaults from every LimitRange, in order;
//! 3. Pod validation of resources → 422 Invalid (`Pod "p" is invalid: …`);
//! 4. LimitRanger, validating: the first LimitRange with violations → 403;
//! 5. ResourceQuota: the first quota that refuses → 403 (`pods "p" is forbidden: …`).
//!
//! [`admit_pod`] is pure: it returns the defaulted pod and what it would charge each quota.
//! The caller decides whether the pod is stored and then calls [`Namespace::record`] —
//! server-side dry run, for instance, admits without recording.

use std::collections::BTreeMap;

use autolabs_k8s::k8s::{LimitRange, Pod, ResourceQuota};

use crate::ResourcesError;
use crate::limit_range::{LIMIT_RANGER_ANNOTATION, LimitRangePolicy};
use crate::pod::PodResources;
use crate::quota::{QuotaCharge, QuotaState, check_pod, pod_usage};
use crate::resource_list::{ResourceList, add_quantities, mask, sub_quantities};
use crate::validation::{default_requests_from_limits, resource_errors};

/// Which stage refused the pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectionSource {
    /// The pod could not be read (a quantity that does not parse): 400 Bad Request.
    Decode,
    /// Pod validation after defaulting: 422 Invalid.
    Validation,
    /// LimitRanger min/max/ratio: 403 Forbidden.
    LimitRanger,
    /// ResourceQuota: 403 Forbidden.
    ResourceQuota,
}

impl RejectionSource {
    /// The HTTP status the API server answers with.
    pub fn status(self) -> u16 {
        match self {
            RejectionSource::Decode => 400,
            RejectionSource::Validation => 422,
            RejectionSource::LimitRanger | RejectionSource::ResourceQuota => 403,
        }
    }
}

/// A refused pod, worded as the API server's `Status.message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub source: RejectionSource,
    pub status: u16,
    pub message: String,
    /// The individual causes (one per aggregated error; the quota denial alone).
    pub causes: Vec<String>,
    /// The LimitRange or ResourceQuota that refused, when there is one.
    pub object: Option<String>,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.status)
    }
}

impl std::error::Error for Rejection {}

/// An admitted pod.
#[derive(Debug, Clone, PartialEq)]
pub struct Admitted {
    /// The pod with requests and limits defaulted and the `kubernetes.io/limit-ranger`
    /// annotation set, as the server would store it.
    pub pod: Pod,
    /// The pod's quota usage (`PodUsageFunc`), whether or not a quota tracks it.
    pub usage: ResourceList,
    /// What each matching quota's `status.used` grows by if the pod is stored.
    pub charges: Vec<QuotaCharge>,
}

/// The admission-relevant objects of one namespace.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Namespace {
    pub limit_ranges: Vec<LimitRangePolicy>,
    pub quotas: Vec<QuotaState>,
}

impl Namespace {
    /// Reads the namespace's LimitRanges and ResourceQuotas (each as stored: LimitRange
    /// defaults applied, quota status as described in [`QuotaState::from_k8s`]).
    pub fn from_k8s(limit_ranges: &[LimitRange], quotas: &[ResourceQuota]) -> Result<Self, ResourcesError> {
        let in_object = |kind: &str, name: &Option<String>, e: ResourcesError| prefix_error(e, kind, name);
        Ok(Namespace {
            limit_ranges: limit_ranges
                .iter()
                .map(|lr| {
                    LimitRangePolicy::from_k8s(lr).map_err(|e| in_object("LimitRange", &lr.metadata.name, e))
                })
                .collect::<Result<_, _>>()?,
            quotas: quotas
                .iter()
                .map(|q| QuotaState::from_k8s(q).map_err(|e| in_object("ResourceQuota", &q.metadata.name, e)))
                .collect::<Result<_, _>>()?,
        })
    }

    /// The quota with this name.
    pub fn quota(&self, name: &str) -> Option<&QuotaState> {
        self.quotas.iter().find(|q| q.name == name)
    }

    /// Adds an admitted pod's charges to the quotas' `status.used` (what the quota plugin
    /// writes when the create is not a dry run). Charges of quotas that no longer exist
    /// are ignored, as the plugin skips deleted quotas.
    pub fn record(&mut self, admitted: &Admitted) -> Result<(), ResourcesError> {
        for charge in &admitted.charges {
            if let Some(quota) = self.quotas.iter_mut().find(|q| q.name == charge.quota) {
                for (name, amount) in &charge.requested {
                    let used = quota.used.get(name).copied().unwrap_or(autolabs_k8s::Quantity::ZERO);
                    let field = format!("ResourceQuota {}: status.used[{name}]", quota.name);
                    quota.used.insert(name.clone(), add_quantities(used, *amount, &field)?);
                }
            }
        }
        Ok(())
    }

    /// Subtracts a deleted (or finished) pod's usage from every quota it matches, never
    /// below zero — what the quota controller's next sync converges to.
    pub fn release(&mut self, pod: &Pod) -> Result<(), ResourcesError> {
        let resources = PodResources::from_pod(pod)?;
        let usage = pod_usage(&resources)?;
        for quota in self.quotas.iter_mut().filter(|q| q.matches(&resources)) {
            for (name, amount) in mask(&usage, quota.hard.keys()) {
                let Some(used) = quota.used.get(&name).copied() else { continue };
                let field = format!("ResourceQuota {}: status.used[{name}]", quota.name);
                let left = sub_quantities(used, amount, &field)?;
                let left = if left.is_negative() { autolabs_k8s::Quantity::ZERO } else { left };
                quota.used.insert(name, left);
            }
        }
        Ok(())
    }
}

fn prefix_error(error: ResourcesError, kind: &str, name: &Option<String>) -> ResourcesError {
    let prefix = format!("{kind} {}: ", name.as_deref().unwrap_or(""));
    match error {
        ResourcesError::Quantity { field, value, source } => {
            ResourcesError::Quantity { field: format!("{prefix}{field}"), value, source }
        }
        ResourcesError::Overflow { field } => ResourcesError::Overflow { field: format!("{prefix}{field}") },
        ResourcesError::ScopeSelector { field, message } => {
            ResourcesError::ScopeSelector { field: format!("{prefix}{field}"), message }
        }
    }
}

/// `utilerrors.NewAggregate(...).Error()`: duplicates dropped, one message bare, several
/// in brackets joined by `, `.
// k8s.io/apimachinery/pkg/util/errors/errors.go aggregate.Error
pub fn aggregate_message(messages: &[String]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for m in messages {
        if !seen.contains(&m.as_str()) {
            seen.push(m);
        }
    }
    match seen.as_slice() {
        [single] => single.to_string(),
        many => format!("[{}]", many.join(", ")),
    }
}

fn dedup(messages: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for m in messages {
        if !out.contains(&m) {
            out.push(m);
        }
    }
    out
}

fn reject(
    source: RejectionSource,
    message: String,
    causes: Vec<String>,
    object: Option<String>,
) -> Rejection {
    Rejection { source, status: source.status(), message, causes, object }
}

/// `apierrors.NewForbidden` for pods.
// k8s.io/apimachinery/pkg/api/errors/errors.go NewForbidden
fn forbidden(pod_name: &str, reason: &str) -> String {
    if pod_name.is_empty() {
        format!("pods is forbidden: {reason}")
    } else {
        format!("pods \"{pod_name}\" is forbidden: {reason}")
    }
}

fn decode_rejection(error: ResourcesError) -> Rejection {
    let cause = error.to_string();
    reject(
        RejectionSource::Decode,
        format!("Pod in version \"v1\" cannot be handled as a Pod: {cause}"),
        vec![cause],
        None,
    )
}

/// Admits a pod create into `namespace` as the API server would (see the module docs).
pub fn admit_pod(namespace: &Namespace, pod: &Pod) -> Result<Admitted, Rejection> {
    let mut resources = PodResources::from_pod(pod).map_err(decode_rejection)?;
    let name = resources.name.clone();

    default_requests_from_limits(&mut resources);
    // Each LimitRange that sets something rewrites the whole annotation, so the last one wins.
    // k8s.io/kubernetes/plugin/pkg/admission/limitranger/admission.go mergePodResourceRequirements
    let mut notes = Vec::new();
    for limit_range in &namespace.limit_ranges {
        let set = limit_range.apply_defaults(&mut resources);
        if !set.is_empty() {
            notes = set;
        }
    }

    // k8s.io/apimachinery/pkg/api/errors/errors.go NewInvalid
    let invalid = dedup(resource_errors(&resources));
    if !invalid.is_empty() {
        let message = format!("Pod \"{name}\" is invalid: {}", aggregate_message(&invalid));
        return Err(reject(RejectionSource::Validation, message, invalid, None));
    }

    // k8s.io/kubernetes/plugin/pkg/admission/limitranger/admission.go runLimitFunc
    for limit_range in &namespace.limit_ranges {
        let violations = dedup(limit_range.violations(&resources).map_err(decode_rejection)?);
        if !violations.is_empty() {
            let message = forbidden(&name, &aggregate_message(&violations));
            return Err(reject(
                RejectionSource::LimitRanger,
                message,
                violations,
                Some(limit_range.name.clone()),
            ));
        }
    }

    let charges = match check_pod(&namespace.quotas, &resources).map_err(decode_rejection)? {
        Ok(charges) => charges,
        Err(denial) => {
            let object = (!denial.quota.is_empty()).then(|| denial.quota.clone());
            return Err(reject(
                RejectionSource::ResourceQuota,
                forbidden(&name, &denial.message),
                vec![denial.message],
                object,
            ));
        }
    };
    let usage = pod_usage(&resources).map_err(decode_rejection)?;

    let mut admitted = pod.clone();
    resources.write_back(&mut admitted);
    if !notes.is_empty() {
        let annotations = admitted.metadata.annotations.get_or_insert_with(BTreeMap::new);
        annotations.insert(
            LIMIT_RANGER_ANNOTATION.to_string(),
            format!("LimitRanger plugin set: {}", notes.join("; ")),
        );
    }
    Ok(Admitted { pod: admitted, usage, charges })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregate_messages() {
        // k8s.io/apimachinery/pkg/util/errors/errors.go aggregate.Error
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(aggregate_message(&s(&["a"])), "a");
        assert_eq!(aggregate_message(&s(&["a", "a"])), "a");
        assert_eq!(aggregate_message(&s(&["a", "b", "a"])), "[a, b]");
    }

    use crate::limit_range::{LimitRangeItem, LimitType};
    use crate::resource_list::ResourceList;
    use autolabs_k8s::Quantity;
    use autolabs_k8s::k8s::{Container, ObjectMeta, PodSpec, ResourceRequirements};

    fn list(entries: &[(&str, &str)]) -> ResourceList {
        entries.iter().map(|(k, v)| (k.to_string(), Quantity::parse(v).unwrap())).collect()
    }

    fn container(name: &str, requests: &[(&str, &str)], limits: &[(&str, &str)]) -> Container {
        Container {
            name: name.into(),
            resources: Some(ResourceRequirements {
                requests: crate::resource_list::to_k8s_list(&list(requests)),
                limits: crate::resource_list::to_k8s_list(&list(limits)),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn pod(containers: Vec<Container>) -> Pod {
        Pod {
            metadata: ObjectMeta { name: Some("p".into()), ..Default::default() },
            spec: Some(PodSpec { containers, ..Default::default() }),
            ..Default::default()
        }
    }

    fn limit_range(name: &str, item: LimitRangeItem) -> LimitRangePolicy {
        let mut item = item;
        item.apply_stored_defaults();
        LimitRangePolicy { name: name.into(), items: vec![item] }
    }

    fn outcome(ns: &Namespace, pod: &Pod) -> String {
        match admit_pod(ns, pod) {
            Ok(a) => {
                let c = &a.pod.spec.as_ref().unwrap().containers[0];
                let r = c.resources.clone().unwrap_or_default();
                let show = |l: Option<BTreeMap<String, autolabs_k8s::k8s::K8sQuantity>>| {
                    l.unwrap_or_default()
                        .iter()
                        .map(|(k, v)| format!("{k}={}", v.0))
                        .collect::<Vec<_>>()
                        .join(",")
                };
                format!("admitted requests[{}] limits[{}]", show(r.requests), show(r.limits))
            }
            Err(r) => format!("{:?} {}: {}", r.source, r.status, r.message),
        }
    }

    #[test]
    fn admission_order_and_defaulting() {
        let defaults = limit_range(
            "defaults",
            LimitRangeItem {
                default: list(&[("cpu", "500m")]),
                default_request: list(&[("cpu", "250m")]),
                ..LimitRangeItem::new(LimitType::Container)
            },
        );
        let max = limit_range(
            "max",
            LimitRangeItem {
                max: list(&[("cpu", "1"), ("memory", "1Gi")]),
                ..LimitRangeItem::new(LimitType::Container)
            },
        );
        let quota = QuotaState::new("q", list(&[("requests.cpu", "300m")]));
        let ns =
            |lrs: Vec<LimitRangePolicy>, quotas: Vec<QuotaState>| Namespace { limit_ranges: lrs, quotas };
        // (rule, namespace, pod, expected outcome)
        let rows: Vec<(&str, Namespace, Pod, &str)> = vec![
            (
                "SetDefaults_Pod: requests default to limits before LimitRanger defaults",
                ns(vec![defaults.clone()], vec![]),
                pod(vec![container("c", &[], &[("cpu", "2")])]),
                "admitted requests[cpu=2] limits[cpu=2]",
            ),
            (
                "mergeContainerResources: missing values come from the LimitRange",
                ns(vec![defaults.clone()], vec![]),
                pod(vec![container("c", &[], &[])]),
                "admitted requests[cpu=250m] limits[cpu=500m]",
            ),
            (
                "validation runs after defaulting: a request above the default limit is 422",
                ns(vec![defaults.clone()], vec![]),
                pod(vec![container("c", &[("cpu", "2")], &[])]),
                "Validation 422: Pod \"p\" is invalid: spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 500m",
            ),
            (
                "SetDefaults_LimitRangeItem: a max-only LimitRange defaults limits and requests to max",
                ns(vec![max.clone()], vec![]),
                pod(vec![container("c", &[], &[])]),
                "admitted requests[cpu=1,memory=1Gi] limits[cpu=1,memory=1Gi]",
            ),
            (
                "LimitRanger validation: 403 with every violation",
                ns(vec![max.clone()], vec![]),
                pod(vec![container("c", &[("cpu", "100m")], &[("cpu", "2"), ("memory", "2Gi")])]),
                "LimitRanger 403: pods \"p\" is forbidden: [maximum cpu usage per Container is 1, but limit is 2, maximum memory usage per Container is 1Gi, but limit is 2Gi]",
            ),
            (
                "several LimitRanges: defaults from all, the first LimitRange's defaults win",
                ns(vec![defaults.clone(), max.clone()], vec![]),
                pod(vec![container("c", &[], &[])]),
                "admitted requests[cpu=250m,memory=1Gi] limits[cpu=500m,memory=1Gi]",
            ),
            (
                "LimitRanger refuses before the quota is consulted",
                ns(vec![max.clone()], vec![quota.clone()]),
                pod(vec![container("c", &[], &[("cpu", "2")])]),
                "LimitRanger 403: pods \"p\" is forbidden: maximum cpu usage per Container is 1, but limit is 2",
            ),
            (
                "quota last: exceeded after defaulting",
                ns(vec![defaults.clone()], vec![quota.clone()]),
                pod(vec![container("a", &[], &[]), container("b", &[], &[])]),
                "ResourceQuota 403: pods \"p\" is forbidden: exceeded quota: q, requested: requests.cpu=500m, used: requests.cpu=0, limited: requests.cpu=300m",
            ),
        ];
        for (rule, namespace, pod, expected) in rows {
            assert_eq!(outcome(&namespace, &pod), expected, "{rule}");
        }
    }

    #[test]
    fn limit_ranger_annotation() {
        // k8s.io/kubernetes/plugin/pkg/admission/limitranger/admission.go mergeContainerResources
        let lr = limit_range(
            "lr",
            LimitRangeItem {
                default: list(&[("cpu", "500m"), ("memory", "512Mi")]),
                default_request: list(&[("cpu", "250m"), ("memory", "256Mi")]),
                ..LimitRangeItem::new(LimitType::Container)
            },
        );
        let ns = Namespace { limit_ranges: vec![lr], quotas: vec![] };
        let admitted = admit_pod(
            &ns,
            &pod(vec![container("c0", &[], &[]), container("c1", &[("cpu", "1")], &[("cpu", "1")])]),
        )
        .unwrap();
        let annotations = admitted.pod.metadata.annotations.unwrap();
        assert_eq!(
            annotations[LIMIT_RANGER_ANNOTATION],
            "LimitRanger plugin set: cpu, memory request for container c0; cpu, memory limit for container c0; \
             memory request for container c1; memory limit for container c1"
        );
    }

    #[test]
    fn record_and_release() {
        let mut ns = Namespace {
            limit_ranges: vec![],
            quotas: vec![QuotaState::new("q", list(&[("requests.memory", "1Gi"), ("pods", "2")]))],
        };
        let p = pod(vec![container("c", &[("memory", "512Mi")], &[])]);
        for _ in 0..2 {
            let admitted = admit_pod(&ns, &p).unwrap();
            ns.record(&admitted).unwrap();
        }
        // Quantity.Add: 0 + 512Mi keeps the binary suffix.
        assert_eq!(crate::resource_list::pretty_print(&ns.quotas[0].used), "pods=2,requests.memory=1Gi");
        let third = admit_pod(&ns, &p).unwrap_err();
        assert_eq!(
            third.message,
            "pods \"p\" is forbidden: exceeded quota: q, requested: pods=1,requests.memory=512Mi, used: pods=2,requests.memory=1Gi, limited: pods=2,requests.memory=1Gi"
        );
        ns.release(&p).unwrap();
        assert_eq!(crate::resource_list::pretty_print(&ns.quotas[0].used), "pods=1,requests.memory=512Mi");
        assert!(admit_pod(&ns, &p).is_ok());
    }

    #[test]
    fn malformed_quantities_are_bad_requests() {
        let mut bad = pod(vec![container("c", &[], &[])]);
        let c = &mut bad.spec.as_mut().unwrap().containers[0];
        c.resources.as_mut().unwrap().limits =
            Some(BTreeMap::from([("cpu".to_string(), autolabs_k8s::k8s::K8sQuantity("lots".into()))]));
        let rejection = admit_pod(&Namespace::default(), &bad).unwrap_err();
        assert_eq!(rejection.source, RejectionSource::Decode);
        assert!(
            rejection.message.contains("spec.containers[0].resources.limits[cpu]: invalid quantity \"lots\""),
            "{}",
            rejection.message
        );
    }

    #[test]
    fn statuses() {
        assert_eq!(RejectionSource::Validation.status(), 422);
        assert_eq!(RejectionSource::LimitRanger.status(), 403);
        assert_eq!(RejectionSource::ResourceQuota.status(), 403);
        assert_eq!(RejectionSource::Decode.status(), 400);
    }
}
