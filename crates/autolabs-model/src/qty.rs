//! [`Qty`]: a [`Quantity`] as a config field (accepts `500m`, `"1Gi"` or a bare number).

use autolabs_k8s::Quantity;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Qty(pub Quantity);

impl Qty {
    /// A quantity literal from our own defaults; they are tested to parse.
    pub(crate) fn lit(s: &str) -> Qty {
        Qty(constant(s))
    }
}

/// A quantity literal of this crate's own code (`"4Gi"`, a default size), or zero were one
/// mistyped: the one place such literals are parsed, each covered by a test that it parses.
pub(crate) fn constant(text: &str) -> Quantity {
    Quantity::parse(text).unwrap_or(Quantity::ZERO)
}

impl std::fmt::Display for Qty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for Qty {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for Qty {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Int(i64),
            Float(f64),
            Str(String),
        }
        let s = match Repr::deserialize(d)? {
            Repr::Int(n) => n.to_string(),
            Repr::Float(f) => f.to_string(),
            Repr::Str(s) => s,
        };
        Quantity::parse(&s).map(Qty).map_err(|_| {
            serde::de::Error::custom(format!(
                "{s:?} is not a Kubernetes quantity (examples: 500m, 2, 512Mi, 1Gi)"
            ))
        })
    }
}

impl JsonSchema for Qty {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Quantity".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A Kubernetes quantity: 500m, 2, 512Mi, 1Gi.",
            "oneOf": [
                {"type": "number"},
                {"type": "string", "pattern": "^[+-]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?[0-9]+))?$"}
            ]
        })
    }
}
