//! Replies captured from real chronyd (see clockwatch's
//! tests/golden_capture.rs): each decodes to the values that daemon had, and
//! encodes back to the same bytes, so no field is lost or misplaced.
//!
//! `golden/VERSION/` holds, for each chrony version of the matrix (4.0, 4.3,
//! 4.6.1, 4.9; docs/chrony-versions.md), the replies and that version's
//! `chronyc -c` output of the same moment: every decoded field is compared
//! with what chronyc printed, by the fields that version prints (the
//! comparison is tests/chronyc/mod.rs, which clockwatch's live tests share).
//! The files directly in `golden/` are the first capture, from chrony 4.3,
//! kept as they were (its unreachable source is 192.0.2.1, from before the
//! tests' sources were loopback only).
//!
//! Formats no version of the matrix sends (SERVER_STATS) are built field by
//! field from the documented layout in `documented_layouts`, as are
//! SERVER_STATS4 and NTP_DATA2 with a distinct value in every field.

mod chronyc;

use chronyc::{Version, MATRIX};
use cmdmon::{
    Address, LeapStatus, Reply, ReplyBody, ReplyError, Request, ServerStatsFormat, SourceMode,
    SourceState, Status,
};

fn golden(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/golden/{name}.bin", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// What that version's chronyc printed with the replies (`VERSION/NAME.csv`).
fn printed(version: &str, name: &str) -> String {
    let path = format!(
        "{}/tests/golden/{version}/{name}.csv",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn line(text: &str, n: usize) -> &str {
    text.lines()
        .nth(n)
        .unwrap_or_else(|| panic!("no line {n} in {text:?}"))
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
    let mut names: Vec<String> = [
        "tracking",
        "source_data",
        "sourcestats",
        "ntp_data",
        "server_stats3",
        "ntp_source_name",
    ]
    .map(String::from)
    .to_vec();
    for version in MATRIX {
        for name in [
            "tracking",
            "n_sources",
            "source_data",
            "sourcestats",
            "activity",
            "ntp_data",
            "server_stats",
            "ntp_source_name",
        ] {
            names.push(format!("{version}/{name}"));
        }
    }
    for name in &names {
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

/// Each version's replies decoded, with the version, for the tests below.
struct Captured {
    name: &'static str,
    version: Version,
}

fn versions() -> impl Iterator<Item = Captured> {
    MATRIX.into_iter().map(|name| Captured {
        name,
        version: Version::parse(name).expect("a version number"),
    })
}

impl Captured {
    fn decode(&self, request: Request, file: &str) -> ReplyBody {
        decode(request, &format!("{}/{file}", self.name))
    }

    fn printed(&self, report: &str) -> String {
        printed(self.name, report)
    }

    /// Panics with the version and the difference.
    fn check(&self, what: &str, result: Result<(), String>) {
        if let Err(e) = result {
            panic!("chrony {}: {what}: {e}", self.name);
        }
    }
}

/// The body of version `v`'s `file`, which must be a `$variant` reply.
macro_rules! decoded {
    ($v:expr, $variant:ident, $request:expr, $file:expr) => {
        match $v.decode($request, $file) {
            ReplyBody::$variant(body) => body,
            other => panic!("chrony {}: {}: {other:?}", $v.name, $file),
        }
    };
}

#[test]
fn every_version_tracking_matches_its_chronyc() {
    for v in versions() {
        let t = decoded!(v, Tracking, Request::Tracking, "tracking");
        let after = decoded!(v, Tracking, Request::Tracking, "tracking_after");
        v.check(
            "tracking",
            chronyc::tracking(&t, &v.printed("tracking"), &after),
        );
        assert_eq!(
            (t.ref_id.to_hex(), t.ip_addr, t.stratum, t.leap_status),
            ("7F000001".to_string(), UPSTREAM, 4, LeapStatus::Normal),
            "{}",
            v.name
        );
        assert!(t.ref_time.seconds > 1_700_000_000, "{}", v.name);
        assert!(
            t.root_dispersion > 0.0 && t.root_dispersion < 1.0,
            "{}",
            v.name
        );
    }
}

#[test]
fn every_version_sources_match_its_chronyc() {
    for v in versions() {
        let printed = v.printed("sources");
        assert_eq!(
            v.decode(Request::NSources, "n_sources"),
            ReplyBody::NSources(printed.lines().count() as u32),
            "{}",
            v.name
        );
        let index = |index| Request::SourceData { index };
        let s = decoded!(v, SourceData, index(0), "source_data");
        let after = decoded!(v, SourceData, index(0), "source_data_after");
        v.check("source 0", chronyc::source(&s, line(&printed, 0), &after));
        // Polled every 8 s once the pair settled (ChronyPair::settle).
        assert_eq!(
            (s.ip_addr, s.mode, s.state, s.stratum, s.poll),
            (UPSTREAM, SourceMode::Client, SourceState::Selected, 3, 3),
            "{}",
            v.name
        );
        let u = decoded!(v, SourceData, index(1), "source_data_unreachable");
        v.check("source 1", chronyc::source(&u, line(&printed, 1), &u));
        assert_eq!(
            (u.ip_addr, u.state, u.reachability, u.since_sample),
            (
                Address::V4([127, 0, 0, 2].into()),
                SourceState::NonSelectable,
                0,
                u32::MAX
            ),
            "{}",
            v.name
        );
    }
}

#[test]
fn every_version_sourcestats_match_its_chronyc() {
    for v in versions() {
        let printed = v.printed("sourcestats");
        let index = |index| Request::SourceStats { index };
        let s = decoded!(v, SourceStats, index(0), "sourcestats");
        let after = decoded!(v, SourceStats, index(0), "sourcestats_after");
        v.check(
            "sourcestats 0",
            chronyc::sourcestats(&s, line(&printed, 0), &after),
        );
        assert!(
            s.n_samples >= 3 && s.n_runs >= 1 && s.n_runs <= s.n_samples,
            "{}: {s:?}",
            v.name
        );
        let u = decoded!(v, SourceStats, index(1), "sourcestats_unreachable");
        v.check(
            "sourcestats 1",
            chronyc::sourcestats(&u, line(&printed, 1), &u),
        );
        assert_eq!((u.n_samples, u.span_seconds), (0, 0), "{}", v.name);
    }
}

#[test]
fn every_version_activity_and_names_match_its_chronyc() {
    for v in versions() {
        let a = decoded!(v, Activity, Request::Activity, "activity");
        v.check("activity", chronyc::activity(&a, &v.printed("activity")));
        // Both sources online, the unreachable one still in its iburst.
        assert_eq!(
            (
                a.online,
                a.offline,
                a.burst_online,
                a.burst_offline,
                a.unresolved
            ),
            (1, 0, 1, 0, 0),
            "{}",
            v.name
        );
        let names = v.printed("sources_names");
        for (i, (address, file)) in [
            (UPSTREAM, "ntp_source_name"),
            (
                Address::V4([127, 0, 0, 2].into()),
                "ntp_source_name_unreachable",
            ),
        ]
        .into_iter()
        .enumerate()
        {
            let n = decoded!(v, NtpSourceName, Request::NtpSourceName { address }, file);
            v.check(file, chronyc::source_name(&n, line(&names, i)));
            assert_eq!(n.to_string(), address.to_string(), "{}", v.name);
        }
    }
}

#[test]
fn every_version_ntp_data_matches_its_chronyc() {
    for v in versions() {
        let request = Request::NtpData { address: UPSTREAM };
        let d = decoded!(v, NtpData, request, "ntp_data");
        v.check(
            "ntpdata",
            chronyc::ntpdata(v.version, &d, &v.printed("ntpdata")),
        );
        assert_eq!(
            (d.remote_addr, d.local_addr, d.version, d.mode, d.stratum),
            (UPSTREAM, UPSTREAM, 4, 4, 3),
            "{}",
            v.name
        );
        assert!(d.total_rx_count >= d.total_valid_count && d.total_valid_count >= 1);
        // NTP_DATA2 from 4.6: the kernel took every timestamp on loopback.
        match (v.version >= Version(4, 6, 0), d.extended) {
            (true, Some(x)) => {
                assert_eq!(x.total_kernel_rx_ts, d.total_rx_count, "{}", v.name);
                assert_eq!((x.total_hw_tx_ts, x.total_hw_rx_ts), (0, 0), "{}", v.name);
            }
            (false, None) => {}
            (_, other) => panic!("{}: timestamp counts {other:?}", v.name),
        }
        let refused = golden(&format!("{}/ntp_data_udp_refused", v.name));
        assert_eq!(
            request.parse_reply(SEQ, &refused),
            Err(ReplyError::Status(Status::Unauthorised)),
            "{}",
            v.name
        );
    }
}

#[test]
fn every_version_server_stats_match_its_chronyc() {
    for v in versions() {
        for (file, report) in [
            ("server_stats", "serverstats"),
            ("server_stats_upstream", "serverstats_upstream"),
        ] {
            let s = decoded!(v, ServerStats, Request::ServerStats, file);
            v.check(
                report,
                chronyc::serverstats(v.version, &s, &v.printed(report)),
            );
            assert_eq!(s.format, v.version.server_stats_format(), "{}", v.name);
            assert!(s.cmd_hits >= 1, "{}: {s:?}", v.name);
        }
        // The upstream answered the client's polls: each response carried
        // one receive timestamp (the kernel's, on loopback) and one
        // transmit timestamp (chronyd's, outside interleaved mode).
        let up = decoded!(
            v,
            ServerStats,
            Request::ServerStats,
            "server_stats_upstream"
        );
        assert!(up.ntp_hits >= 3, "{}: {up:?}", v.name);
        if up.format == ServerStatsFormat::V4 {
            let sum = |a: Option<u64>, b: Option<u64>, c: Option<u64>| {
                a.unwrap_or(0) + b.unwrap_or(0) + c.unwrap_or(0)
            };
            assert_eq!(
                sum(
                    up.ntp_daemon_rx_timestamps,
                    up.ntp_kernel_rx_timestamps,
                    up.ntp_hw_rx_timestamps
                ),
                up.ntp_hits - up.ntp_drops,
                "{}: {up:?}",
                v.name
            );
            assert_eq!(
                sum(
                    up.ntp_daemon_tx_timestamps,
                    up.ntp_kernel_tx_timestamps,
                    up.ntp_hw_tx_timestamps
                ),
                up.ntp_hits - up.ntp_drops,
                "{}: {up:?}",
                v.name
            );
            assert_eq!(
                (up.ntp_kernel_rx_timestamps, up.ntp_daemon_tx_timestamps),
                (Some(up.ntp_hits), Some(up.ntp_hits)),
                "{}",
                v.name
            );
        }
    }
}

/// Layouts written out word by word from candm.h's field order, with a
/// distinct value in every field, so that a misplaced field shows: the
/// captured replies have many fields at zero.
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
