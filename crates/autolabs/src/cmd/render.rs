//! `autolabs render`: the cluster baseline as a YAML stream or a kustomize directory.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use autolabs_model::{Rendered, capacity, output, render};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// platform.yaml to read (`-` for stdin); default ./platform.yaml, else the built-in default.
    #[arg(short = 'f', long = "file")]
    file: Option<PathBuf>,
    /// Write a kustomize-ready directory here instead of printing one YAML stream.
    #[arg(short = 'o', long = "output")]
    output: Option<PathBuf>,
    /// Print only the summary, not the objects.
    #[arg(long)]
    summary: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (platform, source) = super::config::load(args.file.as_deref())?;
    let rendered = render(&platform);
    match (&args.output, args.summary) {
        (Some(dir), _) => {
            let n = output::write_dir(&rendered, dir)
                .with_context(|| format!("cannot write {}", dir.display()))?;
            eprintln!("wrote {n} files to {}", dir.display());
            eprint!("{}", summary(&platform, &rendered, &source));
        }
        (None, true) => out!("{}", summary(&platform, &rendered, &source))?,
        (None, false) => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            // A closed pipe (`| head`) is not an error worth a message.
            let _ = lock.write_all(output::to_stream(&rendered).as_bytes());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What was rendered, in a few lines a person reads.
pub fn summary(platform: &autolabs_model::Platform, r: &Rendered, source: &str) -> String {
    let spec = &platform.spec;
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for m in &r.manifests {
        *kinds.entry(m.kind.as_str()).or_default() += 1;
    }
    let fit = capacity::labs_fit(spec);
    let mut s = String::new();
    s.push_str(&format!(
        "autolabs render: {} ({} profile, {} provider, Kubernetes {})\n",
        source,
        spec.profile.as_str(),
        spec.provider.as_str(),
        spec.kubernetes_version()
    ));
    s.push_str(&format!("  {} objects: ", r.manifests.len()));
    s.push_str(&kinds.iter().map(|(k, n)| format!("{n} {k}")).collect::<Vec<_>>().join(", "));
    s.push('\n');
    if !r.files.is_empty() {
        s.push_str(&format!(
            "  {} control-plane files: {}\n",
            r.files.len(),
            r.files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>().join(", ")
        ));
    }
    let flows = autolabs_model::isolation::flows(spec);
    s.push_str(&format!("  isolation matrix: {} allowed flows, everything else denied\n", flows.len()));
    s.push_str(&format!(
        "  labs: {} students x ({} CPU, {} memory) requests; the nodes hold {} labs ({})\n",
        spec.students(),
        spec.labs.requests.cpu,
        spec.labs.requests.memory,
        fit.labs_that_fit,
        fit.reason
    ));
    s
}
