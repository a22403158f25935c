//! Captures raw replies of every chrony version of the matrix
//! (docs/chrony-versions.md), with that version's `chronyc -c` output of the
//! same moment, for cmdmon's golden tests:
//! `scripts/isolated cargo test -p clockwatch --test golden_capture -- --ignored`
//! writes crates/cmdmon/tests/golden/VERSION/ (commit it). Versions not built
//! (scripts/build-chrony-versions.sh) are skipped loudly.
//!
//! A capture is kept only once the replies match chronyc's output (the same
//! comparison the golden tests make), so a poll between the two cannot leave
//! a golden pair that disagrees. Values that move while chronyd answers
//! (tracking's correction and dispersion, a source's age and adjusted
//! offset, sourcestats' extrapolated offset) are captured just before and
//! just after chronyc (`*_after.bin`).

mod common;

use std::net::UdpSocket;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cmdmon::{Address, ReplyBody, ReplyError, Request, Status};
use common::{chrony_of_version, chronyc, unreachable_server, ChronyPair, PairOptions, MATRIX};

const SEQ: u32 = 0x0102_0304;
const UPSTREAM: Address = Address::V4(std::net::Ipv4Addr::new(127, 0, 0, 1));

fn exchange_udp(port: u16, request: Request) -> Vec<u8> {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    s.connect(("127.0.0.1", port)).expect("connect");
    s.send(&request.encode(SEQ, 0)).expect("send");
    let mut buf = [0u8; 1024];
    let n = s.recv(&mut buf).expect("reply");
    buf[..n].to_vec()
}

fn exchange_unix(path: &Path, request: Request) -> Vec<u8> {
    let own = path.with_file_name("golden-capture.sock");
    let _ = std::fs::remove_file(&own);
    let s = UnixDatagram::bind(&own).expect("bind");
    s.set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    s.connect(path).expect("connect");
    s.send(&request.encode(SEQ, 0)).expect("send");
    let mut buf = [0u8; 1024];
    let n = s.recv(&mut buf).expect("reply");
    let _ = std::fs::remove_file(&own);
    buf[..n].to_vec()
}

/// Files of one capture: name -> bytes (replies) or text (chronyc's output).
type Files = Vec<(&'static str, Vec<u8>)>;

fn body(request: Request, bytes: &[u8]) -> Result<ReplyBody, String> {
    request
        .parse_reply(SEQ, bytes)
        .map_err(|e| format!("{request:?}: {e}"))
}

macro_rules! decoded {
    ($variant:ident, $request:expr, $bytes:expr) => {
        match body($request, $bytes)? {
            ReplyBody::$variant(v) => v,
            other => return Err(format!("unexpected {other:?}")),
        }
    };
}

/// Tries `attempt` until its replies match chronyc's output.
fn consistent(what: &str, mut attempt: impl FnMut() -> Result<Files, String>) -> Files {
    let mut last = String::new();
    for _ in 0..40 {
        match attempt() {
            Ok(files) => return files,
            Err(e) => last = e,
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what}: no capture matched chronyc; last difference: {last}");
}

fn line(text: &str, n: usize) -> Result<&str, String> {
    text.lines()
        .nth(n)
        .ok_or_else(|| format!("chronyc printed no line {n}: {text:?}"))
}

fn capture_version(version: &str, out: &Path) {
    let Some(chrony) = chrony_of_version(version) else {
        return;
    };
    let version_number = chrony.version;
    let pair = ChronyPair::start_with(PairOptions {
        // Polled, never heard from: a loopback port nothing listens on.
        client_extra: unreachable_server(2),
        chrony: Some(chrony),
        upstream_socket: true,
        ..Default::default()
    });
    pair.settle();
    let port = pair.cmd_port;
    let upstream_socket = pair.upstream_socket.clone().expect("upstream socket");
    let mut files: Files = Vec::new();

    files.extend(consistent("tracking", || {
        let before = exchange_udp(port, Request::Tracking);
        let csv = pair.chronyc(&["tracking"]);
        let after = exchange_udp(port, Request::Tracking);
        chronyc::tracking(
            &decoded!(Tracking, Request::Tracking, &before),
            &csv,
            &decoded!(Tracking, Request::Tracking, &after),
        )?;
        Ok(vec![
            ("tracking.bin", before),
            ("tracking_after.bin", after),
            ("tracking.csv", csv.into_bytes()),
        ])
    }));

    let data = |index| Request::SourceData { index };
    files.extend(consistent("sources", || {
        let n = exchange_udp(port, Request::NSources);
        let (reachable, unreachable) = (exchange_udp(port, data(0)), exchange_udp(port, data(1)));
        let csv = pair.chronyc(&["sources"]);
        let after = exchange_udp(port, data(0));
        chronyc::same("sources", decoded!(NSources, Request::NSources, &n), 2)?;
        chronyc::source(
            &decoded!(SourceData, data(0), &reachable),
            line(&csv, 0)?,
            &decoded!(SourceData, data(0), &after),
        )?;
        // Never measured: nothing moves, one reply stands for both.
        let u = decoded!(SourceData, data(1), &unreachable);
        chronyc::source(&u, line(&csv, 1)?, &u)?;
        Ok(vec![
            ("n_sources.bin", n),
            ("source_data.bin", reachable),
            ("source_data_after.bin", after),
            ("source_data_unreachable.bin", unreachable),
            ("sources.csv", csv.into_bytes()),
        ])
    }));

    let stats = |index| Request::SourceStats { index };
    files.extend(consistent("sourcestats", || {
        let (reachable, unreachable) = (exchange_udp(port, stats(0)), exchange_udp(port, stats(1)));
        let csv = pair.chronyc(&["sourcestats"]);
        let after = exchange_udp(port, stats(0));
        chronyc::sourcestats(
            &decoded!(SourceStats, stats(0), &reachable),
            line(&csv, 0)?,
            &decoded!(SourceStats, stats(0), &after),
        )?;
        let u = decoded!(SourceStats, stats(1), &unreachable);
        chronyc::sourcestats(&u, line(&csv, 1)?, &u)?;
        Ok(vec![
            ("sourcestats.bin", reachable),
            ("sourcestats_after.bin", after),
            ("sourcestats_unreachable.bin", unreachable),
            ("sourcestats.csv", csv.into_bytes()),
        ])
    }));

    files.extend(consistent("activity", || {
        let bytes = exchange_udp(port, Request::Activity);
        let csv = pair.chronyc(&["activity"]);
        chronyc::activity(&decoded!(Activity, Request::Activity, &bytes), &csv)?;
        Ok(vec![
            ("activity.bin", bytes),
            ("activity.csv", csv.into_bytes()),
        ])
    }));

    files.extend(consistent("source names", || {
        let unreachable = Address::V4([127, 0, 0, 2].into());
        let name = |address| Request::NtpSourceName { address };
        let (up, dead) = (
            exchange_udp(port, name(UPSTREAM)),
            exchange_udp(port, name(unreachable)),
        );
        let csv = pair.chronyc(&["-N", "sources"]);
        chronyc::source_name(
            &decoded!(NtpSourceName, name(UPSTREAM), &up),
            line(&csv, 0)?,
        )?;
        chronyc::source_name(
            &decoded!(NtpSourceName, name(unreachable), &dead),
            line(&csv, 1)?,
        )?;
        Ok(vec![
            ("ntp_source_name.bin", up),
            ("ntp_source_name_unreachable.bin", dead),
            ("sources_names.csv", csv.into_bytes()),
        ])
    }));

    files.extend(consistent("ntpdata", || {
        let request = Request::NtpData { address: UPSTREAM };
        let refused = exchange_udp(port, request);
        if request.parse_reply(SEQ, &refused) != Err(ReplyError::Status(Status::Unauthorised)) {
            return Err(format!("ntpdata over UDP was not refused: {refused:?}"));
        }
        let bytes = exchange_unix(&pair.socket, request);
        let csv = pair.chronyc_unix(&["ntpdata", "127.0.0.1"]);
        chronyc::ntpdata(version_number, &decoded!(NtpData, request, &bytes), &csv)?;
        Ok(vec![
            ("ntp_data_udp_refused.bin", refused),
            ("ntp_data.bin", bytes),
            ("ntpdata.csv", csv.into_bytes()),
        ])
    }));

    files.extend(consistent("serverstats", || {
        let bytes = exchange_unix(&pair.socket, Request::ServerStats);
        let csv = pair.chronyc_unix(&["serverstats"]);
        let s = decoded!(ServerStats, Request::ServerStats, &bytes);
        chronyc::serverstats(version_number, &s, &csv)?;
        let up_bytes = exchange_unix(&upstream_socket, Request::ServerStats);
        let up_csv = pair.chronyc_upstream(&["serverstats"]);
        let up = decoded!(ServerStats, Request::ServerStats, &up_bytes);
        if up.ntp_hits == 0 {
            return Err("the upstream has counted no NTP request yet".into());
        }
        chronyc::serverstats(version_number, &up, &up_csv)?;
        Ok(vec![
            ("server_stats.bin", bytes),
            ("serverstats.csv", csv.into_bytes()),
            ("server_stats_upstream.bin", up_bytes),
            ("serverstats_upstream.csv", up_csv.into_bytes()),
        ])
    }));

    // Replaces the version's directory as a whole, so that no file of an
    // older capture stays beside the new ones.
    let dir = out.join(version);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("golden dir");
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).expect("write golden");
    }
    eprintln!("captured chrony {version} into {}", dir.display());
}

#[test]
#[ignore = "writes golden files; run by hand when chrony's replies change"]
fn capture_golden_replies() {
    let out: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cmdmon/tests/golden");
    for version in MATRIX {
        capture_version(version, &out);
    }
}
