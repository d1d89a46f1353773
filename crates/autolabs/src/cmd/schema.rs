//! `autolabs schema`: the JSON Schema of platform.yaml.

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_: Args) -> anyhow::Result<ExitCode> {
    outln!("{}", autolabs_model::schema::platform_schema())?;
    Ok(ExitCode::SUCCESS)
}
