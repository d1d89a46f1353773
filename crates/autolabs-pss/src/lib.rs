//! Pod Security Standards (baseline, restricted) by policy version, with the exact checks of
//! `k8s.io/pod-security-admission`.
//!
//! # Model
//!
//! A namespace chooses a [`Level`] (`privileged`, `baseline`, `restricted`) and a policy
//! [`Version`] (`v1.0` … `v1.34`, or `latest`) for each mode (enforce, audit, warn) with the
//! `pod-security.kubernetes.io/*` labels; [`namespace_policy`] reads them the way upstream's
//! `api.PolicyToEvaluate` does.
//!
//! Each upstream check (an ID such as `runAsNonRoot`) has one or more implementations, each
//! valid from a minimum policy version. Evaluating a pod at a level and version runs the
//! newest implementation of every check of that level that exists at that version:
//! `baseline` runs the baseline checks, `restricted` runs the baseline checks plus the
//! restricted ones, except baseline checks that an active restricted check overrides
//! (`hostPathVolumes` by `restrictedVolumes`, `capabilities_baseline` by
//! `capabilities_restricted`, `seccompProfile_baseline` by `seccompProfile_restricted`).
//! `latest` and versions newer than [`LATEST_POLICY_MINOR`] evaluate as that version.
//!
//! [`evaluate`] returns one [`Violation`] per failing check (upstream's check ID, reason and
//! detail, worded like upstream), baseline checks first, each group sorted by check ID;
//! [`forbidden_message`] builds the API server's rejection text from them.
//!
//! Init, regular and ephemeral containers are all checked, like upstream. The engine reads
//! the objects as the API server would see them after defaulting where that changes the
//! outcome: a volume without any source counts as `emptyDir`.
//!
//! Everything here is pure: no I/O, and an allowed pod is evaluated without heap allocation.
#![forbid(unsafe_code)]
// A panic in a library is a silent way to fail: non-test code returns errors, or says with an
// allowed `expect` why it cannot fail.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod checks;
mod containers;
mod error;
mod format;
mod policy;
mod registry;

pub use error::PssError;
pub use policy::{
    AUDIT_LEVEL_LABEL, AUDIT_VERSION_LABEL, ENFORCE_LEVEL_LABEL, ENFORCE_VERSION_LABEL, LABEL_PREFIX, Level,
    LevelVersion, NamespacePolicy, Policy, Version, WARN_LEVEL_LABEL, WARN_VERSION_LABEL, namespace_policy,
    namespace_policy_with_defaults,
};
pub use registry::{
    EvaluationOptions, LATEST_POLICY_MINOR, Violation, active_check_ids, active_check_ids_with_options,
    aggregate_detail, evaluate, evaluate_template, evaluate_with_options, forbidden_message,
    is_known_version, warning_message,
};
