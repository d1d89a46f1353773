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
    if !summary.skipped.is_empty() {
        let kinds: Vec<String> = summary.skipped.iter().map(|(k, n)| format!("{n} {k}")).collect();
        let _ = writeln!(out, "skipped (no engine reads these kinds): {}", kinds.join(", "));
    }
    out
}

/// The stable JSON contract: `{"findings": [...], "summary": {...}}`.
pub fn json(findings: &[Finding], summary: &Summary) -> String {
    pretty(&json!({"findings": findings, "summary": summary}))
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
                    if let Some(column) = f.column {
                        region["startColumn"] = json!(column);
                    }
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
    pretty(&doc)
}

/// A JSON value as pretty text. Cannot fail: `json!` built it, so every key is a string
/// (an empty SARIF or JSON report written without a word is what this refuses to fall back to).
#[allow(clippy::expect_used, reason = "serialising a serde_json::Value cannot fail")]
fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).expect("a serde_json::Value always serialises")
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

/// The namespace × namespace matrix of allowed connections, as a text table.
/// Pairs outside the namespaces the intent governs follow under their own heading.
pub fn matrix_table(matrix: &Matrix, not_judged: &Matrix) -> String {
    let mut out = String::from("\nallowed connections (from → to):\n");
    let keys = || matrix.keys().chain(not_judged.keys());
    let width = keys().map(|(f, _)| f.len()).max().unwrap_or(4);
    let twidth = keys().map(|(_, t)| t.len()).max().unwrap_or(4);
    for ((from, to), conns) in matrix {
        let _ = writeln!(out, "  {from:<width$} → {to:<twidth$}  {conns}");
    }
    if !not_judged.is_empty() {
        out.push_str("allowed, outside the intent's namespaces (not judged):\n");
        for ((from, to), conns) in not_judged {
            let _ = writeln!(out, "  {from:<width$} → {to:<twidth$}  {conns}");
        }
    }
    out
}

/// The matrix as a Graphviz DOT graph: one node per namespace, one edge per allowed pair.
pub fn matrix_dot(matrix: &std::collections::BTreeMap<(String, String), String>) -> String {
    let mut out = String::from(
        "digraph isolation {\n  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n",
    );
    let mut nodes: Vec<&String> = matrix.keys().flat_map(|(a, b)| [a, b]).collect();
    nodes.sort();
    nodes.dedup();
    for n in nodes {
        let shape = if n == "internet" { ", shape=ellipse" } else { "" };
        let _ = writeln!(out, "  \"{}\" [label=\"{}\"{shape}];", xml(n), xml(n));
    }
    for ((from, to), conns) in matrix {
        let _ = writeln!(out, "  \"{}\" -> \"{}\" [label=\"{}\"];", xml(from), xml(to), xml(conns));
    }
    out.push_str("}\n");
    out
}

fn matrix_axes(matrix: &std::collections::BTreeMap<(String, String), String>) -> Vec<String> {
    let mut names: Vec<String> = matrix.keys().flat_map(|(a, b)| [a.clone(), b.clone()]).collect();
    names.sort();
    names.dedup();
    names
}

type Matrix = std::collections::BTreeMap<(String, String), String>;

/// One cell of the picture: its class (colour) and text.
fn matrix_cell(
    actual: &Matrix,
    intended: Option<&Matrix>,
    not_judged: Option<&Matrix>,
    from: &str,
    to: &str,
) -> (&'static str, String) {
    let key = (from.to_string(), to.to_string());
    if let Some(c) = not_judged.and_then(|n| n.get(&key)) {
        return ("unjudged", format!("{c} (not judged)"));
    }
    let got = actual.get(&key);
    let Some(intended) = intended else {
        return match got {
            Some(c) => ("allow", c.clone()),
            None => ("deny", String::new()),
        };
    };
    match (got, intended.get(&key)) {
        (None, None) => ("deny", String::new()),
        (Some(g), Some(w)) if g == w => ("ok", g.clone()),
        (Some(g), Some(w)) => ("open", format!("{g} (intended: {w})")),
        (Some(g), None) => ("open", format!("{g} (not intended)")),
        (None, Some(w)) => ("blocked", format!("blocked (intended: {w})")),
    }
}

const CELL_COLOURS: [(&str, &str); 6] = [
    ("ok", "#d4edda"),
    ("allow", "#fde2b3"),
    ("open", "#f8c0c0"),
    ("blocked", "#ffe08a"),
    ("deny", "#f2f2f2"),
    // Pairs outside the namespaces the intent governs: allowed traffic shown, not judged —
    // never the "denied" grey (kube-system may reach the internet, and explain says so).
    ("unjudged", "#dbe9f6"),
];

/// The legend: each colour in use and what it means.
fn legend(intended: bool, not_judged: bool) -> Vec<(&'static str, &'static str)> {
    let mut out = if intended {
        vec![
            ("ok", "green: allowed as intended"),
            ("open", "red: allowed but not intended"),
            ("blocked", "yellow: intended but blocked"),
            ("deny", "grey: denied"),
        ]
    } else {
        vec![("allow", "orange: allowed"), ("deny", "grey: denied")]
    };
    if not_judged {
        out.push(("unjudged", "blue: outside the intent's namespaces, allowed, not judged"));
    }
    out
}

fn colour(class: &str) -> &'static str {
    CELL_COLOURS.iter().find(|(c, _)| *c == class).map(|(_, v)| *v).unwrap_or("#ffffff")
}

/// The matrix as a self-contained HTML page: rows are sources, columns destinations; with an
/// intent, cells are coloured intended (green), too open (red) or blocked (yellow).
pub fn matrix_html(matrix: &Matrix, intended: Option<&Matrix>, not_judged: Option<&Matrix>) -> String {
    let mut all = matrix.clone();
    for extra in [intended, not_judged].into_iter().flatten() {
        all.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let names = matrix_axes(&all);
    let style: String = CELL_COLOURS.iter().map(|(c, v)| format!("td.{c}{{background:{v}}}")).collect();
    let mut out = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>autolabs isolation matrix</title>\n<style>body{{font-family:sans-serif}}table{{border-collapse:collapse}}td,th{{border:1px solid #999;padding:4px 8px;font-size:13px}}th.row{{text-align:right}}{style}</style></head><body>\n<h1>Allowed connections</h1><p>Rows: source namespace; columns: destination; cells: allowed ports.{}</p>\n<table><tr><th>from \\ to</th>",
        legend(intended.is_some(), not_judged.is_some_and(|n| !n.is_empty()))
            .iter()
            .map(|(class, text)| format!(
                " <span style=\"background:{}\">&#160;&#160;&#160;</span> {text}.",
                colour(class)
            ))
            .collect::<String>()
    );
    for n in &names {
        let _ = write!(out, "<th>{}</th>", xml(n));
    }
    out.push_str("</tr>\n");
    for from in &names {
        let _ = write!(out, "<tr><th class=\"row\">{}</th>", xml(from));
        for to in &names {
            let (class, text) = matrix_cell(matrix, intended, not_judged, from, to);
            let text = if text.is_empty() { "&#8212;".to_string() } else { xml(&text) };
            let _ = write!(out, "<td class=\"{class}\">{text}</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table></body></html>\n");
    out
}

/// The matrix as an SVG grid (no external tools needed), coloured like [`matrix_html`].
pub fn matrix_svg(matrix: &Matrix, intended: Option<&Matrix>, not_judged: Option<&Matrix>) -> String {
    let mut all = matrix.clone();
    for extra in [intended, not_judged].into_iter().flatten() {
        all.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let names = matrix_axes(&all);
    let legend = legend(intended.is_some(), not_judged.is_some_and(|n| !n.is_empty()));
    let (label_w, cell_w, cell_h) = (130usize, 150usize, 28usize);
    let width = label_w + cell_w * names.len() + 10;
    let grid_bottom = cell_h * (names.len() + 1);
    let height = grid_bottom + 10 + 18 * legend.len();
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"10\">\n"
    );
    for (j, to) in names.iter().enumerate() {
        let _ = writeln!(
            out,
            "<text x=\"{}\" y=\"18\" text-anchor=\"middle\" font-weight=\"bold\">{}</text>",
            label_w + j * cell_w + cell_w / 2,
            xml(to)
        );
    }
    for (i, from) in names.iter().enumerate() {
        let y = cell_h * (i + 1);
        let _ = writeln!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-weight=\"bold\">{}</text>",
            label_w - 6,
            y + 18,
            xml(from)
        );
        for (j, to) in names.iter().enumerate() {
            let x = label_w + j * cell_w;
            let (class, text) = matrix_cell(matrix, intended, not_judged, from, to);
            let _ = writeln!(
                out,
                "<rect x=\"{x}\" y=\"{y}\" width=\"{cell_w}\" height=\"{cell_h}\" fill=\"{}\" stroke=\"#999\"><title>{} → {}: {}</title></rect>",
                colour(class),
                xml(from),
                xml(to),
                xml(if text.is_empty() { "denied" } else { &text })
            );
            if !text.is_empty() {
                let _ = writeln!(
                    out,
                    "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                    x + cell_w / 2,
                    y + 18,
                    xml(&text)
                );
            }
        }
    }
    for (i, (class, text)) in legend.iter().enumerate() {
        let y = grid_bottom + 8 + 18 * i;
        let _ = writeln!(
            out,
            "<rect x=\"{label_w}\" y=\"{y}\" width=\"14\" height=\"14\" fill=\"{}\" stroke=\"#999\"/><text x=\"{}\" y=\"{}\">{}</text>",
            colour(class),
            label_w + 20,
            y + 11,
            xml(text)
        );
    }
    out.push_str("</svg>\n");
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

    /// Reported: pairs outside the intent (kube-system to the internet, allowed, as `explain`
    /// says) were drawn in the "denied" grey.
    #[test]
    fn pairs_outside_the_intent_have_their_own_colour_and_legend() {
        let pair = |a: &str, b: &str, c: &str| ((a.to_string(), b.to_string()), c.to_string());
        let actual: Matrix = [pair("labs", "internet", "TCP 443")].into_iter().collect();
        let intended: Matrix = [pair("labs", "internet", "TCP 443")].into_iter().collect();
        let not_judged: Matrix = [pair("kube-system", "internet", "All")].into_iter().collect();
        assert_eq!(
            matrix_cell(&actual, Some(&intended), Some(&not_judged), "kube-system", "internet"),
            ("unjudged", "All (not judged)".to_string())
        );
        assert_eq!(matrix_cell(&actual, Some(&intended), Some(&not_judged), "internet", "labs").0, "deny");
        let blue = colour("unjudged");
        assert_ne!(blue, colour("deny"));
        for picture in [
            matrix_svg(&actual, Some(&intended), Some(&not_judged)),
            matrix_html(&actual, Some(&intended), Some(&not_judged)),
        ] {
            assert!(picture.contains(blue), "{picture}");
            assert!(
                picture.contains("blue: outside the intent&apos;s namespaces")
                    || picture.contains("blue: outside the intent's namespaces"),
                "{picture}"
            );
            assert!(picture.contains("grey: denied"), "{picture}");
        }
        // Without such pairs the legend does not mention them.
        assert!(!matrix_html(&actual, Some(&intended), None).contains("not judged"));
        let table = matrix_table(&actual, &not_judged);
        let heading = table.find("outside the intent's namespaces (not judged)").expect("a heading");
        assert!(table[heading..].contains("kube-system → internet  All"), "{table}");
    }
}
