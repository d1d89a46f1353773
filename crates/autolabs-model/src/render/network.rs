//! NetworkPolicies: default deny in every namespace, then exactly the matrix's flows.
//!
//! A flow becomes an egress policy in the source namespace and an ingress policy in the
//! destination namespace (each only where the namespace is ours: kube-system and the world
//! are not ours to police). Peers follow the rules the API server applies
//! (`k8s.io/api/networking/v1` NetworkPolicyPeer):
//! - namespaces are selected by `kubernetes.io/metadata.name`, which the API server sets on
//!   every namespace, never by a hand-set `name` label;
//! - "pod X in namespace Y" is ONE peer holding both selectors (AND); two peers would be OR;
//! - "the internet" is an ipBlock `0.0.0.0/0` with private, link-local and cluster ranges
//!   excepted, never `podSelector: {}` (which means every pod of the namespace).

use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{Ctx, Rendered, labels, typed};
use crate::isolation;
use crate::platform::{Endpoint, Flow, NetworkSpec, PortSpec};
use crate::topology::{self, NS_NAME_LABEL};

pub(crate) fn render(ctx: &Ctx, out: &mut Rendered) {
    for ns in topology::NAMESPACES {
        out.manifests.push(typed(NetworkPolicy {
            metadata: ctx.meta("default-deny-all", Some(ns.name), &[]),
            spec: Some(NetworkPolicySpec {
                pod_selector: Some(LabelSelector::default()),
                policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
                ..Default::default()
            }),
        }));
    }
    for flow in isolation::flows(ctx.spec()) {
        for policy in policies_for_flow(&flow, &ctx.spec().network) {
            let mut policy = policy;
            let mut meta = ctx.meta(
                policy.metadata.name.as_deref().unwrap_or_default(),
                policy.metadata.namespace.as_deref(),
                &[],
            );
            meta.annotations = policy.metadata.annotations.take();
            policy.metadata = meta;
            out.manifests.push(typed(policy));
        }
    }
}

/// The policies that open one flow: egress where the source is pods of one of our
/// namespaces, ingress where the destination is. Names: `<flow>-egress`, `<flow>-ingress`.
pub fn policies_for_flow(flow: &Flow, network: &NetworkSpec) -> Vec<NetworkPolicy> {
    let mut out = Vec::new();
    let ports = (!flow.ports.is_empty()).then(|| flow.ports.iter().map(policy_port).collect::<Vec<_>>());
    let annotation = Some(
        [("autolabs.io/flow".to_string(), flow.name.clone())]
            .into_iter()
            .collect::<std::collections::BTreeMap<_, _>>(),
    );
    if let Some(ns) = own_namespace(&flow.from) {
        out.push(NetworkPolicy {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some(format!("{}-egress", flow.name)),
                namespace: Some(ns.to_string()),
                annotations: annotation.clone(),
                ..Default::default()
            },
            spec: Some(NetworkPolicySpec {
                pod_selector: Some(pod_selector(&flow.from)),
                policy_types: Some(vec!["Egress".into()]),
                egress: Some(vec![NetworkPolicyEgressRule {
                    to: Some(vec![peer(&flow.to, network)]),
                    ports: ports.clone(),
                }]),
                ..Default::default()
            }),
        });
    }
    if let Some(ns) = own_namespace(&flow.to) {
        out.push(NetworkPolicy {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some(format!("{}-ingress", flow.name)),
                namespace: Some(ns.to_string()),
                annotations: annotation,
                ..Default::default()
            },
            spec: Some(NetworkPolicySpec {
                pod_selector: Some(pod_selector(&flow.to)),
                policy_types: Some(vec!["Ingress".into()]),
                ingress: Some(vec![NetworkPolicyIngressRule {
                    from: Some(vec![peer(&flow.from, network)]),
                    ports,
                }]),
                ..Default::default()
            }),
        });
    }
    out
}

/// The endpoint's namespace when it is one the platform owns.
fn own_namespace(e: &Endpoint) -> Option<&str> {
    e.namespace.as_deref().filter(|ns| topology::is_platform_namespace(ns))
}

fn pod_selector(e: &Endpoint) -> LabelSelector {
    LabelSelector { match_labels: e.pods.clone().filter(|p| !p.is_empty()), ..Default::default() }
}

/// One peer for an endpoint: namespace AND pods in the same peer; an ipBlock otherwise.
fn peer(e: &Endpoint, network: &NetworkSpec) -> NetworkPolicyPeer {
    if let Some(ns) = &e.namespace {
        return NetworkPolicyPeer {
            namespace_selector: Some(LabelSelector {
                match_labels: Some(labels(&[(NS_NAME_LABEL, ns)])),
                ..Default::default()
            }),
            pod_selector: e.pods.as_ref().map(|_| pod_selector(e)),
            ..Default::default()
        };
    }
    if let Some(cidr) = &e.cidr {
        return NetworkPolicyPeer {
            ip_block: Some(IPBlock { cidr: cidr.clone(), except: None }),
            ..Default::default()
        };
    }
    NetworkPolicyPeer { ip_block: Some(internet_ip_block(network)), ..Default::default() }
}

/// `0.0.0.0/0` minus private, link-local, CGNAT and loopback ranges, and minus the cluster's
/// pod, service and node ranges where those are not already inside an excepted range.
pub fn internet_ip_block(network: &NetworkSpec) -> IPBlock {
    let base: Vec<ipnet::Ipv4Net> = topology::NON_INTERNET_V4.iter().filter_map(|c| c.parse().ok()).collect();
    let mut except: Vec<ipnet::Ipv4Net> = base.clone();
    for c in [&network.pod_cidr, &network.service_cidr, &network.node_cidr] {
        if let Ok(net) = c.parse::<ipnet::Ipv4Net>()
            && !except.iter().any(|e| e.contains(&net))
        {
            except.push(net);
        }
    }
    IPBlock { cidr: "0.0.0.0/0".into(), except: Some(except.iter().map(|n| n.to_string()).collect()) }
}

fn policy_port(p: &PortSpec) -> NetworkPolicyPort {
    NetworkPolicyPort {
        protocol: Some(p.protocol.as_str().into()),
        port: Some(IntOrString::Int(p.port as i32)),
        end_port: p.end_port.map(|e| e as i32),
    }
}
