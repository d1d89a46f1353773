//! Throughput of pod admission and capacity planning (`cargo bench -p autolabs-resources`).
//! Prints figures; it is not a timed test and asserts nothing about speed.

use std::hint::black_box;
use std::time::Instant;

use autolabs_k8s::k8s::{LimitRange, Pod, ResourceQuota};
use autolabs_resources::capacity::{NodeCapacity, capacity, findings};
use autolabs_resources::{Namespace, admit_pod};
use serde_json::Value;

fn load(dir: &std::path::Path, setup: &str, cases: &str) -> Option<(Namespace, Vec<Pod>)> {
    let setup = std::fs::read_to_string(dir.join(setup)).ok()?;
    let docs: Vec<Value> = serde_saphyr::from_multiple(&setup).ok()?;
    let mut lrs: Vec<LimitRange> = Vec::new();
    let mut quotas: Vec<ResourceQuota> = Vec::new();
    for doc in docs {
        match doc["kind"].as_str() {
            Some("LimitRange") => lrs.push(serde_json::from_value(doc).ok()?),
            Some("ResourceQuota") => quotas.push(serde_json::from_value(doc).ok()?),
            _ => {}
        }
    }
    let ns = Namespace::from_k8s(&lrs, &quotas).ok()?;
    let text = std::fs::read_to_string(dir.join(cases)).ok()?;
    let pods = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| serde_json::from_value(v["pod"].clone()).ok())
        .collect();
    Some((ns, pods))
}

fn main() {
    let Some(dir) = autolabs_testenv::conformance_dir().map(|dir| dir.join("admission")) else { return };
    let Some((ns, pods)) = load(&dir, "setup.yaml", "cases.jsonl") else {
        eprintln!("conformance data not found under {}; set AUTOLABS_CONFORMANCE_DIR", dir.display());
        return;
    };
    let rounds = 200;
    let start = Instant::now();
    let mut admitted = 0usize;
    for _ in 0..rounds {
        for pod in &pods {
            admitted += usize::from(admit_pod(black_box(&ns), black_box(pod)).is_ok());
        }
    }
    let elapsed = start.elapsed();
    let total = rounds * pods.len();
    println!(
        "admit_pod: {total} admissions in {:.3} s = {:.1} µs/pod, {:.0} pods/s ({} admitted)",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / total as f64,
        total as f64 / elapsed.as_secs_f64(),
        admitted / rounds
    );

    let nodes: Vec<NodeCapacity> = (0..50)
        .map(|i| NodeCapacity {
            name: format!("node-{i}"),
            allocatable: [("cpu", "8"), ("memory", "16Gi"), ("pods", "110"), ("ephemeral-storage", "200Gi")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), autolabs_k8s::Quantity::parse(v).expect("quantity")))
                .collect(),
        })
        .collect();
    let start = Instant::now();
    let iterations = 2000;
    for i in 0..iterations {
        black_box(capacity(&ns, &pods[i % pods.len()], &nodes));
    }
    let elapsed = start.elapsed();
    println!(
        "capacity (50 nodes): {iterations} reports in {:.3} s = {:.1} µs/report",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / iterations as f64
    );
    let start = Instant::now();
    for _ in 0..iterations {
        black_box(findings(&ns, &nodes));
    }
    let elapsed = start.elapsed();
    println!("findings (50 nodes): {:.1} µs/run", elapsed.as_secs_f64() * 1e6 / iterations as f64);
}
