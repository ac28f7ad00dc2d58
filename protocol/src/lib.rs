//! Sans-I/O MySQL/MariaDB client protocol for an exporter.
//!
//! This crate contains no networking code: no sockets, no async, no clock and
//! no randomness. Decoders take `&[u8]` and say either "need more bytes" or
//! return an item and how many bytes it consumed; encoders append to a `Vec`.
//! That keeps every parser testable with byte strings, fuzzable and
//! benchmarkable without a server.
//!
//! ```
//! use gd_protocol::framing::{Decoded, Framer};
//! use gd_protocol::resultset::{Event, QueryDecoder};
//!
//! // One text row with the fields "abc" and NULL, in a packet with sequence id 1.
//! let bytes = [5, 0, 0, 1, 0x03, b'a', b'b', b'c', 0xFB];
//! let mut framer = Framer::new(1 << 30);
//! framer.encode(b"\x03SELECT ...", &mut Vec::new()); // our COM_QUERY took id 0
//! let Decoded::Packet { payload, consumed } = framer.decode(&bytes).unwrap() else { panic!() };
//! assert_eq!(consumed, bytes.len());
//!
//! let mut decoder = QueryDecoder::new(true, false);
//! # decoder.feed(&[2]).unwrap();
//! # for name in ["a", "b"] {
//! #     let mut p = Vec::new();
//! #     for s in ["def", "", "", "", name, name] { p.push(s.len() as u8); p.extend_from_slice(s.as_bytes()); }
//! #     p.extend_from_slice(&[0x0C, 45, 0, 255, 0, 0, 0, 253, 0, 0, 0, 0, 0]);
//! #     decoder.feed(&p).unwrap();
//! # }
//! // ... after the column definitions:
//! let Event::Row(row) = decoder.feed(payload).unwrap() else { panic!() };
//! assert_eq!(row.get(0), Some(&b"abc"[..]));
//! assert_eq!(row.get(1), None);
//! ```
#![deny(missing_docs)]

pub mod binary;
pub mod column;
pub mod command;
pub mod error;
pub mod framing;
pub mod handshake;
pub mod packets;
pub mod reader;
pub mod resultset;
pub mod row;
pub mod transcode;

#[cfg(test)]
mod hostile;

pub use column::{ColumnDef, ColumnKind};
pub use error::{ProtocolError, ServerError};
/// The wire type codes, as `mysql_common` names them.
pub use mysql_common::constants::ColumnType;
pub use row::{RowDecoder, RowView};
