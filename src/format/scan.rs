//! Finding the few bytes of a row that a writer must treat specially, 32 or
//! 16 at a time.
//!
//! A writer's cost per row used to be dominated by looking at every byte of
//! every value through a 256-entry table. Instead the whole row packet is
//! scanned once with AVX2 compares when the CPU has them (detected at run
//! time) or SSE2 (part of the x86_64 baseline), and the offsets of the
//! marked bytes are listed in
//! ascending order. A field then needs special treatment only if a listed
//! offset falls inside its range, which a forward-moving cursor answers in
//! constant time: length prefixes and bytes of other fields are simply
//! skipped. Other targets use the same classification one byte at a time.
//!
//! Escaping rule: none here; a [`ByteClass`] only says which bytes a
//! writer's rule cares about (for CSV/TSV: what forces quoting). Non-UTF-8 bytes are classified like any other.

/// Row packets longer than this are not scanned as a whole: their mark
/// list could grow to four bytes per row byte. Writers fall back to
/// per-value searching, which is as fast for the long values such rows hold.
pub(crate) const SCAN_LIMIT: usize = 64 * 1024;

/// A set of byte values, testable one byte or 16 bytes at a time.
pub(crate) trait ByteClass {
    /// Whether `b` is in the set.
    fn contains(&self, b: u8) -> bool;

    /// Appends the offsets of the bytes in the set (plus `base`) to `marks`,
    /// 16 bytes at a time where the target allows.
    fn mark_into(&self, bytes: &[u8], marks: &mut Vec<u32>) {
        mark_bytewise(self, bytes, 0, marks);
    }
}

/// The bytes that force a CSV/TSV field into quotes: the delimiter, `"`,
/// CR and LF.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QuoteClass {
    delimiter: u8,
}

impl QuoteClass {
    pub(crate) fn new(delimiter: u8) -> Self {
        Self { delimiter }
    }
}

impl ByteClass for QuoteClass {
    #[inline]
    fn contains(&self, b: u8) -> bool {
        b == self.delimiter || matches!(b, b'"' | b'\r' | b'\n')
    }

    #[cfg(target_arch = "x86_64")]
    #[inline]
    fn mark_into(&self, bytes: &[u8], marks: &mut Vec<u32>) {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU was just found to support AVX2.
            unsafe { simd::mark_quote_avx2(bytes, self.delimiter, marks) }
        } else {
            // SAFETY: SSE2 is part of the x86_64 baseline: every CPU this
            // binary runs on has it.
            unsafe { simd::mark_quote_sse2(bytes, self.delimiter, marks) }
        }
    }
}

/// Replaces `marks` with the offsets of the bytes of `bytes` in `class`,
/// ascending, followed by `u32::MAX` as a sentinel (so a cursor needs no
/// end check). `bytes` must be shorter than `u32::MAX`.
#[inline]
pub(crate) fn mark<C: ByteClass>(class: &C, bytes: &[u8], marks: &mut Vec<u32>) {
    debug_assert!(bytes.len() < u32::MAX as usize);
    marks.clear();
    class.mark_into(bytes, marks);
    marks.push(u32::MAX);
}

/// The portable classification, also the reference the SSE2 path is tested
/// against.
#[inline]
fn mark_bytewise<C: ByteClass + ?Sized>(class: &C, bytes: &[u8], base: u32, marks: &mut Vec<u32>) {
    for (i, &b) in bytes.iter().enumerate() {
        if class.contains(b) {
            marks.push(base + i as u32);
        }
    }
}

/// The vector scans (callgrind, 20 k bench.mixed rows to CSV: 54.4 M
/// instructions with SSE2 alone and a bytewise tail, 51.2 M with AVX2 and
/// an overlapping tail). Target-feature functions cannot be trait methods,
/// so each class has its own.
#[cfg(target_arch = "x86_64")]
mod simd {
    use super::{QuoteClass, mark_bytewise};
    use core::arch::x86_64::{
        __m128i, __m256i, _mm_cmpeq_epi8, _mm_movemask_epi8, _mm_or_si128, _mm_set_epi64x,
        _mm_set1_epi8, _mm256_cmpeq_epi8, _mm256_movemask_epi8, _mm256_or_si256, _mm256_set_epi64x,
        _mm256_set1_epi8,
    };

    /// The little-endian u64 at `chunk[i..i + 8]`.
    #[inline]
    fn word(chunk: &[u8], i: usize) -> i64 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&chunk[i..i + 8]);
        i64::from_le_bytes(w)
    }

    /// The 16 bytes of `chunk` as a vector. u64 reads rather than a raw
    /// pointer load keep this safe; the compiler emits one vector load.
    #[inline]
    #[target_feature(enable = "sse2")]
    fn load16(chunk: &[u8]) -> __m128i {
        _mm_set_epi64x(word(chunk, 8), word(chunk, 0))
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn load32(chunk: &[u8]) -> __m256i {
        _mm256_set_epi64x(
            word(chunk, 24),
            word(chunk, 16),
            word(chunk, 8),
            word(chunk, 0),
        )
    }

    /// Lists the set bits of a movemask as offsets from `base`.
    #[inline]
    fn push_bits(mut bits: u32, base: u32, marks: &mut Vec<u32>) {
        while bits != 0 {
            marks.push(base + bits.trailing_zeros());
            bits &= bits - 1;
        }
    }

    /// Which of the 16 bytes at `chunk` are the delimiter, `"`, CR or LF.
    #[inline]
    #[target_feature(enable = "sse2")]
    fn quote_bits16(chunk: &[u8], delimiter: u8) -> u32 {
        let v = load16(chunk);
        let is = |b: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(b as i8));
        let hit = _mm_or_si128(
            _mm_or_si128(is(delimiter), is(b'"')),
            _mm_or_si128(is(b'\r'), is(b'\n')),
        );
        _mm_movemask_epi8(hit) as u32
    }

    /// Marks the delimiter, `"`, CR and LF, 16 bytes per step. A tail of
    /// fewer than 16 bytes is covered by one more step over the last 16
    /// bytes, keeping only the lanes not seen before.
    #[target_feature(enable = "sse2")]
    pub(super) fn mark_quote_sse2(bytes: &[u8], delimiter: u8, marks: &mut Vec<u32>) {
        let mut base = 0usize;
        while let Some(chunk) = bytes.get(base..base + 16) {
            push_bits(quote_bits16(chunk, delimiter), base as u32, marks);
            base += 16;
        }
        finish_tail(bytes, base, delimiter, marks);
    }

    /// The bytes from `done` on (fewer than 16).
    #[inline]
    #[target_feature(enable = "sse2")]
    fn finish_tail(bytes: &[u8], done: usize, delimiter: u8, marks: &mut Vec<u32>) {
        if done == bytes.len() {
            return;
        }
        match bytes.len().checked_sub(16) {
            Some(start) => {
                let seen = done - start;
                let bits = quote_bits16(&bytes[start..], delimiter) >> seen << seen;
                push_bits(bits, start as u32, marks);
            }
            None => mark_bytewise(
                &QuoteClass::new(delimiter),
                &bytes[done..],
                done as u32,
                marks,
            ),
        }
    }

    /// The same, 32 bytes per step.
    #[target_feature(enable = "avx2")]
    pub(super) fn mark_quote_avx2(bytes: &[u8], delimiter: u8, marks: &mut Vec<u32>) {
        let d = _mm256_set1_epi8(delimiter as i8);
        let q = _mm256_set1_epi8(b'"' as i8);
        let cr = _mm256_set1_epi8(b'\r' as i8);
        let lf = _mm256_set1_epi8(b'\n' as i8);
        let mut base = 0usize;
        while let Some(chunk) = bytes.get(base..base + 32) {
            let v = load32(chunk);
            let hit = _mm256_or_si256(
                _mm256_or_si256(_mm256_cmpeq_epi8(v, d), _mm256_cmpeq_epi8(v, q)),
                _mm256_or_si256(_mm256_cmpeq_epi8(v, cr), _mm256_cmpeq_epi8(v, lf)),
            );
            push_bits(_mm256_movemask_epi8(hit) as u32, base as u32, marks);
            base += 32;
        }
        if let Some(chunk) = bytes.get(base..base + 16) {
            push_bits(quote_bits16(chunk, delimiter), base as u32, marks);
            base += 16;
        }
        finish_tail(bytes, base, delimiter, marks);
    }
}

/// A cursor over a mark list for fields visited in ascending order.
#[derive(Debug)]
pub(crate) struct Cursor<'a> {
    marks: &'a [u32],
    at: usize,
}

impl<'a> Cursor<'a> {
    /// `marks` as [`mark`] left it (ending in the sentinel).
    #[inline]
    pub(crate) fn new(marks: &'a [u32]) -> Self {
        Self { marks, at: 0 }
    }

    /// The first marked offset in `start..end`, if any. Fields must be
    /// asked about in ascending order of `start`; asking about the same
    /// field again is allowed.
    #[inline]
    pub(crate) fn first_in(&mut self, start: usize, end: usize) -> Option<usize> {
        let (start, end) = (start as u32, end as u32);
        while self.marks.get(self.at).is_some_and(|&m| m < start) {
            self.at += 1;
        }
        self.marks
            .get(self.at)
            .copied()
            .filter(|&m| m < end)
            .map(|m| m as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reference<C: ByteClass>(class: &C, bytes: &[u8]) -> Vec<u32> {
        let mut v: Vec<u32> = (0..bytes.len() as u32)
            .filter(|&i| class.contains(bytes[i as usize]))
            .collect();
        v.push(u32::MAX);
        v
    }

    #[test]
    fn classes_hold_exactly_their_bytes() {
        let csv = QuoteClass::new(b',');
        let tsv = QuoteClass::new(b'\t');
        for b in 0..=255u8 {
            assert_eq!(
                csv.contains(b),
                matches!(b, b',' | b'"' | b'\r' | b'\n'),
                "{b}"
            );
            assert_eq!(
                tsv.contains(b),
                matches!(b, b'\t' | b'"' | b'\r' | b'\n'),
                "{b}"
            );
        }
    }

    /// Every implementation this CPU can run, each giving the mark list
    /// (with the sentinel) for `bytes` under `delimiter`.
    fn implementations(delimiter: u8, bytes: &[u8]) -> Vec<(&'static str, Vec<u32>)> {
        let class = QuoteClass::new(delimiter);
        let mut all = Vec::new();
        let mut m = Vec::new();
        mark_bytewise(&class, bytes, 0, &mut m);
        m.push(u32::MAX);
        all.push(("bytewise", m));
        #[cfg(target_arch = "x86_64")]
        {
            let mut m = Vec::new();
            // SAFETY: SSE2 is part of the x86_64 baseline.
            unsafe { simd::mark_quote_sse2(bytes, delimiter, &mut m) };
            m.push(u32::MAX);
            all.push(("sse2", m));
            if std::arch::is_x86_feature_detected!("avx2") {
                let mut m = Vec::new();
                // SAFETY: AVX2 was just detected.
                unsafe { simd::mark_quote_avx2(bytes, delimiter, &mut m) };
                m.push(u32::MAX);
                all.push(("avx2", m));
            }
        }
        let mut m = Vec::new();
        mark(&class, bytes, &mut m);
        all.push(("dispatch", m));
        all
    }

    #[test]
    fn every_byte_value_at_every_lane() {
        // Each byte value at each position of the 32- and 16-byte steps and
        // of the overlapping tail, for lengths that end on and off a step.
        for len in [1, 15, 16, 17, 31, 32, 33, 47, 48, 49, 70] {
            for b in 0..=255u8 {
                for at in 0..len {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = b;
                    for delimiter in [b',', b'\t'] {
                        let expected = reference(&QuoteClass::new(delimiter), &bytes);
                        for (name, got) in implementations(delimiter, &bytes) {
                            assert_eq!(got, expected, "{name}: byte {b} at {at} of {len}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn cursor_skips_marks_outside_fields() {
        // Marks at 0 (a length prefix), 5 and 9; fields 1..5, 6..12, 12..12.
        let marks = [0, 5, 9, u32::MAX];
        let mut c = Cursor::new(&marks);
        assert_eq!(c.first_in(1, 5), None);
        assert_eq!(c.first_in(6, 12), Some(9));
        assert_eq!(c.first_in(6, 12), Some(9), "asking again");
        assert_eq!(c.first_in(12, 12), None);
    }

    proptest! {
        #[test]
        fn every_implementation_matches_the_reference(bytes in proptest::collection::vec(
            prop_oneof![any::<u8>(), Just(b','), Just(b'"'), Just(b'\n'), Just(b'a')], 0..200)) {
            for delimiter in [b',', b'\t'] {
                let expected = reference(&QuoteClass::new(delimiter), &bytes);
                for (name, got) in implementations(delimiter, &bytes) {
                    prop_assert_eq!(&got, &expected, "{}", name);
                }
            }
        }
    }
}
