//! The values of each chart, from `platform.yaml`: one function the helmfile values files and
//! the Argo CD `Application`s both print, so the two ways to install cannot drift.
//!
//! The labels and ServiceAccounts our values set come from the facts table
//! ([`super::charts`]), so what the chart is told and what the tests check is one datum.

use serde_json::{Map, Value, json};

use super::DEFAULT_TLS_SECRET;
use super::charts::{self, ChartPin, release};
use crate::platform::{PlatformSpec, Profile, Provider};
use crate::render::{ALERTMANAGER_CONFIG, DASHBOARD_LABEL};
use crate::topology::{self, INGRESS_NGINX, PLATFORM_PRIORITY};

/// The values of `chart` for this platform.
pub fn of(chart: &ChartPin, spec: &PlatformSpec) -> Value {
    match chart.release {
        release::CALICO => calico(spec),
        release::CERT_MANAGER => cert_manager(),
        release::INGRESS_NGINX => ingress_nginx(spec),
        release::ZITADEL => zitadel(chart, spec),
        release::SNAPSHOT_CONTROLLER => json!({"installCRDs": true}),
        release::PROXMOX_CSI => json!({
            "createNamespace": false,
            "storageClass": [],
            "controller": {"priorityClassName": PLATFORM_PRIORITY},
        }),
        release::AWS_EBS_CSI => json!({
            "storageClasses": [],
            "volumeSnapshotClasses": [],
            "sidecars": {"snapshotter": {"forceEnable": true}},
        }),
        release::AZURE_DISK_CSI => json!({"snapshot": {"enabled": false}}),
        release::KUBE_PROMETHEUS_STACK => kube_prometheus_stack(chart),
        release::LOKI => loki(chart),
        _ => json!({}),
    }
}

/// The labels our values add to a workload's pods, from the facts table.
fn added_labels(chart: &ChartPin, workload: &str) -> Value {
    let map: Map<String, Value> = chart
        .workloads
        .iter()
        .filter(|w| w.name == workload)
        .flat_map(|w| w.labels_from_values.iter())
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect();
    Value::Object(map)
}

/// A `resources` value from (requests, limits) pairs of (cpu, memory).
fn resources(((rc, rm), (lc, lm)): ((&str, &str), (&str, &str))) -> Value {
    json!({"requests": {"cpu": rc, "memory": rm}, "limits": {"cpu": lc, "memory": lm}})
}

/// The IP pool's encapsulation and whether BGP runs, per provider.
pub fn calico_encapsulation(provider: Provider) -> (&'static str, &'static str) {
    match provider {
        // On one L2 segment (Proxmox bridges, bare metal) BGP routes directly and IP-in-IP is
        // needed only across subnets.
        Provider::Proxmox | Provider::Generic => ("IPIPCrossSubnet", "Enabled"),
        // AWS security groups need protocol 4 opened for IP-in-IP; VXLAN is plain UDP 4789.
        Provider::Aws => ("VXLANCrossSubnet", "Disabled"),
        // GCP, Azure and Yandex Cloud networks carry neither IP-in-IP nor BGP between VMs.
        Provider::Gcp | Provider::Azure | Provider::Yandex => ("VXLAN", "Disabled"),
    }
}

fn calico(spec: &PlatformSpec) -> Value {
    let (encapsulation, bgp) = calico_encapsulation(spec.provider);
    json!({
        "installation": {
            "enabled": true,
            // kubeadm clusters: the operator must not assume a managed provider's CNI.
            "kubernetesProvider": "",
            "cni": {"type": "Calico", "ipam": {"type": "Calico"}},
            "calicoNetwork": {
                "bgp": bgp,
                "ipPools": [{
                    "cidr": spec.network.pod_cidr,
                    "encapsulation": encapsulation,
                    "natOutgoing": "Enabled",
                    "nodeSelector": "all()",
                    "blockSize": 26,
                }],
            },
        },
        "priorityClassName": PLATFORM_PRIORITY,
    })
}

fn cert_manager() -> Value {
    json!({
        "crds": {"enabled": true, "keep": true},
        "global": {
            "priorityClassName": PLATFORM_PRIORITY,
            // The chart's default is kube-system: keep its Roles in its own namespace.
            "leaderElection": {"namespace": charts::CERT_MANAGER_NS},
        },
        "startupapicheck": {"enabled": false},
        "prometheus": {"enabled": true, "servicemonitor": {"enabled": false}},
    })
}

/// The nginx directives of the rate limits: a zone per client address, applied to every
/// server the controller serves.
pub fn rate_limit_snippets(spec: &PlatformSpec) -> (String, String) {
    let i = &spec.ingress;
    (
        format!(
            "limit_req_zone $binary_remote_addr zone=autolabs_rps:10m rate={}r/s;\nlimit_conn_zone $binary_remote_addr zone=autolabs_conn:10m;\n",
            i.rate_limit_rps
        ),
        format!(
            "limit_req zone=autolabs_rps burst={} nodelay;\nlimit_conn autolabs_conn {};\n",
            i.rate_limit_burst, i.rate_limit_connections
        ),
    )
}

/// The ingress-nginx leader-election lease, which the rendered Role names.
pub const INGRESS_ELECTION_ID: &str = "ingress-nginx-leader";
/// NodePorts of the controller on Proxmox and bare metal (no cloud load balancer there).
pub const INGRESS_NODE_PORTS: (u16, u16) = (30080, 30443);

fn ingress_nginx(spec: &PlatformSpec) -> Value {
    let (http_snippet, server_snippet) = rate_limit_snippets(spec);
    let service = match spec.provider {
        Provider::Proxmox | Provider::Generic => json!({
            // hostPorts would need a namespace above baseline; a NodePort pair behind the
            // operator's external load balancer (HAProxy/keepalived) does not.
            "type": "NodePort",
            "nodePorts": {"http": INGRESS_NODE_PORTS.0, "https": INGRESS_NODE_PORTS.1},
            "externalTrafficPolicy": "Local",
        }),
        _ => json!({"type": "LoadBalancer", "externalTrafficPolicy": "Local"}),
    };
    json!({
        // The baseline renders the controller's least-privilege RBAC: one owner per role.
        "rbac": {"create": false},
        "serviceAccount": {"create": false, "name": topology::INGRESS_SA},
        "controller": {
            "kind": "Deployment",
            "replicaCount": if spec.profile == Profile::Production { 2 } else { 1 },
            "electionID": INGRESS_ELECTION_ID,
            "priorityClassName": PLATFORM_PRIORITY,
            "ingressClassResource": {"name": "nginx", "enabled": true, "default": true},
            "extraArgs": {"default-ssl-certificate": format!("{INGRESS_NGINX}/{DEFAULT_TLS_SECRET}")},
            "config": {
                "http-snippet": http_snippet,
                "server-snippet": server_snippet,
                "limit-req-status-code": "429",
                "limit-conn-status-code": "429",
                "ssl-redirect": "true",
                "hsts": "true",
            },
            "service": service,
            "metrics": {"enabled": true},
            "admissionWebhooks": {
                "enabled": true,
                // cert-manager issues the webhook's certificate: no patch Jobs, no admission RBAC.
                "certManager": {"enabled": true},
            },
        },
    })
}

fn zitadel(chart: &ChartPin, spec: &PlatformSpec) -> Value {
    let secret = |key: &str| json!({"secretKeyRef": {"name": "zitadel-postgres-credentials", "key": key}});
    let env = json!([
        {"name": "ZITADEL_DATABASE_POSTGRES_DATABASE", "valueFrom": secret("POSTGRES_DB")},
        {"name": "ZITADEL_DATABASE_POSTGRES_USER_USERNAME", "valueFrom": secret("POSTGRES_USER")},
        {"name": "ZITADEL_DATABASE_POSTGRES_USER_PASSWORD", "valueFrom": secret("POSTGRES_PASSWORD")},
        {"name": "ZITADEL_DATABASE_POSTGRES_ADMIN_USERNAME", "valueFrom": secret("POSTGRES_USER")},
        {"name": "ZITADEL_DATABASE_POSTGRES_ADMIN_PASSWORD", "valueFrom": secret("POSTGRES_PASSWORD")},
    ]);
    let labels = added_labels(chart, "zitadel");
    let domain = spec.domain();
    json!({
        "replicaCount": if spec.profile == Profile::Production { 2 } else { 1 },
        "zitadel": {
            "masterkeySecretName": "zitadel-masterkey",
            "configmapConfig": {
                "ExternalDomain": format!("auth.{domain}"),
                "ExternalPort": 443,
                "ExternalSecure": true,
                "TLS": {"Enabled": false},
                // No machine user and no login client: the setup Job would write their keys to
                // Secrets through the API server (a Role of the chart, and a flow from `auth` to
                // the API server that the isolation matrix does not have).
                "FirstInstance": {"Org": {"Machine": null, "LoginClient": null}},
                "Database": {"Postgres": {
                    // The baseline's PostgreSQL of ZITADEL, in the same namespace.
                    "Host": format!("{}.{}.svc.cluster.local", topology::app::ZITADEL_POSTGRES, topology::AUTH),
                    "Port": topology::port::POSTGRES,
                    "User": {"SSL": {"Mode": "disable"}},
                    "Admin": {"SSL": {"Mode": "disable"}},
                }},
            },
        },
        // The v4 Login UI listens on 3000, which the isolation matrix does not open; the
        // built-in login on 8080 serves instead.
        "login": {"enabled": false},
        // The database is the baseline's zitadel-postgres, not the chart's bundled one.
        "postgresql": {"enabled": false},
        "env": env,
        "podAdditionalLabels": labels,
        "initJob": {"podAdditionalLabels": added_labels(chart, "zitadel-init")},
        "setupJob": {"podAdditionalLabels": added_labels(chart, "zitadel-setup")},
        // A post-delete hook that deletes Secrets through RBAC the chart only creates for
        // machine users, which we do not configure.
        "cleanupJob": {"enabled": false},
        "podSecurityContext": {
            "runAsNonRoot": true, "runAsUser": 1000, "fsGroup": 1000,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "securityContext": {
            "runAsNonRoot": true, "runAsUser": 1000, "readOnlyRootFilesystem": true, "privileged": false,
            "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]},
        },
        "ingress": {
            "enabled": true,
            "controller": "nginx",
            "className": "nginx",
            "hosts": [{"host": format!("auth.{domain}"), "paths": [{"path": "/", "pathType": "Prefix"}]}],
        },
    })
}

fn kube_prometheus_stack(chart: &ChartPin) -> Value {
    let labels = |w: &str| added_labels(chart, w);
    json!({
        "fullnameOverride": release::KUBE_PROMETHEUS_STACK,
        "prometheusOperator": {
            "podLabels": labels("kube-prometheus-stack-operator"),
            "admissionWebhooks": {"certManager": {"enabled": true}, "patch": {"enabled": false}},
            "priorityClassName": PLATFORM_PRIORITY,
        },
        "prometheus": {"prometheusSpec": {
            "podMetadata": {"labels": labels("prometheus-kube-prometheus-stack-prometheus")},
            // Select our PrometheusRule (and every other) without the chart's release label.
            "ruleSelectorNilUsesHelmValues": false,
            "serviceMonitorSelectorNilUsesHelmValues": false,
            "podMonitorSelectorNilUsesHelmValues": false,
            "priorityClassName": PLATFORM_PRIORITY,
            "resources": resources(charts::PROMETHEUS_RESOURCES),
        }},
        "alertmanager": {"alertmanagerSpec": {
            "podMetadata": {"labels": labels("alertmanager-kube-prometheus-stack-alertmanager")},
            // The rendered routing (receivers, inhibition) as Alertmanager's whole configuration.
            "useExistingSecret": true,
            "configSecret": ALERTMANAGER_CONFIG,
            "priorityClassName": PLATFORM_PRIORITY,
        }},
        "grafana": {
            "podLabels": labels("kube-prometheus-stack-grafana"),
            "sidecar": {"dashboards": {"enabled": true, "label": DASHBOARD_LABEL.0, "labelValue": DASHBOARD_LABEL.1}},
        },
        "kube-state-metrics": {"customLabels": {}, "podLabels": labels("kube-prometheus-stack-kube-state-metrics")},
        "prometheus-node-exporter": {"namespaceOverride": charts::NODE_EXPORTER_NS},
    })
}

fn loki(chart: &ChartPin) -> Value {
    json!({
        "deploymentMode": "SingleBinary",
        "loki": {
            "auth_enabled": false,
            "commonConfig": {"replication_factor": 1},
            "storage": {"type": "filesystem"},
            "schemaConfig": {"configs": [{
                "from": "2024-01-01", "store": "tsdb", "object_store": "filesystem",
                "schema": "v13", "index": {"prefix": "index_", "period": "24h"},
            }]},
        },
        "singleBinary": {
            "replicas": 1,
            "podLabels": added_labels(chart, "loki"),
            "resources": resources(charts::LOKI_RESOURCES),
        },
        "read": {"replicas": 0},
        "write": {"replicas": 0},
        "backend": {"replicas": 0},
        // memcached's chunks cache asks for 9830Mi by default: more than the monitoring quota.
        "chunksCache": {"enabled": false},
        "resultsCache": {"enabled": false},
        "gateway": {"enabled": false},
        "lokiCanary": {"enabled": false},
        "test": {"enabled": false},
    })
}
