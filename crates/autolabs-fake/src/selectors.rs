//! The string forms of label and field selectors that list, watch and deletecollection take.
//!
//! Label selectors (`a=b,c!=d,e in (x,y),!f,g`) are parsed as `k8s.io/apimachinery/pkg/labels`
//! `Parse` does and then matched with [`autolabs_k8s::Selector`]; the numeric `>`/`<`
//! operators, which a `LabelSelector` cannot express, are matched here. Field selectors
//! support `=`, `==` and `!=` on the fields each resource declares (`metadata.name`,
//! `metadata.namespace` everywhere, a few more for pods, events, secrets and namespaces).

use std::collections::BTreeMap;

use autolabs_k8s::k8s::{LabelSelector, LabelSelectorRequirement};
use autolabs_k8s::{Selector, names};
use serde_json::Value;

use super::status::Status;

/// A parsed `labelSelector` query parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelQuery {
    selector: Selector,
    /// `key > n` (true) or `key < n` (false).
    numeric: Vec<(String, bool, i64)>,
}

impl LabelQuery {
    /// Matches every label set.
    pub fn everything() -> Self {
        LabelQuery { selector: Selector::everything(), numeric: Vec::new() }
    }

    pub fn is_everything(&self) -> bool {
        self.selector.is_everything() && self.numeric.is_empty()
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.selector.matches(labels)
            && self.numeric.iter().all(|(key, greater, bound)| {
                // labels.Requirement.Matches: GreaterThan/LessThan need an integer label value.
                labels
                    .get(key)
                    .and_then(|v| v.parse::<i64>().ok())
                    .is_some_and(|v| if *greater { v > *bound } else { v < *bound })
            })
    }

    /// Parses the string syntax.
    // k8s.io/apimachinery/pkg/labels/selector.go Parse (Lexer + Parser.parseRequirement)
    pub fn parse(input: &str) -> Result<Self, Status> {
        let fail = |why: String| Status::bad_request(format!("unable to parse requirement: {why}"));
        let mut expressions = Vec::new();
        let mut numeric = Vec::new();
        for part in split_top_level(input).map_err(Status::bad_request)? {
            let part = part.trim();
            if part.is_empty() {
                if input.trim().is_empty() {
                    continue;
                }
                return Err(fail("found '', expected: !, identifier, or 'end of string'".into()));
            }
            let requirement = parse_requirement(part).map_err(fail)?;
            match requirement {
                Parsed::Set(key, operator, values) => {
                    check_key(&key).map_err(fail)?;
                    for v in &values {
                        check_value(v).map_err(fail)?;
                    }
                    expressions.push(LabelSelectorRequirement {
                        key,
                        operator: operator.into(),
                        values: (!values.is_empty()).then_some(values),
                    });
                }
                Parsed::Numeric(key, greater, bound) => {
                    check_key(&key).map_err(fail)?;
                    numeric.push((key, greater, bound));
                }
            }
        }
        let selector =
            Selector::from_k8s(&LabelSelector { match_labels: None, match_expressions: Some(expressions) })
                .map_err(|errors| {
                Status::bad_request(errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))
            })?;
        Ok(LabelQuery { selector, numeric })
    }
}

enum Parsed {
    Set(String, &'static str, Vec<String>),
    Numeric(String, bool, i64),
}

/// Splits on commas that are not inside `( … )`.
fn split_top_level(input: &str) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in input.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth = depth.checked_sub(1).ok_or_else(|| format!("unbalanced ')' in selector {input:?}"))?
            }
            ',' if depth == 0 => {
                parts.push(&input[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(format!("unable to parse requirement: unclosed '(' in selector {input:?}"));
    }
    parts.push(&input[start..]);
    Ok(parts)
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/')
}

fn parse_requirement(part: &str) -> Result<Parsed, String> {
    if let Some(rest) = part.strip_prefix('!') {
        let key = rest.trim();
        if key.is_empty() || !key.chars().all(is_key_char) {
            return Err(format!("found '{key}', expected: identifier"));
        }
        return Ok(Parsed::Set(key.to_string(), "DoesNotExist", Vec::new()));
    }
    let key_end = part.find(|c: char| !is_key_char(c)).unwrap_or(part.len());
    let key = part[..key_end].to_string();
    if key.is_empty() {
        return Err(format!("found '{part}', expected: !, identifier, or 'end of string'"));
    }
    let rest = part[key_end..].trim_start();
    if rest.is_empty() {
        return Ok(Parsed::Set(key, "Exists", Vec::new()));
    }
    let single = |value: &str| -> Result<String, String> {
        let value = value.trim();
        if value.chars().any(|c| c.is_whitespace() || matches!(c, ',' | '(' | ')' | '=' | '!')) {
            return Err(format!("found '{value}', expected: identifier"));
        }
        Ok(value.to_string())
    };
    if let Some(v) = rest.strip_prefix("==").or_else(|| rest.strip_prefix('=')) {
        return Ok(Parsed::Set(key, "In", vec![single(v)?]));
    }
    if let Some(v) = rest.strip_prefix("!=") {
        return Ok(Parsed::Set(key, "NotIn", vec![single(v)?]));
    }
    for (symbol, greater) in [(">", true), ("<", false)] {
        if let Some(v) = rest.strip_prefix(symbol) {
            let v = v.trim();
            let bound = v
                .parse::<i64>()
                .map_err(|_| format!("for 'Gt', 'Lt' operators, the value must be an integer: {v:?}"))?;
            return Ok(Parsed::Numeric(key, greater, bound));
        }
    }
    let lowered = rest.to_ascii_lowercase();
    let (operator, after) = if lowered.starts_with("notin") {
        ("NotIn", &rest[5..])
    } else if lowered.starts_with("in") {
        ("In", &rest[2..])
    } else {
        return Err(format!("found '{rest}', expected: in, notin, =, ==, !=, gt, lt"));
    };
    let after = after.trim();
    let inner = after
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .ok_or_else(|| format!("found '{after}', expected: '('"))?;
    if inner.trim().is_empty() {
        return Err("for 'in', 'notin' operators, values set can't be empty".into());
    }
    let values: Vec<String> = inner.split(',').map(single).collect::<Result<_, _>>()?;
    Ok(Parsed::Set(key, operator, values))
}

fn check_key(key: &str) -> Result<(), String> {
    match names::qualified_name(key).first() {
        Some(problem) => Err(format!("invalid label key {key:?}: {problem}")),
        None => Ok(()),
    }
}

fn check_value(value: &str) -> Result<(), String> {
    match names::label_value(value).first() {
        Some(problem) => Err(format!("invalid label value: {value:?}: at key: {problem}")),
        None => Ok(()),
    }
}

/// A parsed `fieldSelector` query parameter: `(field, must_equal, value)` terms, all ANDed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldQuery {
    terms: Vec<(String, bool, String)>,
}

/// The fields a resource can be selected by, besides `metadata.name` and `metadata.namespace`.
// k8s.io/kubernetes/pkg/registry/core/pod/strategy.go ToSelectableFields (and the event,
// secret and namespace strategies' GetAttrs)
fn extra_fields(plural: &str) -> &'static [&'static str] {
    match plural {
        "pods" => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        "events" => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        "secrets" => &["type"],
        "namespaces" => &["status.phase"],
        "jobs" => &["status.successful"],
        _ => &[],
    }
}

impl FieldQuery {
    pub fn is_everything(&self) -> bool {
        self.terms.is_empty()
    }

    /// Parses `a=b,c!=d` and checks every field is selectable on `plural`.
    // k8s.io/apimachinery/pkg/fields/selector.go ParseSelector
    pub fn parse(input: &str, plural: &str) -> Result<Self, Status> {
        let mut terms = Vec::new();
        for part in input.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, equal, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, true, v)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, true, v)
            } else {
                return Err(Status::bad_request(format!(
                    "invalid selector: '{input}'; can't understand '{part}'"
                )));
            };
            let field = field.trim();
            if !matches!(field, "metadata.name" | "metadata.namespace")
                && !extra_fields(plural).contains(&field)
            {
                // k8s.io/apiserver/pkg/registry/generic/registry/store.go (field label conversion)
                return Err(Status::bad_request(format!("field label not supported: {field}")));
            }
            terms.push((field.to_string(), equal, value.trim().to_string()));
        }
        Ok(FieldQuery { terms })
    }

    pub fn matches(&self, object: &Value) -> bool {
        self.terms.iter().all(|(field, equal, value)| (field_value(object, field) == *value) == *equal)
    }
}

/// The field's value as a string (`""` when absent), with `source` meaning `source.component`.
fn field_value(object: &Value, field: &str) -> String {
    let path = if field == "source" { "source.component" } else { field };
    let mut current = object;
    for segment in path.split('.') {
        match current.get(segment) {
            Some(next) => current = next,
            None => return String::new(),
        }
    }
    match current {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn label_selector_string_syntax() {
        let ab = labels(&[("a", "b"), ("n", "5")]);
        let empty = labels(&[]);
        // (selector, matches {a=b,n=5}, matches {}) — labels.Parse + Requirement.Matches
        let rows: [(&str, bool, bool); 14] = [
            ("", true, true),
            ("a=b", true, false),
            ("a==b", true, false),
            ("a!=b", false, true), // NotEquals matches a missing key
            ("a!=c", true, true),
            ("a in (b, c)", true, false),
            ("a notin (b)", false, true),
            ("a", true, false),
            ("!a", false, true),
            ("a=b,n", true, false),
            ("n>4", true, false),
            ("n<5", false, false),
            ("a=b, !x", true, false),
            ("x in (y),a", false, false),
        ];
        for (input, on_ab, on_empty) in rows {
            let q = LabelQuery::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(q.matches(&ab), on_ab, "{input} on a=b");
            assert_eq!(q.matches(&empty), on_empty, "{input} on {{}}");
        }
    }

    #[test]
    fn bad_label_selectors_are_400() {
        for input in ["a=b=c", "a in b", "a in (b", "a in ()", "Bad Key=x", "a=-x-", "n>x", "a,,b", "=b"] {
            let err = LabelQuery::parse(input).expect_err(input);
            assert_eq!(err.code, 400, "{input}");
        }
    }

    #[test]
    fn field_selectors() {
        let pod = json!({"metadata": {"name": "p", "namespace": "n"}, "status": {"phase": "Running"}, "spec": {"hostNetwork": true}});
        let rows: [(&str, bool); 6] = [
            ("metadata.name=p", true),
            ("metadata.name==p", true),
            ("metadata.name!=p", false),
            ("metadata.namespace=n,status.phase=Running", true),
            ("spec.nodeName=", true),
            ("spec.hostNetwork=true", true),
        ];
        for (input, expected) in rows {
            assert_eq!(FieldQuery::parse(input, "pods").unwrap().matches(&pod), expected, "{input}");
        }
        assert_eq!(FieldQuery::parse("spec.nodeName=x", "configmaps").unwrap_err().code, 400);
        assert_eq!(FieldQuery::parse("nonsense", "pods").unwrap_err().code, 400);
    }
}
