//! App-wide HTTP settings over real HTTP: CORS, compression, security headers, body limit.

use gateway_core::prelude::*;
use gateway_tests::*;
use serde_json::Value;

#[injectable]
struct EdgeController;

#[controller]
impl EdgeController {
    #[get("small")]
    async fn small(&self) -> &'static str {
        "tiny"
    }

    #[get("big")]
    async fn big(&self) -> Vec<u32> {
        (0..2000).collect()
    }

    #[get("framed")]
    #[header("X-Frame-Options", "DENY")]
    async fn framed(&self) -> &'static str {
        "mine"
    }

    #[post("echo")]
    async fn echo(&self, #[body] body: Value) -> Value {
        body
    }
}

#[module(controllers = [EdgeController])]
struct EdgeModule;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_settings_behave_like_the_express_middlewares() {
    let app = serve_app::<EdgeModule>(|app| {
        app.enable_cors()
            .enable_compression()
            .use_security_headers()
            .set_body_limit(1024);
    })
    .await;

    // CORS: a preflight, then a simple request.
    let preflight = [
        ("Origin", "http://web.example"),
        ("Access-Control-Request-Method", "POST"),
        ("Access-Control-Request-Headers", "x-custom"),
    ];
    let (status, head, _) = http_request(app, "OPTIONS", "/echo", &preflight, "").await;
    assert!(
        status == 200 || status == 204,
        "preflight answered {status}"
    );
    assert_eq!(header(&head, "access-control-allow-origin"), Some("*"));
    assert!(header(&head, "access-control-allow-methods").is_some_and(|m| m.contains("POST")));
    assert_eq!(
        header(&head, "access-control-allow-headers"),
        Some("x-custom")
    );
    let (status, head, body) = http_request(
        app,
        "GET",
        "/small",
        &[("Origin", "http://web.example")],
        "",
    )
    .await;
    assert_eq!((status, body.as_str()), (200, "tiny"));
    assert_eq!(header(&head, "access-control-allow-origin"), Some("*"));

    // Compression above 1 kb only, when accepted.
    let gzip = [("Accept-Encoding", "gzip")];
    let (status, head, _) = http_request(app, "GET", "/big", &gzip, "").await;
    assert_eq!(
        (status, header(&head, "content-encoding")),
        (200, Some("gzip"))
    );
    let (_, head, _) = http_request(app, "GET", "/small", &gzip, "").await;
    assert_eq!(header(&head, "content-encoding"), None);
    let (_, head, body) = http_request(app, "GET", "/big", &[], "").await;
    assert_eq!(header(&head, "content-encoding"), None);
    assert!(body.starts_with("[0,1,2,"));

    // Helmet's headers; a route's own value wins.
    let (_, head, _) = http_request(app, "GET", "/small", &[], "").await;
    assert_eq!(header(&head, "x-content-type-options"), Some("nosniff"));
    assert_eq!(header(&head, "x-frame-options"), Some("SAMEORIGIN"));
    assert_eq!(
        header(&head, "strict-transport-security"),
        Some("max-age=31536000; includeSubDomains")
    );
    assert!(header(&head, "content-security-policy")
        .is_some_and(|v| v.starts_with("default-src 'self'")));
    let (_, head, _) = http_request(app, "GET", "/framed", &[], "").await;
    assert_eq!(header(&head, "x-frame-options"), Some("DENY"));
    // Errors get them too.
    let (status, head, _) = http_request(app, "GET", "/nope", &[], "").await;
    assert_eq!(
        (status, header(&head, "x-content-type-options")),
        (404, Some("nosniff"))
    );

    // The body limit.
    let json = [("Content-Type", "application/json")];
    let (status, _, body) = http_request(
        app,
        "POST",
        "/echo",
        &json,
        &format!("[\"{}\"]", "x".repeat(2000)),
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (
            413,
            r#"{"statusCode":413,"message":"request entity too large"}"#
        )
    );
    let (status, _, body) = http_request(app, "POST", "/echo", &json, r#"{"ok":true}"#).await;
    assert_eq!((status, body.as_str()), (201, r#"{"ok":true}"#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_added_unless_asked() {
    let app = serve_app::<EdgeModule>(|_| {}).await;
    let (_, head, _) = http_request(
        app,
        "GET",
        "/big",
        &[("Accept-Encoding", "gzip"), ("Origin", "http://x")],
        "",
    )
    .await;
    for name in [
        "content-encoding",
        "access-control-allow-origin",
        "x-content-type-options",
    ] {
        assert_eq!(header(&head, name), None, "{name}");
    }
    // The default limit is Nest's 100 kb.
    let json = [("Content-Type", "application/json")];
    let (status, _, _) = http_request(
        app,
        "POST",
        "/echo",
        &json,
        &format!("[\"{}\"]", "x".repeat(50_000)),
    )
    .await;
    assert_eq!(status, 201);
}

/// A user's axum routes and tower layers go through the same serve path as the
/// controllers' routes, and `into_router()` is that same app (trailing slashes, fallbacks,
/// settings) in an axum `Router`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merged_routes_and_user_layers_share_the_serve_path() {
    use gateway_core::axum::{self, http::HeaderValue, routing::get};
    use gateway_core::tower_http::set_header::SetResponseHeaderLayer;

    let configure = |app: &mut gateway_core::app::NestApplication| {
        app.merge(axum::Router::new().route("/plain", get(|| async { "plain axum" })))
            .layer(SetResponseHeaderLayer::overriding(
                axum::http::HeaderName::from_static("x-layer"),
                HeaderValue::from_static("mine"),
            ))
            .use_security_headers();
    };
    let served = serve_app::<EdgeModule>(configure).await;

    let mut app = NestFactory::create::<EdgeModule>().await.unwrap();
    configure(&mut app);
    let router = app.into_router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let routed = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    for app in [served, routed] {
        for (path, want) in [
            ("/small", "tiny"),
            ("/small/", "tiny"),
            ("/plain", "plain axum"),
        ] {
            let (status, head, body) = http_request(app, "GET", path, &[], "").await;
            assert_eq!((status, body.as_str()), (200, want), "{path}");
            assert_eq!(header(&head, "x-layer"), Some("mine"), "{path}");
            assert_eq!(header(&head, "x-content-type-options"), Some("nosniff"));
        }
        let (status, _, body) = http_request(app, "GET", "/nope", &[], "").await;
        assert_eq!(
            (status, body.as_str()),
            (
                404,
                r#"{"message":"Cannot GET /nope","error":"Not Found","statusCode":404}"#
            )
        );
    }
}

#[injectable]
struct HealthController;

#[controller("health")]
impl HealthController {
    #[get("")]
    async fn health(&self) -> &'static str {
        "up"
    }
}

#[module(controllers = [EdgeController, HealthController])]
struct PrefixedModule;

/// `app.setGlobalPrefix('api', { exclude: ['health'] })`: every route under `/api` but the
/// excluded one, which is served without the prefix and only there; 404s show the path as
/// requested, with its query.
#[tokio::test]
async fn a_global_prefix_moves_every_route_but_the_excluded_ones() {
    let module = gateway_core::testing::Test::create_testing_module::<PrefixedModule>()
        .compile()
        .await
        .unwrap();
    let mut app = module.create_nest_application();
    app.set_global_prefix_with(
        "api",
        gateway_core::app::GlobalPrefixOptions::exclude(["health"]),
    );
    let app = app.into_test();
    let res = app.get("/api/small").send().await;
    assert_eq!((res.status(), res.text()), (200, "tiny"));
    let res = app
        .post("/api/echo")
        .json(&serde_json::json!({ "a": 1 }))
        .send()
        .await;
    assert_eq!((res.status(), res.text()), (201, r#"{"a":1}"#));
    let res = app.get("/health").send().await;
    assert_eq!((res.status(), res.text()), (200, "up"));
    for (path, message) in [
        ("/small", "Cannot GET /small"),
        ("/api/health", "Cannot GET /api/health"),
        ("/api/nope?x=1", "Cannot GET /api/nope?x=1"),
        ("/apismall", "Cannot GET /apismall"),
    ] {
        let res = app.get(path).send().await;
        assert_eq!(
            (res.status(), res.json::<Value>()),
            (
                404,
                serde_json::json!({ "message": message, "error": "Not Found", "statusCode": 404 })
            ),
            "{path}"
        );
    }
    // A known path with an unserved method under the prefix: Express's 404, the full path.
    let res = app.delete("/api/small").send().await;
    assert_eq!(res.json::<Value>()["message"], "Cannot DELETE /api/small");
}
