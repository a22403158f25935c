//! Responses captured from real ptp4l 3.1.1 (Debian bookworm) and 4.2
//! (Debian trixie's source), see clockwatch's tests/ptp_golden_capture.rs: a
//! grandmaster (priority1 10, clockClass 6, clockAccuracy 0x21, variance
//! 0x4e5d) and a free-running slave-only clock with two ports, the first
//! linked to the grandmaster. Each response decodes to what those daemons
//! were configured with and measured, and encodes back to the same bytes.

use ptpmgmt::{
    ClockAccuracy, ClockIdentity, Dataset, DelayMechanism, ManagementErrorId, ManagementId,
    PortState, Response, ResponseBody, Timestamping,
};

const VERSIONS: [&str; 2] = ["3.1.1", "4.2"];
/// The sequence id and port number the capture sent.
const SEQ: u16 = 0x0102;
const CAPTURE_PORT: u16 = 0x4242;

fn load(version: &str, name: &str) -> Response {
    let path = format!(
        "{}/tests/golden/ptp4l-{version}/{name}.bin",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let response = Response::decode(&bytes).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(
        response.encode(),
        bytes,
        "{path}: re-encoding changed the bytes"
    );
    assert_eq!(response.header.sequence_id, SEQ, "{path}");
    assert_eq!(
        response.header.target_port_identity.port_number, CAPTURE_PORT,
        "{path}: answered to the request's source port"
    );
    response
}

fn dataset(version: &str, name: &str) -> (u16, Dataset) {
    let r = load(version, name);
    let port = r.header.source_port_identity.port_number;
    match r.body {
        ResponseBody::Dataset(d) => (port, d),
        ResponseBody::Error(e) => panic!("{version} {name}: error {e:?}"),
    }
}

macro_rules! get {
    ($version:expr, $name:expr, $variant:ident) => {{
        match dataset($version, $name) {
            (port, Dataset::$variant(d)) => (port, d),
            (_, other) => panic!("{} {}: {other:?}", $version, $name),
        }
    }};
}

struct Clocks {
    gm: ClockIdentity,
    slave: ClockIdentity,
}

fn clocks(version: &str) -> Clocks {
    let (_, gm) = get!(version, "gm_default_data_set", DefaultDataSet);
    let (_, slave) = get!(version, "slave_default_data_set", DefaultDataSet);
    Clocks {
        gm: gm.clock_identity,
        slave: slave.clock_identity,
    }
}

#[test]
fn headers_are_as_each_version_sends_them() {
    for version in VERSIONS {
        let r = load(version, "slave_time_status_np");
        // 4.x speaks 1588-2019 (minor version 1) and leaves the
        // controlField 0; 3.1.1 sends 2.0 and 0x04.
        let (minor, control) = if version.starts_with('4') {
            (1, 0x00)
        } else {
            (0, 0x04)
        };
        assert_eq!(
            (r.header.minor_version, r.header.control),
            (minor, control),
            "{version}"
        );
        assert_eq!(r.header.log_message_interval, 0x7f);
        assert_eq!(r.header.domain_number, 0);
        assert_eq!(
            r.header.source_port_identity.port_number, 0,
            "the clock answers"
        );
    }
}

#[test]
fn default_data_sets() {
    for version in VERSIONS {
        let (_, gm) = get!(version, "gm_default_data_set", DefaultDataSet);
        assert!(gm.two_step && !gm.slave_only, "{version}");
        assert_eq!((gm.number_ports, gm.priority1, gm.priority2), (1, 10, 128));
        assert_eq!(gm.clock_quality.clock_class, 6);
        assert_eq!(gm.clock_quality.clock_accuracy, ClockAccuracy(0x21));
        assert_eq!(gm.clock_quality.offset_scaled_log_variance, 0x4e5d);
        let (_, slave) = get!(version, "slave_default_data_set", DefaultDataSet);
        assert!(slave.slave_only, "{version}");
        assert_eq!(slave.number_ports, 2);
        assert_eq!(slave.clock_quality.clock_class, 255, "slave-only");
        assert_ne!(slave.clock_identity, gm.clock_identity);
    }
}

#[test]
fn current_and_parent_data_sets() {
    for version in VERSIONS {
        let c = clocks(version);
        let (_, current) = get!(version, "slave_current_data_set", CurrentDataSet);
        assert_eq!(current.steps_removed, 1, "{version}");
        // Both ends share the host's clock: microseconds at most.
        assert!(
            current.offset_from_master.seconds().abs() < 1e-3,
            "{current:?}"
        );
        let delay = current.mean_path_delay.seconds();
        assert!(delay > 0.0 && delay < 1e-3, "{current:?}");
        let (_, gm_current) = get!(version, "gm_current_data_set", CurrentDataSet);
        assert_eq!(gm_current.steps_removed, 0, "the grandmaster is its own");

        let (_, parent) = get!(version, "slave_parent_data_set", ParentDataSet);
        assert_eq!(parent.grandmaster_identity, c.gm);
        assert_eq!(parent.parent_port_identity.clock_identity, c.gm);
        assert_eq!(parent.parent_port_identity.port_number, 1);
        assert_eq!(parent.grandmaster_priority1, 10);
        assert_eq!(parent.grandmaster_clock_quality.clock_class, 6);
        assert_eq!(
            parent.grandmaster_clock_quality.clock_accuracy.seconds(),
            Some(100e-9)
        );
        let (_, gm_parent) = get!(version, "gm_parent_data_set", ParentDataSet);
        assert_eq!(gm_parent.grandmaster_identity, c.gm);
    }
}

#[test]
fn time_properties_and_time_status() {
    for version in VERSIONS {
        let c = clocks(version);
        let (_, tp) = get!(
            version,
            "slave_time_properties_data_set",
            TimePropertiesDataSet
        );
        assert_eq!(tp.current_utc_offset, 37, "{version}");
        assert!(!tp.time_traceable && !tp.frequency_traceable && !tp.ptp_timescale);
        assert_eq!(tp.time_source.name(), Some("INTERNAL_OSCILLATOR"));

        let (_, ts) = get!(version, "slave_time_status_np", TimeStatusNp);
        assert!(ts.gm_present, "{version}");
        assert_eq!(ts.gm_identity, c.gm);
        // Software timestamps: the host's realtime clock, in 2020 or later.
        assert!(ts.ingress_time > 1_577_836_800_000_000_000, "{ts:?}");
        assert!(ts.master_offset.abs() < 1_000_000);
        let (_, gm_ts) = get!(version, "gm_time_status_np", TimeStatusNp);
        assert!(!gm_ts.gm_present, "a grandmaster has none but itself");
        assert_eq!(gm_ts.gm_identity, c.gm);
        assert_eq!(gm_ts.ingress_time, 0);
    }
}

#[test]
fn every_port_answers_port_data_sets() {
    for version in VERSIONS {
        let c = clocks(version);
        // 4.x reaches SLAVE once told the sync is certain; 3.1.1 stays
        // UNCALIBRATED while free running.
        let first = if version.starts_with('4') {
            PortState::Slave
        } else {
            PortState::Uncalibrated
        };
        for (n, state, interface) in [(1, first, "cwsl0"), (2, PortState::Listening, "cwsl1")] {
            let (from, ds) = get!(version, &format!("slave_port_data_set_{n}"), PortDataSet);
            assert_eq!(from, n, "{version}: answered by the port itself");
            assert_eq!(ds.port_identity.clock_identity, c.slave);
            assert_eq!(ds.port_identity.port_number, n);
            assert_eq!(ds.port_state, state, "{version} port {n}");
            assert_eq!(ds.delay_mechanism, DelayMechanism::E2e);
            assert_eq!(
                (
                    ds.log_announce_interval,
                    ds.announce_receipt_timeout,
                    ds.log_sync_interval
                ),
                (1, 3, 0),
                "linuxptp's defaults"
            );
            assert_eq!(ds.version_number, 2);
            let (_, props) = get!(
                version,
                &format!("slave_port_properties_np_{n}"),
                PortPropertiesNp
            );
            assert_eq!(props.port_identity, ds.port_identity);
            assert_eq!(props.port_state, state);
            assert_eq!(props.timestamping, Timestamping::Software);
            assert_eq!(props.interface, interface);
        }
        let (_, gm_port) = get!(version, "gm_port_data_set_1", PortDataSet);
        assert_eq!(gm_port.port_state, PortState::Master);
    }
}

#[test]
fn an_unknown_id_is_answered_with_no_such_id() {
    for version in VERSIONS {
        let r = load(version, "slave_no_such_id");
        let ResponseBody::Error(e) = &r.body else {
            panic!("{version}: {r:?}")
        };
        assert_eq!(e.error, ManagementErrorId::NoSuchId);
        assert_eq!(e.management_id, 0x7777);
        assert_eq!(ManagementId::from_wire(e.management_id), None);
        assert_eq!(e.display_data, "");
    }
}
