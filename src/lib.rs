//! gold_digger: stream the result of one MySQL/MariaDB query into CSV, TSV or
//! JSON, in memory that depends on the widest row, never on the row count.
//!
//! The data flows one way: socket → [`conn::Session`] (framing, in a reused
//! buffer) → [`gd_protocol::resultset::QueryDecoder`] (borrowed rows) →
//! [`format::RowWriter`] (escaping into a reused buffer) → [`compress`]
//! (gzip or zstd, when asked for) → [`sink::Sink`] (temporary file renamed on
//! success, or stdout), or [`split`] into numbered files.

pub mod cli;
pub mod compress;
pub mod config;
pub mod conn;
pub mod error;
pub mod export;
pub mod format;
pub mod parallel;
pub mod plan;
pub mod progress;
pub mod sink;
pub mod split;
#[doc(hidden)]
pub mod synth;

pub use error::Error;
