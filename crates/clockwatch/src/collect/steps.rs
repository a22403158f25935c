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

/// Without timerfd: a change beyond what a maximal slew explains.
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
                tracing::warn!(error = %e, "timerfd unavailable; detecting clock steps above 2 ms by sampling");
                None
            }
        };
        let mut baseline = realtime_minus_boottime_ns();
        let mut ticker = tokio::time::interval(SAMPLE_EVERY);
        loop {
            tokio::select! {
                _ = ticker.tick() => {
                    let now = realtime_minus_boottime_ns();
                    if timer.is_none() && (now - baseline).abs() > POLL_THRESHOLD_NS {
                        self.record(now - baseline);
                    }
                    baseline = now;
                }
                ready = readable(&timer) => {
                    let Some(timer) = &timer else { continue };
                    let Ok(mut guard) = ready else { continue };
                    match timer.get_ref().was_set() {
                        Ok(true) => {
                            let now = realtime_minus_boottime_ns();
                            self.record(now - baseline);
                            baseline = now;
                            if let Err(e) = timer.get_ref().arm() {
                                tracing::warn!(error = %e, "cannot re-arm the clock-set timer");
                            }
                        }
                        Ok(false) => {}
                        Err(e) => tracing::warn!(error = %e, "reading the clock-set timer failed"),
                    }
                    guard.clear_ready();
                }
            }
        }
    }
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
