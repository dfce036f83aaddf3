//! In-process requests against an app, in the spirit of supertest: no socket, the same
//! service `serve` runs.

use std::convert::Infallible;
use std::net::SocketAddr;

use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response};
use axum::Router;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tower_service::Service;

use crate::app::NestApplication;

/// The address test requests come from (their `ConnectInfo`): a client on loopback.
const TEST_PEER: ([u8; 4], u16) = ([127, 0, 0, 1], 40000);

impl NestApplication {
    /// The app, ready for in-process requests (Nest's `app.init()` then
    /// `request(app.getHttpServer())`): every request runs through the service `serve` runs
    /// (routes, guards, pipes, filters, Nest's fallbacks), without a socket.
    pub fn into_test(self) -> TestApp {
        TestApp {
            router: self.into_router(),
        }
    }
}

/// An app answering in-process requests: `app.get("/users/42").bearer(token).send().await`.
#[derive(Clone)]
pub struct TestApp {
    router: Router,
}

impl std::fmt::Debug for TestApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestApp").finish_non_exhaustive()
    }
}

impl TestApp {
    /// A request with any method.
    pub fn request(&self, method: Method, path: &str) -> TestRequest {
        TestRequest {
            router: self.router.clone(),
            method,
            path: path.to_owned(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
        }
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> TestRequest {
        self.request(Method::GET, path)
    }

    /// `POST path`.
    pub fn post(&self, path: &str) -> TestRequest {
        self.request(Method::POST, path)
    }

    /// `PUT path`.
    pub fn put(&self, path: &str) -> TestRequest {
        self.request(Method::PUT, path)
    }

    /// `PATCH path`.
    pub fn patch(&self, path: &str) -> TestRequest {
        self.request(Method::PATCH, path)
    }

    /// `DELETE path`.
    pub fn delete(&self, path: &str) -> TestRequest {
        self.request(Method::DELETE, path)
    }
}

/// A request being built: headers, a body, then [`send`](Self::send).
#[must_use = "a request does nothing until sent"]
pub struct TestRequest {
    router: Router,
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

impl TestRequest {
    /// Sets a header (`.set('X-Api-Key', key)`).
    ///
    /// # Panics
    /// On a name or value that is not a valid HTTP header: a mistake in the test.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let name = HeaderName::try_from(name).expect("a valid header name");
        let value = HeaderValue::try_from(value).expect("a valid header value");
        self.headers.insert(name, value);
        self
    }

    /// `Authorization: Bearer <token>` (`.auth(token, { type: 'bearer' })`).
    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// A JSON body (`.send(body)`), with `Content-Type: application/json`.
    ///
    /// # Panics
    /// If `body` does not serialize.
    pub fn json(mut self, body: &(impl Serialize + ?Sized)) -> Self {
        self.body = serde_json::to_vec(body)
            .expect("the body serializes")
            .into();
        self.header("content-type", "application/json")
    }

    /// A raw body, sent as given (set its content type with [`header`](Self::header)).
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Runs the request through the app and collects the whole response.
    ///
    /// # Panics
    /// If the path is not a valid URI (a mistake in the test).
    pub async fn send(self) -> TestResponse {
        let mut request = Request::builder()
            .method(self.method)
            .uri(&self.path)
            .body(Body::from(self.body))
            .expect("a valid request path");
        *request.headers_mut() = self.headers;
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(TEST_PEER)));
        let mut router = self.router;
        let ready: Result<(), Infallible> =
            std::future::poll_fn(|cx| Service::<Request<Body>>::poll_ready(&mut router, cx)).await;
        let response: Response<Body> = match ready.and(Ok(router.call(request))) {
            Ok(call) => match call.await {
                Ok(response) => response,
                Err(never) => match never {},
            },
            Err(never) => match never {},
        };
        let (parts, body) = response.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX)
            .await
            .expect("the app's response body reads to its end");
        TestResponse {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        }
    }
}

/// A response, whole: status, headers, body.
#[derive(Debug, Clone)]
pub struct TestResponse {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

impl TestResponse {
    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Every header.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// One header, as text (`None` when absent or not text).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok()
    }

    /// The body's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.body
    }

    /// The body as text (lossy for bytes that are not UTF-8).
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap_or("<the body is not UTF-8>")
    }

    /// The body as JSON of type `T`.
    ///
    /// # Panics
    /// With the body in the message, when it is not that JSON.
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "the body is not the JSON asked for ({error}): {} {}",
                self.status,
                self.text()
            )
        })
    }
}
