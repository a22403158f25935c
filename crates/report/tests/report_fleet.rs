//! The report on a (small) fleet against a real Prometheus started with a
//! low `--query.max-samples`, so that the old one-chunk plan trips the
//! engine's sample limit (HTTP 422) the way 1250 nodes × 7 days trip the
//! default 50M:
//!
//! - with default flags the report succeeds unaided (it halves refused
//!   chunks and says so once), and its result equals a run with tiny chunks
//!   and one with chunks sized up front below the limit;
//! - the planted breach and gap are found exactly;
//! - a rollout (two pods of one node overlapping, the old one's last
//!   scrapes failing) leaves no gap;
//! - a series without `node` gives a warning naming it;
//! - a memory budget too small gives exit 2 and a one-line message.
//!
//! The history is built by `promtool tsdb create-blocks-from openmetrics`.
//! Without prometheus/promtool: loud SKIP (fails under CI=true).

mod common;

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

use common::{skip_unless, Prometheus, BIN};

const SCRAPE: i64 = 15;
/// Cells (= scrapes): two hours.
const N: i64 = 480;
const OFFSET: i64 = 7;
/// Plain compliant nodes.
const FLEET: usize = 40;
/// Prometheus' sample limit in this test: one query over the whole period
/// touches (FLEET + 5) series × 480 steps ≈ 21.6k samples (the state
/// query without the first pass four times as many).
const MAX_SAMPLES: &str = "15000";

#[derive(Clone, Copy)]
enum S {
    Up(f64, &'static str),
    Down,
    Absent,
}

struct Target {
    node: Option<String>,
    instance: String,
    at: Box<dyn Fn(i64) -> S>,
}

fn targets() -> Vec<Target> {
    let mut t: Vec<Target> = (0..FLEET)
        .map(|i| Target {
            node: Some(format!("fleet-{i:03}")),
            instance: format!("fleet-{i:03}:9707"),
            at: Box::new(move |k| {
                S::Up(0.00002 + ((k + i as i64) % 7) as f64 * 1e-6, "synchronized")
            }),
        })
        .collect();
    t.push(Target {
        node: Some("node-breach".into()),
        instance: "node-breach:9707".into(),
        at: Box::new(|k| match k {
            100..=139 => S::Up(0.00025, "synchronized"),
            _ => S::Up(0.00003, "synchronized"),
        }),
    });
    t.push(Target {
        node: Some("node-gap".into()),
        instance: "node-gap:9707".into(),
        at: Box::new(|k| match k {
            200..=239 => S::Down,
            300..=309 => S::Up(0.00003, "stale"),
            _ => S::Up(0.00003, "synchronized"),
        }),
    });
    // Rollout: the old pod measures until scrape 240, then its last ten
    // scrapes fail while it terminates; the new pod measures from 236 on.
    t.push(Target {
        node: Some("node-rollout".into()),
        instance: "10.0.0.1:9707".into(),
        at: Box::new(|k| match k {
            0..=240 => S::Up(0.00004, "synchronized"),
            241..=250 => S::Down,
            _ => S::Absent,
        }),
    });
    t.push(Target {
        node: Some("node-rollout".into()),
        instance: "10.0.0.2:9707".into(),
        at: Box::new(|k| {
            if k >= 236 {
                S::Up(0.00004, "synchronized")
            } else {
                S::Absent
            }
        }),
    });
    // No `node` label.
    t.push(Target {
        node: None,
        instance: "orphan:9707".into(),
        at: Box::new(|_| S::Up(0.00003, "synchronized")),
    });
    t
}

const STATES: [&str; 5] = [
    "synchronized",
    "stale",
    "local",
    "unsynchronized",
    "unknown",
];

fn openmetrics(base: i64) -> String {
    let ts = |k: i64| base + k * SCRAPE + OFFSET;
    let mut o = String::new();
    let all = targets();
    let labels = |t: &Target| match &t.node {
        Some(n) => format!(
            "cluster=\"fleet\",instance=\"{}\",job=\"clockwatch\",node=\"{n}\"",
            t.instance
        ),
        None => format!(
            "cluster=\"fleet\",instance=\"{}\",job=\"clockwatch\"",
            t.instance
        ),
    };
    let _ = writeln!(o, "# TYPE clockwatch_clock_error_bound_seconds gauge");
    for t in &all {
        for k in 0..N {
            if let S::Up(b, _) = (t.at)(k) {
                let _ = writeln!(
                    o,
                    "clockwatch_clock_error_bound_seconds{{{}}} {b} {}",
                    labels(t),
                    ts(k)
                );
            }
        }
    }
    let _ = writeln!(o, "# TYPE clockwatch_sync_state gauge");
    for t in &all {
        for st in STATES {
            for k in 0..N {
                if let S::Up(_, cur) = (t.at)(k) {
                    let v = u8::from(cur == st);
                    let _ = writeln!(
                        o,
                        "clockwatch_sync_state{{{},state=\"{st}\"}} {v} {}",
                        labels(t),
                        ts(k)
                    );
                }
            }
        }
    }
    for family in ["chrony_up", "up"] {
        let _ = writeln!(o, "# TYPE {family} gauge");
        for t in &all {
            for k in 0..N {
                let v = match (t.at)(k) {
                    S::Up(..) => "1",
                    S::Down if family == "up" => "0",
                    _ => continue,
                };
                let _ = writeln!(o, "{family}{{{}}} {v} {}", labels(t), ts(k));
            }
        }
    }
    o.push_str("# EOF\n");
    o
}

fn start(dir: &Path, base: i64) -> Prometheus {
    Prometheus::with_history(
        dir,
        &openmetrics(base),
        &[&format!("--query.max-samples={MAX_SAMPLES}")],
    )
}

fn report(port: u16, from: i64, to: i64, extra: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--prometheus")
        .arg(format!("http://127.0.0.1:{port}"))
        .args(["--from", &from.to_string(), "--to", &to.to_string()])
        .args([
            "--tolerance",
            "mifid2-hft",
            "--step",
            "15s",
            "--format",
            "json",
        ])
        .args(["--selector", "{cluster=\"fleet\"}"])
        .args(extra)
        .env_remove("CLOCKWATCH_PROMETHEUS_BEARER_TOKEN")
        .output()
        .expect("run clockwatch-report")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("json: {e}; {}", stderr(o)))
}

fn node<'a>(j: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    j["nodes"]
        .as_array()
        .and_then(|a| a.iter().find(|n| n["node"] == name))
        .unwrap_or_else(|| panic!("node {name} missing"))
}

#[test]
fn fleet_within_engine_limits() {
    if skip_unless(&["prometheus", "promtool"], false) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    // Whole hours, three hours back: inside the head-free block range.
    let base = (now - 3 * 3600) / 3600 * 3600;
    let prom = start(dir.path(), base);
    let (from, to) = (base, base + N * SCRAPE);

    // The old plan (one chunk per query) trips the limit: Prometheus
    // itself refuses it.
    let old = report(
        prom.port,
        from,
        to,
        &["--max-samples-per-query", "100000000", "--no-first-pass"],
    );
    let e = stderr(&old);
    assert!(
        e.contains("refused a chunk of 480 cells") && e.contains("too many samples"),
        "the old one-chunk plan must trip --query.max-samples: {e}"
    );

    // Default flags: succeeds unaided.
    let def = report(prom.port, from, to, &[]);
    assert_eq!(
        def.status.code(),
        Some(1),
        "not compliant: {}",
        stderr(&def)
    );
    let e = stderr(&def);
    assert_eq!(
        e.matches("splitting such chunks in half").count(),
        1,
        "said once: {e}"
    );
    // The series without `node` is named.
    assert!(
        e.contains("series without a `node` label") && e.contains("instance=\"orphan:9707\""),
        "{e}"
    );
    let d = json(&def);

    // Chunks sized up front below the limit: no refusal at all.
    let sized = report(prom.port, from, to, &["--max-samples-per-query", "10000"]);
    assert_eq!(sized.status.code(), Some(1), "{}", stderr(&sized));
    assert!(
        stderr(&sized).contains(", 0 chunk(s) split"),
        "{}",
        stderr(&sized)
    );
    // Tiny chunks, one query at a time, no first pass (the state query
    // over every node and chunk).
    let tiny = report(
        prom.port,
        from,
        to,
        &[
            "--max-points",
            "7",
            "--prometheus-concurrency",
            "1",
            "--no-first-pass",
        ],
    );
    assert_eq!(tiny.status.code(), Some(1), "{}", stderr(&tiny));
    // A budget that holds a few nodes' cells at a time: fetched in groups.
    let grouped = report(prom.port, from, to, &["--max-memory", "65MiB"]);
    assert_eq!(grouped.status.code(), Some(1), "{}", stderr(&grouped));
    assert!(
        stderr(&grouped).contains("groups of at most"),
        "{}",
        stderr(&grouped)
    );
    for other in [json(&sized), json(&tiny), json(&grouped)] {
        assert_eq!(
            d["nodes"], other["nodes"],
            "same result whatever the chunks"
        );
        assert_eq!(d["verdict"], other["verdict"]);
    }

    // Exactness.
    assert_eq!(d["nodes"].as_array().map(Vec::len), Some(FLEET + 4));
    for i in 0..FLEET {
        let n = node(&d, &format!("fleet-{i:03}"));
        assert_eq!(n["within_seconds"].as_f64(), Some((N) as f64 * 15.0), "{n}");
    }
    let b = node(&d, "node-breach");
    assert_eq!(
        b["out_of_tolerance_seconds"].as_f64(),
        Some((40) as f64 * 15.0),
        "{b}"
    );
    assert_eq!(b["breaches"].as_array().map(Vec::len), Some(1), "{b}");
    assert_eq!(b["breaches"][0]["start"], rfc(base + 100 * SCRAPE));
    let g = node(&d, "node-gap");
    assert_eq!(
        g["unmeasured_seconds"].as_f64(),
        Some((50) as f64 * 15.0),
        "{g}"
    );
    assert_eq!(g["gaps"].as_array().map(Vec::len), Some(2), "{g}");
    assert_eq!(g["gaps"][0]["start"], rfc(base + 200 * SCRAPE));
    assert_eq!(g["gaps"][0]["end"], rfc(base + 240 * SCRAPE));
    // The rollout: no gap, every cell within.
    let r = node(&d, "node-rollout");
    assert_eq!(r["within_seconds"].as_f64(), Some((N) as f64 * 15.0), "{r}");
    assert_eq!(r["gaps"].as_array().map(Vec::len), Some(0), "{r}");
    // The unlabelled series is counted under its instance (and warned).
    assert_eq!(
        node(&d, "orphan:9707")["within_seconds"].as_f64(),
        Some((N) as f64 * 15.0)
    );

    // A memory budget too small: exit 2, one line naming the flag.
    let small = report(prom.port, from, to, &["--max-memory", "16MiB"]);
    assert_eq!(small.status.code(), Some(2), "{}", stderr(&small));
    let e = stderr(&small);
    assert_eq!(e.trim().lines().count(), 1, "{e}");
    assert!(
        e.contains("over --max-memory 16MiB") && e.contains("nodes x 480 cells"),
        "{e}"
    );
    assert!(small.stdout.is_empty());
}

fn rfc(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .expect("time")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("format")
}
