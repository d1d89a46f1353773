//! The one table of add-on charts: what we pin, and the facts of each chart the baseline must
//! agree with (ServiceAccounts, pod labels, ports, default requests, Pod Security needs, who
//! owns the RBAC).
//!
//! Every fact was read in the chart's templates and `values.yaml` at the pinned tag of its
//! upstream repository (`source` at `source_ref`), and holds for the values `autolabs render`
//! writes (`addons/values/<release>.yaml`). Where our values change what the chart would do by
//! default, the workload says so (`labels_from_values`, `security_from_values`, `note`). The
//! agreement tests (`crates/autolabs-verify/tests/addons_agreement.rs`) hold the rendered
//! baseline to these facts; `docs/addons.md` is generated from this table and checked
//! against it.

use serde_json::{Map, Value, json};

use crate::platform::{PlatformSpec, Profile, Provider};
use crate::topology::{AUTH, INGRESS_NGINX, MONITORING};

/// Who creates a component's ClusterRoles and Roles: exactly one owner, or every apply of the
/// other would fight it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RbacOwner {
    /// The chart (`rbac.create` left on); `autolabs render` writes none of its roles.
    Chart,
    /// `autolabs render` (the chart's `rbac.create`/`serviceAccount.create` turned off).
    Autolabs,
}

/// When a chart is part of the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Always,
    /// When the platform renders a VolumeSnapshotClass (`storage.snapshots`).
    Snapshots,
    /// When the rendered StorageClass uses this CSI provisioner.
    Provisioner(&'static str),
    /// When `monitoring.enabled`.
    Monitoring,
}

/// A container's securityContext as the chart renders it with our values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// runAsNonRoot, no privilege escalation, all capabilities dropped, seccomp RuntimeDefault.
    Restricted,
    /// As `Restricted`, plus the one capability restricted allows adding: NET_BIND_SERVICE.
    RestrictedBindService,
    /// runAsNonRoot only (no seccomp profile, capabilities kept, escalation not refused).
    NonRootOnly,
    /// Nothing set: the image's user, the runtime's capabilities.
    Unset,
    /// `privileged: true` (CSI node plugins mount devices).
    Privileged,
}

/// One container of a chart's workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChartContainer {
    pub name: &'static str,
    /// `containerPort`s.
    pub ports: &'static [u16],
    /// `resources.requests` (cpu, memory): the chart's default, or our values' where the
    /// workload's `note` says so; `None` when neither sets any (the namespace's LimitRange
    /// then fills them in).
    pub requests: Option<(&'static str, &'static str)>,
    /// `resources.limits` (cpu, memory), as `requests`.
    pub limits: Option<(&'static str, &'static str)>,
    pub security: Security,
}

/// One workload a chart creates (with our values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChartWorkload {
    /// `Deployment`, `DaemonSet`, `StatefulSet` or `Job`.
    pub kind: &'static str,
    pub name: &'static str,
    /// Where it runs; the chart's namespace unless the chart overrides it.
    pub namespace: &'static str,
    pub replicas: u32,
    pub service_account: &'static str,
    /// The labels the chart's templates put on the pods.
    pub chart_labels: &'static [(&'static str, &'static str)],
    /// The labels our values add (`podLabels`, `podAdditionalLabels`, `podMetadata`), so that
    /// the isolation matrix's selectors find the pods.
    pub labels_from_values: &'static [(&'static str, &'static str)],
    pub host_network: bool,
    /// Mounts a hostPath volume.
    pub host_path: bool,
    pub containers: &'static [ChartContainer],
    /// Talks to the API server (controllers, operators, service discovery).
    pub api_client: bool,
}

impl ChartWorkload {
    /// Every label the pods carry: the chart's and ours.
    pub fn pod_labels(&self) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
        self.chart_labels.iter().chain(self.labels_from_values).copied()
    }

    /// The workload as the facts describe it (labels, ServiceAccount, ports, requests,
    /// securityContext, host access): what the agreement tests and `verify` read in place of
    /// `helm template` output. Not the chart's whole manifest (no images' flags, probes or
    /// volumes beyond a hostPath), only what the baseline's engines look at.
    pub fn manifest(&self) -> Value {
        let labels: Map<String, Value> =
            self.pod_labels().map(|(k, v)| (k.to_string(), Value::String(v.to_string()))).collect();
        let template_labels = Value::Object(labels.clone());
        let selector: Map<String, Value> =
            self.chart_labels.iter().map(|(k, v)| (k.to_string(), Value::String(v.to_string()))).collect();
        let containers: Vec<Value> = self.containers.iter().map(ChartContainer::manifest).collect();
        let mut pod = json!({
            "serviceAccountName": self.service_account,
            "containers": containers,
        });
        if self.host_network {
            pod["hostNetwork"] = json!(true);
        }
        if self.host_path {
            pod["volumes"] = json!([{"name": "host", "hostPath": {"path": "/var/lib"}}]);
        }
        if self
            .containers
            .iter()
            .all(|c| matches!(c.security, Security::Restricted | Security::RestrictedBindService))
        {
            pod["securityContext"] =
                json!({"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}});
        }
        if self.kind == "Job" {
            pod["restartPolicy"] = json!("OnFailure");
        }
        let template = json!({"metadata": {"labels": labels}, "spec": pod});
        let selector = json!({"matchLabels": selector});
        let (api_version, spec) = match self.kind {
            "Job" => ("batch/v1", json!({"template": template})),
            "DaemonSet" => ("apps/v1", json!({"selector": selector, "template": template})),
            "StatefulSet" => (
                "apps/v1",
                json!({
                    "replicas": self.replicas, "serviceName": self.name, "selector": selector, "template": template,
                }),
            ),
            _ => ("apps/v1", json!({"replicas": self.replicas, "selector": selector, "template": template})),
        };
        json!({
            "apiVersion": api_version,
            "kind": self.kind,
            "metadata": {"name": self.name, "namespace": self.namespace, "labels": template_labels},
            "spec": spec,
        })
    }
}

impl ChartContainer {
    fn manifest(&self) -> Value {
        let mut c = json!({"name": self.name, "image": format!("{}:pinned", self.name)});
        if !self.ports.is_empty() {
            c["ports"] = Value::Array(
                self.ports.iter().map(|p| json!({"containerPort": p, "protocol": "TCP"})).collect(),
            );
        }
        let mut resources = Map::new();
        if let Some((cpu, memory)) = self.requests {
            resources.insert("requests".into(), json!({"cpu": cpu, "memory": memory}));
        }
        if let Some((cpu, memory)) = self.limits {
            resources.insert("limits".into(), json!({"cpu": cpu, "memory": memory}));
        }
        if !resources.is_empty() {
            c["resources"] = Value::Object(resources);
        }
        let restricted = |add: &[&str]| {
            json!({
                "runAsNonRoot": true, "allowPrivilegeEscalation": false,
                "capabilities": {"drop": ["ALL"], "add": add},
                "seccompProfile": {"type": "RuntimeDefault"},
            })
        };
        match self.security {
            Security::Restricted => c["securityContext"] = restricted(&[]),
            Security::RestrictedBindService => c["securityContext"] = restricted(&["NET_BIND_SERVICE"]),
            Security::NonRootOnly => c["securityContext"] = json!({"runAsNonRoot": true, "runAsUser": 1000}),
            Security::Privileged => c["securityContext"] = json!({"privileged": true}),
            Security::Unset => {}
        }
        c
    }
}

/// One pinned upstream chart and its facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChartPin {
    /// What the platform calls the component.
    pub component: &'static str,
    /// The Helm release name (fixes every `fullname` below).
    pub release: &'static str,
    pub chart: &'static str,
    /// The Helm repository (`https://…`, or `oci://…` for OCI registries).
    pub repo_url: &'static str,
    pub version: &'static str,
    pub app_version: &'static str,
    /// The repository and folder whose templates were read…
    pub source: &'static str,
    /// …at this tag.
    pub source_ref: &'static str,
    /// The release namespace.
    pub namespace: &'static str,
    /// Whether `autolabs render` writes the namespace (with its Pod Security labels), or it
    /// is one the cluster or the baseline already has.
    pub renders_namespace: bool,
    /// The Pod Security level the namespace enforces…
    pub pod_security: &'static str,
    /// …and why (written as the namespace's `autolabs.io/pod-security-reason`).
    pub pod_security_reason: &'static str,
    pub rbac_owner: RbacOwner,
    /// ClusterRoles the chart creates with our values.
    pub cluster_roles: &'static [&'static str],
    /// Roles the chart creates with our values, `namespace/name`.
    pub roles: &'static [&'static str],
    pub workloads: &'static [ChartWorkload],
    pub when: When,
    /// What our values change, and any caveat.
    pub note: &'static str,
}

impl ChartPin {
    /// The Pod Security level a namespace this chart runs pods in enforces: node-exporter's
    /// own namespace is privileged, every other the chart's.
    pub fn pod_security_for(&self, namespace: &str) -> &'static str {
        if namespace == NODE_EXPORTER_NS { "privileged" } else { self.pod_security }
    }

    /// Whether this chart is part of the platform `spec` describes.
    pub fn applies(&self, spec: &PlatformSpec) -> bool {
        match self.when {
            When::Always => true,
            When::Snapshots => spec.snapshots_supported(),
            When::Provisioner(p) => crate::render::provider_provisioner(spec) == p,
            When::Monitoring => spec.monitoring.enabled,
        }
    }
}

/// The charts a platform installs, in install order (CNI first, cert-manager before the
/// ingress controller whose webhook certificate it issues).
pub fn charts_for(spec: &PlatformSpec) -> impl Iterator<Item = &'static ChartPin> + '_ {
    CHARTS.iter().filter(|c| c.applies(spec))
}

/// A CSI provisioner of a StorageClass we render whose driver has no upstream Helm chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uncharted {
    pub provisioner: &'static str,
    pub providers: &'static [Provider],
    pub profiles: &'static [Profile],
    /// How the driver gets installed instead.
    pub how: &'static str,
}

/// The StorageClass provisioners that no pinned chart installs, and what to do instead.
pub const UNCHARTED: &[Uncharted] = &[
    Uncharted {
        provisioner: "pd.csi.storage.gke.io",
        providers: &[Provider::Gcp],
        profiles: &[Profile::Mvp, Profile::Production],
        how: "kubernetes-sigs/gcp-compute-persistent-disk-csi-driver publishes no Helm chart (kustomize \
              overlays under deploy/kubernetes/overlays); GKE enables it as a managed add-on, self-managed \
              clusters apply the stable-master overlay",
    },
    Uncharted {
        provisioner: "disk-csi-driver.mks.ycloud.io",
        providers: &[Provider::Yandex],
        profiles: &[Profile::Mvp, Profile::Production],
        how: "part of Yandex Managed Service for Kubernetes (mks); there is no public chart to pin",
    },
    Uncharted {
        provisioner: "rancher.io/local-path",
        providers: &[Provider::Proxmox, Provider::Generic],
        profiles: &[Profile::Mvp],
        how: "rancher/local-path-provisioner publishes no Helm repository (its chart lives in the Git \
              repository only); apply deploy/local-path-storage.yaml of the release",
    },
];

const NO_LIMITS: Option<(&str, &str)> = None;

const fn container(
    name: &'static str,
    ports: &'static [u16],
    requests: Option<(&'static str, &'static str)>,
    security: Security,
) -> ChartContainer {
    ChartContainer { name, ports, requests, limits: NO_LIMITS, security }
}

/// Release names, used by the values generator and the tests.
pub mod release {
    pub const CALICO: &str = "tigera-operator";
    pub const CERT_MANAGER: &str = "cert-manager";
    pub const INGRESS_NGINX: &str = "ingress-nginx";
    pub const ZITADEL: &str = "zitadel";
    pub const SNAPSHOT_CONTROLLER: &str = "snapshot-controller";
    pub const PROXMOX_CSI: &str = "proxmox-csi-plugin";
    pub const AWS_EBS_CSI: &str = "aws-ebs-csi-driver";
    pub const AZURE_DISK_CSI: &str = "azuredisk-csi-driver";
    pub const KUBE_PROMETHEUS_STACK: &str = "kube-prometheus-stack";
    pub const LOKI: &str = "loki";
}

/// Namespaces of the add-ons that the baseline does not have.
pub const TIGERA_OPERATOR_NS: &str = "tigera-operator";
pub const CERT_MANAGER_NS: &str = "cert-manager";
pub const CSI_PROXMOX_NS: &str = "csi-proxmox";
/// node-exporter reads the host (hostNetwork, hostPID, hostPath /): privileged, so it gets a
/// namespace of its own instead of loosening `monitoring`.
pub const NODE_EXPORTER_NS: &str = "node-exporter";
pub const KUBE_SYSTEM: &str = crate::topology::KUBE_SYSTEM;

/// The label our values put on chart pods that need the API server, selected by the
/// `monitoring-to-apiserver` flow.
pub const API_CLIENT_LABEL: (&str, &str) = ("autolabs.io/api-client", "true");

/// Prometheus's and Loki's resources (requests, limits) as our values set them: the charts set
/// none, and the LimitRange's default limit (512Mi) would OOM-kill both.
pub const PROMETHEUS_RESOURCES: ((&str, &str), (&str, &str)) = (("500m", "2Gi"), ("2", "4Gi"));
pub const LOKI_RESOURCES: ((&str, &str), (&str, &str)) = (("200m", "512Mi"), ("1", "2Gi"));

/// The table. Install order.
pub const CHARTS: &[ChartPin] = &[
    ChartPin {
        component: "calico",
        release: release::CALICO,
        chart: "tigera-operator",
        repo_url: "https://docs.tigera.io/calico/charts",
        version: "v3.31.7",
        app_version: "v3.31.7 (operator v1.40.15)",
        source: "github.com/projectcalico/calico charts/tigera-operator",
        source_ref: "v3.31.7",
        namespace: TIGERA_OPERATOR_NS,
        renders_namespace: true,
        pod_security: "privileged",
        pod_security_reason: "the tigera-operator Deployment runs with hostNetwork and mounts the hostPath \
                              /var/lib/calico (both forbidden by baseline); calico-node and typha run in \
                              calico-system, which the operator creates and labels privileged itself",
        rbac_owner: RbacOwner::Chart,
        cluster_roles: &["tigera-operator", "tigera-operator-secrets"],
        roles: &[],
        workloads: &[ChartWorkload {
            kind: "Deployment",
            name: "tigera-operator",
            namespace: TIGERA_OPERATOR_NS,
            replicas: 1,
            service_account: "tigera-operator",
            chart_labels: &[("name", "tigera-operator"), ("k8s-app", "tigera-operator")],
            labels_from_values: &[],
            host_network: true,
            host_path: true,
            containers: &[container("tigera-operator", &[], None, Security::Unset)],
            api_client: true,
        }],
        when: When::Always,
        note: "values: installation.calicoNetwork.ipPools from network.podCidr, encapsulation per provider",
    },
    ChartPin {
        component: "cert-manager",
        release: release::CERT_MANAGER,
        chart: "cert-manager",
        repo_url: "https://charts.jetstack.io",
        version: "v1.21.1",
        app_version: "v1.21.1",
        source: "github.com/cert-manager/cert-manager deploy/charts/cert-manager",
        source_ref: "v1.21.1",
        namespace: CERT_MANAGER_NS,
        renders_namespace: true,
        pod_security: "restricted",
        pod_security_reason: "the chart's pods run non-root with seccomp RuntimeDefault, no privilege \
                              escalation and all capabilities dropped",
        rbac_owner: RbacOwner::Chart,
        cluster_roles: &[
            "cert-manager-controller-issuers",
            "cert-manager-controller-clusterissuers",
            "cert-manager-controller-certificates",
            "cert-manager-controller-orders",
            "cert-manager-controller-challenges",
            "cert-manager-controller-ingress-shim",
            "cert-manager-cluster-view",
            "cert-manager-view",
            "cert-manager-edit",
            "cert-manager-controller-approve:cert-manager-io",
            "cert-manager-controller-certificatesigningrequests",
            "cert-manager-cainjector",
            "cert-manager-webhook:subjectaccessreviews",
        ],
        roles: &[
            "cert-manager/cert-manager:leaderelection",
            "cert-manager/cert-manager-cainjector:leaderelection",
            "cert-manager/cert-manager-webhook:dynamic-serving",
        ],
        workloads: &[
            ChartWorkload {
                kind: "Deployment",
                name: "cert-manager",
                namespace: CERT_MANAGER_NS,
                replicas: 1,
                service_account: "cert-manager",
                chart_labels: &[
                    ("app", "cert-manager"),
                    ("app.kubernetes.io/name", "cert-manager"),
                    ("app.kubernetes.io/instance", "cert-manager"),
                    ("app.kubernetes.io/component", "controller"),
                ],
                labels_from_values: &[],
                host_network: false,
                host_path: false,
                containers: &[container(
                    "cert-manager-controller",
                    &[9402, 9403],
                    None,
                    Security::Restricted,
                )],
                api_client: true,
            },
            ChartWorkload {
                kind: "Deployment",
                name: "cert-manager-cainjector",
                namespace: CERT_MANAGER_NS,
                replicas: 1,
                service_account: "cert-manager-cainjector",
                chart_labels: &[
                    ("app", "cainjector"),
                    ("app.kubernetes.io/name", "cainjector"),
                    ("app.kubernetes.io/instance", "cert-manager"),
                    ("app.kubernetes.io/component", "cainjector"),
                ],
                labels_from_values: &[],
                host_network: false,
                host_path: false,
                containers: &[container("cert-manager-cainjector", &[9402], None, Security::Restricted)],
                api_client: true,
            },
            ChartWorkload {
                kind: "Deployment",
                name: "cert-manager-webhook",
                namespace: CERT_MANAGER_NS,
                replicas: 1,
                service_account: "cert-manager-webhook",
                chart_labels: &[
                    ("app", "webhook"),
                    ("app.kubernetes.io/name", "webhook"),
                    ("app.kubernetes.io/instance", "cert-manager"),
                    ("app.kubernetes.io/component", "webhook"),
                ],
                labels_from_values: &[],
                host_network: false,
                host_path: false,
                containers: &[container(
                    "cert-manager-webhook",
                    &[10250, 6080, 9402],
                    None,
                    Security::Restricted,
                )],
                api_client: true,
            },
        ],
        when: When::Always,
        note: "values: crds.enabled, leader election in cert-manager (default kube-system), startupapicheck \
               off (a hook Job that only waits)",
    },
    ChartPin {
        component: "ingress-nginx",
        release: release::INGRESS_NGINX,
        chart: "ingress-nginx",
        repo_url: "https://kubernetes.github.io/ingress-nginx",
        version: "4.15.1",
        app_version: "1.15.1",
        source: "github.com/kubernetes/ingress-nginx charts/ingress-nginx",
        source_ref: "helm-chart-4.15.1",
        namespace: INGRESS_NGINX,
        renders_namespace: false,
        pod_security: "baseline",
        pod_security_reason: "the controller binds 80/443 with NET_BIND_SERVICE; the chart's pods meet \
                              restricted, which is audited and warned, and baseline leaves room for \
                              controller.image.chroot (SYS_CHROOT) without a relabel",
        rbac_owner: RbacOwner::Autolabs,
        cluster_roles: &[],
        roles: &[],
        workloads: &[ChartWorkload {
            kind: "Deployment",
            name: "ingress-nginx-controller",
            namespace: INGRESS_NGINX,
            replicas: 1,
            service_account: crate::topology::INGRESS_SA,
            chart_labels: &[
                ("app.kubernetes.io/name", "ingress-nginx"),
                ("app.kubernetes.io/instance", "ingress-nginx"),
                ("app.kubernetes.io/component", "controller"),
            ],
            labels_from_values: &[],
            host_network: false,
            host_path: false,
            containers: &[container(
                "controller",
                &[80, 443, 10254, 8443],
                Some(("100m", "90Mi")),
                Security::RestrictedBindService,
            )],
            api_client: true,
        }],
        when: When::Always,
        note: "values: rbac.create and serviceAccount.create off (the baseline renders the controller's \
               least-privilege RBAC), admission webhook certificate from cert-manager (no patch Jobs, no \
               admission RBAC), default TLS certificate, rate limits, LoadBalancer on clouds, NodePort on \
               Proxmox/bare metal (hostPorts are forbidden by baseline)",
    },
    ChartPin {
        component: "zitadel",
        release: release::ZITADEL,
        chart: "zitadel",
        repo_url: "https://charts.zitadel.com",
        version: "9.34.0",
        app_version: "v4.13.0",
        source: "github.com/zitadel/zitadel-charts charts/zitadel",
        source_ref: "zitadel-9.34.0",
        namespace: AUTH,
        renders_namespace: false,
        pod_security: "restricted",
        pod_security_reason: "with our values (the chart's own securityContext keeps capabilities and \
                              sets no seccomp profile) every ZITADEL pod meets restricted",
        rbac_owner: RbacOwner::Chart,
        // rbac_zitadel.yaml renders a Role only for FirstInstance machine users or login clients,
        // which our values do not configure.
        cluster_roles: &[],
        roles: &[],
        workloads: &[
            ChartWorkload {
                kind: "Deployment",
                name: "zitadel",
                namespace: AUTH,
                replicas: 1,
                service_account: "zitadel",
                chart_labels: &[
                    ("app.kubernetes.io/name", "zitadel"),
                    ("app.kubernetes.io/instance", "zitadel"),
                    ("app.kubernetes.io/component", "start"),
                ],
                labels_from_values: &[("app", crate::topology::app::ZITADEL)],
                host_network: false,
                host_path: false,
                containers: &[container("zitadel", &[8080], None, Security::Restricted)],
                api_client: false,
            },
            ChartWorkload {
                kind: "Job",
                name: "zitadel-init",
                namespace: AUTH,
                replicas: 1,
                service_account: "zitadel",
                chart_labels: &[
                    ("app.kubernetes.io/name", "zitadel"),
                    ("app.kubernetes.io/instance", "zitadel"),
                    ("app.kubernetes.io/component", "init"),
                ],
                labels_from_values: &[("app", crate::topology::app::ZITADEL)],
                host_network: false,
                host_path: false,
                containers: &[container("zitadel-init", &[], None, Security::Restricted)],
                api_client: false,
            },
            ChartWorkload {
                kind: "Job",
                name: "zitadel-setup",
                namespace: AUTH,
                replicas: 1,
                service_account: "zitadel",
                chart_labels: &[
                    ("app.kubernetes.io/name", "zitadel"),
                    ("app.kubernetes.io/instance", "zitadel"),
                    ("app.kubernetes.io/component", "setup"),
                ],
                labels_from_values: &[("app", crate::topology::app::ZITADEL)],
                host_network: false,
                host_path: false,
                containers: &[container("zitadel-setup", &[], None, Security::Restricted)],
                api_client: false,
            },
        ],
        when: When::Always,
        note: "values: database = our zitadel-postgres in auth (credentials from zitadel-postgres-credentials), \
               masterkey from the Secret zitadel-masterkey, the Login UI (v4, port 3000) off so the built-in \
               login serves on 8080 as the isolation matrix says, pod label app=zitadel, restricted \
               securityContext",
    },
    ChartPin {
        component: "csi-snapshot-controller",
        release: release::SNAPSHOT_CONTROLLER,
        chart: "snapshot-controller",
        repo_url: "https://piraeus.io/helm-charts",
        version: "5.2.0",
        app_version: "v8.6.0",
        source: "github.com/piraeusdatastore/helm-charts charts/snapshot-controller",
        source_ref: "snapshot-controller-5.2.0",
        namespace: KUBE_SYSTEM,
        renders_namespace: false,
        pod_security: "privileged",
        pod_security_reason: "kube-system is not labelled by us (the cluster's own components run there)",
        rbac_owner: RbacOwner::Chart,
        cluster_roles: &["snapshot-controller"],
        roles: &["kube-system/snapshot-controller"],
        workloads: &[ChartWorkload {
            kind: "Deployment",
            name: "snapshot-controller",
            namespace: KUBE_SYSTEM,
            replicas: 1,
            service_account: "snapshot-controller",
            chart_labels: &[
                ("app.kubernetes.io/name", "snapshot-controller"),
                ("app.kubernetes.io/instance", "snapshot-controller"),
            ],
            labels_from_values: &[],
            host_network: false,
            host_path: false,
            containers: &[container("snapshot-controller", &[8080], None, Security::NonRootOnly)],
            api_client: true,
        }],
        when: When::Snapshots,
        note: "the upstream kubernetes-csi/external-snapshotter ships no chart; piraeus packages the same \
               controller image with its CRDs (installCRDs) for the VolumeSnapshotClass we render",
    },
    ChartPin {
        component: "proxmox-csi",
        release: release::PROXMOX_CSI,
        chart: "proxmox-csi-plugin",
        repo_url: "oci://ghcr.io/sergelogvinov/charts",
        version: "0.5.9",
        app_version: "v0.19.1",
        source: "github.com/sergelogvinov/proxmox-csi-plugin charts/proxmox-csi-plugin",
        source_ref: "v0.19.1",
        namespace: CSI_PROXMOX_NS,
        renders_namespace: true,
        pod_security: "privileged",
        pod_security_reason: "the node plugin DaemonSet runs privileged and mounts /dev and the kubelet \
                              directory from the host to attach Proxmox disks",
        rbac_owner: RbacOwner::Chart,
        cluster_roles: &["proxmox-csi-plugin-controller", "proxmox-csi-plugin-node"],
        roles: &["csi-proxmox/proxmox-csi-plugin-controller"],
        workloads: &[
            ChartWorkload {
                kind: "Deployment",
                name: "proxmox-csi-plugin-controller",
                namespace: CSI_PROXMOX_NS,
                replicas: 1,
                service_account: "proxmox-csi-plugin-controller",
                chart_labels: &[
                    ("app.kubernetes.io/name", "proxmox-csi-plugin"),
                    ("app.kubernetes.io/instance", "proxmox-csi-plugin"),
                    ("app.kubernetes.io/component", "controller"),
                ],
                labels_from_values: &[],
                host_network: false,
                host_path: false,
                containers: &[
                    container(
                        "proxmox-csi-plugin-controller",
                        &[],
                        Some(("10m", "16Mi")),
                        Security::Restricted,
                    ),
                    container("csi-attacher", &[], Some(("10m", "16Mi")), Security::Restricted),
                    container("csi-provisioner", &[], Some(("10m", "16Mi")), Security::Restricted),
                    container("csi-resizer", &[], Some(("10m", "16Mi")), Security::Restricted),
                    container("liveness-probe", &[9808], Some(("10m", "16Mi")), Security::Restricted),
                ],
                api_client: true,
            },
            ChartWorkload {
                kind: "DaemonSet",
                name: "proxmox-csi-plugin-node",
                namespace: CSI_PROXMOX_NS,
                replicas: 1,
                service_account: "proxmox-csi-plugin-node",
                chart_labels: &[
                    ("app.kubernetes.io/name", "proxmox-csi-plugin"),
                    ("app.kubernetes.io/instance", "proxmox-csi-plugin"),
                    ("app.kubernetes.io/component", "node"),
                ],
                labels_from_values: &[],
                host_network: false,
                host_path: true,
                containers: &[
                    container("proxmox-csi-plugin-node", &[], Some(("10m", "16Mi")), Security::Privileged),
                    container("csi-node-driver-registrar", &[], Some(("10m", "16Mi")), Security::Restricted),
                    container("liveness-probe", &[9808], Some(("10m", "16Mi")), Security::Restricted),
                ],
                api_client: true,
            },
        ],
        when: When::Provisioner("csi.proxmox.sinextra.dev"),
        note: "values: storageClass empty (the baseline renders proxmox-ssd), createNamespace off (the \
               baseline renders csi-proxmox with its Pod Security labels); the Proxmox API credentials are \
               the Secret proxmox-csi-plugin the operator creates (config.clusters)",
    },
    ChartPin {
        component: "aws-ebs-csi",
        release: release::AWS_EBS_CSI,
        chart: "aws-ebs-csi-driver",
        repo_url: "https://kubernetes-sigs.github.io/aws-ebs-csi-driver",
        version: "2.64.0",
        app_version: "1.64.0",
        source: "github.com/kubernetes-sigs/aws-ebs-csi-driver charts/aws-ebs-csi-driver",
        source_ref: "helm-chart-aws-ebs-csi-driver-2.64.0",
        namespace: KUBE_SYSTEM,
        renders_namespace: false,
        pod_security: "privileged",
        pod_security_reason: "kube-system is not labelled by us; the node plugin runs privileged",
        rbac_owner: RbacOwner::Chart,
        cluster_roles: &[
            "ebs-external-attacher-role",
            "ebs-csi-node-role",
            "ebs-external-provisioner-role",
            "ebs-external-resizer-role",
            "ebs-external-snapshotter-role",
        ],
        roles: &["kube-system/ebs-csi-leases-role"],
        workloads: &[
            ChartWorkload {
                kind: "Deployment",
                name: "ebs-csi-controller",
                namespace: KUBE_SYSTEM,
                replicas: 2,
                service_account: "ebs-csi-controller-sa",
                chart_labels: &[
                    ("app", "ebs-csi-controller"),
                    ("app.kubernetes.io/name", "aws-ebs-csi-driver"),
                    ("app.kubernetes.io/instance", "aws-ebs-csi-driver"),
                ],
                labels_from_values: &[],
                host_network: false,
                host_path: false,
                containers: &[container("ebs-plugin", &[9808], Some(("10m", "40Mi")), Security::NonRootOnly)],
                api_client: true,
            },
            ChartWorkload {
                kind: "DaemonSet",
                name: "ebs-csi-node",
                namespace: KUBE_SYSTEM,
                replicas: 1,
                service_account: "ebs-csi-node-sa",
                chart_labels: &[
                    ("app", "ebs-csi-node"),
                    ("app.kubernetes.io/name", "aws-ebs-csi-driver"),
                    ("app.kubernetes.io/instance", "aws-ebs-csi-driver"),
                ],
                labels_from_values: &[],
                host_network: false,
                host_path: true,
                containers: &[container("ebs-plugin", &[9808], Some(("10m", "40Mi")), Security::Privileged)],
                api_client: true,
            },
        ],
        when: When::Provisioner("ebs.csi.aws.com"),
        note: "values: no StorageClass or VolumeSnapshotClass from the chart (the baseline renders \
               gp3-encrypted and its snapshot class), the snapshotter sidecar on",
    },
    ChartPin {
        component: "azure-disk-csi",
        release: release::AZURE_DISK_CSI,
        chart: "azuredisk-csi-driver",
        repo_url: "https://raw.githubusercontent.com/kubernetes-sigs/azuredisk-csi-driver/master/charts",
        version: "v1.34.5",
        app_version: "v1.34.5",
        source: "github.com/kubernetes-sigs/azuredisk-csi-driver charts/v1.34.5/azuredisk-csi-driver",
        source_ref: "v1.34.5",
        namespace: KUBE_SYSTEM,
        renders_namespace: false,
        pod_security: "privileged",
        pod_security_reason: "kube-system is not labelled by us; the node plugin runs privileged",
        rbac_owner: RbacOwner::Chart,
        cluster_roles: &[
            "azuredisk-external-attacher-role",
            "azuredisk-external-provisioner-role",
            "azuredisk-external-resizer-role",
            "azuredisk-external-snapshotter-role",
            "csi-azuredisk-controller-secret-role",
            "csi-azuredisk-node-role",
        ],
        roles: &[],
        workloads: &[
            ChartWorkload {
                kind: "Deployment",
                name: "csi-azuredisk-controller",
                namespace: KUBE_SYSTEM,
                replicas: 2,
                service_account: "csi-azuredisk-controller-sa",
                chart_labels: &[("app", "csi-azuredisk-controller")],
                labels_from_values: &[],
                host_network: true,
                host_path: true,
                containers: &[container("azuredisk", &[29602], Some(("10m", "20Mi")), Security::Unset)],
                api_client: true,
            },
            ChartWorkload {
                kind: "DaemonSet",
                name: "csi-azuredisk-node",
                namespace: KUBE_SYSTEM,
                replicas: 1,
                service_account: "csi-azuredisk-node-sa",
                chart_labels: &[("app", "csi-azuredisk-node")],
                labels_from_values: &[],
                host_network: true,
                host_path: true,
                containers: &[container("azuredisk", &[29603], Some(("10m", "20Mi")), Security::Privileged)],
                api_client: true,
            },
        ],
        when: When::Provisioner("disk.csi.azure.com"),
        note: "values: snapshot.enabled off (the snapshot-controller chart installs the one controller; two \
               would race on every VolumeSnapshot)",
    },
    ChartPin {
        component: "kube-prometheus-stack",
        release: release::KUBE_PROMETHEUS_STACK,
        chart: "kube-prometheus-stack",
        repo_url: "https://prometheus-community.github.io/helm-charts",
        version: "88.5.3",
        app_version: "v0.93.1",
        source: "github.com/prometheus-community/helm-charts charts/kube-prometheus-stack",
        source_ref: "kube-prometheus-stack-88.5.3",
        namespace: MONITORING,
        renders_namespace: false,
        pod_security: "baseline",
        pod_security_reason: "Prometheus, Alertmanager, Grafana, the operator and kube-state-metrics meet \
                              restricted (audited and warned); node-exporter, which needs the host, runs \
                              in node-exporter",
        rbac_owner: RbacOwner::Chart,
        cluster_roles: &[
            "kube-prometheus-stack-operator",
            "kube-prometheus-stack-prometheus",
            "kube-prometheus-stack-grafana-clusterrole",
            "kube-prometheus-stack-kube-state-metrics",
        ],
        // With the operator's admission certificates from cert-manager, no patch Job and no Role.
        roles: &[],
        workloads: &[
            ChartWorkload {
                kind: "StatefulSet",
                name: "prometheus-kube-prometheus-stack-prometheus",
                namespace: MONITORING,
                replicas: 1,
                service_account: "kube-prometheus-stack-prometheus",
                chart_labels: &[
                    ("app.kubernetes.io/name", "prometheus"),
                    ("app.kubernetes.io/instance", "kube-prometheus-stack-prometheus"),
                    ("prometheus", "kube-prometheus-stack-prometheus"),
                ],
                // Prometheus reaches the API server through the document's prometheus-to-nodes.
                labels_from_values: &[("app", crate::topology::app::PROMETHEUS)],
                host_network: false,
                host_path: false,
                containers: &[
                    ChartContainer {
                        name: "prometheus",
                        ports: &[9090],
                        requests: Some(PROMETHEUS_RESOURCES.0),
                        limits: Some(PROMETHEUS_RESOURCES.1),
                        security: Security::Restricted,
                    },
                    container("config-reloader", &[8080], None, Security::Restricted),
                ],
                api_client: true,
            },
            ChartWorkload {
                kind: "StatefulSet",
                name: "alertmanager-kube-prometheus-stack-alertmanager",
                namespace: MONITORING,
                replicas: 1,
                service_account: "kube-prometheus-stack-alertmanager",
                chart_labels: &[
                    ("app.kubernetes.io/name", "alertmanager"),
                    ("app.kubernetes.io/instance", "kube-prometheus-stack-alertmanager"),
                    ("alertmanager", "kube-prometheus-stack-alertmanager"),
                ],
                labels_from_values: &[("app", crate::topology::app::ALERTMANAGER)],
                host_network: false,
                host_path: false,
                containers: &[
                    container("alertmanager", &[9093, 9094], None, Security::Restricted),
                    container("config-reloader", &[8080], None, Security::Restricted),
                ],
                api_client: false,
            },
            ChartWorkload {
                kind: "Deployment",
                name: "kube-prometheus-stack-operator",
                namespace: MONITORING,
                replicas: 1,
                service_account: "kube-prometheus-stack-operator",
                chart_labels: &[
                    ("app", "kube-prometheus-stack-operator"),
                    ("release", "kube-prometheus-stack"),
                ],
                labels_from_values: &[API_CLIENT_LABEL],
                host_network: false,
                host_path: false,
                containers: &[container("kube-prometheus-stack", &[10250], None, Security::Restricted)],
                api_client: true,
            },
            ChartWorkload {
                kind: "Deployment",
                name: "kube-prometheus-stack-grafana",
                namespace: MONITORING,
                replicas: 1,
                service_account: "kube-prometheus-stack-grafana",
                chart_labels: &[
                    ("app.kubernetes.io/name", "grafana"),
                    ("app.kubernetes.io/instance", "kube-prometheus-stack"),
                ],
                labels_from_values: &[("app", crate::topology::app::GRAFANA), API_CLIENT_LABEL],
                host_network: false,
                host_path: false,
                containers: &[
                    container("grafana-sc-dashboard", &[], None, Security::Restricted),
                    container("grafana-sc-datasources", &[], None, Security::Restricted),
                    container("grafana", &[3000], None, Security::Restricted),
                ],
                api_client: true,
            },
            ChartWorkload {
                kind: "Deployment",
                name: "kube-prometheus-stack-kube-state-metrics",
                namespace: MONITORING,
                replicas: 1,
                service_account: "kube-prometheus-stack-kube-state-metrics",
                chart_labels: &[
                    ("app.kubernetes.io/name", "kube-state-metrics"),
                    ("app.kubernetes.io/instance", "kube-prometheus-stack"),
                ],
                labels_from_values: &[("app", crate::topology::app::KUBE_STATE_METRICS), API_CLIENT_LABEL],
                host_network: false,
                host_path: false,
                containers: &[container("kube-state-metrics", &[8080], None, Security::Restricted)],
                api_client: true,
            },
            ChartWorkload {
                kind: "DaemonSet",
                name: "kube-prometheus-stack-prometheus-node-exporter",
                namespace: NODE_EXPORTER_NS,
                replicas: 1,
                service_account: "kube-prometheus-stack-prometheus-node-exporter",
                chart_labels: &[
                    ("app.kubernetes.io/name", "prometheus-node-exporter"),
                    ("app.kubernetes.io/instance", "kube-prometheus-stack"),
                ],
                labels_from_values: &[],
                host_network: true,
                host_path: true,
                containers: &[container("node-exporter", &[9100], None, Security::NonRootOnly)],
                api_client: false,
            },
        ],
        when: When::Monitoring,
        note: "values: our Alertmanager configuration Secret, rules and dashboards selected by our labels \
               (ruleSelectorNilUsesHelmValues off, the Grafana sidecar on our dashboard label), pod labels \
               app=prometheus/grafana for the isolation matrix, node-exporter in node-exporter, the \
               operator's admission certificates from cert-manager, Prometheus's resources (PROMETHEUS_RESOURCES)",
    },
    ChartPin {
        component: "loki",
        release: release::LOKI,
        chart: "loki",
        repo_url: "https://grafana.github.io/helm-charts",
        version: "7.3.0",
        app_version: "3.6.12",
        source: "github.com/grafana/loki production/helm/loki",
        source_ref: "helm-loki-7.3.0",
        namespace: MONITORING,
        renders_namespace: false,
        pod_security: "baseline",
        pod_security_reason: "Loki runs non-root with a read-only root and meets restricted",
        rbac_owner: RbacOwner::Chart,
        cluster_roles: &["loki-clusterrole"],
        roles: &[],
        workloads: &[ChartWorkload {
            kind: "StatefulSet",
            name: "loki",
            namespace: MONITORING,
            replicas: 1,
            service_account: "loki",
            chart_labels: &[
                ("app.kubernetes.io/name", "loki"),
                ("app.kubernetes.io/instance", "loki"),
                ("app.kubernetes.io/component", "single-binary"),
            ],
            labels_from_values: &[("app", crate::topology::app::LOKI)],
            host_network: false,
            host_path: false,
            containers: &[
                ChartContainer {
                    name: "loki",
                    ports: &[3100, 9095, 7946],
                    requests: Some(LOKI_RESOURCES.0),
                    limits: Some(LOKI_RESOURCES.1),
                    security: Security::Restricted,
                },
                container("loki-sc-rules", &[], None, Security::Restricted),
            ],
            api_client: false,
        }],
        when: When::Monitoring,
        note: "values: deploymentMode SingleBinary on the filesystem; chunksCache (memcached, 9830Mi \
               requested by default), resultsCache, gateway, canary and self-test off: the chunks cache \
               alone is more than the monitoring quota; Loki's resources (LOKI_RESOURCES)",
    },
];

/// `docs/addons.md`: the table as a page (a test keeps the file equal to this).
pub fn markdown() -> String {
    let mut s = String::from(
        "# Add-ons: pinned charts and the facts the baseline agrees with\n\n\
         Generated from `crates/autolabs-model/src/addons/charts.rs` (`CHARTS`); \
         `AUTOLABS_REGEN_DOCS=1 cargo test -p autolabs-model --test addons_docs` rewrites it. \
         Every fact was read in the chart's templates and values at the tag named, and holds for the \
         values `autolabs render` writes to `addons/values/`. The agreement tests \
         (`crates/autolabs-verify/tests/addons_agreement.rs`) check the baseline against them.\n\n\
         | component | chart | version (app) | repository | read at | namespace | Pod Security | RBAC owner | installed when |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for c in CHARTS {
        s.push_str(&format!(
            "| {} | {} | {} ({}) | {} | {} `{}` | {} | {} | {} | {} |\n",
            c.component,
            c.chart,
            c.version,
            c.app_version,
            c.repo_url,
            c.source,
            c.source_ref,
            c.namespace,
            c.pod_security,
            match c.rbac_owner {
                RbacOwner::Chart => "chart",
                RbacOwner::Autolabs => "autolabs render",
            },
            match c.when {
                When::Always => "always".to_string(),
                When::Snapshots => "a VolumeSnapshotClass is rendered".to_string(),
                When::Provisioner(p) => format!("the StorageClass uses `{p}`"),
                When::Monitoring => "`monitoring.enabled`".to_string(),
            }
        ));
    }
    for c in CHARTS {
        s.push_str(&format!("\n## {} ({} {})\n\n", c.component, c.chart, c.version));
        s.push_str(&format!("- Pod Security `{}`: {}.\n", c.pod_security, c.pod_security_reason));
        let list = |xs: &[&str]| {
            if xs.is_empty() {
                "none".to_string()
            } else {
                xs.iter().map(|x| format!("`{x}`")).collect::<Vec<_>>().join(", ")
            }
        };
        s.push_str(&format!("- ClusterRoles the chart creates: {}.\n", list(c.cluster_roles)));
        s.push_str(&format!("- Roles the chart creates: {}.\n", list(c.roles)));
        s.push_str(&format!("- Our values: {}.\n\n", c.note));
        s.push_str("| workload | namespace | ServiceAccount | pod labels (chart) | labels from our values | ports | requests | host |\n|---|---|---|---|---|---|---|---|\n");
        for w in c.workloads {
            let pairs = |xs: &[(&str, &str)]| {
                if xs.is_empty() {
                    "-".to_string()
                } else {
                    xs.iter().map(|(k, v)| format!("`{k}={v}`")).collect::<Vec<_>>().join(" ")
                }
            };
            let ports: Vec<String> =
                w.containers.iter().flat_map(|c| c.ports.iter().map(u16::to_string)).collect();
            let requests: Vec<String> = w
                .containers
                .iter()
                .map(|c| match c.requests {
                    Some((cpu, mem)) => format!("{}: {cpu}/{mem}", c.name),
                    None => format!("{}: none", c.name),
                })
                .collect();
            let host = match (w.host_network, w.host_path) {
                (true, true) => "network, path",
                (true, false) => "network",
                (false, true) => "path",
                (false, false) => "-",
            };
            s.push_str(&format!(
                "| {} {} | {} | `{}` | {} | {} | {} | {} | {} |\n",
                w.kind,
                w.name,
                w.namespace,
                w.service_account,
                pairs(w.chart_labels),
                pairs(w.labels_from_values),
                if ports.is_empty() { "-".to_string() } else { ports.join(", ") },
                requests.join("; "),
                host
            ));
        }
    }
    s.push_str("\n## Storage provisioners without a chart\n\n");
    for u in UNCHARTED {
        s.push_str(&format!("- `{}`: {}.\n", u.provisioner, u.how));
    }
    s
}
