use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

/// Why a [`ClientProxy`](super::ClientProxy) call failed.
///
/// Every variant names the service (the client's token, e.g. `USERS_SERVICE`) so a log line
/// says which downstream failed. Matching on the variant tells the cases apart:
///
/// | variant | what happened | Nest's equivalent |
/// | --- | --- | --- |
/// | [`Connect`](Self::Connect) | no connection could be opened | `connect ECONNREFUSED` |
/// | [`ConnectionLost`](Self::ConnectionLost) | the connection closed with the call pending | `Error: Connection closed` |
/// | [`Timeout`](Self::Timeout) | the call's deadline passed | (Nest has no deadline) |
/// | [`Remote`](Self::Remote) | the service answered with `err` | the raw `err` value |
/// | [`Decode`](Self::Decode) | the reply is not the type asked for | — |
/// | [`EmptyResponse`](Self::EmptyResponse) | the service completed without a value | rxjs `EmptyError` |
/// | [`CircuitOpen`](Self::CircuitOpen) | refused at once: the client's circuit breaker is open | (Nest has none) |
/// | [`Grpc`](Self::Grpc) | a gRPC call ended with a status other than `OK` | the grpc-js error (`code`, `details`) |
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RpcError {
    /// The service could not be reached: refused, unknown host, or connect timed out.
    #[error("{service} is unavailable: cannot connect to {addr}: {source}")]
    Connect {
        /// The client's name.
        service: Arc<str>,
        /// The address dialled.
        addr: Arc<str>,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// The connection closed (service restarted, corrupt frame, client closed) while the call
    /// was pending. The next call reconnects.
    #[error("connection to {service} lost: {reason}")]
    ConnectionLost {
        /// The client's name.
        service: Arc<str>,
        /// Why it closed, e.g. `Connection closed` or the decoder's complaint.
        reason: Arc<str>,
    },
    /// No final reply arrived before the deadline. The call was forgotten; a late reply is
    /// dropped.
    #[error("{service} did not answer {pattern} within {timeout:?}")]
    Timeout {
        /// The client's name.
        service: Arc<str>,
        /// The pattern's route.
        pattern: String,
        /// The budget the call had.
        timeout: Duration,
    },
    /// The service answered with an error: the `err` value exactly as sent, e.g.
    /// `{"status":"error","message":"boom"}` or `{"statusCode":404,"message":"User not found"}`.
    #[error("{service} answered {pattern} with an error: {error}")]
    Remote {
        /// The client's name.
        service: Arc<str>,
        /// The pattern's route.
        pattern: String,
        /// The `err` value.
        error: Value,
    },
    /// The reply could not be read as the type the caller asked for.
    #[error("cannot decode the reply of {service} to {pattern}: {source}")]
    Decode {
        /// The client's name.
        service: Arc<str>,
        /// The pattern's route.
        pattern: String,
        /// What serde said.
        #[source]
        source: serde_json::Error,
    },
    /// The service completed the call without sending any value (a Nest handler returned
    /// `undefined` or an empty Observable) and the caller's type cannot be built from `null`.
    #[error("{service} completed {pattern} without sending a value")]
    EmptyResponse {
        /// The client's name.
        service: Arc<str>,
        /// The pattern's route.
        pattern: String,
    },
    /// Refused without being sent: the client's [`CircuitBreaker`](super::CircuitBreaker)
    /// is open after calls in a row failed for want of the service. An HTTP edge answers 503.
    #[error("{service} is unavailable: its circuit is open (next probe in {retry_in:?})")]
    CircuitOpen {
        /// The client's name.
        service: Arc<str>,
        /// How long until a call is let through as a probe (zero: one is under way).
        retry_in: Duration,
    },
    /// A gRPC call ended with a status other than `OK` (feature `grpc`): the service's
    /// `RpcException({ code, message })`, or the transport's own (`UNAVAILABLE` when the
    /// service cannot be reached). A gateway answers it by the gRPC → HTTP table.
    #[error("{service} answered {method} with gRPC status {code}: {message}")]
    Grpc {
        /// The client's name.
        service: Arc<str>,
        /// The method's path, `/hero.HeroesService/FindOne`.
        method: String,
        /// The status code (`5` is `NOT_FOUND`).
        code: i32,
        /// The status message.
        message: String,
    },
    /// The payload could not be serialized to JSON.
    #[error("cannot encode the payload for {pattern}: {source}")]
    Encode {
        /// The pattern's route.
        pattern: String,
        /// What serde said.
        #[source]
        source: serde_json::Error,
    },
}

impl RpcError {
    /// The failure's kind, as metrics label it and traces record it: `remote`, `timeout`,
    /// `connect`, `connection_lost`, `decode`, `empty`, `circuit_open` or `encode`.
    pub fn kind(&self) -> &'static str {
        match self {
            RpcError::Remote { .. } => "remote",
            RpcError::Timeout { .. } => "timeout",
            RpcError::Connect { .. } => "connect",
            RpcError::ConnectionLost { .. } => "connection_lost",
            RpcError::Decode { .. } => "decode",
            RpcError::EmptyResponse { .. } => "empty",
            RpcError::CircuitOpen { .. } => "circuit_open",
            RpcError::Encode { .. } => "encode",
            RpcError::Grpc { .. } => "grpc",
        }
    }

    /// The name of the service the failed call was for, if known.
    pub fn service(&self) -> Option<&str> {
        match self {
            RpcError::Connect { service, .. }
            | RpcError::ConnectionLost { service, .. }
            | RpcError::Timeout { service, .. }
            | RpcError::Remote { service, .. }
            | RpcError::Decode { service, .. }
            | RpcError::EmptyResponse { service, .. }
            | RpcError::CircuitOpen { service, .. }
            | RpcError::Grpc { service, .. } => Some(service),
            RpcError::Encode { .. } => None,
        }
    }

    /// True when the service could not be reached, went away mid-call, or its circuit is
    /// open, so an HTTP edge answers 503.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            RpcError::Connect { .. }
                | RpcError::ConnectionLost { .. }
                | RpcError::CircuitOpen { .. }
                | RpcError::Grpc { code: 14, .. }
        )
    }
}
