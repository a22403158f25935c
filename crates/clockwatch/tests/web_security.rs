//! The web configuration end to end: the real binary (timex-only mode, so no
//! chronyd is needed) with certificates generated here, talked to by a
//! rustls client.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    SerialNumber,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

struct Leaf {
    cert_pem: String,
    key_pem: String,
    der: CertificateDer<'static>,
}

impl Ca {
    fn new() -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().expect("key");
        Ca {
            issuer: CertifiedIssuer::self_signed(params, key).expect("ca"),
        }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    fn leaf(&self, serial: u64, client: bool) -> Leaf {
        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .expect("params");
        params.serial_number = Some(SerialNumber::from(serial));
        params.extended_key_usages = vec![if client {
            ExtendedKeyUsagePurpose::ClientAuth
        } else {
            ExtendedKeyUsagePurpose::ServerAuth
        }];
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.issuer).expect("sign");
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
        }
    }
}

/// Replaces a file the way an atomic writer does (new inode).
fn write_atomic(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn command(config: &Path, port: u16) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_clockwatch"));
    cmd.arg("serve")
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--chrony.address=none")
        .arg(format!("--web.config.file={}", config.display()))
        .env_remove("CLOCKWATCH_WEB_CONFIG_FILE");
    cmd
}

fn start(config: &Path) -> Server {
    let port = free_port();
    let child = command(config, port)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn clockwatch");
    let mut server = Server { child, port };
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!("clockwatch exited early: {status}");
        }
        assert!(Instant::now() < deadline, "clockwatch did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

/// Runs clockwatch with a config that must be refused: (exit code, stderr).
fn refused(config: &Path) -> (Option<i32>, String) {
    let mut child = command(config, free_port())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn clockwatch");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("clockwatch started with a config it should refuse");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn client_config(ca_pem: &str, client: Option<&Leaf>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::pem::PemObject;
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).expect("ca pem"))
        .expect("root");
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots);
    Arc::new(match client {
        None => builder.with_no_client_auth(),
        Some(leaf) => builder
            .with_client_auth_cert(
                vec![leaf.der.clone()],
                PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes()).expect("key"),
            )
            .expect("client auth"),
    })
}

struct Reply {
    head: String,
    peer_cert: Option<CertificateDer<'static>>,
}

impl Reply {
    fn status(&self) -> u16 {
        self.head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

fn request_text(path: &str, auth: Option<(&str, &str)>) -> String {
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    if let Some((u, p)) = auth {
        let b = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
        req.push_str(&format!("Authorization: Basic {b}\r\n"));
    }
    req.push_str("\r\n");
    req
}

/// One HTTPS request; Err if TLS or the exchange fails.
fn https(
    port: u16,
    config: Arc<rustls::ClientConfig>,
    path: &str,
    auth: Option<(&str, &str)>,
) -> Result<Reply, String> {
    let tcp = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let name = ServerName::try_from("localhost").map_err(|e| e.to_string())?;
    let conn = rustls::ClientConnection::new(config, name).map_err(|e| e.to_string())?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(request_text(path, auth).as_bytes())
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    match tls.read_to_end(&mut buf) {
        Ok(_) => {}
        // Connection: close without close_notify still carries the reply.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !buf.is_empty() => {}
        Err(e) => return Err(e.to_string()),
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    let head = text.split("\r\n\r\n").next().unwrap_or("").to_string();
    if !head.starts_with("HTTP/1.1 ") {
        return Err(format!("no HTTP reply: {text:?}"));
    }
    let peer_cert = tls
        .conn
        .peer_certificates()
        .and_then(|c| c.first().cloned());
    Ok(Reply { head, peer_cert })
}

struct Setup {
    dir: tempfile::TempDir,
    ca: Ca,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = Ca::new();
        std::fs::write(dir.path().join("ca.crt"), ca.pem()).expect("write");
        let server = ca.leaf(1001, false);
        write_atomic(&dir.path().join("tls.crt"), &server.cert_pem);
        write_atomic(&dir.path().join("tls.key"), &server.key_pem);
        Setup { dir, ca }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn config(&self, text: &str) -> PathBuf {
        let p = self.path("web.yml");
        std::fs::write(&p, text).expect("write config");
        p
    }
}

const TLS: &str = "tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n";

#[test]
fn tls_serves_and_plain_http_fails() {
    let s = Setup::new();
    let server = start(&s.config(TLS));
    let reply = https(
        server.port,
        client_config(&s.ca.pem(), None),
        "/metrics",
        None,
    )
    .expect("https");
    assert_eq!(reply.status(), 200, "{}", reply.head);

    // Plain HTTP to the TLS port gets no HTTP answer.
    let mut tcp = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    tcp.write_all(request_text("/metrics", None).as_bytes())
        .expect("write");
    let mut buf = Vec::new();
    let _ = tcp.read_to_end(&mut buf);
    assert!(
        !buf.starts_with(b"HTTP/"),
        "plain HTTP was answered: {:?}",
        String::from_utf8_lossy(&buf)
    );

    // A client that trusts another CA refuses the server.
    let other = Ca::new();
    assert!(https(
        server.port,
        client_config(&other.pem(), None),
        "/metrics",
        None
    )
    .is_err());
}

#[test]
fn client_certificate_required() {
    let s = Setup::new();
    let config = s.config(&format!(
        "{TLS}  client_ca_file: ca.crt\n  client_auth_type: RequireAndVerifyClientCert\n"
    ));
    let server = start(&config);
    let client = s.ca.leaf(2001, true);
    let ok = https(
        server.port,
        client_config(&s.ca.pem(), Some(&client)),
        "/metrics",
        None,
    )
    .expect("with a client certificate");
    assert_eq!(ok.status(), 200);
    assert!(https(
        server.port,
        client_config(&s.ca.pem(), None),
        "/metrics",
        None
    )
    .is_err());
    // A client certificate from another CA is refused too.
    let stranger = Ca::new().leaf(3001, true);
    assert!(https(
        server.port,
        client_config(&s.ca.pem(), Some(&stranger)),
        "/metrics",
        None
    )
    .is_err());
}

#[test]
fn basic_auth_and_headers() {
    let s = Setup::new();
    let hash = bcrypt::hash("s3cret", 4).expect("hash");
    let config = s.config(&format!(
        "{TLS}basic_auth_users:\n  prom: '{hash}'\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n    Strict-Transport-Security: max-age=31536000\n"
    ));
    let server = start(&config);
    let cc = client_config(&s.ca.pem(), None);
    let ok = https(
        server.port,
        cc.clone(),
        "/metrics",
        Some(("prom", "s3cret")),
    )
    .expect("ok");
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.header("x-frame-options").as_deref(), Some("deny"));
    assert_eq!(
        ok.header("strict-transport-security").as_deref(),
        Some("max-age=31536000")
    );
    // Cached verification answers the same.
    let again = https(server.port, cc.clone(), "/", Some(("prom", "s3cret"))).expect("ok");
    assert_eq!(again.status(), 200);
    for auth in [None, Some(("prom", "wrong")), Some(("other", "s3cret"))] {
        let r = https(server.port, cc.clone(), "/metrics", auth).expect("reply");
        assert_eq!(r.status(), 401, "{auth:?}");
        assert_eq!(
            r.header("www-authenticate").as_deref(),
            Some("Basic realm=\"clockwatch\"")
        );
        assert_eq!(r.header("x-frame-options").as_deref(), Some("deny"));
    }
    // Probes stay open.
    let health = https(server.port, cc.clone(), "/healthz", None).expect("healthz");
    assert_eq!(health.status(), 200);
    let ready = https(server.port, cc, "/readyz", None).expect("readyz");
    assert_eq!(ready.status(), 200);
}

/// The probes never run bcrypt, whatever Authorization header they carry
/// (issue 16): a kubelet or a scanner sending one must not cost a core.
/// Self-calibrating: a protected path with the same wrong password (one
/// bcrypt run at cost 13) is timed first, and each probe must answer in a
/// small part of that.
#[test]
fn probes_never_run_bcrypt() {
    let s = Setup::new();
    let hash = bcrypt::hash("s3cret", 13).expect("hash");
    let config = s.config(&format!("{TLS}basic_auth_users:\n  prom: '{hash}'\n"));
    let server = start(&config);
    let cc = client_config(&s.ca.pem(), None);
    let wrong = Some(("prom", "wrong"));
    let timed = |path: &str| {
        let started = Instant::now();
        let reply = https(server.port, cc.clone(), path, wrong).expect("reply");
        (reply.status(), started.elapsed())
    };
    let (status, bcrypt_run) = timed("/metrics");
    assert_eq!(status, 401);
    for path in ["/healthz", "/readyz", "/healthz", "/readyz"] {
        let (status, took) = timed(path);
        assert_eq!(status, 200, "{path}");
        assert!(
            took * 4 < bcrypt_run,
            "{path} took {took:?} with a wrong password, a bcrypt run {bcrypt_run:?}"
        );
    }
}

#[test]
fn certificate_rotation_without_restart() {
    let s = Setup::new();
    let server = start(&s.config(TLS));
    // A fresh client each time: a resumed session would not show the
    // server's certificate again.
    let cc = || client_config(&s.ca.pem(), None);
    let first = https(server.port, cc(), "/healthz", None).expect("first");
    let first_cert = first.peer_cert.expect("peer cert");

    let new = s.ca.leaf(1002, false);
    // Key first, then certificate: in between the pair does not match and
    // the old one must keep serving.
    write_atomic(&s.path("tls.key"), &new.key_pem);
    std::thread::sleep(Duration::from_millis(1100));
    let between = https(server.port, cc(), "/healthz", None).expect("between");
    assert_eq!(between.peer_cert.as_ref(), Some(&first_cert));
    write_atomic(&s.path("tls.crt"), &new.cert_pem);

    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = https(server.port, cc(), "/healthz", None).expect("after rotation");
        if r.peer_cert.as_ref() == Some(&new.der) {
            break;
        }
        assert!(Instant::now() < deadline, "new certificate not served");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn bad_configs_refuse_to_start() {
    let s = Setup::new();
    let other = s.ca.leaf(4001, false);
    std::fs::write(s.path("other.key"), &other.key_pem).expect("write");
    let hash = bcrypt::hash("pw", 4).expect("hash");
    let cases: Vec<(String, &str)> = vec![
        (
            "tls_server_config:\n  cert_file: tls.crt\n  key_file: missing.key\n".into(),
            "cannot read key file",
        ),
        (
            "tls_server_config:\n  cert_file: tls.crt\n  key_file: other.key\n".into(),
            "does not match the certificate",
        ),
        (
            "basic_auth_users:\n  prom: s3cret\n".into(),
            "basic_auth_users.prom: is not a bcrypt hash",
        ),
        (
            format!("basic_auth_users:\n  prom: '{hash}'\ntls_server_confg: {{}}\n"),
            "unknown field `tls_server_confg`",
        ),
        (
            format!("{TLS}  client_auth_type: RequireAndVerifyClientCert\n"),
            "needs client_ca_file",
        ),
        (
            "http_server_config:\n  headers:\n    Content-Type: text/plain\n".into(),
            "http_server_config.headers.Content-Type: this header may not be set",
        ),
    ];
    for (text, expected) in cases {
        let (code, stderr) = refused(&s.config(&text));
        assert_eq!(code, Some(1), "{text}\n{stderr}");
        assert!(
            stderr.contains(expected),
            "{text}\nexpected {expected:?} in {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let (code, stderr) = refused(&s.path("no-such-web.yml"));
    assert_eq!(code, Some(1));
    assert!(stderr.contains("cannot read web config"), "{stderr}");
}

/// A client that opens a TLS connection and never speaks must not hold a
/// connection slot forever: the handshake times out (10 s by default,
/// --web.tls-handshake-timeout; 3 s here). With one slot
/// (--web.max-connections=1), a real client queued behind the silent one is
/// served once the timeout frees the slot, and not before.
#[test]
fn a_silent_tls_client_is_dropped_after_the_handshake_timeout() {
    const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(3);
    let s = Setup::new();
    let config = s.config(TLS);
    let port = free_port();
    let child = command(&config, port)
        .arg("--web.max-connections=1")
        .arg("--web.tls-handshake-timeout=3s")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn clockwatch");
    let server = Server { child, port };
    let deadline = Instant::now() + Duration::from_secs(10);
    // Wait for the listener with a client that completes a request, so the
    // only slot is free again before the silent client takes it.
    let ca = s.ca.pem();
    while https(port, client_config(&ca, None), "/healthz", None).is_err() {
        assert!(Instant::now() < deadline, "clockwatch did not serve TLS");
        std::thread::sleep(Duration::from_millis(50));
    }

    let mut silent = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    let started = Instant::now();
    silent
        .set_read_timeout(Some(HANDSHAKE_TIMEOUT + Duration::from_secs(5)))
        .expect("timeout");
    let queued = {
        let config = client_config(&ca, None);
        std::thread::spawn(move || {
            // Well after the silent client took the slot, and well within
            // the helper's 10 s read timeout of the slot being freed.
            std::thread::sleep(Duration::from_secs(1));
            let reply = https(port, config, "/healthz", None);
            (reply, started.elapsed())
        })
    };
    let mut buf = [0u8; 16];
    let closed = match silent.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    };
    let dropped_after = started.elapsed();
    assert!(closed, "the silent connection was not closed");
    assert!(
        dropped_after >= HANDSHAKE_TIMEOUT - Duration::from_millis(100)
            && dropped_after < HANDSHAKE_TIMEOUT + Duration::from_secs(2),
        "silent client dropped after {dropped_after:?}"
    );
    let (reply, served_after) = queued.join().expect("queued client");
    let reply = reply.expect("the queued client is served");
    assert_eq!(reply.status(), 200, "{}", reply.head);
    assert!(
        served_after >= dropped_after - Duration::from_millis(100),
        "the queued client was served at {served_after:?}, before the slot was freed at {dropped_after:?}"
    );
}
