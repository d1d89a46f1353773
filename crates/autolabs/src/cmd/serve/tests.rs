//! The lab API end to end in one process: the router on a loopback port, the provisioner,
//! and the fake API server (a test double) behind it.

use std::time::Duration;

use autolabs_fake::{FakeApiServer, FakeConfig, KubeletConfig};
use autolabs_kube::labs::ProvisionerConfig;
use autolabs_model::Platform;
use serde_json::{Value, json};

use super::{provisioner, serve, templates};
use crate::cmd::lab::{Answer, LabClient};

const TOKEN: &str = "test-token";

struct Api {
    server: FakeApiServer,
    url: String,
    /// Dropping it stops the lab API.
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Api {
    fn client(&self, token: &str, lang: &str) -> LabClient {
        LabClient::new(&self.url, token, lang)
    }
}

async fn start() -> Api {
    start_with(|_| {}).await
}

/// [`start`] with the provisioner's configuration changed by `tweak`.
async fn start_with(tweak: impl FnOnce(&mut ProvisionerConfig)) -> Api {
    let server =
        FakeApiServer::start(FakeConfig { kubelet: Some(KubeletConfig::default()), ..FakeConfig::default() })
            .await
            .expect("fake server");
    let platform = Platform::default();
    for manifest in autolabs_model::render(&platform).manifests {
        let in_labs = manifest.namespace.as_deref() == Some("labs")
            || (manifest.kind == "Namespace" && manifest.name == "labs");
        if (in_labs && matches!(manifest.kind.as_str(), "Namespace" | "ResourceQuota" | "LimitRange"))
            || manifest.kind == "PriorityClass"
        {
            server.apply_object(manifest.value).expect("seed");
        }
    }
    let templates = templates(None, &platform).expect("shipped templates");
    let mut config = ProvisionerConfig::new(platform, templates);
    tweak(&mut config);
    let provisioner =
        provisioner(server.client_without_retries().expect("client"), config).expect("templates pass");
    assert!(provisioner.wait_synced(Duration::from_secs(5)).await);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, provisioner, TOKEN, Duration::from_secs(3600), async move {
        let _ = stopped.await;
    }));
    Api { server, url, _stop: stop }
}

fn error_of(answer: &Answer) -> (u16, String) {
    (answer.status, answer.body["error"].as_str().unwrap_or("").to_string())
}

#[tokio::test]
async fn lab_lifecycle_over_http() {
    let api = start().await;
    let client = api.client(TOKEN, "en");
    let body = json!({"id": "web1", "template": "linux-basics", "ttlSeconds": 3600});
    let created = client.send("POST", "/v1/labs", Some(body.clone())).await.unwrap();
    assert_eq!(created.status, 201, "{:?}", created.body);
    for field in ["id", "template", "phase", "url", "createdAt", "expiresAt"] {
        assert!(created.body.get(field).is_some(), "{field} missing in {}", created.body);
    }
    // Idempotent: 200 with the same lab.
    let again = client.send("POST", "/v1/labs", Some(body)).await.unwrap();
    assert_eq!((again.status, &again.body["createdAt"]), (200, &created.body["createdAt"]));
    // Another template under the id: 409.
    let other =
        client.send("POST", "/v1/labs", Some(json!({"id": "web1", "template": "web-dev"}))).await.unwrap();
    assert_eq!(error_of(&other), (409, "template_conflict".into()));

    assert_eq!(client.send("GET", "/v1/labs/web1", None).await.unwrap().status, 200);
    let list = client.send("GET", "/v1/labs?template=linux-basics&limit=10", None).await.unwrap();
    assert_eq!(list.body["items"].as_array().map(Vec::len), Some(1), "{}", list.body);
    let extended = client.send("POST", "/v1/labs/web1/extend", Some(json!({"seconds": 600}))).await.unwrap();
    assert_eq!(extended.status, 200, "{}", extended.body);
    let capacity = client.send("GET", "/v1/capacity", None).await.unwrap();
    assert_eq!(capacity.status, 200);
    assert!(capacity.body["templates"].as_array().is_some_and(|t| t.len() == 3), "{}", capacity.body);

    assert_eq!(client.send("DELETE", "/v1/labs/web1", None).await.unwrap().status, 204);
    assert_eq!(
        error_of(&client.send("DELETE", "/v1/labs/web1", None).await.unwrap()),
        (404, "not_found".into())
    );
    assert_eq!(
        error_of(&client.send("GET", "/v1/labs/web1", None).await.unwrap()),
        (404, "not_found".into())
    );
    drop(api.server.snapshot());
}

#[tokio::test]
async fn refusals_are_json_in_the_callers_language() {
    let api = start().await;
    let en = api.client(TOKEN, "en-US,en;q=0.9");
    let ru = api.client(TOKEN, "ru-RU,ru;q=0.9,en;q=0.5");
    // (what, method, path, body, status, code)
    type Row = (&'static str, &'static str, &'static str, Option<Value>, u16, &'static str);
    let rows: Vec<Row> = vec![
        (
            "DNS-1123 id",
            "POST",
            "/v1/labs",
            Some(json!({"id": "Bad_Id", "template": "linux-basics"})),
            400,
            "invalid_id",
        ),
        (
            "unknown template",
            "POST",
            "/v1/labs",
            Some(json!({"id": "a", "template": "nope"})),
            404,
            "unknown_template",
        ),
        (
            "unknown field",
            "POST",
            "/v1/labs",
            Some(json!({"id": "a", "template": "linux-basics", "x": 1})),
            400,
            "invalid_body",
        ),
        (
            "ttl above max",
            "POST",
            "/v1/labs",
            Some(json!({"id": "a", "template": "linux-basics", "ttlSeconds": 999999})),
            400,
            "ttl_too_long",
        ),
        (
            "body too large",
            "POST",
            "/v1/labs",
            Some(json!({"id": "x".repeat(20_000), "template": "t"})),
            413,
            "body_too_large",
        ),
        ("unknown lab", "GET", "/v1/labs/ghost", None, 404, "not_found"),
        ("unknown route", "GET", "/v2/nothing", None, 404, "not_found"),
        ("bad limit", "GET", "/v1/labs?limit=x", None, 400, "invalid_query"),
    ];
    for (what, method, path, body, status, code) in rows {
        let answer = en.send(method, path, body.clone()).await.unwrap();
        assert_eq!(error_of(&answer), (status, code.to_string()), "{what}: {}", answer.body);
        assert!(answer.body["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}");
        let russian = ru.send(method, path, body).await.unwrap();
        let message = russian.body["message"].as_str().unwrap_or("");
        assert!(
            message
                .chars()
                .any(|c| ('а'..='я').contains(&c.to_ascii_lowercase()) || ('А'..='Я').contains(&c))
                || code == "invalid_body",
            "{what}: not Russian: {message}"
        );
    }
}

#[tokio::test]
async fn every_v1_call_needs_the_bearer_token() {
    let api = start().await;
    for token in ["", "wrong-token", "test-toke", "test-token-and-more"] {
        let client = api.client(token, "en");
        for (method, path) in
            [("GET", "/v1/labs"), ("POST", "/v1/labs"), ("GET", "/v1/capacity"), ("DELETE", "/v1/labs/a")]
        {
            let answer = client.send(method, path, Some(json!({}))).await.unwrap();
            assert_eq!(error_of(&answer), (401, "unauthorized".into()), "{token:?} {method} {path}");
        }
    }
    // Probes and metrics are open (the kubelet and Prometheus have no token).
    let anonymous = api.client("", "en");
    assert_eq!(anonymous.send("GET", "/healthz", None).await.unwrap().status, 200);
    assert_eq!(anonymous.send("GET", "/readyz", None).await.unwrap().status, 200);
    let metrics = anonymous.send("GET", "/metrics", None).await.unwrap();
    assert_eq!(metrics.status, 200);
    let text = metrics.body.as_str().unwrap_or("");
    assert!(text.contains("autolabs_labs{phase=\"Running\",template=\"linux-basics\"}"), "{text}");
    assert!(text.contains("# EOF"), "{text}");
}

#[tokio::test]
async fn readyz_fails_when_the_api_is_gone() {
    let Api { server, url, _stop } = start().await;
    let client = LabClient::new(&url, TOKEN, "ru");
    assert_eq!(client.send("GET", "/readyz", None).await.unwrap().status, 200);
    server.shutdown().await;
    let answer = client.send("GET", "/readyz", None).await.unwrap();
    assert_eq!(error_of(&answer), (503, "not_ready".into()), "{}", answer.body);
    assert!(answer.body["message"].as_str().is_some_and(|m| m.contains("недоступен")), "{}", answer.body);
}

/// The `autolabs_*` families a running lab API exports on `/metrics`, after one lab was
/// created (so every family has series), and the scraped text.
async fn exported_families() -> (Vec<String>, String) {
    let api = start().await;
    let client = api.client(TOKEN, "en");
    let body = json!({"id": "metrics1", "template": "linux-basics"});
    assert_eq!(client.send("POST", "/v1/labs", Some(body)).await.unwrap().status, 201);
    let scraped = client.send("GET", "/metrics", None).await.unwrap();
    let text = scraped.body.as_str().unwrap_or("").to_string();
    // OpenMetrics names a family once (`# TYPE autolabs_kube_api_errors counter`); its series
    // carry the type's suffixes.
    let families = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect();
    (families, text)
}

/// Whether `series` belongs to one of `families`.
fn is_exported(families: &[String], series: &str) -> bool {
    families.iter().any(|family| {
        ["", "_total", "_bucket", "_count", "_sum", "_created"]
            .iter()
            .any(|suffix| format!("{family}{suffix}") == series)
    })
}

/// The `autolabs_*` series a PromQL expression names.
fn series_named(expr: &str) -> Vec<String> {
    let mut named = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("autolabs_") {
        let tail = &rest[at..];
        let end = tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(tail.len());
        named.push(tail[..end].to_string());
        rest = &tail[end..];
    }
    named
}

/// Every `autolabs_*` series an alert rule of the rendered baseline names is one the running
/// lab API exports: a rule on a series nobody exports can never fire.
#[tokio::test]
async fn every_rendered_alert_names_a_series_the_lab_api_exports() {
    let (families, text) = exported_families().await;
    let rendered = autolabs_model::render(&Platform::default()).manifests;
    let rules = rendered
        .iter()
        .find(|m| m.kind == "ConfigMap" && m.name == "autolabs-alert-rules")
        .expect("the rendered alert rules");
    let file = rules.value["data"]["autolabs.rules.yaml"].as_str().expect("the rules file");
    let parsed: Value = serde_saphyr::from_str(file).expect("the rules file is YAML");
    let mut named = Vec::new();
    for group in parsed["groups"].as_array().expect("groups") {
        for rule in group["rules"].as_array().expect("rules") {
            let alert = rule["alert"].as_str().unwrap_or("?").to_string();
            for series in series_named(rule["expr"].as_str().expect("expr")) {
                named.push((alert.clone(), series));
            }
        }
    }
    assert!(named.len() >= 2, "the provisioner's alerts name its series: {named:?}");
    let missing: Vec<_> = named.iter().filter(|(_, series)| !is_exported(&families, series)).collect();
    assert!(missing.is_empty(), "alerts on series /metrics does not export: {missing:?}\n{text}");
}

/// Every series the rendered Grafana dashboard queries is one the running lab API exports,
/// and every family it exports is on the dashboard: a panel on a series nobody exports stays
/// empty.
#[tokio::test]
async fn every_dashboard_query_names_a_series_the_lab_api_exports() {
    use autolabs_model::render::{DASHBOARD, DASHBOARD_KEY};
    let (families, text) = exported_families().await;
    let rendered = autolabs_model::render(&Platform::default()).manifests;
    let config_map = rendered
        .iter()
        .find(|m| m.kind == "ConfigMap" && m.name == DASHBOARD)
        .expect("the rendered dashboard");
    let dashboard: Value =
        serde_json::from_str(config_map.value["data"][DASHBOARD_KEY].as_str().expect("the JSON"))
            .expect("JSON");
    let mut named = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            for series in series_named(target["expr"].as_str().expect("expr")) {
                named.push((panel["title"].as_str().unwrap_or("?").to_string(), series));
            }
        }
    }
    let missing: Vec<_> = named.iter().filter(|(_, series)| !is_exported(&families, series)).collect();
    assert!(missing.is_empty(), "panels on series /metrics does not export: {missing:?}\n{text}");
    let unshown: Vec<_> = families
        .iter()
        .filter(|family| family.starts_with("autolabs_"))
        .filter(|family| !named.iter().any(|(_, series)| is_exported(&[family.to_string()], series)))
        .collect();
    assert!(unshown.is_empty(), "exported families no panel shows: {unshown:?}");
}

/// One raw HTTP/1.1 exchange (to send what LabClient never would): the status and the body.
async fn raw(url: &str, request: &str) -> (u16, serde_json::Value) {
    let (status, _, body) = raw_exchange(url, request).await;
    (status, body)
}

/// [`raw`] with the answer's header lines, lower-cased (`retry-after: 5`).
async fn raw_exchange(url: &str, request: &str) -> (u16, Vec<String>, serde_json::Value) {
    use std::io::{Read, Write};
    let address = url.trim_start_matches("http://").to_string();
    let request = request.to_string();
    let answer = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(address).expect("connect");
        stream.write_all(request.as_bytes()).expect("send");
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).expect("read");
        String::from_utf8_lossy(&answer).into_owned()
    })
    .await
    .expect("the exchange ran");
    let status = answer.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let headers = head.lines().skip(1).map(str::to_ascii_lowercase).collect();
    (status, headers, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// Reported: other content types were read as JSON, 405 had no body, and
/// `Accept-Language: en;q=0.1, ru;q=0.9` was answered in English.
#[tokio::test]
async fn content_type_method_and_language_weights_are_honoured() {
    let api = start().await;
    let body = r#"{"id":"form1","template":"linux-basics"}"#;
    let form = format!(
        "POST /v1/labs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let (status, answer) = raw(&api.url, &form).await;
    assert_eq!((status, answer["error"].as_str()), (415, Some("unsupported_media_type")), "{answer}");

    let json_with_charset =
        form.replace("application/x-www-form-urlencoded", "application/json; charset=utf-8");
    assert_eq!(raw(&api.url, &json_with_charset).await.0, 201);

    let put = format!(
        "PUT /v1/labs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nAccept-Language: en;q=0.1, ru;q=0.9\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let (status, answer) = raw(&api.url, &put).await;
    assert_eq!((status, answer["error"].as_str()), (405, Some("method_not_allowed")), "{answer}");
    assert!(answer["message"].as_str().is_some_and(|m| m.contains("метод")), "{answer}");

    let missing = format!(
        "GET /v1/labs/nobody HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nAccept-Language: en;q=0.1, ru;q=0.9\r\nConnection: close\r\n\r\n"
    );
    let (status, answer) = raw(&api.url, &missing).await;
    assert_eq!(status, 404, "{answer}");
    assert!(
        answer["message"].as_str().is_some_and(|m| m.chars().any(|c| ('а'..='я').contains(&c))),
        "{answer}"
    );
}

#[tokio::test]
async fn lab_calls_answer_503_json_while_the_api_server_is_away() {
    let Api { server, url, _stop } = start_with(|config| {
        config.backoff.deadline = Duration::from_millis(300);
    })
    .await;
    let client = LabClient::new(&url, TOKEN, "en");
    server.shutdown().await;
    let body = json!({"id": "away", "template": "linux-basics"});
    for (method, path, body) in
        [("POST", "/v1/labs", Some(body)), ("GET", "/v1/labs/away", None), ("GET", "/v1/labs", None)]
    {
        let answer = client.send(method, path, body).await.unwrap();
        assert_eq!(
            error_of(&answer),
            (503, "kubernetes_unreachable".into()),
            "{method} {path}: {}",
            answer.body
        );
        assert!(answer.body["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", answer.body);
    }
    // The 503 says when to come back, as the OpenAPI document promises.
    let request = format!(
        "GET /v1/labs/away HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
    );
    let (status, headers, _) = raw_exchange(&url, &request).await;
    assert_eq!(status, 503);
    let expected = format!("retry-after: {}", super::router::RETRY_AFTER_SECONDS);
    assert!(headers.contains(&expected), "{headers:?}");
}

/// Reported: requests the lab rules refuse (400, 404) were timed as failed creates.
#[tokio::test]
async fn refused_requests_are_not_timed_as_creates() {
    let api = start().await;
    let client = api.client(TOKEN, "en");
    let bad_id =
        client.send("POST", "/v1/labs", Some(json!({"id": "Bad_Id", "template": "linux-basics"}))).await;
    assert_eq!(bad_id.unwrap().status, 400);
    let unknown = client.send("POST", "/v1/labs", Some(json!({"id": "ok1", "template": "nope"}))).await;
    assert_eq!(unknown.unwrap().status, 404);
    let text = client.send("GET", "/metrics", None).await.unwrap().body.as_str().unwrap_or("").to_string();
    assert!(!text.contains("autolabs_lab_create_duration_seconds_count{status=\"failure\"}"), "{text}");
    assert_eq!(
        client
            .send("POST", "/v1/labs", Some(json!({"id": "ok1", "template": "linux-basics"})))
            .await
            .unwrap()
            .status,
        201
    );
    let text = client.send("GET", "/metrics", None).await.unwrap().body.as_str().unwrap_or("").to_string();
    assert!(text.contains("autolabs_lab_create_duration_seconds_count{status=\"success\"} 1"), "{text}");
}

/// One request of the document-against-router check: `method path` with the token when
/// `token`, a `{}` JSON body on POST.
async fn call(url: &str, method: &str, path: &str, token: bool) -> (u16, Vec<String>, serde_json::Value) {
    let auth = if token { format!("Authorization: Bearer {TOKEN}\r\n") } else { String::new() };
    let body = if method == "POST" { "{}" } else { "" };
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    raw_exchange(url, &request).await
}

/// The OpenAPI document and the router agree: every documented operation is served (its
/// answers are among the documented ones, never the catch-all 404 or a 405), every other
/// method of a documented path is 405, other paths are 404, and the operations the document
/// puts behind the bearer token answer 401 without it.
#[tokio::test]
async fn the_openapi_document_describes_exactly_the_routes_served() {
    let api = start().await;
    let client = api.client(TOKEN, "en");
    let served = client.send("GET", "/openapi.json", None).await.unwrap();
    assert_eq!(served.status, 200);
    let document = served.body;
    assert_eq!(
        document,
        super::openapi::document(&super::router::routes()),
        "/openapi.json is `schema --lab-api`"
    );
    let paths = document["paths"].as_object().expect("paths");
    let mut operations = 0;
    for (path, item) in paths {
        let concrete = path.replace("{id}", "openapi-check");
        for method in ["get", "post", "put", "patch", "delete"] {
            let upper = method.to_ascii_uppercase();
            let Some(operation) = item.get(method) else {
                let (status, _, body) = call(&api.url, &upper, &concrete, true).await;
                assert_eq!(
                    (status, body["error"].as_str()),
                    (405, Some("method_not_allowed")),
                    "{upper} {path}"
                );
                continue;
            };
            operations += 1;
            let documented: Vec<u16> = operation["responses"]
                .as_object()
                .expect("responses")
                .keys()
                .map(|code| code.parse().expect("a status code"))
                .collect();
            let (status, _, body) = call(&api.url, &upper, &concrete, true).await;
            assert!(
                documented.contains(&status),
                "{upper} {path} answered {status} {body}, documented {documented:?}"
            );
            assert_ne!(body["message"].as_str(), Some("no such endpoint"), "{upper} {path} is not served");
            let secured = operation["security"].as_array().is_some_and(|s| !s.is_empty());
            let (status, headers, _) = call(&api.url, &upper, &concrete, false).await;
            if secured {
                assert_eq!(status, 401, "{upper} {path} without a token");
                assert!(headers.contains(&"www-authenticate: bearer".to_string()), "{headers:?}");
            } else {
                assert_ne!(status, 401, "{upper} {path} is documented as open");
            }
        }
    }
    assert_eq!(operations, super::router::routes().len());
    for path in ["/", "/v1", "/v1/labs/a/b", "/openapi.yaml", "/docs"] {
        let (status, _, body) = call(&api.url, "GET", path, true).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (404, Some("not_found")),
            "GET {path} is not an endpoint"
        );
    }
}

/// The document has the shape of OpenAPI 3.1 (CI also runs openapi-spec-validator and
/// schemathesis on it: `.ci/lab-api`): references resolve, operation ids are unique, every
/// error is the ErrorBody, every body route documents 400/413/415, every 503 `Retry-After`,
/// every operation `Accept-Language`, and the bearer scheme exists.
#[test]
fn the_openapi_document_is_openapi_3_1() {
    let document = super::openapi::document(&super::router::routes());
    assert_eq!(document["openapi"], "3.1.0");
    assert!(document["info"]["title"].is_string() && document["info"]["version"].is_string());
    assert_eq!(document["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    let schemas = document["components"]["schemas"].as_object().expect("schemas");
    for name in ["Lab", "LabRequest", "LabPage", "Capacity", "ErrorBody", "ExtendRequest", "ClusterFull"] {
        assert!(schemas.contains_key(name), "{name} missing from components/schemas");
    }
    // Every $ref points at a schema that exists.
    fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(target)) = map.get("$ref") {
                    out.push(target);
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut targets = Vec::new();
    refs(&document, &mut targets);
    assert!(!targets.is_empty());
    for target in targets {
        let name = target.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("{target}"));
        assert!(schemas.contains_key(name), "dangling $ref {target}");
    }
    let mut ids = std::collections::BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        assert!(path.starts_with('/'), "{path}");
        for (method, operation) in item.as_object().expect("path item") {
            let at = format!("{method} {path}");
            assert!(
                ids.insert(operation["operationId"].as_str().expect("operationId")),
                "{at}: duplicate id"
            );
            let parameters = operation["parameters"].as_array().expect("parameters");
            assert!(parameters.iter().any(|p| p["name"] == "Accept-Language" && p["in"] == "header"), "{at}");
            if path.contains("{id}") {
                assert!(
                    parameters
                        .iter()
                        .any(|p| p["name"] == "id" && p["in"] == "path" && p["required"] == true)
                );
            }
            let secured = operation["security"].as_array().is_some_and(|s| !s.is_empty());
            assert_eq!(secured, path.starts_with("/v1/"), "{at}: /v1 and only /v1 needs the token");
            let responses = operation["responses"].as_object().expect("responses");
            for (code, response) in responses {
                let status: u16 = code.parse().expect("status");
                assert!((200..600).contains(&status) && response["description"].is_string(), "{at} {code}");
                if status >= 400 {
                    assert_eq!(
                        response["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorBody",
                        "{at} {code}"
                    );
                }
                if status == 503 {
                    assert!(response["headers"]["Retry-After"].is_object(), "{at} 503 says Retry-After");
                }
            }
            if secured {
                assert!(responses.contains_key("401"), "{at}");
            }
            if operation.get("requestBody").is_some() {
                for code in ["400", "413", "415"] {
                    assert!(responses.contains_key(code), "{at} takes a body: documents {code}");
                }
            }
        }
    }
}

/// The README's promises over HTTP: `ttlSeconds` is optional (the template's default
/// lifetime), and an extension past the template's maximum is refused, not clamped.
#[tokio::test]
async fn ttl_is_optional_and_extensions_past_the_maximum_are_refused() {
    use autolabs_model::lab::parse_rfc3339;
    let api = start().await;
    let client = api.client(TOKEN, "en");
    let created = client
        .send("POST", "/v1/labs", Some(json!({"id": "ttl1", "template": "linux-basics"})))
        .await
        .unwrap();
    assert_eq!(created.status, 201, "{}", created.body);
    let lifetime = |lab: &Value| {
        let at = |field: &str| parse_rfc3339(lab[field].as_str().unwrap_or("")).expect("an RFC 3339 time");
        at("expiresAt") - at("createdAt")
    };
    // templates/linux-basics.yaml: ttl.default 2h, ttl.max 4h.
    assert_eq!(lifetime(&created.body), 2 * 3600, "{}", created.body);
    let refused =
        client.send("POST", "/v1/labs/ttl1/extend", Some(json!({"seconds": 3 * 3600}))).await.unwrap();
    assert_eq!(error_of(&refused), (409, "extend_beyond_max".into()), "{}", refused.body);
    let unchanged = client.send("GET", "/v1/labs/ttl1", None).await.unwrap();
    assert_eq!(unchanged.body["expiresAt"], created.body["expiresAt"], "refused, not clamped");
    let extended = client.send("POST", "/v1/labs/ttl1/extend", Some(json!({"seconds": 3600}))).await.unwrap();
    assert_eq!((extended.status, lifetime(&extended.body)), (200, 3 * 3600), "{}", extended.body);
}
