//! End-to-end test of the report (`clockwatch-report`, which `clockwatch
//! report` runs) against a real Prometheus.
//!
//! A synthetic two-hour history with a known truth is written as
//! OpenMetrics, turned into TSDB blocks by `promtool tsdb
//! create-blocks-from openmetrics`, served by a real `prometheus`, and read
//! back by the real `clockwatch-report` binary in every format. The HTML
//! report is rendered by headless Chromium (screenshot kept under
//! `target/test-output/`). With `CLOCKWATCH_UPDATE_SAMPLES=1` the Markdown
//! and HTML reports are copied to `docs/samples/`.
//!
//! Without prometheus/promtool (or chromium for the HTML part) the test
//! prints a loud SKIP line and passes; under CI=true it fails instead.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{skip_unless, Prometheus, BIN};
/// Scrape interval of the synthetic history.
const SCRAPE: i64 = 15;
/// Cells (= scrapes) in the period: two hours.
const N: i64 = 480;
/// Samples sit 7 s into each 15 s cell, away from cell boundaries.
const OFFSET: i64 = 7;

/// What a node exports at scrape `k`.
#[derive(Clone, Copy)]
enum Sample {
    /// Exporter answered: bound, state, chrony_up.
    Up(f64, &'static str, bool),
    /// Scrape failed: only `up 0`.
    Down,
    /// No target at all (nothing stored).
    Absent,
}

struct NodeHistory {
    name: &'static str,
    cluster: &'static str,
    at: fn(i64) -> Sample,
}

fn compliant(k: i64) -> Sample {
    Sample::Up(0.00002 + (k % 10) as f64 * 0.000005, "synchronized", true)
}
fn breach(k: i64) -> Sample {
    match k {
        100..=139 if k == 120 => Sample::Up(0.0004, "synchronized", true),
        100..=139 => Sample::Up(0.00025, "synchronized", true),
        300..=319 => Sample::Up(0.002, "synchronized", true),
        _ => Sample::Up(0.00005, "synchronized", true),
    }
}
fn gap(k: i64) -> Sample {
    match k {
        200..=239 => Sample::Down,
        400..=403 => Sample::Up(f64::INFINITY, "unknown", false),
        _ => Sample::Up(0.00003, "synchronized", true),
    }
}
fn never(_: i64) -> Sample {
    Sample::Down
}
fn late(k: i64) -> Sample {
    if k < 160 {
        Sample::Absent
    } else {
        Sample::Up(0.00003, "synchronized", true)
    }
}
fn at_tolerance(_: i64) -> Sample {
    Sample::Up(0.0001, "synchronized", true)
}
fn states(k: i64) -> Sample {
    match k {
        50..=59 => Sample::Up(0.00003, "stale", true),
        70..=79 => Sample::Up(f64::INFINITY, "unsynchronized", true),
        _ => Sample::Up(0.00003, "synchronized", true),
    }
}
fn other(_: i64) -> Sample {
    Sample::Up(0.5, "synchronized", true)
}

fn histories() -> Vec<NodeHistory> {
    vec![
        NodeHistory {
            name: "node-compliant",
            cluster: "test",
            at: compliant,
        },
        NodeHistory {
            name: "node-breach",
            cluster: "test",
            at: breach,
        },
        NodeHistory {
            name: "node-gap",
            cluster: "test",
            at: gap,
        },
        NodeHistory {
            name: "node-never",
            cluster: "test",
            at: never,
        },
        NodeHistory {
            name: "node-late",
            cluster: "test",
            at: late,
        },
        NodeHistory {
            name: "node-at-tolerance",
            cluster: "test",
            at: at_tolerance,
        },
        NodeHistory {
            name: "node-states",
            cluster: "test",
            at: states,
        },
        NodeHistory {
            name: "node-other-cluster",
            cluster: "other",
            at: other,
        },
    ]
}

/// The value a series takes for a sample (None: no sample stored).
type ValueOf = Box<dyn Fn(Sample) -> Option<String>>;

const STATES: [&str; 5] = [
    "synchronized",
    "stale",
    "local",
    "unsynchronized",
    "unknown",
];

fn value(v: f64) -> String {
    if v.is_infinite() {
        "+Inf".to_string()
    } else {
        format!("{v}")
    }
}

/// The OpenMetrics text of the whole history, starting at `base` (unix s).
fn openmetrics(base: i64) -> String {
    let nodes = histories();
    let mut o = String::new();
    let labels = |n: &NodeHistory| {
        format!(
            "cluster=\"{}\",instance=\"{}:9707\",job=\"clockwatch\",node=\"{}\"",
            n.cluster, n.name, n.name
        )
    };
    let ts = |k: i64| base + k * SCRAPE + OFFSET;
    let families: [(&str, &str); 5] = [
        ("clockwatch_clock_error_bound_seconds", "gauge"),
        ("clockwatch_sync_state", "gauge"),
        ("clockwatch_clock_synchronized", "gauge"),
        ("chrony_up", "gauge"),
        ("up", "gauge"),
    ];
    for (family, kind) in families {
        let _ = writeln!(o, "# TYPE {family} {kind}");
        for n in &nodes {
            let l = labels(n);
            let series: Vec<(String, ValueOf)> = match family {
                "clockwatch_clock_error_bound_seconds" => vec![(
                    l.clone(),
                    Box::new(|s| match s {
                        Sample::Up(b, _, _) => Some(value(b)),
                        _ => None,
                    }),
                )],
                "clockwatch_sync_state" => STATES
                    .iter()
                    .map(|st| {
                        let st: &'static str = st;
                        (
                            format!("{l},state=\"{st}\""),
                            Box::new(move |s| match s {
                                Sample::Up(_, cur, _) => {
                                    Some(if cur == st { "1" } else { "0" }.to_string())
                                }
                                _ => None,
                            }) as ValueOf,
                        )
                    })
                    .collect(),
                "clockwatch_clock_synchronized" => vec![(
                    l.clone(),
                    Box::new(|s| match s {
                        Sample::Up(_, st, _) => {
                            Some(if st == "synchronized" { "1" } else { "0" }.to_string())
                        }
                        _ => None,
                    }),
                )],
                "chrony_up" => vec![(
                    l.clone(),
                    Box::new(|s| match s {
                        Sample::Up(_, _, c) => Some(if c { "1" } else { "0" }.to_string()),
                        _ => None,
                    }),
                )],
                _ => vec![(
                    l.clone(),
                    Box::new(|s| match s {
                        Sample::Up(..) => Some("1".to_string()),
                        Sample::Down => Some("0".to_string()),
                        Sample::Absent => None,
                    }),
                )],
            };
            for (ls, f) in &series {
                for k in 0..N {
                    if let Some(v) = f((n.at)(k)) {
                        let _ = writeln!(o, "{family}{{{ls}}} {v} {}", ts(k));
                    }
                }
            }
        }
    }
    o.push_str("# EOF\n");
    o
}

/// Loads the synthetic history into a TSDB with promtool and serves it
/// with a real Prometheus.
fn start_prometheus(dir: &Path, base: i64) -> Prometheus {
    Prometheus::with_history(dir, &openmetrics(base), &[])
}

fn report(port: u16, extra: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--prometheus")
        .arg(format!("http://127.0.0.1:{port}"))
        .args(extra)
        .env_remove("CLOCKWATCH_PROMETHEUS_BEARER_TOKEN")
        .output()
        .expect("run clockwatch-report")
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn rfc(unix: i64) -> String {
    // Minimal RFC 3339 formatter for whole seconds (UTC), civil-from-days.
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Expected intervals `(start cell, end cell exclusive)`.
struct Truth {
    within: i64,
    out: i64,
    unmeasured: i64,
    worst: Option<f64>,
    breaches: Vec<(i64, i64, f64)>,
    gaps: Vec<(i64, i64, Vec<&'static str>)>,
}

fn truth() -> BTreeMap<&'static str, Truth> {
    let mut t = BTreeMap::new();
    t.insert(
        "node-compliant",
        Truth {
            within: N,
            out: 0,
            unmeasured: 0,
            worst: Some(0.000065),
            breaches: vec![],
            gaps: vec![],
        },
    );
    t.insert(
        "node-breach",
        Truth {
            within: N - 60,
            out: 60,
            unmeasured: 0,
            worst: Some(0.002),
            breaches: vec![(100, 140, 0.0004), (300, 320, 0.002)],
            gaps: vec![],
        },
    );
    t.insert(
        "node-gap",
        Truth {
            within: N - 44,
            out: 0,
            unmeasured: 44,
            worst: Some(0.00003),
            breaches: vec![],
            gaps: vec![
                (200, 240, vec!["no sample", "exporter down"]),
                (
                    400,
                    404,
                    vec!["chronyd unreachable", "unknown", "bound not holding"],
                ),
            ],
        },
    );
    t.insert(
        "node-never",
        Truth {
            within: 0,
            out: 0,
            unmeasured: N,
            worst: None,
            breaches: vec![],
            gaps: vec![(0, N, vec!["no sample", "exporter down"])],
        },
    );
    t.insert(
        "node-late",
        Truth {
            within: N - 160,
            out: 0,
            unmeasured: 160,
            worst: Some(0.00003),
            breaches: vec![],
            gaps: vec![(0, 160, vec!["no sample"])],
        },
    );
    t.insert(
        "node-at-tolerance",
        Truth {
            within: N,
            out: 0,
            unmeasured: 0,
            worst: Some(0.0001),
            breaches: vec![],
            gaps: vec![],
        },
    );
    t.insert(
        "node-states",
        Truth {
            within: N - 20,
            out: 0,
            unmeasured: 20,
            worst: Some(0.00003),
            breaches: vec![],
            gaps: vec![
                (50, 60, vec!["stale"]),
                (70, 80, vec!["unsynchronized", "bound not holding"]),
            ],
        },
    );
    t
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(1.0)
}

fn check_json(json: &serde_json::Value, base: i64) {
    let t = truth();
    assert_eq!(json["schema"], "clockwatch.report/v1");
    assert_eq!(json["verdict"]["compliant"], false);
    assert_eq!(json["period"]["cells"], N);
    assert_eq!(json["period"]["step_seconds"], 15.0);
    assert_eq!(json["period"]["from"], rfc(base));
    assert_eq!(json["period"]["to"], rfc(base + N * SCRAPE));
    assert_eq!(json["tolerance"]["seconds"], 0.0001);
    assert_eq!(json["tolerance"]["profile"], "mifid2-hft");
    let nodes = json["nodes"].as_array().expect("nodes");
    let names: Vec<&str> = nodes.iter().filter_map(|n| n["node"].as_str()).collect();
    assert_eq!(
        names,
        t.keys().copied().collect::<Vec<_>>(),
        "selector must keep only cluster=test"
    );
    for n in nodes {
        let name = n["node"].as_str().expect("name");
        let want = &t[name];
        let ratio = |k: &str| n[k].as_f64().expect(k);
        assert!(
            close(ratio("within_ratio"), want.within as f64 / N as f64),
            "{name} within {n}"
        );
        assert!(
            close(ratio("out_of_tolerance_ratio"), want.out as f64 / N as f64),
            "{name} out"
        );
        assert!(
            close(ratio("unmeasured_ratio"), want.unmeasured as f64 / N as f64),
            "{name} unmeasured"
        );
        assert_eq!(
            n["unmeasured_seconds"].as_f64(),
            Some((want.unmeasured * SCRAPE) as f64),
            "{name}"
        );
        match (n["worst_bound_seconds"].as_f64(), want.worst) {
            (Some(a), Some(b)) => assert!(close(a, b), "{name} worst {a} != {b}"),
            (a, b) => assert_eq!(a, b, "{name} worst"),
        }
        let compliant = want.out == 0 && want.unmeasured == 0;
        assert_eq!(n["compliant"], compliant, "{name} verdict");
        let breaches = n["breaches"].as_array().expect("breaches");
        assert_eq!(
            breaches.len(),
            want.breaches.len(),
            "{name} breaches {breaches:?}"
        );
        for (b, (s, e, peak)) in breaches.iter().zip(&want.breaches) {
            assert_eq!(b["start"], rfc(base + s * SCRAPE), "{name}");
            assert_eq!(b["end"], rfc(base + e * SCRAPE), "{name}");
            assert_eq!(
                b["duration_seconds"].as_f64(),
                Some(((e - s) * SCRAPE) as f64)
            );
            assert_eq!(b["peak_bound_seconds"].as_f64(), Some(*peak), "{name}");
        }
        let gaps = n["gaps"].as_array().expect("gaps");
        assert_eq!(gaps.len(), want.gaps.len(), "{name} gaps {gaps:?}");
        for (g, (s, e, reasons)) in gaps.iter().zip(&want.gaps) {
            assert_eq!(g["start"], rfc(base + s * SCRAPE), "{name}");
            assert_eq!(g["end"], rfc(base + e * SCRAPE), "{name}");
            let got: Vec<&str> = g["reasons"]
                .as_array()
                .expect("reasons")
                .iter()
                .filter_map(|r| r.as_str())
                .collect();
            assert_eq!(&got, reasons, "{name} gap reasons");
        }
    }
    let s = &json["summary"];
    assert_eq!(s["nodes"], 7);
    assert_eq!(s["nodes_compliant"], 2);
    assert_eq!(s["breaches"], 2);
    assert_eq!(s["gaps"], 6);
    assert_eq!(s["worst_node"], "node-breach");
}

fn check_csv(text: &str, base: i64) {
    let t = truth();
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = rd
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    let col = |name: &str| header.iter().position(|h| h == name).expect(name);
    let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.expect("row")).collect();
    assert_eq!(&rows[0][col("record")], "cluster");
    assert_eq!(&rows[0][col("compliant")], "false");
    assert_eq!(&rows[0][col("tolerance_seconds")], "0.0001");
    assert_eq!(&rows[0][col("step_seconds")], "15");
    let f = |r: &csv::StringRecord, c: &str| r[col(c)].parse::<f64>().expect(c);
    let node_rows: Vec<_> = rows
        .iter()
        .filter(|r| &r[col("record")] == "node")
        .collect();
    assert_eq!(node_rows.len(), t.len());
    for r in node_rows {
        let want = &t[&r[col("node")]];
        assert!(close(f(r, "within_ratio"), want.within as f64 / N as f64));
        assert!(close(
            f(r, "out_of_tolerance_ratio"),
            want.out as f64 / N as f64
        ));
        assert!(close(
            f(r, "unmeasured_ratio"),
            want.unmeasured as f64 / N as f64
        ));
        assert_eq!(f(r, "breaches") as usize, want.breaches.len());
        assert_eq!(f(r, "gaps") as usize, want.gaps.len());
    }
    let breaches: Vec<_> = rows
        .iter()
        .filter(|r| &r[col("record")] == "breach")
        .collect();
    assert_eq!(breaches.len(), 2);
    assert_eq!(&breaches[0][col("node")], "node-breach");
    assert_eq!(&breaches[0][col("start")], rfc(base + 100 * SCRAPE));
    assert_eq!(f(breaches[0], "duration_seconds"), 600.0);
    assert_eq!(f(breaches[0], "peak_bound_seconds"), 0.0004);
    assert_eq!(f(breaches[1], "duration_seconds"), 300.0);
    let gaps: Vec<_> = rows.iter().filter(|r| &r[col("record")] == "gap").collect();
    assert_eq!(gaps.len(), 6);
    let late = gaps
        .iter()
        .find(|r| &r[col("node")] == "node-late")
        .expect("late gap");
    assert_eq!(f(late, "duration_seconds"), (160 * SCRAPE) as f64);
    assert_eq!(&late[col("reasons")], "no sample");
}

fn chromium(html: &Path, out: &Path) {
    if skip_unless(&["chromium"], false) {
        return;
    }
    let profile = tempfile::tempdir().expect("profile dir");
    let url = format!("file://{}", html.display());
    let dom = common::chromium(profile.path())
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("chromium --dump-dom");
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains("NOT COMPLIANT"), "DOM lacks the verdict");
    for name in truth().keys() {
        assert!(
            dom.contains(&format!("data-node=\"{name}\"")),
            "DOM lacks {name}"
        );
    }
    assert!(
        dom.contains("87.5000%"),
        "node-breach within share missing from the DOM"
    );
    assert!(dom.contains("<svg"), "no timeline");
    let shot = out.join("report.png");
    let _ = std::fs::remove_file(&shot);
    let st = common::chromium(profile.path())
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1200,1600")
        .arg(&url)
        .output()
        .expect("chromium --screenshot");
    assert!(
        shot.metadata().map(|m| m.len() > 10_000).unwrap_or(false),
        "no screenshot: {}",
        String::from_utf8_lossy(&st.stderr)
    );
    println!("screenshot: {}", shot.display());
    // Printed to PDF (print CSS): a real multi-page PDF.
    let pdf = out.join("report.pdf");
    let _ = std::fs::remove_file(&pdf);
    let _ = common::chromium(profile.path())
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg("--no-pdf-header-footer")
        .arg(&url)
        .output()
        .expect("chromium --print-to-pdf");
    let bytes = std::fs::read(&pdf).expect("pdf written");
    assert!(bytes.starts_with(b"%PDF"), "not a PDF");
    assert!(bytes.len() > 20_000, "PDF too small: {} bytes", bytes.len());
}

#[test]
fn report_against_real_prometheus() {
    if skip_unless(&["prometheus", "promtool"], false) {
        return;
    }
    // Two hours, ending at least one hour ago, aligned to the hour.
    let base = common::hours_ago(4);
    let dir = tempfile::tempdir().expect("tempdir");
    let prometheus = start_prometheus(dir.path(), base);
    let port = prometheus.port;
    let out = common::test_output_dir();
    let from = base.to_string();
    let to = (base + N * SCRAPE).to_string();
    let common = [
        "--from",
        &from,
        "--to",
        &to,
        "--tolerance",
        "mifid2-hft",
        "--step",
        "15s",
        "--selector",
        "{cluster=\"test\"}",
    ];
    let run = |format: &str, extra: &[&str]| -> (Output, PathBuf) {
        let path = out.join(format!("report.{format}"));
        let mut args: Vec<&str> = common.to_vec();
        args.extend_from_slice(&["--format", format, "--output"]);
        let p = path.to_string_lossy().into_owned();
        args.push(&p);
        args.extend_from_slice(extra);
        (report(port, &args), path)
    };

    // JSON: every number against the truth.
    let (o, p) = run("json", &[]);
    assert_eq!(code(&o), 1, "not compliant expected: {}", stderr(&o));
    assert!(
        stderr(&o).contains("NOT COMPLIANT: 2 of 7 nodes compliant"),
        "{}",
        stderr(&o)
    );
    assert!(
        !stderr(&o).contains("queries"),
        "no progress bar when stderr is not a terminal: {}",
        stderr(&o)
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p).expect("json")).expect("parse json");
    check_json(&json, base);

    // Chunked into 100-point queries: the same analysis.
    let o = report(port, &{
        let mut a: Vec<&str> = common.to_vec();
        a.extend_from_slice(&["--format", "json", "--max-points", "100"]);
        a
    });
    let chunked: serde_json::Value = serde_json::from_slice(&o.stdout).expect("chunked json");
    assert_eq!(
        chunked["nodes"], json["nodes"],
        "chunked queries changed the result"
    );

    // CSV parsed back.
    let (o, p) = run("csv", &[]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    check_csv(&std::fs::read_to_string(&p).expect("csv"), base);

    // Markdown.
    let (o, md_path) = run("md", &[]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let md = std::fs::read_to_string(&md_path).expect("md");
    assert!(md.contains("**Verdict: NOT COMPLIANT**"));
    assert!(
        md.contains("| node-breach | 87.5000% | 12.5000% | 0.0000% | 2ms |"),
        "{md}"
    );
    assert!(md.contains("| node-at-tolerance | 100.0000% | 0.0000% | 0.0000% | 100µs |"));
    assert!(md.contains(&format!(
        "| {} | {} | 10m | 400µs |",
        rfc(base + 1500),
        rfc(base + 2100)
    )));
    assert!(md.contains("480 cells of 15s"));
    assert!(md.contains("cannot be seen"));
    assert!(!md.contains("node-other-cluster"));

    // HTML, rendered by a real browser.
    let (o, html_path) = run("html", &[]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let html = std::fs::read_to_string(&html_path).expect("html");
    assert!(
        !html.contains("<script"),
        "the HTML report must not need scripts"
    );
    assert!(
        !html.contains("http://") || !html.contains("src=\"http"),
        "no external resources"
    );
    assert_eq!(html.matches("<svg").count(), 7, "one timeline per node");
    chromium(&html_path, &out);

    // A 60 s grid: four samples per cell, same breach intervals (aligned).
    let o = report(port, &{
        let mut a: Vec<&str> = common.to_vec();
        a.truncate(6);
        a.extend_from_slice(&[
            "--selector",
            "{cluster=\"test\"}",
            "--format",
            "json",
            "--step",
            "60s",
        ]);
        a
    });
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let coarse: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json 60s");
    let nb = coarse["nodes"]
        .as_array()
        .and_then(|a| a.iter().find(|n| n["node"] == "node-breach"))
        .expect("node-breach");
    assert_eq!(nb["breaches"][0]["start"], rfc(base + 1500));
    assert_eq!(nb["breaches"][0]["end"], rfc(base + 2100));
    assert_eq!(nb["breaches"][1]["duration_seconds"], 300.0);

    // Only the compliant nodes: exit 0.
    let o = report(
        port,
        &[
            "--from",
            &from,
            "--to",
            &to,
            "--tolerance",
            "100us",
            "--step",
            "15s",
            "--selector",
            "{cluster=\"test\",node=~\"node-compliant|node-at-tolerance\"}",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("**Verdict: COMPLIANT**"));

    // A looser tolerance turns node-breach's first breach (400µs) into
    // compliance but not its second (2ms).
    let o = report(
        port,
        &[
            "--from",
            &from,
            "--to",
            &to,
            "--tolerance",
            "mifid2-algo",
            "--step",
            "15s",
            "--selector",
            "{node=\"node-breach\"}",
            "--format",
            "json",
        ],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json algo");
    assert_eq!(j["nodes"][0]["breaches"].as_array().map(Vec::len), Some(1));

    // Empty selector result: exit 2 with a precise message.
    let o = report(
        port,
        &[
            "--from",
            &from,
            "--to",
            &to,
            "--tolerance",
            "mifid2-hft",
            "--selector",
            "{cluster=\"nope\"}",
        ],
    );
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("no clockwatch series matched {cluster=\"nope\"}"),
        "{}",
        stderr(&o)
    );

    // Invalid selector syntax: Prometheus' own error, exit 2.
    let o = report(
        port,
        &[
            "--from",
            &from,
            "--to",
            &to,
            "--tolerance",
            "1ms",
            "--selector",
            "{cluster=}",
        ],
    );
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("Prometheus rejected the query"),
        "{}",
        stderr(&o)
    );

    if std::env::var_os("CLOCKWATCH_UPDATE_SAMPLES").is_some() {
        let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/samples");
        std::fs::create_dir_all(&samples).expect("docs/samples");
        std::fs::copy(&md_path, samples.join("report.md")).expect("copy md");
        std::fs::copy(&html_path, samples.join("report.html")).expect("copy html");
        println!("updated docs/samples/report.md and report.html");
    }
}
