//! All Kubernetes API I/O of autolabs; the decisions stay pure and are executed here.
//!
//! - [`apply`]: server-side apply of the rendered baseline — a plan computed in pure code
//!   (create / configure / unchanged / prune / skip), then executed in order;
//! - [`live`]: reading a live cluster into the same object set `verify` reads from files;
//! - [`probe`]: cross-checking the RBAC engine against the server's SubjectAccessReviews;
//! - [`wire`]: `autolabs probe`, checking on the wire that the cluster enforces the NetworkPolicies;
//! - [`labs`]: the lab provisioner (create, get, list, extend, delete, quota preflight, the
//!   reaper), behind `autolabs serve`.
//!
//! Tests run against the in-process fake API server (crate `autolabs-fake`, a dev-dependency)
//! and against a real kube-apiserver.
//!
//! Errors: `live::ClusterError` for cluster reads and apply, `labs::LabsError` for the
//! provisioner (each maps to an HTTP answer).
#![forbid(unsafe_code)]
// A panic in a library is a silent way to fail: non-test code returns errors, or says with an
// allowed `expect` why it cannot fail.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod apply;
pub mod labs;
pub mod live;
pub mod probe;
pub mod wire;
