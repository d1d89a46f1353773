//! The platform's fixed shape: its namespaces, their Pod Security levels, and the labels and
//! ports of the components the isolation matrix talks about. Render, the default matrix and
//! the verifier all read these constants, so a name is written once.

/// A namespace the platform owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NamespaceDef {
    pub name: &'static str,
    /// Pod Security level enforced (`baseline`/`restricted`).
    pub enforce: &'static str,
    /// Level used for `audit` and `warn`: stricter than enforce where workloads might not yet
    /// meet it, so problems show up without breaking them.
    pub audit_warn: &'static str,
    pub purpose: &'static str,
}

pub const PLATFORM: &str = "platform";
pub const INFRASTRUCTURE: &str = "infrastructure";
pub const MESSAGING: &str = "messaging";
pub const AUTH: &str = "auth";
pub const LABS: &str = "labs";
pub const INGRESS_NGINX: &str = "ingress-nginx";
pub const MONITORING: &str = "monitoring";
pub const KUBE_SYSTEM: &str = "kube-system";

/// The document's seven namespaces, in the order they are rendered.
pub const NAMESPACES: [NamespaceDef; 7] = [
    NamespaceDef {
        name: PLATFORM,
        enforce: "restricted",
        audit_warn: "restricted",
        purpose: "Backend Platform and the lab provisioner",
    },
    NamespaceDef {
        name: INFRASTRUCTURE,
        enforce: "restricted",
        audit_warn: "restricted",
        purpose: "PostgreSQL and Redis",
    },
    NamespaceDef { name: MESSAGING, enforce: "restricted", audit_warn: "restricted", purpose: "RabbitMQ" },
    NamespaceDef {
        name: AUTH,
        enforce: "restricted",
        audit_warn: "restricted",
        purpose: "Zitadel and its PostgreSQL",
    },
    NamespaceDef { name: LABS, enforce: "restricted", audit_warn: "restricted", purpose: "student lab pods" },
    // The controller binds 80/443 with NET_BIND_SERVICE; baseline is enforced, restricted reported.
    NamespaceDef {
        name: INGRESS_NGINX,
        enforce: "baseline",
        audit_warn: "restricted",
        purpose: "NGINX Ingress Controller",
    },
    // Exporters may need host access; node-exporter belongs in a privileged namespace of its own.
    NamespaceDef {
        name: MONITORING,
        enforce: "baseline",
        audit_warn: "restricted",
        purpose: "Prometheus, Grafana, Alertmanager",
    },
];

pub fn is_platform_namespace(name: &str) -> bool {
    NAMESPACES.iter().any(|n| n.name == name)
}

/// The label every namespace carries automatically (since 1.22), used by every
/// namespaceSelector we render.
pub const NS_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// Labels on everything autolabs renders or creates.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "autolabs");
pub const PLATFORM_LABEL: &str = "autolabs.io/platform";

/// The backup annotations `render` writes and `autolabs backup check` reads.
/// `autolabs.io/backup: none` marks a stateful workload deliberately not backed up…
pub const BACKUP_OPT_OUT: &str = "autolabs.io/backup";
/// …the value that says so…
pub const BACKUP_OPT_OUT_VALUE: &str = "none";
/// …and why.
pub const BACKUP_REASON: &str = "autolabs.io/backup-reason";
/// On a backup CronJob: the workload (or database host) it backs up.
pub const BACKUP_FOR: &str = "autolabs.io/backup-for";
/// On a restore Job: the workload it restores.
pub const RESTORE_FOR: &str = "autolabs.io/restore-for";
/// On a backup CronJob: how long its backups are kept.
pub const RETENTION: &str = "autolabs.io/retention";

/// Components, by the `app` label their pods carry.
pub mod app {
    pub const BACKEND: &str = "backend-platform";
    pub const PROVISIONER: &str = "autolabs-provisioner";
    pub const POSTGRES: &str = "postgres";
    pub const POSTGRES_BACKUP: &str = "postgres-backup";
    pub const REDIS: &str = "redis";
    pub const RABBITMQ: &str = "rabbitmq";
    pub const ZITADEL: &str = "zitadel";
    pub const ZITADEL_POSTGRES: &str = "zitadel-postgres";
    pub const ZITADEL_POSTGRES_BACKUP: &str = "zitadel-postgres-backup";
    pub const PROMETHEUS: &str = "prometheus";
    pub const GRAFANA: &str = "grafana";
    /// The monitoring charts' pods (kube-prometheus-stack, Loki), labelled by our values or
    /// by the chart (the operator).
    pub const ALERTMANAGER: &str = "alertmanager";
    pub const KUBE_STATE_METRICS: &str = "kube-state-metrics";
    pub const LOKI: &str = "loki";
    pub const PROMETHEUS_OPERATOR: &str = "kube-prometheus-stack-operator";
}

/// ingress-nginx's own pod labels (from its Helm chart).
pub const INGRESS_CONTROLLER_LABELS: [(&str, &str); 2] =
    [("app.kubernetes.io/name", "ingress-nginx"), ("app.kubernetes.io/component", "controller")];

/// kube-dns pods (CoreDNS keeps the historical label).
pub const KUBE_DNS_LABELS: [(&str, &str); 1] = [("k8s-app", "kube-dns")];

/// Lab pods: created by the provisioner, in `labs`.
pub const LAB_POD_LABELS: [(&str, &str); 1] = [MANAGED_BY];
/// Lab pods whose template allows the internet.
pub const LAB_INTERNET_LABEL: (&str, &str) = ("autolabs.io/internet", "true");

pub mod port {
    pub const BACKEND: u16 = 8000;
    pub const PROVISIONER: u16 = 8080;
    pub const POSTGRES: u16 = 5432;
    pub const REDIS: u16 = 6379;
    pub const AMQP: u16 = 5672;
    pub const RABBITMQ_METRICS: u16 = 15692;
    pub const ZITADEL: u16 = 8080;
    pub const GRAFANA: u16 = 3000;
    pub const INGRESS_METRICS: u16 = 10254;
    pub const INGRESS_WEBHOOK: u16 = 8443;
    pub const API_SERVER: u16 = 6443;
    pub const KUBELET: u16 = 10250;
    pub const NODE_EXPORTER: u16 = 9100;
    pub const PROMETHEUS: u16 = 9090;
    pub const ALERTMANAGER: u16 = 9093;
    pub const KUBE_STATE_METRICS: u16 = 8080;
    pub const LOKI: u16 = 3100;
    /// The prometheus-operator's admission webhook (it serves it itself, on its HTTPS port).
    pub const PROMETHEUS_OPERATOR_WEBHOOK: u16 = 10250;
}

/// Private, link-local, CGNAT and loopback ranges: never "the internet".
pub const NON_INTERNET_V4: [&str; 6] =
    ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10", "127.0.0.0/8"];

/// The lab provisioner's ServiceAccount (namespace `platform`), rendered with its Role in `labs`.
pub const PROVISIONER_SA: &str = "autolabs-provisioner";
/// ingress-nginx's ServiceAccount (namespace `ingress-nginx`).
pub const INGRESS_SA: &str = "ingress-nginx";
/// PriorityClasses from the document.
pub const PLATFORM_PRIORITY: &str = "platform-priority";
pub const LAB_PRIORITY: &str = "lab-priority";
/// The backup PVC in each namespace that runs a backup job (when the target is a PVC).
pub const BACKUP_PVC: &str = "backups";
/// The PostgreSQL data PVC the document names.
pub const POSTGRES_PVC: &str = "postgres-pvc";
