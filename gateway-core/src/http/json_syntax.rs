//! What Node's `JSON.parse` (V8) says about a body that is not JSON, so a malformed body's 400
//! reads as Nest's does (`Unexpected end of JSON input`, `Expected ',' or '}' after property
//! value in JSON at position 9`, `Unexpected token 'x', "{"a":x}" is not valid JSON`).
//!
//! A syntax check only, run on the error path (serde has already refused the text): it walks
//! the text as V8's JSON parser does and reports the first mistake in V8's words, positions
//! in UTF-16 units as JavaScript counts them.

/// V8's message for `text`, which does not parse. (`None` if it parses after all.)
pub(crate) fn v8_message(text: &str) -> Option<String> {
    let mut parser = Parser::new(text);
    let outcome = parser.value().and_then(|()| parser.end());
    outcome.err()
}

/// body-parser's strict mode (Express's `express.json()`, Nest's default): a body whose first
/// character is not `{` or `[` is refused with V8's message for that character.
pub(crate) fn strict_violation(text: &str) -> String {
    let mut parser = Parser::new(text);
    parser.skip_whitespace();
    if parser.peek().is_none() {
        return END.into();
    }
    parser.unexpected()
}

struct Parser {
    /// Each character and its UTF-16 offset.
    chars: Vec<(char, usize)>,
    /// The text in UTF-16 units, for snippets.
    units: Vec<u16>,
    at: usize,
}

type Step = Result<(), String>;

const END: &str = "Unexpected end of JSON input";

impl Parser {
    fn new(text: &str) -> Self {
        let mut offset = 0;
        let chars = text
            .chars()
            .map(|c| {
                let here = offset;
                offset += c.len_utf16();
                (c, here)
            })
            .collect();
        Parser {
            chars,
            units: text.encode_utf16().collect(),
            at: 0,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).map(|(c, _)| *c)
    }

    /// The UTF-16 position of the current character (the text's length at the end).
    fn pos(&self) -> usize {
        self.chars
            .get(self.at)
            .map_or(self.units.len(), |(_, p)| *p)
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | '\n' | '\r')) {
            self.at += 1;
        }
    }

    fn at_position(&self, what: &str) -> String {
        format!("{what} in JSON at position {}", self.pos())
    }

    /// `Unexpected token 'x', "..." is not valid JSON`, with V8's snippet of the source.
    fn unexpected(&self) -> String {
        const CONTEXT: usize = 10;
        let pos = self.pos();
        let len = self.units.len();
        let token = String::from_utf16_lossy(&self.units[pos..pos + 1]);
        let slice =
            |from: usize, to: usize| String::from_utf16_lossy(&self.units[from..to.min(len)]);
        let snippet = if len < CONTEXT * 2 + 1 {
            format!("\"{}\"", slice(0, len))
        } else if pos < CONTEXT {
            format!("\"{}\"...", slice(0, pos + CONTEXT))
        } else if pos < len - CONTEXT {
            format!("...\"{}\"...", slice(pos - CONTEXT, pos + CONTEXT))
        } else {
            format!("...\"{}\"", slice(pos - CONTEXT, len))
        };
        format!("Unexpected token '{token}', {snippet} is not valid JSON")
    }

    fn value(&mut self) -> Step {
        self.skip_whitespace();
        match self.peek() {
            None => Err(END.into()),
            Some('"') => self.string(),
            Some('{') => self.object(),
            Some('[') => self.array(),
            Some('-' | '0'..='9') => self.number(),
            Some('t') => self.literal("true"),
            Some('f') => self.literal("false"),
            Some('n') => self.literal("null"),
            Some(_) => Err(self.unexpected()),
        }
    }

    fn end(&mut self) -> Step {
        self.skip_whitespace();
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(format!(
                "Unexpected non-whitespace character after JSON at position {}",
                self.pos()
            )),
        }
    }

    fn literal(&mut self, word: &str) -> Step {
        for expected in word.chars() {
            match self.peek() {
                None => return Err(END.into()),
                Some(c) if c == expected => self.at += 1,
                Some(_) => return Err(self.unexpected()),
            }
        }
        Ok(())
    }

    fn object(&mut self) -> Step {
        self.at += 1;
        self.skip_whitespace();
        if self.peek() == Some('}') {
            self.at += 1;
            return Ok(());
        }
        let mut first = true;
        loop {
            if self.peek() != Some('"') {
                return Err(self.at_position(if first {
                    "Expected property name or '}'"
                } else {
                    "Expected double-quoted property name"
                }));
            }
            first = false;
            self.string()?;
            self.skip_whitespace();
            if self.peek() != Some(':') {
                return Err(self.at_position("Expected ':' after property name"));
            }
            self.at += 1;
            self.value()?;
            self.skip_whitespace();
            match self.peek() {
                Some(',') => {
                    self.at += 1;
                    self.skip_whitespace();
                }
                Some('}') => {
                    self.at += 1;
                    return Ok(());
                }
                _ => return Err(self.at_position("Expected ',' or '}' after property value")),
            }
        }
    }

    fn array(&mut self) -> Step {
        self.at += 1;
        self.skip_whitespace();
        if self.peek() == Some(']') {
            self.at += 1;
            return Ok(());
        }
        loop {
            self.value()?;
            self.skip_whitespace();
            match self.peek() {
                Some(',') => self.at += 1,
                Some(']') => {
                    self.at += 1;
                    return Ok(());
                }
                _ => return Err(self.at_position("Expected ',' or ']' after array element")),
            }
        }
    }

    fn string(&mut self) -> Step {
        self.at += 1;
        loop {
            match self.peek() {
                None => return Err(self.at_position("Unterminated string")),
                Some('"') => {
                    self.at += 1;
                    return Ok(());
                }
                Some('\\') => {
                    self.at += 1;
                    match self.peek() {
                        None => return Err(END.into()),
                        Some('"' | '\\' | '/' | 'b' | 'f' | 'n' | 'r' | 't') => self.at += 1,
                        Some('u') => {
                            self.at += 1;
                            for _ in 0..4 {
                                match self.peek() {
                                    Some(c) if c.is_ascii_hexdigit() => self.at += 1,
                                    _ => return Err(self.at_position("Bad Unicode escape")),
                                }
                            }
                        }
                        Some(_) => return Err(self.at_position("Bad escaped character")),
                    }
                }
                Some(c) if (c as u32) < 0x20 => {
                    return Err(self.at_position("Bad control character in string literal"))
                }
                Some(_) => self.at += 1,
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while matches!(self.peek(), Some('0'..='9')) {
            self.at += 1;
        }
        self.at - start
    }

    fn number(&mut self) -> Step {
        if self.peek() == Some('-') {
            self.at += 1;
            if !matches!(self.peek(), Some('0'..='9')) {
                return Err(self.at_position("No number after minus sign"));
            }
        }
        if self.peek() == Some('0') {
            self.at += 1;
            if matches!(self.peek(), Some('0'..='9')) {
                return Err(self.at_position("Unexpected number"));
            }
        } else {
            self.digits();
        }
        if self.peek() == Some('.') {
            self.at += 1;
            if self.digits() == 0 {
                return Err(self.at_position("Unterminated fractional number"));
            }
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            self.at += 1;
            if matches!(self.peek(), Some('+' | '-')) {
                self.at += 1;
            }
            if self.digits() == 0 {
                return Err(self.at_position("Exponent part is missing a number"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::v8_message;

    /// Each message as Node 20's `JSON.parse` prints it for the same text.
    #[test]
    fn messages_are_v8s() {
        let long_array = format!("[{}]", "1,".repeat(30));
        let long_object = format!("{{\"a\":{}x{}}}", "1".repeat(60), "2".repeat(60));
        let cases: Vec<(&str, &str)> = vec![
            ("{\"a\":", "Unexpected end of JSON input"),
            ("  ", "Unexpected end of JSON input"),
            ("tr", "Unexpected end of JSON input"),
            ("[1,", "Unexpected end of JSON input"),
            ("\"\\", "Unexpected end of JSON input"),
            (
                "{\"a\":}",
                "Unexpected token '}', \"{\"a\":}\" is not valid JSON",
            ),
            ("[1,]", "Unexpected token ']', \"[1,]\" is not valid JSON"),
            (
                "{\"a\":tru}",
                "Unexpected token '}', \"{\"a\":tru}\" is not valid JSON",
            ),
            ("xxxxx", "Unexpected token 'x', \"xxxxx\" is not valid JSON"),
            (
                "{\"é😀\":x}",
                "Unexpected token 'x', \"{\"é😀\":x}\" is not valid JSON",
            ),
            (
                "{}x",
                "Unexpected non-whitespace character after JSON at position 2",
            ),
            (
                "{\"a\":1}  x",
                "Unexpected non-whitespace character after JSON at position 9",
            ),
            (
                "[]]",
                "Unexpected non-whitespace character after JSON at position 2",
            ),
            (
                "{\"a\" 1}",
                "Expected ':' after property name in JSON at position 5",
            ),
            (
                "{\"a\"",
                "Expected ':' after property name in JSON at position 4",
            ),
            (
                "{a:1}",
                "Expected property name or '}' in JSON at position 1",
            ),
            ("{", "Expected property name or '}' in JSON at position 1"),
            (
                "{\"a\":1,",
                "Expected double-quoted property name in JSON at position 7",
            ),
            (
                "{\"a\":1,}",
                "Expected double-quoted property name in JSON at position 7",
            ),
            (
                "{\"a\":1 \"b\":2}",
                "Expected ',' or '}' after property value in JSON at position 7",
            ),
            (
                "[1 2]",
                "Expected ',' or ']' after array element in JSON at position 3",
            ),
            (
                "[1",
                "Expected ',' or ']' after array element in JSON at position 2",
            ),
            (
                "{\"a\":\"\\x\"}",
                "Bad escaped character in JSON at position 7",
            ),
            ("{\"\\u12\":1}", "Bad Unicode escape in JSON at position 6"),
            ("\"\\u12", "Bad Unicode escape in JSON at position 5"),
            (
                "{\"a\":1,\"b\":\"\u{1}\"}",
                "Bad control character in string literal in JSON at position 12",
            ),
            ("\"abc", "Unterminated string in JSON at position 4"),
            ("{\"a\":\"b", "Unterminated string in JSON at position 7"),
            ("{\"a\":01}", "Unexpected number in JSON at position 6"),
            (
                "{\"a\":-}",
                "No number after minus sign in JSON at position 6",
            ),
            ("-", "No number after minus sign in JSON at position 1"),
            (
                "{\"a\":1.}",
                "Unterminated fractional number in JSON at position 7",
            ),
            ("1.", "Unterminated fractional number in JSON at position 2"),
            (
                "{\"a\":1e}",
                "Exponent part is missing a number in JSON at position 7",
            ),
            (
                "1e",
                "Exponent part is missing a number in JSON at position 2",
            ),
            (
                &long_array,
                "Unexpected token ']', ...\"1,1,1,1,1,]\" is not valid JSON",
            ),
            (
                &long_object,
                "Expected ',' or '}' after property value in JSON at position 65",
            ),
        ];
        for (text, message) in cases {
            assert_eq!(v8_message(text).as_deref(), Some(message), "{text:?}");
        }
        assert_eq!(v8_message("{\"a\":[1,{\"b\":null}]}"), None);
    }

    #[test]
    fn strict_mode_refuses_what_is_not_an_object_or_array() {
        // What body-parser answers for `"abc"` and ` 5` (Node 20).
        assert_eq!(
            super::strict_violation("\"abc\""),
            "Unexpected token '\"', \"\"abc\"\" is not valid JSON"
        );
        assert_eq!(
            super::strict_violation(" 5"),
            "Unexpected token '5', \" 5\" is not valid JSON"
        );
    }

    #[test]
    fn snippets_follow_v8s_context_rules() {
        let start = format!("x{}", "1".repeat(30));
        assert_eq!(
            v8_message(&start).as_deref(),
            Some("Unexpected token 'x', \"x111111111\"... is not valid JSON")
        );
        let middle = format!("[{}x,{}]", "1,".repeat(10), "2,".repeat(10));
        assert_eq!(
            v8_message(&middle).as_deref(),
            Some("Unexpected token 'x', ...\"1,1,1,1,1,x,2,2,2,2,\"... is not valid JSON")
        );
    }
}
