//! The provisioner's image, run as a user would run it: `podman run IMAGE --version`, then
//! `serve` with a token file (read-only root, the image's non-root user, no capabilities)
//! against the lab API's cluster of `up --simulate`, answering `/healthz` and `/readyz`.
//!
//! The image is built beforehand, not here (`image/build`, a heavy static release build): the
//! test runs the image named by `AUTOLABS_IMAGE` (default `localhost/autolabs:dev`). Without
//! podman or without the image it prints a loud NOT RUN and passes; with `CI=true` and
//! `AUTOLABS_IMAGE` set it fails instead.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

const DEFAULT_IMAGE: &str = "localhost/autolabs:dev";

/// Limits for `podman run`: podman's rootful default raises the open-files and process limits
/// to 1048576, which needs CAP_SYS_RESOURCE (sandboxed roots lack it); the provisioner needs
/// far fewer.
const ULIMITS: [&str; 4] = ["--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"];

/// podman, with the storage driver `image/build` used.
fn podman() -> Command {
    let mut c = Command::new("podman");
    if let Ok(driver) = std::env::var("AUTOLABS_STORAGE_DRIVER")
        && !driver.is_empty()
    {
        c.args(["--storage-driver", &driver]);
    }
    c
}

/// The image to run, or `None` (with the loud note) when podman or the image is missing.
fn image(test: &str) -> Option<String> {
    let explicit = std::env::var("AUTOLABS_IMAGE").ok().filter(|s| !s.is_empty());
    let image = explicit.clone().unwrap_or_else(|| DEFAULT_IMAGE.to_string());
    let why = match podman().args(["image", "exists", &image]).status() {
        Err(e) => format!("podman cannot run ({e})"),
        Ok(s) if !s.success() => format!("no image {image} (build it with image/build)"),
        Ok(_) => return Some(image),
    };
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    if ci && explicit.is_some() {
        panic!("{test}: {why} (CI=true and AUTOLABS_IMAGE is set)");
    }
    eprintln!("\n*** NOT RUN: {test}: {why}. ***\n");
    None
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// The status code of `GET path` on loopback, or `None` when nothing answers yet.
fn get_status(port: u16, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).ok()?;
    answer.split_whitespace().nth(1)?.parse().ok()
}

/// Waits (polling, at most `tries` × 100 ms) until `path` answers 200; the last status seen.
fn wait_for_200(port: u16, path: &str, tries: u32) -> Option<u16> {
    let mut last = None;
    for _ in 0..tries {
        last = get_status(port, path);
        if last == Some(200) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    last
}

/// Kills and reaps a child process when dropped (also when an assertion fails).
struct Reaped(Child);
impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Removes a container when dropped.
struct Container(String);
impl Drop for Container {
    fn drop(&mut self) {
        let _ = podman().args(["rm", "--force", "--time", "0", &self.0]).output();
    }
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn the_image_prints_its_version_and_serves_health_against_the_simulator() {
    let Some(image) = image("the_image_prints_its_version_and_serves_health_against_the_simulator") else {
        return;
    };

    let version = podman()
        .args(["run", "--rm"])
        .args(ULIMITS)
        .args([&image, "--version"])
        .output()
        .expect("podman run");
    assert!(version.status.success(), "{}", text(&version));
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("autolabs {}", env!("CARGO_PKG_VERSION"))
    );

    // The image has no shell: nothing but the binary can run in it.
    let shell = podman()
        .args(["run", "--rm"])
        .args(ULIMITS)
        .args(["--entrypoint", "/bin/sh", &image, "-c", "true"])
        .output()
        .unwrap();
    assert!(!shell.status.success(), "a shell ran in the image: {}", text(&shell));

    let user = podman().args(["image", "inspect", "--format", "{{.Config.User}}", &image]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&user.stdout).trim(), "65532:65532", "the numeric non-root user");

    // The API server: `up --simulate` (the fake API server with the baseline applied).
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("simulator.kubeconfig");
    let simulator = Command::new(env!("CARGO_BIN_EXE_autolabs"))
        .args(["up", "--simulate", "--listen", &format!("127.0.0.1:{}", free_port())])
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start up --simulate");
    let _simulator = Reaped(simulator);
    let mut tries = 0;
    while !kubeconfig.exists() {
        tries += 1;
        assert!(tries < 1200, "up --simulate wrote no kubeconfig");
        std::thread::sleep(Duration::from_millis(100));
    }
    let token = dir.path().join("token");
    std::fs::write(&token, "image-test-token\n").unwrap();
    for f in [&kubeconfig, &token] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644)).unwrap();
    }

    let port = free_port();
    let name = format!("autolabs-image-test-{}", std::process::id());
    let mount = |file: &Path, at: &str| format!("{}:{at}:ro", file.display());
    let run = podman()
        .args(["run", "--detach", "--name", &name, "--network", "host", "--read-only"])
        .args(ULIMITS)
        .args(["--cap-drop", "ALL", "--security-opt", "no-new-privileges"])
        .args(["--volume", &mount(&kubeconfig, "/etc/autolabs/kubeconfig")])
        .args(["--volume", &mount(&token, "/etc/autolabs/token")])
        .arg(&image)
        .args(["serve", "--kubeconfig", "/etc/autolabs/kubeconfig", "--token-file", "/etc/autolabs/token"])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .output()
        .expect("podman run serve");
    assert!(run.status.success(), "{}", text(&run));
    let container = Container(name);

    let logs = || text(&podman().args(["logs", &container.0]).output().unwrap());
    assert_eq!(wait_for_200(port, "/healthz", 600), Some(200), "/healthz: {}", logs());
    assert_eq!(wait_for_200(port, "/readyz", 600), Some(200), "/readyz: {}", logs());
    // The lab API itself wants the token.
    assert_eq!(get_status(port, "/v1/labs"), Some(401), "{}", logs());
}
