//! Escalation findings: grants that let a subject gain more than the grant itself says.
//!
//! Each finding is one binding subject, one capability, and the chain (binding → role → rule)
//! that gives it. The capabilities are the well-known RBAC privilege-escalation paths of the
//! Kubernetes documentation ("RBAC good practices: privilege escalation risks"):
//!
//! - reading Secrets (`get`/`list`/`watch secrets`) — `list` and `watch` return contents too;
//! - creating (or updating/patching) Pods or anything that makes Pods: the new Pod may run as
//!   ANY ServiceAccount of its namespace, so the subject inherits every right of those
//!   accounts; the finding names the accounts and their own capabilities;
//! - `pods/exec`, `pods/attach`, `pods/portforward` (`create`, or `get` on clusters that still
//!   accept the websocket upgrade over GET);
//! - `impersonate` on users, groups, serviceaccounts, uids or userextras;
//! - `bind` / `escalate` on (Cluster)Roles, and create/update/patch of RBAC objects;
//! - `create serviceaccounts/token`; any access to `nodes/proxy` (the kubelet API);
//! - approving CertificateSigningRequests (`certificatesigningrequests/approval` plus
//!   `approve` on `signers`);
//! - changing admission webhooks and admission policies;
//! - wildcard verbs or resources; anything granted to `system:anonymous` or
//!   `system:unauthenticated`.
//!
//! Matching uses the same helpers as the authorizer (`VerbMatches`, `APIGroupMatches`,
//! `ResourceMatches`), but ignores `resourceNames`: a rule limited to some names still grants
//! the capability on those objects, and the finding lists the names. Findings whose binding and
//! role are exactly the default bootstrap policy carry `grant.bootstrap = true`, so callers can
//! hide the expected powers of system components.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use crate::authorizer::{Authorizer, Binding, Grant};
use crate::k8s::{PolicyRule, Subject};
use crate::request::{ANONYMOUS_USER, UNAUTHENTICATED_GROUP, UserInfo};
use crate::rules::{
    NON_RESOURCE_ALL, RESOURCE_ALL, VERB_ALL, api_group_matches, field_list, resource_matches, verb_matches,
};

/// A power that lets its holder escalate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Capability {
    ReadSecrets,
    CreateWorkloads,
    PodExec,
    PodAttach,
    PodPortForward,
    Impersonate,
    BindRoles,
    EscalateRoles,
    MutateRbac,
    ServiceAccountToken,
    NodesProxy,
    ApproveCsr,
    ApproveSigner,
    MutateAdmission,
    WildcardVerbs,
    WildcardResources,
    AnonymousAccess,
}

impl Capability {
    /// A short explanation of why the capability is dangerous.
    pub fn describe(self) -> &'static str {
        match self {
            Capability::ReadSecrets => "can read Secrets (tokens, passwords, keys)",
            Capability::CreateWorkloads => {
                "can create Pods or workloads, so can run as any ServiceAccount of the namespace"
            }
            Capability::PodExec => "can exec into Pods and act with their ServiceAccount and files",
            Capability::PodAttach => "can attach to running containers",
            Capability::PodPortForward => "can port-forward into Pods, bypassing NetworkPolicies",
            Capability::Impersonate => "can impersonate other users, groups or ServiceAccounts",
            Capability::BindRoles => "can bind roles it does not hold (bind)",
            Capability::EscalateRoles => "can grant roles more than it holds (escalate)",
            Capability::MutateRbac => "can create or change RBAC roles and bindings",
            Capability::ServiceAccountToken => "can mint ServiceAccount tokens",
            Capability::NodesProxy => {
                "can reach the kubelet API through nodes/proxy (exec in any Pod of the node)"
            }
            Capability::ApproveCsr => "can approve certificate signing requests",
            Capability::ApproveSigner => "can approve certificates for a signer",
            Capability::MutateAdmission => "can change admission webhooks or policies",
            Capability::WildcardVerbs => "holds a wildcard verb (*)",
            Capability::WildcardResources => "holds a wildcard resource (*)",
            Capability::AnonymousAccess => "is granted to unauthenticated requests",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A ServiceAccount a pod creator can borrow, and what that account can do itself.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ServiceAccountExposure {
    pub namespace: String,
    pub name: String,
    /// The account's own escalation capabilities (empty: none found).
    pub capabilities: Vec<Capability>,
}

/// One escalation path of one subject.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub capability: Capability,
    /// The binding subject holding it (ServiceAccount namespace filled in).
    pub subject: Subject,
    /// The namespace the power applies in; `None` for every namespace / cluster scope.
    pub scope: Option<String>,
    /// The verbs of the request kinds that give the capability, as the rule grants them.
    pub verbs: Vec<String>,
    /// The resources (`group/resource` or `resource` for the core group) it applies to.
    pub resources: Vec<String>,
    /// When the rule lists resourceNames, the only objects it applies to.
    pub resource_names: Vec<String>,
    pub grant: Grant,
    /// For [`Capability::CreateWorkloads`]: the ServiceAccounts the subject can run Pods as.
    pub borrowable_service_accounts: Vec<ServiceAccountExposure>,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scope =
            self.scope.as_deref().map_or("cluster-wide".to_string(), |ns| format!("in namespace {ns:?}"));
        write!(
            f,
            "{}: {} {scope} ({})",
            crate::authorizer::subject_for_people(&self.subject),
            self.capability.describe(),
            self.grant
        )
    }
}

/// One request kind that gives a capability: verbs × (group, combined resource).
struct Check {
    capability: Capability,
    verbs: &'static [&'static str],
    targets: &'static [(&'static str, &'static str)],
}

const WRITE: &[&str] = &["create", "update", "patch"];
const EXEC_VERBS: &[&str] = &["create", "get"];

const CHECKS: &[Check] = &[
    Check {
        capability: Capability::ReadSecrets,
        verbs: &["get", "list", "watch"],
        targets: &[("", "secrets")],
    },
    Check {
        capability: Capability::CreateWorkloads,
        verbs: WRITE,
        targets: &[
            ("", "pods"),
            ("", "replicationcontrollers"),
            ("apps", "deployments"),
            ("apps", "replicasets"),
            ("apps", "statefulsets"),
            ("apps", "daemonsets"),
            ("batch", "jobs"),
            ("batch", "cronjobs"),
        ],
    },
    Check { capability: Capability::PodExec, verbs: EXEC_VERBS, targets: &[("", "pods/exec")] },
    Check { capability: Capability::PodAttach, verbs: EXEC_VERBS, targets: &[("", "pods/attach")] },
    Check { capability: Capability::PodPortForward, verbs: EXEC_VERBS, targets: &[("", "pods/portforward")] },
    // k8s.io/apiserver/pkg/endpoints/filters/impersonation.go (impersonate on these resources)
    Check {
        capability: Capability::Impersonate,
        verbs: &["impersonate"],
        targets: &[("", "users"), ("", "groups"), ("", "serviceaccounts"), ("authentication.k8s.io", "uids")],
    },
    // k8s.io/kubernetes/pkg/registry/rbac/escalation_check.go (bind / escalate verbs)
    Check {
        capability: Capability::BindRoles,
        verbs: &["bind"],
        targets: &[("rbac.authorization.k8s.io", "roles"), ("rbac.authorization.k8s.io", "clusterroles")],
    },
    Check {
        capability: Capability::EscalateRoles,
        verbs: &["escalate"],
        targets: &[("rbac.authorization.k8s.io", "roles"), ("rbac.authorization.k8s.io", "clusterroles")],
    },
    Check {
        capability: Capability::MutateRbac,
        verbs: WRITE,
        targets: &[
            ("rbac.authorization.k8s.io", "roles"),
            ("rbac.authorization.k8s.io", "clusterroles"),
            ("rbac.authorization.k8s.io", "rolebindings"),
            ("rbac.authorization.k8s.io", "clusterrolebindings"),
        ],
    },
    Check {
        capability: Capability::ServiceAccountToken,
        verbs: &["create"],
        targets: &[("", "serviceaccounts/token")],
    },
    Check {
        capability: Capability::NodesProxy,
        verbs: &["get", "create", "update", "patch", "delete"],
        targets: &[("", "nodes/proxy")],
    },
    // k8s.io/kubernetes/plugin/pkg/admission/certificates/approval (update approval + approve signers)
    Check {
        capability: Capability::ApproveCsr,
        verbs: &["update", "patch"],
        targets: &[("certificates.k8s.io", "certificatesigningrequests/approval")],
    },
    Check {
        capability: Capability::ApproveSigner,
        verbs: &["approve"],
        targets: &[("certificates.k8s.io", "signers")],
    },
    Check {
        capability: Capability::MutateAdmission,
        verbs: &["create", "update", "patch", "delete", "deletecollection"],
        targets: &[
            ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
            ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
            ("admissionregistration.k8s.io", "validatingadmissionpolicies"),
            ("admissionregistration.k8s.io", "validatingadmissionpolicybindings"),
            ("admissionregistration.k8s.io", "mutatingadmissionpolicies"),
            ("admissionregistration.k8s.io", "mutatingadmissionpolicybindings"),
        ],
    },
];

fn target_label(group: &str, resource: &str) -> String {
    if group.is_empty() { resource.to_string() } else { format!("{group}/{resource}") }
}

/// What a resource rule grants of one check: the matching verbs and targets.
fn check_rule(check: &Check, rule: &PolicyRule) -> Option<(Vec<String>, Vec<String>)> {
    let verbs: Vec<String> =
        check.verbs.iter().filter(|verb| verb_matches(rule, verb)).map(|verb| verb.to_string()).collect();
    if verbs.is_empty() {
        return None;
    }
    let mut targets: Vec<String> = check
        .targets
        .iter()
        .filter(|(group, combined)| {
            let subresource = combined.split_once('/').map_or("", |(_, sub)| sub);
            api_group_matches(rule, group) && resource_matches(rule, combined, subresource)
        })
        .map(|(group, resource)| target_label(group, resource))
        .collect();
    // userextras/<key>: any rule resource naming userextras (or a wildcard) in authentication.k8s.io.
    if check.capability == Capability::Impersonate
        && api_group_matches(rule, "authentication.k8s.io")
        && field_list(&rule.resources)
            .iter()
            .any(|r| r == RESOURCE_ALL || r.starts_with("userextras") || r.starts_with("*/"))
    {
        targets.push("authentication.k8s.io/userextras".to_string());
    }
    (!targets.is_empty()).then_some((verbs, targets))
}

fn is_anonymous_subject(subject: &Subject) -> bool {
    (subject.kind == "User" && subject.name == ANONYMOUS_USER)
        || (subject.kind == "Group" && subject.name == UNAUTHENTICATED_GROUP)
}

impl Authorizer {
    fn all_bindings(&self) -> impl Iterator<Item = &Binding> {
        let mut namespaces: Vec<&String> = self.namespace_bindings.keys().collect();
        namespaces.sort();
        self.cluster_bindings
            .iter()
            .chain(namespaces.into_iter().flat_map(|ns| self.namespace_bindings[ns].iter()))
    }

    /// Every ServiceAccount we know of: ServiceAccount objects, ServiceAccount subjects of
    /// bindings, and the `default` account of every namespace that appears anywhere.
    pub fn known_service_accounts(&self) -> BTreeSet<(String, String)> {
        let mut accounts = self.service_accounts.clone();
        let mut namespaces: BTreeSet<String> =
            self.service_accounts.iter().map(|(ns, _)| ns.clone()).collect();
        namespaces.extend(self.namespace_bindings.keys().cloned());
        namespaces.extend(self.roles.keys().cloned());
        for binding in self.all_bindings() {
            for subject in &binding.subjects {
                if subject.kind == "ServiceAccount" {
                    let ns = subject
                        .namespace
                        .clone()
                        .filter(|ns| !ns.is_empty())
                        .or_else(|| binding.id.namespace.clone());
                    if let Some(ns) = ns {
                        namespaces.insert(ns.clone());
                        accounts.insert((ns, subject.name.clone()));
                    }
                }
            }
        }
        accounts.extend(namespaces.into_iter().map(|ns| (ns, "default".to_string())));
        accounts
    }

    fn raw_findings(&self) -> Vec<Finding> {
        let mut findings = Vec::new();
        for binding in self.all_bindings() {
            let Ok(rules) = self.role_rules(binding) else { continue };
            for subject in &binding.subjects {
                if !matches!(subject.kind.as_str(), "User" | "Group" | "ServiceAccount") {
                    continue;
                }
                for (index, sourced) in rules.iter().enumerate() {
                    let rule = &sourced.rule;
                    let mut add = |capability, verbs: Vec<String>, resources: Vec<String>| {
                        let grant = Authorizer::grant(binding, subject, index, sourced);
                        findings.push(Finding {
                            capability,
                            subject: grant.subject.clone(),
                            scope: binding.id.namespace.clone(),
                            verbs,
                            resources,
                            resource_names: field_list(&rule.resource_names).to_vec(),
                            grant,
                            borrowable_service_accounts: Vec::new(),
                        });
                    };
                    let resource_rule = !field_list(&rule.resources).is_empty();
                    if resource_rule {
                        for check in CHECKS {
                            if let Some((verbs, resources)) = check_rule(check, rule) {
                                add(check.capability, verbs, resources);
                            }
                        }
                    }
                    if rule.verbs.iter().any(|verb| verb == VERB_ALL) {
                        add(Capability::WildcardVerbs, vec![VERB_ALL.to_string()], Vec::new());
                    }
                    let wildcard_resources: Vec<String> = field_list(&rule.resources)
                        .iter()
                        .chain(field_list(&rule.non_resource_urls))
                        .filter(|r| *r == RESOURCE_ALL || *r == NON_RESOURCE_ALL)
                        .cloned()
                        .collect();
                    if !wildcard_resources.is_empty() {
                        add(Capability::WildcardResources, rule.verbs.clone(), wildcard_resources);
                    }
                    if is_anonymous_subject(subject) {
                        add(
                            Capability::AnonymousAccess,
                            rule.verbs.clone(),
                            field_list(&rule.resources).to_vec(),
                        );
                    }
                }
            }
        }
        findings
    }

    /// Capabilities by subject (kind, name, namespace), so that an account's capabilities are a
    /// few lookups instead of a scan of every finding.
    fn capabilities_by_subject(
        findings: &[Finding],
    ) -> HashMap<(String, String, String), BTreeSet<Capability>> {
        let mut by_subject: HashMap<(String, String, String), BTreeSet<Capability>> = HashMap::new();
        for finding in findings {
            let subject = &finding.subject;
            let key =
                (subject.kind.clone(), subject.name.clone(), subject.namespace.clone().unwrap_or_default());
            by_subject.entry(key).or_default().insert(finding.capability);
        }
        by_subject
    }

    /// The capabilities of a ServiceAccount: those of the subjects that apply to it (its
    /// ServiceAccount subject, its user name, and each of its groups), as `appliesToUser` decides.
    fn capabilities_of(
        by_subject: &HashMap<(String, String, String), BTreeSet<Capability>>,
        namespace: &str,
        name: &str,
    ) -> Vec<Capability> {
        let account = UserInfo::service_account(namespace, name);
        let mut keys = vec![
            ("ServiceAccount".to_string(), name.to_string(), namespace.to_string()),
            ("User".to_string(), account.name.clone(), String::new()),
        ];
        keys.extend(account.groups.iter().map(|group| ("Group".to_string(), group.clone(), String::new())));
        let capabilities: BTreeSet<Capability> =
            keys.iter().filter_map(|key| by_subject.get(key)).flatten().copied().collect();
        capabilities.into_iter().collect()
    }

    /// Every known ServiceAccount with its own escalation capabilities (through its user name
    /// and its groups `system:serviceaccounts`, `system:serviceaccounts:<ns>`,
    /// `system:authenticated`).
    pub fn service_account_exposures(&self) -> Vec<ServiceAccountExposure> {
        let findings = self.raw_findings();
        self.exposures(&findings)
    }

    fn exposures(&self, findings: &[Finding]) -> Vec<ServiceAccountExposure> {
        let by_subject = Self::capabilities_by_subject(findings);
        self.known_service_accounts()
            .into_iter()
            .map(|(namespace, name)| {
                let capabilities = Self::capabilities_of(&by_subject, &namespace, &name);
                ServiceAccountExposure { namespace, name, capabilities }
            })
            .collect()
    }

    /// All escalation findings, in binding order (ClusterRoleBindings, then RoleBindings by
    /// namespace). Filter on `grant.bootstrap` to hide the default policy's own.
    pub fn escalation_findings(&self) -> Vec<Finding> {
        let mut findings = self.raw_findings();
        let exposures = self.exposures(&findings);
        for finding in &mut findings {
            if finding.capability == Capability::CreateWorkloads {
                finding.borrowable_service_accounts = exposures
                    .iter()
                    .filter(|account| finding.scope.as_deref().is_none_or(|ns| ns == account.namespace))
                    .cloned()
                    .collect();
            }
        }
        findings
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Policy;
    use crate::testutil::*;

    fn capabilities_for(rules: Vec<PolicyRule>) -> Vec<Capability> {
        let policy = Policy::new().with_object(cluster_role("r", &[], rules)).with_object(role_binding(
            "ns",
            "b",
            "ClusterRole",
            "r",
            vec![user("u")],
        ));
        let authorizer = Authorizer::new(&policy).expect("valid");
        let set: BTreeSet<Capability> =
            authorizer.escalation_findings().iter().map(|f| f.capability).collect();
        set.into_iter().collect()
    }

    #[test]
    fn capability_table() {
        use Capability::*;
        // (escalation path, rule, capabilities found)
        let table: Vec<(&str, PolicyRule, Vec<Capability>)> = vec![
            ("list secrets returns their data", rule(&["list"], &[""], &["secrets"]), vec![ReadSecrets]),
            ("create pods", rule(&["create"], &[""], &["pods"]), vec![CreateWorkloads]),
            (
                "patch deployments (change the pod template)",
                rule(&["patch"], &["apps"], &["deployments"]),
                vec![CreateWorkloads],
            ),
            ("create cronjobs", rule(&["create"], &["batch"], &["cronjobs"]), vec![CreateWorkloads]),
            ("read pods is harmless", rule(&["get", "list"], &[""], &["pods"]), vec![]),
            ("exec via create", rule(&["create"], &[""], &["pods/exec"]), vec![PodExec]),
            (
                "exec via get (websocket)",
                rule(&["get"], &[""], &["pods/exec", "pods/attach"]),
                vec![PodExec, PodAttach],
            ),
            ("port-forward", rule(&["create"], &[""], &["pods/portforward"]), vec![PodPortForward]),
            ("*/exec matches pods/exec", rule(&["create"], &[""], &["*/exec"]), vec![PodExec]),
            ("impersonate users", rule(&["impersonate"], &[""], &["users"]), vec![Impersonate]),
            (
                "impersonate uids",
                rule(&["impersonate"], &["authentication.k8s.io"], &["uids"]),
                vec![Impersonate],
            ),
            (
                "impersonate userextras",
                rule(&["impersonate"], &["authentication.k8s.io"], &["userextras/scopes"]),
                vec![Impersonate],
            ),
            (
                "bind clusterroles",
                rule(&["bind"], &["rbac.authorization.k8s.io"], &["clusterroles"]),
                vec![BindRoles],
            ),
            (
                "escalate roles",
                rule(&["escalate"], &["rbac.authorization.k8s.io"], &["roles"]),
                vec![EscalateRoles],
            ),
            (
                "create rolebindings",
                rule(&["create"], &["rbac.authorization.k8s.io"], &["rolebindings"]),
                vec![MutateRbac],
            ),
            (
                "token requests",
                rule(&["create"], &[""], &["serviceaccounts/token"]),
                vec![ServiceAccountToken],
            ),
            ("nodes/proxy", rule(&["get"], &[""], &["nodes/proxy"]), vec![NodesProxy]),
            (
                "CSR approval",
                rule(&["update"], &["certificates.k8s.io"], &["certificatesigningrequests/approval"]),
                vec![ApproveCsr],
            ),
            (
                "signer approve",
                rule(&["approve"], &["certificates.k8s.io"], &["signers"]),
                vec![ApproveSigner],
            ),
            (
                "webhook configuration",
                rule(&["patch"], &["admissionregistration.k8s.io"], &["mutatingwebhookconfigurations"]),
                vec![MutateAdmission],
            ),
            ("wildcard verb", rule(&["*"], &["example.com"], &["widgets"]), vec![WildcardVerbs]),
            (
                "wildcard resource read-only",
                rule(&["get"], &["example.com"], &["*"]),
                vec![WildcardResources],
            ),
            (
                "resourceNames still grant the named secret",
                named_rule(&["get"], &[""], &["secrets"], &["db"]),
                vec![ReadSecrets],
            ),
        ];
        for (name, rule, expected) in table {
            assert_eq!(capabilities_for(vec![rule]), expected, "{name}");
        }
    }

    #[test]
    fn pod_creators_borrow_every_service_account_of_the_namespace() {
        let policy = Policy::new()
            .with_object(cluster_role("pod-maker", &[], vec![rule(&["create"], &[""], &["pods"])]))
            .with_object(cluster_role("secrets", &[], vec![rule(&["get"], &[""], &["secrets"])]))
            .with_object(role_binding("labs", "dev", "ClusterRole", "pod-maker", vec![user("dev")]))
            .with_object(role_binding(
                "labs",
                "robot",
                "ClusterRole",
                "secrets",
                vec![service_account("", "robot")],
            ))
            .with_object(cluster_role_binding("anon", "secrets", vec![group("system:unauthenticated")]));
        let authorizer = Authorizer::new(&policy).expect("valid");
        let findings = authorizer.escalation_findings();
        let create =
            findings.iter().find(|f| f.capability == Capability::CreateWorkloads).expect("create finding");
        assert_eq!(create.scope.as_deref(), Some("labs"));
        let accounts: Vec<(String, Vec<Capability>)> = create
            .borrowable_service_accounts
            .iter()
            .map(|a| (a.name.clone(), a.capabilities.clone()))
            .collect();
        assert_eq!(
            accounts,
            vec![("default".to_string(), vec![]), ("robot".to_string(), vec![Capability::ReadSecrets])]
        );
        assert!(
            findings.iter().any(|f| f.capability == Capability::AnonymousAccess),
            "anonymous grant flagged"
        );
        assert!(findings.iter().all(|f| !f.grant.bootstrap), "none of these bindings is bootstrap");
    }
}
