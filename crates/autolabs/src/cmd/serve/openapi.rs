//! The lab API's OpenAPI 3.1 document, generated from the route table the router is built
//! from ([`super::router::routes`]) and from the JSON Schemas of the Rust types it reads and
//! answers (schemars), so the document cannot describe an API the server does not serve.
//!
//! Served at `/openapi.json` and printed by `autolabs schema --lab-api`; the AutoLabs backend
//! generates its client from it, and CI runs schemathesis against `up --simulate` with it.

use axum::http::Method;
use schemars::generate::{Contract, SchemaSettings};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value, json};

/// The JSON Schema of a body, registered in the document's `components/schemas`.
pub type SchemaOf = fn(&mut SchemaGenerator) -> Schema;

/// [`SchemaOf`] for `T`.
pub fn schema_of<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// What a reply carries.
#[derive(Clone, Copy)]
pub enum Content {
    /// No body (204).
    Empty,
    /// `application/json` of this schema.
    Json(SchemaOf),
    /// A body of this media type that is not JSON (`text/plain`, OpenMetrics).
    Text(&'static str),
    /// A JSON object without a schema of its own here (the OpenAPI document itself).
    JsonObject,
}

/// One documented answer of an operation.
#[derive(Clone, Copy)]
pub struct Reply {
    pub status: u16,
    pub description: &'static str,
    pub content: Content,
    /// The answer carries `Retry-After` (seconds): the condition is expected to pass.
    pub retry_after: bool,
}

impl Reply {
    pub const fn json(status: u16, description: &'static str, schema: SchemaOf) -> Reply {
        Reply { status, description, content: Content::Json(schema), retry_after: false }
    }

    pub const fn retry_later(self) -> Reply {
        Reply { retry_after: true, ..self }
    }
}

/// A query parameter of an operation.
pub struct QueryParameter {
    pub name: &'static str,
    pub description: &'static str,
    /// Its JSON Schema.
    pub schema: fn() -> Value,
}

/// One operation of the lab API: what the router serves (`handler`) and what the document
/// says of it. [`super::router::router`] is built from a list of these and nothing else.
pub struct Route<H> {
    pub method: Method,
    /// axum's path syntax, which is OpenAPI's (`/v1/labs/{id}`).
    pub path: &'static str,
    pub operation_id: &'static str,
    pub summary: &'static str,
    /// Behind the bearer token.
    pub authenticated: bool,
    pub request_body: Option<SchemaOf>,
    pub query: &'static [QueryParameter],
    pub replies: Vec<Reply>,
    pub handler: H,
}

/// The schema of path parameter `id`: a lab id (`autolabs_model::lab::check_lab_id`).
fn lab_id_schema() -> Value {
    json!({
        "type": "string",
        "minLength": 1,
        "maxLength": autolabs_model::lab::MAX_ID_LEN,
        "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
    })
}

/// The OpenAPI 3.1 document of `routes`.
pub fn document<H>(routes: &[Route<H>]) -> Value {
    // Serialize contract: fields the server omits when empty are optional in answers; the
    // request bodies are the same under both contracts (their optional fields have defaults).
    let mut settings = SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas".into();
    settings.contract = Contract::Serialize;
    let mut generator = settings.into_generator();
    let mut paths = Map::new();
    for route in routes {
        let operation = operation(route, &mut generator);
        let item = paths.entry(route.path).or_insert_with(|| json!({}));
        item[route.method.as_str().to_ascii_lowercase()] = operation;
    }
    let schemas: Map<String, Value> = generator.take_definitions(true);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "AutoLabs lab API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Creates, lists, extends and deletes student labs on the AutoLabs cluster \
                (`autolabs serve`). Every error is `{\"error\": code, \"message\": text}`; the text is \
                Russian when `Accept-Language` weighs `ru` above `en`, English otherwise. Request \
                bodies are JSON (`Content-Type: application/json`); another media type is 415.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The token `autolabs serve` reads from --token-file (or AUTOLABS_API_TOKEN).",
                },
            },
        },
    })
}

fn operation<H>(route: &Route<H>, generator: &mut SchemaGenerator) -> Value {
    let mut parameters = vec![json!({
        "name": "Accept-Language",
        "in": "header",
        "required": false,
        "description": "The language of error messages: `ru` when weighed above `en` (`en;q=0.1, ru;q=0.9`), English otherwise.",
        "schema": {"type": "string"},
    })];
    if route.path.contains("{id}") {
        parameters.push(json!({
            "name": "id",
            "in": "path",
            "required": true,
            "description": "The lab's id, as given when it was created.",
            "schema": lab_id_schema(),
        }));
    }
    for query in route.query {
        parameters.push(json!({
            "name": query.name,
            "in": "query",
            "required": false,
            "description": query.description,
            "schema": (query.schema)(),
        }));
    }
    let mut responses = Map::new();
    for reply in &route.replies {
        let mut response = json!({"description": reply.description});
        match reply.content {
            Content::Empty => {}
            Content::Json(schema) => {
                response["content"] = json!({"application/json": {"schema": schema(generator)}});
            }
            Content::JsonObject => {
                response["content"] = json!({"application/json": {"schema": {"type": "object"}}});
            }
            Content::Text(media) => {
                response["content"] = json!({media: {"schema": {"type": "string"}}});
            }
        }
        if route.authenticated && reply.status == 401 {
            response["headers"] = json!({"WWW-Authenticate": {
                "description": "`Bearer`.",
                "schema": {"type": "string"},
            }});
        }
        if reply.retry_after {
            response["headers"] = json!({"Retry-After": {
                "description": "Seconds after which the request may succeed.",
                "schema": {"type": "integer", "minimum": 0},
            }});
        }
        responses.insert(reply.status.to_string(), response);
    }
    let mut operation = json!({
        "operationId": route.operation_id,
        "summary": route.summary,
        "parameters": parameters,
        "responses": responses,
    });
    if let Some(body) = route.request_body {
        operation["requestBody"] =
            json!({"required": true, "content": {"application/json": {"schema": body(generator)}}});
    }
    operation["security"] = if route.authenticated { json!([{"bearer": []}]) } else { json!([]) };
    operation
}
