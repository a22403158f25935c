//! clockwatch's timesyncd reader and bound against a real systemd-timesyncd
//! (Debian's, on a private system bus, see tests/common/timesyncd.rs),
//! every field compared with `busctl get-property` of the same daemon.
//!
//! **The host's clock.** timesyncd adjusts the clock it runs on, and a
//! network namespace does not give it another one. Its server is a chronyd
//! serving the host's own clock (`local`, `-x`), so every offset it measures
//! is the loopback round trip's asymmetry, a few µs: it slews the host's
//! clock by microseconds and sets the kernel's PLL mode, which nothing else
//! on a test machine relies on (chronyd instances of the other tests run
//! with -x). That is acceptable for a test machine, and nothing is restored:
//! restoring would itself be an adjustment. The tests whose timesyncd
//! synchronises take turns (`CLOCK`), so only one steers at a time.

mod common;
#[path = "common/timesyncd.rs"]
mod harness;

use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clockwatch::sys::adjtimex_read;
use clockwatch::timesyncd::bound::{self, Params, Why};
use clockwatch::timesyncd::{
    self, BusAddress, NtpMessage, Sample, ServerAddress, Status, TimesyncdError,
};
use clockwatch::verdict::SyncState;
use harness::{
    parse_busctl, skip_unless_timesyncd, NetNs, NtpServer, SystemBus, Timesyncd, TimesyncdConfig,
    NTP_SERVER,
};

static CLOCK: Mutex<()> = Mutex::new(());

fn read(address: &str, timeout: Duration) -> Result<Status, TimesyncdError> {
    let bus = BusAddress::parse(address).expect("bus address");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(timesyncd::read(&bus, timeout))
}

fn read_ok(bus: &SystemBus) -> Status {
    read(&bus.address(), Duration::from_secs(2)).unwrap_or_else(|e| panic!("read: {e}"))
}

fn now_unix() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

fn tokens_u64(t: &[String]) -> Vec<u64> {
    t.iter()
        .map(|x| x.parse().unwrap_or_else(|_| panic!("{x} in {t:?}")))
        .collect()
}

/// timesyncd's properties as busctl (sd-bus, another decoder than ours)
/// prints them.
fn busctl_status(bus: &SystemBus) -> Status {
    let one = |property: &str, signature: &str| {
        let p = parse_busctl(&bus.busctl_property(property));
        assert_eq!(p.signature, signature, "{property}");
        p.tokens
    };
    let single = |property: &str, signature: &str| one(property, signature).remove(0);
    let address = one("ServerAddress", "(iay)");
    let family: i32 = address[0].parse().expect("family");
    let count: usize = address[1].parse().expect("byte count");
    let bytes = address[2..]
        .iter()
        .map(|b| b.parse().expect("byte"))
        .collect::<Vec<u8>>();
    assert_eq!(bytes.len(), count);
    let m = one("NTPMessage", NtpMessage::SIGNATURE);
    // u u u u i t t ay(count + bytes) t t t t b t t
    let refid_len: usize = m[7].parse().expect("refid length");
    assert_eq!(refid_len, 4, "{m:?}");
    let refid: Vec<u8> = m[8..12].iter().map(|b| b.parse().expect("byte")).collect();
    let u = tokens_u64(&[&m[0..4], &m[5..7]].concat());
    let t = tokens_u64(&m[12..16]);
    let tail = tokens_u64(&m[17..19]);
    Status {
        server_name: single("ServerName", "s"),
        server_address: ServerAddress { family, bytes },
        poll_interval_usec: single("PollIntervalUSec", "t").parse().expect("t"),
        poll_interval_min_usec: single("PollIntervalMinUSec", "t").parse().expect("t"),
        poll_interval_max_usec: single("PollIntervalMaxUSec", "t").parse().expect("t"),
        root_distance_max_usec: single("RootDistanceMaxUSec", "t").parse().expect("t"),
        frequency: single("Frequency", "x").parse().expect("x"),
        ntp_message: NtpMessage {
            leap: u[0] as u32,
            version: u[1] as u32,
            mode: u[2] as u32,
            stratum: u[3] as u32,
            precision: m[4].parse().expect("precision"),
            root_delay_usec: u[4],
            root_dispersion_usec: u[5],
            reference_id: refid.try_into().expect("4 bytes"),
            origin_usec: t[0],
            receive_usec: t[1],
            transmit_usec: t[2],
            destination_usec: t[3],
            spike: match m[16].as_str() {
                "true" => true,
                "false" => false,
                other => panic!("spike flag {other}"),
            },
            packet_count: tail[0],
            jitter_usec: tail[1],
        },
    }
}

/// Ours, busctl's, ours again: compared only when timesyncd did not change
/// between our two reads (it updates at each sample).
fn ours_and_busctls(bus: &SystemBus) -> (Status, Status) {
    for _ in 0..5 {
        let before = read_ok(bus);
        let theirs = busctl_status(bus);
        let after = read_ok(bus);
        if before == after {
            return (after, theirs);
        }
    }
    panic!("timesyncd changed during every comparison");
}

fn wait_for_packets(bus: &SystemBus, t: &Timesyncd, at_least: u64, limit: Duration) -> Status {
    let until = Instant::now() + limit;
    loop {
        let s = read_ok(bus);
        if s.ntp_message.packet_count >= at_least {
            return s;
        }
        assert!(
            Instant::now() < until,
            "timesyncd had {} packets, not {at_least}, after {limit:?}:\n{}",
            s.ntp_message.packet_count,
            t.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// timedatectl's computation, in whole µs as it prints them: (offset, delay).
fn timedatectl_offset_delay(m: &NtpMessage) -> (i64, i64) {
    let (t1, t2, t3, t4) = (
        m.origin_usec as i64,
        m.receive_usec as i64,
        m.transmit_usec as i64,
        m.destination_usec as i64,
    );
    let delay = (t4 - t1) - (t3 - t2);
    let twice = (t2 + t3) - (t1 + t4);
    (twice.signum() * (twice.abs() / 2), delay)
}

/// A timesyncd synchronised to chronyd in its namespace, holding the turn
/// on the clock. Fields drop in order: the daemon first, the turn last.
struct Synchronised {
    timesyncd: Timesyncd,
    server: NtpServer,
    bus: SystemBus,
    _ns: NetNs,
    first: Status,
    _turn: std::sync::MutexGuard<'static, ()>,
}

/// None (after a loud skip) when the real daemon cannot run here.
fn synchronised(config: &TimesyncdConfig) -> Option<Synchronised> {
    if skip_unless_timesyncd() {
        return None;
    }
    let turn = CLOCK.lock().unwrap_or_else(|p| p.into_inner());
    let ns = NetNs::new();
    let server = NtpServer::start(&ns);
    let bus = SystemBus::start();
    let timesyncd = Timesyncd::start(&ns, &bus, config);
    let first = wait_for_packets(&bus, &timesyncd, 1, Duration::from_secs(20));
    Some(Synchronised {
        timesyncd,
        server,
        bus,
        _ns: ns,
        first,
        _turn: turn,
    })
}

#[test]
fn every_property_matches_busctl_and_the_bound_holds() {
    // Bound whole: a pattern taking only some fields would drop the rest.
    let Some(setup) = synchronised(&TimesyncdConfig::default()) else {
        return;
    };
    let bus = &setup.bus;

    let (ours, theirs) = ours_and_busctls(bus);
    assert_eq!(ours, theirs, "ours vs busctl");
    // And what the test set up.
    assert_eq!(ours.server_name, NTP_SERVER);
    assert_eq!(ours.server_address.ip(), Some(IpAddr::from([127, 0, 0, 2])));
    assert_eq!(ours.poll_interval_min_usec, 16_000_000);
    assert_eq!(ours.poll_interval_max_usec, 16_000_000);
    assert_eq!(ours.poll_interval_usec, 16_000_000);
    assert_eq!(ours.root_distance_max_usec, 5_000_000);
    let m = &ours.ntp_message;
    assert_eq!((m.leap, m.version, m.mode, m.stratum), (0, 4, 4, 2));
    assert_eq!(m.reference_id_text(), "7F7F0101", "chronyd's local clock");
    assert!(m.packet_count >= 1);

    // Offset and delay as timedatectl computes them from busctl's values.
    let sample = Sample::from_message(m).unwrap_or_else(|e| panic!("{e}"));
    let (offset_usec, delay_usec) = timedatectl_offset_delay(&theirs.ntp_message);
    assert!(
        (sample.offset_seconds * 1e6 - offset_usec as f64).abs() <= 0.5,
        "{sample:?} vs timedatectl's {offset_usec} µs"
    );
    assert!((sample.delay_seconds * 1e6 - delay_usec as f64).abs() < 1e-6);
    // One clock on both ends: microseconds.
    assert!(sample.offset_seconds.abs() < 1e-3, "{sample:?}");
    assert!(sample.delay_seconds < 10e-3, "{sample:?}");

    // The bound, against the formula evaluated here from busctl's values.
    let kernel = adjtimex_read().expect("adjtimex");
    let now = now_unix();
    let a = bound::assess(Some(&ours), kernel.offset_seconds, now, &Params::default());
    assert_eq!(
        (a.state, a.why),
        (SyncState::Synchronized, Why::Fresh),
        "{a:?}"
    );
    let tm = &theirs.ntp_message;
    let theta = offset_usec as f64 * 1e-6;
    let age = if tm.spike {
        now - tm.destination_usec as f64 * 1e-6
    } else {
        now - tm.destination_usec as f64 * 1e-6 + kernel.offset_seconds - theta
    };
    let expected = kernel.offset_seconds.abs()
        + delay_usec as f64 * 1e-6 / 2.0
        + tm.root_delay_usec as f64 * 1e-6 / 2.0
        + tm.root_dispersion_usec as f64 * 1e-6
        + 50e-6 * age.max(0.0)
        + if tm.spike {
            theta.abs() + 3.5e-6
        } else {
            2.5e-6
        };
    assert!(
        (a.bound_seconds - expected).abs() < 1e-6,
        "ours {a:?} vs formula {expected}"
    );
    assert!(
        (a.sample_age_seconds.unwrap_or(f64::NAN) - age).abs() < 1e-5,
        "{a:?} vs {age}"
    );
    assert!(a.bound_seconds < 5e-3, "{a:?}");
}

#[test]
fn the_kernels_maxerror_is_reset_at_each_adjustment_and_is_no_bound() {
    let Some(setup) = synchronised(&TimesyncdConfig::default()) else {
        return;
    };
    let (bus, t, first) = (&setup.bus, &setup.timesyncd, &setup.first);
    // Catch the next sample as it lands (16 s later) and read the kernel.
    let next = wait_for_packets(
        bus,
        t,
        first.ntp_message.packet_count + 1,
        Duration::from_secs(40),
    );
    let kernel = adjtimex_read().expect("adjtimex");
    let age = now_unix() - next.ntp_message.destination_usec as f64 * 1e-6;
    assert!(
        !next.ntp_message.spike,
        "a spike is not applied: {:?}",
        next.ntp_message
    );
    // timesyncd wrote maxerror = 0 (ADJ_MAXERROR) with the sample; the
    // kernel has added 500 µs at each second boundary since.
    let limit = 500e-6 * (age.ceil() + 1.0);
    assert!(
        kernel.maxerror_seconds <= limit,
        "maxerror {} s {age} s after the adjustment (limit {limit})",
        kernel.maxerror_seconds
    );
    // STA_PLL set, STA_UNSYNC cleared by that adjustment.
    assert_ne!(kernel.status & 0x0001, 0, "STA_PLL: {:#x}", kernel.status);
    assert_eq!(
        kernel.status & 0x0040,
        0,
        "STA_UNSYNC: {:#x}",
        kernel.status
    );
    // It then grows at 500 ppm whatever the clock does: a ceiling of the
    // kernel's own, unrelated to this node's error.
    std::thread::sleep(Duration::from_millis(2100));
    let later = adjtimex_read().expect("adjtimex");
    let still_same_sample = read_ok(bus).ntp_message == next.ntp_message;
    if still_same_sample {
        let grown = later.maxerror_seconds - kernel.maxerror_seconds;
        assert!(
            (0.9e-3..=1.6e-3).contains(&grown),
            "maxerror grew {grown} s in 2.1 s"
        );
    }
}

#[test]
fn server_stopped_goes_stale_then_unsynchronized() {
    // RootDistanceMaxSec=5ms: at 50 ppm the bound grows 3.2 ms in the 64 s
    // (4 polls of 16 s) until the sample turns stale, and reaches 5 ms some
    // 90 s after the last sample. Stale is seen as long as the last
    // sample's own distance (delay, dispersion, offset) is under 1.8 ms; at
    // 4 ms it had to be under 0.8 ms, and a loaded machine (several test
    // binaries at once) once gave more, going from synchronized straight
    // to unsynchronized.
    const MAX_MS: u64 = 5;
    let max = MAX_MS as f64 * 1e-3;
    let config = TimesyncdConfig {
        root_distance_max: format!("{MAX_MS}ms"),
        ..TimesyncdConfig::default()
    };
    let Some(mut setup) = synchronised(&config) else {
        return;
    };
    // The exporter watches the same daemon: its one verdict goes the same
    // way (clockwatch_sync_state, the bound).
    let cw = common::Clockwatch::start(&[
        "--chrony.address",
        "none",
        "--timesyncd.bus",
        &setup.bus.address(),
    ]);
    setup.server.stop();
    let bus = &setup.bus;
    let last = read_ok(bus);
    assert_eq!(last.root_distance_max_usec, MAX_MS * 1000);

    let mut exported: Vec<(String, f64)> = Vec::new();
    let mut seen = Vec::new();
    let until = Instant::now() + Duration::from_secs(150);
    loop {
        let kernel = adjtimex_read().expect("adjtimex");
        let status = read_ok(bus);
        let a = bound::assess(
            Some(&status),
            kernel.offset_seconds,
            now_unix(),
            &Params::default(),
        );
        seen.push((status.ntp_message.packet_count, a));
        let metrics = cw.metrics();
        exported.push((
            metrics.state(),
            metrics.value("clockwatch_clock_error_bound_seconds"),
        ));
        if a.state == SyncState::Unsynchronized {
            break;
        }
        assert!(
            Instant::now() < until,
            "never unsynchronized: {:?}",
            seen.last()
        );
        std::thread::sleep(Duration::from_millis(500));
    }

    // No sample arrived (one may have been on its way as the server
    // stopped), and timesyncd kept its server: the holdover rule, not
    // "no server", ended it.
    let counts: Vec<u64> = seen.iter().map(|(c, _)| *c).collect();
    assert!(
        counts.iter().all(|&c| c == counts[0]),
        "samples while stopped: {counts:?}"
    );
    let (theirs, ours) = (busctl_status(bus), read_ok(bus));
    assert_eq!(ours, theirs);
    assert_eq!(ours.server_name, NTP_SERVER);

    let age = |a: &bound::Assessment| a.sample_age_seconds.unwrap_or(f64::NAN);
    let states: Vec<SyncState> = seen.iter().map(|(_, a)| a.state).collect();
    let first_stale = states
        .iter()
        .position(|&s| s == SyncState::Stale)
        .unwrap_or_else(|| {
            panic!(
                "never stale (first bound {:?} s, age {:?} s): {states:?}",
                seen.first().map(|(_, a)| a.bound_seconds),
                seen.first().map(|(_, a)| age(a))
            )
        });
    // synchronized* stale+ unsynchronized, nothing else.
    assert!(states[..first_stale]
        .iter()
        .all(|&s| s == SyncState::Synchronized));
    let last_index = states.len() - 1;
    assert!(states[first_stale..last_index]
        .iter()
        .all(|&s| s == SyncState::Stale));
    assert!(last_index > first_stale, "stale was never observed alone");
    // Stale once the sample was 4 poll intervals (64 s) old, not before.
    let (_, stale) = &seen[first_stale];
    assert!(
        (64.0..66.0).contains(&age(stale)),
        "stale at {} s: {stale:?}",
        age(stale)
    );
    if first_stale > 0 {
        assert!(age(&seen[first_stale - 1].1) <= 64.0);
    }
    // The bound kept growing, finite, while stale…
    for (_, a) in &seen[first_stale..last_index] {
        assert!(
            a.bound_seconds.is_finite() && a.bound_seconds <= max,
            "{a:?}"
        );
        assert_eq!(a.why, Why::Overdue);
    }
    // …until it passed RootDistanceMaxSec: unsynchronized, +Inf.
    let (_, end) = &seen[last_index];
    eprintln!(
        "stale at {:.1} s (bound {:.6} s), unsynchronized at {:.1} s (bound grown to {:.6} s)",
        age(stale),
        stale.bound_seconds,
        age(end),
        end.terms.map(|t| t.total()).unwrap_or(f64::NAN)
    );
    assert_eq!(end.why, Why::HoldoverExceeded, "{end:?}");

    // The exporter's states: synchronized, then stale, then (at the latest
    // one scrape after the reads here) unsynchronized with +Inf.
    let until = Instant::now() + Duration::from_secs(5);
    while exported.last().map(|(s, _)| s.as_str()) != Some("unsynchronized") {
        assert!(Instant::now() < until, "exported: {exported:?}");
        let metrics = cw.metrics();
        exported.push((
            metrics.state(),
            metrics.value("clockwatch_clock_error_bound_seconds"),
        ));
        std::thread::sleep(Duration::from_millis(200));
    }
    let order = |s: &str| match s {
        "synchronized" => 0,
        "stale" => 1,
        "unsynchronized" => 2,
        other => panic!("exported {other}: {exported:?}"),
    };
    let ranks: Vec<u8> = exported.iter().map(|(s, _)| order(s)).collect();
    assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{exported:?}");
    assert!(ranks.contains(&1), "never exported stale: {exported:?}");
    for (state, bound) in &exported {
        assert_eq!(bound.is_finite(), state != "unsynchronized", "{exported:?}");
    }
    assert_eq!(end.bound_seconds, f64::INFINITY);
    let grown = end.terms.map(|t| t.total()).unwrap_or(f64::NAN);
    assert!(grown > max && grown < max + 1e-4, "{end:?}");
}

#[test]
fn no_reply_since_start_is_unsynchronized() {
    if skip_unless_timesyncd() {
        return;
    }
    // No NTP server in the namespace: timesyncd never hears back and never
    // touches the clock.
    let ns = NetNs::new();
    let bus = SystemBus::start();
    let mut t = Timesyncd::start(&ns, &bus, &TimesyncdConfig::default());
    std::thread::sleep(Duration::from_secs(2));
    let (ours, theirs) = ours_and_busctls(&bus);
    assert_eq!(ours, theirs);
    assert_eq!(ours.ntp_message.packet_count, 0);
    assert_eq!(ours.server_name, NTP_SERVER);
    let a = bound::assess(Some(&ours), 0.0, now_unix(), &Params::default());
    assert_eq!((a.state, a.why), (SyncState::Unsynchronized, Why::NoReply));
    assert_eq!(a.bound_seconds, f64::INFINITY);

    // The harness leaves no daemon behind (it drops privileges, which
    // clears a parent-death signal: its pid namespace ends it instead).
    let pid = t.daemon_pid().expect("timesyncd's pid");
    t.stop();
    // Gone, or exited and waiting to be reaped by PID 1. The namespace's end
    // kills it asynchronously: under load it is seen exiting (state D) for a
    // moment, so wait a bounded while for it to finish.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let state = loop {
        let state = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        if state.is_empty() || state.contains("State:\tZ") || std::time::Instant::now() > deadline {
            break state;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        state.is_empty() || state.contains("State:\tZ"),
        "timesyncd {pid} still runs: {state}"
    );
}

#[test]
fn a_bus_without_timesyncd_is_not_running_and_never_starts_it() {
    if skip_unless_timesyncd() {
        return;
    }
    // The bus can start timesyncd on demand (a D-Bus activation file, as
    // its package installs one); here "timesyncd" only leaves a mark.
    let marker = tempfile::tempdir().expect("tempdir");
    let started = marker.path().join("activated");
    let bus = SystemBus::start_with_activation(&started);
    let e = read(&bus.address(), Duration::from_secs(2)).expect_err("no timesyncd");
    assert!(matches!(e, TimesyncdError::NotRunning { .. }), "{e:?}");
    assert!(e.timesyncd_absent());
    assert!(e.to_string().contains("not on the system bus"), "{e}");
    std::thread::sleep(Duration::from_millis(300));
    assert!(!started.exists(), "clockwatch's read started timesyncd");
    // The control: busctl, which allows auto-start, does start it (and
    // fails, as the started command never takes the name).
    let _ = bus.busctl_get_property("ServerName", Duration::from_secs(3));
    let until = Instant::now() + Duration::from_secs(5);
    while !started.exists() {
        assert!(Instant::now() < until, "the activation file was not used");
        std::thread::sleep(Duration::from_millis(20));
    }
    let a = bound::assess(None, 0.0, now_unix(), &Params::default());
    assert_eq!(
        (a.state, a.bound_seconds),
        (SyncState::Unknown, f64::INFINITY)
    );
}

#[test]
fn missing_dead_and_silent_sockets_are_clear_errors_within_the_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("run/dbus/system_bus_socket");
    let e = read(
        &format!("unix:path={}", missing.display()),
        Duration::from_secs(1),
    )
    .expect_err("missing socket");
    assert!(matches!(e, TimesyncdError::SocketMissing { .. }), "{e:?}");
    assert_eq!(e.kind(), "socket_missing");
    assert!(
        e.to_string().contains(&missing.display().to_string()),
        "{e}"
    );

    // A socket file nobody listens on (a bus daemon that died).
    let dead = dir.path().join("dead");
    drop(std::os::unix::net::UnixListener::bind(&dead).expect("bind"));
    let e = read(dead.to_str().expect("utf-8"), Duration::from_secs(1)).expect_err("dead");
    assert!(matches!(e, TimesyncdError::NotListening { .. }), "{e:?}");

    // A peer that accepts and never says a word: the D-Bus handshake times
    // out, at the timeout and not later.
    let silent = dir.path().join("silent");
    let _listener = std::os::unix::net::UnixListener::bind(&silent).expect("bind");
    let started = Instant::now();
    let e =
        read(silent.to_str().expect("utf-8"), Duration::from_millis(300)).expect_err("silent peer");
    let took = started.elapsed();
    assert!(matches!(e, TimesyncdError::Timeout { .. }), "{e:?}");
    assert!(e.to_string().contains("authenticating"), "{e}");
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_millis(800),
        "{took:?}"
    );

    // Whatever the error, the state is unknown and the bound +Inf.
    let a = bound::assess(None, 0.0, now_unix(), &Params::default());
    assert_eq!((a.state, a.why), (SyncState::Unknown, Why::NotAnswering));
    assert_eq!(a.bound_seconds, f64::INFINITY);
}

/// Env var naming the bus for [`child_reads_the_bus`].
const CHILD_BUS: &str = "CLOCKWATCH_TEST_CHILD_BUS";

/// Runs this test binary's [`child_reads_the_bus`] as uid/gid 65534 and
/// returns what it printed.
fn read_as_nobody(address: &str) -> String {
    let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "child_reads_the_bus",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_BUS, address)
        .uid(65534)
        .gid(65534)
        .output()
        .expect("run the test binary as nobody");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "child failed: {text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[test]
fn an_unreadable_socket_is_a_permission_error() {
    if skip_unless_timesyncd() {
        return;
    }
    let bus = SystemBus::start();
    std::fs::set_permissions(&bus.socket, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let text = read_as_nobody(&bus.address());
    assert!(text.contains("KIND permission"), "{text}");
    assert!(text.contains(&bus.socket.display().to_string()), "{text}");
    assert!(text.contains("uid 65534"), "{text}");
    assert!(text.contains("mode 0600"), "{text}");
    // The control: with the socket open to all (as the system bus's is) the
    // same user gets through, and the bus says timesyncd is not there.
    std::fs::set_permissions(&bus.socket, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    let text = read_as_nobody(&bus.address());
    assert!(text.contains("KIND not_running"), "{text}");
}

/// Not a test on its own: the body [`read_as_nobody`] runs in a child
/// process under another uid. Ignored, so a plain run skips it.
#[test]
#[ignore = "run by an_unreadable_socket_is_a_permission_error as another user"]
fn child_reads_the_bus() {
    let Ok(address) = std::env::var(CHILD_BUS) else {
        eprintln!("{CHILD_BUS} is not set: nothing to do outside the parent test");
        return;
    };
    match read(&address, Duration::from_secs(2)) {
        Ok(s) => println!("KIND ok {}", s.server_name),
        Err(e) => println!("KIND {}\nMESSAGE {e}", e.kind()),
    }
}

/// `clockwatch serve --timesyncd.bus` exports every property as busctl
/// reads it, and the verdict is timesyncd's bound.
#[test]
fn the_exporter_exports_every_field_as_busctl_reads_it() {
    let Some(setup) = synchronised(&TimesyncdConfig::default()) else {
        return;
    };
    let bus = &setup.bus;
    let address = bus.address();
    let cw = common::Clockwatch::start(&["--chrony.address", "none", "--timesyncd.bus", &address]);
    // busctl, the exporter, busctl: compared when timesyncd did not change.
    let (theirs, metrics) = (0..5)
        .find_map(|_| {
            let before = busctl_status(bus);
            let metrics = cw.metrics();
            let after = busctl_status(bus);
            (before == after).then_some((after, metrics))
        })
        .expect("timesyncd changed during every comparison");
    let usec = |v: u64| v as f64 / 1e6;
    let close = |name: &str, want: f64| {
        let got = metrics.value(name);
        assert!(
            (got - want).abs() <= 1e-9 * want.abs().max(1.0),
            "{name}: exported {got}, busctl {want}"
        );
    };
    let m = &theirs.ntp_message;
    assert_eq!(metrics.value("clockwatch_timesyncd_up"), 1.0);
    assert_eq!(
        metrics.label_values("clockwatch_timesyncd_server_info", "server_name"),
        std::slice::from_ref(&theirs.server_name)
    );
    assert_eq!(
        metrics.label_values("clockwatch_timesyncd_server_info", "server_address"),
        [theirs
            .server_address
            .ip()
            .map(|ip| ip.to_string())
            .expect("an address")]
    );
    close(
        "clockwatch_timesyncd_poll_interval_seconds",
        usec(theirs.poll_interval_usec),
    );
    close(
        "clockwatch_timesyncd_poll_interval_min_seconds",
        usec(theirs.poll_interval_min_usec),
    );
    close(
        "clockwatch_timesyncd_poll_interval_max_seconds",
        usec(theirs.poll_interval_max_usec),
    );
    close(
        "clockwatch_timesyncd_root_distance_max_seconds",
        usec(theirs.root_distance_max_usec),
    );
    close(
        "clockwatch_timesyncd_frequency_ppm",
        theirs.frequency as f64 / 65536.0,
    );
    close("clockwatch_timesyncd_ntp_leap", f64::from(m.leap));
    close("clockwatch_timesyncd_ntp_version", f64::from(m.version));
    close("clockwatch_timesyncd_ntp_mode", f64::from(m.mode));
    close("clockwatch_timesyncd_ntp_stratum", f64::from(m.stratum));
    close(
        "clockwatch_timesyncd_ntp_precision_seconds",
        2f64.powi(m.precision),
    );
    close(
        "clockwatch_timesyncd_ntp_root_delay_seconds",
        usec(m.root_delay_usec),
    );
    close(
        "clockwatch_timesyncd_ntp_root_dispersion_seconds",
        usec(m.root_dispersion_usec),
    );
    assert_eq!(
        metrics.label_values("clockwatch_timesyncd_ntp_reference_info", "reference_id"),
        [format!("{:08X}", u32::from_be_bytes(m.reference_id))]
    );
    for (name, t) in [
        ("origin", m.origin_usec),
        ("receive", m.receive_usec),
        ("transmit", m.transmit_usec),
        ("destination", m.destination_usec),
    ] {
        // A Unix time in µs: exact to the µs in the exposition.
        let got = metrics.value(&format!(
            "clockwatch_timesyncd_ntp_{name}_timestamp_seconds"
        ));
        assert!(
            (got * 1e6 - t as f64).abs() < 1.0,
            "{name}: exported {got}, busctl {t} µs"
        );
    }
    close(
        "clockwatch_timesyncd_ntp_spike",
        f64::from(u8::from(m.spike)),
    );
    close(
        "clockwatch_timesyncd_ntp_packets_total",
        m.packet_count as f64,
    );
    close("clockwatch_timesyncd_jitter_seconds", usec(m.jitter_usec));
    let (offset_usec, delay_usec) = timedatectl_offset_delay(m);
    let offset = metrics.value("clockwatch_timesyncd_last_sample_offset_seconds");
    assert!(
        (offset * 1e6 - offset_usec as f64).abs() <= 0.5,
        "{offset} vs timedatectl's {offset_usec} µs"
    );
    close(
        "clockwatch_timesyncd_last_sample_delay_seconds",
        usec(delay_usec as u64),
    );
    let age = metrics.value("clockwatch_timesyncd_last_sample_age_seconds");
    assert!((0.0..=32.0).contains(&age), "{age}");

    // The one verdict rests on timesyncd, synchronised, with a finite
    // bound of its terms (microseconds of loopback plus the growth).
    assert_eq!(metrics.state(), "synchronized", "{}", metrics.text);
    let bound = metrics.value("clockwatch_clock_error_bound_seconds");
    assert!(bound > 0.0 && bound < 5e-3, "{bound}");
    assert_eq!(
        metrics.label_values("clockwatch_reference_info", "daemon"),
        ["timesyncd"]
    );
    assert_eq!(
        metrics.label_values("clockwatch_reference_info", "reference"),
        ["127.0.0.2"]
    );
    assert_eq!(
        metrics.label_values("clockwatch_reference_info", "reference_id"),
        ["7F000002"]
    );
    // chronyd's local clock upstream: followed, not traceable.
    assert_eq!(metrics.value("clockwatch_reference_traceable"), 0.0);
    assert_eq!(
        metrics.get("clockwatch_collector_success", "collector=\"timesyncd\""),
        Some(1.0)
    );
    let common::Response {
        status: code,
        body: ready,
        ..
    } = cw.get("/readyz", None);
    assert_eq!((code, ready.trim()), (200, "ready: timesyncd answers"));
    let common::Response { body: page, .. } = cw.get("/", None);
    assert!(page.contains("systemd-timesyncd"), "{page}");

    // status --json and check read the same verdict.
    let out = std::process::Command::new(common::BIN)
        .args(["status", "--json", "--chrony.address", "none"])
        .args(["--timesyncd.bus", &address])
        .output()
        .expect("clockwatch status");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["daemon"], "timesyncd", "{json}");
    assert_eq!(json["state"], "synchronized", "{json}");
    assert_eq!(json["timesyncd"]["properties"]["server_name"], NTP_SERVER);
    let out = std::process::Command::new(common::BIN)
        .args([
            "check",
            "--chrony.address",
            "none",
            "--timesyncd.bus",
            &address,
        ])
        .output()
        .expect("clockwatch check");
    // WARNING: the upstream chronyd serves its local clock (traceability).
    assert_eq!(out.status.code(), Some(1), "{out:?}");

    // Detection, with the defaults (--chrony.address auto, --timesyncd.bus
    // auto): no chronyd answers here (the other tests' listen on other
    // ports), timesyncd does on the system bus: the verdict is timesyncd's.
    let out = std::process::Command::new(common::BIN)
        .args(["status", "--json", "--chrony.timeout", "200ms"])
        .env("DBUS_SYSTEM_BUS_ADDRESS", &address)
        .output()
        .expect("clockwatch status");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["daemon"], "timesyncd", "{json}");
    assert_eq!(json["state"], "synchronized", "{json}");
    assert_eq!(json["chrony_up"], false, "{json}");
    // And with timesyncd not on the bus: chronyd's unknown, no timesyncd
    // section (a chrony node shows no failing timesyncd).
    let empty = SystemBus::start();
    let out = std::process::Command::new(common::BIN)
        .args(["status", "--json", "--chrony.timeout", "200ms"])
        .env("DBUS_SYSTEM_BUS_ADDRESS", empty.address())
        .output()
        .expect("clockwatch status");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        (&json["daemon"], &json["state"]),
        (&"chrony".into(), &"unknown".into()),
        "{json}"
    );
    assert!(json.get("timesyncd").is_none(), "{json}");
}

/// A missing or unreadable bus socket: a clear error, the state unknown,
/// at once.
#[test]
fn the_exporter_without_a_bus_is_unknown_with_the_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("no_bus_socket");
    let started = Instant::now();
    let out = std::process::Command::new(common::BIN)
        .args(["status", "--json", "--chrony.address", "none"])
        .arg("--timesyncd.bus")
        .arg(&missing)
        .output()
        .expect("clockwatch status");
    assert!(started.elapsed() < Duration::from_secs(5));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["daemon"], "timesyncd", "{json}");
    assert_eq!(json["state"], "unknown", "{json}");
    assert_eq!(json["timesyncd"]["failure"], "socket_missing", "{json}");
    let reason = json["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("does not exist") && reason.contains(&missing.display().to_string()),
        "{reason}"
    );
    let out = std::process::Command::new(common::BIN)
        .args(["check", "--chrony.address", "none"])
        .arg("--timesyncd.bus")
        .arg(&missing)
        .output()
        .expect("clockwatch check");
    assert_eq!(out.status.code(), Some(3), "{out:?}");

    // A socket clockwatch may not open (run as nobody): permission.
    let sock_dir = dir.path().join("closed");
    std::fs::create_dir(&sock_dir).expect("dir");
    let socket = sock_dir.join("system_bus_socket");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).expect("bind");
    std::fs::set_permissions(&sock_dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let out = std::process::Command::new(common::BIN)
        .args(["status", "--json", "--chrony.address", "none"])
        .arg("--timesyncd.bus")
        .arg(&socket)
        .uid(65534)
        .gid(65534)
        .output()
        .expect("clockwatch status as nobody");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["state"], "unknown", "{json}");
    assert_eq!(json["timesyncd"]["failure"], "permission", "{json}");
    let cw = common::Clockwatch::start(&[
        "--chrony.address",
        "none",
        "--timesyncd.bus",
        &missing.display().to_string(),
    ]);
    let metrics = cw.metrics();
    assert_eq!(metrics.state(), "unknown");
    assert_eq!(metrics.value("clockwatch_timesyncd_up"), 0.0);
    assert_eq!(
        metrics.label_values("clockwatch_timesyncd_failure_info", "reason"),
        ["socket_missing"]
    );
    assert_eq!(
        metrics.value("clockwatch_clock_error_bound_seconds"),
        f64::INFINITY
    );
    let common::Response { status: code, .. } = cw.get("/readyz", None);
    assert_eq!(code, 503);
}
