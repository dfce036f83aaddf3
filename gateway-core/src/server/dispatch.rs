//! The one dispatcher every transport's server calls: an incoming packet becomes a request
//! to answer, Nest's no-handler answer, event handlers to run, or nothing.
//!
//! A transport decides only how to run what comes back (spawned, cancelled on a hard
//! shutdown) and where replies go (a writer queue, a broker's reply subject).

use std::future::Future;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use tracing::Instrument;

use super::reply::{answer, HandlerReply};
use super::router::MessageHandler;
use super::{MessageContext, MessageRouter};
use crate::http::validate::PAYLOAD_VALIDATION;
use crate::packet::{encode_reply, slice_of, Incoming, Reply};
use crate::pattern::route_of_incoming;

/// What an incoming packet asks for.
pub(crate) enum Dispatch {
    /// A request: run `reply` and send its packets, echoing `id` (the id's raw JSON).
    Request {
        id: Bytes,
        reply: BoxFuture<'static, HandlerReply>,
    },
    /// A request no handler takes (already logged): Nest answers with its no-handler error.
    NoHandler { id: Bytes },
    /// An event: every handler of its pattern, each to run (none is logged).
    Events(Vec<BoxFuture<'static, ()>>),
    /// A packet without a pattern: nothing to do.
    Ignored,
}

/// Routes one packet (`frame`, Nest's JSON). The pattern is the packet's own, or `subject`
/// when the transport routes by subject (NATS, Redis, MQTT: the subject is the normalized
/// pattern). Handlers run with `context` when there is one. Only a frame that is not JSON is
/// an error.
pub(crate) fn dispatch(
    router: &MessageRouter,
    frame: &Bytes,
    subject: Option<&str>,
    context: Option<&MessageContext>,
) -> serde_json::Result<Dispatch> {
    // Nest's usual request on a subject, read by its shape: the handler's decoding of `data`
    // is then the one pass that builds anything from it.
    if let Some(subject) = subject {
        let handler = router.message_by_route(subject);
        // A handler's route was checked for JSON when it was registered.
        let checked = handler.is_some() && router.message_routes_are_json();
        if let Some((data, id)) = crate::packet::usual_request(frame, subject, checked) {
            return Ok(to_handler(
                router,
                handler,
                frame.slice(data),
                frame.slice(id),
                context,
                subject,
            ));
        }
    }
    let packet = Incoming::parse(frame)?;
    let pattern = packet.pattern;
    if subject.is_none() && pattern.is_none() {
        tracing::debug!("packet without a pattern ignored");
        return Ok(Dispatch::Ignored);
    }
    if subject.is_some() && pattern.is_none() && packet.data.is_none() && packet.id.is_some() {
        // A reply (`{"response":..,"id":..}`) heard back by a wildcard subscription that also
        // matches its reply topic (MQTT's `x/#` hears `x/y/reply`): not a request.
        tracing::debug!("a reply packet on a subscribed route ignored");
        return Ok(Dispatch::Ignored);
    }
    // Metadata the client attached (Nest 12): handlers read it from their context, which the
    // packet then needs even on TCP (where there is none otherwise).
    let with_metadata = packet
        .metadata
        .filter(|m| m.get() != "null")
        .and_then(|m| serde_json::from_str::<serde_json::Value>(m.get()).ok())
        .map(|metadata| {
            let context = context.cloned().unwrap_or_else(|| {
                let route = subject
                    .map(str::to_owned)
                    .or_else(|| pattern.and_then(route_of_incoming))
                    .unwrap_or_default();
                MessageContext::new(route, Vec::new())
            });
            context.with_metadata(metadata)
        });
    let context = with_metadata.as_ref().or(context);
    let shown = || subject.or(pattern.map(|p| p.get())).unwrap_or_default();
    let data = packet
        .data
        .map_or_else(|| Bytes::from_static(b"null"), |d| slice_of(frame, d));
    match packet.id {
        Some(id) => {
            let id = slice_of(frame, id);
            let handler = match (subject, pattern) {
                (Some(subject), _) => router.message_by_route(subject),
                (None, Some(pattern)) => router.find_message(pattern),
                (None, None) => None,
            };
            Ok(to_handler(router, handler, data, id, context, shown()))
        }
        None => {
            let handlers = match (subject, pattern) {
                (Some(subject), _) => router.events_by_route(subject),
                (None, Some(pattern)) => router.find_events(pattern),
                (None, None) => &[],
            };
            if handlers.is_empty() {
                if let Some(left_out) = crate::log_limit::allow("no event handler") {
                    tracing::error!(
                        pattern = shown(),
                        left_out,
                        "There is no matching event handler defined in the remote service."
                    );
                }
            }
            let runs = handlers
                .iter()
                .map(|handler| {
                    let run = handler(data.clone());
                    let run = match context {
                        Some(context) => Box::pin(context.clone().scope(run)),
                        None => run,
                    };
                    let run = match router.validation {
                        Some(options) => Box::pin(PAYLOAD_VALIDATION.scope(options, run)),
                        None => run,
                    };
                    match crate::trace::handler_span(shown(), "event", context) {
                        Some((span, hop)) => Box::pin(hop.scope(run).instrument(span)),
                        None => run,
                    }
                })
                .collect();
            Ok(Dispatch::Events(runs))
        }
    }
}

/// A request (`data`, echoing `id`) for `handler`, or Nest's no-handler answer (logged) when
/// there is none; `shown` names the pattern or subject.
fn to_handler(
    router: &MessageRouter,
    handler: Option<&MessageHandler>,
    data: Bytes,
    id: Bytes,
    context: Option<&MessageContext>,
    shown: &str,
) -> Dispatch {
    let Some(handler) = handler else {
        if let Some(left_out) = crate::log_limit::allow("no message handler") {
            tracing::warn!(
                pattern = shown,
                left_out,
                "There is no matching message handler defined in the remote service."
            );
        }
        return Dispatch::NoHandler { id };
    };
    let reply = request(router, handler, data, context, shown);
    Dispatch::Request { id, reply }
}

/// A request's reply, to await: `handler` on `data`, seeing `context`, with the router's
/// validation settings, in a trace span named after `shown` (the pattern or subject).
pub(crate) fn request(
    router: &MessageRouter,
    handler: &MessageHandler,
    data: Bytes,
    context: Option<&MessageContext>,
    shown: &str,
) -> BoxFuture<'static, HandlerReply> {
    let reply = handler(data);
    let reply = match context {
        Some(context) => Box::pin(context.clone().scope(reply)),
        None => reply,
    };
    let reply = match router.validation {
        Some(options) => Box::pin(PAYLOAD_VALIDATION.scope(options, reply)),
        None => reply,
    };
    match crate::trace::handler_span(shown, "message", context) {
        Some((span, hop)) => Box::pin(traced(reply, span, hop)),
        None => reply,
    }
}

/// A request's handler in its trace span, which records how it ended.
async fn traced(
    reply: BoxFuture<'static, HandlerReply>,
    span: tracing::Span,
    hop: crate::trace::TraceContext,
) -> HandlerReply {
    let reply = hop.scope(reply).instrument(span.clone()).await;
    let outcome = match &reply {
        HandlerReply::One(Ok(_)) => "ok",
        HandlerReply::One(Err(_)) => "error",
        HandlerReply::Stream(_) => "stream",
    };
    span.record("outcome", outcome);
    reply
}

impl MessageRouter {
    /// Handles one incoming packet (`frame`, Nest's JSON) to the end, as a server of a custom
    /// transport would ([`ServerTransport`](super::ServerTransport)): a request's reply
    /// packets (or Nest's no-handler error) go to `reply` as they come, each echoing the
    /// request's id; an event runs every handler of its pattern, one after the other. The
    /// pattern is read from the packet; handlers see `context` through
    /// [`MessageContext::current`]. Fails only on a frame that is not JSON.
    pub async fn handle_packet<Fut>(
        &self,
        frame: Bytes,
        context: Option<MessageContext>,
        mut reply: impl FnMut(Vec<u8>) -> Fut,
    ) -> serde_json::Result<()>
    where
        Fut: Future<Output = ()>,
    {
        match dispatch(self, &frame, None, context.as_ref())? {
            Dispatch::Request { id, reply: result } => answer(result, Some(id), reply).await,
            Dispatch::NoHandler { id } => {
                let mut body = Vec::with_capacity(128);
                encode_reply(&mut body, Reply::NoHandler, Some(&id));
                reply(body).await;
            }
            Dispatch::Events(runs) => {
                for run in runs {
                    run.await;
                }
            }
            Dispatch::Ignored => {}
        }
        Ok(())
    }
}
