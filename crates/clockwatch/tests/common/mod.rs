//! Real chronyd for integration tests: an upstream serving its local clock
//! and a client synchronised to it over loopback, neither touching the
//! host's clock (`-x`). Also runs `chronyc -c` against the same daemon, the
//! independent source every value is compared with.
#![allow(dead_code)]

/// What `chronyc -c` prints per chrony version, and decoded replies compared
/// with it: shared with cmdmon's golden tests.
#[path = "../../../cmdmon/tests/chronyc/mod.rs"]
pub mod chronyc;
mod http;
pub mod ptp;
mod versions;

#[allow(unused_imports)]
pub use chronyc::{between, close, csv_fields, Version, MATRIX};
/// Shared with the report's tests (crates/testkit).
#[allow(unused_imports)]
pub use clockwatch_testkit::{
    chromium, free_tcp_port, get, is_root, parse_matchers, request, skip_unless, test_output_dir,
    which, Exposition, Prometheus, Response, Sample,
};
#[allow(unused_imports)] // each test binary uses a different part
pub use http::{proc_status_kib, signal, wait_exit};
#[allow(unused_imports)]
pub use versions::{chrony_of_version, ChronyBinaries};

use std::net::{SocketAddr, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A UDP port free on 127.0.0.1 for a daemon to bind (chronyd's NTP and
/// command ports). Not from the kernel's ephemeral range: between our
/// check and the daemon's bind, any client socket of a test running beside
/// this one (chronyc, the exporter, the probe) may be given an ephemeral
/// port, and once it was this one (chronyd then had no command port, and
/// chronyc said "506 Cannot talk to daemon"). Random below that range.
pub fn free_udp_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let (from, to) = (10_000u16, low.max(10_001));
    for _ in 0..200 {
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        let port = from + (random % u64::from(to - from)) as u16;
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind ephemeral port");
    s.local_addr().expect("local addr").port()
}

/// A UDP port on `ip` (a loopback address) that nothing listens on: a
/// source configured there is resolved and polled by chronyd, and the kernel
/// answers every request with a local ICMP port unreachable, so the source
/// stays unreachable and no packet leaves the machine.
pub fn dead_udp_port(ip: std::net::Ipv4Addr) -> u16 {
    assert!(
        ip.is_loopback(),
        "a dead port must be on loopback, not {ip}"
    );
    let s = UdpSocket::bind((ip, 0)).expect("bind ephemeral port");
    s.local_addr().expect("local addr").port()
}

/// A `server` line for a source that chronyd polls and never hears from:
/// 127.0.0.`k` on a port nothing listens on (see [`dead_udp_port`]).
pub fn unreachable_server(k: u8) -> String {
    let ip = std::net::Ipv4Addr::new(127, 0, 0, k);
    format!("server {ip} port {} iburst\n", dead_udp_port(ip))
}

/// Refuses a chronyd configuration that would send a packet off the machine
/// (scripts/chrony_conf_guard.py: only loopback or `offline` IP literals),
/// before chronyd ever reads it.
pub fn guard_chrony_conf(conf: &Path) {
    // CI runs the suite in a loopback-only network namespace
    // (scripts/isolated); a CI run outside it is a mistake, not a skip.
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        assert!(
            std::env::var("CLOCKWATCH_ISOLATED").is_ok_and(|v| v == "1"),
            "in CI, chronyd runs only inside scripts/isolated (a loopback-only network namespace)"
        );
    }
    guard(
        &["--origin", "tests", &conf.display().to_string()],
        "configuration",
    );
}

/// The same guard for a chronyc command (`add server …`, `online`).
fn guard_chronyc(args: &[&str]) {
    let mut argv = vec!["--chronyc"];
    argv.extend_from_slice(args);
    guard(&argv, "chronyc command");
}

fn guard(args: &[&str], what: &str) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/chrony_conf_guard.py");
    let out = Command::new("python3")
        .arg(&script)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} (python3 needed): {e}", script.display()));
    assert!(
        out.status.success(),
        "refused a chronyd {what} that would reach beyond this machine:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A running chronyd; killed when dropped.
pub struct Chronyd {
    pub child: Option<Child>,
    pub binary: PathBuf,
    pub conf: PathBuf,
    pub log: PathBuf,
    /// libfaketime's FAKETIME (e.g. "+3s") the daemon runs under, if any.
    pub shift: Option<String>,
}

/// libfaketime itself (Debian's faketime package), preloaded rather than run
/// through the `faketime` wrapper: the wrapper forks, and killing it would
/// leave the shifted daemon running.
pub fn libfaketime() -> Option<PathBuf> {
    [
        "/usr/lib/x86_64-linux-gnu/faketime",
        "/usr/lib/faketime",
        "/usr/lib64/faketime",
    ]
    .iter()
    .map(|d| Path::new(d).join("libfaketime.so.1"))
    .find(|p| p.is_file())
}

impl Chronyd {
    pub fn start(conf: &Path, log: &Path) -> Self {
        Self::start_binary(&which("chronyd").expect("chronyd installed"), conf, log)
    }

    /// The same with a given chronyd (one version of the matrix).
    pub fn start_binary(chronyd: &Path, conf: &Path, log: &Path) -> Self {
        Self::start_shifted(chronyd, conf, log, None)
    }

    /// With its clock shifted by libfaketime (`shift` as FAKETIME takes it,
    /// e.g. "+3s"), never touching the host's (`-x`).
    pub fn start_shifted(chronyd: &Path, conf: &Path, log: &Path, shift: Option<&str>) -> Self {
        guard_chrony_conf(conf);
        let mut command = Command::new(chronyd);
        if let Some(shift) = shift {
            command
                .env(
                    "LD_PRELOAD",
                    libfaketime().expect("libfaketime (apt-get install faketime)"),
                )
                .env("FAKETIME", shift);
        }
        let child = command
            .args(["-d", "-x", "-u", "root", "-f"])
            .arg(conf)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).expect("log file"))
            .spawn()
            .expect("start chronyd");
        Self {
            child: Some(child),
            binary: chronyd.to_path_buf(),
            conf: conf.to_path_buf(),
            log: log.to_path_buf(),
            shift: shift.map(str::to_string),
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
        let mut again =
            Chronyd::start_shifted(&self.binary, &self.conf, &self.log, self.shift.as_deref());
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
    /// The upstream's command socket, if [`PairOptions::upstream_socket`].
    pub upstream_socket: Option<PathBuf>,
    /// The build of both daemons, and the chronyc that reads them.
    pub chrony: ChronyBinaries,
}

pub struct PairOptions {
    /// Extra lines for the client's configuration.
    pub client_extra: String,
    /// Wait until the client is synchronised.
    pub wait_sync: bool,
    /// Run the upstream under faketime with this offset (e.g. "+2s").
    pub upstream_faketime: Option<String>,
    /// Both daemons and chronyc from this build; the installed chrony if None.
    pub chrony: Option<ChronyBinaries>,
    /// Let the upstream answer commands on a unix socket (its serverstats
    /// count the client's NTP requests); it answers none by default.
    pub upstream_socket: bool,
}

impl Default for PairOptions {
    fn default() -> Self {
        Self {
            client_extra: String::new(),
            wait_sync: true,
            upstream_faketime: None,
            chrony: None,
            upstream_socket: false,
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

        let upstream_socket = opts.upstream_socket.then(|| sock_dir.join("upstream.sock"));
        let up_conf = d.join("upstream.conf");
        std::fs::write(
            &up_conf,
            format!(
                "local stratum 3\nport {ntp_port}\nallow 127.0.0.1\ncmdport 0\nbindcmdaddress {cmd}\npidfile {pid}\n",
                cmd = upstream_socket.as_deref().unwrap_or(Path::new("/")).display(),
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

        let bins = opts.chrony.unwrap_or_else(ChronyBinaries::installed);
        let upstream = Chronyd::start_shifted(
            &bins.chronyd,
            &up_conf,
            &d.join("upstream.log"),
            opts.upstream_faketime.as_deref(),
        );
        let client = Chronyd::start_binary(&bins.chronyd, &client_conf, &d.join("client.log"));
        let pair = Self {
            dir,
            upstream,
            client,
            ntp_port,
            cmd_port,
            socket,
            upstream_socket,
            chrony: bins,
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

    /// `chronyc -c -n ARGS` against the upstream's socket
    /// ([`PairOptions::upstream_socket`]).
    pub fn chronyc_upstream(&self, args: &[&str]) -> String {
        let socket = self
            .upstream_socket
            .as_ref()
            .expect("the pair was started with upstream_socket");
        self.chronyc_via(&["-h", &socket.display().to_string()], args)
    }

    fn chronyc_via(&self, target: &[&str], args: &[&str]) -> String {
        run_chronyc(&self.chrony.chronyc, target, args)
    }

    /// Slows the client's polling of the upstream to every 8 s once it is
    /// synchronised. At 0.25 s chronyd updates its reference four times a
    /// second, and a comparison with chronyc (a process started per call)
    /// on a loaded machine rarely sees the same update twice; at 8 s almost
    /// every comparison does. Waits out the poll already scheduled.
    pub fn settle(&self) {
        self.chronyc_unix(&["maxpoll", "127.0.0.1", "3"]);
        self.chronyc_unix(&["minpoll", "127.0.0.1", "3"]);
        std::thread::sleep(Duration::from_millis(600));
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

/// One synchronised pair for every test of this binary that only reads it:
/// starting a pair and waiting for it to synchronise costs a few seconds.
/// Tests that stop, restart, reconfigure or settle a daemon, count its
/// command packets (http_abuse, sampling) or the reply sockets in its
/// directory start their own pair.
///
/// A static is never dropped, so the pair's daemons would outlive the test
/// process. A keeper process holds the read end of a pipe whose write end
/// only this process has (Rust opens pipes close-on-exec): when the test
/// process exits, however it exits, the keeper reads end-of-file, kills both
/// daemons and removes their directory.
pub fn shared_pair() -> &'static ChronyPair {
    static SHARED: std::sync::OnceLock<(ChronyPair, Child)> = std::sync::OnceLock::new();
    &SHARED
        .get_or_init(|| {
            let pair = ChronyPair::start();
            let pid = |d: &Chronyd| d.child.as_ref().expect("a running chronyd").id();
            let keeper = Command::new("sh")
                .arg("-c")
                .arg(r#"read -r _; kill -KILL "$1" "$2"; sleep 0.2; rm -rf "$3""#)
                .arg("shared-chrony-pair-keeper")
                .arg(pid(&pair.upstream).to_string())
                .arg(pid(&pair.client).to_string())
                .arg(pair.dir.path())
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .spawn()
                .expect("start the shared pair's keeper");
            (pair, keeper)
        })
        .0
}

/// `chronyc -c -n ARGS` against a chronyd's command port on 127.0.0.1.
pub fn chronyc_at(cmd_port: u16, args: &[&str]) -> String {
    let chronyc = which("chronyc").expect("chronyc installed");
    run_chronyc(
        &chronyc,
        &["-h", "127.0.0.1", "-p", &cmd_port.to_string()],
        args,
    )
}

/// `CHRONYC TARGET -c -n ARGS`, refused first if it would bring a source
/// beyond this machine into play.
fn run_chronyc(chronyc: &Path, target: &[&str], args: &[&str]) -> String {
    guard_chronyc(args);
    let out = Command::new(chronyc)
        .args(target)
        .args(["-c", "-n"])
        .args(args)
        .output()
        .expect("run chronyc");
    assert!(
        out.status.success(),
        "chronyc {args:?} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

pub const BIN: &str = env!("CARGO_BIN_EXE_clockwatch");

/// An instant query to the Prometheus on 127.0.0.1:`port`: its JSON answer
/// (panics unless HTTP 200).
pub fn prometheus_query(port: u16, promql: &str) -> serde_json::Value {
    let encoded: String = promql
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    let r = get(port, &format!("/api/v1/query?query={encoded}"), None);
    assert_eq!(r.status, 200, "{promql}: {}", r.body);
    serde_json::from_str(&r.body).expect("JSON")
}

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
        self.get(path, None)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// GET with an optional Accept header; panics (with clockwatch's log)
    /// if the exchange fails, not if the status is an error.
    pub fn get(&self, path: &str, accept: Option<&str>) -> Response {
        let headers: Vec<(&str, &str)> = accept.map(|a| ("Accept", a)).into_iter().collect();
        request(self.addr, "GET", path, &headers, Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("GET {path} failed: {e}\n{}", self.log_text()))
    }

    pub fn metrics(&self) -> Exposition {
        let r = self.get("/metrics", None);
        assert_eq!(r.status, 200, "{}", r.body);
        r.exposition()
    }
}

impl Drop for Clockwatch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
