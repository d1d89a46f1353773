//! The builders verify's integration tests share, kept in one place as linkerd2 keeps
//! `mk_pod`: object sets from YAML or from `render`, and a set's connectivity list.
#![allow(dead_code)]

use autolabs_model::{Platform, output, render};
use autolabs_netpol::Options;
use autolabs_verify::ObjectSet;
use autolabs_verify::connlist::{self, ConnList};
use autolabs_verify::engines::netpol::analyse;

/// Every object `render` writes for `platform`, each from its `<folder>/<file>` as
/// `render -o dir` lays them out; the rendered YAML always decodes.
pub fn rendered(platform: &Platform) -> ObjectSet {
    let mut set = ObjectSet::default();
    for manifest in &render(platform).manifests {
        set.add_text(
            &output::to_yaml(manifest),
            &format!("{}/{}", output::folder(manifest), manifest.file_name()),
        );
    }
    assert!(set.errors.is_empty(), "{:?}", set.errors);
    set
}

/// The objects of one YAML stream, read as the file `input.yaml`; it must decode.
pub fn set_of(yaml: &str) -> ObjectSet {
    let mut set = ObjectSet::default();
    set.add_text(yaml, "input.yaml");
    assert!(set.errors.is_empty(), "{:?}", set.errors);
    set
}

/// The connectivity list of `set` with the default options; the analysis must succeed.
pub fn list_of(set: &ObjectSet) -> ConnList {
    let (analysis, built) = analyse(set, Options::default());
    let Some(analysis) = analysis else { panic!("analysis failed: {:?}", built.problems) };
    connlist::connlist(&analysis, &built)
}
