//! What the real-server apply suites share: reading what the server holds for a set of
//! manifests, and checking that nothing was written in between.

use std::collections::BTreeMap;

use autolabs_kube::apply;
use autolabs_model::Manifest;
use autolabs_testenv::Cluster;
use kube::api::{Api, DynamicObject};
use serde_json::Value;

/// Every manifest's object as the server has it now (`None`: absent, or its kind is not
/// served), by id.
pub async fn snapshot(cluster: &Cluster, objects: &[Manifest]) -> BTreeMap<String, Option<Value>> {
    let client = cluster.client();
    let groups = apply::groups_needed(objects);
    let served = apply::discover(&client, &groups).await.expect("discovery");
    let mut found = BTreeMap::new();
    for m in objects {
        let Some(kind) = served.get(&m.api_version, &m.kind) else {
            found.insert(m.id(), None);
            continue;
        };
        let resource = kind.api_resource();
        let api: Api<DynamicObject> = match (&m.namespace, kind.namespaced) {
            (Some(ns), true) => Api::namespaced_with(client.clone(), ns, &resource),
            _ => Api::all_with(client.clone(), &resource),
        };
        let live = api.get_opt(&m.name).await.unwrap_or_else(|e| panic!("get {}: {e}", m.id()));
        found.insert(m.id(), live.map(|o| serde_json::to_value(o).expect("json")));
    }
    found
}

pub fn resource_version(object: &Option<Value>) -> Option<&str> {
    object.as_ref()?.pointer("/metadata/resourceVersion")?.as_str()
}

/// Asserts nothing was written between two snapshots: every resource version is the same,
/// except where a controller wrote only status (a Deployment's, a ResourceQuota's): then the
/// object without status and server bookkeeping, its generation, and autolabs' managedFields
/// entry must all be the same.
pub fn assert_nothing_written(
    before: &BTreeMap<String, Option<Value>>,
    after: &BTreeMap<String, Option<Value>>,
    step: &str,
) {
    assert_eq!(before.keys().collect::<Vec<_>>(), after.keys().collect::<Vec<_>>());
    for (id, old) in before {
        let new = &after[id];
        assert_eq!(old.is_some(), new.is_some(), "{step}: {id} appeared or vanished");
        if resource_version(old) == resource_version(new) {
            continue;
        }
        let (old, new) = (old.as_ref().expect("present"), new.as_ref().expect("present"));
        let ours = |o: &Value| {
            o.pointer("/metadata/managedFields")
                .and_then(Value::as_array)
                .and_then(|fields| fields.iter().find(|f| f["manager"] == apply::FIELD_MANAGER).cloned())
        };
        assert_eq!(ours(old), ours(new), "{step}: {id}: autolabs' managed fields changed");
        assert_eq!(apply::comparable(old), apply::comparable(new), "{step}: {id} changed beyond status");
        assert_eq!(old.pointer("/metadata/generation"), new.pointer("/metadata/generation"), "{step}: {id}");
        eprintln!("{step}: {id}: only status changed (a controller's write)");
    }
}
