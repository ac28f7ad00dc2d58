//! Helpers shared by the fuzz targets: column definitions, text-row packets
//! and independent encoders to compute expected output with.

use gd_protocol::{ColumnDef, RowDecoder};
use gold_digger::format::RowWriter;

/// Wire type and charset of the column kinds the writer targets exercise:
/// VARCHAR utf8mb4, BLOB (binary), INT, DECIMAL, DOUBLE, BIT, JSON.
pub const KINDS: [(u8, u16); 7] = [
    (253, 45),
    (252, 63),
    (3, 63),
    (246, 63),
    (5, 63),
    (16, 63),
    (245, 63),
];

/// A column definition as `ColumnDef::parse` would produce it.
pub fn column(name: &str, type_code: u8, charset: u16) -> ColumnDef {
    ColumnDef {
        name: name.to_owned(),
        table: "t".to_owned(),
        type_code,
        charset,
        length: 255,
        flags: 0,
        decimals: 0,
        ext_type_name: None,
        ext_format_name: None,
    }
}

/// Splits `fields` into rows of `ncols` (a short last row is dropped).
pub fn rows(fields: &[Option<Vec<u8>>], ncols: usize) -> Vec<&[Option<Vec<u8>>]> {
    fields.chunks_exact(ncols).collect()
}

/// Encodes each row as a text-protocol packet and gives it to the writer
/// as an export does: straight from the packet if the writer takes it,
/// else decoded with [`RowDecoder`].
pub fn write<W: RowWriter>(
    w: &mut W,
    columns: &[ColumnDef],
    rows: &[&[Option<Vec<u8>>]],
) -> Vec<u8> {
    let mut out = Vec::new();
    w.begin(columns, &mut out);
    let mut decoder = RowDecoder::new(columns.len());
    let mut packet = Vec::new();
    for row in rows {
        packet.clear();
        for field in row.iter() {
            match field {
                None => packet.push(0xFB),
                Some(b) => gd_protocol::reader::put_lenenc_bytes(&mut packet, b),
            }
        }
        if w.packet_row(&packet, &mut out) {
            continue;
        }
        let view = decoder
            .decode(&packet, columns.len())
            .expect("a packet we encoded decodes");
        w.row(&view, &mut out);
    }
    w.finish(&mut out);
    out
}

/// `0x` + uppercase hex, computed without the writers' code.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::from("0x");
    for b in bytes {
        s.push_str(&format!("{b:02X}"));
    }
    s
}

/// Decodes padded standard base64, independently of the writers' encoder.
pub fn base64_decode(text: &[u8]) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    assert_eq!(text.len() % 4, 0, "unpadded base64 {text:?}");
    let pad = text.iter().rev().take_while(|&&c| c == b'=').count();
    assert!(pad <= 2, "bad padding {text:?}");
    let (mut bits, mut nbits, mut out) = (0u32, 0, Vec::new());
    for &c in &text[..text.len() - pad] {
        let v = ALPHABET
            .iter()
            .position(|&a| a == c)
            .expect("base64 alphabet");
        bits = bits << 6 | v as u32;
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push((bits >> nbits) as u8);
        }
    }
    out
}

/// The value of BIT bytes (big-endian), for 1..=8 bytes.
pub fn bit_value(bytes: &[u8]) -> Option<u64> {
    (1..=8)
        .contains(&bytes.len())
        .then(|| bytes.iter().fold(0u64, |n, &b| n << 8 | u64::from(b)))
}

/// The NULL markers the delimited targets try (options bits 2–3).
const NULL_MARKERS: [&str; 4] = ["", "\\N", "NULL", "5"];

/// Writes arbitrary fields as CSV or TSV and reads them back with the `csv`
/// crate: every field must come back as the rules say (NULL as the marker,
/// BIT as its decimal value, binary per the encoding), header included.
///
/// `options`: bit 0 header, bit 1 CRLF, bits 2–3 NULL marker, bits 4–5 binary
/// encoding. `kinds`: one byte per column (1..=8 columns) indexing [`KINDS`].
pub fn check_delimited(delimiter: u8, options: u8, kinds: &[u8], fields: &[Option<Vec<u8>>]) {
    use gold_digger::format::{BinaryEncoding, DelimitedWriter, FormatOptions, LineEnding};

    let ncols = kinds.len().clamp(1, 8);
    let columns: Vec<ColumnDef> = (0..ncols)
        .map(|i| {
            let (t, cs) = KINDS[usize::from(kinds.get(i).copied().unwrap_or(0)) % KINDS.len()];
            column(&format!("c{i},\t\"\r\n"), t, cs)
        })
        .collect();
    let null = NULL_MARKERS[usize::from(options >> 2 & 3)];
    let binary = match options >> 4 & 3 {
        1 => BinaryEncoding::Hex,
        2 => BinaryEncoding::Base64,
        _ => BinaryEncoding::Auto,
    };
    let opts = FormatOptions {
        header: options & 1 != 0,
        line_ending: if options & 2 != 0 {
            LineEnding::CrLf
        } else {
            LineEnding::Lf
        },
        null: null.to_owned(),
        binary,
        pretty: false,
        ..FormatOptions::default()
    };
    let rows = rows(fields, ncols);
    let mut writer = if delimiter == b',' {
        DelimitedWriter::csv(&opts)
    } else {
        DelimitedWriter::tsv(&opts)
    };
    let out = write(&mut writer, &columns, &rows);

    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(opts.header)
        .flexible(false)
        .from_reader(&out[..]);
    if opts.header {
        let header = reader.byte_headers().expect("header parses").clone();
        let names: Vec<&[u8]> = columns.iter().map(|c| c.name.as_bytes()).collect();
        assert_eq!(header.iter().collect::<Vec<_>>(), names);
    }
    let records: Vec<csv::ByteRecord> = reader
        .byte_records()
        .map(|r| r.expect("output parses as CSV"))
        .collect();
    // A one-column row whose field is written empty and unquoted is a blank
    // line, which the csv crate skips (documented in the writer).
    let blank = |f: &Option<Vec<u8>>| {
        ncols == 1
            && match f {
                None => null.is_empty(),
                Some(v) => v.is_empty() && !null.is_empty(),
            }
    };
    let kept: Vec<&&[Option<Vec<u8>>]> = rows.iter().filter(|r| !blank(&r[0])).collect();
    assert_eq!(records.len(), kept.len(), "row count\n{out:?}");
    for (record, row) in records.iter().zip(kept) {
        for ((got, field), col) in record.iter().zip(row.iter()).zip(&columns) {
            let Some(v) = field else {
                assert_eq!(got, null.as_bytes());
                continue;
            };
            if v.is_empty() {
                assert_eq!(got, b"");
                continue;
            }
            match col.type_code {
                16 => match bit_value(v) {
                    Some(n) => assert_eq!(got, n.to_string().as_bytes()),
                    None => assert_eq!(got, hex(v).as_bytes()),
                },
                252 => match binary {
                    BinaryEncoding::Auto if auto_text(v) => assert_eq!(got, &v[..]),
                    BinaryEncoding::Base64 => assert_eq!(base64_decode(got), *v),
                    _ => assert_eq!(got, hex(v).as_bytes()),
                },
                _ => assert_eq!(got, &v[..]),
            }
        }
    }
}

/// The Auto rule for binary columns, restated for the oracle: text when the
/// bytes are UTF-8 and hold no control character except TAB, LF and CR
/// (NUL or DEL make them data, written as hex).
fn auto_text(v: &[u8]) -> bool {
    std::str::from_utf8(v).is_ok_and(|s| {
        !s.chars()
            .any(|c| (c.is_ascii_control()) && !matches!(c, '\t' | '\n' | '\r'))
    })
}

/// Column names for the JSON target: repeats and names that collide with a
/// repeat's `_2` suffix, plus names that need escaping.
const NAMES: [&str; 8] = ["id", "id", "id_2", "a\"b\\", "é\n\u{1}😀", "", "ID", "Id_2"];

/// The number RFC 8259 accepts for a server text, or `None`: leading zeros of
/// the integer part dropped, validated by serde_json (with
/// `arbitrary_precision`, so size never matters) and in its spelling.
fn expected_number(v: &[u8], integer: bool) -> Option<String> {
    let s = std::str::from_utf8(v).ok()?;
    let (sign, digits) = s.strip_prefix('-').map_or(("", s), |d| ("-", d));
    if !digits.starts_with(|c: char| c.is_ascii_digit())
        || !digits
            .bytes()
            .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
        || (integer && !digits.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let trimmed = digits.trim_start_matches('0');
    let zero = if trimmed.starts_with(|c: char| c.is_ascii_digit()) {
        ""
    } else {
        "0"
    };
    let normal = format!("{sign}{zero}{trimmed}");
    // serde_json spells exponents as `e+N`/`e-N`; both sides go through it.
    serde_json::from_str::<serde_json::Number>(&normal)
        .ok()
        .map(|n| n.to_string())
}

/// Writes arbitrary fields as JSON and parses the document with serde_json:
/// it must be valid, keys unique and in select order, and every value typed
/// and encoded as the rules say.
///
/// `options`: bit 0 pretty, bits 1–2 binary encoding, bit 3 NDJSON (one
/// object per line, each parsed alone). `kinds`: one byte per
/// column (1..=8 columns): low 3 bits pick the kind ([`KINDS`], 7 = MariaDB
/// JSON), the rest the name.
pub fn check_json(options: u8, kinds: &[u8], fields: &[Option<Vec<u8>>]) {
    use gold_digger::format::{BinaryEncoding, FormatOptions, JsonWriter};
    use serde_json::Value;

    let ncols = kinds.len().clamp(1, 8);
    let columns: Vec<ColumnDef> = (0..ncols)
        .map(|i| {
            let k = kinds.get(i).copied().unwrap_or(0);
            let name = NAMES[usize::from(k >> 3) % NAMES.len()];
            match usize::from(k & 7) {
                7 => {
                    let mut c = column(name, 251, 46);
                    c.ext_format_name = Some("json".to_owned());
                    c
                }
                k => column(name, KINDS[k].0, KINDS[k].1),
            }
        })
        .collect();
    let binary = match options >> 1 & 3 {
        1 => BinaryEncoding::Hex,
        2 => BinaryEncoding::Base64,
        _ => BinaryEncoding::Auto,
    };
    let opts = FormatOptions {
        pretty: options & 1 != 0,
        binary,
        ..FormatOptions::default()
    };
    let rows = rows(fields, ncols);
    let ndjson = options & 8 != 0;
    let data: Vec<Value> = if ndjson {
        let out = write(&mut JsonWriter::ndjson(&opts), &columns, &rows);
        assert!(out.is_empty() || out.ends_with(b"\n"));
        // A row is one line: no raw line break inside an object.
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), rows.len());
        out.split(|&b| b == b'\n')
            .take(rows.len())
            .map(|line| {
                serde_json::from_slice(line)
                    .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(line)))
            })
            .collect()
    } else {
        let out = write(&mut JsonWriter::new(&opts), &columns, &rows);
        let doc: Value = serde_json::from_slice(&out)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out)));
        let end: &[u8] = if opts.pretty { b"]\n}\n" } else { b"]}\n" };
        assert!(out.ends_with(end));
        doc["data"].as_array().expect("data array").clone()
    };
    let data = &data;
    assert_eq!(data.len(), rows.len());
    for (obj, row) in data.iter().zip(&rows) {
        let obj = obj.as_object().expect("row object");
        // Unique keys: a collapsed duplicate would shrink the map.
        assert_eq!(obj.len(), ncols, "{obj:?}");
        let keys: Vec<&String> = obj.keys().collect();
        for (i, c) in columns.iter().enumerate() {
            // Keys are unique without regard to case.
            if !columns[..i]
                .iter()
                .any(|p| p.name.to_lowercase() == c.name.to_lowercase())
            {
                assert_eq!(keys[i], &c.name, "first use of a name keeps it");
            }
        }
        for ((got, field), col) in obj.values().zip(row.iter()).zip(&columns) {
            let Some(v) = field else {
                assert_eq!(got, &Value::Null);
                continue;
            };
            let as_string = Value::String(match std::str::from_utf8(v) {
                Ok(s) => s.to_owned(),
                Err(_) => hex(v),
            });
            match (col.type_code, col.ext_format_name.is_some()) {
                (3 | 246 | 5, _) => match expected_number(v, col.type_code == 3) {
                    Some(n) => assert_eq!(got.as_number().map(ToString::to_string), Some(n)),
                    None => assert_eq!(got, &as_string),
                },
                (16, _) => match bit_value(v) {
                    Some(n) => assert_eq!(got.as_u64(), Some(n)),
                    None if v.is_empty() => assert_eq!(got, ""),
                    None => assert_eq!(got, &Value::String(hex(v))),
                },
                (245, _) | (_, true) => {
                    if *got != as_string {
                        let embedded: Value =
                            serde_json::from_slice(v).expect("embedded JSON parses alone");
                        assert_eq!(got, &embedded);
                    }
                }
                (252, _) => match binary {
                    BinaryEncoding::Auto if auto_text(v) => assert_eq!(got, &as_string),
                    BinaryEncoding::Auto => assert_eq!(got, &Value::String(hex(v))),
                    // `0x` alone for an empty value (since 98e1721).
                    BinaryEncoding::Hex => assert_eq!(got, &Value::String(hex(v))),
                    BinaryEncoding::Base64 => {
                        assert_eq!(base64_decode(got.as_str().expect("string").as_bytes()), *v);
                    }
                },
                _ => assert_eq!(got, &as_string),
            }
        }
    }
}

/// Column kinds of the Parquet target: (type, charset, length, decimals, flags).
/// VARCHAR, BLOB, TINYINT UNSIGNED, INT, BIGINT UNSIGNED, DECIMAL(10,2),
/// DECIMAL(65,30), FLOAT, DOUBLE, DATE, DATETIME(6), TIMESTAMP, TIME(3),
/// YEAR, BIT(12), JSON.
const PARQUET_KINDS: [(u8, u16, u32, u8, u16); 16] = [
    (253, 45, 255, 0, 0),
    (252, 63, 65535, 0, 0),
    (1, 63, 3, 0, 0x20),
    (3, 63, 11, 0, 0),
    (8, 63, 20, 0, 0x20),
    (246, 63, 12, 2, 0),
    (246, 63, 67, 30, 0),
    (4, 63, 12, 31, 0),
    (5, 63, 22, 31, 0),
    (10, 63, 10, 0, 0),
    (12, 63, 26, 6, 0),
    (7, 63, 19, 0, 0),
    (11, 63, 14, 3, 0),
    (13, 63, 4, 0, 0x20),
    (16, 63, 12, 0, 0x20),
    (245, 63, 0xFFFF_FFFF, 0, 0),
];

/// Writes arbitrary fields as Parquet (see the `writer_parquet` target).
/// `options`: bits 0–1 the page compression, bit 2 dates as text, bit 3 tiny
/// row groups (many per file), bit 4 a second file after the first.
pub fn check_parquet(options: u8, kinds: &[u8], fields: &[Option<Vec<u8>>]) {
    use ::parquet::file::reader::{FileReader, SerializedFileReader};
    use ::parquet::record::Field;
    use gold_digger::format::parquet::{ParquetCompression, ParquetDates};
    use gold_digger::format::{ParquetOptions, ParquetWriter};

    let ncols = kinds.len().clamp(1, 6);
    let kind_of = |i: usize| {
        PARQUET_KINDS[usize::from(kinds.get(i).copied().unwrap_or(0)) % PARQUET_KINDS.len()]
    };
    let columns: Vec<ColumnDef> = (0..ncols)
        .map(|i| {
            let (t, cs, length, decimals, flags) = kind_of(i);
            ColumnDef {
                length,
                decimals,
                flags,
                ..column(&format!("c{i}"), t, cs)
            }
        })
        .collect();
    let opts = ParquetOptions {
        compression: match options & 3 {
            0 => ParquetCompression::Zstd,
            1 => ParquetCompression::Snappy,
            _ => ParquetCompression::None,
        },
        dates: if options & 4 != 0 {
            ParquetDates::String
        } else {
            ParquetDates::Typed
        },
        row_group_bytes: if options & 8 != 0 {
            64 * 1024
        } else {
            ParquetOptions::default().row_group_bytes
        },
    };
    // The server sends valid UTF-8 in every column but the binary ones (it
    // replaces what is not, with a warning: CAST(X'FF' AS CHAR) arrives as
    // `?`), and STRING/JSON columns must hold UTF-8 to be readable at all.
    let fields: Vec<Option<Vec<u8>>> = fields
        .iter()
        .enumerate()
        .map(|(n, f)| {
            let (t, cs, ..) = kind_of(n % ncols);
            let binary = (t == 252 && cs == 63) || t == 16;
            f.as_ref().map(|b| {
                if binary {
                    b.clone()
                } else {
                    String::from_utf8_lossy(b).into_owned().into_bytes()
                }
            })
        })
        .collect();
    let rows = rows(&fields, ncols);
    let files = if options & 16 != 0 { 2 } else { 1 };
    let mut writer = ParquetWriter::new(&opts);
    for _ in 0..files {
        let out = write(&mut writer, &columns, &rows);
        if writer.take_error().is_some() {
            // Refused: nothing to read back (the export fails with exit 4).
            return;
        }
        let reader =
            SerializedFileReader::new(bytes::Bytes::from(out)).expect("the writer's file opens");
        let back: Vec<Vec<Field>> = reader
            .get_row_iter(None)
            .expect("rows")
            .map(|r| {
                r.expect("a row")
                    .get_column_iter()
                    .map(|(_, f)| f.clone())
                    .collect()
            })
            .collect();
        assert_eq!(back.len(), rows.len(), "every row");
        for (got, want) in back.iter().zip(&rows) {
            assert_eq!(got.len(), ncols);
            for (i, (g, w)) in got.iter().zip(want.iter()).enumerate() {
                match (w, g) {
                    (None, Field::Null) => {}
                    (None, other) => panic!("column {i}: NULL came back as {other:?}"),
                    (Some(_), Field::Null) => panic!("column {i}: a value came back as NULL"),
                    (Some(w), Field::Str(s)) => assert_eq!(s.as_bytes(), &w[..], "column {i}"),
                    (Some(w), Field::Bytes(b)) => assert_eq!(b.data(), &w[..], "column {i}"),
                    (Some(_), _) => {}
                }
            }
        }
    }
}
