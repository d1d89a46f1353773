//! End to end against a real cluster: the control plane `.ci/run` starts (see
//! `autolabs-testenv`); without one it prints NOT RUN and passes, under `CI=true` it fails.
//!
//! It applies the built-in default baseline for real (platform `autolabs`), so point it at a
//! throw-away cluster: a server dry run first (kube-apiserver accepts every object), then the
//! apply, then a re-apply that must change nothing and write nothing (resource versions
//! compared), then the live read must hold every applied object. Nothing is deleted
//! afterwards. This is the only suite that applies the default baseline to the shared
//! control plane (its namespaces are fixed); the destructive apply tests use clusters or
//! platforms of their own (`apply_real.rs`, `apply_provider_switch.rs`).

use std::collections::BTreeSet;

use autolabs_kube::apply::{self, ApplyOptions, ApplyReport};
use autolabs_kube::live::{self, LIVE_KINDS};
use autolabs_model::{Platform, render};

mod apply_common;

fn assert_succeeded(report: &ApplyReport, step: &str) {
    let failures: Vec<String> = report.failures().map(ToString::to_string).collect();
    assert!(failures.is_empty(), "{step}: {failures:#?}");
}

#[tokio::test]
async fn the_baseline_applies_to_a_real_cluster_and_reapplies_as_a_no_op() {
    let Some(cluster) = autolabs_testenv::shared("apply_e2e").await else { return };
    let client = cluster.client();
    let desired = render(&Platform::default()).manifests;
    let options = ApplyOptions::new("autolabs");
    let print = |r: &apply::ObjectResult| eprintln!("{r}");

    let dry = apply::apply(&client, &desired, &ApplyOptions { dry_run: true, ..options.clone() }, print)
        .await
        .expect("dry run");
    assert_succeeded(&dry, "server dry run");

    let first = apply::apply(&client, &desired, &options, print).await.expect("apply");
    assert_succeeded(&first, "apply");
    eprintln!("apply: {}", first.summary());

    let applied = apply_common::snapshot(&cluster, &desired).await;
    let again = apply::apply(&client, &desired, &options, print).await.expect("re-apply");
    assert_succeeded(&again, "re-apply");
    assert_eq!(
        (again.count("created"), again.count("configured")),
        (0, 0),
        "re-applying is a no-op: {}",
        again.summary()
    );
    // … and writes nothing: every resource version is the same (or only a controller's status
    // write moved it).
    apply_common::assert_nothing_written(
        &applied,
        &apply_common::snapshot(&cluster, &desired).await,
        "re-apply",
    );

    let set = live::read_cluster(&client).await.expect("live read");
    let read: BTreeSet<String> = set.objects.iter().map(|o| o.id()).collect();
    let skipped: BTreeSet<String> =
        first.results.iter().filter(|r| r.outcome.word() == "skipped").map(|r| r.key.to_string()).collect();
    for m in &desired {
        let listed =
            LIVE_KINDS.iter().any(|k| k.kind == m.kind && k.api_resource().api_version == m.api_version);
        if listed && !skipped.contains(&m.id()) {
            assert!(read.contains(&m.id()), "{} was applied but the live read lacks it", m.id());
        }
    }
}
