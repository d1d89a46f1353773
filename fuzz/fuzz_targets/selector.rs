//! Label selectors: any LabelSelector either converts or names its errors, and a converted
//! one answers `matches` for any labels.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok((selector, labels)) = serde_json::from_slice::<(
        k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
        std::collections::BTreeMap<String, String>,
    )>(data) else {
        return;
    };
    if let Ok(selector) = autolabs_k8s::Selector::from_k8s(&selector) {
        let _ = selector.matches(&labels);
        let _ = selector.describe();
    }
});
