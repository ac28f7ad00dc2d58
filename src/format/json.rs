//! JSON: one document `{"data":[{...},{...}]}` followed by LF; and NDJSON
//! (JSON Lines): the same row objects, each followed by LF, without the
//! document around them (nothing at all for no rows).
//!
//! Compact output puts each row object on its own line; `pretty` indents by
//! two spaces with `"key": value` (JSON only). Keys are the column names in
//! select order; a name that an earlier key already has, compared without
//! regard to case (DuckDB, Spark and pandas-to-SQL refuse `a` beside `A`),
//! gets `_2`, `_3`, … (skipping suffixes that another column already uses,
//! in any case), and a warning lists the renamed keys.
//!
//! NDJSON embeds JSON column values without their insignificant whitespace
//! (minified in the pass that validates them), so a stored document with
//! line breaks cannot split a row over lines. The JSON document embeds them
//! as the server sent them: it is parsed whole, and its bytes stay what
//! earlier versions wrote.
//!
//! With [`BigNumbers::String`], DECIMAL values and integers of magnitude
//! 2^53 or more (BIGINT, BIT(n) over 53 bits; decided per value) are strings
//! of the server's text, for readers that parse numbers as doubles. Numbers
//! inside JSON column values are left as they are.
//!
//! Escaping rule (RFC 8259 §7): strings escape `"`, `\` and the control
//! characters below U+0020 (`\b \f \n \r \t`, others as `\u00XX`); `/`, DEL
//! and non-ASCII characters are written as they are.
//!
//! Types come from column metadata only: NULL is `null`; integers are numbers
//! from the server's text with leading zeros dropped (ZEROFILL, YEAR `0000`);
//! DECIMAL and FLOAT are numbers from the exact server text (never through a
//! float), leading zeros of the integer part dropped; BIT is an unsigned
//! integer; JSON columns are embedded as they are when they are one valid
//! JSON text (RFC 8259 grammar, see `json_text.rs`; integers beyond 64 bits
//! and exponents beyond the f64 range are valid and stay embedded); text and
//! binary columns are strings. Any numeric or JSON value that is not valid as
//! such (`inf`, `nan`, malformed JSON, nesting deeper than 1024) is written as
//! a string instead, so nothing is lost.
//!
//! Non-UTF-8 bytes: JSON strings must be UTF-8, so a text or JSON value that is
//! not valid UTF-8 is written as the string `"0x…"` with uppercase hex of its
//! bytes. Binary columns (charset 63) are strings per [`BinaryEncoding`]:
//! `Auto` writes valid UTF-8 without control characters (other than TAB, LF,
//! CR) that does not start with `0x` as text and anything else as `"0x…"`,
//! `Hex` always `"0x…"` (an empty value is `"0x"`), `Base64` standard base64.

use super::encode::{
    DOUBLE_EXACT_LIMIT, binary_as_text, bit_value, json_escape_block, json_integer, json_number,
    push_base64, push_hex, push_json_escaped, push_u64,
};
use super::json_text::is_json;
use super::json_text::minify_json;
use super::scan::{JsonClass, RowMask, SCAN_LIMIT};
use super::{BigNumbers, BinaryEncoding, FormatOptions, RowWriter};
use gd_protocol::reader::NULL_MARKER;
use gd_protocol::{ColumnDef, ColumnKind, RowView};
use std::collections::{HashMap, HashSet};
use std::mem::MaybeUninit;

/// Writes the JSON document. `begin` resets it, so a writer can be reused
/// for another result set, which then gets a document of its own.
#[derive(Debug)]
pub struct JsonWriter {
    pretty: bool,
    /// How values are written besides their column kind.
    rules: Rules,
    columns: Vec<Column>,
    /// Every column's key prefix (separator, indentation, quoted escaped name,
    /// colon), built once in `begin` so a row only copies bytes.
    keys: Vec<u8>,
    /// Whether every key prefix is at most [`KEY_COPY`] bytes long.
    short_keys: bool,
    rows: u64,
    /// Where the current row packet has bytes a string cannot just copy.
    mask: RowMask,
    /// Scratch for values written by the `Vec` encoders, then copied to the
    /// reserved row.
    spill: Vec<u8>,
    /// Longer row packets are written by `row_by_push`. [`SCAN_LIMIT`],
    /// except in tests that compare the two ways.
    reserve_limit: usize,
}

/// The options that decide how a value of a given kind is written.
#[derive(Debug, Clone, Copy)]
struct Rules {
    binary: BinaryEncoding,
    /// NDJSON: one object per line, no document; JSON column values minified.
    ndjson: bool,
    /// [`BigNumbers::String`].
    big_strings: bool,
}

/// Key prefixes up to this long are copied as a block of this size.
/// Callgrind, pump json 20000 (18 keys of 5 to 15 bytes): 82.49 M
/// instructions with a copy of each key's length, 80.73 M with blocks read
/// from `JsonWriter::keys`, 76.66 M -> 72.28 M (after other changes) with
/// each column's block kept in its `Column` (no bounds check, no copy
/// through the stack, and the row loop's registers no longer spilled).
/// The same for short string values: 80.73 M -> 80.11 M.
const KEY_COPY: usize = 32;

/// Where a column's key prefix lies in `JsonWriter::keys`, and its kind.
#[derive(Debug, Clone, Copy)]
struct Column {
    kind: ColumnKind,
    /// What the row loop tries before [`push_value`], from `kind`.
    fast: Fast,
    key_start: usize,
    key_end: usize,
    /// The key prefix's first [`KEY_COPY`] bytes, zero-padded: kept beside
    /// the rest so the copy needs no bounds check and no stack buffer.
    head: [u8; KEY_COPY],
}

/// The shortcut the row loop tries for a column's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fast {
    /// A string: copied between quotes when the row mask is clear over it.
    String,
    /// An integer already in JSON form, copied as it is.
    Integer,
    /// As `Integer` when shorter than 16 bytes (below 10^15, so within
    /// ±2^53); longer ones go through [`push_value`]. Integers with
    /// [`BigNumbers::String`].
    SafeInteger,
    /// A DECIMAL or FLOAT already in JSON form without an exponent.
    Fraction,
    /// JSON column values in NDJSON: minified straight into the row when
    /// they are JSON, else [`push_value`].
    Minify,
    /// None: always [`push_value`].
    None,
}

impl Fast {
    fn of(kind: ColumnKind, rules: Rules) -> Self {
        match kind {
            // Only BIGINT holds integers beyond ±2^53, but the length check
            // costs next to nothing and keeps the rule free of types.
            ColumnKind::Integer if rules.big_strings => Fast::SafeInteger,
            ColumnKind::Integer => Fast::Integer,
            // The server's text as a string: as text columns are written.
            ColumnKind::Decimal if rules.big_strings => Fast::String,
            ColumnKind::Decimal | ColumnKind::Float => Fast::Fraction,
            ColumnKind::Json if rules.ndjson => Fast::Minify,
            k if is_string_kind(k) => Fast::String,
            _ => Fast::None,
        }
    }
}

/// `'0'` in every byte of a word.
#[cfg(any(test, not(target_arch = "x86_64")))]
const ZEROS: u64 = u64::from_le_bytes([b'0'; 8]);

/// 0x80 in each byte of `word` that is not an ASCII digit. A byte b is a
/// digit when b ^ '0' < 10: adding 0x76 sets the top bit from 10 on, and
/// clearing the top bit first keeps the carry inside the byte.
#[cfg(any(test, not(target_arch = "x86_64")))]
#[inline(always)]
fn non_digits(word: u64) -> u64 {
    let t = word ^ ZEROS;
    let low7 = u64::from_le_bytes([0x7F; 8]);
    let top = u64::from_le_bytes([0x80; 8]);
    let ten = u64::from_le_bytes([0x76; 8]);
    (((t & low7) + ten) | t) & top
}

/// Bit i set for each byte i of the 16 in `lo`, `hi` (little-endian) that
/// is not an ASCII digit: one compare of all sixteen on x86_64 (SSE2 is
/// part of its baseline), two word-wide checks elsewhere. Callgrind, pump
/// json 20000: 66.29 M -> 62.67 M instructions against the word-wide checks.
#[inline(always)]
fn non_digit_bits(lo: u64, hi: u64) -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: SSE2 is part of the x86_64 baseline: every CPU this
        // binary runs on has it.
        unsafe { sse2_non_digit_bits(lo, hi) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        swar_non_digit_bits(lo, hi)
    }
}

/// [`non_digit_bits`] a word at a time.
#[cfg(any(test, not(target_arch = "x86_64")))]
#[inline(always)]
fn swar_non_digit_bits(lo: u64, hi: u64) -> u32 {
    lane_bits(non_digits(lo)) | lane_bits(non_digits(hi)) << 8
}

/// [`non_digit_bits`] with one compare of all sixteen bytes.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "sse2")]
fn sse2_non_digit_bits(lo: u64, hi: u64) -> u32 {
    use core::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_min_epu8, _mm_movemask_epi8, _mm_set_epi64x, _mm_set1_epi8,
        _mm_sub_epi8,
    };
    let v = _mm_set_epi64x(hi as i64, lo as i64);
    let d = _mm_sub_epi8(v, _mm_set1_epi8(b'0' as i8));
    // Unsigned d <= 9 exactly when min(d, 9) == d.
    let digit = _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d);
    !(_mm_movemask_epi8(digit) as u32) & 0xFFFF
}

/// The top bits of a word's eight bytes as eight bits.
#[cfg(any(test, not(target_arch = "x86_64")))]
#[inline(always)]
fn lane_bits(lanes: u64) -> u32 {
    ((lanes >> 7 & 0x0101_0101_0101_0101).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32
}

/// `payload[start..end]` in the first bytes of a block when it is a number
/// RFC 8259 takes as the server wrote it: `-?(0|[1-9][0-9]*)`, and with `fraction` also that
/// followed by `.` and digits; at most 16 bytes. `None` for anything else, which the caller passes to the exact checks of
/// `json_integer`/`json_number` (leading zeros, exponents, long values and
/// texts that are no numbers at all).
///
/// The bytes are judged eight at a time rather than one by one:
/// callgrind, pump json 20000 (seven number columns): 86.24 M instructions
/// with only the exact checks, 83.01 M with this first. A 128-bit word and
/// a copy through a stack buffer (a call to memcpy) saved nothing.
#[inline(always)]
fn plain_number(payload: &[u8], start: usize, end: usize, fraction: bool) -> Option<[u8; 16]> {
    let n = end - start;
    if n == 0 || n > 16 {
        return None;
    }
    let word = |at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&payload[at..at + 8]);
        u64::from_le_bytes(w)
    };
    let (lo, hi) = if start + 16 <= payload.len() {
        // Bytes past the value belong to the packet's next fields; they are
        // masked off below and cut off the output.
        (word(start), word(start + 8))
    } else {
        // The packet's last bytes: gathered one at a time, since a copy of
        // variable length would be a call to memcpy.
        let all = (payload[start..end].iter().rev()).fold(0u128, |w, &b| w << 8 | u128::from(b));
        (all as u64, (all >> 64) as u64)
    };
    let byte = |i: usize| {
        (if i < 8 {
            lo >> (8 * i)
        } else {
            hi >> (8 * (i - 8))
        }) as u8
    };
    let negative = lo as u8 == b'-';
    let sign = usize::from(negative);
    // Bytes past the value are judged too, then dropped; a sign is the one
    // non-digit allowed in the first byte.
    let other = non_digit_bits(lo, hi) & (u32::MAX >> (32 - n)) & !u32::from(negative);
    let leading_zero = byte(sign) == b'0';
    let ok = if other == 0 {
        n > sign && (!leading_zero || n == sign + 1)
    } else {
        // One `.` with digits on both sides, and no leading zero before it
        // other than a lone one (`0.5`).
        let dot = other.trailing_zeros() as usize;
        fraction
            && other & (other - 1) == 0
            && byte(dot) == b'.'
            && dot > sign
            && dot + 1 < n
            && (!leading_zero || dot == sign + 1)
    };
    // The writer stores the whole block (no call to memcpy) and keeps `n`
    // bytes of it.
    ok.then(|| (u128::from(hi) << 64 | u128::from(lo)).to_le_bytes())
}

impl JsonWriter {
    /// A JSON writer; uses `pretty`, `binary` and `big_numbers` from the
    /// options.
    pub fn new(options: &FormatOptions) -> Self {
        Self::with(options, false)
    }

    /// An NDJSON writer; uses `binary` and `big_numbers` from the options
    /// (never `pretty`: a row is one line).
    pub fn ndjson(options: &FormatOptions) -> Self {
        Self::with(options, true)
    }

    fn with(options: &FormatOptions, ndjson: bool) -> Self {
        Self {
            pretty: options.pretty && !ndjson,
            rules: Rules {
                binary: options.binary,
                ndjson,
                big_strings: options.big_numbers == BigNumbers::String,
            },
            columns: Vec::new(),
            keys: Vec::new(),
            short_keys: false,
            rows: 0,
            mask: RowMask::default(),
            spill: Vec::new(),
            reserve_limit: SCAN_LIMIT,
        }
    }
}

/// The length of the UTF-8 sequence that `bytes` starts with (its first byte
/// is 0x80 or above), or `None` when it is not a valid one (RFC 3629 §4:
/// no overlong forms, no surrogates, nothing above U+10FFFF).
#[inline]
fn utf8_sequence_len(bytes: &[u8]) -> Option<usize> {
    let (len, second) = match bytes[0] {
        0xC2..=0xDF => (2, 0x80..=0xBF),
        0xE0 => (3, 0xA0..=0xBF),
        0xE1..=0xEC | 0xEE..=0xEF => (3, 0x80..=0xBF),
        0xED => (3, 0x80..=0x9F),
        0xF0 => (4, 0x90..=0xBF),
        0xF1..=0xF3 => (4, 0x80..=0xBF),
        0xF4 => (4, 0x80..=0x8F),
        _ => return None,
    };
    let rest = bytes.get(1..len)?;
    (second.contains(&rest[0]) && rest[1..].iter().all(|&b| b & 0xC0 == 0x80)).then_some(len)
}

/// Writes a string value of `payload[start..end]` whose first marked byte
/// (see `JsonClass`) is `first`, going from mark to mark: a mark below 0x80
/// is escaped, one above starts a UTF-8 sequence that is checked and copied
/// with the clean bytes around it. Bytes that are not UTF-8 make the value
/// `"0x…"` hex, as in [`push_string`] (built in `spill`).
///
/// The marks were found by the row scan already; checking UTF-8 with
/// `from_utf8` and finding escapes with a table went over every byte twice
/// more. Callgrind, pump json 20000: 83.01 M instructions before, 82.49 M
/// with this (83.43 M when inlined into the row loop).
///
/// At most `2 + 6 * (end - start)` bytes (an escape is at most six bytes for
/// one, hex two for one plus four), as [`JsonWriter::row_reserved`] reserved.
///
/// Takes and returns the cursor by value: a cursor whose address escapes
/// lives on the stack, and the row loop then stores and reloads its
/// position around every write.
#[inline(never)]
fn put_marked_string<'a>(
    mut to: Cursor<'a>,
    spill: &mut Vec<u8>,
    mask: &RowMask,
    payload: &[u8],
    (start, end): (usize, usize),
    first: usize,
) -> Cursor<'a> {
    let at = to.pos;
    to.byte(b'"');
    let mut copied = start;
    let mut mark = first;
    loop {
        let b = payload[mark];
        let next = if b < 0x80 {
            to.slice(&payload[copied..mark]);
            let (escape, len) = json_escape_block(b);
            to.block(&escape, len);
            copied = mark + 1;
            mark + 1
        } else if let Some(len) = utf8_sequence_len(&payload[mark..end]) {
            mark + len
        } else {
            to.rewind(at);
            spill.clear();
            spill.push(b'"');
            push_hex(spill, &payload[start..end]);
            spill.push(b'"');
            to.slice(spill);
            return to;
        };
        match mask.first_in(next, end) {
            Some(m) => mark = m,
            None => break,
        }
    }
    let n = end - copied;
    if n < KEY_COPY && copied + KEY_COPY <= payload.len() {
        // The rest and the closing quote as one fixed-size block, as in the
        // row loop: 76.79 M instructions before, 76.66 M with this.
        let mut block = [0u8; KEY_COPY];
        block.copy_from_slice(&payload[copied..copied + KEY_COPY]);
        block[n] = b'"';
        to.block(&block, n + 1);
    } else {
        to.slice(&payload[copied..end]);
        to.byte(b'"');
    }
    to
}

/// A write position in the spare capacity of the output, which
/// [`write_reserved`] makes part of it afterwards: a row is written with
/// one capacity check instead of one per `push`/`extend_from_slice`, and
/// the position stays in a register rather than the `Vec`'s length in
/// memory.
///
/// Callgrind, pump json 20000: 73.68 M instructions appending to the `Vec`;
/// 72.10 M through a cursor; 70.17 M with the row loop in a function of its
/// own (`JsonWriter::row_reserved`, no longer spilling the cursor to the
/// stack inside the caller's loop); 69.56 M with the cursor passed by value
/// to `put_marked_string`; 70.37 M as written for the MSRV (no `if let`
/// guard, no `write_copy_of_slice`). Without bounds checks on the stores it was
/// 66.80 M, but that needs a proof that the reservation covers every store;
/// the checks make a wrong reservation a panic instead.
///
/// Invariant: every byte of `buf[..pos]` has been written. Each method
/// stores before it moves `pos` forward, and moves it by at most what it
/// stored; [`Cursor::rewind`] only moves it back. Stores are bounds-checked,
/// so `pos <= buf.len()` too.
struct Cursor<'a> {
    buf: &'a mut [MaybeUninit<u8>],
    pos: usize,
}

impl Cursor<'_> {
    /// Stores all of `bytes` and keeps the first `len` of them: a fixed-size
    /// store is a few vector moves where a copy of variable length is a call
    /// to memcpy. The bytes past `len` are overwritten by what comes next or
    /// left past the end.
    #[inline(always)]
    fn block<const N: usize>(&mut self, bytes: &[u8; N], len: usize) {
        copy_at(self.buf, self.pos, bytes);
        self.pos += len.min(N);
    }

    #[inline(always)]
    fn slice(&mut self, bytes: &[u8]) {
        copy_at(self.buf, self.pos, bytes);
        self.pos += bytes.len();
    }

    #[inline(always)]
    fn byte(&mut self, b: u8) {
        self.buf[self.pos].write(b);
        self.pos += 1;
    }

    /// Writes JSON `text` without its insignificant whitespace; false,
    /// having moved nothing, when it is not JSON. Validated and copied in
    /// one pass, straight into the row: through `push_value` (a scratch
    /// `Vec`, then a copy) NDJSON took 9.5 % more instructions than JSON
    /// (callgrind, pump 20000: 68.82 M against 62.85 M).
    #[inline(always)]
    fn minified(&mut self, text: &[u8]) -> bool {
        // `minify_json` stores each byte it keeps before counting it, so
        // the invariant holds for the `n` bytes it reports.
        match minify_json(text, &mut self.buf[self.pos..]) {
            Some(n) => {
                self.pos += n;
                true
            }
            None => false,
        }
    }

    /// Drops what was written since `pos` was `at`.
    #[inline(always)]
    fn rewind(&mut self, at: usize) {
        self.pos = self.pos.min(at);
    }
}

/// Writes `src` into `buf` from `at` on (panics if it does not fit):
/// `write_copy_of_slice`, which std has from Rust 1.93, after this crate's
/// MSRV. A loop of `MaybeUninit::write` stays a byte loop: callgrind, pump
/// json 20000, 69.5 M instructions with a copy, 95.0 M with the loop.
#[inline(always)]
fn copy_at(buf: &mut [MaybeUninit<u8>], at: usize, src: &[u8]) {
    let dst = &mut buf[at..at + src.len()];
    // SAFETY: `dst` is `src.len()` bytes long (the slicing just checked
    // that it lies within `buf`), `MaybeUninit<u8>` has the layout of `u8`,
    // and a `&mut` borrow cannot overlap a shared one.
    unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst.as_mut_ptr().cast::<u8>(), src.len()) }
}

/// Reserves `room` bytes in `out`, lets `write` fill them through a
/// [`Cursor`], and appends what it wrote. `room` must cover every store,
/// including the bytes of fixed-size blocks past what they keep; when it
/// does not, a store panics (bounds check), which is a bug, not bad data.
/// If `write` gives up (returns `None`), nothing is appended.
#[inline(always)]
fn write_reserved(
    out: &mut Vec<u8>,
    room: usize,
    write: impl for<'a> FnOnce(Cursor<'a>) -> Option<Cursor<'a>>,
) -> bool {
    out.reserve(room);
    let len = out.len();
    let Some(to) = write(Cursor {
        // Only `room`: a row that needed more panics here, in tests too,
        // instead of running into capacity `reserve` happened to add.
        buf: &mut out.spare_capacity_mut()[..room],
        pos: 0,
    }) else {
        return false;
    };
    let written = to.pos;
    // SAFETY: the cursor's buffer is `out`'s spare capacity, which starts at
    // `len`; `written <= buf.len()` since every store was bounds-checked
    // against it, and bytes `len..len + written` are initialised by the
    // cursor's invariant (each method stores before it moves forward, and
    // never further than it stored).
    unsafe { out.set_len(len + written) };
    true
}

/// Where a row's fields lie in its packet, one after the other: `None` when
/// the packet does not hold the next field, `Some(None)` for NULL.
trait Fields {
    fn next_field(&mut self, payload: &[u8]) -> Option<Option<(usize, usize)>>;
    /// Whether the fields read so far were the whole packet.
    fn ended(&self, payload: &[u8]) -> bool;
}

/// The fields of a decoded row.
struct Decoded<'r, 'a> {
    row: &'r RowView<'a>,
    j: usize,
}

impl Fields for Decoded<'_, '_> {
    #[inline(always)]
    fn next_field(&mut self, _payload: &[u8]) -> Option<Option<(usize, usize)>> {
        let range = self.row.range(self.j);
        self.j += 1;
        Some(range.map(|r| (r.start, r.end)))
    }

    fn ended(&self, _payload: &[u8]) -> bool {
        true
    }
}

/// The fields read straight from the packet's length prefixes (see
/// [`RowWriter::packet_row`]): NULL, one-byte lengths and 0xFC (two-byte
/// lengths); any
/// other prefix, or a value past the packet's end, stops the walk.
struct Walk {
    at: usize,
}

impl Fields for Walk {
    #[inline(always)]
    fn next_field(&mut self, payload: &[u8]) -> Option<Option<(usize, usize)>> {
        let p = self.at;
        let (start, end) = match *payload.get(p)? {
            b @ 0..=0xFA => (p + 1, p + 1 + usize::from(b)),
            NULL_MARKER => {
                self.at = p + 1;
                return Some(None);
            }
            0xFC => {
                let n = u16::from_le_bytes(payload.get(p + 1..p + 3)?.try_into().ok()?);
                (p + 3, p + 3 + usize::from(n))
            }
            _ => return None,
        };
        if end > payload.len() {
            return None;
        }
        self.at = end;
        Some(Some((start, end)))
    }

    fn ended(&self, payload: &[u8]) -> bool {
        self.at == payload.len()
    }
}

/// Whether values of `kind` are written as JSON strings of their text.
#[inline]
fn is_string_kind(kind: ColumnKind) -> bool {
    !matches!(
        kind,
        ColumnKind::Integer
            | ColumnKind::Decimal
            | ColumnKind::Float
            | ColumnKind::Bit
            | ColumnKind::Json
            | ColumnKind::Binary
    )
}

/// Appends a JSON string of UTF-8 text, or of `"0x…"` hex when the bytes are
/// not UTF-8 (JSON cannot carry them).
#[inline]
fn push_string(out: &mut Vec<u8>, value: &[u8]) {
    out.push(b'"');
    // ASCII is UTF-8: only values with a byte >= 0x80 need the full check,
    // which cost a quarter of all JSON instructions when run on every field.
    if value.is_ascii() || std::str::from_utf8(value).is_ok() {
        push_json_escaped(out, value);
    } else {
        push_hex(out, value);
    }
    out.push(b'"');
}

#[inline]
fn push_value(out: &mut Vec<u8>, kind: ColumnKind, rules: Rules, value: &[u8]) {
    match kind {
        ColumnKind::Integer => match json_integer(value) {
            Some(n) if rules.big_strings && n.beyond_double() => push_string(out, value),
            Some(n) => n.push(out),
            None => push_string(out, value),
        },
        ColumnKind::Decimal if rules.big_strings => push_string(out, value),
        ColumnKind::Decimal | ColumnKind::Float => match json_number(value) {
            Some(n) => n.push(out),
            None => push_string(out, value),
        },
        ColumnKind::Bit => match bit_value(value) {
            Some(n) if rules.big_strings && n >= DOUBLE_EXACT_LIMIT => {
                out.push(b'"');
                push_u64(out, n);
                out.push(b'"');
            }
            Some(n) => push_u64(out, n),
            // Not a BIT a server sends (none, or over 64 bits): raw bytes, so hex.
            None if value.is_empty() => out.extend_from_slice(b"\"\""),
            None => {
                out.push(b'"');
                push_hex(out, value);
                out.push(b'"');
            }
        },
        ColumnKind::Json if rules.ndjson => {
            // Room for the whole value; the minified copy is no longer.
            let at = out.len();
            out.resize(at + value.len(), 0);
            match minify_json(value, &mut out[at..]) {
                Some(n) => out.truncate(at + n),
                None => {
                    out.truncate(at);
                    push_string(out, value);
                }
            }
        }
        ColumnKind::Json => {
            if is_json(value) {
                out.extend_from_slice(value);
            } else {
                push_string(out, value);
            }
        }
        ColumnKind::Binary => match rules.binary {
            BinaryEncoding::Auto if binary_as_text(value) => push_string(out, value),
            BinaryEncoding::Auto => {
                out.extend_from_slice(b"\"");
                push_hex(out, value);
                out.push(b'"');
            }
            BinaryEncoding::Hex => {
                out.push(b'"');
                push_hex(out, value);
                out.push(b'"');
            }
            BinaryEncoding::Base64 => {
                out.push(b'"');
                push_base64(out, value);
                out.push(b'"');
            }
        },
        // Text, and kinds added later until they get a rule of their own.
        _ => push_string(out, value),
    }
}

/// Column names made unique without regard to case (Unicode lowercase):
/// the first use of a name keeps it, a repeat (`id` after `id`, `A` after
/// `a`) gets the first `_N` (N ≥ 2) that no column is called and no earlier
/// repeat got, in any case. Returns the names and the `(position, original,
/// new)` of renamed columns.
pub(super) fn unique_names(columns: &[ColumnDef]) -> (Vec<String>, Vec<(usize, &str, String)>) {
    let originals: HashSet<String> = columns.iter().map(|c| c.name.to_lowercase()).collect();
    let mut taken: HashSet<String> = HashSet::with_capacity(columns.len());
    // Next suffix to try per folded name: keeps many repeats of one name linear.
    let mut next: HashMap<String, u64> = HashMap::new();
    let mut names = Vec::with_capacity(columns.len());
    let mut renamed = Vec::new();
    for (i, c) in columns.iter().enumerate() {
        let name = c.name.as_str();
        let folded = name.to_lowercase();
        if !taken.contains(&folded) {
            taken.insert(folded);
            names.push(name.to_owned());
            continue;
        }
        let n = next.entry(folded).or_insert(2);
        let (candidate, folded) = loop {
            let mut candidate = String::with_capacity(name.len() + 4);
            candidate.push_str(name);
            candidate.push('_');
            candidate.push_str(itoa::Buffer::new().format(*n));
            *n += 1;
            let folded = candidate.to_lowercase();
            if !originals.contains(&folded) && !taken.contains(&folded) {
                break (candidate, folded);
            }
        };
        taken.insert(folded);
        renamed.push((i, name, candidate.clone()));
        names.push(candidate);
    }
    (names, renamed)
}

/// What [`JsonWriter::row_reserved`] reserves besides keys and values: the row's
/// opening (up to 7 bytes) and closing (up to 6), and the bytes a
/// fixed-size block stores past what it keeps (up to `KEY_COPY - 1`).
const ROW_SLACK: usize = 2 * KEY_COPY;

impl JsonWriter {
    /// The bytes before a row's first key, in a block, and their length.
    fn row_start(&self) -> ([u8; 8], usize) {
        if self.rules.ndjson {
            return (*b"{\0\0\0\0\0\0\0", 1);
        }
        match (self.pretty, self.rows == 0) {
            (false, true) => (*b"\n{\0\0\0\0\0\0", 2),
            (false, false) => (*b",\n{\0\0\0\0\0", 3),
            (true, true) => (*b"\n    {\0\0", 6),
            (true, false) => (*b",\n    {\0", 7),
        }
    }

    /// The bytes after a row's last value, in a block, and their length.
    fn row_end(&self) -> ([u8; 8], usize) {
        if self.rules.ndjson {
            (*b"}\n\0\0\0\0\0\0", 2)
        } else if self.pretty && !self.columns.is_empty() {
            (*b"\n    }\0\0", 6)
        } else {
            (*b"}\0\0\0\0\0\0\0", 1)
        }
    }

    /// Writes a row the plain way, one `Vec` append at a time: for packets
    /// longer than `reserve_limit`, whose worst case (six times the packet)
    /// is too much to reserve, and whose long values gain nothing from
    /// fewer capacity checks.
    #[inline(never)]
    fn row_by_push(&mut self, row: &RowView<'_>, out: &mut Vec<u8>) {
        let (start, start_len) = self.row_start();
        out.extend_from_slice(&start[..start_len]);
        for (column, value) in self.columns.iter().zip(row.iter()) {
            out.extend_from_slice(&self.keys[column.key_start..column.key_end]);
            match value {
                Some(value) => push_value(out, column.kind, self.rules, value),
                None => out.extend_from_slice(b"null"),
            }
        }
        let (end, end_len) = self.row_end();
        out.extend_from_slice(&end[..end_len]);
    }

    /// Writes a row into room reserved for its worst case, through a
    /// [`Cursor`], its fields from `fields`. Kept out of the caller's loop
    /// so that the cursor, the packet and the column list stay in
    /// registers. Returns false, having written nothing, when `fields` runs
    /// out before the columns do or ends short of the packet's end.
    #[inline(never)]
    fn row_reserved(&mut self, payload: &[u8], mut fields: impl Fields, out: &mut Vec<u8>) -> bool {
        // One scan of the packet says which string values are plain ASCII
        // with nothing to escape.
        self.mask.scan(&JsonClass, payload);
        // Every field takes at least one byte of the packet besides its
        // value (its length prefix, or 0xFB for NULL), and its output is at
        // most six bytes per value byte plus six: `\u00XX` escapes with
        // quotes; hex (2n + 4), base64, numbers, `null` and embedded JSON
        // take less. So six bytes per packet byte cover every value, the
        // keys take `keys.len()`, and the slack covers the row's opening and
        // closing and the last fixed-size block's bytes past its end.
        let room = self.keys.len() + 6 * payload.len() + ROW_SLACK;
        let (start, start_len) = self.row_start();
        let (end, end_len) = self.row_end();
        let short_keys = self.short_keys;
        let rules = self.rules;
        let mut marks = self.mask.cursor(payload.len());
        write_reserved(out, room, |mut to| {
            to.block(&start, start_len);
            for column in &self.columns {
                if short_keys {
                    to.block(&column.head, column.key_end - column.key_start);
                } else {
                    to.slice(&self.keys[column.key_start..column.key_end]);
                }
                let Some((s, e)) = fields.next_field(payload)? else {
                    to.block(b"null", 4);
                    continue;
                };
                let plain = match column.fast {
                    Fast::String => {
                        match marks.first_in(s, e) {
                            None if e - s < KEY_COPY - 1
                                && s > 0
                                && s + KEY_COPY - 1 <= payload.len() =>
                            {
                                // As for keys: a fixed-size block; the field's
                                // length byte before it becomes the opening quote.
                                let n = e - s;
                                let mut block = [0u8; KEY_COPY];
                                block.copy_from_slice(&payload[s - 1..s - 1 + KEY_COPY]);
                                block[0] = b'"';
                                block[n + 1] = b'"';
                                to.block(&block, n + 2);
                            }
                            None => {
                                to.byte(b'"');
                                to.slice(&payload[s..e]);
                                to.byte(b'"');
                            }
                            Some(first) => {
                                to = put_marked_string(
                                    to,
                                    &mut self.spill,
                                    &self.mask,
                                    payload,
                                    (s, e),
                                    first,
                                )
                            }
                        }
                        continue;
                    }
                    Fast::Integer => plain_number(payload, s, e, false),
                    Fast::SafeInteger if e - s < 16 => plain_number(payload, s, e, false),
                    Fast::Fraction => plain_number(payload, s, e, true),
                    Fast::Minify if to.minified(&payload[s..e]) => continue,
                    Fast::SafeInteger | Fast::Minify | Fast::None => None,
                };
                match plain {
                    Some(block) => to.block(&block, e - s),
                    None => {
                        // The kinds and values without a shortcut, through
                        // the `Vec` encoders.
                        self.spill.clear();
                        push_value(&mut self.spill, column.kind, rules, &payload[s..e]);
                        to.slice(&self.spill);
                    }
                }
            }
            if !fields.ended(payload) {
                return None;
            }
            to.block(&end, end_len);
            Some(to)
        })
    }
}

impl RowWriter for JsonWriter {
    fn begin(&mut self, columns: &[ColumnDef], out: &mut Vec<u8>) {
        let (names, renamed) = unique_names(columns);
        // Once per export: a split export begins again for every file.
        let again = !self.columns.is_empty();
        if !renamed.is_empty() && !again {
            let mut list = String::new();
            for (i, (position, from, to)) in renamed.iter().enumerate() {
                if i > 0 {
                    list.push_str(", ");
                }
                list.push_str("column ");
                list.push_str(itoa::Buffer::new().format(position + 1));
                list.push_str(" \"");
                list.push_str(from);
                list.push_str("\" as \"");
                list.push_str(to);
                list.push('"');
            }
            tracing::warn!(renamed = %list, "duplicate column names (compared without regard to case): keys made unique in the JSON output");
        }
        self.keys.clear();
        self.columns.clear();
        for (i, (c, name)) in columns.iter().zip(&names).enumerate() {
            let key_start = self.keys.len();
            if i > 0 {
                self.keys.push(b',');
            }
            if self.pretty {
                self.keys.extend_from_slice(b"\n      ");
            }
            self.keys.push(b'"');
            push_json_escaped(&mut self.keys, name.as_bytes());
            self.keys
                .extend_from_slice(if self.pretty { b"\": " } else { b"\":" });
            let key = &self.keys[key_start..];
            let mut head = [0; KEY_COPY];
            head[..key.len().min(KEY_COPY)].copy_from_slice(&key[..key.len().min(KEY_COPY)]);
            self.columns.push(Column {
                kind: c.kind(),
                fast: Fast::of(c.kind(), self.rules),
                key_start,
                key_end: self.keys.len(),
                head,
            });
        }
        self.short_keys = self
            .columns
            .iter()
            .all(|c| c.key_end - c.key_start <= KEY_COPY);
        self.rows = 0;
        if self.rules.ndjson {
            return;
        }
        out.extend_from_slice(if self.pretty {
            b"{\n  \"data\": ["
        } else {
            b"{\"data\":["
        });
    }

    #[inline]
    fn row(&mut self, row: &RowView<'_>, out: &mut Vec<u8>) {
        debug_assert_eq!(
            row.len(),
            self.columns.len(),
            "row and column counts differ"
        );
        let payload = row.payload();
        if payload.len() > self.reserve_limit {
            self.row_by_push(row, out);
        } else {
            let written = self.row_reserved(payload, Decoded { row, j: 0 }, out);
            debug_assert!(written, "a decoded row has every field");
        }
        self.rows += 1;
    }

    /// Rows up to the reserve limit, their fields read from the length
    /// prefixes as the values are written: no decoded row in between.
    #[inline]
    fn packet_row(&mut self, payload: &[u8], out: &mut Vec<u8>) -> bool {
        let taken =
            payload.len() <= self.reserve_limit && self.row_reserved(payload, Walk { at: 0 }, out);
        self.rows += u64::from(taken);
        taken
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        if self.rules.ndjson {
            return;
        }
        out.extend_from_slice(match (self.pretty, self.rows == 0) {
            (false, true) => b"]}\n",
            (false, false) => b"\n]}\n",
            (true, true) => b"]\n}\n",
            (true, false) => b"\n  ]\n}\n",
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::csv::tests::{
        base64_decode, check_packet_path, col, field_bytes, mutated_packet, text, write_all,
    };
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    fn json(options: &FormatOptions, columns: &[ColumnDef], rows: &[Vec<Option<&[u8]>>]) -> String {
        String::from_utf8(write_all(&mut JsonWriter::new(options), columns, rows)).unwrap()
    }

    fn compact(columns: &[ColumnDef], rows: &[Vec<Option<&[u8]>>]) -> String {
        json(&FormatOptions::default(), columns, rows)
    }

    fn pretty(columns: &[ColumnDef], rows: &[Vec<Option<&[u8]>>]) -> String {
        json(
            &FormatOptions {
                pretty: true,
                ..FormatOptions::default()
            },
            columns,
            rows,
        )
    }

    fn int(name: &str) -> ColumnDef {
        col(name, 3, 63) // INT
    }

    fn data(out: &str) -> Vec<Value> {
        let v: Value = serde_json::from_str(out).unwrap();
        v["data"].as_array().unwrap().clone()
    }

    fn hex(bytes: &[u8]) -> String {
        std::iter::once("0x".to_string())
            .chain(bytes.iter().map(|b| format!("{b:02X}")))
            .collect()
    }

    #[test]
    fn compact_layout() {
        let cols = [int("a"), text("b")];
        let out = compact(
            &cols,
            &[vec![Some(&b"1"[..]), Some(b"x")], vec![Some(b"2"), None]],
        );
        assert_eq!(
            out,
            "{\"data\":[\n{\"a\":1,\"b\":\"x\"},\n{\"a\":2,\"b\":null}\n]}\n"
        );
    }

    #[test]
    fn pretty_layout() {
        let cols = [int("a"), text("b")];
        let out = pretty(
            &cols,
            &[vec![Some(&b"1"[..]), Some(b"x")], vec![Some(b"2"), None]],
        );
        assert_eq!(
            out,
            "{\n  \"data\": [\n    {\n      \"a\": 1,\n      \"b\": \"x\"\n    },\n    {\n      \"a\": 2,\n      \"b\": null\n    }\n  ]\n}\n"
        );
    }

    #[test]
    fn zero_rows() {
        let cols = [int("a")];
        assert_eq!(compact(&cols, &[]), "{\"data\":[]}\n");
        assert_eq!(pretty(&cols, &[]), "{\n  \"data\": []\n}\n");
    }

    #[test]
    fn duplicate_names_become_unique() {
        let cols = [int("id"), int("id"), int("id_2"), int("id")];
        let out = compact(
            &cols,
            &[vec![Some(&b"1"[..]), Some(b"2"), Some(b"3"), Some(b"4")]],
        );
        assert_eq!(
            out,
            "{\"data\":[\n{\"id\":1,\"id_3\":2,\"id_2\":3,\"id_4\":4}\n]}\n"
        );
        // Every value survives a parser that keeps the last of duplicate keys.
        let row = &data(&out)[0];
        assert_eq!(row.as_object().unwrap().len(), 4);
        let mut values: Vec<i64> = row
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_i64().unwrap())
            .collect();
        values.sort_unstable();
        assert_eq!(values, [1, 2, 3, 4]);
    }

    #[test]
    fn keys_are_escaped_and_kept_in_select_order() {
        let cols = [text("z\"q"), text("a\n"), text("m/é")];
        let out = compact(&cols, &[vec![Some(&b"1"[..]), Some(b"2"), Some(b"3")]]);
        assert_eq!(
            out,
            "{\"data\":[\n{\"z\\\"q\":\"1\",\"a\\n\":\"2\",\"m/é\":\"3\"}\n]}\n"
        );
    }

    #[test]
    fn integers_and_zerofill() {
        let cols = [
            int("zf"),
            col("y", 13, 63),
            int("neg"),
            int("big"),
            int("odd"),
            int("empty"),
        ];
        let row = vec![
            Some(&b"00123"[..]),
            Some(b"0000"),
            Some(b"-0042"),
            Some(b"18446744073709551615"),
            Some(b"12abc"),
            Some(b""),
        ];
        assert_eq!(
            compact(&cols, &[row]),
            "{\"data\":[\n{\"zf\":123,\"y\":0,\"neg\":-42,\"big\":18446744073709551615,\"odd\":\"12abc\",\"empty\":\"\"}\n]}\n"
        );
    }

    #[test]
    fn decimals_are_exact_and_floats_fall_back_to_strings() {
        let cols = [
            col("d", 246, 63),
            col("f", 5, 63),
            col("g", 4, 63),
            col("z", 246, 63),
        ];
        let big = "123456789012345678901234567890.123456789";
        let rows = [
            vec![
                Some(big.as_bytes()),
                Some(&b"-1.5e-7"[..]),
                Some(b"inf"),
                Some(b"0001.50"),
            ],
            vec![Some(b"-0.00"), Some(b"nan"), Some(b"-0."), None],
        ];
        let out = compact(&cols, &rows);
        assert!(out.contains(&format!("\"d\":{big},")), "{out}");
        assert_eq!(
            out,
            format!(
                "{{\"data\":[\n{{\"d\":{big},\"f\":-1.5e-7,\"g\":\"inf\",\"z\":1.50}},\n{{\"d\":-0.00,\"f\":\"nan\",\"g\":\"-0.\",\"z\":null}}\n]}}\n"
            )
        );
        data(&out);
    }

    #[test]
    fn bits_are_numbers() {
        let cols = [col("b1", 16, 63), col("b64", 16, 63), col("b72", 16, 63)];
        let row = vec![
            Some(&[0x01][..]),
            Some(&[0xFF; 8][..]),
            Some(&[0x0A; 9][..]),
        ];
        assert_eq!(
            compact(&cols, &[row]),
            "{\"data\":[\n{\"b1\":1,\"b64\":18446744073709551615,\"b72\":\"0x0A0A0A0A0A0A0A0A0A\"}\n]}\n"
        );
    }

    #[test]
    fn json_columns_are_embedded_when_valid() {
        // MySQL JSON is type 245 with charset 63; MariaDB's is LONGTEXT marked
        // "json" in extended metadata.
        let mut mariadb = col("m", 251, 46);
        mariadb.ext_format_name = Some("json".to_string());
        let cols = [col("j", 245, 63), mariadb];
        let rows = [
            vec![
                Some(&b"{\"a\": [1, 2.5, \"x\"], \"b\": null}"[..]),
                Some(b"[true,false]"),
            ],
            vec![Some(b"\"str\""), Some(b"42")],
            vec![Some(b"{\"a\": 1"), Some(b"not json")],
            vec![Some(b"[1] [2]"), Some(b"")],
            vec![Some(&[b'"', 0xFF, b'"'][..]), Some(b"{\"s\":\"raw\ttab\"}")],
        ];
        let out = compact(&cols, &rows);
        assert_eq!(
            out,
            "{\"data\":[\n\
             {\"j\":{\"a\": [1, 2.5, \"x\"], \"b\": null},\"m\":[true,false]},\n\
             {\"j\":\"str\",\"m\":42},\n\
             {\"j\":\"{\\\"a\\\": 1\",\"m\":\"not json\"},\n\
             {\"j\":\"[1] [2]\",\"m\":\"\"},\n\
             {\"j\":\"0x22FF22\",\"m\":\"{\\\"s\\\":\\\"raw\\ttab\\\"}\"}\n\
             ]}\n"
        );
        data(&out);
    }

    #[test]
    fn json_columns_with_big_integers_stay_embedded() {
        let cols = [col("j", 245, 63)];
        let doc = b"{\"n\":123456789012345678901234567890,\"m\":-1e308,\"x\":1e400}";
        let out = compact(&cols, &[vec![Some(&doc[..])]]);
        let expected = format!(
            "{{\"data\":[\n{{\"j\":{}}}\n]}}\n",
            std::str::from_utf8(doc).unwrap()
        );
        assert_eq!(out, expected);
    }

    #[test]
    fn binary_encodings() {
        let cols = [col("bin", 252, 63)];
        let values: [&[u8]; 3] = [b"foobar", &[0x00, 0xFF, 0x10], b""];
        let rows: Vec<Vec<Option<&[u8]>>> = values.iter().map(|v| vec![Some(*v)]).collect();
        let run = |binary| {
            let out = json(
                &FormatOptions {
                    binary,
                    ..FormatOptions::default()
                },
                &cols,
                &rows,
            );
            data(&out)
                .iter()
                .map(|r| r["bin"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            run(BinaryEncoding::Auto),
            ["foobar".to_string(), hex(values[1]), String::new()]
        );
        assert_eq!(
            run(BinaryEncoding::Hex),
            [hex(values[0]), hex(values[1]), "0x".to_string()]
        );
        assert_eq!(run(BinaryEncoding::Base64), ["Zm9vYmFy", "AP8Q", ""]);
    }

    #[test]
    fn text_utf8mb4_unchanged_and_control_characters_escaped() {
        let cols = [text("t")];
        let s = "emoji 😀 / é \u{2028} \"q\" \\ \x00\x01\x1F\x7F\n\r\t\x08\x0C";
        let out = compact(&cols, &[vec![Some(s.as_bytes())]]);
        assert!(
            out.contains(
                "emoji 😀 / é \u{2028} \\\"q\\\" \\\\ \\u0000\\u0001\\u001f\x7F\\n\\r\\t\\b\\f"
            ),
            "{out}"
        );
        assert_eq!(data(&out)[0]["t"], s);
    }

    #[test]
    fn invalid_utf8_text_becomes_hex() {
        let cols = [text("t")];
        let bad = [b'a', 0xC3, 0x28, b'"'];
        let out = compact(&cols, &[vec![Some(&bad[..])]]);
        assert_eq!(data(&out)[0]["t"], hex(&bad));
    }

    #[test]
    fn packets_the_walk_cannot_take_are_left_to_the_decoder() {
        use gd_protocol::RowDecoder;
        let cols = [int("a"), text("b")];
        let mut w = JsonWriter::new(&FormatOptions::default());
        let mut out = Vec::new();
        w.begin(&cols, &mut out);
        let before = out.clone();
        let good = super::super::csv::tests::packet(&[Some(b"1"), Some(b"y")]);
        let mut decoder = RowDecoder::new(2);
        let malformed: [&[u8]; 5] = [
            &good[..good.len() - 1],
            &[&good[..], &[0]].concat(),
            &[0x01, b'1'],
            &[0x01, b'1', 0x05, b'x'],
            &[],
        ];
        for bad in malformed {
            assert!(!w.packet_row(bad, &mut out), "{bad:?}");
            assert_eq!(out, before, "{bad:?}");
            assert!(decoder.decode(bad, 2).is_err(), "{bad:?}");
        }
        // 0xFD (a three-byte length) is valid, but left to the decoded path.
        let long = [0x01, b'1', 0xFD, 1, 0, 0, b'y'];
        assert!(!w.packet_row(&long, &mut out));
        assert_eq!(out, before);
        w.row(&decoder.decode(&long, 2).unwrap(), &mut out);
        assert!(w.packet_row(&good, &mut out));
        w.finish(&mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"data\":[\n{\"a\":1,\"b\":\"y\"},\n{\"a\":1,\"b\":\"y\"}\n]}\n"
        );
    }

    #[test]
    fn begin_again_starts_a_new_document() {
        let mut w = JsonWriter::new(&FormatOptions::default());
        let mut out = Vec::new();
        let cols = [int("a")];
        for _ in 0..2 {
            out.clear();
            w.begin(&cols, &mut out);
            w.finish(&mut out);
            assert_eq!(out, b"{\"data\":[]}\n");
        }
    }

    fn ndjson(
        options: &FormatOptions,
        columns: &[ColumnDef],
        rows: &[Vec<Option<&[u8]>>],
    ) -> String {
        String::from_utf8(write_all(&mut JsonWriter::ndjson(options), columns, rows)).unwrap()
    }

    /// Each line of NDJSON output parsed alone; every line ends with LF.
    fn lines(out: &str) -> Vec<Value> {
        assert!(out.is_empty() || out.ends_with('\n'), "{out:?}");
        out.split_terminator('\n')
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
            .collect()
    }

    fn big_strings() -> FormatOptions {
        FormatOptions {
            big_numbers: BigNumbers::String,
            ..FormatOptions::default()
        }
    }

    #[test]
    fn ndjson_layout() {
        let cols = [int("a"), text("b")];
        let rows = [vec![Some(&b"1"[..]), Some(b"x")], vec![Some(b"2"), None]];
        let out = ndjson(&FormatOptions::default(), &cols, &rows);
        assert_eq!(out, "{\"a\":1,\"b\":\"x\"}\n{\"a\":2,\"b\":null}\n");
        // --pretty has no effect on NDJSON (the configuration refuses it).
        let pretty = FormatOptions {
            pretty: true,
            ..FormatOptions::default()
        };
        assert_eq!(ndjson(&pretty, &cols, &rows), out);
        assert_eq!(ndjson(&FormatOptions::default(), &cols, &[]), "");
        // The same objects as the JSON document's.
        assert_eq!(lines(&out), data(&compact(&cols, &rows)));
    }

    #[test]
    fn ndjson_json_columns_are_minified() {
        let mut mariadb = col("m", 251, 46);
        mariadb.ext_format_name = Some("json".to_string());
        let cols = [col("j", 245, 63), mariadb];
        let doc = b"{\n  \"a\": [1,\r\n\t2.5e3, \"x y\\n\"],\n  \"b\" : null\n}\n";
        let rows = [
            vec![Some(&doc[..]), Some(b" [ true , false ] ")],
            vec![Some(b"{\"a\": 1\n"), Some(b"not\njson")],
        ];
        let out = ndjson(&FormatOptions::default(), &cols, &rows);
        assert_eq!(
            out,
            "{\"j\":{\"a\":[1,2.5e3,\"x y\\n\"],\"b\":null},\"m\":[true,false]}\n\
             {\"j\":\"{\\\"a\\\": 1\\n\",\"m\":\"not\\njson\"}\n"
        );
        let got = lines(&out);
        assert_eq!(got.len(), 2);
        let want: Value = serde_json::from_slice(doc).unwrap();
        assert_eq!(got[0]["j"], want);
        // The JSON document keeps the value as the server sent it.
        assert!(compact(&cols, &rows).contains(std::str::from_utf8(doc).unwrap()));
    }

    #[test]
    fn keys_are_unique_without_regard_to_case() {
        let cols = [
            text("a"),
            text("A"),
            text("A_2"),
            text("b"),
            text("B"),
            text("É"),
            text("é"),
        ];
        let row: Vec<Option<&[u8]>> = (0..cols.len()).map(|_| Some(&b"v"[..])).collect();
        let (names, renamed) = unique_names(&cols);
        assert_eq!(names, ["a", "A_3", "A_2", "b", "B_2", "É", "é_2"]);
        assert_eq!(renamed.len(), 3);
        for out in [
            ndjson(&FormatOptions::default(), &cols, std::slice::from_ref(&row)),
            compact(&cols, std::slice::from_ref(&row)),
        ] {
            let keys: Vec<String> = Regex::keys(&out);
            let folded: HashSet<String> = keys.iter().map(|k| k.to_lowercase()).collect();
            assert_eq!(folded.len(), cols.len(), "{out}");
        }
    }

    /// The keys of the first object in `out`, in order (serde_json's map
    /// would merge or reorder them).
    struct Regex;
    impl Regex {
        fn keys(out: &str) -> Vec<String> {
            let start = out.find("{\"").unwrap_or(0);
            let start = if out.starts_with("{\"data\"") {
                out[1..].find('{').unwrap() + 1
            } else {
                start
            };
            let obj = &out[start..];
            let end = obj.find('}').unwrap();
            obj[1..end]
                .split(',')
                .map(|kv| {
                    serde_json::from_str::<String>(&kv[..kv.find("\":").unwrap() + 1]).unwrap()
                })
                .collect()
        }
    }

    #[test]
    fn big_numbers_as_strings() {
        let cols = [
            col("bi", 8, 63),
            col("i", 3, 63),
            col("d", 246, 63),
            col("f", 5, 63),
            col("b", 16, 63),
            col("zf", 8, 63),
        ];
        let rows = [
            vec![
                Some(&b"9007199254740991"[..]),
                Some(b"-2147483648"),
                Some(b"0.10"),
                Some(b"1e300"),
                Some(&[0x1F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF][..]),
                Some(b"00000000000000000042"),
            ],
            vec![
                Some(b"-9007199254740992"),
                Some(b"7"),
                Some(b"12345678901234567890.123"),
                Some(b"-0.5"),
                Some(&[0x20, 0, 0, 0, 0, 0, 0][..]),
                Some(b"09007199254740993"),
            ],
            vec![Some(b"18446744073709551615"), None, None, None, None, None],
        ];
        for out in [
            ndjson(&big_strings(), &cols, &rows),
            json(&big_strings(), &cols, &rows),
        ] {
            assert!(out.contains(
                "{\"bi\":9007199254740991,\"i\":-2147483648,\"d\":\"0.10\",\"f\":1e300,\"b\":9007199254740991,\"zf\":42}"
            ), "{out}");
            assert!(out.contains(
                "{\"bi\":\"-9007199254740992\",\"i\":7,\"d\":\"12345678901234567890.123\",\"f\":-0.5,\"b\":\"9007199254740992\",\"zf\":\"09007199254740993\"}"
            ), "{out}");
            assert!(
                out.contains("{\"bi\":\"18446744073709551615\",\"i\":null,"),
                "{out}"
            );
        }
        // The default writes them all as numbers.
        let out = ndjson(&FormatOptions::default(), &cols, &rows);
        assert!(
            out.contains("\"bi\":-9007199254740992,\"i\":7,\"d\":12345678901234567890.123,"),
            "{out}"
        );
    }

    /// A column kind and a field strategy that suits it.
    fn column_and_values() -> impl Strategy<Value = (u8, u16, Vec<Option<Vec<u8>>>)> {
        let kinds = prop_oneof![
            Just((253u8, 45u16)), // VARCHAR utf8mb4: text
            Just((252, 63)),      // BLOB: binary
            Just((3, 63)),        // INT
            Just((8, 63)),        // BIGINT
            Just((246, 63)),      // DECIMAL
            Just((5, 63)),        // DOUBLE
            Just((16, 63)),       // BIT
            Just((245, 63)),      // JSON
        ];
        let value = prop_oneof![
            field_bytes(),
            any::<String>().prop_map(String::into_bytes),
            "-?0{0,3}[0-9]{1,30}(\\.[0-9]{1,10})?([eE][-+]?[0-9]{1,2})?"
                .prop_map(String::into_bytes),
            // Integers around ±2^53 and up to 20 digits.
            prop_oneof![
                (9_007_199_254_740_980i64..9_007_199_254_741_010).prop_map(|n| n.to_string()),
                (-9_007_199_254_741_010i64..-9_007_199_254_740_980).prop_map(|n| n.to_string()),
                any::<u64>().prop_map(|n| n.to_string()),
            ]
            .prop_map(String::into_bytes),
            proptest::collection::vec(any::<u8>(), 1..=8),
            // Text that looks like hex: `--binary auto` must not write it as is.
            "0x[0-9A-Fa-f]{0,6}".prop_map(String::into_bytes),
            Just(b"{\"k\": [1, \"v\", null, {\"x\": -2.5e3}]}".to_vec()),
        ];
        (
            kinds,
            proptest::collection::vec(proptest::option::of(value), 0..6),
        )
            .prop_map(|((t, cs), vals)| (t, cs, vals))
    }

    /// What a field must parse back as, from an independent reading of the rules.
    fn check_value(
        kind: ColumnKind,
        binary: BinaryEncoding,
        v: &[u8],
        got: &Value,
    ) -> Result<(), TestCaseError> {
        let as_string = || match std::str::from_utf8(v) {
            Ok(s) => Value::String(s.to_string()),
            Err(_) => Value::String(hex(v)),
        };
        match kind {
            ColumnKind::Integer | ColumnKind::Decimal | ColumnKind::Float => {
                let s = std::str::from_utf8(v).unwrap_or("");
                let (sign, digits) = s.strip_prefix('-').map_or(("", s), |d| ("-", d));
                let trimmed = digits.trim_start_matches('0');
                let normal =
                    if trimmed.is_empty() || !trimmed.starts_with(|c: char| c.is_ascii_digit()) {
                        format!("{sign}0{trimmed}")
                    } else {
                        format!("{sign}{trimmed}")
                    };
                // serde_json tolerates surrounding whitespace; JSON numbers here may not have any.
                let valid = digits.starts_with(|c: char| c.is_ascii_digit())
                    && normal
                        .bytes()
                        .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
                    && serde_json::from_str::<serde_json::Number>(&normal).is_ok()
                    && (kind != ColumnKind::Integer || digits.bytes().all(|b| b.is_ascii_digit()));
                if valid {
                    let expected: Value = serde_json::from_str(&normal).unwrap();
                    prop_assert_eq!(got, &expected, "{:?}", s);
                } else {
                    prop_assert_eq!(got, &as_string());
                }
            }
            ColumnKind::Bit => {
                if (1..=8).contains(&v.len()) {
                    let n = v.iter().fold(0u64, |n, &b| n << 8 | u64::from(b));
                    prop_assert_eq!(got.as_u64(), Some(n));
                } else if v.is_empty() {
                    prop_assert_eq!(got, "");
                } else {
                    prop_assert_eq!(got, &Value::String(hex(v)));
                }
            }
            ColumnKind::Json => match serde_json::from_slice::<Value>(v) {
                Ok(parsed) if got != &as_string() => prop_assert_eq!(got, &parsed),
                _ => prop_assert_eq!(got, &as_string()),
            },
            ColumnKind::Binary => match binary {
                BinaryEncoding::Auto
                    if v.starts_with(b"0x")
                        || v.iter()
                            .any(|&b| (b < 0x20 && !b"\t\n\r".contains(&b)) || b == 0x7F) =>
                {
                    prop_assert_eq!(got, &Value::String(hex(v)));
                }
                BinaryEncoding::Auto => prop_assert_eq!(got, &as_string()),
                BinaryEncoding::Hex => prop_assert_eq!(got, &Value::String(hex(v))),
                BinaryEncoding::Base64 => {
                    prop_assert_eq!(base64_decode(got.as_str().unwrap().as_bytes()), v.to_vec());
                }
            },
            _ => prop_assert_eq!(got, &as_string()),
        }
        Ok(())
    }

    /// [`check_value`] under `--json-big-numbers string`: DECIMAL values and
    /// integers of magnitude 2^53 or more (by i128 arithmetic) are strings
    /// of the server's text (BIT: its decimal value).
    fn check_value_big_strings(
        kind: ColumnKind,
        binary: BinaryEncoding,
        v: &[u8],
        got: &Value,
    ) -> Result<(), TestCaseError> {
        let limit = 1u128 << 53;
        let as_string = || match std::str::from_utf8(v) {
            Ok(s) => Value::String(s.to_string()),
            Err(_) => Value::String(hex(v)),
        };
        let integer = std::str::from_utf8(v)
            .ok()
            .filter(|s| !s.starts_with('+'))
            .and_then(|s| s.parse::<i128>().ok());
        match kind {
            ColumnKind::Decimal => prop_assert_eq!(got, &as_string()),
            ColumnKind::Integer if integer.is_some_and(|n| n.unsigned_abs() >= limit) => {
                prop_assert_eq!(got, &as_string())
            }
            ColumnKind::Bit if (1..=8).contains(&v.len()) => {
                let n = v.iter().fold(0u64, |n, &b| n << 8 | u64::from(b));
                if u128::from(n) >= limit {
                    prop_assert_eq!(got, &Value::String(n.to_string()));
                } else {
                    prop_assert_eq!(got.as_u64(), Some(n));
                }
            }
            _ => {
                check_value(kind, binary, v, got)?;
                // Every integer left is exact as a double (FLOAT/DOUBLE
                // values are doubles already; numbers inside JSON column
                // values stay as they are).
                if let Some(n) = got.as_number().filter(|_| kind == ColumnKind::Integer) {
                    if let Some(i) = n.as_i64() {
                        prop_assert!(i.unsigned_abs() < 1 << 53, "{}", i);
                    }
                    prop_assert!(n.as_u64().is_none_or(|u| u < 1 << 53), "{}", n);
                }
            }
        }
        Ok(())
    }

    /// What the exact checks write for a number text, or `None` when they
    /// fall back to a string.
    fn exact_number(text: &[u8], fraction: bool) -> Option<Vec<u8>> {
        let n = if fraction {
            json_number(text)
        } else {
            json_integer(text)
        }?;
        let mut v = Vec::new();
        n.push(&mut v);
        Some(v)
    }

    /// Runs the number shortcut on `text` placed in a packet with `after`
    /// behind it.
    fn plain(text: &[u8], after: &[u8], fraction: bool) -> Option<Vec<u8>> {
        let payload = [&[0x2A][..], text, after].concat();
        plain_number(&payload, 1, 1 + text.len(), fraction)
            .map(|block| block[..text.len()].to_vec())
    }

    #[test]
    fn non_digit_bits_of_every_byte_at_every_lane() {
        for at in 0..16 {
            for b in 0..=255u8 {
                let mut bytes = [b'5'; 16];
                bytes[at] = b;
                let lo = u64::from_le_bytes(bytes[..8].try_into().unwrap());
                let hi = u64::from_le_bytes(bytes[8..].try_into().unwrap());
                let expected = if b.is_ascii_digit() { 0 } else { 1 << at };
                assert_eq!(non_digit_bits(lo, hi), expected, "{b} at {at}");
                assert_eq!(swar_non_digit_bits(lo, hi), expected, "{b} at {at}");
            }
        }
    }

    #[test]
    fn plain_numbers_take_the_shortcut() {
        let tail = [b'9'; 20];
        for (text, fraction) in [
            (&b"0"[..], false),
            (b"-0", false),
            (b"7", false),
            (b"-100000", false),
            (b"1234567890123456", false),
            (b"-123456789012345", false),
            (b"0.5", true),
            (b"-0.0001", true),
            (b"-13421.7728", true),
            (b"123456789012.345", true),
            (b"42", true),
        ] {
            for after in [&b""[..], &tail[..], b".5", b"-"] {
                let got = plain(text, after, fraction);
                assert_eq!(got.as_deref(), Some(text), "{text:?} before {after:?}");
                let v: Value = serde_json::from_slice(text).unwrap();
                assert!(v.is_number(), "{text:?}");
            }
        }
    }

    #[test]
    fn other_numbers_are_left_to_the_exact_checks() {
        for (text, fraction) in [
            (&b""[..], false),
            (b"-", false),
            (b"00", false),
            (b"0123", false),
            (b"-007", false),
            (b"12345678901234567", false), // 17 bytes
            (b"1.5", false),
            (b"+1", false),
            (b"1 ", false),
            (b" 1", false),
            (b"1-", false),
            (b"--1", false),
            (b"1\x00", false),
            (b"\xB1", false),
            (b"1.", true),
            (b".5", true),
            (b"-.5", true),
            (b"00.5", true),
            (b"-01.5", true),
            (b"1.2.3", true),
            (b"1..2", true),
            (b"1e5", true),
            (b"1.5E-7", true),
            (b"inf", true),
            (b"-nan", true),
            (b"0x1F", true),
            (b"1.5 ", true),
            (b"12345678.90123456", true),
        ] {
            for after in [&b""[..], b"0123456789.-0123456789"] {
                assert_eq!(plain(text, after, fraction), None, "{text:?}");
            }
        }
    }

    proptest! {
        /// Where the shortcut answers, it writes what the exact checks would
        /// (that it answers at all is shown by the tests above).
        #[test]
        fn plain_numbers_agree_with_the_exact_checks(
            text in prop_oneof![
                "-?0{0,2}[0-9]{0,17}(\\.[0-9]{0,8})?",
                proptest::collection::vec(
                    prop_oneof![Just(b'-'), Just(b'.'), Just(b'0'), Just(b'5'), Just(b'e'), any::<u8>()], 0..18)
                    .prop_map(|v| String::from_utf8_lossy(&v).into_owned()),
            ],
            after in proptest::collection::vec(prop_oneof![Just(b'7'), Just(b'.'), any::<u8>()], 0..20),
            fraction in any::<bool>(),
        ) {
            let text = text.as_bytes();
            if let Some(got) = plain(text, &after, fraction) {
                prop_assert_eq!(Some(got.clone()), exact_number(text, fraction));
                prop_assert_eq!(&got[..], text);
                let v: Value = serde_json::from_slice(&got).unwrap();
                prop_assert!(v.is_number());
            }
        }

        #[test]
        fn integers_from_std_take_the_shortcut(n in any::<i64>()) {
            let text = n.to_string();
            if text.len() <= 16 {
                prop_assert_eq!(plain(text.as_bytes(), b"", false), Some(text.clone().into_bytes()));
            }
        }

        #[test]
        fn decimals_from_std_take_the_shortcut(n in -1e9f64..1e9) {
            let text = format!("{n:.4}");
            prop_assert_eq!(plain(text.as_bytes(), b"1", true), Some(text.clone().into_bytes()));
        }
    }

    /// The length of the valid UTF-8 sequence `bytes` starts with, by std.
    fn std_sequence_len(bytes: &[u8]) -> Option<usize> {
        (2..=4.min(bytes.len())).find(|&k| std::str::from_utf8(&bytes[..k]).is_ok())
    }

    #[test]
    fn utf8_sequences_agree_with_std() {
        let others = [
            0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xF4, 0xFF,
        ];
        for b0 in 0x80..=0xFFu8 {
            for b1 in 0..=0xFFu8 {
                for &b2 in &others {
                    for &b3 in &others {
                        let bytes = [b0, b1, b2, b3];
                        for len in 1..=4 {
                            assert_eq!(
                                utf8_sequence_len(&bytes[..len]),
                                std_sequence_len(&bytes[..len]),
                                "{:02X?}",
                                &bytes[..len]
                            );
                        }
                    }
                }
            }
        }
    }

    /// Text with many marks: escapes, multi-byte characters, bytes that are
    /// not UTF-8 (truncated, overlong, surrogate), across 32-byte words.
    fn marked_text() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![
                6 => Just(&b"abc"[..]),
                2 => Just(&b"\""[..]),
                2 => Just(&b"\\"[..]),
                2 => Just(&b"\n\x01\x1F"[..]),
                2 => Just("é".as_bytes()),
                2 => Just("中".as_bytes()),
                2 => Just("😀".as_bytes()),
                1 => Just(&b"\x7F"[..]),
                1 => Just(&b"\xC3"[..]),
                1 => Just(&b"\xC0\x80"[..]),
                1 => Just(&b"\xED\xA0\x80"[..]),
                1 => Just(&b"\xF4\x90\x80\x80"[..]),
                1 => Just(&b"\xFF"[..]),
            ],
            0..24,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest! {
        /// Malformed and unusual packets: refused untouched or written as
        /// the decoded row would be, never taken when they do not decode.
        #[test]
        fn packet_walk_takes_only_what_decodes(
            packets in proptest::collection::vec(mutated_packet(), 1..6),
            pretty in any::<bool>(),
        ) {
            let cols = [int("a"), text("b"), col("j", 245, 63)];
            let options = FormatOptions { pretty, ..FormatOptions::default() };
            check_packet_path(|| JsonWriter::new(&options), &cols, &packets)?;
        }

        #[test]
        fn json_round_trips(
            columns in proptest::collection::vec(column_and_values(), 1..5),
            pretty in any::<bool>(),
            binary in prop_oneof![Just(BinaryEncoding::Auto), Just(BinaryEncoding::Hex), Just(BinaryEncoding::Base64)],
        ) {
            let nrows = columns.iter().map(|c| c.2.len()).min().unwrap_or(0);
            let defs: Vec<ColumnDef> =
                columns.iter().enumerate().map(|(i, (t, cs, _))| col(&format!("c{i}"), *t, *cs)).collect();
            let rows: Vec<Vec<Option<&[u8]>>> =
                (0..nrows).map(|r| columns.iter().map(|c| c.2[r].as_deref()).collect()).collect();
            let options = FormatOptions { pretty, binary, ..FormatOptions::default() };
            let out = json(&options, &defs, &rows);
            let parsed = data(&out);
            prop_assert_eq!(parsed.len(), nrows);
            for (row, obj) in rows.iter().zip(&parsed) {
                let obj = obj.as_object().unwrap();
                prop_assert_eq!(obj.len(), defs.len());
                for (i, (field, def)) in row.iter().zip(&defs).enumerate() {
                    let got = &obj[&format!("c{i}")];
                    match field {
                        None => prop_assert_eq!(got, &Value::Null),
                        Some(v) => check_value(def.kind(), binary, v, got)?,
                    }
                }
            }
        }

        /// NDJSON: one line per row, each parsing alone to what the JSON
        /// document holds for that row, checked value by value as JSON is;
        /// with either big-number rule.
        #[test]
        fn ndjson_round_trips(
            columns in proptest::collection::vec(column_and_values(), 1..5),
            binary in prop_oneof![Just(BinaryEncoding::Auto), Just(BinaryEncoding::Hex), Just(BinaryEncoding::Base64)],
            big in prop_oneof![Just(BigNumbers::Number), Just(BigNumbers::String)],
        ) {
            let nrows = columns.iter().map(|c| c.2.len()).min().unwrap_or(0);
            let defs: Vec<ColumnDef> =
                columns.iter().enumerate().map(|(i, (t, cs, _))| col(&format!("c{i}"), *t, *cs)).collect();
            let rows: Vec<Vec<Option<&[u8]>>> =
                (0..nrows).map(|r| columns.iter().map(|c| c.2[r].as_deref()).collect()).collect();
            let options = FormatOptions { binary, big_numbers: big, ..FormatOptions::default() };
            let out = ndjson(&options, &defs, &rows);
            let parsed = lines(&out);
            prop_assert_eq!(parsed.len(), nrows);
            prop_assert_eq!(&parsed, &data(&json(&options, &defs, &rows)));
            for (row, obj) in rows.iter().zip(&parsed) {
                let obj = obj.as_object().unwrap();
                prop_assert_eq!(obj.len(), defs.len());
                for (i, (field, def)) in row.iter().zip(&defs).enumerate() {
                    let got = &obj[&format!("c{i}")];
                    match (field, big) {
                        (None, _) => prop_assert_eq!(got, &Value::Null),
                        (Some(v), BigNumbers::Number) => check_value(def.kind(), binary, v, got)?,
                        (Some(v), BigNumbers::String) => check_value_big_strings(def.kind(), binary, v, got)?,
                    }
                }
            }
        }

        /// NDJSON and big-number strings: the packet walk writes what the
        /// decoded path writes.
        #[test]
        fn ndjson_packet_walk_takes_only_what_decodes(
            packets in proptest::collection::vec(mutated_packet(), 1..6),
            big in prop_oneof![Just(BigNumbers::Number), Just(BigNumbers::String)],
            nd in any::<bool>(),
        ) {
            let cols = [col("a", 8, 63), text("b"), col("j", 245, 63)];
            let options = FormatOptions { big_numbers: big, ..FormatOptions::default() };
            if nd {
                check_packet_path(|| JsonWriter::ndjson(&options), &cols, &packets)?;
            } else {
                check_packet_path(|| JsonWriter::new(&options), &cols, &packets)?;
            }
        }

        #[test]
        fn marked_strings_round_trip(
            values in proptest::collection::vec(proptest::option::of(marked_text()), 1..5),
            pretty in any::<bool>(),
        ) {
            let defs: Vec<ColumnDef> = (0..values.len()).map(|i| text(&format!("c{i}"))).collect();
            let row: Vec<Option<&[u8]>> = values.iter().map(|v| v.as_deref()).collect();
            let options = FormatOptions { pretty, ..FormatOptions::default() };
            let out = json(&options, &defs, std::slice::from_ref(&row));
            let obj = data(&out)[0].as_object().unwrap().clone();
            for (i, v) in row.iter().enumerate() {
                let got = &obj[&format!("c{i}")];
                match v {
                    None => prop_assert_eq!(got, &Value::Null),
                    Some(v) => check_value(ColumnKind::Text, BinaryEncoding::Auto, v, got)?,
                }
            }
        }

        /// The reserved-room path writes exactly what the plain `Vec` path
        /// writes: every kind, NULLs, escapes, invalid UTF-8, values short
        /// and long (fixed-size blocks and copies), keys short and past
        /// `KEY_COPY`, both layouts and every binary encoding.
        #[test]
        fn reserved_rows_match_pushed_rows(
            columns in proptest::collection::vec(
                (column_and_values(), any::<bool>(), proptest::collection::vec(
                    proptest::option::of(prop_oneof![
                        marked_text(),
                        (marked_text(), 1usize..60).prop_map(|(t, n)| t.repeat(n)),
                        "[a-z]{25,40}".prop_map(String::into_bytes),
                    ]),
                    0..6,
                )),
                1..7,
            ),
            pretty in any::<bool>(),
            binary in prop_oneof![Just(BinaryEncoding::Auto), Just(BinaryEncoding::Hex), Just(BinaryEncoding::Base64)],
            big in prop_oneof![Just(BigNumbers::Number), Just(BigNumbers::String)],
            nd in any::<bool>(),
        ) {
            // Each column takes its kind's values, or text values of the
            // mixed kind, and a short or a long name.
            type Column = (u8, u16, Vec<Option<Vec<u8>>>, String);
            let columns: Vec<Column> = columns
                .into_iter()
                .enumerate()
                .map(|(i, ((t, cs, vals), long, texts))| {
                    let name = if long { format!("a_rather_long_column_name_{i}_\"q\"") } else { format!("c{i}") };
                    let vals = vals.into_iter().chain(texts).collect();
                    (t, cs, vals, name)
                })
                .collect();
            let nrows = columns.iter().map(|c| c.2.len()).min().unwrap_or(0);
            let defs: Vec<ColumnDef> = columns.iter().map(|(t, cs, _, name)| col(name, *t, *cs)).collect();
            let rows: Vec<Vec<Option<&[u8]>>> =
                (0..nrows).map(|r| columns.iter().map(|c| c.2[r].as_deref()).collect()).collect();
            let options = FormatOptions { pretty, binary, big_numbers: big, ..FormatOptions::default() };
            let make = || if nd { JsonWriter::ndjson(&options) } else { JsonWriter::new(&options) };
            let reserved = write_all(&mut make(), &defs, &rows);
            let mut pushing = make();
            pushing.reserve_limit = 0;
            let pushed = write_all(&mut pushing, &defs, &rows);
            prop_assert_eq!(String::from_utf8_lossy(&reserved), String::from_utf8_lossy(&pushed));
            prop_assert_eq!(reserved, pushed);
        }

        #[test]
        fn text_strings_round_trip(s in proptest::collection::vec(any::<char>(), 0..40)) {
            let s: String = s.into_iter().collect();
            let out = compact(&[text("t")], &[vec![Some(s.as_bytes())]]);
            prop_assert_eq!(&data(&out)[0]["t"], &Value::String(s));
        }
    }
}
