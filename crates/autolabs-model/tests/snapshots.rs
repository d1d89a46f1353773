//! Rendered output pinned per fixture config: any change to what `render` writes shows up as
//! a snapshot diff to review (`cargo insta review`).

use autolabs_model::{load_platform, output, render};

#[test]
fn rendered_baselines() {
    insta::glob!("fixtures/platforms/*.yaml", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let platform = load_platform(&text, &path.display().to_string()).unwrap_or_else(|e| panic!("{e}"));
        let rendered = render(&platform);
        let mut out = output::to_stream(&rendered);
        for f in &rendered.files {
            out.push_str(&format!("--- # control-plane/{}\n{}", f.path, f.contents));
        }
        insta::assert_snapshot!(out);
    });
}

/// `addons/` per fixture config: the helmfile, the Argo CD Applications and every chart's
/// values, so a change of a pin or of a generated value is a reviewed diff.
#[test]
fn rendered_addons() {
    insta::glob!("fixtures/platforms/*.yaml", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let platform = load_platform(&text, &path.display().to_string()).unwrap_or_else(|e| panic!("{e}"));
        let rendered = render(&platform);
        let mut out = String::new();
        for f in &rendered.addons {
            out.push_str(&format!("--- # addons/{}\n{}", f.path, f.contents));
        }
        insta::assert_snapshot!(out);
    });
}
