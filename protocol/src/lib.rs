//! Sans-I/O MySQL/MariaDB client protocol for an exporter.
//!
//! This crate contains no networking code: no sockets, no async, no clock and
//! no randomness. Decoders take `&[u8]` and say either "need more bytes" or
//! return an item and how many bytes it consumed; encoders append to a `Vec`.
//! That keeps every parser testable with byte strings, fuzzable and
//! benchmarkable without a server.
//!
//! ```
//! use gd_protocol::row::RowDecoder;
//!
//! // A text row with the fields "abc", NULL and "" (the bytes a server sends).
//! let payload = [0x03, b'a', b'b', b'c', 0xFB, 0x00];
//! let mut decoder = RowDecoder::new(3);
//! let row = decoder.decode(&payload, 3).unwrap();
//! assert_eq!(row.get(0), Some(&b"abc"[..]));
//! assert_eq!(row.get(1), None);
//! assert_eq!(row.get(2), Some(&b""[..]));
//! ```
#![deny(missing_docs)]

pub mod column;
pub mod error;
pub mod reader;
pub mod row;

pub use column::{ColumnDef, ColumnKind};
pub use error::{ProtocolError, ServerError};
pub use row::{RowDecoder, RowView};
