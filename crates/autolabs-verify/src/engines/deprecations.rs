//! Upgrade readiness: what breaks or warns when the cluster moves to a target Kubernetes
//! version, and in which order `production` nodes are upgraded.
//!
//! - [`check`]: every object whose `apiVersion` + `kind` the target no longer serves (an
//!   error: `kubectl apply` of that manifest fails after the upgrade) or serves as deprecated
//!   (a warning: the API server answers with a `Warning:` header and removal is scheduled),
//!   from [`DEPRECATED_APIS`], the upstream migration guide's table
//!   (kubernetes.io/docs/reference/using-api/deprecation-guide) with the release each
//!   version was deprecated in (`zz_generated.prerelease-lifecycle.go` of each API group);
//!   and every Namespace whose `pod-security.kubernetes.io/<mode>-version` label is
//!   malformed (an error) or pinned to a version older than the target (enforce: a
//!   warning, audit/warn: info), because a pinned version keeps evaluating old rules.
//! - [`blocking_pdbs`]: the PodDisruptionBudgets that refuse every eviction, so `kubectl
//!   drain` waits on them forever.
//! - [`rollout_order`]: the node-by-node procedure of `kubeadm upgrade` for the platform's
//!   profile, one minor version at a time.
//!
//! Alpha API versions are not in the upstream table and are not tracked here.

use autolabs_k8s::Selector;
use autolabs_k8s::k8s::{IntOrString, PodDisruptionBudget};
use autolabs_model::platform::{PlatformSpec, Profile, parse_minor};

use crate::finding::{Finding, Severity};
use crate::objects::{Object, ObjectSet};

const ENGINE: &str = "deprecations";

/// One API version of one kind that upstream deprecated (and usually removed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeprecatedApi {
    pub api_version: &'static str,
    pub kind: &'static str,
    /// Minor release (1.x) that deprecated it.
    pub deprecated_in: u32,
    /// Minor release that stopped serving it; `None` while only deprecated.
    pub removed_in: Option<u32>,
    /// What to migrate to.
    pub replacement: &'static str,
}

const fn api(
    api_version: &'static str,
    kind: &'static str,
    deprecated_in: u32,
    removed_in: Option<u32>,
    replacement: &'static str,
) -> DeprecatedApi {
    DeprecatedApi { api_version, kind, deprecated_in, removed_in, replacement }
}

const APPS_V1: &str = "apps/v1";
const NO_PSP: &str = "nothing: PodSecurityPolicy is gone; use Pod Security Admission namespace labels";

/// The upstream migration guide's table, "Removed APIs by release", v1.16 to v1.32 (the last
/// removal up to 1.35), plus APIs deprecated without a removal release yet.
pub const DEPRECATED_APIS: &[DeprecatedApi] = &[
    // v1.16
    api("extensions/v1beta1", "DaemonSet", 9, Some(16), APPS_V1),
    api("extensions/v1beta1", "Deployment", 9, Some(16), APPS_V1),
    api("extensions/v1beta1", "ReplicaSet", 9, Some(16), APPS_V1),
    api("apps/v1beta1", "Deployment", 9, Some(16), APPS_V1),
    api("apps/v1beta1", "StatefulSet", 9, Some(16), APPS_V1),
    api("apps/v1beta1", "ControllerRevision", 9, Some(16), APPS_V1),
    api("apps/v1beta2", "DaemonSet", 9, Some(16), APPS_V1),
    api("apps/v1beta2", "Deployment", 9, Some(16), APPS_V1),
    api("apps/v1beta2", "ReplicaSet", 9, Some(16), APPS_V1),
    api("apps/v1beta2", "StatefulSet", 9, Some(16), APPS_V1),
    api("apps/v1beta2", "ControllerRevision", 9, Some(16), APPS_V1),
    api("extensions/v1beta1", "NetworkPolicy", 9, Some(16), "networking.k8s.io/v1"),
    api("extensions/v1beta1", "PodSecurityPolicy", 10, Some(16), NO_PSP),
    // v1.22
    api(
        "admissionregistration.k8s.io/v1beta1",
        "MutatingWebhookConfiguration",
        16,
        Some(22),
        "admissionregistration.k8s.io/v1",
    ),
    api(
        "admissionregistration.k8s.io/v1beta1",
        "ValidatingWebhookConfiguration",
        16,
        Some(22),
        "admissionregistration.k8s.io/v1",
    ),
    api("apiextensions.k8s.io/v1beta1", "CustomResourceDefinition", 16, Some(22), "apiextensions.k8s.io/v1"),
    api("apiregistration.k8s.io/v1beta1", "APIService", 19, Some(22), "apiregistration.k8s.io/v1"),
    api("authentication.k8s.io/v1beta1", "TokenReview", 19, Some(22), "authentication.k8s.io/v1"),
    api("authorization.k8s.io/v1beta1", "SubjectAccessReview", 19, Some(22), "authorization.k8s.io/v1"),
    api("authorization.k8s.io/v1beta1", "LocalSubjectAccessReview", 19, Some(22), "authorization.k8s.io/v1"),
    api("authorization.k8s.io/v1beta1", "SelfSubjectAccessReview", 19, Some(22), "authorization.k8s.io/v1"),
    api("authorization.k8s.io/v1beta1", "SelfSubjectRulesReview", 19, Some(22), "authorization.k8s.io/v1"),
    api("certificates.k8s.io/v1beta1", "CertificateSigningRequest", 19, Some(22), "certificates.k8s.io/v1"),
    api("coordination.k8s.io/v1beta1", "Lease", 19, Some(22), "coordination.k8s.io/v1"),
    api("extensions/v1beta1", "Ingress", 14, Some(22), "networking.k8s.io/v1"),
    api("networking.k8s.io/v1beta1", "Ingress", 19, Some(22), "networking.k8s.io/v1"),
    api("networking.k8s.io/v1beta1", "IngressClass", 19, Some(22), "networking.k8s.io/v1"),
    api("rbac.authorization.k8s.io/v1beta1", "ClusterRole", 17, Some(22), "rbac.authorization.k8s.io/v1"),
    api(
        "rbac.authorization.k8s.io/v1beta1",
        "ClusterRoleBinding",
        17,
        Some(22),
        "rbac.authorization.k8s.io/v1",
    ),
    api("rbac.authorization.k8s.io/v1beta1", "Role", 17, Some(22), "rbac.authorization.k8s.io/v1"),
    api("rbac.authorization.k8s.io/v1beta1", "RoleBinding", 17, Some(22), "rbac.authorization.k8s.io/v1"),
    api("scheduling.k8s.io/v1beta1", "PriorityClass", 14, Some(22), "scheduling.k8s.io/v1"),
    api("storage.k8s.io/v1beta1", "CSIDriver", 19, Some(22), "storage.k8s.io/v1"),
    api("storage.k8s.io/v1beta1", "CSINode", 17, Some(22), "storage.k8s.io/v1"),
    api("storage.k8s.io/v1beta1", "StorageClass", 19, Some(22), "storage.k8s.io/v1"),
    api("storage.k8s.io/v1beta1", "VolumeAttachment", 19, Some(22), "storage.k8s.io/v1"),
    // v1.25
    api("batch/v1beta1", "CronJob", 21, Some(25), "batch/v1"),
    api("discovery.k8s.io/v1beta1", "EndpointSlice", 21, Some(25), "discovery.k8s.io/v1"),
    api("events.k8s.io/v1beta1", "Event", 22, Some(25), "events.k8s.io/v1"),
    api("autoscaling/v2beta1", "HorizontalPodAutoscaler", 22, Some(25), "autoscaling/v2"),
    api("policy/v1beta1", "PodDisruptionBudget", 22, Some(25), "policy/v1"),
    api("policy/v1beta1", "PodSecurityPolicy", 21, Some(25), NO_PSP),
    api("node.k8s.io/v1beta1", "RuntimeClass", 22, Some(25), "node.k8s.io/v1"),
    // v1.26
    api(
        "flowcontrol.apiserver.k8s.io/v1beta1",
        "FlowSchema",
        23,
        Some(26),
        "flowcontrol.apiserver.k8s.io/v1",
    ),
    api(
        "flowcontrol.apiserver.k8s.io/v1beta1",
        "PriorityLevelConfiguration",
        23,
        Some(26),
        "flowcontrol.apiserver.k8s.io/v1",
    ),
    api("autoscaling/v2beta2", "HorizontalPodAutoscaler", 23, Some(26), "autoscaling/v2"),
    // v1.27
    api("storage.k8s.io/v1beta1", "CSIStorageCapacity", 24, Some(27), "storage.k8s.io/v1"),
    // v1.29
    api(
        "flowcontrol.apiserver.k8s.io/v1beta2",
        "FlowSchema",
        26,
        Some(29),
        "flowcontrol.apiserver.k8s.io/v1",
    ),
    api(
        "flowcontrol.apiserver.k8s.io/v1beta2",
        "PriorityLevelConfiguration",
        26,
        Some(29),
        "flowcontrol.apiserver.k8s.io/v1",
    ),
    // v1.32
    api(
        "flowcontrol.apiserver.k8s.io/v1beta3",
        "FlowSchema",
        29,
        Some(32),
        "flowcontrol.apiserver.k8s.io/v1",
    ),
    api(
        "flowcontrol.apiserver.k8s.io/v1beta3",
        "PriorityLevelConfiguration",
        29,
        Some(32),
        "flowcontrol.apiserver.k8s.io/v1",
    ),
    // Deprecated, still served.
    api("v1", "ComponentStatus", 19, None, "nothing: query the components' /livez and /readyz endpoints"),
    api("v1", "Endpoints", 33, None, "discovery.k8s.io/v1 EndpointSlice"),
];

/// The table entry for an object's `apiVersion` and `kind`.
pub fn lookup(api_version: &str, kind: &str) -> Option<&'static DeprecatedApi> {
    DEPRECATED_APIS.iter().find(|d| d.api_version == api_version && d.kind == kind)
}

/// A target version that is not `1.N` (or `v1.N`, `1.N.P`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a Kubernetes version: write 1.N, for example 1.32")]
pub struct BadTargetVersion {
    pub input: String,
}

/// The minor version of a `--target-version` (`1.32`, `v1.32`, `1.32.1`).
pub fn parse_target(input: &str) -> Result<u32, BadTargetVersion> {
    parse_minor(input.trim()).ok_or_else(|| BadTargetVersion { input: input.to_string() })
}

/// Removed and deprecated APIs, and Pod Security version pins, for a cluster at 1.`target`.
pub fn check(set: &ObjectSet, target_minor: u32) -> Vec<Finding> {
    let mut out = Vec::new();
    for o in &set.objects {
        if let Some(d) = lookup(&o.api_version, &o.kind) {
            out.extend(api_finding(o, d, target_minor));
        }
        if o.kind == "Namespace" && o.group().is_empty() {
            out.extend(pod_security_versions(o, target_minor));
        }
    }
    out
}

// k8s.io/apiserver/pkg/endpoints/installer.go: a version past its removal release is not
// installed (404 on apply); a deprecated one answers with a `Warning:` header
// (k8s.io/apiserver/pkg/endpoints/deprecation/deprecation.go).
fn api_finding(o: &Object, d: &DeprecatedApi, target: u32) -> Option<Finding> {
    let what = format!("{} {}", d.api_version, d.kind);
    match d.removed_in {
        Some(removed) if removed <= target => Some(
            Finding::new(
                ENGINE,
                "removed-api",
                Severity::Error,
                format!(
                    "{what} is no longer served as of 1.{removed} (target 1.{target}): migrate to {}",
                    d.replacement
                ),
            )
            .at(o, "apiVersion"),
        ),
        _ if d.deprecated_in <= target => {
            let removal = match d.removed_in {
                Some(r) => format!("removed in 1.{r}"),
                None => "no removal release yet".into(),
            };
            Some(
                Finding::new(
                    ENGINE,
                    "deprecated-api",
                    Severity::Warning,
                    format!(
                        "{what} is deprecated since 1.{} ({removal}; target 1.{target}): migrate to {}",
                        d.deprecated_in, d.replacement
                    ),
                )
                .at(o, "apiVersion"),
            )
        }
        _ => None,
    }
}

/// The three Pod Security modes a namespace labels.
const PSA_MODES: [&str; 3] = ["enforce", "audit", "warn"];

/// `latest` or `v1.N`, as Pod Security Admission reads a version label.
// k8s.io/pod-security-admission/api/helpers.go: ParseVersion accepts "latest" and
// `^v1\.(0|[1-9][0-9]*)$`; anything else makes the namespace's labels invalid.
pub fn parse_pod_security_version(value: &str) -> Option<Option<u32>> {
    if value == "latest" {
        return Some(None);
    }
    let minor = value.strip_prefix("v1.")?;
    let leading_zero = minor.len() > 1 && minor.starts_with('0');
    if minor.is_empty() || leading_zero || !minor.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    minor.parse().ok().map(Some)
}

/// One finding per namespace for its pins older than the target (a warning when the enforce
/// pin is among them), and one error per malformed version label.
fn pod_security_versions(ns: &Object, target: u32) -> Vec<Finding> {
    let labels = ns.labels();
    let mut out = Vec::new();
    let mut older: Vec<String> = Vec::new();
    let mut enforce_older = false;
    let mut first_path = None;
    for mode in PSA_MODES {
        let key = format!("pod-security.kubernetes.io/{mode}-version");
        let Some(value) = labels.get(&key) else { continue };
        let path = format!("metadata.labels.{key}");
        match parse_pod_security_version(value) {
            None => out.push(
                Finding::new(
                    ENGINE,
                    "pod-security-version",
                    Severity::Error,
                    format!("{key}={value:?} is not a Pod Security version: use `latest` or `v1.N`"),
                )
                .at(ns, &path),
            ),
            Some(Some(minor)) if minor < target => {
                enforce_older |= mode == "enforce";
                first_path.get_or_insert(path);
                older.push(format!("{mode}-version={value}"));
            }
            Some(_) => {}
        }
    }
    if let Some(path) = first_path {
        let level =
            labels.get("pod-security.kubernetes.io/enforce").map(String::as_str).unwrap_or("privileged");
        let severity = if enforce_older { Severity::Warning } else { Severity::Info };
        out.push(
            Finding::new(
                ENGINE,
                "pod-security-version",
                severity,
                format!(
                    "namespace {} pins Pod Security {} older than the target 1.{target}: after the upgrade its pods \
                     are still checked against the pinned rules; check them with `autolabs verify --pod-security \
                     {level}:v1.{target}`, then raise the pins",
                    ns.name,
                    older.join(", ")
                ),
            )
            .at(ns, &path),
        );
    }
    out
}

/// A PodDisruptionBudget that allows no eviction while every pod it covers is healthy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockingPdb {
    pub namespace: String,
    pub name: String,
    /// Replicas of the workloads it covers.
    pub replicas: i32,
    /// Why, in words (`minAvailable 1 ≥ 1 replica`).
    pub reason: String,
}

impl BlockingPdb {
    pub fn id(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// Every PodDisruptionBudget that would block `kubectl drain`.
///
/// The pods a budget covers are the replicas of the workloads (Deployment, StatefulSet,
/// ReplicaSet, ReplicationController) in its namespace whose pod template its selector
/// matches, every pod assumed healthy; a budget that covers no pod blocks nothing.
// k8s.io/kubernetes/pkg/controller/disruption/disruption.go (getExpectedPodCount,
// updatePdbStatus): disruptionsAllowed = currentHealthy − desiredHealthy, where
// desiredHealthy is minAvailable (a percentage of the expected count, rounded up) or
// expected − maxUnavailable (a percentage rounded up); pkg/registry/core/pod/storage/eviction.go
// refuses an eviction while disruptionsAllowed is 0.
pub fn blocking_pdbs(set: &ObjectSet) -> Vec<BlockingPdb> {
    let mut out = Vec::new();
    for o in set.of_kind("policy", "PodDisruptionBudget") {
        let Ok(pdb) = o.typed::<PodDisruptionBudget>() else { continue };
        let Some(spec) = pdb.spec else { continue };
        // A null selector selects nothing; `{}` selects every pod of the namespace.
        let Some(selector) = spec.selector.as_ref().and_then(|s| Selector::from_k8s(s).ok()) else {
            continue;
        };
        let ns = o.namespace.clone().unwrap_or_else(|| "default".into());
        let expected: i32 = replicas_matching(set, &ns, &selector);
        if expected == 0 {
            continue;
        }
        let desired_healthy = match (&spec.max_unavailable, &spec.min_available) {
            (Some(max), _) => expected - scaled(max, expected),
            (None, Some(min)) => scaled(min, expected),
            (None, None) => continue,
        };
        if expected - desired_healthy > 0 {
            continue;
        }
        let plural = if expected == 1 { "" } else { "s" };
        let reason = match (&spec.max_unavailable, &spec.min_available) {
            (Some(max), _) => format!("maxUnavailable {} of {expected} replica{plural}", show(max)),
            (None, Some(min)) => format!("minAvailable {} ≥ {expected} replica{plural}", show(min)),
            (None, None) => String::new(),
        };
        out.push(BlockingPdb { namespace: ns, name: o.name.clone(), replicas: expected, reason });
    }
    out
}

fn show(v: &IntOrString) -> String {
    match v {
        IntOrString::Int(i) => i.to_string(),
        IntOrString::String(s) => s.clone(),
    }
}

/// An int, or a percentage of `total` rounded up; a malformed percentage counts as 0.
// k8s.io/apimachinery/pkg/util/intstr/intstr.go: GetScaledValueFromIntOrPercent(roundUp=true).
fn scaled(v: &IntOrString, total: i32) -> i32 {
    match v {
        IntOrString::Int(i) => *i,
        IntOrString::String(s) => {
            let pct: i64 = s.strip_suffix('%').and_then(|p| p.parse().ok()).unwrap_or(0);
            let n = (pct * i64::from(total) + 99).div_euclid(100);
            i32::try_from(n).unwrap_or(i32::MAX)
        }
    }
}

/// Replicas of the pod-owning workloads in `ns` whose template labels `selector` matches.
fn replicas_matching(set: &ObjectSet, ns: &str, selector: &Selector) -> i32 {
    let mut total = 0i32;
    for o in &set.objects {
        if o.namespace.as_deref().unwrap_or("default") != ns {
            continue;
        }
        let scalable = matches!(
            (o.group(), o.kind.as_str()),
            ("apps", "Deployment" | "StatefulSet" | "ReplicaSet") | ("", "ReplicationController")
        );
        if !scalable {
            continue;
        }
        let Some(t) = o.pod_template() else { continue };
        if selector.matches(&t.meta.labels.clone().unwrap_or_default()) {
            let replicas = replicas_of(set, o).0;
            total = total.saturating_add(i32::try_from(replicas).unwrap_or(i32::MAX));
        }
    }
    total
}

/// The replicas a workload runs with at least: `spec.replicas`, else (a HorizontalPodAutoscaler
/// owns the count) the `minReplicas` of the autoscaler that targets it, else 1 (the apps/v1
/// default). Returns the autoscaler's name when one decides.
// k8s.io/kubernetes/pkg/apis/apps/v1/defaults.go (replicas default 1);
// pkg/apis/autoscaling/v2/defaults.go (minReplicas default 1).
pub(crate) fn replicas_of(set: &ObjectSet, o: &Object) -> (i64, Option<String>) {
    if let Some(r) = o.value["spec"]["replicas"].as_i64() {
        return (r, None);
    }
    let hpa = set.of_kind("autoscaling", "HorizontalPodAutoscaler").find(|h| {
        let target = &h.value["spec"]["scaleTargetRef"];
        h.namespace == o.namespace
            && target["kind"].as_str() == Some(o.kind.as_str())
            && target["name"].as_str() == Some(o.name.as_str())
    });
    match hpa {
        Some(h) => (h.value["spec"]["minReplicas"].as_i64().unwrap_or(1), Some(h.name.clone())),
        None => (1, None),
    }
}

/// The node-by-node upgrade from the config's `kubernetesVersion` to 1.`target_minor`, one
/// minor version at a time (kubeadm upgrades skip no minor version), with the budgets that
/// would block each drain named.
// Procedure: kubernetes.io/docs/tasks/administer-cluster/kubeadm/kubeadm-upgrade (first
// control-plane node `kubeadm upgrade apply`, the others `kubeadm upgrade node`, then
// drain → kubelet → uncordon per node; workers after the control plane).
pub fn rollout_order(spec: &PlatformSpec, target_minor: u32, pdbs: &[BlockingPdb]) -> Vec<String> {
    let current = spec.kubernetes_minor();
    let mut steps = Vec::new();
    if target_minor <= current {
        steps.push(format!(
            "Nothing to upgrade: the cluster is at 1.{current} and the target is 1.{target_minor}."
        ));
        return steps;
    }
    steps.push(format!(
        "Before: run `autolabs verify --target-version 1.{target_minor}` until it reports no removed API, and take \
         fresh backups (kubectl -n kube-system create job --from=cronjob/etcd-snapshot etcd-snapshot-pre-upgrade; \
         the same for each database's backup CronJob)."
    ));
    if current + 1 < target_minor {
        steps.push(format!(
            "kubeadm upgrades one minor version at a time: {} hops, 1.{current} → {}.",
            target_minor - current,
            (current + 1..=target_minor).map(|m| format!("1.{m}")).collect::<Vec<_>>().join(" → ")
        ));
    }
    let drain = |node: &str| format!("kubectl drain {node} --ignore-daemonsets --delete-emptydir-data");
    let kubelet = |m: u32| {
        format!(
            "upgrade the kubelet and kubectl packages to 1.{m}.x, `systemctl daemon-reload && systemctl restart kubelet`"
        )
    };
    let blockers = if pdbs.is_empty() {
        "no PodDisruptionBudget blocks a drain".to_string()
    } else {
        format!(
            "the drain waits on {} (no eviction allowed): move those pods by hand in a maintenance window \
             (`kubectl delete pod`) or scale the workload up first",
            pdbs.iter().map(|p| format!("{} ({})", p.id(), p.reason)).collect::<Vec<_>>().join(", ")
        )
    };
    if spec.profile == Profile::Production {
        steps.push(format!("Drains honour PodDisruptionBudgets: {blockers}."));
    }
    for m in current + 1..=target_minor {
        let hop = format!("1.{}→1.{m}", m - 1);
        match spec.profile {
            Profile::Mvp => {
                steps.push(format!(
                    "[{hop}] single node, in place, with downtime (the document: 10–20 minutes): announce it; \
                     upgrade the kubeadm package to 1.{m}.x; `kubeadm upgrade plan`; `kubeadm upgrade apply v1.{m}.x`."
                ));
                steps.push(format!(
                    "[{hop}] {}: there is no other node to drain to, so every pod stops; {}; `kubectl uncordon` \
                     the node and wait until it is Ready and `autolabs verify` passes.",
                    "cordon the node", kubelet(m)
                ));
            }
            Profile::Production => {
                let cps: Vec<String> = spec.control_plane.nodes.iter().map(|n| n.name.clone()).collect();
                for (i, node) in cps.iter().enumerate() {
                    let kubeadm = if i == 0 {
                        format!(
                            "`kubeadm upgrade plan`, then `kubeadm upgrade apply v1.{m}.x` (upgrades the control-plane static pods, etcd and the cluster's kubeadm config)"
                        )
                    } else {
                        "`kubeadm upgrade node` (upgrades this node's static pods and etcd member)".into()
                    };
                    steps.push(format!(
                        "[{hop}] control plane {}/{}: {node}: upgrade the kubeadm package to 1.{m}.x; {kubeadm}; {}; {}; \
                         `kubectl uncordon {node}`; wait until it is Ready and etcd reports the member healthy before \
                         the next one (etcd keeps quorum with one member down).",
                        i + 1,
                        cps.len(),
                        drain(node),
                        kubelet(m),
                    ));
                }
                let workers = spec.worker_nodes().count();
                for w in 1..=workers {
                    let node = format!("worker-{w}");
                    steps.push(format!(
                        "[{hop}] worker {w}/{workers}: {node}: upgrade the kubeadm package to 1.{m}.x, `kubeadm upgrade \
                         node`; `kubectl cordon {node}`; {} (waits on the blocking budgets above for their pods on \
                         this node); {}; `kubectl uncordon {node}`; wait until it is Ready and its pods are running \
                         before the next worker.",
                        drain(&node),
                        kubelet(m),
                    ));
                }
            }
        }
    }
    steps.push(format!(
        "After: `kubectl get nodes` shows every node at v1.{target_minor}; raise spec.kubernetesVersion to \
         \"1.{target_minor}\" and re-render, so pinned Pod Security versions and kubeadm files follow."
    ));
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use autolabs_model::platform::Platform;

    fn set_of(yaml: &str) -> ObjectSet {
        let mut set = ObjectSet::default();
        set.add_text(yaml, "test.yaml");
        assert!(set.errors.is_empty(), "{:?}", set.errors);
        set
    }

    /// A minimal object the API server would admit: kinds that carry a pod get one.
    fn object(api_version: &str, kind: &str) -> String {
        let group = api_version.split_once('/').map(|(g, _)| g).unwrap_or("");
        let restart = if group == "batch" { "restartPolicy: Never, " } else { "" };
        let pod = format!(
            "{{metadata: {{labels: {{a: b}}}}, spec: {{{restart}containers: [{{name: c, image: i}}]}}}}"
        );
        let spec = match crate::objects::pod_spec_path(kind, group).map(|(_, spec)| spec) {
            None => String::new(),
            Some("spec") => "spec: {containers: [{name: c, image: i}]}\n".into(),
            Some("template.spec") => format!("template: {pod}\n"),
            Some("spec.jobTemplate.spec.template.spec") => {
                format!("spec:\n  schedule: '* * * * *'\n  jobTemplate: {{spec: {{template: {pod}}}}}\n")
            }
            Some(_) => format!("spec:\n  selector: {{matchLabels: {{a: b}}}}\n  template: {pod}\n"),
        };
        format!("apiVersion: {api_version}\nkind: {kind}\nmetadata:\n  name: x\n  namespace: ns\n{spec}")
    }

    /// One row per removed API: served the release before, an error from its removal on.
    #[test]
    fn every_removed_api_is_an_error_from_its_removal_release() {
        for d in DEPRECATED_APIS.iter().filter(|d| d.removed_in.is_some()) {
            let removed = d.removed_in.unwrap_or_default();
            let set = set_of(&object(d.api_version, d.kind));
            let at = check(&set, removed);
            assert_eq!(at.len(), 1, "{} {}", d.api_version, d.kind);
            assert_eq!((at[0].rule.as_str(), at[0].severity), ("removed-api", Severity::Error));
            assert!(at[0].message.contains(d.replacement), "{}", at[0].message);
            let before = check(&set, removed - 1);
            assert!(
                before.iter().all(|f| f.severity == Severity::Warning && f.rule == "deprecated-api"),
                "{} {}: {before:?}",
                d.api_version,
                d.kind
            );
            assert!(check(&set, d.deprecated_in - 1).is_empty(), "{} {}", d.api_version, d.kind);
        }
    }

    /// The removals the issue names, by release.
    #[test]
    fn named_removals() {
        let rows = [
            ("policy/v1beta1", "PodSecurityPolicy", 25),
            ("batch/v1beta1", "CronJob", 25),
            ("flowcontrol.apiserver.k8s.io/v1beta2", "FlowSchema", 29),
            ("flowcontrol.apiserver.k8s.io/v1beta3", "PriorityLevelConfiguration", 32),
            ("autoscaling/v2beta2", "HorizontalPodAutoscaler", 26),
            ("networking.k8s.io/v1beta1", "Ingress", 22),
            ("storage.k8s.io/v1beta1", "CSIStorageCapacity", 27),
            ("policy/v1beta1", "PodDisruptionBudget", 25),
            ("extensions/v1beta1", "Deployment", 16),
        ];
        for (v, k, removed) in rows {
            assert_eq!(lookup(v, k).and_then(|d| d.removed_in), Some(removed), "{v} {k}");
        }
        // Same version, a kind that was never there: not flagged.
        assert!(lookup("batch/v1beta1", "Job").is_none());
        // Current versions: nothing.
        let set = set_of(&format!(
            "{}---\n{}",
            object("batch/v1", "CronJob"),
            object("policy/v1", "PodDisruptionBudget")
        ));
        assert!(check(&set, 35).is_empty());
    }

    #[test]
    fn deprecated_without_removal_is_a_warning() {
        let set = set_of(&object("v1", "Endpoints"));
        assert!(check(&set, 32).is_empty());
        let f = check(&set, 33);
        assert_eq!((f[0].rule.as_str(), f[0].severity), ("deprecated-api", Severity::Warning));
        assert!(f[0].message.contains("no removal release yet"));
    }

    #[test]
    fn pod_security_versions_by_rule() {
        // (labels, target, expected (severity, mode) list, upstream rule)
        let rows: [(&str, u32, &[Severity], &str); 5] = [
            (
                "enforce: restricted\n    pod-security.kubernetes.io/enforce-version: v1.30",
                32,
                &[Severity::Warning],
                "older enforce pin",
            ),
            (
                "audit: restricted\n    pod-security.kubernetes.io/audit-version: v1.28",
                32,
                &[Severity::Info],
                "older audit pin",
            ),
            ("enforce-version: latest", 32, &[], "latest follows the cluster"),
            ("enforce-version: v1.32", 32, &[], "pinned at the target"),
            (
                "enforce-version: \"1.30\"",
                32,
                &[Severity::Error],
                "helpers.go ParseVersion needs the v prefix",
            ),
        ];
        for (labels, target, expected, rule) in rows {
            let set = set_of(&format!(
                "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns\n  labels:\n    pod-security.kubernetes.io/{labels}\n"
            ));
            let got: Vec<Severity> = check(&set, target).iter().map(|f| f.severity).collect();
            assert_eq!(got, expected, "{rule}");
        }
        assert_eq!(parse_pod_security_version("v1.05"), None);
        assert_eq!(parse_pod_security_version("v1.0"), Some(Some(0)));
        assert_eq!(parse_pod_security_version("v2.1"), None);
    }

    #[test]
    fn pdbs_that_block_a_drain() {
        let autoscaled = "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: auto, namespace: ns}\nspec:\n  selector: {matchLabels: {app: auto}}\n  template:\n    metadata: {labels: {app: auto}}\n    spec: {containers: [{name: c, image: i}]}\n---\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: auto, namespace: ns}\nspec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: auto}\n  minReplicas: 2\n  maxReplicas: 5\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: manual, namespace: ns}\nspec:\n  selector: {matchLabels: {app: manual}}\n  template:\n    metadata: {labels: {app: manual}}\n    spec: {containers: [{name: c, image: i}]}\n";
        let workloads = "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db, namespace: ns}\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: db}}\n  template:\n    metadata: {labels: {app: db}}\n    spec: {containers: [{name: c, image: i}]}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: ns}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: c, image: i}]}\n";
        // (budget, blocks, upstream rule)
        let rows = [
            ("minAvailable: 1\n  selector: {matchLabels: {app: db}}", true, "minAvailable 1 ≥ 1 replica"),
            (
                "minAvailable: 1\n  selector: {matchLabels: {app: web}}",
                false,
                "minAvailable 1 of 2: one eviction allowed",
            ),
            ("minAvailable: 2\n  selector: {matchLabels: {app: web}}", true, "minAvailable 2 ≥ 2 replicas"),
            ("maxUnavailable: 0\n  selector: {matchLabels: {app: web}}", true, "maxUnavailable 0"),
            ("maxUnavailable: 1\n  selector: {matchLabels: {app: web}}", false, "maxUnavailable 1"),
            ("minAvailable: \"51%\"\n  selector: {matchLabels: {app: web}}", true, "51% of 2 rounds up to 2"),
            ("minAvailable: \"50%\"\n  selector: {matchLabels: {app: web}}", false, "50% of 2 is 1"),
            (
                "maxUnavailable: \"10%\"\n  selector: {matchLabels: {app: web}}",
                false,
                "10% of 2 rounds up to 1",
            ),
            ("minAvailable: 1\n  selector: {matchLabels: {app: none}}", false, "covers no pod"),
            ("minAvailable: 6\n  selector: {}", true, "empty selector: every pod (1 + 2 + 2 + 1)"),
            (
                "minAvailable: 1\n  selector: {matchLabels: {app: auto}}",
                false,
                "no replicas: the HPA's minReplicas (2) count, 1 < 2",
            ),
            (
                "minAvailable: 1\n  selector: {matchLabels: {app: manual}}",
                true,
                "no replicas, no HPA: 1 (defaults.go), 1 ≥ 1",
            ),
        ];
        for (budget, blocks, rule) in rows {
            let set = set_of(&format!(
                "{workloads}{autoscaled}---\napiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {{name: b, namespace: ns}}\nspec:\n  {budget}\n"
            ));
            let got = blocking_pdbs(&set);
            assert_eq!(!got.is_empty(), blocks, "{rule}: {got:?}");
        }
    }

    #[test]
    fn production_rollout_is_control_plane_first_one_at_a_time() {
        let mut p = Platform::for_profile(Profile::Production, autolabs_model::Provider::Proxmox);
        p.spec.kubernetes_version = Some("1.30".into());
        let pdbs = vec![BlockingPdb {
            namespace: "infrastructure".into(),
            name: "postgres".into(),
            replicas: 1,
            reason: "minAvailable 1 ≥ 1 replica".into(),
        }];
        let steps = rollout_order(&p.spec, 31, &pdbs);
        let cp: Vec<&String> = steps.iter().filter(|s| s.contains("control plane")).collect();
        assert_eq!(cp.len(), 3);
        assert!(cp[0].contains("cp-1") && cp[0].contains("kubeadm upgrade apply v1.31.x"));
        assert!(cp[1].contains("cp-2") && cp[1].contains("kubeadm upgrade node"));
        let first_worker = steps.iter().position(|s| s.contains("worker 1/")).unwrap();
        let last_cp = steps.iter().rposition(|s| s.contains("control plane")).unwrap();
        assert!(last_cp < first_worker);
        let w = &steps[first_worker];
        let order =
            ["kubectl cordon", "kubectl drain", "kubelet", "kubectl uncordon"].map(|s| w.find(s).unwrap());
        assert!(order.windows(2).all(|x| x[0] < x[1]), "{w}");
        let budgets = steps.iter().find(|s| s.starts_with("Drains honour PodDisruptionBudgets")).unwrap();
        assert!(budgets.contains("infrastructure/postgres (minAvailable 1 ≥ 1 replica)"), "{budgets}");
        // Two minor versions: two hops, in order.
        let steps = rollout_order(&p.spec, 32, &[]);
        assert!(steps.iter().any(|s| s.contains("1.30 → 1.31 → 1.32")));
        let first_32 = steps.iter().position(|s| s.starts_with("[1.31→1.32]")).unwrap();
        assert!(steps.iter().rposition(|s| s.starts_with("[1.30→1.31]")).unwrap() < first_32);
        assert!(rollout_order(&p.spec, 30, &[])[0].starts_with("Nothing to upgrade"));
    }

    #[test]
    fn mvp_rollout_is_in_place() {
        let p = Platform::default();
        let steps = rollout_order(&p.spec, p.spec.kubernetes_minor() + 1, &[]);
        assert!(steps.iter().any(|s| s.contains("with downtime")));
        assert!(!steps.iter().any(|s| s.contains("kubeadm upgrade node")));
    }

    #[test]
    fn target_versions_parse() {
        assert_eq!(parse_target("1.32"), Ok(32));
        assert_eq!(parse_target("v1.29.3"), Ok(29));
        assert!(parse_target("2.0").is_err());
        assert!(parse_target("latest").is_err());
    }
}
