//! `autolabs plan`: capacity planning for N students, with the reasoning printed.
//!
//! Exit codes: 0 the configured nodes hold the students, 1 they do not (the plan says what
//! does), 2 usage or input errors.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::anyhow;
use autolabs_k8s::Quantity;
use autolabs_model::plan::{Plan, PlanInput, plan};
use clap::ValueEnum;

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Labs running at the same time (default: spec.labs.students of the config).
    #[arg(long)]
    students: Option<u32>,
    /// CPU request of one lab, e.g. 500m (default: spec.labs.requests.cpu).
    #[arg(long = "lab-cpu", value_name = "QUANTITY")]
    lab_cpu: Option<String>,
    /// Memory request of one lab, e.g. 512Mi (default: spec.labs.requests.memory).
    #[arg(long = "lab-memory", value_name = "QUANTITY")]
    lab_memory: Option<String>,
    /// platform.yaml to plan for (`-` for stdin); default ./platform.yaml, else the built-in default.
    #[arg(short = 'f', long = "file")]
    file: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

fn quantity(flag: &str, value: Option<&str>) -> anyhow::Result<Option<Quantity>> {
    value
        .map(|v| Quantity::parse(v).map_err(|e| anyhow!("{flag} {v:?}: {e} (examples: 500m, 2, 512Mi, 1Gi)")))
        .transpose()
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (platform, source) = super::config::load_for_planning(args.file.as_deref())?;
    let input = PlanInput {
        students: args.students.unwrap_or_else(|| platform.spec.students()),
        lab_cpu: quantity("--lab-cpu", args.lab_cpu.as_deref())?,
        lab_memory: quantity("--lab-memory", args.lab_memory.as_deref())?,
    };
    let p = plan(&platform.spec, input).map_err(flag_errors)?;
    match args.format {
        Format::Json => outln!("{}", serde_json::to_string_pretty(&p.to_json())?)?,
        Format::Table => out!("{}", table(&p, &source))?,
    }
    Ok(if p.fits { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// The plan's input errors name its fields (`students`, `labCpu`); say them as the flags the
/// user typed, once (the caller prefixes `error: `).
fn flag_errors(error: autolabs_model::ModelError) -> anyhow::Error {
    let autolabs_model::ModelError::Config(errors) = error else { return anyhow!("{error}") };
    let lines: Vec<String> = errors
        .0
        .iter()
        .map(|e| {
            let flag = match e.field.as_str() {
                "students" => "--students",
                "labCpu" => "--lab-cpu",
                "labMemory" => "--lab-memory",
                other => other,
            };
            let hint = e.hint.as_deref().map(|h| format!("\n  help: {h}")).unwrap_or_default();
            format!("{flag}: {}{hint}", e.message)
        })
        .collect();
    anyhow!("{}", lines.join("\nerror: "))
}

fn table(p: &Plan, source: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Capacity plan: {} students, profile {} (config: {source})",
        p.students,
        p.profile.as_str()
    );
    let _ = writeln!(out, "  students × lab:   {} × {} CPU / {}", p.students, p.lab_cpu, p.lab_memory);
    let _ = writeln!(
        out,
        "  verdict:          {} ({} labs fit; free for labs {} CPU / {})",
        if p.fits { "FITS" } else { "DOES NOT FIT" },
        p.labs_that_fit,
        p.free_cpu,
        p.free_memory
    );
    let nodes = |groups: &[autolabs_model::plan::NodeGroup]| {
        groups
            .iter()
            .map(|g| format!("{} × {} ({} CPU / {})", g.count, g.role, g.cpu, g.memory))
            .collect::<Vec<_>>()
            .join(" + ")
    };
    let _ = writeln!(out, "  configured nodes: {}", nodes(&p.nodes));
    match &p.no_recommendation {
        Some(why) => {
            let _ = writeln!(out, "  recommended:      none: {why}");
        }
        None => {
            let _ = writeln!(out, "  recommended:      {}", nodes(&p.recommended_nodes));
        }
    }
    let _ = writeln!(
        out,
        "  one node holds:   {} students (enough by capacity: {}, by availability: {})",
        p.single_node.max_students_by_capacity,
        yes(p.single_node.enough_by_capacity),
        yes(p.single_node.enough_by_availability)
    );
    let _ = writeln!(out, "\nResourceQuotas (as render writes them):");
    for (ns, quota) in &p.namespace_quotas {
        let items = quota.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ");
        let _ = writeln!(out, "  {ns:<15} {items}");
    }
    let _ = writeln!(out, "\nWhy:");
    for r in &p.reasons {
        let _ = writeln!(out, "  - {r}");
    }
    out
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}
