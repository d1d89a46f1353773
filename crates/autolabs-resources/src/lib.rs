//! LimitRange defaulting and validation, ResourceQuota admission and capacity arithmetic,
//! as the API server's admission plugins do it.
//!
//! The model mirrors a Pod create in kube-apiserver (see [`admission`] for the order):
//! decode-time defaulting, the LimitRanger's defaults, Pod validation (422), the
//! LimitRanger's min/max/ratio checks (403) and ResourceQuota (403). Every quantity is an
//! exact [`autolabs_k8s::Quantity`], so comparisons and sums never drift, and every message
//! is worded as upstream words it. [`capacity`] builds on the same arithmetic to answer
//! "how many more pods of this shape fit", and which LimitRange/quota settings can never
//! work together or on the given nodes.
//!
//! Modules: [`limit_range`] (the object with its defaults, and the LimitRanger's two
//! halves), [`quota`] (the pod evaluator and the quota check), [`validation`] (the resource
//! part of Pod validation), [`pod`] (the parts of a Pod admission reads, parsed once),
//! [`resource_list`] (list arithmetic), [`admission`] (the plugins in the API server's order)
//! and [`capacity`]; errors are [`ResourcesError`].
//!
//! Everything here is pure: no I/O, no clocks; the caller owns the namespace state and
//! decides when an admitted pod's usage is recorded.
//!
//! ```
//! use autolabs_k8s::k8s::{Container, LimitRange, ObjectMeta, Pod, PodSpec};
//! use autolabs_k8s::k8s::k8s_openapi::api::core::v1::{LimitRangeItem, LimitRangeSpec};
//! use autolabs_k8s::k8s::K8sQuantity;
//! use autolabs_resources::{Namespace, admit_pod};
//!
//! let max_only = LimitRange {
//!     metadata: ObjectMeta { name: Some("only-max".into()), ..Default::default() },
//!     spec: Some(LimitRangeSpec {
//!         limits: vec![LimitRangeItem {
//!             type_: "Container".into(),
//!             max: Some([("cpu".to_string(), K8sQuantity("1".into()))].into()),
//!             ..Default::default()
//!         }],
//!     }),
//! };
//! let namespace = Namespace::from_k8s(&[max_only], &[]).unwrap();
//! let pod = Pod {
//!     metadata: ObjectMeta { name: Some("lab".into()), ..Default::default() },
//!     spec: Some(PodSpec { containers: vec![Container { name: "main".into(), ..Default::default() }], ..Default::default() }),
//!     ..Default::default()
//! };
//! // A max-only LimitRange still defaults the limit (and so the request) to the max.
//! let admitted = admit_pod(&namespace, &pod).unwrap();
//! let resources = admitted.pod.spec.unwrap().containers[0].resources.clone().unwrap();
//! assert_eq!(resources.limits.unwrap()["cpu"].0, "1");
//! assert_eq!(resources.requests.unwrap()["cpu"].0, "1");
//! ```
#![forbid(unsafe_code)]
// A panic in a library is a silent way to fail: non-test code returns errors, or says with an
// allowed `expect` why it cannot fail.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod admission;
pub mod capacity;
mod error;
pub mod limit_range;
pub mod pod;
pub mod quota;
pub mod resource_list;
pub use autolabs_k8s::resource_names;
pub mod validation;

pub use admission::{Admitted, Namespace, Rejection, RejectionSource, admit_pod};
pub use error::ResourcesError;
pub use limit_range::{LimitRangeItem, LimitRangePolicy, LimitType};
pub use pod::QosClass;
pub use quota::{QuotaCharge, QuotaDenial, QuotaState, ScopeRequirement, check_object_count};
pub use resource_list::ResourceList;
