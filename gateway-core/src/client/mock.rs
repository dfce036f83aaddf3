//! A recording mock of a client, for tests: expectations say what each pattern answers, and
//! every packet sent is kept for assertions. Nest's
//! `{ provide: 'USERS_SERVICE', useValue: { send: jest.fn().mockReturnValue(of(user)) } }`.

use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;

use super::{
    BoxFuture, ClientOptions, ClientProxy, ClientTransport, ConnectContext, Connection, RpcError,
};
use crate::packet::{encode_reply, Incoming, Reply};
use crate::pattern::{route_of_incoming, Pattern};

impl ClientProxy {
    /// A client that answers from expectations and records what it sends: the proxy to
    /// inject (override the client's token with it), and the handle to set expectations and
    /// read what was sent.
    ///
    /// ```
    /// # use gateway_core::prelude::*;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let (users, mock) = ClientProxy::mock("USERS_SERVICE");
    /// mock.on(pattern!({ cmd: "get_user" })).reply(&serde_json::json!({ "id": "42" }));
    /// let user: serde_json::Value = users.send(pattern!({ cmd: "get_user" }), &serde_json::json!({ "id": "42" })).await.unwrap();
    /// assert_eq!(user["id"], "42");
    /// assert_eq!(mock.requests(pattern!({ cmd: "get_user" })), [serde_json::json!({ "id": "42" })]);
    /// # }
    /// ```
    pub fn mock(name: impl Into<String>) -> (ClientProxy, MockClient) {
        let mock = MockClient::default();
        let transport = mock.clone();
        let client = ClientProxy::new(ClientOptions::custom(name, "mock", move || {
            transport.clone()
        }));
        (client, mock)
    }
}

/// The handle of a [`ClientProxy::mock`]: its expectations, and what was sent through it.
#[derive(Clone, Default)]
pub struct MockClient {
    state: Arc<Mutex<MockState>>,
}

impl std::fmt::Debug for MockClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockClient")
            .field("sent", &self.sent())
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct MockState {
    /// By route; the latest expectation for a route wins.
    answers: Vec<(String, Answer)>,
    sent: Vec<Sent>,
}

#[derive(Clone)]
enum Answer {
    /// Each value in turn, then completion.
    Values(Vec<Bytes>),
    /// An `err` packet with this value.
    Error(Bytes),
    /// Nothing: the call runs to its deadline.
    Silence,
}

/// One packet the mock received.
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    /// The pattern's route (`{"cmd":"get_user"}`, `order_created`).
    pub route: String,
    /// The payload.
    pub data: Value,
    /// The metadata it carried, if any.
    pub metadata: Option<Value>,
    /// `true` for a request (`send`), `false` for an event (`emit`).
    pub request: bool,
}

impl MockClient {
    fn state(&self) -> std::sync::MutexGuard<'_, MockState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What requests for `pattern` answer (until another expectation replaces it).
    pub fn on(&self, pattern: impl Into<Pattern>) -> MockExpectation<'_> {
        MockExpectation {
            mock: self,
            route: pattern.into().route().to_owned(),
        }
    }

    /// Every packet sent, in order.
    pub fn sent(&self) -> Vec<Sent> {
        self.state().sent.clone()
    }

    /// The payloads of the requests sent for `pattern`, in order.
    pub fn requests(&self, pattern: impl Into<Pattern>) -> Vec<Value> {
        self.payloads(pattern.into(), true)
    }

    /// The payloads of the events emitted for `pattern`, in order.
    pub fn events(&self, pattern: impl Into<Pattern>) -> Vec<Value> {
        self.payloads(pattern.into(), false)
    }

    fn payloads(&self, pattern: Pattern, request: bool) -> Vec<Value> {
        self.state()
            .sent
            .iter()
            .filter(|s| s.request == request && s.route == pattern.route())
            .map(|s| s.data.clone())
            .collect()
    }

    fn expect(&self, route: String, answer: Answer) {
        let mut state = self.state();
        state.answers.retain(|(r, _)| *r != route);
        state.answers.push((route, answer));
    }

    /// The answer to a request for `route`: its expectation's, or an error naming the
    /// pattern (a mock without an expectation for it).
    fn answer(&self, route: &str) -> Answer {
        self.state()
            .answers
            .iter()
            .find(|(r, _)| r == route)
            .map(|(_, answer)| answer.clone())
            .unwrap_or_else(|| {
                let message = format!("the mock has no answer for {route}");
                Answer::Error(to_json(
                    &serde_json::json!({ "status": "error", "message": message }),
                ))
            })
    }

    /// Records one packet; for a request, the reply packets to deliver.
    fn receive(&self, packet: &[u8]) -> Vec<Bytes> {
        let Ok(incoming) = Incoming::parse(packet) else {
            return Vec::new();
        };
        let route = incoming
            .pattern
            .and_then(route_of_incoming)
            .unwrap_or_default();
        let parse = |raw: Option<&serde_json::value::RawValue>| {
            raw.and_then(|raw| serde_json::from_str::<Value>(raw.get()).ok())
        };
        let id = incoming.id.map(|id| id.get().as_bytes().to_vec());
        self.state().sent.push(Sent {
            route: route.clone(),
            data: parse(incoming.data).unwrap_or(Value::Null),
            metadata: parse(incoming.metadata),
            request: id.is_some(),
        });
        let Some(id) = id else {
            return Vec::new();
        };
        let packet = |reply: Reply<'_>| {
            let mut out = Vec::with_capacity(64);
            encode_reply(&mut out, reply, Some(&id));
            Bytes::from(out)
        };
        match self.answer(&route) {
            Answer::Values(values) if values.is_empty() => vec![packet(Reply::Done)],
            Answer::Values(values) => {
                let last = values.len() - 1;
                values
                    .iter()
                    .enumerate()
                    .map(|(i, json)| {
                        packet(Reply::Value {
                            json,
                            last: i == last,
                        })
                    })
                    .collect()
            }
            Answer::Error(json) => vec![packet(Reply::Error { json: &json })],
            Answer::Silence => Vec::new(),
        }
    }
}

fn to_json(value: &(impl Serialize + ?Sized)) -> Bytes {
    serde_json::to_vec(value)
        .expect("a mock's answer serializes")
        .into()
}

/// An expectation being set: [`MockClient::on`].
#[must_use = "an expectation does nothing until given its answer"]
pub struct MockExpectation<'a> {
    mock: &'a MockClient,
    route: String,
}

impl MockExpectation<'_> {
    /// Answers with `value` (`mockReturnValue(of(value))`).
    pub fn reply(self, value: &(impl Serialize + ?Sized)) {
        self.mock
            .expect(self.route, Answer::Values(vec![to_json(value)]));
    }

    /// Answers with each value in turn, a streamed reply (`from([..])`).
    pub fn reply_stream<T: Serialize>(self, values: impl IntoIterator<Item = T>) {
        let values = values.into_iter().map(|v| to_json(&v)).collect();
        self.mock.expect(self.route, Answer::Values(values));
    }

    /// Answers with the error `err` (`throwError(() => err)`), as a service's
    /// `RpcException(err)` would: the call fails with `RpcError::Remote`.
    pub fn reply_error(self, err: &(impl Serialize + ?Sized)) {
        self.mock.expect(self.route, Answer::Error(to_json(err)));
    }

    /// Never answers: the call runs to its deadline (a silent service).
    pub fn no_reply(self) {
        self.mock.expect(self.route, Answer::Silence);
    }
}

impl ClientTransport for MockClient {
    fn name(&self) -> &'static str {
        "mock"
    }

    fn connect<'a>(
        &'a self,
        _context: &'a ConnectContext,
    ) -> BoxFuture<'a, Result<Arc<Connection>, RpcError>> {
        let mock = self.clone();
        Box::pin(async move {
            let conn = Connection::in_process(move |packet, replies| {
                for reply in mock.receive(&packet) {
                    replies.deliver(reply);
                }
            });
            Ok(conn)
        })
    }
}
