//! The server greeting (protocol v10) and the capabilities both sides agree
//! on, whose first 32 bytes also make the SSL request.

use crate::error::ProtocolError;
use crate::packets::{ERR_HEADER, err_packet_error};
use crate::reader::Reader;
use mysql_common::constants::{CapabilityFlags as Cap, MariadbCapabilities as MariaCap};

/// Collation sent in the handshake: utf8mb4_general_ci, so the session
/// speaks utf8mb4 from the first statement on.
pub const UTF8MB4_GENERAL_CI: u8 = 45;

/// What the server said in its initial handshake (protocol v10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Greeting {
    /// Server version string, e.g. `5.5.5-10.11.6-MariaDB-0+deb12u1`.
    pub server_version: String,
    /// The server's id for this connection (what `KILL` takes).
    pub connection_id: u32,
    /// Server capability flags.
    pub capabilities: u32,
    /// MariaDB's extended capabilities (0 from MySQL).
    pub mariadb_capabilities: u32,
    /// Server default collation.
    pub collation: u8,
    /// Server status flags.
    pub status_flags: u16,
    /// The authentication nonce (usually 20 bytes).
    pub nonce: Vec<u8>,
    /// Name of the server's default authentication plugin.
    pub auth_plugin: String,
}

impl Greeting {
    /// Parses the greeting. An ERR packet here (e.g. "host is blocked") is
    /// returned as [`ProtocolError::Server`].
    pub fn parse(payload: &[u8]) -> Result<Self, ProtocolError> {
        if payload.first() == Some(&ERR_HEADER) {
            return Err(err_packet_error(payload));
        }
        let mut r = Reader::new(payload, "server greeting");
        let version = r.u8()?;
        if version != 10 {
            return Err(ProtocolError::UnsupportedProtocolVersion(version));
        }
        let server_version = String::from_utf8_lossy(r.nul_terminated()?).into_owned();
        let connection_id = r.u32()?;
        let mut nonce = r.take(8)?.to_vec();
        let _filler = r.u8()?;
        let mut capabilities = u32::from(r.u16()?);
        let (mut collation, mut status_flags, mut mariadb_capabilities) = (0, 0, 0);
        let mut auth_plugin = String::new();
        if r.remaining() > 0 {
            collation = r.u8()?;
            status_flags = r.u16()?;
            capabilities |= u32::from(r.u16()?) << 16;
            let nonce_len = r.u8()?;
            let _reserved = r.take(6)?;
            let ext = r.u32()?;
            if capabilities & Cap::CLIENT_LONG_PASSWORD.bits() == 0 {
                mariadb_capabilities = ext;
            }
            if capabilities & Cap::CLIENT_SECURE_CONNECTION.bits() != 0 {
                let part2 = usize::from(nonce_len).saturating_sub(8).max(13);
                let part2 = r.take(part2 as u64)?;
                // The second part ends with a NUL that is not part of the nonce.
                let part2 = part2.strip_suffix(&[0]).unwrap_or(part2);
                nonce.extend_from_slice(part2);
            }
            if capabilities & Cap::CLIENT_PLUGIN_AUTH.bits() != 0 {
                auth_plugin = String::from_utf8_lossy(r.nul_terminated_or_rest()).into_owned();
            }
        }
        Ok(Self {
            server_version,
            connection_id,
            capabilities,
            mariadb_capabilities,
            collation,
            status_flags,
            nonce,
            auth_plugin,
        })
    }

    /// Whether the server can switch to TLS (`CLIENT_SSL`).
    pub fn offers_tls(&self) -> bool {
        self.capabilities & Cap::CLIENT_SSL.bits() != 0
    }

    /// MariaDB 10.2+ clears the `CLIENT_MYSQL` (`CLIENT_LONG_PASSWORD`) bit.
    pub fn is_mariadb(&self) -> bool {
        self.capabilities & Cap::CLIENT_LONG_PASSWORD.bits() == 0
    }
}

/// Capabilities both sides agreed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// Client capability flags sent in the handshake response.
    pub capabilities: u32,
    /// MariaDB extended capabilities sent in the handshake response.
    pub mariadb_capabilities: u32,
    /// `max_packet_size` announced to the server.
    pub max_packet: u32,
}

impl Negotiated {
    /// Chooses capabilities for `greeting`. Never LOCAL_FILES, QUERY_ATTRIBUTES,
    /// CACHE_METADATA or PROGRESS; MariaDB's extended metadata when offered.
    pub fn new(greeting: &Greeting, with_database: bool, tls: bool) -> Result<Self, ProtocolError> {
        let server = greeting.capabilities;
        for (cap, name) in [
            (Cap::CLIENT_PROTOCOL_41, "CLIENT_PROTOCOL_41"),
            (Cap::CLIENT_SECURE_CONNECTION, "CLIENT_SECURE_CONNECTION"),
        ] {
            if server & cap.bits() == 0 {
                return Err(ProtocolError::MissingCapability(name));
            }
        }
        let mut want = Cap::CLIENT_PROTOCOL_41
            | Cap::CLIENT_SECURE_CONNECTION
            | Cap::CLIENT_LONG_FLAG
            | Cap::CLIENT_TRANSACTIONS
            | Cap::CLIENT_MULTI_RESULTS
            | Cap::CLIENT_PLUGIN_AUTH
            | Cap::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
            | Cap::CLIENT_DEPRECATE_EOF;
        if with_database {
            want |= Cap::CLIENT_CONNECT_WITH_DB;
        }
        if tls {
            want |= Cap::CLIENT_SSL;
        }
        // MariaDB only reads its extended capabilities when CLIENT_MYSQL is
        // clear on both sides; MySQL wants it set.
        if !greeting.is_mariadb() {
            want |= Cap::CLIENT_LONG_PASSWORD;
        }
        let mariadb_capabilities = if greeting.is_mariadb() {
            greeting.mariadb_capabilities & MariaCap::MARIADB_CLIENT_EXTENDED_METADATA.bits()
        } else {
            0
        };
        Ok(Self {
            capabilities: want.bits() & server,
            mariadb_capabilities,
            max_packet: 1 << 30,
        })
    }

    pub(super) fn has(&self, cap: Cap) -> bool {
        self.capabilities & cap.bits() != 0
    }

    /// Whether result sets end with an OK packet instead of EOF.
    pub fn deprecate_eof(&self) -> bool {
        self.has(Cap::CLIENT_DEPRECATE_EOF)
    }

    /// Whether column definitions carry MariaDB's extended metadata.
    pub fn extended_metadata(&self) -> bool {
        self.mariadb_capabilities & MariaCap::MARIADB_CLIENT_EXTENDED_METADATA.bits() != 0
    }

    /// The 32 bytes every handshake response starts with; sent alone, it is
    /// the SSL request that precedes a TLS handshake.
    pub fn ssl_request(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.capabilities.to_le_bytes());
        out.extend_from_slice(&self.max_packet.to_le_bytes());
        out.push(UTF8MB4_GENERAL_CI);
        out.extend_from_slice(&[0; 19]);
        out.extend_from_slice(&self.mariadb_capabilities.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ServerError;
    use crate::handshake::tests::mariadb_greeting;

    #[test]
    fn parses_a_mariadb_greeting() {
        let g = Greeting::parse(&mariadb_greeting("mysql_native_password")).unwrap();
        assert_eq!(g.server_version, "5.5.5-10.11.6-MariaDB-0+deb12u1");
        assert_eq!(g.connection_id, 42);
        assert_eq!(g.nonce, b"abcdefghijklmnopqrst");
        assert_eq!(g.auth_plugin, "mysql_native_password");
        assert!(g.is_mariadb());
        let n = Negotiated::new(&g, true, false).unwrap();
        assert!(n.extended_metadata());
        assert!(n.deprecate_eof());
        // Never LOCAL_FILES, never CLIENT_MYSQL towards MariaDB, never PROGRESS.
        assert_eq!(n.capabilities & Cap::CLIENT_LOCAL_FILES.bits(), 0);
        assert_eq!(n.capabilities & 1, 0);
        assert_eq!(
            n.mariadb_capabilities & MariaCap::MARIADB_CLIENT_PROGRESS.bits(),
            0
        );
    }

    #[test]
    fn truncated_greetings_fail_cleanly() {
        let full = mariadb_greeting("mysql_native_password");
        // protocol version, 32-byte version string, id, nonce part 1, filler and
        // the low capability flags are mandatory: 48 bytes.
        for cut in 0..48 {
            assert!(Greeting::parse(&full[..cut]).is_err(), "cut {cut}");
        }
        // Once the optional part starts it must be complete up to the nonce.
        for cut in 49..full.len() - "mysql_native_password".len() - 1 {
            assert!(Greeting::parse(&full[..cut]).is_err(), "cut {cut}");
        }
        assert!(matches!(
            Greeting::parse(b"\xff\x69\x04Host 'x' is blocked"),
            Err(ProtocolError::Server(ServerError { code: 1129, .. }))
        ));
        assert!(matches!(
            Greeting::parse(&[9, 0]),
            Err(ProtocolError::UnsupportedProtocolVersion(9))
        ));
    }

    #[test]
    fn ssl_request_claims_ssl_only_when_offered() {
        // The low capability flags are bytes 46..48; CLIENT_SSL (0x800) is in byte 47.
        let mut with = mariadb_greeting("mysql_native_password");
        with[47] |= 0x08;
        let g = Greeting::parse(&with).unwrap();
        assert!(g.offers_tls());
        let n = Negotiated::new(&g, false, true).unwrap();
        let mut req = Vec::new();
        n.ssl_request(&mut req);
        assert_eq!(req.len(), 32);
        let caps = u32::from_le_bytes(req[..4].try_into().unwrap());
        assert_ne!(caps & Cap::CLIENT_SSL.bits(), 0);
        let mut without = with.clone();
        without[47] &= !0x08;
        let g = Greeting::parse(&without).unwrap();
        assert!(!g.offers_tls());
        let n = Negotiated::new(&g, false, true).unwrap();
        assert_eq!(n.capabilities & Cap::CLIENT_SSL.bits(), 0);
    }
}
