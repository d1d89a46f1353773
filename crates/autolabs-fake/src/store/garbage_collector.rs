//! The garbage collector: the owner → dependents index and the ownerReference cascades
//! (background, foreground, orphan), done at once instead of by a controller a moment later.
// k8s.io/kubernetes/pkg/controller/garbagecollector/garbagecollector.go

use super::*;

impl Store {
    pub(super) fn reindex(&mut self, key: &ObjectKey, old: Option<&Value>, new: Option<&Value>) {
        if let Some(old) = old {
            if let Some(uid) = meta_str(old, "uid") {
                self.by_uid.remove(uid);
                if new.is_none() {
                    self.applied_configs.remove(uid);
                    self.update_owners.remove(uid);
                }
            }
            for owner in owner_uids(old) {
                if let Some(set) = self.dependents.get_mut(&owner) {
                    set.remove(key);
                    if set.is_empty() {
                        self.dependents.remove(&owner);
                    }
                }
            }
        }
        if let Some(new) = new {
            if let Some(uid) = meta_str(new, "uid") {
                self.by_uid.insert(uid.to_string(), key.clone());
            }
            for owner in owner_uids(new) {
                self.dependents.entry(owner).or_default().insert(key.clone());
            }
        }
    }

    /// The garbage collector's foreground/background cascade: dependents whose owners are all
    /// gone are deleted (recursively); dependents with another live owner just lose the reference.
    // k8s.io/kubernetes/pkg/controller/garbagecollector/garbagecollector.go attemptToDeleteItem
    pub(super) fn delete_dependents(&mut self, owner: &Value) {
        let Some(owner_uid) = meta_str(owner, "uid").map(String::from) else { return };
        let dependents: Vec<ObjectKey> =
            self.dependents.get(&owner_uid).into_iter().flatten().cloned().collect();
        for key in dependents {
            let Some(dependent) = self.objects.get(&key).cloned() else { continue };
            let Some(resource) = key.resource() else { continue };
            let live_owners = owner_uids(&dependent)
                .into_iter()
                .filter(|uid| *uid != owner_uid && self.by_uid.contains_key(uid))
                .count();
            if live_owners > 0 {
                self.drop_owner_reference(resource, &key, &dependent, &owner_uid);
            } else {
                let _ = self.delete(
                    resource,
                    &key.namespace,
                    &key.name,
                    &DeleteOptions { propagation: Some(Propagation::Background), ..Default::default() },
                );
            }
        }
    }

    // k8s.io/kubernetes/pkg/controller/garbagecollector/garbagecollector.go orphanDependents
    pub(super) fn orphan_dependents(&mut self, owner: &Value) {
        let Some(owner_uid) = meta_str(owner, "uid").map(String::from) else { return };
        let dependents: Vec<ObjectKey> =
            self.dependents.get(&owner_uid).into_iter().flatten().cloned().collect();
        for key in dependents {
            let Some(dependent) = self.objects.get(&key).cloned() else { continue };
            let Some(resource) = key.resource() else { continue };
            self.drop_owner_reference(resource, &key, &dependent, &owner_uid);
        }
    }

    pub(super) fn drop_owner_reference(
        &mut self,
        resource: &'static ResourceType,
        key: &ObjectKey,
        dependent: &Arc<Value>,
        owner_uid: &str,
    ) {
        let mut updated = (**dependent).clone();
        if let Some(refs) = updated.pointer_mut("/metadata/ownerReferences").and_then(Value::as_array_mut) {
            refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(owner_uid));
            if refs.is_empty() {
                meta_mut(&mut updated).remove("ownerReferences");
            }
        }
        self.commit(resource, key.clone(), EventType::Modified, updated, Some(Arc::clone(dependent)));
    }
}

pub(super) fn owner_uids(object: &Value) -> Vec<String> {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .map(|refs| {
            refs.iter().filter_map(|r| r.get("uid").and_then(Value::as_str).map(String::from)).collect()
        })
        .unwrap_or_default()
}
