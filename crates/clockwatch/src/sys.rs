//! The few system calls no maintained safe crate wraps: adjtimex (read
//! only), clock_gettime for a consistent pair of clocks, a timerfd that
//! fires when the realtime clock is set, and the PTP_SYS_OFFSET_EXTENDED
//! ioctl that reads a PTP hardware clock between two reads of the system
//! clock. All `unsafe` of the program lives here, each block a single libc
//! call on memory we own.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

/// The kernel clock state from `adjtimex(2)` with `modes = 0` (a pure read,
/// allowed without CAP_SYS_TIME).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timex {
    /// The return value: TIME_OK (0), TIME_INS, TIME_DEL, TIME_OOP,
    /// TIME_WAIT or TIME_ERROR (5).
    pub state: i32,
    pub status: i32,
    /// Offset still being corrected, in seconds.
    pub offset_seconds: f64,
    /// Frequency adjustment as a ratio (ppm / 1e6).
    pub frequency_ratio: f64,
    pub maxerror_seconds: f64,
    pub esterror_seconds: f64,
    pub constant: i64,
    pub precision_seconds: f64,
    pub tick_seconds: f64,
    pub tai_offset_seconds: i32,
}

pub const STA_UNSYNC: i32 = 0x0040;
pub const STA_NANO: i32 = 0x2000;
pub const TIME_ERROR: i32 = 5;

impl Timex {
    /// What the kernel says about synchronisation: not flagged STA_UNSYNC and
    /// not in TIME_ERROR (the state `ntp_adjtime` reports as ERROR).
    pub fn synchronized(&self) -> bool {
        self.status & STA_UNSYNC == 0 && self.state != TIME_ERROR
    }
}

pub fn adjtimex_read() -> io::Result<Timex> {
    // SAFETY: `tx` is a zeroed, properly aligned timex owned by this frame;
    // modes = 0 makes the call read-only.
    let mut tx: libc::timex = unsafe { std::mem::zeroed() };
    tx.modes = 0;
    // SAFETY: see above; the kernel writes only inside `tx`.
    let state = unsafe { libc::adjtimex(&mut tx) };
    if state < 0 {
        return Err(io::Error::last_os_error());
    }
    // offset is in ns with STA_NANO, else µs; freq is ppm with a 16-bit
    // fractional part (scaled ppm).
    let offset_unit = if tx.status & STA_NANO != 0 {
        1e-9
    } else {
        1e-6
    };
    Ok(Timex {
        state,
        status: tx.status,
        offset_seconds: tx.offset as f64 * offset_unit,
        frequency_ratio: tx.freq as f64 / 65536.0 / 1e6,
        maxerror_seconds: tx.maxerror as f64 * 1e-6,
        esterror_seconds: tx.esterror as f64 * 1e-6,
        constant: tx.constant,
        precision_seconds: tx.precision as f64 * 1e-6,
        tick_seconds: tx.tick as f64 * 1e-6,
        tai_offset_seconds: tx.tai,
    })
}

fn clock_ns(clock: libc::clockid_t) -> i128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is owned by this frame; clock_gettime only writes it.
    // CLOCK_REALTIME and CLOCK_BOOTTIME cannot fail on Linux.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec)
}

/// CLOCK_BOOTTIME: monotonic, and it keeps counting through suspend, so
/// the sampler sees a suspended machine as a gap, not as lost time.
pub fn boottime() -> std::time::Duration {
    let ns = clock_ns(libc::CLOCK_BOOTTIME);
    std::time::Duration::from_nanos(u64::try_from(ns).unwrap_or(0))
}

/// Realtime minus boottime, in nanoseconds: constant while the clock runs
/// freely, it moves slowly when the clock is slewed (at most 500 ppm) and
/// jumps when the clock is stepped. Boottime, unlike monotonic, keeps
/// counting through suspend, so a resume is not mistaken for a step.
pub fn realtime_minus_boottime_ns() -> i128 {
    let a = clock_ns(libc::CLOCK_BOOTTIME);
    let rt = clock_ns(libc::CLOCK_REALTIME);
    let b = clock_ns(libc::CLOCK_BOOTTIME);
    rt - (a + (b - a) / 2)
}

/// A timerfd armed far in the future on CLOCK_REALTIME with
/// TFD_TIMER_CANCEL_ON_SET: it becomes readable (with ECANCELED) as soon as
/// anyone sets the clock — settimeofday, clock_settime, adjtimex
/// ADJ_SETOFFSET, which is how chronyd's makestep and `date -s` step it.
pub struct ClockSetTimer {
    fd: OwnedFd,
}

impl ClockSetTimer {
    pub fn new() -> io::Result<Self> {
        // SAFETY: plain syscall; the returned fd is checked and then owned.
        let fd = unsafe {
            libc::timerfd_create(libc::CLOCK_REALTIME, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC)
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor nobody else owns.
        let timer = Self {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        };
        timer.arm()?;
        Ok(timer)
    }

    /// (Re-)arms the timer; needed after every cancellation.
    pub fn arm(&self) -> io::Result<()> {
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            // Year 2200 or so: never expires in practice.
            it_value: libc::timespec {
                tv_sec: 7_258_118_400,
                tv_nsec: 0,
            },
        };
        let flags = libc::TFD_TIMER_ABSTIME | libc::TFD_TIMER_CANCEL_ON_SET;
        // SAFETY: valid fd and a spec owned by this frame.
        let rc = unsafe {
            libc::timerfd_settime(self.fd.as_raw_fd(), flags, &spec, std::ptr::null_mut())
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Reads the timer: `Ok(true)` if the clock was set since the last read.
    pub fn was_set(&self) -> io::Result<bool> {
        let mut buf = [0u8; 8];
        // SAFETY: reads at most 8 bytes into a buffer of 8 bytes.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(false); // expired: cannot happen before 2200
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::ECANCELED) => Ok(true),
            Some(libc::EAGAIN) => Ok(false),
            _ => Err(err),
        }
    }
}

/// The clock-set timer registered with tokio's reactor.
pub fn clock_set_timer_async() -> io::Result<tokio::io::unix::AsyncFd<ClockSetTimer>> {
    let timer = ClockSetTimer::new()?;
    // SAFETY: the AsyncFd takes ownership of the timer, so the descriptor
    // stays open exactly as long as it is registered.
    unsafe { tokio::io::unix::AsyncFd::register(timer) }.map_err(|e| e.into_parts().1)
}

impl AsRawFd for ClockSetTimer {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Effective user and group of this process, for permission messages.
pub fn effective_ids() -> (u32, u32) {
    // SAFETY: geteuid and getegid cannot fail and touch no memory.
    unsafe { (libc::geteuid(), libc::getegid()) }
}

/// One reading of a PTP hardware clock (PHC) between two reads of the
/// system clock (CLOCK_REALTIME), in nanoseconds since their epochs, as the
/// driver took them around the device access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhcSample {
    pub sys_before_ns: i128,
    pub phc_ns: i128,
    pub sys_after_ns: i128,
}

/// The PHC's offset from the system clock, measured: PHC time minus system
/// time at the midpoint of the narrowest of several reads. The PHC was read
/// somewhere inside the window, so the offset is exact to within half of
/// it (`window_ns / 2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhcOffset {
    pub phc_minus_sys_ns: i128,
    /// System time that passed across the chosen read (after - before).
    pub window_ns: i64,
}

/// Readings taken per measurement (the ioctl's limit is 25; phc2sys takes
/// 5 by default): the narrowest of them is kept.
pub const PHC_SAMPLES: u32 = 9;

impl PhcOffset {
    /// The offset from the sample with the narrowest window. Samples whose
    /// system reads go backwards (the clock was stepped in between) are
    /// skipped; None if no sample is left.
    pub fn from_samples(samples: &[PhcSample]) -> Option<PhcOffset> {
        let best = samples
            .iter()
            .filter(|s| s.sys_after_ns >= s.sys_before_ns)
            .min_by_key(|s| s.sys_after_ns - s.sys_before_ns)?;
        let window = best.sys_after_ns - best.sys_before_ns;
        let midpoint = best.sys_before_ns + window / 2;
        Some(PhcOffset {
            phc_minus_sys_ns: best.phc_ns - midpoint,
            window_ns: i64::try_from(window).unwrap_or(i64::MAX),
        })
    }
}

fn ptp_clock_time_ns(t: &libc::ptp_clock_time) -> i128 {
    i128::from(t.sec) * 1_000_000_000 + i128::from(t.nsec)
}

/// Reads the PHC at `device` (/dev/ptpN) with PTP_SYS_OFFSET_EXTENDED,
/// `n_samples` times (1 to 25). Errors are the kernel's: ENOENT (no such
/// device), ENOTTY or EINVAL (not a PHC), EOPNOTSUPP (the driver cannot
/// timestamp around its device access), ENODEV (the clock went away),
/// EACCES.
pub fn ptp_sys_offset_extended(device: &Path, n_samples: u32) -> io::Result<Vec<PhcSample>> {
    let file = std::fs::File::open(device)?;
    let n = n_samples.clamp(1, libc::PTP_MAX_SAMPLES);
    // SAFETY: a zeroed request (clockid 0 = CLOCK_REALTIME, reserved words
    // 0, as the kernel requires) owned by this frame.
    let mut request: libc::ptp_sys_offset_extended = unsafe { std::mem::zeroed() };
    request.n_samples = n;
    // SAFETY: valid fd; the kernel writes only inside `request`, whose type
    // is the one the ioctl number encodes.
    let rc = unsafe {
        libc::ioctl(
            file.as_raw_fd(),
            libc::PTP_SYS_OFFSET_EXTENDED,
            &mut request as *mut libc::ptp_sys_offset_extended,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(request.ts[..n as usize]
        .iter()
        .map(|[before, phc, after]| PhcSample {
            sys_before_ns: ptp_clock_time_ns(before),
            phc_ns: ptp_clock_time_ns(phc),
            sys_after_ns: ptp_clock_time_ns(after),
        })
        .collect())
}

/// The PHC's offset from the system clock, from [`PHC_SAMPLES`] reads.
pub fn phc_offset(device: &Path) -> io::Result<PhcOffset> {
    let samples = ptp_sys_offset_extended(device, PHC_SAMPLES)?;
    PhcOffset::from_samples(&samples).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "every reading's system clock went backwards (the clock was stepped)",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(before: i128, phc: i128, after: i128) -> PhcSample {
        PhcSample {
            sys_before_ns: before,
            phc_ns: phc,
            sys_after_ns: after,
        }
    }

    #[test]
    fn narrowest_window_wins_and_offset_is_from_its_midpoint() {
        let tai = 37_000_000_000;
        let samples = [
            sample(1_000, 1_000 + tai + 900, 3_000), // window 2000
            sample(5_000, 5_000 + tai + 300, 5_400), // window 400: midpoint 5200
            sample(9_000, 9_000 + tai, 10_000),      // window 1000
        ];
        let offset = PhcOffset::from_samples(&samples).expect("samples");
        assert_eq!(offset.window_ns, 400);
        assert_eq!(offset.phc_minus_sys_ns, tai + 100);
    }

    #[test]
    fn odd_windows_round_the_midpoint_down() {
        let offset = PhcOffset::from_samples(&[sample(10, 20, 15)]).expect("one sample");
        assert_eq!(offset.window_ns, 5);
        assert_eq!(offset.phc_minus_sys_ns, 8); // midpoint 12
    }

    #[test]
    fn a_step_between_the_system_reads_is_skipped() {
        let stepped = sample(2_000_000_000, 1_500, 1_000); // went backwards
        let fine = sample(100, 250, 300);
        let offset = PhcOffset::from_samples(&[stepped, fine]).expect("one usable");
        assert_eq!((offset.phc_minus_sys_ns, offset.window_ns), (50, 200));
        assert_eq!(PhcOffset::from_samples(&[stepped]), None);
        assert_eq!(PhcOffset::from_samples(&[]), None);
    }

    #[test]
    fn negative_times_before_the_epoch_work() {
        // A PHC never set counts from 0; the offset is then about -now.
        let now = 1_796_186_328_447_002_194i128;
        let offset = PhcOffset::from_samples(&[sample(now, 5, now + 10)]).expect("sample");
        assert_eq!(offset.phc_minus_sys_ns, 5 - (now + 5));
    }

    fn errno(device: &str) -> Option<i32> {
        ptp_sys_offset_extended(Path::new(device), 5)
            .expect_err("not a PHC")
            .raw_os_error()
    }

    #[test]
    fn missing_device_is_enoent() {
        assert_eq!(errno("/dev/ptp-clockwatch-none"), Some(libc::ENOENT));
    }

    #[test]
    fn a_device_that_is_not_a_phc_is_refused() {
        // /dev/null has no ioctls: ENOTTY.
        assert_eq!(errno("/dev/null"), Some(libc::ENOTTY));
        // Nor has a regular file or a directory.
        let file = tempfile::NamedTempFile::new().expect("temp file");
        assert_eq!(
            errno(file.path().to_str().expect("utf-8 path")),
            Some(libc::ENOTTY)
        );
        assert_eq!(errno("/"), Some(libc::ENOTTY));
        assert!(phc_offset(Path::new("/dev/null")).is_err());
    }

    /// The PHC read through its dynamic POSIX clock (clock_gettime on
    /// FD_TO_CLOCKID(fd)) between two system clock reads: a second way to
    /// the same clock, independent of the ioctl. (system midpoint, PHC).
    fn posix_phc_read(file: &std::fs::File) -> (i128, i128) {
        let clock = ((!file.as_raw_fd()) << 3) | 3;
        let before = clock_ns(libc::CLOCK_REALTIME);
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is owned by this frame; the call only writes it.
        let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
        assert_eq!(
            rc,
            0,
            "clock_gettime on the PHC: {}",
            io::Error::last_os_error()
        );
        let after = clock_ns(libc::CLOCK_REALTIME);
        let phc = i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec);
        (before + (after - before) / 2, phc)
    }

    /// Needs a PHC: scripts/test-phc-vm.sh runs it in a VM whose emulated
    /// e1000e NIC has one (`CLOCKWATCH_TEST_PHC=/dev/ptp0`).
    #[test]
    #[ignore = "needs a PTP hardware clock: scripts/test-phc-vm.sh"]
    fn a_real_phc_is_read_and_agrees_with_its_posix_clock() {
        let Some(device) = std::env::var_os("CLOCKWATCH_TEST_PHC") else {
            let why = "no PHC (CLOCKWATCH_TEST_PHC unset; scripts/test-phc-vm.sh sets it in a VM)";
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "in CI nothing may skip: {why}"
            );
            eprintln!("\n*** SKIP: {why} ***\n");
            return;
        };
        let device = Path::new(&device);
        let file = std::fs::File::open(device).expect("open the PHC");
        let samples = ptp_sys_offset_extended(device, PHC_SAMPLES).expect("the ioctl");
        assert_eq!(samples.len(), PHC_SAMPLES as usize);
        for s in &samples {
            assert!(s.sys_after_ns >= s.sys_before_ns, "{s:?}");
        }

        // The ioctl's offset lies between what the PHC's POSIX clock
        // shows just before and just after it: phc in [p1, p2] read at a
        // system time in [m1, m2], whatever the PHC's rate.
        let (m1, p1) = posix_phc_read(&file);
        let offset = phc_offset(device).expect("PTP_SYS_OFFSET_EXTENDED");
        let (m2, p2) = posix_phc_read(&file);
        println!(
            "PHC {}: PHC - system {} ns, read window {} ns (POSIX clock: {} .. {} ns)",
            device.display(),
            offset.phc_minus_sys_ns,
            offset.window_ns,
            p1 - m1,
            p2 - m2
        );
        assert!((0..10_000_000).contains(&offset.window_ns), "{offset:?}");
        let slack = i128::from(offset.window_ns) / 2 + 1;
        assert!(
            offset.phc_minus_sys_ns >= p1 - m2 - slack
                && offset.phc_minus_sys_ns <= p2 - m1 + slack,
            "{offset:?} outside [{}, {}]",
            p1 - m2,
            p2 - m1
        );
    }
}
