//! NetworkPolicy reachability with Kubernetes' exact semantics, computed over
//! equivalence classes of pods.
//!
//! # Model
//!
//! The input is a [`Cluster`]: namespaces (name, labels), pods (namespace, name, labels,
//! named container ports, `hostNetwork`) — workload templates can stand for their pods
//! through [`Pod::from_pod_spec`] — and `networking.k8s.io/v1` NetworkPolicies.
//! [`Analysis::new`] validates every policy as the API server would (errors name the
//! field path, e.g. `spec.ingress[0].from[1].ipBlock.except[0]`) and builds the class
//! model; then [`Analysis::allowed`], [`Analysis::explain`], [`Analysis::connections`]
//! and [`Analysis::namespace_matrix`] answer questions, and [`findings`] holds generic
//! checks.
//!
//! # Semantics (`k8s.io/api/networking/v1/types.go`)
//!
//! - A pod is isolated for ingress (egress) iff a policy of its namespace selects it and
//!   has Ingress (Egress) among its effective policyTypes. Absent policyTypes default to
//!   Ingress, plus Egress when `egress` is non-empty. A non-isolated direction allows all.
//! - `A → B` is allowed iff A's egress allows it towards B and B's ingress allows it from
//!   A; rules are unions, an absent or empty `from`/`to` matches every peer, absent or
//!   empty `ports` every port; a pod may always reach itself.
//! - Named ports resolve on the destination pod's container ports with the same
//!   protocol; one that resolves nowhere matches nothing.
//! - **ipBlock and pods**: pod IPs are not known statically, so by default an `ipBlock`
//!   matches only external endpoints, never pods (np-guard's netpol-analyzer makes the
//!   same choice). Give [`Options::pod_cidrs`] to let blocks that cover the pod range
//!   match pods.
//! - `hostNetwork` pods: by default ([`HostNetwork::Exempt`]) outside policy — never
//!   isolated, matched only by rules without peers — as Calico and Cilium treat them;
//!   [`HostNetwork::AsPod`] treats them as ordinary pods, as np-guard's netpol-analyzer
//!   does. Namespaces referenced but not supplied exist with just their
//!   `kubernetes.io/metadata.name` label.
//!
//! # Cluster-wide policies (network-policy-api)
//!
//! [`Cluster::cluster_policies`] holds `ClusterNetworkPolicy` (v1alpha2) and
//! `AdminNetworkPolicy` / `BaselineAdminNetworkPolicy` (v1alpha1), decoded strictly by
//! [`ClusterPolicy::from_value`]. Each side of a connection goes through the tiers Admin →
//! NetworkPolicy → Baseline (`ClusterNetworkPolicySpec.Tier`): in a tier, policies by
//! ascending priority (equal priorities by name; [`Analysis::priority_ties`] reports them),
//! rules in order, the first matching rule decides; Accept/Allow and Deny end evaluation,
//! Pass (or no match) goes on; NetworkPolicy decides for the pods it isolates; what no tier
//! decides is allowed. `networks` peers match pods only when they cover the pod range (as
//! `ipBlock` does, see [`Options::pod_cidrs`]); `nodes` peers match the addresses of
//! [`Cluster::nodes`]; pods and namespaces peers never match hostNetwork pods. A pod may
//! always reach itself. [`Analysis::openable_by_namespace_owners`] answers what a
//! NetworkPolicy added in the source or destination namespace could still open.
//!
//! # Scale
//!
//! Pods that share namespace, labels, named ports and `hostNetwork` form one [`Class`];
//! every question is answered per class pair (see [`Analysis`]), so the
//! synthetic 1,000-namespace / 10,000-pod / 10,000-policy cluster builds in about 0.1 s
//! (`examples/bench.rs`).
//!
//! # Not modelled
//!
//! - Named ports are resolved on `containers[*].ports` only (not on restartable init
//!   containers, the sidecars of Kubernetes 1.29+).
//! - Traffic through Services (ClusterIP/NodePort DNAT) is not modelled; answers are
//!   about pod-to-pod and pod-to-IP traffic, which is what NetworkPolicy governs.
//! - An external endpoint that falls inside the pod CIDRs is still treated as external.
#![forbid(unsafe_code)]
// A panic in a library is a silent way to fail: non-test code returns errors, or says with an
// allowed `expect` why it cannot fail.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod analysis;
mod cluster;
mod connset;
mod error;
pub mod findings;
mod intervals;
mod ipset;
mod model;
mod policy;
pub mod synthetic;

pub use analysis::{
    Analysis, Class, ClassId, Endpoint, Explanation, PodId, PolicyRef, PriorityTie, RuleRef, Verdict,
};
pub use cluster::{
    Action, CLUSTER_POLICY_GROUP, ClusterPolicy, ClusterPolicyKind, ClusterRuleRef, Node, Tier,
};
pub use connset::{ConnSet, MAX_PORT, MIN_PORT, Protocol};
pub use error::NetpolError;
pub use ipnet::IpNet;
pub use ipset::{IpSet, parse_cidr_legacy};
pub use model::{Cluster, HostNetwork, NAMESPACE_NAME_LABEL, NamedPort, Namespace, Options, Pod};
pub use policy::Direction;
