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
pub use server::{ServerOptions, ShutdownHandle, TcpServer};

use futures_util::SinkExt;
use tokio::io::AsyncWrite;
use tokio::sync::mpsc;
use tokio_util::codec::FramedWrite;

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
