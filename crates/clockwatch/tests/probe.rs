//! The NTP probe against a real chronyd serving NTP on loopback (the
//! `clockwatch probe` binary, under libfaketime for a shifted node or a
//! shifted server, compared with `chronyd -Q`), and against fake peers for
//! what a real server does not send: foreign origins, wrong mode and
//! version, Kiss-o'-Death, leap 3, truncated and oversized packets,
//! replies from elsewhere, silence. Every wait is bounded.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use clockwatch::probe::{probe_once_with, Burst, ProbeConfig, ProbeResult, Prober, ServerSpec};
use common::{
    chronyc_at, csv_fields, free_udp_port, libfaketime, skip_unless, which, Chronyd, Clockwatch,
    BIN,
};
use ntpclient::{Leap, Mode, NtpTimestamp, Packet};

// ---------------------------------------------------------------- fake peers

/// What a fake peer sends back to one request: any number of datagrams
/// (none is silence), each to the request's sender unless a spoofing
/// socket is asked for.
type Answer = dyn Fn(&[u8]) -> Vec<Vec<u8>> + Send + Sync;

/// A UDP socket on 127.0.0.1 that answers as told; stopped when dropped.
struct FakePeer {
    addr: SocketAddr,
    requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakePeer {
    fn start(answer: impl Fn(&[u8]) -> Vec<Vec<u8>> + Send + Sync + 'static) -> Self {
        let answer: Arc<Answer> = Arc::new(answer);
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind fake peer");
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("read timeout");
        let addr = socket.local_addr().expect("local addr");
        let requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (requests, stop) = (requests.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut buf = [0u8; 2048];
                while !stop.load(Ordering::Relaxed) {
                    let Ok((len, from)) = socket.recv_from(&mut buf) else {
                        continue;
                    };
                    requests.fetch_add(1, Ordering::SeqCst);
                    for datagram in answer(&buf[..len]) {
                        let _ = socket.send_to(&datagram, from);
                    }
                }
            })
        };
        Self {
            addr,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    fn spec(&self) -> ServerSpec {
        ServerSpec {
            host: "127.0.0.1".into(),
            port: self.addr.port(),
        }
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for FakePeer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A valid reply to `request` (the server's clock is this machine's),
/// changed by `change`.
fn reply_to(request: &[u8], change: impl FnOnce(&mut Packet)) -> Vec<u8> {
    let cookie = Packet::decode(request)
        .map(|p| p.transmit)
        .unwrap_or(NtpTimestamp::ZERO);
    let now = NtpTimestamp::from_system_time(SystemTime::now());
    let mut p = Packet {
        receive: now,
        transmit: now,
        ..ntpclient::testing::server_packet(cookie)
    };
    change(&mut p);
    p.encode().to_vec()
}

fn kiss(request: &[u8], code: &[u8; 4]) -> Vec<u8> {
    reply_to(request, |p| {
        p.stratum = 0;
        p.leap = Leap::Unsynchronised;
        p.reference_id = *code;
    })
}

/// One single-request round to `peer`, and how long it took.
async fn probe(peer: &FakePeer, timeout: Duration) -> (ProbeResult, Duration) {
    let burst = Burst {
        samples: 1,
        spacing: Duration::ZERO,
        timeout,
    };
    let start = Instant::now();
    let mut results = probe_once_with(&[peer.spec()], burst).await;
    (results.remove(0), start.elapsed())
}

/// The probe failed for `kind`, within about the timeout.
async fn fails_with(peer: &FakePeer, kind: &str) -> ProbeResult {
    let timeout = Duration::from_millis(400);
    let (result, took) = probe(peer, timeout).await;
    let failure = result
        .failure
        .clone()
        .unwrap_or_else(|| panic!("{kind}: the probe succeeded: {result:?}"));
    assert_eq!(failure.kind, kind, "{result:?}");
    assert!(result.sample.is_none() && !result.success(), "{result:?}");
    assert!(
        took < timeout + Duration::from_millis(500),
        "{kind}: took {took:?}"
    );
    assert!(peer.requests() >= 1, "{kind}: the peer saw no request");
    result
}

#[tokio::test]
async fn a_valid_fake_reply_is_measured() {
    let peer = FakePeer::start(|req| vec![reply_to(req, |_| {})]);
    let (result, _) = probe(&peer, Duration::from_millis(400)).await;
    let s = result
        .sample
        .unwrap_or_else(|| panic!("no sample: {result:?}"));
    assert!(s.offset.abs() < 0.01, "{s:?}");
    assert_eq!(s.stratum, 2);
    // server_packet's root delay 2 ms and dispersion 1 ms.
    assert!((s.root_distance - 0.002).abs() < 1e-4, "{s:?}");
    assert!((s.uncertainty - (s.delay / 2.0 + s.root_distance)).abs() < 1e-12);
    assert_eq!(result.address, Some(peer.addr));
    assert!(result.last_success.is_some());
}

#[tokio::test]
async fn a_reply_with_a_foreign_origin_is_rejected_and_the_real_one_still_counts() {
    let stale = FakePeer::start(|req| {
        vec![reply_to(req, |p| {
            p.origin = NtpTimestamp::from_bits(p.origin.to_bits() ^ 1)
        })]
    });
    let r = fails_with(&stale, "not_ours").await;
    assert!(
        r.failure
            .as_ref()
            .is_some_and(|f| f.message.contains("spoofed or stale")),
        "{r:?}"
    );
    // A forgery first, then the server's answer: the forgery is dropped,
    // the answer measured.
    let raced = FakePeer::start(|req| {
        vec![
            reply_to(req, |p| {
                p.origin = NtpTimestamp::from_bits(7);
                p.receive = NtpTimestamp::from_unix(1_000_000_000, 0);
                p.transmit = p.receive;
            }),
            reply_to(req, |_| {}),
        ]
    });
    let (result, _) = probe(&raced, Duration::from_millis(400)).await;
    let s = result
        .sample
        .unwrap_or_else(|| panic!("no sample: {result:?}"));
    assert!(s.offset.abs() < 0.01, "the forged time was used: {s:?}");
}

#[tokio::test]
async fn a_reply_from_another_address_never_reaches_the_probe() {
    // The server is silent; a second socket sends a perfect reply (right
    // cookie) to the probe's port. The probe's socket is connected to the
    // server, so the kernel drops it and the round times out.
    let server = UdpSocket::bind("127.0.0.1:0").expect("bind server");
    server
        .set_read_timeout(Some(Duration::from_secs(3)))
        .expect("read timeout");
    let spec = ServerSpec {
        host: "127.0.0.1".into(),
        port: server.local_addr().expect("addr").port(),
    };
    let spoofer = std::thread::spawn(move || {
        let other = UdpSocket::bind("127.0.0.1:0").expect("bind spoofer");
        let mut buf = [0u8; 128];
        let (len, client) = server.recv_from(&mut buf).expect("the probe's request");
        other
            .send_to(&reply_to(&buf[..len], |_| {}), client)
            .expect("send the forgery");
    });
    let burst = Burst {
        samples: 1,
        spacing: Duration::ZERO,
        timeout: Duration::from_millis(500),
    };
    let results = probe_once_with(&[spec], burst).await;
    spoofer.join().expect("spoofer");
    assert_eq!(
        results[0].failure.as_ref().map(|f| f.kind),
        Some("timeout"),
        "{results:?}"
    );
}

#[tokio::test]
async fn wrong_mode_and_version_are_rejected() {
    for mode in [Mode::Client, Mode::SymmetricActive, Mode::Broadcast] {
        let peer = FakePeer::start(move |req| vec![reply_to(req, |p| p.mode = mode)]);
        fails_with(&peer, "mode").await;
    }
    for version in [2, 5] {
        let peer = FakePeer::start(move |req| vec![reply_to(req, |p| p.version = version)]);
        let r = fails_with(&peer, "version").await;
        assert!(
            r.failure
                .as_ref()
                .is_some_and(|f| f.message.contains(&format!("version {version}"))),
            "{r:?}"
        );
    }
    // Version 3 servers are understood.
    let v3 = FakePeer::start(|req| vec![reply_to(req, |p| p.version = 3)]);
    assert!(probe(&v3, Duration::from_millis(400)).await.0.success());
}

#[tokio::test]
async fn kisses_of_death_are_reported_with_their_code() {
    for (code, kind) in [
        (b"RATE", "kiss_rate"),
        (b"DENY", "kiss_deny"),
        (b"RSTR", "kiss_rstr"),
        (b"INIT", "kiss_other"),
    ] {
        let peer = FakePeer::start(move |req| vec![kiss(req, code)]);
        let r = fails_with(&peer, kind).await;
        let code = std::str::from_utf8(code).expect("ascii");
        assert!(
            r.failure.as_ref().is_some_and(|f| f.message.contains(code)),
            "{r:?}"
        );
    }
}

#[tokio::test]
async fn unsynchronised_servers_are_rejected() {
    let leap3 = FakePeer::start(|req| vec![reply_to(req, |p| p.leap = Leap::Unsynchronised)]);
    fails_with(&leap3, "unsynchronised").await;
    let stratum16 = FakePeer::start(|req| vec![reply_to(req, |p| p.stratum = 16)]);
    fails_with(&stratum16, "stratum").await;
    let zero = FakePeer::start(|req| vec![reply_to(req, |p| p.transmit = NtpTimestamp::ZERO)]);
    fails_with(&zero, "zero_transmit").await;
}

#[tokio::test]
async fn truncated_oversized_and_misaligned_packets_are_rejected() {
    let truncated = FakePeer::start(|req| vec![reply_to(req, |_| {})[..47].to_vec()]);
    fails_with(&truncated, "truncated").await;
    let oversized = FakePeer::start(|req| {
        let mut big = reply_to(req, |_| {});
        big.resize(48 + 1100, 0);
        vec![big]
    });
    let r = fails_with(&oversized, "oversized").await;
    assert!(
        r.failure
            .as_ref()
            .is_some_and(|f| f.message.contains("1148 bytes")),
        "{r:?}"
    );
    let odd = FakePeer::start(|req| {
        let mut odd = reply_to(req, |_| {});
        odd.push(0);
        vec![odd]
    });
    fails_with(&odd, "misaligned").await;
    // A 20-byte MAC after the header is tolerated.
    let mac = FakePeer::start(|req| {
        let mut with_mac = reply_to(req, |_| {});
        with_mac.extend([0x5A; 20]);
        vec![with_mac]
    });
    assert!(probe(&mac, Duration::from_millis(400)).await.0.success());
}

#[tokio::test]
async fn a_silent_server_costs_the_timeout_and_no_more() {
    let silent = FakePeer::start(|_| vec![]);
    let timeout = Duration::from_millis(600);
    let (result, took) = probe(&silent, timeout).await;
    assert_eq!(
        result.failure.as_ref().map(|f| f.kind),
        Some("timeout"),
        "{result:?}"
    );
    assert!(took >= timeout, "gave up early: {took:?}");
    assert!(took < timeout + Duration::from_millis(500), "took {took:?}");
    // Nothing listening at all: refused at once, not after the timeout.
    let port = free_udp_port();
    let spec = ServerSpec {
        host: "127.0.0.1".into(),
        port,
    };
    let start = Instant::now();
    let results = probe_once_with(
        &[spec],
        Burst {
            samples: 1,
            spacing: Duration::ZERO,
            timeout: Duration::from_secs(5),
        },
    )
    .await;
    assert_eq!(
        results[0].failure.as_ref().map(|f| f.kind),
        Some("refused"),
        "{results:?}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn a_round_keeps_the_lowest_delay_sample() {
    // The first two requests are answered 150 ms late, the third at once.
    let peer = FakePeer::start({
        let count = AtomicUsize::new(0);
        move |req| {
            if count.fetch_add(1, Ordering::SeqCst) < 2 {
                std::thread::sleep(Duration::from_millis(150));
            }
            vec![reply_to(req, |_| {})]
        }
    });
    let burst = Burst {
        samples: 3,
        spacing: Duration::from_millis(200),
        timeout: Duration::from_millis(500),
    };
    let results = probe_once_with(&[peer.spec()], burst).await;
    let s = results[0].sample.unwrap_or_else(|| panic!("{results:?}"));
    assert_eq!((s.valid, s.completed), (3, 3), "{s:?}");
    assert!(s.delay < 0.1, "not the fastest sample: {s:?}");
    assert_eq!(peer.requests(), 3);
}

/// The background prober: a RATE kiss doubles the interval, DENY and RSTR
/// stop the server's probing, a normal server is probed again after the
/// interval; a silent one never delays `results()`.
#[tokio::test]
async fn the_prober_backs_off_on_rate_and_stops_on_deny_and_rstr() {
    let normal = FakePeer::start(|req| vec![reply_to(req, |_| {})]);
    let rate = FakePeer::start(|req| vec![kiss(req, b"RATE")]);
    let deny = FakePeer::start(|req| vec![kiss(req, b"DENY")]);
    let rstr = FakePeer::start(|req| vec![kiss(req, b"RSTR")]);
    let silent = FakePeer::start(|_| vec![]);
    let config = ProbeConfig {
        samples: 2,
        spacing: Duration::from_millis(300),
        timeout: Duration::from_secs(2),
        interval: Duration::from_secs(16),
        ..ProbeConfig::new(vec![
            normal.spec(),
            rate.spec(),
            deny.spec(),
            rstr.spec(),
            silent.spec(),
        ])
    };
    let prober = Prober::start(config).expect("valid config");
    // While the silent server's round is under way, results() answers at once.
    let mut slowest = Duration::ZERO;
    let until = Instant::now() + Duration::from_secs(5);
    let first = loop {
        let asked = Instant::now();
        let results = prober.results();
        slowest = slowest.max(asked.elapsed());
        if results.iter().all(|r| r.rounds >= 1) {
            break results;
        }
        assert!(
            Instant::now() < until,
            "no first round everywhere: {results:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        slowest < Duration::from_millis(50),
        "results() took {slowest:?}"
    );
    let [n, r, d, x, s] = &first[..] else {
        panic!("{first:?}")
    };
    assert!(n.success(), "{n:?}");
    assert_eq!(n.interval, Duration::from_secs(16));
    assert_eq!(
        r.failure.as_ref().map(|f| f.kind),
        Some("kiss_rate"),
        "{r:?}"
    );
    assert_eq!(r.interval, Duration::from_secs(32), "{r:?}");
    assert!(!r.stopped);
    for (k, kind) in [(d, "kiss_deny"), (x, "kiss_rstr")] {
        assert_eq!(k.failure.as_ref().map(|f| f.kind), Some(kind), "{k:?}");
        assert!(k.stopped, "{k:?}");
    }
    assert_eq!(s.failure.as_ref().map(|f| f.kind), Some("timeout"), "{s:?}");
    // The kiss ended each round: the second request was never sent.
    assert_eq!(
        (rate.requests(), deny.requests(), rstr.requests()),
        (1, 1, 1)
    );
    assert_eq!(normal.requests(), 2);
    // After one interval (16 s, up to 1/16 more) the normal server gets
    // its second round; the kissed ones nothing.
    let until = Instant::now() + Duration::from_secs(22);
    while normal.requests() < 4 {
        assert!(
            Instant::now() < until,
            "no second round: {:?}",
            prober.results()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(prober.results()[0].rounds, 2);
    assert_eq!(
        (rate.requests(), deny.requests(), rstr.requests()),
        (1, 1, 1)
    );
    drop(prober);
}

#[test]
fn a_too_short_interval_is_refused() {
    let config = ProbeConfig {
        interval: Duration::from_secs(10),
        ..ProbeConfig::new(vec!["127.0.0.1".parse().expect("spec")])
    };
    let error = Prober::start(config).err().expect("refused");
    assert!(error.to_string().contains("16 s minimum"), "{error}");
}

// ------------------------------------------------------------ real chronyd

/// chronyd serving its own clock as stratum 2 on 127.0.0.1:`port`, shifted
/// by libfaketime's `FAKETIME=SHIFT` if given.
fn ntp_server(dir: &Path, port: u16, shift: Option<&str>) -> Chronyd {
    let conf = dir.join("server.conf");
    std::fs::write(
        &conf,
        format!(
            "port {port}\nbindaddress 127.0.0.1\nallow 127.0.0.0/8\nlocal stratum 2\ncmdport 0\n\
             bindcmdaddress /\npidfile {}\n",
            dir.join("server.pid").display()
        ),
    )
    .expect("write conf");
    let server = Chronyd::start_shifted(
        &which("chronyd").expect("chronyd"),
        &conf,
        &dir.join("server.log"),
        shift,
    );
    wait_serving(port, &server.log);
    server
}

/// Until chronyd answers NTP on `port` (10 s at most).
fn wait_serving(port: u16, log: &Path) {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let out = clockwatch(
            &[],
            &[
                &format!("127.0.0.1:{port}"),
                "--samples",
                "1",
                "--timeout",
                "200ms",
            ],
        );
        if out.status.code() != Some(3) {
            return;
        }
        assert!(
            Instant::now() < until,
            "chronyd does not serve NTP on {port}: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `clockwatch probe ARGS`, under `wrapper` (e.g. faketime) if given.
fn clockwatch(wrapper: &[&str], args: &[&str]) -> Output {
    let mut command = match wrapper.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(BIN);
            c
        }
        None => Command::new(BIN),
    };
    command
        .arg("probe")
        .args(args)
        .output()
        .expect("run clockwatch probe")
}

/// The one server's JSON result of `clockwatch probe --json`, and the exit code.
fn probe_json(wrapper: &[&str], port: u16, extra: &[&str]) -> (serde_json::Value, i32) {
    let server = format!("127.0.0.1:{port}");
    let mut args = vec![server.as_str(), "--json"];
    args.extend(extra);
    let out = clockwatch(wrapper, &args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (v["servers"][0].clone(), out.status.code().unwrap_or(-1))
}

fn offset_of(server: &serde_json::Value) -> f64 {
    server["offset_seconds"]
        .as_f64()
        .unwrap_or_else(|| panic!("no offset: {server}"))
}

/// `chronyd -Q` against the server: chrony's own measurement, in chrony's
/// sign ("System clock wrong by X seconds": X is server minus node, the
/// correction the node's clock would need).
fn chronyd_q(port: u16) -> f64 {
    let out = Command::new("timeout")
        .arg("30")
        .arg(which("chronyd").expect("chronyd"))
        .args(["-Q", "-u", "root", "-f", "/dev/null"])
        .arg(format!("server 127.0.0.1 port {port} iburst"))
        .output()
        .expect("run chronyd -Q");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .find_map(|l| {
            let rest = l.split("System clock wrong by ").nth(1)?;
            rest.split_whitespace().next()?.parse::<f64>().ok()
        })
        .unwrap_or_else(|| panic!("chronyd -Q measured nothing: {text}"))
}

fn skip_without_tools() -> bool {
    if skip_unless(&["chronyd", "faketime", "timeout"], true) {
        return true;
    }
    // Installed with the faketime package; checked like a tool.
    if libfaketime().is_none() {
        let why = "libfaketime.so.1 not found (apt-get install faketime)";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("in CI nothing may skip: {why}");
        }
        eprintln!("\n*** SKIP: {why} ***\n");
        return true;
    }
    false
}

#[test]
fn a_real_chronyd_measures_about_zero_as_chronyd_q_does() {
    if skip_without_tools() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_udp_port();
    let _server = ntp_server(dir.path(), port, None);
    let (s, code) = probe_json(&[], port, &[]);
    assert_eq!(code, 0, "{s}");
    let offset = offset_of(&s);
    assert!(offset.abs() < 0.05, "{s}");
    assert_eq!(s["stratum"], 2, "{s}");
    // All four ended; on a loaded machine one may miss its 1 s timeout.
    assert_eq!(s["samples_completed"], 4, "{s}");
    assert!(s["samples_valid"].as_u64() >= Some(3), "{s}");
    let delay = s["delay_seconds"].as_f64().expect("delay");
    assert!(delay > 0.0 && delay < 0.05, "{s}");
    let uncertainty = s["uncertainty_seconds"].as_f64().expect("uncertainty");
    let root_distance = s["root_distance_seconds"].as_f64().expect("root distance");
    assert!(
        (uncertainty - (delay / 2.0 + root_distance)).abs() < 1e-9,
        "{s}"
    );
    // chronyd's own client agrees (its sign is the opposite of ours).
    let theirs = chronyd_q(port);
    assert!(
        (offset + theirs).abs() < 0.05,
        "ours {offset}, chronyd -Q {theirs}"
    );
}

#[test]
fn a_node_2_5_s_ahead_measures_plus_2_5_s() {
    if skip_without_tools() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_udp_port();
    let _server = ntp_server(dir.path(), port, None);
    let ahead = ["faketime", "-f", "+2.5s"];
    let (s, code) = probe_json(&ahead, port, &[]);
    let offset = offset_of(&s);
    assert!((offset - 2.5).abs() < 0.05, "{s}");
    // Above the default 1 s critical threshold, and the thresholds apply.
    assert_eq!(code, 2, "{s}");
    let (_, code) = probe_json(&ahead, port, &["--warn", "2s", "--crit", "3s"]);
    assert_eq!(code, 1);
    let (_, code) = probe_json(&ahead, port, &["--warn", "3s", "--crit", "4s"]);
    assert_eq!(code, 0);
    // The text output says the same, plugin line first.
    let server = format!("127.0.0.1:{port}");
    let out = clockwatch(&ahead, &[&server, "--samples", "1"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let shown: f64 = text
        .strip_prefix("PROBE CRITICAL - largest offset +")
        .and_then(|rest| rest.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("{text}"));
    assert!((shown - 2.5).abs() < 0.05, "{text}");
    assert!(
        text.lines().nth(1).is_some_and(|l| l.contains("stratum 2")),
        "{text}"
    );
}

#[test]
fn a_server_3_s_ahead_measures_minus_3_s_as_chronyd_q_does() {
    if skip_without_tools() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_udp_port();
    let _server = ntp_server(dir.path(), port, Some("+3s"));
    let (s, code) = probe_json(&[], port, &["--samples", "2"]);
    let offset = offset_of(&s);
    assert!((offset + 3.0).abs() < 0.05, "{s}");
    assert_eq!(code, 2);
    let theirs = chronyd_q(port);
    assert!((theirs - 3.0).abs() < 0.05, "chronyd -Q {theirs}");
    assert!(
        (offset + theirs).abs() < 0.05,
        "ours {offset}, chronyd -Q {theirs}"
    );
}

#[test]
fn no_answer_from_any_server_is_unknown_within_the_timeout() {
    if skip_without_tools() {
        return;
    }
    // A silent fake peer and a port nothing listens on.
    let silent = FakePeer::start(|_| vec![]);
    let dead = free_udp_port();
    let start = Instant::now();
    let out = clockwatch(
        &[],
        &[
            &silent.addr.to_string(),
            &format!("127.0.0.1:{dead}"),
            "--samples",
            "1",
            "--timeout",
            "500ms",
        ],
    );
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("PROBE UNKNOWN - no NTP server answered"),
        "{text}"
    );
    assert!(
        text.contains("failed (timeout)") && text.contains("failed (refused)"),
        "{text}"
    );
    // A bad flag is a usage error.
    let bad = clockwatch(&[], &["nts://time.example"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not supported yet"));
}

#[tokio::test]
async fn the_prober_measures_a_real_chronyd_in_the_background() {
    if skip_without_tools() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_udp_port();
    let _server = ntp_server(dir.path(), port, None);
    let config = ProbeConfig {
        samples: 2,
        spacing: Duration::from_millis(200),
        ..ProbeConfig::new(vec![format!("127.0.0.1:{port}").parse().expect("spec")])
    };
    let prober = Prober::start(config).expect("valid config");
    let until = Instant::now() + Duration::from_secs(5);
    let result = loop {
        let r = prober.results().remove(0);
        if r.rounds >= 1 {
            break r;
        }
        assert!(Instant::now() < until, "no round: {r:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let s = result.sample.unwrap_or_else(|| panic!("{result:?}"));
    assert!(
        s.offset.abs() < 0.05 && s.stratum == 2 && s.valid == 2,
        "{s:?}"
    );
    assert_eq!(result.server, format!("127.0.0.1:{port}"));
}

// ------------------------------------------------------------ serve mode

/// libfaketime's multi-threaded variant, for clockwatch (threads for the
/// resolver) run for a whole test.
fn libfaketime_mt() -> std::path::PathBuf {
    let single = libfaketime().expect("libfaketime");
    single.with_file_name("libfaketimeMT.so.1")
}

/// A node: chronyd (a client of `upstream_port`, command port on
/// 127.0.0.1) with its clock shifted by `shift` (None: the host's own),
/// synchronised.
fn node_chronyd(dir: &Path, upstream_port: u16, shift: Option<&str>) -> (Chronyd, u16) {
    let cmd_port = free_udp_port();
    let conf = dir.join("node.conf");
    std::fs::write(
        &conf,
        format!(
            "server 127.0.0.1 port {upstream_port} iburst minpoll -2 maxpoll -2\nport 0\n\
             cmdport {cmd_port}\nbindcmdaddress 127.0.0.1\nbindcmdaddress /\npidfile {}\n",
            dir.join("node.pid").display()
        ),
    )
    .expect("write conf");
    let node = Chronyd::start_shifted(
        &which("chronyd").expect("chronyd"),
        &conf,
        &dir.join("node.log"),
        shift,
    );
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let synced = Command::new(which("chronyc").expect("chronyc"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &cmd_port.to_string(),
                "-c",
                "tracking",
            ])
            .output()
            .map(|o| {
                let f = csv_fields(&String::from_utf8_lossy(&o.stdout));
                f.len() > 13 && f[0] != "00000000" && f[13] == "Normal"
            })
            .unwrap_or(false);
        if synced {
            return (node, cmd_port);
        }
        assert!(
            Instant::now() < until,
            "the node's chronyd did not synchronise: {}",
            std::fs::read_to_string(&node.log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Scrapes until every named server has had a successful round (20 s at
/// most); the exposition then.
fn scrape_after_rounds(cw: &Clockwatch, servers: &[String]) -> common::Exposition {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let m = cw.metrics();
        let done = servers
            .iter()
            .all(|s| m.get("clockwatch_probe_success", &format!("server=\"{s}\"")) == Some(1.0));
        if done && m.state() == "synchronized" {
            return m;
        }
        assert!(Instant::now() < until, "no successful round:\n{}", m.text);
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn probe_value(m: &common::Exposition, name: &str, server: &str) -> f64 {
    m.get(name, &format!("server=\"{server}\""))
        .unwrap_or_else(|| panic!("{name} for {server} missing:\n{}", m.text))
}

/// `serve --probe.server` against a real chronyd serving NTP: the probe's
/// series agree with `chronyd -Q` of the same server, and an honest node
/// agrees with its bound.
#[test]
fn serve_probes_in_the_background_and_agrees_with_an_honest_bound() {
    if skip_without_tools() || skip_unless(&["chronyc"], true) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_udp_port();
    let _server = ntp_server(dir.path(), port, None);
    let (_node, cmd_port) = node_chronyd(dir.path(), port, None);
    let server = format!("127.0.0.1:{port}");
    let cw = Clockwatch::start(&[
        &format!("--chrony.address=udp://127.0.0.1:{cmd_port}"),
        &format!("--probe.server={server}"),
        "--probe.samples=2",
    ]);
    let m = scrape_after_rounds(&cw, std::slice::from_ref(&server));
    let offset = probe_value(&m, "clockwatch_probe_offset_seconds", &server);
    let q = chronyd_q(port);
    // chronyd -Q prints server minus node; the probe node minus server.
    assert!((offset + q).abs() < 0.05, "probe {offset}, chronyd -Q {q}");
    assert!(offset.abs() < 0.05, "{offset}");
    assert_eq!(
        probe_value(&m, "clockwatch_probe_server_stratum", &server),
        2.0
    );
    let delay = probe_value(&m, "clockwatch_probe_delay_seconds", &server);
    let distance = probe_value(&m, "clockwatch_probe_server_root_distance_seconds", &server);
    let uncertainty = probe_value(&m, "clockwatch_probe_uncertainty_seconds", &server);
    assert!(delay > 0.0 && delay < 0.05, "{delay}");
    assert!((uncertainty - (delay / 2.0 + distance)).abs() < 1e-12);
    assert_eq!(
        probe_value(&m, "clockwatch_probe_bound_contradicted", &server),
        0.0
    );
    assert_eq!(
        probe_value(&m, "clockwatch_probe_interval_seconds", &server),
        64.0
    );
    assert_eq!(probe_value(&m, "clockwatch_probe_stopped", &server), 0.0);
    let last = probe_value(
        &m,
        "clockwatch_probe_last_success_timestamp_seconds",
        &server,
    );
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    assert!(last <= now && now - last < 30.0, "{last} vs {now}");
    assert!(!m.has("clockwatch_probe_failure_info"));
    // The status page says the same, in words.
    let page = cw.response("/").body;
    assert!(page.contains("agrees with the bound"), "{page}");
}

/// The "confidently wrong" node of issue 17: its chronyd and its upstream
/// both run 3 s ahead, so chronyd reports a bound of microseconds. An
/// honest server contradicts that bound; the shifted one agrees with it.
/// clockwatch runs under the node's shifted clock too (libfaketime), as it
/// would on such a node.
#[test]
fn a_confidently_wrong_node_is_contradicted_by_an_honest_server() {
    if skip_without_tools() || skip_unless(&["chronyc"], true) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let honest_dir = dir.path().join("honest");
    let shifted_dir = dir.path().join("shifted");
    std::fs::create_dir(&honest_dir).expect("dir");
    std::fs::create_dir(&shifted_dir).expect("dir");
    let (honest_port, shifted_port) = (free_udp_port(), free_udp_port());
    let _honest = ntp_server(&honest_dir, honest_port, None);
    let _shifted = ntp_server(&shifted_dir, shifted_port, Some("+3s"));
    let (_node, cmd_port) = node_chronyd(dir.path(), shifted_port, Some("+3s"));
    let tracking = csv_fields(&chronyc_at(cmd_port, &["tracking"]));
    let correction: f64 = tracking[4].parse().expect("system time");
    assert!(
        correction.abs() < 0.01,
        "chronyd believes it is right: {tracking:?}"
    );

    let honest = format!("127.0.0.1:{honest_port}");
    let shifted = format!("127.0.0.1:{shifted_port}");
    let preload = format!("LD_PRELOAD={}", libfaketime_mt().display());
    let cw = Clockwatch::start_wrapped(
        &["env", &preload, "FAKETIME=+3s"],
        &[
            &format!("--chrony.address=udp://127.0.0.1:{cmd_port}"),
            &format!("--probe.server={honest}"),
            &format!("--probe.server={shifted}"),
            "--probe.samples=2",
        ],
    );
    let m = scrape_after_rounds(&cw, &[honest.clone(), shifted.clone()]);
    let bound = m.value("clockwatch_clock_error_bound_seconds");
    assert!(bound < 0.01, "chronyd's bound is small and wrong: {bound}");
    let off_honest = probe_value(&m, "clockwatch_probe_offset_seconds", &honest);
    let off_shifted = probe_value(&m, "clockwatch_probe_offset_seconds", &shifted);
    assert!(
        (off_honest - 3.0).abs() < 0.05,
        "node 3 s ahead of the honest server: {off_honest}"
    );
    assert!(
        off_shifted.abs() < 0.05,
        "node level with the shifted server: {off_shifted}"
    );
    assert_eq!(
        probe_value(&m, "clockwatch_probe_bound_contradicted", &honest),
        1.0
    );
    assert_eq!(
        probe_value(&m, "clockwatch_probe_bound_contradicted", &shifted),
        0.0
    );
    // chronyd's own state stands (it is what chronyd says), and every
    // reader is told it is contradicted.
    assert_eq!(m.state(), "synchronized");
    let page = cw.response("/").body;
    assert!(page.contains("CONTRADICTED by the NTP probe of"), "{page}");
}

#[test]
fn bad_probe_flags_exit_2_with_the_reason() {
    for (flag, want) in [
        ("--probe.interval=5s", "shorter than the 16 s minimum"),
        ("--probe.samples=9", "between 1 and 8"),
        ("--probe.timeout=20s", "between 10ms and 10s"),
        ("--probe.server=nts://time.example", "not supported"),
    ] {
        let out = Command::new(BIN)
            .args([
                "serve",
                "--chrony.address=none",
                "--probe.server=127.0.0.1:9",
                flag,
            ])
            .output()
            .expect("run clockwatch");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag}: {err}");
        assert!(err.contains(want), "{flag}: {err}");
    }
}
