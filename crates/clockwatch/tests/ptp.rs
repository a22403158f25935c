//! The ptp4l client and the PTP bound against real ptp4l (a grandmaster and
//! a free-running slave in two network namespaces, see common/ptp.rs), every
//! decoded field compared with `pmc` of the same daemon; and against a fake
//! management peer for what a real one cannot produce (malformed TLVs,
//! wrong sequence ids, silence).
//!
//! linuxptp 4.x (scripts/build-linuxptp.sh) reaches SLAVE while free
//! running once SYNCHRONIZATION_UNCERTAIN_NP is cleared; bookworm's 3.1.1
//! stays UNCALIBRATED. Without root or the tools the real-daemon tests skip
//! loudly (and fail under CI=true); the fake-peer tests need neither.

mod common;

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clockwatch::ptp::{
    assess, BoundConfig, Now, PtpAssessment, PtpClient, PtpMemory, PtpReport, PtpState,
    ReplySocket, UnsyncReason,
};
use common::ptp::{
    block_on, collect, wait_for, Bench, Linuxptp, PmcAnswer, Ptp4l, Role, VethPair, TIMEOUT,
};
use common::{Clockwatch, Exposition};
use ptpmgmt::{
    ClockAccuracy, ClockIdentity, ClockQuality, CurrentDataSet, Dataset, DefaultDataSet,
    DelayMechanism, GetRequest, Header, ManagementErrorId, ManagementErrorStatus, ManagementId,
    ParentDataSet, PortDataSet, PortIdentity, PortPropertiesNp, PortState, Response, ResponseBody,
    TimeInterval, TimePropertiesDataSet, TimeSource, TimeStatusNp, Timestamping,
};
use std::process::Command;

fn now() -> Now {
    static START: OnceLock<Instant> = OnceLock::new();
    let start = *START.get_or_init(Instant::now);
    Now {
        monotonic: Duration::from_secs(1000) + start.elapsed(),
        realtime_ns: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_nanos() as i128,
    }
}

// ---- real ptp4l ------------------------------------------------------------

const ALL_GETS: [&str; 7] = [
    "GET DEFAULT_DATA_SET",
    "GET CURRENT_DATA_SET",
    "GET PARENT_DATA_SET",
    "GET TIME_PROPERTIES_DATA_SET",
    "GET TIME_STATUS_NP",
    "GET PORT_DATA_SET",
    "GET PORT_PROPERTIES_NP",
];

/// A collection and pmc's answers of the same moment: pmc before and after
/// saw the same measurement (ingress time) as the collection, so the
/// measured values must be equal, not just close.
fn collect_with_pmc(p: &Ptp4l, client: &PtpClient) -> (PtpReport, Vec<PmcAnswer>) {
    let ingress = |answers: &[PmcAnswer]| {
        answers
            .iter()
            .find(|a| a.id == "TIME_STATUS_NP")
            .map(|a| a.get("ingress_time").to_string())
    };
    // The mean path delay changes with each delay response, between syncs:
    // the current dataset must not change either.
    let current =
        |answers: &[PmcAnswer]| answers.iter().find(|a| a.id == "CURRENT_DATA_SET").cloned();
    for _ in 0..20 {
        let before = p.pmc(&ALL_GETS);
        let report = collect(client).expect("collect");
        let after = p.pmc(&["GET TIME_STATUS_NP", "GET CURRENT_DATA_SET"]);
        let ours = Some(report.time_status.ingress_time.to_string());
        if ingress(&before) == ours
            && ingress(&after) == ours
            && current(&before) == current(&after)
        {
            return (report, before);
        }
    }
    panic!("no collection saw the same measurement as pmc in 20 tries");
}

fn pmc_answer<'a>(answers: &'a [PmcAnswer], id: &str, source: &str) -> &'a PmcAnswer {
    answers
        .iter()
        .find(|a| a.id == id && a.source == source)
        .unwrap_or_else(|| panic!("pmc gave no {id} from {source}: {answers:?}"))
}

fn flag(b: bool) -> String {
    u8::from(b).to_string()
}

fn check(answer: &PmcAnswer, expected: &[(&str, String)]) {
    for (field, value) in expected {
        assert_eq!(
            answer.get(field),
            value,
            "{} {field}: pmc says {:?}, clockwatch decoded {value:?}",
            answer.id,
            answer.get(field)
        );
    }
    assert_eq!(
        answer.fields.len(),
        expected.len(),
        "{}: pmc prints fields clockwatch did not compare: {:?}",
        answer.id,
        answer.fields.keys().collect::<Vec<_>>()
    );
}

/// Every field clockwatch decodes, in pmc's formats, against pmc's output.
fn assert_matches_pmc(r: &PtpReport, answers: &[PmcAnswer]) {
    let clock = format!("{}-0", r.default_ds.clock_identity);
    let d = &r.default_ds;
    let q = &d.clock_quality;
    check(
        pmc_answer(answers, "DEFAULT_DATA_SET", &clock),
        &[
            ("twoStepFlag", flag(d.two_step)),
            ("slaveOnly", flag(d.slave_only)),
            ("numberPorts", d.number_ports.to_string()),
            ("priority1", d.priority1.to_string()),
            ("clockClass", q.clock_class.to_string()),
            ("clockAccuracy", format!("{:#04x}", q.clock_accuracy.0)),
            (
                "offsetScaledLogVariance",
                format!("{:#06x}", q.offset_scaled_log_variance),
            ),
            ("priority2", d.priority2.to_string()),
            ("clockIdentity", d.clock_identity.to_string()),
            ("domainNumber", d.domain_number.to_string()),
        ],
    );
    let c = &r.current_ds;
    check(
        pmc_answer(answers, "CURRENT_DATA_SET", &clock),
        &[
            ("stepsRemoved", c.steps_removed.to_string()),
            (
                "offsetFromMaster",
                format!("{:.1}", c.offset_from_master.nanoseconds()),
            ),
            (
                "meanPathDelay",
                format!("{:.1}", c.mean_path_delay.nanoseconds()),
            ),
        ],
    );
    let p = &r.parent_ds;
    let gq = &p.grandmaster_clock_quality;
    check(
        pmc_answer(answers, "PARENT_DATA_SET", &clock),
        &[
            ("parentPortIdentity", p.parent_port_identity.to_string()),
            ("parentStats", flag(p.parent_stats)),
            (
                "observedParentOffsetScaledLogVariance",
                format!("{:#06x}", p.observed_parent_offset_scaled_log_variance),
            ),
            (
                "observedParentClockPhaseChangeRate",
                format!("{:#010x}", p.observed_parent_clock_phase_change_rate),
            ),
            ("grandmasterPriority1", p.grandmaster_priority1.to_string()),
            ("gm.ClockClass", gq.clock_class.to_string()),
            ("gm.ClockAccuracy", format!("{:#04x}", gq.clock_accuracy.0)),
            (
                "gm.OffsetScaledLogVariance",
                format!("{:#06x}", gq.offset_scaled_log_variance),
            ),
            ("grandmasterPriority2", p.grandmaster_priority2.to_string()),
            ("grandmasterIdentity", p.grandmaster_identity.to_string()),
        ],
    );
    let t = &r.time_properties_ds;
    check(
        pmc_answer(answers, "TIME_PROPERTIES_DATA_SET", &clock),
        &[
            ("currentUtcOffset", t.current_utc_offset.to_string()),
            ("leap61", flag(t.leap61)),
            ("leap59", flag(t.leap59)),
            ("currentUtcOffsetValid", flag(t.current_utc_offset_valid)),
            ("ptpTimescale", flag(t.ptp_timescale)),
            ("timeTraceable", flag(t.time_traceable)),
            ("frequencyTraceable", flag(t.frequency_traceable)),
            ("timeSource", format!("{:#04x}", t.time_source.to_wire())),
        ],
    );
    let s = &r.time_status;
    let phase = &s.last_gm_phase_change;
    check(
        pmc_answer(answers, "TIME_STATUS_NP", &clock),
        &[
            ("master_offset", s.master_offset.to_string()),
            ("ingress_time", s.ingress_time.to_string()),
            (
                "cumulativeScaledRateOffset",
                format!("{:+.9}", s.rate_offset()),
            ),
            (
                "scaledLastGmPhaseChange",
                s.scaled_last_gm_phase_change.to_string(),
            ),
            ("gmTimeBaseIndicator", s.gm_time_base_indicator.to_string()),
            (
                "lastGmPhaseChange",
                format!(
                    "{:#06x}'{:016x}.{:04x}",
                    phase.nanoseconds_msb, phase.nanoseconds_lsb, phase.fractional_nanoseconds
                ),
            ),
            ("gmPresent", s.gm_present.to_string()),
            ("gmIdentity", s.gm_identity.to_string()),
        ],
    );
    let port_answers = answers.iter().filter(|a| a.id == "PORT_DATA_SET").count();
    assert_eq!(
        port_answers,
        r.ports.len(),
        "pmc and clockwatch saw as many ports"
    );
    assert_eq!(r.ports.len(), usize::from(d.number_ports));
    for port in &r.ports {
        let ds = &port.data_set;
        let source = ds.port_identity.to_string();
        check(
            pmc_answer(answers, "PORT_DATA_SET", &source),
            &[
                ("portIdentity", ds.port_identity.to_string()),
                ("portState", ds.port_state.to_string()),
                (
                    "logMinDelayReqInterval",
                    ds.log_min_delay_req_interval.to_string(),
                ),
                // pmc prints whole nanoseconds.
                (
                    "peerMeanPathDelay",
                    (ds.peer_mean_path_delay.0 >> 16).to_string(),
                ),
                ("logAnnounceInterval", ds.log_announce_interval.to_string()),
                (
                    "announceReceiptTimeout",
                    ds.announce_receipt_timeout.to_string(),
                ),
                ("logSyncInterval", ds.log_sync_interval.to_string()),
                ("delayMechanism", ds.delay_mechanism.to_wire().to_string()),
                (
                    "logMinPdelayReqInterval",
                    ds.log_min_pdelay_req_interval.to_string(),
                ),
                ("versionNumber", ds.version_number.to_string()),
            ],
        );
        let props = port
            .properties
            .as_ref()
            .expect("PORT_PROPERTIES_NP answered");
        check(
            pmc_answer(answers, "PORT_PROPERTIES_NP", &source),
            &[
                ("portIdentity", props.port_identity.to_string()),
                ("portState", props.port_state.to_string()),
                ("timestamping", props.timestamping.to_string()),
                ("interface", props.interface.clone()),
            ],
        );
    }
}

/// pmc's value of a TimeInterval field, in seconds.
fn pmc_seconds(answer: &PmcAnswer, field: &str) -> f64 {
    answer
        .get(field)
        .parse::<f64>()
        .unwrap_or_else(|e| panic!("pmc {field}: {e}"))
        * 1e-9
}

#[test]
fn v4_slave_synchronizes_and_every_field_matches_pmc() {
    let Some(linuxptp) = Linuxptp::v4() else {
        return;
    };
    let bench = Bench::start(&linuxptp, 2);
    bench.wait_measuring();
    let first = bench.wait_slave();
    assert_eq!(first.ports.len(), 2, "both slave ports answer");
    let client = bench.client(&bench.slave.socket);

    let (report, answers) = collect_with_pmc(&bench.slave, &client);
    assert_matches_pmc(&report, &answers);
    let slave_port = report.slave_port().expect("a SLAVE port");
    assert_eq!(slave_port.interface(), Some("cwsl0"));
    assert_eq!(
        report.ports[1].state(),
        PortState::Listening,
        "cwsl1 hears no master"
    );
    assert_eq!(report.ports[1].interface(), Some("cwsl1"));
    assert_eq!(
        slave_port.properties.as_ref().map(|p| p.timestamping),
        Some(Timestamping::Software)
    );

    // The bound from pmc's own numbers: |offset| + mean path delay + the
    // grandmaster's stated 100 ns (clockAccuracy 0x21 in its config).
    let current = pmc_answer(
        &answers,
        "CURRENT_DATA_SET",
        &format!("{}-0", report.default_ds.clock_identity),
    );
    let expected = pmc_seconds(current, "offsetFromMaster").abs()
        + pmc_seconds(current, "meanPathDelay")
        + 100e-9;
    let a = assess(
        Some(&report),
        None,
        now(),
        &PtpMemory::default(),
        &BoundConfig::default(),
    );
    assert_eq!(a.state, PtpState::Synchronized, "{a:?}");
    assert!(
        (a.bound_seconds - expected).abs() < 1e-10,
        "bound {} vs pmc's {expected}",
        a.bound_seconds
    );
    assert!(a.covers_system_clock, "software timestamping");
    let age = a.measurement_age_seconds.expect("software timestamps age");
    assert!((0.0..2.0).contains(&age), "a sync a second: {age}");
    let t = a.traceability.expect("traceability");
    assert_eq!((t.clock_class, t.clock_accuracy), (6, ClockAccuracy(0x21)));
    assert_eq!(t.steps_removed, 1);
    assert!(
        !t.time_traceable,
        "linuxptp's default grandmaster is not traceable"
    );

    // The grandmaster's own view: it serves, it follows nobody.
    let gm_client = bench.client(&bench.gm.socket);
    let (gm_report, gm_answers) = collect_with_pmc(&bench.gm, &gm_client);
    assert_matches_pmc(&gm_report, &gm_answers);
    assert!(gm_report.is_grandmaster());
    assert_eq!(gm_report.ports[0].state(), PortState::Master);
    let a = assess(
        Some(&gm_report),
        None,
        now(),
        &PtpMemory::default(),
        &BoundConfig::default(),
    );
    assert_eq!(
        (a.state, a.reason),
        (PtpState::Unsynchronized, Some(UnsyncReason::IsGrandmaster))
    );
    assert_eq!(
        gm_report.default_ds.clock_identity,
        report.parent_ds.grandmaster_identity
    );

    // The grandmaster declares itself traceable: the flags reach the
    // slave with the next announce.
    bench.gm.pmc(&[
        "SET GRANDMASTER_SETTINGS_NP clockClass 6 clockAccuracy 0x21 \
         offsetScaledLogVariance 0x4e5d currentUtcOffset 37 leap61 0 leap59 0 \
         currentUtcOffsetValid 1 ptpTimescale 0 timeTraceable 1 frequencyTraceable 1 \
         timeSource 0x20",
    ]);
    wait_for(
        Duration::from_secs(15),
        "traceable flags at the slave",
        || collect(&client).is_ok_and(|r| r.time_properties_ds.time_traceable),
    );
    let (report, answers) = collect_with_pmc(&bench.slave, &client);
    assert_matches_pmc(&report, &answers);
    let tp = &report.time_properties_ds;
    assert!(tp.frequency_traceable && tp.current_utc_offset_valid);
    assert_eq!(tp.time_source, TimeSource::Gnss);
    let a = assess(
        Some(&report),
        None,
        now(),
        &PtpMemory::default(),
        &BoundConfig::default(),
    );
    assert!(a.traceability.is_some_and(|t| t.time_traceable));

    // The read-only socket answers the same clock; two collections at
    // once do not mix their answers.
    let ro = bench
        .slave
        .ro_socket
        .clone()
        .expect("linuxptp 4.x has a read-only socket");
    let ro_client = bench.client(&ro);
    let (a, b) = block_on(async { tokio::join!(ro_client.collect(), client.collect()) });
    let (a, b) = (a.expect("read-only socket"), b.expect("read-write socket"));
    assert_eq!(a.default_ds, b.default_ds);
    assert_eq!((a.discarded, b.discarded), (0, 0));
    bench.drop_check_no_reply_sockets();
}

#[test]
fn v4_grandmaster_loss_goes_holdover_then_unsynchronized() {
    let Some(linuxptp) = Linuxptp::v4() else {
        return;
    };
    let mut bench = Bench::start(&linuxptp, 1);
    bench.wait_measuring();
    bench.wait_slave();
    let client = bench.client(&bench.slave.socket);
    let config = BoundConfig {
        holdover_limit: Duration::from_secs(12),
        holdover_drift: 1e-6,
        ..BoundConfig::default()
    };
    let mut memory = PtpMemory::default();
    let assess_now = |memory: &mut PtpMemory| -> (PtpAssessment, PtpReport) {
        let report = collect(&client).expect("the slave answers");
        let at = now();
        let a = assess(Some(&report), None, at, memory, &config);
        *memory = memory.after(Some(&report), None, at, &config);
        (a, report)
    };
    let (synced, _) = assess_now(&mut memory);
    assert_eq!(synced.state, PtpState::Synchronized, "{synced:?}");

    bench.gm.stop();
    let lost_at = Instant::now();
    let mut holdover: Vec<PtpAssessment> = Vec::new();
    let unsynchronized = loop {
        assert!(
            lost_at.elapsed() < Duration::from_secs(40),
            "never unsynchronised: {holdover:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
        let (a, report) = assess_now(&mut memory);
        match a.state {
            PtpState::Synchronized => {
                assert!(
                    holdover.is_empty(),
                    "synchronised again after holdover: {a:?}"
                );
            }
            PtpState::Holdover => {
                // ptp4l itself says so: no SLAVE port, or no grandmaster.
                let pmc_state = bench
                    .slave
                    .pmc_get("PORT_DATA_SET")
                    .get("portState")
                    .to_string();
                assert!(
                    report.slave_port().is_none()
                        || !report.time_status.gm_present
                        || matches!(a.reason, Some(UnsyncReason::Stale { .. })),
                    "{a:?}"
                );
                assert!(
                    pmc_state == "LISTENING" || pmc_state == "SLAVE",
                    "{pmc_state}"
                );
                holdover.push(a);
            }
            PtpState::Unsynchronized => break a,
            PtpState::Unknown => panic!("the slave stopped answering: {a:?}"),
        }
    };
    assert!(
        !holdover.is_empty(),
        "no holdover between synchronised and unsynchronised"
    );
    // The holdover bound starts at the last good sample's and grows.
    let first = &holdover[0];
    assert!(first.bound_seconds >= synced.bound_seconds - 1e-12);
    for pair in holdover.windows(2) {
        assert!(pair[1].bound_seconds > pair[0].bound_seconds, "{pair:?}");
        assert!(pair[1].holdover_seconds > pair[0].holdover_seconds);
    }
    let last = holdover.last().expect("holdover");
    let held = last.holdover_seconds.expect("holdover time");
    assert!(held <= 12.0 && held > 6.0, "held {held} s of a 12 s limit");
    assert_eq!(unsynchronized.bound_seconds, f64::INFINITY);
    assert_eq!(
        unsynchronized.reason,
        Some(UnsyncReason::NoSlavePort(Some(PortState::Listening))),
        "{unsynchronized:?}"
    );
    bench.drop_check_no_reply_sockets();
}

#[test]
fn v3_free_running_slave_stays_uncalibrated_and_every_field_matches_pmc() {
    let Some(linuxptp) = Linuxptp::packaged() else {
        return;
    };
    let bench = Bench::start(&linuxptp, 1);
    bench.wait_measuring();
    let client = bench.client(&bench.slave.socket);
    // It measures, and never locks: every collection for 6 s says so.
    let until = Instant::now() + Duration::from_secs(6);
    let mut memory = PtpMemory::default();
    while Instant::now() < until {
        let report = collect(&client).expect("collect");
        assert_eq!(
            report.ports[0].state(),
            PortState::Uncalibrated,
            "{report:?}"
        );
        let at = now();
        let a = assess(Some(&report), None, at, &memory, &BoundConfig::default());
        memory = memory.after(Some(&report), None, at, &BoundConfig::default());
        assert_eq!(a.state, PtpState::Unsynchronized);
        assert_eq!(
            a.reason,
            Some(UnsyncReason::NoSlavePort(Some(PortState::Uncalibrated)))
        );
        assert_eq!(a.bound_seconds, f64::INFINITY);
        std::thread::sleep(Duration::from_millis(500));
    }
    let (report, answers) = collect_with_pmc(&bench.slave, &client);
    assert_matches_pmc(&report, &answers);
    assert!(report.time_status.gm_present);
    let gm_client = bench.client(&bench.gm.socket);
    let (gm_report, gm_answers) = collect_with_pmc(&bench.gm, &gm_client);
    assert_matches_pmc(&gm_report, &gm_answers);
    assert_eq!(
        report.parent_ds.grandmaster_identity,
        gm_report.default_ds.clock_identity
    );
    assert_eq!(report.ports[0].interface(), Some("cwsl0"));
    bench.drop_check_no_reply_sockets();
}

/// The environment variable that makes [`abstract_socket_child`] run.
const CHILD_SOCKET: &str = "CLOCKWATCH_PTP_CHILD_SOCKET";

#[test]
fn abstract_reply_socket_works_only_in_ptp4l_network_namespace() {
    let Some(linuxptp) = Linuxptp::packaged().or_else(Linuxptp::v4) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let pair = VethPair::new(1);
    let gm = Ptp4l::start(
        &linuxptp,
        &pair.gm,
        Role::Grandmaster,
        &["cwgm0"],
        dir.path(),
        "gm",
    );

    // From here (another network namespace) ptp4l's answer to an abstract
    // name goes nowhere: a timeout, at the timeout.
    let started = Instant::now();
    let err = collect(&PtpClient::new(&gm.socket, Duration::from_millis(300)))
        .expect_err("ptp4l cannot reach an abstract name in another namespace");
    assert_eq!(err.kind(), "timeout", "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));

    // This test binary again, inside ptp4l's namespace.
    let out = pair
        .gm
        .command(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "abstract_socket_child",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_SOCKET, &gm.socket)
        .output()
        .expect("run the child");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let identity = gm
        .pmc_get("DEFAULT_DATA_SET")
        .get("clockIdentity")
        .to_string();
    assert!(
        text.contains(&format!("abstract child read clock {identity}")),
        "{text}"
    );
}

#[test]
#[ignore = "run by abstract_reply_socket_works_only_in_ptp4l_network_namespace, inside ptp4l's namespace"]
fn abstract_socket_child() {
    let Some(socket) = std::env::var_os(CHILD_SOCKET) else {
        common::ptp::skip("abstract_socket_child runs only inside its parent test");
        return;
    };
    let report = collect(&PtpClient::new(PathBuf::from(socket), TIMEOUT)).expect("collect");
    println!(
        "abstract child read clock {}",
        report.default_ds.clock_identity
    );
}

// ---- clockwatch serve, status and check against real ptp4l -----------------

/// The flags of a clockwatch that reads `socket` and nothing of chronyd,
/// replying through a socket file in the test's directory (ptp4l runs in
/// another network namespace).
fn ptp_flags(bench: &Bench, socket: &std::path::Path, extra: &[&str]) -> Vec<String> {
    let mut flags = vec![
        "--chrony.address=none".to_string(),
        format!("--ptp.socket={}", socket.display()),
        format!("--ptp.reply-dir={}", bench.dir.path().display()),
        "--ptp.timeout=2s".to_string(),
    ];
    flags.extend(extra.iter().map(|s| s.to_string()));
    flags
}

fn serve(flags: &[String]) -> Clockwatch {
    let args: Vec<&str> = flags.iter().map(String::as_str).collect();
    Clockwatch::start(&args)
}

/// A one-shot `clockwatch COMMAND FLAGS...`: exit code and stdout.
fn oneshot(command: &[&str], flags: &[String]) -> (i32, String) {
    let out = Command::new(common::BIN)
        .args(command)
        .args(flags)
        .output()
        .expect("run clockwatch");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn status_json(flags: &[String]) -> serde_json::Value {
    let (code, out) = oneshot(&["status", "--json"], flags);
    assert!(code == 0 || code == 1, "status --json exited {code}: {out}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("status --json: {e}\n{out}"))
}

/// A scrape and pmc's answers of the same moment (the same ingress time
/// before and after), as [`collect_with_pmc`] does for a collection.
fn scrape_with_pmc(p: &Ptp4l, cw: &Clockwatch, socket: &str) -> (Exposition, Vec<PmcAnswer>) {
    let selector = format!("socket=\"{socket}\"");
    let ingress = |answers: &[PmcAnswer]| -> Option<f64> {
        answers
            .iter()
            .find(|a| a.id == "TIME_STATUS_NP")
            .and_then(|a| a.get("ingress_time").parse::<f64>().ok())
            .map(|ns| ns / 1e9)
    };
    let same = |a: Option<f64>, b: Option<f64>| matches!((a, b), (Some(a), Some(b)) if (a - b).abs() < 1e-6);
    // The mean path delay changes with each delay response, between syncs:
    // the current dataset must not change either.
    let current =
        |answers: &[PmcAnswer]| answers.iter().find(|a| a.id == "CURRENT_DATA_SET").cloned();
    for _ in 0..20 {
        let before = p.pmc(&ALL_GETS);
        let m = cw.metrics();
        let after = p.pmc(&["GET TIME_STATUS_NP", "GET CURRENT_DATA_SET"]);
        let ours = m.get("clockwatch_ptp_ingress_timestamp_seconds", &selector);
        if same(ingress(&before), ours)
            && same(ingress(&after), ours)
            && current(&before) == current(&after)
        {
            return (m, before);
        }
    }
    panic!("no scrape saw the same measurement as pmc in 20 tries");
}

fn close_to(a: f64, b: f64, tolerance: f64) -> bool {
    (a - b).abs() <= tolerance
}

/// Every clockwatch_ptp_* series clockwatch exports for `socket` against
/// pmc's answers of the same moment; fails on a series it did not compare.
fn assert_exported_matches_pmc(m: &Exposition, answers: &[PmcAnswer], socket: &str) {
    let selector = format!("socket=\"{socket}\"");
    let clock_answer = answers
        .iter()
        .find(|a| a.id == "DEFAULT_DATA_SET")
        .expect("pmc DEFAULT_DATA_SET");
    let clock = format!("{}-0", clock_answer.get("clockIdentity"));
    let get = |id: &str, field: &str| pmc_answer(answers, id, &clock).get(field).to_string();
    let num = |id: &str, field: &str| -> f64 {
        let text = get(id, field);
        let parsed = match text.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).map(|v| v as f64).ok(),
            None => match text.as_str() {
                "true" => Some(1.0),
                "false" => Some(0.0),
                t => t.parse().ok(),
            },
        };
        parsed.unwrap_or_else(|| panic!("pmc {id} {field}: {text:?}"))
    };
    let compared = std::cell::RefCell::new(std::collections::BTreeSet::<String>::new());
    let value = |name: &str, want: f64, tolerance: f64| {
        let have = m
            .get(name, &selector)
            .unwrap_or_else(|| panic!("{name}{{{selector}}} missing:\n{}", m.text));
        assert!(
            close_to(have, want, tolerance),
            "{name}: clockwatch exports {have}, pmc says {want}"
        );
        compared.borrow_mut().insert(name.to_string());
    };
    value("clockwatch_ptp_up", 1.0, 0.0);
    // TimeIntervals: pmc prints them to 0.1 ns.
    let ns = 1e-9;
    value(
        "clockwatch_ptp_offset_from_master_seconds",
        num("CURRENT_DATA_SET", "offsetFromMaster") * ns,
        0.06 * ns,
    );
    value(
        "clockwatch_ptp_mean_path_delay_seconds",
        num("CURRENT_DATA_SET", "meanPathDelay") * ns,
        0.06 * ns,
    );
    value(
        "clockwatch_ptp_steps_removed",
        num("CURRENT_DATA_SET", "stepsRemoved"),
        0.0,
    );
    value(
        "clockwatch_ptp_ingress_timestamp_seconds",
        num("TIME_STATUS_NP", "ingress_time") * ns,
        1e-6,
    );
    value(
        "clockwatch_ptp_gm_present",
        num("TIME_STATUS_NP", "gmPresent"),
        0.0,
    );
    value(
        "clockwatch_ptp_grandmaster_clock_class",
        num("PARENT_DATA_SET", "gm.ClockClass"),
        0.0,
    );
    let accuracy = ClockAccuracy(num("PARENT_DATA_SET", "gm.ClockAccuracy") as u8);
    match accuracy.seconds() {
        Some(s) => value("clockwatch_ptp_grandmaster_clock_accuracy_seconds", s, 0.0),
        None => assert!(
            m.get(
                "clockwatch_ptp_grandmaster_clock_accuracy_seconds",
                &selector
            )
            .is_none(),
            "no accuracy stated, none exported"
        ),
    }
    compared
        .borrow_mut()
        .insert("clockwatch_ptp_grandmaster_clock_accuracy_seconds".into());
    for (metric, field) in [
        (
            "clockwatch_ptp_grandmaster_offset_scaled_log_variance",
            "gm.OffsetScaledLogVariance",
        ),
        (
            "clockwatch_ptp_grandmaster_priority1",
            "grandmasterPriority1",
        ),
        (
            "clockwatch_ptp_grandmaster_priority2",
            "grandmasterPriority2",
        ),
    ] {
        value(metric, num("PARENT_DATA_SET", field), 0.0);
    }
    for (metric, field) in [
        (
            "clockwatch_ptp_current_utc_offset_seconds",
            "currentUtcOffset",
        ),
        (
            "clockwatch_ptp_current_utc_offset_valid",
            "currentUtcOffsetValid",
        ),
        ("clockwatch_ptp_leap61", "leap61"),
        ("clockwatch_ptp_leap59", "leap59"),
        ("clockwatch_ptp_ptp_timescale", "ptpTimescale"),
        ("clockwatch_ptp_time_traceable", "timeTraceable"),
        ("clockwatch_ptp_frequency_traceable", "frequencyTraceable"),
        ("clockwatch_ptp_time_source", "timeSource"),
    ] {
        value(metric, num("TIME_PROPERTIES_DATA_SET", field), 0.0);
    }

    // The info series: their labels are pmc's words.
    let info = |name: &str, labels: &str| {
        assert_eq!(
            m.get(name, &format!("{selector},{labels}")),
            Some(1.0),
            "{name}{{{labels}}} missing:\n{}",
            m.text
        );
    };
    info(
        "clockwatch_ptp_clock_info",
        &format!(
            "clock_identity=\"{}\",domain=\"{}\"",
            get("DEFAULT_DATA_SET", "clockIdentity"),
            get("DEFAULT_DATA_SET", "domainNumber")
        ),
    );
    info(
        "clockwatch_ptp_grandmaster_info",
        &format!(
            "grandmaster_identity=\"{}\",parent_port_identity=\"{}\"",
            get("PARENT_DATA_SET", "grandmasterIdentity"),
            get("PARENT_DATA_SET", "parentPortIdentity")
        ),
    );
    compared.borrow_mut().extend([
        "clockwatch_ptp_clock_info".to_string(),
        "clockwatch_ptp_grandmaster_info".to_string(),
    ]);

    // Every port pmc answers for, with its state as the one 1 of nine.
    let ports: Vec<&PmcAnswer> = answers.iter().filter(|a| a.id == "PORT_DATA_SET").collect();
    assert!(!ports.is_empty());
    for port_answer in ports {
        let identity = port_answer.get("portIdentity");
        let number = identity.rsplit('-').next().expect("port number");
        let at = format!("{selector},port=\"{number}\"");
        let state = port_answer.get("portState").to_lowercase();
        let states: Vec<&common::Sample> = m.find("clockwatch_ptp_port_state", &at).collect();
        assert_eq!(states.len(), 9, "nine states for port {number}: {states:?}");
        for sample in &states {
            let this = sample.label("state") == Some(state.as_str());
            assert_eq!(
                sample.value,
                f64::from(u8::from(this)),
                "port {number} {:?}",
                sample.labels
            );
        }
        let props = pmc_answer(answers, "PORT_PROPERTIES_NP", identity);
        let mechanism = match port_answer.get("delayMechanism") {
            "1" => "e2e",
            "2" => "p2p",
            other => panic!("delayMechanism {other}"),
        };
        assert_eq!(
            m.get(
                "clockwatch_ptp_port_info",
                &format!(
                    "{at},port_identity=\"{identity}\",interface=\"{}\",timestamping=\"{}\",delay_mechanism=\"{mechanism}\"",
                    props.get("interface"),
                    props.get("timestamping").to_lowercase()
                )
            ),
            Some(1.0),
            "port_info of port {number}:\n{}",
            m.text
        );
        let log_sync: i32 = port_answer
            .get("logSyncInterval")
            .parse()
            .expect("logSyncInterval");
        assert_eq!(
            m.get("clockwatch_ptp_port_sync_interval_seconds", &at),
            Some(2f64.powi(log_sync))
        );
        let peer: f64 = port_answer
            .get("peerMeanPathDelay")
            .parse()
            .expect("peerMeanPathDelay");
        let ours = m
            .get("clockwatch_ptp_port_peer_mean_path_delay_seconds", &at)
            .expect("peer delay");
        // pmc prints whole nanoseconds.
        assert!(close_to(ours, peer * ns, 1.0 * ns), "{ours} vs {peer} ns");
    }
    compared.borrow_mut().extend(
        [
            "clockwatch_ptp_port_state",
            "clockwatch_ptp_port_info",
            "clockwatch_ptp_port_sync_interval_seconds",
            "clockwatch_ptp_port_peer_mean_path_delay_seconds",
        ]
        .map(String::from),
    );

    let on_socket = common::parse_matchers(&selector);
    let exported: std::collections::BTreeSet<String> = m
        .samples
        .iter()
        .filter(|s| s.name.starts_with("clockwatch_ptp_") && s.matches(&on_socket))
        .map(|s| s.name.clone())
        .collect();
    let compared = compared.into_inner();
    let unchecked: Vec<&String> = exported.difference(&compared).collect();
    assert!(
        unchecked.is_empty(),
        "exported, not compared with pmc: {unchecked:?}"
    );
}

#[test]
fn v4_serve_exports_what_pmc_reads_and_the_verdict_with_its_traceability() {
    let Some(linuxptp) = Linuxptp::v4() else {
        return;
    };
    let bench = Bench::start(&linuxptp, 2);
    bench.wait_measuring();
    bench.wait_slave();
    let socket = bench.slave.socket.display().to_string();
    let flags = ptp_flags(&bench, &bench.slave.socket, &[]);
    let cw = serve(&flags);

    let (m, answers) = scrape_with_pmc(&bench.slave, &cw, &socket);
    assert_exported_matches_pmc(&m, &answers, &socket);

    // The verdict, from pmc's numbers: |offset| + mean path delay + the
    // grandmaster's stated 100 ns.
    assert_eq!(m.state(), "synchronized", "{}", m.text);
    let current = answers
        .iter()
        .find(|a| a.id == "CURRENT_DATA_SET")
        .expect("CURRENT_DATA_SET");
    let expected = pmc_seconds(current, "offsetFromMaster").abs()
        + pmc_seconds(current, "meanPathDelay")
        + 100e-9;
    let bound = m.value("clockwatch_clock_error_bound_seconds");
    assert!(
        close_to(bound, expected, 1e-10),
        "bound {bound} vs pmc's {expected}"
    );
    let gm = answers
        .iter()
        .find(|a| a.id == "PARENT_DATA_SET")
        .expect("PARENT_DATA_SET");
    assert_eq!(
        m.get(
            "clockwatch_reference_info",
            &format!(
                "daemon=\"ptp4l\",kind=\"remote\",reference=\"{}\",reference_id=\"{}\"",
                gm.get("grandmasterIdentity"),
                gm.get("parentPortIdentity")
            )
        ),
        Some(1.0),
        "{}",
        m.text
    );
    let age = m.value("clockwatch_reference_age_seconds");
    assert!((0.0..2.5).contains(&age), "a sync a second: {age}");
    assert!(!m.has("chrony_up"), "no chronyd asked, no chrony_up");
    assert_eq!(
        m.get("clockwatch_collector_success", "collector=\"ptp\""),
        Some(1.0)
    );
    // linuxptp's default grandmaster does not claim traceability.
    assert_eq!(m.value("clockwatch_reference_traceable"), 0.0);

    // check and status say the same, with the traceability warning.
    let (code, line) = oneshot(&["check"], &flags);
    assert_eq!(code, 1, "WARNING: {line}");
    assert!(
        line.starts_with("CLOCKWATCH WARNING - Synchronized to grandmaster ")
            && line.contains("timeTraceable 0"),
        "{line}"
    );
    let json = status_json(&flags);
    assert_eq!(json["state"], "synchronized", "{json}");
    assert_eq!(json["daemon"], "ptp4l");
    assert_eq!(json["instance"], socket.as_str());
    assert_eq!(json["traceable"], false);
    assert_eq!(json["reference"]["name"], gm.get("grandmasterIdentity"));
    assert!(json["traceability_warnings"].as_array().is_some_and(|w| w
        .iter()
        .any(|w| w.as_str().is_some_and(|w| w.contains("timeTraceable 0")))));
    assert_eq!(json["ptp"][0]["socket"], socket.as_str());
    assert_eq!(json["ptp"][0]["ports"].as_array().map(Vec::len), Some(2));
    let common::Response {
        status, body: page, ..
    } = cw.get("/", None);
    assert_eq!(status, 200);
    assert!(
        page.contains("Traceable") && page.contains("timeTraceable 0"),
        "{page}"
    );
    let common::Response {
        status,
        body: ready,
        ..
    } = cw.get("/readyz", None);
    assert_eq!((status, ready.as_str()), (200, "ready: ptp4l answers\n"));

    // The grandmaster declares itself traceable: every output follows.
    bench.gm.pmc(&[
        "SET GRANDMASTER_SETTINGS_NP clockClass 6 clockAccuracy 0x21 \
         offsetScaledLogVariance 0x4e5d currentUtcOffset 37 leap61 0 leap59 0 \
         currentUtcOffsetValid 1 ptpTimescale 0 timeTraceable 1 frequencyTraceable 1 \
         timeSource 0x20",
    ]);
    wait_for(
        Duration::from_secs(15),
        "timeTraceable 1 in /metrics",
        || {
            cw.metrics().get(
                "clockwatch_ptp_time_traceable",
                &format!("socket=\"{socket}\""),
            ) == Some(1.0)
        },
    );
    let (m, answers) = scrape_with_pmc(&bench.slave, &cw, &socket);
    assert_exported_matches_pmc(&m, &answers, &socket);
    assert_eq!(m.value("clockwatch_reference_traceable"), 1.0);
    let (code, line) = oneshot(&["check"], &flags);
    assert_eq!(code, 0, "OK: {line}");
    assert!(!line.contains("traceability"), "{line}");
    let json = status_json(&flags);
    assert_eq!(json["traceable"], true);
    assert_eq!(json["traceability_warnings"], serde_json::json!([]));
    assert_eq!(json["ptp"][0]["time_properties"]["time_source"], "0x20");

    // The grandmaster degrades: a warning again, the state unchanged.
    bench.gm.pmc(&[
        "SET GRANDMASTER_SETTINGS_NP clockClass 7 clockAccuracy 0x21 \
         offsetScaledLogVariance 0x4e5d currentUtcOffset 37 leap61 0 leap59 0 \
         currentUtcOffsetValid 1 ptpTimescale 0 timeTraceable 1 frequencyTraceable 1 \
         timeSource 0x20",
    ]);
    wait_for(Duration::from_secs(15), "clockClass 7 in check", || {
        let (code, line) = oneshot(&["check"], &flags);
        code == 1 && line.contains("in holdover, within its specification (clockClass 7)")
    });
    assert_eq!(status_json(&flags)["state"], "synchronized");
    bench.drop_check_no_reply_sockets();
}

#[test]
fn v4_serve_grandmaster_loss_is_stale_then_unsynchronized() {
    let Some(linuxptp) = Linuxptp::v4() else {
        return;
    };
    let mut bench = Bench::start(&linuxptp, 1);
    bench.wait_measuring();
    bench.wait_slave();
    let flags = ptp_flags(&bench, &bench.slave.socket, &["--ptp.holdover-limit=12s"]);
    let cw = serve(&flags);
    wait_for(Duration::from_secs(10), "synchronized in /metrics", || {
        cw.metrics().state() == "synchronized"
    });
    let synced_bound = cw.metrics().value("clockwatch_clock_error_bound_seconds");

    bench.gm.stop();
    let lost_at = Instant::now();
    let mut stale: Vec<(f64, f64)> = Vec::new(); // (bound, reference age)
    let mut oneshot_during_holdover = None;
    let last = loop {
        assert!(
            lost_at.elapsed() < Duration::from_secs(40),
            "never unsynchronized: {stale:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
        let m = cw.metrics();
        match m.state().as_str() {
            "synchronized" => assert!(stale.is_empty(), "synchronized again:\n{}", m.text),
            "stale" => {
                stale.push((
                    m.value("clockwatch_clock_error_bound_seconds"),
                    m.value("clockwatch_reference_age_seconds"),
                ));
                if oneshot_during_holdover.is_none() {
                    oneshot_during_holdover = Some(status_json(&flags));
                    let common::Response {
                        status, body: page, ..
                    } = cw.get("/", None);
                    assert_eq!(status, 200);
                    assert!(
                        page.contains(">stale<") && page.contains("holdover: "),
                        "{page}"
                    );
                }
            }
            "unsynchronized" => break m,
            other => panic!("state {other}:\n{}", m.text),
        }
    };
    assert!(stale.len() >= 2, "holdover seen too briefly: {stale:?}");
    // From the last good sample's bound, growing with the time since it.
    assert!(
        stale[0].0 >= synced_bound - 1e-12,
        "{stale:?} from {synced_bound}"
    );
    for pair in stale.windows(2) {
        assert!(pair[1].0 > pair[0].0 && pair[1].1 > pair[0].1, "{pair:?}");
    }
    let held = stale.last().map_or(0.0, |s| s.1);
    assert!(held > 6.0 && held <= 12.5, "held {held} s of a 12 s limit");
    assert_eq!(
        last.value("clockwatch_clock_error_bound_seconds"),
        f64::INFINITY
    );
    assert_eq!(last.value("clockwatch_clock_synchronized"), 0.0);
    assert!(
        !last.has("clockwatch_reference_traceable"),
        "nothing to trace"
    );

    // A one-shot run has no earlier collection to hold over from: it says
    // what ptp4l says now, as /metrics does once holdover ends.
    let during = oneshot_during_holdover.expect("status --json during holdover");
    assert_eq!(during["state"], "unsynchronized", "{during}");
    let after = status_json(&flags);
    assert_eq!(after["state"], "unsynchronized");
    assert_eq!(after["reason"], "ptp4l: no port in SLAVE (port LISTENING)");
    assert_eq!(after["bound_seconds"], "+Inf");
    let (code, line) = oneshot(&["check"], &flags);
    assert_eq!(code, 2, "CRITICAL: {line}");
    bench.drop_check_no_reply_sockets();
}

#[test]
fn v3_serve_uncalibrated_is_unsynchronized_and_exports_what_pmc_reads() {
    let Some(linuxptp) = Linuxptp::packaged() else {
        return;
    };
    let bench = Bench::start(&linuxptp, 1);
    bench.wait_measuring();
    let socket = bench.slave.socket.display().to_string();
    let flags = ptp_flags(&bench, &bench.slave.socket, &[]);
    let cw = serve(&flags);
    let (m, answers) = scrape_with_pmc(&bench.slave, &cw, &socket);
    assert_exported_matches_pmc(&m, &answers, &socket);
    assert_eq!(m.state(), "unsynchronized", "{}", m.text);
    assert_eq!(
        m.value("clockwatch_clock_error_bound_seconds"),
        f64::INFINITY
    );
    assert_eq!(
        m.get("clockwatch_ptp_port_state", "state=\"uncalibrated\""),
        Some(1.0)
    );
    let json = status_json(&flags);
    assert_eq!(json["state"], "unsynchronized");
    assert_eq!(
        json["reason"],
        "ptp4l: no port in SLAVE (port UNCALIBRATED)"
    );
    let (code, line) = oneshot(&["check"], &flags);
    assert_eq!(code, 2, "CRITICAL: {line}");
    assert!(
        line.contains("Not synchronised: ptp4l: no port in SLAVE (port UNCALIBRATED)"),
        "{line}"
    );

    // ptp4l and its directory gone: collector_success 0 with the reason,
    // state unknown, at once.
    drop(bench);
    let m = cw.metrics();
    assert_eq!(m.state(), "unknown");
    assert_eq!(
        m.get("clockwatch_collector_success", "collector=\"ptp\""),
        Some(0.0)
    );
    assert_eq!(
        m.get("clockwatch_ptp_up", &format!("socket=\"{socket}\"")),
        Some(0.0)
    );
    assert!(
        m.label_values("clockwatch_ptp_failure_info", "reason")
            .len()
            == 1,
        "{}",
        m.text
    );
    let common::Response {
        status,
        body: ready,
        ..
    } = cw.get("/readyz", None);
    assert_eq!(status, 503, "{ready}");
}

/// What the chart's ptp mode gives the pod, with the real ptp4l 4.x: uid
/// 65534 with no capabilities, the socket directory mounted read-only, the
/// reply socket an abstract name in ptp4l's network namespace (hostNetwork).
/// The read-only socket answers; the read-write one refuses, by permission.
#[test]
fn v4_as_the_ptp_mode_runs_it_nobody_on_a_read_only_mount() {
    let Some(linuxptp) = Linuxptp::v4() else {
        return;
    };
    if common::which("setpriv").is_none() {
        common::ptp::skip("setpriv missing (apt-get install util-linux)");
        return;
    }
    let bench = Bench::start(&linuxptp, 1);
    bench.wait_measuring();
    bench.wait_slave();
    let dir = bench.dir.path();
    // The test's directory is root's 0700: let nobody in, as /var/run is.
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let ro = bench.slave.ro_socket.clone().expect("4.x read-only socket");
    let run_as_pod = |socket: &std::path::Path| -> (i32, String) {
        let script = format!(
            "mount --bind {dir} {dir} && mount -o remount,bind,ro {dir} && \
             if touch {dir}/written 2>/dev/null; then echo 'the mount is writable' >&2; exit 99; fi && \
             exec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all \
             {bin} status --json --chrony.address=none --ptp.socket={socket} --ptp.timeout=2s",
            dir = dir.display(),
            bin = common::BIN,
            socket = socket.display()
        );
        let out = bench
            .slave_netns()
            .command(common::which("unshare").expect("unshare"))
            .args(["--mount", "--propagation", "private", "sh", "-c", &script])
            .output()
            .expect("run clockwatch as the pod does");
        assert_ne!(
            out.status.code(),
            Some(99),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = run_as_pod(&ro);
    let json: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(
        (code, &json["state"]),
        (0, &serde_json::json!("synchronized")),
        "{json}"
    );
    assert_eq!(json["ptp"][0]["up"], true);

    let (_, out) = run_as_pod(&bench.slave.socket);
    let json: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(json["state"], "unknown", "{json}");
    assert_eq!(json["ptp"][0]["failure"], "permission", "{json}");
    bench.drop_check_no_reply_sockets();
}

#[test]
fn bad_ptp_flags_exit_2_with_the_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("file");
    std::fs::write(&file, "").expect("file");
    for (args, why) in [
        (vec!["--ptp.phc=/dev/ptp0"], "--ptp.phc needs --ptp.socket"),
        (
            vec!["--ptp.socket=/run/a", "--ptp.socket=/run/a"],
            "named twice",
        ),
        (
            vec!["--ptp.socket=/run/a", "--ptp.holdover-drift=0"],
            "above 0",
        ),
        (
            vec!["--ptp.socket=/run/a", "--ptp.holdover-drift=fast"],
            "not a rate",
        ),
        (
            vec!["--ptp.socket=/run/a", "--ptp.holdover-limit=2d"],
            "at most 24h",
        ),
        (
            vec![
                "--ptp.socket=/run/a",
                "--ptp.assumed-grandmaster-accuracy=0s",
            ],
            "above 0",
        ),
        (
            vec!["--ptp.socket=/run/a", "--ptp.timeout=5ms"],
            "between 10ms and 60s",
        ),
        (
            vec!["--ptp.socket=/run/a", "--ptp.transport-specific=16"],
            "16",
        ),
    ] {
        for command in [
            &["check"][..],
            &["serve", "--web.listen-address=127.0.0.1:0"][..],
        ] {
            let out = Command::new(common::BIN)
                .args(command)
                .arg("--chrony.address=none")
                .args(&args)
                .output()
                .expect("run clockwatch");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{command:?} {args:?}: {stderr}");
            assert!(stderr.contains(why), "{command:?} {args:?}: {stderr}");
        }
    }
    let reply_dir = format!("--ptp.reply-dir={}", file.display());
    let out = Command::new(common::BIN)
        .args([
            "status",
            "--chrony.address=none",
            "--ptp.socket=/run/a",
            &reply_dir,
        ])
        .output()
        .expect("run clockwatch");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a directory"));
}

#[test]
fn a_silent_or_garbled_ptp4l_is_a_failed_collector_within_the_timeout_never_a_hang() {
    // A socket that answers nothing, a peer that answers only malformed
    // TLVs, and a socket that is not there.
    let dir = tempfile::tempdir().expect("tempdir");
    let silent = dir.path().join("silent.sock");
    let _silent_peer = UnixDatagram::bind(&silent).expect("bind a silent peer");
    let garbled = FakePeer::start(|request| vec![with_tlv_length(good_answer(request), 4)]);
    let missing = dir.path().join("missing.sock");
    let flags = vec![
        "--chrony.address=none".to_string(),
        format!(
            "--ptp.socket={},{},{}",
            silent.display(),
            garbled.path.display(),
            missing.display()
        ),
        "--ptp.timeout=300ms".to_string(),
    ];
    let cw = serve(&flags);
    for _ in 0..2 {
        let started = Instant::now();
        let m = cw.metrics();
        // The instances are read at once: one timeout, not three.
        assert!(
            started.elapsed() < Duration::from_millis(900),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(m.state(), "unknown");
        assert_eq!(
            m.value("clockwatch_clock_error_bound_seconds"),
            f64::INFINITY
        );
        assert_eq!(
            m.get("clockwatch_collector_success", "collector=\"ptp\""),
            Some(0.0)
        );
        assert_eq!(
            m.label_values("clockwatch_ptp_failure_info", "reason"),
            ["socket_missing", "timeout", "timeout"]
        );
    }
    let json = status_json(&flags);
    assert_eq!(json["state"], "unknown");
    assert!(
        json["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("ptp4l did not answer: ")),
        "{json}"
    );
    assert!(
        json["ptp"][1]["failure_message"]
            .as_str()
            .is_some_and(|m| m.contains("undecodable datagram")),
        "{json}"
    );
    assert_eq!(json["ptp"][2]["failure"], "socket_missing");
    assert!(
        cw.log_text().contains("ptp4l cannot be read"),
        "{}",
        cw.log_text()
    );
}

// ---- a fake management peer ------------------------------------------------

const FAKE_CLOCK: ClockIdentity = ClockIdentity([0x0a, 0x0b, 0x0c, 0xff, 0xfe, 1, 2, 3]);
const FAKE_GM: ClockIdentity = ClockIdentity([0x0d, 0x0e, 0x0f, 0xff, 0xfe, 4, 5, 6]);

fn port(n: u16) -> PortIdentity {
    PortIdentity {
        clock_identity: FAKE_CLOCK,
        port_number: n,
    }
}

/// The datasets of a one-port slave, as answers to `request`.
fn dataset(id: ManagementId) -> (u16, Dataset) {
    let quality = ClockQuality {
        clock_class: 6,
        clock_accuracy: ClockAccuracy(0x21),
        offset_scaled_log_variance: 0x4e5d,
    };
    match id {
        ManagementId::DefaultDataSet => (
            0,
            Dataset::DefaultDataSet(DefaultDataSet {
                two_step: true,
                slave_only: true,
                number_ports: 1,
                priority1: 128,
                clock_quality: quality,
                priority2: 128,
                clock_identity: FAKE_CLOCK,
                domain_number: 0,
            }),
        ),
        ManagementId::CurrentDataSet => (
            0,
            Dataset::CurrentDataSet(CurrentDataSet {
                steps_removed: 1,
                offset_from_master: TimeInterval(-250 << 16),
                mean_path_delay: TimeInterval(1500 << 16),
            }),
        ),
        ManagementId::ParentDataSet => (
            0,
            Dataset::ParentDataSet(ParentDataSet {
                parent_port_identity: PortIdentity {
                    clock_identity: FAKE_GM,
                    port_number: 1,
                },
                parent_stats: false,
                observed_parent_offset_scaled_log_variance: 0xffff,
                observed_parent_clock_phase_change_rate: 0x7fff_ffff,
                grandmaster_priority1: 10,
                grandmaster_clock_quality: quality,
                grandmaster_priority2: 128,
                grandmaster_identity: FAKE_GM,
            }),
        ),
        ManagementId::TimePropertiesDataSet => (
            0,
            Dataset::TimePropertiesDataSet(TimePropertiesDataSet {
                current_utc_offset: 37,
                leap61: false,
                leap59: false,
                current_utc_offset_valid: true,
                ptp_timescale: true,
                time_traceable: true,
                frequency_traceable: true,
                time_source: TimeSource::Gnss,
            }),
        ),
        ManagementId::TimeStatusNp => (
            0,
            Dataset::TimeStatusNp(TimeStatusNp {
                master_offset: -250,
                ingress_time: now().realtime_ns as i64,
                cumulative_scaled_rate_offset: 0,
                scaled_last_gm_phase_change: 0,
                gm_time_base_indicator: 0,
                last_gm_phase_change: Default::default(),
                gm_present: true,
                gm_identity: FAKE_GM,
            }),
        ),
        ManagementId::PortDataSet => (
            1,
            Dataset::PortDataSet(PortDataSet {
                port_identity: port(1),
                port_state: PortState::Slave,
                log_min_delay_req_interval: 0,
                peer_mean_path_delay: TimeInterval(0),
                log_announce_interval: 1,
                announce_receipt_timeout: 3,
                log_sync_interval: 0,
                delay_mechanism: DelayMechanism::E2e,
                log_min_pdelay_req_interval: 0,
                version_number: 2,
                minor_version_number: 0,
            }),
        ),
        ManagementId::PortPropertiesNp => (
            1,
            Dataset::PortPropertiesNp(PortPropertiesNp {
                port_identity: port(1),
                port_state: PortState::Slave,
                timestamping: Timestamping::Software,
                interface: "fake0".into(),
            }),
        ),
    }
}

fn answer(request: &GetRequest, sequence_id: u16, body: ResponseBody, from_port: u16) -> Vec<u8> {
    Response {
        header: Header {
            source_port_identity: port(from_port),
            target_port_identity: request.header.source_port_identity,
            sequence_id,
            ..request.header.clone()
        },
        body,
    }
    .encode()
}

/// The right answer to `request`.
fn good_answer(request: &GetRequest) -> Vec<u8> {
    let (from, d) = dataset(request.id);
    answer(
        request,
        request.header.sequence_id,
        ResponseBody::Dataset(d),
        from,
    )
}

/// A unix datagram peer at `DIR/fake.sock` that answers each GET with what
/// `respond` returns, until dropped.
struct FakePeer {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<u32>>,
    _dir: tempfile::TempDir,
}

impl FakePeer {
    fn start(respond: impl Fn(&GetRequest) -> Vec<Vec<u8>> + Send + 'static) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("fake.sock");
        let socket = UnixDatagram::bind(&path).expect("bind fake peer");
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut requests = 0;
            let mut buf = [0u8; 2048];
            while !stopping.load(Ordering::Relaxed) {
                let Ok((len, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                let request = GetRequest::decode(&buf[..len]).expect("clockwatch sends GETs");
                requests += 1;
                for datagram in respond(&request) {
                    let _ = socket.send_to_addr(&datagram, &from);
                }
            }
            requests
        });
        Self {
            path,
            stop,
            thread: Some(thread),
            _dir: dir,
        }
    }

    fn client(&self, timeout: Duration) -> PtpClient {
        PtpClient::new(&self.path, timeout)
    }

    /// Stops the peer; returns how many GETs it received.
    fn requests(mut self) -> u32 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .map_or(0, |t| t.join().expect("fake peer"))
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

/// Replaces the TLV's lengthField of an encoded response.
fn with_tlv_length(mut datagram: Vec<u8>, length: u16) -> Vec<u8> {
    datagram[50..52].copy_from_slice(&length.to_be_bytes());
    datagram
}

#[test]
fn fake_peer_garbage_strays_and_duplicates_do_not_fail_the_collection() {
    let peer = FakePeer::start(|request| {
        let good = good_answer(request);
        let seq = request.header.sequence_id;
        vec![
            // A TLV that says it is longer than the message.
            with_tlv_length(good.clone(), 200),
            // The right sequence id with another dataset in it.
            answer(
                request,
                seq,
                ResponseBody::Dataset(
                    dataset(match request.id {
                        ManagementId::DefaultDataSet => ManagementId::CurrentDataSet,
                        _ => ManagementId::DefaultDataSet,
                    })
                    .1,
                ),
                0,
            ),
            // An answer to a request never sent.
            answer(
                request,
                seq.wrapping_add(1000),
                ResponseBody::Dataset(dataset(request.id).1),
                0,
            ),
            b"\x0d\x02garbage".to_vec(),
            good.clone(),
            good, // a duplicate
        ]
    });
    let started = Instant::now();
    let report = collect(&peer.client(TIMEOUT)).expect("the good answers make a report");
    assert!(started.elapsed() < TIMEOUT, "complete before the deadline");
    assert_eq!(report.default_ds.clock_identity, FAKE_CLOCK);
    assert_eq!(report.current_ds.offset_from_master.nanoseconds(), -250.0);
    assert_eq!(report.ports.len(), 1);
    assert_eq!(report.ports[0].interface(), Some("fake0"));
    // Four bad datagrams and a duplicate per GET, in order: the last GET's
    // duplicate comes after the collection is complete and is not read.
    assert_eq!(report.discarded, 7 * 5 - 1);
    assert_eq!(peer.requests(), 7, "one GET per dataset");

    // The same peer's answers assess like a real slave's.
    let a = assess(
        Some(&report),
        None,
        now(),
        &PtpMemory::default(),
        &BoundConfig::default(),
    );
    assert_eq!(a.state, PtpState::Synchronized);
    assert!((a.bound_seconds - (250e-9 + 1500e-9 + 100e-9)).abs() < 1e-12);
}

#[test]
fn fake_peer_wrong_sequence_ids_time_out_with_the_reason() {
    let peer = FakePeer::start(|request| {
        vec![answer(
            request,
            request.header.sequence_id.wrapping_add(7),
            ResponseBody::Dataset(dataset(request.id).1),
            dataset(request.id).0,
        )]
    });
    let timeout = Duration::from_millis(400);
    let started = Instant::now();
    let err = collect(&peer.client(timeout)).expect_err("nothing answers our GETs");
    let took = started.elapsed();
    assert!(
        took >= timeout && took < timeout + Duration::from_millis(500),
        "{took:?}"
    );
    assert_eq!(err.kind(), "timeout");
    let text = err.to_string();
    assert!(
        text.contains("missing DEFAULT_DATA_SET, CURRENT_DATA_SET"),
        "{text}"
    );
    assert!(text.contains("7 datagram(s) discarded"), "{text}");
    assert!(text.contains("is not one of this collection's"), "{text}");
}

#[test]
fn fake_peer_malformed_tlvs_only_time_out_with_the_decode_error() {
    let peer = FakePeer::start(|request| {
        let good = good_answer(request);
        let short = with_tlv_length(good.clone(), 4);
        let mut unknown = good;
        unknown[48..50].copy_from_slice(&0x0009u16.to_be_bytes());
        vec![short, unknown]
    });
    let err = collect(&peer.client(Duration::from_millis(300))).expect_err("all malformed");
    let text = err.to_string();
    assert!(text.contains("14 datagram(s) discarded"), "{text}");
    assert!(
        text.contains("undecodable datagram: unknown TLV type 0x0009"),
        "{text}"
    );
}

#[test]
fn fake_peer_silence_is_bounded_by_the_timeout() {
    let peer = FakePeer::start(|_| Vec::new());
    for timeout in [Duration::from_millis(100), Duration::from_millis(700)] {
        let started = Instant::now();
        let err = collect(&peer.client(timeout)).expect_err("silence");
        let took = started.elapsed();
        assert!(
            took >= timeout && took < timeout + Duration::from_millis(400),
            "{took:?}"
        );
        assert_eq!(err.kind(), "timeout");
        assert!(!err.to_string().contains("discarded"), "{err}");
    }
}

#[test]
fn fake_peer_refusal_is_a_clear_error() {
    let peer = FakePeer::start(|request| {
        if request.id == ManagementId::TimeStatusNp {
            let body = ResponseBody::Error(ManagementErrorStatus {
                error: ManagementErrorId::NotSupported,
                management_id: request.id.to_wire(),
                display_data: "not here".into(),
            });
            vec![answer(request, request.header.sequence_id, body, 0)]
        } else {
            vec![good_answer(request)]
        }
    });
    let err = collect(&peer.client(TIMEOUT)).expect_err("refused");
    assert_eq!(err.kind(), "refused");
    assert!(
        err.to_string()
            .ends_with("refused GET TIME_STATUS_NP: NOT_SUPPORTED: not here"),
        "{err}"
    );
}

#[test]
fn fake_peer_without_port_properties_still_reports() {
    let peer = FakePeer::start(|request| match request.id {
        ManagementId::PortPropertiesNp => Vec::new(),
        _ => vec![good_answer(request)],
    });
    let started = Instant::now();
    let timeout = Duration::from_millis(300);
    let report = collect(&peer.client(timeout)).expect("a report without interface names");
    assert!(
        started.elapsed() >= timeout,
        "it waited for them until the deadline"
    );
    assert_eq!(report.ports[0].properties, None);
    assert_eq!(report.slave_port().map(|p| p.number()), Some(1));
}

#[test]
fn directory_reply_sockets_are_removed_and_dead_ones_swept() {
    let peer = FakePeer::start(|request| vec![good_answer(request)]);
    let dir = tempfile::tempdir().expect("tempdir");
    let names = || -> Vec<String> {
        std::fs::read_dir(dir.path())
            .expect("read dir")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    };
    // A socket nobody is bound to any more (its process died before it could
    // remove it), a live one of another process (even one whose pid would
    // read as dead or as ours: names carry no pid), a plain file with our
    // prefix and another program's socket. Only the first is provably dead.
    use std::os::unix::net::UnixDatagram;
    let stale = "clockwatch-ptp-00000000000000000000000000000dead.sock";
    drop(UnixDatagram::bind(dir.path().join(stale)).expect("bind"));
    let live = "clockwatch-ptp-0000000000000000000000000000011fe.sock";
    let _live = UnixDatagram::bind(dir.path().join(live)).expect("bind");
    let plain = "clockwatch-ptp-0000000000000000000000000000f11e.sock";
    std::fs::write(dir.path().join(plain), b"").expect("write");
    drop(UnixDatagram::bind(dir.path().join("unrelated.sock")).expect("bind"));
    assert!(dir.path().join(stale).exists());
    let client = peer
        .client(TIMEOUT)
        .with_reply_socket(ReplySocket::Directory(dir.path().to_path_buf()));
    let mut left = names();
    left.sort();
    assert_eq!(
        left,
        [live, plain, "unrelated.sock"],
        "only the dead socket is swept"
    );
    collect(&client).expect("collect through a socket file");
    let mut left = names();
    left.sort();
    assert_eq!(
        left,
        [live, plain, "unrelated.sock"],
        "ours is removed after the collection"
    );

    // Removed after a failed collection too.
    let silent = FakePeer::start(|_| Vec::new());
    let client = silent
        .client(Duration::from_millis(100))
        .with_reply_socket(ReplySocket::Directory(dir.path().to_path_buf()));
    collect(&client).expect_err("silence");
    assert_eq!(names().len(), 3);

    // A directory that is not there: a bind error naming it.
    let client = peer
        .client(TIMEOUT)
        .with_reply_socket(ReplySocket::Directory(dir.path().join("none")));
    let err = collect(&client).expect_err("no directory");
    assert_eq!(err.kind(), "bind");
    assert!(err.to_string().contains("none/clockwatch-ptp-"), "{err}");
}

#[test]
fn missing_and_dead_sockets_are_told_apart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("ptp4l");
    let err = collect(&PtpClient::new(&missing, TIMEOUT)).expect_err("no socket");
    assert_eq!(err.kind(), "socket_missing");
    assert!(
        err.to_string().contains("does not exist: is ptp4l running"),
        "{err}"
    );

    // A socket file whose daemon is gone.
    let dead = dir.path().join("dead");
    drop(UnixDatagram::bind(&dead).expect("bind"));
    // Another test's process, forked in this instant, holds a copy of the
    // socket until it execs (close-on-exec): until then the socket is not
    // yet dead, and a connect still succeeds.
    let until = Instant::now() + Duration::from_secs(5);
    while UnixDatagram::unbound()
        .and_then(|s| s.connect(&dead))
        .is_ok()
    {
        assert!(
            Instant::now() < until,
            "the dropped socket still accepts connections"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let err = collect(&PtpClient::new(&dead, TIMEOUT)).expect_err("nobody listens");
    assert_eq!(err.kind(), "not_listening");
    assert!(err.to_string().contains("ptp4l is not running"), "{err}");
}

#[test]
fn fake_peer_sees_domain_and_transport_specific() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    let peer = FakePeer::start(move |request| {
        record.lock().expect("lock").push((
            request.header.domain_number,
            request.header.transport_specific,
            request.header.boundary_hops,
        ));
        vec![good_answer(request)]
    });
    collect(
        &peer
            .client(TIMEOUT)
            .with_domain(24)
            .with_transport_specific(1),
    )
    .expect("collect");
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 7);
    assert!(seen.iter().all(|&s| s == (24, 1, 0)), "{seen:?}");
}
