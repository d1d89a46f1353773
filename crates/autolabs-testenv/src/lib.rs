//! Test support for the suites that need a real Kubernetes API server — the role
//! controller-runtime's `envtest` plays for Go operators.
//!
//! The model: `.ci/run` (the README's test command) starts one real control plane with
//! `../shared/kube/cluster up` and exports its admin kubeconfig as [`KUBECONFIG_ENV`]. Every
//! real-cluster test asks [`shared`] for it and then works only inside names of its own:
//! [`Cluster::namespace`] makes a namespace with a unique name that is deleted when the guard
//! drops, so suites and tests run in parallel on one server and leave nothing behind. Tests that
//! must stop, restart or wipe the server start a control plane of their own on another port
//! with [`OwnCluster`].
//!
//! Without the variable the tests print a loud `NOT RUN` line and pass; under `CI=true` they
//! fail instead, so CI can never go green without having run them.
//!
//! ```no_run
//! # async fn example() {
//! let Some(cluster) = autolabs_testenv::shared("my test").await else { return };
//! let ns = cluster.namespace("demo", &[]).await;
//! let pods: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::namespaced(cluster.client(), ns.name());
//! # let _ = pods;
//! # }
//! ```
//!
//! [`conformance_dir`] is for every crate's conformance suites; built without the default
//! `cluster` feature, this crate is only that (no kube client, no runtime), so the pure crates'
//! tests do not compile an HTTP stack.
#![forbid(unsafe_code)]
// A panic in a library is a silent way to fail: non-test code returns errors, or says with an
// allowed `expect` why it cannot fail.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use std::path::PathBuf;

#[cfg(feature = "cluster")]
mod cluster;
#[cfg(feature = "cluster")]
pub use cluster::*;

/// Whether this run is CI (`CI=true`), where a missing control plane or fixture folder is a failure.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The folder of Kubernetes' own fixtures (`AUTOLABS_CONFORMANCE_DIR`, default
/// `../shared/conformance` beside the checkout), or `None` with a note when it is absent; under
/// `CI=true` a missing folder fails the test, so CI never passes without the fixtures.
///
/// ```
/// if let Some(dir) = autolabs_testenv::conformance_dir() {
///     assert!(dir.is_dir());
/// }
/// ```
pub fn conformance_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("AUTOLABS_CONFORMANCE_DIR").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/conformance"))
    });
    if dir.is_dir() {
        return Some(dir);
    }
    if in_ci() {
        panic!("conformance folder {} is missing (CI=true)", dir.display());
    }
    eprintln!("note: conformance folder {} not found; skipping", dir.display());
    None
}
