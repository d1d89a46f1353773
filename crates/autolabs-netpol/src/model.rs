//! The input of an analysis: namespaces, pods (or workload templates standing for their
//! pods) and NetworkPolicies, plus the options.

use std::collections::BTreeMap;

use autolabs_k8s::k8s;
use ipnet::IpNet;

use crate::cluster::{ClusterPolicy, Node};
use crate::connset::Protocol;
use crate::error::NetpolError;

/// The label every namespace carries with its own name (`kubernetes.io/metadata.name`,
/// set by `k8s.io/kubernetes/pkg/apis/core/v1.SetDefaults_Namespace`).
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// A namespace: its name and labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

impl Namespace {
    pub fn new(name: impl Into<String>, labels: BTreeMap<String, String>) -> Self {
        Namespace { name: name.into(), labels }
    }

    /// Takes name and labels from an API object (a nameless one gets the empty name).
    pub fn from_k8s(ns: &k8s::Namespace) -> Self {
        Namespace {
            name: ns.metadata.name.clone().unwrap_or_default(),
            labels: ns.metadata.labels.clone().unwrap_or_default(),
        }
    }
}

/// A named container port: what a named `NetworkPolicyPort` resolves against.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NamedPort {
    pub name: String,
    pub protocol: Protocol,
    pub port: u16,
}

/// A pod as NetworkPolicy sees it. Unnamed container ports do not matter to policy and
/// are not kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pod {
    pub namespace: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// Named container ports, sorted.
    pub named_ports: Vec<NamedPort>,
    /// `spec.hostNetwork`: such pods use the node's network and are outside NetworkPolicy.
    pub host_network: bool,
}

impl Pod {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Pod {
            namespace: namespace.into(),
            name: name.into(),
            labels: BTreeMap::new(),
            named_ports: Vec::new(),
            host_network: false,
        }
    }

    /// Builder: adds a label.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Builder: adds a named container port.
    pub fn named_port(mut self, name: impl Into<String>, protocol: Protocol, port: u16) -> Self {
        self.named_ports.push(NamedPort { name: name.into(), protocol, port });
        self.named_ports.sort();
        self
    }

    /// Builder: sets `hostNetwork`.
    pub fn host_network(mut self, on: bool) -> Self {
        self.host_network = on;
        self
    }

    /// A pod built from a pod spec, so that a workload's template can stand for its pods.
    /// Named ports come from `containers[*].ports` (what CNI plugins resolve named ports
    /// against); a port number outside 1..=65535 or an unknown protocol is an error, as
    /// `k8s.io/kubernetes/pkg/apis/core/validation.validateContainerPorts` rejects them.
    pub fn from_pod_spec(
        namespace: &str,
        name: &str,
        labels: &BTreeMap<String, String>,
        spec: &k8s::PodSpec,
    ) -> Result<Pod, NetpolError> {
        let mut named_ports = Vec::new();
        let error = |field: String, message: String| NetpolError::InvalidPod {
            namespace: namespace.to_string(),
            name: name.to_string(),
            field,
            message,
        };
        for (ci, container) in spec.containers.iter().enumerate() {
            for (pi, port) in container.ports.iter().flatten().enumerate() {
                let field = format!("spec.containers[{ci}].ports[{pi}]");
                let number =
                    u16::try_from(port.container_port).ok().filter(|p| *p >= 1).ok_or_else(|| {
                        error(
                            format!("{field}.containerPort"),
                            format!(
                                "Invalid value: {}: must be between 1 and 65535, inclusive",
                                port.container_port
                            ),
                        )
                    })?;
                let protocol = match port.protocol.as_deref() {
                    None => Protocol::Tcp,
                    Some(p) => Protocol::parse(p).ok_or_else(|| {
                        error(
                            format!("{field}.protocol"),
                            format!("Unsupported value: {p:?}: supported values: \"SCTP\", \"TCP\", \"UDP\""),
                        )
                    })?,
                };
                if let Some(port_name) = port.name.as_deref().filter(|n| !n.is_empty()) {
                    named_ports.push(NamedPort { name: port_name.to_string(), protocol, port: number });
                }
            }
        }
        named_ports.sort();
        named_ports.dedup();
        Ok(Pod {
            namespace: namespace.to_string(),
            name: name.to_string(),
            labels: labels.clone(),
            named_ports,
            host_network: spec.host_network.unwrap_or(false),
        })
    }

    /// A pod standing for a workload's pods: the template's labels and spec (the
    /// Deployment/StatefulSet/DaemonSet/Job `spec.template`).
    pub fn from_template(
        namespace: &str,
        name: &str,
        template: &k8s::PodTemplateSpec,
    ) -> Result<Pod, NetpolError> {
        let labels = template.metadata.as_ref().and_then(|m| m.labels.clone()).unwrap_or_default();
        let spec = template.spec.clone().unwrap_or_default();
        Pod::from_pod_spec(namespace, name, &labels, &spec)
    }

    /// A pod from an API Pod object.
    pub fn from_k8s(pod: &k8s::Pod) -> Result<Pod, NetpolError> {
        let namespace = pod.metadata.namespace.clone().unwrap_or_else(|| "default".to_string());
        let name = pod.metadata.name.clone().unwrap_or_default();
        let labels = pod.metadata.labels.clone().unwrap_or_default();
        let spec = pod.spec.clone().unwrap_or_default();
        Pod::from_pod_spec(&namespace, &name, &labels, &spec)
    }
}

/// Everything an analysis looks at.
#[derive(Debug, Clone, Default)]
pub struct Cluster {
    pub namespaces: Vec<Namespace>,
    pub pods: Vec<Pod>,
    pub policies: Vec<k8s::NetworkPolicy>,
    /// Cluster-wide policies of the network-policy-api (either version), already decoded
    /// with [`ClusterPolicy::from_value`].
    pub cluster_policies: Vec<ClusterPolicy>,
    /// Nodes, for the `nodes` egress peer of cluster-wide policies.
    pub nodes: Vec<Node>,
}

/// How pods with `hostNetwork: true` are treated. Kubernetes leaves it to the network
/// plugin ("NetworkPolicy and hostNetwork pods" in the NetworkPolicy concepts page:
/// the behaviour is undefined; most plugins cannot tell such a pod's traffic from its
/// node's).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum HostNetwork {
    /// Outside NetworkPolicy (the default, what Calico and Cilium do): never isolated,
    /// never matched by a pod or namespace selector, matched only by rules without peers.
    #[default]
    Exempt,
    /// Ordinary pods: selected, isolated and matched by their labels like any other pod
    /// (np-guard's netpol-analyzer model, and some plugins').
    AsPod,
}

impl HostNetwork {
    /// The command-line spelling: `exempt` or `as-pod`.
    pub fn as_str(self) -> &'static str {
        match self {
            HostNetwork::Exempt => "exempt",
            HostNetwork::AsPod => "as-pod",
        }
    }
}

/// How to analyse.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// The cluster's pod CIDRs. Empty (the default): pod IPs are unknown, and no `ipBlock`
    /// matches a pod — the choice np-guard's netpol-analyzer makes. When given, an
    /// `ipBlock` whose address set covers every pod CIDR of at least one family matches
    /// every (non-hostNetwork) pod; a block that covers only part of the pod range does not
    /// match (a given pod might be outside it), so the analysis never over-reports.
    pub pod_cidrs: Vec<IpNet>,
    /// How `hostNetwork: true` pods are treated.
    pub host_network: HostNetwork,
}
