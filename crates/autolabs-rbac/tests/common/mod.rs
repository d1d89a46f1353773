//! Shared helpers of the conformance tests: where the data is, and how to read it.
#![allow(dead_code)]

use std::path::Path;

use autolabs_rbac::k8s::{ClusterRole, ClusterRoleBinding, Role, RoleBinding, ServiceAccount};
use autolabs_rbac::{Policy, PolicyObject};
use serde::de::DeserializeOwned;

pub use autolabs_testenv::conformance_dir;

#[derive(serde::Deserialize)]
struct List<T> {
    items: Vec<T>,
}

/// The `items` of a `kind: List` YAML file.
pub fn read_list<T: DeserializeOwned>(path: &Path) -> Vec<T> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let list: List<T> = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    list.items
}

/// The bootstrap files the oracle's API server had (see the conformance README): cluster
/// roles, controller roles and the four binding files.
pub fn bootstrap_from_files(dir: &Path) -> Policy {
    let b = dir.join("rbac/bootstrap");
    let mut cluster_roles: Vec<ClusterRole> = read_list(&b.join("cluster-roles.yaml"));
    cluster_roles.extend(read_list::<ClusterRole>(&b.join("controller-roles.yaml")));
    let mut cluster_role_bindings: Vec<ClusterRoleBinding> = read_list(&b.join("cluster-role-bindings.yaml"));
    cluster_role_bindings.extend(read_list::<ClusterRoleBinding>(&b.join("controller-role-bindings.yaml")));
    Policy {
        roles: Vec::new(),
        cluster_roles,
        role_bindings: read_list::<RoleBinding>(&b.join("namespace-role-bindings.yaml")),
        cluster_role_bindings,
        service_accounts: Vec::new(),
    }
}

/// The namespace Roles file (not loaded by the oracle's server, see the README).
pub fn namespace_roles_from_file(dir: &Path) -> Vec<Role> {
    read_list(&dir.join("rbac/bootstrap/namespace-roles.yaml"))
}

/// The RBAC objects and ServiceAccounts of a multi-document manifest (other kinds skipped).
pub fn objects_from_manifest(text: &str) -> Vec<PolicyObject> {
    let documents: Vec<serde_json::Value> = serde_saphyr::from_multiple(text).expect("manifest parses");
    let mut objects = Vec::new();
    for document in documents {
        let kind = document.get("kind").and_then(|k| k.as_str()).unwrap_or_default().to_string();
        let object: PolicyObject = match kind.as_str() {
            "Role" => serde_json::from_value::<Role>(document).expect("Role").into(),
            "ClusterRole" => serde_json::from_value::<ClusterRole>(document).expect("ClusterRole").into(),
            "RoleBinding" => serde_json::from_value::<RoleBinding>(document).expect("RoleBinding").into(),
            "ClusterRoleBinding" => {
                serde_json::from_value::<ClusterRoleBinding>(document).expect("ClusterRoleBinding").into()
            }
            "ServiceAccount" => {
                serde_json::from_value::<ServiceAccount>(document).expect("ServiceAccount").into()
            }
            _ => continue,
        };
        objects.push(object);
    }
    objects
}

/// The oracle scenario's objects as a policy.
pub fn scenario(dir: &Path) -> Policy {
    let text = std::fs::read_to_string(dir.join("rbac/oracle/scenario.yaml")).expect("scenario.yaml");
    objects_from_manifest(&text).into_iter().fold(Policy::new(), Policy::with_object)
}
