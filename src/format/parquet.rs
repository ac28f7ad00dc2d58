//! Parquet: typed columns from the result's metadata, written through the
//! `parquet` crate's low-level column writers.
//!
//! Each row's text fields are parsed into per-column buffers (numbers in
//! typed vectors, byte values in one contiguous buffer with end offsets)
//! that are reused from row group to row group. When the buffered values
//! reach the row-group size, they go through the file writer into its own
//! buffer, which is then appended to the pipeline's output: the sink,
//! progress and `-j N` see ordinary blocks of bytes. Nothing allocates per
//! row once the first row group is written: a later group also ends
//! when any buffer is as full as it got in the first one.
//!
//! A value the column's Parquet type cannot hold (a zero date) fails the
//! export: the first such error is kept and handed to the pipeline by
//! [`RowWriter::take_error`], naming the column, the row and the option.

mod values;

use super::RowWriter;
use ::parquet::basic::ZstdLevel;
use ::parquet::basic::{Compression, LogicalType, Repetition, TimeUnit, Type as Physical};
use ::parquet::data_type::{
    ByteArray, ByteArrayType, DoubleType, FixedLenByteArray, FixedLenByteArrayType, FloatType,
    Int32Type, Int64Type,
};
use ::parquet::errors::ParquetError;
use ::parquet::file::properties::WriterProperties;
use ::parquet::file::writer::SerializedFileWriter;
use ::parquet::schema::types::Type;
use bytes::Bytes;
use gd_protocol::{ColumnDef, ColumnKind, ColumnType, RowView};
use std::sync::Arc;
use values::Refusal;

/// Compression of the Parquet pages.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ParquetCompression {
    /// zstd level 1.
    #[default]
    Zstd,
    /// Snappy.
    Snappy,
    /// Uncompressed pages.
    None,
}

/// How DATE, DATETIME and TIMESTAMP columns are written.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ParquetDates {
    /// As Parquet DATE and TIMESTAMP; a zero or invalid date fails the export.
    #[default]
    Typed,
    /// As STRING columns of the server's text, zero dates included.
    String,
}

/// Bytes of parsed values buffered before a row group is written (see the
/// README's "Parquet" section for the measurements behind it).
pub const DEFAULT_ROW_GROUP_BYTES: u64 = 8 << 20;

/// The Parquet settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ParquetOptions {
    /// Page compression.
    pub compression: ParquetCompression,
    /// Row groups end when this many bytes of values are buffered.
    pub row_group_bytes: u64,
    /// DATE/DATETIME/TIMESTAMP as typed values or as text.
    pub dates: ParquetDates,
}

impl Default for ParquetOptions {
    fn default() -> Self {
        Self {
            compression: ParquetCompression::default(),
            row_group_bytes: DEFAULT_ROW_GROUP_BYTES,
            dates: ParquetDates::default(),
        }
    }
}

/// What a column's text is parsed into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Value {
    /// An integer stored in INT32 (after an unsigned 32-bit one, its bit
    /// pattern), annotated INTEGER(`bits`, `signed`).
    Int32 {
        min: i64,
        max: i64,
        bits: i8,
        signed: bool,
    },
    /// A signed integer in INT64.
    Int64,
    /// An unsigned 64-bit integer, stored as its bit pattern.
    UInt64,
    /// BIT(n): raw big-endian bytes into an unsigned INT64.
    Bit,
    Float,
    Double,
    /// DECIMAL(`precision`, `scale`): INT32 up to 9 digits, INT64 up to 18,
    /// else FIXED_LEN_BYTE_ARRAY of `width` bytes.
    Decimal {
        precision: u8,
        scale: u8,
        width: usize,
    },
    /// Days since the epoch.
    Date,
    /// Microseconds since the epoch (DATETIME and TIMESTAMP).
    Timestamp,
    /// Signed microseconds (TIME).
    Time,
    /// The bytes as they are (text, binary, JSON).
    Bytes,
}

/// Values of one column for the row group being filled.
#[derive(Debug)]
enum Buffer {
    I32(Vec<i32>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    /// All values back to back; `ends[i]` is where value `i` ends.
    Bytes {
        data: Vec<u8>,
        ends: Vec<usize>,
    },
    /// Values of one width back to back.
    Fixed {
        data: Vec<u8>,
        width: usize,
    },
}

#[derive(Debug)]
struct Column {
    name: String,
    value: Value,
    /// Definition levels: 1 present, 0 NULL.
    defs: Vec<i16>,
    buffer: Buffer,
    /// The longest byte value seen: room for one more row means room for it.
    widest: usize,
}

impl Column {
    /// An empty column for values of `value`; its name is set by `open`.
    fn new(value: Value) -> Self {
        let buffer = match value {
            Value::Int32 { .. } | Value::Date => Buffer::I32(Vec::new()),
            Value::Decimal { precision, .. } if precision <= 9 => Buffer::I32(Vec::new()),
            Value::Decimal { precision, .. } if precision <= 18 => Buffer::I64(Vec::new()),
            Value::Int64 | Value::UInt64 | Value::Bit | Value::Timestamp | Value::Time => {
                Buffer::I64(Vec::new())
            }
            Value::Float => Buffer::F32(Vec::new()),
            Value::Double => Buffer::F64(Vec::new()),
            Value::Decimal { width, .. } => Buffer::Fixed {
                data: Vec::new(),
                width,
            },
            Value::Bytes => Buffer::Bytes {
                data: Vec::new(),
                ends: Vec::new(),
            },
        };
        Self {
            name: String::new(),
            value,
            defs: Vec::new(),
            buffer,
            widest: 0,
        }
    }

    /// Drops the buffered values, keeping the room they had.
    fn clear(&mut self) {
        self.defs.clear();
        match &mut self.buffer {
            Buffer::I32(v) => v.clear(),
            Buffer::I64(v) => v.clear(),
            Buffer::F32(v) => v.clear(),
            Buffer::F64(v) => v.clear(),
            Buffer::Bytes { data, ends } => {
                data.clear();
                ends.clear();
            }
            Buffer::Fixed { data, .. } => data.clear(),
        }
    }
}

/// The Parquet writer.
#[derive(Debug)]
pub struct ParquetWriter {
    options: ParquetOptions,
    columns: Vec<Column>,
    /// The file being written; its buffer is emptied into `out` after
    /// every row group.
    file: Option<SerializedFileWriter<Vec<u8>>>,
    /// Bytes of values buffered for the current row group.
    buffered: u64,
    /// Rows buffered for the current row group.
    group_rows: usize,
    /// Row groups written since the writer was made (all files).
    groups: u64,
    /// The buffers have the room one whole row group took: from now on a
    /// row that might not fit ends the group instead of growing them.
    sized: bool,
    /// Rows seen since the writer was made, for messages (1-based).
    row: u64,
    /// The first error, until the pipeline takes it.
    error: Option<String>,
    /// An error happened: rows are ignored and `finish` writes nothing.
    failed: bool,
    /// Reused to hand byte values to the column writer.
    arrays: Vec<ByteArray>,
    fixed: Vec<FixedLenByteArray>,
}

impl ParquetWriter {
    /// A writer with `options`.
    pub fn new(options: &ParquetOptions) -> Self {
        Self {
            options: *options,
            columns: Vec::new(),
            file: None,
            buffered: 0,
            group_rows: 0,
            groups: 0,
            sized: false,
            row: 0,
            error: None,
            failed: false,
            arrays: Vec::new(),
            fixed: Vec::new(),
        }
    }

    /// Row groups written so far.
    pub fn row_groups(&self) -> u64 {
        self.groups
    }

    #[cold]
    fn fail(&mut self, message: String) {
        if !self.failed {
            self.failed = true;
            self.error = Some(message);
        }
    }

    #[cold]
    fn refuse(&mut self, column: usize, refusal: Refusal, text: &[u8]) {
        let c = &self.columns[column];
        let hint = if matches!(c.value, Value::Date | Value::Timestamp) {
            "; pass --parquet-dates string (config key parquet-dates) to write DATE, DATETIME \
             and TIMESTAMP columns as text, or select the column as text or with NULLIF"
        } else {
            "; the server sent a value its column type cannot hold: cast the column (CAST(... AS \
             CHAR)) to export it as text"
        };
        let message = format!(
            "Parquet: column {:?}, row {}: {:?} is {refusal}{hint}",
            c.name,
            self.row,
            String::from_utf8_lossy(&text[..text.len().min(80)]),
        );
        self.fail(message);
    }

    /// Whether the next row could need more room than some buffer has:
    /// after the first row group, that ends the group instead.
    fn a_buffer_is_full(&self) -> bool {
        self.columns.iter().any(|c| {
            let full = |len: usize, cap: usize, more: usize| cap - len < more;
            full(c.defs.len(), c.defs.capacity(), 1)
                || match &c.buffer {
                    Buffer::I32(v) => full(v.len(), v.capacity(), 1),
                    Buffer::I64(v) => full(v.len(), v.capacity(), 1),
                    Buffer::F32(v) => full(v.len(), v.capacity(), 1),
                    Buffer::F64(v) => full(v.len(), v.capacity(), 1),
                    Buffer::Bytes { data, ends } => {
                        full(ends.len(), ends.capacity(), 1)
                            || full(data.len(), data.capacity(), c.widest)
                    }
                    Buffer::Fixed { data, width } => full(data.len(), data.capacity(), *width),
                }
        })
    }

    /// Writes the buffered rows as one row group and appends the bytes to `out`.
    fn write_group(&mut self, out: &mut Vec<u8>) -> Result<(), ParquetError> {
        let Self {
            file,
            columns,
            arrays,
            fixed,
            ..
        } = self;
        let Some(file) = file.as_mut() else {
            return Ok(());
        };
        let mut group = file.next_row_group()?;
        for c in columns.iter_mut() {
            let mut w = group
                .next_column()?
                .ok_or_else(|| ParquetError::General("fewer columns than the schema".into()))?;
            let defs = Some(&c.defs[..]);
            match &mut c.buffer {
                Buffer::I32(v) => {
                    w.typed::<Int32Type>().write_batch(v, defs, None)?;
                    v.clear();
                }
                Buffer::I64(v) => {
                    w.typed::<Int64Type>().write_batch(v, defs, None)?;
                    v.clear();
                }
                Buffer::F32(v) => {
                    w.typed::<FloatType>().write_batch(v, defs, None)?;
                    v.clear();
                }
                Buffer::F64(v) => {
                    w.typed::<DoubleType>().write_batch(v, defs, None)?;
                    v.clear();
                }
                Buffer::Bytes { data, ends } => {
                    // One copy per row group; every value shares it.
                    let shared = Bytes::copy_from_slice(data);
                    let mut start = 0;
                    arrays.extend(ends.iter().map(|&end| {
                        let value = ByteArray::from(shared.slice(start..end));
                        start = end;
                        value
                    }));
                    w.typed::<ByteArrayType>().write_batch(arrays, defs, None)?;
                    arrays.clear();
                    data.clear();
                    ends.clear();
                }
                Buffer::Fixed { data, width } => {
                    // One allocation per value, not a share of one buffer: the
                    // crate keeps a DECIMAL chunk's min and max untruncated in
                    // the file's metadata until the footer, and a share would
                    // keep the whole row group's buffer alive with them
                    // (peak RSS grew with the row count).
                    fixed.extend(
                        data.chunks_exact(*width)
                            .map(|v| FixedLenByteArray::from(v.to_vec())),
                    );
                    w.typed::<FixedLenByteArrayType>()
                        .write_batch(fixed, defs, None)?;
                    fixed.clear();
                    data.clear();
                }
            }
            w.close()?;
            c.defs.clear();
        }
        group.close()?;
        drain(file, out);
        self.groups += 1;
        self.sized = true;
        self.buffered = 0;
        self.group_rows = 0;
        Ok(())
    }

    /// Starts a file: schema, properties, the leading magic bytes.
    fn open(&mut self, columns: &[ColumnDef], out: &mut Vec<u8>) -> Result<(), ParquetError> {
        let (names, _) = super::json::unique_names(columns);
        // The next file of a split export has the same columns: it keeps
        // the buffers that the first row group sized, so that its rows do
        // not allocate either and the "full" check keeps its meaning.
        let same_layout = self.columns.len() == columns.len()
            && self
                .columns
                .iter()
                .zip(columns)
                .all(|(old, c)| old.value == value_of(c, self.options.dates));
        if !same_layout {
            self.sized = false;
            self.columns = columns
                .iter()
                .map(|c| Column::new(value_of(c, self.options.dates)))
                .collect();
        }
        let mut fields = Vec::with_capacity(columns.len());
        for ((column, c), name) in self.columns.iter_mut().zip(columns).zip(names) {
            column.clear();
            fields.push(Arc::new(field(&name, column.value, c)?));
            column.name = name;
        }
        let schema = Type::group_type_builder("schema")
            .with_fields(fields)
            .build()?;
        let compression = match self.options.compression {
            ParquetCompression::Zstd => Compression::ZSTD(ZstdLevel::try_new(1)?),
            ParquetCompression::Snappy => Compression::SNAPPY,
            ParquetCompression::None => Compression::UNCOMPRESSED,
        };
        // Dictionary pages only without compression. On 1 M rows of bench.mixed, with zstd:
        // 75.3 MB and 1.5 client CPU-s with dictionaries, 54.7 MB and 1.05 s without (most
        // columns outgrow the dictionary and fall back to plain pages, after the hashing
        // was paid for; zstd finds the repeats of the others by itself); snappy 101.4 MB
        // against 91.0 MB; uncompressed 144.7 MB against 214.5 MB (README, "Parquet").
        let dictionary = self.options.compression == ParquetCompression::None;
        let properties = WriterProperties::builder()
            .set_compression(compression)
            .set_dictionary_enabled(dictionary)
            .set_created_by(concat!("gold_digger ", env!("CARGO_PKG_VERSION")).to_string())
            .build();
        let mut file =
            SerializedFileWriter::new(Vec::new(), Arc::new(schema), Arc::new(properties))?;
        drain(&mut file, out);
        self.file = Some(file);
        self.buffered = 0;
        self.group_rows = 0;
        Ok(())
    }

    /// Parses field `i` into its column. Returns the bytes buffered.
    #[inline]
    fn push(&mut self, i: usize, field: Option<&[u8]>) -> Result<u64, Refusal> {
        let c = &mut self.columns[i];
        let Some(text) = field else {
            c.defs.push(0);
            return Ok(2);
        };
        c.defs.push(1);
        let level = 2;
        let size = match (&mut c.buffer, c.value) {
            (Buffer::I32(v), Value::Int32 { min, max, .. }) => {
                let n = values::int(text)?;
                if n < min || n > max {
                    return Err("outside the range of the column's integer type");
                }
                // An unsigned 32-bit value keeps its bit pattern, as the
                // INTEGER(32, false) annotation says.
                v.push(n as u32 as i32);
                4
            }
            (
                Buffer::I32(v),
                Value::Decimal {
                    precision, scale, ..
                },
            ) => {
                // At most 9 digits: within i32.
                v.push(values::decimal_i64(text, precision, scale)? as i32);
                4
            }
            (Buffer::I32(v), _) => {
                v.push(values::date(text)?);
                4
            }
            (Buffer::I64(v), value) => {
                v.push(match value {
                    Value::Int64 => values::int(text)?,
                    // The bit pattern, as INTEGER(64, false) says.
                    Value::UInt64 => values::unsigned(text)? as i64,
                    Value::Bit => values::bits(text)? as i64,
                    Value::Timestamp => values::datetime(text)?,
                    Value::Decimal {
                        precision, scale, ..
                    } => values::decimal_i64(text, precision, scale)?,
                    _ => values::time(text)?,
                });
                8
            }
            (Buffer::F32(v), _) => {
                v.push(values::float(text)?);
                4
            }
            (Buffer::F64(v), _) => {
                v.push(values::float(text)?);
                8
            }
            (
                Buffer::Fixed { data, width },
                Value::Decimal {
                    precision, scale, ..
                },
            ) => {
                values::decimal(text, precision, scale, *width, data)?;
                *width as u64
            }
            (Buffer::Fixed { .. }, _) => return Err("not a DECIMAL"),
            (Buffer::Bytes { data, ends }, _) => {
                data.extend_from_slice(text);
                ends.push(data.len());
                c.widest = c.widest.max(text.len());
                text.len() as u64 + 8
            }
        };
        Ok(size + level)
    }
}

/// Moves what the file writer wrote into its buffer to `out`.
fn drain(file: &mut SerializedFileWriter<Vec<u8>>, out: &mut Vec<u8>) {
    let written = file.inner_mut();
    out.extend_from_slice(written);
    written.clear();
}

/// The Parquet value of a column, from its metadata only.
fn value_of(c: &ColumnDef, dates: ParquetDates) -> Value {
    use ColumnType::*;
    let unsigned = c.is_unsigned();
    let int32 = |bits: i8| {
        let (min, max) = if unsigned {
            (0, (1i64 << bits) - 1)
        } else {
            (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1)
        };
        Value::Int32 {
            min,
            max,
            bits,
            signed: !unsigned,
        }
    };
    let typed_dates = dates == ParquetDates::Typed;
    match c.column_type() {
        Some(MYSQL_TYPE_TINY) => int32(8),
        Some(MYSQL_TYPE_SHORT) => int32(16),
        Some(MYSQL_TYPE_INT24 | MYSQL_TYPE_LONG) => int32(32),
        // 0 (the zero year) and 1901..=2155: a 16-bit signed integer, as
        // pyarrow and DuckDB take YEAR-like values.
        Some(MYSQL_TYPE_YEAR) => Value::Int32 {
            min: 0,
            max: 9999,
            bits: 16,
            signed: true,
        },
        Some(MYSQL_TYPE_LONGLONG) if unsigned => Value::UInt64,
        Some(MYSQL_TYPE_LONGLONG) => Value::Int64,
        Some(MYSQL_TYPE_BIT) => Value::Bit,
        Some(MYSQL_TYPE_FLOAT) => Value::Float,
        Some(MYSQL_TYPE_DOUBLE) => Value::Double,
        Some(MYSQL_TYPE_DECIMAL | MYSQL_TYPE_NEWDECIMAL) => {
            let (precision, scale) = decimal_precision(c);
            Value::Decimal {
                precision,
                scale,
                width: values::decimal_width(precision),
            }
        }
        Some(MYSQL_TYPE_DATE | MYSQL_TYPE_NEWDATE) if typed_dates => Value::Date,
        Some(
            MYSQL_TYPE_DATETIME
            | MYSQL_TYPE_DATETIME2
            | MYSQL_TYPE_TIMESTAMP
            | MYSQL_TYPE_TIMESTAMP2,
        ) if typed_dates => Value::Timestamp,
        Some(MYSQL_TYPE_TIME | MYSQL_TYPE_TIME2) => Value::Time,
        _ => Value::Bytes,
    }
}

/// DECIMAL(p, s) from the display length the server reports: p digits,
/// one more for the point when s > 0 and one for the sign unless UNSIGNED.
/// Clamped to what Parquet readers take (76 digits, 256 bits); a value with
/// more digits than the result fails the export rather than being rounded.
fn decimal_precision(c: &ColumnDef) -> (u8, u8) {
    let scale = c.decimals.min(76);
    let extra = u32::from(scale > 0) + u32::from(!c.is_unsigned());
    let digits = c.length.saturating_sub(extra).clamp(1, 76) as u8;
    (digits.max(scale).max(1), scale)
}

/// The schema field of a column.
/// Every column is OPTIONAL: the server's NOT_NULL flag can be wrong (MariaDB
/// 10.11 flags `id` NOT NULL in `SELECT id, COUNT(*) ... GROUP BY id WITH
/// ROLLUP` and sends NULL in its total row), and OPTIONAL never is; its
/// definition levels cost next to nothing once RLE-encoded.
fn field(name: &str, value: Value, c: &ColumnDef) -> Result<Type, ParquetError> {
    use ColumnType::*;
    let (physical, logical) = match value {
        Value::Int32 { bits, signed, .. } => {
            (Physical::INT32, Some(LogicalType::integer(bits, signed)))
        }
        Value::Int64 => (Physical::INT64, Some(LogicalType::integer(64, true))),
        Value::UInt64 | Value::Bit => (Physical::INT64, Some(LogicalType::integer(64, false))),
        Value::Float => (Physical::FLOAT, None),
        Value::Double => (Physical::DOUBLE, None),
        Value::Decimal {
            precision, scale, ..
        } => (
            match precision {
                0..=9 => Physical::INT32,
                10..=18 => Physical::INT64,
                _ => Physical::FIXED_LEN_BYTE_ARRAY,
            },
            Some(LogicalType::decimal(i32::from(scale), i32::from(precision))),
        ),
        Value::Date => (Physical::INT32, Some(LogicalType::Date)),
        Value::Timestamp => (
            Physical::INT64,
            Some(LogicalType::timestamp(
                c.column_type() == Some(MYSQL_TYPE_TIMESTAMP)
                    || c.column_type() == Some(MYSQL_TYPE_TIMESTAMP2),
                TimeUnit::MICROS,
            )),
        ),
        Value::Time => (Physical::INT64, None),
        Value::Bytes => (
            Physical::BYTE_ARRAY,
            match c.kind() {
                ColumnKind::Json => Some(LogicalType::Json),
                ColumnKind::Binary => None,
                _ => Some(LogicalType::String),
            },
        ),
    };
    let mut builder = Type::primitive_type_builder(name, physical)
        .with_repetition(Repetition::OPTIONAL)
        .with_logical_type(logical);
    if let Value::Decimal {
        precision,
        scale,
        width,
    } = value
    {
        if precision > 18 {
            builder = builder.with_length(width as i32);
        }
        builder = builder
            .with_precision(i32::from(precision))
            .with_scale(i32::from(scale));
    }
    builder.build()
}

impl RowWriter for ParquetWriter {
    fn begin(&mut self, columns: &[ColumnDef], out: &mut Vec<u8>) {
        if let Err(e) = self.open(columns, out) {
            self.file = None;
            self.fail(format!("cannot start the Parquet file: {e}"));
        }
    }

    #[inline]
    fn row(&mut self, row: &RowView<'_>, out: &mut Vec<u8>) {
        if self.failed || self.file.is_none() {
            return;
        }
        self.row += 1;
        for (i, field) in row.iter().enumerate() {
            match self.push(i, field) {
                Ok(size) => self.buffered += size,
                Err(refusal) => {
                    self.refuse(i, refusal, field.unwrap_or_default());
                    return;
                }
            }
        }
        self.group_rows += 1;
        if (self.buffered >= self.options.row_group_bytes
            || (self.sized && self.a_buffer_is_full()))
            && let Err(e) = self.write_group(out)
        {
            self.fail(format!("cannot write a Parquet row group: {e}"));
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        if self.failed {
            self.file = None;
            return;
        }
        let result = if self.group_rows > 0 {
            self.write_group(out)
        } else {
            Ok(())
        };
        let result = result.and_then(|()| match self.file.take() {
            Some(mut file) => {
                file.finish()?;
                drain(&mut file, out);
                Ok(())
            }
            None => Ok(()),
        });
        if let Err(e) = result {
            self.fail(format!("cannot finish the Parquet file: {e}"));
        }
    }

    fn take_error(&mut self) -> Option<String> {
        self.error.take()
    }
}

#[cfg(test)]
mod tests;
