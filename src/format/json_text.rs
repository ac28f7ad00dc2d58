//! Whether a JSON column's value is one valid JSON text (RFC 8259), so the
//! JSON writer can embed it as it is.
//!
//! A MariaDB JSON value is usually a few dozen bytes. simd-json checked them
//! before, but its set-up per call cost about 1,500 instructions for a
//! 31-byte `bench.mixed` document (callgrind); this single pass costs a few
//! per byte and allocates nothing. simd-json remains the oracle in the tests.
//!
//! Escaping rule: none; this only answers yes or no. Non-UTF-8 bytes make the
//! answer no (JSON text is UTF-8). Numbers are checked against the grammar
//! only, so integers beyond 64 bits and exponents beyond the f64 range are
//! valid JSON and are embedded as the server sent them. Nesting deeper than
//! [`MAX_DEPTH`] is answered no, and the value is then written as a string:
//! nothing is lost either way.

/// Deepest nesting accepted (MariaDB itself refuses documents deeper than 32).
pub(crate) const MAX_DEPTH: usize = 1024;

/// Whether `text` is exactly one JSON value, with optional whitespace around it.
pub(crate) fn is_json(text: &[u8]) -> bool {
    (text.is_ascii() || std::str::from_utf8(text).is_ok()) && Parser { text, at: 0 }.document()
}

/// Open containers as a bit stack: 1 for an object, 0 for an array.
struct Nesting {
    bits: [u64; MAX_DEPTH / 64],
    depth: usize,
}

impl Nesting {
    fn push(&mut self, object: bool) -> bool {
        if self.depth == MAX_DEPTH {
            return false;
        }
        let (word, bit) = (self.depth / 64, self.depth % 64);
        self.bits[word] = (self.bits[word] & !(1 << bit)) | (u64::from(object) << bit);
        self.depth += 1;
        true
    }

    /// Whether the innermost open container is an object (false when none).
    fn in_object(&self) -> bool {
        self.depth > 0 && {
            let top = self.depth - 1;
            self.bits[top / 64] >> (top % 64) & 1 == 1
        }
    }
}

struct Parser<'a> {
    text: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// Consumes `byte` (after whitespace) if it is next.
    fn eat(&mut self, byte: u8) -> bool {
        self.skip_whitespace();
        let hit = self.peek() == Some(byte);
        self.at += usize::from(hit);
        hit
    }

    /// The value, then any closing brackets and separators, until the
    /// document ends: iterative, so hostile nesting cannot exhaust the stack.
    fn document(&mut self) -> bool {
        let mut nesting = Nesting {
            bits: [0; MAX_DEPTH / 64],
            depth: 0,
        };
        'value: loop {
            self.skip_whitespace();
            match self.peek() {
                Some(open @ (b'{' | b'[')) => {
                    self.at += 1;
                    let object = open == b'{';
                    let close = if object { b'}' } else { b']' };
                    if nesting.depth == MAX_DEPTH {
                        return false;
                    }
                    if !self.eat(close) {
                        if !nesting.push(object) || (object && !self.key()) {
                            return false;
                        }
                        continue 'value;
                    }
                }
                Some(b'"') => {
                    if !self.string() {
                        return false;
                    }
                }
                Some(b't') => {
                    if !self.literal(b"true") {
                        return false;
                    }
                }
                Some(b'f') => {
                    if !self.literal(b"false") {
                        return false;
                    }
                }
                Some(b'n') => {
                    if !self.literal(b"null") {
                        return false;
                    }
                }
                Some(b'-' | b'0'..=b'9') => {
                    if !self.number() {
                        return false;
                    }
                }
                _ => return false,
            }
            // After a complete value: close containers or move to the next member.
            loop {
                if nesting.depth == 0 {
                    self.skip_whitespace();
                    return self.at == self.text.len();
                }
                let object = nesting.in_object();
                if self.eat(b',') {
                    if object && !self.key() {
                        return false;
                    }
                    continue 'value;
                }
                if !self.eat(if object { b'}' } else { b']' }) {
                    return false;
                }
                nesting.depth -= 1;
            }
        }
    }

    /// An object key and its colon.
    fn key(&mut self) -> bool {
        self.skip_whitespace();
        self.peek() == Some(b'"') && self.string() && self.eat(b':')
    }

    fn literal(&mut self, word: &[u8]) -> bool {
        let hit = self.text[self.at..].starts_with(word);
        self.at += if hit { word.len() } else { 0 };
        hit
    }

    /// A string from its opening quote: no raw control characters, only
    /// the escapes RFC 8259 lists. UTF-8 was checked for the whole text.
    fn string(&mut self) -> bool {
        self.at += 1;
        loop {
            let Some(b) = self.peek() else { return false };
            self.at += 1;
            match b {
                b'"' => return true,
                0x00..=0x1F => return false,
                b'\\' => match self.peek() {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.at += 1,
                    Some(b'u') => {
                        let hex = self.text.get(self.at + 1..self.at + 5);
                        if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                            return false;
                        }
                        self.at += 5;
                    }
                    _ => return false,
                },
                _ => {}
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
        self.at - start
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn number(&mut self) -> bool {
        self.at += usize::from(self.peek() == Some(b'-'));
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return false,
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if self.digits() == 0 {
                return false;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            self.at += usize::from(matches!(self.peek(), Some(b'+' | b'-')));
            if self.digits() == 0 {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// serde_json as the independent judge of the syntax (it skips UTF-8
    /// checks of strings it ignores, so std checks the encoding).
    fn serde_says(text: &[u8]) -> bool {
        std::str::from_utf8(text).is_ok()
            && serde_json::from_slice::<serde::de::IgnoredAny>(text).is_ok()
    }

    #[test]
    fn valid_documents() {
        for doc in [
            &b"{}"[..],
            b"[]",
            b" { \"a\" : [1, -0.5e+3, 2E-2, true, false, null, \"x\\u00e9\\n\"] } ",
            b"\"just a string\"",
            b"0",
            b"-0",
            b"123456789012345678901234567890",
            b"1e400",
            b"[[[[]]], {\"\": {}}]",
            "{\"t\": \"ü 中文 😀\"}".as_bytes(),
            b"{\"k\": 1, \"ok\": true, \"t\": \"a\\\"b\"}",
        ] {
            assert!(is_json(doc), "{}", String::from_utf8_lossy(doc));
            assert!(serde_says(doc), "the oracle disagrees on {doc:?}");
        }
    }

    #[test]
    fn invalid_documents() {
        for doc in [
            &b""[..],
            b" ",
            b"{",
            b"}",
            b"[1,]",
            b"[,1]",
            b"{\"a\"}",
            b"{\"a\":}",
            b"{\"a\":1,}",
            b"{a:1}",
            b"[1 2]",
            b"01",
            b"1.",
            b".5",
            b"1e",
            b"+1",
            b"-",
            b"tru",
            b"nulll",
            b"\"unterminated",
            b"\"tab\there\"",
            b"\"bad \\x escape\"",
            b"\"\\u12\"",
            b"[1]]",
            b"{} {}",
            b"\"\xff\"",
            b"NaN",
            b"[\"a\" : 1]",
            b"{\"a\" , 1}",
        ] {
            assert!(!is_json(doc), "{}", String::from_utf8_lossy(doc));
            assert!(!serde_says(doc), "the oracle disagrees on {doc:?}");
        }
    }

    #[test]
    fn nesting_is_bounded_and_iterative() {
        let deep = |n: usize| {
            let mut v = vec![b'['; n];
            v.extend(std::iter::repeat_n(b']', n));
            v
        };
        assert!(is_json(&deep(MAX_DEPTH)));
        assert!(!is_json(&deep(MAX_DEPTH + 1)));
        // Far beyond any stack a recursive parser would survive.
        assert!(!is_json(&deep(1_000_000)));
        let mixed: Vec<u8> = std::iter::repeat_n(&b"{\"a\":["[..], 300)
            .flatten()
            .copied()
            .chain(std::iter::repeat_n(&b"]}"[..], 300).flatten().copied())
            .collect();
        assert!(is_json(&mixed));
        let mut wrong = mixed.clone();
        let last = wrong.len() - 1;
        wrong[last] = b']';
        assert!(!is_json(&wrong));
    }

    fn fragment() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![
                Just(&b"{"[..]),
                Just(&b"}"[..]),
                Just(&b"["[..]),
                Just(&b"]"[..]),
                Just(&b","[..]),
                Just(&b":"[..]),
                Just(&b" "[..]),
                Just(&b"\"k\""[..]),
                Just(&b"\"a\\\"b\\\\\""[..]),
                Just(&b"\"\\u00e9\""[..]),
                Just(&b"1"[..]),
                Just(&b"-0.5e3"[..]),
                Just(&b"01"[..]),
                Just(&b"true"[..]),
                Just(&b"null"[..]),
                Just(&b"\"\x01\""[..]),
                Just(&b"\xc3\xa9"[..]),
                Just(&b"\xff"[..]),
            ],
            0..24,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest! {
        #[test]
        fn agrees_with_serde_json(text in fragment()) {
            prop_assert_eq!(is_json(&text), serde_says(&text), "{:?}", String::from_utf8_lossy(&text));
        }

        /// simd-json as a second judge (the fragments hold no number it
        /// would reject for its range).
        #[test]
        fn agrees_with_simd_json(text in fragment()) {
            let mut copy = text.clone();
            let simd = simd_json::to_borrowed_value(&mut copy).is_ok();
            prop_assert_eq!(is_json(&text), simd, "{:?}", String::from_utf8_lossy(&text));
        }

        #[test]
        fn accepts_what_serde_json_writes(v in any::<Vec<(String, Option<i64>, bool)>>()) {
            let text = serde_json::to_vec(&v).unwrap();
            prop_assert!(is_json(&text));
            let pretty = serde_json::to_vec_pretty(&v).unwrap();
            prop_assert!(is_json(&pretty));
        }
    }
}
