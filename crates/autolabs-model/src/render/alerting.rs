//! Alert routing: the Alertmanager configuration rendered from `spec.monitoring.alerting`.
//!
//! It is a Secret `autolabs-alertmanager` in `monitoring` with the key `alertmanager.yaml`,
//! because that is what the Prometheus Operator's Alertmanager (kube-prometheus-stack) reads
//! its configuration from: `alertmanager.alertmanagerSpec.useExistingSecret: true` with
//! `configSecret: autolabs-alertmanager` makes the chart use it instead of its own, and an
//! Alertmanager without the Operator mounts the same Secret. It holds no credential: the bot
//! token and the SMTP password are files (`bot_token_file`, `auth_password_file`) of the
//! Secret `secretName`, which the operator creates by hand and the chart mounts
//! (`alertmanagerSpec.secrets: [autolabs-alerting]` → `/etc/alertmanager/secrets/<name>/`).
//!
//! Routing: `severity="critical"` to the `critical` receivers, `severity="warning"` to the
//! `warning` ones (and anything else too, so no alert is lost), kube-prometheus-stack's
//! Watchdog and InfoInhibitor to nobody; a warning is inhibited while a critical alert of the
//! same alertname and namespace fires.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use serde_json::{Value, json};

use super::workloads::object_meta;
use super::{Ctx, Rendered, typed};
use crate::platform::{AlertingSpec, ReceiverKind};
use crate::topology::MONITORING;

/// The Secret that holds the Alertmanager configuration.
pub const ALERTMANAGER_CONFIG: &str = "autolabs-alertmanager";
/// Its key, the file name Alertmanager reads.
pub const ALERTMANAGER_CONFIG_KEY: &str = "alertmanager.yaml";
/// Where the Prometheus Operator mounts the Secrets listed in `alertmanagerSpec.secrets`.
const SECRETS_DIR: &str = "/etc/alertmanager/secrets";

/// Receivers, named as routes refer to them.
const CRITICAL: &str = "critical";
const WARNING: &str = "warning";
const NOBODY: &str = "null";

pub(crate) fn render(ctx: &Ctx, out: &mut Rendered) {
    let alerting = &ctx.spec().monitoring.alerting;
    let file = format!(
        "# Rendered by autolabs from spec.monitoring.alerting: Alertmanager routing and receivers.\n{}",
        serde_saphyr::to_string(&config(alerting)).unwrap_or_default()
    );
    let note = format!(
        "kube-prometheus-stack: set alertmanager.alertmanagerSpec.useExistingSecret=true, configSecret={ALERTMANAGER_CONFIG} \
         and secrets=[{}] (the Secret with the receivers' credentials, created by hand).",
        alerting.secret_name
    );
    let mut meta = object_meta(
        ctx,
        ALERTMANAGER_CONFIG,
        MONITORING,
        "alertmanager",
        &[("autolabs.io/description", &note)],
    );
    if let Some(labels) = meta.labels.as_mut() {
        labels.insert("app.kubernetes.io/part-of".into(), "autolabs".into());
    }
    out.manifests.push(typed(Secret {
        metadata: meta,
        type_: Some("Opaque".into()),
        string_data: Some(BTreeMap::from([(ALERTMANAGER_CONFIG_KEY.to_string(), file)])),
        ..Default::default()
    }));
}

/// The configuration (alertmanager/config/config.go Config), as a value to serialize.
pub(crate) fn config(alerting: &AlertingSpec) -> Value {
    let secret_file = |key: &str| format!("{SECRETS_DIR}/{}/{key}", alerting.secret_name);
    let receiver = |name: &str, kinds: &[ReceiverKind]| {
        let mut receiver = json!({"name": name});
        if let Some(telegram) = alerting.telegram.as_ref().filter(|_| kinds.contains(&ReceiverKind::Telegram))
        {
            receiver["telegram_configs"] = json!([{
                "bot_token_file": secret_file(&telegram.bot_token_key),
                "chat_id": telegram.chat_id,
                "parse_mode": "HTML",
                "send_resolved": true,
            }]);
        }
        if let Some(email) = alerting.email.as_ref().filter(|_| kinds.contains(&ReceiverKind::Email)) {
            let mut config = json!({
                "to": email.to,
                "from": email.from,
                "smarthost": email.smarthost,
                "require_tls": email.require_tls,
                "send_resolved": true,
            });
            if let Some(username) = &email.username {
                config["auth_username"] = json!(username);
                config["auth_password_file"] = json!(secret_file(&email.password_key));
            }
            receiver["email_configs"] = json!([config]);
        }
        receiver
    };
    let severity = |level: &str| json!([format!("severity=\"{level}\"")]);
    json!({
        "route": {
            // Alerts of no known severity are sent as warnings: none is dropped unseen.
            "receiver": WARNING,
            "group_by": ["alertname", "namespace"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "12h",
            "routes": [
                // kube-prometheus-stack's always-firing heartbeat and its inhibitor helper.
                {"receiver": NOBODY, "matchers": ["alertname=~\"Watchdog|InfoInhibitor\""]},
                {"receiver": CRITICAL, "matchers": severity("critical"), "repeat_interval": "1h"},
                {"receiver": WARNING, "matchers": severity("warning")},
            ],
        },
        "inhibit_rules": [{
            "source_matchers": severity("critical"),
            "target_matchers": severity("warning"),
            "equal": ["alertname", "namespace"],
        }],
        "receivers": [
            receiver(CRITICAL, &alerting.critical),
            receiver(WARNING, &alerting.warning),
            {"name": NOBODY},
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Platform;
    use crate::platform::{EmailReceiver, TelegramReceiver};
    use crate::render::monitoring::rule_groups;

    fn team_alerting() -> AlertingSpec {
        AlertingSpec {
            telegram: Some(TelegramReceiver {
                chat_id: -1001234567890,
                bot_token_key: "telegram-bot-token".into(),
            }),
            email: Some(EmailReceiver {
                to: "ops@example.org".into(),
                from: "alertmanager@example.org".into(),
                smarthost: "smtp.example.org:587".into(),
                username: Some("alertmanager".into()),
                password_key: "smtp-password".into(),
                require_tls: true,
            }),
            ..AlertingSpec::default()
        }
    }

    fn rendered_file(alerting: AlertingSpec) -> String {
        let mut platform = Platform::default();
        platform.spec.monitoring.alerting = alerting;
        let rendered = crate::render(&platform);
        let secret = rendered.find("Secret", Some(MONITORING), ALERTMANAGER_CONFIG).expect("rendered");
        secret.value["stringData"][ALERTMANAGER_CONFIG_KEY].as_str().expect("the file").to_string()
    }

    #[test]
    fn severities_route_to_their_receivers_and_criticals_inhibit_warnings() {
        let config = config(&team_alerting());
        let receivers = &config["receivers"];
        let named =
            |name: &str| receivers.as_array().unwrap().iter().find(|r| r["name"] == name).unwrap().clone();
        // Defaults: criticals to Telegram and email, warnings to Telegram.
        assert!(
            named(CRITICAL)["telegram_configs"].is_array() && named(CRITICAL)["email_configs"].is_array()
        );
        assert!(
            named(WARNING)["telegram_configs"].is_array() && named(WARNING).get("email_configs").is_none()
        );
        let routes = config["route"]["routes"].as_array().unwrap();
        let route_of = |severity: &str| {
            routes
                .iter()
                .find(|r| r["matchers"] == json!([format!("severity=\"{severity}\"")]))
                .map(|r| r["receiver"].clone())
        };
        // Every severity a rendered alert carries has its route.
        let groups = rule_groups(&crate::render::Ctx { p: &Platform::default() });
        for rule in groups.iter().flat_map(|g| &g.rules) {
            assert_eq!(route_of(rule.severity), Some(json!(rule.severity)), "{}", rule.name);
        }
        assert_eq!(
            config["inhibit_rules"],
            json!([{
                "source_matchers": ["severity=\"critical\""],
                "target_matchers": ["severity=\"warning\""],
                "equal": ["alertname", "namespace"],
            }])
        );
    }

    #[test]
    fn credentials_are_files_of_the_secret_never_values() {
        let file = rendered_file(team_alerting());
        assert!(
            file.contains("bot_token_file: /etc/alertmanager/secrets/autolabs-alerting/telegram-bot-token"),
            "{file}"
        );
        assert!(
            file.contains("auth_password_file: /etc/alertmanager/secrets/autolabs-alerting/smtp-password"),
            "{file}"
        );
        for clear in ["bot_token:", "auth_password:", "auth_secret:"] {
            assert!(!file.contains(clear), "{clear} in {file}");
        }
    }

    #[test]
    fn unconfigured_receivers_are_left_out() {
        let config = config(&AlertingSpec::default());
        for receiver in config["receivers"].as_array().unwrap() {
            assert_eq!(receiver.as_object().unwrap().len(), 1, "only a name: {receiver}");
        }
    }

    /// amtool (Alertmanager's own checker) accepts the rendered configuration.
    #[test]
    fn amtool_checks_the_configuration() {
        for (case, alerting) in [("team", team_alerting()), ("default", AlertingSpec::default())] {
            let mut file = rendered_file(alerting);
            let version = match std::process::Command::new("amtool").arg("--version").output() {
                Ok(out) => {
                    String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
                }
                Err(_) if std::env::var("CI").is_ok_and(|v| v == "true") => {
                    panic!(
                        "amtool is not installed under CI=true (.ci/run installs Debian's prometheus-alertmanager)"
                    )
                }
                Err(_) => {
                    eprintln!(
                        "*** NOT RUN: amtool is not installed (apt-get install prometheus-alertmanager) ***"
                    );
                    return;
                }
            };
            // `bot_token_file` came with Alertmanager 0.26 (kube-prometheus-stack ships newer);
            // Debian bookworm's amtool is 0.25: there the one field is checked as `bot_token`.
            if version.contains("version 0.25.") || version.contains("version 0.24.") {
                eprintln!(
                    "note: amtool {} predates bot_token_file: checked as bot_token",
                    version.lines().next().unwrap_or("")
                );
                file = file.replace("bot_token_file: ", "bot_token: ");
            }
            let path = std::env::temp_dir()
                .join(format!("autolabs-alertmanager-{case}-{}.yaml", std::process::id()));
            std::fs::write(&path, &file).unwrap();
            let check = std::process::Command::new("amtool").arg("check-config").arg(&path).output().unwrap();
            let _ = std::fs::remove_file(&path);
            assert!(
                check.status.success(),
                "{case}:\n{file}\n{}{}",
                String::from_utf8_lossy(&check.stdout),
                String::from_utf8_lossy(&check.stderr)
            );
        }
    }
}
