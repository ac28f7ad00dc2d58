//! The plan of a parallel export: which column the result is split on, and
//! the chunk queries that cover it, each row in exactly one chunk.
//!
//! A chunk is `SELECT * FROM (<query>) AS gd_chunk WHERE <col> >= lo AND
//! <col> < hi`. The first chunk has no lower bound and the last no upper
//! one, and one more chunk takes `<col> IS NULL`, so the chunks cover every
//! value whatever the bounds are: bounds decide sizes, never membership.
//!
//! Sizes come from the server's own estimates (`EXPLAIN`, which asks the
//! index for the rows in a range), not from an even split of MIN..MAX,
//! which puts most rows of a skewed key into one chunk. The [`Chunker`]
//! proposes the next range with the current step, and grows or shrinks
//! the step until the estimate is near the target (a few probes per
//! chunk): huge gaps are crossed in a few doublings, and a dense region
//! is cut into chunks of the target size.

pub mod keys;
pub mod query;

use keys::KeyType;

/// One chunk query's range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chunk {
    /// `lo <= col < hi`; a missing bound is open.
    Range {
        /// Inclusive lower bound.
        lo: Option<i128>,
        /// Exclusive upper bound.
        hi: Option<i128>,
    },
    /// `col IS NULL`.
    Null,
}

/// How a query is split.
#[derive(Debug, Clone)]
pub struct Split {
    /// The query as the user gave it (no trailing semicolon).
    pub query: String,
    /// The split column's name as the result reports it.
    pub column: String,
    /// How its values map to points.
    pub key: KeyType,
}

impl Split {
    /// The SQL of one chunk. The user's query stands on lines of its own,
    /// so that a trailing `-- comment` cannot swallow the closing parenthesis.
    pub fn chunk_sql(&self, chunk: Chunk) -> String {
        format!(
            "SELECT * FROM (\n{}\n) AS gd_chunk WHERE {}",
            self.query,
            self.condition(chunk)
        )
    }

    /// `EXPLAIN` of the chunk `lo <= col < hi`, for its row estimate.
    pub fn explain_sql(&self, lo: i128, hi: Option<i128>) -> String {
        let chunk = Chunk::Range { lo: Some(lo), hi };
        format!("EXPLAIN {}", self.chunk_sql(chunk))
    }

    /// The whole result's smallest and largest key.
    pub fn bounds_sql(&self) -> String {
        let col = self.quoted_column();
        format!(
            "SELECT MIN({col}), MAX({col}) FROM (\n{}\n) AS gd_chunk",
            self.query
        )
    }

    fn condition(&self, chunk: Chunk) -> String {
        let col = self.quoted_column();
        match chunk {
            Chunk::Null => format!("{col} IS NULL"),
            Chunk::Range { lo, hi } => {
                let mut parts = Vec::with_capacity(2);
                if let Some(lo) = lo {
                    parts.push(format!("{col} >= {}", self.key.literal(lo)));
                }
                if let Some(hi) = hi {
                    parts.push(format!("{col} < {}", self.key.literal(hi)));
                }
                if parts.is_empty() {
                    format!("{col} IS NOT NULL")
                } else {
                    parts.join(" AND ")
                }
            }
        }
    }

    fn quoted_column(&self) -> String {
        format!("gd_chunk.{}", quote_identifier(&self.column))
    }
}

/// `name` as a MySQL identifier in backticks.
pub fn quote_identifier(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// What to do with a proposed range after its row estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Issue it.
    Take,
    /// The step changed: estimate the new proposal.
    Probe,
}

/// Hands out the ranges of the key line `min..=max` one after another,
/// sized by row estimates; then the NULL chunk; then nothing.
#[derive(Debug)]
pub struct Chunker {
    /// Lower bound of the next range; `None` before the first one, which
    /// is open below.
    next: Option<i128>,
    min: i128,
    max: i128,
    step: i128,
    target_rows: u64,
    /// Estimates do not depend on the range (no index on the column): the
    /// step stays as it is.
    blind: bool,
    /// Where the next range's size is measured from.
    origin: Origin,
    round: Round,
    ranges_done: bool,
    null_done: bool,
    issued: u64,
}

/// Most estimates asked for one chunk; the proposal is taken as it is then.
pub const MAX_PROBES: u32 = 16;

/// Most growth or shrinking of the step by the first probe of a chunk.
const MAX_FACTOR: i128 = 64;

/// The step's jump once the first correction proved too small.
const JUMP: i128 = 1 << 16;

/// Where a range's size is measured from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// Its lower bound.
    Bound,
    /// The first key at or above its lower bound.
    Key(i128),
    /// No key is left: the range is the last, open one.
    NoKeyLeft,
}

/// The search for one chunk's step: the largest step known to hold too
/// few rows and the smallest known to hold too many.
#[derive(Debug, Default)]
struct Round {
    low: Option<i128>,
    high: Option<i128>,
    probes: u32,
}

/// The number of points in `min..=max`, saturating: keys of DECIMAL(38,0)
/// can span more than i128 holds, and only sizes depend on it.
fn width(min: i128, max: i128) -> i128 {
    max.saturating_sub(min).saturating_add(1).max(1)
}

/// A step strictly between `low` and `high` (`high - low > 1`), halfway
/// on a log scale. Floating point is exact enough for sizing.
fn geometric_mean(low: i128, high: i128) -> i128 {
    let mid = ((low as f64).ln() + (high as f64).ln()) / 2.0;
    (mid.exp() as i128).clamp(low + 1, high - 1)
}

impl Chunker {
    /// Ranges over `min..=max` holding about `target_rows` each, starting
    /// from an even split of `total_rows` (the server's estimate). With
    /// `None` bounds (no non-NULL key) there is one open range.
    pub fn new(bounds: Option<(i128, i128)>, total_rows: u64, target_rows: u64) -> Self {
        let target_rows = target_rows.max(1);
        let (min, max) = bounds.unwrap_or((0, 0));
        let width = width(min, max);
        let chunks = (total_rows / target_rows).max(1);
        let step = (width / i128::from(chunks)).max(1);
        Self {
            next: None,
            min,
            max,
            step,
            target_rows,
            blind: bounds.is_none(),
            origin: Origin::Bound,
            round: Round::default(),
            ranges_done: false,
            null_done: false,
            issued: 0,
        }
    }

    /// The range the next chunk would cover, as `(lo, hi)` for estimating
    /// (`lo` is the real lower bound even for the first, open range; `hi`
    /// is `None` when the range reaches past the largest key). `None` when
    /// the ranges are all handed out.
    pub fn proposal(&self) -> Option<(i128, Option<i128>)> {
        if self.ranges_done {
            return None;
        }
        let lo = match self.origin {
            Origin::Bound => self.next.unwrap_or(self.min),
            Origin::Key(key) => key,
            Origin::NoKeyLeft => return Some((self.next.unwrap_or(self.min), None)),
        };
        let hi = lo.checked_add(self.step).filter(|&hi| hi <= self.max);
        Some((lo, hi))
    }

    /// The lower bound of the next range, when the smallest key at or
    /// above it should be looked up (see [`Chunker::skip_to`]).
    pub fn gap_start(&self) -> Option<i128> {
        (!self.blind && !self.ranges_done && self.origin == Origin::Bound)
            .then_some(self.next)
            .flatten()
    }

    /// The smallest key at or above [`Chunker::gap_start`] (`None`: there
    /// is none). The next range still begins at the previous one's end,
    /// so no row is skipped, but its size is measured from this key: a gap
    /// of any width costs one index lookup, where estimates alone would
    /// need a long search to find where the keys resume.
    pub fn skip_to(&mut self, key: Option<i128>) {
        // Never below the range's own start: a key read back lower than the
        // bound it was asked for (a TIMESTAMP in the hour a DST change
        // repeats, shown in local time) must not make the bounds go back,
        // which would export rows twice.
        let floor = self.next.unwrap_or(self.min);
        self.origin = key.map_or(Origin::NoKeyLeft, |k| Origin::Key(k.max(floor)));
    }

    /// Whether estimates are worth making.
    pub fn wants_estimates(&self) -> bool {
        !self.blind && !self.ranges_done
    }

    /// A range past the largest key, which holds no row: its estimate says
    /// whether estimates see ranges at all (see [`Chunker::calibrate`]).
    pub fn calibration_range(&self) -> (i128, Option<i128>) {
        (self.max.saturating_add(1), Some(self.max.saturating_add(2)))
    }

    /// Takes the estimate for [`Chunker::calibration_range`]. Through an
    /// index the server estimates next to nothing there; without one it
    /// estimates the whole result for any range, and sizing by estimates
    /// would cut the result into thousands of chunks that each read it all.
    /// Then the key line is cut into a few even ranges instead, two per
    /// connection.
    pub fn calibrate(&mut self, estimate: u64, connections: u32) {
        if estimate > self.target_rows / 2 {
            self.blind = true;
            let width = width(self.min, self.max);
            self.step = (width / i128::from(connections.max(1) * 2)).max(1);
        }
    }

    /// Adapts the step to `estimate`, the server's row estimate for the
    /// current proposal. The first correction assumes evenly spread keys;
    /// when that was not enough (a cluster, a gap), the step jumps by
    /// 2^16 until the target lies between a step known too small and one
    /// known too large, and then halves that bracket in log space: about
    /// six more probes for any 64-bit distance.
    pub fn estimate(&mut self, estimate: u64) -> Verdict {
        let Some((_, hi)) = self.proposal() else {
            return Verdict::Take;
        };
        let target = self.target_rows;
        let too_big = estimate > target.saturating_mul(2) && self.step > 1;
        let too_small = (estimate == 0 || estimate < target / 4) && hi.is_some();
        if !too_big && !too_small {
            return Verdict::Take;
        }
        let round = &mut self.round;
        round.probes += 1;
        if too_big {
            round.high = Some(self.step);
        } else {
            round.low = Some(self.step);
        }
        let even = |ratio: u64| i128::from(ratio).clamp(2, MAX_FACTOR);
        let next = match (round.low, round.high) {
            (Some(low), Some(high)) if high - low > 1 => geometric_mean(low, high),
            (Some(_), Some(_)) => return Verdict::Take,
            (None, Some(high)) if round.probes == 1 => high / even(estimate / target),
            (None, Some(high)) => high / JUMP,
            (Some(low), None) if round.probes == 1 => {
                low.saturating_mul(even(target / estimate.max(1)))
            }
            (Some(low), None) => low.saturating_mul(JUMP),
            (None, None) => return Verdict::Take,
        }
        .max(1);
        if next == self.step {
            return Verdict::Take;
        }
        self.step = next;
        Verdict::Probe
    }

    /// Hands out the next chunk: the current proposal (whatever its
    /// estimate), then the NULL chunk, then `None`.
    pub fn take(&mut self) -> Option<Chunk> {
        let proposal = self.proposal();
        self.round = Round::default();
        self.origin = Origin::Bound;
        if let Some((_, hi)) = proposal {
            // The range begins where the last one ended, whatever key its
            // size was measured from.
            let lo = self.next;
            match hi {
                Some(hi) => self.next = Some(hi),
                None => self.ranges_done = true,
            }
            self.issued += 1;
            return Some(Chunk::Range { lo, hi });
        }
        if !self.null_done {
            self.null_done = true;
            self.issued += 1;
            return Some(Chunk::Null);
        }
        None
    }

    /// Chunks handed out so far.
    pub fn issued(&self) -> u64 {
        self.issued
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out every chunk of `chunker`, estimating each proposal with
    /// `rows_in` (the exact row count of a key distribution, standing in
    /// for the server's index estimate), at most `probes` per chunk.
    fn drain(
        chunker: &mut Chunker,
        keys: &[i128],
        rows_in: impl Fn(i128, Option<i128>) -> u64,
    ) -> Vec<Chunk> {
        let mut out = Vec::new();
        if chunker.wants_estimates() {
            let (lo, hi) = chunker.calibration_range();
            chunker.calibrate(rows_in(lo, hi), 2);
        }
        loop {
            if let Some(lo) = chunker.gap_start() {
                chunker.skip_to(keys.iter().copied().filter(|&k| k >= lo).min());
            }
            let mut probes = 0;
            while chunker.wants_estimates() && probes < MAX_PROBES {
                let Some((lo, hi)) = chunker.proposal() else {
                    break;
                };
                probes += 1;
                if chunker.estimate(rows_in(lo, hi)) == Verdict::Take {
                    break;
                }
            }
            match chunker.take() {
                Some(c) => out.push(c),
                None => return out,
            }
        }
    }

    /// Every key falls in exactly one range chunk, and one NULL chunk ends the list.
    fn assert_cover(chunks: &[Chunk], keys: &[i128]) {
        assert_eq!(chunks.last(), Some(&Chunk::Null));
        for &k in keys {
            let n = chunks
                .iter()
                .filter(|c| match c {
                    Chunk::Range { lo, hi } => {
                        lo.is_none_or(|lo| k >= lo) && hi.is_none_or(|hi| k < hi)
                    }
                    Chunk::Null => false,
                })
                .count();
            assert_eq!(n, 1, "key {k} is in {n} chunks");
        }
    }

    fn counter(keys: &[i128]) -> impl Fn(i128, Option<i128>) -> u64 + '_ {
        move |lo, hi| {
            keys.iter()
                .filter(|&&k| k >= lo && hi.is_none_or(|hi| k < hi))
                .count() as u64
        }
    }

    fn range_sizes(chunks: &[Chunk], keys: &[i128]) -> Vec<u64> {
        chunks
            .iter()
            .filter_map(|c| match *c {
                Chunk::Range { lo, hi } => Some(
                    keys.iter()
                        .filter(|&&k| lo.is_none_or(|lo| k >= lo) && hi.is_none_or(|hi| k < hi))
                        .count() as u64,
                ),
                Chunk::Null => None,
            })
            .collect()
    }

    #[test]
    fn a_key_with_90_percent_of_rows_in_1_percent_of_its_range_is_cut_evenly() {
        // 100,000 keys: 90,000 dense in 0..10,000 (1 % of the range), the
        // rest spread over 10,000..1,000,000.
        let mut keys: Vec<i128> = (0..90_000).map(|i| i * 10_000 / 90_000).collect();
        keys.extend((0..10_000).map(|i| 10_000 + i * 99));
        let bounds = (0, *keys.iter().max().unwrap());
        let mut chunker = Chunker::new(Some(bounds), keys.len() as u64, 2_000);
        let chunks = drain(&mut chunker, &keys, counter(&keys));
        assert_cover(&chunks, &keys);
        let sizes = range_sizes(&chunks, &keys);
        let largest = *sizes.iter().max().unwrap();
        assert!(
            largest <= 4 * 2_000,
            "largest chunk {largest} rows: {sizes:?}"
        );
        assert!(sizes.len() >= 100_000 / 4_000, "{} chunks", sizes.len());
    }

    #[test]
    fn huge_gaps_are_crossed_in_few_chunks() {
        // Three clusters of 5,000 keys, 2^60 apart.
        let mut keys = Vec::new();
        for base in [0i128, 1 << 60, 1 << 61] {
            keys.extend((0..5_000).map(|i| base + i));
        }
        let bounds = (0, *keys.iter().max().unwrap());
        let mut chunker = Chunker::new(Some(bounds), keys.len() as u64, 1_000);
        let chunks = drain(&mut chunker, &keys, counter(&keys));
        assert_cover(&chunks, &keys);
        let sizes = range_sizes(&chunks, &keys);
        assert!(
            *sizes.iter().max().unwrap() <= 4_000,
            "{sizes:?} {chunks:?}"
        );
        let empty = sizes.iter().filter(|&&n| n == 0).count();
        assert!(empty <= 10, "{empty} empty chunks of {}", sizes.len());
    }

    #[test]
    fn estimates_blind_to_the_range_stop_the_probing() {
        // A column without an index: the server estimates the whole table
        // for any range.
        let mut chunker = Chunker::new(Some((1, 1_000_000)), 1_000_000, 10_000);
        let chunks = drain(&mut chunker, &[1, 500_000, 1_000_000], |_, _| 1_000_000);
        assert!(chunker.blind);
        assert_eq!(chunks.len(), 4 + 1, "{chunks:?}");
        assert_cover(&chunks, &[1, 500_000, 1_000_000]);
    }

    #[test]
    fn no_key_at_all_is_one_open_range_and_the_null_chunk() {
        let mut chunker = Chunker::new(None, 0, 1_000);
        let chunks = drain(&mut chunker, &[], |_, _| 0);
        assert_eq!(
            chunks,
            [Chunk::Range { lo: None, hi: None }, Chunk::Null],
            "an empty or all-NULL key"
        );
    }

    #[test]
    fn a_key_read_back_below_the_bound_never_moves_the_bounds_back() {
        let keys: Vec<i128> = (0..1_000).collect();
        let mut chunker = Chunker::new(Some((0, 999)), 1_000, 100);
        let mut chunks = Vec::new();
        while let Some(c) = {
            // Every lookup answers a key far below the asked bound.
            if chunker.gap_start().is_some() {
                chunker.skip_to(Some(-5));
            }
            chunker.take()
        } {
            chunks.push(c);
        }
        assert_cover(&chunks, &keys);
    }

    #[test]
    fn keys_wider_than_i128_holds_do_not_overflow() {
        let bounds = (-(10i128.pow(38)) + 1, 10i128.pow(38) - 1);
        let keys = [bounds.0, 0, bounds.1];
        let mut chunker = Chunker::new(Some(bounds), 3, 1);
        let chunks = drain(&mut chunker, &keys, counter(&keys));
        assert_cover(&chunks, &keys);
        assert!(chunks.len() < 200, "{} chunks", chunks.len());
        // Blind estimates over the same line: a few even ranges.
        let mut chunker = Chunker::new(Some(bounds), 3, 1);
        let chunks = drain(&mut chunker, &keys, |_, _| 3);
        assert_cover(&chunks, &keys);
        assert!(chunks.len() <= 6, "{chunks:?}");
    }

    #[test]
    fn extreme_keys_do_not_overflow() {
        let bounds = (i128::from(i64::MIN), i128::from(u64::MAX));
        let keys = [bounds.0, -1, 0, 1, bounds.1];
        let mut chunker = Chunker::new(Some(bounds), 5, 1);
        let chunks = drain(&mut chunker, &keys, counter(&keys));
        assert_cover(&chunks, &keys);
    }

    #[test]
    fn chunk_sql_keeps_the_query_on_its_own_lines_and_quotes_the_column() {
        let split = Split {
            query: "SELECT * FROM t -- all of it".into(),
            column: "we`ird".into(),
            key: KeyType::Date,
        };
        let lo = KeyType::Date.parse(b"2024-01-01");
        let hi = KeyType::Date.parse(b"2024-02-01");
        assert_eq!(
            split.chunk_sql(Chunk::Range { lo, hi }),
            "SELECT * FROM (\nSELECT * FROM t -- all of it\n) AS gd_chunk \
             WHERE gd_chunk.`we``ird` >= '2024-01-01' AND gd_chunk.`we``ird` < '2024-02-01'"
        );
        assert!(
            split
                .chunk_sql(Chunk::Null)
                .ends_with("WHERE gd_chunk.`we``ird` IS NULL")
        );
        assert!(
            split
                .chunk_sql(Chunk::Range { lo: None, hi: None })
                .ends_with("WHERE gd_chunk.`we``ird` IS NOT NULL")
        );
    }
}
