//! Continuous time accounting, independent of scrapes: every
//! `--sample.interval` the server takes a light collection (chronyd's
//! tracking, the kernel's timex, every ptp4l instance when configured) and
//! feeds its [`Verdict`](crate::verdict::Verdict) to a [`Ledger`]: the
//! time-weighted counters of [`account`] and the status page's
//! [`history`]. The state and the bound are the verdict's; nothing here
//! computes them.
//!
//! Sharing with scrapes (docs/sampling.md): every collection, a scrape's
//! or a sample's, is recorded; the sampler's tick skips its own collection
//! while a scrape's is in flight or when one was recorded less than half a
//! sample interval ago. Scrapes still collect afresh as before (joining one
//! in flight) and never wait for a sample, so the sampler adds at most one
//! tracking request per interval, none while scrapes come more often than
//! every half interval.

pub mod account;
pub mod history;

use std::time::Duration;

use crate::probe::ProbeResult;
use crate::verdict::Verdict;
pub use account::{Accounting, Counters, Sample, STALL_FACTOR};
pub use history::{History, HistorySample, Point};

/// Default sample interval.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);
pub const MAX_INTERVAL: Duration = Duration::from_secs(60);
/// Default window of the peak gauge.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(60);
pub const MAX_WINDOW: Duration = Duration::from_secs(3600);
/// The peak queue holds at most window/interval entries of 24 bytes: this
/// many is 84 KiB (the default, 60, is 1.4 KiB).
pub const MAX_WINDOW_SAMPLES: u128 = 3600;
/// Default histogram buckets: the regulatory tolerances from 1 µs to 1 s
/// (MiFID II RTS 25: 100 µs, 1 ms, 1 s; FINRA CAT: 50 ms; 100 ms).
pub const DEFAULT_BUCKETS: [f64; 8] = [1e-6, 1e-5, 1e-4, 1e-3, 0.01, 0.05, 0.1, 1.0];
/// More buckets than this is a mistake, and costs every scrape.
pub const MAX_BUCKETS: usize = 32;

/// The sampler's settings (`--sample.*`).
#[derive(Debug, Clone, PartialEq)]
pub struct SampleConfig {
    pub interval: Duration,
    pub window: Duration,
    pub buckets: Vec<f64>,
}

impl Default for SampleConfig {
    fn default() -> Self {
        Self {
            interval: DEFAULT_INTERVAL,
            window: DEFAULT_WINDOW,
            buckets: DEFAULT_BUCKETS.to_vec(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SampleConfigError {
    #[error("--sample.interval {0:?} is out of range: 100ms to 60s")]
    Interval(Duration),
    #[error("--sample.window {window:?} must be at least --sample.interval ({interval:?}) and at most 1h")]
    Window {
        window: Duration,
        interval: Duration,
    },
    #[error("--sample.window {window:?} holds more than 3600 samples of {interval:?}: lengthen --sample.interval or shorten the window")]
    WindowSamples {
        window: Duration,
        interval: Duration,
    },
    #[error("--sample.bound-buckets: {0:?} is not a number of seconds")]
    BucketSyntax(String),
    #[error("--sample.bound-buckets: {0} must be finite and above 0 (+Inf is always added)")]
    BucketValue(String),
    #[error("--sample.bound-buckets must be strictly increasing: {0} follows {1}")]
    BucketOrder(String, String),
    #[error("--sample.bound-buckets: between 1 and 32 buckets, not {0}")]
    BucketCount(usize),
}

/// `--sample.bound-buckets`: comma-separated seconds, strictly increasing.
pub fn parse_buckets(text: &str) -> Result<Vec<f64>, SampleConfigError> {
    let mut out: Vec<f64> = Vec::new();
    let mut previous = "";
    for part in text.split(',').map(str::trim) {
        let v: f64 = part
            .parse()
            .map_err(|_| SampleConfigError::BucketSyntax(part.to_string()))?;
        if !v.is_finite() || v <= 0.0 {
            return Err(SampleConfigError::BucketValue(part.to_string()));
        }
        if out.last().is_some_and(|last| v <= *last) {
            return Err(SampleConfigError::BucketOrder(
                part.to_string(),
                previous.to_string(),
            ));
        }
        previous = part;
        out.push(v);
        if out.len() > MAX_BUCKETS {
            return Err(SampleConfigError::BucketCount(text.split(',').count()));
        }
    }
    if out.is_empty() {
        return Err(SampleConfigError::BucketCount(0));
    }
    Ok(out)
}

impl SampleConfig {
    pub fn new(
        interval: Duration,
        window: Duration,
        buckets: Vec<f64>,
    ) -> Result<Self, SampleConfigError> {
        if !(MIN_INTERVAL..=MAX_INTERVAL).contains(&interval) {
            return Err(SampleConfigError::Interval(interval));
        }
        if window < interval || window > MAX_WINDOW {
            return Err(SampleConfigError::Window { window, interval });
        }
        if window.as_nanos() / interval.as_nanos() > MAX_WINDOW_SAMPLES {
            return Err(SampleConfigError::WindowSamples { window, interval });
        }
        if buckets.is_empty() || buckets.len() > MAX_BUCKETS {
            return Err(SampleConfigError::BucketCount(buckets.len()));
        }
        Ok(Self {
            interval,
            window,
            buckets,
        })
    }
}

/// The counters and the history, fed by every collection.
#[derive(Debug)]
pub struct Ledger {
    config: SampleConfig,
    accounting: Accounting,
    history: History,
}

impl Ledger {
    pub fn new(config: SampleConfig) -> Self {
        Self {
            accounting: Accounting::new(config.interval, config.window, config.buckets.clone()),
            history: History::new(),
            config,
        }
    }

    pub fn config(&self) -> &SampleConfig {
        &self.config
    }

    /// Records one collection's verdict, taken at `at` (CLOCK_BOOTTIME)
    /// and `unix` (the node's clock).
    pub fn record(&mut self, at: Duration, unix: f64, verdict: &Verdict, probes: &[ProbeResult]) {
        let stalled = self
            .accounting
            .last()
            .is_some_and(|last| at > last.at + self.config.interval * STALL_FACTOR);
        self.accounting.observe(Sample {
            at,
            state: verdict.state,
            bound: verdict.bound_seconds,
        });
        let probe_abs = probes
            .iter()
            .filter_map(|p| p.sample.as_ref().map(|s| s.offset.abs()))
            .reduce(f64::max);
        self.history.record(HistorySample {
            at,
            unix,
            state: verdict.state,
            bound: verdict.bound_seconds,
            probe_abs,
        });
        if stalled {
            self.history.stall();
        }
    }

    pub fn counters(&self) -> Counters {
        self.accounting.counters().clone()
    }

    /// When the last collection was recorded.
    pub fn last_at(&self) -> Option<Duration> {
        self.accounting.last().map(|s| s.at)
    }

    pub fn history(&self) -> &History {
        &self.history
    }

    /// Heap bytes held: the history ring and the peak queue's entries.
    pub fn bytes(&self) -> usize {
        self.history.bytes()
            + self.accounting.peak_entries() * std::mem::size_of::<(Duration, f64)>()
            + self.config.buckets.len() * 2 * std::mem::size_of::<f64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_parse_strictly_increasing_positive_and_finite() {
        assert_eq!(
            parse_buckets("1e-6, 0.001,1").as_deref(),
            Ok(&[1e-6, 1e-3, 1.0][..])
        );
        assert_eq!(
            parse_buckets("0.1,0.01").map_err(|e| e.to_string()),
            Err("--sample.bound-buckets must be strictly increasing: 0.01 follows 0.1".into())
        );
        assert!(matches!(
            parse_buckets("0.1,0.1"),
            Err(SampleConfigError::BucketOrder(..))
        ));
        assert!(matches!(
            parse_buckets("1ms"),
            Err(SampleConfigError::BucketSyntax(_))
        ));
        for bad in ["0", "-1", "inf", "+Inf", "NaN"] {
            assert!(
                matches!(parse_buckets(bad), Err(SampleConfigError::BucketValue(_))),
                "{bad}"
            );
        }
        assert!(parse_buckets("").is_err());
        let many: Vec<String> = (1..=33).map(|i| i.to_string()).collect();
        assert!(matches!(
            parse_buckets(&many.join(",")),
            Err(SampleConfigError::BucketCount(33))
        ));
        assert_eq!(
            parse_buckets(&DEFAULT_BUCKETS.map(|b| b.to_string()).join(",")),
            Ok(DEFAULT_BUCKETS.to_vec())
        );
    }

    #[test]
    fn the_interval_and_window_are_range_checked() {
        let ok = SampleConfig::new(
            Duration::from_millis(100),
            Duration::from_secs(60),
            vec![1.0],
        );
        assert!(ok.is_ok());
        for interval in [
            Duration::from_millis(99),
            Duration::from_secs(61),
            Duration::ZERO,
        ] {
            assert_eq!(
                SampleConfig::new(interval, Duration::from_secs(60), vec![1.0]),
                Err(SampleConfigError::Interval(interval))
            );
        }
        assert!(
            SampleConfig::new(Duration::from_secs(10), Duration::from_secs(5), vec![1.0]).is_err()
        );
        assert!(
            SampleConfig::new(Duration::from_secs(1), Duration::from_secs(3601), vec![1.0])
                .is_err()
        );
        assert!(matches!(
            SampleConfig::new(
                Duration::from_millis(100),
                Duration::from_secs(361),
                vec![1.0]
            ),
            Err(SampleConfigError::WindowSamples { .. })
        ));
        assert!(
            SampleConfig::new(Duration::from_secs(1), Duration::from_secs(3600), vec![1.0]).is_ok()
        );
    }

    fn verdict(state: crate::verdict::SyncState, bound: f64) -> Verdict {
        use crate::verdict::{Daemon, Reference, ReferenceKind, Traceability};
        Verdict {
            daemon: Daemon::Chrony,
            instance: None,
            state,
            bound_seconds: bound,
            reference_age_seconds: None,
            reference_time: None,
            reference: Reference {
                kind: ReferenceKind::Remote,
                name: String::new(),
                id: String::new(),
                stratum: None,
            },
            traceability: Traceability::default(),
            reason: None,
            legacy_clock_error_ms: None,
            probes: Vec::new(),
        }
    }

    /// The worst case for memory at the defaults: an hour of a bound that
    /// only decreases (every sample a new entry of the peak queue until the
    /// window drops it). The ledger stays within 64 KiB, and fixed.
    #[test]
    fn an_hour_of_samples_stays_within_64_kib() {
        use crate::verdict::SyncState;
        let mut ledger = Ledger::new(SampleConfig::default());
        let start = ledger.bytes();
        for t in 0..3600u64 {
            let v = verdict(SyncState::Synchronized, 1.0 / (t + 1) as f64);
            ledger.record(Duration::from_secs(t), 1.8e9 + t as f64, &v, &[]);
        }
        assert!(ledger.bytes() <= 64 * 1024, "{} bytes", ledger.bytes());
        assert!(
            ledger.bytes() - start <= 61 * 24,
            "the peak queue grew past the window"
        );
        assert!(ledger.history().points().len() >= 360);
        let c = ledger.counters();
        assert!((c.observed() - 3599.0).abs() < 1e-6);
        // The 60 s window ending at 3599 s: its oldest interval ends at
        // 3539 s and counts against the bound at 3538 s, 1/3539.
        assert_eq!(c.window_max, Some(1.0 / 3539.0));
        // A stall shows in the history as unknown.
        let v = verdict(SyncState::Synchronized, 1e-6);
        ledger.record(Duration::from_secs(3610), 1.8e9 + 3610.0, &v, &[]);
        let last = ledger.history().points().last().map(|p| p.state);
        assert_eq!(last, Some(SyncState::Unknown));
    }
}
