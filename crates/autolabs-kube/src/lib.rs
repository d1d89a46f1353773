//! All Kubernetes API I/O of autolabs; the decisions stay pure and are executed here.
//!
//! - [`apply`]: server-side apply of the rendered baseline — a plan computed in pure code
//!   (create / configure / unchanged / prune / skip), then executed in order;
//! - [`live`]: reading a live cluster into the same object set `verify` reads from files;
//! - [`probe`]: cross-checking the RBAC engine against the server's SubjectAccessReviews;
//! - [`wire`]: `autolabs probe`, checking on the wire that the cluster enforces the NetworkPolicies;
//! - [`labs`]: the lab provisioner (create, get, list, extend, delete, quota preflight, the
//!   reaper), behind `autolabs serve`;
//! - [`fake`]: an in-process fake Kubernetes API server, a test double that speaks the real
//!   REST protocol so that code written against `kube::Client` is tested against status
//!   objects, resourceVersions, selectors, watches, admission (LimitRange, ResourceQuota, Pod
//!   Security, through the project's own engines) and injected faults, without a cluster.
//!   `autolabs up --simulate` runs it as a sandbox.
//!
//! Errors: [`KubeError`] for the fake, `live::ClusterError` for cluster reads and apply,
//! `labs::LabsError` for the provisioner (each maps to an HTTP answer).
#![forbid(unsafe_code)]

pub mod apply;
pub mod fake;
pub mod labs;
pub mod live;
pub mod probe;
pub mod wire;

/// Errors of this crate, each saying what failed and where.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// The fake server could not listen on the loopback address.
    #[error("fake API server: cannot listen on {address}: {source}")]
    Bind {
        address: String,
        #[source]
        source: std::io::Error,
    },
    /// A `kube::Client` could not be built for a server URL.
    #[error("kube client for {url}: {source}")]
    Client {
        url: String,
        #[source]
        source: kube::Error,
    },
    /// The fake refused an object handed to a seeding helper (the `Status` it would answer).
    #[error("fake API server refused {what}: {status}")]
    Refused { what: String, status: fake::Status },
    /// YAML given to a seeding helper that does not parse, with the document's position.
    #[error("{location}: {message}")]
    Yaml { location: String, message: String },
}
