//! The real `clockwatch` binary against failures of everything around it:
//! chronyd killed and restarted under continuous scraping, a chronyd that
//! never answers, peers answering garbage, a socket directory it may not
//! write in, a port already taken, and SIGTERM in the middle of a slow scrape.
//! Every wait is bounded.

mod common;

use std::net::UdpSocket;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{
    reply_sockets, request, signal, skip_unless, wait_exit, ChronyPair, Clockwatch, PairOptions,
    Response, BIN,
};

/// One scrape of the continuous loop.
struct Sample {
    at: Instant,
    resp: Result<Response, String>,
}

#[test]
fn chronyd_killed_and_restarted_under_continuous_scraping() {
    if skip_unless(&["chronyd", "chronyc"], true) {
        return;
    }
    let timeout = Duration::from_millis(500);
    let mut pair = ChronyPair::start();
    let sock_dir = pair.socket.parent().expect("socket dir").to_path_buf();
    let cw = Clockwatch::start(&[
        "--chrony.address",
        &pair.unix_address(),
        "--chrony.timeout",
        "500ms",
    ]);
    let addr = cw.addr;

    let samples = Arc::new(Mutex::new(Vec::<Sample>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let scraper = {
        let (samples, stop) = (samples.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let resp = request(addr, "GET", "/metrics", &[], Duration::from_secs(5))
                    .map_err(|e| e.to_string());
                let at = Instant::now();
                samples.lock().expect("lock").push(Sample { at, resp });
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let up_at = |since: Instant, want: f64, limit: Duration| -> Option<Instant> {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            let found = samples.lock().expect("lock").iter().find_map(|s| {
                let r = s.resp.as_ref().ok()?;
                (s.at > since && r.metric("chrony_up") == Some(want)).then_some(s.at)
            });
            if found.is_some() {
                return found;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    };

    let start = Instant::now();
    up_at(start, 1.0, Duration::from_secs(5)).expect("chrony_up 1 before the kill");
    let killed = Instant::now();
    pair.client.stop();
    let down = up_at(killed, 0.0, Duration::from_secs(5)).expect("chrony_up 0 after the kill");
    // The first scrape to start after the kill sees it; one scrape
    // interval plus one timeout is the worst case.
    let slack = timeout + Duration::from_millis(100 + 400);
    assert!(
        down - killed <= slack,
        "chrony_up went 0 only {:?} after the kill",
        down - killed
    );
    std::thread::sleep(Duration::from_millis(800));
    let restarted = Instant::now();
    pair.client.restart();
    up_at(restarted, 1.0, Duration::from_secs(15)).unwrap_or_else(|| {
        panic!(
            "chrony_up not back to 1 after the restart: {}",
            cw.log_text()
        )
    });
    stop.store(true, Ordering::Relaxed);
    scraper.join().expect("scraper thread");

    let samples = samples.lock().expect("lock");
    let mut down_samples = 0;
    for s in samples.iter() {
        let r = s
            .resp
            .as_ref()
            .unwrap_or_else(|e| panic!("a scrape failed: {e}"));
        assert_eq!(r.status, 200, "{}", r.head);
        if r.metric("chrony_up") == Some(0.0) {
            down_samples += 1;
            assert_eq!(
                r.metric("clockwatch_sync_state{state=\"unknown\"}"),
                Some(1.0),
                "{}",
                r.body
            );
            assert_eq!(
                r.metric("clockwatch_clock_error_bound_seconds"),
                Some(f64::INFINITY),
                "{}",
                r.body
            );
            assert!(
                !r.exposition()
                    .samples
                    .iter()
                    .any(|s| s.name.starts_with("chrony_tracking_")),
                "stale tracking values while chronyd is down:\n{}",
                r.body
            );
        }
    }
    eprintln!(
        "{} scrapes, {} while chronyd was down, all 200",
        samples.len(),
        down_samples
    );
    assert!(down_samples >= 3, "only {down_samples} scrapes while down");

    // Sockets of sessions that failed while chronyd was down are gone; the
    // one kept for the next scrape (the only clockwatch here) goes with the
    // process. Its name is the prefix and 128 random bits, no pid.
    let live = reply_sockets(&sock_dir);
    let random_name = |n: &str| {
        n.strip_prefix("clockwatch-")
            .and_then(|rest| rest.strip_suffix(".sock"))
            .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    assert!(
        live.len() <= 1 && live.iter().all(|n| random_name(n)),
        "leaked reply sockets while running: {live:?}"
    );
    signal(cw.pid(), "TERM");
    let mut cw = cw;
    let exit = cw.wait_exit(Duration::from_secs(10));
    assert!(
        exit.is_some_and(|s| s.success()),
        "clockwatch did not stop cleanly on SIGTERM: {exit:?}"
    );
    let left = reply_sockets(&sock_dir);
    assert!(left.is_empty(), "reply sockets left after exit: {left:?}");

    // The log tells the outage once (again only if its reason changed),
    // not at every scrape, and tells the recovery.
    let log = cw.log_text();
    let outage = log.matches("chronyd cannot be read").count();
    assert!(
        (1..=3).contains(&outage) && outage < down_samples,
        "{outage} outage lines for {down_samples} scrapes while down:\n{log}"
    );
    assert_eq!(log.matches("chronyd answers again").count(), 1, "{log}");
}

#[test]
fn a_blackholed_chronyd_keeps_scrapes_within_the_timeout() {
    let hole = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = hole.local_addr().expect("addr").port();
    let cw = Clockwatch::start(&[
        "--chrony.address",
        &format!("udp://127.0.0.1:{port}"),
        "--chrony.timeout",
        "300ms",
    ]);
    for _ in 0..5 {
        let r = cw.response("/metrics");
        assert_eq!(r.status, 200);
        assert_eq!(r.metric("chrony_up"), Some(0.0), "{}", r.body);
        assert!(
            r.took <= Duration::from_millis(300 + 250),
            "scrape took {:?} with a 300ms timeout",
            r.took
        );
        assert!(
            r.took >= Duration::from_millis(250),
            "scrape took only {:?}: did it wait for chronyd at all?",
            r.took
        );
    }
    drop(hole);
}

/// A fake chronyd answering every request with `respond(request)`.
fn fake_peer(respond: impl Fn(&[u8]) -> Vec<Vec<u8>> + Send + 'static) -> u16 {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = socket.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            for reply in respond(&buf[..n]) {
                let _ = socket.send_to(&reply, from);
            }
        }
    });
    port
}

/// A reply head for `request` with the given sequence number, the rest of
/// the packet zero: plausible enough to get past the first checks.
fn reply_like(request: &[u8], sequence: [u8; 4], len: usize) -> Vec<u8> {
    let mut r = vec![0u8; len];
    if request.len() >= 12 && len >= 28 {
        r[0] = 6; // version
        r[1] = 2; // packet type: reply
        r[4..6].copy_from_slice(&request[4..6]); // command
        r[6..8].copy_from_slice(&[0, 5]); // reply code: tracking
        r[8..10].copy_from_slice(&[0, 0]); // status success
        r[16..20].copy_from_slice(&sequence);
    }
    r
}

#[test]
fn garbage_truncated_and_wrong_sequence_replies_are_clean_failures() {
    type Responder = Box<dyn Fn(&[u8]) -> Vec<Vec<u8>> + Send>;
    let cases: Vec<(&str, Responder)> = vec![
        (
            "garbage",
            Box::new(|_req: &[u8]| vec![b"\xff\x00garbage from a confused peer".repeat(7)]),
        ),
        (
            "truncated",
            Box::new(|req: &[u8]| {
                let seq = [req[8], req[9], req[10], req[11]];
                vec![reply_like(req, seq, 40)]
            }),
        ),
        (
            "wrong sequence",
            Box::new(|req: &[u8]| {
                let seq = [req[8] ^ 0xff, req[9], req[10], req[11]];
                vec![reply_like(req, seq, 112)]
            }),
        ),
        ("empty", Box::new(|_req: &[u8]| vec![Vec::new()])),
    ];
    for (what, respond) in cases {
        let port = fake_peer(respond);
        let mut cw = Clockwatch::start(&[
            "--chrony.address",
            &format!("udp://127.0.0.1:{port}"),
            "--chrony.timeout",
            "300ms",
        ]);
        for _ in 0..3 {
            let r = cw.response("/metrics");
            assert_eq!(r.status, 200, "{what}: {}", r.head);
            assert_eq!(
                r.metric("clockwatch_collector_success{collector=\"tracking\"}"),
                Some(0.0),
                "{what}: {}",
                r.body
            );
            assert_eq!(
                r.metric("clockwatch_clock_error_bound_seconds"),
                Some(f64::INFINITY),
                "{what}"
            );
            assert!(
                r.took < Duration::from_millis(300 + 250),
                "{what}: {:?}",
                r.took
            );
        }
        assert!(cw.alive(), "{what}: clockwatch died: {}", cw.log_text());
    }
}

/// A peer that sends a garbage datagram before each right reply (a
/// confused neighbour, spoofed noise): every scrape still reads tracking, at
/// once, instead of failing (issue 16, point 6).
#[test]
fn garbage_before_the_right_reply_does_not_fail_the_scrape() {
    use cmdmon::{Reply, ReplyBody, ReplyHeader, Request, Status};
    let port = fake_peer(|req: &[u8]| {
        let Ok((request, sequence, _)) = Request::decode(req) else {
            return Vec::new();
        };
        let right = match request {
            Request::Tracking => cmdmon::testing::tracking_reply(sequence),
            // No sources: the scrape asks nothing more.
            Request::NSources => Reply {
                header: ReplyHeader {
                    command: request.command(),
                    reply_type: 0,
                    status: Status::Success,
                    sequence,
                },
                body: ReplyBody::NSources(0),
            }
            .encode(),
            _ => return Vec::new(),
        };
        vec![b"\x06\x02garbage".to_vec(), right]
    });
    let cw = Clockwatch::start(&[
        "--chrony.address",
        &format!("udp://127.0.0.1:{port}"),
        "--chrony.timeout",
        "1500ms",
    ]);
    for _ in 0..3 {
        let r = cw.response("/metrics");
        assert_eq!(r.status, 200, "{}", r.head);
        assert_eq!(r.metric("chrony_up"), Some(1.0), "{}", r.body);
        assert_eq!(
            r.metric("clockwatch_collector_success{collector=\"tracking\"}"),
            Some(1.0),
            "{}",
            r.body
        );
        // The fake peer's tracking reply says stratum 4.
        assert_eq!(r.metric("chrony_tracking_stratum"), Some(4.0), "{}", r.body);
        assert!(
            r.took < Duration::from_millis(500),
            "the scrape waited for a resend (at 500 ms): {:?}",
            r.took
        );
    }
}

#[test]
fn an_unwritable_socket_directory_names_the_ids_to_run_as() {
    if skip_unless(&["chronyd", "chronyc", "setpriv"], true) {
        return;
    }
    let pair = ChronyPair::start_with(PairOptions {
        wait_sync: false,
        ..PairOptions::default()
    });
    // Let the unprivileged user reach the socket directory itself.
    std::fs::set_permissions(pair.dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
    let sock_dir = pair.socket.parent().expect("socket dir").to_path_buf();
    let status_as_nobody = || {
        let out = Command::new("setpriv")
            .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
            .arg(BIN)
            .args(["status", "--chrony.address", &pair.unix_address()])
            .args(["--chrony.timeout", "500ms"])
            .output()
            .expect("run setpriv");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    };
    // 0750 root:root: the socket cannot even be reached.
    std::fs::set_permissions(&sock_dir, std::fs::Permissions::from_mode(0o750)).expect("chmod");
    let (code, text) = status_as_nobody();
    assert_eq!(code, Some(1), "{text}");
    for needle in [
        "permission denied",
        "owned by uid 0 gid 0 with mode 0750",
        "runs as uid 65534 gid 65534",
        "runAsUser: 0, runAsGroup: 0",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    // 0755: the socket is reachable, but the reply socket cannot be bound.
    std::fs::set_permissions(&sock_dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let (code, text) = status_as_nobody();
    assert_eq!(code, Some(1), "{text}");
    for needle in [
        "permission denied",
        "with mode 0755",
        "runs as uid 65534 gid 65534 and needs to write in that directory",
        "uid 0 gid 0",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

#[test]
fn a_port_in_use_is_a_clear_error_and_exit_code_1() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr");
    let mut child = Command::new(BIN)
        .args(["serve", "--web.listen-address", &addr.to_string()])
        .args(["--chrony.address", "none"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start clockwatch");
    let status = wait_exit(&mut child, Duration::from_secs(10));
    if status.is_none() {
        let _ = child.kill();
    }
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
    }
    let status = status.expect("clockwatch exits when the port is taken");
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot listen on {addr}: the port is already in use"
        )),
        "{stderr}"
    );
}

#[test]
fn sigterm_during_a_slow_scrape_exits_within_the_grace() {
    let hole = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = hole.local_addr().expect("addr").port();
    let mut cw = Clockwatch::start(&[
        "--chrony.address",
        &format!("udp://127.0.0.1:{port}"),
        "--chrony.timeout",
        "2s",
    ]);
    let addr = cw.addr;
    let slow = std::thread::spawn(move || {
        request(addr, "GET", "/metrics", &[], Duration::from_secs(10)).map_err(|e| e.to_string())
    });
    std::thread::sleep(Duration::from_millis(300));
    let sent = Instant::now();
    signal(cw.pid(), "TERM");
    let status = cw
        .wait_exit(Duration::from_secs(8))
        .unwrap_or_else(|| panic!("still running 8 s after SIGTERM: {}", cw.log_text()));
    let took = sent.elapsed();
    eprintln!("exited {took:?} after SIGTERM with {status}");
    assert!(status.success(), "{status}: {}", cw.log_text());
    // The scrape in flight ends with chronyd's 2 s timeout, well inside the
    // 5 s grace: the process must not wait for the whole grace.
    assert!(took <= Duration::from_millis(2000 + 1000), "took {took:?}");
    let in_flight = slow.join().expect("scrape thread");
    let r = in_flight.expect("the scrape in flight is answered");
    assert_eq!(r.status, 200);
    assert_eq!(r.metric("chrony_up"), Some(0.0));
    drop(hole);
}
