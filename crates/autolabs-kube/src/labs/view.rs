//! [`Lab`]: what the lab API shows of a lab, read from its Pod alone (all state lives there).

use std::collections::BTreeMap;

use autolabs_model::lab::{self, LabPhase, TEMPLATE_LABEL};
use k8s_openapi::api::core::v1::Pod;
use serde::{Deserialize, Serialize};

use super::plan::ChildKind;

/// The phase of a lab whose Pod lacks one of its Service, NetworkPolicy or Ingress (deleted
/// by hand, or a create that stopped midway): the reaper recreates what is missing.
pub const DEGRADED: &str = "Degraded";

/// A lab Pod younger than this (by its `created-at`) may still be having its objects
/// created, so missing objects do not make it [`DEGRADED`] yet.
pub const CREATE_SETTLE_SECONDS: u64 = 10;

/// Set by the reaper on a lab Pod that cannot run (its value says why), so the backend and
/// operators see the failure without reading Pod statuses.
pub const FAILED_ANNOTATION: &str = "autolabs.io/failed";

/// One lab as the API answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Lab {
    pub id: String,
    pub template: String,
    /// Pending, Running, Degraded, Failed or Expiring.
    #[schemars(extend("enum" = ["Pending", "Running", "Degraded", "Failed", "Expiring"]))]
    pub phase: String,
    /// Where the student opens the lab (through ingress-nginx and the backend's auth).
    pub url: String,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC.
    pub expires_at: String,
    /// Why the lab failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// The kinds a Degraded lab lacks (Service, NetworkPolicy, Ingress).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

fn labels(pod: &Pod) -> BTreeMap<String, String> {
    pod.metadata.labels.clone().unwrap_or_default()
}

fn annotation(pod: &Pod, key: &str) -> Option<String> {
    pod.metadata.annotations.as_ref()?.get(key).cloned()
}

/// The lab a Pod stands for; `None` for a Pod that is not a lab's.
pub fn lab_of(pod: &Pod, domain: &str, now: u64) -> Option<Lab> {
    let labels = labels(pod);
    let id = lab::lab_id_of(&labels)?.to_string();
    let template = labels.get(TEMPLATE_LABEL).cloned().unwrap_or_default();
    let failure = annotation(pod, FAILED_ANNOTATION);
    let phase = match lab::phase_at(pod, now) {
        LabPhase::Expiring => LabPhase::Expiring,
        _ if failure.is_some() => LabPhase::Failed,
        other => other,
    };
    Some(Lab {
        url: format!("https://{}/", lab::lab_host(&id, domain)),
        created_at: annotation(pod, lab::CREATED_AT_ANNOTATION).unwrap_or_default(),
        expires_at: annotation(pod, lab::EXPIRES_AT_ANNOTATION).unwrap_or_default(),
        phase: phase.as_str().to_string(),
        template,
        id,
        failure,
        missing: Vec::new(),
    })
}

/// [`lab_of`] knowing which of the lab's objects are missing: a Pending or Running lab past
/// [`CREATE_SETTLE_SECONDS`] that lacks any is [`DEGRADED`] (Failed and Expiring say more).
pub fn lab_with_children(pod: &Pod, domain: &str, now: u64, missing: &[ChildKind]) -> Option<Lab> {
    let mut lab = lab_of(pod, domain, now)?;
    let age = lab::created_at(pod).map_or(u64::MAX, |created| now.saturating_sub(created));
    let live = lab.phase == LabPhase::Pending.as_str() || lab.phase == LabPhase::Running.as_str();
    if !missing.is_empty() && live && age >= CREATE_SETTLE_SECONDS {
        lab.phase = DEGRADED.to_string();
        lab.missing = missing.iter().map(|k| k.as_str().to_string()).collect();
    }
    Some(lab)
}

/// Why a Pod cannot run, for [`FAILED_ANNOTATION`]: its phase, or the waiting reason of a
/// stuck container (the reasons `autolabs_model::lab::phase` counts as failed).
pub fn failure_reason(pod: &Pod) -> String {
    let status = pod.status.as_ref();
    let waiting = status
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .find_map(|c| c.state.as_ref()?.waiting.as_ref()?.reason.clone());
    match (status.and_then(|s| s.phase.as_deref()), waiting) {
        (Some(phase @ ("Failed" | "Succeeded")), _) => {
            let reason = status.and_then(|s| s.reason.clone()).unwrap_or_default();
            if reason.is_empty() { format!("pod {phase}") } else { format!("pod {phase}: {reason}") }
        }
        (_, Some(reason)) => format!("container waiting: {reason}"),
        _ => "failed".into(),
    }
}
