//! The timesyncd collector: systemd-timesyncd's properties from the system
//! bus (one `GetAll`, [`crate::timesyncd::read`]), and the kernel's
//! remaining offset read right after, which the timesyncd bound needs.
//!
//! Two ways to be configured (`--timesyncd.bus`):
//!
//! - **named** (`--timesyncd.bus ADDRESS`): the node is a timesyncd node;
//!   the collector always reports (`clockwatch_timesyncd_up`, the collector
//!   outcome), and the verdict rests on timesyncd;
//! - **detecting** (`auto`, the default, with `--chrony.address auto`): the
//!   system bus is read to find out whether timesyncd runs. Where it does
//!   not (no bus, nobody owns org.freedesktop.timesync1), nothing is
//!   reported: a chrony node shows no failing timesyncd collector.

use std::time::{Duration, Instant};

use super::{CollectorName, CollectorOutcome, Failure};
use crate::sys::adjtimex_read;
use crate::timesyncd::{self, bound, BusAddress, Status};

/// What the timesyncd collector reads, from the flags.
#[derive(Debug, Clone)]
pub struct TimesyncdConfig {
    pub bus: BusAddress,
    /// Deadline of one read (connect, handshake, call).
    pub timeout: Duration,
    /// Detecting only (`--timesyncd.bus auto`): report only if it runs.
    pub detect: bool,
    /// The bound's assumptions.
    pub params: bound::Params,
}

/// timesyncd's side of a snapshot: everything its rules need.
#[derive(Debug, Clone)]
pub struct TimesyncdView {
    /// The bus, as a D-Bus address (`unix:path=…`).
    pub bus: String,
    pub detect: bool,
    pub result: Result<Status, Failure>,
    /// adjtimex's offset, read right after the properties: what the kernel
    /// has still to slew of timesyncd's last correction. None when
    /// adjtimex failed (the message is in `kernel_error`).
    pub kernel_offset_seconds: Option<f64>,
    pub kernel_error: Option<String>,
    /// The node's clock right after the read, seconds since the epoch.
    pub now_unix_seconds: f64,
    pub params: bound::Params,
}

impl TimesyncdView {
    /// timesyncd answered on the bus.
    pub fn running(&self) -> bool {
        self.result.is_ok()
    }

    /// Whether its series and collector outcome are shown: always when
    /// named, only when it runs when detecting.
    pub fn reported(&self) -> bool {
        !self.detect || self.running()
    }

    /// The bound and state of this reading (`None` status when not read or
    /// no kernel offset: unknown).
    pub fn assessment(&self) -> bound::Assessment {
        let status = self.result.as_ref().ok();
        let offset = self.kernel_offset_seconds.unwrap_or(0.0);
        let status = if self.kernel_offset_seconds.is_some() {
            status
        } else {
            None
        };
        bound::assess(status, offset, self.now_unix_seconds, &self.params)
    }
}

pub struct TimesyncdCollector {
    config: TimesyncdConfig,
}

impl TimesyncdCollector {
    pub fn new(config: TimesyncdConfig) -> Self {
        Self { config }
    }

    pub fn config(&self) -> &TimesyncdConfig {
        &self.config
    }

    pub async fn collect(&self, outcomes: &mut Vec<CollectorOutcome>) -> TimesyncdView {
        let started = Instant::now();
        let result = timesyncd::read(&self.config.bus, self.config.timeout)
            .await
            .map_err(|e| Failure {
                kind: e.kind(),
                message: e.to_string(),
            });
        let (kernel_offset_seconds, kernel_error) = match adjtimex_read() {
            Ok(t) => (Some(t.offset_seconds), None),
            Err(e) => (None, Some(format!("adjtimex: {e}"))),
        };
        let view = TimesyncdView {
            bus: self.config.bus.to_string(),
            detect: self.config.detect,
            result,
            kernel_offset_seconds,
            kernel_error,
            now_unix_seconds: super::now_unix_seconds(),
            params: self.config.params,
        };
        if view.reported() {
            let error = match (&view.result, &view.kernel_error) {
                (Err(f), _) => Some(f.message.clone()),
                (Ok(_), Some(e)) => Some(e.clone()),
                (Ok(_), None) => None,
            };
            outcomes.push(CollectorOutcome {
                name: CollectorName::Timesyncd,
                success: error.is_none(),
                duration: started.elapsed(),
                error,
            });
        }
        view
    }
}
