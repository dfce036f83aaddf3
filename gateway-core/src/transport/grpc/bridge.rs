//! A [`ClientProxy`](crate::client::ClientProxy) over gRPC: each message pattern sent to one
//! method of a proto service ([`GrpcPatterns`], [`ClientOptions::grpc`]).
//!
//! Nest has no such thing (its gateway code changes when a service moves to gRPC:
//! `client.getService(..)` instead of `client.send(..)`); this lets a gateway written with
//! `send` (the seed's) reach gRPC services by configuration, its handlers unchanged. The
//! payload's JSON is read as the method's request message, the response message's JSON is
//! the reply; a status becomes what the same failure over TCP would: `UNAVAILABLE` a lost
//! connection (503 at the gateway), any other the `err` `{ statusCode, message }` of the
//! gRPC → HTTP table (Nest's shape for an HTTP-like error), which the gateway answers with
//! that status; `INTERNAL`, `UNKNOWN` and the like an `err` without one (500).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::StreamExt;
use serde_json::Value;

use super::client::GrpcChannel;
use super::{http_status_of, ClientGrpc, GrpcClientOptions, GrpcMethod};
use crate::client::{
    ClientOptions, ClientTransport, ConnectContext, Connection, Outgoing, Publish, RpcError,
};
use crate::packet::{encode_reply, Incoming, Reply};
use crate::pattern::Pattern;

/// How long a bridged call may run on the service's side: the proxy's own deadline (which
/// it does not see) fails the caller's call sooner; this only bounds the service's work.
const BRIDGE_DEADLINE: Duration = Duration::from_secs(60);

/// A pattern's call: the channel, the payload's JSON, and the proxy call's headers (its
/// `CallOptions::header`s and trace context), sent as the gRPC call's metadata.
type Call = Arc<
    dyn Fn(GrpcChannel, Bytes, Vec<(String, String)>) -> BoxFuture<'static, Outcome> + Send + Sync,
>;

/// A value's JSON, or the `err` to answer with when it could not be made.
type Json = Result<Vec<u8>, Vec<u8>>;

/// What one bridged call ended with.
enum Outcome {
    /// The reply's JSON value.
    Value(Vec<u8>),
    /// An `err` to answer with (the payload or the reply did not fit the messages).
    Err(Vec<u8>),
    /// A server stream: its values as they come, then the end (or an error).
    /// Each value's JSON (or the `err` it could not be turned into).
    Stream(futures_util::stream::BoxStream<'static, Result<Json, RpcError>>),
    Failed(RpcError),
}

/// Which gRPC method each message pattern calls: the table of a [`ClientOptions::grpc`]
/// client.
///
/// ```ignore
/// let patterns = GrpcPatterns::new()
///     .method::<seed::UsersService::GetUser>(json!({ "cmd": "get_user" }))
///     // The reply is the response's `orders` field: the list the TCP service answered.
///     .method_reply_field::<seed::OrdersService::ListOrders>(json!({ "cmd": "list_orders" }), "orders");
/// ClientOptions::grpc("USERS_SERVICE", "127.0.0.1:3001", patterns)
/// ```
#[derive(Clone, Default)]
pub struct GrpcPatterns {
    methods: HashMap<Box<str>, Call>,
}

impl std::fmt::Debug for GrpcPatterns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut routes: Vec<&str> = self.methods.keys().map(|k| &**k).collect();
        routes.sort_unstable();
        f.debug_struct("GrpcPatterns")
            .field("routes", &routes)
            .finish()
    }
}

impl GrpcPatterns {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// `pattern` calls method `M` (unary or server streaming: `send` takes its one reply,
    /// `send_stream` each message of its stream); the reply is the response message.
    pub fn method<M: GrpcMethod>(self, pattern: impl Into<Pattern>) -> Self {
        self.insert::<M>(pattern.into(), None)
    }

    /// `pattern` calls method `M`; the reply is the response message's `field` (in its JSON
    /// name): a service that answered a list over TCP answers a message holding it over gRPC.
    pub fn method_reply_field<M: GrpcMethod>(
        self,
        pattern: impl Into<Pattern>,
        field: &'static str,
    ) -> Self {
        self.insert::<M>(pattern.into(), Some(field))
    }

    fn insert<M: GrpcMethod>(mut self, pattern: Pattern, field: Option<&'static str>) -> Self {
        const {
            assert!(
                !M::CLIENT_STREAMING,
                "a message pattern carries one payload: a method taking a stream of requests cannot be bridged"
            )
        };
        let call: Call = Arc::new(move |channel: GrpcChannel, data: Bytes, metadata| {
            Box::pin(async move {
                // No payload (`null`, a health probe's) is the empty request.
                let request: Result<M::Request, _> = match &data[..] {
                    b"null" => Ok(M::Request::default()),
                    json => serde_json::from_slice(json),
                };
                let request = match request {
                    Ok(request) => request,
                    Err(error) => {
                        return Outcome::Err(error_json(&format!(
                            "the payload is not {}'s request: {error}",
                            M::PATH
                        )))
                    }
                };
                let request = super::GrpcRequest {
                    metadata,
                    // The proxy's call has its span (and carries its hop in the headers).
                    span: false,
                    ..super::GrpcRequest::new(request).timeout(BRIDGE_DEADLINE)
                };
                if M::SERVER_STREAMING {
                    match channel.server_streaming::<M, _>(request).await {
                        Ok(items) => Outcome::Stream(
                            items
                                .map(move |item| item.map(|message| reply_json(&message, field)))
                                .boxed(),
                        ),
                        Err(error) => Outcome::Failed(error),
                    }
                } else {
                    match channel.unary::<M, _>(request).await {
                        Ok(message) => match reply_json(&message, field) {
                            Ok(json) => Outcome::Value(json),
                            Err(json) => Outcome::Err(json),
                        },
                        Err(error) => Outcome::Failed(error),
                    }
                }
            })
        });
        self.methods.insert(pattern.route().into(), call);
        self
    }
}

/// A response message's JSON, or its `field`'s; the `err` to answer with if it cannot be
/// serialized.
fn reply_json<T: serde::Serialize>(message: &T, field: Option<&str>) -> Json {
    let json = match field {
        None => serde_json::to_vec(message),
        Some(field) => serde_json::to_value(message).and_then(|mut value| {
            // A field at its default value is left out of the message's JSON.
            let inner = value
                .get_mut(field)
                .map(Value::take)
                .unwrap_or(Value::Array(Vec::new()));
            serde_json::to_vec(&inner)
        }),
    };
    json.map_err(|error| error_json(&format!("the reply is not representable: {error}")))
}

/// Nest's `err` for a failure that is not an HTTP-like one (a 500 at a gateway).
fn error_json(message: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "status": "error", "message": message }))
        .expect("a JSON value serializes")
}

impl ClientOptions {
    /// A client proxy whose message patterns are gRPC methods of the service at `url`
    /// (`localhost:5000` as Nest writes it): `send(pattern, payload)` calls the method
    /// `patterns` names for it. See [`GrpcPatterns`]. A pattern with no method fails at once
    /// with Nest's no-handler error. The call's headers ([`CallOptions::header`], the
    /// request's trace) go as its metadata; one that gRPC metadata cannot carry (a name that
    /// is not a valid HTTP/2 header name or ends in `-bin`, a value with a control
    /// character) fails the call unsent with `INVALID_ARGUMENT`, answered as Nest's
    /// `{"statusCode":400,"message":...}` error (a 400 at a gateway), as every such status is.
    ///
    /// [`CallOptions::header`]: crate::client::CallOptions::header
    pub fn grpc(name: impl Into<String>, url: impl Into<String>, patterns: GrpcPatterns) -> Self {
        let patterns = Arc::new(patterns);
        ClientOptions::custom(name, url, move || GrpcBridge {
            patterns: Arc::clone(&patterns),
        })
    }
}

/// The [`ClientTransport`] behind [`ClientOptions::grpc`].
struct GrpcBridge {
    patterns: Arc<GrpcPatterns>,
}

impl ClientTransport for GrpcBridge {
    fn connect<'a>(
        &'a self,
        context: &'a ConnectContext,
    ) -> BoxFuture<'a, Result<Arc<Connection>, RpcError>> {
        Box::pin(async move {
            let client = ClientGrpc::new(
                Arc::clone(context.service()),
                GrpcClientOptions::new(&**context.address()).timeout(BRIDGE_DEADLINE),
            );
            let connection: Arc<OnceLock<Weak<Connection>>> = Arc::default();
            let conn = Connection::with_publisher(BridgePublisher {
                channel: client.channel.clone(),
                patterns: Arc::clone(&self.patterns),
                connection: Arc::clone(&connection),
            });
            let _ = connection.set(Arc::downgrade(&conn));
            Ok(conn)
        })
    }

    fn name(&self) -> &'static str {
        "grpc"
    }
}

struct BridgePublisher {
    channel: GrpcChannel,
    patterns: Arc<GrpcPatterns>,
    connection: Arc<OnceLock<Weak<Connection>>>,
}

impl Publish for BridgePublisher {
    fn publish<'a>(&'a self, message: Outgoing<'a>) -> BoxFuture<'a, Result<(), Arc<str>>> {
        let call = self.patterns.methods.get(message.route).cloned();
        let data = Incoming::parse(&message.body)
            .ok()
            .and_then(|packet| {
                packet
                    .data
                    .map(|d| Bytes::copy_from_slice(d.get().as_bytes()))
            })
            .unwrap_or_else(|| Bytes::from_static(b"null"));
        let (id, channel) = (message.id, self.channel.clone());
        let metadata = message.headers.map(<[_]>::to_vec).unwrap_or_default();
        let connection = self.connection.get().cloned().unwrap_or_default();
        Box::pin(async move {
            let Some(call) = call else {
                if let (Some(id), Some(conn)) = (id, connection.upgrade()) {
                    deliver(&conn, id, Reply::NoHandler);
                }
                return Ok(());
            };
            // The call runs on its own; the proxy's pending table waits for its reply.
            tokio::spawn(async move {
                let outcome = call(channel, data, metadata).await;
                let (Some(id), Some(conn)) = (id, connection.upgrade()) else {
                    return; // an event: nobody waits for its answer
                };
                match outcome {
                    Outcome::Value(json) => deliver(
                        &conn,
                        id,
                        Reply::Value {
                            json: &json,
                            last: true,
                        },
                    ),
                    Outcome::Err(json) => deliver(&conn, id, Reply::Error { json: &json }),
                    Outcome::Stream(mut items) => {
                        while let Some(item) = items.next().await {
                            match item {
                                Ok(Ok(json)) => {
                                    let value = Reply::Value {
                                        json: &json,
                                        last: false,
                                    };
                                    deliver(&conn, id, value);
                                }
                                Ok(Err(json)) => {
                                    return deliver(&conn, id, Reply::Error { json: &json })
                                }
                                Err(error) => return failed(&conn, id, error),
                            }
                        }
                        deliver(&conn, id, Reply::Done);
                    }
                    Outcome::Failed(error) => failed(&conn, id, error),
                }
            });
            Ok(())
        })
    }
}

fn deliver(conn: &Connection, id: u64, reply: Reply<'_>) {
    let mut body = Vec::with_capacity(64);
    let mut id_text = itoa::Buffer::new();
    encode_reply(&mut body, reply, Some(id_text.format(id).as_bytes()));
    conn.deliver_to(id, Bytes::from(body));
}

/// A failed bridged call, as the same failure over TCP: the service unreachable is a lost
/// connection; a status an `err` (HTTP-like by the gRPC → HTTP table where it is a client's
/// mistake, `NOT_FOUND` 404, ...; a plain error otherwise).
fn failed(conn: &Connection, id: u64, error: RpcError) {
    match error {
        RpcError::Grpc { code, message, .. } if code != 14 => {
            let status = http_status_of(code);
            let err = if (400..500).contains(&status) || status == 501 {
                serde_json::json!({ "statusCode": status, "message": message })
            } else {
                serde_json::json!({ "status": "error", "message": message })
            };
            let json = serde_json::to_vec(&err).expect("a JSON value serializes");
            deliver(conn, id, Reply::Error { json: &json });
        }
        // Timeout never comes first: the proxy's deadline is shorter than the bridge's.
        other => conn.fail(id, other.to_string()),
    }
}
