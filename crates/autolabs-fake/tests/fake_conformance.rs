//! Conformance of the fake API server's admission against ground truth recorded from
//! Kubernetes (`shared/conformance`), sent over HTTP through a real `kube::Client`:
//!
//! - `admission/`: each `setup*.yaml` is seeded into a fresh fake and each Pod of the
//!   matching `cases*.jsonl` is created with `dryRun=All`, exactly as the cases were recorded;
//!   the verdict, HTTP status, message and every defaulted request and limit must agree.
//!   Messages must be equal, or equal up to the order of the aggregated causes (upstream
//!   iterates Go maps there, in random order): compared as multisets of their `, `-separated
//!   fragments after the same prefix.
//! - `pod-security/`: every fixture Pod is created (`dryRun=All`) in a namespace labelled
//!   `enforce=<level>`, `enforce-version=<version>`; `pass` Pods must be created, `fail` Pods
//!   refused with 403 `violates PodSecurity`. The fixtures are evaluated directly upstream,
//!   never sent to an API server, and their names hold `_`, which `metadata.name` validation
//!   refuses; each is sent under its name with `_` replaced by `-` (the name plays no part in
//!   any Pod Security check).
//!
//! No exceptions.

use std::collections::BTreeMap;
use std::path::PathBuf;

use autolabs_fake::{FakeApiServer, FakeConfig};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use serde_json::{Value, json};

fn conformance_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("AUTOLABS_CONFORMANCE_DIR").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/conformance"))
    });
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("conformance data missing at {} (CI=true)", dir.display());
    }
    eprintln!("note: conformance data not found at {}; skipping", dir.display());
    None
}

fn dry_run() -> PostParams {
    PostParams { dry_run: true, ..Default::default() }
}

/// The message's prefix (up to the first `: `) and its aggregated body as sorted fragments.
fn fragments(message: &str) -> (String, Vec<String>) {
    let (prefix, body) = match message.find(" is invalid: ").or_else(|| message.find(" is forbidden: ")) {
        Some(at) => {
            let split = message[at..].find(": ").map_or(message.len(), |i| at + i + 2);
            message.split_at(split)
        }
        None => ("", message),
    };
    let body = body.strip_prefix('[').and_then(|b| b.strip_suffix(']')).unwrap_or(body);
    let mut parts: Vec<String> = body.split(", ").map(String::from).collect();
    parts.sort();
    (prefix.to_string(), parts)
}

/// Each container's `requests`/`limits` as the server stored them.
fn container_resources(pod: &Pod) -> BTreeMap<String, Value> {
    let spec = pod.spec.clone().unwrap_or_default();
    spec.containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .map(|c| {
            let r = c.resources.clone().unwrap_or_default();
            let mut v = serde_json::Map::new();
            if let Some(l) = r.limits {
                v.insert("limits".into(), serde_json::to_value(l).unwrap_or_default());
            }
            if let Some(q) = r.requests {
                v.insert("requests".into(), serde_json::to_value(q).unwrap_or_default());
            }
            (c.name.clone(), Value::Object(v))
        })
        .collect()
}

#[tokio::test]
async fn admission_cases_agree_with_the_recorded_api_server() {
    let Some(dir) = conformance_dir() else { return };
    let dir = dir.join("admission");
    let mut setups: Vec<String> = std::fs::read_dir(&dir)
        .expect("admission dir")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().to_string()))
        .filter(|f| f.starts_with("setup") && f.ends_with(".yaml"))
        .collect();
    setups.sort();
    assert!(!setups.is_empty(), "no setup*.yaml in {}", dir.display());
    let (mut cases, mut admitted, mut exact, mut reordered, mut containers) = (0, 0, 0, 0, 0);
    let mut disagreements = Vec::new();
    for setup in &setups {
        let suffix = setup.trim_start_matches("setup").trim_end_matches(".yaml");
        let cases_file = format!("cases{suffix}.jsonl");
        let server = FakeApiServer::start(FakeConfig::default()).await.expect("fake starts");
        server.apply_yaml(&std::fs::read_to_string(dir.join(setup)).expect("setup")).expect("setup seeds");
        let client = server.client().expect("client");
        let text = std::fs::read_to_string(dir.join(&cases_file)).expect("cases");
        for (line_no, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let case: Value = serde_json::from_str(line).expect("case JSON");
            let pod: Pod = serde_json::from_value(case["pod"].clone()).expect("case pod");
            let namespace = pod.metadata.namespace.clone().unwrap_or_default();
            let at = format!("{cases_file}:{}", line_no + 1);
            let want_allowed = case["allowed"].as_bool().expect("allowed");
            let want_status = case["status"].as_u64().expect("status");
            let want_message = case["message"].as_str().unwrap_or_default();
            cases += 1;
            let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
            match pods.create(&dry_run(), &pod).await {
                Ok(created) => {
                    if !want_allowed {
                        disagreements.push(format!("{at}: created, recorded {want_status} {want_message}"));
                        continue;
                    }
                    admitted += 1;
                    let theirs: BTreeMap<String, Value> =
                        serde_json::from_value(case["resources"].clone()).expect("recorded resources");
                    containers += theirs.len();
                    let ours = container_resources(&created);
                    if ours != theirs {
                        disagreements.push(format!("{at}: resources {ours:?} vs recorded {theirs:?}"));
                    }
                }
                Err(kube::Error::Api(status)) => {
                    if want_allowed {
                        disagreements.push(format!(
                            "{at}: refused {} {}, recorded created",
                            status.code, status.message
                        ));
                    } else if u64::from(status.code) != want_status {
                        disagreements.push(format!("{at}: status {} vs recorded {want_status}", status.code));
                    } else if status.message == want_message {
                        exact += 1;
                    } else if fragments(&status.message) == fragments(want_message) {
                        reordered += 1;
                    } else {
                        disagreements.push(format!(
                            "{at}: message\n  ours:   {}\n  theirs: {want_message}",
                            status.message
                        ));
                    }
                }
                Err(other) => disagreements.push(format!("{at}: client error {other}")),
            }
        }
        server.shutdown().await;
    }
    println!(
        "fake admission conformance: {cases} cases, {admitted} admitted ({containers} containers' resources compared), \
         messages {exact} exact + {reordered} equal up to cause order, {} disagreements",
        disagreements.len()
    );
    for d in disagreements.iter().take(20) {
        println!("  {d}");
    }
    assert!(disagreements.is_empty(), "{} disagreements", disagreements.len());
    assert_eq!(cases, 1000, "the README promises 1,000 cases");
}

#[tokio::test]
async fn pod_security_fixtures_agree() {
    let Some(dir) = conformance_dir() else { return };
    let dir = dir.join("pod-security");
    let server = FakeApiServer::start(FakeConfig::default()).await.expect("fake starts");
    let client = server.client().expect("client");
    let (mut checked, mut passed, mut refused) = (0usize, 0usize, 0usize);
    let mut disagreements = Vec::new();
    for level in ["baseline", "restricted"] {
        let mut versions: Vec<String> = std::fs::read_dir(dir.join(level))
            .expect("level dir")
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().to_string()))
            .collect();
        versions.sort();
        for version in versions {
            let namespace = format!("{level}-{}", version.replace('.', "-"));
            server
                .apply_object(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": {
                    "pod-security.kubernetes.io/enforce": level,
                    "pod-security.kubernetes.io/enforce-version": version}}}))
                .expect("namespace seeds");
            let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
            for expectation in ["pass", "fail"] {
                let folder = dir.join(level).join(&version).join(expectation);
                let Ok(entries) = std::fs::read_dir(&folder) else { continue };
                let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
                files.sort();
                for file in files {
                    let text = std::fs::read_to_string(&file).expect("fixture");
                    let mut pod: Pod = serde_saphyr::from_str(&text).expect("fixture pod");
                    pod.metadata.name = pod.metadata.name.map(|n| n.replace('_', "-"));
                    checked += 1;
                    let at = file.strip_prefix(&dir).unwrap_or(&file).display().to_string();
                    match (expectation, pods.create(&dry_run(), &pod).await) {
                        ("pass", Ok(_)) => passed += 1,
                        ("fail", Err(kube::Error::Api(status)))
                            if status.code == 403 && status.message.contains("violates PodSecurity") =>
                        {
                            refused += 1
                        }
                        (_, Ok(_)) => disagreements.push(format!("{at}: created")),
                        (_, Err(kube::Error::Api(status))) => {
                            disagreements.push(format!("{at}: {} {}", status.code, status.message))
                        }
                        (_, Err(other)) => disagreements.push(format!("{at}: {other}")),
                    }
                }
            }
        }
    }
    println!(
        "fake pod-security conformance: {checked} fixtures, {passed} created, {refused} refused, {} disagreements",
        disagreements.len()
    );
    for d in disagreements.iter().take(20) {
        println!("  {d}");
    }
    assert!(disagreements.is_empty(), "{} disagreements", disagreements.len());
    assert_eq!(checked, 4093, "the README promises 4,093 fixtures");
}
