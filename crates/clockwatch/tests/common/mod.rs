//! Real chronyd for integration tests: an upstream serving its local clock
//! and a client synchronised to it over loopback, neither touching the
//! host's clock (`-x`). Also runs `chronyc -c` against the same daemon, the
//! independent source every value is compared with.
#![allow(dead_code)]

mod http;
pub mod ptp;

#[allow(unused_imports)] // each test binary uses a different part
pub use http::{proc_status_kib, request, signal, wait_exit, Response};

use std::net::{SocketAddr, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Says loudly why a test does not run, and returns true if it must skip.
/// In CI (CI=true) a missing prerequisite is a failure, not a skip.
pub fn skip_unless(tools: &[&str], needs_root: bool) -> bool {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| which(t).is_none())
        .collect();
    let not_root = needs_root && !is_root();
    if missing.is_empty() && !not_root {
        return false;
    }
    let why = if not_root {
        format!("needs root (missing: {missing:?})")
    } else {
        format!("missing {missing:?} (apt-get install chrony prometheus)")
    };
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("in CI nothing may skip: {why}");
    }
    eprintln!("\n*** SKIP: {why} ***\n");
    true
}

pub fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

pub fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

pub fn free_udp_port() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind ephemeral port");
    s.local_addr().expect("local addr").port()
}

pub fn free_tcp_port() -> u16 {
    let s = std::net::TcpListener::bind("127.0.0.1:0").expect("bind ephemeral port");
    s.local_addr().expect("local addr").port()
}

/// A running chronyd; killed when dropped.
pub struct Chronyd {
    pub child: Option<Child>,
    pub conf: PathBuf,
    pub log: PathBuf,
}

impl Chronyd {
    pub fn start(conf: &Path, log: &Path) -> Self {
        let chronyd = which("chronyd").expect("chronyd installed");
        let child = Command::new(chronyd)
            .args(["-d", "-x", "-u", "root", "-f"])
            .arg(conf)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).expect("log file"))
            .spawn()
            .expect("start chronyd");
        Self {
            child: Some(child),
            conf: conf.to_path_buf(),
            log: log.to_path_buf(),
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        let mut again = Chronyd::start(&self.conf, &self.log);
        self.child = again.child.take();
    }
}

impl Drop for Chronyd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Upstream and client chronyd on loopback.
pub struct ChronyPair {
    pub dir: tempfile::TempDir,
    pub upstream: Chronyd,
    pub client: Chronyd,
    pub ntp_port: u16,
    pub cmd_port: u16,
    pub socket: PathBuf,
}

pub struct PairOptions {
    /// Extra lines for the client's configuration.
    pub client_extra: String,
    /// Wait until the client is synchronised.
    pub wait_sync: bool,
    /// Run the upstream under faketime with this offset (e.g. "+2s").
    pub upstream_faketime: Option<String>,
}

impl Default for PairOptions {
    fn default() -> Self {
        Self {
            client_extra: String::new(),
            wait_sync: true,
            upstream_faketime: None,
        }
    }
}

impl ChronyPair {
    pub fn start() -> Self {
        Self::start_with(PairOptions::default())
    }

    pub fn start_with(opts: PairOptions) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let ntp_port = free_udp_port();
        // The kernel may hand a just-closed port out again.
        let cmd_port = std::iter::repeat_with(free_udp_port)
            .find(|&p| p != ntp_port)
            .expect("a second free port");
        let sock_dir = d.join("run");
        std::fs::create_dir(&sock_dir).expect("socket dir");
        std::fs::set_permissions(&sock_dir, std::fs::Permissions::from_mode(0o750)).expect("chmod");
        let socket = sock_dir.join("chronyd.sock");

        let up_conf = d.join("upstream.conf");
        std::fs::write(
            &up_conf,
            format!(
                "local stratum 3\nport {ntp_port}\nallow 127.0.0.1\ncmdport 0\nbindcmdaddress /\npidfile {pid}\n",
                pid = d.join("upstream.pid").display()
            ),
        )
        .expect("write conf");
        let client_conf = d.join("client.conf");
        std::fs::write(
            &client_conf,
            format!(
                "server 127.0.0.1 port {ntp_port} iburst minpoll -2 maxpoll -2\nport 0\ncmdport {cmd_port}\n\
                 bindcmdaddress 127.0.0.1\nbindcmdaddress {sock}\npidfile {pid}\n{extra}\n",
                sock = socket.display(),
                pid = d.join("client.pid").display(),
                extra = opts.client_extra,
            ),
        )
        .expect("write conf");

        let upstream = match &opts.upstream_faketime {
            None => Chronyd::start(&up_conf, &d.join("upstream.log")),
            Some(offset) => start_faketime(offset, &up_conf, &d.join("upstream.log")),
        };
        let client = Chronyd::start(&client_conf, &d.join("client.log"));
        let pair = Self {
            dir,
            upstream,
            client,
            ntp_port,
            cmd_port,
            socket,
        };
        pair.wait_for_socket();
        if opts.wait_sync {
            pair.wait_synchronised(Duration::from_secs(30));
        }
        pair
    }

    fn wait_for_socket(&self) {
        let until = Instant::now() + Duration::from_secs(10);
        while !self.socket.exists() {
            assert!(
                Instant::now() < until,
                "chronyd did not create {}: {}",
                self.socket.display(),
                self.client_log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn client_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("client.log")).unwrap_or_default()
    }

    pub fn udp_address(&self) -> String {
        format!("udp://127.0.0.1:{}", self.cmd_port)
    }

    pub fn unix_address(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// `chronyc -c -n ARGS` against the client over UDP (or the socket).
    pub fn chronyc(&self, args: &[&str]) -> String {
        self.chronyc_via(&["-h", "127.0.0.1", "-p", &self.cmd_port.to_string()], args)
    }

    pub fn chronyc_unix(&self, args: &[&str]) -> String {
        self.chronyc_via(&["-h", &self.socket.display().to_string()], args)
    }

    fn chronyc_via(&self, target: &[&str], args: &[&str]) -> String {
        let out = Command::new(which("chronyc").expect("chronyc installed"))
            .args(target)
            .args(["-c", "-n"])
            .args(args)
            .output()
            .expect("run chronyc");
        assert!(
            out.status.success(),
            "chronyc {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }

    pub fn wait_synchronised(&self, limit: Duration) {
        let until = Instant::now() + limit;
        loop {
            let tracking = self.chronyc(&["tracking"]);
            let fields: Vec<&str> = tracking.trim().split(',').collect();
            if fields.len() > 13 && fields[0] != "00000000" && fields[13] == "Normal" {
                return;
            }
            assert!(
                Instant::now() < until,
                "chronyd did not synchronise: {tracking}\n{}",
                self.client_log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

fn start_faketime(offset: &str, conf: &Path, log: &Path) -> Chronyd {
    let child = Command::new(which("faketime").expect("faketime installed"))
        .arg("-f")
        .arg(offset)
        .arg(which("chronyd").expect("chronyd"))
        .args(["-d", "-x", "-u", "root", "-f"])
        .arg(conf)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log file"))
        .spawn()
        .expect("start faketime chronyd");
    Chronyd {
        child: Some(child),
        conf: conf.to_path_buf(),
        log: log.to_path_buf(),
    }
}

/// Parses one CSV line of chronyc into fields.
pub fn csv_fields(line: &str) -> Vec<String> {
    line.trim().split(',').map(str::to_string).collect()
}

pub const BIN: &str = env!("CARGO_BIN_EXE_clockwatch");

/// The reply sockets clockwatch has bound in `dir` (chronyd's socket
/// directory), by file name.
pub fn reply_sockets(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read socket dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("clockwatch-") && n.ends_with(".sock"))
        .collect()
}

/// A running `clockwatch serve`, its stderr kept in a log file; killed
/// when dropped.
pub struct Clockwatch {
    pub child: Child,
    pub port: u16,
    pub addr: SocketAddr,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Clockwatch {
    /// Starts on a free port. Tests run in parallel and a port found free
    /// can be taken by another test's clockwatch before ours binds it: then
    /// ours exits ("already in use") while the port answers for the other
    /// one. So ours must still be running once the port answers; if not,
    /// try another port.
    pub fn start(args: &[&str]) -> Self {
        Self::start_wrapped(&[], args)
    }

    /// Starts under a wrapper command (e.g. `bwrap … --`), which must run
    /// the program given after it. `pid()` is then the wrapper's.
    pub fn start_wrapped(wrapper: &[&str], args: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("clockwatch.log");
        let (program, before) = match wrapper.split_first() {
            Some((first, rest)) => (*first, rest.iter().copied().chain([BIN]).collect()),
            None => (BIN, Vec::new()),
        };
        for _ in 0..5 {
            let port = free_tcp_port();
            let mut child = Command::new(program)
                .args(&before)
                .arg("serve")
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .args(args)
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).expect("log file"))
                .spawn()
                .expect("start clockwatch");
            let until = Instant::now() + Duration::from_secs(10);
            let mut exited = false;
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                if child.try_wait().ok().flatten().is_some() {
                    exited = true;
                    break;
                }
                assert!(
                    Instant::now() < until,
                    "clockwatch did not listen on {port}: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            // A clockwatch that lost the race exits within milliseconds of
            // starting; give it the time to show that.
            std::thread::sleep(Duration::from_millis(150));
            if !exited && child.try_wait().ok().flatten().is_none() {
                return Self {
                    child,
                    port,
                    addr: SocketAddr::from(([127, 0, 0, 1], port)),
                    log,
                    _dir: dir,
                };
            }
            let _ = child.wait();
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            assert!(
                text.contains("in use"),
                "clockwatch exited early, not for a port race: {text}"
            );
        }
        panic!("clockwatch could not get a free port in five tries");
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits at most `limit` for the process to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        wait_exit(&mut self.child, limit)
    }

    /// VmRSS or VmHWM of the process in KiB.
    pub fn status_kib(&self, field: &str) -> u64 {
        proc_status_kib(self.pid(), field)
    }

    /// GET on a fresh connection, with timing: panics (with the log) if the
    /// exchange fails, not if the status is an error.
    pub fn response(&self, path: &str) -> Response {
        request(self.addr, "GET", path, &[], Duration::from_secs(10)).unwrap_or_else(|e| {
            panic!("GET {path} failed: {e}\n{}", self.log_text());
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// GET with a plain HTTP/1.1 client: (status, headers, body).
    pub fn get(&self, path: &str, accept: Option<&str>) -> (u16, String, String) {
        http_get(self.port, path, accept)
    }

    pub fn metrics(&self) -> Exposition {
        let (status, _, body) = self.get("/metrics", None);
        assert_eq!(status, 200, "{body}");
        Exposition::parse(&body)
    }
}

impl Drop for Clockwatch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn http_get(port: u16, path: &str, accept: Option<&str>) -> (u16, String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let accept = accept
        .map(|a| format!("Accept: {a}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\n{accept}Connection: close\r\n\r\n"
    )
    .expect("write");
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("read");
    let (head, body) = raw.split_once("\r\n\r\n").expect("HTTP response");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status code");
    (status, head.to_string(), body.to_string())
}

/// Samples of one exposition: "name{labels}" -> value, in the order given.
pub struct Exposition {
    pub text: String,
    pub samples: Vec<(String, String, f64)>,
}

impl Exposition {
    pub fn parse(text: &str) -> Self {
        let mut samples = Vec::new();
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let (series, value) = line.rsplit_once(' ').expect("sample line");
            let (name, labels) = match series.split_once('{') {
                Some((n, l)) => (n.to_string(), l.trim_end_matches('}').to_string()),
                None => (series.to_string(), String::new()),
            };
            let value = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().unwrap_or_else(|_| panic!("bad value in {line}")),
            };
            samples.push((name, labels, value));
        }
        Self {
            text: text.to_string(),
            samples,
        }
    }

    /// The value of an unlabelled metric, or of the first series whose labels contain `labels`.
    pub fn get(&self, name: &str, labels: &str) -> Option<f64> {
        self.samples
            .iter()
            .find(|(n, l, _)| n == name && l.contains(labels))
            .map(|(_, _, v)| *v)
    }

    /// The values of `label` across the samples of `name`, sorted.
    pub fn label_values(&self, name: &str, label: &str) -> Vec<String> {
        let key = format!("{label}=\"");
        let mut found: Vec<String> = self
            .samples
            .iter()
            .filter(|(n, _, _)| n == name)
            .filter_map(|(_, labels, _)| {
                let rest = &labels[labels.find(&key)? + key.len()..];
                Some(rest[..rest.find('"')?].to_string())
            })
            .collect();
        found.sort();
        found
    }

    pub fn value(&self, name: &str) -> f64 {
        self.get(name, "")
            .unwrap_or_else(|| panic!("{name} missing from:\n{}", self.text))
    }

    pub fn has(&self, name: &str) -> bool {
        self.samples.iter().any(|(n, _, _)| n == name)
    }

    pub fn state(&self) -> String {
        self.samples
            .iter()
            .find(|(n, _, v)| n == "clockwatch_sync_state" && *v == 1.0)
            .map(|(_, l, _)| {
                l.trim_start_matches("state=\"")
                    .trim_end_matches('"')
                    .to_string()
            })
            .unwrap_or_else(|| panic!("no current state in:\n{}", self.text))
    }
}

/// Compares a value we read with chronyc's printed one, within chrony's
/// float precision (relative 2^-23) plus `abs_slack` for chronyc's rounding.
pub fn close(what: &str, ours: f64, theirs: &str, abs_slack: f64) -> Result<(), String> {
    let theirs: f64 = theirs
        .parse()
        .map_err(|e| format!("{what}: chronyc printed {theirs:?}: {e}"))?;
    let tol = ours.abs().max(theirs.abs()) * 2f64.powi(-23) + abs_slack;
    if (ours - theirs).abs() <= tol {
        Ok(())
    } else {
        Err(format!("{what}: ours {ours:e} vs chronyc {theirs:e}"))
    }
}

/// For values chronyd computes when it answers (the correction shrinks as it
/// slews, the dispersion grows): chronyc's reading, taken between two of
/// ours, must lie between them.
pub fn between(what: &str, before: f64, theirs: &str, after: f64) -> Result<(), String> {
    let theirs: f64 = theirs
        .parse()
        .map_err(|e| format!("{what}: chronyc printed {theirs:?}: {e}"))?;
    let tol = before.abs().max(after.abs()) * 2f64.powi(-23) + 5e-10;
    if theirs >= before.min(after) - tol && theirs <= before.max(after) + tol {
        Ok(())
    } else {
        Err(format!(
            "{what}: chronyc {theirs:e} not between ours {before:e} and {after:e}"
        ))
    }
}

/// `target/test-output`, where tests keep screenshots and rendered files.
pub fn test_output_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-output");
    std::fs::create_dir_all(&dir).expect("create target/test-output");
    dir
}

/// Headless Chromium with a throw-away profile, bounded to 120 s; the
/// caller adds the mode (`--dump-dom`, `--screenshot=…`) and the URL.
pub fn chromium(profile: &Path) -> Command {
    let mut command = Command::new("timeout");
    command
        .arg("120")
        .arg(which("chromium").expect("chromium installed"))
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()));
    command
}

/// A real Prometheus on a free port; killed when dropped.
pub struct Prometheus {
    child: Child,
    pub port: u16,
}

impl Prometheus {
    /// Starts with `config` (prometheus.yml text) and its TSDB in
    /// `dir/data`, and waits until it is ready.
    pub fn start(dir: &Path, config: &str, extra: &[&str]) -> Self {
        let config_file = dir.join("prometheus.yml");
        std::fs::write(&config_file, config).expect("write prometheus.yml");
        let log = dir.join("prometheus.log");
        let port = free_tcp_port();
        let child = Command::new(which("prometheus").expect("prometheus installed"))
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(extra)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("prometheus log"))
            .spawn()
            .expect("start prometheus");
        let prometheus = Self { child, port };
        let until = Instant::now() + Duration::from_secs(60);
        while !request(
            SocketAddr::from(([127, 0, 0, 1], port)),
            "GET",
            "/-/ready",
            &[],
            Duration::from_secs(5),
        )
        .is_ok_and(|r| r.status == 200)
        {
            assert!(
                Instant::now() < until,
                "prometheus did not become ready: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        prometheus
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
