//! One borrowed view over init, regular and ephemeral containers.
//!
//! Upstream converts an `EphemeralContainer` to a `Container` (same fields) and visits
//! init containers, then containers, then ephemeral containers. k8s-openapi has two distinct
//! structs, so we borrow the fields the checks read into one small view instead.

use autolabs_k8s::k8s::k8s_openapi::api::core::v1::{
    Container, ContainerPort, EphemeralContainer, Lifecycle, PodSpec, Probe, SecurityContext,
};

/// The fields of a container that Pod Security checks read.
#[derive(Clone, Copy)]
pub(crate) struct ContainerView<'a> {
    pub name: &'a str,
    pub security_context: Option<&'a SecurityContext>,
    pub ports: &'a [ContainerPort],
    pub liveness_probe: Option<&'a Probe>,
    pub readiness_probe: Option<&'a Probe>,
    pub startup_probe: Option<&'a Probe>,
    pub lifecycle: Option<&'a Lifecycle>,
}

impl<'a> ContainerView<'a> {
    fn from_container(container: &'a Container) -> Self {
        ContainerView {
            name: &container.name,
            security_context: container.security_context.as_ref(),
            ports: container.ports.as_deref().unwrap_or_default(),
            liveness_probe: container.liveness_probe.as_ref(),
            readiness_probe: container.readiness_probe.as_ref(),
            startup_probe: container.startup_probe.as_ref(),
            lifecycle: container.lifecycle.as_ref(),
        }
    }

    fn from_ephemeral(container: &'a EphemeralContainer) -> Self {
        ContainerView {
            name: &container.name,
            security_context: container.security_context.as_ref(),
            ports: container.ports.as_deref().unwrap_or_default(),
            liveness_probe: container.liveness_probe.as_ref(),
            readiness_probe: container.readiness_probe.as_ref(),
            startup_probe: container.startup_probe.as_ref(),
            lifecycle: container.lifecycle.as_ref(),
        }
    }
}

/// Every container of the pod in upstream's order: init, regular, ephemeral.
// k8s.io/pod-security-admission/policy/visitor.go visitContainers
pub(crate) fn containers(spec: &PodSpec) -> impl Iterator<Item = ContainerView<'_>> {
    let init = spec.init_containers.as_deref().unwrap_or_default();
    let ephemeral = spec.ephemeral_containers.as_deref().unwrap_or_default();
    init.iter()
        .map(ContainerView::from_container)
        .chain(spec.containers.iter().map(ContainerView::from_container))
        .chain(ephemeral.iter().map(ContainerView::from_ephemeral))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visits_init_then_regular_then_ephemeral() {
        // k8s.io/pod-security-admission/policy/visitor.go visitContainers
        let named = |name: &str| Container { name: name.to_string(), ..Default::default() };
        let spec = PodSpec {
            containers: vec![named("c1"), named("c2")],
            init_containers: Some(vec![named("i1")]),
            ephemeral_containers: Some(vec![EphemeralContainer {
                name: "e1".to_string(),
                ..Default::default()
            }]),
            ..Default::default()
        };
        let names: Vec<&str> = containers(&spec).map(|c| c.name).collect();
        assert_eq!(names, ["i1", "c1", "c2", "e1"]);
    }
}
