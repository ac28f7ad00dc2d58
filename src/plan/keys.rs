//! Split keys: the column types a chunked export can split on, their values
//! as points on one integer line, and the SQL literals of chunk boundaries.
//!
//! Only the sizes of chunks are computed from parsed values; which chunk a
//! row belongs to is decided by the server comparing the column with the
//! boundary literals. A value parsed imprecisely (a zero date, a fraction
//! of a second) can therefore make a chunk larger or smaller, never lose or
//! repeat a row.

use gd_protocol::{ColumnDef, ColumnType};

/// A column type the export can be split on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// TINYINT … BIGINT (signed or unsigned), YEAR, DECIMAL(p,0): the integer itself.
    Integer,
    /// DATE: days since 0000-03-01 of the proleptic Gregorian calendar.
    Date,
    /// DATETIME and TIMESTAMP: seconds since 0000-03-01 00:00:00 (fractions dropped).
    DateTime,
}

impl KeyType {
    /// The key type of `column`, or why it cannot be split on.
    pub fn of(column: &ColumnDef) -> Result<Self, String> {
        use ColumnType::*;
        match column.column_type() {
            Some(
                MYSQL_TYPE_TINY | MYSQL_TYPE_SHORT | MYSQL_TYPE_INT24 | MYSQL_TYPE_LONG
                | MYSQL_TYPE_LONGLONG | MYSQL_TYPE_YEAR,
            ) => Ok(Self::Integer),
            Some(MYSQL_TYPE_DECIMAL | MYSQL_TYPE_NEWDECIMAL) if column.decimals == 0 => {
                Ok(Self::Integer)
            }
            Some(MYSQL_TYPE_DECIMAL | MYSQL_TYPE_NEWDECIMAL) => Err(format!(
                "it is a DECIMAL with {} digits after the point",
                column.decimals
            )),
            Some(MYSQL_TYPE_DATE | MYSQL_TYPE_NEWDATE) => Ok(Self::Date),
            Some(
                MYSQL_TYPE_DATETIME
                | MYSQL_TYPE_DATETIME2
                | MYSQL_TYPE_TIMESTAMP
                | MYSQL_TYPE_TIMESTAMP2,
            ) => Ok(Self::DateTime),
            Some(other) => Err(format!("its type is {other:?}")),
            None => Err(format!("its type code {} is unknown", column.type_code)),
        }
    }

    /// The point of a value as the server's text protocol sends it.
    pub fn parse(self, text: &[u8]) -> Option<i128> {
        let text = std::str::from_utf8(text).ok()?;
        match self {
            Self::Integer => text.parse().ok(),
            Self::Date => parse_date(text.get(..10)?),
            Self::DateTime => {
                let days = parse_date(text.get(..10)?)?;
                let clock = text.get(11..19).unwrap_or("00:00:00");
                let mut parts = clock.split(':').map(|p| p.parse::<i128>().ok());
                let (h, m, s) = (parts.next()??, parts.next()??, parts.next()??);
                Some(days * 86_400 + h * 3600 + m * 60 + s)
            }
        }
    }

    /// The SQL literal of the point `v`.
    pub fn literal(self, v: i128) -> String {
        match self {
            Self::Integer => v.to_string(),
            Self::Date => format!("'{}'", format_date(v)),
            Self::DateTime => {
                let (days, secs) = (v.div_euclid(86_400), v.rem_euclid(86_400));
                format!(
                    "'{} {:02}:{:02}:{:02}'",
                    format_date(days),
                    secs / 3600,
                    secs / 60 % 60,
                    secs % 60
                )
            }
        }
    }
}

/// `YYYY-MM-DD` as days since 0000-03-01. A zero month or day (MariaDB's
/// zero dates) counts as 1: such values sort before the real dates of
/// their year and month, and only sizes depend on this.
fn parse_date(text: &str) -> Option<i128> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y: i128 = text[..4].parse().ok()?;
    let m: i128 = text[5..7].parse::<i128>().ok()?.max(1);
    let d: i128 = text[8..10].parse::<i128>().ok()?.max(1);
    if m > 12 || d > 31 {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// Days since 0000-03-01: years start in March, so the leap day is the
/// last day of a year and months have a fixed offset within it.
fn days_from_civil(y: i128, m: i128, d: i128) -> i128 {
    let y = if m <= 2 { y - 1 } else { y };
    let month_from_march = (m + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + d - 1;
    y * 365 + y.div_euclid(4) - y.div_euclid(100) + y.div_euclid(400) + day_of_year
}

fn format_date(days: i128) -> String {
    // 400 years are 146,097 days exactly; the remainder is split into
    // centuries of 36,524 days, 4-year cycles of 1,461 and years of 365,
    // with the leap day of a cycle's last year kept in that year.
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let d = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let m = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let y = year_of_era + era * 400 + i128::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_through_day_numbers_for_every_day_of_four_centuries() {
        // An independent calendar: step one day at a time with the month
        // lengths of the Gregorian rules.
        let (mut y, mut m, mut d) = (1600i128, 1i128, 1i128);
        let first = parse_date("1600-01-01").unwrap();
        for expected in first..first + 146_097 + 400 {
            let text = format!("{y:04}-{m:02}-{d:02}");
            assert_eq!(parse_date(&text), Some(expected), "{text}");
            assert_eq!(format_date(expected), text);
            let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
            let len = match m {
                2 if leap => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            d += 1;
            if d > len {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
    }

    #[test]
    fn known_day_numbers() {
        // 1970-01-01 is 719,468 days after 0000-03-01 (the Unix epoch in
        // this numbering, as in the usual civil-from-days derivation).
        assert_eq!(parse_date("1970-01-01"), Some(719_468));
        assert_eq!(parse_date("0000-03-01"), Some(0));
        assert_eq!(parse_date("0000-00-00"), parse_date("0000-01-01"));
        assert_eq!(parse_date("2024-13-01"), None);
        assert_eq!(parse_date("2024/01/01"), None);
    }

    #[test]
    fn datetimes_parse_and_print_whole_seconds() {
        let t = KeyType::DateTime;
        let v = t.parse(b"2001-02-03 04:05:06.789").unwrap();
        assert_eq!(t.literal(v), "'2001-02-03 04:05:06'");
        assert_eq!(
            t.literal(v + 86_400 - 3600 * 4 - 306),
            "'2001-02-04 00:00:00'"
        );
        assert_eq!(t.parse(b"2001-02-03"), t.parse(b"2001-02-03 00:00:00"));
    }

    #[test]
    fn integers_cover_unsigned_64_bit_and_wide_decimals() {
        let t = KeyType::Integer;
        assert_eq!(t.parse(b"18446744073709551615"), Some(u64::MAX.into()));
        assert_eq!(t.parse(b"-9223372036854775808"), Some(i64::MIN.into()));
        let wide = b"-99999999999999999999999999999999999999";
        assert_eq!(t.literal(t.parse(wide).unwrap()).as_bytes(), wide);
        assert_eq!(t.parse(b"1.5"), None);
    }
}
