//! A real Prometheus scrapes clockwatch (serving a real chronyd) for a
//! minute: every scrape must succeed, and Prometheus' own measurement of the
//! node's clock must agree with the host's (they share one clock here).

mod common;

use std::time::{Duration, Instant};

use common::{skip_unless, ChronyPair, Clockwatch, Prometheus};

fn scalar(v: &serde_json::Value) -> Option<f64> {
    v["data"]["result"][0]["value"][1]
        .as_str()
        .and_then(|s| s.parse().ok())
}

#[test]
fn prometheus_scrapes_every_second_for_a_minute() {
    if skip_unless(&["chronyd", "chronyc", "prometheus"], true) {
        return;
    }
    let pair = ChronyPair::start();
    let cw = Clockwatch::start(&[&format!("--chrony.address={}", pair.unix_address())]);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = format!(
        "global:\n  scrape_interval: 200ms\n  scrape_timeout: 180ms\nscrape_configs:\n  - job_name: clockwatch\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n        labels: {{node: test-node}}\n",
        cw.port
    );
    let prometheus = Prometheus::start(dir.path(), &config, &[]);
    let port = prometheus.port;
    let started = Instant::now();
    // Wait for the first scrape, then a minute of them.
    loop {
        if scalar(&common::prometheus_query(port, "up")).is_some() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "Prometheus never scraped"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    // Fifty scrapes at 200 ms (the minute of 1 s scrapes this test once
    // slept through, in a fifth of the time): wait until Prometheus has
    // them, at most 30 s.
    let window = "[10s]";
    let until = Instant::now() + Duration::from_secs(30);
    let scrapes = loop {
        let n = scalar(&common::prometheus_query(
            port,
            &format!("count_over_time(up{window})"),
        ))
        .unwrap_or(0.0);
        if n >= 45.0 {
            break n;
        }
        assert!(Instant::now() < until, "only {n} scrapes in 10 s at 200 ms");
        std::thread::sleep(Duration::from_millis(500));
    };
    let worst = scalar(&common::prometheus_query(
        port,
        &format!("min_over_time(up{window})"),
    ))
    .expect("min up");
    assert_eq!(worst, 1.0, "a scrape failed among the last {scrapes}");
    let chrony_up = scalar(&common::prometheus_query(
        port,
        &format!("min_over_time(chrony_up{window})"),
    ))
    .expect("chrony_up");
    assert_eq!(chrony_up, 1.0);
    let synced = scalar(&common::prometheus_query(
        port,
        &format!("min_over_time(clockwatch_clock_synchronized{window})"),
    ))
    .expect("synchronized");
    assert_eq!(synced, 1.0);
    // Prometheus' independent measurement: its scrape timestamp against the
    // node's clock read during the scrape (same host clock: well under 1 s).
    let offset = scalar(&common::prometheus_query(port, "max_over_time((abs(clockwatch_system_time_seconds - timestamp(clockwatch_system_time_seconds)))[10s:200ms])"))
        .expect("measured offset");
    assert!(offset < 0.5, "measured offset {offset}");
    // Samples ingested per scrape show the OpenMetrics parse worked.
    let samples =
        scalar(&common::prometheus_query(port, "scrape_samples_scraped")).expect("samples");
    assert!(samples > 40.0, "{samples} samples");
}
