//! The JSON Schema of `platform.yaml`, for editors (`autolabs schema`).

use crate::platform::Platform;

/// The schema as pretty JSON.
pub fn platform_schema() -> String {
    let mut schema = schemars::schema_for!(Platform);
    schema.insert("$id".into(), "https://autolabs.io/schemas/platform.v1alpha1.json".into());
    serde_json::to_string_pretty(&schema).unwrap_or_default()
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
