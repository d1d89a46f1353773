//! `autolabs init`: write a commented starting platform.yaml.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use autolabs_model::{Profile, Provider};
use clap::ValueEnum;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ProfileArg {
    Mvp,
    Production,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ProviderArg {
    Proxmox,
    Aws,
    Gcp,
    Yandex,
    Azure,
    Generic,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Single node (mvp) or 3 control-plane nodes + workers (production).
    #[arg(long, value_enum, default_value = "mvp")]
    profile: ProfileArg,
    /// Where the cluster runs.
    #[arg(long, value_enum, default_value = "proxmox")]
    provider: ProviderArg,
    /// File to write; `-` for standard output.
    #[arg(short, long, default_value = "platform.yaml")]
    output: PathBuf,
    /// Overwrite an existing file.
    #[arg(long)]
    force: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let profile = match args.profile {
        ProfileArg::Mvp => Profile::Mvp,
        ProfileArg::Production => Profile::Production,
    };
    let provider = match args.provider {
        ProviderArg::Proxmox => Provider::Proxmox,
        ProviderArg::Aws => Provider::Aws,
        ProviderArg::Gcp => Provider::Gcp,
        ProviderArg::Yandex => Provider::Yandex,
        ProviderArg::Azure => Provider::Azure,
        ProviderArg::Generic => Provider::Generic,
    };
    let text = autolabs_model::init::starter(profile, provider);
    if args.output.as_os_str() == "-" {
        std::io::stdout().write_all(text.as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.output.exists() && !args.force {
        bail!("{} already exists; pass --force to overwrite it", args.output.display());
    }
    std::fs::write(&args.output, text).with_context(|| format!("cannot write {}", args.output.display()))?;
    eprintln!(
        "wrote {} ({} profile, {} provider); next: `autolabs render -f {0} -o out/`",
        args.output.display(),
        profile.as_str(),
        provider.as_str()
    );
    Ok(ExitCode::SUCCESS)
}
