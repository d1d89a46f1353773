//! Watched caches of the `labs` namespace (`kube::runtime::reflector` over `watcher`): its
//! ResourceQuotas and LimitRanges, read by every preflight without an API call; the lab
//! Pods, read by creates (is the lab there already?), the metrics and the reaper; and the
//! lab Services, NetworkPolicies and Ingresses (metadata only), which tell a `Degraded` lab
//! from a whole one. The service is ready once every cache has done its first list.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use autolabs_resources::Namespace;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{LimitRange, Pod, ResourceQuota, Service};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::task::JoinHandle;

use super::error::LabsError;
use super::plan::ChildKind;

/// How many caches must sync before the service is ready.
const CACHES: usize = 6;

/// The label selector of everything the provisioner creates.
pub const MANAGED_SELECTOR: &str = "app.kubernetes.io/managed-by=autolabs";

/// The caches and the tasks that keep them current (stopped when dropped).
pub struct LabsCache {
    quotas: Store<ResourceQuota>,
    limit_ranges: Store<LimitRange>,
    pods: Store<Pod>,
    services: Store<Service>,
    policies: Store<NetworkPolicy>,
    ingresses: Store<Ingress>,
    namespace: String,
    synced: Arc<[AtomicBool; CACHES]>,
    tasks: Vec<JoinHandle<()>>,
    /// The last [`LabsCache::namespace`] and the cached objects it was read from.
    parsed: Mutex<Option<ParsedNamespace>>,
}

struct ParsedNamespace {
    limit_ranges: Vec<Arc<LimitRange>>,
    quotas: Vec<Arc<ResourceQuota>>,
    namespace: Arc<Namespace>,
}

fn same_objects<K>(a: &[Arc<K>], b: &[Arc<K>]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(a, b)| Arc::ptr_eq(a, b))
}

impl std::fmt::Debug for LabsCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabsCache").field("synced", &self.is_synced()).finish_non_exhaustive()
    }
}

fn reflect<K>(
    api: Api<K>,
    config: watcher::Config,
    trim: fn(&mut K),
    synced: Arc<[AtomicBool; CACHES]>,
    slot: usize,
    tasks: &mut Vec<JoinHandle<()>>,
) -> Store<K>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store();
    let stream = reflector::reflector(writer, watcher(api, config).default_backoff().modify(trim));
    tasks.push(tokio::spawn(async move {
        stream.for_each(|_| futures::future::ready(())).await;
    }));
    let ready = reader.clone();
    tasks.push(tokio::spawn(async move {
        if ready.wait_until_ready().await.is_ok() {
            synced[slot].store(true, Ordering::Release);
        }
    }));
    reader
}

fn keep_all<K>(_: &mut K) {}

/// The cached lab Pods keep only what the metrics and the reaper read (labels, annotations,
/// uid, status): the spec is most of a Pod's size, and the cache holds every lab.
fn keep_metadata_and_status(pod: &mut Pod) {
    pod.spec = None;
    pod.metadata.managed_fields = None;
}

/// The cached lab children keep their metadata (name, labels, owner, deletion) only.
fn keep_service_metadata(service: &mut Service) {
    service.spec = None;
    service.status = None;
    service.metadata.managed_fields = None;
}

fn keep_policy_metadata(policy: &mut NetworkPolicy) {
    policy.spec = None;
    policy.metadata.managed_fields = None;
}

fn keep_ingress_metadata(ingress: &mut Ingress) {
    ingress.spec = None;
    ingress.status = None;
    ingress.metadata.managed_fields = None;
}

impl LabsCache {
    /// Starts watching `namespace`. Must be called inside a tokio runtime.
    pub fn start(client: kube::Client, namespace: &str) -> LabsCache {
        let synced: Arc<[AtomicBool; CACHES]> = Arc::new(std::array::from_fn(|_| AtomicBool::new(false)));
        let children = || watcher::Config::default().labels(MANAGED_SELECTOR);
        let mut tasks = Vec::new();
        let quotas = reflect(
            Api::namespaced(client.clone(), namespace),
            watcher::Config::default(),
            keep_all,
            Arc::clone(&synced),
            0,
            &mut tasks,
        );
        let limit_ranges = reflect(
            Api::namespaced(client.clone(), namespace),
            watcher::Config::default(),
            keep_all,
            Arc::clone(&synced),
            1,
            &mut tasks,
        );
        let pods = reflect(
            Api::namespaced(client.clone(), namespace),
            watcher::Config::default().labels(MANAGED_SELECTOR),
            keep_metadata_and_status,
            Arc::clone(&synced),
            2,
            &mut tasks,
        );
        let services = reflect(
            Api::namespaced(client.clone(), namespace),
            children(),
            keep_service_metadata,
            Arc::clone(&synced),
            3,
            &mut tasks,
        );
        let policies = reflect(
            Api::namespaced(client.clone(), namespace),
            children(),
            keep_policy_metadata,
            Arc::clone(&synced),
            4,
            &mut tasks,
        );
        let ingresses = reflect(
            Api::namespaced(client, namespace),
            children(),
            keep_ingress_metadata,
            Arc::clone(&synced),
            5,
            &mut tasks,
        );
        LabsCache {
            quotas,
            limit_ranges,
            pods,
            services,
            policies,
            ingresses,
            namespace: namespace.to_string(),
            synced,
            tasks,
            parsed: Mutex::new(None),
        }
    }

    /// Whether every cache has done its first list.
    pub fn is_synced(&self) -> bool {
        self.synced.iter().all(|s| s.load(Ordering::Acquire))
    }

    /// Waits until [`is_synced`](Self::is_synced), at most `timeout`.
    pub async fn wait_synced(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while !self.is_synced() {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }

    /// The namespace's LimitRanges and ResourceQuotas as the admission engine reads them,
    /// parsed again only when the watched objects changed (the reflector replaces an
    /// object's `Arc` on every event, so the same pointers mean the same objects).
    pub fn namespace(&self) -> Result<Arc<Namespace>, LabsError> {
        if !self.is_synced() {
            return Err(LabsError::NotReady);
        }
        let limit_ranges = self.limit_ranges.state();
        let quotas = self.quotas.state();
        let mut parsed = self.parsed.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(known) = parsed.as_ref()
            && same_objects(&known.limit_ranges, &limit_ranges)
            && same_objects(&known.quotas, &quotas)
        {
            return Ok(Arc::clone(&known.namespace));
        }
        let typed_limit_ranges: Vec<LimitRange> = limit_ranges.iter().map(|l| (**l).clone()).collect();
        let typed_quotas: Vec<ResourceQuota> = quotas.iter().map(|q| (**q).clone()).collect();
        let namespace = Arc::new(
            Namespace::from_k8s(&typed_limit_ranges, &typed_quotas)
                .map_err(|e| LabsError::Namespace(e.to_string()))?,
        );
        *parsed = Some(ParsedNamespace { limit_ranges, quotas, namespace: Arc::clone(&namespace) });
        Ok(namespace)
    }

    /// The cached lab Pod named `name` (metadata and status only).
    pub fn pod(&self, name: &str) -> Option<Arc<Pod>> {
        self.pods.get(&reflector::ObjectRef::new(name).within(&self.namespace))
    }

    /// The cached objects named `name` of each child kind that exist and are not being
    /// deleted (metadata only), for [`super::plan::missing_children`].
    pub fn children(&self, name: &str) -> Vec<(ChildKind, ObjectMeta)> {
        let mut found = Vec::new();
        let mut keep = |kind, meta: &ObjectMeta| {
            if meta.deletion_timestamp.is_none() {
                found.push((kind, meta.clone()));
            }
        };
        if let Some(o) = self.services.get(&reflector::ObjectRef::new(name).within(&self.namespace)) {
            keep(ChildKind::Service, &o.metadata);
        }
        if let Some(o) = self.policies.get(&reflector::ObjectRef::new(name).within(&self.namespace)) {
            keep(ChildKind::NetworkPolicy, &o.metadata);
        }
        if let Some(o) = self.ingresses.get(&reflector::ObjectRef::new(name).within(&self.namespace)) {
            keep(ChildKind::Ingress, &o.metadata);
        }
        found
    }

    /// The cached lab Pods: metadata and status only (no `spec`).
    pub fn pods(&self) -> Vec<Arc<Pod>> {
        self.pods.state()
    }
}

impl Drop for LabsCache {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
