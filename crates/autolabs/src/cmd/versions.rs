//! `autolabs versions [-f platform.yaml] [--format table|json]`: everything autolabs pins
//! (`autolabs_model::versions`), as this platform resolves it: the Kubernetes version and the
//! Pod Security label version it implies, every image (default or overridden, by digest or
//! by tag), and the add-on charts.

use std::path::PathBuf;
use std::process::ExitCode;

use autolabs_model::versions::Versions;
use clap::ValueEnum;

use super::table;

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// platform.yaml (default ./platform.yaml, else the built-in default).
    #[arg(short = 'f', long = "config")]
    config: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (platform, _) = super::config::load(args.config.as_deref())?;
    let versions = Versions::of(&platform.spec);
    match args.format {
        Format::Json => outln!("{}", serde_json::to_string_pretty(&versions)?)?,
        Format::Table => out!("{}", table(&versions))?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The human form: one section per kind of pin, columns aligned.
fn table(v: &Versions) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "Kubernetes:            {} (supported {})\n",
        v.kubernetes, v.kubernetes_supported
    ));
    out.push_str(&format!(
        "Pod Security labels:   {} (pod-security.kubernetes.io/*-version)\n",
        v.pod_security_version
    ));
    out.push_str(&format!("kubeadm:               {}\n", v.kubeadm_version));
    out.push_str("\nImages:\n");
    let rows: Vec<[String; 5]> = v
        .images
        .iter()
        .map(|i| {
            [
                i.field.unwrap_or("(fixed)").to_string(),
                i.image.clone(),
                if i.digest.is_some() { "digest".into() } else { "tag only".into() },
                if i.overridden { "platform.yaml".into() } else { "default".into() },
                i.component.to_string(),
            ]
        })
        .collect();
    out.push_str(&table::columns(
        table::NESTED,
        &["FIELD", "IMAGE", "PINNED BY", "FROM", "COMPONENT"],
        &rows,
    ));
    out.push_str("\nCharts:\n");
    if v.charts.is_empty() {
        out.push_str("  (none pinned yet)\n");
    } else {
        let rows: Vec<[String; 4]> = v
            .charts
            .iter()
            .map(|c| {
                [c.name.to_string(), c.version.to_string(), c.app_version.to_string(), c.repo.to_string()]
            })
            .collect();
        out.push_str(&table::columns(
            table::NESTED,
            &["CHART", "VERSION", "APP VERSION", "REPOSITORY"],
            &rows,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_lists_every_pin_of_the_default_platform() {
        let v = Versions::of(&autolabs_model::Platform::default().spec);
        let t = table(&v);
        assert!(t.contains("Kubernetes:            1.30 (supported 1.28 … 1.37)"), "{t}");
        assert!(t.contains("Pod Security labels:   v1.30"), "{t}");
        for pin in autolabs_model::versions::IMAGES {
            let row = t.lines().find(|l| l.contains(pin.component)).unwrap_or_else(|| panic!("{t}"));
            assert!(row.trim_start().starts_with(pin.field.unwrap_or("(fixed)")), "{row}");
            assert!(
                row.contains(pin.default) && row.contains("tag only") && row.contains("default"),
                "{row}"
            );
        }
        // The add-on charts of the default platform, from the table addons/ is rendered from.
        for chart in autolabs_model::versions::charts_of(&autolabs_model::Platform::default().spec) {
            let row = t.lines().find(|l| l.contains(chart.name) && l.contains(chart.version));
            assert!(row.is_some_and(|r| r.contains(chart.app_version)), "{} missing: {t}", chart.name);
        }
        assert!(!t.contains("(none pinned yet)"), "{t}");
    }
}
