//! `autolabs explain FROM TO PORT`: which rule allows a connection, or which policies deny it.
//!
//! Exit codes: 0 allowed, 1 denied, 2 usage or input errors (as `connlist`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use autolabs_netpol::{Analysis, Endpoint, IpNet, Protocol};
use autolabs_verify::intent::{Intent, analyse_with_probes_options};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Source: `NAMESPACE/POD`, `NAMESPACE/KIND/NAME` for a workload (its pods), or an IP address.
    from: String,
    /// Destination, written like FROM.
    to: String,
    /// The port (as `--port`; `explain FROM TO 5432`), then manifests (files, directories,
    /// `-`). Without manifests, the baseline rendered from platform.yaml, with probe pods
    /// standing in for the pods the matrix names (`NAMESPACE/probe:…`).
    #[arg(value_name = "[PORT] PATHS")]
    paths: Vec<PathBuf>,
    /// `80`, `80/TCP`, `TCP/80` or `53/UDP`. Without it: every allowed connection, and why
    /// traffic is denied when nothing is.
    #[arg(long)]
    port: Option<String>,
    /// More manifests (same as PATH).
    #[arg(short = 'f', long = "filename")]
    files: Vec<PathBuf>,
    /// `text` or `json` (`{"allowed": bool, "egress": …, "ingress": …}`).
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    format: String,
    /// How pods with `hostNetwork: true` are treated: `exempt` from NetworkPolicy (most
    /// plugins) or `as-pod` (as np-guard's netpol-analyzer does).
    #[arg(long, value_enum, default_value = "exempt")]
    host_network: super::netpol_args::HostNetworkArg,
    #[command(flatten)]
    inputs: super::inputs::InputArgs,
}

fn endpoint(a: &Analysis, text: &str) -> anyhow::Result<Endpoint> {
    if let Ok(ip) = text.parse::<std::net::IpAddr>() {
        return Ok(Endpoint::External(IpNet::from(ip)));
    }
    if let Ok(net) = text.parse::<IpNet>() {
        return Ok(Endpoint::External(net));
    }
    let (ns, name) = text
        .split_once('/')
        .ok_or_else(|| anyhow!("{text:?}: write NAMESPACE/POD, NAMESPACE/KIND/NAME or an IP address"))?;
    if let Some(id) = a.pod_id(ns, name) {
        return Ok(Endpoint::Pod(id));
    }
    let known: Vec<String> = a
        .pod_ids()
        .filter_map(|id| a.pod(id))
        .filter(|p| p.namespace == ns)
        .map(|p| format!("{}/{}", p.namespace, p.name))
        .collect();
    if known.is_empty() {
        bail!("no pod or workload in namespace {ns:?}");
    }
    bail!("no pod {text:?}; pods in {ns}: {}", known.join(", "))
}

fn port(text: &str) -> anyhow::Result<(Protocol, u16)> {
    let (proto, number) = match text.split_once('/') {
        // `80/TCP` (as `--port` is documented) or `TCP/80`.
        Some((a, b)) => {
            let (p, n) = if a.chars().all(|c| c.is_ascii_digit()) { (b, a) } else { (a, b) };
            let proto = Protocol::parse(&p.to_ascii_uppercase())
                .ok_or_else(|| anyhow!("unknown protocol {p:?}: use TCP, UDP or SCTP"))?;
            (proto, n)
        }
        None => (Protocol::Tcp, text),
    };
    let n: u16 = number
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .with_context(|| format!("{number:?} is not a port number (1-65535)"))?;
    Ok((proto, n))
}

/// `explain FROM TO PORT [PATH…]`: the first positional after TO is the port when it reads as
/// one and names no file (a file named `5432` stays a file); `--port` takes precedence.
fn split_port(mut args: Args) -> Args {
    if args.port.is_none()
        && let Some(first) = args.paths.first()
        && !first.exists()
        && let Some(text) = first.to_str()
        && port(text).is_ok()
    {
        args.port = Some(text.to_string());
        args.paths.remove(0);
    }
    args
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let args = split_port(args);
    let mut files = args.paths.clone();
    files.extend(args.files.iter().cloned());
    let (set, intent) = if files.is_empty() {
        let (platform, _) = super::config::load(None)?;
        (autolabs_verify::run::rendered_set(&platform), Some(Intent::of_platform(&platform)))
    } else {
        (args.inputs.read(&files), None)
    };
    if super::inputs::report(&set) {
        return Ok(ExitCode::from(2));
    }
    let options = args.host_network.options();
    let (analysis, built) = match &intent {
        Some(i) => analyse_with_probes_options(&set, i, options),
        None => autolabs_verify::engines::netpol::analyse(&set, options),
    };
    // Pods are explained one by one, so pods of one workload that policies tell apart do
    // not stop an explanation; every other error does.
    let refused = super::netpol_args::print_problems(&built.problems, |p| p.rule != "workload-pods-differ");
    let (Some(a), false) = (analysis, refused) else {
        return Ok(ExitCode::from(2));
    };
    let (from, to) = (endpoint(&a, &args.from)?, endpoint(&a, &args.to)?);
    let Some(port_text) = &args.port else {
        let allowed = a.allowed(from, to);
        if args.format == "json" {
            outln!(
                "{:#}",
                serde_json::json!({"from": args.from, "to": args.to, "allowed": !allowed.is_empty(), "connections": allowed.to_string()})
            )?;
        } else {
            outln!(
                "{} → {}: {}",
                args.from,
                args.to,
                if allowed.is_empty() {
                    "nothing is allowed".to_string()
                } else {
                    format!("allowed on {allowed}")
                }
            )?;
            if allowed.is_empty() {
                let e = a.explain(from, to, Protocol::Tcp, 80)?;
                outln!("  egress of the source:        {}", e.egress)?;
                outln!("  ingress of the destination:  {}", e.ingress)?;
            } else {
                outln!("  (add --port to see the rules that allow one port)")?;
            }
        }
        return Ok(if allowed.is_empty() { ExitCode::from(1) } else { ExitCode::SUCCESS });
    };
    let (protocol, number) = port(port_text)?;
    let e = a.explain(from, to, protocol, number)?;
    if args.format == "json" {
        outln!("{:#}", autolabs_verify::connlist::explanation_json(&e))?;
        return Ok(if e.allowed { ExitCode::SUCCESS } else { ExitCode::from(1) });
    }
    outln!(
        "{} → {} on {} {}: {}",
        e.from,
        e.to,
        e.protocol.as_str(),
        e.port,
        if e.allowed { "ALLOWED" } else { "DENIED" }
    )?;
    outln!("  egress of the source:        {}", e.egress)?;
    outln!("  ingress of the destination:  {}", e.ingress)?;
    Ok(if e.allowed { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
