//! Nest's TCP framing (`helpers/json-socket.ts`): `<length>#<json>`, back to back.
//!
//! The length counts **UTF-16 code units** of the JSON text (JavaScript's `string.length`),
//! not bytes: `é` counts 1, `😀` counts 2. A byte count makes Nest wait for data that never
//! comes. [`NestCodec`] is a `tokio_util::codec` pair: the decoder yields each frame's JSON
//! text as UTF-8 [`Bytes`], the encoder takes JSON text and writes the prefix.
//!
//! Not for: parsing the JSON inside a frame (see `packet`).

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

/// Nest's default `maxBufferSize`: 128 Mi UTF-16 units.
pub const DEFAULT_MAX_FRAME_UNITS: usize = 134_217_728;

/// The longest length prefix we accept: enough digits for any frame under the limit.
const MAX_PREFIX_DIGITS: usize = 10;

/// Why a TCP stream could not be decoded. Any of these ends the connection.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// Reading or writing the socket failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The text before `#` is not a decimal length (Nest's `CorruptedPacketLengthException`).
    #[error("Corrupted length value \"{prefix}\" supplied in a packet")]
    CorruptLength {
        /// The offending prefix, lossily decoded and cut to a few characters.
        prefix: String,
    },
    /// The announced length is above the configured maximum.
    #[error("The packet length ({len}) exceeds the maximum allowed length ({max})")]
    FrameTooLarge {
        /// The announced length, in UTF-16 units.
        len: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The peer stopped sending in the middle of a frame (Nest's `incompleteMessageTimeout`).
    #[error("The remote peer stopped sending in the middle of a packet ({buffered} bytes buffered) and did not send anything for {}ms", idle.as_millis())]
    Stalled {
        /// Bytes of the unfinished frame.
        buffered: usize,
        /// How long nothing arrived.
        idle: std::time::Duration,
    },
    /// A frame still unfinished after the whole-frame deadline, however steadily its bytes
    /// came (`ServerOptions::frame_deadline`; Nest has none).
    #[error("The remote peer did not finish a packet ({buffered} bytes buffered) within {}ms", within.as_millis())]
    Unfinished {
        /// Bytes of the unfinished frame.
        buffered: usize,
        /// The deadline.
        within: std::time::Duration,
    },
    /// The frame is not valid UTF-8, or its length ends inside a character.
    #[error("The invalid received message: {0}")]
    InvalidText(&'static str),
    /// The server's connections together hold more unfinished frames than its budget
    /// (`ServerOptions::max_buffered_bytes`), and this one holds the most.
    #[error("The unfinished packets of all connections exceed the server's budget; this connection held the most ({buffered} bytes)")]
    OverBudget {
        /// Bytes of this connection's unfinished frame.
        buffered: usize,
    },
}

/// The `tokio_util` codec for Nest's TCP transport. See the module docs.
#[derive(Debug, Clone)]
pub struct NestCodec {
    max_units: usize,
    state: State,
    /// The server's budget for unfinished frames, which this connection's buffer counts in.
    budget: Option<super::budget::Hook>,
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// Waiting for a complete `<digits>#` prefix.
    Head,
    /// Inside a frame body: `units` to take in all, `counted` so far up to byte `scanned`
    /// (offsets into the buffer, whose front does not move until the frame is split off).
    Body {
        start: usize,
        units: usize,
        scanned: usize,
        counted: usize,
        /// Whether every byte scanned so far was ASCII.
        all_ascii: bool,
    },
}

impl Default for NestCodec {
    fn default() -> Self {
        NestCodec::new(DEFAULT_MAX_FRAME_UNITS)
    }
}

impl NestCodec {
    /// A codec that refuses frames announcing more than `max_units` UTF-16 units.
    pub fn new(max_units: usize) -> Self {
        NestCodec {
            max_units,
            state: State::Head,
            budget: None,
        }
    }

    /// Counts this connection's buffered bytes in a server's budget.
    pub(crate) fn with_budget(mut self, budget: super::budget::Hook) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Tells the budget what the buffer holds; an error if this connection must go.
    fn within_budget(&self, src: &BytesMut) -> Result<(), CodecError> {
        match &self.budget {
            Some(budget) if !budget.hold(src.len()) => Err(CodecError::OverBudget {
                buffered: src.len(),
            }),
            _ => Ok(()),
        }
    }

    fn corrupt(prefix: &[u8]) -> CodecError {
        let shown = &prefix[..prefix.len().min(32)];
        CodecError::CorruptLength {
            prefix: String::from_utf8_lossy(shown).into_owned(),
        }
    }

    fn decode_head(&mut self, src: &BytesMut) -> Result<bool, CodecError> {
        let hash = src.iter().position(|b| *b == b'#');
        let digits = &src[..hash.unwrap_or(src.len())];
        if digits.len() > MAX_PREFIX_DIGITS || !digits.iter().all(u8::is_ascii_digit) {
            return Err(Self::corrupt(digits));
        }
        let Some(hash) = hash else {
            return Ok(false);
        };
        if digits.is_empty() {
            return Err(Self::corrupt(digits));
        }
        let units = std::str::from_utf8(digits)
            .ok()
            .and_then(|d| d.parse::<usize>().ok())
            .ok_or_else(|| Self::corrupt(digits))?;
        if units > self.max_units {
            return Err(CodecError::FrameTooLarge {
                len: units,
                max: self.max_units,
            });
        }
        self.state = State::Body {
            start: hash + 1,
            units,
            scanned: hash + 1,
            counted: 0,
            all_ascii: true,
        };
        Ok(true)
    }
}

/// UTF-16 units of the character whose UTF-8 encoding starts with `lead`, and its byte width.
fn char_shape(lead: u8) -> Option<(usize, usize)> {
    match lead {
        0x00..=0x7F => Some((1, 1)),
        0xC2..=0xDF => Some((1, 2)),
        0xE0..=0xEF => Some((1, 3)),
        0xF0..=0xF4 => Some((2, 4)),
        _ => None,
    }
}

/// The length prefix for a UTF-8 JSON text: its UTF-16 code units.
pub fn utf16_len(text: &[u8]) -> usize {
    if text.is_ascii() {
        return text.len();
    }
    // Every byte that starts a character is one unit, a 4-byte lead one more. Counted in u8
    // per chunk (at most 2 x 127 fits) so the loop vectorizes; 15x faster than a usize sum.
    text.chunks(127)
        .map(|chunk| {
            let units = chunk.iter().fold(0u8, |n, b| {
                n + u8::from((*b as i8) >= -0x40) + u8::from(*b >= 0xF0)
            });
            usize::from(units)
        })
        .sum()
}

impl Decoder for NestCodec {
    type Item = Bytes;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, CodecError> {
        if matches!(self.state, State::Head) && !self.decode_head(src)? {
            self.within_budget(src)?;
            return Ok(None);
        }
        let State::Body {
            start,
            units,
            mut scanned,
            mut counted,
            mut all_ascii,
        } = self.state
        else {
            unreachable!("decode_head moved to Body or returned");
        };
        while counted < units {
            let rest = &src[scanned..];
            if rest.is_empty() {
                break;
            }
            // ASCII runs count one unit per byte.
            let take = (units - counted).min(rest.len());
            let ascii = if rest[..take].is_ascii() {
                take
            } else {
                rest[..take]
                    .iter()
                    .position(|b| !b.is_ascii())
                    .unwrap_or(take)
            };
            if ascii > 0 {
                scanned += ascii;
                counted += ascii;
                continue;
            }
            all_ascii = false;
            let (char_units, width) =
                char_shape(rest[0]).ok_or(CodecError::InvalidText("not UTF-8"))?;
            if width > rest.len() {
                break; // the rest of this character is still on the wire
            }
            if counted + char_units > units {
                return Err(CodecError::InvalidText(
                    "the length ends inside a surrogate pair",
                ));
            }
            scanned += width;
            counted += char_units;
        }
        if counted < units {
            self.state = State::Body {
                start,
                units,
                scanned,
                counted,
                all_ascii,
            };
            self.within_budget(src)?;
            src.reserve((units - counted).min(64 * 1024));
            return Ok(None);
        }
        self.state = State::Head;
        let mut frame = src.split_to(scanned);
        frame.advance(start);
        // A frame of ASCII runs only is UTF-8; one with other characters is checked whole (the
        // scan read their lead bytes only).
        if !all_ascii && std::str::from_utf8(&frame).is_err() {
            return Err(CodecError::InvalidText("not UTF-8"));
        }
        Ok(Some(frame.freeze()))
    }
}

impl<B: AsRef<[u8]>> Encoder<B> for NestCodec {
    type Error = CodecError;

    /// Writes `<utf16 length>#<json>`. The JSON text must be UTF-8 (it is, from serde_json).
    fn encode(&mut self, json: B, dst: &mut BytesMut) -> Result<(), CodecError> {
        let json = json.as_ref();
        let mut digits = itoa::Buffer::new();
        let prefix = digits.format(utf16_len(json));
        dst.reserve(prefix.len() + 1 + json.len());
        dst.put_slice(prefix.as_bytes());
        dst.put_u8(b'#');
        dst.put_slice(json);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encode(json: &str) -> BytesMut {
        let mut out = BytesMut::new();
        NestCodec::default().encode(json, &mut out).unwrap();
        out
    }

    fn decode_all(codec: &mut NestCodec, buf: &mut BytesMut) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(frame) = codec.decode(buf).unwrap() {
            out.push(String::from_utf8(frame.to_vec()).unwrap());
        }
        out
    }

    #[test]
    fn prefix_counts_utf16_units_like_nest() {
        // The capture in docs/nest-wire.md §3.1: 64 units, 71 bytes.
        let json = r#"{"pattern":{"cmd":"echo"},"data":{"s":"héllo 😀 日本"},"id":"r18"}"#;
        assert_eq!(json.len(), 71);
        assert_eq!(&encode(json)[..3], b"64#");
        assert_eq!(&encode("{}")[..], b"2#{}");
        let reply = r#"{"response":{"s":"héllo 😀 日本"},"isDisposed":true,"id":"r18"}"#;
        assert_eq!(&encode(reply)[..3], b"61#");
        assert_eq!(utf16_len("😀😀".as_bytes()), 4);
        assert_eq!(utf16_len("\u{10FFFF}é\u{FFFF}".as_bytes()), 4);
    }

    #[test]
    fn decodes_coalesced_and_split_frames() {
        let mut codec = NestCodec::default();
        let wire =
            b"30#{\"response\":{\"n\":0},\"id\":\"r3\"}30#{\"response\":{\"n\":1},\"id\":\"r3\"}";
        let mut buf = BytesMut::from(&wire[..]);
        assert_eq!(decode_all(&mut codec, &mut buf).len(), 2);
        assert!(buf.is_empty());

        // one byte at a time, the prefix split too
        let mut buf = BytesMut::new();
        let mut frames = Vec::new();
        for b in wire {
            buf.put_u8(*b);
            frames.extend(decode_all(&mut codec, &mut buf));
        }
        assert_eq!(
            frames,
            [
                r#"{"response":{"n":0},"id":"r3"}"#,
                r#"{"response":{"n":1},"id":"r3"}"#
            ]
        );
    }

    #[test]
    fn never_splits_a_character_across_frames() {
        let first = "\"😀é日\"";
        let second = "\"x\"";
        let mut wire = encode(first);
        wire.extend_from_slice(&encode(second));
        let mut codec = NestCodec::default();
        // Feed everything but the last byte of the emoji, then the rest.
        let emoji_end = wire.iter().position(|b| *b == b'#').unwrap() + 1 + 1 + 4;
        let mut buf = BytesMut::from(&wire[..emoji_end - 1]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        buf.extend_from_slice(&wire[emoji_end - 1..]);
        assert_eq!(decode_all(&mut codec, &mut buf), [first, second]);
    }

    #[test]
    fn corrupt_lengths_are_errors_not_panics() {
        for bad in [
            &b"xx#{}"[..],
            b"#{}",
            b"-1#{}",
            b" 2#{}",
            b"2a#{}",
            b"12345678901#",
            b"abc",
        ] {
            let mut buf = BytesMut::from(bad);
            let err = NestCodec::default().decode(&mut buf).unwrap_err();
            assert!(
                matches!(err, CodecError::CorruptLength { .. }),
                "{bad:?} gave {err:?}"
            );
            assert!(err.to_string().starts_with("Corrupted length value"));
        }
        // a prefix that is still arriving is not an error yet
        let mut buf = BytesMut::from(&b"12"[..]);
        assert!(NestCodec::default().decode(&mut buf).unwrap().is_none());
    }

    #[test]
    fn rejects_oversized_frames_and_broken_text() {
        let mut buf = BytesMut::from(&b"101#"[..]);
        assert!(matches!(
            NestCodec::new(100).decode(&mut buf),
            Err(CodecError::FrameTooLarge { len: 101, max: 100 })
        ));
        // an emoji is 2 units: a length of 1 ends inside it
        let mut buf = BytesMut::from("1#😀".as_bytes());
        assert!(matches!(
            NestCodec::default().decode(&mut buf),
            Err(CodecError::InvalidText(_))
        ));
        // a stray continuation byte, and a bad continuation after a valid lead
        for bad in [&b"2#\x80a"[..], b"2#\xC3(a"] {
            let mut buf = BytesMut::from(bad);
            assert!(NestCodec::default().decode(&mut buf).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn empty_and_huge_payloads() {
        let mut codec = NestCodec::default();
        let mut buf = BytesMut::from(&b"0#2#{}"[..]);
        assert_eq!(decode_all(&mut codec, &mut buf), ["", "{}"]);

        // ~6 MB of mixed text, fed in 8 KiB chunks
        let text: String = "ab😀é日".repeat(600_000);
        let json = serde_json::to_string(&text).unwrap();
        let wire = encode(&json);
        let mut buf = BytesMut::new();
        let mut frames = Vec::new();
        for chunk in wire.chunks(8192) {
            buf.extend_from_slice(chunk);
            frames.extend(decode_all(&mut codec, &mut buf));
        }
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0], json);
    }

    fn arb_json_text() -> impl Strategy<Value = String> {
        // Strings with ASCII, 2-, 3- and 4-byte characters, quoted as JSON.
        proptest::collection::vec(
            prop_oneof![any::<char>(), Just('é'), Just('😀'), Just('#'), Just('日')],
            0..40,
        )
        .prop_map(|chars| serde_json::to_string(&chars.into_iter().collect::<String>()).unwrap())
    }

    proptest! {
        #[test]
        fn any_packets_survive_any_chunking(
            packets in proptest::collection::vec(arb_json_text(), 1..8),
            cuts in proptest::collection::vec(1usize..64, 0..32),
        ) {
            let mut wire = BytesMut::new();
            for p in &packets {
                NestCodec::default().encode(p.as_str(), &mut wire).unwrap();
            }
            let mut codec = NestCodec::default();
            let mut buf = BytesMut::new();
            let mut out = Vec::new();
            let mut rest = &wire[..];
            for cut in cuts.iter().cycle().take(wire.len()) {
                if rest.is_empty() { break; }
                let n = (*cut).min(rest.len());
                buf.extend_from_slice(&rest[..n]);
                rest = &rest[n..];
                out.extend(decode_all(&mut codec, &mut buf));
            }
            buf.extend_from_slice(rest);
            out.extend(decode_all(&mut codec, &mut buf));
            prop_assert_eq!(out, packets);
            prop_assert!(buf.is_empty());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut codec = NestCodec::default();
            let mut buf = BytesMut::from(&bytes[..]);
            while let Ok(Some(_)) = codec.decode(&mut buf) {}
        }
    }
}
