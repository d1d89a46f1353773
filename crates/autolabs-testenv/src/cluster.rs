//! The real control planes: the shared one, namespaces of a test's own, token clients and
//! control planes of a test's own.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::in_ci;

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Namespace, Node, ServiceAccount};
use kube::Api;
use kube::api::{DeleteParams, ObjectMeta, PostParams};
use kube::config::{AuthInfo, KubeConfigOptions, Kubeconfig};

/// The variable that names the admin kubeconfig of the shared control plane.
pub const KUBECONFIG_ENV: &str = "AUTOLABS_E2E_KUBECONFIG";

/// Label put on every namespace a test makes, so a crashed run's leftovers can be found.
pub const TEST_LABEL: &str = "autolabs.io/test";

/// The shared control plane, or `None` (after a loud note) when none is configured.
/// Panics under `CI=true` when [`KUBECONFIG_ENV`] is unset or unusable.
pub async fn shared(test: &str) -> Option<Cluster> {
    let Some(path) = std::env::var_os(KUBECONFIG_ENV) else {
        if in_ci() {
            panic!(
                "{test}: {KUBECONFIG_ENV} is not set under CI=true: .ci/run must start ../shared/kube/cluster"
            );
        }
        eprintln!(
            "\n*** NOT RUN: {test}: no real API server ({KUBECONFIG_ENV} is not set). \
             `bash .ci/run` starts one; or `eval \"$(../shared/kube/cluster up)\"` and \
             `export {KUBECONFIG_ENV}=$KUBECONFIG`. ***\n"
        );
        return None;
    };
    Some(Cluster::from_kubeconfig(Path::new(&path)).await)
}

/// The variable `.ci/run` sets to `1` when it started a worker node (`../shared/kube/node up`):
/// under `CI=true` the suites that need pods to really run then fail without a Ready node.
pub const NODE_ENV: &str = "AUTOLABS_E2E_NODE";

/// The shared control plane when it has a Ready worker node, so Pods really run; `None`
/// (after a loud note) when it has none. Panics under `CI=true` when [`NODE_ENV`] says a
/// node was started and none is Ready.
pub async fn shared_with_node(test: &str) -> Option<Cluster> {
    let cluster = shared(test).await?;
    let expected = std::env::var(NODE_ENV).is_ok_and(|v| v == "1");
    // The node registers and turns Ready within seconds of `node up`: wait a little when it
    // is expected, look once otherwise.
    let attempts = if expected { 300 } else { 1 };
    for attempt in 0..attempts {
        if cluster.has_ready_node().await {
            return Some(cluster);
        }
        if attempt + 1 < attempts {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    if expected && in_ci() {
        panic!("{test}: {NODE_ENV}=1 under CI=true, but the control plane has no Ready node");
    }
    eprintln!(
        "\n*** NOT RUN: {test}: the control plane has no Ready worker node, so no Pod can run. \
         `../shared/kube/node up` (root) adds one; `bash .ci/run` starts it when it can. ***\n"
    );
    None
}

/// A running control plane reached with an admin kubeconfig.
#[derive(Clone)]
pub struct Cluster {
    kubeconfig: PathBuf,
    config: kube::Config,
}

impl Cluster {
    /// Reads the kubeconfig (its current context). Panics when it is unusable: a test
    /// environment that is half there is a broken test setup, not a skip.
    pub async fn from_kubeconfig(path: &Path) -> Cluster {
        let kubeconfig = Kubeconfig::read_from(path)
            .unwrap_or_else(|e| panic!("{}: not a readable kubeconfig: {e}", path.display()));
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{}: its current context is not usable: {e}", path.display()));
        Cluster { kubeconfig: path.to_path_buf(), config }
    }

    /// The admin kubeconfig file (for `kubectl` and for child processes).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The admin client config.
    pub fn config(&self) -> &kube::Config {
        &self.config
    }

    /// A new admin client (bound to the current tokio runtime, as every kube client is).
    #[allow(
        clippy::expect_used,
        reason = "the config was loaded from a kubeconfig in from_kubeconfig, which panics when it is unusable"
    )]
    pub fn client(&self) -> kube::Client {
        kube::Client::try_from(self.config.clone()).expect("a client from a usable kubeconfig")
    }

    /// `kubectl` with this cluster's kubeconfig (the matching kubectl is first on `PATH`
    /// after `cluster env`).
    pub fn kubectl(&self) -> Command {
        let mut command = Command::new("kubectl");
        command.env("KUBECONFIG", &self.kubeconfig);
        command
    }

    /// Runs kubectl with `args` and returns its stdout; panics with stderr when it fails.
    #[allow(
        clippy::expect_used,
        reason = "a test helper: a missing kubectl fails the calling test with this message"
    )]
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let output = self.kubectl().args(args).output().expect("kubectl runs (it is on PATH)");
        assert!(
            output.status.success(),
            "kubectl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Creates a namespace named `<prefix>-<random>` with `labels` (plus [`TEST_LABEL`]); it is
    /// deleted when the returned guard drops.
    pub async fn namespace(&self, prefix: &str, labels: &[(&str, &str)]) -> TestNamespace {
        let name = unique_name(prefix);
        let mut all: std::collections::BTreeMap<String, String> =
            labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        all.insert(TEST_LABEL.into(), prefix.chars().take(63).collect());
        let namespace = Namespace {
            metadata: ObjectMeta { name: Some(name.clone()), labels: Some(all), ..ObjectMeta::default() },
            ..Namespace::default()
        };
        Api::<Namespace>::all(self.client())
            .create(&PostParams::default(), &namespace)
            .await
            .unwrap_or_else(|e| panic!("create namespace {name}: {e}"));
        TestNamespace { name, config: self.config.clone(), keep: false }
    }

    /// Whether some Node reports the `Ready` condition `True` (kubelet's node status).
    pub async fn has_ready_node(&self) -> bool {
        let nodes: Api<Node> = Api::all(self.client());
        let Ok(list) = nodes.list(&Default::default()).await else { return false };
        list.items.iter().any(|node| {
            node.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
    }

    /// A bound token of ServiceAccount `namespace/name` (created by the caller, e.g. by
    /// applying the rendered baseline), valid for an hour — what `kubectl create token` gives.
    pub async fn service_account_token(&self, namespace: &str, name: &str) -> String {
        let request = TokenRequest {
            spec: TokenRequestSpec { expiration_seconds: Some(3600), ..TokenRequestSpec::default() },
            ..TokenRequest::default()
        };
        let api: Api<ServiceAccount> = Api::namespaced(self.client(), namespace);
        let answer = api
            .create_token_request(name, &PostParams::default(), &request)
            .await
            .unwrap_or_else(|e| panic!("token for ServiceAccount {namespace}/{name}: {e}"));
        answer.status.map(|s| s.token).unwrap_or_else(|| panic!("token for {namespace}/{name}: no status"))
    }

    /// A client config that authenticates with `token` instead of the admin's.
    pub fn config_with_token(&self, token: &str) -> kube::Config {
        let mut config = self.config.clone();
        config.auth_info = token_auth(token);
        config
    }

    /// A client acting as ServiceAccount `namespace/name`.
    #[allow(
        clippy::expect_used,
        reason = "the admin config with a bearer token is as usable as the admin config"
    )]
    pub async fn service_account_client(&self, namespace: &str, name: &str) -> kube::Client {
        let token = self.service_account_token(namespace, name).await;
        kube::Client::try_from(self.config_with_token(&token)).expect("client from token")
    }

    /// Writes a kubeconfig for this cluster that authenticates with `token`, for child
    /// processes (`autolabs serve --kubeconfig`).
    #[allow(
        clippy::expect_used,
        reason = "a test helper: the admin kubeconfig was read in from_kubeconfig, and a Kubeconfig serialises"
    )]
    pub fn write_token_kubeconfig(&self, token: &str, path: &Path) {
        let mut kubeconfig = Kubeconfig::read_from(&self.kubeconfig).expect("admin kubeconfig readable");
        for named in &mut kubeconfig.auth_infos {
            named.auth_info = Some(token_auth(token));
        }
        let text = serde_json::to_string(&kubeconfig).expect("a Kubeconfig serializes");
        std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }
}

#[allow(clippy::expect_used, reason = "an AuthInfo of only a token is valid by construction")]
fn token_auth(token: &str) -> AuthInfo {
    serde_json::from_value(serde_json::json!({ "token": token })).expect("an AuthInfo with a token")
}

/// Polls `condition` every 100 ms until it holds, at most 60 s, and panics naming `what`
/// otherwise: the real controllers (quota, garbage collector, ServiceAccounts) reach their
/// state eventually, as envtest's tests wait with Gomega's `Eventually`.
pub async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..600 {
        if condition().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never happened: {what}");
}

/// A unique, DNS-1123-label name: `<prefix>-<8 random characters>`.
pub fn unique_name(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let suffix: String = (0..8).map(|_| ALPHABET[fastrand::usize(..ALPHABET.len())] as char).collect();
    let prefix: String = prefix.chars().take(50).collect();
    format!("{prefix}-{suffix}")
}

/// A namespace of one test, deleted (in the background, with its contents) when dropped.
pub struct TestNamespace {
    name: String,
    config: kube::Config,
    keep: bool,
}

impl TestNamespace {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Keep it after the test (to look at a failure); `AUTOLABS_TEST_KEEP=1` keeps them all.
    pub fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        if self.keep || std::env::var_os("AUTOLABS_TEST_KEEP").is_some() {
            eprintln!("kept namespace {}", self.name);
            return;
        }
        // Drop cannot await, and the test's runtime may be shutting down: delete from a thread
        // with a runtime (and a client) of its own.
        let name = self.name.clone();
        let config = self.config.clone();
        let deleted = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async move {
                let client = kube::Client::try_from(config).ok()?;
                let api: Api<Namespace> = Api::all(client);
                tokio::time::timeout(Duration::from_secs(20), api.delete(&name, &DeleteParams::background()))
                    .await
                    .ok()?
                    .ok()
            })
        })
        .join();
        if !matches!(deleted, Ok(Some(_))) {
            eprintln!("warning: namespace {} was not deleted", self.name);
        }
    }
}

/// Where `../shared/kube` is: `AUTOLABS_KUBE_SCRIPTS`, else the nearest `shared/kube` beside
/// the repository or one of its parents (a git worktree may sit deeper than the checkout).
pub fn kube_scripts() -> PathBuf {
    if let Some(dir) = std::env::var_os("AUTOLABS_KUBE_SCRIPTS") {
        return PathBuf::from(dir);
    }
    // crates/autolabs-testenv → the repository.
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let repository = crate_dir.parent().and_then(Path::parent).unwrap_or(crate_dir);
    repository
        .ancestors()
        .skip(1)
        .map(|dir| dir.join("shared/kube"))
        .find(|dir| dir.join("cluster").is_file())
        .unwrap_or_else(|| repository.join("../shared/kube"))
}

/// A control plane of one test on its own port (state in a directory of its own), for tests
/// that stop, restart or wipe the server. Wiped when dropped.
pub struct OwnCluster {
    port: u16,
    dir: PathBuf,
    cluster: Cluster,
}

impl OwnCluster {
    /// Starts `cluster up` on `port` (etcd takes port+1 and port+2, the controller-manager
    /// port+3). `None`, after a loud note, when there is no shared control plane either (the
    /// machine cannot run one); panics when starting fails under `CI=true`.
    ///
    /// `AUTOLABS_TEST_PORT_OFFSET` (default 0) is added to `port`, so that several checkouts
    /// can run their suites on one machine without their own clusters colliding.
    pub async fn start(test: &str, port: u16) -> Option<OwnCluster> {
        let offset: u16 =
            std::env::var("AUTOLABS_TEST_PORT_OFFSET").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
        let port = port + offset;
        if std::env::var_os(KUBECONFIG_ENV).is_none() && !in_ci() {
            eprintln!(
                "\n*** NOT RUN: {test}: no control plane is configured ({KUBECONFIG_ENV} is not set). ***\n"
            );
            return None;
        }
        let dir = std::env::temp_dir().join(format!("autolabs-kube-test-{port}"));
        let own = OwnCluster::run_script(port, &dir, &["up"]);
        let kubeconfig = dir.join("admin.kubeconfig");
        if let Err(e) = own {
            panic!("{test}: starting a control plane on port {port} failed: {e}");
        }
        let cluster = Cluster::from_kubeconfig(&kubeconfig).await;
        Some(OwnCluster { port, dir, cluster })
    }

    fn run_script(port: u16, dir: &Path, args: &[&str]) -> Result<(), String> {
        let script = kube_scripts().join("cluster");
        let output = Command::new(&script)
            .args(args)
            .env("AUTOLABS_KUBE_PORT", port.to_string())
            .env("AUTOLABS_KUBE_DIR", dir)
            .output()
            .map_err(|e| format!("{}: {e}", script.display()))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!("cluster {}: {}", args.join(" "), String::from_utf8_lossy(&output.stderr)))
        }
    }

    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// Stops the API server, etcd and the controller-manager, keeping the stored objects.
    #[allow(
        clippy::expect_used,
        reason = "a test helper: a control plane that does not stop fails the calling test with this message"
    )]
    pub fn stop(&self) {
        OwnCluster::run_script(self.port, &self.dir, &["down"]).expect("cluster down");
    }

    /// Starts it again after [`stop`](Self::stop).
    #[allow(
        clippy::expect_used,
        reason = "a test helper: a control plane that does not start fails the calling test with this message"
    )]
    pub fn start_again(&self) {
        OwnCluster::run_script(self.port, &self.dir, &["up"]).expect("cluster up again");
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        if let Err(e) = OwnCluster::run_script(self.port, &self.dir, &["down", "--wipe"]) {
            eprintln!("warning: {e}");
        }
    }
}
