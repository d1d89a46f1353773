//! `production` control-plane files: what the operator copies onto the three control-plane
//! nodes before `kubeadm init`. Nothing here is a Kubernetes object; `mvp` gets none.
//!
//! The layout is the kubeadm high-availability guide's "keepalived and haproxy as static
//! pods" option: on every control-plane node keepalived holds the virtual IP
//! (`spec.controlPlane.virtualIp`) and HAProxy listens on `spec.controlPlane.port`,
//! balancing over every kube-apiserver on :6443. `controlPlaneEndpoint` is
//! `<virtualIp>:<port>`, so kubelets, kubeconfigs and certificates all name the VIP.
//!
//! Files:
//! - `kubeadm-config.yaml`: InitConfiguration (first node) + ClusterConfiguration, with the
//!   kube-apiserver's OIDC flags for Zitadel, the EncryptionConfiguration and the audit
//!   policy/log mounted through `extraVolumes`;
//! - `kubeadm-join-control-plane.yaml`: a JoinConfiguration template; its `${…}` placeholders
//!   (token, CA hash, certificate key, node) are filled with `envsubst`;
//! - `haproxy.cfg`, `keepalived-<node>.conf` (one per node, distinct priorities),
//!   `check_apiserver.sh`, and the static pods `manifests/haproxy.yaml`,
//!   `manifests/keepalived.yaml`;
//! - `encryption-config.yaml` (secretbox for Secrets, identity last, a key placeholder the
//!   operator generates) and `audit-policy.yaml`.
//!
//! kubeadm's config API is `kubeadm.k8s.io/v1beta3` up to Kubernetes 1.30 and `v1beta4`
//! from 1.31 (where `extraArgs` became a list of name/value pairs).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Capabilities, Container, HostPathVolumeSource, Pod, PodSpec, SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Value, json};

use super::{ControlPlaneFile, Ctx, Rendered};
use crate::platform::{ControlPlaneSpec, PlatformSpec, Profile};
use crate::topology::port;

/// Where the files live on each control-plane node.
const ENCRYPTION_DIR: &str = "/etc/kubernetes/encryption";
const ENCRYPTION_FILE: &str = "/etc/kubernetes/encryption/encryption-config.yaml";
const AUDIT_POLICY_FILE: &str = "/etc/kubernetes/audit/audit-policy.yaml";
const AUDIT_LOG_DIR: &str = "/var/log/kubernetes/audit";
const HAPROXY_CFG: &str = "/etc/haproxy/haproxy.cfg";
const KEEPALIVED_CONF: &str = "/etc/keepalived/keepalived.conf";
const CHECK_SCRIPT: &str = "/etc/keepalived/check_apiserver.sh";
const CRI_SOCKET: &str = "unix:///var/run/containerd/containerd.sock";
/// Images of the static load-balancer pods (the kubeadm HA guide's choice of keepalived image).
const HAPROXY_IMAGE: &str = crate::versions::HAPROXY_IMAGE.default;
const KEEPALIVED_IMAGE: &str = crate::versions::KEEPALIVED_IMAGE.default;
/// Username prefix the API server puts before every OIDC user, so they never collide with
/// `system:` users or ServiceAccounts.
pub(crate) const OIDC_USERNAME_PREFIX: &str = "oidc:";

pub(crate) fn render(ctx: &Ctx, out: &mut Rendered) {
    let spec = ctx.spec();
    if spec.profile != Profile::Production {
        return;
    }
    let cp = &spec.control_plane;
    let first = cp.nodes.first().map(|n| n.name.as_str()).unwrap_or("the first control-plane node");
    let mut push = |path: &str, contents: String, purpose: String| {
        out.files.push(ControlPlaneFile { path: path.into(), contents, purpose });
    };
    push(
        "kubeadm-config.yaml",
        kubeadm_config(spec),
        format!(
            "On {first}, after the files below are in place: `kubeadm init --config kubeadm-config.yaml --upload-certs`."
        ),
    );
    push(
        "kubeadm-join-control-plane.yaml",
        kubeadm_join(spec),
        "On every other control-plane node: fill the ${…} placeholders with envsubst (see the file's header), then `kubeadm join --config join.yaml`.".into(),
    );
    push("haproxy.cfg", haproxy_cfg(cp), format!("Every control-plane node: {HAPROXY_CFG}."));
    for (i, node) in cp.nodes.iter().enumerate() {
        push(
            &format!("keepalived-{}.conf", node.name),
            keepalived_conf(cp, i),
            format!(
                "Node {} only: {KEEPALIVED_CONF}; set the VRRP password first (same on every node).",
                node.name
            ),
        );
    }
    push(
        "check_apiserver.sh",
        check_apiserver_sh(cp),
        format!("Every control-plane node: {CHECK_SCRIPT}, mode 0755."),
    );
    push(
        "manifests/haproxy.yaml",
        to_yaml(&static_pod_haproxy(cp)),
        "Every control-plane node: /etc/kubernetes/manifests/haproxy.yaml (kubelet runs it as a static pod, before kubeadm init).".into(),
    );
    push(
        "manifests/keepalived.yaml",
        to_yaml(&static_pod_keepalived()),
        "Every control-plane node: /etc/kubernetes/manifests/keepalived.yaml (kubelet runs it as a static pod, before kubeadm init).".into(),
    );
    push(
        "encryption-config.yaml",
        encryption_config(),
        format!(
            "Every control-plane node: {ENCRYPTION_FILE}, mode 0600, the SAME generated key on all nodes."
        ),
    );
    push("audit-policy.yaml", audit_policy(), format!("Every control-plane node: {AUDIT_POLICY_FILE}."));
}

/// A control-plane file's YAML. Cannot fail: these are k8s-openapi and kubeadm config
/// structs, whose maps all have string keys.
#[allow(clippy::expect_used, reason = "the structs serialised here have only string-keyed maps")]
fn to_yaml<T: serde::Serialize>(v: &T) -> String {
    serde_saphyr::to_string(v).expect("control-plane configs serialise to YAML")
}

/// kubeadm's `kubernetesVersion` for the platform (`versions::kubeadm_version`).
fn kubernetes_version(spec: &PlatformSpec) -> String {
    crate::versions::kubeadm_version(spec.kubernetes_version())
}

/// kubeadm's config API for this Kubernetes version.
// cmd/kubeadm/app/apis/kubeadm/v1beta4/doc.go: v1beta4 arrived in 1.31 and turned extraArgs
// maps into ordered `[{name, value}]` lists.
fn kubeadm_api(spec: &PlatformSpec) -> &'static str {
    if spec.kubernetes_minor() >= 31 { "kubeadm.k8s.io/v1beta4" } else { "kubeadm.k8s.io/v1beta3" }
}

/// extraArgs in the shape the config API wants.
fn extra_args(spec: &PlatformSpec, args: &[(&str, String)]) -> Value {
    if kubeadm_api(spec).ends_with("v1beta4") {
        Value::Array(args.iter().map(|(k, v)| json!({"name": k, "value": v})).collect())
    } else {
        Value::Object(args.iter().map(|(k, v)| (k.to_string(), Value::String(v.clone()))).collect())
    }
}

fn control_plane_endpoint(cp: &ControlPlaneSpec) -> String {
    format!("{}:{}", cp.virtual_ip, cp.port)
}

fn control_plane_taint() -> Value {
    json!([{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}])
}

/// The kube-apiserver flags: OIDC against Zitadel, encryption at rest, auditing.
// staging/src/k8s.io/apiserver/plugin/pkg/authenticator/token/oidc/oidc.go: the username is
// prefixed with --oidc-username-prefix and each group with --oidc-groups-prefix, which is
// what the RoleBindings name.
fn apiserver_args(spec: &PlatformSpec) -> Vec<(&'static str, String)> {
    let oidc = &spec.oidc;
    vec![
        ("oidc-issuer-url", oidc.issuer_url(spec.domain())),
        ("oidc-client-id", oidc.client_id.clone()),
        ("oidc-username-claim", oidc.username_claim.clone()),
        ("oidc-username-prefix", OIDC_USERNAME_PREFIX.into()),
        ("oidc-groups-claim", oidc.groups_claim.clone()),
        ("oidc-groups-prefix", oidc.groups_prefix.clone()),
        ("encryption-provider-config", ENCRYPTION_FILE.into()),
        ("audit-policy-file", AUDIT_POLICY_FILE.into()),
        ("audit-log-path", format!("{AUDIT_LOG_DIR}/audit.log")),
        ("audit-log-maxage", "30".into()),
        ("audit-log-maxbackup", "10".into()),
        ("audit-log-maxsize", "100".into()),
        ("profiling", "false".into()),
    ]
}

fn kubeadm_config(spec: &PlatformSpec) -> String {
    let cp = &spec.control_plane;
    let api = kubeadm_api(spec);
    let first = cp.nodes.first();
    let mut sans: Vec<String> = vec![cp.virtual_ip.clone()];
    for n in &cp.nodes {
        sans.push(n.name.clone());
        sans.push(n.address.clone());
    }
    let init = json!({
        "apiVersion": api,
        "kind": "InitConfiguration",
        "localAPIEndpoint": {
            "advertiseAddress": first.map(|n| n.address.as_str()).unwrap_or_default(),
            "bindPort": port::API_SERVER,
        },
        "nodeRegistration": {
            "name": first.map(|n| n.name.as_str()).unwrap_or_default(),
            "criSocket": CRI_SOCKET,
            "taints": control_plane_taint(),
        },
    });
    let cluster = json!({
        "apiVersion": api,
        "kind": "ClusterConfiguration",
        "clusterName": "autolabs",
        "kubernetesVersion": kubernetes_version(spec),
        "controlPlaneEndpoint": control_plane_endpoint(cp),
        "networking": {
            "podSubnet": spec.network.pod_cidr,
            "serviceSubnet": spec.network.service_cidr,
            "dnsDomain": "cluster.local",
        },
        "apiServer": {
            "certSANs": sans,
            "extraArgs": extra_args(spec, &apiserver_args(spec)),
            "extraVolumes": [
                {"name": "encryption-config", "hostPath": ENCRYPTION_DIR, "mountPath": ENCRYPTION_DIR, "readOnly": true, "pathType": "DirectoryOrCreate"},
                {"name": "audit-policy", "hostPath": AUDIT_POLICY_FILE, "mountPath": AUDIT_POLICY_FILE, "readOnly": true, "pathType": "File"},
                {"name": "audit-log", "hostPath": AUDIT_LOG_DIR, "mountPath": AUDIT_LOG_DIR, "readOnly": false, "pathType": "DirectoryOrCreate"},
            ],
        },
        "controllerManager": {"extraArgs": extra_args(spec, &[("profiling", "false".into())])},
        "scheduler": {"extraArgs": extra_args(spec, &[("profiling", "false".into())])},
        "etcd": {
            "local": {
                "dataDir": "/var/lib/etcd",
                // etcd's documented maximum backend size: the default 2 GiB fills up on a
                // busy lab cluster, and a full backend turns the cluster read-only.
                "extraArgs": extra_args(spec, &[("quota-backend-bytes", (8u64 << 30).to_string())]),
            },
        },
    });
    format!(
        "# Rendered by autolabs for the production control plane ({api}).\n\
         # On {first}: kubeadm init --config kubeadm-config.yaml --upload-certs\n\
         # Before that, on every control-plane node: haproxy.cfg, keepalived-<node>.conf, check_apiserver.sh,\n\
         # manifests/*.yaml, encryption-config.yaml (with a generated key) and audit-policy.yaml in place.\n\
         ---\n{}---\n{}",
        to_yaml(&init),
        to_yaml(&cluster),
        first = first.map(|n| n.name.as_str()).unwrap_or("the first control-plane node"),
    )
}

fn kubeadm_join(spec: &PlatformSpec) -> String {
    let cp = &spec.control_plane;
    let join = json!({
        "apiVersion": kubeadm_api(spec),
        "kind": "JoinConfiguration",
        "discovery": {
            "bootstrapToken": {
                "apiServerEndpoint": control_plane_endpoint(cp),
                "token": "${KUBEADM_TOKEN}",
                "caCertHashes": ["${CA_CERT_HASH}"],
            },
        },
        "nodeRegistration": {
            "name": "${NODE_NAME}",
            "criSocket": CRI_SOCKET,
            "taints": control_plane_taint(),
        },
        "controlPlane": {
            "localAPIEndpoint": {"advertiseAddress": "${NODE_ADDRESS}", "bindPort": port::API_SERVER},
            "certificateKey": "${CERTIFICATE_KEY}",
        },
    });
    let mut header = String::from(
        "# Rendered by autolabs: JoinConfiguration TEMPLATE for the other control-plane nodes.\n\
         # Placeholders (fill them, never commit the result):\n\
         #   KUBEADM_TOKEN    and CA_CERT_HASH (sha256:...): printed by `kubeadm token create --print-join-command` on a joined node\n\
         #   CERTIFICATE_KEY: printed by `kubeadm init phase upload-certs --upload-certs` (valid for 2 hours)\n\
         #   NODE_NAME, NODE_ADDRESS: this node, from the list below\n\
         # Then: KUBEADM_TOKEN=... CA_CERT_HASH=... CERTIFICATE_KEY=... NODE_NAME=... NODE_ADDRESS=... \\\n\
         #         envsubst < kubeadm-join-control-plane.yaml > join.yaml && kubeadm join --config join.yaml\n\
         # Nodes:\n",
    );
    for n in cp.nodes.iter().skip(1) {
        header.push_str(&format!("#   NODE_NAME={} NODE_ADDRESS={}\n", n.name, n.address));
    }
    format!("{header}{}", to_yaml(&join))
}

fn haproxy_cfg(cp: &ControlPlaneSpec) -> String {
    let mut s = format!(
        "# Rendered by autolabs: HAProxy in front of every kube-apiserver (kubeadm HA guide).\n\
         # The same file on every control-plane node; keepalived moves the virtual IP {vip} between them.\n\
         global\n\
         \x20   log stdout format raw local0\n\
         \x20   maxconn 4000\n\
         \n\
         defaults\n\
         \x20   mode tcp\n\
         \x20   log global\n\
         \x20   option tcplog\n\
         \x20   option dontlognull\n\
         \x20   retries 3\n\
         \x20   timeout connect 5s\n\
         \x20   # watches are long-lived: keep idle API connections open\n\
         \x20   timeout client 300s\n\
         \x20   timeout server 300s\n\
         \x20   timeout tunnel 1h\n\
         \x20   timeout check 5s\n\
         \n\
         frontend kube-apiserver\n\
         \x20   bind *:{port}\n\
         \x20   mode tcp\n\
         \x20   option tcplog\n\
         \x20   default_backend kube-apiserver\n\
         \n\
         backend kube-apiserver\n\
         \x20   mode tcp\n\
         \x20   balance roundrobin\n\
         \x20   # /healthz is readable without credentials (system:public-info-viewer)\n\
         \x20   option httpchk GET /healthz\n\
         \x20   http-check expect status 200\n\
         \x20   default-server check check-ssl verify none inter 3s fall 3 rise 2\n",
        vip = cp.virtual_ip,
        port = cp.port,
    );
    for n in &cp.nodes {
        s.push_str(&format!("    server {} {}:{}\n", n.name, n.address, port::API_SERVER));
    }
    s
}

/// VRRP priority of the i-th node: the first is MASTER, each next one lower. The check's
/// weight (-50) drops a failing node below every healthy one.
fn vrrp_priority(i: usize) -> u32 {
    150u32.saturating_sub(10 * i as u32).max(1)
}

/// A stable VRRP router id from the VIP (1–255), so two clusters on one LAN differ.
fn vrrp_router_id(vip: &str) -> u32 {
    vip.rsplit('.').next().and_then(|o| o.parse::<u32>().ok()).filter(|o| (1..=255).contains(o)).unwrap_or(51)
}

fn keepalived_conf(cp: &ControlPlaneSpec, i: usize) -> String {
    let node = &cp.nodes[i];
    let peers: String = cp
        .nodes
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != i)
        .map(|(_, n)| format!("        {}\n", n.address))
        .collect();
    format!(
        "! Rendered by autolabs for {name}: keepalived holds the API virtual IP {vip} (kubeadm HA guide).\n\
         ! Replace CHANGEME with one 8-character VRRP password, the same on every control-plane node.\n\
         global_defs {{\n\
         \x20   router_id {name}\n\
         \x20   enable_script_security\n\
         \x20   script_user root\n\
         }}\n\
         \n\
         vrrp_script check_apiserver {{\n\
         \x20   script \"{check}\"\n\
         \x20   interval 3\n\
         \x20   timeout 5\n\
         \x20   fall 3\n\
         \x20   rise 2\n\
         \x20   weight -50\n\
         }}\n\
         \n\
         vrrp_instance kube_apiserver {{\n\
         \x20   state {state}\n\
         \x20   interface {iface}\n\
         \x20   virtual_router_id {router_id}\n\
         \x20   priority {priority}\n\
         \x20   advert_int 1\n\
         \x20   # unicast: works where multicast is filtered (clouds, some hypervisors)\n\
         \x20   unicast_src_ip {address}\n\
         \x20   unicast_peer {{\n\
         {peers}\
         \x20   }}\n\
         \x20   authentication {{\n\
         \x20       auth_type PASS\n\
         \x20       auth_pass CHANGEME\n\
         \x20   }}\n\
         \x20   virtual_ipaddress {{\n\
         \x20       {vip}\n\
         \x20   }}\n\
         \x20   track_script {{\n\
         \x20       check_apiserver\n\
         \x20   }}\n\
         }}\n",
        name = node.name,
        vip = cp.virtual_ip,
        check = CHECK_SCRIPT,
        state = if i == 0 { "MASTER" } else { "BACKUP" },
        iface = cp.interface,
        router_id = vrrp_router_id(&cp.virtual_ip),
        priority = vrrp_priority(i),
        address = node.address,
    )
}

fn check_apiserver_sh(cp: &ControlPlaneSpec) -> String {
    format!(
        "#!/bin/sh\n\
         # Rendered by autolabs: keepalived's health check. Fails when HAProxy on this node does not\n\
         # reach a healthy kube-apiserver, so the virtual IP moves to a node where it does.\n\
         errorExit() {{\n\
         \x20   echo \"*** $*\" 1>&2\n\
         \x20   exit 1\n\
         }}\n\
         curl -sfk --max-time 2 https://localhost:{port}/healthz -o /dev/null || errorExit \"GET https://localhost:{port}/healthz failed\"\n\
         if ip addr | grep -q \"{vip}\"; then\n\
         \x20   curl -sfk --max-time 2 https://{vip}:{port}/healthz -o /dev/null || errorExit \"GET https://{vip}:{port}/healthz failed\"\n\
         fi\n",
        port = cp.port,
        vip = cp.virtual_ip,
    )
}

fn host_file(name: &str, path: &str, kind: &str) -> Volume {
    Volume {
        name: name.into(),
        host_path: Some(HostPathVolumeSource { path: path.into(), type_: Some(kind.into()) }),
        ..Default::default()
    }
}

fn static_pod(name: &str, container: Container, volumes: Vec<Volume>) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("kube-system".into()),
            labels: Some(BTreeMap::from([
                ("component".to_string(), name.to_string()),
                ("tier".to_string(), "control-plane".to_string()),
            ])),
            ..Default::default()
        },
        spec: Some(PodSpec {
            host_network: Some(true),
            priority_class_name: Some("system-node-critical".into()),
            containers: vec![container],
            volumes: Some(volumes),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn static_pod_haproxy(cp: &ControlPlaneSpec) -> Pod {
    static_pod(
        "haproxy",
        Container {
            name: "haproxy".into(),
            image: Some(HAPROXY_IMAGE.into()),
            args: Some(vec!["-f".into(), HAPROXY_CFG.into()]),
            liveness_probe: Some(k8s_openapi::api::core::v1::Probe {
                tcp_socket: Some(k8s_openapi::api::core::v1::TCPSocketAction {
                    port: k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(cp.port.into()),
                    host: Some("127.0.0.1".into()),
                }),
                period_seconds: Some(10),
                failure_threshold: Some(6),
                ..Default::default()
            }),
            security_context: Some(SecurityContext {
                allow_privilege_escalation: Some(false),
                capabilities: Some(Capabilities { drop: Some(vec!["ALL".into()]), add: None }),
                read_only_root_filesystem: Some(true),
                ..Default::default()
            }),
            volume_mounts: Some(vec![VolumeMount {
                name: "haproxyconf".into(),
                mount_path: HAPROXY_CFG.into(),
                read_only: Some(true),
                ..Default::default()
            }]),
            ..Default::default()
        },
        vec![host_file("haproxyconf", HAPROXY_CFG, "FileOrCreate")],
    )
}

fn static_pod_keepalived() -> Pod {
    static_pod(
        "keepalived",
        Container {
            name: "keepalived".into(),
            image: Some(KEEPALIVED_IMAGE.into()),
            // The image's own entrypoint would rewrite the config; use the mounted one as is.
            args: Some(vec!["--copy-service".into()]),
            security_context: Some(SecurityContext {
                // VRRP needs raw sockets and to add the VIP to the interface; nothing more.
                capabilities: Some(Capabilities {
                    add: Some(vec!["NET_ADMIN".into(), "NET_BROADCAST".into(), "NET_RAW".into()]),
                    drop: None,
                }),
                ..Default::default()
            }),
            volume_mounts: Some(vec![
                VolumeMount {
                    name: "config".into(),
                    mount_path: "/usr/local/etc/keepalived/keepalived.conf".into(),
                    read_only: Some(true),
                    ..Default::default()
                },
                VolumeMount {
                    name: "check".into(),
                    mount_path: CHECK_SCRIPT.into(),
                    read_only: Some(true),
                    ..Default::default()
                },
            ]),
            ..Default::default()
        },
        vec![host_file("config", KEEPALIVED_CONF, "File"), host_file("check", CHECK_SCRIPT, "File")],
    )
}

/// Secrets encrypted at rest with secretbox (XSalsa20-Poly1305); identity last so data
/// written before encryption was enabled stays readable.
// staging/src/k8s.io/apiserver/pkg/apis/apiserver/v1/types_encryption.go: the first
// provider encrypts new writes, every provider is tried to decrypt; secretbox keys are
// exactly 32 bytes, base64-encoded.
fn encryption_config() -> String {
    let config = json!({
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "EncryptionConfiguration",
        "resources": [{
            "resources": ["secrets"],
            "providers": [
                {"secretbox": {"keys": [{"name": "key1", "secret": "REPLACE_WITH_GENERATED_KEY"}]}},
                {"identity": {}},
            ],
        }],
    });
    format!(
        "# Rendered by autolabs: encryption at rest for Secrets.\n\
         # Generate ONE key and use it in this file on every control-plane node (mode 0600):\n\
         #   head -c 32 /dev/urandom | base64\n\
         # The placeholder is not valid base64 of 32 bytes, so the API server refuses to start until it is replaced.\n\
         # After the cluster is up, rewrite existing Secrets so they are stored encrypted:\n\
         #   kubectl get secrets --all-namespaces -o json | kubectl replace -f -\n\
         {}",
        to_yaml(&config)
    )
}

/// The audit policy: the first matching rule decides, so the quiet rules come first.
// staging/src/k8s.io/apiserver/pkg/audit/policy/checker.go: rules are evaluated in order and
// the first match sets the level; no match means None.
fn audit_policy() -> String {
    let policy = json!({
        "apiVersion": "audit.k8s.io/v1",
        "kind": "Policy",
        "omitStages": ["RequestReceived"],
        "rules": [
            // Health and metrics endpoints: pure noise.
            {"level": "None", "nonResourceURLs": ["/healthz*", "/livez*", "/readyz*", "/version", "/metrics", "/openapi*"]},
            // Events are high volume and not security relevant.
            {"level": "None", "resources": [{"group": "", "resources": ["events"]}, {"group": "events.k8s.io", "resources": ["events"]}]},
            // Leader election and node heartbeats.
            {"level": "None", "verbs": ["get", "update"], "resources": [{"group": "coordination.k8s.io", "resources": ["leases"]}]},
            // Kubelets and kube-proxy reading what they run.
            {"level": "None", "userGroups": ["system:nodes"], "verbs": ["get", "list", "watch"]},
            {"level": "None", "users": ["system:kube-proxy"], "verbs": ["watch"]},
            // Contents would leak credentials: who touched them, never what.
            {"level": "Metadata", "resources": [
                {"group": "", "resources": ["secrets", "configmaps", "serviceaccounts/token"]},
                {"group": "authentication.k8s.io", "resources": ["tokenreviews"]},
            ]},
            // Changes to who may do what: the full request and response.
            {"level": "RequestResponse", "verbs": ["create", "update", "patch", "delete", "deletecollection"], "resources": [{"group": "rbac.authorization.k8s.io"}]},
            // Interactive access into running containers.
            {"level": "RequestResponse", "resources": [{"group": "", "resources": ["pods/exec", "pods/attach", "pods/portforward"]}]},
            // Everything else: who did what, when.
            {"level": "Metadata"},
        ],
    });
    format!(
        "# Rendered by autolabs: kube-apiserver audit policy (first matching rule wins).\n{}",
        to_yaml(&policy)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::{Platform, Provider};

    fn files(profile: Profile) -> Vec<ControlPlaneFile> {
        let p = Platform::for_profile(profile, Provider::Proxmox);
        let ctx = Ctx { p: &p };
        let mut out = Rendered::default();
        render(&ctx, &mut out);
        out.files
    }

    fn file(files: &[ControlPlaneFile], path: &str) -> String {
        files.iter().find(|f| f.path == path).unwrap_or_else(|| panic!("{path} missing")).contents.clone()
    }

    /// Every YAML document of a file, parsed.
    fn docs(contents: &str) -> Vec<Value> {
        contents
            .split("\n---\n")
            .flat_map(|d| d.split("---\n"))
            .map(|d| d.lines().filter(|l| !l.starts_with('#')).collect::<Vec<_>>().join("\n"))
            .filter(|d| !d.trim().is_empty())
            .map(|d| serde_saphyr::from_str::<Value>(&d).unwrap_or_else(|e| panic!("{e}: {d}")))
            .collect()
    }

    #[test]
    fn mvp_has_no_control_plane_files() {
        assert!(files(Profile::Mvp).is_empty());
    }

    #[test]
    fn production_has_every_file() {
        let f = files(Profile::Production);
        let mut paths: Vec<&str> = f.iter().map(|f| f.path.as_str()).collect();
        paths.sort();
        assert_eq!(
            paths,
            [
                "audit-policy.yaml",
                "check_apiserver.sh",
                "encryption-config.yaml",
                "haproxy.cfg",
                "keepalived-cp-1.conf",
                "keepalived-cp-2.conf",
                "keepalived-cp-3.conf",
                "kubeadm-config.yaml",
                "kubeadm-join-control-plane.yaml",
                "manifests/haproxy.yaml",
                "manifests/keepalived.yaml",
            ]
        );
        assert!(f.iter().all(|f| !f.purpose.is_empty()));
    }

    #[test]
    fn kubeadm_config_points_at_the_vip_with_oidc() {
        let f = files(Profile::Production);
        let d = docs(&file(&f, "kubeadm-config.yaml"));
        assert_eq!(d.len(), 2);
        assert_eq!(d[0]["kind"], "InitConfiguration");
        assert_eq!(d[0]["localAPIEndpoint"]["advertiseAddress"], "10.0.0.11");
        let c = &d[1];
        assert_eq!(c["apiVersion"], "kubeadm.k8s.io/v1beta3");
        assert_eq!(c["controlPlaneEndpoint"], "10.0.0.10:8443");
        assert_eq!(c["kubernetesVersion"], "v1.30.0");
        assert_eq!(c["networking"]["podSubnet"], "192.168.0.0/16");
        assert_eq!(c["networking"]["serviceSubnet"], "10.96.0.0/12");
        let args = &c["apiServer"]["extraArgs"];
        // One row per flag the task names.
        for (flag, value) in [
            ("oidc-issuer-url", "https://auth.autolabs.example.com"),
            ("oidc-client-id", "kubernetes"),
            ("oidc-username-claim", "email"),
            ("oidc-username-prefix", "oidc:"),
            ("oidc-groups-claim", "groups"),
            ("oidc-groups-prefix", "oidc:"),
            ("encryption-provider-config", ENCRYPTION_FILE),
            ("audit-policy-file", AUDIT_POLICY_FILE),
            ("audit-log-path", "/var/log/kubernetes/audit/audit.log"),
            ("audit-log-maxage", "30"),
            ("audit-log-maxbackup", "10"),
        ] {
            assert_eq!(args[flag], value, "{flag}");
        }
        let mounts: Vec<&str> = c["apiServer"]["extraVolumes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["mountPath"].as_str().unwrap())
            .collect();
        for needed in [ENCRYPTION_DIR, AUDIT_POLICY_FILE, AUDIT_LOG_DIR] {
            assert!(mounts.contains(&needed), "{needed}");
        }
    }

    #[test]
    fn kubeadm_v1beta4_from_1_31_uses_arg_lists() {
        let mut p = Platform::for_profile(Profile::Production, Provider::Aws);
        p.spec.kubernetes_version = Some("1.32.3".into());
        let d = docs(&kubeadm_config(&p.spec));
        assert_eq!(d[1]["apiVersion"], "kubeadm.k8s.io/v1beta4");
        assert_eq!(d[1]["kubernetesVersion"], "v1.32.3");
        let args = d[1]["apiServer"]["extraArgs"].as_array().unwrap();
        assert!(args.iter().any(|a| a["name"] == "oidc-username-prefix" && a["value"] == "oidc:"));
    }

    #[test]
    fn join_template_marks_every_secret_as_a_placeholder() {
        let f = files(Profile::Production);
        let contents = file(&f, "kubeadm-join-control-plane.yaml");
        let d = docs(&contents);
        assert_eq!(d[0]["kind"], "JoinConfiguration");
        assert_eq!(d[0]["discovery"]["bootstrapToken"]["apiServerEndpoint"], "10.0.0.10:8443");
        for placeholder in
            ["${KUBEADM_TOKEN}", "${CA_CERT_HASH}", "${CERTIFICATE_KEY}", "${NODE_NAME}", "${NODE_ADDRESS}"]
        {
            assert!(contents.contains(placeholder), "{placeholder}");
        }
        assert!(
            contents.contains("NODE_NAME=cp-2 NODE_ADDRESS=10.0.0.12") && contents.contains("NODE_NAME=cp-3")
        );
    }

    #[test]
    fn haproxy_balances_every_apiserver() {
        let cfg = file(&files(Profile::Production), "haproxy.cfg");
        assert!(
            cfg.contains("bind *:8443")
                && cfg.contains("option httpchk GET /healthz")
                && cfg.contains("balance roundrobin")
        );
        assert!(cfg.contains("check check-ssl verify none"));
        for a in ["10.0.0.11:6443", "10.0.0.12:6443", "10.0.0.13:6443"] {
            assert!(cfg.contains(a), "{a}");
        }
    }

    #[test]
    fn keepalived_priorities_differ_and_the_check_can_demote() {
        let f = files(Profile::Production);
        let prios: Vec<u32> = (1..=3)
            .map(|i| {
                let c = file(&f, &format!("keepalived-cp-{i}.conf"));
                assert!(c.contains("10.0.0.10") && c.contains("interface eth0") && c.contains(CHECK_SCRIPT));
                c.lines().find_map(|l| l.trim().strip_prefix("priority ")).unwrap().parse().unwrap()
            })
            .collect();
        assert!(prios[0] > prios[1] && prios[1] > prios[2], "{prios:?}");
        // A failing MASTER (priority - 50) must fall below the lowest healthy BACKUP.
        assert!(prios[0] - 50 < prios[2]);
    }

    #[test]
    fn encryption_config_has_a_placeholder_and_identity_last() {
        let contents = file(&files(Profile::Production), "encryption-config.yaml");
        assert!(contents.contains("head -c 32 /dev/urandom | base64"));
        let d = docs(&contents);
        let providers = d[0]["resources"][0]["providers"].as_array().unwrap();
        assert!(providers[0]["secretbox"].is_object());
        assert!(providers.last().unwrap()["identity"].is_object());
        assert_eq!(d[0]["resources"][0]["resources"][0], "secrets");
    }

    #[test]
    fn audit_policy_levels() {
        let d = docs(&file(&files(Profile::Production), "audit-policy.yaml"));
        let rules = d[0]["rules"].as_array().unwrap();
        // First matching rule wins (audit/policy/checker.go): find the level a request gets.
        let level = |group: &str, resource: &str, verb: &str| -> String {
            for r in rules {
                let verbs_ok = r["verbs"].as_array().is_none_or(|v| v.iter().any(|x| x == verb));
                let res_ok = match r["resources"].as_array() {
                    None => {
                        r.get("nonResourceURLs").is_none()
                            && r.get("userGroups").is_none()
                            && r.get("users").is_none()
                    }
                    Some(rs) => rs.iter().any(|g| {
                        g["group"] == group
                            && g["resources"].as_array().is_none_or(|x| x.iter().any(|y| y == resource))
                    }),
                };
                if verbs_ok && res_ok {
                    return r["level"].as_str().unwrap().to_string();
                }
            }
            "None".into()
        };
        for (group, resource, verb, expected) in [
            ("", "secrets", "get", "Metadata"),
            ("", "configmaps", "update", "Metadata"),
            ("authentication.k8s.io", "tokenreviews", "create", "Metadata"),
            ("rbac.authorization.k8s.io", "clusterrolebindings", "create", "RequestResponse"),
            ("", "pods/exec", "create", "RequestResponse"),
            ("", "events", "create", "None"),
            ("apps", "deployments", "patch", "Metadata"),
        ] {
            assert_eq!(level(group, resource, verb), expected, "{group}/{resource} {verb}");
        }
    }

    #[test]
    fn static_pods_are_valid_pods() {
        let f = files(Profile::Production);
        for path in ["manifests/haproxy.yaml", "manifests/keepalived.yaml"] {
            let pod: Pod = serde_saphyr::from_str(&file(&f, path)).unwrap();
            let spec = pod.spec.unwrap();
            assert_eq!(spec.host_network, Some(true), "{path}");
        }
    }

    /// HAProxy and keepalived accept their files, when the tools are installed.
    #[test]
    fn haproxy_and_keepalived_accept_their_configs() {
        let f = files(Profile::Production);
        let dir = std::env::temp_dir().join(format!("autolabs-cp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, contents: &str| {
            let p = dir.join(name);
            std::fs::write(&p, contents).unwrap();
            p
        };
        let haproxy = write("haproxy.cfg", &file(&f, "haproxy.cfg"));
        match std::process::Command::new("haproxy").arg("-c").arg("-f").arg(&haproxy).output() {
            Ok(out) => assert!(
                out.status.success(),
                "haproxy -c: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(_) => eprintln!("haproxy not installed; skipped"),
        }
        let check = write("check_apiserver.sh", &file(&f, "check_apiserver.sh"));
        if let Ok(out) = std::process::Command::new("sh").arg("-n").arg(&check).output() {
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        }
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&check, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        // The check script lives elsewhere on this machine.
        let conf = file(&f, "keepalived-cp-2.conf").replace(CHECK_SCRIPT, &check.to_string_lossy());
        let keepalived = write("keepalived.conf", &conf);
        match std::process::Command::new("keepalived")
            .arg("--config-test")
            .arg("-f")
            .arg(&keepalived)
            .output()
        {
            Ok(out) => assert!(
                out.status.success(),
                "keepalived -t: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(_) => eprintln!("keepalived not installed; skipped"),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
