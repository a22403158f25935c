//! A real systemd-timesyncd for integration tests, without systemd as PID 1:
//!
//! - Debian's binary, unpacked by scripts/fetch-timesyncd.sh (its package
//!   conflicts with chrony's), with the libsystemd-shared of its version;
//! - a private `dbus-daemon` of type system on a socket in a temporary
//!   directory, with a permissive policy plus timesyncd's own policy file
//!   from the package (so reading its properties is allowed exactly as on a
//!   real node);
//! - its configuration, state and runtime directories bound over /etc/systemd,
//!   /var/lib/systemd and /run/systemd by bubblewrap (`--bind / /` keeps the
//!   rest of the host as it is; binding the directories rather than the files
//!   creates no mount point on the host and hides its drop-ins);
//! - NTP from a real chronyd on 127.0.0.2:123 (timesyncd only talks to port
//!   123), serving its own clock (`local stratum 2`, `-x`);
//! - both in a network namespace of their own with only `lo` up: nothing can
//!   leave the machine and port 123 is free whatever the host runs.
//!
//! timesyncd runs as root (it drops to the user systemd-timesync, keeping
//! CAP_SYS_TIME) and adjusts the host's clock: see tests/timesyncd.rs for why
//! that is acceptable.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::common::{skip_unless, which};

/// Where scripts/fetch-timesyncd.sh unpacks the packages.
pub fn unpacked_root() -> PathBuf {
    match std::env::var_os("CLOCKWATCH_TIMESYNCD_ROOT") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/timesyncd/root"),
    }
}

fn find(root: &Path, candidates: &[&str]) -> Option<PathBuf> {
    candidates.iter().map(|c| root.join(c)).find(|p| p.exists())
}

pub fn binary() -> Option<PathBuf> {
    find(
        &unpacked_root(),
        &[
            "lib/systemd/systemd-timesyncd",
            "usr/lib/systemd/systemd-timesyncd",
        ],
    )
}

pub fn policy_file() -> Option<PathBuf> {
    find(
        &unpacked_root(),
        &["usr/share/dbus-1/system.d/org.freedesktop.timesync1.conf"],
    )
}

/// The directory of the unpacked libsystemd-shared-NNN.so, if any.
fn library_dir() -> Option<PathBuf> {
    let lib = unpacked_root().join("usr/lib");
    std::fs::read_dir(&lib)
        .ok()?
        .flatten()
        .map(|e| e.path().join("systemd"))
        .find(|d| {
            std::fs::read_dir(d).is_ok_and(|mut entries| {
                entries.any(|e| {
                    e.is_ok_and(|e| {
                        e.file_name()
                            .to_string_lossy()
                            .starts_with("libsystemd-shared")
                    })
                })
            })
        })
}

fn user_exists(name: &str) -> bool {
    std::fs::read_to_string("/etc/passwd")
        .is_ok_and(|p| p.lines().any(|l| l.split(':').next() == Some(name)))
}

/// True (after a loud SKIP) when the real daemon cannot run here; under
/// CI=true that is a failure instead.
pub fn skip_unless_timesyncd() -> bool {
    if skip_unless(
        &[
            "chronyd",
            "dbus-daemon",
            "bwrap",
            "busctl",
            "unshare",
            "nsenter",
            "setpriv",
            "ip",
            "ss",
        ],
        true,
    ) {
        return true;
    }
    let missing = if binary().is_none() || policy_file().is_none() {
        Some(format!(
            "systemd-timesyncd is not unpacked in {} (run scripts/fetch-timesyncd.sh)",
            unpacked_root().display()
        ))
    } else if !user_exists("systemd-timesync") {
        Some("the user systemd-timesync is missing (run scripts/fetch-timesyncd.sh as root)".into())
    } else {
        None
    };
    let Some(why) = missing else {
        return false;
    };
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("in CI nothing may skip: {why}");
    }
    eprintln!("\n*** SKIP: {why} ***\n");
    true
}

fn tempdir_open_to_all() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    // timesyncd drops to systemd-timesync, which must reach the bus socket
    // and its directories below this one.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// A network namespace with only `lo` up, held open by a sleeping process;
/// commands join it with nsenter.
pub struct NetNs {
    holder: Child,
}

impl NetNs {
    pub fn new() -> Self {
        // setpriv --pdeathsig: the holder dies with the test process, even
        // one killed outright (unshare and sh exec, it stays one process).
        let mut holder = Command::new(which("setpriv").expect("setpriv"))
            .args(["--pdeathsig", "KILL", "--"])
            .arg(which("unshare").expect("unshare"))
            .args([
                "--net",
                "sh",
                "-c",
                "ip link set lo up && echo up && exec sleep 3600",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start unshare");
        let mut line = String::new();
        let stdout = holder.stdout.take().expect("holder stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read holder");
        assert_eq!(line.trim(), "up", "the namespace's lo did not come up");
        Self { holder }
    }

    /// `program` run inside the namespace, killed if the test process dies
    /// (setpriv and nsenter exec, so the pid is the program's).
    pub fn command(&self, program: &Path) -> Command {
        let mut c = Command::new(which("setpriv").expect("setpriv"));
        c.args(["--pdeathsig", "KILL", "--"])
            .arg(which("nsenter").expect("nsenter"))
            .arg(format!("--net=/proc/{}/ns/net", self.holder.id()))
            .arg("--")
            .arg(program);
        c
    }

    /// Waits until something in the namespace listens on UDP `addr:port`.
    pub fn wait_udp_listener(&self, addr: &str, port: u16, limit: Duration) {
        let until = Instant::now() + limit;
        let wanted = format!("{addr}:{port}");
        loop {
            let out = self
                .command(&which("ss").expect("ss"))
                .args(["-Hnul"])
                .output()
                .expect("run ss");
            if String::from_utf8_lossy(&out.stdout).contains(&wanted) {
                return;
            }
            assert!(Instant::now() < until, "nothing listens on {wanted}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        kill(&mut self.holder);
    }
}

/// A chronyd serving its own clock over NTP on 127.0.0.2:123 in `ns`,
/// never touching the host's clock (-x).
pub struct NtpServer {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
}

pub const NTP_SERVER: &str = "127.0.0.2";

impl NtpServer {
    pub fn start(ns: &NetNs) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let conf = dir.path().join("chronyd.conf");
        std::fs::write(
            &conf,
            format!(
                "local stratum 2\nport 123\nbindaddress {NTP_SERVER}\nallow 127.0.0.0/8\n\
                 cmdport 0\nbindcmdaddress /\npidfile {}\n",
                dir.path().join("chronyd.pid").display()
            ),
        )
        .expect("write chronyd.conf");
        let log = std::fs::File::create(dir.path().join("chronyd.log")).expect("log");
        let child = ns
            .command(&which("chronyd").expect("chronyd"))
            .args(["-d", "-x", "-u", "root", "-f"])
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start chronyd");
        ns.wait_udp_listener(NTP_SERVER, 123, Duration::from_secs(10));
        Self {
            child: Some(child),
            dir,
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            kill(&mut c);
        }
    }
}

impl Drop for NtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A private system bus: dbus-daemon on a socket in a temporary directory;
/// killed when dropped. Not --fork: a daemon that forks away from the test
/// process is left running when the test binary is killed (a runner's
/// timeout), and a child of it is not.
pub struct SystemBus {
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
    child: Option<Child>,
}

impl SystemBus {
    pub fn start() -> Self {
        Self::start_inner(None)
    }

    /// A bus that starts "timesyncd" on demand (D-Bus activation, as on a
    /// node where its package is installed): the activated command only
    /// creates `marker`.
    pub fn start_with_activation(marker: &Path) -> Self {
        Self::start_inner(Some(marker))
    }

    fn start_inner(activation_marker: Option<&Path>) -> Self {
        let dir = tempdir_open_to_all();
        let servicedir = match activation_marker {
            Some(marker) => {
                let services = dir.path().join("services");
                std::fs::create_dir(&services).expect("mkdir");
                std::fs::write(
                    services.join("org.freedesktop.timesync1.service"),
                    format!(
                        "[D-BUS Service]\nName=org.freedesktop.timesync1\nExec={} {}\nUser=root\n",
                        which("touch").expect("touch").display(),
                        marker.display()
                    ),
                )
                .expect("write the activation file");
                // The started command never takes the name: give up on it
                // after 1 s rather than the default 25 s.
                format!(
                    "<servicedir>{}</servicedir>\n  <limit name=\"service_start_timeout\">1000</limit>",
                    services.display()
                )
            }
            None => String::new(),
        };
        let socket = dir.path().join("system_bus_socket");
        let config = dir.path().join("bus.conf");
        let policy = policy_file().expect("timesyncd's policy file");
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  {servicedir}
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
  </policy>
  <include>{policy}</include>
</busconfig>
"#,
                socket = socket.display(),
                policy = policy.display(),
            ),
        )
        .expect("write bus.conf");
        let log = dir.path().join("dbus-daemon.log");
        let mut child = Command::new(which("dbus-daemon").expect("dbus-daemon"))
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--nosyslog"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("dbus-daemon's log"))
            .spawn()
            .expect("run dbus-daemon");
        let until = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            if let Ok(Some(status)) = child.try_wait() {
                let why = std::fs::read_to_string(&log).unwrap_or_default();
                panic!("dbus-daemon exited ({status}): {why}");
            }
            assert!(Instant::now() < until, "dbus-daemon made no socket");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            dir,
            socket,
            child: Some(child),
        }
    }

    pub fn address(&self) -> String {
        format!("unix:path={}", self.socket.display())
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `busctl --system get-property` of timesyncd's PROPERTY on this bus:
    /// its output, e.g. `t 16000000`.
    pub fn busctl_property(&self, property: &str) -> String {
        let out = self.busctl_get_property(property, Duration::from_secs(10));
        assert!(
            out.status.success(),
            "busctl get-property {property} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }
}

impl SystemBus {
    /// The same call, its outcome whatever it is (busctl allows the bus to
    /// start the service on demand).
    pub fn busctl_get_property(&self, property: &str, timeout: Duration) -> std::process::Output {
        Command::new(which("busctl").expect("busctl"))
            .env("DBUS_SYSTEM_BUS_ADDRESS", self.address())
            .arg(format!("--timeout={}ms", timeout.as_millis()))
            .args([
                "--system",
                "get-property",
                "org.freedesktop.timesync1",
                "/org/freedesktop/timesync1",
                "org.freedesktop.timesync1.Manager",
                property,
            ])
            .output()
            .expect("run busctl")
    }
}

impl Drop for SystemBus {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What goes into the test's timesyncd.conf.
pub struct TimesyncdConfig {
    /// NTP= (the server: chronyd in the namespace).
    pub ntp: String,
    pub poll_interval_min_sec: u32,
    pub poll_interval_max_sec: u32,
    /// RootDistanceMaxSec= as timesyncd parses it ("5", "4ms").
    pub root_distance_max: String,
}

impl Default for TimesyncdConfig {
    fn default() -> Self {
        Self {
            ntp: NTP_SERVER.to_string(),
            // 16 s is the least timesyncd accepts.
            poll_interval_min_sec: 16,
            poll_interval_max_sec: 16,
            root_distance_max: "5".to_string(),
        }
    }
}

/// A running systemd-timesyncd; killed when dropped.
pub struct Timesyncd {
    child: Option<Child>,
    bus_address: String,
    pub dir: tempfile::TempDir,
    pub log: PathBuf,
}

impl Timesyncd {
    pub fn start(ns: &NetNs, bus: &SystemBus, config: &TimesyncdConfig) -> Self {
        let dir = tempdir_open_to_all();
        let d = dir.path();
        let etc = d.join("etc-systemd");
        let var_lib = d.join("var-lib-systemd");
        let run = d.join("run-systemd");
        for sub in [&etc, &var_lib, &run] {
            std::fs::create_dir(sub).expect("mkdir");
            std::fs::set_permissions(sub, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        // 252 adds Debian's pool when FallbackNTP= is empty (it only
        // notes a non-empty value), and uses the fallback when no other
        // server is configured: name the test's server there too, so that
        // it never reaches for the public pool whatever the test does.
        std::fs::write(
            etc.join("timesyncd.conf"),
            format!(
                "[Time]\nNTP={ntp}\nFallbackNTP={ntp}\nPollIntervalMinSec={min}\n\
                 PollIntervalMaxSec={max}\nRootDistanceMaxSec={rdm}\n",
                ntp = config.ntp,
                min = config.poll_interval_min_sec,
                max = config.poll_interval_max_sec,
                rdm = config.root_distance_max,
            ),
        )
        .expect("write timesyncd.conf");
        // Its state (the clock file) and runtime ("synchronized" flag)
        // directories, owned by the user it drops to.
        for owned in [var_lib.join("timesync"), run.join("timesync")] {
            std::fs::create_dir(&owned).expect("mkdir");
            let status = Command::new("chown")
                .arg("systemd-timesync:systemd-timesync")
                .arg(&owned)
                .status()
                .expect("chown");
            assert!(status.success(), "chown {}", owned.display());
        }
        let log = d.join("timesyncd.log");
        let mut command = ns.command(&which("bwrap").expect("bwrap"));
        command
            .args(["--bind", "/", "/", "--dev-bind", "/dev", "/dev"])
            .arg("--bind")
            .arg(&etc)
            .arg("/etc/systemd")
            .arg("--bind")
            .arg(&var_lib)
            .arg("/var/lib/systemd")
            .arg("--bind")
            .arg(&run)
            .arg("/run/systemd")
            // As root bwrap drops every capability unless told: timesyncd
            // needs CAP_SETUID/SETGID to drop to its user, and keeps
            // CAP_SYS_TIME to adjust the clock.
            .args(["--cap-add", "ALL"])
            // Changing its user clears timesyncd's own parent-death signal,
            // so --die-with-parent alone would leave it running: in a pid
            // namespace of its own it dies with bwrap's init, which keeps it.
            .args(["--unshare-pid", "--die-with-parent", "--"])
            .arg(binary().expect("timesyncd binary"))
            // Not started by systemd: no notification socket, no journal.
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env("DBUS_SYSTEM_BUS_ADDRESS", bus.address())
            .env("SYSTEMD_LOG_LEVEL", "debug")
            .env("SYSTEMD_LOG_TARGET", "console")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"));
        if let Some(lib) = library_dir() {
            command.env("LD_LIBRARY_PATH", lib);
        }
        let child = command.spawn().expect("start systemd-timesyncd");
        let t = Self {
            child: Some(child),
            bus_address: bus.address(),
            dir,
            log,
        };
        t.wait_on_bus(bus, Duration::from_secs(15));
        t
    }

    fn wait_on_bus(&self, bus: &SystemBus, limit: Duration) {
        let until = Instant::now() + limit;
        loop {
            let out = Command::new(which("busctl").expect("busctl"))
                .env("DBUS_SYSTEM_BUS_ADDRESS", bus.address())
                .args(["--system", "list", "--no-legend"])
                .output()
                .expect("busctl list");
            if String::from_utf8_lossy(&out.stdout).contains("org.freedesktop.timesync1") {
                return;
            }
            assert!(
                Instant::now() < until,
                "timesyncd did not take its bus name:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The daemon's pid (host view), found by its command name and this
    /// test's bus address in its environment.
    pub fn daemon_pid(&self) -> Option<u32> {
        daemon_pid_on(&self.bus_address)
    }

    /// Stops it and waits until the daemon itself is gone.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            kill(&mut c);
        }
        let until = Instant::now() + Duration::from_secs(5);
        while let Some(pid) = self.daemon_pid() {
            assert!(
                Instant::now() < until,
                "systemd-timesyncd {pid} outlived bwrap"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The pid of a systemd-timesyncd whose DBUS_SYSTEM_BUS_ADDRESS is `address`.
pub fn daemon_pid_on(address: &str) -> Option<u32> {
    let wanted = format!("DBUS_SYSTEM_BUS_ADDRESS={address}");
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
        if comm.trim_end() != "systemd-timesyn" {
            return None;
        }
        let environ = std::fs::read(e.path().join("environ")).ok()?;
        environ
            .split(|&b| b == 0)
            .any(|v| v == wanted.as_bytes())
            .then_some(pid)
    })
}

impl Drop for Timesyncd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            kill(&mut c);
        }
    }
}

/// busctl's printed value of one property, as tokens after the signature.
pub struct Printed {
    pub signature: String,
    pub tokens: Vec<String>,
}

/// Splits `busctl get-property` output: the signature, then the values
/// (strings unquoted; `ay` printed as a count then the bytes).
pub fn parse_busctl(output: &str) -> Printed {
    let mut tokens = Vec::new();
    let mut rest = output.trim();
    while !rest.is_empty() {
        if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"').expect("closing quote");
            tokens.push(quoted[..end].to_string());
            rest = quoted[end + 1..].trim_start();
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            tokens.push(rest[..end].to_string());
            rest = rest[end..].trim_start();
        }
    }
    let signature = tokens.remove(0);
    Printed { signature, tokens }
}
