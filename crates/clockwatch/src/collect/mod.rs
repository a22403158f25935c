//! Collectors: each gathers one part of the node's clock state and can fail
//! alone. The chrony collectors share one pipelined exchange over one
//! chronyd session (see [`exchange`]); the PTP collectors read every ptp4l
//! instance and the PHC ([`ptp`]); a collection produces a [`Snapshot`].

mod exchange;
mod gather;
mod memory;
pub mod ptp;
pub mod steps;
mod timesyncd;
mod timex;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cmdmon::{NtpData, ServerStats, SourceData, SourceStats, Tracking};

use crate::chrony::{ChronyClient, Transport};
use crate::probe::{ProbeResult, Prober};
use crate::sys::Timex;
pub use ptp::{Failure, PhcReading, PtpCollector, PtpConfig, PtpInstance, PtpView};
pub use steps::{StepCounts, StepTracker};
pub use timesyncd::{TimesyncdCollector, TimesyncdConfig, TimesyncdView};

/// The collectors, in the order they run and are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CollectorName {
    Tracking,
    Sources,
    Sourcestats,
    Ntpdata,
    Serverstats,
    Timex,
    Steps,
    /// Every ptp4l instance (`--ptp.socket`).
    Ptp,
    /// The PTP hardware clock against the system clock (`--ptp.phc`).
    Phc,
    /// systemd-timesyncd on the system bus (`--timesyncd.bus`).
    Timesyncd,
    /// The node's timezone from its /etc/localtime (`--node.localtime`).
    Timezone,
}

impl CollectorName {
    pub const ALL: [CollectorName; 11] = [
        CollectorName::Tracking,
        CollectorName::Sources,
        CollectorName::Sourcestats,
        CollectorName::Ntpdata,
        CollectorName::Serverstats,
        CollectorName::Timex,
        CollectorName::Steps,
        CollectorName::Ptp,
        CollectorName::Phc,
        CollectorName::Timesyncd,
        CollectorName::Timezone,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CollectorName::Tracking => "tracking",
            CollectorName::Sources => "sources",
            CollectorName::Sourcestats => "sourcestats",
            CollectorName::Ntpdata => "ntpdata",
            CollectorName::Serverstats => "serverstats",
            CollectorName::Timex => "timex",
            CollectorName::Steps => "steps",
            CollectorName::Ptp => "ptp",
            CollectorName::Phc => "phc",
            CollectorName::Timesyncd => "timesyncd",
            CollectorName::Timezone => "timezone",
        }
    }

    /// Collectors that read chronyd.
    pub fn needs_chrony(self) -> bool {
        !matches!(
            self,
            CollectorName::Timex
                | CollectorName::Steps
                | CollectorName::Ptp
                | CollectorName::Phc
                | CollectorName::Timesyncd
                | CollectorName::Timezone
        )
    }
}

/// Which collectors are enabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enabled {
    pub tracking: bool,
    pub sources: bool,
    pub sourcestats: bool,
    pub ntpdata: bool,
    pub serverstats: bool,
    pub timex: bool,
    pub steps: bool,
}

impl Default for Enabled {
    fn default() -> Self {
        Self {
            tracking: true,
            sources: true,
            sourcestats: true,
            ntpdata: true,
            serverstats: true,
            timex: true,
            steps: true,
        }
    }
}

impl Enabled {
    pub fn get(&self, name: CollectorName) -> bool {
        match name {
            CollectorName::Tracking => self.tracking,
            CollectorName::Sources => self.sources,
            CollectorName::Sourcestats => self.sourcestats,
            CollectorName::Ntpdata => self.ntpdata,
            CollectorName::Serverstats => self.serverstats,
            CollectorName::Timex => self.timex,
            CollectorName::Steps => self.steps,
            // On when configured (--ptp.socket, --ptp.phc), not by a
            // --collector flag.
            CollectorName::Ptp
            | CollectorName::Phc
            | CollectorName::Timesyncd
            | CollectorName::Timezone => false,
        }
    }

    fn any_chrony(&self) -> bool {
        CollectorName::ALL
            .iter()
            .any(|c| c.needs_chrony() && self.get(*c))
    }
}

/// How one collector fared in one collection.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectorOutcome {
    pub name: CollectorName,
    pub success: bool,
    pub duration: Duration,
    pub error: Option<String>,
}

/// One source with everything known about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub data: SourceData,
    /// Address label: the IP, or the reference ID of a reference clock.
    pub address: String,
    /// Name label: the name it was configured with, from chronyd itself.
    pub name: String,
    pub stats: Option<SourceStats>,
    pub ntp: Option<NtpData>,
}

/// chronyd's side of a collection.
#[derive(Debug, Default)]
pub struct ChronyView {
    /// chronyd answered at least one request in this collection.
    pub up: bool,
    /// Why chronyd (or part of it) could not be read, when it could not.
    pub error: Option<String>,
    pub transport: Option<Transport>,
    pub tracking: Option<Tracking>,
    pub sources: Vec<Source>,
    pub server_stats: Option<ServerStats>,
}

/// Everything one scrape reports.
#[derive(Debug)]
pub struct Snapshot {
    /// The node's clock (CLOCK_REALTIME) when the collection finished, in
    /// seconds since the epoch.
    pub system_time: f64,
    /// chronyd is not queried at all (timex-only mode).
    pub chrony_disabled: bool,
    pub chrony: ChronyView,
    pub timex: Option<Timex>,
    pub steps: Option<StepCounts>,
    /// The latest round to each probed NTP server (empty without
    /// `--probe.server`): read from the background prober, never probed
    /// by the collection itself.
    pub probes: Vec<ProbeResult>,
    /// ptp4l and the PHC; None without `--ptp.socket`.
    pub ptp: Option<PtpView>,
    /// systemd-timesyncd; None when the system bus is not read
    /// (`--timesyncd.bus none`, or `auto` without `--chrony.address auto`).
    pub timesyncd: Option<TimesyncdView>,
    /// The node's timezone; None when not read, or the file is absent (a
    /// pod without the host's /etc/localtime).
    pub timezone: Option<crate::nodefacts::Timezone>,
    pub collectors: Vec<CollectorOutcome>,
}

/// Runs the enabled collectors.
pub struct Collector {
    client: ChronyClient,
    enabled: Enabled,
    steps: Option<Arc<StepTracker>>,
    prober: Option<Arc<Prober>>,
    ptp: Option<PtpCollector>,
    timesyncd: Option<TimesyncdCollector>,
    /// The node's /etc/localtime (`--node.localtime`).
    localtime: Option<std::path::PathBuf>,
    /// The source list and names seen last time, to ask for everything in
    /// one round trip.
    memory: memory::SourceMemory,
}

impl Collector {
    pub fn new(client: ChronyClient, enabled: Enabled, steps: Option<Arc<StepTracker>>) -> Self {
        Self {
            client,
            enabled,
            steps,
            prober: None,
            ptp: None,
            timesyncd: None,
            localtime: None,
            memory: Default::default(),
        }
    }

    /// Reads ptp4l (and the PHC) too; with at least one socket, the
    /// verdict rests on ptp4l.
    pub fn with_ptp(mut self, config: PtpConfig) -> Self {
        self.ptp = (!config.sockets.is_empty()).then(|| PtpCollector::new(config));
        self
    }

    /// ptp4l instances are read.
    pub fn reads_ptp(&self) -> bool {
        self.ptp.is_some()
    }

    /// Reads systemd-timesyncd from the system bus too: named, the verdict
    /// rests on it (unless ptp4l is read); detecting, it decides when
    /// chronyd does not answer and timesyncd does.
    pub fn with_timesyncd(mut self, config: TimesyncdConfig) -> Self {
        self.timesyncd = Some(TimesyncdCollector::new(config));
        self
    }

    /// Reads the node's timezone from `localtime` at each collection.
    pub fn with_localtime(mut self, localtime: std::path::PathBuf) -> Self {
        self.localtime = Some(localtime);
        self
    }

    /// How timesyncd is read, if it is.
    pub fn timesyncd(&self) -> Option<&TimesyncdConfig> {
        self.timesyncd.as_ref().map(|t| t.config())
    }

    /// Reads the probe's latest results into every snapshot.
    pub fn with_prober(mut self, prober: Arc<Prober>) -> Self {
        self.prober = Some(prober);
        self
    }

    pub fn client(&self) -> &ChronyClient {
        &self.client
    }

    pub fn enabled(&self) -> Enabled {
        self.enabled
    }

    pub async fn collect(&self) -> Snapshot {
        self.collect_with(self.enabled).await
    }

    /// The sampler's light collection: what the verdict needs (chronyd's
    /// tracking, the kernel's timex, every ptp4l instance and the PHC, the
    /// probe's latest results), not the per-source records, server
    /// statistics or steps.
    pub async fn collect_sample(&self) -> Snapshot {
        self.collect_with(Enabled {
            tracking: self.enabled.tracking,
            sources: false,
            sourcestats: false,
            ntpdata: false,
            serverstats: false,
            timex: self.enabled.timex,
            steps: false,
        })
        .await
    }

    async fn collect_with(&self, enabled: Enabled) -> Snapshot {
        let mut outcomes = Vec::new();
        let mut chrony = ChronyView::default();
        let chrony_disabled = self.client.is_disabled();
        // chronyd and ptp4l at once: neither waits for the other's timeout.
        let mut ptp_outcomes = Vec::new();
        let read_chrony = async {
            if !chrony_disabled && enabled.any_chrony() {
                self.collect_chrony(enabled, &mut chrony, &mut outcomes)
                    .await;
            }
        };
        let read_ptp = async {
            match &self.ptp {
                Some(ptp) => Some(ptp.collect(&mut ptp_outcomes).await),
                None => None,
            }
        };
        let mut timesyncd_outcomes = Vec::new();
        let read_timesyncd = async {
            match &self.timesyncd {
                Some(t) => Some(t.collect(&mut timesyncd_outcomes).await),
                None => None,
            }
        };
        let ((), ptp, timesyncd) = tokio::join!(read_chrony, read_ptp, read_timesyncd);
        outcomes.append(&mut ptp_outcomes);
        outcomes.append(&mut timesyncd_outcomes);
        let timex = if enabled.timex {
            timex::collect(&mut outcomes)
        } else {
            None
        };
        let timezone = self
            .localtime
            .as_deref()
            .and_then(|path| timezone(path, &mut outcomes));
        let steps = match (&self.steps, enabled.steps) {
            (Some(tracker), true) => Some(steps::collect(tracker, &mut outcomes)),
            _ => None,
        };
        Snapshot {
            system_time: now_unix_seconds(),
            chrony_disabled,
            chrony,
            timex,
            steps,
            probes: self
                .prober
                .as_ref()
                .map(|p| p.results())
                .unwrap_or_default(),
            ptp,
            timesyncd,
            timezone,
            collectors: outcomes,
        }
    }

    async fn collect_chrony(
        &self,
        enabled: Enabled,
        view: &mut ChronyView,
        outcomes: &mut Vec<CollectorOutcome>,
    ) {
        let started = Instant::now();
        let session = match self.client.session().await {
            Ok(s) => s,
            Err(e) => {
                // Every enabled chrony collector failed, for the same reason.
                let elapsed = started.elapsed();
                for name in CollectorName::ALL
                    .into_iter()
                    .filter(|c| c.needs_chrony() && enabled.get(*c))
                {
                    outcomes.push(CollectorOutcome {
                        name,
                        success: false,
                        duration: elapsed,
                        error: Some(e.to_string()),
                    });
                }
                tracing::debug!(error = %e, "chronyd unreachable");
                view.error = Some(e.to_string());
                return;
            }
        };
        view.transport = Some(session.transport());
        exchange::collect(&session, enabled, &self.memory, view, outcomes).await;
    }
}

/// The timezone collector: absent file, nothing reported (a pod that may
/// not mount the host's file); any other failure is the collector's.
fn timezone(
    path: &std::path::Path,
    outcomes: &mut Vec<CollectorOutcome>,
) -> Option<crate::nodefacts::Timezone> {
    use crate::nodefacts::{read_timezone, TimezoneError};
    let started = Instant::now();
    let result = read_timezone(path);
    if let Err(TimezoneError::Missing { .. }) = result {
        return None;
    }
    let (timezone, error) = match result {
        Ok(tz) => (Some(tz), None),
        Err(e) => (None, Some(e.to_string())),
    };
    outcomes.push(CollectorOutcome {
        name: CollectorName::Timezone,
        success: error.is_none(),
        duration: started.elapsed(),
        error,
    });
    timezone
}

pub fn now_unix_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
