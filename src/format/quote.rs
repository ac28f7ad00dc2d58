//! Writing a CSV/TSV field in quotes, with every `"` inside doubled
//! (RFC 4180).
//!
//! The values that need it in practice are short and full of quotes: a JSON
//! document in a cell holds one every few bytes. On x86_64 CPUs with SSSE3
//! and POPCNT (detected at run time) eight bytes at a time are spread into
//! up to sixteen with one byte shuffle: a table indexed by which of the
//! eight are quotes says where each byte goes, each quote twice. Elsewhere
//! eight bytes are copied at a time up to the next quote. Long values use
//! memchr, whose wide scans win when quotes are rare.

/// Values from the first byte that needs quoting on longer than this take
/// the memchr path.
const SHORT: usize = 256;

/// Appends `value` in quotes with every `"` doubled. `first` is the index of
/// the first byte that needed quoting; no `"` comes before it.
///
/// Per quoted `bench.mixed` value (most are 31-byte JSON documents with 8
/// quotes; callgrind, 20 k rows, 21,624 values): byte by byte 486
/// instructions, the eight-byte copies 432, the shuffles 184.
#[inline]
pub(super) fn push_quoted(out: &mut Vec<u8>, value: &[u8], first: usize) {
    let (clean, rest) = value.split_at(first);
    if rest.len() > SHORT {
        return push_quoted_long(out, clean, rest);
    }
    // Room for every byte doubled, both quotes and one step's overrun (16
    // bytes); cut back to what was written at the end.
    let start = out.len();
    crate::format::encode::grow(out, clean.len() + 2 * rest.len() + 2 + 16);
    let dst = &mut out[start..];
    dst[0] = b'"';
    let w = 1 + if clean.len() > SHORT {
        // A long clean part (a value of a row too long to scan whole): one copy.
        dst[1..=clean.len()].copy_from_slice(clean);
        clean.len() + double_quotes(&mut dst[1 + clean.len()..], rest)
    } else {
        // A short one goes through the same steps as the rest: cheaper
        // than a call to memcpy, and it has no quote to double.
        double_quotes(&mut dst[1..], value)
    };
    dst[w] = b'"';
    out.truncate(start + w + 1);
}

/// Writes `rest` with each `"` doubled to the start of `dst`, which has
/// room for that and 16 bytes more, and returns the length written.
#[inline]
fn double_quotes(dst: &mut [u8], rest: &[u8]) -> usize {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("ssse3") && std::arch::is_x86_feature_detected!("popcnt")
    {
        // SAFETY: the CPU was just found to support SSSE3 and POPCNT.
        return unsafe { shuffle::double_quotes(dst, rest) };
    }
    double_quotes_swar(dst, rest)
}

/// The portable path: copies eight bytes, then moves on past them or past
/// the first `"` among them, which it doubles.
fn double_quotes_swar(dst: &mut [u8], rest: &[u8]) -> usize {
    let (mut w, mut r) = (0, 0);
    while let Some(chunk) = rest.get(r..r + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        dst[w..w + 8].copy_from_slice(&word);
        match first_quote(u64::from_le_bytes(word)) {
            None => {
                r += 8;
                w += 8;
            }
            Some(q) => {
                w += q + 1;
                dst[w] = b'"';
                w += 1;
                r += q + 1;
            }
        }
    }
    for &b in &rest[r..] {
        dst[w] = b;
        w += 1;
        if b == b'"' {
            dst[w] = b'"';
            w += 1;
        }
    }
    w
}

/// Index of the first `"` among the eight bytes of `word` (little-endian).
/// The zero-byte test is exact for the lowest match, which is all this needs.
#[inline]
fn first_quote(word: u64) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let x = word ^ (ONES * u64::from(b'"'));
    let zero = x.wrapping_sub(ONES) & !x & HIGHS;
    (zero != 0).then(|| (zero.trailing_zeros() / 8) as usize)
}

/// Long values: one copy per run between quotes.
fn push_quoted_long(out: &mut Vec<u8>, clean: &[u8], mut rest: &[u8]) {
    out.reserve(clean.len() + 2 * rest.len() + 2);
    out.push(b'"');
    out.extend_from_slice(clean);
    while let Some(i) = memchr::memchr(b'"', rest) {
        out.extend_from_slice(&rest[..=i]);
        out.push(b'"');
        rest = &rest[i + 1..];
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}

#[cfg(target_arch = "x86_64")]
mod shuffle {
    use core::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_cvtsi64_si128, _mm_cvtsi128_si64, _mm_movemask_epi8, _mm_set_epi64x,
        _mm_set1_epi8, _mm_shuffle_epi8, _mm_unpackhi_epi64,
    };

    /// For each set of quote positions among eight bytes (bit i for byte
    /// i), the byte shuffle that writes the eight with each quote twice;
    /// lanes past the end select nothing (0x80 gives a zero byte).
    static SPREAD: [[u64; 2]; 256] = spread_table();

    const fn spread_table() -> [[u64; 2]; 256] {
        let mut table = [[0u64; 2]; 256];
        let mut m = 0;
        while m < 256 {
            let mut lanes = [0x80u8; 16];
            let (mut i, mut o) = (0, 0);
            while i < 8 {
                lanes[o] = i as u8;
                o += 1;
                if m >> i & 1 == 1 {
                    lanes[o] = i as u8;
                    o += 1;
                }
                i += 1;
            }
            let (mut lo, mut hi) = ([0u8; 8], [0u8; 8]);
            let mut k = 0;
            while k < 8 {
                lo[k] = lanes[k];
                hi[k] = lanes[k + 8];
                k += 1;
            }
            table[m] = [u64::from_le_bytes(lo), u64::from_le_bytes(hi)];
            m += 1;
        }
        table
    }

    /// See [`super::double_quotes`]. A short tail is read zero-padded: NUL
    /// is not a quote, and the bytes written past the tail are overwritten
    /// or cut off by the caller.
    #[target_feature(enable = "ssse3,popcnt")]
    pub(super) fn double_quotes(dst: &mut [u8], rest: &[u8]) -> usize {
        let quote = _mm_set1_epi8(b'"' as i8);
        // Writes the eight bytes of `word` (the first `len` of them real)
        // at `w` and returns the length written.
        let step = |dst: &mut [u8], w: usize, word: [u8; 8], len: usize| {
            let v = _mm_cvtsi64_si128(i64::from_le_bytes(word));
            let quotes = (_mm_movemask_epi8(_mm_cmpeq_epi8(v, quote)) & 0xFF) as usize;
            let [lo, hi] = SPREAD[quotes];
            let spread = _mm_shuffle_epi8(v, _mm_set_epi64x(hi as i64, lo as i64));
            let out = &mut dst[w..w + 16];
            out[..8].copy_from_slice(&_mm_cvtsi128_si64(spread).to_le_bytes());
            out[8..].copy_from_slice(
                &_mm_cvtsi128_si64(_mm_unpackhi_epi64(spread, spread)).to_le_bytes(),
            );
            len + quotes.count_ones() as usize
        };
        let mut w = 0;
        let chunks = rest.chunks_exact(8);
        let tail = chunks.remainder();
        for chunk in chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            w += step(dst, w, word, 8);
        }
        if !tail.is_empty() {
            w += step(
                dst,
                w,
                crate::format::encode::tail_word(rest, tail.len()),
                tail.len(),
            );
        }
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 4180 quoting, the obvious way.
    fn reference(value: &[u8]) -> Vec<u8> {
        let mut v = vec![b'"'];
        for &b in value {
            v.push(b);
            if b == b'"' {
                v.push(b'"');
            }
        }
        v.push(b'"');
        v
    }

    /// Every doubling implementation this CPU can run, on `rest`.
    fn implementations(rest: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
        let mut all = Vec::new();
        let mut dst = vec![0xAA; 2 * rest.len() + 16];
        let n = double_quotes_swar(&mut dst, rest);
        all.push(("swar", dst[..n].to_vec()));
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("ssse3")
            && std::arch::is_x86_feature_detected!("popcnt")
        {
            let mut dst = vec![0xAA; 2 * rest.len() + 16];
            // SAFETY: both features were just detected.
            let n = unsafe { shuffle::double_quotes(&mut dst, rest) };
            all.push(("shuffle", dst[..n].to_vec()));
        }
        all
    }

    #[test]
    fn every_quote_pattern_of_a_step() {
        // All 256 quote patterns of eight bytes, alone and around a full
        // step and a tail, so each table entry and each tail length is used.
        for m in 0..256u32 {
            let chunk: Vec<u8> = (0..8)
                .map(|i| {
                    if m >> i & 1 == 1 {
                        b'"'
                    } else {
                        b'a' + i as u8
                    }
                })
                .collect();
            for rest in [
                chunk.clone(),
                [&chunk[..], b"xy\"z"].concat(),
                [&b"12345678"[..], &chunk[..5]].concat(),
            ] {
                let mut expected = reference(&rest);
                expected.remove(0);
                expected.pop();
                for (name, got) in implementations(&rest) {
                    assert_eq!(got, expected, "{name}: pattern {m:08b}");
                }
            }
        }
    }

    #[test]
    fn the_paths_split_where_expected() {
        // At SHORT and one past it, quotes at both ends.
        for len in [SHORT - 1, SHORT, SHORT + 1, 3 * SHORT] {
            let value: Vec<u8> = (0..len)
                .map(|i| if i % 3 == 0 { b'"' } else { b'q' })
                .collect();
            let mut out = b"before".to_vec();
            push_quoted(&mut out, &value, 0);
            assert_eq!(out, [&b"before"[..], &reference(&value)].concat(), "{len}");
        }
    }

    proptest! {
        #[test]
        fn push_quoted_matches_the_reference(
            prefix in proptest::collection::vec(any::<u8>(), 0..8),
            value in proptest::collection::vec(
                prop_oneof![Just(b'"'), Just(b','), any::<u8>()], 0..700),
            first in 0usize..700,
        ) {
            // `first` lands on a byte with no quote before it, as callers ensure.
            let first = value.iter().position(|&b| b == b'"').unwrap_or(value.len()).min(first);
            let mut out = prefix.clone();
            push_quoted(&mut out, &value, first);
            prop_assert_eq!(out, [&prefix[..], &reference(&value)].concat());
        }
    }
}
