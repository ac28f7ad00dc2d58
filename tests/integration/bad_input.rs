//! Issue 5: a table of bad invocations (flags, environment, config files, URLs, paths,
//! formats, TLS flags). Each must exit with its code, say the given phrase on stderr, leave no
//! file behind, and never print the password, also with -vvv.

use crate::common::{self, gd, run, server};

/// Distinctive, so that any echo of it is found.
const PW: &str = "Sw0rdf1sh-7731";

struct Bad {
    name: &'static str,
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
    /// Written to `{dir}/c.toml`; `{cfg}` in args names it.
    config: Option<String>,
    code: i32,
    /// Must appear in stderr (compared case-insensitively).
    phrase: &'static str,
    /// Add `-o {dir}/out/out.csv` unless the case sets its own output.
    add_output: bool,
}

fn bad(name: &'static str, args: &[&str], code: i32, phrase: &'static str) -> Bad {
    Bad {
        name,
        args: args.iter().map(|s| s.to_string()).collect(),
        env: Vec::new(),
        config: None,
        code,
        phrase,
        add_output: !args.iter().any(|a| *a == "-o" || a.starts_with("--output")),
    }
}

fn cases() -> Vec<Bad> {
    let url = format!("mysql://gd:{PW}@127.0.0.1:{}/gd_test", server().port);
    let u = url.as_str();
    let with_url = |name, extra: &[&str], code, phrase| {
        let mut args = vec!["--db-url", u, "-q", "SELECT 1"];
        args.extend_from_slice(extra);
        bad(name, &args, code, phrase)
    };
    let bad_url = |name, url: &str, phrase| {
        let url = url.replace("PW", PW);
        bad(name, &["--db-url", &url, "-q", "SELECT 1"], 2, phrase)
    };
    let port = server().port.to_string();
    let client = ["--host", "127.0.0.1", "-P", port.as_str(), "-u", "gd"];
    let pw_flag = format!("--password={PW}");
    let config = |name, text: &str, code, phrase| Bad {
        config: Some(text.replace("PW", PW)),
        ..bad(name, &["--config", "{cfg}"], code, phrase)
    };
    vec![
        // --- flags
        bad("nothing at all", &[], 2, "no database URL"),
        bad("no query", &["--db-url", u], 2, "no query"),
        bad(
            "no output",
            &["--db-url", u, "-q", "SELECT 1"],
            2,
            "no output",
        )
        .without_output(),
        with_url("unknown flag", &["--frobnicate"], 2, "unexpected argument"),
        with_url(
            "unknown format",
            &["--format", "xml"],
            2,
            "invalid value 'xml'",
        ),
        with_url(
            "unknown binary encoding",
            &["--binary", "rot13"],
            2,
            "invalid value",
        ),
        with_url(
            "connect timeout not a number",
            &["--connect-timeout", "soon"],
            2,
            "invalid value",
        ),
        with_url(
            "connect timeout zero",
            &["--connect-timeout", "0"],
            2,
            "at least 1 second",
        ),
        with_url(
            "negative read timeout",
            &["--read-timeout=-1"],
            2,
            "invalid value",
        ),
        with_url(
            "max row size unit",
            &["--max-row-size", "10T"],
            2,
            "is not a size",
        ),
        with_url(
            "max row size too small",
            &["--max-row-size", "100"],
            2,
            "between 4K and 1G",
        ),
        with_url(
            "max row size too large",
            &["--max-row-size", "2G"],
            2,
            "between 4K and 1G",
        ),
        with_url(
            "quiet and verbose",
            &["--quiet", "-v"],
            2,
            "cannot be used with",
        ),
        with_url(
            "query and query file",
            &["--query-file", "x.sql"],
            2,
            "cannot be used with",
        ),
        with_url(
            "query and positional query",
            &["SELECT 2"],
            2,
            "cannot be used with",
        ),
        with_url(
            "NULL marker with a comma",
            &["--null", "a,b"],
            2,
            "--null must not contain",
        ),
        bad(
            "empty query",
            &["--db-url", u, "-q", " ;\n; "],
            2,
            "the query is empty",
        ),
        bad(
            "output flag without a value",
            &["--db-url", u, "-q", "SELECT 1", "-o"],
            2,
            "a value is required",
        ),
        Bad {
            env: vec![("OUTPUT_FILE", String::new())],
            ..bad(
                "empty OUTPUT_FILE",
                &["--db-url", u, "-q", "SELECT 1"],
                2,
                "the output path is empty",
            )
            .without_output()
        },
        bad(
            "unknown shell",
            &["completion", "tcsh-ng"],
            2,
            "invalid value",
        )
        .without_output(),
        // --- URLs
        bad_url(
            "URL scheme",
            "postgres://gd:PW@127.0.0.1/gd_test",
            "unsupported scheme",
        ),
        bad_url(
            "URL without user",
            "mysql://:PW@127.0.0.1/gd_test",
            "no user name",
        ),
        bad_url(
            "URL parameter",
            "mysql://gd:PW@127.0.0.1/gd_test?pool=5",
            "unknown parameter 'pool'",
        ),
        bad_url(
            "URL port",
            "mysql://gd:PW@127.0.0.1:99999/gd_test",
            "invalid database URL",
        ),
        bad_url(
            "URL path",
            "mysql://gd:PW@127.0.0.1/gd_test/extra",
            "single database name",
        ),
        bad_url(
            "URL ssl-mode",
            "mysql://gd:PW@127.0.0.1/gd_test?ssl-mode=sometimes",
            "unknown ssl-mode",
        ),
        bad_url(
            "URL percent-encoding",
            "mysql://gd:PW%FF@127.0.0.1/gd_test",
            "not valid UTF-8",
        ),
        bad_url(
            "URL without scheme",
            "gd:PW@127.0.0.1/gd_test",
            "invalid database URL",
        ),
        // --- environment
        Bad {
            env: vec![("DATABASE_URL", format!("gd:{PW}@nowhere"))],
            ..bad(
                "DATABASE_URL invalid",
                &["-q", "SELECT 1"],
                2,
                "invalid database URL",
            )
        },
        Bad {
            env: vec![
                ("DATABASE_URL", url.clone()),
                ("DATABASE_QUERY", "  ;  ".into()),
            ],
            ..bad("DATABASE_QUERY empty", &[], 2, "the query is empty")
        },
        // --- config files
        bad(
            "config file missing",
            &["--config", "/nonexistent/gd.toml"],
            2,
            "config file",
        ),
        config(
            "config file not TOML",
            "db-url = \"mysql://gd:PW@h/db\n",
            2,
            "config file",
        ),
        config(
            "config unknown key",
            "db-url = \"mysql://gd:PW@h/db\"\ncolour = true\n",
            2,
            "unknown field",
        ),
        config(
            "config wrong type",
            "db-url = \"mysql://gd:PW@h/db\"\nconnect-timeout = \"soon\"\n",
            2,
            "invalid type",
        ),
        config(
            "config query and query-file",
            "db-url = \"mysql://gd:PW@h/db\"\nquery = \"SELECT 1\"\nquery-file = \"q.sql\"\n",
            2,
            "not both",
        ),
        config(
            "config max-row-size",
            "db-url = \"mysql://gd:PW@h/db\"\nquery = \"SELECT 1\"\nmax-row-size = \"huge\"\n",
            2,
            "is not a size",
        ),
        // --- TLS files and flags (checked before connecting)
        with_url(
            "TLS CA file missing",
            &["--tls-ca-file", "/nonexistent/ca.pem"],
            2,
            "CA file (--tls-ca-file)",
        ),
        Bad {
            config: Some("not a certificate\n".into()),
            ..with_url(
                "TLS CA file not PEM",
                &["--tls-ca-file", "{cfg}"],
                2,
                "no PEM certificate",
            )
        },
        with_url(
            "TLS cert without key",
            &["--tls-cert", "/nonexistent/c.pem"],
            2,
            "go together",
        ),
        Bad {
            config: Some("not a certificate\n".into()),
            ..with_url(
                "TLS client cert not PEM",
                &["--tls-cert", "{cfg}", "--tls-key", "{cfg}"],
                2,
                "client certificate (--tls-cert)",
            )
        },
        with_url(
            "TLS flags together",
            &["--tls-ca-file", "/x.pem", "--allow-invalid-certificate"],
            2,
            "cannot be used with",
        ),
        with_url(
            "ssl-mode unknown",
            &["--ssl-mode", "sometimes"],
            2,
            "invalid value",
        ),
        // --- paths and the server
        bad(
            "query file is a directory",
            &["--db-url", u, "--query-file", "/"],
            5,
            "cannot read query file",
        ),
        with_url(
            "output directory missing",
            &["-o", "{dir}/out/no/such/x.csv"],
            5,
            "cannot write output",
        ),
        with_url(
            "output is a directory",
            &["-o", "{dir}/out"],
            5,
            "directory",
        ),
        bad(
            "unreachable port",
            &[
                "--db-url",
                &format!("mysql://gd:{PW}@127.0.0.1:1/gd_test"),
                "-q",
                "SELECT 1",
            ],
            3,
            "cannot connect",
        ),
        bad(
            "wrong password",
            &["--db-url", &url, "-q", "SELECT 1"],
            3,
            "Access denied",
        ),
        // --- the mysql client's conventions (issue 15)
        bad(
            "wrong --password=",
            &[&client[..], &[&pw_flag, "-q", "SELECT 1"]].concat(),
            3,
            "Access denied",
        ),
        Bad {
            env: vec![("MYSQL_PWD", PW.to_string())],
            ..bad(
                "wrong MYSQL_PWD",
                &[&client[..], &["-q", "SELECT 1"]].concat(),
                3,
                "Access denied",
            )
        },
        Bad {
            config: Some(format!("[client]\nuser=gd\npassword=\"{PW}\n")),
            ..bad(
                "option file with an unclosed quote",
                &["--defaults-file", "{cfg}", "-q", "SELECT 1"],
                2,
                "line 3",
            )
        },
        Bad {
            config: Some(format!("password={PW}\n")),
            ..bad(
                "option file: option before a group",
                &["--defaults-file", "{cfg}", "-q", "SELECT 1"],
                2,
                "line 1",
            )
        },
        bad(
            "missing --defaults-file",
            &["--defaults-file", "{dir}/none.cnf", "-q", "SELECT 1"],
            2,
            "none.cnf",
        ),
        bad(
            "mysql habit -pPASSWORD",
            &[&format!("-p{PW}"), "-u", "gd", "-q", "SELECT 1"],
            2,
            "--password=PASSWORD",
        ),
        bad(
            "mysql habit --password PASSWORD",
            &["-u", "gd", "--password", PW],
            2,
            "--password=PASSWORD",
        ),
    ]
}

impl Bad {
    fn without_output(mut self) -> Self {
        self.add_output = false;
        self
    }
}

fn check(case: &Bad, verbose: &[&str]) {
    let dir = common::tempdir();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let d = dir.path().to_str().unwrap();
    let mut cmd = gd();
    cmd.current_dir(dir.path());
    if let Some(text) = &case.config {
        std::fs::write(dir.path().join("c.toml"), text).unwrap();
    }
    cmd.args(case.args.iter().map(|a| {
        a.replace("{dir}", d)
            .replace("{cfg}", &format!("{d}/c.toml"))
    }));
    if case.add_output {
        cmd.arg("-o").arg(out.join("out.csv"));
    }
    for (k, v) in &case.env {
        cmd.env(k, v);
    }
    let r = run(&mut cmd);
    let what = format!("{} {verbose:?}", case.name);
    assert_eq!(r.status.code(), Some(case.code), "{what}: exit code\n{r}");
    let stderr = String::from_utf8_lossy(&r.stderr).to_lowercase();
    assert!(
        stderr.contains(&case.phrase.to_lowercase()),
        "{what}: stderr lacks {:?}\n{r}",
        case.phrase
    );
    assert!(
        !r.output_text().contains(PW),
        "{what}: the password was printed\n{r}"
    );
    assert!(
        common::dir_entries(&out).is_empty(),
        "{what}: files left in out/: {:?}",
        common::dir_entries(&out)
    );
}

/// Runs every case and reports all failures together.
fn check_all(cases: &[Bad], verbose: &[&str]) {
    let failed: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            std::panic::catch_unwind(|| check(case, verbose))
                .err()
                .map(|e| {
                    e.downcast_ref::<String>()
                        .cloned()
                        .unwrap_or_else(|| case.name.to_string())
                })
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{} failed:\n{}",
        failed.len(),
        failed.join("\n\n")
    );
}

#[test]
fn bad_invocations_exit_with_their_code_and_phrase_and_never_print_the_password() {
    let cases = cases();
    assert!(cases.len() >= 30, "{} cases", cases.len());
    eprintln!("{} bad invocations", cases.len());
    check_all(&cases, &[]);
}

#[test]
fn bad_invocations_with_vvv_never_print_the_password() {
    check_all(&cases(), &["-vvv"]);
}
