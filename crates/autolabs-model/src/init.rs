//! `autolabs init`: a commented starting `platform.yaml`.

use crate::platform::{Profile, Provider};

/// A commented file for a profile and provider; loading it gives the document's platform.
pub fn starter(profile: Profile, provider: Provider) -> String {
    let (cp, workers, students) = match profile {
        Profile::Mvp => ("{count: 1, cpu: 8, memory: 16Gi, disk: 200Gi}", "{count: 0}", 10),
        Profile::Production => (
            "{count: 3, cpu: 4, memory: 8Gi, disk: 100Gi}",
            "{count: 4, cpu: 8, memory: 16Gi, disk: 200Gi}",
            50,
        ),
    };
    let control_plane = match profile {
        Profile::Mvp => "# controlPlane: (production only) virtual IP, HAProxy port and the kubeadm nodes\n".to_string(),
        Profile::Production => "  # HAProxy + keepalived in front of the three API servers\n  controlPlane:\n    virtualIp: 10.0.0.10\n    port: 8443\n    interface: eth0\n    nodes:\n      - {name: cp-1, address: 10.0.0.11}\n      - {name: cp-2, address: 10.0.0.12}\n      - {name: cp-3, address: 10.0.0.13}\n".to_string(),
    };
    format!(
        r#"# platform.yaml: the one file `autolabs render` builds the whole cluster baseline from.
# Every field is optional; the defaults reproduce the AutoLabs design document.
# Editor support: `autolabs schema > platform.schema.json`.
apiVersion: autolabs.io/v1alpha1
kind: Platform
metadata:
  name: autolabs            # labels every object as autolabs.io/platform=<name>
spec:
  profile: {profile}            # mvp (one node) | production (3 control-plane + N workers)
  provider: {provider}          # proxmox | aws | gcp | yandex | azure | generic
  kubernetesVersion: "1.30"   # 1.28 or newer; pins the Pod Security label versions
  domain: autolabs.example.com
  nodes:
    controlPlane: {cp}
    workers: {workers}
  labs:
    students: {students}             # labs running at the same time; the labs quota is students x per-lab size
    requests: {{cpu: 500m, memory: 512Mi}}   # per lab (LimitRange defaultRequest)
    limits: {{cpu: "1", memory: 1Gi}}        # per lab (LimitRange default limit)
    min: {{cpu: 100m, memory: 128Mi}}
    max: {{cpu: "1", memory: 1Gi}}
    podsPerStudent: 2         # pods quota headroom
    ports: ["TCP/8080-8089"]  # the only ports ingress-nginx may reach labs on
  # quotas:                   # per-namespace ResourceQuota overrides
  #   platform: {{requests.cpu: "4", limits.memory: 8Gi}}
  network:
    podCidr: 192.168.0.0/16   # excepted from every internet egress rule
    serviceCidr: 10.96.0.0/12
    nodeCidr: 10.0.0.0/24     # API server endpoints (6443) live here
  isolation:
    # The document's Namespace Isolation Matrix is built in; `autolabs verify` proves it.
    # Add flows here (or replace the matrix with `flows:`):
    extraFlows: []
    #  - name: backend-to-mailer
    #    from: {{namespace: platform, pods: {{app: backend-platform}}}}
    #    to: {{cidr: 203.0.113.25/32}}
    #    ports: ["TCP/587"]
  storage:
    postgresSize: 50Gi
    # className: proxmox-ssd  # defaults to the provider's class
  backup:
    schedule: "0 2 * * *"     # pg_dump of both PostgreSQL instances, daily
    etcdSchedule: "0 * * * *" # etcd snapshot, hourly
    retentionDays: 7
    target:
      pvc: {{size: 100Gi}}
      # s3: {{endpoint: "https://minio.example.com:9000", bucket: autolabs-backups, secretName: backup-s3}}
  # monitoring:               # where alerts go (Alertmanager): criticals to both, warnings to Telegram
  #   alerting:
  #     telegram: {{chatId: -1001234567890}}   # bot token: key telegram-bot-token of Secret monitoring/autolabs-alerting
  #     email: {{to: ops@example.org, from: alertmanager@example.org, smarthost: "smtp.example.org:587", username: alertmanager}}
  # probe: {{enabled: true}}   # RBAC for `autolabs probe` in the real namespaces: a Role in each
  oidc:                       # kube-apiserver OIDC against Zitadel
    # issuerUrl: https://auth.autolabs.example.com
    clientId: kubernetes
    groupsClaim: groups
    adminGroup: autolabs-admins
    developerGroup: autolabs-developers
    supportGroup: autolabs-support
  # provisioner:              # the lab provisioner (autolabs serve); build its image with image/build
  #   image: registry.example.com/autolabs:0.1.0@sha256:…   # pin by digest: verify warns on tags
  # images: {{postgres: "postgres:16.4@sha256:…"}}           # the other images: autolabs versions
{control_plane}"#,
        profile = profile.as_str(),
        provider = provider.as_str(),
    )
}
