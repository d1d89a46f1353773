//! NetworkPolicy: the object set as the netpol engine's cluster, and the generic findings
//! (used when there is no intent to prove against).
//!
//! Workloads stand for their pods through their pod template (one representative pod each,
//! named `Kind/name`); a Pod owned by a controller is left out when its owner is among the
//! inputs, so it is reported under its owner.

use std::collections::{BTreeMap, BTreeSet};

use autolabs_netpol::{Analysis, Cluster, Namespace, NetpolError, Options, Pod, findings};
use k8s_openapi::api::networking::v1::NetworkPolicy;

use crate::finding::{Finding, Severity};
use crate::objects::{Object, ObjectSet};

/// The netpol cluster of an object set, and where each pod and policy came from.
pub struct Built<'a> {
    pub cluster: Cluster,
    /// Pod name in the cluster → the object it stands for.
    pub sources: BTreeMap<(String, String), &'a Object>,
    pub problems: Vec<Finding>,
}

pub fn build(set: &ObjectSet) -> Built<'_> {
    let mut cluster = Cluster::default();
    let mut sources = BTreeMap::new();
    let mut problems = Vec::new();
    for (name, labels) in set.namespaces() {
        cluster.namespaces.push(Namespace::new(name, labels));
    }
    let owners: BTreeSet<(Option<String>, String, String)> =
        set.objects.iter().map(|o| (o.namespace.clone(), o.kind.clone(), o.name.clone())).collect();
    for o in &set.objects {
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
        let Some(t) = o.pod_template() else { continue };
        if o.kind == "Pod" && owned_by_input(o, &owners) {
            continue;
        }
        let ns = o.namespace.clone().unwrap_or_else(|| "default".into());
        let name = if o.kind == "Pod" { o.name.clone() } else { format!("{}/{}", o.kind, o.name) };
        let labels = t.meta.labels.clone().unwrap_or_default();
        match Pod::from_pod_spec(&ns, &name, &labels, &t.spec) {
            Ok(p) => {
                sources.insert((ns, name), o);
                cluster.pods.push(p);
            }
            Err(e) => problems.push(error_finding(set, &e)),
        }
    }
    Built { cluster, sources, problems }
}

fn owned_by_input(o: &Object, owners: &BTreeSet<(Option<String>, String, String)>) -> bool {
    o.value["metadata"]["ownerReferences"].as_array().is_some_and(|refs| {
        refs.iter().any(|r| {
            r["controller"].as_bool() == Some(true)
                && owners.contains(&(
                    o.namespace.clone(),
                    r["kind"].as_str().unwrap_or_default().to_string(),
                    r["name"].as_str().unwrap_or_default().to_string(),
                ))
        })
    })
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
        NetpolError::UnknownPod(_) => f,
    }
}

/// Builds the analysis, or the located errors that prevent it.
pub fn analyse<'a>(set: &'a ObjectSet, options: Options) -> (Option<Analysis>, Built<'a>) {
    let mut built = build(set);
    match Analysis::new(&built.cluster, options) {
        Ok(a) => (Some(a), built),
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
    let (analysis, built) = analyse(set, Options::default());
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
                format!("{} is egress-isolated and cannot reach kube-dns on {which} 53", describe(gap.class)),
            ),
            gap.class,
        ));
    }
    out
}
