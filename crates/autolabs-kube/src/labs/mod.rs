//! The lab provisioner: the service behind `autolabs serve` that creates, tracks, expires and
//! deletes student labs in the `labs` namespace.
//!
//! # Model
//!
//! A lab is four objects named `lab-<id>` (built by `autolabs_model::lab::desired`): a Pod
//! and a Service, NetworkPolicy and Ingress owned by it. All state lives in those objects, so
//! any number of provisioners can run.
//!
//! - Decisions are pure ([`plan`], [`view`], [`check`]): the quota preflight and capacity
//!   arithmetic (through `autolabs-resources`' admission engine), which objects a lab lacks,
//!   what the reaper deletes, how a Pod reads as a [`Lab`], whether a template would pass Pod
//!   Security `restricted` and the LimitRange.
//! - [`Provisioner`] executes them against the API with retries ([`retry`]), reading the
//!   quota and LimitRange from watched caches ([`cache`]) and counting [`metrics`].
//! - The reaper ([`Provisioner::run_reaper`], one pass [`Provisioner::reap_once`]) deletes
//!   expired labs, half-made labs left by a crash, and orphaned objects, and marks failed Pods.
//!
//! The provisioner uses only the verbs and kinds of
//! `autolabs_model::render::PROVISIONER_RULES` (a test proves it against the fake server).

pub mod cache;
pub mod check;
mod error;
pub mod metrics;
pub mod plan;
mod provisioner;
pub mod retry;
pub mod view;

pub use check::check_templates;
pub use error::{ClusterFull, LabsError, StaleCharge};
pub use metrics::Metrics;
pub use provisioner::{
    Capacity, Clock, LabPage, ListFilter, Provisioner, ProvisionerConfig, QuotaUsage, ReapSummary,
    TemplateRoom, system_clock,
};
pub use retry::Backoff;
pub use view::{FAILED_ANNOTATION, Lab};
