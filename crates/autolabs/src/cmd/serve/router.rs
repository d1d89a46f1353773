//! The lab API's HTTP layer (axum): routes, bearer authentication, body limits, JSON errors
//! in the caller's language. Every decision is the provisioner's; this only translates.
//!
//! Errors are always `{"error": code, "message": text}` (404 and 405 included), the text in
//! Russian when `Accept-Language` weighs `ru` above `en`, English otherwise. Bodies are JSON:
//! another `Content-Type` is 415.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use autolabs_kube::labs::{LabsError, ListFilter, Provisioner};
use autolabs_model::lab::{LabRequest, Lang};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

/// Largest accepted request body: a lab request is a few dozen bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub provisioner: Provisioner,
    token: Arc<[u8]>,
}

/// The whole lab API. `token` is the bearer token every `/v1` call must present.
pub fn router(provisioner: Provisioner, token: &str) -> Router {
    let state = AppState { provisioner, token: Arc::from(token.as_bytes()) };
    let v1 = Router::new()
        .route("/v1/labs", post(create_lab).get(list_labs))
        .route("/v1/labs/{id}", get(get_lab).delete(delete_lab))
        .route("/v1/labs/{id}/extend", post(extend_lab))
        .route("/v1/capacity", get(capacity))
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate));
    Router::new()
        .merge(v1)
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
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
    json_response(status, &json!({"error": code, "message": message}))
}

fn labs_error(error: &LabsError, lang: Lang) -> Response {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut body = json!({"error": error.code(), "message": error.message(lang)});
    if let LabsError::ClusterFull(numbers) = error {
        match serde_json::to_value(numbers) {
            Ok(details) => body["details"] = details,
            Err(error) => {
                return error_body(StatusCode::INTERNAL_SERVER_ERROR, "internal", error.to_string());
            }
        }
    }
    if status.is_server_error() {
        tracing::warn!(code = error.code(), %error, "request failed");
    }
    json_response(status, &body)
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
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ExtendRequest {
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
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
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
