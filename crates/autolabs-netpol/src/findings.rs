//! Generic findings over an [`Analysis`]: pure functions that any report can use.

use std::collections::{BTreeMap, HashSet};

use crate::analysis::{Analysis, ClassId};
use crate::connset::{ConnSet, Protocol};
use crate::ipset::IpSet;
use crate::model::{NAMESPACE_NAME_LABEL, NamedPort};

/// A namespace where not every pod is isolated by default in some direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultDenyGap {
    pub namespace: String,
    /// No policy selects every pod (`podSelector: {}`) for ingress.
    pub ingress_missing: bool,
    /// No policy selects every pod for egress.
    pub egress_missing: bool,
}

/// Namespaces lacking a default deny: a policy with an empty `podSelector` that has the
/// direction among its effective policyTypes (it isolates every pod, present and future,
/// whatever allow-rules it carries).
pub fn namespaces_without_default_deny(analysis: &Analysis) -> Vec<DefaultDenyGap> {
    let mut out = Vec::new();
    for ns in analysis.namespace_names() {
        let policies = analysis.namespace_policies(ns);
        let covers = |egress: bool| {
            policies.iter().any(|p| {
                p.pod_selector.is_everything()
                    && if egress { p.egress.is_some() } else { p.ingress.is_some() }
            })
        };
        let (ingress_missing, egress_missing) = (!covers(false), !covers(true));
        if ingress_missing || egress_missing {
            out.push(DefaultDenyGap { namespace: ns.to_string(), ingress_missing, egress_missing });
        }
    }
    out
}

/// Classes that some pod of every namespace (that has pods) can reach, both sides of the
/// connection considered.
pub fn exposed_to_every_namespace(analysis: &Analysis) -> Vec<ClassId> {
    let populated: HashSet<usize> =
        analysis.classes().iter().map(|c| analysis.class_namespace_index(c.id)).collect();
    let mut reached: BTreeMap<ClassId, HashSet<usize>> = BTreeMap::new();
    for (c, d, _) in analysis.connections() {
        reached.entry(d).or_default().insert(analysis.class_namespace_index(c));
    }
    reached
        .into_iter()
        .filter(|(_, sources)| !populated.is_empty() && populated.iter().all(|ns| sources.contains(ns)))
        .map(|(d, _)| d)
        .collect()
}

/// Classes that may open connections to the public internet ([`IpSet::internet`]), with
/// the ports allowed towards some public address. hostNetwork classes are left out.
pub fn internet_egress(analysis: &Analysis) -> Vec<(ClassId, ConnSet)> {
    let internet = IpSet::internet();
    analysis
        .classes()
        .iter()
        .filter(|c| !c.host_network)
        .filter_map(|c| {
            let conn = analysis.egress_towards(c.id, &internet);
            (!conn.is_empty()).then_some((c.id, conn))
        })
        .collect()
}

/// An egress-isolated class whose egress does not allow DNS to kube-dns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsGap {
    pub class: ClassId,
    pub udp_blocked: bool,
    pub tcp_blocked: bool,
}

/// Egress-isolated classes that cannot reach kube-dns (`k8s-app: kube-dns` in
/// `kube-system`) on UDP 53 and TCP 53. Only the source's egress is judged. When the
/// cluster holds no kube-dns pod, a standard one is assumed (named ports `dns` UDP 53,
/// `dns-tcp` TCP 53, `metrics` TCP 9153).
pub fn dns_blocked(analysis: &Analysis) -> Vec<DnsGap> {
    let dns_classes: Vec<ClassId> = analysis
        .classes()
        .iter()
        .filter(|c| c.namespace == "kube-system" && c.labels.get("k8s-app").is_some_and(|v| v == "kube-dns"))
        .map(|c| c.id)
        .collect();
    let ns_labels = analysis
        .ns_labels("kube-system")
        .cloned()
        .unwrap_or_else(|| BTreeMap::from([(NAMESPACE_NAME_LABEL.to_string(), "kube-system".to_string())]));
    let labels = BTreeMap::from([("k8s-app".to_string(), "kube-dns".to_string())]);
    let ports = [
        NamedPort { name: "dns".into(), protocol: Protocol::Udp, port: 53 },
        NamedPort { name: "dns-tcp".into(), protocol: Protocol::Tcp, port: 53 },
        NamedPort { name: "metrics".into(), protocol: Protocol::Tcp, port: 9153 },
    ];
    let mut out = Vec::new();
    for c in analysis.classes() {
        if c.host_network || !analysis.egress_isolated(c.id) {
            continue;
        }
        let allowed = if dns_classes.is_empty() {
            analysis.egress_to_described(c.id, "kube-system", &ns_labels, &labels, &ports)
        } else {
            dns_classes.iter().fold(ConnSet::empty(), |mut acc, &d| {
                acc.add(&analysis.egress_ports(c.id, d));
                acc
            })
        };
        let udp_blocked = !allowed.contains(Protocol::Udp, 53);
        let tcp_blocked = !allowed.contains(Protocol::Tcp, 53);
        if udp_blocked || tcp_blocked {
            out.push(DnsGap { class: c.id, udp_blocked, tcp_blocked });
        }
    }
    out
}
