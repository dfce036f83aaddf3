//! The JSON packets of `@nestjs/microservices`, shared by every transport.
//!
//! Requests `{"pattern":P,"data":D,"id":ID}` (Nest 12: `{"pattern":P,"data":D,"metadata":M,"id":ID}`
//! when the client attached metadata), events `{"pattern":P,"data":D}`, replies
//! `{"response":V,"isDisposed":true,"id":ID}` / `{"err":E,"isDisposed":true,"id":ID}`, and the
//! no-handler reply, with Nest's key order (docs/nest-wire.md §1). Encoders write straight into a
//! caller's buffer; decoders borrow from the received frame, so a payload is never copied
//! until a handler or caller deserializes it.
//!
//! Not for: framing (a transport concern) or deciding what a reply means (client/server).

use bytes::Bytes;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

use crate::pattern::Pattern;

/// Nest's text for a request whose pattern has no handler.
pub const NO_MESSAGE_HANDLER: &str =
    "There is no matching message handler defined in the remote service.";

/// Appends `{"pattern":<raw>,"data":<payload>,"id":"<id>"}`.
pub(crate) fn encode_request<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    pattern: &Pattern,
    payload: &T,
    metadata: Option<&Metadata>,
    id: u64,
) -> serde_json::Result<()> {
    out.extend_from_slice(br#"{"pattern":"#);
    pattern.write_raw(out);
    out.extend_from_slice(br#","data":"#);
    serde_json::to_writer(&mut *out, payload)?;
    write_metadata(out, metadata)?;
    out.extend_from_slice(br#","id":""#);
    out.extend_from_slice(itoa::Buffer::new().format(id).as_bytes());
    out.extend_from_slice(br#""}"#);
    Ok(())
}

/// Appends a TCP event, `{"pattern":"<route>","data":<payload>}`: over TCP, Nest sends an
/// event's pattern as its normalized string (brokers send the raw pattern instead).
pub(crate) fn encode_event<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    pattern: &Pattern,
    payload: &T,
    metadata: Option<&Metadata>,
) -> serde_json::Result<()> {
    out.extend_from_slice(br#"{"pattern":"#);
    pattern.write_route_as_json_string(out);
    out.extend_from_slice(br#","data":"#);
    serde_json::to_writer(&mut *out, payload)?;
    write_metadata(out, metadata)?;
    out.push(b'}');
    Ok(())
}

/// What a client attaches to a packet beside its payload (Nest 12's `packet.metadata`): string
/// keys and values, in the order given.
pub type Metadata = [(String, String)];

/// `,"metadata":{..}` when there is any.
fn write_metadata(out: &mut Vec<u8>, metadata: Option<&Metadata>) -> serde_json::Result<()> {
    let Some(metadata) = metadata.filter(|m| !m.is_empty()) else {
        return Ok(());
    };
    out.extend_from_slice(br#","metadata":{"#);
    for (i, (key, value)) in metadata.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut *out, key)?;
        out.push(b':');
        serde_json::to_writer(&mut *out, value)?;
    }
    out.push(b'}');
    Ok(())
}

/// Appends an event with the pattern as written, `{"pattern":<raw>,"data":<payload>}`: NATS,
/// Redis, MQTT and RMQ carry it so (the subject or channel carries the route).
pub(crate) fn encode_raw_event<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    pattern: &Pattern,
    payload: &T,
    metadata: Option<&Metadata>,
) -> serde_json::Result<()> {
    out.extend_from_slice(br#"{"pattern":"#);
    pattern.write_raw(out);
    out.extend_from_slice(br#","data":"#);
    serde_json::to_writer(&mut *out, payload)?;
    write_metadata(out, metadata)?;
    out.push(b'}');
    Ok(())
}

/// One reply packet, as a server sends it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Reply<'a> {
    /// `{"response":V[,"isDisposed":true]}`
    Value { json: &'a [u8], last: bool },
    /// `{"err":E,"isDisposed":true}`
    Error { json: &'a [u8] },
    /// `{"isDisposed":true}`: the end of a stream whose last value already went out, or a
    /// handler that produced nothing.
    Done,
    /// `{"id":..,"status":"error","err":"There is no matching message handler..."}`
    NoHandler,
}

/// Appends one reply packet. `id` is the request's raw JSON id, echoed unchanged (a numeric id
/// stays a number). Transports that correlate outside the body (RabbitMQ) pass `None`.
pub(crate) fn encode_reply(out: &mut Vec<u8>, reply: Reply<'_>, id: Option<&[u8]>) {
    let disposed = match reply {
        Reply::NoHandler => {
            out.push(b'{');
            if let Some(id) = id {
                out.extend_from_slice(br#""id":"#);
                out.extend_from_slice(id);
                out.push(b',');
            }
            out.extend_from_slice(br#""status":"error","err":"#);
            serde_json::to_writer(&mut *out, NO_MESSAGE_HANDLER).expect("str to Vec");
            out.push(b'}');
            return;
        }
        Reply::Value { json, last } => {
            out.extend_from_slice(br#"{"response":"#);
            out.extend_from_slice(json);
            last
        }
        Reply::Error { json } => {
            out.extend_from_slice(br#"{"err":"#);
            out.extend_from_slice(json);
            true
        }
        Reply::Done => {
            out.push(b'{');
            out.extend_from_slice(br#""isDisposed":true"#);
            if let Some(id) = id {
                out.extend_from_slice(br#","id":"#);
                out.extend_from_slice(id);
            }
            out.push(b'}');
            return;
        }
    };
    if disposed {
        out.extend_from_slice(br#","isDisposed":true"#);
    }
    if let Some(id) = id {
        out.extend_from_slice(br#","id":"#);
        out.extend_from_slice(id);
    }
    out.push(b'}');
}

/// Deserializes a key that is present (even as `null`) to `Some`; `#[serde(default)]` makes
/// an absent key `None`. Nest tells `response: null` from no `response` at all.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

/// A request or event as a server receives it.
#[derive(Debug, Deserialize)]
pub(crate) struct Incoming<'a> {
    #[serde(borrow, default, deserialize_with = "present")]
    pub pattern: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    pub data: Option<&'a RawValue>,
    /// Present (even `null`) means a request; absent means an event.
    #[serde(borrow, default, deserialize_with = "present")]
    pub id: Option<&'a RawValue>,
    /// What the client attached (Nest 12's `packet.metadata`).
    #[serde(borrow, default, deserialize_with = "present")]
    pub metadata: Option<&'a RawValue>,
}

impl<'a> Incoming<'a> {
    /// Parses a frame. JSON that is valid but not an object (Nest treats `null` as `{}`) is an
    /// event with no pattern. Invalid JSON is an error: the peer is corrupt.
    pub fn parse(frame: &'a [u8]) -> serde_json::Result<Self> {
        if is_array(frame)? {
            return Ok(Incoming {
                pattern: None,
                data: None,
                id: None,
                metadata: None,
            });
        }
        match from_json::<Incoming<'a>>(frame) {
            Ok(packet) => Ok(packet),
            Err(e) if e.is_data() => Ok(Incoming {
                pattern: None,
                data: None,
                id: None,
                metadata: None,
            }),
            Err(e) => Err(e),
        }
    }
}

/// Deserializes JSON, its UTF-8 checked once, up front: serde_json's slice reader checks
/// every raw value it captures again (a reply's `response`, each `RawReply` inside it), its
/// str reader never. Bytes that are not UTF-8 get the slice reader's own error.
pub(crate) fn from_json<'a, T: Deserialize<'a>>(json: &'a [u8]) -> serde_json::Result<T> {
    match std::str::from_utf8(json) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(json),
    }
}

/// A reply as a client receives it.
#[derive(Debug, Deserialize)]
pub(crate) struct Response<'a> {
    #[serde(borrow, default, deserialize_with = "present")]
    pub id: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    pub response: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    pub err: Option<&'a RawValue>,
    #[serde(rename = "isDisposed", borrow, default, deserialize_with = "present")]
    pub is_disposed: Option<&'a RawValue>,
}

impl<'a> Response<'a> {
    /// Parses a reply frame. An array is JSON with none of a reply's fields, as JavaScript
    /// destructures it (serde would read its elements as the fields, in order).
    pub fn parse(frame: &'a [u8]) -> serde_json::Result<Self> {
        if is_array(frame)? {
            return Ok(Response {
                id: None,
                response: None,
                err: None,
                is_disposed: None,
            });
        }
        from_json(frame)
    }
}

/// Whether `frame` is a JSON array (an error if it starts as one but is not JSON). serde's
/// derived structs accept arrays, their elements taken as the fields in order: a Nest peer
/// reads `packet.pattern` of an array as `undefined`, and so must we.
fn is_array(frame: &[u8]) -> serde_json::Result<bool> {
    if frame.trim_ascii_start().first() != Some(&b'[') {
        return Ok(false);
    }
    from_json::<&RawValue>(frame).map(|_| true)
}

impl Response<'_> {
    /// The `err` value if it counts: Nest ignores a falsy one (`null`, `false`, `0`, `""`).
    pub fn error(&self) -> Option<&RawValue> {
        self.err.filter(|e| is_truthy(e))
    }

    /// True when this packet ends the call (an error, or a truthy `isDisposed`).
    pub fn is_final(&self) -> bool {
        self.error().is_some() || self.is_disposed.is_some_and(is_truthy)
    }

    /// Our own ids are decimal strings; anything else is not a reply to us.
    pub fn our_id(&self) -> Option<u64> {
        let text = self.id?.get();
        text.strip_prefix('"')?.strip_suffix('"')?.parse().ok()
    }
}

/// Nest's usual final reply, `{"response":V,"isDisposed":true,"id":"N"}` (its keys in the
/// order Nest and our servers write them, no spaces), read by its shape alone: the id, and
/// where `V` lies in the frame. `V` itself is not read: the caller's own deserialization of it
/// is the one pass over it. If `V` is one JSON value, the frame is exactly that reply (every
/// quote of the suffix is a string's delimiter, and the suffix ends the object), so the two
/// paths agree; if `V` is not (`1,"err":"x"`), the caller reads the frame as
/// [`Response::parse`] does (see [`ClientProxy`](crate::client::ClientProxy)'s decoding).
pub(crate) fn usual_reply(frame: &[u8]) -> Option<(u64, std::ops::Range<usize>)> {
    const TAIL: &[u8] = br#","isDisposed":true,"id":""#;
    let body = frame.strip_prefix(REPLY_HEAD)?.strip_suffix(br#""}"#)?;
    let digits = body.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    let (rest, id) = body.split_at(body.len() - digits);
    let id = std::str::from_utf8(id).ok()?.parse().ok()?;
    let value = rest.strip_suffix(TAIL)?;
    (!value.is_empty()).then(|| (id, REPLY_HEAD.len()..REPLY_HEAD.len() + value.len()))
}

/// How Nest's final reply begins.
const REPLY_HEAD: &[u8] = br#"{"response":"#;

/// Nest's usual final reply over RabbitMQ, `{"response":V,"isDisposed":true}`: the body has no
/// id (the `correlation_id` property says whose it is). Where `V` lies in the frame, read by
/// its shape as [`usual_reply`] reads the other transports' replies, and with the same
/// argument: if `V` is one JSON value the frame is exactly that reply; if not
/// (`1,"err":"x"`), the caller reads the whole frame.
pub(crate) fn usual_reply_without_id(frame: &[u8]) -> Option<std::ops::Range<usize>> {
    const TAIL: &[u8] = br#","isDisposed":true}"#;
    let value = frame.strip_prefix(REPLY_HEAD)?.strip_suffix(TAIL)?;
    (!value.is_empty()).then(|| REPLY_HEAD.len()..REPLY_HEAD.len() + value.len())
}

/// Nest's usual request on a broker subscribed to `route` (NATS, Redis, MQTT: the subject is
/// the route), `{"pattern":P,"data":D,"id":"N"}` (the keys in the order Nest's clients and
/// ours write them, no spaces, no `metadata`), read by its shape: where `D` and the id lie in
/// the frame. `P` must be the route's own JSON (a string route quoted, an object route as
/// is), `N` printable ASCII without `"` or `\`, and `D` one JSON value (checked, not built).
/// Then the frame is exactly that request, and [`Incoming::parse`] would read the same three
/// keys; anything else (another key or order, a pattern written otherwise) is left to it.
pub(crate) fn usual_request(
    frame: &[u8],
    route: &str,
    route_checked: bool,
) -> Option<(std::ops::Range<usize>, std::ops::Range<usize>)> {
    const HEAD: &[u8] = br#"{"pattern":"#;
    const DATA: &[u8] = br#","data":"#;
    const ID: &[u8] = br#","id":""#;
    let rest = frame.strip_prefix(HEAD)?;
    let rest = if route.starts_with('{') {
        // An object route is JSON as we normalize it, but a string route may only look like
        // one: checked, as it is compared, unless the caller knows it is (`route_checked`).
        let rest = rest.strip_prefix(route.as_bytes())?;
        if !route_checked {
            serde_json::from_str::<serde::de::IgnoredAny>(route).ok()?;
        }
        rest
    } else if route.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        return None; // a string JSON would write with escapes: the full read
    } else {
        let quoted = rest.strip_prefix(b"\"")?.strip_prefix(route.as_bytes())?;
        quoted.strip_prefix(b"\"")?
    };
    let rest = rest.strip_prefix(DATA)?;
    let start = frame.len() - rest.len();
    let body = rest.strip_suffix(br#""}"#)?;
    let id_len = body
        .iter()
        .rev()
        .take_while(|&&b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
        .count();
    let data = body[..body.len() - id_len].strip_suffix(ID)?;
    // Spaces around `D` are JSON, but not the value the full read captures.
    let spaced = |b: Option<&u8>| b.is_none_or(u8::is_ascii_whitespace);
    if spaced(data.first()) || spaced(data.last()) {
        return None;
    }
    // One JSON value, its text UTF-8 (the rest of the frame is the route's text or ASCII).
    serde_json::from_str::<serde::de::IgnoredAny>(std::str::from_utf8(data).ok()?).ok()?;
    let id_start = start + data.len() + ID.len() - 1; // from the id's opening quote
    Some((start..start + data.len(), id_start..frame.len() - 1))
}

/// JavaScript truthiness of a JSON value.
pub(crate) fn is_truthy(value: &RawValue) -> bool {
    match value.get().as_bytes().first() {
        Some(b'n' | b'f') => false, // null, false
        Some(b'"') => value.get().len() > 2,
        Some(b'-' | b'0'..=b'9') => value.get().parse::<f64>().is_ok_and(|n| n != 0.0),
        _ => true, // true, objects, arrays
    }
}

/// The sub-slice of `frame` that `raw` borrows from, as shared [`Bytes`] (no copy).
pub(crate) fn slice_of(frame: &Bytes, raw: &RawValue) -> Bytes {
    frame.slice_ref(raw.get().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text(out: Vec<u8>) -> String {
        String::from_utf8(out).unwrap()
    }

    /// A packet's pattern, data and id texts, and whether it has metadata.
    type Whole = (Option<String>, Option<String>, Option<String>, bool);

    /// What the full read finds of `frame`; `None` for a frame that is not JSON.
    fn read_whole(frame: &[u8]) -> Option<Whole> {
        let packet = Incoming::parse(frame).ok()?;
        let text = |raw: Option<&RawValue>| raw.map(|r| r.get().to_owned());
        Some((
            text(packet.pattern),
            text(packet.data),
            text(packet.id),
            packet.metadata.is_some(),
        ))
    }

    #[test]
    fn the_usual_request_is_read_by_its_shape_as_the_full_read_reads_it() {
        let cases: &[(&str, &[u8], bool)] = &[
            ("sum", br#"{"pattern":"sum","data":[1,2,3],"id":"7"}"#, true),
            (
                r#"{"cmd":"get_user"}"#,
                br#"{"pattern":{"cmd":"get_user"},"data":{"id":"42","note":",\"id\":\"9"},"id":"5e9c-uuid"}"#,
                true,
            ),
            ("sum", br#"{"pattern":"sum","data":"caf\u00e9 \"x\"","id":"1"}"#, true),
            ("sum", br#"{"pattern":"sum","data":null,"id":"1"}"#, true),
            // Metadata, another key, order or spacing, a mistyped pattern: the full read.
            ("sum", br#"{"pattern":"sum","data":1,"metadata":{"a":"b"},"id":"1"}"#, false),
            ("sum", br#"{"pattern":"sum","data":1,"x":2,"id":"1"}"#, false),
            ("sum", br#"{"pattern":"sum","data":1,"id":"1","id":"2"}"#, false),
            ("sum", br#"{"data":1,"pattern":"sum","id":"1"}"#, false),
            ("sum", br#"{"pattern": "sum","data":1,"id":"1"}"#, false),
            ("sum", br#"{"pattern":"other","data":1,"id":"1"}"#, false),
            (r#"{"a":1,"b":2}"#, br#"{"pattern":{"b":2,"a":1},"data":1,"id":"1"}"#, false),
            ("sum", br#"{"pattern":"sum","data":1,"id":1}"#, false),
            ("sum", br#"{"pattern":"sum","data":1,"id":"a\"b"}"#, false),
            // Not one JSON value, or not JSON at all: the full read (which refuses it).
            ("sum", br#"{"pattern":"sum","data":1 2,"id":"1"}"#, false),
            ("sum", br#"{"pattern":"sum","data": 1,"id":"1"}"#, false),
            ("sum", br#"{"pattern":"sum","data":,"id":"1"}"#, false),
            ("sum", br#"{"pattern":"sum","data":{"a":},"id":"1"}"#, false),
            ("sum", b"{\"pattern\":\"sum\",\"data\":\"\xff\",\"id\":\"1\"}", false),
            ("sum", b"{\"pattern\":\"sum\",\"data\":\"a\nb\",\"id\":\"1\"}", false),
            // A route JSON would escape, or that is not JSON: never compared.
            ("s\"m", br#"{"pattern":"s\"m","data":1,"id":"1"}"#, false),
            ("{\"a\":\"x\ny\"}", b"{\"pattern\":{\"a\":\"x\ny\"},\"data\":1,\"id\":\"1\"}", false),
        ];
        for &(route, frame, shaped) in cases {
            let shown = String::from_utf8_lossy(frame);
            // A route known to be JSON (a registered one) skips only the check of its text.
            if !route.starts_with('{')
                || serde_json::from_str::<serde::de::IgnoredAny>(route).is_ok()
            {
                let checked = usual_request(frame, route, true);
                assert_eq!(checked, usual_request(frame, route, false), "{shown}");
            }
            match usual_request(frame, route, false) {
                Some((data, id)) => {
                    assert!(shaped, "read by its shape: {shown}");
                    let (pattern, whole_data, whole_id, metadata) =
                        read_whole(frame).expect("a shaped frame is JSON");
                    let pattern = pattern.unwrap();
                    assert!(
                        pattern == route || pattern == format!("\"{route}\""),
                        "{shown}"
                    );
                    assert_eq!(whole_data.as_deref().map(str::as_bytes), Some(&frame[data]));
                    assert_eq!(whole_id.as_deref().map(str::as_bytes), Some(&frame[id]));
                    assert!(!metadata);
                }
                None => assert!(!shaped, "left to the full read: {shown}"),
            }
        }
    }

    #[test]
    fn the_usual_reply_is_read_by_its_shape() {
        let frame = br#"{"response":{"id":"42","items":["a,\"isDisposed\":true"]},"isDisposed":true,"id":"17"}"#;
        let (id, range) = usual_reply(frame).unwrap();
        assert_eq!(id, 17);
        assert_eq!(
            &frame[range],
            br#"{"id":"42","items":["a,\"isDisposed\":true"]}"#
        );
        // Whatever else goes to the full parse.
        for other in [
            &br#"{"response":1,"id":"17"}"#[..],
            br#"{"err":"x","isDisposed":true,"id":"17"}"#,
            br#"{"response":1,"isDisposed":true,"id":17}"#,
            br#"{"response":1,"isDisposed":true,"id":"x17"}"#,
            br#"{"response":1,"isDisposed":true,"id":""}"#,
            br#"{"response":,"isDisposed":true,"id":"17"}"#,
            br#"{"response": 1, "isDisposed": true, "id": "17"}"#,
            br#"{"response":1,"isDisposed":true,"id":"99999999999999999999999"}"#,
        ] {
            assert_eq!(
                usual_reply(other),
                None,
                "{}",
                String::from_utf8_lossy(other)
            );
        }
    }

    #[test]
    fn rabbitmqs_usual_reply_is_read_by_its_shape() {
        let frame =
            br#"{"response":{"id":"42","items":["a,\"isDisposed\":true}"]},"isDisposed":true}"#;
        let range = usual_reply_without_id(frame).unwrap();
        assert_eq!(
            &frame[range],
            br#"{"id":"42","items":["a,\"isDisposed\":true}"]}"#
        );
        for other in [
            &br#"{"response":1}"#[..],
            br#"{"err":"x","isDisposed":true}"#,
            br#"{"response":,"isDisposed":true}"#,
            br#"{"response": 1, "isDisposed": true}"#,
            br#"{"response":1,"isDisposed":true,"id":"17"}"#,
            br#"{"isDisposed":true,"response":1}"#,
        ] {
            assert_eq!(
                usual_reply_without_id(other),
                None,
                "{}",
                String::from_utf8_lossy(other)
            );
        }
    }

    #[test]
    fn requests_and_events_have_nest_shape() {
        let mut out = Vec::new();
        let p = Pattern::from(json!({"cmd": "get_user"}));
        encode_request(&mut out, &p, &json!({"id": 7}), None, 1).unwrap();
        assert_eq!(
            text(out),
            r#"{"pattern":{"cmd":"get_user"},"data":{"id":7},"id":"1"}"#
        );

        let mut out = Vec::new();
        let p = Pattern::from(json!({"evt": "obj_event", "a": 1}));
        encode_event(&mut out, &p, &json!({"id": 10}), None).unwrap();
        assert_eq!(
            text(out),
            r#"{"pattern":"{\"a\":1,\"evt\":\"obj_event\"}","data":{"id":10}}"#
        );

        let mut out = Vec::new();
        encode_event(&mut out, &"user_created".into(), &json!({"id": 1}), None).unwrap();
        assert_eq!(text(out), r#"{"pattern":"user_created","data":{"id":1}}"#);
    }

    #[test]
    fn replies_match_captured_bytes() {
        let id = Some(&br#""r1""#[..]);
        let cases = [
            (
                Reply::Value {
                    json: br#"{"id":7,"name":"Ada"}"#,
                    last: true,
                },
                r#"{"response":{"id":7,"name":"Ada"},"isDisposed":true,"id":"r1"}"#,
            ),
            (
                Reply::Value {
                    json: br#"{"n":0}"#,
                    last: false,
                },
                r#"{"response":{"n":0},"id":"r1"}"#,
            ),
            (
                Reply::Error {
                    json: br#"{"status":"error","message":"boom"}"#,
                },
                r#"{"err":{"status":"error","message":"boom"},"isDisposed":true,"id":"r1"}"#,
            ),
            (Reply::Done, r#"{"isDisposed":true,"id":"r1"}"#),
            (
                Reply::NoHandler,
                r#"{"id":"r1","status":"error","err":"There is no matching message handler defined in the remote service."}"#,
            ),
        ];
        for (reply, expected) in cases {
            let mut out = Vec::new();
            encode_reply(&mut out, reply, id);
            assert_eq!(text(out), expected);
        }
        let mut out = Vec::new();
        encode_reply(&mut out, Reply::Done, Some(b"42"));
        assert_eq!(text(out), r#"{"isDisposed":true,"id":42}"#);
    }

    #[test]
    fn responses_tell_null_from_absent_and_honour_truthiness() {
        let r: Response =
            serde_json::from_str(r#"{"response":null,"isDisposed":true,"id":"5"}"#).unwrap();
        assert_eq!(r.response.unwrap().get(), "null");
        assert!(r.is_final());
        assert_eq!(r.our_id(), Some(5));

        let r: Response = serde_json::from_str(r#"{"isDisposed":true,"id":"5"}"#).unwrap();
        assert!(r.response.is_none() && r.is_final());

        let r: Response =
            serde_json::from_str(r#"{"err":null,"response":5,"isDisposed":true,"id":"x"}"#)
                .unwrap();
        assert!(r.error().is_none() && r.our_id().is_none());

        for falsy in ["null", "false", "0", "-0", "0.0", r#""""#] {
            assert!(
                !is_truthy(&RawValue::from_string(falsy.into()).unwrap()),
                "{falsy}"
            );
        }
        for truthy in ["true", "1", r#""x""#, "{}", "[]", "-0.5"] {
            assert!(
                is_truthy(&RawValue::from_string(truthy.into()).unwrap()),
                "{truthy}"
            );
        }
    }

    #[test]
    fn incoming_tells_requests_from_events() {
        let req = Incoming::parse(br#"{"pattern":"x","data":1,"id":null}"#).unwrap();
        assert!(req.id.is_some());
        let evt = Incoming::parse(br#"{"pattern":"x","data":1}"#).unwrap();
        assert!(evt.id.is_none());
        // An array is not read as the fields in order (Nest sees no pattern in it).
        let array = Incoming::parse(br#"["echo", 1, "7"]"#).unwrap();
        assert!(array.pattern.is_none() && array.id.is_none());
        assert!(Incoming::parse(b"[1,").is_err());
        let reply = Response::parse(br#"["7", 1, null, true]"#).unwrap();
        assert!(reply.id.is_none() && reply.response.is_none());
        let null = Incoming::parse(b"null").unwrap();
        assert!(null.pattern.is_none());
        assert!(Incoming::parse(b"{nope").is_err());
    }
}
