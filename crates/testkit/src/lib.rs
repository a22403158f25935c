//! What the integration tests of clockwatch and clockwatch-report share: a
//! loud skip for a missing tool, a real Prometheus on loopback, headless
//! Chromium, where tests keep what they render, the one HTTP client and a
//! strict exposition parser. Each crate's
//! `tests/common` adds its own (its binary, chronyd for the exporter).
//!
//! Test code: a failed setup panics with what went wrong.

pub mod exposition;
pub mod http;

pub use exposition::{parse_matchers, Exposition, Sample};
pub use http::{get, request, Response};

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
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
    skip(&if not_root {
        format!("needs root (missing: {missing:?})")
    } else {
        format!("missing {missing:?} (apt-get install chrony prometheus)")
    })
}

/// Says loudly that a test does not run, and why; returns true. In CI
/// (CI=true) it fails instead: there nothing may skip.
pub fn skip(why: &str) -> bool {
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

/// A tool on PATH, or in /usr/sbin or /sbin (chronyd), which a non-root
/// PATH often lacks.
pub fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

pub fn free_tcp_port() -> u16 {
    let s = TcpListener::bind("127.0.0.1:0").expect("bind ephemeral port");
    s.local_addr().expect("local addr").port()
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

/// A real Prometheus on a free loopback port; killed when dropped.
pub struct Prometheus {
    child: Child,
    pub port: u16,
}

impl Prometheus {
    /// Starts with `config` (prometheus.yml text) and its TSDB in
    /// `dir/data`, and waits until it is ready.
    /// The server's process id (to SIGSTOP it in an outage test).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

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
        while !prometheus.ready() {
            assert!(
                Instant::now() < until,
                "prometheus did not become ready: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        prometheus
    }

    /// Loads `openmetrics` (an OpenMetrics text ending in `# EOF`) into a
    /// TSDB in `dir/data` with `promtool tsdb create-blocks-from
    /// openmetrics`, then serves it: a history of any length, at once.
    /// Retention is ten years, so an old history is not deleted at start.
    pub fn with_history(dir: &Path, openmetrics: &str, extra: &[&str]) -> Self {
        let file = dir.join("history.om");
        std::fs::write(&file, openmetrics).expect("write openmetrics");
        let out = Command::new(which("promtool").expect("promtool installed"))
            .args(["tsdb", "create-blocks-from", "openmetrics"])
            .arg(&file)
            .arg(dir.join("data"))
            .output()
            .expect("run promtool");
        assert!(
            out.status.success(),
            "promtool tsdb create-blocks-from failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut flags = vec!["--storage.tsdb.retention.time=3650d"];
        flags.extend_from_slice(extra);
        Self::start(dir, "global:\n  scrape_interval: 15s\n", &flags)
    }

    /// `GET /-/ready` answers 200 within 5 s.
    fn ready(&self) -> bool {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        request(addr, "GET", "/-/ready", &[], Duration::from_secs(5)).is_ok_and(|r| r.status == 200)
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
