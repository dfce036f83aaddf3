//! Nest's `transformPatternToRoute`, byte for byte.
//!
//! This file depends on nothing but `serde_json` and `std` on purpose: `gateway-macros`
//! compiles the very same file (through `#[path]`) to normalize `pattern!` literals at compile
//! time, so the string a macro bakes into a binary and the string the runtime computes for an
//! incoming packet can never drift apart.
//!
//! The algorithm (from `@nestjs/microservices` `utils/transform-pattern.utils.ts`, 11.2 / 12.x):
//! strings are kept, numbers are printed the way JavaScript's `String(n)` prints them, objects
//! and arrays become `{"key":value,...}` with keys sorted by JavaScript `localeCompare` (ICU
//! collation, see [`compare_keys`]), only `\` and `"` escaped, `[MAX_DEPTH_REACHED]` below depth
//! 5 and `[TOO_MANY_KEYS]` above 20 keys.

use std::cmp::Ordering;

use serde_json::{Number, Value};

const MAX_DEPTH: usize = 5;
const MAX_KEYS: usize = 20;

/// Normalizes a pattern value into the route string Nest uses to key its handler table (and,
/// on NATS, Redis and MQTT, as the subject, channel or topic).
pub fn route_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => {
            // Room for a usual pattern (`{"cmd":"get_user"}`) at once, not grown a push at a
            // time.
            let mut out = String::with_capacity(64);
            write_route(other, 0, &mut out);
            out
        }
    }
}

fn write_route(value: &Value, depth: usize, out: &mut String) {
    match value {
        Value::String(s) => out.push_str(s),
        Value::Number(n) => write_js_number(n, out),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Null => out.push_str("null"),
        Value::Array(items) => {
            let keys: Vec<String> = (0..items.len()).map(|i| i.to_string()).collect();
            let entries = keys.iter().map(String::as_str).zip(items.iter());
            write_object(entries, items.len(), depth, out);
        }
        Value::Object(map) => {
            let entries = map.iter().map(|(k, v)| (k.as_str(), v));
            write_object(entries, map.len(), depth, out);
        }
    }
}

fn write_object<'a>(
    entries: impl Iterator<Item = (&'a str, &'a Value)>,
    len: usize,
    depth: usize,
    out: &mut String,
) {
    // Nest checks depth before the key count.
    if depth > MAX_DEPTH {
        out.push_str("[MAX_DEPTH_REACHED]");
        return;
    }
    if len > MAX_KEYS {
        out.push_str("[TOO_MANY_KEYS]");
        return;
    }
    // At most `MAX_KEYS` entries (more were refused above): sorted in place on the stack, not
    // collected into a `Vec` allocated and freed for every pattern a client normalizes.
    // `sort_by` is stable, as JavaScript's sort is; std sorts a slice of at most 20 by
    // insertion, with no buffer.
    static NULL: Value = Value::Null;
    let mut slots = [("", &NULL); MAX_KEYS];
    let mut n = 0;
    for (slot, entry) in slots.iter_mut().zip(entries) {
        *slot = entry;
        n += 1;
    }
    let entries = &mut slots[..n];
    entries.sort_by(|a, b| compare_keys(a.0, b.0));
    out.push('{');
    for (i, &(key, value)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        push_escaped(key, out);
        out.push_str("\":");
        match value {
            Value::String(s) => {
                out.push('"');
                push_escaped(s, out);
                out.push('"');
            }
            other => write_route(other, depth + 1, out),
        }
    }
    out.push('}');
}

/// Nest escapes only backslash and double quote; control characters stay raw. Searched for
/// as bytes (both are ASCII, so every cut is at a character's boundary), and the text between
/// them pushed whole.
fn push_escaped(s: &str, out: &mut String) {
    let mut rest = s;
    while let Some(at) = rest.bytes().position(|b| b == b'\\' || b == b'"') {
        let (plain, escaped) = rest.split_at(at);
        out.push_str(plain);
        out.push('\\');
        out.push_str(&escaped[..1]);
        rest = &escaped[1..];
    }
    out.push_str(rest);
}

/// Writes `n` as JavaScript's `Number.prototype.toString()` would.
pub fn write_js_number(n: &Number, out: &mut String) {
    const EXACT: u64 = 1 << 53;
    if let Some(i) = n.as_u64().filter(|i| *i <= EXACT) {
        out.push_str(&i.to_string());
    } else if let Some(i) = n.as_i64().filter(|i| i.unsigned_abs() <= EXACT) {
        out.push_str(&i.to_string());
    } else if let Some(f) = n.as_f64() {
        // Larger integers went through a double in JavaScript too.
        write_js_f64(f, out);
    }
}

/// ECMAScript `Number::toString` (radix 10) for a finite double.
pub fn write_js_f64(x: f64, out: &mut String) {
    if x == 0.0 {
        out.push('0'); // also -0
        return;
    }
    if x < 0.0 {
        out.push('-');
    }
    // Rust's `{:e}` prints the shortest digits that round-trip, as ECMAScript requires.
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci
        .split_once('e')
        .expect("`{:e}` always prints an exponent");
    let mut digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let exp: i32 = exp.parse().expect("`{:e}` prints a decimal exponent");
    if let Some(even) = tie_to_even(x.abs(), &digits, exp) {
        digits = even;
    }
    let k = digits.len() as i32;
    let n = exp + 1; // the decimal point sits after `n` digits
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        out.push_str(&digits[..n as usize]);
        out.push('.');
        out.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(&digits);
    } else {
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if n > 0 { '+' } else { '-' });
        out.push_str(&(n - 1).abs().to_string());
    }
}

/// ECMAScript's rule where Rust's is silent: when `x` lies exactly halfway between two
/// shortest candidates (`digits` and the one next to it in the last place), the even one.
/// (`211111111111111.12` and `.13` are as near the double; JavaScript prints `.12`.)
fn tie_to_even(x: f64, digits: &str, exp: i32) -> Option<String> {
    let k = digits.len();
    let last = digits.as_bytes()[k - 1] - b'0';
    if last.is_multiple_of(2) {
        return None;
    }
    // A double's exact decimal expansion has at most 767 significant digits.
    let exact = format!("{x:.780e}");
    let (mantissa, exact_exp) = exact.split_once('e')?;
    if exact_exp.parse::<i32>().ok()? != exp {
        return None;
    }
    let exact: String = mantissa.chars().filter(|c| *c != '.').collect();
    let halfway = |below: &str| {
        exact.starts_with(below)
            && exact[k..].starts_with('5')
            && exact[k + 1..].bytes().all(|b| b == b'0')
    };
    let mut lower = digits[..k - 1].to_owned();
    lower.push(char::from(b'0' + last - 1));
    let mut upper = digits[..k - 1].to_owned();
    upper.push(char::from(b'0' + last + 1));
    let candidate = if halfway(&lower) {
        lower
    } else if last < 9 && halfway(digits) {
        upper
    } else {
        return None;
    };
    // It must still read back as `x`.
    let shown = format!("{}.{}e{exp}", &candidate[..1], &candidate[1..]);
    if shown.parse::<f64>().ok()? != x {
        return None;
    }
    Some(candidate.trim_end_matches('0').to_owned()).filter(|c| !c.is_empty())
}

/// Primary collation weights of the ASCII characters in ICU's root order (what JavaScript's
/// `localeCompare` uses): the whitespace controls (tab, line feed, vertical tab, form feed,
/// carriage return), space, punctuation and symbols, digits, then letters, with upper and
/// lower case sharing one weight.
const PRIMARY_ORDER: &[u8] =
    b"\t\n\x0b\x0c\r _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789abcdefghijklmnopqrstuvwxyz";

const fn primary_table() -> [u16; 128] {
    // The other controls (U+0000-U+0008, U+000E-U+001F, U+007F) are not in the list: ICU
    // ignores them completely (weight 0), so `"a\u007fb"` and `"ab"` compare equal.
    let mut table = [IGNORABLE; 128];
    let mut i = 0;
    while i < PRIMARY_ORDER.len() {
        let c = PRIMARY_ORDER[i];
        table[c as usize] = i as u16 + 2;
        if c.is_ascii_lowercase() {
            table[c.to_ascii_uppercase() as usize] = i as u16 + 2;
        }
        i += 1;
    }
    table
}

static PRIMARY: [u16; 128] = primary_table();

/// The weight of a character ICU's root collation ignores.
const IGNORABLE: u16 = 0;

fn primary_weight(c: char) -> u32 {
    match u32::from(c) {
        // Outside ASCII: after every ASCII character, by code point. ICU would interleave
        // accented letters with their base letters; `pattern!` rejects such keys at compile
        // time, and over TCP both ends normalize with this same function.
        cp if cp >= 128 => 0x1_0000 + cp,
        cp => u32::from(PRIMARY[cp as usize]),
    }
}

/// Compares two object keys as JavaScript's `a.localeCompare(b)` does for ASCII keys (ICU
/// root collation): first by primary weight (punctuation < digits < letters, case ignored, a
/// prefix first, no numeric ordering, most control characters ignored), then at the first
/// difference in case, lowercase first. Keys equal by both keep their order (the sort is
/// stable, as V8's).
///
/// ```
/// # use gateway_core::pattern::compare_keys;
/// let mut keys = vec!["ID", "id", "Cmd", "cmd", "_id", "10", "2", "1"];
/// keys.sort_by(|a, b| compare_keys(a, b));
/// assert_eq!(keys, ["_id", "1", "10", "2", "cmd", "Cmd", "id", "ID"]);
/// ```
pub fn compare_keys(a: &str, b: &str) -> Ordering {
    let weighed = |c: &char| primary_weight(*c) != u32::from(IGNORABLE);
    let primary = a
        .chars()
        .filter(weighed)
        .map(primary_weight)
        .cmp(b.chars().filter(weighed).map(primary_weight));
    if primary != Ordering::Equal {
        return primary;
    }
    // Equal at the primary level: as many weighed characters, the same letters up to case.
    for (x, y) in a.chars().filter(weighed).zip(b.chars().filter(weighed)) {
        if x != y {
            match (x.is_lowercase(), y.is_lowercase()) {
                (true, false) => return Ordering::Less,
                (false, true) => return Ordering::Greater,
                _ => return x.cmp(&y),
            }
        }
    }
    Ordering::Equal
}
