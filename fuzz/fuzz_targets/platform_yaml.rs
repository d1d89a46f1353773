//! platform.yaml: a config or located errors; a config that loads also renders.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match autolabs_model::load_platform(text, "platform.yaml") {
        Ok(platform) => {
            let _ = autolabs_model::render(&platform);
        }
        Err(errors) => assert!(!errors.0.is_empty(), "an error result names at least one problem"),
    }
});
