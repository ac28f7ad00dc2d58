//! The writer without a server: files read back with the `parquet` crate's
//! own reader (the integration tests read them with pyarrow).

use super::*;
use ::parquet::file::reader::{FileReader, SerializedFileReader};
use ::parquet::record::Field;
use gd_protocol::RowDecoder;
use gd_protocol::reader::put_lenenc_bytes;

fn column(name: &str, type_code: u8, charset: u16, length: u32, decimals: u8) -> ColumnDef {
    ColumnDef {
        name: name.to_string(),
        table: "t".to_string(),
        type_code,
        charset,
        length,
        flags: 0,
        decimals,
        ext_type_name: None,
        ext_format_name: None,
    }
}

/// BIGINT, VARCHAR (utf8mb4), DECIMAL(10,2), DATETIME.
fn columns() -> Vec<ColumnDef> {
    vec![
        column("id", 8, 63, 20, 0),
        column("name", 253, 45, 64, 0),
        column("amount", 246, 63, 12, 2),
        column("at", 12, 63, 19, 0),
    ]
}

/// Writes `rows` (`None` is NULL) as text-protocol rows through `writer`.
fn write_rows(writer: &mut ParquetWriter, rows: &[[Option<&str>; 4]], out: &mut Vec<u8>) {
    let mut decoder = RowDecoder::new(4);
    for row in rows {
        let mut payload = Vec::new();
        for field in row {
            match field {
                Some(text) => put_lenenc_bytes(&mut payload, text.as_bytes()),
                None => payload.push(0xFB),
            }
        }
        let view = decoder.decode(&payload, 4).unwrap();
        writer.row(&view, out);
        assert_eq!(writer.take_error(), None);
    }
}

/// Each row of a Parquet file as the reader's fields.
fn read(file: &[u8]) -> Vec<Vec<Field>> {
    let reader = SerializedFileReader::new(Bytes::copy_from_slice(file)).unwrap();
    reader
        .get_row_iter(None)
        .unwrap()
        .map(|row| {
            row.unwrap()
                .get_column_iter()
                .map(|(_, f)| f.clone())
                .collect()
        })
        .collect()
}

#[test]
fn begin_after_finish_starts_a_second_complete_file() {
    let mut writer = ParquetWriter::new(&ParquetOptions::default());
    let mut out = Vec::new();
    writer.begin(&columns(), &mut out);
    write_rows(
        &mut writer,
        &[
            [
                Some("1"),
                Some("Zoë"),
                Some("-12.50"),
                Some("2024-02-29 12:00:00"),
            ],
            [Some("2"), None, Some("0.01"), None],
        ],
        &mut out,
    );
    writer.finish(&mut out);
    assert_eq!(writer.take_error(), None);
    let first_len = out.len();
    writer.begin(&columns(), &mut out);
    write_rows(
        &mut writer,
        &[[
            Some("3"),
            Some("x"),
            Some("99999999.99"),
            Some("1970-01-01 00:00:00"),
        ]],
        &mut out,
    );
    writer.finish(&mut out);
    assert_eq!(writer.take_error(), None);
    let (first, second) = out.split_at(first_len);
    for file in [first, second] {
        assert!(file.starts_with(b"PAR1") && file.ends_with(b"PAR1"));
    }
    let a = read(first);
    assert_eq!(a.len(), 2);
    assert_eq!(a[0][0], Field::Long(1));
    assert_eq!(a[0][1], Field::Str("Zoë".into()));
    assert_eq!(a[1][1], Field::Null);
    assert_eq!(a[1][3], Field::Null);
    // 2024-02-29 12:00:00 as UTC microseconds: 19782 days (Python's date arithmetic) + 12 h.
    assert_eq!(
        a[0][3],
        Field::TimestampMicros((19_782 * 86_400 + 12 * 3600) * 1_000_000)
    );
    let b = read(second);
    assert_eq!(b.len(), 1);
    assert_eq!(b[0][0], Field::Long(3));
    assert_eq!(b[0][2].to_string(), "99999999.99");
}

#[test]
fn small_row_groups_keep_every_row_in_order() {
    let options = ParquetOptions {
        row_group_bytes: 4096,
        ..ParquetOptions::default()
    };
    let mut writer = ParquetWriter::new(&options);
    let mut out = Vec::new();
    writer.begin(&columns(), &mut out);
    let texts: Vec<[String; 4]> = (0..5_000)
        .map(|i| {
            [
                i.to_string(),
                "n".repeat(i % 37),
                format!("-{}.{:02}", i + 1, i % 100),
                format!("2001-01-01 00:00:{:02}", i % 60),
            ]
        })
        .collect();
    let rows: Vec<[Option<&str>; 4]> = texts
        .iter()
        .map(|t| [Some(&*t[0]), Some(&*t[1]), Some(&*t[2]), Some(&*t[3])])
        .collect();
    write_rows(&mut writer, &rows, &mut out);
    writer.finish(&mut out);
    assert_eq!(writer.take_error(), None);
    assert!(writer.row_groups() > 10, "{}", writer.row_groups());
    let back = read(&out);
    assert_eq!(back.len(), 5_000);
    for (i, row) in back.iter().enumerate() {
        assert_eq!(row[0], Field::Long(i as i64));
        assert_eq!(row[1], Field::Str(texts[i][1].clone()));
        assert_eq!(row[2].to_string(), texts[i][2]);
    }
}

#[test]
fn every_file_of_a_split_gets_row_groups_as_large_as_the_first() {
    // Before the buffers were kept across files, every row after the first
    // file was a row group of its own (20 times the file size).
    let options = ParquetOptions {
        row_group_bytes: 8192,
        ..ParquetOptions::default()
    };
    let mut writer = ParquetWriter::new(&options);
    let texts: Vec<[String; 4]> = (0..2_000)
        .map(|i| {
            [
                i.to_string(),
                format!("name {i}"),
                format!("{}.{:02}", i, i % 100),
                "2001-01-01 00:00:00".to_string(),
            ]
        })
        .collect();
    let rows: Vec<[Option<&str>; 4]> = texts
        .iter()
        .map(|t| [Some(&*t[0]), Some(&*t[1]), Some(&*t[2]), Some(&*t[3])])
        .collect();
    let mut groups = Vec::new();
    let mut files = Vec::new();
    for _ in 0..3 {
        let mut out = Vec::new();
        let before = writer.row_groups();
        writer.begin(&columns(), &mut out);
        write_rows(&mut writer, &rows, &mut out);
        writer.finish(&mut out);
        assert_eq!(writer.take_error(), None);
        groups.push(writer.row_groups() - before);
        files.push(out);
    }
    assert!(groups[0] > 1, "{groups:?}");
    for (file, n) in files.iter().zip(&groups) {
        assert!(
            n.abs_diff(groups[0]) <= 1,
            "row groups per file: {groups:?}"
        );
        let back = read(file);
        assert_eq!(back.len(), rows.len());
        assert_eq!(back[1_999][0], Field::Long(1_999));
    }
}

#[test]
fn a_zero_date_stops_the_writer_with_column_row_and_option() {
    let mut writer = ParquetWriter::new(&ParquetOptions::default());
    let mut out = Vec::new();
    writer.begin(&columns(), &mut out);
    write_rows(
        &mut writer,
        &[[Some("1"), None, None, Some("2024-01-01 00:00:00")]],
        &mut out,
    );
    let mut decoder = RowDecoder::new(4);
    let mut payload = Vec::new();
    for text in ["2", "b", "1.00", "0000-00-00 00:00:00"] {
        put_lenenc_bytes(&mut payload, text.as_bytes());
    }
    writer.row(&decoder.decode(&payload, 4).unwrap(), &mut out);
    let message = writer.take_error().expect("an error");
    for part in ["\"at\"", "row 2", "--parquet-dates string"] {
        assert!(message.contains(part), "{message}");
    }
    // Taken once; the writer stays stopped.
    assert_eq!(writer.take_error(), None);
    writer.finish(&mut out);
    assert_eq!(writer.take_error(), None);
}
