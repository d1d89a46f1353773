//! `render(&Platform)`: the whole cluster baseline as data, deterministic.
//!
//! Objects are built with the typed k8s-openapi structs (CRD kinds such as
//! VolumeSnapshotClass and PrometheusRule as JSON), then held as [`Manifest`]s: the JSON
//! value plus the identity used for ordering, folders and `apply`. Files that are not
//! Kubernetes objects (kubeadm, HAProxy, keepalived, encryption and audit configs) are
//! [`ControlPlaneFile`]s.
//!
//! Each submodule renders one concern; all of them read the same [`Ctx`].

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;
use serde_json::Value;

use crate::platform::Platform;
use crate::topology::{MANAGED_BY, PLATFORM_LABEL};

mod addons;
mod alerting;
mod backup;
mod cluster;
mod cluster_policies;
mod controlplane;
mod dashboard;
mod monitoring;
mod namespaces;
mod network;
pub mod probe;
mod rbac;
mod workloads;

pub use addons::POD_SECURITY_REASON;
pub use alerting::{ALERTMANAGER_CONFIG, ALERTMANAGER_CONFIG_KEY};
pub use dashboard::{DASHBOARD, DASHBOARD_KEY, DASHBOARD_LABEL};
pub use namespaces::{quota, tracks_compute};
pub use network::{internet_ip_block, policies_for_flow};
pub use rbac::PROVISIONER_RULES;

/// One rendered Kubernetes object.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub value: Value,
}

impl Manifest {
    /// `kind/name` or `namespace/kind/name`, for messages.
    pub fn id(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{ns}/{}/{}", self.kind, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }

    /// Whether this kind comes from a CRD that may be missing on a cluster.
    pub fn is_custom_resource(&self) -> bool {
        !is_builtin_group(self.api_version.split_once('/').map(|(g, _)| g).unwrap_or(""))
    }

    /// The file name inside its folder: `deployment-provisioner.yaml`.
    pub fn file_name(&self) -> String {
        format!("{}-{}.yaml", self.kind.to_ascii_lowercase(), self.name)
    }
}

fn is_builtin_group(group: &str) -> bool {
    // The network-policy-api's kinds come from CRDs, though their group ends in .k8s.io.
    group != "policy.networking.k8s.io"
        && (group.is_empty()
            || group.ends_with(".k8s.io") && !group.starts_with("snapshot.storage")
            || !group.contains('.'))
}

/// A file for the control-plane nodes, not a Kubernetes object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlPlaneFile {
    /// Path relative to the `control-plane/` folder.
    pub path: String,
    pub contents: String,
    /// What the operator does with it.
    pub purpose: String,
}

/// Everything `autolabs render` produces.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rendered {
    pub manifests: Vec<Manifest>,
    pub files: Vec<ControlPlaneFile>,
    /// `addons/`: the pinned upstream charts and their values (`crate::addons`).
    pub addons: Vec<crate::addons::AddonFile>,
}

impl Rendered {
    pub fn find(&self, kind: &str, namespace: Option<&str>, name: &str) -> Option<&Manifest> {
        self.manifests
            .iter()
            .find(|m| m.kind == kind && m.namespace.as_deref() == namespace && m.name == name)
    }

    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Manifest> + 'a {
        self.manifests.iter().filter(move |m| m.kind == kind)
    }

    /// Typed view of every manifest of a built-in kind.
    pub fn typed<T: k8s_openapi::Resource + serde::de::DeserializeOwned>(&self) -> Vec<T> {
        self.manifests
            .iter()
            .filter(|m| m.kind == T::KIND && m.api_version == T::API_VERSION)
            .filter_map(|m| serde_json::from_value(m.value.clone()).ok())
            .collect()
    }
}

/// Renders the whole baseline.
///
/// ```
/// let rendered = autolabs_model::render(&autolabs_model::Platform::default());
/// assert!(rendered.manifests.iter().any(|m| m.kind == "Namespace" && m.name == "labs"));
/// ```
pub fn render(platform: &Platform) -> Rendered {
    let ctx = Ctx { p: platform };
    let mut out = Rendered::default();
    namespaces::render(&ctx, &mut out);
    cluster::render(&ctx, &mut out);
    network::render(&ctx, &mut out);
    cluster_policies::render(&ctx, &mut out);
    rbac::render(&ctx, &mut out);
    probe::render(&ctx, &mut out);
    workloads::render(&ctx, &mut out);
    backup::render(&ctx, &mut out);
    monitoring::render(&ctx, &mut out);
    alerting::render(&ctx, &mut out);
    dashboard::render(&ctx, &mut out);
    controlplane::render(&ctx, &mut out);
    addons::render(&ctx, &mut out);
    out.addons = crate::addons::files(ctx.spec());
    out.manifests.sort_by(|a, b| {
        (apply_rank(&a.kind), &a.namespace, &a.kind, &a.name).cmp(&(
            apply_rank(&b.kind),
            &b.namespace,
            &b.kind,
            &b.name,
        ))
    });
    out.files.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// The CSI provisioner of the data tier's StorageClass (which CSI chart the platform needs).
pub fn provider_provisioner(spec: &crate::platform::PlatformSpec) -> &'static str {
    cluster::provider_class(spec).1
}

/// Apply order: namespaces and cluster-scoped prerequisites first, RBAC next, then
/// policies and quotas (so workloads are admitted under them), then workloads.
pub fn apply_rank(kind: &str) -> u8 {
    match kind {
        "CustomResourceDefinition" => 0,
        "Namespace" => 1,
        "PriorityClass" | "StorageClass" | "VolumeSnapshotClass" => 2,
        "ClusterRole" | "ClusterRoleBinding" => 3,
        "ServiceAccount" | "Role" | "RoleBinding" => 4,
        "ResourceQuota" | "LimitRange" | "NetworkPolicy" => 5,
        "Secret" | "ConfigMap" | "PersistentVolumeClaim" => 6,
        "Service" => 7,
        "Deployment" | "StatefulSet" | "DaemonSet" | "CronJob" | "Job" => 8,
        _ => 9,
    }
}

/// What every renderer reads: the config and a few helpers.
pub(crate) struct Ctx<'a> {
    pub p: &'a Platform,
}

impl Ctx<'_> {
    pub fn spec(&self) -> &crate::platform::PlatformSpec {
        &self.p.spec
    }

    /// The StorageClass the data tier uses: `spec.storage.className`, else the provider's.
    pub fn storage_class(&self) -> String {
        if let Some(c) = &self.spec().storage.class_name {
            return c.clone();
        }
        cluster::provider_class(self.spec()).0.to_string()
    }

    /// The labels every rendered object carries, so `apply --prune` touches only ours.
    pub fn common_labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (MANAGED_BY.0.to_string(), MANAGED_BY.1.to_string()),
            (PLATFORM_LABEL.to_string(), self.p.metadata.name.clone()),
        ])
    }

    /// Metadata with the common labels plus `extra`.
    pub fn meta(&self, name: &str, namespace: Option<&str>, extra: &[(&str, &str)]) -> ObjectMeta {
        let mut labels = self.common_labels();
        for (k, v) in extra {
            labels.insert(k.to_string(), v.to_string());
        }
        ObjectMeta {
            name: Some(name.to_string()),
            namespace: namespace.map(str::to_string),
            labels: Some(labels),
            ..Default::default()
        }
    }
}

/// Wraps a typed object. Its JSON cannot fail: k8s-openapi objects have only string-keyed
/// maps, and a `Null` fallback would render an empty document without a word.
#[allow(clippy::expect_used, reason = "k8s-openapi objects always serialise to JSON")]
pub(crate) fn typed<T: k8s_openapi::Resource + k8s_openapi::Metadata<Ty = ObjectMeta> + Serialize>(
    obj: T,
) -> Manifest {
    let meta = obj.metadata();
    let name = meta.name.clone().unwrap_or_default();
    let namespace = meta.namespace.clone();
    let value = serde_json::to_value(&obj).expect("a k8s-openapi object serialises to JSON");
    Manifest { api_version: T::API_VERSION.to_string(), kind: T::KIND.to_string(), namespace, name, value }
}

/// Wraps an untyped object (CRD kinds); `value` must have apiVersion, kind and metadata.
pub(crate) fn untyped(value: Value) -> Manifest {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    Manifest {
        api_version: s(&value["apiVersion"]),
        kind: s(&value["kind"]),
        namespace: value["metadata"]["namespace"].as_str().map(str::to_string),
        name: s(&value["metadata"]["name"]),
        value,
    }
}

/// String map from pairs, for labels and selectors.
pub(crate) fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}
