//! The lab API's HTTP layer (axum): routes, bearer authentication, body limits, JSON errors
//! in the caller's language. Every decision is the provisioner's; this only translates.
//!
//! Errors are always `{"error": code, "message": text}` (404 and 405 included), the text in
//! Russian when `Accept-Language` weighs `ru` above `en`, English otherwise. Bodies are JSON:
//! another `Content-Type` is 415.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use autolabs_kube::labs::{Capacity, ClusterFull, Lab, LabPage, LabsError, ListFilter, Provisioner};
use autolabs_model::lab::{LabRequest, Lang};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::Method;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::openapi::{self, Content, QueryParameter, Reply, Route, schema_of};

/// Largest accepted request body: a lab request is a few dozen bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub provisioner: Provisioner,
    token: Arc<[u8]>,
    /// The OpenAPI document of [`routes`], served at `/openapi.json`.
    openapi: Arc<str>,
}

/// Seconds a caller is asked to wait (`Retry-After`) when the service is not ready or the
/// Kubernetes API is unreachable.
pub const RETRY_AFTER_SECONDS: u64 = 5;

/// Every error answer of the lab API.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ErrorBody {
    /// A stable machine-readable code (`invalid_id`, `cluster_full`, `not_found`…).
    pub error: String,
    /// What went wrong, in the caller's language.
    pub message: String,
    /// The quota numbers, on `cluster_full`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<ClusterFull>,
}

/// Builds the MethodRouter of one route.
type Handler = fn() -> MethodRouter<AppState>;

const fn error(status: u16, description: &'static str) -> Reply {
    Reply::json(status, description, schema_of::<ErrorBody>)
}

const UNAUTHORIZED: Reply = error(401, "`unauthorized`: no bearer token, or not the service's.");
const SERVER_FAULT: Reply = error(
    500,
    "`template_rejected`, `namespace_unreadable`, `unexpected_object`: the service or the cluster is misconfigured.",
);
const KUBERNETES_ERROR: Reply =
    error(502, "`kubernetes_error`: the Kubernetes API answered an error that retries did not cure.");
const UNAVAILABLE: Reply = error(
    503,
    "`not_ready` (the service is starting) or `kubernetes_unreachable`: try again after `Retry-After` seconds.",
)
.retry_later();
const BAD_BODY: Reply = error(
    400,
    "`invalid_body` (not JSON, a missing or unknown field, a wrong type), or a lab rule broken: `invalid_id`, \
     `ttl_zero`, `ttl_too_long`, `no_expiry`, `time_out_of_range`.",
);
const TOO_LARGE: Reply = error(413, "`body_too_large`: the body is larger than 16 KiB.");
const NOT_JSON: Reply =
    error(415, "`unsupported_media_type`: the body is sent as something other than JSON.");
const LAB_NOT_FOUND: Reply = error(404, "`not_found`: no lab has this id.");
const INVALID_ID: Reply =
    error(400, "`invalid_id`: the id is not a lab id (a DNS-1123 label of at most 40 characters).");

/// The lab API, operation by operation: [`router`] serves these and only these, and
/// [`openapi::document`] describes them.
pub fn routes() -> Vec<Route<Handler>> {
    vec![
        Route {
            method: Method::POST,
            path: "/v1/labs",
            operation_id: "createLab",
            summary: "Create a lab (idempotent: the same id and template answer the existing lab)",
            authenticated: true,
            request_body: Some(schema_of::<LabRequest>),
            query: &[],
            replies: vec![
                Reply::json(201, "The lab was created; its Pod is starting.", schema_of::<Lab>),
                Reply::json(
                    200,
                    "A lab with this id and template exists already: it is answered.",
                    schema_of::<Lab>,
                ),
                BAD_BODY,
                UNAUTHORIZED,
                error(404, "`unknown_template`: the service has no such template."),
                error(
                    409,
                    "`template_conflict` (the id exists with another template) or `cluster_full` (no room in the \
                     labs quota; `details` has the numbers).",
                ),
                TOO_LARGE,
                NOT_JSON,
                SERVER_FAULT,
                KUBERNETES_ERROR,
                UNAVAILABLE,
            ],
            handler: || post(create_lab),
        },
        Route {
            method: Method::GET,
            path: "/v1/labs",
            operation_id: "listLabs",
            summary: "List labs in id order, a page at a time",
            authenticated: true,
            request_body: None,
            query: &[
                QueryParameter {
                    name: "template",
                    description: "Only labs of this template.",
                    schema: || json!({"type": "string"}),
                },
                QueryParameter {
                    name: "phase",
                    description: "Only labs in this phase (case-insensitive).",
                    schema: || json!({"type": "string"}),
                },
                QueryParameter {
                    name: "limit",
                    description: "At most this many labs (0 or absent: all).",
                    schema: || json!({"type": "integer", "minimum": 0}),
                },
                QueryParameter {
                    name: "continue",
                    description: "The `continue` of the previous page.",
                    schema: || json!({"type": "string"}),
                },
            ],
            replies: vec![
                Reply::json(200, "One page of labs.", schema_of::<LabPage>),
                error(400, "`invalid_query`: `limit` is not a whole number."),
                UNAUTHORIZED,
                error(404, "`unknown_template`: `template` cannot be a template's name."),
                SERVER_FAULT,
                KUBERNETES_ERROR,
                UNAVAILABLE,
            ],
            handler: || get(list_labs),
        },
        Route {
            method: Method::GET,
            path: "/v1/labs/{id}",
            operation_id: "getLab",
            summary: "Read one lab",
            authenticated: true,
            request_body: None,
            query: &[],
            replies: vec![
                Reply::json(200, "The lab.", schema_of::<Lab>),
                INVALID_ID,
                UNAUTHORIZED,
                LAB_NOT_FOUND,
                SERVER_FAULT,
                KUBERNETES_ERROR,
                UNAVAILABLE,
            ],
            handler: || get(get_lab),
        },
        Route {
            method: Method::DELETE,
            path: "/v1/labs/{id}",
            operation_id: "deleteLab",
            summary: "Delete a lab and all its objects",
            authenticated: true,
            request_body: None,
            query: &[],
            replies: vec![
                Reply { status: 204, description: "Deleted.", content: Content::Empty, retry_after: false },
                INVALID_ID,
                UNAUTHORIZED,
                LAB_NOT_FOUND,
                SERVER_FAULT,
                KUBERNETES_ERROR,
                UNAVAILABLE,
            ],
            handler: || delete(delete_lab),
        },
        Route {
            method: Method::POST,
            path: "/v1/labs/{id}/extend",
            operation_id: "extendLab",
            summary: "Push a lab's expiry back, within its template's maximum lifetime",
            authenticated: true,
            request_body: Some(schema_of::<ExtendRequest>),
            query: &[],
            replies: vec![
                Reply::json(200, "The lab with its new expiry.", schema_of::<Lab>),
                error(400, "`invalid_body` or `invalid_id`."),
                UNAUTHORIZED,
                LAB_NOT_FOUND,
                error(
                    409,
                    "`extend_beyond_max` (the lab would outlive its template's `ttl.max` from its creation: \
                     refused, not clamped) or `expired`.",
                ),
                TOO_LARGE,
                NOT_JSON,
                SERVER_FAULT,
                KUBERNETES_ERROR,
                UNAVAILABLE,
            ],
            handler: || post(extend_lab),
        },
        Route {
            method: Method::GET,
            path: "/v1/capacity",
            operation_id: "getCapacity",
            summary: "Quota use of the labs namespace and how many more labs of each template fit",
            authenticated: true,
            request_body: None,
            query: &[],
            replies: vec![
                Reply::json(200, "The labs namespace's room.", schema_of::<Capacity>),
                UNAUTHORIZED,
                SERVER_FAULT,
                UNAVAILABLE,
            ],
            handler: || get(capacity),
        },
        Route {
            method: Method::GET,
            path: "/healthz",
            operation_id: "healthz",
            summary: "Liveness: the process answers",
            authenticated: false,
            request_body: None,
            query: &[],
            replies: vec![Reply {
                status: 200,
                description: "`ok`.",
                content: Content::Text("text/plain"),
                retry_after: false,
            }],
            handler: || get(|| async { "ok" }),
        },
        Route {
            method: Method::GET,
            path: "/readyz",
            operation_id: "readyz",
            summary: "Readiness: caches synced and the Kubernetes API reachable",
            authenticated: false,
            request_body: None,
            query: &[],
            replies: vec![
                Reply {
                    status: 200,
                    description: "`ok`.",
                    content: Content::Text("text/plain"),
                    retry_after: false,
                },
                error(503, "`not_ready`: caches not synced yet, or the Kubernetes API unreachable.")
                    .retry_later(),
            ],
            handler: || get(readyz),
        },
        Route {
            method: Method::GET,
            path: "/metrics",
            operation_id: "metrics",
            summary: "Prometheus metrics (OpenMetrics text)",
            authenticated: false,
            request_body: None,
            query: &[],
            replies: vec![Reply {
                status: 200,
                description: "The service's series.",
                content: Content::Text(OPENMETRICS),
                retry_after: false,
            }],
            handler: || get(metrics),
        },
        Route {
            method: Method::GET,
            path: "/openapi.json",
            operation_id: "openapi",
            summary: "This document",
            authenticated: false,
            request_body: None,
            query: &[],
            replies: vec![Reply {
                status: 200,
                description: "The OpenAPI 3.1 document of the lab API.",
                content: Content::JsonObject,
                retry_after: false,
            }],
            handler: || get(openapi_document),
        },
    ]
}

/// The media type of `/metrics`.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The whole lab API, built from [`routes`]. `token` is the bearer token every
/// authenticated route must present.
pub fn router(provisioner: Provisioner, token: &str) -> Router {
    let routes = routes();
    let openapi = Arc::from(openapi::document(&routes).to_string());
    let state = AppState { provisioner, token: Arc::from(token.as_bytes()), openapi };
    let (mut authenticated, mut open) = (Router::new(), Router::new());
    for route in routes {
        if route.authenticated {
            authenticated = authenticated.route(route.path, (route.handler)());
        } else {
            open = open.route(route.path, (route.handler)());
        }
    }
    let authenticated =
        authenticated.route_layer(middleware::from_fn_with_state(state.clone(), authenticate));
    Router::new()
        .merge(authenticated)
        .merge(open)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(access_log))
        .with_state(state)
}

/// The language of the caller's `Accept-Language`.
fn lang(headers: &HeaderMap) -> Lang {
    headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).map(Lang::from_tag).unwrap_or_default()
}

/// `body` as JSON; a body that does not encode (a map with non-string keys, a failing
/// `Serialize`) is a 500 that says so, never an empty 200.
fn json_response(status: StatusCode, body: &impl serde::Serialize) -> Response {
    let (status, text) = match serde_json::to_string(body) {
        Ok(text) => (status, text),
        Err(error) => {
            tracing::error!(%error, "cannot encode an answer as JSON");
            let message = serde_json::Value::String(format!("cannot encode the answer as JSON: {error}"));
            (StatusCode::INTERNAL_SERVER_ERROR, format!(r#"{{"error":"internal","message":{message}}}"#))
        }
    };
    let mut response = (status, text).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn error_body(status: StatusCode, code: &str, message: String) -> Response {
    error_response(status, &ErrorBody { error: code.to_string(), message, details: None })
}

fn error_response(status: StatusCode, body: &ErrorBody) -> Response {
    let mut response = json_response(status, body);
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    }
    response
}

fn labs_error(error: &LabsError, lang: Lang) -> Response {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let details = match error {
        LabsError::ClusterFull(numbers) => Some((**numbers).clone()),
        _ => None,
    };
    if status.is_server_error() {
        tracing::warn!(code = error.code(), %error, "request failed");
    }
    error_response(
        status,
        &ErrorBody { error: error.code().to_string(), message: error.message(lang), details },
    )
}

/// Messages of the HTTP layer's own errors.
fn text(lang: Lang, en: &str, ru: &str) -> String {
    match lang {
        Lang::En => en.to_string(),
        Lang::Ru => ru.to_string(),
    }
}

/// Compares in time independent of where the inputs differ (only the length leaks), with
/// `subtle`'s constant-time equality.
fn constant_time_eq(given: &[u8], expected: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    bool::from(given.ct_eq(expected))
}

async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let lang = lang(request.headers());
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match presented {
        Some(token) if constant_time_eq(token.as_bytes(), &state.token) => next.run(request).await,
        _ => {
            let mut response = error_body(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                text(lang, "a valid bearer token is required", "нужен действительный bearer-токен"),
            );
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            response
        }
    }
}

async fn access_log(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    if path != "/healthz" && path != "/metrics" {
        tracing::info!(
            %method,
            %path,
            status = response.status().as_u16(),
            millis = started.elapsed().as_secs_f64() * 1000.0,
            "request"
        );
    }
    response
}

/// A JSON body of type `T`, or the JSON error saying what is wrong with it.
fn parse_body<T: serde::de::DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
    headers: &HeaderMap,
) -> Result<T, Box<Response>> {
    let lang = lang(headers);
    // A body sent as something else (a form, plain text) is refused rather than guessed at; a
    // request without Content-Type is read as JSON.
    if let Some(kind) = headers.get(header::CONTENT_TYPE) {
        let media = kind.to_str().unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if media != "application/json" && !media.ends_with("+json") {
            return Err(Box::new(error_body(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                text(
                    lang,
                    &format!("the body must be JSON (Content-Type: application/json), not {media:?}"),
                    &format!(
                        "тело запроса должно быть JSON (Content-Type: application/json), а не {media:?}"
                    ),
                ),
            )));
        }
    }
    let bytes = body.map_err(|rejection| {
        Box::new(if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            error_body(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                text(
                    lang,
                    &format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
                    &format!("тело запроса больше {MAX_BODY_BYTES} байт"),
                ),
            )
        } else {
            error_body(StatusCode::BAD_REQUEST, "invalid_body", rejection.body_text())
        })
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        Box::new(error_body(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            text(
                lang,
                &format!("the request body is not valid: {e}"),
                &format!("некорректное тело запроса: {e}"),
            ),
        ))
    })
}

async fn create_lab(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let lang = lang(&headers);
    let request: LabRequest = match parse_body(body, &headers) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    match state.provisioner.create(&request).await {
        Ok((lab, created)) => {
            let status = if created { StatusCode::CREATED } else { StatusCode::OK };
            json_response(status, &lab)
        }
        Err(error) => labs_error(&error, lang),
    }
}

async fn get_lab(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    match state.provisioner.get(&id).await {
        Ok(lab) => json_response(StatusCode::OK, &lab),
        Err(error) => labs_error(&error, lang(&headers)),
    }
}

async fn list_labs(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let lang = lang(&headers);
    let limit = match query.get("limit").map(|l| l.parse::<usize>()) {
        None => None,
        Some(Ok(limit)) => Some(limit),
        Some(Err(_)) => {
            return error_body(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                text(lang, "limit must be a whole number", "limit должен быть целым числом"),
            );
        }
    };
    let filter = ListFilter {
        template: query.get("template").cloned(),
        phase: query.get("phase").cloned(),
        limit,
        continue_after: query.get("continue").cloned(),
    };
    match state.provisioner.list(&filter).await {
        Ok(page) => json_response(StatusCode::OK, &page),
        Err(error) => labs_error(&error, lang),
    }
}

async fn delete_lab(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    match state.provisioner.delete(&id).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => labs_error(&error, lang(&headers)),
    }
}

/// `POST /v1/labs/{id}/extend` body.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExtendRequest {
    /// Seconds to add to the lab's expiry.
    seconds: u64,
}

async fn extend_lab(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let lang = lang(&headers);
    let request: ExtendRequest = match parse_body(body, &headers) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    match state.provisioner.extend(&id, request.seconds).await {
        Ok(lab) => json_response(StatusCode::OK, &lab),
        Err(error) => labs_error(&error, lang),
    }
}

async fn capacity(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match state.provisioner.capacity() {
        Ok(capacity) => json_response(StatusCode::OK, &capacity),
        Err(error) => labs_error(&error, lang(&headers)),
    }
}

async fn readyz(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let synced = state.provisioner.caches_synced();
    let reachable = state.provisioner.api_reachable().await;
    if synced && reachable {
        return (StatusCode::OK, "ok").into_response();
    }
    let lang = lang(&headers);
    let message = match (reachable, lang) {
        (false, Lang::En) => "the Kubernetes API is not reachable".to_string(),
        (false, Lang::Ru) => "Kubernetes API недоступен".to_string(),
        (true, _) => LabsError::NotReady.message(lang),
    };
    error_body(StatusCode::SERVICE_UNAVAILABLE, "not_ready", message)
}

async fn metrics(State(state): State<AppState>) -> Response {
    state.provisioner.refresh_metrics();
    let mut response = Body::from(state.provisioner.metrics().encode()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(OPENMETRICS));
    response
}

async fn openapi_document(State(state): State<AppState>) -> Response {
    let mut response = Body::from(state.openapi.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

async fn method_not_allowed(headers: HeaderMap) -> Response {
    let lang = lang(&headers);
    error_body(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        text(lang, "this endpoint does not take that method", "этот адрес не принимает такой метод"),
    )
}

async fn not_found(headers: HeaderMap) -> Response {
    let lang = lang(&headers);
    error_body(StatusCode::NOT_FOUND, "not_found", text(lang, "no such endpoint", "такого адреса нет"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comparison() {
        // (given, expected, equal)
        let rows: [(&[u8], &[u8], bool); 5] = [
            (b"secret", b"secret", true),
            (b"secreT", b"secret", false),
            (b"secret-longer", b"secret", false),
            (b"", b"secret", false),
            (b"", b"", true),
        ];
        for (given, expected, equal) in rows {
            assert_eq!(constant_time_eq(given, expected), equal, "{given:?}");
        }
    }
}
