//! The `autolabs` command line: one module per subcommand, each a thin layer over the
//! library crates (`autolabs-model` renders, the engines verify).
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;

/// Build, prove and run the AutoLabs Kubernetes platform.
#[derive(Debug, Parser)]
#[command(name = "autolabs", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a commented starting platform.yaml.
    Init(cmd::init::Args),
    /// Print the JSON Schema of platform.yaml (for editors).
    Schema(cmd::schema::Args),
    /// Render the cluster baseline from platform.yaml (the built-in default when there is none).
    Render(cmd::render::Args),
    /// Check manifests (files, directories, `-`) or the rendered baseline with Kubernetes' own semantics.
    Verify(cmd::verify::Args),
    /// Why a connection is allowed (the rules) or denied (the policies), exit 0 allowed / 1 denied.
    Explain(cmd::explain::Args),
    /// Print performance figures on synthetic clusters (no assertions).
    Bench(cmd::bench::Args),
    /// Can a user do something? `kubectl auth can-i`, answered from manifests (exit 0 yes, 1 no).
    CanI(cmd::rbac::CanIArgs),
    /// Who can do something? Every subject with the binding → role → rule that allows it.
    WhoCan(cmd::rbac::WhoCanArgs),
}

/// Exit codes: 0 success, 1 findings or failure of the operation, 2 usage or input errors.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Init(a) => cmd::init::run(a),
        Command::Schema(a) => cmd::schema::run(a),
        Command::Render(a) => cmd::render::run(a),
        Command::Verify(a) => cmd::verify::run(a),
        Command::Explain(a) => cmd::explain::run(a),
        Command::Bench(a) => cmd::bench::run(a),
        Command::CanI(a) => cmd::rbac::can_i(a),
        Command::WhoCan(a) => cmd::rbac::who_can(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
