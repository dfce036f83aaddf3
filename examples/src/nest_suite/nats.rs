//! `sum-nats`: Nest's NATS app (`src/nats/nats.controller.ts`), ported.

use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::{Stream, StreamExt};
use gateway_core::prelude::*;
use serde_json::json;

use super::{streamed_sum, sum, sums_right, Command};

/// Set by the first and the second `notification` handler of [`NatsController`] (the spec's
/// `NatsController.IS_NOTIFIED` and `IS_NOTIFIED2`).
pub static NOTIFIED: [AtomicBool; 2] = [AtomicBool::new(false), AtomicBool::new(false)];

/// The spec app's `NatsController`: its client is the injected `NATS_CLIENT`.
#[injectable]
pub struct NatsController {
    #[inject("NATS_CLIENT")]
    client: ClientProxy,
}

#[controller]
impl NatsController {
    #[post("")]
    #[http_code(200)]
    async fn call(
        &self,
        #[query] q: Command,
        #[body] data: RawReply,
    ) -> Result<RawReply, RpcError> {
        self.client.connect().await?;
        self.client.send(q.command, &data).await
    }

    #[post("stream")]
    #[http_code(200)]
    async fn stream(&self, #[body] data: RawReply) -> Result<i64, HttpException> {
        streamed_sum(&self.client, "streaming.sum", &data, usize::MAX).await
    }

    #[post("concurrent")]
    #[http_code(200)]
    async fn concurrent(&self, #[body] data: Vec<Vec<i64>>) -> Result<bool, RpcError> {
        sums_right(&self.client, "math.sum".into(), &data).await
    }

    /// The service's error, caught and answered as a value (the spec's
    /// `.pipe(catchError(err => of(err)))`).
    #[get("exception")]
    async fn get_error(&self) -> Result<RawReply, RpcError> {
        match self.client.send::<RawReply>("exception", &json!({})).await {
            Err(RpcError::Remote { error, .. }) => {
                Ok(serde_json::value::to_raw_value(&error).expect("JSON"))
            }
            other => other,
        }
    }

    #[post("notify")]
    async fn send_notification(&self) -> Result<(), RpcError> {
        self.client.emit("notification", &true).await
    }

    /// A message header set with the call (Nest's `NatsRecordBuilder(data).setHeaders(..)`).
    #[post("record-builder-duplex")]
    #[http_code(200)]
    async fn use_record_builder_duplex(
        &self,
        #[body] data: RawReply,
    ) -> Result<RawReply, RpcError> {
        let options = CallOptions::default().header("x-version", "1.0.0");
        self.client
            .send_with("record-builder-duplex", &data, options)
            .await
    }

    /// The payload, and the header as the handler's context gives it.
    #[message_pattern("record-builder-duplex")]
    async fn handle_record_builder_duplex(
        &self,
        #[payload] data: serde_json::Value,
        #[ctx] context: MessageContext,
    ) -> serde_json::Value {
        json!({ "data": data, "headers": { "x-version": context.header("x-version") } })
    }

    #[message_pattern("math.*")]
    async fn sum(&self, #[payload] data: Option<Vec<i64>>, #[ctx] _context: MessageContext) -> i64 {
        sum(data)
    }

    #[message_pattern("async.*")]
    async fn async_sum(&self, data: Option<Vec<i64>>) -> i64 {
        tokio::task::yield_now().await;
        sum(data)
    }

    #[message_pattern("stream.*")]
    fn stream_sum(
        &self,
        data: Option<Vec<i64>>,
    ) -> impl Stream<Item = Result<i64, RpcException>> + Send + 'static {
        futures_util::stream::iter([Ok(sum(data))])
    }

    #[message_pattern("streaming.*")]
    fn streaming(
        &self,
        data: Vec<i64>,
    ) -> impl Stream<Item = Result<i64, RpcException>> + Send + 'static {
        futures_util::stream::iter(data.into_iter().map(Ok))
    }

    #[message_pattern("exception")]
    async fn throw_error(&self) -> Result<i64, RpcException> {
        Err(RpcException::new("test"))
    }

    #[event_pattern("notification")]
    async fn event_handler(&self, #[payload] data: bool) {
        NOTIFIED[0].store(data, Ordering::SeqCst);
    }

    #[event_pattern("notification")]
    async fn event_handler2(&self, #[payload] data: bool) {
        NOTIFIED[1].store(data, Ordering::SeqCst);
    }
}

/// The NATS URL of the NATS apps: `NATS_URL`, default `nats://127.0.0.1:4222`.
pub fn url() -> String {
    crate::config().get_or("NATS_URL", "nats://127.0.0.1:4222".to_owned())
}

/// The NATS app's module: the controller and its client.
#[module(
    imports = [ClientsModule::register([ClientOptions::nats("NATS_CLIENT", url())])],
    controllers = [NatsController],
)]
pub struct NatsModule;

/// The NATS spec's set-up: the app with a NATS microservice connected and started.
pub async fn create() -> Result<NestApplication, BootError> {
    super::hybrid::<NatsModule>([Transport::nats(url())]).await
}

/// `broadcast-nats`: Nest's `NatsBroadcastController`. Two NATS microservices of one app both
/// answer `broadcast.*` (no queue group: each gets every message).
#[injectable]
pub struct NatsBroadcastController {
    #[inject("NATS_CLIENT")]
    client: ClientProxy,
}

#[controller]
impl NatsBroadcastController {
    /// The first two values of the replies, summed: one from each instance.
    #[get("broadcast")]
    async fn multicast(&self) -> Result<i64, HttpException> {
        streamed_sum(&self.client, "broadcast.test", &json!({}), 2).await
    }

    /// One value, and the reply never completes (the spec's `observer.next(1)`).
    #[message_pattern("broadcast.*")]
    fn reply_broadcast(&self) -> impl Stream<Item = Result<i64, RpcException>> + Send + 'static {
        futures_util::stream::once(async { Ok(1) }).chain(futures_util::stream::pending())
    }

    #[get("subject")]
    async fn get_subject(&self) -> Result<String, RpcError> {
        self.client.send("retrieve.subject.hello", &json!({})).await
    }

    /// The subject the message came on (Nest's second handler argument, its context).
    #[message_pattern("retrieve.subject.*")]
    async fn reply_subject(&self, _data: serde_json::Value, context: MessageContext) -> String {
        context.subject().to_owned()
    }
}

/// `multicast-nats`: Nest's `NatsMulticastController`, the same with an object pattern.
#[injectable]
pub struct NatsMulticastController {
    #[inject("NATS_CLIENT")]
    client: ClientProxy,
}

#[controller]
impl NatsMulticastController {
    /// The first two values of the replies, summed: one from each instance.
    #[get("multicast")]
    async fn multicast(&self) -> Result<i64, HttpException> {
        streamed_sum(&self.client, pattern!({ cmd: "multicast" }), &json!({}), 2).await
    }

    /// One value, and the reply never completes.
    #[message_pattern({ cmd: "multicast" })]
    fn reply_multicast(&self) -> impl Stream<Item = Result<i64, RpcException>> + Send + 'static {
        futures_util::stream::once(async { Ok(1) }).chain(futures_util::stream::pending())
    }
}

/// The broadcast and multicast apps' module (one app serves both specs).
#[module(
    imports = [ClientsModule::register([ClientOptions::nats("NATS_CLIENT", url())])],
    controllers = [NatsBroadcastController, NatsMulticastController],
)]
pub struct NatsBroadcastModule;

/// The broadcast and multicast specs' set-up: two NATS microservices connected to one app.
pub async fn create_broadcast() -> Result<NestApplication, BootError> {
    super::hybrid::<NatsBroadcastModule>([Transport::nats(url()), Transport::nats(url())]).await
}
