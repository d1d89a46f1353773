//! The provisioner's and the reaper's decisions, as pure functions of objects read from the
//! API and the current time; the async layer only executes them.
//!
//! - [`headroom`] / [`preflight`]: how many more labs of a template the `labs` quotas admit,
//!   from the ResourceQuota and LimitRange engines of `autolabs-resources` (the Pod's
//!   charges) plus one object of each other kind a lab creates (Service, Ingress,
//!   NetworkPolicy) for object-count quotas.
//! - [`missing_children`]: which of a lab's Service, NetworkPolicy and Ingress do not exist
//!   (owned by this Pod's uid), so a create can be resumed or rolled back.
//! - [`reap_plan`]: expired labs, labs to repair (a Pod past the grace period that has some of
//!   its objects but not all: one was deleted by hand, or a create stopped between them), labs
//!   left half-made (a Pod past the grace period with none of its objects: a provisioner died
//!   right after creating it), orphaned objects whose Pod is gone, and failed Pods to mark.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use autolabs_k8s::Quantity;
use autolabs_model::lab;
use autolabs_resources::capacity::capacity;
use autolabs_resources::limit_range::LimitRangePolicy;
use autolabs_resources::quota::QuotaCharge;
use autolabs_resources::{Namespace, QuotaState, RejectionSource};
use k8s_openapi::api::core::v1::{Pod, PodSpec, PodStatus, Service};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::error::{ClusterFull, LabsError, StaleCharge};
use super::view::FAILED_ANNOTATION;

/// The kinds a lab consists of besides its Pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChildKind {
    Service,
    NetworkPolicy,
    Ingress,
}

impl ChildKind {
    pub const ALL: [ChildKind; 3] = [ChildKind::Service, ChildKind::NetworkPolicy, ChildKind::Ingress];

    pub fn as_str(self) -> &'static str {
        match self {
            ChildKind::Service => "Service",
            ChildKind::NetworkPolicy => "NetworkPolicy",
            ChildKind::Ingress => "Ingress",
        }
    }

    /// Object-count quota names that one object of this kind is charged to (the labs quota's
    /// [`lab::quota::OBJECT_COUNT_RESOURCES`]).
    fn count_resources(self) -> &'static [&'static str] {
        lab::quota::object_count_resources(self.as_str())
    }
}

/// How many more labs of one template fit, and the quota resource that runs out first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Headroom {
    /// `None`: no quota bounds this template.
    pub fits: Option<u64>,
    /// The binding quota resource with its numbers.
    pub binding: Option<ClusterFull>,
}

fn text(q: Quantity) -> String {
    q.to_string()
}

/// [`Headroom`] of a lab Pod in a namespace (its LimitRanges and ResourceQuotas as cached).
/// Errors only when the Pod itself is refused by validation or the LimitRange: a template
/// problem the load-time check should have caught.
pub fn headroom(namespace: &Namespace, pod: &Pod, template: &str) -> Result<Headroom, LabsError> {
    Ok(headroom_with_charges(namespace, &lab_charges(namespace, pod, template)?, template))
}

/// What one lab Pod is charged, by quota, on an empty copy of the namespace's quotas: the
/// part of [`headroom`] that depends only on the LimitRanges, the quotas' limits and scopes
/// and the Pod's spec, not on current usage (so [`ChargesMemo`] can keep it).
pub fn lab_charges(namespace: &Namespace, pod: &Pod, template: &str) -> Result<Vec<QuotaCharge>, LabsError> {
    // The Pod's charges come from the admission engine on an empty copy of the quotas, so they
    // are known even when the real quota is already exhausted.
    let mut empty = namespace.clone();
    for quota in &mut empty.quotas {
        // Zero, not absent: a quota without usage for a resource is "status unknown" to the
        // quota admission (resourcequota/controller.go CheckRequest) and refuses everything.
        quota.used = quota.hard.keys().map(|k| (k.clone(), Quantity::ZERO)).collect();
    }
    let unconstrained = capacity(&empty, pod, &[]);
    if let Some(rejection) = &unconstrained.rejection
        && rejection.source != RejectionSource::ResourceQuota
    {
        return Err(LabsError::TemplateRejected {
            template: template.to_string(),
            problems: vec![rejection.message.clone()],
        });
    }
    Ok(unconstrained.admitted.map(|a| a.charges).unwrap_or_default())
}

/// [`headroom`] from the Pod's [`lab_charges`] and the quotas' current usage.
pub fn headroom_with_charges(namespace: &Namespace, charges: &[QuotaCharge], template: &str) -> Headroom {
    let mut best: Option<(u64, ClusterFull)> = None;
    let mut consider = |fits: u64, numbers: ClusterFull| {
        if best.as_ref().is_none_or(|(b, _)| fits < *b) {
            best = Some((fits, numbers));
        }
    };
    for charge in charges {
        let Some(quota) = namespace.quota(&charge.quota) else { continue };
        for (resource, per_lab) in &charge.requested {
            consider_quota(quota, resource, *per_lab, template, &mut consider);
        }
    }
    for quota in namespace.quotas.iter().filter(|q| q.scopes.is_empty()) {
        // Quota scopes only select pods (k8s.io/kubernetes/pkg/quota/v1/evaluator/core/pods.go
        // MatchingScopes); other kinds are counted by unscoped quotas only.
        for kind in ChildKind::ALL {
            for resource in kind.count_resources() {
                if quota.hard.contains_key(*resource) {
                    consider_quota(quota, resource, Quantity::from_units(1), template, &mut consider);
                }
            }
        }
    }
    match best {
        Some((fits, numbers)) => Headroom { fits: Some(fits), binding: Some(numbers) },
        None => Headroom { fits: None, binding: None },
    }
}

/// [`lab_charges`] remembered per template, reused while the inputs it depends on are equal:
/// the LimitRanges, each quota's name, limits and scopes, and the Pod's spec and status
/// (what the admission engine reads besides the name, which only words refusals; refusals
/// are not remembered). Every lab of a template has the same spec, so a busy provisioner runs
/// the admission engine once per change of the limits instead of once per create.
#[derive(Debug, Default)]
pub struct ChargesMemo {
    by_template: HashMap<String, RememberedCharges>,
}

#[derive(Debug)]
struct RememberedCharges {
    limit_ranges: Vec<LimitRangePolicy>,
    quotas: Vec<QuotaState>,
    spec: Option<PodSpec>,
    status: Option<PodStatus>,
    charges: Vec<QuotaCharge>,
}

/// Equal as far as [`lab_charges`] can tell: everything but `used`.
fn same_limits(a: &[QuotaState], b: &[QuotaState]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(a, b)| a.name == b.name && a.hard == b.hard && a.scopes == b.scopes)
}

impl ChargesMemo {
    /// [`lab_charges`], from memory when its inputs are unchanged.
    pub fn charges(
        &mut self,
        namespace: &Namespace,
        pod: &Pod,
        template: &str,
    ) -> Result<Vec<QuotaCharge>, LabsError> {
        if let Some(known) = self.by_template.get(template)
            && known.limit_ranges == namespace.limit_ranges
            && same_limits(&known.quotas, &namespace.quotas)
            && known.spec == pod.spec
            && known.status == pod.status
        {
            return Ok(known.charges.clone());
        }
        let charges = lab_charges(namespace, pod, template)?;
        self.by_template.insert(
            template.to_string(),
            RememberedCharges {
                limit_ranges: namespace.limit_ranges.clone(),
                quotas: namespace.quotas.clone(),
                spec: pod.spec.clone(),
                status: pod.status.clone(),
                charges: charges.clone(),
            },
        );
        Ok(charges)
    }
}

fn consider_quota(
    quota: &autolabs_resources::QuotaState,
    resource: &str,
    per_lab: Quantity,
    template: &str,
    consider: &mut impl FnMut(u64, ClusterFull),
) {
    let Some(hard) = quota.hard.get(resource).copied() else { return };
    let used = quota.used.get(resource).copied().unwrap_or(Quantity::ZERO);
    let fits = lab::quota::labs_admitted(hard, used, per_lab).unwrap_or(u64::MAX);
    consider(
        fits,
        ClusterFull {
            template: template.to_string(),
            quota: quota.name.clone(),
            resource: resource.to_string(),
            used: text(used),
            hard: text(hard),
            per_lab: text(per_lab),
            stale: Vec::new(),
        },
    );
}

/// Whether the quota charges `pod` at `now` (unix seconds), as
/// `k8s.io/kubernetes/pkg/quota/v1/evaluator/core/pods.go` QuotaV1Pod decides: not a Pod in
/// a terminal phase (Failed, Succeeded), nor one whose deletion grace period has passed.
pub fn charged_to_quota(pod: &Pod, now: u64) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    if matches!(phase, Some("Failed" | "Succeeded")) {
        return false;
    }
    if let (Some(deleted), Some(grace)) =
        (pod.metadata.deletion_timestamp.as_ref(), pod.metadata.deletion_grace_period_seconds)
    {
        let deleted = u64::try_from(deleted.0.as_second()).unwrap_or(0);
        if now > deleted.saturating_add(u64::try_from(grace).unwrap_or(0)) {
            return false;
        }
    }
    true
}

/// The quota resources lab Pods are charged whose `used` is more than the live lab Pods in
/// `pods` account for, each Pod charged its template's [`lab_charges`] (`charges`, for every
/// template that can be started). Empty when a Pod's template is not in `charges`: what it is
/// charged cannot be told, so neither can staleness. Other Pods in the namespace would look
/// like a stale charge too; that only lets a create through to the API server, whose quota
/// admission decides.
pub fn stale_charges<'a>(
    namespace: &Namespace,
    pods: impl IntoIterator<Item = &'a Pod>,
    charges: &HashMap<String, Vec<QuotaCharge>>,
    now: u64,
) -> Vec<StaleCharge> {
    // quota name -> resource -> what the existing labs are charged
    let mut accounted: BTreeMap<&str, BTreeMap<&str, Quantity>> = BTreeMap::new();
    for pod in pods {
        let Some(template) = labels(&pod.metadata).get(lab::TEMPLATE_LABEL).cloned() else { continue };
        let Some(per_lab) = charges.get(&template) else { return Vec::new() };
        if !charged_to_quota(pod, now) {
            continue;
        }
        for charge in per_lab {
            let sums = accounted.entry(charge.quota.as_str()).or_default();
            for (resource, quantity) in &charge.requested {
                let sum = sums.entry(resource.as_str()).or_insert(Quantity::ZERO);
                *sum = sum.checked_add(*quantity).unwrap_or(*sum);
            }
        }
    }
    let mut stale = Vec::new();
    for quota in &namespace.quotas {
        let sums = accounted.get(quota.name.as_str());
        // Every resource a lab is charged in this quota, even when no lab is (then the labs
        // account for zero).
        let resources: BTreeSet<&String> = charges
            .values()
            .flatten()
            .filter(|c| c.quota == quota.name)
            .flat_map(|c| c.requested.keys())
            .collect();
        for resource in resources {
            let used = quota.used.get(resource).copied().unwrap_or(Quantity::ZERO);
            let counted = sums.and_then(|s| s.get(resource.as_str())).copied().unwrap_or(Quantity::ZERO);
            if used > counted {
                stale.push(StaleCharge {
                    quota: quota.name.clone(),
                    resource: resource.clone(),
                    used: text(used),
                    accounted: text(counted),
                });
            }
        }
    }
    stale
}

/// The namespace as it will be once the quota controller catches up: each stale `used`
/// replaced by what the existing labs account for.
pub fn with_accounted_usage(namespace: &Namespace, stale: &[StaleCharge]) -> Namespace {
    let mut corrected = namespace.clone();
    for charge in stale {
        let Some(quota) = corrected.quotas.iter_mut().find(|q| q.name == charge.quota) else { continue };
        if let Ok(accounted) = Quantity::parse(&charge.accounted) {
            quota.used.insert(charge.resource.clone(), accounted);
        }
    }
    corrected
}

/// `Ok(labs that fit)` or `cluster_full` with the numbers when not even one more fits.
pub fn preflight(namespace: &Namespace, pod: &Pod, template: &str) -> Result<Option<u64>, LabsError> {
    preflight_with_charges(namespace, &lab_charges(namespace, pod, template)?, template)
}

/// [`preflight`] from the Pod's [`lab_charges`].
pub fn preflight_with_charges(
    namespace: &Namespace,
    charges: &[QuotaCharge],
    template: &str,
) -> Result<Option<u64>, LabsError> {
    let room = headroom_with_charges(namespace, charges, template);
    match (room.fits, room.binding) {
        (Some(0), Some(numbers)) => Err(LabsError::ClusterFull(Box::new(numbers))),
        (fits, _) => Ok(fits),
    }
}

fn owned_by_uid(meta: &ObjectMeta, uid: &str) -> bool {
    meta.owner_references.iter().flatten().any(|o| o.kind == "Pod" && o.uid == uid)
}

fn labels(meta: &ObjectMeta) -> BTreeMap<String, String> {
    meta.labels.clone().unwrap_or_default()
}

/// One lab object as the reaper sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ChildRef {
    pub kind: ChildKind,
    pub name: String,
    pub lab_id: String,
    /// The uids of the Pods that own it.
    pub owners: Vec<String>,
    pub being_deleted: bool,
}

fn child_ref(kind: ChildKind, meta: &ObjectMeta) -> Option<ChildRef> {
    let lab_id = lab::lab_id_of(&labels(meta))?.to_string();
    Some(ChildRef {
        kind,
        name: meta.name.clone()?,
        lab_id,
        owners: meta
            .owner_references
            .iter()
            .flatten()
            .filter(|o| o.kind == "Pod")
            .map(|o| o.uid.clone())
            .collect(),
        being_deleted: meta.deletion_timestamp.is_some(),
    })
}

/// Lab objects read from the `labs` namespace. The children must be listed **before** the
/// Pods: a child is only ever created after its Pod, so every child seen then has its Pod in
/// the later Pod list unless that Pod is really gone.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub pods: Vec<Pod>,
    pub children: Vec<ChildRef>,
}

impl Observed {
    pub fn new(
        pods: Vec<Pod>,
        services: &[Service],
        policies: &[NetworkPolicy],
        ingresses: &[Ingress],
    ) -> Self {
        let mut children = Vec::new();
        children.extend(services.iter().filter_map(|o| child_ref(ChildKind::Service, &o.metadata)));
        children.extend(policies.iter().filter_map(|o| child_ref(ChildKind::NetworkPolicy, &o.metadata)));
        children.extend(ingresses.iter().filter_map(|o| child_ref(ChildKind::Ingress, &o.metadata)));
        Observed { pods, children }
    }
}

/// Which of the lab's objects are missing: those not named `lab-<id>` with an owner
/// reference to this Pod's uid.
pub fn missing_children(pod_uid: &str, id: &str, present: &[(ChildKind, ObjectMeta)]) -> Vec<ChildKind> {
    let name = lab::object_name(id);
    ChildKind::ALL
        .into_iter()
        .filter(|kind| {
            !present.iter().any(|(k, meta)| {
                k == kind && meta.name.as_deref() == Some(&name) && owned_by_uid(meta, pod_uid)
            })
        })
        .collect()
}

/// Why the reaper deletes a whole lab.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReapReason {
    /// Its `autolabs.io/expires-at` has passed.
    Expired,
    /// Its Pod has had none of its objects for longer than the grace period (a provisioner
    /// stopped right after creating the Pod and nobody retried the create).
    Incomplete,
}

impl ReapReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ReapReason::Expired => "expired",
            ReapReason::Incomplete => "incomplete",
        }
    }
}

/// One thing the reaper does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReapAction {
    /// Delete the lab's Pod and its objects.
    DeleteLab { id: String, pod: String, reason: ReapReason },
    /// Delete an object whose Pod is gone (or is another Pod than the one that owned it).
    DeleteOrphan { kind: ChildKind, name: String, id: String },
    /// Annotate a Pod that cannot run with [`FAILED_ANNOTATION`].
    MarkFailed { id: String, pod: String, reason: String },
    /// Recreate the objects a lab lacks (the lab reads `Degraded` until then).
    RepairLab { id: String, pod: String, missing: Vec<ChildKind> },
}

/// The reaper's decisions at `now` (unix seconds): labs whose time is up
/// ([`lab::is_expired`]); for a Pod that still lacks objects `incomplete_grace` seconds after
/// its creation, a repair when it has at least one of them (the lab was whole, or nearly:
/// something was deleted by hand or a create stopped between objects) and a deletion as
/// `incomplete` when it has none (the create never got past its Pod); orphans; failed Pods
/// not yet marked. Within the grace a create may still be running, so nothing is done.
pub fn reap_plan(observed: &Observed, now: u64, incomplete_grace: u64) -> Vec<ReapAction> {
    let mut actions = Vec::new();
    let mut live_pods: BTreeMap<String, String> = BTreeMap::new();
    let mut deleted_labs: BTreeSet<String> = BTreeSet::new();
    for pod in &observed.pods {
        let Some(id) = lab::lab_id_of(&labels(&pod.metadata)).map(str::to_string) else { continue };
        let (Some(name), Some(uid)) = (pod.metadata.name.clone(), pod.metadata.uid.clone()) else { continue };
        if pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        live_pods.insert(uid.clone(), id.clone());
        if lab::is_expired(pod, now) {
            deleted_labs.insert(id.clone());
            actions.push(ReapAction::DeleteLab { id, pod: name, reason: ReapReason::Expired });
            continue;
        }
        let present: Vec<(ChildKind, ObjectMeta)> = observed
            .children
            .iter()
            .filter(|c| c.lab_id == id && !c.being_deleted)
            .map(|c| {
                let meta = ObjectMeta {
                    name: Some(c.name.clone()),
                    owner_references: Some(
                        c.owners
                            .iter()
                            .map(|o| k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
                                kind: "Pod".into(),
                                uid: o.clone(),
                                ..Default::default()
                            })
                            .collect(),
                    ),
                    ..Default::default()
                };
                (c.kind, meta)
            })
            .collect();
        // A Pod without a readable created-at is as old as it can be: it is not ours to keep.
        let age = lab::created_at(pod).map_or(u64::MAX, |created| now.saturating_sub(created));
        let missing = missing_children(&uid, &id, &present);
        if !missing.is_empty() && age >= incomplete_grace {
            if missing.len() == ChildKind::ALL.len() {
                deleted_labs.insert(id.clone());
                actions.push(ReapAction::DeleteLab { id, pod: name, reason: ReapReason::Incomplete });
                continue;
            }
            actions.push(ReapAction::RepairLab { id: id.clone(), pod: name.clone(), missing });
        }
        let failed = lab::phase(pod) == lab::LabPhase::Failed;
        let marked = pod.metadata.annotations.as_ref().is_some_and(|a| a.contains_key(FAILED_ANNOTATION));
        if failed && !marked {
            actions.push(ReapAction::MarkFailed { id, pod: name, reason: super::view::failure_reason(pod) });
        }
    }
    for child in &observed.children {
        if child.being_deleted || deleted_labs.contains(&child.lab_id) {
            continue;
        }
        let owner_alive = child.owners.iter().any(|uid| live_pods.get(uid) == Some(&child.lab_id));
        if !owner_alive {
            actions.push(ReapAction::DeleteOrphan {
                kind: child.kind,
                name: child.name.clone(),
                id: child.lab_id.clone(),
            });
        }
    }
    actions
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{LimitRange, ResourceQuota};
    use serde_json::json;

    fn typed<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
        serde_json::from_value(value).expect("test object")
    }

    fn namespace(used: serde_json::Value) -> Namespace {
        let quota: ResourceQuota = typed(json!({
            "metadata": {"name": "labs-quota"},
            "spec": {"hard": {"pods": "20", "requests.cpu": "5", "limits.cpu": "10",
                              "requests.memory": "5Gi", "limits.memory": "10Gi", "services": "20",
                              "count/ingresses.networking.k8s.io": "20"}},
            "status": {"hard": {"pods": "20", "requests.cpu": "5", "limits.cpu": "10",
                                "requests.memory": "5Gi", "limits.memory": "10Gi", "services": "20",
                                "count/ingresses.networking.k8s.io": "20"},
                       "used": used}
        }));
        let limits: LimitRange = typed(json!({
            "metadata": {"name": "lab-pod-limits"},
            "spec": {"limits": [{"type": "Container",
                "default": {"cpu": "1", "memory": "1Gi"}, "defaultRequest": {"cpu": "500m", "memory": "512Mi"},
                "max": {"cpu": "1", "memory": "1Gi"}, "min": {"cpu": "100m", "memory": "128Mi"}}]}
        }));
        Namespace::from_k8s(&[limits], &[quota]).expect("namespace")
    }

    fn pod(cpu: &str) -> Pod {
        typed(json!({
            "metadata": {"name": "lab-a"},
            "spec": {"containers": [{"name": "lab", "image": "x:1",
                "resources": {"requests": {"cpu": cpu, "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "256Mi"}}}]}
        }))
    }

    #[test]
    fn remembered_charges_equal_fresh_ones() {
        // resourcequota controller.go CheckRequest: charges depend on limits, scopes and the pod spec, not on usage
        let mut memo = ChargesMemo::default();
        let fresh = |ns: &Namespace, p: &Pod| lab_charges(ns, p, "t").unwrap();
        let rows: Vec<(&str, Namespace, Pod)> = vec![
            ("first use", namespace(json!({})), pod("500m")),
            ("usage changed: remembered", namespace(json!({"requests.cpu": "1"})), pod("500m")),
            ("spec changed: computed again", namespace(json!({})), pod("250m")),
        ];
        for (what, ns, p) in rows {
            assert_eq!(memo.charges(&ns, &p, "t").unwrap(), fresh(&ns, &p), "{what}");
        }
        let mut smaller = namespace(json!({}));
        smaller.quotas[0].hard.insert("requests.cpu".into(), Quantity::parse("1").unwrap());
        let fitting = pod("250m");
        assert_eq!(memo.charges(&smaller, &fitting, "t").unwrap(), fresh(&smaller, &fitting), "hard changed");
        // refusals are not remembered: each names its own pod
        assert!(memo.charges(&namespace(json!({})), &pod("2"), "t").is_err());
    }

    #[test]
    fn headroom_rows() {
        // (what, used, pod cpu request, fits, binding resource)
        let rows: Vec<(&str, serde_json::Value, &str, u64, &str)> = vec![
            // quota.go: requests.cpu 5 / 500m = 10 labs, limits.cpu 10/1 = 10: the first minimum wins
            ("empty namespace, cpu bound", json!({}), "500m", 10, "limits.cpu"),
            ("requests.cpu nearly used", json!({"requests.cpu": "4600m"}), "500m", 0, "requests.cpu"),
            ("pods count exhausted", json!({"pods": "20"}), "100m", 0, "pods"),
            // services.go: one Service per lab is charged to `services`
            ("services count bound", json!({"services": "18"}), "100m", 2, "services"),
            (
                "ingress count bound",
                json!({"count/ingresses.networking.k8s.io": "19"}),
                "100m",
                1,
                "count/ingresses.networking.k8s.io",
            ),
        ];
        for (what, used, cpu, fits, resource) in rows {
            let room = headroom(&namespace(used), &pod(cpu), "t").expect(what);
            assert_eq!(room.fits, Some(fits), "{what}: {room:?}");
            if fits == 0 || resource != "limits.cpu" {
                assert_eq!(room.binding.as_ref().map(|b| b.resource.as_str()), Some(resource), "{what}");
            }
        }
    }

    #[test]
    fn preflight_refuses_with_numbers() {
        let error = preflight(&namespace(json!({"pods": "20"})), &pod("100m"), "linux-basics").unwrap_err();
        let LabsError::ClusterFull(full) = error else { panic!("{error:?}") };
        assert_eq!((full.used.as_str(), full.hard.as_str(), full.per_lab.as_str()), ("20", "20", "1"));
        assert_eq!(preflight(&namespace(json!({})), &pod("100m"), "t").unwrap(), Some(10));
    }

    fn template_pod(id: &str, template: &str, status: serde_json::Value) -> Pod {
        typed(json!({
            "metadata": {"name": format!("lab-{id}"), "uid": id,
                "labels": {"app.kubernetes.io/managed-by": "autolabs", "autolabs.io/lab-id": id,
                           "autolabs.io/template": template}},
            "status": status
        }))
    }

    #[test]
    fn stale_charges_rows() {
        // pods.go QuotaV1Pod: terminal pods and pods past their deletion grace are not charged
        let charged = |status: serde_json::Value, deleted: Option<&str>| {
            let mut pod = template_pod("a", "t", status);
            if let Some(at) = deleted {
                pod.metadata.deletion_timestamp = Some(typed(json!(at)));
                pod.metadata.deletion_grace_period_seconds = Some(30);
            }
            charged_to_quota(&pod, T0 + 100)
        };
        assert!(charged(json!({"phase": "Running"}), None));
        assert!(!charged(json!({"phase": "Failed"}), None));
        assert!(!charged(json!({"phase": "Succeeded"}), None));
        assert!(charged(json!({"phase": "Running"}), Some("2026-01-01T00:01:30Z")), "within its grace");
        assert!(!charged(json!({"phase": "Running"}), Some("2026-01-01T00:00:10Z")), "grace over");

        let ns = namespace(json!({"pods": "20", "requests.cpu": "1", "limits.cpu": "2",
                                  "requests.memory": "256Mi", "limits.memory": "512Mi"}));
        let per_lab = lab_charges(&ns, &pod("500m"), "t").unwrap();
        let charges_of = HashMap::from([("t".to_string(), per_lab.clone())]);
        let pods = vec![
            template_pod("a", "t", json!({"phase": "Pending"})),
            template_pod("b", "t", json!({"phase": "Running"})),
            template_pod("c", "t", json!({"phase": "Failed"})),
        ];
        // Two charged labs account for pods 2, requests.cpu 1, limits.cpu 2, memory 256Mi/512Mi:
        // only `pods` is stale (20 used).
        let stale = stale_charges(&ns, &pods, &charges_of, T0);
        assert_eq!(
            stale,
            vec![StaleCharge {
                quota: "labs-quota".into(),
                resource: "pods".into(),
                used: "20".into(),
                accounted: "2".into()
            }]
        );
        // The preflight refuses on the quota as it stands, and admits on what the labs account for.
        assert!(preflight_with_charges(&ns, &per_lab, "t").is_err());
        let corrected = with_accounted_usage(&ns, &stale);
        assert_eq!(corrected.quotas[0].used["pods"], Quantity::from_units(2));
        assert_eq!(
            preflight_with_charges(&corrected, &per_lab, "t").unwrap(),
            Some(8),
            "limits.cpu 2 of 10 used"
        );
        // No lab at all: every charge is stale.
        assert_eq!(stale_charges(&ns, &Vec::<Pod>::new(), &charges_of, T0).len(), 5);
        // A Pod of a template whose charge is unknown: staleness cannot be told.
        let unknown = vec![template_pod("x", "other", json!({}))];
        assert!(stale_charges(&ns, &unknown, &charges_of, T0).is_empty());
        // A quota in step with the labs: nothing stale.
        let in_step = namespace(json!({"pods": "2", "requests.cpu": "1", "limits.cpu": "2",
                                       "requests.memory": "256Mi", "limits.memory": "512Mi"}));
        assert!(stale_charges(&in_step, &pods, &charges_of, T0).is_empty());
    }

    #[test]
    fn limit_range_violations_are_template_problems() {
        // limitranger.go: max cpu 1 per container; a 2-cpu request is refused whatever the quota
        let error = headroom(&namespace(json!({})), &pod("2"), "t").unwrap_err();
        assert_eq!(error.code(), "template_rejected");
    }

    fn lab_pod(id: &str, uid: &str, created: &str, expires: &str) -> Pod {
        typed(json!({
            "metadata": {"name": format!("lab-{id}"), "uid": uid,
                "labels": {"app.kubernetes.io/managed-by": "autolabs", "autolabs.io/lab-id": id},
                "annotations": {"autolabs.io/created-at": created, "autolabs.io/expires-at": expires}},
            "spec": {"containers": [{"name": "lab", "image": "x:1"}]}
        }))
    }

    fn child(kind: ChildKind, id: &str, owner: &str) -> ChildRef {
        ChildRef {
            kind,
            name: format!("lab-{id}"),
            lab_id: id.into(),
            owners: vec![owner.into()],
            being_deleted: false,
        }
    }

    fn complete(id: &str, owner: &str) -> Vec<ChildRef> {
        ChildKind::ALL.into_iter().map(|k| child(k, id, owner)).collect()
    }

    const T0: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z
    const CREATED: &str = "2026-01-01T00:00:00Z";
    const EXPIRES: &str = "2026-01-01T02:00:00Z";

    #[test]
    fn reap_plan_rows() {
        let rows: Vec<(&str, Observed, u64, Vec<ReapAction>)> = vec![
            (
                "complete lab in time: nothing",
                Observed { pods: vec![lab_pod("a", "u1", CREATED, EXPIRES)], children: complete("a", "u1") },
                T0 + 10,
                vec![],
            ),
            // decide.rs is_expired: expires-at <= now
            (
                "expired lab is deleted",
                Observed { pods: vec![lab_pod("a", "u1", CREATED, EXPIRES)], children: complete("a", "u1") },
                T0 + 7200,
                vec![ReapAction::DeleteLab {
                    id: "a".into(),
                    pod: "lab-a".into(),
                    reason: ReapReason::Expired,
                }],
            ),
            (
                "half-made lab within grace is kept",
                Observed {
                    pods: vec![lab_pod("a", "u1", CREATED, EXPIRES)],
                    children: vec![child(ChildKind::Service, "a", "u1")],
                },
                T0 + 5,
                vec![],
            ),
            (
                "lab missing some objects past grace is repaired",
                Observed {
                    pods: vec![lab_pod("a", "u1", CREATED, EXPIRES)],
                    children: vec![child(ChildKind::Service, "a", "u1")],
                },
                T0 + 60,
                vec![ReapAction::RepairLab {
                    id: "a".into(),
                    pod: "lab-a".into(),
                    missing: vec![ChildKind::NetworkPolicy, ChildKind::Ingress],
                }],
            ),
            (
                "lab whose object is being deleted is repaired",
                Observed {
                    pods: vec![lab_pod("a", "u1", CREATED, EXPIRES)],
                    children: complete("a", "u1")
                        .into_iter()
                        .map(|mut c| {
                            c.being_deleted = c.kind == ChildKind::Ingress;
                            c
                        })
                        .collect(),
                },
                T0 + 60,
                vec![ReapAction::RepairLab {
                    id: "a".into(),
                    pod: "lab-a".into(),
                    missing: vec![ChildKind::Ingress],
                }],
            ),
            (
                "Pod without any object past grace is deleted as incomplete",
                Observed { pods: vec![lab_pod("a", "u1", CREATED, EXPIRES)], children: vec![] },
                T0 + 60,
                vec![ReapAction::DeleteLab {
                    id: "a".into(),
                    pod: "lab-a".into(),
                    reason: ReapReason::Incomplete,
                }],
            ),
            (
                "Pod without any object within grace is kept",
                Observed { pods: vec![lab_pod("a", "u1", CREATED, EXPIRES)], children: vec![] },
                T0 + 29,
                vec![],
            ),
            (
                "object without its pod is an orphan",
                Observed { pods: vec![], children: vec![child(ChildKind::Ingress, "b", "u9")] },
                T0,
                vec![ReapAction::DeleteOrphan {
                    kind: ChildKind::Ingress,
                    name: "lab-b".into(),
                    id: "b".into(),
                }],
            ),
            (
                "object owned by an older pod of the same id is an orphan",
                Observed {
                    pods: vec![lab_pod("a", "u2", CREATED, EXPIRES)],
                    children: [complete("a", "u2"), vec![child(ChildKind::Service, "a", "u1")]].concat(),
                },
                T0,
                vec![ReapAction::DeleteOrphan {
                    kind: ChildKind::Service,
                    name: "lab-a".into(),
                    id: "a".into(),
                }],
            ),
        ];
        for (what, observed, now, expected) in rows {
            assert_eq!(reap_plan(&observed, now, 30), expected, "{what}");
        }
    }

    #[test]
    fn failed_pods_are_marked_once() {
        let mut pod = lab_pod("a", "u1", CREATED, EXPIRES);
        pod.status = Some(typed(json!({"phase": "Failed", "reason": "Evicted"})));
        let observed = Observed { pods: vec![pod.clone()], children: complete("a", "u1") };
        assert_eq!(
            reap_plan(&observed, T0, 30),
            vec![ReapAction::MarkFailed {
                id: "a".into(),
                pod: "lab-a".into(),
                reason: "pod Failed: Evicted".into()
            }]
        );
        pod.metadata.annotations.get_or_insert_default().insert(FAILED_ANNOTATION.into(), "x".into());
        let observed = Observed { pods: vec![pod], children: complete("a", "u1") };
        assert!(reap_plan(&observed, T0, 30).is_empty());
    }
}
