//! Real ptp4l for integration tests: two network namespaces joined by a
//! veth pair (made here, gone when the holders exit), a grandmaster on one
//! side and a free-running slave on the other, layer-2 transport and
//! software timestamping, so nothing ever adjusts the host clock and no
//! packet reaches a real network. Also runs `pmc` against the same daemon,
//! the independent source every decoded value is compared with.
//!
//! Every file (configurations, management sockets, pmc's own socket) lives
//! in the test's temporary directory: nothing is written to /var/run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clockwatch::ptp::{PtpClient, PtpError, PtpReport, ReplySocket};

use super::{is_root, which};

/// How long a test collection may take.
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// Where scripts/build-linuxptp.sh installs linuxptp 4.x.
pub const LINUXPTP4_PREFIX: &str = "/opt/linuxptp-4";

/// Says loudly why a PTP test does not run; true if it must skip. Under
/// CI=true a missing prerequisite fails instead.
pub fn skip(why: &str) -> bool {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("in CI nothing may skip: {why}");
    }
    eprintln!("\n*** SKIP: {why} ***\n");
    true
}

/// One linuxptp installation: its ptp4l and pmc.
#[derive(Debug, Clone)]
pub struct Linuxptp {
    pub ptp4l: PathBuf,
    pub pmc: PathBuf,
    /// `ptp4l -v`, e.g. "3.1.1" or "4.2".
    pub version: String,
}

impl Linuxptp {
    fn at(ptp4l: PathBuf, pmc: PathBuf) -> Option<Self> {
        let out = Command::new(&ptp4l).arg("-v").output().ok()?;
        // ptp4l -v prints the version on stdout (4.x) or stderr (3.x).
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Some(Self {
            ptp4l,
            pmc,
            version: text.trim().to_string(),
        })
    }

    pub fn major(&self) -> u32 {
        self.version
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(0)
    }

    /// Debian bookworm's packaged linuxptp (3.1.1), or a skip.
    pub fn packaged() -> Option<Self> {
        if let Some(why) = missing_system_tools() {
            skip(&why);
            return None;
        }
        let found = which("ptp4l")
            .zip(which("pmc"))
            .and_then(|(p, m)| Self::at(p, m));
        match found {
            Some(l) if l.major() == 3 => Some(l),
            Some(l) => {
                skip(&format!("the packaged ptp4l is {}, not 3.x", l.version));
                None
            }
            None => {
                skip("ptp4l and pmc missing (apt-get install linuxptp)");
                None
            }
        }
    }

    /// linuxptp 4.x from scripts/build-linuxptp.sh, or a skip.
    pub fn v4() -> Option<Self> {
        if let Some(why) = missing_system_tools() {
            skip(&why);
            return None;
        }
        let prefix = Path::new(LINUXPTP4_PREFIX);
        match Self::at(prefix.join("sbin/ptp4l"), prefix.join("sbin/pmc")) {
            Some(l) if l.major() == 4 => Some(l),
            _ => {
                skip(&format!(
                    "linuxptp 4.x missing in {LINUXPTP4_PREFIX} (sudo scripts/build-linuxptp.sh)"
                ));
                None
            }
        }
    }
}

/// Root and the namespace tools, or why not.
fn missing_system_tools() -> Option<String> {
    if !is_root() {
        return Some("PTP tests need root (network namespaces, veth pairs)".into());
    }
    let missing: Vec<&str> = ["ip", "unshare", "nsenter"]
        .into_iter()
        .filter(|t| which(t).is_none())
        .collect();
    (!missing.is_empty())
        .then(|| format!("missing {missing:?} (apt-get install iproute2 util-linux)"))
}

fn run(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A network namespace held open by a sleeping process; it goes when that
/// process and everything started in it exit.
pub struct Netns {
    holder: Child,
}

impl Netns {
    pub fn new() -> Self {
        let holder = Command::new(which("unshare").expect("unshare"))
            .args(["--net", "--", "sleep", "3600"])
            .stdin(Stdio::null())
            .spawn()
            .expect("start a namespace holder");
        let ns = Self { holder };
        // unshare(1) enters the new namespace and then execs sleep in the
        // same process: wait until it has.
        let ours = std::fs::read_link("/proc/self/ns/net").expect("own netns");
        let until = Instant::now() + Duration::from_secs(5);
        while std::fs::read_link(ns.path()).ok().as_ref() == Some(&ours)
            || std::fs::read_link(ns.path()).is_err()
        {
            assert!(Instant::now() < until, "unshare --net did not take effect");
            std::thread::sleep(Duration::from_millis(10));
        }
        ns.exec("ip", &["link", "set", "lo", "up"]);
        ns
    }

    pub fn pid(&self) -> u32 {
        self.holder.id()
    }

    /// /proc/PID/ns/net of the holder.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/ns/net", self.pid()))
    }

    /// `nsenter --net=NS` in front of a command.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(which("nsenter").expect("nsenter"));
        c.arg(format!("--net={}", self.path().display()))
            .arg(program);
        c
    }

    pub fn exec(&self, program: &str, args: &[&str]) {
        let out = self
            .command(which(program).unwrap_or_else(|| program.into()))
            .args(args)
            .output()
            .expect("nsenter");
        assert!(
            out.status.success(),
            "{program} {args:?} in {}: {}",
            self.path().display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// Two namespaces joined by veth pairs: `links` pairs named cwgmN (in
/// `gm`) and cwslN (in `slave`), all up.
pub struct VethPair {
    pub gm: Netns,
    pub slave: Netns,
}

impl VethPair {
    pub fn new(links: usize) -> Self {
        let gm = Netns::new();
        let slave = Netns::new();
        for i in 0..links {
            let (a, b) = (format!("cwgm{i}"), format!("cwsl{i}"));
            run(
                "ip",
                &[
                    "link",
                    "add",
                    &a,
                    "netns",
                    &gm.pid().to_string(),
                    "type",
                    "veth",
                    "peer",
                    "name",
                    &b,
                    "netns",
                    &slave.pid().to_string(),
                ],
            );
            gm.exec("ip", &["link", "set", &a, "up"]);
            slave.exec("ip", &["link", "set", &b, "up"]);
        }
        Self { gm, slave }
    }
}

/// A running ptp4l; killed when dropped.
pub struct Ptp4l {
    child: Option<Child>,
    pub socket: PathBuf,
    /// linuxptp 4.x's read-only socket (None for 3.x).
    pub ro_socket: Option<PathBuf>,
    pub log: PathBuf,
    pub linuxptp: Linuxptp,
    /// Command line, to start it again.
    args: Vec<String>,
    netns: PathBuf,
}

pub enum Role {
    /// priority1 10, clockClass 6, clockAccuracy 0x21 (100 ns).
    Grandmaster,
    /// slaveOnly, free_running: measures, never adjusts the clock.
    Slave,
}

impl Ptp4l {
    /// Starts ptp4l in `ns` on `interfaces`, its sockets and log in `dir`
    /// under `name`.
    pub fn start(
        linuxptp: &Linuxptp,
        ns: &Netns,
        role: Role,
        interfaces: &[&str],
        dir: &Path,
        name: &str,
    ) -> Self {
        let socket = dir.join(format!("{name}.sock"));
        let ro_socket = (linuxptp.major() >= 4).then(|| dir.join(format!("{name}.ro.sock")));
        let mut conf = String::from("[global]\n");
        match role {
            Role::Grandmaster => conf.push_str(
                "priority1 10\nclockClass 6\nclockAccuracy 0x21\noffsetScaledLogVariance 0x4e5d\n",
            ),
            Role::Slave => conf.push_str("slaveOnly 1\nfree_running 1\n"),
        }
        conf.push_str(&format!("uds_address {}\n", socket.display()));
        if let Some(ro) = &ro_socket {
            // Its default is /var/run/ptp4lro, shared by every instance.
            conf.push_str(&format!("uds_ro_address {}\n", ro.display()));
        }
        let conf_path = dir.join(format!("{name}.cfg"));
        std::fs::write(&conf_path, conf).expect("write ptp4l config");
        let mut args: Vec<String> = vec!["-2".into(), "-S".into(), "-m".into(), "-q".into()];
        for i in interfaces {
            args.extend(["-i".into(), (*i).into()]);
        }
        args.extend(["-f".into(), conf_path.display().to_string()]);
        let mut p = Self {
            child: None,
            socket,
            ro_socket,
            log: dir.join(format!("{name}.log")),
            linuxptp: linuxptp.clone(),
            args,
            netns: ns.path(),
        };
        p.restart();
        p
    }

    /// Starts it (again), and waits for its management socket.
    pub fn restart(&mut self) {
        self.stop();
        let _ = std::fs::remove_file(&self.socket);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let child = Command::new(which("nsenter").expect("nsenter"))
            .arg(format!("--net={}", self.netns.display()))
            .arg(&self.linuxptp.ptp4l)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start ptp4l");
        self.child = Some(child);
        let until = Instant::now() + Duration::from_secs(10);
        while !self.socket.exists() {
            assert!(
                Instant::now() < until,
                "ptp4l did not create {}: {}",
                self.socket.display(),
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `pmc -u -b 0 -s SOCKET COMMAND...`, its own socket in the test's
    /// directory; the parsed answers.
    pub fn pmc(&self, commands: &[&str]) -> Vec<PmcAnswer> {
        let own = self.socket.with_file_name(format!(
            "pmc-{}-{}.sock",
            std::process::id(),
            PMC_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let out = Command::new(&self.linuxptp.pmc)
            .args(["-u", "-b", "0", "-s"])
            .arg(&self.socket)
            .arg("-i")
            .arg(&own)
            .args(commands)
            .output()
            .expect("run pmc");
        let _ = std::fs::remove_file(&own);
        assert!(
            out.status.success(),
            "pmc {commands:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        parse_pmc(&String::from_utf8_lossy(&out.stdout))
    }

    /// The one answer to `GET ID`.
    pub fn pmc_get(&self, id: &str) -> PmcAnswer {
        let answers = self.pmc(&[&format!("GET {id}")]);
        answers
            .into_iter()
            .find(|a| a.id == id)
            .unwrap_or_else(|| panic!("pmc: no {id} answer\n{}", self.log_text()))
    }
}

static PMC_SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

impl Drop for Ptp4l {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One RESPONSE block of pmc's output: the sender, the dataset's name and
/// its `name value` lines.
#[derive(Debug, Clone, PartialEq)]
pub struct PmcAnswer {
    /// "02af4d.fffe.8c52e8-1"
    pub source: String,
    pub id: String,
    pub fields: BTreeMap<String, String>,
}

impl PmcAnswer {
    pub fn get(&self, field: &str) -> &str {
        self.fields
            .get(field)
            .unwrap_or_else(|| panic!("pmc's {} has no {field}: {:?}", self.id, self.fields))
    }
}

/// Parses pmc's text output:
/// `\tSOURCE seq N RESPONSE MANAGEMENT ID` then `\t\tname value` lines.
pub fn parse_pmc(text: &str) -> Vec<PmcAnswer> {
    let mut answers: Vec<PmcAnswer> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("\t\t") {
            let mut parts = rest.split_whitespace();
            if let (Some(name), Some(answer)) = (parts.next(), answers.last_mut()) {
                let value = parts.collect::<Vec<_>>().join(" ");
                answer.fields.insert(name.to_string(), value);
            }
        } else if let Some(rest) = line.strip_prefix('\t') {
            let words: Vec<&str> = rest.split_whitespace().collect();
            if let [source, "seq", _, "RESPONSE", "MANAGEMENT", id, ..] = words[..] {
                answers.push(PmcAnswer {
                    source: source.to_string(),
                    id: id.to_string(),
                    fields: BTreeMap::new(),
                });
            }
        }
    }
    answers
}

/// Waits until `ok` holds, polling every 200 ms; panics with `what` after
/// `limit`.
pub fn wait_for(limit: Duration, what: &str, mut ok: impl FnMut() -> bool) {
    let until = Instant::now() + limit;
    while !ok() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

pub fn collect(client: &PtpClient) -> Result<PtpReport, PtpError> {
    block_on(client.collect())
}

/// A grandmaster and a slave joined by veth pairs; the slave has `links`
/// ports (the grandmaster listens on the first link only). Fields drop in
/// order: the daemons before their namespaces, the directory last.
pub struct Bench {
    pub gm: Ptp4l,
    pub slave: Ptp4l,
    _pair: VethPair,
    pub dir: tempfile::TempDir,
}

impl Bench {
    pub fn start(linuxptp: &Linuxptp, links: usize) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let pair = VethPair::new(links);
        let gm = Ptp4l::start(
            linuxptp,
            &pair.gm,
            Role::Grandmaster,
            &["cwgm0"],
            dir.path(),
            "gm",
        );
        let slave_ifs: Vec<String> = (0..links).map(|i| format!("cwsl{i}")).collect();
        let slave_ifs: Vec<&str> = slave_ifs.iter().map(String::as_str).collect();
        let slave = Ptp4l::start(
            linuxptp,
            &pair.slave,
            Role::Slave,
            &slave_ifs,
            dir.path(),
            "slave",
        );
        Self {
            gm,
            slave,
            _pair: pair,
            dir,
        }
    }

    /// The slave's network namespace (to run a process where ptp4l is).
    pub fn slave_netns(&self) -> &Netns {
        &self._pair.slave
    }

    /// A client of `p` replying through a socket file in the test's
    /// directory: ptp4l runs in another network namespace, where an
    /// abstract name of ours does not exist.
    pub fn client(&self, socket: &Path) -> PtpClient {
        PtpClient::new(socket, TIMEOUT)
            .with_reply_socket(ReplySocket::Directory(self.dir.path().to_path_buf()))
    }

    /// Waits until the slave has heard the grandmaster and measured.
    pub fn wait_measuring(&self) -> PtpReport {
        let client = self.client(&self.slave.socket);
        let mut last = None;
        wait_for(
            Duration::from_secs(30),
            "the slave's first measurement",
            || {
                last = collect(&client).ok();
                last.as_ref()
                    .is_some_and(|r| r.time_status.gm_present && r.time_status.ingress_time != 0)
            },
        );
        last.expect("a report")
    }

    /// linuxptp 4.x: clears SYNCHRONIZATION_UNCERTAIN_NP and waits for SLAVE.
    pub fn wait_slave(&self) -> PtpReport {
        self.slave.pmc(&["SET SYNCHRONIZATION_UNCERTAIN_NP 0"]);
        let client = self.client(&self.slave.socket);
        let mut last = None;
        wait_for(Duration::from_secs(30), "the slave port in SLAVE", || {
            last = collect(&client).ok();
            last.as_ref().is_some_and(|r| r.slave_port().is_some())
        });
        last.expect("a report")
    }

    pub fn drop_check_no_reply_sockets(&self) {
        let left: Vec<_> = std::fs::read_dir(self.dir.path())
            .expect("read dir")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("clockwatch-ptp-"))
            .collect();
        assert!(left.is_empty(), "reply sockets left behind: {left:?}");
    }
}
