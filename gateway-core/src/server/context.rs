//! [`MessageContext`]: what a handler can know of its message besides the payload.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

tokio::task_local! {
    static CONTEXT: MessageContext;
}

/// What a handler can know of the message it handles besides its payload: the subject,
/// channel, topic or queue it came on, and its headers (NATS and RabbitMQ carry headers; TCP,
/// Redis and MQTT none). Nest's `@Ctx()` (`NatsContext.getHeaders()`, `getSubject()`, ...).
///
/// Read it inside a handler's `async` body with [`MessageContext::current`].
#[derive(Debug, Clone, Default)]
pub struct MessageContext {
    subject: String,
    headers: Vec<(String, String)>,
    pattern: Option<String>,
    metadata: Option<std::sync::Arc<serde_json::Value>>,
    qos: Option<u8>,
    user: Option<User>,
    acknowledge: Option<Acknowledger>,
}

/// Settles a message with its broker (RabbitMQ's `basic.ack` and `basic.nack`), once: what a
/// server consuming with acknowledgements puts in each message's context.
pub(crate) trait Acknowledge: Send + Sync {
    /// Acknowledges the message (`None`) or rejects it (`Some(requeue)`); `false` when it was
    /// settled already or the connection is gone.
    fn settle(&self, reject: Option<bool>) -> Pin<Box<dyn Future<Output = bool> + Send + '_>>;
}

#[derive(Clone)]
struct Acknowledger(Arc<dyn Acknowledge>);

impl std::fmt::Debug for Acknowledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Acknowledger(..)")
    }
}

/// The user a guard attached.
#[derive(Clone)]
struct User(Arc<dyn Any + Send + Sync>);

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("User(..)")
    }
}

impl MessageContext {
    /// The context of a message that came on `subject` with `headers`: what a transport's
    /// server builds for each message it hands to the router.
    pub fn new(subject: impl Into<String>, headers: Vec<(String, String)>) -> Self {
        MessageContext {
            subject: subject.into(),
            headers,
            pattern: None,
            metadata: None,
            qos: None,
            user: None,
            acknowledge: None,
        }
    }

    /// The same context, for a message to be acknowledged through `acknowledge`.
    #[cfg_attr(not(feature = "rmq"), allow(dead_code))]
    pub(crate) fn with_acknowledge(mut self, acknowledge: Arc<dyn Acknowledge>) -> Self {
        self.acknowledge = Some(Acknowledger(acknowledge));
        self
    }

    /// Acknowledges the message to its broker: Nest's
    /// `context.getChannelRef().ack(context.getMessage())`, for a RabbitMQ server consuming
    /// with `RmqOptions::no_ack(false)` (feature `rmq`). The broker then forgets it; until
    /// then it counts against the prefetch count, and goes back to the queue if the
    /// connection is lost.
    ///
    /// `false`, doing nothing, when there is nothing to acknowledge: on the other transports,
    /// with Nest's default `noAck: true`, or when the message was acknowledged or rejected
    /// already (RabbitMQ would close the channel over a second one).
    ///
    /// ```
    /// # use gateway_core::server::MessageContext;
    /// async fn handle(order: serde_json::Value, context: MessageContext) -> serde_json::Value {
    ///     // ... the work ...
    ///     context.ack().await;
    ///     order
    /// }
    /// ```
    pub async fn ack(&self) -> bool {
        match &self.acknowledge {
            Some(acknowledge) => acknowledge.0.settle(None).await,
            None => false,
        }
    }

    /// Rejects the message: Nest's `channel.nack(message, false, requeue)`. With `requeue` it
    /// goes back to its queue (to this consumer or another); without, the broker drops it or
    /// dead-letters it. `false` as for [`ack`](Self::ack).
    pub async fn nack(&self, requeue: bool) -> bool {
        match &self.acknowledge {
            Some(acknowledge) => acknowledge.0.settle(Some(requeue)).await,
            None => false,
        }
    }

    /// The same context, with the user a guard attached.
    pub(crate) fn with_user(mut self, user: Arc<dyn Any + Send + Sync>) -> Self {
        self.user = Some(User(user));
        self
    }

    /// The user a guard attached with [`ExecutionContext::set_user`](crate::http::ExecutionContext::set_user),
    /// if it has type `T` (the RPC side of a route's `#[user]`).
    pub fn user<T: 'static>(&self) -> Option<&T> {
        self.user.as_ref()?.0.downcast_ref::<T>()
    }

    /// The same context, with the QoS the message was delivered with (what MQTT's server
    /// sets).
    pub fn with_qos(mut self, qos: u8) -> Self {
        self.qos = Some(qos);
        self
    }

    /// The MQTT QoS the message was delivered with (Nest's `MqttContext.getPacket().qos`);
    /// `None` on the other transports.
    pub fn qos(&self) -> Option<u8> {
        self.qos
    }

    /// The same context, with the metadata the packet carried.
    pub fn with_metadata(mut self, metadata: serde_json::Value) -> Self {
        self.metadata = Some(std::sync::Arc::new(metadata));
        self
    }

    /// What the client attached to the packet beside its payload (Nest 12's packet metadata:
    /// `TcpContext.getMetadata()`, `RedisContext.getMetadata()`; here on every transport), e.g.
    /// `{"x-request-id":"trace-1"}`. `None` when the packet carried none. On TCP, a handler has
    /// a context only when its packet carried metadata.
    pub fn metadata(&self) -> Option<&serde_json::Value> {
        self.metadata.as_deref()
    }

    /// One metadata entry, when it is a string.
    pub fn metadata_value(&self, key: &str) -> Option<&str> {
        self.metadata()?.get(key)?.as_str()
    }

    /// The same context, naming the packet's pattern (what RabbitMQ's server sets).
    pub fn with_pattern(mut self, pattern: impl Into<String>) -> Self {
        self.pattern = Some(pattern.into());
        self
    }

    /// The packet's pattern as a string (Nest's `RmqContext.getPattern()`): a string pattern
    /// as sent, an object one normalized. Set on RabbitMQ, where the routing key may be the
    /// queue's name; elsewhere the [`subject`](Self::subject) is the pattern and this is
    /// `None`.
    pub fn pattern(&self) -> Option<&str> {
        self.pattern.as_deref()
    }

    /// The context of the message the running handler handles (`None` outside a handler, or
    /// on the TCP transport for a packet without metadata).
    pub fn current() -> Option<MessageContext> {
        CONTEXT.try_with(Clone::clone).ok()
    }

    /// The subject (NATS), channel (Redis), topic (MQTT) or queue (RabbitMQ).
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Every header, as received.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// One header's value (the name compared without case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Runs `future` (a handler) with this context.
    pub(crate) fn scope<F: Future>(self, future: F) -> impl Future<Output = F::Output> {
        CONTEXT.scope(self, future)
    }
}

#[cfg(test)]
mod tests {
    use super::MessageContext;

    /// A message no broker waits to hear about (every transport but RabbitMQ with
    /// acknowledgements) has nothing to settle.
    #[tokio::test]
    async fn a_message_without_acknowledgements_settles_nothing() {
        let context = MessageContext::new("users", Vec::new());
        assert!(!context.ack().await);
        assert!(!context.nack(true).await);
    }
}
