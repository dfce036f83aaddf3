//! Transports: how packets travel between a client proxy and a microservice.
//!
//! One module per transport, each speaking its Nest counterpart's wire format exactly (see
//! `docs/nest-wire.md`) and owning both sides: the client (a
//! [`ClientTransport`](crate::client::ClientTransport) behind its `ClientOptions::tcp(..)`-style
//! constructor) and the server (a [`Server`](crate::server::Server) behind its
//! `Transport::tcp(..)`-style constructor). No transport module imports another; what they
//! share lives in [`client`](crate::client) (the connection seam), [`server`](crate::server)
//! (the dispatcher, shutdown, grace period) and `packet` (Nest's JSON packets).
//!
//! | module | feature | Nest |
//! | --- | --- | --- |
//! | [`tcp`] | always | `Transport.TCP` |
//! | `nats` | `nats` | `Transport.NATS` |
//! | `redis` | `redis` | `Transport.REDIS` |
//! | `mqtt` | `mqtt` | `Transport.MQTT` |
//! | `rmq` | `rmq` | `Transport.RMQ` |
//! | `grpc` | `grpc` | `Transport.GRPC` |

pub mod tcp;

#[cfg(feature = "grpc")]
pub mod grpc;
#[cfg(feature = "mqtt")]
pub mod mqtt;
#[cfg(feature = "nats")]
pub mod nats;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "rmq")]
pub mod rmq;

#[cfg(any(feature = "nats", feature = "redis", feature = "mqtt"))]
mod outbox;

/// The HTTP status for a gRPC status code (without the `grpc` feature no call yields one).
pub(crate) fn grpc_http_status(code: i32) -> u16 {
    #[cfg(feature = "grpc")]
    return grpc::http_status_of(code);
    #[cfg(not(feature = "grpc"))]
    {
        let _ = code;
        500
    }
}
