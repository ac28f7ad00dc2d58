//! Issue 15, progress: shown on a terminal (a pseudo-terminal made by `script`), with a
//! percentage when the total is known and one summary line at the end; absent in a pipe.

use crate::common::{self, gd, run, server};

/// Runs gold_digger with `args` under a pseudo-terminal (`script -qec`), stderr on that
/// terminal; returns what the terminal showed, with carriage returns as line breaks.
fn on_a_terminal(args: &[&str]) -> String {
    let bin = env!("CARGO_BIN_EXE_gold_digger");
    let quoted: Vec<String> = std::iter::once(bin)
        .chain(args.iter().copied())
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect();
    let out = common::isolated("script")
        .args(["-qec", &quoted.join(" "), "/dev/null"])
        .env("COLUMNS", "100")
        .output()
        .expect("running script (util-linux)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).replace('\r', "\n")
}

#[test]
fn progress_shows_on_a_terminal_with_a_summary_line() {
    let dir = common::tempdir();
    let out = dir.path().join("p.csv");
    let out = out.to_str().unwrap();
    let url = server().url.clone();
    // 300,000 rows of ~60 bytes: several 2 MiB blocks, so the display is updated.
    let sql = "SELECT seq, MD5(seq) AS h, seq / 7 AS d FROM gd_test.seq_1_to_300000";
    let shown = on_a_terminal(&["--db-url", &url, "-q", sql, "-o", out]);
    assert!(shown.contains(" rows, "), "no progress line: {shown}");
    assert!(shown.contains("/s"), "no rate: {shown}");
    let summary = shown
        .lines()
        .find(|l| l.contains("exported 300,000 rows"))
        .unwrap_or_else(|| panic!("no summary line: {shown}"));
    assert!(summary.contains(&format!("to {out}")), "{summary}");

    // A known total (the table's statistics, or the server's estimate over N connections): a
    // percentage and an ETA. A million rows take long enough for several redraws.
    let big = "SELECT seq, MD5(seq) AS h FROM gd_test.seq_1_to_1000000";
    let shown = on_a_terminal(&[
        "--db-url",
        &url,
        "-q",
        big,
        "-j",
        "2",
        "--split-by",
        "seq",
        "-o",
        out,
    ]);
    assert!(shown.contains("exported 1,000,000 rows"), "{shown}");
    assert!(
        shown.contains("%") && shown.contains("/~"),
        "no percentage: {shown}"
    );
    // --no-progress: nothing on the terminal at all for a successful export.
    let shown = on_a_terminal(&["--db-url", &url, "-q", sql, "-o", out, "--no-progress"]);
    assert_eq!(shown.trim(), "", "{shown}");
}

#[test]
fn no_progress_in_a_pipe_unless_forced() {
    let dir = common::tempdir();
    let out = dir.path().join("p.csv");
    let sql = "SELECT seq, MD5(seq) AS h FROM gd_test.seq_1_to_300000";
    let r = run(gd()
        .args(["--db-url", &server().url, "-q", sql, "-o"])
        .arg(&out));
    r.assert_code(0);
    assert!(r.stderr.is_empty(), "stderr in a pipe: {r}");
    let r = run(gd()
        .args(["--db-url", &server().url, "-q", sql, "--progress", "-o"])
        .arg(&out));
    r.assert_code(0);
    let text = String::from_utf8_lossy(&r.stderr);
    assert!(text.contains("exported 300,000 rows"), "{r}");
}
