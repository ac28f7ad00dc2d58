//! Issue 16, operator safety: what happens to the file being replaced (mode, owner, read-only
//! files, dangling links), one-column rows that would be blank lines, binary values that look
//! like hex, and queries that return more than one result set.

use crate::common::{self, gd, read, run, server, server_values};
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
