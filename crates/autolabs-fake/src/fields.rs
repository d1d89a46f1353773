//! `fieldValidation`: what the server does with fields the kind's schema does not declare.
//!
//! The fake learns a kind's schema from its k8s-openapi type: a field of the request that
//! does not survive decoding into that type ([`ResourceType::normalize`]) is unknown. `Strict`
//! refuses the request as the real server does, `Warn` (the server's default) answers with
//! one `Warning` header per field, `Ignore` drops them silently.
// k8s.io/apiserver/pkg/endpoints/handlers/rest.go fieldValidation, and
// k8s.io/apimachinery/pkg/runtime/serializer/json (strict decoding errors)

use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::resources::ResourceType;
use super::status::Status;

/// The `fieldValidation` query parameter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FieldValidation {
    Ignore,
    /// The server's default when the parameter is absent or empty.
    #[default]
    Warn,
    Strict,
}

impl FieldValidation {
    /// Parses the parameter; `options_kind` (`CreateOptions`, `UpdateOptions`, `PatchOptions`)
    /// names the options in the 422 for an unsupported value.
    // k8s.io/apimachinery/pkg/apis/meta/v1/validation/validation.go ValidateFieldValidation
    pub fn parse(value: Option<&str>, options_kind: &str) -> Result<FieldValidation, Status> {
        match value.unwrap_or("") {
            "" | "Warn" => Ok(FieldValidation::Warn),
            "Ignore" => Ok(FieldValidation::Ignore),
            "Strict" => Ok(FieldValidation::Strict),
            other => Err(Status::invalid(
                options_kind,
                "meta.k8s.io",
                "",
                &[(
                    "fieldValidation".into(),
                    format!(
                        "Unsupported value: {other:?}: supported values: \"\", \"Ignore\", \"Strict\", \"Warn\""
                    ),
                )],
            )),
        }
    }
}

/// `Warning` header texts collected while a request is served.
#[derive(Debug, Clone, Default)]
pub struct Warnings(Arc<Mutex<Vec<String>>>);

impl Warnings {
    pub fn push(&self, text: String) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(text);
    }

    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// The paths (`spec.containers[0].foo`) of fields in `sent` that decoding into the kind's
/// type dropped. Nulls are not fields. `None` when the body does not decode at all (the
/// decode error is reported elsewhere).
pub fn unknown_fields(resource: &ResourceType, sent: &Value) -> Option<Vec<String>> {
    let decoded = resource.normalize(sent.clone()).ok()?;
    let mut unknown = Vec::new();
    collect_unknown("", sent, &decoded, &mut unknown);
    Some(unknown)
}

fn collect_unknown(path: &str, sent: &Value, decoded: &Value, out: &mut Vec<String>) {
    match (sent, decoded) {
        (Value::Object(sent), Value::Object(decoded)) => {
            for (key, value) in sent {
                if value.is_null() {
                    continue;
                }
                let at = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                match decoded.get(key) {
                    Some(kept) => collect_unknown(&at, value, kept, out),
                    None => out.push(at),
                }
            }
        }
        (Value::Array(sent), Value::Array(decoded)) if sent.len() == decoded.len() => {
            for (i, (value, kept)) in sent.iter().zip(decoded).enumerate() {
                collect_unknown(&format!("{path}[{i}]"), value, kept, out);
            }
        }
        _ => {}
    }
}

/// Applies `mode` to the unknown fields of a create or update body: `Err` (400, as the
/// strict decoder words it) under `Strict`, one warning per field under `Warn`.
// k8s.io/apimachinery/pkg/runtime/serializer/json/json.go (strict decoding error: unknown field)
pub fn check_body(
    resource: &ResourceType,
    body: &Value,
    mode: FieldValidation,
    warnings: &Warnings,
) -> Result<(), Status> {
    if mode == FieldValidation::Ignore {
        return Ok(());
    }
    let Some(unknown) = unknown_fields(resource, body) else { return Ok(()) };
    if unknown.is_empty() {
        return Ok(());
    }
    let listed: Vec<String> = unknown.iter().map(|f| format!("unknown field {f:?}")).collect();
    match mode {
        FieldValidation::Strict => Err(Status::bad_request(format!(
            "{} in version {:?} cannot be handled as a {}: strict decoding error: {}",
            resource.kind,
            resource.version,
            resource.kind,
            listed.join(", ")
        ))),
        _ => {
            listed.into_iter().for_each(|w| warnings.push(w));
            Ok(())
        }
    }
}

/// Applies `mode` to the unknown fields of a patched object: under `Strict` a 422 naming the
/// patched object, as the patch handler words it; under `Warn`, warnings.
// k8s.io/apiserver/pkg/endpoints/handlers/patch.go (strict decoding of the patched object)
pub fn check_patched(
    resource: &ResourceType,
    patched: &Value,
    mode: FieldValidation,
    warnings: &Warnings,
) -> Result<(), Status> {
    if mode == FieldValidation::Ignore {
        return Ok(());
    }
    let Some(unknown) = unknown_fields(resource, patched) else { return Ok(()) };
    if unknown.is_empty() {
        return Ok(());
    }
    let listed: Vec<String> = unknown.iter().map(|f| format!("unknown field {f:?}")).collect();
    match mode {
        FieldValidation::Strict => Err(Status::invalid(
            "",
            "",
            "",
            &[(
                "patch".into(),
                format!(
                    "Invalid value: {:?}: strict decoding error: {}",
                    patched.to_string(),
                    listed.join(", ")
                ),
            )],
        )),
        _ => {
            listed.into_iter().for_each(|w| warnings.push(w));
            Ok(())
        }
    }
}

/// Server-side apply needs every applied field in the kind's schema, whatever `mode` says:
/// an unknown one fails building the typed patch (a 500, as upstream answers).
// k8s.io/apiserver/pkg/endpoints/handlers/fieldmanager (TypeConverter.ObjectToTyped errors)
pub fn check_applied(
    resource: &ResourceType,
    namespace: &str,
    name: &str,
    applied: &Value,
) -> Result<(), Status> {
    let Some(unknown) = unknown_fields(resource, applied) else { return Ok(()) };
    let Some(first) = unknown.first() else { return Ok(()) };
    Err(Status::internal_message(format!(
        "failed to create typed patch object ({namespace}/{name}; {}, Kind={}): .{first}: field not declared in schema",
        if resource.group.is_empty() {
            format!("/{}", resource.version)
        } else {
            format!("{}/{}", resource.group, resource.version)
        },
        resource.kind
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::find;
    use serde_json::json;

    #[test]
    fn unknown_fields_are_found_at_any_depth() {
        let pods = find("", "v1", "pods").unwrap();
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "bogus": 1},
            "spec": {"containers": [{"name": "c", "image": "i", "imagePolicy": "x"}], "nodeName": null}, "extra": {}});
        assert_eq!(
            unknown_fields(pods, &pod).unwrap(),
            ["metadata.bogus", "spec.containers[0].imagePolicy", "extra"]
        );
    }

    #[test]
    fn strict_refuses_warn_warns_ignore_ignores() {
        let cms = find("", "v1", "configmaps").unwrap();
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "spec": {}});
        let warnings = Warnings::default();
        let strict = check_body(cms, &cm, FieldValidation::Strict, &warnings).unwrap_err();
        assert_eq!(
            strict.message,
            "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: unknown field \"spec\""
        );
        check_body(cms, &cm, FieldValidation::Ignore, &warnings).unwrap();
        assert!(warnings.take().is_empty());
        check_body(cms, &cm, FieldValidation::Warn, &warnings).unwrap();
        assert_eq!(warnings.take(), ["unknown field \"spec\""]);
        assert_eq!(FieldValidation::parse(Some("Sometimes"), "CreateOptions").unwrap_err().code, 422);
    }
}
