//! `autolabs apply`: server-side apply of the rendered baseline, with dry run and prune.
//!
//! # Model: effects as data
//!
//! 1. [`read_state`] (async) asks the server what it serves (discovery), reads the live
//!    version of every desired object — one LIST per kind, all kinds at once, a GET only for
//!    what the lists cannot answer — and, with `--prune`, every object labelled as this
//!    platform's. That is a [`ClusterState`].
//! 2. [`plan`] (pure) turns the desired manifests and that state into a [`Plan`]: one
//!    [`Step`] per object — apply, up to date (our last apply still holds, field for field:
//!    nothing is sent), skip (its CRD is absent), prune, keep — in dependency
//!    order: `autolabs_model::render::apply_rank` (CRDs, namespaces and cluster-scoped
//!    kinds, RBAC, policies and quotas, then workloads), prunes last in reverse order.
//! 3. [`execute`] (async, thin) sends each step (a rank's applies concurrently): a server-side apply patch with field
//!    manager [`FIELD_MANAGER`] (`force` only when asked), `dryRun=All` for a dry run, a
//!    background delete with a uid precondition for a prune. Each result is classified by
//!    the pure [`outcome_of_apply`]: created when nothing existed, unchanged when the
//!    server's answer equals the live object once server-maintained fields are ignored,
//!    configured otherwise. So a re-run is all `unchanged`, and a dry run reports exactly
//!    what a real run would change.
//!
//! # What prune may delete
//!
//! Only objects carrying both `app.kubernetes.io/managed-by: autolabs` and
//! `autolabs.io/platform: <this platform>`, of the kinds autolabs renders, that are no longer
//! rendered — and of those never: a lab object (`autolabs.io/lab-id`; lab objects carry no
//! platform label anyway), an object with an ownerReference (a controller's copy, such as the
//! ReplicaSet of a Deployment or the Job of a CronJob, which inherit the template's labels), or
//! a Namespace (deleting one deletes everything in it, ours or not: it is reported as kept).
//!
//! # Ordering and waiting
//!
//! Ranks are applied one after another in plan order; within a rank nothing depends on
//! anything else (all NetworkPolicies, say), so its plain applies are sent concurrently and
//! reported in plan order. Prunes, and objects that wait for a CRD, go one at a time. A kind whose CRD is not served is skipped
//! with a warning naming what to install — unless the desired set itself holds that CRD: then
//! the objects wait until the server reports the CRD `Established` and are applied after it.
//! In a dry run nothing is created, so objects in a namespace (or of a CRD) that this run would
//! create cannot be checked by the server; they are reported as created, with that note.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use futures::StreamExt;
use kube::Client;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, Preconditions};
use kube::discovery::{Discovery, Scope};
use serde_json::Value;

use autolabs_model::Manifest;
use autolabs_model::lab::LAB_ID_LABEL;
use autolabs_model::render::apply_rank;
use autolabs_model::topology::{MANAGED_BY, PLATFORM_LABEL};

use crate::live::{
    ClusterError, api_version, describe_error, error_code, list_all, list_with_managed_fields, resource_name,
    strip_managed_fields,
};

/// The field manager of every apply, so the server records which fields autolabs owns.
pub const FIELD_MANAGER: &str = "autolabs";

/// How long to wait for a CRD applied in this run to become `Established`.
pub const CRD_ESTABLISHED_TIMEOUT: Duration = Duration::from_secs(60);

/// Concurrent reads of live objects.
const READ_CONCURRENCY: usize = 16;

/// Concurrent writes within one apply rank (ranks themselves go one after another).
const WRITE_CONCURRENCY: usize = 16;

/// The kinds autolabs renders (or has rendered): what prune lists, besides the desired kinds,
/// so a kind that vanished from the rendering entirely is still cleaned up.
pub const RENDERED_KINDS: &[(&str, &str)] = &[
    ("v1", "Namespace"),
    ("scheduling.k8s.io/v1", "PriorityClass"),
    ("storage.k8s.io/v1", "StorageClass"),
    ("snapshot.storage.k8s.io/v1", "VolumeSnapshotClass"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("v1", "ServiceAccount"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("v1", "ResourceQuota"),
    ("v1", "LimitRange"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("v1", "Secret"),
    ("v1", "ConfigMap"),
    ("v1", "PersistentVolumeClaim"),
    ("v1", "Service"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "DaemonSet"),
    ("batch/v1", "CronJob"),
    ("batch/v1", "Job"),
    ("networking.k8s.io/v1", "Ingress"),
    ("policy/v1", "PodDisruptionBudget"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
];

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyOptions {
    /// `metadata.name` of the platform: the value of the `autolabs.io/platform` label.
    pub platform: String,
    /// The server's dry run (`dryRun=All`): nothing is persisted.
    pub dry_run: bool,
    /// Delete this platform's objects that are no longer rendered.
    pub prune: bool,
    /// Take over fields another field manager owns (`force=true`) instead of failing.
    pub force: bool,
}

impl ApplyOptions {
    /// A plain apply of `platform`: no dry run, no prune, no force.
    pub fn new(platform: impl Into<String>) -> Self {
        ApplyOptions { platform: platform.into(), dry_run: false, prune: false, force: false }
    }
}

/// An object's identity in the cluster. The API version is left out on purpose: one object
/// is served under several versions (`autoscaling/v1` and `v2` HPAs are the same object).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    /// API group, empty for the core group.
    pub group: String,
    pub kind: String,
    /// `None` for cluster-scoped objects.
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectKey {
    /// The key of a JSON object (`apiVersion`, `kind`, `metadata.namespace`/`name`).
    pub fn of_value(value: &Value) -> ObjectKey {
        let text = |pointer: &str| value.pointer(pointer).and_then(Value::as_str).unwrap_or("").to_string();
        ObjectKey {
            group: group_of(&text("/apiVersion")).to_string(),
            kind: text("/kind"),
            namespace: Some(text("/metadata/namespace")).filter(|ns| !ns.is_empty()),
            name: text("/metadata/name"),
        }
    }

    fn of_manifest(manifest: &Manifest) -> ObjectKey {
        ObjectKey {
            group: group_of(&manifest.api_version).to_string(),
            kind: manifest.kind.clone(),
            namespace: manifest.namespace.clone(),
            name: manifest.name.clone(),
        }
    }
}

/// `namespace/Kind/name` or `Kind/name`, as `Manifest::id` writes it.
impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{ns}/{}/{}", self.kind, self.name),
            None => write!(f, "{}/{}", self.kind, self.name),
        }
    }
}

fn is_storage_class(key: &ObjectKey) -> bool {
    key.group == "storage.k8s.io" && key.kind == "StorageClass"
}

fn group_of(api_version: &str) -> &str {
    api_version.split_once('/').map(|(group, _)| group).unwrap_or("")
}

/// One kind the server serves, from discovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedKind {
    pub group: String,
    pub version: String,
    pub kind: String,
    /// URL segment: `networkpolicies`.
    pub plural: String,
    pub namespaced: bool,
}

impl ServedKind {
    /// The resource in kube's dynamic form.
    pub fn api_resource(&self) -> ApiResource {
        ApiResource {
            group: self.group.clone(),
            version: self.version.clone(),
            api_version: api_version(&self.group, &self.version),
            kind: self.kind.clone(),
            plural: self.plural.clone(),
        }
    }
}

/// Every kind the server serves, by `(apiVersion, kind)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServedKinds(BTreeMap<(String, String), ServedKind>);

impl ServedKinds {
    pub fn insert(&mut self, kind: ServedKind) {
        self.0.insert((api_version(&kind.group, &kind.version), kind.kind.clone()), kind);
    }

    pub fn get(&self, api_version: &str, kind: &str) -> Option<&ServedKind> {
        self.0.get(&(api_version.to_string(), kind.to_string()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What the server has, as far as an apply needs to know.
#[derive(Debug, Clone, Default)]
pub struct ClusterState {
    pub served: ServedKinds,
    /// The live version of each desired object that exists (without `managedFields`).
    pub live: BTreeMap<ObjectKey, Value>,
    /// What our own last server-side apply of a live desired object set (its `managedFields`
    /// entry), where the server keeps one: [`plan`] skips an object it proves up to date.
    pub applied: BTreeMap<ObjectKey, AppliedFields>,
    /// Desired objects whose live version could not be read, with the server's message.
    pub read_errors: BTreeMap<ObjectKey, String>,
    /// Objects carrying this platform's labels, of the kinds prune considers (read only for
    /// `--prune`).
    pub labelled: Vec<Value>,
    /// Every PersistentVolumeClaim in the cluster (read only when prune considers a
    /// StorageClass): a class a live claim uses is never pruned.
    pub claims: Vec<Value>,
}

/// What to do with one object.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Server-side apply of `body`; `before` is the live object (`None`: it will be created).
    Apply {
        body: Value,
        before: Option<Value>,
        /// The CRD (by name) this run applies and that must be established first.
        awaits_crd: Option<String>,
    },
    /// Not sent: the live object already holds exactly this apply configuration, every field
    /// of it owned by us and no other field ours ([`is_up_to_date`]), so applying it would
    /// change nothing.
    UpToDate,
    /// Dry run only: the object would be created, but the server cannot check it because
    /// what it needs (its namespace, its CRD) is created by this same run.
    CreateUnchecked { because: String },
    /// Not applied: the server does not serve its kind.
    Skip { reason: String },
    /// Not applied: the object cannot be sent (the reason says why).
    Fail { reason: String },
    /// Deleted: ours, no longer rendered. The uid guards against deleting a re-created object.
    Prune { uid: Option<String> },
    /// A Namespace of ours that is no longer rendered, deliberately not deleted.
    KeepNamespace,
    /// A StorageClass of ours that is no longer rendered but still used by these claims
    /// (`namespace/name`): deleting it would strand them.
    KeepStorageClassInUse { claims: Vec<String> },
}

/// One object and what happens to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub key: ObjectKey,
    /// The apiVersion requests for this object use.
    pub api_version: String,
    pub action: Action,
}

/// Every step, in execution order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub steps: Vec<Step>,
}

/// How one object ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Configured,
    Unchanged,
    Pruned,
    /// Not applied; the warning says why and what to install.
    Skipped(String),
    /// Ours and no longer rendered, but kept (namespaces).
    Kept(String),
    /// The server's (or our) message.
    Failed(String),
}

impl Outcome {
    /// The word printed for it.
    pub fn word(&self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Configured => "configured",
            Outcome::Unchanged => "unchanged",
            Outcome::Pruned => "pruned",
            Outcome::Skipped(_) => "skipped",
            Outcome::Kept(_) => "kept",
            Outcome::Failed(_) => "failed",
        }
    }
}

/// One object's result, as a progress line prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectResult {
    pub key: ObjectKey,
    pub outcome: Outcome,
    /// Extra information (a dry-run caveat).
    pub note: Option<String>,
}

impl fmt::Display for ObjectResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:<10} {}", self.outcome.word(), self.key)?;
        match &self.outcome {
            Outcome::Skipped(why) | Outcome::Kept(why) | Outcome::Failed(why) => write!(f, ": {why}")?,
            _ => {}
        }
        if let Some(note) = &self.note {
            write!(f, " ({note})")?;
        }
        Ok(())
    }
}

/// Everything an apply did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyReport {
    pub dry_run: bool,
    pub results: Vec<ObjectResult>,
}

impl ApplyReport {
    /// Objects whose outcome has this word (`created`, `failed`, …).
    pub fn count(&self, word: &str) -> usize {
        self.results.iter().filter(|r| r.outcome.word() == word).count()
    }

    /// The failed objects.
    pub fn failures(&self) -> impl Iterator<Item = &ObjectResult> {
        self.results.iter().filter(|r| matches!(r.outcome, Outcome::Failed(_)))
    }

    pub fn succeeded(&self) -> bool {
        self.failures().next().is_none()
    }

    /// `3 created, 1 configured, 120 unchanged, 0 pruned, 1 skipped, 0 failed`.
    pub fn summary(&self) -> String {
        let words = ["created", "configured", "unchanged", "pruned", "skipped", "kept", "failed"];
        let mut parts: Vec<String> = words
            .iter()
            .filter(|w| !matches!(**w, "kept" | "pruned") || self.count(w) > 0)
            .map(|w| format!("{} {w}", self.count(w)))
            .collect();
        if self.dry_run {
            parts.push("server dry run, nothing was changed".into());
        }
        parts.join(", ")
    }
}

// ---------------------------------------------------------------------------------------
// Pure decisions
// ---------------------------------------------------------------------------------------

/// Server-maintained parts of an object, left out when comparing before and after.
// k8s.io/apimachinery/pkg/apis/meta/v1/types.go ObjectMeta (fields "populated by the system")
const SERVER_METADATA: [&str; 4] = ["managedFields", "resourceVersion", "generation", "creationTimestamp"];

/// The object as far as a change of configuration is concerned: no status (controllers
/// write it), no server bookkeeping.
pub fn comparable(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Value::Object(map) = &mut copy {
        map.remove("status");
        if let Some(Value::Object(metadata)) = map.get_mut("metadata") {
            for field in SERVER_METADATA {
                metadata.remove(field);
            }
        }
    }
    copy
}

/// Created, configured or unchanged: what an apply answered `after` did to `before`.
// sigs.k8s.io/kubectl printers: "created" / "configured" / "unchanged" (apply.go printObjects)
pub fn outcome_of_apply(before: Option<&Value>, after: &Value) -> Outcome {
    match before {
        None => Outcome::Created,
        Some(before) if comparable(before) == comparable(after) => Outcome::Unchanged,
        Some(_) => Outcome::Configured,
    }
}

/// Our own record in a live object's `managedFields`: the apiVersion of our last server-side
/// apply and the fields (`fieldsV1`) it set.
#[derive(Debug, Clone, PartialEq)]
pub struct AppliedFields {
    pub api_version: String,
    pub fields: Value,
}

/// The `managedFields` entry of our last server-side apply on `object` (manager
/// [`FIELD_MANAGER`], operation `Apply`, the main resource), if the server keeps one.
// k8s.io/apimachinery/pkg/apis/meta/v1/types.go ManagedFieldsEntry
pub fn applied_fields(object: &Value) -> Option<AppliedFields> {
    let entries = object.pointer("/metadata/managedFields")?.as_array()?;
    let ours = entries.iter().find(|entry| {
        entry["manager"] == FIELD_MANAGER
            && entry["operation"] == "Apply"
            && entry["fieldsType"] == "FieldsV1"
            && entry.get("subresource").and_then(Value::as_str).is_none_or(str::is_empty)
    })?;
    Some(AppliedFields {
        api_version: ours.get("apiVersion")?.as_str()?.to_string(),
        fields: ours.get("fieldsV1")?.clone(),
    })
}

/// Whether a server-side apply of `body` (apiVersion `api_version`) would leave `live` as it
/// is, so it need not be sent: our last apply used the same apiVersion and set exactly the
/// fields `body` sets, and every one of them still has `body`'s value. Anything it cannot
/// prove (a value the server normalised, a defaulted list key, a field another manager took
/// over or removed, an object being deleted) answers `false`, and the apply is sent.
// sigs.k8s.io/structured-merge-diff/v4/fieldpath/serialize-pe.go (fieldsV1 path elements
// `f:` field, `k:` associative-list key, `v:` set value, `.` the element itself);
// sigs.k8s.io/structured-merge-diff/v4/merge/update.go Updater.Apply (an apply whose merged
// object equals the live one changes nothing)
pub fn is_up_to_date(body: &Value, live: &Value, applied: &AppliedFields, api_version: &str) -> bool {
    if applied.api_version != api_version || live.pointer("/metadata/deletionTimestamp").is_some() {
        return false;
    }
    let (Some(desired), Some(fields)) = (body.as_object(), applied.fields.as_object()) else {
        return false;
    };
    // apiVersion, kind, name and namespace identify the object; fieldsV1 never lists them.
    let mut desired = desired.clone();
    desired.remove("apiVersion");
    desired.remove("kind");
    if let Some(Value::Object(metadata)) = desired.get_mut("metadata") {
        metadata.remove("name");
        metadata.remove("namespace");
        if metadata.is_empty() {
            desired.remove("metadata");
        }
    }
    if body.get("kind").and_then(Value::as_str) == Some("StatefulSet") {
        default_claim_templates(&mut desired);
    }
    let live = with_string_data(&desired, live);
    same_as_applied(&Value::Object(desired), &live, fields)
}

/// A StatefulSet's `volumeClaimTemplates` is one atomic value, and the server defaults each
/// template as it defaults a claim: `spec.volumeMode: Filesystem`, `status.phase: Pending`.
/// The desired templates get the same defaults, so an unchanged StatefulSet compares equal.
// k8s.io/kubernetes/pkg/apis/apps/v1/zz_generated.defaults.go SetObjectDefaults_StatefulSet →
// pkg/apis/core/v1/defaults.go SetDefaults_PersistentVolumeClaim, SetDefaults_PersistentVolumeClaimSpec
fn default_claim_templates(desired: &mut serde_json::Map<String, Value>) {
    let Some(Value::Array(templates)) =
        desired.get_mut("spec").and_then(|spec| spec.get_mut("volumeClaimTemplates"))
    else {
        return;
    };
    for template in templates.iter_mut().filter_map(Value::as_object_mut) {
        if let Some(Value::Object(spec)) = template.get_mut("spec") {
            spec.entry("volumeMode").or_insert_with(|| Value::String("Filesystem".into()));
        }
        let status = template.entry("status").or_insert_with(|| Value::Object(Default::default()));
        if let Value::Object(status) = status {
            status.entry("phase").or_insert_with(|| Value::String("Pending".into()));
        }
    }
}

/// A Secret's `stringData` is write-only: the server stores each value base64-encoded in
/// `data` and keeps no `stringData`. So the live Secret gets back, for comparison, each
/// desired `stringData` entry whose encoding is what `data` holds.
// k8s.io/kubernetes/pkg/apis/core/v1/conversion.go Convert_v1_Secret_To_core_Secret
fn with_string_data(desired: &serde_json::Map<String, Value>, live: &Value) -> Value {
    use base64::Engine as _;
    let Some(Value::Object(string_data)) = desired.get("stringData") else { return live.clone() };
    if live.get("kind").and_then(Value::as_str) != Some("Secret") {
        return live.clone();
    }
    let stored: serde_json::Map<String, Value> = string_data
        .iter()
        .filter_map(|(key, value)| {
            let encoded = base64::engine::general_purpose::STANDARD.encode(value.as_str()?);
            let held = live.pointer(&format!("/data/{}", key.replace('~', "~0").replace('/', "~1")))?;
            (held.as_str() == Some(encoded.as_str())).then(|| (key.clone(), value.clone()))
        })
        .collect();
    let mut live = live.clone();
    if let Value::Object(map) = &mut live {
        map.insert("stringData".into(), Value::Object(stored));
    }
    live
}

/// Whether a value is what Go's `omitempty` leaves out of JSON: `false`, `0` or `""`.
// encoding/json: "omitempty ... false, 0, a nil pointer, a nil interface value, and any empty array, slice, map, or string"
fn is_omitted_zero(value: &Value) -> bool {
    match value {
        Value::Bool(flag) => !flag,
        Value::Number(number) => number.as_f64() == Some(0.0),
        Value::String(text) => text.is_empty(),
        _ => false,
    }
}

/// [`is_up_to_date`] below one node: `desired` is what we apply there, `live` what the server
/// holds, `fields` the fieldsV1 node of our last apply.
fn same_as_applied(desired: &Value, live: &Value, fields: &serde_json::Map<String, Value>) -> bool {
    let mut children = Vec::new();
    for (path, child) in fields.iter().filter(|(path, _)| path.as_str() != ".") {
        let Some(child) = child.as_object() else { return false };
        children.push((path.as_str(), child));
    }
    // A leaf, or an atomic value (`f:selector: {}`): the server keeps it whole, as applied.
    if children.is_empty() {
        return desired == live;
    }
    match (desired, live) {
        (Value::Object(want), Value::Object(have)) => {
            children.len() == want.len()
                && children.iter().all(|(path, child)| {
                    let Some(name) = path.strip_prefix("f:") else { return false };
                    match (want.get(name), have.get(name)) {
                        (Some(want), Some(have)) => same_as_applied(want, have, child),
                        // We set a zero value; the server stores it and omits it from JSON.
                        (Some(want), None) => is_omitted_zero(want) && is_leaf(child),
                        _ => false,
                    }
                })
        }
        (Value::Array(want), Value::Array(have)) => {
            children.len() == want.len()
                && children.iter().all(|(path, child)| {
                    if let Some(key) = path.strip_prefix("k:") {
                        // An associative list: the one element with these key values, on both sides.
                        let Ok(Value::Object(key)) = serde_json::from_str::<Value>(key) else { return false };
                        let keyed = |element: &&Value| {
                            key.iter().all(|(field, value)| element.get(field) == Some(value))
                        };
                        match (only(want.iter().filter(keyed)), only(have.iter().filter(keyed))) {
                            (Some(want), Some(have)) => same_as_applied(want, have, child),
                            _ => false,
                        }
                    } else if let Some(value) = path.strip_prefix("v:") {
                        // A set: the value once in ours, and present on the server.
                        let Ok(value) = serde_json::from_str::<Value>(value) else { return false };
                        want.iter().filter(|element| **element == value).count() == 1 && have.contains(&value)
                    } else {
                        false
                    }
                })
        }
        _ => false,
    }
}

/// Whether a fieldsV1 node has no children (besides the element itself, `.`).
fn is_leaf(fields: &serde_json::Map<String, Value>) -> bool {
    fields.keys().all(|path| path == ".")
}

/// The single item of an iterator; `None` for none or several.
fn only<T>(mut items: impl Iterator<Item = T>) -> Option<T> {
    let first = items.next()?;
    items.next().is_none().then_some(first)
}

fn labels(object: &Value) -> BTreeMap<&str, &str> {
    object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|map| map.iter().filter_map(|(k, v)| Some((k.as_str(), v.as_str()?))).collect())
        .unwrap_or_default()
}

/// The label selector of this platform's objects (both labels must match).
pub fn platform_selector(platform: &str) -> String {
    format!("{}={},{}={}", MANAGED_BY.0, MANAGED_BY.1, PLATFORM_LABEL, platform)
}

/// Whether a live object is this platform's to prune, and how; `None` leaves it alone.
/// `desired` holds the keys still rendered.
pub fn prune_action(object: &Value, platform: &str, desired: &BTreeSet<ObjectKey>) -> Option<Action> {
    let labels = labels(object);
    let ours =
        labels.get(MANAGED_BY.0) == Some(&MANAGED_BY.1) && labels.get(PLATFORM_LABEL) == Some(&platform);
    if !ours || labels.contains_key(LAB_ID_LABEL) {
        return None;
    }
    // A controller's copy (ReplicaSet of a Deployment, Job of a CronJob) belongs to its owner.
    let owned =
        object.pointer("/metadata/ownerReferences").and_then(Value::as_array).is_some_and(|o| !o.is_empty());
    let deleting = object.pointer("/metadata/deletionTimestamp").is_some();
    let key = ObjectKey::of_value(object);
    if owned || deleting || desired.contains(&key) {
        return None;
    }
    if key.group.is_empty() && key.kind == "Namespace" {
        return Some(Action::KeepNamespace);
    }
    let uid = object.pointer("/metadata/uid").and_then(Value::as_str).map(str::to_string);
    Some(Action::Prune { uid })
}

/// The StorageClass a claim asks for: the legacy beta annotation wins over
/// `spec.storageClassName`; `None` when it names none (not even `""`).
// k8s.io/kubernetes/pkg/apis/core/v1/helper/helpers.go GetPersistentVolumeClaimClass
fn claim_class(claim: &Value) -> Option<&str> {
    claim
        .pointer("/metadata/annotations/volume.beta.kubernetes.io~1storage-class")
        .or_else(|| claim.pointer("/spec/storageClassName"))
        .and_then(Value::as_str)
}

/// Whether a StorageClass is marked as the cluster's default.
// k8s.io/kubernetes/pkg/apis/storage/util/helpers.go IsDefaultAnnotation (GA and beta keys)
fn is_default_class(class: &Value) -> bool {
    ["storageclass.kubernetes.io~1is-default-class", "storageclass.beta.kubernetes.io~1is-default-class"]
        .iter()
        .any(|key| {
            class.pointer(&format!("/metadata/annotations/{key}")) == Some(&Value::String("true".into()))
        })
}

/// The claims (`namespace/name`, sorted) that use StorageClass `class`: those that name it,
/// and — when it is the default — those that name no class at all, which the PV controller
/// gives the default class retroactively.
// k8s.io/kubernetes/pkg/controller/volume/persistentvolume/pv_controller.go assignDefaultStorageClass
pub fn storage_class_users(class: &Value, claims: &[Value]) -> Vec<String> {
    let name = class.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
    let default = is_default_class(class);
    let mut users: Vec<String> = claims
        .iter()
        .filter(|claim| match claim_class(claim) {
            Some(wanted) => wanted == name,
            None => default,
        })
        .map(ObjectKey::of_value)
        .map(|key| format!("{}/{}", key.namespace.unwrap_or_default(), key.name))
        .collect();
    users.sort();
    users
}

/// What to install when a kind is not served.
fn missing_kind_hint(group: &str) -> &'static str {
    match group {
        "snapshot.storage.k8s.io" => "install the CSI external-snapshotter CRDs and snapshot controller",
        "monitoring.coreos.com" => {
            "install the Prometheus Operator, or load the rendered rules file into Prometheus"
        }
        // The ingress's default certificate and its issuer (addons/: the cert-manager chart).
        "cert-manager.io" => "install cert-manager (addons/helmfile.yaml), then apply again",
        _ => "install the CustomResourceDefinition that defines it",
    }
}

/// The CRDs in the desired set, by the `(group, kind)` they define → CRD name.
fn desired_crds(desired: &[Manifest]) -> BTreeMap<(String, String), String> {
    desired
        .iter()
        .filter(|m| {
            m.kind == "CustomResourceDefinition" && group_of(&m.api_version) == "apiextensions.k8s.io"
        })
        .filter_map(|m| {
            let group = m.value.pointer("/spec/group")?.as_str()?.to_string();
            let kind = m.value.pointer("/spec/names/kind")?.as_str()?.to_string();
            Some(((group, kind), m.name.clone()))
        })
        .collect()
}

/// The apply body: the manifest with its namespace where the kind needs one and nowhere else.
fn apply_body(manifest: &Manifest, namespaced: bool) -> Result<Value, String> {
    let mut body = manifest.value.clone();
    let Some(metadata) = body.get_mut("metadata").and_then(Value::as_object_mut) else {
        return Err("the object has no metadata".into());
    };
    match (namespaced, &manifest.namespace) {
        (true, Some(ns)) => {
            metadata.insert("namespace".into(), Value::String(ns.clone()));
        }
        // kubectl would use the context's namespace; a baseline must say where things go.
        (true, None) => {
            return Err(format!("{} is namespaced but the object names no namespace", manifest.kind));
        }
        (false, _) => {
            metadata.remove("namespace");
        }
    }
    Ok(body)
}

/// The whole plan, in execution order: applies by `apply_rank` (stable within a rank), then
/// prunes in reverse rank order (workloads before what they depend on).
pub fn plan(desired: &[Manifest], state: &ClusterState, options: &ApplyOptions) -> Plan {
    let crds = desired_crds(desired);
    let desired_keys: BTreeSet<ObjectKey> = desired.iter().map(ObjectKey::of_manifest).collect();
    // Namespaces this run creates: absent now, rendered, and not failing to read.
    let new_namespaces: BTreeSet<&str> = desired
        .iter()
        .filter(|m| m.kind == "Namespace" && m.api_version == "v1")
        .filter(|m| {
            let key = ObjectKey::of_manifest(m);
            !state.live.contains_key(&key) && !state.read_errors.contains_key(&key)
        })
        .map(|m| m.name.as_str())
        .collect();

    let mut ordered: Vec<&Manifest> = desired.iter().collect();
    ordered.sort_by_key(|m| apply_rank(&m.kind));
    let mut steps = Vec::new();
    for manifest in ordered {
        let key = ObjectKey::of_manifest(manifest);
        let group = group_of(&manifest.api_version).to_string();
        let crd = crds.get(&(group.clone(), manifest.kind.clone())).cloned();
        let action = match (state.served.get(&manifest.api_version, &manifest.kind), crd) {
            (None, None) => Action::Skip {
                reason: format!(
                    "the server does not serve {} {} (CRD absent): {}",
                    manifest.api_version,
                    manifest.kind,
                    missing_kind_hint(&group)
                ),
            },
            (None, Some(crd)) if options.dry_run => Action::CreateUnchecked {
                because: format!("its CustomResourceDefinition {crd} is created by this apply"),
            },
            (None, Some(crd)) => match apply_body(manifest, manifest.namespace.is_some()) {
                Ok(body) => Action::Apply { body, before: None, awaits_crd: Some(crd) },
                Err(reason) => Action::Fail { reason },
            },
            (Some(served), _) => {
                if let Some(message) = state.read_errors.get(&key) {
                    Action::Fail { reason: format!("cannot read the live object: {message}") }
                } else {
                    match apply_body(manifest, served.namespaced) {
                        Err(reason) => Action::Fail { reason },
                        Ok(_)
                            if options.dry_run
                                && served.namespaced
                                && manifest
                                    .namespace
                                    .as_deref()
                                    .is_some_and(|ns| new_namespaces.contains(ns)) =>
                        {
                            Action::CreateUnchecked {
                                because: format!(
                                    "namespace {} is created by this apply",
                                    manifest.namespace.as_deref().unwrap_or_default()
                                ),
                            }
                        }
                        Ok(body) => match (state.live.get(&key), state.applied.get(&key)) {
                            (Some(live), Some(applied))
                                if is_up_to_date(&body, live, applied, &manifest.api_version) =>
                            {
                                Action::UpToDate
                            }
                            (live, _) => Action::Apply { body, before: live.cloned(), awaits_crd: None },
                        },
                    }
                }
            }
        };
        steps.push(Step { key, api_version: manifest.api_version.clone(), action });
    }

    if options.prune {
        let mut prunes: Vec<(u8, Step)> = state
            .labelled
            .iter()
            .filter_map(|object| {
                let key = ObjectKey::of_value(object);
                let action = match prune_action(object, &options.platform, &desired_keys)? {
                    prune @ Action::Prune { .. } if is_storage_class(&key) => {
                        let claims = storage_class_users(object, &state.claims);
                        if claims.is_empty() { prune } else { Action::KeepStorageClassInUse { claims } }
                    }
                    action => action,
                };
                let api_version = object.get("apiVersion").and_then(Value::as_str).unwrap_or("").to_string();
                Some((apply_rank(&key.kind), Step { key, api_version, action }))
            })
            .collect();
        prunes.sort_by(|(rank_a, a), (rank_b, b)| rank_b.cmp(rank_a).then_with(|| a.key.cmp(&b.key)));
        prunes.dedup_by(|(_, a), (_, b)| a.key == b.key);
        steps.extend(prunes.into_iter().map(|(_, step)| step));
    }
    Plan { steps }
}

// ---------------------------------------------------------------------------------------
// The thin async layer
// ---------------------------------------------------------------------------------------

/// The API groups an apply needs to know about: those of the desired objects, of the kinds
/// prune lists, and the CRDs' own group.
pub fn groups_needed(desired: &[Manifest]) -> BTreeSet<String> {
    let mut groups: BTreeSet<String> =
        RENDERED_KINDS.iter().map(|(api_version, _)| group_of(api_version).to_string()).collect();
    groups.extend(desired.iter().map(|m| group_of(&m.api_version).to_string()));
    groups.insert("apiextensions.k8s.io".into());
    groups
}

/// Every kind of these API groups the server serves, in every served version. Aggregated
/// discovery (two requests) when the server offers it, else the classic per-group walk.
/// Only the groups asked for are queried, so an unrelated aggregated API that is down (say
/// `metrics.k8s.io`) cannot fail an apply.
pub async fn discover(client: &Client, groups: &BTreeSet<String>) -> Result<ServedKinds, ClusterError> {
    let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
    let discovery = match Discovery::new(client.clone()).filter(&groups).run_aggregated().await {
        Ok(discovery) => discovery,
        Err(_) => {
            Discovery::new(client.clone()).filter(&groups).run().await.map_err(ClusterError::Discovery)?
        }
    };
    let mut served = ServedKinds::default();
    for group in discovery.groups() {
        for version in group.versions() {
            for (resource, capabilities) in group.versioned_resources(version) {
                served.insert(ServedKind {
                    group: resource.group,
                    version: resource.version,
                    kind: resource.kind,
                    plural: resource.plural,
                    namespaced: capabilities.scope == Scope::Namespaced,
                });
            }
        }
    }
    Ok(served)
}

fn api_for(client: &Client, served: &ServedKind, namespace: Option<&str>) -> Api<DynamicObject> {
    let resource = served.api_resource();
    match (served.namespaced, namespace) {
        (true, Some(ns)) => Api::namespaced_with(client.clone(), ns, &resource),
        _ => Api::all_with(client.clone(), &resource),
    }
}

/// A live object as JSON, `managedFields` kept. Cannot fail: a `DynamicObject` is metadata
/// plus a JSON value.
#[allow(clippy::expect_used, reason = "a DynamicObject is made of JSON and always serialises")]
fn to_json(object: &DynamicObject, served: &ServedKind) -> Value {
    let mut value = serde_json::to_value(object).expect("a DynamicObject serialises to JSON");
    if let Value::Object(map) = &mut value {
        map.insert("apiVersion".into(), Value::String(api_version(&served.group, &served.version)));
        map.insert("kind".into(), Value::String(served.kind.clone()));
    }
    value
}

/// One kind's LIST: every object by key, and whether it holds every object of the kind
/// (cluster-scoped kinds are listed whole) or only this platform's labelled ones.
struct Listing {
    objects: BTreeMap<ObjectKey, Value>,
    whole: bool,
}

/// Whether `object` carries both labels of this platform.
fn is_labelled_ours(object: &Value, platform: &str) -> bool {
    let labels = labels(object);
    labels.get(MANAGED_BY.0) == Some(&MANAGED_BY.1) && labels.get(PLATFORM_LABEL) == Some(&platform)
}

/// Reads what [`plan`] needs: discovery, the live desired objects (with our managedFields
/// entry), and (with prune) every object labelled as this platform's.
///
/// One LIST per kind, all kinds at once: a cluster-scoped kind whole, a namespaced kind across
/// namespaces by this platform's labels. A desired object the lists do not hold is absent when
/// its kind was listed whole or its namespace does not exist; otherwise (an object of ours
/// that lost its labels, one somebody else made, a kind the caller may not list across
/// namespaces) it is read with a GET. So a re-apply costs discovery and one LIST per kind.
pub async fn read_state(
    client: &Client,
    desired: &[Manifest],
    options: &ApplyOptions,
) -> Result<ClusterState, ClusterError> {
    let served = discover(client, &groups_needed(desired)).await?;
    let mut kinds: BTreeSet<(String, String)> =
        desired.iter().map(|m| (m.api_version.clone(), m.kind.clone())).collect();
    kinds.insert(("v1".into(), "Namespace".into()));
    if options.prune {
        kinds.extend(RENDERED_KINDS.iter().map(|(v, k)| (v.to_string(), k.to_string())));
    }
    let selector = platform_selector(&options.platform);
    let listings: Vec<(ServedKind, Result<Vec<Value>, kube::Error>)> = futures::stream::iter(kinds)
        .filter_map(|(version, kind)| {
            let served = served.get(&version, &kind).cloned();
            async move { served }
        })
        .map(|kind| {
            let selector = selector.clone();
            async move {
                let selector = kind.namespaced.then_some(selector.as_str());
                let listed = list_with_managed_fields(client, &kind.api_resource(), selector).await;
                (kind, listed)
            }
        })
        .buffer_unordered(READ_CONCURRENCY)
        .collect()
        .await;

    let mut state = ClusterState { served, ..Default::default() };
    let mut listed: BTreeMap<(String, String), Listing> = BTreeMap::new();
    for (kind, answer) in listings {
        let objects = match answer {
            Ok(objects) => objects,
            // Prune must see every labelled object, or it cannot tell what is no longer rendered.
            Err(source) if options.prune => {
                return Err(ClusterError::List {
                    resource: resource_name(&kind.plural, &kind.group),
                    source,
                });
            }
            // Without prune a failed LIST costs only speed: its objects are read one by one.
            Err(_) => continue,
        };
        if options.prune {
            let ours = objects.iter().filter(|o| is_labelled_ours(o, &options.platform)).cloned();
            state.labelled.extend(ours.map(|mut o| {
                strip_managed_fields(&mut o);
                o
            }));
        }
        let objects = objects.into_iter().map(|o| (ObjectKey::of_value(&o), o)).collect();
        let version = api_version(&kind.group, &kind.version);
        listed.insert((version, kind.kind.clone()), Listing { objects, whole: !kind.namespaced });
    }
    let namespaces = listed.get(&("v1".to_string(), "Namespace".to_string())).filter(|l| l.whole);
    let namespace_exists = |namespace: &str| {
        namespaces
            .is_none_or(|l| l.objects.keys().any(|key| key.name == namespace && key.namespace.is_none()))
    };

    let mut reads = Vec::new();
    for m in desired {
        let Some(kind) = state.served.get(&m.api_version, &m.kind) else { continue };
        let key = ObjectKey::of_manifest(m);
        let listing = listed.get(&(m.api_version.clone(), m.kind.clone()));
        if let Some(object) = listing.and_then(|l| l.objects.get(&key)) {
            state.record_live(key, object.clone());
            continue;
        }
        let absent = listing.is_some_and(|l| l.whole)
            || (kind.namespaced && m.namespace.as_deref().is_some_and(|ns| !namespace_exists(ns)));
        if !absent {
            reads.push((key, kind.clone()));
        }
    }
    let answers: Vec<(ObjectKey, Result<Option<Value>, String>)> = futures::stream::iter(reads)
        .map(|(key, kind)| async move {
            let api = api_for(client, &kind, key.namespace.as_deref());
            let answer = api
                .get_opt(&key.name)
                .await
                .map(|found| found.map(|object| to_json(&object, &kind)))
                .map_err(|e| describe_error(&e));
            (key, answer)
        })
        .buffer_unordered(READ_CONCURRENCY)
        .collect()
        .await;
    for (key, answer) in answers {
        match answer {
            Ok(Some(value)) => state.record_live(key, value),
            Ok(None) => {}
            Err(message) => {
                state.read_errors.insert(key, message);
            }
        }
    }
    if options.prune {
        let storage_class_listed = state.labelled.iter().any(|o| is_storage_class(&ObjectKey::of_value(o)));
        if storage_class_listed && let Some(claims) = state.served.get("v1", "PersistentVolumeClaim").cloned()
        {
            state.claims = list_all(client, &claims.api_resource(), None).await.map_err(|source| {
                ClusterError::List { resource: resource_name(&claims.plural, &claims.group), source }
            })?;
        }
    }
    Ok(state)
}

impl ClusterState {
    /// Keeps a live desired object: our managedFields entry apart, the object without them.
    fn record_live(&mut self, key: ObjectKey, mut object: Value) {
        if let Some(applied) = applied_fields(&object) {
            self.applied.insert(key.clone(), applied);
        }
        strip_managed_fields(&mut object);
        self.live.insert(key, object);
    }
}

/// The server's message for a failed write, with what to do about it: an apply conflict
/// names `--force`, a change the server refuses to make to an existing object (an immutable
/// field) says what blocks it and how to proceed.
fn write_failure(error: &kube::Error, key: &ObjectKey) -> String {
    let kube::Error::Api(status) = error else { return describe_error(error) };
    let reason = if status.reason.is_empty() { "Failure" } else { status.reason.as_str() };
    let message = format!("{} ({reason}, HTTP {})", compact_message(&status.message), status.code);
    if status.code == 409 {
        // k8s.io/apiserver/pkg/endpoints/handlers/fieldmanager: apply conflicts are 409 Conflict
        format!("{message}; another field manager owns these fields: re-run with --force to take them over")
    } else if status.code == 422 && is_immutable_field_message(&status.message) {
        format!("{message}; {}", immutable_field_hint(key))
    } else {
        message
    }
}

/// The server's message on one line: a multi-line message (the object diff some validations
/// append, as PersistentVolumeClaim's does) keeps its first line and its changed lines.
pub fn compact_message(message: &str) -> String {
    let mut lines = message.lines();
    let first = lines.next().unwrap_or_default().trim_end().to_string();
    let changes: Vec<&str> = lines
        .map(str::trim)
        .filter(|line| {
            (line.starts_with("- ") || line.starts_with("+ "))
                && !line.starts_with("--")
                && !line.starts_with("++")
        })
        .map(|line| line.trim_end_matches(','))
        .collect();
    if changes.is_empty() { first } else { format!("{first} [{}]", changes.join("; ")) }
}

/// Whether a 422 says the change touches a field that cannot change once the object exists:
/// `field is immutable` (ValidateImmutableField), `may not change once set` (a Service's
/// clusterIP), `Forbidden: updates to …` (StatefulSet spec, StorageClass parameters),
/// `spec is immutable after creation` (PersistentVolumeClaim).
// k8s.io/apimachinery/pkg/api/validation/objectmeta.go ValidateImmutableField ("field is immutable");
// k8s.io/kubernetes/pkg/apis/core/validation/validation.go ValidatePersistentVolumeClaimUpdate,
// ValidateServiceUpdate; pkg/apis/apps/validation/validation.go ValidateStatefulSetUpdate;
// pkg/apis/storage/validation/validation.go ValidateStorageClassUpdate
pub fn is_immutable_field_message(message: &str) -> bool {
    ["is immutable", "may not change once set", "Forbidden: updates to"].iter().any(|m| message.contains(m))
}

/// What blocks an immutable change of this kind of object, and how to proceed: delete it and
/// let the next apply recreate it, with the kubectl command and what deleting it costs.
pub fn immutable_field_hint(key: &ObjectKey) -> String {
    let namespace = key.namespace.as_deref().map(|ns| format!(" -n {ns}")).unwrap_or_default();
    let delete = format!("kubectl delete {} {}{namespace}", key.kind.to_lowercase(), key.name);
    let (what, how) = match key.kind.as_str() {
        "PersistentVolumeClaim" => (
            "a claim's spec cannot change once it exists (only resources.requests and volumeAttributesClassName can)",
            format!(
                "back up its data, stop the pods that mount it, `{delete}` (its volume goes with it unless the \
                 PersistentVolume's reclaimPolicy is Retain), then re-run autolabs apply"
            ),
        ),
        "StatefulSet" => (
            "only replicas, ordinals, template, updateStrategy, revisionHistoryLimit, \
             persistentVolumeClaimRetentionPolicy and minReadySeconds of a StatefulSet can change \
             (not volumeClaimTemplates, selector or serviceName)",
            format!(
                "`{delete} --cascade=orphan` (its pods keep running), then re-run autolabs apply, which \
                 recreates it and adopts them; claims already made from its volumeClaimTemplates keep their \
                 old spec until deleted"
            ),
        ),
        "Service" => (
            "a Service's clusterIP(s) cannot change once set",
            format!("`{delete}`, then re-run autolabs apply (it gets a new cluster IP)"),
        ),
        "Deployment" | "DaemonSet" | "ReplicaSet" => (
            "a workload's spec.selector cannot change in apps/v1",
            format!("`{delete}` (its pods go with it), then re-run autolabs apply"),
        ),
        "Job" => (
            "a Job's selector and pod template cannot change",
            format!("`{delete}`, then re-run autolabs apply"),
        ),
        "StorageClass" => (
            "a StorageClass's provisioner, parameters, reclaimPolicy and volumeBindingMode cannot change",
            format!(
                "`{delete}` (volumes and claims that exist are not affected), then re-run autolabs apply"
            ),
        ),
        _ => (
            "the server does not change this field once set",
            format!("`{delete}`, then re-run autolabs apply"),
        ),
    };
    format!("blocked: {what}; to proceed: {how}")
}

/// Why a prune was held back after failed applies.
pub fn held_prune_reason(failed: usize) -> String {
    format!(
        "not pruned: {failed} object(s) failed in this run, and nothing is pruned after a failure \
         (what is no longer rendered may still be used by what failed); fix the failures, then re-run with --prune"
    )
}

/// Why a StorageClass that is no longer rendered is kept.
fn storage_class_in_use_reason(claims: &[String]) -> String {
    format!(
        "not pruned: {} PersistentVolumeClaim(s) use this StorageClass ({}); move or delete them first",
        claims.len(),
        claims.join(", ")
    )
}

/// Whether a CustomResourceDefinition's `Established` condition is `True`: its kind is served.
// k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/helpers.go IsCRDConditionTrue(Established)
pub fn is_established(crd: &Value) -> bool {
    crd.pointer("/status/conditions").and_then(Value::as_array).is_some_and(|conditions| {
        conditions.iter().any(|c| c["type"] == "Established" && c["status"] == "True")
    })
}

/// Waits for a CRD applied in this run to report `Established=True`.
async fn wait_established(client: &Client, crd: &str) -> Result<(), String> {
    let resource = ApiResource {
        group: "apiextensions.k8s.io".into(),
        version: "v1".into(),
        api_version: "apiextensions.k8s.io/v1".into(),
        kind: "CustomResourceDefinition".into(),
        plural: "customresourcedefinitions".into(),
    };
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
    let deadline = tokio::time::Instant::now() + CRD_ESTABLISHED_TIMEOUT;
    loop {
        if let Ok(Some(object)) = api.get_opt(crd).await
            && serde_json::to_value(&object).is_ok_and(|crd| is_established(&crd))
        {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "CustomResourceDefinition {crd} was not Established within {}s",
                CRD_ESTABLISHED_TIMEOUT.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Runs a plan, calling `progress` after each object, and returns every result. Object
/// failures are results, not errors; the error is for discovery failing mid-run.
pub async fn execute<F: FnMut(&ObjectResult)>(
    client: &Client,
    plan: &Plan,
    served: &ServedKinds,
    options: &ApplyOptions,
    mut progress: F,
) -> Result<ApplyReport, ClusterError> {
    let mut served = served.clone();
    let mut established: BTreeSet<String> = BTreeSet::new();
    let mut report = ApplyReport { dry_run: options.dry_run, results: Vec::new() };
    let mut next = 0;
    while next < plan.steps.len() {
        // A run of plain applies of one rank: nothing in it depends on another (see
        // `apply_rank`), so they are sent concurrently, and reported in plan order.
        let batch = plain_apply_batch(&plan.steps[next..], &served);
        if batch > 1 {
            let steps = &plan.steps[next..next + batch];
            let outcomes: Vec<Outcome> = futures::stream::iter(steps)
                .map(|step| {
                    let served = &served;
                    async move {
                        match &step.action {
                            Action::Apply { body, before, .. } => {
                                #[allow(
                                    clippy::expect_used,
                                    reason = "plain_apply_batch takes only steps of served kinds"
                                )]
                                let kind =
                                    served.get(&step.api_version, &step.key.kind).expect("served: checked");
                                send_apply(client, kind, step, body, before.as_ref(), options).await
                            }
                            _ => Outcome::Unchanged,
                        }
                    }
                })
                .buffered(WRITE_CONCURRENCY)
                .collect()
                .await;
            for (step, outcome) in steps.iter().zip(outcomes) {
                let result = ObjectResult { key: step.key.clone(), outcome, note: None };
                progress(&result);
                report.results.push(result);
            }
            next += batch;
            continue;
        }
        let step = &plan.steps[next];
        next += 1;
        let failed_so_far = report.count("failed");
        let (outcome, note) = match &step.action {
            // Prunes come after every apply: after a failed apply nothing is pruned, since what
            // is no longer rendered may still be in use by what failed to change (a StorageClass
            // of claims whose spec cannot change, say).
            Action::Prune { .. } if failed_so_far > 0 => {
                (Outcome::Kept(held_prune_reason(failed_so_far)), None)
            }
            Action::KeepStorageClassInUse { claims } => {
                (Outcome::Kept(storage_class_in_use_reason(claims)), None)
            }
            Action::Skip { reason } => (Outcome::Skipped(reason.clone()), None),
            Action::UpToDate => (Outcome::Unchanged, None),
            Action::Fail { reason } => (Outcome::Failed(reason.clone()), None),
            Action::KeepNamespace => (
                Outcome::Kept(
                    "no longer rendered, but a namespace is never pruned (deleting it deletes everything \
                     in it): delete it by hand once it is empty"
                        .into(),
                ),
                None,
            ),
            Action::CreateUnchecked { because } => {
                (Outcome::Created, Some(format!("not checked by the server: {because}")))
            }
            Action::Apply { body, before, awaits_crd } => {
                let mut ready = Ok(());
                if let Some(crd) = awaits_crd
                    && !established.contains(crd)
                {
                    ready = wait_established(client, crd).await;
                    if ready.is_ok() {
                        established.insert(crd.clone());
                        let groups: BTreeSet<String> =
                            plan.steps.iter().map(|s| s.key.group.clone()).collect();
                        served = discover(client, &groups).await?;
                    }
                }
                match (ready, served.get(&step.api_version, &step.key.kind).cloned()) {
                    (Err(reason), _) => (Outcome::Failed(reason), None),
                    (Ok(()), None) => (
                        Outcome::Failed(format!(
                            "the server does not serve {} {}",
                            step.api_version, step.key.kind
                        )),
                        None,
                    ),
                    (Ok(()), Some(kind)) => {
                        (send_apply(client, &kind, step, body, before.as_ref(), options).await, None)
                    }
                }
            }
            Action::Prune { uid } => match served.get(&step.api_version, &step.key.kind).cloned() {
                None => (Outcome::Failed(format!("the server no longer serves {}", step.api_version)), None),
                Some(kind) => {
                    let api = api_for(client, &kind, step.key.namespace.as_deref());
                    let mut params = DeleteParams::background();
                    params.dry_run = options.dry_run;
                    params.preconditions = Some(Preconditions { uid: uid.clone(), resource_version: None });
                    match api.delete(&step.key.name, &params).await {
                        Ok(_) => (Outcome::Pruned, None),
                        // Already gone: what prune wanted.
                        Err(error) if error_code(&error) == Some(404) => (Outcome::Pruned, None),
                        Err(error) => (Outcome::Failed(write_failure(&error, &step.key)), None),
                    }
                }
            },
        };
        let result = ObjectResult { key: step.key.clone(), outcome, note };
        progress(&result);
        report.results.push(result);
    }
    Ok(report)
}

/// How many leading steps are plain applies (no CRD to wait for, kind served) or objects up
/// to date, of the same apply rank: the batch [`execute`] may send at once.
fn plain_apply_batch(steps: &[Step], served: &ServedKinds) -> usize {
    let plain = |step: &Step| {
        matches!(step.action, Action::UpToDate)
            || (matches!(step.action, Action::Apply { awaits_crd: None, .. })
                && served.get(&step.api_version, &step.key.kind).is_some())
    };
    let Some(first) = steps.first().filter(|s| plain(s)) else { return 0 };
    let rank = apply_rank(&first.key.kind);
    steps.iter().take_while(|s| plain(s) && apply_rank(&s.key.kind) == rank).count()
}

/// One server-side apply (field manager [`FIELD_MANAGER`]), classified against `before`.
async fn send_apply(
    client: &Client,
    kind: &ServedKind,
    step: &Step,
    body: &Value,
    before: Option<&Value>,
    options: &ApplyOptions,
) -> Outcome {
    let api = api_for(client, kind, step.key.namespace.as_deref());
    let mut params = PatchParams::apply(FIELD_MANAGER);
    params.force = options.force;
    params.dry_run = options.dry_run;
    match api.patch(&step.key.name, &params, &Patch::Apply(body)).await {
        Ok(after) => {
            let mut after = to_json(&after, kind);
            strip_managed_fields(&mut after);
            outcome_of_apply(before, &after)
        }
        Err(error) => Outcome::Failed(write_failure(&error, &step.key)),
    }
}

/// Reads the state, plans and executes: the whole `autolabs apply`.
pub async fn apply<F: FnMut(&ObjectResult)>(
    client: &Client,
    desired: &[Manifest],
    options: &ApplyOptions,
    progress: F,
) -> Result<ApplyReport, ClusterError> {
    let state = read_state(client, desired, options).await?;
    let plan = plan(desired, &state, options);
    execute(client, &plan, &state.served, options, progress).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PLATFORM: &str = "autolabs";

    fn manifest(api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> Manifest {
        let mut metadata =
            json!({"name": name, "labels": {MANAGED_BY.0: MANAGED_BY.1, PLATFORM_LABEL: PLATFORM}});
        if let Some(ns) = namespace {
            metadata["namespace"] = json!(ns);
        }
        Manifest {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: namespace.map(str::to_string),
            name: name.into(),
            value: json!({"apiVersion": api_version, "kind": kind, "metadata": metadata}),
        }
    }

    fn served(api_version: &str, kind: &str, plural: &str, namespaced: bool) -> ServedKind {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        ServedKind {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            plural: plural.into(),
            namespaced,
        }
    }

    fn state() -> ClusterState {
        let mut served_kinds = ServedKinds::default();
        for kind in [
            served("v1", "Namespace", "namespaces", false),
            served("v1", "ConfigMap", "configmaps", true),
            served("apps/v1", "Deployment", "deployments", true),
            served("rbac.authorization.k8s.io/v1", "Role", "roles", true),
            served("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", false),
        ] {
            served_kinds.insert(kind);
        }
        ClusterState { served: served_kinds, ..Default::default() }
    }

    fn live(api_version: &str, kind: &str, namespace: Option<&str>, name: &str, labels: Value) -> Value {
        let mut object = json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "uid": format!("uid-{name}"), "labels": labels}});
        if let Some(ns) = namespace {
            object["metadata"]["namespace"] = json!(ns);
        }
        object
    }

    fn ours() -> Value {
        json!({MANAGED_BY.0: MANAGED_BY.1, PLATFORM_LABEL: PLATFORM})
    }

    #[test]
    fn prune_touches_only_this_platforms_unowned_unrendered_objects() {
        let rendered = BTreeSet::from([ObjectKey {
            group: String::new(),
            kind: "ConfigMap".into(),
            namespace: Some("platform".into()),
            name: "kept".into(),
        }]);
        let prune = |name: &str| Some(Action::Prune { uid: Some(format!("uid-{name}")) });
        let mut owned = live("apps/v1", "ReplicaSet", Some("platform"), "web-1", ours());
        owned["metadata"]["ownerReferences"] = json!([{"kind": "Deployment", "name": "web"}]);
        let mut deleting = live("v1", "ConfigMap", Some("platform"), "going", ours());
        deleting["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        // (why, object, expected): each row one rule of `prune_action`.
        let rows: Vec<(&str, Value, Option<Action>)> = vec![
            (
                "both labels, not rendered: pruned",
                live("v1", "ConfigMap", Some("platform"), "old", ours()),
                prune("old"),
            ),
            (
                "still rendered: applied, not pruned",
                live("v1", "ConfigMap", Some("platform"), "kept", ours()),
                None,
            ),
            (
                "another platform's object",
                live(
                    "v1",
                    "ConfigMap",
                    Some("platform"),
                    "x",
                    json!({MANAGED_BY.0: MANAGED_BY.1, PLATFORM_LABEL: "other"}),
                ),
                None,
            ),
            ("no labels at all", live("v1", "ConfigMap", Some("platform"), "x", json!({})), None),
            (
                "platform label without managed-by",
                live("v1", "ConfigMap", Some("platform"), "x", json!({PLATFORM_LABEL: PLATFORM})),
                None,
            ),
            (
                "a lab object (managed-by, lab id, no platform label): the provisioner's",
                live(
                    "v1",
                    "Pod",
                    Some("labs"),
                    "lab-a",
                    json!({MANAGED_BY.0: MANAGED_BY.1, LAB_ID_LABEL: "a"}),
                ),
                None,
            ),
            (
                "a lab object even if it carried the platform label",
                live(
                    "v1",
                    "Pod",
                    Some("labs"),
                    "lab-b",
                    json!({MANAGED_BY.0: MANAGED_BY.1, PLATFORM_LABEL: PLATFORM, LAB_ID_LABEL: "b"}),
                ),
                None,
            ),
            ("a controller's copy (ownerReference) belongs to its owner", owned, None),
            ("already being deleted", deleting, None),
            (
                "a namespace is kept, never deleted",
                live("v1", "Namespace", None, "old-ns", ours()),
                Some(Action::KeepNamespace),
            ),
        ];
        for (why, object, expected) in rows {
            assert_eq!(prune_action(&object, PLATFORM, &rendered), expected, "{why}");
        }
    }

    #[test]
    fn outcomes_ignore_server_maintained_fields() {
        let before = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "resourceVersion": "5", "generation": 1, "managedFields": [{"manager": "autolabs"}]}, "data": {"k": "v"}});
        let mut bookkeeping = before.clone();
        bookkeeping["metadata"]["resourceVersion"] = json!("9");
        bookkeeping["metadata"]["managedFields"] = json!([{"manager": "autolabs", "time": "later"}]);
        bookkeeping["status"] = json!({"phase": "whatever a controller wrote"});
        let mut changed = before.clone();
        changed["data"]["k"] = json!("w");
        let mut relabelled = before.clone();
        relabelled["metadata"]["labels"] = json!({"a": "b"});
        // (why, before, after, outcome)
        let rows = [
            ("nothing existed", None, before.clone(), Outcome::Created),
            ("identical", Some(before.clone()), before.clone(), Outcome::Unchanged),
            (
                "only server bookkeeping and status differ",
                Some(before.clone()),
                bookkeeping,
                Outcome::Unchanged,
            ),
            ("data changed", Some(before.clone()), changed, Outcome::Configured),
            ("labels changed", Some(before.clone()), relabelled, Outcome::Configured),
        ];
        for (why, before, after, expected) in rows {
            assert_eq!(outcome_of_apply(before.as_ref(), &after), expected, "{why}");
        }
    }

    #[test]
    fn plan_orders_by_apply_rank_and_prunes_last_in_reverse() {
        let desired = vec![
            manifest("apps/v1", "Deployment", Some("platform"), "web"),
            manifest("rbac.authorization.k8s.io/v1", "Role", Some("platform"), "reader"),
            manifest("v1", "Namespace", None, "platform"),
            manifest("rbac.authorization.k8s.io/v1", "ClusterRole", None, "viewer"),
        ];
        let mut cluster = state();
        cluster.labelled = vec![
            live("v1", "ConfigMap", Some("platform"), "old-config", ours()),
            live("apps/v1", "Deployment", Some("platform"), "old-web", ours()),
            live("v1", "Namespace", None, "old-ns", ours()),
        ];
        let options = ApplyOptions { prune: true, ..ApplyOptions::new(PLATFORM) };
        let order: Vec<String> =
            plan(&desired, &cluster, &options).steps.iter().map(|s| s.key.to_string()).collect();
        assert_eq!(
            order,
            [
                "Namespace/platform",
                "ClusterRole/viewer",
                "platform/Role/reader",
                "platform/Deployment/web",
                "platform/Deployment/old-web",
                "platform/ConfigMap/old-config",
                "Namespace/old-ns",
            ]
        );
    }

    #[test]
    fn plan_decides_each_object() {
        let mut crd =
            manifest("apiextensions.k8s.io/v1", "CustomResourceDefinition", None, "widgets.example.com");
        crd.value["spec"] = json!({"group": "example.com", "names": {"kind": "Widget"}});
        let mut stray_namespace = manifest("rbac.authorization.k8s.io/v1", "ClusterRole", None, "viewer");
        stray_namespace.value["metadata"]["namespace"] = json!("platform");
        stray_namespace.namespace = Some("platform".into());
        let desired = vec![
            manifest("v1", "Namespace", None, "platform"),
            manifest("v1", "Namespace", None, "existing"),
            manifest("v1", "ConfigMap", Some("platform"), "in-new-namespace"),
            manifest("v1", "ConfigMap", Some("existing"), "in-existing-namespace"),
            manifest("v1", "ConfigMap", None, "no-namespace"),
            manifest("monitoring.coreos.com/v1", "PrometheusRule", Some("existing"), "alerts"),
            manifest("snapshot.storage.k8s.io/v1", "VolumeSnapshotClass", None, "snapshots"),
            crd,
            manifest("example.com/v1", "Widget", Some("existing"), "w"),
            stray_namespace,
            manifest("apps/v1", "Deployment", Some("existing"), "unreadable"),
        ];
        let mut cluster = state();
        cluster
            .live
            .insert(ObjectKey::of_manifest(&desired[1]), live("v1", "Namespace", None, "existing", ours()));
        cluster.read_errors.insert(ObjectKey::of_manifest(&desired[10]), "forbidden".into());
        let action_of = |options: &ApplyOptions, id: &str| {
            plan(&desired, &cluster, options)
                .steps
                .into_iter()
                .find(|s| s.key.to_string() == id)
                .map(|s| s.action)
                .unwrap_or_else(|| panic!("{id} not planned"))
        };
        let apply = ApplyOptions::new(PLATFORM);
        let dry_run = ApplyOptions { dry_run: true, ..ApplyOptions::new(PLATFORM) };
        let is_apply = |a: &Action, exists: bool| matches!(a, Action::Apply { before, awaits_crd: None, .. } if before.is_some() == exists);
        let is_skip = |a: &Action, hint: &str| matches!(a, Action::Skip { reason } if reason.contains(hint));
        let is_fail = |a: &Action, text: &str| matches!(a, Action::Fail { reason } if reason.contains(text));
        let is_unchecked = |a: &Action, text: &str| matches!(a, Action::CreateUnchecked { because } if because.contains(text));
        // (why, options, object, check)
        type Check<'a> = Box<dyn Fn(&Action) -> bool + 'a>;
        let rows: Vec<(&str, &ApplyOptions, &str, Check)> = vec![
            ("absent namespace: created", &apply, "Namespace/platform", Box::new(|a| is_apply(a, false))),
            (
                "existing namespace: applied over the live one",
                &apply,
                "Namespace/existing",
                Box::new(|a| is_apply(a, true)),
            ),
            (
                "real run in a new namespace: applied after it",
                &apply,
                "platform/ConfigMap/in-new-namespace",
                Box::new(|a| is_apply(a, false)),
            ),
            (
                "dry run in a namespace this run creates: the server cannot check it",
                &dry_run,
                "platform/ConfigMap/in-new-namespace",
                Box::new(|a| is_unchecked(a, "namespace platform")),
            ),
            (
                "dry run in an existing namespace: the server's dry run",
                &dry_run,
                "existing/ConfigMap/in-existing-namespace",
                Box::new(|a| is_apply(a, false)),
            ),
            (
                "namespaced kind without a namespace",
                &apply,
                "ConfigMap/no-namespace",
                Box::new(|a| is_fail(a, "names no namespace")),
            ),
            (
                "PrometheusRule without the operator: skipped",
                &apply,
                "existing/PrometheusRule/alerts",
                Box::new(|a| is_skip(a, "Prometheus Operator")),
            ),
            (
                "VolumeSnapshotClass without the snapshot CRDs: skipped",
                &apply,
                "VolumeSnapshotClass/snapshots",
                Box::new(|a| is_skip(a, "external-snapshotter")),
            ),
            (
                "a kind whose CRD this run applies waits for it",
                &apply,
                "existing/Widget/w",
                Box::new(
                    |a| matches!(a, Action::Apply { awaits_crd: Some(crd), .. } if crd == "widgets.example.com"),
                ),
            ),
            (
                "the same in a dry run cannot be checked",
                &dry_run,
                "existing/Widget/w",
                Box::new(|a| is_unchecked(a, "widgets.example.com")),
            ),
            (
                "a cluster-scoped object loses a stray namespace",
                &apply,
                "platform/ClusterRole/viewer",
                Box::new(
                    |a| matches!(a, Action::Apply { body, .. } if body.pointer("/metadata/namespace").is_none()),
                ),
            ),
            (
                "a live object that cannot be read",
                &apply,
                "existing/Deployment/unreadable",
                Box::new(|a| is_fail(a, "forbidden")),
            ),
        ];
        for (why, options, id, check) in rows {
            let action = action_of(options, id);
            assert!(check(&action), "{why}: {id} got {action:?}");
        }
        assert!(
            !plan(&desired, &cluster, &apply).steps.iter().any(|s| matches!(s.action, Action::Prune { .. })),
            "no prune without --prune"
        );
    }

    #[test]
    fn summary_and_lines_read_well() {
        let key = ObjectKey {
            group: String::new(),
            kind: "ConfigMap".into(),
            namespace: Some("ns".into()),
            name: "a".into(),
        };
        let report = ApplyReport {
            dry_run: true,
            results: vec![
                ObjectResult {
                    key: key.clone(),
                    outcome: Outcome::Created,
                    note: Some("not checked by the server: x".into()),
                },
                ObjectResult {
                    key: key.clone(),
                    outcome: Outcome::Failed("boom (Invalid, HTTP 422)".into()),
                    note: None,
                },
            ],
        };
        assert_eq!(report.results[0].to_string(), "created    ns/ConfigMap/a (not checked by the server: x)");
        assert_eq!(report.results[1].to_string(), "failed     ns/ConfigMap/a: boom (Invalid, HTTP 422)");
        assert_eq!(
            report.summary(),
            "1 created, 0 configured, 0 unchanged, 0 skipped, 1 failed, server dry run, nothing was changed"
        );
        assert!(!report.succeeded());
    }

    #[test]
    fn a_crd_is_ready_once_established() {
        // (why, status, established)
        let rows = [
            ("no status yet", json!({}), false),
            (
                "names accepted only",
                json!({"conditions": [{"type": "NamesAccepted", "status": "True"}]}),
                false,
            ),
            ("established false", json!({"conditions": [{"type": "Established", "status": "False"}]}), false),
            (
                "established",
                json!({"conditions": [{"type": "NamesAccepted", "status": "True"}, {"type": "Established", "status": "True"}]}),
                true,
            ),
        ];
        for (why, status, expected) in rows {
            assert_eq!(is_established(&json!({"status": status})), expected, "{why}");
        }
    }

    fn key(kind: &str, namespace: Option<&str>, name: &str) -> ObjectKey {
        ObjectKey {
            group: String::new(),
            kind: kind.into(),
            namespace: namespace.map(str::to_string),
            name: name.into(),
        }
    }

    #[test]
    fn write_failures_keep_the_servers_words_and_say_what_to_do_on_conflicts() {
        let status = |message: &str, reason: &str, code: u16| {
            kube::Error::Api(Box::new(kube::core::Status::failure(message, reason).with_code(code)))
        };
        let config_map = key("ConfigMap", Some("ns"), "x");
        let conflict = write_failure(
            &status("Apply failed with 1 conflict: conflict with \"kubectl\"", "Conflict", 409),
            &config_map,
        );
        assert!(conflict.starts_with("Apply failed with 1 conflict"), "{conflict}");
        assert!(conflict.contains("--force"), "{conflict}");
        let invalid = write_failure(&status("ConfigMap \"x\" is invalid", "Invalid", 422), &config_map);
        assert_eq!(invalid, "ConfigMap \"x\" is invalid (Invalid, HTTP 422)");
    }

    #[test]
    fn immutable_field_failures_say_what_blocks_them_and_how_to_proceed() {
        let status = |message: &str| {
            kube::Error::Api(Box::new(kube::core::Status::failure(message, "Invalid").with_code(422)))
        };
        // The real server's words (kube-apiserver v1.35), diff included.
        let pvc = "PersistentVolumeClaim \"data\" is invalid: spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n  core.PersistentVolumeClaimSpec{\n@@ -10,7 +10,7 @@\n  \"VolumeName\": \"\",\n- \"StorageClassName\": \"local-path\",\n+ \"StorageClassName\": \"gp3-encrypted\",\n  \"VolumeMode\": \"Filesystem\",\n";
        let text = write_failure(&status(pvc), &key("PersistentVolumeClaim", Some("db"), "data"));
        assert!(!text.contains('\n'), "one line: {text}");
        assert!(
            text.contains(r#"[- "StorageClassName": "local-path"; + "StorageClassName": "gp3-encrypted"]"#),
            "{text}"
        );
        assert!(text.contains("blocked: a claim's spec cannot change"), "{text}");
        assert!(text.contains("`kubectl delete persistentvolumeclaim data -n db`"), "{text}");
        // (why, message, kind, expected command)
        let rows = [
            (
                "StatefulSet volumeClaimTemplates",
                "StatefulSet.apps \"pg\" is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
                key("StatefulSet", Some("db"), "pg"),
                "`kubectl delete statefulset pg -n db --cascade=orphan`",
            ),
            (
                "Service clusterIP",
                "Service \"web\" is invalid: spec.clusterIPs[0]: Invalid value: []string{\"None\"}: may not change once set",
                key("Service", Some("web"), "web"),
                "`kubectl delete service web -n web`",
            ),
            (
                "Deployment selector",
                "Deployment.apps \"web\" is invalid: spec.selector: Invalid value: v1.LabelSelector{}: field is immutable",
                key("Deployment", Some("web"), "web"),
                "`kubectl delete deployment web -n web`",
            ),
            (
                "StorageClass parameters (cluster-scoped: no -n)",
                "StorageClass.storage.k8s.io \"fast\" is invalid: parameters: Forbidden: updates to parameters are forbidden.",
                key("StorageClass", None, "fast"),
                "`kubectl delete storageclass fast`",
            ),
        ];
        for (why, message, object, command) in rows {
            let text = write_failure(&status(message), &object);
            assert!(text.contains("blocked: ") && text.contains(command), "{why}: {text}");
        }
        let other = write_failure(
            &status("ConfigMap \"x\" is invalid: data: Invalid value: \"\""),
            &key("ConfigMap", Some("ns"), "x"),
        );
        assert!(!other.contains("blocked"), "an ordinary invalid object gets no immutable hint: {other}");
    }

    #[test]
    fn a_storage_class_is_used_by_claims_that_name_it_or_default_to_it() {
        let class = |name: &str, default: bool| {
            let mut object = live("storage.k8s.io/v1", "StorageClass", None, name, ours());
            if default {
                object["metadata"]["annotations"] =
                    json!({"storageclass.kubernetes.io/is-default-class": "true"});
            }
            object
        };
        let claim = |name: &str, spec_class: Option<&str>, annotation: Option<&str>| {
            let mut object = live("v1", "PersistentVolumeClaim", Some("db"), name, json!({}));
            if let Some(c) = spec_class {
                object["spec"] = json!({"storageClassName": c});
            }
            if let Some(c) = annotation {
                object["metadata"]["annotations"] = json!({"volume.beta.kubernetes.io/storage-class": c});
            }
            object
        };
        let claims = vec![
            claim("names-it", Some("local-path"), None),
            claim("names-another", Some("gp3"), None),
            claim("annotation-wins", Some("gp3"), Some("local-path")),
            claim("names-none", None, None),
            claim("empty-class-means-none", Some(""), None),
        ];
        assert_eq!(
            storage_class_users(&class("local-path", false), &claims),
            ["db/annotation-wins", "db/names-it"]
        );
        assert_eq!(
            storage_class_users(&class("local-path", true), &claims),
            ["db/annotation-wins", "db/names-it", "db/names-none"],
            "the default class also serves claims that name no class"
        );
        assert!(storage_class_users(&class("unused", false), &claims).is_empty());
    }

    #[test]
    fn prune_keeps_a_storage_class_live_claims_use() {
        let desired = vec![manifest("v1", "Namespace", None, "platform")];
        let mut cluster = state();
        cluster.served.insert(served("storage.k8s.io/v1", "StorageClass", "storageclasses", false));
        cluster.labelled = vec![
            live("storage.k8s.io/v1", "StorageClass", None, "local-path", ours()),
            live("storage.k8s.io/v1", "StorageClass", None, "unused", ours()),
        ];
        let mut used = live("v1", "PersistentVolumeClaim", Some("db"), "data", json!({}));
        used["spec"] = json!({"storageClassName": "local-path"});
        cluster.claims = vec![used];
        let options = ApplyOptions { prune: true, ..ApplyOptions::new(PLATFORM) };
        let actions: BTreeMap<String, Action> = plan(&desired, &cluster, &options)
            .steps
            .into_iter()
            .map(|s| (s.key.to_string(), s.action))
            .collect();
        assert_eq!(
            actions["StorageClass/local-path"],
            Action::KeepStorageClassInUse { claims: vec!["db/data".into()] }
        );
        assert_eq!(actions["StorageClass/unused"], Action::Prune { uid: Some("uid-unused".into()) });
    }

    #[tokio::test]
    async fn nothing_is_pruned_after_a_failure_in_the_same_run() {
        // Neither a failed step nor a held prune talks to the server: an unreachable one will do.
        let config = kube::Config::new("http://127.0.0.1:9".parse().expect("uri"));
        let client = Client::try_from(config).expect("client");
        let step = |name: &str, action: Action| Step {
            key: key("ConfigMap", Some("platform"), name),
            api_version: "v1".into(),
            action,
        };
        let plan = Plan {
            steps: vec![
                step("broken", Action::Fail { reason: "cannot read the live object: forbidden".into() }),
                step("old-a", Action::Prune { uid: Some("uid-a".into()) }),
                step("old-b", Action::Prune { uid: Some("uid-b".into()) }),
            ],
        };
        let options = ApplyOptions { prune: true, ..ApplyOptions::new(PLATFORM) };
        let report = execute(&client, &plan, &state().served, &options, |_| {}).await.expect("execute");
        assert_eq!((report.count("failed"), report.count("kept"), report.count("pruned")), (1, 2, 0));
        for result in &report.results[1..] {
            assert_eq!(result.outcome, Outcome::Kept(held_prune_reason(1)), "{result}");
        }
        assert!(
            report.results[1].to_string().contains("1 object(s) failed in this run"),
            "{}",
            report.results[1]
        );
    }

    /// A Service as the real server (v1.35) holds it after our apply, with our managedFields
    /// entry as it wrote it, and the apply body that produced it.
    fn applied_service() -> (Value, Value) {
        let body = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "ns", "labels": {"app": "web"}},
            "spec": {"selector": {"app": "web"}, "type": "ClusterIP", "publishNotReadyAddresses": false,
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http"}]}});
        let live = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "ns", "uid": "u", "resourceVersion": "7",
                         "labels": {"app": "web", "added-by-someone": "x"},
                         "managedFields": [
                {"manager": "autolabs", "operation": "Apply", "apiVersion": "v1", "fieldsType": "FieldsV1",
                 "fieldsV1": {"f:metadata": {"f:labels": {"f:app": {}}},
                              "f:spec": {"f:ports": {"k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:name": {}, "f:port": {}, "f:protocol": {}, "f:targetPort": {}}},
                                         "f:publishNotReadyAddresses": {}, "f:selector": {}, "f:type": {}}}},
                {"manager": "kubectl-label", "operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV1",
                 "fieldsV1": {"f:metadata": {"f:labels": {"f:added-by-someone": {}}}}}]},
            "spec": {"selector": {"app": "web"}, "type": "ClusterIP", "clusterIP": "10.0.0.9",
                     "sessionAffinity": "None",
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http"}]},
            "status": {"loadBalancer": {}}});
        (body, live)
    }

    #[test]
    fn an_object_is_up_to_date_only_when_our_last_apply_still_holds_field_for_field() {
        let (body, live) = applied_service();
        let applied = applied_fields(&live).expect("our entry");
        assert_eq!(applied.api_version, "v1");
        assert!(
            is_up_to_date(&body, &live, &applied, "v1"),
            "the same body: up to date (defaults, status and another manager's label do not matter)"
        );
        // (why, body change, live change, apiVersion applied with)
        type Edit = fn(&mut Value);
        let rows: [(&str, Edit, Edit, &str); 10] = [
            ("a value we set changed", |b| b["spec"]["type"] = json!("NodePort"), |_| {}, "v1"),
            ("a field added to the body", |b| b["metadata"]["labels"]["tier"] = json!("web"), |_| {}, "v1"),
            (
                "a field dropped from the body (the apply would remove it)",
                |b| b["metadata"]["labels"] = json!({}),
                |_| {},
                "v1",
            ),
            (
                "an atomic value changed in part",
                |b| b["spec"]["selector"] = json!({"app": "web", "tier": "x"}),
                |_| {},
                "v1",
            ),
            ("a list element's key changed", |b| b["spec"]["ports"][0]["port"] = json!(8080), |_| {}, "v1"),
            (
                "a list element added",
                |b| {
                    b["spec"]["ports"]
                        .as_array_mut()
                        .expect("ports")
                        .push(json!({"port": 81, "protocol": "TCP"}))
                },
                |_| {},
                "v1",
            ),
            (
                "somebody changed our value on the server",
                |_| {},
                |l| l["spec"]["type"] = json!("NodePort"),
                "v1",
            ),
            ("somebody removed our label", |_| {}, |l| l["metadata"]["labels"] = json!({}), "v1"),
            (
                "the object is being deleted",
                |_| {},
                |l| l["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z"),
                "v1",
            ),
            ("applied with another apiVersion", |_| {}, |_| {}, "v2"),
        ];
        for (why, edit_body, edit_live, version) in rows {
            let (mut body, mut live) = applied_service();
            edit_body(&mut body);
            edit_live(&mut live);
            let applied = applied_fields(&live).expect("our entry");
            assert!(!is_up_to_date(&body, &live, &applied, version), "{why}: must be sent");
        }
        // Our false is stored but omitted from JSON (Go's omitempty): still ours, still false.
        let (body, mut live) = applied_service();
        live["spec"].as_object_mut().expect("spec").remove("publishNotReadyAddresses");
        assert!(is_up_to_date(&body, &live, &applied_fields(&live).expect("entry"), "v1"));
        // No entry of ours (the object was made by someone else, or by a non-apply write).
        let (_, mut live) = applied_service();
        live["metadata"]["managedFields"][0]["manager"] = json!("kubectl");
        assert_eq!(applied_fields(&live), None);
    }

    #[test]
    fn a_secret_s_string_data_is_compared_with_the_data_the_server_keeps() {
        let body = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "ns"},
                          "type": "Opaque", "stringData": {"config.yaml": "a: 1\n"}});
        let live = |data: &str| {
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "ns",
                "managedFields": [{"manager": "autolabs", "operation": "Apply", "apiVersion": "v1",
                    "fieldsType": "FieldsV1", "fieldsV1": {"f:stringData": {"f:config.yaml": {}}, "f:type": {}}}]},
                "type": "Opaque", "data": {"config.yaml": data}})
        };
        let same = live("YTogMQo=");
        assert!(is_up_to_date(&body, &same, &applied_fields(&same).expect("entry"), "v1"));
        let changed = live("YTogMgo=");
        assert!(!is_up_to_date(&body, &changed, &applied_fields(&changed).expect("entry"), "v1"));
    }

    #[test]
    fn an_up_to_date_object_is_planned_as_such_and_never_sent() {
        let (body, live) = applied_service();
        let desired = vec![Manifest {
            api_version: "v1".into(),
            kind: "Service".into(),
            namespace: Some("ns".into()),
            name: "web".into(),
            value: body,
        }];
        let mut cluster = state();
        cluster.served.insert(served("v1", "Service", "services", true));
        let key = ObjectKey::of_value(&live);
        cluster.applied.insert(key.clone(), applied_fields(&live).expect("entry"));
        let mut stripped = live.clone();
        strip_managed_fields(&mut stripped);
        cluster.live.insert(key.clone(), stripped);
        let planned = plan(&desired, &cluster, &ApplyOptions::new(PLATFORM));
        assert_eq!(planned.steps[0].action, Action::UpToDate);
        cluster.applied.clear();
        let planned = plan(&desired, &cluster, &ApplyOptions::new(PLATFORM));
        assert!(matches!(planned.steps[0].action, Action::Apply { .. }), "without our entry it is sent");
    }

    #[test]
    fn a_stateful_set_s_claim_templates_are_compared_as_the_server_defaults_them() {
        let template = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
                              "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "8Gi"}}}});
        let body = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "ns"},
                          "spec": {"serviceName": "db", "volumeClaimTemplates": [template]}});
        let live = |templates: Value| {
            json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "ns",
                "managedFields": [{"manager": "autolabs", "operation": "Apply", "apiVersion": "apps/v1",
                    "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:serviceName": {}, "f:volumeClaimTemplates": {}}}}]},
                "spec": {"serviceName": "db", "replicas": 1, "volumeClaimTemplates": templates}})
        };
        let mut defaulted = template.clone();
        defaulted["spec"]["volumeMode"] = json!("Filesystem");
        defaulted["status"] = json!({"phase": "Pending"});
        let same = live(json!([defaulted]));
        assert!(is_up_to_date(&body, &same, &applied_fields(&same).expect("entry"), "apps/v1"));
        let mut bigger = defaulted.clone();
        bigger["spec"]["resources"]["requests"]["storage"] = json!("16Gi");
        let changed = live(json!([bigger]));
        assert!(!is_up_to_date(&body, &changed, &applied_fields(&changed).expect("entry"), "apps/v1"));
    }

    #[tokio::test]
    async fn up_to_date_objects_are_reported_unchanged_without_a_request() {
        // An unreachable server: an up-to-date object must not talk to it.
        let config = kube::Config::new("http://127.0.0.1:9".parse().expect("uri"));
        let client = Client::try_from(config).expect("client");
        let step = |name: &str| Step {
            key: key("ConfigMap", Some("platform"), name),
            api_version: "v1".into(),
            action: Action::UpToDate,
        };
        let plan = Plan { steps: vec![step("a"), step("b"), step("c")] };
        let mut served = state().served;
        served.insert(served_kind_config_map());
        let report =
            execute(&client, &plan, &served, &ApplyOptions::new(PLATFORM), |_| {}).await.expect("execute");
        assert_eq!(report.count("unchanged"), 3, "{}", report.summary());
    }

    fn served_kind_config_map() -> ServedKind {
        served("v1", "ConfigMap", "configmaps", true)
    }

    #[test]
    fn the_prune_selector_requires_both_labels() {
        assert_eq!(platform_selector("p"), "app.kubernetes.io/managed-by=autolabs,autolabs.io/platform=p");
    }
}
