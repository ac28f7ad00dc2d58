//! Issue 15, part 5: small things a first-time user trips over, each run through the real
//! binary against the test server. The expected values come from SQL arithmetic the server
//! does (`SELECT 41 + 1` is 42), not from an earlier output of ours.

use crate::common::{self, Run, gd, run, server};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};

const QUERY: &str = "SELECT 41 + 1 AS answer";
const CSV: &str = "answer\n42\n";

/// Runs the binary with `args`, stdin from `stdin` (a file), output CSV on stdout.
fn to_stdout(args: &[&str], stdin: Option<&Path>, cwd: Option<&Path>) -> Run {
    let mut cmd = gd();
    cmd.args(["-o", "-", "-f", "csv"]).args(args);
    if let Some(path) = stdin {
        cmd.stdin(Stdio::from(std::fs::File::open(path).unwrap()));
    }
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    run(&mut cmd)
}

#[track_caller]
fn assert_csv(r: &Run) {
    r.assert_code(0);
    assert_eq!(String::from_utf8_lossy(&r.stdout), CSV, "{r}");
}

#[test]
fn query_file_dash_reads_the_query_from_stdin() {
    let dir = common::tempdir();
    let q = dir.path().join("q.sql");
    std::fs::write(&q, format!("{QUERY};\n")).unwrap();
    let url = &server().url;
    assert_csv(&to_stdout(
        &["--db-url", url, "--query-file", "-"],
        Some(&q),
        None,
    ));
    // An empty stdin is an empty query (exit 2), not a wait or a crash.
    let empty = dir.path().join("empty.sql");
    std::fs::write(&empty, "").unwrap();
    let r = to_stdout(&["--db-url", url, "--query-file", "-"], Some(&empty), None);
    r.assert_code(2);
    assert!(String::from_utf8_lossy(&r.stderr).contains("empty"), "{r}");
}

#[test]
fn a_byte_order_mark_before_the_query_is_dropped() {
    let dir = common::tempdir();
    let q = dir.path().join("bom.sql");
    // What Notepad and many Windows editors save as "UTF-8".
    std::fs::write(&q, format!("\u{feff}{QUERY}\r\n")).unwrap();
    assert_eq!(&common::read(&q)[..3], [0xEF, 0xBB, 0xBF]);
    let url = &server().url;
    let file = q.to_str().unwrap();
    assert_csv(&to_stdout(
        &["--db-url", url, "--query-file", file],
        None,
        None,
    ));
    assert_csv(&to_stdout(
        &["--db-url", url, "--query-file", "-"],
        Some(&q),
        None,
    ));
    let with_bom = format!("\u{feff}{QUERY}");
    assert_csv(&to_stdout(&["--db-url", url, "-q", &with_bom], None, None));
}

#[test]
fn a_utf16_query_file_is_read_and_a_latin1_one_is_refused_with_the_fix() {
    let dir = common::tempdir();
    // What Windows PowerShell's `>` writes: UTF-16LE with a byte-order mark.
    let q = dir.path().join("ps.sql");
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(
            format!("{QUERY};\r\n")
                .encode_utf16()
                .flat_map(u16::to_le_bytes),
        )
        .collect();
    std::fs::write(&q, utf16).unwrap();
    let url = &server().url;
    assert_csv(&to_stdout(
        &["--db-url", url, "--query-file", q.to_str().unwrap()],
        None,
        None,
    ));
    // Latin-1 has no marker: refused, naming the byte and the fix, before connecting.
    let latin1 = dir.path().join("latin1.sql");
    std::fs::write(&latin1, b"SELECT '\xE9t\xE9' AS x").unwrap();
    let r = to_stdout(&["--db-url", url, "--query-file", "-"], Some(&latin1), None);
    assert_ne!(r.code(), 0, "{r}");
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(
        stderr.contains("not valid UTF-8 (byte 8)") && stderr.contains("save the file as UTF-8"),
        "{r}"
    );
}

#[test]
fn a_config_files_query_file_is_relative_to_the_config_file() {
    let dir = common::tempdir();
    let conf = dir.path().join("conf");
    std::fs::create_dir(&conf).unwrap();
    std::fs::write(conf.join("q.sql"), QUERY).unwrap();
    // A file of the same name in the working directory must not be the one read.
    std::fs::write(dir.path().join("q.sql"), "SELECT 'wrong file' AS answer").unwrap();
    std::fs::write(
        conf.join("c.toml"),
        format!("db-url = \"{}\"\nquery-file = \"q.sql\"\n", server().url),
    )
    .unwrap();
    // Relative --config and relative query-file, from the working directory.
    assert_csv(&to_stdout(
        &["--config", "conf/c.toml"],
        None,
        Some(dir.path()),
    ));
    // The same from elsewhere, by absolute path.
    let cfg = conf.join("c.toml");
    assert_csv(&to_stdout(&["--config", cfg.to_str().unwrap()], None, None));
    // A --query-file flag stays relative to the working directory.
    let r = to_stdout(
        &["--config", "conf/c.toml", "--query-file", "q.sql"],
        None,
        Some(dir.path()),
    );
    r.assert_code(0);
    assert_eq!(String::from_utf8_lossy(&r.stdout), "answer\nwrong file\n");
}

/// A directory that even root cannot write: as root, a read-only bind mount of `dir` onto
/// itself in a private mount namespace of the one command (`unshare`), so nothing outside the
/// test sees it; otherwise mode 0555.
fn in_read_only_dir(dir: &Path, args: &[&str]) -> Run {
    let root = std::fs::metadata("/proc/self").unwrap().uid() == 0;
    if !root {
        std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o555)).unwrap();
        let r = run(gd().args(args));
        std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        return r;
    }
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "sh", "-ec"])
        .arg(r#"mount --bind "$1" "$1"; mount -o remount,bind,ro "$1"; shift; exec "$@""#)
        .arg("sh")
        .arg(dir)
        .arg(env!("CARGO_BIN_EXE_gold_digger"))
        .args(args)
        .stdin(Stdio::null());
    for var in ["DATABASE_URL", "DATABASE_QUERY", "OUTPUT_FILE", "RUST_LOG"] {
        cmd.env_remove(var);
    }
    run(&mut cmd)
}

#[test]
fn an_unwritable_directory_is_named_as_the_cause() {
    let dir = common::tempdir();
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    let target = ro.join("out.csv");
    std::fs::write(&target, "old\n").unwrap();
    let url = &server().url;
    for output in [target.clone(), ro.join("new.csv")] {
        let r = in_read_only_dir(
            &ro,
            &["--db-url", url, "-q", QUERY, "-o", output.to_str().unwrap()],
        );
        r.assert_code(5);
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert!(
            stderr.contains(&format!("directory {} ", ro.display())),
            "the message must name the directory:\n{r}"
        );
        assert!(stderr.contains("writable directory"), "{r}");
        assert_eq!(common::read(&target), b"old\n", "the target was changed");
        assert_eq!(common::dir_entries(&ro), ["out.csv"], "files left behind");
    }
    // The file itself was writable all along: without the read-only mount it is replaced.
    let r = run(gd().args(["--db-url", url, "-q", QUERY, "-o", target.to_str().unwrap()]));
    r.assert_code(0);
    assert_eq!(common::read(&target), CSV.as_bytes());
}

/// `(extra arguments, output file name, phrase the one warning line must hold)`.
const IGNORED: &[(&[&str], &str, &str)] = &[
    (
        &["-f", "json"],
        "x.csv",
        "-f json, but the output name x.csv says CSV",
    ),
    (
        &["-f", "csv"],
        "x.JSON",
        "-f csv, but the output name x.JSON says JSON",
    ),
    (
        &["-f", "tsv"],
        "x.csv",
        "-f tsv, but the output name x.csv says CSV",
    ),
    (
        &["--null", "NULL"],
        "x.json",
        "--null has no effect on JSON output",
    ),
    (
        &["--pretty"],
        "x.csv",
        "--pretty has no effect on CSV output",
    ),
    (
        &["--pretty"],
        "x.tsv",
        "--pretty has no effect on TSV output",
    ),
    (
        &["--no-header"],
        "x.json",
        "--no-header has no effect on JSON output",
    ),
    (&["--crlf"], "x.json", "--crlf has no effect on JSON output"),
];

#[test]
fn an_option_the_format_ignores_gets_a_one_line_warning() {
    let url = &server().url;
    for (extra, name, phrase) in IGNORED {
        let dir = common::tempdir();
        let out = dir.path().join(name);
        let mut args = vec!["--db-url", url, "-q", QUERY, "-o", out.to_str().unwrap()];
        args.extend_from_slice(extra);
        let r = run(gd().args(&args));
        r.assert_code(0);
        let stderr = String::from_utf8_lossy(&r.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{extra:?} {name}: one line\n{r}");
        assert!(
            lines[0].contains("WARN") && lines[0].contains(phrase),
            "{extra:?} {name}: {r}"
        );
        // --quiet: no warning, the same exit code.
        args.push("--quiet");
        let r = run(gd().args(&args));
        r.assert_code(0);
        assert!(r.stderr.is_empty(), "{extra:?} {name} --quiet: {r}");
    }
    // Options that do apply, and an extension that implies nothing: no warning.
    for (extra, name) in [
        (&["-f", "csv"][..], "x.csv"),
        (&["-f", "csv"][..], "x.txt"),
        (&["-f", "json"][..], "x"),
        (&["--null", "NULL", "--crlf", "--no-header"][..], "x.tsv"),
        (&["--pretty"][..], "x.json"),
        (&["-f", "json", "--pretty"][..], "-"),
    ] {
        let dir = common::tempdir();
        let out = dir.path().join(name);
        let out = if name == "-" {
            "-"
        } else {
            out.to_str().unwrap()
        };
        let mut args = vec!["--db-url", url, "-q", QUERY, "-o", out];
        args.extend_from_slice(extra);
        let r = run(gd().args(&args));
        r.assert_code(0);
        assert!(
            r.stderr.is_empty(),
            "{extra:?} {name}: unexpected warning\n{r}"
        );
    }
}

/// Issue 15, part 6: the README's Troubleshooting section quotes the binary's messages exactly;
/// this runs the three cases and compares (the port aside, which is the test server's).
#[test]
fn readme_troubleshooting_quotes_the_messages_the_binary_prints() {
    let readme = String::from_utf8(common::read(&common::repo_root().join("README.md"))).unwrap();
    let section = readme
        .split("\n## Troubleshooting\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("README has a Troubleshooting section");
    let quoted: Vec<&str> = section
        .lines()
        .filter(|l| l.starts_with("gold_digger: "))
        .collect();
    let srv = server();
    let dir = common::tempdir();
    let out = dir.path().join("x.csv");
    let out = out.to_str().unwrap();
    let tls_user = srv.url_for("gd_tls", "tls_pass", "gd_test");
    let wrong_password = srv.url_for("gd", "wrong", "gd_test");
    let cases: [Vec<&str>; 3] = [
        vec!["--db-url", &wrong_password, "-q", "SELECT 1"],
        vec![
            "--db-url",
            &tls_user,
            "--ssl-mode",
            "disabled",
            "-q",
            "SELECT 1",
        ],
        vec![
            "--db-url",
            &tls_user,
            "-j",
            "2",
            "--table",
            "gd_test.tricky",
        ],
    ];
    assert_eq!(quoted.len(), cases.len(), "{section}");
    for ((args, want), code) in cases.iter().zip(&quoted).zip([3, 3, 4]) {
        let r = run(gd().args(args).args(["-o", out]));
        r.assert_code(code);
        let got =
            String::from_utf8_lossy(&r.stderr).replace(&format!(":{} as", srv.port), ":33326 as");
        assert_eq!(got.trim_end(), *want, "{args:?}");
        assert!(common::dir_entries(dir.path()).is_empty());
    }
}
