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
    document::<false, [u8]>(text, &mut []).is_some()
}

/// When `text` is exactly one JSON value, writes it without its
/// insignificant whitespace (spaces, tabs, CR and LF outside strings) to the
/// start of `out` and returns how many bytes that took (at most
/// `text.len()`); `None` when it is not JSON (or `out` is shorter than
/// `text`), with `out` holding garbage. The same pass as [`is_json`], with a
/// table whose entries mark the bytes to drop: one store and one add per
/// byte more. A value without line breaks cannot split an NDJSON line.
pub(crate) fn minify_json<O: Slots + ?Sized>(text: &[u8], out: &mut O) -> Option<usize> {
    if out.len() < text.len() {
        return None;
    }
    document::<true, O>(text, out)
}

/// Where [`minify_json`] may write: bytes, or the spare capacity of a
/// buffer (the JSON writer's reserved row), so the copy goes straight to
/// the output.
pub(crate) trait Slots {
    fn len(&self) -> usize;
    /// Stores `b` at `at` without a bounds check.
    ///
    /// # Safety
    /// `at < self.len()`.
    unsafe fn set_unchecked(&mut self, at: usize, b: u8);
}

impl Slots for [u8] {
    fn len(&self) -> usize {
        <[u8]>::len(self)
    }
    #[inline(always)]
    unsafe fn set_unchecked(&mut self, at: usize, b: u8) {
        // SAFETY: the caller keeps `at` in bounds.
        unsafe { *self.get_unchecked_mut(at) = b };
    }
}

impl Slots for [std::mem::MaybeUninit<u8>] {
    fn len(&self) -> usize {
        <[std::mem::MaybeUninit<u8>]>::len(self)
    }
    #[inline(always)]
    unsafe fn set_unchecked(&mut self, at: usize, b: u8) {
        // SAFETY: the caller keeps `at` in bounds.
        unsafe { self.get_unchecked_mut(at).write(b) };
    }
}

/// Open containers as a bit stack: 1 for an object, 0 for an array.
struct Nesting {
    bits: [u64; MAX_DEPTH / 64],
    depth: usize,
}

impl Nesting {
    /// Opens a container; false when that would pass [`MAX_DEPTH`].
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

    /// Closes the innermost container if it is an object (`object`) or an
    /// array (`!object`).
    fn pop(&mut self, object: bool) -> bool {
        let ok = self.depth > 0 && self.in_object() == object;
        self.depth -= usize::from(ok);
        ok
    }
}

// The grammar runs as a table-driven automaton, one lookup per byte; only
// brackets and commas, which depend on the open containers, leave the
// table. The recursive-descent parser before it cost about 670 instructions
// per 31-byte bench.mixed document, most of it in per-token dispatch;
// callgrind, pump json 20000: 88.33 M instructions in total before, 86.24 M
// with this.

/// Byte classes: every byte the grammar tells apart.
mod class {
    pub(super) const SPACE: u8 = 0;
    /// TAB, LF, CR: whitespace between tokens, not allowed raw in strings.
    pub(super) const WS_CTRL: u8 = 1;
    pub(super) const CTRL: u8 = 2;
    pub(super) const LBRACE: u8 = 3;
    pub(super) const RBRACE: u8 = 4;
    pub(super) const LBRACKET: u8 = 5;
    pub(super) const RBRACKET: u8 = 6;
    pub(super) const COLON: u8 = 7;
    pub(super) const COMMA: u8 = 8;
    pub(super) const QUOTE: u8 = 9;
    pub(super) const BACKSLASH: u8 = 10;
    pub(super) const SLASH: u8 = 11;
    pub(super) const MINUS: u8 = 12;
    pub(super) const PLUS: u8 = 13;
    pub(super) const ZERO: u8 = 14;
    pub(super) const DIGIT: u8 = 15;
    pub(super) const DOT: u8 = 16;
    // Letters of literals, escapes and exponents, each on its own.
    pub(super) const A: u8 = 17;
    pub(super) const B: u8 = 18;
    pub(super) const E: u8 = 19;
    pub(super) const F: u8 = 20;
    pub(super) const L: u8 = 21;
    pub(super) const N: u8 = 22;
    pub(super) const R: u8 = 23;
    pub(super) const S: u8 = 24;
    pub(super) const T: u8 = 25;
    pub(super) const U: u8 = 26;
    pub(super) const UPPER_E: u8 = 27;
    /// Hex digits not named above: `c d A B C D F`.
    pub(super) const HEX: u8 = 28;
    pub(super) const OTHER: u8 = 29;
    // Bytes from 0x80 by the part they play in UTF-8 (RFC 3629 §4).
    /// Continuation bytes 0x80..=0x8F.
    pub(super) const CONT_80: u8 = 30;
    /// Continuation bytes 0x90..=0x9F.
    pub(super) const CONT_90: u8 = 31;
    /// Continuation bytes 0xA0..=0xBF.
    pub(super) const CONT_A0: u8 = 32;
    /// Lead bytes of two-byte sequences, 0xC2..=0xDF.
    pub(super) const LEAD2: u8 = 33;
    pub(super) const LEAD_E0: u8 = 34;
    /// Lead bytes of three-byte sequences other than 0xE0 and 0xED.
    pub(super) const LEAD3: u8 = 35;
    pub(super) const LEAD_ED: u8 = 36;
    pub(super) const LEAD_F0: u8 = 37;
    /// Lead bytes 0xF1..=0xF3.
    pub(super) const LEAD4: u8 = 38;
    pub(super) const LEAD_F4: u8 = 39;
    /// 0xC0, 0xC1, 0xF5..=0xFF: never in UTF-8.
    pub(super) const NOT_UTF8: u8 = 40;
    /// Table rows are padded to 64 classes: a row's offset is then a shift.
    pub(super) const COUNT: usize = 64;
}

static CLASS: [u8; 256] = {
    let mut t = [class::OTHER; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = class::CTRL;
        i += 1;
    }
    t[b' ' as usize] = class::SPACE;
    t[b'\t' as usize] = class::WS_CTRL;
    t[b'\n' as usize] = class::WS_CTRL;
    t[b'\r' as usize] = class::WS_CTRL;
    t[b'{' as usize] = class::LBRACE;
    t[b'}' as usize] = class::RBRACE;
    t[b'[' as usize] = class::LBRACKET;
    t[b']' as usize] = class::RBRACKET;
    t[b':' as usize] = class::COLON;
    t[b',' as usize] = class::COMMA;
    t[b'"' as usize] = class::QUOTE;
    t[b'\\' as usize] = class::BACKSLASH;
    t[b'/' as usize] = class::SLASH;
    t[b'-' as usize] = class::MINUS;
    t[b'+' as usize] = class::PLUS;
    t[b'0' as usize] = class::ZERO;
    let mut d = b'1';
    while d <= b'9' {
        t[d as usize] = class::DIGIT;
        d += 1;
    }
    t[b'.' as usize] = class::DOT;
    t[b'a' as usize] = class::A;
    t[b'b' as usize] = class::B;
    t[b'e' as usize] = class::E;
    t[b'f' as usize] = class::F;
    t[b'l' as usize] = class::L;
    t[b'n' as usize] = class::N;
    t[b'r' as usize] = class::R;
    t[b's' as usize] = class::S;
    t[b't' as usize] = class::T;
    t[b'u' as usize] = class::U;
    t[b'E' as usize] = class::UPPER_E;
    t[b'c' as usize] = class::HEX;
    t[b'd' as usize] = class::HEX;
    let mut b = 0x80;
    while b <= 0xFF {
        t[b] = match b {
            0x80..=0x8F => class::CONT_80,
            0x90..=0x9F => class::CONT_90,
            0xA0..=0xBF => class::CONT_A0,
            0xC2..=0xDF => class::LEAD2,
            0xE0 => class::LEAD_E0,
            0xED => class::LEAD_ED,
            0xE1..=0xEF => class::LEAD3,
            0xF0 => class::LEAD_F0,
            0xF1..=0xF3 => class::LEAD4,
            0xF4 => class::LEAD_F4,
            _ => class::NOT_UTF8,
        };
        b += 1;
    }
    let mut h = b'A';
    while h <= b'F' {
        if h != b'E' {
            t[h as usize] = class::HEX;
        }
        h += 1;
    }
    t
};

/// Automaton states. States from `OPEN_OBJECT` on are actions that the
/// loop carries out (they need the nesting) and that lead to another state.
mod state {
    pub(super) const VALUE: u8 = 0;
    /// After `[`: a value or `]`.
    pub(super) const ARRAY_START: u8 = 1;
    /// After `{`: a key or `}`.
    pub(super) const OBJECT_START: u8 = 2;
    /// After `,` in an object.
    pub(super) const KEY: u8 = 3;
    pub(super) const COLON: u8 = 4;
    /// After a complete value.
    pub(super) const AFTER: u8 = 5;
    pub(super) const STRING: u8 = 6;
    pub(super) const ESCAPE: u8 = 7;
    /// After `\u`; the three states after it follow `\u` and 1..=3 hex digits.
    pub(super) const HEX1: u8 = 8;
    pub(super) const KEY_STRING: u8 = 12;
    pub(super) const KEY_ESCAPE: u8 = 13;
    pub(super) const KEY_HEX1: u8 = 14;
    pub(super) const MINUS: u8 = 18;
    /// After a leading `0`.
    pub(super) const ZERO: u8 = 19;
    pub(super) const INT: u8 = 20;
    pub(super) const DOT: u8 = 21;
    pub(super) const FRACTION: u8 = 22;
    /// After `e` or `E`.
    pub(super) const EXP: u8 = 23;
    pub(super) const EXP_SIGN: u8 = 24;
    pub(super) const EXP_DIGITS: u8 = 25;
    /// Inside `true`, `false`, `null`: the letters still to come.
    pub(super) const RUE: u8 = 26;
    pub(super) const UE: u8 = 27;
    pub(super) const E: u8 = 28;
    pub(super) const ALSE: u8 = 29;
    pub(super) const LSE: u8 = 30;
    pub(super) const SE: u8 = 31;
    pub(super) const ULL: u8 = 32;
    pub(super) const LL: u8 = 33;
    pub(super) const L: u8 = 34;
    /// Inside a multi-byte character of a string: seven states (see
    /// `UTF8_NEEDS`) from here, and seven more for keys.
    pub(super) const UTF8: u8 = 35;
    pub(super) const KEY_UTF8: u8 = 42;
    pub(super) const COUNT: usize = 49;
    pub(super) const OPEN_OBJECT: u8 = 49;
    pub(super) const OPEN_ARRAY: u8 = 50;
    pub(super) const CLOSE_OBJECT: u8 = 51;
    pub(super) const CLOSE_ARRAY: u8 = 52;
    pub(super) const COMMA: u8 = 53;
    pub(super) const FAIL: u8 = 54;
}

// Offsets from `state::UTF8` and `state::KEY_UTF8`: how many continuation
// bytes are still to come, or which restricted range the next one has.
const UTF8_1: u8 = 0;
const UTF8_2: u8 = 1;
const UTF8_3: u8 = 2;
/// After 0xE0: 0xA0..=0xBF (no overlong forms), then one more.
const UTF8_E0: u8 = 3;
/// After 0xED: 0x80..=0x9F (no surrogates), then one more.
const UTF8_ED: u8 = 4;
/// After 0xF0: 0x90..=0xBF (no overlong forms), then two more.
const UTF8_F0: u8 = 5;
/// After 0xF4: 0x80..=0x8F (nothing above U+10FFFF), then two more.
const UTF8_F4: u8 = 6;

/// `TRANSITIONS[state][class]`: the next state or action.
static TRANSITIONS: [[u8; class::COUNT]; state::COUNT] = {
    use class as c;
    use state as s;
    let mut t = [[s::FAIL; c::COUNT]; s::COUNT];
    // Where a value may start.
    let starts = [s::VALUE, s::ARRAY_START];
    let mut i = 0;
    while i < starts.len() {
        let row = &mut t[starts[i] as usize];
        row[c::SPACE as usize] = starts[i];
        row[c::WS_CTRL as usize] = starts[i];
        row[c::LBRACE as usize] = s::OPEN_OBJECT;
        row[c::LBRACKET as usize] = s::OPEN_ARRAY;
        row[c::QUOTE as usize] = s::STRING;
        row[c::MINUS as usize] = s::MINUS;
        row[c::ZERO as usize] = s::ZERO;
        row[c::DIGIT as usize] = s::INT;
        row[c::T as usize] = s::RUE;
        row[c::F as usize] = s::ALSE;
        row[c::N as usize] = s::ULL;
        i += 1;
    }
    t[s::ARRAY_START as usize][c::RBRACKET as usize] = s::CLOSE_ARRAY;
    // Where a key may start.
    let keys = [s::OBJECT_START, s::KEY];
    let mut i = 0;
    while i < keys.len() {
        let row = &mut t[keys[i] as usize];
        row[c::SPACE as usize] = keys[i];
        row[c::WS_CTRL as usize] = keys[i];
        row[c::QUOTE as usize] = s::KEY_STRING;
        i += 1;
    }
    t[s::OBJECT_START as usize][c::RBRACE as usize] = s::CLOSE_OBJECT;
    t[s::COLON as usize][c::SPACE as usize] = s::COLON;
    t[s::COLON as usize][c::WS_CTRL as usize] = s::COLON;
    t[s::COLON as usize][c::COLON as usize] = s::VALUE;
    // What may follow a value; a number ends at the first byte that is
    // not part of it, which must be one of these.
    let ends = [s::AFTER, s::ZERO, s::INT, s::FRACTION, s::EXP_DIGITS];
    let mut i = 0;
    while i < ends.len() {
        let row = &mut t[ends[i] as usize];
        row[c::SPACE as usize] = s::AFTER;
        row[c::WS_CTRL as usize] = s::AFTER;
        row[c::COMMA as usize] = s::COMMA;
        row[c::RBRACE as usize] = s::CLOSE_OBJECT;
        row[c::RBRACKET as usize] = s::CLOSE_ARRAY;
        i += 1;
    }
    // Strings: values and keys differ only in what follows them.
    let strings = [
        (s::STRING, s::ESCAPE, s::HEX1, s::AFTER, s::UTF8),
        (
            s::KEY_STRING,
            s::KEY_ESCAPE,
            s::KEY_HEX1,
            s::COLON,
            s::KEY_UTF8,
        ),
    ];
    let mut i = 0;
    while i < strings.len() {
        let (string, escape, hex1, after, utf8) = strings[i];
        let mut k = 0;
        while k < c::COUNT {
            if k != c::WS_CTRL as usize && k != c::CTRL as usize && k < c::CONT_80 as usize {
                t[string as usize][k] = string;
            }
            k += 1;
        }
        // Multi-byte characters: a lead byte says how many continuation
        // bytes follow and, for four leads, what range the first one has
        // (no overlong forms, no surrogates, nothing above U+10FFFF).
        t[string as usize][c::LEAD2 as usize] = utf8 + UTF8_1;
        t[string as usize][c::LEAD3 as usize] = utf8 + UTF8_2;
        t[string as usize][c::LEAD4 as usize] = utf8 + UTF8_3;
        t[string as usize][c::LEAD_E0 as usize] = utf8 + UTF8_E0;
        t[string as usize][c::LEAD_ED as usize] = utf8 + UTF8_ED;
        t[string as usize][c::LEAD_F0 as usize] = utf8 + UTF8_F0;
        t[string as usize][c::LEAD_F4 as usize] = utf8 + UTF8_F4;
        let conts = [c::CONT_80, c::CONT_90, c::CONT_A0];
        let mut k = 0;
        while k < conts.len() {
            let cont = conts[k] as usize;
            t[(utf8 + UTF8_1) as usize][cont] = string;
            t[(utf8 + UTF8_2) as usize][cont] = utf8 + UTF8_1;
            t[(utf8 + UTF8_3) as usize][cont] = utf8 + UTF8_2;
            k += 1;
        }
        t[(utf8 + UTF8_E0) as usize][c::CONT_A0 as usize] = utf8 + UTF8_1;
        t[(utf8 + UTF8_ED) as usize][c::CONT_80 as usize] = utf8 + UTF8_1;
        t[(utf8 + UTF8_ED) as usize][c::CONT_90 as usize] = utf8 + UTF8_1;
        t[(utf8 + UTF8_F0) as usize][c::CONT_90 as usize] = utf8 + UTF8_2;
        t[(utf8 + UTF8_F0) as usize][c::CONT_A0 as usize] = utf8 + UTF8_2;
        t[(utf8 + UTF8_F4) as usize][c::CONT_80 as usize] = utf8 + UTF8_2;
        t[string as usize][c::QUOTE as usize] = after;
        t[string as usize][c::BACKSLASH as usize] = escape;
        let simple = [
            c::QUOTE,
            c::BACKSLASH,
            c::SLASH,
            c::B,
            c::F,
            c::N,
            c::R,
            c::T,
        ];
        let mut k = 0;
        while k < simple.len() {
            t[escape as usize][simple[k] as usize] = string;
            k += 1;
        }
        t[escape as usize][c::U as usize] = hex1;
        let hex = [
            c::ZERO,
            c::DIGIT,
            c::A,
            c::B,
            c::E,
            c::F,
            c::UPPER_E,
            c::HEX,
        ];
        let mut h = 0;
        while h < 4 {
            let next = if h == 3 { string } else { hex1 + h + 1 };
            let mut k = 0;
            while k < hex.len() {
                t[(hex1 + h) as usize][hex[k] as usize] = next;
                k += 1;
            }
            h += 1;
        }
        i += 1;
    }
    // Numbers: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
    t[s::MINUS as usize][c::ZERO as usize] = s::ZERO;
    t[s::MINUS as usize][c::DIGIT as usize] = s::INT;
    t[s::INT as usize][c::ZERO as usize] = s::INT;
    t[s::INT as usize][c::DIGIT as usize] = s::INT;
    let mut i = 0;
    while i < 2 {
        let row = &mut t[[s::ZERO, s::INT][i] as usize];
        row[c::DOT as usize] = s::DOT;
        row[c::E as usize] = s::EXP;
        row[c::UPPER_E as usize] = s::EXP;
        i += 1;
    }
    t[s::DOT as usize][c::ZERO as usize] = s::FRACTION;
    t[s::DOT as usize][c::DIGIT as usize] = s::FRACTION;
    t[s::FRACTION as usize][c::ZERO as usize] = s::FRACTION;
    t[s::FRACTION as usize][c::DIGIT as usize] = s::FRACTION;
    t[s::FRACTION as usize][c::E as usize] = s::EXP;
    t[s::FRACTION as usize][c::UPPER_E as usize] = s::EXP;
    t[s::EXP as usize][c::PLUS as usize] = s::EXP_SIGN;
    t[s::EXP as usize][c::MINUS as usize] = s::EXP_SIGN;
    t[s::EXP as usize][c::ZERO as usize] = s::EXP_DIGITS;
    t[s::EXP as usize][c::DIGIT as usize] = s::EXP_DIGITS;
    t[s::EXP_SIGN as usize][c::ZERO as usize] = s::EXP_DIGITS;
    t[s::EXP_SIGN as usize][c::DIGIT as usize] = s::EXP_DIGITS;
    t[s::EXP_DIGITS as usize][c::ZERO as usize] = s::EXP_DIGITS;
    t[s::EXP_DIGITS as usize][c::DIGIT as usize] = s::EXP_DIGITS;
    // Literals, letter by letter.
    t[s::RUE as usize][c::R as usize] = s::UE;
    t[s::UE as usize][c::U as usize] = s::E;
    t[s::E as usize][c::E as usize] = s::AFTER;
    t[s::ALSE as usize][c::A as usize] = s::LSE;
    t[s::LSE as usize][c::L as usize] = s::SE;
    t[s::SE as usize][c::S as usize] = s::E;
    t[s::ULL as usize][c::U as usize] = s::LL;
    t[s::LL as usize][c::L as usize] = s::L;
    t[s::L as usize][c::L as usize] = s::AFTER;
    t
};

/// `TRANSITIONS` indexed by byte rather than class, each entry the next
/// state times 256: the next lookup is `STEP[entry + byte]`, with no
/// multiply or shift between the two loads. The table has 64 rows (a power
/// of two), so masking the index proves it in bounds and no check is
/// compiled in; the rows past `state::COUNT` are never reached.
///
/// Callgrind, pump json 20000: 78.10 M instructions with two lookups per
/// byte (class, then state), 76.79 M with one into a byte-indexed table;
/// then 70.37 M -> 69.58 M with pre-multiplied entries and four bytes per
/// loop step (six instructions a byte instead of ten). Inlining the
/// bracket and comma actions into the loop made it 71.20 M: the loop was
/// then no longer unrolled.
static STEP: [u16; STEP_LEN] = {
    let mut t = [(state::FAIL as u16) << 8; STEP_LEN];
    let mut s = 0;
    while s < state::COUNT {
        let mut b = 0;
        while b < 256 {
            t[s * 256 + b] = (TRANSITIONS[s][CLASS[b] as usize] as u16) << 8;
            b += 1;
        }
        s += 1;
    }
    t
};

const STEP_LEN: usize = 64 * 256;

/// In [`MINIFY_STEP`], marks an entry whose byte is insignificant
/// whitespace. States end below 0x3700, so bits 14 and 15 are free, and the
/// index mask `STEP_LEN - 1` drops the mark; marked entries are the only
/// ones from `DROP` on.
const DROP: u16 = 0x4000;

/// [`STEP`] with [`DROP`] on whitespace that leads to a state outside a
/// string (whitespace inside a string is kept, or fails when it is a raw
/// control character). A table of its own, so `is_json` runs exactly as
/// before.
static MINIFY_STEP: [u16; STEP_LEN] = {
    let mut t = STEP;
    let mut s = 0;
    while s < state::COUNT {
        let mut b = 0;
        while b < 256 {
            let entry = t[s * 256 + b];
            let class = CLASS[b];
            if (class == class::SPACE || class == class::WS_CTRL)
                && ((entry >> 8) as u8) < state::STRING
            {
                t[s * 256 + b] = entry | DROP;
            }
            b += 1;
        }
        s += 1;
    }
    t
};

/// Entries from here on are actions (`state::OPEN_OBJECT` and after).
const ACTION: u16 = (state::OPEN_OBJECT as u16) << 8;

/// Runs the automaton over `text`; with `MINIFY`, also copies every byte
/// the table does not mark [`DROP`] to `out` (which the caller made at least
/// as long as `text`). Returns the number of bytes copied (0 without
/// `MINIFY`), or `None` when `text` is not JSON. Bytes from 0x80 are allowed
/// only inside strings, as well-formed UTF-8, which the automaton checks as
/// it goes: a separate `from_utf8` pass cost about 170 instructions per
/// non-ASCII bench.mixed document, and `is_ascii` a few per byte on all of
/// them. Callgrind, pump json 20000: 80.11 M instructions before, 78.10 M
/// with this.
#[inline(always)]
fn document<const MINIFY: bool, O: Slots + ?Sized>(text: &[u8], out: &mut O) -> Option<usize> {
    if MINIFY && out.len() < text.len() {
        return None;
    }
    let table: &[u16; STEP_LEN] = if MINIFY { &MINIFY_STEP } else { &STEP };
    let mut nesting = Nesting {
        bits: [0; MAX_DEPTH / 64],
        depth: 0,
    };
    // Brackets and commas leave the table; `None` means the text is not JSON.
    // A closure the compiler keeps out of line: see `STEP` for what
    // inlining it cost.
    let act = |nesting: &mut Nesting, entry: u16| -> Option<u16> {
        let next = match (entry >> 8) as u8 {
            state::OPEN_OBJECT if nesting.push(true) => state::OBJECT_START,
            state::OPEN_ARRAY if nesting.push(false) => state::ARRAY_START,
            state::CLOSE_OBJECT if nesting.pop(true) => state::AFTER,
            state::CLOSE_ARRAY if nesting.pop(false) => state::AFTER,
            state::COMMA if nesting.depth > 0 => {
                if nesting.in_object() {
                    state::KEY
                } else {
                    state::VALUE
                }
            }
            _ => return None,
        };
        Some(u16::from(next) << 8)
    };
    let mut current = u16::from(state::VALUE) << 8;
    let mut pos = 0;
    // One byte: the next entry, the copy (`MINIFY`), the action if any (a
    // marked entry is a state below `ACTION` once the mark is off). A macro,
    // not a closure: as a closure it was called per byte, not inlined
    // (callgrind, pump json 20000: 62.7 M -> 70.8 M instructions).
    macro_rules! step {
        ($b:expr) => {
            let b = $b;
            current = table[(usize::from(current) | usize::from(b)) & (STEP_LEN - 1)];
            if MINIFY {
                // SAFETY: `pos` counts bytes kept among those before this
                // one, so `pos < text.len() <= out.len()` (`minify_json`
                // refuses a shorter `out`, `is_json` never gets here).
                // Without the bounds check: callgrind, pump ndjson 20000,
                // 66.02 M -> 63.93 M instructions (JSON: 61.98 M).
                unsafe { out.set_unchecked(pos, b) };
                pos += usize::from(current < DROP);
            }
            // Marked entries are above every action: one more compare for
            // them only, behind the one every byte pays.
            if current >= ACTION && (!MINIFY || current < DROP) {
                match act(&mut nesting, current) {
                    Some(next) => current = next,
                    None => return None,
                }
            }
        };
    }
    // Four bytes per loop step: the loop's own compare and branch are paid
    // once for four lookups.
    let mut chunks = text.chunks_exact(4);
    for chunk in &mut chunks {
        for &b in chunk {
            step!(b);
        }
    }
    for &b in chunks.remainder() {
        step!(b);
    }
    let end = ((current & !DROP) >> 8) as u8;
    (nesting.depth == 0
        && matches!(
            end,
            state::AFTER | state::ZERO | state::INT | state::FRACTION | state::EXP_DIGITS
        ))
    .then_some(pos)
}

#[cfg(test)]
mod reference;

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

    /// Every lead byte with every second byte and a choice of third and
    /// fourth, in a value string and in a key: the automaton's UTF-8 check
    /// agrees with std's (through the reference parser).
    #[test]
    fn utf8_in_strings_agrees_with_std() {
        // Only the second byte has ranges that depend on the first.
        let others = [0x22, 0x41, 0x80, 0xBF, 0xC0];
        let mut sequence = Vec::with_capacity(4);
        for b0 in 0x80..=0xFFu8 {
            for b1 in 0..=0xFFu8 {
                for &b2 in &others {
                    for &b3 in &others {
                        for len in 1..=4 {
                            sequence.clear();
                            sequence.extend_from_slice(&[b0, b1, b2, b3][..len]);
                            for doc in [
                                [&b"\""[..], &sequence, b"\""].concat(),
                                [&b"{\""[..], &sequence, b"\":0}"].concat(),
                            ] {
                                assert_eq!(is_json(&doc), reference::is_json(&doc), "{doc:02X?}");
                            }
                        }
                    }
                }
            }
        }
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

    /// Every byte value at every position of a document that passes through
    /// every state, replacing or inserted: the automaton and the reference
    /// parser agree.
    #[test]
    fn every_byte_in_every_state_agrees_with_the_reference() {
        let template: &[u8] =
            b" {\"k\\u00e9\\\"\": [1.5e+3, -0, 20E-1, true, false, null, \"x\\/\"], \"o\": {}, \"a\": []}\n";
        assert!(is_json(template) && reference::is_json(template));
        for at in 0..=template.len() {
            for b in 0..=255u8 {
                let mut inserted = template.to_vec();
                inserted.insert(at, b);
                assert_eq!(
                    is_json(&inserted),
                    reference::is_json(&inserted),
                    "{inserted:?}"
                );
                if at < template.len() {
                    let mut replaced = template.to_vec();
                    replaced[at] = b;
                    assert_eq!(
                        is_json(&replaced),
                        reference::is_json(&replaced),
                        "{replaced:?}"
                    );
                }
            }
        }
    }

    /// Fragments for comparing the two parsers, with every kind of whitespace,
    /// escape and number part, and cut-off tokens.
    fn rich_fragment() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![
                4 => fragment(),
                1 => proptest::collection::vec(
                    prop_oneof![
                        Just(&b"\t"[..]),
                        Just(&b"\n\r"[..]),
                        Just(&b"\"\\u12"[..]),
                        Just(&b"\\u00Af\""[..]),
                        Just(&b"\\/\\b\\f\\n\\r\\t"[..]),
                        Just(&b"\\x"[..]),
                        Just(&b"\\"[..]),
                        Just(&b"1.5E+2"[..]),
                        Just(&b"-"[..]),
                        Just(&b"."[..]),
                        Just(&b"e-"[..]),
                        Just(&b"0"[..]),
                        Just(&b"9"[..]),
                        Just(&b"fals"[..]),
                        Just(&b"false"[..]),
                        Just(&b"nul"[..]),
                        Just(&b"\""[..]),
                        Just(&b"\x7f"[..]),
                    ],
                    0..6,
                )
                .prop_map(|parts| parts.concat()),
            ],
            0..6,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        #[test]
        fn agrees_with_the_reference_parser(text in rich_fragment()) {
            prop_assert_eq!(is_json(&text), reference::is_json(&text), "{:?}", String::from_utf8_lossy(&text));
        }
    }

    /// The text without whitespace outside strings, by a walk that only
    /// tracks strings and escapes (meaningful for valid JSON only).
    fn strip_whitespace(text: &[u8]) -> Vec<u8> {
        let (mut in_string, mut escaped) = (false, false);
        let mut out = Vec::new();
        for &b in text {
            if in_string {
                (in_string, escaped) = (escaped || b != b'"', !escaped && b == b'\\');
            } else if b == b'"' {
                in_string = true;
            } else if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                continue;
            }
            out.push(b);
        }
        out
    }

    fn minified(text: &[u8]) -> Option<Vec<u8>> {
        let mut out = vec![0xAA; text.len()];
        let n = minify_json(text, &mut out[..])?;
        out.truncate(n);
        Some(out)
    }

    #[test]
    fn minify_drops_whitespace_outside_strings_only() {
        let doc =
            b" {\n  \"a b\" : [ 1 ,\t-0.5e+3 , true,\r\n null ],\n  \"s\": \" x \\\" y \"\n} \n";
        assert_eq!(
            minified(doc).as_deref(),
            Some(&b"{\"a b\":[1,-0.5e+3,true,null],\"s\":\" x \\\" y \"}"[..])
        );
        assert_eq!(minified(b" 12 ").as_deref(), Some(&b"12"[..]));
        assert_eq!(minified(b"\" \"").as_deref(), Some(&b"\" \""[..]));
        assert_eq!(minified(b"[1 2]"), None);
        assert_eq!(minified(b"\"a\nb\""), None);
        // Too little room is refused, not a panic.
        assert_eq!(minify_json(b"[ ]", &mut [0; 2][..]), None);
    }

    proptest! {
        /// Answers as `is_json` does; where it is JSON, the copy is the text
        /// without whitespace outside strings, parses to the same value, and
        /// has no line break.
        #[test]
        fn minify_agrees_with_is_json_and_serde_json(text in rich_fragment()) {
            let got = minified(&text);
            prop_assert_eq!(got.is_some(), is_json(&text));
            if let Some(got) = got {
                prop_assert_eq!(&got, &strip_whitespace(&text));
                prop_assert!(!got.contains(&b'\n') && !got.contains(&b'\r'));
                let a: serde_json::Value = serde_json::from_slice(&got).unwrap();
                let b: serde_json::Value = serde_json::from_slice(&text).unwrap();
                prop_assert_eq!(a, b);
            }
        }

        #[test]
        fn minify_undoes_serde_json_pretty(v in any::<Vec<(String, Option<i64>, bool)>>()) {
            let pretty = serde_json::to_vec_pretty(&v).unwrap();
            prop_assert_eq!(minified(&pretty), Some(serde_json::to_vec(&v).unwrap()));
        }
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
