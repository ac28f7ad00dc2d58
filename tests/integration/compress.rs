//! Issue 14, part 3: compressed output. Every compressed export is decompressed with the
//! system's `gzip -dc` / `zstd -dc` and compared byte for byte with the plain export of the same
//! query (itself checked against the server's values by the other tests).

use crate::common::{self, gd, read, run, server};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// Several MiB of CSV (several compressed blocks even for gzip), every quoting case of the
/// mixed columns, NULLs, and the all_types fixture's odd values in a second query.
const QUERIES: [&str; 2] = [
    "SELECT seq, MD5(seq) AS h, CONCAT('row ', seq, ', \"quoted\"\n') AS s, \
     IF(seq % 5 = 0, NULL, seq / 7) AS d, SHA2(seq, 512) AS k FROM gd_test.seq_1_to_120000",
    "SELECT * FROM gd_test.all_types ORDER BY id",
];

/// The system's decompressor for a suffix, reading `input` (a path) or stdin.
fn decompress(suffix: &str, input: Option<&Path>, stdin: &[u8]) -> Vec<u8> {
    let tool = match suffix {
        "gz" => "gzip",
        "zst" => "zstd",
        other => panic!("no decompressor for {other}"),
    };
    let mut cmd = Command::new(tool);
    cmd.args(["-d", "-c"]);
    if let Some(path) = input {
        cmd.arg(path);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{tool} (scripts/test.sh installs zstd): {e}"));
    let mut pipe = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(
        out.status.success(),
        "{tool} -dc failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn export(dir: &Path, name: &str, query: &str, extra: &[&str]) -> Vec<u8> {
    let path = dir.join(name);
    run(gd()
        .args(["--db-url", &server().url, "-q", query, "-o"])
        .arg(&path)
        .args(extra))
    .assert_code(0);
    read(&path)
}

#[test]
fn gz_and_zst_exports_decompress_to_the_plain_export_in_every_format() {
    let dir = common::tempdir();
    for (q, query) in QUERIES.iter().enumerate() {
        for format in ["csv", "tsv", "json"] {
            let plain = export(dir.path(), &format!("p{q}.{format}"), query, &[]);
            assert!(plain.len() > 1000, "{format}: {} bytes", plain.len());
            for suffix in ["gz", "zst"] {
                let name = format!("c{q}.{format}.{suffix}");
                let compressed = export(dir.path(), &name, query, &[]);
                assert!(
                    compressed.len() < plain.len(),
                    "{name}: {} compressed bytes for {} plain",
                    compressed.len(),
                    plain.len()
                );
                let back = decompress(suffix, Some(&dir.path().join(&name)), &[]);
                assert!(
                    back == plain,
                    "{name} decompressed to {} bytes, the plain export has {}",
                    back.len(),
                    plain.len()
                );
            }
        }
    }
}

#[test]
fn levels_change_the_size_not_the_content() {
    // Repetitive text, where a higher level finds more (on QUERIES[0]'s hex digests zstd's
    // level 1 beats its level 3, with the zstd tool too).
    let query = "SELECT seq, CONCAT('row ', seq % 1000, ' of many') AS s, seq % 100 AS m \
                 FROM gd_test.seq_1_to_200000";
    let dir = common::tempdir();
    let plain = export(dir.path(), "p.csv", query, &[]);
    for (suffix, fast, slow) in [("gz", "1", "9"), ("zst", "1", "19")] {
        let a = export(
            dir.path(),
            &format!("a.csv.{suffix}"),
            query,
            &["--compress-level", fast],
        );
        let b = export(
            dir.path(),
            &format!("b.csv.{suffix}"),
            query,
            &["--compress-level", slow],
        );
        assert!(
            b.len() < a.len(),
            "{suffix}: level {slow} {} bytes, level {fast} {}",
            b.len(),
            a.len()
        );
        for name in [format!("a.csv.{suffix}"), format!("b.csv.{suffix}")] {
            assert!(
                decompress(suffix, Some(&dir.path().join(&name)), &[]) == plain,
                "{name}"
            );
        }
    }
}

#[test]
fn stdout_and_names_without_a_suffix_take_compress() {
    let dir = common::tempdir();
    let plain = export(dir.path(), "p.csv", QUERIES[0], &[]);
    let r = run(gd().args([
        "--db-url",
        &server().url,
        "-q",
        QUERIES[0],
        "-f",
        "csv",
        "--compress",
        "zstd",
        "-o",
        "-",
    ]));
    r.assert_code(0);
    assert!(
        r.stdout.len() < plain.len() / 2,
        "{} bytes on stdout",
        r.stdout.len()
    );
    assert!(decompress("zst", None, &r.stdout) == plain, "stdout");
    // A name without a suffix: --compress decides, the extension still picks the format.
    let gz = dir.path().join("nosuffix.csv");
    let compressed = export(
        dir.path(),
        "nosuffix.csv",
        QUERIES[0],
        &["--compress", "gzip"],
    );
    assert_eq!(&compressed[..2], b"\x1f\x8b", "not gzip");
    assert!(decompress("gz", Some(&gz), &[]) == plain);
    // The config file's keys.
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "compress = \"zstd\"\ncompress-level = 5\n").unwrap();
    let compressed = export(
        dir.path(),
        "cfg.csv",
        QUERIES[0],
        &["--config", config.to_str().unwrap()],
    );
    assert_eq!(&compressed[..4], b"\x28\xb5\x2f\xfd", "not zstd");
    assert!(decompress("zst", Some(&dir.path().join("cfg.csv")), &[]) == plain);
}

#[test]
fn a_suffix_contradicting_compress_is_a_usage_error_before_connecting() {
    let dir = common::tempdir();
    for (name, flags) in [
        ("x.csv.gz", &["--compress", "zstd"][..]),
        ("x.csv.zst", &["--compress", "none"][..]),
        ("x.csv", &["--compress-level", "3"][..]),
        ("x.csv.gz", &["--compress-level", "10"][..]),
    ] {
        let r = run(gd()
            // Nothing listens there: a usage error must come first.
            .args([
                "--db-url",
                "mysql://u:p@127.0.0.1:1/db",
                "-q",
                "SELECT 1",
                "-o",
            ])
            .arg(dir.path().join(name))
            .args(flags));
        r.assert_code(2);
        assert!(r.stdout.is_empty());
    }
    assert_eq!(common::dir_entries(dir.path()), Vec::<String>::new());
}

#[test]
fn a_failure_mid_export_leaves_no_compressed_file_and_keeps_the_old_one() {
    // From row 200,001 on the scalar subquery returns two rows (ERROR 1242): by then about
    // 20 MB of CSV went through the compressor and into the temporary file.
    let query = "SELECT seq, MD5(seq) AS h, SHA2(seq, 256) AS k, \
                 (SELECT 1 FROM gd_test.seq_1_to_2 s WHERE q.seq > 200000) AS x \
                 FROM gd_test.seq_1_to_300000 q";
    for suffix in ["gz", "zst"] {
        let dir = common::tempdir();
        let target = dir.path().join(format!("out.csv.{suffix}"));
        std::fs::write(&target, b"old content").unwrap();
        let r = run(gd()
            .args(["--db-url", &server().url, "-q", query, "-o"])
            .arg(&target));
        r.assert_code(4);
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(err.contains("export failed after 200000 rows"), "{err}");
        assert_eq!(read(&target), b"old content");
        assert_eq!(
            common::dir_entries(dir.path()),
            [format!("out.csv.{suffix}")]
        );
    }
}

#[test]
fn a_write_error_behind_the_compressor_is_5() {
    let r = run(gd().args([
        "--db-url",
        &server().url,
        "-q",
        QUERIES[0],
        "--compress",
        "zstd",
        "-o",
        "/dev/full",
    ]));
    r.assert_code(5);
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains("cannot write output /dev/full") && err.contains("No space left"),
        "{err}"
    );
}

#[test]
fn a_parallel_export_compresses_through_the_same_stage() {
    let dir = common::tempdir();
    let plain = export(dir.path(), "p.csv", QUERIES[0], &[]);
    let compressed = dir.path().join("j.csv.zst");
    export(
        dir.path(),
        "j.csv.zst",
        QUERIES[0],
        &["-j", "2", "--split-by", "seq", "--consistency", "none"],
    );
    let back = decompress("zst", Some(&compressed), &[]);
    // Row order across chunks is unspecified: compare the sorted records.
    let records = |bytes: &[u8]| {
        let mut v: Vec<csv::ByteRecord> = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(bytes)
            .byte_records()
            .map(Result::unwrap)
            .collect();
        v.sort_by(|a, b| a.iter().cmp(b.iter()));
        v
    };
    assert_eq!(back.len(), plain.len());
    assert!(
        records(&back) == records(&plain),
        "the parallel export's records differ"
    );
}
