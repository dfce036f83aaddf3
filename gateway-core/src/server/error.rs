//! [`ServerError`]: why a microservice's server could not start.

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The address could not be bound (TCP).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// The broker could not be reached, or refused what the server needs (a queue, a
    /// subscription).
    #[error("cannot connect to {url}: {source}")]
    Connect {
        /// The broker's URL, as given.
        url: String,
        /// What the broker's client library said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Two request handlers share a pattern.
    #[error("the pattern {route} has more than one message handler")]
    DuplicatePattern {
        /// The normalized pattern.
        route: String,
    },
}
