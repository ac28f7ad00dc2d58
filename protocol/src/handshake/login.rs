//! The login: the handshake response built from the greeting, then the
//! state machine that answers each server packet until OK or ERR (auth
//! switches and caching_sha2_password's extra rounds included).

use super::auth::{Plugin, rsa_encrypt_password, with_nul};
use super::greeting::{Greeting, Negotiated};
use crate::error::ProtocolError;
use crate::packets::{EOF_HEADER, ERR_HEADER, OK_HEADER, Status, err_packet_error};
use crate::reader::{Reader, put_lenenc_bytes};
use mysql_common::constants::CapabilityFlags as Cap;

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
mod tests {
    use super::*;
    use crate::handshake::UTF8MB4_GENERAL_CI;
    use crate::handshake::tests::{creds, mariadb_greeting};
    use mysql_common::auth::plugins::caching_sha2_password::scramble_sha256;
    use mysql_common::auth::plugins::mysql_native_password::scramble_native;

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
}
