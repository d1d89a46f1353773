//! `autolabs bench apply --kubeconfig FILE`: how long `autolabs apply` takes for the baseline
//! on a real cluster — the first apply, and a no-op re-apply — against `kubectl apply
//! --server-side -k` of the same rendered directory, in the same run. Figures, not assertions.
//!
//! Both tools run as the user runs them: a fresh process per apply (`autolabs apply` is this
//! binary; kubectl keeps its discovery cache between runs, as it does for a user). Each round
//! starts from a cluster without the baseline: after each tool's pair of applies the bench
//! deletes what it applied (namespaces, with their contents, and the cluster-scoped objects)
//! and waits until the namespaces are gone. Kinds the server does not serve (CRDs absent) are
//! left out of kubectl's directory, since kubectl would fail on them where autolabs skips them.
//!
//! It deletes the baseline: point it at a throw-away cluster. It refuses to start when any of
//! the baseline's objects already exists.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use autolabs_kube::apply;
use autolabs_model::{Manifest, Rendered, output, render};
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// kubeconfig of a throw-away cluster (the bench applies the baseline and deletes it again).
    #[arg(long, value_name = "FILE")]
    kubeconfig: PathBuf,
    /// platform.yaml to render (default ./platform.yaml, else the built-in default).
    #[arg(short = 'f', long = "file")]
    file: Option<PathBuf>,
    /// Rounds per tool; the median of each figure is printed.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// The kubectl to compare with.
    #[arg(long, default_value = "kubectl")]
    kubectl: PathBuf,
}

/// One tool's figures in one round: first apply and no-op re-apply, in seconds.
#[derive(Debug, Clone, Copy)]
struct Round {
    first: f64,
    again: f64,
}

/// How long deleting the baseline may take before the bench gives up.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(180);

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let (platform, source) = super::config::load(args.file.as_deref())?;
    let rendered = render(&platform);
    let kubeconfig = std::fs::canonicalize(&args.kubeconfig)
        .with_context(|| format!("--kubeconfig {}: cannot read it", args.kubeconfig.display()))?;
    let runtime = super::apply::runtime()?;
    let client = runtime.block_on(client_of(&kubeconfig))?;
    let served = runtime.block_on(apply::discover(&client, &apply::groups_needed(&rendered.manifests)))?;
    let applied: Vec<Manifest> = rendered
        .manifests
        .iter()
        .filter(|m| served.get(&m.api_version, &m.kind).is_some())
        .cloned()
        .collect();
    let present = runtime.block_on(existing(&client, &served, &applied))?;
    if !present.is_empty() {
        bail!(
            "the cluster already holds {} of the baseline's objects (e.g. {}): bench apply deletes what it \
             applies, so point it at a throw-away cluster without the baseline (`cluster down --wipe`)",
            present.len(),
            present[0]
        );
    }
    let work = tempdir()?;
    let kustomize_dir = work.join("baseline");
    output::write_dir(&Rendered { manifests: applied.clone(), ..Default::default() }, &kustomize_dir)
        .with_context(|| format!("cannot write {}", kustomize_dir.display()))?;
    // The child `autolabs apply` reads the same platform.yaml (by absolute path) or, without
    // one, the built-in default (it runs in the work directory, which has no platform.yaml).
    let platform_file =
        match args.file.clone().or_else(|| Some(PathBuf::from("platform.yaml")).filter(|p| p.exists())) {
            Some(path) if path.as_os_str() == "-" => {
                bail!("bench apply reads platform.yaml from a file, not stdin")
            }
            Some(path) => Some(
                std::fs::canonicalize(&path).with_context(|| format!("cannot read {}", path.display()))?,
            ),
            None => None,
        };
    let kubectl_version = Command::new(&args.kubectl)
        .args(["version", "--client", "-o", "json"])
        .output()
        .ok()
        .and_then(|o| serde_json::from_slice::<serde_json::Value>(&o.stdout).ok())
        .and_then(|v| v.pointer("/clientVersion/gitVersion").and_then(|g| g.as_str()).map(str::to_string))
        .with_context(|| format!("{} does not run", args.kubectl.display()))?;

    outln!(
        "autolabs bench apply: {} objects from {source} ({} applied, {} of kinds the server does not serve), \
         {} rounds; kubectl {kubectl_version}",
        rendered.manifests.len(),
        applied.len(),
        rendered.manifests.len() - applied.len(),
        args.runs
    )?;
    let exe = std::env::current_exe().context("cannot find this binary")?;
    let autolabs_apply = |expect_no_op: bool| -> anyhow::Result<f64> {
        let started = Instant::now();
        let mut command = Command::new(&exe);
        command.arg("apply").current_dir(&work).env("KUBECONFIG", &kubeconfig);
        if let Some(file) = &platform_file {
            command.arg("-f").arg(file);
        }
        let out = command.output().context("cannot run autolabs apply")?;
        let seconds = started.elapsed().as_secs_f64();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let summary = stdout.lines().find(|l| l.contains(" created, ")).unwrap_or_default().to_string();
        if !out.status.success() {
            bail!("autolabs apply failed: {summary}\n{}", String::from_utf8_lossy(&out.stderr));
        }
        if expect_no_op && !summary.starts_with("0 created, 0 configured") {
            bail!("the re-apply was not a no-op: {summary}");
        }
        Ok(seconds)
    };
    let kubectl_apply = || -> anyhow::Result<f64> {
        let started = Instant::now();
        let out = Command::new(&args.kubectl)
            .args(["apply", "--server-side", "-k"])
            .arg(&kustomize_dir)
            .env("KUBECONFIG", &kubeconfig)
            .output()
            .context("cannot run kubectl")?;
        let seconds = started.elapsed().as_secs_f64();
        if !out.status.success() {
            bail!("kubectl apply failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(seconds)
    };

    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for round in 1..=args.runs {
        let result = (|| -> anyhow::Result<()> {
            let first = autolabs_apply(false)?;
            let again = autolabs_apply(true)?;
            ours.push(Round { first, again });
            runtime.block_on(delete_baseline(&client, &served, &applied))?;
            let first = kubectl_apply()?;
            let again = kubectl_apply()?;
            theirs.push(Round { first, again });
            runtime.block_on(delete_baseline(&client, &served, &applied))?;
            Ok(())
        })();
        if let Err(error) = result {
            // Leave the cluster as found, then report.
            let _ = runtime.block_on(delete_baseline(&client, &served, &applied));
            let _ = std::fs::remove_dir_all(&work);
            return Err(error);
        }
        let (a, k) = (ours[round - 1], theirs[round - 1]);
        outln!(
            "  round {round}: autolabs {:.3} s first, {:.3} s re-apply; kubectl {:.3} s first, {:.3} s re-apply",
            a.first,
            a.again,
            k.first,
            k.again
        )?;
    }
    let _ = std::fs::remove_dir_all(&work);
    let median = |rounds: &[Round], pick: fn(&Round) -> f64| {
        let mut values: Vec<f64> = rounds.iter().map(pick).collect();
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let (our_first, our_again) = (median(&ours, |r| r.first), median(&ours, |r| r.again));
    let (their_first, their_again) = (median(&theirs, |r| r.first), median(&theirs, |r| r.again));
    outln!("median of {} rounds (each a fresh process, from a cluster without the baseline):", args.runs)?;
    outln!(
        "  first apply:     autolabs {our_first:.3} s   kubectl {their_first:.3} s   ({:.1}x)",
        their_first / our_first
    )?;
    outln!(
        "  no-op re-apply:  autolabs {our_again:.3} s   kubectl {their_again:.3} s   ({:.1}x)",
        their_again / our_again
    )?;
    Ok(ExitCode::SUCCESS)
}

async fn client_of(kubeconfig: &Path) -> anyhow::Result<Client> {
    Ok(autolabs_kube::live::connect_with(Some(kubeconfig), None).await?)
}

fn api_of(client: &Client, served: &apply::ServedKinds, m: &Manifest) -> Option<Api<DynamicObject>> {
    let kind = served.get(&m.api_version, &m.kind)?;
    let resource = kind.api_resource();
    Some(match (&m.namespace, kind.namespaced) {
        (Some(ns), true) => Api::namespaced_with(client.clone(), ns, &resource),
        _ => Api::all_with(client.clone(), &resource),
    })
}

/// The ids of the objects that exist already.
async fn existing(
    client: &Client,
    served: &apply::ServedKinds,
    objects: &[Manifest],
) -> anyhow::Result<Vec<String>> {
    let mut found = Vec::new();
    for m in objects {
        if let Some(api) = api_of(client, served, m)
            && api.get_opt(&m.name).await.with_context(|| format!("reading {}", m.id()))?.is_some()
        {
            found.push(m.id());
        }
    }
    Ok(found)
}

/// Deletes the namespaces (and with them everything in them) and the cluster-scoped objects
/// of the baseline, then waits until the namespaces are gone.
async fn delete_baseline(
    client: &Client,
    served: &apply::ServedKinds,
    objects: &[Manifest],
) -> anyhow::Result<()> {
    let top_level: Vec<&Manifest> = objects
        .iter()
        .filter(|m| served.get(&m.api_version, &m.kind).is_some_and(|k| !k.namespaced))
        .collect();
    for m in &top_level {
        let Some(api) = api_of(client, served, m) else {
            anyhow::bail!("deleting {}: the server does not serve {} {}", m.id(), m.api_version, m.kind);
        };
        match api.delete(&m.name, &DeleteParams::background()).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(error) => return Err(error).with_context(|| format!("deleting {}", m.id())),
        }
    }
    let deadline = Instant::now() + CLEANUP_TIMEOUT;
    loop {
        let left =
            existing(client, served, &top_level.iter().map(|m| (*m).clone()).collect::<Vec<_>>()).await?;
        if left.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("still deleting after {} s: {}", CLEANUP_TIMEOUT.as_secs(), left.join(", "));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A fresh directory for the rendered files.
fn tempdir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("autolabs-bench-apply-{}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}
