//! The JSON Schema of `platform.yaml`, for editors (`autolabs schema`).

use crate::platform::Platform;

/// The schema as pretty JSON.
pub fn platform_schema() -> String {
    let mut schema = schemars::schema_for!(Platform);
    schema.insert("$id".into(), "https://autolabs.io/schemas/platform.v1alpha1.json".into());
    pretty(&schema)
}

/// A generated schema as pretty JSON. Cannot fail: a `schemars::Schema` is a JSON object.
#[allow(clippy::expect_used, reason = "a schemars::Schema is a serde_json object, which always serialises")]
pub(crate) fn pretty(schema: &schemars::Schema) -> String {
    serde_json::to_string_pretty(schema).expect("a JSON Schema is a JSON object")
}

#[cfg(test)]
mod tests {
    #[test]
    fn schema_names_every_section() {
        let s = super::platform_schema();
        for field in ["kubernetesVersion", "isolation", "backup", "oidc", "controlPlane", "quotas"] {
            assert!(s.contains(field), "{field} missing from the schema");
        }
    }
}
