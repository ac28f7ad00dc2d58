//! Finding the few bytes of a row that a writer must treat specially, 32 at
//! a time.
//!
//! A writer's cost per row used to be dominated by looking at every byte of
//! every value through a 256-entry table. Instead the whole row packet is
//! scanned once with AVX2 compares when the CPU has them (detected at run
//! time) or SSE2 (part of the x86_64 baseline) into a bitmask, one bit per
//! packet byte. A field needs special treatment only if a bit is set inside
//! its range, which a shift and a mask of one or two words answer; length
//! prefixes and bytes of other fields are simply not looked at. Other
//! targets build the same mask one byte at a time.
//!
//! Escaping rule: none here; a [`ByteClass`] only says which bytes a
//! writer's rule cares about (what forces CSV/TSV quoting, what a JSON string
//! cannot copy as it is). Non-UTF-8 bytes are classified like any other.

/// Row packets longer than this are not scanned as a whole: per-value
/// searching is as fast for the long values such rows hold, and it keeps
/// the mask at 8 KiB.
pub(crate) const SCAN_LIMIT: usize = 64 * 1024;

/// A set of byte values, testable one byte at a time or, on x86_64, a
/// 64-byte block at a time.
pub(crate) trait ByteClass {
    /// Whether `b` is in the set.
    fn contains(&self, b: u8) -> bool;

    /// Fills `words`, one per 32 bytes of `bytes` (bit i of word w for
    /// byte 32w + i), the last covering a shorter tail; bits past the end
    /// of `bytes` are clear. `words` holds `bytes.len().div_ceil(32)`.
    fn mask_into(&self, bytes: &[u8], words: &mut [u32]) {
        mask_bytewise(self, bytes, words);
    }
}

/// The bytes that force a CSV/TSV field into quotes: the delimiter, `"`,
/// CR and LF.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QuoteClass {
    delimiter: u8,
    /// When the four bytes differ in their low four bits (`,` `"` CR LF
    /// and TAB `"` CR LF do) and none is non-ASCII: for each low nibble,
    /// the one byte of the class that has it, or a byte that has another.
    /// A byte is in the class exactly when it equals the entry of its low
    /// nibble, which one vector table lookup answers for 32 bytes at once.
    /// Callgrind, pump csv 20000: 35.21 M -> 34.50 M instructions against
    /// four compares.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    table: Option<[u8; 16]>,
}

impl QuoteClass {
    pub(crate) fn new(delimiter: u8) -> Self {
        debug_assert_ne!(delimiter, 0);
        let mut table: [u8; 16] = std::array::from_fn(|n| n as u8 ^ 1);
        let mut distinct = true;
        for b in [delimiter, b'"', b'\r', b'\n'] {
            let n = usize::from(b & 0x0F);
            distinct &= b < 0x80 && table[n] & 0x0F != n as u8;
            table[n] = b;
        }
        Self {
            delimiter,
            table: distinct.then_some(table),
        }
    }
}

impl ByteClass for QuoteClass {
    #[inline]
    fn contains(&self, b: u8) -> bool {
        b == self.delimiter || matches!(b, b'"' | b'\r' | b'\n')
    }

    #[cfg(target_arch = "x86_64")]
    #[inline]
    fn mask_into(&self, bytes: &[u8], words: &mut [u32]) {
        if std::arch::is_x86_feature_detected!("avx2") {
            match self.table {
                // SAFETY: the CPU was just found to support AVX2.
                Some(table) => unsafe { simd::mask_table_avx2(bytes, &table, words) },
                // SAFETY: as above.
                None => unsafe { simd::mask_quote_avx2(bytes, self.delimiter, words) },
            }
        } else {
            // SAFETY: SSE2 is part of the x86_64 baseline: every CPU this
            // binary runs on has it.
            unsafe { simd::mask_quote_sse2(bytes, self.delimiter, words) }
        }
    }
}

/// The bytes after which a JSON string needs more than a copy: `"`, `\`,
/// control bytes (escaped) and non-ASCII bytes (checked as UTF-8).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct JsonClass;

impl ByteClass for JsonClass {
    #[inline]
    fn contains(&self, b: u8) -> bool {
        !(0x20..0x80).contains(&b) || b == b'"' || b == b'\\'
    }

    #[cfg(target_arch = "x86_64")]
    #[inline]
    fn mask_into(&self, bytes: &[u8], words: &mut [u32]) {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU was just found to support AVX2.
            unsafe { simd::mask_json_avx2(bytes, words) }
        } else {
            // SAFETY: SSE2 is part of the x86_64 baseline.
            unsafe { simd::mask_json_sse2(bytes, words) }
        }
    }
}

/// The portable classification, also the reference the vector paths are
/// tested against.
fn mask_bytewise<C: ByteClass + ?Sized>(class: &C, bytes: &[u8], words: &mut [u32]) {
    for (block, word) in bytes.chunks(32).zip(words) {
        *word = block
            .iter()
            .enumerate()
            .filter(|&(_, &b)| class.contains(b))
            .fold(0u32, |w, (i, _)| w | 1 << i);
    }
}

/// The marked bytes of one row packet, as a bitmask.
#[derive(Debug, Default, Clone)]
pub(crate) struct RowMask {
    /// Grows to the longest row seen and never shrinks (so no row pays for
    /// clearing it); words past the current row are stale, and never read.
    words: Vec<u32>,
}

impl RowMask {
    /// Replaces the mask with that of `bytes` under `class`.
    #[inline]
    pub(crate) fn scan<C: ByteClass>(&mut self, class: &C, bytes: &[u8]) {
        let n = bytes.len().div_ceil(32);
        if self.words.len() < n {
            self.words.resize(n, 0);
        }
        class.mask_into(bytes, &mut self.words[..n]);
    }

    /// The offset of the first marked byte in `start..end`, if any. `end`
    /// must not pass the scanned bytes (past them, stale words would be read).
    #[inline]
    pub(crate) fn first_in(&self, start: usize, end: usize) -> Option<usize> {
        if start >= end {
            return None;
        }
        let last = (end - 1) / 32;
        let mut w = start / 32;
        let mut bits = self.words.get(w)? & (u32::MAX << (start % 32));
        loop {
            if w == last {
                bits &= u32::MAX >> (31 - (end - 1) % 32);
                return (bits != 0).then(|| w * 32 + bits.trailing_zeros() as usize);
            }
            if bits != 0 {
                return Some(w * 32 + bits.trailing_zeros() as usize);
            }
            w += 1;
            bits = *self.words.get(w)?;
        }
    }
}

/// The marked bytes of one scanned row, met in packet order: answers "is
/// this field clean?" for fields asked about in increasing order of start
/// with one compare while no mark lies behind the field, and searches the
/// mask again only when one does (a marked length prefix, a marked value
/// just passed). A writer asking per field with [`RowMask::first_in`] pays
/// for a word search every time.
#[derive(Debug)]
pub(crate) struct MarkCursor<'a> {
    /// The words of the scanned row only (bits past its end are clear).
    words: &'a [u32],
    /// The first marked offset at or after the start of the range last
    /// asked about; `usize::MAX` when there is none, 0 before the first
    /// question (a lower bound that forces a search).
    next: usize,
}

impl RowMask {
    /// A cursor over the marks of the row last scanned, which was `len`
    /// bytes long.
    #[inline]
    pub(crate) fn cursor(&self, len: usize) -> MarkCursor<'_> {
        MarkCursor {
            words: self.words.get(..len.div_ceil(32)).unwrap_or(&[]),
            next: 0,
        }
    }
}

impl MarkCursor<'_> {
    /// Whether `start..end` holds no marked byte. `start` must not be less
    /// than that of the previous question (ranges may overlap or repeat);
    /// `start == 0` is never asked by writers, whose fields follow a prefix.
    #[inline]
    pub(crate) fn clean(&mut self, start: usize, end: usize) -> bool {
        // A mark at or past `end` answers at once, stale or not: one compare
        // for a clean value (callgrind, pump csv 20000: 33.71 M -> 33.60 M
        // instructions against testing for a stale mark first).
        if self.next >= end {
            return true;
        }
        if self.next < start {
            self.next = self.first_from(start);
        }
        self.next >= end
    }

    /// The first marked offset in `start..end`, under the same rule on
    /// `start` as [`MarkCursor::clean`].
    #[inline]
    pub(crate) fn first_in(&mut self, start: usize, end: usize) -> Option<usize> {
        (!self.clean(start, end)).then_some(self.next)
    }

    /// The first marked offset at or after `start`, or `usize::MAX`.
    #[inline]
    fn first_from(&self, start: usize) -> usize {
        let mut w = start / 32;
        let Some(&first) = self.words.get(w) else {
            return usize::MAX;
        };
        let mut bits = first & (u32::MAX << (start % 32));
        while bits == 0 {
            w += 1;
            match self.words.get(w) {
                Some(&word) => bits = word,
                None => return usize::MAX,
            }
        }
        w * 32 + bits.trailing_zeros() as usize
    }
}

/// The vector scans. Target-feature functions cannot be trait methods, so
/// each class has its own. Callgrind, 20 k bench.mixed rows to CSV: 54.4 M
/// instructions listing marks with SSE2, 51.2 M with AVX2; perf then showed
/// the list building (a data-dependent loop per chunk) at 9 % of a real
/// export's samples, which a mask word per 64 bytes does not have.
#[cfg(target_arch = "x86_64")]
mod simd {
    use core::arch::x86_64::{
        __m128i, __m256i, _mm_cmpeq_epi8, _mm_cmplt_epi8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set_epi64x, _mm_set1_epi8, _mm256_broadcastsi128_si256, _mm256_cmpeq_epi8,
        _mm256_cmpgt_epi8, _mm256_movemask_epi8, _mm256_or_si256, _mm256_set_epi64x,
        _mm256_set1_epi8, _mm256_shuffle_epi8,
    };

    /// The little-endian u64 at `chunk[i..i + 8]`.
    #[inline]
    fn read_u64(chunk: &[u8], i: usize) -> i64 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&chunk[i..i + 8]);
        i64::from_le_bytes(w)
    }

    /// Fills `words` (see [`super::ByteClass::mask_into`]) from `block`,
    /// which gives the mask bits of 32 bytes. A short tail is read as the
    /// last 32 bytes, overlapping the block before, and its word shifted down:
    /// one more compare instead of copying it into a padded block (a call
    /// to memset and one to memcpy). Only rows under 32 bytes are padded.
    #[inline]
    fn mask_blocks(bytes: &[u8], words: &mut [u32], block: impl Fn(&[u8]) -> u32) {
        let blocks = bytes.chunks_exact(32);
        let tail = blocks.remainder().len();
        let mut words = words.iter_mut();
        for (b, word) in blocks.zip(words.by_ref()) {
            *word = block(b);
        }
        if let Some(word) = words.next().filter(|_| tail > 0) {
            *word = match bytes.len().checked_sub(32) {
                Some(at) => block(&bytes[at..]) >> (32 - tail),
                None => {
                    let mut padded = [0u8; 32];
                    padded[..tail].copy_from_slice(bytes);
                    block(&padded) & (u32::MAX >> (32 - tail))
                }
            };
        }
    }

    /// 16 bytes per compare: `hit` sets the lanes of the bytes in the class.
    #[inline]
    #[target_feature(enable = "sse2")]
    fn mask_sse2(bytes: &[u8], words: &mut [u32], hit: impl Fn(__m128i) -> __m128i) {
        mask_blocks(bytes, words, |block| {
            // u64 reads rather than a raw pointer load keep this safe (and
            // compile to the same loads: an unaligned vector load measured
            // no fewer instructions).
            let lo = _mm_set_epi64x(read_u64(block, 8), read_u64(block, 0));
            let hi = _mm_set_epi64x(read_u64(block, 24), read_u64(block, 16));
            _mm_movemask_epi8(hit(lo)) as u32 | (_mm_movemask_epi8(hit(hi)) as u32) << 16
        });
    }

    /// The same, 32 bytes per compare.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn mask_avx2(bytes: &[u8], words: &mut [u32], hit: impl Fn(__m256i) -> __m256i) {
        mask_blocks(bytes, words, |block| {
            let v = _mm256_set_epi64x(
                read_u64(block, 24),
                read_u64(block, 16),
                read_u64(block, 8),
                read_u64(block, 0),
            );
            _mm256_movemask_epi8(hit(v)) as u32
        });
    }

    /// Masks the bytes of a [`super::QuoteClass`] table: one lookup and one
    /// compare per 32 bytes instead of four compares. The lookup reads the
    /// low nibble of each byte and gives 0 for non-ASCII bytes, which no
    /// class with a table holds.
    #[target_feature(enable = "avx2")]
    pub(super) fn mask_table_avx2(bytes: &[u8], table: &[u8; 16], words: &mut [u32]) {
        let table =
            _mm256_broadcastsi128_si256(_mm_set_epi64x(read_u64(table, 8), read_u64(table, 0)));
        mask_avx2(bytes, words, |v| {
            _mm256_cmpeq_epi8(v, _mm256_shuffle_epi8(table, v))
        });
    }

    /// Masks the delimiter, `"`, CR and LF.
    #[target_feature(enable = "sse2")]
    pub(super) fn mask_quote_sse2(bytes: &[u8], delimiter: u8, words: &mut [u32]) {
        let d = _mm_set1_epi8(delimiter as i8);
        let q = _mm_set1_epi8(b'"' as i8);
        let cr = _mm_set1_epi8(b'\r' as i8);
        let lf = _mm_set1_epi8(b'\n' as i8);
        mask_sse2(bytes, words, |v| {
            _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(v, d), _mm_cmpeq_epi8(v, q)),
                _mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf)),
            )
        });
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn mask_quote_avx2(bytes: &[u8], delimiter: u8, words: &mut [u32]) {
        let d = _mm256_set1_epi8(delimiter as i8);
        let q = _mm256_set1_epi8(b'"' as i8);
        let cr = _mm256_set1_epi8(b'\r' as i8);
        let lf = _mm256_set1_epi8(b'\n' as i8);
        mask_avx2(bytes, words, |v| {
            _mm256_or_si256(
                _mm256_or_si256(_mm256_cmpeq_epi8(v, d), _mm256_cmpeq_epi8(v, q)),
                _mm256_or_si256(_mm256_cmpeq_epi8(v, cr), _mm256_cmpeq_epi8(v, lf)),
            )
        });
    }

    /// Masks `"`, `\\`, control and non-ASCII bytes. One signed compare
    /// catches both ends: bytes 0x80..=0xFF are negative.
    #[target_feature(enable = "sse2")]
    pub(super) fn mask_json_sse2(bytes: &[u8], words: &mut [u32]) {
        let space = _mm_set1_epi8(0x20);
        let q = _mm_set1_epi8(b'"' as i8);
        let bs = _mm_set1_epi8(b'\\' as i8);
        mask_sse2(bytes, words, |v| {
            _mm_or_si128(
                _mm_cmplt_epi8(v, space),
                _mm_or_si128(_mm_cmpeq_epi8(v, q), _mm_cmpeq_epi8(v, bs)),
            )
        });
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn mask_json_avx2(bytes: &[u8], words: &mut [u32]) {
        let space = _mm256_set1_epi8(0x20);
        let q = _mm256_set1_epi8(b'"' as i8);
        let bs = _mm256_set1_epi8(b'\\' as i8);
        mask_avx2(bytes, words, |v| {
            _mm256_or_si256(
                _mm256_cmpgt_epi8(space, v),
                _mm256_or_si256(_mm256_cmpeq_epi8(v, q), _mm256_cmpeq_epi8(v, bs)),
            )
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reference(delimiter: u8, bytes: &[u8]) -> Vec<usize> {
        let class = QuoteClass::new(delimiter);
        (0..bytes.len())
            .filter(|&i| class.contains(bytes[i]))
            .collect()
    }

    /// The marked offsets a mask holds, past `len` too (which must be none).
    fn offsets(words: &[u32], len: usize) -> Vec<usize> {
        assert_eq!(words.len(), len.div_ceil(32), "word count");
        (0..32 * words.len())
            .filter(|&i| words[i / 32] >> (i % 32) & 1 == 1)
            .collect()
    }

    /// Every implementation this CPU can run, each giving its mask words.
    fn implementations(delimiter: u8, bytes: &[u8]) -> Vec<(&'static str, Vec<u32>)> {
        let class = QuoteClass::new(delimiter);
        let mut all = Vec::new();
        let mut w = vec![u32::MAX; bytes.len().div_ceil(32)];
        mask_bytewise(&class, bytes, &mut w);
        all.push(("bytewise", w));
        #[cfg(target_arch = "x86_64")]
        {
            let mut w = vec![u32::MAX; bytes.len().div_ceil(32)];
            // SAFETY: SSE2 is part of the x86_64 baseline.
            unsafe { simd::mask_quote_sse2(bytes, delimiter, &mut w) };
            all.push(("sse2", w));
            if std::arch::is_x86_feature_detected!("avx2") {
                let mut w = vec![u32::MAX; bytes.len().div_ceil(32)];
                // SAFETY: AVX2 was just detected.
                unsafe { simd::mask_quote_avx2(bytes, delimiter, &mut w) };
                all.push(("avx2", w));
                if let Some(table) = class.table {
                    let mut w = vec![u32::MAX; bytes.len().div_ceil(32)];
                    // SAFETY: AVX2 was just detected.
                    unsafe { simd::mask_table_avx2(bytes, &table, &mut w) };
                    all.push(("avx2 table", w));
                }
            }
        }
        let mut m = RowMask::default();
        m.scan(&class, bytes);
        all.push(("dispatch", m.words[..bytes.len().div_ceil(32)].to_vec()));
        all
    }

    #[test]
    fn tables_only_where_low_nibbles_differ() {
        assert!(QuoteClass::new(b',').table.is_some());
        assert!(QuoteClass::new(b'\t').table.is_some());
        // 'R' shares its low nibble with '"', 0xAC is not ASCII.
        for delimiter in [b'R', 0xAC] {
            let class = QuoteClass::new(delimiter);
            assert!(class.table.is_none());
            let bytes: Vec<u8> = (0..=255u8).collect();
            let expected = reference(delimiter, &bytes);
            for (name, words) in implementations(delimiter, &bytes) {
                assert_eq!(offsets(&words, bytes.len()), expected, "{name}");
            }
        }
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

    #[test]
    fn every_byte_value_at_every_lane() {
        // Each byte value at each position of a block and of the padded
        // tail, for lengths that end on and off a block.
        for len in [1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 128, 130] {
            for b in 0..=255u8 {
                for at in 0..len {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = b;
                    for delimiter in [b',', b'\t'] {
                        let expected = reference(delimiter, &bytes);
                        for (name, words) in implementations(delimiter, &bytes) {
                            assert_eq!(words.len(), len.div_ceil(32), "{name}: word count");
                            assert_eq!(
                                offsets(&words, len),
                                expected,
                                "{name}: byte {b} at {at} of {len}"
                            );
                        }
                    }
                }
            }
        }
    }

    /// The JSON class's implementations, as [`implementations`] does for quoting.
    fn json_implementations(bytes: &[u8]) -> Vec<(&'static str, Vec<u32>)> {
        let mut all = Vec::new();
        let mut w = vec![u32::MAX; bytes.len().div_ceil(32)];
        mask_bytewise(&JsonClass, bytes, &mut w);
        all.push(("bytewise", w));
        #[cfg(target_arch = "x86_64")]
        {
            let mut w = vec![u32::MAX; bytes.len().div_ceil(32)];
            // SAFETY: SSE2 is part of the x86_64 baseline.
            unsafe { simd::mask_json_sse2(bytes, &mut w) };
            all.push(("sse2", w));
            if std::arch::is_x86_feature_detected!("avx2") {
                let mut w = vec![u32::MAX; bytes.len().div_ceil(32)];
                // SAFETY: AVX2 was just detected.
                unsafe { simd::mask_json_avx2(bytes, &mut w) };
                all.push(("avx2", w));
            }
        }
        let mut m = RowMask::default();
        m.scan(&JsonClass, bytes);
        all.push(("dispatch", m.words[..bytes.len().div_ceil(32)].to_vec()));
        all
    }

    #[test]
    fn json_class_at_every_lane() {
        for b in 0..=255u8 {
            assert_eq!(
                JsonClass.contains(b),
                matches!(b, 0x00..=0x1F | 0x80..=0xFF | b'"' | b'\\'),
                "{b}"
            );
        }
        for len in [1, 15, 16, 17, 31, 32, 33, 64, 70] {
            for b in 0..=255u8 {
                for at in 0..len {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = b;
                    let expected: Vec<usize> =
                        (0..len).filter(|&i| JsonClass.contains(bytes[i])).collect();
                    for (name, words) in json_implementations(&bytes) {
                        assert_eq!(words.len(), len.div_ceil(32), "{name}: word count");
                        assert_eq!(offsets(&words, len), expected, "{name}: byte {b} at {at}");
                    }
                }
            }
        }
    }

    proptest! {
        #[test]
        fn every_implementation_matches_the_reference(bytes in proptest::collection::vec(
            prop_oneof![any::<u8>(), Just(b','), Just(b'"'), Just(b'\n'), Just(b'a')], 0..300)) {
            for delimiter in [b',', b'\t'] {
                let expected = reference(delimiter, &bytes);
                for (name, words) in implementations(delimiter, &bytes) {
                    prop_assert_eq!(offsets(&words, bytes.len()), expected.clone(), "{}", name);
                }
            }
        }

        /// A cursor asked about increasing ranges agrees with a search of
        /// the reference list, within and across words and past the end.
        #[test]
        fn cursor_finds_marks_of_increasing_ranges(
            bytes in proptest::collection::vec(prop_oneof![12 => Just(b'a'), 1 => Just(b',')], 0..200),
            steps in proptest::collection::vec((0usize..40, 0usize..70), 0..12),
        ) {
            let marks = reference(b',', &bytes);
            let mut m = RowMask::default();
            // A longer row first leaves stale words past the row's end.
            m.scan(&QuoteClass::new(b','), &[b','; 300]);
            m.scan(&QuoteClass::new(b','), &bytes);
            let mut c = m.cursor(bytes.len());
            let mut start = 1;
            for (advance, len) in steps {
                start += advance;
                let end = (start + len).min(bytes.len() + 8);
                let expected = marks.iter().copied().find(|&i| i >= start && i < end);
                if advance % 2 == 0 {
                    prop_assert_eq!(c.first_in(start, end), expected, "{}..{}", start, end);
                } else {
                    prop_assert_eq!(c.clean(start, end), expected.is_none(), "{}..{}", start, end);
                }
            }
        }

        /// first_in agrees with a search of the reference list, for every
        /// range within and across words.
        #[test]
        fn first_in_finds_the_first_mark_of_any_range(
            bytes in proptest::collection::vec(prop_oneof![9 => Just(b'a'), 1 => Just(b',')], 0..200),
            a in 0usize..200,
            b in 0usize..200,
        ) {
            let (start, end) = (a.min(b).min(bytes.len()), a.max(b).min(bytes.len()));
            let mut m = RowMask::default();
            m.scan(&QuoteClass::new(b','), &bytes);
            let expected = reference(b',', &bytes).into_iter().find(|&i| i >= start && i < end);
            prop_assert_eq!(m.first_in(start, end), expected);
        }
    }
}
