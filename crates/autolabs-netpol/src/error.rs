//! The one error type of this crate.

/// Input that Kubernetes would reject (or that we cannot analyse), with the object and the
/// field path of the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetpolError {
    /// A NetworkPolicy the API server's validation would reject
    /// (`k8s.io/kubernetes/pkg/apis/networking/validation.ValidateNetworkPolicy`).
    #[error("NetworkPolicy {namespace}/{name}: {field}: {message}")]
    InvalidPolicy { namespace: String, name: String, field: String, message: String },
    /// A pod (or pod template) whose container ports the API server would reject.
    #[error("Pod {namespace}/{name}: {field}: {message}")]
    InvalidPod { namespace: String, name: String, field: String, message: String },
    /// A ClusterNetworkPolicy / AdminNetworkPolicy / BaselineAdminNetworkPolicy that the API
    /// server would refuse (CRD schema, CEL rules, strict decoding) or that cannot be analysed.
    #[error("{kind} {name}: {field}: {message}")]
    InvalidClusterPolicy { kind: String, name: String, field: String, message: String },
    /// A pod id that does not belong to this analysis.
    #[error("unknown pod id {0}")]
    UnknownPod(usize),
}
