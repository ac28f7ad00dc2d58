//! TLS client configuration for each `--ssl-mode`, built (and every file
//! read) before any connection is tried, plus the messages for handshake
//! failures.
//!
//! rustls with the `ring` provider: ring needs only a C compiler, and the
//! provider is chosen explicitly so that no process-wide default is needed.

use crate::cli::SslMode;
use crate::error::Error;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The files behind a TLS setting, as given by the user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// CA certificates (PEM) for the verifying modes; platform roots when absent.
    pub ca_file: Option<PathBuf>,
    /// Client certificate chain (PEM) for mutual TLS.
    pub cert: Option<PathBuf>,
    /// Client private key (PEM) for mutual TLS.
    pub key: Option<PathBuf>,
}

/// A ready rustls configuration. Equality is identity: two loads of the same
/// files are different configurations.
#[derive(Clone)]
pub struct TlsClient(Arc<ClientConfig>);

impl TlsClient {
    /// The rustls configuration.
    pub fn config(&self) -> Arc<ClientConfig> {
        Arc::clone(&self.0)
    }
}

impl fmt::Debug for TlsClient {
    // Never print the configuration: it holds the client's private key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TlsClient")
    }
}

impl PartialEq for TlsClient {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for TlsClient {}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn file_error(path: &Path, what: &'static str, message: impl Into<String>) -> Error {
    Error::TlsFile {
        path: path.to_path_buf(),
        what,
        message: message.into(),
    }
}

/// Reads every certificate of a PEM file; at least one must be there.
fn load_certs(path: &Path, what: &'static str) -> Result<Vec<CertificateDer<'static>>, Error> {
    // Read first so a missing file says so instead of "no certificates".
    let bytes = std::fs::read(path).map_err(|e| file_error(path, what, e.to_string()))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(path, what, format!("not valid PEM ({e})")))?;
    if certs.is_empty() {
        return Err(file_error(
            path,
            what,
            "no PEM certificate in it (expected -----BEGIN CERTIFICATE-----)",
        ));
    }
    Ok(certs)
}

fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, Error> {
    const WHAT: &str = "client key (--tls-key)";
    let bytes = std::fs::read(path).map_err(|e| file_error(path, WHAT, e.to_string()))?;
    // pki_types' errors name the section kind and never quote the key bytes.
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| {
        file_error(
            path,
            WHAT,
            format!("no usable PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC) in it ({e})"),
        )
    })
}

fn roots(files: &TlsFiles) -> Result<RootCertStore, Error> {
    let mut store = RootCertStore::empty();
    match &files.ca_file {
        Some(path) => {
            const WHAT: &str = "CA file (--tls-ca-file)";
            for cert in load_certs(path, WHAT)? {
                store
                    .add(cert)
                    .map_err(|e| file_error(path, WHAT, format!("unusable CA certificate: {e}")))?;
            }
        }
        None => {
            // Unreadable individual roots are skipped, as every TLS client does;
            // an empty store is an error below.
            let native = rustls_native_certs::load_native_certs();
            let (added, _) = store.add_parsable_certificates(native.certs);
            if added == 0 {
                return Err(Error::usage(
                    "no trusted root certificates found on this system for --ssl-mode verify_ca/verify_identity; \
                     pass the server's CA with --tls-ca-file FILE (or set SSL_CERT_FILE)",
                ));
            }
        }
    }
    Ok(store)
}

/// Builds the client configuration for `mode`, reading and checking every
/// file. `None` for DISABLED.
pub fn build(mode: SslMode, files: &TlsFiles) -> Result<Option<TlsClient>, Error> {
    if mode == SslMode::Disabled {
        return Ok(None);
    }
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::usage(format!("TLS set-up failed: {e}")))?;
    let verifier: Arc<dyn ServerCertVerifier> = match mode {
        SslMode::Disabled | SslMode::Preferred | SslMode::Required => {
            Arc::new(AcceptAnyCertificate(Arc::clone(&provider)))
        }
        SslMode::VerifyCa | SslMode::VerifyIdentity => {
            let webpki =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots(files)?), provider)
                    .build()
                    .map_err(|e| Error::usage(format!("TLS set-up failed: {e}")))?;
            if mode == SslMode::VerifyCa {
                Arc::new(ChainOnly(webpki))
            } else {
                webpki
            }
        }
    };
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match (&files.cert, &files.key) {
        (Some(cert), Some(key)) => {
            let chain = load_certs(cert, "client certificate (--tls-cert)")?;
            let key_der = load_key(key)?;
            builder.with_client_auth_cert(chain, key_der).map_err(|e| {
                file_error(
                    key,
                    "client key (--tls-key)",
                    format!("does not fit the certificate or has an unsupported type: {e}"),
                )
            })?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => {
            return Err(Error::usage(
                "--tls-cert and --tls-key go together: pass both or neither",
            ));
        }
    };
    // After the handshake the keys go to our own record layer (see
    // conn::record), which decrypts in place in the receive buffer.
    config.enable_secret_extraction = true;
    Ok(Some(TlsClient(Arc::new(config))))
}

/// The name the certificate must carry: the host of the URL (an IP address
/// is matched against IP SANs).
pub fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    ServerName::try_from(host.to_string())
        .map_err(|_| format!("'{host}' is not a valid TLS server name"))
}

/// PREFERRED and REQUIRED: any certificate, as the MySQL client does. The
/// handshake signatures are still checked, so the peer must hold the key of
/// the certificate it shows (encryption without authentication).
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// VERIFY_CA: the chain must lead to a trusted root and be valid now; the
/// host name is not checked. webpki checks the name after the chain, so a
/// name error means everything else passed.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// Explains a failed TLS handshake: the cause, and the flag that changes the
/// outcome where there is one.
pub fn explain_handshake_error(err: &std::io::Error, host: &str) -> String {
    let Some(tls) = err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return format!("the connection failed during the TLS handshake: {err}");
    };
    use rustls::Error as E;
    match tls {
        E::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer => "the server certificate was issued by an unknown CA \
                (not in --tls-ca-file or the system roots); pass the right CA with --tls-ca-file FILE, \
                or use --ssl-mode required to encrypt without verifying"
                .to_string(),
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "the server certificate has expired; renew it on the server, or use --ssl-mode required \
                 (--allow-invalid-certificate) to encrypt without verifying"
                    .to_string()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "the server certificate is not valid yet (check the clocks); --ssl-mode required skips verification"
                    .to_string()
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!(
                    "the server certificate is not valid for the host name '{host}' (rustls matches only \
                     the subjectAltName, never the CN); connect with a name the certificate lists, or use \
                     --ssl-mode verify_ca (--insecure-skip-hostname-verify) to skip the host name check"
                )
            }
            CertificateError::BadEncoding => "the server certificate is malformed (X.509 v1 \
                certificates are not supported; regenerate it as v3)"
                .to_string(),
            other => format!("the server certificate was rejected: {other:?}"),
        },
        E::AlertReceived(alert) => format!(
            "the server aborted the TLS handshake with alert {alert:?} (a certificate_required or \
             handshake_failure alert usually means the account needs a client certificate: \
             --tls-cert FILE --tls-key FILE)"
        ),
        E::PeerIncompatible(why) => {
            format!("the server's TLS is incompatible (TLS 1.2 or newer is needed): {why:?}")
        }
        other => format!("TLS handshake failed: {other}"),
    }
}
