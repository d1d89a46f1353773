//! `autolabs bench`: figures, not assertions. Each prints what it measured and how to rerun.

use std::process::ExitCode;
use std::time::Instant;

use autolabs_verify::engines;
use autolabs_verify::synthetic::{Params, generate};
use clap::Subcommand;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, Subcommand)]
enum What {
    /// The lab provisioner: creates/s, p50/p99 — against the in-process fake API server, or
    /// with --kubeconfig/--server on a real cluster, beside the server's own ceiling.
    #[cfg(feature = "simulate")]
    Labs(super::bench_labs::Args),
    /// `autolabs apply` of the baseline on a real (throw-away) cluster against `kubectl apply
    /// --server-side -k`: first apply and no-op re-apply.
    Apply(super::bench_apply::Args),
    /// Pod Security + RBAC + resources over a synthetic cluster.
    Verify {
        #[arg(long, default_value_t = 10_000)]
        pods: usize,
        /// Roles and bindings in total.
        #[arg(long, default_value_t = 2_000)]
        roles: usize,
        #[arg(long, default_value_t = 100)]
        namespaces: usize,
    },
    /// Reading manifests: writes a synthetic YAML stream (namespaces, pods, NetworkPolicies),
    /// times reading it, then times a whole `autolabs verify FILE` of it in a child process.
    Read {
        #[arg(long, default_value_t = 1_000)]
        namespaces: usize,
        #[arg(long, default_value_t = 10_000)]
        pods: usize,
        #[arg(long, default_value_t = 10_342)]
        policies: usize,
        /// Keep the stream in this file (default: a temporary file, deleted afterwards).
        #[arg(long, value_name = "FILE")]
        out: Option<std::path::PathBuf>,
    },
    /// NetworkPolicy reachability over a synthetic cluster (namespaces × pods × policies).
    Netpol {
        #[arg(long, default_value_t = 10_000)]
        pods: usize,
        #[arg(long, default_value_t = 1_000)]
        namespaces: usize,
        #[arg(long, default_value_t = 10_000)]
        policies: usize,
        /// Cluster-wide policies (ClusterNetworkPolicy/AdminNetworkPolicy) added on top.
        #[arg(long, default_value_t = 0)]
        cluster_policies: usize,
    },
}

/// Peak resident memory of this process (VmHWM), in MiB.
pub fn peak_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn secs(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if cfg!(debug_assertions) {
        eprintln!(
            "note: this is a debug build; for real figures run `cargo run --release -p autolabs -- bench …`"
        );
    }
    match args.what {
        #[cfg(feature = "simulate")]
        What::Labs(a) => return super::bench_labs::run(a),
        What::Apply(a) => return super::bench_apply::run(a),
        What::Verify { pods, roles, namespaces } => {
            let t = Instant::now();
            let set = generate(Params { namespaces, pods, rbac_objects: roles });
            let gen_s = secs(t);
            let t = Instant::now();
            let pss = engines::pss::check(&set, Default::default());
            let pss_s = secs(t);
            let t = Instant::now();
            let rbac = engines::rbac::check(&set, &Default::default());
            let rbac_s = secs(t);
            let t = Instant::now();
            let res = engines::resources::check(&set, &[]);
            let res_s = secs(t);
            outln!(
                "autolabs bench verify: {} objects ({pods} pods, {roles} roles+bindings, {namespaces} namespaces)",
                set.objects.len()
            )?;
            outln!("  parse (YAML → object set):  {gen_s:.3} s")?;
            outln!("  pss:        {pss_s:.3} s  ({} findings)", pss.len())?;
            outln!("  rbac:       {rbac_s:.3} s  ({} findings)", rbac.len())?;
            outln!("  resources:  {res_s:.3} s  ({} findings)", res.len())?;
            outln!(
                "  engines total: {:.3} s; peak memory {:.0} MiB",
                pss_s + rbac_s + res_s,
                peak_mib().unwrap_or(0.0)
            )?;
        }
        What::Read { namespaces, pods, policies, out } => return read(namespaces, pods, policies, out),
        What::Netpol { pods, namespaces, policies, cluster_policies } => {
            use autolabs_netpol::synthetic::{SyntheticParams, generate as gen_netpol};
            let t = Instant::now();
            let mut cluster = gen_netpol(SyntheticParams { namespaces, pods, policies });
            cluster.cluster_policies =
                autolabs_netpol::synthetic::cluster_policies(namespaces, cluster_policies);
            let gen_s = secs(t);
            let t = Instant::now();
            let analysis = autolabs_netpol::Analysis::new(&cluster, Default::default())
                .map_err(|e| anyhow::anyhow!("{} errors", e.len()))?;
            let build_s = secs(t);
            let t = Instant::now();
            let pairs = analysis.connections().count();
            let conn_s = secs(t);
            outln!(
                "autolabs bench netpol: {pods} pods, {namespaces} namespaces, {policies} policies, {cluster_policies} cluster policies → {} classes",
                analysis.classes().len()
            )?;
            outln!(
                "  generate: {gen_s:.3} s; build analysis: {build_s:.3} s; all class connections: {conn_s:.3} s ({pairs} non-empty pairs)"
            )?;
            outln!("  total {:.3} s; peak memory {:.0} MiB", build_s + conn_s, peak_mib().unwrap_or(0.0))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `bench read`: the reader alone in this process, then the whole `verify` as a user runs it.
fn read(
    namespaces: usize,
    pods: usize,
    policies: usize,
    out: Option<std::path::PathBuf>,
) -> anyhow::Result<ExitCode> {
    use autolabs_verify::ObjectSet;
    use autolabs_verify::synthetic::{StreamParams, netpol_stream};
    let text = netpol_stream(StreamParams { namespaces, pods, policies });
    let keep = out.is_some();
    let path = out.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("autolabs-bench-read-{}.yaml", std::process::id()))
    });
    std::fs::write(&path, &text)?;
    let bytes = text.len();
    drop(text);
    let t = Instant::now();
    let set = ObjectSet::read_paths(std::slice::from_ref(&path));
    let read_s = secs(t);
    let (objects, errors) = (set.objects.len(), set.errors.len());
    drop(set);
    let peak = peak_mib().unwrap_or(0.0);
    let t = Instant::now();
    let status = std::process::Command::new(std::env::current_exe()?)
        .arg("verify")
        .arg(&path)
        .args(["--format", "json"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()?;
    let verify_s = secs(t);
    if !keep {
        let _ = std::fs::remove_file(&path);
    }
    outln!(
        "autolabs bench read: {objects} objects ({namespaces} namespaces, {pods} pods, {policies} policies), {:.1} MB of YAML",
        bytes as f64 / 1e6
    )?;
    outln!(
        "  read (files → object set, strict decoding): {read_s:.3} s; {errors} input errors; peak memory {peak:.0} MiB"
    )?;
    outln!(
        "  whole `autolabs verify FILE --format json` (child process): {verify_s:.3} s wall, exit {}",
        status.code().map(|c| c.to_string()).unwrap_or_else(|| "by signal".into())
    )?;
    if keep {
        outln!("  peak memory of the whole verify: /usr/bin/time -v autolabs verify {}", path.display())?;
    }
    Ok(ExitCode::SUCCESS)
}
