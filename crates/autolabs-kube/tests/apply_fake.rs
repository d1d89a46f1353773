//! `autolabs apply` against the fake API server, over real HTTP: the rendered baseline is
//! created, re-applied as a no-op, changed, pruned (only this platform's objects), dry-run
//! (nothing changes), and server errors come back naming the object and the server's words.

use std::collections::BTreeMap;

use autolabs_fake::{FakeApiServer, FakeConfig, FaultConfig, FaultRule, InjectedError, Verb};
use autolabs_kube::apply::{self, ApplyOptions, ApplyReport, Outcome};
use autolabs_model::lab::{LabContext, LabRequest, desired, load_templates};
use autolabs_model::{Manifest, Platform, render};
use serde_json::{Value, json};

const PLATFORM: &str = "autolabs";

async fn server() -> FakeApiServer {
    FakeApiServer::start(FakeConfig::default()).await.expect("fake server starts")
}

fn baseline() -> Vec<Manifest> {
    render(&Platform::default()).manifests
}

/// The baseline of a platform with more students: bigger lab quotas.
fn bigger_baseline() -> Vec<Manifest> {
    let mut platform = Platform::default();
    platform.spec.labs.students = Some(platform.spec.students() + 5);
    render(&platform).manifests
}

async fn run(server: &FakeApiServer, desired: &[Manifest], options: &ApplyOptions) -> ApplyReport {
    let client = server.client().expect("client");
    let mut lines = Vec::new();
    let report = apply::apply(&client, desired, options, |r| lines.push(r.to_string()))
        .await
        .expect("apply reaches the server");
    assert_eq!(lines.len(), report.results.len(), "one progress line per object");
    report
}

/// Outcome word → object ids.
fn by_outcome(report: &ApplyReport) -> BTreeMap<&'static str, Vec<String>> {
    let mut map: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    for r in &report.results {
        map.entry(r.outcome.word()).or_default().push(r.key.to_string());
    }
    map
}

fn failures(report: &ApplyReport) -> Vec<String> {
    report.failures().map(|f| f.to_string()).collect()
}

/// The kinds the fake does not serve (no CRDs): the baseline's PrometheusRule, and the
/// ingress's cert-manager Certificate and ClusterIssuer.
fn custom(desired: &[Manifest]) -> usize {
    desired.iter().filter(|m| m.is_custom_resource()).count()
}

#[tokio::test]
async fn baseline_is_created_then_reapplying_it_is_a_no_op() {
    let server = server().await;
    let desired = baseline();
    let first = run(&server, &desired, &ApplyOptions::new(PLATFORM)).await;
    assert!(first.succeeded(), "{:#?}", failures(&first));
    assert_eq!(first.count("created"), desired.len() - custom(&desired));
    assert_eq!(first.count("skipped"), custom(&desired));
    let skipped: Vec<String> = first
        .results
        .iter()
        .filter_map(|r| match &r.outcome {
            Outcome::Skipped(why) => Some(format!("{}: {why}", r.key)),
            _ => None,
        })
        .collect();
    assert!(
        skipped.iter().all(|s| s.contains("PrometheusRule") && s.contains("Prometheus Operator")
            || (s.contains("Certificate") || s.contains("ClusterIssuer"))
                && s.contains("install cert-manager")),
        "{skipped:#?}"
    );
    let snapshot = server.snapshot();
    for m in desired.iter().filter(|m| !m.is_custom_resource()) {
        let found = snapshot.objects.iter().any(|((_, ns, name), v)| {
            v["kind"] == m.kind.as_str()
                && *name == m.name
                && ns.as_str() == m.namespace.as_deref().unwrap_or("")
        });
        assert!(found, "{} was not stored", m.id());
    }

    let again = run(&server, &desired, &ApplyOptions::new(PLATFORM)).await;
    assert!(again.succeeded(), "{:#?}", failures(&again));
    assert_eq!(again.count("unchanged"), desired.len() - custom(&desired), "{:#?}", by_outcome(&again));
    // Nothing a re-apply sends changes anything. (The fake fills required status fields, such
    // as a StatefulSet's `status.replicas`, on an object's first update, so its status may
    // move; kube-apiserver would not write at all. Reported to the fake's owner.)
    let after = server.snapshot();
    let reconfigured: Vec<&(String, String, String)> = after
        .objects
        .iter()
        .filter(|(k, v)| snapshot.objects.get(*k).map(apply::comparable) != Some(apply::comparable(v)))
        .map(|(k, _)| k)
        .collect();
    assert!(reconfigured.is_empty(), "a re-apply changes nothing: {reconfigured:#?}");
    let third = run(&server, &desired, &ApplyOptions::new(PLATFORM)).await;
    assert_eq!(third.count("unchanged"), desired.len() - custom(&desired));
    assert_eq!(server.resource_version(), after.resource_version, "a third apply writes nothing at all");
}

#[tokio::test]
async fn a_changed_config_configures_only_what_changed() {
    let server = server().await;
    let before = baseline();
    assert!(run(&server, &before, &ApplyOptions::new(PLATFORM)).await.succeeded());
    let after = bigger_baseline();
    let changed: Vec<String> =
        after.iter().filter(|m| !before.contains(m) && !m.is_custom_resource()).map(Manifest::id).collect();
    assert!(!changed.is_empty(), "more students must change some object");

    let report = run(&server, &after, &ApplyOptions::new(PLATFORM)).await;
    assert!(report.succeeded(), "{:#?}", failures(&report));
    let outcomes = by_outcome(&report);
    let mut configured = outcomes.get("configured").cloned().unwrap_or_default();
    configured.sort();
    let mut expected = changed.clone();
    expected.sort();
    assert_eq!(configured, expected);
    assert_eq!(report.count("unchanged"), after.len() - custom(&after) - changed.len());
    let quota = after.iter().find(|m| m.kind == "ResourceQuota" && m.namespace.as_deref() == Some("labs"));
    if let Some(quota) = quota {
        let live = server.snapshot().get("resourcequotas", "labs", &quota.name).cloned().expect("labs quota");
        assert_eq!(live.pointer("/spec/hard"), quota.value.pointer("/spec/hard"), "the new quota is live");
    }
}

fn config_map(namespace: &str, name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace, "labels": labels}, "data": {"k": "v"}})
}

fn ours() -> Value {
    json!({"app.kubernetes.io/managed-by": "autolabs", "autolabs.io/platform": PLATFORM})
}

/// A real lab bundle, built by the model from the shipped `linux-basics` template.
fn lab_bundle(platform: &Platform) -> Vec<Manifest> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../templates/linux-basics.yaml");
    let text = std::fs::read_to_string(dir).expect("the repository ships templates/linux-basics.yaml");
    let templates = load_templates(&[("linux-basics.yaml", text)], platform).expect("template loads");
    let template = templates.get("linux-basics").expect("linux-basics");
    let request = LabRequest { id: "prunecheck".into(), template: "linux-basics".into(), ttl_seconds: None };
    desired(template, &request, &LabContext::new(platform, 1_795_633_200)).expect("bundle").manifests()
}

#[tokio::test]
async fn prune_deletes_only_this_platforms_objects_that_are_no_longer_rendered() {
    let server = server().await;
    let platform = Platform::default();
    let full = baseline();
    assert!(run(&server, &full, &ApplyOptions::new(PLATFORM)).await.succeeded());

    // Objects that must survive, and one that must go.
    let lab = lab_bundle(&platform);
    for m in &lab {
        server.apply_object(m.value.clone()).expect("seed lab object");
    }
    server.apply_object(config_map("platform", "retired-settings", ours())).expect("seed");
    server
        .apply_object(config_map(
            "platform",
            "other-platform",
            json!({"app.kubernetes.io/managed-by": "autolabs", "autolabs.io/platform": "staging"}),
        ))
        .expect("seed");
    server.apply_object(config_map("platform", "hand-made", json!({"team": "ops"}))).expect("seed");
    let mut replica_set = json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "copy-of-a-deployment", "namespace": "platform", "labels": ours(),
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "x", "uid": "u-1", "controller": true}]},
        "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}
    });
    replica_set["metadata"]["labels"]["a"] = json!("b");
    server.apply_object(replica_set).expect("seed");
    server
        .apply_object(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "retired", "labels": ours()}}))
        .expect("seed");

    // One rendered Deployment is no longer rendered.
    let dropped = full.iter().find(|m| m.kind == "Deployment").expect("the baseline has Deployments").clone();
    let desired: Vec<Manifest> = full.iter().filter(|m| **m != dropped).cloned().collect();

    let prune = ApplyOptions { prune: true, ..ApplyOptions::new(PLATFORM) };
    let dry = run(&server, &desired, &ApplyOptions { dry_run: true, ..prune.clone() }).await;
    let before_dry = server.snapshot();
    assert_eq!(dry.count("pruned"), 2, "{:#?}", by_outcome(&dry));
    assert_eq!(server.snapshot(), before_dry, "a dry-run prune deletes nothing");

    let report = run(&server, &desired, &prune).await;
    assert!(report.succeeded(), "{:#?}", failures(&report));
    let outcomes = by_outcome(&report);
    let mut pruned = outcomes.get("pruned").cloned().unwrap_or_default();
    pruned.sort();
    assert_eq!(pruned, vec![dropped.id(), "platform/ConfigMap/retired-settings".to_string()]);
    assert_eq!(outcomes.get("kept"), Some(&vec!["Namespace/retired".to_string()]));

    let snapshot = server.snapshot();
    let dropped_plural = format!("{}s", dropped.kind.to_ascii_lowercase());
    assert!(
        snapshot.get(&dropped_plural, dropped.namespace.as_deref().unwrap_or(""), &dropped.name).is_none()
    );
    assert!(snapshot.get("configmaps", "platform", "retired-settings").is_none());
    for (plural, namespace, name) in [
        ("configmaps", "platform", "other-platform"),
        ("configmaps", "platform", "hand-made"),
        ("replicasets", "platform", "copy-of-a-deployment"),
        ("namespaces", "", "retired"),
    ] {
        assert!(
            snapshot.get(plural, namespace, name).is_some(),
            "{plural} {namespace}/{name} must survive prune"
        );
    }
    for m in &lab {
        let plural = match m.kind.as_str() {
            "NetworkPolicy" => "networkpolicies".to_string(),
            "Ingress" => "ingresses".to_string(),
            other => format!("{}s", other.to_ascii_lowercase()),
        };
        assert!(
            snapshot.get(&plural, m.namespace.as_deref().unwrap_or(""), &m.name).is_some(),
            "lab object {} must survive prune",
            m.id()
        );
        assert!(
            m.value.pointer("/metadata/labels/autolabs.io~1platform").is_none(),
            "lab objects carry no platform label: {}",
            m.id()
        );
    }

    let again = run(&server, &desired, &prune).await;
    assert_eq!(again.count("pruned"), 0, "pruning twice deletes nothing more");
}

#[tokio::test]
async fn server_errors_name_the_object_and_the_servers_message() {
    let server = server().await;
    let mut desired = baseline();
    desired.push(Manifest {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        namespace: Some("platform".into()),
        name: "Not_A_Valid_Name".into(),
        value: config_map("platform", "Not_A_Valid_Name", ours()),
    });
    let report = run(&server, &desired, &ApplyOptions::new(PLATFORM)).await;
    let failed = failures(&report);
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert!(failed[0].starts_with("failed     platform/ConfigMap/Not_A_Valid_Name: "), "{}", failed[0]);
    assert!(failed[0].contains("Invalid") && failed[0].contains("422"), "{}", failed[0]);
    assert!(failed[0].contains("Not_A_Valid_Name"), "the server's message names the object: {}", failed[0]);
    assert_eq!(report.count("created"), desired.len() - 1 - custom(&desired), "the rest is applied");
}

#[tokio::test]
async fn injected_server_failures_fail_those_objects_only() {
    let faults = FaultConfig::none()
        .with_rule(FaultRule::always(InjectedError::InternalError).verbs([Verb::Patch]).resource("services"));
    let server = FakeApiServer::start(FakeConfig { faults, ..FakeConfig::default() }).await.expect("starts");
    let desired = baseline();
    let services = desired.iter().filter(|m| m.kind == "Service").count();
    let client = server.client_without_retries().expect("client");
    let report = apply::apply(&client, &desired, &ApplyOptions::new(PLATFORM), |_| {}).await.expect("apply");
    let failed = failures(&report);
    assert_eq!(failed.len(), services, "{failed:#?}");
    assert!(failed.iter().all(|f| f.contains("/Service/") && f.contains("HTTP 500")), "{failed:#?}");
}

#[tokio::test]
async fn dry_run_changes_nothing_and_reports_what_would_change() {
    let server = server().await;
    let desired = baseline();
    let dry = ApplyOptions { dry_run: true, ..ApplyOptions::new(PLATFORM) };
    let empty = server.snapshot();
    let report = run(&server, &desired, &dry).await;
    assert!(report.succeeded(), "{:#?}", failures(&report));
    assert_eq!(report.count("created"), desired.len() - custom(&desired));
    assert_eq!(server.snapshot(), empty, "a dry run stores nothing");
    assert!(report.summary().ends_with("server dry run, nothing was changed"));

    assert!(run(&server, &desired, &ApplyOptions::new(PLATFORM)).await.succeeded());
    let applied = server.snapshot();
    let changed = bigger_baseline();
    let report = run(&server, &changed, &dry).await;
    assert!(report.succeeded(), "{:#?}", failures(&report));
    assert!(report.count("configured") > 0, "{:#?}", by_outcome(&report));
    assert_eq!(report.count("created"), 0);
    assert_eq!(server.snapshot(), applied, "a dry run of a change stores nothing");
}
