//! The shipped templates (`/templates`) load against the default platform, and the bundle
//! `desired` builds from each has the properties the design document demands: a Pod that
//! Pod Security `restricted` admits and that fits the labs LimitRange, labels that identify
//! the lab but no student, a NetworkPolicy that admits only ingress-nginx on the lab's ports
//! and lets the lab out only to DNS (and the internet, private ranges excepted, when
//! allowed), an Ingress behind external auth, and ownership by the Pod.

use std::collections::BTreeMap;
use std::path::PathBuf;

use autolabs_k8s::{Quantity, Selector};
use autolabs_model::lab::{
    self, LabBundle, LabContext, LabRequest, LabTemplate, Templates, desired, load_templates,
};
use autolabs_model::topology::{
    INGRESS_CONTROLLER_LABELS, KUBE_DNS_LABELS, LAB_PRIORITY, NON_INTERNET_V4, NS_NAME_LABEL,
};
use autolabs_model::{Platform, render::internet_ip_block};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::networking::v1::{NetworkPolicyPeer, NetworkPolicyPort};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// 2026-11-25T19:00:00Z.
const NOW: u64 = 1_795_633_200;
const LAB_ID: &str = "a1b2c3d4";

fn templates_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../templates"))
}

fn shipped() -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(templates_dir())
        .expect("the repository ships a templates/ folder")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("readable template");
            (p.file_name().unwrap_or_default().to_string_lossy().into_owned(), text)
        })
        .collect();
    files.sort();
    files
}

fn shipped_templates(platform: &Platform) -> Templates {
    match load_templates(&shipped(), platform) {
        Ok(t) => t,
        Err(e) => panic!("shipped templates must load against the platform:\n{e}"),
    }
}

fn bundle(template: &LabTemplate, platform: &Platform) -> LabBundle {
    let request =
        LabRequest { id: LAB_ID.into(), template: template.metadata.name.clone(), ttl_seconds: None };
    desired(template, &request, &LabContext::new(platform, NOW)).expect("a valid request builds a bundle")
}

fn selector(sel: &Option<LabelSelector>) -> Selector {
    Selector::from_k8s(sel.as_ref().expect("selector present")).expect("valid selector")
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn every_shipped_template_loads_against_every_default_platform() {
    let files = shipped();
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    for want in ["linux-basics.yaml", "python-internet.yaml", "web-dev.yaml"] {
        assert!(names.contains(&want), "templates/ must ship {want}: {names:?}");
    }
    for profile in autolabs_model::Profile::ALL {
        for provider in autolabs_model::Provider::ALL {
            let platform = Platform::for_profile(profile, provider);
            let templates = shipped_templates(&platform);
            assert_eq!(templates.len(), files.len());
        }
    }
    let templates = shipped_templates(&Platform::default());
    assert!(templates.get("python-internet").is_ok_and(|t| t.spec.internet));
    assert!(templates.get("linux-basics").is_ok_and(|t| !t.spec.internet));
}

#[test]
fn lab_pods_meet_pod_security_restricted() {
    let platform = Platform::default();
    for template in shipped_templates(&platform).iter() {
        let pod = bundle(template, &platform).pod;
        let spec = pod.spec.as_ref().expect("pod spec");
        let psc = spec.security_context.as_ref().expect("pod securityContext");
        let name = template.name();
        // check_runAsNonRoot.go / check_runAsUser.go
        assert_eq!(psc.run_as_non_root, Some(true), "{name}");
        assert!(psc.run_as_user.is_some_and(|u| u != 0), "{name}");
        assert_eq!(psc.run_as_group, Some(1000), "{name}");
        assert_eq!(psc.fs_group, Some(1000), "{name}");
        // check_seccompProfile_restricted.go
        assert_eq!(psc.seccomp_profile.as_ref().map(|s| s.type_.as_str()), Some("RuntimeDefault"), "{name}");
        // check_hostNamespaces.go, check_hostPathVolumes.go, check_restrictedVolumes.go
        assert_ne!(spec.host_network, Some(true));
        assert_ne!(spec.host_pid, Some(true));
        assert_ne!(spec.host_ipc, Some(true));
        for volume in spec.volumes.iter().flatten() {
            let dir = volume.empty_dir.as_ref().expect("only emptyDir volumes");
            assert!(dir.size_limit.is_some(), "{name}: emptyDir {} has a sizeLimit", volume.name);
            assert!(volume.host_path.is_none());
        }
        assert!(spec.init_containers.is_none() && spec.ephemeral_containers.is_none());
        assert_eq!(spec.containers.len(), 1);
        let c = &spec.containers[0];
        let sc = c.security_context.as_ref().expect("container securityContext");
        // check_allowPrivilegeEscalation.go
        assert_eq!(sc.allow_privilege_escalation, Some(false), "{name}");
        // check_capabilities_restricted.go
        let caps = sc.capabilities.as_ref().expect("capabilities");
        assert_eq!(caps.drop.as_deref(), Some(&["ALL".to_string()][..]), "{name}");
        assert!(caps.add.is_none(), "{name}");
        assert_ne!(sc.privileged, Some(true));
        assert_eq!(sc.run_as_non_root, Some(true));
        assert_eq!(sc.read_only_root_filesystem, Some(template.spec.read_only_root_filesystem));
        // check_hostPorts.go
        assert!(c.ports.iter().flatten().all(|p| p.host_port.is_none()));
        // /tmp and every writable path are mounted.
        let mounts: Vec<&str> = c.volume_mounts.iter().flatten().map(|m| m.mount_path.as_str()).collect();
        assert!(mounts.contains(&"/tmp"), "{name}");
        for w in &template.spec.writable_paths {
            assert!(mounts.contains(&w.path.as_str()), "{name}: {}", w.path);
        }
    }
}

#[test]
fn lab_pods_carry_no_token_priority_and_fit_the_limit_range() {
    let platform = Platform::default();
    let labs = &platform.spec.labs;
    for template in shipped_templates(&platform).iter() {
        let pod = bundle(template, &platform).pod;
        let spec = pod.spec.as_ref().expect("pod spec");
        let name = template.name();
        assert_eq!(pod.metadata.namespace.as_deref(), Some("labs"));
        assert_eq!(pod.metadata.name.as_deref(), Some("lab-a1b2c3d4"));
        assert_eq!(spec.automount_service_account_token, Some(false), "{name}");
        assert_eq!(spec.enable_service_links, Some(false), "{name}");
        assert_eq!(spec.priority_class_name.as_deref(), Some(LAB_PRIORITY), "{name}");
        assert_eq!(spec.restart_policy.as_deref(), Some("Always"), "{name}");
        assert!(spec.termination_grace_period_seconds.is_some_and(|s| (0..=30).contains(&s)), "{name}");
        let c = &spec.containers[0];
        assert_eq!(c.image.as_deref(), Some(template.spec.image.as_str()));
        let res = c.resources.as_ref().expect("resources");
        for (resource, min, max) in
            [("cpu", labs.min.cpu.0, labs.max.cpu.0), ("memory", labs.min.memory.0, labs.max.memory.0)]
        {
            let get =
                |m: &Option<BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>| {
                    let k = m.as_ref().and_then(|m| m.get(resource)).expect("set explicitly");
                    Quantity::try_from(k).expect("parsable")
                };
            let (req, lim) = (get(&res.requests), get(&res.limits));
            assert!(
                min <= req && req <= lim && lim <= max,
                "{name} {resource}: {min} ≤ {req} ≤ {lim} ≤ {max}"
            );
        }
        // The probe names a declared port.
        if let Some(probe) = &c.readiness_probe {
            let port = probe
                .http_get
                .as_ref()
                .map(|h| h.port.clone())
                .or_else(|| probe.tcp_socket.as_ref().map(|t| t.port.clone()))
                .expect("http or tcp probe");
            let IntOrString::String(port) = port else { panic!("{name}: probes use port names") };
            assert!(c.ports.iter().flatten().any(|p| p.name.as_deref() == Some(port.as_str())));
        }
    }
}

#[test]
fn labels_and_annotations_identify_the_lab_and_nothing_else() {
    let platform = Platform::default();
    for template in shipped_templates(&platform).iter() {
        let b = bundle(template, &platform);
        let mut want = labels(&[
            ("app.kubernetes.io/managed-by", "autolabs"),
            ("autolabs.io/lab-id", LAB_ID),
            ("autolabs.io/template", template.name()),
        ]);
        if template.spec.internet {
            want.insert("autolabs.io/internet".into(), "true".into());
        }
        for (kind, meta) in [
            ("Pod", &b.pod.metadata),
            ("Service", &b.service.metadata),
            ("NetworkPolicy", &b.network_policy.metadata),
            ("Ingress", &b.ingress.metadata),
        ] {
            assert_eq!(meta.labels.as_ref(), Some(&want), "{} {kind}", template.name());
            assert_eq!(meta.namespace.as_deref(), Some("labs"));
            assert_eq!(meta.name.as_deref(), Some("lab-a1b2c3d4"));
            // Not part of the rendered baseline: `apply --prune` must never see lab objects.
            assert!(!meta.labels.as_ref().is_some_and(|l| l.contains_key("autolabs.io/platform")));
        }
        let annotations = b.pod.metadata.annotations.as_ref().expect("annotations");
        let keys: Vec<&str> = annotations.keys().map(String::as_str).collect();
        assert_eq!(keys, ["autolabs.io/created-at", "autolabs.io/expires-at", "autolabs.io/ttl-seconds"]);
        let ttl = template.spec.ttl.default.seconds();
        assert_eq!(annotations["autolabs.io/created-at"], "2026-11-25T19:00:00Z");
        assert_eq!(lab::parse_rfc3339(&annotations["autolabs.io/expires-at"]), Some(NOW + ttl));
        assert_eq!(annotations["autolabs.io/ttl-seconds"], ttl.to_string());
    }
}

#[test]
fn the_service_selects_exactly_this_lab_on_the_template_ports() {
    let platform = Platform::default();
    for template in shipped_templates(&platform).iter() {
        let b = bundle(template, &platform);
        let spec = b.service.spec.as_ref().expect("service spec");
        assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));
        let sel = Selector::from_labels(spec.selector.clone().expect("selector"));
        assert!(sel.matches(b.pod.metadata.labels.as_ref().expect("labels")));
        let other = labels(&[("app.kubernetes.io/managed-by", "autolabs"), ("autolabs.io/lab-id", "other")]);
        assert!(!sel.matches(&other));
        let ports = spec.ports.as_ref().expect("ports");
        assert_eq!(ports.len(), template.spec.ports.len());
        for (sp, tp) in ports.iter().zip(&template.spec.ports) {
            assert_eq!(sp.name.as_deref(), Some(tp.name.as_str()));
            assert_eq!(sp.port, i32::from(tp.port));
            assert_eq!(sp.target_port, Some(IntOrString::String(tp.name.clone())));
        }
    }
}

fn is_controller_peer(peer: &NetworkPolicyPeer) -> bool {
    peer.ip_block.is_none()
        && peer.namespace_selector.as_ref().and_then(|s| s.match_labels.clone())
            == Some(labels(&[(NS_NAME_LABEL, "ingress-nginx")]))
        && peer.pod_selector.as_ref().and_then(|s| s.match_labels.clone())
            == Some(labels(&INGRESS_CONTROLLER_LABELS))
}

fn tcp_udp(ports: &Option<Vec<NetworkPolicyPort>>) -> Vec<(String, i32)> {
    ports
        .iter()
        .flatten()
        .map(|p| {
            assert!(p.end_port.is_none());
            let Some(IntOrString::Int(n)) = p.port else { panic!("numeric ports") };
            (p.protocol.clone().unwrap_or_else(|| "TCP".into()), n)
        })
        .collect()
}

#[test]
fn the_network_policy_admits_only_ingress_nginx_and_lets_out_only_dns_and_allowed_internet() {
    let platform = Platform::default();
    for template in shipped_templates(&platform).iter() {
        let b = bundle(template, &platform);
        let name = template.name();
        let spec = b.network_policy.spec.as_ref().expect("policy spec");
        let pod_labels = b.pod.metadata.labels.as_ref().expect("labels");
        assert!(selector(&spec.pod_selector).matches(pod_labels), "{name}: selects its pod");
        let other = labels(&[("app.kubernetes.io/managed-by", "autolabs"), ("autolabs.io/lab-id", "other")]);
        assert!(!selector(&spec.pod_selector).matches(&other), "{name}: only its pod");
        assert_eq!(spec.policy_types.as_deref(), Some(&["Ingress".to_string(), "Egress".to_string()][..]));

        // Ingress: one rule, one peer (namespace AND pods), the lab's ports only.
        let ingress = spec.ingress.as_ref().expect("ingress rules");
        assert_eq!(ingress.len(), 1, "{name}");
        let from = ingress[0].from.as_ref().expect("from");
        assert_eq!(from.len(), 1, "{name}: a single peer (AND), not two (OR)");
        assert!(is_controller_peer(&from[0]), "{name}: {from:?}");
        let want: Vec<(String, i32)> = template
            .spec
            .ports
            .iter()
            .map(|p| (p.protocol.as_str().to_string(), i32::from(p.port)))
            .collect();
        assert_eq!(tcp_udp(&ingress[0].ports), want, "{name}");

        // Egress: DNS to kube-dns, plus the internet on 80/443 when the template allows.
        let egress = spec.egress.as_ref().expect("egress rules");
        assert_eq!(egress.len(), if template.spec.internet { 2 } else { 1 }, "{name}");
        let dns_to = egress[0].to.as_ref().expect("dns peers");
        assert_eq!(dns_to.len(), 1);
        assert_eq!(
            dns_to[0].namespace_selector.as_ref().and_then(|s| s.match_labels.clone()),
            Some(labels(&[(NS_NAME_LABEL, "kube-system")]))
        );
        assert_eq!(
            dns_to[0].pod_selector.as_ref().and_then(|s| s.match_labels.clone()),
            Some(labels(&KUBE_DNS_LABELS))
        );
        assert_eq!(tcp_udp(&egress[0].ports), [("UDP".to_string(), 53), ("TCP".to_string(), 53)]);
        if template.spec.internet {
            let to = egress[1].to.as_ref().expect("internet peer");
            assert_eq!(to.len(), 1);
            assert!(to[0].namespace_selector.is_none() && to[0].pod_selector.is_none());
            let block = to[0].ip_block.as_ref().expect("ipBlock");
            assert_eq!(block, &internet_ip_block(&platform.spec.network));
            assert_eq!(block.cidr, "0.0.0.0/0");
            let except = block.except.as_ref().expect("except");
            for private in NON_INTERNET_V4 {
                assert!(except.iter().any(|e| e == private), "{name}: {private} excepted");
            }
            assert_eq!(tcp_udp(&egress[1].ports), [("TCP".to_string(), 80), ("TCP".to_string(), 443)]);
        }
    }
}

#[test]
fn the_ingress_routes_the_lab_host_through_external_auth() {
    let platform = Platform::default();
    for template in shipped_templates(&platform).iter() {
        let b = bundle(template, &platform);
        let name = template.name();
        let spec = b.ingress.spec.as_ref().expect("ingress spec");
        assert_eq!(spec.ingress_class_name.as_deref(), Some("nginx"));
        let host = "a1b2c3d4.labs.autolabs.example.com";
        let rules = spec.rules.as_ref().expect("rules");
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].host.as_deref(), Some(host));
        let paths = &rules[0].http.as_ref().expect("http").paths;
        assert_eq!(paths.len(), 1);
        assert_eq!(paths[0].path.as_deref(), Some("/"));
        assert_eq!(paths[0].path_type, "Prefix");
        let backend = paths[0].backend.service.as_ref().expect("service backend");
        assert_eq!(backend.name, "lab-a1b2c3d4");
        let first = template.first_port().expect("a port");
        assert_eq!(backend.port.as_ref().and_then(|p| p.name.as_deref()), Some(first.name.as_str()));
        let tls = spec.tls.as_ref().expect("tls");
        assert_eq!(tls[0].hosts.as_deref(), Some(&[host.to_string()][..]));
        assert_eq!(tls[0].secret_name.as_deref(), Some("labs-wildcard-tls"));

        let a = b.ingress.metadata.annotations.as_ref().expect("annotations");
        let auth_url = &a["nginx.ingress.kubernetes.io/auth-url"];
        assert_eq!(
            auth_url,
            "http://backend-platform.platform.svc.cluster.local:8000/internal/labs/auth?lab=a1b2c3d4",
            "{name}"
        );
        assert!(
            a["nginx.ingress.kubernetes.io/auth-signin"]
                .starts_with("https://autolabs.example.com/login?rd=")
        );
        assert_eq!(a["nginx.ingress.kubernetes.io/auth-response-headers"], "X-Autolabs-User");
        assert_eq!(a["nginx.ingress.kubernetes.io/proxy-read-timeout"], "3600");
        assert_eq!(a["nginx.ingress.kubernetes.io/proxy-send-timeout"], "3600");
    }
}

#[test]
fn an_auth_url_with_a_query_gets_the_lab_appended() {
    let platform = Platform::default();
    let templates = shipped_templates(&platform);
    let template = templates.get("linux-basics").expect("shipped");
    let mut ctx = LabContext::new(&platform, NOW);
    ctx.auth_url = "https://api.example.com/auth?v=2".into();
    ctx.ingress_class = "nginx-labs".into();
    let request = LabRequest { id: "x1".into(), template: "linux-basics".into(), ttl_seconds: Some(600) };
    let b = desired(template, &request, &ctx).expect("bundle");
    let a = b.ingress.metadata.annotations.as_ref().expect("annotations");
    assert_eq!(a["nginx.ingress.kubernetes.io/auth-url"], "https://api.example.com/auth?v=2&lab=x1");
    assert_eq!(b.ingress.spec.and_then(|s| s.ingress_class_name).as_deref(), Some("nginx-labs"));
    assert_eq!(lab::expires_at(&b.pod), Some(NOW + 600));
}

#[test]
fn owned_by_makes_the_pod_the_controller_of_the_other_objects() {
    let platform = Platform::default();
    for template in shipped_templates(&platform).iter() {
        let mut b = bundle(template, &platform);
        assert!(b.service.metadata.owner_references.is_none());
        b.owned_by("lab-a1b2c3d4", "0b5e3c3a-7d1e-4d5b-9a66-6f1c0c2b9f10");
        assert!(b.pod.metadata.owner_references.is_none(), "the Pod owns, it is not owned");
        for meta in [&b.service.metadata, &b.network_policy.metadata, &b.ingress.metadata] {
            let refs = meta.owner_references.as_ref().expect("owner references");
            assert_eq!(refs.len(), 1);
            let r = &refs[0];
            assert_eq!((r.api_version.as_str(), r.kind.as_str()), ("v1", "Pod"));
            assert_eq!(r.name, "lab-a1b2c3d4");
            assert_eq!(r.uid, "0b5e3c3a-7d1e-4d5b-9a66-6f1c0c2b9f10");
            assert_eq!((r.controller, r.block_owner_deletion), (Some(true), Some(true)));
        }
        // Twice is the same as once (idempotent).
        let once = b.clone();
        b.owned_by("lab-a1b2c3d4", "0b5e3c3a-7d1e-4d5b-9a66-6f1c0c2b9f10");
        assert_eq!(b, once);
    }
}

#[test]
fn manifests_are_the_four_objects_in_creation_order() {
    let platform = Platform::default();
    let templates = shipped_templates(&platform);
    let b = bundle(templates.get("python-internet").expect("shipped"), &platform);
    let m = b.manifests();
    let kinds: Vec<(&str, &str)> = m.iter().map(|m| (m.api_version.as_str(), m.kind.as_str())).collect();
    assert_eq!(
        kinds,
        [
            ("v1", "Pod"),
            ("v1", "Service"),
            ("networking.k8s.io/v1", "NetworkPolicy"),
            ("networking.k8s.io/v1", "Ingress")
        ]
    );
    for manifest in &m {
        assert_eq!(manifest.namespace.as_deref(), Some("labs"));
        assert_eq!(manifest.value["apiVersion"], manifest.api_version.as_str());
        assert_eq!(manifest.value["kind"], manifest.kind.as_str());
    }
    let pod: Pod = serde_json::from_value(m[0].value.clone()).expect("round-trips");
    assert_eq!(pod, b.pod);
}

#[test]
fn desired_is_deterministic() {
    let platform = Platform::default();
    for template in shipped_templates(&platform).iter() {
        assert_eq!(bundle(template, &platform), bundle(template, &platform));
    }
}
