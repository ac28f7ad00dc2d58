//! Parquet (issue 14, part 2): every file is read with pyarrow (tests/data/parquet_dump.py, run
//! by the python of GD_TEST_PYTHON, which scripts/test.sh installs) and compared with the
//! server's own values; the schema's physical and logical types with the column types that
//! information_schema reports.

use super::export_to;
use crate::common::{self, Column, Kind, gd, run, server, server_values, table_columns};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// pyarrow's view of a Parquet file.
struct Dump {
    /// (name, physical type, logical type as pyarrow prints it, max definition level).
    schema: Vec<(String, String, String, u64)>,
    rows: Vec<Vec<Value>>,
    row_groups: u64,
}

/// Reads `path` with pyarrow. Fails (never skips) without GD_TEST_PYTHON.
fn dump(path: &Path) -> Dump {
    let python = std::env::var("GD_TEST_PYTHON").expect(
        "GD_TEST_PYTHON is not set: run the tests through scripts/test.sh, which installs \
         pyarrow into target/py and exports it",
    );
    let script = common::repo_root().join("tests/data/parquet_dump.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    assert!(
        out.status.success(),
        "pyarrow could not read {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let schema = v["schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["physical"].as_str().unwrap().to_string(),
                c["logical"].as_str().unwrap().to_string(),
                c["max_def"].as_u64().unwrap(),
            )
        })
        .collect();
    let rows = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_array().unwrap().clone())
        .collect();
    Dump {
        schema,
        rows,
        row_groups: v["row_groups"].as_u64().unwrap(),
    }
}

fn text(v: &[u8]) -> &str {
    std::str::from_utf8(v).unwrap()
}

fn hex(v: &[u8]) -> String {
    v.iter().map(|b| format!("{b:02x}")).collect()
}

/// How a column must come out of a typed export, from information_schema's type (not from
/// our writer's rules): (physical, logical, server expression, how to compare).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Compare {
    /// Both sides as integers.
    Int,
    /// The exact text of a DECIMAL.
    Decimal,
    /// The f32 / f64 the server's text rounds to, bit for bit.
    Float32,
    Float64,
    /// ISO date text.
    Date,
    /// `YYYY-MM-DD HH:MM:SS.ffffff` (DATETIME, wall clock).
    DateTime,
    /// Microseconds since the epoch (TIMESTAMP, an instant).
    Instant,
    /// UTF-8 text bytes.
    Str,
    /// Raw bytes.
    Bytes,
}

fn expectation(c: &Column, dates_as_text: bool) -> (String, String, String, Compare) {
    let name = format!("`{}`", c.name);
    let unsigned = c.column_type.contains("unsigned");
    let int = |physical: &str, bits: u32, signed: bool| {
        (
            physical.to_string(),
            format!("Int(bitWidth={bits}, isSigned={signed})"),
            c.exact_expr(),
            Compare::Int,
        )
    };
    let dt = c.data_type.as_str();
    match dt {
        "tinyint" => int("INT32", 8, !unsigned),
        "smallint" => int("INT32", 16, !unsigned),
        "mediumint" | "int" => int("INT32", 32, !unsigned),
        "bigint" => int("INT64", 64, !unsigned),
        "year" => int("INT32", 16, true),
        "bit" => int("INT64", 64, false),
        "decimal" => {
            // decimal(p,s) [unsigned]
            let inner = &c.column_type
                [c.column_type.find('(').unwrap() + 1..c.column_type.find(')').unwrap()];
            let (p, s) = inner.split_once(',').unwrap();
            // The spec's choice by precision: INT32 up to 9 digits, INT64 up to 18.
            let physical = match p.parse::<u32>().unwrap() {
                0..=9 => "INT32",
                10..=18 => "INT64",
                _ => "FIXED_LEN_BYTE_ARRAY",
            };
            (
                physical.into(),
                format!("Decimal(precision={p}, scale={s})"),
                c.exact_expr(),
                Compare::Decimal,
            )
        }
        "float" => (
            "FLOAT".into(),
            "None".into(),
            c.exact_expr(),
            Compare::Float32,
        ),
        "double" => (
            "DOUBLE".into(),
            "None".into(),
            c.exact_expr(),
            Compare::Float64,
        ),
        "date" | "datetime" | "timestamp" if dates_as_text => (
            "BYTE_ARRAY".into(),
            "String".into(),
            c.exact_expr(),
            Compare::Str,
        ),
        "date" => ("INT32".into(), "Date".into(), c.exact_expr(), Compare::Date),
        "datetime" => (
            "INT64".into(),
            "Timestamp(isAdjustedToUTC=false, timeUnit=microseconds".into(),
            format!("DATE_FORMAT({name}, '%Y-%m-%d %H:%i:%s.%f')"),
            Compare::DateTime,
        ),
        "timestamp" => (
            "INT64".into(),
            "Timestamp(isAdjustedToUTC=true, timeUnit=microseconds".into(),
            // An instant, whatever the session's zone: the server's own arithmetic.
            format!("CAST(CAST(UNIX_TIMESTAMP({name}) * 1000000 AS SIGNED) AS CHAR)"),
            Compare::Instant,
        ),
        "time" => (
            "INT64".into(),
            "None".into(),
            format!("CAST(CAST(TIME_TO_SEC({name}) * 1000000 AS SIGNED) AS CHAR)"),
            Compare::Int,
        ),
        _ => match c.kind {
            Kind::Binary => (
                "BYTE_ARRAY".into(),
                "None".into(),
                c.exact_expr(),
                Compare::Bytes,
            ),
            Kind::Json => (
                "BYTE_ARRAY".into(),
                "JSON".into(),
                c.exact_expr(),
                Compare::Str,
            ),
            _ => (
                "BYTE_ARRAY".into(),
                "String".into(),
                c.exact_expr(),
                Compare::Str,
            ),
        },
    }
}

/// One value of pyarrow's dump against the server's bytes for it.
fn check_value(what: &str, cmp: Compare, got: &Value, want: &Option<Vec<u8>>) {
    let Some(want) = want else {
        assert!(got.is_null(), "{what}: NULL expected, pyarrow read {got}");
        return;
    };
    let field = |key: &str| -> String {
        got[key]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: expected a {key:?} value, pyarrow read {got}"))
            .to_string()
    };
    match cmp {
        Compare::Int | Compare::Instant => {
            let key = if cmp == Compare::Int { "i" } else { "us" };
            let g: i128 = field(key).parse().unwrap();
            let w: i128 = text(want).parse().unwrap();
            assert_eq!(g, w, "{what}");
        }
        Compare::Decimal => assert_eq!(field("d"), text(want), "{what}"),
        Compare::Float32 => {
            let g = field("f").parse::<f64>().unwrap() as f32;
            let w: f32 = text(want).parse().unwrap();
            assert_eq!(g.to_bits(), w.to_bits(), "{what}: {g} vs {w}");
        }
        Compare::Float64 => {
            let g: f64 = field("f").parse().unwrap();
            let w: f64 = text(want).parse().unwrap();
            assert_eq!(g.to_bits(), w.to_bits(), "{what}: {g} vs {w}");
        }
        Compare::Date => assert_eq!(field("date"), text(want), "{what}"),
        Compare::DateTime => assert_eq!(field("text"), text(want), "{what}"),
        Compare::Str => assert_eq!(field("s"), hex(want), "{what}"),
        Compare::Bytes => assert_eq!(field("b"), hex(want), "{what}"),
    }
}

/// Exports `where_` rows of all_types to Parquet with `extra` and checks schema and values.
fn check_all_types(where_: &str, extra: &[&str], dates_as_text: bool) -> Dump {
    let columns = table_columns("gd_test", "all_types");
    let expected: Vec<_> = columns
        .iter()
        .map(|c| expectation(c, dates_as_text))
        .collect();
    let exprs: Vec<&str> = expected.iter().map(|e| e.2.as_str()).collect();
    let from = format!("gd_test.all_types {where_} ORDER BY id");
    let want = server_values(&from, &exprs);
    let query = format!("SELECT * FROM {from}");
    let dir = common::tempdir();
    let (path, r) = export_to(dir.path(), "all.parquet", &query, extra);
    r.assert_code(0);
    let d = dump(&path);
    assert_eq!(d.schema.len(), columns.len());
    for ((c, e), s) in columns.iter().zip(&expected).zip(&d.schema) {
        assert_eq!(s.0, c.name);
        assert_eq!(s.1, e.0, "{}: physical type", c.name);
        assert!(
            s.2.starts_with(&e.1),
            "{}: logical type {} (expected {})",
            c.name,
            s.2,
            e.1
        );
        assert_eq!(s.3, 1, "{}: OPTIONAL", c.name);
    }
    assert_eq!(d.rows.len(), want.len(), "one row per server row");
    for (r, (got, want)) in d.rows.iter().zip(&want).enumerate() {
        for (i, c) in columns.iter().enumerate() {
            let what = format!("row {} column {}", r + 1, c.name);
            check_value(&what, expected[i].3, &got[i], &want[i]);
        }
    }
    d
}

#[test]
fn all_types_parquet_matches_server() {
    // Row 3 holds the zero dates (see the tests below).
    let d = check_all_types("WHERE id <> 3", &[], false);
    assert_eq!(d.rows.len(), 6);
    // The limits the issue names are in the fixture and were compared above.
    let names: Vec<&str> = d.schema.iter().map(|s| s.0.as_str()).collect();
    for col in [
        "dec65", "biu", "b64", "yr", "tm6", "dtm", "ts", "js", "lbl", "geo",
    ] {
        assert!(names.contains(&col), "{col}");
    }
}

#[test]
fn parquet_dates_string_keeps_zero_dates_as_the_server_text() {
    let d = check_all_types("", &["--parquet-dates", "string"], true);
    assert_eq!(d.rows.len(), 7);
}

#[test]
fn a_zero_date_fails_naming_column_row_and_option_and_leaves_no_file() {
    let dir = common::tempdir();
    let (path, r) = export_to(
        dir.path(),
        "z.parquet",
        "SELECT id, dt FROM gd_test.all_types ORDER BY id",
        &[],
    );
    r.assert_code(4);
    let err = r.output_text();
    for part in ["\"dt\"", "row 3", "0000-00-00", "--parquet-dates string"] {
        assert!(err.contains(part), "{part:?} missing from: {err}");
    }
    assert!(!path.exists());
    assert!(
        common::dir_entries(dir.path()).is_empty(),
        "{:?}",
        common::dir_entries(dir.path())
    );
    // An invalid date that is not all zeros, in a DATETIME (MariaDB's CAST keeps a zero month
    // without NO_ZERO_IN_DATE): refused too, and kept as the server's text by the option.
    let query = "SELECT CAST('2024-00-15 10:00:00' AS DATETIME) AS bad";
    let (_, r) = export_to(dir.path(), "z.parquet", query, &[]);
    r.assert_code(4);
    assert!(
        r.output_text().contains("\"bad\", row 1"),
        "{}",
        r.output_text()
    );
    assert!(common::dir_entries(dir.path()).is_empty());
    let want = server_values(query, &["CAST(bad AS CHAR)"]);
    let (path, r) = export_to(
        dir.path(),
        "s.parquet",
        query,
        &["--parquet-dates", "string"],
    );
    r.assert_code(0);
    let d = dump(&path);
    assert_eq!(d.schema[0].2, "String");
    check_value("bad", Compare::Str, &d.rows[0][0], &want[0][0]);
}

#[test]
fn parquet_over_two_connections_equals_one() {
    super::parallel::tables();
    let dir = common::tempdir();
    let one = dir.path().join("one.parquet");
    let two = dir.path().join("two.parquet");
    let base = [
        "--db-url",
        &server().url,
        "--table",
        "gd_test.par_skew",
        "--parquet-row-group-size",
        "64K",
        "-o",
    ];
    run(gd().args(base).arg(&one)).assert_code(0);
    run(gd()
        .args(base)
        .arg(&two)
        .args(["-j", "2", "--chunk-rows", "1000"]))
    .assert_code(0);
    let (a, b) = (dump(&one), dump(&two));
    assert_eq!(a.schema, b.schema);
    assert!(b.row_groups > 1, "{} row groups", b.row_groups);
    let sorted = |d: &Dump| {
        let mut rows: Vec<String> = d
            .rows
            .iter()
            .map(|r| serde_json::to_string(r).unwrap())
            .collect();
        rows.sort();
        rows
    };
    let (ra, rb) = (sorted(&a), sorted(&b));
    assert_eq!(ra.len(), 20_000);
    assert_eq!(ra, rb, "the same multiset of rows");
    // And the values are the server's (id, k, d, v).
    let want = server_values(
        "gd_test.par_skew ORDER BY id",
        &[
            "CAST(id AS CHAR)",
            "CAST(k AS CHAR)",
            "CAST(d AS CHAR)",
            "v",
        ],
    );
    let mut by_id = a.rows.clone();
    by_id.sort_by_key(|r| r[0]["i"].as_str().unwrap().parse::<i64>().unwrap());
    for (got, want) in by_id.iter().zip(&want) {
        check_value("id", Compare::Int, &got[0], &want[0]);
        check_value("k", Compare::Int, &got[1], &want[1]);
        check_value("d", Compare::Date, &got[2], &want[2]);
        check_value("v", Compare::Str, &got[3], &want[3]);
    }
}

#[test]
fn parquet_refuses_stream_compression_and_another_time_zone() {
    let dir = common::tempdir();
    let q = "SELECT 1";
    for (name, extra) in [
        ("x.parquet.zst", &[][..]),
        ("x.parquet", &["--compress", "gzip"][..]),
        ("x.parquet", &["--time-zone", "+05:30"][..]),
        ("x.parquet", &["--parquet-row-group-size", "1K"][..]),
    ] {
        let (path, r) = export_to(dir.path(), name, q, extra);
        r.assert_code(2);
        assert!(!path.exists(), "{name} {extra:?}");
    }
    let (_, r) = export_to(dir.path(), "x.parquet", q, &["--compress", "gzip"]);
    assert!(
        r.output_text().contains("--parquet-compression"),
        "{}",
        r.output_text()
    );
    // +00:00 is what a Parquet export runs in anyway.
    let (_, r) = export_to(dir.path(), "ok.parquet", q, &["--time-zone", "+00:00"]);
    r.assert_code(0);
}

#[test]
fn timestamps_are_instants_whatever_zone_the_server_shows_them_in() {
    // In a session at +05:30 the server shows other wall-clock text for the same TIMESTAMP;
    // the file holds the instant (UNIX_TIMESTAMP is zone-free), not either text.
    let query = "SELECT id, ts FROM gd_test.all_types WHERE ts IS NOT NULL AND id <> 3 ORDER BY id";
    let instants = server_values(
        "gd_test.all_types WHERE ts IS NOT NULL AND id <> 3 ORDER BY id",
        &["CAST(CAST(UNIX_TIMESTAMP(ts) * 1000000 AS SIGNED) AS CHAR)"],
    );
    let shifted = server_values(
        "SELECT DATE_FORMAT(CONVERT_TZ(ts, @@session.time_zone, '+05:30'), \
         '%Y-%m-%d %H:%i:%s.%f') AS t FROM gd_test.all_types WHERE ts IS NOT NULL AND id <> 3 \
         ORDER BY id",
        &["t"],
    );
    let dir = common::tempdir();
    let (path, r) = export_to(dir.path(), "ts.parquet", query, &[]);
    r.assert_code(0);
    let d = dump(&path);
    assert_eq!(d.rows.len(), instants.len());
    assert!(!d.rows.is_empty());
    for ((got, want), local) in d.rows.iter().zip(&instants).zip(&shifted) {
        check_value("ts", Compare::Instant, &got[1], &want[0]);
        assert_ne!(
            got[1]["text"].as_str().unwrap(),
            text(local[0].as_deref().unwrap()),
            "the UTC reading differs from the +05:30 one"
        );
    }
}

#[test]
fn an_empty_result_with_allow_empty_is_a_valid_file_with_the_schema() {
    let dir = common::tempdir();
    let (path, r) = export_to(
        dir.path(),
        "e.parquet",
        "SELECT id, dec65 FROM gd_test.all_types WHERE id < 0",
        &["--allow-empty"],
    );
    r.assert_code(0);
    let d = dump(&path);
    assert!(d.rows.is_empty());
    assert_eq!(d.schema.len(), 2);
    assert!(d.schema[1].2.starts_with("Decimal(precision=65, scale=30)"));
}

/// Row groups bound the memory: ten times the rows, about the same peak (the same guard as the
/// text formats', tests/integration/streaming.rs).
#[test]
fn peak_memory_does_not_grow_with_the_row_count() {
    use super::streaming::{peak_rss_kib_to, rss_query};
    let small = peak_rss_kib_to("out.parquet", &rss_query(200_000), &[]);
    let large = peak_rss_kib_to("out.parquet", &rss_query(2_000_000), &[]);
    assert!(
        (large as f64) < small as f64 * 1.10,
        "peak RSS grew from {small} KiB (200 k rows) to {large} KiB (2 M rows)"
    );
    assert!(large < 64 * 1024, "peak RSS {large} KiB");
}

#[test]
fn every_page_compression_reads_back_the_same_rows() {
    // snappy and none (with dictionary pages) against the default zstd (without).
    let query = "SELECT * FROM gd_test.all_types WHERE id <> 3 ORDER BY id";
    let dir = common::tempdir();
    let (path, r) = export_to(dir.path(), "zstd.parquet", query, &[]);
    r.assert_code(0);
    let zstd = dump(&path);
    for method in ["snappy", "none"] {
        let name = format!("{method}.parquet");
        let (path, r) = export_to(dir.path(), &name, query, &["--parquet-compression", method]);
        r.assert_code(0);
        let d = dump(&path);
        assert_eq!(d.schema, zstd.schema, "{method}");
        assert_eq!(d.rows, zstd.rows, "{method}");
    }
}

#[test]
fn a_zero_date_over_two_connections_fails_the_whole_export() {
    // The shared writer's error reaches the merge of a parallel export too.
    let dir = common::tempdir();
    let path = dir.path().join("j.parquet");
    let r = run(gd()
        .args(["--db-url", &server().url, "-q"])
        .arg("SELECT id, dt FROM gd_test.all_types")
        .args(["-j", "2", "--split-by", "id", "--chunk-rows", "1", "-o"])
        .arg(&path));
    r.assert_code(4);
    assert!(
        r.output_text().contains("--parquet-dates string"),
        "{}",
        r.output_text()
    );
    assert!(common::dir_entries(dir.path()).is_empty());
}

#[test]
fn parquet_to_stdout_is_the_same_file() {
    let query = "SELECT * FROM gd_test.all_types WHERE id <> 3 ORDER BY id";
    let dir = common::tempdir();
    let (path, r) = export_to(dir.path(), "f.parquet", query, &[]);
    r.assert_code(0);
    let r = run(gd().args([
        "--db-url",
        &server().url,
        "-q",
        query,
        "-f",
        "parquet",
        "-o",
        "-",
    ]));
    r.assert_code(0);
    let piped = dir.path().join("piped.parquet");
    std::fs::write(&piped, &r.stdout).unwrap();
    let (a, b) = (dump(&path), dump(&piped));
    assert_eq!(a.schema, b.schema);
    assert_eq!(a.rows, b.rows);
}

#[test]
fn split_parquet_files_are_each_whole_with_the_rows_in_order() {
    super::parallel::tables();
    let dir = common::tempdir();
    let whole = dir.path().join("whole.parquet");
    let base = [
        "--db-url",
        &server().url,
        "-q",
        "SELECT * FROM gd_test.par_skew ORDER BY id",
        "--parquet-row-group-size",
        "64K",
        "-o",
    ];
    run(gd().args(base).arg(&whole)).assert_code(0);
    run(gd()
        .args(base)
        .arg(dir.path().join("part.parquet"))
        .args(["--max-rows-per-file", "7000"]))
    .assert_code(0);
    let all = dump(&whole);
    assert_eq!(all.rows.len(), 20_000);
    let mut rows = Vec::new();
    for (i, want_rows) in [7_000, 7_000, 6_000].into_iter().enumerate() {
        let part = dump(&dir.path().join(format!("part-{:05}.parquet", i + 1)));
        assert_eq!(part.schema, all.schema);
        assert_eq!(part.rows.len(), want_rows);
        // Row groups as large as in the unsplit file: not one per row.
        let per_group = part.rows.len() as u64 / part.row_groups;
        let whole_per_group = all.rows.len() as u64 / all.row_groups;
        assert!(
            per_group * 2 >= whole_per_group,
            "part {}: {} rows in {} groups; unsplit: {} rows per group",
            i + 1,
            part.rows.len(),
            part.row_groups,
            whole_per_group
        );
        rows.extend(part.rows);
    }
    assert!(!dir.path().join("part-00004.parquet").exists());
    assert_eq!(rows, all.rows, "the parts are the unsplit file, in order");
    // And the unsplit file holds the server's values (the id and text columns).
    let want = server_values("gd_test.par_skew ORDER BY id", &["CAST(id AS CHAR)", "v"]);
    for (got, want) in rows.iter().zip(&want) {
        check_value("id", Compare::Int, &got[0], &want[0]);
        check_value("v", Compare::Str, &got[3], &want[1]);
    }
}
