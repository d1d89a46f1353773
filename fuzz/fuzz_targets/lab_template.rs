//! LabTemplate files: templates or located errors.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let platform = autolabs_model::Platform::default();
    let _ = autolabs_model::lab::load_templates(&[("template.yaml", text)], &platform);
});
