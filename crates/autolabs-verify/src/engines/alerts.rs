//! Prometheus alert rules, as a PrometheusRule (`monitoring.coreos.com/v1`) or as a rules
//! file in a ConfigMap (a key ending in `.rules.yaml`, `.rules.yml` or `.rules`): the rule
//! groups must have the shape Prometheus loads (`groups[].rules[]` with `alert` or `record`,
//! a non-empty `expr`, a valid `for` duration) and every expression must be lexically sound
//! (balanced brackets and braces, closed strings). This is not a full PromQL parser:
//! `promtool check rules` remains the authority, and the tests run it where it is installed.

use serde_json::Value;

use crate::finding::{Finding, Severity};
use crate::objects::{Object, ObjectSet};

pub fn check(set: &ObjectSet) -> Vec<Finding> {
    let mut out = Vec::new();
    for o in set.objects.iter().filter(|o| o.kind == "PrometheusRule" && o.group() == "monitoring.coreos.com")
    {
        check_groups(o, &o.value["spec"], "spec", &mut out);
    }
    for o in set.of_kind("", "ConfigMap") {
        let Some(data) = o.value["data"].as_object() else { continue };
        for (key, text) in data {
            if !(key.ends_with(".rules.yaml") || key.ends_with(".rules.yml") || key.ends_with(".rules")) {
                continue;
            }
            let path = format!("data[{key:?}]");
            match autolabs_k8s::yaml::parse_one(text.as_str().unwrap_or_default()) {
                Ok(doc) => check_groups(o, &doc.value, &path, &mut out),
                Err(e) => out.push(
                    Finding::new(
                        "alerts",
                        "rules-yaml",
                        Severity::Error,
                        format!("{key}: not valid YAML: {e}"),
                    )
                    .at(o, &path),
                ),
            }
        }
    }
    out
}

fn check_groups(o: &Object, spec: &Value, base: &str, out: &mut Vec<Finding>) {
    let mut warnings = Vec::new();
    let mut bad = |path: &str, message: String| {
        out.push(Finding::new("alerts", "rule-invalid", Severity::Error, message).at(o, path));
    };
    let Some(groups) = spec["groups"].as_array() else {
        bad(base, "no `groups` list: Prometheus would load nothing".into());
        return;
    };
    let mut group_names = std::collections::BTreeSet::new();
    for (gi, g) in groups.iter().enumerate() {
        let gpath = format!("{base}.groups[{gi}]");
        let name = g["name"].as_str().unwrap_or_default();
        if name.is_empty() {
            bad(&gpath, format!("group {gi} has no name"));
        } else if !group_names.insert(name.to_string()) {
            bad(&gpath, format!("group name {name:?} is used twice"));
        }
        for (ri, r) in g["rules"].as_array().into_iter().flatten().enumerate() {
            let rpath = format!("{gpath}.rules[{ri}]");
            let (alert, record) = (r["alert"].as_str(), r["record"].as_str());
            let what = alert.or(record).unwrap_or("?");
            if alert.is_some() == record.is_some() {
                bad(&rpath, format!("rule {ri} of group {name:?} needs exactly one of `alert` or `record`"));
            }
            match r["expr"].as_str().or_else(|| r["expr"].as_i64().map(|_| "0")) {
                Some(expr) if !expr.trim().is_empty() => {
                    if let Err(e) = lex_check(expr) {
                        bad(&format!("{rpath}.expr"), format!("{what}: expression does not parse: {e}"));
                    }
                }
                _ => bad(&rpath, format!("{what}: `expr` is missing or empty")),
            }
            if let Some(d) = r.get("for")
                && !d.as_str().is_some_and(is_duration)
            {
                bad(
                    &format!("{rpath}.for"),
                    format!("{what}: `for: {d}` is not a Prometheus duration (like 5m, 1h30m)"),
                );
            }
            if alert.is_some() && r["labels"]["severity"].as_str().is_none() {
                warnings.push(
                    Finding::new(
                        "alerts",
                        "rule-severity",
                        Severity::Warning,
                        format!("alert {what} has no severity label: routing cannot tell pages from tickets"),
                    )
                    .at(o, &rpath),
                );
            }
        }
    }
    out.extend(warnings);
}

/// Prometheus durations: `[0-9]+(ms|s|m|h|d|w|y)` repeated, largest unit first.
fn is_duration(d: &str) -> bool {
    let units = ["y", "w", "d", "h", "m", "s", "ms"];
    let mut rest = d;
    let mut last = 0usize;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return false;
        }
        rest = &rest[digits..];
        let unit = if rest.starts_with("ms") {
            "ms"
        } else {
            &rest[..rest.chars().next().map_or(0, char::len_utf8)]
        };
        let Some(pos) = units.iter().position(|u| *u == unit) else { return false };
        let pos = pos + 1;
        if pos <= last {
            return false;
        }
        last = pos;
        rest = &rest[unit.len()..];
    }
    true
}

/// Balanced `()`, `[]`, `{}` outside strings, and closed `"`, `'` and backtick strings.
fn lex_check(expr: &str) -> Result<(), String> {
    let mut stack = Vec::new();
    let mut chars = expr.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' | '\'' | '`' => {
                let mut closed = false;
                while let Some((_, d)) = chars.next() {
                    if d == '\\' && c != '`' {
                        chars.next();
                    } else if d == c {
                        closed = true;
                        break;
                    }
                }
                if !closed {
                    return Err(format!("string opened at {i} is not closed"));
                }
            }
            '#' => {
                // comment to end of line
                for (_, d) in chars.by_ref() {
                    if d == '\n' {
                        break;
                    }
                }
            }
            '(' | '[' | '{' => stack.push((c, i)),
            ')' | ']' | '}' => {
                let want = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                match stack.pop() {
                    Some((open, _)) if open == want => {}
                    Some((open, at)) => return Err(format!("{c:?} at {i} closes {open:?} opened at {at}")),
                    None => return Err(format!("{c:?} at {i} closes nothing")),
                }
            }
            _ => {}
        }
    }
    match stack.pop() {
        Some((open, at)) => Err(format!("{open:?} opened at {at} is never closed")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_brackets() {
        for ok in ["5m", "1h30m", "90s", "1d", "500ms", "2w"] {
            assert!(is_duration(ok), "{ok}");
        }
        for bad in ["", "5", "m5", "30m1h", "5 m", "1x"] {
            assert!(!is_duration(bad), "{bad}");
        }
        assert!(lex_check("sum(rate(x{job=\"a)\"}[5m])) > 0").is_ok());
        assert!(lex_check("sum(rate(x[5m]) > 0").is_err());
        assert!(lex_check("x{a=\"b}").is_err());
        assert!(lex_check("(a]").is_err());
    }

    #[test]
    fn rules_files_in_configmaps_are_checked() {
        let mut set = ObjectSet::default();
        set.add_text(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: r, namespace: m}\ndata:\n  a.rules.yaml: |\n    groups:\n    - name: g\n      rules:\n      - alert: Broken\n        expr: sum(rate(x[5m])\n        for: 5\n",
            "cm.yaml",
        );
        let f = check(&set);
        let rules: Vec<&str> = f.iter().map(|f| f.rule.as_str()).collect();
        assert_eq!(rules.iter().filter(|r| **r == "rule-invalid").count(), 2, "{f:?}");
        assert!(rules.contains(&"rule-severity"));
    }
}
