//! Fixtures for the integration tests: the throwaway MariaDB server, the server's own view of
//! the data (through the real `mariadb` client), and a builder for running the real binary.
//!
//! The server comes from the environment (`GD_TEST_URL`, `GD_TEST_SOCKET`, `GD_TEST_PORT`, as
//! printed by `scripts/test-db.sh env`); when those are unset, `scripts/test-db.sh start` is run
//! once per test binary. There is no skipping: a test that needs the server fails when the
//! server cannot be had.
#![allow(dead_code)]

pub mod relay;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How to reach the test server.
#[derive(Debug, Clone)]
pub struct Server {
    /// `mysql://gd:gd_pass@127.0.0.1:PORT/gd_test`
    pub url: String,
    /// Absolute path of the server's Unix socket (root logs in there by unix_socket).
    pub socket: PathBuf,
    /// TCP port on 127.0.0.1.
    pub port: u16,
    /// `mysql://root@localhost/gd_test?socket=...`, when known.
    pub socket_url: Option<String>,
}

impl Server {
    /// A URL for `user:password` on the test server's TCP port, with `db` as the database
    /// (empty for none).
    pub fn url_for(&self, user: &str, password: &str, db: &str) -> String {
        format!("mysql://{user}:{password}@127.0.0.1:{}/{db}", self.port)
    }
}

/// The repository root (where Cargo.toml and scripts/ are).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

static SERVER: OnceLock<Server> = OnceLock::new();

/// The test server, started (or reused) on first use. Panics with the reason when it cannot be
/// reached.
pub fn server() -> &'static Server {
    SERVER.get_or_init(|| {
        let srv = from_env().unwrap_or_else(start_with_script);
        // Prove that it answers, so that every later failure is about gold_digger.
        let ping = Command::new("mariadb-admin")
            .args(["--no-defaults", "--protocol=socket", "-S"])
            .arg(&srv.socket)
            .args(["-uroot", "--connect-timeout=5", "ping"])
            .output();
        match ping {
            Ok(out) if out.status.success() => {}
            Ok(out) => panic!(
                "the test server does not answer on {} (GD_TEST_SOCKET; start it with \
                 scripts/test-db.sh start): {}",
                srv.socket.display(),
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => panic!("cannot run mariadb-admin (is mariadb-client installed?): {e}"),
        }
        let out = mariadb_raw(&srv.socket, "SELECT 1");
        assert_eq!(
            out.trim_ascii(),
            b"1",
            "the test server did not answer SELECT 1"
        );
        srv
    })
}

fn from_env() -> Option<Server> {
    let url = std::env::var("GD_TEST_URL")
        .ok()
        .filter(|s| !s.is_empty())?;
    let socket = std::env::var("GD_TEST_SOCKET").unwrap_or_else(|_| {
        panic!("GD_TEST_URL is set but GD_TEST_SOCKET is not: set both (scripts/test-db.sh env)")
    });
    let port = std::env::var("GD_TEST_PORT")
        .ok()
        .map(|p| p.parse().expect("GD_TEST_PORT is not a port number"))
        .or_else(|| url::Url::parse(&url).ok()?.port())
        .unwrap_or(33306);
    Some(Server {
        url,
        socket: PathBuf::from(socket),
        port,
        socket_url: std::env::var("GD_TEST_SOCKET_URL").ok(),
    })
}

fn start_with_script() -> Server {
    let script = repo_root().join("scripts/test-db.sh");
    let out = Command::new(&script)
        .arg("start")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "`scripts/test-db.sh start` failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(&script)
        .arg("env")
        .output()
        .expect("scripts/test-db.sh env");
    assert!(out.status.success(), "`scripts/test-db.sh env` failed");
    let vars = parse_exports(&String::from_utf8_lossy(&out.stdout));
    let get = |k: &str| {
        vars.iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("`scripts/test-db.sh env` printed no {k}"))
    };
    Server {
        url: get("GD_TEST_URL"),
        socket: PathBuf::from(get("GD_TEST_SOCKET")),
        port: get("GD_TEST_PORT").parse().expect("GD_TEST_PORT"),
        socket_url: Some(get("GD_TEST_SOCKET_URL")),
    }
}

/// Parses `export NAME='value'` lines (single quotes, `'\''` for a quote inside).
fn parse_exports(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let (name, quoted) = line.strip_prefix("export ")?.split_once('=')?;
            let value = quoted
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .map(|v| v.replace(r"'\''", "'"))
                .unwrap_or_else(|| quoted.to_string());
            Some((name.to_string(), value))
        })
        .collect()
}

// --- the server's own view of the data -------------------------------------------------------

fn mariadb_raw(socket: &Path, sql: &str) -> Vec<u8> {
    let out = Command::new("mariadb")
        .args(["--no-defaults", "--protocol=socket", "-S"])
        .arg(socket)
        .args([
            "-uroot",
            "--default-character-set=utf8mb4",
            "--max-allowed-packet=1G",
            "--batch",
            "--raw",
            "--skip-column-names",
            "-e",
            sql,
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run the mariadb client (is mariadb-client installed?): {e}")
        });
    assert!(
        out.status.success(),
        "mariadb client failed on {sql:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Runs `sql` with the real `mariadb` client as root over the socket, `--batch --raw`: one
/// `Vec` per line, one field per tab; the field `NULL` becomes `None`.
///
/// `--batch --raw` escapes nothing, so a value holding a tab or newline, or the text `NULL`,
/// comes back ambiguous: for exact values use [`server_values`].
pub fn mariadb_batch(sql: &str) -> Vec<Vec<Option<Vec<u8>>>> {
    let out = mariadb_raw(&server().socket, sql);
    out.split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| {
            line.split(|&b| b == b'\t')
                .map(|f| (f != b"NULL").then(|| f.to_vec()))
                .collect()
        })
        .collect()
}

/// Exact values from the server: for each row of `from` (a table name, optionally followed by
/// `WHERE`/`ORDER BY`, or a whole `SELECT` statement) and each SQL expression in `exprs`, the
/// bytes of `HEX(expr)` decoded, or `None` when `expr IS NULL`.
///
/// `HEX()` of a number is the hex of its value, not of its text: give numeric and temporal
/// columns as `CAST(col AS CHAR)` (see [`Column::exact_expr`]).
pub fn server_values<S: AsRef<str>>(from: &str, exprs: &[S]) -> Vec<Vec<Option<Vec<u8>>>> {
    assert!(!exprs.is_empty());
    let select: Vec<String> = exprs
        .iter()
        .map(|e| {
            let e = e.as_ref();
            format!("({e}) IS NULL, IFNULL(HEX({e}), '')")
        })
        .collect();
    let trimmed = from.trim_start();
    let source = if trimmed.len() >= 6 && trimmed[..6].eq_ignore_ascii_case("select") {
        format!("({from}) AS q")
    } else {
        from.to_string()
    };
    let sql = format!("SELECT {} FROM {source}", select.join(", "));
    let out = mariadb_raw(&server().socket, &sql);
    out.split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| {
            let fields: Vec<&[u8]> = line.split(|&b| b == b'\t').collect();
            assert_eq!(
                fields.len(),
                2 * exprs.len(),
                "unexpected client output: {line:?}"
            );
            fields
                .chunks(2)
                .map(|pair| match pair[0] {
                    b"1" => None,
                    b"0" => Some(unhex(pair[1])),
                    other => panic!("IS NULL gave {other:?}"),
                })
                .collect()
        })
        .collect()
}

fn unhex(hex: &[u8]) -> Vec<u8> {
    fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'A'..=b'F' => c - b'A' + 10,
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("not a hex digit: {c}"),
        }
    }
    assert!(hex.len().is_multiple_of(2), "odd hex length");
    hex.chunks(2)
        .map(|p| nibble(p[0]) << 4 | nibble(p[1]))
        .collect()
}

/// How a column's values are expected to appear in the exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// TINYINT…BIGINT: a JSON number with the server's exact text.
    Int,
    /// DECIMAL: a JSON number with the server's exact text (never through a float).
    Decimal,
    /// FLOAT, DOUBLE: a JSON number with the server's exact text.
    Float,
    /// YEAR and ZEROFILL integers: the server's text has leading zeros, which a JSON number
    /// cannot have; JSON may hold either the number or the text as a string.
    PaddedNumber,
    /// BIT(n): the unsigned integer (server: `CAST(col AS UNSIGNED)`).
    Bit,
    /// Charset 63 strings (BINARY, VARBINARY, BLOBs, spatial): the Auto rule.
    Binary,
    /// JSON (MariaDB: LONGTEXT with a json_valid check): text in CSV/TSV, a value in JSON.
    Json,
    /// Everything else: the server's text (temporal, strings, ENUM, SET, UUID, INET).
    Text,
}

/// A column of a table, from information_schema.
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub data_type: String,
    pub column_type: String,
    pub kind: Kind,
}

impl Column {
    /// An SQL expression whose bytes are exactly what the exports must hold (before the
    /// Auto rule for binary columns).
    pub fn exact_expr(&self) -> String {
        let c = format!("`{}`", self.name);
        match self.kind {
            Kind::Binary => c,
            Kind::Bit => format!("CAST(CAST({c} AS UNSIGNED) AS CHAR)"),
            // The text protocol rounds FLOAT to six digits; the binary one sends the stored
            // value, which the server shows exactly as a DOUBLE (compare with `float_matches`).
            Kind::Float if binary_protocol() => format!("CAST(CAST({c} AS DOUBLE) AS CHAR)"),
            _ => format!("CAST({c} AS CHAR)"),
        }
    }
}

/// Whether the suite's exports use the binary protocol: gold_digger's default, unless
/// `GD_TEST_PROTOCOL=text` (see `with_test_protocol`).
pub fn binary_protocol() -> bool {
    std::env::var("GD_TEST_PROTOCOL").map_or(true, |p| p != "text")
}

/// Whether an exported FLOAT or DOUBLE (`data_type` as information_schema names it) is the
/// server's value `want` (from [`Column::exact_expr`]): the same text with the text protocol;
/// with the binary protocol the same number, as an `f32` for FLOAT (gold_digger writes the
/// shortest text that reads back to the stored value, the server its DOUBLE's digits).
pub fn float_matches(data_type: &str, got: &[u8], want: &[u8]) -> bool {
    if !binary_protocol() {
        return got == want;
    }
    let (Ok(got), Ok(want)) = (std::str::from_utf8(got), std::str::from_utf8(want)) else {
        return false;
    };
    match data_type {
        "float" => match (got.parse::<f32>(), want.parse::<f64>()) {
            (Ok(g), Ok(w)) => g.to_bits() == (w as f32).to_bits(),
            _ => false,
        },
        _ => match (got.parse::<f64>(), want.parse::<f64>()) {
            (Ok(g), Ok(w)) => g.to_bits() == w.to_bits(),
            _ => false,
        },
    }
}

/// The columns of `schema.table` in order, with their [`Kind`].
pub fn table_columns(schema: &str, table: &str) -> Vec<Column> {
    let sql = format!(
        "SELECT c.COLUMN_NAME, c.DATA_TYPE, c.COLUMN_TYPE,
                (SELECT COUNT(*) FROM information_schema.CHECK_CONSTRAINTS k
                  WHERE k.CONSTRAINT_SCHEMA = c.TABLE_SCHEMA AND k.TABLE_NAME = c.TABLE_NAME
                    AND k.CHECK_CLAUSE = CONCAT('json_valid(`', c.COLUMN_NAME, '`)'))
           FROM information_schema.COLUMNS c
          WHERE c.TABLE_SCHEMA = '{schema}' AND c.TABLE_NAME = '{table}'
          ORDER BY c.ORDINAL_POSITION"
    );
    let rows = mariadb_batch(&sql);
    assert!(!rows.is_empty(), "table {schema}.{table} not found");
    rows.into_iter()
        .map(|r| {
            let s = |i: usize| String::from_utf8(r[i].clone().unwrap()).unwrap();
            let (name, data_type, column_type, json) = (s(0), s(1), s(2), s(3) != "0");
            let kind = match data_type.as_str() {
                _ if json => Kind::Json,
                "year" => Kind::PaddedNumber,
                _ if column_type.contains("zerofill") => Kind::PaddedNumber,
                "tinyint" | "smallint" | "mediumint" | "int" | "bigint" => Kind::Int,
                "decimal" => Kind::Decimal,
                "float" | "double" => Kind::Float,
                "bit" => Kind::Bit,
                "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob"
                | "geometry" | "point" | "linestring" | "polygon" | "multipoint"
                | "multilinestring" | "multipolygon" | "geometrycollection" => Kind::Binary,
                _ => Kind::Text,
            };
            Column {
                name,
                data_type,
                column_type,
                kind,
            }
        })
        .collect()
}

/// The default (`--binary auto`) rendering of binary bytes: the bytes themselves when they are
/// valid UTF-8 without control characters other than TAB, LF and CR that does not start with
/// `0x`, else `0x` and uppercase hex.
pub fn binary_auto(bytes: &[u8]) -> Vec<u8> {
    let control = bytes
        .iter()
        .any(|&b| (b < 0x20 && !b"\t\n\r".contains(&b)) || b == 0x7F);
    if !control && !bytes.starts_with(b"0x") && std::str::from_utf8(bytes).is_ok() {
        return bytes.to_vec();
    }
    let mut out = b"0x".to_vec();
    for b in bytes {
        write!(out, "{b:02X}").unwrap();
    }
    out
}

// --- running gold_digger ---------------------------------------------------------------------

/// The built `gold_digger` binary, with DATABASE_URL, DATABASE_QUERY and OUTPUT_FILE removed
/// from its environment. Run it with [`run`].
pub fn gd() -> Command {
    let mut cmd = isolated(env!("CARGO_BIN_EXE_gold_digger"));
    cmd.stdin(Stdio::null());
    cmd
}

/// `program` with the environment `gd()` gives the binary: for gold_digger itself, or a
/// command that wraps it (`script`, `setsid`).
pub fn isolated(program: &str) -> Command {
    let mut cmd = Command::new(program);
    for var in [
        "DATABASE_URL",
        "DATABASE_QUERY",
        "OUTPUT_FILE",
        "RUST_LOG",
        "MYSQL_PWD",
    ] {
        cmd.env_remove(var);
    }
    // No ~/.my.cnf of whoever runs the tests (a test that wants one sets HOME itself).
    cmd.env("HOME", "/nonexistent/gd-test-home");
    cmd
}

/// What a run of the binary left behind.
#[derive(Debug)]
pub struct Run {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Run {
    /// The exit code (panics when the process was killed by a signal).
    pub fn code(&self) -> i32 {
        self.status
            .code()
            .unwrap_or_else(|| panic!("killed by a signal: {self}"))
    }

    /// stdout and stderr, lossily decoded.
    pub fn output_text(&self) -> String {
        format!(
            "{}{}",
            String::from_utf8_lossy(&self.stdout),
            String::from_utf8_lossy(&self.stderr)
        )
    }

    /// Panics unless the exit code is `code`.
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.status.code(),
            Some(code),
            "expected exit code {code}: {self}"
        );
        self
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}\n--- stdout ({} bytes) ---\n{}\n--- stderr ---\n{}",
            self.status,
            self.stdout.len(),
            String::from_utf8_lossy(&self.stdout[..self.stdout.len().min(2000)]),
            String::from_utf8_lossy(&self.stderr)
        )
    }
}

/// Runs `cmd` to completion with stdout and stderr captured; kills it and panics after
/// `GD_TEST_TIMEOUT` seconds (default 120), so a hung binary fails the test instead of the
/// whole run.
pub fn run(cmd: &mut Command) -> Run {
    let limit = std::env::var("GD_TEST_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(120));
    run_with(cmd, limit, None, |_| {})
}

/// Like [`run`] with an explicit time `limit`, an optional stdout (captured when `None`), and
/// `during`, called with the child's pid once it runs (to signal it or to act on the server
/// while it works).
pub fn run_with(
    cmd: &mut Command,
    limit: Duration,
    stdout: Option<Stdio>,
    during: impl FnOnce(u32),
) -> Run {
    let captured = stdout.is_none();
    with_test_protocol(cmd);
    let mut child = cmd
        .stdout(stdout.unwrap_or_else(Stdio::piped))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            r.read_to_end(&mut buf).map(|_| buf)
        })
    };
    let out = captured.then(|| drain(Box::new(child.stdout.take().unwrap())));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let start = Instant::now();
    during(child.id());
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for gold_digger") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Run {
        status,
        stdout: out
            .map(|o| o.join().unwrap().expect("reading stdout"))
            .unwrap_or_default(),
        stderr: err.join().unwrap().expect("reading stderr"),
    }
}

/// `GD_TEST_PROTOCOL=binary` (or `text`) runs every export of the suite with that
/// `--protocol`, unless the test chose one itself: the same tests prove both protocols.
fn with_test_protocol(cmd: &mut Command) {
    let Ok(protocol) = std::env::var("GD_TEST_PROTOCOL") else {
        return;
    };
    let ours = cmd.get_program() == std::ffi::OsStr::new(env!("CARGO_BIN_EXE_gold_digger"));
    let chosen = cmd
        .get_args()
        .any(|a| a == "--protocol" || a.to_string_lossy().starts_with("--protocol="));
    let subcommand = cmd.get_args().next().is_some_and(|a| a == "completion");
    if ours && !chosen && !subcommand {
        cmd.args(["--protocol", &protocol]);
    }
}

/// A fresh temporary directory, removed when dropped.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("gd-it-")
        .tempdir()
        .expect("creating a temporary directory")
}

/// The names of the entries of `dir`, sorted.
pub fn dir_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Reads a whole file, naming it in the panic message.
pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}
