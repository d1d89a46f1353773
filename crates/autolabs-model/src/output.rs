//! Writing rendered objects: one multi-document YAML stream, or a kustomize directory
//! (`kustomization.yaml` at the top, `cluster/` for cluster-scoped objects, a folder per
//! namespace, `control-plane/` for node files that are not Kubernetes objects, `addons/` for
//! the pinned upstream charts: helmfile, Argo CD `Application`s and values).

use std::collections::BTreeMap;
use std::path::Path;

use crate::render::{Manifest, Rendered};

/// One object as YAML (no leading `---`).
pub fn to_yaml(m: &Manifest) -> String {
    yaml_of_json(&m.value)
}

/// A JSON value as YAML. Cannot fail: a `serde_json::Value` has only string keys, finite
/// numbers, strings, booleans and nulls, all of which YAML represents; an empty string (an
/// empty manifest written without a word) is what this refuses to fall back to.
#[allow(clippy::expect_used, reason = "serialising a serde_json::Value to YAML cannot fail")]
pub fn yaml_of_json(value: &serde_json::Value) -> String {
    serde_saphyr::to_string(value).expect("a serde_json::Value always serialises to YAML")
}

/// All objects as one multi-document YAML stream.
pub fn to_stream(r: &Rendered) -> String {
    let mut out = String::new();
    for m in &r.manifests {
        out.push_str("---\n");
        out.push_str(&to_yaml(m));
    }
    out
}

/// The folder an object belongs in.
pub fn folder(m: &Manifest) -> String {
    m.namespace.clone().unwrap_or_else(|| "cluster".to_string())
}

/// Every file of the kustomize directory, path → contents, deterministic.
pub fn directory(r: &Rendered) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    let mut folders: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in &r.manifests {
        let dir = folder(m);
        let name = m.file_name();
        files.insert(format!("{dir}/{name}"), to_yaml(m));
        folders.entry(dir).or_default().push(name);
    }
    // cluster-scoped first, then namespaces in render order
    let mut order: Vec<String> = folders.keys().cloned().collect();
    order.sort_by_key(|f| (f != "cluster", f.clone()));
    for (dir, names) in &folders {
        let mut k =
            String::from("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n");
        for n in names {
            k.push_str(&format!("- {n}\n"));
        }
        files.insert(format!("{dir}/kustomization.yaml"), k);
    }
    let mut top = String::from(
        "# Rendered by `autolabs render`. Apply with `autolabs apply`, `kubectl apply -k .`,\n# or point Argo CD / Flux at this folder. control-plane/ holds node files, not objects;\n# addons/ the upstream charts (helmfile or Argo CD), installed after this baseline.\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n",
    );
    for dir in &order {
        top.push_str(&format!("- {dir}\n"));
    }
    files.insert("kustomization.yaml".into(), top);
    for f in &r.files {
        files.insert(format!("control-plane/{}", f.path), f.contents.clone());
    }
    // Not part of the kustomization: helmfile and Argo CD read these, not kubectl.
    for f in &r.addons {
        files.insert(format!("addons/{}", f.path), f.contents.clone());
    }
    if !r.files.is_empty() {
        let mut readme = String::from(
            "# Control-plane files\n\nNot Kubernetes objects: copy each to the nodes as described.\n\n",
        );
        for f in &r.files {
            readme.push_str(&format!("- `{}`: {}\n", f.path, f.purpose));
        }
        files.insert("control-plane/README.md".into(), readme);
    }
    files
}

/// Writes the kustomize directory, replacing files autolabs wrote before. The tree is
/// written to a temporary sibling first and then renamed into place, so a failure leaves the
/// old directory untouched.
pub fn write_dir(r: &Rendered, dir: &Path) -> std::io::Result<usize> {
    let files = directory(r);
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let name = dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "out".into());
    let tmp = parent.join(format!(".{name}.autolabs-tmp"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)?;
    }
    for (path, contents) in &files {
        let full = tmp.join(path);
        if let Some(p) = full.parent() {
            std::fs::create_dir_all(p)?;
        }
        std::fs::write(full, contents)?;
    }
    if dir.exists() {
        let old = parent.join(format!(".{name}.autolabs-old"));
        if old.exists() {
            std::fs::remove_dir_all(&old)?;
        }
        std::fs::rename(dir, &old)?;
        std::fs::rename(&tmp, dir)?;
        std::fs::remove_dir_all(&old)?;
    } else {
        std::fs::rename(&tmp, dir)?;
    }
    Ok(files.len())
}
