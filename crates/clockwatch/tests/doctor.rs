//! `clockwatch doctor` against real daemons: a chronyd steering the clock
//! without `rtcsync` (its WARN line), the same with `rtcsync` and
//! `makestep` (all OK), and that chronyd with a real systemd-timesyncd
//! steering too (the FAIL line).
//!
//! **The host's clock.** The checks read the kernel's real STA_UNSYNC flag
//! and /proc, so the chronyd here runs without `-x`: it steers the host's
//! clock. Its server is a chronyd serving the host's own clock (`local`),
//! so every correction is the loopback round trip's asymmetry, microseconds,
//! as in tests/timesyncd.rs (whose reasoning applies: acceptable on a test
//! machine, nothing restored). One test holds the clock at a time.

mod common;
#[path = "common/timesyncd.rs"]
mod harness;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{ChronyPair, BIN};

/// A chronyd steering the host's clock from the pair's upstream.
struct Steering {
    child: Child,
    socket: String,
    conf: std::path::PathBuf,
    log: std::path::PathBuf,
}

impl Drop for Steering {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn steering(pair: &ChronyPair, dir: &Path, name: &str, extra: &str) -> Steering {
    // chronyd refuses a socket directory others may write to.
    let run = dir.join(format!("{name}-run"));
    std::fs::create_dir(&run).expect("socket dir");
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o750)).expect("chmod");
    let socket = run.join("chronyd.sock");
    let conf = dir.join(format!("{name}.conf"));
    std::fs::write(
        &conf,
        format!(
            "server 127.0.0.1 port {} iburst minpoll -2 maxpoll -2\nport 0\ncmdport 0\n\
             bindcmdaddress {}\npidfile {}\n{extra}\n",
            pair.ntp_port,
            socket.display(),
            dir.join(format!("{name}.pid")).display()
        ),
    )
    .expect("conf");
    common::guard_chrony_conf(&conf);
    let log = dir.join(format!("{name}.log"));
    let child = Command::new("chronyd")
        .args(["-d", "-u", "root", "-f"])
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("chronyd");
    let s = Steering {
        child,
        socket: format!("unix://{}", socket.display()),
        conf,
        log,
    };
    // Synchronised, as clockwatch itself says.
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let out = Command::new(BIN)
            .args(["status", "--json", "--chrony.address", &s.socket])
            .output()
            .expect("status");
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        if json["state"] == "synchronized" {
            break;
        }
        assert!(
            Instant::now() < until,
            "chronyd never synchronised: {json}\n{}",
            std::fs::read_to_string(&s.log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    s
}

struct Doctor {
    code: Option<i32>,
    json: serde_json::Value,
    text: String,
}

impl Doctor {
    fn check(&self, name: &str) -> (String, String, String) {
        let c = self.json["checks"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["name"] == name))
            .unwrap_or_else(|| panic!("no {name} check in {}", self.json));
        let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
        (s("status"), s("message"), s("fix"))
    }
}

fn doctor(s: &Steering, pair: &ChronyPair) -> Doctor {
    let args = |json: bool| {
        let mut a = vec![
            "doctor".to_string(),
            "--chrony.address".into(),
            s.socket.clone(),
            "--chrony.conf".into(),
            s.conf.display().to_string(),
            "--server-port".into(),
            pair.ntp_port.to_string(),
            "--timesyncd.bus".into(),
            "none".into(),
            // One request: the check needs an answer, not the best of four
            // (each further one waits 2 s).
            "--probe-samples".into(),
            "1".into(),
        ];
        if json {
            a.push("--json".into());
        }
        a
    };
    // Both forms at once, each its own collection and probe.
    let text = Command::new(BIN)
        .args(args(false))
        .stdout(Stdio::piped())
        .spawn()
        .expect("doctor");
    let out = Command::new(BIN).args(args(true)).output().expect("doctor");
    let text = text.wait_with_output().expect("doctor");
    Doctor {
        code: out.status.code(),
        json: serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout))),
        text: String::from_utf8_lossy(&text.stdout).into_owned(),
    }
}

/// The kernel's STA_UNSYNC, read independently of clockwatch's code path.
fn kernel_unsynchronised() -> bool {
    let t = clockwatch::sys::adjtimex_read().expect("adjtimex");
    !t.synchronized()
}

#[test]
fn doctor_on_real_daemons() {
    if harness::skip_unless_timesyncd() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let pair = ChronyPair::start();

    // 1. No rtcsync: chronyd synchronised, the kernel's flag set -> WARN.
    {
        let s = steering(&pair, dir.path(), "nortc", "makestep 1 3");
        let until = Instant::now() + Duration::from_secs(10);
        while !kernel_unsynchronised() {
            assert!(
                Instant::now() < until,
                "chronyd without rtcsync left STA_UNSYNC clear"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let d = doctor(&s, &pair);
        eprintln!("{}", d.text);
        assert_eq!(d.check("daemon").0, "OK", "{}", d.text);
        let (status, message, fix) = d.check("kernel_sync");
        assert_eq!(status, "WARN", "{}", d.text);
        assert!(message.contains("STA_UNSYNC"), "{message}");
        assert!(fix.contains("rtcsync"), "{fix}");
        assert!(d.text.contains("WARN  kernel_sync"), "{}", d.text);
        assert!(d.text.contains("fix: add rtcsync"), "{}", d.text);
        assert_eq!(d.check("makestep").0, "OK");
        assert_eq!(d.json["status"], "WARN");
        assert_eq!(d.code, Some(1));
    }

    // 2. rtcsync and makestep: everything OK (the selected server answers
    //    the probe, the only steering daemon is this chronyd).
    let s = steering(&pair, dir.path(), "healthy", "makestep 1 3\nrtcsync");
    let until = Instant::now() + Duration::from_secs(15);
    while kernel_unsynchronised() {
        assert!(
            Instant::now() < until,
            "chronyd with rtcsync left STA_UNSYNC set"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let d = doctor(&s, &pair);
    eprintln!("{}", d.text);
    for c in d.json["checks"].as_array().expect("checks") {
        assert_eq!(c["status"], "OK", "{}", d.text);
    }
    assert_eq!(
        d.check("server_answers").1.split(' ').next(),
        Some(format!("127.0.0.1:{}", pair.ntp_port).as_str())
    );
    assert!(d.check("daemons_fighting").1.contains("only chronyd"));
    assert_eq!(d.code, Some(0));

    // A timezone other than the node's: FAIL with the command to fix it.
    let out = Command::new(BIN)
        .args(["doctor", "--json", "--chrony.address", &s.socket])
        .args([
            "--timesyncd.bus",
            "none",
            "--expect-timezone",
            "Mars/Olympus_Mons",
        ])
        .args(["--server-port", &pair.ntp_port.to_string()])
        .args(["--probe-samples", "1"])
        .output()
        .expect("doctor");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let tz = json["checks"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == "timezone").cloned())
        .expect("timezone check");
    assert_eq!(tz["status"], "FAIL", "{json}");
    assert_eq!(out.status.code(), Some(2));

    // 3. systemd-timesyncd steering too: the two fight -> FAIL.
    let ns = harness::NetNs::new();
    let _server = harness::NtpServer::start(&ns);
    let bus = harness::SystemBus::start();
    let timesyncd = harness::Timesyncd::start(&ns, &bus, &harness::TimesyncdConfig::default());
    let until = Instant::now() + Duration::from_secs(10);
    while timesyncd.daemon_pid().is_none() {
        assert!(Instant::now() < until, "{}", timesyncd.log_text());
        std::thread::sleep(Duration::from_millis(50));
    }
    let d = doctor(&s, &pair);
    eprintln!("{}", d.text);
    let (status, message, fix) = d.check("daemons_fighting");
    assert_eq!(status, "FAIL", "{}", d.text);
    assert!(
        message.contains("chronyd (pid") && message.contains("systemd-timesyncd (pid"),
        "{message}"
    );
    assert!(fix.contains("systemctl disable --now"), "{fix}");
    assert!(d.text.contains("FAIL  daemons_fighting"), "{}", d.text);
    assert_eq!(d.code, Some(2));
}

#[test]
fn probe_samples_out_of_range_is_refused_by_name() {
    for bad in ["0", "9", "many"] {
        let out = Command::new(BIN)
            .args(["doctor", "--chrony.address", "none", "--probe-samples", bad])
            .output()
            .expect("doctor");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad}: {err}");
        assert!(
            err.contains("--probe-samples") && err.contains(&format!("'{bad}'")),
            "{bad}: {err}"
        );
    }
}
