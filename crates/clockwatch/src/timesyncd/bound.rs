//! The sync state and clock error bound of a node kept by timesyncd: a pure
//! function of its properties, the kernel's remaining offset and the time
//! of the reading, all passed in.
//!
//! timesyncd keeps no error estimate of its own (it has one server, one
//! sample per poll, no filter), and it writes the kernel's `maxerror` as 0
//! at every adjustment, so the kernel's maximum error (which the kernel
//! then grows by 500 µs per second) is not a bound on such a node either.
//! The bound is built from its last sample instead:
//!
//! ```text
//! bound = |kernel offset still to slew|            adjtimex offset, passed in
//!       + delay / 2                                the exchange's asymmetry, at worst
//!       + root delay / 2 + root dispersion         the server's own root distance
//!       + drift rate * age of the sample           growth since (50 ppm by default)
//!       + |sample offset|                          only if timesyncd ignored it as a spike
//!       + 2.5 µs (3.5 µs after a spike)            the bus rounds every value down to whole µs
//! ```
//!
//! After an accepted sample timesyncd hands its offset to the kernel
//! (ADJ_OFFSET, slewed by the kernel's PLL; a step for 0.4 s and more), so
//! what is left of the node's error is what the kernel has still to slew,
//! plus the sample's own uncertainty, plus what the clock has drifted since.
//! docs/timesyncd.md sets these terms next to chrony's and says why 50 ppm.

use serde::Serialize;

use super::{InvalidSample, Sample, Status};
use crate::verdict::SyncState;

/// The default rate at which the bound grows between samples: 50 ppm
/// (5e-5 s/s). chrony's own default for this role (`maxclockerror`) is
/// 1 ppm, which AWS ClockBound calls right for an estimate and too
/// optimistic for a bound, advising 50 ppm; the kernel's absolute limit on
/// a frequency correction is 500 ppm.
pub const DEFAULT_DRIFT_RATE: f64 = 50e-6;

/// A sample older than this many poll intervals is stale. timesyncd sends
/// one request per poll interval and retries a lost reply after 15 s, then
/// 20 s, 27 s…: at its shortest interval (16 s) two lost replies in a row
/// stay within 4 intervals, at the default 32 s three do.
pub const STALE_POLL_INTERVALS: f64 = 4.0;

/// The shortest poll interval timesyncd accepts (PollIntervalMinSec=):
/// the floor of the staleness rule, should the daemon report 0.
pub const MIN_POLL_INTERVAL_SECONDS: f64 = 16.0;

/// A sample more than this far in the future of the node's clock means the
/// clock was set back since; the bound no longer describes it.
pub const CLOCK_SET_BACK_TOLERANCE_SECONDS: f64 = 1.0;

/// What rounding to whole µs can hide: 1 µs in delay/2 (four rounded
/// timestamps), 0.5 µs in root delay/2, 1 µs in root dispersion.
pub const ROUNDING_SECONDS: f64 = 2.5e-6;
/// And 1 µs more in the offset itself, counted only after a spike.
pub const SPIKE_ROUNDING_SECONDS: f64 = 1e-6;

/// The stated assumptions of the bound.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Params {
    /// Maximum rate of the clock's error between samples, as a ratio
    /// (50e-6 = 50 ppm).
    pub drift_rate: f64,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            drift_rate: DEFAULT_DRIFT_RATE,
        }
    }
}

/// Why the state is what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Why {
    /// Synchronized: a sample within 4 poll intervals.
    Fresh,
    /// Stale: no sample within 4 poll intervals.
    Overdue,
    /// Unsynchronized: timesyncd has no server (ServerName empty).
    NoServer,
    /// Unsynchronized: no reply since timesyncd started (packet count 0).
    NoReply,
    /// Unsynchronized: the server said it is not synchronised (leap 3,
    /// stratum 0 or 16+), which timesyncd itself refuses.
    ServerUnsynchronized,
    /// Unsynchronized: the message's timestamps are inconsistent.
    InvalidSample,
    /// Unsynchronized: the clock was set back since the sample.
    ClockSetBack,
    /// Unsynchronized: the bound grew past RootDistanceMaxSec, the root
    /// distance above which timesyncd itself refuses a server.
    HoldoverExceeded,
    /// Unknown: the bus or timesyncd did not answer.
    NotAnswering,
}

impl Why {
    pub fn as_str(self) -> &'static str {
        match self {
            Why::Fresh => "fresh",
            Why::Overdue => "overdue",
            Why::NoServer => "no_server",
            Why::NoReply => "no_reply",
            Why::ServerUnsynchronized => "server_unsynchronized",
            Why::InvalidSample => "invalid_sample",
            Why::ClockSetBack => "clock_set_back",
            Why::HoldoverExceeded => "holdover_exceeded",
            Why::NotAnswering => "not_answering",
        }
    }

    /// One line for the status page and `clockwatch doctor`.
    pub fn describe(self) -> &'static str {
        match self {
            Why::Fresh => "timesyncd's last sample is recent",
            Why::Overdue => "timesyncd has had no sample for more than 4 poll intervals: is its server reachable (UDP 123)?",
            Why::NoServer => "timesyncd has no NTP server: set NTP= in timesyncd.conf",
            Why::NoReply => "timesyncd has had no reply from its server since it started",
            Why::ServerUnsynchronized => "timesyncd's server says it is not synchronised",
            Why::InvalidSample => "timesyncd's last NTP message has inconsistent timestamps",
            Why::ClockSetBack => "the clock was set back since timesyncd's last sample",
            Why::HoldoverExceeded => "the bound grew past timesyncd's RootDistanceMaxSec since the last sample",
            Why::NotAnswering => "timesyncd could not be read on the system bus",
        }
    }
}

/// The bound's parts, seconds; their sum is the bound.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Terms {
    /// |adjtimex offset|: what the kernel has still to slew.
    pub kernel_offset: f64,
    /// delay / 2.
    pub half_delay: f64,
    /// root delay / 2 + root dispersion of the server.
    pub root_distance: f64,
    /// drift rate × max(age, 0).
    pub growth: f64,
    /// |sample offset| when timesyncd ignored the sample as a spike, else 0.
    pub spike_offset: f64,
    /// Rounding of the bus's whole-µs values.
    pub rounding: f64,
}

impl Terms {
    pub fn total(&self) -> f64 {
        self.kernel_offset
            + self.half_delay
            + self.root_distance
            + self.growth
            + self.spike_offset
            + self.rounding
    }
}

/// The verdict on one reading.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Assessment {
    pub state: SyncState,
    pub why: Why,
    /// Seconds; +Inf unless the state is synchronized or stale.
    pub bound_seconds: f64,
    /// The bound's parts, when there is a sample to build it from (also
    /// when it has grown past the limit and the bound is +Inf).
    pub terms: Option<Terms>,
    pub sample: Option<Sample>,
    /// Seconds since the sample, on the corrected timescale.
    pub sample_age_seconds: Option<f64>,
}

/// The age of `sample` at `now_unix_seconds` (the node's clock). The
/// sample's destination timestamp is on the clock *before* timesyncd
/// corrected it by the sample's offset θ; the kernel has applied θ minus
/// what is left (k), so the true time elapsed is (now + k) - (T4 + θ). A
/// spike was not applied: its age is now - T4.
pub fn sample_age_seconds(
    sample: &Sample,
    spike: bool,
    kernel_offset_seconds: f64,
    now_unix_seconds: f64,
) -> f64 {
    let elapsed = now_unix_seconds - sample.destination_unix_seconds;
    if spike {
        elapsed
    } else {
        elapsed + kernel_offset_seconds - sample.offset_seconds
    }
}

/// Assesses one reading. `status` is None when timesyncd could not be read;
/// `kernel_offset_seconds` is adjtimex's `offset` (sys::Timex::
/// offset_seconds) read at the same time; `now_unix_seconds` the node's
/// clock then.
pub fn assess(
    status: Option<&Status>,
    kernel_offset_seconds: f64,
    now_unix_seconds: f64,
    params: &Params,
) -> Assessment {
    let unbounded = |state, why, sample, age, terms| Assessment {
        state,
        why,
        bound_seconds: f64::INFINITY,
        terms,
        sample,
        sample_age_seconds: age,
    };
    let Some(status) = status else {
        return unbounded(SyncState::Unknown, Why::NotAnswering, None, None, None);
    };
    let m = &status.ntp_message;
    if !status.has_server() {
        return unbounded(SyncState::Unsynchronized, Why::NoServer, None, None, None);
    }
    let sample = match Sample::from_message(m) {
        Ok(s) => s,
        Err(InvalidSample::NoReply) => {
            return unbounded(SyncState::Unsynchronized, Why::NoReply, None, None, None)
        }
        Err(InvalidSample::Inconsistent) => {
            return unbounded(
                SyncState::Unsynchronized,
                Why::InvalidSample,
                None,
                None,
                None,
            )
        }
    };
    if m.leap == 3 || m.stratum == 0 || m.stratum >= 16 {
        return unbounded(
            SyncState::Unsynchronized,
            Why::ServerUnsynchronized,
            Some(sample),
            None,
            None,
        );
    }
    let age = sample_age_seconds(&sample, m.spike, kernel_offset_seconds, now_unix_seconds);
    if age < -CLOCK_SET_BACK_TOLERANCE_SECONDS {
        return unbounded(
            SyncState::Unsynchronized,
            Why::ClockSetBack,
            Some(sample),
            Some(age),
            None,
        );
    }
    let terms = Terms {
        kernel_offset: kernel_offset_seconds.abs(),
        half_delay: sample.delay_seconds / 2.0,
        root_distance: m.root_distance_seconds(),
        growth: params.drift_rate * age.max(0.0),
        spike_offset: if m.spike {
            sample.offset_seconds.abs()
        } else {
            0.0
        },
        rounding: ROUNDING_SECONDS + if m.spike { SPIKE_ROUNDING_SECONDS } else { 0.0 },
    };
    let bound = terms.total();
    let limit = status.root_distance_max_seconds();
    if limit > 0.0 && bound > limit {
        return unbounded(
            SyncState::Unsynchronized,
            Why::HoldoverExceeded,
            Some(sample),
            Some(age),
            Some(terms),
        );
    }
    let poll = status
        .poll_interval_seconds()
        .max(MIN_POLL_INTERVAL_SECONDS);
    let (state, why) = if age > STALE_POLL_INTERVALS * poll {
        (SyncState::Stale, Why::Overdue)
    } else {
        (SyncState::Synchronized, Why::Fresh)
    };
    Assessment {
        state,
        why,
        bound_seconds: bound,
        terms: Some(terms),
        sample: Some(sample),
        sample_age_seconds: Some(age),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::timesyncd::{NtpMessage, ServerAddress};

    // T4 of the sample, seconds since the epoch.
    pub(crate) const T4: f64 = 1_800_000_000.0;

    /// A node 100 µs behind its server (offset +100 µs), delay 400 µs, a
    /// server with root delay 2 ms and root dispersion 1 ms, poll 64 s.
    pub(crate) fn status() -> Status {
        let t4 = T4 as u64 * 1_000_000;
        Status {
            server_name: "ntp.example.internal".into(),
            server_address: ServerAddress {
                family: 2,
                bytes: vec![10, 0, 0, 1],
            },
            poll_interval_usec: 64_000_000,
            poll_interval_min_usec: 32_000_000,
            poll_interval_max_usec: 2_048_000_000,
            root_distance_max_usec: 5_000_000,
            frequency: 65536,
            ntp_message: NtpMessage {
                leap: 0,
                version: 4,
                mode: 4,
                stratum: 2,
                precision: -20,
                root_delay_usec: 2_000,
                root_dispersion_usec: 1_000,
                reference_id: [10, 0, 0, 9],
                // T1 = T4 - 400 µs; server clock = node + 100 µs, the
                // request reaching it after 200 µs, answered at once.
                origin_usec: t4 - 400,
                receive_usec: t4 - 200 + 100,
                transmit_usec: t4 - 200 + 100,
                destination_usec: t4,
                spike: false,
                packet_count: 10,
                jitter_usec: 20,
            },
        }
    }

    fn assess_at(s: &Status, kernel_offset: f64, now: f64) -> Assessment {
        assess(Some(s), kernel_offset, now, &Params::default())
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn synchronized_bound_is_the_sum_of_its_terms() {
        // Read 10 s after the sample; the kernel has 30 µs left to slew of
        // the 100 µs: the true time elapsed is 10 s + 30 µs - 100 µs.
        let a = assess_at(&status(), 30e-6, T4 + 10.0);
        assert_eq!(a.state, SyncState::Synchronized);
        assert_eq!(a.why, Why::Fresh);
        let age = 10.0 + 30e-6 - 100e-6;
        assert!(
            close(a.sample_age_seconds.unwrap_or(f64::NAN), age),
            "{a:?}"
        );
        let t = a.terms.unwrap_or_else(|| panic!("no terms"));
        assert!(close(t.kernel_offset, 30e-6));
        assert!(close(t.half_delay, 200e-6));
        assert!(close(t.root_distance, 1e-3 + 1e-3));
        assert!(close(t.growth, 50e-6 * age));
        assert_eq!(t.spike_offset, 0.0);
        assert!(close(t.rounding, 2.5e-6));
        let expected = 30e-6 + 200e-6 + 2e-3 + 50e-6 * age + 2.5e-6;
        assert!(close(a.bound_seconds, expected), "{a:?}");
        assert!(close(a.bound_seconds, t.total()));
    }

    #[test]
    fn the_kernel_offset_counts_whatever_its_sign() {
        let plus = assess_at(&status(), 30e-6, T4 + 10.0);
        let minus = assess_at(&status(), -30e-6, T4 + 10.0);
        let tp = plus.terms.unwrap_or_else(|| panic!("no terms"));
        let tm = minus.terms.unwrap_or_else(|| panic!("no terms"));
        assert_eq!(tp.kernel_offset, tm.kernel_offset);
        // Only the age (and so the growth) differs, by 60 µs × 50 ppm.
        assert!(close(
            plus.bound_seconds - minus.bound_seconds,
            60e-6 * 50e-6
        ));
    }

    #[test]
    fn the_drift_rate_is_a_parameter() {
        let a = assess(
            Some(&status()),
            0.0,
            T4 + 100.0,
            &Params { drift_rate: 1e-6 },
        );
        let t = a.terms.unwrap_or_else(|| panic!("no terms"));
        assert!(close(t.growth, 1e-6 * (100.0 - 100e-6)));
    }

    #[test]
    fn a_spike_counts_its_offset_and_its_age_is_uncorrected() {
        let mut s = status();
        s.ntp_message.spike = true;
        let a = assess_at(&s, 30e-6, T4 + 10.0);
        assert_eq!(a.state, SyncState::Synchronized);
        assert!(close(a.sample_age_seconds.unwrap_or(f64::NAN), 10.0));
        let t = a.terms.unwrap_or_else(|| panic!("no terms"));
        assert!(close(t.spike_offset, 100e-6));
        assert!(close(t.rounding, 3.5e-6));
        assert!(close(
            a.bound_seconds,
            30e-6 + 200e-6 + 2e-3 + 50e-6 * 10.0 + 100e-6 + 3.5e-6
        ));
    }

    #[test]
    fn a_stepped_clock_ages_on_the_corrected_timescale() {
        // The node was 3 s behind: timesyncd stepped it by +3 s right after
        // T4 (on the old timescale). 10 s later the clock reads T4 + 13 s.
        let mut s = status();
        let m = &mut s.ntp_message;
        m.receive_usec += 3_000_000;
        m.transmit_usec += 3_000_000;
        let a = assess_at(&s, 0.0, T4 + 13.0);
        assert!(close(
            a.sample_age_seconds.unwrap_or(f64::NAN),
            10.0 - 100e-6
        ));
        assert_eq!(a.state, SyncState::Synchronized);
    }

    #[test]
    fn stale_after_four_poll_intervals_bound_still_computed() {
        // Poll 64 s: 256 s is the limit (the age is 100 µs short of the
        // clock's difference, the offset applied).
        let fresh = assess_at(&status(), 0.0, T4 + 256.0);
        assert_eq!(fresh.state, SyncState::Synchronized);
        let stale = assess_at(&status(), 0.0, T4 + 256.01);
        assert_eq!(stale.state, SyncState::Stale);
        assert_eq!(stale.why, Why::Overdue);
        assert!(stale.bound_seconds.is_finite());
        assert!(stale.bound_seconds > fresh.bound_seconds);
        assert!(stale.state.bound_holds());
    }

    #[test]
    fn the_poll_interval_is_floored_at_timesyncds_minimum() {
        let mut s = status();
        s.poll_interval_usec = 0;
        assert_eq!(assess_at(&s, 0.0, T4 + 63.0).state, SyncState::Synchronized);
        assert_eq!(assess_at(&s, 0.0, T4 + 65.0).state, SyncState::Stale);
    }

    #[test]
    fn unsynchronized_once_the_bound_passes_root_distance_max() {
        // 5 s at 50 ppm: about 100,000 s after the sample (minus what the
        // other terms take).
        let fixed = 200e-6 + 2e-3 + 2.5e-6;
        let limit_age = (5.0 - fixed) / 50e-6;
        let before = assess_at(&status(), 0.0, T4 + limit_age - 1.0);
        assert_eq!(before.state, SyncState::Stale);
        let after = assess_at(&status(), 0.0, T4 + limit_age + 1.0);
        assert_eq!(after.state, SyncState::Unsynchronized);
        assert_eq!(after.why, Why::HoldoverExceeded);
        assert_eq!(after.bound_seconds, f64::INFINITY);
        // The terms are still there to show how far it grew.
        let t = after.terms.unwrap_or_else(|| panic!("no terms"));
        assert!(t.total() > 5.0);

        // A limit of 0 (never seen) is no limit.
        let mut s = status();
        s.root_distance_max_usec = 0;
        assert_eq!(
            assess_at(&s, 0.0, T4 + limit_age + 1.0).state,
            SyncState::Stale
        );
    }

    #[test]
    fn unsynchronized_without_server_reply_or_synchronised_server() {
        let mut s = status();
        s.server_name.clear();
        s.server_address = ServerAddress {
            family: 0,
            bytes: vec![],
        };
        let a = assess_at(&s, 0.0, T4 + 1.0);
        assert_eq!((a.state, a.why), (SyncState::Unsynchronized, Why::NoServer));
        assert_eq!(a.bound_seconds, f64::INFINITY);

        let mut s = status();
        s.ntp_message = NtpMessage {
            packet_count: 0,
            ..s.ntp_message
        };
        let a = assess_at(&s, 0.0, T4 + 1.0);
        assert_eq!((a.state, a.why), (SyncState::Unsynchronized, Why::NoReply));

        for (leap, stratum) in [(3, 2), (0, 0), (0, 16)] {
            let mut s = status();
            s.ntp_message.leap = leap;
            s.ntp_message.stratum = stratum;
            let a = assess_at(&s, 0.0, T4 + 1.0);
            assert_eq!(
                (a.state, a.why),
                (SyncState::Unsynchronized, Why::ServerUnsynchronized),
                "leap {leap} stratum {stratum}"
            );
            assert_eq!(a.bound_seconds, f64::INFINITY);
        }

        // Leap second warnings are synchronised.
        for leap in [1, 2] {
            let mut s = status();
            s.ntp_message.leap = leap;
            assert_eq!(assess_at(&s, 0.0, T4 + 1.0).state, SyncState::Synchronized);
        }
    }

    #[test]
    fn inconsistent_timestamps_are_unsynchronized() {
        let mut s = status();
        s.ntp_message.destination_usec = s.ntp_message.origin_usec - 1;
        let a = assess_at(&s, 0.0, T4 + 1.0);
        assert_eq!(
            (a.state, a.why),
            (SyncState::Unsynchronized, Why::InvalidSample)
        );
    }

    #[test]
    fn a_clock_set_back_is_unsynchronized_a_little_jitter_is_not() {
        let a = assess_at(&status(), 0.0, T4 - 2.0);
        assert_eq!(
            (a.state, a.why),
            (SyncState::Unsynchronized, Why::ClockSetBack)
        );
        let a = assess_at(&status(), 0.0, T4 - 0.5);
        assert_eq!(a.state, SyncState::Synchronized);
        let t = a.terms.unwrap_or_else(|| panic!("no terms"));
        assert_eq!(t.growth, 0.0);
    }

    #[test]
    fn unknown_when_not_read() {
        let a = assess(None, 0.0, T4, &Params::default());
        assert_eq!((a.state, a.why), (SyncState::Unknown, Why::NotAnswering));
        assert_eq!(a.bound_seconds, f64::INFINITY);
        assert_eq!(a.sample, None);
    }
}
