//! `kubectl auth can-i` arguments → request [`Attributes`].
//!
//! As `k8s.io/kubectl/pkg/cmd/auth/cani.go` does: the second argument is a non-resource URL
//! when it starts with `/`, otherwise `TYPE` or `TYPE/NAME`; `TYPE` is lower-cased and parsed as
//! `resource`, `resource.group` or `resource.version.group` (`schema.ParseResourceArg`), and
//! resolved to a resource by the server's discovery. We have no server, so a small built-in
//! table plays discovery for the common built-in types (plural, singular and short names such
//! as `po`, `deploy`, `svc`). `*` stays the resource `*` in the core group, as in kubectl.
//!
//! One deliberate difference: for a `resource.group` kubectl cannot resolve (a CRD it does not
//! know), kubectl sends the whole text as the resource name; we assume the resource exists and
//! split it, which is what kubectl sends when the CRD is installed. Unresolved types produce a
//! warning instead.

use crate::error::RbacError;
use crate::request::Attributes;

/// Built-in types: (plural, group, singular, short names).
const BUILTIN_TYPES: &[(&str, &str, &str, &[&str])] = &[
    ("pods", "", "pod", &["po"]),
    ("services", "", "service", &["svc"]),
    ("namespaces", "", "namespace", &["ns"]),
    ("nodes", "", "node", &["no"]),
    ("configmaps", "", "configmap", &["cm"]),
    ("secrets", "", "secret", &[]),
    ("serviceaccounts", "", "serviceaccount", &["sa"]),
    ("persistentvolumes", "", "persistentvolume", &["pv"]),
    ("persistentvolumeclaims", "", "persistentvolumeclaim", &["pvc"]),
    ("endpoints", "", "endpoints", &["ep"]),
    ("events", "", "event", &["ev"]),
    ("replicationcontrollers", "", "replicationcontroller", &["rc"]),
    ("resourcequotas", "", "resourcequota", &["quota"]),
    ("limitranges", "", "limitrange", &["limits"]),
    ("podtemplates", "", "podtemplate", &[]),
    ("deployments", "apps", "deployment", &["deploy"]),
    ("replicasets", "apps", "replicaset", &["rs"]),
    ("statefulsets", "apps", "statefulset", &["sts"]),
    ("daemonsets", "apps", "daemonset", &["ds"]),
    ("controllerrevisions", "apps", "controllerrevision", &[]),
    ("jobs", "batch", "job", &[]),
    ("cronjobs", "batch", "cronjob", &["cj"]),
    ("horizontalpodautoscalers", "autoscaling", "horizontalpodautoscaler", &["hpa"]),
    ("poddisruptionbudgets", "policy", "poddisruptionbudget", &["pdb"]),
    ("ingresses", "networking.k8s.io", "ingress", &["ing"]),
    ("ingressclasses", "networking.k8s.io", "ingressclass", &[]),
    ("networkpolicies", "networking.k8s.io", "networkpolicy", &["netpol"]),
    ("roles", "rbac.authorization.k8s.io", "role", &[]),
    ("rolebindings", "rbac.authorization.k8s.io", "rolebinding", &[]),
    ("clusterroles", "rbac.authorization.k8s.io", "clusterrole", &[]),
    ("clusterrolebindings", "rbac.authorization.k8s.io", "clusterrolebinding", &[]),
    ("certificatesigningrequests", "certificates.k8s.io", "certificatesigningrequest", &["csr"]),
    ("storageclasses", "storage.k8s.io", "storageclass", &["sc"]),
    ("volumeattachments", "storage.k8s.io", "volumeattachment", &[]),
    ("priorityclasses", "scheduling.k8s.io", "priorityclass", &["pc"]),
    ("leases", "coordination.k8s.io", "lease", &[]),
    ("customresourcedefinitions", "apiextensions.k8s.io", "customresourcedefinition", &["crd", "crds"]),
    ("mutatingwebhookconfigurations", "admissionregistration.k8s.io", "mutatingwebhookconfiguration", &[]),
    (
        "validatingwebhookconfigurations",
        "admissionregistration.k8s.io",
        "validatingwebhookconfiguration",
        &[],
    ),
    ("validatingadmissionpolicies", "admissionregistration.k8s.io", "validatingadmissionpolicy", &[]),
    ("tokenreviews", "authentication.k8s.io", "tokenreview", &[]),
    ("subjectaccessreviews", "authorization.k8s.io", "subjectaccessreview", &[]),
    ("selfsubjectaccessreviews", "authorization.k8s.io", "selfsubjectaccessreview", &[]),
];

/// The request a `kubectl auth can-i` invocation asks about, and what we had to assume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanIRequest {
    pub attributes: Attributes,
    /// Warnings kubectl would print (unknown type, unknown verb), or our assumptions.
    pub warnings: Vec<String>,
}

/// Verbs kubectl knows for resource requests.
// k8s.io/kubectl/pkg/cmd/auth/cani.go resourceVerbs
const RESOURCE_VERBS: &[&str] = &[
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
    "use",
    "bind",
    "impersonate",
    "*",
    "approve",
    "sign",
    "escalate",
    "attest",
];
/// Verbs kubectl knows for non-resource URLs.
// k8s.io/kubectl/pkg/cmd/auth/cani.go nonResourceURLVerbs
const NON_RESOURCE_VERBS: &[&str] = &["get", "put", "post", "head", "options", "delete", "patch", "*"];

/// Resolves a type to (group, resource) with the built-in table.
fn lookup(resource: &str, group: Option<&str>) -> Option<(&'static str, &'static str)> {
    BUILTIN_TYPES
        .iter()
        .find(|(plural, known_group, singular, shorts)| {
            group.is_none_or(|g| g == *known_group)
                && (*plural == resource || *singular == resource || shorts.contains(&resource))
        })
        .map(|(plural, known_group, _, _)| (*known_group, *plural))
}

/// Parses `kubectl auth can-i VERB TARGET [--subresource S] [-n NAMESPACE]`; `namespace` is
/// empty for `--all-namespaces` or cluster scope.
// k8s.io/kubectl/pkg/cmd/auth/cani.go (CanIOptions).Complete / Validate / resourceFor
pub fn parse_can_i(
    verb: &str,
    target: &str,
    namespace: &str,
    subresource: &str,
) -> Result<CanIRequest, RbacError> {
    let invalid = |message: &str| RbacError::InvalidCanIArgument {
        argument: target.to_string(),
        message: message.to_string(),
    };
    if verb.is_empty() {
        return Err(invalid("a verb is required"));
    }
    if target.is_empty() {
        return Err(invalid("you must specify two arguments: verb resource or verb resource/resourceName"));
    }
    let mut warnings = Vec::new();
    if target.starts_with('/') {
        if !subresource.is_empty() {
            return Err(invalid("--subresource can not be used with NonResourceURL"));
        }
        if !NON_RESOURCE_VERBS.contains(&verb) {
            warnings.push(format!("verb '{verb}' is not a known verb"));
        }
        return Ok(CanIRequest { attributes: Attributes::non_resource(verb, target), warnings });
    }
    if !RESOURCE_VERBS.contains(&verb) {
        warnings.push(format!("verb '{verb}' is not a known verb"));
    }
    let (type_arg, name) = target.split_once('/').unwrap_or((target, ""));
    if type_arg.is_empty() {
        return Err(invalid("the resource type is empty"));
    }
    let (group, resource) = resolve_type(type_arg, &mut warnings);
    let attributes = Attributes::resource(verb, group, resource)
        .subresource(subresource)
        .named(name)
        .in_namespace(namespace);
    Ok(CanIRequest { attributes, warnings })
}

// k8s.io/apimachinery/pkg/runtime/schema/group_version.go ParseResourceArg / ParseGroupResource
fn resolve_type(type_arg: &str, warnings: &mut Vec<String>) -> (String, String) {
    if type_arg == "*" {
        return (String::new(), "*".to_string());
    }
    let lower = type_arg.to_lowercase();
    let parts: Vec<&str> = lower.splitn(3, '.').collect();
    if parts.len() == 3
        && let Some((group, resource)) = lookup(parts[0], Some(parts[2]))
    {
        return (group.to_string(), resource.to_string());
    }
    let (resource, group) = match lower.split_once('.') {
        Some((resource, group)) => (resource, Some(group)),
        None => (lower.as_str(), None),
    };
    if let Some((group, resource)) = lookup(resource, group) {
        return (group.to_string(), resource.to_string());
    }
    match group {
        Some(group) => {
            warnings.push(format!(
                "the resource type '{lower}' is not built in; assuming resource '{resource}' in API group '{group}'"
            ));
            (group.to_string(), resource.to_string())
        }
        None => {
            warnings.push(format!("the server doesn't have a resource type '{resource}'"));
            (String::new(), type_arg.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn can_i_table() {
        // (kubectl behaviour, verb, target, namespace, subresource, expected (group, resource, sub, name, ns, path))
        type Row = (&'static str, &'static str, &'static str, &'static str, &'static str, [&'static str; 6]);
        let table: Vec<Row> = vec![
            ("plural core resource", "get", "pods", "labs", "", ["", "pods", "", "", "labs", ""]),
            ("short name", "list", "po", "labs", "", ["", "pods", "", "", "labs", ""]),
            (
                "short name of a group resource",
                "create",
                "deploy",
                "labs",
                "",
                ["apps", "deployments", "", "", "labs", ""],
            ),
            ("resource.group", "get", "deployments.apps", "", "", ["apps", "deployments", "", "", "", ""]),
            (
                "resource.version.group",
                "get",
                "deployments.v1.apps",
                "",
                "",
                ["apps", "deployments", "", "", "", ""],
            ),
            (
                "dotted group",
                "get",
                "networkpolicies.networking.k8s.io",
                "x",
                "",
                ["networking.k8s.io", "networkpolicies", "", "", "x", ""],
            ),
            (
                "TYPE/NAME",
                "get",
                "secrets/db-creds",
                "team-a",
                "",
                ["", "secrets", "", "db-creds", "team-a", ""],
            ),
            ("--subresource", "get", "pods", "labs", "log", ["", "pods", "log", "", "labs", ""]),
            (
                "singular kind name, case-insensitive",
                "get",
                "Deployment",
                "",
                "",
                ["apps", "deployments", "", "", "", ""],
            ),
            ("* stays * in the core group", "*", "*", "", "", ["", "*", "", "", "", ""]),
            (
                "unknown CRD resource.group (assumed installed)",
                "get",
                "widgets.example.com",
                "a",
                "",
                ["example.com", "widgets", "", "", "a", ""],
            ),
            (
                "unknown type is sent as typed",
                "impersonate",
                "users/alice",
                "",
                "",
                ["", "users", "", "alice", "", ""],
            ),
            ("non-resource URL", "get", "/metrics", "labs", "", ["", "", "", "", "", "/metrics"]),
        ];
        for (name, verb, target, namespace, subresource, [group, resource, sub, object, ns, path]) in table {
            let parsed =
                parse_can_i(verb, target, namespace, subresource).unwrap_or_else(|e| panic!("{name}: {e}"));
            let a = &parsed.attributes;
            assert_eq!(
                [a.api_group.as_str(), &a.resource, &a.subresource, &a.name, &a.namespace, &a.path],
                [group, resource, sub, object, ns, path],
                "{name}"
            );
            assert_eq!(a.resource_request, path.is_empty(), "{name}");
        }
    }

    #[test]
    fn can_i_rejects_and_warns() {
        assert!(parse_can_i("get", "", "", "").is_err());
        assert!(parse_can_i("get", "/healthz", "", "log").is_err(), "--subresource with a URL");
        assert!(parse_can_i("", "pods", "", "").is_err());
        let unknown_verb = parse_can_i("frobnicate", "pods", "", "").expect("parses");
        assert_eq!(unknown_verb.warnings.len(), 1);
        let unknown_type = parse_can_i("get", "gizmos", "", "").expect("parses");
        assert!(unknown_type.warnings[0].contains("gizmos"));
    }
}
