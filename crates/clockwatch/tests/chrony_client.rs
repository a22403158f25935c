//! The chronyd client against a real chronyd, field by field against
//! `chronyc -c` of the same daemon, over UDP and over the unix socket: the
//! installed chrony, and every version of the matrix (docs/chrony-versions.md)
//! against its own chronyc, by the fields that version prints.

mod common;

use std::time::{Duration, Instant};

use clockwatch::chrony::{ChronyAddress, ChronyClient, ChronyError, Transport};
use cmdmon::{Address, ReplyBody, Request, SourceData, SourceStats, Status, Tracking};
use common::{
    chrony_of_version, chronyc, reply_sockets, skip_unless, unreachable_server, ChronyPair,
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

/// One request's reply, or why there is none.
async fn query(c: &ChronyClient, request: Request) -> Result<ReplyBody, String> {
    let session = c.session().await.map_err(|e| e.to_string())?;
    session.query(request).await.map_err(|e| e.to_string())
}

/// The replies to `requests`, pipelined, each picked out by `pick`.
async fn query_all<T>(
    c: &ChronyClient,
    requests: &[Request],
    pick: impl Fn(ReplyBody) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    let session = c.session().await.map_err(|e| e.to_string())?;
    let mut list = Vec::new();
    for reply in session.query_many(requests).await {
        list.push(pick(reply.map_err(|e| e.to_string())?)?);
    }
    Ok(list)
}

/// Every source's data, in chronyd's order.
async fn sources(c: &ChronyClient) -> Result<Vec<SourceData>, String> {
    let n = match query(c, Request::NSources).await? {
        ReplyBody::NSources(n) => n,
        other => return Err(format!("unexpected {other:?}")),
    };
    let requests: Vec<Request> = (0..n as i32)
        .map(|index| Request::SourceData { index })
        .collect();
    query_all(c, &requests, |body| match body {
        ReplyBody::SourceData(s) => Ok(s),
        other => Err(format!("unexpected {other:?}")),
    })
    .await
}

/// The statistics of the first `n` sources.
async fn sourcestats(c: &ChronyClient, n: usize) -> Result<Vec<SourceStats>, String> {
    let requests: Vec<Request> = (0..n as u32)
        .map(|index| Request::SourceStats { index })
        .collect();
    query_all(c, &requests, |body| match body {
        ReplyBody::SourceStats(s) => Ok(s),
        other => Err(format!("unexpected {other:?}")),
    })
    .await
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

/// Tracking over each transport against `chronyc -c tracking`.
async fn tracking_matches_chronyc(pair: &ChronyPair) {
    for address in [pair.udp_address(), pair.unix_address()] {
        let c = client(&address);
        eventually(&format!("tracking over {address}"), || async {
            let ours = tracking(&c).await;
            let theirs = pair.chronyc(&["tracking"]);
            let after = tracking(&c).await;
            chronyc::tracking(&ours, &theirs, &after)
        })
        .await;
    }
}

/// Sources, sourcestats and activity over each transport against chronyc;
/// the first two taken before and after chronyc's, as values move on.
async fn sources_sourcestats_and_activity_match_chronyc(pair: &ChronyPair) {
    for address in [pair.udp_address(), pair.unix_address()] {
        let c = client(&address);
        eventually(&format!("sources over {address}"), || async {
            let before = sources(&c).await?;
            let csv = pair.chronyc(&["sources"]);
            let after = sources(&c).await?;
            let lines: Vec<&str> = csv.lines().collect();
            chronyc::same("number of sources", before.len(), lines.len())?;
            chronyc::same("number of sources after", before.len(), after.len())?;
            for ((s, line), later) in before.iter().zip(lines).zip(&after) {
                chronyc::source(s, line, later)?;
            }
            Ok(())
        })
        .await;
        eventually(&format!("sourcestats over {address}"), || async {
            let n = sources(&c).await?.len();
            let before = sourcestats(&c, n).await?;
            let csv = pair.chronyc(&["sourcestats"]);
            let after = sourcestats(&c, n).await?;
            let lines: Vec<&str> = csv.lines().collect();
            chronyc::same("number of sourcestats", n, lines.len())?;
            for ((s, line), later) in before.iter().zip(lines).zip(&after) {
                chronyc::sourcestats(s, line, later)?;
            }
            Ok(())
        })
        .await;
        eventually(&format!("activity over {address}"), || async {
            match query(&c, Request::Activity).await? {
                ReplyBody::Activity(a) => chronyc::activity(&a, &pair.chronyc(&["activity"])),
                other => Err(format!("unexpected {other:?}")),
            }
        })
        .await;
    }
}

/// ntpdata and serverstats (the socket only), against chronyc by the
/// fields the pair's version prints; the upstream's serverstats too when it
/// has a socket (its counters, unlike the client's, are not all zero).
async fn ntp_data_server_stats_and_names_match_chronyc(pair: &ChronyPair) {
    let version = pair.chrony.version;
    let c = client(&pair.unix_address());
    let upstream = Address::V4([127, 0, 0, 1].into());
    eventually("ntpdata", || async {
        let session = c.session().await.map_err(|e| e.to_string())?;
        assert_eq!(session.transport(), Transport::Unix);
        match query(&c, Request::NtpData { address: upstream }).await? {
            ReplyBody::NtpData(d) => {
                chronyc::ntpdata(version, &d, &pair.chronyc_unix(&["ntpdata", "127.0.0.1"]))
            }
            other => Err(format!("unexpected {other:?}")),
        }
    })
    .await;

    eventually("serverstats", || async {
        match query(&c, Request::ServerStats).await? {
            ReplyBody::ServerStats(s) => {
                chronyc::serverstats(version, &s, &pair.chronyc_unix(&["serverstats"]))
            }
            other => Err(format!("unexpected {other:?}")),
        }
    })
    .await;
    if let Some(socket) = &pair.upstream_socket {
        let up = client(&format!("unix://{}", socket.display()));
        eventually("the upstream's serverstats", || async {
            match query(&up, Request::ServerStats).await? {
                ReplyBody::ServerStats(s) if s.ntp_hits == 0 => {
                    Err(format!("the upstream counted no NTP request: {s:?}"))
                }
                ReplyBody::ServerStats(s) => {
                    chronyc::serverstats(version, &s, &pair.chronyc_upstream(&["serverstats"]))
                }
                other => Err(format!("unexpected {other:?}")),
            }
        })
        .await;
    }

    // Names as configured, against `chronyc -N sources` (same order).
    eventually("source names", || async {
        let list = sources(&c).await?;
        let named = pair.chronyc(&["-N", "sources"]);
        let lines: Vec<&str> = named.lines().collect();
        chronyc::same("number of sources", list.len(), lines.len())?;
        for (s, line) in list.iter().zip(lines) {
            match query(&c, Request::NtpSourceName { address: s.ip_addr }).await? {
                ReplyBody::NtpSourceName(n) => chronyc::source_name(&n, line)?,
                other => return Err(format!("unexpected {other:?}")),
            }
        }
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn tracking_matches_chronyc_over_udp_and_unix() {
    let Some(pair) = pair_with_unreachable_source() else {
        return;
    };
    pair.settle();
    tracking_matches_chronyc(&pair).await;
}

#[tokio::test]
async fn sources_and_sourcestats_match_chronyc() {
    let Some(pair) = pair_with_unreachable_source() else {
        return;
    };
    pair.settle();
    sources_sourcestats_and_activity_match_chronyc(&pair).await;
}

#[tokio::test]
async fn ntp_data_server_stats_activity_and_names_over_unix() {
    let Some(pair) = pair_with_unreachable_source() else {
        return;
    };
    pair.settle();
    ntp_data_server_stats_and_names_match_chronyc(&pair).await;
}

/// One version of the matrix: its chronyd pair (upstream and client both
/// that version), every report against that version's own chronyc.
async fn version_matches_its_chronyc(version: &str) {
    let Some(chrony) = chrony_of_version(version) else {
        return;
    };
    let pair = ChronyPair::start_with(PairOptions {
        client_extra: unreachable_server(2),
        chrony: Some(chrony),
        upstream_socket: true,
        ..PairOptions::default()
    });
    pair.settle();
    tracking_matches_chronyc(&pair).await;
    sources_sourcestats_and_activity_match_chronyc(&pair).await;
    ntp_data_server_stats_and_names_match_chronyc(&pair).await;
}

#[tokio::test]
async fn chrony_4_0_matches_its_chronyc() {
    version_matches_its_chronyc("4.0").await;
}

#[tokio::test]
async fn chrony_4_3_matches_its_chronyc() {
    version_matches_its_chronyc("4.3").await;
}

#[tokio::test]
async fn chrony_4_6_1_matches_its_chronyc() {
    version_matches_its_chronyc("4.6.1").await;
}

#[tokio::test]
async fn chrony_4_9_matches_its_chronyc() {
    version_matches_its_chronyc("4.9").await;
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
