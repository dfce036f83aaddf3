//! `application/x-www-form-urlencoded` bodies as Nest parses them: Express's extended parser
//! (`qs` with body-parser's options: `depth: 32` strictly, `parameterLimit: 1000`,
//! `arrayLimit: max(100, parameters)`), so `user[name]=Ada&tags[]=a&tags[]=b` is
//! `{"user":{"name":"Ada"},"tags":["a","b"]}`. Values stay strings, as in Express.
//!
//! Checked against Express itself by `tests/edge.rs` (the same bodies posted to Nest's
//! parser and to ours).

use serde_json::{Map, Value};

use super::HttpException;

/// body-parser's `parameterLimit`.
const PARAMETER_LIMIT: usize = 1000;
/// body-parser's `depth` for the extended parser.
const DEPTH: usize = 32;

/// A value while the body is parsed: JavaScript's shapes, holes in arrays included, and
/// `qs`'s `strictMerge` mark (the last index of a container made by a conflict).
#[derive(Clone, Debug)]
enum Node {
    Str(String),
    Arr(Vec<Option<Node>>, Option<usize>),
    /// Keys in insertion order (made JavaScript's at the end).
    Obj(Vec<(String, Node)>, Option<usize>),
}

/// The JSON of a form body, or body-parser's 413 (too many parameters) or 400 (too deep).
pub(crate) fn form_to_json(body: &[u8]) -> Result<Vec<u8>, HttpException> {
    let text = String::from_utf8_lossy(body);
    let parts: Vec<&str> = text.split('&').collect();
    if parts.len() > PARAMETER_LIMIT {
        return Err(HttpException::new("too many parameters", 413));
    }
    let pairs = parts.iter().filter(|p| !p.is_empty()).map(|part| {
        let split = match part.find("]=") {
            Some(at) => Some(at + 1),
            None => part.find('='),
        };
        match split {
            Some(at) => (decode(&part[..at]), decode(&part[at + 1..])),
            None => (decode(part), String::new()),
        }
    });
    pairs_to_json(pairs, parts.len())
}

/// The JSON of decoded `(key, value)` pairs, nested by their keys as `qs` does (`count`: how
/// many there are, for `qs`'s array limit). What a multipart form's text fields become too.
pub(crate) fn pairs_to_json(
    pairs: impl Iterator<Item = (String, String)>,
    count: usize,
) -> Result<Vec<u8>, HttpException> {
    let array_limit = count.max(100);
    // `parseValues`: flat keys, a repeated key's values combined into an array.
    let mut flat: Vec<(String, Node)> = Vec::new();
    for (key, value) in pairs {
        match flat.iter_mut().find(|(k, _)| *k == key) {
            Some((_, existing)) => {
                let mut items = match std::mem::replace(existing, Node::Str(String::new())) {
                    Node::Arr(items, _) => items,
                    other => vec![Some(other)],
                };
                items.push(Some(Node::Str(value)));
                *existing = Node::Arr(items, None);
            }
            None => flat.push((key, Node::Str(value))),
        }
    }
    let mut root = Node::Obj(Vec::new(), None);
    for (key, value) in flat {
        if key.is_empty() {
            continue;
        }
        let chain = key_chain(&key)?;
        if chain.is_empty() {
            continue;
        }
        root = merge(root, object(&chain, value, array_limit));
    }
    let json = to_json(root);
    Ok(serde_json::to_vec(&json).expect("a JSON value serializes"))
}

/// `qs`'s decoder: `+` is a space, then percent-decoding; a malformed escape leaves the text
/// as it is (JavaScript's `decodeURIComponent` throws, and `qs` keeps the input).
fn decode(text: &str) -> String {
    let text = text.replace('+', " ");
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(byte) => {
                    out.push(byte);
                    i += 3;
                    continue;
                }
                None => return text,
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or(text)
}

/// `splitKeyIntoSegments`: `a[b][]` is `a`, `[b]`, `[]` (brackets balanced, text between
/// groups dropped, an unterminated group kept whole); deeper than [`DEPTH`] is body-parser's
/// 400.
fn key_chain(key: &str) -> Result<Vec<String>, HttpException> {
    let bytes = key.as_bytes();
    let mut chain = Vec::new();
    let first = key.find('[');
    let parent = first.map_or(key, |at| &key[..at]);
    if !parent.is_empty() {
        chain.push(parent.to_owned());
    }
    let mut open = first;
    let mut collected = 0;
    while let Some(start) = open.filter(|_| collected < DEPTH) {
        let mut level = 0usize;
        let close = (start..bytes.len()).find(|&i| {
            match bytes[i] {
                b'[' => level += 1,
                b']' => level -= 1,
                _ => {}
            }
            level == 0
        });
        let Some(close) = close else {
            chain.push(format!("[{}]", &key[start..]));
            return Ok(chain);
        };
        chain.push(key[start..=close].to_owned());
        collected += 1;
        open = key[close + 1..].find('[').map(|at| close + 1 + at);
    }
    if open.is_some() {
        return Err(HttpException::new("The input exceeded the depth", 400));
    }
    Ok(chain)
}

/// `parseObject`: the value nested along `chain`.
fn object(chain: &[String], value: Node, array_limit: usize) -> Node {
    let mut leaf = value;
    for root in chain.iter().rev() {
        leaf = if root == "[]" {
            match leaf {
                Node::Arr(items, _) => Node::Arr(items, None),
                other => Node::Arr(vec![Some(other)], None),
            }
        } else {
            let bracketed = root.starts_with('[') && root.ends_with(']') && root.len() >= 2;
            let clean = if bracketed {
                &root[1..root.len() - 1]
            } else {
                root.as_str()
            };
            match clean.parse::<usize>() {
                Ok(index) if bracketed && index.to_string() == clean && index < array_limit => {
                    let mut items = vec![None; index];
                    items.push(Some(leaf));
                    Node::Arr(items, None)
                }
                _ if clean == "__proto__" => Node::Obj(Vec::new(), None),
                _ => Node::Obj(vec![(clean.to_owned(), leaf)], None),
            }
        };
    }
    leaf
}

/// `qs`'s `utils.merge` with `strictMerge` (its default): a value meeting an object makes a
/// pair, and later values join that pair.
fn merge(target: Node, source: Node) -> Node {
    match (target, source) {
        (Node::Arr(mut items, mark), source @ Node::Str(_)) => {
            items.push(Some(source));
            Node::Arr(items, mark)
        }
        (Node::Obj(mut entries, Some(last)), source @ Node::Str(_)) => {
            set(&mut entries, (last + 1).to_string(), source);
            Node::Obj(entries, Some(last + 1))
        }
        (target @ Node::Obj(_, None), source @ Node::Str(_)) => {
            Node::Arr(vec![Some(target), Some(source)], Some(1))
        }
        (target @ Node::Str(_), source) => {
            let mut items = vec![Some(target)];
            match source {
                Node::Arr(more, _) => items.extend(more),
                other => items.push(Some(other)),
            }
            Node::Arr(items, None)
        }
        (Node::Arr(mut items, mark), Node::Arr(more, _)) => {
            for (i, item) in more.into_iter().enumerate() {
                let Some(item) = item else { continue };
                match items.get_mut(i) {
                    Some(slot @ Some(_)) => {
                        let existing = slot.take().expect("checked");
                        if matches!(existing, Node::Str(_)) || matches!(item, Node::Str(_)) {
                            *slot = Some(existing);
                            items.push(Some(item));
                        } else {
                            *slot = Some(merge(existing, item));
                        }
                    }
                    Some(hole) => *hole = Some(item),
                    None => {
                        items.resize(i, None);
                        items.push(Some(item));
                    }
                }
            }
            Node::Arr(items, mark)
        }
        (Node::Arr(items, mark), source @ Node::Obj(..)) => {
            let last = mark.map(|_| items.len() - 1);
            merge(Node::Obj(indexed(items), last), source)
        }
        (Node::Obj(mut entries, mut mark), source) => {
            let more = match source {
                Node::Obj(more, _) => more,
                Node::Arr(items, _) => indexed(items),
                Node::Str(_) => unreachable!("matched above"),
            };
            for (key, value) in more {
                match entries.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, existing)) => {
                        let current = std::mem::replace(existing, Node::Str(String::new()));
                        *existing = merge(current, value);
                    }
                    None => entries.push((key.clone(), value)),
                }
                if let (Some(last), Ok(index)) = (mark, key.parse::<usize>()) {
                    if index.to_string() == key && index > last {
                        mark = Some(index);
                    }
                }
            }
            Node::Obj(entries, mark)
        }
    }
}

/// `arrayToObject`: an array's items under their indexes, holes skipped.
fn indexed(items: Vec<Option<Node>>) -> Vec<(String, Node)> {
    items
        .into_iter()
        .enumerate()
        .filter_map(|(i, item)| Some((i.to_string(), item?)))
        .collect()
}

fn set(entries: &mut Vec<(String, Node)>, key: String, value: Node) {
    match entries.iter_mut().find(|(k, _)| *k == key) {
        Some((_, existing)) => *existing = value,
        None => entries.push((key, value)),
    }
}

/// JSON as `JSON.stringify` writes the JavaScript value: holes compacted away, integer keys
/// first in ascending order, then the others in insertion order.
fn to_json(node: Node) -> Value {
    match node {
        Node::Str(text) => Value::String(text),
        Node::Arr(items, _) => Value::Array(items.into_iter().flatten().map(to_json).collect()),
        Node::Obj(entries, _) => {
            let index = |k: &str| {
                k.parse::<u32>()
                    .ok()
                    .filter(|i| i.to_string() == k && *i < u32::MAX)
            };
            let (mut numeric, named): (Vec<_>, Vec<_>) =
                entries.into_iter().partition(|(k, _)| index(k).is_some());
            numeric.sort_by_key(|(k, _)| index(k));
            let map: Map<String, Value> = numeric
                .into_iter()
                .chain(named)
                .map(|(k, v)| (k, to_json(v)))
                .collect();
            Value::Object(map)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> String {
        String::from_utf8(form_to_json(body.as_bytes()).unwrap()).unwrap()
    }

    #[test]
    fn nested_keys_arrays_and_repeats_as_qs_reads_them() {
        assert_eq!(parse("a=1&b=x+y%21"), r#"{"a":"1","b":"x y!"}"#);
        assert_eq!(
            parse("user[name]=Ada&user[langs][]=en&user[langs][]=fr"),
            r#"{"user":{"name":"Ada","langs":["en","fr"]}}"#
        );
        assert_eq!(parse("a=1&a=2"), r#"{"a":["1","2"]}"#);
        assert_eq!(parse("a[1]=b&a[0]=c"), r#"{"a":["c","b"]}"#);
        assert_eq!(parse("flag&=x&b="), r#"{"flag":"","b":""}"#);
        assert_eq!(parse("bad=%E0%A4%A"), r#"{"bad":"%E0%A4%A"}"#);
        assert_eq!(parse(""), "{}");
    }

    #[test]
    fn limits_are_body_parsers() {
        let many = vec!["a=1"; 1001].join("&");
        assert_eq!(form_to_json(many.as_bytes()).unwrap_err().status(), 413);
        let deep = format!("a{}=1", "[b]".repeat(33));
        assert_eq!(form_to_json(deep.as_bytes()).unwrap_err().status(), 400);
    }
}
