//! The chronyd client against a real chronyd, field by field against
//! `chronyc -c` of the same daemon, over UDP and over the unix socket: the
//! installed chrony, and every version of the matrix (docs/chrony-versions.md)
//! against its own chronyc, by the fields that version prints.

mod common;

use std::time::{Duration, Instant};

use clockwatch::chrony::{ChronyAddress, ChronyClient, ChronyError, Transport};
use cmdmon::{Address, ReplyBody, Request, SourceData, SourceStats, Status, Tracking};
use common::{
    chrony_of_version, chronyc, csv_fields, reply_sockets, skip_unless, unreachable_server,
    ChronyPair, Clockwatch, PairOptions,
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

/// Reply socket names: the prefix and 128 random bits, no pid.
fn is_reply_socket_name(name: &str) -> bool {
    name.strip_prefix("clockwatch-")
        .and_then(|rest| rest.strip_suffix(".sock"))
        .is_some_and(|hex| {
            hex.len() == 32
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// Issue 16, point 4: the sweep at the first unix session removes only
/// sockets that are provably dead (a connect is refused: nobody is bound),
/// whatever their name says; a live socket of another process survives, be
/// it in our naming scheme, named with our own pid (every container's
/// process is pid 1: the old sweep took such a name for one of ours from an
/// earlier run), or connected to chronyd as a running exporter's is.
#[tokio::test]
async fn the_sweep_removes_dead_reply_sockets_and_never_a_live_one() {
    use std::os::unix::net::UnixDatagram;
    let Some(pair) = pair_with_unreachable_source() else {
        return;
    };
    let dir = pair.socket.parent().expect("dir");
    let bind = |name: &str| {
        let path = dir.join(name);
        (UnixDatagram::bind(&path).expect("bind"), path)
    };
    let live_other = bind("clockwatch-0123456789abcdef0123456789abcdef.sock");
    let live_own_pid = bind(&format!("clockwatch-{}-00000001.sock", std::process::id()));
    let live_exporter = bind("clockwatch-fedcba98765432100123456789abcdef.sock");
    live_exporter
        .0
        .connect(&pair.socket)
        .expect("connect to chronyd");
    // Bound, then closed: the file stays, nobody is bound to it.
    let dead: Vec<_> = [
        "clockwatch-00000000000000000000000000000001.sock",
        "clockwatch-4194305-deadbeef.sock", // the old scheme's
        &format!("clockwatch-{}-00000002.sock", std::process::id()),
    ]
    .iter()
    .map(|name| bind(name).1)
    .collect();
    let not_a_socket = dir.join("clockwatch-ffffffffffffffffffffffffffffffff.sock");
    std::fs::write(&not_a_socket, b"").expect("create file");
    let (_, unrelated) = bind("someone-else.sock");

    let c = client(&pair.unix_address());
    tracking(&c).await;
    for path in &dead {
        assert!(!path.exists(), "dead {} not removed", path.display());
    }
    for path in [
        &live_other.1,
        &live_own_pid.1,
        &live_exporter.1,
        &not_a_socket,
        &unrelated,
    ] {
        assert!(path.exists(), "{} was removed", path.display());
    }
    // The live exporter's socket still gets chronyd's replies.
    let request = Request::Tracking.encode(0x5eed, 0);
    live_exporter.0.send(&request).expect("send");
    live_exporter
        .0
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let mut buf = [0u8; 1024];
    let n = live_exporter.0.recv(&mut buf).expect("chronyd replies");
    assert!(
        matches!(
            Request::Tracking.parse_reply(0x5eed, &buf[..n]),
            Ok(ReplyBody::Tracking(_))
        ),
        "not a tracking reply"
    );
    // Our own socket is named by the new scheme.
    let ours: Vec<String> = reply_sockets(dir)
        .into_iter()
        .filter(|n| n != "clockwatch-0123456789abcdef0123456789abcdef.sock")
        .filter(|n| n != "clockwatch-fedcba98765432100123456789abcdef.sock")
        .filter(|n| n != "clockwatch-ffffffffffffffffffffffffffffffff.sock")
        .filter(|n| !n.starts_with(&format!("clockwatch-{}-", std::process::id())))
        .collect();
    assert_eq!(ours.len(), 1, "{ours:?}");
    assert!(is_reply_socket_name(&ours[0]), "{ours:?}");
}

/// The pid of the clockwatch process under bubblewrap's `wrapper` pid, and
/// its pid inside its own pid namespace (NSpid's last field).
fn sandboxed_pids(wrapper: u32) -> (u32, u32) {
    let mut pending = vec![wrapper];
    while let Some(pid) = pending.pop() {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() == "clockwatch" {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            let inner = status
                .lines()
                .find_map(|l| l.strip_prefix("NSpid:"))
                .and_then(|l| l.split_whitespace().last())
                .and_then(|p| p.parse().ok())
                .expect("NSpid in /proc/PID/status");
            return (pid, inner);
        }
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        pending.extend(
            children
                .split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok()),
        );
    }
    panic!("no clockwatch under bwrap pid {wrapper}");
}

/// Two exporters sharing chronyd's socket directory, each pid 1 in a pid
/// namespace of its own (a surge rollout, a debug pod next to the
/// DaemonSet's): neither removes the other's socket, and both keep reading
/// ntpdata and serverstats. A third, started after one was killed, sweeps
/// the killed one's socket and leaves the live one's.
#[test]
fn exporters_in_separate_pid_namespaces_share_the_socket_directory() {
    if skip_unless(&["chronyd", "chronyc", "bwrap"], true) {
        return;
    }
    let pair = ChronyPair::start();
    let dir = pair.socket.parent().expect("dir").to_path_buf();
    let wrapper = [
        "bwrap",
        "--dev-bind",
        "/",
        "/",
        "--proc",
        "/proc",
        "--unshare-pid",
        "--as-pid-1",
        "--die-with-parent",
        "--",
    ];
    let address = pair.unix_address();
    let args = ["--chrony.address", &address, "--chrony.timeout", "2s"];
    let scrape = |cw: &Clockwatch, who: &str| {
        let m = cw.metrics();
        assert_eq!(m.value("chrony_up"), 1.0, "{who}: {}", cw.log_text());
        // Only the unix socket answers serverstats.
        assert!(
            m.has("chrony_serverstats_command_packets_received_total"),
            "{who}: {}",
            m.text
        );
    };
    let a = Clockwatch::start_wrapped(&wrapper, &args);
    assert_eq!(
        sandboxed_pids(a.pid()).1,
        1,
        "a is not pid 1 in its namespace"
    );
    scrape(&a, "a");
    let a_socket = reply_sockets(&dir);
    assert_eq!(a_socket.len(), 1, "{a_socket:?}");
    assert!(is_reply_socket_name(&a_socket[0]), "{a_socket:?}");

    let mut b = Clockwatch::start_wrapped(&wrapper, &args);
    assert_eq!(
        sandboxed_pids(b.pid()).1,
        1,
        "b is not pid 1 in its namespace"
    );
    scrape(&b, "b");
    let both = reply_sockets(&dir);
    assert_eq!(both.len(), 2, "{both:?}");
    assert!(
        both.contains(&a_socket[0]),
        "b removed a's socket: {both:?}"
    );
    for _ in 0..5 {
        scrape(&a, "a");
        scrape(&b, "b");
    }
    // Each kept its socket all along (one that lost its file binds anew,
    // under a new name).
    assert_eq!(reply_sockets(&dir).len(), 2);
    assert!(reply_sockets(&dir).contains(&a_socket[0]));

    // Killed, b leaves its socket file behind: dead, and swept by the next.
    let (b_host_pid, _) = sandboxed_pids(b.pid());
    common::signal(b_host_pid, "KILL");
    b.wait_exit(Duration::from_secs(10)).expect("b exits");
    assert_eq!(reply_sockets(&dir).len(), 2, "b's file is left behind");
    let c = Clockwatch::start_wrapped(&wrapper, &args);
    scrape(&c, "c");
    let after = reply_sockets(&dir);
    assert_eq!(after.len(), 2, "{after:?}");
    assert!(
        after.contains(&a_socket[0]),
        "c removed a's live socket: {after:?}"
    );
    let b_socket: Vec<&String> = both.iter().filter(|n| **n != a_socket[0]).collect();
    assert!(
        !after.contains(b_socket[0]),
        "c left b's dead socket: {after:?}"
    );
    scrape(&a, "a");
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

/// Issue 16, point 3: `auto` used to stick to UDP for ever once it had
/// chosen it. Here its socket path is a chronyd's that first runs without
/// the socket (UDP chosen; ntpdata and serverstats skipped), then leaves a
/// dead socket file (still UDP), then is restarted with its socket: the next
/// collection uses the socket and has ntpdata and serverstats again. When
/// chronyd goes back to UDP only, the failed socket session sends `auto`
/// back to UDP.
#[tokio::test]
async fn auto_moves_to_the_socket_when_it_becomes_usable_and_back() {
    use clockwatch::chrony::AutoTargets;
    use clockwatch::collect::{Collector, Enabled, Snapshot};
    let Some(mut pair) = pair_with_unreachable_source() else {
        return;
    };
    let with_socket = std::fs::read_to_string(&pair.client.conf).expect("conf");
    let socket_line = format!("bindcmdaddress {}\n", pair.socket.display());
    assert!(with_socket.contains(&socket_line), "{with_socket}");
    // `bindcmdaddress /` turns chronyd's unix socket off.
    let udp_only = with_socket.replace(&socket_line, "bindcmdaddress /\n");
    let restart = |pair: &mut ChronyPair, conf: &str| {
        std::fs::write(&pair.client.conf, conf).expect("write conf");
        pair.client.restart();
        pair.wait_synchronised(Duration::from_secs(30));
    };
    pair.client.stop();
    // Killed, chronyd leaves its socket file.
    let _ = std::fs::remove_file(&pair.socket);
    restart(&mut pair, &udp_only);
    assert!(!pair.socket.exists());

    let udp: std::net::SocketAddr = ([127, 0, 0, 1], pair.cmd_port).into();
    let client = ChronyClient::new(ChronyAddress::Auto, Duration::from_secs(2)).with_auto_targets(
        AutoTargets {
            socket: pair.socket.clone(),
            udp: vec![udp],
            ..AutoTargets::default()
        },
    );
    let collector = Collector::new(client, Enabled::default(), None);
    let ntp_of_upstream = |snapshot: &Snapshot| {
        snapshot
            .chrony
            .sources
            .iter()
            .find(|s| s.address == "127.0.0.1")
            .and_then(|s| s.ntp.clone())
    };

    for _ in 0..3 {
        let snapshot = collector.collect().await;
        assert!(snapshot.chrony.up, "{:?}", snapshot.chrony.error);
        assert_eq!(snapshot.chrony.transport, Some(Transport::Udp));
        assert!(snapshot.chrony.server_stats.is_none());
        assert!(ntp_of_upstream(&snapshot).is_none());
    }
    // A dead socket file (bound, then closed): tried, refused, still UDP.
    drop(std::os::unix::net::UnixDatagram::bind(&pair.socket).expect("bind"));
    let snapshot = collector.collect().await;
    assert_eq!(snapshot.chrony.transport, Some(Transport::Udp));
    assert!(snapshot.chrony.up, "{:?}", snapshot.chrony.error);

    // chronyd restarted with its socket (it replaces the dead file).
    restart(&mut pair, &with_socket);
    let snapshot = collector.collect().await;
    assert!(snapshot.chrony.up, "{:?}", snapshot.chrony.error);
    assert_eq!(
        snapshot.chrony.transport,
        Some(Transport::Unix),
        "auto did not move to the socket"
    );
    assert!(snapshot.chrony.server_stats.is_some(), "no serverstats");
    let ntp = ntp_of_upstream(&snapshot).expect("ntpdata of the upstream");
    assert_eq!(ntp.remote_port, pair.ntp_port, "ntpdata of another source");
    let chronyc = pair.chronyc_unix(&["ntpdata", "127.0.0.1"]);
    let f = csv_fields(&chronyc);
    assert_eq!(f[0], "127.0.0.1", "{chronyc}");
    assert_eq!(f[2], pair.ntp_port.to_string(), "{chronyc}");
    // ... and stays there.
    let snapshot = collector.collect().await;
    assert_eq!(snapshot.chrony.transport, Some(Transport::Unix));

    // Back to UDP only. The killed chronyd's socket file stays, so the
    // kept reply socket still looks connected to it: the first collection
    // may fail on it (its send is refused), and that failure sends `auto`
    // searching again, which finds UDP.
    restart(&mut pair, &udp_only);
    let snapshot = collector.collect().await;
    if !snapshot.chrony.up {
        let error = snapshot.chrony.error.clone().unwrap_or_default();
        assert!(error.contains("nothing is listening"), "{error}");
        let snapshot = collector.collect().await;
        assert!(snapshot.chrony.up, "{:?}", snapshot.chrony.error);
    }
    let snapshot = collector.collect().await;
    assert!(snapshot.chrony.up, "{:?}", snapshot.chrony.error);
    assert_eq!(snapshot.chrony.transport, Some(Transport::Udp));
    assert!(snapshot.chrony.server_stats.is_none());
}

#[test]
fn address_forms_reach_the_same_daemon() {
    if skip_unless(&["chronyd", "chronyc"], true) {
        return;
    }
    let pair = common::shared_pair();
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
