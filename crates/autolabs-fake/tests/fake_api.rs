//! The fake API server through a real `kube::Client`: every test talks HTTP to a fresh
//! server with typed `kube::Api`s, as the provisioner will.

use std::time::Duration;

use autolabs_fake::{FakeApiServer, FakeConfig, FaultConfig, FaultRule, InjectedError, KubeletConfig, Verb};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, ResourceQuota, Secret, Service};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::watcher;
use serde_json::{Value, json};

async fn server() -> FakeApiServer {
    server_with(FakeConfig::default()).await
}

async fn server_with(config: FakeConfig) -> FakeApiServer {
    let server = FakeApiServer::start(config).await.expect("fake server starts");
    server
        .apply_object(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "labs"}}))
        .expect("seed namespace");
    server
}

fn typed<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).expect("test object is well-formed")
}

fn pod(name: &str, labels: Value) -> Pod {
    typed(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "main", "image": "busybox:1.36"}]}
    }))
}

fn config_map(name: &str, labels: Value) -> ConfigMap {
    typed(
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}, "data": {"k": "v"}}),
    )
}

/// The `Status` of a failed call.
fn api_error<T: std::fmt::Debug>(result: kube::Result<T>) -> Box<kube::core::Status> {
    match result {
        Err(kube::Error::Api(status)) => status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn create_get_list_delete_round_trip() {
    let server = server().await;
    let pods: Api<Pod> = Api::namespaced(server.client().unwrap(), "labs");
    let created = pods.create(&PostParams::default(), &pod("web", json!({"app": "web"}))).await.unwrap();
    let meta = &created.metadata;
    assert_eq!(meta.namespace.as_deref(), Some("labs"));
    assert!(meta.uid.is_some() && meta.creation_timestamp.is_some());
    let rv: u64 = meta.resource_version.as_deref().unwrap().parse().unwrap();
    assert!(rv > 0);
    assert_eq!(created.status.unwrap().phase.as_deref(), Some("Pending"));

    let fetched = pods.get("web").await.unwrap();
    assert_eq!(fetched.metadata.uid, meta.uid);

    let list = pods.list(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    let list_rv: u64 = list.metadata.resource_version.as_deref().unwrap().parse().unwrap();
    assert!(list_rv >= rv);

    // registry/core/pod/storage: ReturnDeletedObject, so the pod comes back.
    let deleted = pods.delete("web", &DeleteParams::default()).await.unwrap();
    assert!(deleted.is_left());
    assert_eq!(api_error(pods.get("web").await).code, 404);
    let counts = server.request_counts();
    assert_eq!(
        (counts["create pods"], counts["get pods"], counts["list pods"], counts["delete pods"]),
        (1, 2, 1, 1)
    );
    server.shutdown().await;
}

#[tokio::test]
async fn generate_name_and_cluster_scoped_objects() {
    let server = server().await;
    let client = server.client().unwrap();
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), "labs");
    let mut cm = config_map("", json!({}));
    cm.metadata.name = None;
    cm.metadata.generate_name = Some("lab-".into());
    let created = config_maps.create(&PostParams::default(), &cm).await.unwrap();
    let name = created.metadata.name.unwrap();
    // names.SimpleNameGenerator: prefix + 5 characters
    assert!(name.starts_with("lab-") && name.len() == 9, "{name}");

    let namespaces: Api<Namespace> = Api::all(client);
    let ns = namespaces
        .create(&PostParams::default(), &typed(json!({"metadata": {"name": "extra"}})))
        .await
        .unwrap();
    // SetDefaults_Namespace: the kubernetes.io/metadata.name label
    assert_eq!(ns.metadata.labels.unwrap()["kubernetes.io/metadata.name"], "extra");
    assert_eq!(ns.status.unwrap().phase.as_deref(), Some("Active"));
    let names: Vec<String> = namespaces
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    for expected in ["default", "extra", "kube-system", "labs"] {
        assert!(names.contains(&expected.to_string()), "{names:?}");
    }
}

#[tokio::test]
async fn errors_are_real_status_objects() {
    let server = server().await;
    let client = server.client().unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "labs");

    // errors.NewNotFound
    let missing = api_error(pods.get("nope").await);
    assert_eq!((missing.code, missing.reason.as_str()), (404, "NotFound"));
    assert_eq!(missing.message, "pods \"nope\" not found");

    // errors.NewAlreadyExists
    pods.create(&PostParams::default(), &pod("a", json!({}))).await.unwrap();
    let dup = api_error(pods.create(&PostParams::default(), &pod("a", json!({}))).await);
    assert_eq!((dup.code, dup.reason.as_str()), (409, "AlreadyExists"));
    assert_eq!(dup.message, "pods \"a\" already exists");

    // ValidateObjectMeta → errors.NewInvalid
    let bad = api_error(pods.create(&PostParams::default(), &pod("Bad_Name", json!({}))).await);
    assert_eq!((bad.code, bad.reason.as_str()), (422, "Invalid"));
    assert!(
        bad.message.starts_with("Pod \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\""),
        "{}",
        bad.message
    );

    // validateContainers: image is required
    let mut no_image = pod("no-image", json!({}));
    no_image.spec.as_mut().unwrap().containers[0].image = None;
    let invalid = api_error(pods.create(&PostParams::default(), &no_image).await);
    assert_eq!(invalid.message, "Pod \"no-image\" is invalid: spec.containers[0].image: Required value");

    // NamespaceLifecycle: a missing namespace is 404 on the namespace
    let ghost: Api<Pod> = Api::namespaced(client.clone(), "ghost");
    let no_ns = api_error(ghost.create(&PostParams::default(), &pod("a", json!({}))).await);
    assert_eq!((no_ns.code, no_ns.message.as_str()), (404, "namespaces \"ghost\" not found"));

    // A resource group the server does not serve
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "labs");
    assert_eq!(api_error(deployments.get("x").await).code, 404);
}

#[tokio::test]
async fn malformed_requests_get_400_and_unknown_paths_404() {
    let server = server().await;
    let client = server.client_without_retries().unwrap();
    let bad_json = http::Request::post("/api/v1/namespaces/labs/configmaps")
        .header("content-type", "application/json")
        .body(b"{not json".to_vec())
        .unwrap();
    let status = api_error(client.request::<Value>(bad_json).await);
    assert_eq!((status.code, status.reason.as_str()), (400, "BadRequest"));

    let wrong_type = http::Request::post("/api/v1/namespaces/labs/configmaps")
        .header("content-type", "application/json")
        .body(br#"{"metadata": {"name": "x"}, "data": 5}"#.to_vec())
        .unwrap();
    let status = api_error(client.request::<Value>(wrong_type).await);
    assert_eq!(status.code, 400);
    assert!(
        status.message.starts_with("ConfigMap in version \"v1\" cannot be handled as a ConfigMap"),
        "{}",
        status.message
    );

    let unknown = http::Request::get("/api/v1/namespaces/labs/widgets").body(Vec::new()).unwrap();
    let status = api_error(client.request::<Value>(unknown).await);
    assert_eq!(
        (status.code, status.message.as_str()),
        (404, "the server could not find the requested resource")
    );

    let bad_selector = http::Request::get("/api/v1/pods?labelSelector=a%20in%20b").body(Vec::new()).unwrap();
    assert_eq!(api_error(client.request::<Value>(bad_selector).await).code, 400);

    let patch = http::Request::patch("/api/v1/namespaces/labs/configmaps/x")
        .header("content-type", "text/plain")
        .body(b"{}".to_vec())
        .unwrap();
    assert_eq!(api_error(client.request::<Value>(patch).await).code, 415);
}

#[tokio::test]
async fn stale_updates_conflict() {
    let server = server().await;
    let maps: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "labs");
    let first = maps.create(&PostParams::default(), &config_map("c", json!({}))).await.unwrap();
    let mut fresh = first.clone();
    fresh.data = Some([("k".to_string(), "new".to_string())].into());
    let replaced = maps.replace("c", &PostParams::default(), &fresh).await.unwrap();
    assert_ne!(replaced.metadata.resource_version, first.metadata.resource_version);
    assert_eq!(replaced.metadata.uid, first.metadata.uid);

    // store.GuaranteedUpdate: the stale resourceVersion loses
    let mut stale = first.clone();
    stale.data = Some([("k".to_string(), "stale".to_string())].into());
    let conflict = api_error(maps.replace("c", &PostParams::default(), &stale).await);
    assert_eq!((conflict.code, conflict.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        conflict.message,
        "Operation cannot be fulfilled on configmaps \"c\": the object has been modified; please apply your changes to the latest version and try again"
    );

    // A write that changes nothing keeps the resourceVersion.
    let again = maps.replace("c", &PostParams::default(), &replaced).await.unwrap();
    assert_eq!(again.metadata.resource_version, replaced.metadata.resource_version);
}

#[tokio::test]
async fn label_and_field_selectors() {
    let server = server().await;
    let pods: Api<Pod> = Api::namespaced(server.client().unwrap(), "labs");
    for (name, labels) in [
        ("a", json!({"app": "web", "tier": "front"})),
        ("b", json!({"app": "web", "tier": "back"})),
        ("c", json!({"app": "db"})),
        ("d", json!({})),
    ] {
        pods.create(&PostParams::default(), &pod(name, labels)).await.unwrap();
    }
    let names = |list: kube::core::ObjectList<Pod>| -> Vec<String> {
        list.items.into_iter().filter_map(|p| p.metadata.name).collect()
    };
    // (selector, expected names) — labels.Parse semantics
    let rows: [(&str, &[&str]); 7] = [
        ("app=web", &["a", "b"]),
        ("app!=web", &["c", "d"]),
        ("app in (web,db),tier", &["a", "b"]),
        ("tier notin (front)", &["b", "c", "d"]),
        ("!tier", &["c", "d"]),
        ("app", &["a", "b", "c"]),
        ("app=web,tier!=back", &["a"]),
    ];
    for (selector, expected) in rows {
        let got = names(pods.list(&ListParams::default().labels(selector)).await.unwrap());
        assert_eq!(got, expected, "{selector}");
    }
    let by_name = names(pods.list(&ListParams::default().fields("metadata.name=c")).await.unwrap());
    assert_eq!(by_name, ["c"]);
    let all: Api<Pod> = Api::all(server.client().unwrap());
    let in_labs = names(all.list(&ListParams::default().fields("metadata.namespace=labs")).await.unwrap());
    assert_eq!(in_labs.len(), 4);
}

#[tokio::test]
async fn pagination_with_limit_and_continue() {
    let server = server().await;
    let maps: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "labs");
    for i in 0..7 {
        maps.create(&PostParams::default(), &config_map(&format!("cm-{i}"), json!({}))).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut params = ListParams::default().limit(3);
    let mut pages = 0;
    loop {
        let page = maps.list(&params).await.unwrap();
        pages += 1;
        assert!(page.items.len() <= 3);
        if pages == 1 {
            // etcd3 GetList: remainingItemCount without selectors
            assert_eq!(page.metadata.remaining_item_count, Some(4));
        }
        seen.extend(page.items.into_iter().filter_map(|c| c.metadata.name));
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => {
                params = ListParams::default().limit(3).continue_token(&token)
            }
            _ => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, (0..7).map(|i| format!("cm-{i}")).collect::<Vec<_>>());
}

#[tokio::test]
async fn all_namespace_lists() {
    let server = server().await;
    server
        .apply_object(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}}))
        .unwrap();
    let client = server.client().unwrap();
    for ns in ["labs", "other"] {
        let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
        pods.create(&PostParams::default(), &pod("p", json!({}))).await.unwrap();
    }
    let all: Api<Pod> = Api::all(client);
    let list = all.list(&ListParams::default()).await.unwrap();
    let namespaces: Vec<_> = list.items.iter().filter_map(|p| p.metadata.namespace.clone()).collect();
    assert_eq!(namespaces, ["labs", "other"]);
}

#[tokio::test]
async fn merge_and_json_patches() {
    let server = server().await;
    let maps: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "labs");
    maps.create(&PostParams::default(), &config_map("c", json!({"a": "1"}))).await.unwrap();
    let patched = maps
        .patch(
            "c",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"b": "2", "a": null}}})),
        )
        .await
        .unwrap();
    assert_eq!(patched.metadata.labels.unwrap(), [("b".to_string(), "2".to_string())].into());
    // kube's `Patch::Json` needs its `jsonpatch` feature; send the RFC 6902 body by hand.
    let json_patch = http::Request::patch("/api/v1/namespaces/labs/configmaps/c")
        .header("content-type", "application/json-patch+json")
        .body(br#"[{"op": "add", "path": "/data/extra", "value": "x"}]"#.to_vec())
        .unwrap();
    let patched: ConfigMap = server.client().unwrap().request(json_patch).await.unwrap();
    assert_eq!(patched.data.unwrap()["extra"], "x");
    assert_eq!(
        api_error(maps.patch("zz", &PatchParams::default(), &Patch::Merge(json!({}))).await).code,
        404
    );
}

#[tokio::test]
async fn server_side_apply_creates_then_replaces() {
    let server = server().await;
    let services: Api<Service> = Api::namespaced(server.client().unwrap(), "labs");
    let applied = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "lab", "labels": {"v": "1"}},
        "spec": {"ports": [{"port": 80}], "selector": {"app": "lab"}}
    });
    let params = PatchParams::apply("autolabs").force();
    let created = services.patch("lab", &params, &Patch::Apply(&applied)).await.unwrap();
    let spec = created.spec.clone().unwrap();
    assert!(spec.cluster_ip.is_some());
    assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));

    let mut second = applied.clone();
    second["metadata"]["labels"] = json!({"v": "2"});
    let updated = services.patch("lab", &params, &Patch::Apply(&second)).await.unwrap();
    assert_eq!(updated.metadata.uid, created.metadata.uid);
    assert_eq!(updated.metadata.creation_timestamp, created.metadata.creation_timestamp);
    assert_eq!(updated.metadata.labels.unwrap()["v"], "2");
    assert_ne!(updated.metadata.resource_version, created.metadata.resource_version);
}

#[tokio::test]
async fn dry_run_changes_nothing() {
    let server = server().await;
    let maps: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "labs");
    let before = server.resource_version();
    let dry = PostParams { dry_run: true, ..Default::default() };
    let answered = maps.create(&dry, &config_map("ghost", json!({}))).await.unwrap();
    assert_eq!(answered.metadata.name.as_deref(), Some("ghost"));
    assert_eq!(api_error(maps.get("ghost").await).code, 404);
    assert_eq!(server.resource_version(), before);

    maps.create(&PostParams::default(), &config_map("real", json!({}))).await.unwrap();
    let rv = server.resource_version();
    maps.delete("real", &DeleteParams { dry_run: true, ..Default::default() }).await.unwrap();
    maps.patch(
        "real",
        &PatchParams { dry_run: true, ..Default::default() },
        &Patch::Merge(json!({"data": {"k": "x"}})),
    )
    .await
    .unwrap();
    assert_eq!(maps.get("real").await.unwrap().data.unwrap()["k"], "v");
    assert_eq!(server.resource_version(), rv);
}

#[tokio::test]
async fn raw_watch_sends_added_modified_deleted() {
    let server = server().await;
    let maps: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "labs");
    let start = maps.list(&ListParams::default()).await.unwrap().metadata.resource_version.unwrap();
    let stream = maps.watch(&WatchParams::default().labels("watched=yes"), &start).await.unwrap();
    let mut stream = Box::pin(stream);
    maps.create(&PostParams::default(), &config_map("c", json!({"watched": "yes"}))).await.unwrap();
    maps.create(&PostParams::default(), &config_map("other", json!({}))).await.unwrap();
    maps.patch("c", &PatchParams::default(), &Patch::Merge(json!({"data": {"k": "2"}}))).await.unwrap();
    // Leaving the selection is a DELETED event (cache_watcher filtering).
    maps.patch(
        "c",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"watched": "no"}}})),
    )
    .await
    .unwrap();
    let mut kinds = Vec::new();
    while kinds.len() < 3 {
        match stream.try_next().await.unwrap().unwrap() {
            WatchEvent::Added(c) => kinds.push(format!("ADDED {}", c.metadata.name.unwrap())),
            WatchEvent::Modified(c) => kinds.push(format!("MODIFIED {}", c.metadata.name.unwrap())),
            WatchEvent::Deleted(c) => kinds.push(format!("DELETED {}", c.metadata.name.unwrap())),
            WatchEvent::Bookmark(_) => {}
            WatchEvent::Error(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(kinds, ["ADDED c", "MODIFIED c", "DELETED c"]);
}

#[tokio::test]
async fn watcher_sees_apply_and_delete() {
    let server = server().await;
    let maps: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "labs");
    maps.create(&PostParams::default(), &config_map("before", json!({}))).await.unwrap();
    let mut events = Box::pin(watcher(maps.clone(), watcher::Config::default()));
    let mut initial = Vec::new();
    loop {
        match events.try_next().await.unwrap().unwrap() {
            watcher::Event::InitApply(c) => initial.push(c.metadata.name.unwrap()),
            watcher::Event::InitDone => break,
            _ => {}
        }
    }
    assert_eq!(initial, ["before"]);
    maps.create(&PostParams::default(), &config_map("after", json!({}))).await.unwrap();
    maps.delete("before", &DeleteParams::default()).await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 2 {
        match events.try_next().await.unwrap().unwrap() {
            watcher::Event::Apply(c) => seen.push(format!("apply {}", c.metadata.name.unwrap())),
            watcher::Event::Delete(c) => seen.push(format!("delete {}", c.metadata.name.unwrap())),
            _ => {}
        }
    }
    assert_eq!(seen, ["apply after", "delete before"]);
}

#[tokio::test]
async fn streaming_list_watch_works() {
    let server = server().await;
    let maps: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "labs");
    maps.create(&PostParams::default(), &config_map("one", json!({}))).await.unwrap();
    let config = watcher::Config::default().streaming_lists();
    let mut events = Box::pin(watcher(maps.clone(), config));
    let mut initial = Vec::new();
    loop {
        match events.try_next().await.unwrap().unwrap() {
            watcher::Event::InitApply(c) => initial.push(c.metadata.name.unwrap()),
            watcher::Event::InitDone => break,
            _ => {}
        }
    }
    assert_eq!(initial, ["one"]);
}

#[tokio::test]
async fn too_old_resource_version_is_410_and_watcher_relists() {
    let config = FakeConfig { bookmark_interval: Duration::from_secs(3600), ..FakeConfig::default() };
    let server = server_with(config).await;
    let client = server.client().unwrap();
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "labs");
    maps.create(&PostParams::default(), &config_map("a", json!({}))).await.unwrap();

    // watch_cache: a resourceVersion before the retained history is an ERROR event with 410.
    let old = "1";
    server.compact_history();
    let mut raw = Box::pin(maps.watch(&WatchParams::default(), old).await.unwrap());
    match raw.try_next().await.unwrap().unwrap() {
        WatchEvent::Error(status) => {
            assert_eq!((status.code, status.reason.as_str()), (410, "Expired"));
            assert!(status.message.starts_with("too old resource version: 1"), "{}", status.message);
        }
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }

    let mut events = Box::pin(watcher(maps.clone(), watcher::Config::default()));
    loop {
        if let watcher::Event::InitDone = events.try_next().await.unwrap().unwrap() {
            break;
        }
    }
    maps.create(&PostParams::default(), &config_map("b", json!({}))).await.unwrap();
    loop {
        if let watcher::Event::Apply(c) = events.try_next().await.unwrap().unwrap() {
            assert_eq!(c.metadata.name.as_deref(), Some("b"));
            break;
        }
    }
    // Another resource moves the revision on; compaction then leaves the watcher's
    // resourceVersion behind, and the reconnect must relist.
    let secrets: Api<Secret> = Api::namespaced(client, "labs");
    let secret =
        secrets.create(&PostParams::default(), &typed(json!({"metadata": {"name": "s"}}))).await.unwrap();
    // core/v1 defaults.go SetDefaults_Secret
    assert_eq!(secret.type_.as_deref(), Some("Opaque"));
    server.compact_history();
    server.disconnect_watches();
    let mut saw_gone = false;
    let mut relisted = Vec::new();
    loop {
        match events.next().await.unwrap() {
            Err(watcher::Error::WatchError(status)) if status.code == 410 => saw_gone = true,
            Err(other) => panic!("unexpected watcher error {other:?}"),
            Ok(watcher::Event::InitApply(c)) => relisted.push(c.metadata.name.unwrap()),
            Ok(watcher::Event::InitDone) => break,
            Ok(_) => {}
        }
    }
    assert!(saw_gone);
    assert_eq!(relisted, ["a", "b"]);
}

#[tokio::test]
async fn bookmarks_and_dropped_watches() {
    let config = FakeConfig { bookmark_interval: Duration::from_millis(20), ..FakeConfig::default() };
    let server = server_with(config).await;
    let maps: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "labs");
    let rv = server.resource_version().to_string();
    let mut stream = Box::pin(maps.watch(&WatchParams::default(), &rv).await.unwrap());
    match stream.try_next().await.unwrap().unwrap() {
        WatchEvent::Bookmark(b) => assert_eq!(b.metadata.resource_version, rv),
        other => panic!("expected a bookmark, got {other:?}"),
    }

    server.faults().set(FaultConfig { drop_watch_after_events: Some(2), ..FaultConfig::none() });
    let mut stream = Box::pin(maps.watch(&WatchParams::default(), &rv).await.unwrap());
    for i in 0..3 {
        maps.create(&PostParams::default(), &config_map(&format!("c{i}"), json!({}))).await.unwrap();
    }
    let mut received = 0;
    while let Some(event) = stream.next().await {
        if let Ok(WatchEvent::Added(_)) = event {
            received += 1;
        }
    }
    assert_eq!(received, 2, "the connection closes after two events");
}

#[tokio::test]
async fn owner_references_cascade_and_orphan() {
    let server = server().await;
    let maps: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "labs");
    let owner_of = |owner: &ConfigMap| {
        json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": owner.metadata.name.clone().unwrap(),
                "uid": owner.metadata.uid.clone().unwrap(), "controller": true}])
    };
    let owner = maps.create(&PostParams::default(), &config_map("owner", json!({}))).await.unwrap();
    let mut child = config_map("child", json!({}));
    child.metadata.owner_references = Some(typed(owner_of(&owner)));
    let child = maps.create(&PostParams::default(), &child).await.unwrap();
    let mut grandchild = config_map("grandchild", json!({}));
    grandchild.metadata.owner_references = Some(typed(owner_of(&child)));
    maps.create(&PostParams::default(), &grandchild).await.unwrap();

    // garbagecollector: background deletion removes dependents, transitively
    maps.delete("owner", &DeleteParams::background()).await.unwrap();
    for gone in ["owner", "child", "grandchild"] {
        assert_eq!(api_error(maps.get(gone).await).code, 404, "{gone}");
    }

    // Orphan leaves dependents and removes the reference
    let owner = maps.create(&PostParams::default(), &config_map("owner2", json!({}))).await.unwrap();
    let mut kept = config_map("kept", json!({}));
    kept.metadata.owner_references = Some(typed(owner_of(&owner)));
    maps.create(&PostParams::default(), &kept).await.unwrap();
    maps.delete("owner2", &DeleteParams::orphan()).await.unwrap();
    let kept = maps.get("kept").await.unwrap();
    assert!(kept.metadata.owner_references.unwrap_or_default().is_empty());
}

#[tokio::test]
async fn finalizers_hold_deletion_until_removed() {
    let server = server().await;
    let maps: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "labs");
    let mut cm = config_map("held", json!({}));
    cm.metadata.finalizers = Some(vec!["autolabs.io/cleanup".into()]);
    maps.create(&PostParams::default(), &cm).await.unwrap();
    maps.delete("held", &DeleteParams::default()).await.unwrap();
    let marked = maps.get("held").await.unwrap();
    assert!(marked.metadata.deletion_timestamp.is_some());
    maps.patch("held", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"finalizers": null}})))
        .await
        .unwrap();
    assert_eq!(api_error(maps.get("held").await).code, 404);
}

#[tokio::test]
async fn delete_collection_by_label() {
    let server = server().await;
    let maps: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "labs");
    for (name, lab) in [("a", "1"), ("b", "1"), ("c", "2")] {
        maps.create(&PostParams::default(), &config_map(name, json!({"lab": lab}))).await.unwrap();
    }
    let deleted = maps
        .delete_collection(&DeleteParams::default(), &ListParams::default().labels("lab=1"))
        .await
        .unwrap();
    let deleted = deleted.left().expect("a list of the deleted objects");
    assert_eq!(deleted.items.len(), 2);
    let left: Vec<_> = maps
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .collect();
    assert_eq!(left, ["c"]);
}

#[tokio::test]
async fn status_subresource_is_separate() {
    let server = server().await;
    let pods: Api<Pod> = Api::namespaced(server.client().unwrap(), "labs");
    pods.create(&PostParams::default(), &pod("p", json!({}))).await.unwrap();
    // pod strategy PrepareForUpdate: the main resource keeps the stored status
    let ignored = pods
        .patch(
            "p",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Running"}, "metadata": {"labels": {"x": "y"}}})),
        )
        .await
        .unwrap();
    assert_eq!(ignored.status.unwrap().phase.as_deref(), Some("Pending"));
    assert_eq!(ignored.metadata.labels.unwrap()["x"], "y");
    // status strategy: only status changes
    let running = pods
        .patch_status(
            "p",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Running"}, "metadata": {"labels": {"x": "z"}}})),
        )
        .await
        .unwrap();
    assert_eq!(running.status.unwrap().phase.as_deref(), Some("Running"));
    assert_eq!(running.metadata.labels.unwrap()["x"], "y");
}

fn quota_namespace(server: &FakeApiServer) {
    server
        .apply_yaml(
            "apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: labs-quota, namespace: labs}\n\
             spec:\n  hard: {pods: \"2\", requests.cpu: \"1\", limits.memory: 1Gi}\n\
             ---\napiVersion: v1\nkind: LimitRange\nmetadata: {name: labs-defaults, namespace: labs}\n\
             spec:\n  limits:\n  - type: Container\n    default: {cpu: 250m, memory: 256Mi}\n    defaultRequest: {cpu: 250m, memory: 128Mi}\n    max: {cpu: \"1\"}\n",
        )
        .unwrap();
}

#[tokio::test]
async fn quota_exhaustion_is_403_and_deletes_release_usage() {
    let server = server().await;
    quota_namespace(&server);
    let client = server.client().unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "labs");
    let quotas: Api<ResourceQuota> = Api::namespaced(client, "labs");

    // LimitRanger defaults the resources; the quota records them.
    let first = pods.create(&PostParams::default(), &pod("p1", json!({}))).await.unwrap();
    let resources = first.spec.unwrap().containers[0].resources.clone().unwrap();
    assert_eq!(resources.requests.unwrap()["cpu"].0, "250m");
    pods.create(&PostParams::default(), &pod("p2", json!({}))).await.unwrap();
    let used = quotas.get("labs-quota").await.unwrap().status.unwrap().used.unwrap();
    assert_eq!(used["pods"].0, "2");
    assert_eq!(used["requests.cpu"].0, "500m");
    assert_eq!(used["limits.memory"].0, "512Mi");

    // CheckRequest: the third pod exceeds `pods`
    let refused = api_error(pods.create(&PostParams::default(), &pod("p3", json!({}))).await);
    assert_eq!((refused.code, refused.reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        refused.message,
        "pods \"p3\" is forbidden: exceeded quota: labs-quota, requested: pods=1, used: pods=2, limited: pods=2"
    );

    // Deleting a pod releases its usage at once.
    pods.delete("p1", &DeleteParams::default()).await.unwrap();
    let used = quotas.get("labs-quota").await.unwrap().status.unwrap().used.unwrap();
    assert_eq!(used["pods"].0, "1");
    pods.create(&PostParams::default(), &pod("p3", json!({}))).await.unwrap();

    // LimitRanger max: 403 from the LimitRanger
    let mut big = pod("big", json!({}));
    big.spec.as_mut().unwrap().containers[0].resources =
        Some(typed(json!({"limits": {"cpu": "2", "memory": "256Mi"}, "requests": {"cpu": "100m"}})));
    pods.delete("p2", &DeleteParams::default()).await.unwrap();
    let refused = api_error(pods.create(&PostParams::default(), &big).await);
    assert_eq!(refused.code, 403);
    assert!(
        refused.message.starts_with("pods \"big\" is forbidden: maximum cpu usage per Container is 1"),
        "{}",
        refused.message
    );

    // A finished pod only counts as count/pods (PodUsageFunc).
    server.set_pod_phase("labs", "p3", "Succeeded").unwrap();
    let used = quotas.get("labs-quota").await.unwrap().status.unwrap().used.unwrap();
    assert_eq!(used["pods"].0, "0");
}

#[tokio::test]
async fn object_count_quota() {
    let server = server().await;
    server
        .apply_object(json!({"apiVersion": "v1", "kind": "ResourceQuota",
            "metadata": {"name": "counts", "namespace": "labs"}, "spec": {"hard": {"count/configmaps": "1"}}}))
        .unwrap();
    let maps: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "labs");
    maps.create(&PostParams::default(), &config_map("one", json!({}))).await.unwrap();
    let refused = api_error(maps.create(&PostParams::default(), &config_map("two", json!({}))).await);
    assert_eq!(
        refused.message,
        "configmaps \"two\" is forbidden: exceeded quota: counts, requested: count/configmaps=1, used: count/configmaps=1, limited: count/configmaps=1"
    );
}

#[tokio::test]
async fn pod_security_enforces_namespace_labels() {
    let server = server().await;
    server
        .apply_object(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "strict",
            "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}}))
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(server.client().unwrap(), "strict");
    let refused = api_error(pods.create(&PostParams::default(), &pod("loose", json!({}))).await);
    assert_eq!(refused.code, 403);
    assert!(
        refused
            .message
            .starts_with("pods \"loose\" is forbidden: violates PodSecurity \"restricted:latest\": "),
        "{}",
        refused.message
    );

    let hardened: Pod = typed(json!({"metadata": {"name": "hardened"}, "spec": {
        "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{"name": "main", "image": "busybox:1.36", "securityContext": {
            "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}]}}));
    pods.create(&PostParams::default(), &hardened).await.unwrap();
}

#[tokio::test]
async fn injected_faults_reach_the_client() {
    let server = server().await;
    let pods: Api<Pod> = Api::namespaced(server.client_without_retries().unwrap(), "labs");
    pods.create(&PostParams::default(), &pod("p", json!({}))).await.unwrap();

    server.faults().set(FaultConfig::none().with_rule(
        FaultRule::always(InjectedError::TooManyRequests { retry_after_seconds: 1 }).verbs([Verb::Get]),
    ));
    let throttled = api_error(pods.get("p").await);
    assert_eq!((throttled.code, throttled.reason.as_str()), (429, "TooManyRequests"));
    // Other verbs are untouched.
    pods.list(&ListParams::default()).await.unwrap();

    server.faults().set(
        FaultConfig::none().with_rule(FaultRule::always(InjectedError::ServiceUnavailable).resource("pods")),
    );
    assert_eq!(api_error(pods.list(&ListParams::default()).await).code, 503);

    server
        .faults()
        .set(FaultConfig::none().with_rule(FaultRule::always(InjectedError::Conflict).verbs([Verb::Patch])));
    let conflict = api_error(pods.patch("p", &PatchParams::default(), &Patch::Merge(json!({}))).await);
    assert_eq!((conflict.code, conflict.reason.as_str()), (409, "Conflict"));

    server.faults().clear();
    pods.get("p").await.unwrap();
    let injected = server.faults().injected();
    assert_eq!(injected, 3, "one 429, one 503, one 409");

    // kube's default retry policy rides over one transient 503.
    server
        .faults()
        .set(FaultConfig::none().with_rule(FaultRule::always(InjectedError::ServiceUnavailable).times(1)));
    let retrying: Api<Pod> = Api::namespaced(server.client().unwrap(), "labs");
    retrying.get("p").await.unwrap();
    assert_eq!(server.faults().injected(), injected + 1);
}

#[tokio::test]
async fn kubelet_stand_in_runs_pods() {
    let config = FakeConfig {
        kubelet: Some(KubeletConfig { start_delay: Duration::from_millis(10), ..KubeletConfig::default() }),
        ..FakeConfig::default()
    };
    let server = server_with(config).await;
    let pods: Api<Pod> = Api::namespaced(server.client().unwrap(), "labs");
    pods.create(&PostParams::default(), &pod("p", json!({}))).await.unwrap();
    let running = tokio::time::timeout(
        Duration::from_secs(10),
        kube::runtime::wait::await_condition(pods.clone(), "p", kube::runtime::conditions::is_pod_running()),
    )
    .await
    .unwrap()
    .unwrap()
    .unwrap();
    let status = running.status.unwrap();
    assert!(status.pod_ip.is_some());
    assert!(status.conditions.unwrap().iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    assert_eq!(running.spec.unwrap().node_name.as_deref(), Some("fake-node"));

    let failed = server.set_pod_phase("labs", "p", "Failed").unwrap();
    assert_eq!(failed["status"]["phase"], "Failed");
    assert!(server.set_pod_phase("labs", "nope", "Running").is_err());
}

#[tokio::test]
async fn discovery_and_version() {
    let server = server().await;
    let client = server.client().unwrap();
    let version = client.apiserver_version().await.unwrap();
    assert_eq!(version.major, "1");
    let discovery = kube::Discovery::new(client.clone()).run().await.unwrap();
    let groups: Vec<String> = discovery.groups().map(|g| g.name().to_string()).collect();
    for group in ["", "apps", "networking.k8s.io", "rbac.authorization.k8s.io", "batch", "policy"] {
        assert!(groups.contains(&group.to_string()), "{group} in {groups:?}");
    }
    let (pods, caps) = discovery.resolve_gvk(&kube::core::GroupVersionKind::gvk("", "v1", "Pod")).unwrap();
    assert_eq!(pods.plural, "pods");
    assert_eq!(caps.scope, kube::discovery::Scope::Namespaced);

    let aggregated = kube::Discovery::new(client).run_aggregated().await.unwrap();
    assert!(aggregated.resolve_gvk(&kube::core::GroupVersionKind::gvk("apps", "v1", "Deployment")).is_some());
}

#[tokio::test]
async fn snapshot_and_seeding_helpers() {
    let server = server().await;
    let stored = server
        .apply_yaml("apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a, namespace: labs}\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: b, namespace: labs}\n")
        .unwrap();
    assert_eq!(stored.len(), 2);
    let snapshot = server.snapshot();
    assert_eq!(snapshot.of("configmaps").len(), 2);
    assert!(snapshot.get("namespaces", "", "labs").is_some());
    assert_eq!(snapshot.resource_version, server.resource_version());
    let refused = server.apply_object(
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "ghost"}}),
    );
    assert!(refused.is_err());
}

#[tokio::test]
async fn reapplying_keeps_what_others_set_and_drops_what_the_manager_stopped_applying() {
    let server = server().await;
    quota_namespace(&server);
    let pods: Api<Pod> = Api::namespaced(server.client().unwrap(), "labs");
    let applied = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "lab", "labels": {"lab": "1", "stale": "x"}},
        "spec": {"containers": [{"name": "main", "image": "busybox:1.36"}]}
    });
    let params = PatchParams::apply("provisioner");
    let created = pods.patch("lab", &params, &Patch::Apply(&applied)).await.unwrap();
    // LimitRanger filled the resources at create.
    assert!(created.spec.as_ref().unwrap().containers[0].resources.as_ref().unwrap().limits.is_some());

    // The same configuration again changes nothing (no new resourceVersion).
    let again = pods.patch("lab", &params, &Patch::Apply(&applied)).await.unwrap();
    assert_eq!(again.metadata.resource_version, created.metadata.resource_version);

    // Another writer's label survives; the label the manager stopped applying goes.
    pods.patch(
        "lab",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"owner": "ops"}}})),
    )
    .await
    .unwrap();
    let mut fewer = applied.clone();
    fewer["metadata"]["labels"] = json!({"lab": "1"});
    let updated = pods.patch("lab", &params, &Patch::Apply(&fewer)).await.unwrap();
    let labels = updated.metadata.labels.unwrap();
    assert_eq!(labels.get("owner").map(String::as_str), Some("ops"));
    assert!(!labels.contains_key("stale"));
    assert_eq!(updated.spec.unwrap().containers[0].resources, again.spec.unwrap().containers[0].resources);
}

#[tokio::test]
async fn priority_class_must_exist() {
    let server = server().await;
    let pods: Api<Pod> = Api::namespaced(server.client().unwrap(), "labs");
    let mut lab = pod("lab", json!({}));
    lab.spec.as_mut().unwrap().priority_class_name = Some("lab-priority".into());
    // priority admission: admitPod
    let refused = api_error(pods.create(&PostParams::default(), &lab).await);
    assert_eq!(refused.code, 403);
    assert_eq!(
        refused.message,
        "pods \"lab\" is forbidden: no PriorityClass with name lab-priority was found"
    );
    server
        .apply_object(json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": "lab-priority"}, "value": 1000}))
        .unwrap();
    let created = pods.create(&PostParams::default(), &lab).await.unwrap();
    assert_eq!(created.spec.unwrap().priority, Some(1000));
}

#[tokio::test]
async fn apply_needs_a_field_manager_and_dry_run_values_are_checked() {
    let server = server().await;
    let client = server.client_without_retries().unwrap();
    // ValidatePatchOptions: fieldManager is required for apply
    let apply = http::Request::patch("/api/v1/namespaces/labs/configmaps/c")
        .header("content-type", "application/apply-patch+yaml")
        .body(b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n".to_vec())
        .unwrap();
    let status = api_error(client.request::<Value>(apply).await);
    assert_eq!(status.code, 422);
    assert!(status.message.contains("fieldManager: Required value"), "{}", status.message);
    // The same YAML with a manager creates the object (201).
    let apply = http::Request::patch("/api/v1/namespaces/labs/configmaps/c?fieldManager=me")
        .header("content-type", "application/apply-patch+yaml")
        .body(b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {k: v}\n".to_vec())
        .unwrap();
    let created: ConfigMap = client.request(apply).await.unwrap();
    assert_eq!(created.data.unwrap()["k"], "v");
    // ValidateDryRun: only All
    let bad = http::Request::post("/api/v1/namespaces/labs/configmaps?dryRun=Some")
        .header("content-type", "application/json")
        .body(br#"{"metadata": {"name": "x"}}"#.to_vec())
        .unwrap();
    assert_eq!(api_error(client.request::<Value>(bad).await).code, 422);
}

#[tokio::test]
async fn kubelet_registers_a_node_and_events_are_served() {
    let config = FakeConfig { kubelet: Some(KubeletConfig::default()), ..FakeConfig::default() };
    let server = server_with(config).await;
    let client = server.client().unwrap();
    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(client.clone());
    let node = nodes.get("fake-node").await.unwrap();
    assert_eq!(node.status.unwrap().allocatable.unwrap()["cpu"].0, "8");
    // events.k8s.io/v1, what kube::runtime::events::Recorder writes
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(client, "labs");
    let event: k8s_openapi::api::events::v1::Event = typed(json!({"metadata": {"name": "e1"},
        "eventTime": "2026-01-01T00:00:00.000000Z", "reportingController": "autolabs", "reportingInstance": "x",
        "action": "Create", "reason": "Created", "type": "Normal"}));
    events.create(&PostParams::default(), &event).await.unwrap();
    assert_eq!(events.list(&ListParams::default()).await.unwrap().items.len(), 1);
    assert!(server.kubeconfig().contains(&server.url()));
}

#[test]
fn the_server_handle_can_move_between_tasks() {
    fn send_and_sync<T: Send + Sync>() {}
    send_and_sync::<FakeApiServer>();
    send_and_sync::<autolabs_fake::Faults>();
}

#[tokio::test]
async fn pod_specs_cannot_change_except_images() {
    let server = server().await;
    let pods: Api<Pod> = Api::namespaced(server.client().unwrap(), "labs");
    pods.create(&PostParams::default(), &pod("p", json!({}))).await.unwrap();
    // ValidatePodUpdate: the image may change…
    let image = json!({"spec": {"containers": [{"name": "main", "image": "busybox:1.37"}]}});
    pods.patch("p", &PatchParams::default(), &Patch::Merge(&image)).await.unwrap();
    // A strategic merge patch with a list would merge it by key on kube-apiserver; the fake
    // refuses it rather than replace the list.
    let strategic = json!({"spec": {"containers": [{"name": "main", "image": "busybox:1.38"}]}});
    let refused = api_error(pods.patch("p", &PatchParams::default(), &Patch::Strategic(&strategic)).await);
    assert_eq!(refused.code, 415, "{}", refused.message);
    assert!(refused.message.contains("a list at .spec.containers"), "{}", refused.message);
    // …a port may not.
    let port = json!({"spec": {"containers": [{"name": "main", "image": "busybox:1.37", "ports": [{"containerPort": 80}]}]}});
    let refused = api_error(pods.patch("p", &PatchParams::default(), &Patch::Merge(&port)).await);
    assert_eq!(refused.code, 422);
    assert!(
        refused.message.starts_with(
            "Pod \"p\" is invalid: spec: Forbidden: pod updates may not change fields other than"
        ),
        "{}",
        refused.message
    );
    // Metadata is free to change.
    pods.patch("p", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"annotations": {"a": "b"}}})))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_duplicate_create_stays_charged_until_the_quota_is_recounted() {
    let server = server().await;
    let client = server.client().unwrap();
    let quotas: Api<ResourceQuota> = Api::namespaced(client.clone(), "labs");
    quotas
        .create(
            &PostParams::default(),
            &typed(json!({"metadata": {"name": "q"}, "spec": {"hard": {"pods": "5"}}})),
        )
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client, "labs");
    pods.create(&PostParams::default(), &pod("web", json!({}))).await.unwrap();
    let duplicate = api_error(pods.create(&PostParams::default(), &pod("web", json!({}))).await);
    assert_eq!(duplicate.reason, "AlreadyExists");
    let used = |quota: ResourceQuota| quota.status.unwrap().used.unwrap()["pods"].0.clone();
    // As kube-apiserver: admission charged the refused duplicate too.
    assert_eq!(used(quotas.get("q").await.unwrap()), "2");
    server.recalculate_quotas();
    assert_eq!(used(quotas.get("q").await.unwrap()), "1");
}

#[tokio::test]
async fn server_side_apply_conflicts_between_managers_unless_forced() {
    let server = server().await;
    let config_maps: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "labs");
    let applied = |value: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"mode": value}});
    config_maps.patch("c", &PatchParams::apply("first"), &Patch::Apply(applied("a"))).await.unwrap();
    let conflict =
        api_error(config_maps.patch("c", &PatchParams::apply("second"), &Patch::Apply(applied("b"))).await);
    assert_eq!(conflict.code, 409);
    assert_eq!(conflict.message, "Apply failed with 1 conflict: conflict with \"first\": .data.mode");
    // The same value is shared, not a conflict; force takes the field over.
    config_maps.patch("c", &PatchParams::apply("second"), &Patch::Apply(applied("a"))).await.unwrap();
    let forced = config_maps
        .patch("c", &PatchParams::apply("second").force(), &Patch::Apply(applied("b")))
        .await
        .unwrap();
    assert_eq!(forced.data.unwrap()["mode"], "b");
    // `first` lost the field: its re-apply of the old value now conflicts with `second`.
    let back =
        api_error(config_maps.patch("c", &PatchParams::apply("first"), &Patch::Apply(applied("a"))).await);
    assert!(back.message.ends_with("conflict with \"second\": .data.mode"), "{}", back.message);
}
