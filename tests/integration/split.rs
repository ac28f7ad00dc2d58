//! Issue 14, part 4: split output (`--max-rows-per-file`, `--max-file-size`). Every part is
//! parsed on its own (the csv crate, serde_json, the system's zstd/gzip), the rows of all parts
//! together are compared with the server's values (the `mariadb` client), and failures must
//! leave no part and no temporary file.

use crate::common::{self, Run, gd, read, run, server, server_values};
use std::path::{Path, PathBuf};
use std::process::Command;

/// 2,345 rows with a comma, a quote and a line feed in `s`, and NULLs in `d`.
const QUERY: &str = "SELECT seq, CONCAT('r ', seq, ', \"q\"\n', REPEAT('x', seq % 300)) AS s, \
                     IF(seq % 7 = 0, NULL, MD5(seq)) AS d \
                     FROM gd_test.seq_1_to_120000 WHERE seq <= 2345 ORDER BY seq";

type Rows = Vec<Vec<Option<String>>>;

/// The server's values of `exprs` for each row of `sql` (exact, through `HEX()`).
fn server_rows(sql: &str, exprs: &[&str]) -> Rows {
    server_values(sql, exprs)
        .into_iter()
        .map(|r| {
            r.into_iter()
                .map(|f| f.map(|f| String::from_utf8(f).unwrap()))
                .collect()
        })
        .collect()
}

fn export(dir: &Path, name: &str, sql: &str, extra: &[&str]) -> Run {
    run(gd()
        .args(["--db-url", &server().url, "-q", sql, "-o"])
        .arg(dir.join(name))
        .args(extra))
}

/// The files in `dir`, sorted by name; none may be a temporary file.
fn files(dir: &Path) -> Vec<PathBuf> {
    let names = common::dir_entries(dir);
    assert!(
        names.iter().all(|n| !n.starts_with('.')),
        "temporary files left: {names:?}"
    );
    names.iter().map(|n| dir.join(n)).collect()
}

fn names(paths: &[PathBuf]) -> Vec<String> {
    paths
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// The system's decompressor for `path`'s suffix, or the bytes as they are.
fn plain_bytes(path: &Path) -> Vec<u8> {
    let tool = match path.extension().and_then(|e| e.to_str()) {
        Some("gz") => "gzip",
        Some("zst") => "zstd",
        _ => return read(path),
    };
    let out = Command::new(tool)
        .args(["-d", "-c"])
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    assert!(
        out.status.success(),
        "{tool} -dc {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// One part parsed on its own as `format`: its rows, each field as text (`None` for NULL in
/// JSON; CSV/TSV write NULL as an empty field, which reads as `Some("")`). A CSV/TSV part must
/// start with the header `columns`.
fn parse_part(bytes: &[u8], format: &str, columns: &[&str]) -> Rows {
    let value = |v: &serde_json::Value| match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    };
    let object = |o: &serde_json::Value| -> Vec<Option<String>> {
        let o = o.as_object().expect("a JSON object per row");
        assert_eq!(o.len(), columns.len(), "{o:?}");
        columns.iter().map(|c| value(&o[*c])).collect()
    };
    match format {
        "csv" | "tsv" => {
            let mut reader = csv::ReaderBuilder::new()
                .delimiter(if format == "csv" { b',' } else { b'\t' })
                .from_reader(bytes);
            let header: Vec<String> = reader
                .headers()
                .expect("a header")
                .iter()
                .map(str::to_string)
                .collect();
            assert_eq!(header, columns, "every part starts with the header");
            reader
                .records()
                .map(|r| {
                    r.expect("the part parses on its own")
                        .iter()
                        .map(|f| Some(f.to_string()))
                        .collect()
                })
                .collect()
        }
        "json" => {
            let doc: serde_json::Value =
                serde_json::from_slice(bytes).expect("each part is a whole JSON document");
            doc["data"]
                .as_array()
                .expect("{\"data\":[...]}")
                .iter()
                .map(object)
                .collect()
        }
        "ndjson" => {
            let text = std::str::from_utf8(bytes).unwrap();
            assert!(text.is_empty() || text.ends_with('\n'));
            text.lines()
                .map(|l| object(&serde_json::from_str(l).expect("one object per line")))
                .collect()
        }
        other => panic!("no parser for {other}"),
    }
}

/// The server's rows as a CSV/TSV part reads them: NULL is an empty field.
fn as_delimited(rows: &Rows) -> Rows {
    rows.iter()
        .map(|r| {
            r.iter()
                .map(|f| Some(f.clone().unwrap_or_default()))
                .collect()
        })
        .collect()
}

const COLUMNS: [&str; 3] = ["seq", "s", "d"];
const EXPRS: [&str; 3] = ["CAST(seq AS CHAR)", "s", "d"];

#[test]
fn rows_per_file_in_every_format_each_part_whole_and_exact() {
    let want = server_rows(QUERY, &EXPRS);
    assert_eq!(want.len(), 2345);
    for name in [
        "out.csv",
        "out.tsv",
        "out.json",
        "out.ndjson",
        "out.csv.zst",
        "out.json.gz",
    ] {
        let dir = common::tempdir();
        let r = export(
            dir.path(),
            name,
            QUERY,
            &["--max-rows-per-file", "500", "-v"],
        );
        r.assert_code(0);
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert!(
            stderr.contains("to 5 files, "),
            "{name}: the summary line: {stderr}"
        );
        let parts = files(dir.path());
        let (stem, ext) = name.split_once('.').unwrap();
        let expected: Vec<String> = (1..=5).map(|n| format!("{stem}-{n:05}.{ext}")).collect();
        assert_eq!(names(&parts), expected, "{name}");
        let format = ext.split('.').next().unwrap();
        let mut all = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            let rows = parse_part(&plain_bytes(part), format, &COLUMNS);
            let want_rows = if i < 4 { 500 } else { 345 };
            assert_eq!(rows.len(), want_rows, "{}", part.display());
            all.extend(rows);
        }
        let want = if matches!(format, "csv" | "tsv") {
            as_delimited(&want)
        } else {
            want.clone()
        };
        assert!(
            all == want,
            "{name}: the parts' rows differ from the server's"
        );
    }
}

#[test]
fn file_size_limit_starts_a_file_at_the_first_row_boundary_past_it() {
    let want = as_delimited(&server_rows(QUERY, &EXPRS));
    let limit = 20_000;
    let dir = common::tempdir();
    export(
        dir.path(),
        "out.csv",
        QUERY,
        &["--max-file-size", &limit.to_string()],
    )
    .assert_code(0);
    let parts = files(dir.path());
    assert!(parts.len() > 5, "{} parts", parts.len());
    let mut all = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let bytes = read(part);
        // The last row's bytes, as the csv crate reads it: where its last record starts.
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(bytes.as_slice());
        let mut record = csv::ByteRecord::new();
        let mut last_start = 0;
        while reader.read_byte_record(&mut record).unwrap() {
            last_start = record.position().unwrap().byte() as usize;
        }
        let size = bytes.len();
        // Not full before its last row, or the last row would have started the next file.
        assert!(
            last_start < limit,
            "{}: {last_start} bytes before the last row",
            part.display()
        );
        if i + 1 < parts.len() {
            assert!(
                size >= limit,
                "{}: {size} bytes, cut before the limit",
                part.display()
            );
        }
        all.extend(parse_part(&bytes, "csv", &COLUMNS));
    }
    assert!(all == want, "the parts' rows differ from the server's");
}

#[test]
fn a_row_larger_than_the_size_limit_is_one_whole_file() {
    let dir = common::tempdir();
    export(
        dir.path(),
        "out.csv",
        "SELECT seq, REPEAT('y', 5000) AS s FROM gd_test.seq_1_to_120000 WHERE seq <= 3",
        &["--max-file-size", "100"],
    )
    .assert_code(0);
    let parts = files(dir.path());
    assert_eq!(parts.len(), 3);
    for part in &parts {
        let rows = parse_part(&read(part), "csv", &["seq", "s"]);
        assert_eq!(rows.len(), 1, "{}", part.display());
    }
}

#[test]
fn compressed_parts_are_whole_streams_cut_by_their_compressed_size() {
    let sql = "SELECT seq, SHA2(seq, 512) AS s, MD5(seq) AS d FROM gd_test.seq_1_to_120000 \
               WHERE seq <= 40000 ORDER BY seq";
    let want = as_delimited(&server_rows(sql, &EXPRS));
    let limit = 256 * 1024;
    for name in ["out.csv.zst", "out.csv.gz"] {
        let dir = common::tempdir();
        export(dir.path(), name, sql, &["--max-file-size", "256K"]).assert_code(0);
        let parts = files(dir.path());
        assert!(parts.len() >= 3, "{name}: {} parts", parts.len());
        let mut all = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            let size = read(part).len();
            if i + 1 < parts.len() {
                assert!(size >= limit, "{}: {size} bytes", part.display());
            }
            // The README's bound: the count trails by what the compressor holds (< 64 KiB).
            assert!(
                size <= limit + 64 * 1024,
                "{}: {size} bytes",
                part.display()
            );
            all.extend(parse_part(&plain_bytes(part), "csv", &COLUMNS));
        }
        assert!(
            all == want,
            "{name}: the parts' rows differ from the server's"
        );
    }
}

#[test]
fn parallel_split_has_every_row_once_in_whole_files() {
    crate::parallel::tables();
    let sql = "SELECT id, k, v FROM gd_test.par_skew";
    let mut want: Rows = server_rows(sql, &["CAST(id AS CHAR)", "CAST(k AS CHAR)", "v"]);
    want.sort();
    let want = as_delimited(&want);
    for name in ["out.csv", "out.json"] {
        let dir = common::tempdir();
        export(
            dir.path(),
            name,
            sql,
            &[
                "-j",
                "2",
                "--split-by",
                "id",
                "--chunk-rows",
                "1500",
                "--max-rows-per-file",
                "3000",
            ],
        )
        .assert_code(0);
        let parts = files(dir.path());
        assert_eq!(parts.len(), 7, "{name}: {:?}", names(&parts));
        let format = name.split_once('.').unwrap().1;
        let mut all = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            let rows = parse_part(&read(part), format, &["id", "k", "v"]);
            assert_eq!(
                rows.len(),
                if i < 6 { 3000 } else { 2000 },
                "{}",
                part.display()
            );
            all.extend(rows);
        }
        let mut all: Rows = all
            .into_iter()
            .map(|r| r.into_iter().map(|f| Some(f.unwrap_or_default())).collect())
            .collect();
        all.sort();
        assert!(
            all == want,
            "{name}: the parts' rows differ from the server's"
        );
    }
}

/// Fails on the row with seq 6000 (BIGINT UNSIGNED overflow), after 5,999 rows: several parts
/// were written (the message says how many rows, which the test checks).
const FAILS_AFTER_ROWS: &str = "SELECT t.seq, MD5(t.seq) AS h, t.seq * 3074457345618259 AS x \
     FROM gd_test.seq_1_to_120000 t WHERE t.seq <= 20000";

#[test]
fn a_failure_after_several_parts_leaves_no_part_and_no_temporary_file() {
    for extra in [
        &["--max-rows-per-file", "500"][..],
        &["--max-file-size", "4K", "--compress", "zstd"],
        &[
            "--max-rows-per-file",
            "500",
            "-j",
            "2",
            "--split-by",
            "seq",
            "--chunk-rows",
            "1000",
            "--consistency",
            "none",
        ],
    ] {
        let dir = common::tempdir();
        let parallel = extra.contains(&"-j");
        let sql = if parallel {
            FAILS_AFTER_ROWS.to_string()
        } else {
            format!("{FAILS_AFTER_ROWS} ORDER BY t.seq")
        };
        let r = export(dir.path(), "out.csv", &sql, extra);
        r.assert_code(4);
        let text = String::from_utf8_lossy(&r.stderr);
        // The failure came after parts were written (so the test can fail).
        let rows: u64 = text
            .split("after ")
            .nth(1)
            .and_then(|t| t.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{extra:?}: no row count in: {text}"));
        assert!(
            rows >= 1000,
            "{extra:?}: failed after only {rows} rows: {text}"
        );
        assert_eq!(
            common::dir_entries(dir.path()),
            Vec::<String>::new(),
            "{extra:?}: files left behind"
        );
    }
}

#[test]
fn parts_of_an_earlier_export_are_refused_and_replaced_with_force() {
    let dir = common::tempdir();
    let d = dir.path();
    let sql = |n: u32| {
        format!("SELECT seq, {n} AS run FROM gd_test.seq_1_to_120000 WHERE seq <= 70 ORDER BY seq")
    };
    export(d, "out.csv", &sql(1), &["--max-rows-per-file", "10"]).assert_code(0);
    std::fs::write(d.join("out.csv"), "not a part").unwrap();
    std::fs::write(d.join("out-1.csv"), "not a part either").unwrap();
    let contents = || -> Vec<(PathBuf, Vec<u8>)> {
        files(d)
            .into_iter()
            .map(|p| (p.clone(), read(&p)))
            .collect()
    };
    let before = contents();
    assert_eq!(before.len(), 9);

    // Without --force: refused before connecting, nothing touched.
    let r = export(d, "out.csv", &sql(2), &["--max-rows-per-file", "30"]);
    r.assert_code(5);
    assert!(
        String::from_utf8_lossy(&r.stderr).contains("--force"),
        "{r}"
    );
    assert_eq!(contents(), before);

    // With --force: three new parts, the four stale ones gone, other files kept.
    export(
        d,
        "out.csv",
        &sql(2),
        &["--max-rows-per-file", "30", "--force"],
    )
    .assert_code(0);
    let parts = files(d);
    assert_eq!(
        names(&parts),
        [
            "out-00001.csv",
            "out-00002.csv",
            "out-00003.csv",
            "out-1.csv",
            "out.csv"
        ]
    );
    let mut rows = Vec::new();
    for part in &parts[..3] {
        rows.extend(parse_part(&read(part), "csv", &["seq", "run"]));
    }
    assert_eq!(rows.len(), 70);
    assert!(
        rows.iter().all(|r| r[1].as_deref() == Some("2")),
        "a part of the first run is left"
    );
    assert_eq!(read(&d.join("out.csv")), b"not a part");
}

#[test]
fn split_output_to_stdout_or_zero_limits_are_usage_errors() {
    for extra in [
        &["-o", "-", "--max-rows-per-file", "10"][..],
        &["-o", "-", "--max-file-size", "1M"],
        &["-o", "x.csv", "--max-rows-per-file", "0"],
        &["-o", "x.csv", "--max-file-size", "0"],
        &["-o", "x.csv", "--max-file-size", "ten"],
    ] {
        let r = run(gd()
            .args(["--db-url", &server().url, "-q", "SELECT 1"])
            .args(extra));
        r.assert_code(2);
        assert!(r.stdout.is_empty(), "{extra:?}: {r}");
    }
}

#[test]
fn an_empty_result_is_one_part_with_the_header_or_no_file() {
    let sql = "SELECT * FROM gd_test.empty_table";
    let dir = common::tempdir();
    export(dir.path(), "e.csv", sql, &["--max-rows-per-file", "10"]).assert_code(1);
    assert_eq!(common::dir_entries(dir.path()), Vec::<String>::new());
    export(
        dir.path(),
        "e.json",
        sql,
        &["--max-rows-per-file", "10", "--allow-empty"],
    )
    .assert_code(0);
    let parts = files(dir.path());
    assert_eq!(names(&parts), ["e-00001.json"]);
    assert!(parse_part(&read(&parts[0]), "json", &["id", "name"]).is_empty());
}

/// SIGTERM once several files were written (the relay stalls the stream after 5 MB): exit 143,
/// every temporary file removed, no file of the export left.
#[test]
fn a_signal_after_several_parts_leaves_no_part_and_no_temporary_file() {
    use crate::common::relay::{Fault, Relay};
    use std::time::{Duration, Instant};
    let relay = Relay::start(
        server().port,
        Fault::Stall {
            after: 5_000_000,
            stall: Duration::from_secs(60),
        },
    );
    let dir = common::tempdir();
    let d = dir.path().to_path_buf();
    let r = crate::common::run_with(
        gd().args([
            "--db-url",
            &relay.url("gd", "gd_pass", "gd_test"),
            "-q",
            "SELECT seq, REPEAT('x', 100) AS pad FROM gd_test.seq_1_to_1000000",
            "--max-rows-per-file",
            "5000",
            "-o",
        ])
        .arg(d.join("out.csv")),
        Duration::from_secs(30),
        None,
        |pid| {
            let deadline = Instant::now() + Duration::from_secs(20);
            // Parts 1-3 closed, waiting for their rename.
            while common::dir_entries(&d).len() < 4 {
                assert!(Instant::now() < deadline, "no temporary parts");
                std::thread::sleep(Duration::from_millis(20));
            }
            let st = Command::new("kill")
                .args(["-s", "TERM", &pid.to_string()])
                .status()
                .unwrap();
            assert!(st.success());
        },
    );
    r.assert_code(143);
    assert_eq!(
        common::dir_entries(dir.path()),
        Vec::<String>::new(),
        "files left behind"
    );
}
