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
    /// caching_sha2_password over plain TCP: the server's RSA public key (PEM),
    /// when the user supplied it.
    pub server_public_key: Option<&'a [u8]>,
    /// caching_sha2_password over plain TCP: may we ask the server for its
    /// RSA key? A man in the middle could answer with its own key, so this is
    /// an explicit opt-in (MySQL's `--get-server-public-key`).
    pub get_server_public_key: bool,
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
    Ed25519,
    Clear,
}

/// Where a caching_sha2_password exchange stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sha2State {
    /// Scramble sent; 0x03 (cached) or 0x04 (full authentication) comes next.
    Scrambled,
    /// We sent 0x02; the server's PEM public key comes next.
    AwaitingKey,
    /// The password went out (clear or encrypted); OK or ERR comes next.
    Sent,
}

/// The request for the server's RSA public key (caching_sha2_password).
const REQUEST_PUBLIC_KEY: u8 = 0x02;

impl Plugin {
    fn from_name(name: &str) -> Result<Self, ProtocolError> {
        match name {
            "mysql_native_password" => Ok(Self::Native),
            "caching_sha2_password" => Ok(Self::CachingSha2),
            "unix_socket" | "auth_socket" => Ok(Self::UnixSocket),
            "client_ed25519" => Ok(Self::Ed25519),
            "mysql_clear_password" => Ok(Self::Clear),
            other => Err(ProtocolError::UnsupportedAuthPlugin {
                plugin: other.to_string(),
                hint: match other {
                    "sha256_password" | "parsec" | "dialog" => {
                        "; use an account with mysql_native_password, caching_sha2_password or ed25519"
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
            Self::Ed25519 => "client_ed25519",
            Self::Clear => "mysql_clear_password",
        }
    }

    /// The first answer to `nonce` for this plugin.
    fn respond(
        self,
        nonce: &[u8],
        password: &[u8],
        secure_transport: bool,
    ) -> Result<Vec<u8>, ProtocolError> {
        Ok(match self {
            Self::Native => scramble_native(nonce, password).map_or_else(Vec::new, |s| s.to_vec()),
            Self::CachingSha2 => match nonce.first_chunk::<20>() {
                Some(n) => scramble_sha256(n, password).map_or_else(Vec::new, |s| s.to_vec()),
                None => Vec::new(),
            },
            // The server identifies us by the socket peer's credentials.
            Self::UnixSocket => Vec::new(),
            Self::Ed25519 => ed25519_sign(nonce, password)?,
            // The password itself: only a transport that hides it may carry it.
            Self::Clear if secure_transport => with_nul(password),
            Self::Clear => {
                return Err(ProtocolError::InsecureAuth {
                    plugin: "mysql_clear_password",
                    reason: "it would send the password unencrypted over TCP; \
                             connect with TLS (--ssl-mode=REQUIRED or stricter) or through the Unix socket",
                });
            }
        })
    }
}

fn with_nul(password: &[u8]) -> Vec<u8> {
    let mut pw = Vec::with_capacity(password.len() + 1);
    pw.extend_from_slice(password);
    pw.push(0);
    pw
}

/// mysql_common's auth plugins read the password through this.
struct PasswordOnly<'a>(&'a [u8]);

impl mysql_common::auth::plugins::Context for PasswordOnly<'_> {
    fn pass(&self) -> &[u8] {
        self.0
    }
    fn is_ipc_transport(&self) -> bool {
        false
    }
    fn is_tls_transport(&self) -> bool {
        false
    }
    fn scramble(&self) -> &[u8] {
        &[]
    }
    fn server_key_pem(&self) -> Option<&[u8]> {
        None
    }
}

/// MariaDB client_ed25519: an Ed25519 signature of the 32-byte nonce with
/// SHA-512(password) as the expanded secret key (mysql_common's implementation).
fn ed25519_sign(nonce: &[u8], password: &[u8]) -> Result<Vec<u8>, ProtocolError> {
    use mysql_common::auth::plugins::{ChallengeResponsePlugin, client_ed25519::ClientEd25519};
    ClientEd25519::default()
        .run(PasswordOnly(password), nonce)
        .ok()
        .and_then(|r| r.data().map(<[u8]>::to_vec))
        .ok_or(ProtocolError::UnexpectedPacket {
            state: "authenticating with client_ed25519 (the nonce is not 32 bytes)",
            first_byte: nonce.first().copied().unwrap_or(0),
        })
}

/// caching_sha2_password's RSA path: OAEP(password + NUL XOR the nonce,
/// repeated) with the server's public key, as MySQL 8.0.5+ expects.
fn rsa_encrypt_password(
    password: &[u8],
    nonce: &[u8],
    pem: &[u8],
) -> Result<Vec<u8>, ProtocolError> {
    if nonce.is_empty() {
        return Err(ProtocolError::BadServerKey(
            "no nonce to mix the password with".into(),
        ));
    }
    let mixed: Vec<u8> = with_nul(password)
        .iter()
        .zip(nonce.iter().cycle())
        .map(|(p, n)| p ^ n)
        .collect();
    // mysql_common's DER parser and OAEP padding index without bounds checks
    // (and panic = "abort" in release): check the key's structure first, so a
    // hostile server's key is an error, not a crash.
    validate_rsa_public_key(pem)?;
    mysql_common::crypto::encrypt(&mixed, pem)
        .map_err(|e| ProtocolError::BadServerKey(e.to_string()))
}

/// Smallest modulus accepted: below 1024 bits RSA is broken, and OAEP-SHA1
/// needs at least 42 bytes of room anyway.
const MIN_RSA_BYTES: usize = 128;

/// One DER element: (tag, contents, rest). Definite lengths only, bounds-checked.
fn der_element(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first & 0x80 == 0 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7F);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| acc << 8 | usize::from(b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// Checks the PEM and DER layout mysql_common will parse (PKCS#1
/// `RSA PUBLIC KEY` or SPKI `PUBLIC KEY`), and the modulus size.
fn validate_rsa_public_key(pem: &[u8]) -> Result<(), ProtocolError> {
    let bad = |why: &str| ProtocolError::BadServerKey(why.to_string());
    let (der, kind) = mysql_common::crypto::der::pem_to_der(pem)
        .map_err(|_| bad("not a PEM RSA public key (BEGIN PUBLIC KEY or BEGIN RSA PUBLIC KEY)"))?;
    let pkcs1 = match kind {
        mysql_common::crypto::der::PubKeyFileType::Pkcs1 => der.as_slice(),
        mysql_common::crypto::der::PubKeyFileType::Pkcs8 => {
            let (0x30, spki, _) = der_element(&der).ok_or_else(|| bad("bad DER"))? else {
                return Err(bad("bad DER: no SEQUENCE"));
            };
            let (0x30, _alg, rest) = der_element(spki).ok_or_else(|| bad("bad DER"))? else {
                return Err(bad("bad DER: no algorithm"));
            };
            let (0x03, bits, _) = der_element(rest).ok_or_else(|| bad("bad DER"))? else {
                return Err(bad("bad DER: no BIT STRING"));
            };
            match bits.split_first() {
                Some((0, key)) => key,
                _ => return Err(bad("bad DER: BIT STRING with unused bits")),
            }
        }
    };
    let (0x30, fields, _) = der_element(pkcs1).ok_or_else(|| bad("bad DER"))? else {
        return Err(bad("bad DER: no key SEQUENCE"));
    };
    let (0x02, modulus, rest) = der_element(fields).ok_or_else(|| bad("bad DER"))? else {
        return Err(bad("bad DER: no modulus"));
    };
    let (0x02, exponent, _) = der_element(rest).ok_or_else(|| bad("bad DER"))? else {
        return Err(bad("bad DER: no exponent"));
    };
    let significant = |n: &[u8]| n.iter().skip_while(|&&b| b == 0).count();
    if significant(modulus) < MIN_RSA_BYTES {
        return Err(bad("the modulus is shorter than 1024 bits"));
    }
    if significant(exponent) == 0 {
        return Err(bad("the exponent is zero"));
    }
    Ok(())
}

/// Checks that `pem` is an RSA public key mysql_common can use (for
/// `--server-public-key`, before connecting). Never echoes the key.
pub fn check_server_public_key(pem: &[u8]) -> Result<(), ProtocolError> {
    rsa_encrypt_password(b"x", b"check", pem).map(|_| ())
}

/// The authentication exchange of one connection.
#[derive(Debug)]
pub struct Login {
    plugin: Plugin,
    password: Vec<u8>,
    nonce: Vec<u8>,
    secure_transport: bool,
    server_public_key: Option<Vec<u8>>,
    get_server_public_key: bool,
    sha2: Sha2State,
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
        // Answer with the server's default plugin when the greeting's nonce is
        // enough for it; otherwise offer a native scramble and let the server
        // switch (ed25519 needs a 32-byte nonce; clear text waits for a switch).
        let plugin = match Plugin::from_name(&greeting.auth_plugin) {
            Ok(p @ (Plugin::Native | Plugin::CachingSha2 | Plugin::UnixSocket)) => p,
            _ => Plugin::Native,
        };
        let mut out = Vec::with_capacity(128);
        negotiated.ssl_request(&mut out);
        out.extend_from_slice(creds.user.as_bytes());
        out.push(0);
        // These three plugins cannot fail on the greeting's nonce.
        let auth = plugin
            .respond(&greeting.nonce, creds.password, creds.secure_transport)
            .unwrap_or_default();
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
            nonce: greeting.nonce.clone(),
            secure_transport: creds.secure_transport,
            server_public_key: creds.server_public_key.map(<[u8]>::to_vec),
            get_server_public_key: creds.get_server_public_key,
            sha2: Sha2State::Scrambled,
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
            return Err(ProtocolError::UnsupportedAuthPlugin {
                plugin: "mysql_old_password".into(),
                hint: "; the account's password hash predates MySQL 4.1, set a new password",
            });
        }
        let name = String::from_utf8_lossy(r.nul_terminated_or_rest()).into_owned();
        let data = r.rest();
        self.plugin = Plugin::from_name(&name)?;
        // Scrambles carry a trailing NUL that is not part of the nonce; the
        // ed25519 nonce is 32 raw bytes and may end in 0 itself.
        let nonce = match self.plugin {
            Plugin::Ed25519 => data,
            _ => data.strip_suffix(&[0]).unwrap_or(data),
        };
        self.nonce = nonce.to_vec();
        self.sha2 = Sha2State::Scrambled;
        let response = self
            .plugin
            .respond(nonce, &self.password, self.secure_transport)?;
        Ok(AuthStep::Send(response))
    }

    fn more_data(&mut self, data: &[u8]) -> Result<AuthStep, ProtocolError> {
        match (self.plugin, self.sha2, data) {
            // caching_sha2_password: the server had our hash cached; an OK follows.
            (Plugin::CachingSha2, Sha2State::Scrambled, [0x03]) => Ok(AuthStep::Wait),
            // Full authentication over TLS or a socket: the password itself.
            (Plugin::CachingSha2, Sha2State::Scrambled, [0x04]) if self.secure_transport => {
                self.sha2 = Sha2State::Sent;
                Ok(AuthStep::Send(with_nul(&self.password)))
            }
            // Full authentication over plain TCP: encrypt for the server's key.
            (Plugin::CachingSha2, Sha2State::Scrambled, [0x04]) => {
                if let Some(pem) = &self.server_public_key {
                    self.sha2 = Sha2State::Sent;
                    return rsa_encrypt_password(&self.password, &self.nonce, pem)
                        .map(AuthStep::Send);
                }
                if self.get_server_public_key {
                    self.sha2 = Sha2State::AwaitingKey;
                    return Ok(AuthStep::Send(vec![REQUEST_PUBLIC_KEY]));
                }
                Err(ProtocolError::InsecureAuth {
                    plugin: "caching_sha2_password full authentication",
                    reason: "the server needs the password and the connection is neither TLS nor a \
                             Unix socket; use TLS (--ssl-mode), pass the server's RSA key with \
                             --server-public-key FILE, or allow fetching it with --get-server-public-key",
                })
            }
            (Plugin::CachingSha2, Sha2State::AwaitingKey, pem) => {
                self.sha2 = Sha2State::Sent;
                rsa_encrypt_password(&self.password, &self.nonce, pem).map(AuthStep::Send)
            }
            _ => Err(ProtocolError::unexpected(
                "authenticating (unexpected auth data)",
                data,
            )),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::error::ServerError;

    /// Credentials without a database or server key, for the login tests.
    pub(crate) fn creds<'a>(
        user: &'a str,
        password: &'a [u8],
        secure_transport: bool,
    ) -> Credentials<'a> {
        Credentials {
            user,
            password,
            database: None,
            secure_transport,
            server_public_key: None,
            get_server_public_key: false,
        }
    }

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
            server_public_key: None,
            get_server_public_key: false,
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
        let creds = creds("root", b"", true);
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
        let creds = creds("u", b"pw", false);
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
        let creds = creds("u", b"pw", false);
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
        let creds = creds("u", b"pw", false);
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

    fn sha2_login(creds: &Credentials<'_>) -> Login {
        let g = Greeting::parse(&mariadb_greeting("caching_sha2_password")).unwrap();
        let n = Negotiated::new(&g, false, false).unwrap();
        Login::start(&g, &n, creds).0
    }

    const RSA_PUBLIC: &str = include_str!("../tests/data/rsa_public.pem");
    const RSA_PRIVATE: &str = include_str!("../tests/data/rsa_private_components.txt");

    /// RSA-OAEP (SHA-1, empty label) decryption written from RFC 8017 §7.1.2,
    /// with the committed test key: an oracle independent of mysql_common.
    fn oaep_decrypt(cipher: &[u8]) -> Vec<u8> {
        use num_bigint::BigUint;
        use sha1::{Digest, Sha1};
        let field = |name: &str| {
            let hex = RSA_PRIVATE
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .unwrap();
            BigUint::parse_bytes(hex.trim().as_bytes(), 16).unwrap()
        };
        let (n, d) = (field("n="), field("d="));
        let k = n.to_bytes_be().len();
        assert_eq!(cipher.len(), k, "ciphertext must be as long as the modulus");
        let m = BigUint::from_bytes_be(cipher).modpow(&d, &n).to_bytes_be();
        let mut em = vec![0; k - m.len()];
        em.extend_from_slice(&m);
        let mgf1 = |seed: &[u8], len: usize| {
            let mut out = Vec::new();
            for counter in 0u32.. {
                if out.len() >= len {
                    break;
                }
                out.extend_from_slice(
                    &Sha1::new()
                        .chain_update(seed)
                        .chain_update(counter.to_be_bytes())
                        .finalize(),
                );
            }
            out.truncate(len);
            out
        };
        assert_eq!(em[0], 0);
        let (masked_seed, masked_db) = em[1..].split_at(20);
        let seed: Vec<u8> = masked_seed
            .iter()
            .zip(mgf1(masked_db, 20))
            .map(|(a, b)| a ^ b)
            .collect();
        let db: Vec<u8> = masked_db
            .iter()
            .zip(mgf1(&seed, masked_db.len()))
            .map(|(a, b)| a ^ b)
            .collect();
        assert_eq!(&db[..20], Sha1::digest([]).as_slice(), "label hash");
        let rest = &db[20..];
        let one = rest.iter().position(|&b| b != 0).unwrap();
        assert_eq!(rest[one], 0x01);
        rest[one + 1..].to_vec()
    }

    fn unmix(plain: &[u8], nonce: &[u8]) -> Vec<u8> {
        plain
            .iter()
            .zip(nonce.iter().cycle())
            .map(|(a, b)| a ^ b)
            .collect()
    }

    #[test]
    fn caching_sha2_rsa_with_a_given_key() {
        let creds = Credentials {
            server_public_key: Some(RSA_PUBLIC.as_bytes()),
            ..creds("u", b"pw", false)
        };
        let mut login = sha2_login(&creds);
        let AuthStep::Send(cipher) = login.on_packet(&[0x01, 0x04]).unwrap() else {
            panic!("expected the encrypted password");
        };
        let plain = oaep_decrypt(&cipher);
        assert_eq!(unmix(&plain, b"abcdefghijklmnopqrst"), b"pw\0");
        // OK from the server ends it.
        let ok = [0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00];
        assert!(matches!(login.on_packet(&ok).unwrap(), AuthStep::Done(_)));
    }

    #[test]
    fn caching_sha2_rsa_asking_the_server() {
        let creds = Credentials {
            get_server_public_key: true,
            ..creds("u", b"pw", false)
        };
        let mut login = sha2_login(&creds);
        // Full authentication requested: we ask for the key (0x02)...
        assert_eq!(
            login.on_packet(&[0x01, 0x04]).unwrap(),
            AuthStep::Send(vec![0x02])
        );
        // ...the server answers AuthMoreData(PEM)...
        let mut key_packet = vec![0x01];
        key_packet.extend_from_slice(RSA_PUBLIC.as_bytes());
        let AuthStep::Send(cipher) = login.on_packet(&key_packet).unwrap() else {
            panic!("expected the encrypted password");
        };
        assert_eq!(
            unmix(&oaep_decrypt(&cipher), b"abcdefghijklmnopqrst"),
            b"pw\0"
        );
        // Random padding: two encryptions differ, both decrypt to the same.
        let mut again = sha2_login(&creds);
        again.on_packet(&[0x01, 0x04]).unwrap();
        let AuthStep::Send(cipher2) = again.on_packet(&key_packet).unwrap() else {
            panic!()
        };
        assert_ne!(cipher, cipher2);
        // After an auth switch the nonce of the switch is the one mixed in.
        let mut switched = sha2_login(&creds);
        switched
            .on_packet(b"\xfecaching_sha2_password\0ABCDEFGHIJKLMNOPQRST\0")
            .unwrap();
        switched.on_packet(&[0x01, 0x04]).unwrap();
        let AuthStep::Send(cipher3) = switched.on_packet(&key_packet).unwrap() else {
            panic!()
        };
        assert_eq!(
            unmix(&oaep_decrypt(&cipher3), b"ABCDEFGHIJKLMNOPQRST"),
            b"pw\0"
        );
    }

    #[test]
    fn caching_sha2_without_key_or_tls_refuses_and_names_the_flags() {
        let mut login = sha2_login(&creds("u", b"pw", false));
        let e = login.on_packet(&[0x01, 0x04]).unwrap_err().to_string();
        assert!(
            e.contains("--get-server-public-key") && e.contains("--server-public-key"),
            "{e}"
        );
        assert!(!e.contains("pw"), "{e}");
    }

    #[test]
    fn hostile_server_keys_are_errors_not_panics() {
        let creds = Credentials {
            get_server_public_key: true,
            ..creds("u", b"pw", false)
        };
        let short_body = "-----BEGIN PUBLIC KEY-----\nMAA=\n-----END PUBLIC KEY-----\n";
        let pkcs1_tiny =
            "-----BEGIN RSA PUBLIC KEY-----\nMAYCAQECAQE=\n-----END RSA PUBLIC KEY-----\n";
        let lying_len = "-----BEGIN PUBLIC KEY-----\nMIIBIjAN\n-----END PUBLIC KEY-----\n";
        for key in [
            &b"garbage"[..],
            b"",
            short_body.as_bytes(),
            pkcs1_tiny.as_bytes(),
            lying_len.as_bytes(),
        ] {
            let mut login = sha2_login(&creds);
            login.on_packet(&[0x01, 0x04]).unwrap();
            let mut p = vec![0x01];
            p.extend_from_slice(key);
            assert!(
                matches!(login.on_packet(&p), Err(ProtocolError::BadServerKey(_))),
                "{key:?}"
            );
        }
        assert!(check_server_public_key(RSA_PUBLIC.as_bytes()).is_ok());
    }

    #[test]
    fn ed25519_after_auth_switch_signs_the_32_byte_nonce() {
        use curve25519_dalek::EdwardsPoint;
        use curve25519_dalek::edwards::CompressedEdwardsY;
        use curve25519_dalek::scalar::{Scalar, clamp_integer};
        use sha2::{Digest, Sha512};
        let g = Greeting::parse(&mariadb_greeting("mysql_native_password")).unwrap();
        let n = Negotiated::new(&g, false, false).unwrap();
        let (mut login, _) = Login::start(&g, &n, &creds("u", b"pw", false));
        // The nonce ends with a 0 byte on purpose: it must not be stripped.
        let nonce: Vec<u8> = (1..=31).chain([0]).collect();
        let mut switch = b"\xfeclient_ed25519\0".to_vec();
        switch.extend_from_slice(&nonce);
        let AuthStep::Send(sig) = login.on_packet(&switch).unwrap() else {
            panic!("expected a signature");
        };
        assert_eq!(sig.len(), 64);
        // Verify with the group equation [S]B = R + [k]A, where A is the public
        // key MariaDB stores: [clamp(SHA-512(pw)[..32])]B.
        let h = Sha512::digest(b"pw");
        let a = EdwardsPoint::mul_base(&Scalar::from_bytes_mod_order(clamp_integer(
            h[..32].try_into().unwrap(),
        )));
        let r = CompressedEdwardsY(sig[..32].try_into().unwrap())
            .decompress()
            .unwrap();
        let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(sig[32..].try_into().unwrap()))
            .unwrap();
        let k = Scalar::from_bytes_mod_order_wide(
            &Sha512::new()
                .chain_update(&sig[..32])
                .chain_update(a.compress().as_bytes())
                .chain_update(&nonce)
                .finalize()
                .into(),
        );
        assert_eq!(EdwardsPoint::mul_base(&s), r + k * a);
        // A wrong-length nonce is an error, not a bogus signature.
        let (mut login, _) = Login::start(&g, &n, &creds("u", b"pw", false));
        assert!(login.on_packet(b"\xfeclient_ed25519\0short").is_err());
    }

    #[test]
    fn clear_password_only_over_a_secure_transport() {
        let g = Greeting::parse(&mariadb_greeting("mysql_native_password")).unwrap();
        let n = Negotiated::new(&g, false, false).unwrap();
        let (mut login, _) = Login::start(&g, &n, &creds("u", b"pw", false));
        let e = login
            .on_packet(b"\xfemysql_clear_password\0")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unencrypted") && e.contains("TLS"), "{e}");
        let (mut login, _) = Login::start(&g, &n, &creds("u", b"pw", true));
        assert_eq!(
            login.on_packet(b"\xfemysql_clear_password\0").unwrap(),
            AuthStep::Send(b"pw\0".to_vec())
        );
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
