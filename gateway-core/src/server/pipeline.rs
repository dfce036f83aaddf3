//! The pipeline around message and event handlers, in Nest's order: guards (global, then the
//! controller's, then the handler's), then interceptors (same order) around the handler, then
//! exception filters (the handler's, the controller's, then the global ones) on an exception
//! from any of them.
//!
//! A controller's handlers get their own pipeline when they are registered, so a router served
//! on its own is guarded as declared; a microservice's (or hybrid app's) global guards,
//! interceptors and filters are added at start by rebuilding each pipeline from the handler
//! and its own parts, so the order stays Nest's: every guard runs before any interceptor.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use super::intercept::RpcNext;
use super::reply::HandlerReply;
use super::router::{EventHandler, MessageHandler};
use super::{MessageContext, MessageRouter};
use crate::http::guard::{run_rpc_guards, RpcContext};
use crate::http::{DynFilter, DynGuard, DynInterceptor, PatternMeta};

/// Guards, interceptors and exception filters of one handler (filters in the order they are
/// asked) or of a whole microservice (in the order they were registered).
#[derive(Clone, Default)]
pub(crate) struct RpcEdge {
    pub guards: Vec<Arc<dyn DynGuard>>,
    pub interceptors: Vec<Arc<dyn DynInterceptor>>,
    pub filters: Vec<Arc<dyn DynFilter>>,
}

impl RpcEdge {
    fn is_empty(&self) -> bool {
        self.guards.is_empty() && self.interceptors.is_empty() && self.filters.is_empty()
    }
}

/// `a`, then `b`.
fn joined<T: ?Sized>(a: &[Arc<T>], b: &[Arc<T>]) -> Arc<[Arc<T>]> {
    a.iter().chain(b).cloned().collect()
}

/// A handler as registered, before any pipeline, with its own edge: kept to rebuild its
/// pipeline when global parts are added.
#[derive(Clone)]
pub(super) struct Registered {
    route: Box<str>,
    /// The handler's place among the route's event handlers (0 for a message handler).
    index: usize,
    handler: Handler,
    own: Arc<RpcEdge>,
    meta: &'static PatternMeta,
    controller: &'static str,
}

#[derive(Clone)]
enum Handler {
    Message(MessageHandler),
    Event(EventHandler),
}

/// One handler's pipeline.
#[derive(Clone)]
struct Gate {
    guards: Arc<[Arc<dyn DynGuard>]>,
    interceptors: Arc<[Arc<dyn DynInterceptor>]>,
    filters: Arc<[Arc<dyn DynFilter>]>,
    handler: &'static PatternMeta,
    controller: &'static str,
}

impl Gate {
    /// The pipeline of `global` parts around `own` ones.
    fn new(
        global: &RpcEdge,
        own: &RpcEdge,
        handler: &'static PatternMeta,
        controller: &'static str,
    ) -> Self {
        Gate {
            guards: joined(&global.guards, &own.guards),
            interceptors: joined(&global.interceptors, &own.interceptors),
            // The global ones registered last are asked first, as Nest asks them.
            filters: own
                .filters
                .iter()
                .chain(global.filters.iter().rev())
                .cloned()
                .collect(),
            handler,
            controller,
        }
    }

    /// One call of `handler` on `data` through the pipeline.
    async fn run(
        &self,
        data: Bytes,
        handler: impl FnOnce(Bytes) -> BoxFuture<'static, HandlerReply>,
    ) -> HandlerReply {
        let context = MessageContext::current()
            .unwrap_or_else(|| MessageContext::new(self.handler.route, Vec::new()));
        let mut call = RpcContext::new(data.clone(), context, self.handler);
        let guarded = run_rpc_guards(&self.guards, &mut call, self.controller).await;
        // The user a guard attached goes into the handler's context.
        let scope = guarded.is_ok().then(|| call.attach_user()).flatten();
        let call = Arc::new(call);
        let reply = match guarded {
            Err(exception) => HandlerReply::One(Err(exception)),
            Ok(()) => {
                let inner = match scope {
                    Some(context) => context.scope(handler(data)).boxed(),
                    None => handler(data),
                };
                if self.interceptors.is_empty() {
                    inner.await
                } else {
                    let next = RpcNext::new(self.interceptors.clone(), Arc::clone(&call), inner);
                    // A panicking interceptor is Nest's generic error, as a handler's panic is.
                    match AssertUnwindSafe(next.handle()).catch_unwind().await {
                        Ok(reply) => reply.0,
                        Err(_) => {
                            tracing::error!(
                                pattern = self.handler.route,
                                "an interceptor panicked"
                            );
                            HandlerReply::One(Err(super::RpcException::internal()))
                        }
                    }
                }
            }
        };
        self.filter(reply, &call).await
    }

    /// Hands an exception to the filters, nearest first, until one answers.
    async fn filter(&self, reply: HandlerReply, call: &RpcContext) -> HandlerReply {
        let HandlerReply::One(Err(mut exception)) = reply else {
            return reply;
        };
        for filter in self.filters.iter() {
            let caught = AssertUnwindSafe(filter.catch_rpc_dyn(exception, call)).catch_unwind();
            match caught.await {
                Ok(Ok(reply)) => return reply.0,
                Ok(Err(passed)) => exception = passed,
                Err(_) => {
                    tracing::error!(pattern = self.handler.route, "an exception filter panicked");
                    return HandlerReply::One(Err(super::RpcException::internal()));
                }
            }
        }
        HandlerReply::One(Err(exception))
    }

    fn message(self, handler: MessageHandler) -> MessageHandler {
        Arc::new(move |data: Bytes| {
            let (gate, handler) = (self.clone(), handler.clone());
            async move { gate.run(data, |data| handler(data)).await }.boxed()
        })
    }

    fn event(self, handler: EventHandler) -> EventHandler {
        Arc::new(move |data: Bytes| {
            let (gate, handler) = (self.clone(), handler.clone());
            async move {
                let route = gate.handler.route;
                let run = |data| {
                    async move {
                        handler(data).await;
                        HandlerReply::One(Ok(b"null".to_vec()))
                    }
                    .boxed()
                };
                if let HandlerReply::One(Err(exception)) = gate.run(data, run).await {
                    tracing::warn!(pattern = route, error = %exception, "event refused or failed: dropped");
                }
            }
            .boxed()
        })
    }
}

impl MessageRouter {
    /// Puts the handler's own pipeline (its controller's and its own guards, interceptors and
    /// filters) around `handler` (registered last under its route), and records which
    /// controller method serves the route, for global parts' contexts.
    pub(crate) fn edge(
        mut self,
        handler: &'static PatternMeta,
        controller: &'static str,
        own: RpcEdge,
    ) -> Self {
        self.described.insert(
            (handler.event, Box::from(handler.route)),
            (handler, controller),
        );
        if own.is_empty() {
            return self;
        }
        let gate = Gate::new(&RpcEdge::default(), &own, handler, controller);
        let route: Box<str> = Box::from(handler.route);
        let registered = if handler.event {
            let Some(all) = self.events.get_mut(handler.route) else {
                return self;
            };
            let index = all.len() - 1;
            let original = all[index].clone();
            all[index] = gate.event(original.clone());
            (index, Handler::Event(original))
        } else {
            let Some(message) = self.messages.get_mut(handler.route) else {
                return self;
            };
            let original = message.clone();
            *message = gate.message(original.clone());
            (0, Handler::Message(original))
        };
        self.registered.push(Registered {
            route,
            index: registered.0,
            handler: registered.1,
            own: Arc::new(own),
            meta: handler,
            controller,
        });
        self
    }

    /// Checks `Valid<T>` payloads with `options` (a microservice's `use_validation`).
    pub(crate) fn with_validation(
        mut self,
        options: Option<crate::http::ValidationOptions>,
    ) -> Self {
        if options.is_some() {
            self.validation = options;
        }
        self
    }

    /// Adds a microservice's global guards, interceptors and filters to every handler's
    /// pipeline (the global guards before the handlers' own, and so on).
    pub(crate) fn with_globals(mut self, global: &RpcEdge) -> Self {
        if global.is_empty() {
            return self;
        }
        let described = &self.described;
        let gate = |event: bool, route: &str| {
            let (handler, controller) = described
                .get(&(event, Box::from(route)))
                .copied()
                .unwrap_or_else(|| (undescribed(event, route), ""));
            Gate::new(global, &RpcEdge::default(), handler, controller)
        };
        let registered = |event: bool, route: &str, index: usize| {
            self.registered.iter().find(|r| {
                r.route.as_ref() == route
                    && r.index == index
                    && matches!(r.handler, Handler::Event(_)) == event
            })
        };
        let mut messages = self.messages.clone();
        for (route, message) in messages.iter_mut() {
            *message = match registered(false, route, 0) {
                Some(Registered {
                    handler: Handler::Message(original),
                    own,
                    meta,
                    controller,
                    ..
                }) => Gate::new(global, own, meta, controller).message(original.clone()),
                _ => gate(false, route).message(message.clone()),
            };
        }
        let mut events = self.events.clone();
        for (route, all) in events.iter_mut() {
            for (index, each) in all.iter_mut().enumerate() {
                *each = match registered(true, route, index) {
                    Some(Registered {
                        handler: Handler::Event(original),
                        own,
                        meta,
                        controller,
                        ..
                    }) => Gate::new(global, own, meta, controller).event(original.clone()),
                    _ => gate(true, route).event(each.clone()),
                };
            }
        }
        self.messages = messages;
        self.events = events;
        self
    }
}

/// The description of a handler registered by hand (`MessageRouter::message`), for a global
/// part's context: its route, no metadata. Made once per route when global parts are set.
fn undescribed(event: bool, route: &str) -> &'static PatternMeta {
    Box::leak(Box::new(PatternMeta {
        event,
        route: Box::leak(Box::from(route)),
        handler: "",
        metadata: &[],
        class_metadata: &[],
    }))
}
