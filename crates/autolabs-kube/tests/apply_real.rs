//! `autolabs apply` proven on the real API server (the shared control plane `.ci/run` starts;
//! see `autolabs-testenv`), without touching the default baseline's fixed namespaces: each
//! test applies a small platform of its own — a unique platform name, every object in a test
//! namespace — so it runs in parallel with every other suite and leaves nothing behind.
//!
//! What is proven: a first apply creates; a re-apply is a no-op that writes nothing (resource
//! versions unchanged); a dry run writes nothing, prune included; `--prune` deletes only this
//! platform's unowned objects that are no longer rendered; a field another manager owns is a
//! conflict naming that manager until `--force` takes it over; kinds whose CRD is absent are
//! skipped with their warning.

use autolabs_kube::apply::{self, ApplyOptions, ApplyReport, ObjectResult};
use autolabs_model::Manifest;
use autolabs_model::topology::{MANAGED_BY, PLATFORM_LABEL};
use autolabs_testenv::Cluster;
use kube::api::Api;
use serde_json::{Value, json};

mod apply_common;
use apply_common::{assert_nothing_written, resource_version, snapshot};

fn manifest(value: Value) -> Manifest {
    let text = |pointer: &str| value.pointer(pointer).and_then(Value::as_str).map(str::to_string);
    Manifest {
        api_version: text("/apiVersion").expect("apiVersion"),
        kind: text("/kind").expect("kind"),
        namespace: text("/metadata/namespace"),
        name: text("/metadata/name").expect("name"),
        value,
    }
}

fn ours(platform: &str) -> Value {
    json!({MANAGED_BY.0: MANAGED_BY.1, PLATFORM_LABEL: platform})
}

fn config_map(ns: &str, name: &str, labels: Value, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": name, "namespace": ns, "labels": labels}, "data": data})
}

/// A small platform of several kinds in namespace `ns`, labelled as platform `platform`.
fn small_platform(ns: &str, platform: &str) -> Vec<Manifest> {
    let labels = ours(platform);
    let meta = |name: &str| json!({"name": name, "namespace": ns, "labels": labels.clone()});
    vec![
        config_map(ns, "settings", labels.clone(), json!({"mode": "v1"})),
        config_map(ns, "retired-later", labels.clone(), json!({"x": "1"})),
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta("worker")}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta("reader"),
               "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta("reader"),
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
               "subjects": [{"kind": "ServiceAccount", "name": "worker", "namespace": ns}]}),
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta("deny-all"),
               "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": meta("web"),
               "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}),
        json!({"apiVersion": "v1", "kind": "LimitRange", "metadata": meta("defaults"),
               "spec": {"limits": [{"type": "Container", "default": {"cpu": "500m", "memory": "256Mi"}}]}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("web"),
               "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                        "template": {"metadata": {"labels": {"app": "web"}},
                                     "spec": {"containers": [{"name": "web", "image": "local/busybox:1",
                                                              "imagePullPolicy": "Never"}]}}}}),
    ]
    .into_iter()
    .map(manifest)
    .collect()
}

fn assert_succeeded(report: &ApplyReport, step: &str) {
    let failures: Vec<String> = report.failures().map(ToString::to_string).collect();
    assert!(failures.is_empty(), "{step}: {failures:#?}");
}

fn outcome<'a>(report: &'a ApplyReport, id: &str) -> &'a ObjectResult {
    report
        .results
        .iter()
        .find(|r| r.key.to_string() == id)
        .unwrap_or_else(|| panic!("{id} not in the report"))
}

async fn run(cluster: &Cluster, desired: &[Manifest], options: &ApplyOptions) -> ApplyReport {
    apply::apply(&cluster.client(), desired, options, |r| eprintln!("{r}")).await.expect("apply runs")
}

#[tokio::test]
async fn first_apply_no_op_reapply_dry_run_and_prune_of_only_our_objects() {
    let Some(cluster) = autolabs_testenv::shared("apply_real: apply, re-apply, dry run, prune").await else {
        return;
    };
    let ns = cluster.namespace("apply-prune", &[]).await;
    let ns = ns.name().to_string();
    // The platform's name is the namespace's: unique, so no other run's objects carry it.
    let platform = ns.clone();
    let options = ApplyOptions::new(platform.clone());
    let v1 = small_platform(&ns, &platform);

    // A dry run of a first apply writes nothing.
    let dry = run(&cluster, &v1, &ApplyOptions { dry_run: true, ..options.clone() }).await;
    assert_succeeded(&dry, "dry run");
    assert_eq!(dry.count("created"), v1.len(), "{}", dry.summary());
    let absent = snapshot(&cluster, &v1).await;
    assert!(absent.values().all(Option::is_none), "a dry run created objects: {absent:#?}");

    let first = run(&cluster, &v1, &options).await;
    assert_succeeded(&first, "first apply");
    assert_eq!(first.count("created"), v1.len(), "{}", first.summary());
    let applied = snapshot(&cluster, &v1).await;
    assert!(applied.values().all(Option::is_some));

    let again = run(&cluster, &v1, &options).await;
    assert_succeeded(&again, "re-apply");
    assert_eq!(
        (again.count("created"), again.count("configured"), again.count("unchanged")),
        (0, 0, v1.len()),
        "{}",
        again.summary()
    );
    assert_nothing_written(&applied, &snapshot(&cluster, &v1).await, "re-apply");

    // Objects prune must leave alone, made by another field manager.
    let settings_uid = applied[&format!("{ns}/ConfigMap/settings")]
        .as_ref()
        .and_then(|o| o.pointer("/metadata/uid"))
        .and_then(Value::as_str)
        .expect("uid")
        .to_string();
    let mut owned = config_map(&ns, "foreign-owned-copy", ours(&platform), json!({}));
    owned["metadata"]["ownerReferences"] =
        json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "settings", "uid": settings_uid}]);
    let mut lab = ours(&platform);
    lab["autolabs.io/lab-id"] = json!("some-lab");
    let foreign: Vec<Manifest> = [
        config_map(&ns, "foreign-other-platform", ours(&format!("{platform}-other")), json!({})),
        config_map(
            &ns,
            "foreign-other-manager",
            json!({MANAGED_BY.0: "helm", PLATFORM_LABEL: platform}),
            json!({}),
        ),
        config_map(&ns, "foreign-lab", lab, json!({})),
        owned,
    ]
    .into_iter()
    .map(manifest)
    .collect();
    let file = tempfile(
        &ns,
        "foreign.json",
        &json!({"apiVersion": "v1", "kind": "List", "items": foreign.iter().map(|m| &m.value).collect::<Vec<_>>()}),
    );
    cluster.kubectl_ok(&["apply", "--server-side", "--field-manager", "other", "-f", &file]);
    std::fs::remove_file(&file).expect("remove temp file");

    // v2: one object changed, one retired, one new.
    let mut v2: Vec<Manifest> = v1.iter().filter(|m| m.name != "retired-later").cloned().collect();
    v2[0] = manifest(config_map(&ns, "settings", ours(&platform), json!({"mode": "v2"})));
    v2.push(manifest(config_map(&ns, "added", ours(&platform), json!({}))));
    let everything: Vec<Manifest> = v1.iter().chain(&foreign).chain(v2.last()).cloned().collect();
    let before = snapshot(&cluster, &everything).await;

    let prune = ApplyOptions { prune: true, ..options.clone() };
    let dry = run(&cluster, &v2, &ApplyOptions { dry_run: true, ..prune.clone() }).await;
    assert_succeeded(&dry, "dry run with prune");
    assert_eq!(outcome(&dry, &format!("{ns}/ConfigMap/settings")).outcome.word(), "configured");
    assert_eq!(outcome(&dry, &format!("{ns}/ConfigMap/added")).outcome.word(), "created");
    assert_eq!(outcome(&dry, &format!("{ns}/ConfigMap/retired-later")).outcome.word(), "pruned");
    assert_nothing_written(&before, &snapshot(&cluster, &everything).await, "dry run with prune");

    let pruned = run(&cluster, &v2, &prune).await;
    assert_succeeded(&pruned, "apply with prune");
    let pruned_ids: Vec<String> =
        pruned.results.iter().filter(|r| r.outcome.word() == "pruned").map(|r| r.key.to_string()).collect();
    assert_eq!(pruned_ids, [format!("{ns}/ConfigMap/retired-later")], "{}", pruned.summary());
    let after = snapshot(&cluster, &everything).await;
    assert!(after[&format!("{ns}/ConfigMap/retired-later")].is_none(), "the retired object is gone");
    assert!(after[&format!("{ns}/ConfigMap/added")].is_some());
    for m in &foreign {
        assert_eq!(
            resource_version(&after[&m.id()]),
            resource_version(&before[&m.id()]),
            "{} is not ours to prune and must be untouched",
            m.id()
        );
    }
    let settings = after[&format!("{ns}/ConfigMap/settings")].as_ref().expect("settings");
    assert_eq!(settings.pointer("/data/mode"), Some(&json!("v2")));
}

/// Writes `value` as a JSON file in the temp directory and returns its path.
fn tempfile(ns: &str, name: &str, value: &Value) -> String {
    let path = std::env::temp_dir().join(format!("{ns}-{name}"));
    std::fs::write(&path, serde_json::to_string(value).expect("json")).expect("write temp file");
    path.display().to_string()
}

#[tokio::test]
async fn a_field_another_manager_owns_conflicts_until_force_takes_it_over() {
    let Some(cluster) = autolabs_testenv::shared("apply_real: --force").await else { return };
    let ns = cluster.namespace("apply-force", &[]).await;
    let ns = ns.name().to_string();
    let platform = ns.clone();
    // Another manager sets data.mode first, by kubectl's server-side apply.
    let theirs = config_map(&ns, "settings", ours(&platform), json!({"mode": "theirs", "other": "kept"}));
    let file = tempfile(&ns, "theirs.json", &theirs);
    cluster.kubectl_ok(&["apply", "--server-side", "--field-manager", "other", "-f", &file]);
    std::fs::remove_file(&file).expect("remove temp file");

    let desired = vec![manifest(config_map(&ns, "settings", ours(&platform), json!({"mode": "ours"})))];
    let options = ApplyOptions::new(platform);
    let id = format!("{ns}/ConfigMap/settings");
    for dry_run in [true, false] {
        let refused = run(&cluster, &desired, &ApplyOptions { dry_run, ..options.clone() }).await;
        let result = outcome(&refused, &id);
        let message = match &result.outcome {
            apply::Outcome::Failed(message) => message.clone(),
            other => panic!("dry run {dry_run}: expected a conflict, got {other:?}"),
        };
        assert!(
            message.contains("conflict") && message.contains("\"other\""),
            "names the other manager: {message}"
        );
        assert!(message.contains(".data.mode"), "names the field: {message}");
        assert!(message.contains("--force"), "says what to do: {message}");
    }
    let live = |cluster: &Cluster| {
        let api: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(cluster.client(), &ns);
        async move { api.get("settings").await.expect("settings") }
    };
    assert_eq!(live(&cluster).await.data.expect("data")["mode"], "theirs", "nothing changed without --force");

    let forced = run(&cluster, &desired, &ApplyOptions { force: true, ..options.clone() }).await;
    assert_succeeded(&forced, "--force");
    assert_eq!(outcome(&forced, &id).outcome.word(), "configured");
    let object = live(&cluster).await;
    let data = object.data.clone().expect("data");
    assert_eq!(
        (data["mode"].as_str(), data["other"].as_str()),
        ("ours", "kept"),
        "only our field changed hands"
    );
    let owns_mode = |manager: &str| {
        object.metadata.managed_fields.iter().flatten().any(|entry| {
            entry.manager.as_deref() == Some(manager)
                && entry.fields_v1.as_ref().is_some_and(|f| f.0.pointer("/f:data/f:mode").is_some())
        })
    };
    assert!(owns_mode(apply::FIELD_MANAGER) && !owns_mode("other"), "autolabs now owns data.mode");
    // And the next plain apply is a no-op: the conflict is gone.
    let again = run(&cluster, &desired, &options).await;
    assert_eq!(outcome(&again, &id).outcome.word(), "unchanged");
}

#[tokio::test]
async fn kinds_whose_crd_is_absent_are_skipped_with_their_warning() {
    let Some(cluster) = autolabs_testenv::shared("apply_real: CRD kinds skipped").await else { return };
    let client = cluster.client();
    let desired: Vec<Manifest> = autolabs_model::render(&autolabs_model::Platform::default())
        .manifests
        .into_iter()
        .filter(|m| matches!(m.kind.as_str(), "VolumeSnapshotClass" | "PrometheusRule"))
        .collect();
    let mut aws = autolabs_model::Platform::default();
    aws.spec.provider = autolabs_model::Provider::Aws;
    let desired: Vec<Manifest> = desired
        .into_iter()
        .chain(autolabs_model::render(&aws).manifests.into_iter().filter(|m| m.kind == "VolumeSnapshotClass"))
        .collect();
    let kinds: Vec<&str> = desired.iter().map(|m| m.kind.as_str()).collect();
    assert!(kinds.contains(&"VolumeSnapshotClass") && kinds.contains(&"PrometheusRule"), "{kinds:?}");
    // Precondition: the control plane has neither CRD (nothing here installs them).
    let served = apply::discover(&client, &apply::groups_needed(&desired)).await.expect("discovery");
    for m in &desired {
        assert!(
            served.get(&m.api_version, &m.kind).is_none(),
            "{} is served: this test needs its CRD absent",
            m.kind
        );
    }
    // A unique platform name: these objects are never sent, but prune must find nothing either.
    let options =
        ApplyOptions { prune: true, ..ApplyOptions::new(autolabs_testenv::unique_name("crd-skip")) };
    let report = run(&cluster, &desired, &options).await;
    assert_succeeded(&report, "skips are not failures");
    assert_eq!(report.count("skipped"), desired.len(), "{}", report.summary());
    for result in &report.results {
        let apply::Outcome::Skipped(warning) = &result.outcome else { panic!("{result}") };
        let hint =
            if result.key.kind == "PrometheusRule" { "Prometheus Operator" } else { "external-snapshotter" };
        assert!(warning.contains("CRD absent") && warning.contains(hint), "{result}");
    }
}

#[tokio::test]
async fn a_re_apply_sends_nothing_for_what_is_up_to_date_and_still_sees_every_change() {
    let Some(cluster) = autolabs_testenv::shared("apply_real: up-to-date objects are not sent").await else {
        return;
    };
    let ns = cluster.namespace("apply-uptodate", &[]).await;
    let ns = ns.name().to_string();
    let platform = ns.clone();
    let options = ApplyOptions::new(platform.clone());
    let labels = ours(&platform);
    let meta = |name: &str| json!({"name": name, "namespace": ns, "labels": labels.clone()});
    // The small platform, plus the two kinds the server rewrites: a Secret's write-only
    // stringData, a StatefulSet's defaulted claim templates.
    // What this test proves needs bodies the server keeps as they are: a list key it would
    // default (a port's protocol) or a value it would fill in (a LimitRange's defaultRequest)
    // cannot be proven unchanged, so those are sent, as the first test shows.
    let mut desired = small_platform(&ns, &platform);
    for m in &mut desired {
        match m.kind.as_str() {
            "Service" => m.value["spec"]["ports"][0]["protocol"] = json!("TCP"),
            "LimitRange" => {
                m.value["spec"]["limits"][0]["defaultRequest"] = json!({"cpu": "500m", "memory": "256Mi"})
            }
            _ => {}
        }
    }
    desired.extend(
        [
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": meta("credentials"), "type": "Opaque",
                   "stringData": {"config.yaml": "user: lab\n"}}),
            json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta("db"),
                   "spec": {"serviceName": "db", "replicas": 1, "selector": {"matchLabels": {"app": "db"}},
                            "template": {"metadata": {"labels": {"app": "db"}},
                                         "spec": {"containers": [{"name": "db", "image": "local/busybox:1",
                                                                  "imagePullPolicy": "Never"}]}},
                            "volumeClaimTemplates": [{"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                "metadata": {"name": "data"},
                                "spec": {"accessModes": ["ReadWriteOnce"],
                                         "resources": {"requests": {"storage": "1Gi"}}}}]}}),
        ]
        .into_iter()
        .map(manifest),
    );
    let first = run(&cluster, &desired, &options).await;
    assert_succeeded(&first, "first apply");
    assert_eq!(first.count("created"), desired.len(), "{}", first.summary());

    // A reader that may get and list in this namespace and write nothing: a PATCH sent for
    // an object that is up to date would fail as Forbidden. Its cluster-wide LISTs are
    // forbidden too, so this also reads every object the slow way, one GET each.
    cluster.kubectl_ok(&["create", "serviceaccount", "read-only", "-n", &ns]);
    cluster.kubectl_ok(&["create", "role", "read-only", "--verb=get,list", "--resource=*.*", "-n", &ns]);
    let subject = format!("{ns}:read-only");
    cluster.kubectl_ok(&[
        "create",
        "rolebinding",
        "read-only",
        "--role=read-only",
        "--serviceaccount",
        &subject,
        "-n",
        &ns,
    ]);
    let reader = cluster.service_account_client(&ns, "read-only").await;
    let applied = snapshot(&cluster, &desired).await;
    let again = apply::apply(&reader, &desired, &options, |r| eprintln!("{r}")).await.expect("re-apply");
    assert_succeeded(&again, "re-apply with read rights only: nothing was sent");
    assert_eq!(again.count("unchanged"), desired.len(), "{}", again.summary());
    // The admin's re-apply reads by LIST; nothing is written either way.
    let again = run(&cluster, &desired, &options).await;
    assert_eq!(again.count("unchanged"), desired.len(), "{}", again.summary());
    assert_nothing_written(&applied, &snapshot(&cluster, &desired).await, "re-apply");

    // A label of ours removed by hand (it also drops out of the labelled LIST): sent, restored.
    cluster.kubectl_ok(&["label", "configmap", "settings", "-n", &ns, &format!("{PLATFORM_LABEL}-")]);
    // A field dropped from the rendering: sent, and gone from the server.
    let settings = format!("{ns}/ConfigMap/settings");
    let retired = format!("{ns}/ConfigMap/retired-later");
    let mut changed = desired.clone();
    for m in &mut changed {
        if m.id() == retired {
            m.value["data"] = json!({});
        }
    }
    let repaired = run(&cluster, &changed, &options).await;
    assert_succeeded(&repaired, "repair");
    assert_eq!(outcome(&repaired, &settings).outcome.word(), "configured");
    assert_eq!(outcome(&repaired, &retired).outcome.word(), "configured");
    assert_eq!(repaired.count("unchanged"), desired.len() - 2, "{}", repaired.summary());
    let after = snapshot(&cluster, &changed).await;
    let live = |id: &str| after[id].clone().expect("present");
    assert_eq!(
        live(&settings).pointer(&format!("/metadata/labels/{}", PLATFORM_LABEL.replace('/', "~1"))),
        Some(&json!(platform))
    );
    assert_eq!(live(&retired).pointer("/data/x"), None, "the dropped key is removed");
}
