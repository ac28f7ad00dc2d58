//! Small server packets: OK, EOF and ERR.

use crate::error::{ProtocolError, ServerError};
use crate::reader::Reader;

/// Header byte of an OK packet.
pub const OK_HEADER: u8 = 0x00;
/// Header byte of an EOF packet, and of an OK packet that ends a result set.
pub const EOF_HEADER: u8 = 0xFE;
/// Header byte of an ERR packet.
pub const ERR_HEADER: u8 = 0xFF;
/// Header byte of a LOCAL INFILE request.
pub const LOCAL_INFILE_HEADER: u8 = 0xFB;

/// Server status flag: another result set follows.
pub const SERVER_MORE_RESULTS_EXISTS: u16 = 0x0008;

/// The parts of an OK or EOF packet an exporter uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Status {
    /// Rows changed by a statement without a result set.
    pub affected_rows: u64,
    /// Server status flags.
    pub status_flags: u16,
    /// Number of warnings the statement raised.
    pub warnings: u16,
}

impl Status {
    /// Whether another result set follows.
    pub fn more_results(&self) -> bool {
        self.status_flags & SERVER_MORE_RESULTS_EXISTS != 0
    }

    /// Parses an OK packet (header 0x00, or 0xFE when it ends a result set
    /// under `CLIENT_DEPRECATE_EOF`). Info and session-state data are skipped.
    pub fn parse_ok(payload: &[u8]) -> Result<Self, ProtocolError> {
        let mut r = Reader::new(payload, "OK packet");
        let header = r.u8()?;
        if header != OK_HEADER && header != EOF_HEADER {
            return Err(ProtocolError::unexpected("reading an OK packet", payload));
        }
        let affected_rows = r.lenenc_int()?;
        let _last_insert_id = r.lenenc_int()?;
        let status_flags = r.u16()?;
        let warnings = r.u16()?;
        Ok(Self {
            affected_rows,
            status_flags,
            warnings,
        })
    }

    /// Parses a legacy EOF packet (0xFE, warnings, status).
    pub fn parse_eof(payload: &[u8]) -> Result<Self, ProtocolError> {
        let mut r = Reader::new(payload, "EOF packet");
        if r.u8()? != EOF_HEADER {
            return Err(ProtocolError::unexpected("reading an EOF packet", payload));
        }
        let warnings = r.u16()?;
        let status_flags = r.u16()?;
        r.finish()?;
        Ok(Self {
            affected_rows: 0,
            status_flags,
            warnings,
        })
    }
}

/// Parses an ERR packet (protocol 4.1 layout: code, `#` + SQLSTATE, message).
pub fn parse_err(payload: &[u8]) -> Result<ServerError, ProtocolError> {
    let mut r = Reader::new(payload, "ERR packet");
    if r.u8()? != ERR_HEADER {
        return Err(ProtocolError::unexpected("reading an ERR packet", payload));
    }
    let code = r.u16()?;
    let sql_state = if r.peek() == Some(b'#') && r.remaining() >= 6 {
        r.u8()?;
        let mut state = [0u8; 5];
        state.copy_from_slice(r.take(5)?);
        Some(state)
    } else {
        None
    };
    Ok(ServerError {
        code,
        sql_state,
        message: String::from_utf8_lossy(r.rest()).into_owned(),
    })
}

/// Turns an ERR packet into the error it reports (or the parse error if it is malformed).
#[cold]
pub fn err_packet_error(payload: &[u8]) -> ProtocolError {
    match parse_err(payload) {
        Ok(e) => ProtocolError::Server(e),
        Err(e) => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ok_packet_from_the_docs() {
        // MySQL docs example: OK with 0 affected rows, status AUTOCOMMIT, 0 warnings.
        let p = [0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00];
        let s = Status::parse_ok(&p).unwrap();
        assert_eq!(s.status_flags, 2);
        assert!(!s.more_results());
        // With MORE_RESULTS and trailing info/session data, as MariaDB sends.
        let p = [
            0xFE, 0x00, 0x00, 0x0A, 0x00, 0x01, 0x00, 0x03, b'a', b'b', b'c',
        ];
        let s = Status::parse_ok(&p).unwrap();
        assert!(s.more_results());
        assert_eq!(s.warnings, 1);
    }

    #[test]
    fn eof_packet() {
        let s = Status::parse_eof(&[0xFE, 0x00, 0x00, 0x22, 0x00]).unwrap();
        assert_eq!(s.status_flags, 0x22);
        assert!(Status::parse_eof(&[0xFE, 0x00]).is_err());
    }

    #[test]
    fn err_packet_from_the_docs() {
        // MySQL docs example: error 1096 "No tables used", SQLSTATE HY000.
        let p = b"\xff\x48\x04#HY000No tables used";
        let e = parse_err(p).unwrap();
        assert_eq!(e.code, 1096);
        assert_eq!(&e.sql_state.unwrap(), b"HY000");
        assert_eq!(e.message, "No tables used");
        assert_eq!(e.to_string(), "ERROR 1096 (HY000): No tables used");
        // Pre-4.1 layout without SQLSTATE still parses.
        let e = parse_err(b"\xff\x15\x04Access denied").unwrap();
        assert_eq!(
            (e.code, e.sql_state, e.message.as_str()),
            (1045, None, "Access denied")
        );
        assert!(parse_err(&[0xFF, 0x01]).is_err());
    }
}
