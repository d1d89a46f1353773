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
            match &answer.body {
                Value::Null => println!("done ({})", answer.status),
                body => println!("{}", serde_json::to_string_pretty(body)?),
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
