//! Issue 15, part 4: connecting the mysql client's way (`--host`, `-P`, `-u`, `--password`,
//! `-D`, `-S`, `MYSQL_PWD`, `~/.my.cnf`, `--defaults-file`, the password prompt) against the
//! real server. Who we logged in as, into which database and over which transport is read
//! back from the server itself (`CURRENT_USER()`, `DATABASE()`, and the connection's HOST in
//! the process list: `localhost` over the socket, `127.0.0.1:port` over TCP).

use crate::common::{self, Run, gd, isolated, run, server};
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const WHO: &str = "SELECT CURRENT_USER(), DATABASE(), (SELECT HOST FROM \
                   information_schema.PROCESSLIST WHERE ID = CONNECTION_ID())";

/// Distinctive wrong passwords, so that any echo of them is found.
const WRONG: &str = "Wr0ng-Pw-5521";

/// The arguments that print WHO's one row as TSV on stdout.
fn who_args() -> [&'static str; 7] {
    ["-q", WHO, "-o", "-", "-f", "tsv", "--no-header"]
}

/// (user, database, transport) from a run of WHO, which must have exited 0.
fn who(r: &Run) -> (String, String, &'static str) {
    r.assert_code(0);
    let text = String::from_utf8_lossy(&r.stdout);
    let fields: Vec<&str> = text.trim_end_matches('\n').split('\t').collect();
    assert_eq!(fields.len(), 3, "one row of three fields: {text:?}");
    let transport = if fields[2] == "localhost" {
        "socket"
    } else if fields[2].starts_with("127.0.0.1:") {
        "tcp"
    } else {
        panic!("unexpected connection host {:?}", fields[2])
    };
    (fields[0].to_string(), fields[1].to_string(), transport)
}

fn port() -> String {
    server().port.to_string()
}

/// gd over TCP through the flags, with `extra` after them.
fn tcp_flags(extra: &[&str]) -> Command {
    let mut cmd = gd();
    cmd.args([
        "--host",
        "127.0.0.1",
        "-P",
        &port(),
        "-u",
        "gd",
        "-D",
        "gd_test",
    ])
    .args(extra);
    cmd
}

/// Writes an option file with mode 0600 (a world-writable one would be ignored).
fn write_cnf(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

fn assert_not_printed(r: &Run, secret: &str, what: &str) {
    assert!(
        !r.output_text().contains(secret),
        "{what}: the password was printed\n{r}"
    );
}

#[test]
fn tcp_login_with_host_port_user_password_database_flags() {
    let r = run(tcp_flags(&["--password=gd_pass"]).args(who_args()));
    assert_eq!(who(&r), ("gd@%".into(), "gd_test".into(), "tcp"));

    let r = run(tcp_flags(&[&format!("--password={WRONG}")]).args(who_args()));
    r.assert_code(3);
    assert!(r.output_text().contains("Access denied"), "{r}");
    assert_not_printed(&r, WRONG, "wrong --password");

    // The flags override the matching parts of the URL: its password and database are wrong.
    let url = server().url_for("gd", WRONG, "no_such_db");
    let r = run(gd()
        .args(["--db-url", &url, "--password=gd_pass", "-D", "gd_test"])
        .args(who_args()));
    assert_eq!(who(&r), ("gd@%".into(), "gd_test".into(), "tcp"));
    // ... and without the flag the URL's wrong password is used.
    let r = run(gd().args(["--db-url", &url]).args(who_args()));
    r.assert_code(3);
    assert_not_printed(&r, WRONG, "URL password");
}

#[test]
fn unix_socket_with_dash_s() {
    let srv = server();
    // root logs in only by unix_socket, so this cannot succeed over TCP.
    let r = run(gd()
        .arg("-S")
        .arg(&srv.socket)
        .args(["-u", "root", "-D", "gd_test"])
        .args(who_args()));
    assert_eq!(
        who(&r),
        ("root@localhost".into(), "gd_test".into(), "socket")
    );
    // -S overrides the endpoint of a TCP URL (the rest of the URL stays).
    let r = run(gd()
        .args(["--db-url", &srv.url, "-S"])
        .arg(&srv.socket)
        .args(who_args()));
    assert_eq!(who(&r), ("gd@localhost".into(), "gd_test".into(), "socket"));
    // A socket that is not there fails to connect (3) and names it.
    let r = run(gd()
        .args(["-u", "root", "-S", "/nonexistent/gd.sock"])
        .args(who_args()));
    r.assert_code(3);
    assert!(r.output_text().contains("/nonexistent/gd.sock"), "{r}");
}

#[test]
fn my_cnf_in_home_is_read_and_gold_digger_group_wins() {
    let home = common::tempdir();
    let cnf = home.path().join(".my.cnf");
    let client = format!(
        "# shared with the mysql client\n[client]\nhost = 127.0.0.1\nport={}\nuser=gd\n\
         password=\"{WRONG}\"\n[mysql]\nauto-rehash\nprompt='\\u@\\h> '\n",
        port()
    );
    write_cnf(
        &cnf,
        &format!("{client}[gold_digger]\npassword = gd_pass  # ours\ndatabase=gd_test\n"),
    );
    let r = run(gd().env("HOME", home.path()).args(who_args()));
    assert_eq!(who(&r), ("gd@%".into(), "gd_test".into(), "tcp"));

    // Only [client]: its wrong password is used (3), and never printed, not with -vvv.
    write_cnf(&cnf, &client);
    let r = run(gd().env("HOME", home.path()).args(who_args()).arg("-vvv"));
    r.assert_code(3);
    assert_not_printed(&r, WRONG, "~/.my.cnf password");

    // --no-defaults: no file, so nothing to connect to.
    let r = run(gd()
        .env("HOME", home.path())
        .arg("--no-defaults")
        .args(who_args()));
    r.assert_code(2);
    assert!(r.output_text().contains("no database URL"), "{r}");

    // A malformed line: exit 2 naming file and line, never the line's password.
    write_cnf(&cnf, &format!("[client]\nuser=gd\npassword='{WRONG}\n"));
    let r = run(gd().env("HOME", home.path()).args(who_args()));
    r.assert_code(2);
    let text = r.output_text();
    assert!(text.contains(".my.cnf, line 3"), "{r}");
    assert_not_printed(&r, WRONG, "malformed ~/.my.cnf");
}

#[test]
fn defaults_file_is_the_only_file_read() {
    let srv = server();
    let home = common::tempdir();
    // ~/.my.cnf points at a port nobody listens on.
    write_cnf(
        &home.path().join(".my.cnf"),
        "[client]\nhost=127.0.0.1\nport=1\nuser=gd\npassword=gd_pass\n",
    );
    let r = run(gd().env("HOME", home.path()).args(who_args()));
    r.assert_code(3);
    let file = home.path().join("socket.cnf");
    write_cnf(
        &file,
        &format!(
            "[client]\nsocket={}\nuser=root\nloose_database=gd_test\n",
            srv.socket.display()
        ),
    );
    let r = run(gd()
        .env("HOME", home.path())
        .arg("--defaults-file")
        .arg(&file)
        .args(who_args()));
    assert_eq!(
        who(&r),
        ("root@localhost".into(), "gd_test".into(), "socket")
    );
    // A URL wins over the file's socket and user (TCP as gd).
    let r = run(gd()
        .env("HOME", home.path())
        .arg("--defaults-file")
        .arg(&file)
        .args(["--db-url", &srv.url])
        .args(who_args()));
    assert_eq!(who(&r), ("gd@%".into(), "gd_test".into(), "tcp"));
    // A missing --defaults-file is a usage error.
    let r = run(gd()
        .args(["--defaults-file", "/nonexistent/x.cnf"])
        .args(who_args()));
    r.assert_code(2);
    assert!(r.output_text().contains("/nonexistent/x.cnf"), "{r}");
}

#[test]
fn mysql_pwd_is_the_password_of_last_resort() {
    let r = run(tcp_flags(&[]).env("MYSQL_PWD", "gd_pass").args(who_args()));
    assert_eq!(who(&r), ("gd@%".into(), "gd_test".into(), "tcp"));
    let r = run(tcp_flags(&[]).env("MYSQL_PWD", WRONG).args(who_args()));
    r.assert_code(3);
    assert_not_printed(&r, WRONG, "MYSQL_PWD");
    // The flag, the URL and the option file each win over it.
    let r = run(tcp_flags(&["--password=gd_pass"])
        .env("MYSQL_PWD", WRONG)
        .args(who_args()));
    who(&r);
    let r = run(gd()
        .args(["--db-url", &server().url])
        .env("MYSQL_PWD", WRONG)
        .args(who_args()));
    who(&r);
    let dir = common::tempdir();
    let file = dir.path().join("pw.cnf");
    write_cnf(&file, "[client]\npassword=gd_pass\n");
    let r = run(tcp_flags(&["--defaults-file", file.to_str().unwrap()])
        .env("MYSQL_PWD", WRONG)
        .args(who_args()));
    who(&r);
    let url = server().url_for("gd", WRONG, "gd_test");
    let r = run(gd()
        .args(["--db-url", &url])
        .env("MYSQL_PWD", "gd_pass")
        .args(who_args()));
    r.assert_code(3);
}

#[test]
fn dump_config_never_shows_a_password_from_any_source() {
    let dir = common::tempdir();
    let file = dir.path().join("pw.cnf");
    write_cnf(
        &file,
        &format!("[client]\nuser=cnf_user\npassword={WRONG}\n"),
    );
    let f = file.to_str().unwrap();
    let pw_flag = format!("--password={WRONG}");
    for (what, args, env) in [
        ("--password=", vec!["--host", "h", pw_flag.as_str()], None),
        ("MYSQL_PWD", vec!["--host", "h"], Some(WRONG)),
        ("--defaults-file", vec!["--defaults-file", f], None),
    ] {
        let mut cmd = gd();
        cmd.args(&args)
            .args(["-q", "SELECT 1", "-o", "x.csv", "--dump-config"]);
        if let Some(v) = env {
            cmd.env("MYSQL_PWD", v);
        }
        let r = run(&mut cmd);
        r.assert_code(0);
        assert!(r.output_text().contains("***"), "{what}: not redacted\n{r}");
        assert_not_printed(&r, WRONG, what);
    }
    // The dump names the option file read and what came from it.
    let r = run(gd().args([
        "--defaults-file",
        f,
        "-q",
        "x",
        "-o",
        "x.csv",
        "--dump-config",
    ]));
    let text = r.output_text();
    assert!(text.contains(f) && text.contains("cnf_user"), "{r}");
}

/// Runs `gold_digger ARGS --password` under a pseudo-terminal (`script`), types `typed` once
/// the prompt is on the terminal, and returns the exit code and everything the terminal
/// showed.
fn with_prompt(args: &str, typed: &str) -> (i32, String) {
    let line = format!("{} {args} --password", env!("CARGO_BIN_EXE_gold_digger"));
    let mut child = isolated("script")
        .args(["-qec", &line, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running script (util-linux)");
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut screen = Vec::new();
    let start = Instant::now();
    while !String::from_utf8_lossy(&screen).contains("Enter password:") {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no prompt on the terminal: {:?}",
            String::from_utf8_lossy(&screen)
        );
        if let Ok(chunk) = rx.recv_timeout(Duration::from_millis(100)) {
            screen.extend(chunk);
        }
    }
    // The prompt is written just before echo is turned off.
    std::thread::sleep(Duration::from_millis(300));
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(typed.as_bytes()).unwrap();
    stdin.write_all(b"\r").unwrap();
    stdin.flush().unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("gold_digger under script did not finish");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(stdin);
    reader.join().unwrap();
    while let Ok(chunk) = rx.try_recv() {
        screen.extend(chunk);
    }
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let screen = String::from_utf8_lossy(&screen).into_owned() + &err;
    (status.code().expect("script exited by a signal"), screen)
}

#[test]
fn password_prompt_on_a_terminal_without_echo() {
    let dir = common::tempdir();
    let out = dir.path().join("who.tsv");
    let args = format!(
        "--host 127.0.0.1 -P {} -u gd -D gd_test --no-header -q '{WHO}' -o {}",
        port(),
        out.display()
    );
    let (code, screen) = with_prompt(&args, "gd_pass");
    assert_eq!(code, 0, "terminal:\n{screen}");
    assert!(
        !screen.contains("gd_pass"),
        "the password was echoed:\n{screen}"
    );
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.starts_with("gd@%\tgd_test\t127.0.0.1:"), "{text:?}");

    let (code, screen) = with_prompt(&args, WRONG);
    assert_eq!(code, 3, "terminal:\n{screen}");
    assert!(screen.contains("Access denied"), "{screen}");
    assert!(
        !screen.contains(WRONG),
        "the password was printed:\n{screen}"
    );
}

#[test]
fn password_prompt_without_a_terminal_exits_2_before_connecting() {
    let dir = common::tempdir();
    let out = dir.path().join("x.csv");
    // setsid: no controlling terminal, so /dev/tty cannot be opened. Port 1: had it tried
    // to connect, it would fail with 3.
    let r = run(isolated("setsid")
        .arg("-w")
        .arg(env!("CARGO_BIN_EXE_gold_digger"))
        .args(["--host", "127.0.0.1", "-P", "1", "-u", "gd", "--password"])
        .args(["-q", "SELECT 1", "-o"])
        .arg(&out)
        .stdin(Stdio::null()));
    r.assert_code(2);
    assert!(r.output_text().contains("terminal"), "{r}");
    assert!(!out.exists());
}

#[test]
fn mysql_password_habits_are_refused_without_echo() {
    for args in [
        vec!["-pSw0rd", "-u", "gd", "-q", "SELECT 1", "-o", "-"],
        vec!["--password", "Sw0rd", "-u", "gd", "-o", "-"],
    ] {
        let r = run(gd().args(&args));
        r.assert_code(2);
        assert!(r.output_text().contains("--password=PASSWORD"), "{r}");
        assert_not_printed(&r, "w0rd", "habit");
    }
}
