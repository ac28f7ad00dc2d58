//! The TLS record layer once the handshake is over: rustls negotiates the
//! keys and hands them over (`UnbufferedClientConnection` →
//! `dangerous_into_kernel_connection`), this layer opens received records in
//! place in our receive buffer and seals what we send.
//!
//! Why not rustls' own record layer: rustls 0.23 copies every received
//! record into a freshly allocated `Vec` (`take_received_plaintext`), on its
//! unbuffered path too, and that copy then had to be copied once more into
//! our buffer. Here the socket is read straight into the receive buffer,
//! each record is decrypted where it lies by the negotiated suite's own
//! rustls `MessageDecrypter` (so nonces, additional data and TLS 1.3 padding
//! stay rustls' business), and its plaintext is moved down once to join the
//! plaintext before it, so the packet framer sees contiguous bytes.
//!
//! What rustls no longer does for us after the switch, and this module does:
//! record framing and sequence numbers, alerts (close_notify ends the
//! stream, warnings are ignored as rustls ignores them, anything else is
//! fatal), TLS 1.3 NewSessionTicket (handed back to rustls) and KeyUpdate
//! (new keys from rustls; an update the server requests is answered before
//! our next record), TLS 1.2 renegotiation requests (ignored), and the limit
//! on records sealed with one key.

use rustls::client::ClientConnectionData;
use rustls::crypto::cipher::{
    InboundOpaqueMessage, MessageDecrypter, MessageEncrypter, OutboundPlainMessage,
};
use rustls::kernel::KernelConnection;
use rustls::{
    AlertDescription, ConnectionTrafficSecrets, ContentType, ExtractedSecrets, HandshakeType,
    ProtocolVersion, SupportedCipherSuite,
};
use std::fmt;
use std::io;

/// Record header: content type, version, length.
const HEADER_LEN: usize = 5;
/// The largest record payload accepted, as rustls does: 2^14 bytes plus
/// 2048 for a cipher's overhead (RFC 5246 6.2.3).
const MAX_PAYLOAD: usize = 16_384 + 2048;
/// The most bytes one record can take on the wire.
pub const MAX_RECORD: usize = HEADER_LEN + MAX_PAYLOAD;
/// Plaintext per record sent (RFC 8446 5.1).
const MAX_FRAGMENT: usize = 16_384;
/// A post-handshake message split over records is collected up to this
/// size; rustls refuses larger handshake messages as well.
const MAX_HANDSHAKE_MESSAGE: usize = 0xffff + 4;

/// What one call to [`RecordLayer::open`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    /// No complete record yet.
    Partial,
    /// Application data: the plaintext is `buf[from..from + len]`, within
    /// the record, and the record took `buf[..consumed]`.
    Data {
        /// Where the plaintext starts.
        from: usize,
        /// Plaintext bytes.
        len: usize,
        /// Wire bytes of the record.
        consumed: usize,
    },
    /// A record for TLS itself (alert, ticket, key update) was handled.
    Control {
        /// Wire bytes of the record.
        consumed: usize,
    },
}

/// Why the TLS stream cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The bytes are not a valid record, or not one allowed here.
    #[error("malformed TLS record from the server: {0}")]
    Malformed(&'static str),
    /// The server ended the session with an alert.
    #[error("the server sent the TLS alert {0:?}")]
    Alert(AlertDescription),
    /// rustls refused: a record failed authentication, a ticket or key
    /// update was invalid.
    #[error("TLS error: {0}")]
    Tls(#[from] rustls::Error),
}

impl From<RecordError> for io::Error {
    fn from(e: RecordError) -> Self {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }
}

/// Keys, sequence numbers and the little protocol state TLS keeps after the
/// handshake, for one client connection.
pub struct RecordLayer {
    suite: SupportedCipherSuite,
    tls13: bool,
    decrypter: Box<dyn MessageDecrypter>,
    rx_seq: u64,
    encrypter: Box<dyn MessageEncrypter>,
    tx_seq: u64,
    /// Records sealed with one key at most (the suite's confidentiality limit).
    tx_limit: u64,
    kernel: KernelConnection<ClientConnectionData>,
    peer_closed: bool,
    /// The server asked for a KeyUpdate: ours goes before our next record.
    key_update_due: bool,
    /// A post-handshake message that continues in the next record.
    handshake: Vec<u8>,
}

impl fmt::Debug for RecordLayer {
    // Never print keys.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordLayer")
            .field("suite", &self.suite.suite())
            .field("rx_seq", &self.rx_seq)
            .field("tx_seq", &self.tx_seq)
            .field("peer_closed", &self.peer_closed)
            .finish_non_exhaustive()
    }
}

impl RecordLayer {
    /// Takes over from rustls after the handshake.
    pub fn new(
        secrets: ExtractedSecrets,
        kernel: KernelConnection<ClientConnectionData>,
    ) -> Result<Self, RecordError> {
        let suite = kernel.negotiated_cipher_suite();
        let (tls13, tx_limit) = match suite {
            SupportedCipherSuite::Tls13(s) => (true, s.common.confidentiality_limit),
            SupportedCipherSuite::Tls12(s) => (false, s.common.confidentiality_limit),
        };
        let (rx_seq, rx) = secrets.rx;
        let (tx_seq, tx) = secrets.tx;
        Ok(Self {
            suite,
            tls13,
            decrypter: decrypter(suite, rx)?,
            rx_seq,
            encrypter: encrypter(suite, tx)?,
            tx_seq,
            tx_limit,
            kernel,
            peer_closed: false,
            key_update_due: false,
            handshake: Vec::new(),
        })
    }

    /// The negotiated protocol version.
    pub fn protocol_version(&self) -> ProtocolVersion {
        self.kernel.protocol_version()
    }

    /// The negotiated cipher suite.
    pub fn cipher_suite(&self) -> rustls::CipherSuite {
        self.suite.suite()
    }

    /// Whether the server sent close_notify: nothing after it counts.
    pub fn peer_closed(&self) -> bool {
        self.peer_closed
    }

    /// Records sealed under the current key.
    #[cfg(test)]
    pub fn tx_seq(&self) -> u64 {
        self.tx_seq
    }

    /// Opens the record at the start of `buf`, if it is complete.
    /// Application data is decrypted where it lies, for the caller to
    /// place; any other record is handled here.
    pub fn open(&mut self, buf: &mut [u8]) -> Result<Opened, RecordError> {
        let Some(&[typ, v0, v1, l0, l1]) = buf.get(..HEADER_LEN) else {
            return Ok(Opened::Partial);
        };
        let typ = ContentType::from(typ);
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        // The checks of rustls' own deframer, plus the record types that
        // can follow a finished handshake.
        if v0 != 3 {
            return Err(RecordError::Malformed("unknown protocol version"));
        }
        if len >= MAX_PAYLOAD {
            return Err(RecordError::Malformed("record too large"));
        }
        let allowed = match typ {
            ContentType::ApplicationData => true,
            ContentType::Alert | ContentType::Handshake => !self.tls13,
            _ => false,
        };
        if !allowed {
            return Err(RecordError::Malformed("unexpected record type"));
        }
        if typ != ContentType::ApplicationData && len == 0 {
            return Err(RecordError::Malformed("empty record"));
        }
        let end = HEADER_LEN + len;
        if buf.len() < end {
            return Ok(Opened::Partial);
        }
        let consumed = end;

        let base = buf.as_ptr().addr();
        let version = ProtocolVersion::from(u16::from_be_bytes([v0, v1]));
        let payload = &mut buf[HEADER_LEN..end];
        let message = self.decrypter.decrypt(
            InboundOpaqueMessage::new(typ, version, payload),
            self.rx_seq,
        )?;
        self.rx_seq = self
            .rx_seq
            .checked_add(1)
            .ok_or(RecordError::Malformed("sequence number exhausted"))?;
        let plain = message.payload;
        match message.typ {
            ContentType::ApplicationData => {
                if !self.handshake.is_empty() {
                    return Err(RecordError::Malformed(
                        "application data inside a split handshake message",
                    ));
                }
                // The decrypter leaves the plaintext somewhere inside the
                // record; where exactly is its business.
                let from = plain.as_ptr().addr().wrapping_sub(base);
                let len = plain.len();
                if from < HEADER_LEN || from + len > end {
                    return Err(RecordError::Malformed("plaintext outside its record"));
                }
                Ok(Opened::Data {
                    from,
                    len,
                    consumed,
                })
            }
            ContentType::Alert => {
                self.alert(plain)?;
                Ok(Opened::Control { consumed })
            }
            ContentType::Handshake => {
                self.handshake_message(plain)?;
                Ok(Opened::Control { consumed })
            }
            _ => Err(RecordError::Malformed("unexpected inner record type")),
        }
    }

    fn alert(&mut self, payload: &[u8]) -> Result<(), RecordError> {
        let &[level, description] = payload else {
            return Err(RecordError::Malformed("alert of the wrong length"));
        };
        let description = AlertDescription::from(description);
        const WARNING: u8 = 1;
        const FATAL: u8 = 2;
        if !self.handshake.is_empty() {
            return Err(RecordError::Malformed(
                "alert inside a split handshake message",
            ));
        }
        match level {
            WARNING | FATAL => {}
            _ => return Err(RecordError::Malformed("unknown alert level")),
        }
        if description == AlertDescription::CloseNotify {
            self.peer_closed = true;
            return Ok(());
        }
        // As rustls: TLS 1.2 warnings are harmless; TLS 1.3 has none but
        // user_canceled, which some peers send needlessly.
        if level == WARNING && (!self.tls13 || description == AlertDescription::UserCanceled) {
            tracing::debug!(?description, "TLS warning alert ignored");
            return Ok(());
        }
        Err(RecordError::Alert(description))
    }

    fn handshake_message(&mut self, payload: &[u8]) -> Result<(), RecordError> {
        if self.handshake.len() + payload.len() > MAX_HANDSHAKE_MESSAGE {
            return Err(RecordError::Malformed("handshake message too large"));
        }
        self.handshake.extend_from_slice(payload);
        let mut pos = 0;
        while let Some(&[typ, a, b, c]) = self.handshake.get(pos..pos + 4) {
            let len = u32::from_be_bytes([0, a, b, c]) as usize;
            let Some(body) = self.handshake.get(pos + 4..pos + 4 + len) else {
                break;
            };
            let after = pos + 4 + len;
            match (self.tls13, HandshakeType::from(typ)) {
                (true, HandshakeType::NewSessionTicket) => {
                    self.kernel.handle_new_session_ticket(body)?;
                    tracing::trace!("TLS session ticket received");
                }
                (true, HandshakeType::KeyUpdate) => {
                    // RFC 8446 5.1: a key change must fall on a record boundary.
                    if after != self.handshake.len() {
                        return Err(RecordError::Malformed(
                            "KeyUpdate not at the end of its record",
                        ));
                    }
                    match body {
                        [0] => {}
                        [1] => self.key_update_due = true,
                        _ => return Err(RecordError::Malformed("invalid KeyUpdate")),
                    }
                    let (seq, secrets) = self.kernel.update_rx_secret()?;
                    self.decrypter = decrypter(self.suite, secrets)?;
                    self.rx_seq = seq;
                    tracing::trace!("TLS receive keys updated");
                }
                // rustls refuses renegotiation by ignoring the request, and so do we.
                (false, HandshakeType::HelloRequest) if len == 0 => {
                    tracing::debug!("TLS renegotiation request ignored");
                }
                _ => {
                    return Err(RecordError::Malformed(
                        "unexpected handshake message after the handshake",
                    ));
                }
            }
            pos = after;
        }
        self.handshake.drain(..pos);
        Ok(())
    }

    /// Appends `payload` to `out` as application-data records, preceded by
    /// the KeyUpdate the server asked for, if any.
    pub fn seal(&mut self, payload: &[u8], out: &mut Vec<u8>) -> Result<(), RecordError> {
        if self.key_update_due {
            const UPDATE_NOT_REQUESTED: u8 = 0;
            let message = [
                u8::from(HandshakeType::KeyUpdate),
                0,
                0,
                1,
                UPDATE_NOT_REQUESTED,
            ];
            self.seal_record(ContentType::Handshake, &message, out)?;
            let (seq, secrets) = self.kernel.update_tx_secret()?;
            self.encrypter = encrypter(self.suite, secrets)?;
            self.tx_seq = seq;
            self.key_update_due = false;
        }
        for fragment in payload.chunks(MAX_FRAGMENT) {
            self.seal_record(ContentType::ApplicationData, fragment, out)?;
        }
        Ok(())
    }

    /// Appends a close_notify alert to `out`.
    pub fn seal_close_notify(&mut self, out: &mut Vec<u8>) -> Result<(), RecordError> {
        const WARNING: u8 = 1;
        let alert = [WARNING, u8::from(AlertDescription::CloseNotify)];
        self.seal_record(ContentType::Alert, &alert, out)
    }

    fn seal_record(
        &mut self,
        typ: ContentType,
        data: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), RecordError> {
        // A nonce must never repeat under one key; we send a handful of
        // records per session, so this is a guard, not a plan.
        if self.tx_seq >= self.tx_limit {
            return Err(RecordError::Malformed("too many records sent with one key"));
        }
        let message = OutboundPlainMessage {
            typ,
            // TLS 1.3 records carry 1.2 as their legacy version.
            version: ProtocolVersion::TLSv1_2,
            payload: data.into(),
        };
        let sealed = self.encrypter.encrypt(message, self.tx_seq)?;
        self.tx_seq += 1;
        out.extend_from_slice(&sealed.encode());
        Ok(())
    }
}

fn key_and_iv(
    secrets: ConnectionTrafficSecrets,
) -> Result<(rustls::crypto::cipher::AeadKey, rustls::crypto::cipher::Iv), RecordError> {
    match secrets {
        ConnectionTrafficSecrets::Aes128Gcm { key, iv }
        | ConnectionTrafficSecrets::Aes256Gcm { key, iv }
        | ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv } => Ok((key, iv)),
        _ => Err(RecordError::Malformed("unsupported cipher")),
    }
}

fn decrypter(
    suite: SupportedCipherSuite,
    secrets: ConnectionTrafficSecrets,
) -> Result<Box<dyn MessageDecrypter>, RecordError> {
    let (key, iv) = key_and_iv(secrets)?;
    Ok(match suite {
        SupportedCipherSuite::Tls13(s) => s.aead_alg.decrypter(key, iv),
        SupportedCipherSuite::Tls12(s) => {
            // rustls hands out salt + explicit nonce as one IV; the
            // decrypter wants the salt only (the nonce comes in each record).
            let fixed = s.aead_alg.key_block_shape().fixed_iv_len;
            let salt = iv
                .as_ref()
                .get(..fixed)
                .ok_or(RecordError::Malformed("IV shorter than the suite's"))?;
            s.aead_alg.decrypter(key, salt)
        }
    })
}

fn encrypter(
    suite: SupportedCipherSuite,
    secrets: ConnectionTrafficSecrets,
) -> Result<Box<dyn MessageEncrypter>, RecordError> {
    let (key, iv) = key_and_iv(secrets)?;
    Ok(match suite {
        SupportedCipherSuite::Tls13(s) => s.aead_alg.encrypter(key, iv),
        SupportedCipherSuite::Tls12(s) => {
            let shape = s.aead_alg.key_block_shape();
            let fixed = shape.fixed_iv_len;
            let iv = iv.as_ref();
            let (salt, explicit) = (
                iv.get(..fixed),
                iv.get(fixed..fixed + shape.explicit_nonce_len),
            );
            let (Some(salt), Some(explicit)) = (salt, explicit) else {
                return Err(RecordError::Malformed("IV shorter than the suite's"));
            };
            s.aead_alg.encrypter(key, salt, explicit)
        }
    })
}
