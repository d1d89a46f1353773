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
//!   expired labs, Pods left without any of their objects by a crash, and orphaned objects;
//!   recreates the objects a lab lacks (it reads `Degraded` meanwhile); and marks failed Pods.
//! - A preflight refusal on a quota charge the existing lab Pods do not account for (the
//!   quota controller lagging) is not final: the create goes to the API server, and
//!   `/v1/capacity` and the `cluster_full` answer report the stale charge.
//!
//! The provisioner uses only the verbs and kinds of
//! `autolabs_model::render::PROVISIONER_RULES` (proven against the fake server, and on the
//! real API server by `tests/labs_e2e.rs`, which runs it with a ServiceAccount token bound to
//! exactly those rules).

pub mod bootstrap;
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
