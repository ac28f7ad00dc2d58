//! Where to connect, the mysql client's way: the flags `--host`, `-P`, `-u`,
//! `--password`, `-D`, `-S`, the database URL, the option files and
//! `MYSQL_PWD`, merged one setting at a time.
//!
//! Each setting comes from the first of: its flag, the URL (from `--db-url`,
//! `DATABASE_URL` or the config file's `db-url`, whichever wins), the option
//! files, and only for the password `MYSQL_PWD`; then the defaults
//! (localhost, 3306, the OS user, no password). The endpoint is a socket when
//! the socket comes from a level at least as high as the host and the port.

use super::mycnf::{self, MyCnf};
use super::tls::FileTls;
use super::url::parse_url;
use super::{
    Config, ConnectOptions, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_ROW_SIZE, DEFAULT_READ_TIMEOUT,
    Endpoint, EnvLookup, Secret,
};
use crate::cli::{Cli, SslMode};
use crate::error::Error;
use std::path::PathBuf;
use std::time::Duration;

/// The level a setting came from; a higher one wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Default,
    OptionFile,
    Url,
    Flag,
}

/// The connection settings before TLS and timeouts are merged in.
pub(super) struct Connection {
    pub(super) options: ConnectOptions,
    /// `?ssl-mode=` of the URL.
    pub(super) url_ssl_mode: Option<SslMode>,
    /// The option files, for their TLS keys and warnings.
    pub(super) option_files: MyCnf,
}

/// The first value present, with its level.
fn first<T>(candidates: [(Level, Option<T>); 3]) -> Option<(Level, T)> {
    candidates
        .into_iter()
        .find_map(|(level, v)| v.map(|v| (level, v)))
}

/// Merges the flags, the URL (`url`), the option files and `MYSQL_PWD`.
pub(super) fn resolve_connection(
    cli: &Cli,
    env: EnvLookup<'_>,
    url: Option<&str>,
) -> Result<Connection, Error> {
    let flags = &cli.client;
    let home = env("HOME").filter(|h| !h.is_empty()).map(PathBuf::from);
    let cnf = mycnf::load(
        flags.defaults_file.as_deref(),
        flags.no_defaults,
        home.as_deref(),
    )?;
    let from_url = url.map(parse_url).transpose()?;
    let no_flags = flags.host.is_none()
        && flags.port.is_none()
        && flags.user.is_none()
        && flags.password.is_none()
        && flags.database.is_none()
        && flags.socket.is_none();
    if from_url.is_none() && no_flags && !cnf.names_a_server() {
        return Err(Error::usage(
            "no database URL and no connection flags: pass --db-url URL or set DATABASE_URL, \
             or use the mysql client's flags (--host, -P/--port, -u/--user, --password, -D/--database, \
             -S/--socket), or a [client] group in ~/.my.cnf or --defaults-file",
        ));
    }
    let has_url = from_url.is_some();
    let u = from_url.unwrap_or_default();
    for (what, value) in [("--host", &flags.host), ("--user", &flags.user)] {
        if value.as_deref().is_some_and(str::is_empty) {
            return Err(Error::usage(format!("{what} is empty")));
        }
    }

    let host = first([
        (
            Level::Flag,
            flags
                .host
                .as_deref()
                .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_string()),
        ),
        (Level::Url, u.host),
        (Level::OptionFile, cnf.host.clone()),
    ]);
    let port = first([
        (Level::Flag, flags.port),
        (Level::Url, u.port),
        (Level::OptionFile, cnf.port),
    ]);
    let socket = first([
        (Level::Flag, flags.socket.clone()),
        (Level::Url, u.socket),
        (Level::OptionFile, cnf.socket.clone()),
    ]);
    let level = |x: Option<Level>| x.unwrap_or(Level::Default);
    let tcp_level = level(host.as_ref().map(|h| h.0)).max(level(port.map(|p| p.0)));
    let endpoint = match socket {
        Some((socket_level, path)) if socket_level >= tcp_level => Endpoint::Socket { path },
        _ => Endpoint::Tcp {
            host: host.map_or_else(|| "localhost".to_string(), |h| h.1),
            port: port.map_or(3306, |p| p.1),
        },
    };

    let user = match first([
        (Level::Flag, flags.user.clone()),
        (Level::Url, u.user),
        (Level::OptionFile, cnf.user.clone()),
    ]) {
        Some((_, user)) => user,
        None if has_url => {
            return Err(Error::Url(
                "no user name: put one in the URL (mysql://USER@host/...) or pass -u/--user".into(),
            ));
        }
        None => os_user(env).ok_or_else(|| {
            Error::usage("cannot tell the OS user name (USER and LOGNAME are unset): pass -u USER")
        })?,
    };

    // None: ask on the terminal.
    let password: Option<Secret> = match (&flags.password, u.password, &cnf.password) {
        (Some(Some(p)), _, _) => Some(Secret(p.clone())),
        (Some(None), _, _) => None,
        (None, Some(p), _) => Some(p),
        (None, None, Some(p)) => p.clone(),
        (None, None, None) => Some(Secret(env("MYSQL_PWD").unwrap_or_default())),
    };

    let database = first([
        (Level::Flag, flags.database.clone()),
        (Level::Url, u.database),
        (Level::OptionFile, cnf.database.clone()),
    ])
    .map(|d| d.1)
    .filter(|d| !d.is_empty());

    Ok(Connection {
        options: ConnectOptions {
            endpoint,
            user,
            ask_password: password.is_none(),
            password: password.unwrap_or_default(),
            database,
            ssl_mode: SslMode::Preferred,
            tls_ca_file: None,
            tls_cert: None,
            tls_key: None,
            tls: None,
            server_public_key: None,
            server_public_key_pem: None,
            get_server_public_key: false,
            connect_timeout: Duration::from_secs(DEFAULT_CONNECT_TIMEOUT),
            read_timeout: Some(Duration::from_secs(DEFAULT_READ_TIMEOUT)),
            max_row_size: DEFAULT_MAX_ROW_SIZE,
            read_only: true,
            time_zone: None,
            option_files: cnf.files.clone(),
        },
        url_ssl_mode: u.ssl_mode,
        option_files: cnf,
    })
}

/// The TLS settings below the command line, the URL and the config file: the
/// option files' ssl-* keys, taken as a group and only when none of those
/// sets any TLS setting. A CA with `ssl-mode=REQUIRED` or `PREFERRED` means
/// `VERIFY_CA` (a CA is there to be checked against).
pub(super) fn tls_below(
    cli: &Cli,
    url_mode: Option<SslMode>,
    toml: FileTls,
    cnf: &MyCnf,
) -> FileTls {
    let set_above = cli.ssl_mode.is_some()
        || cli.tls_ca_file.is_some()
        || cli.insecure_skip_hostname_verify
        || cli.allow_invalid_certificate
        || cli.tls_cert.is_some()
        || cli.tls_key.is_some()
        || url_mode.is_some()
        || toml.ssl_mode.is_some()
        || toml.tls_ca_file.is_some()
        || toml.insecure_skip_hostname_verify.is_some()
        || toml.allow_invalid_certificate.is_some()
        || toml.tls_cert.is_some()
        || toml.tls_key.is_some();
    if set_above || !cnf.has_tls() {
        return toml;
    }
    let ssl_mode = match (cnf.ssl_mode, &cnf.ssl_ca) {
        (Some(SslMode::Preferred | SslMode::Required), Some(_)) => Some(SslMode::VerifyCa),
        (mode, _) => mode,
    };
    FileTls {
        ssl_mode,
        tls_ca_file: cnf.ssl_ca.clone(),
        insecure_skip_hostname_verify: None,
        allow_invalid_certificate: None,
        tls_cert: cnf.ssl_cert.clone(),
        tls_key: cnf.ssl_key.clone(),
    }
}

/// The OS user's name, as the mysql client takes it: `USER`, `LOGNAME`, then
/// the password database.
fn os_user(env: EnvLookup<'_>) -> Option<String> {
    env("USER")
        .filter(|u| !u.is_empty())
        .or_else(|| env("LOGNAME").filter(|u| !u.is_empty()))
        .or_else(user_of_euid)
}

fn user_of_euid() -> Option<String> {
    let mut buf = vec![0u8; 4096];
    // SAFETY: an all-zero passwd is a valid value for getpwuid_r to fill.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: the pointers are valid for the call, buf outlives its use, and
    // pw_name points into buf when result is non-null.
    let rc = unsafe {
        libc::getpwuid_r(
            libc::geteuid(),
            &mut pwd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() || pwd.pw_name.is_null() {
        return None;
    }
    // SAFETY: pw_name is a NUL-terminated string inside buf.
    let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
    name.to_str().ok().map(str::to_string)
}

impl Config {
    /// Asks for the password on the terminal (`/dev/tty`, without echo) when
    /// `--password` (or a bare `password` line) came without a value. Called
    /// after everything else was validated, and not for `--dump-config`.
    pub fn ask_password(&mut self) -> Result<(), Error> {
        if !self.connect.ask_password {
            return Ok(());
        }
        let password = rpassword::prompt_password("Enter password: ").map_err(|e| {
            Error::usage(format!(
                "--password without a value asks on the terminal, but there is none ({e}): \
                 pass --password=PASSWORD, set MYSQL_PWD, or put password=... into the \
                 [client] group of ~/.my.cnf or a --defaults-file"
            ))
        })?;
        self.connect.password = Secret(password);
        self.connect.ask_password = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Endpoint;
    use crate::config::tests::resolve;

    fn endpoint(args: &[&str], env: &[(&str, &str)]) -> Endpoint {
        let mut a = vec!["-q", "x", "-o", "o", "--no-defaults"];
        a.extend(args);
        resolve(&a, env).unwrap().connect.endpoint
    }

    fn tcp(host: &str, port: u16) -> Endpoint {
        Endpoint::Tcp {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn flags_alone_default_to_localhost_3306_and_the_os_user() {
        let c = resolve(
            &["-q", "x", "-o", "o", "--no-defaults", "-D", "shop"],
            &[("USER", "alice")],
        )
        .unwrap();
        assert_eq!(c.connect.endpoint, tcp("localhost", 3306));
        assert_eq!(c.connect.user, "alice");
        assert_eq!(c.connect.database.as_deref(), Some("shop"));
        assert_eq!(c.connect.password.expose(), "");
        let c = resolve(&["-q", "x", "-o", "o", "-u", "bob"], &[("LOGNAME", "x")]).unwrap();
        assert_eq!(c.connect.user, "bob");
    }

    #[test]
    fn flags_override_the_matching_part_of_the_url() {
        let url = "mysql://u:pw@db.example:3307/sales";
        assert_eq!(endpoint(&["--db-url", url], &[]), tcp("db.example", 3307));
        assert_eq!(
            endpoint(&["--db-url", url, "-P", "4000"], &[]),
            tcp("db.example", 4000)
        );
        assert_eq!(
            endpoint(&["--db-url", url, "--host", "[::1]"], &[]),
            tcp("::1", 3307)
        );
        assert_eq!(
            endpoint(&["--db-url", url, "-S", "/s.sock"], &[]),
            Endpoint::Socket {
                path: "/s.sock".into()
            }
        );
        // A host flag above the URL's socket means TCP, to the URL's port or 3306.
        let sock = "mysql://u@localhost/d?socket=/s.sock";
        assert_eq!(
            endpoint(&["--db-url", sock, "--host", "h"], &[]),
            tcp("h", 3306)
        );
        let c = resolve(
            &[
                "-q",
                "x",
                "-o",
                "o",
                "--no-defaults",
                "--db-url",
                url,
                "-u",
                "v",
                "--password=flag",
                "-D",
                "other",
            ],
            &[("DATABASE_URL", "mysql://e@e/e"), ("MYSQL_PWD", "env")],
        )
        .unwrap();
        assert_eq!(
            (c.connect.user.as_str(), c.connect.password.expose()),
            ("v", "flag")
        );
        assert_eq!(c.connect.database.as_deref(), Some("other"));
        // The flag also overrides DATABASE_URL's parts.
        let c = resolve(
            &["-q", "x", "-o", "o", "--no-defaults", "-u", "v"],
            &[("DATABASE_URL", url)],
        )
        .unwrap();
        assert_eq!(c.connect.user, "v");
        assert_eq!(c.connect.password.expose(), "pw");
    }

    #[test]
    fn password_precedence_and_the_prompt_flag() {
        let dir = tempfile::tempdir().unwrap();
        let cnf = dir.path().join("my.cnf");
        std::fs::write(
            &cnf,
            "[client]\nuser=cnf_user\npassword=cnf_pw\nhost=cnf_host\n",
        )
        .unwrap();
        let f = cnf.to_str().unwrap();
        let base = ["-q", "x", "-o", "o", "--defaults-file", f];
        let pw = |args: &[&str], env: &[(&str, &str)]| {
            let mut a = base.to_vec();
            a.extend(args);
            let c = resolve(&a, env).unwrap();
            (
                c.connect.password.expose().to_string(),
                c.connect.ask_password,
            )
        };
        let env = [("MYSQL_PWD", "env_pw")];
        assert_eq!(pw(&[], &env), ("cnf_pw".into(), false));
        assert_eq!(
            pw(&["--db-url", "mysql://u:url_pw@h/"], &env),
            ("url_pw".into(), false)
        );
        assert_eq!(
            pw(&["--db-url", "mysql://u@h/"], &env),
            ("cnf_pw".into(), false)
        );
        assert_eq!(pw(&["--password=x"], &env), ("x".into(), false));
        assert_eq!(pw(&["--password="], &env), ("".into(), false));
        assert_eq!(pw(&["--password"], &env), ("".into(), true));
        std::fs::write(&cnf, "[client]\nhost=h\n").unwrap();
        assert_eq!(pw(&[], &env), ("env_pw".into(), false));
        assert_eq!(pw(&[], &[]), ("".into(), false));
        // The option file's user and host yield to the URL's.
        std::fs::write(&cnf, "[client]\nuser=cnf_user\nhost=cnf_host\nport=1234\n").unwrap();
        let mut a = base.to_vec();
        a.extend(["--db-url", "mysql://u@h/"]);
        let c = resolve(&a, &[]).unwrap();
        assert_eq!(c.connect.user, "u");
        assert_eq!(
            c.connect.endpoint,
            super::super::Endpoint::Tcp {
                host: "h".into(),
                port: 1234
            }
        );
        let c = resolve(&base, &[]).unwrap();
        assert_eq!(c.connect.user, "cnf_user");
    }

    #[test]
    fn option_file_socket_yields_to_a_tcp_url_and_serves_alone() {
        let dir = tempfile::tempdir().unwrap();
        let cnf = dir.path().join("my.cnf");
        std::fs::write(&cnf, "[client]\nsocket=/run/s.sock\nuser=u\n").unwrap();
        let f = cnf.to_str().unwrap();
        let e = |args: &[&str]| {
            let mut a = vec!["-q", "x", "-o", "o", "--defaults-file", f];
            a.extend(args);
            resolve(&a, &[]).unwrap().connect.endpoint
        };
        assert_eq!(
            e(&[]),
            Endpoint::Socket {
                path: "/run/s.sock".into()
            }
        );
        assert_eq!(e(&["--db-url", "mysql://u@h:1/"]), tcp("h", 1));
        assert_eq!(e(&["-P", "3307"]), tcp("localhost", 3307));
    }

    #[test]
    fn nothing_to_connect_to_and_empty_flags_are_usage_errors() {
        for args in [
            vec![],
            vec!["--host", ""],
            vec!["-u", ""],
            vec!["--db-url", "mysql://:pw@h/"],
        ] {
            let mut a = vec!["-q", "x", "-o", "o", "--no-defaults"];
            a.extend(&args);
            let e = resolve(&a, &[("MYSQL_PWD", "hunter2")]).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{args:?}");
            assert!(!e.to_string().contains("hunter2"));
        }
    }

    #[test]
    fn option_file_tls_only_when_nothing_above_sets_tls() {
        let dir = tempfile::tempdir().unwrap();
        let cnf = dir.path().join("my.cnf");
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, include_str!("../../tests/data/tls/ca.pem")).unwrap();
        std::fs::write(
            &cnf,
            format!(
                "[client]\nuser=u\nssl-ca={}\nssl-mode=REQUIRED\n",
                ca.display()
            ),
        )
        .unwrap();
        let f = cnf.to_str().unwrap();
        let mode = |args: &[&str]| {
            let mut a = vec!["-q", "x", "-o", "o", "--defaults-file", f];
            a.extend(args);
            let c = resolve(&a, &[]).unwrap();
            (c.connect.ssl_mode, c.connect.tls_ca_file.is_some())
        };
        use crate::cli::SslMode;
        assert_eq!(mode(&[]), (SslMode::VerifyCa, true));
        assert_eq!(
            mode(&["--ssl-mode", "disabled"]),
            (SslMode::Disabled, false)
        );
        assert_eq!(
            mode(&["--db-url", "mysql://u@h/?ssl-mode=required"]),
            (SslMode::Required, false)
        );
    }
}
