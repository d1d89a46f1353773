//! The built-in bootstrap policy is exactly upstream's (the conformance `rbac/bootstrap` files),
//! and the generator that wrote our compact table from them.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use autolabs_rbac::bootstrap::parts;
use autolabs_rbac::k8s::{
    ClusterRole, ClusterRoleBinding, ObjectMeta, PolicyRule, Role, RoleBinding, Subject,
};
use autolabs_rbac::{Authorizer, Policy};
use common::{conformance_dir, read_list};

fn list(v: &Option<Vec<String>>) -> Vec<String> {
    v.clone().unwrap_or_default()
}

/// A rule as comparable data (absent list = empty list, as the API server treats them).
fn rule_key(rule: &PolicyRule) -> [Vec<String>; 5] {
    [
        rule.verbs.clone(),
        list(&rule.api_groups),
        list(&rule.resources),
        list(&rule.resource_names),
        list(&rule.non_resource_urls),
    ]
}

fn meta_key(meta: &ObjectMeta) -> String {
    format!(
        "{}/{} labels={:?} annotations={:?}",
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
        meta.labels.clone().unwrap_or_default(),
        meta.annotations.clone().unwrap_or_default()
    )
}

fn cluster_role_key(role: &ClusterRole) -> String {
    let rules: Vec<_> = role.rules.iter().flatten().map(rule_key).collect();
    format!("{} aggregation={:?} rules={rules:?}", meta_key(&role.metadata), role.aggregation_rule)
}

fn role_key(role: &Role) -> String {
    let rules: Vec<_> = role.rules.iter().flatten().map(rule_key).collect();
    format!("{} rules={rules:?}", meta_key(&role.metadata))
}

fn subject_key(s: &Subject) -> String {
    format!(
        "{}:{}:{}:{}",
        s.kind,
        s.name,
        s.namespace.clone().unwrap_or_default(),
        s.api_group.clone().unwrap_or_default()
    )
}

fn cluster_binding_key(b: &ClusterRoleBinding) -> String {
    let subjects: Vec<_> = b.subjects.iter().flatten().map(subject_key).collect();
    format!("{} ref={:?} subjects={subjects:?}", meta_key(&b.metadata), b.role_ref)
}

fn binding_key(b: &RoleBinding) -> String {
    let subjects: Vec<_> = b.subjects.iter().flatten().map(subject_key).collect();
    format!("{} ref={:?} subjects={subjects:?}", meta_key(&b.metadata), b.role_ref)
}

fn assert_same(what: &str, ours: Vec<String>, theirs: Vec<String>) {
    let ours_sorted: BTreeMap<_, _> = ours.iter().map(|k| (k.clone(), ())).collect();
    let theirs_sorted: BTreeMap<_, _> = theirs.iter().map(|k| (k.clone(), ())).collect();
    let missing: Vec<_> = theirs_sorted.keys().filter(|k| !ours_sorted.contains_key(*k)).collect();
    let extra: Vec<_> = ours_sorted.keys().filter(|k| !theirs_sorted.contains_key(*k)).collect();
    assert!(missing.is_empty() && extra.is_empty(), "{what}: missing {missing:#?}\nextra {extra:#?}");
    assert_eq!(ours.len(), theirs.len(), "{what}: same objects, different counts (duplicates?)");
    println!("{what}: {} objects identical", ours.len());
}

fn dir() -> Option<PathBuf> {
    conformance_dir().map(|d| d.join("rbac/bootstrap"))
}

#[test]
fn builtin_bootstrap_equals_upstream_files() {
    let Some(b) = dir() else { return };
    assert_same(
        "cluster-roles.yaml",
        parts::cluster_roles().iter().map(cluster_role_key).collect(),
        read_list::<ClusterRole>(&b.join("cluster-roles.yaml")).iter().map(cluster_role_key).collect(),
    );
    assert_same(
        "controller-roles.yaml",
        parts::controller_roles().iter().map(cluster_role_key).collect(),
        read_list::<ClusterRole>(&b.join("controller-roles.yaml")).iter().map(cluster_role_key).collect(),
    );
    assert_same(
        "cluster-role-bindings.yaml",
        parts::cluster_role_bindings().iter().map(cluster_binding_key).collect(),
        read_list::<ClusterRoleBinding>(&b.join("cluster-role-bindings.yaml"))
            .iter()
            .map(cluster_binding_key)
            .collect(),
    );
    assert_same(
        "controller-role-bindings.yaml",
        parts::controller_role_bindings().iter().map(cluster_binding_key).collect(),
        read_list::<ClusterRoleBinding>(&b.join("controller-role-bindings.yaml"))
            .iter()
            .map(cluster_binding_key)
            .collect(),
    );
    assert_same(
        "namespace-roles.yaml",
        parts::namespace_roles().iter().map(role_key).collect(),
        read_list::<Role>(&b.join("namespace-roles.yaml")).iter().map(role_key).collect(),
    );
    assert_same(
        "namespace-role-bindings.yaml",
        parts::namespace_role_bindings().iter().map(binding_key).collect(),
        read_list::<RoleBinding>(&b.join("namespace-role-bindings.yaml")).iter().map(binding_key).collect(),
    );
}

#[test]
fn builtin_bootstrap_is_a_valid_policy_and_marks_every_binding_bootstrap() {
    let policy = Policy::bootstrap();
    let authorizer = Authorizer::new(&policy).expect("bootstrap policy is valid");
    // Aggregation fills admin/edit/view from the aggregate-to-* roles.
    for name in ["admin", "edit", "view"] {
        assert!(!authorizer.cluster_role_rules(name).unwrap_or_default().is_empty(), "{name} aggregated");
    }
    let findings = authorizer.escalation_findings();
    assert!(!findings.is_empty(), "bootstrap controllers hold powerful rights");
    assert!(findings.iter().all(|f| f.grant.bootstrap), "every bootstrap grant is marked bootstrap");
}

/// The feature-gates variant of the cluster roles (every gate on) is also a valid policy that
/// our authorizer accepts and aggregates; its extra role is reported.
#[test]
fn feature_gates_variant_is_accepted() {
    let Some(b) = dir() else { return };
    let variant: Vec<ClusterRole> = read_list(&b.join("cluster-roles-featuregates.yaml"));
    let builtin: Vec<String> =
        parts::cluster_roles().iter().filter_map(|r| r.metadata.name.clone()).collect();
    let extra: Vec<String> = variant
        .iter()
        .filter_map(|r| r.metadata.name.clone())
        .filter(|name| !builtin.contains(name))
        .collect();
    println!("feature-gates variant: {} cluster roles, extra: {extra:?}", variant.len());
    let policy = Policy { cluster_roles: variant, ..Policy::default() };
    let authorizer = Authorizer::new(&policy).expect("variant is valid");
    assert!(!authorizer.cluster_role_rules("admin").unwrap_or_default().is_empty());
}

// ---- generator -------------------------------------------------------------------------------

fn strs(values: &[String]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
    format!("&[{}]", quoted.join(", "))
}

fn rule_source(rule: &PolicyRule) -> String {
    let names = list(&rule.resource_names);
    let urls = list(&rule.non_resource_urls);
    if !urls.is_empty() {
        assert!(list(&rule.api_groups).is_empty() && list(&rule.resources).is_empty() && names.is_empty());
        return format!("u({}, {})", strs(&rule.verbs), strs(&urls));
    }
    let (verbs, groups, resources) =
        (strs(&rule.verbs), strs(&list(&rule.api_groups)), strs(&list(&rule.resources)));
    if names.is_empty() {
        format!("r({verbs}, {groups}, {resources})")
    } else {
        format!("rn({verbs}, {groups}, {resources}, {})", strs(&names))
    }
}

fn check_standard_meta(meta: &ObjectMeta) -> Vec<(String, String)> {
    let annotations = meta.annotations.clone().unwrap_or_default();
    assert_eq!(
        annotations.into_iter().collect::<Vec<_>>(),
        vec![("rbac.authorization.kubernetes.io/autoupdate".to_string(), "true".to_string())],
        "{:?}: unexpected annotations",
        meta.name
    );
    let mut labels = meta.labels.clone().unwrap_or_default();
    assert_eq!(
        labels.remove("kubernetes.io/bootstrapping").as_deref(),
        Some("rbac-defaults"),
        "{:?}",
        meta.name
    );
    labels.into_iter().collect()
}

fn pairs_source(pairs: &[(String, String)]) -> String {
    let items: Vec<String> = pairs.iter().map(|(k, v)| format!("({k:?}, {v:?})")).collect();
    format!("&[{}]", items.join(", "))
}

fn role_source(name: &str, meta: &ObjectMeta, aggregation: Option<String>, rules: &[PolicyRule]) -> String {
    let labels = pairs_source(&check_standard_meta(meta));
    let aggregation = aggregation.map_or("None".to_string(), |a| format!("Some({a})"));
    let mut out = format!("    role({name:?}, {labels}, {aggregation}, &[");
    if rules.is_empty() {
        out.push_str("]),\n");
        return out;
    }
    out.push('\n');
    for rule in rules {
        let _ = writeln!(out, "        {},", rule_source(rule));
    }
    out.push_str("    ]),\n");
    out
}

fn cluster_roles_source(konst: &str, roles: &[ClusterRole]) -> String {
    let mut out = format!("#[rustfmt::skip]\npub(super) const {konst}: &[RoleSpec] = &[\n");
    for role in roles {
        let aggregation = role.aggregation_rule.as_ref().map(|a| {
            let selectors: Vec<String> = a
                .cluster_role_selectors
                .iter()
                .flatten()
                .map(|s| {
                    assert!(
                        s.match_expressions.is_none(),
                        "only matchLabels selectors are supported by the table"
                    );
                    pairs_source(&s.match_labels.clone().unwrap_or_default().into_iter().collect::<Vec<_>>())
                })
                .collect();
            format!("&[{}]", selectors.join(", "))
        });
        let name = role.metadata.name.clone().unwrap_or_default();
        out.push_str(&role_source(
            &name,
            &role.metadata,
            aggregation,
            role.rules.as_deref().unwrap_or_default(),
        ));
    }
    out.push_str("];\n\n");
    out
}

fn subjects_source(subjects: &[Subject]) -> String {
    let items: Vec<String> = subjects
        .iter()
        .map(|s| match s.kind.as_str() {
            "ServiceAccount" => {
                assert!(s.api_group.as_deref().unwrap_or_default().is_empty());
                format!("sa({:?}, {:?})", s.namespace.clone().unwrap_or_default(), s.name)
            }
            kind => {
                assert_eq!(s.api_group.as_deref(), Some("rbac.authorization.k8s.io"));
                assert!(s.namespace.is_none());
                format!("{}({:?})", if kind == "User" { "user" } else { "group" }, s.name)
            }
        })
        .collect();
    format!("&[{}]", items.join(", "))
}

fn binding_source(
    meta: &ObjectMeta,
    role_ref: &autolabs_rbac::k8s::k8s_openapi::api::rbac::v1::RoleRef,
    subjects: &[Subject],
) -> String {
    assert!(check_standard_meta(meta).is_empty(), "bindings carry no extra labels");
    assert_eq!(role_ref.api_group, "rbac.authorization.k8s.io");
    format!(
        "    bind({:?}, {:?}, {:?}, {}),\n",
        meta.name.clone().unwrap_or_default(),
        role_ref.kind,
        role_ref.name,
        subjects_source(subjects)
    )
}

/// Regenerates `src/bootstrap/data.rs` from the conformance bootstrap files:
/// `cargo test -p autolabs-rbac --test bootstrap -- --ignored regenerate_bootstrap_table`.
#[test]
#[ignore = "writes src/bootstrap/data.rs; run by hand when upstream's bootstrap policy changes"]
fn regenerate_bootstrap_table() {
    let Some(b) = dir() else { return };
    let mut out = String::from(
        "//! The bootstrap policy as a compact table: one line per rule.\n\
         //!\n\
         //! Generated by `cargo test -p autolabs-rbac --test bootstrap -- --ignored \
         regenerate_bootstrap_table`\n\
         //! from upstream's bootstrap policy data (Apache-2.0); `tests/bootstrap.rs` proves it equal.\n\n\
         use super::*;\n\n",
    );
    out.push_str(&cluster_roles_source("CLUSTER_ROLES", &read_list(&b.join("cluster-roles.yaml"))));
    out.push_str(&cluster_roles_source("CONTROLLER_ROLES", &read_list(&b.join("controller-roles.yaml"))));
    for (konst, file) in [
        ("CLUSTER_ROLE_BINDINGS", "cluster-role-bindings.yaml"),
        ("CONTROLLER_ROLE_BINDINGS", "controller-role-bindings.yaml"),
    ] {
        let _ = writeln!(out, "#[rustfmt::skip]\npub(super) const {konst}: &[BindingSpec] = &[");
        for binding in read_list::<ClusterRoleBinding>(&b.join(file)) {
            out.push_str(&binding_source(
                &binding.metadata,
                &binding.role_ref,
                binding.subjects.as_deref().unwrap_or_default(),
            ));
        }
        out.push_str("];\n\n");
    }

    let mut roles_by_namespace: BTreeMap<String, String> = BTreeMap::new();
    for role in read_list::<Role>(&b.join("namespace-roles.yaml")) {
        let ns = role.metadata.namespace.clone().unwrap_or_default();
        let name = role.metadata.name.clone().unwrap_or_default();
        let source = role_source(&name, &role.metadata, None, role.rules.as_deref().unwrap_or_default());
        roles_by_namespace
            .entry(ns)
            .or_default()
            .push_str(&source.replace("\n    ", "\n        ").replacen("    ", "        ", 1));
    }
    out.push_str("#[rustfmt::skip]\npub(super) const NAMESPACE_ROLES: &[(&str, &[RoleSpec])] = &[\n");
    for (ns, roles) in &roles_by_namespace {
        let _ = write!(out, "    ({ns:?}, &[\n{roles}    ]),\n");
    }
    out.push_str("];\n\n");

    let mut bindings_by_namespace: BTreeMap<String, String> = BTreeMap::new();
    for binding in read_list::<RoleBinding>(&b.join("namespace-role-bindings.yaml")) {
        let ns = binding.metadata.namespace.clone().unwrap_or_default();
        let source = binding_source(
            &binding.metadata,
            &binding.role_ref,
            binding.subjects.as_deref().unwrap_or_default(),
        );
        bindings_by_namespace.entry(ns).or_default().push_str(&format!("    {source}"));
    }
    out.push_str(
        "#[rustfmt::skip]\npub(super) const NAMESPACE_ROLE_BINDINGS: &[(&str, &[BindingSpec])] = &[\n",
    );
    for (ns, bindings) in &bindings_by_namespace {
        let _ = write!(out, "    ({ns:?}, &[\n{bindings}    ]),\n");
    }
    out.push_str("];\n");

    let target = concat!(env!("CARGO_MANIFEST_DIR"), "/src/bootstrap/data.rs");
    std::fs::write(target, out).expect("write data.rs");
    println!("wrote {target}");
}
