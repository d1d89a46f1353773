//! `autolabs probe` output: a table for people, JSON and JUnit XML for CI.

use std::fmt::Write as _;

use super::plan::{Judged, Outcome, Report, Verdict};

fn observed(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Reached => "reached".into(),
        Outcome::Blocked(why) => format!("blocked ({why})"),
        Outcome::NotRun(why) => format!("not run ({why})"),
    }
}

fn predicted(result: &Judged) -> &'static str {
    if result.predicted_allowed { "allowed" } else { "denied" }
}

/// One line per probe, then the counts and the conclusions; `wall` is the whole run's time.
pub fn to_table(report: &Report, wall_seconds: f64) -> String {
    let rows: Vec<[String; 5]> = report
        .results
        .iter()
        .map(|r| {
            [
                r.from.clone(),
                r.to.clone(),
                format!("{}/{}", r.protocol.as_str(), r.port),
                format!("{} → {}", predicted(r), observed(&r.outcome)),
                r.verdict.as_str().to_string(),
            ]
        })
        .collect();
    let header = ["FROM", "TO", "PORT", "PREDICTED → OBSERVED", "VERDICT"];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &[&str]| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let pad = widths[i].saturating_sub(cell.chars().count());
            text.push_str(cell);
            if i + 1 < cells.len() {
                text.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut out, &header);
    for row in &rows {
        line(&mut out, &row.each_ref().map(String::as_str));
    }
    for result in report.results.iter().filter(|r| r.verdict == Verdict::DeniedButPredictedAllowed) {
        let _ = writeln!(
            out,
            "\n{} → {} {}/{}: should be allowed: {}",
            result.from,
            result.to,
            result.protocol.as_str(),
            result.port,
            result.because
        );
    }
    let _ = writeln!(
        out,
        "\n{} probes in {wall_seconds:.1} s: {} as predicted, {} allowed but predicted denied, {} denied but predicted allowed, {} not probed",
        report.results.len(),
        report.as_predicted,
        report.allowed_but_predicted_denied,
        report.denied_but_predicted_allowed,
        report.not_probed
    );
    for conclusion in &report.conclusions {
        let _ = writeln!(out, "{}: {conclusion}", if report.passed() { "ok" } else { "error" });
    }
    out
}

/// The report as JSON, with the run's wall time.
pub fn to_json(report: &Report, wall_seconds: f64) -> serde_json::Value {
    let mut value = serde_json::to_value(report).unwrap_or_default();
    value["passed"] = report.passed().into();
    value["wallSeconds"] = serde_json::json!((wall_seconds * 10.0).round() / 10.0);
    value
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// JUnit XML: one test case per probe; the failures are the cells not as predicted.
pub fn to_junit(report: &Report, wall_seconds: f64) -> String {
    let failures = report.allowed_but_predicted_denied + report.denied_but_predicted_allowed;
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuite name=\"autolabs probe\" tests=\"{}\" failures=\"{failures}\" skipped=\"{}\" time=\"{wall_seconds:.1}\">",
        report.results.len(),
        report.not_probed
    );
    for r in &report.results {
        let _ = write!(
            out,
            "  <testcase classname=\"{}\" name=\"{}/{} predicted {}\"",
            xml_escape(&format!("{} -> {}", r.from, r.to)),
            r.protocol.as_str(),
            r.port,
            predicted(r)
        );
        match r.verdict {
            Verdict::AsPredicted => out.push_str("/>\n"),
            Verdict::NotProbed => {
                let _ =
                    writeln!(out, "><skipped message=\"{}\"/></testcase>", xml_escape(&observed(&r.outcome)));
            }
            verdict => {
                let _ = writeln!(
                    out,
                    "><failure message=\"{}\">{}</failure></testcase>",
                    xml_escape(verdict.as_str()),
                    xml_escape(&format!("{}; {}", observed(&r.outcome), r.because))
                );
            }
        }
    }
    if !report.conclusions.is_empty() {
        let _ = writeln!(out, "  <system-out>{}</system-out>", xml_escape(&report.conclusions.join("\n")));
    }
    out.push_str("</testsuite>\n");
    out
}
