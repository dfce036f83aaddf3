//! Caching as Nest's `@nestjs/cache-manager` does it: `CacheInterceptor` answering routes from
//! the cache (checked request by request against Nest's own, `nest-peer/cached.js`), the cache
//! used from handlers, message handlers with a `#[cache_key]`, and the Redis store shared by
//! two gateways (and skipped, not failing, while Redis is down).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gateway_core::cache::{Cache, CacheInterceptor, CacheModule, RedisStore};
use gateway_core::prelude::*;
use gateway_tests::*;
use serde_json::{json, Value};

/// Counts the handlers' calls, so a cached answer shows the count of the call that made it.
#[derive(Clone, Default)]
struct Calls(Arc<AtomicU64>);

impl Calls {
    fn count(&self) -> u64 {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }
}

#[injectable]
struct CachedController {
    calls: Calls,
}

#[controller("c")]
#[use_interceptors(CacheInterceptor)]
impl CachedController {
    #[get("list")]
    async fn list(&self) -> Value {
        json!({ "calls": self.calls.count() })
    }

    #[post("list")]
    async fn create(&self) -> Value {
        json!({ "calls": self.calls.count() })
    }

    #[get("text")]
    async fn text(&self) -> String {
        format!("text {}", self.calls.count())
    }

    #[get("keyed")]
    #[cache_key("keyed")]
    async fn keyed(&self) -> Value {
        json!({ "calls": self.calls.count() })
    }

    #[get("short")]
    #[cache_ttl(200)]
    async fn short(&self) -> Value {
        json!({ "calls": self.calls.count() })
    }

    #[get("missing")]
    async fn missing(&self) -> Result<Value, HttpException> {
        self.calls.count();
        Err(HttpException::not_found("User not found"))
    }

    #[get("nothing")]
    async fn nothing(&self) {
        self.calls.count();
    }
}

#[module(
    imports = [CacheModule::register()],
    controllers = [CachedController],
    providers = [Provider::typed(Calls::default())],
)]
struct CachedModule;

/// The requests both apps get, in order (`None`: wait 300 ms, past `short`'s TTL).
const SEQUENCE: [Option<(&str, &str)>; 18] = [
    Some(("GET", "/c/list")),
    Some(("GET", "/c/list")),
    Some(("GET", "/c/list?page=2")),
    Some(("GET", "/c/list?page=2")),
    Some(("POST", "/c/list")),
    Some(("POST", "/c/list")),
    Some(("GET", "/c/text")),
    Some(("GET", "/c/text")),
    Some(("GET", "/c/keyed")),
    Some(("GET", "/c/keyed")),
    Some(("GET", "/c/short")),
    Some(("GET", "/c/short")),
    None,
    Some(("GET", "/c/short")),
    Some(("GET", "/c/missing")),
    Some(("GET", "/c/missing")),
    Some(("GET", "/c/nothing")),
    Some(("GET", "/c/nothing")),
];

type Seen = (u16, Option<String>, Option<String>, String);

/// Each answer of the sequence: status, `X-Cache`, content type, body.
async fn run_sequence(app: SocketAddr) -> Vec<Seen> {
    let mut seen = Vec::new();
    for step in SEQUENCE {
        let Some((method, path)) = step else {
            tokio::time::sleep(Duration::from_millis(300)).await;
            continue;
        };
        let (status, head, body) = http_request(app, method, path, &[], "").await;
        let get = |name| header(&head, name).map(str::to_owned);
        seen.push((status, get("x-cache"), get("content-type"), body));
    }
    seen
}

#[tokio::test]
async fn the_cache_interceptor_answers_as_nests_does() {
    let ours = run_sequence(serve_app::<CachedModule>(|_| {}).await).await;
    let json = || Some("application/json; charset=utf-8".to_owned());
    let (hit, miss) = (|| Some("HIT".to_owned()), || Some("MISS".to_owned()));
    let not_found = r#"{"message":"User not found","error":"Not Found","statusCode":404}"#;
    let expected: Vec<Seen> = vec![
        (200, miss(), json(), r#"{"calls":1}"#.into()),
        (200, hit(), json(), r#"{"calls":1}"#.into()),
        (200, miss(), json(), r#"{"calls":2}"#.into()),
        (200, hit(), json(), r#"{"calls":2}"#.into()),
        (201, None, json(), r#"{"calls":3}"#.into()),
        (201, None, json(), r#"{"calls":4}"#.into()),
        (
            200,
            miss(),
            Some("text/html; charset=utf-8".into()),
            "text 5".into(),
        ),
        (
            200,
            hit(),
            Some("text/html; charset=utf-8".into()),
            "text 5".into(),
        ),
        (200, miss(), json(), r#"{"calls":6}"#.into()),
        (200, hit(), json(), r#"{"calls":6}"#.into()),
        (200, miss(), json(), r#"{"calls":7}"#.into()),
        (200, hit(), json(), r#"{"calls":7}"#.into()),
        (200, miss(), json(), r#"{"calls":8}"#.into()),
        (404, miss(), json(), not_found.into()),
        (404, miss(), json(), not_found.into()),
        (200, miss(), None, String::new()),
        (200, miss(), None, String::new()),
    ];
    assert_eq!(ours, expected);
    if !nest_available("the_cache_interceptor_answers_as_nests_does") {
        return;
    }
    for version in Nest::ALL {
        let port = free_port();
        let _nest = spawn_node_ready(version, "cached.js", &[&port.to_string()]).await;
        let nest = run_sequence(([127, 0, 0, 1], port).into()).await;
        assert_eq!(nest, expected, "Nest {version:?}");
    }
}

// --- the cache from handlers, and on message handlers ---

#[injectable]
struct ProfileController {
    cache: Cache,
    #[inject("CACHE_MANAGER")]
    manager: Cache,
    calls: Calls,
}

#[controller]
impl ProfileController {
    #[get("profile/:id")]
    async fn profile(&self, #[param] id: String) -> Result<Value, HttpException> {
        let key = format!("profile:{id}");
        if let Some(cached) = self
            .cache
            .get::<Value>(&key)
            .await
            .map_err(|_| HttpException::internal())?
        {
            return Ok(cached);
        }
        let fresh = json!({ "id": id, "calls": self.calls.count() });
        self.manager
            .set_with_ttl(&key, &fresh, Duration::from_millis(150))
            .await
            .map_err(|_| HttpException::internal())?;
        Ok(fresh)
    }

    #[message_pattern({ cmd: "stats" })]
    #[use_interceptors(CacheInterceptor)]
    #[cache_key("stats")]
    async fn stats(&self) -> Value {
        json!({ "calls": self.calls.count() })
    }

    #[message_pattern({ cmd: "uncached" })]
    #[use_interceptors(CacheInterceptor)]
    async fn uncached(&self) -> Value {
        json!({ "calls": self.calls.count() })
    }
}

#[module(
    imports = [CacheModule::register().ttl(Duration::from_secs(60))],
    controllers = [ProfileController],
    providers = [Provider::typed(Calls::default())],
)]
struct ProfileModule;

#[tokio::test]
async fn handlers_use_the_cache_and_message_handlers_cache_by_key() {
    let app = serve_app::<ProfileModule>(|_| {}).await;
    let get = |path: &'static str| async move {
        let (status, _, body) = http_request(app, "GET", path, &[], "").await;
        (status, serde_json::from_str::<Value>(&body).unwrap())
    };
    assert_eq!(
        get("/profile/7").await,
        (200, json!({ "id": "7", "calls": 1 }))
    );
    assert_eq!(get("/profile/7").await.1["calls"], 1, "from the cache");
    assert_eq!(get("/profile/8").await.1["calls"], 2);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        get("/profile/7").await.1["calls"],
        3,
        "expired after its own TTL"
    );

    let addr = serve_microservice::<ProfileModule>().await;
    let client = ClientProxy::new(ClientOptions::tcp("PROFILE", addr.to_string()));
    let first: Value = client.send(json!({ "cmd": "stats" }), &()).await.unwrap();
    let second: Value = client.send(json!({ "cmd": "stats" }), &()).await.unwrap();
    assert_eq!(
        first, second,
        "a #[cache_key] handler answers from the cache"
    );
    let a: Value = client
        .send(json!({ "cmd": "uncached" }), &())
        .await
        .unwrap();
    let b: Value = client
        .send(json!({ "cmd": "uncached" }), &())
        .await
        .unwrap();
    assert_ne!(a, b, "without a key, a message handler is not cached");
}

// --- Redis: one cache for several gateways ---

fn redis_cache(prefix: &str, url: &str) -> CacheModule {
    CacheModule::register().store(RedisStore::new(url).unwrap().prefix(prefix))
}

#[injectable]
struct SharedController {
    calls: Calls,
}

#[controller("s")]
#[use_interceptors(CacheInterceptor)]
impl SharedController {
    #[get("list")]
    async fn list(&self) -> Value {
        json!({ "calls": self.calls.count() })
    }
}

/// One gateway of [`the_redis_store_is_shared_by_gateways`], on the store `cache`.
async fn shared_gateway(cache: CacheModule) -> SocketAddr {
    let module = gateway_core::testing::Test::create_testing_module_with(|m| {
        m.import(cache);
        m.controller::<SharedController>();
        m.provide(Provider::typed(Calls::default()));
    })
    .compile()
    .await
    .unwrap();
    let app = module.create_nest_application();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(app.serve(listener, std::future::pending()));
    addr
}

#[tokio::test]
async fn the_redis_store_is_shared_by_gateways() {
    require_redis!("the_redis_store_is_shared_by_gateways");
    let prefix = format!(
        "cache-test-{}-{:?}:",
        std::process::id(),
        std::time::Instant::now()
    );
    let url = format!("redis://{REDIS_ADDR}");
    let one = shared_gateway(redis_cache(&prefix, &url)).await;
    let two = shared_gateway(redis_cache(&prefix, &url)).await;
    let get = |app: SocketAddr| async move {
        let (status, head, body) = http_request(app, "GET", "/s/list", &[], "").await;
        (status, header(&head, "x-cache").map(str::to_owned), body)
    };
    assert_eq!(
        get(one).await,
        (200, Some("MISS".into()), r#"{"calls":1}"#.into())
    );
    // The second gateway's handler never ran: it answers what the first cached.
    assert_eq!(
        get(two).await,
        (200, Some("HIT".into()), r#"{"calls":1}"#.into())
    );

    // Cleared through either, the entry is gone for both.
    let store = RedisStore::new(&url).unwrap().prefix(prefix.clone());
    Cache::new(store, None).clear().await.unwrap();
    assert_eq!(
        get(two).await,
        (200, Some("MISS".into()), r#"{"calls":1}"#.into())
    );
    assert_eq!(get(one).await.1.as_deref(), Some("HIT"));

    // A Redis that is down: the handler answers, quickly, uncached.
    let dead = format!("redis://127.0.0.1:{}", free_port());
    let down = shared_gateway(redis_cache(&prefix, &dead)).await;
    let started = std::time::Instant::now();
    for calls in 1..=2 {
        let (status, cache, body) = get(down).await;
        assert_eq!((status, cache), (200, None));
        assert_eq!(body, format!(r#"{{"calls":{calls}}}"#));
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}
