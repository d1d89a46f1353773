//! The REST surface: URL routing, query parameters, content types, discovery documents and
//! watch streams, over the store (`store.rs`).
//!
//! Paths follow kube-apiserver: `/api/v1/...` for the core group and `/apis/{group}/{version}/...`
//! for the others, `namespaces/{ns}/{resource}[/{name}[/status]]` for namespaced resources and
//! `{resource}[/{name}[/status]]` for cluster-scoped ones and all-namespace lists. Watches are
//! newline-delimited JSON events over a chunked response, exactly what `kube::Api::watch`
//! and `kube::runtime::watcher` read.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::Shared;
use super::faults::Verb;
use super::fields::{FieldValidation, Warnings, check_body};
use super::resources::{self, ResourceType};
use super::selectors::{FieldQuery, LabelQuery};
use super::status::Status;
use super::store::{
    Change, DeleteOptions, EventType, ListQuery, PatchKind, Propagation, Store, WriteOptions, labels_of,
};

/// Where a request points.
#[derive(Debug, Clone)]
struct Target {
    resource: &'static ResourceType,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
}

/// The one handler: every request comes through here.
pub(crate) async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    let query = parse_query(parts.uri.query().unwrap_or(""));
    let accept = parts.headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let content_type =
        parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();

    if let Some(response) = non_resource(&shared, &parts.method, &path, &accept) {
        return response;
    }
    if let Some(review) = review_of(&parts.method, &path) {
        let bytes = match axum::body::to_bytes(body, shared.max_request_body).await {
            Ok(bytes) => bytes,
            Err(_) => return status_response(&Status::bad_request("the request body could not be read")),
        };
        let caller = super::authz::caller(&parts.headers);
        let answer = json_body(&content_type, bytes).and_then(|bytes| match review {
            Review::Subject => super::authz::subject_access_review(&shared, &bytes),
            Review::SelfSubject => super::authz::self_subject_access_review(&shared, &caller, &bytes),
            Review::SelfIdentity => super::authz::self_subject_review(&caller, &bytes),
        });
        return match answer {
            Ok((code, value)) => json_response(code, &value),
            Err(status) => status_response(&status),
        };
    }
    let Some(target) = parse_path(&path) else {
        return status_response(&Status::no_such_path());
    };
    let Some(verb) = verb_of(&parts.method, &target, &query) else {
        return status_response(&Status::method_not_supported(
            target.resource.plural,
            target.resource.group,
            parts.method.as_str(),
        ));
    };
    shared.count_request(verb, target.resource);
    let decision = shared.faults.decide(
        verb,
        target.resource.plural,
        target.name.as_deref().unwrap_or(""),
        target.resource.group,
    );
    if !decision.latency.is_zero() {
        tokio::time::sleep(decision.latency).await;
    }
    if let Some(failure) = decision.failure {
        return status_response(&failure);
    }
    let body = match axum::body::to_bytes(body, shared.max_request_body).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return status_response(&Status::new(
                413,
                super::status::StatusReason::RequestEntityTooLarge,
                "the server has received a request that is too large",
            ));
        }
    };
    // Typed clients (kubectl >= 1.32) write built-in kinds in protobuf.
    let body = match verb {
        Verb::Create | Verb::Update => match json_body(&content_type, body) {
            Ok(body) => body,
            Err(status) => return status_response(&status),
        },
        _ => body,
    };
    let warnings = Warnings::default();
    let result = match verb {
        Verb::Watch => return watch(shared, target, &query).await,
        Verb::List => list(&shared, &target, &query),
        Verb::Get => get(&shared, &target),
        Verb::Create => create(&shared, &target, &query, &body, &warnings),
        Verb::Update => update(&shared, &target, &query, &body, &warnings),
        Verb::Patch => patch(&shared, &target, &query, &content_type, &body, &warnings),
        Verb::Delete => delete(&shared, &target, &query, &body),
        Verb::DeleteCollection => delete_collection(&shared, &target, &query, &body),
    };
    let mut response = match result {
        Ok((code, value)) => json_response(code, &value),
        Err(status) => status_response(&status),
    };
    // k8s.io/apiserver/pkg/warning (RFC 7234 warn-code 299, agent "-")
    for warning in warnings.take() {
        if let Ok(value) = HeaderValue::from_str(&format!("299 - {warning:?}")) {
            response.headers_mut().append("warning", value);
        }
    }
    response
}

/// The reviews answered outside the resource table (they are created, never stored).
#[derive(Debug, Clone, Copy)]
enum Review {
    Subject,
    SelfSubject,
    SelfIdentity,
}

fn review_of(method: &Method, path: &str) -> Option<Review> {
    if method != Method::POST {
        return None;
    }
    match path.trim_end_matches('/') {
        super::authz::SUBJECT_ACCESS_REVIEWS => Some(Review::Subject),
        super::authz::SELF_SUBJECT_ACCESS_REVIEWS => Some(Review::SelfSubject),
        super::authz::SELF_SUBJECT_REVIEWS => Some(Review::SelfIdentity),
        _ => None,
    }
}

/// A write's body as JSON: protobuf bodies are decoded (see `protobuf.rs`), others passed on.
// k8s.io/apiserver/pkg/endpoints/handlers/create.go (negotiation.NegotiateInputSerializer)
fn json_body(content_type: &str, body: Bytes) -> Result<Bytes, Status> {
    if !super::protobuf::is_protobuf(content_type) {
        return Ok(body);
    }
    let object = super::protobuf::to_json(&body)?;
    Ok(Bytes::from(serde_json::to_vec(&object).unwrap_or_default()))
}

/// Health, version, discovery and OpenAPI.
fn non_resource(shared: &Shared, method: &Method, path: &str, accept: &str) -> Option<Response> {
    if method != Method::GET {
        return None;
    }
    let aggregated = accept.contains("as=APIGroupDiscoveryList");
    let trimmed = path.trim_end_matches('/');
    let segments: Vec<&str> = trimmed.split('/').filter(|s| !s.is_empty()).collect();
    let value = match segments.as_slice() {
        ["healthz"] | ["readyz"] | ["livez"] => {
            return Some(
                Response::builder()
                    .status(StatusCode::OK)
                    .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
                    .body(Body::from("ok"))
                    .unwrap_or_default(),
            );
        }
        ["version"] => version_info(),
        ["openapi", ..] => {
            let (content_type, body) = super::openapi::serve(&segments, accept)?;
            return Some(
                Response::builder()
                    .status(StatusCode::OK)
                    .header(header::CONTENT_TYPE, content_type)
                    .body(Body::from(body))
                    .unwrap_or_default(),
            );
        }
        ["api"] if aggregated => return Some(aggregated_response(aggregated_discovery(true))),
        ["apis"] if aggregated => return Some(aggregated_response(aggregated_discovery(false))),
        ["api"] => json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": shared.address.to_string()}],
        }),
        ["apis"] => json!({
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": resources::groups().iter().map(|(g, versions)| api_group(g, versions)).collect::<Vec<_>>(),
        }),
        ["api", "v1"] => resource_list("", "v1"),
        ["apis", group] => {
            let groups = resources::groups();
            let (g, versions) = groups.iter().find(|(g, _)| g == group)?;
            api_group(g, versions)
        }
        ["apis", group, version] if resources::in_group_version(group, version).next().is_some() => {
            resource_list(group, version)
        }
        _ => return None,
    };
    Some(json_response(200, &value))
}

// k8s.io/apimachinery/pkg/version/types.go Info
fn version_info() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "gitVersion": "v1.33.0+autolabs-fake",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z",
        "goVersion": "go1.24.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

fn api_group(group: &str, versions: &[&str]) -> Value {
    let entries: Vec<Value> =
        versions.iter().map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v})).collect();
    json!({
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": entries,
        "preferredVersion": entries.first().cloned().unwrap_or(Value::Null),
    })
}

const VERBS: [&str; 8] = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
const STATUS_VERBS: [&str; 3] = ["get", "patch", "update"];

// k8s.io/apimachinery/pkg/apis/meta/v1/types.go APIResourceList
fn resource_list(group: &str, version: &str) -> Value {
    let mut entries = Vec::new();
    for r in resources::in_group_version(group, version) {
        entries.push(json!({
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": VERBS,
            "shortNames": r.short_names,
        }));
        if r.has_status {
            entries.push(json!({
                "name": format!("{}/status", r.plural),
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": STATUS_VERBS,
            }));
        }
    }
    let group_version = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": entries})
}

/// Aggregated discovery (`apidiscovery.k8s.io/v2`): the core group at `/api`, the rest at `/apis`.
// k8s.io/api/apidiscovery/v2/types.go APIGroupDiscoveryList
fn aggregated_discovery(core: bool) -> Value {
    let groups: Vec<(&str, Vec<&str>)> = if core { vec![("", vec!["v1"])] } else { resources::groups() };
    let items: Vec<Value> = groups
        .iter()
        .map(|(group, versions)| {
            let versions: Vec<Value> = versions
                .iter()
                .map(|version| {
                    let resources: Vec<Value> = resources::in_group_version(group, version)
                        .map(|r| {
                            let kind = json!({"group": r.group, "version": r.version, "kind": r.kind});
                            let subresources: Vec<Value> = if r.has_status {
                                vec![json!({"subresource": "status", "responseKind": kind, "verbs": STATUS_VERBS})]
                            } else {
                                Vec::new()
                            };
                            json!({
                                "resource": r.plural,
                                "responseKind": kind,
                                "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
                                "singularResource": r.singular,
                                "verbs": VERBS,
                                "shortNames": r.short_names,
                                "subresources": subresources,
                            })
                        })
                        .collect();
                    json!({"version": version, "resources": resources, "freshness": "Current"})
                })
                .collect();
            json!({"metadata": {"name": group}, "versions": versions})
        })
        .collect();
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items})
}

fn aggregated_response(value: Value) -> Response {
    let mut response = json_response(200, &value);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"),
    );
    response
}

fn parse_path(path: &str) -> Option<Target> {
    let segments: Vec<String> = path.split('/').filter(|s| !s.is_empty()).map(percent_decode).collect();
    let (group, version, rest) = match segments.first().map(String::as_str) {
        Some("api") => ("", segments.get(1)?.as_str(), segments.get(2..)?),
        Some("apis") => (segments.get(1)?.as_str(), segments.get(2)?.as_str(), segments.get(3..)?),
        _ => return None,
    };
    let namespaced_path = rest.len() >= 3
        && rest[0] == "namespaces"
        && resources::find(group, version, &rest[2]).is_some_and(|r| r.namespaced);
    let (namespace, tail) = if namespaced_path { (Some(rest[1].clone()), &rest[2..]) } else { (None, rest) };
    if tail.is_empty() || tail.len() > 3 {
        return None;
    }
    let resource = resources::find(group, version, &tail[0])?;
    let name = tail.get(1).cloned();
    let subresource = tail.get(2).cloned();
    if resource.namespaced && namespace.is_none() && name.is_some() {
        return None;
    }
    if subresource.as_deref().is_some_and(|s| s != "status" || !resource.has_status) {
        return None;
    }
    Some(Target { resource, namespace, name, subresource })
}

fn verb_of(method: &Method, target: &Target, query: &HashMap<String, String>) -> Option<Verb> {
    let watching = matches!(query.get("watch").map(String::as_str), Some("true" | "1"));
    let whole_collection = target.resource.namespaced && target.namespace.is_none();
    match (method.as_str(), target.name.is_some()) {
        ("GET", false) if watching => Some(Verb::Watch),
        ("GET", false) => Some(Verb::List),
        ("POST", false) if !whole_collection => Some(Verb::Create),
        ("DELETE", false) if !whole_collection => Some(Verb::DeleteCollection),
        ("GET", true) => Some(Verb::Get),
        ("PUT", true) => Some(Verb::Update),
        ("PATCH", true) => Some(Verb::Patch),
        ("DELETE", true) if target.subresource.is_none() => Some(Verb::Delete),
        _ => None,
    }
}

/// A path segment: `%XX` decoded, `+` kept (only query strings spell a space `+`); an invalid
/// escape stays as written.
// net/url/url.go PathUnescape (unescape with encodePathSegment)
fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned()
}

/// A query string as `application/x-www-form-urlencoded`: `+` is a space, `%XX` decoded.
// net/url/url.go ParseQuery (QueryUnescape)
fn parse_query(query: &str) -> HashMap<String, String> {
    form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

fn json_response(code: u16, value: &Value) -> Response {
    let Ok(status) = StatusCode::from_u16(code) else {
        // No HTTP status has this code: a bug of the fake, which must not pass for success.
        return status_response(&Status::internal(&format!(
            "the fake API server chose an invalid HTTP status {code}"
        )));
    };
    let body = serde_json::to_vec(value).unwrap_or_default();
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap_or_default()
}

fn status_response(status: &Status) -> Response {
    let mut response = json_response(status.code, &status.to_json());
    if let Some(seconds) = status.details.retry_after_seconds
        && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

fn dry_run(query: &HashMap<String, String>) -> Result<bool, Status> {
    dry_run_of(query, "DeleteOptions")
}

fn dry_run_of(query: &HashMap<String, String>, options_kind: &str) -> Result<bool, Status> {
    match query.get("dryRun").map(String::as_str) {
        None | Some("") => Ok(false),
        Some("All") => Ok(true),
        // k8s.io/apiserver/pkg/endpoints/handlers/rest.go (ValidateDryRun)
        Some(other) => Err(Status::invalid(
            options_kind,
            "meta.k8s.io",
            "",
            &[("dryRun".into(), format!("Unsupported value: [{other:?}]: supported values: \"All\""))],
        )),
    }
}

/// The options of a write; `options_kind` (`CreateOptions`, …) names them in errors.
fn write_options(
    query: &HashMap<String, String>,
    options_kind: &str,
    warnings: &Warnings,
) -> Result<WriteOptions, Status> {
    Ok(WriteOptions {
        dry_run: dry_run_of(query, options_kind)?,
        field_manager: query.get("fieldManager").cloned(),
        force: query.get("force").is_some_and(|f| f == "true"),
        field_validation: FieldValidation::parse(
            query.get("fieldValidation").map(String::as_str),
            options_kind,
        )?,
        warnings: warnings.clone(),
        ..WriteOptions::default()
    })
}

fn list_query(target: &Target, query: &HashMap<String, String>) -> Result<ListQuery, Status> {
    Ok(ListQuery {
        labels: match query.get("labelSelector") {
            Some(s) => LabelQuery::parse(s)?,
            None => LabelQuery::everything(),
        },
        fields: match query.get("fieldSelector") {
            Some(s) => FieldQuery::parse(s, target.resource.plural)?,
            None => FieldQuery::default(),
        },
        limit: match query.get("limit").filter(|l| !l.is_empty()) {
            Some(l) => Some(l.parse().map_err(|_| Status::bad_request(format!("invalid limit {l:?}")))?),
            None => None,
        },
        continue_token: query.get("continue").filter(|c| !c.is_empty()).cloned(),
    })
}

fn parse_body(body: &Bytes) -> Result<Value, Status> {
    serde_json::from_slice(body)
        .map_err(|e| Status::bad_request(format!("the request body is not valid JSON: {e}")))
}

/// The code and body of an answer; stored objects are shared, not copied.
type Answer = Result<(u16, Arc<Value>), Status>;

fn name_of(target: &Target) -> &str {
    target.name.as_deref().unwrap_or("")
}

fn namespace_of(target: &Target) -> &str {
    target.namespace.as_deref().unwrap_or("")
}

fn get(shared: &Shared, target: &Target) -> Answer {
    let store = shared.lock();
    Ok((200, store.get(target.resource, namespace_of(target), name_of(target))?))
}

fn list(shared: &Shared, target: &Target, query: &HashMap<String, String>) -> Answer {
    let list_query = list_query(target, query)?;
    let store = shared.lock();
    Ok((200, Arc::new(store.list(target.resource, target.namespace.as_deref(), &list_query)?)))
}

fn create(
    shared: &Arc<Shared>,
    target: &Target,
    query: &HashMap<String, String>,
    body: &Bytes,
    warnings: &Warnings,
) -> Answer {
    let options = write_options(query, "CreateOptions", warnings)?;
    let object = parse_body(body)?;
    check_body(target.resource, &object, options.field_validation, warnings)?;
    // Validation and decoding read only the request: done before the store lock is taken.
    let checked = Store::check_create(target.resource, target.namespace.as_deref(), object)?;
    let created = shared.lock().create_checked(checked, &options)?;
    if !options.dry_run {
        shared.after_create(target.resource, &created);
    }
    Ok((201, created))
}

fn update(
    shared: &Shared,
    target: &Target,
    query: &HashMap<String, String>,
    body: &Bytes,
    warnings: &Warnings,
) -> Answer {
    let options = write_options(query, "UpdateOptions", warnings)?;
    let object = parse_body(body)?;
    check_body(target.resource, &object, options.field_validation, warnings)?;
    let updated = shared.lock().update(
        target.resource,
        namespace_of(target),
        name_of(target),
        target.subresource.as_deref(),
        object,
        &options,
    )?;
    Ok((200, updated))
}

fn patch(
    shared: &Arc<Shared>,
    target: &Target,
    query: &HashMap<String, String>,
    content_type: &str,
    body: &Bytes,
    warnings: &Warnings,
) -> Answer {
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    let kind = match media_type {
        "application/merge-patch+json" => PatchKind::Merge,
        "application/strategic-merge-patch+json" => PatchKind::Strategic,
        "application/json-patch+json" => PatchKind::Json,
        "application/apply-patch+yaml" => PatchKind::Apply,
        _ => return Err(Status::unsupported_media_type()),
    };
    let options = write_options(query, "PatchOptions", warnings)?;
    let (code, object) = shared.lock().patch(
        target.resource,
        namespace_of(target),
        name_of(target),
        target.subresource.as_deref(),
        kind,
        body,
        &options,
    )?;
    if code == 201 && !options.dry_run {
        shared.after_create(target.resource, &object);
    }
    Ok((code, object))
}

/// Query parameters and the `DeleteOptions` body, merged (the body wins).
fn delete_options(query: &HashMap<String, String>, body: &Bytes) -> Result<DeleteOptions, Status> {
    let mut options = DeleteOptions { dry_run: dry_run(query)?, ..Default::default() };
    let mut propagation = query.get("propagationPolicy").cloned();
    let mut orphan = query.get("orphanDependents").map(|v| v == "true");
    if !body.is_empty() {
        let body = parse_body(body)?;
        if let Some(p) = body.get("propagationPolicy").and_then(Value::as_str) {
            propagation = Some(p.to_string());
        }
        if let Some(o) = body.get("orphanDependents").and_then(Value::as_bool) {
            orphan = Some(o);
        }
        if body.get("dryRun").and_then(Value::as_array).is_some_and(|d| d.iter().any(|v| v == "All")) {
            options.dry_run = true;
        }
        options.precondition_uid =
            body.pointer("/preconditions/uid").and_then(Value::as_str).map(String::from);
        options.precondition_resource_version =
            body.pointer("/preconditions/resourceVersion").and_then(Value::as_str).map(String::from);
    }
    options.propagation = match propagation.as_deref() {
        None | Some("") => orphan.and_then(|o| o.then_some(Propagation::Orphan)),
        Some("Background") => Some(Propagation::Background),
        Some("Foreground") => Some(Propagation::Foreground),
        Some("Orphan") => Some(Propagation::Orphan),
        // k8s.io/apimachinery/pkg/apis/meta/v1/validation ValidateDeleteOptions
        Some(other) => {
            return Err(Status::invalid(
                "DeleteOptions",
                "meta.k8s.io",
                "",
                &[(
                    "propagationPolicy".into(),
                    format!(
                        "Unsupported value: {other:?}: supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
                    ),
                )],
            ));
        }
    };
    Ok(options)
}

fn delete(shared: &Shared, target: &Target, query: &HashMap<String, String>, body: &Bytes) -> Answer {
    let options = delete_options(query, body)?;
    let (code, value) =
        shared.lock().delete(target.resource, namespace_of(target), name_of(target), &options)?;
    Ok((code, Arc::new(value)))
}

fn delete_collection(
    shared: &Shared,
    target: &Target,
    query: &HashMap<String, String>,
    body: &Bytes,
) -> Answer {
    let options = delete_options(query, body)?;
    let list_query = list_query(target, query)?;
    Ok((
        200,
        Arc::new(shared.lock().delete_collection(
            target.resource,
            target.namespace.as_deref(),
            &list_query,
            &options,
        )?),
    ))
}

/// One watch event line, serialized straight from the stored object (no copy of it).
fn event_line(kind: &str, object: &Value) -> Bytes {
    #[derive(serde::Serialize)]
    struct WatchEvent<'a> {
        #[serde(rename = "type")]
        kind: &'a str,
        object: &'a Value,
    }
    let mut line = serde_json::to_vec(&WatchEvent { kind, object }).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}

fn bookmark(resource: &ResourceType, revision: u64, initial_events_end: bool) -> Bytes {
    let mut metadata = json!({"resourceVersion": revision.to_string()});
    if initial_events_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    event_line(
        "BOOKMARK",
        &json!({"kind": resource.kind, "apiVersion": resource.api_version(), "metadata": metadata}),
    )
}

// k8s.io/apiserver/pkg/storage/cacher/watch_cache.go (too old resource version)
fn too_old(requested: u64, oldest: u64) -> Bytes {
    event_line(
        "ERROR",
        &Status::expired(format!("too old resource version: {requested} ({oldest})")).to_json(),
    )
}

/// What a watch sends for one change, after selectors: an object entering the selection is
/// ADDED, one leaving it DELETED (the watch cache's filtering).
// k8s.io/apiserver/pkg/storage/cacher/cache_watcher.go convertToWatchEvent
fn event_for<'a>(change: &'a Change, watch: &WatchSpec) -> Option<(&'static str, &'a Value)> {
    if change.resource != watch.resource
        || watch.namespace.as_deref().is_some_and(|ns| ns != change.namespace)
    {
        return None;
    }
    let selected = |object: &Value| watch.labels.matches(&labels_of(object)) && watch.fields.matches(object);
    let now = selected(&change.object);
    match change.event {
        EventType::Added | EventType::Deleted => now.then_some((change.event.as_str(), &*change.object)),
        EventType::Modified => {
            let before = change.previous.as_deref().is_some_and(selected);
            match (before, now) {
                (true, true) => Some((EventType::Modified.as_str(), &*change.object)),
                (false, true) => Some((EventType::Added.as_str(), &*change.object)),
                (true, false) => Some((EventType::Deleted.as_str(), &*change.object)),
                (false, false) => None,
            }
        }
    }
}

struct WatchSpec {
    resource: &'static ResourceType,
    namespace: Option<String>,
    labels: LabelQuery,
    fields: FieldQuery,
    bookmarks: bool,
    timeout: Duration,
}

async fn watch(shared: Arc<Shared>, target: Target, query: &HashMap<String, String>) -> Response {
    let list_query = match list_query(&target, query) {
        Ok(q) => q,
        Err(status) => return status_response(&status),
    };
    let spec = WatchSpec {
        resource: target.resource,
        namespace: target.namespace.clone(),
        labels: list_query.labels,
        fields: list_query.fields,
        bookmarks: query.get("allowWatchBookmarks").is_some_and(|b| b == "true"),
        timeout: query
            .get("timeoutSeconds")
            .and_then(|t| t.parse::<u64>().ok())
            .map(Duration::from_secs)
            .unwrap_or(shared.watch_timeout),
    };
    let send_initial = query.get("sendInitialEvents").is_some_and(|s| s == "true");
    let requested = query.get("resourceVersion").map(String::as_str).unwrap_or("");
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let start = {
        let store = shared.lock();
        if requested.is_empty() || requested == "0" || send_initial {
            let (revision, objects) =
                store.current_matching(spec.resource, spec.namespace.as_deref(), &spec.labels, &spec.fields);
            Ok((revision, objects))
        } else {
            match requested.parse::<u64>() {
                Err(_) => Err(Status::bad_request(format!("invalid resource version: {requested:?}"))),
                Ok(revision) if revision < store.oldest_servable() => {
                    let _ = tx.try_send(too_old(revision, store.oldest_servable()));
                    Ok((u64::MAX, Vec::new()))
                }
                Ok(revision) => Ok((revision, Vec::new())),
            }
        }
    };
    let (revision, initial) = match start {
        Ok(start) => start,
        Err(status) => return status_response(&status),
    };
    if revision != u64::MAX {
        tokio::spawn(run_watch(Arc::clone(&shared), spec, revision, initial, send_initial, tx));
    }
    let stream = ReceiverStream::new(rx).map(Ok::<Bytes, Infallible>);
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(stream))
        .unwrap_or_default()
}

/// Streams one watch until its timeout, a shutdown, a disconnect, or the client leaving.
async fn run_watch(
    shared: Arc<Shared>,
    spec: WatchSpec,
    mut last: u64,
    initial: Vec<Arc<Value>>,
    initial_events_end: bool,
    tx: mpsc::Sender<Bytes>,
) {
    let mut changes = shared.changes.clone();
    let mut shutdown = shared.shutdown.subscribe();
    let mut disconnect = shared.disconnect.subscribe();
    let drop_after = shared.faults.drop_watch_after();
    let mut sent = 0u32;
    for object in initial {
        if tx.send(event_line("ADDED", &object)).await.is_err() {
            return;
        }
        sent += 1;
        if drop_after.is_some_and(|limit| sent >= limit) {
            return;
        }
    }
    if initial_events_end && tx.send(bookmark(spec.resource, last, true)).await.is_err() {
        return;
    }
    let deadline = tokio::time::sleep(spec.timeout);
    tokio::pin!(deadline);
    let mut ticker = tokio::time::interval(shared.bookmark_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        let drain = tokio::select! {
            _ = &mut deadline => {
                if spec.bookmarks {
                    let _ = tx.send(bookmark(spec.resource, last, false)).await;
                }
                return;
            }
            _ = shutdown.changed() => return,
            _ = disconnect.changed() => return,
            _ = tx.closed() => return,
            _ = ticker.tick(), if spec.bookmarks => false,
            changed = changes.changed() => {
                if changed.is_err() {
                    return;
                }
                true
            }
        };
        let next = {
            let store = shared.lock();
            store.changes_after(last).ok_or_else(|| store.oldest_servable())
        };
        let batch = match next {
            Ok(batch) => batch,
            Err(oldest) => {
                let _ = tx.send(too_old(last, oldest)).await;
                return;
            }
        };
        for change in &batch {
            last = change.revision;
            if let Some((kind, object)) = event_for(change, &spec) {
                if tx.send(event_line(kind, object)).await.is_err() {
                    return;
                }
                sent += 1;
                if drop_after.is_some_and(|limit| sent >= limit) {
                    return;
                }
            }
        }
        if !drain && tx.send(bookmark(spec.resource, last, false)).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_route_like_kube_apiserver() {
        // (path, plural, namespace, name, subresource)
        type Row =
            (&'static str, &'static str, Option<&'static str>, Option<&'static str>, Option<&'static str>);
        let rows: [Row; 7] = [
            ("/api/v1/namespaces", "namespaces", None, None, None),
            ("/api/v1/namespaces/labs", "namespaces", None, Some("labs"), None),
            ("/api/v1/namespaces/labs/status", "namespaces", None, Some("labs"), Some("status")),
            ("/api/v1/namespaces/labs/pods", "pods", Some("labs"), None, None),
            ("/api/v1/namespaces/labs/pods/p/status", "pods", Some("labs"), Some("p"), Some("status")),
            ("/api/v1/pods", "pods", None, None, None),
            ("/apis/apps/v1/namespaces/n/deployments/d", "deployments", Some("n"), Some("d"), None),
        ];
        for (path, plural, namespace, name, sub) in rows {
            let t = parse_path(path).unwrap_or_else(|| panic!("{path}"));
            assert_eq!(t.resource.plural, plural, "{path}");
            assert_eq!(t.namespace.as_deref(), namespace, "{path}");
            assert_eq!(t.name.as_deref(), name, "{path}");
            assert_eq!(t.subresource.as_deref(), sub, "{path}");
        }
        for bad in [
            "/api/v1/widgets",
            "/api/v1/pods/p",
            "/api/v1/namespaces/n/configmaps/c/status",
            "/apis/apps/v9/deployments",
            "/x",
        ] {
            assert!(parse_path(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn queries_are_percent_decoded() {
        let q = parse_query("labelSelector=app%3Dweb%2Ctier+in+%28a%29&watch=1");
        assert_eq!(q["labelSelector"], "app=web,tier in (a)");
        assert_eq!(q["watch"], "1");
        assert_eq!(percent_decode("%zz%"), "%zz%");
    }

    #[test]
    fn a_plus_in_a_path_segment_is_a_plus() {
        // Only query strings spell a space `+`: a name such as `c++` reaches the store as is.
        let target = parse_path("/api/v1/namespaces/labs/configmaps/c++%2Bx%20y").expect("a configmap path");
        assert_eq!(target.name.as_deref(), Some("c+++x y"));
        assert_eq!(target.namespace.as_deref(), Some("labs"));
        assert_eq!(
            parse_query("fieldSelector=metadata.name%3Dc%2B%2B+x")["fieldSelector"],
            "metadata.name=c++ x"
        );
    }

    #[test]
    fn an_invalid_status_code_is_an_internal_error_not_ok() {
        assert_eq!(json_response(200, &serde_json::json!({})).status(), StatusCode::OK);
        for invalid in [0, 99, 1000] {
            let response = json_response(invalid, &serde_json::json!({}));
            assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR, "{invalid}");
        }
    }
}
