//! Shared setup of the provisioner tests: a fake API server seeded with the rendered `labs`
//! namespace (Pod Security labels, ResourceQuota, LimitRange), the shipped templates, and a
//! provisioner whose clock the test moves.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use autolabs_fake::{FakeApiServer, FakeConfig, KubeletConfig, StoreSnapshot};
use autolabs_kube::labs::{Backoff, Metrics, Provisioner, ProvisionerConfig};
use autolabs_model::Platform;
use autolabs_model::lab::{LabRequest, Templates};
use serde_json::Value;

/// 2026-01-01T00:00:00Z.
pub const T0: u64 = 1_767_225_600;

pub struct Env {
    pub server: FakeApiServer,
    pub provisioner: Provisioner,
    pub clock: Arc<AtomicU64>,
}

impl Env {
    /// Moves the provisioner's clock forward.
    pub fn advance(&self, seconds: u64) {
        self.clock.fetch_add(seconds, Ordering::SeqCst);
    }

    pub fn now(&self) -> u64 {
        self.clock.load(Ordering::SeqCst)
    }

    /// Every lab object in the store: `(plural, name)` of the four kinds.
    pub fn lab_objects(&self) -> Vec<(String, String)> {
        let snapshot = self.server.snapshot();
        lab_objects(&snapshot)
    }
}

pub fn lab_objects(snapshot: &StoreSnapshot) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for plural in ["pods", "services", "networkpolicies", "ingresses"] {
        for object in snapshot.of(plural) {
            if object.pointer("/metadata/labels/autolabs.io~1lab-id").is_some() {
                let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string();
                out.push((plural.to_string(), name));
            }
        }
    }
    out
}

/// The shipped `templates/` of the repository.
pub fn templates(platform: &Platform) -> Templates {
    autolabs_model::lab::shipped_templates(platform).expect("shipped templates load")
}

/// Stores the rendered `labs` Namespace, ResourceQuota and LimitRange, and the PriorityClasses.
pub fn seed_labs_namespace(server: &FakeApiServer, platform: &Platform) {
    for manifest in autolabs_model::render(platform).manifests {
        let in_labs = manifest.namespace.as_deref() == Some("labs")
            || (manifest.kind == "Namespace" && manifest.name == "labs");
        let wanted = (in_labs
            && matches!(manifest.kind.as_str(), "Namespace" | "ResourceQuota" | "LimitRange"))
            || manifest.kind == "PriorityClass";
        if wanted {
            server.apply_object(manifest.value).expect("seed");
        }
    }
}

pub fn fast_backoff() -> Backoff {
    Backoff {
        base: Duration::from_millis(1),
        max: Duration::from_millis(10),
        deadline: Duration::from_millis(500),
    }
}

pub async fn env() -> Env {
    env_with(FakeConfig { kubelet: Some(KubeletConfig::default()), ..FakeConfig::default() }, fast_backoff())
        .await
}

pub async fn env_with(config: FakeConfig, backoff: Backoff) -> Env {
    let server = FakeApiServer::start(config).await.expect("fake server starts");
    let platform = Platform::default();
    seed_labs_namespace(&server, &platform);
    let client = server.client_without_retries().expect("client");
    let provisioner = provisioner_for(client, &platform, backoff, Arc::new(AtomicU64::new(T0)));
    let clock = provisioner.1;
    let provisioner = provisioner.0;
    assert!(provisioner.wait_synced(Duration::from_secs(5)).await, "caches sync");
    Env { server, provisioner, clock }
}

/// A provisioner on `client` with the shipped templates and a movable clock.
pub fn provisioner_for(
    client: kube::Client,
    platform: &Platform,
    backoff: Backoff,
    clock: Arc<AtomicU64>,
) -> (Provisioner, Arc<AtomicU64>) {
    let mut config = ProvisionerConfig::new(platform.clone(), templates(platform));
    config.backoff = backoff;
    config.incomplete_grace = Duration::from_secs(60);
    let read = Arc::clone(&clock);
    config.clock = Arc::new(move || read.load(Ordering::SeqCst));
    let provisioner = Provisioner::new(client, config, Metrics::new()).expect("templates pass the checks");
    (provisioner, clock)
}

pub fn request(id: &str, template: &str) -> LabRequest {
    LabRequest { id: id.into(), template: template.into(), ttl_seconds: None }
}

/// Waits until the quota cache shows `pods` used = `expected` (the watch is asynchronous).
pub async fn wait_for<F: Fn() -> bool>(condition: F) {
    for _ in 0..400 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("condition not reached in 2 s");
}

/// Every lab Pod has its Service, NetworkPolicy and Ingress owned by its uid, and every such
/// object has its Pod: no orphan, no half-made lab. Returns the lab ids.
pub fn assert_complete_bundles(snapshot: &StoreSnapshot) -> Vec<String> {
    let text = |v: &Value, p: &str| v.pointer(p).and_then(Value::as_str).unwrap_or("").to_string();
    let mut ids = Vec::new();
    let mut pod_uids = std::collections::BTreeMap::new();
    for pod in snapshot.of("pods") {
        let id = text(pod, "/metadata/labels/autolabs.io~1lab-id");
        if id.is_empty() {
            continue;
        }
        pod_uids.insert(text(pod, "/metadata/name"), text(pod, "/metadata/uid"));
        ids.push(id);
    }
    for (name, uid) in &pod_uids {
        for plural in ["services", "networkpolicies", "ingresses"] {
            let child =
                snapshot.get(plural, "labs", name).unwrap_or_else(|| panic!("{plural}/{name} missing"));
            assert_eq!(&text(child, "/metadata/ownerReferences/0/uid"), uid, "{plural}/{name} owner");
        }
    }
    for plural in ["services", "networkpolicies", "ingresses"] {
        for child in snapshot.of(plural) {
            if child.pointer("/metadata/labels/autolabs.io~1lab-id").is_none() {
                continue;
            }
            let name = text(child, "/metadata/name");
            assert!(pod_uids.contains_key(&name), "{plural}/{name} is an orphan");
        }
    }
    ids.sort();
    ids
}
