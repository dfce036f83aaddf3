use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::transport::tcp::{DEFAULT_INCOMPLETE_TIMEOUT, DEFAULT_MAX_FRAME_UNITS};

/// The deadline a call gets when neither the client nor the call sets one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// How to reach one service: its name (the token it is injected under, e.g. `USERS_SERVICE`),
/// its transport and address, and call defaults. Nest's `ClientOptions`.
///
/// ```
/// # use gateway_core::client::ClientOptions;
/// # use std::time::Duration;
/// let users = ClientOptions::tcp("USERS_SERVICE", "127.0.0.1:3001").timeout(Duration::from_secs(2));
/// assert_eq!(users.name(), "USERS_SERVICE");
/// ```
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub(crate) name: Arc<str>,
    pub(crate) transport: TransportOptions,
    pub(crate) timeout: Duration,
}

#[derive(Debug, Clone)]
pub(crate) enum TransportOptions {
    Tcp {
        addr: Arc<str>,
        max_frame_units: usize,
        incomplete_timeout: Duration,
    },
    #[cfg(feature = "nats")]
    Nats { url: Arc<str> },
    #[cfg(feature = "redis")]
    Redis { url: Arc<str> },
    #[cfg(feature = "mqtt")]
    Mqtt { url: Arc<str> },
    #[cfg(feature = "rmq")]
    Rmq { url: Arc<str>, queue: Arc<str> },
}

impl ClientOptions {
    /// A Nest `Transport.TCP` client for the service at `addr` (`host:port`; a host name is
    /// resolved at connect time and every address it resolves to is tried).
    pub fn tcp(name: impl Into<String>, addr: impl Into<String>) -> Self {
        let transport = TransportOptions::Tcp {
            addr: addr.into().into(),
            max_frame_units: DEFAULT_MAX_FRAME_UNITS,
            incomplete_timeout: DEFAULT_INCOMPLETE_TIMEOUT,
        };
        Self::with(name, transport)
    }

    fn with(name: impl Into<String>, transport: TransportOptions) -> Self {
        ClientOptions {
            name: name.into().into(),
            transport,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// A Nest `Transport.NATS` client (feature `nats`) through the NATS at `url`
    /// (`nats://127.0.0.1:4222`): the service is found by subject, wherever it runs, and
    /// several instances in a queue group share the calls.
    #[cfg(feature = "nats")]
    pub fn nats(name: impl Into<String>, url: impl Into<String>) -> Self {
        Self::with(
            name,
            TransportOptions::Nats {
                url: url.into().into(),
            },
        )
    }

    /// A Nest `Transport.REDIS` client (feature `redis`) through the Redis at `url`
    /// (`redis://127.0.0.1:6379`). A pattern no service handles is never answered (Redis
    /// drops the message): such a call ends at its deadline.
    #[cfg(feature = "redis")]
    pub fn redis(name: impl Into<String>, url: impl Into<String>) -> Self {
        Self::with(
            name,
            TransportOptions::Redis {
                url: url.into().into(),
            },
        )
    }

    /// A Nest `Transport.MQTT` client (feature `mqtt`) through the broker at `url`
    /// (`mqtt://127.0.0.1:1883`). A pattern no service handles is never answered (the broker
    /// drops the message): such a call ends at its deadline.
    #[cfg(feature = "mqtt")]
    pub fn mqtt(name: impl Into<String>, url: impl Into<String>) -> Self {
        Self::with(
            name,
            TransportOptions::Mqtt {
                url: url.into().into(),
            },
        )
    }

    /// A Nest `Transport.RMQ` client (feature `rmq`) for the service consuming `queue` on the
    /// broker at `url` (`amqp://guest:guest@127.0.0.1:5672`). Several service instances on the
    /// queue share the calls (competing consumers).
    #[cfg(feature = "rmq")]
    pub fn rmq(name: impl Into<String>, url: impl Into<String>, queue: impl Into<String>) -> Self {
        let (url, queue) = (url.into().into(), queue.into().into());
        Self::with(name, TransportOptions::Rmq { url, queue })
    }

    /// The deadline for every call that does not set its own (default: 5 s). It covers the
    /// whole call: connecting, writing and waiting for the final reply.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// TCP only: the largest reply frame accepted, in UTF-16 units (Nest's `maxBufferSize`, default
    /// 128 Mi). A larger one is treated as a corrupt frame: the connection is closed.
    pub fn max_frame_units(mut self, units: usize) -> Self {
        match &mut self.transport {
            TransportOptions::Tcp {
                max_frame_units, ..
            } => *max_frame_units = units,
            #[cfg(feature = "nats")]
            TransportOptions::Nats { .. } => {}
            #[cfg(feature = "redis")]
            TransportOptions::Redis { .. } => {}
            #[cfg(feature = "mqtt")]
            TransportOptions::Mqtt { .. } => {}
            #[cfg(feature = "rmq")]
            TransportOptions::Rmq { .. } => {}
        }
        self
    }

    /// TCP only: how long a half-received reply frame may wait for more bytes before the connection is
    /// closed and its calls fail (Nest's `incompleteMessageTimeout`, default 30 s). Without
    /// it, a service that stops mid-frame would wedge every later call on the connection.
    pub fn incomplete_timeout(mut self, idle: Duration) -> Self {
        match &mut self.transport {
            TransportOptions::Tcp {
                incomplete_timeout, ..
            } => *incomplete_timeout = idle,
            #[cfg(feature = "nats")]
            TransportOptions::Nats { .. } => {}
            #[cfg(feature = "redis")]
            TransportOptions::Redis { .. } => {}
            #[cfg(feature = "mqtt")]
            TransportOptions::Mqtt { .. } => {}
            #[cfg(feature = "rmq")]
            TransportOptions::Rmq { .. } => {}
        }
        self
    }

    /// The service's name, as given.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Per-call settings for [`ClientProxy::send_with`](super::ClientProxy::send_with) and friends.
///
/// A call's budget is the earlier of `timeout` (from now) and `deadline`; with neither, the
/// client's default timeout. Use `deadline` to carve several parallel calls out of one HTTP
/// request's budget.
#[derive(Debug, Clone, Default)]
pub struct CallOptions {
    pub(crate) timeout: Option<Duration>,
    pub(crate) deadline: Option<Instant>,
    pub(crate) headers: Option<Arc<[(String, String)]>>,
}

impl CallOptions {
    /// This call may take at most `timeout`.
    pub fn timeout(timeout: Duration) -> Self {
        CallOptions {
            timeout: Some(timeout),
            ..CallOptions::default()
        }
    }

    /// This call must be done by `deadline`.
    pub fn deadline(deadline: Instant) -> Self {
        CallOptions {
            deadline: Some(deadline),
            ..CallOptions::default()
        }
    }

    /// Sends a message header with the call: NATS message headers (Nest's
    /// `NatsRecordBuilder.setHeaders`, read by the service from its context) and RabbitMQ
    /// message headers (Nest's `RmqRecordBuilder` options). TCP, Redis and MQTT carry none, as
    /// in Nest: there the header is dropped.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let mut headers: Vec<(String, String)> = self
            .headers
            .as_deref()
            .map(<[_]>::to_vec)
            .unwrap_or_default();
        headers.push((name.into(), value.into()));
        self.headers = Some(headers.into());
        self
    }

    /// Also bound the call by `deadline` (the earlier bound wins).
    pub fn with_deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(self.deadline.map_or(deadline, |d| d.min(deadline)));
        self
    }

    /// The instant the call must end by, and the budget that represents (for messages).
    pub(crate) fn budget(&self, default: Duration) -> (Instant, Duration) {
        let now = Instant::now();
        let deadline = match (self.timeout.map(|t| now + t), self.deadline) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) => a,
            (None, Some(b)) => b,
            (None, None) => now + default,
        };
        (deadline, deadline.saturating_duration_since(now))
    }
}
