//! The real `kubectl` against the fake API server: the everyday commands a student or an
//! operator types at `autolabs up --simulate`, each checked on what kubectl prints.
//!
//! Works with kubectl 1.20 (Debian's `kubernetes-client`, what CI installs) up to 1.33;
//! commands newer than the installed kubectl are skipped by version. Without kubectl on PATH
//! every test says so and passes, except under `CI=true`, where a missing kubectl fails.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use autolabs_fake::{FakeApiServer, FakeConfig, KubeletConfig, RbacReviewAuthorizer};
use serde_json::{Value, json};

/// Longest any one kubectl command may take before the test kills it and fails.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(20);

/// What one kubectl run printed.
#[derive(Debug)]
struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Fails the test unless kubectl succeeded; returns stdout.
    #[track_caller]
    fn ok(&self) -> &str {
        assert!(self.status.success(), "kubectl failed ({}):\n{}\n{}", self.status, self.stdout, self.stderr);
        &self.stdout
    }

    /// Fails the test unless kubectl failed; returns stderr.
    #[track_caller]
    fn failed(&self) -> &str {
        assert!(!self.status.success(), "kubectl should have failed:\n{}\n{}", self.stdout, self.stderr);
        &self.stderr
    }
}

/// A fake server, a kubeconfig pointing at it, and a private HOME (kubectl's discovery cache).
struct Kubectl {
    server: FakeApiServer,
    dir: PathBuf,
    kubeconfig: PathBuf,
    /// `(major, minor)` of the kubectl client.
    version: (u32, u32),
}

impl Drop for Kubectl {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The kubectl client's `(major, minor)`, or `None` (with a skip message) when kubectl is not on
/// PATH. Under `CI=true` a missing kubectl fails the test.
fn kubectl_version() -> Option<(u32, u32)> {
    let output = Command::new("kubectl").args(["version", "--client", "-o", "json"]).output();
    let output = match output {
        Ok(output) if output.status.success() => output,
        other => {
            let why = match other {
                Ok(output) => String::from_utf8_lossy(&output.stderr).into_owned(),
                Err(e) => e.to_string(),
            };
            if std::env::var("CI").is_ok_and(|ci| ci == "true") {
                panic!("kubectl is missing (CI=true requires it; .ci/run installs it): {why}");
            }
            // Once, and past libtest's output capture, so that `cargo test` shows it.
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| {
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED kubectl_fake: kubectl is not on PATH ({}); install kubectl to run these tests",
                    why.trim()
                );
            });
            return None;
        }
    };
    let info: Value = serde_json::from_slice(&output.stdout).expect("kubectl version -o json");
    let number = |field: &str| {
        info["clientVersion"][field]
            .as_str()
            .map(|s| s.trim_end_matches('+'))
            .and_then(|s| s.parse::<u32>().ok())
            .unwrap_or_else(|| panic!("kubectl version has no {field}: {info}"))
    };
    Some((number("major"), number("minor")))
}

/// Starts a server for one test, or `None` when kubectl is missing (the test then returns).
async fn setup(test: &str, config: FakeConfig) -> Option<Kubectl> {
    let version = kubectl_version()?;
    let server = FakeApiServer::start(config).await.expect("fake server starts");
    let dir = std::env::temp_dir().join(format!("autolabs-kubectl-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(&kubeconfig, server.kubeconfig()).expect("write kubeconfig");
    Some(Kubectl { server, dir, kubeconfig, version })
}

impl Kubectl {
    fn at_least(&self, minor: u32) -> bool {
        self.version >= (1, minor)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("kubectl");
        command
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", &self.dir)
            .env_remove("KUBECTL_EXTERNAL_DIFF")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// Runs kubectl to the end (killed after [`COMMAND_TIMEOUT`]) off the async runtime.
    async fn run(&self, args: &[&str]) -> Run {
        let mut command = self.command(args);
        let shown = args.join(" ");
        tokio::task::spawn_blocking(move || {
            let mut child = command.spawn().expect("kubectl starts");
            let stdout = drain(child.stdout.take());
            let stderr = drain(child.stderr.take());
            let deadline = Instant::now() + COMMAND_TIMEOUT;
            let status = loop {
                if let Some(status) = child.try_wait().expect("wait for kubectl") {
                    break status;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("kubectl {shown} did not finish in {COMMAND_TIMEOUT:?}");
                }
                std::thread::sleep(Duration::from_millis(10));
            };
            let text = |h: std::thread::JoinHandle<String>| h.join().unwrap_or_default();
            Run { status, stdout: text(stdout), stderr: text(stderr) }
        })
        .await
        .expect("kubectl runner")
    }

    /// Writes a manifest into the test's directory and returns its path.
    fn file(&self, name: &str, content: &str) -> String {
        let path = self.dir.join(name);
        std::fs::write(&path, content).expect("write manifest");
        path.to_string_lossy().into_owned()
    }

    async fn json(&self, args: &[&str]) -> Value {
        let run = self.run(&[args, &["-o", "json"]].concat()).await;
        serde_json::from_str(run.ok())
            .unwrap_or_else(|e| panic!("kubectl {args:?} -o json: {e}: {}", run.stdout))
    }
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_string(&mut text);
        }
        text
    })
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_namespaces_and_api_resources() {
    let Some(k) = setup("discovery", FakeConfig::default()).await else { return };
    let namespaces = k.run(&["get", "ns"]).await;
    let rows = lines(namespaces.ok());
    assert!(rows[0].starts_with("NAME"), "{rows:?}");
    for name in ["default", "kube-node-lease", "kube-public", "kube-system"] {
        assert!(rows.iter().any(|r| r.split_whitespace().next() == Some(name)), "{name} in {rows:?}");
    }
    let names = k.run(&["get", "namespaces", "-o", "name"]).await;
    assert!(lines(names.ok()).contains(&"namespace/default"), "{}", names.stdout);

    let resources = k.run(&["api-resources"]).await;
    let rows = lines(resources.ok());
    let row = |name: &str| {
        rows.iter()
            .find(|r| r.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("{name} in {rows:?}"))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    assert_eq!(row("configmaps"), ["configmaps", "cm", "v1", "true", "ConfigMap"]);
    assert_eq!(row("deployments"), ["deployments", "deploy", "apps/v1", "true", "Deployment"]);
    assert_eq!(row("clusterroles"), ["clusterroles", "rbac.authorization.k8s.io/v1", "false", "ClusterRole"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_namespace_configmap_and_secret_then_read_them_as_json() {
    let Some(k) = setup("create", FakeConfig::default()).await else { return };
    assert_eq!(k.run(&["create", "namespace", "team"]).await.ok().trim(), "namespace/team created");
    let created = k.run(&[
        "-n",
        "team",
        "create",
        "configmap",
        "settings",
        "--from-literal=a=1",
        "--from-literal=b=two",
    ]);
    assert_eq!(created.await.ok().trim(), "configmap/settings created");
    let secret = k.run(&["-n", "team", "create", "secret", "generic", "token", "--from-literal=key=v"]).await;
    assert_eq!(secret.ok().trim(), "secret/token created");
    assert_eq!(
        k.run(&["-n", "team", "create", "serviceaccount", "robot"]).await.ok().trim(),
        "serviceaccount/robot created"
    );

    let cm = k.json(&["-n", "team", "get", "configmap", "settings"]).await;
    assert_eq!(cm["kind"], "ConfigMap");
    assert_eq!(cm["apiVersion"], "v1");
    assert_eq!(cm["metadata"]["name"], "settings");
    assert_eq!(cm["metadata"]["namespace"], "team");
    assert_eq!(cm["data"], json!({"a": "1", "b": "two"}));
    for field in ["uid", "resourceVersion", "creationTimestamp"] {
        assert!(cm["metadata"][field].as_str().is_some_and(|v| !v.is_empty()), "{field}: {cm}");
    }
    let secret = k.json(&["-n", "team", "get", "secret", "token"]).await;
    // (kube-apiserver would also default `type: Opaque`; the fake does not default Secrets.)
    assert_eq!(secret["data"], json!({"key": "dg=="}), "base64 of \"v\"");
    let namespace = k.json(&["get", "namespace", "team"]).await;
    assert_eq!(namespace["status"]["phase"], "Active");

    let list = k.json(&["-n", "team", "get", "configmaps,serviceaccounts"]).await;
    assert_eq!(list["kind"], "List");
    let names: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["metadata"]["name"].as_str())
        .collect();
    assert_eq!(names, ["settings", "robot"]);
    let again = k.run(&["create", "namespace", "team"]).await;
    assert!(
        again.failed().contains("AlreadyExists")
            && again.stderr.contains("namespaces \"team\" already exists"),
        "{}",
        again.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn label_selectors_and_chunked_lists() {
    let Some(k) = setup("selectors", FakeConfig::default()).await else { return };
    k.server
        .apply_object(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "sel"}}))
        .unwrap();
    for i in 0..7 {
        let tier = if i % 2 == 0 { "web" } else { "db" };
        k.server
            .apply_object(json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": format!("cm-{i}"), "namespace": "sel", "labels": {"tier": tier}}}))
            .unwrap();
    }
    let web = ["configmap/cm-0", "configmap/cm-2", "configmap/cm-4", "configmap/cm-6"];
    let selected = k.run(&["-n", "sel", "get", "configmaps", "-l", "tier=web", "-o", "name"]).await;
    assert_eq!(lines(selected.ok()), web);
    let not_web = k.run(&["-n", "sel", "get", "cm", "-l", "tier!=web,tier", "-o", "name"]).await;
    assert_eq!(lines(not_web.ok()), ["configmap/cm-1", "configmap/cm-3", "configmap/cm-5"]);
    let set = k.run(&["-n", "sel", "get", "cm", "-l", "tier in (db)", "-o", "name"]).await;
    assert_eq!(lines(set.ok()).len(), 3);

    let before = k.server.request_counts().get("list configmaps").copied().unwrap_or(0);
    let chunked = k.run(&["-n", "sel", "get", "cm", "-l", "tier=web", "--chunk-size=1", "-o", "name"]).await;
    assert_eq!(lines(chunked.ok()), web);
    let pages = k.server.request_counts().get("list configmaps").copied().unwrap_or(0) - before;
    assert!(
        pages >= 4,
        "--chunk-size=1 over 4 objects should page (limit/continue), made {pages} list calls"
    );
    let all = k.json(&["-n", "sel", "get", "cm", "--chunk-size=3"]).await;
    assert_eq!(all["items"].as_array().map(Vec::len), Some(7));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_creates_changes_and_reapplies() {
    let Some(k) = setup("ssa", FakeConfig::default()).await else { return };
    let manifest = |value: &str| {
        format!(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ssa\n---\napiVersion: v1\nkind: ConfigMap\n\
             metadata:\n  name: app\n  namespace: ssa\n  labels:\n    app: demo\ndata:\n  mode: {value}\n"
        )
    };
    let path = k.file("ssa.yaml", &manifest("one"));
    let first = k.run(&["apply", "--server-side", "-f", &path]).await;
    assert_eq!(lines(first.ok()), ["namespace/ssa serverside-applied", "configmap/app serverside-applied"]);
    k.file("ssa.yaml", &manifest("two"));
    // Another manager changing a field `kubectl` applied conflicts, as on kube-apiserver…
    let conflict = k.run(&["apply", "--server-side", "--field-manager=autolabs-test", "-f", &path]).await;
    assert!(
        conflict.failed().contains("Apply failed with 1 conflict: conflict with \"kubectl\": .data.mode"),
        "{}",
        conflict.stderr
    );
    // …until it forces.
    let second = k
        .run(&["apply", "--server-side", "--force-conflicts", "--field-manager=autolabs-test", "-f", &path])
        .await;
    assert!(second.ok().contains("configmap/app serverside-applied"), "{}", second.stdout);
    let again = k.run(&["apply", "--server-side", "--field-manager=autolabs-test", "-f", &path]).await;
    assert!(again.ok().contains("configmap/app serverside-applied"), "{}", again.stdout);
    let cm = k.json(&["-n", "ssa", "get", "cm", "app"]).await;
    assert_eq!(cm["data"], json!({"mode": "two"}));
    assert_eq!(cm["metadata"]["labels"], json!({"app": "demo"}));
    // kubectl < 1.26 first looks for `dryRun` in the OpenAPI v2 paths, which the fake leaves empty.
    if k.at_least(26) {
        let dry_path = k.file("dry.yaml", &manifest("three"));
        let dry = k
            .run(&[
                "apply",
                "--server-side",
                "--field-manager=autolabs-test",
                "--dry-run=server",
                "-f",
                &dry_path,
            ])
            .await;
        assert!(dry.ok().contains("configmap/app serverside-applied (server dry run)"), "{}", dry.stdout);
        assert_eq!(k.json(&["-n", "ssa", "get", "cm", "app"]).await["data"]["mode"], "two");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_side_apply_with_validation_creates_configures_and_is_unchanged() {
    let Some(k) = setup("csa", FakeConfig::default()).await else { return };
    k.server
        .apply_object(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "csa"}}))
        .unwrap();
    let manifest = |value: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: csa\ndata:\n  mode: {value}\n---\n\
             apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: csa\nspec:\n  selector:\n    app: web\n  \
             ports:\n  - port: 80\n    targetPort: 8080\n"
        )
    };
    // Validation stays on (kubectl's default): it reads the fake's OpenAPI.
    let path = k.file("app.yaml", &manifest("one"));
    let created = k.run(&["apply", "-f", &path]).await;
    assert_eq!(lines(created.ok()), ["configmap/app created", "service/web created"], "{}", created.stderr);
    let unchanged = k.run(&["apply", "-f", &path]).await;
    assert_eq!(
        lines(unchanged.ok()),
        ["configmap/app unchanged", "service/web unchanged"],
        "{}",
        unchanged.stderr
    );
    k.file("app.yaml", &manifest("two"));
    let configured = k.run(&["apply", "-f", &path]).await;
    assert_eq!(
        lines(configured.ok()),
        ["configmap/app configured", "service/web unchanged"],
        "{}",
        configured.stderr
    );
    let cm = k.json(&["-n", "csa", "get", "configmap", "app"]).await;
    assert_eq!(cm["data"], json!({"mode": "two"}));
    let last_applied = cm["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
        .as_str()
        .expect("kubectl records what it applied");
    assert!(last_applied.contains("\"mode\":\"two\""), "{last_applied}");
    let service = k.json(&["-n", "csa", "get", "service", "web"]).await;
    assert_eq!(service["spec"]["ports"][0]["targetPort"], 8080);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admission_rejects_pods_like_kube_apiserver() {
    let Some(k) = setup("admission", FakeConfig::default()).await else { return };
    let namespaces = k.file(
        "ns.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: locked\n  labels:\n    \
         pod-security.kubernetes.io/enforce: restricted\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: full\n\
         ---\napiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: no-pods\n  namespace: full\nspec:\n  hard:\n    \
         pods: \"0\"\n",
    );
    k.run(&["apply", "-f", &namespaces]).await.ok();

    let restricted =
        k.run(&["-n", "locked", "run", "shell", "--image=busybox:1.36", "--restart=Never"]).await;
    let message = restricted.failed();
    assert!(
        message.contains("Error from server (Forbidden): pods \"shell\" is forbidden: violates PodSecurity \"restricted:latest\": "),
        "{message}"
    );
    assert!(message.contains("allowPrivilegeEscalation != false (container \"shell\" must set securityContext.allowPrivilegeEscalation=false)"), "{message}");
    assert!(message.contains("runAsNonRoot != true"), "{message}");

    let quota = k.run(&["-n", "full", "run", "shell", "--image=busybox:1.36", "--restart=Never"]).await;
    let message = quota.failed();
    assert!(
        message.contains("Error from server (Forbidden): pods \"shell\" is forbidden: exceeded quota: no-pods, requested: pods=1, used: pods=0, limited: pods=0"),
        "{message}"
    );
    let none = k.run(&["-n", "full", "get", "pods"]).await;
    assert!(
        none.ok().is_empty() && none.stderr.contains("No resources found in full namespace."),
        "{none:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_an_owner_deletes_its_dependents() {
    let Some(k) = setup("cascade", FakeConfig::default()).await else { return };
    k.run(&["create", "namespace", "gc"]).await.ok();
    let run = k.run(&["-n", "gc", "run", "owner", "--image=busybox:1.36", "--restart=Never"]).await;
    assert_eq!(run.ok().trim(), "pod/owner created");
    let uid = k.run(&["-n", "gc", "get", "pod", "owner", "-o", "jsonpath={.metadata.uid}"]).await;
    let uid = uid.ok().trim().to_string();
    assert!(!uid.is_empty());
    let dependent = k.file(
        "dep.yaml",
        &format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dependent\n  namespace: gc\n  ownerReferences:\n  \
             - apiVersion: v1\n    kind: Pod\n    name: owner\n    uid: {uid}\ndata:\n  a: b\n"
        ),
    );
    assert_eq!(k.run(&["apply", "-f", &dependent]).await.ok().trim(), "configmap/dependent created");
    let survivor = k.run(&["-n", "gc", "create", "configmap", "unrelated"]).await;
    assert_eq!(survivor.ok().trim(), "configmap/unrelated created");

    // kubectl >= 1.34 names the namespace it deleted from.
    let deleted = k.run(&["-n", "gc", "delete", "pod", "owner"]).await;
    assert!(
        ["pod \"owner\" deleted", "pod \"owner\" deleted from gc namespace"].contains(&deleted.ok().trim()),
        "{}",
        deleted.stdout
    );
    let gone = k.run(&["-n", "gc", "get", "configmap", "dependent"]).await;
    assert_eq!(gone.failed().trim(), "Error from server (NotFound): configmaps \"dependent\" not found");
    let left = k.run(&["-n", "gc", "get", "configmaps", "-o", "name"]).await;
    assert_eq!(lines(left.ok()), ["configmap/unrelated"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_only_prints_an_added_object() {
    let Some(k) = setup("watch", FakeConfig::default()).await else { return };
    k.run(&["create", "namespace", "w"]).await.ok();
    let mut child = k
        .command(&["-n", "w", "get", "configmaps", "--watch-only", "-o", "name", "--request-timeout=30s"])
        .spawn()
        .expect("kubectl starts");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let child = Arc::new(std::sync::Mutex::new(child));
    let _kill = KillOnDrop(Arc::clone(&child));
    // Wait until kubectl's watch reached the server, then create the object it should see.
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    while k.server.request_counts().get("watch configmaps").copied().unwrap_or(0) == 0 {
        assert!(Instant::now() < deadline, "kubectl never started its watch");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    k.run(&["-n", "w", "create", "configmap", "seen", "--from-literal=a=b"]).await.ok();
    let line = tokio::task::spawn_blocking(move || rx.recv_timeout(COMMAND_TIMEOUT)).await.expect("reader");
    assert_eq!(line.as_deref().map(str::trim), Ok("configmap/seen"), "the watch printed the ADDED object");
}

/// Kills a long-running kubectl (a watch) when the test ends, passed or not.
struct KillOnDrop(Arc<std::sync::Mutex<std::process::Child>>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(mut child) = self.0.lock() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_can_i_asks_a_self_subject_access_review() {
    let Some(k) = setup("can-i", FakeConfig::default()).await else { return };
    // No authorizer configured: the fake allows every request, and says so.
    let yes = k.run(&["auth", "can-i", "create", "pods"]).await;
    assert_eq!(yes.ok().trim(), "yes");
    let Some(k) = setup(
        "can-i-rbac",
        FakeConfig { authorizer: Some(Arc::new(RbacReviewAuthorizer::new())), ..Default::default() },
    )
    .await
    else {
        return;
    };
    // The caller is the fake's administrator (system:masters).
    assert_eq!(k.run(&["auth", "can-i", "delete", "nodes"]).await.ok().trim(), "yes");
    let sa = "--as=system:serviceaccount:default:robot";
    let no = k.run(&["auth", "can-i", "create", "pods", sa]).await;
    assert_eq!(no.stdout.trim(), "no", "{no:?}");
    assert_eq!(no.status.code(), Some(1));
    // RBAC granted through kubectl: the same question now gets yes.
    k.run(&["-n", "default", "create", "role", "pod-maker", "--verb=create", "--resource=pods"]).await.ok();
    let binding = k.run(&[
        "-n",
        "default",
        "create",
        "rolebinding",
        "robot",
        "--role=pod-maker",
        "--serviceaccount=default:robot",
    ]);
    assert_eq!(binding.await.ok().trim(), "rolebinding.rbac.authorization.k8s.io/robot created");
    assert_eq!(k.run(&["auth", "can-i", "create", "pods", sa]).await.ok().trim(), "yes");
    assert_eq!(
        k.run(&["auth", "can-i", "create", "pods", sa, "-n", "kube-system"]).await.stdout.trim(),
        "no"
    );
    if k.at_least(28) {
        let whoami = k.run(&["auth", "whoami", "-o", "json"]).await;
        let review: Value = serde_json::from_str(whoami.ok()).expect("SelfSubjectReview");
        assert_eq!(review["status"]["userInfo"]["username"], "kubernetes-admin");
        assert_eq!(review["status"]["userInfo"]["groups"], json!(["system:masters", "system:authenticated"]));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_a_condition_and_for_deletion() {
    let config = FakeConfig {
        kubelet: Some(KubeletConfig { start_delay: Duration::from_millis(300), ..Default::default() }),
        ..Default::default()
    };
    let Some(k) = setup("wait", config).await else { return };
    k.run(&["create", "namespace", "jobs"]).await.ok();
    k.run(&["-n", "jobs", "run", "worker", "--image=busybox:1.36", "--restart=Never"]).await.ok();
    let ready = k.run(&["-n", "jobs", "wait", "--for=condition=Ready", "pod/worker", "--timeout=15s"]).await;
    assert_eq!(ready.ok().trim(), "pod/worker condition met");
    if k.at_least(23) {
        let running = k.run(&[
            "-n",
            "jobs",
            "wait",
            "--for=jsonpath={.status.phase}=Running",
            "pod/worker",
            "--timeout=15s",
        ]);
        assert_eq!(running.await.ok().trim(), "pod/worker condition met");
    }
    let waiter = k
        .command(&["-n", "jobs", "wait", "--for=delete", "pod/worker", "--timeout=15s"])
        .spawn()
        .expect("kubectl starts");
    let waiter = Arc::new(std::sync::Mutex::new(waiter));
    let _kill = KillOnDrop(Arc::clone(&waiter));
    tokio::time::sleep(Duration::from_millis(500)).await;
    k.run(&["-n", "jobs", "delete", "pod", "worker", "--wait=false"]).await.ok();
    let output = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        let mut child = waiter.lock().expect("waiter");
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                let mut out = String::new();
                let _ = child.stdout.take().map(|mut s| s.read_to_string(&mut out));
                return (status, out);
            }
            assert!(Instant::now() < deadline, "kubectl wait --for=delete did not end");
            std::thread::sleep(Duration::from_millis(20));
        }
    })
    .await
    .expect("waiter");
    assert!(output.0.success(), "{output:?}");
    assert_eq!(output.1.trim(), "pod/worker condition met");
}
