//! Pod Security Standards (baseline, restricted) by policy version, with the exact checks of k8s.io/pod-security-admission.
#![forbid(unsafe_code)]
