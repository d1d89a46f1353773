//! The autolabs model: `platform.yaml` and `LabTemplate` types, their validation, and pure
//! rendering of the cluster baseline.
//!
//! - [`platform`]: the typed config, every field defaulted to the design document;
//! - [`load`]: YAML → [`Platform`] with every error at once, each with file:line and field;
//! - [`isolation`]: the Namespace Isolation Matrix as flows (the intent verify proves);
//! - [`addons`]: the pinned upstream charts (CNI, ingress, cert-manager, ZITADEL, CSI,
//!   monitoring), the facts the baseline agrees with, and `addons/` (helmfile, Argo CD);
//! - [`render`]: [`Platform`] → every Kubernetes object and control-plane file, in a
//!   deterministic order; [`output`] writes them as YAML or a kustomize directory;
//! - [`capacity`]: how many labs the nodes hold; [`plan`]: how many students a cluster can
//!   hold, and what it takes to hold N;
//! - [`lab`]: lab templates, requests, the objects of one lab and the pure decisions about
//!   live labs (expiry, reaping);
//! - [`versions`]: everything pinned (Kubernetes line, Pod Security label version, images,
//!   add-on charts), printed by `autolabs versions`;
//! - [`topology`]: the platform's fixed names, labels and annotations, written once;
//! - [`qty`]: quantities as config fields; [`schema`]: the JSON Schema of `platform.yaml`;
//!   [`init`]: a commented starting `platform.yaml`;
//! - [`error`]: the crate's errors, each naming file, line and field; `validate` (private):
//!   what serde cannot check.
//!
//! Nothing here does I/O except [`output::write_dir`].
#![forbid(unsafe_code)]
// A panic in a library is a silent way to fail: non-test code returns errors, or says with an
// allowed `expect` why it cannot fail.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod addons;
pub mod capacity;
pub mod error;
pub mod init;
pub mod isolation;
pub mod lab;
pub mod load;
pub mod output;
pub mod plan;
pub mod platform;
pub mod qty;
pub mod render;
pub mod schema;
pub mod topology;
mod validate;
pub mod versions;

pub use error::{ConfigError, ConfigErrors, ModelError};
pub use load::{load_platform, load_platform_for_planning};
pub use platform::{Platform, Profile, Provider};
pub use render::{Manifest, Rendered, render};
