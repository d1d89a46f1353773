//! Reading a live cluster (the fake API server) into the object set `verify` reads: after
//! applying the baseline, the set holds the same objects; lists are paginated; the dump
//! reads back as the same set.

use std::collections::BTreeSet;

use autolabs_fake::{FakeApiServer, FakeConfig};
use autolabs_kube::apply::{self, ApplyOptions};
use autolabs_kube::live::{self, CLUSTER_FILE, LIST_PAGE_SIZE, LIVE_KINDS};
use autolabs_model::{Platform, render};
use autolabs_verify::ObjectSet;
use serde_json::json;

fn is_read(api_version: &str, kind: &str) -> bool {
    LIVE_KINDS.iter().any(|k| k.kind == kind && k.api_resource().api_version == api_version)
}

#[tokio::test]
async fn the_live_read_of_an_applied_baseline_holds_the_same_objects() {
    let server = FakeApiServer::start(FakeConfig::default()).await.expect("starts");
    let client = server.client().expect("client");
    let rendered = render(&Platform::default());
    let empty = live::read_cluster(&client).await.expect("read the empty cluster");
    let preexisting: BTreeSet<String> = empty.objects.iter().map(|o| o.id()).collect();
    let report = apply::apply(&client, &rendered.manifests, &ApplyOptions::new("autolabs"), |_| {})
        .await
        .expect("apply");
    assert!(report.succeeded());

    let set = live::read_cluster(&client).await.expect("read");
    assert!(set.errors.is_empty());
    let read: BTreeSet<String> = set.objects.iter().map(|o| o.id()).collect();
    let expected: BTreeSet<String> = rendered
        .manifests
        .iter()
        .filter(|m| !m.is_custom_resource() && is_read(&m.api_version, &m.kind))
        .map(|m| m.id())
        .collect();
    let missing: Vec<&String> = expected.difference(&read).collect();
    assert!(missing.is_empty(), "rendered objects the live read lacks: {missing:#?}");
    // What is read besides: what the cluster had before (its own namespaces, priority classes).
    let extra: BTreeSet<String> = read.difference(&expected).cloned().collect();
    assert_eq!(extra, preexisting);
    for object in &set.objects {
        assert_eq!(object.file, CLUSTER_FILE);
        assert!(object.value.pointer("/metadata/managedFields").is_none(), "{}", object.id());
        assert!(object.value.pointer("/metadata/uid").is_some(), "server fields are kept: {}", object.id());
    }
    // Rendered content survives the round trip (labels, spec).
    for m in rendered.manifests.iter().filter(|m| m.kind == "NetworkPolicy") {
        let live = set.objects.iter().find(|o| o.id() == m.id()).expect("read");
        assert_eq!(
            live.value.pointer("/spec/podSelector"),
            m.value.pointer("/spec/podSelector"),
            "{}",
            m.id()
        );
        assert_eq!(live.labels().get("autolabs.io/platform").map(String::as_str), Some("autolabs"));
    }

    // The dump reads back as the same objects, so `verify FILE` sees what `verify --cluster` saw.
    let mut again = ObjectSet::default();
    again.add_text(&live::dump_yaml(&set).expect("yaml"), "dump.yaml");
    assert!(again.errors.is_empty(), "{:?}", again.errors);
    let ids = |s: &ObjectSet| s.objects.iter().map(|o| (o.id(), o.value.clone())).collect::<Vec<_>>();
    assert_eq!(ids(&again), ids(&set));
}

#[tokio::test]
async fn lists_are_read_page_by_page_to_the_end() {
    let server = FakeApiServer::start(FakeConfig::default()).await.expect("starts");
    server
        .apply_object(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "many"}}))
        .expect("ns");
    let count = LIST_PAGE_SIZE as usize * 2 + 17;
    for i in 0..count {
        server
            .apply_object(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": format!("sa-{i:04}"), "namespace": "many"}}))
            .expect("seed");
    }
    let set = live::read_cluster(&server.client().expect("client")).await.expect("read");
    let accounts: BTreeSet<String> = set.of_kind("", "ServiceAccount").map(|o| o.name.clone()).collect();
    assert_eq!(accounts.len(), count, "every page was read, none twice");
}
