//! `autolabs can-i` and `autolabs who-can`: `kubectl auth can-i`'s questions, answered by our
//! RBAC engine over manifests (plus Kubernetes' bootstrap policy, always included).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use autolabs_rbac::{Authorizer, Decision, UserInfo, parse_can_i};
use autolabs_verify::engines::rbac::policy;

#[derive(Debug, clap::Args)]
pub struct CanIArgs {
    /// The verb: get, list, create, delete, impersonate, `*`…
    verb: String,
    /// `pods`, `deployments.apps`, `pods/log`, `TYPE/NAME`, or a non-resource URL like `/metrics`.
    /// Not needed with `--list`.
    target: Option<String>,
    /// Manifests holding roles and bindings (files, directories, `-`); repeatable. Without any,
    /// the baseline rendered from platform.yaml.
    #[arg(short = 'f', long = "filename")]
    files: Vec<PathBuf>,
    #[arg(short = 'n', long = "namespace", default_value = "default")]
    namespace: String,
    /// Cluster-wide scope (every namespace).
    #[arg(short = 'A', long = "all-namespaces")]
    all_namespaces: bool,
    #[arg(long, default_value = "")]
    subresource: String,
    /// The user to ask for; `system:serviceaccount:NS:NAME` for a ServiceAccount.
    #[arg(long = "as")]
    user: String,
    /// Groups of the user (repeatable); `system:authenticated` is added as the API server does.
    #[arg(long = "as-group")]
    groups: Vec<String>,
    /// List what the user can do in the namespace.
    #[arg(long)]
    list: bool,
    /// Print the binding → role → rule that allows it.
    #[arg(short, long)]
    verbose: bool,
    #[command(flatten)]
    inputs: super::inputs::InputArgs,
}

#[derive(Debug, clap::Args)]
pub struct WhoCanArgs {
    verb: String,
    /// `pods`, `secrets`, `pods/exec`, `TYPE/NAME`, `/metrics`.
    target: String,
    #[arg(short = 'f', long = "filename")]
    files: Vec<PathBuf>,
    #[arg(short = 'n', long = "namespace", default_value = "default")]
    namespace: String,
    #[arg(short = 'A', long = "all-namespaces")]
    all_namespaces: bool,
    #[arg(long, default_value = "")]
    subresource: String,
    #[command(flatten)]
    inputs: super::inputs::InputArgs,
}

/// The authorizer of the roles and bindings in `files` (or the rendered baseline); `None`
/// when the input has errors, which are printed (the caller exits 2: no answer from part of
/// the RBAC objects, since a binding left out can only turn a "yes" into a "no").
fn authorizer(files: &[PathBuf], inputs: &super::inputs::InputArgs) -> anyhow::Result<Option<Authorizer>> {
    let set = if files.is_empty() {
        let (platform, _) = super::config::load(None)?;
        autolabs_verify::run::rendered_set(&platform)
    } else {
        inputs.read(files)
    };
    if super::inputs::report(&set) {
        return Ok(None);
    }
    let (policy, problems) = policy(&set);
    for p in &problems {
        let place = match (&p.file, p.line) {
            (Some(file), Some(line)) => format!("{file}:{line}: "),
            (Some(file), None) => format!("{file}: "),
            _ => String::new(),
        };
        eprintln!("error: {place}{}", p.message);
    }
    if !problems.is_empty() {
        return Ok(None);
    }
    Ok(Some(Authorizer::new(&policy)?))
}

fn user_info(user: &str, groups: &[String]) -> UserInfo {
    if let Some(rest) = user.strip_prefix("system:serviceaccount:")
        && let Some((ns, name)) = rest.split_once(':')
    {
        let mut info = UserInfo::service_account(ns, name);
        info.groups.extend(groups.iter().cloned());
        return info;
    }
    let mut all: Vec<String> = groups.to_vec();
    if user != "system:anonymous" && !all.iter().any(|g| g == "system:authenticated") {
        all.push("system:authenticated".into());
    }
    UserInfo::new(user, all)
}

pub fn can_i(args: CanIArgs) -> anyhow::Result<ExitCode> {
    let Some(authz) = authorizer(&args.files, &args.inputs)? else { return Ok(ExitCode::from(2)) };
    let user = user_info(&args.user, &args.groups);
    let namespace = if args.all_namespaces { "" } else { args.namespace.as_str() };
    if args.list {
        outln!("{:<45} {:<35} {:<25} Verbs", "Resources", "Non-Resource URLs", "Resource Names")?;
        for rule in authz.rules_for(&user, namespace) {
            let join = |v: &Option<Vec<String>>| {
                v.as_ref().map(|v| format!("[{}]", v.join(" "))).unwrap_or_else(|| "[]".into())
            };
            let resources: Vec<String> = rule
                .resources
                .iter()
                .flatten()
                .flat_map(|r| {
                    rule.api_groups
                        .iter()
                        .flatten()
                        .map(move |g| if g.is_empty() { r.clone() } else { format!("{r}.{g}") })
                })
                .collect();
            outln!(
                "{:<45} {:<35} {:<25} [{}]",
                resources.join(" "),
                join(&rule.non_resource_urls),
                join(&rule.resource_names),
                rule.verbs.join(" ")
            )?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(target) = args.target.as_deref() else {
        bail!("you must specify two arguments: verb resource or verb resource/resourceName")
    };
    let req = parse_can_i(&args.verb, target, namespace, &args.subresource)?;
    for w in &req.warnings {
        eprintln!("Warning: {w}");
    }
    match authz.authorize(&user, &req.attributes) {
        Decision::Allow(grant) => {
            outln!("yes")?;
            if args.verbose {
                outln!("  {grant}")?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Decision::NoOpinion { resolution_errors } => {
            outln!("no")?;
            if args.verbose {
                for e in resolution_errors {
                    outln!("  {e}")?;
                }
            }
            Ok(ExitCode::from(1))
        }
    }
}

pub fn who_can(args: WhoCanArgs) -> anyhow::Result<ExitCode> {
    let Some(authz) = authorizer(&args.files, &args.inputs)? else { return Ok(ExitCode::from(2)) };
    let namespace = if args.all_namespaces { "" } else { args.namespace.as_str() };
    let req = parse_can_i(&args.verb, &args.target, namespace, &args.subresource)?;
    for w in &req.warnings {
        eprintln!("Warning: {w}");
    }
    let who = authz.who_can(&req.attributes);
    if who.is_empty() {
        outln!("nobody")?;
        return Ok(ExitCode::from(1));
    }
    for w in who {
        outln!("{}", autolabs_rbac::authorizer::subject_for_people(&w.subject))?;
        outln!("    {}", w.grant)?;
    }
    Ok(ExitCode::SUCCESS)
}
