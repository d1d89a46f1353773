//! LimitRange and ResourceQuota: would the API server admit each pod (and each workload's
//! pods) in its namespace, and can the namespace's settings work at all?
//!
//! Capacity is judged against the inputs' Node objects when they hold any (what the cluster
//! reports), else against the nodes the caller passes (platform.yaml's, `verify -f`).

use std::collections::BTreeMap;

use autolabs_resources::capacity::{NodeCapacity, findings as capacity_findings};
use autolabs_resources::{Namespace, RejectionSource, admit_pod};
use k8s_openapi::api::core::v1::{LimitRange, Pod, ResourceQuota};

use crate::finding::{Finding, Severity};
use crate::objects::{Object, ObjectSet, PodTemplate};

/// A namespace's LimitRanges, quotas and pod-running objects.
type NamespaceInputs<'a> = (Vec<LimitRange>, Vec<ResourceQuota>, Vec<(&'a Object, PodTemplate)>);

pub fn check(set: &ObjectSet, nodes: &[NodeCapacity]) -> Vec<Finding> {
    let (from_inputs, mut out) = nodes_in(set);
    let nodes: &[NodeCapacity] = if from_inputs.is_empty() { nodes } else { &from_inputs };
    let mut by_ns: BTreeMap<String, NamespaceInputs> = BTreeMap::new();
    for o in &set.objects {
        let ns = o.namespace.clone().unwrap_or_else(|| "default".into());
        match (o.group(), o.kind.as_str()) {
            ("", "LimitRange") => match o.typed::<LimitRange>() {
                Ok(lr) => by_ns.entry(ns).or_default().0.push(lr),
                Err(e) => out.push(
                    Finding::new(
                        "resources",
                        "invalid-object",
                        Severity::Error,
                        format!("cannot read LimitRange: {e}"),
                    )
                    .at(o, ""),
                ),
            },
            ("", "ResourceQuota") => match o.typed::<ResourceQuota>() {
                Ok(q) => by_ns.entry(ns).or_default().1.push(q),
                Err(e) => out.push(
                    Finding::new(
                        "resources",
                        "invalid-object",
                        Severity::Error,
                        format!("cannot read ResourceQuota: {e}"),
                    )
                    .at(o, ""),
                ),
            },
            _ => {}
        }
    }
    for o in &set.objects {
        // Decode each pod template once; it is read by admission and capacity below.
        if let Some(t) = o.pod_template() {
            let ns = o.namespace.clone().unwrap_or_else(|| "default".into());
            by_ns.entry(ns).or_default().2.push((o, t));
        }
    }
    for (ns, (lrs, quotas, pods)) in by_ns {
        let namespace = match Namespace::from_k8s(&lrs, &quotas) {
            Ok(n) => n,
            Err(e) => {
                out.push(Finding::new(
                    "resources",
                    "invalid-object",
                    Severity::Error,
                    format!("namespace {ns:?}: {e}"),
                ));
                continue;
            }
        };
        for f in capacity_findings(&namespace, nodes) {
            let severity = match f.severity {
                autolabs_resources::capacity::Severity::Error => Severity::Error,
                autolabs_resources::capacity::Severity::Warning => Severity::Warning,
            };
            let mut finding = Finding::new(
                "resources",
                f.code,
                severity,
                format!("namespace {ns:?}: {}: {}", f.object, f.message),
            );
            if let Some(obj) = find_object(set, &ns, &f.object) {
                finding = finding.at(obj, "spec");
            }
            out.push(finding);
        }
        for (o, t) in pods {
            let mut meta = t.meta.clone();
            if meta.name.is_none() {
                meta.name = Some(o.name.clone());
            }
            meta.namespace = Some(ns.clone());
            let pod = Pod { metadata: meta, spec: Some(t.spec.clone()), status: None };
            // How many more of these pods fit the quota (and the nodes, when known).
            if o.kind != "Pod" && !namespace.quotas.is_empty() {
                let report = autolabs_resources::capacity::capacity(&namespace, &pod, nodes);
                if report.rejection.is_none() {
                    out.push(
                        Finding::new(
                            "resources",
                            "capacity",
                            Severity::Info,
                            format!("{} {}: {}", o.kind, o.name, report.summary),
                        )
                        .at(o, &t.spec_path),
                    );
                }
            }
            if let Err(r) = admit_pod(&namespace, &pod) {
                let rule = match r.source {
                    RejectionSource::Decode => "invalid-quantity",
                    RejectionSource::Validation => "pod-invalid",
                    RejectionSource::LimitRanger => "limitrange-rejects",
                    RejectionSource::ResourceQuota => "quota-rejects",
                };
                let what = if o.kind == "Pod" {
                    "the API server rejects this pod".to_string()
                } else {
                    format!("the pods of this {} are rejected", o.kind)
                };
                out.push(
                    Finding::new(
                        "resources",
                        rule,
                        Severity::Error,
                        format!("{what} ({} {}): {}", r.status, source_name(r.source), r.message),
                    )
                    .at(o, &format!("{}.containers", t.spec_path)),
                );
            }
        }
    }
    out
}

/// The schedulable Nodes among the inputs, by `status.allocatable` (or `status.capacity` when
/// a Node reports no allocatable). Cordoned nodes (`spec.unschedulable`) take no new pods.
// The scheduler's NodeResourcesFit reads allocatable: k8s.io/kubernetes/pkg/scheduler/framework/
// plugins/noderesources/fit.go fitsRequest; cordoning: plugins/nodeunschedulable.
pub fn nodes_in(set: &ObjectSet) -> (Vec<NodeCapacity>, Vec<Finding>) {
    let mut nodes = Vec::new();
    let mut problems = Vec::new();
    for o in set.of_kind("", "Node") {
        if o.value["spec"]["unschedulable"].as_bool() == Some(true) {
            continue;
        }
        let field = if o.value["status"]["allocatable"].is_object() { "allocatable" } else { "capacity" };
        let Some(map) = o.value["status"][field].as_object() else { continue };
        let mut allocatable = autolabs_resources::resource_list::ResourceList::new();
        for (name, value) in map {
            let parsed = value
                .as_str()
                .map(|v| autolabs_k8s::Quantity::parse(v).map_err(|e| e.to_string()))
                .unwrap_or_else(|| Err(format!("{value} is not a quantity string")));
            match parsed {
                Ok(q) => {
                    allocatable.insert(name.clone(), q);
                }
                Err(e) => problems.push(
                    Finding::new(
                        "resources",
                        "invalid-quantity",
                        Severity::Error,
                        format!("Node {}: status.{field}[{name}]: {e}", o.name),
                    )
                    .at(o, &format!("status.{field}.{name}")),
                ),
            }
        }
        nodes.push(NodeCapacity { name: o.name.clone(), allocatable });
    }
    (nodes, problems)
}

fn source_name(s: RejectionSource) -> &'static str {
    match s {
        RejectionSource::Decode => "decode",
        RejectionSource::Validation => "validation",
        RejectionSource::LimitRanger => "LimitRanger",
        RejectionSource::ResourceQuota => "ResourceQuota",
    }
}

/// `LimitRange/NAME` → the object in the set.
fn find_object<'a>(set: &'a ObjectSet, ns: &str, reference: &str) -> Option<&'a Object> {
    let (kind, name) = reference.split_once('/')?;
    set.objects
        .iter()
        .find(|o| o.kind == kind && o.name == name && o.namespace.as_deref().unwrap_or("default") == ns)
}
