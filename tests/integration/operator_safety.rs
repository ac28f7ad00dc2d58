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
