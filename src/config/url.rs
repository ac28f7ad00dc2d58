//! The database URL: `mysql://` or `mariadb://`, percent-decoded user,
//! password and database, and the `socket` and `ssl-mode` parameters.

use super::{
    ConnectOptions, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_ROW_SIZE, DEFAULT_READ_TIMEOUT, Endpoint,
    Secret,
};
use crate::cli::SslMode;
use crate::error::Error;
use std::path::PathBuf;
use std::time::Duration;

pub(super) struct ParsedUrl {
    pub(super) options: ConnectOptions,
    pub(super) url_ssl_mode: Option<SslMode>,
}

/// Parses `mysql://user:password@host:port/database?socket=/path&ssl-mode=...`.
/// Errors never quote the URL, which may hold a password.
pub(super) fn parse_url(text: &str) -> Result<ParsedUrl, Error> {
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
    let user = decode(url.username(), "user name")?;
    if user.is_empty() {
        return Err(Error::Url("no user name".into()));
    }
    let password = Secret(decode(url.password().unwrap_or(""), "password")?);
    let database = match url.path().trim_start_matches('/') {
        "" => None,
        db if db.contains('/') => {
            return Err(Error::Url("the path must be a single database name".into()));
        }
        db => Some(decode(db, "database name")?),
    };
    let mut socket = None;
    let mut url_ssl_mode = None;
    for (key, value) in url.query_pairs() {
        match key.as_ref() {
            "socket" => socket = Some(PathBuf::from(value.as_ref())),
            "ssl-mode" | "ssl_mode" | "sslmode" => {
                url_ssl_mode = Some(SslMode::from_str_ignore_case(&value).ok_or_else(|| {
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
    let endpoint = match socket {
        Some(path) => Endpoint::Socket { path },
        None => {
            let host = match url.host() {
                Some(url::Host::Ipv6(a)) => a.to_string(),
                Some(h) => h.to_string(),
                None => return Err(Error::Url("no host".into())),
            };
            Endpoint::Tcp {
                host,
                port: url.port().unwrap_or(3306),
            }
        }
    };
    Ok(ParsedUrl {
        options: ConnectOptions {
            endpoint,
            user,
            password,
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
        },
        url_ssl_mode,
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
