//! A handler's answer and how it becomes Nest's reply packets.

use std::future::Future;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{FutureExt, StreamExt};
use tokio::sync::mpsc;

use super::RpcException;
use crate::packet::{encode_reply, Reply};

/// Where a request's reply packets go, one by one: a writer queue. `false` when they can no
/// longer go anywhere (the connection is gone).
pub(crate) trait ReplyOut: Sync {
    /// Queues one reply packet.
    fn send(&self, body: Vec<u8>) -> impl Future<Output = bool> + Send;
}

impl ReplyOut for mpsc::Sender<Vec<u8>> {
    fn send(&self, body: Vec<u8>) -> impl Future<Output = bool> + Send {
        let sent = mpsc::Sender::send(self, body);
        async move { sent.await.is_ok() }
    }
}

/// A handler's answer, ready to be framed.
pub(crate) enum HandlerReply {
    One(Result<Vec<u8>, RpcException>),
    Stream(BoxStream<'static, Result<Vec<u8>, RpcException>>),
}

/// The one packet of a one-value answer: the value with `isDisposed`, or the error's `err`.
fn one_reply(result: &Result<Vec<u8>, RpcException>, id: Option<&[u8]>) -> Vec<u8> {
    let mut body = Vec::with_capacity(64);
    let reply = match result {
        Ok(json) => Reply::Value { json, last: true },
        Err(exception) => Reply::Error {
            json: &exception.to_json(),
        },
    };
    encode_reply(&mut body, reply, id);
    body
}

/// Sends a handler's reply packets to `out`, as Nest does: one value with `isDisposed`; a
/// stream's values as they come, the completion merged into the last value when it is already
/// known, else sent alone; an error as a final `err`.
pub(crate) async fn send_replies(reply: HandlerReply, id: Option<&[u8]>, out: &impl ReplyOut) {
    let send = |reply: Reply<'_>| {
        let mut body = Vec::with_capacity(64);
        encode_reply(&mut body, reply, id);
        out.send(body)
    };
    let mut items = match reply {
        HandlerReply::One(result) => {
            let _ = out.send(one_reply(&result, id)).await;
            return;
        }
        HandlerReply::Stream(items) => items,
    };
    let mut held: Option<Vec<u8>> = None;
    loop {
        let next = match items.next().now_or_never() {
            Some(next) => next,
            None => {
                // The stream is waiting: what we hold is not the last value.
                if let Some(json) = held.take() {
                    let _ = send(Reply::Value {
                        json: &json,
                        last: false,
                    })
                    .await;
                }
                items.next().await
            }
        };
        match next {
            Some(Ok(json)) => {
                if let Some(previous) = held.replace(json) {
                    let _ = send(Reply::Value {
                        json: &previous,
                        last: false,
                    })
                    .await;
                }
            }
            Some(Err(exception)) => {
                if let Some(json) = held.take() {
                    let _ = send(Reply::Value {
                        json: &json,
                        last: false,
                    })
                    .await;
                }
                let _ = send(Reply::Error {
                    json: &exception.to_json(),
                })
                .await;
                return;
            }
            None => {
                let _ = match held.take() {
                    Some(json) => {
                        send(Reply::Value {
                            json: &json,
                            last: true,
                        })
                        .await
                    }
                    None => send(Reply::Done).await,
                };
                return;
            }
        }
    }
}

/// Sends a handler's reply packets through `publish` as they come (Nest's reply packets; `id`
/// echoed in each unless the transport correlates outside the body): for transports that
/// publish each reply through a client library rather than a writer queue.
pub(crate) async fn answer<Fut>(
    reply: impl Future<Output = HandlerReply>,
    id: Option<Bytes>,
    mut publish: impl FnMut(Vec<u8>) -> Fut,
) where
    Fut: Future<Output = ()>,
{
    let items = match reply.await {
        // One value (or an error): one packet, published as is (the usual case: no queue).
        HandlerReply::One(result) => return publish(one_reply(&result, id.as_deref())).await,
        stream => stream,
    };
    // Boxed: the stream's machinery would otherwise size every message's future.
    Box::pin(answer_stream(items, id, publish)).await
}

/// A stream's reply packets, published as they come while the stream goes on.
async fn answer_stream<Fut>(
    items: HandlerReply,
    id: Option<Bytes>,
    mut publish: impl FnMut(Vec<u8>) -> Fut,
) where
    Fut: Future<Output = ()>,
{
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(16);
    let pump = async {
        while let Some(body) = rx.recv().await {
            publish(body).await;
        }
    };
    let produce = async move { send_replies(items, id.as_deref(), &tx).await };
    tokio::join!(produce, pump);
}
