//! Property tests with typed strategies: every response and GET this crate
//! can encode decodes to itself, and no input makes a decoder panic.

use proptest::prelude::*;
use ptpmgmt::{
    ClockAccuracy, ClockIdentity, ClockQuality, CurrentDataSet, Dataset, DefaultDataSet,
    DelayMechanism, GetRequest, Header, ManagementErrorId, ManagementErrorStatus, ManagementId,
    ParentDataSet, PortDataSet, PortIdentity, PortPropertiesNp, PortState, Response, ResponseBody,
    ScaledNs, TimeInterval, TimePropertiesDataSet, TimeSource, TimeStatusNp, Timestamping,
};

fn clock_identity() -> impl Strategy<Value = ClockIdentity> {
    any::<[u8; 8]>().prop_map(ClockIdentity)
}

fn port_identity() -> impl Strategy<Value = PortIdentity> {
    (clock_identity(), any::<u16>()).prop_map(|(clock_identity, port_number)| PortIdentity {
        clock_identity,
        port_number,
    })
}

fn clock_quality() -> impl Strategy<Value = ClockQuality> {
    (any::<u8>(), any::<u8>(), any::<u16>()).prop_map(|(class, accuracy, variance)| ClockQuality {
        clock_class: class,
        clock_accuracy: ClockAccuracy(accuracy),
        offset_scaled_log_variance: variance,
    })
}

fn time_interval() -> impl Strategy<Value = TimeInterval> {
    any::<i64>().prop_map(TimeInterval)
}

/// PTPText: at most 60 characters, so at most 240 bytes (under the 255 a
/// length octet can state).
fn text() -> impl Strategy<Value = String> {
    "\\PC{0,60}"
}

fn header() -> impl Strategy<Value = Header> {
    (
        (0u8..16, 0u8..16, any::<u8>(), any::<u8>(), any::<u16>()),
        (any::<i64>(), any::<u32>(), port_identity(), any::<u16>()),
        (
            any::<u8>(),
            any::<i8>(),
            port_identity(),
            any::<u8>(),
            any::<u8>(),
        ),
    )
        .prop_map(
            |(
                (transport_specific, minor_version, domain_number, minor_sdo_id, flags),
                (correction, message_type_specific, source_port_identity, sequence_id),
                (
                    control,
                    log_message_interval,
                    target_port_identity,
                    starting_boundary_hops,
                    boundary_hops,
                ),
            )| Header {
                transport_specific,
                minor_version,
                domain_number,
                minor_sdo_id,
                flags,
                correction,
                message_type_specific,
                source_port_identity,
                sequence_id,
                control,
                log_message_interval,
                target_port_identity,
                starting_boundary_hops,
                boundary_hops,
            },
        )
}

fn default_data_set() -> impl Strategy<Value = DefaultDataSet> {
    (
        any::<(bool, bool, u16, u8)>(),
        clock_quality(),
        any::<u8>(),
        clock_identity(),
        any::<u8>(),
    )
        .prop_map(
            |(
                (two_step, slave_only, number_ports, priority1),
                clock_quality,
                priority2,
                clock_identity,
                domain_number,
            )| {
                DefaultDataSet {
                    two_step,
                    slave_only,
                    number_ports,
                    priority1,
                    clock_quality,
                    priority2,
                    clock_identity,
                    domain_number,
                }
            },
        )
}

fn current_data_set() -> impl Strategy<Value = CurrentDataSet> {
    (any::<u16>(), time_interval(), time_interval()).prop_map(
        |(steps_removed, offset_from_master, mean_path_delay)| CurrentDataSet {
            steps_removed,
            offset_from_master,
            mean_path_delay,
        },
    )
}

fn parent_data_set() -> impl Strategy<Value = ParentDataSet> {
    (
        port_identity(),
        any::<(bool, u16, i32, u8)>(),
        clock_quality(),
        any::<u8>(),
        clock_identity(),
    )
        .prop_map(
            |(parent_port_identity, (parent_stats, variance, rate, p1), quality, p2, gm)| {
                ParentDataSet {
                    parent_port_identity,
                    parent_stats,
                    observed_parent_offset_scaled_log_variance: variance,
                    observed_parent_clock_phase_change_rate: rate,
                    grandmaster_priority1: p1,
                    grandmaster_clock_quality: quality,
                    grandmaster_priority2: p2,
                    grandmaster_identity: gm,
                }
            },
        )
}

fn time_properties_data_set() -> impl Strategy<Value = TimePropertiesDataSet> {
    (any::<i16>(), any::<[bool; 6]>(), any::<u8>()).prop_map(|(offset, f, source)| {
        TimePropertiesDataSet {
            current_utc_offset: offset,
            leap61: f[0],
            leap59: f[1],
            current_utc_offset_valid: f[2],
            ptp_timescale: f[3],
            time_traceable: f[4],
            frequency_traceable: f[5],
            time_source: TimeSource::from_wire(source),
        }
    })
}

fn port_data_set() -> impl Strategy<Value = PortDataSet> {
    (
        port_identity(),
        any::<(u8, i8)>(),
        time_interval(),
        any::<(i8, u8, i8, u8, i8)>(),
        (0u8..16, 0u8..16),
    )
        .prop_map(
            |(
                port_identity,
                (state, delay_req),
                peer_delay,
                (announce, timeout, sync, mechanism, pdelay),
                (version, minor),
            )| {
                PortDataSet {
                    port_identity,
                    port_state: PortState::from_wire(state),
                    log_min_delay_req_interval: delay_req,
                    peer_mean_path_delay: peer_delay,
                    log_announce_interval: announce,
                    announce_receipt_timeout: timeout,
                    log_sync_interval: sync,
                    delay_mechanism: DelayMechanism::from_wire(mechanism),
                    log_min_pdelay_req_interval: pdelay,
                    version_number: version,
                    minor_version_number: minor,
                }
            },
        )
}

fn time_status_np() -> impl Strategy<Value = TimeStatusNp> {
    (
        any::<(i64, i64, i32, i32, u16)>(),
        any::<(u16, u64, u16)>(),
        any::<bool>(),
        clock_identity(),
    )
        .prop_map(
            |((offset, ingress, csro, phase, base), (msb, lsb, frac), gm_present, gm_identity)| {
                TimeStatusNp {
                    master_offset: offset,
                    ingress_time: ingress,
                    cumulative_scaled_rate_offset: csro,
                    scaled_last_gm_phase_change: phase,
                    gm_time_base_indicator: base,
                    last_gm_phase_change: ScaledNs {
                        nanoseconds_msb: msb,
                        nanoseconds_lsb: lsb,
                        fractional_nanoseconds: frac,
                    },
                    gm_present,
                    gm_identity,
                }
            },
        )
}

fn port_properties_np() -> impl Strategy<Value = PortPropertiesNp> {
    (port_identity(), any::<u8>(), any::<u8>(), text()).prop_map(
        |(port_identity, state, ts, interface)| PortPropertiesNp {
            port_identity,
            port_state: PortState::from_wire(state),
            timestamping: Timestamping::from_wire(ts),
            interface,
        },
    )
}

fn dataset() -> impl Strategy<Value = Dataset> {
    prop_oneof![
        default_data_set().prop_map(Dataset::DefaultDataSet),
        current_data_set().prop_map(Dataset::CurrentDataSet),
        parent_data_set().prop_map(Dataset::ParentDataSet),
        time_properties_data_set().prop_map(Dataset::TimePropertiesDataSet),
        port_data_set().prop_map(Dataset::PortDataSet),
        time_status_np().prop_map(Dataset::TimeStatusNp),
        port_properties_np().prop_map(Dataset::PortPropertiesNp),
    ]
}

fn error_status() -> impl Strategy<Value = ManagementErrorStatus> {
    (any::<u16>(), any::<u16>(), text()).prop_map(|(error, management_id, display_data)| {
        ManagementErrorStatus {
            error: ManagementErrorId::from_wire(error),
            management_id,
            display_data,
        }
    })
}

fn response() -> impl Strategy<Value = Response> {
    (
        header(),
        prop_oneof![
            dataset().prop_map(ResponseBody::Dataset),
            error_status().prop_map(ResponseBody::Error),
        ],
    )
        .prop_map(|(header, body)| Response { header, body })
}

fn management_id() -> impl Strategy<Value = ManagementId> {
    prop::sample::select(ManagementId::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn response_round_trip(r in response()) {
        let bytes = r.encode();
        prop_assert_eq!(bytes.len() % 2, 0, "even length");
        prop_assert_eq!(Response::decode(&bytes), Ok(r));
    }

    #[test]
    fn get_round_trip(header in header(), id in management_id()) {
        let request = GetRequest { header, id };
        prop_assert_eq!(GetRequest::decode(&request.encode()), Ok(request));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = Response::decode(&bytes);
        let _ = GetRequest::decode(&bytes);
    }

    /// A valid response with one octet changed: decoding fails cleanly or
    /// gives a response that encodes and decodes to itself.
    #[test]
    fn mutated_responses_decode_stably(r in response(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = r.encode();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        if let Ok(first) = Response::decode(&bytes) {
            prop_assert_eq!(Response::decode(&first.encode()), Ok(first));
        }
    }
}
