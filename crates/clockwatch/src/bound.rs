//! The sync state and the clock error bound: pure functions of chronyd's
//! tracking report and the time of the scrape (passed in, never read here).
//!
//! chrony documents `clock_error <= |system_time_offset| + root_dispersion +
//! root_delay / 2`, where the system time offset is the tracking report's
//! current correction ("System time"), and chronyd grows the root dispersion
//! up to the moment it answers. That is a bound only while the clock is
//! really synchronised to a traceable source; otherwise it is +Inf.

use cmdmon::{LeapStatus, RefId, Tracking};
use serde::Serialize;

/// Reference ID chronyd reports while it serves its own clock (`local`):
/// 127.127.1.1, the classic local-clock address.
pub const REFID_LOCAL_CLOCK: RefId = RefId(0x7F7F_0101);

/// Reference older than this many update intervals is stale.
pub const STALE_INTERVALS: f64 = 8.0;

/// Floor for the update interval in the staleness rule: chronyd reports 0
/// before its second update, which would make every young reference stale.
pub const MIN_UPDATE_INTERVAL_SECONDS: f64 = 1.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncState {
    /// chronyd answers, leap status normal/insert/delete, the reference is a
    /// real source and was updated recently: the bound holds.
    Synchronized,
    /// As synchronized, but the reference is older than 8 update intervals:
    /// the bound is still computed, and flagged.
    Stale,
    /// chronyd serves its own clock (`local` directive): looks perfect, is
    /// not traceable to UTC.
    Local,
    /// chronyd says it is not synchronised.
    Unsynchronized,
    /// chronyd did not answer (down, timeout, permission) or is not queried.
    Unknown,
}

impl SyncState {
    pub const ALL: [SyncState; 5] = [
        SyncState::Synchronized,
        SyncState::Stale,
        SyncState::Local,
        SyncState::Unsynchronized,
        SyncState::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SyncState::Synchronized => "synchronized",
            SyncState::Stale => "stale",
            SyncState::Local => "local",
            SyncState::Unsynchronized => "unsynchronized",
            SyncState::Unknown => "unknown",
        }
    }

    /// Whether the bound is a valid bound on the clock error.
    pub fn bound_holds(self) -> bool {
        matches!(self, SyncState::Synchronized | SyncState::Stale)
    }
}

/// The verdict on one tracking report.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Assessment {
    pub state: SyncState,
    /// Seconds; +Inf unless the state is synchronized or stale.
    pub bound_seconds: f64,
    /// Seconds since chronyd last updated its reference (None when
    /// chronyd did not answer).
    pub reference_age_seconds: Option<f64>,
}

/// chrony's documented bound, plus an optional error of a PTP hardware
/// clock reference that chrony cannot see.
pub fn error_bound(t: &Tracking, phc_error_seconds: f64) -> f64 {
    t.current_correction.abs() + t.root_dispersion + t.root_delay / 2.0 + phc_error_seconds
}

/// The legacy figure of Azure's chrony-tracker, kept so that existing
/// dashboards keep working: |last offset| + root dispersion + root delay/2,
/// in milliseconds. It uses "Last offset" rather than chrony's current
/// correction, so it is not the documented bound.
pub fn legacy_clock_error_ms(t: &Tracking) -> f64 {
    (t.last_offset.abs() + t.root_dispersion + t.root_delay / 2.0) * 1000.0
}

/// Whether chronyd's reference is its own local clock.
pub fn is_local_reference(t: &Tracking) -> bool {
    t.ref_id == REFID_LOCAL_CLOCK || t.ref_id == cmdmon::REFID_LOCAL
}

/// Classifies a tracking report at time `now_unix_seconds` (the scrape's
/// system time). `tracking` is None when chronyd did not answer.
pub fn assess(
    tracking: Option<&Tracking>,
    now_unix_seconds: f64,
    phc_error_seconds: f64,
) -> Assessment {
    let Some(t) = tracking else {
        return Assessment {
            state: SyncState::Unknown,
            bound_seconds: f64::INFINITY,
            reference_age_seconds: None,
        };
    };
    // chronyd's reference time is on its corrected timescale (its estimate of
    // true time, "cooked" in chrony's terms), while `now` is the system clock,
    // which is behind true time by the current correction (positive: slow).
    // Without the correction, a node whose clock chronyd is still slewing by
    // more than 8 update intervals looks stale (clock fast) or hides real
    // staleness (clock slow).
    let age = (now_unix_seconds - t.ref_time.as_secs_f64()) + t.current_correction;
    let state = if t.leap_status == LeapStatus::Unsynchronised || t.ref_id.0 == 0 {
        SyncState::Unsynchronized
    } else if is_local_reference(t) {
        SyncState::Local
    } else if age > STALE_INTERVALS * t.last_update_interval.max(MIN_UPDATE_INTERVAL_SECONDS) {
        SyncState::Stale
    } else {
        SyncState::Synchronized
    };
    let bound_seconds = if state.bound_holds() {
        error_bound(t, phc_error_seconds)
    } else {
        f64::INFINITY
    };
    Assessment {
        state,
        bound_seconds,
        reference_age_seconds: Some(age),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cmdmon::{Address, Timespec};

    const NOW: f64 = 1_800_000_000.0;

    fn tracking() -> Tracking {
        Tracking {
            ref_id: RefId(0xC000_0201),
            ip_addr: Address::V4([192, 0, 2, 1].into()),
            stratum: 2,
            leap_status: LeapStatus::Normal,
            ref_time: Timespec {
                seconds: NOW as u64 - 10,
                nanos: 0,
            },
            current_correction: -3.0e-6,
            last_offset: 5.0e-6,
            rms_offset: 1.0e-6,
            freq_ppm: 1.0,
            resid_freq_ppm: 0.0,
            skew_ppm: 0.1,
            root_delay: 4.0e-3,
            root_dispersion: 1.0e-3,
            last_update_interval: 64.0,
        }
    }

    #[test]
    fn synchronized_uses_the_current_correction_not_the_last_offset() {
        let a = assess(Some(&tracking()), NOW, 0.0);
        assert_eq!(a.state, SyncState::Synchronized);
        assert_eq!(a.bound_seconds, 3.0e-6 + 1.0e-3 + 2.0e-3);
        assert_eq!(a.reference_age_seconds, Some(10.0 - 3.0e-6));
    }

    #[test]
    fn reference_age_is_measured_on_chronyds_timescale() {
        // The system clock is 40 s fast (chronyc: "System time: 40 seconds
        // fast of NTP time", correction -40 s) and chronyd updated its
        // reference 1 s ago on its own (true) timescale: not stale, even
        // though the system clock reads 41 s past the reference time.
        let mut t = tracking();
        t.current_correction = -40.0;
        t.last_update_interval = 0.25;
        t.ref_time = Timespec {
            seconds: NOW as u64 - 41,
            nanos: 0,
        };
        let a = assess(Some(&t), NOW, 0.0);
        assert_eq!(a.reference_age_seconds, Some(1.0));
        assert_eq!(a.state, SyncState::Synchronized);
        assert_eq!(a.bound_seconds, 40.0 + 1.0e-3 + 2.0e-3);

        // The system clock is 40 s slow and the reference is 20 s old on
        // chronyd's timescale: stale, although the system clock reads 20 s
        // *before* the reference time.
        t.current_correction = 40.0;
        t.ref_time = Timespec {
            seconds: NOW as u64 + 20,
            nanos: 0,
        };
        let a = assess(Some(&t), NOW, 0.0);
        assert_eq!(a.reference_age_seconds, Some(20.0));
        assert_eq!(a.state, SyncState::Stale);
    }

    #[test]
    fn phc_error_is_added() {
        let a = assess(Some(&tracking()), NOW, 50e-9);
        assert_eq!(a.bound_seconds, 3.0e-6 + 1.0e-3 + 2.0e-3 + 50e-9);
    }

    #[test]
    fn insert_and_delete_leap_are_still_synchronized() {
        for leap in [LeapStatus::InsertSecond, LeapStatus::DeleteSecond] {
            let t = Tracking {
                leap_status: leap,
                ..tracking()
            };
            assert_eq!(assess(Some(&t), NOW, 0.0).state, SyncState::Synchronized);
        }
    }

    #[test]
    fn stale_boundary_is_eight_update_intervals() {
        let limit = 8.0 * 64.0;
        let at = |age: f64| {
            let mut t = tracking();
            t.ref_time = Timespec {
                seconds: (NOW - age) as u64,
                nanos: 0,
            };
            assess(Some(&t), NOW, 0.0)
        };
        assert_eq!(
            at(limit).state,
            SyncState::Synchronized,
            "exactly 8 intervals is not yet stale"
        );
        let stale = at(limit + 1.0);
        assert_eq!(stale.state, SyncState::Stale);
        assert!(
            stale.bound_seconds.is_finite(),
            "a stale bound is still computed"
        );
    }

    #[test]
    fn zero_update_interval_uses_the_floor() {
        let mut t = tracking();
        t.last_update_interval = 0.0;
        t.ref_time = Timespec {
            seconds: NOW as u64 - 8,
            nanos: 0,
        };
        assert_eq!(assess(Some(&t), NOW, 0.0).state, SyncState::Synchronized);
        t.ref_time = Timespec {
            seconds: NOW as u64 - 9,
            nanos: 0,
        };
        assert_eq!(assess(Some(&t), NOW, 0.0).state, SyncState::Stale);
    }

    #[test]
    fn local_reference_is_infinite() {
        for ref_id in [REFID_LOCAL_CLOCK, cmdmon::REFID_LOCAL] {
            let t = Tracking {
                ref_id,
                root_delay: 0.0,
                root_dispersion: 0.0,
                ..tracking()
            };
            let a = assess(Some(&t), NOW, 0.0);
            assert_eq!(a.state, SyncState::Local);
            assert_eq!(a.bound_seconds, f64::INFINITY);
        }
    }

    #[test]
    fn unsynchronised_leap_or_no_reference_is_infinite() {
        let t = Tracking {
            leap_status: LeapStatus::Unsynchronised,
            root_delay: 1.0,
            root_dispersion: 1.0,
            ..tracking()
        };
        let a = assess(Some(&t), NOW, 0.0);
        assert_eq!(
            (a.state, a.bound_seconds),
            (SyncState::Unsynchronized, f64::INFINITY)
        );
        let t = Tracking {
            ref_id: RefId(0),
            ..tracking()
        };
        assert_eq!(assess(Some(&t), NOW, 0.0).state, SyncState::Unsynchronized);
        // Unsynchronised wins over a local reference and over staleness.
        let t = Tracking {
            leap_status: LeapStatus::Unsynchronised,
            ref_id: REFID_LOCAL_CLOCK,
            ..tracking()
        };
        assert_eq!(
            assess(Some(&t), NOW + 1e6, 0.0).state,
            SyncState::Unsynchronized
        );
    }

    #[test]
    fn local_wins_over_stale() {
        let t = Tracking {
            ref_id: REFID_LOCAL_CLOCK,
            ..tracking()
        };
        assert_eq!(assess(Some(&t), NOW + 1e6, 0.0).state, SyncState::Local);
    }

    #[test]
    fn no_answer_is_unknown() {
        let a = assess(None, NOW, 0.0);
        assert_eq!(
            (a.state, a.bound_seconds, a.reference_age_seconds),
            (SyncState::Unknown, f64::INFINITY, None)
        );
    }

    #[test]
    fn legacy_metric_uses_last_offset_in_milliseconds() {
        assert!(
            (legacy_clock_error_ms(&tracking()) - (5.0e-6 + 1.0e-3 + 2.0e-3) * 1000.0).abs()
                < 1e-12
        );
    }
}
