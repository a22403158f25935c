//! Clock steps are seen: the test steps the host clock by +1 ms and back
//! with adjtimex(ADJ_SETOFFSET), exactly what chronyd's makestep does, and
//! reads clockwatch_clock_steps_total and the size of the last step.
#![allow(unsafe_code)]

mod common;

use std::time::{Duration, Instant};

use common::{skip_unless, Clockwatch};

/// Steps CLOCK_REALTIME by `nanos` (needs CAP_SYS_TIME).
fn step_clock(nanos: i64) {
    // SAFETY: a zeroed timex owned by this frame; ADJ_SETOFFSET|ADJ_NANO
    // reads only `time`, a {seconds, nanoseconds} offset.
    let mut tx: libc::timex = unsafe { std::mem::zeroed() };
    tx.modes = libc::ADJ_SETOFFSET | libc::ADJ_NANO;
    tx.time.tv_sec = nanos.div_euclid(1_000_000_000);
    tx.time.tv_usec = nanos.rem_euclid(1_000_000_000);
    // SAFETY: see above.
    let rc = unsafe { libc::adjtimex(&mut tx) };
    assert!(rc >= 0, "adjtimex: {}", std::io::Error::last_os_error());
}

fn steps(cw: &Clockwatch) -> (f64, f64) {
    let m = cw.metrics();
    (
        m.value("clockwatch_clock_steps_total"),
        m.value("clockwatch_clock_last_step_seconds"),
    )
}

#[test]
fn a_step_of_the_clock_is_counted_with_its_size() {
    if skip_unless(&[], true) {
        return;
    }
    let cw = Clockwatch::start(&["--chrony.address=none"]);
    std::thread::sleep(Duration::from_millis(300)); // the watcher is armed
    assert_eq!(steps(&cw), (0.0, 0.0));
    step_clock(1_000_000);
    let until = Instant::now() + Duration::from_secs(5);
    while steps(&cw).0 < 1.0 {
        assert!(Instant::now() < until, "step not seen");
        std::thread::sleep(Duration::from_millis(50));
    }
    step_clock(-1_000_000);
    while steps(&cw).0 < 2.0 {
        assert!(Instant::now() < until, "second step not seen");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (total, last) = steps(&cw);
    assert_eq!(total, 2.0);
    // -1 ms, give or take what a slew could add in a second (0.5 ms at most).
    assert!((last + 0.001).abs() < 0.0005, "last step {last}");
}
