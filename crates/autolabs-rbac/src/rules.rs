//! Rule matching: does one `PolicyRule` allow one request?
//!
//! These are the evaluation helpers of `k8s.io/kubernetes/pkg/apis/rbac/v1/evaluation_helpers.go`
//! and `RuleAllows` of `plugin/pkg/auth/authorizer/rbac/rbac.go`, one function each, with the
//! same (sometimes surprising) behaviour:
//!
//! - `*` is the only wildcard for verbs, API groups and resources; `pods/*` is NOT a pattern, it
//!   only matches the literal combined resource `pods/*`, while `*/scale` matches the `scale`
//!   subresource of every resource;
//! - a rule that lists `resourceNames` never matches a request without a name (create, list,
//!   watch, deletecollection), because the empty name is not in the list;
//! - a non-resource URL ending in `*` matches every path that starts with the text before the
//!   star(s); `*` alone matches every path.

use crate::k8s::PolicyRule;
use crate::request::Attributes;

/// Verb `*` in a rule: every verb.
pub const VERB_ALL: &str = "*";
/// API group `*` in a rule: every group.
pub const API_GROUP_ALL: &str = "*";
/// Resource `*` in a rule: every resource and subresource.
pub const RESOURCE_ALL: &str = "*";
/// Non-resource URL `*` in a rule: every path.
pub const NON_RESOURCE_ALL: &str = "*";

fn list(field: &Option<Vec<String>>) -> &[String] {
    field.as_deref().unwrap_or_default()
}

/// Whether the rule names the verb or `*`.
// k8s.io/kubernetes/pkg/apis/rbac/v1/evaluation_helpers.go VerbMatches
pub fn verb_matches(rule: &PolicyRule, requested_verb: &str) -> bool {
    rule.verbs.iter().any(|verb| verb == VERB_ALL || verb == requested_verb)
}

/// Whether the rule names the API group or `*` (the core group is the empty string).
// k8s.io/kubernetes/pkg/apis/rbac/v1/evaluation_helpers.go APIGroupMatches
pub fn api_group_matches(rule: &PolicyRule, requested_group: &str) -> bool {
    list(&rule.api_groups).iter().any(|group| group == API_GROUP_ALL || group == requested_group)
}

/// Whether the rule covers `combined_resource` (`pods` or `pods/log`): `*`, an exact match, or
/// `*/<subresource>` when the request has that subresource.
// k8s.io/kubernetes/pkg/apis/rbac/v1/evaluation_helpers.go ResourceMatches
pub fn resource_matches(rule: &PolicyRule, combined_resource: &str, requested_subresource: &str) -> bool {
    list(&rule.resources).iter().any(|resource| {
        if resource == RESOURCE_ALL || resource == combined_resource {
            return true;
        }
        !requested_subresource.is_empty()
            && resource.len() == requested_subresource.len() + 2
            && resource.starts_with("*/")
            && resource.ends_with(requested_subresource)
    })
}

/// Whether the rule lets the request touch an object of this name: a rule without
/// `resourceNames` covers every name; a rule with them covers exactly those names (so never the
/// empty name of create/list/watch/deletecollection).
// k8s.io/kubernetes/pkg/apis/rbac/v1/evaluation_helpers.go ResourceNameMatches
pub fn resource_name_matches(rule: &PolicyRule, requested_name: &str) -> bool {
    let names = list(&rule.resource_names);
    names.is_empty() || names.iter().any(|name| name == requested_name)
}

/// Whether the rule covers a non-resource path: `*`, an exact match, or a prefix match for a
/// URL that ends in `*`.
// k8s.io/kubernetes/pkg/apis/rbac/v1/evaluation_helpers.go NonResourceURLMatches
pub fn non_resource_url_matches(rule: &PolicyRule, requested_path: &str) -> bool {
    list(&rule.non_resource_urls).iter().any(|url| {
        url == NON_RESOURCE_ALL
            || url == requested_path
            || (url.ends_with('*') && requested_path.starts_with(url.trim_end_matches('*')))
    })
}

/// Whether one rule allows one request.
// k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac/rbac.go RuleAllows
pub fn rule_allows(attrs: &Attributes, rule: &PolicyRule) -> bool {
    RequestMatcher::new(attrs).allows(rule)
}

/// A request prepared for matching many rules (the combined `resource/subresource` is built
/// once instead of per rule).
pub(crate) struct RequestMatcher<'a> {
    attrs: &'a Attributes,
    combined: String,
}

impl<'a> RequestMatcher<'a> {
    pub(crate) fn new(attrs: &'a Attributes) -> Self {
        RequestMatcher { attrs, combined: attrs.combined_resource() }
    }

    // k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac/rbac.go RuleAllows
    pub(crate) fn allows(&self, rule: &PolicyRule) -> bool {
        let attrs = self.attrs;
        if attrs.resource_request {
            verb_matches(rule, &attrs.verb)
                && api_group_matches(rule, &attrs.api_group)
                && resource_matches(rule, &self.combined, &attrs.subresource)
                && resource_name_matches(rule, &attrs.name)
        } else {
            verb_matches(rule, &attrs.verb) && non_resource_url_matches(rule, &attrs.path)
        }
    }
}

/// Semantic equality of two rules: absent and empty lists are the same, order inside a list
/// matters (what `equality.Semantic.DeepEqual` does for the aggregation controller).
// k8s.io/apimachinery/third_party/forked/golang/reflect/deep_equal.go (nil == empty)
pub fn rules_equal(a: &PolicyRule, b: &PolicyRule) -> bool {
    a.verbs == b.verbs
        && list(&a.api_groups) == list(&b.api_groups)
        && list(&a.resources) == list(&b.resources)
        && list(&a.resource_names) == list(&b.resource_names)
        && list(&a.non_resource_urls) == list(&b.non_resource_urls)
}

/// A compact one-line rendering of a rule, in the spirit of `rbacv1helpers.CompactString`.
pub fn describe_rule(rule: &PolicyRule) -> String {
    let mut parts = Vec::new();
    let mut push = |label: &str, values: &[String]| {
        if !values.is_empty() {
            let shown: Vec<String> =
                values.iter().map(|v| if v.is_empty() { "\"\"".to_string() } else { v.clone() }).collect();
            parts.push(format!("{label}=[{}]", shown.join(" ")));
        }
    };
    push("apiGroups", list(&rule.api_groups));
    push("resources", list(&rule.resources));
    push("resourceNames", list(&rule.resource_names));
    push("nonResourceURLs", list(&rule.non_resource_urls));
    push("verbs", &rule.verbs);
    format!("{{{}}}", parts.join(" "))
}

pub(crate) fn field_list(field: &Option<Vec<String>>) -> &[String] {
    list(field)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(verbs: &[&str], groups: &[&str], resources: &[&str], names: &[&str]) -> PolicyRule {
        let owned = |v: &[&str]| (!v.is_empty()).then(|| v.iter().map(|s| s.to_string()).collect());
        PolicyRule {
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
            api_groups: owned(groups),
            resources: owned(resources),
            resource_names: owned(names),
            non_resource_urls: None,
        }
    }

    fn url_rule(verbs: &[&str], urls: &[&str]) -> PolicyRule {
        PolicyRule {
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
            non_resource_urls: Some(urls.iter().map(|s| s.to_string()).collect()),
            ..PolicyRule::default()
        }
    }

    fn get(resource: &str) -> Attributes {
        Attributes::resource("get", "", resource).in_namespace("ns")
    }

    #[test]
    fn rule_allows_table() {
        // (upstream rule, rule, request, allowed)
        let table: Vec<(&str, PolicyRule, Attributes, bool)> = vec![
            ("VerbMatches: exact verb", rule(&["get"], &[""], &["pods"], &[]), get("pods"), true),
            ("VerbMatches: other verb", rule(&["list"], &[""], &["pods"], &[]), get("pods"), false),
            ("VerbMatches: * is every verb", rule(&["*"], &[""], &["pods"], &[]), get("pods"), true),
            (
                "VerbMatches: verbs are case-sensitive",
                rule(&["GET"], &[""], &["pods"], &[]),
                get("pods"),
                false,
            ),
            (
                "APIGroupMatches: core group is \"\"",
                rule(&["get"], &["apps"], &["pods"], &[]),
                get("pods"),
                false,
            ),
            (
                "APIGroupMatches: * is every group",
                rule(&["get"], &["*"], &["deployments"], &[]),
                Attributes::resource("get", "apps", "deployments"),
                true,
            ),
            (
                "APIGroupMatches: exact group",
                rule(&["get"], &["apps"], &["deployments"], &[]),
                Attributes::resource("get", "apps", "deployments"),
                true,
            ),
            (
                "ResourceMatches: * is every resource",
                rule(&["get"], &[""], &["*"], &[]),
                get("secrets"),
                true,
            ),
            (
                "ResourceMatches: * covers subresources",
                rule(&["get"], &[""], &["*"], &[]),
                get("pods").subresource("log"),
                true,
            ),
            (
                "ResourceMatches: resource does not cover its subresources",
                rule(&["get"], &[""], &["pods"], &[]),
                get("pods").subresource("log"),
                false,
            ),
            (
                "ResourceMatches: exact resource/subresource",
                rule(&["get"], &[""], &["pods/log"], &[]),
                get("pods").subresource("log"),
                true,
            ),
            (
                "ResourceMatches: subresource rule does not cover the resource",
                rule(&["get"], &[""], &["pods/log"], &[]),
                get("pods"),
                false,
            ),
            (
                "ResourceMatches: */subresource matches any resource's subresource",
                rule(&["get"], &[""], &["*/scale"], &[]),
                get("replicationcontrollers").subresource("scale"),
                true,
            ),
            (
                "ResourceMatches: */subresource does not match the resource",
                rule(&["get"], &[""], &["*/scale"], &[]),
                get("replicationcontrollers"),
                false,
            ),
            (
                "ResourceMatches: */subresource needs the same subresource",
                rule(&["get"], &[""], &["*/scale"], &[]),
                get("pods").subresource("status"),
                false,
            ),
            (
                "ResourceMatches: pods/* is literal, not a pattern",
                rule(&["get"], &[""], &["pods/*"], &[]),
                get("pods").subresource("log"),
                false,
            ),
            (
                "ResourceMatches: */subresource length check (*/scales vs scale)",
                rule(&["get"], &[""], &["*/xscale"], &[]),
                get("deployments").subresource("scale"),
                false,
            ),
            (
                "ResourceNameMatches: no resourceNames covers every name",
                rule(&["get"], &[""], &["secrets"], &[]),
                get("secrets").named("db"),
                true,
            ),
            (
                "ResourceNameMatches: listed name",
                rule(&["get"], &[""], &["secrets"], &["db"]),
                get("secrets").named("db"),
                true,
            ),
            (
                "ResourceNameMatches: other name",
                rule(&["get"], &[""], &["secrets"], &["db"]),
                get("secrets").named("other"),
                false,
            ),
            (
                "ResourceNameMatches: empty name (list/create) never matches resourceNames",
                rule(&["list"], &[""], &["secrets"], &["db"]),
                Attributes::resource("list", "", "secrets"),
                false,
            ),
            (
                "RuleAllows: resource rule never allows non-resource request",
                rule(&["get"], &["*"], &["*"], &[]),
                Attributes::non_resource("get", "/healthz"),
                false,
            ),
            (
                "NonResourceURLMatches: exact path",
                url_rule(&["get"], &["/healthz"]),
                Attributes::non_resource("get", "/healthz"),
                true,
            ),
            (
                "NonResourceURLMatches: no implicit prefix",
                url_rule(&["get"], &["/healthz"]),
                Attributes::non_resource("get", "/healthz/etcd"),
                false,
            ),
            (
                "NonResourceURLMatches: trailing * is a prefix",
                url_rule(&["get"], &["/logs/*"]),
                Attributes::non_resource("get", "/logs/kube-apiserver.log"),
                true,
            ),
            (
                "NonResourceURLMatches: /logs/* does not match /logs",
                url_rule(&["get"], &["/logs/*"]),
                Attributes::non_resource("get", "/logs"),
                false,
            ),
            (
                "NonResourceURLMatches: /api* matches /apis",
                url_rule(&["get"], &["/api*"]),
                Attributes::non_resource("get", "/apis/apps"),
                true,
            ),
            (
                "NonResourceURLMatches: * is every path",
                url_rule(&["get"], &["*"]),
                Attributes::non_resource("get", "/version"),
                true,
            ),
            (
                "RuleAllows: non-resource rule never allows resource request",
                url_rule(&["*"], &["*"]),
                get("pods"),
                false,
            ),
            (
                "VerbMatches on non-resource",
                url_rule(&["get"], &["*"]),
                Attributes::non_resource("post", "/version"),
                false,
            ),
        ];
        for (name, rule, attrs, expected) in table {
            assert_eq!(rule_allows(&attrs, &rule), expected, "{name}: {attrs} vs {}", describe_rule(&rule));
        }
    }

    #[test]
    fn rules_equal_treats_absent_and_empty_lists_alike() {
        // k8s.io/apimachinery equality.Semantic.DeepEqual: nil and empty slices are equal.
        let mut a = rule(&["get"], &[""], &["pods"], &[]);
        let mut b = a.clone();
        a.resource_names = None;
        b.resource_names = Some(Vec::new());
        assert!(rules_equal(&a, &b));
        b.verbs.push("list".into());
        assert!(!rules_equal(&a, &b));
    }
}
