//! Pure decisions over live lab objects: when a lab expires, whether it may be extended, what
//! phase it is in, and whether an object belongs to a lab at all. The provisioner and the
//! reaper call these with objects read from the API server and the current time.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;

use super::error::LabError;
use super::request::check_lab_id;
use super::time::{MAX_TIMESTAMP, format_rfc3339, parse_rfc3339};
use super::{CREATED_AT_ANNOTATION, EXPIRES_AT_ANNOTATION, LAB_ID_LABEL, TTL_SECONDS_ANNOTATION};
use crate::topology::MANAGED_BY;

/// Where a lab is in its life, as the backend shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LabPhase {
    /// Scheduled or starting, not ready yet.
    Pending,
    /// Running and passing its readiness probe.
    Running,
    /// Cannot run: the Pod failed, or its container cannot start (bad image, crash loop).
    Failed,
    /// Being deleted (or, from [`phase_at`], past its expiry).
    Expiring,
}

impl LabPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            LabPhase::Pending => "Pending",
            LabPhase::Running => "Running",
            LabPhase::Failed => "Failed",
            LabPhase::Expiring => "Expiring",
        }
    }
}

fn annotation<'a>(pod: &'a Pod, key: &str) -> Option<&'a str> {
    pod.metadata.annotations.as_ref()?.get(key).map(String::as_str)
}

/// When the lab was created (`autolabs.io/created-at`).
pub fn created_at(pod: &Pod) -> Option<u64> {
    parse_rfc3339(annotation(pod, CREATED_AT_ANNOTATION)?)
}

/// When the lab expires (`autolabs.io/expires-at`); `None` when the annotation is missing or
/// unreadable.
pub fn expires_at(pod: &Pod) -> Option<u64> {
    parse_rfc3339(annotation(pod, EXPIRES_AT_ANNOTATION)?)
}

/// Whether the lab's time is up at `now`. A Pod without a readable expiry is never expired
/// here: whether to remove such a Pod is the reaper's separate decision.
pub fn is_expired(pod: &Pod, now: u64) -> bool {
    expires_at(pod).is_some_and(|e| e <= now)
}

/// The new expiry after extending by `extra` seconds: the current expiry plus `extra`, never
/// past created-at + `max_ttl` (the template's `ttl.max`). An expired lab cannot be extended.
pub fn extend(pod: &Pod, extra: u64, max_ttl: u64, now: u64) -> Result<u64, LabError> {
    if extra == 0 {
        return Err(LabError::TtlZero);
    }
    let (Some(created), Some(current)) = (created_at(pod), expires_at(pod)) else {
        return Err(LabError::NoExpiry);
    };
    if current <= now {
        return Err(LabError::Expired { expired_at: current });
    }
    let max_until = created.saturating_add(max_ttl).min(MAX_TIMESTAMP);
    let requested_until = current.saturating_add(extra);
    if requested_until > max_until {
        return Err(LabError::ExtendBeyondMax { requested_until, max_until });
    }
    Ok(requested_until)
}

/// The annotations to merge into the Pod after [`extend`] (expiry and the TTL it now has).
pub fn expiry_annotations(pod: &Pod, new_expiry: u64) -> Result<BTreeMap<String, String>, LabError> {
    let created = created_at(pod).ok_or(LabError::NoExpiry)?;
    let text = format_rfc3339(new_expiry).ok_or(LabError::TimeOutOfRange { seconds: new_expiry })?;
    Ok(BTreeMap::from([
        (EXPIRES_AT_ANNOTATION.to_string(), text),
        (TTL_SECONDS_ANNOTATION.to_string(), new_expiry.saturating_sub(created).to_string()),
    ]))
}

/// Waiting reasons of a container that will not start without a change (kubelet's
/// `pkg/kubelet/images` and `pkg/kubelet/kuberuntime` reasons).
const STUCK_REASONS: [&str; 8] = [
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "ErrImageNeverPull",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

/// The lab's phase from its Pod: Expiring once deletion started, Failed when the Pod failed
/// or its container is stuck, Running when Ready, Pending otherwise. Pod phases and the
/// Ready condition are `k8s.io/api/core/v1` PodPhase / PodReady as the kubelet reports them.
pub fn phase(pod: &Pod) -> LabPhase {
    if pod.metadata.deletion_timestamp.is_some() {
        return LabPhase::Expiring;
    }
    let Some(status) = &pod.status else {
        return LabPhase::Pending;
    };
    // restartPolicy Always never ends a lab Pod with Succeeded; if it does, the lab is gone.
    if matches!(status.phase.as_deref(), Some("Failed" | "Succeeded")) {
        return LabPhase::Failed;
    }
    let stuck = status.container_statuses.iter().flatten().any(|c| {
        c.state
            .as_ref()
            .and_then(|s| s.waiting.as_ref())
            .and_then(|w| w.reason.as_deref())
            .is_some_and(|r| STUCK_REASONS.contains(&r))
    });
    if stuck {
        return LabPhase::Failed;
    }
    let ready = status.conditions.iter().flatten().any(|c| c.type_ == "Ready" && c.status == "True");
    if status.phase.as_deref() == Some("Running") && ready { LabPhase::Running } else { LabPhase::Pending }
}

/// [`phase`], with a lab past its expiry reported as Expiring before the reaper deletes it.
pub fn phase_at(pod: &Pod, now: u64) -> LabPhase {
    if is_expired(pod, now) { LabPhase::Expiring } else { phase(pod) }
}

/// The lab id of an object autolabs created for a lab: managed by autolabs and labelled with
/// a valid lab id.
pub fn lab_id_of(labels: &BTreeMap<String, String>) -> Option<&str> {
    if labels.get(MANAGED_BY.0).map(String::as_str) != Some(MANAGED_BY.1) {
        return None;
    }
    let id = labels.get(LAB_ID_LABEL)?;
    check_lab_id(id).is_ok().then_some(id.as_str())
}

/// Whether an object belongs to a lab (so the provisioner and reaper may manage it).
pub fn is_lab_object(labels: &BTreeMap<String, String>) -> bool {
    lab_id_of(labels).is_some()
}
