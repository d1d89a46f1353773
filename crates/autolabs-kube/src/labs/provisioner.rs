//! [`Provisioner`]: the thin async layer that executes the lab decisions against the
//! Kubernetes API — create, get, list, delete, extend, capacity and one reaper pass.
//!
//! All state lives in the API: the Pod named `lab-<id>` is the lab, and creating it is the
//! lock that makes concurrent creates of one id in different replicas produce one lab (the
//! loser gets 409 AlreadyExists and answers with the winner's lab). Within one process,
//! duplicates join the create under way (single-flight per id) and a lab the Pod cache shows
//! is answered without a Pod create, because quota admission charges a create before the store
//! refuses it as AlreadyExists. The Service, NetworkPolicy and Ingress follow, owned by the
//! Pod's uid. A create that fails after its Pod exists deletes what it made (rollback); a
//! create that cannot roll back (the process died, the API server went away) leaves a Pod
//! without all of its objects, which the next create of that id completes, or the reaper
//! repairs (some objects exist) or deletes (none do) after
//! [`ProvisionerConfig::incomplete_grace`].
//!
//! Every call is retried on 429/5xx with backoff and jitter within
//! [`Backoff::deadline`](super::retry::Backoff). The only verbs used are those of
//! `autolabs_model::render::PROVISIONER_RULES`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use autolabs_model::Platform;
use autolabs_model::lab::{
    self, LabBundle, LabContext, LabError, LabPhase, LabRequest, TEMPLATE_LABEL, Templates, desired,
};
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams, Preconditions, PropagationPolicy};
use serde::Serialize;

use super::cache::{LabsCache, MANAGED_SELECTOR};
use super::check::check_templates;
use super::error::{ClusterFull, LabsError, StaleCharge};
use super::metrics::{DeletionLabels, KindLabels, Metrics, PhaseLabels, ReasonLabels, StatusLabels};
use super::plan::{self, ChildKind, Observed, ReapAction};
use super::retry::{Backoff, api_error, retry};
use super::view::{FAILED_ANNOTATION, Lab, lab_of, lab_with_children};

/// The current time in unix seconds; replaceable so tests can move time.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()))
}

/// How the provisioner runs.
#[derive(Clone)]
pub struct ProvisionerConfig {
    /// Where labs live (`labs`).
    pub namespace: String,
    pub platform: Platform,
    /// Only these can be started.
    pub templates: Templates,
    pub backoff: Backoff,
    /// How long a lab Pod may lack objects before the reaper repairs it (or deletes it, when
    /// it has none of them).
    pub incomplete_grace: Duration,
    pub clock: Clock,
}

impl ProvisionerConfig {
    /// The defaults: namespace `labs`, 10 s retry deadline, 60 s grace, the system clock.
    pub fn new(platform: Platform, templates: Templates) -> Self {
        ProvisionerConfig {
            namespace: autolabs_model::topology::LABS.to_string(),
            platform,
            templates,
            backoff: Backoff::default(),
            incomplete_grace: Duration::from_secs(60),
            clock: system_clock(),
        }
    }
}

impl std::fmt::Debug for ProvisionerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProvisionerConfig")
            .field("namespace", &self.namespace)
            .field("templates", &self.templates.names())
            .field("backoff", &self.backoff)
            .field("incomplete_grace", &self.incomplete_grace)
            .finish_non_exhaustive()
    }
}

/// Which labs `GET /v1/labs` returns, and which page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    pub template: Option<String>,
    /// Pending, Running, Degraded, Failed or Expiring.
    pub phase: Option<String>,
    /// At most this many (all when `None`).
    pub limit: Option<usize>,
    /// The `continue` token of the previous page: the last id it held.
    pub continue_after: Option<String>,
}

/// One page of labs, in id order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LabPage {
    pub items: Vec<Lab>,
    /// Pass as `continue` for the next page; absent on the last.
    #[serde(rename = "continue", skip_serializing_if = "Option::is_none")]
    pub continue_token: Option<String>,
}

/// One quota resource of the `labs` namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct QuotaUsage {
    pub quota: String,
    pub resource: String,
    pub used: String,
    pub hard: String,
}

/// How many more labs of one template fit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateRoom {
    pub template: String,
    /// `None`: no quota bounds it.
    pub fits: Option<u64>,
    /// `quota/resource` that runs out first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binding: Option<String>,
}

/// `GET /v1/capacity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Capacity {
    pub quotas: Vec<QuotaUsage>,
    pub templates: Vec<TemplateRoom>,
    /// Quota resources whose `used` is more than the existing labs account for (the quota
    /// controller has not caught up); `fits` counts from `used`, as the API server does.
    pub stale: Vec<StaleCharge>,
}

/// What one reaper pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReapSummary {
    pub expired: usize,
    pub incomplete: usize,
    pub orphans: usize,
    pub marked_failed: usize,
    /// Labs whose missing objects were recreated.
    pub repaired: usize,
    /// Actions that failed (retried on the next pass).
    pub errors: usize,
}

struct Inner {
    config: ProvisionerConfig,
    client: kube::Client,
    pods: Api<Pod>,
    services: Api<Service>,
    policies: Api<NetworkPolicy>,
    ingresses: Api<Ingress>,
    cache: LabsCache,
    /// What a lab Pod of each template is charged, for the preflight (see [`plan::ChargesMemo`]).
    charges: std::sync::Mutex<plan::ChargesMemo>,
    /// Creates under way in this process, by `(id, template)`: a duplicate joins the one under
    /// way instead of sending its own Pod create, which the quota would charge before the API
    /// server refuses it as AlreadyExists (single-flight).
    flights: std::sync::Mutex<HashMap<(String, String), CreateFlight>>,
    /// Lab Pods this process created or saw another create win, by id, with when: the Pod
    /// cache may not show them yet.
    recent: std::sync::Mutex<HashMap<String, Instant>>,
    metrics: Metrics,
}

type CreateResult = Result<(Lab, bool), LabsError>;
type CreateFlight = futures::future::Shared<futures::future::BoxFuture<'static, CreateResult>>;

/// How long a Pod this process created is looked up in [`Inner::recent`] when the Pod cache
/// does not show it yet (the watch normally delivers it within milliseconds).
const RECENT_WINDOW: Duration = Duration::from_secs(5);

/// The lab provisioner (cheap to clone; clones share caches and metrics).
#[derive(Clone)]
pub struct Provisioner {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Provisioner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provisioner").field("config", &self.inner.config).finish_non_exhaustive()
    }
}

fn lab_label(meta: &ObjectMeta, key: &str) -> Option<String> {
    meta.labels.as_ref()?.get(key).cloned()
}

impl Provisioner {
    /// Checks every template against Pod Security `restricted` and the platform's LimitRange
    /// (refusing to start on any problem) and starts the quota/LimitRange/Pod caches.
    /// Must be called inside a tokio runtime.
    pub fn new(
        client: kube::Client,
        config: ProvisionerConfig,
        metrics: Metrics,
    ) -> Result<Self, Vec<LabsError>> {
        let problems = check_templates(&config.templates, &config.platform, &config.namespace);
        if !problems.is_empty() {
            return Err(problems);
        }
        let ns = config.namespace.as_str();
        let inner = Inner {
            pods: Api::namespaced(client.clone(), ns),
            services: Api::namespaced(client.clone(), ns),
            policies: Api::namespaced(client.clone(), ns),
            ingresses: Api::namespaced(client.clone(), ns),
            cache: LabsCache::start(client.clone(), ns),
            charges: std::sync::Mutex::default(),
            flights: std::sync::Mutex::default(),
            recent: std::sync::Mutex::default(),
            client,
            metrics,
            config,
        };
        Ok(Provisioner { inner: Arc::new(inner) })
    }

    pub fn config(&self) -> &ProvisionerConfig {
        &self.inner.config
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The caches have synced (part of `/readyz`).
    pub fn caches_synced(&self) -> bool {
        self.inner.cache.is_synced()
    }

    /// Waits for the caches, at most `timeout`.
    pub async fn wait_synced(&self, timeout: Duration) -> bool {
        self.inner.cache.wait_synced(timeout).await
    }

    /// Whether the API server answers (`GET /version`, which every client may read).
    pub async fn api_reachable(&self) -> bool {
        self.inner.client.apiserver_version().await.is_ok()
    }

    fn now(&self) -> u64 {
        (self.inner.config.clock)()
    }

    fn domain(&self) -> &str {
        self.inner.config.platform.spec.domain()
    }

    fn view(&self, pod: &Pod) -> Result<Lab, LabsError> {
        lab_of(pod, self.domain(), self.now()).ok_or_else(|| LabsError::Unexpected {
            what: format!("pod {}", pod.metadata.name.clone().unwrap_or_default()),
            message: "it has no lab labels".into(),
        })
    }

    /// The lab's objects as `desired` builds them, placed in the configured namespace
    /// (`desired` names the platform's `labs`; a provisioner may serve another).
    fn bundle(&self, template: &lab::LabTemplate, request: &LabRequest) -> Result<LabBundle, LabsError> {
        let config = &self.inner.config;
        let mut bundle = desired(template, request, &LabContext::new(&config.platform, self.now()))?;
        let namespace = Some(config.namespace.clone());
        bundle.pod.metadata.namespace.clone_from(&namespace);
        bundle.service.metadata.namespace.clone_from(&namespace);
        bundle.network_policy.metadata.namespace.clone_from(&namespace);
        bundle.ingress.metadata.namespace = namespace;
        Ok(bundle)
    }

    /// [`view`](Self::view) that also says whether the lab is Degraded, from the cached children.
    fn view_live(&self, pod: &Pod) -> Result<Lab, LabsError> {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let id =
            lab::lab_id_of(&pod.metadata.labels.clone().unwrap_or_default()).unwrap_or_default().to_string();
        let missing = plan::missing_children(&uid, &id, &self.inner.cache.children(&name));
        lab_with_children(pod, self.domain(), self.now(), &missing).ok_or_else(|| LabsError::Unexpected {
            what: format!("pod {name}"),
            message: "it has no lab labels".into(),
        })
    }

    async fn call<T, F, Fut>(&self, operation: &str, call: F) -> Result<T, LabsError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, kube::Error>>,
    {
        let metrics = &self.inner.metrics;
        retry(&self.inner.config.backoff, Instant::now(), &|e| metrics.api_error(e), call)
            .await
            .map_err(|e| api_error(operation, e))
    }

    /// Like [`call`](Self::call), but a 404 is `Ok(None)`.
    async fn call_opt<T, F, Fut>(&self, operation: &str, call: F) -> Result<Option<T>, LabsError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, kube::Error>>,
    {
        match self.call(operation, call).await {
            Ok(value) => Ok(Some(value)),
            Err(LabsError::Api { code: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn get_pod(&self, id: &str) -> Result<Option<Pod>, LabsError> {
        let name = lab::object_name(id);
        self.call_opt("get lab pod", || self.inner.pods.get(&name)).await
    }

    /// Creates a lab; `Ok((lab, true))` when it was created now, `Ok((lab, false))` when a lab
    /// with this id and template already existed (idempotent retry).
    pub async fn create(&self, request: &LabRequest) -> Result<(Lab, bool), LabsError> {
        let started = Instant::now();
        let result = self.create_single_flight(request).await;
        // A request the lab rules refuse (bad id, unknown template, lifetime) never reached the
        // API server: it is a 4xx answer, not a create, and timing it would make failed creates
        // look fast and frequent.
        if !matches!(result, Err(LabsError::Lab(_))) {
            let status = if result.is_ok() { "success" } else { "failure" };
            self.inner
                .metrics
                .create_duration
                .get_or_create(&StatusLabels { status: status.into() })
                .observe(started.elapsed().as_secs_f64());
        }
        if let Err(e @ (LabsError::ClusterFull(_) | LabsError::NotReady)) = &result {
            self.inner
                .metrics
                .preflight_rejections
                .get_or_create(&ReasonLabels { reason: e.code().into() })
                .inc();
        }
        result
    }

    /// Runs [`create_inner`](Self::create_inner) once per `(id, template)` at a time in this
    /// process: duplicates that arrive while it runs wait for it and answer its lab as
    /// existing (`created == false`). The create runs in a task of its own, so it finishes
    /// (or rolls back) even when every caller has gone away.
    async fn create_single_flight(&self, request: &LabRequest) -> CreateResult {
        let key = (request.id.clone(), request.template.clone());
        let (flight, leader) = {
            let mut flights = self.inner.flights.lock().unwrap_or_else(|p| p.into_inner());
            match flights.get(&key) {
                Some(flight) => (flight.clone(), false),
                None => {
                    let this = self.clone();
                    let owned = request.clone();
                    let done = key.clone();
                    let task = tokio::spawn(async move {
                        let result = this.create_inner(&owned).await;
                        this.inner.flights.lock().unwrap_or_else(|p| p.into_inner()).remove(&done);
                        result
                    });
                    let flight: CreateFlight = futures::FutureExt::shared(Box::pin(async move {
                        task.await.unwrap_or_else(|e| {
                            Err(LabsError::Unexpected {
                                what: "lab create task".into(),
                                message: e.to_string(),
                            })
                        })
                    })
                        as futures::future::BoxFuture<'static, CreateResult>);
                    flights.insert(key, flight.clone());
                    (flight, true)
                }
            }
        };
        let result = flight.await;
        if leader { result } else { result.map(|(lab, _)| (lab, false)) }
    }

    /// A live (not terminating) lab Pod of this id known without an API call: from the Pod
    /// cache, or one this process created moments ago that the cache does not show yet
    /// (read again, since it may have been deleted since).
    async fn known_pod(&self, id: &str) -> Result<Option<Pod>, LabsError> {
        let name = lab::object_name(id);
        if let Some(pod) = self.inner.cache.pod(&name) {
            self.inner.recent.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
            return Ok((pod.metadata.deletion_timestamp.is_none()).then(|| (*pod).clone()));
        }
        let recent = {
            let mut recent = self.inner.recent.lock().unwrap_or_else(|p| p.into_inner());
            recent.retain(|_, at| at.elapsed() < RECENT_WINDOW);
            recent.contains_key(id)
        };
        if recent {
            return Ok(self.get_pod(id).await?.filter(|p| p.metadata.deletion_timestamp.is_none()));
        }
        Ok(None)
    }

    async fn create_inner(&self, request: &LabRequest) -> Result<(Lab, bool), LabsError> {
        let config = &self.inner.config;
        let (template, _ttl) = request.validate(&config.templates)?;
        let bundle = self.bundle(template, request)?;
        // A lab of this id that exists already is answered without a Pod create: the quota
        // admission would charge the create before the store refuses it as AlreadyExists.
        if let Some(pod) = self.known_pod(&request.id).await? {
            return self.existing(request, pod, bundle).await;
        }
        // Preflight from the watched quota: refuse before creating anything. An existing lab of
        // this id is still answered (the request is a retry), so look before refusing.
        let namespace = self.inner.cache.namespace()?;
        let charges = self.inner.charges.lock().unwrap_or_else(|p| p.into_inner()).charges(
            &namespace,
            &bundle.pod,
            &request.template,
        )?;
        let mut stale = Vec::new();
        if let Err(full) = plan::preflight_with_charges(&namespace, &charges, &request.template) {
            if let Some(pod) = self.get_pod(&request.id).await? {
                return self.existing(request, pod, bundle).await;
            }
            // A charge the existing labs do not account for is the quota controller lagging:
            // decide on what they account for, and let the API server's admission have the
            // last word.
            stale = self.stale_charges(&namespace)?;
            if stale.is_empty() {
                return Err(full);
            }
            let corrected = plan::with_accounted_usage(&namespace, &stale);
            if let Err(mut full) = plan::preflight_with_charges(&corrected, &charges, &request.template) {
                if let LabsError::ClusterFull(numbers) = &mut full {
                    // The numbers of the quota as it stands, with why they are stale.
                    if let Err(LabsError::ClusterFull(actual)) =
                        plan::preflight_with_charges(&namespace, &charges, &request.template)
                    {
                        **numbers = *actual;
                    }
                    numbers.stale = stale;
                }
                return Err(full);
            }
            let stale_text: Vec<String> = stale
                .iter()
                .map(|c| format!("{}/{}: used {} > labs {}", c.quota, c.resource, c.used, c.accounted))
                .collect();
            tracing::info!(lab = %request.id, stale = %stale_text.join("; "), "quota charge is stale; creating anyway");
        }
        let post = PostParams::default();
        let created = self.call("create lab pod", || self.inner.pods.create(&post, &bundle.pod)).await;
        let pod = match created {
            Ok(pod) => pod,
            Err(LabsError::Api { code: 409, .. }) => {
                // Another create of this id (or an earlier attempt of ours) won: answer with it,
                // and remember it, so that the next create of this id here reads it instead of
                // sending another Pod create before the watch shows it (one per replica at most).
                return match self.get_pod(&request.id).await? {
                    Some(pod) => {
                        self.remember_recent(&request.id);
                        self.existing(request, pod, bundle).await
                    }
                    None => Err(LabsError::Api {
                        operation: "create lab pod".into(),
                        code: 409,
                        reason: "Conflict".into(),
                        message: "the lab is being deleted; try again".into(),
                    }),
                };
            }
            Err(e) => return Err(self.with_stale(self.quota_to_cluster_full(e, &request.template), stale)),
        };
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        if let Err(error) = self.create_children(&request.id, &pod, bundle, false).await {
            tracing::warn!(lab = %request.id, %error, "create failed midway; rolling back");
            self.rollback(&request.id, &uid).await;
            return Err(self.quota_to_cluster_full(error, &request.template));
        }
        tracing::info!(lab = %request.id, template = %request.template, "lab created");
        self.remember_recent(&request.id);
        Ok((self.view(&pod)?, true))
    }

    /// Notes that lab `id`'s Pod exists though the Pod cache may not show it yet (see
    /// [`known_pod`](Self::known_pod)).
    fn remember_recent(&self, id: &str) {
        self.inner.recent.lock().unwrap_or_else(|p| p.into_inner()).insert(id.to_string(), Instant::now());
    }

    fn quota_to_cluster_full(&self, error: LabsError, template: &str) -> LabsError {
        if let LabsError::Api { message, .. } = &error
            && error.is_quota_rejection()
        {
            let numbers = ClusterFull::from_quota_message(template, message).unwrap_or_else(|| ClusterFull {
                template: template.to_string(),
                quota: String::new(),
                resource: String::new(),
                used: String::new(),
                hard: String::new(),
                per_lab: String::new(),
                stale: Vec::new(),
            });
            return LabsError::ClusterFull(Box::new(numbers));
        }
        error
    }

    fn with_stale(&self, mut error: LabsError, stale: Vec<StaleCharge>) -> LabsError {
        if let LabsError::ClusterFull(numbers) = &mut error {
            numbers.stale = stale;
        }
        error
    }

    /// The quota charges the lab Pods in the cache do not account for (see
    /// [`plan::stale_charges`]).
    fn stale_charges(
        &self,
        namespace: &autolabs_resources::Namespace,
    ) -> Result<Vec<StaleCharge>, LabsError> {
        let mut charges = HashMap::new();
        for template in self.inner.config.templates.iter() {
            let name = template.metadata.name.clone();
            let request = LabRequest { id: "quota".into(), template: name.clone(), ttl_seconds: None };
            let bundle = self.bundle(template, &request)?;
            let charged = self.inner.charges.lock().unwrap_or_else(|p| p.into_inner()).charges(
                namespace,
                &bundle.pod,
                &name,
            )?;
            charges.insert(name, charged);
        }
        let pods = self.inner.cache.pods();
        Ok(plan::stale_charges(namespace, pods.iter().map(|p| &**p), &charges, self.now()))
    }

    /// A lab of this id exists: the same template answers it (completing any missing
    /// objects), another template is a conflict.
    async fn existing(
        &self,
        request: &LabRequest,
        pod: Pod,
        bundle: LabBundle,
    ) -> Result<(Lab, bool), LabsError> {
        let existing = lab_label(&pod.metadata, TEMPLATE_LABEL).unwrap_or_default();
        if existing != request.template {
            return Err(LabsError::TemplateConflict {
                id: request.id.clone(),
                existing,
                requested: request.template.clone(),
            });
        }
        if pod.metadata.deletion_timestamp.is_none() {
            self.create_children(&request.id, &pod, bundle, true).await?;
        }
        Ok((self.view(&pod)?, false))
    }

    /// Creates the Service, NetworkPolicy and Ingress owned by `pod`, the three together: they
    /// depend only on the Pod's uid, so a lab costs two round trips instead of four (on the real
    /// API server at concurrency 1 the provisioner went from 55 % to 80 % of the plain client's
    /// labs/s: `bench labs --kubeconfig`, README's performance table). Each one that already exists owned by this Pod is kept, one
    /// owned by an older Pod of the same id is replaced. All three are waited for (none is left
    /// in flight), and the first failure is returned, so the caller rolls back what was made.
    /// `look_first`: the lab existed already, so most objects probably do too — read before
    /// writing, because quota admission answers a create of an existing object with 403 when
    /// the quota is full (admission runs before the store sees the name is taken).
    async fn create_children(
        &self,
        id: &str,
        pod: &Pod,
        mut bundle: LabBundle,
        look_first: bool,
    ) -> Result<(), LabsError> {
        let name = pod.metadata.name.clone().unwrap_or_else(|| lab::object_name(id));
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        bundle.owned_by(&name, &uid);
        let (service, policy, ingress) = tokio::join!(
            self.ensure(&self.inner.services, &bundle.service, &uid, "service", look_first),
            self.ensure(&self.inner.policies, &bundle.network_policy, &uid, "networkpolicy", look_first),
            self.ensure(&self.inner.ingresses, &bundle.ingress, &uid, "ingress", look_first),
        );
        service.and(policy).and(ingress)
    }

    async fn ensure<K>(
        &self,
        api: &Api<K>,
        object: &K,
        owner_uid: &str,
        what: &str,
        look_first: bool,
    ) -> Result<(), LabsError>
    where
        K: kube::Resource + Clone + serde::de::DeserializeOwned + Serialize + std::fmt::Debug,
    {
        let name = object.meta().name.clone().unwrap_or_default();
        let operation = format!("create lab {what}");
        let post = PostParams::default();
        if look_first
            && let Some(found) = self.call_opt(&format!("get lab {what}"), || api.get(&name)).await?
            && found.meta().owner_references.iter().flatten().any(|o| o.uid == owner_uid)
        {
            return Ok(());
        }
        for _ in 0..3 {
            match self.call(&operation, || api.create(&post, object)).await {
                Ok(_) => return Ok(()),
                Err(LabsError::Api { code: 409, .. }) => {
                    let Some(found) = self.call_opt(&format!("get lab {what}"), || api.get(&name)).await?
                    else {
                        continue;
                    };
                    let meta = found.meta();
                    if meta.owner_references.iter().flatten().any(|o| o.uid == owner_uid) {
                        return Ok(());
                    }
                    // Left by an earlier lab of this id: remove it, then create ours.
                    let stale_uid = meta.uid.clone();
                    self.delete_with_uid(api, &name, stale_uid, what).await?;
                }
                Err(e) => return Err(e),
            }
        }
        Err(LabsError::Api {
            operation,
            code: 409,
            reason: "AlreadyExists".into(),
            message: format!("{what} {name} keeps existing with another owner"),
        })
    }

    async fn delete_with_uid<K>(
        &self,
        api: &Api<K>,
        name: &str,
        uid: Option<String>,
        what: &str,
    ) -> Result<bool, LabsError>
    where
        K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    {
        let params = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            preconditions: uid.map(|uid| Preconditions { uid: Some(uid), resource_version: None }),
            ..DeleteParams::default()
        };
        match self.call(&format!("delete lab {what}"), || api.delete(name, &params)).await {
            Ok(_) => Ok(true),
            // Gone already, or replaced by a newer object of the same name (uid precondition).
            Err(LabsError::Api { code: 404 | 409, .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Deletes what a failed create made: the objects owned by the Pod, then the Pod.
    /// Failures here are left to the reaper.
    async fn rollback(&self, id: &str, pod_uid: &str) {
        if let Err(error) = self.delete_lab_objects(id, pod_uid).await {
            tracing::warn!(lab = %id, %error, "rollback incomplete; the reaper will finish it");
        }
    }

    /// Deletes the Pod with this uid and the objects of lab `id` that it owns.
    async fn delete_lab_objects(&self, id: &str, pod_uid: &str) -> Result<bool, LabsError> {
        let name = lab::object_name(id);
        let owned = |meta: &ObjectMeta| meta.owner_references.iter().flatten().any(|o| o.uid == pod_uid);
        let mut first_error = None;
        macro_rules! delete_child {
            ($api:expr, $what:literal) => {
                match self.call_opt(concat!("get lab ", $what), || $api.get(&name)).await {
                    Ok(Some(found)) if owned(&found.metadata) => {
                        if let Err(e) =
                            self.delete_with_uid(&$api, &name, found.metadata.uid.clone(), $what).await
                        {
                            first_error.get_or_insert(e);
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
            };
        }
        delete_child!(self.inner.services, "service");
        delete_child!(self.inner.policies, "networkpolicy");
        delete_child!(self.inner.ingresses, "ingress");
        let deleted = self.delete_with_uid(&self.inner.pods, &name, Some(pod_uid.to_string()), "pod").await?;
        match first_error {
            Some(e) => Err(e),
            None => Ok(deleted),
        }
    }

    /// The lab with this id.
    pub async fn get(&self, id: &str) -> Result<Lab, LabsError> {
        lab::check_lab_id(id)?;
        match self.get_pod(id).await? {
            Some(pod) => self.view_live(&pod),
            None => Err(LabsError::NotFound { id: id.to_string() }),
        }
    }

    async fn list_pods(&self, selector: &str) -> Result<Vec<Pod>, LabsError> {
        let mut pods = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut params = ListParams::default().labels(selector).limit(500);
            if let Some(t) = &token {
                params = params.continue_token(t);
            }
            let page = self.call("list lab pods", || self.inner.pods.list(&params)).await?;
            pods.extend(page.items);
            token = page.metadata.continue_.filter(|t| !t.is_empty());
            if token.is_none() {
                return Ok(pods);
            }
        }
    }

    /// Labs matching `filter`, in id order, one page.
    pub async fn list(&self, filter: &ListFilter) -> Result<LabPage, LabsError> {
        let mut selector = MANAGED_SELECTOR.to_string();
        if let Some(template) = &filter.template {
            autolabs_k8s::names::dns1123_label(template).is_empty().then_some(()).ok_or_else(|| {
                LabError::UnknownTemplate {
                    name: template.clone(),
                    known: self.inner.config.templates.names(),
                }
            })?;
            selector.push_str(&format!(",{TEMPLATE_LABEL}={template}"));
        }
        let mut labs: Vec<Lab> = self
            .list_pods(&selector)
            .await?
            .iter()
            .filter_map(|pod| self.view_live(pod).ok())
            .filter(|lab| filter.phase.as_ref().is_none_or(|p| p.eq_ignore_ascii_case(&lab.phase)))
            .filter(|lab| filter.continue_after.as_ref().is_none_or(|after| lab.id.as_str() > after.as_str()))
            .collect();
        labs.sort_by(|a, b| a.id.cmp(&b.id));
        let mut continue_token = None;
        if let Some(limit) = filter.limit.filter(|l| *l > 0)
            && labs.len() > limit
        {
            labs.truncate(limit);
            continue_token = labs.last().map(|lab| lab.id.clone());
        }
        Ok(LabPage { items: labs, continue_token })
    }

    /// Deletes a lab: its objects and its Pod. [`LabsError::NotFound`] when there is no Pod of
    /// this id (objects left without a Pod are deleted all the same).
    pub async fn delete(&self, id: &str) -> Result<(), LabsError> {
        lab::check_lab_id(id)?;
        match self.get_pod(id).await? {
            Some(pod) => {
                self.inner.recent.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
                let uid = pod.metadata.uid.clone().unwrap_or_default();
                self.delete_lab_objects(id, &uid).await?;
                tracing::info!(lab = %id, "lab deleted");
                Ok(())
            }
            None => Err(LabsError::NotFound { id: id.to_string() }),
        }
    }

    /// Extends a lab by `extra_seconds`, never past its template's maximum lifetime.
    pub async fn extend(&self, id: &str, extra_seconds: u64) -> Result<Lab, LabsError> {
        lab::check_lab_id(id)?;
        // A stale write (409 Conflict on resourceVersion) is re-read and decided again.
        for _ in 0..5 {
            let Some(pod) = self.get_pod(id).await? else {
                return Err(LabsError::NotFound { id: id.to_string() });
            };
            let template_name = lab_label(&pod.metadata, TEMPLATE_LABEL).unwrap_or_default();
            let max_ttl = self
                .inner
                .config
                .templates
                .get(&template_name)
                .map(|t| t.spec.ttl.max.seconds())
                .unwrap_or(lab::DEFAULT_MAX_TTL.seconds());
            let until = lab::extend(&pod, extra_seconds, max_ttl, self.now())?;
            let annotations = lab::expiry_annotations(&pod, until)?;
            let patch = serde_json::json!({
                "metadata": {
                    "resourceVersion": pod.metadata.resource_version,
                    "annotations": annotations,
                }
            });
            let name = lab::object_name(id);
            let params = PatchParams::default();
            let merge = Patch::Merge(&patch);
            match self.call("extend lab", || self.inner.pods.patch(&name, &params, &merge)).await {
                Ok(pod) => return self.view_live(&pod),
                Err(LabsError::Api { code: 409, .. }) => continue,
                Err(LabsError::Api { code: 404, .. }) => {
                    return Err(LabsError::NotFound { id: id.to_string() });
                }
                Err(e) => return Err(e),
            }
        }
        Err(LabsError::Api {
            operation: "extend lab".into(),
            code: 409,
            reason: "Conflict".into(),
            message: "the lab kept changing; try again".into(),
        })
    }

    /// Quota use of the `labs` namespace and how many more labs of each template fit.
    pub fn capacity(&self) -> Result<Capacity, LabsError> {
        let namespace = self.inner.cache.namespace()?;
        let mut quotas = Vec::new();
        for quota in &namespace.quotas {
            for (resource, hard) in &quota.hard {
                quotas.push(QuotaUsage {
                    quota: quota.name.clone(),
                    resource: resource.clone(),
                    used: quota
                        .used
                        .get(resource)
                        .copied()
                        .unwrap_or(autolabs_k8s::Quantity::ZERO)
                        .to_string(),
                    hard: hard.to_string(),
                });
            }
        }
        let config = &self.inner.config;
        let mut templates = Vec::new();
        for template in config.templates.iter() {
            let name = template.metadata.name.clone();
            let request = LabRequest { id: "capacity".into(), template: name.clone(), ttl_seconds: None };
            let bundle = self.bundle(template, &request)?;
            let room = plan::headroom(&namespace, &bundle.pod, &name)?;
            templates.push(TemplateRoom {
                template: name,
                fits: room.fits,
                binding: room.binding.map(|b| format!("{}/{}", b.quota, b.resource)),
            });
        }
        let stale = self.stale_charges(&namespace)?;
        Ok(Capacity { quotas, templates, stale })
    }

    /// Sets the `labs` gauge from the Pod cache (call before encoding the metrics).
    pub fn refresh_metrics(&self) {
        let gauge = &self.inner.metrics.labs;
        gauge.clear();
        for template in self.inner.config.templates.iter() {
            let phases = [LabPhase::Pending, LabPhase::Running, LabPhase::Failed, LabPhase::Expiring];
            for phase in phases.map(LabPhase::as_str).into_iter().chain([super::view::DEGRADED]) {
                let _ = gauge.get_or_create(&PhaseLabels {
                    phase: phase.into(),
                    template: template.metadata.name.clone(),
                });
            }
        }
        for pod in self.inner.cache.pods() {
            if let Ok(lab) = self.view_live(&pod) {
                gauge.get_or_create(&PhaseLabels { phase: lab.phase, template: lab.template }).inc();
            }
        }
    }

    /// One reaper pass: lists the lab objects (children first, then Pods; see
    /// [`Observed`]), decides with [`plan::reap_plan`] and executes. Several replicas doing
    /// this at once is harmless: deletes carry uid preconditions and a 404 is success.
    pub async fn reap_once(&self) -> Result<ReapSummary, LabsError> {
        let params = ListParams::default().labels(MANAGED_SELECTOR);
        let services = self.call("list lab services", || self.inner.services.list(&params)).await?.items;
        let policies =
            self.call("list lab networkpolicies", || self.inner.policies.list(&params)).await?.items;
        let ingresses = self.call("list lab ingresses", || self.inner.ingresses.list(&params)).await?.items;
        let pods = self.list_pods(MANAGED_SELECTOR).await?;
        let uids = |items: Vec<(ChildKind, ObjectMeta)>| items;
        let child_uids: Vec<(ChildKind, ObjectMeta)> = uids(
            services
                .iter()
                .map(|o| (ChildKind::Service, o.metadata.clone()))
                .chain(policies.iter().map(|o| (ChildKind::NetworkPolicy, o.metadata.clone())))
                .chain(ingresses.iter().map(|o| (ChildKind::Ingress, o.metadata.clone())))
                .collect(),
        );
        let observed = Observed::new(pods.clone(), &services, &policies, &ingresses);
        let now = self.now();
        let actions = plan::reap_plan(&observed, now, self.inner.config.incomplete_grace.as_secs());
        let mut summary = ReapSummary::default();
        let deletions = &self.inner.metrics.reaper_deletions;
        for action in actions {
            let outcome = match &action {
                ReapAction::DeleteLab { id, pod, reason } => {
                    let uid = pods
                        .iter()
                        .find(|p| p.metadata.name.as_deref() == Some(pod.as_str()))
                        .and_then(|p| p.metadata.uid.clone())
                        .unwrap_or_default();
                    let result = self.delete_lab_objects(id, &uid).await;
                    if result.is_ok() {
                        match reason {
                            plan::ReapReason::Expired => summary.expired += 1,
                            plan::ReapReason::Incomplete => summary.incomplete += 1,
                        }
                        deletions
                            .get_or_create(&DeletionLabels {
                                reason: reason.as_str().into(),
                                kind: "Pod".into(),
                            })
                            .inc();
                        tracing::info!(lab = %id, reason = reason.as_str(), "reaper deleted lab");
                    }
                    result.map(|_| ())
                }
                ReapAction::DeleteOrphan { kind, name, id } => {
                    let uid = child_uids
                        .iter()
                        .find(|(k, m)| k == kind && m.name.as_deref() == Some(name.as_str()))
                        .and_then(|(_, m)| m.uid.clone());
                    let result = match kind {
                        ChildKind::Service => {
                            self.delete_with_uid(&self.inner.services, name, uid, "service").await
                        }
                        ChildKind::NetworkPolicy => {
                            self.delete_with_uid(&self.inner.policies, name, uid, "networkpolicy").await
                        }
                        ChildKind::Ingress => {
                            self.delete_with_uid(&self.inner.ingresses, name, uid, "ingress").await
                        }
                    };
                    if result.is_ok() {
                        summary.orphans += 1;
                        deletions
                            .get_or_create(&DeletionLabels {
                                reason: "orphan".into(),
                                kind: kind.as_str().into(),
                            })
                            .inc();
                        tracing::info!(lab = %id, kind = kind.as_str(), "reaper deleted orphan");
                    }
                    result.map(|_| ())
                }
                ReapAction::RepairLab { id, pod, missing } => {
                    let result = self.repair(id, pod, &pods).await;
                    if result.is_ok() {
                        summary.repaired += 1;
                        for kind in missing {
                            self.inner
                                .metrics
                                .reaper_repairs
                                .get_or_create(&KindLabels { kind: kind.as_str().into() })
                                .inc();
                        }
                        let kinds: Vec<&str> = missing.iter().map(|k| k.as_str()).collect();
                        tracing::warn!(lab = %id, missing = %kinds.join(","), "reaper repaired lab");
                    }
                    result
                }
                ReapAction::MarkFailed { id, pod, reason } => {
                    let patch = serde_json::json!({"metadata": {"annotations": {FAILED_ANNOTATION: reason}}});
                    let params = PatchParams::default();
                    let merge = Patch::Merge(&patch);
                    let result = self
                        .call_opt("mark lab failed", || self.inner.pods.patch(pod, &params, &merge))
                        .await;
                    if result.is_ok() {
                        summary.marked_failed += 1;
                        tracing::warn!(lab = %id, %reason, "lab failed");
                    }
                    result.map(|_| ())
                }
            };
            if outcome.is_err() {
                summary.errors += 1;
            }
        }
        Ok(summary)
    }

    /// Recreates the missing objects of lab `id` whose Pod `pod_name` is in `pods` (as
    /// listed), from its template: the same path a repeated create takes.
    async fn repair(&self, id: &str, pod_name: &str, pods: &[Pod]) -> Result<(), LabsError> {
        let Some(pod) = pods.iter().find(|p| p.metadata.name.as_deref() == Some(pod_name)) else {
            return Ok(());
        };
        let template_name = lab_label(&pod.metadata, TEMPLATE_LABEL).unwrap_or_default();
        let template = self.inner.config.templates.get(&template_name)?;
        let request = LabRequest { id: id.to_string(), template: template_name, ttl_seconds: None };
        let bundle = self.bundle(template, &request)?;
        self.create_children(id, pod, bundle, true).await
    }

    /// Runs the reaper until `stop` resolves: a pass every `interval` (expiry is a matter of
    /// time) and, within a second, after the watched Pod cache shows a lab Pod deleted (its
    /// objects may be orphans) or failed and not yet marked. The cache is the one the
    /// metrics read, so the reaper adds no watch of its own and a busy namespace does not turn
    /// every create into a full listing.
    pub async fn run_reaper(&self, interval: Duration, stop: impl std::future::Future<Output = ()>) {
        const LOOK: Duration = Duration::from_secs(1);
        let mut stop = std::pin::pin!(stop);
        let mut full = tokio::time::interval(interval);
        full.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut look = tokio::time::interval(LOOK);
        look.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut known: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
        loop {
            let due = tokio::select! {
                _ = &mut stop => return,
                _ = full.tick() => true,
                _ = look.tick() => {
                    let pods = self.inner.cache.pods();
                    let now: std::collections::BTreeSet<String> =
                        pods.iter().filter_map(|p| p.metadata.uid.clone()).collect();
                    let deleted = known.difference(&now).next().is_some();
                    known = now;
                    let failed = pods.iter().any(|pod| {
                        lab::phase(pod) == LabPhase::Failed
                            && !pod.metadata.annotations.as_ref().is_some_and(|a| a.contains_key(FAILED_ANNOTATION))
                    });
                    deleted || failed
                }
            };
            if !due {
                continue;
            }
            match self.reap_once().await {
                Ok(summary) if summary != ReapSummary::default() => tracing::info!(
                    expired = summary.expired,
                    incomplete = summary.incomplete,
                    orphans = summary.orphans,
                    marked_failed = summary.marked_failed,
                    repaired = summary.repaired,
                    errors = summary.errors,
                    "reaper pass"
                ),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "reaper pass failed"),
            }
        }
    }
}
