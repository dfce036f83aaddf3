//! Message patterns: what a client addresses and what a server routes on.
//!
//! A Nest pattern is any JSON value, usually a string (`'order_created'`) or a small object
//! (`{ cmd: 'get_user' }`). It appears on the wire in two forms, and a [`Pattern`] carries
//! both so no transport recomputes them per call:
//!
//! - the **raw** JSON, as the sender wrote it (TCP requests and every broker body);
//! - the **route**, Nest's normalized string (TCP events, NATS subjects, Redis channels, MQTT
//!   topics, and the key of every server's handler table). See [`route_of`].
//!
//! Not for: matching wildcards (a broker concern) or validating payloads.

mod route;

use std::borrow::Cow;
use std::fmt;

use serde_json::Value;

pub use route::{compare_keys, route_of};

/// A message pattern, cheap to clone when built from `'static` text.
///
/// Build one from a string (`"order_created".into()`), from a JSON value
/// (`Pattern::from(json!({ "cmd": "get_user" }))`, normalized at run time), or with the
/// `pattern!` macro (normalized at compile time, no work per call).
///
/// ```
/// # use gateway_core::pattern::Pattern;
/// # use serde_json::json;
/// let p = Pattern::from(json!({ "role": "user", "cmd": "get" }));
/// assert_eq!(p.route(), r#"{"cmd":"get","role":"user"}"#);
/// assert_eq!(Pattern::from("user_created").route(), "user_created");
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Pattern {
    kind: Kind,
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum Kind {
    /// A string pattern: the route is the string, the raw form is its JSON quoting.
    Str(Cow<'static, str>),
    /// Any other JSON value: raw JSON text and its normalized route.
    Json {
        raw: Cow<'static, str>,
        route: Cow<'static, str>,
    },
}

impl Pattern {
    /// A string pattern from static text, usable in `const` and `static` items.
    pub const fn from_static(route: &'static str) -> Self {
        Pattern {
            kind: Kind::Str(Cow::Borrowed(route)),
        }
    }

    /// What `pattern!` expands to: raw JSON text and the route it normalizes to, both computed
    /// at compile time. Not for hand-written code: nothing checks that the two agree.
    #[doc(hidden)]
    pub const fn __from_static_parts(raw: &'static str, route: &'static str) -> Self {
        Pattern {
            kind: Kind::Json {
                raw: Cow::Borrowed(raw),
                route: Cow::Borrowed(route),
            },
        }
    }

    /// The normalized route string (see the module docs).
    pub fn route(&self) -> &str {
        match &self.kind {
            Kind::Str(s) => s,
            Kind::Json { route, .. } => route,
        }
    }

    /// Writes the raw pattern as JSON (what a TCP request or a broker body carries).
    pub(crate) fn write_raw(&self, out: &mut Vec<u8>) {
        match &self.kind {
            Kind::Str(s) => {
                serde_json::to_writer(&mut *out, s.as_ref()).expect("writing a str to a Vec")
            }
            Kind::Json { raw, .. } => out.extend_from_slice(raw.as_bytes()),
        }
    }

    /// Writes the route as a JSON string (what a TCP event carries in `pattern`).
    pub(crate) fn write_route_as_json_string(&self, out: &mut Vec<u8>) {
        serde_json::to_writer(&mut *out, self.route()).expect("writing a str to a Vec");
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({})", self.route())
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.route())
    }
}

impl From<&'static str> for Pattern {
    fn from(s: &'static str) -> Self {
        Pattern::from_static(s)
    }
}

impl From<String> for Pattern {
    fn from(s: String) -> Self {
        Pattern {
            kind: Kind::Str(Cow::Owned(s)),
        }
    }
}

impl From<&Pattern> for Pattern {
    fn from(p: &Pattern) -> Self {
        p.clone()
    }
}

impl From<Value> for Pattern {
    /// Normalizes the value at run time; prefer `pattern!` for literals.
    fn from(value: Value) -> Self {
        match value {
            Value::String(s) => Pattern::from(s),
            other => Pattern::from(&other),
        }
    }
}

impl From<&Value> for Pattern {
    /// Normalizes the value at run time without taking it, as Nest's client normalizes the
    /// object it is given on every call: a pattern kept in a `Value` need not be cloned for
    /// each call. Prefer `pattern!` for literals.
    fn from(value: &Value) -> Self {
        match value {
            Value::String(s) => Pattern::from(s.clone()),
            other => Pattern {
                kind: Kind::Json {
                    // Straight into a buffer, not through `Display`'s formatter (a third of
                    // this conversion's instructions).
                    raw: Cow::Owned(
                        serde_json::to_string(other).expect("a JSON value always serializes"),
                    ),
                    route: Cow::Owned(route_of(other)),
                },
            },
        }
    }
}

impl From<i64> for Pattern {
    fn from(n: i64) -> Self {
        Pattern::from(Value::from(n))
    }
}

/// Finds the route for a pattern as received from a peer, as Nest's
/// `Server.getRouteFromPattern` does: a string is parsed as JSON if it can be (so the string
/// `"{\"cmd\":\"x\"}"` a Nest client sends in a TCP event, and the object `{"cmd":"x"}` in a
/// request, reach the same handler), then normalized.
pub(crate) fn route_of_incoming(raw: &serde_json::value::RawValue) -> Option<String> {
    let value: Value = serde_json::from_str(raw.get()).ok()?;
    Some(match value {
        Value::String(s) => match serde_json::from_str::<Value>(&s) {
            Ok(parsed) => route_of(&parsed),
            Err(_) => s,
        },
        other => route_of(&other),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn route(v: Value) -> String {
        route_of(&v)
    }

    // Every row of docs/nest-wire.md §2.1, which was produced by Nest 12.1.1.
    #[test]
    fn matches_nest_examples() {
        assert_eq!(route(json!("get_user")), "get_user");
        assert_eq!(route(json!(42)), "42");
        assert_eq!(route(json!({"cmd": "get_user"})), r#"{"cmd":"get_user"}"#);
        assert_eq!(
            route(json!({"role": "user", "cmd": "get"})),
            r#"{"cmd":"get","role":"user"}"#
        );
        assert_eq!(route(json!({"b": 1, "a": "x"})), r#"{"a":"x","b":1}"#);
        assert_eq!(
            route(json!({"role": "user", "cmd": "nested", "meta": {"z": 1, "y": [1, 2]}})),
            r#"{"cmd":"nested","meta":{"y":{"0":1,"1":2},"z":1},"role":"user"}"#
        );
        assert_eq!(
            route(json!({"flag": true, "nothing": null})),
            r#"{"flag":true,"nothing":null}"#
        );
        assert_eq!(
            route(json!({"cmd": "x", "Cmd": "y", "_id": 1, "id": 2, "ID": 3})),
            r#"{"_id":1,"cmd":"x","Cmd":"y","id":2,"ID":3}"#
        );
        assert_eq!(
            route(json!({"10": "ten", "2": "two", "1": "one"})),
            r#"{"1":"one","10":"ten","2":"two"}"#
        );
        assert_eq!(
            route(json!({"a-b": 1, "a_b": 2, "ab": 3})),
            r#"{"a_b":2,"a-b":1,"ab":3}"#
        );
        assert_eq!(
            route(json!({"cmd": "he said \"hi\""})),
            r#"{"cmd":"he said \"hi\""}"#
        );
        assert_eq!(
            route(json!({"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}})),
            r#"{"a":{"b":{"c":{"d":{"e":{"f":[MAX_DEPTH_REACHED]}}}}}}"#
        );
        assert_eq!(route(json!({})), "{}");
    }

    #[test]
    fn too_many_keys_and_raw_control_characters() {
        let big: serde_json::Map<String, Value> =
            (0..21).map(|i| (format!("k{i}"), json!(i))).collect();
        assert_eq!(route(json!({ "x": big })), r#"{"x":[TOO_MANY_KEYS]}"#);
        assert_eq!(route(json!({"a": "x\ny\\"})), "{\"a\":\"x\ny\\\\\"}");
    }

    #[test]
    fn escapes_between_multibyte_characters_and_a_borrowed_value_normalize_alike() {
        let value = json!({"é\"k": "日\\本\"😀\"", "cmd": "\"\\"});
        let want = r#"{"cmd":"\"\\","é\"k":"日\\本\"😀\""}"#;
        assert_eq!(route(value.clone()), want);
        let borrowed = Pattern::from(&value);
        assert_eq!(borrowed, Pattern::from(value.clone()));
        assert_eq!(borrowed.route(), want);
        let mut raw = Vec::new();
        borrowed.write_raw(&mut raw);
        assert_eq!(raw, serde_json::to_vec(&value).unwrap());
        assert_eq!(Pattern::from(&json!("x\"y")).route(), "x\"y");
    }

    #[test]
    fn numbers_print_like_javascript() {
        let cases = [
            (json!(1.5), "1.5"),
            (json!(1.0), "1"),
            (json!(-0.0), "0"),
            (json!(1e21), "1e+21"),
            (json!(1e20), "100000000000000000000"),
            (json!(123456789012.5), "123456789012.5"),
            (json!(0.000001), "0.000001"),
            (json!(1e-7), "1e-7"),
            (json!(-2.5e-10), "-2.5e-10"),
            (json!(1.2345e25), "1.2345e+25"),
            (json!(12345678901234567890u64), "12345678901234567000"),
            (json!(-9007199254740993i64), "-9007199254740992"),
            (json!(0.1), "0.1"),
        ];
        for (value, expected) in cases {
            assert_eq!(
                route(json!({ "n": value })),
                format!(r#"{{"n":{expected}}}"#)
            );
        }
    }

    #[test]
    fn collation_matches_icu_for_ascii() {
        let mut keys = vec![
            "userId", "userid", "Ab", "aB", "Id", "iD", "cmd2", "cmd", "a b", "a_b", "a-b", "a.b",
            "a$b", "a~b", "a9", "$", "~",
        ];
        keys.sort_by(|a, b| compare_keys(a, b));
        assert_eq!(
            keys,
            [
                "~", "$", "a b", "a_b", "a-b", "a.b", "a~b", "a$b", "a9", "aB", "Ab", "cmd",
                "cmd2", "iD", "Id", "userid", "userId"
            ]
        );
    }

    #[test]
    fn incoming_patterns_reach_the_same_route() {
        let raw = |s: &str| serde_json::value::RawValue::from_string(s.to_owned()).unwrap();
        let want = r#"{"a":1,"cmd":"x"}"#;
        // a request's raw object, in any key order
        assert_eq!(
            route_of_incoming(&raw(r#"{"cmd":"x","a":1}"#)).unwrap(),
            want
        );
        // a TCP event's normalized string
        assert_eq!(
            route_of_incoming(&raw(r#""{\"a\":1,\"cmd\":\"x\"}""#)).unwrap(),
            want
        );
        assert_eq!(route_of_incoming(&raw("42")).unwrap(), "42");
        assert_eq!(route_of_incoming(&raw(r#""42""#)).unwrap(), "42");
        assert_eq!(
            route_of_incoming(&raw(r#""get_user""#)).unwrap(),
            "get_user"
        );
    }
}
