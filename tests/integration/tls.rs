//! TLS modes, certificates and authentication methods against the real server.
//!
//! The test server (scripts/test-db.sh) runs with TLS. Three relays in this file stand in for
//! what a second server would need:
//! - a plain TCP relay that records every byte (the proof that TLS encrypts), and that can
//!   clear CLIENT_SSL in the server greeting: to gold_digger that is exactly a server without
//!   TLS (and it is the downgrade a man in the middle performs against PREFERRED);
//! - a TLS-terminating relay that shows gold_digger a chosen certificate (expired, from an
//!   unknown CA, for another host name) and talks TLS to the real server behind it.
//!
//! Whether a session was encrypted is asked of the server (`Ssl_cipher`), not of gold_digger.

use crate::common::{Run, gd, run, server};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// The server's own view: the TLS cipher of this session, empty without TLS.
const CIPHER_QUERY: &str = "SELECT CURRENT_USER() AS who, (SELECT VARIABLE_VALUE FROM \
     information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'Ssl_cipher') AS cipher";

/// Where scripts/test-db.sh put the certificates.
fn tls_dir() -> PathBuf {
    server();
    let dir = std::env::var_os("GD_TEST_TLS_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("GD_TEST_DB_DIR").map(|d| PathBuf::from(d).join("tls")))
        .unwrap_or_else(|| crate::common::repo_root().join("target/test-db/tls"));
    assert!(
        dir.join("ca.pem").is_file(),
        "no TLS test certificates in {} (run scripts/test-db.sh start)",
        dir.display()
    );
    dir
}

fn tls_file(name: &str) -> String {
    tls_dir().join(name).to_string_lossy().into_owned()
}

fn url(user: &str, password: &str, host: &str, port: u16) -> String {
    format!("mysql://{user}:{password}@{host}:{port}/gd_test")
}

/// Runs the cipher query as `user` through `host:port` with `extra` flags, CSV to stdout.
fn login(user: &str, password: &str, host: &str, port: u16, extra: &[&str]) -> Run {
    run(gd()
        .args(["--db-url", &url(user, password, host, port)])
        .args(["--query", CIPHER_QUERY, "--output", "-", "--format", "csv"])
        .args(["--connect-timeout", "20"])
        .args(extra))
}

/// The `cipher` column of a successful [`login`]; panics unless it exited 0.
fn cipher_of(r: &Run) -> String {
    r.assert_code(0);
    let text = String::from_utf8(r.stdout.clone()).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("who,cipher"), "{r}");
    let row = lines.next().unwrap_or_else(|| panic!("no row: {r}"));
    row.split_once(',').unwrap().1.trim_matches('"').to_string()
}

fn assert_fails(r: &Run, code: i32, needles: &[&str]) {
    r.assert_code(code);
    let text = r.output_text();
    for n in needles {
        assert!(text.contains(n), "missing {n:?} in: {r}");
    }
    for secret in ["gd_pass", "tls_pass", "x509_pass", "ed_pass", "PRIVATE KEY"] {
        assert!(!text.contains(secret), "{secret} leaked: {r}");
    }
}

// --- relays -------------------------------------------------------------------------------

/// A TCP relay in front of the test server. Records everything in both directions; with
/// `strip_ssl` it clears CLIENT_SSL in the greeting.
struct Relay {
    port: u16,
    capture: Arc<Mutex<Vec<u8>>>,
}

impl Relay {
    fn start(strip_ssl: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let capture = Arc::new(Mutex::new(Vec::new()));
        let cap = Arc::clone(&capture);
        let upstream_port = server().port;
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let cap = Arc::clone(&cap);
                std::thread::spawn(move || relay_one(client, upstream_port, strip_ssl, cap));
            }
        });
        Self { port, capture }
    }

    fn captured(&self) -> Vec<u8> {
        self.capture.lock().unwrap().clone()
    }
}

fn relay_one(mut client: TcpStream, upstream: u16, strip_ssl: bool, cap: Arc<Mutex<Vec<u8>>>) {
    let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)) else {
        return;
    };
    if strip_ssl {
        let mut header = [0u8; 4];
        if server.read_exact(&mut header).is_err() {
            return;
        }
        let len = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
        let mut greeting = vec![0; len];
        if server.read_exact(&mut greeting).is_err() {
            return;
        }
        // Protocol version, NUL-terminated version string, 4-byte id, 8-byte nonce, filler,
        // then the low capability flags (little-endian): CLIENT_SSL is 0x0800.
        let nul = greeting.iter().position(|&b| b == 0).unwrap();
        let caps_at = 1 + nul + 4 + 8 + 1;
        greeting[caps_at + 1] &= !0x08;
        cap.lock().unwrap().extend_from_slice(&greeting);
        if client.write_all(&header).is_err() || client.write_all(&greeting).is_err() {
            return;
        }
    }
    let pump = |mut from: TcpStream, mut to: TcpStream, cap: Arc<Mutex<Vec<u8>>>| {
        std::thread::spawn(move || {
            let mut buf = vec![0; 64 * 1024];
            loop {
                match from.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        cap.lock().unwrap().extend_from_slice(&buf[..n]);
                        if to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = to.shutdown(std::net::Shutdown::Write);
        })
    };
    let a = pump(
        client.try_clone().unwrap(),
        server.try_clone().unwrap(),
        Arc::clone(&cap),
    );
    let b = pump(server, client, cap);
    let _ = a.join();
    let _ = b.join();
}

/// A relay that terminates gold_digger's TLS with the certificate `name`.pem/.key and speaks
/// TLS (verified against the test CA) to the real server behind it.
fn tls_relay(name: &str) -> u16 {
    tls_relay_with(name, RelayTls::default())
}

/// How the TLS relay talks to gold_digger.
#[derive(Debug, Clone, Copy, Default)]
struct RelayTls {
    /// TLS 1.2 only (else 1.2 or 1.3, whichever the client prefers).
    tls12_only: bool,
    /// Only the cipher suites whose name contains this.
    suite: Option<&'static str>,
    /// Largest plaintext per record.
    max_fragment: Option<usize>,
    /// TLS 1.3: re-key (and ask gold_digger to) before the first bytes to it, then every
    /// this many bytes.
    key_update_every: Option<usize>,
}

fn tls_relay_with(name: &str, opts: RelayTls) -> u16 {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    let dir = tls_dir();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(dir.join(format!("{name}.pem")))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join(format!("{name}.key"))).unwrap();
    let mut server_provider = rustls::crypto::ring::default_provider();
    if let Some(suite) = opts.suite {
        server_provider
            .cipher_suites
            .retain(|s| format!("{:?}", s.suite()).contains(suite));
    }
    let versions: &[&rustls::SupportedProtocolVersion] = if opts.tls12_only {
        &[&rustls::version::TLS12]
    } else {
        rustls::DEFAULT_VERSIONS
    };
    let mut server_config = rustls::ServerConfig::builder_with_provider(Arc::new(server_provider))
        .with_protocol_versions(versions)
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    server_config.max_fragment_size = opts.max_fragment;
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_file_iter(dir.join("ca.pem")).unwrap() {
        roots.add(ca.unwrap()).unwrap();
    }
    let client_config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config));
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let upstream = server().port;
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                let (acceptor, connector) = (acceptor.clone(), connector.clone());
                tokio::spawn(async move {
                    let mut server = tokio::net::TcpStream::connect(("127.0.0.1", upstream))
                        .await
                        .unwrap();
                    // Greeting: server to client, verbatim.
                    let mut header = [0u8; 4];
                    server.read_exact(&mut header).await.unwrap();
                    let len = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
                    let mut greeting = vec![0; len];
                    server.read_exact(&mut greeting).await.unwrap();
                    client.write_all(&header).await.unwrap();
                    client.write_all(&greeting).await.unwrap();
                    // The SSL request (4 + 32 bytes): client to server, verbatim.
                    let mut request = [0u8; 36];
                    if client.read_exact(&mut request).await.is_err() {
                        return;
                    }
                    server.write_all(&request).await.unwrap();
                    let Ok(client) = acceptor.accept(client).await else {
                        return; // gold_digger refused our certificate
                    };
                    let name = ServerName::try_from("localhost").unwrap();
                    let server = connector.connect(name, server).await.unwrap();
                    pump(client, server, opts.key_update_every).await;
                });
            }
        });
    });
    port
}

/// Copies both ways between the two TLS sessions; with `key_update_every`, re-keys towards
/// gold_digger as [`RelayTls`] says.
async fn pump(
    mut client: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    mut server: tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
    key_update_every: Option<usize>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut up, mut down) = (vec![0u8; 64 << 10], vec![0u8; 64 << 10]);
    let mut since_update: Option<usize> = None;
    loop {
        tokio::select! {
            r = client.read(&mut up) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if server.write_all(&up[..n]).await.is_err() {
                        break;
                    }
                }
            },
            r = server.read(&mut down) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if let Some(every) = key_update_every {
                        if since_update.is_none_or(|bytes| bytes >= every) {
                            client.get_mut().1.refresh_traffic_keys().unwrap();
                            since_update = Some(0);
                        }
                        since_update = since_update.map(|b| b + n);
                    }
                    if client.write_all(&down[..n]).await.is_err() || client.flush().await.is_err() {
                        break;
                    }
                }
            },
        }
    }
    let _ = client.shutdown().await;
}

// --- modes --------------------------------------------------------------------------------

#[test]
fn each_mode_against_the_tls_server() {
    let port = server().port;
    let ca = tls_file("ca.pem");
    let cases: &[(&[&str], bool)] = &[
        (&["--ssl-mode", "disabled"], false),
        (&[], true), // PREFERRED is the default
        (&["--ssl-mode", "preferred"], true),
        (&["--ssl-mode", "REQUIRED"], true),
        (&["--ssl-mode", "verify_ca", "--tls-ca-file", &ca], true),
        (
            &["--ssl-mode", "verify_identity", "--tls-ca-file", &ca],
            true,
        ),
    ];
    for (extra, encrypted) in cases {
        let r = login("gd", "gd_pass", "127.0.0.1", port, extra);
        let cipher = cipher_of(&r);
        assert_eq!(
            !cipher.is_empty(),
            *encrypted,
            "{extra:?}: cipher {cipher:?}"
        );
    }
    // The URL parameter selects the mode as well.
    let r = run(gd()
        .args([
            "--db-url",
            &format!(
                "{}?ssl-mode=DISABLED",
                url("gd", "gd_pass", "127.0.0.1", port)
            ),
        ])
        .args(["--query", CIPHER_QUERY, "--output", "-", "--format", "csv"]));
    assert_eq!(cipher_of(&r), "");
    // The verifying modes without a CA file use the system roots, which do not hold the
    // test CA.
    let r = login(
        "gd",
        "gd_pass",
        "127.0.0.1",
        port,
        &["--ssl-mode", "verify_ca"],
    );
    assert_fails(&r, 3, &["unknown CA", "--tls-ca-file"]);
}

#[test]
fn each_mode_against_a_server_without_tls() {
    let relay = Relay::start(true);
    let ca = tls_file("ca.pem");
    for (extra, ok) in [
        (&["--ssl-mode", "disabled"][..], true),
        (&["--ssl-mode", "preferred"][..], true),
        (&["--ssl-mode", "required"][..], false),
        (
            &["--ssl-mode", "verify_ca", "--tls-ca-file", &ca][..],
            false,
        ),
        (&["--tls-ca-file", &ca][..], false),
        (&["--allow-invalid-certificate"][..], false),
    ] {
        let r = login("gd", "gd_pass", "127.0.0.1", relay.port, extra);
        if ok {
            assert_eq!(cipher_of(&r), "", "{extra:?}");
        } else {
            assert_fails(&r, 3, &["does not offer TLS", "--ssl-mode"]);
        }
    }
}

#[test]
fn verify_identity_checks_the_host_name() {
    let ca = tls_file("ca.pem");
    let port = server().port;
    // The server's certificate names localhost and 127.0.0.1: both pass.
    for host in ["localhost", "127.0.0.1"] {
        let r = login("gd", "gd_pass", host, port, &["--tls-ca-file", &ca]);
        assert!(!cipher_of(&r).is_empty(), "{host}");
    }
    // A certificate from the right CA for another name fails VERIFY_IDENTITY...
    let relay = tls_relay("wronghost");
    let r = login("gd", "gd_pass", "127.0.0.1", relay, &["--tls-ca-file", &ca]);
    assert_fails(
        &r,
        3,
        &["not valid for the host name '127.0.0.1'", "verify_ca"],
    );
    // ...and passes VERIFY_CA and --insecure-skip-hostname-verify (which uses the system
    // roots, so it still fails on the chain here: proof that the chain is checked).
    let r = login(
        "gd",
        "gd_pass",
        "127.0.0.1",
        relay,
        &["--ssl-mode", "verify_ca", "--tls-ca-file", &ca],
    );
    // The relay re-encrypts towards the server: the server sees TLS too.
    assert!(!cipher_of(&r).is_empty());
    let r = login(
        "gd",
        "gd_pass",
        "127.0.0.1",
        relay,
        &["--insecure-skip-hostname-verify"],
    );
    assert_fails(&r, 3, &["unknown CA"]);
    assert!(r.output_text().contains("host name is not checked"), "{r}");
}

#[test]
fn expired_and_unknown_ca_certificates_fail_with_3() {
    let ca = tls_file("ca.pem");
    let expired = tls_relay("expired");
    let r = login(
        "gd",
        "gd_pass",
        "127.0.0.1",
        expired,
        &["--tls-ca-file", &ca],
    );
    assert_fails(&r, 3, &["expired", "--allow-invalid-certificate"]);
    let unknown = tls_relay("unknown");
    for mode in ["verify_ca", "verify_identity"] {
        let r = login(
            "gd",
            "gd_pass",
            "127.0.0.1",
            unknown,
            &["--ssl-mode", mode, "--tls-ca-file", &ca],
        );
        assert_fails(&r, 3, &["unknown CA"]);
    }
    // Without verification both connect (encrypted), with a warning for the legacy flag.
    for port in [expired, unknown] {
        let r = login(
            "gd",
            "gd_pass",
            "127.0.0.1",
            port,
            &["--ssl-mode", "required"],
        );
        assert!(!cipher_of(&r).is_empty());
        let r = login(
            "gd",
            "gd_pass",
            "127.0.0.1",
            port,
            &["--allow-invalid-certificate"],
        );
        assert!(!cipher_of(&r).is_empty());
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(err.contains("WARN") && err.contains("not verified"), "{r}");
    }
}

// --- accounts -----------------------------------------------------------------------------

#[test]
fn mutual_tls_for_a_require_x509_account() {
    let port = server().port;
    let (ca, cert, key) = (
        tls_file("ca.pem"),
        tls_file("client.pem"),
        tls_file("client.key"),
    );
    let r = login(
        "gd_x509",
        "x509_pass",
        "127.0.0.1",
        port,
        &["--tls-ca-file", &ca, "--tls-cert", &cert, "--tls-key", &key],
    );
    assert!(!cipher_of(&r).is_empty());
    assert!(String::from_utf8_lossy(&r.stdout).contains("gd_x509@%"));
    // Without the client certificate the server refuses the account.
    let r = login(
        "gd_x509",
        "x509_pass",
        "127.0.0.1",
        port,
        &["--tls-ca-file", &ca],
    );
    assert_fails(&r, 3, &["Access denied"]);
}

#[test]
fn require_ssl_account_needs_tls() {
    let port = server().port;
    let r = login(
        "gd_tls",
        "tls_pass",
        "127.0.0.1",
        port,
        &["--ssl-mode", "disabled"],
    );
    assert_fails(&r, 3, &["Access denied"]);
    let r = login(
        "gd_tls",
        "tls_pass",
        "127.0.0.1",
        port,
        &["--ssl-mode", "required"],
    );
    assert!(!cipher_of(&r).is_empty());
}

#[test]
fn ed25519_account_logs_in() {
    let port = server().port;
    for mode in ["disabled", "required"] {
        let r = login("gd_ed", "ed_pass", "127.0.0.1", port, &["--ssl-mode", mode]);
        cipher_of(&r);
        assert!(
            String::from_utf8_lossy(&r.stdout).contains("gd_ed@%"),
            "{r}"
        );
    }
    let r = login("gd_ed", "not_it", "127.0.0.1", port, &[]);
    assert_fails(&r, 3, &["Access denied"]);
}

// --- flags ----------------------------------------------------------------------------------

#[test]
fn legacy_flags_parse_conflict_and_behave() {
    let port = server().port;
    let ca = tls_file("ca.pem");
    // Mutually exclusive (clap's usage error is 2).
    for pair in [
        &["--tls-ca-file", &ca, "--allow-invalid-certificate"][..],
        &[
            "--insecure-skip-hostname-verify",
            "--allow-invalid-certificate",
        ][..],
        &["--tls-ca-file", &ca, "--insecure-skip-hostname-verify"][..],
    ] {
        let r = login("gd", "gd_pass", "127.0.0.1", port, pair);
        r.assert_code(2);
    }
    // Contradicting an explicit mode is a usage error naming both.
    let r = login(
        "gd",
        "gd_pass",
        "127.0.0.1",
        port,
        &["--allow-invalid-certificate", "--ssl-mode", "verify_ca"],
    );
    assert_fails(
        &r,
        2,
        &["--allow-invalid-certificate", "contradicts", "--ssl-mode"],
    );
    // --tls-ca-file is VERIFY_IDENTITY: encrypted against the right host.
    let r = login("gd", "gd_pass", "localhost", port, &["--tls-ca-file", &ca]);
    assert!(!cipher_of(&r).is_empty());
    // --insecure-skip-hostname-verify is VERIFY_CA with the system roots: it warns.
    let r = login(
        "gd",
        "gd_pass",
        "127.0.0.1",
        port,
        &["--insecure-skip-hostname-verify"],
    );
    r.assert_code(3);
    // --allow-invalid-certificate is REQUIRED: encrypted, and it warns.
    let r = login(
        "gd",
        "gd_pass",
        "127.0.0.1",
        port,
        &["--allow-invalid-certificate"],
    );
    assert!(!cipher_of(&r).is_empty());
    assert!(String::from_utf8_lossy(&r.stderr).contains("--allow-invalid-certificate"));
}

#[test]
fn dump_config_shows_tls_settings_but_no_key_material() {
    let (ca, cert, key) = (
        tls_file("ca.pem"),
        tls_file("client.pem"),
        tls_file("client.key"),
    );
    let r = run(gd().args([
        "--db-url",
        "mysql://gd:gd_pass@localhost/gd_test",
        "-q",
        "SELECT 1",
        "-o",
        "-",
        "--dump-config",
        "--tls-ca-file",
        &ca,
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
    ]));
    r.assert_code(0);
    let out = String::from_utf8_lossy(&r.stdout);
    assert!(out.contains("\"ssl_mode\": \"VERIFY_IDENTITY\""), "{out}");
    assert!(
        out.contains(&key) && out.contains(&cert) && out.contains(&ca),
        "{out}"
    );
    // No line of the key's base64 body (nor the certificate's) appears anywhere.
    for file in [&key, &cert] {
        let pem = std::fs::read_to_string(file).unwrap();
        for line in pem.lines().filter(|l| !l.starts_with("-----")) {
            assert!(!r.output_text().contains(line), "{file} content leaked");
        }
    }
    assert!(!out.contains("gd_pass"));
}

#[test]
fn bad_tls_files_exit_2_before_connecting() {
    let dir = crate::common::tempdir();
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "just text\n").unwrap();
    let not_pem = not_pem.to_string_lossy().into_owned();
    let missing = dir
        .path()
        .join("missing.pem")
        .to_string_lossy()
        .into_owned();
    let (cert, key) = (tls_file("client.pem"), tls_file("client.key"));
    // Port 9 (discard) has no MySQL server: reaching it would be exit 3, not 2.
    for (extra, needle) in [
        (vec!["--tls-ca-file", &missing], "CA file"),
        (vec!["--tls-ca-file", &not_pem], "no PEM certificate"),
        (
            vec!["--tls-cert", &cert, "--tls-key", &cert],
            "no usable PEM private key",
        ),
        (
            vec!["--tls-cert", &key, "--tls-key", &key],
            "no PEM certificate",
        ),
        (vec!["--tls-cert", &cert], "--tls-key"),
        (vec!["--server-public-key", &not_pem], "server public key"),
    ] {
        let r = login("gd", "gd_pass", "127.0.0.1", 9, &extra);
        assert_fails(&r, 2, &[needle]);
        let key_body = std::fs::read_to_string(&key).unwrap();
        let second_line = key_body.lines().nth(1).unwrap();
        assert!(!r.output_text().contains(second_line));
    }
}

// --- the bytes on the wire ------------------------------------------------------------------

#[test]
fn tls_encrypts_the_bytes_on_the_wire() {
    // The row value is computed by the server, so it appears in the capture only in the
    // result, and the query text only in the request.
    let query = "SELECT CONCAT('wire', '-', 'marker', '-', 40000 + 2) AS secret_col";
    let row_value = b"wire-marker-40002";
    let query_marker = b"secret_col";
    let run_through = |mode: &str| {
        let relay = Relay::start(false);
        let r = run(gd()
            .args(["--db-url", &url("gd", "gd_pass", "127.0.0.1", relay.port)])
            .args(["--query", query, "--output", "-", "--format", "csv"])
            .args(["--ssl-mode", mode]));
        r.assert_code(0);
        assert!(
            r.stdout.windows(row_value.len()).any(|w| w == row_value),
            "{r}"
        );
        relay.captured()
    };
    let contains = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    let plain = run_through("disabled");
    assert!(contains(&plain, query_marker) && contains(&plain, row_value));
    let tls = run_through("required");
    assert!(tls.len() > 1000, "capture too small: {}", tls.len());
    assert!(
        !contains(&tls, query_marker),
        "query text in the TLS capture"
    );
    assert!(!contains(&tls, row_value), "row value in the TLS capture");
    // The handshake response (user name, database) goes inside TLS as well.
    assert!(contains(&plain, b"gd_test\0") && !contains(&tls, b"gd_test\0"));
}

// --- the record layer ------------------------------------------------------------------------

/// Exports `query` through `port` with `--ssl-mode mode` (and -vv), CSV to stdout.
fn export_csv(port: u16, mode: &str, query: &str) -> Run {
    let r = run(gd()
        .args(["--db-url", &url("gd", "gd_pass", "127.0.0.1", port)])
        .args(["--query", query, "--output", "-", "--format", "csv"])
        .args(["--ssl-mode", mode, "-vv"]));
    r.assert_code(0);
    r
}

#[test]
fn tls_exports_are_byte_for_byte_the_plaintext_export() {
    // Rows of 16 MiB and more: far larger than a TLS record and than the 1 MiB receive
    // buffer, and then small rows, so packets and records cross each other's boundaries
    // in every way.
    let query = "SELECT * FROM big_rows ORDER BY id";
    let plain = export_csv(server().port, "disabled", query).stdout;
    assert!(plain.len() > 50 << 20, "only {} bytes", plain.len());
    let direct = export_csv(server().port, "required", query);
    assert!(
        direct.stdout == plain,
        "the TLS export differs from the plaintext one"
    );
    let cases = [
        (
            "TLSv1_2",
            "AES_128_GCM",
            RelayTls {
                tls12_only: true,
                suite: Some("AES_128_GCM"),
                max_fragment: Some(1000),
                ..RelayTls::default()
            },
        ),
        (
            "TLSv1_2",
            "CHACHA20",
            RelayTls {
                tls12_only: true,
                suite: Some("CHACHA20"),
                ..RelayTls::default()
            },
        ),
        (
            "TLSv1_3",
            "AES_256_GCM",
            RelayTls {
                suite: Some("AES_256_GCM"),
                key_update_every: Some(256 << 10),
                ..RelayTls::default()
            },
        ),
        (
            "TLSv1_3",
            "CHACHA20",
            RelayTls {
                suite: Some("CHACHA20"),
                max_fragment: Some(777),
                key_update_every: Some(5 << 20),
                ..RelayTls::default()
            },
        ),
    ];
    for (version, suite, opts) in cases {
        let port = tls_relay_with("server", opts);
        let r = export_csv(port, "required", query);
        let err = String::from_utf8_lossy(&r.stderr);
        let established = err
            .lines()
            .find(|l| l.contains("TLS established"))
            .unwrap_or_else(|| panic!("{opts:?}: no 'TLS established' line: {r}"));
        assert!(
            established.contains(version) && established.contains(suite),
            "{opts:?}: {established}"
        );
        assert!(
            r.stdout == plain,
            "{opts:?}: {} bytes differ from the plaintext export's {}",
            r.stdout.len(),
            plain.len()
        );
    }
}

#[test]
fn a_query_longer_than_a_tls_record_goes_out_intact() {
    // 40,000 bytes of query: three records out, the last after a KeyUpdate the relay asked for.
    let text: String = (0..40_000)
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    let query = format!("SELECT '{text}' AS long_text");
    let expected = format!("long_text\n{text}\n");
    let relay = tls_relay_with(
        "server",
        RelayTls {
            key_update_every: Some(1),
            ..RelayTls::default()
        },
    );
    for port in [server().port, relay] {
        let r = export_csv(port, "required", &query);
        assert!(r.stdout == expected.as_bytes(), "{r}");
    }
}
