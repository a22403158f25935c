//! The chronyd client against a real chronyd, field by field against
//! `chronyc -c` of the same daemon, over UDP and over the unix socket.

mod common;

use std::time::{Duration, Instant};

use clockwatch::chrony::{ChronyAddress, ChronyClient, ChronyError, Transport};
use cmdmon::{Address, ReplyBody, Request, Status, Tracking};
use common::{
    between, close, csv_fields, reply_sockets, skip_unless, unreachable_server, ChronyPair,
    PairOptions,
};

/// The deadline covers every query of a session; these tests make many in
/// one, and the machine may be loaded. Timeouts have tests of their own.
fn client(address: &str) -> ChronyClient {
    ChronyClient::new(
        address.parse::<ChronyAddress>().expect("address"),
        Duration::from_secs(10),
    )
}

async fn tracking(c: &ChronyClient) -> Tracking {
    let session = c.session().await.expect("session");
    match session.query(Request::Tracking).await.expect("tracking") {
        ReplyBody::Tracking(t) => t,
        other => panic!("unexpected {other:?}"),
    }
}

/// chronyd is live: a value can change between our query and chronyc's.
/// Retries until one comparison matches completely; a decoding error never
/// would, so this cannot pass by chance.
async fn eventually<F, Fut>(what: &str, mut compare: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let mut last = String::new();
    for _ in 0..40 {
        match compare().await {
            Ok(()) => return,
            Err(e) => last = e,
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} never matched chronyc; last difference: {last}");
}

fn same<T: PartialEq + std::fmt::Debug>(what: &str, ours: T, theirs: T) -> Result<(), String> {
    if ours == theirs {
        Ok(())
    } else {
        Err(format!("{what}: ours {ours:?} vs chronyc {theirs:?}"))
    }
}

fn compare_tracking(t: &Tracking, line: &str, after: &Tracking) -> Result<(), String> {
    let f = csv_fields(line);
    same("same reference update", t.ref_time, after.ref_time)?;
    same("ref id", t.ref_id.to_hex(), f[0].clone())?;
    same("address", t.ip_addr.to_string(), f[1].clone())?;
    same("stratum", t.stratum.to_string(), f[2].clone())?;
    same(
        "ref time",
        format!("{}.{:09}", t.ref_time.seconds, t.ref_time.nanos),
        f[3].clone(),
    )?;
    between(
        "system time",
        t.current_correction,
        &f[4],
        after.current_correction,
    )?;
    close("last offset", t.last_offset, &f[5], 5e-10)?;
    close("rms offset", t.rms_offset, &f[6], 5e-10)?;
    close("frequency", t.freq_ppm, &f[7], 5e-4)?;
    close("residual frequency", t.resid_freq_ppm, &f[8], 5e-4)?;
    close("skew", t.skew_ppm, &f[9], 5e-4)?;
    close("root delay", t.root_delay, &f[10], 5e-10)?;
    between(
        "root dispersion",
        t.root_dispersion,
        &f[11],
        after.root_dispersion,
    )?;
    close("update interval", t.last_update_interval, &f[12], 0.05)?;
    same("leap status", t.leap_status.as_str(), f[13].as_str())
}

fn pair_with_unreachable_source() -> Option<ChronyPair> {
    if skip_unless(&["chronyd", "chronyc"], true) {
        return None;
    }
    Some(ChronyPair::start_with(PairOptions {
        // Polled, never heard from: a loopback port nothing listens on.
        client_extra: unreachable_server(2),
        ..PairOptions::default()
    }))
}

#[tokio::test]
async fn tracking_matches_chronyc_over_udp_and_unix() {
    let Some(pair) = pair_with_unreachable_source() else {
        return;
    };
    pair.settle();
    for address in [pair.udp_address(), pair.unix_address()] {
        let c = client(&address);
        eventually(&format!("tracking over {address}"), || async {
            let ours = tracking(&c).await;
            let theirs = pair.chronyc(&["tracking"]);
            let after = tracking(&c).await;
            compare_tracking(&ours, &theirs, &after)
        })
        .await;
    }
}

#[tokio::test]
async fn sources_and_sourcestats_match_chronyc() {
    let Some(pair) = pair_with_unreachable_source() else {
        return;
    };
    pair.settle();
    for address in [pair.udp_address(), pair.unix_address()] {
        let c = client(&address);
        eventually(&format!("sources over {address}"), || async {
            let session = c.session().await.map_err(|e| e.to_string())?;
            let n = match session
                .query(Request::NSources)
                .await
                .map_err(|e| e.to_string())?
            {
                ReplyBody::NSources(n) => n,
                other => return Err(format!("unexpected {other:?}")),
            };
            let requests: Vec<Request> = (0..n as i32)
                .map(|index| Request::SourceData { index })
                .collect();
            let stats: Vec<Request> = (0..n).map(|index| Request::SourceStats { index }).collect();
            let replies = session.query_many(&requests).await;
            let stat_replies = session.query_many(&stats).await;
            let sources_csv = pair.chronyc(&["sources"]);
            let stats_csv = pair.chronyc(&["sourcestats"]);
            let lines: Vec<&str> = sources_csv.lines().collect();
            let stat_lines: Vec<&str> = stats_csv.lines().collect();
            same("number of sources", n as usize, lines.len())?;
            same("number of sourcestats", n as usize, stat_lines.len())?;
            for (reply, line) in replies.into_iter().zip(lines) {
                let s = match reply.map_err(|e| e.to_string())? {
                    ReplyBody::SourceData(s) => s,
                    other => return Err(format!("unexpected {other:?}")),
                };
                let f = csv_fields(line);
                same("mode", s.mode.symbol().to_string(), f[0].clone())?;
                same("state", s.state.symbol().to_string(), f[1].clone())?;
                same("name", s.ip_addr.to_string(), f[2].clone())?;
                same("stratum", s.stratum.to_string(), f[3].clone())?;
                same("poll", s.poll.to_string(), f[4].clone())?;
                same("reach", format!("{:o}", s.reachability), f[5].clone())?;
                if s.since_sample == u32::MAX {
                    same("last rx", s.since_sample.to_string(), f[6].clone())?;
                } else {
                    // Whole seconds, and chronyc asks after us: the same
                    // count, or one more if a second boundary fell between.
                    let ours = f64::from(s.since_sample);
                    between("last rx", ours, &f[6], ours + 1.0)?;
                }
                close("adjusted offset", s.latest_meas, &f[7], 5e-10)?;
                close("measured offset", s.orig_latest_meas, &f[8], 5e-10)?;
                close("error", s.latest_meas_err, &f[9], 5e-10)?;
            }
            for (reply, line) in stat_replies.into_iter().zip(stat_lines) {
                let s = match reply.map_err(|e| e.to_string())? {
                    ReplyBody::SourceStats(s) => s,
                    other => return Err(format!("unexpected {other:?}")),
                };
                let f = csv_fields(line);
                same("name", s.ip_addr.to_string(), f[0].clone())?;
                same("samples", s.n_samples.to_string(), f[1].clone())?;
                same("runs", s.n_runs.to_string(), f[2].clone())?;
                same("span", s.span_seconds.to_string(), f[3].clone())?;
                close("frequency", s.resid_freq_ppm, &f[4], 5e-4)?;
                close("skew", s.skew_ppm, &f[5], 5e-4)?;
                close("offset", s.est_offset, &f[6], 5e-10)?;
                close("std dev", s.std_dev, &f[7], 5e-10)?;
            }
            Ok(())
        })
        .await;
    }
}

#[tokio::test]
async fn ntp_data_server_stats_activity_and_names_over_unix() {
    let Some(pair) = pair_with_unreachable_source() else {
        return;
    };
    pair.settle();
    let c = client(&pair.unix_address());
    let upstream = Address::V4([127, 0, 0, 1].into());
    eventually("ntpdata", || async {
        let session = c.session().await.map_err(|e| e.to_string())?;
        assert_eq!(session.transport(), Transport::Unix);
        let d = match session
            .query(Request::NtpData { address: upstream })
            .await
            .map_err(|e| e.to_string())?
        {
            ReplyBody::NtpData(d) => d,
            other => return Err(format!("unexpected {other:?}")),
        };
        let f = csv_fields(&pair.chronyc_unix(&["ntpdata", "127.0.0.1"]));
        same("remote", d.remote_addr.to_string(), f[0].clone())?;
        same("port", d.remote_port.to_string(), f[2].clone())?;
        same("local", d.local_addr.to_string(), f[3].clone())?;
        same("version", d.version.to_string(), f[6].clone())?;
        same("stratum", d.stratum.to_string(), f[8].clone())?;
        same("poll", d.poll.to_string(), f[9].clone())?;
        same("precision", d.precision.to_string(), f[11].clone())?;
        close("root delay", d.root_delay, &f[13], 5e-7)?;
        close("root dispersion", d.root_dispersion, &f[14], 5e-7)?;
        same("ref id", d.ref_id.to_hex(), f[15].clone())?;
        same(
            "ref time",
            format!("{}.{:09}", d.ref_time.seconds, d.ref_time.nanos),
            f[17].clone(),
        )?;
        close("offset", d.offset, &f[18], 5e-10)?;
        close("peer delay", d.peer_delay, &f[19], 5e-10)?;
        close("peer dispersion", d.peer_dispersion, &f[20], 5e-10)?;
        close("response time", d.response_time, &f[21], 5e-10)?;
        close("jitter asymmetry", d.jitter_asymmetry, &f[22], 5e-3)?;
        same(
            "interleaved",
            if d.flags & 0x4000 != 0 { "Yes" } else { "No" },
            f[26].as_str(),
        )?;
        same("total tx", d.total_tx_count.to_string(), f[30].clone())?;
        same("total rx", d.total_rx_count.to_string(), f[31].clone())?;
        same(
            "total valid",
            d.total_valid_count.to_string(),
            f[32].clone(),
        )?;
        same("total good", d.total_good_count.to_string(), f[33].clone())
    })
    .await;

    let session = c.session().await.expect("session");
    let ours = match session
        .query(Request::ServerStats)
        .await
        .expect("serverstats")
    {
        ReplyBody::ServerStats(s) => s,
        other => panic!("unexpected {other:?}"),
    };
    let f: Vec<u64> = csv_fields(&pair.chronyc_unix(&["serverstats"]))
        .iter()
        .map(|v| v.parse().expect("number"))
        .collect();
    // chronyc's own queries are counted as command hits after ours.
    assert!(
        f[2] > ours.cmd_hits && f[2] <= ours.cmd_hits + 10,
        "cmd hits {} vs {}",
        ours.cmd_hits,
        f[2]
    );
    assert_eq!(
        [
            ours.ntp_hits,
            ours.ntp_drops,
            ours.cmd_drops,
            ours.log_drops
        ],
        [f[0], f[1], f[3], f[4]]
    );
    assert_eq!(
        [
            ours.nke_hits,
            ours.nke_drops,
            ours.ntp_auth_hits,
            ours.ntp_interleaved_hits,
            ours.ntp_timestamps,
            ours.ntp_span_seconds
        ],
        [
            Some(f[5]),
            Some(f[6]),
            Some(f[7]),
            Some(f[8]),
            Some(f[9]),
            Some(f[10])
        ]
    );

    let activity = match session.query(Request::Activity).await.expect("activity") {
        ReplyBody::Activity(a) => a,
        other => panic!("unexpected {other:?}"),
    };
    let f = csv_fields(&pair.chronyc(&["activity"]));
    assert_eq!(
        [
            activity.online,
            activity.offline,
            activity.burst_online,
            activity.burst_offline,
            activity.unresolved
        ]
        .map(|v| v.to_string())
        .to_vec(),
        f
    );

    // Names as configured, against `chronyc -N sources`.
    let named = pair.chronyc(&["-N", "sources"]);
    for line in named.lines() {
        let f = csv_fields(line);
        let ip: std::net::IpAddr = match f[2].parse() {
            Ok(ip) => ip,
            Err(_) => continue,
        };
        let name = match session
            .query(Request::NtpSourceName { address: ip.into() })
            .await
            .expect("name")
        {
            ReplyBody::NtpSourceName(n) => n.to_string(),
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(name, f[2]);
    }
}

#[tokio::test]
async fn unix_only_commands_are_refused_over_udp_with_advice() {
    let Some(pair) = pair_with_unreachable_source() else {
        return;
    };
    let c = client(&pair.udp_address());
    let session = c.session().await.expect("session");
    assert_eq!(session.transport(), Transport::Udp);
    for request in [
        Request::ServerStats,
        Request::NtpData {
            address: Address::V4([127, 0, 0, 1].into()),
        },
    ] {
        let err = session.query(request).await.expect_err("refused over UDP");
        match &err {
            ChronyError::Refused {
                status: Status::Unauthorised,
                ..
            } => {}
            other => panic!("expected a refusal, got {other:?}"),
        }
        let text = err.to_string();
        assert!(
            text.contains("unix socket") && text.contains("unix:///run/chrony/chronyd.sock"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn concurrent_unix_sessions_do_not_collide_and_leave_no_files() {
    let Some(pair) = pair_with_unreachable_source() else {
        return;
    };
    let c = std::sync::Arc::new(client(&pair.unix_address()));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let session = c.session().await.expect("session");
            let batch: Vec<Request> = (0..20).map(|_| Request::Tracking).collect();
            session
                .query_many(&batch)
                .await
                .into_iter()
                .filter(|r| r.is_ok())
                .count()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.expect("task"), 20);
    }
    let dir = pair.socket.parent().expect("dir");
    // One socket is kept for the next session; it goes with the client.
    let kept = reply_sockets(dir);
    assert_eq!(kept.len(), 1, "kept sockets: {kept:?}");
    drop(c);
    let leftovers = reply_sockets(dir);
    assert!(
        leftovers.is_empty(),
        "client sockets left behind: {leftovers:?}"
    );
}

/// A session reuses the socket of the one before (binding a named socket
/// costs more than a small scrape's queries), but not once chronyd has
/// restarted: the old connection only gets ECONNREFUSED, so the first query
/// after a restart must already reach the new daemon.
#[tokio::test]
async fn sessions_reuse_the_reply_socket_until_chronyd_restarts() {
    let Some(mut pair) = pair_with_unreachable_source() else {
        return;
    };
    let dir = pair.socket.parent().expect("dir").to_path_buf();
    let c = client(&pair.unix_address());
    tracking(&c).await;
    let first = reply_sockets(&dir);
    assert_eq!(first.len(), 1, "{first:?}");
    tracking(&c).await;
    assert_eq!(reply_sockets(&dir), first, "the socket was not reused");

    use std::os::unix::fs::MetadataExt;
    // Inode numbers are reused (ext4): the change time tells files apart.
    let inode = |p: &std::path::Path| {
        std::fs::metadata(p)
            .map(|m| (m.ino(), m.ctime(), m.ctime_nsec()))
            .ok()
    };
    let old_inode = inode(&pair.socket);
    pair.client.restart();
    // The killed daemon's file stays until the new one replaces it; once
    // replaced, the new daemon queues what is sent to it.
    let until = Instant::now() + Duration::from_secs(10);
    while inode(&pair.socket).is_none() || inode(&pair.socket) == old_inode {
        assert!(Instant::now() < until, "chronyd did not come back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let session = c.session().await.expect("session after restart");
    if let Err(e) = session.query(Request::NSources).await {
        panic!("the first query after the restart failed: {e}");
    }
    drop(session);
    let after = reply_sockets(&dir);
    assert_eq!(after.len(), 1, "{after:?}");
    assert_ne!(after, first, "a socket aimed at the old chronyd was reused");
}

#[tokio::test]
async fn stale_reply_sockets_of_dead_processes_are_removed() {
    let Some(pair) = pair_with_unreachable_source() else {
        return;
    };
    let dir = pair.socket.parent().expect("dir");
    // A pid that cannot exist (above pid_max), and one of ours from "before".
    let stale = [
        dir.join("clockwatch-4194305-deadbeef.sock"),
        dir.join(format!("clockwatch-{}-00000001.sock", std::process::id())),
    ];
    for s in &stale {
        std::fs::write(s, b"").expect("create stale file");
    }
    let unrelated = dir.join("someone-else.sock");
    std::fs::write(&unrelated, b"").expect("create file");
    let c = client(&pair.unix_address());
    tracking(&c).await;
    for s in &stale {
        assert!(!s.exists(), "{} not removed", s.display());
    }
    assert!(unrelated.exists(), "a file that is not ours was removed");
}

/// `auto` tries chronyd's default socket, then 127.0.0.1:323. With no socket
/// at the default path and a chronyd on 127.0.0.1:323 (serving its local
/// clock), it must fall back to UDP and reach that daemon.
#[tokio::test]
async fn auto_falls_back_to_udp_when_the_default_socket_is_absent() {
    if skip_unless(&["chronyd"], true) {
        return;
    }
    if std::path::Path::new(clockwatch::chrony::DEFAULT_SOCKET).exists()
        || std::net::UdpSocket::bind("127.0.0.1:323").is_err()
    {
        // A system chronyd owns the defaults: nothing to prove here.
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("in CI nothing may skip: a chronyd already uses the default socket or port 323");
        }
        eprintln!("\n*** SKIP: a chronyd already uses the default socket or port 323 ***\n");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("local.conf");
    std::fs::write(
        &conf,
        format!(
            "local stratum 5\nport 0\ncmdport 323\nbindcmdaddress 127.0.0.1\nbindcmdaddress {}\npidfile {}\n",
            dir.path().join("elsewhere.sock").display(),
            dir.path().join("pid").display()
        ),
    )
    .expect("conf");
    let _chronyd = common::Chronyd::start(&conf, &dir.path().join("log"));
    let c = client("auto");
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(session) = c.session().await {
            assert_eq!(session.transport(), Transport::Udp);
            assert_eq!(session.address(), "127.0.0.1:323");
            if let Ok(ReplyBody::Tracking(t)) = session.query(Request::Tracking).await {
                if t.ref_id.0 == 0x7F7F_0101 {
                    return; // the daemon we started, on its local clock
                }
            }
        }
        assert!(
            Instant::now() < until,
            "auto never reached the chronyd on 127.0.0.1:323"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[test]
fn address_forms_reach_the_same_daemon() {
    if skip_unless(&["chronyd", "chronyc"], true) {
        return;
    }
    let pair = ChronyPair::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for address in [
        format!("127.0.0.1:{}", pair.cmd_port),
        pair.udp_address(),
        pair.socket.display().to_string(),
    ] {
        let t = rt.block_on(tracking(&client(&address)));
        assert_eq!(t.ref_id.to_hex(), "7F000001", "{address}");
        assert_eq!(t.stratum, 4, "{address}");
    }
}
