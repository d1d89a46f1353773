//! The kubelet stand-in: what a node would report about pods, without running anything.
//!
//! With [`KubeletConfig`] set, the fake has one Ready node, and each created pod is bound to it
//! and moved to `Running` after `start_delay`, with a pod IP, Ready conditions and running
//! container statuses, each step a MODIFIED event like the real status updates. Nothing is
//! scheduled against the node's capacity.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};

use super::Shared;
use super::resources;
use super::status::Status;
use super::store::now_rfc3339;

/// Makes created pods Running after a delay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeletConfig {
    /// Time between the pod's creation and it running.
    pub start_delay: Duration,
    /// The node's name, and `spec.nodeName` of the pods.
    pub node_name: String,
    /// The node's cpu capacity (a quantity).
    pub node_cpu: String,
    /// The node's memory capacity (a quantity).
    pub node_memory: String,
    pub max_pods: u32,
}

impl Default for KubeletConfig {
    /// The document's single MVP node: 8 vCPU, 16 GiB.
    fn default() -> Self {
        KubeletConfig {
            start_delay: Duration::from_millis(20),
            node_name: "fake-node".into(),
            node_cpu: "8".into(),
            node_memory: "16Gi".into(),
            max_pods: 110,
        }
    }
}

impl KubeletConfig {
    /// The Node object this kubelet registers.
    pub(crate) fn node(&self) -> Value {
        let resources =
            json!({"cpu": self.node_cpu, "memory": self.node_memory, "pods": self.max_pods.to_string()});
        json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": self.node_name, "labels": {
                "kubernetes.io/hostname": self.node_name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}},
            "status": {
                "capacity": resources,
                "allocatable": resources,
                "addresses": [{"type": "InternalIP", "address": "10.0.0.10"}, {"type": "Hostname", "address": self.node_name}],
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status"}],
            }
        })
    }
}

fn pods() -> Option<&'static resources::ResourceType> {
    resources::find("", "v1", "pods")
}

pub(crate) fn schedule_start(shared: Arc<Shared>, pod: &Value) {
    let Some(config) = shared.kubelet.clone() else { return };
    let text = |p: &str| pod.pointer(p).and_then(Value::as_str).unwrap_or("").to_string();
    let (namespace, name, uid) = (text("/metadata/namespace"), text("/metadata/name"), text("/metadata/uid"));
    tokio::spawn(async move {
        tokio::time::sleep(config.start_delay).await;
        let Some(pods) = pods() else { return };
        let ip = pod_ip(&shared);
        let mut store = shared.lock();
        let _ = store.modify_status(pods, &namespace, &name, |pod| {
            let same_pod = pod.pointer("/metadata/uid").and_then(Value::as_str) == Some(uid.as_str());
            let pending = pod.pointer("/status/phase").and_then(Value::as_str).is_none_or(|p| p == "Pending");
            if same_pod && pending && pod.pointer("/metadata/deletionTimestamp").is_none() {
                pod["spec"]["nodeName"] = json!(config.node_name);
                run(pod, &ip);
            }
        });
    });
}

fn pod_ip(shared: &Shared) -> String {
    let n = shared.next_pod_ip.fetch_add(1, Ordering::Relaxed);
    format!("10.244.{}.{}", (n / 250) % 256, n % 250 + 2)
}

/// Marks every container running and the pod Running and Ready.
fn run(pod: &mut Value, ip: &str) {
    let now = now_rfc3339();
    let statuses: Vec<Value> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| {
            json!({
                "name": c.get("name").cloned().unwrap_or(json!("")),
                "image": c.get("image").cloned().unwrap_or(json!("")),
                "imageID": "",
                "ready": true,
                "started": true,
                "restartCount": 0,
                "state": {"running": {"startedAt": now}},
            })
        })
        .collect();
    let qos = pod.pointer("/status/qosClass").cloned().unwrap_or(json!("BestEffort"));
    pod["status"] = json!({
        "phase": "Running",
        "qosClass": qos,
        "hostIP": "10.0.0.10",
        "hostIPs": [{"ip": "10.0.0.10"}],
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "startTime": now,
        "conditions": conditions("True", &now),
        "containerStatuses": statuses,
    });
}

fn conditions(ready: &str, now: &str) -> Value {
    json!([
        {"type": "PodReadyToStartContainers", "status": "True", "lastTransitionTime": now},
        {"type": "Initialized", "status": "True", "lastTransitionTime": now},
        {"type": "Ready", "status": ready, "lastTransitionTime": now},
        {"type": "ContainersReady", "status": ready, "lastTransitionTime": now},
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
    ])
}

/// Sets the phase a test asks for; Running also gets an IP and Ready, any other phase is not Ready.
pub(crate) fn set_phase(shared: &Shared, namespace: &str, name: &str, phase: &str) -> Result<Value, Status> {
    const PHASES: [&str; 5] = ["Pending", "Running", "Succeeded", "Failed", "Unknown"];
    if !PHASES.contains(&phase) {
        return Err(Status::bad_request(format!(
            "unknown pod phase {phase:?}: supported values: Pending, Running, Succeeded, Failed, Unknown"
        )));
    }
    let pods = pods().ok_or_else(Status::no_such_path)?;
    let ip = pod_ip(shared);
    let mut store = shared.lock();
    store.modify_status(pods, namespace, name, |pod| {
        if phase == "Running" {
            if pod.pointer("/status/podIP").is_none() {
                run(pod, &ip);
            }
            pod["status"]["phase"] = json!("Running");
            pod["status"]["conditions"] = conditions("True", &now_rfc3339());
        } else {
            if !pod.get("status").is_some_and(Value::is_object) {
                pod["status"] = json!({});
            }
            pod["status"]["phase"] = json!(phase);
            pod["status"]["conditions"] = conditions("False", &now_rfc3339());
        }
    })
}
