//! All Kubernetes API I/O of autolabs.
//!
//! Today this crate holds [`fake`]: an in-process fake Kubernetes API server, a test double
//! that speaks the real REST protocol so that code written against `kube::Client` is tested
//! against status objects, resourceVersions, selectors, watches, admission (LimitRange,
//! ResourceQuota, Pod Security, through the project's own engines) and injected faults,
//! without a cluster. The lab provisioner's API code will live beside it.
#![forbid(unsafe_code)]

pub mod apply;
pub mod fake;
pub mod labs;
pub mod live;

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
