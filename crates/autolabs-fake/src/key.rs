//! Where an object lives in the store, shared by the store and the inputs it caches for
//! admission (so neither imports the other for it).

use crate::resources::{self, ResourceType};

/// Where an object lives: ordered like etcd keys, so each resource (and each namespace within
/// it) is one contiguous range.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    pub group: &'static str,
    pub plural: &'static str,
    /// Empty for cluster-scoped objects.
    pub namespace: String,
    pub name: String,
}

impl ObjectKey {
    pub fn new(resource: &'static ResourceType, namespace: &str, name: &str) -> Self {
        ObjectKey {
            group: resource.group,
            plural: resource.plural,
            namespace: if resource.namespaced { namespace.to_string() } else { String::new() },
            name: name.to_string(),
        }
    }

    pub fn resource(&self) -> Option<&'static ResourceType> {
        resources::RESOURCES.iter().find(|r| r.group == self.group && r.plural == self.plural)
    }
}
