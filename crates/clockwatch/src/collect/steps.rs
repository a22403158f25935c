//! The steps collector: counts discontinuous changes of the system clock —
//! chronyd's makestep, a manual `date -s`, a VM restored from a snapshot.
//!
//! A timerfd armed with TFD_TIMER_CANCEL_ON_SET wakes us the moment anyone
//! sets the clock; the size of the step is the change of CLOCK_REALTIME −
//! CLOCK_BOOTTIME since the last sample (taken every second, so a slew of
//! at most 500 ppm adds at most 0.5 ms to it). Where timerfd is unavailable
//! the per-second samples alone detect jumps larger than [`POLL_THRESHOLD_NS`].

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::unix::AsyncFd;

use super::{CollectorName, CollectorOutcome};
use crate::sys::{clock_set_timer_async, realtime_minus_boottime_ns, ClockSetTimer};

/// Without timerfd: the least change taken for a step, per second between
/// samples (see [`fallback_threshold_ns`]).
pub const POLL_THRESHOLD_NS: i128 = 2_000_000;
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StepCounts {
    pub total: u64,
    /// Signed size of the last step in seconds (positive: the clock jumped
    /// forward); 0 before the first.
    pub last_step_seconds: f64,
}

pub struct StepTracker {
    counts: Mutex<StepCounts>,
}

impl StepTracker {
    /// Starts watching in a background task of the current tokio runtime.
    pub fn start() -> Arc<Self> {
        let tracker = Arc::new(Self {
            counts: Mutex::new(StepCounts::default()),
        });
        let watcher = tracker.clone();
        tokio::spawn(async move { watcher.watch().await });
        tracker
    }

    pub fn counts(&self) -> StepCounts {
        *self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn record(&self, delta_ns: i128) {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        c.total += 1;
        c.last_step_seconds = delta_ns as f64 * 1e-9;
        tracing::info!(
            step_seconds = c.last_step_seconds,
            total = c.total,
            "system clock stepped"
        );
    }

    async fn watch(self: Arc<Self>) {
        let timer = match clock_set_timer_async() {
            Ok(t) => Some(t),
            Err(e) => {
                // Sampling still counts steps above 2 ms; say so once.
                tracing::warn!(error = %e, "timerfd unavailable; detecting clock steps above 2 ms per second by sampling");
                None
            }
        };
        let mut detector = StepDetector::new(realtime_minus_boottime_ns(), timer.is_some());
        let mut last_tick = Instant::now();
        let mut ticker = tokio::time::interval(SAMPLE_EVERY);
        loop {
            // Biased: when the timerfd and the tick are ready together, the
            // step is taken before the tick moves the baseline (else it
            // would be recorded with a size of about 0).
            tokio::select! {
                biased;
                ready = readable(&timer) => {
                    let Some(timer) = &timer else { continue };
                    let Ok(mut guard) = ready else { continue };
                    match timer.get_ref().was_set() {
                        Ok(true) => {
                            let step = detector.on_clock_set(realtime_minus_boottime_ns());
                            self.record(step);
                            rearm(timer);
                        }
                        Ok(false) => {}
                        Err(e) => tracing::warn!(error = %e, "reading the clock-set timer failed"),
                    }
                    guard.clear_ready();
                }
                _ = ticker.tick() => {
                    // A step may have landed after the reactor last looked at
                    // the timerfd: ask it directly (a non-blocking read)
                    // before the baseline moves.
                    let was_set = timer.as_ref().map(|t| t.get_ref().was_set().unwrap_or(false));
                    let elapsed = last_tick.elapsed();
                    last_tick = Instant::now();
                    if let Some(step) = detector.on_tick(realtime_minus_boottime_ns(), elapsed, was_set == Some(true)) {
                        self.record(step);
                    }
                    if let (Some(timer), Some(true)) = (&timer, was_set) {
                        rearm(timer);
                    }
                }
            }
        }
    }
}

fn rearm(timer: &AsyncFd<ClockSetTimer>) {
    if let Err(e) = timer.get_ref().arm() {
        tracing::warn!(error = %e, "cannot re-arm the clock-set timer");
    }
}

/// The step decision, apart from the clock and the timerfd: values of
/// CLOCK_REALTIME − CLOCK_BOOTTIME come in, steps (ns) go out.
#[derive(Debug)]
struct StepDetector {
    baseline: i128,
    /// A timerfd reports every clock set; without one, sampling must guess.
    timer: bool,
}

impl StepDetector {
    fn new(baseline: i128, timer: bool) -> Self {
        Self { baseline, timer }
    }

    /// The timerfd fired: the change since the last sample is the step.
    fn on_clock_set(&mut self, now: i128) -> i128 {
        let step = now - self.baseline;
        self.baseline = now;
        step
    }

    /// A sample `elapsed` after the previous one. With a timerfd, a step is
    /// only what it reported (`clock_was_set`); without one, a change beyond
    /// what slewing can explain in `elapsed` ([`fallback_threshold_ns`]).
    fn on_tick(&mut self, now: i128, elapsed: Duration, clock_was_set: bool) -> Option<i128> {
        let change = now - self.baseline;
        self.baseline = now;
        let step = if self.timer {
            clock_was_set
        } else {
            change.abs() > fallback_threshold_ns(elapsed)
        };
        step.then_some(change)
    }
}

/// Without timerfd: the change of CLOCK_REALTIME − CLOCK_BOOTTIME that
/// slewing alone can explain in `elapsed` — 2 ms per second of it (four
/// times the kernel's 500 ppm), at least [`POLL_THRESHOLD_NS`]. A
/// CPU-throttled pod whose sample comes 10 s late must not count a
/// slew of 5 ms as a step.
fn fallback_threshold_ns(elapsed: Duration) -> i128 {
    let per_second = POLL_THRESHOLD_NS;
    (elapsed.as_nanos() as i128 * per_second / 1_000_000_000).max(POLL_THRESHOLD_NS)
}

async fn readable(
    timer: &Option<AsyncFd<ClockSetTimer>>,
) -> std::io::Result<tokio::io::unix::AsyncFdReadyGuard<'_, ClockSetTimer>> {
    match timer {
        Some(t) => t.readable().await,
        None => std::future::pending().await,
    }
}

pub(super) fn collect(tracker: &StepTracker, outcomes: &mut Vec<CollectorOutcome>) -> StepCounts {
    let started = Instant::now();
    let counts = tracker.counts();
    outcomes.push(CollectorOutcome {
        name: CollectorName::Steps,
        success: true,
        duration: started.elapsed(),
        error: None,
    });
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn a_clock_set_is_measured_from_the_last_sample() {
        let mut d = StepDetector::new(1_000, true);
        assert_eq!(d.on_tick(1_500, SECOND, false), None, "slewing, no step");
        assert_eq!(d.on_clock_set(3_000_000_000), 3_000_000_000 - 1_500);
        assert_eq!(d.on_tick(3_000_000_100, SECOND, false), None);
    }

    /// The race of issue 16: the tick runs before the timerfd's readiness
    /// is seen. The tick asks the timerfd first, so the step keeps its
    /// size, and the readiness that follows finds it already taken.
    #[test]
    fn a_step_seen_first_by_the_tick_keeps_its_size() {
        let mut d = StepDetector::new(0, true);
        assert_eq!(
            d.on_tick(-40_000_000_000, SECOND, true),
            Some(-40_000_000_000)
        );
        assert_eq!(d.on_tick(-40_000_000_001, SECOND, false), None);
    }

    #[test]
    fn with_a_timer_sampling_never_guesses() {
        let mut d = StepDetector::new(0, true);
        assert_eq!(d.on_tick(50_000_000, SECOND, false), None);
    }

    #[test]
    fn without_a_timer_the_threshold_grows_with_the_gap() {
        let mut d = StepDetector::new(0, false);
        assert_eq!(d.on_tick(1_900_000, SECOND, false), None);
        assert_eq!(
            d.on_tick(1_900_000 + 2_100_000, SECOND, false),
            Some(2_100_000)
        );
        // A throttled pod sampled 10 s late: a 5 ms slew is no step,
        // 25 ms is.
        let mut d = StepDetector::new(0, false);
        assert_eq!(d.on_tick(5_000_000, 10 * SECOND, false), None);
        assert_eq!(d.on_tick(30_000_000, 10 * SECOND, false), Some(25_000_000));
        // A sample early (a burst of ticks after a stall) keeps the floor.
        assert_eq!(
            fallback_threshold_ns(Duration::from_millis(1)),
            POLL_THRESHOLD_NS
        );
        assert_eq!(fallback_threshold_ns(3 * SECOND), 3 * POLL_THRESHOLD_NS);
    }
}
