//! End-to-end tests: the real `gold_digger` binary against the throwaway MariaDB server
//! (scripts/test-db.sh), its exports compared with the server's own values as read by the
//! `mariadb` client through `HEX()`, never with our own earlier output.

#[path = "integration/bad_input.rs"]
mod bad_input;
#[path = "integration/binary_protocol.rs"]
mod binary_protocol;
#[path = "integration/client_conventions.rs"]
mod client_conventions;
mod common;
#[path = "integration/compress.rs"]
mod compress;
#[path = "integration/faults.rs"]
mod faults;
#[path = "integration/first_use.rs"]
mod first_use;
#[path = "integration/ndjson.rs"]
mod ndjson;
#[path = "integration/operator_safety.rs"]
mod operator_safety;
#[path = "integration/parallel.rs"]
mod parallel;
#[path = "integration/parquet.rs"]
mod parquet;
#[path = "integration/progress.rs"]
mod progress;
#[path = "integration/safety.rs"]
mod safety;
#[path = "integration/split.rs"]
mod split;
#[path = "integration/streaming.rs"]
mod streaming;
#[path = "integration/tls.rs"]
mod tls;

use common::{Column, Kind, Run, binary_auto, gd, read, run, server, server_values, table_columns};
use serde::Deserialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

const PASSWORD: &str = "gd_pass";

/// Exports `query` from the test server into `dir/<file_name>` with `extra` arguments.
fn export_to(dir: &Path, file_name: &str, query: &str, extra: &[&str]) -> (PathBuf, Run) {
    let path = dir.join(file_name);
    let r = run(gd()
        .args(["--db-url", &server().url, "--query", query, "--output"])
        .arg(&path)
        .args(extra));
    (path, r)
}

/// Exports `query` into a fresh temporary directory and returns the file's bytes; panics unless
/// the export exits 0.
fn export(file_name: &str, query: &str, extra: &[&str]) -> (TempDir, Vec<u8>) {
    let dir = common::tempdir();
    let (path, r) = export_to(dir.path(), file_name, query, extra);
    r.assert_code(0);
    let bytes = read(&path);
    (dir, bytes)
}

fn utf8(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or_else(|e| panic!("not UTF-8 ({e}): {bytes:?}"))
}

// --- expected values of all_types -----------------------------------------------------------

struct Expected {
    columns: Vec<Column>,
    /// One row per server row: the exact bytes of each column (BIT already as its integer
    /// text, binary still raw), `None` for NULL.
    rows: Vec<Vec<Option<Vec<u8>>>>,
}

fn all_types_expected() -> Expected {
    let columns = table_columns("gd_test", "all_types");
    let exprs: Vec<String> = columns.iter().map(Column::exact_expr).collect();
    let rows = server_values("gd_test.all_types ORDER BY id", &exprs);
    assert!(rows.len() >= 7, "all_types fixture has {} rows", rows.len());
    Expected { columns, rows }
}

const ALL_TYPES_QUERY: &str = "SELECT * FROM gd_test.all_types ORDER BY id";

/// The delimited-text cell a server value must become (default options).
fn delimited_cell(kind: Kind, value: &Option<Vec<u8>>) -> Vec<u8> {
    match value {
        None => Vec::new(),
        Some(v) if kind == Kind::Binary => binary_auto(v),
        Some(v) => v.clone(),
    }
}

/// (a), (b): all_types exported as CSV or TSV, parsed by the `csv` crate, equals the server's
/// values field by field; the all-NULL row is a line of empty unquoted fields.
fn check_all_types_delimited(file_name: &str, delimiter: u8) {
    let exp = all_types_expected();
    let (_dir, bytes) = export(file_name, ALL_TYPES_QUERY, &[]);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(delimiter)
        .from_reader(bytes.as_slice());
    let records: Vec<csv::ByteRecord> = reader
        .byte_records()
        .collect::<Result<_, _>>()
        .expect("output parses as delimited text");
    assert_eq!(
        records.len(),
        exp.rows.len() + 1,
        "header + one record per row"
    );

    let header: Vec<&[u8]> = records[0].iter().collect();
    let names: Vec<&[u8]> = exp.columns.iter().map(|c| c.name.as_bytes()).collect();
    assert_eq!(header, names, "header");

    for (record, row) in records[1..].iter().zip(&exp.rows) {
        let r = format!(
            "id {}",
            String::from_utf8_lossy(row[0].as_deref().unwrap_or_default())
        );
        assert_eq!(record.len(), exp.columns.len(), "{r}: field count");
        for ((field, col), value) in record.iter().zip(&exp.columns).zip(row) {
            let want = delimited_cell(col.kind, value);
            assert!(
                field == want.as_slice()
                    || (col.kind == Kind::Float
                        && common::float_matches(&col.data_type, field, &want)),
                "{r}, column {} ({}): got {:?}, want {:?}",
                col.name,
                col.column_type,
                String::from_utf8_lossy(field),
                String::from_utf8_lossy(&want)
            );
        }
    }

    // NULL is an empty *unquoted* field: the all-NULL row (id 4) is "4" and empty fields.
    let null_row = exp
        .rows
        .iter()
        .position(|r| r.iter().skip(1).all(Option::is_none));
    let null_row = null_row.expect("all_types has a row where every nullable column is NULL");
    let id = String::from_utf8(exp.rows[null_row][0].clone().unwrap()).unwrap();
    let sep = (delimiter as char).to_string();
    let line = format!("{id}{}\n", sep.repeat(exp.columns.len() - 1));
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        text.contains(&format!("\n{line}")),
        "no line {line:?} for the all-NULL row"
    );
}

#[test]
fn all_types_csv_matches_server() {
    check_all_types_delimited("all_types.csv", b',');
}

#[test]
fn all_types_tsv_matches_server() {
    check_all_types_delimited("all_types.tsv", b'\t');
}

/// Unknown extensions are TSV, as they always were.
#[test]
fn unknown_extension_is_tsv() {
    let (_d1, tsv) = export("t.tsv", "SELECT * FROM gd_test.tricky ORDER BY id", &[]);
    let (_d2, txt) = export("t.txt", "SELECT * FROM gd_test.tricky ORDER BY id", &[]);
    assert_eq!(tsv, txt);
}

// --- JSON -----------------------------------------------------------------------------------

/// A JSON object with its keys in document order (serde_json's map sorts them).
#[derive(Debug)]
struct OrderedObject(Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for OrderedObject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = OrderedObject;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<OrderedObject, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = m.next_entry()? {
                    entries.push(entry);
                }
                Ok(OrderedObject(entries))
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonDoc {
    data: Vec<OrderedObject>,
}

fn parse_json_doc(bytes: &[u8]) -> JsonDoc {
    serde_json::from_slice(bytes).unwrap_or_else(|e| {
        panic!(
            "output is not a {{\"data\":[...]}} document ({e}): {}",
            String::from_utf8_lossy(bytes)
        )
    })
}

/// Whether the raw JSON text holds `"key":` followed (after optional spaces) by exactly `text`
/// and then `,`, `}` or whitespace: the number was written as that text, not re-formatted.
/// The raw text of every value of `key` in the document, in order (numbers and null only:
/// the text up to the next `,`, `}` or white space).
fn raw_values<'a>(raw: &'a str, key: &str) -> Vec<&'a str> {
    let needle = format!("\"{key}\":");
    raw.match_indices(&needle)
        .map(|(at, _)| {
            let rest = raw[at + needle.len()..].trim_start_matches([' ', '\n']);
            let end = rest.find([',', '}', '\n', ' ', '\r']).unwrap_or(rest.len());
            &rest[..end]
        })
        .collect()
}

fn raw_has_number(raw: &str, key: &str, text: &str) -> bool {
    let needle = format!("\"{key}\":");
    raw.match_indices(&needle).any(|(at, _)| {
        let rest = raw[at + needle.len()..].trim_start_matches([' ', '\n']);
        rest.strip_prefix(text)
            .is_some_and(|after| after.starts_with([',', '}', '\n', ' ', '\r']))
    })
}

fn json_number(text: &str) -> serde_json::Value {
    serde_json::from_str::<serde_json::Number>(text)
        .map(serde_json::Value::Number)
        .unwrap_or_else(|e| panic!("server text {text:?} is not a JSON number: {e}"))
}

/// (c) all_types as JSON: an object per row, keys in select order, numbers as JSON numbers
/// with the server's exact text, JSON columns embedded, binary by the Auto rule, NULL as null.
#[test]
fn all_types_json_matches_server() {
    let exp = all_types_expected();
    let (_dir, bytes) = export("all_types.json", ALL_TYPES_QUERY, &[]);
    let raw = utf8(&bytes);
    assert!(raw.ends_with("}\n"), "the document ends with a line feed");
    let doc = parse_json_doc(&bytes);
    check_all_types_objects(raw, &doc.data, &exp, false);
}

/// The row objects of an all_types export (JSON or NDJSON) against the server's values: keys in
/// select order, numbers as JSON numbers with the server's exact text, JSON columns embedded,
/// binary by the Auto rule, NULL as null. With `big_strings` (`--json-big-numbers string`),
/// DECIMAL values and integers of magnitude 2^53 or more must be strings of the server's text
/// instead (BIT: its decimal value), and every integer left a number a double holds exactly.
fn check_all_types_objects(
    raw: &str,
    objects: &[OrderedObject],
    exp: &Expected,
    big_strings: bool,
) {
    assert_eq!(objects.len(), exp.rows.len(), "one object per row");
    let names: Vec<&str> = exp.columns.iter().map(|c| c.name.as_str()).collect();
    let beyond_double = |text: &str| {
        text.parse::<i128>()
            .is_ok_and(|n| n.unsigned_abs() >= 1 << 53)
    };

    for (index, (obj, row)) in objects.iter().zip(&exp.rows).enumerate() {
        let r = format!(
            "id {}",
            String::from_utf8_lossy(row[0].as_deref().unwrap_or_default())
        );
        let keys: Vec<&str> = obj.0.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, names, "{r}: keys in select order");
        for (((_, got), col), value) in obj.0.iter().zip(&exp.columns).zip(row) {
            let ctx = format!("{r}, column {} ({})", col.name, col.column_type);
            let Some(v) = value else {
                assert!(got.is_null(), "{ctx}: want null, got {got}");
                continue;
            };
            match col.kind {
                Kind::Decimal if big_strings => {
                    assert_eq!(got.as_str(), Some(utf8(v)), "{ctx}: DECIMAL as a string");
                }
                Kind::Int | Kind::Bit if big_strings && beyond_double(utf8(v)) => {
                    assert_eq!(got.as_str(), Some(utf8(v)), "{ctx}: beyond 2^53, a string");
                }
                Kind::Float if common::binary_protocol() => {
                    // The number as written: serde_json's own parse of -1.5e-300 is one
                    // unit off (it rounds correctly only with its float_roundtrip feature).
                    assert!(got.is_number(), "{ctx}: want a number, got {got}");
                    let written = raw_values(raw, &col.name)[index];
                    assert!(
                        common::float_matches(&col.data_type, written.as_bytes(), v),
                        "{ctx}: {written} is not the stored value {}",
                        utf8(v)
                    );
                }
                Kind::Int | Kind::Decimal | Kind::Float | Kind::Bit => {
                    if big_strings && col.kind != Kind::Float {
                        let n = got.as_i64().map(i64::unsigned_abs).or(got.as_u64());
                        assert!(
                            n.is_some_and(|n| n < 1 << 53),
                            "{ctx}: {got} is not exact as a double"
                        );
                    }
                    let text = utf8(v);
                    assert!(got.is_number(), "{ctx}: want the number {text}, got {got}");
                    assert_eq!(got, &json_number(text), "{ctx}");
                    assert!(
                        raw_has_number(raw, &col.name, text),
                        "{ctx}: the number is not written as the server's text {text}"
                    );
                }
                Kind::PaddedNumber => {
                    // Leading zeros cannot stay in a JSON number: either the number without
                    // them or the text as a string.
                    let text = utf8(v);
                    let unpadded = text.trim_start_matches('0');
                    let unpadded = if unpadded.is_empty() { "0" } else { unpadded };
                    match got {
                        serde_json::Value::Number(_) => {
                            assert_eq!(got, &json_number(unpadded), "{ctx}");
                            assert!(
                                raw_has_number(raw, &col.name, unpadded),
                                "{ctx}: {unpadded}"
                            );
                        }
                        serde_json::Value::String(s) => assert_eq!(s, text, "{ctx}"),
                        other => panic!("{ctx}: want {text}, got {other}"),
                    }
                }
                Kind::Json => {
                    let want: serde_json::Value = serde_json::from_slice(v)
                        .unwrap_or_else(|e| panic!("{ctx}: server JSON does not parse: {e}"));
                    assert_eq!(got, &want, "{ctx}: JSON column embedded as a value");
                }
                Kind::Binary => {
                    let want = String::from_utf8(binary_auto(v)).unwrap();
                    assert_eq!(got.as_str(), Some(want.as_str()), "{ctx}");
                }
                Kind::Text => {
                    let want = utf8(v);
                    assert_eq!(got.as_str(), Some(want), "{ctx}");
                }
            }
        }
    }
    // DECIMAL never goes through a float: the 65-digit values appear verbatim.
    for row in &exp.rows {
        let dec65 = exp.columns.iter().position(|c| c.name == "dec65").unwrap();
        if let Some(v) = &row[dec65] {
            assert!(
                raw.contains(utf8(v)),
                "DECIMAL(65,30) {} not verbatim",
                utf8(v)
            );
        }
    }
}

#[test]
fn json_pretty_is_the_same_document() {
    let (_d1, compact) = export("t.json", ALL_TYPES_QUERY, &[]);
    let (_d2, pretty) = export("t.json", ALL_TYPES_QUERY, &["--pretty"]);
    assert_ne!(compact, pretty);
    assert!(
        utf8(&pretty).contains("\n  "),
        "--pretty indents by two spaces"
    );
    let a: serde_json::Value = serde_json::from_slice(&compact).unwrap();
    let b: serde_json::Value = serde_json::from_slice(&pretty).unwrap();
    assert_eq!(a, b);
}

#[test]
fn json_duplicate_column_names_are_made_unique() {
    let join = "FROM gd_test.dup_cols_a a JOIN gd_test.dup_cols_b b ON b.a_id = a.id ORDER BY b.id";
    let (_dir, bytes) = export(
        "dup.json",
        &format!("SELECT a.id, b.id, a.name, b.name {join}"),
        &[],
    );
    let doc = parse_json_doc(&bytes);
    // The server's values, with the names made unique by aliases.
    let exprs = [
        "CAST(a_id AS CHAR)",
        "CAST(b_id AS CHAR)",
        "a_name",
        "b_name",
    ]
    .map(String::from);
    let want = server_values(
        &format!("SELECT a.id AS a_id, b.id AS b_id, a.name AS a_name, b.name AS b_name {join}"),
        &exprs,
    );
    assert_eq!(doc.data.len(), want.len());
    for (obj, row) in doc.data.iter().zip(&want) {
        let keys: Vec<&str> = obj.0.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["id", "id_2", "name", "name_2"]);
        assert_eq!(obj.0[0].1, json_number(utf8(row[0].as_deref().unwrap())));
        assert_eq!(obj.0[1].1, json_number(utf8(row[1].as_deref().unwrap())));
        for ((_, got), want) in obj.0[2..].iter().zip(&row[2..]) {
            match want {
                None => assert!(got.is_null()),
                Some(v) => assert_eq!(got.as_str(), Some(utf8(v))),
            }
        }
    }
}

// --- (d) tricky.sql round trips -------------------------------------------------------------

fn tricky_rows() -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    server_values("gd_test.tricky ORDER BY id", &["CAST(id AS CHAR)", "v"])
        .into_iter()
        .map(|mut r| {
            let v = r.pop().unwrap();
            (r.pop().unwrap().unwrap(), v)
        })
        .collect()
}

struct Dialect<'a> {
    delimiter: u8,
    null: &'a [u8],
    eol: &'a [u8],
    header: bool,
}

/// The exact bytes the delimited writers must produce for (id, v) rows, from the rules in the
/// README: quote only for delimiter, quote, CR, LF (quotes doubled) or a value equal to a
/// non-empty NULL marker; NULL is the marker unquoted; an empty string is `""` when the marker
/// is empty.
fn expected_delimited(rows: &[(Vec<u8>, Option<Vec<u8>>)], d: &Dialect) -> Vec<u8> {
    let mut out = Vec::new();
    if d.header {
        out.extend_from_slice(b"id");
        out.push(d.delimiter);
        out.extend_from_slice(b"v");
        out.extend_from_slice(d.eol);
    }
    for (id, v) in rows {
        out.extend_from_slice(id);
        out.push(d.delimiter);
        match v {
            None => out.extend_from_slice(d.null),
            Some(v) if v.is_empty() && d.null.is_empty() => out.extend_from_slice(b"\"\""),
            Some(v) => {
                let special = |b: &u8| [d.delimiter, b'"', b'\r', b'\n'].contains(b);
                if v.iter().any(special) || (!d.null.is_empty() && v == d.null) {
                    out.push(b'"');
                    for &b in v {
                        if b == b'"' {
                            out.push(b'"');
                        }
                        out.push(b);
                    }
                    out.push(b'"');
                } else {
                    out.extend_from_slice(v);
                }
            }
        }
        out.extend_from_slice(d.eol);
    }
    out
}

/// Sends rows 1 to 3, then fails with ERR 1242 (subquery returns more than 1 row) at row 4.
const ERROR_AFTER_ROWS: &str = "SELECT t.id, (SELECT 1 FROM gd_test.tricky t2 WHERE t2.id < t.id - 1) AS x \
                                FROM gd_test.tricky t ORDER BY t.id";

const TRICKY_QUERY: &str = "SELECT id, v FROM gd_test.tricky ORDER BY id";

fn assert_same_bytes(got: &[u8], want: &[u8], what: &str) {
    if got != want {
        let at = got
            .iter()
            .zip(want)
            .position(|(a, b)| a != b)
            .unwrap_or(got.len().min(want.len()));
        let from = at.saturating_sub(40);
        panic!(
            "{what}: output differs at byte {at}\n got: {:?}\nwant: {:?}",
            String::from_utf8_lossy(&got[from..(at + 40).min(got.len())]),
            String::from_utf8_lossy(&want[from..(at + 40).min(want.len())])
        );
    }
}

#[test]
fn tricky_csv_exact_bytes() {
    let rows = tricky_rows();
    let (_dir, bytes) = export("tricky.csv", TRICKY_QUERY, &[]);
    let d = Dialect {
        delimiter: b',',
        null: b"",
        eol: b"\n",
        header: true,
    };
    assert_same_bytes(&bytes, &expected_delimited(&rows, &d), "tricky.csv");
    // An independent reader gets the values back (NULL and '' both read as empty there).
    let mut reader = csv::ReaderBuilder::new().from_reader(bytes.as_slice());
    let got: Vec<csv::ByteRecord> = reader.byte_records().map(Result::unwrap).collect();
    assert_eq!(got.len(), rows.len());
    for (rec, (id, v)) in got.iter().zip(&rows) {
        assert_eq!(&rec[0], id.as_slice());
        assert_eq!(&rec[1], v.as_deref().unwrap_or_default());
    }
}

#[test]
fn tricky_tsv_exact_bytes() {
    let rows = tricky_rows();
    let (_dir, bytes) = export("tricky.tsv", TRICKY_QUERY, &[]);
    let d = Dialect {
        delimiter: b'\t',
        null: b"",
        eol: b"\n",
        header: true,
    };
    assert_same_bytes(&bytes, &expected_delimited(&rows, &d), "tricky.tsv");
}

#[test]
fn tricky_null_marker_crlf_and_no_header() {
    let rows = tricky_rows();
    let (_d1, tsv) = export("tricky.tsv", TRICKY_QUERY, &["--null", r"\N"]);
    let d = Dialect {
        delimiter: b'\t',
        null: br"\N",
        eol: b"\n",
        header: true,
    };
    assert_same_bytes(
        &tsv,
        &expected_delimited(&rows, &d),
        r"tricky.tsv --null '\N'",
    );

    let (_d2, csv) = export("tricky.csv", TRICKY_QUERY, &["--crlf", "--no-header"]);
    let d = Dialect {
        delimiter: b',',
        null: b"",
        eol: b"\r\n",
        header: false,
    };
    assert_same_bytes(
        &csv,
        &expected_delimited(&rows, &d),
        "tricky.csv --crlf --no-header",
    );
}

#[test]
fn tricky_json_round_trip() {
    let rows = tricky_rows();
    let (_dir, bytes) = export("tricky.json", TRICKY_QUERY, &[]);
    let doc = parse_json_doc(&bytes);
    assert_eq!(doc.data.len(), rows.len());
    for (obj, (id, v)) in doc.data.iter().zip(&rows) {
        let keys: Vec<&str> = obj.0.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["id", "v"]);
        assert_eq!(obj.0[0].1, json_number(utf8(id)));
        match v {
            None => assert!(obj.0[1].1.is_null(), "id {}: want null", utf8(id)),
            Some(v) => assert_eq!(obj.0[1].1.as_str(), Some(utf8(v)), "id {}", utf8(id)),
        }
    }
}

#[test]
fn stdout_output_equals_file_output() {
    let (_dir, file) = export("tricky.csv", TRICKY_QUERY, &[]);
    let r = run(gd().args([
        "--db-url",
        &server().url,
        "-q",
        TRICKY_QUERY,
        "-o",
        "-",
        "-f",
        "csv",
    ]));
    r.assert_code(0);
    assert_same_bytes(&r.stdout, &file, "-o - -f csv");
}

/// Rows at and over the 16 MiB packet size (big_rows.sql) arrive whole.
#[test]
fn rows_over_16_mib_are_exported_whole() {
    let want = server_values("gd_test.big_rows ORDER BY id", &["CAST(id AS CHAR)", "v"]);
    let (_dir, bytes) = export(
        "big.tsv",
        "SELECT id, v FROM gd_test.big_rows ORDER BY id",
        &[],
    );
    let mut expected = b"id\tv\n".to_vec();
    for row in &want {
        expected.extend_from_slice(row[0].as_deref().unwrap());
        expected.push(b'\t');
        expected.extend_from_slice(row[1].as_deref().unwrap_or_default());
        expected.push(b'\n');
    }
    assert_same_bytes(&bytes, &expected, "big_rows.tsv");

    let want = server_values("gd_test.big_first ORDER BY id", &["v", "CAST(id AS CHAR)"]);
    let (_dir, bytes) = export(
        "first.csv",
        "SELECT v, id FROM gd_test.big_first ORDER BY id",
        &[],
    );
    let mut expected = b"v,id\n".to_vec();
    for row in &want {
        expected.extend_from_slice(row[0].as_deref().unwrap());
        expected.push(b',');
        expected.extend_from_slice(row[1].as_deref().unwrap());
        expected.push(b'\n');
    }
    assert_same_bytes(&bytes, &expected, "big_first.csv");
}

// --- (e) exit codes, leftovers and secrets --------------------------------------------------

/// A failing invocation: run in a fresh directory (`{dir}` in `args`) holding `setup` (a file
/// name and its content) and an empty `out/`; unless `args` has `-o`, the output is
/// `out/out.csv`.
struct Case {
    name: &'static str,
    args: Vec<String>,
    code: i32,
    /// Strings that must not appear in stdout or stderr.
    secrets: &'static [&'static str],
    setup: Option<(&'static str, &'static str)>,
}

/// Checks the exit code, that nothing was left behind (no output, no temporary file) and that
/// no secret was printed.
fn check_case(case: &Case, verbose: &[&str]) {
    let dir = common::tempdir();
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let mut before = vec!["out".to_string()];
    if let Some((name, content)) = case.setup {
        std::fs::write(dir.path().join(name), content).unwrap();
        before.push(name.to_string());
        before.sort();
    }
    let args: Vec<String> = case
        .args
        .iter()
        .map(|a| a.replace("{dir}", dir.path().to_str().unwrap()))
        .collect();
    let mut cmd = gd();
    cmd.args(&args).args(verbose);
    if !args.iter().any(|a| a == "-o") {
        cmd.arg("-o").arg(out_dir.join("out.csv"));
    }
    let r = run(&mut cmd);
    let what = format!("{} {verbose:?}", case.name);
    assert_eq!(r.status.code(), Some(case.code), "{what}: exit code\n{r}");
    assert_eq!(
        common::dir_entries(&out_dir),
        Vec::<String>::new(),
        "{what}: files left in out/"
    );
    assert_eq!(
        common::dir_entries(dir.path()),
        before,
        "{what}: files left behind"
    );
    if let Some((name, _)) = case.setup {
        assert!(
            dir.path().join(name).is_file(),
            "{what}: {name} was replaced"
        );
    }
    let text = r.output_text();
    for secret in case.secrets {
        assert!(
            !text.contains(secret),
            "{what}: the password {secret:?} was printed:\n{r}"
        );
    }
    assert!(
        !r.stderr.is_empty(),
        "{what}: failed without a message on stderr"
    );
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn failure_cases() -> Vec<Case> {
    let srv = server();
    let url = srv.url.as_str();
    let nopriv_db = srv.url_for("gd_nopriv", "other_pass", "gd_test");
    let nopriv = srv.url_for("gd_nopriv", "other_pass", "");
    let wrong_pw = srv.url_for("gd", "wrong_pass", "gd_test");
    let no_db = srv.url_for("gd", PASSWORD, "no_such_db");
    let case = |name, args: &[&str], code, secrets| Case {
        name,
        args: s(args),
        code,
        secrets,
        setup: None,
    };
    const PW: &[&str] = &[PASSWORD];
    const NOPRIV: &[&str] = &["other_pass"];
    vec![
        case("missing URL", &["-q", "SELECT 1"], 2, PW),
        case(
            "bad URL (port)",
            &[
                "--db-url",
                "mysql://gd:gd_pass@127.0.0.1:notaport/gd_test",
                "-q",
                "SELECT 1",
            ],
            2,
            PW,
        ),
        case(
            "bad URL (no scheme)",
            &["--db-url", "gd:gd_pass@nowhere", "-q", "SELECT 1"],
            2,
            PW,
        ),
        Case {
            setup: Some(("q.sql", "SELECT 1")),
            ..case(
                "both --query and --query-file",
                &[
                    "--db-url",
                    url,
                    "-q",
                    "SELECT 1",
                    "--query-file",
                    "{dir}/q.sql",
                ],
                2,
                PW,
            )
        },
        case(
            "unreadable query file",
            &["--db-url", url, "--query-file", "{dir}/missing.sql"],
            5,
            PW,
        ),
        case(
            "unreachable host",
            &[
                "--db-url",
                "mysql://gd:gd_pass@127.0.0.1:1/gd_test",
                "-q",
                "SELECT 1",
            ],
            3,
            PW,
        ),
        case(
            "wrong password",
            &["--db-url", &wrong_pw, "-q", "SELECT 1"],
            3,
            &["wrong_pass", PASSWORD],
        ),
        case(
            "unknown database",
            &["--db-url", &no_db, "-q", "SELECT 1"],
            3,
            PW,
        ),
        case(
            "database not allowed",
            &["--db-url", &nopriv_db, "-q", "SELECT 1"],
            3,
            NOPRIV,
        ),
        case(
            "table not allowed",
            &["--db-url", &nopriv, "-q", "SELECT * FROM gd_test.tricky"],
            4,
            NOPRIV,
        ),
        case(
            "SQL syntax error",
            &["--db-url", url, "-q", "SELEC 1"],
            4,
            PW,
        ),
        case(
            "error after rows",
            &["--db-url", url, "-q", ERROR_AFTER_ROWS],
            4,
            PW,
        ),
        case(
            "no rows without --allow-empty",
            &["--db-url", url, "-q", "SELECT * FROM gd_test.empty_table"],
            1,
            PW,
        ),
        case(
            "output directory does not exist",
            &[
                "--db-url",
                url,
                "-q",
                "SELECT 1",
                "-o",
                "{dir}/out/no/such/dir/x.csv",
            ],
            5,
            PW,
        ),
        Case {
            setup: Some(("a_file", "")),
            ..case(
                "output directory is a file",
                &[
                    "--db-url",
                    url,
                    "-q",
                    "SELECT 1",
                    "-o",
                    "{dir}/a_file/x.csv",
                ],
                5,
                PW,
            )
        },
    ]
}

fn check_failures(verbose: &[&str]) {
    for case in failure_cases() {
        check_case(&case, verbose);
    }
}

#[test]
fn failures_exit_with_their_code_and_leave_no_file() {
    check_failures(&[]);
}

#[test]
fn failures_with_vvv_never_print_the_password() {
    check_failures(&["-vvv"]);
}

#[test]
fn empty_result_with_allow_empty_writes_the_header_only() {
    let (_dir, csv) = export(
        "e.csv",
        "SELECT * FROM gd_test.empty_table",
        &["--allow-empty"],
    );
    assert_eq!(utf8(&csv), "id,name\n");
    let (_dir, tsv) = export(
        "e.tsv",
        "SELECT * FROM gd_test.empty_table",
        &["--allow-empty"],
    );
    assert_eq!(utf8(&tsv), "id\tname\n");
    let (_dir, json) = export(
        "e.json",
        "SELECT * FROM gd_test.empty_table",
        &["--allow-empty"],
    );
    assert!(json.ends_with(b"}\n"), "the document ends with a line feed");
    let doc = parse_json_doc(&json);
    assert!(doc.data.is_empty());
}

#[test]
fn successful_export_with_vvv_never_prints_the_password() {
    let dir = common::tempdir();
    let (path, r) = export_to(dir.path(), "t.csv", TRICKY_QUERY, &["-vvv"]);
    r.assert_code(0);
    assert!(path.exists());
    assert!(
        !r.output_text().contains(PASSWORD),
        "password printed with -vvv:\n{r}"
    );
    assert_eq!(
        common::dir_entries(dir.path()),
        ["t.csv"],
        "temporary files left behind"
    );
}

#[test]
fn dump_config_redacts_the_password() {
    let url = &server().url;
    // From the flag.
    let r = run(gd().args([
        "--db-url",
        url,
        "-q",
        "SELECT 1",
        "-o",
        "x.csv",
        "--dump-config",
    ]));
    r.assert_code(0);
    assert!(!r.stdout.is_empty(), "--dump-config printed nothing");
    assert!(
        !r.output_text().contains(PASSWORD),
        "--dump-config printed the password:\n{r}"
    );
    // From the environment, with -vvv.
    let r = run(gd()
        .env("DATABASE_URL", url)
        .env("DATABASE_QUERY", "SELECT 1")
        .args(["-o", "x.csv", "--dump-config", "-vvv"]));
    r.assert_code(0);
    assert!(
        !r.output_text().contains(PASSWORD),
        "--dump-config -vvv printed the password:\n{r}"
    );
    // From a config file.
    let dir = common::tempdir();
    let cfg = dir.path().join("gd.toml");
    std::fs::write(&cfg, format!("db-url = \"{url}\"\nquery = \"SELECT 1\"\n")).unwrap();
    let r = run(gd()
        .arg("--config")
        .arg(&cfg)
        .args(["-o", "x.csv", "--dump-config"]));
    r.assert_code(0);
    assert!(
        !r.output_text().contains(PASSWORD),
        "--dump-config printed the password:\n{r}"
    );
}

/// The checks above must be able to fail: the server really holds what the fixture says.
#[test]
fn fixture_values_come_from_the_server() {
    let rows = server_values(
        "gd_test.all_types WHERE id = 2",
        &[
            "CAST(biu AS CHAR)",
            "CAST(CAST(b64 AS UNSIGNED) AS CHAR)",
            "bn",
        ],
    );
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][0].as_deref(), Some(&b"18446744073709551615"[..]));
    assert_eq!(rows[0][1].as_deref(), Some(&b"18446744073709551615"[..]));
    assert_eq!(rows[0][2].as_deref(), Some(&[0xFF; 4][..]));
    assert_eq!(binary_auto(&[0xC3, 0x28]), b"0xC328");
    assert_eq!(binary_auto("é".as_bytes()), "é".as_bytes());
    let tricky = tricky_rows();
    let ids: HashSet<&[u8]> = tricky.iter().map(|(id, _)| id.as_slice()).collect();
    assert_eq!(ids.len(), tricky.len());
    assert!(tricky.iter().any(|(_, v)| v.is_none()));
    assert!(tricky.iter().any(|(_, v)| v.as_deref() == Some(&b""[..])));
}
