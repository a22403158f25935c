//! The evidence bundle (`--bundle DIR`), its signature (`--sign-key`),
//! `verify` and `keygen`.
//!
//! A bundle is a directory:
//!
//! | file | holds |
//! |---|---|
//! | `report.md`, `report.html`, `report.csv`, `report.json` | the report in every format |
//! | `queries/NNNN.json` | the raw body of every Prometheus answer, byte for byte |
//! | `queries/index.json` | for each of them: the PromQL, range, step and HTTP status |
//! | `MANIFEST` | `SHA-256  path` per file, sorted, as `sha256sum` writes it (`sha256sum -c MANIFEST` checks it) |
//! | `MANIFEST.sig` | with `--sign-key`: the 64-byte Ed25519 signature over `MANIFEST` (`openssl pkeyutl -verify -rawin` checks it) |
//! | `signer.pub.pem` | with `--sign-key`: the signer's public key (SPKI PEM), for information |
//!
//! The signature shows that the bundle is as the key holder's run wrote it;
//! it does not show that Prometheus' data was right (see docs/compliance.md).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use super::timeparse::format_ms;

/// The manifest.
pub const MANIFEST: &str = "MANIFEST";
/// The detached signature.
pub const SIGNATURE: &str = "MANIFEST.sig";
/// The signer's public key, shipped for information.
pub const SIGNER_PUB: &str = "signer.pub.pem";

/// What can go wrong with a bundle or a key.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// A key file is not what it should be.
    #[error("{path}: {detail}")]
    Key {
        /// File.
        path: String,
        /// What is wrong.
        detail: String,
    },
    /// The bundle directory is not empty.
    #[error("--bundle {0}: the directory exists and is not empty; a bundle is written into a new or empty directory")]
    NotEmpty(String),
    /// The bundle does not match its manifest or signature.
    #[error("{0}")]
    Mismatch(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BundleError + '_ {
    move |source| BundleError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Reads an Ed25519 private key, PKCS#8 PEM (`openssl genpkey -algorithm ed25519`).
pub fn read_signing_key(path: &Path) -> Result<SigningKey, BundleError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    SigningKey::from_pkcs8_pem(&text).map_err(|e| BundleError::Key {
        path: path.display().to_string(),
        detail: format!("not an Ed25519 private key in PKCS#8 PEM ({e}); make one with `clockwatch report keygen` or `openssl genpkey -algorithm ed25519`"),
    })
}

/// Reads an Ed25519 public key, SPKI PEM (`openssl pkey -pubout`).
pub fn read_verifying_key(path: &Path) -> Result<VerifyingKey, BundleError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    parse_verifying_key(&text).map_err(|detail| BundleError::Key {
        path: path.display().to_string(),
        detail,
    })
}

fn parse_verifying_key(text: &str) -> Result<VerifyingKey, String> {
    VerifyingKey::from_public_key_pem(text).map_err(|e| {
        format!("not an Ed25519 public key in SPKI PEM ({e}); `openssl pkey -in KEY -pubout` writes one")
    })
}

/// SHA-256 of the key's SPKI DER: a fingerprint to write down.
pub fn fingerprint(key: &VerifyingKey) -> String {
    key.to_public_key_der()
        .map(|d| sha256_hex(d.as_bytes()))
        .unwrap_or_else(|_| hex::encode(key.as_bytes()))
}

/// Writes a new key pair; refuses to overwrite. The private key file is
/// created with mode 0600.
pub fn keygen(private: &Path, public: &Path) -> Result<String, BundleError> {
    let key = SigningKey::generate(&mut rand_core::OsRng);
    // PKCS#8 v1 (the private key alone), as openssl writes it: openssl
    // refuses the v2 form with the public key inside.
    let v1 = ed25519_dalek::pkcs8::KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: None,
    };
    let pem = v1
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| BundleError::Key {
            path: private.display().to_string(),
            detail: e.to_string(),
        })?;
    let pubpem = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| BundleError::Key {
            path: public.display().to_string(),
            detail: e.to_string(),
        })?;
    write_new(private, pem.as_bytes(), 0o600)?;
    write_new(public, pubpem.as_bytes(), 0o644)?;
    Ok(fingerprint(&key.verifying_key()))
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), BundleError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(io(path))?;
    f.write_all(bytes).map_err(io(path))
}

/// One answer written to the bundle as it arrived.
#[derive(Debug, Clone, PartialEq)]
pub struct Spooled {
    /// Path inside the bundle (`queries/NNNN.json`).
    pub file: String,
    /// PromQL.
    pub query: String,
    /// Evaluation range and step, unix ms.
    pub start_ms: i64,
    /// End.
    pub end_ms: i64,
    /// Step.
    pub step_ms: i64,
    /// HTTP status.
    pub status: u16,
    /// SHA-256 of the body, hex.
    pub sha256: String,
}

/// The bundle being written: every answer goes to `queries/` as it
/// arrives and only its name and hash stay in memory, so a bundle of a
/// large fleet costs disk, not memory. Dropped without [`write`] (the
/// report failed), it removes what it wrote.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    created_dir: bool,
    state: Mutex<SpoolState>,
}

#[derive(Debug, Default)]
struct SpoolState {
    entries: Vec<Spooled>,
    error: Option<BundleError>,
    done: bool,
}

impl Spool {
    /// Starts a bundle in `dir`, which must be new or empty.
    pub fn create(dir: &Path) -> Result<Self, BundleError> {
        let existed = dir.exists();
        if existed {
            let mut entries = std::fs::read_dir(dir).map_err(io(dir))?;
            if entries.next().is_some() {
                return Err(BundleError::NotEmpty(dir.display().to_string()));
            }
        }
        let qdir = dir.join("queries");
        std::fs::create_dir_all(&qdir).map_err(io(&qdir))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            created_dir: !existed,
            state: Mutex::new(SpoolState::default()),
        })
    }

    /// Writes one answer, byte for byte. A failure is kept and returned by
    /// [`write`] (the report goes on; its bundle will not be written).
    pub fn record(
        &self,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
        status: u16,
        body: &[u8],
    ) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        if st.error.is_some() {
            return;
        }
        let file = format!("queries/{:04}.json", st.entries.len() + 1);
        let path = self.dir.join(&file);
        match std::fs::write(&path, body) {
            Ok(()) => st.entries.push(Spooled {
                file,
                query: query.to_string(),
                start_ms,
                end_ms,
                step_ms,
                status,
                sha256: sha256_hex(body),
            }),
            Err(e) => st.error = Some(io(&path)(e)),
        }
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let done = self.state.lock().map_or(true, |st| st.done);
        if !done {
            let _ = std::fs::remove_dir_all(self.dir.join("queries"));
            if self.created_dir {
                let _ = std::fs::remove_dir(&self.dir);
            }
        }
    }
}

/// Finishes the bundle `spool` started: the rendered report files `(name,
/// text)`, the index of the answers, the manifest and, with a key, the
/// signature.
pub fn write(
    spool: &Spool,
    reports: &[(&str, String)],
    key: Option<&SigningKey>,
) -> Result<(), BundleError> {
    let dir = spool.dir.as_path();
    let mut st = spool
        .state
        .lock()
        .map_err(|_| BundleError::Mismatch("the bundle's state was poisoned".to_string()))?;
    if let Some(e) = st.error.take() {
        return Err(e);
    }
    let mut files: Vec<(String, Vec<u8>)> = reports
        .iter()
        .map(|(name, text)| (name.to_string(), text.as_bytes().to_vec()))
        .collect();
    let index: Vec<serde_json::Value> = st
        .entries
        .iter()
        .map(|r| {
            serde_json::json!({
                "file": r.file,
                "query": r.query,
                "start": format_ms(r.start_ms),
                "end": format_ms(r.end_ms),
                "step_seconds": r.step_ms as f64 / 1000.0,
                "http_status": r.status,
            })
        })
        .collect();
    let mut idx = serde_json::to_vec_pretty(&index).unwrap_or_default();
    idx.push(b'\n');
    files.push(("queries/index.json".to_string(), idx));
    if let Some(k) = key {
        let pem = k
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| BundleError::Key {
                path: SIGNER_PUB.to_string(),
                detail: e.to_string(),
            })?;
        files.push((SIGNER_PUB.to_string(), pem.into_bytes()));
    }
    let mut listed: Vec<(String, String)> = Vec::with_capacity(files.len() + st.entries.len());
    for (name, bytes) in &files {
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(io(&path))?;
        listed.push((name.clone(), sha256_hex(bytes)));
    }
    listed.extend(
        st.entries
            .iter()
            .map(|r| (r.file.clone(), r.sha256.clone())),
    );
    listed.sort();
    let mut manifest = String::new();
    for (name, hash) in &listed {
        let _ = writeln!(manifest, "{hash}  {name}");
    }
    let mpath = dir.join(MANIFEST);
    std::fs::write(&mpath, manifest.as_bytes()).map_err(io(&mpath))?;
    if let Some(k) = key {
        let sig = k.sign(manifest.as_bytes());
        let spath = dir.join(SIGNATURE);
        std::fs::write(&spath, sig.to_bytes()).map_err(io(&spath))?;
    }
    st.done = true;
    Ok(())
}

/// The result of a successful verification.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// Files checked.
    pub files: usize,
    /// Signature: `None` unsigned; `Some((fingerprint, trusted))`, trusted
    /// when checked against `--key` rather than the bundled key.
    pub signature: Option<(String, bool)>,
}

/// Checks every hash in the manifest, that no file is missing or extra, and
/// the signature (against `key`, else against the bundled public key).
pub fn verify(dir: &Path, key: Option<&Path>) -> Result<Verified, BundleError> {
    let mpath = dir.join(MANIFEST);
    let manifest = std::fs::read(&mpath).map_err(io(&mpath))?;
    let text = std::str::from_utf8(&manifest)
        .map_err(|_| BundleError::Mismatch(format!("{}: not UTF-8 text", mpath.display())))?;
    let mut listed = BTreeSet::new();
    let mut problems = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let Some((hash, name)) = line.split_once("  ") else {
            problems.push(format!("MANIFEST line {}: not `SHA256  path`", n + 1));
            continue;
        };
        let bad_name = name.is_empty()
            || name.starts_with('/')
            || name
                .split('/')
                .any(|c| c == ".." || c == "." || c.is_empty());
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) || bad_name {
            problems.push(format!("MANIFEST line {}: not `SHA256  path`", n + 1));
            continue;
        }
        if [MANIFEST, SIGNATURE].contains(&name) || !listed.insert(name.to_string()) {
            problems.push(format!(
                "MANIFEST line {}: {name} listed twice or not allowed",
                n + 1
            ));
            continue;
        }
        match std::fs::read(dir.join(name)) {
            Ok(bytes) => {
                let got = sha256_hex(&bytes);
                if !got.eq_ignore_ascii_case(hash) {
                    problems.push(format!(
                        "{name}: SHA-256 {got} does not match the MANIFEST's {hash}: the file was changed after the report was made"
                    ));
                }
            }
            Err(e) => problems.push(format!(
                "{name}: listed in MANIFEST but cannot be read: {e}"
            )),
        }
    }
    let mut present = Vec::new();
    list_files(dir, dir, &mut present).map_err(io(dir))?;
    for f in present {
        if f != MANIFEST && f != SIGNATURE && !listed.contains(&f) {
            problems.push(format!("{f}: present but not listed in MANIFEST"));
        }
    }
    let spath = dir.join(SIGNATURE);
    let signature = match std::fs::read(&spath) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(k) = key {
                problems.push(format!(
                    "the bundle is not signed ({SIGNATURE} missing) but --key {} was given",
                    k.display()
                ));
            }
            None
        }
        Err(e) => return Err(io(&spath)(e)),
        Ok(sig) => {
            let (vk, trusted) = match key {
                Some(k) => (read_verifying_key(k)?, true),
                None => {
                    let p = dir.join(SIGNER_PUB);
                    let text = std::fs::read_to_string(&p).map_err(io(&p))?;
                    (
                        parse_verifying_key(&text).map_err(|d| BundleError::Key {
                            path: p.display().to_string(),
                            detail: d,
                        })?,
                        false,
                    )
                }
            };
            let fp = fingerprint(&vk);
            match <[u8; 64]>::try_from(sig.as_slice()) {
                Err(_) => problems.push(format!(
                    "{SIGNATURE}: {} bytes, an Ed25519 signature has 64",
                    sig.len()
                )),
                Ok(bytes) => {
                    if vk
                        .verify_strict(&manifest, &Signature::from_bytes(&bytes))
                        .is_err()
                    {
                        problems.push(format!(
                            "{SIGNATURE}: the signature does not verify over MANIFEST with the key {fp}: the manifest or the signature was changed, or it was signed with another key"
                        ));
                    }
                }
            }
            Some((fp, trusted))
        }
    };
    if problems.is_empty() {
        Ok(Verified {
            files: listed.len(),
            signature,
        })
    } else {
        Err(BundleError::Mismatch(problems.join("\n")))
    }
}

fn list_files(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let p: PathBuf = e.path();
        if e.file_type()?.is_dir() {
            list_files(root, &p, out)?;
        } else if let Ok(rel) = p.strip_prefix(root) {
            out.push(rel.to_string_lossy().into_owned());
        }
    }
    Ok(())
}

/// `clockwatch report verify` and `clockwatch report keygen`.
#[derive(Debug, clap::Parser)]
#[command(name = "clockwatch-report")]
pub struct ToolCli {
    #[command(subcommand)]
    pub cmd: Tool,
}

/// The bundle tools.
#[derive(Debug, clap::Subcommand)]
pub enum Tool {
    /// Check a bundle: every file against MANIFEST, and the signature.
    Verify {
        /// The bundle directory.
        dir: PathBuf,
        /// The signer's public key (SPKI PEM) you trust; without it the
        /// signature is checked against the key inside the bundle, which
        /// shows integrity but not who signed.
        #[arg(long)]
        key: Option<PathBuf>,
    },
    /// Make an Ed25519 key pair for --sign-key.
    Keygen {
        /// Private key to write (PKCS#8 PEM, mode 0600; not overwritten).
        #[arg(long)]
        private: PathBuf,
        /// Public key to write (SPKI PEM; not overwritten).
        #[arg(long)]
        public: PathBuf,
    },
}

/// Runs a tool: 0 good, 1 the bundle does not verify, 2 error.
pub fn run_tool(tool: Tool) -> std::process::ExitCode {
    use std::process::ExitCode;
    match tool {
        Tool::Verify { dir, key } => match verify(&dir, key.as_deref()) {
            Ok(v) => {
                let sig = match v.signature {
                    None => "not signed".to_string(),
                    Some((fp, true)) => format!("signature valid for the given key (SHA-256 {fp})"),
                    Some((fp, false)) => format!(
                        "signature valid for the key inside the bundle (SHA-256 {fp}); pass --key with the key you trust to check who signed"
                    ),
                };
                println!(
                    "clockwatch report verify: OK: {} files match MANIFEST; {sig}",
                    v.files
                );
                ExitCode::SUCCESS
            }
            Err(BundleError::Mismatch(m)) => {
                eprintln!("clockwatch report verify: FAILED: {}", dir.display());
                for l in m.lines() {
                    eprintln!("  {l}");
                }
                ExitCode::from(1)
            }
            Err(e) => {
                eprintln!("clockwatch report verify: error: {e}");
                ExitCode::from(2)
            }
        },
        Tool::Keygen { private, public } => match keygen(&private, &public) {
            Ok(fp) => {
                println!(
                    "clockwatch report keygen: wrote {} (keep it secret) and {}; public key SHA-256 {fp}",
                    private.display(),
                    public.display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("clockwatch report keygen: error: {e}");
                ExitCode::from(2)
            }
        },
    }
}
