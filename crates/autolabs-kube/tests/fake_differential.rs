//! The fake API server held to the real one: the same request sequences — what `apply`, the
//! lab provisioner, the reaper and the kubectl tests send, plus bad requests — go to a fresh
//! [`FakeApiServer`] and to the real kube-apiserver (`autolabs_testenv::shared`, in a
//! namespace of the test's own), and the answers must match: HTTP code, `Warning` headers,
//! the `Status` (reason, message, details) of a failure, the stored object of a success
//! (after [normalisation](normalise)), and whether a write changed the object at all.
//!
//! Each sequence is one test. A case (`sequence/step`) may differ only when it is listed in
//! [`KNOWN_DIFFERENCES`] with the reason; the test fails when a listed case does not differ
//! any more, too. The fake's module docs and the README carry that table, generated:
//! [`known_differences_are_documented`] checks them (`AUTOLABS_BLESS=1` rewrites them).
//!
//! Without a real server (`AUTOLABS_E2E_KUBECONFIG` unset) the sequences print NOT RUN.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use autolabs_fake::{FakeApiServer, FakeConfig};
use autolabs_model::Platform;
use autolabs_model::lab::{LabContext, LabRequest, desired};
use serde_json::{Value, json};

/// Cases whose answers differ between the fake and the real server, each with why. The fake
/// either cannot follow there and refuses clearly, or the difference is harmless for what the
/// tests on the fake assert.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (
        "bad-requests/merge-patch-unknown-field-strict",
        "both answer 422 Invalid on field `patch`, but the real message quotes the whole patched object \
         with its managedFields, which the fake does not keep",
    ),
    (
        "kubectl/chunk-all",
        "`remainingItemCount` also counts the namespace's `kube-root-ca.crt` ConfigMap, which the real \
         root-ca-cert-publisher controller adds and the fake does not",
    ),
    ("kubectl/root-ca-published", "the fake publishes no `kube-root-ca.crt` ConfigMap into namespaces"),
    (
        "kubectl/strategic-patch-of-a-list",
        "the fake refuses (415, naming `application/strategic-merge-patch+json`) a strategic merge patch \
         with a list or a `$` directive instead of merging lists by the schema's merge keys; without \
         them it is a JSON merge patch and served",
    ),
    ("kubectl/delete", "follows from the refused strategic merge patch before it (image and generation)"),
    (
        "provisioner/quota",
        "a new ResourceQuota: the real create answers `status: {}` and the quota controller fills `hard` \
         and `used` a moment later; the fake's accounting is synchronous",
    ),
    ("quota/quota", "as `provisioner/quota`"),
];

/// Fields dropped before comparing, each with why it cannot match.
const NORMALISED: &[(&str, &str)] = &[
    (
        "`metadata.uid`",
        "random per server; where a uid appears (ownerReferences, messages) it reads `<uid:KIND/NAME>`",
    ),
    (
        "`metadata.resourceVersion`",
        "each server's own counter; whether an update or patch changed it (a no-op or not) is compared \
         instead, and where a Status message quotes one it reads `<rv:KIND/NAME>`",
    ),
    (
        "`metadata.creationTimestamp`, `metadata.deletionTimestamp`, times in Status messages",
        "wall-clock times",
    ),
    (
        "`metadata.managedFields`",
        "the fake keeps none: it tracks field ownership internally (apply conflicts, `force`, no-op re-applies)",
    ),
    ("`metadata.selfLink`", "not set by current servers"),
    ("list `metadata.continue`", "opaque tokens: presence is compared, and each server gets its own back"),
    ("Service `spec.clusterIP`, `spec.clusterIPs`", "allocated from each server's own range"),
];

/// One HTTP request of a sequence. `{ns}`, `{uid:KIND/NAME}`, `{rv:KIND/NAME}` and `{continue}` in the
/// path, query and body are replaced per server with its own values.
struct Step {
    case: &'static str,
    method: &'static str,
    path: String,
    query: String,
    content_type: &'static str,
    body: Option<Value>,
    /// Setup only: sent to both, answer not compared.
    setup: bool,
    /// Before the next step, poll this request on the real server until the predicate holds
    /// (its controllers work asynchronously; the fake's equivalents act at once).
    settle: Option<(String, Ready)>,
}

/// Whether an answer (code, body) shows that the real server's controllers caught up.
type Ready = fn(u16, &Value) -> bool;

fn step(case: &'static str, method: &'static str, path: &str) -> Step {
    Step {
        case,
        method,
        path: path.to_string(),
        query: String::new(),
        content_type: "application/json",
        body: None,
        setup: false,
        settle: None,
    }
}

fn get(case: &'static str, path: &str) -> Step {
    step(case, "GET", path)
}

fn post(case: &'static str, path: &str, body: Value) -> Step {
    step(case, "POST", path).body(body)
}

fn put(case: &'static str, path: &str, body: Value) -> Step {
    step(case, "PUT", path).body(body)
}

fn delete(case: &'static str, path: &str) -> Step {
    step(case, "DELETE", path)
}

fn patch(case: &'static str, path: &str, content_type: &'static str, body: Value) -> Step {
    let mut s = step(case, "PATCH", path).body(body);
    s.content_type = content_type;
    s
}

const APPLY: &str = "application/apply-patch+yaml";
const MERGE: &str = "application/merge-patch+json";
const STRATEGIC: &str = "application/strategic-merge-patch+json";
const JSON_PATCH: &str = "application/json-patch+json";

impl Step {
    fn query(mut self, query: &str) -> Self {
        self.query = query.to_string();
        self
    }
    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
    fn setup(mut self) -> Self {
        self.setup = true;
        self
    }
    fn settle(mut self, path: &str, ready: Ready) -> Self {
        self.settle = Some((path.to_string(), ready));
        self
    }
}

fn exists(code: u16, _: &Value) -> bool {
    code == 200
}

fn gone(code: u16, _: &Value) -> bool {
    code == 404
}

fn quota_counted(code: u16, quota: &Value) -> bool {
    code == 200 && quota.pointer("/status/hard").is_some() && quota.pointer("/status/used").is_some()
}

/// What one server answered, normalised.
#[derive(Debug, Clone, PartialEq)]
struct Observation {
    code: u16,
    warnings: Vec<String>,
    body: Value,
    /// For updates and patches that succeeded: whether the resourceVersion stayed (a no-op).
    unchanged: Option<bool>,
}

/// One server under test, with what the sequence learnt from its answers so far.
struct Side {
    client: kube::Client,
    namespace: String,
    uids: BTreeMap<String, String>,
    resource_versions: HashMap<String, String>,
    continue_token: String,
}

impl Side {
    fn new(client: kube::Client, namespace: &str) -> Self {
        Side {
            client,
            namespace: namespace.to_string(),
            uids: BTreeMap::new(),
            resource_versions: HashMap::new(),
            continue_token: String::new(),
        }
    }

    fn substitute(&self, text: &str) -> String {
        let mut text = text.replace("{ns}", &self.namespace).replace("{continue}", &self.continue_token);
        for (name, uid) in &self.uids {
            text = text.replace(&format!("{{uid:{name}}}"), uid);
        }
        for (name, rv) in &self.resource_versions {
            text = text.replace(&format!("{{rv:{name}}}"), rv);
        }
        text
    }

    async fn send(&self, step: &Step) -> (u16, Vec<String>, Value) {
        self.send_raw(step.method, &step.path, &step.query, step.content_type, step.body.as_ref()).await
    }

    async fn send_raw(
        &self,
        method: &str,
        path: &str,
        query: &str,
        content_type: &str,
        body: Option<&Value>,
    ) -> (u16, Vec<String>, Value) {
        let mut uri = self.substitute(path);
        if !query.is_empty() {
            uri = format!("{uri}?{}", self.substitute(query));
        }
        let body = body.map(|b| self.substitute(&b.to_string()).into_bytes()).unwrap_or_default();
        let request = http::Request::builder()
            .method(method)
            .uri(&uri)
            .header(http::header::CONTENT_TYPE, content_type)
            .header(http::header::ACCEPT, "application/json")
            .body(kube::client::Body::from(body))
            .expect("a well-formed request");
        let response = self.client.send(request).await.unwrap_or_else(|e| panic!("{method} {uri}: {e}"));
        let code = response.status().as_u16();
        let warnings = response
            .headers()
            .get_all("warning")
            .iter()
            .map(|v| v.to_str().unwrap_or("").to_string())
            .collect();
        let bytes = response.into_body().collect_bytes().await.expect("a readable body");
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (code, warnings, value)
    }

    /// Records uids, resourceVersions and the continue token of an answer; says whether a
    /// write left the object's resourceVersion as it was.
    fn learn(&mut self, method: &str, code: u16, value: &Value) -> Option<bool> {
        if let Some(token) = value.pointer("/metadata/continue").and_then(Value::as_str) {
            self.continue_token = token.to_string();
        }
        let mut unchanged = None;
        let kind_of = |object: &Value| object.get("kind").and_then(Value::as_str).unwrap_or("").to_string();
        let objects: Vec<(String, &Value)> = match value.get("items").and_then(Value::as_array) {
            Some(items) => {
                let kind = kind_of(value).trim_end_matches("List").to_string();
                items.iter().map(|item| (kind.clone(), item)).collect()
            }
            None => vec![(kind_of(value), value)],
        };
        for (kind, object) in objects {
            let (Some(name), Some(uid)) = (
                object.pointer("/metadata/name").and_then(Value::as_str),
                object.pointer("/metadata/uid").and_then(Value::as_str),
            ) else {
                continue;
            };
            let key = format!("{kind}/{name}");
            self.uids.insert(key.clone(), uid.to_string());
            if let Some(rv) = object.pointer("/metadata/resourceVersion").and_then(Value::as_str) {
                let before = self.resource_versions.insert(key, rv.to_string());
                if matches!(method, "PUT" | "PATCH") && code < 300 {
                    unchanged = Some(before.as_deref() == Some(rv));
                }
            }
        }
        unchanged
    }

    async fn observe(&mut self, step: &Step) -> Observation {
        let (code, warnings, value) = self.send(step).await;
        let unchanged = self.learn(step.method, code, &value);
        Observation { code, warnings, body: normalise(value, &self.uids, &self.resource_versions), unchanged }
    }

    /// Polls a GET until `ready` holds (the real server's controllers are asynchronous).
    async fn settle(&mut self, path: &str, ready: Ready) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (code, _, value) = self.send_raw("GET", path, "", "application/json", None).await;
            if ready(code, &value) {
                self.learn("GET", code, &value);
                return;
            }
            assert!(Instant::now() < deadline, "GET {path} never settled: {code} {value}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Drops what cannot match between two servers (see [`NORMALISED`]) and rewrites every uid
/// this server handed out to `<uid:NAME>`.
fn normalise(
    mut value: Value,
    uids: &BTreeMap<String, String>,
    resource_versions: &HashMap<String, String>,
) -> Value {
    strip(&mut value);
    rewrite_uids(&mut value, uids);
    if value.get("kind").and_then(Value::as_str) == Some("Status") {
        rewrite_times(&mut value);
        rewrite_resource_versions(&mut value, resource_versions);
    }
    value
}

/// A resourceVersion this server handed out, quoted in a Status message as `(N)`, →
/// `(<rv:KIND/NAME>)`.
fn rewrite_resource_versions(value: &mut Value, resource_versions: &HashMap<String, String>) {
    if let Some(Value::String(message)) = value.get_mut("message") {
        for (name, rv) in resource_versions {
            *message = message.replace(&format!("({rv})"), &format!("(<rv:{name}>)"));
        }
    }
}

/// RFC 3339 times in a Status's messages (an update manager's "at <time>") → `<time>`.
fn rewrite_times(value: &mut Value) {
    match value {
        Value::String(text) => {
            let bytes = text.as_bytes();
            let mut out = String::new();
            let mut i = 0;
            while i < bytes.len() {
                let candidate = &bytes[i..(i + 20).min(bytes.len())];
                let is_time = candidate.len() == 20
                    && candidate.iter().enumerate().all(|(j, c)| match j {
                        4 | 7 => *c == b'-',
                        10 => *c == b'T',
                        13 | 16 => *c == b':',
                        19 => *c == b'Z',
                        _ => c.is_ascii_digit(),
                    });
                if is_time {
                    out.push_str("<time>");
                    i += 20;
                } else {
                    let c = text[i..].chars().next().unwrap_or(' ');
                    out.push(c);
                    i += c.len_utf8();
                }
            }
            *text = out;
        }
        Value::Object(map) => map.values_mut().for_each(rewrite_times),
        Value::Array(items) => items.iter_mut().for_each(rewrite_times),
        _ => {}
    }
}

fn strip(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Object(meta)) = map.get_mut("metadata") {
                for field in [
                    "uid",
                    "resourceVersion",
                    "creationTimestamp",
                    "deletionTimestamp",
                    "managedFields",
                    "selfLink",
                ] {
                    meta.remove(field);
                }
                if meta.contains_key("continue") {
                    meta.insert("continue".into(), json!("<token>"));
                }
            }
            // Only a Service spec has a clusterIP (list items carry no kind to tell).
            if let Some(Value::Object(spec)) = map.get_mut("spec")
                && spec.contains_key("clusterIP")
            {
                for field in ["clusterIP", "clusterIPs"] {
                    if spec.contains_key(field) {
                        spec.insert(field.into(), json!("<allocated>"));
                    }
                }
            }
            for child in map.values_mut() {
                strip(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip),
        _ => {}
    }
}

fn rewrite_uids(value: &mut Value, uids: &BTreeMap<String, String>) {
    match value {
        Value::String(text) => {
            for (name, uid) in uids {
                if text.contains(uid.as_str()) {
                    *text = text.replace(uid.as_str(), &format!("<uid:{name}>"));
                }
            }
        }
        Value::Object(map) => map.values_mut().for_each(|v| rewrite_uids(v, uids)),
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite_uids(v, uids)),
        _ => {}
    }
}

/// Where `real` and `fake` differ, one line per JSON path.
fn json_diff(path: &str, real: &Value, fake: &Value, out: &mut Vec<String>) {
    match (real, fake) {
        (Value::Object(r), Value::Object(f)) => {
            let keys: BTreeSet<&String> = r.keys().chain(f.keys()).collect();
            for key in keys {
                let null = Value::Null;
                let at = format!("{path}.{key}");
                json_diff(&at, r.get(key).unwrap_or(&null), f.get(key).unwrap_or(&null), out);
            }
        }
        (Value::Array(r), Value::Array(f)) if r.len() == f.len() => {
            for (i, (a, b)) in r.iter().zip(f).enumerate() {
                json_diff(&format!("{path}[{i}]"), a, b, out);
            }
        }
        _ if real != fake => out.push(format!("{path}: real {real} fake {fake}")),
        _ => {}
    }
}

/// Runs `steps` against a fresh fake and the real server (in a new namespace labelled
/// `labels`) and returns every compared case whose answers differ. `None`: no real server.
async fn differences(sequence: &str, labels: &[(&str, &str)], steps: &[Step]) -> Option<Vec<String>> {
    let cluster = autolabs_testenv::shared(&format!("fake_differential {sequence}")).await?;
    let namespace = cluster.namespace(&format!("diff-{sequence}"), labels).await;
    let fake = FakeApiServer::start(FakeConfig::default()).await.expect("fake starts");
    let mut real = Side::new(cluster.client(), namespace.name());
    // The fake gets the namespace exactly as the real server stored it.
    let (_, _, stored) = real
        .send_raw("GET", &format!("/api/v1/namespaces/{}", namespace.name()), "", "application/json", None)
        .await;
    let mut fake_side = Side::new(fake.client_without_retries().expect("fake client"), namespace.name());
    let (code, _, answer) = fake_side
        .send_raw(
            "POST",
            "/api/v1/namespaces",
            "",
            "application/json",
            Some(&json!({"metadata": {"name": namespace.name(), "labels": stored["metadata"]["labels"]}})),
        )
        .await;
    assert_eq!(code, 201, "fake namespace: {answer}");
    // Pods need the namespace's default ServiceAccount, which the real controller makes.
    real.settle(&format!("/api/v1/namespaces/{}/serviceaccounts/default", namespace.name()), exists).await;

    let mut differing = Vec::new();
    for step in steps {
        let case = format!("{sequence}/{}", step.case);
        let real_seen = real.observe(step).await;
        let fake_seen = fake_side.observe(step).await;
        if let Some((path, ready)) = &step.settle {
            real.settle(path, *ready).await;
        }
        if step.setup {
            assert!(real_seen.code < 300, "{case} (setup) on the real server: {real_seen:?}");
            assert!(fake_seen.code < 300, "{case} (setup) on the fake: {fake_seen:?}");
            continue;
        }
        if real_seen != fake_seen {
            let mut lines = Vec::new();
            if real_seen.code != fake_seen.code {
                lines.push(format!("code: real {} fake {}", real_seen.code, fake_seen.code));
            }
            if real_seen.warnings != fake_seen.warnings {
                lines.push(format!("warnings: real {:?} fake {:?}", real_seen.warnings, fake_seen.warnings));
            }
            if real_seen.unchanged != fake_seen.unchanged {
                lines.push(format!(
                    "unchanged: real {:?} fake {:?}",
                    real_seen.unchanged, fake_seen.unchanged
                ));
            }
            json_diff("", &real_seen.body, &fake_seen.body, &mut lines);
            eprintln!("DIFFERENCE {case}:\n  {}", lines.join("\n  "));
            differing.push(case);
        }
    }
    Some(differing)
}

/// Fails unless exactly the [`KNOWN_DIFFERENCES`] of `sequence` differ.
async fn check(sequence: &str, labels: &[(&str, &str)], steps: Vec<Step>) {
    let cases: BTreeSet<&str> = steps.iter().map(|s| s.case).collect();
    assert_eq!(cases.len(), steps.len(), "{sequence}: case names must be unique");
    let Some(differing) = differences(sequence, labels, &steps).await else { return };
    let differing: BTreeSet<String> = differing.into_iter().collect();
    let known: BTreeSet<String> = KNOWN_DIFFERENCES
        .iter()
        .filter(|(case, _)| case.split('/').next() == Some(sequence))
        .map(|(case, _)| case.to_string())
        .collect();
    let unexpected: Vec<&String> = differing.difference(&known).collect();
    let fixed: Vec<&String> = known.difference(&differing).collect();
    assert!(
        unexpected.is_empty() && fixed.is_empty(),
        "{sequence}: differ but not known: {unexpected:?}; known but no longer differ (remove them \
         from KNOWN_DIFFERENCES): {fixed:?}"
    );
}

fn config_map(name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "{ns}"}, "data": data})
}

const CM: &str = "/api/v1/namespaces/{ns}/configmaps";

/// What `autolabs apply` sends: server-side apply as manager `autolabs` (`force` only with
/// `--force`), dry runs, re-applies that must be no-ops, conflicts with another manager, and
/// prune's background delete with a uid precondition.
#[tokio::test]
async fn apply_sequence() {
    let cm = |data: Value| config_map("settings", data);
    let at = "/api/v1/namespaces/{ns}/configmaps/settings";
    let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "{ns}",
        "labels": {"app.kubernetes.io/managed-by": "autolabs", "autolabs.io/platform": "p"}},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}});
    let services = "/api/v1/namespaces/{ns}/services";
    let steps = vec![
        patch("dry-run-create", at, APPLY, cm(json!({"a": "1"}))).query("fieldManager=autolabs&dryRun=All"),
        get("dry-run-left-nothing", at),
        patch("create", at, APPLY, cm(json!({"a": "1", "b": "2"}))).query("fieldManager=autolabs"),
        patch("reapply-is-a-no-op", at, APPLY, cm(json!({"a": "1", "b": "2"})))
            .query("fieldManager=autolabs"),
        patch("change", at, APPLY, cm(json!({"a": "1", "b": "3"}))).query("fieldManager=autolabs"),
        patch("drop-a-field", at, APPLY, cm(json!({"a": "1"}))).query("fieldManager=autolabs"),
        patch("other-manager-adds", at, APPLY, cm(json!({"other": "x"}))).query("fieldManager=other"),
        patch("other-manager-conflicts", at, APPLY, cm(json!({"a": "9"}))).query("fieldManager=other"),
        patch("other-manager-forces", at, APPLY, cm(json!({"a": "9"})))
            .query("fieldManager=other&force=true"),
        patch("conflict-without-force", at, APPLY, cm(json!({"a": "1"}))).query("fieldManager=autolabs"),
        patch("force-takes-over", at, APPLY, cm(json!({"a": "1"}))).query("fieldManager=autolabs&force=true"),
        patch("same-value-shares-ownership", at, APPLY, cm(json!({"a": "1", "other": "x"})))
            .query("fieldManager=autolabs"),
        patch("no-field-manager", at, APPLY, cm(json!({"a": "1"}))),
        post("created-by-post", CM, config_map("posted", json!({"a": "1"}))).query("fieldManager=creator"),
        patch(
            "apply-over-a-created-field",
            &format!("{CM}/posted"),
            APPLY,
            config_map("posted", json!({"a": "2"})),
        )
        .query("fieldManager=autolabs"),
        patch(
            "apply-same-value-as-created",
            &format!("{CM}/posted"),
            APPLY,
            config_map("posted", json!({"a": "1"})),
        )
        .query("fieldManager=autolabs"),
        patch("merge-patch-takes-a-field", at, MERGE, json!({"data": {"a": "5"}}))
            .query("fieldManager=editor"),
        patch("apply-after-an-edit-conflicts", at, APPLY, cm(json!({"a": "1", "other": "x"})))
            .query("fieldManager=autolabs"),
        patch("dry-run-force", at, APPLY, cm(json!({"a": "1", "other": "x"})))
            .query("fieldManager=autolabs&force=true&dryRun=All"),
        patch("dry-run-force-took-nothing", at, APPLY, cm(json!({"a": "1", "other": "x"})))
            .query("fieldManager=autolabs"),
        patch("service-create", &format!("{services}/web"), APPLY, service.clone())
            .query("fieldManager=autolabs"),
        patch("service-reapply-is-a-no-op", &format!("{services}/web"), APPLY, service.clone())
            .query("fieldManager=autolabs"),
        get("prune-list", services).query("labelSelector=app.kubernetes.io%2Fmanaged-by%3Dautolabs"),
        delete("prune-wrong-uid", &format!("{services}/web")).body(json!({"kind": "DeleteOptions",
            "apiVersion": "v1", "propagationPolicy": "Background",
            "preconditions": {"uid": "00000000-0000-0000-0000-000000000000"}})),
        delete("prune", &format!("{services}/web")).body(json!({"kind": "DeleteOptions", "apiVersion": "v1",
            "propagationPolicy": "Background", "preconditions": {"uid": "{uid:Service/web}"}})),
        get("pruned", &format!("{services}/web")),
    ];
    // Kinds of the baseline beside ConfigMaps and Services: created by apply, then re-applied
    // (a no-op on kube-apiserver: 0 writes).
    let labels = json!({"app.kubernetes.io/managed-by": "autolabs", "autolabs.io/platform": "p"});
    let baseline = [
        (
            "/api/v1/namespaces/{ns}/serviceaccounts/robot",
            json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "robot", "namespace": "{ns}", "labels": labels}, "automountServiceAccountToken": false}),
        ),
        (
            "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles/reader",
            json!({"apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role", "metadata": {"name": "reader", "namespace": "{ns}", "labels": labels},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]}),
        ),
        (
            "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings/reader",
            json!({"apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding", "metadata": {"name": "reader", "namespace": "{ns}", "labels": labels},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "robot", "namespace": "{ns}"}]}),
        ),
        (
            "/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies/deny",
            json!({"apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy", "metadata": {"name": "deny", "namespace": "{ns}", "labels": labels},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"],
                "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}],
                    "ports": [{"protocol": "UDP", "port": 53}]}]}}),
        ),
        (
            "/api/v1/namespaces/{ns}/limitranges/limits",
            json!({"apiVersion": "v1", "kind": "LimitRange",
            "metadata": {"name": "limits", "namespace": "{ns}", "labels": labels},
            "spec": {"limits": [{"type": "Container", "default": {"cpu": "500m"}, "defaultRequest": {"cpu": "100m"}}]}}),
        ),
    ];
    let cases = [
        ("serviceaccount", "serviceaccount-reapply"),
        ("role", "role-reapply"),
        ("rolebinding", "rolebinding-reapply"),
        ("networkpolicy", "networkpolicy-reapply"),
        ("limitrange", "limitrange-reapply"),
    ];
    let mut steps = steps;
    for ((path, object), (create, reapply)) in baseline.into_iter().zip(cases) {
        steps.push(patch(create, path, APPLY, object.clone()).query("fieldManager=autolabs"));
        steps.push(patch(reapply, path, APPLY, object).query("fieldManager=autolabs"));
    }
    check("apply", &[], steps).await;
}

/// Requests the server must refuse, each with its exact Status.
#[tokio::test]
async fn bad_requests_sequence() {
    let at = "/api/v1/namespaces/{ns}/configmaps/c";
    let with_unknown = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
        "data": {"a": "1"}, "spec": {"x": 1}});
    let steps = vec![
        post("create", CM, config_map("c", json!({"a": "1"}))).setup(),
        post("already-exists", CM, config_map("c", json!({"a": "1"}))),
        get("not-found", "/api/v1/namespaces/{ns}/configmaps/missing"),
        delete("delete-not-found", "/api/v1/namespaces/{ns}/configmaps/missing"),
        post("invalid-name", CM, config_map("Bad_Name", json!({}))),
        post("name-too-long", CM, config_map(&"x".repeat(254), json!({}))),
        put("wrong-resource-version", at, {
            let mut c = config_map("c", json!({"a": "2"}));
            c["metadata"]["resourceVersion"] = json!("1");
            c
        }),
        put("right-resource-version", at, {
            let mut c = config_map("c", json!({"a": "2"}));
            c["metadata"]["resourceVersion"] = json!("{rv:ConfigMap/c}");
            c
        }),
        put("name-mismatch", at, config_map("d", json!({}))),
        put("wrong-uid", at, {
            let mut c = config_map("c", json!({"a": "3"}));
            c["metadata"]["uid"] = json!("00000000-0000-0000-0000-000000000000");
            c
        }),
        delete("delete-wrong-resource-version", at).body(json!({"kind": "DeleteOptions", "apiVersion": "v1",
            "preconditions": {"resourceVersion": "1"}})),
        post("to-delete", CM, config_map("gone", json!({}))).setup(),
        delete("delete-right-resource-version", &format!("{CM}/gone")).body(json!({"kind": "DeleteOptions",
            "apiVersion": "v1", "preconditions": {"resourceVersion": "{rv:ConfigMap/gone}"}})),
        delete("delete-twice", &format!("{CM}/gone")),
        post("unknown-field-strict", CM, {
            let mut c = with_unknown.clone();
            c["metadata"]["name"] = json!("strict");
            c
        })
        .query("fieldValidation=Strict"),
        post("unknown-field-warn", CM, {
            let mut c = with_unknown.clone();
            c["metadata"]["name"] = json!("warn");
            c
        })
        .query("fieldValidation=Warn"),
        post("unknown-field-ignore", CM, {
            let mut c = with_unknown.clone();
            c["metadata"]["name"] = json!("ignore");
            c
        })
        .query("fieldValidation=Ignore"),
        post("unknown-field-default", CM, {
            let mut c = with_unknown.clone();
            c["metadata"]["name"] = json!("default");
            c
        }),
        post("field-validation-bad-value", CM, config_map("fv", json!({})))
            .query("fieldValidation=Sometimes"),
        patch("apply-unknown-field-strict", "/api/v1/namespaces/{ns}/configmaps/applied", APPLY, {
            let mut c = with_unknown.clone();
            c["metadata"]["name"] = json!("applied");
            c
        })
        .query("fieldManager=m&fieldValidation=Strict"),
        patch("apply-unknown-field-default", "/api/v1/namespaces/{ns}/configmaps/applied", APPLY, {
            let mut c = with_unknown.clone();
            c["metadata"]["name"] = json!("applied");
            c
        })
        .query("fieldManager=m"),
        patch("merge-patch-unknown-field-warn", at, MERGE, json!({"spec": {"x": 1}})),
        put("update-unknown-field-strict", at, {
            let mut c = with_unknown.clone();
            c["metadata"]["name"] = json!("c");
            c
        })
        .query("fieldValidation=Strict"),
        patch("merge-patch-unknown-field-strict", at, MERGE, json!({"spec": {"x": 1}}))
            .query("fieldValidation=Strict"),
        patch("json-patch-bad-path", at, JSON_PATCH, json!([{"op": "remove", "path": "/data/nope"}])),
        patch("unsupported-patch-type", at, "text/plain", json!({})),
        post("wrong-kind", CM, json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "k"}})),
        post("wrong-namespace", CM, {
            let mut c = config_map("n", json!({}));
            c["metadata"]["namespace"] = json!("elsewhere");
            c
        }),
        post(
            "namespace-missing",
            "/api/v1/namespaces/no-such-namespace-autolabs/configmaps",
            config_map("m", json!({})),
        ),
        post("dry-run-bad-value", CM, config_map("dr", json!({}))).query("dryRun=Yes"),
    ];
    check("bad-requests", &[], steps).await;
}

/// A lab as the provisioner makes it (the rendered labs quota and LimitRange, the four
/// objects owned by the Pod), read back, listed page by page, deleted with uid
/// preconditions; and the reaper's delete of a Pod, whose children the garbage collector
/// removes.
#[tokio::test]
async fn provisioner_sequence() {
    let platform = Platform::default();
    let rendered = autolabs_model::render(&platform).manifests;
    let labs_namespace = rendered
        .iter()
        .find(|m| m.kind == "Namespace" && m.name == "labs")
        .expect("the labs namespace is rendered");
    let labels: Vec<(String, String)> = labs_namespace.value["metadata"]["labels"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string())).collect())
        .unwrap_or_default();
    let labels: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let in_labs = |kind: &str| {
        let mut value = rendered
            .iter()
            .find(|m| m.kind == kind && m.namespace.as_deref() == Some("labs"))
            .unwrap_or_else(|| panic!("a rendered {kind} in labs"))
            .value
            .clone();
        value["metadata"]["namespace"] = json!("{ns}");
        value
    };
    let templates = labs_templates(&platform);
    let ctx = LabContext::new(&platform, 1_767_225_600);
    let lab = |id: &str| {
        let template = templates.get("linux-basics").expect("the linux-basics template");
        let request = LabRequest { id: id.into(), template: "linux-basics".into(), ttl_seconds: None };
        let mut bundle = desired(template, &request, &ctx).expect("a lab bundle");
        let name = bundle.pod.metadata.name.clone().expect("named");
        bundle.owned_by(&name, &format!("{{uid:Pod/{name}}}"));
        let mut values: Vec<Value> = bundle.manifests().into_iter().map(|m| m.value).collect();
        for value in &mut values {
            value["metadata"]["namespace"] = json!("{ns}");
            // PriorityClasses are cluster-wide: the shared server may not have lab-priority.
            if let Some(spec) = value.get_mut("spec").and_then(Value::as_object_mut) {
                spec.remove("priorityClassName");
            }
        }
        (name, values)
    };
    let (first, first_objects) = lab("diff-one");
    let (second, second_objects) = lab("diff-two");
    let base = "/api/v1/namespaces/{ns}";
    let paths = ["pods", "services"].map(|p| format!("{base}/{p}")).into_iter().chain(
        ["networkpolicies", "ingresses"].map(|p| format!("/apis/networking.k8s.io/v1/namespaces/{{ns}}/{p}")),
    );
    let paths: Vec<String> = paths.collect();
    let quota_name = in_labs("ResourceQuota")["metadata"]["name"].as_str().unwrap_or("").to_string();
    let mut steps = vec![
        post("quota", &format!("{base}/resourcequotas"), in_labs("ResourceQuota"))
            .settle(&format!("{base}/resourcequotas/{quota_name}"), quota_counted),
        post("limit-range", &format!("{base}/limitranges"), in_labs("LimitRange")),
    ];
    let cases = ["create-pod", "create-service", "create-networkpolicy", "create-ingress"];
    for (i, object) in first_objects.iter().enumerate() {
        steps.push(post(cases[i], &paths[i], object.clone()));
    }
    let second_cases = ["second-pod", "second-service", "second-networkpolicy", "second-ingress"];
    for (i, object) in second_objects.iter().enumerate() {
        steps.push(post(second_cases[i], &paths[i], object.clone()).setup());
    }
    let pod_at = |name: &str| format!("{}/{name}", paths[0]);
    let service_at = |name: &str| format!("{}/{name}", paths[1]);
    steps.extend([
        post("create-pod-again", &paths[0], first_objects[0].clone()),
        get("get-pod", &pod_at(&first)),
        get("quota-used", &format!("{base}/resourcequotas/{quota_name}")),
        get("list-page-1", &paths[0]).query("labelSelector=autolabs.io%2Flab-id&limit=1"),
        get("list-page-2", &paths[0]).query("labelSelector=autolabs.io%2Flab-id&limit=1&continue={continue}"),
        get("list-services", &paths[1]).query("labelSelector=autolabs.io%2Flab-id%3Ddiff-one"),
        delete("delete-child-wrong-uid", &service_at(&first)).body(json!({"kind": "DeleteOptions",
            "apiVersion": "v1", "preconditions": {"uid": format!("{{uid:Pod/{first}}}")}})),
        delete("delete-child", &service_at(&first)).body(json!({"kind": "DeleteOptions", "apiVersion": "v1",
            "preconditions": {"uid": format!("{{uid:Service/{first}}}")}})),
        // The reaper: a background delete of the Pod with its uid; the GC takes the children.
        delete("reap-pod", &pod_at(&second))
            .body(json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background",
                "preconditions": {"uid": format!("{{uid:Pod/{second}}}")}}))
            .settle(&service_at(&second), gone),
        get("children-collected", &service_at(&second)),
        // The garbage collector and the quota controller catch up: one lab left, without its
        // Service (deleted by hand above).
        get("pod-gone", &pod_at(&second)).settle(
            &format!("{base}/resourcequotas/{quota_name}"),
            |_, quota| {
                let used = |resource: &str| {
                    quota.pointer(&format!("/status/used/{resource}")).and_then(Value::as_str)
                };
                used("pods") == Some("1")
                    && used("services") == Some("0")
                    && used("count~1ingresses.networking.k8s.io") == Some("1")
            },
        ),
        // The deletion made the quota controller recount: the duplicate's charge is gone.
        get("quota-recounted", &format!("{base}/resourcequotas/{quota_name}")),
    ]);
    check("provisioner", &labels, steps).await;
}

fn labs_templates(platform: &Platform) -> autolabs_model::lab::Templates {
    autolabs_model::lab::shipped_templates(platform).expect("shipped templates load")
}

fn restricted_pod(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "{ns}"},
        "spec": {"automountServiceAccountToken": false,
            "securityContext": {"runAsNonRoot": true, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "main", "image": "busybox:1.36",
                "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}},
                "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "64Mi"}}}]}})
}

/// A quota overrun: 403 with the quota's exact message (requested, used, limited).
#[tokio::test]
async fn quota_sequence() {
    let quotas = "/api/v1/namespaces/{ns}/resourcequotas";
    let pods = "/api/v1/namespaces/{ns}/pods";
    let steps = vec![
        post(
            "quota",
            quotas,
            json!({"apiVersion": "v1", "kind": "ResourceQuota",
            "metadata": {"name": "small"}, "spec": {"hard": {"pods": "1", "limits.cpu": "300m"}}}),
        )
        .settle("/api/v1/namespaces/{ns}/resourcequotas/small", quota_counted),
        post("first-pod", pods, restricted_pod("one")),
        post("pod-count-exceeded", pods, restricted_pod("two")),
        get("quota-charged", "/api/v1/namespaces/{ns}/resourcequotas/small"),
        delete("free-a-pod", &format!("{pods}/one"))
            .settle("/api/v1/namespaces/{ns}/resourcequotas/small", |_, q| {
                q.pointer("/status/used/pods").and_then(Value::as_str) == Some("0")
            }),
        post("cpu-exceeded", pods, {
            let mut pod = restricted_pod("big");
            pod["spec"]["containers"][0]["resources"]["limits"]["cpu"] = json!("500m");
            pod
        }),
        post("no-cpu-limit-under-quota", pods, {
            let mut pod = restricted_pod("unbounded");
            pod["spec"]["containers"][0]["resources"] = json!({});
            pod
        }),
    ];
    check("quota", &[], steps).await;
}

/// Pod Security `restricted` enforced by the namespace's labels: 403 with the exact
/// PodSecurity message; `warn` gives Warning headers.
#[tokio::test]
async fn pod_security_sequence() {
    let pods = "/api/v1/namespaces/{ns}/pods";
    let steps = vec![
        post("restricted-pod", pods, restricted_pod("ok")),
        post(
            "plain-pod",
            pods,
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "plain"},
            "spec": {"automountServiceAccountToken": false, "containers": [{"name": "main", "image": "busybox:1.36"}]}}),
        ),
        post(
            "privileged-pod",
            pods,
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "root"},
            "spec": {"automountServiceAccountToken": false, "hostNetwork": true,
                "containers": [{"name": "main", "image": "busybox:1.36", "securityContext": {"privileged": true}}]}}),
        ),
    ];
    let steps = steps
        .into_iter()
        .chain([
            // What a test does as a kubelet would (`kubectl patch --subresource=status`), and what
            // the reaper then reads.
            patch(
                "status-failed",
                &format!("{pods}/ok/status"),
                MERGE,
                json!({"status": {"phase": "Failed",
                "reason": "Evicted", "message": "The node was low on resource: memory."}}),
            ),
            get("failed-pod", &format!("{pods}/ok")),
            get("list-failed", pods).query("fieldSelector=status.phase%3DFailed"),
            patch(
                "main-resource-ignores-status",
                &format!("{pods}/ok"),
                MERGE,
                json!({"status": {"phase": "Running"}}),
            ),
        ])
        .collect();
    check(
        "pod-security",
        &[
            ("pod-security.kubernetes.io/enforce", "restricted"),
            ("pod-security.kubernetes.io/enforce-version", "latest"),
        ],
        steps,
    )
    .await;
}

/// What kubectl sends in `tests/kubectl_fake.rs`: `create` (fieldManager `kubectl-create`,
/// `fieldValidation=Strict`), client-side `apply` (a create with the last-applied annotation,
/// then a strategic merge patch), `apply --server-side` (manager `kubectl`, no force),
/// `label` (a merge patch), `get --chunk-size`, `run`, and `delete`.
#[tokio::test]
async fn kubectl_sequence() {
    let at = "/api/v1/namespaces/{ns}/configmaps/app";
    let last_applied = |mode: &str| {
        format!(
            "{{\"apiVersion\":\"v1\",\"data\":{{\"mode\":\"{mode}\"}},\"kind\":\"ConfigMap\",\"metadata\":{{\"annotations\":{{}},\"name\":\"app\",\"namespace\":\"{{ns}}\"}}}}\n"
        )
    };
    let pods = "/api/v1/namespaces/{ns}/pods";
    let steps = vec![
        post("create-configmap", CM, config_map("settings", json!({"k": "v"})))
            .query("fieldManager=kubectl-create&fieldValidation=Strict")
            // The real root-ca-cert-publisher adds kube-root-ca.crt to every new namespace.
            .settle("/api/v1/namespaces/{ns}/configmaps/kube-root-ca.crt", exists),
        post("client-side-apply-create", CM, json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "app", "namespace": "{ns}",
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": last_applied("one")}},
            "data": {"mode": "one"}}))
        .query("fieldManager=kubectl-client-side-apply&fieldValidation=Strict"),
        patch("client-side-apply-configure", at, STRATEGIC, json!({"data": {"mode": "two"},
            "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": last_applied("two")}}}))
        .query("fieldManager=kubectl-client-side-apply&fieldValidation=Strict"),
        patch("server-side-apply-conflicts", at, APPLY, config_map("app", json!({"mode": "three"})))
            .query("fieldManager=kubectl&fieldValidation=Strict&force=false"),
        patch("server-side-apply-new", "/api/v1/namespaces/{ns}/configmaps/ssa", APPLY,
            config_map("ssa", json!({"mode": "one"})))
        .query("fieldManager=kubectl&fieldValidation=Strict&force=false"),
        patch("label", at, MERGE, json!({"metadata": {"labels": {"tier": "web"}}}))
            .query("fieldManager=kubectl-label"),
        patch("label-settings", &format!("{CM}/settings"), MERGE, json!({"metadata": {"labels": {"tier": "db"}}}))
            .query("fieldManager=kubectl-label"),
        get("chunk-1", CM).query("labelSelector=tier&limit=1"),
        get("chunk-2", CM).query("labelSelector=tier&limit=1&continue={continue}"),
        get("chunk-all", CM).query("limit=1"),
        get("root-ca-published", &format!("{CM}/kube-root-ca.crt")),
        get("selected", CM).query("labelSelector=tier%3Dweb"),
        get("set-selector", CM).query("labelSelector=tier+in+%28web%2Cdb%29%2C%21missing"),
        post("run", pods, json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "shell",
            "labels": {"run": "shell"}}, "spec": {"automountServiceAccountToken": false,
            "restartPolicy": "Never", "containers": [{"name": "shell", "image": "busybox:1.36", "resources": {}}]}}))
        .query("fieldManager=kubectl-run&fieldValidation=Strict"),
        patch("strategic-patch-of-a-list", &format!("{pods}/shell"), STRATEGIC,
            json!({"spec": {"containers": [{"name": "shell", "image": "busybox:1.37"}]}})),
        delete("delete", &format!("{pods}/shell")).body(json!({"kind": "DeleteOptions", "apiVersion": "v1",
            "propagationPolicy": "Background"})),
        delete("delete-configmap", at).body(json!({"kind": "DeleteOptions", "apiVersion": "v1",
            "propagationPolicy": "Background"})),
    ];
    check("kubectl", &[], steps).await;
}

const BEGIN: &str = "<!-- BEGIN fake differences: generated by crates/autolabs-kube/tests/fake_differential.rs (AUTOLABS_BLESS=1 rewrites it) -->";
const END: &str = "<!-- END fake differences -->";

/// The documentation of [`KNOWN_DIFFERENCES`] and [`NORMALISED`], as Markdown lines.
fn differences_doc() -> Vec<String> {
    let mut lines = vec![
        "Held to kube-apiserver v1.35 by `autolabs-kube/tests/fake_differential.rs`: the same requests (what `apply`,"
            .to_string(),
        "the lab provisioner, the reaper and kubectl send, and bad requests) go to both servers, and".into(),
        "these are the only answers that differ:".into(),
        String::new(),
        "| Case | Difference |".into(),
        "|---|---|".into(),
    ];
    let mut known: Vec<&(&str, &str)> = KNOWN_DIFFERENCES.iter().collect();
    known.sort();
    for (case, why) in known {
        lines.push(format!("| `{case}` | {why} |"));
    }
    lines.push(String::new());
    lines.push("Compared after dropping what cannot match between two servers:".into());
    lines.push(String::new());
    for (field, why) in NORMALISED {
        lines.push(format!("- {field}: {why}"));
    }
    lines
}

/// Replaces the text between the markers in `text` (lines carrying `prefix`) with `lines`.
fn with_generated(text: &str, prefix: &str, lines: &[String]) -> Option<String> {
    let begin = text.find(&format!("{prefix}{BEGIN}\n"))?;
    let inner_start = begin + prefix.len() + BEGIN.len() + 1;
    let end = inner_start + text[inner_start..].find(&format!("{prefix}{END}"))?;
    let body: String = lines
        .iter()
        .map(|l| if l.is_empty() { format!("{}\n", prefix.trim_end()) } else { format!("{prefix}{l}\n") })
        .collect();
    Some(format!("{}{}{}", &text[..inner_start], body, &text[end..]))
}

/// The fake's module docs and the README list exactly [`KNOWN_DIFFERENCES`] and
/// [`NORMALISED`] (`AUTOLABS_BLESS=1` rewrites them).
#[test]
fn known_differences_are_documented() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let files =
        [(format!("{root}/crates/autolabs-fake/src/lib.rs"), "//! "), (format!("{root}/README.md"), "")];
    let lines = differences_doc();
    let bless = std::env::var_os("AUTOLABS_BLESS").is_some_and(|v| v == "1");
    for (path, prefix) in files {
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let wanted = with_generated(&text, prefix, &lines)
            .unwrap_or_else(|| panic!("{path}: no `{prefix}{BEGIN}` … `{prefix}{END}` section"));
        if wanted == text {
            continue;
        }
        if bless {
            std::fs::write(&path, wanted).unwrap_or_else(|e| panic!("{path}: {e}"));
        } else {
            panic!("{path}: the fake's differences section is out of date; run with AUTOLABS_BLESS=1");
        }
    }
}
