//! LimitRange defaulting and validation, ResourceQuota admission and capacity arithmetic, as the API server's admission plugins do it.
#![forbid(unsafe_code)]
