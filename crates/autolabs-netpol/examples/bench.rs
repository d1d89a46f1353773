//! Benchmark: build the analysis of a synthetic cluster and compute all class connections.
//!
//! `cargo run --release -p autolabs-netpol --example bench -- --pods 10000 --namespaces 1000 --policies 10000`
//! prints the wall time of each phase and the peak resident memory (VmHWM).

use std::time::Instant;

use autolabs_netpol::synthetic::{SyntheticParams, generate};
use autolabs_netpol::{Analysis, Options, findings};

fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() {
    let mut params = SyntheticParams { namespaces: 1000, pods: 10_000, policies: 10_000 };
    let mut cluster_policy_count = 0usize;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).and_then(|v| v.parse::<usize>().ok());
        match (args[i].as_str(), value) {
            ("--pods", Some(v)) => params.pods = v,
            ("--namespaces", Some(v)) => params.namespaces = v,
            ("--policies", Some(v)) => params.policies = v,
            ("--cluster-policies", Some(v)) => cluster_policy_count = v,
            _ => {
                eprintln!("usage: bench [--pods N] [--namespaces N] [--policies N] [--cluster-policies N]");
                std::process::exit(2);
            }
        }
        i += 2;
    }

    let start = Instant::now();
    let mut cluster = generate(params);
    cluster.cluster_policies =
        autolabs_netpol::synthetic::cluster_policies(params.namespaces, cluster_policy_count);
    let generated = start.elapsed();

    let start = Instant::now();
    let analysis = match Analysis::new(&cluster, Options::default()) {
        Ok(a) => a,
        Err(errors) => {
            for e in errors.iter().take(10) {
                eprintln!("{e}");
            }
            std::process::exit(1);
        }
    };
    let built = start.elapsed();

    let start = Instant::now();
    let mut pairs = 0usize;
    let mut all_pairs = 0usize;
    for (_, _, conn) in analysis.connections() {
        pairs += 1;
        all_pairs += usize::from(conn.is_all());
    }
    let connected = start.elapsed();

    let start = Instant::now();
    let matrix = analysis.namespace_matrix();
    let dns = findings::dns_blocked(&analysis);
    let internet = findings::internet_egress(&analysis);
    let matrix_time = start.elapsed();

    println!(
        "pods={} namespaces={} policies={} cluster-policies={} classes={}",
        params.pods,
        params.namespaces,
        params.policies,
        cluster_policy_count,
        analysis.classes().len()
    );
    println!("generate:        {:>9.3} s", generated.as_secs_f64());
    println!("build analysis:  {:>9.3} s", built.as_secs_f64());
    println!(
        "all connections: {:>9.3} s  ({pairs} class pairs, {all_pairs} of them All)",
        connected.as_secs_f64()
    );
    println!(
        "matrix+findings: {:>9.3} s  ({} namespace pairs, {} dns gaps, {} internet-egress classes)",
        matrix_time.as_secs_f64(),
        matrix.len(),
        dns.len(),
        internet.len()
    );
    // The modelling checks `connlist`/`verify` add: named ports that cannot match, and
    // (worst case) every pod compared with the next one of its namespace as if one workload
    // grouped them.
    let start = Instant::now();
    let gaps = findings::named_port_gaps(&analysis, |_| true);
    let gaps_time = start.elapsed();
    let start = Instant::now();
    let distinguisher = findings::PodDistinguisher::new(&analysis);
    let index_time = start.elapsed();
    let mut ids: Vec<_> = analysis.pod_ids().collect();
    ids.sort_by_key(|&p| analysis.pod(p).map(|p| p.namespace.clone()));
    let same_ns = |w: &&[autolabs_netpol::PodId]| {
        analysis.pod(w[0]).map(|p| &p.namespace) == analysis.pod(w[1]).map(|p| &p.namespace)
    };
    let pairs: Vec<_> = ids.windows(2).filter(same_ns).collect();
    let told_apart = pairs.iter().filter(|w| distinguisher.first(w[0], w[1]).is_some()).count();
    let distinguish_time = start.elapsed();
    println!("named ports:     {:>9.3} s  ({} gaps)", gaps_time.as_secs_f64(), gaps.len());
    println!(
        "pod pairs:       {:>9.3} s  (index {:.3} s; {told_apart} of {} same-namespace neighbours told apart)",
        distinguish_time.as_secs_f64(),
        index_time.as_secs_f64(),
        pairs.len()
    );
    println!("build+connections: {:.3} s", (built + connected).as_secs_f64());
    match peak_memory_mib() {
        Some(m) => println!("peak memory (VmHWM): {m:.1} MiB"),
        None => println!("peak memory: unavailable"),
    }
}
