//! What interceptors and exception filters see on the RPC side: the rest of a message
//! handler's chain ([`RpcNext`]) and its answer ([`RpcReply`]).

use std::sync::Arc;

use futures_util::future::BoxFuture;
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::Value;

use super::reply::HandlerReply;
use super::RpcException;
use crate::http::{DynInterceptor, RpcContext};

/// A message or event handler's answer, as interceptors and exception filters see it: a value,
/// a stream of values, or an [`RpcException`]. An event's answer is `null` (Nest drops it).
/// What Nest's `next.handle()` gives an interceptor on the RPC side.
pub struct RpcReply(pub(crate) HandlerReply);

impl RpcReply {
    /// A successful answer of `value` (a value that does not serialize is Nest's
    /// `Internal server error`).
    pub fn ok<T: Serialize + ?Sized>(value: &T) -> Self {
        RpcReply(HandlerReply::One(serde_json::to_vec(value).map_err(
            |error| {
                tracing::error!(%error, "an interceptor's value could not be serialized");
                RpcException::internal()
            },
        )))
    }

    /// A failed answer: `exception` is sent as the packet's `err`.
    pub fn err(exception: RpcException) -> Self {
        RpcReply(HandlerReply::One(Err(exception)))
    }

    /// The exception, when the answer is one.
    pub fn error(&self) -> Option<&RpcException> {
        match &self.0 {
            HandlerReply::One(Err(exception)) => Some(exception),
            _ => None,
        }
    }

    /// Whether the answer is a stream of values (a handler returning a `Stream`).
    pub fn is_stream(&self) -> bool {
        matches!(self.0, HandlerReply::Stream(_))
    }

    /// The value, when the answer is one value (not a stream, not an error).
    pub fn value(&self) -> Option<Value> {
        match &self.0 {
            HandlerReply::One(Ok(json)) => serde_json::from_slice(json).ok(),
            _ => None,
        }
    }

    /// Maps the value, or each value of a stream: Nest's `next.handle().pipe(map(..))`. An
    /// error is left as it is.
    pub fn map_value(self, f: impl Fn(Value) -> Value + Send + 'static) -> Self {
        let map = move |json: Vec<u8>| match serde_json::from_slice(&json) {
            Ok(value) => Ok(serde_json::to_vec(&f(value)).expect("a Value serializes")),
            Err(_) => Ok(json),
        };
        RpcReply(match self.0 {
            HandlerReply::One(Ok(json)) => HandlerReply::One(map(json)),
            HandlerReply::One(Err(exception)) => HandlerReply::One(Err(exception)),
            HandlerReply::Stream(items) => {
                HandlerReply::Stream(items.map(move |item| item.and_then(&map)).boxed())
            }
        })
    }

    /// Maps the exception, if the answer is one: Nest's `catchError(e => throwError(..))`.
    pub fn map_err(self, f: impl FnOnce(RpcException) -> RpcException) -> Self {
        match self.0 {
            HandlerReply::One(Err(exception)) => RpcReply::err(f(exception)),
            other => RpcReply(other),
        }
    }
}

impl std::fmt::Debug for RpcReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            HandlerReply::One(Ok(json)) => {
                write!(f, "RpcReply::Ok({})", String::from_utf8_lossy(json))
            }
            HandlerReply::One(Err(exception)) => write!(f, "RpcReply::Err({exception:?})"),
            HandlerReply::Stream(_) => f.write_str("RpcReply::Stream(..)"),
        }
    }
}

/// The rest of a message handler's chain: the next interceptor, or the handler. Nest's
/// `CallHandler` on the RPC side.
pub struct RpcNext {
    chain: Arc<[Arc<dyn DynInterceptor>]>,
    index: usize,
    ctx: Arc<RpcContext>,
    handler: BoxFuture<'static, HandlerReply>,
}

impl RpcNext {
    pub(crate) fn new(
        chain: Arc<[Arc<dyn DynInterceptor>]>,
        ctx: Arc<RpcContext>,
        handler: BoxFuture<'static, HandlerReply>,
    ) -> Self {
        RpcNext {
            chain,
            index: 0,
            ctx,
            handler,
        }
    }

    /// Runs the rest of the chain and gives its answer. Not calling it answers without running
    /// the handler.
    pub fn handle(mut self) -> BoxFuture<'static, RpcReply> {
        match self.chain.get(self.index).cloned() {
            Some(interceptor) => {
                self.index += 1;
                let ctx = Arc::clone(&self.ctx);
                Box::pin(async move { interceptor.intercept_rpc_dyn(&ctx, self).await })
            }
            None => Box::pin(async move { RpcReply(self.handler.await) }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn values_and_streams_are_mapped_errors_kept() {
        let one = RpcReply::ok(&json!({"id": "42"})).map_value(|v| json!({ "data": v }));
        assert_eq!(one.value(), Some(json!({"data": {"id": "42"}})));
        let failed = RpcReply::err(RpcException::new("boom")).map_value(|_| json!(1));
        assert_eq!(failed.error(), Some(&RpcException::new("boom")));
        let failed = failed.map_err(|_| RpcException::new("changed"));
        assert_eq!(failed.error(), Some(&RpcException::new("changed")));
        let items = futures_util::stream::iter([Ok(b"1".to_vec()), Ok(b"2".to_vec())]).boxed();
        let stream = RpcReply(HandlerReply::Stream(items)).map_value(|v| json!([v]));
        assert!(stream.is_stream());
        let HandlerReply::Stream(items) = stream.0 else {
            unreachable!()
        };
        let items: Vec<_> = items.collect().await;
        assert_eq!(items, [Ok(b"[1]".to_vec()), Ok(b"[2]".to_vec())]);
    }
}
