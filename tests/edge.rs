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

    /// A webhook: the bytes as signed, and the same body parsed.
    #[post("webhook")]
    async fn webhook(&self, #[raw_body] raw: axum::body::Bytes, #[body] event: Value) -> Value {
        serde_json::json!({ "raw": String::from_utf8_lossy(&raw), "event": event })
    }

    #[post("text")]
    async fn text(&self, #[raw_body] text: String) -> String {
        text.to_uppercase()
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

/// The app of module `M`, booted by the testing module (requests run in process).
async fn nest_app<M: gateway_core::di::Module>() -> NestApplication {
    gateway_core::testing::Test::create_testing_module::<M>()
        .compile()
        .await
        .expect("the module compiles")
        .create_nest_application()
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
    let mut app = nest_app::<PrefixedModule>().await;
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

/// Form bodies: the same bodies posted to Express's urlencoded parser as Nest registers it
/// (`nest-peer/form-parse.js`, the real body-parser and qs) and to our `#[body]`; what the
/// handler sees is the same JSON, byte for byte, and the limits answer the same statuses.
#[tokio::test]
async fn form_bodies_parse_as_expresss_extended_parser_does() {
    if !nest_available("form_bodies_parse_as_expresss_extended_parser_does") {
        return;
    }
    let deep = |n: usize| format!("a{}=1", "[b]".repeat(n));
    let bodies: Vec<String> = [
        "a=1&b=2",
        "a=1&a=2&a=3",
        "user[name]=Ada&user[langs][]=en&user[langs][]=fr",
        "a[1]=b&a[0]=c",
        "a[0]=x&a[b]=y",
        "a[b]=1&a=2",
        "a=2&a[b]=1",
        "b=1&2=x&1=y",
        "x[2]=a&x[10]=b",
        "x[101]=a&x[0]=b",
        "flag&=x&b=",
        "bad=%E0%A4%A&ok=%41",
        "u=%C3%A9t%C3%A9+ok&emoji=%F0%9F%98%80",
        "k%5Bn%5D=v",
        "a[[b]]=1",
        "a[b]c=1",
        "a[b=1",
        "a[]=1&a[]=2&a[]=",
        "a[][b]=1&a[][c]=2",
        "a[0][b]=1&a[0][c]=2",
        "a[0]=1&a[1]=2&a=3",
        "o[x][y][z]=deep&o[x][w]=2",
        "a=1&&b=2&",
        "=x",
        "a%20b=c%20d&plus=a+b",
        "a[b]=1&a=2&a=3",
        "a=1&a[b]=2&a[c]=3",
        "a[b]=1&a=2&a[c]=3",
        "a[0]=1&a[b]=2&a=3",
        "x[100]=a",
        "x[99]=a",
        "a[b]c[d]=1",
        "[a]=1&[]=2",
        "a[]b=1&a]=1&a[b]]=c",
        "%=x&a=%&a=%ZZ",
        "a==b&c[=1",
        "",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain([deep(32), deep(33), vec!["p=1"; 1001].join("&")])
    .collect();
    let express = run_node(
        Nest::V11,
        "form-parse.js",
        &[],
        &serde_json::to_string(&bodies).unwrap(),
    )
    .await;
    let express: Vec<(u16, String)> =
        serde_json::from_str(&express).expect("form-parse.js prints JSON");
    let app = nest_app::<EdgeModule>().await.into_test();
    for (body, (status, parsed)) in bodies.iter().zip(express) {
        let res = app
            .post("/echo")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .send()
            .await;
        if status == 200 {
            assert_eq!((res.status(), res.text()), (201, parsed.as_str()), "{body}");
        } else {
            assert_eq!(res.status(), status, "{body:.60}");
        }
    }
}

/// `#[raw_body]` (Nest's `rawBody: true`, `req.rawBody`): the bytes as received beside the
/// parsed body, for a signature check; the body limit holds for it too.
#[tokio::test]
async fn the_raw_body_comes_as_received_beside_the_parsed_one() {
    let app = nest_app::<EdgeModule>().await.into_test();
    let sent = "{ \"id\" : 7,\n  \"kind\": \"paid\" }";
    let res = app
        .post("/webhook")
        .header("content-type", "application/json")
        .body(sent)
        .send()
        .await;
    assert_eq!(
        (res.status(), res.json::<Value>()),
        (
            201,
            serde_json::json!({ "raw": sent, "event": { "id": 7, "kind": "paid" } })
        )
    );
    let res = app
        .post("/text")
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await;
    assert_eq!((res.status(), res.text()), (201, "HELLO"));
    let res = app.post("/text").body(vec![0xff, 0xfe]).send().await;
    assert_eq!(res.status(), 400);
    let res = app.post("/text").body(vec![b'a'; 200 * 1024]).send().await;
    assert_eq!(
        (res.status(), res.text()),
        (
            413,
            r#"{"statusCode":413,"message":"request entity too large"}"#
        )
    );
}

#[injectable]
struct RouteKindsController;

#[controller]
impl RouteKindsController {
    /// `@All('any')`: every method, status 200 (Nest's default for anything but POST).
    #[all("any")]
    async fn any(&self, #[req] parts: axum::http::request::Parts) -> String {
        format!("any {}", parts.method)
    }

    #[head("ping")]
    #[header("x-pong", "1")]
    async fn ping_head(&self) {}

    #[options("ping")]
    async fn ping_options(&self) -> &'static str {
        "GET, HEAD, OPTIONS"
    }

    /// Nest 11's named wildcard: the rest of the path, one segment or more.
    #[get("files/:bucket/*path")]
    async fn file(&self, #[param] bucket: String, #[param] path: String) -> String {
        format!("{bucket}:{path}")
    }

    /// Nest 11's optional group: `/users` and `/users/7`.
    #[get("users{/:id}")]
    async fn user(&self, #[param] id: Option<u64>) -> String {
        format!("user {id:?}")
    }

    /// An optional wildcard: `/docs`, `/docs/a/b`.
    #[get("docs{/*path}")]
    async fn docs(&self, #[param] path: Option<String>) -> String {
        format!("docs {path:?}")
    }
}

#[module(controllers = [RouteKindsController])]
struct RouteKindsModule;

#[tokio::test]
async fn all_head_options_and_wildcard_routes() {
    let app = nest_app::<RouteKindsModule>().await.into_test();
    for (res, method) in [
        (app.get("/any").send().await, "GET"),
        (app.post("/any").send().await, "POST"),
        (app.delete("/any").send().await, "DELETE"),
    ] {
        assert_eq!(
            (res.status(), res.text()),
            (200, format!("any {method}").as_str())
        );
    }
    let res = app.request(axum::http::Method::HEAD, "/ping").send().await;
    assert_eq!(
        (res.status(), res.header("x-pong"), res.text()),
        (200, Some("1"), "")
    );
    let res = app
        .request(axum::http::Method::OPTIONS, "/ping")
        .send()
        .await;
    assert_eq!((res.status(), res.text()), (200, "GET, HEAD, OPTIONS"));
    let res = app.get("/files/b1/a/b/c.txt").send().await;
    assert_eq!((res.status(), res.text()), (200, "b1:a/b/c.txt"));
    let res = app.get("/files/b1").send().await;
    assert_eq!(res.status(), 404);
    // The optional groups, as Nest 11 routes them (`users{/:id}`, `docs{/*path}`).
    for (path, status, text) in [
        ("/users", 200, "user None"),
        ("/users/7", 200, "user Some(7)"),
        ("/docs", 200, "docs None"),
        ("/docs/", 200, "docs None"),
        ("/docs/a/b", 200, "docs Some(\"a/b\")"),
    ] {
        let res = app.get(path).send().await;
        assert_eq!((res.status(), res.text()), (status, text), "{path}");
    }
    assert_eq!(app.get("/users/7/x").send().await.status(), 404);
    let res = app.get("/users/x").send().await;
    assert_eq!(
        (res.status(), res.text()),
        (
            400,
            r#"{"message":"Validation failed (numeric string is expected)","error":"Bad Request","statusCode":400}"#
        )
    );
}

// --- versioning (Nest's `enableVersioning`) ---

#[injectable]
struct CatsV1Controller;

#[controller("cats")]
#[version("1")]
impl CatsV1Controller {
    #[get("")]
    async fn list(&self) -> &'static str {
        "cats v1"
    }
}

#[injectable]
struct CatsV2Controller;

#[controller("cats")]
#[version("2")]
impl CatsV2Controller {
    #[get("")]
    async fn list(&self) -> &'static str {
        "cats v2"
    }

    #[get(":id")]
    async fn one(&self, #[param] id: u32) -> String {
        format!("cat {id} v2")
    }
}

#[injectable]
struct UnversionedController;

#[controller]
impl UnversionedController {
    #[get("status")]
    #[version(neutral)]
    async fn status(&self) -> &'static str {
        "up"
    }

    #[get("plain")]
    async fn plain(&self) -> &'static str {
        "plain"
    }

    #[get("dogs")]
    #[version("1", "2")]
    async fn dogs(&self) -> &'static str {
        "dogs"
    }

    /// `@All` in one version and `@Get` in another, on one path.
    #[all("echo")]
    #[version("1")]
    async fn echo_all(&self) -> &'static str {
        "all v1"
    }

    #[get("echo")]
    #[version("2")]
    async fn echo_get(&self) -> &'static str {
        "get v2"
    }
}

#[module(controllers = [CatsV1Controller, CatsV2Controller, UnversionedController])]
struct VersionedModule;

async fn versioned(configure: impl FnOnce(&mut NestApplication)) -> gateway_core::testing::TestApp {
    let mut app = nest_app::<VersionedModule>().await;
    configure(&mut app);
    app.into_test()
}

/// `(path, header)` → what answers: the body, or `404` (Nest's `Cannot GET <path>`).
async fn answers(
    app: &gateway_core::testing::TestApp,
    path: &str,
    header: Option<(&str, &str)>,
) -> String {
    let mut request = app.get(path);
    if let Some((name, value)) = header {
        request = request.header(name, value);
    }
    let res = request.send().await;
    match res.status() {
        200 => res.text().to_owned(),
        404 => {
            assert_eq!(res.json::<Value>()["message"], format!("Cannot GET {path}"));
            "404".to_owned()
        }
        other => panic!("{path}: {other}"),
    }
}

#[tokio::test]
async fn uri_versioning_serves_each_version_at_its_path() {
    let app = versioned(|app| {
        app.enable_versioning(gateway_core::http::VersioningOptions::uri());
    })
    .await;
    for (path, expected) in [
        ("/v1/cats", "cats v1"),
        ("/v2/cats", "cats v2"),
        ("/v2/cats/5", "cat 5 v2"),
        ("/v1/cats/5", "404"),
        ("/cats", "404"),
        ("/v3/cats", "404"),
        ("/status", "up"),
        ("/v1/status", "404"),
        ("/plain", "plain"),
        ("/v1/plain", "404"),
        ("/v1/dogs", "dogs"),
        ("/v2/dogs", "dogs"),
        ("/dogs", "404"),
    ] {
        assert_eq!(answers(&app, path, None).await, expected, "{path}");
    }
    // `#[all]` in v1 and `#[get]` in v2 on one path: each method finds its version's route.
    for (path, post, expected) in [
        ("/v1/echo", false, (200, "all v1")),
        ("/v1/echo", true, (200, "all v1")),
        ("/v2/echo", false, (200, "get v2")),
        (
            "/v2/echo",
            true,
            (
                404,
                r#"{"message":"Cannot POST /v2/echo","error":"Not Found","statusCode":404}"#,
            ),
        ),
    ] {
        let res = if post {
            app.post(path).send().await
        } else {
            app.get(path).send().await
        };
        assert_eq!((res.status(), res.text()), expected, "{path} post: {post}");
    }
    // With a default version and a global prefix: `/api/v1/plain`.
    let app = versioned(|app| {
        app.enable_versioning(gateway_core::http::VersioningOptions::uri().default_version(["1"]))
            .set_global_prefix("api");
    })
    .await;
    for (path, expected) in [
        ("/api/v1/plain", "plain"),
        ("/api/plain", "404"),
        ("/api/v2/cats", "cats v2"),
        ("/api/status", "up"),
        ("/v1/plain", "404"),
    ] {
        assert_eq!(answers(&app, path, None).await, expected, "{path}");
    }
}

#[tokio::test]
async fn header_media_type_and_custom_versioning_choose_among_routes_of_one_path() {
    let header = versioned(|app| {
        app.enable_versioning(gateway_core::http::VersioningOptions::header(
            "X-API-Version",
        ));
    })
    .await;
    let media = versioned(|app| {
        app.enable_versioning(gateway_core::http::VersioningOptions::media_type("v="));
    })
    .await;
    let custom = versioned(|app| {
        // The versions a `versions` query lists, highest first (Nest's docs' custom extractor).
        app.enable_versioning(gateway_core::http::VersioningOptions::custom(|parts| {
            let query = parts.uri.query().unwrap_or_default();
            let mut versions: Vec<String> = query
                .strip_prefix("versions=")
                .map(|v| v.split(',').map(str::to_owned).collect())
                .unwrap_or_default();
            versions.sort_by(|a, b| b.cmp(a));
            versions
        }));
    })
    .await;
    for (path, version, expected) in [
        ("/cats", Some("1"), "cats v1"),
        ("/cats", Some("2"), "cats v2"),
        ("/cats", None, "404"),
        ("/cats/5", Some("1"), "404"),
        ("/status", Some("7"), "up"),
        ("/status", None, "up"),
        ("/plain", Some("2"), "plain"),
        ("/dogs", Some("2"), "dogs"),
        ("/dogs", None, "404"),
    ] {
        let by_header = version.map(|v| ("x-api-version", v));
        assert_eq!(
            answers(&header, path, by_header).await,
            expected,
            "header {path} {version:?}"
        );
        let accept = version.map(|v| format!("application/json;v={v}"));
        let by_media = accept.as_deref().map(|a| ("accept", a));
        assert_eq!(
            answers(&media, path, by_media).await,
            expected,
            "media {path} {version:?}"
        );
    }
    // Nest tries the routes in registration order, each asking whether the list names its
    // version (its adapter's "known bug": not the highest version first).
    assert_eq!(
        answers(&custom, "/cats?versions=1,2,9", None).await,
        "cats v1"
    );
    assert_eq!(
        answers(&custom, "/cats?versions=2,9", None).await,
        "cats v2"
    );
    assert_eq!(answers(&custom, "/cats?versions=9", None).await, "404");
}

#[tokio::test]
async fn without_versioning_the_first_of_routes_sharing_a_path_answers() {
    let app = versioned(|_| {}).await;
    assert_eq!(answers(&app, "/cats", None).await, "cats v1");
    assert_eq!(answers(&app, "/cats/5", None).await, "cat 5 v2");
    assert_eq!(answers(&app, "/v1/cats", None).await, "404");
}

/// The same requests to Nest's own versioned app (`nest-peer/versioned.js`, the controllers
/// above written as a Nest team writes them) and to ours, under each kind of versioning:
/// the same status and body for every one.
#[tokio::test]
async fn versioning_answers_as_nests_express_adapter_does() {
    if !nest_available("versioning_answers_as_nests_express_adapter_does") {
        return;
    }
    use gateway_core::http::VersioningOptions;
    type Configure = fn(&mut NestApplication);
    let modes: [(&str, Configure, &[&str]); 6] = [
        (
            "none",
            |_| {},
            &["/cats", "/cats/5", "/v1/cats", "/status", "/dogs"],
        ),
        (
            "uri",
            |app| {
                app.enable_versioning(VersioningOptions::uri());
            },
            &[
                "/v1/cats",
                "/v2/cats",
                "/v2/cats/5",
                "/v1/cats/5",
                "/cats",
                "/v3/cats",
                "/status",
                "/v1/status",
                "/plain",
                "/v1/plain",
                "/v1/dogs",
                "/v2/dogs",
                "/dogs",
            ],
        ),
        (
            "uri-default-api",
            |app| {
                app.enable_versioning(VersioningOptions::uri().default_version(["1"]))
                    .set_global_prefix("api");
            },
            &[
                "/api/v1/plain",
                "/api/plain",
                "/api/v2/cats",
                "/api/status",
                "/v1/plain",
                "/api/v1/cats?x=1",
            ],
        ),
        (
            "header",
            |app| {
                app.enable_versioning(VersioningOptions::header("X-API-Version"));
            },
            &["/cats", "/cats/5", "/status", "/plain", "/dogs"],
        ),
        (
            "media",
            |app| {
                app.enable_versioning(VersioningOptions::media_type("v="));
            },
            &["/cats", "/cats/5", "/status", "/plain", "/dogs"],
        ),
        (
            "custom",
            |app| {
                app.enable_versioning(VersioningOptions::custom(|parts| {
                    let query = parts.uri.query().unwrap_or_default();
                    let mut versions: Vec<String> = query
                        .strip_prefix("versions=")
                        .map(|v| {
                            v.split(',')
                                .filter(|v| !v.is_empty())
                                .map(str::to_owned)
                                .collect()
                        })
                        .unwrap_or_default();
                    versions.sort_by(|a, b| b.cmp(a));
                    versions
                }));
            },
            &[
                "/cats?versions=1,2,9",
                "/cats?versions=2,9",
                "/cats?versions=9",
                "/cats",
                "/status",
            ],
        ),
    ];
    for (mode, configure, paths) in modes {
        let port = free_port();
        let _nest = spawn_node_ready(Nest::V11, "versioned.js", &[mode, &port.to_string()]).await;
        let nest_addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
        let ours = versioned(configure).await;
        for path in paths {
            for version in [None, Some("1"), Some("2"), Some("7")] {
                let mut headers: Vec<(&str, String)> = Vec::new();
                if let Some(v) = version {
                    headers.push(("X-API-Version", v.to_owned()));
                    headers.push(("Accept", format!("application/json;v={v}")));
                }
                let pairs: Vec<(&str, &str)> =
                    headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
                let (status, _, body) = http_request(nest_addr, "GET", path, &pairs, "").await;
                let mut request = ours.get(path);
                for (name, value) in &pairs {
                    request = request.header(name, value);
                }
                let res = request.send().await;
                assert_eq!(
                    (res.status(), res.text()),
                    (status, body.as_str()),
                    "{mode} GET {path} version {version:?}"
                );
            }
        }
    }
}

// --- server-sent events (Nest's `@Sse`) ---

fn sse_events() -> Vec<MessageEvent> {
    vec![
        MessageEvent::new(serde_json::json!({ "n": 1 })),
        MessageEvent::new("two\nlines").event("note"),
        MessageEvent::new(serde_json::json!({ "n": 3 })).id("x"),
        MessageEvent::comment("ping"),
        MessageEvent::new("after").retry(1500),
    ]
}

#[injectable]
struct EventsController;

#[controller]
impl EventsController {
    #[sse("events")]
    async fn events(&self) -> impl futures_util::Stream<Item = MessageEvent> + Send + 'static {
        futures_util::stream::iter(sse_events())
    }

    #[sse("failing")]
    async fn failing(
        &self,
    ) -> impl futures_util::Stream<Item = Result<MessageEvent, HttpException>> + Send + 'static
    {
        let events = sse_events().into_iter().take(2).map(Ok);
        futures_util::stream::iter(events.chain([Err(HttpException::bad_request("boom"))]))
    }
}

#[module(controllers = [EventsController])]
struct EventsModule;

/// A chunked body, put back together.
fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).expect("a chunk size");
        if size == 0 {
            break;
        }
        out.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
    out
}

/// The same `@Sse` routes in Nest (`nest-peer/sse.js`) and here: the same bytes on the wire
/// (a blank line first, events numbered where they have no id, an error as Nest's `error`
/// event ending the stream) and Nest's event-stream headers.
#[tokio::test]
async fn server_sent_events_are_written_as_nest_writes_them() {
    let app = nest_app::<EventsModule>().await.into_test();
    let res = app.get("/events").send().await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.header("content-type"), Some("text/event-stream"));
    assert_eq!(res.header("x-accel-buffering"), Some("no"));
    let ours = res.text().to_owned();
    assert!(ours.starts_with("\nid: 1\ndata: {\"n\":1}\n\n"), "{ours:?}");
    let failing = app.get("/failing").send().await.text().to_owned();
    assert!(
        failing.ends_with("event: error\nid: 3\ndata: boom\n\n"),
        "{failing:?}"
    );
    if !nest_available("server_sent_events_are_written_as_nest_writes_them") {
        return;
    }
    let port = free_port();
    let _nest = spawn_node_ready(Nest::V11, "sse.js", &[&port.to_string()]).await;
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    for (path, ours) in [("/events", &ours), ("/failing", &failing)] {
        let response = sse_from(addr, path).await;
        let (head, body) = response.split_once("\r\n\r\n").expect("a response");
        assert!(head.starts_with("HTTP/1.1 200"), "{path}: {head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: text/event-stream"),
            "{path}: {head}"
        );
        assert_eq!(dechunk(body), **ours, "{path}");
    }
}

/// An event stream read to its last chunk (Nest keeps the connection alive after it).
async fn sse_from(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while !raw.ends_with(b"\r\n0\r\n\r\n") {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "the stream closed before its last chunk");
            raw.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("the events end within 10 s");
    String::from_utf8(raw).unwrap()
}

// --- redirects (Nest's `@Redirect`) ---

#[injectable]
struct RedirectController;

#[controller]
impl RedirectController {
    /// Nest's docs' example: a query may pick another URL.
    #[get("docs")]
    #[redirect("https://docs.nestjs.com", 302)]
    async fn docs(
        &self,
        #[query] query: std::collections::HashMap<String, String>,
    ) -> Option<HttpRedirect> {
        (query.get("version").map(String::as_str) == Some("5"))
            .then(|| HttpRedirect::to("https://docs.nestjs.com/v5/"))
    }

    #[get("moved")]
    #[redirect("/new place/ü?q=%20&r=%zz", 301)]
    async fn moved(&self) {}

    #[get("elsewhere")]
    #[redirect]
    async fn elsewhere(&self) -> HttpRedirect {
        HttpRedirect::to("/x?a=<b>").status(307)
    }

    #[get("file")]
    async fn file(&self) -> StreamableFile {
        StreamableFile::from_bytes(r#"{"name":"gateway"}"#)
            .content_type("application/json")
            .disposition("attachment; filename=\"package.json\"")
    }

    /// A file answered to a POST: the route's status (201), as Nest's.
    #[post("file")]
    async fn made(&self) -> Result<StreamableFile, HttpException> {
        Ok(StreamableFile::from_bytes("made").content_type("text/plain"))
    }

    #[get("chunks")]
    async fn chunks(&self) -> StreamableFile {
        let chunks = ["one,", "two"].map(|c| Ok::<_, std::io::Error>(axum::body::Bytes::from(c)));
        StreamableFile::from_stream(futures_util::stream::iter(chunks))
    }
}

#[module(controllers = [RedirectController])]
struct RedirectModule;

/// The same redirects from Nest's own `@Redirect` routes (`nest-peer/redirect.js`) and ours,
/// for several `Accept`s and HEAD, and the same `StreamableFile`s: the same status,
/// `Location`, `Vary`, `Content-Type`, `Content-Length`, `Content-Disposition` and body.
#[tokio::test]
async fn redirects_answer_as_nests_do() {
    let app = nest_app::<RedirectModule>().await.into_test();
    let res = app.get("/docs").send().await;
    assert_eq!(
        (res.status(), res.header("location"), res.text()),
        (
            302,
            Some("https://docs.nestjs.com"),
            "Found. Redirecting to https://docs.nestjs.com"
        )
    );
    if !nest_available("redirects_answer_as_nests_do") {
        return;
    }
    let port = free_port();
    let _nest = spawn_node_ready(Nest::V11, "redirect.js", &[&port.to_string()]).await;
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    for path in [
        "/docs",
        "/docs?version=5",
        "/moved",
        "/elsewhere",
        "/file",
        "/chunks",
    ] {
        for accept in [
            None,
            Some("text/html"),
            Some("application/json"),
            Some("*/*"),
        ] {
            for method in ["GET", "HEAD"] {
                let headers: Vec<(&str, &str)> =
                    accept.map(|a| ("Accept", a)).into_iter().collect();
                let (status, head, body) = http_request(addr, method, path, &headers, "").await;
                let mut request = app.request(method.parse().unwrap(), path);
                for (name, value) in &headers {
                    request = request.header(name, value);
                }
                let res = request.send().await;
                let what = format!("{method} {path} accept {accept:?}");
                let body = match header(&head, "transfer-encoding") {
                    Some("chunked") => dechunk(&body),
                    _ => body,
                };
                assert_eq!(
                    (res.status(), res.text()),
                    (status, body.as_str()),
                    "{what}"
                );
                for name in [
                    "location",
                    "vary",
                    "content-type",
                    "content-length",
                    "content-disposition",
                ] {
                    assert_eq!(res.header(name), header(&head, name), "{what}: {name}");
                }
            }
        }
    }
    let (status, head, body) = http_request(addr, "POST", "/file", &[], "").await;
    let res = app.post("/file").send().await;
    assert_eq!((status, body.as_str()), (201, "made"), "Nest's POST file");
    assert_eq!(
        (res.status(), res.text()),
        (status, body.as_str()),
        "our POST file"
    );
    assert_eq!(res.header("content-type"), header(&head, "content-type"));
}

/// Express's `app.set('trust proxy', 1)`: behind one trusted balancer the throttler counts the
/// client `X-Forwarded-For` names last (what the balancer appended), not the balancer; without
/// it every request looks like the same client.
#[tokio::test]
async fn behind_a_trusted_proxy_the_throttler_counts_forwarded_clients() {
    for trust in [false, true] {
        let mut app = nest_app::<EdgeModule>().await;
        app.use_global_guards(gateway_core::throttle::ThrottlerGuard::new(
            2,
            std::time::Duration::from_secs(60),
        ));
        if trust {
            app.set_trust_proxy(1);
        }
        let app = app.into_test();
        let mut statuses = Vec::new();
        for forwarded in ["9.9.9.9, 1.1.1.1", "1.1.1.1", "2.2.2.2", "8.8.8.8, 1.1.1.1"] {
            let res = app
                .get("/small")
                .header("x-forwarded-for", forwarded)
                .send()
                .await;
            statuses.push(res.status());
        }
        // A, A, B, then A again (a spoofed first entry does not change who A is).
        let expected = if trust {
            [200, 200, 200, 429]
        } else {
            [200, 200, 429, 429]
        };
        assert_eq!(statuses, expected, "trust proxy: {trust}");
    }
}

// --- which of several exception filters answers ---

/// A filter that answers every exception with 418 `{"by": <name>}`.
struct By(&'static str);

impl ExceptionFilter for By {
    async fn catch(
        &self,
        _: HttpException,
        _: &ArgumentsHost,
    ) -> Result<axum::response::Response, HttpException> {
        use axum::response::IntoResponse;
        let body = axum::Json(serde_json::json!({ "by": self.0 }));
        Ok((axum::http::StatusCode::IM_A_TEAPOT, body).into_response())
    }
}

#[injectable]
struct FilteredController;

#[controller]
#[use_filters(By("C1"), By("C2"))]
impl FilteredController {
    #[get("both")]
    #[use_filters(By("A"), By("B"))]
    async fn both(&self) -> Result<(), HttpException> {
        Err(HttpException::not_found(()))
    }

    #[get("none")]
    async fn none(&self) -> Result<(), HttpException> {
        Err(HttpException::not_found(()))
    }
}

#[module(controllers = [FilteredController])]
struct FilteredModule;

/// Nest asks the filter listed (or registered) last first, at each level: `@UseFilters(A, B)`
/// is answered by `B`; ours are asked in the same order (`nest-peer/filters.js`).
#[tokio::test]
async fn the_last_listed_filter_answers_first_as_in_nest() {
    let ours = serve_app::<FilteredModule>(|app| {
        app.use_global_filters(By("G1"))
            .use_global_filters(By("G2"));
    })
    .await;
    let expected = [("/both", "B"), ("/none", "C2"), ("/missing", "G2")];
    let answers = |addr: std::net::SocketAddr| async move {
        let mut out = Vec::new();
        for (path, _) in expected {
            let (status, _, body) = http_request(addr, "GET", path, &[], "").await;
            out.push((status, body));
        }
        out
    };
    let want: Vec<(u16, String)> = expected
        .iter()
        .map(|(_, by)| (418, format!(r#"{{"by":"{by}"}}"#)))
        .collect();
    assert_eq!(answers(ours).await, want);
    if !nest_available("the_last_listed_filter_answers_first_as_in_nest") {
        return;
    }
    let port = free_port();
    let _nest = spawn_node_ready(Nest::V11, "filters.js", &[&port.to_string()]).await;
    assert_eq!(answers(([127, 0, 0, 1], port).into()).await, want, "Nest");
}
