//! Namespaces with Pod Security labels, and each namespace's ResourceQuota and LimitRange.
//!
//! A quota on `requests.cpu` (or any compute resource) makes the API server reject every pod
//! that does not state it (`ResourceQuota` admission, `pkg/quota/v1/evaluator/core/pods.go`),
//! so every namespace with such a quota also gets a LimitRange whose defaults fill it in.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    LimitRange, LimitRangeItem, LimitRangeSpec, Namespace, ResourceQuota, ResourceQuotaSpec,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;

use super::{Ctx, Rendered, typed};
use crate::platform::PlatformSpec;
use crate::qty::constant as q;
use crate::topology::{self, LABS};
use autolabs_k8s::Quantity;

/// The Pod Security labels of a namespace we render: `enforce` at one level, `audit` and
/// `warn` at another, each pinned to `version`
/// ([`crate::versions::pod_security_label_version`]), so that a cluster upgrade never
/// silently tightens or loosens the policy.
pub(crate) fn pod_security_labels(
    labels: &mut BTreeMap<String, String>,
    enforce: &str,
    audit_warn: &str,
    version: &str,
) {
    for (mode, level) in [("enforce", enforce), ("audit", audit_warn), ("warn", audit_warn)] {
        labels.insert(format!("pod-security.kubernetes.io/{mode}"), level.to_string());
        labels.insert(format!("pod-security.kubernetes.io/{mode}-version"), version.to_string());
    }
}

pub(crate) fn render(ctx: &Ctx, out: &mut Rendered) {
    let spec = ctx.spec();
    let version = crate::versions::pod_security_label_version(spec.kubernetes_minor());
    for ns in topology::NAMESPACES {
        let mut meta = ctx.meta(ns.name, None, &[]);
        let labels = meta.labels.get_or_insert_with(BTreeMap::new);
        pod_security_labels(labels, ns.enforce, ns.audit_warn, &version);
        meta.annotations =
            Some(BTreeMap::from([("autolabs.io/purpose".to_string(), ns.purpose.to_string())]));
        out.manifests.push(typed(Namespace { metadata: meta, ..Default::default() }));

        let hard = quota(spec, ns.name);
        out.manifests.push(typed(ResourceQuota {
            metadata: ctx.meta(&format!("{}-quota", ns.name), Some(ns.name), &[]),
            spec: Some(ResourceQuotaSpec {
                hard: Some(hard.iter().map(|(k, v)| (k.clone(), v.to_k8s())).collect()),
                ..Default::default()
            }),
            ..Default::default()
        }));
        if tracks_compute(&hard) {
            out.manifests.push(typed(limit_range(ctx, spec, ns.name, &hard)));
        }
    }
}

/// Whether a quota constrains compute resources, which makes a LimitRange necessary.
pub fn tracks_compute(hard: &BTreeMap<String, Quantity>) -> bool {
    hard.keys().any(|k| {
        matches!(k.as_str(), "cpu" | "memory" | "ephemeral-storage")
            || k.starts_with("requests.") && k != "requests.storage"
            || k.starts_with("limits.")
    })
}

/// The quota of a namespace: the document's numbers, the labs quota derived from the
/// students, then `spec.quotas` overrides.
pub fn quota(spec: &PlatformSpec, namespace: &str) -> BTreeMap<String, Quantity> {
    let mut hard: BTreeMap<String, Quantity> = BTreeMap::new();
    let mut set = |k: &str, v: Quantity| {
        hard.insert(k.to_string(), v);
    };
    match namespace {
        // The document's platform-quota.
        topology::PLATFORM => {
            set("requests.cpu", q("4"));
            set("requests.memory", q("4Gi"));
            set("limits.cpu", q("8"));
            set("limits.memory", q("8Gi"));
            set("pods", q("20"));
        }
        // The document's infrastructure quota (PostgreSQL, Redis, backups).
        topology::INFRASTRUCTURE => {
            set("requests.cpu", q("4"));
            set("requests.memory", q("8Gi"));
            set("limits.cpu", q("8"));
            set("limits.memory", q("16Gi"));
            set("persistentvolumeclaims", q("3"));
            set("pods", q("20"));
        }
        topology::MESSAGING => {
            set("requests.cpu", q("2"));
            set("requests.memory", q("2Gi"));
            set("limits.cpu", q("4"));
            set("limits.memory", q("4Gi"));
            set("persistentvolumeclaims", q("3"));
            set("pods", q("10"));
        }
        topology::AUTH => {
            set("requests.cpu", q("2"));
            set("requests.memory", q("4Gi"));
            set("limits.cpu", q("4"));
            set("limits.memory", q("8Gi"));
            set("persistentvolumeclaims", q("3"));
            set("pods", q("20"));
        }
        LABS => {
            for (resource, limit) in crate::lab::quota::hard(&spec.labs, spec.students()) {
                set(&resource, limit);
            }
        }
        topology::INGRESS_NGINX => {
            set("requests.cpu", q("2"));
            set("requests.memory", q("2Gi"));
            set("limits.cpu", q("4"));
            set("limits.memory", q("4Gi"));
            set("pods", q("10"));
        }
        // The monitoring charts (kube-prometheus-stack, Loki): ten containers, Prometheus and
        // Loki sized by our values, the rest at the LimitRange's defaults (addons::charts).
        topology::MONITORING if spec.monitoring.enabled => {
            set("requests.cpu", q("4"));
            set("requests.memory", q("8Gi"));
            set("limits.cpu", q("8"));
            set("limits.memory", q("16Gi"));
            set("persistentvolumeclaims", q("5"));
            set("pods", q("20"));
        }
        _ => {
            set("requests.cpu", q("2"));
            set("requests.memory", q("4Gi"));
            set("limits.cpu", q("4"));
            set("limits.memory", q("8Gi"));
            set("persistentvolumeclaims", q("5"));
            set("pods", q("20"));
        }
    }
    for (k, v) in spec.quotas.get(namespace).into_iter().flatten() {
        hard.insert(k.clone(), v.0);
    }
    hard
}

fn limit_range(
    ctx: &Ctx,
    spec: &PlatformSpec,
    namespace: &str,
    hard: &BTreeMap<String, Quantity>,
) -> LimitRange {
    let map = |cpu: Quantity, mem: Quantity| -> BTreeMap<String, K8sQuantity> {
        BTreeMap::from([("cpu".to_string(), cpu.to_k8s()), ("memory".to_string(), mem.to_k8s())])
    };
    let (name, item) = if namespace == LABS {
        let l = &spec.labs;
        (
            // The document's name for the labs LimitRange.
            "lab-pod-limits".to_string(),
            LimitRangeItem {
                type_: "Container".into(),
                default: Some(map(l.limits.cpu.0, l.limits.memory.0)),
                default_request: Some(map(l.requests.cpu.0, l.requests.memory.0)),
                min: Some(map(l.min.cpu.0, l.min.memory.0)),
                max: Some(map(l.max.cpu.0, l.max.memory.0)),
                ..Default::default()
            },
        )
    } else {
        (
            format!("{namespace}-limits"),
            LimitRangeItem {
                type_: "Container".into(),
                default: Some(map(q("500m"), q("512Mi"))),
                default_request: Some(map(q("100m"), q("128Mi"))),
                // A container larger than the whole quota could never be admitted.
                max: Some(map(bounded(hard, "cpu", q("4")), bounded(hard, "memory", q("8Gi")))),
                ..Default::default()
            },
        )
    };
    LimitRange {
        metadata: ctx.meta(&name, Some(namespace), &[]),
        spec: Some(LimitRangeSpec { limits: vec![item] }),
    }
}

/// `cap`, lowered to the smallest quota on `resource` (bare, `requests.` or `limits.`).
fn bounded(hard: &BTreeMap<String, Quantity>, resource: &str, cap: Quantity) -> Quantity {
    [resource.to_string(), format!("requests.{resource}"), format!("limits.{resource}")]
        .iter()
        .filter_map(|k| hard.get(k))
        .fold(cap, |acc, q| acc.min(*q))
}
