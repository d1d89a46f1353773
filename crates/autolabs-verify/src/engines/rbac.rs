//! RBAC: the inputs' roles and bindings on top of Kubernetes' bootstrap policy, and every
//! escalation path they open (each with its binding → role → rule chain).
//!
//! Paths that the bootstrap policy itself opens (controllers, the scheduler…) are expected
//! and hidden. Anything reachable by `system:anonymous`/`system:unauthenticated` is an error;
//! every other path is a warning to review.
//!
//! Well-known components (ingress-nginx…) are also checked for the permissions their
//! controllers need ([`super::components`]): each one missing is an error.

use autolabs_rbac::{Authorizer, BindingKind, Capability, Policy, PolicyObject};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};

use crate::finding::{Finding, Severity};
use crate::objects::{Object, ObjectSet};

/// The bootstrap policy plus every RBAC object (and ServiceAccount) of the set.
pub fn policy(set: &ObjectSet) -> (Policy, Vec<Finding>) {
    let mut policy = Policy::bootstrap();
    let mut problems = Vec::new();
    for o in set.objects.iter().filter(|o| {
        o.group() == "rbac.authorization.k8s.io" || (o.group().is_empty() && o.kind == "ServiceAccount")
    }) {
        let parsed: Result<PolicyObject, serde_json::Error> = match o.kind.as_str() {
            "Role" => o.typed::<Role>().map(Into::into),
            "ClusterRole" => o.typed::<ClusterRole>().map(Into::into),
            "RoleBinding" => o.typed::<RoleBinding>().map(Into::into),
            "ClusterRoleBinding" => o.typed::<ClusterRoleBinding>().map(Into::into),
            "ServiceAccount" => o.typed::<ServiceAccount>().map(Into::into),
            _ => continue,
        };
        match parsed {
            Ok(p) => policy.add(p),
            Err(e) => problems.push(
                Finding::new(
                    "rbac",
                    "invalid-object",
                    Severity::Error,
                    format!("cannot read {}: {e}", o.kind),
                )
                .at(o, ""),
            ),
        }
    }
    (policy, problems)
}

/// What the intent (platform.yaml) says is expected.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Groups meant to be cluster administrators: their `cluster-admin` binding is reported
    /// once, as info, instead of one warning per capability.
    pub admin_groups: Vec<String>,
}

pub fn check(set: &ObjectSet, opts: &Options) -> Vec<Finding> {
    let (policy, mut out) = policy(set);
    let authorizer = match Authorizer::new(&policy) {
        Ok(a) => a,
        Err(e) => {
            out.push(Finding::new("rbac", "invalid-policy", Severity::Error, e.to_string()));
            return out;
        }
    };
    out.extend(super::components::check(set, &authorizer));
    let mut admin_reported = std::collections::BTreeSet::new();
    for f in authorizer.escalation_findings() {
        if f.grant.bootstrap {
            continue;
        }
        let is_intended_admin = f.grant.role.name == "cluster-admin"
            && f.subject.kind == "Group"
            && opts.admin_groups.contains(&f.subject.name);
        if is_intended_admin {
            if admin_reported.insert(f.grant.binding.name.clone()) {
                let mut finding = Finding::new(
                    "rbac",
                    "cluster-admin",
                    Severity::Info,
                    format!(
                        "Group {:?} is cluster-admin, as platform.yaml intends (Platform Admin)",
                        f.subject.name
                    ),
                );
                if let Some(binding) = find_binding(
                    set,
                    binding_kind(&f.grant.binding.kind),
                    f.grant.binding.namespace.as_deref(),
                    &f.grant.binding.name,
                ) {
                    finding = finding.at(binding, "subjects");
                }
                out.push(finding);
            }
            continue;
        }
        let severity =
            if f.capability == Capability::AnonymousAccess { Severity::Error } else { Severity::Warning };
        let mut message = f.to_string();
        if !f.borrowable_service_accounts.is_empty() {
            let (risky, plain): (Vec<_>, Vec<_>) =
                f.borrowable_service_accounts.iter().partition(|sa| !sa.capabilities.is_empty());
            let mut accounts: Vec<String> = risky
                .iter()
                .map(|sa| {
                    let caps: Vec<&str> = sa.capabilities.iter().map(|c| capability_id(*c)).collect();
                    format!("{}/{} ({})", sa.namespace, sa.name, caps.join(", "))
                })
                .collect();
            if plain.len() <= 5 {
                accounts.extend(plain.iter().map(|sa| format!("{}/{}", sa.namespace, sa.name)));
            } else {
                accounts.push(format!("{} more without escalation rights", plain.len()));
            }
            message.push_str(&format!("; can run pods as: {}", accounts.join(", ")));
        }
        let mut finding = Finding::new("rbac", capability_id(f.capability), severity, message);
        if let Some(binding) = find_binding(
            set,
            binding_kind(&f.grant.binding.kind),
            f.grant.binding.namespace.as_deref(),
            &f.grant.binding.name,
        ) {
            finding = finding.at(binding, "subjects");
        }
        out.push(finding);
    }
    out
}

fn find_binding<'a>(set: &'a ObjectSet, kind: &str, ns: Option<&str>, name: &str) -> Option<&'a Object> {
    set.objects.iter().find(|o| o.kind == kind && o.name == name && o.namespace.as_deref() == ns)
}

/// Stable rule ids for findings.
pub fn capability_id(c: Capability) -> &'static str {
    match c {
        Capability::ReadSecrets => "secrets-read",
        Capability::CreateWorkloads => "workloads-create",
        Capability::PodExec => "pods-exec",
        Capability::PodAttach => "pods-attach",
        Capability::PodPortForward => "pods-portforward",
        Capability::Impersonate => "impersonate",
        Capability::BindRoles => "roles-bind",
        Capability::EscalateRoles => "roles-escalate",
        Capability::MutateRbac => "rbac-mutate",
        Capability::ServiceAccountToken => "serviceaccount-token",
        Capability::NodesProxy => "nodes-proxy",
        Capability::ApproveCsr => "csr-approve",
        Capability::ApproveSigner => "signer-approve",
        Capability::MutateAdmission => "admission-mutate",
        Capability::WildcardVerbs => "wildcard-verbs",
        Capability::WildcardResources => "wildcard-resources",
        Capability::AnonymousAccess => "anonymous-access",
    }
}

fn binding_kind(k: &BindingKind) -> &'static str {
    match k {
        BindingKind::RoleBinding => "RoleBinding",
        BindingKind::ClusterRoleBinding => "ClusterRoleBinding",
    }
}
