//! Captures raw management responses of real ptp4l for ptpmgmt's golden
//! tests: `cargo test -p clockwatch --test ptp_golden_capture -- --ignored`
//! (as root, in a loopback-only namespace) writes
//! crates/ptpmgmt/tests/golden/ptp4l-VERSION/*.bin for bookworm's 3.1.1 and
//! the 4.x of scripts/build-linuxptp.sh (commit them).

mod common;

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::Duration;

use common::ptp::{collect, wait_for, Bench, Linuxptp, Ptp4l};
use ptpmgmt::{GetRequest, ManagementId, PortIdentity};

/// The sequence id of every captured exchange.
const SEQ: u16 = 0x0102;
/// Our port identity in the requests: zero clock, port 0x4242.
const ME: PortIdentity = PortIdentity {
    clock_identity: ptpmgmt::ClockIdentity([0; 8]),
    port_number: 0x4242,
};

/// Sends one GET (`id` replaced by `raw_id` if given) and returns the
/// `expect` answers.
fn exchange(p: &Ptp4l, id: ManagementId, raw_id: Option<u16>, expect: usize) -> Vec<Vec<u8>> {
    let own = p.socket.with_file_name("golden-capture.sock");
    let _ = std::fs::remove_file(&own);
    let s = UnixDatagram::bind(&own).expect("bind");
    s.set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    s.connect(&p.socket).expect("connect");
    let mut request = GetRequest::new(id, ME, SEQ).encode();
    if let Some(raw) = raw_id {
        request[52..54].copy_from_slice(&raw.to_be_bytes());
    }
    s.send(&request).expect("send");
    let mut answers = Vec::new();
    let mut buf = [0u8; 2048];
    for _ in 0..expect {
        let n = s.recv(&mut buf).expect("answer");
        answers.push(buf[..n].to_vec());
    }
    let _ = std::fs::remove_file(&own);
    answers
}

fn capture(p: &Ptp4l, role: &str, ports: usize, out: &Path) {
    let mut files = Vec::new();
    for id in ManagementId::ALL {
        let n = if id.is_per_port() { ports } else { 1 };
        for (i, bytes) in exchange(p, id, None, n).into_iter().enumerate() {
            let name = if id.is_per_port() {
                format!("{role}_{}_{}.bin", id.name().to_lowercase(), i + 1)
            } else {
                format!("{role}_{}.bin", id.name().to_lowercase())
            };
            files.push((name, bytes));
        }
    }
    // No such management id: the error status.
    let unknown = exchange(p, ManagementId::DefaultDataSet, Some(0x7777), 1);
    files.push((format!("{role}_no_such_id.bin"), unknown[0].clone()));
    for (name, bytes) in files {
        std::fs::write(out.join(name), bytes).expect("write golden file");
    }
}

fn capture_version(linuxptp: &Linuxptp) {
    let bench = Bench::start(linuxptp, 2);
    bench.wait_measuring();
    if linuxptp.major() >= 4 {
        bench.wait_slave();
    }
    // The first syncs come before the first delay measurement: wait for a
    // measured path delay, so the captures carry real values.
    let client = bench.client(&bench.slave.socket);
    wait_for(Duration::from_secs(30), "a measured path delay", || {
        collect(&client).is_ok_and(|r| r.current_ds.mean_path_delay.0 != 0)
    });
    let out = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../ptpmgmt/tests/golden")
        .join(format!("ptp4l-{}", linuxptp.version));
    std::fs::create_dir_all(&out).expect("golden dir");
    capture(&bench.slave, "slave", 2, &out);
    capture(&bench.gm, "gm", 1, &out);
    eprintln!("wrote {}", out.display());
}

#[test]
#[ignore = "writes golden files; run by hand when ptp4l's answers change"]
fn capture_golden_responses() {
    let (Some(v3), Some(v4)) = (Linuxptp::packaged(), Linuxptp::v4()) else {
        return;
    };
    capture_version(&v3);
    capture_version(&v4);
}
