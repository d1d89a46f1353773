//! Capacity arithmetic: what the nodes hold once the system, the control plane and the
//! platform's own components have their share, and so how many labs fit.
//!
//! The platform's components and their requests are listed once, in [`COMPONENTS`]; render
//! uses the same numbers for the workloads it writes, so the arithmetic matches the YAML.

use autolabs_k8s::Quantity;

use crate::lab::quota;
use crate::platform::{PlatformSpec, Profile};
use crate::topology::{AUTH, INFRASTRUCTURE, INGRESS_NGINX, MESSAGING, PLATFORM, app};

/// One platform component and what each replica requests and is limited to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Component {
    pub app: &'static str,
    pub namespace: &'static str,
    /// Replicas in `mvp` and in `production`.
    pub replicas: (u32, u32),
    pub cpu_request_milli: i128,
    pub memory_request_mi: i128,
    pub cpu_limit_milli: i128,
    pub memory_limit_mi: i128,
    /// Rendered by autolabs (false: installed by its own chart, counted for capacity only).
    pub rendered: bool,
}

impl Component {
    pub fn replicas(&self, profile: Profile) -> u32 {
        match profile {
            Profile::Mvp => self.replicas.0,
            Profile::Production => self.replicas.1,
        }
    }
    pub fn cpu_request(&self) -> Quantity {
        Quantity::from_milli(self.cpu_request_milli)
    }
    pub fn memory_request(&self) -> Quantity {
        Quantity::from_bytes(self.memory_request_mi << 20)
    }
    pub fn cpu_limit(&self) -> Quantity {
        Quantity::from_milli(self.cpu_limit_milli)
    }
    pub fn memory_limit(&self) -> Quantity {
        Quantity::from_bytes(self.memory_limit_mi << 20)
    }
}

const fn component(
    app: &'static str,
    namespace: &'static str,
    replicas: (u32, u32),
    req: (i128, i128),
    lim: (i128, i128),
    rendered: bool,
) -> Component {
    Component {
        app,
        namespace,
        replicas,
        cpu_request_milli: req.0,
        memory_request_mi: req.1,
        cpu_limit_milli: lim.0,
        memory_limit_mi: lim.1,
        rendered,
    }
}

/// The platform's long-running components.
pub const COMPONENTS: [Component; 8] = [
    component(app::BACKEND, PLATFORM, (1, 2), (250, 256), (1000, 512), true),
    component(app::PROVISIONER, PLATFORM, (1, 2), (100, 128), (500, 256), true),
    component(app::POSTGRES, INFRASTRUCTURE, (1, 1), (250, 512), (1000, 1024), true),
    component(app::REDIS, INFRASTRUCTURE, (1, 1), (100, 128), (500, 256), true),
    component(app::RABBITMQ, MESSAGING, (1, 1), (250, 512), (1000, 1024), true),
    component(app::ZITADEL_POSTGRES, AUTH, (1, 1), (250, 256), (1000, 512), true),
    component(app::ZITADEL, AUTH, (1, 2), (250, 512), (1000, 1024), false),
    component("ingress-nginx-controller", INGRESS_NGINX, (1, 2), (100, 90), (1000, 512), false),
];

pub fn component_for(app_name: &str) -> Option<&'static Component> {
    COMPONENTS.iter().find(|c| c.app == app_name)
}

/// Per node: OS, kubelet and containerd (250m, 1Gi) plus calico-node (250m, 256Mi).
const NODE_RESERVE_MILLI: i128 = 500;
const NODE_RESERVE_MI: i128 = 1024 + 256;
/// Per control-plane node: kube-apiserver, controller-manager, scheduler, etcd requests.
const CONTROL_PLANE_MILLI: i128 = 250 + 200 + 100 + 100;
const CONTROL_PLANE_MI: i128 = 1024 + 200 + 100 + 512;
/// CoreDNS: two replicas of 100m / 70Mi, once per cluster.
const COREDNS_MILLI: i128 = 200;
const COREDNS_MI: i128 = 140;

/// How many labs fit, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabsFit {
    pub labs_that_fit: i128,
    /// Total lab requests the configured students need.
    pub labs_cpu: Quantity,
    pub labs_memory: Quantity,
    /// CPU and memory left for labs after system, control plane and platform.
    pub free_cpu: Quantity,
    pub free_memory: Quantity,
    /// Which resource binds, in words.
    pub reason: String,
}

/// Nodes that run workloads: the single node in `mvp`, the workers in `production`.
fn workload_nodes(spec: &PlatformSpec) -> (u32, Quantity, Quantity, bool) {
    match spec.profile {
        Profile::Mvp => {
            let cp = spec.control_plane_nodes();
            (cp.count(), cp.cpu(), cp.memory(), true)
        }
        Profile::Production => {
            let w = spec.worker_nodes();
            (w.count(), w.cpu(), w.memory(), false)
        }
    }
}

/// Labs that fit on the nodes, placing the platform first (first-fit, largest first) and
/// counting whole labs per node, so fragmentation is not ignored.
pub fn labs_fit(spec: &PlatformSpec) -> LabsFit {
    let (count, cpu, memory, runs_control_plane) = workload_nodes(spec);
    let mut free: Vec<(i128, i128)> = (0..count)
        .map(|_| {
            let mut c = cpu.milli_value() - NODE_RESERVE_MILLI;
            let mut m = (memory.value() >> 20) - NODE_RESERVE_MI;
            if runs_control_plane {
                c -= CONTROL_PLANE_MILLI;
                m -= CONTROL_PLANE_MI;
            }
            (c, m)
        })
        .collect();
    let mut pods: Vec<(i128, i128)> = vec![(COREDNS_MILLI / 2, COREDNS_MI / 2); 2];
    for c in COMPONENTS {
        for _ in 0..c.replicas(spec.profile) {
            pods.push((c.cpu_request_milli, c.memory_request_mi));
        }
    }
    pods.sort_by(|a, b| b.cmp(a));
    let mut unplaced = 0;
    for (c, m) in pods {
        match free.iter_mut().find(|(fc, fm)| *fc >= c && *fm >= m) {
            Some(slot) => {
                slot.0 -= c;
                slot.1 -= m;
            }
            None => unplaced += 1,
        }
    }
    let lab_cpu = spec.labs.requests.cpu.0.milli_value().max(1);
    let lab_mem = (spec.labs.requests.memory.0.value() >> 20).max(1);
    let (lab_cpu_qty, lab_mem_qty) = (Quantity::from_milli(lab_cpu), Quantity::from_bytes(lab_mem << 20));
    let labs_in = |free: Quantity, per_lab: Quantity| i128::from(quota::labs_in(free, per_lab).unwrap_or(0));
    let (mut by_cpu, mut by_mem, mut fit) = (0i128, 0i128, 0i128);
    for (c, m) in &free {
        let (c, m) = (Quantity::from_milli(*c), Quantity::from_bytes(*m << 20));
        by_cpu += labs_in(c, lab_cpu_qty);
        by_mem += labs_in(m, lab_mem_qty);
        fit += i128::from(quota::labs_on_node(c, m, lab_cpu_qty, lab_mem_qty));
    }
    if unplaced > 0 {
        fit = 0;
    }
    let free_cpu: i128 = free.iter().map(|f| f.0.max(0)).sum();
    let free_mem: i128 = free.iter().map(|f| f.1.max(0)).sum();
    let reason = if unplaced > 0 {
        format!("{unplaced} platform pods do not fit on the nodes at all")
    } else if by_cpu <= by_mem {
        format!("CPU binds: {} m free for labs at {} m each", free_cpu, lab_cpu)
    } else {
        format!("memory binds: {} Mi free for labs at {} Mi each", free_mem, lab_mem)
    };
    LabsFit {
        labs_that_fit: fit,
        labs_cpu: quota::for_students(lab_cpu_qty, spec.students()),
        labs_memory: quota::for_students(lab_mem_qty, spec.students()),
        free_cpu: Quantity::from_milli(free_cpu),
        free_memory: Quantity::from_bytes(free_mem << 20),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::{Platform, Provider};

    #[test]
    fn document_defaults_fit() {
        for profile in Profile::ALL {
            let p = Platform::for_profile(profile, Provider::Proxmox);
            let fit = labs_fit(&p.spec);
            assert!(fit.labs_that_fit >= p.spec.students() as i128, "{profile:?}: {fit:?}");
        }
    }

    #[test]
    fn one_small_node_holds_few_labs() {
        let mut p = Platform::default();
        p.spec.nodes.control_plane =
            Some(crate::platform::NodePool { cpu: Some(crate::qty::Qty::lit("4")), ..Default::default() });
        let fit = labs_fit(&p.spec);
        assert!(fit.labs_that_fit < 10, "{fit:?}");
        assert!(fit.reason.contains("CPU"), "{}", fit.reason);
    }
}
