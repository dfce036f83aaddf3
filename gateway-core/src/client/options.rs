use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::transport::ClientTransport;

/// The deadline a call gets when neither the client nor the call sets one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// How to reach one service: its name (the token it is injected under, e.g. `USERS_SERVICE`),
/// its transport and address, and call defaults. Nest's `ClientOptions`.
///
/// Each transport module adds its constructor: [`tcp`](Self::tcp) always, `nats`, `redis`,
/// `mqtt`, `rmq` with their features; [`custom`](Self::custom) takes a transport of your own.
///
/// ```
/// # use gateway_core::client::ClientOptions;
/// # use std::time::Duration;
/// let users = ClientOptions::tcp("USERS_SERVICE", "127.0.0.1:3001").timeout(Duration::from_secs(2));
/// assert_eq!(users.name(), "USERS_SERVICE");
/// ```
#[derive(Clone)]
pub struct ClientOptions {
    pub(crate) name: Arc<str>,
    pub(crate) address: Arc<str>,
    pub(crate) make: Arc<dyn Fn() -> Box<dyn ClientTransport> + Send + Sync>,
    pub(crate) timeout: Duration,
    pub(crate) max_frame_units: Option<usize>,
    pub(crate) incomplete_timeout: Option<Duration>,
    pub(crate) on_dispatch: Option<DispatchHook>,
    pub(crate) circuit_breaker: Option<super::CircuitBreaker>,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::tls::TlsOptions>,
}

/// A client's dispatch hook (see [`ClientOptions::on_dispatch`]).
pub(crate) type DispatchHook = Arc<dyn Fn(&mut DispatchPacket<'_>) + Send + Sync>;

/// A request or event about to be sent, as a dispatch hook sees it: its pattern and payload,
/// and the metadata it will carry (Nest 12's `packet.metadata`).
#[derive(Debug)]
pub struct DispatchPacket<'a> {
    pub(crate) pattern: &'a crate::pattern::Pattern,
    pub(crate) data: serde_json::Value,
    pub(crate) metadata: Vec<(String, String)>,
}

impl DispatchPacket<'_> {
    /// The packet's pattern.
    pub fn pattern(&self) -> &crate::pattern::Pattern {
        self.pattern
    }

    /// The packet's payload, as JSON.
    pub fn data(&self) -> &serde_json::Value {
        &self.data
    }

    /// The metadata so far (the call's own, then what the hook set).
    pub fn metadata(&self) -> &[(String, String)] {
        &self.metadata
    }

    /// Sets one metadata entry (replacing an entry of the same key).
    pub fn set_metadata(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let (key, value) = (key.into(), value.into());
        match self.metadata.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => self.metadata.push((key, value)),
        }
    }
}

impl std::fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientOptions")
            .field("name", &self.name)
            .field("address", &self.address)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl ClientOptions {
    /// A client for `name` over a transport of your own (Nest's custom `ClientProxy`):
    /// `make` builds one transport per client proxy; `address` names where it goes (for logs
    /// and errors). See [`ClientTransport`].
    pub fn custom<T: ClientTransport>(
        name: impl Into<String>,
        address: impl Into<String>,
        make: impl Fn() -> T + Send + Sync + 'static,
    ) -> Self {
        ClientOptions {
            name: name.into().into(),
            address: address.into().into(),
            make: Arc::new(move || Box::new(make())),
            timeout: DEFAULT_TIMEOUT,
            max_frame_units: None,
            incomplete_timeout: None,
            on_dispatch: None,
            circuit_breaker: None,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// Calls `hook` with every request and event this client sends, right before it goes:
    /// the hook may attach metadata (`packet.set_metadata("x-request-id", id)`), which the
    /// packet carries beside its payload and a Nest 12 service reads from its context
    /// (`TcpContext.getMetadata()`, `RedisContext.getMetadata()`; ours:
    /// [`MessageContext::metadata`](crate::server::MessageContext::metadata)). Nest 12's
    /// `client.setOnDispatchHook`. The payload is shown to the hook as JSON.
    pub fn on_dispatch(
        mut self,
        hook: impl Fn(&mut DispatchPacket<'_>) + Send + Sync + 'static,
    ) -> Self {
        self.on_dispatch = Some(Arc::new(hook));
        self
    }

    /// The same options under another name (`register_async` names its clients).
    pub(crate) fn named(mut self, name: Arc<str>) -> Self {
        self.name = name;
        self
    }

    /// The deadline for every call that does not set its own (default: 5 s). It covers the
    /// whole call: connecting, writing and waiting for the final reply.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Turns on a [`CircuitBreaker`](super::CircuitBreaker) (off by default): after calls in
    /// a row fail for want of the service, the next ones fail at once
    /// ([`RpcError::CircuitOpen`](super::RpcError::CircuitOpen), 503 at the HTTP edge)
    /// instead of each waiting its deadline, until a probe call succeeds.
    pub fn circuit_breaker(mut self, breaker: super::CircuitBreaker) -> Self {
        self.circuit_breaker = Some(breaker);
        self
    }

    /// Connects over TLS (feature `tls`): Nest's `tlsOptions` for TCP; for the brokers, with
    /// a `rediss://`, `amqps://`, `mqtts://` or `tls://` URL, the certificates to trust and
    /// show. See [`tls`](crate::tls).
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: crate::tls::TlsOptions) -> Self {
        self.tls = Some(tls);
        self
    }

    /// The largest reply frame accepted, in UTF-16 units (Nest's `maxBufferSize`, default
    /// 128 Mi), for transports that frame a byte stream (TCP). A larger one is treated as a
    /// corrupt frame: the connection is closed.
    pub fn max_frame_units(mut self, units: usize) -> Self {
        self.max_frame_units = Some(units);
        self
    }

    /// How long a half-received reply frame may wait for more bytes before the connection is
    /// closed and its calls fail (Nest's `incompleteMessageTimeout`, default 30 s), for
    /// transports that frame a byte stream (TCP). Without it, a service that stops mid-frame
    /// would wedge every later call on the connection.
    pub fn incomplete_timeout(mut self, idle: Duration) -> Self {
        self.incomplete_timeout = Some(idle);
        self
    }

    /// The service's name, as given.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where the transport goes: the address or URL given.
    pub fn address(&self) -> &str {
        &self.address
    }
}

/// `list` with one more entry (call options are built once per call, shared after).
fn pushed(
    list: Option<&[(String, String)]>,
    key: String,
    value: String,
) -> Arc<[(String, String)]> {
    let mut list = list.map(<[_]>::to_vec).unwrap_or_default();
    list.push((key, value));
    list.into()
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
    pub(crate) metadata: Option<Arc<[(String, String)]>>,
    pub(crate) qos: Option<u8>,
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
        self.headers = Some(pushed(self.headers.as_deref(), name.into(), value.into()));
        self
    }

    /// Attaches metadata to the packet, beside its payload: `{"pattern":..,"data":..,
    /// "metadata":{"x-request-id":".."},"id":..}`, Nest 12's packet metadata, read by a Nest 12
    /// service from `TcpContext.getMetadata()` or `RedisContext.getMetadata()` (ours:
    /// [`MessageContext::metadata`](crate::server::MessageContext::metadata), on every
    /// transport). A Nest 11 service ignores it.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata = Some(pushed(self.metadata.as_deref(), key.into(), value.into()));
        self
    }

    /// Publishes the call with this MQTT QoS (0, 1 or 2; default 0), as Nest's
    /// `new MqttRecordBuilder(data).setQoS(1)`. The other transports ignore it.
    pub fn qos(mut self, qos: u8) -> Self {
        self.qos = Some(qos.min(2));
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
