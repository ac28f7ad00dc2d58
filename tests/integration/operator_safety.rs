//! Issue 16, operator safety: the server's work is cancelled when gold_digger gives up
//! (signals, read timeout). Every expectation is read from the server itself (its processlist,
//! through the `mariadb` client).

use crate::common::{self, Run, gd, mariadb_batch, run_with, server};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// How many of the server's connections (other than the one asking) are running a statement
/// whose text holds `marker`.
fn running_with(marker: &str) -> usize {
    mariadb_batch(&format!(
        "SELECT ID FROM information_schema.PROCESSLIST \
         WHERE INFO LIKE '%{marker}%' AND ID <> CONNECTION_ID()"
    ))
    .len()
}

/// Polls `done` every 100 ms for up to `limit`; whether it became true.
fn within(limit: Duration, done: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Kills, as root, whatever still runs with `marker` when dropped: a failing test must not
/// leave a CPU-bound query behind on the shared test server.
struct Cleanup<'a>(&'a str);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let sql = format!(
            "SELECT ID FROM information_schema.PROCESSLIST \
             WHERE INFO LIKE '%{}%' AND ID <> CONNECTION_ID()",
            self.0
        );
        let ids = std::panic::catch_unwind(|| mariadb_batch(&sql)).unwrap_or_default();
        for id in ids.into_iter().flatten().flatten() {
            let id = String::from_utf8_lossy(&id).into_owned();
            let _ = std::panic::catch_unwind(|| mariadb_batch(&format!("KILL QUERY {id}")));
        }
    }
}

/// A query that keeps the server busy for minutes and, unlike `SLEEP()` (which MariaDB ends
/// within a few seconds once the client's socket is closed), is not stopped by a closed
/// connection: only a `KILL QUERY` ends it early. It sends nothing until it ends.
fn busy_query(marker: &str) -> String {
    format!("SELECT BENCHMARK(2000000000, MD5('x')) AS {marker}")
}

/// gold_digger running [`busy_query`] (marked with `marker`) into `out`, with `extra`
/// flags; once the server shows the query running, `signal` (if any) is sent. Returns the run
/// and how long the process took after the query was seen running.
fn busy_export(marker: &str, out: &Path, extra: &[&str], signal: Option<&str>) -> (Run, Duration) {
    let query = busy_query(marker);
    let seen = std::cell::Cell::new(Instant::now());
    let r = run_with(
        gd().args(["--db-url", &server().url, "--query", &query, "--output"])
            .arg(out)
            .args(extra),
        Duration::from_secs(60),
        None,
        |pid| {
            assert!(
                within(Duration::from_secs(20), || running_with(marker) == 1),
                "{marker}: the query never showed up in the processlist"
            );
            seen.set(Instant::now());
            if let Some(signal) = signal {
                let st = Command::new("kill")
                    .args(["-s", signal, &pid.to_string()])
                    .status()
                    .unwrap();
                assert!(st.success());
            }
        },
    );
    (r, seen.get().elapsed())
}

/// After the run ended, the server no longer runs the query (it would run for minutes more
/// without a `KILL QUERY`).
#[track_caller]
fn assert_query_gone(marker: &str, r: &Run) {
    assert!(
        within(Duration::from_secs(10), || running_with(marker) == 0),
        "{marker}: the query still runs on the server 10 s after gold_digger exited\n{r}"
    );
}

#[test]
fn signals_cancel_the_query_on_the_server() {
    for (signal, code) in [("INT", 130), ("TERM", 143), ("HUP", 129)] {
        let marker = format!("gd_cancel_sig{}", signal.to_lowercase());
        let _cleanup = Cleanup(&marker);
        let dir = common::tempdir();
        let (r, took) = busy_export(&marker, &dir.path().join("out.csv"), &[], Some(signal));
        r.assert_code(code);
        assert!(
            took < Duration::from_secs(15),
            "SIG{signal}: exit took {took:?}\n{r}"
        );
        assert_query_gone(&marker, &r);
        assert_eq!(common::dir_entries(dir.path()), Vec::<String>::new());
    }
}

#[test]
fn a_read_timeout_cancels_the_query_on_the_server() {
    let marker = "gd_cancel_read_timeout";
    let _cleanup = Cleanup(marker);
    let dir = common::tempdir();
    let (r, _) = busy_export(
        marker,
        &dir.path().join("out.csv"),
        &["--read-timeout", "2"],
        None,
    );
    r.assert_code(4);
    assert!(
        String::from_utf8_lossy(&r.stderr).contains("sent nothing for 2 s"),
        "{r}"
    );
    assert_query_gone(marker, &r);
    assert_eq!(common::dir_entries(dir.path()), Vec::<String>::new());
}

// --- read-only by default ---------------------------------------------------------------------

/// `gd_test.rw_probe` recreated by root with one row (1, 10); returns its rows as the server
/// sees them.
fn rw_probe_rows() -> Vec<Vec<Option<Vec<u8>>>> {
    mariadb_batch("SELECT id, v FROM gd_test.rw_probe ORDER BY id")
}

fn row(id: &str, v: &str) -> Vec<Option<Vec<u8>>> {
    vec![Some(id.as_bytes().to_vec()), Some(v.as_bytes().to_vec())]
}

fn export_stmt(dir: &Path, sql: &str, extra: &[&str]) -> Run {
    crate::common::run(
        gd().args(["--db-url", &server().url, "--query", sql, "--output"])
            .arg(dir.join("out.csv"))
            .args(extra),
    )
}

#[track_caller]
fn assert_stderr_has(r: &Run, phrase: &str) {
    assert!(
        String::from_utf8_lossy(&r.stderr).contains(phrase),
        "the message lacks {phrase:?}\n{r}"
    );
}

#[test]
fn writes_fail_in_the_read_only_session_unless_allowed() {
    mariadb_batch(
        "CREATE OR REPLACE TABLE gd_test.rw_probe (id INT PRIMARY KEY, v INT NOT NULL); \
         INSERT INTO gd_test.rw_probe VALUES (1, 10)",
    );
    let dir = common::tempdir();
    for sql in [
        "UPDATE gd_test.rw_probe SET v = v + 1",
        "INSERT INTO gd_test.rw_probe VALUES (2, 20)",
        "DELETE FROM gd_test.rw_probe",
        "CREATE TABLE gd_test.rw_probe_2 (id INT)",
    ] {
        let r = export_stmt(dir.path(), sql, &[]);
        r.assert_code(4);
        // The server's own error (as the mariadb client shows it for a read-only session).
        assert_stderr_has(
            &r,
            "ERROR 1792 (25006): Cannot execute statement in a READ ONLY transaction",
        );
        assert_stderr_has(&r, "--allow-writes");
        assert_eq!(
            common::dir_entries(dir.path()),
            Vec::<String>::new(),
            "{sql}"
        );
        assert_eq!(rw_probe_rows(), [row("1", "10")], "{sql} changed the table");
    }
    // Allowed: the statement runs (the server's table shows it) and, having no result set,
    // says so with the server's affected-rows count, exit 1 without --allow-empty.
    let r = export_stmt(
        dir.path(),
        "UPDATE gd_test.rw_probe SET v = v + 1",
        &["--allow-writes"],
    );
    r.assert_code(1);
    assert_stderr_has(&r, "the statement returned no result set; 1 rows affected");
    assert_eq!(rw_probe_rows(), [row("1", "11")]);
    assert_eq!(common::dir_entries(dir.path()), Vec::<String>::new());
    // The config key does the same.
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "allow-writes = true\nallow-empty = true\n").unwrap();
    let r = export_stmt(
        dir.path(),
        "INSERT INTO gd_test.rw_probe VALUES (2, 20), (3, 30)",
        &["--config", config.to_str().unwrap()],
    );
    // With --allow-empty: exit 0 and no file at all.
    r.assert_code(0);
    assert_stderr_has(&r, "the statement returned no result set; 2 rows affected");
    assert_eq!(
        rw_probe_rows(),
        [row("1", "11"), row("2", "20"), row("3", "30")]
    );
    assert_eq!(common::dir_entries(dir.path()), ["c.toml"]);
}

#[test]
fn a_statement_without_a_result_set_writes_no_file() {
    let dir = common::tempdir();
    let r = export_stmt(dir.path(), "DO 1", &[]);
    r.assert_code(1);
    assert_stderr_has(&r, "the statement returned no result set; 0 rows affected");
    assert!(
        !String::from_utf8_lossy(&r.stderr).contains("returned no rows"),
        "{r}"
    );
    let r = export_stmt(dir.path(), "DO 1", &["--allow-empty"]);
    r.assert_code(0);
    assert_eq!(common::dir_entries(dir.path()), Vec::<String>::new());
    // An existing target keeps its content.
    std::fs::write(dir.path().join("out.csv"), b"previous\n").unwrap();
    export_stmt(dir.path(), "DO 1", &["--allow-empty"]).assert_code(0);
    assert_eq!(common::read(&dir.path().join("out.csv")), b"previous\n");
}

/// MariaDB (10.11, checked with the mariadb client) refuses CREATE TEMPORARY TABLE in a
/// read-only transaction, and gold_digger sends one statement (no multi-statements), so a
/// temporary table can only come from a procedure: that needs --allow-writes.
#[test]
fn a_procedure_with_a_temporary_table_needs_allow_writes() {
    // The client splits on ";", so the body is sent with another delimiter.
    mariadb_batch(
        "DELIMITER //\n\
         CREATE OR REPLACE PROCEDURE gd_test.gd_tmp_report() BEGIN \
           CREATE TEMPORARY TABLE gd_tmp_r (a INT); \
           INSERT INTO gd_tmp_r VALUES (1), (2); \
           SELECT a FROM gd_tmp_r ORDER BY a; \
           DROP TEMPORARY TABLE gd_tmp_r; \
         END//\n",
    );
    let expected = mariadb_batch("CALL gd_test.gd_tmp_report()");
    assert_eq!(expected.len(), 2, "{expected:?}");
    let dir = common::tempdir();
    let r = export_stmt(dir.path(), "CALL gd_test.gd_tmp_report()", &[]);
    r.assert_code(4);
    assert_stderr_has(&r, "ERROR 1792");
    assert_stderr_has(&r, "--allow-writes");
    assert_eq!(common::dir_entries(dir.path()), Vec::<String>::new());
    let r = export_stmt(
        dir.path(),
        "CALL gd_test.gd_tmp_report()",
        &["--allow-writes"],
    );
    r.assert_code(0);
    let mut want = b"a\n".to_vec();
    for row in &expected {
        want.extend_from_slice(row[0].as_ref().unwrap());
        want.push(b'\n');
    }
    assert_eq!(common::read(&dir.path().join("out.csv")), want);
}

// --- server warnings ----------------------------------------------------------------------------

/// The server's own warnings for `sql`, as the mariadb client reads them with `SHOW WARNINGS`
/// right after it: "Level Code: Message" lines.
fn server_warnings(sql: &str) -> Vec<String> {
    mariadb_batch(&format!("{sql}; SHOW WARNINGS"))
        .into_iter()
        .filter(|r| r.len() == 3)
        .map(|r| {
            let f = |i: usize| String::from_utf8(r[i].clone().unwrap_or_default()).unwrap();
            format!("{} {}: {}", f(0), f(1), f(2))
        })
        .collect()
}

#[test]
fn server_warnings_are_reported_on_stderr() {
    let sql = "SELECT CAST('abc' AS INT) AS v";
    let expected = server_warnings(sql);
    assert_eq!(
        expected,
        ["Warning 1292: Truncated incorrect INTEGER value: 'abc'"],
        "the server's own warning"
    );
    let dir = common::tempdir();
    let r = export_stmt(dir.path(), sql, &[]);
    r.assert_code(0);
    assert_eq!(common::read(&dir.path().join("out.csv")), b"v\n0\n");
    assert_stderr_has(&r, "the server reported 1 warning for the query");
    assert_stderr_has(&r, &expected[0]);
    // --quiet: nothing on stderr.
    let r = export_stmt(dir.path(), sql, &["--quiet"]);
    r.assert_code(0);
    assert!(r.stderr.is_empty(), "{r}");

    // Seven warnings: the first five, then all of them with -v.
    let sql = "SELECT CAST(CONCAT('x', seq) AS INT) AS v FROM gd_test.seq_1_to_7";
    let expected = server_warnings(sql);
    assert_eq!(expected.len(), 7, "{expected:?}");
    let r = export_stmt(dir.path(), sql, &[]);
    r.assert_code(0);
    assert_stderr_has(&r, "the server reported 7 warnings for the query");
    for (i, w) in expected.iter().enumerate() {
        assert_eq!(
            String::from_utf8_lossy(&r.stderr).contains(w.as_str()),
            i < 5,
            "warning {i} ({w})\n{r}"
        );
    }
    assert_stderr_has(&r, "and 2 more (-v shows all of them)");
    let r = export_stmt(dir.path(), sql, &["-v"]);
    r.assert_code(0);
    for w in &expected {
        assert_stderr_has(&r, w);
    }
    // Warnings do not change the exit code of an empty result either.
    let r = export_stmt(
        dir.path(),
        "SELECT * FROM gd_test.seq_1_to_7 WHERE seq = CAST('abc' AS INT)",
        &[],
    );
    r.assert_code(1);
    assert_stderr_has(&r, "Truncated incorrect INTEGER value: 'abc'");
}

// --- time zone ----------------------------------------------------------------------------------

#[test]
fn time_zone_sets_the_sessions_zone_for_timestamps() {
    // Zero timestamps have no instant to convert; the others are 1970-01-01 00:00:01 and
    // 2038-01-19 03:14:07 UTC.
    let from = "FROM gd_test.all_types WHERE UNIX_TIMESTAMP(ts) > 0 ORDER BY id";
    let query = format!("SELECT id, ts {from}");
    let dir = common::tempdir();
    let out = dir.path().join("out.csv");
    let export_in = |extra: &[&str]| {
        export_stmt(dir.path(), &query, extra).assert_code(0);
        common::read(&out)
    };
    let expected_csv = |rows: Vec<Vec<Option<Vec<u8>>>>| {
        let mut csv = b"id,ts\n".to_vec();
        for r in rows {
            csv.extend_from_slice(r[0].as_ref().unwrap());
            csv.push(b',');
            csv.extend_from_slice(r[1].as_ref().unwrap());
            csv.push(b'\n');
        }
        csv
    };
    let mut seen = Vec::new();
    for zone in ["+00:00", "+05:30"] {
        // The server's own conversion of each instant (independent of any session zone).
        let expected = expected_csv(mariadb_batch(&format!(
            "SELECT id, CONVERT_TZ(DATE_ADD('1970-01-01 00:00:00', \
             INTERVAL UNIX_TIMESTAMP(ts) SECOND), '+00:00', '{zone}') {from}"
        )));
        assert_eq!(expected.iter().filter(|&&b| b == b'\n').count(), 3);
        assert_eq!(export_in(&["--time-zone", zone]), expected, "{zone}");
        seen.push(expected);
    }
    assert_ne!(
        seen[0], seen[1],
        "the two zones must show different wall times"
    );
    // Without the flag: the server's default, as its own client shows it.
    let default = expected_csv(mariadb_batch(&format!(
        "SELECT id, CAST(ts AS CHAR) {from}"
    )));
    assert_eq!(export_in(&[]), default);
    // A zone the server does not know is a usage error (2), reported with the server's error.
    let r = export_stmt(dir.path(), &query, &["--time-zone", "Mars/Olympus"]);
    r.assert_code(2);
    assert_stderr_has(&r, "ERROR 1298");
    assert_stderr_has(&r, "--time-zone");
    // Anything that could leave the SQL string literal is refused before connecting.
    let r = export_stmt(
        dir.path(),
        &query,
        &["--time-zone", "+00:00'; DO SLEEP(5); --"],
    );
    r.assert_code(2);
    assert_stderr_has(&r, "is not a time zone");
}

/// Issue 13: the execution of a prepared statement (`--protocol binary`) is cancelled on the
/// server the same way, by a signal and by the read timeout.
#[test]
fn a_prepared_statement_is_cancelled_on_the_server_too() {
    let marker = "gd_cancel_binary_sigint";
    let _cleanup = Cleanup(marker);
    let dir = common::tempdir();
    let binary = ["--protocol", "binary", "-vv"];
    let (r, took) = busy_export(marker, &dir.path().join("out.csv"), &binary, Some("INT"));
    r.assert_code(130);
    assert!(took < Duration::from_secs(15), "exit took {took:?}\n{r}");
    assert!(
        String::from_utf8_lossy(&r.stderr).contains("the rows arrive in binary"),
        "not prepared: {r}"
    );
    assert_query_gone(marker, &r);
    assert_eq!(common::dir_entries(dir.path()), Vec::<String>::new());

    let marker = "gd_cancel_binary_timeout";
    let _cleanup = Cleanup(marker);
    let timeout = ["--protocol", "binary", "--read-timeout", "2"];
    let (r, _) = busy_export(marker, &dir.path().join("out.csv"), &timeout, None);
    r.assert_code(4);
    assert!(
        String::from_utf8_lossy(&r.stderr).contains("sent nothing for 2 s"),
        "{r}"
    );
    assert_query_gone(marker, &r);
    assert_eq!(common::dir_entries(dir.path()), Vec::<String>::new());
}
