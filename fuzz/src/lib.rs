//! The fuzz targets' checks: each takes any bytes and panics if what must hold does not.
//! `fuzz_targets/` feeds them libFuzzer's inputs (`cargo fuzz run <target>`), and
//! `tests/corpus.rs` replays the committed corpus through them on stable Rust.
//!
//! | target | what it exercises |
//! | --- | --- |
//! | `frames` | Nest's TCP framing, split into reads of every size |
//! | `packet` | a packet a server receives: parsed, routed, answered |
//! | `pattern` | message pattern normalization (Nest's `transformPatternToRoute`) |
//! | `path` | the HTTP router: paths, parameters, prefix, versions, methods |
//! | `body` | `#[body]` JSON and form bodies, and their Nest-worded 400s |

use std::cell::RefCell;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, Uri};
use gateway_core::prelude::*;
use serde::Deserialize;
use serde_json::Value;
use tower_service::Service;

pub use gateway_core::__fuzz::{body, frames, packet, pattern};

#[injectable]
struct FuzzController;

#[derive(Debug, Deserialize)]
struct Search {
    q: Option<String>,
    page: Option<u32>,
}

#[controller("users")]
impl FuzzController {
    #[get(":id")]
    async fn user(&self, #[param] id: String) -> String {
        id
    }

    #[get(":id/orders/:order")]
    async fn order(&self, #[param] id: u64, #[param] order: String) -> String {
        format!("{id}/{order}")
    }

    #[get("search")]
    async fn search(&self, #[query] search: Search) -> String {
        format!("{:?} {:?}", search.q, search.page)
    }

    #[post]
    async fn create(&self, #[body] body: Value) -> Value {
        body
    }

    #[get("files/:bucket/*path")]
    async fn file(&self, #[param] bucket: String, #[param] path: String) -> String {
        format!("{bucket}:{path}")
    }

    #[get("opt{/:n}")]
    async fn optional(&self, #[param] n: Option<u64>) -> String {
        format!("{n:?}")
    }

    #[delete(":id")]
    #[version("2")]
    async fn remove(&self, #[param] id: String) -> String {
        id
    }
}

#[injectable]
struct HealthController;

#[controller("health")]
impl HealthController {
    #[get]
    async fn health(&self) -> &'static str {
        "ok"
    }
}

#[module(controllers = [FuzzController, HealthController])]
struct FuzzModule;

thread_local! {
    static SERVING: (tokio::runtime::Runtime, RefCell<axum::Router>) = {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a runtime");
        let router = runtime.block_on(async {
            let mut app = gateway_core::app::NestFactory::create::<FuzzModule>()
                .await
                .expect("the app boots");
            app.set_global_prefix_with(
                "api",
                gateway_core::app::GlobalPrefixOptions::exclude(["health"]),
            );
            app.enable_versioning(gateway_core::http::VersioningOptions::uri());
            app.into_router()
        });
        (runtime, RefCell::new(router))
    };
}

/// The HTTP router: the first byte picks the method, the bytes up to a newline are the path
/// and query, the rest a JSON body. Whatever they are, the answer is not a 5xx, and a 4xx is
/// Nest's JSON with its status.
pub fn path(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let method = [
        Method::GET,
        Method::POST,
        Method::DELETE,
        Method::HEAD,
        Method::PUT,
    ][usize::from(first) % 5]
        .clone();
    let (target, body) = match rest.iter().position(|b| *b == b'\n') {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &[][..]),
    };
    let mut uri = b"/".to_vec();
    uri.extend_from_slice(target);
    let Ok(uri) = Uri::try_from(uri) else {
        return; // hyper refuses it before any route sees it
    };
    let request = Request::builder()
        .method(method.clone())
        .uri(uri.clone())
        .header("content-type", "application/json")
        .body(Body::from(body.to_vec()))
        .expect("a request");
    SERVING.with(|(runtime, router)| {
        let mut router = router.borrow().clone();
        runtime.block_on(async move {
            let response = tokio::time::timeout(Duration::from_secs(5), router.call(request))
                .await
                .expect("answered in time")
                .expect("infallible");
            let status = response.status();
            assert!(!status.is_server_error(), "{method} {uri}: {status}");
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("the body");
            if status.is_client_error() && method != Method::HEAD {
                let json: Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                    panic!(
                        "{method} {uri}: {status} {}",
                        String::from_utf8_lossy(&bytes)
                    )
                });
                assert_eq!(
                    json["statusCode"],
                    status.as_u16(),
                    "{method} {uri}: {json}"
                );
                assert!(json["message"].is_string() || json["message"].is_array());
            }
            if status == StatusCode::OK && method == Method::GET {
                assert!(uri.path().starts_with("/api/") || uri.path().starts_with("/health"));
            }
        });
    });
}
