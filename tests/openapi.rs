//! The OpenAPI document (feature `openapi`): the example gateway's, compared with the one
//! `@nestjs/swagger` 11.4.7 makes for the seed's gateway with its DTOs annotated
//! (`nest-peer/openapi.js`), served with Swagger UI from the binary; and how prefixes,
//! versions, query structs, optional groups and undocumented types come out.

use gateway_core::http::VersioningOptions;
use gateway_core::openapi::{utoipa, DocumentBuilder, SwaggerModule, ToSchema};
use gateway_core::prelude::*;
use gateway_tests::*;
use serde_json::{json, Value};

const TOKEN: &str = "openapi-token";

async fn example_gateway() -> std::net::SocketAddr {
    let app = examples::gateway::create(TOKEN)
        .await
        .expect("the gateway boots");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(app.serve(listener, std::future::pending()));
    addr
}

async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, Vec<(String, String)>, String) {
    http_request(addr, "GET", path, &[], "").await
}

/// A schema's property names, required names and types (`number` and `integer` alike: TS
/// has one number type).
fn shape_of(schema: &Value) -> Value {
    let kind = |s: &Value| match s["type"].as_str() {
        Some("integer") => json!("number"),
        _ => s.get("type").cloned().unwrap_or_else(|| s["$ref"].clone()),
    };
    let properties: serde_json::Map<String, Value> = schema["properties"]
        .as_object()
        .map(|p| {
            p.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        json!([kind(v), v["items"].get("type").or(v["items"].get("$ref"))]),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let mut required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    required.sort_unstable();
    json!({ "properties": properties, "required": required })
}

#[tokio::test]
async fn the_example_gateway_documents_what_nest_documents() {
    let addr = example_gateway().await;
    // Public, as Nest serves it: no token needed, while the routes need one.
    let (status, head, body) = get(addr, "/docs-json").await;
    assert_eq!(status, 200, "{body}");
    assert!(header(&head, "content-type").is_some_and(|t| t.starts_with("application/json")));
    assert_eq!(get(addr, "/users/42").await.0, 401);
    let ours: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ours["openapi"], "3.1.0");
    assert_eq!(ours["info"]["title"], "API gateway");

    // Every operation, with its status codes, parameters and schemas.
    let op = |path: &str, method: &str| ours["paths"][path][method].clone();
    let get_user = op("/users/{id}", "get");
    assert_eq!(get_user["operationId"], "GatewayController_getUser");
    assert_eq!(
        get_user["parameters"],
        json!([{ "name": "id", "required": true, "in": "path", "schema": { "type": "string" } }])
    );
    let statuses = |op: &Value| -> Vec<String> {
        op["responses"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    assert_eq!(
        statuses(&get_user),
        ["200", "401", "403", "404", "502", "503", "504"]
    );
    assert_eq!(
        get_user["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/UserDto"
    );
    assert_eq!(
        get_user["responses"]["503"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/HttpException"
    );
    assert_eq!(get_user["security"], json!([{ "bearer": [] }]));
    let create = op("/orders", "post");
    assert_eq!(
        statuses(&create),
        ["201", "400", "401", "403", "413", "502", "503", "504"]
    );
    assert_eq!(
        create["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/CreateOrderDto"
    );
    let ready = op("/health", "get");
    assert_eq!(statuses(&ready), ["200", "503"]);
    assert_eq!(ready["security"], json!([]), "the probes are public");
    assert_eq!(
        ours["components"]["securitySchemes"]["bearer"],
        json!({ "scheme": "bearer", "bearerFormat": "JWT", "type": "http" })
    );

    // Swagger UI, from the binary.
    let (status, head, page) = get(addr, "/docs").await;
    assert_eq!(status, 200);
    assert!(header(&head, "content-type").is_some_and(|t| t.starts_with("text/html")));
    assert!(page.contains("/docs/swagger-ui-bundle.js"), "{page}");
    for (asset, kind) in [
        ("/docs/swagger-ui-bundle.js", "application/javascript"),
        ("/docs/swagger-ui.css", "text/css"),
        ("/docs/swagger-ui-init.js", "application/javascript"),
    ] {
        let (status, head, body) = get(addr, asset).await;
        assert_eq!(status, 200, "{asset}");
        assert!(
            header(&head, "content-type").is_some_and(|t| t.starts_with(kind)),
            "{asset}"
        );
        assert!(!body.is_empty());
    }
    let (_, _, init) = get(addr, "/docs/swagger-ui-init.js").await;
    assert!(init.contains(r#"url: "/docs-json""#), "{init}");

    // The same document as @nestjs/swagger's for the seed's gateway, annotated.
    if !nest_available("the_example_gateway_documents_what_nest_documents (Nest part)") {
        return;
    }
    let nest: Value = serde_json::from_str(run_node(Nest::V11, "openapi.js", &[], "").await.trim())
        .expect("Nest prints its document");
    let nest_paths = nest["paths"].as_object().unwrap();
    let our_paths = ours["paths"].as_object().unwrap();
    assert_eq!(
        nest_paths.keys().collect::<Vec<_>>(),
        our_paths.keys().collect::<Vec<_>>(),
        "the same paths, in the same order"
    );
    for (path, item) in nest_paths {
        let nest_ops: Vec<&String> = item.as_object().unwrap().keys().collect();
        let our_ops: Vec<&String> = our_paths[path].as_object().unwrap().keys().collect();
        assert_eq!(nest_ops, our_ops, "{path}");
        for (method, theirs) in item.as_object().unwrap() {
            let mine = &ours["paths"][path][method];
            let at = format!("{method} {path}");
            for key in [
                "operationId",
                "summary",
                "tags",
                "parameters",
                "requestBody",
            ] {
                assert_eq!(theirs.get(key), mine.get(key), "{at}: {key}");
            }
            // Nest's statuses with the same content, and ours adds only the errors a route can
            // answer with.
            for (status, response) in theirs["responses"].as_object().unwrap() {
                let content = |doc: &Value, r: &Value| {
                    let schema = &r["content"]["application/json"]["schema"];
                    match schema["$ref"].as_str() {
                        Some(at)
                            if status != "200" && status != "201"
                                || path.starts_with("/health") =>
                        {
                            shape_of(&doc["components"]["schemas"][at.rsplit('/').next().unwrap()])
                        }
                        _ if path.starts_with("/health") => shape_of(schema),
                        _ => schema.clone(),
                    }
                };
                assert_eq!(
                    content(&nest, response),
                    content(&ours, &mine["responses"][status]),
                    "{at} {status}"
                );
                assert_eq!(
                    response["description"], mine["responses"][status]["description"],
                    "{at} {status}"
                );
            }
            for status in mine["responses"].as_object().unwrap().keys() {
                assert!(
                    theirs["responses"].get(status).is_some() || status.as_str() >= "400",
                    "{at}: {status} is not an error Nest's document lacks"
                );
            }
            if theirs.get("security").is_some() {
                assert_eq!(theirs["security"], mine["security"], "{at}");
            }
        }
    }
    for (name, schema) in nest["components"]["schemas"].as_object().unwrap() {
        assert_eq!(
            shape_of(schema),
            shape_of(&ours["components"]["schemas"][name]),
            "schema {name}"
        );
    }
    assert_eq!(
        nest["components"]["securitySchemes"],
        ours["components"]["securitySchemes"]
    );
}

/// A query struct, documented.
#[derive(serde::Deserialize, ToSchema)]
struct Paging {
    /// How many.
    limit: u32,
    /// From where.
    cursor: Option<String>,
}

/// A type nobody described.
#[derive(serde::Serialize)]
struct Undocumented {
    #[serde(rename = "n")]
    count: u32,
}

#[injectable]
struct ItemsController;

#[controller("items")]
#[version("1")]
impl ItemsController {
    #[get("{/:id}")]
    async fn list(&self, #[param] id: Option<String>, #[query] paging: Paging) -> Vec<String> {
        let cursor = paging.cursor.unwrap_or_default();
        vec![paging.limit.to_string(), id.unwrap_or_default(), cursor]
    }

    #[get("hidden")]
    #[api_exclude_endpoint]
    async fn hidden(&self) -> &'static str {
        "hidden"
    }
}

#[injectable]
struct LooseController;

#[controller("loose")]
impl LooseController {
    #[get("")]
    async fn loose(&self) -> axum::Json<Undocumented> {
        axum::Json(Undocumented { count: 1 })
    }
}

#[module(controllers = [ItemsController])]
struct ItemsModule;

#[module(controllers = [LooseController])]
struct LooseModule;

#[tokio::test]
async fn prefixes_versions_queries_and_holes() {
    let mut app = NestFactory::create::<ItemsModule>().await.unwrap();
    app.set_global_prefix("api");
    app.enable_versioning(VersioningOptions::uri());
    let document = SwaggerModule::create_document(&app, DocumentBuilder::new().build()).unwrap();
    let paths: Vec<&String> = document.json()["paths"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(paths, ["/api/v1/items", "/api/v1/items/{id}"]);
    let list = &document.json()["paths"]["/api/v1/items"]["get"];
    assert_eq!(list["operationId"], "ItemsController_list");
    assert_eq!(
        list["parameters"],
        json!([
            { "name": "limit", "required": true, "in": "query", "schema": { "type": "integer", "format": "int32", "minimum": 0, "description": "How many." } },
            { "name": "cursor", "required": false, "in": "query", "schema": { "type": ["string", "null"], "description": "From where." } },
        ])
    );
    assert_eq!(
        list["responses"]["200"]["content"]["application/json"]["schema"],
        json!({ "type": "array", "items": { "type": "string" } })
    );
    assert!(
        document.json()["components"]["schemas"]
            .get("Paging")
            .is_none(),
        "a query struct is its parameters, not a schema"
    );

    // A type without a schema, on a controller that asked for no checking: a boot error
    // naming it, not a hole.
    let app = NestFactory::create::<LooseModule>().await.unwrap();
    let error = SwaggerModule::create_document(&app, DocumentBuilder::new().build()).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("GET /loose (LooseController_loose): `openapi::Undocumented`"),
        "{error}"
    );
}
