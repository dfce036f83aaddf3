//! The gateway edge over real HTTP: JWT and roles guards, metadata, rate limiting (memory and
//! Redis), interceptors, validation pipes, exception filters and request ids.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gateway_core::auth::{JwtGuard, RolesGuard};
use gateway_core::axum::http::StatusCode;
use gateway_core::axum::response::{IntoResponse, Response};
use gateway_core::http::{
    Decorator, LoggingInterceptor, MetaValue, Metadata, TimeoutInterceptor, TransformInterceptor,
    ValidationOptions,
};
use gateway_core::prelude::*;
use gateway_core::throttle::{RedisStorage, ThrottlerGuard};
use gateway_tests::*;
use jsonwebtoken::{EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use validator::Validate;

// ---------------------------------------------------------------------------------------
// Log capture: this binary's tracing output goes to a buffer the tests read.

static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct LogBuf;

impl Write for LogBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        tracing_subscriber::fmt()
            .with_env_filter("info,gateway::auth=debug")
            .with_ansi(false)
            .with_writer(|| LogBuf)
            .init();
    });
}

fn logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned()
}

// ---------------------------------------------------------------------------------------
// Helpers.

async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Vec<(String, String)>, Value) {
    let (status, head, body) = http_request(addr, method, path, headers, body).await;
    let body = serde_json::from_str(&body).unwrap_or(Value::String(body));
    (status, head, body)
}

// ---------------------------------------------------------------------------------------
// Auth: JWT (HS256 and RS256), roles, #[public], metadata read by an interceptor.

const SECRET: &[u8] = b"test-secret-of-at-least-32-bytes!!";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn token(claims: Value) -> String {
    jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(SECRET),
    )
    .unwrap()
}

fn claims(roles: &[&str]) -> Value {
    json!({ "sub": "user-7", "roles": roles, "aud": "gateway", "iss": "auth.test", "exp": now() + 60 })
}

/// `#[apply_decorators(AdminOnly)]`: a custom decorator bundling metadata.
struct AdminOnly;

impl Decorator for AdminOnly {
    const METADATA: &'static [Metadata] = &[Metadata::new(
        "roles",
        MetaValue::List(&[MetaValue::Str("admin")]),
    )];
}

/// Echoes the route's `feature` metadata as a response header.
#[injectable]
struct FeatureHeader;

impl NestInterceptor for FeatureHeader {
    async fn intercept(&self, ctx: &CallContext, next: Next) -> Response {
        let feature = ctx
            .reflector()
            .get_all_and_override("feature")
            .and_then(MetaValue::as_str);
        let mut response = next.handle().await;
        if let Some(feature) = feature {
            response
                .headers_mut()
                .insert("x-feature", feature.parse().unwrap());
        }
        response
    }
}

#[injectable]
struct AuthController {
    #[inject("AUDIT_SERVICE")]
    audit: ClientProxy,
}

#[controller("auth")]
#[set_metadata("feature", "stable")]
#[use_interceptors(FeatureHeader)]
impl AuthController {
    #[get("me")]
    async fn me(&self, #[user] claims: Value) -> Value {
        json!({ "sub": claims["sub"], "roles": claims["roles"] })
    }

    /// The verified claims travel downstream in the payload.
    #[post("orders")]
    async fn order(
        &self,
        #[user] claims: Value,
        #[body] order: Value,
    ) -> Result<Value, HttpException> {
        let payload =
            json!({ "order": order, "user": { "sub": claims["sub"], "roles": claims["roles"] } });
        Ok(self
            .audit
            .send(pattern!({ cmd: "audit" }), &payload)
            .await?)
    }

    #[get("health")]
    #[public]
    async fn health(&self) -> &'static str {
        "ok"
    }

    #[get("admin")]
    #[roles("admin")]
    async fn admin(&self) -> &'static str {
        "admin area"
    }

    #[get("ops")]
    #[apply_decorators(AdminOnly)]
    #[set_metadata("feature", "beta")]
    async fn ops(&self) -> &'static str {
        "ops area"
    }
}

#[module(
    imports = [ClientsModule::register([ClientOptions::tcp("AUDIT_SERVICE", audit_addr())])],
    controllers = [AuthController],
    providers = [FeatureHeader],
)]
struct AuthModule;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_roles_public_and_metadata() {
    capture_logs();
    start_audit_service().await;
    let app = serve_app::<AuthModule>(|app| {
        let jwt = JwtGuard::hs256(SECRET)
            .audience("gateway")
            .issuer("auth.test")
            .leeway_secs(10);
        app.use_global_guards(jwt)
            .use_global_guards(RolesGuard::<Value>::new());
    })
    .await;
    let unauthorized = json!({ "message": "Unauthorized", "statusCode": 401 });
    let get = |path: &'static str, token: Option<String>| async move {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        call(app, "GET", path, &headers, "").await
    };

    // No token, expired, wrong audience, wrong issuer, bad signature, not yet valid: 401.
    assert_eq!(get("/auth/me", None).await.2, unauthorized);
    let mut expired = claims(&["user"]);
    expired["exp"] = json!(now() - 120);
    let expired = token(expired);
    assert_eq!(get("/auth/me", Some(expired.clone())).await.2, unauthorized);
    let mut wrong_aud = claims(&["user"]);
    wrong_aud["aud"] = json!("billing");
    assert_eq!(
        get("/auth/me", Some(token(wrong_aud))).await.2,
        unauthorized
    );
    let mut wrong_iss = claims(&["user"]);
    wrong_iss["iss"] = json!("evil.example");
    assert_eq!(
        get("/auth/me", Some(token(wrong_iss))).await.2,
        unauthorized
    );
    let forged = jsonwebtoken::encode(
        &Header::default(),
        &claims(&["admin"]),
        &EncodingKey::from_secret(b"another-secret-another-secret-!!"),
    )
    .unwrap();
    assert_eq!(get("/auth/me", Some(forged)).await.2, unauthorized);
    let mut early = claims(&["user"]);
    early["nbf"] = json!(now() + 600);
    assert_eq!(get("/auth/me", Some(token(early))).await.2, unauthorized);
    assert_eq!(
        get("/auth/me", Some("not.a.jwt".into())).await.2,
        unauthorized
    );

    // Within the clock skew (10 s), an expired token still passes.
    let mut skewed = claims(&["user"]);
    skewed["exp"] = json!(now() - 3);
    assert_eq!(get("/auth/me", Some(token(skewed))).await.0, 200);

    // A valid token: the claims reach the handler as #[user].
    let user = token(claims(&["user"]));
    let (status, head, body) = get("/auth/me", Some(user.clone())).await;
    assert_eq!(
        (status, body),
        (200, json!({ "sub": "user-7", "roles": ["user"] }))
    );
    assert_eq!(
        header(&head, "x-feature"),
        Some("stable"),
        "controller metadata"
    );

    // The claims go downstream with the call.
    let bearer = format!("Bearer {user}");
    let auth = [
        ("Authorization", bearer.as_str()),
        ("Content-Type", "application/json"),
    ];
    let (status, _, body) = call(app, "POST", "/auth/orders", &auth, r#"{"item":"book"}"#).await;
    assert_eq!(
        (status, body),
        (
            201,
            json!({ "order": { "item": "book" }, "user": { "sub": "user-7", "roles": ["user"] } })
        )
    );

    // #[public]: no token needed.
    assert_eq!(get("/auth/health", None).await.2, json!("ok"));

    // Roles: #[roles("admin")] and a custom decorator that sets the same.
    let forbidden =
        json!({ "message": "Forbidden resource", "error": "Forbidden", "statusCode": 403 });
    assert_eq!(get("/auth/admin", Some(user.clone())).await.2, forbidden);
    assert_eq!(get("/auth/ops", Some(user.clone())).await.2, forbidden);
    let admin = token(claims(&["user", "admin"]));
    assert_eq!(
        get("/auth/admin", Some(admin.clone())).await.2,
        json!("admin area")
    );
    let (status, head, _) = get("/auth/ops", Some(admin)).await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&head, "x-feature"),
        Some("beta"),
        "the route's metadata wins"
    );

    // Refusals are logged with their reason, never with the token.
    let logs = logs();
    assert!(
        logs.contains("token refused") && logs.contains("expired"),
        "{logs}"
    );
    assert!(
        !logs.contains(&expired) && !logs.contains(&user),
        "a token reached the logs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rs256_tokens_are_checked_with_the_public_key() {
    start_audit_service().await;
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let private = std::fs::read(fixtures.join("jwt-test-private.pem")).unwrap();
    let public = std::fs::read(fixtures.join("jwt-test-public.pem")).unwrap();
    let app = serve_app::<AuthModule>(|app| {
        app.use_global_guards(JwtGuard::rs256_pem(&public).unwrap().audience("gateway"));
    })
    .await;
    let rs = jsonwebtoken::encode(
        &Header::new(jsonwebtoken::Algorithm::RS256),
        &claims(&["user"]),
        &EncodingKey::from_rsa_pem(&private).unwrap(),
    )
    .unwrap();
    let bearer = format!("Bearer {rs}");
    let (status, _, body) = call(app, "GET", "/auth/me", &[("Authorization", &bearer)], "").await;
    assert_eq!((status, body["sub"].clone()), (200, json!("user-7")));
    // An HS256 token signed with the public key's bytes (the classic confusion) is refused.
    let confused = jsonwebtoken::encode(
        &Header::default(),
        &claims(&["user"]),
        &EncodingKey::from_secret(&public),
    )
    .unwrap();
    let bearer = format!("Bearer {confused}");
    assert_eq!(
        call(app, "GET", "/auth/me", &[("Authorization", &bearer)], "")
            .await
            .0,
        401
    );
}

// ---------------------------------------------------------------------------------------
// Rate limiting.

#[injectable]
struct LimitedController;

#[controller("rl")]
impl LimitedController {
    #[get("limited")]
    #[throttle(limit = 3, ttl = "2s")]
    async fn limited(&self) -> &'static str {
        "ok"
    }

    #[get("default")]
    async fn default_limit(&self) -> &'static str {
        "ok"
    }

    #[get("free")]
    #[skip_throttle]
    async fn free(&self) -> &'static str {
        "ok"
    }
}

#[module(controllers = [LimitedController])]
struct LimitedModule;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_answers_nest_headers_and_429() {
    let app = serve_app::<LimitedModule>(|app| {
        app.use_global_guards(ThrottlerGuard::new(100, Duration::from_secs(60)));
    })
    .await;
    for remaining in ["2", "1", "0"] {
        let (status, head, _) = call(app, "GET", "/rl/limited", &[], "").await;
        assert_eq!(status, 200);
        assert_eq!(header(&head, "x-ratelimit-limit"), Some("3"));
        assert_eq!(header(&head, "x-ratelimit-remaining"), Some(remaining));
        let reset: u64 = header(&head, "x-ratelimit-reset").unwrap().parse().unwrap();
        assert!((1..=2).contains(&reset), "reset {reset}");
    }
    let (status, head, body) = call(app, "GET", "/rl/limited", &[], "").await;
    assert_eq!(
        (status, body),
        (
            429,
            json!({ "statusCode": 429, "message": "ThrottlerException: Too Many Requests" })
        )
    );
    assert_eq!(header(&head, "retry-after"), Some("2"));
    // Other routes have their own budget (the global one) ...
    let (_, head, _) = call(app, "GET", "/rl/default", &[], "").await;
    assert_eq!(header(&head, "x-ratelimit-limit"), Some("100"));
    // ... and #[skip_throttle] routes none.
    for _ in 0..5 {
        let (status, head, _) = call(app, "GET", "/rl/free", &[], "").await;
        assert_eq!(status, 200);
        assert_eq!(header(&head, "x-ratelimit-limit"), None);
    }
    // After the block, the route answers again.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(call(app, "GET", "/rl/limited", &[], "").await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_by_a_custom_key() {
    let app = serve_app::<LimitedModule>(|app| {
        app.use_global_guards(
            ThrottlerGuard::new(2, Duration::from_secs(30)).tracker(|ctx| {
                ctx.headers()
                    .get("x-api-key")
                    .and_then(|k| k.to_str().ok())
                    .map(str::to_owned)
            }),
        );
    })
    .await;
    let key_a = [("x-api-key", "A")];
    let key_b = [("x-api-key", "B")];
    assert_eq!(call(app, "GET", "/rl/default", &key_a, "").await.0, 200);
    assert_eq!(call(app, "GET", "/rl/default", &key_a, "").await.0, 200);
    assert_eq!(call(app, "GET", "/rl/default", &key_a, "").await.0, 429);
    assert_eq!(
        call(app, "GET", "/rl/default", &key_b, "").await.0,
        200,
        "another key, another budget"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_share_one_budget_on_redis() {
    require_redis!("two_gateways_share_one_budget_on_redis");
    let prefix = format!("throttler-test-{}-{}:", std::process::id(), now());
    let url = format!("redis://{REDIS_ADDR}");
    let guard = || {
        ThrottlerGuard::new(4, Duration::from_secs(20))
            .storage(RedisStorage::new(&url).unwrap().prefix(prefix.clone()))
    };
    let (first, second) = (guard(), guard());
    let one = serve_app::<LimitedModule>(|app| {
        app.use_global_guards(first);
    })
    .await;
    let two = serve_app::<LimitedModule>(|app| {
        app.use_global_guards(second);
    })
    .await;
    // Four hits alternate between the instances and share one count.
    for (i, app) in [one, two, one, two].into_iter().enumerate() {
        let (status, head, _) = call(app, "GET", "/rl/default", &[], "").await;
        assert_eq!(status, 200);
        assert_eq!(
            header(&head, "x-ratelimit-remaining"),
            Some((3 - i).to_string().as_str())
        );
    }
    let (status, head, body) = call(one, "GET", "/rl/default", &[], "").await;
    assert_eq!((status, body["statusCode"].clone()), (429, json!(429)));
    assert!(header(&head, "retry-after").is_some());
    assert_eq!(
        call(two, "GET", "/rl/default", &[], "").await.0,
        429,
        "blocked on both"
    );

    // Concurrent hits from both instances never let more than the limit through (the
    // script is atomic): a fresh route budget via a fresh prefix.
    let prefix = format!("throttler-race-{}-{}:", std::process::id(), now());
    let (a, b) = (
        ThrottlerGuard::new(10, Duration::from_secs(20))
            .storage(RedisStorage::new(&url).unwrap().prefix(prefix.clone())),
        ThrottlerGuard::new(10, Duration::from_secs(20))
            .storage(RedisStorage::new(&url).unwrap().prefix(prefix.clone())),
    );
    let one = serve_app::<LimitedModule>(|app| {
        app.use_global_guards(a);
    })
    .await;
    let two = serve_app::<LimitedModule>(|app| {
        app.use_global_guards(b);
    })
    .await;
    let hits = (0..30).map(|i| {
        let app = if i % 2 == 0 { one } else { two };
        tokio::spawn(async move { call(app, "GET", "/rl/default", &[], "").await.0 })
    });
    let mut ok = 0;
    for hit in hits {
        if hit.await.unwrap() == 200 {
            ok += 1;
        }
    }
    assert_eq!(ok, 10, "exactly the limit got through");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_lets_requests_through() {
    // Nothing listens on this port: the storage fails and the guard fails open, logged.
    let port = free_port();
    let storage = RedisStorage::new(&format!("redis://127.0.0.1:{port}")).unwrap();
    let app = serve_app::<LimitedModule>(|app| {
        app.use_global_guards(ThrottlerGuard::new(1, Duration::from_secs(20)).storage(storage));
    })
    .await;
    let started = Instant::now();
    for _ in 0..3 {
        assert_eq!(call(app, "GET", "/rl/default", &[], "").await.0, 200);
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "no hang on a dead Redis"
    );
}

// ---------------------------------------------------------------------------------------
// Interceptors, pipes, filters, request ids.

#[derive(Debug, Deserialize, Serialize, Validate)]
struct CreateUserDto {
    #[validate(email)]
    email: String,
    #[validate(length(min = 1))]
    name: String,
    #[validate(range(min = 18, max = 130))]
    age: u32,
}

#[derive(Debug, Deserialize, Validate)]
struct SearchQuery {
    #[validate(length(min = 2, max = 20))]
    q: String,
}

/// Answers failed downstream calls with its own body; passes everything else on.
#[injectable]
struct DownstreamFilter;

impl ExceptionFilter for DownstreamFilter {
    async fn catch(
        &self,
        e: HttpException,
        host: &ArgumentsHost,
    ) -> Result<Response, HttpException> {
        let Some(error) = e.rpc_error() else {
            return Err(e);
        };
        let body = json!({
            "error": "downstream",
            "service": error.service(),
            "path": host.uri().path(),
            "route": host.route().map(|r| r.path),
        });
        Ok((StatusCode::BAD_GATEWAY, gateway_core::axum::Json(body)).into_response())
    }
}

/// Catches panics only.
#[injectable]
struct PanicFilter;

impl ExceptionFilter for PanicFilter {
    async fn catch(&self, e: HttpException, _: &ArgumentsHost) -> Result<Response, HttpException> {
        match e.panic_message() {
            Some(message) => Ok((
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("caught: {message}"),
            )
                .into_response()),
            None => Err(e),
        }
    }
}

/// The global filter: rewrites unknown routes' 404.
struct NotFoundFilter;

impl ExceptionFilter for NotFoundFilter {
    async fn catch(
        &self,
        e: HttpException,
        host: &ArgumentsHost,
    ) -> Result<Response, HttpException> {
        if e.status() != 404 || host.route().is_some() {
            return Err(e);
        }
        Ok((
            StatusCode::NOT_FOUND,
            gateway_core::axum::Json(json!({ "missing": host.uri().path() })),
        )
            .into_response())
    }
}

/// Adds `x-global: yes` to every routed response.
struct GlobalMark;

impl NestInterceptor for GlobalMark {
    async fn intercept(&self, _: &CallContext, next: Next) -> Response {
        let mut response = next.handle().await;
        response
            .headers_mut()
            .insert("x-global", "yes".parse().unwrap());
        response
    }
}

#[injectable]
struct PipelineController {
    #[inject("AUDIT_SERVICE")]
    audit: ClientProxy,
    #[inject("DEAD_SERVICE")]
    dead: ClientProxy,
}

#[controller("p")]
#[use_filters(PanicFilter)]
impl PipelineController {
    #[get("slow")]
    #[use_interceptors(TimeoutInterceptor::new(Duration::from_millis(200)))]
    async fn slow(&self) -> &'static str {
        tokio::time::sleep(Duration::from_secs(5)).await;
        "late"
    }

    #[get("fast")]
    async fn fast(&self) -> &'static str {
        "fast"
    }

    #[get("wrapped")]
    #[use_interceptors(TransformInterceptor::new())]
    async fn wrapped(&self) -> Value {
        json!({ "a": 1 })
    }

    #[post("users")]
    async fn create_user(&self, #[body] dto: Valid<CreateUserDto>) -> Value {
        json!({ "created": dto.email })
    }

    #[get("search")]
    async fn search(&self, #[query] query: Valid<SearchQuery>) -> Value {
        json!({ "q": query.into_inner().q })
    }

    #[get("downstream")]
    #[use_filters(DownstreamFilter)]
    async fn downstream(&self) -> Result<Value, HttpException> {
        Ok(self
            .dead
            .send(pattern!({ cmd: "anything" }), &json!({}))
            .await?)
    }

    #[get("downstream-plain")]
    async fn downstream_plain(&self) -> Result<Value, HttpException> {
        Ok(self
            .dead
            .send(pattern!({ cmd: "anything" }), &json!({}))
            .await?)
    }

    #[get("boom")]
    async fn boom(&self) -> &'static str {
        panic!("kaboom")
    }

    #[get("forbidden")]
    async fn forbidden(&self) -> Result<(), HttpException> {
        Err(HttpException::forbidden(()))
    }

    #[get("audit")]
    async fn audit(&self, id: RequestId) -> Result<Value, HttpException> {
        Ok(self
            .audit
            .send(
                pattern!({ cmd: "audit" }),
                &json!({ "action": "read", "requestId": id }),
            )
            .await?)
    }
}

thread_local! {
    // Each test boots its app on its own thread, after starting its own audit service.
    static AUDIT_ADDR: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}
static AUDITED: Mutex<Vec<Value>> = Mutex::new(Vec::new());

fn audit_addr() -> String {
    AUDIT_ADDR.with(|a| a.borrow().clone())
}

#[module(
    imports = [ClientsModule::register([
        ClientOptions::tcp("AUDIT_SERVICE", audit_addr()),
        ClientOptions::tcp("DEAD_SERVICE", format!("127.0.0.1:{}", free_port())).timeout(Duration::from_secs(2)),
    ])],
    controllers = [PipelineController],
    providers = [PanicFilter, DownstreamFilter],
)]
struct PipelineModule;

/// A microservice recording the payloads it receives, for this test's apps.
async fn start_audit_service() {
    let router =
        MessageRouter::new().message(pattern!({ cmd: "audit" }), |payload: Value| async move {
            AUDITED.lock().unwrap().push(payload.clone());
            Ok::<_, RpcException>(payload)
        });
    let server = TcpServer::bind("127.0.0.1:0", router).await.unwrap();
    AUDIT_ADDR.with(|a| *a.borrow_mut() = server.local_addr().to_string());
    tokio::spawn(server.serve());
}

async fn pipeline_app() -> SocketAddr {
    capture_logs();
    start_audit_service().await;
    serve_app::<PipelineModule>(|app| {
        app.enable_request_id()
            .use_global_interceptors(LoggingInterceptor::new())
            .use_global_interceptors(GlobalMark)
            .use_global_filters(NotFoundFilter)
            .use_validation(ValidationOptions {
                forbid_unknown: true,
            });
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_and_transform_interceptors() {
    let app = pipeline_app().await;
    let started = Instant::now();
    let slow = tokio::spawn(async move { call(app, "GET", "/p/slow", &[], "").await });
    // Other routes keep answering while the slow one waits.
    for _ in 0..5 {
        assert_eq!(call(app, "GET", "/p/fast", &[], "").await.2, json!("fast"));
    }
    let (status, head, body) = slow.await.unwrap();
    assert_eq!(
        (status, body),
        (
            504,
            json!({ "message": "Gateway Timeout", "statusCode": 504 })
        )
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the timeout did not cut the route short"
    );
    assert_eq!(
        header(&head, "x-global"),
        Some("yes"),
        "global interceptors wrap route ones"
    );

    assert_eq!(
        call(app, "GET", "/p/wrapped", &[], "").await.2,
        json!({ "data": { "a": 1 } })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_pipes_answer_nest_messages() {
    let app = pipeline_app().await;
    let json_type = [("Content-Type", "application/json")];
    let (status, _, body) = call(
        app,
        "POST",
        "/p/users",
        &json_type,
        r#"{"email":"not-an-email","name":"","age":7,"isAdmin":true}"#,
    )
    .await;
    assert_eq!(
        (status, body),
        (
            400,
            json!({
                "message": [
                    "property isAdmin should not exist",
                    "age must not be less than 18",
                    "email must be an email",
                    "name should not be empty",
                ],
                "error": "Bad Request",
                "statusCode": 400,
            })
        )
    );
    let (status, _, body) = call(
        app,
        "POST",
        "/p/users",
        &json_type,
        r#"{"email":"ada@example.com","name":"Ada","age":36}"#,
    )
    .await;
    assert_eq!(
        (status, body),
        (201, json!({ "created": "ada@example.com" }))
    );
    // A body of the wrong type is still the deserializer's 400.
    let (status, _, body) = call(app, "POST", "/p/users", &json_type, r#"{"email":5}"#).await;
    assert_eq!((status, body["error"].clone()), (400, json!("Bad Request")));

    // Query DTOs too.
    let (status, _, body) = call(app, "GET", "/p/search?q=x", &[], "").await;
    assert_eq!(
        (status, body["message"].clone()),
        (
            400,
            json!(["q must be longer than or equal to 2 characters"])
        )
    );
    assert_eq!(
        call(app, "GET", "/p/search?q=rust", &[], "").await.2,
        json!({ "q": "rust" })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exception_filters_route_controller_and_global() {
    let app = pipeline_app().await;
    // A route filter catching downstream failures.
    let (status, _, body) = call(app, "GET", "/p/downstream", &[], "").await;
    assert_eq!(
        (status, body),
        (
            502,
            json!({ "error": "downstream", "service": "DEAD_SERVICE", "path": "/p/downstream", "route": "/p/downstream" })
        )
    );
    // Without it, the default answer (Nest's body).
    let (status, _, body) = call(app, "GET", "/p/downstream-plain", &[], "").await;
    assert_eq!(
        (status, body),
        (
            503,
            json!({ "message": "DEAD_SERVICE is unavailable", "error": "Service Unavailable", "statusCode": 503 })
        )
    );
    // The controller's filter catches panics ...
    let (status, _, body) = call(app, "GET", "/p/boom", &[], "").await;
    assert_eq!((status, body), (500, json!("caught: kaboom")));
    // ... and passes other exceptions on to Nest's default filter.
    let (status, _, body) = call(app, "GET", "/p/forbidden", &[], "").await;
    assert_eq!(
        (status, body),
        (403, json!({ "message": "Forbidden", "statusCode": 403 }))
    );
    // The global filter sees unknown routes.
    let (status, _, body) = call(app, "GET", "/p/nowhere", &[], "").await;
    assert_eq!((status, body), (404, json!({ "missing": "/p/nowhere" })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_reach_the_response_the_logs_and_the_service() {
    let app = pipeline_app().await;
    // A caller's id is kept.
    let (status, head, body) = call(
        app,
        "GET",
        "/p/audit",
        &[("x-request-id", "req-abc-123")],
        "",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(header(&head, "x-request-id"), Some("req-abc-123"));
    assert_eq!(
        body,
        json!({ "action": "read", "requestId": "req-abc-123" })
    );
    assert!(
        AUDITED
            .lock()
            .unwrap()
            .iter()
            .any(|p| p["requestId"] == "req-abc-123"),
        "the service received it"
    );

    // Without one, the gateway makes one, unique per request.
    let (_, head, body) = call(app, "GET", "/p/audit", &[], "").await;
    let made = header(&head, "x-request-id")
        .expect("an id is made")
        .to_owned();
    assert_eq!(body["requestId"], json!(made));
    let (_, head, _) = call(app, "GET", "/p/fast", &[], "").await;
    assert_ne!(header(&head, "x-request-id"), Some(made.as_str()));

    // The logging interceptor logged method, path, status and the id.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let logs = logs();
    let line = logs
        .lines()
        .find(|l| l.contains("req-abc-123"))
        .unwrap_or_else(|| panic!("no log line with the request id in:\n{logs}"));
    assert!(
        line.contains("GET") && line.contains("/p/audit") && line.contains("200"),
        "{line}"
    );
}
