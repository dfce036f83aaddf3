//! Traces that cross services: a `tracing` span per HTTP request and per downstream call,
//! and the W3C Trace Context (`traceparent`, `tracestate`) carried from the HTTP request to the
//! services in message headers and read back by our servers, so one trace id follows a
//! request through every process.
//!
//! | span (target) | made by | fields |
//! | --- | --- | --- |
//! | `request` (`gateway_core::http`) | every `#[controller]` route | `http.request.method`, `http.route` (Nest's path), `http.response.status_code`, `request_id`, `trace_id`, `span_id`, `parent_span_id` |
//! | `rpc.call` (`gateway_core::client`) | [`ClientProxy`](crate::client::ClientProxy)'s `send`, `send_stream`, `emit` | `rpc.service`, `rpc.pattern`, `rpc.transport`, `outcome` (`ok` or an [`RpcError`] kind), `trace_id`, `span_id`, `parent_span_id` |
//! | `rpc.handle` (`gateway_core::server`) | every message and event a microservice handles | `rpc.pattern`, `rpc.kind` (`message`, `event`), `outcome` of a message (`ok`, `error`, `stream` for a streamed reply), `trace_id`, `span_id`, `parent_span_id` |
//!
//! A call's span is a child of the request's (tracing's current span), a handler's span
//! continues the trace its message carried. The context travels as Nest's transports allow,
//! in headers only, so a Nest service sees the same payloads as before: NATS message headers
//! and RabbitMQ message headers carry `traceparent` and `tracestate` (a Nest service reads them
//! with `NatsContext.getHeaders()` / `RmqContext.getMessage().properties.headers`), and so do
//! MQTT 5 user properties (`ClientOptions::mqtt5`; Nest's
//! `MqttContext.getPacket().properties.userProperties`); TCP and Redis packets have no
//! headers, and MQTT 3.1.1 none either, so the trace stops there.
//!
//! Free when off: when no `tracing` subscriber wants these spans (none installed, or a filter
//! below `info` for their targets), a request or call costs one check of the callsite's
//! interest and nothing is generated, read or sent. Install a subscriber to turn them on,
//! e.g. `gateway_core::logging::init()` (feature `logging`: text or JSON logs, each
//! span logged when it closes).
//!
//! In a handler, [`TraceContext::current`] is the trace the work belongs to (to log it, or to
//! pass it on by hand over a transport without headers).

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use tracing::Span;

use crate::client::{CallOptions, RpcError};
use crate::http::RouteMeta;
use crate::server::MessageContext;

/// The W3C header naming the trace and the caller's span.
pub const TRACEPARENT: &str = "traceparent";
/// The W3C header carrying vendors' trace state, passed on unchanged.
pub const TRACESTATE: &str = "tracestate";

/// The longest `tracestate` passed on (W3C: at least 512 characters must be propagated).
const MAX_TRACESTATE: usize = 512;

tokio::task_local! {
    static CURRENT: TraceContext;
}

/// One hop of a distributed trace (W3C Trace Context): the trace's id, this hop's span id, the
/// caller's span id when the trace came from one, the trace flags and the vendors' state.
#[derive(Clone, PartialEq, Eq)]
pub struct TraceContext {
    trace_id: u128,
    span_id: u64,
    parent_id: Option<u64>,
    flags: u8,
    state: Option<Arc<str>>,
}

impl fmt::Debug for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceContext")
            .field("traceparent", &self.traceparent())
            .field("parent_span_id", &self.parent_span_id())
            .field("tracestate", &self.state)
            .finish()
    }
}

impl TraceContext {
    /// A new trace: random trace and span ids, sampled.
    pub fn root() -> Self {
        TraceContext {
            trace_id: loop {
                let id = u128::from(random()) << 64 | u128::from(random());
                if id != 0 {
                    break id;
                }
            },
            span_id: span_id(),
            parent_id: None,
            flags: 0x01,
            state: None,
        }
    }

    /// The hop that continues the trace a caller sent (`traceparent`, `tracestate`), or a new
    /// trace when the caller sent none or one that is not valid (as the W3C says: restart the
    /// trace, drop the state).
    pub fn continued(traceparent: Option<&str>, tracestate: Option<&str>) -> Self {
        match traceparent.and_then(parse_traceparent) {
            Some((trace_id, parent, flags)) => TraceContext {
                trace_id,
                span_id: span_id(),
                parent_id: Some(parent),
                flags,
                state: tracestate
                    .map(str::trim)
                    .filter(|s| !s.is_empty() && s.len() <= MAX_TRACESTATE && s.is_ascii())
                    .map(Arc::from),
            },
            None => TraceContext::root(),
        }
    }

    /// The hop of a call made from this one: the same trace, a new span whose parent is this.
    pub fn child(&self) -> Self {
        TraceContext {
            trace_id: self.trace_id,
            span_id: span_id(),
            parent_id: Some(self.span_id),
            flags: self.flags,
            state: self.state.clone(),
        }
    }

    /// The trace's id, 32 lowercase hex digits.
    pub fn trace_id(&self) -> String {
        format!("{:032x}", self.trace_id)
    }

    /// This hop's span id, 16 lowercase hex digits.
    pub fn span_id(&self) -> String {
        format!("{:016x}", self.span_id)
    }

    /// The caller's span id, when the trace came from a caller.
    pub fn parent_span_id(&self) -> Option<String> {
        self.parent_id.map(|id| format!("{id:016x}"))
    }

    /// Whether the caller asked for the trace to be recorded (the `sampled` flag).
    pub fn sampled(&self) -> bool {
        self.flags & 0x01 != 0
    }

    /// The `traceparent` that names this hop as the parent: what a call from it sends.
    pub fn traceparent(&self) -> String {
        format!(
            "00-{:032x}-{:016x}-{:02x}",
            self.trace_id, self.span_id, self.flags
        )
    }

    /// The vendors' `tracestate` the trace came with, unchanged.
    pub fn tracestate(&self) -> Option<&str> {
        self.state.as_deref()
    }

    /// The trace the running request or message handler belongs to (none outside one, or
    /// when no subscriber records these spans).
    pub fn current() -> Option<TraceContext> {
        CURRENT.try_with(Clone::clone).ok()
    }

    /// Runs `future` as part of this hop: [`current`](Self::current) returns it there, and
    /// calls made there are its children. A call joins the hop it is *made* in (`send` is
    /// called inside the scope, as a handler's calls are), not the one it is awaited in.
    pub fn scope<F: Future>(self, future: F) -> impl Future<Output = F::Output> {
        CURRENT.scope(self, future)
    }

    /// The ids as span field values: `trace_id`, `span_id`, `parent_span_id` (none for a
    /// new trace).
    fn fields(&self) -> (Hex<32>, Hex<16>, Option<Hex<16>>) {
        (
            Hex(self.trace_id),
            Hex(self.span_id.into()),
            self.parent_id.map(|id| Hex(id.into())),
        )
    }

    /// The headers a call carries for this hop: `traceparent`, and `tracestate` when set.
    pub(crate) fn headers(&self) -> impl Iterator<Item = (&'static str, String)> + '_ {
        std::iter::once((TRACEPARENT, self.traceparent())).chain(
            self.state
                .as_deref()
                .map(|state| (TRACESTATE, state.to_owned())),
        )
    }
}

/// An id as `W` lower-case hex digits, written straight into a span's field (no string).
#[derive(Clone, Copy)]
struct Hex<const W: usize>(u128);

impl<const W: usize> fmt::Display for Hex<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:0W$x}", self.0)
    }
}

/// The span of one HTTP request through `route` and its hop: the trace its `traceparent`
/// names (one, valid: W3C), else a new one. `None` (and nothing read) when no subscriber
/// records it. The span is made with every id at once: a subscriber formats its fields once.
pub(crate) fn request_span(
    request: &axum::extract::Request,
    route: &'static RouteMeta,
) -> Option<(Span, TraceContext)> {
    if !tracing::enabled!(target: "gateway_core::http", tracing::Level::INFO) {
        return None;
    }
    let headers = request.headers();
    let one = |name: &str| {
        let mut values = headers.get_all(name).iter();
        match (values.next(), values.next()) {
            (Some(value), None) => value.to_str().ok(),
            _ => None,
        }
    };
    let mut states = headers
        .get_all(TRACESTATE)
        .iter()
        .filter_map(|v| v.to_str().ok());
    // Several `tracestate` headers are one list (W3C: combined as one comma-separated value).
    let state = match (states.next(), states.next()) {
        (None, _) => None,
        (Some(one), None) => Some(std::borrow::Cow::Borrowed(one)),
        (Some(first), Some(second)) => {
            let rest: Vec<&str> = states.collect();
            Some(std::borrow::Cow::Owned(
                [&[first, second][..], &rest].concat().join(","),
            ))
        }
    };
    let hop = TraceContext::continued(one(TRACEPARENT), state.as_deref());
    let (trace_id, span_id, parent_span_id) = hop.fields();
    let request_id = headers
        .get(crate::http::REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok());
    let span = tracing::info_span!(
        target: "gateway_core::http",
        "request",
        http.request.method = request.method().as_str(),
        http.route = route.path,
        http.response.status_code = tracing::field::Empty,
        request_id,
        trace_id = tracing::field::display(trace_id),
        span_id = tracing::field::display(span_id),
        parent_span_id = parent_span_id.map(tracing::field::display),
    );
    Some((span, hop))
}

/// The span of a message (`kind`: `message` or `event`) a microservice handles, and the
/// hop continuing the trace its headers carry; `None` when no subscriber records it.
pub(crate) fn handler_span(
    pattern: &str,
    kind: &'static str,
    context: Option<&MessageContext>,
) -> Option<(Span, TraceContext)> {
    if !tracing::enabled!(target: "gateway_core::server", tracing::Level::INFO) {
        return None;
    }
    let header = |wanted: &str| {
        let headers = context.map_or(&[][..], MessageContext::headers);
        let mut found = headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case(wanted));
        match (found.next(), found.next()) {
            (Some((_, value)), None) => Some(value.as_str()),
            _ => None,
        }
    };
    let hop = TraceContext::continued(header(TRACEPARENT), header(TRACESTATE));
    let (trace_id, span_id, parent_span_id) = hop.fields();
    let span = tracing::info_span!(
        target: "gateway_core::server",
        "rpc.handle",
        rpc.pattern = pattern,
        rpc.kind = kind,
        outcome = tracing::field::Empty,
        trace_id = tracing::field::display(trace_id),
        span_id = tracing::field::display(span_id),
        parent_span_id = parent_span_id.map(tracing::field::display),
    );
    Some((span, hop))
}

/// The span of one downstream call, a child of the current one (the request's): when a
/// subscriber records it, the call carries its hop in `traceparent` / `tracestate` headers
/// (unless the caller set a `traceparent` of its own).
pub(crate) fn call_span(
    service: &str,
    route: &str,
    transport: &'static str,
    options: &mut CallOptions,
) -> CallSpan {
    let own = options
        .headers
        .iter()
        .flat_map(|headers| headers.iter())
        .any(|(name, _)| name.eq_ignore_ascii_case(TRACEPARENT));
    call_span_with(service, route, transport, own, |name, value| {
        *options = std::mem::take(options).header(name, value);
    })
}

/// [`call_span`] for a call whose headers are not [`CallOptions`] (gRPC metadata): `own`
/// says the caller set a `traceparent` itself; else `add` gets the hop's headers.
pub(crate) fn call_span_with(
    service: &str,
    route: &str,
    transport: &'static str,
    own: bool,
    mut add: impl FnMut(&'static str, String),
) -> CallSpan {
    if !tracing::enabled!(target: "gateway_core::client", tracing::Level::INFO) {
        return CallSpan(None);
    }
    let hop = TraceContext::current().map_or_else(TraceContext::root, |t| t.child());
    let (trace_id, span_id, parent_span_id) = hop.fields();
    let span = tracing::info_span!(
        target: "gateway_core::client",
        "rpc.call",
        rpc.service = service,
        rpc.pattern = route,
        rpc.transport = transport,
        outcome = tracing::field::Empty,
        trace_id = tracing::field::display(trace_id),
        span_id = tracing::field::display(span_id),
        parent_span_id = parent_span_id.map(tracing::field::display),
    );
    if !own {
        for (name, value) in hop.headers() {
            add(name, value);
        }
    }
    CallSpan(Some(Box::new(span)))
}

/// A downstream call's span, boxed when recorded and nothing when not: it lives in every
/// call's future, whose size is guarded (`tests/future_sizes.rs`). It is never entered (a
/// call runs no code of its own worth a child span), so its duration is its idle time.
pub(crate) struct CallSpan(Option<Box<Span>>);

impl CallSpan {
    /// Records how the call ended: `ok` or the error's [`kind`](RpcError::kind).
    pub(crate) fn record_outcome<T>(&self, result: &Result<T, RpcError>) {
        if let Some(span) = &self.0 {
            span.record(
                "outcome",
                result.as_ref().err().map_or("ok", RpcError::kind),
            );
        }
    }
}

/// Reads a `traceparent` (W3C Trace Context, level 1): `version-traceid-parentid-flags`, lower
/// case hex. Version `ff` is invalid; version `00` must be exactly 55 characters; a later
/// version may add fields after a `-`. All-zero ids are invalid.
fn parse_traceparent(value: &str) -> Option<(u128, u64, u8)> {
    let value = value.trim_matches([' ', '\t']);
    let bytes = value.as_bytes();
    if bytes.len() < 55 || bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
        return None;
    }
    let version = hex(&value[0..2])? as u8;
    if version == 0xff || (version == 0 && bytes.len() != 55) {
        return None;
    }
    if bytes.len() > 55 && bytes[55] != b'-' {
        return None;
    }
    let trace_id = hex(&value[3..35])?;
    let parent = hex(&value[36..52])? as u64;
    let flags = hex(&value[53..55])? as u8;
    (trace_id != 0 && parent != 0).then_some((trace_id, parent, flags))
}

/// Lower-case hex digits (and nothing else) as a number.
fn hex(digits: &str) -> Option<u128> {
    digits
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        .then(|| u128::from_str_radix(digits, 16).ok())
        .flatten()
}

/// A new non-zero span id.
fn span_id() -> u64 {
    loop {
        let id = random();
        if id != 0 {
            return id;
        }
    }
}

/// 64 random bits: splitmix64 over a per-thread seed from std's random hasher keys. Ids need to
/// be unique and unguessable enough to not collide, not secret.
fn random() -> u64 {
    thread_local! {
        static STATE: Cell<u64> = Cell::new({
            use std::hash::{BuildHasher, Hasher};
            let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
            hasher.write_u64(std::process::id().into());
            hasher.finish()
        });
    }
    STATE.with(|state| {
        let next = state.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        state.set(next);
        let mut z = next;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn continues_the_w3c_example() {
        let trace =
            TraceContext::continued(Some(VALID), Some("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"));
        assert_eq!(trace.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(trace.parent_span_id().as_deref(), Some("00f067aa0ba902b7"));
        assert_ne!(trace.span_id(), "00f067aa0ba902b7");
        assert!(trace.sampled());
        assert_eq!(
            trace.tracestate(),
            Some("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
        );
        let sent = trace.child().traceparent();
        assert!(
            sent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
            "{sent}"
        );
        assert!(sent.ends_with("-01"));
        assert_eq!(sent.len(), 55);
    }

    /// The W3C test suite's (w3c/trace-context `test/test.py`) invalid `traceparent`s: each
    /// restarts the trace (a new trace id, no parent, the state dropped).
    #[test]
    fn restarts_on_what_the_w3c_suite_rejects() {
        const ID: &str = "12345678901234567890123456789012";
        for bad in [
            "",
            "00-12345678901234567890123456789012-1234567890123456-01.",
            "00-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like",
            "cc-12345678901234567890123456789012-1234567890123456-01.what-the-future-will-be-like",
            "ff-12345678901234567890123456789012-1234567890123456-01",
            ".0-12345678901234567890123456789012-1234567890123456-01",
            "0.-12345678901234567890123456789012-1234567890123456-01",
            "000-12345678901234567890123456789012-1234567890123456-01",
            "0-12345678901234567890123456789012-1234567890123456-01",
            "00-00000000000000000000000000000000-1234567890123456-01",
            "00-.2345678901234567890123456789012-1234567890123456-01",
            "00-1234567890123456789012345678901.-1234567890123456-01",
            "00-123456789012345678901234567890123-1234567890123456-01",
            "00-1234567890123456789012345678901-1234567890123456-01",
            "00-12345678901234567890123456789012-0000000000000000-01",
            "00-12345678901234567890123456789012-.234567890123456-01",
            "00-12345678901234567890123456789012-123456789012345.-01",
            "00-12345678901234567890123456789012-12345678901234567-01",
            "00-12345678901234567890123456789012-123456789012345-01",
            "00-12345678901234567890123456789012-1234567890123456-.0",
            "00-12345678901234567890123456789012-1234567890123456-0.",
            "00-12345678901234567890123456789012-1234567890123456-",
            "00-12345678901234567890123456789012-1234567890123456-0",
            "00-12345678901234567890123456789012-1234567890123456-011",
            // Upper case hex is not the format (HEXDIGLC).
            "00-ABCDEF78901234567890123456789012-1234567890123456-01",
        ] {
            let trace = TraceContext::continued(Some(bad), Some("foo=1"));
            assert_ne!(trace.trace_id(), ID, "{bad:?}");
            assert_eq!(trace.parent_span_id(), None, "{bad:?}");
            assert_eq!(trace.tracestate(), None, "{bad:?}");
        }
    }

    /// A later version is read by its first four fields, and may carry more after a `-`.
    #[test]
    fn reads_a_later_version() {
        for later in [
            "cc-12345678901234567890123456789012-1234567890123456-01",
            "cc-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like",
        ] {
            let trace = TraceContext::continued(Some(later), None);
            assert_eq!(trace.trace_id(), "12345678901234567890123456789012");
            // What we send is the version we speak.
            assert!(trace.traceparent().starts_with("00-"));
        }
    }

    #[test]
    fn roots_are_distinct_and_well_formed() {
        let (a, b) = (TraceContext::root(), TraceContext::root());
        assert_ne!(a.trace_id(), b.trace_id());
        assert_eq!(
            parse_traceparent(&a.traceparent()).map(|t| t.0),
            Some(a.trace_id)
        );
        assert_eq!(a.child().parent_span_id(), Some(a.span_id()));
    }

    #[tokio::test]
    async fn current_is_the_scoped_hop() {
        assert_eq!(TraceContext::current(), None);
        let trace = TraceContext::root();
        let seen = trace.clone().scope(async { TraceContext::current() }).await;
        assert_eq!(seen, Some(trace));
    }
}
