//! [`MessageRouter`]: pattern → handler tables.

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use bytes::Bytes;
use futures_core::Stream;
use futures_util::future::BoxFuture;
use futures_util::{FutureExt, StreamExt};
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::Serialize;
use serde_json::value::RawValue;

use super::reply::HandlerReply;
use super::{EventResult, HandlerResult, RpcException};
use crate::http::PatternMeta;
use crate::pattern::{route_of_incoming, Pattern};

pub(crate) type MessageHandler =
    Arc<dyn Fn(Bytes) -> BoxFuture<'static, HandlerReply> + Send + Sync>;
pub(crate) type EventHandler = Arc<dyn Fn(Bytes) -> BoxFuture<'static, ()> + Send + Sync>;

/// Pattern → handler tables. See the module docs.
///
/// ```
/// # use gateway_core::server::{MessageRouter, RpcException};
/// # use serde::Deserialize;
/// # use serde_json::json;
/// #[derive(Deserialize)]
/// struct GetUser { id: u64 }
///
/// let router = MessageRouter::new()
///     .message(json!({ "cmd": "get_user" }), |req: GetUser| async move {
///         if req.id == 42 {
///             Ok(json!({ "id": 42, "name": "Ada Lovelace" }))
///         } else {
///             Err(RpcException::new(json!({ "statusCode": 404, "message": "User not found" })))
///         }
///     })
///     .event("order_created", |order: serde_json::Value| async move {
///         println!("order {order}");
///     });
/// assert_eq!(router.message_routes().collect::<Vec<_>>(), [r#"{"cmd":"get_user"}"#]);
/// ```
#[derive(Default, Clone)]
pub struct MessageRouter {
    pub(super) messages: HashMap<Box<str>, MessageHandler>,
    pub(super) events: HashMap<Box<str>, Vec<EventHandler>>,
    duplicates: Vec<String>,
    /// Whether a message route begins with `{` without being JSON (a string pattern such as
    /// `"{x"`): only then does a request read by its shape have to check its route's text
    /// (`packet::usual_request`); every other route is checked here, once.
    brace_strings: bool,
    /// The controller methods behind routes (event or not, route), for guards' contexts.
    pub(super) described: HashMap<(bool, Box<str>), (&'static PatternMeta, &'static str)>,
    /// Controller handlers with a pipeline of their own, as registered.
    pub(super) registered: Vec<super::pipeline::Registered>,
    /// The validation settings `Valid<T>` payloads are checked with (`use_validation`).
    pub(super) validation: Option<crate::http::ValidationOptions>,
    /// The `#[grpc_method]` handlers' paths, for a gRPC server.
    #[cfg(feature = "grpc")]
    grpc: Vec<crate::transport::grpc::GrpcRoute>,
}

impl std::fmt::Debug for MessageRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageRouter")
            .field("messages", &self.messages.keys().collect::<Vec<_>>())
            .field("events", &self.events.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl MessageRouter {
    /// An empty router.
    pub fn new() -> Self {
        Self::default()
    }

    /// Handles requests for `pattern`: the payload is deserialized into `D`, the handler's
    /// `Ok` value is the reply, its `Err` the `err`. A payload that does not deserialize is
    /// answered with `{"statusCode":400,"message":"Invalid payload for <pattern>: ..","error":"Bad Request"}`; a
    /// panic with Nest's `Internal server error`.
    pub fn message<D, F, Fut>(mut self, pattern: impl Into<Pattern>, handler: F) -> Self
    where
        D: FromPayload,
        F: Fn(D) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: HandlerResult,
    {
        let route: Arc<str> = pattern.into().route().into();
        let handler = Arc::new(handler);
        let name = route.clone();
        let erased: MessageHandler = Arc::new(move |data: Bytes| {
            let handler = handler.clone();
            let route = name.clone();
            async move {
                let call = async {
                    match D::from_payload(&route, &data) {
                        Ok(payload) => handler(payload).await.into_reply(),
                        Err(exception) => Err(exception),
                    }
                };
                let reply = AssertUnwindSafe(call)
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|_| {
                        tracing::error!(pattern = %route, "message handler panicked");
                        Err(RpcException::internal())
                    });
                HandlerReply::One(reply)
            }
            .boxed()
        });
        self.insert_message(route, erased);
        self
    }

    /// Handles requests for `pattern` whose reply is a stream: every item is sent as it comes,
    /// an `Err` item ends the stream with that `err`, and the end is marked as Nest does.
    pub fn stream<D, F, S, T, E>(mut self, pattern: impl Into<Pattern>, handler: F) -> Self
    where
        D: FromPayload,
        F: Fn(D) -> S + Send + Sync + 'static,
        S: Stream<Item = Result<T, E>> + Send + 'static,
        T: Serialize + Send + 'static,
        E: Into<RpcException> + Send + 'static,
    {
        let route: Arc<str> = pattern.into().route().into();
        let handler = Arc::new(handler);
        let name = route.clone();
        let erased: MessageHandler = Arc::new(move |data: Bytes| {
            let panicked = |route: &str| {
                tracing::error!(pattern = %route, "stream handler panicked");
                RpcException::internal()
            };
            let started = D::from_payload(&name, &data).and_then(|payload| {
                std::panic::catch_unwind(AssertUnwindSafe(|| handler(payload)))
                    .map_err(|_| panicked(&name))
            });
            let reply = match started {
                Err(exception) => HandlerReply::One(Err(exception)),
                Ok(items) => {
                    let route = name.clone();
                    let items =
                        AssertUnwindSafe(items)
                            .catch_unwind()
                            .map(move |item| match item {
                                Ok(item) => item.into_reply(),
                                Err(_) => Err(panicked(&route)),
                            });
                    HandlerReply::Stream(items.boxed())
                }
            };
            std::future::ready(reply).boxed()
        });
        self.insert_message(route, erased);
        self
    }

    /// Handles events for `pattern`. Several handlers may share a pattern; all run.
    pub fn event<D, F, Fut>(mut self, pattern: impl Into<Pattern>, handler: F) -> Self
    where
        D: FromPayload,
        F: Fn(D) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: EventResult,
    {
        let route: Arc<str> = pattern.into().route().into();
        let handler = Arc::new(handler);
        let name = route.clone();
        let erased: EventHandler = Arc::new(move |data: Bytes| {
            let handler = handler.clone();
            let route = name.clone();
            async move {
                let call = async {
                    match D::from_payload(&route, &data) {
                        Ok(payload) => handler(payload).await.report(&route),
                        Err(exception) => {
                            tracing::error!(pattern = %route, error = %exception, "event dropped")
                        }
                    }
                };
                if AssertUnwindSafe(call).catch_unwind().await.is_err() {
                    tracing::error!(pattern = %route, "event handler panicked");
                }
            }
            .boxed()
        });
        self.events
            .entry(Box::from(&*route))
            .or_default()
            .push(erased);
        self
    }

    /// Serves the request handler of `route` (registered with [`message`](Self::message) or
    /// [`stream`](Self::stream)) as gRPC method `M` too: what `#[grpc_method]` adds. Its
    /// payload is `M`'s request message as JSON, its reply `M`'s response message.
    #[cfg(feature = "grpc")]
    pub fn grpc_method<M: crate::transport::grpc::GrpcMethod>(
        mut self,
        route: &'static str,
    ) -> Self {
        self.grpc
            .push(crate::transport::grpc::GrpcRoute::of::<M>(route));
        self
    }

    /// The gRPC methods served, in the order registered.
    #[cfg(feature = "grpc")]
    pub(crate) fn grpc_routes(&self) -> &[crate::transport::grpc::GrpcRoute] {
        &self.grpc
    }

    fn insert_message(&mut self, route: Arc<str>, handler: MessageHandler) {
        if route.starts_with('{') && serde_json::from_str::<IgnoredAny>(&route).is_err() {
            self.brace_strings = true;
        }
        if self.messages.insert(Box::from(&*route), handler).is_some() {
            self.duplicates.push(route.to_string());
        }
    }

    /// The routes of the request and stream handlers, sorted.
    pub fn message_routes(&self) -> impl Iterator<Item = &str> {
        let mut routes: Vec<&str> = self.messages.keys().map(|k| &**k).collect();
        routes.sort_unstable();
        routes.into_iter()
    }

    /// The routes of the event handlers, sorted.
    pub fn event_routes(&self) -> impl Iterator<Item = &str> {
        let mut routes: Vec<&str> = self.events.keys().map(|k| &**k).collect();
        routes.sort_unstable();
        routes.into_iter()
    }

    /// Routes registered twice as request handlers (the later one would silently win in
    /// Nest; servers refuse to start instead).
    pub fn duplicate_routes(&self) -> &[String] {
        &self.duplicates
    }

    pub(crate) fn find_message(&self, pattern: &RawValue) -> Option<&MessageHandler> {
        lookup(&self.messages, pattern)
    }

    /// The request handler of a normalized route (a broker subject).
    pub(crate) fn message_by_route(&self, route: &str) -> Option<&MessageHandler> {
        self.messages.get(route)
    }

    /// Whether every message route that begins with `{` is JSON (checked at registration).
    pub(crate) fn message_routes_are_json(&self) -> bool {
        !self.brace_strings
    }

    /// The event handlers of a normalized route (a broker subject).
    pub(crate) fn events_by_route(&self, route: &str) -> &[EventHandler] {
        self.events.get(route).map_or(&[], Vec::as_slice)
    }

    pub(crate) fn find_events(&self, pattern: &RawValue) -> &[EventHandler] {
        lookup(&self.events, pattern).map_or(&[], Vec::as_slice)
    }
}

/// A message or event handler's payload: any `DeserializeOwned` type, or
/// `http::Valid<T>` (feature `validation`; validated as a `#[body]` is: Nest's `ValidationPipe` on a
/// payload). A payload that does not decode is answered with
/// `{"statusCode":400,"message":"Invalid payload for <pattern>: ..","error":"Bad Request"}`; one that does not
/// validate with the `ValidationPipe`'s 400 body as the `err`
/// (`{"statusCode":400,"message":[..],"error":"Bad Request"}`, which a Nest gateway answers
/// as a 400).
pub trait FromPayload: Sized + Send + 'static {
    /// Decodes the payload's JSON (`data`) for the handler of `route`.
    fn from_payload(route: &str, data: &[u8]) -> Result<Self, RpcException>;
}

impl<T: DeserializeOwned + Send + 'static> FromPayload for T {
    fn from_payload(route: &str, data: &[u8]) -> Result<Self, RpcException> {
        crate::packet::from_json(data).map_err(|error| {
            if let Some(left_out) = crate::log_limit::allow("payload does not match") {
                tracing::warn!(pattern = route, %error, left_out, "payload does not match the handler's type");
            }
            // Nest's `BadRequestException` body: a gateway (Nest's too: its exception filter
            // replies with an error's `statusCode`) answers 400, as for a `Valid<T>` payload.
            RpcException::new(serde_json::json!({
                "statusCode": 400,
                "message": format!("Invalid payload for {route}: {error}"),
                "error": "Bad Request",
            }))
        })
    }
}

/// Finds the entry for a pattern as received. The raw text is tried first: it is already the
/// route whenever the peer sent a normalized pattern (Nest clients send one-key objects and
/// TCP events that way), which saves parsing and sorting on the hot path.
fn lookup<'a, V>(table: &'a HashMap<Box<str>, V>, pattern: &RawValue) -> Option<&'a V> {
    if let Some(found) = direct(pattern).and_then(|d| table.get(d)) {
        return Some(found);
    }
    table.get(route_of_incoming(pattern)?.as_str())
}

/// A pattern's raw text as a route might read it: a string's content (when it has no
/// escapes), anything else as written. A registered route read so is its own normal form.
fn direct(pattern: &RawValue) -> Option<&str> {
    let text = pattern.get();
    match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(inner) if inner.contains('\\') => None,
        Some(inner) => Some(inner),
        None => Some(text),
    }
}

#[cfg(any(feature = "rmq", test))]
impl MessageRouter {
    /// The route of a pattern as received ([`route_of_incoming`]), its raw text when that is
    /// already one of this router's routes (no parsing and sorting on the hot path).
    pub(crate) fn route_of_received(&self, pattern: &RawValue) -> Option<String> {
        match direct(pattern) {
            Some(route) if self.messages.contains_key(route) || self.events.contains_key(route) => {
                Some(route.to_owned())
            }
            _ => route_of_incoming(pattern),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::reply::send_replies;
    use futures_util::stream;
    use serde_json::json;
    use tokio::sync::mpsc;

    async fn replies(router: &MessageRouter, pattern: &str, data: &'static str) -> Vec<String> {
        let raw = RawValue::from_string(pattern.to_owned()).unwrap();
        let handler = router.find_message(&raw).expect("a handler");
        let reply = handler(Bytes::from_static(data.as_bytes())).await;
        let (tx, mut rx) = mpsc::channel(16);
        send_replies(reply, Some(br#""r1""#), &tx).await;
        drop(tx);
        let mut out = Vec::new();
        while let Some(body) = rx.recv().await {
            out.push(String::from_utf8(body).unwrap());
        }
        out
    }

    fn router() -> MessageRouter {
        MessageRouter::new()
            .message(json!({"cmd": "sum", "v": 1}), |xs: Vec<i64>| async move {
                Ok::<_, RpcException>(xs.iter().sum::<i64>())
            })
            .message("boom", |_: Option<()>| async move {
                Err::<(), _>(RpcException::new("boom"))
            })
            .message("panic", |_: Option<()>| async move {
                if true {
                    panic!("handler bug");
                }
                Ok::<(), RpcException>(())
            })
            .stream("count", |n: u32| {
                stream::iter((0..n).map(Ok::<_, RpcException>))
            })
            .stream("half", |_: ()| {
                stream::iter([Ok(1), Err(RpcException::new(json!({"code": "E1"})))])
            })
    }

    /// A string route that only looks like JSON keeps the check of its text when a request is
    /// read by its shape: a frame that writes it unquoted is not JSON, and is refused.
    #[test]
    fn a_string_route_that_looks_like_json_is_checked_per_message() {
        use crate::server::dispatch::{dispatch, Dispatch};
        let echo = |n: i64| async move { Ok::<_, RpcException>(n) };
        let objects = MessageRouter::new().message(json!({"cmd": "x"}), echo);
        assert!(objects.message_routes_are_json());
        let frame = Bytes::from_static(br#"{"pattern":{"cmd":"x"},"data":1,"id":"1"}"#);
        let read = dispatch(&objects, &frame, Some(r#"{"cmd":"x"}"#), None);
        assert!(matches!(read, Ok(Dispatch::Request { .. })));

        let strings = MessageRouter::new().message("{x", echo);
        assert!(!strings.message_routes_are_json());
        let frame = Bytes::from_static(br#"{"pattern":{x,"data":1,"id":"1"}"#);
        assert!(dispatch(&strings, &frame, Some("{x"), None).is_err());
        let frame = Bytes::from_static(br#"{"pattern":"{x","data":1,"id":"1"}"#);
        let read = dispatch(&strings, &frame, Some("{x"), None);
        assert!(matches!(read, Ok(Dispatch::Request { .. })));
    }

    #[test]
    fn a_received_patterns_route_is_its_normal_form() {
        let router = router();
        for raw in [
            r#"{"cmd":"sum","v":1}"#,
            r#"{"v":1,"cmd":"sum"}"#,
            r#""{\"cmd\":\"sum\",\"v\":1}""#,
            r#""boom""#,
            r#""b\u006fom""#,
            r#""unknown""#,
            r#"{"cmd":"other"}"#,
            "7",
        ] {
            let raw = RawValue::from_string(raw.to_owned()).unwrap();
            assert_eq!(
                router.route_of_received(&raw),
                route_of_incoming(&raw),
                "{raw}"
            );
        }
    }

    #[tokio::test]
    async fn any_key_order_reaches_the_handler() {
        let router = router();
        let want = [r#"{"response":6,"isDisposed":true,"id":"r1"}"#];
        assert_eq!(
            replies(&router, r#"{"v":1,"cmd":"sum"}"#, "[1,2,3]").await,
            want
        );
        assert_eq!(
            replies(&router, r#"{"cmd":"sum","v":1}"#, "[1,2,3]").await,
            want
        );
        assert_eq!(
            replies(&router, r#""{\"cmd\":\"sum\",\"v\":1}""#, "[1,2,3]").await,
            want
        );
    }

    #[tokio::test]
    async fn errors_panics_and_bad_payloads_become_err_packets() {
        let router = router();
        assert_eq!(
            replies(&router, r#""boom""#, "null").await,
            [r#"{"err":{"status":"error","message":"boom"},"isDisposed":true,"id":"r1"}"#]
        );
        assert_eq!(
            replies(&router, r#""panic""#, "null").await,
            [
                r#"{"err":{"status":"error","message":"Internal server error"},"isDisposed":true,"id":"r1"}"#
            ]
        );
        let bad = replies(&router, r#"{"cmd":"sum","v":1}"#, r#""nope""#).await;
        assert!(bad[0].starts_with(r#"{"err":{"statusCode":400,"message":"Invalid payload for {\"cmd\":\"sum\",\"v\":1}: invalid type"#), "{bad:?}");
    }

    #[tokio::test]
    async fn streams_merge_completion_into_the_last_value() {
        let router = router();
        assert_eq!(
            replies(&router, r#""count""#, "3").await,
            [
                r#"{"response":0,"id":"r1"}"#,
                r#"{"response":1,"id":"r1"}"#,
                r#"{"response":2,"isDisposed":true,"id":"r1"}"#
            ]
        );
        assert_eq!(
            replies(&router, r#""count""#, "0").await,
            [r#"{"isDisposed":true,"id":"r1"}"#]
        );
        assert_eq!(
            replies(&router, r#""half""#, "null").await,
            [
                r#"{"response":1,"id":"r1"}"#,
                r#"{"err":{"code":"E1"},"isDisposed":true,"id":"r1"}"#
            ]
        );
    }

    #[test]
    fn duplicates_are_recorded() {
        let router = router().message("boom", |_: ()| async { Ok::<(), RpcException>(()) });
        assert_eq!(router.duplicate_routes(), ["boom"]);
    }
}
