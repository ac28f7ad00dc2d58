//! The binary protocol of prepared statements, as far as an exporter needs
//! it: COM_STMT_PREPARE and its response, COM_STMT_EXECUTE without
//! parameters and without a cursor, the rows of a binary result set, and
//! COM_STMT_CLOSE.
//!
//! A binary row is `0x00`, a NULL bitmap whose bit `i + 2` marks column `i`
//! as NULL, then the values of the other columns in order: integers and
//! floats little-endian in their fixed width, dates and times as a length
//! byte and that many bytes, everything else (DECIMAL, strings, BLOBs, BIT,
//! JSON, ENUM, SET, GEOMETRY) as a length-encoded string. The result set
//! around the rows (column count, definitions, EOF or OK) is the text
//! protocol's.

use crate::column::{ColumnDef, UNSIGNED_FLAG};
use crate::error::ProtocolError;
use crate::packets::{ERR_HEADER, err_packet_error};
use crate::reader::Reader;
use mysql_common::constants::ColumnType;

/// COM_STMT_PREPARE: prepare a statement.
pub const COM_STMT_PREPARE: u8 = 0x16;
/// COM_STMT_EXECUTE: run a prepared statement.
pub const COM_STMT_EXECUTE: u8 = 0x17;
/// COM_STMT_CLOSE: free a prepared statement (the server sends no response).
pub const COM_STMT_CLOSE: u8 = 0x19;

/// The payload of COM_STMT_PREPARE for `sql`.
pub fn com_stmt_prepare(sql: &str) -> Vec<u8> {
    let mut p = Vec::with_capacity(sql.len() + 1);
    p.push(COM_STMT_PREPARE);
    p.extend_from_slice(sql.as_bytes());
    p
}

/// The payload of COM_STMT_EXECUTE for a statement without parameters:
/// no cursor (the rows stream as with COM_QUERY), one iteration.
pub fn com_stmt_execute(statement_id: u32) -> Vec<u8> {
    let mut p = Vec::with_capacity(10);
    p.push(COM_STMT_EXECUTE);
    p.extend_from_slice(&statement_id.to_le_bytes());
    p.push(0x00); // CURSOR_TYPE_NO_CURSOR
    p.extend_from_slice(&1u32.to_le_bytes());
    p
}

/// The payload of COM_STMT_CLOSE.
pub fn com_stmt_close(statement_id: u32) -> Vec<u8> {
    let mut p = Vec::with_capacity(5);
    p.push(COM_STMT_CLOSE);
    p.extend_from_slice(&statement_id.to_le_bytes());
    p
}

/// The first packet of a successful COM_STMT_PREPARE response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrepareOk {
    /// The id that COM_STMT_EXECUTE and COM_STMT_CLOSE take.
    pub statement_id: u32,
    /// Columns of the statement's result set (0: none).
    pub columns: u16,
    /// Parameter placeholders in the statement.
    pub params: u16,
    /// Warnings raised by preparing.
    pub warnings: u16,
}

impl PrepareOk {
    /// Parses the first packet of the response (an ERR becomes
    /// [`ProtocolError::Server`]).
    pub fn parse(payload: &[u8]) -> Result<Self, ProtocolError> {
        match payload.first() {
            Some(&ERR_HEADER) => return Err(err_packet_error(payload)),
            Some(0x00) => {}
            _ => {
                return Err(ProtocolError::unexpected(
                    "waiting for the response to COM_STMT_PREPARE",
                    payload,
                ));
            }
        }
        let mut r = Reader::new(&payload[1..], "COM_STMT_PREPARE response");
        let statement_id = r.u32()?;
        let columns = r.u16()?;
        let params = r.u16()?;
        let _reserved = r.u8()?;
        // The warning count follows on every server since 4.1; a shorter
        // packet is accepted as "no warnings".
        let warnings = if r.remaining() >= 2 { r.u16()? } else { 0 };
        Ok(Self {
            statement_id,
            columns,
            params,
            warnings,
        })
    }
}

/// What [`PrepareDecoder::feed`] made of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrepareStep {
    /// More packets of the response follow.
    Continue,
    /// The response is complete: see [`PrepareDecoder::ok`] and
    /// [`PrepareDecoder::columns`].
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PrepareState {
    Ok,
    Params { remaining: u16 },
    ParamsEof,
    Columns { remaining: u16 },
    ColumnsEof,
    Done,
}

/// Decodes the whole response to COM_STMT_PREPARE: the OK packet, the
/// parameter definitions and the column definitions, each list followed by
/// an EOF packet unless `CLIENT_DEPRECATE_EOF` was negotiated.
#[derive(Debug)]
pub struct PrepareDecoder {
    state: PrepareState,
    deprecate_eof: bool,
    extended_metadata: bool,
    ok: Option<PrepareOk>,
    columns: Vec<ColumnDef>,
}

impl PrepareDecoder {
    /// A decoder for a session that negotiated `CLIENT_DEPRECATE_EOF` and
    /// MariaDB's extended metadata as given.
    pub fn new(deprecate_eof: bool, extended_metadata: bool) -> Self {
        Self {
            state: PrepareState::Ok,
            deprecate_eof,
            extended_metadata,
            ok: None,
            columns: Vec::new(),
        }
    }

    /// The OK packet, once read.
    pub fn ok(&self) -> Option<PrepareOk> {
        self.ok
    }

    /// The result set's column definitions, once read.
    pub fn columns(&self) -> &[ColumnDef] {
        &self.columns
    }

    /// Consumes one packet of the response.
    pub fn feed(&mut self, payload: &[u8]) -> Result<PrepareStep, ProtocolError> {
        if payload.first() == Some(&ERR_HEADER) {
            self.state = PrepareState::Done;
            return Err(err_packet_error(payload));
        }
        self.state = match self.state {
            PrepareState::Ok => {
                let ok = PrepareOk::parse(payload)?;
                self.ok = Some(ok);
                self.columns.clear();
                self.columns.reserve(usize::from(ok.columns.min(256)));
                self.after_params(ok.params)
            }
            PrepareState::Params { remaining } => {
                // Parameter definitions are parsed for their validity only.
                ColumnDef::parse(payload, self.extended_metadata)?;
                match remaining - 1 {
                    0 if self.deprecate_eof => self.after_params(0),
                    0 => PrepareState::ParamsEof,
                    n => PrepareState::Params { remaining: n },
                }
            }
            PrepareState::ParamsEof => {
                expect_eof(
                    payload,
                    "waiting for the EOF after the parameter definitions",
                )?;
                self.after_params(0)
            }
            PrepareState::Columns { remaining } => {
                self.columns
                    .push(ColumnDef::parse(payload, self.extended_metadata)?);
                match remaining - 1 {
                    0 if self.deprecate_eof => PrepareState::Done,
                    0 => PrepareState::ColumnsEof,
                    n => PrepareState::Columns { remaining: n },
                }
            }
            PrepareState::ColumnsEof => {
                expect_eof(payload, "waiting for the EOF after the column definitions")?;
                PrepareState::Done
            }
            PrepareState::Done => {
                return Err(ProtocolError::unexpected(
                    "the COM_STMT_PREPARE response was complete",
                    payload,
                ));
            }
        };
        Ok(if self.state == PrepareState::Done {
            PrepareStep::Done
        } else {
            PrepareStep::Continue
        })
    }

    /// The state after the parameter definitions (`params` of them still
    /// to come): the columns, or the end.
    fn after_params(&self, params: u16) -> PrepareState {
        let columns = self.ok.map_or(0, |ok| ok.columns);
        match (params, columns) {
            (0, 0) => PrepareState::Done,
            (0, n) => PrepareState::Columns { remaining: n },
            (n, _) => PrepareState::Params { remaining: n },
        }
    }
}

fn expect_eof(payload: &[u8], state: &'static str) -> Result<(), ProtocolError> {
    if payload.first() == Some(&0xFE) && payload.len() < 9 {
        Ok(())
    } else {
        Err(ProtocolError::unexpected(state, payload))
    }
}

/// A DATE, DATETIME or TIMESTAMP as the binary protocol sends it. Fields the
/// server left out (a length of 0, 4 or 7 bytes) are zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DateTime {
    /// Year (0 for a zero date).
    pub year: u16,
    /// Month, 0-12.
    pub month: u8,
    /// Day, 0-31.
    pub day: u8,
    /// Hour.
    pub hour: u8,
    /// Minute.
    pub minute: u8,
    /// Second.
    pub second: u8,
    /// Microseconds.
    pub micros: u32,
}

/// A TIME as the binary protocol sends it: negative values and values of
/// more than 24 hours exist (`-838:59:59` to `838:59:59`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Time {
    /// Whether the value is negative.
    pub negative: bool,
    /// Whole days.
    pub days: u32,
    /// Hours after the days, 0-23.
    pub hour: u8,
    /// Minute.
    pub minute: u8,
    /// Second.
    pub second: u8,
    /// Microseconds.
    pub micros: u32,
}

/// One value of a binary row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// SQL NULL.
    Null,
    /// A signed integer (TINYINT … BIGINT).
    Signed(i64),
    /// An unsigned integer (… UNSIGNED, YEAR).
    Unsigned(u64),
    /// FLOAT: the four stored bytes.
    Float(f32),
    /// DOUBLE.
    Double(f64),
    /// DATE, DATETIME, TIMESTAMP.
    DateTime(DateTime),
    /// TIME.
    Time(Time),
    /// Everything sent as a length-encoded string: DECIMAL as its text,
    /// strings, BLOBs, BIT, JSON, ENUM, SET, GEOMETRY.
    Bytes(&'a [u8]),
}

/// How a column's values are laid out in a binary row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    Fixed(u8),
    Temporal,
    Lenenc,
    Absent,
}

fn layout(column: &ColumnDef) -> Layout {
    use ColumnType::*;
    match column.column_type() {
        Some(MYSQL_TYPE_TINY) => Layout::Fixed(1),
        Some(MYSQL_TYPE_SHORT | MYSQL_TYPE_YEAR) => Layout::Fixed(2),
        Some(MYSQL_TYPE_INT24 | MYSQL_TYPE_LONG | MYSQL_TYPE_FLOAT) => Layout::Fixed(4),
        Some(MYSQL_TYPE_LONGLONG | MYSQL_TYPE_DOUBLE) => Layout::Fixed(8),
        Some(
            MYSQL_TYPE_DATE
            | MYSQL_TYPE_NEWDATE
            | MYSQL_TYPE_DATETIME
            | MYSQL_TYPE_DATETIME2
            | MYSQL_TYPE_TIMESTAMP
            | MYSQL_TYPE_TIMESTAMP2
            | MYSQL_TYPE_TIME
            | MYSQL_TYPE_TIME2,
        ) => Layout::Temporal,
        Some(MYSQL_TYPE_NULL) => Layout::Absent,
        _ => Layout::Lenenc,
    }
}

/// Where one value lies in its row packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Extent {
    start: u32,
    len: u32,
}

/// Marks a NULL value (no packet accepted by `decode` is this long).
const NULL_EXTENT: Extent = Extent {
    start: u32::MAX,
    len: 0,
};

/// Decodes binary rows into the extents of their values, kept in one reused
/// vector: no allocation per row.
#[derive(Debug, Default)]
pub struct BinaryRowDecoder {
    extents: Vec<Extent>,
}

impl BinaryRowDecoder {
    /// Checks `payload` against `columns` and records where each value is.
    /// Fails, never panics, on a bitmap longer than the packet, a value
    /// past its end, a temporal length other than 0/4/7/11 (dates) or
    /// 0/8/12 (times), or bytes after the last value.
    pub fn decode<'a>(
        &'a mut self,
        payload: &'a [u8],
        columns: &'a [ColumnDef],
    ) -> Result<BinaryRow<'a>, ProtocolError> {
        if payload.len() >= u32::MAX as usize {
            return Err(ProtocolError::PacketTooLarge {
                size: payload.len() as u64,
                max: u64::from(u32::MAX) - 1,
            });
        }
        let mut r = Reader::new(payload, "binary row");
        if r.u8()? != 0x00 {
            return Err(ProtocolError::unexpected("reading a binary row", payload));
        }
        let bitmap = r.take((columns.len() as u64 + 7 + 2) / 8)?;
        self.extents.clear();
        for (i, column) in columns.iter().enumerate() {
            let bit = i + 2;
            if bitmap[bit / 8] & (1 << (bit % 8)) != 0 {
                self.extents.push(NULL_EXTENT);
                continue;
            }
            let start = r.position();
            let len = match layout(column) {
                Layout::Fixed(n) => {
                    r.take(u64::from(n))?;
                    u32::from(n)
                }
                Layout::Temporal => {
                    let n = r.u8()?;
                    let valid: &[u8] = if is_time(column) {
                        &[0, 8, 12]
                    } else {
                        &[0, 4, 7, 11]
                    };
                    if !valid.contains(&n) {
                        return Err(ProtocolError::BadLength {
                            what: "binary temporal value",
                            byte: n,
                        });
                    }
                    r.take(u64::from(n))?;
                    1 + u32::from(n)
                }
                Layout::Lenenc => {
                    r.lenenc_bytes()?;
                    (r.position() - start) as u32
                }
                Layout::Absent => {
                    self.extents.push(NULL_EXTENT);
                    continue;
                }
            };
            self.extents.push(Extent {
                start: start as u32,
                len,
            });
        }
        r.finish()?;
        Ok(BinaryRow {
            payload,
            columns,
            extents: &self.extents,
        })
    }
}

fn is_time(column: &ColumnDef) -> bool {
    matches!(
        column.column_type(),
        Some(ColumnType::MYSQL_TYPE_TIME | ColumnType::MYSQL_TYPE_TIME2)
    )
}

/// A checked binary row: its values, read by column.
#[derive(Debug, Clone, Copy)]
pub struct BinaryRow<'a> {
    payload: &'a [u8],
    columns: &'a [ColumnDef],
    extents: &'a [Extent],
}

impl<'a> BinaryRow<'a> {
    /// Number of values.
    pub fn len(&self) -> usize {
        self.extents.len()
    }

    /// Whether the row has no values.
    pub fn is_empty(&self) -> bool {
        self.extents.is_empty()
    }

    /// The value of column `i` (`Null` past the last column).
    pub fn get(&self, i: usize) -> Value<'a> {
        let (Some(&extent), Some(column)) = (self.extents.get(i), self.columns.get(i)) else {
            return Value::Null;
        };
        if extent == NULL_EXTENT {
            return Value::Null;
        }
        let start = extent.start as usize;
        let bytes = &self.payload[start..start + extent.len as usize];
        let unsigned = column.flags & UNSIGNED_FLAG != 0;
        match layout(column) {
            Layout::Fixed(_) => fixed(column, bytes, unsigned),
            Layout::Temporal if is_time(column) => Value::Time(time(&bytes[1..])),
            Layout::Temporal => Value::DateTime(date_time(&bytes[1..])),
            Layout::Lenenc => {
                let mut r = Reader::new(bytes, "binary value");
                r.lenenc_bytes().map_or(Value::Null, Value::Bytes)
            }
            Layout::Absent => Value::Null,
        }
    }
}

/// A fixed-width value; `bytes` has the width `layout` gave the column.
fn fixed<'a>(column: &ColumnDef, bytes: &[u8], unsigned: bool) -> Value<'a> {
    use ColumnType::*;
    let le = |n: usize| {
        let mut b = [0u8; 8];
        b[..n].copy_from_slice(&bytes[..n]);
        u64::from_le_bytes(b)
    };
    // Sign-extends the low `n` bytes.
    let signed = |n: usize| {
        let shift = 64 - 8 * n as u32;
        ((le(n) << shift) as i64) >> shift
    };
    match column.column_type() {
        Some(MYSQL_TYPE_FLOAT) => {
            Value::Float(f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
        }
        Some(MYSQL_TYPE_DOUBLE) => Value::Double(f64::from_bits(le(8))),
        // YEAR is unsigned whatever its flags say.
        Some(MYSQL_TYPE_YEAR) => Value::Unsigned(le(2)),
        _ if unsigned => Value::Unsigned(le(bytes.len())),
        _ => Value::Signed(signed(bytes.len())),
    }
}

fn date_time(b: &[u8]) -> DateTime {
    let mut v = DateTime::default();
    if b.len() >= 4 {
        v.year = u16::from_le_bytes([b[0], b[1]]);
        v.month = b[2];
        v.day = b[3];
    }
    if b.len() >= 7 {
        v.hour = b[4];
        v.minute = b[5];
        v.second = b[6];
    }
    if b.len() >= 11 {
        v.micros = u32::from_le_bytes([b[7], b[8], b[9], b[10]]);
    }
    v
}

fn time(b: &[u8]) -> Time {
    let mut v = Time::default();
    if b.len() >= 8 {
        v.negative = b[0] == 1;
        v.days = u32::from_le_bytes([b[1], b[2], b[3], b[4]]);
        v.hour = b[5];
        v.minute = b[6];
        v.second = b[7];
    }
    if b.len() >= 12 {
        v.micros = u32::from_le_bytes([b[8], b[9], b[10], b[11]]);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A column definition of `type_code` with `flags`.
    fn column(type_code: u8, flags: u16) -> ColumnDef {
        ColumnDef {
            name: "c".into(),
            table: String::new(),
            type_code,
            charset: 63,
            length: 20,
            flags,
            decimals: 0,
            ext_type_name: None,
            ext_format_name: None,
        }
    }

    #[test]
    fn commands_are_laid_out_as_documented() {
        assert_eq!(com_stmt_prepare("SELECT 1"), b"\x16SELECT 1");
        assert_eq!(
            com_stmt_execute(0x0102_0304),
            [0x17, 4, 3, 2, 1, 0, 1, 0, 0, 0]
        );
        assert_eq!(com_stmt_close(7), [0x19, 7, 0, 0, 0]);
    }

    #[test]
    fn prepare_ok_and_err() {
        let ok = [0x00, 5, 0, 0, 0, 3, 0, 0, 0, 0, 1, 0];
        assert_eq!(
            PrepareOk::parse(&ok).unwrap(),
            PrepareOk {
                statement_id: 5,
                columns: 3,
                params: 0,
                warnings: 1
            }
        );
        assert!(PrepareOk::parse(&ok[..6]).is_err());
        let err = b"\xff\x28\x04#42000You have an error";
        assert!(matches!(
            PrepareOk::parse(err),
            Err(ProtocolError::Server(s)) if s.code == 1064
        ));
    }

    /// A column definition packet for `name` of `type_code`.
    fn column_packet(name: &str, type_code: u8) -> Vec<u8> {
        let mut p = Vec::new();
        for s in ["def", "", "", "", name, name] {
            p.push(s.len() as u8);
            p.extend_from_slice(s.as_bytes());
        }
        p.extend_from_slice(&[0x0C, 63, 0, 20, 0, 0, 0, type_code, 0, 0, 0, 0, 0]);
        p
    }

    #[test]
    fn prepare_response_with_and_without_deprecate_eof() {
        let ok = [0x00, 9, 0, 0, 0, 2, 0, 1, 0, 0, 0, 0];
        let eof = [0xFE, 0, 0, 2, 0];
        for deprecate_eof in [false, true] {
            let mut d = PrepareDecoder::new(deprecate_eof, false);
            assert_eq!(d.feed(&ok).unwrap(), PrepareStep::Continue);
            assert_eq!(
                d.feed(&column_packet("?", 253)).unwrap(),
                PrepareStep::Continue
            );
            if !deprecate_eof {
                assert_eq!(d.feed(&eof).unwrap(), PrepareStep::Continue);
            }
            assert_eq!(
                d.feed(&column_packet("a", 8)).unwrap(),
                PrepareStep::Continue
            );
            let last = d.feed(&column_packet("b", 253)).unwrap();
            if deprecate_eof {
                assert_eq!(last, PrepareStep::Done);
            } else {
                assert_eq!(last, PrepareStep::Continue);
                assert_eq!(d.feed(&eof).unwrap(), PrepareStep::Done);
            }
            assert_eq!(d.ok().unwrap().statement_id, 9);
            let names: Vec<_> = d.columns().iter().map(|c| c.name.as_str()).collect();
            assert_eq!(names, ["a", "b"]);
            assert!(d.feed(&eof).is_err(), "a packet after the end");
        }
        // A statement without a result set: the OK alone.
        let mut d = PrepareDecoder::new(true, false);
        assert_eq!(
            d.feed(&[0x00, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).unwrap(),
            PrepareStep::Done
        );
        // A missing EOF is an error, not a column.
        let mut d = PrepareDecoder::new(false, false);
        d.feed(&[0x00, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]).unwrap();
        d.feed(&column_packet("a", 8)).unwrap();
        assert!(d.feed(&column_packet("b", 8)).is_err());
    }

    #[test]
    fn values_of_every_layout() {
        let columns = [
            column(1, 0),              // TINYINT -1
            column(1, UNSIGNED_FLAG),  // TINYINT UNSIGNED 255
            column(2, 0),              // SMALLINT -2
            column(9, 0),              // MEDIUMINT -3 (four bytes on the wire)
            column(3, UNSIGNED_FLAG),  // INT UNSIGNED 4294967295
            column(8, 0),              // BIGINT i64::MIN
            column(8, UNSIGNED_FLAG),  // BIGINT UNSIGNED u64::MAX
            column(4, 0),              // FLOAT 16777216
            column(5, 0),              // DOUBLE 0.1
            column(13, UNSIGNED_FLAG), // YEAR 2024
            column(10, 0),             // DATE 2024-02-29
            column(12, 0),             // DATETIME with micros
            column(7, 0),              // TIMESTAMP zero (length 0)
            column(11, 0),             // TIME -838:59:59
            column(11, 0),             // TIME 1 day 02:03:04.000005
            column(246, 0),            // DECIMAL as text
            column(252, 0),            // BLOB, NULL
            column(6, 0),              // NULL type
        ];
        let mut p = vec![0x00];
        // Bitmap: 18 columns + 2 = 20 bits = 3 bytes; column 16 (bit 18) NULL.
        p.extend_from_slice(&[0, 0, 0b0000_0100]);
        p.push(0xFF);
        p.push(0xFF);
        p.extend_from_slice(&(-2i16).to_le_bytes());
        p.extend_from_slice(&(-3i32).to_le_bytes());
        p.extend_from_slice(&u32::MAX.to_le_bytes());
        p.extend_from_slice(&i64::MIN.to_le_bytes());
        p.extend_from_slice(&u64::MAX.to_le_bytes());
        p.extend_from_slice(&16_777_216f32.to_le_bytes());
        p.extend_from_slice(&0.1f64.to_le_bytes());
        p.extend_from_slice(&2024u16.to_le_bytes());
        p.extend_from_slice(&[4, 0xE8, 0x07, 2, 29]);
        p.extend_from_slice(&[11, 0xE8, 0x07, 12, 31, 23, 59, 58, 0x3F, 0x42, 0x0F, 0]);
        p.push(0);
        p.extend_from_slice(&[8, 1, 34, 0, 0, 0, 22, 59, 59]);
        p.extend_from_slice(&[12, 0, 1, 0, 0, 0, 2, 3, 4, 5, 0, 0, 0]);
        p.extend_from_slice(b"\x06-1.500");
        let mut d = BinaryRowDecoder::default();
        let row = d.decode(&p, &columns).unwrap();
        let got: Vec<Value<'_>> = (0..row.len()).map(|i| row.get(i)).collect();
        assert_eq!(
            got,
            [
                Value::Signed(-1),
                Value::Unsigned(255),
                Value::Signed(-2),
                Value::Signed(-3),
                Value::Unsigned(u64::from(u32::MAX)),
                Value::Signed(i64::MIN),
                Value::Unsigned(u64::MAX),
                Value::Float(16_777_216.0),
                Value::Double(0.1),
                Value::Unsigned(2024),
                Value::DateTime(DateTime {
                    year: 2024,
                    month: 2,
                    day: 29,
                    ..DateTime::default()
                }),
                Value::DateTime(DateTime {
                    year: 2024,
                    month: 12,
                    day: 31,
                    hour: 23,
                    minute: 59,
                    second: 58,
                    micros: 999_999,
                }),
                Value::DateTime(DateTime::default()),
                Value::Time(Time {
                    negative: true,
                    days: 34,
                    hour: 22,
                    minute: 59,
                    second: 59,
                    micros: 0,
                }),
                Value::Time(Time {
                    negative: false,
                    days: 1,
                    hour: 2,
                    minute: 3,
                    second: 4,
                    micros: 5,
                }),
                Value::Bytes(b"-1.500"),
                Value::Null,
                Value::Null,
            ]
        );
    }

    #[test]
    fn malformed_rows_are_errors_never_panics() {
        let columns = [column(8, 0), column(253, 0), column(10, 0)];
        let good = {
            let mut p = vec![0x00, 0x00];
            p.extend_from_slice(&7i64.to_le_bytes());
            p.extend_from_slice(b"\x02ab");
            p.extend_from_slice(&[4, 1, 0, 1, 1]);
            p
        };
        let mut d = BinaryRowDecoder::default();
        assert!(d.decode(&good, &columns).is_ok());
        // Every truncation fails.
        for n in 0..good.len() {
            assert!(d.decode(&good[..n], &columns).is_err(), "{n} bytes");
        }
        // Trailing bytes, a wrong header, a bad temporal length, a length past the end.
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(d.decode(&trailing, &columns).is_err());
        let mut header = good.clone();
        header[0] = 0x01;
        assert!(d.decode(&header, &columns).is_err());
        let mut temporal = good.clone();
        let at = good.len() - 5;
        temporal[at] = 5;
        assert!(d.decode(&temporal, &columns).is_err());
        let mut long = good.clone();
        long[10] = 0xFC;
        assert!(d.decode(&long, &columns).is_err());
        // A bitmap longer than the packet.
        let wide: Vec<ColumnDef> = (0..100).map(|_| column(8, 0)).collect();
        assert!(d.decode(&[0x00, 0xFF, 0xFF], &wide).is_err());
    }
}
