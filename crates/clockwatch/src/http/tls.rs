//! TLS with rustls (ring): the server configuration built from the web
//! configuration, and a certificate resolver that re-reads the certificate
//! and key when they change on disk (cert-manager rotation), at most once a
//! second. A bad new pair (unreadable, half-written, mismatched) keeps the
//! old one in service and is logged.

use std::fmt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig, SupportedCipherSuite};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::webconfig::{canonical_suite, ClientAuth, TlsSettings, TlsVersion};

/// Files are looked at no more often than this.
pub const RELOAD_CHECK_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {what} {path}")]
    Read {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{what} {path} contains no PEM {kind}")]
    NoPem {
        what: &'static str,
        path: PathBuf,
        kind: &'static str,
    },
    #[error("invalid private key in {path}: {reason}")]
    BadKey { path: PathBuf, reason: String },
    #[error("the private key {key} does not match the certificate {cert}")]
    Mismatch { cert: PathBuf, key: PathBuf },
    #[error("invalid certificate pair {cert} / {key}: {reason}")]
    Pair {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
    #[error("invalid client CA file {path}: {reason}")]
    BadCa { path: PathBuf, reason: String },
    #[error("cannot build the TLS configuration: {0}")]
    Config(String),
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_path_buf(),
        source,
    })
}

fn read_certs(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(what, path)?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(TlsError::NoPem {
            what,
            path: path.to_path_buf(),
            kind: "certificate",
        });
    }
    Ok(certs)
}

/// Reads and checks a certificate chain and its private key.
pub fn load_pair(
    cert: &Path,
    key: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let chain = read_certs("certificate file", cert)?;
    let key_pem = read("key file", key)?;
    let der = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| TlsError::NoPem {
        what: "key file",
        path: key.to_path_buf(),
        kind: "private key",
    })?;
    let signing = provider
        .key_provider
        .load_private_key(der)
        .map_err(|e| TlsError::BadKey {
            path: key.to_path_buf(),
            reason: e.to_string(),
        })?;
    let pair = CertifiedKey::new(chain, signing);
    match pair.keys_match() {
        Ok(()) => Ok(pair),
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            Err(TlsError::Mismatch {
                cert: cert.to_path_buf(),
                key: key.to_path_buf(),
            })
        }
        Err(e) => Err(TlsError::Pair {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            reason: e.to_string(),
        }),
    }
}

/// Identity of a file's current content: device, inode, mtime, size.
type Stamp = Option<(u64, u64, i64, i64, u64)>;

fn stamp(path: &Path) -> Stamp {
    // metadata() follows symlinks: a Kubernetes Secret volume swaps the
    // `..data` link, which changes the inode seen here.
    let m = std::fs::metadata(path).ok()?;
    Some((m.dev(), m.ino(), m.mtime(), m.mtime_nsec(), m.size()))
}

struct State {
    current: Arc<CertifiedKey>,
    stamps: (Stamp, Stamp),
    checked: Instant,
}

/// Serves the certificate pair from disk, reloading it when the files change.
pub struct ReloadingCert {
    cert_file: PathBuf,
    key_file: PathBuf,
    provider: Arc<CryptoProvider>,
    state: Mutex<State>,
}

impl fmt::Debug for ReloadingCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReloadingCert")
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .finish()
    }
}

impl ReloadingCert {
    /// Loads the pair now; fails if it is unusable.
    pub fn new(cert: &Path, key: &Path, provider: Arc<CryptoProvider>) -> Result<Self, TlsError> {
        let stamps = (stamp(cert), stamp(key));
        let current = Arc::new(load_pair(cert, key, &provider)?);
        Ok(Self {
            cert_file: cert.to_path_buf(),
            key_file: key.to_path_buf(),
            provider,
            state: Mutex::new(State {
                current,
                stamps,
                checked: Instant::now(),
            }),
        })
    }

    /// The pair to serve, reloaded first if the files changed.
    pub fn current(&self) -> Arc<CertifiedKey> {
        let mut st = match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if st.checked.elapsed() >= RELOAD_CHECK_INTERVAL {
            st.checked = Instant::now();
            let now = (stamp(&self.cert_file), stamp(&self.key_file));
            if now != st.stamps {
                // Remember the new stamps even if loading fails, so that a
                // bad pair is reported once, and retried when it changes.
                st.stamps = now;
                match load_pair(&self.cert_file, &self.key_file, &self.provider) {
                    Ok(pair) => {
                        tracing::info!(cert = %self.cert_file.display(), "TLS certificate reloaded");
                        st.current = Arc::new(pair);
                    }
                    Err(e) => tracing::error!(
                        error = %e,
                        "TLS certificate changed but cannot be used; still serving the previous one"
                    ),
                }
            }
        }
        st.current.clone()
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

fn provider_for(s: &TlsSettings) -> CryptoProvider {
    let mut provider = rustls::crypto::ring::default_provider();
    if !s.cipher_suites.is_empty() {
        let wanted: Vec<&str> = s
            .cipher_suites
            .iter()
            .filter_map(|n| canonical_suite(n))
            .collect();
        provider.cipher_suites.retain(|cs| match cs {
            SupportedCipherSuite::Tls13(_) => true,
            SupportedCipherSuite::Tls12(_) => {
                let name = format!("{:?}", cs.suite());
                wanted.contains(&name.as_str())
            }
        });
    }
    if !s.curve_preferences.is_empty() {
        let all = std::mem::take(&mut provider.kx_groups);
        provider.kx_groups = s
            .curve_preferences
            .iter()
            .filter_map(|go| {
                let rustls_name = match go.as_str() {
                    "X25519" => rustls::NamedGroup::X25519,
                    "CurveP256" => rustls::NamedGroup::secp256r1,
                    "CurveP384" => rustls::NamedGroup::secp384r1,
                    _ => return None,
                };
                all.iter().find(|g| g.name() == rustls_name).copied()
            })
            .collect();
    }
    provider
}

/// Builds the rustls server configuration; reads and checks every file.
pub fn server_config(s: &TlsSettings) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(provider_for(s));
    let resolver = Arc::new(ReloadingCert::new(
        &s.cert_file,
        &s.key_file,
        provider.clone(),
    )?);
    let mut versions: Vec<&'static rustls::SupportedProtocolVersion> = Vec::new();
    if s.min_version <= TlsVersion::Tls12 && s.max_version >= TlsVersion::Tls12 {
        versions.push(&rustls::version::TLS12);
    }
    if s.max_version >= TlsVersion::Tls13 {
        versions.push(&rustls::version::TLS13);
    }
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let builder = match (s.client_auth, &s.client_ca_file) {
        (ClientAuth::None, _) | (_, None) => builder.with_no_client_auth(),
        (auth, Some(ca)) => {
            let mut roots = RootCertStore::empty();
            for cert in read_certs("client CA file", ca)? {
                roots.add(cert).map_err(|e| TlsError::BadCa {
                    path: ca.clone(),
                    reason: e.to_string(),
                })?;
            }
            let mut vb = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            if auth == ClientAuth::VerifyIfGiven {
                vb = vb.allow_unauthenticated();
            }
            let verifier = vb.build().map_err(|e| TlsError::BadCa {
                path: ca.clone(),
                reason: e.to_string(),
            })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_cert_resolver(resolver);
    config.ignore_client_order = s.prefer_server_cipher_suites;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
