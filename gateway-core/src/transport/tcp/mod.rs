//! Nest's `Transport.TCP`: length-prefixed JSON over one TCP connection per client.
//!
//! - [`codec`]: the framing (`<utf16 length>#<json>`).
//! - `client`: the connection behind a TCP [`ClientProxy`](crate::client::ClientProxy).
//! - [`server`]: [`TcpServer`], a microservice listener that routes to a
//!   [`MessageRouter`](crate::server::MessageRouter).

mod budget;
mod client;
pub mod codec;
pub mod server;

/// Re-exported from [`server`](crate::server), where every transport's servers share them.
pub use crate::server::{ServerError, ShutdownHandle};
pub use codec::{CodecError, NestCodec, DEFAULT_MAX_FRAME_UNITS};
pub use server::{ServerOptions, TcpServer};

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};
use tokio_util::codec::{FramedRead, FramedWrite};

/// Nest's default `incompleteMessageTimeout`: how long a half-received frame may sit with no
/// new bytes before the connection is closed.
pub const DEFAULT_INCOMPLETE_TIMEOUT: Duration = Duration::from_secs(30);

/// The next frame, like `frames.next()`, except that a peer that stops sending in the middle
/// of a frame (no new bytes for `idle`) yields [`CodecError::Stalled`]. Waiting for the
/// *start* of a frame is never limited: idle connections are fine.
///
/// With `whole`, a frame must also be complete within that long of its first byte being seen
/// ([`CodecError::Unfinished`]): a peer trickling a byte now and then cannot hold a buffer
/// forever.
///
/// The timers exist only while part of a frame is buffered, so the usual frame, read whole,
/// costs no timer.
pub(crate) async fn next_frame<R: AsyncRead + Unpin>(
    frames: &mut FramedRead<R, NestCodec>,
    idle: Duration,
    whole: Option<Duration>,
) -> Option<Result<Bytes, CodecError>> {
    // The buffered length the timer was armed for, and the timer.
    let mut stall: Option<(usize, Pin<Box<Sleep>>)> = None;
    // The deadline of the frame being read, armed with its first bytes.
    let mut deadline: Option<Pin<Box<Sleep>>> = None;
    std::future::poll_fn(|cx| {
        if let Poll::Ready(next) = frames.poll_next_unpin(cx) {
            return Poll::Ready(next);
        }
        // The codec leaves a frame in the buffer until it is whole: bytes left here are the
        // start of one.
        let buffered = frames.read_buffer().len();
        if buffered == 0 {
            stall = None;
            return Poll::Pending;
        }
        match &mut stall {
            // New bytes came: the peer has `idle` again.
            Some((seen, timer)) if *seen != buffered => {
                *seen = buffered;
                timer.as_mut().reset(Instant::now() + idle);
            }
            Some(_) => {}
            None => stall = Some((buffered, Box::pin(tokio::time::sleep(idle)))),
        }
        if let Some(within) = whole {
            let timer = deadline.get_or_insert_with(|| Box::pin(tokio::time::sleep(within)));
            if timer.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Some(Err(CodecError::Unfinished { buffered, within })));
            }
        }
        let (_, timer) = stall.as_mut().expect("armed above");
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(CodecError::Stalled { buffered, idle }))),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// Writes every JSON body from `bodies` as a frame, batching whatever is queued into one
/// write. Ends when every sender is gone (`Ok`) or the socket fails (`Err`).
///
/// `busy` says whether more bodies are likely on their way (other calls or requests in flight
/// on this connection). Then the writer first lets every other task that is ready run, once,
/// so the frames they queue (other HTTP requests' calls, other handlers' replies) leave in the
/// same write: one syscall and one TCP segment for many frames, for us and for the peer
/// reading them. A lone call is written at once. `written` hears how many body bytes each
/// flush handed to the socket.
pub(crate) async fn write_frames<W: AsyncWrite + Unpin>(
    writer: W,
    bodies: &mut mpsc::Receiver<Vec<u8>>,
    busy: impl Fn() -> bool,
    written: impl Fn(usize),
) -> Result<(), CodecError> {
    let mut sink = FramedWrite::new(writer, NestCodec::default());
    while let Some(first) = bodies.recv().await {
        let mut bytes = first.len();
        sink.feed(first).await?;
        if bodies.is_empty() && busy() {
            tokio::task::yield_now().await;
        }
        while let Ok(next) = bodies.try_recv() {
            bytes += next.len();
            sink.feed(next).await?;
        }
        SinkExt::<Vec<u8>>::flush(&mut sink).await?;
        written(bytes);
    }
    Ok(())
}
