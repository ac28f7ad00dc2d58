//! The one error type of the binary; it knows its exit code.

use gd_protocol::{ProtocolError, ServerError};
use std::io;
use std::path::PathBuf;

/// Every way a run can fail. The exit code comes from the variant, never from
/// the message text. Messages name what failed and what to do, and never
/// contain a password (the URL is never printed whole).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A flag, variable or config value is missing or invalid.
    #[error("{0}")]
    Usage(String),
    /// The database URL is malformed.
    #[error("invalid database URL: {0} (expected mysql://user:password@host:port/database)")]
    Url(String),
    /// The config file cannot be read or parsed.
    #[error("config file {path}: {message}")]
    ConfigFile {
        /// The file given with --config.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A MySQL option file (`~/.my.cnf`, `--defaults-file`) cannot be read or
    /// holds a malformed line. The message never quotes the line, which may
    /// hold a password.
    #[error("option file {path}{}: {message}", line.map(|n| format!(", line {n}")).unwrap_or_default())]
    OptionFile {
        /// The file.
        path: PathBuf,
        /// The line (1-based), when the problem is on one.
        line: Option<usize>,
        /// What is wrong and what to do.
        message: String,
    },
    /// The query file cannot be read.
    #[error("cannot read query file {path}: {source}")]
    QueryFile {
        /// The file given with --query-file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The output cannot be created or written.
    #[error("cannot write output {path}: {source}")]
    Output {
        /// The output path (`-` for stdout).
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The temporary file cannot be created in the output's directory: the
    /// directory is not writable, even when the output file itself is.
    #[error(
        "cannot create a file in directory {dir} ({source}): the output {path} is written to a \
         temporary file beside it and renamed into place, so its directory must be writable, not \
         only the file; make it writable or choose an output in a writable directory"
    )]
    OutputDirectory {
        /// The directory the temporary file was to be created in.
        dir: PathBuf,
        /// The output path.
        path: PathBuf,
        /// The I/O error (permission denied, read-only file system).
        source: io::Error,
    },
    /// The output file exists and is read-only; --force replaces it.
    #[error("output {path} is read-only ({reason}); pass --force to replace it")]
    ReadOnlyOutput {
        /// The file (after following symbolic links).
        path: PathBuf,
        /// Its mode and why it counts as read-only.
        reason: String,
    },
    /// A split export's part names are taken by files of an earlier
    /// export; --force replaces them.
    #[error(
        "{first} {more}already exist{s}, parts of an earlier split export: this export would \
         write some of the same names and leave the others beside its own, to be taken for part \
         of it; pass --force to replace them (the new parts are renamed into place and the \
         earlier ones removed once the whole export succeeded), or remove them or choose \
         another output name",
        first = first.display(),
        more = if *count > 1 { format!("and {} more files ", count - 1) } else { String::new() },
        s = if *count > 1 { "" } else { "s" }
    )]
    PartsExist {
        /// The first such file, in name order.
        first: PathBuf,
        /// How many there are.
        count: usize,
    },
    /// The compressor failed; the output was discarded.
    #[error("cannot compress the output with {method}: {source}; output discarded")]
    Compress {
        /// `gzip` or `zstd`.
        method: &'static str,
        /// What failed.
        source: io::Error,
    },
    /// The server cannot be reached.
    #[error("cannot connect to {target}: {source}")]
    Connect {
        /// host:port or the socket path.
        target: String,
        /// The I/O error.
        source: io::Error,
    },
    /// Connecting and logging in took longer than the connect timeout.
    #[error(
        "timed out after {seconds} s connecting to {target} (raise --connect-timeout if the server is slow)"
    )]
    ConnectTimeout {
        /// host:port or the socket path.
        target: String,
        /// The timeout that expired.
        seconds: u64,
    },
    /// The handshake or authentication failed.
    #[error("login to {target} as '{user}' failed: {source}")]
    Login {
        /// host:port or the socket path.
        target: String,
        /// The user name (never the password).
        user: String,
        /// What the server or the protocol said.
        source: ProtocolError,
    },
    /// A CA, certificate or key file is missing or unusable (checked before
    /// connecting). The message never contains the file's content.
    #[error("{what} {path}: {message}")]
    TlsFile {
        /// The file.
        path: PathBuf,
        /// Which setting it came from, e.g. "CA file (--tls-ca-file)".
        what: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The mode demands TLS and the server does not offer it.
    #[error(
        "{target} does not offer TLS, but --ssl-mode {mode} requires it; enable TLS on the server \
         (ssl-cert/ssl-key) or, on a trusted network, use --ssl-mode preferred or disabled"
    )]
    TlsUnavailable {
        /// host:port.
        target: String,
        /// The mode in effect (lowercase, as the flag takes it).
        mode: &'static str,
    },
    /// The TLS handshake failed.
    #[error("TLS with {target} failed: {message}")]
    Tls {
        /// host:port.
        target: String,
        /// The cause, and the flag that changes the outcome.
        message: String,
    },
    /// The connection broke during login.
    #[error("connection to {target} lost during login: {source}")]
    LoginIo {
        /// host:port or the socket path.
        target: String,
        /// The I/O error.
        source: io::Error,
    },
    /// The query (or a session set-up statement) failed before any row was written.
    #[error("query failed: {0}")]
    Query(ProtocolError),
    /// The server or the stream failed after the result began.
    #[error("export failed after {rows} rows, output discarded: {source}")]
    Stream {
        /// Rows written before the failure.
        rows: u64,
        /// What went wrong.
        source: StreamError,
    },
    /// The statement tried to change data in the read-only session (the
    /// server's error 1792, ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION).
    #[error(
        "query failed: {0}; gold_digger runs queries in a read-only session: pass \
         --allow-writes (config key allow-writes) for a statement or procedure that must write; \
         no output written"
    )]
    ReadOnly(ServerError),
    /// The connections of a parallel export could not share one snapshot
    /// (the message names the privilege and `--consistency none`).
    #[error("cannot start one snapshot for all connections: {0}")]
    Snapshot(String),
    /// The statement returned no result set (an UPDATE, a DO, a CALL without
    /// a SELECT) and --allow-empty was not given.
    #[error(
        "the statement returned no result set; {affected_rows} rows affected; no output written"
    )]
    NoResultSet {
        /// The affected-rows count of the server's OK packet.
        affected_rows: u64,
    },
    /// The query returned no rows and --allow-empty was not given.
    #[error(
        "the query returned no rows; no output written (pass --allow-empty to write an empty result)"
    )]
    NoRows,
    /// SIGINT or SIGTERM arrived.
    #[error("interrupted by {name}; output discarded")]
    Interrupted {
        /// Signal name.
        name: &'static str,
        /// Exit code: 128 + signal number.
        code: u8,
    },
}

/// Why a started export failed.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// A chunk query of a parallel export answered unlike the others.
    #[error("{0}")]
    Chunk(&'static str),
    /// The server sent an error or a malformed packet.
    #[error("{0}")]
    Protocol(#[from] ProtocolError),
    /// The connection broke.
    #[error("connection lost: {0}")]
    Io(#[from] io::Error),
    /// The query returned a second result set and --first-result-only was
    /// not given: exporting only the first would silently drop rows.
    #[error(
        "the query returned more than one result set (a stored procedure?); nothing was written \
         (pass --first-result-only to export the first and discard the others)"
    )]
    MoreResults,
    /// The writer cannot write a value (Parquet: a zero date); the message
    /// names the column, the row and the option that changes it.
    #[error("{0}")]
    Value(String),
    /// The server sent nothing for the read timeout.
    #[error(
        "the server sent nothing for {seconds} s (raise --read-timeout for queries that \
         think longer before their first row, or 0 to wait forever)"
    )]
    ReadTimeout {
        /// The timeout that expired.
        seconds: u64,
    },
}

impl Error {
    /// The process exit code for this error (see README "Exit codes").
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::NoRows | Self::NoResultSet { .. } => 1,
            Self::Usage(_)
            | Self::Url(_)
            | Self::ConfigFile { .. }
            | Self::OptionFile { .. }
            | Self::TlsFile { .. } => 2,
            Self::Connect { .. }
            | Self::TlsUnavailable { .. }
            | Self::Tls { .. }
            | Self::ConnectTimeout { .. }
            | Self::Login { .. }
            | Self::LoginIo { .. } => 3,
            Self::Query(_) | Self::Stream { .. } | Self::ReadOnly(_) | Self::Snapshot(_) => 4,
            Self::QueryFile { .. }
            | Self::Output { .. }
            | Self::OutputDirectory { .. }
            | Self::ReadOnlyOutput { .. }
            | Self::PartsExist { .. }
            | Self::Compress { .. } => 5,
            Self::Interrupted { code, .. } => *code,
        }
    }

    /// A write to stdout failed because the reader went away (`| head`):
    /// not an error for a command-line filter.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Self::Output { path, source }
            if source.kind() == io::ErrorKind::BrokenPipe && path.as_os_str() == "-")
    }

    #[cold]
    pub(crate) fn usage(msg: impl Into<String>) -> Self {
        Self::Usage(msg.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_design_table() {
        let io = || io::Error::other("x");
        let cases: Vec<(Error, u8)> = vec![
            (Error::NoRows, 1),
            (Error::Snapshot("x".into()), 4),
            (Error::NoResultSet { affected_rows: 3 }, 1),
            (
                Error::ReadOnly(ServerError {
                    code: 1792,
                    sql_state: Some(*b"25006"),
                    message: "x".into(),
                }),
                4,
            ),
            (Error::usage("x"), 2),
            (Error::Url("x".into()), 2),
            (
                Error::ConfigFile {
                    path: "c".into(),
                    message: "x".into(),
                },
                2,
            ),
            (
                Error::OutputDirectory {
                    dir: "d".into(),
                    path: "d/o.csv".into(),
                    source: io(),
                },
                5,
            ),
            (
                Error::OptionFile {
                    path: "c".into(),
                    line: Some(3),
                    message: "x".into(),
                },
                2,
            ),
            (
                Error::Connect {
                    target: "h".into(),
                    source: io(),
                },
                3,
            ),
            (
                Error::ConnectTimeout {
                    target: "h".into(),
                    seconds: 1,
                },
                3,
            ),
            (
                Error::LoginIo {
                    target: "h".into(),
                    source: io(),
                },
                3,
            ),
            (
                Error::TlsFile {
                    path: "ca.pem".into(),
                    what: "CA file",
                    message: "x".into(),
                },
                2,
            ),
            (
                Error::TlsUnavailable {
                    target: "h".into(),
                    mode: "required",
                },
                3,
            ),
            (
                Error::Tls {
                    target: "h".into(),
                    message: "x".into(),
                },
                3,
            ),
            (Error::Query(ProtocolError::MissingCapability("x")), 4),
            (
                Error::Stream {
                    rows: 7,
                    source: StreamError::ReadTimeout { seconds: 2 },
                },
                4,
            ),
            (
                Error::Stream {
                    rows: 1,
                    source: StreamError::Io(io()),
                },
                4,
            ),
            (
                Error::Stream {
                    rows: 1,
                    source: StreamError::MoreResults,
                },
                4,
            ),
            (
                Error::QueryFile {
                    path: "q".into(),
                    source: io(),
                },
                5,
            ),
            (
                Error::Output {
                    path: "o".into(),
                    source: io(),
                },
                5,
            ),
            (
                Error::ReadOnlyOutput {
                    path: "o".into(),
                    reason: "mode 0444".into(),
                },
                5,
            ),
            (
                Error::Compress {
                    method: "zstd",
                    source: io(),
                },
                5,
            ),
            (
                Error::Interrupted {
                    name: "SIGINT",
                    code: 130,
                },
                130,
            ),
        ];
        for (e, code) in cases {
            assert_eq!(e.exit_code(), code, "{e}");
        }
    }

    #[test]
    fn broken_pipe_only_on_stdout() {
        let bp = || io::Error::from(io::ErrorKind::BrokenPipe);
        assert!(
            Error::Output {
                path: "-".into(),
                source: bp()
            }
            .is_broken_pipe()
        );
        assert!(
            !Error::Output {
                path: "out.csv".into(),
                source: bp()
            }
            .is_broken_pipe()
        );
    }
}
