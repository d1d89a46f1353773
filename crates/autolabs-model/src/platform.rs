//! `platform.yaml`: the one typed file the whole baseline is rendered from.
//!
//! Every field has a default that reproduces the design document, so an empty `spec: {}`
//! renders the document's cluster. Defaults that depend on the profile (node sizes, student
//! count) are `Option`s here and resolved by the accessor methods on [`PlatformSpec`].
//! Unknown fields are errors (`deny_unknown_fields`), checked in [`crate::load`].

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::qty::Qty;

pub const API_VERSION: &str = "autolabs.io/v1alpha1";
pub const KIND: &str = "Platform";

/// The whole `platform.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Platform {
    /// Always `autolabs.io/v1alpha1`.
    pub api_version: String,
    /// Always `Platform`.
    pub kind: String,
    #[serde(default)]
    pub metadata: Metadata,
    #[serde(default)]
    pub spec: PlatformSpec,
}

impl Default for Platform {
    fn default() -> Self {
        Platform {
            api_version: API_VERSION.into(),
            kind: KIND.into(),
            metadata: Metadata::default(),
            spec: PlatformSpec::default(),
        }
    }
}

impl Platform {
    /// The document's platform for a profile and provider, every other field defaulted.
    pub fn for_profile(profile: Profile, provider: Provider) -> Self {
        let mut p = Platform::default();
        p.spec.profile = profile;
        p.spec.provider = provider;
        p
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metadata {
    /// Names this platform; rendered objects carry it as `autolabs.io/platform` so `apply
    /// --prune` only ever touches its own objects.
    #[serde(default = "default_name")]
    pub name: String,
}

impl Default for Metadata {
    fn default() -> Self {
        Metadata { name: default_name() }
    }
}

fn default_name() -> String {
    "autolabs".into()
}

/// `mvp`: one node runs control plane and workloads; `production`: 3 control-plane nodes
/// behind a virtual IP and N workers.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    #[default]
    Mvp,
    Production,
}

/// Where the cluster runs; decides StorageClasses, snapshot support and load balancing.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    #[default]
    Proxmox,
    Aws,
    Gcp,
    Yandex,
    Azure,
    Generic,
}

impl Profile {
    pub const ALL: [Profile; 2] = [Profile::Mvp, Profile::Production];
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Mvp => "mvp",
            Profile::Production => "production",
        }
    }
}

impl Provider {
    pub const ALL: [Provider; 6] = [
        Provider::Proxmox,
        Provider::Aws,
        Provider::Gcp,
        Provider::Yandex,
        Provider::Azure,
        Provider::Generic,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Proxmox => "proxmox",
            Provider::Aws => "aws",
            Provider::Gcp => "gcp",
            Provider::Yandex => "yandex",
            Provider::Azure => "azure",
            Provider::Generic => "generic",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlatformSpec {
    #[serde(default)]
    pub profile: Profile,
    #[serde(default)]
    pub provider: Provider,
    /// Kubernetes minor version of the cluster, `1.28` or newer (the document's floor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_version: Option<String>,
    /// Public domain of the platform; labs are served under `<lab>.labs.<domain>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default)]
    pub nodes: NodesSpec,
    #[serde(default)]
    pub labs: LabsSpec,
    /// Per-namespace ResourceQuota overrides: `{namespace: {resource: quantity}}`; entries
    /// replace the derived values for that resource.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub quotas: BTreeMap<String, BTreeMap<String, Qty>>,
    #[serde(default)]
    pub network: NetworkSpec,
    #[serde(default)]
    pub isolation: IsolationSpec,
    #[serde(default)]
    pub storage: StorageSpec,
    #[serde(default)]
    pub backup: BackupSpec,
    #[serde(default)]
    pub monitoring: MonitoringSpec,
    /// The ingress controller's TLS and rate limits (the ingress-nginx chart's values).
    #[serde(default)]
    pub ingress: IngressSpec,
    #[serde(default)]
    pub oidc: OidcSpec,
    #[serde(default)]
    pub control_plane: ControlPlaneSpec,
    /// The lab provisioner (`autolabs serve`) as rendered in `platform`.
    #[serde(default)]
    pub provisioner: ProvisionerSpec,
    #[serde(default)]
    pub images: Images,
    /// `autolabs probe`'s opt-in RBAC.
    #[serde(default, skip_serializing_if = "ProbeSpec::is_default")]
    pub probe: ProbeSpec,
}

/// `autolabs probe` (checking on the wire that the cluster enforces the matrix): whether the
/// rendered baseline carries the RBAC it needs to probe in the real namespaces.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProbeSpec {
    /// Render the ServiceAccount `platform/autolabs-probe` with a Role and RoleBinding in each
    /// namespace of the matrix (pods create/list/patch/deletecollection, pods/log get). Off by
    /// default: pod creation in a namespace lets its holder run pods as that namespace's
    /// ServiceAccounts, which `verify` reports.
    #[serde(default)]
    pub enabled: bool,
}

impl ProbeSpec {
    fn is_default(&self) -> bool {
        *self == ProbeSpec::default()
    }
}

pub use crate::versions::DEFAULT_KUBERNETES_VERSION;

impl PlatformSpec {
    pub fn kubernetes_version(&self) -> &str {
        self.kubernetes_version.as_deref().unwrap_or(DEFAULT_KUBERNETES_VERSION)
    }

    /// `(major, minor)` of [`Self::kubernetes_version`]; `(1, 30)` when unparsable (load
    /// rejects those before anything renders).
    pub fn kubernetes_minor(&self) -> u32 {
        parse_minor(self.kubernetes_version()).unwrap_or(30)
    }

    /// The provisioner's image: `spec.provisioner.image`, else the older
    /// `spec.images.provisioner`, else the pinned default (validation refuses both at once).
    pub fn provisioner_image(&self) -> &str {
        self.provisioner
            .image
            .as_deref()
            .or(self.images.provisioner.as_deref())
            .unwrap_or(crate::versions::PROVISIONER_IMAGE.default)
    }

    /// The image this platform uses for one of [`crate::versions::IMAGES`].
    pub fn image_for(&self, pin: &crate::versions::ImagePin) -> &str {
        use crate::versions as v;
        let images = &self.images;
        match pin.field {
            None => pin.default,
            f if f == v::PROVISIONER_IMAGE.field => self.provisioner_image(),
            f if f == v::BACKEND_IMAGE.field => &images.backend,
            f if f == v::POSTGRES_IMAGE.field => &images.postgres,
            f if f == v::REDIS_IMAGE.field => &images.redis,
            f if f == v::RABBITMQ_IMAGE.field => &images.rabbitmq,
            f if f == v::ETCD_IMAGE.field => &images.etcd,
            f if f == v::AWS_CLI_IMAGE.field => &images.aws_cli,
            _ => pin.default,
        }
    }

    pub fn domain(&self) -> &str {
        self.domain.as_deref().unwrap_or("autolabs.example.com")
    }

    /// Control-plane nodes: the document's single 8 vCPU / 16 GB / 200 GB VM for `mvp`,
    /// 3 × 4 vCPU / 8 GB for `production`.
    pub fn control_plane_nodes(&self) -> NodePool {
        let d = match self.profile {
            Profile::Mvp => NodePool::sized(1, "8", "16Gi", "200Gi"),
            Profile::Production => NodePool::sized(3, "4", "8Gi", "100Gi"),
        };
        self.nodes.control_plane.clone().map(|p| p.or(&d)).unwrap_or(d)
    }

    /// Worker nodes: none for `mvp` (the control-plane node runs everything), 8 vCPU / 16 GB
    /// each for `production`. Four by default: the document's "3+" cannot hold its own
    /// 50-student quota (25 CPU of requests) next to the platform.
    pub fn worker_nodes(&self) -> NodePool {
        let d = match self.profile {
            Profile::Mvp => NodePool::sized(0, "8", "16Gi", "200Gi"),
            Profile::Production => NodePool::sized(4, "8", "16Gi", "200Gi"),
        };
        self.nodes.workers.clone().map(|p| p.or(&d)).unwrap_or(d)
    }

    /// Students with a lab at the same time: 50 for `production` (the document's quota
    /// example); 10 for `mvp`, what one 8 vCPU node holds at 500m per lab next to the
    /// platform (the document's "20–30" would need 10–15 CPU of requests).
    pub fn students(&self) -> u32 {
        self.labs.students.unwrap_or(match self.profile {
            Profile::Mvp => 10,
            Profile::Production => 50,
        })
    }

    /// Whether the CSI driver of this provider supports VolumeSnapshots.
    pub fn snapshots_supported(&self) -> bool {
        self.storage.snapshots.unwrap_or(match (self.profile, self.provider) {
            (Profile::Mvp, Provider::Proxmox) | (_, Provider::Generic) => false,
            // proxmox-csi-plugin has no snapshot support
            (_, Provider::Proxmox) => false,
            _ => true,
        })
    }
}

pub fn parse_minor(version: &str) -> Option<u32> {
    let v = version.strip_prefix('v').unwrap_or(version);
    let mut parts = v.split('.');
    let major: u32 = parts.next()?.parse().ok()?;
    let minor: u32 = parts.next()?.parse().ok()?;
    if let Some(patch) = parts.next() {
        patch.parse::<u32>().ok()?;
    }
    if parts.next().is_some() || major != 1 {
        return None;
    }
    Some(minor)
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodesSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane: Option<NodePool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<NodePool>,
}

/// A group of identical nodes.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodePool {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// vCPUs per node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Qty>,
    /// Memory per node, e.g. `16Gi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Qty>,
    /// Disk per node, e.g. `200Gi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<Qty>,
}

impl NodePool {
    fn sized(count: u32, cpu: &str, memory: &str, disk: &str) -> Self {
        NodePool {
            count: Some(count),
            cpu: Some(Qty::lit(cpu)),
            memory: Some(Qty::lit(memory)),
            disk: Some(Qty::lit(disk)),
        }
    }
    fn or(self, d: &NodePool) -> NodePool {
        NodePool {
            count: self.count.or(d.count),
            cpu: self.cpu.or(d.cpu),
            memory: self.memory.or(d.memory),
            disk: self.disk.or(d.disk),
        }
    }
    pub fn count(&self) -> u32 {
        self.count.unwrap_or(0)
    }
    pub fn cpu(&self) -> autolabs_k8s::Quantity {
        self.cpu.map(|q| q.0).unwrap_or_default()
    }
    pub fn memory(&self) -> autolabs_k8s::Quantity {
        self.memory.map(|q| q.0).unwrap_or_default()
    }
    pub fn disk(&self) -> autolabs_k8s::Quantity {
        self.disk.map(|q| q.0).unwrap_or_default()
    }
}

/// Student labs: how many run at once and how big each is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabsSpec {
    /// Labs running at the same time (10 for mvp, 50 for production when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub students: Option<u32>,
    /// Requests of one lab (the LimitRange's defaultRequest): 500m CPU, 512Mi.
    #[serde(default = "default_lab_requests")]
    pub requests: Resources,
    /// Limits of one lab (the LimitRange's default limit): 1 CPU, 1Gi.
    #[serde(default = "default_lab_limits")]
    pub limits: Resources,
    /// Smallest container the LimitRange admits: 100m CPU, 128Mi.
    #[serde(default = "default_lab_min")]
    pub min: Resources,
    /// Largest container the LimitRange admits: 1 CPU, 1Gi.
    #[serde(default = "default_lab_limits")]
    pub max: Resources,
    /// Pods per student in the quota (the document's 100 pods for 50 students: headroom for
    /// a lab being replaced while the next starts).
    #[serde(default = "default_pods_per_student")]
    pub pods_per_student: u32,
    /// Ports lab pods listen on; ingress-nginx may reach labs only on these.
    #[serde(default = "default_lab_ports")]
    pub ports: Vec<PortSpec>,
}

impl Default for LabsSpec {
    fn default() -> Self {
        LabsSpec {
            students: None,
            requests: default_lab_requests(),
            limits: default_lab_limits(),
            min: default_lab_min(),
            max: default_lab_limits(),
            pods_per_student: default_pods_per_student(),
            ports: default_lab_ports(),
        }
    }
}

fn default_lab_requests() -> Resources {
    Resources { cpu: Qty::lit("500m"), memory: Qty::lit("512Mi") }
}
fn default_lab_limits() -> Resources {
    Resources { cpu: Qty::lit("1"), memory: Qty::lit("1Gi") }
}
fn default_lab_min() -> Resources {
    Resources { cpu: Qty::lit("100m"), memory: Qty::lit("128Mi") }
}
fn default_pods_per_student() -> u32 {
    2
}
fn default_lab_ports() -> Vec<PortSpec> {
    vec![PortSpec::tcp_range(8080, 8089)]
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resources {
    pub cpu: Qty,
    pub memory: Qty,
}

/// A port or port range with its protocol, written `8080`, `UDP/53` or `TCP/8080-8089`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortSpec {
    pub protocol: Protocol,
    pub port: u16,
    /// Inclusive end of a range (`endPort`).
    pub end_port: Option<u16>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }
}

impl PortSpec {
    pub const fn tcp(port: u16) -> Self {
        PortSpec { protocol: Protocol::Tcp, port, end_port: None }
    }
    pub const fn udp(port: u16) -> Self {
        PortSpec { protocol: Protocol::Udp, port, end_port: None }
    }
    pub const fn tcp_range(port: u16, end: u16) -> Self {
        PortSpec { protocol: Protocol::Tcp, port, end_port: Some(end) }
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        let (protocol, rest) = match s.split_once('/') {
            Some((p, r)) => (
                match p.to_ascii_uppercase().as_str() {
                    "TCP" => Protocol::Tcp,
                    "UDP" => Protocol::Udp,
                    "SCTP" => Protocol::Sctp,
                    _ => return Err(format!("unknown protocol {p:?}: use TCP, UDP or SCTP")),
                },
                r,
            ),
            None => (Protocol::Tcp, s),
        };
        let port_num = |p: &str| -> Result<u16, String> {
            match p.trim().parse::<u16>() {
                Ok(n) if n >= 1 => Ok(n),
                _ => Err(format!("{p:?} is not a port number between 1 and 65535")),
            }
        };
        let (port, end_port) = match rest.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (port_num(a)?, port_num(b)?);
                if b < a {
                    return Err(format!("port range {a}-{b} ends before it starts"));
                }
                (a, Some(b))
            }
            None => (port_num(rest)?, None),
        };
        Ok(PortSpec { protocol, port, end_port })
    }
}

impl std::fmt::Display for PortSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.end_port {
            Some(end) => write!(f, "{}/{}-{}", self.protocol.as_str(), self.port, end),
            None => write!(f, "{}/{}", self.protocol.as_str(), self.port),
        }
    }
}

impl Serialize for PortSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for PortSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Num(u64),
            Str(String),
        }
        let s = match Repr::deserialize(d)? {
            Repr::Num(n) => n.to_string(),
            Repr::Str(s) => s,
        };
        PortSpec::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for PortSpec {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PortSpec".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A port (`5432`), a protocol and port (`UDP/53`) or a range (`TCP/8080-8089`).",
            "oneOf": [
                {"type": "integer", "minimum": 1, "maximum": 65535},
                {"type": "string", "pattern": "^((?i:tcp|udp|sctp)/)?[0-9]{1,5}(-[0-9]{1,5})?$"}
            ]
        })
    }
}

/// Cluster address ranges; excepted from every "internet" egress rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkSpec {
    #[serde(default = "default_pod_cidr")]
    pub pod_cidr: String,
    #[serde(default = "default_service_cidr")]
    pub service_cidr: String,
    /// Where the nodes (and so the kube-apiserver endpoints) live; the provisioner's egress
    /// to the API server is allowed to this range on 6443 only.
    #[serde(default = "default_node_cidr")]
    pub node_cidr: String,
    /// Cluster-wide guardrails next to the NetworkPolicies: `none` (the default; not every
    /// CNI has the network-policy-api), `v1alpha1` (AdminNetworkPolicy +
    /// BaselineAdminNetworkPolicy, release v0.1.8) or `v1alpha2` (ClusterNetworkPolicy,
    /// release v0.2.0).
    #[serde(default, skip_serializing_if = "ClusterPolicies::is_none")]
    pub cluster_policies: ClusterPolicies,
}

/// Which network-policy-api version the guardrails are rendered in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ClusterPolicies {
    #[default]
    None,
    V1alpha1,
    V1alpha2,
}

impl ClusterPolicies {
    pub fn is_none(&self) -> bool {
        *self == ClusterPolicies::None
    }
}

impl Default for NetworkSpec {
    fn default() -> Self {
        NetworkSpec {
            pod_cidr: default_pod_cidr(),
            service_cidr: default_service_cidr(),
            node_cidr: default_node_cidr(),
            cluster_policies: ClusterPolicies::None,
        }
    }
}

fn default_pod_cidr() -> String {
    "192.168.0.0/16".into() // Calico's default IP pool
}
fn default_service_cidr() -> String {
    "10.96.0.0/12".into() // kubeadm's default
}
fn default_node_cidr() -> String {
    "10.0.0.0/24".into()
}

/// The Namespace Isolation Matrix: the flows that are allowed. Everything else is denied,
/// and `autolabs verify` proves both halves.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IsolationSpec {
    /// Replaces the document's matrix when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flows: Option<Vec<Flow>>,
    /// Added to the matrix (the document's, or `flows`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_flows: Vec<Flow>,
}

/// One allowed flow: `from` may open connections to `to` on `ports`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Flow {
    /// DNS-1123 label; names the rendered NetworkPolicies (`allow-<name>-egress`/`-ingress`).
    pub name: String,
    pub from: Endpoint,
    pub to: Endpoint,
    /// Empty = every port.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortSpec>,
}

/// One side of a flow: pods of a namespace (all, or those with `pods` labels), or an
/// address range outside the cluster (`internet`, `cidr`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Endpoint {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Pod labels (`matchLabels`); absent = every pod of the namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods: Option<BTreeMap<String, String>>,
    /// The public internet: `0.0.0.0/0` minus private, link-local and cluster ranges.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub internet: bool,
    /// A fixed address range (for example the nodes, for the API server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr: Option<String>,
}

impl Endpoint {
    pub fn pods(namespace: &str, labels: &[(&str, &str)]) -> Self {
        Endpoint {
            namespace: Some(namespace.into()),
            pods: Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
            ..Default::default()
        }
    }
    pub fn namespace(namespace: &str) -> Self {
        Endpoint { namespace: Some(namespace.into()), ..Default::default() }
    }
    pub fn internet() -> Self {
        Endpoint { internet: true, ..Default::default() }
    }
    pub fn cidr(cidr: &str) -> Self {
        Endpoint { cidr: Some(cidr.into()), ..Default::default() }
    }
    /// Pods inside the cluster (as opposed to an address range).
    pub fn is_in_cluster(&self) -> bool {
        self.namespace.is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StorageSpec {
    /// StorageClass for the data tier; the provider's class when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,
    /// The platform PostgreSQL volume (document: 50Gi).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postgres_size: Option<Qty>,
    /// Zitadel's own PostgreSQL volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zitadel_postgres_size: Option<Qty>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rabbitmq_size: Option<Qty>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_size: Option<Qty>,
    /// Override whether the CSI driver supports VolumeSnapshots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshots: Option<bool>,
}

impl StorageSpec {
    pub fn postgres_size(&self) -> Qty {
        self.postgres_size.unwrap_or(Qty::lit("50Gi"))
    }
    pub fn zitadel_postgres_size(&self) -> Qty {
        self.zitadel_postgres_size.unwrap_or(Qty::lit("10Gi"))
    }
    pub fn rabbitmq_size(&self) -> Qty {
        self.rabbitmq_size.unwrap_or(Qty::lit("8Gi"))
    }
    pub fn redis_size(&self) -> Qty {
        self.redis_size.unwrap_or(Qty::lit("2Gi"))
    }
}

/// Backups: pg_dump of both PostgreSQL instances (daily) and etcd snapshots (hourly), as the
/// document asks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackupSpec {
    #[serde(default = "default_db_schedule")]
    pub schedule: String,
    #[serde(default = "default_etcd_schedule")]
    pub etcd_schedule: String,
    /// Dumps older than this are deleted by the backup job itself.
    #[serde(default = "default_retention")]
    pub retention_days: u32,
    #[serde(default)]
    pub target: BackupTarget,
}

impl Default for BackupSpec {
    fn default() -> Self {
        BackupSpec {
            schedule: default_db_schedule(),
            etcd_schedule: default_etcd_schedule(),
            retention_days: default_retention(),
            target: BackupTarget::default(),
        }
    }
}

fn default_db_schedule() -> String {
    "0 2 * * *".into()
}
fn default_etcd_schedule() -> String {
    "0 * * * *".into()
}
fn default_retention() -> u32 {
    7
}

/// Where backups go: a PersistentVolumeClaim, or an S3/MinIO bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackupTarget {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pvc: Option<PvcTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Target>,
}

impl Default for BackupTarget {
    fn default() -> Self {
        BackupTarget { pvc: Some(PvcTarget { size: Qty::lit("100Gi"), storage_class: None }), s3: None }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PvcTarget {
    pub size: Qty,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct S3Target {
    /// `https://minio.example.com:9000`; egress to it is allowed on its port only.
    pub endpoint: String,
    pub bucket: String,
    #[serde(default = "default_region")]
    pub region: String,
    /// A Secret with `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`, in each namespace that
    /// runs a backup job.
    pub secret_name: String,
    /// Address range of the endpoint (egress is limited to it); the internet when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr: Option<String>,
}

fn default_region() -> String {
    "us-east-1".into()
}

/// Monitoring: the stack's charts, and where the rendered alerts are sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MonitoringSpec {
    /// Installs kube-prometheus-stack and Loki through their charts (`addons/`); off, the
    /// rendered rules, dashboard and Alertmanager configuration wait for a stack of yours.
    #[serde(default = "default_true")]
    pub enabled: bool,
    #[serde(default)]
    pub alerting: AlertingSpec,
}

impl Default for MonitoringSpec {
    fn default() -> Self {
        MonitoringSpec { enabled: true, alerting: AlertingSpec::default() }
    }
}

/// The ingress controller: TLS termination with a default certificate, and per-client rate
/// limits applied to every server it serves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IngressSpec {
    /// The cert-manager ClusterIssuer of the default certificate; unset, `render` writes a
    /// self-signed one (`autolabs-selfsigned`): replace it with ACME for a public domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_issuer: Option<String>,
    /// Requests per second one client address may send (nginx `limit_req`).
    #[serde(default = "default_rate_limit_rps")]
    pub rate_limit_rps: u32,
    /// Requests above the rate a client may queue before getting 429.
    #[serde(default = "default_rate_limit_burst")]
    pub rate_limit_burst: u32,
    /// Concurrent connections per client address (nginx `limit_conn`).
    #[serde(default = "default_rate_limit_connections")]
    pub rate_limit_connections: u32,
}

impl Default for IngressSpec {
    fn default() -> Self {
        IngressSpec {
            cluster_issuer: None,
            rate_limit_rps: default_rate_limit_rps(),
            rate_limit_burst: default_rate_limit_burst(),
            rate_limit_connections: default_rate_limit_connections(),
        }
    }
}

fn default_rate_limit_rps() -> u32 {
    20
}
fn default_rate_limit_burst() -> u32 {
    40
}
fn default_rate_limit_connections() -> u32 {
    50
}

/// Alertmanager's receivers and routing: critical alerts to every receiver listed under
/// `critical`, warnings to those under `warning`, and a warning silenced while a critical of
/// the same alertname and namespace fires. Credentials are never written here: they are keys
/// of the Secret `secretName` (namespace `monitoring`), mounted into Alertmanager.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AlertingSpec {
    /// The Secret holding the receivers' credentials (`telegram-bot-token`, `smtp-password`),
    /// mounted by Alertmanager at `/etc/alertmanager/secrets/<secretName>/`.
    #[serde(default = "default_alerting_secret")]
    pub secret_name: String,
    /// A Telegram chat (the channel the platform team uses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telegram: Option<TelegramReceiver>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailReceiver>,
    /// Who gets critical alerts (of these, the receivers that are configured).
    #[serde(default = "default_critical_receivers")]
    pub critical: Vec<ReceiverKind>,
    /// Who gets warnings (of these, the receivers that are configured).
    #[serde(default = "default_warning_receivers")]
    pub warning: Vec<ReceiverKind>,
}

impl Default for AlertingSpec {
    fn default() -> Self {
        AlertingSpec {
            secret_name: default_alerting_secret(),
            telegram: None,
            email: None,
            critical: default_critical_receivers(),
            warning: default_warning_receivers(),
        }
    }
}

fn default_alerting_secret() -> String {
    "autolabs-alerting".into()
}
fn default_critical_receivers() -> Vec<ReceiverKind> {
    vec![ReceiverKind::Telegram, ReceiverKind::Email]
}
fn default_warning_receivers() -> Vec<ReceiverKind> {
    vec![ReceiverKind::Telegram]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReceiverKind {
    Telegram,
    Email,
}

impl ReceiverKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiverKind::Telegram => "telegram",
            ReceiverKind::Email => "email",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TelegramReceiver {
    /// The chat's id (a channel's or group's is negative: `-1001234567890`).
    pub chat_id: i64,
    /// The key of `secretName` that holds the bot token.
    #[serde(default = "default_bot_token_key")]
    pub bot_token_key: String,
}

fn default_bot_token_key() -> String {
    "telegram-bot-token".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmailReceiver {
    /// Where alerts are mailed (`ops@example.org`).
    pub to: String,
    /// The sender address.
    pub from: String,
    /// The SMTP server, `host:port`.
    pub smarthost: String,
    /// The SMTP user; no authentication when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The key of `secretName` that holds the SMTP password (used with `username`).
    #[serde(default = "default_smtp_password_key")]
    pub password_key: String,
    /// STARTTLS required (Alertmanager's default).
    #[serde(default = "default_true")]
    pub require_tls: bool,
}

fn default_smtp_password_key() -> String {
    "smtp-password".into()
}
fn default_true() -> bool {
    true
}

/// kube-apiserver OIDC against Zitadel, and the groups the human roles are bound to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OidcSpec {
    /// `https://auth.<domain>` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_url: Option<String>,
    #[serde(default = "default_client_id")]
    pub client_id: String,
    #[serde(default = "default_username_claim")]
    pub username_claim: String,
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    /// Prefix the API server puts before every OIDC group (`--oidc-groups-prefix`).
    #[serde(default = "default_groups_prefix")]
    pub groups_prefix: String,
    #[serde(default = "default_admin_group")]
    pub admin_group: String,
    #[serde(default = "default_developer_group")]
    pub developer_group: String,
    #[serde(default = "default_support_group")]
    pub support_group: String,
}

impl Default for OidcSpec {
    fn default() -> Self {
        OidcSpec {
            issuer_url: None,
            client_id: default_client_id(),
            username_claim: default_username_claim(),
            groups_claim: default_groups_claim(),
            groups_prefix: default_groups_prefix(),
            admin_group: default_admin_group(),
            developer_group: default_developer_group(),
            support_group: default_support_group(),
        }
    }
}

impl OidcSpec {
    pub fn issuer_url(&self, domain: &str) -> String {
        self.issuer_url.clone().unwrap_or_else(|| format!("https://auth.{domain}"))
    }
    /// The group name as RBAC sees it (with the API server's prefix).
    pub fn rbac_group(&self, group: &str) -> String {
        format!("{}{group}", self.groups_prefix)
    }
}

fn default_client_id() -> String {
    "kubernetes".into()
}
fn default_username_claim() -> String {
    "email".into()
}
fn default_groups_claim() -> String {
    "groups".into()
}
fn default_groups_prefix() -> String {
    "oidc:".into()
}
fn default_admin_group() -> String {
    "autolabs-admins".into()
}
fn default_developer_group() -> String {
    "autolabs-developers".into()
}
fn default_support_group() -> String {
    "autolabs-support".into()
}

/// `production` control plane: kubeadm nodes behind HAProxy + keepalived.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ControlPlaneSpec {
    /// The keepalived virtual IP that fronts the API servers.
    #[serde(default = "default_vip")]
    pub virtual_ip: String,
    /// HAProxy's port on the virtual IP (not 6443: the API server listens there on the same nodes).
    #[serde(default = "default_lb_port")]
    pub port: u16,
    /// Network interface keepalived announces the virtual IP on.
    #[serde(default = "default_interface")]
    pub interface: String,
    #[serde(default = "default_cp_nodes")]
    pub nodes: Vec<ControlPlaneNode>,
}

impl Default for ControlPlaneSpec {
    fn default() -> Self {
        ControlPlaneSpec {
            virtual_ip: default_vip(),
            port: default_lb_port(),
            interface: default_interface(),
            nodes: default_cp_nodes(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ControlPlaneNode {
    pub name: String,
    pub address: String,
}

fn default_vip() -> String {
    "10.0.0.10".into()
}
fn default_lb_port() -> u16 {
    8443
}
fn default_interface() -> String {
    "eth0".into()
}
fn default_cp_nodes() -> Vec<ControlPlaneNode> {
    (1..=3).map(|i| ControlPlaneNode { name: format!("cp-{i}"), address: format!("10.0.0.1{i}") }).collect()
}

/// The lab provisioner's Deployment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProvisionerSpec {
    /// The provisioner's image (this binary, built by the repository's `Containerfile` or
    /// `image/build`). Pin it by digest: `registry.example/autolabs:0.1.0@sha256:…`;
    /// `verify` warns on a tag without one. Default: `autolabs versions`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// Container images, pinned (defaults: `autolabs versions`, from `versions.rs`). Override
/// for a private registry; pin by digest (`name:tag@sha256:…`): `verify` warns on tags
/// without one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Images {
    /// The older name of `spec.provisioner.image`, still read; setting both is an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioner: Option<String>,
    #[serde(default = "img_backend")]
    pub backend: String,
    #[serde(default = "img_postgres")]
    pub postgres: String,
    #[serde(default = "img_redis")]
    pub redis: String,
    #[serde(default = "img_rabbitmq")]
    pub rabbitmq: String,
    #[serde(default = "img_etcd")]
    pub etcd: String,
    /// Used by backup jobs that upload to S3/MinIO.
    #[serde(default = "img_aws_cli")]
    pub aws_cli: String,
}

impl Default for Images {
    fn default() -> Self {
        Images {
            provisioner: None,
            backend: img_backend(),
            postgres: img_postgres(),
            redis: img_redis(),
            rabbitmq: img_rabbitmq(),
            etcd: img_etcd(),
            aws_cli: img_aws_cli(),
        }
    }
}

fn img_backend() -> String {
    crate::versions::BACKEND_IMAGE.default.into()
}
fn img_postgres() -> String {
    crate::versions::POSTGRES_IMAGE.default.into()
}
fn img_redis() -> String {
    crate::versions::REDIS_IMAGE.default.into()
}
fn img_rabbitmq() -> String {
    crate::versions::RABBITMQ_IMAGE.default.into()
}
fn img_etcd() -> String {
    crate::versions::ETCD_IMAGE.default.into()
}
fn img_aws_cli() -> String {
    crate::versions::AWS_CLI_IMAGE.default.into()
}
