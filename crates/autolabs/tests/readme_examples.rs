//! The README's examples are tests: every `$ autolabs …` command shown in a code block runs
//! here, from the repository root, and every output line shown under it must be printed.
//!
//! A shown line must appear in the output verbatim; a line with `…` elides text there, so its
//! pieces must appear in that order within one output line; a line that is only `…` stands
//! for lines left out. A command exits with 0 or 1 (findings), never 2 (usage or input
//! errors). Commands that start servers are listed in [`NOT_RUN_HERE`] with the test that
//! covers them instead; the list may only name commands the README shows.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Commands of the README that do not run here, and why.
const NOT_RUN_HERE: &[(&str, &str)] = &[
    ("autolabs up --simulate", "a long-running sandbox server: tests in crates/autolabs/src/cmd/up.rs"),
    (
        "autolabs lab create demo --template linux-basics && autolabs lab list",
        "needs the lab API of `up --simulate`: tests in crates/autolabs/src/cmd/serve/tests.rs",
    ),
];

struct Example {
    line: usize,
    command: String,
    expected: Vec<String>,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `$ autolabs` command in a fenced block, with the output lines after it.
fn examples(readme: &str) -> Vec<Example> {
    let mut out: Vec<Example> = Vec::new();
    let mut in_block = false;
    let mut current: Option<Example> = None;
    for (i, line) in readme.lines().enumerate() {
        if line.starts_with("```") {
            in_block = !in_block;
            out.extend(current.take());
            continue;
        }
        if !in_block {
            continue;
        }
        if let Some(command) = line.strip_prefix("$ ") {
            out.extend(current.take());
            let command = command.split(" #").next().unwrap_or(command).trim().to_string();
            if command.starts_with("autolabs ") {
                current = Some(Example { line: i + 1, command, expected: Vec::new() });
            }
        } else if let Some(example) = current.as_mut() {
            example.expected.push(line.to_string());
        }
    }
    out
}

/// Whether `shown` (a README line, maybe with `…`) stands in `actual`.
fn shown_in(shown: &str, actual: &str) -> bool {
    if !shown.contains('…') {
        return actual.lines().any(|l| l.trim_end() == shown.trim_end());
    }
    let pieces: Vec<&str> = shown.split('…').map(str::trim).filter(|p| !p.is_empty()).collect();
    pieces.is_empty()
        || actual.lines().any(|line| {
            let mut rest = line;
            pieces.iter().all(|piece| match rest.find(piece) {
                Some(at) => {
                    rest = &rest[at + piece.len()..];
                    true
                }
                None => false,
            })
        })
}

#[test]
fn every_readme_example_runs_and_prints_what_it_shows() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let examples = examples(&readme);
    assert!(examples.len() >= 5, "the README shows its commands: {}", examples.len());
    for (skipped, _) in NOT_RUN_HERE {
        assert!(
            examples.iter().any(|e| e.command == *skipped),
            "NOT_RUN_HERE names {skipped:?}, not in the README"
        );
    }
    // Run without a platform.yaml of the developer's: from the root, which has none.
    assert!(
        !root().join("platform.yaml").exists(),
        "a platform.yaml at the repository root changes the examples"
    );
    let mut failures = Vec::new();
    for example in examples.iter().filter(|e| !NOT_RUN_HERE.iter().any(|(c, _)| *c == e.command)) {
        let args: Vec<&str> = example.command.split_whitespace().skip(1).collect();
        let output = Command::new(env!("CARGO_BIN_EXE_autolabs"))
            .args(&args)
            .current_dir(root())
            .env_remove("KUBECONFIG")
            .output()
            .expect("run autolabs");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        if !matches!(output.status.code(), Some(0 | 1)) {
            failures.push(format!(
                "README.md:{}: `{}` exited {:?}: {stderr}",
                example.line,
                example.command,
                output.status.code()
            ));
            continue;
        }
        for shown in &example.expected {
            if !shown_in(shown, &stdout) {
                failures.push(format!(
                    "README.md:{}: `{}` does not print {shown:?}\n--- it printed:\n{stdout}",
                    example.line, example.command
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn elided_lines_match_in_order() {
    assert!(shown_in("a … c", "a b c"));
    assert!(!shown_in("c … a", "a b c"));
    assert!(shown_in("…", ""));
    assert!(shown_in("  x: 1", "  x: 1   \nother"));
    assert!(!shown_in("x: 1", "  x: 1"));
}
