//! The report's counters method end to end (issue 18): a real chronyd
//! pair, the real exporter sampling every 500 ms, a real Prometheus
//! scraping every 2 s and stopped (SIGSTOP) for 12 s, then the real
//! `clockwatch-report` over that stretch: the grid shows the outage as a
//! gap, the counters do not (unmeasured within one scrape interval of 0).
//!
//! `clockwatch-report` is taken from beside the clockwatch binary cargo
//! built (`cargo build -p clockwatch-report` first, as
//! scripts/test-report.sh does); without it the test fails and says so.

mod common;

use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{skip_unless, ChronyPair, Clockwatch, Prometheus};

fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .expect("clock")
}

fn signal(pid: u32, sig: &str) {
    let o = Command::new("kill")
        .args([sig, &pid.to_string()])
        .output()
        .expect("kill");
    assert!(o.status.success(), "kill {sig} {pid}");
}

#[test]
fn counters_report_bridges_a_prometheus_outage() {
    if skip_unless(&["chronyd", "chronyc", "prometheus"], true) {
        return;
    }
    let report_bin =
        std::path::Path::new(env!("CARGO_BIN_EXE_clockwatch")).with_file_name("clockwatch-report");
    assert!(
        report_bin.is_file(),
        "{} missing: cargo build -p clockwatch-report first",
        report_bin.display()
    );
    let pair = ChronyPair::start();
    pair.wait_synchronised(Duration::from_secs(30));
    let cw = Clockwatch::start(&[
        &format!("--chrony.address={}", pair.unix_address()),
        "--sample.interval=500ms",
    ]);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = format!(
        "global:\n  scrape_interval: 2s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: clockwatch\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n        labels:\n          node: live\n",
        cw.port
    );
    let prometheus = Prometheus::start(dir.path(), &config, &[]);
    // Warm up so the step before --from holds scrapes.
    std::thread::sleep(Duration::from_secs(8));
    let from = now_s().ceil() as i64;
    std::thread::sleep(Duration::from_secs(8));
    signal(prometheus.pid(), "-STOP");
    std::thread::sleep(Duration::from_secs(12));
    signal(prometheus.pid(), "-CONT");
    std::thread::sleep(Duration::from_secs(10));
    // A whole number of 4 s steps, ending before the last scrape.
    let to = from + ((now_s() as i64 - 2 - from) / 4) * 4;
    let run = |method: &str| -> serde_json::Value {
        let o = Command::new(&report_bin)
            .arg("--prometheus")
            .arg(format!("http://127.0.0.1:{}", prometheus.port))
            .args(["--from", &from.to_string(), "--to", &to.to_string()])
            .args(["--tolerance", "mifid2-voice", "--step", "4s"])
            .args(["--format", "json", "--method", method])
            .output()
            .expect("run clockwatch-report");
        assert!(
            matches!(o.status.code(), Some(0 | 1)),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice(&o.stdout).expect("json")
    };
    let grid = run("grid");
    let auto = run("auto");
    let g = &grid["nodes"][0];
    let c = &auto["nodes"][0];
    let wall = (to - from) as f64;
    let num = |v: &serde_json::Value, f: &str| v[f].as_f64().unwrap_or(f64::NAN);
    // The grid: the 12 s outage is unmeasured (at least two whole 4 s cells).
    assert!(num(g, "unmeasured_seconds") >= 8.0, "grid: {g}");
    assert_eq!(g["compliant"], false, "{g}");
    // The counters: the same stretch is measured; what is left is the
    // edge between the scrape before --from/--to and the instant itself.
    assert_eq!(c["method"]["name"], "counters", "{c}");
    assert!(num(c, "unmeasured_seconds") <= 2.5, "counters: {c}");
    assert!(
        (num(c, "within_seconds") - wall).abs() <= 2.5,
        "counters within {} vs wall {wall}: {c}",
        num(c, "within_seconds")
    );
    assert!(c["gaps"].as_array().is_none_or(|v| v.is_empty()), "{c}");
}
