//! What the fuzz targets in `fuzz/` call: each function takes any bytes and checks what must
//! hold for them (panics otherwise), reaching internals the public API does not. Not part of
//! the API; `fuzz/tests/corpus.rs` replays the committed corpus through the same functions on
//! stable Rust.

use bytes::{Bytes, BytesMut};
use serde_json::value::RawValue;
use serde_json::Value;
use tokio_util::codec::Decoder;

use crate::http::FromJsonBody;
use crate::packet::Incoming;
use crate::pattern::{route_of, route_of_incoming, Pattern};
use crate::server::dispatch::{dispatch, Dispatch};
use crate::server::reply::answer;
use crate::server::MessageRouter;
use crate::transport::tcp::NestCodec;

/// The frames (and the error that ended them, if one did) that `input` decodes to when it
/// arrives `chunk` bytes at a time.
fn decode_all(input: &[u8], chunk: usize, max_units: usize) -> (Vec<Bytes>, Option<String>) {
    let mut codec = NestCodec::new(max_units);
    let mut buffer = BytesMut::new();
    let mut frames = Vec::new();
    for piece in input.chunks(chunk.max(1)) {
        buffer.extend_from_slice(piece);
        loop {
            match codec.decode(&mut buffer) {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(error) => return (frames, Some(error.to_string())),
            }
        }
    }
    (frames, None)
}

/// Nest's TCP framing (`<length>#<json>`): whatever the bytes, decoding neither panics nor
/// depends on how the bytes were split into reads; every frame is UTF-8 whose length in
/// UTF-16 units is the one its header declared. The first byte picks the read size.
pub fn frames(data: &[u8]) {
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    let max_units = 4096;
    let whole = decode_all(input, input.len(), max_units);
    let split = decode_all(input, usize::from(first % 17) + 1, max_units);
    assert_eq!(whole.0, split.0, "frames differ with the read size");
    // An error may read differently when found with fewer bytes buffered, but one ends both
    // or neither.
    assert_eq!(
        whole.1.is_some(),
        split.1.is_some(),
        "{:?} vs {:?}",
        whole.1,
        split.1
    );
    let mut rest = input;
    for frame in &whole.0 {
        let text = std::str::from_utf8(frame).expect("a frame is UTF-8");
        let units = text.encode_utf16().count();
        let head = format!("{units}#");
        let at = rest
            .windows(head.len() + frame.len())
            .position(|w| w.starts_with(head.as_bytes()) && &w[head.len()..] == frame.as_ref())
            .expect("the frame is in the input under its declared length");
        rest = &rest[at + head.len() + frame.len()..];
    }
}

/// A router with a request handler, an event handler and a streaming one, for [`packet`].
fn router() -> &'static MessageRouter {
    static ROUTER: std::sync::OnceLock<MessageRouter> = std::sync::OnceLock::new();
    ROUTER.get_or_init(|| {
        MessageRouter::new()
            .message("echo", |data: Value| async move {
                Ok::<_, crate::server::RpcException>(data)
            })
            .message(
                serde_json::json!({ "cmd": "sum" }),
                |numbers: Vec<f64>| async move {
                    Ok::<_, crate::server::RpcException>(numbers.iter().sum::<f64>())
                },
            )
            .event("seen", |_: Value| async {})
    })
}

/// A packet as a server receives it: parsing, routing and answering never panic, and every
/// reply packet is JSON carrying the request's id.
pub fn packet(data: &[u8]) {
    let frame = Bytes::copy_from_slice(data);
    if let Ok(packet) = Incoming::parse(&frame) {
        if let Some(pattern) = packet.pattern {
            let _ = route_of_incoming(pattern);
        }
    }
    // A request read by its shape is what the full read finds.
    for route in ["echo", r#"{"cmd":"echo"}"#] {
        // Both routes are JSON or plain, as a registered route is: its check may be skipped.
        let shaped = crate::packet::usual_request(&frame, route, true);
        assert_eq!(shaped, crate::packet::usual_request(&frame, route, false));
        if let Some((data, id)) = shaped {
            let whole = Incoming::parse(&frame).expect("a request read by its shape is JSON");
            let text = |raw: Option<&RawValue>| raw.map(|r| r.get().to_owned().into_bytes());
            assert_eq!(
                text(whole.data),
                Some(frame[data].to_vec()),
                "the same data"
            );
            assert_eq!(text(whole.id), Some(frame[id].to_vec()), "the same id");
            assert!(whole.metadata.is_none(), "no metadata");
            let pattern = whole.pattern.expect("a pattern").get();
            assert!(pattern == route || pattern == format!("\"{route}\""));
        }
    }
    thread_local! {
        static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a runtime");
    }
    RUNTIME.with(|runtime| serve_packet(runtime, data, &frame));
}

fn serve_packet(runtime: &tokio::runtime::Runtime, data: &[u8], frame: &Bytes) {
    for subject in [None, Some("echo")] {
        let Ok(routed) = dispatch(router(), frame, subject, None) else {
            assert!(
                serde_json::from_slice::<Value>(data).is_err(),
                "JSON refused"
            );
            continue;
        };
        runtime.block_on(async {
            match routed {
                Dispatch::Request { id, reply } => {
                    let mut sent = Vec::new();
                    answer(reply, Some(id.clone()), |body| {
                        sent.push(body);
                        async {}
                    })
                    .await;
                    assert!(!sent.is_empty(), "a request is answered");
                    for body in sent {
                        // Raw: JSON numbers past f64 (`1e999`) are JSON all the same.
                        let reply: std::collections::HashMap<&str, &RawValue> =
                            serde_json::from_slice(&body).expect("replies are JSON objects");
                        let sent_id = std::str::from_utf8(&id).expect("the id is UTF-8");
                        assert_eq!(reply["id"].get(), sent_id.trim(), "the id is echoed");
                    }
                }
                Dispatch::Events(runs) => {
                    for run in runs {
                        run.await;
                    }
                }
                Dispatch::NoHandler { id } => {
                    serde_json::from_slice::<&RawValue>(&id).expect("the id is JSON");
                }
                Dispatch::Ignored => {}
            }
        });
    }
}

/// A message pattern's route (Nest's `transformPatternToRoute`): for any JSON, the route from
/// the value, from a [`Pattern`] and from the raw packet agree. (A route is not JSON: Nest
/// escapes only `\` and `"`.) Returns the pattern and its route, which `tests/tcp_interop.rs`
/// compares with Nest's for the whole corpus.
pub fn pattern(data: &[u8]) -> Option<(Value, String)> {
    let value: Value = serde_json::from_slice(data).ok()?;
    let route = route_of(&value);
    assert_eq!(Pattern::from(value.clone()).route(), route);
    if !value.is_string() {
        let raw: Box<serde_json::value::RawValue> = serde_json::from_slice(data).ok()?;
        assert_eq!(route_of_incoming(&raw).as_deref(), Some(route.as_str()));
    }
    Some((value, route))
}

/// A request body as `#[body]` reads it: any bytes are a value or Nest's 400 with a message,
/// and text serde takes is text our V8-worded syntax check takes; a form body is JSON or
/// body-parser's 400/413.
pub fn body(data: &[u8]) {
    match Value::from_json(data, Default::default()) {
        Ok(_) => {
            if let Ok(text) = std::str::from_utf8(data) {
                assert_eq!(crate::http::json_syntax::v8_message(text), None, "{text:?}");
            }
        }
        Err(error) => {
            assert_eq!(error.status(), 400);
            assert!(error.body()["message"].is_string(), "{}", error.body());
        }
    }
    match crate::http::form::form_to_json(data) {
        Ok(json) => {
            serde_json::from_slice::<Value>(&json).expect("a form body becomes JSON");
        }
        Err(error) => assert!(matches!(error.status(), 400 | 413), "{}", error.status()),
    }
}
