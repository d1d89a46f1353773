//! verify over whole inputs: the rendered baseline is clean, the design document's own YAML
//! is not, and the intent proof catches each classic NetworkPolicy mistake.

use autolabs_model::Platform;
use autolabs_verify::engines;
use autolabs_verify::intent::{Intent, prove};
use autolabs_verify::{Finding, ObjectSet, Severity};

mod support;
use support::rendered;

fn all_findings(set: &ObjectSet, p: Option<&Platform>) -> Vec<Finding> {
    let mut f = engines::pss::check(set, Default::default());
    f.extend(engines::resources::check(set, &[]));
    f.extend(engines::rbac::check(set, &Default::default()));
    match p {
        Some(p) => f.extend(prove(set, &Intent::of_platform(p)).findings),
        None => f.extend(engines::netpol::check(set)),
    }
    f
}

fn errors(f: &[Finding]) -> Vec<String> {
    f.iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| format!("[{}/{}] {}", f.engine, f.rule, f.message))
        .collect()
}

#[test]
fn the_rendered_baseline_has_no_errors_for_any_profile_and_provider() {
    for profile in autolabs_model::Profile::ALL {
        for provider in autolabs_model::Provider::ALL {
            let p = Platform::for_profile(profile, provider);
            let set = rendered(&p);
            assert!(set.errors.is_empty(), "{:?}", set.errors);
            let e = errors(&all_findings(&set, Some(&p)));
            assert!(e.is_empty(), "{profile:?}/{provider:?}:\n{}", e.join("\n"));
        }
    }
}

#[test]
fn the_opt_in_probe_rbac_adds_no_error_and_only_the_pod_creation_it_needs() {
    let mut p = Platform::default();
    p.spec.probe.enabled = true;
    let set = rendered(&p);
    assert!(set.errors.is_empty(), "{:?}", set.errors);
    let findings = all_findings(&set, Some(&p));
    let e = errors(&findings);
    assert!(e.is_empty(), "{}", e.join("\n"));
    let probe: Vec<&Finding> =
        findings.iter().filter(|f| f.engine == "rbac" && f.message.contains("autolabs-probe")).collect();
    assert!(!probe.is_empty(), "pod creation in the matrix's namespaces is reported");
    for f in probe {
        // Creating probe pods lets it run pods as each namespace's ServiceAccounts: said, and
        // nothing else (no Secrets, exec, RBAC, wildcards).
        assert_eq!((f.rule.as_str(), f.severity), ("workloads-create", Severity::Warning), "{}", f.message);
    }
}

#[test]
fn the_design_documents_yaml_is_reported_with_numbers() {
    let text = include_str!("fixtures/design-document.yaml");
    let mut set = ObjectSet::default();
    set.add_text(text, "design-document.yaml");
    assert!(set.errors.is_empty());
    let findings = all_findings(&set, None);
    let has = |engine: &str, rule: &str, needle: &str| {
        findings.iter().any(|f| f.engine == engine && f.rule == rule && f.message.contains(needle))
    };
    let dump = findings
        .iter()
        .map(|f| format!("[{}/{}] {} {:?}", f.engine, f.rule, f.message, f.location()))
        .collect::<Vec<_>>()
        .join("\n");
    // The lab Pod without securityContext, in a restricted namespace.
    assert!(has("pss", "runAsNonRoot", "restricted"), "{dump}");
    assert!(has("pss", "allowPrivilegeEscalation", "container \"lab\""), "{dump}");
    // Its 2 CPU limit against the LimitRange max of 1.
    assert!(
        has("resources", "limitrange-rejects", "maximum cpu usage per Container is 1, but limit is 2"),
        "{dump}"
    );
    // A quota on requests.cpu in platform with no LimitRange: the backend's pods are refused.
    assert!(
        findings.iter().any(|f| f.engine == "resources"
            && f.message.contains("requests.cpu")
            && f.message.contains("platform")),
        "{dump}"
    );
    // Namespaces without default deny.
    assert!(
        has("netpol", "no-default-deny", "\"platform\"")
            || has("netpol", "no-default-deny", "\"infrastructure\""),
        "{dump}"
    );
    // DNS selected by a label Kubernetes never sets: blocked for lab pods.
    assert!(has("netpol", "dns-blocked", "labs/student-lab-1"), "{dump}");
    // Every finding about an object names its file and line.
    for f in findings.iter().filter(|f| f.object.is_some()) {
        assert!(f.line.is_some_and(|l| l > 0), "no line: {f:?}");
    }
}

fn without(set: &ObjectSet, kind: &str, name: &str) -> ObjectSet {
    let mut s = set.clone();
    s.objects.retain(|o| !(o.kind == kind && o.name == name));
    s
}

fn with_yaml(set: &ObjectSet, yaml: &str) -> ObjectSet {
    let mut s = set.clone();
    s.add_text(yaml, "extra.yaml");
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    s
}

#[test]
fn a_missing_policy_blocks_an_intended_flow() {
    let p = Platform::default();
    let set = without(&rendered(&p), "NetworkPolicy", "backend-to-postgres-ingress");
    let e = errors(&prove(&set, &Intent::of_platform(&p)).findings);
    assert!(
        e.iter().any(|m| m.contains("intended-flow-blocked")
            && m.contains("backend-to-postgres")
            && m.contains("TCP 5432")
            && m.contains("infrastructure/default-deny-all")),
        "{e:#?}"
    );
}

#[test]
fn an_extra_allow_is_an_unintended_flow_with_a_counter_example() {
    let p = Platform::default();
    let set = with_yaml(
        &rendered(&p),
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: oops, namespace: infrastructure}\nspec:\n  podSelector: {}\n  ingress:\n  - {}\n",
    );
    let e = errors(&prove(&set, &Intent::of_platform(&p)).findings);
    assert!(
        e.iter().any(|m| m.contains("unintended-flow") && m.contains("infrastructure/oops spec.ingress[0]")),
        "{e:#?}"
    );
}

#[test]
fn or_instead_of_and_is_caught() {
    // The document's mistake: namespaceSelector and podSelector as two peers (OR). With
    // default deny on both sides it is latent; once some platform pod may send anywhere (a
    // debug pod with an allow-all egress policy), the proof shows the counter-example
    // through the OR peer — and not with the correct AND peer.
    let p = Platform::default();
    let debug = "apiVersion: v1\nkind: Pod\nmetadata: {name: debug, namespace: platform, labels: {app: debug}}\nspec: {containers: [{name: c, image: i}]}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: debug-egress, namespace: platform}\nspec:\n  podSelector: {matchLabels: {app: debug}}\n  policyTypes: [Egress]\n  egress: [{}]\n";
    let base = with_yaml(&rendered(&p), debug);
    let or_policy = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: backend-to-postgres-ingress, namespace: infrastructure}\nspec:\n  podSelector: {matchLabels: {app: postgres}}\n  policyTypes: [Ingress]\n  ingress:\n  - from:\n    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: platform}}\n    - podSelector: {matchLabels: {app: backend-platform}}\n    ports: [{port: 5432}]\n";
    let with_or = with_yaml(&without(&base, "NetworkPolicy", "backend-to-postgres-ingress"), or_policy);
    let through_postgres_rule = |set: &ObjectSet| {
        errors(&prove(set, &Intent::of_platform(&p)).findings)
            .into_iter()
            .filter(|m| {
                m.contains("unintended-flow")
                    && m.contains("infrastructure/backend-to-postgres-ingress spec.ingress[0]")
            })
            .collect::<Vec<_>>()
    };
    assert!(through_postgres_rule(&base).is_empty(), "AND peers admit only the backend");
    let found = through_postgres_rule(&with_or);
    assert!(
        found
            .iter()
            .any(|m| m.contains("platform/debug → infrastructure/StatefulSet/postgres")
                && m.contains("TCP 5432")),
        "{found:#?}"
    );
}

#[test]
fn labs_cannot_reach_each_other_or_the_platform() {
    let p = Platform::default();
    let set = with_yaml(
        &rendered(&p),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: lab-a, namespace: labs, labels: {app.kubernetes.io/managed-by: autolabs, autolabs.io/lab-id: a}}\nspec: {containers: [{name: c, image: i}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: lab-b, namespace: labs, labels: {app.kubernetes.io/managed-by: autolabs, autolabs.io/lab-id: b}}\nspec: {containers: [{name: c, image: i}]}\n",
    );
    let (analysis, built) = engines::netpol::analyse(&set, Default::default());
    let a = analysis.unwrap();
    // The only remark is the hostNetwork etcd-snapshot CronJob's treatment.
    let remarks: Vec<&str> = built.problems.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(remarks, ["host-network"], "{:#?}", built.problems);
    let id = |n: &str| a.pod_id("labs", n).unwrap();
    let from = autolabs_netpol::Endpoint::Pod(id("lab-a"));
    let to = autolabs_netpol::Endpoint::Pod(id("lab-b"));
    assert!(a.allowed(from, to).is_empty());
    let backend =
        autolabs_netpol::Endpoint::Pod(a.pod_id("platform", "Deployment/backend-platform").unwrap());
    assert!(a.allowed(from, backend).is_empty());
    assert!(prove(&set, &Intent::of_platform(&p)).findings.iter().all(|f| f.severity != Severity::Error));
}

#[test]
fn the_design_documents_policies_break_and_open_flows_with_the_rule_at_fault() {
    // The document's NetworkPolicies and namespaces (the API server labels every namespace
    // with kubernetes.io/metadata.name; ObjectSet adds it), with our workloads running in them.
    let p = Platform::default();
    let mut set = rendered(&p);
    set.objects.retain(|o| o.kind != "NetworkPolicy" && o.kind != "Namespace");
    set.add_text(include_str!("fixtures/design-document.yaml"), "design-document.yaml");
    set.objects
        .retain(|o| !(o.kind == "Pod" || (o.kind == "Deployment" && o.file == "design-document.yaml")));
    let findings = prove(&set, &Intent::of_platform(&p)).findings;
    let e = errors(&findings);
    let dump = e.join("\n");
    // Broken: ingress-nginx cannot reach the backend (the document selects `name: ingress-nginx`,
    // a label Kubernetes never sets), and the backend cannot reach PostgreSQL (two OR peers that
    // match nothing), each naming the policy that isolates without a matching rule.
    assert!(
        e.iter()
            .any(|m| m.contains("flow \"ingress-to-backend\"")
                && m.contains("platform/backend-platform-netpol")),
        "{dump}"
    );
    assert!(
        e.iter()
            .any(|m| m.contains("flow \"backend-to-postgres\"")
                && m.contains("platform/backend-platform-netpol")),
        "{dump}"
    );
    // DNS from labs is broken too (UDP only, and to a namespace label that does not exist).
    assert!(e.iter().any(|m| m.contains("flow \"labs-dns\"") && m.contains("labs/allow-dns")), "{dump}");
    // Too open: infrastructure has no policy at all, so anything reaches PostgreSQL.
    assert!(
        e.iter().any(|m| m.contains("unintended-flow")
            && m.contains("infrastructure/StatefulSet/postgres")
            && m.contains("no policy isolates")),
        "{dump}"
    );
}

/// The provisioner's Deployment, in every profile and provider: Pod Security `restricted` at
/// the newest policy version (not only at the namespace's pin), read-only root, the image's
/// numeric non-root user, the bearer token from a Secret, and the image from platform.yaml.
#[test]
fn the_provisioner_runs_restricted_read_only_non_root_with_its_token_from_a_secret() {
    use autolabs_k8s::k8s::Deployment;
    for profile in autolabs_model::Profile::ALL {
        for provider in autolabs_model::Provider::ALL {
            let mut p = Platform::for_profile(profile, provider);
            p.spec.provisioner.image = Some("registry.example/autolabs:0.2.0".into());
            let set = rendered(&p);
            let o = set
                .objects
                .iter()
                .find(|o| o.kind == "Deployment" && o.name == "autolabs-provisioner")
                .expect("the provisioner is rendered");
            let d: Deployment = o.typed().unwrap();
            let template = d.spec.unwrap().template;
            let restricted = autolabs_pss::LevelVersion::new(
                autolabs_pss::Level::Restricted,
                autolabs_pss::Version::Latest,
            );
            let violations = autolabs_pss::evaluate_template(&template, restricted);
            assert!(violations.is_empty(), "{profile:?}/{provider:?}: {violations:?}");
            let spec = template.spec.unwrap();
            let pod = spec.security_context.unwrap();
            assert_eq!(pod.run_as_user, Some(65532), "the Containerfile's numeric user");
            assert_eq!(pod.run_as_non_root, Some(true));
            let c = &spec.containers[0];
            assert_eq!(c.image.as_deref(), Some("registry.example/autolabs:0.2.0"));
            let sc = c.security_context.as_ref().unwrap();
            assert_eq!(sc.read_only_root_filesystem, Some(true));
            assert_eq!(sc.allow_privilege_escalation, Some(false));
            let token = c.env.iter().flatten().find(|e| e.name == "AUTOLABS_API_TOKEN").unwrap();
            let secret = token.value_from.as_ref().and_then(|v| v.secret_key_ref.as_ref()).unwrap();
            assert_eq!((secret.name.as_str(), secret.key.as_str()), ("autolabs-provisioner", "api-token"));
            assert!(token.value.is_none(), "never the token itself in the manifest");
        }
    }
}
