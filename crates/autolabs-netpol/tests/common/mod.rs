//! Shared helpers for the integration tests: parse YAML policies, build the standard
//! fixture cluster, and name endpoints as `ns/pod` or `ip:CIDR`.
#![allow(dead_code)]

use std::collections::BTreeMap;

use autolabs_k8s::k8s;
use autolabs_netpol::{Analysis, Cluster, Endpoint, IpNet, Namespace, Options, Pod, Protocol};

/// Multi-document YAML into NetworkPolicies.
pub fn policies(yaml: &str) -> Vec<k8s::NetworkPolicy> {
    yaml.split("\n---")
        .filter(|doc| !doc.trim().is_empty())
        .map(|doc| serde_saphyr::from_str::<k8s::NetworkPolicy>(doc).expect("test policy YAML parses"))
        .collect()
}

pub fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Namespaces `x` (team=x) and `y` (team=y), pods:
/// `x/a` app=a (http TCP 80, dns UDP 53), `x/b` app=b (http TCP 8080),
/// `y/a` app=a (http TCP 80), `y/c` app=c tier=db, `x/host` app=a with hostNetwork,
/// `z/a` app=a in namespace `z`, which is not supplied (only its name label).
pub fn fixture(policy_yaml: &str) -> Cluster {
    Cluster {
        namespaces: vec![
            Namespace::new("x", labels(&[("team", "x")])),
            Namespace::new("y", labels(&[("team", "y")])),
        ],
        pods: vec![
            Pod::new("x", "a").label("app", "a").named_port("http", Protocol::Tcp, 80).named_port(
                "dns",
                Protocol::Udp,
                53,
            ),
            Pod::new("x", "b").label("app", "b").named_port("http", Protocol::Tcp, 8080),
            Pod::new("y", "a").label("app", "a").named_port("http", Protocol::Tcp, 80),
            Pod::new("y", "c").label("app", "c").label("tier", "db"),
            Pod::new("x", "host").label("app", "a").host_network(true),
            Pod::new("z", "a").label("app", "a"),
        ],
        policies: policies(policy_yaml),
        ..Default::default()
    }
}

pub fn analyse(cluster: &Cluster, options: Options) -> Analysis {
    match Analysis::new(cluster, options) {
        Ok(a) => a,
        Err(errors) => panic!("analysis failed: {errors:#?}"),
    }
}

/// `ns/name` for a pod, `ip:CIDR` for an external endpoint.
pub fn endpoint(analysis: &Analysis, text: &str) -> Endpoint {
    if let Some(cidr) = text.strip_prefix("ip:") {
        return Endpoint::External(cidr.parse::<IpNet>().expect("test CIDR parses"));
    }
    let (ns, name) = text.split_once('/').expect("endpoint is ns/name");
    Endpoint::Pod(analysis.pod_id(ns, name).unwrap_or_else(|| panic!("no pod {text}")))
}

pub fn protocol(text: &str) -> Protocol {
    Protocol::parse(text).expect("test protocol")
}
