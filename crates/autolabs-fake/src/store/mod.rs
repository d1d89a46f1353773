//! The fake's storage: what etcd and the generic registry do for kube-apiserver.
//!
//! One map holds every object as JSON, keyed like etcd (`group/resource/namespace/name`), so a
//! list is a key range and comes back in upstream's order. One global revision counter is
//! every object's `metadata.resourceVersion`, bumped by every write. Each write is recorded as
//! a [`Change`] in a bounded history that watches replay; a watch or continue token older than
//! the history's start is answered 410 Expired, as after an etcd compaction.
//!
//! The verbs follow `k8s.io/apiserver/pkg/registry/generic/registry/store.go`: create (name
//! generation, namespace lifecycle, validation, decode, admission, AlreadyExists), update
//! (optimistic concurrency on `resourceVersion`, status subresource split, no-op writes keep
//! the revision), patch (merge, strategic-as-merge, JSON patch), server-side apply
//! (create-or-replace), delete (preconditions, finalizers, ownerReference cascade) and
//! deletecollection. `dryRun` runs everything but the commit.
//!
//! Everything here is synchronous and runs under the server's one lock, so admission (quota
//! checks included) and the commit that follows are atomic, like the real quota plugin's
//! serialized status updates. Only a create's request-only work ([`Store::check_create`]:
//! body checks, validation, decoding) is done before the lock is taken. What admission and
//! the quota controller read (namespace, LimitRanges, quotas, PriorityClasses) is decoded
//! once per change and cached (`inputs.rs`); stored objects are shared (`Arc`), not copied,
//! into answers and watch events.
//!
//! By concern: this module holds the storage and the verbs; `admission.rs` the admission
//! driver, `quota_controller.rs` the quota controller's accounting, `garbage_collector.rs`
//! the ownerReference index and cascades, `pagination.rs` lists with `limit`/`continue`.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use autolabs_resources::pod::PodResources;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::sync::watch;

use super::admission::{Admission, AdmissionCtx, Operation};
use super::apply::{Conflict, FieldPath, conflict_status, leaves, merge_applied, remove_at, value_at};
use super::defaults::set_defaults;
use super::fields::{FieldValidation, Warnings, check_applied, check_patched};
use super::inputs::{self, InputCache, LimitRangeInputs, QuotaInputs};
pub use super::key::ObjectKey;
use super::patch::{json_patch, merge_patch};
use super::quota::{QuotaSubject, adjust, state_with_spec_hard, write_status};
use super::resources::{self, ResourceType};
use super::selectors::{FieldQuery, LabelQuery};
use super::status::{Status, StatusReason};
use super::validation::{pod_update_problems, validate};

mod admission;
mod garbage_collector;
mod pagination;
mod quota_controller;

/// The type of a watch event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One committed write, as watches replay it.
#[derive(Debug, Clone)]
pub struct Change {
    pub revision: u64,
    pub resource: &'static ResourceType,
    pub namespace: String,
    pub event: EventType,
    /// The new state; for a deletion the last state, carrying the deletion's revision.
    pub object: Arc<Value>,
    /// The state before the write (for selector transitions).
    pub previous: Option<Arc<Value>>,
}

/// `propagationPolicy` of a delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    Background,
    Foreground,
    Orphan,
}

/// Options of a delete (query parameters and `DeleteOptions` body merged).
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    pub dry_run: bool,
    pub propagation: Option<Propagation>,
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
}

/// Options of a create, update or patch.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    pub dry_run: bool,
    pub field_manager: Option<String>,
    /// Take over fields other managers own (server-side apply's `force`).
    pub force: bool,
    /// Set by server-side apply for the writes it makes (their fields are the applier's).
    pub applying: bool,
    /// Field ownership changed (the real server's managedFields), so even an otherwise
    /// unchanged object is written and gets a new resourceVersion.
    pub ownership_changed: bool,
    pub field_validation: FieldValidation,
    /// Where `Warning` headers for the answer are collected.
    pub warnings: Warnings,
}

/// The patch flavours, by `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    /// `application/merge-patch+json`
    Merge,
    /// `application/strategic-merge-patch+json`, served as a merge patch.
    Strategic,
    /// `application/json-patch+json`
    Json,
    /// `application/apply-patch+yaml`
    Apply,
}

/// The filters and paging of a list.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub labels: LabelQuery,
    pub fields: FieldQuery,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            labels: LabelQuery::everything(),
            fields: FieldQuery::default(),
            limit: None,
            continue_token: None,
        }
    }
}

/// A create whose request-only checks are done ([`Store::check_create`]).
pub struct CheckedCreate {
    resource: &'static ResourceType,
    namespace: String,
    name: String,
    body: CreateBody,
}

enum CreateBody {
    /// `generateName`: the name, and so validation, waits for the store.
    NeedsName(Value),
    /// Validated and decoded, or the error to answer after the namespace check.
    Checked(Result<Value, Status>),
}

/// The object store with its history and admission chain.
pub struct Store {
    objects: BTreeMap<ObjectKey, Arc<Value>>,
    revision: u64,
    history: VecDeque<Arc<Change>>,
    /// Watches and continue tokens must be at or after this revision (everything newer is in
    /// `history`).
    oldest_servable: u64,
    history_limit: usize,
    rng: fastrand::Rng,
    notify: watch::Sender<u64>,
    admission: Vec<Arc<dyn Admission>>,
    quota_accounting: bool,
    next_service_ip: u32,
    /// uid → key, and owner uid → dependents, for ownerReference cascades.
    by_uid: HashMap<String, ObjectKey>,
    dependents: HashMap<String, BTreeSet<ObjectKey>>,
    /// uid → field manager → the configuration it last applied (server-side apply).
    applied_configs: HashMap<String, HashMap<String, Value>>,
    /// uid → leaf field → the non-apply writer that last set it (`"name" using v1`).
    update_owners: HashMap<String, BTreeMap<FieldPath, String>>,
    /// Decoded namespaces, LimitRanges, quotas and PriorityClasses for admission.
    inputs: InputCache,
}

/// The settings the store needs from the server configuration.
pub struct StoreSettings {
    pub history_limit: usize,
    pub seed: u64,
    pub admission: Vec<Arc<dyn Admission>>,
    pub quota_accounting: bool,
}

fn meta_str<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object.get("metadata").and_then(|m| m.get(key)).and_then(Value::as_str)
}

fn meta_mut(object: &mut Value) -> &mut Map<String, Value> {
    if !object.is_object() {
        *object = json!({});
    }
    let Value::Object(map) = object else { unreachable_object() };
    let meta = map.entry("metadata").or_insert_with(|| json!({}));
    if !meta.is_object() {
        *meta = json!({});
    }
    match meta {
        Value::Object(m) => m,
        _ => unreachable_object(),
    }
}

/// Both callers of this have just made the value an object.
#[allow(clippy::panic)]
fn unreachable_object() -> ! {
    panic!("value was just made a JSON object")
}

/// The object's labels (non-string values ignored).
pub fn labels_of(object: &Value) -> BTreeMap<String, String> {
    object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string()))).collect())
        .unwrap_or_default()
}

fn has_finalizers(object: &Value) -> bool {
    object.pointer("/metadata/finalizers").and_then(Value::as_array).is_some_and(|f| !f.is_empty())
}

/// A write to `…/{name}`: the body's name must be that name or empty (then it becomes it).
// k8s.io/apiserver/pkg/endpoints/handlers/update.go and patch.go (name mismatch)
fn name_from_url(body: &mut Value, name: &str) -> Result<(), Status> {
    match meta_str(body, "name") {
        Some(given) if !given.is_empty() && given != name => Err(Status::bad_request(format!(
            "the name of the object ({given}) does not match the name on the URL ({name})"
        ))),
        _ => {
            meta_mut(body).insert("name".into(), json!(name));
            Ok(())
        }
    }
}

/// `metav1.Now()` in the API's RFC 3339 form.
pub fn now_rfc3339() -> String {
    k8s_openapi::jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The part of an object that `metadata.generation` tracks: everything but metadata and status.
fn spec_part(object: &Value) -> Value {
    match object {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "metadata" | "status"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn without_resource_version(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(meta) = copy.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("resourceVersion");
    }
    copy
}

/// `Pod in version "v1" cannot be handled as a Pod: …` (400).
// k8s.io/apiserver/pkg/endpoints/handlers/rest.go transformDecodeError
fn decode_error(resource: &ResourceType, why: &str) -> Status {
    Status::bad_request(format!(
        "{} in version {:?} cannot be handled as a {}: {why}",
        resource.kind, resource.version, resource.kind
    ))
}

impl Store {
    pub fn new(settings: StoreSettings, notify: watch::Sender<u64>) -> Self {
        Store {
            objects: BTreeMap::new(),
            revision: 0,
            history: VecDeque::new(),
            oldest_servable: 0,
            history_limit: settings.history_limit.max(1),
            rng: fastrand::Rng::with_seed(settings.seed),
            notify,
            admission: settings.admission,
            quota_accounting: settings.quota_accounting,
            next_service_ip: 1,
            by_uid: HashMap::new(),
            dependents: HashMap::new(),
            applied_configs: HashMap::new(),
            update_owners: HashMap::new(),
            inputs: InputCache::default(),
        }
    }

    /// The current (latest) revision.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Every stored object, in key order.
    pub fn objects(&self) -> impl Iterator<Item = (&ObjectKey, &Arc<Value>)> {
        self.objects.iter()
    }

    /// Forgets the whole history, as an etcd compaction at the current revision: watches and
    /// continue tokens from older revisions then get 410.
    pub fn compact(&mut self) {
        self.history.clear();
        self.oldest_servable = self.revision;
    }

    fn range<'a>(
        &'a self,
        resource: &'static ResourceType,
        namespace: Option<&'a str>,
    ) -> impl Iterator<Item = (&'a ObjectKey, &'a Arc<Value>)> + 'a {
        Self::range_of(&self.objects, resource, namespace)
    }

    /// The objects of one resource (in one namespace), as one key range.
    fn range_of<'a>(
        objects: &'a BTreeMap<ObjectKey, Arc<Value>>,
        resource: &'static ResourceType,
        namespace: Option<&'a str>,
    ) -> impl Iterator<Item = (&'a ObjectKey, &'a Arc<Value>)> + 'a {
        let start = ObjectKey {
            group: resource.group,
            plural: resource.plural,
            namespace: namespace.unwrap_or("").to_string(),
            name: String::new(),
        };
        objects.range(start..).take_while(move |(k, _)| {
            k.group == resource.group
                && k.plural == resource.plural
                && namespace.is_none_or(|n| k.namespace == n)
        })
    }

    fn namespace_exists(&self, namespace: &str) -> bool {
        self.objects.contains_key(&ObjectKey {
            group: "",
            plural: "namespaces",
            namespace: String::new(),
            name: namespace.to_string(),
        })
    }

    fn new_uid(&mut self) -> String {
        let a = self.rng.u64(..);
        let b = self.rng.u64(..);
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0x0fff,
            ((b >> 48) & 0x3fff) | 0x8000,
            b & 0xffff_ffff_ffff
        )
    }

    /// `names.SimpleNameGenerator`: the prefix (cut to 58 bytes) and five random characters.
    // k8s.io/apiserver/pkg/storage/names/generate.go GenerateName
    fn generate_name(&mut self, prefix: &str) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        const MAX_PREFIX: usize = 63 - 5;
        let mut cut = prefix.len().min(MAX_PREFIX);
        while !prefix.is_char_boundary(cut) {
            cut -= 1;
        }
        let mut name = prefix[..cut].to_string();
        for _ in 0..5 {
            name.push(ALPHABET[self.rng.usize(..ALPHABET.len())] as char);
        }
        name
    }

    /// Checks the body's `apiVersion`/`kind`, sets them, and reconciles the namespace with the path.
    fn prepare_body(
        resource: &'static ResourceType,
        path_namespace: Option<&str>,
        body: &mut Value,
    ) -> Result<(), Status> {
        if !body.is_object() {
            return Err(decode_error(resource, "the request body must be a JSON object"));
        }
        let api_version = resource.api_version();
        if let Some(given) = body.get("apiVersion").and_then(Value::as_str)
            && !given.is_empty()
            && given != api_version
        {
            // k8s.io/apiserver/pkg/endpoints/handlers/create.go (decoding into the wrong version)
            return Err(Status::bad_request(format!(
                "the API version in the data ({given}) does not match the expected API version ({api_version})"
            )));
        }
        if let Some(given) = body.get("kind").and_then(Value::as_str)
            && !given.is_empty()
            && given != resource.kind
        {
            // k8s.io/apimachinery/pkg/runtime/scheme.go Convert (no conversion between kinds)
            let internal = if resource.group.is_empty() {
                "core"
            } else {
                resource.group.split('.').next().unwrap_or("")
            };
            return Err(Status::bad_request(format!(
                "{given} in version {:?} cannot be handled as a {}: converting ({}.{given}) to ({internal}.{}): unknown conversion",
                resource.version, resource.kind, resource.version, resource.kind
            )));
        }
        body["apiVersion"] = json!(api_version);
        body["kind"] = json!(resource.kind);
        let meta = meta_mut(body);
        if resource.namespaced {
            let path_namespace = path_namespace.unwrap_or("");
            match meta.get("namespace").and_then(Value::as_str) {
                Some(given) if !given.is_empty() && given != path_namespace => {
                    // k8s.io/apiserver/pkg/endpoints/handlers/rest.go checkName / EnsureObjectNamespaceMatchesRequestNamespace
                    return Err(Status::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
                _ => {
                    meta.insert("namespace".into(), json!(path_namespace));
                }
            }
        } else {
            meta.remove("namespace");
        }
        Ok(())
    }

    /// The registry strategies' `PrepareForCreate` and the defaults a lab platform relies on.
    // k8s.io/kubernetes/pkg/registry/core/pod/strategy.go PrepareForCreate (and namespace, service)
    fn prepare_for_create(&mut self, resource: &'static ResourceType, object: &mut Value) {
        set_defaults(resource, object);
        let uid = self.new_uid();
        let name = meta_str(object, "name").unwrap_or("").to_string();
        let meta = meta_mut(object);
        meta.insert("uid".into(), json!(uid));
        meta.insert("creationTimestamp".into(), json!(now_rfc3339()));
        if tracks_generation(resource) {
            meta.insert("generation".into(), json!(1));
        } else {
            meta.remove("generation");
        }
        for system in ["resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"] {
            meta.remove(system);
        }
        if resource.has_status {
            object["status"] = json!({});
        }
        match (resource.group, resource.plural) {
            // k8s.io/api/core/v1 ServiceStatus and networking/v1 IngressStatus: loadBalancer is not omitempty
            ("", "services") | ("networking.k8s.io", "ingresses") => {
                object["status"] = json!({"loadBalancer": {}});
            }
            _ => {}
        }
        if resource.plural == "pods" && resource.group.is_empty() {
            default_toleration_seconds(object);
        }
        match (resource.group, resource.plural) {
            ("", "namespaces") => {
                // k8s.io/kubernetes/pkg/apis/core/v1/defaults.go SetDefaults_Namespace (metadata.name label)
                let labels = meta_mut(object).entry("labels").or_insert_with(|| json!({}));
                labels["kubernetes.io/metadata.name"] = json!(name);
                object["spec"] = json!({"finalizers": ["kubernetes"]});
                object["status"] = json!({"phase": "Active"});
            }
            ("", "pods") => {
                // k8s.io/kubernetes/pkg/registry/core/pod/strategy.go PrepareForCreate (qosClass
                // is set after admission, from the resources LimitRanger defaulted)
                object["status"] = json!({"phase": "Pending"});
            }
            ("", "services") => {
                // k8s.io/kubernetes/pkg/registry/core/service/storage/alloc.go (ClusterIP allocation)
                let n = self.next_service_ip;
                if let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) {
                    let is_external_name = spec.get("type").and_then(Value::as_str) == Some("ExternalName");
                    if !is_external_name
                        && spec.get("clusterIP").and_then(Value::as_str).unwrap_or("").is_empty()
                    {
                        let ip = format!("10.96.{}.{}", n / 250, n % 250 + 1);
                        self.next_service_ip += 1;
                        spec.insert("clusterIP".into(), json!(ip));
                        spec.insert("clusterIPs".into(), json!([ip]));
                    }
                    if !is_external_name {
                        spec.entry("ipFamilies").or_insert(json!(["IPv4"]));
                        spec.entry("ipFamilyPolicy").or_insert(json!("SingleStack"));
                    }
                }
            }
            _ => {}
        }
    }

    /// Stores (or removes) an object at a new revision and records the change.
    fn commit(
        &mut self,
        resource: &'static ResourceType,
        key: ObjectKey,
        event: EventType,
        mut object: Value,
        previous: Option<Arc<Value>>,
    ) -> Arc<Value> {
        self.revision += 1;
        meta_mut(&mut object).insert("resourceVersion".into(), json!(self.revision.to_string()));
        let object = Arc::new(object);
        match event {
            EventType::Deleted => {
                self.objects.remove(&key);
            }
            EventType::Added | EventType::Modified => {
                self.objects.insert(key.clone(), Arc::clone(&object));
            }
        }
        self.inputs.invalidate(&key);
        self.reindex(&key, previous.as_deref(), (event != EventType::Deleted).then_some(&*object));
        self.history.push_back(Arc::new(Change {
            revision: self.revision,
            resource,
            namespace: key.namespace.clone(),
            event,
            object: Arc::clone(&object),
            previous: previous.clone(),
        }));
        while self.history.len() > self.history_limit {
            if let Some(dropped) = self.history.pop_front() {
                self.oldest_servable = dropped.revision;
            }
        }
        self.notify.send_replace(self.revision);
        if self.quota_accounting && resource.namespaced && resource.plural != "resourcequotas" {
            self.account(
                resource,
                &key.namespace,
                previous.as_deref(),
                (event != EventType::Deleted).then_some(&*object),
            );
        }
        object
    }

    /// POST: creates an object.
    pub fn create(
        &mut self,
        resource: &'static ResourceType,
        path_namespace: Option<&str>,
        body: Value,
        options: &WriteOptions,
    ) -> Result<Arc<Value>, Status> {
        let checked = Self::check_create(resource, path_namespace, body)?;
        self.create_checked(checked, options)
    }

    /// The part of a create that reads only the request (body checks, validation, decoding),
    /// so the server can do it before taking the store lock. Its errors that upstream reports
    /// after the namespace check wait in the result for [`Store::create_checked`].
    pub fn check_create(
        resource: &'static ResourceType,
        path_namespace: Option<&str>,
        mut body: Value,
    ) -> Result<CheckedCreate, Status> {
        Self::prepare_body(resource, path_namespace, &mut body)?;
        let name = meta_str(&body, "name").unwrap_or("").to_string();
        let namespace =
            if resource.namespaced { path_namespace.unwrap_or("").to_string() } else { String::new() };
        let generates_name =
            name.is_empty() && meta_str(&body, "generateName").is_some_and(|p| !p.is_empty());
        let body = if generates_name {
            CreateBody::NeedsName(body)
        } else {
            CreateBody::Checked(Self::validate_and_decode(resource, &name, body))
        };
        Ok(CheckedCreate { resource, namespace, name, body })
    }

    fn validate_and_decode(
        resource: &'static ResourceType,
        name: &str,
        body: Value,
    ) -> Result<Value, Status> {
        let errors = validate(resource, &body, None);
        if !errors.is_empty() {
            return Err(Status::invalid(resource.kind, resource.group, name, &errors));
        }
        resource.normalize(body).map_err(|e| decode_error(resource, &e))
    }

    /// Finishes a create checked by [`Store::check_create`]: name generation, namespace
    /// lifecycle, admission, AlreadyExists, commit.
    pub fn create_checked(
        &mut self,
        checked: CheckedCreate,
        options: &WriteOptions,
    ) -> Result<Arc<Value>, Status> {
        let CheckedCreate { resource, namespace, mut name, body } = checked;
        let body = match body {
            CreateBody::NeedsName(mut body) => {
                let prefix = meta_str(&body, "generateName").unwrap_or("").to_string();
                name = self.generate_name(&prefix);
                meta_mut(&mut body).insert("name".into(), json!(name));
                CreateBody::NeedsName(body)
            }
            checked => checked,
        };
        // k8s.io/apiserver/pkg/admission/plugin/namespace/lifecycle/admission.go Admit
        if resource.namespaced && !namespace.is_empty() && !self.namespace_exists(&namespace) {
            return Err(Status::not_found("namespaces", "", &namespace));
        }
        let mut object = match body {
            CreateBody::NeedsName(body) => Self::validate_and_decode(resource, &name, body)?,
            CreateBody::Checked(result) => result?,
        };
        self.prepare_for_create(resource, &mut object);
        self.run_admission(resource, None, &namespace, None, &mut object, options.dry_run)?;
        if resource.plural == "pods" && resource.group.is_empty() {
            // Upstream's PrepareForCreate runs after mutating admission, so the QoS class
            // counts LimitRange defaults.
            // k8s.io/kubernetes/pkg/registry/core/pod/strategy.go PrepareForCreate (qos.GetPodQOS)
            let qos = autolabs_k8s::k8s::Pod::deserialize(&object)
                .map_err(|e| e.to_string())
                .and_then(|pod| PodResources::from_pod(&pod).map_err(|e| e.to_string()))
                .map_err(|why| Status::internal(&format!("pod QoS class: {why}")))?
                .qos_class();
            object["status"]["qosClass"] = json!(qos.as_str());
        }
        let key = ObjectKey::new(resource, &namespace, &name);
        if self.objects.contains_key(&key) {
            // ResourceQuota admission has already written its charge to the quotas' status when
            // storage refuses the duplicate; the charge stays until the quota controller
            // recalculates (a deletion in the namespace, or FakeApiServer::recalculate_quotas).
            // k8s.io/apiserver/pkg/admission/plugin/resourcequota/controller.go checkQuotas (status updated before storage)
            if !options.dry_run
                && self.quota_accounting
                && resource.namespaced
                && resource.plural != "resourcequotas"
            {
                self.account(resource, &namespace, None, Some(&object));
            }
            return Err(Status::already_exists(resource.plural, resource.group, &name));
        }
        if resource.plural == "resourcequotas" {
            self.recount_quota(&namespace, &mut object);
        }
        if options.dry_run {
            return Ok(Arc::new(object));
        }
        let created = self.commit(resource, key, EventType::Added, object, None);
        if !options.applying {
            self.record_update_owner(options, None, &created);
        }
        Ok(created)
    }

    /// A non-apply write owns the leaf fields it changed, and takes them from the appliers.
    // sigs.k8s.io/structured-merge-diff/v4/merge/update.go Updater.Update
    fn record_update_owner(&mut self, options: &WriteOptions, old: Option<&Value>, new: &Value) {
        let Some(uid) = meta_str(new, "uid").map(String::from) else { return };
        let manager =
            options.field_manager.clone().filter(|m| !m.is_empty()).unwrap_or_else(|| "unknown".into());
        let api_version = new.get("apiVersion").and_then(Value::as_str).unwrap_or("").to_string();
        let owner = format!("{manager:?} using {api_version}");
        let changed: Vec<FieldPath> = leaves(new)
            .into_iter()
            .filter(|(path, value)| old.and_then(|o| value_at(o, path)) != Some(value))
            .map(|(path, _)| path)
            .collect();
        if changed.is_empty() {
            return;
        }
        if let Some(configs) = self.applied_configs.get_mut(&uid) {
            for config in configs.values_mut() {
                for path in &changed {
                    remove_at(config, path);
                }
            }
        }
        let owners = self.update_owners.entry(uid).or_default();
        for path in changed {
            owners.insert(path, owner.clone());
        }
    }

    /// The fields an apply by `manager` would change that others own, unless forced; with
    /// `force` (or no conflicts) the changed fields become the manager's alone.
    // sigs.k8s.io/structured-merge-diff/v4/merge/update.go Updater.Apply (conflicts, force)
    fn take_ownership(
        &mut self,
        current: &Value,
        applied: &Value,
        manager: &str,
        force: bool,
    ) -> Result<bool, Status> {
        let Some(uid) = meta_str(current, "uid").map(String::from) else { return Ok(false) };
        let paths =
            |config: &Value| -> BTreeSet<FieldPath> { leaves(config).into_iter().map(|(p, _)| p).collect() };
        let mut ownership_changed = self
            .applied_configs
            .get(&uid)
            .and_then(|configs| configs.get(manager))
            .is_none_or(|previous| paths(previous) != paths(applied));
        let changed: Vec<FieldPath> = leaves(applied)
            .into_iter()
            .filter(|(path, value)| value_at(current, path) != Some(value))
            .map(|(path, _)| path)
            .collect();
        // Upgrading from client-side apply: fields of the last-applied configuration are
        // taken over as if forced.
        // k8s.io/apiserver/pkg/endpoints/handlers/fieldmanager/lastappliedmanager.go
        let last_applied: Vec<FieldPath> = current
            .pointer("/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration")
            .and_then(Value::as_str)
            .and_then(|text| serde_json::from_str::<Value>(text).ok())
            .map(|config| leaves(&config).into_iter().map(|(p, _)| p).collect())
            .unwrap_or_default();
        let mut conflicts = Vec::new();
        for path in &changed {
            if last_applied.contains(path) {
                continue;
            }
            if let Some(configs) = self.applied_configs.get(&uid) {
                for (other, config) in configs {
                    if other != manager && value_at(config, path).is_some() {
                        conflicts.push(Conflict { manager: format!("{other:?}"), path: path.clone() });
                    }
                }
            }
            if let Some(owner) = self.update_owners.get(&uid).and_then(|o| o.get(path)) {
                conflicts.push(Conflict { manager: owner.clone(), path: path.clone() });
            }
        }
        if !conflicts.is_empty() && !force {
            conflicts.sort_by(|a, b| a.path.cmp(&b.path));
            return Err(conflict_status(&conflicts));
        }
        if let Some(configs) = self.applied_configs.get_mut(&uid) {
            for (other, config) in configs.iter_mut() {
                if other != manager {
                    for path in &changed {
                        ownership_changed |= value_at(config, path).is_some();
                        remove_at(config, path);
                    }
                }
            }
        }
        if let Some(owners) = self.update_owners.get_mut(&uid) {
            for path in &changed {
                ownership_changed |= owners.remove(path).is_some();
            }
        }
        Ok(ownership_changed)
    }

    /// GET: one object.
    pub fn get(
        &self,
        resource: &'static ResourceType,
        namespace: &str,
        name: &str,
    ) -> Result<Arc<Value>, Status> {
        self.objects
            .get(&ObjectKey::new(resource, namespace, name))
            .cloned()
            .ok_or_else(|| Status::not_found(resource.plural, resource.group, name))
    }

    /// PUT: replaces an object (or its status), with optimistic concurrency.
    pub fn update(
        &mut self,
        resource: &'static ResourceType,
        namespace: &str,
        name: &str,
        subresource: Option<&str>,
        mut body: Value,
        options: &WriteOptions,
    ) -> Result<Arc<Value>, Status> {
        Self::prepare_body(resource, Some(namespace), &mut body)?;
        name_from_url(&mut body, name)?;
        let key = ObjectKey::new(resource, namespace, name);
        let current = self
            .objects
            .get(&key)
            .cloned()
            .ok_or_else(|| Status::not_found(resource.plural, resource.group, name))?;
        let updated =
            self.update_existing(resource, key, Arc::clone(&current), body, subresource, options)?;
        if !options.dry_run && subresource.is_none() {
            self.record_update_owner(options, Some(&current), &updated);
        }
        Ok(updated)
    }

    /// The shared tail of update, patch and apply.
    fn update_existing(
        &mut self,
        resource: &'static ResourceType,
        key: ObjectKey,
        current: Arc<Value>,
        mut body: Value,
        subresource: Option<&str>,
        options: &WriteOptions,
    ) -> Result<Arc<Value>, Status> {
        let name = key.name.clone();
        // k8s.io/apiserver/pkg/registry/generic/registry/store.go Update (optimistic concurrency)
        if let Some(given) = meta_str(&body, "resourceVersion").filter(|rv| !rv.is_empty())
            && Some(given) != meta_str(&current, "resourceVersion")
        {
            return Err(Status::conflict(resource.plural, resource.group, &name));
        }
        if let Some(given) = meta_str(&body, "uid").filter(|uid| !uid.is_empty())
            && let Some(stored) = meta_str(&current, "uid")
            && given != stored
        {
            // k8s.io/apiserver/pkg/storage/etcd3/store.go GuaranteedUpdate (preconditions.Check
            // wrapped in storage.NewInvalidObjError, which prints the etcd key)
            return Err(Status::conflict_because(
                resource.plural,
                resource.group,
                &name,
                &format!(
                    "StorageError: invalid object, Code: 4, Key: /registry/{}/{}, ResourceVersion: 0, \
                     AdditionalErrorMsg: Precondition failed: UID in precondition: {given}, UID in object meta: {stored}",
                    storage_prefix(resource),
                    if key.namespace.is_empty() { name.clone() } else { format!("{}/{name}", key.namespace) }
                ),
            ));
        }
        if resource.has_status {
            if subresource == Some("status") {
                // status strategies' PrepareForUpdate: only the status changes.
                let status = body.get("status").cloned();
                body = (*current).clone();
                match status {
                    Some(status) => body["status"] = status,
                    None => {
                        body.as_object_mut().map(|m| m.remove("status"));
                    }
                }
            } else {
                match current.get("status") {
                    Some(status) => body["status"] = status.clone(),
                    None => {
                        body.as_object_mut().map(|m| m.remove("status"));
                    }
                }
            }
        }
        {
            let stored_meta = current.get("metadata").and_then(Value::as_object).cloned().unwrap_or_default();
            let meta = meta_mut(&mut body);
            for system in
                ["uid", "creationTimestamp", "generation", "deletionTimestamp", "deletionGracePeriodSeconds"]
            {
                match stored_meta.get(system) {
                    Some(v) => meta.insert(system.into(), v.clone()),
                    None => meta.remove(system),
                };
            }
            meta.remove("resourceVersion");
        }
        if resource.plural == "namespaces" && resource.group.is_empty() {
            let labels = meta_mut(&mut body).entry("labels").or_insert_with(|| json!({}));
            if labels.is_object() {
                labels["kubernetes.io/metadata.name"] = json!(name);
            }
            // k8s.io/kubernetes/pkg/registry/core/namespace/strategy.go PrepareForUpdate
            body["spec"] = current.get("spec").cloned().unwrap_or_else(|| json!({}));
        }
        set_defaults(resource, &mut body);
        keep_allocated_values(resource, &current, &mut body);
        let errors = validate(resource, &body, Some(&current));
        if !errors.is_empty() {
            return Err(Status::invalid(resource.kind, resource.group, &name, &errors));
        }
        let mut object = resource.normalize(body).map_err(|e| decode_error(resource, &e))?;
        if resource.plural == "pods" && resource.group.is_empty() && subresource.is_none() {
            let problems = pod_update_problems(&object, &current);
            if !problems.is_empty() {
                return Err(Status::invalid(resource.kind, resource.group, &name, &problems));
            }
        }
        if tracks_generation(resource) && spec_part(&object) != spec_part(&current) {
            let generation = current.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0);
            meta_mut(&mut object).insert("generation".into(), json!(generation + 1));
        }
        self.run_admission(
            resource,
            subresource,
            &key.namespace,
            Some(&current),
            &mut object,
            options.dry_run,
        )?;
        if resource.plural == "resourcequotas" && Self::hard_changed(Some(&current), &object) {
            self.recount_quota(&key.namespace, &mut object);
        }
        // Removing the last finalizer of an object being deleted completes the deletion.
        // k8s.io/apiserver/pkg/registry/generic/registry/store.go shouldDeleteDuringUpdate
        let finishing = meta_str(&object, "deletionTimestamp").is_some() && !has_finalizers(&object);
        if options.dry_run {
            meta_mut(&mut object)
                .insert("resourceVersion".into(), json!(meta_str(&current, "resourceVersion").unwrap_or("")));
            return Ok(Arc::new(object));
        }
        if finishing {
            meta_mut(&mut object).remove("resourceVersion");
            return Ok(self.commit(resource, key, EventType::Deleted, object, Some(current)));
        }
        // A write that changes nothing keeps the revision and sends no event (GuaranteedUpdate).
        if !options.ownership_changed
            && without_resource_version(&object) == without_resource_version(&current)
        {
            return Ok(current);
        }
        Ok(self.commit(resource, key, EventType::Modified, object, Some(current)))
    }

    /// PATCH: merge, strategic (as merge), JSON patch, or server-side apply.
    /// Returns the HTTP code (201 when apply created the object) and the object.
    #[allow(clippy::too_many_arguments)]
    pub fn patch(
        &mut self,
        resource: &'static ResourceType,
        namespace: &str,
        name: &str,
        subresource: Option<&str>,
        kind: PatchKind,
        body: &[u8],
        options: &WriteOptions,
    ) -> Result<(u16, Arc<Value>), Status> {
        if kind == PatchKind::Apply {
            return self.apply(resource, namespace, name, subresource, body, options);
        }
        let patch: Value = serde_json::from_slice(body)
            .map_err(|e| Status::bad_request(format!("error decoding patch: {e}")))?;
        let key = ObjectKey::new(resource, namespace, name);
        let current = self
            .objects
            .get(&key)
            .cloned()
            .ok_or_else(|| Status::not_found(resource.plural, resource.group, name))?;
        let mut candidate = (*current).clone();
        match kind {
            PatchKind::Merge | PatchKind::Strategic => {
                if kind == PatchKind::Strategic
                    && let Some(why) = strategic_differs(&patch, "")
                {
                    return Err(Status::new(
                        415,
                        StatusReason::UnsupportedMediaType,
                        format!(
                            "the fake API server does not serve this application/strategic-merge-patch+json: \
                             it applies a strategic merge patch only where one means the same as a JSON merge \
                             patch (no lists, no $-directives), and this one has {why}; send \
                             application/merge-patch+json, application/json-patch+json or \
                             application/apply-patch+yaml instead"
                        ),
                    ));
                }
                if !patch.is_object() {
                    return Err(Status::bad_request("a merge patch must be a JSON object"));
                }
                merge_patch(&mut candidate, &patch);
            }
            PatchKind::Json => json_patch(&mut candidate, &patch).map_err(|_| {
                // k8s.io/apiserver/pkg/endpoints/handlers/patch.go jsonPatcher: a patch that does
                // not apply is errors.NewGenericServerResponse(422, …) with the generic message
                let mut status = Status::new(
                    422,
                    StatusReason::Invalid,
                    "the server rejected our request due to an error in our request",
                );
                status.details.shown_when_empty = true;
                status
            })?,
            PatchKind::Apply => {}
        }
        check_patched(resource, &candidate, options.field_validation, &options.warnings)?;
        Self::prepare_body(resource, Some(namespace), &mut candidate)?;
        if meta_str(&candidate, "name") != Some(name) {
            return Err(Status::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                meta_str(&candidate, "name").unwrap_or("")
            )));
        }
        let object =
            self.update_existing(resource, key, Arc::clone(&current), candidate, subresource, options)?;
        if !options.dry_run && subresource.is_none() {
            self.record_update_owner(options, Some(&current), &object);
        }
        Ok((200, object))
    }

    /// Server-side apply with create-or-replace semantics: the applied configuration becomes
    /// the object; uid, creationTimestamp, generation and (on the main resource) status stay.
    // k8s.io/apiserver/pkg/endpoints/handlers/patch.go applyPatcher
    fn apply(
        &mut self,
        resource: &'static ResourceType,
        namespace: &str,
        name: &str,
        subresource: Option<&str>,
        body: &[u8],
        options: &WriteOptions,
    ) -> Result<(u16, Arc<Value>), Status> {
        if options.field_manager.as_deref().unwrap_or("").is_empty() {
            // k8s.io/apimachinery/pkg/apis/meta/v1/validation/validation.go ValidatePatchOptions
            return Err(Status::invalid(
                "PatchOptions",
                "meta.k8s.io",
                "",
                &[("fieldManager".into(), "Required value: is required for apply patch".into())],
            ));
        }
        let mut applied: Value = match serde_json::from_slice(body) {
            Ok(value) => value,
            Err(_) => {
                let text = std::str::from_utf8(body)
                    .map_err(|e| Status::bad_request(format!("error decoding YAML: {e}")))?;
                serde_saphyr::from_str(text)
                    .map_err(|e| Status::bad_request(format!("error decoding YAML: {e}")))?
            }
        };
        if !applied.is_object() {
            return Err(Status::bad_request("an apply configuration must be an object"));
        }
        for field in ["apiVersion", "kind"] {
            if applied.get(field).and_then(Value::as_str).unwrap_or("").is_empty() {
                // sigs.k8s.io/structured-merge-diff (apply configurations need apiVersion and kind)
                return Err(Status::bad_request(format!("invalid object type: {field} must be set")));
            }
        }
        name_from_url(&mut applied, name)?;
        check_applied(resource, meta_str(&applied, "namespace").unwrap_or(""), name, &applied)?;
        let key = ObjectKey::new(resource, namespace, name);
        let manager = options.field_manager.clone().unwrap_or_default();
        let mut options = WriteOptions { applying: true, ..options.clone() };
        let (code, object) = match self.objects.get(&key).cloned() {
            None if subresource.is_some() => {
                return Err(Status::not_found(resource.plural, resource.group, name));
            }
            None => (201, self.create(resource, Some(namespace), applied.clone(), &options)?),
            Some(current) => {
                Self::prepare_body(resource, Some(namespace), &mut applied)?;
                // Ownership moves only when the write happens.
                let saved =
                    (self.applied_configs.clone_for(&current), self.update_owners.clone_for(&current));
                options.ownership_changed =
                    self.take_ownership(&current, &applied, &manager, options.force)?;
                let previous = meta_str(&current, "uid")
                    .and_then(|uid| self.applied_configs.get(uid))
                    .and_then(|by_manager| by_manager.get(&manager));
                let mut merged = merge_applied(&current, previous, &applied);
                update_last_applied(&mut merged, &applied);
                match self.update_existing(resource, key, current.clone(), merged, subresource, &options) {
                    Ok(object) if !options.dry_run => (200, object),
                    result => {
                        restore_for(&mut self.applied_configs, &current, saved.0);
                        restore_for(&mut self.update_owners, &current, saved.1);
                        (200, result?)
                    }
                }
            }
        };
        if !options.dry_run
            && let Some(uid) = meta_str(&object, "uid")
            && self.by_uid.contains_key(uid)
        {
            self.applied_configs.entry(uid.to_string()).or_default().insert(manager, applied);
        }
        Ok((code, object))
    }

    /// DELETE: removes an object (or marks it, when it has finalizers) and cascades to its
    /// dependents. Returns the HTTP code and the response body.
    pub fn delete(
        &mut self,
        resource: &'static ResourceType,
        namespace: &str,
        name: &str,
        options: &DeleteOptions,
    ) -> Result<(u16, Value), Status> {
        let key = ObjectKey::new(resource, namespace, name);
        let current = self
            .objects
            .get(&key)
            .cloned()
            .ok_or_else(|| Status::not_found(resource.plural, resource.group, name))?;
        // k8s.io/apiserver/pkg/registry/generic/registry/store.go Delete (preconditions)
        if let Some(uid) = &options.precondition_uid
            && Some(uid.as_str()) != meta_str(&current, "uid")
        {
            // k8s.io/apiserver/pkg/storage/etcd3/store.go conditionalDelete (NewConflict with the kind)
            return Err(Status::conflict_on_kind(
                resource.kind,
                resource.group,
                name,
                &format!(
                    "the UID in the precondition ({uid}) does not match the UID in record ({}). \
                     The object might have been deleted and then recreated",
                    meta_str(&current, "uid").unwrap_or("")
                ),
            ));
        }
        if let Some(rv) = &options.precondition_resource_version
            && Some(rv.as_str()) != meta_str(&current, "resourceVersion")
        {
            // k8s.io/apiserver/pkg/storage/etcd3/store.go conditionalDelete (NewConflict with the kind)
            return Err(Status::conflict_on_kind(
                resource.kind,
                resource.group,
                name,
                &format!(
                    "the ResourceVersion in the precondition ({rv}) does not match the ResourceVersion in \
                     record ({}). The object might have been modified",
                    meta_str(&current, "resourceVersion").unwrap_or("")
                ),
            ));
        }
        if options.dry_run {
            return Ok((200, deleted_response(resource, &current)));
        }
        let is_namespace = resource.plural == "namespaces" && resource.group.is_empty();
        if has_finalizers(&current) && !is_namespace {
            // k8s.io/apiserver/pkg/registry/generic/registry/store.go updateForGracefulDeletionAndFinalizers
            if options.propagation == Some(Propagation::Orphan) {
                self.orphan_dependents(&current);
            }
            if meta_str(&current, "deletionTimestamp").is_some() {
                return Ok((200, (*current).clone()));
            }
            let mut marked = (*current).clone();
            let meta = meta_mut(&mut marked);
            meta.insert("deletionTimestamp".into(), json!(now_rfc3339()));
            meta.insert("deletionGracePeriodSeconds".into(), json!(0));
            return Ok((
                200,
                (*self.commit(resource, key, EventType::Modified, marked, Some(current))).clone(),
            ));
        }
        if is_namespace {
            // The namespace controller empties the namespace; the fake does it at once.
            let contents: Vec<ObjectKey> =
                self.objects.keys().filter(|k| k.namespace == name).cloned().collect();
            for dependent in contents {
                self.remove_now(&dependent);
            }
        }
        let propagation = options.propagation.unwrap_or(Propagation::Background);
        match propagation {
            Propagation::Orphan => {
                self.orphan_dependents(&current);
                self.remove_now(&key);
            }
            Propagation::Foreground => {
                self.delete_dependents(&current);
                self.remove_now(&key);
            }
            Propagation::Background => {
                self.remove_now(&key);
                self.delete_dependents(&current);
            }
        }
        let mut answer = (*current).clone();
        if resource.plural == "pods" && resource.group.is_empty() {
            // k8s.io/apiserver/pkg/registry/rest/delete.go BeforeDelete: a graceful delete
            // stamps the grace period and bumps the generation; an unscheduled pod's grace is 0
            // (pkg/registry/core/pod/strategy.go CheckGracefulDelete) and the fake deletes at once.
            let generation = answer.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0);
            let meta = meta_mut(&mut answer);
            meta.insert("deletionGracePeriodSeconds".into(), json!(0));
            meta.insert("generation".into(), json!(generation + 1));
        }
        if is_namespace {
            answer["status"] = json!({"phase": "Terminating"});
            meta_mut(&mut answer).insert("deletionTimestamp".into(), json!(now_rfc3339()));
        }
        Ok((200, deleted_response(resource, &answer)))
    }

    /// Deletes an object immediately (no finalizers, no cascade).
    fn remove_now(&mut self, key: &ObjectKey) {
        let Some(current) = self.objects.get(key).cloned() else { return };
        let Some(resource) = key.resource() else { return };
        self.commit(resource, key.clone(), EventType::Deleted, (*current).clone(), Some(current));
    }

    /// DELETE on a collection: deletes every matching object; answers with the list of them.
    pub fn delete_collection(
        &mut self,
        resource: &'static ResourceType,
        namespace: Option<&str>,
        query: &ListQuery,
        options: &DeleteOptions,
    ) -> Result<Value, Status> {
        let keys: Vec<ObjectKey> = self
            .range(resource, namespace)
            .filter(|(_, o)| query.labels.matches(&labels_of(o)) && query.fields.matches(o))
            .map(|(k, _)| k.clone())
            .collect();
        let mut items = Vec::new();
        for key in keys {
            let Some(object) = self.objects.get(&key).cloned() else { continue };
            match self.delete(resource, &key.namespace, &key.name, options) {
                Ok(_) => items.push((*object).clone()),
                Err(status) if status.code == 404 => {}
                Err(status) => return Err(status),
            }
        }
        Ok(json!({
            "kind": format!("{}List", resource.kind),
            "apiVersion": resource.api_version(),
            "metadata": {"resourceVersion": self.revision.to_string()},
            "items": items,
        }))
    }

    /// The objects a watch from "now" starts with, and the revision it then follows from.
    pub fn current_matching(
        &self,
        resource: &'static ResourceType,
        namespace: Option<&str>,
        labels: &LabelQuery,
        fields: &FieldQuery,
    ) -> (u64, Vec<Arc<Value>>) {
        let objects = self
            .range(resource, namespace)
            .filter(|(_, o)| labels.matches(&labels_of(o)) && fields.matches(o))
            .map(|(_, o)| Arc::clone(o))
            .collect();
        (self.revision, objects)
    }

    /// Every change after `revision`, or `None` when some of them are no longer retained.
    pub fn changes_after(&self, revision: u64) -> Option<Vec<Arc<Change>>> {
        if revision < self.oldest_servable {
            return None;
        }
        let start = self.history.partition_point(|c| c.revision <= revision);
        Some(self.history.range(start..).cloned().collect())
    }

    /// The oldest revision a watch can start from.
    pub fn oldest_servable(&self) -> u64 {
        self.oldest_servable
    }

    /// Seeds an object as a controller or `kubectl` with admin rights would leave it: no
    /// validation or admission, status kept as given; create or replace.
    pub fn seed(&mut self, mut object: Value) -> Result<Value, Status> {
        let api_version = object.get("apiVersion").and_then(Value::as_str).unwrap_or("").to_string();
        let kind = object.get("kind").and_then(Value::as_str).unwrap_or("").to_string();
        let resource = resources::find_kind(&api_version, &kind).ok_or_else(|| {
            Status::bad_request(format!(
                "no resource is served for apiVersion {api_version:?}, kind {kind:?}"
            ))
        })?;
        let name = meta_str(&object, "name").unwrap_or("").to_string();
        if name.is_empty() {
            return Err(Status::invalid(
                resource.kind,
                resource.group,
                "",
                &[("metadata.name".into(), "Required value".into())],
            ));
        }
        let namespace = if resource.namespaced {
            meta_str(&object, "namespace").unwrap_or("default").to_string()
        } else {
            String::new()
        };
        if resource.namespaced {
            meta_mut(&mut object).insert("namespace".into(), json!(namespace));
            if !self.namespace_exists(&namespace) {
                return Err(Status::not_found("namespaces", "", &namespace));
            }
        }
        let mut object = resource.normalize(object).map_err(|e| decode_error(resource, &e))?;
        let key = ObjectKey::new(resource, &namespace, &name);
        let previous = self.objects.get(&key).cloned();
        {
            let uid = match previous.as_deref().and_then(|p| meta_str(p, "uid")) {
                Some(uid) => uid.to_string(),
                None => self.new_uid(),
            };
            let created =
                previous.as_deref().and_then(|p| meta_str(p, "creationTimestamp")).map(String::from);
            let meta = meta_mut(&mut object);
            meta.insert("uid".into(), json!(uid));
            meta.insert("creationTimestamp".into(), json!(created.unwrap_or_else(now_rfc3339)));
            if tracks_generation(resource) {
                meta.entry("generation").or_insert(json!(1));
            }
        }
        if resource.plural == "namespaces" && resource.group.is_empty() {
            let labels = meta_mut(&mut object).entry("labels").or_insert_with(|| json!({}));
            labels["kubernetes.io/metadata.name"] = json!(name);
            if object.pointer("/status/phase").is_none() {
                object["status"] = json!({"phase": "Active"});
            }
        }
        if resource.plural == "resourcequotas" && Self::hard_changed(previous.as_deref(), &object) {
            self.recount_quota(&namespace, &mut object);
        }
        let event = if previous.is_some() { EventType::Modified } else { EventType::Added };
        Ok((*self.commit(resource, key, event, object, previous)).clone())
    }

    /// Changes a stored object's status as a controller would (no admission), e.g. the kubelet.
    pub fn modify_status(
        &mut self,
        resource: &'static ResourceType,
        namespace: &str,
        name: &str,
        change: impl FnOnce(&mut Value),
    ) -> Result<Value, Status> {
        let key = ObjectKey::new(resource, namespace, name);
        let current = self
            .objects
            .get(&key)
            .cloned()
            .ok_or_else(|| Status::not_found(resource.plural, resource.group, name))?;
        let mut updated = (*current).clone();
        change(&mut updated);
        if updated == *current {
            return Ok(updated);
        }
        Ok((*self.commit(resource, key, EventType::Modified, updated, Some(current))).clone())
    }
}

/// Values the server allocated that an update body may omit: a service's cluster IPs.
// k8s.io/kubernetes/pkg/registry/core/service/storage/storage.go patchAllocatedValues
fn keep_allocated_values(resource: &ResourceType, current: &Value, body: &mut Value) {
    if resource.plural != "services" || !resource.group.is_empty() {
        return;
    }
    let Some(spec) = body.get_mut("spec").and_then(Value::as_object_mut) else { return };
    for field in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
        let missing = spec.get(field).is_none_or(|v| v.is_null() || v.as_str() == Some(""));
        if missing && let Some(stored) = current.pointer(&format!("/spec/{field}")) {
            spec.insert(field.into(), stored.clone());
        }
    }
}

/// What a DELETE answers: the object for registries with `ReturnDeletedObject`, else a
/// success `Status` naming it.
// k8s.io/apiserver/pkg/registry/generic/registry/store.go Delete (ReturnDeletedObject)
fn deleted_response(resource: &ResourceType, object: &Value) -> Value {
    if resource.returns_deleted_object {
        return object.clone();
    }
    let mut details = json!({"name": meta_str(object, "name").unwrap_or(""), "kind": resource.plural});
    if !resource.group.is_empty() {
        details["group"] = json!(resource.group);
    }
    if let Some(uid) = meta_str(object, "uid") {
        details["uid"] = json!(uid);
    }
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})
}

/// Why a strategic merge patch may mean something else than the same JSON merge patch: a
/// list (merged by key, or with a patch strategy, by the kind's schema) or a `$` directive.
// k8s.io/apimachinery/pkg/util/strategicpatch/patch.go (mergeMap, directives, mergeSlice)
fn strategic_differs(patch: &Value, path: &str) -> Option<String> {
    match patch {
        Value::Object(map) => map.iter().find_map(|(key, value)| {
            let at = format!("{path}.{key}");
            if key.starts_with('$') {
                Some(format!("the directive {at}"))
            } else {
                strategic_differs(value, &at)
            }
        }),
        Value::Array(_) => Some(format!("a list at {path}")),
        _ => None,
    }
}

/// Per-uid tables of the apply bookkeeping, saved and restored around a write that may fail.
trait CloneFor<T> {
    fn clone_for(&self, object: &Value) -> Option<T>;
}

impl<T: Clone> CloneFor<T> for HashMap<String, T> {
    fn clone_for(&self, object: &Value) -> Option<T> {
        meta_str(object, "uid").and_then(|uid| self.get(uid)).cloned()
    }
}

fn restore_for<T>(table: &mut HashMap<String, T>, object: &Value, saved: Option<T>) {
    let Some(uid) = meta_str(object, "uid") else { return };
    match saved {
        Some(value) => {
            table.insert(uid.to_string(), value);
        }
        None => {
            table.remove(uid);
        }
    }
}

/// Server-side apply keeps kubectl's last-applied annotation, where an object has one, equal
/// to the applied configuration (keys sorted, as Go marshals maps, and a newline).
// k8s.io/apiserver/pkg/endpoints/handlers/fieldmanager/lastappliedupdater.go
fn update_last_applied(merged: &mut Value, applied: &Value) {
    const ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";
    let Some(annotations) = merged.pointer_mut("/metadata/annotations").and_then(Value::as_object_mut) else {
        return;
    };
    if !annotations.contains_key(ANNOTATION) {
        return;
    }
    let mut config = applied.clone();
    if let Some(own) = config.pointer_mut("/metadata/annotations").and_then(Value::as_object_mut) {
        own.remove(ANNOTATION);
        if own.is_empty()
            && let Some(meta) = config.get_mut("metadata").and_then(Value::as_object_mut)
        {
            meta.remove("annotations");
        }
    }
    annotations.insert(ANNOTATION.into(), json!(format!("{}\n", sorted(&config))));
}

/// `value` as JSON with every object's keys sorted.
fn sorted(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields: Vec<String> = keys
                .iter()
                .map(|k| format!("{}:{}", Value::String((*k).clone()), sorted(&map[*k])))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => format!("[{}]", items.iter().map(sorted).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

/// The DefaultTolerationSeconds admission plugin: pods tolerate `not-ready` and
/// `unreachable` NoExecute taints for 300 s unless they already tolerate them.
// k8s.io/kubernetes/plugin/pkg/admission/defaulttolerationseconds/admission.go Admit
fn default_toleration_seconds(pod: &mut Value) {
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else { return };
    let tolerations = spec.entry("tolerations").or_insert_with(|| json!([]));
    let Some(list) = tolerations.as_array_mut() else { return };
    for key in ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"] {
        let tolerated = list.iter().any(|t| {
            let text = |f: &str| t.get(f).and_then(Value::as_str).unwrap_or("");
            let effect_matches = text("effect").is_empty() || text("effect") == "NoExecute";
            let key_matches = text("key") == key || (text("key").is_empty() && text("operator") == "Exists");
            effect_matches && key_matches
        });
        if !tolerated {
            list.push(
                json!({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}),
            );
        }
    }
}

/// Where the kind's registry stores objects in etcd (`/registry/<prefix>/…`): the plural,
/// except for the registries that chose another prefix.
// k8s.io/kubernetes/pkg/registry/*/storage/storage.go (DefaultQualifiedResource, KeyRootFunc)
fn storage_prefix(resource: &ResourceType) -> &'static str {
    match (resource.group, resource.plural) {
        ("", "services") => "services/specs",
        ("networking.k8s.io", "ingresses") => "ingress",
        ("", "nodes") => "minions",
        ("", "serviceaccounts") => "serviceaccounts",
        ("autoscaling", "horizontalpodautoscalers") => "horizontalpodautoscalers",
        (_, plural) => plural,
    }
}

/// Whether the kind's registry keeps `metadata.generation` (its `PrepareForCreate` sets 1 and
/// `PrepareForUpdate` bumps it on spec changes); the others leave it unset.
// e.g. k8s.io/kubernetes/pkg/registry/apps/deployment/strategy.go PrepareForCreate (Generation = 1),
// pkg/registry/core/configmap/strategy.go (none); checked against kube-apiserver v1.35
fn tracks_generation(resource: &ResourceType) -> bool {
    matches!(
        (resource.group, resource.plural),
        ("", "pods")
            | ("networking.k8s.io", "ingresses" | "networkpolicies")
            | ("apps", _)
            | ("batch", _)
            | ("policy", "poddisruptionbudgets")
            | ("scheduling.k8s.io", "priorityclasses")
    )
}

fn find(plural: &str) -> &'static ResourceType {
    match resources::find_plural(plural) {
        Some(resource) => resource,
        None => missing_table_row(plural),
    }
}

/// The table is static; a lookup of a core row the store itself names cannot fail.
#[allow(clippy::panic)]
fn missing_table_row(plural: &str) -> ! {
    panic!("resource table lacks {plural}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admitting_store() -> Store {
        let (notify, _) = watch::channel(0);
        let settings = StoreSettings {
            history_limit: 100,
            seed: 1,
            admission: super::super::admission::default_plugins(),
            quota_accounting: true,
        };
        let mut store = Store::new(settings, notify);
        store.seed(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}})).unwrap();
        store
    }

    fn create_pod(store: &mut Store, name: &str, extra_spec: Value) -> Result<Arc<Value>, Status> {
        let mut spec = json!({"containers": [{"name": "c", "image": "i"}]});
        if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra_spec.as_object()) {
            spec.extend(extra.clone());
        }
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec});
        store.create(find("pods"), Some("n"), pod, &WriteOptions::default())
    }

    /// Admission reads its inputs from a cache (`inputs.rs`); each row writes one input kind
    /// between two pod creates and the second create must see the write, as upstream's
    /// plugins see the current objects.
    #[test]
    fn admission_sees_every_write_to_its_inputs() {
        // limitranger admission.go Admit: the namespace's current LimitRanges default the pod
        let mut store = admitting_store();
        create_pod(&mut store, "before", json!({})).unwrap();
        store
            .seed(
                json!({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "lr", "namespace": "n"},
                "spec": {"limits": [{"type": "Container", "default": {"cpu": "300m"}}]}}),
            )
            .unwrap();
        let pod = create_pod(&mut store, "after", json!({})).unwrap();
        assert_eq!(pod.pointer("/spec/containers/0/resources/limits/cpu"), Some(&json!("300m")));
        // pod strategy.go PrepareForCreate runs after mutating admission: the QoS class counts
        // the defaulted cpu limit (and the request defaulted from it), so not BestEffort.
        assert_eq!(pod.pointer("/status/qosClass"), Some(&json!("Burstable")));

        // resourcequota controller.go CheckRequest: status.used written by the last create counts
        let mut store = admitting_store();
        store
            .seed(json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q", "namespace": "n"},
                "spec": {"hard": {"pods": "1"}}}))
            .unwrap();
        create_pod(&mut store, "first", json!({})).unwrap();
        let refused = create_pod(&mut store, "second", json!({})).unwrap_err();
        assert_eq!(refused.code, 403, "{}", refused.message);
        assert!(refused.message.contains("exceeded quota: q"), "{}", refused.message);
        store.delete(find("pods"), "n", "first", &DeleteOptions::default()).unwrap();
        create_pod(&mut store, "second", json!({})).unwrap();

        // priority admission.go admitPod: a PriorityClass created later is found
        let mut store = admitting_store();
        let missing = create_pod(&mut store, "p1", json!({"priorityClassName": "lab"})).unwrap_err();
        assert_eq!(missing.code, 403);
        store
            .seed(json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "lab"}, "value": 7}))
            .unwrap();
        let pod = create_pod(&mut store, "p2", json!({"priorityClassName": "lab"})).unwrap();
        assert_eq!(pod.pointer("/spec/priority"), Some(&json!(7)));

        // pod-security admission.go ValidatePod: the namespace's current enforce label decides
        let mut store = admitting_store();
        create_pod(&mut store, "open", json!({})).unwrap();
        store
            .seed(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n",
                "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}}))
            .unwrap();
        let refused = create_pod(&mut store, "closed", json!({})).unwrap_err();
        assert!(refused.message.contains("violates PodSecurity"), "{}", refused.message);
    }

    /// The quota controller keeps the decoded quota inputs current as it writes (instead of
    /// decoding every quota again): after creates and deletes counted by a plain and a scoped
    /// quota, they equal a fresh decode of the stored objects.
    #[test]
    fn quota_inputs_kept_current_equal_a_fresh_decode() {
        let mut store = admitting_store();
        for quota in [
            json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "a", "namespace": "n"},
                "spec": {"hard": {"pods": "10", "requests.cpu": "4", "limits.memory": "8Gi", "services": "3"}}}),
            json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "b", "namespace": "n"},
                "spec": {"hard": {"pods": "5"}, "scopes": ["NotBestEffort"]}}),
        ] {
            store.seed(quota).unwrap();
        }
        let fresh = |store: &Store| {
            QuotaInputs::build(Store::range_of(&store.objects, find("resourcequotas"), Some("n")))
        };
        let resources = json!({"resources": {"requests": {"cpu": "250m"}, "limits": {"memory": "512Mi"}}});
        let with_resources =
            json!({"containers": [{"name": "c", "image": "i", "resources": resources["resources"]}]});
        create_pod(&mut store, "p1", with_resources.clone()).unwrap();
        create_pod(&mut store, "p3", with_resources).unwrap();
        let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
            "spec": {"ports": [{"port": 80}]}});
        store.create(find("services"), Some("n"), service, &WriteOptions::default()).unwrap();
        store.delete(find("pods"), "n", "p1", &DeleteOptions::default()).unwrap();
        let kept = store.quota_inputs("n");
        assert_eq!(*kept, fresh(&store));
        let used = kept.stored[0].state.as_ref().unwrap().used.clone();
        assert_eq!(used["pods"].to_string(), "1");
        assert_eq!(used["requests.cpu"].to_string(), "250m");
        assert_eq!(used["services"].to_string(), "1");
        assert_eq!(kept.stored[1].state.as_ref().unwrap().used["pods"].to_string(), "1");
    }

    #[test]
    fn checked_creates_keep_the_order_of_errors() {
        // lifecycle admission.go Admit: a missing namespace (404) is answered before validation (422)
        let mut store = admitting_store();
        let invalid =
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "Not_Valid"}, "spec": {}});
        let err = store.create(find("pods"), Some("missing"), invalid.clone(), &WriteOptions::default());
        assert_eq!(err.unwrap_err().code, 404);
        let err = store.create(find("pods"), Some("n"), invalid, &WriteOptions::default());
        assert_eq!(err.unwrap_err().code, 422);
        // names.SimpleNameGenerator: generateName still gets a generated, validated name
        let generated = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "lab-"},
            "spec": {"containers": [{"name": "c", "image": "i"}]}});
        let pod = store.create(find("pods"), Some("n"), generated, &WriteOptions::default()).unwrap();
        assert!(meta_str(&pod, "name").is_some_and(|n| n.starts_with("lab-") && n.len() == 9));
    }
}
