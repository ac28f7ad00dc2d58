//! Output formats. One module per format, all behind [`RowWriter`].
//!
//! Writers append to a caller-owned `Vec<u8>`; the export loop flushes it to
//! the sink in large blocks. The text writers never fail: every byte
//! sequence has a defined output (see each module for its rule on non-UTF-8
//! bytes). Parquet can: it keeps its first error for
//! [`RowWriter::take_error`].

use gd_protocol::{ColumnDef, RowView};

pub mod csv;
mod encode;
pub mod json;
mod json_text;
pub mod parquet;
mod quote;
mod scan;
pub mod tsv;

pub use csv::DelimitedWriter;
pub use json::JsonWriter;
pub use parquet::{ParquetOptions, ParquetWriter};

/// The output formats.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Comma-separated values (RFC 4180 quoting).
    Csv,
    /// Tab-separated values (the same quoting rules with a tab).
    Tsv,
    /// One JSON document `{"data":[{...},...]}`.
    Json,
    /// Newline-delimited JSON (JSON Lines): one object per line, no document.
    #[value(alias = "jsonl")]
    #[serde(alias = "jsonl")]
    Ndjson,
    /// Apache Parquet: typed columns, compressed pages, row groups.
    Parquet,
}

impl Format {
    /// The format a file name implies: `.csv`, `.json`, `.ndjson` or `.jsonl`, `.parquet`, and
    /// TSV for `.tsv` and every other or missing extension (as gold_digger always did).
    /// A `.gz` or `.zst` suffix is skipped: `x.csv.zst` is CSV.
    pub fn from_path(path: &std::path::Path) -> Self {
        match crate::compress::format_extension(path)
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("csv") => Self::Csv,
            Some("json") => Self::Json,
            Some("ndjson" | "jsonl") => Self::Ndjson,
            Some("parquet") => Self::Parquet,
            _ => Self::Tsv,
        }
    }
}

/// How bytes of binary columns (charset 63) are written.
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
pub enum BinaryEncoding {
    /// Valid UTF-8 without control characters other than TAB, LF and CR,
    /// and not starting with `0x`, as text; anything else (NUL bytes, WKB
    /// geometry, random bytes, text that looks like hex) as `0x` followed
    /// by uppercase hex. A value starting with `0x` is therefore always hex.
    #[default]
    Auto,
    /// Always `0x` followed by uppercase hex (`0x` alone for an empty value).
    Hex,
    /// Always standard base64 with padding (RFC 4648 §4).
    Base64,
}

/// How JSON and NDJSON write numbers that readers parsing numbers as
/// doubles (JavaScript, jq 1.6, pandas) would round.
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
pub enum BigNumbers {
    /// JSON numbers, exact as the server sent them.
    #[default]
    Number,
    /// DECIMAL values, and integers (BIGINT, BIT) of magnitude 2^53 or more,
    /// as JSON strings of the server's text.
    String,
}

/// Line terminator of the delimited formats.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub enum LineEnding {
    /// `\n`
    #[default]
    Lf,
    /// `\r\n`
    CrLf,
}

/// Options shared by the writers; each uses the ones that apply to it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FormatOptions {
    /// Write a header row (CSV/TSV).
    pub header: bool,
    /// Line terminator (CSV/TSV).
    pub line_ending: LineEnding,
    /// What SQL NULL is written as (CSV/TSV); empty by default.
    pub null: String,
    /// Encoding of binary columns (all formats).
    pub binary: BinaryEncoding,
    /// Indent JSON by two spaces.
    pub pretty: bool,
    /// Big numbers in JSON and NDJSON.
    pub big_numbers: BigNumbers,
    /// Parquet's settings.
    pub parquet: ParquetOptions,
}

impl Default for FormatOptions {
    fn default() -> Self {
        Self {
            header: true,
            line_ending: LineEnding::Lf,
            null: String::new(),
            binary: BinaryEncoding::Auto,
            pretty: false,
            big_numbers: BigNumbers::Number,
            parquet: ParquetOptions::default(),
        }
    }
}

/// Evaluates `$body` with `$writer` bound to a new writer of `$format`,
/// built from `$opts` ([`FormatOptions`]): one monomorphic export per format,
/// so the hot path never dispatches per row. Used by the one-connection and
/// the parallel export alike.
macro_rules! with_writer {
    ($format:expr, $opts:expr, |$writer:ident| $body:expr) => {{
        use $crate::format::{DelimitedWriter, Format, JsonWriter, ParquetWriter};
        let opts: &$crate::format::FormatOptions = $opts;
        match $format {
            Format::Csv => {
                let $writer = DelimitedWriter::csv(opts);
                $body
            }
            Format::Tsv => {
                let $writer = DelimitedWriter::tsv(opts);
                $body
            }
            Format::Json => {
                let $writer = JsonWriter::new(opts);
                $body
            }
            Format::Ndjson => {
                let $writer = JsonWriter::ndjson(opts);
                $body
            }
            Format::Parquet => {
                let $writer = ParquetWriter::new(&opts.parquet);
                $body
            }
        }
    }};
}
pub(crate) use with_writer;

/// A streaming writer for one output format.
///
/// The export loop calls `begin` once, then for every row `packet_row`, or
/// `row` with the decoded row when `packet_row` does not take it, and
/// `finish` once, each appending to the same reused `out` buffer. None of
/// them may allocate per row in steady state.
///
/// A split export (`--max-rows-per-file`, `--max-file-size`) calls `begin`
/// again after `finish`, with the same columns, for each new file: `begin`
/// after `finish` must start a new complete output (header, opening
/// bracket, file header of a binary format), independent of everything
/// written before, and `finish` must end one that is complete on its own
/// (closing bracket, footer). Warnings about the columns are best given
/// once per export, not once per file.
pub trait RowWriter {
    /// Prepares for `columns` and writes whatever precedes the first row
    /// (a header, an opening bracket).
    fn begin(&mut self, columns: &[ColumnDef], out: &mut Vec<u8>);
    /// Writes one row. Must not allocate in steady state.
    fn row(&mut self, row: &RowView<'_>, out: &mut Vec<u8>);
    /// Writes one row straight from its packet, walking the length prefixes
    /// itself instead of reading a decoded [`RowView`]. Returns false,
    /// having written nothing, for a packet it does not take; the caller
    /// then decodes it (which reports a malformed packet) and calls `row`.
    /// A writer must take only packets that decode, and write them exactly
    /// as `row` would. The default takes none.
    fn packet_row(&mut self, _payload: &[u8], _out: &mut Vec<u8>) -> bool {
        false
    }
    /// Writes whatever follows the last row.
    fn finish(&mut self, out: &mut Vec<u8>);
    /// The error that stopped the writer, if one did since the last call:
    /// a value its format cannot hold. The pipeline asks after every row
    /// and after `finish`, and fails the export with it. The text writers
    /// never fail.
    #[inline]
    fn take_error(&mut self) -> Option<String> {
        None
    }
}
