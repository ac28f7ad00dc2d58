//! Command-line flags as parsed by clap, before any validation or merging.
//!
//! Environment variables and the config file are merged in `config.rs`, so
//! that precedence (flags > environment > config file > defaults) is decided
//! in one place.

use crate::format::parquet::{ParquetCompression, ParquetDates};
use crate::format::{BigNumbers, BinaryEncoding, Format};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Stream the result of one MySQL/MariaDB query into CSV, TSV or JSON, in constant memory.
#[derive(Debug, Parser)]
#[command(name = "gold_digger", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// Database URL: mysql://user:password@host:port/database (also mariadb://;
    /// ?socket=/path for a Unix socket) [env: DATABASE_URL]
    #[arg(long, value_name = "URL")]
    pub db_url: Option<String>,

    /// The mysql client's connection flags, an alternative to --db-url.
    #[command(flatten)]
    pub client: ClientArgs,

    /// SQL query to run [env: DATABASE_QUERY]
    #[arg(short, long, value_name = "SQL", conflicts_with = "query_file")]
    pub query: Option<String>,

    /// SQL query to run (same as --query)
    #[arg(value_name = "QUERY", conflicts_with_all = ["query", "query_file"])]
    pub positional_query: Option<String>,

    /// Read the SQL query from FILE (- reads it from stdin)
    #[arg(long, value_name = "FILE")]
    pub query_file: Option<PathBuf>,

    /// Output file; the format follows the extension (.csv, .json, .ndjson/.jsonl, .parquet, else TSV); - is stdout [env: OUTPUT_FILE]
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Output format, overriding the extension
    #[arg(short, long, value_enum)]
    pub format: Option<Format>,

    /// Indent JSON output (-p is --pretty here, not the mysql client's password: use --password)
    #[arg(short, long)]
    pub pretty: bool,

    /// Compress the output: gzip, zstd or none; for stdout and names without a .gz/.zst
    /// suffix (a suffix decides by itself and must not contradict this) [default: none]
    #[arg(long, value_enum, value_name = "METHOD")]
    pub compress: Option<crate::compress::Method>,

    /// Compression level: gzip 1-9 [default: 4], zstd 1-19 [default: 1]
    #[arg(long, value_name = "N")]
    pub compress_level: Option<i32>,

    /// Split the output into files of N rows each: NAME-00001.csv, NAME-00002.csv, … (see
    /// README "Split files")
    #[arg(long, value_name = "N")]
    pub max_rows_per_file: Option<u64>,

    /// Split the output into files of about SIZE bytes (after compression): a new file starts
    /// at the first row boundary where the current one holds SIZE; K, M, G (powers of 1024)
    #[arg(long, value_name = "SIZE")]
    pub max_file_size: Option<String>,

    /// Log more on stderr (-v info, -vv debug, -vvv trace)
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Print only errors
    #[arg(long, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Show progress (rows, bytes, rate, elapsed time; percentage and ETA when the total is
    /// known) even when stderr is not a terminal [default: on a terminal, unless --quiet]
    #[arg(long, conflicts_with = "no_progress")]
    pub progress: bool,

    /// Never show progress
    #[arg(long)]
    pub no_progress: bool,

    /// Exit 0 and write an empty result (header only) when the query returns no rows
    #[arg(long)]
    pub allow_empty: bool,

    /// Replace the output file even when it is read-only (the new file keeps its mode)
    #[arg(long)]
    pub force: bool,

    /// When the query returns more than one result set (a CALL), export the first and discard
    /// the others with a warning, instead of failing with exit 4
    #[arg(long)]
    pub first_result_only: bool,
    /// Run the query in a read-write session (default: read-only, so that an UPDATE, INSERT,
    /// DELETE or DDL fails); for the rare procedure that must write
    #[arg(long)]
    pub allow_writes: bool,

    /// How the server sends the rows: text (COM_QUERY) or binary (a prepared statement: less
    /// work for the server, FLOAT/DOUBLE exact); a statement that cannot be prepared runs as
    /// text [default: binary]
    #[arg(long, value_enum, value_name = "PROTOCOL")]
    pub protocol: Option<Protocol>,

    /// Export over N connections at once, the result split into chunks by --split-by or the
    /// primary key of --table; all N read one consistent snapshot (see --consistency)
    /// [default: 1]
    #[arg(short = 'j', long, value_name = "N")]
    pub threads: Option<u32>,

    /// The column of the result to split a parallel export on: an integer, DECIMAL without
    /// fraction digits, DATE or DATETIME/TIMESTAMP column, ideally indexed
    #[arg(long, value_name = "COLUMN")]
    pub split_by: Option<String>,

    /// Export a whole table (SELECT * FROM NAME), split on its primary key when it is one
    /// integer column; NAME may be schema.table
    #[arg(long, value_name = "NAME", conflicts_with_all = ["query", "positional_query", "query_file"])]
    pub table: Option<String>,

    /// With --table: only the rows matching this SQL condition
    #[arg(long = "where", value_name = "COND", requires = "table")]
    pub where_: Option<String>,

    /// With --threads: snapshot (one consistent view for all connections; needs the RELOAD
    /// privilege for a moment's commit lock) or none [default: snapshot]
    #[arg(long, value_enum, value_name = "MODE")]
    pub consistency: Option<Consistency>,

    /// With --threads: rows per chunk query to aim for [default: from the table's size, at
    /// most 100000]
    #[arg(long, value_name = "ROWS")]
    pub chunk_rows: Option<u64>,

    /// Print the effective configuration as JSON (password redacted) and exit
    #[arg(long)]
    pub dump_config: bool,

    /// Read settings from a TOML file whose keys are the long flag names
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Do not write the header row (CSV/TSV)
    #[arg(long)]
    pub no_header: bool,

    /// End lines with CRLF instead of LF (CSV/TSV)
    #[arg(long)]
    pub crlf: bool,

    /// Write SQL NULL as STRING in CSV/TSV (default: an empty unquoted field)
    #[arg(long, value_name = "STRING")]
    pub null: Option<String>,

    /// How to write binary columns: auto (UTF-8 text if valid and not starting with 0x, else 0x-hex), hex or base64
    #[arg(long, value_enum, value_name = "ENCODING")]
    pub binary: Option<BinaryEncoding>,

    /// JSON/NDJSON: write DECIMAL values and integers of magnitude 2^53 or more as strings
    /// (string), for readers that parse numbers as doubles (JavaScript, jq 1.6, pandas), or
    /// as exact numbers (number) [default: number]
    #[arg(long, value_enum, value_name = "AS")]
    pub json_big_numbers: Option<BigNumbers>,

    /// Parquet: page compression, zstd (level 1), snappy or none [default: zstd]
    #[arg(long, value_enum, value_name = "METHOD")]
    pub parquet_compression: Option<ParquetCompression>,

    /// Parquet: bytes of parsed values per row group, with K, M or G [default: 8M]
    #[arg(long, value_name = "SIZE")]
    pub parquet_row_group_size: Option<String>,

    /// Parquet: DATE, DATETIME and TIMESTAMP columns as typed values (typed; a zero or invalid
    /// date fails the export) or as text (string) [default: typed]
    #[arg(long, value_enum, value_name = "AS")]
    pub parquet_dates: Option<ParquetDates>,

    /// The session's time zone for TIMESTAMP values: an offset such as +00:00, or a name such
    /// as UTC where the server has its time zone tables [default: the server's]
    #[arg(long, value_name = "ZONE")]
    pub time_zone: Option<String>,

    /// Seconds allowed for connecting and logging in [default: 30]
    #[arg(long, value_name = "SECONDS")]
    pub connect_timeout: Option<u64>,

    /// Seconds the server may stay silent while a result is awaited or streaming; 0 waits
    /// forever. A query that thinks longer than this before its first row needs a higher
    /// value [default: 3600]
    #[arg(long, value_name = "SECONDS")]
    pub read_timeout: Option<u64>,

    /// Largest row (packet) accepted, in bytes, with an optional K, M or G suffix (powers of
    /// 1024); memory grows only as a row's bytes arrive [default: 1G]
    #[arg(long, value_name = "BYTES")]
    pub max_row_size: Option<String>,

    /// TLS mode: disabled, preferred, required, verify_ca, verify_identity
    #[arg(long, value_enum, value_name = "MODE")]
    pub ssl_mode: Option<SslMode>,

    /// Verify the server certificate against the CA certificates in this PEM file
    /// (implies verify_identity unless --ssl-mode verify_ca)
    #[arg(
        long,
        value_name = "FILE",
        group = "tls_flags",
        visible_alias = "ssl-ca"
    )]
    pub tls_ca_file: Option<PathBuf>,

    /// Verify the certificate chain but not the host name (same as --ssl-mode verify_ca)
    #[arg(long, group = "tls_flags")]
    pub insecure_skip_hostname_verify: bool,

    /// Use TLS without verifying the certificate (same as --ssl-mode required; warns)
    #[arg(long, group = "tls_flags")]
    pub allow_invalid_certificate: bool,

    /// Client certificate chain (PEM) for mutual TLS; needs --tls-key
    #[arg(long, value_name = "FILE", visible_alias = "ssl-cert")]
    pub tls_cert: Option<PathBuf>,

    /// Client private key (PEM) for mutual TLS; needs --tls-cert
    #[arg(long, value_name = "FILE", visible_alias = "ssl-key")]
    pub tls_key: Option<PathBuf>,

    /// caching_sha2_password without TLS: encrypt the password with this RSA public key (PEM)
    #[arg(long, value_name = "FILE", conflicts_with = "get_server_public_key")]
    pub server_public_key: Option<PathBuf>,

    /// caching_sha2_password without TLS: ask the server for its RSA key (open to a man in the middle)
    #[arg(long)]
    pub get_server_public_key: bool,

    /// Subcommands.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The connection flags of the mysql client. Each overrides the matching part
/// of the URL; without a URL they build the connection (see README
/// "Connecting like the mysql client").
#[derive(Debug, Default, clap::Args)]
pub struct ClientArgs {
    /// Server host name or address [default: localhost]. Long form only: -h is --help
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,

    /// Server TCP port [default: 3306]
    #[arg(short = 'P', long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,

    /// User name [default: the OS user's name]
    #[arg(short = 'u', long, value_name = "USER")]
    pub user: Option<String>,

    /// Password; --password alone asks on the terminal without echo. Long form only (-p is
    /// --pretty), and the value only after '=': --password=PW (visible in the process list;
    /// prefer the prompt, ~/.my.cnf or MYSQL_PWD)
    #[arg(
        long,
        value_name = "PASSWORD",
        num_args = 0..=1,
        require_equals = true
    )]
    pub password: Option<Option<String>>,

    /// Default database
    #[arg(short = 'D', long, value_name = "NAME")]
    pub database: Option<String>,

    /// Unix socket path (instead of TCP)
    #[arg(short = 'S', long, value_name = "PATH")]
    pub socket: Option<PathBuf>,

    /// Read the [client] and [gold_digger] groups of this option file only, instead of ~/.my.cnf
    #[arg(long, value_name = "FILE", conflicts_with = "no_defaults")]
    pub defaults_file: Option<PathBuf>,

    /// Read no option file (not even ~/.my.cnf)
    #[arg(long)]
    pub no_defaults: bool,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a shell completion script
    Completion {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// The protocol of the result rows.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// COM_QUERY: the server formats every value as text.
    Text,
    /// COM_STMT_PREPARE + COM_STMT_EXECUTE: integers, floats and dates in
    /// binary, transcoded here to the text protocol's text (FLOAT and DOUBLE
    /// in their shortest exact form). The default: the server, which bounds
    /// every export, does 0.58x the work (10 M rows of bench.mixed).
    #[default]
    Binary,
}

/// Whether the connections of a parallel export share one snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Consistency {
    /// Every connection reads the same moment: commits are blocked while
    /// the N transactions start (BACKUP STAGE BLOCK_COMMIT on MariaDB,
    /// FLUSH TABLES WITH READ LOCK elsewhere).
    Snapshot,
    /// Each connection reads whatever is committed when its chunks run.
    None,
}

/// MySQL's `--ssl-mode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[value(rename_all = "snake_case")]
pub enum SslMode {
    /// Plain connection.
    #[value(alias = "DISABLED")]
    Disabled,
    /// TLS when the server offers it.
    #[value(alias = "PREFERRED")]
    Preferred,
    /// TLS or fail, without verification.
    #[value(alias = "REQUIRED")]
    Required,
    /// TLS with the chain verified.
    #[value(alias = "VERIFY_CA")]
    VerifyCa,
    /// TLS with the chain and the host name verified.
    #[value(alias = "VERIFY_IDENTITY")]
    VerifyIdentity,
}

impl SslMode {
    /// The value as `--ssl-mode` takes it, for messages.
    pub fn flag_value(self) -> &'static str {
        match self {
            Self::Disabled => "disabled",
            Self::Preferred => "preferred",
            Self::Required => "required",
            Self::VerifyCa => "verify_ca",
            Self::VerifyIdentity => "verify_identity",
        }
    }
}

/// Refuses two habits of mysql client users that would otherwise put a
/// password where it gets printed or sent as SQL: `-pSECRET` (here `-p` is
/// `--pretty`, and clap would read the rest as more short flags, `-pSx` as a
/// socket named `x`), and `--password SECRET` (the value only follows `=`,
/// so SECRET would become the query). Arguments after `--` and values of
/// options that take one are not looked at. The message never holds the
/// argument.
pub fn check_password_habits(args: &[std::ffi::OsString]) -> Result<(), crate::Error> {
    use clap::CommandFactory;
    let command = Cli::command();
    let takes_value = |arg: &str| {
        command.get_arguments().any(|a| {
            a.get_action().takes_values()
                && a.get_num_args().is_none_or(|n| n.min_values() > 0)
                && (arg.strip_prefix("--").is_some_and(|l| {
                    a.get_long() == Some(l) || a.get_all_aliases().is_some_and(|v| v.contains(&l))
                }) || arg.strip_prefix('-').is_some_and(|s| {
                    s.len() == 1 && a.get_short().is_some_and(|c| s.starts_with(c))
                }))
        })
    };
    let mut previous: Option<&str> = None;
    for arg in args.iter().skip(1) {
        let Some(arg) = arg.to_str() else {
            previous = None;
            continue;
        };
        if arg == "--" {
            break;
        }
        let is_value = previous.is_some_and(&takes_value);
        if !is_value {
            // `-pv`, `-pvv`: --pretty with other flags that take no value.
            let bundled_flags = arg
                .strip_prefix("-p")
                .is_some_and(|rest| rest.chars().all(|c| matches!(c, 'p' | 'v' | 'h' | 'V')));
            if arg.starts_with("-p") && arg.len() > 2 && !bundled_flags {
                return Err(crate::Error::Usage(
                    "-p is --pretty in gold_digger and takes no value; for the mysql client's \
                     -pPASSWORD write --password=PASSWORD, or --password alone to be asked"
                        .into(),
                ));
            }
            if previous == Some("--password") && !arg.starts_with('-') {
                return Err(crate::Error::Usage(
                    "--password takes its value after '=' (--password=PASSWORD); --password \
                     alone asks on the terminal, so the argument after it would be taken as \
                     the query: write --password=PASSWORD, or put --password after the query"
                        .into(),
                ));
            }
        }
        previous = if is_value { None } else { Some(arg) };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_password_habits;

    fn check(args: &[&str]) -> bool {
        let args: Vec<std::ffi::OsString> = std::iter::once("gold_digger")
            .chain(args.iter().copied())
            .map(Into::into)
            .collect();
        check_password_habits(&args).is_ok()
    }

    #[test]
    fn mysql_password_habits_are_refused() {
        assert!(!check(&["-psecret", "-q", "x"]));
        assert!(!check(&["-pSx"]));
        assert!(check(&["-pv", "-q", "x"]));
        assert!(check(&["-pvv", "-q", "x"]));
        assert!(!check(&["-pvsecret", "-q", "x"]));
        assert!(!check(&["--password", "secret", "-o", "o"]));
        assert!(!check(&["-q", "SELECT 1", "--password", "SELECT 2"]));
        assert!(check(&["-p", "-q", "x", "--password", "-o", "o"]));
        assert!(check(&["--password=-psecret", "-q", "x"]));
        assert!(check(&["-q", "-pi", "--null", "-px", "--where", "-price"]));
        assert!(check(&["-o", "-p.csv", "--", "-psecret"]));
        assert!(check(&["SELECT 1", "--password"]));
    }
}
