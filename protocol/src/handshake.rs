//! Connection phase: the server greeting, capability negotiation, the
//! handshake response and the authentication exchange.
//!
//! Nothing here performs I/O: [`Login::start`] turns a greeting into the
//! response to send, and [`Login::on_packet`] turns each server packet into
//! the next packet to send or the end of authentication. A TLS upgrade fits
//! between the two: send [`Negotiated::ssl_request`], run TLS, then send the
//! response from `start`.

use crate::error::ProtocolError;
use crate::packets::{EOF_HEADER, ERR_HEADER, OK_HEADER, Status, err_packet_error};
use crate::reader::{Reader, put_lenenc_bytes};
use mysql_common::auth::plugins::caching_sha2_password::scramble_sha256;
use mysql_common::auth::plugins::mysql_native_password::scramble_native;
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

    fn has(&self, cap: Cap) -> bool {
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

/// Who logs in, and over what.
#[derive(Debug, Clone, Copy)]
pub struct Credentials<'a> {
    /// User name.
    pub user: &'a str,
    /// Password bytes (empty for none).
    pub password: &'a [u8],
    /// Default database, if any.
    pub database: Option<&'a str>,
    /// Whether the transport protects the password (TLS or a Unix socket).
    pub secure_transport: bool,
}

/// The next thing to do during authentication.
#[derive(Debug, PartialEq, Eq)]
pub enum AuthStep {
    /// Send this payload (as one packet with the next sequence id).
    Send(Vec<u8>),
    /// Wait for the next server packet.
    Wait,
    /// Logged in.
    Done(Status),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plugin {
    Native,
    CachingSha2,
    UnixSocket,
}

impl Plugin {
    fn from_name(name: &str) -> Result<Self, ProtocolError> {
        match name {
            "mysql_native_password" => Ok(Self::Native),
            "caching_sha2_password" => Ok(Self::CachingSha2),
            "unix_socket" | "auth_socket" => Ok(Self::UnixSocket),
            other => Err(ProtocolError::UnsupportedAuthPlugin {
                plugin: other.to_string(),
                hint: match other {
                    "client_ed25519" | "sha256_password" | "mysql_clear_password" | "parsec" => {
                        "; it is planned, use an account with mysql_native_password meanwhile"
                    }
                    _ => "",
                },
            }),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Native => "mysql_native_password",
            Self::CachingSha2 => "caching_sha2_password",
            Self::UnixSocket => "unix_socket",
        }
    }

    fn scramble(self, nonce: &[u8], password: &[u8]) -> Vec<u8> {
        match self {
            Self::Native => scramble_native(nonce, password).map_or_else(Vec::new, |s| s.to_vec()),
            Self::CachingSha2 => match nonce.first_chunk::<20>() {
                Some(n) => scramble_sha256(n, password).map_or_else(Vec::new, |s| s.to_vec()),
                None => Vec::new(),
            },
            // The server identifies us by the socket peer's credentials.
            Self::UnixSocket => Vec::new(),
        }
    }
}

/// The authentication exchange of one connection.
#[derive(Debug)]
pub struct Login {
    plugin: Plugin,
    password: Vec<u8>,
    secure_transport: bool,
    switched: bool,
}

impl Login {
    /// Builds the handshake response for `greeting` and returns the state
    /// that handles the server's answers.
    pub fn start(
        greeting: &Greeting,
        negotiated: &Negotiated,
        creds: &Credentials<'_>,
    ) -> (Self, Vec<u8>) {
        // Answer with the server's default plugin when we speak it; otherwise
        // offer a native scramble and let the server switch.
        let plugin = Plugin::from_name(&greeting.auth_plugin).unwrap_or(Plugin::Native);
        let mut out = Vec::with_capacity(128);
        negotiated.ssl_request(&mut out);
        out.extend_from_slice(creds.user.as_bytes());
        out.push(0);
        let auth = plugin.scramble(&greeting.nonce, creds.password);
        if negotiated.has(Cap::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) {
            put_lenenc_bytes(&mut out, &auth);
        } else {
            // Length fits: scrambles are at most 32 bytes.
            out.push(auth.len() as u8);
            out.extend_from_slice(&auth);
        }
        if negotiated.has(Cap::CLIENT_CONNECT_WITH_DB) {
            out.extend_from_slice(creds.database.unwrap_or_default().as_bytes());
            out.push(0);
        }
        if negotiated.has(Cap::CLIENT_PLUGIN_AUTH) {
            out.extend_from_slice(plugin.name().as_bytes());
            out.push(0);
        }
        let login = Self {
            plugin,
            password: creds.password.to_vec(),
            secure_transport: creds.secure_transport,
            switched: false,
        };
        (login, out)
    }

    /// Handles one server packet of the authentication exchange.
    pub fn on_packet(&mut self, payload: &[u8]) -> Result<AuthStep, ProtocolError> {
        match payload.first() {
            Some(&OK_HEADER) => Ok(AuthStep::Done(Status::parse_ok(payload)?)),
            Some(&ERR_HEADER) => Err(err_packet_error(payload)),
            Some(&EOF_HEADER) => self.switch(payload),
            Some(&0x01) => self.more_data(&payload[1..]),
            _ => Err(ProtocolError::unexpected("authenticating", payload)),
        }
    }

    fn switch(&mut self, payload: &[u8]) -> Result<AuthStep, ProtocolError> {
        if self.switched {
            return Err(ProtocolError::unexpected(
                "authenticating (second auth switch)",
                payload,
            ));
        }
        self.switched = true;
        let mut r = Reader::new(&payload[1..], "auth switch request");
        if r.remaining() == 0 {
            // Pre-4.1 servers switch to the old, broken password hash.
            return Err(Plugin::from_name("mysql_old_password").unwrap_err());
        }
        let name = String::from_utf8_lossy(r.nul_terminated_or_rest()).into_owned();
        let data = r.rest();
        let nonce = data.strip_suffix(&[0]).unwrap_or(data);
        self.plugin = Plugin::from_name(&name)?;
        Ok(AuthStep::Send(self.plugin.scramble(nonce, &self.password)))
    }

    fn more_data(&mut self, data: &[u8]) -> Result<AuthStep, ProtocolError> {
        match (self.plugin, data) {
            // caching_sha2_password: the server had our hash cached; an OK follows.
            (Plugin::CachingSha2, [0x03]) => Ok(AuthStep::Wait),
            // Full authentication: the password itself, which only a secure transport may carry.
            (Plugin::CachingSha2, [0x04]) if self.secure_transport => {
                let mut pw = self.password.clone();
                pw.push(0);
                Ok(AuthStep::Send(pw))
            }
            (Plugin::CachingSha2, [0x04]) => Err(ProtocolError::UnsupportedAuthPlugin {
                plugin: "caching_sha2_password (full authentication)".into(),
                hint: " over an unencrypted TCP connection; connect through the Unix socket, \
                       or log in once with the mysql client so the server caches the password",
            }),
            _ => Err(ProtocolError::unexpected(
                "authenticating (unexpected auth data)",
                data,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ServerError;

    /// A MariaDB 10.11 greeting, built field by field per the v10 layout.
    pub(crate) fn mariadb_greeting(plugin: &str) -> Vec<u8> {
        let mut p = vec![10];
        p.extend_from_slice(b"5.5.5-10.11.6-MariaDB-0+deb12u1\0");
        p.extend_from_slice(&42u32.to_le_bytes());
        p.extend_from_slice(b"abcdefgh");
        p.push(0);
        let caps: u32 = 0xF7FE_F7FE & !1 | Cap::CLIENT_PLUGIN_AUTH.bits(); // CLIENT_MYSQL clear
        p.extend_from_slice(&(caps as u16).to_le_bytes());
        p.push(45);
        p.extend_from_slice(&2u16.to_le_bytes());
        p.extend_from_slice(&((caps >> 16) as u16).to_le_bytes());
        p.push(21);
        p.extend_from_slice(&[0; 6]);
        p.extend_from_slice(&(MariaCap::MARIADB_CLIENT_EXTENDED_METADATA.bits() | 1).to_le_bytes());
        p.extend_from_slice(b"ijklmnopqrst\0");
        p.extend_from_slice(plugin.as_bytes());
        p.push(0);
        p
    }

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
    fn handshake_response_layout() {
        let g = Greeting::parse(&mariadb_greeting("mysql_native_password")).unwrap();
        let n = Negotiated::new(&g, true, false).unwrap();
        let creds = Credentials {
            user: "gd",
            password: b"secret",
            database: Some("db"),
            secure_transport: false,
        };
        let (_, resp) = Login::start(&g, &n, &creds);
        let mut r = Reader::new(&resp, "response");
        assert_eq!(r.u32().unwrap(), n.capabilities);
        assert_eq!(r.u32().unwrap(), 1 << 30);
        assert_eq!(r.u8().unwrap(), UTF8MB4_GENERAL_CI);
        r.take(19).unwrap();
        assert_eq!(r.u32().unwrap(), n.mariadb_capabilities);
        assert_eq!(r.nul_terminated().unwrap(), b"gd");
        let scramble = r.lenenc_bytes().unwrap();
        // Independent check: SHA1(pw) XOR SHA1(nonce + SHA1(SHA1(pw))) from mysql_common.
        assert_eq!(
            scramble,
            scramble_native(b"abcdefghijklmnopqrst", b"secret").unwrap()
        );
        assert_eq!(r.nul_terminated().unwrap(), b"db");
        assert_eq!(r.nul_terminated().unwrap(), b"mysql_native_password");
        r.finish().unwrap();
        // The password never appears in the response.
        assert!(!resp.windows(6).any(|w| w == b"secret"));
    }

    #[test]
    fn auth_switch_to_unix_socket_then_ok() {
        let g = Greeting::parse(&mariadb_greeting("mysql_native_password")).unwrap();
        let n = Negotiated::new(&g, false, false).unwrap();
        let creds = Credentials {
            user: "root",
            password: b"",
            database: None,
            secure_transport: true,
        };
        let (mut login, _) = Login::start(&g, &n, &creds);
        let step = login.on_packet(b"\xfeunix_socket\0").unwrap();
        assert_eq!(step, AuthStep::Send(Vec::new()));
        let ok = [0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00];
        assert!(matches!(login.on_packet(&ok).unwrap(), AuthStep::Done(_)));
    }

    #[test]
    fn auth_switch_to_native_uses_the_new_nonce() {
        let g = Greeting::parse(&mariadb_greeting("unix_socket")).unwrap();
        let n = Negotiated::new(&g, false, false).unwrap();
        let creds = Credentials {
            user: "u",
            password: b"pw",
            database: None,
            secure_transport: false,
        };
        let (mut login, _) = Login::start(&g, &n, &creds);
        let step = login
            .on_packet(b"\xfemysql_native_password\0ABCDEFGHIJKLMNOPQRST\0")
            .unwrap();
        let want = scramble_native(b"ABCDEFGHIJKLMNOPQRST", b"pw")
            .unwrap()
            .to_vec();
        assert_eq!(step, AuthStep::Send(want));
        // A second switch is a protocol violation.
        assert!(login.on_packet(b"\xfemysql_native_password\0x\0").is_err());
    }

    #[test]
    fn unsupported_plugins_are_named() {
        let g = Greeting::parse(&mariadb_greeting("mysql_native_password")).unwrap();
        let n = Negotiated::new(&g, false, false).unwrap();
        let creds = Credentials {
            user: "u",
            password: b"pw",
            database: None,
            secure_transport: false,
        };
        let (mut login, _) = Login::start(&g, &n, &creds);
        let err = login.on_packet(b"\xfeclient_ed25519\0nonce").unwrap_err();
        assert!(err.to_string().contains("client_ed25519"), "{err}");
        let (mut login, _) = Login::start(&g, &n, &creds);
        assert!(
            login
                .on_packet(&[0xFE])
                .unwrap_err()
                .to_string()
                .contains("mysql_old_password")
        );
    }

    #[test]
    fn caching_sha2_fast_and_full_paths() {
        let g = Greeting::parse(&mariadb_greeting("caching_sha2_password")).unwrap();
        let n = Negotiated::new(&g, false, false).unwrap();
        let creds = Credentials {
            user: "u",
            password: b"pw",
            database: None,
            secure_transport: false,
        };
        let (mut login, resp) = Login::start(&g, &n, &creds);
        let want = scramble_sha256(b"abcdefghijklmnopqrst", b"pw").unwrap();
        assert!(resp.windows(32).any(|w| w == want));
        assert_eq!(login.on_packet(&[0x01, 0x03]).unwrap(), AuthStep::Wait);
        // Full auth over plain TCP is refused rather than leaking the password.
        assert!(login.on_packet(&[0x01, 0x04]).is_err());
        let secure = Credentials {
            secure_transport: true,
            ..creds
        };
        let (mut login, _) = Login::start(&g, &n, &secure);
        assert_eq!(
            login.on_packet(&[0x01, 0x04]).unwrap(),
            AuthStep::Send(b"pw\0".to_vec())
        );
    }
}
