//! The counters method against a real Prometheus: a synthetic 30-minute
//! history of the exporter's time counters (as the sampler of issue 18
//! writes them), turned into TSDB blocks by `promtool tsdb
//! create-blocks-from openmetrics`, read back by the real binary with
//! `--method grid` and `--method auto`.
//!
//! - `breach-short`: a 3 s breach between two scrapes: the grid at a 60 s
//!   step misses it, the counters count exactly 3 s.
//! - `prom-gap`: Prometheus stored nothing for 5 minutes while the exporter
//!   ran: a gap for the grid, none for the counters.
//! - `restart`: the exporter stopped for 2 minutes and restarted (counters
//!   reset): unmeasured = restart − last reading before the stop, exactly.
//! - `old`: an exporter without the sampler: auto falls back to the grid
//!   and says why.

mod common;

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use common::{skip_unless, Prometheus, BIN};

const SCRAPE: i64 = 15;
/// Scrapes sit 7 s into each 15 s slot.
const OFFSET: i64 = 7;
/// The period: 30 cells of 60 s.
const PERIOD: i64 = 1800;
const BUCKETS: [f64; 8] = [1e-6, 1e-5, 1e-4, 1e-3, 0.01, 0.05, 0.1, 1.0];
const STATES: [&str; 5] = [
    "synchronized",
    "stale",
    "local",
    "unsynchronized",
    "unknown",
];
/// The normal bound: 10 µs.
const GOOD: f64 = 1e-5;
/// The short breach: 500 µs for 3 s, 403..406 s into the period.
const BREACH: (i64, i64, f64) = (403, 406, 5e-4);
/// Prometheus stored nothing in [600, 900).
const PROM_GAP: (i64, i64) = (600, 900);
/// The exporter of `restart` stopped at 1200 and started again at 1320.
const STOP: (i64, i64) = (1200, 1320);

/// What one node's exporter says at time `t` (seconds from the period
/// start): None when the scrape fails or is not stored.
struct At {
    up: bool,
    /// bound gauge, count (= synchronized seconds), per-bucket seconds,
    /// windowed peak.
    values: Option<(f64, f64, Vec<f64>, f64)>,
}

fn exporter(node: &str, t: i64) -> At {
    // Seconds since the exporter (re)started; it first started long before.
    let (start, running) = match node {
        "restart" if t >= STOP.1 => (STOP.1, true),
        "restart" if t >= STOP.0 => (0, false),
        _ => (-5000, true),
    };
    if !running {
        return At {
            up: false,
            values: None,
        };
    }
    let count = (t - start) as f64;
    let breach_s = if node == "breach-short" {
        (t.min(BREACH.1) - BREACH.0).max(0) as f64
    } else {
        0.0
    };
    let buckets = BUCKETS
        .iter()
        .map(|&le| {
            let mut v = if le >= GOOD { count } else { 0.0 };
            if le < BREACH.2 && le >= GOOD {
                v -= breach_s;
            }
            v
        })
        .collect();
    let peak = if node == "breach-short" && t >= BREACH.0 && t - 60 <= BREACH.1 {
        BREACH.2
    } else {
        GOOD
    };
    At {
        up: true,
        values: Some((GOOD, count, buckets, peak)),
    }
}

fn stored(node: &str, t: i64) -> bool {
    !(node == "prom-gap" && (PROM_GAP.0..PROM_GAP.1).contains(&t))
}

const NODES: [&str; 4] = ["breach-short", "prom-gap", "restart", "old"];

fn openmetrics(base: i64) -> String {
    let mut o = String::new();
    let labels = |n: &str| format!("instance=\"{n}:9707\",job=\"clockwatch\",node=\"{n}\"");
    let scrapes: Vec<i64> = (-4..=PERIOD / SCRAPE)
        .map(|k| k * SCRAPE + OFFSET)
        .collect();
    let fam =
        |o: &mut String, family: &str, kind: &str, f: &dyn Fn(&str, i64, &At) -> Vec<String>| {
            let _ = writeln!(o, "# TYPE {family} {kind}");
            for n in NODES {
                for &t in &scrapes {
                    if !stored(n, t) {
                        continue;
                    }
                    let at = exporter(n, t);
                    for line in f(n, t, &at) {
                        let _ = writeln!(o, "{line} {}", base + t);
                    }
                }
            }
        };
    fam(&mut o, "up", "gauge", &|n, _, at| {
        vec![format!("up{{{}}} {}", labels(n), u8::from(at.up))]
    });
    fam(
        &mut o,
        "clockwatch_clock_error_bound_seconds",
        "gauge",
        &|n, _, at| {
            at.values
                .iter()
                .map(|v| {
                    format!(
                        "clockwatch_clock_error_bound_seconds{{{}}} {}",
                        labels(n),
                        v.0
                    )
                })
                .collect()
        },
    );
    fam(&mut o, "clockwatch_sync_state", "gauge", &|n, _, at| {
        at.values
            .iter()
            .flat_map(|_| {
                STATES.iter().map(move |s| {
                    format!(
                        "clockwatch_sync_state{{{},state=\"{s}\"}} {}",
                        labels(n),
                        u8::from(*s == "synchronized")
                    )
                })
            })
            .collect()
    });
    fam(&mut o, "chrony_up", "gauge", &|n, _, at| {
        at.values
            .iter()
            .map(|_| format!("chrony_up{{{}}} 1", labels(n)))
            .collect()
    });
    // Traceability: breach-short follows an NTP server, then from 900 s a
    // PHC refclock; its probe disagrees once (1500..1530 s).
    fam(&mut o, "clockwatch_reference_info", "gauge", &|n, t, at| {
        let (kind, reference, id) = if n == "breach-short" && t >= 900 {
            ("refclock", "PHC0", "PHC0")
        } else {
            ("remote", "127.0.0.11", "7F00000B")
        };
        at.values
            .iter()
            .map(|_| {
                format!(
                    "clockwatch_reference_info{{{},daemon=\"chrony\",kind=\"{kind}\",reference=\"{reference}\",reference_id=\"{id}\"}} 1",
                    labels(n)
                )
            })
            .collect()
    });
    fam(
        &mut o,
        "chrony_tracking_leap_status",
        "gauge",
        &|n, _, at| {
            at.values
                .iter()
                .map(|_| format!("chrony_tracking_leap_status{{{}}} 0", labels(n)))
                .collect()
        },
    );
    let bad_probe = |t: i64| (1500..1530).contains(&t);
    fam(
        &mut o,
        "clockwatch_probe_offset_seconds",
        "gauge",
        &|n, t, at| {
            at.values
                .iter()
                .filter(|_| n == "breach-short")
                .map(|_| {
                    let v = if bad_probe(t) { -3e-4 } else { 2e-6 };
                    format!(
                        "clockwatch_probe_offset_seconds{{{},server=\"ntp1\"}} {v}",
                        labels(n)
                    )
                })
                .collect()
        },
    );
    fam(
        &mut o,
        "clockwatch_probe_bound_contradicted",
        "gauge",
        &|n, t, at| {
            at.values
                .iter()
                .filter(|_| n == "breach-short")
                .map(|_| {
                    format!(
                        "clockwatch_probe_bound_contradicted{{{},server=\"ntp1\"}} {}",
                        labels(n),
                        u8::from(bad_probe(t))
                    )
                })
                .collect()
        },
    );
    let with_counters = |n: &str| n != "old";
    fam(
        &mut o,
        "clockwatch_clock_error_bound_max_seconds",
        "gauge",
        &|n, _, at| {
            at.values
                .iter()
                .filter(|_| with_counters(n))
                .map(|v| {
                    format!(
                        "clockwatch_clock_error_bound_max_seconds{{{}}} {}",
                        labels(n),
                        v.3
                    )
                })
                .collect()
        },
    );
    fam(
        &mut o,
        "clockwatch_sync_state_seconds",
        "counter",
        &|n, _, at| {
            at.values
                .iter()
                .filter(|_| with_counters(n))
                .flat_map(|v| {
                    let c = v.1;
                    STATES.iter().map(move |s| {
                        format!(
                            "clockwatch_sync_state_seconds_total{{{},state=\"{s}\"}} {}",
                            labels(n),
                            if *s == "synchronized" { c } else { 0.0 }
                        )
                    })
                })
                .collect()
        },
    );
    fam(
        &mut o,
        "clockwatch_clock_error_bound_time_seconds",
        "histogram",
        &|n, _, at| {
            let Some(v) = at.values.as_ref().filter(|_| with_counters(n)) else {
                return Vec::new();
            };
            let h = "clockwatch_clock_error_bound_time_seconds";
            let mut lines: Vec<String> = BUCKETS
                .iter()
                .zip(&v.2)
                .map(|(le, s)| format!("{h}_bucket{{{},le=\"{le}\"}} {s}", labels(n)))
                .collect();
            lines.push(format!("{h}_bucket{{{},le=\"+Inf\"}} {}", labels(n), v.1));
            lines.push(format!("{h}_count{{{}}} {}", labels(n), v.1));
            lines.push(format!("{h}_sum{{{}}} {}", labels(n), v.1 * GOOD));
            lines
        },
    );
    o.push_str("# EOF\n");
    o
}

fn start_prometheus(dir: &Path, base: i64) -> Prometheus {
    Prometheus::with_history(dir, &openmetrics(base), &[])
}

fn report(port: u16, base: i64, method: &str) -> serde_json::Value {
    report_with(port, base, method, &[]).0
}

/// The JSON report and what was said on stderr.
fn report_with(port: u16, base: i64, method: &str, extra: &[&str]) -> (serde_json::Value, String) {
    let out = Command::new(BIN)
        .arg("--prometheus")
        .arg(format!("http://127.0.0.1:{port}"))
        .args([
            "--from",
            &base.to_string(),
            "--to",
            &(base + PERIOD).to_string(),
        ])
        .args([
            "--tolerance",
            "mifid2-hft",
            "--step",
            "60s",
            "--format",
            "json",
        ])
        .args(["--method", method])
        .args(extra)
        .env_remove("CLOCKWATCH_PROMETHEUS_BEARER_TOKEN")
        .output()
        .expect("run clockwatch-report");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "report failed: {stderr}"
    );
    (serde_json::from_slice(&out.stdout).expect("json"), stderr)
}

/// A Prometheus whose query engine takes at most this many samples per
/// query: the counters' whole-period queries are refused, their halves
/// (and quarters) are not.
const SMALL_ENGINE_LIMIT: u64 = 120;

#[test]
fn counters_refused_as_too_large_are_fetched_in_halves_with_the_same_answer() {
    if skip_unless(&["prometheus", "promtool"], false) {
        return;
    }
    let base = common::hours_ago(3);
    let (roomy_dir, small_dir) = (
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    );
    let roomy = start_prometheus(roomy_dir.path(), base);
    let limit = format!("--query.max-samples={SMALL_ENGINE_LIMIT}");
    let small = Prometheus::with_history(small_dir.path(), &openmetrics(base), &[&limit]);

    let (want, quiet) = report_with(roomy.port, base, "counters", &[]);
    assert!(!quiet.contains("splitting"), "{quiet}");
    // The report believes the whole period fits one query: only the
    // engine's refusal can make it split.
    let (got, said) = report_with(
        small.port,
        base,
        "counters",
        &["--max-samples-per-query", "100000000"],
    );
    assert!(
        said.contains("refused a chunk") && said.contains("splitting such chunks in half"),
        "{said}"
    );
    assert_eq!(
        said.matches("refused a chunk").count(),
        1,
        "said once: {said}"
    );
    assert_eq!(got["nodes"], want["nodes"]);
    assert_eq!(
        secs(node(&got, "breach-short"), "out_of_tolerance_seconds"),
        3.0
    );
    // Chunks the report sizes itself (7 instants each) add up the same:
    // each chunk's buckets and states fill the same rows.
    let (chunked, _) = report_with(roomy.port, base, "counters", &["--max-points", "7"]);
    assert_eq!(chunked["nodes"], want["nodes"]);
    // A budget of about one node's cells and counters at a time (64 MiB
    // of base and 55 KB: 4 nodes' kept results are 33 KB, one node's 30
    // cells with counters and answers 16 KB): each group's counters are
    // read with its cells, with the same answer.
    let (grouped, said) = report_with(roomy.port, base, "counters", &["--max-memory", "67164864"]);
    assert!(said.contains("groups of at most"), "{said}");
    assert_eq!(grouped["nodes"], want["nodes"]);
}

fn node<'a>(j: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    j["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|n| n["node"] == name)
        .unwrap_or_else(|| panic!("node {name} missing"))
}

fn secs(n: &serde_json::Value, field: &str) -> f64 {
    n[field]
        .as_f64()
        .unwrap_or_else(|| panic!("{field} in {n}"))
}

#[test]
fn counters_see_what_the_grid_misses() {
    if skip_unless(&["prometheus", "promtool"], false) {
        return;
    }
    let base = common::hours_ago(3);
    let dir = tempfile::tempdir().expect("tempdir");
    let prometheus = start_prometheus(dir.path(), base);
    let port = prometheus.port;

    let grid = report(port, base, "grid");
    let auto = report(port, base, "auto");
    std::fs::write(
        common::test_output_dir().join("report-counters.json"),
        serde_json::to_string_pretty(&auto).unwrap_or_default(),
    )
    .expect("keep the report");

    // The grid misses the 3 s breach; the counters count it exactly and
    // locate it in cell 6 (360..420 s), with the windowed peak as its size.
    let g = node(&grid, "breach-short");
    assert_eq!(g["compliant"], true, "{g}");
    assert_eq!(g["method"]["name"], "grid");
    let c = node(&auto, "breach-short");
    assert_eq!(c["method"]["name"], "counters", "{c}");
    assert_eq!(c["compliant"], false);
    assert_eq!(secs(c, "out_of_tolerance_seconds"), 3.0);
    assert_eq!(secs(c, "within_seconds"), PERIOD as f64 - 3.0);
    assert_eq!(secs(c, "unmeasured_seconds"), 0.0);
    let b = &c["breaches"][0];
    assert_eq!(c["breaches"].as_array().map(Vec::len), Some(1), "{c}");
    assert_eq!(b["duration_seconds"], 60.0);
    assert_eq!(b["peak_bound_seconds"], BREACH.2);
    assert!(
        b["start"].as_str().is_some_and(|s| s.ends_with(":06:00Z")),
        "{b}"
    );

    // Traceability: two references, half the period each, one change; the
    // probe's worst |offset| and its one contradiction (one 60 s cell).
    let t = &node(&auto, "breach-short")["traceability"];
    let refs = t["references"].as_array().expect("references");
    assert_eq!(refs.len(), 2, "{t}");
    assert_eq!(
        refs[0]["reference"],
        "chrony remote 127.0.0.11 refid 7F00000B"
    );
    assert_eq!(refs[0]["cells"], 15);
    assert_eq!(refs[1]["reference"], "chrony refclock PHC0 refid PHC0");
    assert_eq!(refs[1]["cells"], 15);
    assert_eq!(t["changes"].as_array().map(Vec::len), Some(1));
    assert!(
        t["changes"][0]["at_ms"].as_i64() == Some((base + 960) * 1000),
        "{t}"
    );
    assert_eq!(t["leap"]["0"], 30);
    let p = &t["probes"][0];
    assert_eq!(p["server"], "ntp1");
    assert_eq!(p["worst_abs_offset"], 3e-4);
    assert_eq!(p["cells_contradicted"], 1);
    assert_eq!(p["contradictions"], 1);

    // A Prometheus outage: a gap for the grid, nothing for the counters.
    let g = node(&grid, "prom-gap");
    assert_eq!(g["compliant"], false);
    assert_eq!(secs(g, "unmeasured_seconds"), 300.0, "{g}");
    let c = node(&auto, "prom-gap");
    assert_eq!(c["method"]["name"], "counters");
    assert_eq!(c["compliant"], true, "{c}");
    assert_eq!(secs(c, "within_seconds"), PERIOD as f64);
    assert_eq!(secs(c, "unmeasured_seconds"), 0.0);
    assert!(c["gaps"].as_array().is_some_and(Vec::is_empty), "{c}");

    // A restart: from the last reading before the stop (1192 s) to the
    // restart (1320 s) is unmeasured, exactly.
    let c = node(&auto, "restart");
    assert_eq!(c["method"]["name"], "counters");
    assert_eq!(c["method"]["counters"]["resets"], 1, "{c}");
    assert_eq!(secs(c, "unmeasured_seconds"), 128.0, "{c}");
    assert_eq!(secs(c, "within_seconds"), PERIOD as f64 - 128.0);
    assert_eq!(c["compliant"], false);
    assert!(c["method"]["why"]
        .as_str()
        .is_some_and(|w| w.contains("restart")));

    // Without counters, auto uses the grid and says why.
    let c = node(&auto, "old");
    assert_eq!(c["method"]["name"], "grid");
    assert!(
        c["method"]["why"]
            .as_str()
            .is_some_and(|w| w.contains("no clockwatch_clock_error_bound_time_seconds series")),
        "{c}"
    );
    assert_eq!(c["compliant"], true);

    // Markdown and HTML of the same run carry the method and traceability
    // sections; with CLOCKWATCH_UPDATE_SAMPLES=1 they become the samples.
    let out_dir = common::test_output_dir();
    for format in ["md", "html"] {
        let path = out_dir.join(format!("report-counters.{format}"));
        let o = Command::new(BIN)
            .arg("--prometheus")
            .arg(format!("http://127.0.0.1:{port}"))
            .args([
                "--from",
                &base.to_string(),
                "--to",
                &(base + PERIOD).to_string(),
            ])
            .args(["--tolerance", "250us", "--step", "60s", "--format", format])
            .arg("--output")
            .arg(&path)
            .output()
            .expect("report");
        assert_eq!(
            o.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let text = std::fs::read_to_string(&path).expect("read");
        for want in [
            "Measurement method per node",
            "next lower bucket",
            "Traceability: references followed",
            "chrony refclock PHC0 refid PHC0",
            "Traceability: agreement with the independent server",
        ] {
            assert!(text.contains(want), "{format} lacks {want:?}");
        }
        if std::env::var_os("CLOCKWATCH_UPDATE_SAMPLES").is_some() {
            let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/samples");
            std::fs::copy(&path, samples.join(format!("report-counters.{format}")))
                .expect("copy sample");
        }
    }
}

fn tool(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("run clockwatch-report")
}

fn openssl(args: &[&str]) -> std::process::Output {
    let o = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl");
    assert!(
        o.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn verify_fails(dir: &Path, key: &Path, want: &str) {
    let o = tool(&[
        "verify",
        &dir.to_string_lossy(),
        "--key",
        &key.to_string_lossy(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains(want), "want {want:?} in: {err}");
}

/// A signed bundle from the real report: openssl's keys sign and verify
/// it both ways; each kind of tampering makes verify fail with its message.
#[test]
fn signed_bundle_verifies_and_tampering_fails() {
    if skip_unless(&["prometheus", "promtool", "openssl"], false) {
        return;
    }
    let base = common::hours_ago(3);
    let dir = tempfile::tempdir().expect("tempdir");
    let prometheus = start_prometheus(dir.path(), base);
    let d = |n: &str| dir.path().join(n);
    let s = |p: &Path| p.to_string_lossy().into_owned();
    // A key from openssl, used by the report.
    openssl(&[
        "genpkey",
        "-algorithm",
        "ed25519",
        "-out",
        &s(&d("ossl.key")),
    ]);
    openssl(&[
        "pkey",
        "-in",
        &s(&d("ossl.key")),
        "-pubout",
        "-out",
        &s(&d("ossl.pub")),
    ]);
    let bundle = d("bundle");
    let out = Command::new(BIN)
        .arg("--prometheus")
        .arg(format!("http://127.0.0.1:{}", prometheus.port))
        .args([
            "--from",
            &base.to_string(),
            "--to",
            &(base + PERIOD).to_string(),
        ])
        .args([
            "--tolerance",
            "mifid2-hft",
            "--step",
            "60s",
            "--format",
            "json",
        ])
        .args(["--bundle", &s(&bundle), "--sign-key", &s(&d("ossl.key"))])
        .output()
        .expect("report");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in [
        "report.md",
        "report.html",
        "report.csv",
        "report.json",
        "queries/index.json",
        "MANIFEST",
        "MANIFEST.sig",
        "signer.pub.pem",
    ] {
        assert!(bundle.join(f).is_file(), "{f} missing");
    }
    // One raw answer per query run, byte for byte what Prometheus sent.
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("queries/index.json")).expect("index"))
            .expect("index json");
    let entries = index.as_array().expect("array");
    assert!(entries.len() >= 15, "{}", entries.len());
    let first: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("queries/0001.json")).expect("0001"))
            .expect("raw answer");
    assert_eq!(first["status"], "success");
    assert_eq!(entries[0]["http_status"], 200);
    // sha256sum agrees with the manifest.
    if let Ok(o) = Command::new("sha256sum")
        .args(["-c", "MANIFEST"])
        .current_dir(&bundle)
        .output()
    {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    }
    // openssl verifies our signature with its own public key.
    openssl(&[
        "pkeyutl",
        "-verify",
        "-pubin",
        "-inkey",
        &s(&d("ossl.pub")),
        "-rawin",
        "-in",
        &s(&bundle.join("MANIFEST")),
        "-sigfile",
        &s(&bundle.join("MANIFEST.sig")),
    ]);
    // We verify with openssl's public key.
    let o = tool(&["verify", &s(&bundle), "--key", &s(&d("ossl.pub"))]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("signature valid for the given key"));

    // keygen's keys: openssl reads them and signs; we verify openssl's
    // signature over a manifest.
    let o = tool(&[
        "keygen",
        "--private",
        &s(&d("cw.key")),
        "--public",
        &s(&d("cw.pub")),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = tool(&[
        "keygen",
        "--private",
        &s(&d("cw.key")),
        "--public",
        &s(&d("cw2.pub")),
    ]);
    assert_eq!(o.status.code(), Some(2), "keygen must not overwrite");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(d("cw.key"))
        .expect("key")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let copy = |name: &str| {
        let to = d(name);
        let o = Command::new("cp")
            .args(["-r", &s(&bundle), &s(&to)])
            .output()
            .expect("cp");
        assert!(o.status.success());
        to
    };
    let by_openssl = copy("by-openssl");
    openssl(&[
        "pkeyutl",
        "-sign",
        "-inkey",
        &s(&d("cw.key")),
        "-rawin",
        "-in",
        &s(&by_openssl.join("MANIFEST")),
        "-out",
        &s(&by_openssl.join("MANIFEST.sig")),
    ]);
    let o = tool(&["verify", &s(&by_openssl), "--key", &s(&d("cw.pub"))]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // Tampering, one kind each.
    let t = copy("t-file");
    let mut csv = std::fs::read(t.join("report.csv")).expect("csv");
    csv[40] ^= 1;
    std::fs::write(t.join("report.csv"), csv).expect("write");
    verify_fails(&t, &d("ossl.pub"), "report.csv: SHA-256");

    let t = copy("t-manifest");
    let m = std::fs::read_to_string(t.join("MANIFEST")).expect("manifest");
    let changed: String = m
        .lines()
        .filter(|l| !l.ends_with("queries/0001.json"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(t.join("MANIFEST"), changed).expect("write");
    verify_fails(
        &t,
        &d("ossl.pub"),
        "the signature does not verify over MANIFEST",
    );
    verify_fails(
        &t,
        &d("ossl.pub"),
        "queries/0001.json: present but not listed in MANIFEST",
    );

    let t = copy("t-key");
    verify_fails(
        &t,
        &d("cw.pub"),
        "the signature does not verify over MANIFEST with the key",
    );

    let t = copy("t-sig");
    let mut sig = std::fs::read(t.join("MANIFEST.sig")).expect("sig");
    sig[10] ^= 0x40;
    std::fs::write(t.join("MANIFEST.sig"), sig).expect("write");
    verify_fails(
        &t,
        &d("ossl.pub"),
        "MANIFEST.sig: the signature does not verify",
    );

    let t = copy("t-unsigned");
    std::fs::remove_file(t.join("MANIFEST.sig")).expect("rm");
    verify_fails(&t, &d("ossl.pub"), "the bundle is not signed");

    // A bundle is never written over an existing one.
    let o = Command::new(BIN)
        .arg("--prometheus")
        .arg(format!("http://127.0.0.1:{}", prometheus.port))
        .args([
            "--from",
            &base.to_string(),
            "--to",
            &(base + PERIOD).to_string(),
        ])
        .args([
            "--tolerance",
            "mifid2-hft",
            "--step",
            "60s",
            "--bundle",
            &s(&bundle),
        ])
        .output()
        .expect("report");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not empty"));
    // A report that fails half-way (nothing listens on port 1) leaves no
    // partial bundle behind: the answers it had written are removed.
    let fresh = d("never-written");
    let o = Command::new(BIN)
        .args(["--prometheus", "http://127.0.0.1:1", "--from", "now-1h"])
        .args(["--tolerance", "mifid2-hft", "--bundle", &s(&fresh)])
        .output()
        .expect("report");
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("cannot reach Prometheus"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!fresh.exists(), "a failed report left {}", fresh.display());
}

/// A Prometheus whose scrape configuration names the node
/// `kubernetes_node`: with `--node-label kubernetes_node` the report is the
/// same as with `node`; without it every series is attributed to its
/// `instance` and a warning says so. A label that is not one exits 2 before
/// any query.
#[test]
fn node_label_names_the_label_that_holds_the_node() {
    if skip_unless(&["prometheus", "promtool"], false) {
        return;
    }
    let base = common::hours_ago(3);
    let (plain_dir, renamed_dir) = (
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    );
    let plain = start_prometheus(plain_dir.path(), base);
    let history = openmetrics(base);
    let renamed_history = history.replace(",node=\"", ",kubernetes_node=\"");
    assert_ne!(renamed_history, history);
    let renamed = Prometheus::with_history(renamed_dir.path(), &renamed_history, &[]);

    let (want, _) = report_with(plain.port, base, "auto", &[]);
    let (got, said) = report_with(
        renamed.port,
        base,
        "auto",
        &["--node-label", "kubernetes_node"],
    );
    assert_eq!(got["nodes"], want["nodes"]);
    assert!(!said.contains("without a `"), "{said}");

    let (by_instance, warned) = report_with(renamed.port, base, "auto", &[]);
    assert!(
        warned.contains("without a `node` label were attributed to their `instance`"),
        "{warned}"
    );
    assert!(by_instance["nodes"]
        .as_array()
        .is_some_and(|nodes| nodes.iter().any(|n| n["node"] == "breach-short:9707")));

    for bad in ["1node", "node-name", "__name__", ""] {
        let out = Command::new(BIN)
            .args(["--prometheus", "http://127.0.0.1:1", "--from", "now-1h"])
            .args(["--tolerance", "1ms", "--node-label", bad])
            .output()
            .expect("run clockwatch-report");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {err}");
        assert!(
            err.contains("--node-label") && err.contains("not a label name"),
            "{bad:?}: {err}"
        );
    }
}
