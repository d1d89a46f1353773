//! The Namespace Isolation Matrix as data: the flows the platform allows.
//!
//! [`flows`] is the intent. Render turns each flow into NetworkPolicies (egress on the source
//! side, ingress on the destination side, each only in namespaces we own); the verifier
//! proves that exactly these flows, and nothing else, are allowed.
//!
//! The document's matrix, made precise:
//! - the internet reaches only ingress-nginx (80/443);
//! - ingress-nginx reaches the backend, Zitadel, Grafana and the labs (lab ports only) and
//!   the API server; the API server reaches its admission webhook;
//! - the backend reaches PostgreSQL, Redis, RabbitMQ, Zitadel and the provisioner; only the
//!   provisioner reaches the API server (the document's "Celery Workers");
//! - Zitadel reaches its own PostgreSQL; each backup job reaches its database (and its
//!   object store, when backups go to S3/MinIO);
//! - Prometheus scrapes the components' metrics ports, kubelets and node exporters;
//! - labs reach nothing but DNS, and the internet (80/443) only when their template allows;
//! - every namespace reaches kube-dns on UDP and TCP 53.

use crate::platform::{Endpoint, Flow, PlatformSpec, PortSpec};
use crate::topology::{
    self, AUTH, INFRASTRUCTURE, INGRESS_NGINX, KUBE_SYSTEM, LABS, MESSAGING, MONITORING, PLATFORM, app, port,
};

/// The effective flows of a config: the document's matrix (or `isolation.flows`), plus
/// `isolation.extraFlows`, plus DNS for every namespace.
pub fn flows(spec: &PlatformSpec) -> Vec<Flow> {
    let mut out = match &spec.isolation.flows {
        Some(flows) => flows.clone(),
        None => document_matrix(spec),
    };
    out.extend(spec.isolation.extra_flows.iter().cloned());
    for ns in topology::NAMESPACES {
        out.push(flow(
            &format!("{}-dns", ns.name),
            Endpoint::namespace(ns.name),
            Endpoint::pods(KUBE_SYSTEM, &topology::KUBE_DNS_LABELS),
            vec![PortSpec::udp(53), PortSpec::tcp(53)],
        ));
    }
    out
}

fn flow(name: &str, from: Endpoint, to: Endpoint, ports: Vec<PortSpec>) -> Flow {
    Flow { name: name.into(), from, to, ports }
}

fn pod(ns: &str, app_name: &str) -> Endpoint {
    Endpoint::pods(ns, &[("app", app_name)])
}

fn ingress_controller() -> Endpoint {
    Endpoint::pods(INGRESS_NGINX, &topology::INGRESS_CONTROLLER_LABELS)
}

/// The document's matrix for this config.
pub fn document_matrix(spec: &PlatformSpec) -> Vec<Flow> {
    let nodes = || Endpoint::cidr(&spec.network.node_cidr);
    let tcp = |p: u16| vec![PortSpec::tcp(p)];
    let mut flows = vec![
        flow(
            "internet-to-ingress",
            Endpoint::internet(),
            ingress_controller(),
            vec![PortSpec::tcp(80), PortSpec::tcp(443)],
        ),
        flow("ingress-to-backend", ingress_controller(), pod(PLATFORM, app::BACKEND), tcp(port::BACKEND)),
        flow("ingress-to-zitadel", ingress_controller(), pod(AUTH, app::ZITADEL), tcp(port::ZITADEL)),
        flow("ingress-to-grafana", ingress_controller(), pod(MONITORING, app::GRAFANA), tcp(port::GRAFANA)),
        flow(
            "ingress-to-labs",
            ingress_controller(),
            Endpoint::pods(LABS, &topology::LAB_POD_LABELS),
            spec.labs.ports.clone(),
        ),
        flow("ingress-to-apiserver", ingress_controller(), nodes(), tcp(port::API_SERVER)),
        flow("apiserver-to-ingress-webhook", nodes(), ingress_controller(), tcp(port::INGRESS_WEBHOOK)),
        flow(
            "backend-to-postgres",
            pod(PLATFORM, app::BACKEND),
            pod(INFRASTRUCTURE, app::POSTGRES),
            tcp(port::POSTGRES),
        ),
        flow(
            "backend-to-redis",
            pod(PLATFORM, app::BACKEND),
            pod(INFRASTRUCTURE, app::REDIS),
            tcp(port::REDIS),
        ),
        flow(
            "backend-to-rabbitmq",
            pod(PLATFORM, app::BACKEND),
            pod(MESSAGING, app::RABBITMQ),
            tcp(port::AMQP),
        ),
        flow("backend-to-zitadel", pod(PLATFORM, app::BACKEND), pod(AUTH, app::ZITADEL), tcp(port::ZITADEL)),
        flow(
            "backend-to-provisioner",
            pod(PLATFORM, app::BACKEND),
            pod(PLATFORM, app::PROVISIONER),
            tcp(port::PROVISIONER),
        ),
        flow("provisioner-to-apiserver", pod(PLATFORM, app::PROVISIONER), nodes(), tcp(port::API_SERVER)),
        flow(
            "zitadel-to-postgres",
            pod(AUTH, app::ZITADEL),
            pod(AUTH, app::ZITADEL_POSTGRES),
            tcp(port::POSTGRES),
        ),
        flow(
            "postgres-backup-to-postgres",
            pod(INFRASTRUCTURE, app::POSTGRES_BACKUP),
            pod(INFRASTRUCTURE, app::POSTGRES),
            tcp(port::POSTGRES),
        ),
        flow(
            "zitadel-backup-to-postgres",
            pod(AUTH, app::ZITADEL_POSTGRES_BACKUP),
            pod(AUTH, app::ZITADEL_POSTGRES),
            tcp(port::POSTGRES),
        ),
        flow(
            "prometheus-to-ingress",
            pod(MONITORING, app::PROMETHEUS),
            ingress_controller(),
            tcp(port::INGRESS_METRICS),
        ),
        flow(
            "prometheus-to-backend",
            pod(MONITORING, app::PROMETHEUS),
            pod(PLATFORM, app::BACKEND),
            tcp(port::BACKEND),
        ),
        flow(
            "prometheus-to-provisioner",
            pod(MONITORING, app::PROMETHEUS),
            pod(PLATFORM, app::PROVISIONER),
            tcp(port::PROVISIONER),
        ),
        flow(
            "prometheus-to-rabbitmq",
            pod(MONITORING, app::PROMETHEUS),
            pod(MESSAGING, app::RABBITMQ),
            tcp(port::RABBITMQ_METRICS),
        ),
        flow(
            "prometheus-to-nodes",
            pod(MONITORING, app::PROMETHEUS),
            nodes(),
            vec![
                PortSpec::tcp(port::API_SERVER),
                PortSpec::tcp(port::KUBELET),
                PortSpec::tcp(port::NODE_EXPORTER),
            ],
        ),
        flow(
            "labs-to-internet",
            Endpoint::pods(LABS, &[topology::LAB_INTERNET_LABEL]),
            Endpoint::internet(),
            vec![PortSpec::tcp(80), PortSpec::tcp(443)],
        ),
    ];
    if spec.monitoring.enabled {
        flows.extend(monitoring_stack(spec));
    }
    if let Some(s3) = &spec.backup.target.s3 {
        let target = match &s3.cidr {
            Some(c) => Endpoint::cidr(c),
            None => Endpoint::internet(),
        };
        let p = s3_port(&s3.endpoint);
        flows.push(flow(
            "postgres-backup-to-s3",
            pod(INFRASTRUCTURE, app::POSTGRES_BACKUP),
            target.clone(),
            vec![PortSpec::tcp(p)],
        ));
        flows.push(flow(
            "zitadel-backup-to-s3",
            pod(AUTH, app::ZITADEL_POSTGRES_BACKUP),
            target,
            vec![PortSpec::tcp(p)],
        ));
    }
    flows
}

/// The flows inside the monitoring stack the charts install (`monitoring.enabled`): alerts
/// to Alertmanager, scrapes of kube-state-metrics, Grafana's queries, the operator's
/// admission webhook, and the API server for the pods our values label as its clients
/// (`addons::charts::API_CLIENT_LABEL`: the operator, Grafana's sidecars, kube-state-metrics).
fn monitoring_stack(spec: &PlatformSpec) -> Vec<Flow> {
    let nodes = || Endpoint::cidr(&spec.network.node_cidr);
    let tcp = |p: u16| vec![PortSpec::tcp(p)];
    vec![
        flow(
            "monitoring-to-apiserver",
            Endpoint::pods(MONITORING, &[crate::addons::charts::API_CLIENT_LABEL]),
            nodes(),
            tcp(port::API_SERVER),
        ),
        flow(
            "apiserver-to-prometheus-operator",
            nodes(),
            pod(MONITORING, app::PROMETHEUS_OPERATOR),
            tcp(port::PROMETHEUS_OPERATOR_WEBHOOK),
        ),
        flow(
            "prometheus-to-alertmanager",
            pod(MONITORING, app::PROMETHEUS),
            pod(MONITORING, app::ALERTMANAGER),
            tcp(port::ALERTMANAGER),
        ),
        flow(
            "prometheus-to-kube-state-metrics",
            pod(MONITORING, app::PROMETHEUS),
            pod(MONITORING, app::KUBE_STATE_METRICS),
            tcp(port::KUBE_STATE_METRICS),
        ),
        flow(
            "grafana-to-prometheus",
            pod(MONITORING, app::GRAFANA),
            pod(MONITORING, app::PROMETHEUS),
            tcp(port::PROMETHEUS),
        ),
        flow("grafana-to-loki", pod(MONITORING, app::GRAFANA), pod(MONITORING, app::LOKI), tcp(port::LOKI)),
    ]
}

/// The port of an `http(s)://host[:port]` endpoint.
pub fn s3_port(endpoint: &str) -> u16 {
    let (scheme, rest) = endpoint.split_once("://").unwrap_or(("https", endpoint));
    let authority = rest.split('/').next().unwrap_or(rest);
    authority
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or(if scheme.eq_ignore_ascii_case("http") { 80 } else { 443 })
}
