//! The sampler's counters against a real chronyd pair and a real Prometheus
//! (issue 18): the seconds per state grow with Prometheus' own scrape
//! timestamps (an independent clock reading) within one sample interval,
//! the histogram is a valid cumulative histogram, the windowed peak is never
//! below the bound a scrape saw, and promtool accepts the exposition.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{skip_unless, which, ChronyPair, Clockwatch, Prometheus};

const SAMPLE: Duration = Duration::from_millis(500);

fn number(v: &serde_json::Value) -> f64 {
    match v.as_str() {
        Some("+Inf") => f64::INFINITY,
        Some(s) => s.parse().expect("a number"),
        None => panic!("not a sample value: {v}"),
    }
}

/// (timestamp, value) pairs of each series of a range query, by a label.
fn matrix(port: u16, q: &str, label: &str) -> Vec<(String, Vec<(f64, f64)>)> {
    let v = common::prometheus_query(port, q);
    v["data"]["result"]
        .as_array()
        .expect("a matrix")
        .iter()
        .map(|series| {
            let key = series["metric"][label].as_str().unwrap_or("").to_string();
            let points = series["values"]
                .as_array()
                .expect("values")
                .iter()
                .map(|p| (p[0].as_f64().expect("timestamp"), number(&p[1])))
                .collect();
            (key, points)
        })
        .collect()
}

#[test]
fn the_counters_follow_wall_time_and_form_a_valid_histogram() {
    if skip_unless(&["chronyd", "chronyc", "prometheus", "promtool"], true) {
        return;
    }
    let pair = ChronyPair::start();
    let cw = Clockwatch::start(&[
        &format!("--chrony.address={}", pair.unix_address()),
        "--sample.interval=500ms",
        "--sample.window=10s",
    ]);
    let dir = tempfile::tempdir().expect("tempdir");
    // Scrapes 2 s apart: four sample intervals, so the sampler collects
    // between them.
    let config = format!(
        "global:\n  scrape_interval: 2s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: clockwatch\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n",
        cw.port
    );
    let prometheus = Prometheus::start(dir.path(), &config, &[]);
    let port = prometheus.port;

    // Ten scrapes (20 s).
    let until = Instant::now() + Duration::from_secs(45);
    let states = loop {
        let m = matrix(port, "clockwatch_sync_state_seconds_total[60s]", "state");
        if m.first().is_some_and(|(_, p)| p.len() >= 10) {
            break m;
        }
        assert!(Instant::now() < until, "fewer than 10 scrapes: {m:?}");
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(states.len(), 5, "one series per state: {states:?}");
    // Sum over the states at each scrape (all five share the timestamps).
    let stamps: Vec<f64> = states[0].1.iter().map(|(t, _)| *t).collect();
    let sums: Vec<f64> = (0..stamps.len())
        .map(|i| states.iter().map(|(_, p)| p[i].1).sum())
        .collect();
    for (_, p) in &states {
        assert_eq!(p.len(), stamps.len());
    }
    // Observed time grows as Prometheus' clock does, each scrape and over
    // all of them, within one sample interval.
    let tolerance = SAMPLE.as_secs_f64();
    for i in 1..stamps.len() {
        let wall = stamps[i] - stamps[i - 1];
        let observed = sums[i] - sums[i - 1];
        assert!(
            (observed - wall).abs() <= tolerance,
            "scrape {i}: {observed} s observed in {wall} s of wall time"
        );
    }
    let n = stamps.len() - 1;
    let (wall, observed) = (stamps[n] - stamps[0], sums[n] - sums[0]);
    assert!(
        (observed - wall).abs() <= tolerance,
        "{observed} s observed in {wall} s"
    );
    // The client is synchronised to its upstream: all of it synchronized.
    let synced = &states
        .iter()
        .find(|(s, _)| s == "synchronized")
        .expect("synchronized series")
        .1;
    assert!(synced[n].1 - synced[0].1 >= observed - tolerance);

    // The histogram: monotone in le, +Inf = _count, every bucket <= _count.
    let buckets =
        common::prometheus_query(port, "clockwatch_clock_error_bound_time_seconds_bucket");
    let mut by_le: Vec<(f64, f64)> = buckets["data"]["result"]
        .as_array()
        .expect("vector")
        .iter()
        .map(|s| {
            let le = s["metric"]["le"].as_str().expect("le");
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().expect("le number")
            };
            (le, number(&s["value"][1]))
        })
        .collect();
    by_le.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert_eq!(by_le.len(), 9, "8 default buckets and +Inf: {by_le:?}");
    let count = number(
        &common::prometheus_query(port, "clockwatch_clock_error_bound_time_seconds_count")["data"]
            ["result"][0]["value"][1],
    );
    assert!(count > 0.0);
    for w in by_le.windows(2) {
        assert!(w[0].1 <= w[1].1, "not monotone: {by_le:?}");
    }
    for (le, v) in &by_le {
        assert!(*v <= count, "le={le}: {v} > _count {count}");
    }
    assert_eq!(by_le.last().map(|b| b.1), Some(count));
    // A loopback pair's bound is far below a second: le=1 holds it all.
    assert_eq!(by_le[7], (1.0, count));

    // The peak over the window is never below the bound of the same scrape.
    let below = common::prometheus_query(
        port,
        "min_over_time((clockwatch_clock_error_bound_max_seconds - clockwatch_clock_error_bound_seconds)[60s:2s])",
    );
    let gap = number(&below["data"]["result"][0]["value"][1]);
    assert!(gap >= 0.0, "the peak was below the bound by {gap}");

    // promtool accepts the exposition as clockwatch serves it.
    let common::Response {
        status, body: text, ..
    } = cw.get("/metrics", None);
    assert_eq!(status, 200);
    let mut check = Command::new(which("promtool").expect("promtool"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool");
    check
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write to promtool");
    let out = check.wait_with_output().expect("promtool output");
    let complaints = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The one lint promtool raises is the legacy name kept as it is
    // (exporter.rs checks the same).
    let unexpected: Vec<&str> = complaints
        .lines()
        .filter(|l| {
            !l.trim().is_empty()
                && !l.starts_with(
                    "chrony_clock_error_ms metric names should not contain abbreviated units",
                )
        })
        .collect();
    assert!(unexpected.is_empty(), "promtool: {complaints}");
    assert!(text.contains("clockwatch_clock_error_bound_time_seconds_bucket{le=\"0.0001\"}"));
}

/// chronyd's own count of the command requests it received
/// (`chronyc serverstats`, third field); each call adds one.
fn command_packets(pair: &ChronyPair) -> u64 {
    let out = pair.chronyc_unix(&["serverstats"]);
    out.trim()
        .split(',')
        .nth(2)
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("serverstats: {out:?}"))
}

/// The sharing rule, counted by chronyd: alone, the sampler asks one
/// request (tracking) per interval; while scrapes come more often than
/// every half interval, it asks nothing of its own. And the kernel-only
/// mode (no daemon) is accounted too.
#[test]
fn the_sampler_adds_one_request_per_interval_and_none_between_frequent_scrapes() {
    if skip_unless(&["chronyd", "chronyc"], true) {
        return;
    }
    let pair = ChronyPair::start();
    let address = format!("--chrony.address={}", pair.unix_address());
    {
        let _cw = Clockwatch::start(&[&address, "--sample.interval=200ms"]);
        std::thread::sleep(Duration::from_millis(500));
        let before = command_packets(&pair);
        let started = Instant::now();
        std::thread::sleep(Duration::from_secs(3));
        let asked = command_packets(&pair) - before - 1;
        let expected = started.elapsed().as_secs_f64() / 0.2;
        assert!(
            (asked as f64 - expected).abs() <= 2.0,
            "{asked} requests in {expected:.1} sample intervals"
        );
    }
    // Scrapes of tracking alone (one request each), every 100 ms against a
    // 1 s sampler: every request is a scrape's.
    let cw = Clockwatch::start(&[
        &address,
        "--sample.interval=1s",
        "--no-collector.sources",
        "--no-collector.sourcestats",
        "--no-collector.ntpdata",
        "--no-collector.serverstats",
    ]);
    assert_eq!(cw.get("/metrics", None).status, 200);
    let before = command_packets(&pair);
    let mut scrapes = 0u64;
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        assert_eq!(cw.get("/metrics", None).status, 200);
        scrapes += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    let asked = command_packets(&pair) - before - 1;
    assert!(
        asked <= scrapes + 1,
        "{asked} requests for {scrapes} scrapes: the sampler asked too"
    );
    assert!(asked >= scrapes, "{asked} requests for {scrapes} scrapes");
    // Their counters still cover the time.
    let m = cw.metrics();
    let observed: f64 = [
        "synchronized",
        "stale",
        "local",
        "unsynchronized",
        "unknown",
    ]
    .iter()
    .map(|s| {
        m.get(
            "clockwatch_sync_state_seconds_total",
            &format!("state=\"{s}\""),
        )
        .unwrap_or(0.0)
    })
    .sum();
    assert!(observed >= 2.5, "{observed} s observed");

    // Kernel only: the kernel's verdict is accounted the same way.
    let kernel = Clockwatch::start(&["--chrony.address=none", "--sample.interval=100ms"]);
    std::thread::sleep(Duration::from_millis(1200));
    let m = kernel.metrics();
    let total: f64 = m
        .label_values("clockwatch_sync_state_seconds_total", "state")
        .iter()
        .map(|s| {
            m.get(
                "clockwatch_sync_state_seconds_total",
                &format!("state=\"{s}\""),
            )
            .unwrap_or(0.0)
        })
        .sum();
    assert!(total >= 0.8, "kernel only: {total} s observed");
    assert!(m.has("clockwatch_clock_error_bound_max_seconds"));
}
