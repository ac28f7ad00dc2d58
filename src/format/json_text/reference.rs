//! The recursive-descent parser that [`super::is_json`]'s automaton
//! replaced, kept (for the tests only) as a second implementation to
//! compare it with.

// The bit stack of open containers is shared with the automaton; the
// grammar is what the two implement independently.
use super::{MAX_DEPTH, Nesting};

/// Whether `text` is exactly one JSON value, with optional whitespace around it.
pub(super) fn is_json(text: &[u8]) -> bool {
    (text.is_ascii() || std::str::from_utf8(text).is_ok()) && Parser { text, at: 0 }.document()
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
