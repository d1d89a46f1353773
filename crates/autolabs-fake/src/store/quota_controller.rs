//! The quota controller: keeps every ResourceQuota's `status.used` current on each write
//! (synchronously, where the real controller lags a moment) and recounts from the stored
//! objects on a deletion or a full resync.
// k8s.io/kubernetes/pkg/controller/resourcequota/resource_quota_controller.go

use super::*;

impl Store {
    /// The quota controller: moves each affected quota's `status.used` by the object's usage.
    pub(super) fn account(
        &mut self,
        resource: &'static ResourceType,
        namespace: &str,
        old: Option<&Value>,
        new: Option<&Value>,
    ) {
        let quotas = self.quota_inputs(namespace);
        if quotas.stored.is_empty() {
            return;
        }
        // A deletion is a replenishment event: the quota controller recounts the namespace's
        // quotas from what is stored, which also drops charges left by refused creates.
        // k8s.io/kubernetes/pkg/controller/resourcequota/resource_quota_controller.go replenishQuota
        if new.is_none() {
            self.recalculate_quotas(Some(namespace));
            return;
        }
        let quota_resource = find("resourcequotas");
        let removed = old.map(|o| QuotaSubject::of(resource, o));
        let added = new.map(|o| QuotaSubject::of(resource, o));
        let empty = Default::default();
        // The decoded inputs kept current with what is written, so the next admission in
        // this namespace need not decode every quota again (each commit below drops them):
        // `None` until a quota is written, then `Some(None)` if they could not be derived.
        let mut written_inputs: Option<Option<QuotaInputs>> = None;
        for (index, quota) in quotas.stored.iter().enumerate() {
            let Some(state) = &quota.state else { continue };
            let add = match &added {
                Some(subject) if subject.counted_by(state) => &subject.usage,
                _ => &empty,
            };
            let remove = match &removed {
                Some(subject) if subject.counted_by(state) => &subject.usage,
                _ => &empty,
            };
            let used = adjust(state, add, remove);
            if used != state.used || quota.object.pointer("/status/used").is_none() {
                let mut updated = (*quota.object).clone();
                write_status(&mut updated, &state.hard, &used);
                let written = self.commit(
                    quota_resource,
                    quota.key.clone(),
                    EventType::Modified,
                    updated,
                    Some(Arc::clone(&quota.object)),
                );
                let before = written_inputs.take().unwrap_or_else(|| Some((*quotas).clone()));
                written_inputs = Some(before.and_then(|i| i.with_used(index, written, &used)));
            }
        }
        if let Some(Some(inputs)) = written_inputs {
            self.inputs.set_quotas(namespace, inputs);
        }
    }

    /// The quota controller's full recalculation: every quota (of `namespace`, or all) gets
    /// `status.used` recounted from the stored objects.
    // k8s.io/kubernetes/pkg/controller/resourcequota/resource_quota_controller.go syncResourceQuota
    pub fn recalculate_quotas(&mut self, namespace: Option<&str>) {
        let quota_resource = find("resourcequotas");
        let quotas: Vec<(ObjectKey, Arc<Value>)> = Self::range_of(&self.objects, quota_resource, namespace)
            .map(|(k, v)| (k.clone(), Arc::clone(v)))
            .collect();
        for (key, quota) in quotas {
            let mut recounted = (*quota).clone();
            self.recount_quota(&key.namespace, &mut recounted);
            if recounted != *quota {
                self.commit(quota_resource, key, EventType::Modified, recounted, Some(quota));
            }
        }
    }

    /// A quota with its status recounted from scratch over the namespace's objects.
    pub(super) fn recount_quota(&self, namespace: &str, quota: &mut Value) {
        let Some(mut state) = state_with_spec_hard(quota) else { return };
        for (key, object) in self.objects.iter().filter(|(k, _)| k.namespace == namespace) {
            let Some(resource) = key.resource() else { continue };
            if resource.plural == "resourcequotas" {
                continue;
            }
            let subject = QuotaSubject::of(resource, object);
            if !subject.counted_by(&state) {
                continue;
            }
            state.used = adjust(&state, &subject.usage, &Default::default());
        }
        write_status(quota, &state.hard, &state.used);
    }

    pub(super) fn hard_changed(old: Option<&Value>, new: &Value) -> bool {
        old.is_none_or(|o| o.pointer("/spec/hard") != new.pointer("/spec/hard"))
    }
}
