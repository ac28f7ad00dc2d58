//! `--protocol binary` (issue 13): the prepared statement's binary rows, transcoded, give the
//! text protocol's output byte for byte except FLOAT and DOUBLE, which are checked against the
//! server's exact values; the fallback to the text protocol, several result sets, an error
//! after rows, rows over 16 MiB, read-only sessions, warnings and `-j 2` behave as with text.

use super::common::{self, Run, gd, mariadb_batch, read, run, server, table_columns};
use std::path::Path;
use std::process::Command;

/// Exports `query` with `--protocol protocol` into `dir/file_name` (with `-vv`, so that the
/// log says which protocol was used); returns the run and the file's bytes (empty when the
/// export left no file).
fn export_with(
    dir: &Path,
    protocol: &str,
    file_name: &str,
    query: &str,
    extra: &[&str],
) -> (Run, Vec<u8>) {
    let path = dir.join(format!("{protocol}-{file_name}"));
    let r = run(gd()
        .args([
            "--db-url",
            &server().url,
            "-q",
            query,
            "--protocol",
            protocol,
        ])
        .arg("-o")
        .arg(&path)
        .args(extra));
    let bytes = if path.exists() {
        read(&path)
    } else {
        Vec::new()
    };
    (r, bytes)
}

/// Whether the run's rows came in the binary protocol (the `-vv` line of Session).
fn used_binary(r: &Run) -> bool {
    String::from_utf8_lossy(&r.stderr).contains("the rows arrive in binary")
}

/// stderr without the log lines that differ between any two runs (connection ids, timing).
fn messages(r: &Run) -> String {
    String::from_utf8_lossy(&r.stderr)
        .lines()
        .filter(|l| {
            !l.contains("connected to")
                && !l.contains("exported ")
                && !l.contains("DEBUG")
                && !l.contains("TRACE")
                && !l.contains("INFO")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Exports `query` in both protocols (`-vv`); both must exit 0, the binary one over the binary
/// protocol; returns the two outputs.
fn both(file_name: &str, query: &str, extra: &[&str]) -> (Vec<u8>, Vec<u8>) {
    let dir = common::tempdir();
    let extra: Vec<&str> = extra.iter().copied().chain(["-vv"]).collect();
    let (rt, text) = export_with(dir.path(), "text", file_name, query, &extra);
    rt.assert_code(0);
    assert!(!used_binary(&rt), "the text export used binary: {rt}");
    let (rb, binary) = export_with(dir.path(), "binary", file_name, query, &extra);
    rb.assert_code(0);
    assert!(used_binary(&rb), "the binary export did not prepare: {rb}");
    (text, binary)
}

/// The significant digits of a decimal number's text.
fn significant(text: &str) -> usize {
    let mantissa = text.split(['e', 'E']).next().unwrap_or_default();
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    digits.trim_start_matches('0').trim_end_matches('0').len()
}

fn assert_same(text: &[u8], binary: &[u8], what: &str) {
    if text != binary {
        let at = text
            .iter()
            .zip(binary)
            .position(|(a, b)| a != b)
            .unwrap_or(text.len().min(binary.len()));
        let from = at.saturating_sub(80);
        panic!(
            "{what}: binary differs from text at byte {at} (lengths {} and {}):\ntext:   {:?}\nbinary: {:?}",
            text.len(),
            binary.len(),
            String::from_utf8_lossy(&text[from..(at + 80).min(text.len())]),
            String::from_utf8_lossy(&binary[from..(at + 80).min(binary.len())]),
        );
    }
}

/// Every column of all_types but FLOAT and DOUBLE, in every format: the same bytes.
#[test]
fn all_types_in_binary_are_the_text_protocols_bytes_except_float_and_double() {
    let columns = table_columns("gd_test", "all_types");
    let kept: Vec<String> = columns
        .iter()
        .filter(|c| !matches!(c.data_type.as_str(), "float" | "double"))
        .map(|c| format!("`{}`", c.name))
        .collect();
    assert_eq!(
        kept.len() + 2,
        columns.len(),
        "one FLOAT and one DOUBLE left out"
    );
    let query = format!(
        "SELECT {} FROM gd_test.all_types ORDER BY id",
        kept.join(", ")
    );
    for file in ["t.csv", "t.tsv", "t.json", "t.ndjson"] {
        let (text, binary) = both(file, &query, &[]);
        assert_same(&text, &binary, file);
    }
    // With options that change how values are written.
    let (text, binary) = both(
        "o.json",
        &query,
        &["--pretty", "--json-big-numbers", "string"],
    );
    assert_same(&text, &binary, "--pretty --json-big-numbers string");
    let (text, binary) = both("o.csv", &query, &["--null", r"\N", "--binary", "base64"]);
    assert_same(&text, &binary, "--null --binary base64");
}

/// FLOAT and DOUBLE values, through independent readers: `f32`/`f64` parsing in Rust and
/// Python's float(), compared with the server's exact value (`CAST(f AS DOUBLE)` is exact for a
/// FLOAT, and the server prints a DOUBLE in a form that reads back exactly); fixed-decimal
/// columns are the text protocol's text.
#[test]
fn float_and_double_read_back_to_the_stored_values() {
    mariadb_batch(
        "CREATE OR REPLACE TABLE gd_test.bin_floats (id INT PRIMARY KEY, f FLOAT NULL, \
           d DOUBLE NULL, f2 FLOAT(7,2) NULL, d3 DOUBLE(14,3) NULL);
         INSERT INTO gd_test.bin_floats VALUES
           (1, 16777216, 16777216, 12.34, 123456789.123),
           (2, 1/7, 1/7, -0.5, -0.001),
           (3, 1e20, 1e20, 0, 0),
           (4, 1e-7, 1e-7, 99999.99, 99999999999.999),
           (5, 3.4028234e38, 1.7976931348623157e308, 1.5, 2.5),
           (6, -1.4e-45, -4.9e-324, -1, 1),
           (7, 0.1, 0.1, 0.1, 0.1),
           (8, 1e15, 1e15, 3, 3),
           (9, 1e-16, 1e-16, 4, 4),
           (10, 123456.7, 123456789012345678, 5, 5),
           (11, NULL, NULL, NULL, NULL),
           (12, 1.17549435e-38, 2.2250738585072014e-308, 6, 6);",
    );
    let query = "SELECT id, f, d, f2, d3 FROM gd_test.bin_floats ORDER BY id";
    // The exact values, and the text protocol's text of the fixed-decimal columns.
    let exact = mariadb_batch(
        "SELECT id, CAST(f AS DOUBLE), d, f2, d3 FROM gd_test.bin_floats ORDER BY id",
    );
    let text = |v: &Option<Vec<u8>>| v.as_deref().map(|b| String::from_utf8(b.to_vec()).unwrap());
    let dir = common::tempdir();
    let (r, csv) = export_with(dir.path(), "binary", "f.csv", query, &["-vv"]);
    r.assert_code(0);
    assert!(used_binary(&r));
    let records: Vec<csv::StringRecord> = csv::Reader::from_reader(csv.as_slice())
        .records()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(records.len(), exact.len());
    let mut python_pairs = String::new();
    for (rec, row) in records.iter().zip(&exact) {
        let id = text(&row[0]).unwrap();
        assert_eq!(&rec[0], id);
        let (Some(f), Some(d)) = (text(&row[1]), text(&row[2])) else {
            assert_eq!(
                (&rec[1], &rec[2], &rec[3], &rec[4]),
                ("", "", "", ""),
                "id {id}"
            );
            continue;
        };
        let want_f = f.parse::<f64>().unwrap() as f32;
        assert_eq!(
            rec[1].parse::<f32>().unwrap().to_bits(),
            want_f.to_bits(),
            "id {id}: FLOAT {}",
            &rec[1]
        );
        let want_d = d.parse::<f64>().unwrap();
        assert_eq!(
            rec[2].parse::<f64>().unwrap().to_bits(),
            want_d.to_bits(),
            "id {id}: DOUBLE {}",
            &rec[2]
        );
        // The shortest form: no more significant digits than Rust's own shortest form of
        // the f32.
        assert!(
            significant(&rec[1]) <= significant(&format!("{want_f:e}")),
            "id {id}: FLOAT {} is longer than needed",
            &rec[1]
        );
        // Fixed decimals: the text protocol's own text.
        assert_eq!(
            Some(rec[3].to_string()),
            text(&row[3]),
            "id {id}: FLOAT(7,2)"
        );
        assert_eq!(
            Some(rec[4].to_string()),
            text(&row[4]),
            "id {id}: DOUBLE(14,3)"
        );
        python_pairs.push_str(&format!("{} {} {} {}\n", &rec[1], f, &rec[2], d));
    }
    assert!(
        csv.windows(8).any(|w| w == b"16777216"),
        "FLOAT 16777216 unrounded"
    );
    // Python's float() of our text: the DOUBLE, and the FLOAT as a 4-byte float.
    let out = Command::new("python3")
        .arg("-c")
        .arg(
            "import struct,sys\n\
             f4=lambda x: struct.unpack('<f', struct.pack('<f', x))[0]\n\
             for line in sys.stdin:\n\
             \x20   ours_f, srv_f, ours_d, srv_d = line.split()\n\
             \x20   assert f4(float(ours_f)) == f4(float(srv_f)), line\n\
             \x20   assert float(ours_d) == float(srv_d), line\n\
             print('ok')",
        )
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(python_pairs.as_bytes())?;
            child.wait_with_output()
        })
        .expect("python3 runs");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok", "{out:?}");

    // JSON: the same values as numbers.
    let (r, json) = export_with(dir.path(), "binary", "f.json", query, &[]);
    r.assert_code(0);
    let doc: serde_json::Value = serde_json::from_slice(&json).unwrap();
    for (obj, row) in doc["data"].as_array().unwrap().iter().zip(&exact) {
        match (text(&row[1]), text(&row[2])) {
            (Some(f), Some(d)) => {
                let got_f = obj["f"].as_f64().unwrap() as f32;
                assert_eq!(
                    got_f.to_bits(),
                    (f.parse::<f64>().unwrap() as f32).to_bits()
                );
                assert_eq!(
                    obj["d"].as_f64().unwrap().to_bits(),
                    d.parse::<f64>().unwrap().to_bits()
                );
            }
            _ => assert!(obj["f"].is_null() && obj["d"].is_null()),
        }
    }
}

/// bench.mixed at 100,000 rows (scripts/test-db.sh seed-bench): every column but `ratio`
/// (DOUBLE) and `score` (FLOAT) the same bytes; those two equal to the server's exact values.
#[test]
fn bench_mixed_100k_in_binary_is_the_text_protocols_bytes_except_float_and_double() {
    let seed = Command::new(common::repo_root().join("scripts/test-db.sh"))
        .args(["seed-bench", "100000"])
        .output()
        .expect("scripts/test-db.sh runs");
    assert!(seed.status.success(), "seed-bench: {seed:?}");
    let columns = table_columns("bench", "mixed_100000");
    let kept: Vec<String> = columns
        .iter()
        .filter(|c| c.name != "ratio" && c.name != "score")
        .map(|c| format!("`{}`", c.name))
        .collect();
    assert_eq!(kept.len() + 2, columns.len());
    let query = format!(
        "SELECT {} FROM bench.mixed_100000 ORDER BY id",
        kept.join(", ")
    );
    for file in ["m.csv", "m.ndjson"] {
        let (text, binary) = both(file, &query, &[]);
        assert_same(&text, &binary, file);
    }
    let (_, floats) = both(
        "f.tsv",
        "SELECT id, score, ratio FROM bench.mixed_100000 ORDER BY id",
        &[],
    );
    let exact = mariadb_batch(
        "SELECT id, CAST(score AS DOUBLE), ratio FROM bench.mixed_100000 ORDER BY id",
    );
    let lines: Vec<&[u8]> = floats
        .split(|&b| b == b'\n')
        .skip(1)
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(lines.len(), 100_000);
    assert_eq!(exact.len(), 100_000);
    let s = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
    for (line, row) in lines.iter().zip(&exact) {
        let f: Vec<&[u8]> = line.split(|&b| b == b'\t').collect();
        assert_eq!(f[0], row[0].as_deref().unwrap());
        let score = s(row[1].as_deref().unwrap()).parse::<f64>().unwrap() as f32;
        assert_eq!(
            s(f[1]).parse::<f32>().unwrap().to_bits(),
            score.to_bits(),
            "{}",
            s(line)
        );
        let ratio = s(row[2].as_deref().unwrap()).parse::<f64>().unwrap();
        assert_eq!(
            s(f[2]).parse::<f64>().unwrap().to_bits(),
            ratio.to_bits(),
            "{}",
            s(line)
        );
    }
}

/// A statement the server cannot prepare, a syntax error and a `?` run with the text
/// protocol: the text protocol's error and exit code, and the fallback is logged.
#[test]
fn statements_that_cannot_be_prepared_fall_back_to_the_text_protocol() {
    let dir = common::tempdir();
    for (query, why) in [
        // ER_UNSUPPORTED_PS (1295) when prepared; the text protocol says 1243.
        ("EXECUTE gd_no_such_statement", "1295"),
        ("SELEC 1", "1064"),
        ("SELECT ? AS x", "parameter placeholders"),
    ] {
        let (rt, _) = export_with(dir.path(), "text", "x.csv", query, &[]);
        let (rb, _) = export_with(dir.path(), "binary", "x.csv", query, &["-v"]);
        assert_eq!(rt.code(), 4, "{query}: {rt}");
        assert_eq!(rb.code(), rt.code(), "{query}: {rb}");
        assert_eq!(messages(&rb), messages(&rt), "{query}: the same error");
        let log = String::from_utf8_lossy(&rb.stderr);
        assert!(
            log.contains("text protocol") && log.contains(why),
            "{query}: the fallback is not logged: {rb}"
        );
        assert!(!used_binary(&rb));
    }
    assert_eq!(common::dir_entries(dir.path()), Vec::<String>::new());
}

/// CALL with two result sets, prepared: fails with 4 as with text, and `--first-result-only`
/// exports the first in binary (the FLOAT is not rounded).
#[test]
fn several_result_sets_in_binary() {
    mariadb_batch(
        "DELIMITER //\nCREATE OR REPLACE PROCEDURE gd_test.bin_two_sets() \
         BEGIN SELECT 1 AS a, CAST(16777216 AS FLOAT) AS f, TIME'-838:59:59' AS t; \
         SELECT 2 AS b; END//",
    );
    let dir = common::tempdir();
    let (rt, _) = export_with(
        dir.path(),
        "text",
        "c.csv",
        "CALL gd_test.bin_two_sets()",
        &[],
    );
    let (rb, _) = export_with(
        dir.path(),
        "binary",
        "c.csv",
        "CALL gd_test.bin_two_sets()",
        &[],
    );
    rt.assert_code(4);
    rb.assert_code(4);
    assert_eq!(messages(&rb), messages(&rt));
    assert_eq!(common::dir_entries(dir.path()), Vec::<String>::new());
    let extra = ["--first-result-only", "-vv"];
    let (rb, binary) = export_with(
        dir.path(),
        "binary",
        "c.csv",
        "CALL gd_test.bin_two_sets()",
        &extra,
    );
    rb.assert_code(0);
    assert!(used_binary(&rb));
    let (rt, text) = export_with(
        dir.path(),
        "text",
        "c.csv",
        "CALL gd_test.bin_two_sets()",
        &extra,
    );
    rt.assert_code(0);
    // The server's own text rounds the FLOAT to six digits.
    let server = mariadb_batch("SELECT TIME'-838:59:59', CAST(16777216 AS FLOAT)");
    let (t, f) = (server[0][0].clone().unwrap(), server[0][1].clone().unwrap());
    assert_eq!(
        text,
        [b"a,f,t\n1,".as_slice(), &f, b",", &t, b"\n"].concat()
    );
    assert_eq!(
        binary,
        [b"a,f,t\n1,16777216,".as_slice(), &t, b"\n"].concat()
    );
    assert_eq!(
        messages(&rb),
        messages(&rt),
        "the same warning about the second set"
    );
}

/// ERR after rows, the read-only session's refusal and the server's warnings: what the text
/// protocol gives.
#[test]
fn errors_after_rows_read_only_refusals_and_warnings_as_with_text() {
    let dir = common::tempdir();
    for (query, code) in [
        (super::ERROR_AFTER_ROWS, 4),
        ("UPDATE gd_test.tricky SET v = v WHERE id < 0", 4),
        ("SELECT 1 AS a, CAST('12abc' AS INT) AS b, 1/0 AS c", 0),
    ] {
        let (rt, text) = export_with(dir.path(), "text", "e.csv", query, &[]);
        let (rb, binary) = export_with(dir.path(), "binary", "e.csv", query, &["-vv"]);
        assert_eq!(rt.code(), code, "{query}: {rt}");
        assert_eq!(rb.code(), code, "{query}: {rb}");
        // MariaDB refuses to prepare the UPDATE in the read-only transaction: that one runs
        // as text, with the same error.
        assert_eq!(
            used_binary(&rb),
            !query.starts_with("UPDATE"),
            "{query}: {rb}"
        );
        assert_eq!(messages(&rb), messages(&rt), "{query}");
        assert_same(&text, &binary, query);
        if code == 0 {
            assert!(
                messages(&rb).contains("1292"),
                "the warnings are shown: {rb}"
            );
        }
    }
}

/// Rows at and over the 16 MiB packet size arrive whole in binary too.
#[test]
fn rows_over_16_mib_in_binary() {
    for query in [
        "SELECT id, v FROM gd_test.big_rows ORDER BY id",
        "SELECT v, id FROM gd_test.big_first ORDER BY id",
    ] {
        let (text, binary) = both("big.tsv", query, &[]);
        assert!(text.len() > 16 << 20, "{query}: {} bytes", text.len());
        assert_same(&text, &binary, query);
    }
}

/// `-j 2`: each chunk query prepared, executed and closed on its connection; the rows are the
/// one-connection text export's.
#[test]
fn parallel_chunks_in_binary() {
    super::parallel::tables();
    let dir = common::tempdir();
    let query = "SELECT id, k, d, v FROM gd_test.par_skew";
    let (rt, text) = export_with(dir.path(), "text", "p.csv", query, &[]);
    rt.assert_code(0);
    let args = ["-j", "2", "--split-by", "k", "--chunk-rows", "3000", "-vv"];
    let (rb, binary) = export_with(dir.path(), "binary", "p.csv", query, &args);
    rb.assert_code(0);
    let log = String::from_utf8_lossy(&rb.stderr);
    assert!(
        log.matches("the rows arrive in binary").count() > 2,
        "chunk queries were not prepared: {rb}"
    );
    let sorted = |b: &[u8]| {
        let mut lines: Vec<Vec<u8>> = b.split(|&c| c == b'\n').map(<[u8]>::to_vec).collect();
        lines.sort();
        lines
    };
    assert_eq!(sorted(&binary), sorted(&text));
}

/// ZEROFILL integers and floats are padded to their display width, as the text protocol does
/// (all_types has one ZEROFILL INT; FLOAT ZEROFILL is padded too).
#[test]
fn zerofill_columns_as_with_text() {
    mariadb_batch(
        "CREATE OR REPLACE TABLE gd_test.bin_zerofill (id INT PRIMARY KEY, f FLOAT ZEROFILL, \
           d DOUBLE(10,2) ZEROFILL, t TINYINT(2) ZEROFILL, b BIGINT ZEROFILL, \
           m MEDIUMINT(3) ZEROFILL);
         INSERT INTO gd_test.bin_zerofill VALUES (1, 1.5, 3.25, 5, 7, 123456),
           (2, NULL, 0, 0, 18446744073709551615, 0), (3, 100, 12345678.9, 99, 0, 1);",
    );
    let query = "SELECT * FROM gd_test.bin_zerofill ORDER BY id";
    for file in ["z.csv", "z.json"] {
        let (text, binary) = both(file, query, &[]);
        assert_same(&text, &binary, file);
    }
}
