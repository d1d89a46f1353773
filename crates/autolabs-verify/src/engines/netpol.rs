//! NetworkPolicy: the object set as the netpol engine's cluster, and the generic findings
//! (used when there is no intent to prove against).
//!
//! # Pods and workloads
//!
//! Workloads stand for their pods through their pod template (one representative pod each,
//! named `Kind/name`). Each pod of the analysis belongs to one [`Workload`], decided from its
//! object's **controller** ownerReference (the one with `controller: true`):
//!
//! - none: the object is its own workload (`ns/name[Pod]`, `ns/web[Deployment]`);
//! - a `Node` (a static pod's mirror pod, `kube-system/kube-apiserver-node1`): the Pod is its
//!   own workload `ns/name[Pod]` — np-guard drops Node owners the same way
//!   (`pkg/netpol/eval/internal/k8s/pod.go` `addPodOwner`);
//! - an object of the input that runs pods (has a pod template): the object is left out, its
//!   owner's template stands for it — so Pod → ReplicaSet → Deployment all resolve to the
//!   Deployment when those objects are present (a chain of owners that comes back on itself
//!   is a warning, and each object in it is its own workload);
//! - anything else (owner absent from the input, or an owner kind without a pod template):
//!   a Pod is listed under the owner reference `ns/owner[Kind]` as np-guard does; a workload
//!   object (a ReplicaSet whose Deployment is absent) is listed as itself;
//! - a reference without `kind` or `name`, which the API server refuses
//!   (`k8s.io/apimachinery/pkg/api/validation/objectmeta.go` `validateOwnerReference`: "kind
//!   must not be empty"): a warning, and the object is its own workload.
//!
//! Pods that one workload groups are listed as one, so they must be treated alike: when a
//! policy selector selects some of them and not others — or selects a left-out object (a Pod
//! relabelled by hand) differently from the owner template standing for it — that is an
//! error naming both, the policy and the selector (np-guard refuses such input too).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use autolabs_netpol::{
    Analysis, ClassId, Cluster, HostNetwork, Namespace, NetpolError, Options, Pod, findings,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use serde_json::Value;

use crate::connlist::Workload;
use crate::finding::{Finding, Severity};
use crate::objects::{Object, ObjectSet, PodTemplate};

/// The netpol cluster of an object set, and where each pod and policy came from.
pub struct Built<'a> {
    pub cluster: Cluster,
    /// Pod name in the cluster → the object it stands for.
    pub sources: BTreeMap<(String, String), &'a Object>,
    /// Pod name in the cluster → the workload it is listed under.
    pub workloads: BTreeMap<(String, String), Workload>,
    /// Objects left out because an input object's template stands for their pods.
    pub stand_ins: Vec<StandIn<'a>>,
    pub problems: Vec<Finding>,
}

/// An object left out of the cluster because its owner's template (`by`, a pod name of the
/// cluster) stands for it; its own labels are kept to check that policies agree.
pub struct StandIn<'a> {
    pub object: &'a Object,
    pub labels: BTreeMap<String, String>,
    pub by: (String, String),
}

/// The controller ownerReference of an object, with its index in `ownerReferences`
/// (`metav1.GetControllerOf`: the first reference with `controller: true`).
fn controller_of(o: &Object) -> Option<(usize, &Value)> {
    o.value["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .enumerate()
        .find(|(_, r)| r["controller"].as_bool() == Some(true))
}

/// Where an object's pods go: left out (another input object's template stands for them)
/// or listed under a workload, plus a warning for references we cannot follow.
enum Placement<'a> {
    Owned { by: &'a Object },
    Listed(Workload, Option<Box<Finding>>),
}

/// Objects that run pods (have a pod template), by (namespace, kind, name).
type PodRunners<'a> = HashMap<(String, String, String), &'a Object>;

fn namespace_of(o: &Object) -> String {
    o.namespace.clone().unwrap_or_else(|| "default".into())
}

/// The input object that runs pods and is `o`'s controller, when there is one.
fn controlling_runner<'a>(o: &Object, runners: &PodRunners<'a>) -> Option<&'a Object> {
    let (_, owner) = controller_of(o)?;
    let kind = owner["kind"].as_str().filter(|k| !k.is_empty() && *k != "Node")?;
    let name = owner["name"].as_str().filter(|n| !n.is_empty())?;
    runners.get(&(namespace_of(o), kind.to_string(), name.to_string())).copied()
}

fn place<'a>(o: &'a Object, runners: &PodRunners<'a>) -> Placement<'a> {
    let namespace = namespace_of(o);
    let itself = Workload { namespace: namespace.clone(), name: o.name.clone(), kind: o.kind.clone() };
    // An owner in the input stands for the object, and that owner's own owner for both:
    // the top of the chain. A chain that comes back on itself stands for nothing.
    if let Some(mut top) = controlling_runner(o, runners) {
        let mut visited = BTreeSet::from([o.id()]);
        loop {
            if !visited.insert(top.id()) {
                let warning = Finding::new(
                    "netpol",
                    "owner-reference",
                    Severity::Warning,
                    format!(
                        "{}: the controller ownerReferences of {} form a cycle; listed as its own workload {itself}",
                        o.id(),
                        visited.iter().cloned().collect::<Vec<_>>().join(", ")
                    ),
                )
                .at(o, "metadata.ownerReferences");
                return Placement::Listed(itself, Some(Box::new(warning)));
            }
            match controlling_runner(top, runners) {
                Some(next) => top = next,
                None => return Placement::Owned { by: top },
            }
        }
    }
    let Some((index, owner)) = controller_of(o) else {
        return Placement::Listed(itself, None);
    };
    let kind = owner["kind"].as_str().unwrap_or_default();
    let name = owner["name"].as_str().unwrap_or_default();
    if kind.is_empty() || name.is_empty() {
        let field = if kind.is_empty() { "kind" } else { "name" };
        let path = format!("metadata.ownerReferences[{index}].{field}");
        let warning = Finding::new(
            "netpol",
            "owner-reference",
            Severity::Warning,
            format!(
                "{}: {path}: Invalid value: \"\": {field} must not be empty (the API server would refuse this object); listed as its own workload {itself}",
                o.id()
            ),
        )
        .at(o, &path);
        return Placement::Listed(itself, Some(Box::new(warning)));
    }
    if kind != "Node" && o.kind == "Pod" {
        return Placement::Listed(
            Workload { namespace, name: name.to_string(), kind: kind.to_string() },
            None,
        );
    }
    Placement::Listed(itself, None)
}

/// The name a pod-running object's representative pod gets in the cluster: a Pod's own
/// name, `Kind/name` for a workload.
fn cluster_pod_name(o: &Object) -> String {
    if o.kind == "Pod" { o.name.clone() } else { format!("{}/{}", o.kind, o.name) }
}

pub fn build(set: &ObjectSet) -> Built<'_> {
    let mut cluster = Cluster::default();
    let mut sources = BTreeMap::new();
    let mut workloads = BTreeMap::new();
    let mut stand_ins = Vec::new();
    let mut problems = Vec::new();
    for (name, labels) in set.namespaces() {
        cluster.namespaces.push(Namespace::new(name, labels));
    }
    let templates: Vec<Option<PodTemplate>> = set.objects.iter().map(Object::pod_template).collect();
    let runners: PodRunners<'_> = set
        .objects
        .iter()
        .zip(&templates)
        .filter(|(_, t)| t.is_some())
        .map(|(o, _)| ((namespace_of(o), o.kind.clone(), o.name.clone()), o))
        .collect();
    for (o, template) in set.objects.iter().zip(templates) {
        if o.kind == "NetworkPolicy" && o.group() == "networking.k8s.io" {
            match o.typed::<NetworkPolicy>() {
                Ok(mut np) => {
                    if np.metadata.namespace.is_none() {
                        np.metadata.namespace = Some("default".into());
                    }
                    cluster.policies.push(np);
                }
                Err(e) => problems.push(
                    Finding::new(
                        "netpol",
                        "invalid-object",
                        Severity::Error,
                        format!("cannot read NetworkPolicy: {e}"),
                    )
                    .at(o, ""),
                ),
            }
            continue;
        }
        if add_cluster_wide(&mut cluster, &mut problems, set, o) {
            continue;
        }
        let Some(t) = template else { continue };
        let workload = match place(o, &runners) {
            Placement::Owned { by } => {
                let labels = t.meta.labels.unwrap_or_default();
                stand_ins.push(StandIn { object: o, labels, by: (namespace_of(by), cluster_pod_name(by)) });
                continue;
            }
            Placement::Listed(w, warning) => {
                problems.extend(warning.map(|w| *w));
                w
            }
        };
        let ns = namespace_of(o);
        let name = cluster_pod_name(o);
        let labels = t.meta.labels.clone().unwrap_or_default();
        match Pod::from_pod_spec(&ns, &name, &labels, &t.spec) {
            Ok(p) => {
                sources.insert((ns.clone(), name.clone()), o);
                workloads.insert((ns, name), workload);
                cluster.pods.push(p);
            }
            Err(e) => problems.push(error_finding(set, &e)),
        }
    }
    Built { cluster, sources, workloads, stand_ins, problems }
}

/// Cluster-wide inputs of the analysis: ClusterNetworkPolicy / AdminNetworkPolicy /
/// BaselineAdminNetworkPolicy (any object of `policy.networking.k8s.io`, strictly decoded;
/// one the engine cannot read is an error finding, never skipped) and Nodes (for the
/// `nodes` egress peer). Returns whether the object was one of them.
fn add_cluster_wide(cluster: &mut Cluster, problems: &mut Vec<Finding>, set: &ObjectSet, o: &Object) -> bool {
    if o.group() == autolabs_netpol::CLUSTER_POLICY_GROUP {
        match autolabs_netpol::ClusterPolicy::from_value(&o.value) {
            Ok(policy) => cluster.cluster_policies.push(policy),
            Err(e) => problems.push(error_finding(set, &e)),
        }
        return true;
    }
    if o.kind == "Node" && o.api_version == "v1" {
        let addresses = o.value["status"]["addresses"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["address"].as_str()?.parse().ok())
            .collect();
        cluster.nodes.push(autolabs_netpol::Node { name: o.name.clone(), labels: o.labels(), addresses });
        return true;
    }
    false
}

/// Findings about how the input was modelled, once the analysis exists: pods one workload
/// groups but a policy tells apart (errors), named ports that cannot match (warnings), and
/// the hostNetwork pods with their treatment (info). Only pods of input objects count (not
/// the probe pods of an intent).
pub fn modelling_findings(
    set: &ObjectSet,
    analysis: &Analysis,
    built: &Built<'_>,
    options: &Options,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let located = |f: Finding, namespace: &str, name: &str| -> Finding {
        match built.sources.get(&(namespace.to_string(), name.to_string())) {
            Some(o) => f.at(o, ""),
            None => f,
        }
    };

    // Pods of one workload that some selector tells apart.
    let mut members: BTreeMap<&Workload, Vec<autolabs_netpol::PodId>> = BTreeMap::new();
    for id in analysis.pod_ids() {
        let Some(pod) = analysis.pod(id) else { continue };
        if let Some(w) = built.workloads.get(&(pod.namespace.clone(), pod.name.clone())) {
            members.entry(w).or_default().push(id);
        }
    }
    let distinguisher = findings::PodDistinguisher::new(analysis);
    for (workload, pods) in members.iter().filter(|(_, pods)| pods.len() > 1) {
        let Some((&first, rest)) = pods.split_first() else { continue };
        for &other in rest {
            let Some(d) = distinguisher.first(first, other) else { continue };
            let (Some(a), Some(b)) = (analysis.pod(first), analysis.pod(other)) else { continue };
            let finding = Finding::new(
                "netpol",
                "workload-pods-differ",
                Severity::Error,
                format!(
                    "pods {}/{} and {}/{} of workload {workload} are told apart by NetworkPolicy {} {} ({}): their connections cannot be listed as one workload's (labels {} vs {})",
                    a.namespace,
                    a.name,
                    b.namespace,
                    b.name,
                    d.policy,
                    d.field,
                    d.selector,
                    label_text(&a.labels),
                    label_text(&b.labels),
                ),
            );
            out.push(located(finding, &b.namespace, &b.name));
        }
    }

    // Objects whose owner's template stands for them must be selected like it.
    for stand_in in &built.stand_ins {
        let Some(id) = analysis.pod_id(&stand_in.by.0, &stand_in.by.1) else { continue };
        let Some(d) = distinguisher.first_against_labels(id, &stand_in.labels) else { continue };
        let (Some(pod), Some(workload)) = (analysis.pod(id), built.workloads.get(&stand_in.by)) else {
            continue;
        };
        let finding = Finding::new(
            "netpol",
            "workload-pods-differ",
            Severity::Error,
            format!(
                "{} is analysed as its owner {workload}, but NetworkPolicy {} {} ({}) selects one of them and not the other: its connections cannot be listed as the owner's (labels {} vs {})",
                stand_in.object.id(),
                d.policy,
                d.field,
                d.selector,
                label_text(&stand_in.labels),
                label_text(&pod.labels),
            ),
        );
        out.push(finding.at(stand_in.object, ""));
    }

    // Named ports.
    let real = |c: ClassId| {
        analysis.class(c).is_some_and(|class| {
            class
                .members
                .iter()
                .filter_map(|&p| analysis.pod(p))
                .any(|p| built.sources.contains_key(&(p.namespace.clone(), p.name.clone())))
        })
    };
    for gap in findings::named_port_gaps(analysis, real) {
        let finding = Finding::new("netpol", "named-port", Severity::Warning, gap.to_string());
        out.push(
            match set.objects.iter().find(|o| {
                o.kind == "NetworkPolicy"
                    && o.name == gap.policy.name
                    && o.namespace.as_deref().unwrap_or("default") == gap.policy.namespace
            }) {
                Some(o) => finding.at(o, &gap.field()),
                None => finding,
            },
        );
    }

    // hostNetwork pods, one line per workload.
    let mut host_workloads: BTreeMap<&Workload, (&str, &str)> = BTreeMap::new();
    for id in analysis.host_network_pods() {
        let Some(pod) = analysis.pod(id) else { continue };
        if let Some(w) = built.workloads.get(&(pod.namespace.clone(), pod.name.clone())) {
            host_workloads.entry(w).or_insert((pod.namespace.as_str(), pod.name.as_str()));
        }
    }
    for (w, (namespace, name)) in host_workloads {
        let note = host_network_note(w, options.host_network);
        out.push(located(Finding::new("netpol", "host-network", Severity::Info, note), namespace, name));
    }
    out
}

/// How a hostNetwork workload was treated, for the output.
pub fn host_network_note(workload: &Workload, treatment: HostNetwork) -> String {
    match treatment {
        HostNetwork::Exempt => format!(
            "{workload} uses hostNetwork: treated as exempt from NetworkPolicy (--host-network exempt, the default: Calico, Cilium and most plugins do not apply policy to it); --host-network as-pod analyses it as an ordinary pod"
        ),
        HostNetwork::AsPod => format!(
            "{workload} uses hostNetwork: analysed as an ordinary pod (--host-network as-pod, as np-guard's netpol-analyzer does); most plugins exempt such pods from NetworkPolicy"
        ),
    }
}

fn label_text(labels: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{{{}}}", pairs.join(","))
}

/// A located finding for an engine error.
pub fn error_finding(set: &ObjectSet, e: &NetpolError) -> Finding {
    let f = Finding::new("netpol", "invalid", Severity::Error, e.to_string());
    match e {
        NetpolError::InvalidPolicy { namespace, name, field, .. } => {
            match set.objects.iter().find(|o| {
                o.kind == "NetworkPolicy"
                    && &o.name == name
                    && o.namespace.as_deref().unwrap_or("default") == namespace
            }) {
                Some(o) => f.at(o, field),
                None => f,
            }
        }
        NetpolError::InvalidPod { namespace, name, field, .. } => {
            let short = name.rsplit('/').next().unwrap_or(name);
            match set
                .objects
                .iter()
                .find(|o| o.name == short && o.namespace.as_deref().unwrap_or("default") == namespace)
            {
                Some(o) => {
                    let path = o
                        .pod_template()
                        .map(|t| format!("{}.{}", t.spec_path, field.trim_start_matches("spec.")))
                        .unwrap_or_default();
                    f.at(o, &path)
                }
                None => f,
            }
        }
        NetpolError::InvalidClusterPolicy { kind, name, field, .. } => {
            match set.objects.iter().find(|o| &o.kind == kind && &o.name == name) {
                Some(o) => f.at(o, field),
                None => f,
            }
        }
        NetpolError::UnknownPod(_) => f,
    }
}

/// Builds the analysis, or the located errors that prevent it; with the analysis,
/// `built.problems` also holds the [`modelling_findings`].
pub fn analyse<'a>(set: &'a ObjectSet, options: Options) -> (Option<Analysis>, Built<'a>) {
    let mut built = build(set);
    match Analysis::new(&built.cluster, options.clone()) {
        Ok(a) => {
            let more = modelling_findings(set, &a, &built, &options);
            built.problems.extend(more);
            (Some(a), built)
        }
        Err(errors) => {
            for e in &errors {
                built.problems.push(error_finding(set, e));
            }
            (None, built)
        }
    }
}

/// Generic findings, for inputs without an intent.
pub fn check(set: &ObjectSet) -> Vec<Finding> {
    check_with(set, Options::default())
}

/// [`check`] with analysis options (`--host-network`).
pub fn check_with(set: &ObjectSet, options: Options) -> Vec<Finding> {
    let (analysis, built) = analyse(set, options);
    let mut out = built.problems;
    let Some(a) = analysis else { return out };
    let locate = |f: Finding, class: autolabs_netpol::ClassId| -> Finding {
        let pod = a.class(class).and_then(|c| c.members.first()).and_then(|p| a.pod(*p));
        match pod.and_then(|p| built.sources.get(&(p.namespace.clone(), p.name.clone()))) {
            Some(o) => f.at(o, ""),
            None => f,
        }
    };
    let describe = |class: autolabs_netpol::ClassId| -> String {
        a.class(class)
            .and_then(|c| c.members.first())
            .and_then(|p| a.pod(*p))
            .map(|p| format!("{}/{}", p.namespace, p.name))
            .unwrap_or_default()
    };
    for gap in findings::namespaces_without_default_deny(&a) {
        let which = match (gap.ingress_missing, gap.egress_missing) {
            (true, true) => "ingress or egress",
            (true, false) => "ingress",
            _ => "egress",
        };
        out.push(Finding::new(
            "netpol",
            "no-default-deny",
            Severity::Warning,
            format!("namespace {:?} has no default-deny {which} policy: pods are open until a policy selects them", gap.namespace),
        ));
    }
    for class in findings::exposed_to_every_namespace(&a) {
        out.push(locate(
            Finding::new(
                "netpol",
                "reachable-from-everywhere",
                Severity::Warning,
                format!("{} can be reached from every namespace", describe(class)),
            ),
            class,
        ));
    }
    for (class, ports) in findings::internet_egress(&a) {
        out.push(locate(
            Finding::new(
                "netpol",
                "internet-egress",
                Severity::Info,
                format!("{} may connect to the internet on {ports}", describe(class)),
            ),
            class,
        ));
    }
    for gap in findings::dns_blocked(&a) {
        let which = match (gap.udp_blocked, gap.tcp_blocked) {
            (true, true) => "UDP and TCP",
            (true, false) => "UDP",
            _ => "TCP",
        };
        out.push(locate(
            Finding::new(
                "netpol",
                "dns-blocked",
                Severity::Warning,
                if gap.egress_isolated {
                    format!(
                        "{} is egress-isolated and cannot reach kube-dns on {which} 53",
                        describe(gap.class)
                    )
                } else {
                    format!(
                        "{} cannot reach kube-dns on {which} 53: cluster network policies deny it",
                        describe(gap.class)
                    )
                },
            ),
            gap.class,
        ));
    }
    out
}
