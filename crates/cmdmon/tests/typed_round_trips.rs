//! Round trips of typed values: every reply body and every request, built
//! from typed strategies, encodes and decodes back to itself. Random bytes
//! (tests/properties.rs) almost never decode to anything but the simplest
//! bodies; these strategies reach every field of every format.

use std::net::{Ipv4Addr, Ipv6Addr};

use cmdmon::{
    float, Activity, Address, LeapStatus, NtpData, NtpDataTimestampCounts, RefId, Reply, ReplyBody,
    ReplyHeader, Request, ServerStats, ServerStatsFormat, SourceData, SourceMode, SourceName,
    SourceState, SourceStats, Status, Timespec, Tracking,
};
use proptest::prelude::*;

/// A value chrony's 32-bit float carries exactly: any word, decoded.
fn chrony_float() -> impl Strategy<Value = f64> {
    any::<u32>().prop_map(float::decode)
}

fn address() -> impl Strategy<Value = Address> {
    prop_oneof![
        Just(Address::Unspecified),
        any::<u32>().prop_map(|v| Address::V4(Ipv4Addr::from(v))),
        any::<u128>().prop_map(|v| Address::V6(Ipv6Addr::from(v))),
        any::<u32>().prop_map(Address::Id),
    ]
}

/// An address a request may name (an IP, or the ID of an unresolved source).
fn source_address() -> impl Strategy<Value = Address> {
    prop_oneof![
        any::<u32>().prop_map(|v| Address::V4(Ipv4Addr::from(v))),
        any::<u128>().prop_map(|v| Address::V6(Ipv6Addr::from(v))),
        any::<u32>().prop_map(Address::Id),
    ]
}

fn timespec() -> impl Strategy<Value = Timespec> {
    (any::<u64>(), 0u32..1_000_000_000).prop_map(|(seconds, nanos)| Timespec { seconds, nanos })
}

fn leap() -> impl Strategy<Value = LeapStatus> {
    prop_oneof![
        Just(LeapStatus::Normal),
        Just(LeapStatus::InsertSecond),
        Just(LeapStatus::DeleteSecond),
        Just(LeapStatus::Unsynchronised),
    ]
}

fn tracking() -> impl Strategy<Value = Tracking> {
    (
        (any::<u32>(), address(), any::<u16>(), leap(), timespec()),
        prop::array::uniform9(chrony_float()),
    )
        .prop_map(
            |((ref_id, ip_addr, stratum, leap_status, ref_time), f)| Tracking {
                ref_id: RefId(ref_id),
                ip_addr,
                stratum,
                leap_status,
                ref_time,
                current_correction: f[0],
                last_offset: f[1],
                rms_offset: f[2],
                freq_ppm: f[3],
                resid_freq_ppm: f[4],
                skew_ppm: f[5],
                root_delay: f[6],
                root_dispersion: f[7],
                last_update_interval: f[8],
            },
        )
}

fn source_data() -> impl Strategy<Value = SourceData> {
    let state = prop_oneof![
        Just(SourceState::Selected),
        Just(SourceState::NonSelectable),
        Just(SourceState::Falseticker),
        Just(SourceState::Jittery),
        Just(SourceState::Unselected),
        Just(SourceState::Selectable),
    ];
    let mode = prop_oneof![
        Just(SourceMode::Client),
        Just(SourceMode::Peer),
        Just(SourceMode::RefClock),
    ];
    (
        (address(), any::<i16>(), any::<u16>(), state, mode),
        (any::<u16>(), any::<u16>(), any::<u32>()),
        prop::array::uniform3(chrony_float()),
    )
        .prop_map(
            |((ip_addr, poll, stratum, state, mode), (flags, reachability, since_sample), f)| {
                SourceData {
                    ip_addr,
                    poll,
                    stratum,
                    state,
                    mode,
                    flags,
                    reachability,
                    since_sample,
                    orig_latest_meas: f[0],
                    latest_meas: f[1],
                    latest_meas_err: f[2],
                }
            },
        )
}

fn source_stats() -> impl Strategy<Value = SourceStats> {
    (
        (
            any::<u32>(),
            address(),
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
        ),
        prop::array::uniform5(chrony_float()),
    )
        .prop_map(
            |((ref_id, ip_addr, n_samples, n_runs, span_seconds), f)| SourceStats {
                ref_id: RefId(ref_id),
                ip_addr,
                n_samples,
                n_runs,
                span_seconds,
                std_dev: f[0],
                resid_freq_ppm: f[1],
                skew_ppm: f[2],
                est_offset: f[3],
                est_offset_err: f[4],
            },
        )
}

fn activity() -> impl Strategy<Value = Activity> {
    prop::array::uniform5(any::<i32>()).prop_map(|v| Activity {
        online: v[0],
        offline: v[1],
        burst_online: v[2],
        burst_offline: v[3],
        unresolved: v[4],
    })
}

/// Each format with exactly the fields it carries: 32-bit counters up to
/// SERVER_STATS3, 64-bit in SERVER_STATS4.
fn server_stats() -> impl Strategy<Value = ServerStats> {
    let narrow = || any::<u32>().prop_map(u64::from);
    let v1 = prop::array::uniform5(narrow()).prop_map(|c| ServerStats {
        format: ServerStatsFormat::V1,
        ntp_hits: c[0],
        cmd_hits: c[1],
        ntp_drops: c[2],
        cmd_drops: c[3],
        log_drops: c[4],
        ..Default::default()
    });
    let v2_v3 = (prop::array::uniform11(narrow()), any::<bool>()).prop_map(|(c, v3)| {
        let stats = ServerStats {
            format: ServerStatsFormat::V2,
            ntp_hits: c[0],
            cmd_hits: c[1],
            ntp_drops: c[2],
            cmd_drops: c[3],
            log_drops: c[4],
            nke_hits: Some(c[5]),
            nke_drops: Some(c[6]),
            ntp_auth_hits: Some(c[7]),
            ..Default::default()
        };
        if !v3 {
            return stats;
        }
        ServerStats {
            format: ServerStatsFormat::V3,
            ntp_interleaved_hits: Some(c[8]),
            ntp_timestamps: Some(c[9]),
            ntp_span_seconds: Some(c[10]),
            ..stats
        }
    });
    let v4 = prop::array::uniform17(any::<u64>()).prop_map(|c| ServerStats {
        format: ServerStatsFormat::V4,
        ntp_hits: c[0],
        cmd_hits: c[1],
        ntp_drops: c[2],
        cmd_drops: c[3],
        log_drops: c[4],
        nke_hits: Some(c[5]),
        nke_drops: Some(c[6]),
        ntp_auth_hits: Some(c[7]),
        ntp_interleaved_hits: Some(c[8]),
        ntp_timestamps: Some(c[9]),
        ntp_span_seconds: Some(c[10]),
        ntp_daemon_rx_timestamps: Some(c[11]),
        ntp_daemon_tx_timestamps: Some(c[12]),
        ntp_kernel_rx_timestamps: Some(c[13]),
        ntp_kernel_tx_timestamps: Some(c[14]),
        ntp_hw_rx_timestamps: Some(c[15]),
        ntp_hw_tx_timestamps: Some(c[16]),
    });
    prop_oneof![v1, v2_v3, v4]
}

/// NTP_DATA, or NTP_DATA2 with the timestamp counters.
fn ntp_data() -> impl Strategy<Value = NtpData> {
    let counts = prop::option::of(prop::array::uniform4(any::<u32>()).prop_map(|c| {
        NtpDataTimestampCounts {
            total_kernel_tx_ts: c[0],
            total_kernel_rx_ts: c[1],
            total_hw_tx_ts: c[2],
            total_hw_rx_ts: c[3],
        }
    }));
    (
        (
            address(),
            address(),
            any::<u16>(),
            prop::array::uniform4(any::<u8>()),
        ),
        (any::<i8>(), any::<i8>(), any::<u32>(), timespec()),
        prop::array::uniform7(chrony_float()),
        (any::<u16>(), any::<u8>(), any::<u8>()),
        (prop::array::uniform4(any::<u32>()), counts),
    )
        .prop_map(
            |(
                (remote_addr, local_addr, remote_port, [leap, version, mode, stratum]),
                (poll, precision, ref_id, ref_time),
                f,
                (flags, tx_tss_char, rx_tss_char),
                (totals, extended),
            )| NtpData {
                remote_addr,
                local_addr,
                remote_port,
                leap,
                version,
                mode,
                stratum,
                poll,
                precision,
                root_delay: f[0],
                root_dispersion: f[1],
                ref_id: RefId(ref_id),
                ref_time,
                offset: f[2],
                peer_delay: f[3],
                peer_dispersion: f[4],
                response_time: f[5],
                jitter_asymmetry: f[6],
                flags,
                tx_tss_char,
                rx_tss_char,
                total_tx_count: totals[0],
                total_rx_count: totals[1],
                total_valid_count: totals[2],
                total_good_count: totals[3],
                extended,
            },
        )
}

/// A configured name: bytes up to the first NUL, at most the 256 bytes
/// the reply has room for.
fn source_name() -> impl Strategy<Value = SourceName> {
    prop::collection::vec(1u8..=255, 0..256).prop_map(SourceName)
}

fn body() -> impl Strategy<Value = ReplyBody> {
    prop_oneof![
        Just(ReplyBody::Null),
        any::<u32>().prop_map(ReplyBody::NSources),
        source_data().prop_map(ReplyBody::SourceData),
        tracking().prop_map(ReplyBody::Tracking),
        source_stats().prop_map(ReplyBody::SourceStats),
        activity().prop_map(ReplyBody::Activity),
        server_stats().prop_map(ReplyBody::ServerStats),
        ntp_data().prop_map(ReplyBody::NtpData),
        source_name().prop_map(ReplyBody::NtpSourceName),
    ]
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        Just(Request::Tracking),
        Just(Request::NSources),
        any::<i32>().prop_map(|index| Request::SourceData { index }),
        any::<u32>().prop_map(|index| Request::SourceStats { index }),
        source_address().prop_map(|address| Request::NtpData { address }),
        Just(Request::ServerStats),
        Just(Request::Activity),
        source_address().prop_map(|address| Request::NtpSourceName { address }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// Every field of every body and format survives encode -> decode.
    #[test]
    fn every_reply_body_round_trips(body in body(), command in any::<u16>(), sequence in any::<u32>()) {
        let reply = Reply {
            header: ReplyHeader {
                command,
                reply_type: body.reply_type().to_wire(),
                status: Status::Success,
                sequence,
            },
            body,
        };
        let decoded = Reply::decode(&reply.encode());
        prop_assert_eq!(decoded.as_ref(), Ok(&reply));
    }

    /// A reply with its body parsed as the answer to the matching request.
    #[test]
    fn tracking_parses_as_the_reply_to_its_request(t in tracking(), sequence in any::<u32>()) {
        let reply = Reply {
            header: ReplyHeader {
                command: Request::Tracking.command(),
                reply_type: ReplyBody::Tracking(t.clone()).reply_type().to_wire(),
                status: Status::Success,
                sequence,
            },
            body: ReplyBody::Tracking(t.clone()),
        };
        let body = Request::Tracking.parse_reply(sequence, &reply.encode());
        prop_assert_eq!(body.ok(), Some(ReplyBody::Tracking(t)));
    }

    /// Requests encode with their sequence and attempt, and decode back.
    #[test]
    fn every_request_round_trips(request in request(), sequence in any::<u32>(), attempt in any::<u16>()) {
        let packet = request.encode(sequence, attempt);
        prop_assert_eq!(packet.len(), request.encoded_len());
        let decoded = Request::decode(&packet);
        prop_assert_eq!(decoded.ok(), Some((request, sequence, attempt)));
    }
}
