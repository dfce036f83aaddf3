//! Nest's `Transport.TCP`: length-prefixed JSON over one TCP connection per client.
//!
//! - [`codec`]: the framing (`<utf16 length>#<json>`).
//! - `client`: the connection behind a TCP [`ClientProxy`](crate::client::ClientProxy).
//! - [`server`]: [`TcpServer`], a microservice listener that routes to a
//!   [`MessageRouter`](crate::server::MessageRouter).

pub(crate) mod client;
pub mod codec;
pub mod server;

pub use codec::{CodecError, NestCodec, DEFAULT_MAX_FRAME_UNITS};
pub use server::{ServerError, ServerOptions, ShutdownHandle, TcpServer};

use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio_util::codec::{FramedRead, FramedWrite};

/// Nest's default `incompleteMessageTimeout`: how long a half-received frame may sit with no
/// new bytes before the connection is closed.
pub const DEFAULT_INCOMPLETE_TIMEOUT: Duration = Duration::from_secs(30);

/// The next frame, like `frames.next()`, except that a peer that stops sending in the middle
/// of a frame (no new bytes for a whole `idle` tick, so between one and two `idle`s) yields
/// [`CodecError::Stalled`]. Waiting for the *start* of a frame is never limited: idle
/// connections are fine.
pub(crate) async fn next_frame<R: AsyncRead + Unpin>(
    frames: &mut FramedRead<R, NestCodec>,
    idle: Duration,
) -> Option<Result<Bytes, CodecError>> {
    let mut buffered = frames.read_buffer().len();
    loop {
        // `next()` is cancel-safe: bytes read so far stay in the buffer.
        match tokio::time::timeout(idle, frames.next()).await {
            Ok(next) => return next,
            Err(_) => {
                let now = frames.read_buffer().len();
                if now > 0 && now == buffered {
                    return Some(Err(CodecError::Stalled {
                        buffered: now,
                        idle,
                    }));
                }
                buffered = now;
            }
        }
    }
}

/// Writes every JSON body from `bodies` as a frame, batching whatever is queued into one
/// write. Ends when every sender is gone (`Ok`) or the socket fails (`Err`).
pub(crate) async fn write_frames<W: AsyncWrite + Unpin>(
    writer: W,
    bodies: &mut mpsc::Receiver<Vec<u8>>,
) -> Result<(), CodecError> {
    let mut sink = FramedWrite::new(writer, NestCodec::default());
    while let Some(first) = bodies.recv().await {
        sink.feed(first).await?;
        while let Ok(next) = bodies.try_recv() {
            sink.feed(next).await?;
        }
        SinkExt::<Vec<u8>>::flush(&mut sink).await?;
    }
    Ok(())
}
