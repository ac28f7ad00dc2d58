//! The server's text for one value, read into the number a Parquet column
//! stores. Every routine reads bytes only (no UTF-8 check, no float for
//! DECIMAL) and says why a value does not fit instead of guessing.

/// Why a value cannot be stored in its column's Parquet type.
pub(super) type Refusal = &'static str;

/// A decimal integer of at most 64 bits: `-`? digits.
#[inline]
pub(super) fn int(text: &[u8]) -> Result<i64, Refusal> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let magnitude = unsigned(digits)?;
    if negative {
        // -2^63 is the one magnitude that has no positive counterpart.
        0i64.checked_sub_unsigned(magnitude)
            .ok_or("the integer is below the 64-bit range")
    } else {
        i64::try_from(magnitude).map_err(|_| "the integer is beyond the 64-bit range")
    }
}

/// A decimal integer without sign of at most 64 bits.
#[inline]
pub(super) fn unsigned(digits: &[u8]) -> Result<u64, Refusal> {
    if digits.is_empty() {
        return Err("no digits where an integer was expected");
    }
    let mut n: u64 = 0;
    for &b in digits {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return Err("a character other than a digit in an integer");
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d)))
            .ok_or("the integer is beyond the 64-bit range")?;
    }
    Ok(n)
}

/// BIT(n): up to 8 raw big-endian bytes.
#[inline]
pub(super) fn bits(bytes: &[u8]) -> Result<u64, Refusal> {
    if bytes.len() > 8 {
        return Err("a BIT value of more than 64 bits");
    }
    Ok(bytes.iter().fold(0u64, |n, &b| (n << 8) | u64::from(b)))
}

/// FLOAT or DOUBLE text, correctly rounded by the standard library.
#[inline]
pub(super) fn float<T: std::str::FromStr>(text: &[u8]) -> Result<T, Refusal> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or("not a floating-point number")
}

/// 256 bits as four little-endian 64-bit limbs: room for 76 decimal digits.
type Wide = [u64; 4];

/// `n = n * m + a`; false when the result needs more than 256 bits.
#[inline]
fn mul_add(n: &mut Wide, m: u64, a: u64) -> bool {
    let mut carry = u128::from(a);
    for limb in n.iter_mut() {
        let v = u128::from(*limb) * u128::from(m) + carry;
        *limb = v as u64;
        carry = v >> 64;
    }
    carry == 0
}

/// Bytes of the narrowest two's complement integer that holds every
/// unscaled value of DECIMAL(`precision`, s), that is ±(10^precision − 1):
/// 10^p < 2^(8n−1). 28 for 65 digits, 32 for 76.
pub(super) fn decimal_width(precision: u8) -> usize {
    let mut pow: Wide = [1, 0, 0, 0];
    for _ in 0..precision.min(76) {
        mul_add(&mut pow, 10, 0);
    }
    let bits = 256
        - pow
            .iter()
            .rev()
            .fold((0u32, true), |(zeros, leading), &l| {
                if leading {
                    (zeros + l.leading_zeros(), l == 0)
                } else {
                    (zeros, false)
                }
            })
            .0 as usize;
    // 10^p is never a power of two (p ≥ 1), so it is below 2^bits and at
    // least 2^(bits−1): a sign bit more makes bits + 1.
    (bits + 1).div_ceil(8).max(1)
}

/// DECIMAL text (`-`? digits (`.` digits)?) as the two's complement of its
/// value times 10^`scale`, digit by digit, exact: no float anywhere. The
/// value must have at most `precision − scale` integer digits and at most
/// `scale` fraction digits (fewer are padded with zeros, as the value is
/// the same).
fn unscaled(text: &[u8], precision: u8, scale: u8) -> Result<Wide, Refusal> {
    let (negative, rest) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let (int_part, frac) = match memchr::memchr(b'.', rest) {
        Some(dot) => (&rest[..dot], &rest[dot + 1..]),
        None => (rest, &[][..]),
    };
    if int_part.is_empty() && frac.is_empty() {
        return Err("no digits in a DECIMAL value");
    }
    // Leading zeros do not count towards the precision ("0.5" has one
    // integer digit in the text, none in the value).
    let significant = int_part
        .iter()
        .position(|&b| b != b'0')
        .map_or(0, |i| int_part.len() - i);
    if significant > usize::from(precision.saturating_sub(scale)) {
        return Err("more integer digits than the column's DECIMAL precision allows");
    }
    if frac.len() > usize::from(scale) {
        return Err("more fraction digits than the column's DECIMAL scale");
    }
    let mut n: Wide = [0; 4];
    for &b in int_part.iter().chain(frac) {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return Err("a character other than a digit in a DECIMAL value");
        }
        // Cannot overflow: at most 76 significant digits, checked above.
        mul_add(&mut n, 10, u64::from(d));
    }
    for _ in frac.len()..usize::from(scale) {
        mul_add(&mut n, 10, 0);
    }
    if negative {
        // Two's complement: invert, add one.
        let mut carry = 1u64;
        for limb in n.iter_mut() {
            let (v, c) = (!*limb).overflowing_add(carry);
            *limb = v;
            carry = u64::from(c);
        }
    }
    Ok(n)
}

/// DECIMAL of precision 19 to 76: the unscaled value as `width` big-endian
/// two's complement bytes, appended to `out`.
pub(super) fn decimal(
    text: &[u8],
    precision: u8,
    scale: u8,
    width: usize,
    out: &mut Vec<u8>,
) -> Result<(), Refusal> {
    let n = unscaled(text, precision, scale)?;
    let mut be = [0u8; 32];
    for (i, limb) in n.iter().rev().enumerate() {
        be[i * 8..i * 8 + 8].copy_from_slice(&limb.to_be_bytes());
    }
    out.extend_from_slice(&be[32 - width..]);
    Ok(())
}

/// DECIMAL of precision 18 or less: the unscaled value, which fits in an
/// i64 (|v| < 10^18 < 2^63), so the low limb is its two's complement.
#[inline]
pub(super) fn decimal_i64(text: &[u8], precision: u8, scale: u8) -> Result<i64, Refusal> {
    debug_assert!(precision <= 18);
    Ok(unscaled(text, precision.min(18), scale)?[0] as i64)
}

/// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// `count` digits at `text[at..]` as a number.
#[inline]
fn digits(text: &[u8], at: usize, count: usize) -> Option<u32> {
    let field = text.get(at..at + count)?;
    field.iter().try_fold(0u32, |n, &b| {
        let d = b.wrapping_sub(b'0');
        (d <= 9).then(|| n * 10 + u32::from(d))
    })
}

const NOT_A_DATE: Refusal = "a zero or invalid date, which no Parquet DATE or TIMESTAMP can hold";

/// `YYYY-MM-DD` as days since the epoch; a zero date (`0000-00-00`), a zero
/// month or day, or a day past the month's end is refused.
#[inline]
pub(super) fn date(text: &[u8]) -> Result<i32, Refusal> {
    if text.len() < 10 || text[4] != b'-' || text[7] != b'-' {
        return Err(NOT_A_DATE);
    }
    let (Some(y), Some(m), Some(d)) = (digits(text, 0, 4), digits(text, 5, 2), digits(text, 8, 2))
    else {
        return Err(NOT_A_DATE);
    };
    let y = i64::from(y);
    let last = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap(y) => 29,
        2 => 28,
        _ => return Err(NOT_A_DATE),
    };
    if d == 0 || d > last {
        return Err(NOT_A_DATE);
    }
    // Years 0..=9999: well inside i32 days.
    Ok(days_from_civil(y, m, d) as i32)
}

/// `.ffffff` (1 to 6 digits) at the end of a time as microseconds.
#[inline]
fn micros(fraction: &[u8]) -> Result<i64, Refusal> {
    match fraction {
        [] => Ok(0),
        [b'.', f @ ..] if !f.is_empty() && f.len() <= 6 => {
            let n = digits(f, 0, f.len()).ok_or("not a time")?;
            Ok(i64::from(n) * 10i64.pow(6 - f.len() as u32))
        }
        _ => Err("not a time"),
    }
}

/// `YYYY-MM-DD HH:MM:SS[.ffffff]` as microseconds since the epoch, the
/// wall-clock reading taken as UTC.
#[inline]
pub(super) fn datetime(text: &[u8]) -> Result<i64, Refusal> {
    let days = date(text)?;
    if text.len() < 19 || text[10] != b' ' || text[13] != b':' || text[16] != b':' {
        return Err("not a date and time");
    }
    let (Some(h), Some(m), Some(s)) = (
        digits(text, 11, 2),
        digits(text, 14, 2),
        digits(text, 17, 2),
    ) else {
        return Err("not a date and time");
    };
    let seconds = i64::from(days) * 86_400 + i64::from(h * 3600 + m * 60 + s);
    Ok(seconds * 1_000_000 + micros(&text[19..])?)
}

/// TIME, `-`?`H+:MM:SS[.ffffff]` (hours up to 838), as signed microseconds.
#[inline]
pub(super) fn time(text: &[u8]) -> Result<i64, Refusal> {
    let (negative, rest) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let colon = memchr::memchr(b':', rest).ok_or("not a time")?;
    let hours = i64::try_from(unsigned(&rest[..colon])?).map_err(|_| "not a time")?;
    let rest = &rest[colon..];
    if rest.len() < 6 || rest[0] != b':' || rest[3] != b':' {
        return Err("not a time");
    }
    let (Some(m), Some(s)) = (digits(rest, 1, 2), digits(rest, 4, 2)) else {
        return Err("not a time");
    };
    let value = (hours * 3600 + i64::from(m * 60 + s)) * 1_000_000 + micros(&rest[6..])?;
    Ok(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_at_the_edges() {
        assert_eq!(int(b"-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(int(b"9223372036854775807"), Ok(i64::MAX));
        assert!(int(b"9223372036854775808").is_err());
        assert!(int(b"-9223372036854775809").is_err());
        assert_eq!(unsigned(b"18446744073709551615"), Ok(u64::MAX));
        assert!(unsigned(b"18446744073709551616").is_err());
        assert!(int(b"").is_err() && int(b"-").is_err() && int(b"1x").is_err());
    }

    #[test]
    fn decimal_widths_are_the_narrowest() {
        // Independent: 10^p − 1 must fit in 8n − 1 bits, and not in 8(n−1) − 1.
        for p in 1..=38u8 {
            let max = 10u128.pow(u32::from(p)) - 1;
            let n = decimal_width(p);
            let fits = |bytes: usize| bytes * 8 > 128 || max < (1u128 << (bytes * 8 - 1));
            assert!(fits(n), "{p}");
            assert!(n == 1 || !fits(n - 1), "{p}");
        }
        assert_eq!(decimal_width(65), 28);
        assert_eq!(decimal_width(76), 32);
    }

    /// The two's complement of `text` at `scale`, read back as i128 (for
    /// widths up to 16).
    fn small(text: &str, p: u8, s: u8) -> Result<i128, Refusal> {
        let w = decimal_width(p);
        let mut out = Vec::new();
        decimal(text.as_bytes(), p, s, w, &mut out)?;
        assert_eq!(out.len(), w);
        let fill = if out[0] & 0x80 != 0 { 0xFF } else { 0 };
        let mut be = [fill; 16];
        be[16 - w..].copy_from_slice(&out);
        Ok(i128::from_be_bytes(be))
    }

    #[test]
    fn decimals_are_exact() {
        assert_eq!(small("-123.4500", 10, 4), Ok(-1_234_500));
        assert_eq!(small("0.5", 3, 2), Ok(50));
        assert_eq!(small("-0.0001", 5, 4), Ok(-1));
        assert_eq!(small("99", 2, 0), Ok(99));
        assert_eq!(small("-99", 2, 0), Ok(-99));
        assert!(small("100", 2, 0).is_err());
        assert!(small("1.234", 5, 2).is_err());
        assert_eq!(decimal_i64(b"-123.4500", 10, 4), Ok(-1_234_500));
        assert_eq!(
            decimal_i64(b"999999999999999999", 18, 0),
            Ok(999_999_999_999_999_999)
        );
        assert_eq!(decimal_i64(b"-0.000000000000000001", 18, 18), Ok(-1));
        assert!(decimal_i64(b"1000000000000000000", 18, 0).is_err());
        let nines = "9".repeat(38);
        assert_eq!(small(&nines, 38, 0), Ok(10i128.pow(38) - 1));
        assert_eq!(small(&format!("-{nines}"), 38, 0), Ok(1 - 10i128.pow(38)));
    }

    #[test]
    fn dates_and_times() {
        assert_eq!(date(b"1970-01-01"), Ok(0));
        assert_eq!(date(b"1969-12-31"), Ok(-1));
        assert_eq!(date(b"2000-03-01"), Ok(11_017));
        assert_eq!(date(b"2024-02-29"), Ok(19_782));
        for bad in [
            "0000-00-00",
            "2024-00-15",
            "2023-02-29",
            "2024-04-31",
            "2024-01-00",
        ] {
            assert!(date(bad.as_bytes()).is_err(), "{bad}");
        }
        assert_eq!(datetime(b"1970-01-01 00:00:01.5"), Ok(1_500_000));
        assert_eq!(datetime(b"1969-12-31 23:59:59.999999"), Ok(-1));
        assert_eq!(time(b"-838:59:59.999999"), Ok(-3_020_399_999_999));
        assert_eq!(time(b"00:00:00"), Ok(0));
        assert_eq!(time(b"-00:00:01.5"), Ok(-1_500_000));
        assert!(time(b"12:00").is_err());
    }
}
