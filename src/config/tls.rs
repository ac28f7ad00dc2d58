//! TLS settings: `--ssl-mode` / `?ssl-mode=` / the file's `ssl-mode`, the
//! legacy TLS flags mapped onto modes, and the client certificate, merged
//! into one choice before any connection is tried.

use crate::cli::{Cli, SslMode};
use crate::conn::tls::TlsFiles;
use crate::error::Error;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The config file's TLS keys.
pub(super) struct FileTls {
    pub(super) ssl_mode: Option<SslMode>,
    pub(super) tls_ca_file: Option<PathBuf>,
    pub(super) insecure_skip_hostname_verify: Option<bool>,
    pub(super) allow_invalid_certificate: Option<bool>,
    pub(super) tls_cert: Option<PathBuf>,
    pub(super) tls_key: Option<PathBuf>,
}

/// The TLS settings after merging flags, URL and config file.
pub(super) struct TlsChoice {
    pub(super) mode: SslMode,
    pub(super) files: TlsFiles,
    pub(super) warnings: Vec<String>,
}

/// Merges the TLS settings. Today's three flags map onto modes
/// (--tls-ca-file: verify_identity with that CA, --insecure-skip-hostname-verify:
/// verify_ca, --allow-invalid-certificate: required); they exclude each other,
/// and an explicit mode that contradicts one of them is an error rather than
/// a silent winner. On the command line they override the config file.
pub(super) fn resolve_tls(
    cli: &Cli,
    file: &FileTls,
    url_mode: Option<SslMode>,
    config_path: Option<&Path>,
) -> Result<TlsChoice, Error> {
    let cli_legacy = cli.tls_ca_file.is_some()
        || cli.insecure_skip_hostname_verify
        || cli.allow_invalid_certificate;
    let (ca_file, skip_host, allow_invalid, origin) = if cli_legacy {
        (
            cli.tls_ca_file.clone(),
            cli.insecure_skip_hostname_verify,
            cli.allow_invalid_certificate,
            "",
        )
    } else {
        (
            file.tls_ca_file.clone(),
            file.insecure_skip_hostname_verify.unwrap_or(false),
            file.allow_invalid_certificate.unwrap_or(false),
            " (config file)",
        )
    };
    if usize::from(ca_file.is_some()) + usize::from(skip_host) + usize::from(allow_invalid) > 1 {
        return Err(Error::ConfigFile {
            path: config_path.map(Path::to_path_buf).unwrap_or_default(),
            message: "tls-ca-file, insecure-skip-hostname-verify and allow-invalid-certificate \
                      exclude each other"
                .into(),
        });
    }
    // (flag name, implied mode, modes it is compatible with)
    let legacy: Option<(&str, SslMode, &[SslMode])> = if ca_file.is_some() {
        Some((
            "--tls-ca-file",
            SslMode::VerifyIdentity,
            &[SslMode::VerifyIdentity, SslMode::VerifyCa],
        ))
    } else if skip_host {
        Some((
            "--insecure-skip-hostname-verify",
            SslMode::VerifyCa,
            &[SslMode::VerifyCa],
        ))
    } else if allow_invalid {
        Some((
            "--allow-invalid-certificate",
            SslMode::Required,
            &[SslMode::Required],
        ))
    } else {
        None
    };
    let explicit = match (cli.ssl_mode, url_mode) {
        (Some(m), _) => Some((m, "--ssl-mode")),
        (None, Some(m)) => Some((m, "ssl-mode in the URL")),
        // The file's mode yields to a legacy flag on the command line.
        (None, None) if !cli_legacy => file.ssl_mode.map(|m| (m, "ssl-mode in the config file")),
        (None, None) => None,
    };
    let mode = match (explicit, legacy) {
        (Some((m, source)), Some((flag, _, fits))) if !fits.contains(&m) => {
            return Err(Error::usage(format!(
                "{flag}{origin} contradicts {source} {}: {flag} means --ssl-mode {}; drop one of them",
                m.flag_value(),
                fits[0].flag_value()
            )));
        }
        (Some((m, _)), _) => m,
        (None, Some((_, implied, _))) => implied,
        (None, None) => SslMode::Preferred,
    };
    let mut warnings = Vec::new();
    if allow_invalid {
        warnings.push(
            "--allow-invalid-certificate: the server certificate is not verified; the connection \
             is encrypted but a man in the middle can read it"
                .to_string(),
        );
    }
    if skip_host {
        warnings.push(
            "--insecure-skip-hostname-verify: the server's host name is not checked; any \
             certificate from a trusted CA is accepted"
                .to_string(),
        );
    }
    let cert = cli.tls_cert.clone().or_else(|| file.tls_cert.clone());
    let key = cli.tls_key.clone().or_else(|| file.tls_key.clone());
    if cert.is_some() != key.is_some() {
        return Err(Error::usage(
            "--tls-cert and --tls-key go together: pass both or neither",
        ));
    }
    if mode == SslMode::Disabled && (cert.is_some() || ca_file.is_some()) {
        return Err(Error::usage(
            "--ssl-mode disabled contradicts --tls-cert/--tls-key: a client certificate needs TLS",
        ));
    }
    Ok(TlsChoice {
        mode,
        files: TlsFiles { ca_file, cert, key },
        warnings,
    })
}

/// The config file takes the mode in any case, like the flag and the URL.
impl<'de> Deserialize<'de> for SslMode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::from_str_ignore_case(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown ssl-mode '{s}' (use disabled, preferred, required, verify_ca or verify_identity)"
            ))
        })
    }
}

impl SslMode {
    pub(super) fn from_str_ignore_case(s: &str) -> Option<Self> {
        use clap::ValueEnum;
        let s = s.to_ascii_lowercase().replace('-', "_");
        Self::value_variants()
            .iter()
            .copied()
            .find(|v| v.to_possible_value().is_some_and(|p| p.get_name() == s))
    }
}

#[cfg(test)]
mod tests {
    use crate::cli::{Cli, SslMode};
    use crate::config::Config;
    use crate::config::tests::{URL, resolve};
    use crate::error::Error;
    use clap::Parser;

    fn tls_resolve(extra: &[&str]) -> Result<Config, Error> {
        let mut a = vec!["--db-url", URL, "-q", "x", "-o", "o"];
        a.extend_from_slice(extra);
        resolve(&a, &[])
    }

    /// A CA certificate generated once with openssl (v3, CA:TRUE), committed as a fixture.
    const CA_PEM: &str = include_str!("../../tests/data/tls/ca.pem");

    #[test]
    fn ssl_modes_and_legacy_flags_map_as_documented() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, CA_PEM).unwrap();
        let ca = ca.to_str().unwrap();
        let mode = |extra: &[&str]| tls_resolve(extra).map(|c| c.connect.ssl_mode);
        assert_eq!(mode(&[]).unwrap(), SslMode::Preferred);
        assert_eq!(
            mode(&["--ssl-mode", "DISABLED"]).unwrap(),
            SslMode::Disabled
        );
        assert_eq!(
            mode(&["--tls-ca-file", ca]).unwrap(),
            SslMode::VerifyIdentity
        );
        assert_eq!(mode(&["--ssl-ca", ca]).unwrap(), SslMode::VerifyIdentity);
        assert_eq!(
            mode(&["--tls-ca-file", ca, "--ssl-mode", "verify_ca"]).unwrap(),
            SslMode::VerifyCa
        );
        assert_eq!(
            mode(&["--allow-invalid-certificate"]).unwrap(),
            SslMode::Required
        );
        // The contradictions are usage errors naming both sides.
        for extra in [
            &["--tls-ca-file", ca, "--ssl-mode", "required"][..],
            &[
                "--allow-invalid-certificate",
                "--ssl-mode",
                "verify_identity",
            ][..],
            &["--insecure-skip-hostname-verify", "--ssl-mode", "disabled"][..],
        ] {
            let e = tls_resolve(extra).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{extra:?}");
            assert!(e.to_string().contains("contradicts"), "{e}");
        }
        let url_mode = format!("{URL}?ssl-mode=disabled");
        let e = resolve(
            &[
                "--db-url",
                &url_mode,
                "-q",
                "x",
                "-o",
                "o",
                "--allow-invalid-certificate",
            ],
            &[],
        )
        .unwrap_err();
        assert!(e.to_string().contains("ssl-mode in the URL"), "{e}");
        // The insecure flags leave a warning for stderr.
        assert_eq!(
            tls_resolve(&["--allow-invalid-certificate"])
                .unwrap()
                .warnings
                .len(),
            1
        );
        assert!(tls_resolve(&[]).unwrap().warnings.is_empty());
        // The three legacy flags exclude each other (clap's group).
        let cli = Cli::try_parse_from([
            "gold_digger",
            "--allow-invalid-certificate",
            "--insecure-skip-hostname-verify",
        ]);
        assert!(cli.is_err());
    }

    #[test]
    fn tls_settings_from_the_config_file_and_their_precedence() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, CA_PEM).unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            format!(
                "db-url = \"{URL}\"\nquery = \"x\"\noutput = \"o\"\nssl-mode = \"verify_ca\"\n\
                 tls-ca-file = {:?}\nget-server-public-key = true\n",
                ca.to_str().unwrap()
            ),
        )
        .unwrap();
        let f = file.to_str().unwrap();
        let c = resolve(&["--config", f], &[]).unwrap();
        assert_eq!(c.connect.ssl_mode, SslMode::VerifyCa);
        assert_eq!(c.connect.tls_ca_file.as_deref(), Some(ca.as_path()));
        assert!(c.connect.tls.is_some() && c.connect.get_server_public_key);
        // A legacy flag on the command line replaces the file's TLS choice.
        let c = resolve(&["--config", f, "--allow-invalid-certificate"], &[]).unwrap();
        assert_eq!(c.connect.ssl_mode, SslMode::Required);
        assert_eq!(c.connect.tls_ca_file, None);
        // --ssl-mode on the command line wins over the file's mode.
        let c = resolve(&["--config", f, "--ssl-mode", "verify_identity"], &[]).unwrap();
        assert_eq!(c.connect.ssl_mode, SslMode::VerifyIdentity);
        // Exclusive keys in the file are a config-file error.
        std::fs::write(
            &file,
            format!(
                "db-url = \"{URL}\"\nquery = \"x\"\noutput = \"o\"\n\
                 tls-ca-file = \"a.pem\"\nallow-invalid-certificate = true\n"
            ),
        )
        .unwrap();
        let e = resolve(&["--config", f], &[]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("exclude each other"), "{e}");
    }

    #[test]
    fn bad_tls_files_are_usage_errors_before_connecting() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let not_pem = dir.path().join("not.pem");
        std::fs::write(&not_pem, "hello, not a certificate\n").unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, CA_PEM).unwrap();
        let (missing, not_pem, ca) = (
            missing.to_str().unwrap(),
            not_pem.to_str().unwrap(),
            ca.to_str().unwrap(),
        );
        for extra in [
            &["--tls-ca-file", missing][..],
            &["--tls-ca-file", not_pem][..],
            // A certificate where the key belongs: wrong type.
            &["--tls-cert", ca, "--tls-key", ca][..],
            &["--tls-cert", ca][..],
            &["--server-public-key", ca][..],
        ] {
            let e = tls_resolve(extra).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{extra:?}: {e}");
            // Never the file's content.
            assert!(!e.to_string().contains("MII"), "{e}");
        }
    }
}
