//! Quantities: what parses prints in canonical form, and that form parses back to the same
//! value (Kubernetes' round trip); arithmetic never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (left, right) = text.split_once(' ').unwrap_or((text, "1"));
    let Ok(q) = autolabs_k8s::Quantity::parse(left) else { return };
    let printed = q.to_string();
    let again = autolabs_k8s::Quantity::parse(&printed).unwrap_or_else(|e| panic!("{left:?} printed as {printed:?}, which does not parse: {e}"));
    assert_eq!(q, again, "{left:?} printed as {printed:?}");
    if let Ok(other) = autolabs_k8s::Quantity::parse(right) {
        let _ = q.checked_add(other);
        let _ = q.checked_sub(other);
        let _ = q.fits(other);
        let _ = q.checked_mul(other.value());
    }
});
