//! `docs/addons.md` is the facts table (`addons::charts::CHARTS`) as a page: equal to what
//! `markdown()` writes, so the page cannot drift from what the tests check.

#[test]
fn docs_addons_md_is_the_table() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/addons.md");
    let generated = autolabs_model::addons::charts::markdown();
    if std::env::var_os("AUTOLABS_REGEN_DOCS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "docs/addons.md differs from the CHARTS table: run AUTOLABS_REGEN_DOCS=1 cargo test -p autolabs-model --test addons_docs"
    );
}
