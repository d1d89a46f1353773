//! How the commands that read manifests (`verify`, `connlist`, `diff`, `explain`) read them,
//! and report on standard error what they did not read.
//!
//! Fail closed: an input error (a file that cannot be read, a document that is not valid
//! YAML, an object that does not decode as its kind) exits 2, never a partial answer.

use std::path::PathBuf;

use autolabs_verify::ObjectSet;
use autolabs_verify::objects::ReadOptions;

#[derive(Debug, Clone, Default, clap::Args)]
pub struct InputArgs {
    /// Analyse what the cluster would end up with: objects the API server would refuse
    /// (fields of the wrong type, unknown fields, missing required fields) are left out and
    /// reported as warnings, instead of being input errors (exit 2).
    #[arg(long)]
    pub as_admitted: bool,
    /// Files in a directory that hold no Kubernetes object (READMEs, pictures, values.yaml,
    /// kustomization.yaml, result files) are input errors instead of notes.
    #[arg(long)]
    pub strict_inputs: bool,
}

impl InputArgs {
    pub fn options(&self) -> ReadOptions {
        ReadOptions { as_admitted: self.as_admitted, strict_inputs: self.strict_inputs }
    }

    /// Reads files, directories and `-`.
    pub fn read(&self, paths: &[PathBuf]) -> ObjectSet {
        ObjectSet::read_paths_with(paths, self.options())
    }
}

/// Prints the notes (skipped files, symlink loops) on standard error.
pub fn print_notes(set: &ObjectSet) {
    for n in &set.notes {
        eprintln!("note: {n}");
    }
}

/// Prints notes, the objects left out under `--as-admitted`, and input errors on standard
/// error; true when there were input errors (the caller exits 2).
pub fn report(set: &ObjectSet) -> bool {
    print_notes(set);
    for r in &set.refused {
        eprintln!("warning: {r}");
    }
    for e in &set.errors {
        eprintln!("error: {e}");
    }
    if !set.errors.is_empty() {
        let refused = set.errors.iter().filter(|e| e.refused).count();
        if refused > 0 {
            eprintln!(
                "error: {} input error(s), {refused} of them in objects the API server would refuse (--as-admitted analyses without those objects)",
                set.errors.len()
            );
        } else {
            eprintln!("error: {} input error(s)", set.errors.len());
        }
    }
    !set.errors.is_empty()
}
