//! Issue 16, operator safety: what happens to the file being replaced (mode, owner, read-only
//! files, dangling links), one-column rows that would be blank lines, binary values that look
//! like hex, and queries that return more than one result set.

use crate::common::{self, gd, mariadb_batch, read, run, server, server_values};
use std::fs;
use std::path::Path;
use std::process::Command;

/// `gold_digger` exporting `query` to `target` with `extra` arguments.
fn gd_to(target: &Path, query: &str, extra: &[&str]) -> Command {
    let mut cmd = gd();
    cmd.args(["--db-url", &server().url, "-q", query, "-o"])
        .arg(target)
        .args(extra);
    cmd
}

fn stderr(r: &common::Run) -> String {
    String::from_utf8_lossy(&r.stderr).into_owned()
}

// --- 4. --binary auto is unambiguous; --binary hex writes 0x for an empty value --------------

const HEXLIKE: &str = "SELECT _binary'0x00' AS t, UNHEX('00') AS b, _binary'' AS e, \
                       _binary'0xZZ' AS z, _binary'plain' AS p";

/// Decodes a binary field by the README's rule: `0x` + hex is hex, anything else is the text.
fn decode_binary(field: &[u8]) -> Vec<u8> {
    match field.strip_prefix(b"0x") {
        Some(hex) => {
            let hex = std::str::from_utf8(hex).unwrap();
            assert!(
                hex.len().is_multiple_of(2) && hex.bytes().all(|c| c.is_ascii_hexdigit()),
                "not hex: {hex:?}"
            );
            (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect()
        }
        None => field.to_vec(),
    }
}

#[test]
fn binary_values_that_look_like_hex_are_written_as_hex() {
    let exprs = ["t", "b", "e", "z", "p"];
    let want: Vec<Vec<u8>> = server_values(HEXLIKE, &exprs)[0]
        .iter()
        .map(|v| v.clone().unwrap())
        .collect();
    assert_eq!(want[0], b"0x00");
    assert_eq!(want[1], [0u8]);
    let dir = common::tempdir();
    for binary in ["auto", "hex"] {
        // CSV, read back by the csv crate.
        let target = dir.path().join(format!("{binary}.csv"));
        run(&mut gd_to(&target, HEXLIKE, &["--binary", binary])).assert_code(0);
        let bytes = read(&target);
        let mut reader = csv::ReaderBuilder::new().from_reader(bytes.as_slice());
        let rec = reader.byte_records().next().unwrap().unwrap();
        let fields: Vec<&[u8]> = rec.iter().collect();
        assert_ne!(
            fields[0], fields[1],
            "{binary}: text 0x00 and byte 0x00 look alike"
        );
        for ((field, want), name) in fields.iter().zip(&want).zip(exprs) {
            if binary == "hex" {
                assert!(field.starts_with(b"0x"), "hex, {name}: {field:?}");
            }
            assert_eq!(&decode_binary(field), want, "{binary}, column {name}");
        }
        // JSON: the same strings.
        let target = dir.path().join(format!("{binary}.json"));
        run(&mut gd_to(&target, HEXLIKE, &["--binary", binary])).assert_code(0);
        let doc: serde_json::Value = serde_json::from_slice(&read(&target)).unwrap();
        let obj = &doc["data"][0];
        for (name, want) in exprs.iter().zip(&want) {
            let s = obj[name].as_str().unwrap();
            if binary == "hex" {
                assert!(s.starts_with("0x"), "hex, {name}: {s:?}");
            }
            assert_eq!(&decode_binary(s.as_bytes()), want, "json {binary}, {name}");
        }
    }
}

// --- 5. more than one result set --------------------------------------------------------------

fn two_sets() {
    mariadb_batch(
        "DELIMITER //\nCREATE OR REPLACE PROCEDURE gd_test.two_sets() \
         BEGIN SELECT 1 AS a; SELECT 2 AS b, 3 AS c; END//",
    );
}

#[test]
fn several_result_sets_fail_unless_first_result_only() {
    two_sets();
    let dir = common::tempdir();
    let target = dir.path().join("out.csv");
    for format in ["out.csv", "out.json"] {
        let target = dir.path().join(format);
        let r = run(&mut gd_to(&target, "CALL two_sets()", &[]));
        r.assert_code(4);
        let msg = stderr(&r);
        assert!(
            msg.contains("more than one result set") && msg.contains("--first-result-only"),
            "{msg}"
        );
    }
    assert_eq!(common::dir_entries(dir.path()), Vec::<String>::new());
    // An existing file stays as it was.
    fs::write(&target, "old\n").unwrap();
    run(&mut gd_to(&target, "CALL two_sets()", &[])).assert_code(4);
    assert_eq!(read(&target), b"old\n");
    assert_eq!(common::dir_entries(dir.path()), ["out.csv"]);

    // --first-result-only: the first is exported, the rest discarded with a warning.
    let r = run(&mut gd_to(
        &target,
        "CALL two_sets()",
        &["--first-result-only"],
    ));
    r.assert_code(0);
    assert_eq!(read(&target), b"a\n1\n");
    let msg = stderr(&r);
    assert!(
        msg.contains("2 result sets") && msg.contains("only the first"),
        "{msg}"
    );
    // The config-file key, and stdout.
    let cfg = dir.path().join("gd.toml");
    fs::write(&cfg, "first-result-only = true\n").unwrap();
    let r = run(gd()
        .args(["--db-url", &server().url, "-q", "CALL two_sets()"])
        .args(["-o", "-", "-f", "csv", "--config"])
        .arg(&cfg));
    r.assert_code(0);
    assert_eq!(String::from_utf8_lossy(&r.stdout), "a\n1\n");
    // A procedure with one result set is not affected.
    mariadb_batch(
        "DELIMITER //\nCREATE OR REPLACE PROCEDURE gd_test.one_set() BEGIN SELECT 1 AS a; END//",
    );
    let r = run(&mut gd_to(&target, "CALL one_set()", &[]));
    r.assert_code(0);
    assert_eq!(read(&target), b"a\n1\n");
}
