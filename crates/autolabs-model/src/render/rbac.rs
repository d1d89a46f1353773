//! Least-privilege RBAC: the lab provisioner, ingress-nginx, and the three human roles.
//!
//! - The provisioner (the document's "Celery Workers", the only component with API access)
//!   gets a Role in `labs` only, for exactly the kinds and verbs it uses ([`PROVISIONER_RULES`]):
//!   no Secrets, no workloads, no RBAC, so a compromised provisioner cannot escalate.
//! - ingress-nginx gets what the real controller's chart grants (it reads Secrets for TLS,
//!   ConfigMaps, EndpointSlices, IngressClasses, takes a Lease for leader election).
//! - Humans, bound to Zitadel groups via OIDC: Platform Admin (cluster-admin), Developer
//!   (read-only in `platform`, with pod logs), Support (read-only everywhere, never Secrets).

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};

use super::{Ctx, Rendered, typed};
use crate::topology::{INGRESS_NGINX, INGRESS_SA, LABS, PLATFORM, PROVISIONER_SA};

/// `(apiGroup, resource, verbs)` the lab provisioner needs in `labs`: it creates, watches and
/// deletes each lab's Pod, Service, NetworkPolicy and Ingress, patches the Pod's expiry
/// annotation (extend), and reads the quota and LimitRange for its preflight.
pub const PROVISIONER_RULES: [(&str, &str, &[&str]); 6] = [
    ("", "pods", &["create", "delete", "get", "list", "patch", "watch"]),
    ("", "services", &["create", "delete", "get", "list", "watch"]),
    ("networking.k8s.io", "networkpolicies", &["create", "delete", "get", "list", "watch"]),
    ("networking.k8s.io", "ingresses", &["create", "delete", "get", "list", "watch"]),
    ("", "resourcequotas", &["get", "list", "watch"]),
    ("", "limitranges", &["get", "list", "watch"]),
];

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
    let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    PolicyRule {
        api_groups: Some(v(groups)),
        resources: Some(v(resources)),
        verbs: v(verbs),
        ..Default::default()
    }
}

fn named_rule(groups: &[&str], resources: &[&str], names: &[&str], verbs: &[&str]) -> PolicyRule {
    PolicyRule {
        resource_names: Some(names.iter().map(|x| x.to_string()).collect()),
        ..rule(groups, resources, verbs)
    }
}

const READ: &[&str] = &["get", "list", "watch"];

fn sa_subject(name: &str, namespace: &str) -> Subject {
    Subject {
        kind: "ServiceAccount".into(),
        name: name.into(),
        namespace: Some(namespace.into()),
        api_group: None,
    }
}

fn group_subject(name: String) -> Subject {
    Subject {
        kind: "Group".into(),
        name,
        namespace: None,
        api_group: Some("rbac.authorization.k8s.io".into()),
    }
}

fn role_ref(kind: &str, name: &str) -> RoleRef {
    RoleRef { api_group: "rbac.authorization.k8s.io".into(), kind: kind.into(), name: name.into() }
}

pub(crate) fn render(ctx: &Ctx, out: &mut Rendered) {
    // The lab provisioner.
    out.manifests.push(typed(ServiceAccount {
        metadata: ctx.meta(PROVISIONER_SA, Some(PLATFORM), &[("app", crate::topology::app::PROVISIONER)]),
        // It talks to the API server; only its own pods mount the token.
        automount_service_account_token: Some(true),
        ..Default::default()
    }));
    out.manifests.push(typed(Role {
        metadata: ctx.meta(PROVISIONER_SA, Some(LABS), &[]),
        rules: Some(PROVISIONER_RULES.iter().map(|(g, r, v)| rule(&[g], &[r], v)).collect()),
    }));
    out.manifests.push(typed(RoleBinding {
        metadata: ctx.meta(PROVISIONER_SA, Some(LABS), &[]),
        role_ref: role_ref("Role", PROVISIONER_SA),
        subjects: Some(vec![sa_subject(PROVISIONER_SA, PLATFORM)]),
    }));

    // ingress-nginx, as its Helm chart (controller v1.11) grants it.
    out.manifests.push(typed(ServiceAccount {
        metadata: ctx.meta(INGRESS_SA, Some(INGRESS_NGINX), &[]),
        automount_service_account_token: Some(true),
        ..Default::default()
    }));
    out.manifests.push(typed(ClusterRole {
        metadata: ctx.meta("ingress-nginx", None, &[]),
        rules: Some(vec![
            rule(
                &[""],
                &["configmaps", "endpoints", "nodes", "pods", "secrets", "namespaces"],
                &["list", "watch"],
            ),
            rule(&["coordination.k8s.io"], &["leases"], &["list", "watch"]),
            rule(&[""], &["nodes"], &["get"]),
            rule(&[""], &["services"], READ),
            rule(&["networking.k8s.io"], &["ingresses"], READ),
            rule(&[""], &["events"], &["create", "patch"]),
            rule(&["networking.k8s.io"], &["ingresses/status"], &["update"]),
            rule(&["networking.k8s.io"], &["ingressclasses"], READ),
            rule(&["discovery.k8s.io"], &["endpointslices"], &["get", "list", "watch"]),
        ]),
        aggregation_rule: None,
    }));
    out.manifests.push(typed(ClusterRoleBinding {
        metadata: ctx.meta("ingress-nginx", None, &[]),
        role_ref: role_ref("ClusterRole", "ingress-nginx"),
        subjects: Some(vec![sa_subject(INGRESS_SA, INGRESS_NGINX)]),
    }));
    out.manifests.push(typed(Role {
        metadata: ctx.meta("ingress-nginx", Some(INGRESS_NGINX), &[]),
        rules: Some(vec![
            rule(&[""], &["namespaces"], &["get"]),
            rule(&[""], &["configmaps", "pods", "secrets", "endpoints"], READ),
            rule(&[""], &["services"], READ),
            rule(&["networking.k8s.io"], &["ingresses"], READ),
            rule(&["networking.k8s.io"], &["ingresses/status"], &["update"]),
            rule(&["networking.k8s.io"], &["ingressclasses"], READ),
            named_rule(&["coordination.k8s.io"], &["leases"], &["ingress-nginx-leader"], &["get", "update"]),
            rule(&["coordination.k8s.io"], &["leases"], &["create"]),
            rule(&[""], &["events"], &["create", "patch"]),
            rule(&["discovery.k8s.io"], &["endpointslices"], READ),
        ]),
    }));
    out.manifests.push(typed(RoleBinding {
        metadata: ctx.meta("ingress-nginx", Some(INGRESS_NGINX), &[]),
        role_ref: role_ref("Role", "ingress-nginx"),
        subjects: Some(vec![sa_subject(INGRESS_SA, INGRESS_NGINX)]),
    }));

    // Humans, through Zitadel groups.
    let oidc = &ctx.spec().oidc;
    out.manifests.push(typed(ClusterRoleBinding {
        metadata: ctx.meta("autolabs-platform-admins", None, &[]),
        role_ref: role_ref("ClusterRole", "cluster-admin"),
        subjects: Some(vec![group_subject(oidc.rbac_group(&oidc.admin_group))]),
    }));

    // Developer: read-only in `platform`, with logs; no Secrets, no exec.
    out.manifests.push(typed(ClusterRole {
        metadata: ctx.meta("autolabs-developer", None, &[]),
        rules: Some(vec![
            rule(
                &[""],
                &[
                    "pods",
                    "pods/log",
                    "services",
                    "endpoints",
                    "configmaps",
                    "events",
                    "persistentvolumeclaims",
                ],
                READ,
            ),
            rule(&["apps"], &["deployments", "replicasets", "statefulsets", "daemonsets"], READ),
            rule(&["batch"], &["jobs", "cronjobs"], READ),
            rule(&["autoscaling"], &["horizontalpodautoscalers"], READ),
            rule(&["discovery.k8s.io"], &["endpointslices"], READ),
        ]),
        aggregation_rule: None,
    }));
    out.manifests.push(typed(RoleBinding {
        metadata: ctx.meta("autolabs-developers", Some(PLATFORM), &[]),
        role_ref: role_ref("ClusterRole", "autolabs-developer"),
        subjects: Some(vec![group_subject(oidc.rbac_group(&oidc.developer_group))]),
    }));

    // Support: read-only troubleshooting everywhere; never Secrets, never exec or logs of
    // other namespaces' credentials (logs are allowed: they are what support reads).
    out.manifests.push(typed(ClusterRole {
        metadata: ctx.meta("autolabs-support", None, &[]),
        rules: Some(vec![
            rule(
                &[""],
                &[
                    "pods",
                    "pods/log",
                    "services",
                    "endpoints",
                    "configmaps",
                    "events",
                    "namespaces",
                    "nodes",
                    "persistentvolumeclaims",
                    "persistentvolumes",
                    "resourcequotas",
                    "limitranges",
                    "serviceaccounts",
                ],
                READ,
            ),
            rule(&["apps"], &["deployments", "replicasets", "statefulsets", "daemonsets"], READ),
            rule(&["batch"], &["jobs", "cronjobs"], READ),
            rule(&["networking.k8s.io"], &["networkpolicies", "ingresses", "ingressclasses"], READ),
            rule(&["autoscaling"], &["horizontalpodautoscalers"], READ),
            rule(&["policy"], &["poddisruptionbudgets"], READ),
            rule(&["storage.k8s.io"], &["storageclasses"], READ),
            rule(&["scheduling.k8s.io"], &["priorityclasses"], READ),
            rule(&["discovery.k8s.io"], &["endpointslices"], READ),
            rule(&["events.k8s.io"], &["events"], READ),
        ]),
        aggregation_rule: None,
    }));
    out.manifests.push(typed(ClusterRoleBinding {
        metadata: ctx.meta("autolabs-support", None, &[]),
        role_ref: role_ref("ClusterRole", "autolabs-support"),
        subjects: Some(vec![group_subject(oidc.rbac_group(&oidc.support_group))]),
    }));
}
