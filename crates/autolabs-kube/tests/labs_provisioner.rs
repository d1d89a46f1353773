//! The lab provisioner against the fake API server, over real HTTP: idempotency, conflicts,
//! quota exhaustion, retries, rollback, the reaper (expiry, orphans, half-made labs, failed
//! Pods), restart in the middle of a create, and the RBAC rules it stays within.

mod labs_common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use autolabs_fake::{FakeConfig, FaultConfig, FaultRule, InjectedError, KubeletConfig, Verb};
use autolabs_kube::labs::{Backoff, LabsError, ListFilter};
use autolabs_model::lab::{LabContext, desired};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use labs_common::*;
use serde_json::json;

#[tokio::test]
async fn create_builds_the_whole_bundle_and_is_idempotent() {
    let env = env().await;
    let (lab, created) = env.provisioner.create(&request("alpha", "linux-basics")).await.unwrap();
    assert!(created);
    assert_eq!(
        (lab.id.as_str(), lab.template.as_str(), lab.phase.as_str()),
        ("alpha", "linux-basics", "Pending")
    );
    assert!(lab.url.starts_with("https://alpha.labs."), "{}", lab.url);
    assert_eq!(assert_complete_bundles(&env.server.snapshot()), vec!["alpha".to_string()]);

    // The same request again: 200 with the same lab, nothing new.
    let before = env.server.snapshot();
    let (again, created) = env.provisioner.create(&request("alpha", "linux-basics")).await.unwrap();
    assert!(!created);
    assert_eq!(again.created_at, lab.created_at);
    assert_eq!(lab_objects(&before), env.lab_objects());

    // The kubelet stand-in starts it: Running.
    wait_for(|| {
        env.server
            .snapshot()
            .get("pods", "labs", "lab-alpha")
            .and_then(|p| p.pointer("/status/phase").cloned())
            == Some(json!("Running"))
    })
    .await;
    assert_eq!(env.provisioner.get("alpha").await.unwrap().phase, "Running");
}

#[tokio::test]
async fn another_template_under_an_existing_id_is_a_conflict() {
    let env = env().await;
    env.provisioner.create(&request("beta", "linux-basics")).await.unwrap();
    let error = env.provisioner.create(&request("beta", "python-internet")).await.unwrap_err();
    assert_eq!((error.status(), error.code()), (409, "template_conflict"), "{error}");
    assert_eq!(assert_complete_bundles(&env.server.snapshot()), vec!["beta".to_string()]);
}

#[tokio::test]
async fn concurrent_creates_of_one_id_make_one_lab() {
    let env = env().await;
    let results = futures::future::join_all((0..12).map(|_| {
        let provisioner = env.provisioner.clone();
        async move { provisioner.create(&request("same", "linux-basics")).await }
    }))
    .await;
    let created = results.iter().filter(|r| matches!(r, Ok((_, true)))).count();
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(created, 1);
    assert_eq!(assert_complete_bundles(&env.server.snapshot()), vec!["same".to_string()]);
}

#[tokio::test]
async fn bad_requests_are_refused_before_any_api_call() {
    let env = env().await;
    let rows: Vec<(&str, &str, Option<u64>, u16, &str)> = vec![
        // k8s.io/apimachinery/pkg/util/validation IsDNS1123Label
        ("Bad_Id", "linux-basics", None, 400, "invalid_id"),
        ("ok", "no-such-template", None, 404, "unknown_template"),
        ("ok", "linux-basics", Some(0), 400, "ttl_zero"),
        ("ok", "linux-basics", Some(100 * 3600), 400, "ttl_too_long"),
    ];
    for (id, template, ttl, status, code) in rows {
        let mut req = request(id, template);
        req.ttl_seconds = ttl;
        let error = env.provisioner.create(&req).await.unwrap_err();
        assert_eq!((error.status(), error.code()), (status, code), "{id} {template}: {error}");
    }
    assert!(env.lab_objects().is_empty());
}

#[tokio::test]
async fn a_full_quota_answers_cluster_full_with_numbers_before_creating_anything() {
    let env = env().await;
    // The rendered labs quota holds 20 pods; linux-basics requests 100m CPU, so pods bind.
    let capacity = env.provisioner.capacity().unwrap();
    let room = capacity.templates.iter().find(|t| t.template == "linux-basics").unwrap();
    assert_eq!(room.fits, Some(20), "{capacity:?}");
    for i in 0..20 {
        env.provisioner.create(&request(&format!("lab{i}"), "linux-basics")).await.unwrap();
    }
    let provisioner = env.provisioner.clone();
    wait_for(move || provisioner.capacity().unwrap().templates.iter().all(|t| t.fits == Some(0))).await;
    let before = env.lab_objects();
    let error = env.provisioner.create(&request("one-more", "linux-basics")).await.unwrap_err();
    let LabsError::ClusterFull(full) = &error else { panic!("{error:?}") };
    // 20 labs use up pods (20), Services (20) and limits.cpu (20 × 500m = 10) at once:
    // the first exhausted line is reported, with its numbers.
    assert!(["pods", "services", "limits.cpu"].contains(&full.resource.as_str()), "{full:?}");
    assert_eq!(full.used, full.hard, "{full:?}");
    assert!(error.message(autolabs_model::lab::Lang::Ru).starts_with("Кластер перегружен"));
    assert_eq!(before, env.lab_objects(), "nothing was created");
    // An existing lab is still answered (idempotent retry) while the cluster is full.
    assert!(!env.provisioner.create(&request("lab3", "linux-basics")).await.unwrap().1);
    let metrics = env.provisioner.metrics().encode();
    assert!(metrics.contains("autolabs_preflight_rejections_total{reason=\"cluster_full\"} 1"), "{metrics}");
}

#[tokio::test]
async fn api_quota_rejections_map_to_cluster_full_and_leave_nothing() {
    let env = env().await;
    // 30 at once against 20 pods: the cache lags, so some pass preflight and are refused by
    // the API server's quota admission (403 exceeded quota) — reported the same way.
    let results = futures::future::join_all((0..30).map(|i| {
        let provisioner = env.provisioner.clone();
        async move { provisioner.create(&request(&format!("rush{i}"), "linux-basics")).await }
    }))
    .await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let full = results.iter().filter(|r| matches!(r, Err(LabsError::ClusterFull(_)))).count();
    assert_eq!((ok, full), (20, 10), "{results:?}");
    assert_eq!(assert_complete_bundles(&env.server.snapshot()).len(), 20);
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried() {
    let env = env().await;
    env.server.faults().set(
        FaultConfig::none()
            .with_rule(
                FaultRule::always(InjectedError::TooManyRequests { retry_after_seconds: 0 })
                    .verbs([Verb::Create])
                    .resource("pods")
                    .times(2),
            )
            .with_rule(
                FaultRule::always(InjectedError::ServiceUnavailable)
                    .verbs([Verb::Create])
                    .resource("ingresses")
                    .times(2),
            ),
    );
    env.provisioner.create(&request("retry", "linux-basics")).await.unwrap();
    assert_eq!(env.server.faults().injected(), 4);
    assert_eq!(assert_complete_bundles(&env.server.snapshot()), vec!["retry".to_string()]);
    let metrics = env.provisioner.metrics().encode();
    assert!(metrics.contains("autolabs_kube_api_errors_total{code=\"429\"} 2"), "{metrics}");
}

#[tokio::test]
async fn a_failure_midway_rolls_back() {
    let env = env().await;
    env.server.faults().set(FaultConfig::none().with_rule(
        FaultRule::always(InjectedError::InternalError).verbs([Verb::Create]).resource("ingresses"),
    ));
    let error = env.provisioner.create(&request("gamma", "linux-basics")).await.unwrap_err();
    assert_eq!(error.code(), "kubernetes_error", "{error}");
    assert!(env.lab_objects().is_empty(), "{:?}", env.lab_objects());
    env.server.faults().clear();
    env.provisioner.create(&request("gamma", "linux-basics")).await.unwrap();
    assert_eq!(assert_complete_bundles(&env.server.snapshot()), vec!["gamma".to_string()]);
}

/// What a provisioner that died right after creating the Pod leaves behind.
async fn half_made(env: &Env, id: &str) {
    let platform = autolabs_model::Platform::default();
    let templates = templates(&platform);
    let template = templates.get("linux-basics").unwrap();
    let bundle =
        desired(template, &request(id, "linux-basics"), &LabContext::new(&platform, env.now())).unwrap();
    let pods: Api<Pod> = Api::namespaced(env.server.client().unwrap(), "labs");
    pods.create(&PostParams::default(), &bundle.pod).await.unwrap();
}

#[tokio::test]
async fn restart_mid_create_is_completed_by_a_retry_or_removed_by_the_reaper() {
    let env = env().await;
    half_made(&env, "resumed").await;
    half_made(&env, "abandoned").await;
    // The backend retries one: the create completes the bundle.
    let (_, created) = env.provisioner.create(&request("resumed", "linux-basics")).await.unwrap();
    assert!(!created);
    // Within the grace period the other is left alone (a create may still be running)…
    assert_eq!(env.provisioner.reap_once().await.unwrap().incomplete, 0);
    // …after it, the reaper deletes it.
    env.advance(61);
    let summary = env.provisioner.reap_once().await.unwrap();
    assert_eq!(summary.incomplete, 1, "{summary:?}");
    assert_eq!(assert_complete_bundles(&env.server.snapshot()), vec!["resumed".to_string()]);
}

#[tokio::test]
async fn a_caller_that_goes_away_midway_does_not_cut_the_create() {
    let env = env_with(
        FakeConfig { kubelet: Some(KubeletConfig::default()), ..FakeConfig::default() },
        fast_backoff(),
    )
    .await;
    // Slow API: the caller is aborted after the Pod exists and before the bundle is complete
    // (an HTTP client that hangs up). The create runs in a task of its own and finishes; a
    // process that dies midway is `restart_mid_create_…` above.
    env.server.faults().set(FaultConfig { latency: Duration::from_millis(30), ..FaultConfig::none() });
    let provisioner = env.provisioner.clone();
    let task = tokio::spawn(async move { provisioner.create(&request("cut", "linux-basics")).await });
    wait_for(|| env.server.snapshot().get("pods", "labs", "lab-cut").is_some()).await;
    task.abort();
    let _ = task.await;
    wait_for(|| env.server.snapshot().get("ingresses", "labs", "lab-cut").is_some()).await;
    env.server.faults().clear();
    assert_eq!(assert_complete_bundles(&env.server.snapshot()), vec!["cut".to_string()]);
    env.advance(61);
    let summary = env.provisioner.reap_once().await.unwrap();
    assert_eq!(summary, Default::default(), "a complete lab is left alone");
}

#[tokio::test]
async fn the_reaper_deletes_expired_labs_and_orphans_and_marks_failures() {
    let env = env().await;
    env.provisioner.create(&request("old", "linux-basics")).await.unwrap();
    env.advance(600);
    env.provisioner.create(&request("young", "linux-basics")).await.unwrap();
    env.provisioner.create(&request("broken", "linux-basics")).await.unwrap();
    // An orphan: a lab Service whose Pod never existed.
    env.server
        .apply_object(json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "lab-ghost", "namespace": "labs",
                "labels": {"app.kubernetes.io/managed-by": "autolabs", "autolabs.io/lab-id": "ghost"},
                "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": "lab-ghost", "uid": "gone"}]},
            "spec": {"ports": [{"port": 8080}]}
        }))
        .unwrap();
    wait_for(|| {
        env.server
            .snapshot()
            .get("pods", "labs", "lab-broken")
            .and_then(|p| p.pointer("/status/phase").cloned())
            == Some(json!("Running"))
    })
    .await;
    env.server.set_pod_phase("labs", "lab-broken", "Failed").unwrap();

    // linux-basics lives 2 h: "old" expires, "young" does not yet.
    env.advance(2 * 3600 - 300);
    let summary = env.provisioner.reap_once().await.unwrap();
    assert_eq!((summary.expired, summary.orphans, summary.marked_failed), (1, 1, 1), "{summary:?}");
    assert_eq!(
        assert_complete_bundles(&env.server.snapshot()),
        vec!["broken".to_string(), "young".to_string()]
    );
    assert_eq!(env.provisioner.get("broken").await.unwrap().phase, "Failed");
    assert_eq!(env.provisioner.get("old").await.unwrap_err().code(), "not_found");
    // A second pass (or a second replica) has nothing left to do.
    assert_eq!(env.provisioner.reap_once().await.unwrap(), Default::default());
    let metrics = env.provisioner.metrics().encode();
    assert!(
        metrics.contains("autolabs_reaper_deletions_total{reason=\"expired\",kind=\"Pod\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn extend_delete_list() {
    let env = env().await;
    for (id, template) in [("a1", "linux-basics"), ("a2", "python-internet"), ("a3", "linux-basics")] {
        env.provisioner.create(&request(id, template)).await.unwrap();
    }
    // linux-basics: default 2 h, max 4 h.
    let lab = env.provisioner.extend("a1", 3600).await.unwrap();
    assert_eq!(lab.expires_at, autolabs_model::lab::format_rfc3339(T0 + 3 * 3600).unwrap());
    let error = env.provisioner.extend("a1", 2 * 3600).await.unwrap_err();
    assert_eq!((error.status(), error.code()), (409, "extend_beyond_max"));
    assert_eq!(env.provisioner.extend("zz", 60).await.unwrap_err().code(), "not_found");

    let all = env.provisioner.list(&ListFilter::default()).await.unwrap();
    assert_eq!(all.items.iter().map(|l| l.id.as_str()).collect::<Vec<_>>(), ["a1", "a2", "a3"]);
    let page = env.provisioner.list(&ListFilter { limit: Some(2), ..Default::default() }).await.unwrap();
    assert_eq!((page.items.len(), page.continue_token.as_deref()), (2, Some("a2")));
    let rest = env
        .provisioner
        .list(&ListFilter { limit: Some(2), continue_after: page.continue_token, ..Default::default() })
        .await
        .unwrap();
    assert_eq!((rest.items.len(), rest.continue_token), (1, None));
    let python = env
        .provisioner
        .list(&ListFilter { template: Some("python-internet".into()), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(python.items.len(), 1);
    let running = env
        .provisioner
        .list(&ListFilter { phase: Some("Failed".into()), ..Default::default() })
        .await
        .unwrap();
    assert!(running.items.is_empty());

    env.provisioner.delete("a2").await.unwrap();
    assert_eq!(env.provisioner.delete("a2").await.unwrap_err().code(), "not_found");
    assert_eq!(assert_complete_bundles(&env.server.snapshot()), vec!["a1".to_string(), "a3".to_string()]);
}

/// Records `(verb, resource)` of every request the provisioner sends.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<BTreeSet<(String, String)>>>);

impl Recorder {
    fn record(&self, request: &http::Request<kube::client::Body>) {
        let path = request.uri().path();
        let query = request.uri().query().unwrap_or("");
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        // /api/v1/namespaces/labs/<resource>[/<name>] or /apis/<group>/<version>/namespaces/labs/…
        let rest: Vec<&str> = match parts.iter().position(|p| *p == "namespaces") {
            Some(i) if parts.len() > i + 2 => parts[i + 2..].to_vec(),
            _ => return, // /version and discovery: non-resource URLs every client may read
        };
        let named = rest.len() > 1;
        let verb = match (request.method().as_str(), named) {
            ("GET", true) => "get",
            ("GET", false) if query.contains("watch=true") => "watch",
            ("GET", false) => "list",
            ("POST", _) => "create",
            ("PATCH", _) => "patch",
            ("PUT", _) => "update",
            ("DELETE", true) => "delete",
            ("DELETE", false) => "deletecollection",
            (other, _) => other,
        };
        self.0.lock().unwrap().insert((verb.to_string(), rest[0].to_string()));
    }
}

#[tokio::test]
async fn the_provisioner_uses_only_its_rbac_rules() {
    let server = autolabs_fake::FakeApiServer::start(FakeConfig {
        kubelet: Some(KubeletConfig::default()),
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let platform = autolabs_model::Platform::default();
    seed_labs_namespace(&server, &platform);
    let recorder = Recorder::default();
    let layer_recorder = recorder.clone();
    let mut config = server.client_config().unwrap();
    config.default_retry = false;
    let client = kube::client::ClientBuilder::try_from(config)
        .unwrap()
        .with_layer(&tower::util::MapRequestLayer::new(move |request: http::Request<kube::client::Body>| {
            layer_recorder.record(&request);
            request
        }))
        .build();
    let clock = Arc::new(std::sync::atomic::AtomicU64::new(T0));
    let (provisioner, clock) = provisioner_for(client, &platform, Backoff::default(), clock);
    assert!(provisioner.wait_synced(Duration::from_secs(5)).await);
    provisioner.create(&request("r1", "linux-basics")).await.unwrap();
    provisioner.create(&request("r1", "linux-basics")).await.unwrap();
    provisioner.create(&request("r2", "web-dev")).await.unwrap();
    provisioner.get("r1").await.unwrap();
    provisioner.list(&ListFilter::default()).await.unwrap();
    provisioner.extend("r1", 60).await.unwrap();
    provisioner.delete("r2").await.unwrap();
    clock.fetch_add(3 * 3600, std::sync::atomic::Ordering::SeqCst);
    provisioner.reap_once().await.unwrap();
    let stop = tokio::time::sleep(Duration::from_millis(300));
    provisioner.run_reaper(Duration::from_millis(50), stop).await;

    let allowed: BTreeSet<(String, String)> = autolabs_model::render::PROVISIONER_RULES
        .iter()
        .flat_map(|(_, resource, verbs)| verbs.iter().map(move |v| (v.to_string(), resource.to_string())))
        .collect();
    let used = recorder.0.lock().unwrap().clone();
    let outside: Vec<_> = used.difference(&allowed).collect();
    assert!(outside.is_empty(), "requests outside PROVISIONER_RULES: {outside:?}");
    for needed in
        [("create", "pods"), ("watch", "resourcequotas"), ("watch", "limitranges"), ("delete", "ingresses")]
    {
        assert!(
            used.contains(&(needed.0.to_string(), needed.1.to_string())),
            "{needed:?} not seen in {used:?}"
        );
    }
}

/// Counts the Pod creates (`POST …/pods`) a client sends.
#[derive(Clone, Default)]
struct PodPosts(Arc<std::sync::atomic::AtomicUsize>);

impl PodPosts {
    fn count(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[tokio::test]
async fn duplicate_concurrent_creates_of_one_id_send_one_pod_create() {
    let server = autolabs_fake::FakeApiServer::start(FakeConfig {
        kubelet: Some(KubeletConfig::default()),
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let platform = autolabs_model::Platform::default();
    seed_labs_namespace(&server, &platform);
    let posts = PodPosts::default();
    let counter = posts.clone();
    let mut config = server.client_config().unwrap();
    config.default_retry = false;
    let client = kube::client::ClientBuilder::try_from(config)
        .unwrap()
        .with_layer(&tower::util::MapRequestLayer::new(move |request: http::Request<kube::client::Body>| {
            if request.method() == http::Method::POST && request.uri().path().ends_with("/pods") {
                counter.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            request
        }))
        .build();
    let clock = Arc::new(std::sync::atomic::AtomicU64::new(T0));
    let (provisioner, _) = provisioner_for(client, &platform, fast_backoff(), clock);
    assert!(provisioner.wait_synced(Duration::from_secs(5)).await);

    let results = futures::future::join_all((0..20).map(|_| {
        let provisioner = provisioner.clone();
        async move { provisioner.create(&request("dup", "linux-basics")).await }
    }))
    .await;
    let created = results.iter().filter(|r| matches!(r, Ok((_, true)))).count();
    let existing = results.iter().filter(|r| matches!(r, Ok((_, false)))).count();
    assert_eq!((created, existing), (1, 19), "{results:?}");
    assert_eq!(posts.count(), 1, "the duplicates joined the one create under way");
    // A retry after it finished answers from the cache: still one Pod create.
    let (_, again) = provisioner.create(&request("dup", "linux-basics")).await.unwrap();
    assert!(!again);
    assert_eq!(posts.count(), 1, "a known lab is answered without a Pod create");
    assert!(!provisioner.metrics().encode().contains("code=\"409\""), "{}", provisioner.metrics().encode());
    assert_eq!(assert_complete_bundles(&server.snapshot()), vec!["dup".to_string()]);
    // The fake's quota charged one Pod.
    let quota = server.snapshot();
    let used = quota.of("resourcequotas").iter().find_map(|q| q.pointer("/status/used/pods").cloned());
    assert_eq!(used, Some(json!("1")));
}

#[tokio::test]
async fn a_child_deleted_by_hand_reads_degraded_and_the_reaper_recreates_it() {
    let env = env().await;
    env.provisioner.create(&request("hand", "linux-basics")).await.unwrap();
    env.advance(20);
    assert_ne!(env.provisioner.get("hand").await.unwrap().phase, "Degraded");
    let ingresses: Api<k8s_openapi::api::networking::v1::Ingress> =
        Api::namespaced(env.server.client().unwrap(), "labs");
    ingresses.delete("lab-hand", &Default::default()).await.unwrap();
    // The child cache sees the deletion: the lab reads Degraded, naming what it lacks.
    let mut lab = env.provisioner.get("hand").await.unwrap();
    for _ in 0..400 {
        if lab.phase == "Degraded" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        lab = env.provisioner.get("hand").await.unwrap();
    }
    assert_eq!((lab.phase.as_str(), lab.missing.clone()), ("Degraded", vec!["Ingress".to_string()]));
    let degraded = ListFilter { phase: Some("Degraded".into()), ..Default::default() };
    assert_eq!(env.provisioner.list(&degraded).await.unwrap().items.len(), 1);
    // Past the grace the reaper recreates the Ingress; the lab is not deleted as incomplete.
    env.advance(61);
    let summary = env.provisioner.reap_once().await.unwrap();
    assert_eq!((summary.repaired, summary.incomplete, summary.errors), (1, 0, 0), "{summary:?}");
    assert_eq!(assert_complete_bundles(&env.server.snapshot()), vec!["hand".to_string()]);
    // The child cache sees the new Ingress: whole again.
    let mut healed = false;
    for _ in 0..400 {
        if env.provisioner.get("hand").await.unwrap().phase != "Degraded" {
            healed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(healed, "the lab still reads Degraded");
    assert!(env.provisioner.metrics().encode().contains("autolabs_reaper_repairs_total{kind=\"Ingress\"} 1"));
    assert_eq!(env.provisioner.reap_once().await.unwrap(), Default::default(), "whole again");
}
