//! Captures raw replies of the real chronyd for cmdmon's golden tests:
//! `cargo test -p clockwatch --test golden_capture -- --ignored`
//! writes crates/cmdmon/tests/golden/*.bin (commit them).

mod common;

use std::net::UdpSocket;
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use cmdmon::{Address, Request};
use common::{skip_unless, unreachable_server, ChronyPair, PairOptions};

fn exchange_udp(port: u16, request: Request) -> Vec<u8> {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    s.connect(("127.0.0.1", port)).expect("connect");
    s.send(&request.encode(0x0102_0304, 0)).expect("send");
    let mut buf = [0u8; 1024];
    let n = s.recv(&mut buf).expect("reply");
    buf[..n].to_vec()
}

fn exchange_unix(path: &std::path::Path, request: Request) -> Vec<u8> {
    let own = path.with_file_name("golden-capture.sock");
    let _ = std::fs::remove_file(&own);
    let s = UnixDatagram::bind(&own).expect("bind");
    s.set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    s.connect(path).expect("connect");
    s.send(&request.encode(0x0102_0304, 0)).expect("send");
    let mut buf = [0u8; 1024];
    let n = s.recv(&mut buf).expect("reply");
    let _ = std::fs::remove_file(&own);
    buf[..n].to_vec()
}

#[test]
#[ignore = "writes golden files; run by hand when chrony's replies change"]
fn capture_golden_replies() {
    if skip_unless(&["chronyd"], true) {
        return;
    }
    let pair = ChronyPair::start_with(PairOptions {
        // Polled, never heard from: a loopback port nothing listens on.
        client_extra: unreachable_server(2),
        ..Default::default()
    });
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../cmdmon/tests/golden");
    std::fs::create_dir_all(&out).expect("golden dir");
    let upstream = Address::V4([127, 0, 0, 1].into());
    let captures = [
        ("tracking", exchange_udp(pair.cmd_port, Request::Tracking)),
        ("n_sources", exchange_udp(pair.cmd_port, Request::NSources)),
        (
            "source_data",
            exchange_udp(pair.cmd_port, Request::SourceData { index: 0 }),
        ),
        (
            "source_data_unreachable",
            exchange_udp(pair.cmd_port, Request::SourceData { index: 1 }),
        ),
        (
            "sourcestats",
            exchange_udp(pair.cmd_port, Request::SourceStats { index: 0 }),
        ),
        ("activity", exchange_udp(pair.cmd_port, Request::Activity)),
        (
            "ntp_source_name",
            exchange_udp(pair.cmd_port, Request::NtpSourceName { address: upstream }),
        ),
        (
            "ntp_data_udp_refused",
            exchange_udp(pair.cmd_port, Request::NtpData { address: upstream }),
        ),
        (
            "ntp_data",
            exchange_unix(&pair.socket, Request::NtpData { address: upstream }),
        ),
        (
            "server_stats3",
            exchange_unix(&pair.socket, Request::ServerStats),
        ),
    ];
    for (name, bytes) in captures {
        std::fs::write(out.join(format!("{name}.bin")), bytes).expect("write golden");
    }
}
