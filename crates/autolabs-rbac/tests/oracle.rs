//! Conformance: replay every SubjectAccessReview a real kube-apiserver answered
//! (`rbac/oracle/cases.tsv`) against our authorizer, with the bootstrap policy the server had
//! plus `rbac/oracle/scenario.yaml`. Every answer must agree; there are no exceptions.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use autolabs_rbac::{Attributes, Authorizer, Policy, UserInfo};
use common::{bootstrap_from_files, conformance_dir, namespace_roles_from_file, scenario};

struct Case {
    line: usize,
    user: UserInfo,
    attrs: Attributes,
    allowed: bool,
}

fn field(value: &str) -> String {
    if value == "-" { String::new() } else { value.to_string() }
}

fn read_cases(dir: &Path) -> Vec<Case> {
    let text = std::fs::read_to_string(dir.join("rbac/oracle/cases.tsv")).expect("cases.tsv");
    let mut cases = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.starts_with("user\t") || line.trim().is_empty() {
            continue;
        }
        let columns: Vec<&str> = line.split('\t').collect();
        assert_eq!(columns.len(), 10, "line {}: {line}", index + 1);
        let groups = field(columns[1]);
        let user = UserInfo::new(field(columns[0]), groups.split(',').filter(|g| !g.is_empty()));
        let path = field(columns[8]);
        let attrs = if path.is_empty() {
            Attributes::resource(field(columns[2]), field(columns[3]), field(columns[4]))
                .subresource(field(columns[5]))
                .named(field(columns[6]))
                .in_namespace(field(columns[7]))
        } else {
            Attributes::non_resource(field(columns[2]), path)
        };
        let allowed = match columns[9] {
            "true" => true,
            "false" => false,
            other => panic!("line {}: allowed = {other:?}", index + 1),
        };
        cases.push(Case { line: index + 1, user, attrs, allowed });
    }
    cases
}

fn replay(label: &str, policy: &Policy, cases: &[Case]) {
    let authorizer = Authorizer::new(policy).expect("policy is valid");
    let mut per_user: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut disagreements = Vec::new();
    let started = Instant::now();
    let decisions: Vec<bool> =
        cases.iter().map(|case| authorizer.authorize(&case.user, &case.attrs).is_allowed()).collect();
    let elapsed = started.elapsed();
    for (case, ours) in cases.iter().zip(decisions) {
        let entry = per_user.entry(case.user.name.as_str()).or_default();
        entry.0 += 1;
        entry.1 += usize::from(case.allowed);
        if ours != case.allowed {
            disagreements.push(format!(
                "line {}: {} {:?} {} → server {}, ours {}",
                case.line, case.user.name, case.user.groups, case.attrs, case.allowed, ours
            ));
        }
    }
    let allowed = cases.iter().filter(|c| c.allowed).count();
    println!(
        "[{label}] {} cases ({allowed} allowed, {} denied), {} agree, {} disagree; {:.2} µs/decision",
        cases.len(),
        cases.len() - allowed,
        cases.len() - disagreements.len(),
        disagreements.len(),
        elapsed.as_secs_f64() * 1e6 / cases.len() as f64
    );
    for (user, (total, yes)) in &per_user {
        println!("  {user}: {total} questions, {yes} allowed");
    }
    assert!(
        disagreements.is_empty(),
        "[{label}] {} disagreements:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}

#[test]
fn oracle_with_bootstrap_files() {
    let Some(dir) = conformance_dir() else { return };
    let cases = read_cases(&dir);
    assert_eq!(cases.len(), 5380, "the oracle has 5,380 questions");
    let mut policy = bootstrap_from_files(&dir);
    policy.roles.extend(namespace_roles_from_file(&dir));
    replay("bootstrap files + scenario", &policy.with(scenario(&dir)), &cases);
}

#[test]
fn oracle_with_builtin_bootstrap() {
    let Some(dir) = conformance_dir() else { return };
    let cases = read_cases(&dir);
    replay("built-in bootstrap + scenario", &Policy::bootstrap().with(scenario(&dir)), &cases);
}

/// Every subject `who_can` names for an allowed oracle question must be one the authorizer
/// allows when it asks as that subject; checked on the scenario's own users.
#[test]
fn who_can_agrees_with_authorize_on_oracle_questions() {
    let Some(dir) = conformance_dir() else { return };
    let cases = read_cases(&dir);
    let authorizer = Authorizer::new(&Policy::bootstrap().with(scenario(&dir))).expect("valid");
    let mut checked = 0;
    for case in &cases {
        let named = authorizer.who_can(&case.attrs).iter().any(|entry| match entry.subject.kind.as_str() {
            "User" => entry.subject.name == case.user.name,
            "Group" => case.user.groups.contains(&entry.subject.name),
            _ => {
                let ns = entry.subject.namespace.clone().unwrap_or_default();
                autolabs_rbac::request::service_account_username(&ns, &entry.subject.name) == case.user.name
            }
        });
        assert_eq!(
            named, case.allowed,
            "line {}: who-can {} names {}?",
            case.line, case.attrs, case.user.name
        );
        checked += 1;
    }
    println!("who-can consistent with the oracle on {checked} questions");
}
