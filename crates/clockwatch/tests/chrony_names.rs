//! `--chrony.address udp://NAME:PORT` through the real system resolver.
//!
//! clockwatch runs in a bubblewrap sandbox whose /etc/hosts, resolv.conf and
//! nsswitch.conf the test writes, so the name's fate is the test's: found in
//! the hosts file, sent to a DNS server that never answers (a fake, the one
//! thing a real server cannot be made to do reliably), or sent to an address
//! where no DNS server listens.

mod common;

use std::net::UdpSocket;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{csv_fields, skip_unless, ChronyPair, Clockwatch};

const NAME: &str = "chronyd.clockwatch.example";

/// The resolver files of one sandbox.
struct Resolv {
    dir: tempfile::TempDir,
}

impl Resolv {
    /// `hosts` lines go to /etc/hosts; DNS questions go to `nameserver`,
    /// asked once and waited for 30 s (far past any scrape).
    fn new(hosts: &str, nameserver: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let write = |name: &str, text: String| {
            std::fs::write(dir.path().join(name), text).expect("write resolver file")
        };
        write("hosts", format!("127.0.0.1 localhost\n{hosts}"));
        write(
            "resolv.conf",
            format!("nameserver {nameserver}\noptions timeout:30 attempts:1\n"),
        );
        write("nsswitch.conf", "hosts: files dns\n".to_string());
        Self { dir }
    }

    fn file(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// The bubblewrap command line that shows these files in /etc.
    fn wrapper(&self) -> Vec<String> {
        let mut wrapper: Vec<String> = ["bwrap", "--dev-bind", "/", "/", "--die-with-parent"]
            .map(String::from)
            .into();
        for name in ["hosts", "resolv.conf", "nsswitch.conf"] {
            wrapper.extend(["--ro-bind".into(), self.file(name), format!("/etc/{name}")]);
        }
        wrapper.push("--".into());
        wrapper
    }

    /// `clockwatch serve` in the sandbox.
    fn start(&self, args: &[&str]) -> Clockwatch {
        let wrapper = self.wrapper();
        let wrapper: Vec<&str> = wrapper.iter().map(String::as_str).collect();
        Clockwatch::start_wrapped(&wrapper, args)
    }

    /// `clockwatch serve` in the sandbox, reading chronyd at `udp://NAME:323`.
    fn start_for_name(&self, timeout: &str) -> Clockwatch {
        let address = format!("udp://{NAME}:323");
        self.start(&["--chrony.address", &address, "--chrony.timeout", timeout])
    }

    /// Any clockwatch command in the sandbox.
    fn command(&self, args: &[&str]) -> Command {
        let wrapper = self.wrapper();
        let mut command = Command::new(&wrapper[0]);
        command.args(&wrapper[1..]).arg(common::BIN).args(args);
        command
    }
}

/// A DNS server that takes every question and never answers; counts them.
fn silent_dns(ip: &str) -> Arc<AtomicUsize> {
    let socket = UdpSocket::bind((ip, 53)).unwrap_or_else(|e| panic!("bind {ip}:53: {e}"));
    let questions = Arc::new(AtomicUsize::new(0));
    let seen = questions.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while socket.recv_from(&mut buf).is_ok() {
            seen.fetch_add(1, Ordering::SeqCst);
        }
    });
    questions
}

#[test]
fn a_name_in_the_hosts_file_reaches_its_chronyd() {
    if skip_unless(&["chronyd", "chronyc", "bwrap"], true) {
        return;
    }
    let pair = ChronyPair::start();
    // Any question that reaches DNS would hang: the answer must come from
    // the hosts file, as nsswitch says.
    let questions = silent_dns("127.0.0.71");
    let resolv = Resolv::new(&format!("127.0.0.1 {NAME}\n"), "127.0.0.71");
    let address = format!("udp://{NAME}:{}", pair.cmd_port);
    let cw = resolv.start(&["--chrony.address", &address, "--chrony.timeout", "1s"]);

    for _ in 0..3 {
        let m = cw.metrics();
        assert_eq!(m.value("chrony_up"), 1.0, "{}", cw.log_text());
        let tracking = pair.chronyc(&["tracking"]);
        let stratum: f64 = csv_fields(tracking.trim())[2].parse().expect("stratum");
        assert_eq!(m.value("chrony_tracking_stratum"), stratum, "{tracking}");
    }
    assert_eq!(questions.load(Ordering::SeqCst), 0, "the name went to DNS");
}

#[test]
fn a_dns_server_that_never_answers_stalls_neither_scrapes_nor_health() {
    if skip_unless(&["bwrap"], true) {
        return;
    }
    let questions = silent_dns("127.0.0.72");
    let resolv = Resolv::new("", "127.0.0.72");
    let cw = resolv.start_for_name("300ms");

    // /healthz while a scrape waits for the resolver.
    let addr = cw.addr;
    let scrape = std::thread::spawn(move || {
        common::request(addr, "GET", "/metrics", &[], Duration::from_secs(40))
    });
    std::thread::sleep(Duration::from_millis(100));
    let health = cw.response("/healthz");
    assert_eq!(health.status, 200);
    assert!(
        health.took < Duration::from_millis(150),
        "/healthz took {:?} while the resolver hung",
        health.took
    );
    let first = scrape.join().expect("scrape thread").expect("scrape");
    assert_eq!(first.status, 200);
    assert_eq!(first.metric("chrony_up"), Some(0.0), "{}", first.body);
    assert!(
        first.took <= Duration::from_millis(300 + 250),
        "the scrape took {:?} with a 300ms timeout",
        first.took
    );
    let asked = questions.load(Ordering::SeqCst);
    assert!(asked >= 1, "the resolver never asked DNS");

    // Later scrapes wait for the same lookup: no pile of blocked lookups.
    for _ in 0..4 {
        let r = cw.response("/metrics");
        assert_eq!(r.metric("chrony_up"), Some(0.0), "{}", r.body);
        assert!(
            r.took <= Duration::from_millis(300 + 250),
            "took {:?}",
            r.took
        );
    }
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        questions.load(Ordering::SeqCst),
        asked,
        "a new lookup started while one was still waiting"
    );
    let page = cw.response("/");
    assert!(
        page.body
            .contains(&format!("cannot resolve chrony host {NAME}"))
            && page.body.contains("within the chrony timeout"),
        "{}",
        page.body
    );
    assert!(
        cw.log_text()
            .contains(&format!("cannot resolve chrony host {NAME}")),
        "the log does not say why chronyd cannot be read: {}",
        cw.log_text()
    );

    // SIGTERM while the lookup still hangs: no wait for it.
    let mut cw = cw;
    let pid = sandboxed_clockwatch(cw.pid());
    let sent = Instant::now();
    common::signal(pid, "TERM");
    let status = cw
        .wait_exit(Duration::from_secs(10))
        .unwrap_or_else(|| panic!("still running 10 s after SIGTERM: {}", cw.log_text()));
    assert!(status.success(), "{status}: {}", cw.log_text());
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "SIGTERM took {:?} with a lookup hanging",
        sent.elapsed()
    );

    // A one-shot `check` ends with its timeout, not with the lookup.
    let started = Instant::now();
    let out = resolv
        .command(&[
            "check",
            "--chrony.address",
            &format!("udp://{NAME}:323"),
            "--chrony.timeout",
            "300ms",
        ])
        .output()
        .expect("run check");
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    // It says why on its output, once; the server's change log is not its.
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        stdout.contains(&format!("cannot resolve chrony host {NAME}")),
        "{stdout}"
    );
    assert!(!stderr.contains("chronyd cannot be read"), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "check took {:?} with a lookup hanging",
        started.elapsed()
    );
}

/// The clockwatch process bubblewrap started under `wrapper`.
fn sandboxed_clockwatch(wrapper: u32) -> u32 {
    let mut pending = vec![wrapper];
    while let Some(pid) = pending.pop() {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() == "clockwatch" {
            return pid;
        }
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        pending.extend(
            children
                .split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok()),
        );
    }
    panic!("no clockwatch under bwrap pid {wrapper}");
}

#[test]
fn no_dns_server_is_a_precise_error_at_once() {
    if skip_unless(&["bwrap"], true) {
        return;
    }
    // Nothing listens on 127.0.0.73:53 (binding it proves that): the
    // resolver's question is refused and the lookup fails at once.
    drop(UdpSocket::bind(("127.0.0.73", 53)).expect("127.0.0.73:53 is free"));
    let resolv = Resolv::new("", "127.0.0.73");
    let cw = resolv.start_for_name("2s");
    let r = cw.response("/metrics");
    assert_eq!(r.metric("chrony_up"), Some(0.0), "{}", r.body);
    assert!(
        r.took < Duration::from_millis(1000),
        "a refused lookup took {:?}",
        r.took
    );
    let page = cw.response("/");
    assert!(
        page.body
            .contains(&format!("cannot resolve chrony host {NAME}")),
        "{}",
        page.body
    );
}
