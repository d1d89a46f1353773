//! The one error type of this crate.

use crate::format::go_quote;

/// What went wrong when reading a Pod Security level, version or namespace label.
///
/// The reasons are worded like `k8s.io/pod-security-admission/api` words them, so a message
/// reads the same as the API server's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PssError {
    /// Not one of `privileged`, `baseline`, `restricted` (`api.ParseLevel`).
    #[error("invalid Pod Security level {}: must be one of privileged, baseline, restricted", go_quote(.value))]
    InvalidLevel {
        /// The text that was given.
        value: String,
    },
    /// Neither `latest` nor `v1.x` (`api.ParseVersion`).
    #[error("invalid Pod Security version {}: must be \"latest\" or \"v1.x\"", go_quote(.value))]
    InvalidVersion {
        /// The text that was given.
        value: String,
    },
    /// A `pod-security.kubernetes.io/*` namespace label with a value upstream rejects.
    ///
    /// Displayed like upstream's `field.Invalid(metadata.labels[<label>], value, reason)`.
    #[error("metadata.labels[{label}]: Invalid value: {}: {reason}", go_quote(.value))]
    InvalidLabel {
        /// The label key, e.g. `pod-security.kubernetes.io/enforce`.
        label: &'static str,
        /// The label value that was rejected.
        value: String,
        /// Upstream's reason, e.g. `must be one of privileged, baseline, restricted`.
        reason: &'static str,
    },
}
