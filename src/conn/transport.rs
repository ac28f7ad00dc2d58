//! The byte stream under a session: TCP, TLS over TCP, or a Unix socket.
//!
//! TLS is driven by hand rather than through tokio-rustls: rustls'
//! unbuffered API runs the handshake on our own receive buffer, then its
//! kernel-connection API hands the keys to [`RecordLayer`], which decrypts
//! records in place in that buffer (why: see the `record` module).

use super::batch::{Batched, LowWater};
use super::inbuf::InBuf;
use super::record::RecordLayer;
use rustls::ClientConfig;
use rustls::client::{ClientConnectionData, UnbufferedClientConnection};
use rustls::pki_types::ServerName;
use rustls::unbuffered::{
    ConnectionState, EncodeError, EncodeTlsData, InsufficientSizeError, UnbufferedStatus,
};
use std::fmt;
use std::io;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};

/// A connected stream.
#[derive(Debug)]
pub enum Transport {
    /// TCP.
    Tcp(TcpStream),
    /// Unix domain socket.
    Unix(UnixStream),
    /// TLS over TCP (boxed: the TLS state is large and the enum is moved around).
    Tls(Box<TlsTransport>),
}

/// TCP carrying TLS records.
pub struct TlsTransport {
    tcp: TcpStream,
    records: RecordLayer,
    /// Sealed records on their way out, reused.
    out: Vec<u8>,
}

impl fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsTransport")
            .field("tcp", &self.tcp)
            .field("records", &self.records)
            .finish_non_exhaustive()
    }
}

impl TlsTransport {
    pub(super) fn new(tcp: TcpStream, records: RecordLayer) -> Self {
        Self {
            tcp,
            records,
            out: Vec::new(),
        }
    }
}

impl Transport {
    /// Whether the transport itself protects a password sent in clear.
    pub fn is_secure(&self) -> bool {
        matches!(self, Self::Unix(_) | Self::Tls(_))
    }

    /// Makes more input available in `inbuf`: reads at least once more, or
    /// under TLS opens the next record already received (see
    /// [`InBuf::fill`], [`InBuf::fill_tls`]); first makes room for `need`
    /// unconsumed bytes; over TCP under `mark`, if given (see
    /// [`super::batch`]).
    pub(super) async fn fill(
        &mut self,
        inbuf: &mut InBuf,
        need: usize,
        mark: Option<&mut LowWater>,
    ) -> io::Result<()> {
        match (self, mark) {
            (Self::Tcp(tcp), Some(mark)) => inbuf.fill(&mut Batched { tcp, mark }, need).await,
            (Self::Tcp(s), None) => inbuf.fill(s, need).await,
            (Self::Unix(s), _) => inbuf.fill(s, need).await,
            (Self::Tls(t), Some(mark)) => {
                let tcp = &t.tcp;
                inbuf
                    .fill_tls(&mut Batched { tcp, mark }, &mut t.records, need)
                    .await
            }
            (Self::Tls(t), None) => inbuf.fill_tls(&mut t.tcp, &mut t.records, need).await,
        }
    }

    /// The TCP socket underneath, if any.
    pub(super) fn tcp(&self) -> Option<&TcpStream> {
        match self {
            Self::Tcp(s) => Some(s),
            Self::Tls(t) => Some(&t.tcp),
            Self::Unix(_) => None,
        }
    }

    /// Sends `bytes` (encrypted under TLS).
    pub(super) async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Self::Tcp(s) => s.write_all(bytes).await,
            Self::Unix(s) => s.write_all(bytes).await,
            Self::Tls(t) => {
                t.out.clear();
                t.records.seal(bytes, &mut t.out)?;
                t.tcp.write_all(&t.out).await
            }
        }
    }

    /// Ends the session: close_notify under TLS, then the end of the stream.
    pub(super) async fn shutdown(&mut self) -> io::Result<()> {
        match self {
            Self::Tcp(s) => s.shutdown().await,
            Self::Unix(s) => s.shutdown().await,
            Self::Tls(t) => {
                t.out.clear();
                t.records.seal_close_notify(&mut t.out)?;
                t.tcp.write_all(&t.out).await?;
                t.tcp.shutdown().await
            }
        }
    }
}

fn tls_error(e: rustls::Error) -> io::Error {
    // InvalidData with the rustls error inside, as tokio-rustls reports it:
    // tls::explain_handshake_error looks for it there.
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// Runs the TLS handshake over `io`, reading through `inbuf` (which must
/// hold no plaintext), and returns the record layer for what follows.
/// Records that arrived behind the handshake stay in `inbuf`, decrypted.
pub(super) async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
    inbuf: &mut InBuf,
) -> io::Result<RecordLayer> {
    let mut conn = UnbufferedClientConnection::new(config, name).map_err(tls_error)?;
    let mut out = Vec::new();
    loop {
        let UnbufferedStatus { discard, state } = conn.process_tls_records(inbuf.raw_mut());
        match state {
            Err(e) => {
                inbuf.discard_raw(discard);
                send_alert(&mut conn, io, inbuf, &mut out).await;
                return Err(tls_error(e));
            }
            Ok(ConnectionState::EncodeTlsData(mut data)) => encode(&mut data, &mut out)?,
            Ok(ConnectionState::TransmitTlsData(data)) => {
                io.write_all(&out).await?;
                out.clear();
                data.done();
            }
            Ok(ConnectionState::BlockedHandshake) => {
                inbuf.discard_raw(discard);
                inbuf.fill_raw(io).await.map_err(|e| {
                    if e.kind() == io::ErrorKind::UnexpectedEof {
                        io::Error::new(
                            e.kind(),
                            "the server closed the connection in the TLS handshake",
                        )
                    } else {
                        e
                    }
                })?;
                continue;
            }
            // The handshake is over: from here on the records are ours.
            Ok(ConnectionState::WriteTraffic(_)) => {
                inbuf.discard_raw(discard);
                break;
            }
            // A MySQL server speaks only after our handshake response, so
            // data before it is not from a well-behaved server.
            Ok(ConnectionState::ReadTraffic(_)) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the server sent data before the TLS handshake completed",
                ));
            }
            Ok(ConnectionState::PeerClosed | ConnectionState::Closed) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the TLS session in the handshake",
                ));
            }
            Ok(other) => {
                return Err(io::Error::other(format!(
                    "unexpected TLS handshake state {other:?}"
                )));
            }
        }
        inbuf.discard_raw(discard);
    }
    let (secrets, kernel) = conn.dangerous_into_kernel_connection().map_err(tls_error)?;
    let mut records = RecordLayer::new(secrets, kernel)?;
    inbuf.open_record(&mut records)?;
    Ok(records)
}

/// Appends the handshake record `data` holds to `out`.
fn encode(data: &mut EncodeTlsData<'_, ClientConnectionData>, out: &mut Vec<u8>) -> io::Result<()> {
    let at = out.len();
    // Ask with no room first: the error says how much is needed.
    let written = match data.encode(&mut []) {
        Ok(n) => n,
        Err(EncodeError::InsufficientSize(InsufficientSizeError { required_size })) => {
            out.resize(at + required_size, 0);
            data.encode(&mut out[at..]).map_err(io::Error::other)?
        }
        Err(e) => return Err(io::Error::other(e)),
    };
    out.truncate(at + written);
    Ok(())
}

/// After a failed handshake, sends the alert rustls queued (if any), so the
/// server logs why; errors no longer matter.
async fn send_alert<S: AsyncWrite + Unpin>(
    conn: &mut UnbufferedClientConnection,
    io: &mut S,
    inbuf: &mut InBuf,
    out: &mut Vec<u8>,
) {
    out.clear();
    // rustls hands out what it queued before anything else; after that it
    // repeats its error. It must see the same incoming buffer as before.
    for _ in 0..4 {
        let UnbufferedStatus { discard, state } = conn.process_tls_records(inbuf.raw_mut());
        let more = match state {
            Ok(ConnectionState::EncodeTlsData(mut data)) => encode(&mut data, out).is_ok(),
            _ => false,
        };
        inbuf.discard_raw(discard);
        if !more {
            break;
        }
    }
    if !out.is_empty() {
        let _ = io.write_all(out).await;
    }
}

#[cfg(test)]
mod tests {
    //! Our handshake and record layer against rustls' own server (through
    //! tokio-rustls), which frames, pads, re-keys and closes as it sees fit:
    //! the bytes must come through unchanged whatever the record sizes.

    use super::super::record::MAX_RECORD;
    use super::*;
    use crate::cli::SslMode;
    use crate::conn::tls::{self, TlsFiles};
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use rustls::{CipherSuite, ServerConfig, SupportedProtocolVersion};
    use tokio::io::{AsyncReadExt, DuplexStream};

    const CERT: &[u8] = include_bytes!("../../tests/data/tls/unit-server.pem");
    const KEY: &[u8] = include_bytes!("../../tests/data/tls/unit-server.key");

    fn server_config(
        version: &'static SupportedProtocolVersion,
        suite: CipherSuite,
        max_fragment: Option<usize>,
    ) -> Arc<ServerConfig> {
        let mut provider = rustls::crypto::ring::default_provider();
        provider.cipher_suites.retain(|s| s.suite() == suite);
        assert_eq!(provider.cipher_suites.len(), 1, "{suite:?}");
        let chain = vec![CertificateDer::from_pem_slice(CERT).unwrap()];
        let key = PrivateKeyDer::from_pem_slice(KEY).unwrap();
        let mut config = ServerConfig::builder_with_provider(Arc::new(provider))
            .with_protocol_versions(&[version])
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        config.max_fragment_size = max_fragment;
        Arc::new(config)
    }

    /// Bytes no shifted or repeated piece can match by accident.
    fn pattern(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    struct Case {
        version: &'static SupportedProtocolVersion,
        suite: CipherSuite,
        max_fragment: Option<usize>,
        /// The server re-keys (and asks us to) every this many writes.
        key_update_every: Option<usize>,
        capacity: usize,
    }

    const TOTAL: usize = 3 << 20;
    /// Write sizes around and across record boundaries.
    const WRITES: [usize; 9] = [1, 7, 300, 16_383, 16_384, 16_385, 50_000, 100_000, 4096];

    /// The server: reads our first message, sends TOTAL bytes in writes of
    /// WRITES sizes (re-keying as asked), reads our second message (sealed
    /// after any KeyUpdate it asked for), then closes with close_notify.
    async fn serve(io: DuplexStream, case: &Case, first: usize, second: usize) -> Vec<u8> {
        let acceptor = tokio_rustls::TlsAcceptor::from(server_config(
            case.version,
            case.suite,
            case.max_fragment,
        ));
        let mut tls = acceptor.accept(io).await.unwrap();
        let mut got = vec![0; first + second];
        tls.read_exact(&mut got[..first]).await.unwrap();
        let data = pattern(TOTAL, 7);
        let (mut sent, mut writes) = (0, 0);
        while sent < TOTAL {
            if let Some(every) = case.key_update_every
                && writes % every == every - 1
            {
                tls.get_mut().1.refresh_traffic_keys().unwrap();
            }
            let n = WRITES[writes % WRITES.len()].min(TOTAL - sent);
            tls.write_all(&data[sent..sent + n]).await.unwrap();
            tls.flush().await.unwrap();
            sent += n;
            writes += 1;
        }
        tls.read_exact(&mut got[first..]).await.unwrap();
        tls.shutdown().await.unwrap();
        got
    }

    async fn run(case: Case) {
        let (client_io, server_io) = tokio::io::duplex(64 * 1024);
        let hello = pattern(40_000, 1);
        let bye = pattern(20_000, 2);
        let capacity = case.capacity;
        let key_updates = case.key_update_every.is_some();
        let server = {
            let (first, second) = (hello.len(), bye.len());
            tokio::spawn(async move { serve(server_io, &case, first, second).await })
        };
        let mut io = client_io;
        let config = tls::build(SslMode::Required, &TlsFiles::default())
            .unwrap()
            .unwrap()
            .config();
        let name = ServerName::try_from("localhost").unwrap();
        let mut inbuf = InBuf::new(capacity);
        let mut records = handshake(&mut io, config, name, &mut inbuf).await.unwrap();
        let mut out = Vec::new();
        records.seal(&hello, &mut out).unwrap();
        io.write_all(&out).await.unwrap();

        // Read as the packet framer does: sometimes a little more, sometimes
        // a big piece at once; consume in odd amounts.
        let expected = pattern(TOTAL, 7);
        let mut received = Vec::with_capacity(TOTAL);
        let mut round = 0usize;
        let mut max_need = 0;
        while received.len() < TOTAL {
            let left = TOTAL - received.len();
            let need = match round % 3 {
                0 => 1,
                1 => 150_000,
                _ => 20_000,
            }
            .min(left);
            max_need = max_need.max(need);
            while inbuf.filled().len() < need {
                inbuf.fill_tls(&mut io, &mut records, need).await.unwrap();
                // Growth only towards what is needed plus one record.
                assert!(
                    inbuf.capacity() <= capacity.max(max_need + MAX_RECORD),
                    "buffer of {} for a need of {max_need}",
                    inbuf.capacity()
                );
            }
            let take = need.max(inbuf.filled().len() / 2);
            received.extend_from_slice(&inbuf.filled()[..take]);
            inbuf.consume(take);
            round += 1;
        }
        assert!(received == expected, "plaintext differs from what was sent");

        out.clear();
        records.seal(&bye, &mut out).unwrap();
        if key_updates {
            // Our KeyUpdate went first, and the two records of `bye` under
            // the new key (a server that never sees it reads on with the old
            // key, so only this shows that we answered).
            assert_eq!(records.tx_seq(), 2);
        }
        io.write_all(&out).await.unwrap();
        let err = inbuf.fill_tls(&mut io, &mut records, 1).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "{err}");
        assert!(records.peer_closed(), "ended without close_notify");

        let got = server.await.unwrap();
        assert!(
            got[..hello.len()] == hello[..],
            "server read another first message"
        );
        assert!(
            got[hello.len()..] == bye[..],
            "server read another second message"
        );
    }

    fn case(version: &'static SupportedProtocolVersion, suite: CipherSuite) -> Case {
        Case {
            version,
            suite,
            max_fragment: None,
            key_update_every: None,
            capacity: 4096,
        }
    }

    #[tokio::test]
    async fn tls13_each_aead_byte_for_byte() {
        for suite in [
            CipherSuite::TLS13_AES_128_GCM_SHA256,
            CipherSuite::TLS13_AES_256_GCM_SHA384,
            CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
        ] {
            run(case(&rustls::version::TLS13, suite)).await;
        }
    }

    #[tokio::test]
    async fn tls12_each_aead_byte_for_byte() {
        // The test certificate has an ECDSA key.
        for suite in [
            CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        ] {
            run(case(&rustls::version::TLS12, suite)).await;
        }
    }

    #[tokio::test]
    async fn small_records_and_the_default_buffer() {
        for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
            let suite = if version == &rustls::version::TLS12 {
                CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
            } else {
                CipherSuite::TLS13_AES_256_GCM_SHA384
            };
            run(Case {
                max_fragment: Some(512),
                ..case(version, suite)
            })
            .await;
            run(Case {
                capacity: crate::conn::inbuf::DEFAULT_CAPACITY,
                ..case(version, suite)
            })
            .await;
        }
    }

    #[tokio::test]
    async fn key_updates_in_both_directions() {
        // The server re-keys and asks us to: it can read our second message
        // only if we sent our KeyUpdate first and switched keys after it.
        for every in [1, 5] {
            run(Case {
                key_update_every: Some(every),
                ..case(
                    &rustls::version::TLS13,
                    CipherSuite::TLS13_AES_128_GCM_SHA256,
                )
            })
            .await;
        }
    }

    #[tokio::test]
    async fn a_rejected_certificate_is_explained_and_the_server_told() {
        let (mut client_io, server_io) = tokio::io::duplex(64 * 1024);
        let server = tokio::spawn(async move {
            let config = server_config(
                &rustls::version::TLS13,
                CipherSuite::TLS13_AES_128_GCM_SHA256,
                None,
            );
            let acceptor = tokio_rustls::TlsAcceptor::from(config);
            acceptor.accept(server_io).await.map(|_| ()).unwrap_err()
        });
        // The self-signed test certificate is not from this CA.
        let files = TlsFiles {
            ca_file: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tls/ca.pem").into()),
            ..TlsFiles::default()
        };
        let config = tls::build(SslMode::VerifyCa, &files)
            .unwrap()
            .unwrap()
            .config();
        let name = ServerName::try_from("localhost").unwrap();
        let mut inbuf = InBuf::new(4096);
        let err = handshake(&mut client_io, config, name, &mut inbuf)
            .await
            .unwrap_err();
        let message = tls::explain_handshake_error(&err, "localhost");
        assert!(message.contains("unknown CA"), "{message}");
        drop(client_io);
        let server_err = server.await.unwrap();
        assert!(
            server_err.to_string().contains("UnknownCA"),
            "server saw: {server_err}"
        );
    }
}
