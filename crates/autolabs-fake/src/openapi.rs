//! `/openapi/v3` and `/openapi/v2`: the smallest OpenAPI answer kubectl's validation accepts.
//!
//! `kubectl apply|create|replace` (validation on, the default) first asks whether the server
//! validates fields itself: kubectl ≥ 1.26 looks in the OpenAPI v3 document of the object's
//! group-version for a PATCH operation tagged with the object's
//! `x-kubernetes-group-version-kind` that takes the `fieldValidation` query parameter
//! (k8s.io/cli-runtime/pkg/resource/query_param_verifier_v3.go supportsQueryParamV3). If it
//! finds one, kubectl sends `fieldValidation=Strict` and validates nothing itself; if the
//! server has no OpenAPI at all, it refuses to go on ("failed to download openapi"). So each
//! group-version document here declares, for every kind the fake serves, its paths with that
//! PATCH operation, and a permissive schema (`x-kubernetes-preserve-unknown-fields`) under
//! `components` for `kubectl explain`; no upstream schema is embedded. The PATCH operations
//! declare no request body, so client-side `kubectl apply` computes its strategic merge patch
//! from kubectl's compiled-in types rather than from these schemas (k8s.io/kubectl/pkg/cmd/
//! apply/patcher.go gvkSupportsPatchOpenAPIV3).
//!
//! Older kubectl (1.20–1.25) validates on the client with the OpenAPI v2 document, fetched as
//! protobuf (k8s.io/client-go/discovery/discovery_client.go OpenAPISchema), and skips kinds the
//! document does not define (k8s.io/kubectl/pkg/util/openapi/validation validateResource): the
//! v2 answer is an empty, valid document, in protobuf or JSON as asked.

use serde_json::{Value, json};

use super::resources::{self, ResourceType};

/// The v2 document's protobuf media type (gnostic `openapi_v2.Document`), in the spelling
/// without `@` that Go's `mime.ParseMediaType` accepts (k8s.io/kube-openapi/pkg/handler
/// subTypeProtobuf; clients still ask with the deprecated `…spec.v2@v1.0+protobuf`).
const V2_PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// The answer to a GET of `/openapi/...` (path split into segments): content type and body,
/// or `None` for a path the fake does not serve (404).
pub(crate) fn serve(segments: &[&str], accept: &str) -> Option<(&'static str, Vec<u8>)> {
    let json = |value: &Value| Some(("application/json", serde_json::to_vec(value).unwrap_or_default()));
    match segments {
        ["openapi", "v3"] => json(&index()),
        ["openapi", "v3", "api", "v1"] => json(&group_version_document("", "v1")),
        ["openapi", "v3", "apis", group, version]
            if resources::in_group_version(group, version).next().is_some() =>
        {
            json(&group_version_document(group, version))
        }
        ["openapi", "v2"] if accept.contains("protobuf") => Some((V2_PROTOBUF, v2_protobuf())),
        ["openapi", "v2"] => json(&json!({
            "swagger": "2.0",
            "info": {"title": "Kubernetes", "version": VERSION},
            "paths": {},
            "definitions": {},
        })),
        _ => None,
    }
}

/// The `info.version` of the documents (the fake's `/version` is v1.33).
const VERSION: &str = "v1.33.0";

/// Every served group-version (`api/v1`, `apis/{group}/{version}`) with its document's URL.
// k8s.io/kube-openapi/pkg/handler3/handler.go OpenAPIV3Discovery
fn index() -> Value {
    let mut paths = serde_json::Map::new();
    let mut group_versions = vec![(String::new(), "v1")];
    for (group, versions) in resources::groups() {
        group_versions.extend(versions.into_iter().map(|v| (group.to_string(), v)));
    }
    for (group, version) in group_versions {
        let path =
            if group.is_empty() { format!("api/{version}") } else { format!("apis/{group}/{version}") };
        let hash = fnv_hex(&serde_json::to_vec(&group_version_document(&group, version)).unwrap_or_default());
        paths.insert(path.clone(), json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={hash}")}));
    }
    json!({"paths": paths})
}

/// The OpenAPI v3 document of one group-version: per kind, its paths and a permissive schema.
fn group_version_document(group: &str, version: &str) -> Value {
    let mut paths = serde_json::Map::new();
    let mut schemas = serde_json::Map::new();
    for r in resources::in_group_version(group, version) {
        let gvk = json!({"group": r.group, "version": r.version, "kind": r.kind});
        let schema_name = schema_name(r);
        let reference = json!({"$ref": format!("#/components/schemas/{schema_name}")});
        let ok =
            json!({"200": {"description": "OK", "content": {"application/json": {"schema": reference}}}});
        let operation = |action: &str, parameters: &[&str]| {
            json!({
                "operationId": format!("{action}{}", r.kind),
                "x-kubernetes-action": action,
                "x-kubernetes-group-version-kind": gvk,
                "parameters": parameters.iter().map(|p| query_parameter(p)).collect::<Vec<_>>(),
                "responses": ok,
            })
        };
        let prefix = if r.group.is_empty() {
            format!("/api/{}", r.version)
        } else {
            format!("/apis/{}/{}", r.group, r.version)
        };
        let collection = if r.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}", r.plural)
        } else {
            format!("{prefix}/{}", r.plural)
        };
        let writes = ["dryRun", "fieldManager", "fieldValidation"];
        paths.insert(
            collection.clone(),
            json!({
                "get": operation("list", &["labelSelector", "fieldSelector", "limit", "continue", "watch"]),
                "post": operation("post", &writes),
            }),
        );
        paths.insert(
            format!("{collection}/{{name}}"),
            json!({
                "get": operation("get", &[]),
                "put": operation("put", &writes),
                "patch": operation("patch", &["dryRun", "fieldManager", "fieldValidation", "force"]),
                "delete": operation("delete", &["dryRun", "gracePeriodSeconds", "propagationPolicy"]),
            }),
        );
        schemas.insert(
            schema_name,
            json!({
                "type": "object",
                "description": format!(
                    "{} ({}). The autolabs fake API server publishes no field schemas; it validates objects itself.",
                    r.kind,
                    r.api_version()
                ),
                "x-kubernetes-group-version-kind": [gvk],
                "x-kubernetes-preserve-unknown-fields": true,
            }),
        );
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": VERSION},
        "paths": paths,
        "components": {"schemas": schemas},
    })
}

fn query_parameter(name: &str) -> Value {
    json!({"name": name, "in": "query", "schema": {"type": "string"}, "uniqueItems": true})
}

/// Upstream's definition name: `io.k8s.api.{package}.{version}.{Kind}`.
fn schema_name(r: &ResourceType) -> String {
    let package = if r.group.is_empty() { "core" } else { r.group.split('.').next().unwrap_or(r.group) };
    format!("io.k8s.api.{package}.{}.{}", r.version, r.kind)
}

/// `openapi_v2.Document{swagger: "2.0", info: {title, version}}` in protobuf (fields 1, 2; Info
/// title 1, version 2; github.com/google/gnostic-models/openapiv2/OpenAPIv2.proto).
fn v2_protobuf() -> Vec<u8> {
    fn field(number: u8, bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![(number << 3) | 2];
        let mut len = bytes.len();
        while len >= 0x80 {
            out.push((len as u8 & 0x7f) | 0x80);
            len >>= 7;
        }
        out.push(len as u8);
        out.extend_from_slice(bytes);
        out
    }
    let info = [field(1, b"Kubernetes"), field(2, VERSION.as_bytes())].concat();
    [field(1, b"2.0"), field(2, &info)].concat()
}

/// FNV-1a, hex: the documents' cache-busting hash (upstream uses SHA-512; any digest will do).
fn fnv_hex(bytes: &[u8]) -> String {
    let hash =
        bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3));
    format!("{hash:016X}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_kind_has_a_patch_operation_that_takes_field_validation() {
        let index = index();
        for r in resources::RESOURCES {
            let path = if r.group.is_empty() {
                format!("api/{}", r.version)
            } else {
                format!("apis/{}/{}", r.group, r.version)
            };
            let url = index["paths"][&path]["serverRelativeURL"].as_str().expect("indexed");
            assert!(url.starts_with(&format!("/openapi/v3/{path}?hash=")), "{url}");
            let document = group_version_document(r.group, r.version);
            let patches: Vec<&Value> = document["paths"]
                .as_object()
                .expect("paths")
                .values()
                .filter_map(|p| p.get("patch"))
                .filter(|op| op["x-kubernetes-group-version-kind"]["kind"] == r.kind)
                .collect();
            assert_eq!(patches.len(), 1, "{}", r.kind);
            let parameters = patches[0]["parameters"].as_array().expect("parameters");
            assert!(parameters.iter().any(|p| p["name"] == "fieldValidation" && p["in"] == "query"));
        }
    }

    #[test]
    fn v2_protobuf_is_a_swagger_document() {
        let bytes = v2_protobuf();
        assert_eq!(&bytes[..5], b"\x0a\x032.0");
        assert_eq!(bytes[5], 0x12);
        assert!(serve(&["openapi", "v2"], "application/json").is_some_and(|(t, _)| t == "application/json"));
        assert!(serve(&["openapi", "v3", "apis", "nope", "v1"], "").is_none());
    }
}
