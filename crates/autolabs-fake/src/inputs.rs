//! What admission and the quota controller read, decoded once and kept until it changes.
//!
//! Every pod create reads its namespace object, the namespace's LimitRanges and
//! ResourceQuotas and every PriorityClass, and every write to a namespace with quotas updates
//! their `status.used`. Decoding those objects from the stored JSON (and parsing their
//! quantities) on each request cost more than the admission decisions themselves, so the
//! store keeps the decoded forms here: per namespace for namespaced kinds, once for
//! PriorityClasses. [`InputCache::invalidate`] drops the entry a committed write makes stale
//! (the store calls it for every commit), and the next reader rebuilds it from the stored
//! objects, so what admission sees is always what is stored.

use std::collections::HashMap;
use std::sync::Arc;

use autolabs_k8s::k8s::{LimitRange, Namespace, PriorityClass, ResourceQuota};
use autolabs_resources::QuotaState;
use autolabs_resources::resource_list::{ResourceList, to_k8s_list};
use k8s_openapi::api::core::v1::ResourceQuotaStatus;
use serde::Deserialize;
use serde_json::Value;

use super::admission::ParsedInputs;
use super::key::ObjectKey;

/// A namespace's LimitRanges: the decodable ones, and the engine's reading of them.
#[derive(Debug)]
pub struct LimitRangeInputs {
    pub typed: Vec<LimitRange>,
    pub parsed: Result<autolabs_resources::Namespace, String>,
}

/// One stored ResourceQuota as the quota controller reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredQuota {
    pub key: ObjectKey,
    pub object: Arc<Value>,
    /// `None` when it cannot be decoded or parsed (the controller then skips it).
    pub state: Option<QuotaState>,
    /// Its position in [`QuotaInputs::typed`] and `states`, when it decoded.
    typed_index: Option<usize>,
}

/// A namespace's ResourceQuotas, for admission (`typed`, `parsed`, `states`) and for the
/// quota controller (`stored`).
#[derive(Debug, Clone, PartialEq)]
pub struct QuotaInputs {
    pub stored: Vec<StoredQuota>,
    /// The decodable quotas, in key order.
    pub typed: Vec<ResourceQuota>,
    /// `Namespace::from_k8s(&[], typed)`.
    pub parsed: Result<autolabs_resources::Namespace, String>,
    /// `QuotaState::from_k8s` of each of `typed`.
    pub states: Vec<Result<QuotaState, String>>,
}

impl LimitRangeInputs {
    pub fn build<'a>(objects: impl Iterator<Item = &'a Arc<Value>>) -> Self {
        let typed: Vec<LimitRange> = objects.filter_map(|v| LimitRange::deserialize(&**v).ok()).collect();
        let parsed = autolabs_resources::Namespace::from_k8s(&typed, &[]).map_err(|e| e.to_string());
        LimitRangeInputs { typed, parsed }
    }
}

impl QuotaInputs {
    pub fn build<'a>(objects: impl Iterator<Item = (&'a ObjectKey, &'a Arc<Value>)>) -> Self {
        let mut stored = Vec::new();
        let mut typed = Vec::new();
        let mut states = Vec::new();
        for (key, object) in objects {
            let decoded = ResourceQuota::deserialize(&**object).ok();
            let state = decoded.as_ref().map(|q| QuotaState::from_k8s(q).map_err(|e| e.to_string()));
            stored.push(StoredQuota {
                key: key.clone(),
                object: Arc::clone(object),
                state: state.as_ref().and_then(|s| s.as_ref().ok().cloned()),
                typed_index: decoded.is_some().then_some(typed.len()),
            });
            if let (Some(quota), Some(state)) = (decoded, state) {
                typed.push(quota);
                states.push(state);
            }
        }
        let parsed = match states.iter().all(Result::is_ok) {
            // Exactly what `Namespace::from_k8s` would build, without parsing every quota again.
            true => Ok(autolabs_resources::Namespace {
                limit_ranges: Vec::new(),
                quotas: states.iter().filter_map(|s| s.as_ref().ok().cloned()).collect(),
            }),
            // Its error names the quota; let it word it.
            false => autolabs_resources::Namespace::from_k8s(&[], &typed).map_err(|e| e.to_string()),
        };
        QuotaInputs { stored, typed, parsed, states }
    }

    /// These inputs after the quota controller wrote `used` into `stored[index]`'s status
    /// (stored now as `object`): what [`QuotaInputs::build`] would decode from the new
    /// objects, without decoding every quota again on each write. `None` when the quota was
    /// not readable (the caller then rebuilds).
    pub fn with_used(mut self, index: usize, object: Arc<Value>, used: &ResourceList) -> Option<QuotaInputs> {
        let stored = self.stored.get_mut(index)?;
        let typed_index = stored.typed_index?;
        let state = stored.state.as_mut()?;
        state.used = used.clone();
        let state = state.clone();
        let typed = self.typed.get_mut(typed_index)?;
        typed.metadata.resource_version =
            object.pointer("/metadata/resourceVersion").and_then(Value::as_str).map(str::to_string);
        stored.object = object;
        typed.status = Some(ResourceQuotaStatus {
            // As `quota::write_status` writes them: empty lists as `{}`.
            hard: Some(to_k8s_list(&state.hard).unwrap_or_default()),
            used: Some(to_k8s_list(used).unwrap_or_default()),
        });
        *self.states.get_mut(typed_index)? = Ok(state.clone());
        match &mut self.parsed {
            Ok(namespace) => *namespace.quotas.get_mut(typed_index)? = state,
            Err(_) => return None,
        }
        Some(self)
    }
}

/// The decoded inputs, by namespace. Entries are built on first use after a change.
#[derive(Default)]
pub struct InputCache {
    priority_classes: Option<Arc<Vec<PriorityClass>>>,
    namespaces: HashMap<String, Option<Arc<Namespace>>>,
    limit_ranges: HashMap<String, Arc<LimitRangeInputs>>,
    quotas: HashMap<String, Arc<QuotaInputs>>,
}

impl InputCache {
    /// Forgets what a committed write to `key` made stale.
    pub fn invalidate(&mut self, key: &ObjectKey) {
        match (key.group, key.plural) {
            ("", "namespaces") => {
                self.namespaces.remove(&key.name);
            }
            ("", "limitranges") => {
                self.limit_ranges.remove(&key.namespace);
            }
            ("", "resourcequotas") => {
                self.quotas.remove(&key.namespace);
            }
            ("scheduling.k8s.io", "priorityclasses") => self.priority_classes = None,
            _ => {}
        }
    }

    pub fn priority_classes<'a>(
        &mut self,
        objects: impl FnOnce() -> Vec<&'a Arc<Value>>,
    ) -> Arc<Vec<PriorityClass>> {
        let classes = self.priority_classes.get_or_insert_with(|| {
            Arc::new(objects().into_iter().filter_map(|v| PriorityClass::deserialize(&**v).ok()).collect())
        });
        Arc::clone(classes)
    }

    pub fn namespace(
        &mut self,
        name: &str,
        object: impl FnOnce() -> Option<Arc<Value>>,
    ) -> Option<Arc<Namespace>> {
        if let Some(cached) = self.namespaces.get(name) {
            return cached.clone();
        }
        let decoded = object().and_then(|v| Namespace::deserialize(&*v).ok()).map(Arc::new);
        self.namespaces.insert(name.to_string(), decoded.clone());
        decoded
    }

    pub fn limit_ranges(
        &mut self,
        namespace: &str,
        build: impl FnOnce() -> LimitRangeInputs,
    ) -> Arc<LimitRangeInputs> {
        if let Some(cached) = self.limit_ranges.get(namespace) {
            return Arc::clone(cached);
        }
        let built = Arc::new(build());
        self.limit_ranges.insert(namespace.to_string(), Arc::clone(&built));
        built
    }

    /// Replaces a namespace's quota inputs with ones the caller derived from what it wrote.
    pub fn set_quotas(&mut self, namespace: &str, inputs: QuotaInputs) {
        self.quotas.insert(namespace.to_string(), Arc::new(inputs));
    }

    pub fn quotas(&mut self, namespace: &str, build: impl FnOnce() -> QuotaInputs) -> Arc<QuotaInputs> {
        if let Some(cached) = self.quotas.get(namespace) {
            return Arc::clone(cached);
        }
        let built = Arc::new(build());
        self.quotas.insert(namespace.to_string(), Arc::clone(&built));
        built
    }
}

/// The parsed view of cached inputs, for [`super::AdmissionCtx::parsed`].
pub fn parsed<'a>(limit_ranges: &'a LimitRangeInputs, quotas: &'a QuotaInputs) -> ParsedInputs<'a> {
    ParsedInputs { limit_ranges: &limit_ranges.parsed, quotas: &quotas.parsed, quota_states: &quotas.states }
}
