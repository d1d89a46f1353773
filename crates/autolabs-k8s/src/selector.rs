//! Label selectors with `metav1.LabelSelectorAsSelector` semantics.
//!
//! - an empty selector (`{}`) matches everything; a *missing* selector is the caller's
//!   business (NetworkPolicy peers and aggregation rules treat it differently);
//! - `matchLabels` and every `matchExpressions` entry are ANDed;
//! - `In`/`NotIn` need at least one value, `Exists`/`DoesNotExist` none;
//! - `NotIn` and `DoesNotExist` match objects that lack the key.

use std::collections::BTreeMap;

use crate::k8s::LabelSelector;
use crate::names;

/// A validated label selector, ready to match label maps.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Selector {
    requirements: Vec<Requirement>,
}

/// One requirement of a selector.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Requirement {
    /// `key in (values)`; `matchLabels` entries become `In` with one value.
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

/// A selector the API server would reject, with the field path of the offending entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SelectorError {
    /// Relative field path, such as `matchExpressions[0].values`.
    pub field: String,
    pub message: String,
}

impl Selector {
    /// The selector that matches every label set (`{}`).
    pub fn everything() -> Self {
        Selector { requirements: Vec::new() }
    }

    /// Equality on each given label (what `matchLabels` means).
    pub fn from_labels<K: Into<String>, V: Into<String>>(labels: impl IntoIterator<Item = (K, V)>) -> Self {
        let mut requirements: Vec<Requirement> =
            labels.into_iter().map(|(k, v)| Requirement::In(k.into(), vec![v.into()])).collect();
        requirements.sort();
        Selector { requirements }
    }

    /// Converts and validates an API `LabelSelector`, reporting every problem.
    pub fn from_k8s(sel: &LabelSelector) -> Result<Self, Vec<SelectorError>> {
        let mut errors = Vec::new();
        let mut requirements = Vec::new();
        for (k, v) in sel.match_labels.iter().flatten() {
            for m in names::qualified_name(k) {
                errors.push(SelectorError {
                    field: format!("matchLabels[{k:?}]"),
                    message: format!("Invalid value: {k:?}: {m}"),
                });
            }
            for m in names::label_value(v) {
                errors.push(SelectorError {
                    field: format!("matchLabels[{k:?}]"),
                    message: format!("Invalid value: {v:?}: {m}"),
                });
            }
            requirements.push(Requirement::In(k.clone(), vec![v.clone()]));
        }
        for (i, expr) in sel.match_expressions.iter().flatten().enumerate() {
            let field = format!("matchExpressions[{i}]");
            for m in names::qualified_name(&expr.key) {
                errors.push(SelectorError {
                    field: format!("{field}.key"),
                    message: format!("Invalid value: {:?}: {m}", expr.key),
                });
            }
            let values = expr.values.clone().unwrap_or_default();
            let needs_values = match expr.operator.as_str() {
                "In" | "NotIn" => true,
                "Exists" | "DoesNotExist" => false,
                other => {
                    errors.push(SelectorError {
                        field: format!("{field}.operator"),
                        message: format!("Unsupported value: {other:?}: supported values: \"In\", \"NotIn\", \"Exists\", \"DoesNotExist\""),
                    });
                    continue;
                }
            };
            if needs_values && values.is_empty() {
                errors.push(SelectorError {
                    field: format!("{field}.values"),
                    message: "Required value: must be specified when `operator` is 'In' or 'NotIn'".into(),
                });
            }
            if !needs_values && !values.is_empty() {
                errors.push(SelectorError {
                    field: format!("{field}.values"),
                    message: "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
                        .into(),
                });
            }
            for v in &values {
                for m in names::label_value(v) {
                    errors.push(SelectorError {
                        field: format!("{field}.values"),
                        message: format!("Invalid value: {v:?}: {m}"),
                    });
                }
            }
            let key = expr.key.clone();
            requirements.push(match expr.operator.as_str() {
                "In" => Requirement::In(key, values),
                "NotIn" => Requirement::NotIn(key, values),
                "Exists" => Requirement::Exists(key),
                _ => Requirement::DoesNotExist(key),
            });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        requirements.sort();
        requirements.dedup();
        Ok(Selector { requirements })
    }

    /// True for `{}`: matches every label set.
    pub fn is_everything(&self) -> bool {
        self.requirements.is_empty()
    }

    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// Does this selector match the given labels?
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// `matchLabels`-style rendering, for messages: `app=web,tier in (a,b),!x`.
    pub fn describe(&self) -> String {
        if self.requirements.is_empty() {
            return "{} (everything)".to_string();
        }
        self.requirements.iter().map(Requirement::describe).collect::<Vec<_>>().join(",")
    }
}

impl Requirement {
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            Requirement::In(k, vs) => labels.get(k).is_some_and(|v| vs.contains(v)),
            Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|v| !vs.contains(v)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::DoesNotExist(k) => !labels.contains_key(k),
        }
    }

    fn describe(&self) -> String {
        match self {
            Requirement::In(k, vs) if vs.len() == 1 => format!("{k}={}", vs[0]),
            Requirement::In(k, vs) => format!("{k} in ({})", vs.join(",")),
            Requirement::NotIn(k, vs) => format!("{k} notin ({})", vs.join(",")),
            Requirement::Exists(k) => k.clone(),
            Requirement::DoesNotExist(k) => format!("!{k}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn expr(key: &str, op: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: if values.is_empty() {
                None
            } else {
                Some(values.iter().map(|s| s.to_string()).collect())
            },
        }
    }

    #[test]
    fn empty_selector_matches_everything() {
        let s = Selector::from_k8s(&LabelSelector::default()).unwrap();
        assert!(s.matches(&labels(&[])));
        assert!(s.matches(&labels(&[("a", "b")])));
    }

    #[test]
    fn operators_follow_upstream() {
        let sel = |e| {
            Selector::from_k8s(&LabelSelector { match_expressions: Some(vec![e]), ..Default::default() })
                .unwrap()
        };
        let ab = labels(&[("a", "b")]);
        let none = labels(&[]);
        assert!(sel(expr("a", "In", &["b", "c"])).matches(&ab));
        assert!(!sel(expr("a", "In", &["c"])).matches(&ab));
        assert!(!sel(expr("a", "In", &["b"])).matches(&none));
        // NotIn matches when the key is absent (labels.Requirement.Matches).
        assert!(sel(expr("a", "NotIn", &["c"])).matches(&none));
        assert!(!sel(expr("a", "NotIn", &["b"])).matches(&ab));
        assert!(sel(expr("a", "Exists", &[])).matches(&ab));
        assert!(sel(expr("a", "DoesNotExist", &[])).matches(&none));
    }

    #[test]
    fn match_labels_and_expressions_are_anded() {
        let s = Selector::from_k8s(&LabelSelector {
            match_labels: Some([("app".to_string(), "web".to_string())].into()),
            match_expressions: Some(vec![expr("tier", "Exists", &[])]),
        })
        .unwrap();
        assert!(s.matches(&labels(&[("app", "web"), ("tier", "x")])));
        assert!(!s.matches(&labels(&[("app", "web")])));
    }

    #[test]
    fn invalid_selectors_are_reported_with_their_field() {
        let errs = Selector::from_k8s(&LabelSelector {
            match_labels: Some([("bad key!".to_string(), "v".to_string())].into()),
            match_expressions: Some(vec![
                expr("a", "In", &[]),
                expr("b", "Exists", &["x"]),
                expr("c", "Equals", &["x"]),
            ]),
        })
        .unwrap_err();
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "matchLabels[\"bad key!\"]",
                "matchExpressions[0].values",
                "matchExpressions[1].values",
                "matchExpressions[2].operator"
            ]
        );
    }
}
