//! The one error type of the protocol crate.

use std::fmt;

/// An error reported by the server in an ERR packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerError {
    /// The server's error number, e.g. 1045 for "access denied".
    pub code: u16,
    /// The five-character SQLSTATE, when the server sent one.
    pub sql_state: Option<[u8; 5]>,
    /// The server's message, decoded lossily as UTF-8.
    pub message: String,
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ERROR {}", self.code)?;
        if let Some(state) = &self.sql_state {
            write!(f, " ({})", String::from_utf8_lossy(state))?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Everything that can go wrong while decoding or driving the protocol.
///
/// Each variant names one cause and carries the context needed to act on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A packet ended before a value it must contain.
    #[error("malformed {what}: needs {needed} more bytes but only {available} remain")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Bytes the value needs.
        needed: u64,
        /// Bytes that were left in the packet.
        available: usize,
    },
    /// A packet carried bytes after its last field.
    #[error("malformed {what}: {count} unexpected trailing bytes")]
    TrailingBytes {
        /// What was being read.
        what: &'static str,
        /// How many bytes were left over.
        count: usize,
    },
    /// A length-encoded integer started with a byte that is never a length.
    #[error("malformed {what}: invalid length prefix 0x{byte:02X}")]
    BadLength {
        /// What was being read.
        what: &'static str,
        /// The offending first byte.
        byte: u8,
    },
    /// A packet's sequence id was not the next one.
    #[error("packets out of order: expected sequence id {expected}, got {got}")]
    SequenceMismatch {
        /// The id the decoder expected.
        expected: u8,
        /// The id that arrived.
        got: u8,
    },
    /// A packet is larger than the configured maximum.
    #[error(
        "packet of at least {size} bytes exceeds the maximum of {max} bytes \
         (raise --max-row-size if such rows are expected)"
    )]
    PacketTooLarge {
        /// Size announced so far.
        size: u64,
        /// The configured maximum.
        max: u64,
    },
    /// The result set announced more columns than any server can send.
    #[error("result set announces {count} columns, more than the limit of {max}")]
    TooManyColumns {
        /// The announced count.
        count: u64,
        /// The limit.
        max: u64,
    },
    /// A packet arrived that makes no sense in the current state.
    #[error("unexpected packet (first byte 0x{first_byte:02X}) while {state}")]
    UnexpectedPacket {
        /// What the decoder was waiting for.
        state: &'static str,
        /// The first byte of the packet (0 for an empty packet).
        first_byte: u8,
    },
    /// The server asked to read a local file (LOCAL INFILE); we never do.
    #[error(
        "the server asked the client to send the local file {file:?} (LOCAL INFILE); \
         gold_digger never reads local files on a server's request"
    )]
    LocalInfileRefused {
        /// The file name the server asked for.
        file: String,
    },
    /// The server speaks a handshake protocol other than v10.
    #[error("unsupported handshake protocol version {0} (only version 10 is supported)")]
    UnsupportedProtocolVersion(u8),
    /// The server lacks a capability this client requires.
    #[error("the server does not support {0}, which gold_digger requires")]
    MissingCapability(&'static str),
    /// The server wants an authentication method this client does not implement.
    #[error("authentication plugin '{plugin}' is not supported yet{hint}")]
    UnsupportedAuthPlugin {
        /// Name of the plugin the server asked for.
        plugin: String,
        /// Extra advice, already prefixed with "; " when present.
        hint: &'static str,
    },
    /// Authentication would expose the password, so the client refused.
    #[error("{plugin} refused: {reason}")]
    InsecureAuth {
        /// The plugin (and step) that would have sent the password.
        plugin: &'static str,
        /// The risk and how to avoid it (which flag or transport).
        reason: &'static str,
    },
    /// The RSA public key for caching_sha2_password could not be used.
    #[error("caching_sha2_password: the server's RSA public key is unusable: {0}")]
    BadServerKey(String),
    /// A binary row's FLOAT or DOUBLE is NaN or infinite, which no server
    /// stores or sends and no text format can hold as a number.
    #[error("malformed binary row: a FLOAT or DOUBLE value is not a finite number")]
    NotFinite,
    /// The server sent an ERR packet.
    #[error("{0}")]
    Server(ServerError),
}

impl ProtocolError {
    #[cold]
    pub(crate) fn truncated(what: &'static str, needed: u64, available: usize) -> Self {
        Self::Truncated {
            what,
            needed,
            available,
        }
    }

    #[cold]
    pub(crate) fn unexpected(state: &'static str, payload: &[u8]) -> Self {
        Self::UnexpectedPacket {
            state,
            first_byte: payload.first().copied().unwrap_or(0),
        }
    }
}
