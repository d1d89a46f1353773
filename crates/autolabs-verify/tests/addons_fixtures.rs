//! Real chart output: `helm template` of each pinned chart with the values `render` writes
//! (`tests/fixtures/addons/`, made by `addons/regen-fixtures`, provenance in its PROVENANCE),
//! read by `verify` together with the rendered baseline.
//!
//! - the set decodes strictly (the chart output is valid Kubernetes);
//! - the facts table matches the real output: ServiceAccounts, pod labels, requests of each
//!   controller, and exactly the ClusterRoles and Roles the table says the chart creates;
//! - `verify` proves the isolation matrix over the real controller pods and finds no error
//!   (Pod Security at each namespace's level, RBAC, quota admission, hygiene).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use autolabs_model::addons::charts::charts_for;
use autolabs_model::platform::{Platform, Profile, Provider};
use autolabs_model::render;
use autolabs_verify::{ObjectSet, Options, Severity};

/// The platforms `addons/regen-fixtures` templated the charts for.
const PLATFORMS: [(&str, Profile, Provider); 2] = [
    ("mvp-proxmox", Profile::Mvp, Provider::Proxmox),
    ("production-aws", Profile::Production, Provider::Aws),
];

/// Workloads an operator makes from a custom resource: not in `helm template` output.
const MADE_BY_OPERATORS: [&str; 2] =
    ["prometheus-kube-prometheus-stack-prometheus", "alertmanager-kube-prometheus-stack-alertmanager"];

fn fixture_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/addons").join(name)
}

/// The rendered baseline plus the chart output of one platform.
fn set_of(name: &str, p: &Platform) -> ObjectSet {
    let mut set = ObjectSet::default();
    set.add_text(&autolabs_model::output::to_stream(&render(p)), "baseline.yaml");
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(fixture_dir(name)).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(!files.is_empty(), "{name}: no fixtures");
    for f in files {
        set.add_text(&std::fs::read_to_string(&f).unwrap(), &f.display().to_string());
    }
    set
}

#[test]
fn chart_output_decodes_strictly() {
    for (name, profile, provider) in PLATFORMS {
        let set = set_of(name, &Platform::for_profile(profile, provider));
        assert!(set.errors.is_empty(), "{name}: {:#?}", set.errors);
    }
}

#[test]
fn the_facts_table_matches_the_chart_output() {
    for (name, profile, provider) in PLATFORMS {
        let p = Platform::for_profile(profile, provider);
        let set = set_of(name, &p);
        let from_chart = |o: &&autolabs_verify::Object| o.file.contains("fixtures/addons");
        for c in charts_for(&p.spec) {
            let file = format!("{}.yaml", c.release);
            let objects: Vec<&autolabs_verify::Object> =
                set.objects.iter().filter(from_chart).filter(|o| o.file.ends_with(&file)).collect();
            assert!(!objects.is_empty(), "{name}: no output of {}", c.release);
            let names = |kind: &str, namespaced: bool| -> BTreeSet<String> {
                objects
                    .iter()
                    .filter(|o| o.kind == kind)
                    .map(|o| match (namespaced, &o.namespace) {
                        (true, Some(ns)) => format!("{ns}/{}", o.name),
                        _ => o.name.clone(),
                    })
                    .collect()
            };
            let want_cluster_roles: BTreeSet<String> =
                c.cluster_roles.iter().map(|s| s.to_string()).collect();
            assert_eq!(names("ClusterRole", false), want_cluster_roles, "{name}: {} ClusterRoles", c.release);
            let want_roles: BTreeSet<String> = c.roles.iter().map(|s| s.to_string()).collect();
            assert_eq!(names("Role", true), want_roles, "{name}: {} Roles", c.release);
            for w in c.workloads {
                let Some(o) = objects.iter().find(|o| o.kind == w.kind && o.name == w.name) else {
                    assert!(
                        MADE_BY_OPERATORS.contains(&w.name),
                        "{name}: {} has no {} {}",
                        c.release,
                        w.kind,
                        w.name
                    );
                    continue;
                };
                assert_eq!(o.namespace.as_deref(), Some(w.namespace), "{name}: {}", w.name);
                let t = o.pod_template().unwrap();
                let sa = t.spec.service_account_name.as_deref().unwrap_or("default");
                assert_eq!(sa, w.service_account, "{name}: {} ServiceAccount", w.name);
                let labels = t.meta.labels.clone().unwrap_or_default();
                for (k, v) in w.pod_labels() {
                    assert_eq!(labels.get(k).map(String::as_str), Some(v), "{name}: {} label {k}", w.name);
                }
                assert_eq!(
                    t.spec.host_network.unwrap_or(false),
                    w.host_network,
                    "{name}: {} hostNetwork",
                    w.name
                );
                for fact in w.containers {
                    let Some(real) = t.spec.containers.iter().find(|rc| rc.name == fact.name) else {
                        panic!("{name}: {} has no container {}", w.name, fact.name)
                    };
                    let requests: BTreeMap<String, String> = real
                        .resources
                        .as_ref()
                        .and_then(|r| r.requests.clone())
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(k, v)| (k, v.0))
                        .collect();
                    let want: BTreeMap<String, String> = fact
                        .requests
                        .map(|(cpu, mem)| {
                            BTreeMap::from([("cpu".into(), cpu.into()), ("memory".into(), mem.into())])
                        })
                        .unwrap_or_default();
                    assert_eq!(requests, want, "{name}: {}/{} requests", w.name, fact.name);
                    let ports: BTreeSet<i32> =
                        real.ports.iter().flatten().map(|p| p.container_port).collect();
                    for port in fact.ports {
                        assert!(
                            ports.contains(&i32::from(*port)),
                            "{name}: {}/{} port {port}: {ports:?}",
                            w.name,
                            fact.name
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn verify_proves_the_matrix_over_the_real_controller_pods() {
    for (name, profile, provider) in PLATFORMS {
        let p = Platform::for_profile(profile, provider);
        let set = set_of(name, &p);
        let report = autolabs_verify::run(
            &set,
            &Options { platform: Some(p), whole_platform: true, ..Options::default() },
        );
        let errors: Vec<String> = report
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| {
                format!(
                    "{} {} {}: {}",
                    f.engine,
                    f.rule,
                    f.object.as_ref().map(|o| o.display()).unwrap_or_default(),
                    f.message
                )
            })
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:#?}");
        assert!(report.proof.is_some(), "{name}: the intent engine did not run");
    }
}
