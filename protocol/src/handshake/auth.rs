//! Authentication plugins: mysql_native_password, caching_sha2_password
//! (including its RSA path and the check of the server's RSA key),
//! client_ed25519, unix_socket and mysql_clear_password. Each turns a nonce
//! and the password into the bytes to send; the [`Login`](super::Login)
//! state machine decides when.

use crate::error::ProtocolError;
use mysql_common::auth::plugins::caching_sha2_password::scramble_sha256;
use mysql_common::auth::plugins::mysql_native_password::scramble_native;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Plugin {
    Native,
    CachingSha2,
    UnixSocket,
    Ed25519,
    Clear,
}

impl Plugin {
    pub(super) fn from_name(name: &str) -> Result<Self, ProtocolError> {
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

    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Native => "mysql_native_password",
            Self::CachingSha2 => "caching_sha2_password",
            Self::UnixSocket => "unix_socket",
            Self::Ed25519 => "client_ed25519",
            Self::Clear => "mysql_clear_password",
        }
    }

    /// The first answer to `nonce` for this plugin.
    pub(super) fn respond(
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

pub(super) fn with_nul(password: &[u8]) -> Vec<u8> {
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
pub(super) fn rsa_encrypt_password(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::tests::{creds, mariadb_greeting};
    use crate::handshake::{AuthStep, Credentials, Greeting, Login, Negotiated};

    fn sha2_login(creds: &Credentials<'_>) -> Login {
        let g = Greeting::parse(&mariadb_greeting("caching_sha2_password")).unwrap();
        let n = Negotiated::new(&g, false, false).unwrap();
        Login::start(&g, &n, creds).0
    }

    const RSA_PUBLIC: &str = include_str!("../../tests/data/rsa_public.pem");
    const RSA_PRIVATE: &str = include_str!("../../tests/data/rsa_private_components.txt");

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
}
