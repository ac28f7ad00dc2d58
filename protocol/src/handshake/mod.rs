//! Connection phase: the server greeting, capability negotiation, the
//! handshake response and the authentication exchange.
//!
//! Nothing here performs I/O: [`Login::start`] turns a greeting into the
//! response to send, and [`Login::on_packet`] turns each server packet into
//! the next packet to send or the end of authentication. A TLS upgrade fits
//! between the two: send [`Negotiated::ssl_request`], run TLS, then send the
//! response from `start`.
//!
//! The parts: `greeting` (the server greeting and the capabilities both
//! sides agree on), `login` (the handshake response and the state machine
//! that answers the server during authentication) and `auth` (the
//! authentication plugins, including caching_sha2_password's RSA path and the
//! check of the server's RSA key).

mod auth;
mod greeting;
mod login;

pub use auth::check_server_public_key;
pub use greeting::{Greeting, Negotiated, UTF8MB4_GENERAL_CI};
pub use login::{AuthStep, Credentials, Login};

/// Builders shared by the handshake tests and the hostile-input tests.
#[cfg(test)]
pub(crate) mod tests {
    use super::Credentials;
    use mysql_common::constants::{CapabilityFlags as Cap, MariadbCapabilities as MariaCap};

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
}
