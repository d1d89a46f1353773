//! The manifest reader and the engines behind it: any text is read into objects or reported
//! as an input error, and every engine takes what was read, without a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut set = autolabs_verify::ObjectSet::default();
    set.add_text(text, "fuzz.yaml");
    let _ = autolabs_verify::engines::hygiene::check(&set);
    let _ = autolabs_verify::engines::netpol::check(&set);
    let _ = autolabs_verify::engines::pss::check(&set, Default::default());
    let _ = autolabs_verify::engines::resources::check(&set, &[]);
});
