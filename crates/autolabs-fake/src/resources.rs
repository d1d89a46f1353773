//! The table of resources the fake serves: one line per kind.
//!
//! Every verb, discovery document and watch is driven by this table, so serving a new
//! kind is one more [`ResourceType`] line in [`RESOURCES`]. Objects are normalized through
//! their k8s-openapi type on every write, as the real server decodes into its Go types:
//! unknown fields are dropped and a field of the wrong type is a 400.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use autolabs_k8s::k8s::k8s_openapi;
use k8s_openapi::api::{
    apps, autoscaling, batch, coordination, core, events, networking, policy, rbac, scheduling, storage,
};

/// Which name syntax `metadata.name` must follow (the registry's `ValidateObjectMeta` name function).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// `NameIsDNSSubdomain`: most kinds.
    Dns1123Subdomain,
    /// `ValidateNamespaceName`: namespaces.
    Dns1123Label,
    /// `ValidateServiceName` (`NameIsDNS1035Label`): services.
    Dns1035Label,
    /// `ValidateRBACName` (`path.IsValidPathSegmentName`): RBAC objects.
    PathSegment,
}

/// One served resource: where it lives in the API and how its registry behaves.
#[derive(Clone, Copy)]
pub struct ResourceType {
    /// API group, empty for the core group.
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    /// The URL segment and `details.kind` of errors: `pods`.
    pub plural: &'static str,
    pub singular: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub name_rule: NameRule,
    /// Has a `/status` subresource: writes to the main resource keep the stored status and
    /// status writes keep everything else (the registries' `PrepareForUpdate`).
    pub has_status: bool,
    /// `genericregistry.Store.ReturnDeletedObject`: DELETE answers with the object, not a Status.
    pub returns_deleted_object: bool,
    normalize: fn(Value) -> Result<Value, String>,
}

impl std::fmt::Debug for ResourceType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ResourceType({}/{} {})", self.group, self.version, self.plural)
    }
}

impl PartialEq for ResourceType {
    fn eq(&self, other: &Self) -> bool {
        self.group == other.group && self.version == other.version && self.plural == other.plural
    }
}

impl Eq for ResourceType {}

impl ResourceType {
    /// `v1` or `group/version`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Decodes `object` as this kind's API type and encodes it again (unknown fields dropped).
    pub fn normalize(&self, object: Value) -> Result<Value, String> {
        (self.normalize)(object)
    }

    /// The `count/<resource>[.<group>]` quota name of this resource.
    // k8s.io/kubernetes/pkg/quota/v1/generic/evaluator.go ObjectCountQuotaResourceNameFor
    pub fn count_quota_name(&self) -> String {
        if self.group.is_empty() {
            format!("count/{}", self.plural)
        } else {
            format!("count/{}.{}", self.plural, self.group)
        }
    }
}

fn normalize<T: DeserializeOwned + Serialize>(object: Value) -> Result<Value, String> {
    let typed: T = serde_json::from_value(object).map_err(|e| e.to_string())?;
    serde_json::to_value(typed).map_err(|e| e.to_string())
}

const NAMESPACED: bool = true;
const CLUSTER: bool = false;

/// Builds one table row; `normalize::<T>` ties the row to its k8s-openapi type.
macro_rules! resource {
    ($ty:ty, $group:expr, $version:expr, $plural:expr, $singular:expr, $scope:expr, $short:expr, $rule:ident, status: $status:expr, returns: $returns:expr) => {
        ResourceType {
            group: $group,
            version: $version,
            kind: <$ty as k8s_openapi::Resource>::KIND,
            plural: $plural,
            singular: $singular,
            namespaced: $scope,
            short_names: $short,
            name_rule: NameRule::$rule,
            has_status: $status,
            returns_deleted_object: $returns,
            normalize: normalize::<$ty>,
        }
    };
}

/// Every resource the fake serves. `returns` follows each registry's `ReturnDeletedObject`.
#[rustfmt::skip]
pub static RESOURCES: &[ResourceType] = &[
    resource!(core::v1::Namespace, "", "v1", "namespaces", "namespace", CLUSTER, &["ns"], Dns1123Label, status: true, returns: true),
    resource!(core::v1::Pod, "", "v1", "pods", "pod", NAMESPACED, &["po"], Dns1123Subdomain, status: true, returns: true),
    resource!(core::v1::Service, "", "v1", "services", "service", NAMESPACED, &["svc"], Dns1035Label, status: true, returns: true),
    resource!(core::v1::ResourceQuota, "", "v1", "resourcequotas", "resourcequota", NAMESPACED, &["quota"], Dns1123Subdomain, status: true, returns: false),
    resource!(core::v1::LimitRange, "", "v1", "limitranges", "limitrange", NAMESPACED, &["limits"], Dns1123Subdomain, status: false, returns: false),
    resource!(core::v1::Event, "", "v1", "events", "event", NAMESPACED, &["ev"], Dns1123Subdomain, status: false, returns: false),
    resource!(core::v1::ConfigMap, "", "v1", "configmaps", "configmap", NAMESPACED, &["cm"], Dns1123Subdomain, status: false, returns: false),
    resource!(core::v1::Secret, "", "v1", "secrets", "secret", NAMESPACED, &[], Dns1123Subdomain, status: false, returns: false),
    resource!(core::v1::ServiceAccount, "", "v1", "serviceaccounts", "serviceaccount", NAMESPACED, &["sa"], Dns1123Subdomain, status: false, returns: true),
    resource!(core::v1::Node, "", "v1", "nodes", "node", CLUSTER, &["no"], Dns1123Subdomain, status: true, returns: false),
    resource!(core::v1::PersistentVolumeClaim, "", "v1", "persistentvolumeclaims", "persistentvolumeclaim", NAMESPACED, &["pvc"], Dns1123Subdomain, status: true, returns: false),
    resource!(networking::v1::NetworkPolicy, "networking.k8s.io", "v1", "networkpolicies", "networkpolicy", NAMESPACED, &["netpol"], Dns1123Subdomain, status: false, returns: false),
    resource!(networking::v1::Ingress, "networking.k8s.io", "v1", "ingresses", "ingress", NAMESPACED, &["ing"], Dns1123Subdomain, status: true, returns: false),
    resource!(rbac::v1::Role, "rbac.authorization.k8s.io", "v1", "roles", "role", NAMESPACED, &[], PathSegment, status: false, returns: false),
    resource!(rbac::v1::RoleBinding, "rbac.authorization.k8s.io", "v1", "rolebindings", "rolebinding", NAMESPACED, &[], PathSegment, status: false, returns: false),
    resource!(rbac::v1::ClusterRole, "rbac.authorization.k8s.io", "v1", "clusterroles", "clusterrole", CLUSTER, &[], PathSegment, status: false, returns: false),
    resource!(rbac::v1::ClusterRoleBinding, "rbac.authorization.k8s.io", "v1", "clusterrolebindings", "clusterrolebinding", CLUSTER, &[], PathSegment, status: false, returns: false),
    resource!(apps::v1::Deployment, "apps", "v1", "deployments", "deployment", NAMESPACED, &["deploy"], Dns1123Subdomain, status: true, returns: false),
    resource!(apps::v1::StatefulSet, "apps", "v1", "statefulsets", "statefulset", NAMESPACED, &["sts"], Dns1123Subdomain, status: true, returns: false),
    resource!(apps::v1::DaemonSet, "apps", "v1", "daemonsets", "daemonset", NAMESPACED, &["ds"], Dns1123Subdomain, status: true, returns: false),
    resource!(apps::v1::ReplicaSet, "apps", "v1", "replicasets", "replicaset", NAMESPACED, &["rs"], Dns1123Subdomain, status: true, returns: false),
    resource!(batch::v1::Job, "batch", "v1", "jobs", "job", NAMESPACED, &[], Dns1123Subdomain, status: true, returns: false),
    resource!(batch::v1::CronJob, "batch", "v1", "cronjobs", "cronjob", NAMESPACED, &["cj"], Dns1123Subdomain, status: true, returns: false),
    resource!(scheduling::v1::PriorityClass, "scheduling.k8s.io", "v1", "priorityclasses", "priorityclass", CLUSTER, &["pc"], Dns1123Subdomain, status: false, returns: false),
    resource!(storage::v1::StorageClass, "storage.k8s.io", "v1", "storageclasses", "storageclass", CLUSTER, &["sc"], Dns1123Subdomain, status: false, returns: true),
    resource!(policy::v1::PodDisruptionBudget, "policy", "v1", "poddisruptionbudgets", "poddisruptionbudget", NAMESPACED, &["pdb"], Dns1123Subdomain, status: true, returns: false),
    resource!(autoscaling::v2::HorizontalPodAutoscaler, "autoscaling", "v2", "horizontalpodautoscalers", "horizontalpodautoscaler", NAMESPACED, &["hpa"], Dns1123Subdomain, status: true, returns: false),
    resource!(coordination::v1::Lease, "coordination.k8s.io", "v1", "leases", "lease", NAMESPACED, &[], Dns1123Subdomain, status: false, returns: false),
    resource!(events::v1::Event, "events.k8s.io", "v1", "events", "event", NAMESPACED, &["ev"], Dns1123Subdomain, status: false, returns: false),
];

/// The resource served at `group/version` under `plural`.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceType> {
    RESOURCES.iter().find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The resource of an object's `apiVersion` and `kind`.
pub fn find_kind(api_version: &str, kind: &str) -> Option<&'static ResourceType> {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    RESOURCES.iter().find(|r| r.group == group && r.version == version && r.kind == kind)
}

/// The resource with this plural in any group (first match), for seeding helpers.
pub fn find_plural(plural: &str) -> Option<&'static ResourceType> {
    RESOURCES.iter().find(|r| r.plural == plural)
}

/// The served API groups other than core, each with its versions, in table order.
pub fn groups() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut groups: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
    for r in RESOURCES.iter().filter(|r| !r.group.is_empty()) {
        match groups.iter_mut().find(|(g, _)| *g == r.group) {
            Some((_, versions)) if !versions.contains(&r.version) => versions.push(r.version),
            Some(_) => {}
            None => groups.push((r.group, vec![r.version])),
        }
    }
    groups
}

/// The resources of one group/version.
pub fn in_group_version<'a>(
    group: &'a str,
    version: &'a str,
) -> impl Iterator<Item = &'static ResourceType> + 'a {
    RESOURCES.iter().filter(move |r| r.group == group && r.version == version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_rows_are_unique_and_findable() {
        for r in RESOURCES {
            assert_eq!(find(r.group, r.version, r.plural), Some(r));
            assert_eq!(find_kind(&r.api_version(), r.kind), Some(r));
        }
    }

    #[test]
    fn normalize_drops_unknown_fields_and_rejects_wrong_types() {
        let pods = find("", "v1", "pods").unwrap();
        let out = pods
            .normalize(
                serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}, "bogus": 1}),
            )
            .unwrap();
        assert!(out.get("bogus").is_none());
        assert!(pods.normalize(serde_json::json!({"metadata": {"name": 5}})).is_err());
    }

    #[test]
    fn count_quota_names_follow_upstream() {
        // generic.ObjectCountQuotaResourceNameFor
        assert_eq!(find("", "v1", "configmaps").unwrap().count_quota_name(), "count/configmaps");
        assert_eq!(find("apps", "v1", "deployments").unwrap().count_quota_name(), "count/deployments.apps");
    }
}
