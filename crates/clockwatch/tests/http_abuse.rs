//! The real `clockwatch` binary against clients that misbehave: slow clients
//! holding every connection, oversized headers and URLs, unknown paths and
//! methods, and a 10k-request burst (wrk) that must not multiply the load
//! on chronyd. Every wait is bounded.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{request, skip_unless, ChronyPair, Clockwatch};

#[test]
fn slow_clients_are_dropped_after_the_header_timeout_and_the_server_recovers() {
    // The header timeout is a flag (10 s by default): 3 s here.
    let cw = Clockwatch::start(&[
        "--chrony.address",
        "none",
        "--web.max-connections",
        "4",
        "--web.header-timeout",
        "3s",
    ]);
    let warm = cw.response("/metrics");
    assert_eq!(warm.status, 200);
    let rss_before = cw.status_kib("VmRSS");

    // Take every connection and send nothing.
    let opened = Instant::now();
    let mut idle: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(cw.addr).expect("connect"))
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    // One more client: accepted by the kernel, but not served while the
    // four hold their slots.
    let addr = cw.addr;
    let waiting = std::thread::spawn(move || {
        let r = request(addr, "GET", "/healthz", &[], Duration::from_secs(20));
        (
            r.map(|r| r.status).map_err(|e| e.to_string()),
            Instant::now(),
        )
    });
    std::thread::sleep(Duration::from_secs(1));
    assert!(!waiting.is_finished(), "a fifth client was served at once");

    // The header timeout closes the silent connections.
    for s in &mut idle {
        s.set_read_timeout(Some(Duration::from_secs(8)))
            .expect("timeout");
        let mut buf = [0u8; 512];
        let closed = match s.read(&mut buf) {
            Ok(0) => true,
            Ok(_) => true, // an error response, then close
            Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
        };
        assert!(closed, "an idle connection stayed open");
    }
    let closed_after = opened.elapsed();
    let (status, served_at) = waiting.join().expect("waiting client");
    assert_eq!(status, Ok(200), "the waiting client was not served");
    eprintln!(
        "idle connections closed after {closed_after:?}; waiting client served after {:?}",
        served_at - opened
    );
    assert!(
        closed_after >= Duration::from_millis(2700) && closed_after <= Duration::from_secs(6),
        "idle connections closed after {closed_after:?}, header timeout is 3 s"
    );

    // Recovered: every slot is usable again, and memory did not grow.
    let clients: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || {
                request(addr, "GET", "/metrics", &[], Duration::from_secs(5))
            })
        })
        .collect();
    for c in clients {
        let r = c.join().expect("client").expect("served");
        assert_eq!(r.status, 200);
    }
    let rss_after = cw.status_kib("VmRSS");
    eprintln!("VmRSS {rss_before} KiB before, {rss_after} KiB after");
    assert!(
        rss_after <= rss_before + 1024,
        "VmRSS grew from {rss_before} KiB to {rss_after} KiB"
    );
}

/// Sends raw bytes and returns what came back (empty if the server closed).
fn raw_exchange(addr: std::net::SocketAddr, bytes: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s.set_write_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    // The server may close before reading everything: that is an answer too.
    let _ = s.write_all(bytes);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn oversized_headers_and_urls_are_refused_without_harm() {
    let mut cw = Clockwatch::start(&["--chrony.address", "none"]);
    let big = "x".repeat(20 * 1024);
    let head = format!("GET /metrics HTTP/1.1\r\nHost: a\r\nX-Big: {big}\r\n\r\n");
    let answer = raw_exchange(cw.addr, head.as_bytes());
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 431"),
        "oversized header answered: {:?}",
        &answer[..answer.len().min(200)]
    );
    let many = (0..2000)
        .map(|i| format!("X-H{i}: v\r\n"))
        .collect::<String>();
    let answer = raw_exchange(cw.addr, format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes());
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 431"),
        "too many headers answered: {:?}",
        &answer[..answer.len().min(200)]
    );
    let url = format!("GET /{big} HTTP/1.1\r\nHost: a\r\n\r\n");
    let answer = raw_exchange(cw.addr, url.as_bytes());
    assert!(
        answer.is_empty()
            || answer.starts_with("HTTP/1.1 414")
            || answer.starts_with("HTTP/1.1 431")
            || answer.starts_with("HTTP/1.1 404"),
        "oversized URL answered: {:?}",
        &answer[..answer.len().min(200)]
    );
    // A header just under the limit is fine.
    let ok = request(
        cw.addr,
        "GET",
        "/healthz",
        &[("X-Fine", &"y".repeat(8 * 1024))],
        Duration::from_secs(5),
    )
    .expect("request");
    assert_eq!(ok.status, 200);
    assert!(cw.alive(), "clockwatch died: {}", cw.log_text());
    assert_eq!(cw.response("/healthz").status, 200);
}

#[test]
fn unknown_paths_are_404_and_other_methods_405_with_allow() {
    let cw = Clockwatch::start(&["--chrony.address", "none"]);
    let r = cw.response("/nope");
    assert_eq!(r.status, 404);
    assert!(r.body.contains("/metrics"), "{}", r.body);
    let r = cw.response("/metrics/../etc/passwd");
    assert_eq!(r.status, 404);
    for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"] {
        let r = request(
            cw.addr,
            method,
            "/metrics",
            &[("Content-Length", "0")],
            Duration::from_secs(5),
        )
        .expect("request");
        assert_eq!(r.status, 405, "{method}: {}", r.head);
        assert_eq!(r.header("Allow").as_deref(), Some("GET, HEAD"), "{method}");
    }
    let r = request(cw.addr, "HEAD", "/metrics", &[], Duration::from_secs(5)).expect("HEAD");
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
}

/// chronyd's count of command packets received (`serverstats`, 3rd field).
fn command_packets(pair: &ChronyPair) -> u64 {
    let line = pair.chronyc_unix(&["serverstats"]);
    common::csv_fields(&line)[2]
        .parse()
        .unwrap_or_else(|_| panic!("serverstats: {line}"))
}

/// wrk's summary: requests done, socket errors, non-2xx answers.
fn wrk_figures(out: &str) -> (u64, u64, u64) {
    let requests = out
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no request count in wrk output:\n{out}"));
    let errors = out
        .lines()
        .find(|l| l.trim_start().starts_with("Socket errors:"))
        .map(|l| {
            l.split(|c: char| !c.is_ascii_digit())
                .filter_map(|n| n.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    let non2xx = out
        .lines()
        .find(|l| l.trim_start().starts_with("Non-2xx or 3xx responses:"))
        .and_then(|l| l.rsplit(' ').next()?.trim().parse().ok())
        .unwrap_or(0);
    (requests, errors, non2xx)
}

#[test]
fn ten_thousand_concurrent_scrapes_share_chronyd_queries() {
    if skip_unless(&["chronyd", "chronyc", "wrk"], true) {
        return;
    }
    let pair = ChronyPair::start();
    let cw = Clockwatch::start(&["--chrony.address", &pair.unix_address()]);
    // Packets one collection costs, net of chronyc's own.
    let a = command_packets(&pair);
    let b = command_packets(&pair);
    let chronyc_cost = b - a;
    assert_eq!(cw.response("/metrics").status, 200);
    let c = command_packets(&pair);
    let per_collection = (c - b).saturating_sub(chronyc_cost).max(1);

    // wrk runs for a duration (6 s: about 3x what 10k requests need on a
    // shared 2-core machine, debug build); this script stops each thread
    // after its share of 10k.
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("stop.lua");
    std::fs::write(
        &script,
        "local n = 0\nfunction response(status, headers, body)\n  n = n + 1\n  \
         if n >= 5000 then wrk.thread:stop() end\nend\n",
    )
    .expect("write script");
    let before = command_packets(&pair);
    let out = Command::new("timeout")
        .args(["60", "wrk", "-t2", "-c100", "-d6s", "--timeout", "5s", "-s"])
        .arg(&script)
        .arg(format!("http://{}/metrics", cw.addr))
        .output()
        .expect("run wrk");
    let after = command_packets(&pair);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "wrk failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (requests, errors, non2xx) = wrk_figures(&text);
    let packets = (after - before).saturating_sub(chronyc_cost);
    let collections = packets as f64 / per_collection as f64;
    eprintln!(
        "wrk: {requests} requests, {errors} socket errors, {non2xx} non-2xx; chronyd: {packets} command \
         packets, {per_collection} per collection => ~{collections:.0} collections \
         ({:.1} requests per collection)\n{text}",
        requests as f64 / collections.max(1.0)
    );
    assert!(requests >= 9_900, "only {requests} requests done:\n{text}");
    assert_eq!(errors, 0, "socket errors:\n{text}");
    assert_eq!(non2xx, 0, "non-2xx answers:\n{text}");
    // Unshared, every request is a collection (70,000 packets). Shared, 100
    // connections join the one in flight: about 10 requests per collection
    // on a quiet machine, fewer when wrk itself is starved of CPU (seen:
    // 9.9 with other builds running), so the line is drawn at 4, far from 1.
    let bound = requests / 4 * per_collection;
    assert!(
        packets <= bound,
        "{packets} command packets for {requests} requests: more than {bound}, the shared query is not shared"
    );
}

/// Readiness probes answer from the last collection while it is recent
/// (issue 16: each /readyz cost chronyd a full collection): twenty probes
/// right after a scrape ask chronyd nothing.
#[test]
fn readiness_probes_reuse_the_last_collection() {
    if skip_unless(&["chronyd", "chronyc"], true) {
        return;
    }
    let pair = ChronyPair::start();
    let cw = Clockwatch::start(&["--chrony.address", &pair.unix_address()]);
    let a = command_packets(&pair);
    let b = command_packets(&pair);
    let chronyc_cost = b - a;
    assert_eq!(cw.response("/metrics").status, 200);
    let c = command_packets(&pair);
    let per_collection = (c - b).saturating_sub(chronyc_cost);
    assert!(per_collection > 0, "a scrape asks chronyd something");
    for _ in 0..20 {
        assert_eq!(cw.response("/readyz").status, 200);
    }
    let d = command_packets(&pair);
    assert_eq!(
        (d - c).saturating_sub(chronyc_cost),
        0,
        "20 probes within seconds of a scrape sent chronyd {} packets ({per_collection} per collection)",
        d - c - chronyc_cost
    );
}
