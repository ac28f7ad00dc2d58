//! NDJSON (issue 14, part 1): one object per line, the JSON format's typing, JSON column values
//! minified so that a row is one line, keys unique without regard to case, and
//! `--json-big-numbers string`. Every file is read line by line with serde_json and compared
//! with the server's own values.

use super::{
    ALL_TYPES_QUERY, OrderedObject, all_types_expected, check_all_types_objects, export, export_to,
    json_number, utf8,
};
use crate::common::{self, server_values};

/// The lines of an NDJSON file, each parsed alone; the file is empty or ends with LF, and no
/// line is blank.
fn ndjson_lines(bytes: &[u8]) -> Vec<OrderedObject> {
    let raw = utf8(bytes);
    assert!(
        raw.is_empty() || raw.ends_with('\n'),
        "the last line ends with LF"
    );
    assert!(!raw.contains('\r'), "no CR anywhere");
    raw.split_terminator('\n')
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("line is not one JSON object ({e}): {line:?}"))
        })
        .collect()
}

#[test]
fn all_types_ndjson_matches_server() {
    let exp = all_types_expected();
    for name in ["all_types.ndjson", "all_types.jsonl"] {
        let (_dir, bytes) = export(name, ALL_TYPES_QUERY, &[]);
        assert!(
            !bytes.starts_with(b"{\"data\""),
            "{name}: no enclosing document"
        );
        let objects = ndjson_lines(&bytes);
        check_all_types_objects(utf8(&bytes), &objects, &exp, false);
    }
    // The same objects as the JSON document's rows.
    let (_d1, nd) = export("t.ndjson", ALL_TYPES_QUERY, &[]);
    let (_d2, json) = export("t.json", ALL_TYPES_QUERY, &[]);
    let doc: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let lines: Vec<serde_json::Value> = utf8(&nd)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(doc["data"].as_array().unwrap(), &lines);
}

#[test]
fn all_types_big_numbers_as_strings() {
    let exp = all_types_expected();
    for name in ["big.ndjson", "big.json"] {
        let (_dir, bytes) = export(name, ALL_TYPES_QUERY, &["--json-big-numbers", "string"]);
        let objects = if name.ends_with(".json") {
            super::parse_json_doc(&bytes).data
        } else {
            ndjson_lines(&bytes)
        };
        check_all_types_objects(utf8(&bytes), &objects, &exp, true);
    }
}

#[test]
fn big_numbers_by_magnitude() {
    let query = "SELECT CAST(9007199254740991 AS SIGNED) AS safe, \
                 CAST(-9007199254740992 AS SIGNED) AS neg, \
                 CAST(18446744073709551615 AS UNSIGNED) AS umax, \
                 CAST(0.10 AS DECIMAL(10,2)) AS d, 42 AS small";
    let exprs = ["safe", "neg", "umax", "d", "small"].map(|c| format!("CAST({c} AS CHAR)"));
    let want = server_values(query, &exprs);
    let text = |i: usize| utf8(want[0][i].as_deref().unwrap()).to_string();
    let (_dir, bytes) = export("b.ndjson", query, &["--json-big-numbers", "string"]);
    let row = &ndjson_lines(&bytes)[0].0;
    assert_eq!(row[0].1, json_number(&text(0)), "2^53 - 1 stays a number");
    assert_eq!(row[1].1.as_str(), Some(text(1).as_str()));
    assert_eq!(row[2].1.as_str(), Some(text(2).as_str()));
    assert_eq!(
        row[3].1.as_str(),
        Some(text(3).as_str()),
        "DECIMAL: its text"
    );
    assert_eq!(row[4].1, json_number(&text(4)));
    // The default: all numbers, exact.
    let (_dir, bytes) = export("n.ndjson", query, &[]);
    let raw = utf8(&bytes);
    for i in 0..5 {
        assert!(raw.contains(&format!(":{}", text(i))), "{raw}");
    }
}

#[test]
fn json_column_with_line_breaks_stays_on_one_line() {
    let query = "SELECT id, js FROM gd_test.json_docs ORDER BY id";
    let want = server_values(query, &["CAST(id AS CHAR)", "js"]);
    assert!(
        want.iter()
            .filter_map(|r| r[1].as_ref())
            .any(|v| v.contains(&b'\n')),
        "the fixture stores documents with line breaks"
    );
    let (_dir, bytes) = export("docs.ndjson", query, &[]);
    let objects = ndjson_lines(&bytes);
    assert_eq!(objects.len(), want.len(), "one line per row");
    for (obj, row) in objects.iter().zip(&want) {
        assert_eq!(obj.0[0].1, json_number(utf8(row[0].as_deref().unwrap())));
        match &row[1] {
            None => assert!(obj.0[1].1.is_null()),
            Some(v) => {
                let server: serde_json::Value = serde_json::from_slice(v).unwrap();
                assert_eq!(obj.0[1].1, server, "embedded as the same value");
            }
        }
    }
    let raw = utf8(&bytes);
    assert!(
        raw.contains("\"a b  c\""),
        "spaces inside strings are kept: {raw}"
    );
    assert!(
        raw.contains("123456789012345678901234567890"),
        "numbers inside JSON values are kept as written"
    );
    // The JSON document keeps the stored text as it is (its rows then span lines).
    let (_dir, json) = export("docs.json", query, &[]);
    let stored = want[0][1].as_deref().unwrap();
    assert!(json.windows(stored.len()).any(|w| w == stored));
}

#[test]
fn keys_are_unique_without_regard_to_case() {
    let query = "SELECT 1 AS a, 2 AS A, 3 AS b, 4 AS `A_2`, 5 AS `É`, 6 AS `é`";
    for name in ["k.ndjson", "k.json"] {
        let dir = common::tempdir();
        let (path, r) = export_to(dir.path(), name, query, &[]);
        r.assert_code(0);
        assert!(
            r.output_text().contains("duplicate column names"),
            "{name}: a warning names the renamed keys:\n{r}"
        );
        let bytes = common::read(&path);
        let obj = if name.ends_with(".json") {
            super::parse_json_doc(&bytes).data.remove(0)
        } else {
            ndjson_lines(&bytes).remove(0)
        };
        let keys: Vec<&str> = obj.0.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["a", "A_3", "b", "A_2", "É", "é_2"], "{name}");
        let values: Vec<i64> = obj.0.iter().map(|(_, v)| v.as_i64().unwrap()).collect();
        assert_eq!(values, [1, 2, 3, 4, 5, 6], "{name}");
    }
}

#[test]
fn empty_result_and_stdout() {
    let empty = "SELECT * FROM gd_test.empty_table";
    let (_dir, bytes) = export("e.ndjson", empty, &["--allow-empty"]);
    assert!(bytes.is_empty(), "no rows, no lines: {bytes:?}");
    let dir = common::tempdir();
    let (path, r) = export_to(dir.path(), "e.ndjson", empty, &[]);
    r.assert_code(1);
    assert!(!path.exists(), "no file without --allow-empty");

    let query = "SELECT * FROM gd_test.tricky ORDER BY id";
    let (_dir, file) = export("t.jsonl", query, &[]);
    let out = common::run(common::gd().args([
        "--db-url",
        &common::server().url,
        "-q",
        query,
        "-o",
        "-",
        "-f",
        "ndjson",
    ]));
    out.assert_code(0);
    assert_eq!(out.stdout, file, "stdout and file hold the same bytes");
    let want = server_values("gd_test.tricky ORDER BY id", &["CAST(id AS CHAR)", "v"]);
    let objects = ndjson_lines(&file);
    assert_eq!(objects.len(), want.len());
    for (obj, row) in objects.iter().zip(&want) {
        match &row[1] {
            None => assert!(obj.0[1].1.is_null()),
            Some(v) => match std::str::from_utf8(v) {
                Ok(s) => assert_eq!(obj.0[1].1.as_str(), Some(s)),
                Err(_) => assert!(obj.0[1].1.as_str().unwrap().starts_with("0x")),
            },
        }
    }
}

#[test]
fn pretty_is_refused_for_ndjson() {
    let dir = common::tempdir();
    let (path, r) = export_to(dir.path(), "p.ndjson", "SELECT 1", &["--pretty"]);
    r.assert_code(2);
    assert!(r.output_text().contains("--pretty"), "{r}");
    assert!(!path.exists());
}

/// `-j 2`: every row once, each a line, in any order.
#[test]
fn parallel_ndjson_holds_every_row_once() {
    let exp = all_types_expected();
    let (_dir, bytes) = export(
        "p.ndjson",
        "SELECT * FROM gd_test.all_types",
        &["-j", "2", "--split-by", "id", "--consistency", "none"],
    );
    let mut objects = ndjson_lines(&bytes);
    objects.sort_by_key(|o| o.0[0].1.as_i64());
    check_all_types_objects(utf8(&bytes), &objects, &exp, false);
}
