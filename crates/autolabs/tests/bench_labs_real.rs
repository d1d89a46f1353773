//! `autolabs bench labs --kubeconfig` and `--server` on the REAL API server (the control plane
//! `.ci/run` starts; see `autolabs-testenv`), with tiny numbers: this checks what the bench
//! prints and what it leaves behind, not how fast anything is. Without a control plane each
//! test prints NOT RUN and passes; under `CI=true` it fails.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};

use autolabs_kube::labs::bootstrap::{self, SeedOptions};
use autolabs_model::Platform;
use autolabs_testenv::{Cluster, eventually};

fn autolabs() -> Command {
    Command::new(env!("CARGO_BIN_EXE_autolabs"))
}

/// Runs the bench and returns its stdout, after checking it succeeded.
fn bench(args: &[&str], token: Option<&str>) -> String {
    let mut command = autolabs();
    command.args(["bench", "labs"]).args(args);
    if let Some(token) = token {
        command.env("AUTOLABS_API_TOKEN", token);
    }
    let output = command.output().expect("autolabs runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "bench labs {args:?} failed:\n{stdout}\n{stderr}");
    eprintln!("{stdout}");
    stdout
}

/// The line of `stdout` that starts (after indentation) with `prefix`.
fn line<'a>(stdout: &'a str, prefix: &str) -> &'a str {
    stdout
        .lines()
        .map(str::trim_start)
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` line in:\n{stdout}"))
}

/// The percentage of the ratio line, which must be a number.
fn ratio_percent(stdout: &str) -> f64 {
    let ratio = line(stdout, "ratio:");
    let figure = ratio
        .split("makes ")
        .nth(1)
        .and_then(|rest| rest.split(" %").next())
        .unwrap_or_else(|| panic!("no percentage in {ratio}"));
    figure.parse().unwrap_or_else(|_| panic!("not a number: {figure} in {ratio}"))
}

/// The bench's namespace is deleted (terminating or gone) when it has finished.
async fn assert_namespace_deleted(cluster: &Cluster, stdout: &str) {
    let name = stdout
        .split("namespace ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_else(|| panic!("no namespace named in:\n{stdout}"));
    assert!(name.starts_with("autolabs-bench-"), "{name}");
    let api: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(cluster.client());
    match api.get_opt(name).await.expect("read the namespace") {
        None => {}
        Some(ns) => assert!(ns.metadata.deletion_timestamp.is_some(), "{name} is left behind"),
    }
}

#[tokio::test]
async fn bench_labs_on_a_kubeconfig_reports_the_provisioner_beside_the_ceiling_and_cleans_up() {
    let Some(cluster) = autolabs_testenv::shared("bench labs --kubeconfig").await else { return };
    let kubeconfig = cluster.kubeconfig().display().to_string();
    let stdout =
        bench(&["--kubeconfig", &kubeconfig, "--count", "4", "--warmup", "1", "--concurrency", "2"], None);
    let provisioner = line(&stdout, "provisioner (the lab API in this process");
    assert!(provisioner.contains("4 of 4 created, 0 failed"), "{provisioner}");
    let ceiling = line(&stdout, "ceiling (plain client");
    assert!(ceiling.contains("4 of 4 created, 0 failed"), "{ceiling}");
    assert!(ratio_percent(&stdout) > 0.0);
    // The provisioner acted as its ServiceAccount, not as the admin.
    assert!(stdout.contains(":lab-provisioner"), "{stdout}");
    assert_namespace_deleted(&cluster, &stdout).await;
}

/// A `serve` process, killed (by its own handle) when dropped.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `GET /readyz` answers 200.
fn ready(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    let request = "GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    let mut answer = String::new();
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_to_string(&mut answer).is_ok()
        && answer.starts_with("HTTP/1.1 200")
}

#[tokio::test]
async fn bench_labs_on_a_running_lab_api_deletes_the_labs_it_made() {
    let Some(cluster) = autolabs_testenv::shared("bench labs --server").await else { return };
    let platform = Platform::default();
    let labels = bootstrap::labs_namespace_labels(&platform);
    let label_refs: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let ns = cluster.namespace("bench-server", &label_refs).await;
    bootstrap::seed(&cluster.client(), ns.name(), &platform, &SeedOptions::default())
        .await
        .unwrap_or_else(|e| panic!("seed: {e}"));
    let dir = tempfile::tempdir().expect("a temporary directory");
    let token = cluster.service_account_token(ns.name(), bootstrap::PROVISIONER_ACCOUNT).await;
    let kubeconfig = dir.path().join("provisioner.kubeconfig");
    cluster.write_token_kubeconfig(&token, &kubeconfig);
    let port = TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("address").port();
    let url = format!("http://127.0.0.1:{port}");
    let api_token = "bench-server-test-token";
    let _serve = Serve(
        autolabs()
            .args(["serve", "--namespace", ns.name(), "--listen", &format!("127.0.0.1:{port}")])
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .current_dir(dir.path())
            .env("AUTOLABS_API_TOKEN", api_token)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("autolabs serve starts"),
    );
    eventually("the lab API is ready", || async { ready(port) }).await;

    let admin = cluster.kubeconfig().display().to_string();
    let stdout = bench(
        &["--server", &url, "--kubeconfig", &admin, "--count", "3", "--warmup", "1", "--concurrency", "2"],
        Some(api_token),
    );
    let provisioner = line(&stdout, &format!("provisioner (the lab API at {url}"));
    assert!(provisioner.contains("3 of 3 created, 0 failed"), "{provisioner}");
    assert!(line(&stdout, "ceiling (plain client").contains("3 of 3 created, 0 failed"), "{stdout}");
    ratio_percent(&stdout);
    assert_namespace_deleted(&cluster, &stdout).await;
    // The labs it made through the API are gone (deleting, or deleted).
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::namespaced(cluster.client(), ns.name());
    let live = pods.list(&Default::default()).await.expect("list pods").items;
    assert!(live.iter().all(|p| p.metadata.deletion_timestamp.is_some()), "{} lab pods left", live.len());
}
