//! `autolabs dump -o FILE`: the live cluster as one `kind: List` YAML file, so that
//! `autolabs verify FILE` checks it later, offline, exactly as `verify --cluster` would.
//!
//! What is read (and what is not: Secrets, ConfigMaps) is `autolabs_kube::live::LIVE_KINDS`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use autolabs_kube::live;
use autolabs_verify::ObjectSet;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// File to write (`-` for stdout).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: PathBuf,
    /// kubeconfig context to use (default: the current context).
    #[arg(long)]
    context: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let set = read_cluster_blocking(args.context.as_deref())?;
    let text = live::dump_yaml(&set)?;
    if args.output.as_os_str() == "-" {
        out!("{text}")?;
    } else {
        std::fs::write(&args.output, text)
            .with_context(|| format!("cannot write {}", args.output.display()))?;
        eprintln!(
            "wrote {} objects from the cluster to {}; check them offline with `autolabs verify {}`",
            set.objects.len(),
            args.output.display(),
            args.output.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The live cluster of the kubeconfig (`context` or the current one) as the object set
/// `verify` reads: what `verify --cluster` runs its engines on.
pub fn read_cluster_blocking(context: Option<&str>) -> anyhow::Result<ObjectSet> {
    super::apply::runtime()?.block_on(async {
        let client = live::connect(context).await?;
        Ok(live::read_cluster(&client).await?)
    })
}
