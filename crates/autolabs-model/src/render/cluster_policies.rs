//! Cluster-wide guardrails (`spec.network.clusterPolicies`): the isolation matrix in the
//! Admin tier, so that no NetworkPolicy a namespace owner adds can open a flow the matrix
//! forbids, and the cluster default (deny) as a Baseline policy — in the
//! network-policy-api version the CNI supports (`v1alpha2` ClusterNetworkPolicy, or
//! `v1alpha1` AdminNetworkPolicy + BaselineAdminNetworkPolicy).
//!
//! The Admin tier is walked by ascending priority, first matching rule first
//! (ClusterNetworkPolicySpec.Priority and the rule lists' comments):
//! 1. per flow end in a governed namespace (the pods a flow leaves from, or arrives at),
//!    one policy with that subject that **Passes** exactly the flow's peers and ports to
//!    the NetworkPolicy tier — the rendered NetworkPolicies still decide, so the matrix is
//!    proven with and without the guardrails;
//! 2. per governed namespace, one policy that **Denies** everything else: egress to every
//!    pod and every address (`networks` match pod addresses too, so the Passes come
//!    first), ingress from every pod. The API cannot name outside addresses as ingress
//!    peers; traffic from outside stays with NetworkPolicy.
//!
//! Every policy has its own priority, so none tie. The Baseline (`tier: Baseline`, or the
//! BaselineAdminNetworkPolicy `default`) denies what no NetworkPolicy decides.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Ctx, Rendered, untyped};
use crate::isolation;
use crate::platform::{ClusterPolicies, Endpoint, PortSpec};
use crate::topology::{self, NS_NAME_LABEL};

/// Priority of the first Pass policy; each next policy gets the next number.
pub const GUARDRAIL_PRIORITY: u32 = 10;
/// Priority of the first per-namespace Deny policy (after every Pass policy).
pub const DENY_PRIORITY: u32 = 500;

pub(crate) fn render(ctx: &Ctx, out: &mut Rendered) {
    let version = ctx.spec().network.cluster_policies;
    if version == ClusterPolicies::None {
        return;
    }
    let v1 = version == ClusterPolicies::V1alpha1;
    let api = if v1 { "policy.networking.k8s.io/v1alpha1" } else { "policy.networking.k8s.io/v1alpha2" };
    let governed: Vec<&str> = topology::NAMESPACES.iter().map(|n| n.name).collect();
    let is_governed = |e: &Endpoint| e.namespace.as_deref().is_some_and(|n| governed.contains(&n));

    // Subject (as JSON, with a stable name) → (egress rules, ingress rules).
    let mut subjects: BTreeMap<String, (Value, Vec<Value>, Vec<Value>)> = BTreeMap::new();
    for flow in isolation::flows(ctx.spec()) {
        if is_governed(&flow.from)
            && let Some(peers) = egress_peer(&flow.to, &ctx.spec().network)
        {
            let entry = subjects
                .entry(subject_key(&flow.from))
                .or_insert_with(|| (pods_peer(&flow.from), vec![], vec![]));
            entry.1.push(rule(&flow.name, "to", peers, &flow.ports, v1));
        }
        if is_governed(&flow.to) && flow.from.namespace.is_some() {
            let entry = subjects
                .entry(subject_key(&flow.to))
                .or_insert_with(|| (pods_peer(&flow.to), vec![], vec![]));
            entry.2.push(rule(
                &flow.name,
                "from",
                Value::Array(vec![pods_peer(&flow.from)]),
                &flow.ports,
                v1,
            ));
        }
    }
    let mut priority = GUARDRAIL_PRIORITY;
    for (key, (subject, egress, ingress)) in subjects {
        // At most 25 rules per list (v1alpha2; v1alpha1 allows 100): split when longer.
        let chunks = egress.len().max(ingress.len()).div_ceil(25).max(1);
        for chunk in 0..chunks {
            let part = |rules: &[Value]| rules.iter().skip(chunk * 25).take(25).cloned().collect::<Vec<_>>();
            let name = if chunks == 1 {
                format!("autolabs-pass-{key}")
            } else {
                format!("autolabs-pass-{key}-{chunk}")
            };
            let spec = json!({"priority": priority, "subject": subject.clone(), "egress": part(&egress), "ingress": part(&ingress)});
            out.manifests.push(admin(ctx, api, v1, &name, spec));
            priority += 1;
        }
    }
    for (i, ns) in governed.iter().enumerate() {
        let spec = json!({
            "priority": DENY_PRIORITY + i as u32,
            "subject": {"namespaces": {"matchLabels": {NS_NAME_LABEL: ns}}},
            "egress": [
                {"name": "matrix-forbids-pods", "action": "Deny", "to": [{"namespaces": {}}]},
                {"name": "matrix-forbids-addresses", "action": "Deny", "to": [{"networks": ["0.0.0.0/0", "::/0"]}]}
            ],
            "ingress": [{"name": "matrix-forbids-pods", "action": "Deny", "from": [{"namespaces": {}}]}],
        });
        out.manifests.push(admin(ctx, api, v1, &format!("autolabs-deny-{ns}"), spec));
    }
    // The Baseline: deny what no NetworkPolicy decides, in every governed namespace.
    let mut spec = json!({
        "subject": {"namespaces": {"matchExpressions": [{"key": NS_NAME_LABEL, "operator": "In", "values": governed}]}},
        "ingress": [{"name": "default-deny", "action": "Deny", "from": [{"namespaces": {}}]}],
        "egress": [
            {"name": "default-deny-pods", "action": "Deny", "to": [{"namespaces": {}}]},
            {"name": "default-deny-addresses", "action": "Deny", "to": [{"networks": ["0.0.0.0/0", "::/0"]}]}
        ],
    });
    if v1 {
        out.manifests.push(object(ctx, api, "BaselineAdminNetworkPolicy", "default", spec));
    } else {
        spec["tier"] = json!("Baseline");
        spec["priority"] = json!(1000);
        out.manifests.push(object(ctx, api, "ClusterNetworkPolicy", "autolabs-cluster-default", spec));
    }
}

/// A name part for a flow end: `labs`, or `labs-app-web` for labelled pods.
fn subject_key(e: &Endpoint) -> String {
    let mut key = e.namespace.clone().unwrap_or_default();
    for (k, v) in e.pods.iter().flatten() {
        let k = k.rsplit('/').next().unwrap_or(k);
        key.push_str(&format!("-{k}-{v}"));
    }
    key.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect()
}

/// A flow end in a namespace as a subject or peer: the namespace, or pods in it (both
/// versions' `pods` take a namespace and a pod selector).
fn pods_peer(e: &Endpoint) -> Value {
    let ns = json!({"matchLabels": {NS_NAME_LABEL: e.namespace.clone().unwrap_or_default()}});
    match &e.pods {
        Some(labels) => json!({"pods": {"namespaceSelector": ns, "podSelector": {"matchLabels": labels}}}),
        None => json!({"namespaces": ns}),
    }
}

/// The destination of a flow as an egress peer: pods, or `networks` for the internet and
/// address ranges.
fn egress_peer(e: &Endpoint, network: &crate::platform::NetworkSpec) -> Option<Value> {
    if e.namespace.is_some() {
        return Some(Value::Array(vec![pods_peer(e)]));
    }
    if e.internet {
        // `networks` has no `except`: the internet is written as the CIDRs that cover
        // 0.0.0.0/0 minus the excepted ranges, at most 25 per peer.
        let block = super::internet_ip_block(network);
        let except: Vec<ipnet::Ipv4Net> =
            block.except.iter().flatten().filter_map(|c| c.parse().ok()).collect();
        let mut cidrs = Vec::new();
        cover_without(ipnet::Ipv4Net::default(), &except, &mut cidrs);
        let peers: Vec<Value> = cidrs.chunks(25).map(|chunk| json!({"networks": chunk})).collect();
        return Some(Value::Array(peers));
    }
    e.cidr.as_ref().map(|c| json!([{"networks": [c]}]))
}

/// The CIDRs that cover `net` minus every `except` range, largest first.
fn cover_without(net: ipnet::Ipv4Net, except: &[ipnet::Ipv4Net], out: &mut Vec<String>) {
    if except.iter().any(|e| e.contains(&net)) {
        return;
    }
    if !except.iter().any(|e| net.contains(e)) {
        out.push(net.to_string());
        return;
    }
    if let Ok(halves) = net.subnets(net.prefix_len() + 1) {
        for half in halves {
            cover_without(half, except, out);
        }
    }
}

/// A Pass rule for one flow.
fn rule(flow: &str, key: &str, peers: Value, ports: &[PortSpec], v1: bool) -> Value {
    let mut rule = json!({"name": flow.chars().take(100).collect::<String>(), "action": "Pass", key: peers});
    if !ports.is_empty() {
        if v1 {
            rule["ports"] = ports.iter().map(port_v1alpha1).collect();
        } else {
            rule["protocols"] = ports.iter().map(port_v1alpha2).collect();
        }
    }
    rule
}

/// `protocols[]` entry (v1alpha2): `{tcp: {destinationPort: {number}|{range}}}`.
fn port_v1alpha2(p: &PortSpec) -> Value {
    let port = match p.end_port.filter(|e| *e > p.port) {
        Some(end) => json!({"range": {"start": p.port, "end": end}}),
        None => json!({"number": p.port}),
    };
    json!({p.protocol.as_str().to_ascii_lowercase(): {"destinationPort": port}})
}

/// `ports[]` entry (v1alpha1): `{portNumber: {protocol, port}}` or `{portRange: …}`.
fn port_v1alpha1(p: &PortSpec) -> Value {
    match p.end_port.filter(|e| *e > p.port) {
        Some(end) => json!({"portRange": {"protocol": p.protocol.as_str(), "start": p.port, "end": end}}),
        None => json!({"portNumber": {"protocol": p.protocol.as_str(), "port": p.port}}),
    }
}

fn admin(ctx: &Ctx, api: &str, v1: bool, name: &str, mut spec: Value) -> super::Manifest {
    if v1 {
        object(ctx, api, "AdminNetworkPolicy", name, spec)
    } else {
        spec["tier"] = json!("Admin");
        object(ctx, api, "ClusterNetworkPolicy", name, spec)
    }
}

fn object(ctx: &Ctx, api: &str, kind: &str, name: &str, spec: Value) -> super::Manifest {
    let meta = serde_json::to_value(ctx.meta(name, None, &[])).unwrap_or(Value::Null);
    untyped(json!({"apiVersion": api, "kind": kind, "metadata": meta, "spec": spec}))
}
