//! NetworkPolicy reachability with Kubernetes' exact semantics, computed over equivalence classes of pods.
#![forbid(unsafe_code)]
