//! Properties of the rendered baseline, for every profile × provider: what must hold, not
//! what the text happens to be (the snapshots pin the text).

use std::collections::BTreeSet;

use autolabs_k8s::Quantity;
use autolabs_model::platform::{Platform, Profile, Provider};
use autolabs_model::render::{PROVISIONER_RULES, Rendered, render};
use autolabs_model::topology;
use k8s_openapi::api::core::v1::{LimitRange, Namespace, ResourceQuota};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};

fn all() -> Vec<(Platform, Rendered)> {
    let mut out = Vec::new();
    for profile in Profile::ALL {
        for provider in Provider::ALL {
            let p = Platform::for_profile(profile, provider);
            let r = render(&p);
            out.push((p, r));
        }
    }
    out
}

#[test]
fn rendering_is_deterministic() {
    for profile in Profile::ALL {
        let p = Platform::for_profile(profile, Provider::Aws);
        assert_eq!(render(&p), render(&p));
    }
}

#[test]
fn every_namespace_has_default_deny_and_pod_security_labels() {
    for (p, r) in all() {
        let (namespaces, addon_namespaces): (Vec<Namespace>, Vec<Namespace>) = r
            .typed::<Namespace>()
            .into_iter()
            .partition(|ns| topology::is_platform_namespace(ns.metadata.name.as_deref().unwrap()));
        assert_eq!(namespaces.len(), 7, "{:?}", p.spec.profile);
        // The add-ons' own namespaces: a pinned level, and the reason for it written down.
        for ns in &addon_namespaces {
            let name = ns.metadata.name.as_deref().unwrap();
            let labels = ns.metadata.labels.as_ref().unwrap();
            assert!(labels.contains_key("pod-security.kubernetes.io/enforce-version"), "{name}");
            let annotations = ns.metadata.annotations.as_ref().unwrap();
            assert!(
                annotations.get(autolabs_model::render::POD_SECURITY_REASON).is_some_and(|r| r.len() > 20),
                "{name}: no reason for its Pod Security level"
            );
        }
        let policies: Vec<NetworkPolicy> = r.typed();
        for ns in &namespaces {
            let name = ns.metadata.name.as_deref().unwrap();
            let labels = ns.metadata.labels.as_ref().unwrap();
            for mode in ["enforce", "audit", "warn"] {
                let level = labels
                    .get(&format!("pod-security.kubernetes.io/{mode}"))
                    .unwrap_or_else(|| panic!("{name}: no {mode} label"));
                assert!(level == "baseline" || level == "restricted", "{name}: {mode}={level}");
                assert!(
                    labels.contains_key(&format!("pod-security.kubernetes.io/{mode}-version")),
                    "{name}: {mode} version not pinned"
                );
            }
            if name == topology::LABS {
                assert_eq!(labels["pod-security.kubernetes.io/enforce"], "restricted");
            }
            let deny = policies.iter().any(|np| {
                let spec = np.spec.as_ref().unwrap();
                np.metadata.namespace.as_deref() == Some(name)
                    && spec
                        .pod_selector
                        .as_ref()
                        .is_some_and(|s| s.match_labels.is_none() && s.match_expressions.is_none())
                    && spec
                        .policy_types
                        .as_ref()
                        .is_some_and(|t| t.contains(&"Ingress".into()) && t.contains(&"Egress".into()))
                    && spec.ingress.is_none()
                    && spec.egress.is_none()
            });
            assert!(deny, "{name} has no default-deny policy");
        }
    }
}

#[test]
fn every_namespace_may_resolve_dns_over_udp_and_tcp() {
    let r = render(&Platform::default());
    let policies: Vec<NetworkPolicy> = r.typed();
    for ns in topology::NAMESPACES {
        let dns = policies
            .iter()
            .find(|np| {
                np.metadata.namespace.as_deref() == Some(ns.name)
                    && np.metadata.name.as_deref() == Some(&format!("{}-dns-egress", ns.name))
            })
            .unwrap_or_else(|| panic!("{}: no DNS policy", ns.name));
        let rule = &dns.spec.as_ref().unwrap().egress.as_ref().unwrap()[0];
        let protocols: BTreeSet<_> = rule
            .ports
            .iter()
            .flatten()
            .map(|p| (p.protocol.clone().unwrap(), format!("{:?}", p.port)))
            .collect();
        assert_eq!(protocols.len(), 2);
        // One peer with BOTH selectors: kube-dns pods in kube-system, not "all of kube-system OR every kube-dns pod".
        let peers = rule.to.as_ref().unwrap();
        assert_eq!(peers.len(), 1);
        let peer = &peers[0];
        assert_eq!(
            peer.namespace_selector.as_ref().unwrap().match_labels.as_ref().unwrap()[topology::NS_NAME_LABEL],
            "kube-system"
        );
        assert_eq!(peer.pod_selector.as_ref().unwrap().match_labels.as_ref().unwrap()["k8s-app"], "kube-dns");
    }
}

#[test]
fn peers_select_namespaces_by_metadata_name_and_internet_is_an_ip_block() {
    for (_, r) in all() {
        for np in r.typed::<NetworkPolicy>() {
            let spec = np.spec.unwrap();
            let peers = spec
                .ingress
                .iter()
                .flatten()
                .flat_map(|r| r.from.iter().flatten())
                .chain(spec.egress.iter().flatten().flat_map(|r| r.to.iter().flatten()));
            for peer in peers {
                if let Some(ns) = &peer.namespace_selector {
                    let keys: Vec<_> = ns.match_labels.as_ref().unwrap().keys().collect();
                    assert_eq!(keys, [topology::NS_NAME_LABEL]);
                }
                if peer.namespace_selector.is_none() {
                    // No bare podSelector ({} would mean "every pod of this namespace").
                    assert!(peer.pod_selector.is_none(), "{:?}: bare podSelector peer", np.metadata.name);
                    let block = peer.ip_block.as_ref().unwrap();
                    if block.cidr == "0.0.0.0/0" {
                        let except = block.except.as_ref().unwrap();
                        for private in ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"] {
                            assert!(
                                except.contains(&private.to_string()),
                                "internet block does not except {private}"
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn every_quota_that_tracks_compute_has_limitrange_defaults() {
    for (_, r) in all() {
        let quotas: Vec<ResourceQuota> = r.typed();
        let ranges: Vec<LimitRange> = r.typed();
        assert_eq!(quotas.len(), 7);
        for q in quotas {
            let ns = q.metadata.namespace.clone().unwrap();
            let hard = q.spec.unwrap().hard.unwrap();
            for res in hard.keys().filter(|k| k.starts_with("requests.") || k.starts_with("limits.")) {
                if res == "requests.storage" {
                    continue;
                }
                let (kind, name) = res.split_once('.').unwrap();
                let lr = ranges
                    .iter()
                    .find(|l| l.metadata.namespace.as_deref() == Some(&ns))
                    .unwrap_or_else(|| panic!("{ns}: quota on {res} without a LimitRange"));
                let item = lr.spec.as_ref().unwrap().limits.iter().find(|i| i.type_ == "Container").unwrap();
                let defaults = if kind == "requests" {
                    item.default_request.as_ref().or(item.default.as_ref())
                } else {
                    item.default.as_ref()
                };
                assert!(
                    defaults.is_some_and(|d| d.contains_key(name)),
                    "{ns}: quota on {res} but the LimitRange has no default for {name}"
                );
            }
        }
    }
}

#[test]
fn labs_quota_is_students_times_the_lab_size() {
    for (p, r) in all() {
        let n = p.spec.students() as i128;
        let quota = r
            .typed::<ResourceQuota>()
            .into_iter()
            .find(|q| q.metadata.namespace.as_deref() == Some("labs"))
            .unwrap();
        let hard = quota.spec.unwrap().hard.unwrap();
        let get = |k: &str| Quantity::parse(&hard[k].0).unwrap();
        let l = &p.spec.labs;
        assert_eq!(get("requests.cpu"), l.requests.cpu.0.checked_mul(n).unwrap());
        assert_eq!(get("requests.memory"), l.requests.memory.0.checked_mul(n).unwrap());
        assert_eq!(get("limits.cpu"), l.limits.cpu.0.checked_mul(n).unwrap());
        assert_eq!(get("limits.memory"), l.limits.memory.0.checked_mul(n).unwrap());
        assert_eq!(get("pods").value(), n * l.pods_per_student as i128);
    }
    // The document's example: 50 students → 25 CPU, 25Gi, 50 CPU, 50Gi, 100 pods.
    let mut p = Platform::for_profile(Profile::Production, Provider::Proxmox);
    p.spec.labs.students = Some(50);
    let hard = autolabs_model::render::quota(&p.spec, "labs");
    assert_eq!(hard["requests.cpu"].to_string(), "25");
    assert_eq!(hard["requests.memory"].to_string(), "25Gi");
    assert_eq!(hard["limits.cpu"].to_string(), "50");
    assert_eq!(hard["limits.memory"].to_string(), "50Gi");
    assert_eq!(hard["pods"].to_string(), "100");
}

fn rules_grant_wildcard(rules: &[k8s_openapi::api::rbac::v1::PolicyRule]) -> bool {
    rules.iter().any(|r| {
        r.verbs.iter().any(|v| v == "*")
            || r.resources.iter().flatten().any(|x| x == "*")
            || r.api_groups.iter().flatten().any(|x| x == "*")
    })
}

#[test]
fn no_role_binding_grants_a_wildcard() {
    for (_, r) in all() {
        let roles: Vec<Role> = r.typed();
        let cluster_roles: Vec<ClusterRole> = r.typed();
        for rb in r.typed::<RoleBinding>() {
            let rules = match rb.role_ref.kind.as_str() {
                "Role" => roles
                    .iter()
                    .find(|x| {
                        x.metadata.name.as_ref() == Some(&rb.role_ref.name)
                            && x.metadata.namespace == rb.metadata.namespace
                    })
                    .and_then(|x| x.rules.clone()),
                _ => cluster_roles
                    .iter()
                    .find(|x| x.metadata.name.as_ref() == Some(&rb.role_ref.name))
                    .and_then(|x| x.rules.clone()),
            };
            let rules =
                rules.unwrap_or_else(|| panic!("{:?} binds a role that is not rendered", rb.metadata.name));
            assert!(!rules_grant_wildcard(&rules), "{:?} grants *", rb.metadata.name);
        }
        // Only the platform admins' ClusterRoleBinding reaches a wildcard role (cluster-admin).
        for crb in r.typed::<ClusterRoleBinding>() {
            if crb.role_ref.name == "cluster-admin" {
                assert_eq!(crb.metadata.name.as_deref(), Some("autolabs-platform-admins"));
                continue;
            }
            let role =
                cluster_roles.iter().find(|x| x.metadata.name.as_ref() == Some(&crb.role_ref.name)).unwrap();
            assert!(!rules_grant_wildcard(role.rules.as_deref().unwrap_or_default()));
        }
        // Support never reads Secrets.
        let support =
            cluster_roles.iter().find(|x| x.metadata.name.as_deref() == Some("autolabs-support")).unwrap();
        assert!(
            !support.rules.iter().flatten().any(|r| r.resources.iter().flatten().any(|x| x == "secrets"))
        );
    }
}

#[test]
fn provisioner_role_is_exactly_what_it_uses() {
    let r = render(&Platform::default());
    let roles: Vec<Role> = r.typed();
    let role = roles.iter().find(|x| x.metadata.name.as_deref() == Some(topology::PROVISIONER_SA)).unwrap();
    assert_eq!(role.metadata.namespace.as_deref(), Some("labs"));
    let got: BTreeSet<(String, String, String)> = role
        .rules
        .iter()
        .flatten()
        .flat_map(|r| {
            let groups = r.api_groups.clone().unwrap_or_default();
            let resources = r.resources.clone().unwrap_or_default();
            assert!(r.resource_names.is_none() && r.non_resource_urls.is_none());
            groups.into_iter().flat_map(move |g| {
                let verbs = r.verbs.clone();
                resources.clone().into_iter().flat_map(move |res| {
                    let g = g.clone();
                    verbs.clone().into_iter().map(move |v| (g.clone(), res.clone(), v))
                })
            })
        })
        .collect();
    let want: BTreeSet<(String, String, String)> = PROVISIONER_RULES
        .iter()
        .flat_map(|(g, res, verbs)| {
            verbs.iter().map(move |v| (g.to_string(), res.to_string(), v.to_string()))
        })
        .collect();
    assert_eq!(got, want);
    let kinds: BTreeSet<&str> = PROVISIONER_RULES.iter().map(|(_, r, _)| *r).collect();
    assert_eq!(
        kinds,
        BTreeSet::from(["pods", "services", "networkpolicies", "ingresses", "resourcequotas", "limitranges"])
    );
    // Read-only where it only reads.
    for (_, res, verbs) in PROVISIONER_RULES {
        if matches!(res, "resourcequotas" | "limitranges") {
            assert_eq!(verbs, ["get", "list", "watch"]);
        }
    }
    // Bound only in labs, to its ServiceAccount in platform; no ClusterRoleBinding names it.
    let bindings: Vec<RoleBinding> = r.typed();
    let b = bindings.iter().find(|b| b.role_ref.name == topology::PROVISIONER_SA).unwrap();
    assert_eq!(b.metadata.namespace.as_deref(), Some("labs"));
    let s = &b.subjects.as_ref().unwrap()[0];
    assert_eq!(
        (s.kind.as_str(), s.name.as_str(), s.namespace.as_deref()),
        ("ServiceAccount", topology::PROVISIONER_SA, Some("platform"))
    );
    assert!(
        !r.typed::<ClusterRoleBinding>()
            .iter()
            .flat_map(|c| c.subjects.iter().flatten())
            .any(|s| s.name == topology::PROVISIONER_SA)
    );
}

#[test]
fn every_flow_of_the_matrix_is_rendered_on_both_owned_sides() {
    let p = Platform::default();
    let r = render(&p);
    for flow in autolabs_model::isolation::flows(&p.spec) {
        if flow.from.namespace.as_deref().is_some_and(topology::is_platform_namespace) {
            assert!(
                r.find("NetworkPolicy", flow.from.namespace.as_deref(), &format!("{}-egress", flow.name))
                    .is_some(),
                "{} egress",
                flow.name
            );
        }
        if flow.to.namespace.as_deref().is_some_and(topology::is_platform_namespace) {
            assert!(
                r.find("NetworkPolicy", flow.to.namespace.as_deref(), &format!("{}-ingress", flow.name))
                    .is_some(),
                "{} ingress",
                flow.name
            );
        }
    }
}

#[test]
fn every_object_carries_the_ownership_labels() {
    for (_, r) in all() {
        for m in &r.manifests {
            let labels = &m.value["metadata"]["labels"];
            assert_eq!(labels["app.kubernetes.io/managed-by"], "autolabs", "{}", m.id());
            assert_eq!(labels["autolabs.io/platform"], "autolabs", "{}", m.id());
        }
    }
}

#[test]
fn starter_files_load_and_match_the_defaults() {
    for profile in Profile::ALL {
        for provider in Provider::ALL {
            let text = autolabs_model::init::starter(profile, provider);
            let loaded = autolabs_model::load_platform(&text, "platform.yaml")
                .unwrap_or_else(|e| panic!("{profile:?}/{provider:?}:\n{e}"));
            assert_eq!(
                render(&loaded),
                render(&Platform::for_profile(profile, provider)),
                "{profile:?}/{provider:?}"
            );
        }
    }
}
