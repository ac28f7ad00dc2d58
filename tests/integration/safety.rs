//! Issue 16, operator safety: what happens to the file being replaced (mode, owner, read-only
//! files, dangling links), one-column rows that would be blank lines, binary values that look
//! like hex, and queries that return more than one result set.

use crate::common::{self, gd, mariadb_batch, read, run, server, server_values};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
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

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn stderr(r: &common::Run) -> String {
    String::from_utf8_lossy(&r.stderr).into_owned()
}

// --- 1. the replaced file's mode, owner and group; read-only files -------------------------

#[test]
fn a_replaced_file_keeps_its_mode_owner_and_group() {
    let dir = common::tempdir();
    for (name, perm) in [("sec.csv", 0o600), ("grp.csv", 0o640), ("odd.csv", 0o604)] {
        let target = dir.path().join(name);
        fs::write(&target, "old\n").unwrap();
        fs::set_permissions(&target, fs::Permissions::from_mode(perm)).unwrap();
        run(&mut gd_to(&target, "SELECT 'secret' AS s", &[])).assert_code(0);
        assert_eq!(read(&target), b"s\nsecret\n", "{name}");
        assert_eq!(mode(&target), perm, "{name}: mode {:o}", mode(&target));
    }
    // Owner and group: the test runs as root here, which may give the file away; as another
    // user, chown is attempted and EPERM ignored (not tested: needs a second account).
    let target = dir.path().join("owned.csv");
    fs::write(&target, "old\n").unwrap();
    let (uid, gid) = (65534, 65534);
    let euid = fs::metadata(dir.path()).unwrap().uid();
    if euid == 0 {
        std::os::unix::fs::chown(&target, Some(uid), Some(gid)).unwrap();
        run(&mut gd_to(&target, "SELECT 1 AS n", &[])).assert_code(0);
        let m = fs::metadata(&target).unwrap();
        assert_eq!((m.uid(), m.gid()), (uid, gid), "owner and group kept");
    }
    assert_eq!(
        common::dir_entries(dir.path()),
        ["grp.csv", "odd.csv", "owned.csv", "sec.csv"]
    );
}

#[test]
fn a_new_file_gets_the_umask() {
    let dir = common::tempdir();
    let target = dir.path().join("new.csv");
    // Through sh to set the umask of the child only.
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "umask 027 && exec \"$@\"", "sh"])
        .arg(env!("CARGO_BIN_EXE_gold_digger"))
        .args(["--db-url", &server().url, "-q", "SELECT 1 AS n", "-o"])
        .arg(&target)
        .stdin(std::process::Stdio::null());
    run(&mut cmd).assert_code(0);
    assert_eq!(mode(&target), 0o640);
}

#[test]
fn a_read_only_file_is_refused_without_force() {
    let dir = common::tempdir();
    let target = dir.path().join("ro.csv");
    fs::write(&target, "old\n").unwrap();
    fs::set_permissions(&target, fs::Permissions::from_mode(0o444)).unwrap();
    let r = run(&mut gd_to(&target, "SELECT 1 AS n", &[]));
    r.assert_code(5);
    let msg = stderr(&r);
    assert!(
        msg.contains("read-only") && msg.contains("--force") && msg.contains("ro.csv"),
        "{msg}"
    );
    assert_eq!(read(&target), b"old\n");
    assert_eq!(common::dir_entries(dir.path()), ["ro.csv"]);

    // --force replaces it, and the new file is read-only like the old.
    run(&mut gd_to(&target, "SELECT 1 AS n", &["--force"])).assert_code(0);
    assert_eq!(read(&target), b"n\n1\n");
    assert_eq!(mode(&target), 0o444);

    // The config-file key does the same.
    let cfg = dir.path().join("gd.toml");
    fs::write(&cfg, "force = true\n").unwrap();
    run(gd_to(&target, "SELECT 2 AS n", &[])
        .arg("--config")
        .arg(&cfg))
    .assert_code(0);
    assert_eq!(read(&target), b"n\n2\n");
    assert_eq!(common::dir_entries(dir.path()), ["gd.toml", "ro.csv"]);
}

// --- 2. a dangling symlink keeps its link --------------------------------------------------

#[test]
fn a_dangling_symlink_keeps_its_link_and_gets_a_real_file() {
    let dir = common::tempdir();
    let d = dir.path();
    fs::create_dir(d.join("sub")).unwrap();
    // One hop, relative to the link's directory.
    std::os::unix::fs::symlink("sub/real.csv", d.join("link.csv")).unwrap();
    // Two hops: a.csv -> sub/b.csv -> c.csv (relative to sub/), c.csv missing.
    std::os::unix::fs::symlink("sub/b.csv", d.join("a.csv")).unwrap();
    std::os::unix::fs::symlink("c.csv", d.join("sub/b.csv")).unwrap();
    for (link, real) in [("link.csv", "sub/real.csv"), ("a.csv", "sub/c.csv")] {
        run(&mut gd_to(&d.join(link), "SELECT 1 AS n", &[])).assert_code(0);
        assert!(
            fs::symlink_metadata(d.join(link))
                .unwrap()
                .file_type()
                .is_symlink(),
            "{link} was replaced by a file"
        );
        assert_eq!(read(&d.join(real)), b"n\n1\n", "{real}");
    }
    assert!(
        fs::symlink_metadata(d.join("sub/b.csv"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(common::dir_entries(d), ["a.csv", "link.csv", "sub"]);
    assert_eq!(
        common::dir_entries(&d.join("sub")),
        ["b.csv", "c.csv", "real.csv"]
    );

    // A loop of links is an error (5), not a hang, and leaves the links alone.
    std::os::unix::fs::symlink("loop2.csv", d.join("loop1.csv")).unwrap();
    std::os::unix::fs::symlink("loop1.csv", d.join("loop2.csv")).unwrap();
    let r = run(&mut gd_to(&d.join("loop1.csv"), "SELECT 1 AS n", &[]));
    r.assert_code(5);
    assert!(
        fs::symlink_metadata(d.join("loop1.csv"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

// --- 3. one-column rows holding NULL --------------------------------------------------------

const ONE_COLUMN: &str = "SELECT IF(seq % 2, NULL, seq) AS x FROM gd_test.seq_1_to_6";

/// The file as Python's csv module reads it: one list of fields per record.
fn python_csv(path: &Path, delimiter: &str) -> Vec<Vec<String>> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import csv, json, sys\n\
             with open(sys.argv[1], newline='') as f:\n\
             \x20   print(json.dumps(list(csv.reader(f, delimiter=sys.argv[2]))))",
        ])
        .arg(path)
        .arg(delimiter)
        .output()
        .expect("python3 (the test suite reads files back with Python's csv module)");
    assert!(
        out.status.success(),
        "python3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("python printed JSON")
}

#[test]
fn one_column_null_rows_warn_and_the_null_marker_fixes_them() {
    // The server's values, NULL as None.
    let want: Vec<Option<String>> = server_values(ONE_COLUMN, &["CAST(x AS CHAR)"])
        .into_iter()
        .map(|r| r[0].clone().map(|v| String::from_utf8(v).unwrap()))
        .collect();
    let nulls = want.iter().filter(|v| v.is_none()).count();
    assert_eq!((want.len(), nulls), (6, 3));
    let dir = common::tempdir();
    for (name, delimiter) in [("one.csv", ","), ("one.tsv", "\t")] {
        let target = dir.path().join(name);
        // The default marker: NULL rows are blank lines, which Python's csv module reads as
        // records without fields. The export says so, with the count and the fix.
        let r = run(&mut gd_to(&target, ONE_COLUMN, &[]));
        r.assert_code(0);
        let msg = stderr(&r);
        assert!(
            msg.contains(&format!("{nulls} rows")) && msg.contains("--null"),
            "{name}: no warning about blank lines: {msg}"
        );
        let rows = python_csv(&target, delimiter);
        let empty = rows.iter().filter(|r| r.is_empty()).count();
        assert_eq!(empty, nulls, "{name}: {rows:?}");

        // With --null '\N' every row is a record, and the values are the server's.
        let r = run(&mut gd_to(&target, ONE_COLUMN, &["--null", r"\N"]));
        r.assert_code(0);
        assert!(!stderr(&r).contains("--null"), "{}", stderr(&r));
        let rows = python_csv(&target, delimiter);
        let expected: Vec<Vec<String>> = std::iter::once(vec!["x".to_string()])
            .chain(
                want.iter()
                    .map(|v| vec![v.clone().unwrap_or_else(|| r"\N".to_string())]),
            )
            .collect();
        assert_eq!(rows, expected, "{name}");
        // pandas, where it is installed (the suite does not depend on it).
        let pandas = Command::new("python3")
            .args([
                "-c",
                "import sys, pandas\n\
                 print(len(pandas.read_csv(sys.argv[1], sep=sys.argv[2], na_values=[r'\\N'])))",
            ])
            .arg(&target)
            .arg(delimiter)
            .output()
            .unwrap();
        if pandas.status.success() {
            assert_eq!(String::from_utf8_lossy(&pandas.stdout).trim(), "6");
        }
    }
    // More than one column: no warning (a NULL there is an empty field, not a blank line).
    let r = run(&mut gd_to(
        &dir.path().join("two.csv"),
        "SELECT NULL AS a, NULL AS b",
        &[],
    ));
    r.assert_code(0);
    assert!(!stderr(&r).contains("--null"), "{}", stderr(&r));
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

/// A link that another user planted in a sticky, world-writable directory (as /tmp) is not
/// followed, as the kernel's protected_symlinks would not follow it: a root job writing
/// `/tmp/report.csv` must not be sent to write wherever the link points. A link of our own
/// there is followed as before.
#[test]
fn a_link_planted_by_another_user_in_a_sticky_directory_is_not_followed() {
    let dir = common::tempdir();
    let shared = dir.path().join("shared");
    fs::create_dir(&shared).unwrap();
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o1777)).unwrap();
    let victim = dir.path().join("victim.conf");
    let planted = shared.join("report.csv");
    std::os::unix::fs::symlink(&victim, &planted).unwrap();
    // Owned by someone else than us and than the directory's owner.
    let me = fs::metadata(dir.path()).unwrap().uid();
    let other = if me == 65534 { 65533 } else { 65534 };
    std::os::unix::fs::lchown(&planted, Some(other), None).unwrap();
    let r = run(&mut gd_to(&planted, "SELECT 1 AS n", &[]));
    r.assert_code(5);
    assert!(r.output_text().contains("refusing to follow"), "{r}");
    assert!(!victim.exists(), "the planted link was followed");
    // Our own link in the same directory is followed, to a new file.
    std::os::unix::fs::lchown(&planted, Some(me), None).unwrap();
    run(&mut gd_to(&planted, "SELECT 1 AS n", &[])).assert_code(0);
    assert_eq!(read(&victim), b"n\n1\n");
}
