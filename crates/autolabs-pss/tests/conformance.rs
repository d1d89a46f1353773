//! Conformance against Kubernetes' own Pod Security Admission fixtures.
//!
//! `pod-security/{baseline,restricted}/v1.X/{pass,fail}/*.yaml` (see the folder's
//! `PROVENANCE.md`): every `pass` Pod must be allowed and every `fail` Pod denied at that
//! level and policy version. On top of allowed/denied we check what upstream's fixture test
//! checks (`expectErrorSubstring`): a `fail` Pod is denied by the check its file is named
//! after (or, at `restricted`, by the restricted check that overrides that baseline check).
//! Some fail Pods also break a second check by construction (a privileged container cannot
//! set `allowPrivilegeEscalation: false`; a Windows hostProcess pod needs `hostNetwork`).
//!
//! Fixtures are parsed into the k8s-openapi `v1_33` types. Those types silently drop fields
//! they do not know, so each fixture is also parsed as plain YAML and compared: a field that
//! did not survive would make the typed evaluation unreliable, and is reported as a
//! disagreement. (None of the 4,093 fixtures uses such a field today.)
//!
//! Data location: env `AUTOLABS_CONFORMANCE_DIR`, else `../../../shared/conformance` from
//! this crate. When missing, the test fails if `CI=true`, else it prints a note and passes.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use autolabs_k8s::k8s::ObjectMeta;
use autolabs_k8s::k8s::Pod;
use autolabs_k8s::k8s::k8s_openapi::api::core::v1::PodSpec;
use autolabs_pss::{Level, LevelVersion, Version, evaluate, forbidden_message};

/// Differences from upstream we accept on purpose: none.
const KNOWN_EXCEPTIONS: &[&str] = &[];

/// At `restricted`, these baseline checks are replaced by a restricted check (upstream's
/// `OverrideCheckIDs`), so their fixtures fail through the replacement.
const OVERRIDDEN_BY: &[(&str, &str)] = &[
    ("hostpathvolumes", "restrictedvolumes"),
    ("capabilities_baseline", "capabilities_restricted"),
    ("seccompprofile_baseline", "seccompprofile_restricted"),
];

/// The Pod Security fixtures inside the conformance folder.
fn conformance_dir() -> Option<PathBuf> {
    autolabs_testenv::conformance_dir().map(|dir| dir.join("pod-security"))
}

struct Fixture {
    level: Level,
    minor: u32,
    expect_allowed: bool,
    path: PathBuf,
    meta: ObjectMeta,
    spec: PodSpec,
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = match fs::read_dir(dir) {
        Ok(read) => read.filter_map(|entry| entry.ok().map(|e| e.path())).collect(),
        Err(error) => panic!("cannot read {}: {error}", dir.display()),
    };
    entries.sort();
    entries
}

/// Paths of fields present in `raw` but missing (or different) in `typed`.
fn dropped_fields(raw: &serde_json::Value, typed: &serde_json::Value, path: &str, out: &mut Vec<String>) {
    use serde_json::Value;
    match (raw, typed) {
        // An explicit YAML `null` means "not set": the typed value may be absent or default.
        (Value::Null, _) => {}
        (Value::Object(raw_map), Value::Object(typed_map)) => {
            for (key, raw_value) in raw_map {
                let child = format!("{path}.{key}");
                match typed_map.get(key) {
                    Some(typed_value) => dropped_fields(raw_value, typed_value, &child, out),
                    None if raw_value.is_null() => {}
                    None => out.push(child),
                }
            }
        }
        (Value::Array(raw_items), Value::Array(typed_items)) => {
            if raw_items.len() != typed_items.len() {
                out.push(format!("{path} (length)"));
                return;
            }
            for (index, (r, t)) in raw_items.iter().zip(typed_items).enumerate() {
                dropped_fields(r, t, &format!("{path}[{index}]"), out);
            }
        }
        (Value::Number(r), Value::Number(t)) if r.as_f64() == t.as_f64() => {}
        (r, t) if r == t => {}
        _ => out.push(format!("{path} (value)")),
    }
}

fn load_fixtures(pss: &Path, problems: &mut Vec<String>) -> Vec<Fixture> {
    let mut fixtures = Vec::new();
    for (level_dir, level) in [("baseline", Level::Baseline), ("restricted", Level::Restricted)] {
        for version_dir in sorted_entries(&pss.join(level_dir)) {
            let name = version_dir.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
            let Ok(Version::V1(minor)) = name.parse::<Version>() else {
                problems.push(format!("unexpected version folder {}", version_dir.display()));
                continue;
            };
            for (outcome_dir, expect_allowed) in [("pass", true), ("fail", false)] {
                for path in sorted_entries(&version_dir.join(outcome_dir)) {
                    if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
                        continue;
                    }
                    let text = match fs::read_to_string(&path) {
                        Ok(text) => text,
                        Err(error) => {
                            problems.push(format!("{}: unreadable: {error}", path.display()));
                            continue;
                        }
                    };
                    let pod: Pod = match serde_saphyr::from_str(&text) {
                        Ok(pod) => pod,
                        Err(error) => {
                            problems.push(format!("{}: does not parse as Pod: {error}", path.display()));
                            continue;
                        }
                    };
                    match serde_saphyr::from_str::<serde_json::Value>(&text) {
                        Ok(raw) => {
                            let typed = serde_json::to_value(&pod).unwrap_or_default();
                            let mut dropped = Vec::new();
                            dropped_fields(&raw, &typed, "", &mut dropped);
                            dropped.retain(|field| field != ".apiVersion" && field != ".kind");
                            if !dropped.is_empty() {
                                problems.push(format!(
                                    "{}: fields unknown to the v1_33 types: {}",
                                    path.display(),
                                    dropped.join(", ")
                                ));
                            }
                        }
                        Err(error) => problems.push(format!("{}: raw YAML: {error}", path.display())),
                    }
                    fixtures.push(Fixture {
                        level,
                        minor,
                        expect_allowed,
                        path,
                        meta: pod.metadata,
                        spec: pod.spec.unwrap_or_default(),
                    });
                }
            }
        }
    }
    fixtures
}

/// `capabilities_baseline0.yaml` → `capabilities_baseline`; `base_linux.yaml` → `base_linux`.
fn fixture_check(path: &Path) -> String {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    stem.trim_end_matches(|c: char| c.is_ascii_digit()).to_string()
}

fn expected_counts(pss: &Path) -> BTreeMap<(String, String), (usize, usize)> {
    let text = fs::read_to_string(pss.join("counts.tsv")).unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            match cols.as_slice() {
                [level, version, pass, fail] => Some((
                    (level.to_string(), version.to_string()),
                    (pass.parse().unwrap_or(usize::MAX), fail.parse().unwrap_or(usize::MAX)),
                )),
                _ => None,
            }
        })
        .collect()
}

#[test]
fn pod_security_fixtures() {
    let Some(pss) = conformance_dir() else { return };
    let mut problems = Vec::new();
    let fixtures = load_fixtures(&pss, &mut problems);

    // Folder contents agree with counts.tsv.
    let mut counts: BTreeMap<(String, String), (usize, usize)> = BTreeMap::new();
    for fixture in &fixtures {
        let key = (fixture.level.to_string(), Version::V1(fixture.minor).to_string());
        let entry = counts.entry(key).or_default();
        if fixture.expect_allowed {
            entry.0 += 1;
        } else {
            entry.1 += 1;
        }
    }
    let expected = expected_counts(&pss);
    if counts != expected {
        problems.push(format!("fixture counts differ from counts.tsv: found {counts:?}"));
    }

    let mut agree = 0usize;
    let mut multi_check_failures = 0usize;
    let mut disagreements: Vec<String> = Vec::new();
    let mut totals: BTreeMap<(Level, bool), (usize, usize)> = BTreeMap::new();
    for fixture in &fixtures {
        let policy = LevelVersion::new(fixture.level, Version::V1(fixture.minor));
        let violations = evaluate(&fixture.meta, &fixture.spec, policy);
        let allowed = violations.is_empty();
        let total = totals.entry((fixture.level, fixture.expect_allowed)).or_default();
        total.0 += 1;

        let mut problem = None;
        if allowed != fixture.expect_allowed {
            problem = Some(if allowed {
                "allowed, expected denied".to_string()
            } else {
                format!("denied, expected allowed: {}", forbidden_message(policy, &violations))
            });
        } else if !allowed {
            // Denied by (at least) the check the fixture is named after.
            let want = fixture_check(&fixture.path);
            let want_ids: Vec<String> = std::iter::once(want.clone())
                .chain(
                    OVERRIDDEN_BY
                        .iter()
                        .filter(|(base, _)| fixture.level == Level::Restricted && *base == want)
                        .map(|(_, replacement)| replacement.to_string()),
                )
                .collect();
            let got: Vec<String> = violations.iter().map(|v| v.check.to_ascii_lowercase()).collect();
            multi_check_failures += usize::from(got.len() > 1);
            if !got.iter().any(|id| want_ids.contains(id)) {
                problem = Some(format!(
                    "denied by {got:?}, expected one of {want_ids:?}: {}",
                    forbidden_message(policy, &violations)
                ));
            }
        }

        // `latest` and versions past the newest known one evaluate as the newest one.
        if fixture.minor == autolabs_pss::LATEST_POLICY_MINOR && problem.is_none() {
            for version in [Version::Latest, Version::V1(fixture.minor + 1), Version::V1(u32::MAX)] {
                let again = evaluate(&fixture.meta, &fixture.spec, LevelVersion::new(fixture.level, version));
                if again != violations {
                    problem = Some(format!("{version} differs from v1.{}", fixture.minor));
                }
            }
        }

        let label = format!("{}:v1.{} {}", fixture.level, fixture.minor, fixture.path.display());
        match problem {
            Some(problem) if KNOWN_EXCEPTIONS.iter().any(|e| label.ends_with(e)) => {
                eprintln!("known exception: {label}: {problem}");
                total.1 += 1;
            }
            Some(problem) => disagreements.push(format!("{label}: {problem}")),
            None => {
                agree += 1;
                total.1 += 1;
            }
        }
    }

    println!("pod-security conformance: {} fixtures, {agree} agree", fixtures.len());
    for ((level, expect_allowed), (seen, ok)) in &totals {
        let kind = if *expect_allowed { "pass" } else { "fail" };
        println!("  {level:<10} {kind}: {ok}/{seen}");
    }
    println!("  fail fixtures denied by more than one check: {multi_check_failures}");

    // Rough throughput figure (debug builds are much slower than release).
    let rounds = 5;
    let start = Instant::now();
    let mut denied = 0usize;
    for _ in 0..rounds {
        for fixture in &fixtures {
            let policy = LevelVersion::new(fixture.level, Version::V1(fixture.minor));
            denied += usize::from(!evaluate(&fixture.meta, &fixture.spec, policy).is_empty());
        }
    }
    let evaluations = rounds * fixtures.len();
    let elapsed = start.elapsed();
    println!(
        "  throughput: {evaluations} evaluations ({denied} denied) in {elapsed:?}, {:.2} µs/evaluation",
        elapsed.as_secs_f64() * 1e6 / evaluations.max(1) as f64
    );

    for problem in &problems {
        println!("PROBLEM {problem}");
    }
    for disagreement in &disagreements {
        println!("DISAGREE {disagreement}");
    }
    assert!(problems.is_empty(), "{} data problems (see output)", problems.len());
    assert!(disagreements.is_empty(), "{} disagreements (see output)", disagreements.len());
    assert_eq!(fixtures.len(), 4093, "the fixture set has 4,093 Pods");
}
