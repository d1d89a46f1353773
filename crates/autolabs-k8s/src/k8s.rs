//! Short paths to the k8s-openapi types every crate uses (`k8s::Pod`, `k8s::Role`…).
//!
//! The API version feature of k8s-openapi is chosen once, in the workspace manifest.

pub use k8s_openapi;
pub use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
pub use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
pub use k8s_openapi::api::batch::v1::{CronJob, Job};
pub use k8s_openapi::api::core::v1::{
    ConfigMap, Container, LimitRange, Namespace, PersistentVolumeClaim, Pod, PodSpec, PodTemplateSpec,
    ReplicationController, ResourceQuota, ResourceRequirements, Secret, Service, ServiceAccount,
};
pub use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
pub use k8s_openapi::api::policy::v1::PodDisruptionBudget;
pub use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, Subject,
};
pub use k8s_openapi::api::scheduling::v1::PriorityClass;
pub use k8s_openapi::api::storage::v1::StorageClass;
pub use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;
pub use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, LabelSelectorRequirement, ObjectMeta, OwnerReference,
};
pub use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
