//! The `autolabs` command line: one module per subcommand, each a thin layer over the
//! library crates (`autolabs-model` renders, the engines verify).
#![forbid(unsafe_code)]
// Fail with an error that says what, never a panic: no unwrap/expect outside tests.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// `print!` that returns the write's `io::Result` instead of panicking, so a closed stdout
/// (`autolabs … | head`) comes back as an error [`run`] recognises.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout().lock(), $($arg)*)
    }};
}

/// `println!` that returns the write's `io::Result`; see [`out!`].
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

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
    /// Print the JSON Schema of platform.yaml (for editors), or with --lab-api the lab API's OpenAPI document.
    Schema(cmd::schema::Args),
    /// Render the cluster baseline from platform.yaml (the built-in default when there is none).
    Render(cmd::render::Args),
    /// Check manifests (files, directories, `-`) or the rendered baseline with Kubernetes' own semantics.
    Verify(cmd::verify::Args),
    /// Why a connection is allowed (the rules) or denied (the policies), exit 0 allowed / 1 denied.
    Explain(cmd::explain::Args),
    /// Every allowed connection between workloads (and external ranges), np-guard's format.
    Connlist(cmd::connlist::Args),
    /// Connections added, removed or changed between two manifest sets (exit 1 on any change).
    Diff(cmd::diff::Args),
    /// Print performance figures on synthetic clusters (no assertions).
    Bench(cmd::bench::Args),
    /// Can a user do something? `kubectl auth can-i`, answered from manifests (exit 0 yes, 1 no).
    CanI(cmd::rbac::CanIArgs),
    /// Who can do something? Every subject with the binding → role → rule that allows it.
    WhoCan(cmd::rbac::WhoCanArgs),
    /// Capacity plan for N students: quotas, node count and sizes, when single-node stops being enough.
    Plan(cmd::plan::Args),
    /// Backups: `check` finds stateful workloads without a backup or restore path; `restore-plan` prints the steps.
    #[command(subcommand)]
    Backup(cmd::backup::Command),
    /// Upgrades: `plan` checks removed APIs for a target version and prints the node rollout order.
    #[command(subcommand)]
    Upgrade(cmd::upgrade::Command),
    /// Server-side apply of the rendered baseline to the current kubeconfig's cluster (--dry-run, --prune).
    Apply(cmd::apply::Args),
    /// Save the live cluster's objects as one YAML file that `autolabs verify FILE` checks offline.
    Dump(cmd::dump::Args),
    /// `up --simulate`: a local fake API server (a simulator, not a cluster) with the baseline applied.
    #[cfg(feature = "simulate")]
    Up(cmd::up::Args),
    /// The lab API: create, track, extend and delete student labs (needs a bearer token).
    Serve(cmd::serve::Args),
    /// The operator's client of the lab API: create, get, list, delete, extend, capacity.
    Lab(cmd::lab::Args),
    /// Check on the wire that the cluster enforces the isolation matrix (exit 0 as predicted, 1 not, 2 errors).
    Probe(cmd::probe::Args),
    /// Everything autolabs pins: Kubernetes and Pod Security versions, images, add-on charts.
    Versions(cmd::versions::Args),
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
        Command::Connlist(a) => cmd::connlist::run(a),
        Command::Diff(a) => cmd::diff::run(a),
        Command::Bench(a) => cmd::bench::run(a),
        Command::CanI(a) => cmd::rbac::can_i(a),
        Command::WhoCan(a) => cmd::rbac::who_can(a),
        Command::Plan(a) => cmd::plan::run(a),
        Command::Backup(c) => cmd::backup::run(c),
        Command::Upgrade(c) => cmd::upgrade::run(c),
        Command::Apply(a) => cmd::apply::run(a),
        Command::Dump(a) => cmd::dump::run(a),
        #[cfg(feature = "simulate")]
        Command::Up(a) => cmd::up::run(a),
        Command::Serve(a) => cmd::serve::run(a),
        Command::Lab(a) => cmd::lab::run(a),
        Command::Probe(a) => cmd::probe::run(a),
        Command::Versions(a) => cmd::versions::run(a),
    };
    match result {
        Ok(code) => code,
        // Like other Unix tools, exit quietly when the reader of stdout went away.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Whether an error is, somewhere in its chain, a write to a closed pipe (`autolabs … | head`),
/// as ripgrep tells a closed stdout from a real failure.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_pipe_is_found_under_context() {
        let closed = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        let error = anyhow::Error::new(closed).context("writing the table").context("verify");
        assert!(is_broken_pipe(&error));
        let other = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::PermissionDenied));
        assert!(!is_broken_pipe(&other.context("writing out/")));
        assert!(!is_broken_pipe(&anyhow::anyhow!("Broken pipe")));
    }
}
