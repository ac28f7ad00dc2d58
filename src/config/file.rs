//! The config file (`--config FILE.toml`): its keys, which are the long flag
//! names, and how it is read. Errors never quote the file's lines, which may
//! hold a password.

use crate::cli::{Consistency, SslMode};
use crate::error::Error;
use crate::format::{BigNumbers, BinaryEncoding, Format};
use serde::Deserialize;
use std::path::{Path, PathBuf};

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
    pub(super) allow_empty: Option<bool>,
    pub(super) first_result_only: Option<bool>,
    pub(super) force: Option<bool>,
    pub(super) allow_writes: Option<bool>,
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

pub(super) fn load_file(path: &Path) -> Result<FileConfig, Error> {
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
}
