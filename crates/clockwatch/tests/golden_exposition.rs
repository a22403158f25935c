//! The exposition of a fixed snapshot, byte for byte, in both formats.
//! Regenerate with `CLOCKWATCH_UPDATE_GOLDEN=1 cargo test -p clockwatch --test golden_exposition`
//! and review the diff: it is what every dashboard sees.

use std::time::{Duration, UNIX_EPOCH};

use clockwatch::probe::{ProbeFailure, ProbeResult, ProbeSample};

use clockwatch::collect::{
    ChronyView, CollectorName, CollectorOutcome, Failure, PhcReading, PtpInstance, PtpView,
    Snapshot, Source, StepCounts, TimesyncdView,
};
use clockwatch::ptp::sample::{self, NS, T0};
use clockwatch::ptp::{BoundConfig, Now, PtpMemory};
use clockwatch::render::{render_with, BuildInfo, Format};
use clockwatch::sampler::{Accounting, Counters, Sample, DEFAULT_BUCKETS};
use clockwatch::sys::PhcOffset;
use clockwatch::sys::Timex;
use clockwatch::verdict::{assess, Settings};
use cmdmon::{
    Address, LeapStatus, RefId, ServerStats, ServerStatsFormat, SourceData, SourceMode,
    SourceState, SourceStats, Timespec, Tracking,
};
use ptpmgmt::{PortState, Timestamping};

fn snapshot() -> Snapshot {
    let tracking = Tracking {
        ref_id: RefId(0xC000_0201),
        ip_addr: Address::V4([192, 0, 2, 1].into()),
        stratum: 2,
        leap_status: LeapStatus::Normal,
        ref_time: Timespec {
            seconds: 1_800_000_000,
            nanos: 250_000_000,
        },
        current_correction: 1.25e-6,
        last_offset: -2.5e-6,
        rms_offset: 3.0e-6,
        freq_ppm: -12.5,
        resid_freq_ppm: 0.015625,
        skew_ppm: 0.25,
        root_delay: 0.004,
        root_dispersion: 0.0005,
        last_update_interval: 64.0,
    };
    let source = |ip: [u8; 4], name: &str, state, reach, since| Source {
        data: SourceData {
            ip_addr: Address::V4(ip.into()),
            poll: 6,
            stratum: 1,
            state,
            mode: SourceMode::Client,
            flags: 0,
            reachability: reach,
            since_sample: since,
            orig_latest_meas: 2.0e-5,
            latest_meas: 1.875e-5,
            latest_meas_err: 0.001,
        },
        address: Address::V4(ip.into()).to_string(),
        name: name.to_string(),
        stats: Some(SourceStats {
            ref_id: RefId(u32::from_be_bytes(ip)),
            ip_addr: Address::V4(ip.into()),
            n_samples: 12,
            n_runs: 7,
            span_seconds: 700,
            std_dev: 5.0e-5,
            resid_freq_ppm: 0.125,
            skew_ppm: 0.5,
            est_offset: -1.0e-5,
            est_offset_err: 2.0e-5,
        }),
        ntp: None,
    };
    let ok = |name, micros| CollectorOutcome {
        name,
        success: true,
        duration: Duration::from_micros(micros),
        error: None,
    };
    Snapshot {
        system_time: 1_800_000_010.5,
        chrony_disabled: false,
        chrony: ChronyView {
            up: true,
            error: None,
            transport: None,
            tracking: Some(tracking),
            sources: vec![
                source(
                    [192, 0, 2, 1],
                    "time-a.example.net",
                    SourceState::Selected,
                    0o377,
                    12,
                ),
                source(
                    [198, 51, 100, 7],
                    "ntp \"quoted\" \\ name",
                    SourceState::NonSelectable,
                    0,
                    u32::MAX,
                ),
            ],
            server_stats: Some(ServerStats {
                format: ServerStatsFormat::V1,
                ntp_hits: 1,
                cmd_hits: 42,
                ..Default::default()
            }),
        },
        timex: Some(Timex {
            state: 0,
            status: 0x2001,
            offset_seconds: -1.5e-7,
            frequency_ratio: -1.25e-5,
            maxerror_seconds: 0.0125,
            esterror_seconds: 0.0,
            constant: 2,
            precision_seconds: 1e-6,
            tick_seconds: 0.01,
            tai_offset_seconds: 37,
        }),
        steps: Some(StepCounts {
            total: 3,
            last_step_seconds: -0.5,
        }),
        probes: vec![
            // The node 2 ms ahead ± 1.5 ms, against a bound of 2.5 ms:
            // consistent.
            ProbeResult {
                server: "ntp1.example.net:123".into(),
                address: Some("[2001:db8::123]:123".parse().expect("address")),
                sample: Some(ProbeSample {
                    offset: 0.002,
                    delay: 0.001,
                    stratum: 1,
                    root_distance: 0.001,
                    uncertainty: 0.0015,
                    valid: 4,
                    completed: 4,
                }),
                failure: None,
                last_success: Some(UNIX_EPOCH + Duration::from_secs(1_800_000_000)),
                rounds: 12,
                interval: Duration::from_secs(64),
                stopped: false,
            },
            ProbeResult {
                server: "ntp2.example.net:123".into(),
                address: None,
                sample: None,
                failure: Some(ProbeFailure {
                    kind: "kiss_deny",
                    message: "Kiss-o'-Death DENY".into(),
                }),
                last_success: None,
                rounds: 1,
                interval: Duration::from_secs(64),
                stopped: true,
            },
        ],
        ptp: None,
        timesyncd: None,
        timezone: None,
        collectors: vec![
            ok(CollectorName::Tracking, 120),
            ok(CollectorName::Sources, 250),
            ok(CollectorName::Sourcestats, 125),
            CollectorOutcome {
                name: CollectorName::Serverstats,
                success: false,
                duration: Duration::from_micros(5),
                error: Some("x".into()),
            },
            ok(CollectorName::Timex, 2),
            ok(CollectorName::Steps, 1),
        ],
    }
}

/// A PTP node (`--chrony.address=none --ptp.socket ... --ptp.phc
/// /dev/ptp0`): a slave with hardware timestamping, one port SLAVE and one
/// LISTENING, phc2sys keeping the system clock 1.5 µs off the PHC; a second
/// ptp4l instance that does not answer.
fn ptp_snapshot() -> Snapshot {
    let mut report = sample::report(PortState::Slave);
    report.socket = "/var/run/ptp4lro".into();
    report.default_ds.number_ports = 2;
    report.ports = vec![
        sample::port(1, PortState::Slave, Timestamping::Hardware),
        sample::port(2, PortState::Listening, Timestamping::Hardware),
    ];
    // The PHC keeps TAI: the ingress time is 37 s ahead of UTC.
    report.time_status.ingress_time = (T0 + 37 * NS) as i64;
    report.time_properties_ds.time_traceable = false;
    let ok = |name, micros| CollectorOutcome {
        name,
        success: true,
        duration: Duration::from_micros(micros),
        error: None,
    };
    let dead = "nothing is listening at /var/run/ptp4l-b: ptp4l is not running (the socket file is left from an earlier run)";
    Snapshot {
        system_time: (T0 as f64 + 0.5e9) * 1e-9,
        chrony_disabled: true,
        chrony: ChronyView::default(),
        timex: None,
        steps: None,
        probes: Vec::new(),
        ptp: Some(PtpView {
            instances: vec![
                PtpInstance {
                    socket: "/var/run/ptp4lro".into(),
                    report: Ok(report),
                    memory: PtpMemory::default(),
                },
                PtpInstance {
                    socket: "/var/run/ptp4l-b".into(),
                    report: Err(Failure {
                        kind: "not_listening",
                        message: dead.into(),
                    }),
                    memory: PtpMemory::default(),
                },
            ],
            phc: Some(PhcReading {
                device: "/dev/ptp0".into(),
                result: Ok(PhcOffset {
                    phc_minus_sys_ns: 37 * NS + 1500,
                    window_ns: 800,
                }),
            }),
            now: Now {
                monotonic: Duration::from_secs(600),
                realtime_ns: T0 + 500_000_000,
            },
            config: BoundConfig::default(),
        }),
        timesyncd: None,
        timezone: None,
        collectors: vec![
            CollectorOutcome {
                name: CollectorName::Ptp,
                success: false,
                duration: Duration::from_micros(900),
                error: Some(dead.into()),
            },
            ok(CollectorName::Phc, 12),
        ],
    }
}

/// The sampler's counters after a fixed sequence, as `serve` exports them:
/// 10 s synchronized at 2 µs, the 2 s around one 30 ms sample, 1 s stale,
/// a 5 s stall (unknown, and +Inf in the window's peak).
fn counters() -> Counters {
    use clockwatch::verdict::SyncState::{Stale, Synchronized};
    let mut a = Accounting::new(
        Duration::from_secs(1),
        Duration::from_secs(60),
        DEFAULT_BUCKETS.to_vec(),
    );
    let mut seq: Vec<(u64, _, f64)> = (0..=10).map(|t| (t, Synchronized, 2e-6)).collect();
    seq.extend([
        (11, Synchronized, 0.03),
        (12, Synchronized, 2e-6),
        (13, Stale, 2e-6),
        (18, Synchronized, 2e-6),
    ]);
    for (at, state, bound) in seq {
        a.observe(Sample {
            at: Duration::from_secs(at),
            state,
            bound,
        });
    }
    a.counters().clone()
}

fn check(format: Format, file: &str) {
    check_snapshot(snapshot(), format, file);
}

fn check_snapshot(snap: Snapshot, format: Format, file: &str) {
    let verdict = assess(&snap, &Settings::default());
    let build = BuildInfo {
        version: "0.1.0".into(),
        revision: "golden".into(),
    };
    let text = render_with(&snap, &verdict, Some(&counters()), &build, format);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(file);
    if std::env::var_os("CLOCKWATCH_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &text).expect("write golden");
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(text, want, "exposition differs from {file}");
}

/// A timesyncd node (named bus), 10 s after a sample from 127.0.0.2 (a
/// chronyd on its local clock: not traceable), 30 µs still to slew.
fn timesyncd_snapshot() -> Snapshot {
    use clockwatch::timesyncd::{NtpMessage, ServerAddress, Status};
    let t4: u64 = 1_800_000_000_000_000;
    Snapshot {
        system_time: 1_800_000_010.0,
        chrony_disabled: true,
        chrony: ChronyView::default(),
        timex: None,
        steps: None,
        probes: Vec::new(),
        ptp: None,
        timesyncd: Some(TimesyncdView {
            bus: "unix:path=/run/dbus/system_bus_socket".into(),
            detect: false,
            result: Ok(Status {
                server_name: "ntp.example.internal".into(),
                server_address: ServerAddress {
                    family: 2,
                    bytes: vec![127, 0, 0, 2],
                },
                poll_interval_usec: 64_000_000,
                poll_interval_min_usec: 32_000_000,
                poll_interval_max_usec: 2_048_000_000,
                root_distance_max_usec: 5_000_000,
                frequency: -1_234_567,
                ntp_message: NtpMessage {
                    leap: 0,
                    version: 4,
                    mode: 4,
                    stratum: 10,
                    precision: -25,
                    root_delay_usec: 0,
                    root_dispersion_usec: 15,
                    reference_id: [127, 127, 1, 1],
                    origin_usec: t4 - 400,
                    receive_usec: t4 - 100,
                    transmit_usec: t4 - 90,
                    destination_usec: t4,
                    spike: false,
                    packet_count: 12,
                    jitter_usec: 7,
                },
            }),
            kernel_offset_seconds: Some(30e-6),
            kernel_error: None,
            now_unix_seconds: 1_800_000_010.0,
            params: Default::default(),
        }),
        timezone: Some(clockwatch::nodefacts::Timezone {
            name: "CET-1CEST,M3.5.0,M10.5.0/3".into(),
            source: clockwatch::nodefacts::TimezoneSource::TzifFooter,
        }),
        collectors: vec![CollectorOutcome {
            name: CollectorName::Timesyncd,
            success: true,
            duration: Duration::from_micros(900),
            error: None,
        }],
    }
}

#[test]
fn timesyncd_prometheus_text_format() {
    check_snapshot(
        timesyncd_snapshot(),
        Format::Prometheus,
        "exposition-timesyncd.prom",
    );
}

#[test]
fn timesyncd_openmetrics_format() {
    check_snapshot(
        timesyncd_snapshot(),
        Format::OpenMetrics,
        "exposition-timesyncd.om",
    );
}

#[test]
fn prometheus_text_format() {
    check(Format::Prometheus, "exposition.prom");
}

#[test]
fn openmetrics_format() {
    check(Format::OpenMetrics, "exposition.om");
}

#[test]
fn ptp_prometheus_text_format() {
    check_snapshot(ptp_snapshot(), Format::Prometheus, "exposition-ptp.prom");
}

#[test]
fn ptp_openmetrics_format() {
    check_snapshot(ptp_snapshot(), Format::OpenMetrics, "exposition-ptp.om");
}

/// Every line of the text-format files is well formed (the tests' strict
/// parser), and every sample's family has its HELP and TYPE.
#[test]
fn golden_text_files_parse_strictly() {
    for file in [
        "exposition.prom",
        "exposition-ptp.prom",
        "exposition-timesyncd.prom",
    ] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden")
            .join(file);
        let text = std::fs::read_to_string(&path).expect("golden");
        let parsed = clockwatch_testkit::Exposition::try_parse(&text)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(
            parsed.samples.len() > 50,
            "{file}: {} samples",
            parsed.samples.len()
        );
        for sample in &parsed.samples {
            let family = parsed.family(&sample.name);
            assert!(
                family.is_some_and(|f| f.help.is_some() && f.kind.is_some()),
                "{file}: {} without HELP and TYPE",
                sample.name
            );
        }
    }
}

#[test]
fn golden_passes_promtool() {
    let Some(promtool) = ["/usr/bin/promtool", "/usr/local/bin/promtool"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        eprintln!("\n*** SKIP: promtool not installed ***\n");
        return;
    };
    for file in [
        "exposition.prom",
        "exposition-ptp.prom",
        "exposition-timesyncd.prom",
    ] {
        promtool_check(promtool, file);
    }
}

fn promtool_check(promtool: &str, file: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(file);
    let out = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(path).expect("golden"))
        .output()
        .expect("promtool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let unexpected: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("chrony_clock_error_ms metric names"))
        .collect();
    assert!(unexpected.is_empty(), "{text}");
}
