//! `autolabs schema`: the JSON Schema of platform.yaml, or the lab API's OpenAPI document.

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the OpenAPI 3.1 document of the lab API (`autolabs serve`; also served at
    /// `/openapi.json`) instead of platform.yaml's JSON Schema.
    #[arg(long)]
    lab_api: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.lab_api {
        let document = super::serve::openapi::document(&super::serve::router::routes());
        outln!("{}", serde_json::to_string_pretty(&document)?)?;
    } else {
        outln!("{}", autolabs_model::schema::platform_schema())?;
    }
    Ok(ExitCode::SUCCESS)
}
