//! Finding and loading `platform.yaml`, shared by every subcommand that reads it.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use autolabs_model::{ConfigErrors, Platform, load_platform, load_platform_for_planning};

/// The config to use: `-f PATH`, else `./platform.yaml` when it exists, else the built-in
/// default (the design document's platform). Returns the platform and where it came from.
pub fn load(path: Option<&Path>) -> anyhow::Result<(Platform, String)> {
    load_with(path, load_platform)
}

/// [`load`] without refusing a config whose nodes cannot hold its students: `plan` says why.
pub fn load_for_planning(path: Option<&Path>) -> anyhow::Result<(Platform, String)> {
    load_with(path, load_platform_for_planning)
}

fn load_with(
    path: Option<&Path>,
    loader: fn(&str, &str) -> Result<Platform, ConfigErrors>,
) -> anyhow::Result<(Platform, String)> {
    let path: Option<PathBuf> = match path {
        Some(p) => Some(p.to_path_buf()),
        None => Some(PathBuf::from("platform.yaml")).filter(|p| p.exists()),
    };
    let Some(path) = path else {
        return Ok((Platform::default(), "built-in default (the design document's mvp platform)".into()));
    };
    let name = path.display().to_string();
    let text = if name == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .context("reading platform.yaml from stdin")?;
        s
    } else {
        std::fs::read_to_string(&path).with_context(|| format!("cannot read {name}"))?
    };
    match loader(&text, &name) {
        Ok(p) => Ok((p, name)),
        Err(errors) => {
            eprintln!("{errors}");
            bail!(
                "{name} is not a valid platform config ({} problem{})",
                errors.0.len(),
                if errors.0.len() == 1 { "" } else { "s" }
            )
        }
    }
}
