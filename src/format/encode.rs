//! Byte encoders shared by the writers: hex, base64, BIT as an integer, JSON
//! number checks and the byte-class tables that drive escaping.
//!
//! Escaping rule: these helpers only produce ASCII (hex, base64, digits) or
//! classify bytes; the writers decide what is quoted or escaped.
//! Non-UTF-8 bytes: hex and base64 take any bytes; the number checks accept
//! ASCII digits and signs only, so any other byte makes a text "not a number".

/// Uppercase hex digits: `0x` values are written the way MySQL's `HEX()` and
/// `mysql --binary-as-hex` print them.
const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Lowercase hex digits for `\u00XX` escapes, as `JSON.stringify` writes them.
const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";

/// RFC 4648 §4 alphabet (standard, not URL-safe: it is what `TO_BASE64()` uses).
const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Whether a binary value is written as text under `BinaryEncoding::Auto`:
/// valid UTF-8 with no control character other than TAB, LF and CR, that
/// does not start with `0x`. NUL and other control bytes (such as the 0x01
/// byte-order mark that starts every WKB geometry) mean the bytes are data,
/// not text, and are written as hex. Text starting with `0x` is written as
/// hex too, so that in a binary column `0x…` always means hex: the text
/// `0x00` and the byte 0x00 never look alike.
#[inline]
pub(crate) fn binary_as_text(bytes: &[u8]) -> bool {
    !bytes.starts_with(b"0x")
        && bytes
            .iter()
            .all(|&b| (b >= 0x20 && b != 0x7F) || matches!(b, b'\t' | b'\n' | b'\r'))
        && std::str::from_utf8(bytes).is_ok()
}

/// Appends `0x` and two uppercase hex digits per byte.
///
/// Resizes once and fills in place, so a large BLOB costs one capacity check
/// instead of one per byte. With SSSE3 (detected at run time) eight bytes
/// become sixteen digits in one table shuffle: callgrind, the `bench.mixed`
/// fingerprints (1 to 16 bytes), 161 instructions per value byte by byte,
/// 122 with the shuffles (inclusive of the call and the output's growth).
pub(crate) fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(b"0x");
    let start = out.len();
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("ssse3") {
        // Room for one step's overrun, cut back after.
        grow(out, 2 * bytes.len() + 16);
        // SAFETY: the CPU was just found to support SSSE3.
        unsafe { hex_shuffle::fill(&mut out[start..], bytes) };
        out.truncate(start + 2 * bytes.len());
        return;
    }
    out.resize(start + 2 * bytes.len(), 0);
    fill_hex(&mut out[start..], bytes);
}

/// Lengthens `out` by `n` bytes of scratch that the caller overwrites or
/// cuts off. Up to 96 bytes (most values) it appends a constant-size block,
/// which compiles to a few vector stores; `resize` calls memset.
#[inline]
pub(crate) fn grow(out: &mut Vec<u8>, n: usize) {
    const BLOCK: usize = 96;
    if n <= BLOCK {
        let end = out.len() + n;
        out.extend_from_slice(&[0u8; BLOCK]);
        out.truncate(end);
    } else {
        out.resize(out.len() + n, 0);
    }
}

/// Writes two uppercase hex digits per byte of `bytes` into `dst`.
fn fill_hex(dst: &mut [u8], bytes: &[u8]) {
    for (d, &b) in dst.chunks_exact_mut(2).zip(bytes) {
        d[0] = HEX_UPPER[usize::from(b >> 4)];
        d[1] = HEX_UPPER[usize::from(b & 0x0F)];
    }
}

/// The last `len` (1 to 7) bytes of `bytes` as the low bytes of a word,
/// the rest zero: the tail of an eight-byte loop. Where eight bytes exist,
/// one read overlapping the part before and a shift; else one byte at a
/// time into a register (a copy of variable length would be a call to
/// memcpy).
#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) fn tail_word(bytes: &[u8], len: usize) -> [u8; 8] {
    debug_assert!((1..8).contains(&len) && len <= bytes.len());
    match bytes.len().checked_sub(8) {
        Some(at) => {
            let mut word = [0u8; 8];
            word.copy_from_slice(&bytes[at..]);
            (u64::from_le_bytes(word) >> (8 * (8 - len))).to_le_bytes()
        }
        None => {
            let tail = &bytes[bytes.len() - len..];
            let word = (tail.iter().rev()).fold(0u64, |w, &b| w << 8 | u64::from(b));
            word.to_le_bytes()
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod hex_shuffle {
    use core::arch::x86_64::{
        _mm_and_si128, _mm_cvtsi64_si128, _mm_cvtsi128_si64, _mm_set_epi64x, _mm_set1_epi8,
        _mm_shuffle_epi8, _mm_srli_epi16, _mm_unpackhi_epi64, _mm_unpacklo_epi8,
    };

    /// Writes the digits of `bytes` into `dst`, which has room for them and
    /// 16 bytes more (the last step writes all sixteen lanes).
    #[target_feature(enable = "ssse3")]
    pub(super) fn fill(dst: &mut [u8], bytes: &[u8]) {
        let table = _mm_set_epi64x(
            i64::from_le_bytes(*b"89ABCDEF"),
            i64::from_le_bytes(*b"01234567"),
        );
        let low = _mm_set1_epi8(0x0F);
        let step = |dst: &mut [u8], word: [u8; 8]| {
            let v = _mm_cvtsi64_si128(i64::from_le_bytes(word));
            let hi = _mm_and_si128(_mm_srli_epi16(v, 4), low);
            let lo = _mm_and_si128(v, low);
            // High nibble first: digit pairs in byte order.
            let hex = _mm_shuffle_epi8(table, _mm_unpacklo_epi8(hi, lo));
            dst[..8].copy_from_slice(&_mm_cvtsi128_si64(hex).to_le_bytes());
            dst[8..16]
                .copy_from_slice(&_mm_cvtsi128_si64(_mm_unpackhi_epi64(hex, hex)).to_le_bytes());
        };
        let chunks = bytes.chunks_exact(8);
        let tail = chunks.remainder();
        let mut w = 0;
        for chunk in chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            step(&mut dst[w..], word);
            w += 16;
        }
        if !tail.is_empty() {
            step(&mut dst[w..], super::tail_word(bytes, tail.len()));
        }
    }
}

/// Appends standard base64 with `=` padding.
pub(crate) fn push_base64(out: &mut Vec<u8>, bytes: &[u8]) {
    let start = out.len();
    // Pre-filling with '=' leaves the padding in place for a short last group.
    out.resize(start + bytes.len().div_ceil(3) * 4, b'=');
    let mut groups = bytes.chunks_exact(3);
    let mut dst = out[start..].chunks_exact_mut(4);
    for (src, d) in (&mut groups).zip(&mut dst) {
        let n = u32::from(src[0]) << 16 | u32::from(src[1]) << 8 | u32::from(src[2]);
        d[0] = sextet(n, 18);
        d[1] = sextet(n, 12);
        d[2] = sextet(n, 6);
        d[3] = sextet(n, 0);
    }
    let rest = groups.remainder();
    if let Some(d) = dst.next() {
        let n = rest
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        d[0] = sextet(n, 18);
        d[1] = sextet(n, 12);
        if rest.len() == 2 {
            d[2] = sextet(n, 6);
        }
    }
}

#[inline]
fn sextet(n: u32, shift: u32) -> u8 {
    BASE64[((n >> shift) & 0x3F) as usize]
}

/// The value of a BIT(n) field, which the text protocol sends as ceil(n/8)
/// raw big-endian bytes. `None` when there are no bytes or more than 8
/// (BIT is at most 64 bits, so that is not a BIT value the server sends).
#[inline]
pub(crate) fn bit_value(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() || bytes.len() > 8 {
        return None;
    }
    let mut be = [0u8; 8];
    be[8 - bytes.len()..].copy_from_slice(bytes);
    Some(u64::from_be_bytes(be))
}

/// Appends `n` in decimal.
#[inline]
pub(crate) fn push_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// A server number text made acceptable to RFC 8259 without changing its
/// value: the sign is split off so leading zeros (ZEROFILL, YEAR `0000`) can
/// be dropped without copying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JsonNumber<'a> {
    negative: bool,
    /// The digits after the sign, leading zeros of the integer part removed.
    unsigned: &'a [u8],
}

impl JsonNumber<'_> {
    /// Appends the number.
    #[inline]
    pub(crate) fn push(self, out: &mut Vec<u8>) {
        if self.negative {
            out.push(b'-');
        }
        out.extend_from_slice(self.unsigned);
    }

    /// For a number from [`json_integer`]: whether its magnitude is 2^53
    /// or more, beyond the integers a double holds one to one (JavaScript's
    /// `Number.MAX_SAFE_INTEGER` is 2^53 - 1).
    #[inline]
    pub(crate) fn beyond_double(self) -> bool {
        // Digit strings of one length compare as their numbers do.
        let d = self.unsigned;
        d.len() > 16 || (d.len() == 16 && d >= b"9007199254740992".as_slice())
    }
}

/// 2^53: the smallest magnitude [`JsonNumber::beyond_double`] answers true for.
pub(crate) const DOUBLE_EXACT_LIMIT: u64 = 1 << 53;

/// Splits off a leading `-` and returns the integer digits' length.
#[inline]
fn sign_and_int_digits(text: &[u8]) -> (bool, &[u8], usize) {
    let (negative, rest) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    (negative, rest, digits)
}

/// Drops leading zeros from the first `digits` bytes, keeping the last digit.
#[inline]
fn strip_zeros(rest: &[u8], digits: usize) -> &[u8] {
    let zeros = rest[..digits].iter().take_while(|&&b| b == b'0').count();
    &rest[zeros.min(digits - 1)..]
}

/// `-?[0-9]+` as a JSON integer, or `None` for anything else (a `+`, blanks,
/// an empty text), which the caller then writes as a string.
#[inline]
pub(crate) fn json_integer(text: &[u8]) -> Option<JsonNumber<'_>> {
    let (negative, rest, digits) = sign_and_int_digits(text);
    if digits == 0 || digits != rest.len() {
        return None;
    }
    Some(JsonNumber {
        negative,
        unsigned: strip_zeros(rest, digits),
    })
}

/// A DECIMAL or FLOAT text as an RFC 8259 number (`-? int frac? exp?`), with
/// leading zeros of the integer part dropped (ZEROFILL); `None` for texts
/// JSON has no number for (`inf`, `nan`, `.5`, `1.`).
#[inline]
pub(crate) fn json_number(text: &[u8]) -> Option<JsonNumber<'_>> {
    let (negative, rest, digits) = sign_and_int_digits(text);
    if digits == 0 {
        return None;
    }
    let mut tail = &rest[digits..];
    if let Some((b'.', frac)) = tail.split_first() {
        let n = frac.iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        tail = &frac[n..];
    }
    if let Some((b'e' | b'E', exp)) = tail.split_first() {
        let exp = match exp.split_first() {
            Some((b'+' | b'-', e)) => e,
            _ => exp,
        };
        if exp.is_empty() || !exp.iter().all(u8::is_ascii_digit) {
            return None;
        }
        tail = &[];
    }
    if !tail.is_empty() {
        return None;
    }
    Some(JsonNumber {
        negative,
        unsigned: strip_zeros(rest, digits),
    })
}

/// For each byte, the character after `\` in its JSON escape, `u` for the
/// `\u00XX` form, or 0 when the byte is copied as it is. RFC 8259 §7 requires
/// escaping only `"`, `\` and U+0000..U+001F; `/`, DEL and non-ASCII stay.
static JSON_ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0A] = b'n';
    t[0x0C] = b'f';
    t[0x0D] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

/// Appends the content of a JSON string (without the quotes) for UTF-8 text,
/// copying runs that need no escaping in one piece.
///
/// Every escaped byte is ASCII, so working on bytes never splits a UTF-8
/// sequence.
#[inline]
pub(crate) fn push_json_escaped(out: &mut Vec<u8>, text: &[u8]) {
    let mut clean = 0;
    // Clean runs are skipped eight bytes at a time (find_marked) and copied
    // whole: callgrind over bench.mixed JSON, 20 k rows: 132.0 M instructions
    // with a byte-at-a-time loop, 119.2 M with this.
    while let Some(k) = find_marked(&JSON_NEEDS_ESCAPE, &text[clean..]) {
        let i = clean + k;
        out.extend_from_slice(&text[clean..i]);
        push_json_escape(out, text[i]);
        clean = i + 1;
    }
    out.extend_from_slice(&text[clean..]);
}

/// Appends the escape of `b`, one of the bytes a JSON string must escape:
/// `"`, `\` or a control byte.
#[inline]
pub(crate) fn push_json_escape(out: &mut Vec<u8>, b: u8) {
    let esc = JSON_ESCAPE[usize::from(b)];
    debug_assert_ne!(esc, 0, "{b} needs no escape");
    if esc == b'u' {
        out.extend_from_slice(&[
            b'\\',
            b'u',
            b'0',
            b'0',
            HEX_LOWER[usize::from(b >> 4)],
            HEX_LOWER[usize::from(b & 0x0F)],
        ]);
    } else {
        out.extend_from_slice(&[b'\\', esc]);
    }
}

/// The escape of `b` (one a JSON string must escape, as for
/// [`push_json_escape`]) in the first bytes of a block, and its length, 2 or
/// 6: a writer stores the whole block and moves on by the length, one
/// fixed-size store instead of a copy of variable length.
#[inline]
pub(crate) fn json_escape_block(b: u8) -> ([u8; 8], usize) {
    let esc = JSON_ESCAPE[usize::from(b)];
    debug_assert_ne!(esc, 0, "{b} needs no escape");
    if esc == b'u' {
        let hi = HEX_LOWER[usize::from(b >> 4)];
        let lo = HEX_LOWER[usize::from(b & 0x0F)];
        ([b'\\', b'u', b'0', b'0', hi, lo, 0, 0], 6)
    } else {
        ([b'\\', esc, 0, 0, 0, 0, 0, 0], 2)
    }
}

/// Bytes that need an escape in a JSON string, as [`find_marked`] takes them.
static JSON_NEEDS_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = JSON_ESCAPE[i] != 0;
        i += 1;
    }
    t
};

/// Which bytes force a delimited field into quotes: the delimiter, `"`, CR
/// and LF (RFC 4180 §2.6, with the delimiter as a parameter for TSV).
pub(crate) const fn quote_table(delimiter: u8) -> [bool; 256] {
    let mut t = [false; 256];
    t[delimiter as usize] = true;
    t[b'"' as usize] = true;
    t[b'\r' as usize] = true;
    t[b'\n' as usize] = true;
    t
}

/// Index of the first byte the table marks.
///
/// Eight bytes per step with one branch: fields are mostly clean, so the
/// common case is a straight run to the end.
#[inline]
pub(crate) fn find_marked(table: &[bool; 256], bytes: &[u8]) -> Option<usize> {
    let mut chunks = bytes.chunks_exact(8);
    let mut base = 0;
    for c in &mut chunks {
        let hit = table[usize::from(c[0])]
            | table[usize::from(c[1])]
            | table[usize::from(c[2])]
            | table[usize::from(c[3])]
            | table[usize::from(c[4])]
            | table[usize::from(c[5])]
            | table[usize::from(c[6])]
            | table[usize::from(c[7])];
        if hit {
            break;
        }
        base += 8;
    }
    bytes[base..]
        .iter()
        .position(|&b| table[usize::from(b)])
        .map(|i| base + i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escape_blocks_hold_the_escapes() {
        for b in (0..=0xFFu8).filter(|&b| JSON_ESCAPE[usize::from(b)] != 0) {
            let mut pushed = Vec::new();
            push_json_escape(&mut pushed, b);
            let (block, len) = json_escape_block(b);
            assert_eq!(&block[..len], &pushed[..], "{b:#04X}");
        }
    }

    fn hex(bytes: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        push_hex(&mut v, bytes);
        v
    }

    fn b64(bytes: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        push_base64(&mut v, bytes);
        v
    }

    fn number(n: Option<JsonNumber<'_>>) -> Option<String> {
        n.map(|n| {
            let mut v = Vec::new();
            n.push(&mut v);
            String::from_utf8(v).unwrap()
        })
    }

    #[test]
    fn binary_as_text_needs_utf8_without_control_bytes() {
        assert!(binary_as_text(b"plain text, tabs\there\r\n"));
        assert!(binary_as_text("caf\u{e9} \u{1F389}".as_bytes()));
        assert!(binary_as_text(b""));
        // POINT(0 0) as MariaDB stores it: SRID 0, byte order 0x01, type 1, two zero doubles.
        let point = [[0u8; 4].as_slice(), &[1, 1, 0, 0, 0], &[0; 16]].concat();
        assert!(std::str::from_utf8(&point).is_ok());
        assert!(!binary_as_text(&point));
        assert!(binary_as_text(b"0X1") && binary_as_text(b"x0") && binary_as_text(b"0"));
        for bad in [
            &b"a\0b"[..],
            b"\x1b[0m",
            b"\x7f",
            b"\xff",
            b"0x00",
            b"0x",
            b"0xyz",
        ] {
            assert!(!binary_as_text(bad), "{bad:?}");
        }
    }

    #[test]
    fn base64_rfc4648_test_vectors() {
        // RFC 4648 §10.
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(b64(input.as_bytes()), expected.as_bytes(), "{input:?}");
        }
        assert_eq!(b64(&[0xFB, 0xFF, 0xBF]), b"+/+/");
    }

    #[test]
    fn integers_beyond_double() {
        let beyond = |t: &str| json_integer(t.as_bytes()).unwrap().beyond_double();
        for small in [
            "0",
            "-0",
            "9007199254740991",
            "-9007199254740991",
            "00009007199254740991",
            "999999999999999",
        ] {
            assert!(!beyond(small), "{small}");
        }
        for big in [
            "9007199254740992",
            "-9007199254740992",
            "9007199254740993",
            "10000000000000000",
            "18446744073709551615",
            "-9223372036854775808",
        ] {
            assert!(beyond(big), "{big}");
        }
        assert_eq!(DOUBLE_EXACT_LIMIT.to_string(), "9007199254740992");
    }

    proptest! {
        /// Against the integer itself (i128 holds every BIGINT).
        #[test]
        fn beyond_double_agrees_with_the_value(n in prop_oneof![any::<i64>().prop_map(i128::from), any::<u64>().prop_map(i128::from), (-(1i128 << 54))..(1i128 << 54)]) {
            let text = n.to_string();
            prop_assert_eq!(json_integer(text.as_bytes()).unwrap().beyond_double(), n.unsigned_abs() >= 1u128 << 53);
        }
    }

    #[test]
    fn bit_values() {
        assert_eq!(bit_value(&[0x01]), Some(1));
        assert_eq!(bit_value(&[0x01, 0x00]), Some(256));
        assert_eq!(bit_value(&[0xFF; 8]), Some(u64::MAX));
        assert_eq!(bit_value(&[]), None);
        assert_eq!(bit_value(&[0; 9]), None);
    }

    #[test]
    fn integers() {
        assert_eq!(number(json_integer(b"00123")).as_deref(), Some("123"));
        assert_eq!(number(json_integer(b"0000")).as_deref(), Some("0"));
        assert_eq!(number(json_integer(b"-007")).as_deref(), Some("-7"));
        assert_eq!(number(json_integer(b"-0")).as_deref(), Some("-0"));
        assert_eq!(
            number(json_integer(b"18446744073709551615")).as_deref(),
            Some("18446744073709551615")
        );
        for bad in [&b""[..], b"-", b"+1", b"1.0", b" 1", b"1 ", b"1e3", b"0x1"] {
            assert_eq!(json_integer(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn numbers() {
        for (text, expected) in [
            (
                "123456789012345678901234567890.123456789",
                "123456789012345678901234567890.123456789",
            ),
            ("0.5", "0.5"),
            ("-0.00", "-0.00"),
            ("000123.450", "123.450"),
            ("-0001.5e-7", "-1.5e-7"),
            ("1e+300", "1e+300"),
            ("2.5E10", "2.5E10"),
            ("0", "0"),
        ] {
            assert_eq!(
                number(json_number(text.as_bytes())).as_deref(),
                Some(expected),
                "{text}"
            );
        }
        for bad in [
            &b""[..],
            b"-",
            b".5",
            b"1.",
            b"-0.",
            b"1e",
            b"1e+",
            b"inf",
            b"-inf",
            b"nan",
            b"NaN",
            b"+1",
            b"1.2.3",
            b"1e5.0",
            b"1 ",
        ] {
            assert_eq!(json_number(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn json_escapes() {
        let mut v = Vec::new();
        push_json_escaped(&mut v, "a\"b\\c/\n\r\t\x08\x0C\x00\x1F\x7Fé😀".as_bytes());
        assert_eq!(
            String::from_utf8(v).unwrap(),
            "a\\\"b\\\\c/\\n\\r\\t\\b\\f\\u0000\\u001f\x7Fé😀"
        );
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn tail_word_holds_the_last_bytes() {
        let bytes: Vec<u8> = (1..=20).collect();
        for n in 1..=bytes.len() {
            for len in 1..8.min(n + 1) {
                let mut expected = [0u8; 8];
                expected[..len].copy_from_slice(&bytes[n - len..n]);
                assert_eq!(tail_word(&bytes[..n], len), expected, "{len} of {n}");
            }
        }
    }

    #[test]
    fn hex_paths_agree_on_every_byte_and_length() {
        let reference = |bytes: &[u8]| -> Vec<u8> {
            bytes
                .iter()
                .flat_map(|b| format!("{b:02X}").into_bytes())
                .collect()
        };
        for len in 0..=33 {
            for b in 0..=255u8 {
                let bytes: Vec<u8> = (0..len)
                    .map(|i| b.wrapping_add((i as u8).wrapping_mul(37)))
                    .collect();
                let mut scalar = vec![0; 2 * len];
                fill_hex(&mut scalar, &bytes);
                assert_eq!(scalar, reference(&bytes), "scalar, {len} bytes from {b}");
                #[cfg(target_arch = "x86_64")]
                if std::arch::is_x86_feature_detected!("ssse3") {
                    let mut wide = vec![0xAA; 2 * len + 16];
                    // SAFETY: SSSE3 was just detected.
                    unsafe { hex_shuffle::fill(&mut wide, &bytes) };
                    assert_eq!(
                        &wide[..2 * len],
                        reference(&bytes),
                        "shuffle, {len} bytes from {b}"
                    );
                }
                let mut out = b"kept".to_vec();
                push_hex(&mut out, &bytes);
                assert_eq!(out, [&b"kept0x"[..], &reference(&bytes)].concat());
            }
        }
    }

    proptest! {
        #[test]
        fn hex_matches_format(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let expected: String =
                std::iter::once("0x".to_string()).chain(bytes.iter().map(|b| format!("{b:02X}"))).collect();
            prop_assert_eq!(hex(&bytes), expected.into_bytes());
        }

        #[test]
        fn find_marked_matches_position(bytes in proptest::collection::vec(
            prop_oneof![Just(b','), Just(b'"'), Just(b'\n'), any::<u8>(), Just(b'a')], 0..40)) {
            let table = quote_table(b',');
            let expected = bytes.iter().position(|b| matches!(b, b',' | b'"' | b'\r' | b'\n'));
            prop_assert_eq!(find_marked(&table, &bytes), expected);
        }

        #[test]
        fn escaped_json_parses_back(s in any::<String>()) {
            let mut v = vec![b'"'];
            push_json_escaped(&mut v, s.as_bytes());
            v.push(b'"');
            let back: String = serde_json::from_slice(&v).unwrap();
            prop_assert_eq!(back, s);
        }

        #[test]
        fn integer_texts_are_json_integers(n in any::<i64>(), zeros in 0usize..5) {
            let digits = n.unsigned_abs().to_string();
            let text = format!("{}{}{}", if n < 0 { "-" } else { "" }, "0".repeat(zeros), digits);
            let out = number(json_integer(text.as_bytes())).unwrap();
            prop_assert_eq!(out.parse::<i64>().unwrap(), n);
            let v: serde_json::Value = serde_json::from_str(&out).unwrap();
            prop_assert_eq!(v.as_i64(), Some(n));
        }

        #[test]
        fn valid_numbers_parse_as_json(f in any::<f64>().prop_filter("finite", |f| f.is_finite())) {
            // Rust's shortest round-trip text, in both plain and exponent forms.
            // serde_json (without float_roundtrip) may round long texts
            // differently, so it only checks the syntax; std checks the value.
            for text in [f.to_string(), format!("{f:e}"), format!("{f:E}")] {
                let out = number(json_number(text.as_bytes())).unwrap();
                prop_assert_eq!(&out, &text);
                prop_assert!(serde_json::from_str::<serde_json::Number>(&out).is_ok());
                prop_assert_eq!(out.parse::<f64>().unwrap(), f);
            }
        }
    }
}
