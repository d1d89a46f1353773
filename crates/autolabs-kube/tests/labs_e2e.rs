//! The lab provisioner against the REAL Kubernetes API server (the control plane `.ci/run`
//! starts; see `autolabs-testenv`): without one each test prints NOT RUN and passes, under
//! `CI=true` it fails.
//!
//! Each test works in a namespace of its own, made like the rendered `labs` namespace by
//! `autolabs_kube::labs::bootstrap` (the one seeding the serve replicas test and `bench labs
//! --kubeconfig` use too): its Pod Security labels, ResourceQuota and LimitRange are copied
//! from `autolabs_model::render(&Platform::default())`, and the cluster-scoped PriorityClasses
//! are created when absent (never changed: `autolabs apply` of the baseline owns them). The provisioner runs
//! with the token of a ServiceAccount of that namespace whose Role holds exactly
//! `autolabs_model::render::PROVISIONER_RULES`, never the admin's: any call outside them is a
//! 403 and fails the test. The test itself acts as admin only to look and to play the
//! kubelet or a careless operator (set a Pod's status, delete an object by hand).

use autolabs_testenv::eventually;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use autolabs_kube::labs::bootstrap::{self, SeedOptions};
use autolabs_kube::labs::{Backoff, LabsError, Metrics, Provisioner, ProvisionerConfig};
use autolabs_model::Platform;
use autolabs_model::lab::LabRequest;
use autolabs_testenv::{Cluster, TestNamespace};
use k8s_openapi::api::core::v1::{Pod, ResourceQuota, Service};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::rbac::v1::Role;
use kube::Api;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};

/// The ServiceAccount the provisioner runs as, in the test's namespace.
const PROVISIONER_SA: &str = bootstrap::PROVISIONER_ACCOUNT;

/// One test's world: its namespace, an admin client to look with, the provisioner running
/// with its ServiceAccount's token, and the provisioner's clock.
struct World {
    cluster: Cluster,
    ns: TestNamespace,
    admin: kube::Client,
    provisioner: Provisioner,
    clock: Arc<AtomicU64>,
    backoff: Backoff,
}

fn now_unix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs()
}

impl World {
    /// `None` (after the NOT RUN note) without a control plane.
    async fn new(test: &str) -> Option<World> {
        let cluster = autolabs_testenv::shared(test).await?;
        Some(World::on(cluster, Backoff::default()).await)
    }

    /// A world on `cluster`, the provisioner retrying with `backoff`.
    async fn on(cluster: Cluster, backoff: Backoff) -> World {
        let admin = cluster.client();
        let platform = Platform::default();
        let labels = bootstrap::labs_namespace_labels(&platform);
        let label_refs: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let ns = cluster.namespace("labs-e2e", &label_refs).await;
        bootstrap::seed(&admin, ns.name(), &platform, &SeedOptions::default())
            .await
            .unwrap_or_else(|e| panic!("seed the labs namespace: {e}"));
        let rules_in_role = Api::<Role>::namespaced(admin.clone(), ns.name())
            .get(PROVISIONER_SA)
            .await
            .expect("the provisioner Role")
            .rules
            .map_or(0, |r| r.len());
        assert_eq!(rules_in_role, autolabs_model::render::PROVISIONER_RULES.len(), "render's Role");
        let clock = Arc::new(AtomicU64::new(now_unix()));
        let provisioner = replica(&cluster, ns.name(), backoff, &clock).await;
        World { cluster, ns, admin, provisioner, clock, backoff }
    }

    /// Another provisioner on the same namespace and clock, with clients, caches and metrics
    /// of its own: a replica of `autolabs serve`.
    async fn replica(&self) -> Provisioner {
        replica(&self.cluster, self.name(), self.backoff, &self.clock).await
    }

    /// Every lab Pod has its Service, NetworkPolicy and Ingress owned by its uid, and every
    /// such object has its Pod: no half-made lab, no orphan. Returns the lab Pods' names.
    async fn assert_whole_labs(&self) -> Vec<String> {
        let params = ListParams::default().labels("app.kubernetes.io/managed-by=autolabs");
        let pods = self.api::<Pod>().list(&params).await.expect("pods").items;
        let uids: BTreeMap<String, String> = pods
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .map(|p| {
                (p.metadata.name.clone().unwrap_or_default(), p.metadata.uid.clone().unwrap_or_default())
            })
            .collect();
        let mut children: Vec<(&str, kube::api::ObjectMeta)> = Vec::new();
        children.extend(
            self.api::<Service>()
                .list(&params)
                .await
                .expect("services")
                .items
                .into_iter()
                .map(|o| ("Service", o.metadata)),
        );
        children.extend(
            self.api::<NetworkPolicy>()
                .list(&params)
                .await
                .expect("policies")
                .items
                .into_iter()
                .map(|o| ("NetworkPolicy", o.metadata)),
        );
        children.extend(
            self.api::<Ingress>()
                .list(&params)
                .await
                .expect("ingresses")
                .items
                .into_iter()
                .map(|o| ("Ingress", o.metadata)),
        );
        for (name, uid) in &uids {
            for kind in ["Service", "NetworkPolicy", "Ingress"] {
                let owned = children.iter().any(|(k, m)| {
                    *k == kind
                        && m.name.as_deref() == Some(name.as_str())
                        && m.owner_references.iter().flatten().any(|o| &o.uid == uid)
                });
                assert!(owned, "half-made lab: {name} lacks its {kind}");
            }
        }
        for (kind, meta) in &children {
            let name = meta.name.clone().unwrap_or_default();
            let alive = uids
                .get(&name)
                .is_some_and(|uid| meta.owner_references.iter().flatten().any(|o| &o.uid == uid));
            assert!(alive || meta.deletion_timestamp.is_some(), "orphan {kind} {name}");
        }
        uids.into_keys().collect()
    }

    fn name(&self) -> &str {
        self.ns.name()
    }

    fn advance(&self, seconds: u64) {
        self.clock.fetch_add(seconds, Ordering::SeqCst);
    }

    fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.admin.clone(), self.name())
    }

    /// The labs quota as the API server has it now.
    async fn quota(&self) -> ResourceQuota {
        let quotas = self.api::<ResourceQuota>().list(&ListParams::default()).await.expect("list quotas");
        quotas.items.into_iter().next().expect("the labs quota")
    }

    async fn quota_used(&self, resource: &str) -> Option<String> {
        let quota = self.quota().await;
        quota.status?.used?.get(resource).map(|q| q.0.clone())
    }

    /// Names of the lab objects of each kind that exist now.
    async fn objects(&self) -> BTreeMap<&'static str, Vec<String>> {
        let params = ListParams::default().labels("app.kubernetes.io/managed-by=autolabs");
        let names = |items: Vec<kube::api::ObjectMeta>| -> Vec<String> {
            let mut names: Vec<String> = items.into_iter().filter_map(|m| m.name).collect();
            names.sort();
            names
        };
        let pods = self.api::<Pod>().list(&params).await.expect("pods").items;
        let services = self.api::<Service>().list(&params).await.expect("services").items;
        let policies = self.api::<NetworkPolicy>().list(&params).await.expect("policies").items;
        let ingresses = self.api::<Ingress>().list(&params).await.expect("ingresses").items;
        BTreeMap::from([
            ("pods", names(pods.into_iter().map(|o| o.metadata).collect())),
            ("services", names(services.into_iter().map(|o| o.metadata).collect())),
            ("networkpolicies", names(policies.into_iter().map(|o| o.metadata).collect())),
            ("ingresses", names(ingresses.into_iter().map(|o| o.metadata).collect())),
        ])
    }
}

/// A provisioner in `namespace` acting as its ServiceAccount (never the admin).
async fn replica(
    cluster: &Cluster,
    namespace: &str,
    backoff: Backoff,
    clock: &Arc<AtomicU64>,
) -> Provisioner {
    let token = cluster.service_account_token(namespace, PROVISIONER_SA).await;
    let client = kube::Client::try_from(cluster.config_with_token(&token)).expect("token client");
    let platform = Platform::default();
    let mut config = ProvisionerConfig::new(platform.clone(), templates(&platform));
    config.namespace = namespace.to_string();
    config.incomplete_grace = Duration::from_secs(30);
    config.backoff = backoff;
    let read = Arc::clone(clock);
    config.clock = Arc::new(move || read.load(Ordering::SeqCst));
    let provisioner = Provisioner::new(client, config, Metrics::new()).expect("templates pass the checks");
    assert!(provisioner.wait_synced(Duration::from_secs(30)).await, "quota/LimitRange/Pod caches sync");
    provisioner
}

fn templates(platform: &Platform) -> autolabs_model::lab::Templates {
    autolabs_model::lab::shipped_templates(platform).expect("shipped templates load")
}

fn request(id: &str, ttl: Option<u64>) -> LabRequest {
    LabRequest { id: id.into(), template: "linux-basics".into(), ttl_seconds: ttl }
}

fn lab_names(id: &str) -> Vec<String> {
    vec![format!("lab-{id}")]
}

#[tokio::test]
async fn labs_are_admitted_by_real_pod_security_limit_ranger_and_quota() {
    let Some(world) = World::new("labs_e2e admission").await else { return };
    let p = &world.provisioner;
    let (lab, created) = p.create(&request("basic", None)).await.expect("admitted");
    assert!(created);
    assert_eq!(lab.phase, "Pending", "no kubelet here: {lab:?}");
    let (again, created) = p.create(&request("basic", None)).await.expect("idempotent");
    assert!(!created);
    assert_eq!(again.created_at, lab.created_at);
    let objects = world.objects().await;
    for kind in ["pods", "services", "networkpolicies", "ingresses"] {
        assert_eq!(objects[kind], lab_names("basic"), "{kind}");
    }

    // The real LimitRanger and quota admission did their part: the stored Pod carries the
    // requests/limits the namespace demands, and the quota charged it.
    let pod = world.api::<Pod>().get("lab-basic").await.expect("the lab pod");
    for container in pod.spec.as_ref().expect("spec").containers.iter() {
        let resources = container.resources.as_ref().expect("resources");
        for key in ["cpu", "memory"] {
            assert!(resources.requests.as_ref().is_some_and(|r| r.contains_key(key)), "requests.{key}");
            assert!(resources.limits.as_ref().is_some_and(|r| r.contains_key(key)), "limits.{key}");
        }
    }
    assert_eq!(world.quota_used("pods").await.as_deref(), Some("1"));

    // The namespace really enforces Pod Security `restricted`: a privileged Pod is refused.
    let privileged: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "not-a-lab"},
        "spec": {"containers": [{"name": "c", "image": "busybox:1",
            "securityContext": {"privileged": true},
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "100m", "memory": "128Mi"}}}]}
    }))
    .expect("a pod");
    let refused = world.api::<Pod>().create(&PostParams::default(), &privileged).await.unwrap_err();
    assert!(
        matches!(&refused, kube::Error::Api(s) if s.code == 403 && s.message.contains("violates PodSecurity")),
        "{refused}"
    );

    p.extend("basic", 600).await.expect("extended");
    p.delete("basic").await.expect("deleted");
    assert!(matches!(p.get("basic").await, Err(LabsError::NotFound { .. })));
    let objects = world.objects().await;
    assert!(objects.values().all(Vec::is_empty), "{objects:?}");
}

#[tokio::test]
async fn the_real_garbage_collector_deletes_a_labs_objects_with_its_pod() {
    let Some(world) = World::new("labs_e2e garbage collection").await else { return };
    world.provisioner.create(&request("gc", None)).await.expect("admitted");
    // The Pod goes by hand (as `kubectl delete pod` would): its children are owned by it.
    world.api::<Pod>().delete("lab-gc", &DeleteParams::background()).await.expect("delete pod");
    eventually("the garbage collector deletes the Service, NetworkPolicy and Ingress", || async {
        world.objects().await.values().all(Vec::is_empty)
    })
    .await;
    assert!(matches!(world.provisioner.get("gc").await, Err(LabsError::NotFound { .. })));
}

#[tokio::test]
async fn an_exhausted_quota_is_cluster_full_with_the_real_servers_numbers() {
    let Some(world) = World::new("labs_e2e quota").await else { return };
    let p = &world.provisioner;
    let fits = p
        .capacity()
        .expect("capacity")
        .templates
        .into_iter()
        .find(|t| t.template == "linux-basics")
        .and_then(|t| t.fits)
        .expect("the labs quota bounds linux-basics");
    assert!(fits > 0 && fits < 100, "fits {fits}");
    let mut made = 0;
    let full = loop {
        match p.create(&request(&format!("q{made}"), None)).await {
            Ok(_) => made += 1,
            Err(LabsError::ClusterFull(numbers)) => break numbers,
            Err(e) => panic!("unexpected {e}"),
        }
        assert!(made <= fits, "more labs than the capacity said fit");
    };
    assert_eq!(made, fits, "capacity said {fits} fit");
    assert_eq!(full.used, full.hard, "{full:?}");
    // The numbers are the real quota's.
    let quota = world.quota().await;
    assert_eq!(quota.metadata.name.as_deref(), Some(full.quota.as_str()));
    let status = quota.status.expect("quota status");
    let server = |map: &Option<BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>| {
        map.as_ref().and_then(|m| m.get(&full.resource)).map(|q| q.0.clone())
    };
    let (used, hard) = (server(&status.used), server(&status.hard));
    let same = |ours: &str, theirs: Option<String>| {
        let theirs = theirs.expect("the server tracks the binding resource");
        autolabs_k8s::Quantity::parse(ours).ok() == autolabs_k8s::Quantity::parse(&theirs).ok()
    };
    assert!(
        same(&full.used, used.clone()) && same(&full.hard, hard.clone()),
        "{full:?} vs {used:?}/{hard:?}"
    );
    // Only whole labs were made: every Pod has its three objects.
    let objects = world.objects().await;
    assert_eq!(objects["pods"].len() as u64, fits);
    for kind in ["services", "networkpolicies", "ingresses"] {
        assert_eq!(objects[kind], objects["pods"], "{kind}");
    }
}

#[tokio::test]
async fn the_reaper_expires_labs_at_their_ttl() {
    let Some(world) = World::new("labs_e2e ttl").await else { return };
    let p = &world.provisioner;
    p.create(&request("short", Some(60))).await.expect("admitted");
    p.create(&request("long", None)).await.expect("admitted");
    assert_eq!(p.reap_once().await.expect("pass").expired, 0, "nothing expired yet");
    world.advance(61);
    let summary = p.reap_once().await.expect("reaper pass");
    assert_eq!((summary.expired, summary.errors), (1, 0), "{summary:?}");
    // A Pod that no node runs is deleted at once (no graceful termination without a kubelet).
    assert!(matches!(p.get("short").await, Err(LabsError::NotFound { .. })));
    let objects = world.objects().await;
    for kind in ["pods", "services", "networkpolicies", "ingresses"] {
        assert_eq!(objects[kind], lab_names("long"), "{kind}");
    }
}

#[tokio::test]
async fn a_pod_the_kubelet_marks_failed_is_reported_and_reaped() {
    let Some(world) = World::new("labs_e2e failed pod").await else { return };
    let p = &world.provisioner;
    p.create(&request("broken", Some(600))).await.expect("admitted");
    // Play the kubelet: the Pod failed (status subresource, as admin).
    let status = serde_json::json!({"status": {"phase": "Failed", "reason": "Evicted", "message": "test"}});
    world
        .api::<Pod>()
        .patch_status("lab-broken", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("status patched");
    let lab = p.get("broken").await.expect("readable");
    assert_eq!(lab.phase, "Failed", "{lab:?}");
    let summary = p.reap_once().await.expect("reaper pass");
    assert_eq!((summary.marked_failed, summary.errors), (1, 0), "{summary:?}");
    let lab = p.get("broken").await.expect("still there until it expires");
    assert_eq!((lab.phase.as_str(), lab.failure.as_deref()), ("Failed", Some("pod Failed: Evicted")));
    assert_eq!(p.reap_once().await.expect("pass").marked_failed, 0, "marked once");
    // A failed Pod is not charged to the quota (pods.go QuotaV1Pod skips terminal Pods).
    eventually("the quota controller stops charging the failed Pod", || async {
        world.quota_used("pods").await.as_deref() == Some("0")
    })
    .await;
    world.advance(601);
    let summary = p.reap_once().await.expect("reaper pass");
    assert_eq!((summary.expired, summary.errors), (1, 0), "{summary:?}");
    let objects = world.objects().await;
    assert!(objects.values().all(Vec::is_empty), "{objects:?}");
}

#[tokio::test]
async fn twenty_concurrent_creates_of_one_id_make_one_lab_and_one_quota_charge() {
    let Some(world) = World::new("labs_e2e single flight").await else { return };
    let p = &world.provisioner;
    let before = api_errors(p, 409);
    let results = futures::future::join_all((0..20).map(|_| {
        let provisioner = p.clone();
        async move { provisioner.create(&request("same", None)).await }
    }))
    .await;
    let created = results.iter().filter(|r| matches!(r, Ok((_, true)))).count();
    let existing = results.iter().filter(|r| matches!(r, Ok((_, false)))).count();
    assert_eq!((created, existing), (1, 19), "{results:?}");
    let objects = world.objects().await;
    for kind in ["pods", "services", "networkpolicies", "ingresses"] {
        assert_eq!(objects[kind], lab_names("same"), "{kind}");
    }
    // Duplicates never reached the API server, so none was charged and refused as AlreadyExists.
    assert_eq!(api_errors(p, 409) - before, 0, "{}", p.metrics().encode());
    // What the quota charged right at admission, and after its controller recalculated.
    assert_eq!(world.quota_used("pods").await.as_deref(), Some("1"));
    // A new lab makes the quota controller recount; the duplicates left nothing to correct.
    p.create(&request("other", None)).await.expect("admitted");
    eventually("the quota controller counts two pods", || async {
        world.quota_used("pods").await.as_deref() == Some("2")
    })
    .await;
    let capacity = p.capacity().expect("capacity");
    let room = capacity.templates.iter().find(|t| t.template == "linux-basics").and_then(|t| t.fits);
    assert!(room.is_some_and(|r| r > 0), "{capacity:?}");
}

#[tokio::test]
async fn children_deleted_by_hand_are_repaired_and_a_bare_pod_is_deleted_as_incomplete() {
    let Some(world) = World::new("labs_e2e repair").await else { return };
    let p = &world.provisioner;
    p.create(&request("fixme", None)).await.expect("admitted");
    world.advance(15);
    // A careless operator deletes the Service and the NetworkPolicy.
    world.api::<Service>().delete("lab-fixme", &DeleteParams::default()).await.expect("delete service");
    world.api::<NetworkPolicy>().delete("lab-fixme", &DeleteParams::default()).await.expect("delete policy");
    eventually("the lab reads Degraded", || async {
        p.get("fixme").await.is_ok_and(|l| l.phase == "Degraded" && l.missing.len() == 2)
    })
    .await;
    // A create that never got past its Pod: the Pod alone, as a crashed provisioner leaves it.
    let platform = Platform::default();
    let templates = templates(&platform);
    let bare_request = request("bare", None);
    let mut bundle = autolabs_model::lab::desired(
        templates.get("linux-basics").expect("template"),
        &bare_request,
        &autolabs_model::lab::LabContext::new(&platform, world.clock.load(Ordering::SeqCst)),
    )
    .expect("bundle");
    bundle.pod.metadata.namespace = Some(world.name().to_string());
    world.api::<Pod>().create(&PostParams::default(), &bundle.pod).await.expect("bare pod");

    // Within the grace: nothing.
    let summary = p.reap_once().await.expect("pass");
    assert_eq!((summary.repaired, summary.incomplete), (0, 0), "{summary:?}");
    world.advance(31);
    let summary = p.reap_once().await.expect("pass");
    assert_eq!((summary.repaired, summary.incomplete, summary.errors), (1, 1, 0), "{summary:?}");
    let objects = world.objects().await;
    for kind in ["pods", "services", "networkpolicies", "ingresses"] {
        assert_eq!(objects[kind], lab_names("fixme"), "{kind}");
    }
    let pod_uid = world.api::<Pod>().get("lab-fixme").await.expect("pod").metadata.uid;
    let service = world.api::<Service>().get("lab-fixme").await.expect("service");
    assert_eq!(service.metadata.owner_references.expect("owned")[0].uid, pod_uid.expect("uid"));
    eventually("the lab reads whole again", || async {
        p.get("fixme").await.is_ok_and(|l| l.phase == "Pending")
    })
    .await;
}

/// `autolabs_kube_api_errors_total{code}` of a provisioner.
fn api_errors(provisioner: &Provisioner, code: u16) -> u64 {
    let prefix = format!("autolabs_kube_api_errors_total{{code=\"{code}\"}} ");
    let text = provisioner.metrics().encode();
    text.lines().find_map(|l| l.strip_prefix(prefix.as_str())?.parse().ok()).unwrap_or(0)
}

#[tokio::test]
async fn a_stale_quota_charge_is_reported_and_does_not_stop_the_preflight() {
    let Some(world) = World::new("labs_e2e stale quota").await else { return };
    let p = &world.provisioner;
    p.create(&request("real", None)).await.expect("admitted");
    // Charge the quota for Pods that never come to be: creates of the existing lab Pod (as
    // a careless client sends them) pass quota admission, which charges them, before the store
    // refuses them as AlreadyExists — until the quota is full.
    let pod = world.api::<Pod>().get("lab-real").await.expect("the lab pod");
    let mut again = Pod { metadata: kube::api::ObjectMeta::default(), spec: pod.spec, status: None };
    again.metadata.name = Some("lab-real".into());
    again.metadata.labels = pod.metadata.labels;
    let mut refused_by_quota = false;
    for _ in 0..100 {
        match world.api::<Pod>().create(&PostParams::default(), &again).await {
            Err(kube::Error::Api(s)) if s.code == 409 => continue,
            Err(kube::Error::Api(s)) if s.code == 403 && s.message.contains("exceeded quota") => {
                refused_by_quota = true;
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(refused_by_quota, "the duplicates filled the quota");
    // /v1/capacity says the charge is stale: one lab exists, the quota counts more.
    eventually("the provisioner sees the stale pods charge", || async {
        p.capacity().is_ok_and(|c| c.stale.iter().any(|s| s.resource == "pods" && s.accounted == "1"))
    })
    .await;
    // The preflight does not refuse on it: the create goes to the API server, whose quota
    // admission decides — it admits once the quota controller has recalculated, and until then
    // refuses with numbers the answer marks as stale.
    let forbidden = api_errors(p, 403);
    match p.create(&request("next", None)).await {
        Ok((_, created)) => {
            eprintln!("the quota controller had caught up: the lab was admitted");
            assert!(created);
        }
        Err(LabsError::ClusterFull(full)) => {
            eprintln!("refused by the API server's stale quota: {full:?}");
            assert!(!full.stale.is_empty(), "{full:?}");
            assert_eq!(api_errors(p, 403), forbidden + 1, "the API server was asked");
            let message = LabsError::ClusterFull(full).to_string();
            assert!(message.contains("has not caught up"), "{message}");
        }
        Err(e) => panic!("unexpected {e}"),
    }
}

#[tokio::test]
async fn three_replicas_make_one_lab_of_twenty_concurrent_creates_of_one_id() {
    let Some(world) = World::new("labs_e2e replicas one id").await else { return };
    let replicas = [world.provisioner.clone(), world.replica().await, world.replica().await];
    let results = futures::future::join_all((0..20).map(|i| {
        let provisioner = replicas[i % 3].clone();
        async move { provisioner.create(&request("shared", None)).await }
    }))
    .await;
    let created = results.iter().filter(|r| matches!(r, Ok((_, true)))).count();
    let existing = results.iter().filter(|r| matches!(r, Ok((_, false)))).count();
    assert_eq!((created, existing), (1, 19), "{results:?}");
    assert_eq!(world.assert_whole_labs().await, lab_names("shared"));
    // Each replica sends at most one create of each of the lab's four objects: the two that
    // lose the race to the winner's Pod get at most 2 × 4 conflicts (409).
    let conflicts: u64 = replicas.iter().map(|p| api_errors(p, 409)).sum();
    let charged = world.quota_used("pods").await;
    eprintln!(
        "three replicas, 20 creates of one id: {conflicts} conflicts (409), quota pods used {charged:?}"
    );
    assert!(conflicts <= 8, "{conflicts} conflicts");
    let charged: u64 = charged.and_then(|c| c.parse().ok()).expect("pods used");
    assert!((1..=3).contains(&charged), "the duplicates' charge is bounded by the replicas: {charged}");
}

#[tokio::test]
async fn three_replicas_never_make_more_labs_than_the_quota_allows() {
    let Some(world) = World::new("labs_e2e replicas quota").await else { return };
    let replicas = [world.provisioner.clone(), world.replica().await, world.replica().await];
    let fits = world
        .provisioner
        .capacity()
        .expect("capacity")
        .templates
        .into_iter()
        .find(|t| t.template == "linux-basics")
        .and_then(|t| t.fits)
        .expect("bounded");
    let attempts = fits + 10;
    let results = futures::future::join_all((0..attempts).map(|i| {
        let provisioner = replicas[(i % 3) as usize].clone();
        async move { provisioner.create(&request(&format!("d{i}"), None)).await }
    }))
    .await;
    let created = results.iter().filter(|r| matches!(r, Ok((_, true)))).count() as u64;
    for result in &results {
        if let Err(e) = result {
            assert_eq!((e.status(), e.code()), (409, "cluster_full"), "{e}");
        }
    }
    let labs = world.assert_whole_labs().await;
    eprintln!("{attempts} distinct creates over three replicas, {fits} fit: {created} labs");
    assert_eq!(labs.len() as u64, created);
    assert!(created <= fits, "{created} labs, the quota allows {fits}");
    assert!(created > 0);
}

#[tokio::test]
async fn the_api_server_away_mid_burst_answers_503_then_recovers_and_one_reaper_pass_leaves_whole_labs() {
    let Some(own) = autolabs_testenv::OwnCluster::start("labs_e2e api server away", 17443).await else {
        return;
    };
    let own = Arc::new(own);
    let began = std::time::Instant::now();
    let stage = |what: &str| eprintln!("[{:>5.1} s] {what}", began.elapsed().as_secs_f64());
    // Short retries, so a call fails within seconds while the server is away.
    let backoff = Backoff {
        base: Duration::from_millis(20),
        max: Duration::from_millis(500),
        deadline: Duration::from_secs(2),
    };
    let world = World::on(own.cluster().clone(), backoff).await;

    // The burst: three workers creating and deleting labs one after another until the
    // outage is over (at most one lab of each worker alive, well within the quota).
    let outcomes = Arc::new(std::sync::Mutex::new(Vec::<Result<bool, LabsError>>::new()));
    let over = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..3)
        .map(|worker| {
            let provisioner = world.provisioner.clone();
            let outcomes = Arc::clone(&outcomes);
            let over = Arc::clone(&over);
            tokio::spawn(async move {
                let mut n = 0;
                while !over.load(Ordering::SeqCst) {
                    let id = format!("b{worker}-{n}");
                    n += 1;
                    let result = provisioner.create(&request(&id, None)).await;
                    let made = result.is_ok();
                    outcomes.lock().expect("outcomes").push(result.map(|(_, created)| created));
                    if made {
                        let deleted = provisioner.delete(&id).await;
                        outcomes.lock().expect("outcomes").push(deleted.map(|()| false));
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            })
        })
        .collect();
    let made = || outcomes.lock().expect("outcomes").iter().filter(|r| r.is_ok()).count();
    eventually("the burst has made labs", || async { made() >= 3 }).await;
    stage("burst under way");

    // The API server (with etcd and the controllers) goes away for 10 s.
    let stopping = Arc::clone(&own);
    tokio::task::spawn_blocking(move || stopping.stop()).await.expect("cluster down");
    let away_since = std::time::Instant::now();
    stage("API server stopped");
    let create = world.provisioner.create(&request("while-away", None)).await.unwrap_err();
    assert_eq!((create.status(), create.code()), (503, "kubernetes_unreachable"), "{create}");
    let get = world.provisioner.get("after").await.unwrap_err();
    assert_eq!(get.status(), 503, "{get}");
    tokio::time::sleep(Duration::from_secs(10).saturating_sub(away_since.elapsed())).await;
    let starting = Arc::clone(&own);
    tokio::task::spawn_blocking(move || starting.start_again()).await.expect("cluster up");
    stage("API server started again");

    // It recovers by itself: creates succeed again, with no restart of the provisioner.
    eventually("creates succeed again", || async {
        world.provisioner.create(&request("after", None)).await.is_ok()
    })
    .await;
    stage("creates succeed again");
    over.store(true, Ordering::SeqCst);
    for worker in workers {
        worker.await.expect("worker");
    }
    let outcomes = outcomes.lock().expect("outcomes").clone();
    for outcome in &outcomes {
        if let Err(e) = outcome {
            // Unreachable (503), an error answer while it shut down or started (502), or a
            // full quota: `cluster down` stops the controller-manager first, so deleted labs
            // stay charged until it recalculates.
            assert!(matches!(e.status(), 502 | 503) || e.code() == "cluster_full", "during the outage: {e}");
        }
    }
    let failed = outcomes.iter().filter(|r| r.is_err()).count();
    eprintln!("burst: {} creates and deletes succeeded, {failed} failed", outcomes.len() - failed);
    assert!(failed > 0, "the burst ran through the outage");

    // After one reaper pass past the grace: no half-made lab, no orphan.
    world.advance(31);
    let summary = world.provisioner.reap_once().await.expect("reaper pass");
    eprintln!("reaper pass after the outage: {summary:?}");
    assert_eq!(summary.errors, 0, "{summary:?}");
    let labs = world.assert_whole_labs().await;
    assert!(labs.contains(&"lab-after".to_string()), "{labs:?}");
    stage("checked");
    drop(world);
    stage("namespace deleted");
    drop(own);
    stage("own cluster wiped");
}
