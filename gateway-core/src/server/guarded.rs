//! Guards in front of message and event handlers: a controller's and a handler's own
//! (`#[guard]`), and a microservice's global ones (`use_global_guards`), as Nest runs them:
//! global first, then the controller's, then the handler's.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use super::reply::HandlerReply;
use super::router::{EventHandler, MessageHandler};
use super::{MessageContext, MessageRouter};
use crate::http::guard::{run_rpc_guards, RpcContext};
use crate::http::{DynGuard, PatternMeta};

/// Guards, the handler they stand in front of, and its controller.
#[derive(Clone)]
struct Gate {
    guards: Arc<[Arc<dyn DynGuard>]>,
    handler: &'static PatternMeta,
    controller: &'static str,
}

impl Gate {
    /// Runs the guards on a call of `data`: the context to run the handler with (the user a
    /// guard attached, if any), or the exception that refuses it.
    async fn check(&self, data: &Bytes) -> Result<Option<MessageContext>, super::RpcException> {
        let context = MessageContext::current()
            .unwrap_or_else(|| MessageContext::new(self.handler.route, Vec::new()));
        let mut call = RpcContext::new(data.clone(), context, self.handler);
        run_rpc_guards(&self.guards, &mut call, self.controller).await?;
        Ok(call
            .user
            .take()
            .map(|user| call.get_context().clone().with_user(user.0)))
    }

    /// Runs `handler` on `data` when the guards let the call through (with the user a guard
    /// attached in its context); `refused` makes the answer otherwise.
    async fn run<T>(
        &self,
        data: Bytes,
        handler: impl FnOnce(Bytes) -> BoxFuture<'static, T>,
        refused: impl FnOnce(super::RpcException) -> T,
    ) -> T {
        match self.check(&data).await {
            Ok(None) => handler(data).await,
            Ok(Some(context)) => context.scope(handler(data)).await,
            Err(exception) => refused(exception),
        }
    }

    fn message(self, handler: MessageHandler) -> MessageHandler {
        Arc::new(move |data: Bytes| {
            let (gate, handler) = (self.clone(), handler.clone());
            async move {
                let refused = |exception| HandlerReply::One(Err(exception));
                gate.run(data, |data| handler(data), refused).await
            }
            .boxed()
        })
    }

    fn event(self, handler: EventHandler) -> EventHandler {
        Arc::new(move |data: Bytes| {
            let (gate, handler) = (self.clone(), handler.clone());
            async move {
                let route = gate.handler.route;
                let refused = |exception: super::RpcException| {
                    tracing::warn!(pattern = route, error = %exception, "event refused by a guard: dropped")
                };
                gate.run(data, |data| handler(data), refused).await
            }
            .boxed()
        })
    }
}

impl MessageRouter {
    /// Puts `guards` in front of `handler` (registered last under its route) and records
    /// which controller method serves the route, for global guards' contexts.
    pub(crate) fn guard(
        mut self,
        handler: &'static PatternMeta,
        controller: &'static str,
        guards: Vec<Arc<dyn DynGuard>>,
    ) -> Self {
        self.described.insert(
            (handler.event, Box::from(handler.route)),
            (handler, controller),
        );
        if guards.is_empty() {
            return self;
        }
        let gate = Gate {
            guards: guards.into(),
            handler,
            controller,
        };
        if handler.event {
            if let Some(last) = self
                .events
                .get_mut(handler.route)
                .and_then(|all| all.last_mut())
            {
                *last = gate.event(last.clone());
            }
        } else if let Some(message) = self.messages.get_mut(handler.route) {
            *message = gate.message(message.clone());
        }
        self
    }

    /// Puts `guards` in front of every handler: a microservice's global guards.
    pub(crate) fn guard_all(mut self, guards: &[Arc<dyn DynGuard>]) -> Self {
        if guards.is_empty() {
            return self;
        }
        let guards: Arc<[Arc<dyn DynGuard>]> = guards.into();
        let described = &self.described;
        let gate = |event: bool, route: &str| {
            let (handler, controller) = described
                .get(&(event, Box::from(route)))
                .copied()
                .unwrap_or_else(|| (undescribed(event, route), ""));
            Gate {
                guards: guards.clone(),
                handler,
                controller,
            }
        };
        for (route, message) in self.messages.iter_mut() {
            *message = gate(false, route).message(message.clone());
        }
        for (route, events) in self.events.iter_mut() {
            for each in events {
                *each = gate(true, route).event(each.clone());
            }
        }
        self
    }
}

/// The description of a handler registered by hand (`MessageRouter::message`), for a global
/// guard's context: its route, no metadata. Made once per route when global guards are set.
fn undescribed(event: bool, route: &str) -> &'static PatternMeta {
    Box::leak(Box::new(PatternMeta {
        event,
        route: Box::leak(Box::from(route)),
        handler: "",
        metadata: &[],
        class_metadata: &[],
    }))
}
