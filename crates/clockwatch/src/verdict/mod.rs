//! The verdict on the clock: sync state, error bound, reference and its age,
//! decided here once for every output. `/metrics`, the status page,
//! `clockwatch status` and `clockwatch check` only format a [`Verdict`]; the
//! report reads the same verdict back from Prometheus through the metric
//! names of `clockwatch_vocab`.
//!
//! Pure: the time of the collection comes in with the snapshot, nothing here
//! reads a clock or a socket. One module per daemon holds that daemon's
//! rules; [`assess`] picks the daemon the node is read through.

mod chrony;
mod crosscheck;
mod kernel;

pub use crosscheck::contradicts;

use serde::Serialize;

pub use clockwatch_vocab::SyncState;

use crate::collect::{CollectorName, Snapshot};

/// Whose report the verdict rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Daemon {
    Chrony,
    /// The kernel's own view (adjtimex) when no daemon is read.
    Kernel,
    /// Nothing could be read at all.
    None,
}

impl Daemon {
    /// The `daemon` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Daemon::Chrony => "chrony",
            Daemon::Kernel => "kernel",
            Daemon::None => "none",
        }
    }
}

/// What kind of reference the clock follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReferenceKind {
    /// A server or peer over the network.
    Remote,
    /// A reference clock (PHC, GPS, PPS, SHM).
    Refclock,
    /// The daemon's own clock (chrony's `local`): not traceable to UTC.
    Local,
    /// The daemon has no reference.
    None,
    /// The source does not say (the kernel knows nothing of references).
    Unknown,
}

impl ReferenceKind {
    /// The `kind` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ReferenceKind::Remote => "remote",
            ReferenceKind::Refclock => "refclock",
            ReferenceKind::Local => "local",
            ReferenceKind::None => "none",
            ReferenceKind::Unknown => "unknown",
        }
    }
}

/// The reference the clock follows, in the daemon's own words.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reference {
    pub kind: ReferenceKind,
    /// As the daemon's own client prints it: an IP address, a reference
    /// clock's name ("PHC0"), or "" (local clock, none, unknown).
    pub name: String,
    /// Reference ID, as 8 upper-case hex digits ("" when there is none).
    pub id: String,
    /// Stratum of the system clock, when the daemon reports one.
    pub stratum: Option<u16>,
}

impl Reference {
    fn unknown() -> Self {
        Self {
            kind: ReferenceKind::Unknown,
            name: String::new(),
            id: String::new(),
            stratum: None,
        }
    }

    /// Whether the clock follows a real source (remote or a reference
    /// clock), as opposed to its own clock or nothing.
    pub fn is_real_source(&self) -> bool {
        matches!(self.kind, ReferenceKind::Remote | ReferenceKind::Refclock)
    }
}

/// The verdict on one collection.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub daemon: Daemon,
    pub state: SyncState,
    /// Seconds; +Inf unless the state is synchronized or stale.
    pub bound_seconds: f64,
    /// Seconds since the daemon last updated its reference, on its own
    /// timescale; None when there is no reference time.
    pub reference_age_seconds: Option<f64>,
    /// When the daemon last updated its reference (Unix time); None when it
    /// has none (chronyd reports 0 then).
    pub reference_time: Option<f64>,
    pub reference: Reference,
    /// Why the state is not synchronized, in a few words (the daemon's
    /// error, "leap status not synchronised", …); None when synchronized.
    pub reason: Option<String>,
    /// Azure chrony-tracker's figure, kept for existing dashboards (chrony
    /// only): |last offset| + root dispersion + root delay/2, in ms.
    pub legacy_clock_error_ms: Option<f64>,
    /// The bound against each probed NTP server (`--probe.server`), in the
    /// configured order.
    pub probes: Vec<ProbeCheck>,
}

/// One independent measurement against the bound.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProbeCheck {
    pub server: String,
    /// True when the server's measurement says the bound is wrong, false
    /// when they agree, None when either has no valid value.
    pub contradicted: Option<bool>,
}

impl Verdict {
    /// Servers whose measurement contradicts the bound.
    pub fn contradicted_by(&self) -> impl Iterator<Item = &str> {
        self.probes
            .iter()
            .filter(|p| p.contradicted == Some(true))
            .map(|p| p.server.as_str())
    }
}

/// What the verdict needs besides the snapshot.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Settings {
    /// Error of a PTP hardware clock reference that chrony cannot see,
    /// added to chrony's bound.
    pub phc_error_seconds: f64,
}

/// The one place that decides. `snapshot.system_time` is the time of the
/// collection.
///
/// - chronyd configured: its tracking report decides (the kernel's view is
///   shown beside it, never mixed into the bound);
/// - no chronyd (`--chrony.address none`): the kernel's view decides;
/// - nothing read: unknown.
///
/// Then every probed server's measurement is checked against the bound.
pub fn assess(snapshot: &Snapshot, settings: &Settings) -> Verdict {
    let mut verdict = if !snapshot.chrony_disabled {
        let tracking_asked = snapshot
            .collectors
            .iter()
            .any(|c| c.name == CollectorName::Tracking);
        chrony::assess(
            &snapshot.chrony,
            tracking_asked,
            snapshot.system_time,
            settings,
        )
    } else {
        kernel::assess(snapshot.timex.as_ref())
    };
    verdict.probes = crosscheck::cross_check(&verdict, &snapshot.probes);
    verdict
}

fn unknown(daemon: Daemon, reason: String) -> Verdict {
    Verdict {
        daemon,
        state: SyncState::Unknown,
        bound_seconds: f64::INFINITY,
        reference_age_seconds: None,
        reference_time: None,
        reference: Reference::unknown(),
        reason: Some(reason),
        legacy_clock_error_ms: None,
        probes: Vec::new(),
    }
}
