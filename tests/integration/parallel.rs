//! Issue 12, parallel export: every row exactly once over N connections, chunks that keep every
//! connection busy on skewed and gappy keys, one snapshot under concurrent writes, refusals,
//! and the failure of one worker failing the whole. Expected rows come from the server (the
//! `mariadb` client), never from another export of ours.

use crate::common::relay::{Fault, Relay};
use crate::common::{self, Run, gd, mariadb_batch, run, run_with, server};
use gold_digger::plan::keys::KeyType;
use gold_digger::plan::{Chunk, Split};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Once;
use std::time::Duration;

/// Two tables of 20,000 rows with a nullable, indexed key `k`:
/// - `par_skew`: 18,000 keys dense in 1..=18,000 (1 % of the key range), 2,000 spread over
///   18,000..1,800,000; every 97th row's `k` is NULL;
/// - `par_gaps`: four clusters of 5,000 consecutive keys, 2^61 apart (BIGINT UNSIGNED).
pub(crate) fn tables() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        mariadb_batch(
            "USE gd_test;
             CREATE OR REPLACE TABLE gd_test.par_skew (id INT PRIMARY KEY, k BIGINT NULL, \
               d DATE NOT NULL, v VARCHAR(20) NOT NULL, KEY (k)) ENGINE=InnoDB;
             INSERT INTO gd_test.par_skew
               SELECT seq, IF(seq % 97 = 0, NULL, IF(seq <= 18000, seq, 18000 + (seq - 18000) * 891)),
                      DATE '2000-01-01' + INTERVAL seq % 9000 DAY, CONCAT('v,', seq)
                 FROM seq_1_to_20000;
             CREATE OR REPLACE TABLE gd_test.par_gaps (id INT PRIMARY KEY,
               k BIGINT UNSIGNED NOT NULL, v VARCHAR(20) NOT NULL, UNIQUE KEY (k)) ENGINE=InnoDB;
             INSERT INTO gd_test.par_gaps
               SELECT seq, ((seq - 1) DIV 5000) * 2305843009213693952 + seq, CONCAT('g\"', seq)
                 FROM seq_1_to_20000;
             ANALYZE TABLE gd_test.par_skew, gd_test.par_gaps;",
        );
    });
}

/// The server's rows of `sql` as sorted lines of fields (no value here holds a tab).
fn server_rows(sql: &str) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = mariadb_batch(sql)
        .into_iter()
        .map(|r| {
            r.into_iter()
                .map(|f| f.map_or(String::new(), |f| String::from_utf8(f).unwrap()))
                .collect()
        })
        .collect();
    rows.sort();
    rows
}

/// The records of an export, parsed by the csv crate or serde_json, header dropped, sorted.
fn exported_rows(path: &Path) -> Vec<Vec<String>> {
    let bytes = common::read(path);
    let mut rows: Vec<Vec<String>> = if path.extension().is_some_and(|e| e == "json") {
        let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        doc["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                // serde_json's map sorts its keys: take them in the export's order.
                let header = String::from_utf8_lossy(&bytes);
                let mut keys: Vec<(usize, &String)> = o
                    .as_object()
                    .unwrap()
                    .keys()
                    .map(|k| (header.find(&format!("\"{k}\":")).unwrap(), k))
                    .collect();
                keys.sort();
                keys.into_iter()
                    .map(|(_, k)| &o[k.as_str()])
                    .map(|v| match v {
                        serde_json::Value::Null => String::new(),
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect()
            })
            .collect()
    } else {
        let delimiter = if path.extension().is_some_and(|e| e == "csv") {
            b','
        } else {
            b'\t'
        };
        csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .from_reader(bytes.as_slice())
            .records()
            .map(|r| r.unwrap().iter().map(str::to_string).collect())
            .collect()
    };
    rows.sort();
    rows
}

fn url() -> String {
    server().url.clone()
}

/// Rows per chunk, per connection id, from the `chunk done` lines of `-vv`.
fn chunk_log(r: &Run) -> Vec<(String, u64)> {
    String::from_utf8_lossy(&r.stderr)
        .lines()
        .filter(|l| l.contains("chunk done"))
        .map(|l| {
            let field = |name: &str| {
                let at = l.find(&format!("{name}=")).unwrap() + name.len() + 1;
                l[at..].split([' ', ',']).next().unwrap().to_string()
            };
            (field("connection"), field("rows").parse().unwrap())
        })
        .collect()
}

/// Exports `sql` with `-j threads --split-by k --chunk-rows chunk` into every format and
/// checks each file against the server; returns the chunk log of the CSV run.
fn export_all_formats(sql: &str, threads: &str, chunk: &str) -> Vec<(String, u64)> {
    let expected = server_rows(sql);
    let dir = common::tempdir();
    let mut log = Vec::new();
    for name in ["out.csv", "out.tsv", "out.json"] {
        let path = dir.path().join(name);
        let r = run(gd()
            .args([
                "--db-url",
                &url(),
                "-q",
                sql,
                "-j",
                threads,
                "--split-by",
                "k",
            ])
            .args(["--chunk-rows", chunk, "-vv", "-o"])
            .arg(&path));
        r.assert_code(0);
        assert_eq!(exported_rows(&path), expected, "{name} with -j {threads}");
        if name == "out.csv" {
            log = chunk_log(&r);
        }
    }
    log
}

/// No chunk much larger than asked, and every connection did a fair share.
fn assert_balanced(log: &[(String, u64)], chunk_rows: u64, connections: usize) {
    let largest = log.iter().map(|(_, n)| *n).max().unwrap();
    assert!(
        largest <= 4 * chunk_rows,
        "a chunk of {largest} rows: {log:?}"
    );
    let mut per_connection: HashMap<&str, u64> = HashMap::new();
    for (c, n) in log {
        *per_connection.entry(c.as_str()).or_default() += n;
    }
    assert_eq!(per_connection.len(), connections, "{per_connection:?}");
    let total: u64 = per_connection.values().sum();
    for (c, n) in &per_connection {
        assert!(
            *n * 10 >= total,
            "connection {c} exported {n} of {total} rows"
        );
    }
}

#[test]
fn a_key_with_90_percent_of_rows_in_1_percent_of_its_range_keeps_every_connection_busy() {
    tables();
    let sql = "SELECT id, k, d, v FROM gd_test.par_skew";
    let log = export_all_formats(sql, "2", "500");
    assert_balanced(&log, 500, 2);
    let log = export_all_formats(sql, "4", "500");
    assert_balanced(&log, 500, 4);
}

#[test]
fn a_key_with_huge_gaps_keeps_every_connection_busy() {
    tables();
    let log = export_all_formats("SELECT id, k, v FROM gd_test.par_gaps", "2", "500");
    assert_balanced(&log, 500, 2);
    // Gaps of 2^61 cost no more than a few empty chunks.
    let empty = log.iter().filter(|(_, n)| *n == 0).count();
    assert!(empty <= 8, "{empty} empty chunks: {log:?}");
}

#[test]
fn table_exports_split_on_the_primary_key_and_dates_split_too() {
    tables();
    let expected = server_rows("SELECT * FROM gd_test.par_skew WHERE id > 100");
    let dir = common::tempdir();
    let path = dir.path().join("t.csv");
    run(gd()
        .args([
            "--db-url",
            &url(),
            "-j",
            "2",
            "--table",
            "par_skew",
            "--where",
            "id > 100",
        ])
        .args(["--chunk-rows", "1000", "-o"])
        .arg(&path))
    .assert_code(0);
    assert_eq!(exported_rows(&path), expected);
    // A DATE split column (not indexed: a few full scans, still every row once).
    let sql = "SELECT id, d FROM gd_test.par_skew";
    let path = dir.path().join("d.tsv");
    let r = run(gd()
        .args([
            "--db-url",
            &url(),
            "-q",
            sql,
            "-j",
            "2",
            "--split-by",
            "D",
            "-o",
        ])
        .arg(&path));
    r.assert_code(0);
    assert_eq!(exported_rows(&path), server_rows(sql));
}

#[test]
fn chunk_ranges_use_the_primary_key_index() {
    tables();
    let split = Split {
        query: "SELECT * FROM gd_test.par_skew".into(),
        column: "id".into(),
        key: KeyType::Integer,
    };
    let sql = split.chunk_sql(Chunk::Range {
        lo: Some(100),
        hi: Some(600),
    });
    let plan = mariadb_batch(&format!("EXPLAIN {sql}"));
    // id, select_type, table, type, possible_keys, key, key_len, ref, rows, Extra
    assert_eq!(plan.len(), 1, "{plan:?}");
    let field = |i: usize| String::from_utf8(plan[0][i].clone().unwrap_or_default()).unwrap();
    assert_eq!(field(3), "range", "{plan:?}");
    assert_eq!(field(5), "PRIMARY", "{plan:?}");
}

#[test]
fn what_cannot_be_split_is_refused_with_exit_2() {
    tables();
    let dir = common::tempdir();
    for (sql, split_by, why) in [
        ("SELECT * FROM gd_test.par_skew LIMIT 10", "id", "LIMIT"),
        (
            "SELECT * FROM gd_test.par_skew ORDER BY id",
            "id",
            "ORDER BY",
        ),
        ("DELETE FROM gd_test.par_skew", "id", "single SELECT"),
        ("SELECT id FROM gd_test.par_skew", "nope", "no such column"),
        (
            "SELECT id, v FROM gd_test.par_skew",
            "v",
            "cannot split on this column",
        ),
    ] {
        let path = dir.path().join("x.csv");
        let r = run(gd()
            .args([
                "--db-url",
                &url(),
                "-q",
                sql,
                "-j",
                "2",
                "--split-by",
                split_by,
                "-o",
            ])
            .arg(&path));
        r.assert_code(2);
        assert!(r.output_text().contains(why), "{sql}: {r}");
        assert!(!path.exists(), "{sql}");
        assert_eq!(common::dir_entries(dir.path()), Vec::<String>::new());
    }
    let r = run(gd().args([
        "--db-url",
        &url(),
        "-q",
        "SELECT 1 AS k",
        "-j",
        "2",
        "-o",
        "-",
    ]));
    r.assert_code(2);
    assert!(r.output_text().contains("--split-by"), "{r}");
}

#[test]
fn a_snapshot_without_the_reload_privilege_fails_before_any_row() {
    tables();
    let port = server().port;
    // gd_tls may read gd_test but has no RELOAD.
    let url = format!("mysql://gd_tls:tls_pass@127.0.0.1:{port}/gd_test");
    let dir = common::tempdir();
    let path = dir.path().join("x.csv");
    let args = ["--db-url", &url, "-j", "2", "--table", "par_skew", "-o"];
    let r = run(gd().args(args).arg(&path));
    r.assert_code(4);
    let text = r.output_text();
    assert!(
        text.contains("RELOAD") && text.contains("--consistency none"),
        "{r}"
    );
    assert!(!text.contains("tls_pass"), "{r}");
    assert_eq!(common::dir_entries(dir.path()), Vec::<String>::new());
    run(gd().args(args).arg(&path).args(["--consistency", "none"])).assert_code(0);
    assert_eq!(
        exported_rows(&path),
        server_rows("SELECT * FROM gd_test.par_skew")
    );
}

#[test]
fn one_snapshot_holds_while_transfers_inserts_and_deletes_commit() {
    // 20,000 accounts of 100: the total is 2,000,000 at every commit.
    mariadb_batch(
        "USE gd_test;
         CREATE OR REPLACE TABLE gd_test.par_bank (id INT PRIMARY KEY, balance BIGINT NOT NULL)
           ENGINE=InnoDB;
         INSERT INTO gd_test.par_bank SELECT seq, 100 FROM seq_1_to_20000;
         CREATE OR REPLACE TABLE gd_test.par_bank_log (n INT NOT NULL) ENGINE=InnoDB;
         INSERT INTO gd_test.par_bank_log VALUES (0);
         DELIMITER //
         CREATE OR REPLACE PROCEDURE gd_test.par_bank_churn(rounds INT)
         BEGIN
           DECLARE i INT DEFAULT 0;
           DECLARE a, b INT;
           WHILE i < rounds DO
             SET a = 1 + FLOOR(RAND() * 20000), b = 1 + FLOOR(RAND() * 20000);
             START TRANSACTION;
             UPDATE gd_test.par_bank SET balance = balance - 7 WHERE id = a;
             UPDATE gd_test.par_bank SET balance = balance + 7 WHERE id = b;
             IF i % 5 = 0 THEN
               -- A new account funded from b, and b's old neighbour closed into a.
               INSERT INTO gd_test.par_bank VALUES (100000 + i, 3);
               UPDATE gd_test.par_bank SET balance = balance - 3 WHERE id = b;
               UPDATE gd_test.par_bank SET balance = balance + COALESCE((SELECT x.balance FROM
                 (SELECT balance FROM gd_test.par_bank WHERE id = 100000 + i - 5) AS x), 0)
                 WHERE id = a;
               DELETE FROM gd_test.par_bank WHERE id = 100000 + i - 5;
             END IF;
             UPDATE gd_test.par_bank_log SET n = n + 1;
             COMMIT;
             SET i = i + 1;
           END WHILE;
         END//",
    );
    let socket = server().socket.clone();
    let churn = std::thread::spawn(move || {
        std::process::Command::new("mariadb")
            .args(["--no-defaults", "--protocol=socket", "-S"])
            .arg(&socket)
            .args(["-uroot", "-e", "CALL gd_test.par_bank_churn(20000)"])
            .output()
            .unwrap()
    });
    let committed = || -> u64 {
        let n = mariadb_batch("SELECT n FROM gd_test.par_bank_log");
        String::from_utf8(n[0][0].clone().unwrap())
            .unwrap()
            .parse()
            .unwrap()
    };
    while committed() < 200 {
        std::thread::sleep(Duration::from_millis(20));
    }
    let dir = common::tempdir();
    let mut runs = 0;
    let before = committed();
    while runs < 3 {
        let path = dir.path().join(format!("bank{runs}.csv"));
        run(gd()
            .args([
                "--db-url",
                &url(),
                "-j",
                "3",
                "--table",
                "par_bank",
                "--chunk-rows",
                "300",
            ])
            .arg("-o")
            .arg(&path))
        .assert_code(0);
        let rows = exported_rows(&path);
        let total: i64 = rows.iter().map(|r| r[1].parse::<i64>().unwrap()).sum();
        assert_eq!(total, 2_000_000, "run {runs}: {} rows", rows.len());
        let mut ids: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), rows.len(), "a row twice in run {runs}");
        runs += 1;
    }
    let during = committed() - before;
    let out = churn.join().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        during >= 10,
        "only {during} transactions committed during the exports"
    );
    eprintln!("snapshot test: {runs} exports, {during} transactions committed meanwhile");
}

#[test]
fn killing_one_worker_fails_the_whole_export_and_leaves_nothing() {
    tables();
    let dir = common::tempdir();
    let path = dir.path().join("k.csv");
    std::fs::write(&path, "previous\n").unwrap();
    // About a millisecond of server time per row: 20 s in all, so the KILL lands mid-export.
    let sql = "SELECT id, k, SLEEP(0.001) AS gd_par_kill FROM gd_test.par_skew";
    let r = run_with(
        gd().args(["--db-url", &url(), "-q", sql, "-j", "2", "--split-by", "k"])
            .args(["--chunk-rows", "200", "-o"])
            .arg(&path),
        Duration::from_secs(60),
        None,
        |_| {
            let find = "SELECT ID FROM information_schema.PROCESSLIST \
                        WHERE INFO LIKE '%gd_par_kill%' AND INFO LIKE '%gd_chunk%' \
                        AND INFO NOT LIKE '%PROCESSLIST%' LIMIT 1";
            for _ in 0..200 {
                if let Some(Some(id)) = mariadb_batch(find).into_iter().next().map(|r| r[0].clone())
                {
                    mariadb_batch(&format!("KILL {}", String::from_utf8(id).unwrap()));
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            panic!("no chunk query showed up in the processlist");
        },
    );
    r.assert_code(4);
    assert_eq!(common::read(&path), b"previous\n");
    assert_eq!(common::dir_entries(dir.path()), ["k.csv"]);
    // The other connection's chunk query was cancelled too.
    std::thread::sleep(Duration::from_millis(500));
    let left = mariadb_batch(
        "SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE '%gd_par_kill%' \
         AND INFO NOT LIKE '%PROCESSLIST%'",
    );
    assert!(left.is_empty(), "still running: {left:?}");
}

#[test]
fn a_cut_on_one_of_the_connections_fails_the_whole_export_and_leaves_nothing() {
    tables();
    // The workers connect first (relay connections 0 and 1), then the snapshot's control
    // connection. 150,000 bytes into its responses the second worker is streaming chunk rows.
    for fault in [
        Fault::CutRst { after: 150_000 },
        Fault::CutFin { after: 150_000 },
    ] {
        let relay = Relay::start_each(
            server().port,
            move |i| {
                if i == 1 { fault } else { Fault::None }
            },
        );
        let dir = common::tempdir();
        let path = dir.path().join("cut.csv");
        std::fs::write(&path, "previous\n").unwrap();
        let r = run(gd()
            .args([
                "--db-url",
                &relay.url("gd", "gd_pass", "gd_test"),
                "-j",
                "2",
            ])
            .args(["--table", "par_skew", "--chunk-rows", "500", "-o"])
            .arg(&path));
        r.assert_code(4);
        assert!(
            r.output_text().contains("export failed after"),
            "{fault:?}: {r}"
        );
        assert_eq!(common::read(&path), b"previous\n", "{fault:?}");
        assert_eq!(common::dir_entries(dir.path()), ["cut.csv"], "{fault:?}");
        let recordings = relay.stop();
        assert!(recordings.len() >= 2, "{} connections", recordings.len());
        assert!(
            recordings[1].from_server.len() > 150_000,
            "the cut connection received only {} bytes: the fault was not mid-export",
            recordings[1].from_server.len()
        );
    }
}

#[test]
fn warnings_of_the_chunk_queries_are_reported() {
    tables();
    let expr = "CAST(CONCAT('x', id) AS INT)";
    // The server's own text for the first row's warning.
    let server = mariadb_batch(&format!(
        "SELECT {expr} FROM gd_test.par_skew WHERE id = 1; SHOW WARNINGS"
    ));
    let message = String::from_utf8(server.last().unwrap()[2].clone().unwrap()).unwrap();
    let dir = common::tempdir();
    let sql = format!("SELECT id, {expr} AS bad FROM gd_test.par_skew");
    let r = run(gd()
        .args([
            "--db-url",
            &url(),
            "-q",
            &sql,
            "-j",
            "2",
            "--split-by",
            "id",
            "-o",
        ])
        .arg(dir.path().join("w.csv")));
    r.assert_code(0);
    let text = String::from_utf8_lossy(&r.stderr);
    assert!(text.contains("1292"), "{r}");
    assert!(
        text.contains(message.split('\'').next().unwrap()),
        "{message:?} not in {r}"
    );
    assert!(text.contains("raised 20000 warnings in all"), "{r}");
    let quiet = run(gd()
        .args([
            "--db-url",
            &url(),
            "-q",
            &sql,
            "-j",
            "2",
            "--split-by",
            "id",
            "--quiet",
        ])
        .arg("-o")
        .arg(dir.path().join("q.csv")));
    quiet.assert_code(0);
    assert!(quiet.stderr.is_empty(), "{quiet}");
}
