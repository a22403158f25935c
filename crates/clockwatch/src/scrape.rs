//! One collection shared by concurrent scrapers: a burst of scrapes (several
//! Prometheus replicas, a person reloading the status page) must not
//! multiply the load on chronyd. A request waits for the collection in
//! flight if there is one, and uses it if it finished after the request
//! arrived; otherwise it starts a new one. Every answer is therefore fresh,
//! and chronyd sees at most one collection at a time.
//!
//! With sampling on ([`SharedCollector::with_sampling`]), every collection,
//! a scrape's or a sample's, feeds the [`Ledger`]. The sampler skips its
//! light collection while a scrape's is in flight or when one was recorded
//! less than half a sample interval ago; a scrape never waits for a sample
//! (docs/sampling.md).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::collect::{ChronyView, Collector, Snapshot};
use crate::sampler::{Counters, Ledger, Point, SampleConfig};
use crate::sys;
use crate::verdict::{assess, Daemon, Settings, Verdict};

/// A finished collection with its verdict.
#[derive(Debug)]
pub struct Scrape {
    pub snapshot: Snapshot,
    pub verdict: Verdict,
    pub finished: Instant,
    /// The sampler's counters right after this collection was recorded;
    /// None without sampling (the one-shot commands).
    pub counters: Option<Counters>,
}

pub struct SharedCollector {
    collector: Collector,
    settings: Settings,
    in_flight: tokio::sync::Mutex<()>,
    last: Mutex<Option<Arc<Scrape>>>,
    /// Why chronyd could not be read at the last collection: logged when
    /// it changes, not at every scrape.
    last_chrony_error: Mutex<Option<String>>,
    /// The sampler's counters and history; None without sampling.
    ledger: Option<Mutex<Ledger>>,
    /// The daemon the last verdict rested on: logged when it changes (the
    /// first verdict, and detection switching between chronyd and
    /// timesyncd).
    last_daemon: Mutex<Option<Daemon>>,
}

impl SharedCollector {
    pub fn new(collector: Collector, settings: Settings) -> Self {
        Self {
            collector,
            settings,
            in_flight: tokio::sync::Mutex::new(()),
            last: Mutex::new(None),
            last_chrony_error: Mutex::new(None),
            last_daemon: Mutex::new(None),
            ledger: None,
        }
    }

    /// Records every collection in a ledger, and lets [`Self::sample`]
    /// collect between scrapes.
    pub fn with_sampling(mut self, config: SampleConfig) -> Self {
        self.ledger = Some(Mutex::new(Ledger::new(config)));
        self
    }

    /// The sample interval, when sampling is on.
    pub fn sample_interval(&self) -> Option<Duration> {
        self.ledger.as_ref().map(|l| lock(l).config().interval)
    }

    /// The history's points, oldest first (empty without sampling).
    pub fn history(&self) -> Vec<Point> {
        self.ledger
            .as_ref()
            .map(|l| lock(l).history().points().copied().collect())
            .unwrap_or_default()
    }

    /// Heap bytes the ledger holds (0 without sampling).
    pub fn ledger_bytes(&self) -> usize {
        self.ledger.as_ref().map_or(0, |l| lock(l).bytes())
    }

    /// Records a collection; returns the counters after it.
    fn record(&self, snapshot: &Snapshot, verdict: &Verdict) -> Option<Counters> {
        let ledger = self.ledger.as_ref()?;
        let mut ledger = lock(ledger);
        ledger.record(
            sys::boottime(),
            snapshot.system_time,
            verdict,
            &snapshot.probes,
        );
        Some(ledger.counters())
    }

    /// One sampler tick: a light collection (tracking, timex, ptp4l) unless
    /// a scrape's collection is in flight (it is recorded when it ends) or
    /// a collection was recorded less than half an interval ago. A scrape
    /// never waits for a sample: with a silent chronyd a sample holds its
    /// timeout, and a scrape behind it would take twice as long. Returns
    /// whether it collected.
    pub async fn sample(&self) -> bool {
        let Some(ledger) = &self.ledger else {
            return false;
        };
        if self.in_flight.try_lock().is_err() {
            return false;
        }
        let (last, interval) = {
            let l = lock(ledger);
            (l.last_at(), l.config().interval)
        };
        if last.is_some_and(|last| sys::boottime().saturating_sub(last) < interval / 2) {
            return false;
        }
        let snapshot = self.collector.collect_sample().await;
        let verdict = assess(&snapshot, &self.settings);
        self.log_chrony_change(&snapshot.chrony);
        self.record(&snapshot, &verdict);
        true
    }

    /// Samples every interval until the process ends. A tick delayed (the
    /// process stalled) is not made up for: the stall shows as unknown.
    pub async fn sample_forever(&self) {
        let Some(interval) = self.sample_interval() else {
            return;
        };
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.sample().await;
        }
    }

    pub fn collector(&self) -> &Collector {
        &self.collector
    }

    /// The last collection if it finished within `max_age`, else a fresh
    /// one (shared with a scrape in flight, as [`Self::scrape`]).
    pub async fn recent(&self, max_age: Duration) -> Arc<Scrape> {
        let last = self.last.lock().unwrap_or_else(|p| p.into_inner()).clone();
        match last {
            Some(last) if last.finished.elapsed() <= max_age => last,
            _ => self.scrape().await,
        }
    }

    pub async fn scrape(&self) -> Arc<Scrape> {
        let arrived = Instant::now();
        let _turn = self.in_flight.lock().await;
        if let Some(last) = self.last.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            if last.finished >= arrived {
                return last;
            }
        }
        let mut scrape = collect_once(&self.collector, &self.settings).await;
        scrape.counters = self.record(&scrape.snapshot, &scrape.verdict);
        let scrape = Arc::new(scrape);
        self.log_chrony_change(&scrape.snapshot.chrony);
        self.log_daemon_change(&scrape.verdict);
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(scrape.clone());
        scrape
    }

    /// Logs which daemon the verdict rests on, when that changes.
    fn log_daemon_change(&self, verdict: &Verdict) {
        let mut last = self.last_daemon.lock().unwrap_or_else(|p| p.into_inner());
        if *last == Some(verdict.daemon) {
            return;
        }
        let detecting = self.collector.timesyncd().is_some_and(|t| t.detect);
        match *last {
            None => tracing::info!(
                daemon = verdict.daemon.as_str(),
                detecting,
                "the verdict rests on this time daemon"
            ),
            Some(before) => tracing::warn!(
                daemon = verdict.daemon.as_str(),
                before = before.as_str(),
                "the verdict now rests on another time daemon"
            ),
        }
        *last = Some(verdict.daemon);
    }

    /// Logs a change in chronyd's state: the first error, a different
    /// error, and recovery, so that the server's log says why `chrony_up`
    /// is 0. (The one-shot commands print the reason themselves.)
    fn log_chrony_change(&self, chrony: &ChronyView) {
        let mut last = self
            .last_chrony_error
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if *last == chrony.error {
            return;
        }
        match &chrony.error {
            Some(error) if chrony.up => tracing::warn!(%error, "chronyd answers, but not fully"),
            Some(error) => tracing::warn!(%error, "chronyd cannot be read"),
            None => tracing::info!("chronyd answers again"),
        }
        last.clone_from(&chrony.error);
    }
}

/// One collection and its verdict (also what `status` and `check` use).
pub async fn collect_once(collector: &Collector, settings: &Settings) -> Scrape {
    let snapshot = collector.collect().await;
    let verdict = assess(&snapshot, settings);
    Scrape {
        snapshot,
        verdict,
        finished: Instant::now(),
        counters: None,
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
