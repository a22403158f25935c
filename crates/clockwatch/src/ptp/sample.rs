//! A sample ptp4l collection for tests and examples (the unit tests of
//! the PTP rules and the verdict, the golden exposition): a slave one step
//! from a GNSS grandmaster. Not part of the stable API.

use ptpmgmt::{
    ClockAccuracy, ClockIdentity, ClockQuality, CurrentDataSet, DefaultDataSet, DelayMechanism,
    ParentDataSet, PortDataSet, PortIdentity, PortPropertiesNp, PortState, TimeInterval,
    TimePropertiesDataSet, TimeSource, TimeStatusNp, Timestamping,
};

use super::report::{PortReport, PtpReport};

/// This clock.
pub const ME: ClockIdentity = ClockIdentity([1; 8]);
/// Its grandmaster.
pub const GM: ClockIdentity = ClockIdentity([9; 8]);
/// The last sync's ingress time, ns since the epoch.
pub const T0: i128 = 1_700_000_000_000_000_000;
/// A second in ns.
pub const NS: i128 = 1_000_000_000;

/// `ns` nanoseconds as a TimeInterval.
pub fn ti(ns: i64) -> TimeInterval {
    TimeInterval(ns << 16)
}

/// Port `number` of this clock, in `state`, interface `eth<number>`.
pub fn port(number: u16, state: PortState, timestamping: Timestamping) -> PortReport {
    let identity = PortIdentity {
        clock_identity: ME,
        port_number: number,
    };
    PortReport {
        data_set: PortDataSet {
            port_identity: identity,
            port_state: state,
            log_min_delay_req_interval: 0,
            peer_mean_path_delay: ti(0),
            log_announce_interval: 1,
            announce_receipt_timeout: 3,
            log_sync_interval: 0,
            delay_mechanism: DelayMechanism::E2e,
            log_min_pdelay_req_interval: 0,
            version_number: 2,
            minor_version_number: 0,
        },
        properties: Some(PortPropertiesNp {
            port_identity: identity,
            port_state: state,
            timestamping,
            interface: format!("eth{number}"),
        }),
    }
}

/// A slave one step from a GNSS grandmaster stating 100 ns (0x21):
/// offset -300 ns, mean path delay 2 µs, last sync at T0, software
/// timestamping.
pub fn report(state: PortState) -> PtpReport {
    PtpReport {
        socket: "/var/run/ptp4l".into(),
        default_ds: DefaultDataSet {
            two_step: true,
            slave_only: true,
            number_ports: 1,
            priority1: 128,
            clock_quality: ClockQuality {
                clock_class: 255,
                clock_accuracy: ClockAccuracy::UNKNOWN,
                offset_scaled_log_variance: 0xffff,
            },
            priority2: 128,
            clock_identity: ME,
            domain_number: 0,
        },
        current_ds: CurrentDataSet {
            steps_removed: 1,
            offset_from_master: ti(-300),
            mean_path_delay: ti(2000),
        },
        parent_ds: ParentDataSet {
            parent_port_identity: PortIdentity {
                clock_identity: GM,
                port_number: 1,
            },
            parent_stats: false,
            observed_parent_offset_scaled_log_variance: 0xffff,
            observed_parent_clock_phase_change_rate: 0x7fff_ffff,
            grandmaster_priority1: 10,
            grandmaster_clock_quality: ClockQuality {
                clock_class: 6,
                clock_accuracy: ClockAccuracy(0x21),
                offset_scaled_log_variance: 0x4e5d,
            },
            grandmaster_priority2: 128,
            grandmaster_identity: GM,
        },
        time_properties_ds: TimePropertiesDataSet {
            current_utc_offset: 37,
            leap61: false,
            leap59: false,
            current_utc_offset_valid: true,
            ptp_timescale: true,
            time_traceable: true,
            frequency_traceable: true,
            time_source: TimeSource::Gnss,
        },
        time_status: TimeStatusNp {
            master_offset: -300,
            ingress_time: T0 as i64,
            cumulative_scaled_rate_offset: 0,
            scaled_last_gm_phase_change: 0,
            gm_time_base_indicator: 0,
            last_gm_phase_change: Default::default(),
            gm_present: true,
            gm_identity: GM,
        },
        ports: vec![port(1, state, Timestamping::Software)],
        discarded: 0,
    }
}
