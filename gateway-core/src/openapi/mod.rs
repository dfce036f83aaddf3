//! OpenAPI 3.1 from the same attributes that make the routes (feature `openapi`), and Swagger
//! UI served from the binary: Nest's `@nestjs/swagger`.
//!
//! ```
//! use gateway_core::openapi::{DocumentBuilder, SwaggerModule, ToSchema};
//! use gateway_core::prelude::*;
//!
//! #[derive(serde::Serialize, ToSchema)]
//! struct User { id: String, name: String }
//!
//! #[injectable]
//! struct UsersController;
//!
//! #[controller("users")]
//! #[api_tags("users")]
//! impl UsersController {
//!     #[get(":id")]
//!     #[api_operation(summary = "One user")]
//!     #[api_response(status = 404, description = "No such user")]
//!     async fn get_user(&self, #[param] id: String) -> Result<User, HttpException> {
//!         Ok(User { id, name: "Ada Lovelace".into() })
//!     }
//! }
//!
//! #[module(controllers = [UsersController])]
//! struct AppModule;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut app = NestFactory::create::<AppModule>().await?;
//! let config = DocumentBuilder::new().set_title("Users").set_version("1.0").build();
//! let document = SwaggerModule::create_document(&app, config)?;
//! assert_eq!(document.json()["paths"]["/users/{id}"]["get"]["operationId"], "UsersController_getUser");
//! SwaggerModule::setup("docs", &mut app, &document); // GET /docs, /docs-json
//! # Ok(()) }
//! ```
//!
//! | `@nestjs/swagger` | ours |
//! | --- | --- |
//! | `new DocumentBuilder().setTitle(..).setDescription(..).setVersion(..).addBearerAuth().build()` | [`DocumentBuilder::new()`]`.set_title(..).set_description(..).set_version(..).add_bearer_auth().build()` |
//! | `SwaggerModule.createDocument(app, config)` | [`SwaggerModule::create_document(&app, config)`](SwaggerModule::create_document) |
//! | `SwaggerModule.setup('docs', app, document)` | [`SwaggerModule::setup("docs", &mut app, &document)`](SwaggerModule::setup): `/docs` (Swagger UI, its assets in the binary) and `/docs-json` |
//! | `@ApiProperty()` on a DTO's fields | `#[derive(ToSchema)]` on the DTO (utoipa) |
//! | `@ApiTags('users')`, `@ApiOperation({ summary })`, `@ApiResponse({ status, description, type })`, `@ApiBearerAuth()`, `@ApiExcludeEndpoint()` | `#[api_tags("users")]`, `#[api_operation(summary = "..")]`, `#[api_response(status = 404, description = "..", body = T)]`, `#[api_bearer_auth]`, `#[api_exclude_endpoint]` |
//!
//! What the attributes already say is not repeated: paths (`:id` as `{id}`, with the global
//! prefix and URI versions), path parameters with their types, a `#[query]` struct's fields,
//! the `#[body]`'s schema, the answer's schema and status (`#[http_code]`, 201 for POST), and
//! the Nest error bodies a route can answer with: 400 (it reads input), 401/403 (guarded),
//! 404 (it takes a path parameter), 413 (it reads a body), 429 (throttled), 502/503/504 (it
//! calls services: `Result<_, RpcError>`). A type in a route's contract without a schema is
//! a compile error naming it. `RawReply` and `serde_json::Value` are "any JSON"; describe
//! them with `#[api_response(status = 200, body = T)]`.

mod known;
mod route;
mod ui;

use serde_json::{json, Map, Value};

#[doc(hidden)]
pub use route::__probe;
pub use route::{ApiSchema, RouteDocs};
/// The utoipa crate the derive's code names (`utoipa::ToSchema`): bring it into scope with
/// `use gateway_core::openapi::utoipa;` beside `#[derive(ToSchema)]`, or depend on `utoipa` 5.
pub use utoipa;
/// Derives a type's OpenAPI schema (utoipa's derive; `#[schema(..)]` and serde's attributes
/// are read).
pub use utoipa::ToSchema;

use crate::app::NestApplication;
use crate::http::RouteMeta;
use route::Access;

/// The document's settings: Nest's `DocumentBuilder`.
#[derive(Debug, Clone)]
pub struct DocumentBuilder {
    info: Map<String, Value>,
    servers: Vec<Value>,
    tags: Vec<Value>,
    schemes: Map<String, Value>,
    security: Vec<Value>,
}

impl Default for DocumentBuilder {
    fn default() -> Self {
        DocumentBuilder::new()
    }
}

impl DocumentBuilder {
    /// Nest's defaults: an empty title and description, version `1.0.0`.
    pub fn new() -> Self {
        let mut info = Map::new();
        info.insert("title".into(), json!(""));
        info.insert("description".into(), json!(""));
        info.insert("version".into(), json!("1.0.0"));
        info.insert("contact".into(), json!({}));
        DocumentBuilder {
            info,
            servers: Vec::new(),
            tags: Vec::new(),
            schemes: Map::new(),
            security: Vec::new(),
        }
    }

    /// `setTitle`.
    pub fn set_title(mut self, title: &str) -> Self {
        self.info.insert("title".into(), json!(title));
        self
    }

    /// `setDescription`.
    pub fn set_description(mut self, description: &str) -> Self {
        self.info.insert("description".into(), json!(description));
        self
    }

    /// `setVersion`.
    pub fn set_version(mut self, version: &str) -> Self {
        self.info.insert("version".into(), json!(version));
        self
    }

    /// `addServer(url, description)`.
    pub fn add_server(mut self, url: &str, description: &str) -> Self {
        self.servers
            .push(json!({ "url": url, "description": description }));
        self
    }

    /// `addTag(name, description)`.
    pub fn add_tag(mut self, name: &str, description: &str) -> Self {
        self.tags
            .push(json!({ "name": name, "description": description }));
        self
    }

    /// `addBearerAuth()`: the HTTP bearer scheme `bearer` (JWT).
    pub fn add_bearer_auth(self) -> Self {
        self.add_bearer_auth_named("bearer")
    }

    /// `addBearerAuth(options, name)`.
    pub fn add_bearer_auth_named(mut self, name: &str) -> Self {
        self.schemes.insert(
            name.into(),
            json!({ "scheme": "bearer", "bearerFormat": "JWT", "type": "http" }),
        );
        self
    }

    /// `addSecurityRequirements(name)`: every operation needs the scheme `name` (a global
    /// guard's token), but `#[public]` ones.
    pub fn add_security_requirements(mut self, name: &str) -> Self {
        self.security.push(json!({ name: [] }));
        self
    }

    /// The settings, for [`SwaggerModule::create_document`].
    pub fn build(self) -> DocumentBuilder {
        self
    }
}

/// An OpenAPI 3.1 document, as JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenApiDocument(Value);

impl OpenApiDocument {
    /// The document.
    pub fn json(&self) -> &Value {
        &self.0
    }

    /// The document, to change it before serving it.
    pub fn json_mut(&mut self) -> &mut Value {
        &mut self.0
    }
}

/// Types in routes' contracts without an OpenAPI schema: each `METHOD /path (operationId):
/// `type``. Derive `ToSchema` for them.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the OpenAPI document would have holes: no schema for {}; derive `ToSchema` for each", .0.join(", "))]
pub struct MissingSchemas(pub Vec<String>);

/// Nest's `SwaggerModule`.
pub struct SwaggerModule;

impl SwaggerModule {
    /// The document of every route of `app`, with `config`'s settings. `Err` names every type
    /// of a route's contract that has no schema (a controller or route with an OpenAPI
    /// attribute is checked by the compiler instead).
    pub fn create_document(
        app: &NestApplication,
        config: DocumentBuilder,
    ) -> Result<OpenApiDocument, MissingSchemas> {
        let mut missing = Vec::new();
        let mut paths = Map::new();
        let mut schemas = Map::new();
        let mut schemes = config.schemes.clone();
        let mut errors_used = false;
        let served = app.documented();
        let global_guards = served.global_guards;
        for meta in served.routes.metas() {
            let Some(describe) = meta.api else { continue };
            let mut docs = RouteDocs::default();
            describe(&mut docs);
            if docs.excluded {
                continue;
            }
            for type_name in std::mem::take(&mut docs.missing) {
                missing.push(format!(
                    "{} {} ({}): `{type_name}`",
                    meta.method, meta.path, docs.operation_id
                ));
            }
            for (name, schema) in std::mem::take(&mut docs.schemas) {
                schemas.entry(name).or_insert(schema);
            }
            if let Some(name) = &docs.bearer {
                schemes.entry(name.clone()).or_insert_with(
                    || json!({ "scheme": "bearer", "bearerFormat": "JWT", "type": "http" }),
                );
            }
            let operation = operation(docs, global_guards, &config.security, &mut errors_used);
            for path in served.paths(meta) {
                let path = openapi_path(&path);
                // An optional group's parameter is only on the paths that have it.
                let mut operation = operation.clone();
                if let Some(parameters) = operation["parameters"].as_array_mut() {
                    parameters.retain(|p| {
                        p["in"] != "path"
                            || p["name"]
                                .as_str()
                                .is_some_and(|n| path.contains(&format!("{{{n}}}")))
                    });
                }
                for method in methods(meta) {
                    let item = paths.entry(path.clone()).or_insert_with(|| json!({}));
                    item[method] = operation.clone();
                }
            }
        }
        if errors_used {
            schemas.insert("HttpException".into(), http_exception_schema());
        }
        let mut document = json!({
            "openapi": "3.1.0",
            "paths": paths,
            "info": config.info,
            "tags": config.tags,
            "servers": config.servers,
            "components": { "schemas": schemas },
        });
        if !schemes.is_empty() {
            document["components"]["securitySchemes"] = Value::Object(schemes);
        }
        if !missing.is_empty() {
            return Err(MissingSchemas(missing));
        }
        Ok(OpenApiDocument(document))
    }

    /// Serves Swagger UI for `document` at `/{path}` and the document at `/{path}-json` (Nest's
    /// `SwaggerModule.setup`), outside the guards and the global prefix, as Nest does. The UI's
    /// assets (swagger-ui-dist 5.35.0) are in the binary: no CDN.
    pub fn setup(path: &str, app: &mut NestApplication, document: &OpenApiDocument) {
        app.merge(ui::router(path, document));
    }
}

/// What the document describes of an app: its routes, whether global guards apply, and how
/// routes are versioned and prefixed.
pub(crate) struct Served<'a> {
    pub routes: &'a crate::http::Routes,
    pub global_guards: bool,
    pub versioning: Option<&'a crate::http::VersioningOptions>,
    pub prefix: Option<&'a crate::app::GlobalPrefix>,
}

impl Served<'_> {
    /// Every path `meta` is served at, in Nest's syntax: versions, optional groups, prefix.
    fn paths(&self, meta: &RouteMeta) -> Vec<String> {
        let versioned = match self.versioning {
            Some(v) => v.uri_paths(meta.path, meta.versions, meta.class_versions),
            None => vec![meta.path.to_owned()],
        };
        versioned
            .iter()
            .flat_map(|path| expand_groups(path))
            .map(|path| match self.prefix {
                Some(prefix) => prefix.served(meta.method, &path),
                None => path,
            })
            .collect()
    }
}

/// The operation of one route.
fn operation(
    docs: RouteDocs,
    global_guards: bool,
    security: &[Value],
    errors_used: &mut bool,
) -> Value {
    let mut op = Map::new();
    op.insert("operationId".into(), json!(docs.operation_id));
    if let Some(summary) = docs.summary {
        op.insert("summary".into(), json!(summary));
    }
    if let Some(description) = docs.description {
        op.insert("description".into(), json!(description));
    }
    op.insert("parameters".into(), Value::Array(docs.parameters));
    if let Some(body) = docs.request_body {
        op.insert("requestBody".into(), body);
    }
    let mut responses = docs.responses;
    let mut errors = docs.errors;
    let guarded = docs.access == Access::Guarded
        || (docs.access == Access::App && (global_guards || !security.is_empty()))
        || docs.bearer.is_some();
    if guarded {
        errors.extend([401, 403]);
    }
    errors.sort_unstable();
    errors.dedup();
    for status in errors {
        let key = status.to_string();
        if responses.contains_key(&key) {
            continue;
        }
        *errors_used = true;
        responses.insert(
            key,
            json!({
                "description": reason(status),
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/HttpException" } } },
            }),
        );
    }
    op.insert("responses".into(), Value::Object(responses));
    match (&docs.access, &docs.bearer) {
        (Access::Public, _) => {
            op.insert("security".into(), json!([]));
        }
        (_, Some(name)) => {
            op.insert("security".into(), json!([{ name: [] }]));
        }
        _ if !security.is_empty() => {
            op.insert("security".into(), Value::Array(security.to_vec()));
        }
        _ => {}
    }
    if !docs.tags.is_empty() {
        op.insert("tags".into(), json!(docs.tags));
    }
    Value::Object(op)
}

/// Nest's error body: `{ statusCode, message, error }`.
fn http_exception_schema() -> Value {
    json!({
        "type": "object",
        "description": "Nest's error body",
        "properties": {
            "statusCode": { "type": "integer" },
            "message": { "oneOf": [ { "type": "string" }, { "type": "array", "items": { "type": "string" } } ] },
            "error": { "type": "string" },
        },
        "required": ["statusCode", "message"],
    })
}

fn reason(status: u16) -> &'static str {
    axum::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

/// The document's methods of a route (`ALL`: every one, as Nest's document lists them).
fn methods(meta: &RouteMeta) -> Vec<&'static str> {
    match meta.method {
        "ALL" => vec!["get", "post", "put", "delete", "patch", "options", "head"],
        "GET" => vec!["get"],
        "POST" => vec!["post"],
        "PUT" => vec!["put"],
        "DELETE" => vec!["delete"],
        "PATCH" => vec!["patch"],
        "OPTIONS" => vec!["options"],
        "HEAD" => vec!["head"],
        _ => Vec::new(),
    }
}

/// Nest's path syntax as OpenAPI's: `:id` → `{id}`, `*path` / `{*path}` → `{path}`.
fn openapi_path(nest: &str) -> String {
    let segments: Vec<String> = nest
        .split('/')
        .map(|segment| {
            if let Some(name) = segment.strip_prefix(':') {
                format!("{{{name}}}")
            } else if let Some(name) = segment
                .strip_prefix("{*")
                .and_then(|s| s.strip_suffix('}'))
                .or_else(|| segment.strip_prefix('*'))
            {
                format!("{{{name}}}")
            } else {
                segment.to_owned()
            }
        })
        .collect();
    segments.join("/")
}

/// A path with optional groups (`users{/:id}`) as every path it matches.
pub(crate) fn expand_groups(path: &str) -> Vec<String> {
    let Some(open) = path.find('{').filter(|&i| !path[i..].starts_with("{*")) else {
        return vec![path.to_owned()];
    };
    let Some(close) = path[open..].find('}').map(|i| open + i) else {
        return vec![path.to_owned()];
    };
    let (before, group, after) = (&path[..open], &path[open + 1..close], &path[close + 1..]);
    let mut out = expand_groups(&format!("{before}{after}"));
    out.extend(expand_groups(&format!("{before}{group}{after}")));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nest_paths_become_openapi_paths() {
        assert_eq!(openapi_path("/users/:id/profile"), "/users/{id}/profile");
        assert_eq!(openapi_path("/files/*path"), "/files/{path}");
        assert_eq!(openapi_path("/files/{*path}"), "/files/{path}");
        assert_eq!(expand_groups("/users{/:id}"), ["/users", "/users/:id"]);
        assert_eq!(expand_groups("/files/{*path}"), ["/files/{*path}"]);
    }
}
