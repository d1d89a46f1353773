//! Aggregated ClusterRoles, resolved the way the ClusterRole aggregation controller does it.
//!
//! For a ClusterRole with an `aggregationRule`, the controller
//! (`k8s.io/kubernetes/pkg/controller/clusterroleaggregation`, `syncClusterRole`) rewrites
//! `rules` to: for each selector in order, for each *other* ClusterRole whose labels match,
//! sorted by name, each of that role's current rules that is not already in the list (semantic
//! equality). Selectors are therefore ORed, the role's own literal rules are discarded, and an
//! aggregationRule without selectors yields no rules.
//!
//! The controller re-syncs every aggregated role whenever any ClusterRole changes, so an
//! aggregated role that selects another aggregated role sees that role's *aggregated* rules
//! once it has been written: the result is the fixed point reached by repeated syncs. We sync
//! every aggregated role in name order, round after round, until nothing changes.

use std::collections::BTreeMap;

use autolabs_k8s::Selector;

use crate::error::FieldProblem;
use crate::k8s::{ClusterRole, PolicyRule};
use crate::rules::rules_equal;

/// A rule of an effective role, with the ClusterRole it was aggregated from (if any).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SourcedRule {
    pub rule: PolicyRule,
    pub aggregated_from: Option<String>,
}

/// Upper bound on sync rounds; the controller would keep re-syncing, we stop and keep the
/// last state (only pathological selector cycles could get here).
const MAX_ROUNDS: usize = 64;

/// Effective rules of every ClusterRole (by name), aggregation applied.
pub(crate) fn resolve(
    cluster_roles: &[ClusterRole],
) -> Result<BTreeMap<String, Vec<SourcedRule>>, Vec<FieldProblem>> {
    let mut current: BTreeMap<String, Vec<SourcedRule>> = BTreeMap::new();
    let mut labels: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut aggregated: BTreeMap<String, Vec<Selector>> = BTreeMap::new();
    let mut problems = Vec::new();

    for (index, role) in cluster_roles.iter().enumerate() {
        let name = role.metadata.name.clone().unwrap_or_default();
        let rules =
            role.rules.iter().flatten().map(|rule| SourcedRule { rule: rule.clone(), aggregated_from: None });
        current.insert(name.clone(), rules.collect());
        labels.insert(name.clone(), role.metadata.labels.clone().unwrap_or_default());
        if let Some(aggregation) = &role.aggregation_rule {
            let mut selectors = Vec::new();
            for (selector_index, selector) in aggregation.cluster_role_selectors.iter().flatten().enumerate()
            {
                match Selector::from_k8s(selector) {
                    Ok(parsed) => selectors.push(parsed),
                    Err(errors) => problems.extend(errors.into_iter().map(|error| {
                        FieldProblem::new(
                            format!(
                                "clusterRoles[{index}].aggregationRule.clusterRoleSelectors[{selector_index}].{}",
                                error.field
                            ),
                            error.message,
                        )
                    })),
                }
            }
            aggregated.insert(name, selectors);
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }

    for _ in 0..MAX_ROUNDS {
        let mut changed = false;
        for (name, selectors) in &aggregated {
            let new_rules = sync_one(name, selectors, &current, &labels);
            let old_rules = current.get(name).map(Vec::as_slice).unwrap_or_default();
            let same = old_rules.len() == new_rules.len()
                && old_rules.iter().zip(&new_rules).all(|(a, b)| rules_equal(&a.rule, &b.rule));
            if !same {
                current.insert(name.clone(), new_rules);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    Ok(current)
}

// k8s.io/kubernetes/pkg/controller/clusterroleaggregation/clusterroleaggregation_controller.go syncClusterRole
fn sync_one(
    name: &str,
    selectors: &[Selector],
    current: &BTreeMap<String, Vec<SourcedRule>>,
    labels: &BTreeMap<String, BTreeMap<String, String>>,
) -> Vec<SourcedRule> {
    let mut new_rules: Vec<SourcedRule> = Vec::new();
    for selector in selectors {
        // BTreeMap iteration is by name: the controller's sort.Sort(byName(...)).
        for (other, other_labels) in labels {
            if other == name || !selector.matches(other_labels) {
                continue;
            }
            for sourced in current.get(other).into_iter().flatten() {
                // ruleExists: semantic equality of the rule only.
                if !new_rules.iter().any(|existing| rules_equal(&existing.rule, &sourced.rule)) {
                    new_rules.push(SourcedRule {
                        rule: sourced.rule.clone(),
                        aggregated_from: Some(
                            sourced.aggregated_from.clone().unwrap_or_else(|| other.clone()),
                        ),
                    });
                }
            }
        }
    }
    new_rules
}

#[cfg(test)]
mod tests {
    use crate::testutil::*;
    use crate::{Authorizer, Policy};

    fn names(policy: &Policy, role: &str) -> Vec<String> {
        let authorizer = Authorizer::new(policy).expect("valid");
        authorizer
            .cluster_role_rules(role)
            .unwrap_or_default()
            .iter()
            .map(|r| r.resources.clone().unwrap_or_default().join(","))
            .collect()
    }

    fn policy(roles: Vec<crate::k8s::ClusterRole>) -> Policy {
        Policy { cluster_roles: roles, ..Policy::default() }
    }

    #[test]
    fn aggregation_table() {
        let a = ("agg", "a");
        let b = ("agg", "b");
        // (controller behaviour, roles, role to inspect, expected rules by resources)
        let table: Vec<(&str, Vec<crate::k8s::ClusterRole>, &str, Vec<&str>)> = vec![
            (
                "syncClusterRole: union of matching roles, sorted by name, literal rules discarded",
                vec![
                    aggregated("target", &[], &[&[a]]),
                    cluster_role("z-role", &[a], vec![rule(&["get"], &[""], &["zebras"])]),
                    cluster_role("b-role", &[a], vec![rule(&["get"], &[""], &["bees"])]),
                    cluster_role("unlabelled", &[], vec![rule(&["get"], &[""], &["nope"])]),
                ],
                "target",
                vec!["bees", "zebras"],
            ),
            (
                "syncClusterRole: selectors are ORed, in selector order",
                vec![
                    aggregated("target", &[], &[&[b], &[a]]),
                    cluster_role("x", &[a], vec![rule(&["get"], &[""], &["from-a"])]),
                    cluster_role("y", &[b], vec![rule(&["get"], &[""], &["from-b"])]),
                ],
                "target",
                vec!["from-b", "from-a"],
            ),
            (
                "ruleExists: semantically equal rules are kept once",
                vec![
                    aggregated("target", &[], &[&[a]]),
                    cluster_role("x", &[a], vec![rule(&["get"], &[""], &["same"])]),
                    cluster_role(
                        "y",
                        &[a],
                        vec![rule(&["get"], &[""], &["same"]), rule(&["list"], &[""], &["same"])],
                    ),
                ],
                "target",
                vec!["same", "same"],
            ),
            (
                "syncClusterRole: a role never aggregates itself",
                vec![
                    aggregated("target", &[a], &[&[a]]),
                    cluster_role("x", &[a], vec![rule(&["get"], &[""], &["other"])]),
                ],
                "target",
                vec!["other"],
            ),
            (
                "enqueue-all re-sync: aggregated roles see other aggregated roles' results (fixed point)",
                vec![
                    aggregated("admin-like", &[], &[&[a]]),
                    aggregated("edit-like", &[a], &[&[b]]),
                    cluster_role("leaf", &[b], vec![rule(&["get"], &[""], &["leaf"])]),
                ],
                "admin-like",
                vec!["leaf"],
            ),
            (
                "syncClusterRole: no matching role gives no rules",
                vec![aggregated("target", &[], &[&[a]])],
                "target",
                vec![],
            ),
        ];
        for (name, roles, inspect, expected) in table {
            assert_eq!(names(&policy(roles), inspect), expected, "{name}");
        }
    }

    #[test]
    fn aggregated_rules_name_their_source_role() {
        let roles = vec![
            aggregated("target", &[], &[&[("agg", "a")]]),
            cluster_role("leaf", &[("agg", "a")], vec![rule(&["get"], &[""], &["pods"])]),
        ];
        let authorizer = Authorizer::new(&policy(roles)).expect("valid");
        let rules = &authorizer.cluster_roles["target"];
        assert_eq!(rules[0].aggregated_from.as_deref(), Some("leaf"));
    }

    #[test]
    fn invalid_selector_is_reported_with_its_path() {
        let mut role = aggregated("target", &[], &[&[("bad key!", "x")]]);
        role.metadata.name = Some("target".into());
        let error = Authorizer::new(&policy(vec![role])).expect_err("invalid selector");
        assert!(
            error.to_string().contains("clusterRoles[0].aggregationRule.clusterRoleSelectors[0]"),
            "{error}"
        );
    }
}
