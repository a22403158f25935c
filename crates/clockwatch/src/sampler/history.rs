//! The samples of the last hour, downsampled for the status page's plot:
//! one [`Point`] per [`STEP`] in a ring of [`POINTS`], so the memory is
//! fixed (`POINTS * size_of::<Point>()`, 21 KiB) whatever the sample
//! interval. Pure: the time comes in with each sample.

use std::collections::VecDeque;
use std::time::Duration;

use clockwatch_vocab::SyncState;

use super::account::{badness, worse};

/// Width of one point.
pub const STEP: Duration = Duration::from_secs(10);
/// Points kept: 64 minutes at 10 s.
pub const POINTS: usize = 384;

/// One [`STEP`] of samples, the worst of each.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Which step (monotonic time / STEP): consecutive points whose slots
    /// differ by more than one have a gap between them.
    pub slot: u64,
    /// Wall time (Unix seconds) of the first sample in it, for the axis.
    pub unix: f64,
    /// The worst state of its samples.
    pub state: SyncState,
    /// The largest bound of its samples that hold one (synchronized or
    /// stale); None when none did.
    pub bound_max: Option<f64>,
    /// The largest |probe offset| of its samples (any configured server);
    /// None without a probe result.
    pub probe_abs_max: Option<f64>,
}

/// One sample as the history takes it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HistorySample {
    pub at: Duration,
    pub unix: f64,
    pub state: SyncState,
    pub bound: f64,
    pub probe_abs: Option<f64>,
}

#[derive(Debug, Clone, Default)]
pub struct History {
    points: VecDeque<Point>,
}

fn max_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

impl History {
    pub fn new() -> Self {
        Self {
            points: VecDeque::with_capacity(POINTS),
        }
    }

    pub fn record(&mut self, s: HistorySample) {
        let slot = s.at.as_secs() / STEP.as_secs();
        let bound = (s.state.bound_holds() && s.bound.is_finite()).then_some(s.bound);
        match self.points.back_mut() {
            Some(last) if last.slot == slot => {
                last.state = worse(last.state, s.state);
                last.bound_max = max_opt(last.bound_max, bound);
                last.probe_abs_max = max_opt(last.probe_abs_max, s.probe_abs);
            }
            // A sample older than the last point (never, with one clock).
            Some(last) if last.slot > slot => {}
            _ => {
                if self.points.len() == POINTS {
                    self.points.pop_front();
                }
                self.points.push_back(Point {
                    slot,
                    unix: s.unix,
                    state: s.state,
                    bound_max: bound,
                    probe_abs_max: s.probe_abs,
                });
            }
        }
    }

    /// Marks a stall: the point it ends in counts as unknown.
    pub fn stall(&mut self) {
        if let Some(last) = self.points.back_mut() {
            last.state = SyncState::Unknown;
        }
    }

    pub fn points(&self) -> impl ExactSizeIterator<Item = &Point> {
        self.points.iter()
    }

    /// Bytes the ring holds, allocated once.
    pub fn bytes(&self) -> usize {
        self.points.capacity() * std::mem::size_of::<Point>()
    }

    /// The worst state over the history (for the plot's caption).
    pub fn worst(&self) -> Option<SyncState> {
        self.points
            .iter()
            .map(|p| p.state)
            .max_by_key(|s| badness(*s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at_s: u64, state: SyncState, bound: f64) -> HistorySample {
        HistorySample {
            at: Duration::from_secs(at_s),
            unix: 1_800_000_000.0 + at_s as f64,
            state,
            bound,
            probe_abs: None,
        }
    }

    #[test]
    fn one_point_per_step_the_worst_of_its_samples() {
        let mut h = History::new();
        h.record(sample(0, SyncState::Synchronized, 1e-6));
        h.record(sample(3, SyncState::Synchronized, 5e-6));
        h.record(sample(6, SyncState::Unsynchronized, f64::INFINITY));
        h.record(sample(10, SyncState::Synchronized, 1e-6));
        let p: Vec<&Point> = h.points().collect();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].state, SyncState::Unsynchronized);
        assert_eq!(p[0].bound_max, Some(5e-6));
        assert_eq!(p[1].bound_max, Some(1e-6));
    }

    #[test]
    fn the_ring_keeps_an_hour_at_fixed_memory() {
        let mut h = History::new();
        let bytes = h.bytes();
        for t in 0..(2 * 3600) {
            h.record(sample(t, SyncState::Synchronized, 1e-6));
        }
        assert_eq!(h.points().len(), POINTS);
        assert_eq!(h.bytes(), bytes);
        assert!(bytes <= 24 * 1024, "{bytes} bytes");
        let first = h.points().next().map(|p| p.slot);
        assert_eq!(first, Some((2 * 3600) / 10 - POINTS as u64));
        assert!(POINTS as u64 * STEP.as_secs() >= 3600);
    }
}
