//! The RBAC that well-known components need, checked against what the bindings of their
//! ServiceAccount grant (with our RBAC authorizer, `autolabs-rbac`).
//!
//! Each [`Component`] is recognised by its labels (`app.kubernetes.io/name` and, when set,
//! `app.kubernetes.io/component`) on a Deployment or DaemonSet (its pod template's
//! `serviceAccountName` is the identity) or on a ServiceAccount no such workload uses. Each
//! permission its upstream chart's ClusterRole and Role grant that the bindings do not is an
//! error naming the verbs and the resource: the controller's requests fail at run time.
//! To add a component, add a row to [`COMPONENTS`].

use std::collections::BTreeMap;

use autolabs_rbac::{Attributes, Authorizer, UserInfo};

use crate::finding::{Finding, Severity};
use crate::objects::{Object, ObjectSet};

const NAME_LABEL: &str = "app.kubernetes.io/name";
const COMPONENT_LABEL: &str = "app.kubernetes.io/component";

/// Where a permission is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// In every namespace the controller watches: cluster-wide, or the namespace of its
    /// `--watch-namespace` argument.
    Watched,
    /// In the controller's own namespace (its Role).
    Own,
}

/// A name the permission is limited to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectName {
    Any,
    /// The leader-election lock: the value of this argument, else the default.
    ElectionId {
        arg: &'static str,
        default: &'static str,
    },
}

/// One rule of the upstream chart: verbs on a resource.
#[derive(Debug, Clone, Copy)]
pub struct Permission {
    pub scope: Scope,
    pub group: &'static str,
    pub resource: &'static str,
    pub subresource: &'static str,
    pub verbs: &'static [&'static str],
    pub name: ObjectName,
    /// Left out when the controller runs with this argument (`--update-status=false`).
    pub unless_arg: Option<&'static str>,
    /// What the controller does with it, for the finding.
    pub why: &'static str,
}

/// A component and the permissions its controller needs.
#[derive(Debug, Clone, Copy)]
pub struct Component {
    /// `app.kubernetes.io/name`.
    pub name: &'static str,
    /// `app.kubernetes.io/component`, when the chart labels several workloads with one name.
    pub component: Option<&'static str>,
    /// The chart version the permissions were read from.
    pub source: &'static str,
    pub permissions: &'static [Permission],
}

const READ: &[&str] = &["get", "list", "watch"];
const LIST_WATCH: &[&str] = &["list", "watch"];

const fn perm(
    scope: Scope,
    group: &'static str,
    resource: &'static str,
    verbs: &'static [&'static str],
    why: &'static str,
) -> Permission {
    Permission {
        scope,
        group,
        resource,
        subresource: "",
        verbs,
        name: ObjectName::Any,
        unless_arg: None,
        why,
    }
}

/// ingress-nginx's controller, from the ingress-nginx Helm chart 4.15.1 (controller 1.15.1,
/// kubernetes/ingress-nginx@dbb11b92ddb77bee9c35e462479129354c84f939):
/// charts/ingress-nginx/templates/clusterrole.yaml and controller-role.yaml.
const INGRESS_NGINX: &[Permission] = &[
    // ClusterRole
    perm(Scope::Watched, "", "secrets", LIST_WATCH, "reads the TLS certificates of Ingress hosts"),
    perm(Scope::Watched, "", "configmaps", LIST_WATCH, "reads its configuration and TCP/UDP maps"),
    perm(Scope::Watched, "", "endpoints", LIST_WATCH, "follows Service backends"),
    perm(Scope::Watched, "", "pods", LIST_WATCH, "follows the pods behind backends"),
    perm(Scope::Watched, "", "services", READ, "resolves Ingress backends"),
    perm(Scope::Watched, "networking.k8s.io", "ingresses", READ, "reads the Ingresses it serves"),
    perm(Scope::Watched, "networking.k8s.io", "ingressclasses", READ, "finds the IngressClass it owns"),
    perm(Scope::Watched, "discovery.k8s.io", "endpointslices", READ, "routes to backend pods"),
    perm(Scope::Watched, "coordination.k8s.io", "leases", LIST_WATCH, "watches the leader lease"),
    perm(Scope::Watched, "", "events", &["create", "patch"], "records events on Ingresses"),
    Permission {
        subresource: "status",
        unless_arg: Some("--update-status=false"),
        ..perm(
            Scope::Watched,
            "networking.k8s.io",
            "ingresses",
            &["update"],
            "publishes the load balancer address in Ingress status",
        )
    },
    // Role, in the controller's namespace
    perm(Scope::Own, "", "namespaces", &["get"], "reads its own namespace"),
    perm(Scope::Own, "", "configmaps", READ, "reads its configuration ConfigMap"),
    perm(Scope::Own, "", "secrets", READ, "reads its default certificate"),
    Permission {
        name: ObjectName::ElectionId { arg: "--election-id", default: "ingress-nginx-leader" },
        ..perm(
            Scope::Own,
            "coordination.k8s.io",
            "leases",
            &["get", "update"],
            "holds the leader-election lease",
        )
    },
    perm(Scope::Own, "coordination.k8s.io", "leases", &["create"], "creates the leader-election lease"),
    perm(Scope::Own, "", "events", &["create", "patch"], "records events"),
];

/// Components whose RBAC is checked.
pub const COMPONENTS: &[Component] = &[Component {
    name: "ingress-nginx",
    component: Some("controller"),
    source: "ingress-nginx Helm chart 4.15.1",
    permissions: INGRESS_NGINX,
}];

/// One running instance of a component: its identity and the arguments that shape its needs.
struct Instance<'a> {
    component: &'a Component,
    namespace: String,
    service_account: String,
    /// The workload (or the ServiceAccount) the findings point at.
    object: &'a Object,
    args: Vec<String>,
}

impl Instance<'_> {
    fn arg(&self, name: &str) -> Option<&str> {
        let prefix = format!("{name}=");
        self.args.iter().find_map(|a| a.strip_prefix(prefix.as_str()))
    }
}

fn is_component(labels: &BTreeMap<String, String>, c: &Component) -> bool {
    labels.get(NAME_LABEL).is_some_and(|v| v == c.name)
        && match (c.component, labels.get(COMPONENT_LABEL)) {
            (Some(want), Some(got)) => want == got,
            _ => true,
        }
}

fn instances(set: &ObjectSet) -> Vec<Instance<'_>> {
    let mut out: Vec<Instance> = Vec::new();
    for c in COMPONENTS {
        for o in set
            .objects
            .iter()
            .filter(|o| o.group() == "apps" && matches!(o.kind.as_str(), "Deployment" | "DaemonSet"))
        {
            let Some(t) = o.pod_template() else { continue };
            let pod_labels = t.meta.labels.clone().unwrap_or_default();
            if !is_component(&o.labels(), c) && !is_component(&pod_labels, c) {
                continue;
            }
            let args = t
                .spec
                .containers
                .iter()
                .flat_map(|c| c.command.iter().flatten().chain(c.args.iter().flatten()))
                .cloned()
                .collect();
            out.push(Instance {
                component: c,
                namespace: o.namespace.clone().unwrap_or_else(|| "default".into()),
                service_account: t.spec.service_account_name.clone().unwrap_or_else(|| "default".into()),
                object: o,
                args,
            });
        }
        for sa in set.of_kind("", "ServiceAccount") {
            let ns = sa.namespace.clone().unwrap_or_else(|| "default".into());
            let used = out.iter().any(|i| i.namespace == ns && i.service_account == sa.name);
            if !used && is_component(&sa.labels(), c) {
                out.push(Instance {
                    component: c,
                    namespace: ns,
                    service_account: sa.name.clone(),
                    object: sa,
                    args: Vec::new(),
                });
            }
        }
    }
    out
}

/// Every permission a recognised component needs that its ServiceAccount's bindings do not grant.
pub fn check(set: &ObjectSet, authorizer: &Authorizer) -> Vec<Finding> {
    let mut out = Vec::new();
    for instance in instances(set) {
        let user = UserInfo::service_account(&instance.namespace, &instance.service_account);
        let watched = instance.arg("--watch-namespace").filter(|n| !n.is_empty()).map(str::to_string);
        for p in instance.component.permissions {
            if p.unless_arg.is_some_and(|a| instance.args.iter().any(|x| x == a)) {
                continue;
            }
            let (namespace, where_) = match (p.scope, &watched) {
                (Scope::Own, _) => {
                    (instance.namespace.clone(), format!("in namespace {:?}", instance.namespace))
                }
                (Scope::Watched, Some(ns)) => {
                    (ns.clone(), format!("in namespace {ns:?} (--watch-namespace)"))
                }
                (Scope::Watched, None) => (String::new(), "cluster-wide".to_string()),
            };
            let name = match p.name {
                ObjectName::Any => String::new(),
                ObjectName::ElectionId { arg, default } => instance.arg(arg).unwrap_or(default).to_string(),
            };
            let missing: Vec<&str> = p
                .verbs
                .iter()
                .copied()
                .filter(|verb| {
                    let attrs = Attributes::resource(*verb, p.group, p.resource)
                        .in_namespace(namespace.clone())
                        .subresource(p.subresource)
                        .named(name.clone());
                    !authorizer.authorize(&user, &attrs).is_allowed()
                })
                .collect();
            if missing.is_empty() {
                continue;
            }
            let group = if p.group.is_empty() { String::new() } else { format!(".{}", p.group) };
            let sub = if p.subresource.is_empty() { String::new() } else { format!("/{}", p.subresource) };
            let named = if name.is_empty() { String::new() } else { format!(" named {name:?}") };
            out.push(
                Finding::new(
                    "rbac",
                    "component-permission-missing",
                    Severity::Error,
                    format!(
                        "{} ({} {}, ServiceAccount {}/{}) cannot {} {}{group}{sub}{named} {where_}: it {}; the {} grants it",
                        instance.component.name,
                        instance.object.kind,
                        instance.object.name,
                        instance.namespace,
                        instance.service_account,
                        missing.join(", "),
                        p.resource,
                        p.why,
                        instance.component.source,
                    ),
                )
                .at(instance.object, ""),
            );
        }
    }
    out
}
