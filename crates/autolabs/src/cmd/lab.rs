//! `autolabs lab create|get|list|delete|extend`: the operator's client of the lab API
//! (`autolabs serve`), over plain HTTP/1 with hyper (the API runs in-cluster or behind a
//! port-forward; TLS, when wanted, is terminated in front of it).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use super::table;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Base URL of the lab API.
    #[arg(long, env = "AUTOLABS_SERVER", default_value = "http://127.0.0.1:8080", global = true)]
    server: String,
    /// File holding the bearer token; else AUTOLABS_API_TOKEN.
    #[arg(long, global = true)]
    token_file: Option<PathBuf>,
    /// Language of error messages (en, ru).
    #[arg(long, default_value = "en", global = true)]
    lang: String,
    /// `table` (kubectl-style columns) for people, `json` or `yaml` (the API's body) for machines.
    #[arg(short = 'o', long, value_enum, default_value = "table", global = true)]
    output: Output,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Start a lab (idempotent: the same id again answers the existing lab).
    Create {
        id: String,
        #[arg(long)]
        template: String,
        /// Lifetime in seconds (default: the template's).
        #[arg(long)]
        ttl: Option<u64>,
    },
    /// Show one lab.
    Get { id: String },
    /// List labs.
    List {
        #[arg(long)]
        template: Option<String>,
        /// Pending, Running, Failed or Expiring.
        #[arg(long)]
        phase: Option<String>,
    },
    /// Delete a lab and all its objects.
    Delete { id: String },
    /// Add time to a lab (up to its template's maximum).
    Extend {
        id: String,
        #[arg(long)]
        seconds: u64,
    },
    /// Quota use and how many more labs of each template fit.
    Capacity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Output {
    Table,
    Json,
    Yaml,
}

/// One answer of the API.
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

/// A small HTTP/1 client of the lab API.
pub struct LabClient {
    base: String,
    token: String,
    lang: String,
    http: Client<HttpConnector, Full<Bytes>>,
}

impl LabClient {
    pub fn new(base: &str, token: &str, lang: &str) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        LabClient {
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
            lang: lang.to_string(),
            http: Client::builder(TokioExecutor::new()).build(connector),
        }
    }

    pub async fn send(&self, method: &str, path: &str, body: Option<Value>) -> anyhow::Result<Answer> {
        let uri = format!("{}{path}", self.base);
        let payload = body.map(|b| b.to_string()).unwrap_or_default();
        let request = http::Request::builder()
            .method(method)
            .uri(&uri)
            .header("authorization", format!("Bearer {}", self.token))
            .header("accept-language", &self.lang)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(payload)))
            .with_context(|| format!("bad request to {uri}"))?;
        let response = self.http.request(request).await.with_context(|| format!("cannot reach {uri}"))?;
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .collect()
            .await
            .with_context(|| format!("reading the answer of {uri}"))?
            .to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Ok(Answer { status, body })
    }
}

fn query(pairs: &[(&str, &Option<String>)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| {
            v.as_ref()
                .map(|v| format!("{k}={}", v.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "")))
        })
        .collect();
    if parts.is_empty() { String::new() } else { format!("?{}", parts.join("&")) }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let token = super::serve::token(args.token_file.as_deref(), "")?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async move {
        let client = LabClient::new(&args.server, &token, &args.lang);
        let answer = match &args.command {
            Command::Create { id, template, ttl } => {
                let mut body = json!({"id": id, "template": template});
                if let Some(ttl) = ttl {
                    body["ttlSeconds"] = json!(ttl);
                }
                client.send("POST", "/v1/labs", Some(body)).await?
            }
            Command::Get { id } => client.send("GET", &format!("/v1/labs/{id}"), None).await?,
            Command::List { template, phase } => {
                let mut items = Vec::new();
                let mut after: Option<String> = None;
                loop {
                    let q = query(&[("template", template), ("phase", phase), ("continue", &after)]);
                    let sep = if q.is_empty() { "?" } else { "&" };
                    let answer = client.send("GET", &format!("/v1/labs{q}{sep}limit=500"), None).await?;
                    if answer.status != 200 {
                        break answer;
                    }
                    items.extend(answer.body["items"].as_array().cloned().unwrap_or_default());
                    after = answer.body["continue"].as_str().map(String::from);
                    if after.is_none() {
                        break Answer { status: 200, body: json!({"items": items}) };
                    }
                }
            }
            Command::Delete { id } => client.send("DELETE", &format!("/v1/labs/{id}"), None).await?,
            Command::Extend { id, seconds } => {
                client
                    .send("POST", &format!("/v1/labs/{id}/extend"), Some(json!({"seconds": seconds})))
                    .await?
            }
            Command::Capacity => client.send("GET", "/v1/capacity", None).await?,
        };
        if (200..300).contains(&answer.status) {
            match (&answer.body, args.output) {
                (Value::Null, _) => outln!("done ({})", answer.status)?,
                (body, Output::Json) => outln!("{}", serde_json::to_string_pretty(body)?)?,
                (body, Output::Yaml) => out!("{}", serde_saphyr::to_string(body)?)?,
                (body, Output::Table) => {
                    let now = k8s_openapi::jiff::Timestamp::now();
                    out!(
                        "{}",
                        match &args.command {
                            Command::Capacity => capacity_table(body),
                            Command::List { .. } =>
                                labs_table(body["items"].as_array().map(Vec::as_slice).unwrap_or(&[]), now),
                            _ => labs_table(std::slice::from_ref(body), now),
                        }
                    )?;
                }
            }
            Ok(ExitCode::SUCCESS)
        } else {
            let code = answer.body["error"].as_str().unwrap_or("error");
            let message =
                answer.body["message"].as_str().map(String::from).unwrap_or_else(|| answer.body.to_string());
            eprintln!("{} {code}: {message}", answer.status);
            Ok(ExitCode::from(1))
        }
    })
}

/// A duration as kubectl's `HumanDuration` writes ages (k8s.io/apimachinery/pkg/util/duration).
fn human_duration(seconds: i64) -> String {
    let s = seconds.max(0);
    let (m, h, d) = (s / 60, s / 3600, s / 86_400);
    match () {
        _ if s < 120 => format!("{s}s"),
        _ if m < 10 => format!("{m}m{}s", s % 60).replace("m0s", "m"),
        _ if m < 180 => format!("{m}m"),
        _ if h < 8 => format!("{h}h{}m", m % 60).replace("h0m", "h"),
        _ if h < 48 => format!("{h}h"),
        _ if h < 24 * 8 => format!("{d}d{}h", h % 24).replace("d0h", "d"),
        _ => format!("{d}d"),
    }
}

/// Seconds from `now` to an RFC 3339 time of the API (negative when it is past).
fn seconds_until(at: &Value, now: k8s_openapi::jiff::Timestamp) -> Option<i64> {
    let at: k8s_openapi::jiff::Timestamp = at.as_str()?.parse().ok()?;
    Some(at.as_second() - now.as_second())
}

fn labs_table(labs: &[Value], now: k8s_openapi::jiff::Timestamp) -> String {
    if labs.is_empty() {
        return "No labs found.\n".into();
    }
    let text = |v: &Value| v.as_str().unwrap_or("").to_string();
    let rows: Vec<Vec<String>> = labs
        .iter()
        .map(|lab| {
            let age = seconds_until(&lab["createdAt"], now).map_or("?".into(), |s| human_duration(-s));
            let expires = match seconds_until(&lab["expiresAt"], now) {
                Some(s) if s > 0 => format!("in {}", human_duration(s)),
                Some(_) => "expired".into(),
                None => "?".into(),
            };
            // A failed lab says why; a degraded one which objects it lacks.
            let missing: Vec<String> = lab["missing"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| m.as_str().map(String::from))
                .collect();
            let detail = match (lab["failure"].as_str(), missing.is_empty()) {
                (Some(why), _) => why.to_string(),
                (None, false) => format!("missing {}", missing.join(", ")),
                (None, true) => String::new(),
            };
            vec![
                text(&lab["id"]),
                text(&lab["template"]),
                text(&lab["phase"]),
                age,
                expires,
                text(&lab["url"]),
                detail,
            ]
        })
        .collect();
    table::columns(table::KUBECTL, &["ID", "TEMPLATE", "PHASE", "AGE", "EXPIRES", "URL", "DETAIL"], &rows)
}

fn capacity_table(body: &Value) -> String {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    };
    let list = |key: &str| body[key].as_array().cloned().unwrap_or_default();
    let quotas: Vec<Vec<String>> = list("quotas")
        .iter()
        .map(|q| vec![text(&q["quota"]), text(&q["resource"]), text(&q["used"]), text(&q["hard"])])
        .collect();
    let templates: Vec<Vec<String>> = list("templates")
        .iter()
        .map(|t| {
            let fits = if t["fits"].is_null() { "unbounded".into() } else { text(&t["fits"]) };
            vec![text(&t["template"]), fits, t["binding"].as_str().unwrap_or("").to_string()]
        })
        .collect();
    let mut out = table::columns(table::KUBECTL, &["QUOTA", "RESOURCE", "USED", "HARD"], &quotas);
    out.push('\n');
    out.push_str(&table::columns(table::KUBECTL, &["TEMPLATE", "MORE LABS FIT", "BOUND BY"], &templates));
    for stale in list("stale") {
        out.push_str(&format!(
            "\nnote: quota {} says {} used for {}, but the labs that exist account for {}: the quota controller has not caught up yet\n",
            text(&stale["quota"]),
            text(&stale["used"]),
            text(&stale["resource"]),
            text(&stale["accounted"]),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_as_kubectl_prints_them() {
        for (seconds, shown) in [
            (45, "45s"),
            (119, "119s"),
            (150, "2m30s"),
            (300, "5m"),
            (3_000, "50m"),
            (3 * 3600 + 120, "3h2m"),
            (30 * 3600, "30h"),
            (3 * 86_400 + 3600, "3d1h"),
            (20 * 86_400, "20d"),
        ] {
            assert_eq!(human_duration(seconds), shown, "{seconds}");
        }
    }

    #[test]
    fn labs_and_capacity_print_as_tables() {
        let now: k8s_openapi::jiff::Timestamp = "2026-01-01T01:00:00Z".parse().unwrap();
        let labs = [
            json!({"id": "web1", "template": "linux-basics", "phase": "Running", "url": "https://web1.example/",
                   "createdAt": "2026-01-01T00:00:00Z", "expiresAt": "2026-01-01T02:00:00Z"}),
            json!({"id": "db", "template": "web-dev", "phase": "Degraded", "url": "https://db.example/",
                   "createdAt": "2026-01-01T00:55:00Z", "expiresAt": "2026-01-01T00:59:00Z",
                   "missing": ["Service", "Ingress"]}),
        ];
        let table = labs_table(&labs, now);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines[0],
            "ID     TEMPLATE       PHASE      AGE   EXPIRES   URL                     DETAIL"
        );
        assert_eq!(lines[1], "web1   linux-basics   Running    60m   in 60m    https://web1.example/");
        assert_eq!(
            lines[2],
            "db     web-dev        Degraded   5m    expired   https://db.example/     missing Service, Ingress"
        );
        assert_eq!(labs_table(&[], now), "No labs found.\n");

        let capacity = json!({
            "quotas": [{"quota": "labs", "resource": "pods", "used": "3", "hard": "20"}],
            "templates": [{"template": "linux-basics", "fits": 17, "binding": "labs/pods"}, {"template": "free", "fits": null}],
            "stale": [{"quota": "labs", "resource": "pods", "used": "3", "accounted": "1"}],
        });
        let table = capacity_table(&capacity);
        assert!(
            table.starts_with("QUOTA   RESOURCE   USED   HARD\nlabs    pods       3      20\n\nTEMPLATE"),
            "{table}"
        );
        assert!(table.contains("linux-basics   17              labs/pods"), "{table}");
        assert!(table.contains("free           unbounded"), "{table}");
        assert!(
            table.contains("note: quota labs says 3 used for pods, but the labs that exist account for 1"),
            "{table}"
        );
    }
}
