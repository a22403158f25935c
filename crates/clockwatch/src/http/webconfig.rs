//! The web configuration file (`--web.config.file`), in the format of the
//! Prometheus exporter-toolkit: `tls_server_config`, `basic_auth_users`,
//! `http_server_config`. Parsing is strict (unknown keys are errors) and
//! pure: [`WebConfig::parse`] touches no file, so it can be fuzzed; the TLS
//! files are read by [`super::tls`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// What is wrong with a web configuration; every message names the key.
#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    #[error("cannot read web config {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid web config: {0}")]
    Syntax(String),
    #[error("invalid web config: {key}: {reason}")]
    Invalid { key: String, reason: String },
}

fn invalid(key: impl Into<String>, reason: impl Into<String>) -> WebConfigError {
    WebConfigError::Invalid {
        key: key.into(),
        reason: reason.into(),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    tls_server_config: Option<RawTls>,
    basic_auth_users: Option<BTreeMap<String, String>>,
    http_server_config: Option<RawHttp>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert_file: Option<String>,
    key_file: Option<String>,
    cert: Option<String>,
    key: Option<String>,
    client_ca_file: Option<String>,
    client_ca: Option<String>,
    client_auth_type: Option<String>,
    min_version: Option<String>,
    max_version: Option<String>,
    cipher_suites: Option<Vec<String>>,
    curve_preferences: Option<Vec<String>>,
    prefer_server_cipher_suites: Option<bool>,
    client_allowed_sans: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    http2: Option<bool>,
    headers: Option<BTreeMap<String, String>>,
}

/// A validated web configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebConfig {
    pub tls: Option<TlsSettings>,
    /// user -> bcrypt hash (validated as one).
    pub basic_auth_users: BTreeMap<String, String>,
    /// Extra response headers (only the exporter-toolkit's allowed set).
    pub headers: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// No client certificate is asked for.
    None,
    /// A certificate is optional, but verified against the CA when given.
    VerifyIfGiven,
    /// A certificate signed by the CA is required.
    RequireAndVerify,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub client_ca_file: Option<PathBuf>,
    pub client_auth: ClientAuth,
    pub min_version: TlsVersion,
    pub max_version: TlsVersion,
    /// TLS 1.2 suites by their IANA/Go names (empty: the default set).
    pub cipher_suites: Vec<String>,
    /// Go curve names (empty: the default set).
    pub curve_preferences: Vec<String>,
    pub prefer_server_cipher_suites: bool,
}

/// Response headers that may be set, and the values allowed for some of
/// them (as the exporter-toolkit restricts them). Anything else, such as
/// Content-Type or Content-Length, would break responses and is refused.
const ALLOWED_HEADERS: &[(&str, &[&str])] = &[
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
    ("Content-Security-Policy", &[]),
];

/// TLS 1.2 suites rustls (ring) offers, by IANA name; Go's short names for
/// the ChaCha20 suites are accepted too.
pub const TLS12_SUITES: &[&str] = &[
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
];

/// Curves (Go names) rustls (ring) offers.
pub const CURVES: &[&str] = &["X25519", "CurveP256", "CurveP384"];

impl WebConfig {
    /// Reads and validates the file; relative paths in it are taken
    /// relative to the file's directory, as the exporter-toolkit does.
    pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| WebConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        Self::parse(&text, base)
    }

    /// Validates a configuration text without touching any file.
    pub fn parse(text: &str, base_dir: &Path) -> Result<WebConfig, WebConfigError> {
        let raw: RawConfig = if text.trim().is_empty() {
            RawConfig::default()
        } else {
            serde_norway::from_str::<Option<RawConfig>>(text)
                .map_err(|e| WebConfigError::Syntax(e.to_string()))?
                .unwrap_or_default()
        };
        let tls = raw
            .tls_server_config
            .map(|t| tls_settings(t, base_dir))
            .transpose()?;
        let basic_auth_users = raw.basic_auth_users.unwrap_or_default();
        for (user, hash) in &basic_auth_users {
            check_user(user, hash)?;
        }
        let mut headers = Vec::new();
        if let Some(http) = raw.http_server_config {
            // http2 is accepted for compatibility; clockwatch speaks HTTP/1.1.
            let _ = http.http2;
            for (name, value) in http.headers.unwrap_or_default() {
                headers.push(check_header(&name, &value)?);
            }
        }
        Ok(WebConfig {
            tls,
            basic_auth_users,
            headers,
        })
    }
}

fn resolve(base: &Path, key: &str, p: &str) -> Result<PathBuf, WebConfigError> {
    if p.is_empty() {
        return Err(invalid(key, "must not be empty"));
    }
    let p = Path::new(p);
    Ok(if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    })
}

fn version(key: &str, v: &str) -> Result<TlsVersion, WebConfigError> {
    match v {
        "TLS12" => Ok(TlsVersion::Tls12),
        "TLS13" => Ok(TlsVersion::Tls13),
        "TLS10" | "TLS11" => Err(invalid(
            key,
            format!("{v} is not supported (rustls speaks TLS12 and TLS13 only)"),
        )),
        other => Err(invalid(
            key,
            format!("unknown version {other:?} (use TLS12 or TLS13)"),
        )),
    }
}

fn tls_settings(t: RawTls, base: &Path) -> Result<TlsSettings, WebConfigError> {
    const P: &str = "tls_server_config";
    if t.cert.is_some() || t.key.is_some() || t.client_ca.is_some() {
        return Err(invalid(
            P,
            "inline cert, key and client_ca are not supported; use cert_file, key_file and client_ca_file",
        ));
    }
    if t.client_allowed_sans.is_some() {
        return Err(invalid(
            format!("{P}.client_allowed_sans"),
            "is not supported; issue client certificates from a dedicated CA instead",
        ));
    }
    let cert_file = match t.cert_file.as_deref() {
        Some(f) => resolve(base, "tls_server_config.cert_file", f)?,
        None => return Err(invalid(format!("{P}.cert_file"), "is required")),
    };
    let key_file = match t.key_file.as_deref() {
        Some(f) => resolve(base, "tls_server_config.key_file", f)?,
        None => return Err(invalid(format!("{P}.key_file"), "is required")),
    };
    let client_ca_file = t
        .client_ca_file
        .as_deref()
        .map(|f| resolve(base, "tls_server_config.client_ca_file", f))
        .transpose()?;
    let client_auth = match t.client_auth_type.as_deref().unwrap_or("NoClientCert") {
        "NoClientCert" => ClientAuth::None,
        "VerifyClientCertIfGiven" => ClientAuth::VerifyIfGiven,
        "RequireAndVerifyClientCert" => ClientAuth::RequireAndVerify,
        v @ ("RequestClientCert" | "RequireAnyClientCert") => {
            return Err(invalid(
                format!("{P}.client_auth_type"),
                format!("{v} accepts client certificates without verifying them, which proves nothing; use RequireAndVerifyClientCert (or VerifyClientCertIfGiven) with client_ca_file"),
            ))
        }
        other => {
            return Err(invalid(
                format!("{P}.client_auth_type"),
                format!("unknown value {other:?} (use NoClientCert, VerifyClientCertIfGiven or RequireAndVerifyClientCert)"),
            ))
        }
    };
    match (client_auth, &client_ca_file) {
        (ClientAuth::None, Some(_)) => {
            return Err(invalid(
                format!("{P}.client_ca_file"),
                "is set but client_auth_type is NoClientCert, so client certificates would not be checked; set client_auth_type: RequireAndVerifyClientCert",
            ))
        }
        (ClientAuth::VerifyIfGiven | ClientAuth::RequireAndVerify, None) => {
            return Err(invalid(
                format!("{P}.client_auth_type"),
                "verifying client certificates needs client_ca_file (the CA that signs them)",
            ))
        }
        _ => {}
    }
    let min_version = match t.min_version.as_deref() {
        Some(v) => version(&format!("{P}.min_version"), v)?,
        None => TlsVersion::Tls12,
    };
    let max_version = match t.max_version.as_deref() {
        Some(v) => version(&format!("{P}.max_version"), v)?,
        None => TlsVersion::Tls13,
    };
    if min_version > max_version {
        return Err(invalid(
            format!("{P}.min_version"),
            "is higher than max_version",
        ));
    }
    let cipher_suites = t.cipher_suites.unwrap_or_default();
    for s in &cipher_suites {
        if canonical_suite(s).is_none() {
            return Err(invalid(
                format!("{P}.cipher_suites"),
                format!(
                    "unsupported suite {s:?} (supported, TLS 1.2 only; TLS 1.3 suites are not configurable): {}",
                    TLS12_SUITES.join(", ")
                ),
            ));
        }
    }
    if !cipher_suites.is_empty() && min_version == TlsVersion::Tls13 {
        return Err(invalid(
            format!("{P}.cipher_suites"),
            "only applies to TLS 1.2, but min_version is TLS13",
        ));
    }
    let curve_preferences = t.curve_preferences.unwrap_or_default();
    for c in &curve_preferences {
        if !CURVES.contains(&c.as_str()) {
            return Err(invalid(
                format!("{P}.curve_preferences"),
                format!("unsupported curve {c:?} (supported: {})", CURVES.join(", ")),
            ));
        }
    }
    Ok(TlsSettings {
        cert_file,
        key_file,
        client_ca_file,
        client_auth,
        min_version,
        max_version,
        cipher_suites,
        curve_preferences,
        prefer_server_cipher_suites: t.prefer_server_cipher_suites.unwrap_or(true),
    })
}

/// The IANA name of a TLS 1.2 suite given by its IANA or Go name.
pub fn canonical_suite(name: &str) -> Option<&'static str> {
    let full = match name {
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305" => "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305" => "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        other => other,
    };
    TLS12_SUITES.iter().copied().find(|s| *s == full)
}

fn check_user(user: &str, hash: &str) -> Result<(), WebConfigError> {
    let key = format!("basic_auth_users.{user}");
    if user.is_empty() || user.contains(':') || user.chars().any(char::is_control) {
        return Err(invalid(
            key,
            "user names must be non-empty, without ':' or control characters",
        ));
    }
    let looks_bcrypt = ["$2a$", "$2b$", "$2x$", "$2y$"]
        .iter()
        .any(|p| hash.starts_with(p));
    if !looks_bcrypt || hash.len() != 60 || hash.parse::<bcrypt::HashParts>().is_err() {
        return Err(invalid(
            key,
            "is not a bcrypt hash; store the hash, never the password (e.g. `htpasswd -nBC 10 USER`, keep the part after ':')",
        ));
    }
    Ok(())
}

fn check_header(name: &str, value: &str) -> Result<(String, String), WebConfigError> {
    let key = format!("http_server_config.headers.{name}");
    let Some((canonical, allowed)) = ALLOWED_HEADERS
        .iter()
        .find(|(h, _)| h.eq_ignore_ascii_case(name))
    else {
        let names: Vec<&str> = ALLOWED_HEADERS.iter().map(|(h, _)| *h).collect();
        return Err(invalid(
            key,
            format!("this header may not be set (allowed: {})", names.join(", ")),
        ));
    };
    if !allowed.is_empty() && !allowed.iter().any(|v| v.eq_ignore_ascii_case(value)) {
        return Err(invalid(
            key,
            format!("invalid value {value:?} (allowed: {})", allowed.join(", ")),
        ));
    }
    if value.is_empty() || hyper::header::HeaderValue::from_str(value).is_err() {
        return Err(invalid(key, "is not a valid header value"));
    }
    Ok(((*canonical).to_string(), value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<WebConfig, WebConfigError> {
        WebConfig::parse(s, Path::new("/etc/cw"))
    }

    #[test]
    fn empty_is_plain_http() {
        assert_eq!(parse("").ok(), Some(WebConfig::default()));
        assert_eq!(parse("# nothing\n").ok(), Some(WebConfig::default()));
    }

    #[test]
    fn full_config() {
        let hash = bcrypt::hash("pw", 4).expect("hash");
        let c = parse(&format!(
            "tls_server_config:\n  cert_file: tls.crt\n  key_file: /k/tls.key\n  client_ca_file: ca.crt\n  client_auth_type: RequireAndVerifyClientCert\n  min_version: TLS13\n  curve_preferences: [X25519]\nbasic_auth_users:\n  prom: '{hash}'\nhttp_server_config:\n  http2: false\n  headers:\n    x-frame-options: deny\n"
        ))
        .expect("valid");
        let tls = c.tls.expect("tls");
        assert_eq!(tls.cert_file, Path::new("/etc/cw/tls.crt"));
        assert_eq!(tls.key_file, Path::new("/k/tls.key"));
        assert_eq!(tls.client_auth, ClientAuth::RequireAndVerify);
        assert_eq!(tls.min_version, TlsVersion::Tls13);
        assert_eq!(c.headers, vec![("X-Frame-Options".into(), "deny".into())]);
    }

    fn err(s: &str) -> String {
        match parse(s) {
            Ok(c) => panic!("accepted: {c:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn refusals() {
        assert!(err("foo: 1\n").contains("unknown field `foo`"));
        assert!(
            err("tls_server_config:\n  cert_file: a\n  key_file: b\n  bogus: 1\n")
                .contains("unknown field `bogus`")
        );
        assert!(err("basic_auth_users:\n  prom: secret\n").contains("is not a bcrypt hash"));
        assert!(err("tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequireAndVerifyClientCert\n").contains("needs client_ca_file"));
        assert!(
            err("tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS10\n")
                .contains("TLS10 is not supported")
        );
        assert!(err("tls_server_config:\n  key_file: b\n").contains("cert_file: is required"));
        assert!(
            err("http_server_config:\n  headers:\n    Content-Type: text/html\n")
                .contains("may not be set")
        );
        assert!(
            err("http_server_config:\n  headers:\n    X-Frame-Options: allow\n")
                .contains("invalid value")
        );
        assert!(err("tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n").contains("unsupported suite"));
        assert!(err(
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  curve_preferences: [CurveP521]\n"
        )
        .contains("unsupported curve"));
        assert!(err("tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequireAnyClientCert\n  client_ca_file: c\n").contains("without verifying"));
        assert!(err("- a\n").contains("invalid web config"));
    }
}
