//! An RBAC authorizer with Kubernetes' semantics: can-i, who-can, escalation paths, the bootstrap policy built in.
#![forbid(unsafe_code)]
