//! One collection shared by concurrent scrapers: a burst of scrapes (several
//! Prometheus replicas, a person reloading the status page) must not
//! multiply the load on chronyd. A request waits for the collection in
//! flight if there is one, and uses it if it finished after the request
//! arrived; otherwise it starts a new one. Every answer is therefore fresh,
//! and chronyd sees at most one collection at a time.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::collect::{ChronyView, Collector, Snapshot};
use crate::verdict::{assess, Daemon, Settings, Verdict};

/// A finished collection with its verdict.
#[derive(Debug)]
pub struct Scrape {
    pub snapshot: Snapshot,
    pub verdict: Verdict,
    pub finished: Instant,
}

pub struct SharedCollector {
    collector: Collector,
    settings: Settings,
    in_flight: tokio::sync::Mutex<()>,
    last: Mutex<Option<Arc<Scrape>>>,
    /// Why chronyd could not be read at the last collection: logged when
    /// it changes, not at every scrape.
    last_chrony_error: Mutex<Option<String>>,
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
        let scrape = Arc::new(collect_once(&self.collector, &self.settings).await);
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
    }
}
