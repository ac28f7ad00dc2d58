//! The config file (`--config FILE.toml`): its keys, which are the long flag
//! names, and how it is read. Errors never quote the file's lines, which may
//! hold a password.

use crate::cli::{Consistency, Protocol, SslMode};
use crate::error::Error;
use crate::format::parquet::{ParquetCompression, ParquetDates};
use crate::format::{BigNumbers, BinaryEncoding, Format};
use serde::Deserialize;
use std::borrow::Cow;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;
use toml::de::{DeTable, DeValue, Deserializer};

/// A byte count in the config file: a number or a string such as "64M".
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum ByteSize {
    Number(u64),
    Text(String),
}

/// The config file: the long flag names as keys.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub(super) struct FileConfig {
    pub(super) db_url: Option<String>,
    pub(super) query: Option<String>,
    pub(super) query_file: Option<PathBuf>,
    pub(super) output: Option<PathBuf>,
    pub(super) format: Option<Format>,
    pub(super) pretty: Option<bool>,
    pub(super) compress: Option<crate::compress::Method>,
    pub(super) compress_level: Option<i32>,
    pub(super) max_rows_per_file: Option<u64>,
    pub(super) max_file_size: Option<ByteSize>,
    pub(super) allow_empty: Option<bool>,
    pub(super) first_result_only: Option<bool>,
    pub(super) force: Option<bool>,
    pub(super) allow_writes: Option<bool>,
    pub(super) protocol: Option<Protocol>,
    pub(super) time_zone: Option<String>,
    pub(super) threads: Option<u32>,
    pub(super) split_by: Option<String>,
    pub(super) table: Option<String>,
    #[serde(rename = "where")]
    pub(super) where_: Option<String>,
    pub(super) consistency: Option<Consistency>,
    pub(super) chunk_rows: Option<u64>,
    pub(super) no_header: Option<bool>,
    pub(super) crlf: Option<bool>,
    pub(super) null: Option<String>,
    pub(super) binary: Option<BinaryEncoding>,
    pub(super) json_big_numbers: Option<BigNumbers>,
    pub(super) parquet_compression: Option<ParquetCompression>,
    pub(super) parquet_row_group_size: Option<ByteSize>,
    pub(super) parquet_dates: Option<ParquetDates>,
    pub(super) connect_timeout: Option<u64>,
    pub(super) read_timeout: Option<u64>,
    pub(super) max_row_size: Option<ByteSize>,
    pub(super) ssl_mode: Option<SslMode>,
    pub(super) tls_ca_file: Option<PathBuf>,
    pub(super) insecure_skip_hostname_verify: Option<bool>,
    pub(super) allow_invalid_certificate: Option<bool>,
    pub(super) tls_cert: Option<PathBuf>,
    pub(super) tls_key: Option<PathBuf>,
    pub(super) server_public_key: Option<PathBuf>,
    pub(super) get_server_public_key: Option<bool>,
    pub(super) verbose: Option<u8>,
    pub(super) quiet: Option<bool>,
    pub(super) progress: Option<bool>,
}

/// Reads the config file. Keys may be written as the flags are
/// (`allow-empty`) or in snake_case (`allow_empty`); one key in both
/// spellings is an error. A relative `query-file` is taken from the config
/// file's directory, so the two can be moved together and run from anywhere;
/// the other paths (output, TLS files) stay relative to the working directory.
pub(super) fn load_file(path: &Path) -> Result<FileConfig, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::ConfigFile {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    // toml's messages quote the offending line; a db-url line would show a
    // password, so report only the position and the reason.
    let line = |span: Option<Range<usize>>| {
        span.map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
    };
    let fail = |message: String, span: Option<Range<usize>>| Error::ConfigFile {
        path: path.to_path_buf(),
        message: match line(span) {
            Some(n) => format!("{message} (line {n})"),
            None => message,
        },
    };
    let root = DeTable::parse(&text).map_err(|e| fail(e.message().to_string(), e.span()))?;
    let span = root.span();
    // The flag spelling is the one the struct knows; remember how each key
    // was written, for the messages.
    let mut table = DeTable::new();
    let mut written: Vec<(String, String, Range<usize>)> = Vec::new();
    // String values, by span: serde's messages quote a value of the wrong
    // type or variant, which may be a password put under the wrong key.
    let mut strings: Vec<(Range<usize>, String)> = Vec::new();
    for (key, value) in root.into_inner() {
        let key_span = key.span();
        let key = key.into_inner().into_owned();
        let flag_spelling = key.replace('_', "-");
        if let Some((_, other, other_span)) = written.iter().find(|(f, ..)| *f == flag_spelling) {
            let mut both = [
                (other.as_str(), other_span.clone()),
                (key.as_str(), key_span),
            ];
            both.sort_by_key(|(_, s)| s.start);
            let [(a, a_span), (b, b_span)] = both;
            return Err(fail(
                format!(
                    "`{a}` (line {}) and `{b}` (line {}) are the same key in two spellings; keep one",
                    line(Some(a_span)).unwrap_or(0),
                    line(Some(b_span)).unwrap_or(0),
                ),
                None,
            ));
        }
        if let DeValue::String(v) = value.get_ref() {
            strings.push((value.span(), v.to_string()));
        }
        table.insert(
            Spanned::new(key_span.clone(), Cow::Owned(flag_spelling.clone())),
            value,
        );
        written.push((flag_spelling, key, key_span));
    }
    let mut config = FileConfig::deserialize(Deserializer::from(Spanned::new(span, table)))
        .map_err(|e| {
            let mut message = e.message().to_string();
            // Name a key as it was written (`bogus_key`, not `bogus-key`).
            if let Some((flag, key, _)) = written
                .iter()
                .find(|(_, _, s)| Some(s) == e.span().as_ref())
            {
                message = message.replacen(&format!("`{flag}`"), &format!("`{key}`"), 1);
            }
            if let Some((_, value)) = strings.iter().find(|(s, _)| Some(s) == e.span().as_ref()) {
                for quoted in [
                    format!("{value:?}"),
                    format!("`{value}`"),
                    format!("'{value}'"),
                ] {
                    message = message.replace(&quoted, "(the value)");
                }
            }
            fail(message, e.span())
        })?;
    if let Some(query_file) = &mut config.query_file
        && query_file.as_os_str() != "-"
        && let Some(dir) = path.parent()
    {
        *query_file = dir.join(&*query_file);
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use crate::config::tests::resolve;

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

    /// Every key the README lists, in the flag spelling, with a valid value.
    const EVERY_KEY: &str = r#"
db-url = "mysql://u:hunter2@h/db"
query = "SELECT 1"
query-file = "q.sql"
output = "o.csv"
format = "csv"
pretty = true
allow-empty = true
first-result-only = true
force = true
allow-writes = true
protocol = "binary"
time-zone = "+00:00"
threads = 2
split-by = "id"
table = "t"
where = "id > 0"
consistency = "snapshot"
chunk-rows = 5
progress = false
compress = "zstd"
compress-level = 3
max-rows-per-file = 1000000
max-file-size = "64M"
json-big-numbers = "string"
parquet-compression = "snappy"
parquet-row-group-size = "32M"
parquet-dates = "string"
no-header = true
crlf = true
null = "NULL"
binary = "hex"
connect-timeout = 7
read-timeout = 8
max-row-size = "64M"
ssl-mode = "required"
tls-ca-file = "ca.pem"
insecure-skip-hostname-verify = true
allow-invalid-certificate = true
tls-cert = "c.pem"
tls-key = "k.pem"
server-public-key = "pub.pem"
get-server-public-key = true
verbose = 2
quiet = true
"#;

    fn load(text: &str) -> Result<super::FileConfig, crate::error::Error> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, text).unwrap();
        super::load_file(&file).map(|mut c| {
            // The directory differs from call to call.
            c.query_file = c
                .query_file
                .map(|f| f.strip_prefix(dir.path()).map_or(f.clone(), Into::into));
            c
        })
    }

    #[test]
    fn every_key_in_snake_case_means_the_same() {
        let kebab = format!("{:?}", load(EVERY_KEY).unwrap());
        assert!(!kebab.contains(": None"), "a key is missing: {kebab}");
        let snake = EVERY_KEY
            .lines()
            .map(|l| match l.split_once(" = ") {
                Some((k, v)) => format!("{} = {v}", k.replace('-', "_")),
                None => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        assert!(snake.contains("db_url =") && snake.contains("insecure_skip_hostname_verify ="));
        assert_eq!(format!("{:?}", load(&snake).unwrap()), kebab);
    }

    #[test]
    fn one_key_in_two_spellings_is_an_error_naming_both() {
        let e =
            load("allow_empty = true\ndb-url = \"mysql://u:hunter2@h/db\"\nallow-empty = false\n")
                .unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let msg = e.to_string();
        assert!(
            msg.contains("`allow_empty` (line 1) and `allow-empty` (line 3)"),
            "{msg}"
        );
        let e = load("db-url = \"mysql://u:hunter2@h/db\"\ndb_url = \"mysql://u:hunter2@h/db\"\n")
            .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("`db-url` (line 1) and `db_url` (line 2)") && !msg.contains("hunter2"),
            "{msg}"
        );
    }

    #[test]
    fn unknown_keys_are_named_as_written() {
        let msg = load("bogus_key = 1\n").unwrap_err().to_string();
        assert!(msg.contains("unknown field `bogus_key`"), "{msg}");
        assert!(msg.contains("(line 1)"), "{msg}");
    }

    #[test]
    fn values_of_the_wrong_type_or_variant_are_not_quoted() {
        for text in [
            "ssl_mode = \"mysql://u:hunter2@h/db\"\n",
            "format = \"hunter2\"\n",
            "allow-empty = \"hunter2\"\n",
            "max-row-size = [\"hunter2\"]\n",
            "db-url = 'mysql://u:hunter2@h/db\n",
        ] {
            let e = load(text).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{text}");
            let msg = e.to_string();
            assert!(
                !msg.contains("hunter2") && msg.contains("(line 1)"),
                "{text}: {msg}"
            );
        }
    }
}
