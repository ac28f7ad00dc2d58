//! The validated configuration: flags, environment, config file and
//! defaults merged once, in that order of precedence. Nothing downstream
//! reads flags or the environment again.

use crate::cli::{Cli, SslMode};
use crate::error::Error;
use crate::format::{BinaryEncoding, Format, FormatOptions, LineEnding};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Default time allowed for connecting and logging in.
pub const DEFAULT_CONNECT_TIMEOUT: u64 = 30;

/// A password: never printed, never logged.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The password itself, for the login exchange only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"***\"" })
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(if self.0.is_empty() { "" } else { "***" })
    }
}

/// Where the server is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Endpoint {
    /// TCP host and port.
    Tcp {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
    },
    /// Unix socket path.
    Socket {
        /// Socket path.
        path: PathBuf,
    },
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Self::Tcp { host, port } => write!(f, "{host}:{port}"),
            Self::Socket { path } => write!(f, "{}", path.display()),
        }
    }
}

/// Connection settings parsed from the database URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectOptions {
    /// Server address.
    pub endpoint: Endpoint,
    /// User name (percent-decoded).
    pub user: String,
    /// Password (percent-decoded).
    pub password: Secret,
    /// Default database.
    pub database: Option<String>,
    /// TLS mode.
    pub ssl_mode: SslMode,
    /// Time allowed for connecting and logging in.
    #[serde(serialize_with = "seconds")]
    pub connect_timeout: Duration,
}

fn seconds<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_secs())
}

/// Everything a run needs, validated.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    /// Connection settings.
    pub connect: ConnectOptions,
    /// The SQL to run.
    pub query: String,
    /// Output path; `-` is stdout.
    pub output: PathBuf,
    /// Output format.
    pub format: Format,
    /// Writer options.
    pub format_options: FormatOptions,
    /// Succeed with an empty output when there are no rows.
    pub allow_empty: bool,
    /// 0 = warnings, 1 = info, 2 = debug, 3 = trace.
    pub verbosity: u8,
    /// Only errors on stderr.
    pub quiet: bool,
}

/// The config file: the long flag names as keys.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct FileConfig {
    db_url: Option<String>,
    query: Option<String>,
    query_file: Option<PathBuf>,
    output: Option<PathBuf>,
    format: Option<Format>,
    pretty: Option<bool>,
    allow_empty: Option<bool>,
    no_header: Option<bool>,
    crlf: Option<bool>,
    null: Option<String>,
    binary: Option<BinaryEncoding>,
    connect_timeout: Option<u64>,
    ssl_mode: Option<SslMode>,
    verbose: Option<u8>,
    quiet: Option<bool>,
}

/// Where the query text comes from.
enum QuerySource {
    Text(String),
    File(PathBuf),
}

/// Reads one environment variable; a value that is not UTF-8 is a usage error.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

impl Config {
    /// Merges `cli`, the environment (through `env`) and the config file.
    pub fn resolve(cli: &Cli, env: EnvLookup<'_>) -> Result<Self, Error> {
        let file = match &cli.config {
            Some(path) => load_file(path)?,
            None => FileConfig::default(),
        };

        let url = cli
            .db_url
            .clone()
            .or_else(|| env("DATABASE_URL"))
            .or(file.db_url)
            .ok_or_else(|| Error::usage("no database URL: pass --db-url or set DATABASE_URL"))?;

        let cli_query = match (&cli.query, &cli.positional_query, &cli.query_file) {
            (Some(q), _, _) | (None, Some(q), _) => Some(QuerySource::Text(q.clone())),
            (None, None, Some(f)) => Some(QuerySource::File(f.clone())),
            (None, None, None) => None,
        };
        let file_query = match (file.query, file.query_file) {
            (Some(_), Some(_)) => {
                return Err(Error::ConfigFile {
                    path: cli.config.clone().unwrap_or_default(),
                    message: "set either query or query-file, not both".into(),
                });
            }
            (Some(q), None) => Some(QuerySource::Text(q)),
            (None, Some(f)) => Some(QuerySource::File(f)),
            (None, None) => None,
        };
        let query = match cli_query
            .or_else(|| env("DATABASE_QUERY").map(QuerySource::Text))
            .or(file_query)
        {
            Some(QuerySource::Text(q)) => q,
            Some(QuerySource::File(path)) => std::fs::read_to_string(&path)
                .map_err(|source| Error::QueryFile { path, source })?,
            None => {
                return Err(Error::usage(
                    "no query: pass --query, a QUERY argument or --query-file, or set DATABASE_QUERY",
                ));
            }
        };
        let query = normalize_query(&query)
            .ok_or_else(|| Error::usage("the query is empty"))?
            .to_string();

        let output = cli
            .output
            .clone()
            .or_else(|| env("OUTPUT_FILE").map(PathBuf::from))
            .or(file.output)
            .ok_or_else(|| {
                Error::usage("no output: pass --output FILE (or - for stdout) or set OUTPUT_FILE")
            })?;
        if output.as_os_str().is_empty() {
            return Err(Error::usage("the output path is empty"));
        }

        let format = cli
            .format
            .or(file.format)
            .unwrap_or_else(|| Format::from_path(&output));
        let flag = |cli: bool, file: Option<bool>| cli || file.unwrap_or(false);
        let format_options = FormatOptions {
            header: !flag(cli.no_header, file.no_header),
            line_ending: if flag(cli.crlf, file.crlf) {
                LineEnding::CrLf
            } else {
                LineEnding::Lf
            },
            null: cli.null.clone().or(file.null).unwrap_or_default(),
            binary: cli.binary.or(file.binary).unwrap_or_default(),
            pretty: flag(cli.pretty, file.pretty),
        };
        // A marker holding a special byte would have to be quoted and could
        // then not be told apart from the same text.
        let delimiter = if format == Format::Csv { ',' } else { '\t' };
        if format != Format::Json && format_options.null.contains(['\r', '\n', '"', delimiter]) {
            return Err(Error::usage(format!(
                "--null must not contain CR, LF, '\"' or the delimiter {delimiter:?}"
            )));
        }

        let tls_flag = cli.tls_ca_file.is_some()
            || cli.insecure_skip_hostname_verify
            || cli.allow_invalid_certificate;
        let mut connect = parse_url(&url)?;
        let ssl_mode = cli
            .ssl_mode
            .or(connect.url_ssl_mode)
            .or(file.ssl_mode)
            .unwrap_or(SslMode::Preferred);
        if tls_flag || !matches!(ssl_mode, SslMode::Disabled | SslMode::Preferred) {
            return Err(Error::usage(
                "TLS is not supported yet: --ssl-mode required/verify_ca/verify_identity, --tls-ca-file, \
                 --insecure-skip-hostname-verify and --allow-invalid-certificate will work once TLS lands; \
                 until then connections are unencrypted (use a Unix socket or a trusted network)",
            ));
        }
        connect.options.ssl_mode = ssl_mode;
        connect.options.connect_timeout = Duration::from_secs(
            cli.connect_timeout
                .or(file.connect_timeout)
                .unwrap_or(DEFAULT_CONNECT_TIMEOUT),
        );
        if connect.options.connect_timeout.is_zero() {
            return Err(Error::usage("--connect-timeout must be at least 1 second"));
        }

        Ok(Self {
            connect: connect.options,
            query,
            output,
            format,
            format_options,
            allow_empty: flag(cli.allow_empty, file.allow_empty),
            verbosity: cli.verbose.max(file.verbose.unwrap_or(0)),
            quiet: flag(cli.quiet, file.quiet),
        })
    }
}

fn load_file(path: &Path) -> Result<FileConfig, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::ConfigFile {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    // toml's messages quote the offending line; a db-url line would show a
    // password, so report only the position and the reason.
    toml::from_str(&text).map_err(|e| {
        let at = e
            .span()
            .map(|s| {
                let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
                format!(" (line {line})")
            })
            .unwrap_or_default();
        Error::ConfigFile {
            path: path.to_path_buf(),
            message: format!("{}{at}", e.message()),
        }
    })
}

/// Drops surrounding whitespace and trailing semicolons (a query file often
/// ends with `;`, which the server rejects without multi-statements).
fn normalize_query(q: &str) -> Option<&str> {
    let q = q
        .trim()
        .trim_end_matches(|c: char| c == ';' || c.is_whitespace());
    (!q.is_empty()).then_some(q)
}

struct ParsedUrl {
    options: ConnectOptions,
    url_ssl_mode: Option<SslMode>,
}

/// Parses `mysql://user:password@host:port/database?socket=/path&ssl-mode=...`.
/// Errors never quote the URL, which may hold a password.
fn parse_url(text: &str) -> Result<ParsedUrl, Error> {
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
            connect_timeout: Duration::from_secs(DEFAULT_CONNECT_TIMEOUT),
        },
        url_ssl_mode,
    })
}

impl SslMode {
    fn from_str_ignore_case(s: &str) -> Option<Self> {
        use clap::ValueEnum;
        let s = s.to_ascii_lowercase().replace('-', "_");
        Self::value_variants()
            .iter()
            .copied()
            .find(|v| v.to_possible_value().is_some_and(|p| p.get_name() == s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use std::collections::HashMap;

    fn resolve(args: &[&str], env: &[(&str, &str)]) -> Result<Config, Error> {
        let cli = Cli::try_parse_from(std::iter::once("gold_digger").chain(args.iter().copied()))
            .unwrap();
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::resolve(&cli, &|k| env.get(k).cloned())
    }

    const URL: &str = "mysql://u%40x:p%3Ass@db.example:3307/sales";

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
    fn precedence_flags_env_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            format!(
                "db-url = \"{URL}\"\nquery = \"SELECT 3\"\noutput = \"f.json\"\npretty = true\n"
            ),
        )
        .unwrap();
        let f = file.to_str().unwrap();
        let c = resolve(&["--config", f], &[]).unwrap();
        assert_eq!(
            (
                c.query.as_str(),
                c.output.to_str(),
                c.format,
                c.format_options.pretty
            ),
            ("SELECT 3", Some("f.json"), Format::Json, true)
        );
        let c = resolve(
            &["--config", f],
            &[("DATABASE_QUERY", "SELECT 2"), ("OUTPUT_FILE", "e.csv")],
        )
        .unwrap();
        assert_eq!((c.query.as_str(), c.format), ("SELECT 2", Format::Csv));
        let c = resolve(
            &["--config", f, "SELECT 1"],
            &[("DATABASE_QUERY", "SELECT 2")],
        )
        .unwrap();
        assert_eq!(c.query, "SELECT 1");
    }

    #[test]
    fn config_file_errors_do_not_leak_the_password() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "db-url = \"mysql://u:hunter2@h/db\"\nbogus-key = 1\n",
        )
        .unwrap();
        let e = resolve(&["--config", file.to_str().unwrap()], &[]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let msg = e.to_string();
        assert!(
            msg.contains("bogus-key") && !msg.contains("hunter2"),
            "{msg}"
        );
        std::fs::write(&file, "db-url = \"mysql://u:hunter2@h/db\n").unwrap();
        let msg = resolve(&["--config", file.to_str().unwrap()], &[])
            .unwrap_err()
            .to_string();
        assert!(!msg.contains("hunter2"), "{msg}");
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

    #[test]
    fn null_markers_with_special_bytes_are_refused() {
        for (marker, out) in [
            ("a,b", "o.csv"),
            ("a\tb", "o.tsv"),
            ("\"", "o.csv"),
            ("x\ny", "o.tsv"),
        ] {
            let e = resolve(
                &["--db-url", URL, "-q", "x", "-o", out, "--null", marker],
                &[],
            )
            .unwrap_err();
            assert_eq!(e.exit_code(), 2, "{marker:?}");
        }
        let c = resolve(
            &["--db-url", URL, "-q", "x", "-o", "o.tsv", "--null", "\\N"],
            &[],
        )
        .unwrap();
        assert_eq!(c.format_options.null, "\\N");
        assert!(
            resolve(
                &["--db-url", URL, "-q", "x", "-o", "o.csv", "--null", "a\tb"],
                &[]
            )
            .is_ok()
        );
    }

    #[test]
    fn query_normalisation() {
        assert_eq!(normalize_query("  SELECT 1 ;\n ; \n"), Some("SELECT 1"));
        assert_eq!(normalize_query(" ;\n"), None);
    }

    #[test]
    fn debug_and_dump_redact_the_password() {
        let c = resolve(&["--db-url", URL, "-q", "x", "-o", "o"], &[]).unwrap();
        assert!(!format!("{c:?}").contains("p:ss"));
        let json = serde_json::to_string(&c).unwrap();
        assert!(!json.contains("p:ss") && json.contains("***"), "{json}");
    }

    #[test]
    fn tls_flags_are_refused_until_tls_lands() {
        for args in [
            &["--ssl-mode", "required"][..],
            &["--allow-invalid-certificate"][..],
        ] {
            let mut a = vec!["--db-url", URL, "-q", "x", "-o", "o"];
            a.extend_from_slice(args);
            assert_eq!(resolve(&a, &[]).unwrap_err().exit_code(), 2);
        }
        let c = resolve(
            &[
                "--db-url",
                &format!("{URL}?ssl-mode=DISABLED"),
                "-q",
                "x",
                "-o",
                "o",
            ],
            &[],
        )
        .unwrap();
        assert_eq!(c.connect.ssl_mode, SslMode::Disabled);
    }
}
