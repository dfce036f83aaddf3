//! The client side of Nest's `Transport.TCP`, as Nest's `ClientTCP` keeps it: one socket,
//! opened on first use, shared by every caller, multiplexed by packet id. When it closes
//! (EOF, socket error, corrupt frame) every pending call fails at once and the next call opens
//! a new one. There is no background reconnect loop.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::codec::FramedRead;

use super::DEFAULT_MAX_FRAME_UNITS;
use super::{next_frame, write_frames, CodecError, NestCodec, DEFAULT_INCOMPLETE_TIMEOUT};
use crate::client::{
    BoxFuture, ClientOptions, ClientTransport, ConnectContext, Connection, EventPattern, RpcError,
    CONNECTION_CLOSED,
};
use crate::packet::Response;

/// Frames queued for the writer before callers wait for room.
const WRITE_QUEUE: usize = 1024;

impl ClientOptions {
    /// A Nest `Transport.TCP` client for the service at `addr` (`host:port`; a host name is
    /// resolved at connect time and every address it resolves to is tried).
    pub fn tcp(name: impl Into<String>, addr: impl Into<String>) -> Self {
        let addr: String = addr.into();
        ClientOptions::custom(name, addr, || TcpTransport)
    }
}

/// The TCP client transport: see the module docs.
struct TcpTransport;

impl ClientTransport for TcpTransport {
    fn name(&self) -> &'static str {
        "tcp"
    }

    fn connect<'a>(
        &'a self,
        context: &'a ConnectContext,
    ) -> BoxFuture<'a, Result<Arc<Connection>, RpcError>> {
        Box::pin(async move {
            let addr = context.address();
            // `connect` tries every address the host resolves to (`localhost` may be ::1 first).
            let stream = TcpStream::connect(&**addr)
                .await
                .map_err(|source| context.connect_error(source))?;
            let _ = stream.set_nodelay(true);
            tracing::debug!(service = %context.service(), %addr, "connected");
            let max_frame_units = context.max_frame_units().unwrap_or(DEFAULT_MAX_FRAME_UNITS);
            let incomplete_timeout = context
                .incomplete_timeout()
                .unwrap_or(DEFAULT_INCOMPLETE_TIMEOUT);
            #[cfg(feature = "tls")]
            if let Some(tls) = context.tls() {
                let stream = handshake(tls, addr, stream)
                    .await
                    .map_err(|source| context.connect_error(source))?;
                let (read, write) = tokio::io::split(stream);
                return Ok(start(
                    read,
                    write,
                    context.service().clone(),
                    max_frame_units,
                    incomplete_timeout,
                ));
            }
            let (read, write) = stream.into_split();
            Ok(start(
                read,
                write,
                context.service().clone(),
                max_frame_units,
                incomplete_timeout,
            ))
        })
    }

    /// Over TCP, Nest sends an event's pattern as its normalized string.
    fn event_pattern(&self) -> EventPattern {
        EventPattern::Route
    }
}

/// How long a closed connection's writer may go on writing what was queued before the close.
const CLOSE_FLUSH: Duration = Duration::from_millis(200);

/// After a close: lets `writing` write out the queue (bounded by [`CLOSE_FLUSH`]).
async fn flush(
    mut writing: std::pin::Pin<&mut impl std::future::Future<Output = Result<(), CodecError>>>,
    conn: &Connection,
) -> Result<(), CodecError> {
    let until = tokio::time::Instant::now() + CLOSE_FLUSH;
    loop {
        // A writer idle for a moment with nothing queued has written everything.
        match tokio::time::timeout(Duration::from_millis(5), writing.as_mut()).await {
            Ok(result) => return result,
            Err(_) if conn.queued() == 0 => return Ok(()),
            Err(_) if tokio::time::Instant::now() >= until => return Ok(()),
            Err(_) => {}
        }
    }
}

/// The TLS handshake over `stream`, checking the certificate against `addr`'s host (or the
/// configured server name).
#[cfg(feature = "tls")]
async fn handshake(
    tls: &crate::tls::TlsOptions,
    addr: &str,
    stream: TcpStream,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let invalid =
        |e: crate::tls::TlsError| std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
    let name = tls
        .server_name_for(crate::tls::host_of(addr))
        .map_err(invalid)?;
    let config = tls.client_config().map_err(invalid)?;
    tokio_rustls::TlsConnector::from(config)
        .connect(name, stream)
        .await
}

/// Starts the connection's writer and reader tasks.
fn start<R, W>(
    read: R,
    write: W,
    service: Arc<str>,
    max_frame_units: usize,
    incomplete_timeout: Duration,
) -> Arc<Connection>
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
    W: tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (bodies, mut queue) = mpsc::channel(WRITE_QUEUE);
    let conn = Connection::with_queue(bodies);

    let writer = conn.clone();
    let writer_service = service.clone();
    tokio::spawn(async move {
        let writing = write_frames(write, &mut queue, || writer.pending_calls() > 1, |_| {});
        tokio::pin!(writing);
        let result = tokio::select! {
            result = &mut writing => result,
            // Closed (by the client, or because it is dropped): what was queued before (an
            // event just emitted) still goes out, as Node's `socket.end()` flushes; a short,
            // bounded grace, ended as soon as the queue is empty and the writer idle.
            _ = writer.closed() => flush(writing.as_mut(), &writer).await,
        };
        if let Err(error) = result {
            tracing::warn!(service = %writer_service, %error, "write failed; closing the connection");
            writer.close(error.to_string());
        }
    });

    let reader = conn.clone();
    tokio::spawn(async move {
        let mut frames = FramedRead::new(read, NestCodec::new(max_frame_units));
        let reason: Arc<str> = loop {
            let next = tokio::select! {
                next = next_frame(&mut frames, incomplete_timeout, None) => next,
                _ = reader.closed() => return,
            };
            match next {
                // Nest's usual final reply goes to its call unread: the call's own decoding
                // is the one pass over it (`ClientProxy::decode_unchecked`).
                Some(Ok(frame)) if reader.deliver_usual(&frame, true) => {}
                Some(Ok(frame)) => match Response::parse(&frame) {
                    Ok(packet) => reader.deliver_parsed(&frame, &packet),
                    Err(error) => break Connection::unparsable(&service, &error),
                },
                Some(Err(error)) => {
                    if let Some(left_out) =
                        crate::log_limit::allow(format!("tcp client {service}: corrupt frame"))
                    {
                        tracing::error!(service = %service, %error, left_out, "corrupt frame from the service; closing the connection");
                    }
                    break error.to_string().into();
                }
                None => break CONNECTION_CLOSED.into(),
            }
        };
        tracing::debug!(service = %service, %reason, "connection closed");
        reader.close(reason);
    });
    conn
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::net::SocketAddr;

    use futures_util::StreamExt;
    use serde_json::{json, Value};
    use tokio::io::AsyncWriteExt;

    use super::*;
    use crate::client::pending::ROUTED_BY_SHAPE;
    use crate::client::ClientProxy;

    /// A raw Nest TCP peer on a free port answering each request with `reply(id)`.
    async fn peer(reply: fn(&str) -> String) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            let (read, mut write) = socket.into_split();
            let mut frames = FramedRead::new(read, NestCodec::new(DEFAULT_MAX_FRAME_UNITS));
            while let Some(Ok(frame)) = frames.next().await {
                let request: Value = serde_json::from_slice(&frame).unwrap();
                let answer = reply(request["id"].as_str().unwrap());
                let frame = format!("{}#{answer}", answer.len());
                write.write_all(frame.as_bytes()).await.unwrap();
            }
        });
        addr
    }

    async fn call(addr: SocketAddr) -> Value {
        let client = ClientProxy::new(ClientOptions::tcp("SHAPED", addr.to_string()));
        client.send("shaped", &1).await.unwrap()
    }

    // The single-threaded runtime runs the reader on this thread: its count is this test's.
    #[tokio::test]
    async fn the_reader_routes_nests_usual_reply_by_its_shape_and_others_by_a_full_read() {
        let routed = || ROUTED_BY_SHAPE.with(Cell::get);
        let usual =
            peer(|id| format!(r#"{{"response":{{"n":[7]}},"isDisposed":true,"id":"{id}"}}"#));
        assert_eq!(call(usual.await).await, json!({ "n": [7] }));
        assert_eq!(routed(), 1, "Nest's usual reply takes the one-pass path");

        let reordered =
            peer(|id| format!(r#"{{"id":"{id}","response":{{"n":[7]}},"isDisposed":true}}"#));
        assert_eq!(call(reordered.await).await, json!({ "n": [7] }));
        assert_eq!(routed(), 1, "another key order is read whole");
    }
}
