//! Replies captured from a real chronyd 4.3 (see clockwatch's
//! tests/golden_capture.rs): each decodes to the values that daemon had, and
//! encodes back to the same bytes, so no field is lost or misplaced.
//! Formats chrony 4.3 does not send (SERVER_STATS, SERVER_STATS2,
//! SERVER_STATS4, NTP_DATA2) are built field by field from the documented
//! layout in `documented_layouts`.

use cmdmon::{
    Address, LeapStatus, Reply, ReplyBody, ReplyError, Request, ServerStatsFormat, SourceMode,
    SourceState, Status,
};

fn golden(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/golden/{name}.bin", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

const SEQ: u32 = 0x0102_0304;
const UPSTREAM: Address = Address::V4(std::net::Ipv4Addr::new(127, 0, 0, 1));

fn decode(request: Request, name: &str) -> ReplyBody {
    let bytes = golden(name);
    let body = request
        .parse_reply(SEQ, &bytes)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let reply = Reply::decode(&bytes).expect("decodes standalone");
    assert_eq!(reply.body, body);
    assert_eq!(
        reply.encode(),
        bytes,
        "{name}: re-encoding changed the bytes"
    );
    body
}

#[test]
fn tracking() {
    let ReplyBody::Tracking(t) = decode(Request::Tracking, "tracking") else {
        panic!("not tracking")
    };
    assert_eq!(t.ref_id.to_hex(), "7F000001");
    assert_eq!(t.ip_addr, UPSTREAM);
    assert_eq!(t.stratum, 4);
    assert_eq!(t.leap_status, LeapStatus::Normal);
    assert!(t.ref_time.seconds > 1_700_000_000, "{:?}", t.ref_time);
    assert!(t.current_correction.abs() < 1e-3 && t.last_offset.abs() < 1e-3);
    assert!(
        t.root_delay >= 0.0 && t.root_delay < 1.0,
        "{}",
        t.root_delay
    );
    assert!(t.root_dispersion > 0.0 && t.root_dispersion < 1.0);
    assert!(
        (0.0..=2.0).contains(&t.last_update_interval),
        "{}",
        t.last_update_interval
    );
}

#[test]
fn sources() {
    assert_eq!(
        decode(Request::NSources, "n_sources"),
        ReplyBody::NSources(2)
    );
    let ReplyBody::SourceData(s) = decode(Request::SourceData { index: 0 }, "source_data") else {
        panic!()
    };
    assert_eq!(
        (s.ip_addr, s.mode, s.state, s.stratum, s.poll),
        (UPSTREAM, SourceMode::Client, SourceState::Selected, 3, -2)
    );
    assert_eq!(s.reachability & 1, 1);
    let ReplyBody::SourceData(u) =
        decode(Request::SourceData { index: 1 }, "source_data_unreachable")
    else {
        panic!()
    };
    assert_eq!(u.ip_addr, Address::V4([192, 0, 2, 1].into()));
    assert_eq!(
        (u.state, u.reachability, u.since_sample),
        (SourceState::NonSelectable, 0, u32::MAX)
    );
}

#[test]
fn sourcestats_activity_and_name() {
    let ReplyBody::SourceStats(s) = decode(Request::SourceStats { index: 0 }, "sourcestats") else {
        panic!()
    };
    assert_eq!(
        (s.ip_addr, s.ref_id.to_hex()),
        (UPSTREAM, "7F000001".to_string())
    );
    assert!(s.n_samples >= 3 && s.n_runs >= 1 && s.n_runs <= s.n_samples);
    let ReplyBody::Activity(a) = decode(Request::Activity, "activity") else {
        panic!()
    };
    assert_eq!(
        (
            a.online,
            a.offline,
            a.burst_online,
            a.burst_offline,
            a.unresolved
        ),
        (1, 0, 1, 0, 0)
    );
    let ReplyBody::NtpSourceName(n) = decode(
        Request::NtpSourceName { address: UPSTREAM },
        "ntp_source_name",
    ) else {
        panic!()
    };
    assert_eq!(n.to_string(), "127.0.0.1");
}

#[test]
fn ntp_data_and_server_stats() {
    let ReplyBody::NtpData(d) = decode(Request::NtpData { address: UPSTREAM }, "ntp_data") else {
        panic!()
    };
    assert_eq!(
        (d.remote_addr, d.local_addr, d.version, d.mode, d.stratum),
        (UPSTREAM, UPSTREAM, 4, 4, 3)
    );
    assert_eq!(d.extended, None);
    assert!(d.total_rx_count >= d.total_valid_count && d.total_valid_count >= 1);
    let ReplyBody::ServerStats(s) = decode(Request::ServerStats, "server_stats3") else {
        panic!()
    };
    assert_eq!(s.format, ServerStatsFormat::V3);
    assert!(s.cmd_hits >= 1 && s.nke_hits == Some(0));
}

#[test]
fn refusal_over_udp() {
    let bytes = golden("ntp_data_udp_refused");
    let err = Request::NtpData { address: UPSTREAM }
        .parse_reply(SEQ, &bytes)
        .expect_err("refused");
    assert_eq!(err, ReplyError::Status(Status::Unauthorised));
}

#[test]
fn damaged_goldens_are_errors_not_panics() {
    for name in [
        "tracking",
        "source_data",
        "sourcestats",
        "ntp_data",
        "server_stats3",
        "ntp_source_name",
    ] {
        let bytes = golden(name);
        for cut in 0..bytes.len() {
            assert!(Reply::decode(&bytes[..cut]).is_err(), "{name} cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(
            Reply::decode(&longer).is_err(),
            "{name} with a trailing byte"
        );
    }
}

/// Layouts chrony 4.3 cannot produce, written out word by word from
/// candm.h's field order, so that a misplaced field shows.
mod documented_layouts {
    use super::*;

    fn header(command: u16, reply_type: u16) -> Vec<u8> {
        let mut b = vec![6, 2, 0, 0];
        b.extend_from_slice(&command.to_be_bytes());
        b.extend_from_slice(&reply_type.to_be_bytes());
        b.extend_from_slice(&[0; 8]); // status, pad1..3
        b.extend_from_slice(&SEQ.to_be_bytes());
        b.extend_from_slice(&[0; 8]);
        b
    }

    fn words32(b: &mut Vec<u8>, words: impl IntoIterator<Item = u32>) {
        for w in words {
            b.extend_from_slice(&w.to_be_bytes());
        }
    }

    #[test]
    fn server_stats_v1_v2_v4() {
        let mut v1 = header(54, 14);
        words32(&mut v1, [1, 2, 3, 4, 5]);
        let ReplyBody::ServerStats(s) = Request::ServerStats.parse_reply(SEQ, &v1).expect("v1")
        else {
            panic!()
        };
        assert_eq!(
            (
                s.format,
                s.ntp_hits,
                s.cmd_hits,
                s.ntp_drops,
                s.cmd_drops,
                s.log_drops
            ),
            (ServerStatsFormat::V1, 1, 2, 3, 4, 5)
        );
        assert_eq!(s.nke_hits, None);

        let mut v2 = header(54, 22);
        words32(&mut v2, 1..=8);
        let ReplyBody::ServerStats(s) = Request::ServerStats.parse_reply(SEQ, &v2).expect("v2")
        else {
            panic!()
        };
        assert_eq!(
            (
                s.ntp_hits,
                s.nke_hits,
                s.cmd_hits,
                s.ntp_drops,
                s.nke_drops,
                s.cmd_drops,
                s.log_drops,
                s.ntp_auth_hits
            ),
            (1, Some(2), 3, 4, Some(5), 6, 7, Some(8))
        );
        assert_eq!(s.ntp_interleaved_hits, None);

        let mut v4 = header(54, 25);
        for i in 1..=17u64 {
            // high word i, low word 100+i: checks Integer64 word order
            words32(&mut v4, [i as u32, 100 + i as u32]);
        }
        words32(&mut v4, [u32::MAX; 8]);
        let ReplyBody::ServerStats(s) = Request::ServerStats.parse_reply(SEQ, &v4).expect("v4")
        else {
            panic!()
        };
        let w = |i: u64| i << 32 | (100 + i);
        assert_eq!(s.format, ServerStatsFormat::V4);
        assert_eq!(
            [
                s.ntp_hits,
                s.cmd_hits,
                s.ntp_drops,
                s.cmd_drops,
                s.log_drops
            ],
            [w(1), w(3), w(4), w(6), w(7)]
        );
        assert_eq!(
            [
                s.nke_hits,
                s.nke_drops,
                s.ntp_auth_hits,
                s.ntp_interleaved_hits
            ],
            [Some(w(2)), Some(w(5)), Some(w(8)), Some(w(9))]
        );
        assert_eq!(
            [s.ntp_timestamps, s.ntp_span_seconds],
            [Some(w(10)), Some(w(11))]
        );
        assert_eq!(
            [s.ntp_daemon_rx_timestamps, s.ntp_daemon_tx_timestamps],
            [Some(w(12)), Some(w(13))]
        );
        assert_eq!(
            [s.ntp_kernel_rx_timestamps, s.ntp_kernel_tx_timestamps],
            [Some(w(14)), Some(w(15))]
        );
        assert_eq!(
            [s.ntp_hw_rx_timestamps, s.ntp_hw_tx_timestamps],
            [Some(w(16)), Some(w(17))]
        );
        assert_eq!(Reply::decode(&v4).expect("decodes").encode(), v4);
    }

    #[test]
    fn ntp_data2() {
        // Start from the captured NTP_DATA and extend it as chrony 4.6 does.
        let old = golden("ntp_data");
        let mut v2 = old[..28 + 108].to_vec(); // up to total_valid_count
        v2[6..8].copy_from_slice(&26u16.to_be_bytes());
        words32(
            &mut v2,
            [11, 21, 22, 23, 24, u32::MAX, u32::MAX, u32::MAX, u32::MAX],
        ); // good, kernel tx/rx, hw tx/rx, reserved
        let ReplyBody::NtpData(d) = Request::NtpData { address: UPSTREAM }
            .parse_reply(SEQ, &v2)
            .expect("v2")
        else {
            panic!()
        };
        assert_eq!(d.total_good_count, 11);
        let x = d.extended.expect("extended counters");
        assert_eq!(
            (
                x.total_kernel_tx_ts,
                x.total_kernel_rx_ts,
                x.total_hw_tx_ts,
                x.total_hw_rx_ts
            ),
            (21, 22, 23, 24)
        );
        assert_eq!(Reply::decode(&v2).expect("decodes").encode(), v2);
    }
}
