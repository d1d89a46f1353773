//! Semantic checks of a typed [`Platform`]: what serde cannot see (sizes, CIDRs, cron
//! schedules, names, capacity). Each problem is `(field path, message, hint)`; the loader
//! turns paths into lines.

use std::collections::BTreeSet;

use autolabs_k8s::names;
use ipnet::Ipv4Net;

use crate::capacity;
use crate::platform::{Endpoint, Platform, Profile};
use crate::topology;
use crate::versions::{NEWEST_SUPPORTED_MINOR, OLDEST_SUPPORTED_MINOR};

type Problem = (String, String, Option<String>);

/// Every semantic problem of `p`. The capacity check (do the students fit the nodes?) runs
/// only when `complete` (every section was read) and nothing else is wrong, since it
/// depends on all the sizes.
pub fn check(p: &Platform, complete: bool) -> Vec<Problem> {
    let mut out: Vec<Problem> = Vec::new();
    let mut bad = |field: &str, message: String, hint: &str| {
        out.push((field.to_string(), message, (!hint.is_empty()).then(|| hint.to_string())));
    };
    let s = &p.spec;

    for e in names::dns1123_label(&p.metadata.name) {
        bad("metadata.name", format!("{:?} {e}", p.metadata.name), "use lowercase letters, digits and '-'");
    }

    match crate::platform::parse_minor(s.kubernetes_version()) {
        Some(minor) if (OLDEST_SUPPORTED_MINOR..=NEWEST_SUPPORTED_MINOR).contains(&minor) => {}
        Some(minor) => bad(
            "spec.kubernetesVersion",
            format!(
                "1.{minor} is outside the supported range 1.{OLDEST_SUPPORTED_MINOR} … 1.{NEWEST_SUPPORTED_MINOR}"
            ),
            "the design document targets 1.28+; give a version such as \"1.30\"",
        ),
        None => bad(
            "spec.kubernetesVersion",
            format!("{:?} is not a Kubernetes version", s.kubernetes_version()),
            "write it as \"1.30\" (quoted, so YAML keeps it a string)",
        ),
    }
    // One image, two names: the older `spec.images.provisioner` is read, but never beside
    // the new field (which one would win is not for a reader to guess).
    if let (Some(new), Some(old)) = (&s.provisioner.image, &s.images.provisioner) {
        bad(
            "spec.images.provisioner",
            format!("set beside spec.provisioner.image ({old:?} and {new:?})"),
            "keep only spec.provisioner.image (spec.images.provisioner is its older name)",
        );
    }
    for pin in crate::versions::IMAGES {
        if let Some(field) = pin.field
            && s.image_for(pin).trim().is_empty()
        {
            bad(
                field,
                "is empty".into(),
                "give an image reference such as registry.example/name:1.0@sha256:…",
            );
        }
    }
    if let Some(d) = &s.domain {
        for e in names::dns1123_subdomain(d) {
            bad("spec.domain", format!("{d:?}: {e}"), "give a DNS name such as autolabs.example.com");
        }
    }

    // Nodes
    let cp = s.control_plane_nodes();
    let workers = s.worker_nodes();
    for (field, pool) in [("spec.nodes.controlPlane", &cp), ("spec.nodes.workers", &workers)] {
        for (name, q) in [("cpu", pool.cpu()), ("memory", pool.memory()), ("disk", pool.disk())] {
            if q.nanos() <= 0 {
                bad(
                    &format!("{field}.{name}"),
                    format!("must be positive, found {q}"),
                    "give a size such as 8, 16Gi or 200Gi",
                );
            }
        }
    }
    match s.profile {
        Profile::Mvp if cp.count() != 1 => bad(
            "spec.nodes.controlPlane.count",
            format!("the mvp profile is a single node, found {}", cp.count()),
            "set count: 1, or use `profile: production` for 3 control-plane nodes",
        ),
        Profile::Production if cp.count() < 3 || cp.count().is_multiple_of(2) => bad(
            "spec.nodes.controlPlane.count",
            format!(
                "production needs an odd number of control-plane nodes (3 or more) for etcd quorum, found {}",
                cp.count()
            ),
            "set count: 3",
        ),
        _ => {}
    }
    // Reported with the count above, not instead of it: every problem at once.
    if s.profile == Profile::Production && workers.count() == 0 {
        bad(
            "spec.nodes.workers.count",
            "production needs worker nodes: its control-plane nodes are tainted".into(),
            "set count to 3 or more",
        );
    }

    // Labs
    let labs = &s.labs;
    if s.students() == 0 {
        bad("spec.labs.students", "must be at least 1".into(), "");
    }
    if labs.pods_per_student == 0 {
        bad("spec.labs.podsPerStudent", "must be at least 1".into(), "");
    }
    for res in ["cpu", "memory"] {
        let get = |r: &crate::platform::Resources| if res == "cpu" { r.cpu.0 } else { r.memory.0 };
        let (min, req, lim, max) = (get(&labs.min), get(&labs.requests), get(&labs.limits), get(&labs.max));
        for (field, q) in [("min", min), ("requests", req), ("limits", lim), ("max", max)] {
            if q.nanos() <= 0 {
                bad(&format!("spec.labs.{field}.{res}"), format!("must be positive, found {q}"), "");
            }
        }
        if req > lim {
            bad(
                &format!("spec.labs.requests.{res}"),
                format!("request {req} is above the limit {lim}"),
                "a pod's request may not exceed its limit",
            );
        }
        if min > req {
            bad(
                &format!("spec.labs.min.{res}"),
                format!("min {min} is above the lab request {req}"),
                "the LimitRange would reject every lab",
            );
        }
        if lim > max {
            bad(
                &format!("spec.labs.limits.{res}"),
                format!("limit {lim} is above max {max}"),
                "the LimitRange would reject every lab",
            );
        }
    }
    if labs.ports.is_empty() {
        bad(
            "spec.labs.ports",
            "needs at least one port".into(),
            "labs are reached through ingress-nginx on these ports",
        );
    }

    // Quotas
    for (ns, resources) in &s.quotas {
        if !topology::is_platform_namespace(ns) {
            bad(
                &format!("spec.quotas.{ns}"),
                format!("{ns:?} is not a platform namespace"),
                "quotas can be set for platform, infrastructure, messaging, auth, labs, ingress-nginx, monitoring",
            );
        }
        for (res, q) in resources {
            let field = format!("spec.quotas.{ns}[{res:?}]");
            if !is_quota_resource(res) {
                bad(
                    &field,
                    format!("{res:?} is not a ResourceQuota resource name"),
                    "use requests.cpu, limits.memory, pods, persistentvolumeclaims, requests.storage, count/<resource>…",
                );
            }
            if q.0.is_negative() {
                bad(&field, format!("must not be negative, found {q}"), "");
            }
        }
    }

    // Network
    let mut cidrs = Vec::new();
    for (field, value) in [
        ("spec.network.podCidr", &s.network.pod_cidr),
        ("spec.network.serviceCidr", &s.network.service_cidr),
        ("spec.network.nodeCidr", &s.network.node_cidr),
    ] {
        match value.parse::<Ipv4Net>() {
            Ok(net) if net.network() == net.addr() => cidrs.push(net),
            Ok(net) => bad(
                field,
                format!("{value:?} has host bits set"),
                &format!("write the network address: {}", net.trunc()),
            ),
            Err(_) => bad(field, format!("{value:?} is not an IPv4 CIDR"), "write it as 10.0.0.0/24"),
        }
    }

    // Isolation matrix
    let mut names_seen = BTreeSet::new();
    let user_flows = s
        .isolation
        .flows
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, f)| (format!("spec.isolation.flows[{i}]"), f));
    let extra = s
        .isolation
        .extra_flows
        .iter()
        .enumerate()
        .map(|(i, f)| (format!("spec.isolation.extraFlows[{i}]"), f));
    for (field, f) in user_flows.chain(extra) {
        for e in names::dns1123_label(&f.name) {
            bad(&format!("{field}.name"), format!("{:?} {e}", f.name), "");
        }
        if f.name.len() > 50 {
            bad(
                &format!("{field}.name"),
                "must be at most 50 characters (policy names add a suffix)".into(),
                "",
            );
        }
        if !names_seen.insert(f.name.clone()) {
            bad(
                &format!("{field}.name"),
                format!("duplicate flow name {:?}", f.name),
                "each flow needs its own name",
            );
        }
        check_endpoint(&format!("{field}.from"), &f.from, &mut bad);
        check_endpoint(&format!("{field}.to"), &f.to, &mut bad);
        if !f.from.is_in_cluster() && !f.to.is_in_cluster() {
            bad(&field, "a flow needs pods on at least one side".into(), "set `namespace` on `from` or `to`");
        }
    }

    // Storage and backups
    for (field, q) in [
        ("spec.storage.postgresSize", s.storage.postgres_size()),
        ("spec.storage.zitadelPostgresSize", s.storage.zitadel_postgres_size()),
        ("spec.storage.rabbitmqSize", s.storage.rabbitmq_size()),
        ("spec.storage.redisSize", s.storage.redis_size()),
    ] {
        if q.0.nanos() <= 0 {
            bad(field, format!("must be positive, found {q}"), "");
        }
    }
    if let Some(c) = &s.storage.class_name {
        for e in names::dns1123_subdomain(c) {
            bad("spec.storage.className", format!("{c:?}: {e}"), "");
        }
    }
    for (field, cron) in
        [("spec.backup.schedule", &s.backup.schedule), ("spec.backup.etcdSchedule", &s.backup.etcd_schedule)]
    {
        match autolabs_k8s::cron::Schedule::parse(cron) {
            Err(e) => bad(
                field,
                format!("{cron:?} is not a cron schedule: {e}"),
                "five fields: minute hour day-of-month month day-of-week, e.g. \"0 2 * * *\"",
            ),
            Ok(schedule) if !schedule.runs() => bad(
                field,
                format!(
                    "{cron:?} never runs: no date matches it (the API server accepts it, and no backup is ever made)"
                ),
                "pick days that exist, e.g. \"0 2 * * *\" (daily at 02:00 UTC)",
            ),
            Ok(_) => {}
        }
    }
    // nginx refuses `rate=0r/s` and `limit_conn … 0` at reload: the controller would keep its old config.
    for (field, value) in [
        ("spec.ingress.rateLimitRps", s.ingress.rate_limit_rps),
        ("spec.ingress.rateLimitConnections", s.ingress.rate_limit_connections),
    ] {
        if value == 0 {
            bad(field, "must be at least 1".into(), "");
        }
    }
    if s.backup.retention_days == 0 {
        bad("spec.backup.retentionDays", "must be at least 1".into(), "");
    }
    let t = &s.backup.target;
    match (&t.pvc, &t.s3) {
        (Some(_), Some(_)) => bad("spec.backup.target", "set either pvc or s3, not both".into(), ""),
        (None, None) => bad("spec.backup.target", "set pvc or s3".into(), "for example `pvc: {size: 100Gi}`"),
        _ => {}
    }
    if let Some(pvc) = &t.pvc
        && pvc.size.0.nanos() <= 0
    {
        bad("spec.backup.target.pvc.size", format!("must be positive, found {}", pvc.size), "");
    }
    if let Some(s3) = &t.s3 {
        if !(s3.endpoint.starts_with("https://") || s3.endpoint.starts_with("http://")) {
            bad(
                "spec.backup.target.s3.endpoint",
                format!("{:?} is not an http(s) URL", s3.endpoint),
                "e.g. https://minio.example.com:9000",
            );
        }
        if s3.bucket.is_empty() {
            bad("spec.backup.target.s3.bucket", "must not be empty".into(), "");
        }
        for e in names::dns1123_subdomain(&s3.secret_name) {
            bad("spec.backup.target.s3.secretName", format!("{:?}: {e}", s3.secret_name), "");
        }
        if let Some(c) = &s3.cidr
            && c.parse::<Ipv4Net>().is_err()
        {
            bad("spec.backup.target.s3.cidr", format!("{c:?} is not an IPv4 CIDR"), "");
        }
    }

    // Alert routing
    let alerting = &s.monitoring.alerting;
    for e in names::dns1123_subdomain(&alerting.secret_name) {
        bad("spec.monitoring.alerting.secretName", format!("{:?}: {e}", alerting.secret_name), "");
    }
    let mut keys = Vec::new();
    if let Some(telegram) = &alerting.telegram {
        keys.push(("spec.monitoring.alerting.telegram.botTokenKey", &telegram.bot_token_key));
    }
    if let Some(email) = &alerting.email {
        keys.push(("spec.monitoring.alerting.email.passwordKey", &email.password_key));
        for (field, address) in [
            ("spec.monitoring.alerting.email.to", &email.to),
            ("spec.monitoring.alerting.email.from", &email.from),
        ] {
            if !address.contains('@') {
                bad(field, format!("{address:?} is not an email address"), "");
            }
        }
        let port =
            email.smarthost.rsplit_once(':').and_then(|(host, port)| (!host.is_empty()).then_some(port));
        if port.is_none_or(|p| p.parse::<u16>().is_err()) {
            bad(
                "spec.monitoring.alerting.email.smarthost",
                format!("{:?} must be host:port", email.smarthost),
                "for example `smtp.example.org:587`",
            );
        }
    }
    // k8s.io/apimachinery/pkg/util/validation IsConfigMapKey (Secret keys follow it).
    for (field, key) in keys {
        let valid = !key.is_empty()
            && key.len() <= 253
            && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && key != "."
            && key != ".."
            && !key.starts_with("..");
        if !valid {
            bad(field, format!("{key:?} is not a Secret key"), "letters, digits, '-', '_' or '.'");
        }
    }

    // OIDC
    let issuer = s.oidc.issuer_url(s.domain());
    if !issuer.starts_with("https://") {
        bad(
            "spec.oidc.issuerUrl",
            format!("{issuer:?} must be an https URL"),
            "the API server only accepts https issuers",
        );
    }
    for (field, g) in [
        ("spec.oidc.adminGroup", &s.oidc.admin_group),
        ("spec.oidc.developerGroup", &s.oidc.developer_group),
        ("spec.oidc.supportGroup", &s.oidc.support_group),
    ] {
        if g.trim().is_empty() {
            bad(field, "must not be empty".into(), "");
        }
    }

    // Control plane (production)
    if s.profile == Profile::Production {
        let c = &s.control_plane;
        if c.virtual_ip.parse::<std::net::Ipv4Addr>().is_err() {
            bad("spec.controlPlane.virtualIp", format!("{:?} is not an IPv4 address", c.virtual_ip), "");
        }
        // Only against a count production accepts: a wrong count is reported on its own line
        // (switching an mvp file to production leaves `count: 1`), and this error would only
        // repeat it at a field the user may never have written.
        let count_ok = cp.count() >= 3 && !cp.count().is_multiple_of(2);
        if count_ok && c.nodes.len() as u32 != cp.count() {
            bad(
                "spec.controlPlane.nodes",
                format!("lists {} nodes but spec.nodes.controlPlane.count is {}", c.nodes.len(), cp.count()),
                "give one entry per control-plane node under spec.controlPlane, e.g.\n    controlPlane:\n      nodes:\n      - {name: cp-1, address: 10.0.0.11}\n      - {name: cp-2, address: 10.0.0.12}\n      - {name: cp-3, address: 10.0.0.13}",
            );
        }
        if c.port == crate::topology::port::API_SERVER {
            bad(
                "spec.controlPlane.port",
                "6443 is taken by kube-apiserver on the same nodes".into(),
                "use 8443",
            );
        }
        for (i, n) in c.nodes.iter().enumerate() {
            for e in names::dns1123_label(&n.name) {
                bad(&format!("spec.controlPlane.nodes[{i}].name"), format!("{:?} {e}", n.name), "");
            }
            if n.address.parse::<std::net::Ipv4Addr>().is_err() {
                bad(
                    &format!("spec.controlPlane.nodes[{i}].address"),
                    format!("{:?} is not an IPv4 address", n.address),
                    "",
                );
            }
        }
    }

    // Capacity: only meaningful once sizes are sane.
    if out.is_empty() && complete {
        let fit = capacity::labs_fit(s);
        if fit.labs_that_fit < s.students() as i128 {
            out.push((
                if s.labs.students.is_some() { "spec.labs.students".into() } else { "spec.profile".into() },
                format!(
                    "{} students need {} CPU and {} of memory in lab requests, but the nodes hold only {} labs ({})",
                    s.students(),
                    fit.labs_cpu,
                    fit.labs_memory,
                    fit.labs_that_fit,
                    fit.reason
                ),
                Some("lower spec.labs.students or spec.labs.requests, or add nodes (run `autolabs plan` for the arithmetic)".into()),
            ));
        }
    }
    out
}

fn check_endpoint(field: &str, e: &Endpoint, bad: &mut impl FnMut(&str, String, &str)) {
    let kinds = e.namespace.is_some() as u8 + e.internet as u8 + e.cidr.is_some() as u8;
    if kinds != 1 {
        bad(field, "set exactly one of namespace, internet or cidr".into(), "");
    }
    if e.pods.is_some() && e.namespace.is_none() {
        bad(&format!("{field}.pods"), "pods needs a namespace".into(), "");
    }
    if let Some(ns) = &e.namespace {
        for err in names::dns1123_label(ns) {
            bad(&format!("{field}.namespace"), format!("{ns:?} {err}"), "");
        }
    }
    for (k, v) in e.pods.iter().flatten() {
        for err in names::qualified_name(k).into_iter().chain(names::label_value(v)) {
            bad(&format!("{field}.pods[{k:?}]"), err, "");
        }
    }
    if let Some(c) = &e.cidr {
        match c.parse::<Ipv4Net>() {
            Ok(n) if n.addr() == n.network() => {}
            Ok(n) => bad(
                &format!("{field}.cidr"),
                format!("{c:?} has host bits set"),
                &format!("write {}", n.trunc()),
            ),
            Err(_) => bad(
                &format!("{field}.cidr"),
                format!("{c:?} is not an IPv4 CIDR"),
                "write it as 203.0.113.0/24",
            ),
        }
    }
}

/// Resource names a ResourceQuota accepts: the standard names, object counts, extended
/// resources' requests and per-StorageClass storage
/// (`pkg/apis/core/validation` ValidateResourceQuotaResourceName).
fn is_quota_resource(name: &str) -> bool {
    use autolabs_k8s::resource_names::is_standard_resource;
    is_standard_resource(name)
        || name == "storage"
        || name.strip_prefix("count/").is_some_and(|r| !r.is_empty())
        || name.strip_prefix("requests.").is_some_and(|r| r.contains('/'))
        || name.ends_with(".storageclass.storage.k8s.io/requests.storage")
        || name.ends_with(".storageclass.storage.k8s.io/persistentvolumeclaims")
}
