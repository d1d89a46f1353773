//! Findings for people (a table) and for machines (JSON, SARIF 2.1.0, JUnit XML).

use std::fmt::Write as _;

use serde_json::json;

use crate::finding::{Finding, Severity, Summary};

/// Sorts findings the way every format shows them: severity (worst first), then file, line.
pub fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        (std::cmp::Reverse(a.severity), &a.file, a.line, a.engine, &a.rule, &a.message).cmp(&(
            std::cmp::Reverse(b.severity),
            &b.file,
            b.line,
            b.engine,
            &b.rule,
            &b.message,
        ))
    });
}

/// Grouped by severity, each with its object and `file:line`.
pub fn table(findings: &[Finding], summary: &Summary) -> String {
    let mut out = String::new();
    for sev in [Severity::Error, Severity::Warning, Severity::Info] {
        let group: Vec<&Finding> = findings.iter().filter(|f| f.severity == sev).collect();
        if group.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{} ({}):", sev.as_str().to_uppercase(), group.len());
        for f in group {
            let object = f.object.as_ref().map(|o| o.display()).unwrap_or_default();
            let _ = writeln!(out, "  [{}/{}] {}", f.engine, f.rule, f.message);
            match (object.is_empty(), f.location()) {
                (false, Some(loc)) => {
                    let _ = writeln!(out, "      {object}  ({loc})");
                }
                (false, None) => {
                    let _ = writeln!(out, "      {object}");
                }
                (true, Some(loc)) => {
                    let _ = writeln!(out, "      {loc}");
                }
                (true, None) => {}
            }
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "{} error(s), {} warning(s), {} info; {} object(s) from {} file(s)",
        summary.errors, summary.warnings, summary.infos, summary.objects, summary.files
    );
    out
}

/// The stable JSON contract: `{"findings": [...], "summary": {...}}`.
pub fn json(findings: &[Finding], summary: &Summary) -> String {
    serde_json::to_string_pretty(&json!({"findings": findings, "summary": summary})).unwrap_or_default()
}

/// SARIF 2.1.0, one rule per `engine/rule`, results with file and line so code scanning
/// annotates the manifest.
pub fn sarif(findings: &[Finding]) -> String {
    let mut rules: Vec<String> = findings.iter().map(|f| format!("{}/{}", f.engine, f.rule)).collect();
    rules.sort();
    rules.dedup();
    let results: Vec<_> = findings
        .iter()
        .map(|f| {
            let id = format!("{}/{}", f.engine, f.rule);
            let mut r = json!({
                "ruleId": id,
                "ruleIndex": rules.iter().position(|x| *x == id).unwrap_or(0),
                "level": match f.severity { Severity::Error => "error", Severity::Warning => "warning", Severity::Info => "note" },
                "message": {"text": match &f.object { Some(o) => format!("{} ({})", f.message, o.display()), None => f.message.clone() }},
            });
            if let Some(file) = &f.file {
                let mut region = json!({});
                if let Some(line) = f.line {
                    region = json!({"startLine": line});
                }
                r["locations"] = json!([{"physicalLocation": {"artifactLocation": {"uri": file}, "region": region}}]);
            }
            r
        })
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "autolabs",
                "informationUri": "https://autolabs.io",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules.iter().map(|r| json!({"id": r, "shortDescription": {"text": r}})).collect::<Vec<_>>(),
            }},
            "results": results,
        }],
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// JUnit XML: one test suite per engine, one failing test case per error or warning.
pub fn junit(findings: &[Finding], summary: &Summary) -> String {
    let mut engines: Vec<&str> = findings.iter().map(|f| f.engine).collect();
    engines.sort();
    engines.dedup();
    let failures = findings.iter().filter(|f| f.severity >= Severity::Warning).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"autolabs verify\" tests=\"{}\" failures=\"{failures}\">",
        findings.len().max(1)
    );
    if findings.is_empty() {
        let _ = writeln!(
            out,
            "  <testsuite name=\"verify\" tests=\"1\" failures=\"0\">\n    <testcase classname=\"verify\" name=\"{} objects\"/>\n  </testsuite>",
            summary.objects
        );
    }
    for engine in engines {
        let group: Vec<&Finding> = findings.iter().filter(|f| f.engine == engine).collect();
        let fails = group.iter().filter(|f| f.severity >= Severity::Warning).count();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{fails}\">",
            xml(engine),
            group.len()
        );
        for f in group {
            let name = format!("{} {}", f.rule, f.object.as_ref().map(|o| o.display()).unwrap_or_default());
            let _ = write!(
                out,
                "    <testcase classname=\"{}.{}\" name=\"{}\"",
                xml(engine),
                xml(&f.rule),
                xml(name.trim())
            );
            if let Some(file) = &f.file {
                let _ = write!(out, " file=\"{}\"", xml(file));
            }
            if let Some(line) = f.line {
                let _ = write!(out, " line=\"{line}\"");
            }
            if f.severity >= Severity::Warning {
                let _ = writeln!(
                    out,
                    ">\n      <failure type=\"{}\" message=\"{}\">{}</failure>\n    </testcase>",
                    f.severity.as_str(),
                    xml(&f.message),
                    xml(&f.location().unwrap_or_default())
                );
            } else {
                let _ = writeln!(out, "/>");
            }
        }
        let _ = writeln!(out, "  </testsuite>");
    }
    out.push_str("</testsuites>\n");
    out
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Finding> {
        let mut a = Finding::new(
            "pss",
            "runAsNonRoot",
            Severity::Error,
            "runAsNonRoot != true (pod must set securityContext.runAsNonRoot=true)",
        );
        a.file = Some("labs/pod.yaml".into());
        a.line = Some(7);
        a.object = Some(crate::finding::ObjectRef {
            api_version: "v1".into(),
            kind: "Pod".into(),
            namespace: Some("labs".into()),
            name: "x<y".into(),
        });
        vec![
            a,
            Finding::new(
                "netpol",
                "no-default-deny",
                Severity::Warning,
                "namespace \"a\" has no default-deny",
            ),
        ]
    }

    #[test]
    fn sarif_is_2_1_0_with_locations() {
        let v: serde_json::Value = serde_json::from_str(&sarif(&sample())).unwrap();
        assert_eq!(v["version"], "2.1.0");
        let r = &v["runs"][0]["results"][0];
        assert_eq!(r["level"], "error");
        assert_eq!(r["locations"][0]["physicalLocation"]["region"]["startLine"], 7);
        assert_eq!(v["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn junit_escapes_and_counts() {
        let s = Summary::of(&sample(), 3, 1);
        let x = junit(&sample(), &s);
        assert!(x.contains("failures=\"2\""));
        assert!(x.contains("x&lt;y"));
        assert!(!x.contains("x<y"));
    }

    #[test]
    fn json_has_the_contract_fields() {
        let s = Summary::of(&sample(), 3, 1);
        let v: serde_json::Value = serde_json::from_str(&json(&sample(), &s)).unwrap();
        let f = &v["findings"][0];
        for key in ["engine", "rule", "severity", "message", "object", "file", "line"] {
            assert!(f.get(key).is_some(), "{key}");
        }
        assert_eq!(v["summary"]["errors"], 1);
    }
}
