//! gold_digger: stream the result of one MySQL/MariaDB query into CSV, TSV or JSON.

pub mod format;
