//! Findings on stdout, and the exit code they give: shared by `verify` and `backup check`.

use std::process::ExitCode;

use autolabs_verify::finding::Summary;
use autolabs_verify::{Finding, ObjectSet, Severity, report};
use clap::ValueEnum;

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Sarif,
    Junit,
}

/// Findings in the chosen format, on stdout, ending with a newline; a closed stdout is an error.
pub fn print_findings(format: Format, findings: &[Finding], summary: &Summary) -> std::io::Result<()> {
    let text = match format {
        Format::Table => report::table(findings, summary),
        Format::Json => report::json(findings, summary),
        Format::Sarif => report::sarif(findings),
        Format::Junit => report::junit(findings, summary),
    };
    out!("{text}")?;
    if !text.ends_with('\n') {
        outln!()?;
    }
    Ok(())
}

/// 2 when an input could not be read or an engine could not take an object in (`invalid*`
/// rules: an object the API server would refuse), 1 when a finding reaches `fail_on`, else 0.
pub fn exit_code(set: &ObjectSet, findings: &[Finding], fail_on: &str) -> ExitCode {
    let object_refused =
        findings.iter().any(|f| f.severity == Severity::Error && f.rule.starts_with("invalid"));
    if !set.errors.is_empty() || object_refused {
        return ExitCode::from(2);
    }
    let threshold = Severity::parse(fail_on).unwrap_or(Severity::Error);
    if findings.iter().any(|f| f.severity >= threshold) { ExitCode::from(1) } else { ExitCode::SUCCESS }
}
