//! The few system calls no maintained safe crate wraps: adjtimex (read
//! only), clock_gettime for a consistent pair of clocks, and a timerfd that
//! fires when the realtime clock is set. All `unsafe` of the program lives
//! here, each block a single libc call on memory we own.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

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
