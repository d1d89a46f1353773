//! The lab API's request bodies: a request is read and validated against the shipped rules,
//! or refused; a valid one yields the lab's objects.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = serde_json::from_slice::<autolabs_model::lab::LabRequest>(data) else { return };
    let _ = autolabs_model::lab::check_lab_id(&request.id);
    let _ = autolabs_model::lab::object_name(&request.id);
});
