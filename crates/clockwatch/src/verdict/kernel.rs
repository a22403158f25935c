//! The kernel's rules, when no daemon is read (`--chrony.address none`, the
//! Helm chart's `timex` mode): the state and bound from adjtimex alone.
//!
//! The kernel keeps what the daemon steering the clock told it: STA_UNSYNC
//! and a maximum error, which the kernel itself grows by 500 ppm per second
//! and which sets STA_UNSYNC once it passes 16 s. chronyd and ntpd write
//! their root distance there at every update, so `|offset| + maxerror`
//! bounds the error of a clock they steer (the offset is what the kernel
//! still has to slew). systemd-timesyncd writes 0 at every adjustment, so on
//! its nodes the kernel's maximum error is no bound: read timesyncd instead.

use super::{unknown, Daemon, Reference, Traceability, Verdict};
use crate::sys::Timex;
use clockwatch_vocab::SyncState;

pub(super) fn assess(timex: Option<&Timex>) -> Verdict {
    let Some(t) = timex else {
        return unknown(
            Daemon::None,
            "neither a daemon nor the kernel's clock state was read".to_string(),
        );
    };
    let (state, bound_seconds, reason) = if t.synchronized() {
        (
            SyncState::Synchronized,
            t.offset_seconds.abs() + t.maxerror_seconds,
            None,
        )
    } else {
        (
            SyncState::Unsynchronized,
            f64::INFINITY,
            Some("the kernel says the clock is not synchronised (STA_UNSYNC)".to_string()),
        )
    };
    Verdict {
        daemon: Daemon::Kernel,
        instance: None,
        state,
        bound_seconds,
        reference_age_seconds: None,
        reference_time: None,
        reference: Reference::unknown(),
        // The kernel knows nothing of references.
        traceability: Traceability::unknown(),
        reason,
        legacy_clock_error_ms: None,
        probes: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::{STA_UNSYNC, TIME_ERROR};

    fn timex(status: i32, state: i32) -> Timex {
        Timex {
            state,
            status,
            offset_seconds: -2.0e-6,
            frequency_ratio: 1.0e-6,
            maxerror_seconds: 0.0015,
            esterror_seconds: 1.0e-5,
            constant: 2,
            precision_seconds: 1.0e-9,
            tick_seconds: 0.01,
            tai_offset_seconds: 37,
        }
    }

    #[test]
    fn a_synchronised_kernel_bounds_by_offset_and_maximum_error() {
        let v = assess(Some(&timex(0x2001, 0)));
        assert_eq!(v.daemon, Daemon::Kernel);
        assert_eq!(v.state, SyncState::Synchronized);
        assert_eq!(v.bound_seconds, 2.0e-6 + 0.0015);
        assert_eq!(v.reason, None);
    }

    #[test]
    fn sta_unsync_or_time_error_is_unsynchronized() {
        for t in [timex(STA_UNSYNC, 0), timex(0, TIME_ERROR)] {
            let v = assess(Some(&t));
            assert_eq!(
                (v.state, v.bound_seconds),
                (SyncState::Unsynchronized, f64::INFINITY)
            );
        }
    }

    #[test]
    fn nothing_read_is_unknown() {
        let v = assess(None);
        assert_eq!((v.daemon, v.state), (Daemon::None, SyncState::Unknown));
        assert_eq!(v.bound_seconds, f64::INFINITY);
    }
}
