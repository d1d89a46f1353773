//! Checks for baselines we did not render (issue 14): Pod Security labels of namespaces that
//! run workloads, backup jobs that cannot produce a backup, variables nothing sets, quotas no
//! node can satisfy, and the RBAC that well-known components need.

use autolabs_verify::engines;
use autolabs_verify::{Finding, ObjectSet, Severity};

mod support;
use support::{rendered, set_of};

fn design_document() -> ObjectSet {
    set_of(include_str!("fixtures/design-document.yaml"))
}

fn dump(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|f| {
            format!("[{}/{} {}] {} {:?}", f.engine, f.rule, f.severity.as_str(), f.message, f.location())
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The findings of `rule`, as (severity, message).
fn of_rule<'a>(findings: &'a [Finding], rule: &str) -> Vec<&'a Finding> {
    findings.iter().filter(|f| f.rule == rule).collect()
}

// ---------------------------------------------------------------------------------------
// 1. Pod Security labels
// ---------------------------------------------------------------------------------------

#[test]
fn the_design_documents_namespaces_are_flagged_for_their_pod_security_labels() {
    let findings = engines::pss::namespace_label_findings(&design_document());
    let all = dump(&findings);
    // platform runs backend-platform and has no labels at all.
    let no_enforce = of_rule(&findings, "namespace-no-enforce");
    assert_eq!(no_enforce.len(), 1, "{all}");
    assert_eq!(no_enforce[0].severity, Severity::Warning);
    assert!(
        no_enforce[0].message.contains("\"platform\"")
            && no_enforce[0].message.contains("Deployment/backend-platform"),
        "{all}"
    );
    assert!(no_enforce[0].message.contains("privileged"), "{all}");
    assert_eq!(no_enforce[0].location().as_deref(), Some("input.yaml:17"), "{all}");
    // labs enforces restricted with no version.
    let unpinned = of_rule(&findings, "namespace-enforce-unpinned");
    assert_eq!(unpinned.len(), 1, "{all}");
    assert!(
        unpinned[0].message.contains("\"labs\"") && unpinned[0].message.contains("Pod/student-lab-1"),
        "{all}"
    );
    // infrastructure runs nothing: not reported.
    assert!(!all.contains("\"infrastructure\""), "{all}");
    // labs has warn and audit.
    assert!(of_rule(&findings, "namespace-no-warn-audit").is_empty(), "{all}");
}

/// (rule, severity) of each finding a case expects, in order.
type Expected = &'static [(&'static str, Severity)];

#[test]
fn pod_security_label_rules_each_fire_only_on_their_condition() {
    let workload = |ns: &str| {
        format!(
            "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: app, namespace: {ns}}}\nspec:\n  selector: {{matchLabels: {{a: b}}}}\n  template:\n    metadata: {{labels: {{a: b}}}}\n    spec: {{containers: [{{name: c, image: i}}]}}\n"
        )
    };
    let ns = |name: &str, labels: &str| {
        format!("---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: {name}, labels: {{{labels}}}}}\n")
    };
    let full = "pod-security.kubernetes.io/enforce: baseline, pod-security.kubernetes.io/enforce-version: v1.32, pod-security.kubernetes.io/warn: restricted, pod-security.kubernetes.io/audit: restricted";
    let cases: [(&str, String, Expected); 6] = [
        ("fully labelled", ns("a", full) + &workload("a"), &[]),
        ("no workloads", ns("a", ""), &[]),
        ("no labels", ns("a", "") + &workload("a"), &[("namespace-no-enforce", Severity::Warning)]),
        (
            "unpinned, no warn",
            ns(
                "a",
                "pod-security.kubernetes.io/enforce: restricted, pod-security.kubernetes.io/audit: restricted",
            ) + &workload("a"),
            &[("namespace-enforce-unpinned", Severity::Warning), ("namespace-no-warn-audit", Severity::Info)],
        ),
        (
            "privileged on purpose needs no version",
            ns(
                "a",
                "pod-security.kubernetes.io/enforce: privileged, pod-security.kubernetes.io/warn: baseline, pod-security.kubernetes.io/audit: baseline",
            ) + &workload("a"),
            &[],
        ),
        (
            "kube-system unlabelled",
            ns("kube-system", "") + &workload("kube-system"),
            &[("namespace-enforce-unstated", Severity::Info)],
        ),
    ];
    for (name, yaml, expected) in cases {
        let findings = engines::pss::namespace_label_findings(&set_of(&yaml));
        let got: Vec<(&str, Severity)> = findings.iter().map(|f| (f.rule.as_str(), f.severity)).collect();
        assert_eq!(got, expected, "{name}:\n{}", dump(&findings));
    }
}

#[test]
fn a_namespace_the_inputs_do_not_define_is_noted_once() {
    let yaml = "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: elsewhere}\nspec: {containers: [{name: c, image: i}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: elsewhere}\nspec: {containers: [{name: c, image: i}]}\n";
    let findings = engines::pss::check(&set_of(yaml), Default::default());
    let notes = of_rule(&findings, "namespace-not-supplied");
    assert_eq!(notes.len(), 1, "{}", dump(&findings));
    assert_eq!(notes[0].severity, Severity::Info);
    assert!(
        notes[0].message.contains("\"elsewhere\"") && notes[0].message.contains("unknown"),
        "{}",
        dump(&findings)
    );
}

// ---------------------------------------------------------------------------------------
// 2. Backup jobs that cannot produce a backup; variables nothing sets
// ---------------------------------------------------------------------------------------

const DOCUMENT_BACKUP: &str = include_str!("fixtures/design-document-backup.yaml");

fn backup_and_hygiene(set: &ObjectSet) -> Vec<Finding> {
    let mut f = engines::backup::check(set, Default::default());
    f.extend(engines::hygiene::check(set).into_iter().filter(|f| f.rule == "unset-variable"));
    f
}

#[test]
fn the_design_documents_backup_job_cannot_produce_a_backup() {
    let findings = backup_and_hygiene(&set_of(DOCUMENT_BACKUP));
    let all = dump(&findings);
    let path = of_rule(&findings, "write-path-without-volume");
    assert_eq!(path.len(), 1, "{all}");
    assert_eq!(path[0].severity, Severity::Error);
    assert!(
        path[0].message.contains("/backup/")
            && path[0].message.contains("infrastructure/CronJob/postgres-backup"),
        "{all}"
    );
    let unset = of_rule(&findings, "unset-variable");
    assert_eq!(unset.len(), 1, "{all}");
    assert_eq!(unset[0].severity, Severity::Warning);
    assert!(unset[0].message.contains("$DATABASE_URL") && unset[0].message.contains("empty string"), "{all}");
    // `$(date +…)` is a command substitution, not a variable.
    assert!(!all.contains("$(date"), "{all}");
    let root = of_rule(&findings, "backup-runs-as-root");
    assert_eq!(root.len(), 1, "{all}");
    assert!(root[0].message.contains("may run as root") && root[0].message.contains("postgres:14"), "{all}");
    assert_eq!(root[0].location().as_deref(), Some("input.yaml:29"), "{all}");
}

#[test]
fn the_backup_job_fixed_has_none_of_those_findings() {
    let fixed = DOCUMENT_BACKUP
        .replace(
            "          restartPolicy: OnFailure",
            "          restartPolicy: OnFailure\n          securityContext: {runAsNonRoot: true, runAsUser: 999}\n          volumes: [{name: backups, persistentVolumeClaim: {claimName: postgres-backups}}]",
        )
        .replace(
            "            image: postgres:14\n",
            "            image: postgres:14\n            env: [{name: DATABASE_URL, valueFrom: {secretKeyRef: {name: db, key: url}}}]\n            volumeMounts: [{name: backups, mountPath: /backup}]\n",
        );
    let findings = backup_and_hygiene(&set_of(&fixed));
    for rule in
        ["write-path-without-volume", "unset-variable", "backup-runs-as-root", "backup-without-storage"]
    {
        assert!(of_rule(&findings, rule).is_empty(), "{rule}:\n{}", dump(&findings));
    }
    let as_root = fixed.replace("runAsNonRoot: true, runAsUser: 999", "runAsUser: 0");
    let findings = backup_and_hygiene(&set_of(&as_root));
    let root = of_rule(&findings, "backup-runs-as-root");
    assert!(root.len() == 1 && root[0].message.contains("runAsUser: 0"), "{}", dump(&findings));
}

#[test]
fn variables_in_commands_are_reported_only_when_nothing_can_set_them() {
    let pod = |container: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: p, namespace: ns1}}\nspec:\n  containers:\n  - name: c\n{container}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: known, namespace: ns1}}\ndata: {{FROM_CM: x}}\n"
        )
    };
    // (case, container fields, expected unset references as written)
    let cases: [(&str, &str, &[&str]); 12] = [
        ("awk's own fields", "    image: busybox:1\n    command: [awk, '{print $NF}']\n", &[]),
        ("lower case outside a shell", "    image: app:1\n    args: ['^a$b']\n", &[]),
        ("kubelet syntax, unset", "    image: app:1\n    args: [--db=$(DB_URL)]\n", &["$(DB_URL)"]),
        (
            "kubelet syntax, from env",
            "    image: app:1\n    args: [--db=$(DB_URL)]\n    env: [{name: DB_URL, value: x}]\n",
            &[],
        ),
        (
            "kubelet syntax ignores image ENV",
            "    image: postgres:16\n    args: [$(PGDATA)]\n",
            &["$(PGDATA)"],
        ),
        (
            "shell sees image ENV",
            "    image: postgres:16\n    command: [sh, -c, 'ls $PGDATA $HOME $KUBERNETES_SERVICE_HOST']\n",
            &[],
        ),
        (
            "shell assignment",
            "    image: app:1\n    command: [/bin/bash, -ec, 'F=/tmp/x; echo $F ${G:-d}']\n",
            &[],
        ),
        (
            "no shell: literal",
            "    image: app:1\n    command: [pg_dump, $DATABASE_URL]\n",
            &["$DATABASE_URL"],
        ),
        (
            "envFrom of a ConfigMap not among the inputs",
            "    image: app:1\n    args: [$(ANY)]\n    envFrom: [{secretRef: {name: elsewhere}}]\n",
            &[],
        ),
        (
            "envFrom of a known ConfigMap",
            "    image: app:1\n    args: [$(FROM_CM), $(OTHER)]\n    envFrom: [{configMapRef: {name: known}}]\n",
            &["$(OTHER)"],
        ),
        (
            "envFrom prefix",
            "    image: app:1\n    args: [$(P_X), $(Q)]\n    envFrom: [{prefix: P_, secretRef: {name: elsewhere}}]\n",
            &["$(Q)"],
        ),
        (
            "escaped and single-quoted",
            "    image: app:1\n    command: [sh, -c, \"echo $$(NOT) '$LITERAL' \\\\$ALSO\"]\n",
            &[],
        ),
    ];
    for (case, container, expected) in cases {
        let set = set_of(&pod(container));
        let t = set.objects[0].pod_template().unwrap();
        let got: Vec<String> =
            engines::variables::unset_variables(&set, "ns1", &t.spec, &t.spec.containers[0])
                .iter()
                .map(|v| v.written())
                .collect();
        assert_eq!(got, expected, "{case}");
    }
}

#[test]
fn the_rendered_baseline_uses_no_variable_nothing_sets_and_backs_up_as_non_root() {
    for profile in autolabs_model::Profile::ALL {
        for provider in autolabs_model::Provider::ALL {
            let p = autolabs_model::Platform::for_profile(profile, provider);
            let mut set = ObjectSet::default();
            for m in &autolabs_model::render(&p).manifests {
                set.add_text(&autolabs_model::output::to_yaml(m), &m.file_name());
            }
            let findings: Vec<Finding> = engines::hygiene::check(&set)
                .into_iter()
                .chain(engines::backup::check(&set, Default::default()))
                .filter(|f| matches!(f.rule.as_str(), "unset-variable" | "backup-runs-as-root"))
                .collect();
            assert!(findings.is_empty(), "{profile:?}/{provider:?}:\n{}", dump(&findings));
        }
    }
}

// ---------------------------------------------------------------------------------------
// 3. Quotas no node can satisfy
// ---------------------------------------------------------------------------------------

const EIGHT_VCPU_NODE: &str = "---
apiVersion: v1
kind: Node
metadata: {name: pve-node-1}
status:
  capacity: {cpu: '8', memory: 32Gi, pods: '110'}
  allocatable: {cpu: '8', memory: 31Gi, pods: '110'}
";

#[test]
fn a_quota_beyond_the_nodes_in_the_inputs_is_a_warning_naming_the_numbers() {
    let text = format!("{}{EIGHT_VCPU_NODE}", include_str!("fixtures/design-document.yaml"));
    let findings = engines::resources::check(&set_of(&text), &[]);
    let all = dump(&findings);
    let over: Vec<&Finding> = of_rule(&findings, "quota-exceeds-nodes");
    // labs asks 25 CPU of requests of one 8 vCPU node; platform's 4 fit.
    let cpu: Vec<&&Finding> = over.iter().filter(|f| f.message.contains("requests.cpu")).collect();
    assert_eq!(cpu.len(), 1, "{all}");
    assert_eq!(cpu[0].severity, Severity::Warning);
    assert!(cpu[0].message.contains("labs-quota") && cpu[0].message.contains("requests.cpu=25"), "{all}");
    assert!(cpu[0].message.contains("cpu=8") && cpu[0].message.contains("1 node"), "{all}");
    assert!(cpu[0].location().is_some_and(|l| l.starts_with("input.yaml:")), "{all}");
    assert!(!over.iter().any(|f| f.message.contains("platform-quota")), "{all}");

    // Without nodes, nothing is known about capacity.
    let without = engines::resources::check(&design_document(), &[]);
    assert!(of_rule(&without, "quota-exceeds-nodes").is_empty(), "{}", dump(&without));

    // A cordoned node schedules nothing new: with it, even platform's 4 CPU cannot be met.
    let cordoned = format!(
        "{}{}",
        include_str!("fixtures/design-document.yaml"),
        EIGHT_VCPU_NODE.replace("status:", "spec: {unschedulable: true}\nstatus:")
    );
    let (nodes, problems) = engines::resources::nodes_in(&set_of(&cordoned));
    assert!(nodes.is_empty() && problems.is_empty());
}

#[test]
fn nodes_in_the_inputs_take_precedence_and_bad_quantities_are_located() {
    let two = format!("{EIGHT_VCPU_NODE}{}", EIGHT_VCPU_NODE.replace("pve-node-1", "pve-node-2"));
    let (nodes, _) = engines::resources::nodes_in(&set_of(&two));
    assert_eq!(nodes.len(), 2);
    let text = format!("{}{two}", include_str!("fixtures/design-document.yaml"));
    // platform.yaml's nodes (here one of 64 CPU) give way to the Nodes the inputs hold.
    let intended = autolabs_resources::capacity::NodeCapacity {
        name: "node-1".into(),
        allocatable: [("cpu".to_string(), autolabs_k8s::Quantity::from_units(64))].into_iter().collect(),
    };
    let findings = engines::resources::check(&set_of(&text), &[intended]);
    let cpu: Vec<&Finding> = of_rule(&findings, "quota-exceeds-nodes")
        .into_iter()
        .filter(|f| f.message.contains("requests.cpu"))
        .collect();
    assert!(
        cpu.len() == 1 && cpu[0].message.contains("cpu=16") && cpu[0].message.contains("2 node"),
        "{}",
        dump(&findings)
    );

    let bad = EIGHT_VCPU_NODE.replace("allocatable: {cpu: '8'", "allocatable: {cpu: 'eight'");
    let (_, problems) = engines::resources::nodes_in(&set_of(&bad));
    assert_eq!(problems.len(), 1);
    assert!(problems[0].message.contains("status.allocatable[cpu]"), "{}", problems[0].message);
    assert_eq!(problems[0].location().as_deref(), Some("input.yaml:7"));
}

// ---------------------------------------------------------------------------------------
// 4. RBAC of well-known components
// ---------------------------------------------------------------------------------------

fn rendered_baseline() -> ObjectSet {
    rendered(&autolabs_model::Platform::default())
}

/// An ingress-nginx controller Deployment as its chart labels it, running as `sa` in `ns`.
fn ingress_controller(ns: &str, sa: &str, args: &str, component: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: ingress-nginx-{component}
  namespace: {ns}
  labels: {{app.kubernetes.io/name: ingress-nginx, app.kubernetes.io/component: {component}}}
spec:
  selector: {{matchLabels: {{app.kubernetes.io/name: ingress-nginx}}}}
  template:
    metadata: {{labels: {{app.kubernetes.io/name: ingress-nginx, app.kubernetes.io/component: {component}}}}}
    spec:
      serviceAccountName: {sa}
      containers:
      - name: controller
        image: registry.k8s.io/ingress-nginx/controller:v1.15.1
        args: [/nginx-ingress-controller{args}]
"
    )
}

fn component_findings(set: &ObjectSet) -> Vec<Finding> {
    engines::rbac::check(set, &Default::default())
        .into_iter()
        .filter(|f| f.rule == "component-permission-missing")
        .collect()
}

fn with(set: &ObjectSet, yaml: &str) -> ObjectSet {
    let mut s = set.clone();
    s.add_text(yaml, "controller.yaml");
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    s
}

#[test]
fn the_rendered_ingress_nginx_rbac_gives_the_controller_all_it_needs() {
    use autolabs_model::topology::{INGRESS_NGINX, INGRESS_SA};
    let set = with(&rendered_baseline(), &ingress_controller(INGRESS_NGINX, INGRESS_SA, "", "controller"));
    let findings = component_findings(&set);
    assert!(findings.is_empty(), "{}", dump(&findings));
}

#[test]
fn each_missing_ingress_nginx_permission_is_an_error_naming_verb_and_resource() {
    use autolabs_model::topology::{INGRESS_NGINX, INGRESS_SA};
    let base = rendered_baseline();
    let controller = ingress_controller(INGRESS_NGINX, INGRESS_SA, "", "controller");

    // Without its Role: the namespaced permissions are missing.
    let mut no_role = with(&base, &controller);
    no_role.objects.retain(|o| !(o.kind == "Role" && o.name == "ingress-nginx"));
    let findings = component_findings(&no_role);
    let all = dump(&findings);
    assert!(findings.iter().all(|f| f.severity == Severity::Error), "{all}");
    let has = |needle: &str| findings.iter().any(|f| f.message.contains(needle));
    assert!(
        has(
            "cannot get, update leases.coordination.k8s.io named \"ingress-nginx-leader\" in namespace \"ingress-nginx\""
        ),
        "{all}"
    );
    assert!(has("cannot create leases.coordination.k8s.io in namespace"), "{all}");
    assert!(has("cannot get secrets in namespace \"ingress-nginx\""), "{all}");
    assert!(has("cannot get namespaces in namespace"), "{all}");
    assert!(has("ingress-nginx Helm chart 4.15.1"), "{all}");
    // The ClusterRole still grants the cluster-wide ones.
    assert!(!has("cluster-wide"), "{all}");
    assert!(
        findings.iter().all(|f| f.location().is_some_and(|l| l.starts_with("controller.yaml:"))),
        "{all}"
    );

    // Without its ClusterRole: Secrets for TLS, EndpointSlices, IngressClasses, Ingress status…
    let mut no_cluster_role = with(&base, &controller);
    no_cluster_role.objects.retain(|o| !(o.kind == "ClusterRole" && o.name == "ingress-nginx"));
    let findings = component_findings(&no_cluster_role);
    let all = dump(&findings);
    let has = |needle: &str| findings.iter().any(|f| f.message.contains(needle));
    for needle in [
        "cannot list, watch secrets cluster-wide: it reads the TLS certificates",
        "cannot get, list, watch endpointslices.discovery.k8s.io cluster-wide",
        "cannot get, list, watch ingressclasses.networking.k8s.io cluster-wide",
        "cannot update ingresses.networking.k8s.io/status cluster-wide",
        "cannot list, watch leases.coordination.k8s.io cluster-wide",
        "cannot create, patch events cluster-wide",
    ] {
        assert!(has(needle), "{needle}:\n{all}");
    }

    // --update-status=false needs no Ingress status; a custom election id needs its own lease.
    let custom = ingress_controller(
        INGRESS_NGINX,
        INGRESS_SA,
        ", --update-status=false, --election-id=mine",
        "controller",
    );
    let mut set = with(&base, &custom);
    set.objects.retain(|o| !(o.kind == "ClusterRole" && o.name == "ingress-nginx"));
    let findings = component_findings(&set);
    let all = dump(&findings);
    assert!(!all.contains("/status"), "{all}");
    assert!(all.contains("named \"mine\""), "{all}");
}

#[test]
fn a_watched_namespace_moves_the_cluster_wide_needs_there_and_other_workloads_are_not_checked() {
    let role_in = |ns: &str| {
        format!(
            "---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: ctl, namespace: edge}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: everything, namespace: {ns}}}
rules: [{{apiGroups: ['*'], resources: ['*'], verbs: ['*']}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: everything, namespace: {ns}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: everything}}
subjects: [{{kind: ServiceAccount, name: ctl, namespace: edge}}]
"
        )
    };
    let scoped = ingress_controller("edge", "ctl", ", --watch-namespace=web", "controller");
    let granted = format!("{scoped}{}{}", role_in("web"), role_in("edge"));
    let findings = component_findings(&set_of(&granted));
    assert!(findings.is_empty(), "{}", dump(&findings));
    let only_own = format!("{scoped}{}", role_in("edge"));
    let findings = component_findings(&set_of(&only_own));
    assert!(
        findings.iter().any(|f| f
            .message
            .contains("cannot list, watch secrets in namespace \"web\" (--watch-namespace)")),
        "{}",
        dump(&findings)
    );
    // The chart's default backend carries the name but not the controller component.
    let backend = ingress_controller("edge", "nobody", "", "default-backend");
    assert!(component_findings(&set_of(&backend)).is_empty());
    // A ServiceAccount labelled as the controller, with no workload among the inputs, is checked.
    let sa = "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: lonely\n  namespace: edge\n  labels: {app.kubernetes.io/name: ingress-nginx, app.kubernetes.io/component: controller}\n";
    let findings = component_findings(&set_of(sa));
    assert!(findings.iter().any(|f| f.message.contains("ServiceAccount edge/lonely")), "{}", dump(&findings));
}

// ---------------------------------------------------------------------------------------
// 5. Static pods skip the hygiene rules that do not apply to them
// ---------------------------------------------------------------------------------------

#[test]
fn static_pods_are_not_asked_for_requests_and_limits() {
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: haproxy, namespace: kube-system}\nspec: {containers: [{name: haproxy, image: 'haproxy:2.8.10'}]}\n";
    let resource_rules = |file: &str, text: &str| -> Vec<String> {
        let mut set = ObjectSet::default();
        set.add_text(text, file);
        engines::hygiene::check(&set)
            .into_iter()
            .map(|f| f.rule)
            .filter(|r| r.starts_with("missing-"))
            .collect()
    };
    assert!(resource_rules("out/control-plane/manifests/haproxy.yaml", pod).is_empty());
    assert_eq!(resource_rules("pod.yaml", pod), ["missing-requests", "missing-limits"]);
    let mirror = pod.replace(
        "namespace: kube-system}",
        "namespace: kube-system, ownerReferences: [{apiVersion: v1, kind: Node, name: cp-1, uid: u}]}",
    );
    assert!(resource_rules("cluster", &mirror).is_empty());
}
