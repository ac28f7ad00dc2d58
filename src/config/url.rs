//! The database URL: `mysql://` or `mariadb://`, percent-decoded user,
//! password and database, and the `socket` and `ssl-mode` parameters.

use super::Secret;
use crate::cli::SslMode;
use crate::error::Error;
use std::path::PathBuf;

/// The parts of a database URL; each may be overridden by the mysql-client flags
/// (`--host`, `-u`, ...) and fills in for the option files (see `client_flags`).
#[derive(Debug, Default)]
pub(super) struct UrlParts {
    pub(super) host: Option<String>,
    /// Only when the URL names one (`host:port`).
    pub(super) port: Option<u16>,
    pub(super) socket: Option<PathBuf>,
    /// `None` when the URL has no user name.
    pub(super) user: Option<String>,
    /// `None` when the URL has no password (`user@host`, `user:@host`).
    pub(super) password: Option<Secret>,
    pub(super) database: Option<String>,
    pub(super) ssl_mode: Option<SslMode>,
}

/// Parses `mysql://user:password@host:port/database?socket=/path&ssl-mode=...`.
/// Errors never quote the URL, which may hold a password.
pub(super) fn parse_url(text: &str) -> Result<UrlParts, Error> {
    let url = url::Url::parse(text).map_err(|e| Error::Url(e.to_string()))?;
    if !matches!(url.scheme(), "mysql" | "mariadb") {
        return Err(Error::Url(format!(
            "unsupported scheme '{}', use mysql:// or mariadb://",
            url.scheme()
        )));
    }
    let decode = |s: &str, what: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| {
                Error::Url(format!(
                    "the {what} is not valid UTF-8 after percent-decoding"
                ))
            })
    };
    let user = Some(decode(url.username(), "user name")?).filter(|u| !u.is_empty());
    let password = match url.password() {
        Some(p) => Some(Secret(decode(p, "password")?)),
        None => None,
    };
    let database = match url.path().trim_start_matches('/') {
        "" => None,
        db if db.contains('/') => {
            return Err(Error::Url("the path must be a single database name".into()));
        }
        db => Some(decode(db, "database name")?),
    };
    let mut socket = None;
    let mut ssl_mode = None;
    for (key, value) in url.query_pairs() {
        match key.as_ref() {
            "socket" => socket = Some(PathBuf::from(value.as_ref())),
            "ssl-mode" | "ssl_mode" | "sslmode" => {
                ssl_mode = Some(SslMode::from_str_ignore_case(&value).ok_or_else(|| {
                    Error::Url(format!(
                        "unknown ssl-mode '{value}' (use disabled, preferred, required, verify_ca or verify_identity)"
                    ))
                })?);
            }
            other => {
                return Err(Error::Url(format!(
                    "unknown parameter '{other}' (supported: socket, ssl-mode)"
                )));
            }
        }
    }
    let host = match url.host() {
        Some(url::Host::Ipv6(a)) => Some(a.to_string()),
        Some(h) => Some(h.to_string()).filter(|h| !h.is_empty()),
        None => None,
    };
    if host.is_none() && socket.is_none() {
        return Err(Error::Url("no host".into()));
    }
    Ok(UrlParts {
        host,
        port: url.port(),
        socket,
        user,
        password,
        database,
        ssl_mode,
    })
}

#[cfg(test)]
mod tests {
    use crate::config::Endpoint;
    use crate::config::tests::{URL, resolve};
    use crate::format::Format;

    #[test]
    fn url_parts_are_percent_decoded() {
        let c = resolve(&["--db-url", URL, "-q", "SELECT 1", "-o", "x.csv"], &[]).unwrap();
        assert_eq!(c.connect.user, "u@x");
        assert_eq!(c.connect.password.expose(), "p:ss");
        assert_eq!(c.connect.database.as_deref(), Some("sales"));
        assert_eq!(
            c.connect.endpoint,
            Endpoint::Tcp {
                host: "db.example".into(),
                port: 3307
            }
        );
        assert_eq!(c.format, Format::Csv);
    }

    #[test]
    fn socket_and_ipv6_and_mariadb_scheme() {
        let c = resolve(
            &[
                "--db-url",
                "mariadb://root@localhost/db?socket=/run/x.sock",
                "-q",
                "x",
                "-o",
                "-",
            ],
            &[],
        )
        .unwrap();
        assert_eq!(
            c.connect.endpoint,
            Endpoint::Socket {
                path: "/run/x.sock".into()
            }
        );
        let c = resolve(
            &["--db-url", "mysql://u:p@[::1]/", "-q", "x", "-o", "o"],
            &[],
        )
        .unwrap();
        assert_eq!(
            c.connect.endpoint,
            Endpoint::Tcp {
                host: "::1".into(),
                port: 3306
            }
        );
        assert_eq!(c.connect.database, None);
        assert_eq!(c.format, Format::Tsv);
    }

    #[test]
    fn bad_urls_are_usage_errors_without_the_password() {
        for url in [
            "postgres://u:hunter2@h/db",
            "mysql://:hunter2@h/db",
            "mysql://u:hunter2@h/db?pool=5",
            "mysql://u:hunter2@h/db/x",
            "mysql://u:hunter2@h:99999/db",
            "not a url hunter2",
        ] {
            let e = resolve(&["--db-url", url, "-q", "x", "-o", "o"], &[]).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{url}: {e}");
            assert!(!e.to_string().contains("hunter2"), "{url}: {e}");
        }
    }
}
