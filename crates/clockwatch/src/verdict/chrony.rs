//! chronyd's rules: the state and bound from its tracking report.
//!
//! chrony documents `clock_error <= |system_time_offset| + root_dispersion +
//! root_delay / 2`, where the system time offset is the tracking report's
//! current correction ("System time"), and chronyd grows the root dispersion
//! up to the moment it answers. That is a bound only while the clock is
//! really synchronised to a traceable source; otherwise it is +Inf.

use cmdmon::{Address, LeapStatus, RefId, Tracking};

use super::{
    unknown, Daemon, Reference, ReferenceKind, Settings, SyncState, Traceability, Verdict,
};
use crate::collect::ChronyView;

/// Reference ID chronyd reports while it serves its own clock (`local`):
/// 127.127.1.1, the classic local-clock address.
pub const REFID_LOCAL_CLOCK: RefId = RefId(0x7F7F_0101);

/// Reference older than this many update intervals is stale.
pub const STALE_INTERVALS: f64 = 8.0;

/// Floor for the update interval in the staleness rule: chronyd reports 0
/// before its second update, which would make every young reference stale.
pub const MIN_UPDATE_INTERVAL_SECONDS: f64 = 1.0;

/// `tracking_asked`: the tracking collector ran (it is on).
pub(super) fn assess(
    view: &ChronyView,
    tracking_asked: bool,
    now_unix_seconds: f64,
    settings: &Settings,
) -> Verdict {
    let Some(t) = &view.tracking else {
        let reason = match (&view.error, tracking_asked) {
            (Some(error), _) => format!("chronyd did not answer: {error}"),
            (None, false) => "the tracking collector is off".to_string(),
            (None, true) => "chronyd did not answer".to_string(),
        };
        return unknown(Daemon::Chrony, reason);
    };
    let reference = reference(t);
    let reference_time =
        (t.ref_time.seconds != 0 || t.ref_time.nanos != 0).then(|| t.ref_time.as_secs_f64());
    // chronyd's reference time is on its corrected timescale (its estimate of
    // true time, "cooked" in chrony's terms), while `now` is the system clock,
    // which is behind true time by the current correction (positive: slow).
    // Without the correction, a node whose clock chronyd is still slewing by
    // more than 8 update intervals looks stale (clock fast) or hides real
    // staleness (clock slow).
    let age = reference_time.map(|at| (now_unix_seconds - at) + t.current_correction);
    let limit = STALE_INTERVALS * t.last_update_interval.max(MIN_UPDATE_INTERVAL_SECONDS);
    let (state, reason) = if t.leap_status == LeapStatus::Unsynchronised {
        (
            SyncState::Unsynchronized,
            Some("chronyd's leap status is \"not synchronised\"".to_string()),
        )
    } else if reference.kind == ReferenceKind::None {
        (
            SyncState::Unsynchronized,
            Some("chronyd has no reference".to_string()),
        )
    } else if reference.kind == ReferenceKind::Local {
        (
            SyncState::Local,
            Some("chronyd serves its local clock: not traceable to UTC".to_string()),
        )
    } else {
        match age {
            Some(age) if age <= limit => (SyncState::Synchronized, None),
            Some(age) => (
                SyncState::Stale,
                Some(format!(
                    "the reference was last updated {age:.0} s ago, more than {STALE_INTERVALS} update intervals ({limit:.0} s)"
                )),
            ),
            None => (
                SyncState::Stale,
                Some("chronyd reports no reference time".to_string()),
            ),
        }
    };
    let bound_seconds = if state.bound_holds() {
        error_bound(t, settings.phc_error_seconds)
    } else {
        f64::INFINITY
    };
    // Unsynchronised, chronyd follows nothing, whatever it last referred to.
    let traceability = if state == SyncState::Unsynchronized {
        Traceability::default()
    } else {
        traceability(&reference)
    };
    Verdict {
        daemon: Daemon::Chrony,
        instance: None,
        state,
        bound_seconds,
        reference_age_seconds: age,
        reference_time,
        reference,
        traceability,
        reason,
        legacy_clock_error_ms: Some(legacy_clock_error_ms(t)),
        probes: Vec::new(),
    }
}

/// As far as chronyd knows: a real source (a server, a peer, a reference
/// clock) is traceable, its own local clock is not, and with no reference
/// there is nothing to trace. chronyd cannot see whether its sources are
/// traceable themselves.
fn traceability(reference: &Reference) -> Traceability {
    match reference.kind {
        ReferenceKind::Remote | ReferenceKind::Refclock => Traceability {
            traceable: Some(true),
            warnings: Vec::new(),
        },
        ReferenceKind::Local => Traceability {
            traceable: Some(false),
            warnings: vec!["chronyd serves its local clock, not a source traceable to UTC".into()],
        },
        ReferenceKind::None | ReferenceKind::Unknown => Traceability::default(),
    }
}

/// chrony's documented bound, plus an optional error of a PTP hardware
/// clock reference that chrony cannot see.
fn error_bound(t: &Tracking, phc_error_seconds: f64) -> f64 {
    t.current_correction.abs() + t.root_dispersion + t.root_delay / 2.0 + phc_error_seconds
}

/// The legacy figure of Azure's chrony-tracker, kept so that existing
/// dashboards keep working: |last offset| + root dispersion + root delay/2,
/// in milliseconds. It uses "Last offset" rather than chrony's current
/// correction, so it is not the documented bound.
fn legacy_clock_error_ms(t: &Tracking) -> f64 {
    (t.last_offset.abs() + t.root_dispersion + t.root_delay / 2.0) * 1000.0
}

/// The reference as `chronyc tracking` names it: the address of a server
/// or peer; otherwise the reference ID's printable characters (a reference
/// clock's "PHC0"; nothing for the local clock 7F7F0101 or for no
/// reference, ID 0).
fn reference(t: &Tracking) -> Reference {
    let kind = if t.ref_id.0 == 0 {
        ReferenceKind::None
    } else if t.ref_id == REFID_LOCAL_CLOCK || t.ref_id == cmdmon::REFID_LOCAL {
        ReferenceKind::Local
    } else if matches!(t.ip_addr, Address::V4(_) | Address::V6(_)) {
        ReferenceKind::Remote
    } else {
        ReferenceKind::Refclock
    };
    let name = match t.ip_addr {
        Address::V4(_) | Address::V6(_) => t.ip_addr.to_string(),
        Address::Unspecified | Address::Id(_) => t.ref_id.to_ascii(),
    };
    Reference {
        kind,
        name,
        id: t.ref_id.to_hex(),
        // chronyd reports stratum 0 with no reference: none to speak of.
        stratum: (kind != ReferenceKind::None).then_some(t.stratum),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cmdmon::Timespec;

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

    /// What chronyd reports before it ever synchronised (chronyc -c
    /// tracking: `00000000,,0,0.000000000,…,1.000000000,1.000000000,0.0,Not synchronised`).
    fn never_synchronised() -> Tracking {
        Tracking {
            ref_id: RefId(0),
            ip_addr: Address::Unspecified,
            stratum: 0,
            leap_status: LeapStatus::Unsynchronised,
            ref_time: Timespec::default(),
            current_correction: 0.0,
            last_offset: 0.0,
            rms_offset: 0.0,
            freq_ppm: 0.0,
            resid_freq_ppm: 0.0,
            skew_ppm: 0.0,
            root_delay: 1.0,
            root_dispersion: 1.0,
            last_update_interval: 0.0,
        }
    }

    fn view(t: Tracking) -> ChronyView {
        ChronyView {
            up: true,
            tracking: Some(t),
            ..Default::default()
        }
    }

    fn at(t: Tracking, now: f64, phc: f64) -> Verdict {
        assess(
            &view(t),
            true,
            now,
            &Settings {
                phc_error_seconds: phc,
            },
        )
    }

    #[test]
    fn synchronized_uses_the_current_correction_not_the_last_offset() {
        let v = at(tracking(), NOW, 0.0);
        assert_eq!(v.state, SyncState::Synchronized);
        assert_eq!(v.bound_seconds, 3.0e-6 + 1.0e-3 + 2.0e-3);
        assert_eq!(v.reference_age_seconds, Some(10.0 - 3.0e-6));
        assert_eq!(v.reason, None);
        assert_eq!(v.reference.kind, ReferenceKind::Remote);
        assert_eq!(v.reference.name, "192.0.2.1");
        assert_eq!(v.reference.id, "C0000201");
        assert_eq!(v.traceability.traceable, Some(true));
        assert!(v.traceability.warnings.is_empty());
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
        let v = at(t.clone(), NOW, 0.0);
        assert_eq!(v.reference_age_seconds, Some(1.0));
        assert_eq!(v.state, SyncState::Synchronized);
        assert_eq!(v.bound_seconds, 40.0 + 1.0e-3 + 2.0e-3);

        // The system clock is 40 s slow and the reference is 20 s old on
        // chronyd's timescale: stale, although the system clock reads 20 s
        // *before* the reference time.
        t.current_correction = 40.0;
        t.ref_time = Timespec {
            seconds: NOW as u64 + 20,
            nanos: 0,
        };
        let v = at(t, NOW, 0.0);
        assert_eq!(v.reference_age_seconds, Some(20.0));
        assert_eq!(v.state, SyncState::Stale);
    }

    #[test]
    fn phc_error_is_added() {
        let v = at(tracking(), NOW, 50e-9);
        assert_eq!(v.bound_seconds, 3.0e-6 + 1.0e-3 + 2.0e-3 + 50e-9);
    }

    #[test]
    fn insert_and_delete_leap_are_still_synchronized() {
        for leap in [LeapStatus::InsertSecond, LeapStatus::DeleteSecond] {
            let t = Tracking {
                leap_status: leap,
                ..tracking()
            };
            assert_eq!(at(t, NOW, 0.0).state, SyncState::Synchronized);
        }
    }

    #[test]
    fn stale_boundary_is_eight_update_intervals() {
        let limit = 8.0 * 64.0;
        let aged = |age: f64| {
            let mut t = tracking();
            t.ref_time = Timespec {
                seconds: (NOW - age) as u64,
                nanos: 0,
            };
            at(t, NOW, 0.0)
        };
        assert_eq!(
            aged(limit).state,
            SyncState::Synchronized,
            "exactly 8 intervals is not yet stale"
        );
        let stale = aged(limit + 1.0);
        assert_eq!(stale.state, SyncState::Stale);
        assert!(
            stale.bound_seconds.is_finite(),
            "a stale bound is still computed"
        );
        assert!(stale.reason.is_some_and(|r| r.contains("update intervals")));
    }

    #[test]
    fn zero_update_interval_uses_the_floor() {
        let mut t = tracking();
        t.last_update_interval = 0.0;
        t.ref_time = Timespec {
            seconds: NOW as u64 - 8,
            nanos: 0,
        };
        assert_eq!(at(t.clone(), NOW, 0.0).state, SyncState::Synchronized);
        t.ref_time = Timespec {
            seconds: NOW as u64 - 9,
            nanos: 0,
        };
        assert_eq!(at(t, NOW, 0.0).state, SyncState::Stale);
    }

    #[test]
    fn local_reference_is_infinite_and_nameless() {
        for ref_id in [REFID_LOCAL_CLOCK, cmdmon::REFID_LOCAL] {
            let t = Tracking {
                ref_id,
                ip_addr: Address::Unspecified,
                root_delay: 0.0,
                root_dispersion: 0.0,
                ..tracking()
            };
            let v = at(t, NOW, 0.0);
            assert_eq!(v.state, SyncState::Local);
            assert_eq!(v.bound_seconds, f64::INFINITY);
            assert_eq!(v.reference.kind, ReferenceKind::Local);
            assert_eq!(v.traceability.traceable, Some(false));
            assert_eq!(v.traceability.warnings.len(), 1);
        }
        // chronyc drops the unprintable bytes of 7F7F0101: an empty name,
        // not "????" and not "[UNSPEC]".
        let t = Tracking {
            ref_id: REFID_LOCAL_CLOCK,
            ip_addr: Address::Unspecified,
            ..tracking()
        };
        assert_eq!(at(t, NOW, 0.0).reference.name, "");
    }

    #[test]
    fn a_reference_clock_is_named_by_its_id() {
        let t = Tracking {
            ref_id: RefId(u32::from_be_bytes(*b"PHC0")),
            ip_addr: Address::Unspecified,
            stratum: 1,
            ..tracking()
        };
        let v = at(t, NOW, 0.0);
        assert_eq!(v.state, SyncState::Synchronized);
        assert_eq!(v.reference.kind, ReferenceKind::Refclock);
        assert_eq!(v.reference.name, "PHC0");
        assert!(v.reference.is_real_source());
    }

    #[test]
    fn unsynchronised_leap_or_no_reference_is_infinite() {
        let t = Tracking {
            leap_status: LeapStatus::Unsynchronised,
            root_delay: 1.0,
            root_dispersion: 1.0,
            ..tracking()
        };
        let v = at(t, NOW, 0.0);
        assert_eq!(
            (v.state, v.bound_seconds),
            (SyncState::Unsynchronized, f64::INFINITY)
        );
        let t = Tracking {
            ref_id: RefId(0),
            ..tracking()
        };
        let v = at(t, NOW, 0.0);
        assert_eq!(v.state, SyncState::Unsynchronized);
        assert_eq!(v.reference.kind, ReferenceKind::None);
        assert!(!v.reference.is_real_source());
        // Unsynchronised wins over a local reference and over staleness.
        let t = Tracking {
            leap_status: LeapStatus::Unsynchronised,
            ref_id: REFID_LOCAL_CLOCK,
            ..tracking()
        };
        assert_eq!(at(t, NOW + 1e6, 0.0).state, SyncState::Unsynchronized);
    }

    /// chronyd zeroes the reference time when it never synchronised: that
    /// is no reference time, not one 1.8e9 s ago.
    #[test]
    fn never_synchronised_has_no_reference_time_or_age() {
        let v = at(never_synchronised(), NOW, 0.0);
        assert_eq!(v.state, SyncState::Unsynchronized);
        assert_eq!(v.reference_time, None);
        assert_eq!(v.reference_age_seconds, None);
        assert_eq!(v.reference.kind, ReferenceKind::None);
        assert_eq!(v.reference.name, "");
        assert_eq!(v.reference.id, "00000000");
        assert_eq!(v.reference.stratum, None);
        assert_eq!(v.traceability.traceable, None, "nothing to trace");
        // The legacy figure is computed as it always was: 0 + 1 + 0.5 s.
        assert_eq!(v.legacy_clock_error_ms, Some(1500.0));
    }

    #[test]
    fn local_wins_over_stale() {
        let t = Tracking {
            ref_id: REFID_LOCAL_CLOCK,
            ..tracking()
        };
        assert_eq!(at(t, NOW + 1e6, 0.0).state, SyncState::Local);
    }

    #[test]
    fn no_answer_is_unknown_with_the_reason() {
        let down = ChronyView {
            error: Some("nothing listens on 127.0.0.1:323".into()),
            ..Default::default()
        };
        let v = assess(&down, true, NOW, &Settings::default());
        assert_eq!(
            (v.state, v.bound_seconds, v.reference_age_seconds),
            (SyncState::Unknown, f64::INFINITY, None)
        );
        assert_eq!(
            v.reason.as_deref(),
            Some("chronyd did not answer: nothing listens on 127.0.0.1:323")
        );
        assert_eq!(v.legacy_clock_error_ms, None);
        let off = ChronyView {
            up: true,
            ..Default::default()
        };
        let v = assess(&off, false, NOW, &Settings::default());
        assert_eq!(v.state, SyncState::Unknown);
        assert_eq!(v.reason.as_deref(), Some("the tracking collector is off"));
    }

    #[test]
    fn legacy_metric_uses_last_offset_in_milliseconds() {
        let v = at(tracking(), NOW, 0.0);
        let want = (5.0e-6 + 1.0e-3 + 2.0e-3) * 1000.0;
        assert!((v.legacy_clock_error_ms.unwrap_or(f64::NAN) - want).abs() < 1e-12);
    }
}
