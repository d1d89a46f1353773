//! The opt-in RBAC of `autolabs probe` (`spec.probe.enabled`), and the one source of what
//! `autolabs probe --print-rbac` prints.
//!
//! Probing in the real namespaces only ever touches probe pods: it creates them, lists them
//! to learn their addresses, patches their script annotation, reads their logs and deletes
//! them by label. So the ServiceAccount `platform/autolabs-probe` gets a Role with exactly
//! those verbs in each namespace of the isolation matrix, and nothing cluster-wide: no
//! namespaces, no NetworkPolicies, no Secrets. Probing in sandbox namespaces
//! (`--namespace-prefix`) has to create namespaces and policies, which only a ClusterRole can
//! grant: [`sandbox_rbac`] renders that for `--print-rbac`, never into the baseline.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};

use super::{Ctx, Manifest, typed};
use crate::platform::Platform;
use crate::topology::{NAMESPACES, PLATFORM};

/// The probe's ServiceAccount (in `platform`), and the name of its Roles and bindings.
pub const PROBE_SA: &str = "autolabs-probe";

/// `(apiGroup, resource, verbs)` probing needs in each namespace it puts probe pods in.
pub const PROBE_RULES: [(&str, &str, &[&str]); 2] =
    [("", "pods", &["create", "list", "patch", "deletecollection"]), ("", "pods/log", &["get"])];

/// What a sandbox run needs besides [`PROBE_RULES`] (cluster-wide): its namespaces and the
/// copies of the NetworkPolicies in them.
pub const SANDBOX_RULES: [(&str, &str, &[&str]); 2] =
    [("", "namespaces", &["create", "delete"]), ("networking.k8s.io", "networkpolicies", &["create"])];

fn rules(table: &[(&str, &str, &[&str])]) -> Vec<PolicyRule> {
    table
        .iter()
        .map(|(group, resource, verbs)| PolicyRule {
            api_groups: Some(vec![group.to_string()]),
            resources: Some(vec![resource.to_string()]),
            verbs: verbs.iter().map(|v| v.to_string()).collect(),
            ..Default::default()
        })
        .collect()
}

fn subject(namespace: &str, name: &str) -> Subject {
    Subject {
        kind: "ServiceAccount".into(),
        name: name.into(),
        namespace: Some(namespace.into()),
        api_group: None,
    }
}

fn role_ref(kind: &str) -> RoleRef {
    RoleRef { api_group: "rbac.authorization.k8s.io".into(), kind: kind.into(), name: PROBE_SA.into() }
}

/// The namespaces probe pods go into: the platform's namespaces and every namespace a flow of
/// the matrix names (kube-system, for DNS).
pub fn probe_namespaces(platform: &Platform) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = NAMESPACES.iter().map(|n| n.name.to_string()).collect();
    for flow in crate::isolation::flows(&platform.spec) {
        out.extend([flow.from.namespace, flow.to.namespace].into_iter().flatten());
    }
    out
}

/// The probe's ServiceAccount and, in each of [`probe_namespaces`], a Role with
/// [`PROBE_RULES`] bound to it.
pub fn rbac(platform: &Platform) -> Vec<Manifest> {
    let ctx = Ctx { p: platform };
    let mut out = vec![typed(ServiceAccount {
        metadata: ctx.meta(PROBE_SA, Some(PLATFORM), &[]),
        // Used from outside the cluster (`kubectl create token`); no pod mounts it.
        automount_service_account_token: Some(false),
        ..Default::default()
    })];
    for namespace in probe_namespaces(platform) {
        out.push(typed(Role {
            metadata: ctx.meta(PROBE_SA, Some(&namespace), &[]),
            rules: Some(rules(&PROBE_RULES)),
        }));
        out.push(typed(RoleBinding {
            metadata: ctx.meta(PROBE_SA, Some(&namespace), &[]),
            role_ref: role_ref("Role"),
            subjects: Some(vec![subject(PLATFORM, PROBE_SA)]),
        }));
    }
    out
}

/// The RBAC of a sandbox run for the probe's ServiceAccount: a ClusterRole with
/// [`PROBE_RULES`] and [`SANDBOX_RULES`] (its namespaces do not exist before the run, so no
/// Role could name them) and its binding.
pub fn sandbox_rbac(platform: &Platform) -> Vec<Manifest> {
    let ctx = Ctx { p: platform };
    let mut all = rules(&PROBE_RULES);
    all.extend(rules(&SANDBOX_RULES));
    vec![
        typed(ServiceAccount {
            metadata: ctx.meta(PROBE_SA, Some(PLATFORM), &[]),
            automount_service_account_token: Some(false),
            ..Default::default()
        }),
        typed(ClusterRole {
            metadata: ctx.meta(PROBE_SA, None, &[]),
            rules: Some(all),
            aggregation_rule: None,
        }),
        typed(ClusterRoleBinding {
            metadata: ctx.meta(PROBE_SA, None, &[]),
            role_ref: role_ref("ClusterRole"),
            subjects: Some(vec![subject(PLATFORM, PROBE_SA)]),
        }),
    ]
}

pub(crate) fn render(ctx: &Ctx, out: &mut super::Rendered) {
    if ctx.spec().probe.enabled {
        out.manifests.extend(rbac(ctx.p));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_by_default_and_a_role_per_matrix_namespace_when_enabled() {
        let mut platform = Platform::default();
        let rendered = crate::render(&platform);
        assert!(!rendered.manifests.iter().any(|m| m.name == PROBE_SA));
        platform.spec.probe.enabled = true;
        let rendered = crate::render(&platform);
        let namespaces = probe_namespaces(&platform);
        assert!(namespaces.contains("labs") && namespaces.contains("kube-system"), "{namespaces:?}");
        for namespace in &namespaces {
            assert!(rendered.find("Role", Some(namespace), PROBE_SA).is_some(), "Role in {namespace}");
            assert!(rendered.find("RoleBinding", Some(namespace), PROBE_SA).is_some());
        }
        assert!(rendered.find("ServiceAccount", Some(PLATFORM), PROBE_SA).is_some());
        // Nothing cluster-wide in the baseline: that is the sandbox's.
        assert!(!rendered.manifests.iter().any(|m| m.name == PROBE_SA && m.namespace.is_none()));
        let probe: Vec<&Manifest> = rendered.manifests.iter().filter(|m| m.name == PROBE_SA).collect();
        assert_eq!(probe.len(), rbac(&platform).len(), "render and --print-rbac are one source");
    }
}
