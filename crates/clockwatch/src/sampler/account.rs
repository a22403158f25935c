//! Time accounting from a sequence of verdicts: pure, the time of each
//! sample is passed in (no clock read, no I/O), so the conservative rule is
//! tested with any sequence of samples.
//!
//! The rule, for the interval between two consecutive samples:
//!
//! - it counts against the *worse* of the two states (worst first:
//!   unknown, unsynchronized, local, stale, synchronized) and the *larger*
//!   of the two bounds;
//! - an interval longer than [`STALL_FACTOR`] sample intervals (the process
//!   stalled, the machine was suspended) counts as unknown, whatever both
//!   ends said;
//! - the time before the first sample is not observed at all (a restart
//!   starts from zero: the report counts the lost time as unmeasured).

use std::collections::VecDeque;
use std::time::Duration;

use clockwatch_vocab::SyncState;

/// An interval longer than this many sample intervals counts as unknown.
pub const STALL_FACTOR: u32 = 3;

/// Worse first: the order in which two states combine.
pub fn badness(state: SyncState) -> u8 {
    match state {
        SyncState::Unknown => 4,
        SyncState::Unsynchronized => 3,
        SyncState::Local => 2,
        SyncState::Stale => 1,
        SyncState::Synchronized => 0,
    }
}

/// The worse of two states.
pub fn worse(a: SyncState, b: SyncState) -> SyncState {
    if badness(a) >= badness(b) {
        a
    } else {
        b
    }
}

/// The index of a state in [`SyncState::ALL`] (the counters' order).
fn index(state: SyncState) -> usize {
    SyncState::ALL
        .iter()
        .position(|s| *s == state)
        .unwrap_or(SyncState::ALL.len() - 1)
}

/// One sample: when (a monotonic time that counts suspend, from any
/// origin), and the verdict's state and bound.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub at: Duration,
    pub state: SyncState,
    pub bound: f64,
}

impl Sample {
    /// The bound as the peak gauge counts it: +Inf unless the bound holds
    /// (synchronized or stale). A NaN is no bound.
    fn peak_bound(&self) -> f64 {
        if self.state.bound_holds() && !self.bound.is_nan() {
            self.bound
        } else {
            f64::INFINITY
        }
    }
}

/// The counters, as exported: a copy is cheap (a few dozen numbers).
#[derive(Debug, Clone, PartialEq)]
pub struct Counters {
    /// Upper bounds of the histogram's buckets, strictly increasing, +Inf
    /// not included.
    pub bucket_bounds: Vec<f64>,
    /// Seconds synchronized with the bound at most each bucket bound
    /// (cumulative, as a Prometheus histogram).
    pub bucket_seconds: Vec<f64>,
    /// Seconds synchronized (the +Inf bucket).
    pub count_seconds: f64,
    /// Integral of the bound over the synchronized seconds that had a finite
    /// bound (bound x seconds).
    pub sum: f64,
    /// Seconds in each state, in [`SyncState::ALL`]'s order.
    pub state_seconds: [f64; 5],
    /// Peak bound over the window (+Inf when any sample in it did not
    /// hold a bound or a stall fell in it); None before the first sample.
    pub window_max: Option<f64>,
}

impl Counters {
    /// Seconds in one state.
    pub fn state(&self, state: SyncState) -> f64 {
        self.state_seconds[index(state)]
    }

    /// Every second observed.
    pub fn observed(&self) -> f64 {
        self.state_seconds.iter().sum()
    }
}

/// The accounting state.
#[derive(Debug, Clone)]
pub struct Accounting {
    interval: Duration,
    window: Duration,
    last: Option<Sample>,
    counters: Counters,
    /// Per interval its conservative bound, stamped with the interval's end:
    /// a monotone queue (bounds decrease from the front), so the front is
    /// the window's peak. At most window/interval entries, usually a few.
    peaks: VecDeque<(Duration, f64)>,
}

impl Accounting {
    /// `buckets`: strictly increasing, finite, positive (checked by the
    /// flag's parser).
    pub fn new(interval: Duration, window: Duration, buckets: Vec<f64>) -> Self {
        let n = buckets.len();
        Self {
            interval,
            window,
            last: None,
            counters: Counters {
                bucket_bounds: buckets,
                bucket_seconds: vec![0.0; n],
                count_seconds: 0.0,
                sum: 0.0,
                state_seconds: [0.0; 5],
                window_max: None,
            },
            peaks: VecDeque::new(),
        }
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The last sample taken.
    pub fn last(&self) -> Option<Sample> {
        self.last
    }

    /// Accounts for the interval since the previous sample. A sample not
    /// later than the previous one (same instant, out of order) accounts
    /// nothing, but its state still counts for the peak.
    pub fn observe(&mut self, sample: Sample) {
        let Some(prev) = self.last else {
            self.push_peak(sample.at, sample.peak_bound());
            self.last = Some(sample);
            return;
        };
        if sample.at <= prev.at {
            // Keep the worse of the two as the interval's start.
            let merged = Sample {
                at: prev.at,
                state: worse(prev.state, sample.state),
                bound: prev.bound.max(sample.bound),
            };
            self.push_peak(prev.at, merged.peak_bound());
            self.last = Some(merged);
            return;
        }
        let dt = (sample.at - prev.at).as_secs_f64();
        let stalled = sample.at - prev.at > self.interval * STALL_FACTOR;
        let (state, bound) = if stalled {
            (SyncState::Unknown, f64::INFINITY)
        } else {
            (
                worse(prev.state, sample.state),
                prev.bound.max(sample.bound),
            )
        };
        let c = &mut self.counters;
        c.state_seconds[index(state)] += dt;
        if state == SyncState::Synchronized {
            c.count_seconds += dt;
            if bound.is_finite() {
                c.sum += bound * dt;
            }
            for (le, seconds) in c.bucket_bounds.iter().zip(c.bucket_seconds.iter_mut()) {
                if bound <= *le {
                    *seconds += dt;
                }
            }
        }
        let peak = if stalled {
            f64::INFINITY
        } else {
            prev.peak_bound().max(sample.peak_bound())
        };
        self.push_peak(sample.at, peak);
        self.last = Some(sample);
    }

    fn push_peak(&mut self, at: Duration, peak: f64) {
        while self.peaks.back().is_some_and(|(_, p)| *p <= peak) {
            self.peaks.pop_back();
        }
        self.peaks.push_back((at, peak));
        let start = at.saturating_sub(self.window);
        while self.peaks.len() > 1 && self.peaks.front().is_some_and(|(t, _)| *t < start) {
            self.peaks.pop_front();
        }
        self.counters.window_max = self.peaks.front().map(|(_, p)| *p);
    }

    /// Entries in the peak queue (for the memory figure).
    pub fn peak_entries(&self) -> usize {
        self.peaks.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUCKETS: [f64; 8] = [1e-6, 1e-5, 1e-4, 1e-3, 0.01, 0.05, 0.1, 1.0];

    fn acct() -> Accounting {
        Accounting::new(
            Duration::from_secs(1),
            Duration::from_secs(60),
            BUCKETS.to_vec(),
        )
    }

    fn s(at_ms: u64, state: SyncState, bound: f64) -> Sample {
        Sample {
            at: Duration::from_millis(at_ms),
            state,
            bound,
        }
    }

    fn sync(at_ms: u64, bound: f64) -> Sample {
        s(at_ms, SyncState::Synchronized, bound)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    fn check_invariants(c: &Counters) {
        for w in c.bucket_seconds.windows(2) {
            assert!(w[0] <= w[1], "buckets not monotone: {:?}", c.bucket_seconds);
        }
        for b in &c.bucket_seconds {
            assert!(*b <= c.count_seconds + 1e-12, "bucket above _count");
        }
        assert!(c.count_seconds <= c.state(SyncState::Synchronized) + 1e-12);
    }

    #[test]
    fn the_first_sample_accounts_nothing() {
        let mut a = acct();
        a.observe(sync(5_000, 1e-4));
        assert_eq!(a.counters().observed(), 0.0);
        assert_eq!(a.counters().window_max, Some(1e-4));
    }

    #[test]
    fn an_interval_counts_against_the_larger_bound_and_the_worse_state() {
        let mut a = acct();
        a.observe(sync(0, 5e-6));
        a.observe(sync(1_000, 5e-4)); // [0,1]: 500 µs
        a.observe(sync(2_000, 5e-6)); // [1,2]: 500 µs (the earlier end)
        a.observe(sync(3_000, 5e-6)); // [2,3]: 5 µs
        a.observe(s(4_000, SyncState::Stale, 5e-6)); // [3,4]: stale
        let c = a.counters().clone();
        check_invariants(&c);
        assert!(close(c.count_seconds, 3.0));
        assert!(close(c.state(SyncState::Stale), 1.0));
        // le=1e-5 holds only [2,3]; le=1e-3 holds all three.
        assert!(close(c.bucket_seconds[1], 1.0));
        assert!(close(c.bucket_seconds[2], 1.0));
        assert!(close(c.bucket_seconds[3], 3.0));
        assert_eq!(c.bucket_seconds[0], 0.0);
        assert!(close(c.sum, 5e-4 + 5e-4 + 5e-6));
        assert!(close(c.observed(), 4.0));
    }

    #[test]
    fn worse_orders_unknown_unsynchronized_local_stale_synchronized() {
        use SyncState::*;
        let order = [Unknown, Unsynchronized, Local, Stale, Synchronized];
        for (i, a) in order.iter().enumerate() {
            for b in &order[i..] {
                assert_eq!(worse(*a, *b), *a);
                assert_eq!(worse(*b, *a), *a);
            }
        }
        // Every state is ranked.
        for s in SyncState::ALL {
            assert!(order.contains(&s));
        }
    }

    #[test]
    fn the_state_seconds_add_up_to_the_time_observed() {
        use SyncState::*;
        let mut a = acct();
        let states = [Synchronized, Stale, Local, Unsynchronized, Unknown];
        let mut at = 10_000;
        a.observe(sync(at, 1e-5));
        for i in 0..500u64 {
            // Irregular spacing, 100 ms to 2.9 s, and now and then a stall.
            let step = 100 + (i * 7919) % 2_800 + if i % 97 == 0 { 10_000 } else { 0 };
            at += step;
            let bound = 10f64.powi(-((i % 7) as i32));
            a.observe(s(at, states[(i % 5) as usize], bound));
            check_invariants(a.counters());
        }
        assert!(close(a.counters().observed(), (at - 10_000) as f64 / 1e3));
    }

    #[test]
    fn a_stall_counts_as_unknown_and_shows_in_the_peak() {
        let mut a = acct();
        a.observe(sync(0, 1e-6));
        a.observe(sync(1_000, 1e-6));
        // 3 intervals is still fine; more is a stall.
        a.observe(sync(4_000, 1e-6));
        assert!(close(a.counters().count_seconds, 4.0));
        assert_eq!(a.counters().window_max, Some(1e-6));
        a.observe(sync(7_001, 1e-6));
        let c = a.counters();
        assert!(close(c.count_seconds, 4.0));
        assert!(close(c.state(SyncState::Unknown), 3.001));
        assert_eq!(c.window_max, Some(f64::INFINITY));
        check_invariants(c);
    }

    /// A breach between two scrapes (15 s apart) lasting 3 samples: the
    /// scrapes see a 2 µs bound both times, the counters and the peak see
    /// the breach.
    #[test]
    fn a_breach_between_scrapes_is_seen_by_the_peak_and_the_counters() {
        let mut a = acct();
        let mut scraped = Vec::new();
        for t in 0..=30u64 {
            let bound = if (20..23).contains(&t) { 0.2 } else { 2e-6 };
            a.observe(sync(t * 1_000, bound));
            if t % 15 == 0 {
                scraped.push((bound, a.counters().clone()));
            }
        }
        // What a scraper reading only the bound gauge saw.
        assert!(scraped.iter().all(|(bound, _)| *bound == 2e-6));
        let last = &scraped[2].1;
        let first = &scraped[1].1;
        assert_eq!(last.window_max, Some(0.2));
        // Between the scrapes: 15 s synchronized, of which [19,23] (4 s,
        // conservatively: the interval into and out of the breach count
        // against it) above 100 ms and within 1 s.
        let inc = |i: usize| last.bucket_seconds[i] - first.bucket_seconds[i];
        assert!(close(last.count_seconds - first.count_seconds, 15.0));
        assert!(close(inc(6), 11.0)); // le=0.1
        assert!(close(inc(7), 15.0)); // le=1
        assert!(close(inc(0), 0.0)); // le=1e-6
        assert!(close(inc(1), 11.0)); // le=1e-5
    }

    #[test]
    fn the_peak_forgets_what_left_the_window() {
        let mut a = Accounting::new(
            Duration::from_secs(1),
            Duration::from_secs(10),
            BUCKETS.to_vec(),
        );
        a.observe(sync(0, 1e-6));
        a.observe(s(1_000, SyncState::Unsynchronized, f64::INFINITY));
        a.observe(sync(2_000, 1e-3));
        for t in 3..=11u64 {
            a.observe(sync(t * 1_000, 1e-6));
        }
        // [1,2] ended at 2 s: inside the 10 s window ending at 11 s.
        assert_eq!(a.counters().window_max, Some(f64::INFINITY));
        // [1,2] ended at 2 s: on the edge of the window, still in.
        a.observe(sync(12_000, 1e-6));
        assert_eq!(a.counters().window_max, Some(f64::INFINITY));
        // [2,3] (1 ms) ended at 3 s, still in.
        a.observe(sync(12_500, 1e-6));
        assert_eq!(a.counters().window_max, Some(1e-3));
        a.observe(sync(13_100, 1e-6));
        assert_eq!(a.counters().window_max, Some(1e-6));
        assert!(a.peak_entries() <= 2);
    }

    #[test]
    fn synchronized_without_a_finite_bound_is_in_count_not_in_sum() {
        let mut a = acct();
        a.observe(sync(0, f64::INFINITY));
        a.observe(sync(1_000, f64::INFINITY));
        let c = a.counters();
        assert!(close(c.count_seconds, 1.0));
        assert_eq!(c.sum, 0.0);
        assert!(c.bucket_seconds.iter().all(|b| *b == 0.0));
        assert_eq!(c.window_max, Some(f64::INFINITY));
    }

    #[test]
    fn a_repeated_or_late_sample_accounts_nothing_but_keeps_the_worse() {
        let mut a = acct();
        a.observe(sync(1_000, 1e-6));
        a.observe(s(1_000, SyncState::Unsynchronized, f64::INFINITY));
        a.observe(sync(500, 1e-6));
        assert_eq!(a.counters().observed(), 0.0);
        a.observe(sync(2_000, 1e-6));
        assert!(close(a.counters().state(SyncState::Unsynchronized), 1.0));
    }
}
