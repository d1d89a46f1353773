//! The one error type of this crate: input the engine cannot work with, and where it is.

use autolabs_k8s::QuantityError;

/// Malformed input: a quantity that does not parse, a selector operator that does not
/// exist, or a sum too large to hold exactly. Each variant names the field path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourcesError {
    /// A resource quantity that `resource.ParseQuantity` would refuse.
    #[error("{field}: invalid quantity {value:?}: {source}")]
    Quantity {
        field: String,
        value: String,
        #[source]
        source: QuantityError,
    },
    /// A sum of quantities beyond ±1.7·10²⁹ units, which we cannot hold exactly.
    #[error("{field}: the sum of the quantities is too large to compute exactly")]
    Overflow { field: String },
    /// A ResourceQuota scope selector the API server's validation would refuse.
    #[error("{field}: {message}")]
    ScopeSelector { field: String, message: String },
}
