use axum::http::HeaderMap;
use gateway_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Deserialize, Serialize)]
struct Dto {
    name: String,
}

#[derive(Deserialize)]
struct Paging {
    limit: Option<u32>,
}

struct Everything;

#[controller("v1/")]
impl Everything {
    #[get]
    async fn root(&self) {}

    #[get("items/:id")]
    async fn one(&self, #[param] id: u64, #[param("id")] raw: String) -> Result<Dto, HttpException> {
        Ok(Dto { name: format!("{id}{raw}") })
    }

    #[post("items")]
    async fn create(&self, #[body] dto: Dto, #[query] paging: Paging, #[header("x-id")] id: Option<String>) -> Dto {
        let _ = (paging.limit, id);
        dto
    }

    #[put("items/:id")]
    #[http_code(202)]
    async fn replace(&self, #[param] id: String, #[headers] headers: HeaderMap, #[req] parts: axum::http::request::Parts) -> String {
        format!("{id}{}{}", headers.len(), parts.uri)
    }

    #[patch("items/:id")]
    async fn update(&self, #[param] id: bool, uri: axum::http::Uri) -> impl axum::response::IntoResponse {
        format!("{id}{uri}")
    }

    #[all("proxy/*rest")]
    async fn proxy(&self, #[param] rest: String) -> String {
        rest
    }

    #[head("items")]
    async fn probe(&self) {}

    #[get("old")]
    #[redirect("/v1/items", 301)]
    async fn old(&self) -> Option<HttpRedirect> {
        None
    }

    #[sse("items/events")]
    async fn events(&self) -> impl futures_core::Stream<Item = MessageEvent> + Send + 'static {
        futures_util::stream::iter([MessageEvent::new("x")])
    }

    #[options("items")]
    async fn describe(&self) -> &'static str {
        "GET, POST"
    }

    #[delete("items/:id")]
    #[http_code(204)]
    async fn remove(&self, #[param] id: i64) -> Result<(), RpcError> {
        let _ = id;
        Ok(())
    }
}

fn main() {
    let routes = Everything::META.routes;
    assert_eq!(routes.len(), 11);
    assert_eq!((routes[5].method, routes[5].path), ("ALL", "/v1/proxy/*rest"));
    assert_eq!(routes[6].method, "HEAD");
    assert_eq!((routes[8].method, routes[8].path), ("GET", "/v1/items/events"));
    assert_eq!(routes[9].method, "OPTIONS");
    assert_eq!(routes[0].path, "/v1");
    assert_eq!(routes[1].path, "/v1/items/:id");
    assert_eq!(Everything::META.prefix, "/v1");
}
