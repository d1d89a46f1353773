//! Labs that really run: the lab provisioner against the REAL API server WITH a worker node
//! (`../shared/kube/node up`: kubelet, containerd, runc, a bridge CNI, kube-proxy). Without a
//! Ready node each test prints NOT RUN and passes; under `CI=true` with `AUTOLABS_E2E_NODE=1`
//! (set by `.ci/run` when it started the node) it fails.
//!
//! The labs come from test templates whose image is the node's local busybox
//! (`local/busybox:1`, never pulled: `IfNotPresent` finds it imported) serving HTTP on the lab
//! port with busybox `httpd`. Each test works in a namespace of its own made like the rendered
//! `labs` namespace (Pod Security `restricted` enforced, its ResourceQuota and LimitRange), and
//! the provisioner runs with a ServiceAccount token bound to exactly
//! `autolabs_model::render::PROVISIONER_RULES`, as in `labs_e2e.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use autolabs_kube::labs::{LabsError, Metrics, Provisioner, ProvisionerConfig};
use autolabs_model::lab::{LabRequest, Templates};
use autolabs_model::{Platform, render};
use autolabs_testenv::{Cluster, TestNamespace, eventually};
use k8s_openapi::api::core::v1::{LimitRange, Namespace, Pod, ResourceQuota, ServiceAccount};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use kube::Api;
use kube::api::{ListParams, PostParams};

const PROVISIONER_SA: &str = "lab-provisioner";

/// busybox `httpd` on the lab port, serving a page from `/tmp` (writable even with a
/// read-only root), with an HTTP readiness probe.
const WEB_TEMPLATE: &str = r#"
apiVersion: autolabs.io/v1alpha1
kind: LabTemplate
metadata: {name: busybox-web}
spec:
  description: "Test: busybox httpd on the lab port, read-only root."
  image: local/busybox:1
  command: ["sh", "-c", "echo lab-ok > /tmp/index.html && exec httpd -f -p 8080 -h /tmp"]
  ports: [{name: http, port: 8080}]
  ttl: {default: 1h, max: 2h}
  readinessProbe: {http: {path: /, port: http}}
  readOnlyRootFilesystem: true
"#;

/// The same server with a writable root filesystem.
const WRITABLE_TEMPLATE: &str = r#"
apiVersion: autolabs.io/v1alpha1
kind: LabTemplate
metadata: {name: busybox-writable}
spec:
  description: "Test: busybox httpd on the lab port, writable root."
  image: local/busybox:1
  command: ["sh", "-c", "echo lab-ok > /tmp/index.html && exec httpd -f -p 8081 -h /tmp"]
  ports: [{name: http, port: 8081}]
  ttl: {default: 1h, max: 2h}
  readinessProbe: {tcp: {port: http}}
  readOnlyRootFilesystem: false
"#;

/// A container that exits at once: the kubelet restarts it into CrashLoopBackOff.
const CRASHING_TEMPLATE: &str = r#"
apiVersion: autolabs.io/v1alpha1
kind: LabTemplate
metadata: {name: busybox-exits}
spec:
  description: "Test: a container that exits."
  image: local/busybox:1
  command: ["sh", "-c", "echo bye; exit 3"]
  ports: [{name: http, port: 8080}]
  ttl: {default: 1h, max: 2h}
"#;

struct World {
    cluster: Cluster,
    ns: TestNamespace,
    admin: kube::Client,
    provisioner: Provisioner,
    clock: Arc<AtomicU64>,
}

fn typed<T: serde::de::DeserializeOwned>(value: &serde_json::Value) -> T {
    serde_json::from_value(value.clone()).expect("a rendered object of its kind")
}

fn now_unix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs()
}

fn test_templates(platform: &Platform) -> Templates {
    let files = [
        ("busybox-web.yaml", WEB_TEMPLATE),
        ("busybox-writable.yaml", WRITABLE_TEMPLATE),
        ("busybox-exits.yaml", CRASHING_TEMPLATE),
    ];
    autolabs_model::lab::load_templates(&files, platform).expect("the test templates load")
}

impl World {
    /// `None` (after the NOT RUN note) without a control plane with a Ready node.
    async fn new(test: &str) -> Option<World> {
        let cluster = autolabs_testenv::shared_with_node(test).await?;
        let admin = cluster.client();
        let rendered = render(&Platform::default());
        let labs = autolabs_model::topology::LABS;
        let post = PostParams::default();

        let classes: Api<PriorityClass> = Api::all(admin.clone());
        for manifest in rendered.of_kind("PriorityClass") {
            let mut class: PriorityClass = typed(&manifest.value);
            if class.global_default == Some(false) {
                class.global_default = None;
            }
            match classes.create(&post, &class).await {
                Ok(_) => {}
                Err(kube::Error::Api(status)) if status.code == 409 => {}
                Err(e) => panic!("create PriorityClass {:?}: {e}", class.metadata.name),
            }
        }

        let rendered_ns: Namespace =
            typed(&rendered.find("Namespace", None, labs).expect("a rendered labs namespace").value);
        let labels: Vec<(String, String)> =
            rendered_ns.metadata.labels.unwrap_or_default().into_iter().collect();
        let label_refs: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let ns = cluster.namespace("labs-node", &label_refs).await;
        let name = ns.name().to_string();
        for manifest in rendered.manifests.iter().filter(|m| m.namespace.as_deref() == Some(labs)) {
            match manifest.kind.as_str() {
                "ResourceQuota" => {
                    let mut quota: ResourceQuota = typed(&manifest.value);
                    quota.metadata.namespace = Some(name.clone());
                    Api::<ResourceQuota>::namespaced(admin.clone(), &name)
                        .create(&post, &quota)
                        .await
                        .expect("quota");
                }
                "LimitRange" => {
                    let mut limits: LimitRange = typed(&manifest.value);
                    limits.metadata.namespace = Some(name.clone());
                    Api::<LimitRange>::namespaced(admin.clone(), &name)
                        .create(&post, &limits)
                        .await
                        .expect("limits");
                }
                _ => {}
            }
        }

        let mut role: Role = typed(
            &rendered.find("Role", Some(labs), autolabs_model::topology::PROVISIONER_SA).expect("Role").value,
        );
        role.metadata = kube::api::ObjectMeta {
            name: Some(PROVISIONER_SA.into()),
            namespace: Some(name.clone()),
            ..Default::default()
        };
        let account = ServiceAccount {
            metadata: kube::api::ObjectMeta { name: Some(PROVISIONER_SA.into()), ..Default::default() },
            ..Default::default()
        };
        let binding: RoleBinding = serde_json::from_value(serde_json::json!({
            "metadata": {"name": PROVISIONER_SA},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": PROVISIONER_SA},
            "subjects": [{"kind": "ServiceAccount", "name": PROVISIONER_SA, "namespace": name}],
        }))
        .expect("a RoleBinding");
        Api::<ServiceAccount>::namespaced(admin.clone(), &name).create(&post, &account).await.expect("sa");
        Api::<Role>::namespaced(admin.clone(), &name).create(&post, &role).await.expect("role");
        Api::<RoleBinding>::namespaced(admin.clone(), &name).create(&post, &binding).await.expect("binding");

        let quotas: Api<ResourceQuota> = Api::namespaced(admin.clone(), &name);
        eventually("the quota controller fills in the labs quota's status", || async {
            let listed = quotas.list(&ListParams::default()).await.expect("list quotas").items;
            listed.iter().all(|q| q.status.as_ref().is_some_and(|s| s.hard.is_some() && s.used.is_some()))
        })
        .await;

        let clock = Arc::new(AtomicU64::new(now_unix()));
        let token = cluster.service_account_token(&name, PROVISIONER_SA).await;
        let client = kube::Client::try_from(cluster.config_with_token(&token)).expect("token client");
        let platform = Platform::default();
        let mut config = ProvisionerConfig::new(platform.clone(), test_templates(&platform));
        config.namespace = name.clone();
        let read = Arc::clone(&clock);
        config.clock = Arc::new(move || read.load(Ordering::SeqCst));
        // The Role reaches the authorizer's cache asynchronously: retry building until the
        // caches (which list and watch as the ServiceAccount) sync.
        let mut provisioner = None;
        for _ in 0..20 {
            let candidate = Provisioner::new(client.clone(), config.clone(), Metrics::new())
                .expect("templates pass the checks");
            if candidate.wait_synced(Duration::from_secs(5)).await {
                provisioner = Some(candidate);
                break;
            }
        }
        let provisioner = provisioner.expect("the provisioner's caches sync with the Role's rights");
        Some(World { cluster, ns, admin, provisioner, clock })
    }

    fn name(&self) -> &str {
        self.ns.name()
    }

    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.admin.clone(), self.name())
    }

    /// `kubectl exec` in the lab Pod (through the API server to the kubelet): stdout, or the
    /// error with stderr.
    fn exec(&self, pod: &str, command: &[&str]) -> Result<String, String> {
        let mut args = vec!["exec", "-n", self.name(), pod, "--"];
        args.extend_from_slice(command);
        let output = self.cluster.kubectl().args(&args).output().expect("kubectl runs");
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    }

    async fn wait_running(&self, id: &str) {
        let p = &self.provisioner;
        eventually(&format!("lab {id} reads Running"), || async {
            p.get(id).await.is_ok_and(|lab| lab.phase == "Running")
        })
        .await;
    }
}

fn request(id: &str, template: &str, ttl: Option<u64>) -> LabRequest {
    LabRequest { id: id.into(), template: template.into(), ttl_seconds: ttl }
}

/// One `/proc/self/status` field of the process `kubectl exec` started.
fn status_field<'a>(status: &'a str, field: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status:\n{status}"))
}

/// `ro` or `rw`: the first mount option of `/` in `/proc/mounts`.
fn root_mount_mode(mounts: &str) -> String {
    let root = mounts
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|fields| fields.get(1) == Some(&"/"))
        .unwrap_or_else(|| panic!("no / in /proc/mounts:\n{mounts}"));
    root.get(3).and_then(|options| options.split(',').next()).unwrap_or_default().to_string()
}

/// A plain HTTP/1.0 GET from this host (the node routes the pod range over `cni0`).
fn http_get(ip: &str, port: u16) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect((ip, port)).expect("connect to the lab pod");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    stream.write_all(b"GET / HTTP/1.0\r\nHost: lab\r\n\r\n").expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read the answer");
    answer
}

#[tokio::test]
async fn busybox_labs_run_ready_with_the_restricted_security_context_they_were_given() {
    let Some(world) = World::new("labs_node_e2e running labs").await else { return };
    let p = &world.provisioner;
    let (lab, created) = p.create(&request("web", "busybox-web", None)).await.expect("admitted");
    assert!(created && lab.phase == "Pending", "{lab:?}");
    p.create(&request("rw", "busybox-writable", None)).await.expect("admitted");
    world.wait_running("web").await;
    world.wait_running("rw").await;

    let lab = p.get("web").await.expect("readable");
    let platform = Platform::default();
    let domain = platform.spec.domain();
    assert_eq!(lab.url, format!("https://{}/", autolabs_model::lab::lab_host("web", domain)), "{lab:?}");

    // What the container really runs with, as runc set it up.
    let id = world.exec("lab-web", &["id"]).expect("exec id");
    assert!(id.starts_with("uid=1000") && id.contains("gid=1000"), "non-root lab user: {id}");
    let status = world.exec("lab-web", &["cat", "/proc/self/status"]).expect("exec cat");
    assert_eq!(status_field(&status, "NoNewPrivs"), "1", "allowPrivilegeEscalation: false");
    assert_eq!(status_field(&status, "CapEff"), "0000000000000000", "capabilities drop ALL");
    assert_eq!(status_field(&status, "CapPrm"), "0000000000000000", "capabilities drop ALL");
    assert_eq!(status_field(&status, "Seccomp"), "2", "seccomp RuntimeDefault is a filter (mode 2)");
    let refused = world.exec("lab-web", &["touch", "/root-file"]).unwrap_err();
    assert!(refused.contains("Read-only file system"), "read-only root: {refused}");
    world.exec("lab-web", &["touch", "/tmp/scratch"]).expect("/tmp stays writable");
    assert_eq!(root_mount_mode(&world.exec("lab-web", &["cat", "/proc/mounts"]).expect("mounts")), "ro");
    // The writable template's root is mounted read-write (uid 1000 still may not write into
    // root's `/`, so the mount is what tells).
    assert_eq!(root_mount_mode(&world.exec("lab-rw", &["cat", "/proc/mounts"]).expect("mounts")), "rw");
    let rw_status = world.exec("lab-rw", &["cat", "/proc/self/status"]).expect("exec cat");
    assert_eq!(status_field(&rw_status, "NoNewPrivs"), "1");

    // The Service has the ready Pod as its endpoint, and the Pod answers HTTP on the lab port.
    let pod = world.pods().get("lab-web").await.expect("the lab pod");
    let pod_ip = pod.status.and_then(|s| s.pod_ip).expect("a running pod has an IP");
    let slices: Api<EndpointSlice> = Api::namespaced(world.admin.clone(), world.name());
    eventually("the lab Service's EndpointSlice lists the Pod, ready", || async {
        let params = ListParams::default().labels("kubernetes.io/service-name=lab-web");
        let listed = slices.list(&params).await.expect("endpoint slices").items;
        listed.iter().flat_map(|s| s.endpoints.iter()).any(|e| {
            e.addresses.contains(&pod_ip) && e.conditions.as_ref().and_then(|c| c.ready) == Some(true)
        })
    })
    .await;
    let answer = tokio::task::spawn_blocking(move || http_get(&pod_ip, 8080)).await.expect("GET");
    assert!(answer.starts_with("HTTP/1.") && answer.contains("lab-ok"), "{answer}");

    p.delete("web").await.expect("deleted");
    p.delete("rw").await.expect("deleted");
    eventually("the deleted labs' Pods are gone", || async {
        world.pods().list(&ListParams::default()).await.is_ok_and(|l| l.items.is_empty())
    })
    .await;
}

#[tokio::test]
async fn a_lab_whose_container_exits_reads_failed_and_the_reaper_marks_and_expires_it() {
    let Some(world) = World::new("labs_node_e2e exiting container").await else { return };
    let p = &world.provisioner;
    p.create(&request("exits", "busybox-exits", Some(600))).await.expect("admitted");
    // The kubelet restarts the container, then backs off: CrashLoopBackOff, a stuck reason.
    eventually("the exiting lab reads Failed", || async {
        p.get("exits").await.is_ok_and(|lab| lab.phase == "Failed")
    })
    .await;
    let pod = world.pods().get("lab-exits").await.expect("pod");
    let waiting = pod
        .status
        .and_then(|s| s.container_statuses)
        .and_then(|c| c.into_iter().next())
        .and_then(|c| c.state)
        .and_then(|s| s.waiting)
        .and_then(|w| w.reason);
    assert_eq!(waiting.as_deref(), Some("CrashLoopBackOff"), "the kubelet's own reason");

    let summary = p.reap_once().await.expect("reaper pass");
    assert_eq!((summary.marked_failed, summary.errors), (1, 0), "{summary:?}");
    let lab = p.get("exits").await.expect("kept until it expires");
    assert_eq!(lab.phase, "Failed");
    assert!(lab.failure.as_deref().is_some_and(|f| f.contains("CrashLoopBackOff")), "{lab:?}");

    world.clock.fetch_add(601, Ordering::SeqCst);
    let summary = p.reap_once().await.expect("reaper pass");
    assert_eq!((summary.expired, summary.errors), (1, 0), "{summary:?}");
    eventually("the expired lab is gone", || async {
        matches!(p.get("exits").await, Err(LabsError::NotFound { .. }))
    })
    .await;
}
