//! An in-process fake Kubernetes API server: a **test double**, never a cluster.
//!
//! [`FakeApiServer::start`] listens on `127.0.0.1` (a random port) and serves the real
//! Kubernetes REST protocol, so a `kube::Client` from [`FakeApiServer::client`] works with
//! it exactly as with kube-apiserver: typed `kube::Api<K>`, `kube::runtime::watcher`,
//! `kube::discovery`, server-side apply, dry runs.
//!
//! # Model
//!
//! - **Resources** come from one table ([`resources::RESOURCES`]; a new kind is one line):
//!   core namespaces, nodes, pods, services, quotas, limit ranges, events, config maps,
//!   secrets, service accounts, claims; NetworkPolicy and Ingress; RBAC; apps and batch
//!   workloads; priority and storage classes; PodDisruptionBudgets, HPAs, Leases and
//!   `events.k8s.io` Events. Discovery (`/api`, `/apis`, `/apis/{group}[/{version}]`, and
//!   aggregated discovery v2), `/version`, `/healthz`, `/readyz`, `/livez`.
//! - **Storage** is etcd-like: one global, increasing resourceVersion; lists in key order with
//!   `limit`/`continue`; a bounded change history that watches replay (410 Expired beyond it,
//!   or after [`FakeApiServer::compact_history`]); optimistic concurrency; no-op writes keep
//!   the resourceVersion; status subresources; finalizers; ownerReference cascades
//!   (background, foreground, orphan) done at once; API defaulting on every write.
//! - **Server-side apply** merges the applied configuration into the live object and removes
//!   only what the same field manager stopped applying, so fields set by defaulting, admission
//!   or other writers survive a re-apply (see `apply.rs`).
//! - **Admission** is pluggable ([`Admission`]); by default LimitRanger, PodSecurity,
//!   Priority and ResourceQuota, adapters over `autolabs-resources` and `autolabs-pss`.
//!   Quotas' `status.used` is kept current on every write, as the quota controller would.
//! - **Errors** are `metav1.Status` objects worded as upstream words them ([`Status`]).
//! - **Faults** ([`Faults`]) are deterministic: seeded error rates per verb and resource
//!   (429 with Retry-After, 500, 503, 409), latency, watch drops; changeable at run time.
//! - A **kubelet stand-in** ([`KubeletConfig`]) registers a node and moves new pods to
//!   Running after a delay; [`FakeApiServer::set_pod_phase`] sets any phase.
//!
//! - **kubectl** works against it (`tests/kubectl_fake.rs` runs the real client): an OpenAPI
//!   v3 index and per-group documents with permissive schemas, enough for kubectl's
//!   client-side validation (`openapi.rs`), an empty OpenAPI v2 for older kubectl, and
//!   protobuf request bodies for the kinds `kubectl create …` and `kubectl auth can-i` send
//!   (`protobuf.rs`).
//!
//! What it does not do: authentication and authorization (every request is allowed, as for
//! `kubernetes-admin`; SubjectAccessReviews and SelfSubjectAccessReviews are answered by
//! [`FakeConfig::authorizer`], see [`authz`]); rejecting unknown fields (`fieldValidation`
//! is accepted and ignored; unknown fields are dropped); managed fields and apply conflicts
//! between managers; strategic merge patch by merge keys (served as a JSON merge patch);
//! graceful pod termination (deletes are immediate); consistent snapshots for paginated
//! lists (later pages show the current state); protobuf bodies beyond those kinds, protobuf
//! responses and table output; subresources other than `status` (no `log`, `exec`, `scale`,
//! `eviction`, `binding`); scheduling; controllers other than the quota controller and the
//! garbage collector (no Deployment → Pod, no Job → Pod, no ServiceAccount tokens).

mod admission;
mod apply;
pub mod authz;
mod defaults;
mod faults;
mod http;
mod inputs;
mod kubelet;
mod openapi;
mod patch;
mod protobuf;
mod quota;
pub mod resources;
mod selectors;
mod status;
mod store;
mod validation;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU32;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use admission::{
    Admission, AdmissionCtx, LimitRanger, Operation, ParsedInputs, PodSecurity, Priority,
    ResourceQuotaAdmission, default_plugins,
};
pub use authz::{OverridingAuthorizer, RbacReviewAuthorizer, ReviewAuthorizer, ReviewDecision};
pub use faults::{FaultConfig, FaultRule, Faults, InjectedError, Verb};
pub use kubelet::KubeletConfig;
pub use resources::ResourceType;
pub use selectors::{FieldQuery, LabelQuery};
pub use status::{Status, StatusCause, StatusDetails, StatusReason};

use crate::KubeError;
use store::{Store, StoreSettings};

/// How to start a [`FakeApiServer`].
#[derive(Clone)]
pub struct FakeConfig {
    /// Port on `127.0.0.1`; 0 picks a free one (what tests want).
    pub port: u16,
    /// Seed of every "random" choice (uids, generated names, fault rolls).
    pub seed: u64,
    pub faults: FaultConfig,
    /// Move new pods to Running (see [`KubeletConfig`]); `None` leaves them Pending.
    pub kubelet: Option<KubeletConfig>,
    /// Admission plugins, run in order on creates and updates.
    pub admission: Vec<Arc<dyn Admission>>,
    /// Keep every ResourceQuota's `status.used` current (the quota controller's job).
    pub quota_accounting: bool,
    /// How many changes watches can replay (older resourceVersions get 410).
    pub watch_history: usize,
    /// How often watches that allow bookmarks get one.
    pub bookmark_interval: Duration,
    /// Watch length when the client gives no `timeoutSeconds`.
    pub watch_timeout: Duration,
    /// Create what every cluster has at start: the `default`, `kube-system`, `kube-public` and
    /// `kube-node-lease` namespaces and the `system-*-critical` PriorityClasses.
    pub default_namespaces: bool,
    /// Larger request bodies get 413 (kube-apiserver's limit is 3 MiB).
    pub max_request_body: usize,
    /// Answers SubjectAccessReviews ([`authz`]); `None`: every review is allowed, as every
    /// request to the fake is.
    pub authorizer: Option<Arc<dyn ReviewAuthorizer>>,
}

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig {
            port: 0,
            seed: 1,
            faults: FaultConfig::none(),
            kubelet: None,
            admission: default_plugins(),
            quota_accounting: true,
            watch_history: 10_000,
            bookmark_interval: Duration::from_secs(1),
            watch_timeout: Duration::from_secs(1800),
            default_namespaces: true,
            max_request_body: 3 * 1024 * 1024,
            authorizer: None,
        }
    }
}

impl std::fmt::Debug for FakeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeConfig")
            .field("seed", &self.seed)
            .field("faults", &self.faults)
            .field("kubelet", &self.kubelet)
            .field("admission", &self.admission.iter().map(|a| a.name().to_string()).collect::<Vec<_>>())
            .field("quota_accounting", &self.quota_accounting)
            .field("watch_history", &self.watch_history)
            .field("bookmark_interval", &self.bookmark_interval)
            .field("authorizer", &self.authorizer.as_ref().map(|a| a.name().to_string()))
            .finish_non_exhaustive()
    }
}

/// State shared by the request handlers, watch streams and the kubelet stand-in.
pub(crate) struct Shared {
    store: Mutex<Store>,
    changes: watch::Receiver<u64>,
    shutdown: watch::Sender<bool>,
    disconnect: watch::Sender<u64>,
    faults: Faults,
    address: SocketAddr,
    bookmark_interval: Duration,
    watch_timeout: Duration,
    max_request_body: usize,
    kubelet: Option<KubeletConfig>,
    authorizer: Option<Arc<dyn ReviewAuthorizer>>,
    next_pod_ip: AtomicU32,
    /// `"<verb> <resource>"` → requests served, for tests that count API calls.
    requests: Mutex<BTreeMap<String, u64>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn count_request(&self, verb: Verb, resource: &ResourceType) {
        let key = if resource.group.is_empty() {
            format!("{} {}", verb.as_str(), resource.plural)
        } else {
            format!("{} {}.{}", verb.as_str(), resource.plural, resource.group)
        };
        *self.requests.lock().unwrap_or_else(|p| p.into_inner()).entry(key).or_default() += 1;
    }

    /// Hooks that run after an object was created for real (not a dry run).
    fn after_create(self: &Arc<Self>, resource: &ResourceType, object: &Value) {
        if resource.plural == "pods" && resource.group.is_empty() && self.kubelet.is_some() {
            kubelet::schedule_start(Arc::clone(self), object);
        }
    }
}

/// A snapshot of every stored object, for assertions.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreSnapshot {
    /// The revision the snapshot was taken at.
    pub resource_version: u64,
    /// `(plural, namespace, name)` → object; namespace empty for cluster-scoped objects.
    pub objects: BTreeMap<(String, String, String), Value>,
}

impl StoreSnapshot {
    /// The object of this resource (plural), namespace (empty if cluster-scoped) and name.
    pub fn get(&self, plural: &str, namespace: &str, name: &str) -> Option<&Value> {
        self.objects.get(&(plural.to_string(), namespace.to_string(), name.to_string()))
    }

    /// Every object of a resource (plural), in key order.
    pub fn of(&self, plural: &str) -> Vec<&Value> {
        self.objects.iter().filter(|((p, _, _), _)| p == plural).map(|(_, v)| v).collect()
    }
}

/// A running fake API server. Dropping it stops it; [`FakeApiServer::shutdown`] also waits.
pub struct FakeApiServer {
    shared: Arc<Shared>,
    task: Option<JoinHandle<()>>,
}

impl FakeApiServer {
    /// Starts a server on `127.0.0.1` at a free port.
    pub async fn start(config: FakeConfig) -> Result<FakeApiServer, KubeError> {
        let wanted = format!("127.0.0.1:{}", config.port);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port))
            .await
            .map_err(|source| KubeError::Bind { address: wanted.clone(), source })?;
        let address = listener.local_addr().map_err(|source| KubeError::Bind { address: wanted, source })?;
        let (notify, changes) = watch::channel(0u64);
        let store = Store::new(
            StoreSettings {
                history_limit: config.watch_history,
                seed: config.seed,
                admission: config.admission.clone(),
                quota_accounting: config.quota_accounting,
            },
            notify,
        );
        let (shutdown, _) = watch::channel(false);
        let (disconnect, _) = watch::channel(0u64);
        let shared = Arc::new(Shared {
            store: Mutex::new(store),
            changes,
            shutdown,
            disconnect,
            faults: Faults::new(config.faults.clone()),
            address,
            bookmark_interval: config.bookmark_interval.max(Duration::from_millis(10)),
            watch_timeout: config.watch_timeout,
            max_request_body: config.max_request_body,
            kubelet: config.kubelet.clone(),
            authorizer: config.authorizer.clone(),
            next_pod_ip: AtomicU32::new(0),
            requests: Mutex::new(BTreeMap::new()),
        });
        if config.default_namespaces {
            let mut store = shared.lock();
            for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
                store
                    .seed(serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
                    .map_err(|status| KubeError::Refused { what: format!("namespace {name}"), status })?;
            }
            // k8s.io/kubernetes/pkg/apis/scheduling/types.go SystemPriorityClasses (bootstrapped by the API server)
            for (name, value) in
                [("system-node-critical", 2_000_001_000), ("system-cluster-critical", 2_000_000_000)]
            {
                store
                    .seed(serde_json::json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                        "metadata": {"name": name}, "value": value,
                        "description": "Used for system critical pods that must not be moved from their current node."}))
                    .map_err(|status| KubeError::Refused { what: format!("priority class {name}"), status })?;
            }
        }
        if let Some(kubelet) = &config.kubelet {
            let node = kubelet.node();
            shared.lock().seed(node).map_err(|status| KubeError::Refused {
                what: format!("node {}", kubelet.node_name),
                status,
            })?;
        }
        let router = axum::Router::new().fallback(http::handle).with_state(Arc::clone(&shared));
        let mut stop = shared.shutdown.subscribe();
        // Small JSON answers must not wait for Nagle's algorithm (40 ms per request otherwise).
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
            });
            let _ = serve.await;
        });
        Ok(FakeApiServer { shared, task: Some(task) })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.shared.address)
    }

    pub fn address(&self) -> SocketAddr {
        self.shared.address
    }

    /// A `kube::Config` for this server: its URL, no TLS, no credentials, namespace `default`,
    /// and kube's default retries of 429/503/504.
    pub fn client_config(&self) -> Result<kube::Config, KubeError> {
        let url = self.url();
        let uri = url.parse().map_err(|e: ::http::uri::InvalidUri| KubeError::Client {
            url: url.clone(),
            source: kube::Error::Service(Box::new(e)),
        })?;
        Ok(kube::Config::new(uri))
    }

    /// A client as production code builds one (kube's default retries of 429/503/504 on).
    pub fn client(&self) -> Result<kube::Client, KubeError> {
        self.build_client(self.client_config()?)
    }

    /// A client that does not retry, so every injected fault reaches the caller.
    pub fn client_without_retries(&self) -> Result<kube::Client, KubeError> {
        let mut config = self.client_config()?;
        config.default_retry = false;
        self.build_client(config)
    }

    fn build_client(&self, config: kube::Config) -> Result<kube::Client, KubeError> {
        kube::Client::try_from(config).map_err(|source| KubeError::Client { url: self.url(), source })
    }

    /// A kubeconfig (YAML) whose current context points at this server without credentials,
    /// for tools run against the sandbox.
    pub fn kubeconfig(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: autolabs-fake\n  cluster:\n    server: {}\n\
             users:\n- name: autolabs-fake\n  user: {{}}\ncontexts:\n- name: autolabs-fake\n  context:\n    \
             cluster: autolabs-fake\n    user: autolabs-fake\n    namespace: default\ncurrent-context: autolabs-fake\n",
            self.url()
        )
    }

    /// The live fault settings.
    pub fn faults(&self) -> Faults {
        self.shared.faults.clone()
    }

    /// Stores an object as an admin or controller would: no validation or admission, status
    /// kept; create or replace. Its namespace must exist.
    pub fn apply_object(&self, object: Value) -> Result<Value, KubeError> {
        let what = describe(&object);
        self.shared.lock().seed(object).map_err(|status| KubeError::Refused { what, status })
    }

    /// [`apply_object`](Self::apply_object) for every document of a YAML stream, in order
    /// (`List` documents are unpacked).
    pub fn apply_yaml(&self, text: &str) -> Result<Vec<Value>, KubeError> {
        let mut stored = Vec::new();
        for document in autolabs_k8s::yaml::parse_stream(text) {
            let document = document
                .map_err(|e| KubeError::Yaml { location: format!("line {}", e.pos), message: e.message })?;
            if document.value.is_null() {
                continue;
            }
            let is_list =
                document.value.get("kind").and_then(Value::as_str).is_some_and(|k| k.ends_with("List"));
            let items = match document.value.get("items").and_then(Value::as_array) {
                Some(items) if is_list => items.clone(),
                _ => vec![document.value.clone()],
            };
            for item in items {
                let what = format!("{} (document at line {})", describe(&item), document.line);
                stored.push(
                    self.shared.lock().seed(item).map_err(|status| KubeError::Refused { what, status })?,
                );
            }
        }
        Ok(stored)
    }

    /// Every stored object.
    pub fn snapshot(&self) -> StoreSnapshot {
        let store = self.shared.lock();
        StoreSnapshot {
            resource_version: store.revision(),
            objects: store
                .objects()
                .map(|(k, v)| ((k.plural.to_string(), k.namespace.clone(), k.name.clone()), (**v).clone()))
                .collect(),
        }
    }

    /// How many API requests were made, by `"<verb> <resource>[.<group>]"` (e.g.
    /// `"create pods"`, `"list deployments.apps"`), injected failures included.
    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        self.shared.requests.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The current global resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.shared.lock().revision()
    }

    /// Forgets the change history, as an etcd compaction: watches resuming from an older
    /// resourceVersion then get 410 Expired and must relist.
    pub fn compact_history(&self) {
        self.shared.lock().compact();
    }

    /// Closes every open watch connection (clients reconnect from their last resourceVersion).
    pub fn disconnect_watches(&self) {
        self.shared.disconnect.send_modify(|generation| *generation += 1);
    }

    /// Sets a pod's `status.phase` (and its Ready condition) as the kubelet would report it.
    pub fn set_pod_phase(&self, namespace: &str, name: &str, phase: &str) -> Result<Value, KubeError> {
        kubelet::set_phase(&self.shared, namespace, name, phase)
            .map_err(|status| KubeError::Refused { what: format!("pod {namespace}/{name}"), status })
    }

    /// Stops serving, ends every watch, and waits (briefly) for the server task.
    pub async fn shutdown(mut self) {
        self.shared.shutdown.send_replace(true);
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), task).await.is_err() {
                abort.abort();
            }
        }
    }
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        self.shared.shutdown.send_replace(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

fn describe(object: &Value) -> String {
    let text = |p: &str| object.pointer(p).and_then(Value::as_str).unwrap_or("?").to_string();
    format!("{} {}", text("/kind"), text("/metadata/name"))
}
