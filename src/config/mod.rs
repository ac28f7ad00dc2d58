//! The validated configuration: flags, environment, config file and
//! defaults merged once, in that order of precedence. Nothing downstream
//! reads flags or the environment again.
//!
//! This module holds the resulting types ([`Config`], [`ConnectOptions`],
//! [`Endpoint`], [`Secret`]) and the merge itself ([`Config::resolve`]); the
//! parts it draws on live in submodules: `url` (the database URL), `tls` (TLS
//! settings from flags, URL and file) and `file` (the TOML config file).

mod client_flags;
mod file;
mod mycnf;
mod tls;
mod url;

use crate::cli::{Cli, Consistency, SslMode};
use crate::compress::Compression;
use crate::conn::tls::TlsClient;
use crate::error::Error;
use crate::format::parquet::DEFAULT_ROW_GROUP_BYTES;
use crate::format::{Format, FormatOptions, LineEnding, ParquetOptions};
use crate::split::SplitLimits;
use file::{ByteSize, FileConfig, load_file};
use serde::{Serialize, Serializer};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;
use tls::{FileTls, resolve_tls};

/// Default time allowed for connecting and logging in.
pub const DEFAULT_CONNECT_TIMEOUT: u64 = 30;

/// Default longest silence from the server once the query is sent: long
/// enough for a query that sorts or aggregates for many minutes before its
/// first row, short enough that a dead server does not block a nightly job
/// for good. `--read-timeout 0` waits forever.
pub const DEFAULT_READ_TIMEOUT: u64 = 3600;

/// Default largest row: the server's own ceiling for max_allowed_packet.
pub const DEFAULT_MAX_ROW_SIZE: u64 = 1 << 30;

/// Smallest accepted --max-row-size: the login packets must fit.
const MIN_MAX_ROW_SIZE: u64 = 4096;

/// Bounds of `--parquet-row-group-size`: smaller groups compress worse and
/// cost a footer entry each; larger ones only take memory.
const MIN_ROW_GROUP_BYTES: u64 = 64 << 10;
const MAX_ROW_GROUP_BYTES: u64 = 1 << 30;

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
    /// `--password` came without a value: ask on the terminal before connecting.
    #[serde(skip)]
    pub ask_password: bool,
    /// The MySQL option files read (`~/.my.cnf`, `--defaults-file`).
    pub option_files: Vec<PathBuf>,
    /// TLS mode.
    pub ssl_mode: SslMode,
    /// CA file for the verifying modes (platform roots when absent).
    pub tls_ca_file: Option<PathBuf>,
    /// Client certificate for mutual TLS.
    pub tls_cert: Option<PathBuf>,
    /// Client key for mutual TLS (only the path is ever shown).
    pub tls_key: Option<PathBuf>,
    /// The TLS configuration built from the settings above; `None` when DISABLED.
    #[serde(skip)]
    pub tls: Option<TlsClient>,
    /// RSA public key file for caching_sha2_password over plain TCP.
    pub server_public_key: Option<PathBuf>,
    /// Its content, read and checked before connecting.
    #[serde(skip)]
    pub server_public_key_pem: Option<Vec<u8>>,
    /// caching_sha2_password over plain TCP may ask the server for its key.
    pub get_server_public_key: bool,
    /// Time allowed for connecting and logging in.
    #[serde(serialize_with = "seconds")]
    pub connect_timeout: Duration,
    /// Longest silence from the server after the query was sent (None: forever).
    #[serde(serialize_with = "optional_seconds")]
    pub read_timeout: Option<Duration>,
    /// Largest packet (row) accepted, in bytes.
    pub max_row_size: u64,
    /// Run the session read-only (every flag but `--allow-writes`).
    pub read_only: bool,
    /// The session's `time_zone` (None: the server's default); only
    /// characters of [`valid_time_zone`], so it can be quoted into SQL.
    pub time_zone: Option<String>,
}

/// Whether `zone` is safe to put between single quotes in SQL and can be a
/// time zone: an offset (`+05:30`), `SYSTEM`, or a name from the server's
/// tables (`UTC`, `Europe/Berlin`, `America/Port-au-Prince`, `Etc/GMT+5`).
/// No quote, backslash, space or other character that could end the literal.
pub fn valid_time_zone(zone: &str) -> bool {
    !zone.is_empty()
        && zone.len() <= 64
        && zone
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-:_/".contains(&b))
}

fn seconds<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_secs())
}

fn optional_seconds<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.map_or(0, |d| d.as_secs()))
}

/// Parses `123`, `64K`, `64M`, `1G` (powers of 1024, case-insensitive,
/// optional trailing `B` or `iB`).
fn parse_byte_size(text: &str) -> Option<u64> {
    let t = text.trim().to_ascii_uppercase();
    let t = t
        .strip_suffix("IB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(&t);
    let (digits, shift) = match t.as_bytes().last()? {
        b'K' => (&t[..t.len() - 1], 10),
        b'M' => (&t[..t.len() - 1], 20),
        b'G' => (&t[..t.len() - 1], 30),
        _ => (t, 0),
    };
    let n: u64 = digits.trim().parse().ok()?;
    n.checked_mul(1 << shift)
}

/// Everything a run needs, validated.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    /// Connection settings.
    pub connect: ConnectOptions,
    /// The SQL to run.
    pub query: String,
    /// How many connections, and how the query is split among them.
    pub parallel: Parallel,
    /// Output path; `-` is stdout.
    pub output: PathBuf,
    /// Output format.
    pub format: Format,
    /// Compression of the output (from its suffix, `--compress`, `--compress-level`).
    pub compression: Compression,
    /// Split output (`--max-rows-per-file`, `--max-file-size`); `None`: one file.
    pub split: Option<SplitLimits>,
    /// Writer options.
    pub format_options: FormatOptions,
    /// Succeed with an empty output when there are no rows.
    pub allow_empty: bool,
    /// Replace a read-only output file.
    pub force: bool,
    /// Export the first of several result sets and discard the others,
    /// instead of failing.
    pub first_result_only: bool,
    /// Text or binary result rows.
    pub protocol: crate::cli::Protocol,
    /// 0 = warnings, 1 = info, 2 = debug, 3 = trace.
    pub verbosity: u8,
    /// Only errors on stderr.
    pub quiet: bool,
    /// Progress display: forced on (`Some(true)`), off (`Some(false)`), or
    /// on when stderr is a terminal and not `quiet` (`None`).
    pub progress: Option<bool>,
    /// Warnings to print once logging is set up (insecure TLS choices).
    #[serde(skip)]
    pub warnings: Vec<String>,
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
        let mut file = match &cli.config {
            Some(path) => load_file(path)?,
            None => FileConfig::default(),
        };
        let file_parallel = FileParallel {
            threads: file.threads,
            split_by: file.split_by.take(),
            consistency: file.consistency,
            chunk_rows: file.chunk_rows,
        };

        let url = cli
            .db_url
            .clone()
            .or_else(|| env("DATABASE_URL"))
            .or(file.db_url.take());
        let mut connect = client_flags::resolve_connection(cli, env, url.as_deref())?;

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
        let table = cli.table.clone().or(file.table);
        let table_where = cli.where_.clone().or(file.where_);
        let query_source = cli_query
            .or_else(|| env("DATABASE_QUERY").map(QuerySource::Text))
            .or(file_query);
        let query_source = match (&table, query_source) {
            (Some(_), Some(_)) => {
                return Err(Error::usage(
                    "--table exports a whole table: give it or a query, not both",
                ));
            }
            (Some(name), None) => Some(QuerySource::Text(table_query(
                name,
                table_where.as_deref(),
            )?)),
            (None, _) if table_where.is_some() => {
                return Err(Error::usage(
                    "--where needs --table (put the condition into the query)",
                ));
            }
            (None, source) => source,
        };
        let query = match query_source {
            Some(QuerySource::Text(q)) => q,
            Some(QuerySource::File(path)) => {
                read_query_file(&path).map_err(|source| Error::QueryFile { path, source })?
            }
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
        let compression = Compression::resolve(
            &output,
            cli.compress.or(file.compress),
            cli.compress_level.or(file.compress_level),
        )?;
        let split = resolve_split(
            cli.max_rows_per_file.or(file.max_rows_per_file),
            match (&cli.max_file_size, file.max_file_size.take()) {
                (Some(text), _) => Some(ByteSize::Text(text.clone())),
                (None, size) => size,
            },
            &output,
        )?;
        let flag = |cli: bool, file: Option<bool>| cli || file.unwrap_or(false);
        let mut warnings = format_warnings(
            cli.format.or(file.format),
            &output,
            format,
            &[
                ("--null", cli.null.is_some() || file.null.is_some()),
                ("--pretty", flag(cli.pretty, file.pretty)),
                ("--no-header", flag(cli.no_header, file.no_header)),
                ("--crlf", flag(cli.crlf, file.crlf)),
            ],
        );
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
            big_numbers: cli
                .json_big_numbers
                .or(file.json_big_numbers)
                .unwrap_or_default(),
            parquet: ParquetOptions {
                compression: cli
                    .parquet_compression
                    .or(file.parquet_compression)
                    .unwrap_or_default(),
                row_group_bytes: match (
                    cli.parquet_row_group_size.as_ref(),
                    file.parquet_row_group_size.as_ref(),
                ) {
                    (Some(text), _) | (None, Some(ByteSize::Text(text))) => parse_byte_size(text)
                        .ok_or_else(|| {
                        Error::usage(format!(
                            "--parquet-row-group-size {text:?} is not a size: use bytes or a \
                                 number with K, M or G"
                        ))
                    })?,
                    (None, Some(ByteSize::Number(n))) => *n,
                    (None, None) => DEFAULT_ROW_GROUP_BYTES,
                },
                dates: cli.parquet_dates.or(file.parquet_dates).unwrap_or_default(),
            },
        };
        if !(MIN_ROW_GROUP_BYTES..=MAX_ROW_GROUP_BYTES)
            .contains(&format_options.parquet.row_group_bytes)
        {
            return Err(Error::usage(format!(
                "--parquet-row-group-size must be between 64K and 1G, not {}",
                format_options.parquet.row_group_bytes
            )));
        }
        if format == Format::Parquet && compression.method != crate::compress::Method::None {
            return Err(Error::usage(
                "Parquet compresses its own pages: drop --compress or the .gz/.zst suffix, and \
                 choose the page compression with --parquet-compression zstd|snappy|none",
            ));
        }
        let parquet_given = [
            cli.parquet_compression.is_some() || file.parquet_compression.is_some(),
            cli.parquet_row_group_size.is_some() || file.parquet_row_group_size.is_some(),
            cli.parquet_dates.is_some() || file.parquet_dates.is_some(),
        ];
        warnings.extend(
            [
                "--parquet-compression",
                "--parquet-row-group-size",
                "--parquet-dates",
            ]
            .iter()
            .zip(parquet_given)
            .filter(|&(_, given)| given && format != Format::Parquet)
            .map(|(option, _)| format!("{option} has no effect on {} output", format_name(format))),
        );
        if format == Format::Ndjson && format_options.pretty {
            return Err(Error::usage(
                "--pretty does not go with NDJSON, which is one object per line; use .json for an indented document",
            ));
        }
        // A marker holding a special byte would have to be quoted and could
        // then not be told apart from the same text.
        let delimiter = if format == Format::Csv { ',' } else { '\t' };
        if !matches!(format, Format::Json | Format::Ndjson)
            && format_options.null.contains(['\r', '\n', '"', delimiter])
        {
            return Err(Error::usage(format!(
                "--null must not contain CR, LF, '\"' or the delimiter {delimiter:?}"
            )));
        }

        let file_tls = FileTls {
            ssl_mode: file.ssl_mode,
            tls_ca_file: file.tls_ca_file,
            insecure_skip_hostname_verify: file.insecure_skip_hostname_verify,
            allow_invalid_certificate: file.allow_invalid_certificate,
            tls_cert: file.tls_cert,
            tls_key: file.tls_key,
        };
        let file_tls =
            client_flags::tls_below(cli, connect.url_ssl_mode, file_tls, &connect.option_files);
        let tls = resolve_tls(cli, &file_tls, connect.url_ssl_mode, cli.config.as_deref())?;
        connect.options.ssl_mode = tls.mode;
        connect.options.tls = crate::conn::tls::build(tls.mode, &tls.files)?;
        connect.options.tls_ca_file = tls.files.ca_file;
        connect.options.tls_cert = tls.files.cert;
        connect.options.tls_key = tls.files.key;
        let server_key = cli.server_public_key.clone().or(file.server_public_key);
        let get_key = cli.get_server_public_key || file.get_server_public_key.unwrap_or(false);
        if server_key.is_some() && get_key {
            return Err(Error::usage(
                "--server-public-key and --get-server-public-key exclude each other",
            ));
        }
        if let Some(path) = &server_key {
            const WHAT: &str = "server public key (--server-public-key)";
            let pem = std::fs::read(path).map_err(|e| Error::TlsFile {
                path: path.clone(),
                what: WHAT,
                message: e.to_string(),
            })?;
            gd_protocol::handshake::check_server_public_key(&pem).map_err(|e| Error::TlsFile {
                path: path.clone(),
                what: WHAT,
                message: e.to_string(),
            })?;
            connect.options.server_public_key_pem = Some(pem);
        }
        connect.options.server_public_key = server_key;
        connect.options.get_server_public_key = get_key;
        connect.options.connect_timeout = Duration::from_secs(
            cli.connect_timeout
                .or(file.connect_timeout)
                .unwrap_or(DEFAULT_CONNECT_TIMEOUT),
        );
        if connect.options.connect_timeout.is_zero() {
            return Err(Error::usage("--connect-timeout must be at least 1 second"));
        }
        let read_timeout = cli
            .read_timeout
            .or(file.read_timeout)
            .unwrap_or(DEFAULT_READ_TIMEOUT);
        connect.options.read_timeout =
            (read_timeout > 0).then(|| Duration::from_secs(read_timeout));
        let max_row_size = match (cli.max_row_size.as_ref(), file.max_row_size.as_ref()) {
            (Some(text), _) | (None, Some(ByteSize::Text(text))) => parse_byte_size(text)
                .ok_or_else(|| {
                    Error::usage(format!(
                        "--max-row-size {text:?} is not a size: use bytes or a number with K, M or G"
                    ))
                })?,
            (None, Some(ByteSize::Number(n))) => *n,
            (None, None) => DEFAULT_MAX_ROW_SIZE,
        };
        if !(MIN_MAX_ROW_SIZE..=DEFAULT_MAX_ROW_SIZE).contains(&max_row_size) {
            return Err(Error::usage(format!(
                "--max-row-size must be between 4K and 1G (the server's own limit), not {max_row_size}"
            )));
        }
        connect.options.max_row_size = max_row_size;
        connect.options.read_only = !flag(cli.allow_writes, file.allow_writes);
        let time_zone = cli.time_zone.clone().or(file.time_zone);
        if let Some(zone) = &time_zone
            && !valid_time_zone(zone)
        {
            return Err(Error::usage(format!(
                "--time-zone {zone:?} is not a time zone: use an offset such as +00:00 or a \
                 name such as UTC or Europe/Berlin (letters, digits and + - : _ / only)"
            )));
        }
        connect.options.time_zone = time_zone;
        if format == Format::Parquet {
            // TIMESTAMP columns are instants in UTC in Parquet: the server's
            // text must be UTC for them to be read as such.
            if let Some(zone) = &connect.options.time_zone
                && zone != "+00:00"
            {
                return Err(Error::usage(format!(
                    "--time-zone {zone:?} does not go with Parquet: its TIMESTAMP columns hold \
                     UTC instants, so a Parquet export runs in the session time zone +00:00 \
                     (which NOW() and CURDATE() in the query follow too); drop --time-zone, or \
                     use CONVERT_TZ() in the query for local wall-clock values"
                )));
            }
            connect.options.time_zone = Some("+00:00".to_string());
        }

        let parallel = resolve_parallel(cli, &file_parallel, &query, table, table_where)?;
        Ok(Self {
            connect: connect.options,
            parallel,
            query,
            output,
            format,
            compression,
            split,
            format_options,
            allow_empty: flag(cli.allow_empty, file.allow_empty),
            first_result_only: flag(cli.first_result_only, file.first_result_only),
            protocol: cli.protocol.or(file.protocol).unwrap_or_default(),
            force: flag(cli.force, file.force),
            verbosity: cli.verbose.max(file.verbose.unwrap_or(0)),
            quiet: flag(cli.quiet, file.quiet),
            progress: if cli.progress {
                Some(true)
            } else if cli.no_progress {
                Some(false)
            } else {
                file.progress
            },
            warnings: {
                warnings.extend(tls.warnings);
                warnings.extend(connect.option_files.warnings);
                warnings
            },
        })
    }
}

/// The split settings: `--max-rows-per-file` and `--max-file-size`, each at
/// least 1, and a file to name the parts after.
fn resolve_split(
    max_rows: Option<u64>,
    max_size: Option<ByteSize>,
    output: &std::path::Path,
) -> Result<Option<SplitLimits>, Error> {
    let max_bytes = match max_size {
        None => None,
        Some(ByteSize::Number(n)) => Some(n),
        Some(ByteSize::Text(text)) => Some(parse_byte_size(&text).ok_or_else(|| {
            Error::usage(format!(
                "--max-file-size {text:?} is not a size: use bytes or a number with K, M or G \
                 (powers of 1024)"
            ))
        })?),
    };
    if max_rows == Some(0) {
        return Err(Error::usage("--max-rows-per-file must be at least 1"));
    }
    if max_bytes == Some(0) {
        return Err(Error::usage("--max-file-size must be at least 1 byte"));
    }
    if max_rows.is_none() && max_bytes.is_none() {
        return Ok(None);
    }
    if output.as_os_str() == "-" {
        return Err(Error::usage(
            "--max-rows-per-file and --max-file-size write numbered files and cannot go to \
             stdout: give --output FILE",
        ));
    }
    Ok(Some(SplitLimits {
        max_rows,
        max_bytes,
    }))
}

fn format_name(f: Format) -> &'static str {
    match f {
        Format::Csv => "CSV",
        Format::Tsv => "TSV",
        Format::Json => "JSON",
        Format::Ndjson => "NDJSON",
        Format::Parquet => "Parquet",
    }
}

/// One-line warnings for choices that contradict each other without being
/// wrong: a format other than the output name's extension says, and options
/// the format ignores (`given`: each option and whether it was set).
fn format_warnings(
    explicit: Option<Format>,
    output: &std::path::Path,
    format: Format,
    given: &[(&str, bool)],
) -> Vec<String> {
    let name = format_name;
    let mut warnings = Vec::new();
    // The extension before a .gz/.zst suffix; only extensions that name a
    // format imply one (any other is TSV by default, not by intent).
    let extension = crate::compress::format_extension(output).and_then(|e| e.to_str());
    let implied = match extension.map(str::to_ascii_lowercase).as_deref() {
        Some("csv") => Some(Format::Csv),
        Some("tsv") => Some(Format::Tsv),
        Some("json") => Some(Format::Json),
        Some("ndjson" | "jsonl") => Some(Format::Ndjson),
        Some("parquet") => Some(Format::Parquet),
        _ => None,
    };
    if let (Some(asked), Some(implied)) = (explicit, implied)
        && asked != implied
    {
        let file_name = output.file_name().unwrap_or_default().to_string_lossy();
        warnings.push(format!(
            "-f {}, but the output name {file_name} says {}: writing {} as asked",
            name(asked).to_ascii_lowercase(),
            name(implied),
            name(asked),
        ));
    }
    let ignored: &[(&str, &str)] = match format {
        Format::Json | Format::Ndjson => &[
            ("--null", "NULL is written as null"),
            ("--no-header", "the keys are in every object"),
            ("--crlf", "JSON lines end with LF"),
        ],
        Format::Csv | Format::Tsv => &[("--pretty", "it indents JSON")],
        Format::Parquet => &[
            ("--null", "NULL is a Parquet null"),
            ("--pretty", "it indents JSON"),
            ("--no-header", "the schema names the columns"),
            ("--crlf", "Parquet has no lines"),
        ],
    };
    for (option, why) in ignored {
        if given.contains(&(option, true)) {
            warnings.push(format!(
                "{option} has no effect on {} output ({why})",
                name(format)
            ));
        }
    }
    warnings
}

/// How many connections export, and how the query is split among them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Parallel {
    /// Connections (1: the plain single-connection export).
    pub threads: u32,
    /// The column to split on; `None` with a `table`: its primary key.
    pub split_by: Option<String>,
    /// The table of `--table`, whose primary key is the default split column.
    pub table: Option<String>,
    /// The condition of `--where` for `--table`.
    pub table_where: Option<String>,
    /// Whether all connections read one snapshot.
    pub consistency: Consistency,
    /// Rows per chunk to aim for (`None`: from the server's estimate).
    pub chunk_rows: Option<u64>,
}

/// Most connections of a parallel export: beyond the server's cores more
/// only queue, and each holds a transaction open for the whole export.
pub const MAX_THREADS: u32 = 64;

/// The parallel settings of the config file, taken before the rest of it is consumed.
struct FileParallel {
    threads: Option<u32>,
    split_by: Option<String>,
    consistency: Option<Consistency>,
    chunk_rows: Option<u64>,
}

fn resolve_parallel(
    cli: &Cli,
    file: &FileParallel,
    query: &str,
    table: Option<String>,
    table_where: Option<String>,
) -> Result<Parallel, Error> {
    let threads = cli.threads.or(file.threads).unwrap_or(1);
    if !(1..=MAX_THREADS).contains(&threads) {
        return Err(Error::usage(format!(
            "--threads must be between 1 and {MAX_THREADS}, not {threads}"
        )));
    }
    let split_by = cli.split_by.clone().or_else(|| file.split_by.clone());
    if threads > 1 {
        if split_by.is_none() && table.is_none() {
            return Err(Error::usage(format!(
                "--threads {threads} needs a column to split the rows by: pass --split-by \
                 COLUMN (an indexed integer or date column of the result), or export a table \
                 with --table NAME, which splits on its primary key"
            )));
        }
        crate::plan::query::check_splittable(query).map_err(Error::Usage)?;
    }
    let chunk_rows = cli.chunk_rows.or(file.chunk_rows);
    if chunk_rows == Some(0) {
        return Err(Error::usage("--chunk-rows must be at least 1"));
    }
    Ok(Parallel {
        threads,
        split_by,
        table,
        table_where,
        consistency: cli
            .consistency
            .or(file.consistency)
            .unwrap_or(Consistency::Snapshot),
        chunk_rows,
    })
}

/// `SELECT * FROM name [WHERE (cond)]` for `--table`: each dot-separated
/// part of the name quoted as an identifier.
fn table_query(name: &str, condition: Option<&str>) -> Result<String, Error> {
    let parts: Vec<&str> = name.split('.').collect();
    if name.is_empty() || parts.len() > 2 || parts.iter().any(|p| p.is_empty()) {
        return Err(Error::usage(format!(
            "--table {name:?}: expected NAME or SCHEMA.NAME"
        )));
    }
    let quoted: Vec<String> = parts
        .iter()
        .map(|p| crate::plan::quote_identifier(p))
        .collect();
    let mut sql = format!("SELECT * FROM {}", quoted.join("."));
    if let Some(condition) = condition.map(str::trim).filter(|c| !c.is_empty()) {
        sql.push_str(&format!(" WHERE (\n{condition}\n)"));
    }
    Ok(sql)
}

/// The query file, or stdin for `-` (`--query-file -`, as `mysql < q.sql`).
fn read_query_file(path: &std::path::Path) -> std::io::Result<String> {
    let bytes = if path.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)?;
        bytes
    } else {
        std::fs::read(path)?
    };
    decode_query_text(bytes)
}

/// The text of a query file: UTF-8, or UTF-16 with its byte-order mark
/// (what Windows PowerShell's `>` and Notepad's "Unicode" save), which is
/// unambiguous and so decoded rather than refused. Anything else is an
/// error that says where the first bad byte is and what to do.
fn decode_query_text(bytes: Vec<u8>) -> std::io::Result<String> {
    let utf16 = |bytes: &[u8], unit: fn([u8; 2]) -> u16| {
        if !bytes.len().is_multiple_of(2) {
            return Err(invalid_text("UTF-16 with an odd number of bytes".into()));
        }
        let units: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|pair| unit([pair[0], pair[1]]))
            .collect();
        String::from_utf16(&units)
            .map_err(|_| invalid_text("UTF-16 with an unpaired surrogate".into()))
    };
    match bytes.as_slice() {
        [0xFF, 0xFE, rest @ ..] => utf16(rest, u16::from_le_bytes),
        [0xFE, 0xFF, rest @ ..] => utf16(rest, u16::from_be_bytes),
        _ => String::from_utf8(bytes).map_err(|e| {
            let at = e.utf8_error().valid_up_to();
            invalid_text(format!("not valid UTF-8 (byte {at})"))
        }),
    }
}

#[cold]
fn invalid_text(what: String) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("{what}; save the file as UTF-8"),
    )
}

/// Drops a leading UTF-8 byte-order mark (Windows editors save "UTF-8" with
/// one, and the server reads it as part of the first word), surrounding
/// whitespace and trailing semicolons (a query file often ends with `;`,
/// which the server rejects without multi-statements).
fn normalize_query(q: &str) -> Option<&str> {
    let q = q
        .trim_start_matches(|c: char| c == '\u{feff}' || c.is_whitespace())
        .trim()
        .trim_end_matches(|c: char| c == ';' || c.is_whitespace());
    (!q.is_empty()).then_some(q)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use std::collections::HashMap;

    pub(super) fn resolve(args: &[&str], env: &[(&str, &str)]) -> Result<Config, Error> {
        let cli = Cli::try_parse_from(std::iter::once("gold_digger").chain(args.iter().copied()))
            .unwrap();
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::resolve(&cli, &|k| env.get(k).cloned())
    }

    pub(super) const URL: &str = "mysql://u%40x:p%3Ass@db.example:3307/sales";

    #[test]
    fn query_files_in_utf16_with_a_byte_order_mark_are_decoded() {
        let text = "SELECT 'ä€😀' AS x";
        let le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        let be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        assert_eq!(decode_query_text(le).unwrap(), text);
        assert_eq!(decode_query_text(be).unwrap(), text);
        assert_eq!(decode_query_text(text.into()).unwrap(), text);
    }

    #[test]
    fn query_files_in_other_encodings_say_where_and_what_to_do() {
        // Latin-1 'é' after "SELECT '".
        let e = decode_query_text(b"SELECT '\xE9'".to_vec()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "not valid UTF-8 (byte 8); save the file as UTF-8"
        );
        let e = decode_query_text(vec![0xFF, 0xFE, b'S']).unwrap_err();
        assert!(e.to_string().contains("odd number of bytes"), "{e}");
        let e = decode_query_text(vec![0xFF, 0xFE, 0x00, 0xD8]).unwrap_err();
        assert!(e.to_string().contains("unpaired surrogate"), "{e}");
    }

    #[test]
    fn ndjson_by_extension_flag_and_file_with_big_numbers() {
        use crate::format::BigNumbers;
        for (out, extra, want) in [
            ("x.ndjson", None, Format::Ndjson),
            ("x.JSONL", None, Format::Ndjson),
            ("x.json", None, Format::Json),
            ("-", Some("ndjson"), Format::Ndjson),
            ("-", Some("jsonl"), Format::Ndjson),
        ] {
            let mut args = vec!["--db-url", URL, "-q", "SELECT 1", "-o", out];
            if let Some(f) = extra {
                args.extend(["--format", f]);
            }
            let c = resolve(&args, &[]).unwrap();
            assert_eq!(c.format, want, "{out} {extra:?}");
            assert_eq!(c.format_options.big_numbers, BigNumbers::Number);
        }
        let args = ["--db-url", URL, "-q", "SELECT 1", "-o", "x.ndjson"];
        let c = resolve(
            &[&args[..], &["--json-big-numbers", "string"]].concat(),
            &[],
        )
        .unwrap();
        assert_eq!(c.format_options.big_numbers, BigNumbers::String);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "format = \"jsonl\"\njson-big-numbers = \"string\"\n").unwrap();
        let f = file.to_str().unwrap();
        let c = resolve(
            &["--db-url", URL, "-q", "SELECT 1", "-o", "-", "--config", f],
            &[],
        )
        .unwrap();
        assert_eq!(
            (c.format, c.format_options.big_numbers),
            (Format::Ndjson, BigNumbers::String)
        );
        // One object per line cannot be indented.
        let e = resolve(&[&args[..], &["--pretty"]].concat(), &[]).unwrap_err();
        assert_eq!(e.exit_code(), 2, "{e}");
        assert!(e.to_string().contains("--pretty"), "{e}");
    }

    #[test]
    fn parquet_by_extension_with_its_options_and_refusals() {
        use crate::format::parquet::{ParquetCompression, ParquetDates};
        let args = ["--db-url", URL, "-q", "SELECT 1", "-o", "x.Parquet"];
        let c = resolve(&args, &[]).unwrap();
        assert_eq!(c.format, Format::Parquet);
        assert_eq!(c.format_options.parquet, ParquetOptions::default());
        // TIMESTAMP values are read in UTC.
        assert_eq!(c.connect.time_zone.as_deref(), Some("+00:00"));
        let c = resolve(
            &[
                &args[..],
                &[
                    "--parquet-compression",
                    "none",
                    "--parquet-row-group-size",
                    "1M",
                    "--parquet-dates",
                    "string",
                ],
            ]
            .concat(),
            &[],
        )
        .unwrap();
        let p = c.format_options.parquet;
        assert_eq!(p.compression, ParquetCompression::None);
        assert_eq!(p.row_group_bytes, 1 << 20);
        assert_eq!(p.dates, ParquetDates::String);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "parquet_compression = \"snappy\"\nparquet-row-group-size = 131072\n",
        )
        .unwrap();
        let c = resolve(
            &[&args[..], &["--config", file.to_str().unwrap()]].concat(),
            &[],
        )
        .unwrap();
        assert_eq!(
            c.format_options.parquet.compression,
            ParquetCompression::Snappy
        );
        assert_eq!(c.format_options.parquet.row_group_bytes, 131_072);
        for (extra, names) in [
            (&["--compress", "zstd"][..], "--parquet-compression"),
            (&["--time-zone", "Europe/Berlin"][..], "--time-zone"),
            (&["--parquet-row-group-size", "10K"][..], "64K"),
            (&["--parquet-row-group-size", "lots"][..], "not a size"),
        ] {
            let e = resolve(&[&args[..], extra].concat(), &[]).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{e}");
            assert!(e.to_string().contains(names), "{e}");
        }
        let e = resolve(
            &["--db-url", URL, "-q", "SELECT 1", "-o", "x.parquet.gz"],
            &[],
        )
        .unwrap_err();
        assert_eq!(e.exit_code(), 2, "{e}");
        // Parquet options on another format: a warning, not an error.
        let c = resolve(
            &[
                "--db-url",
                URL,
                "-q",
                "SELECT 1",
                "-o",
                "x.csv",
                "--parquet-dates",
                "string",
            ],
            &[],
        )
        .unwrap();
        assert!(
            c.warnings.iter().any(|w| w.contains("--parquet-dates")),
            "{:?}",
            c.warnings
        );
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
    fn byte_sizes() {
        for (text, n) in [
            ("4096", 4096),
            ("64K", 64 << 10),
            ("64m", 64 << 20),
            ("1G", 1 << 30),
            ("16MiB", 16 << 20),
            ("2kb", 2048),
        ] {
            assert_eq!(parse_byte_size(text), Some(n), "{text}");
        }
        for bad in ["", "M", "1T", "-1", "1.5M", "99999999999999999999G", "x"] {
            assert_eq!(parse_byte_size(bad), None, "{bad}");
        }
    }

    #[test]
    fn split_limits_from_flags_and_file() {
        let base = ["--db-url", URL, "-q", "x", "-o", "o.csv"];
        assert_eq!(resolve(&base, &[]).unwrap().split, None);
        let mut a = base.to_vec();
        a.extend(["--max-rows-per-file", "1000", "--max-file-size", "64MiB"]);
        let c = resolve(&a, &[]).unwrap();
        assert_eq!(
            c.split,
            Some(SplitLimits {
                max_rows: Some(1000),
                max_bytes: Some(64 << 20)
            })
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        let mut a = base.to_vec();
        a.extend(["--config", file.to_str().unwrap()]);
        for (text, bytes) in [
            ("max-file-size = \"2K\"", 2048),
            ("max_file_size = 5000", 5000),
        ] {
            std::fs::write(&file, text).unwrap();
            let split = resolve(&a, &[]).unwrap().split.unwrap();
            assert_eq!(split.max_bytes, Some(bytes), "{text}");
        }
        std::fs::write(&file, "max-rows-per-file = 7").unwrap();
        assert_eq!(resolve(&a, &[]).unwrap().split.unwrap().max_rows, Some(7));
        for bad in [
            &["--max-rows-per-file", "0"][..],
            &["--max-file-size", "0"],
            &["--max-file-size", "1T"],
        ] {
            let mut a = base.to_vec();
            a.extend(bad);
            assert_eq!(resolve(&a, &[]).unwrap_err().exit_code(), 2, "{bad:?}");
        }
        let stdout = [
            "--db-url",
            URL,
            "-q",
            "x",
            "-o",
            "-",
            "--max-rows-per-file",
            "5",
        ];
        assert_eq!(resolve(&stdout, &[]).unwrap_err().exit_code(), 2);
    }

    #[test]
    fn read_timeout_and_max_row_size() {
        let base = ["--db-url", URL, "-q", "x", "-o", "o"];
        let c = resolve(&base, &[]).unwrap();
        assert_eq!(
            c.connect.read_timeout,
            Some(Duration::from_secs(DEFAULT_READ_TIMEOUT))
        );
        assert_eq!(c.connect.max_row_size, 1 << 30);
        let mut a = base.to_vec();
        a.extend(["--read-timeout", "0", "--max-row-size", "64M"]);
        let c = resolve(&a, &[]).unwrap();
        assert_eq!(c.connect.read_timeout, None);
        assert_eq!(c.connect.max_row_size, 64 << 20);
        for bad in ["2G", "100", "lots"] {
            let mut a = base.to_vec();
            a.extend(["--max-row-size", bad]);
            assert_eq!(resolve(&a, &[]).unwrap_err().exit_code(), 2, "{bad}");
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "read-timeout = 5\nmax-row-size = \"1M\"\n").unwrap();
        let mut a = base.to_vec();
        a.extend(["--config", file.to_str().unwrap()]);
        let c = resolve(&a, &[]).unwrap();
        assert_eq!(c.connect.read_timeout, Some(Duration::from_secs(5)));
        assert_eq!(c.connect.max_row_size, 1 << 20);
        std::fs::write(&file, "max-row-size = 8192\n").unwrap();
        assert_eq!(resolve(&a, &[]).unwrap().connect.max_row_size, 8192);
    }

    #[test]
    fn time_zones_are_checked_before_they_reach_sql() {
        for ok in [
            "+00:00",
            "-07:30",
            "UTC",
            "SYSTEM",
            "Europe/Berlin",
            "Etc/GMT+5",
        ] {
            assert!(valid_time_zone(ok), "{ok}");
        }
        for bad in [
            "",
            "UTC'",
            "+00:00'; DROP TABLE t; --",
            "a b",
            "x\\",
            "\"UTC\"",
        ] {
            assert!(!valid_time_zone(bad), "{bad}");
            let e = resolve(
                &["--db-url", URL, "-q", "x", "-o", "o", "--time-zone", bad],
                &[],
            );
            assert_eq!(e.unwrap_err().exit_code(), 2, "{bad}");
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "time-zone = \"+01:00\"\n").unwrap();
        let f = file.to_str().unwrap();
        let base = ["--db-url", URL, "-q", "x", "-o", "o", "--config", f];
        assert_eq!(
            resolve(&base, &[]).unwrap().connect.time_zone.as_deref(),
            Some("+01:00")
        );
        let mut a = base.to_vec();
        a.extend(["--time-zone", "UTC"]);
        assert_eq!(
            resolve(&a, &[]).unwrap().connect.time_zone.as_deref(),
            Some("UTC")
        );
    }

    #[test]
    fn protocol_from_the_flag_over_the_config_file_default_binary() {
        use crate::cli::Protocol;
        let base = ["--db-url", URL, "-q", "x", "-o", "o"];
        assert_eq!(resolve(&base, &[]).unwrap().protocol, Protocol::Binary);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "protocol = \"text\"\n").unwrap();
        let mut a = base.to_vec();
        a.extend(["--config", file.to_str().unwrap()]);
        assert_eq!(resolve(&a, &[]).unwrap().protocol, Protocol::Text);
        a.extend(["--protocol", "binary"]);
        assert_eq!(resolve(&a, &[]).unwrap().protocol, Protocol::Binary);
        let bad = Cli::try_parse_from(["gold_digger", "--protocol", "x"]);
        assert_eq!(bad.unwrap_err().exit_code(), 2);
    }

    #[test]
    fn query_normalisation() {
        assert_eq!(normalize_query("  SELECT 1 ;\n ; \n"), Some("SELECT 1"));
        assert_eq!(normalize_query(" ;\n"), None);
        assert_eq!(normalize_query("\u{feff}SELECT 1;\r\n"), Some("SELECT 1"));
        assert_eq!(normalize_query("\u{feff}\n"), None);
    }

    #[test]
    fn debug_and_dump_redact_the_password() {
        let c = resolve(&["--db-url", URL, "-q", "x", "-o", "o"], &[]).unwrap();
        assert!(!format!("{c:?}").contains("p:ss"));
        let json = serde_json::to_string(&c).unwrap();
        assert!(!json.contains("p:ss") && json.contains("***"), "{json}");
    }
}
