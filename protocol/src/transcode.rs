//! Binary rows rewritten as the text rows the server would have sent.
//!
//! A prepared statement's rows arrive in the binary protocol (see
//! [`crate::binary`]); [`Transcoder`] turns each into the payload of the
//! text-protocol row for the same values, so that everything downstream of
//! the decoder reads one kind of row. Values are formatted the way MariaDB's
//! text protocol prints them:
//!
//! - integers in decimal, signed or unsigned by the column's UNSIGNED flag,
//!   ZEROFILL columns padded with zeros to the display width;
//! - YEAR in four digits (`0000` for the zero year);
//! - DATE `YYYY-MM-DD`, DATETIME and TIMESTAMP `YYYY-MM-DD hh:mm:ss`, TIME
//!   `[-]hh:mm:ss` with hours = days × 24 + hours (two digits at least),
//!   each followed by exactly as many fraction digits as the column's
//!   `decimals` (at most 6); a value sent with length 0 is the zero value;
//! - DECIMAL, strings, BLOBs, BIT, JSON, ENUM, SET and GEOMETRY are
//!   length-encoded bytes in both protocols and are copied as they are.
//!
//! FLOAT and DOUBLE are the one deliberate difference. The text protocol
//! rounds FLOAT to six significant digits (a FLOAT holding 16777216 reads
//! `16777200`); here FLOAT and DOUBLE are written in the shortest decimal
//! form that reads back to the stored value (as an `f32` for FLOAT), laid
//! out as the server lays out DOUBLE: plain digits while the first
//! significant digit is between 10^-15 and 10^14, else `d.ddde±x` (`1e15`,
//! `1.5e-16`, no `+`). A column with fixed decimals (`FLOAT(M,D)`,
//! `DOUBLE(M,D)`, `ROUND(x, D)`; `decimals` below 31) is written with exactly
//! D digits after the point, as the text protocol does: the value was rounded
//! to D digits when it was stored or computed.

use crate::column::{ColumnDef, UNSIGNED_FLAG};
use crate::error::ProtocolError;
use crate::reader::{NULL_MARKER, Reader, put_lenenc_int};
use crate::resultset::QueryDecoder;
use mysql_common::constants::ColumnType;

/// Column flag: ZEROFILL (integers padded to the display width).
pub const ZEROFILL_FLAG: u16 = 0x0040;

/// `decimals` of a FLOAT or DOUBLE without fixed decimals (the server's
/// `NOT_FIXED_DEC`); anything below it is a fixed number of decimals.
const NOT_FIXED_DEC: u8 = 31;

/// Turns binary rows into text rows, in a buffer reused from row to row: no
/// allocation per row once the buffer has grown to the widest row.
#[derive(Debug, Default)]
pub struct Transcoder {
    text: Vec<u8>,
    /// What each column of the current result set needs, read once from
    /// its definition rather than on every row.
    plan: Vec<Column>,
    /// The decoder's result set the plan was made for.
    planned: Option<u64>,
}

impl Transcoder {
    /// A transcoder with an empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// The text-protocol row for the binary row `payload` of `decoder`'s
    /// current result set. Fails, never panics, on a malformed row.
    #[inline]
    pub fn transcode(
        &mut self,
        payload: &[u8],
        decoder: &QueryDecoder,
    ) -> Result<&[u8], ProtocolError> {
        if self.planned != Some(decoder.result_sets()) || self.plan.len() != decoder.columns().len()
        {
            self.plan.clear();
            self.plan.extend(decoder.columns().iter().map(Column::of));
            self.planned = Some(decoder.result_sets());
        }
        self.text.clear();
        transcode_plan(payload, &self.plan, &mut self.text)?;
        Ok(&self.text)
    }
}

/// What transcoding needs of a column definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Column {
    kind: Kind,
    unsigned: bool,
    zerofill: bool,
    decimals: u8,
    length: u32,
}

impl Column {
    fn of(c: &ColumnDef) -> Self {
        Self {
            kind: kind(c),
            unsigned: c.flags & UNSIGNED_FLAG != 0,
            zerofill: c.flags & ZEROFILL_FLAG != 0,
            decimals: c.decimals,
            length: c.length,
        }
    }
}

/// How a column's binary values are read and printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int(u8),
    Year,
    Float,
    Double,
    Date,
    DateTime,
    Time,
    Lenenc,
    /// MYSQL_TYPE_NULL: no bytes, always NULL.
    Null,
}

fn kind(column: &ColumnDef) -> Kind {
    use ColumnType::*;
    match ColumnType::try_from(column.type_code) {
        Ok(MYSQL_TYPE_TINY) => Kind::Int(1),
        Ok(MYSQL_TYPE_SHORT) => Kind::Int(2),
        Ok(MYSQL_TYPE_INT24 | MYSQL_TYPE_LONG) => Kind::Int(4),
        Ok(MYSQL_TYPE_LONGLONG) => Kind::Int(8),
        Ok(MYSQL_TYPE_YEAR) => Kind::Year,
        Ok(MYSQL_TYPE_FLOAT) => Kind::Float,
        Ok(MYSQL_TYPE_DOUBLE) => Kind::Double,
        Ok(MYSQL_TYPE_DATE | MYSQL_TYPE_NEWDATE) => Kind::Date,
        Ok(
            MYSQL_TYPE_DATETIME
            | MYSQL_TYPE_DATETIME2
            | MYSQL_TYPE_TIMESTAMP
            | MYSQL_TYPE_TIMESTAMP2,
        ) => Kind::DateTime,
        Ok(MYSQL_TYPE_TIME | MYSQL_TYPE_TIME2) => Kind::Time,
        Ok(MYSQL_TYPE_NULL) => Kind::Null,
        _ => Kind::Lenenc,
    }
}

/// Appends to `out` the text-protocol row for the binary row `payload` of a
/// result set with `columns`. On an error, `out` holds part of a row. (For
/// tests and single rows: [`Transcoder`] reads the definitions once per
/// result set.)
pub fn transcode_into(
    payload: &[u8],
    columns: &[ColumnDef],
    out: &mut Vec<u8>,
) -> Result<(), ProtocolError> {
    let plan: Vec<Column> = columns.iter().map(Column::of).collect();
    transcode_plan(payload, &plan, out)
}

#[inline]
fn transcode_plan(
    payload: &[u8],
    columns: &[Column],
    out: &mut Vec<u8>,
) -> Result<(), ProtocolError> {
    let mut r = Reader::new(payload, "binary row");
    if r.u8()? != 0x00 {
        return Err(ProtocolError::unexpected("reading a binary row", payload));
    }
    let bitmap = r.take((columns.len() as u64 + 7 + 2) / 8)?;
    for (i, column) in columns.iter().enumerate() {
        let bit = i + 2;
        let kind = column.kind;
        if bitmap[bit / 8] & (1 << (bit % 8)) != 0 || kind == Kind::Null {
            out.push(NULL_MARKER);
            continue;
        }
        match kind {
            Kind::Int(width) => {
                // Fixed-size reads: a copy of `width` bytes would be a call.
                let (unsigned, signed) = match width {
                    1 => {
                        let b = r.u8()?;
                        (u64::from(b), i64::from(b as i8))
                    }
                    2 => {
                        let b = r.u16()?;
                        (u64::from(b), i64::from(b as i16))
                    }
                    4 => {
                        let b = r.u32()?;
                        (u64::from(b), i64::from(b as i32))
                    }
                    _ => {
                        let b = r.u64()?;
                        (b, b as i64)
                    }
                };
                let mut digits = itoa::Buffer::new();
                let text = if column.unsigned {
                    digits.format(unsigned)
                } else {
                    digits.format(signed)
                };
                if column.zerofill {
                    put_zero_padded(out, text.as_bytes(), column.length);
                } else {
                    put_short(out, text.as_bytes());
                }
            }
            Kind::Year => {
                let b = r.take(2)?;
                let year = u16::from_le_bytes([b[0], b[1]]);
                let mut digits = itoa::Buffer::new();
                // YEAR(2) of old tables shows two digits; YEAR shows four.
                put_zero_padded(out, digits.format(year).as_bytes(), column.length.min(4));
            }
            Kind::Float => {
                let b = r.take(4)?;
                let v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                put_float(out, Real::F32(v), column)?;
            }
            Kind::Double => {
                let b = r.take(8)?;
                let mut le = [0u8; 8];
                le.copy_from_slice(b);
                put_float(out, Real::F64(f64::from_le_bytes(le)), column)?;
            }
            Kind::Date | Kind::DateTime => {
                let n = r.u8()?;
                if !matches!(n, 0 | 4 | 7 | 11) {
                    return Err(ProtocolError::BadLength {
                        what: "binary date value",
                        byte: n,
                    });
                }
                let b = r.take(u64::from(n))?;
                put_date_time(out, b, kind == Kind::Date, column.decimals);
            }
            Kind::Time => {
                let n = r.u8()?;
                if !matches!(n, 0 | 8 | 12) {
                    return Err(ProtocolError::BadLength {
                        what: "binary time value",
                        byte: n,
                    });
                }
                let b = r.take(u64::from(n))?;
                put_time(out, b, column.decimals);
            }
            Kind::Lenenc => {
                // The same length-encoded string in both protocols: copy it
                // with its length prefix.
                let start = r.position();
                match r.peek() {
                    Some(n @ 0..=250) => {
                        r.take(1 + u64::from(n))?;
                    }
                    _ => {
                        r.lenenc_bytes()?;
                    }
                }
                out.extend_from_slice(&payload[start..r.position()]);
            }
            Kind::Null => {}
        }
    }
    r.finish()
}

/// Appends a field shorter than 251 bytes (every value formatted here).
#[inline]
fn put_short(out: &mut Vec<u8>, text: &[u8]) {
    out.push(text.len() as u8);
    out.extend_from_slice(text);
}

/// Appends `digits` padded with zeros to `width` bytes.
fn put_zero_padded(out: &mut Vec<u8>, digits: &[u8], width: u32) {
    let pad = (width as usize).saturating_sub(digits.len());
    put_lenenc_int(out, (pad + digits.len()) as u64);
    out.resize(out.len() + pad, b'0');
    out.extend_from_slice(digits);
}

/// Two digits of `v` (below 100).
#[inline]
fn two(out: &mut Vec<u8>, v: u8) {
    out.extend_from_slice(&[b'0' + v / 10 % 10, b'0' + v % 10]);
}

/// `.` and the first `decimals` digits of `micros` (six digits), if any.
#[inline]
fn fraction(out: &mut Vec<u8>, micros: u32, decimals: u8) {
    let n = usize::from(decimals.min(6));
    if n == 0 {
        return;
    }
    let mut digits = [b'.', b'0', b'0', b'0', b'0', b'0', b'0'];
    let mut v = micros % 1_000_000;
    for d in digits[1..].iter_mut().rev() {
        *d = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.extend_from_slice(&digits[..=n]);
}

/// A DATE (`date_only`), DATETIME or TIMESTAMP from its 0, 4, 7 or 11
/// value bytes.
fn put_date_time(out: &mut Vec<u8>, b: &[u8], date_only: bool, decimals: u8) {
    let at = out.len();
    out.push(0);
    let (year, month, day) = match b {
        [y0, y1, m, d, ..] => (u16::from_le_bytes([*y0, *y1]), *m, *d),
        _ => (0, 0, 0),
    };
    two(out, (year / 100 % 100) as u8);
    two(out, (year % 100) as u8);
    out.push(b'-');
    two(out, month);
    out.push(b'-');
    two(out, day);
    if !date_only {
        let (hour, minute, second) = match b {
            [_, _, _, _, h, m, s, ..] => (*h, *m, *s),
            _ => (0, 0, 0),
        };
        out.push(b' ');
        two(out, hour);
        out.push(b':');
        two(out, minute);
        out.push(b':');
        two(out, second);
        let micros = match b {
            [_, _, _, _, _, _, _, a, b, c, d] => u32::from_le_bytes([*a, *b, *c, *d]),
            _ => 0,
        };
        fraction(out, micros, decimals);
    }
    out[at] = (out.len() - at - 1) as u8;
}

/// A TIME from its 0, 8 or 12 value bytes.
fn put_time(out: &mut Vec<u8>, b: &[u8], decimals: u8) {
    let at = out.len();
    out.push(0);
    let (negative, days, hour, minute, second) = match b {
        [neg, d0, d1, d2, d3, h, m, s, ..] => (
            *neg == 1,
            u32::from_le_bytes([*d0, *d1, *d2, *d3]),
            *h,
            *m,
            *s,
        ),
        _ => (false, 0, 0, 0, 0),
    };
    if negative {
        out.push(b'-');
    }
    let hours = u64::from(days) * 24 + u64::from(hour);
    if hours < 10 {
        out.push(b'0');
    }
    out.extend_from_slice(itoa::Buffer::new().format(hours).as_bytes());
    out.push(b':');
    two(out, minute);
    out.push(b':');
    two(out, second);
    let micros = match b {
        [_, _, _, _, _, _, _, _, a, b, c, d] => u32::from_le_bytes([*a, *b, *c, *d]),
        _ => 0,
    };
    fraction(out, micros, decimals);
    out[at] = (out.len() - at - 1) as u8;
}

/// A FLOAT (kept as `f32`, whose shortest form is shorter) or a DOUBLE.
#[derive(Debug, Clone, Copy)]
enum Real {
    F32(f32),
    F64(f64),
}

/// Fixed notation while the first significant digit is at 10^x with x in
/// this range (the server's layout of DOUBLE: `100000000000000`, `1e15`,
/// `0.000000000000001`, `1e-16`).
const FIXED_EXPONENTS: std::ops::RangeInclusive<i32> = -15..=14;

fn put_float(out: &mut Vec<u8>, v: Real, column: &Column) -> Result<(), ProtocolError> {
    let decimals = column.decimals;
    let finite = match v {
        Real::F32(f) => f.is_finite(),
        Real::F64(f) => f.is_finite(),
    };
    if !finite {
        // No server stores or sends NaN or infinity; nothing could print it
        // as a number either.
        return Err(ProtocolError::NotFinite);
    }
    let at = out.len();
    out.push(0);
    if decimals < NOT_FIXED_DEC {
        let d = usize::from(decimals);
        let mut w = VecText(out);
        // Exact decimal expansion rounded to `d` digits, as the server's
        // my_fcvt; never an exponent. Writing to a Vec cannot fail.
        let _ = match v {
            Real::F32(f) => std::fmt::Write::write_fmt(&mut w, format_args!("{f:.d$}")),
            Real::F64(f) => std::fmt::Write::write_fmt(&mut w, format_args!("{f:.d$}")),
        };
    } else {
        let mut ryu_buf = ryu::Buffer::new();
        let text = match v {
            Real::F32(f) => ryu_buf.format_finite(f),
            Real::F64(f) => ryu_buf.format_finite(f),
        }
        .as_bytes();
        // ryu writes plain digits from 10^-5 up, as the server does up to
        // 10^14: then only its `.0` of whole numbers goes.
        match text.iter().position(|&c| c == b'.') {
            Some(point) if point <= 15 + usize::from(text[0] == b'-') => {
                match text.strip_suffix(b".0") {
                    Some(b"0") => out.push(b'0'),
                    Some(b"-0") => out.extend_from_slice(b"-0"),
                    Some(whole) => out.extend_from_slice(whole),
                    None if !text.contains(&b'e') => out.extend_from_slice(text),
                    None => relayout(out, text),
                }
            }
            _ => relayout(out, text),
        }
    }
    if column.zerofill {
        // FLOAT ZEROFILL: zeros in front up to the display width, as the
        // text protocol pads it (ZEROFILL columns are never negative).
        let len = out.len() - at - 1;
        let pad = (column.length as usize).saturating_sub(len);
        out.resize(out.len() + pad, b'0');
        out[at + 1..].rotate_right(pad);
    }
    let len = out.len() - at - 1;
    if len > 250 {
        // A DOUBLE(M,30) near 1e300: a longer length prefix than the byte
        // reserved for it (cold; the split allocates).
        let text = out.split_off(at + 1);
        out.truncate(at);
        put_lenenc_int(out, len as u64);
        out.extend_from_slice(&text);
    } else {
        out[at] = len as u8;
    }
    Ok(())
}

/// Rewrites ryu's shortest digits (`1.5`, `1e20`, `1.25e-7`, `0.001`,
/// `-0.0`) in the server's layout for DOUBLE.
fn relayout(out: &mut Vec<u8>, text: &[u8]) {
    let (negative, text) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let (mantissa, exp) = match text.iter().position(|&c| c == b'e') {
        Some(e) => (&text[..e], parse_exponent(&text[e + 1..])),
        None => (text, 0),
    };
    // The significant digits, and how many of the mantissa's digits come
    // before its point.
    let mut digits = [0u8; 24];
    let mut n = 0;
    let mut point = None;
    for &c in mantissa {
        if c == b'.' {
            point = Some(n);
        } else if n < digits.len() {
            digits[n] = c;
            n += 1;
        }
    }
    let mut before_point = point.unwrap_or(n) as i32;
    let mut digits = &digits[..n];
    while let [b'0', rest @ ..] = digits {
        digits = rest;
        before_point -= 1;
    }
    while let [rest @ .., b'0'] = digits {
        digits = rest;
    }
    if negative {
        out.push(b'-');
    }
    if digits.is_empty() {
        out.push(b'0');
        return;
    }
    // The first digit's power of ten.
    let x = before_point - 1 + exp;
    if FIXED_EXPONENTS.contains(&x) {
        if x < 0 {
            out.extend_from_slice(b"0.");
            out.resize(out.len() + (-x - 1) as usize, b'0');
            out.extend_from_slice(digits);
        } else {
            let whole = x as usize + 1;
            if digits.len() <= whole {
                out.extend_from_slice(digits);
                out.resize(out.len() + whole - digits.len(), b'0');
            } else {
                out.extend_from_slice(&digits[..whole]);
                out.push(b'.');
                out.extend_from_slice(&digits[whole..]);
            }
        }
    } else {
        out.push(digits[0]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.push(b'e');
        out.extend_from_slice(itoa::Buffer::new().format(x).as_bytes());
    }
}

fn parse_exponent(text: &[u8]) -> i32 {
    let (sign, digits) = match text.split_first() {
        Some((b'-', rest)) => (-1, rest),
        Some((b'+', rest)) => (1, rest),
        _ => (1, text),
    };
    sign * digits.iter().fold(0i32, |acc, &d| {
        acc * 10 + i32::from(d.wrapping_sub(b'0') % 10)
    })
}

/// `fmt::Write` into a byte vector.
struct VecText<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for VecText<'_> {
    #[inline]
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row::RowDecoder;

    fn column(type_code: u8, flags: u16, decimals: u8) -> ColumnDef {
        ColumnDef {
            name: "c".into(),
            table: String::new(),
            type_code,
            charset: 63,
            length: 20,
            flags,
            decimals,
            ext_type_name: None,
            ext_format_name: None,
        }
    }

    /// A binary row: header, NULL bitmap (offset 2) from `nulls`, then the
    /// value bytes.
    fn binary_row(columns: usize, nulls: &[usize], values: &[&[u8]]) -> Vec<u8> {
        let mut p = vec![0x00];
        let mut bitmap = vec![0u8; (columns + 7 + 2) / 8];
        for &i in nulls {
            bitmap[(i + 2) / 8] |= 1 << ((i + 2) % 8);
        }
        p.extend_from_slice(&bitmap);
        for v in values {
            p.extend_from_slice(v);
        }
        p
    }

    /// The fields of the transcoded row, read back by the text decoder.
    fn text_fields(payload: &[u8], columns: &[ColumnDef]) -> Vec<Option<String>> {
        let mut text = Vec::new();
        transcode_into(payload, columns, &mut text).unwrap();
        let mut d = RowDecoder::default();
        let row = d.decode(&text, columns.len()).unwrap();
        row.iter()
            .map(|f| f.map(|b| String::from_utf8(b.to_vec()).unwrap()))
            .collect()
    }

    fn one(column: ColumnDef, value: &[u8]) -> String {
        let row = binary_row(1, &[], &[value]);
        text_fields(&row, &[column])[0].clone().unwrap()
    }

    #[test]
    fn integers_of_every_width_and_sign() {
        const U: u16 = UNSIGNED_FLAG;
        let cases: &[(u8, u16, &[u8], &str)] = &[
            (1, 0, &[0x80], "-128"),
            (1, 0, &[0x7F], "127"),
            (1, U, &[0xFF], "255"),
            (2, 0, &[0x00, 0x80], "-32768"),
            (2, U, &[0xFF, 0xFF], "65535"),
            // MEDIUMINT travels in four bytes.
            (9, 0, &(-8_388_608i32).to_le_bytes(), "-8388608"),
            (9, U, &16_777_215u32.to_le_bytes(), "16777215"),
            (3, 0, &i32::MIN.to_le_bytes(), "-2147483648"),
            (3, U, &u32::MAX.to_le_bytes(), "4294967295"),
            (8, 0, &i64::MIN.to_le_bytes(), "-9223372036854775808"),
            (8, 0, &i64::MAX.to_le_bytes(), "9223372036854775807"),
            (8, U, &u64::MAX.to_le_bytes(), "18446744073709551615"),
            (8, U, &0u64.to_le_bytes(), "0"),
        ];
        for &(ty, flags, bytes, want) in cases {
            assert_eq!(
                one(column(ty, flags, 0), bytes),
                want,
                "type {ty} {bytes:?}"
            );
        }
    }

    #[test]
    fn zerofill_pads_to_the_display_width_and_year_to_four_digits() {
        let mut c = column(3, UNSIGNED_FLAG | ZEROFILL_FLAG, 0);
        c.length = 10;
        assert_eq!(one(c.clone(), &42u32.to_le_bytes()), "0000000042");
        assert_eq!(one(c, &u32::MAX.to_le_bytes()), "4294967295");
        let mut year = column(13, UNSIGNED_FLAG, 0);
        year.length = 4;
        assert_eq!(one(year.clone(), &0u16.to_le_bytes()), "0000");
        assert_eq!(one(year.clone(), &1901u16.to_le_bytes()), "1901");
        assert_eq!(one(year, &2155u16.to_le_bytes()), "2155");
    }

    #[test]
    fn dates_and_datetimes_in_every_length_with_fractions_by_decimals() {
        let date = column(10, 0, 0);
        assert_eq!(one(date.clone(), &[0]), "0000-00-00");
        assert_eq!(one(date, &[4, 0xE8, 0x07, 2, 29]), "2024-02-29");
        let micros = 123_456u32.to_le_bytes();
        let full = [&[11, 0x0F, 0x27, 12, 31, 23, 59, 58][..], &micros[..]].concat();
        for (decimals, want) in [
            (0, "9999-12-31 23:59:58"),
            (1, "9999-12-31 23:59:58.1"),
            (3, "9999-12-31 23:59:58.123"),
            (6, "9999-12-31 23:59:58.123456"),
        ] {
            assert_eq!(one(column(12, 0, decimals), &full), want);
        }
        // Fewer bytes: the missing fields are zero, and still printed.
        assert_eq!(one(column(12, 0, 3), &[0]), "0000-00-00 00:00:00.000");
        assert_eq!(
            one(column(7, 0, 0), &[4, 0xB2, 0x07, 1, 1]),
            "1970-01-01 00:00:00"
        );
        assert_eq!(
            one(column(7, 0, 6), &[7, 0xB2, 0x07, 1, 1, 0, 0, 1]),
            "1970-01-01 00:00:01.000000"
        );
        // Microseconds 5 with two decimals: the leading digits.
        let mut small = full.clone();
        small[8..12].copy_from_slice(&5u32.to_le_bytes());
        assert_eq!(one(column(12, 0, 2), &small), "9999-12-31 23:59:58.00");
        assert_eq!(one(column(12, 0, 6), &small), "9999-12-31 23:59:58.000005");
    }

    #[test]
    fn times_negative_long_zero_and_fractional() {
        let t = |neg: u8, days: u32, h: u8, m: u8, s: u8, micros: Option<u32>| {
            let mut v = vec![if micros.is_some() { 12 } else { 8 }, neg];
            v.extend_from_slice(&days.to_le_bytes());
            v.extend_from_slice(&[h, m, s]);
            if let Some(us) = micros {
                v.extend_from_slice(&us.to_le_bytes());
            }
            v
        };
        let time = column(11, 0, 0);
        assert_eq!(one(time.clone(), &[0]), "00:00:00");
        assert_eq!(one(column(11, 0, 6), &[0]), "00:00:00.000000");
        assert_eq!(one(time.clone(), &t(0, 0, 1, 2, 3, None)), "01:02:03");
        assert_eq!(one(time.clone(), &t(1, 34, 22, 59, 59, None)), "-838:59:59");
        assert_eq!(one(time.clone(), &t(0, 1, 0, 0, 1, None)), "24:00:01");
        assert_eq!(one(time.clone(), &t(0, 4, 4, 0, 0, None)), "100:00:00");
        assert_eq!(one(time, &t(1, 0, 0, 0, 1, None)), "-00:00:01");
        assert_eq!(
            one(column(11, 0, 6), &t(0, 1, 2, 3, 4, Some(5))),
            "26:03:04.000005"
        );
        assert_eq!(
            one(column(11, 0, 3), &t(1, 0, 0, 0, 0, Some(999_999))),
            "-00:00:00.999"
        );
    }

    #[test]
    fn floats_in_the_shortest_form_that_reads_back() {
        let fl = |v: f32| one(column(4, 0, 31), &v.to_le_bytes());
        let dbl = |v: f64| one(column(5, 0, 31), &v.to_le_bytes());
        // The values the text protocol rounds: MariaDB sends 16777200 and 0.142857.
        assert_eq!(fl(16_777_216.0), "16777216");
        assert_eq!(fl(1.0 / 7.0), "0.14285715");
        assert_eq!(dbl(0.1), "0.1");
        assert_eq!(dbl(-2.5), "-2.5");
        assert_eq!(dbl(0.0), "0");
        assert_eq!(dbl(-0.0), "-0");
        // The server's layout of DOUBLE (observed with MariaDB 10.11).
        for (v, want) in [
            (1e14, "100000000000000"),
            (1.2345678901234e14, "123456789012340"),
            (1e15, "1e15"),
            (1.25e15, "1.25e15"),
            (1e20, "1e20"),
            (1.2345678901234567e19, "1.2345678901234567e19"),
            (1e-15, "0.000000000000001"),
            (1.25e-15, "0.00000000000000125"),
            (1e-16, "1e-16"),
            (1.25e-16, "1.25e-16"),
            (1e-7, "0.0000001"),
            (1.5e300, "1.5e300"),
            (-2.5e-300, "-2.5e-300"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e308"),
            (1.0 / 3.0, "0.3333333333333333"),
            (1234.5678901234, "1234.5678901234"),
        ] {
            assert_eq!(dbl(v), want, "{v:e}");
        }
        assert_eq!(fl(1e20), "1e20");
        assert_eq!(fl(f32::MAX), "3.4028235e38");
        assert_eq!(fl(f32::MIN_POSITIVE), "1.1754944e-38");
    }

    #[test]
    fn every_float_text_reads_back_to_its_value() {
        // A sweep of bit patterns: the text always parses to the same value.
        let mut bits = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..20_000 {
            bits = bits.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let d = f64::from_bits(bits);
            if d.is_finite() {
                let text = one(column(5, 0, 31), &d.to_le_bytes());
                assert_eq!(
                    text.parse::<f64>().unwrap().to_bits(),
                    d.to_bits(),
                    "{text}"
                );
            }
            let f = f32::from_bits((bits >> 32) as u32);
            if f.is_finite() {
                let text = one(column(4, 0, 31), &f.to_le_bytes());
                assert_eq!(
                    text.parse::<f32>().unwrap().to_bits(),
                    f.to_bits(),
                    "{text}"
                );
            }
        }
    }

    #[test]
    fn the_shortcut_for_ryus_plain_digits_agrees_with_the_full_layout() {
        // Values around every power of ten the shortcut decides on, whole and fractional.
        for e in -20..=20 {
            for m in [1.0, 1.5, 7.0, 9.999_999_999_999_998, 1.0 / 7.0, 123_456.789] {
                for sign in [1.0, -1.0] {
                    let v: f64 = sign * m * 10f64.powi(e);
                    let mut full = Vec::new();
                    relayout(&mut full, ryu::Buffer::new().format_finite(v).as_bytes());
                    let got = one(column(5, 0, 31), &v.to_le_bytes());
                    assert_eq!(got.as_bytes(), full, "{v:e}");
                    assert_eq!(got.parse::<f64>().unwrap(), v);
                    let f = v as f32;
                    let mut full = Vec::new();
                    relayout(&mut full, ryu::Buffer::new().format_finite(f).as_bytes());
                    let got = one(column(4, 0, 31), &f.to_le_bytes());
                    assert_eq!(got.as_bytes(), full, "{f:e}");
                }
            }
        }
    }

    #[test]
    fn fixed_decimals_print_exactly_that_many_digits() {
        // FLOAT(7,2) holding 12.34 (stored as the nearest f32), DOUBLE(10,3).
        assert_eq!(one(column(4, 0, 2), &12.34f32.to_le_bytes()), "12.34");
        assert_eq!(one(column(4, 0, 2), &2.0f32.to_le_bytes()), "2.00");
        assert_eq!(one(column(5, 0, 3), &(-1.5f64).to_le_bytes()), "-1.500");
        assert_eq!(
            one(column(5, 0, 0), &1e20f64.to_le_bytes()),
            "100000000000000000000"
        );
        // Longer than a one-byte length: a two-byte length prefix.
        let long = one(column(5, 0, 30), &1e300f64.to_le_bytes());
        assert_eq!(long.len(), 301 + 1 + 30);
        assert!(long.ends_with(&format!(".{}", "0".repeat(30))));
    }

    #[test]
    fn float_zerofill_pads_to_the_display_width() {
        // FLOAT ZEROFILL (width 12) and DOUBLE(10,2) ZEROFILL, as MariaDB 10.11's text
        // protocol prints 1.5 and 3.25 in them.
        let mut f = column(4, UNSIGNED_FLAG | ZEROFILL_FLAG, 31);
        f.length = 12;
        assert_eq!(one(f, &1.5f32.to_le_bytes()), "0000000001.5");
        let mut d = column(5, UNSIGNED_FLAG | ZEROFILL_FLAG, 2);
        d.length = 10;
        assert_eq!(one(d.clone(), &3.25f64.to_le_bytes()), "0000003.25");
        assert_eq!(one(d, &0f64.to_le_bytes()), "0000000.00");
    }

    #[test]
    fn not_finite_floats_are_errors() {
        for v in [f64::NAN, f64::INFINITY] {
            let row = binary_row(1, &[], &[&v.to_le_bytes()]);
            assert_eq!(
                transcode_into(&row, &[column(5, 0, 31)], &mut Vec::new()),
                Err(ProtocolError::NotFinite)
            );
        }
    }

    #[test]
    fn lenenc_values_are_copied_and_nulls_follow_the_bitmap() {
        let columns = [
            column(246, 0, 2), // DECIMAL
            column(253, 0, 0), // VARCHAR
            column(16, 0, 0),  // BIT
            column(3, 0, 0),   // INT, NULL
            column(252, 0, 0), // BLOB
            column(6, 0, 0),   // MYSQL_TYPE_NULL: no bytes, no bitmap bit needed
            column(8, 0, 0),   // BIGINT, NULL
            column(247, 0, 0), // ENUM
        ];
        let big = vec![b'x'; 300];
        let mut big_lenenc = vec![0xFC, 0x2C, 0x01];
        big_lenenc.extend_from_slice(&big);
        let row = binary_row(
            columns.len(),
            &[3, 6],
            &[b"\x05-1.50", b"\x00", b"\x01\x05", &big_lenenc, b"\x01c"],
        );
        let fields = text_fields(&row, &columns);
        let want: Vec<Option<String>> = vec![
            Some("-1.50".into()),
            Some(String::new()),
            Some("\u{5}".into()),
            None,
            Some("x".repeat(300)),
            None,
            None,
            Some("c".into()),
        ];
        assert_eq!(fields, want);
    }

    #[test]
    fn null_bitmap_positions_across_bytes() {
        // 20 INT columns: bits 2..22 over three bitmap bytes; every other NULL.
        let columns: Vec<ColumnDef> = (0..20).map(|_| column(3, 0, 0)).collect();
        let nulls: Vec<usize> = (0..20).filter(|i| i % 3 == 1).collect();
        let values: Vec<Vec<u8>> = (0..20)
            .filter(|i| i % 3 != 1)
            .map(|i: i32| (i * 1000 - 7).to_le_bytes().to_vec())
            .collect();
        let refs: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
        let row = binary_row(20, &nulls, &refs);
        let fields = text_fields(&row, &columns);
        for (i, f) in fields.iter().enumerate() {
            if i % 3 == 1 {
                assert_eq!(f, &None, "column {i}");
            } else {
                assert_eq!(
                    f.as_deref(),
                    Some((i as i32 * 1000 - 7).to_string().as_str())
                );
            }
        }
    }

    #[test]
    fn a_new_result_set_with_as_many_columns_gets_a_new_plan() {
        use crate::column::tests::column_packet;
        let mut decoder = QueryDecoder::new(true, false);
        let mut t = Transcoder::new();
        decoder.feed(&[1]).unwrap();
        decoder.feed(&column_packet("i", 3, 63, 0, None)).unwrap();
        let row = binary_row(1, &[], &[&(-5i32).to_le_bytes()]);
        assert_eq!(t.transcode(&row, &decoder).unwrap(), b"\x02-5");
        // The end of the first result set, more results (status 0x0008), a DOUBLE column.
        decoder.feed(&[0xFE, 0, 0, 0x0A, 0, 0, 0]).unwrap();
        decoder.feed(&[1]).unwrap();
        let mut double = column_packet("d", 5, 63, 0, None);
        let at = double.len() - 3;
        double[at] = 31; // decimals
        decoder.feed(&double).unwrap();
        let row = binary_row(1, &[], &[&0.5f64.to_le_bytes()]);
        assert_eq!(t.transcode(&row, &decoder).unwrap(), b"\x030.5");
    }

    #[test]
    fn malformed_rows_are_errors() {
        let columns = [
            column(8, 0, 0),
            column(253, 0, 0),
            column(12, 0, 0),
            column(11, 0, 0),
        ];
        let good = binary_row(
            4,
            &[],
            &[&7i64.to_le_bytes(), b"\x02ab", &[4, 0xE8, 7, 1, 2], &[0]],
        );
        assert!(transcode_into(&good, &columns, &mut Vec::new()).is_ok());
        for cut in 0..good.len() {
            assert!(
                transcode_into(&good[..cut], &columns, &mut Vec::new()).is_err(),
                "cut at {cut}"
            );
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(transcode_into(&trailing, &columns, &mut Vec::new()).is_err());
        // A date of length 5, a time of length 7, a wrong header.
        let bad_date = binary_row(1, &[], &[&[5, 1, 2, 3, 4, 5]]);
        assert!(transcode_into(&bad_date, &columns[2..3], &mut Vec::new()).is_err());
        let bad_time = binary_row(1, &[], &[&[7, 0, 0, 0, 0, 0, 0, 0]]);
        assert!(transcode_into(&bad_time, &columns[3..], &mut Vec::new()).is_err());
        let mut header = good;
        header[0] = 0x01;
        assert!(transcode_into(&header, &columns, &mut Vec::new()).is_err());
    }
}
