//! The verdict on the clock: sync state, error bound, reference and its age,
//! decided here once for every output. `/metrics`, the status page,
//! `clockwatch status` and `clockwatch check` only format a [`Verdict`]; the
//! report reads the same verdict back from Prometheus through the metric
//! names of `clockwatch_vocab`.
//!
//! Pure: the time of the collection comes in with the snapshot, nothing here
//! reads a clock or a socket, and nothing is kept between collections (what
//! a daemon's rules need from earlier collections, the collector delivers
//! in the snapshot). One module per daemon holds that daemon's rules;
//! [`deciding_daemon`] picks the daemon the verdict rests on.

mod chrony;
mod crosscheck;
mod kernel;
mod ptp;
mod timesyncd;

pub use crosscheck::contradicts;

use serde::Serialize;

pub use clockwatch_vocab::SyncState;

use crate::collect::{CollectorName, Snapshot};

/// Whose report the verdict rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Daemon {
    Chrony,
    /// linuxptp's ptp4l (`--ptp.socket`).
    Ptp4l,
    /// systemd-timesyncd (`--timesyncd.bus`, or found on the system bus).
    Timesyncd,
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
            Daemon::Ptp4l => "ptp4l",
            Daemon::Timesyncd => "timesyncd",
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
    /// clock's name ("PHC0"), a PTP grandmaster's clock identity
    /// ("02af4d.fffe.8c52e8", as pmc prints it), or "" (chrony's local
    /// clock, none, unknown).
    pub name: String,
    /// chrony: the reference ID, as 8 upper-case hex digits; ptp4l: the
    /// parent port identity, the master port this clock follows
    /// ("02af4d.fffe.8c52e8-1", a boundary clock's when stepsRemoved > 1);
    /// "" when there is none.
    pub id: String,
    /// Stratum of the system clock, when the daemon reports one (ptp4l
    /// reports none: its stepsRemoved counts paths to the grandmaster, not
    /// strata, and is exported as clockwatch_ptp_steps_removed).
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

/// Is the time traceable to UTC, as far as the daemon can tell?
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Traceability {
    /// true: traceable as far as the daemon knows (chrony follows a real
    /// source; a PTP grandmaster announces timeTraceable); false: the
    /// daemon says it is not (chrony's local clock; timeTraceable false);
    /// None: nothing tells (the kernel only, no reference).
    pub traceable: Option<bool>,
    /// Why the time may not be traceable, in a few words each; a warning in
    /// every output (`check` is at least WARNING). Empty when none.
    pub warnings: Vec<String>,
}

impl Traceability {
    fn unknown() -> Self {
        Self::default()
    }
}

/// The verdict on one collection.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub daemon: Daemon,
    /// The instance of the daemon the verdict rests on, where clockwatch
    /// reads several (ptp4l: its management socket); None otherwise.
    pub instance: Option<String>,
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
    pub traceability: Traceability,
    /// Why the state is not synchronized, or why a synchronized clock has
    /// no finite bound, in a few words (the daemon's error, "leap status
    /// not synchronised", "the grandmaster states no clock accuracy", …);
    /// None when synchronized with a bound.
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

/// The daemon the verdict rests on, the first of:
///
/// 1. ptp4l, when `--ptp.socket` names at least one instance: a node told
///    to read ptp4l is a PTP node (chronyd, if also read, is shown beside
///    it; the chart's PTP mode does not read chronyd at all);
/// 2. timesyncd, when `--timesyncd.bus` names a bus: a node told to read
///    timesyncd is a timesyncd node;
/// 3. chronyd, unless `--chrony.address none`. With `auto` (and
///    `--timesyncd.bus auto`, the defaults), detection: chronyd when it
///    answers; else timesyncd when it answers on the system bus; else
///    chronyd still (unknown: a node whose daemon is down is not silently
///    judged by the kernel alone);
/// 4. the kernel's view (adjtimex).
///
/// Whatever is read but does not decide is shown beside the verdict, never
/// mixed into its bound. A new daemon is one more line here and one more
/// arm in [`assess`].
pub fn deciding_daemon(snapshot: &Snapshot) -> Daemon {
    let timesyncd = snapshot.timesyncd.as_ref();
    if snapshot.ptp.is_some() {
        Daemon::Ptp4l
    } else if timesyncd.is_some_and(|t| !t.detect) {
        Daemon::Timesyncd
    } else if !snapshot.chrony_disabled {
        if !snapshot.chrony.up && timesyncd.is_some_and(|t| t.running()) {
            Daemon::Timesyncd
        } else {
            Daemon::Chrony
        }
    } else {
        Daemon::Kernel
    }
}

/// The one place that decides. `snapshot.system_time` is the time of the
/// collection (the PTP view carries its own, on two clocks).
///
/// The daemon [`deciding_daemon`] names decides; nothing read is unknown.
/// Then every probed server's measurement is checked against the bound.
pub fn assess(snapshot: &Snapshot, settings: &Settings) -> Verdict {
    let mut verdict = match (deciding_daemon(snapshot), &snapshot.ptp) {
        (Daemon::Ptp4l, Some(view)) => ptp::assess(view),
        (Daemon::Timesyncd, _) => match &snapshot.timesyncd {
            Some(view) => timesyncd::assess(view),
            None => unknown(Daemon::Timesyncd, "timesyncd is not read".into()),
        },
        (Daemon::Chrony, _) => {
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
        }
        _ => kernel::assess(snapshot.timex.as_ref()),
    };
    verdict.probes = crosscheck::cross_check(&verdict, &snapshot.probes);
    verdict
}

fn unknown(daemon: Daemon, reason: String) -> Verdict {
    Verdict {
        daemon,
        instance: None,
        state: SyncState::Unknown,
        bound_seconds: f64::INFINITY,
        reference_age_seconds: None,
        reference_time: None,
        reference: Reference::unknown(),
        traceability: Traceability::unknown(),
        reason: Some(reason),
        legacy_clock_error_ms: None,
        probes: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::{ChronyView, PtpView};
    use crate::ptp::{BoundConfig, Now};

    fn snapshot(chrony_disabled: bool, ptp: bool) -> Snapshot {
        Snapshot {
            system_time: 1_800_000_000.0,
            chrony_disabled,
            chrony: ChronyView::default(),
            timex: None,
            steps: None,
            probes: Vec::new(),
            ptp: ptp.then(|| PtpView {
                instances: Vec::new(),
                phc: None,
                now: Now {
                    monotonic: std::time::Duration::ZERO,
                    realtime_ns: 0,
                },
                config: BoundConfig::default(),
            }),
            timesyncd: None,
            timezone: None,
            collectors: Vec::new(),
        }
    }

    #[test]
    fn ptp4l_decides_when_named_then_chrony_then_the_kernel() {
        assert_eq!(deciding_daemon(&snapshot(false, true)), Daemon::Ptp4l);
        assert_eq!(deciding_daemon(&snapshot(true, true)), Daemon::Ptp4l);
        assert_eq!(deciding_daemon(&snapshot(false, false)), Daemon::Chrony);
        assert_eq!(deciding_daemon(&snapshot(true, false)), Daemon::Kernel);
        // The verdict says whose it is, even when nothing answered.
        let v = assess(&snapshot(false, true), &Settings::default());
        assert_eq!((v.daemon, v.state), (Daemon::Ptp4l, SyncState::Unknown));
        let v = assess(&snapshot(false, false), &Settings::default());
        assert_eq!((v.daemon, v.state), (Daemon::Chrony, SyncState::Unknown));
    }

    fn timesyncd_view(detect: bool, running: bool) -> crate::collect::TimesyncdView {
        use crate::collect::Failure;
        crate::collect::TimesyncdView {
            bus: "unix:path=/run/dbus/system_bus_socket".into(),
            detect,
            result: if running {
                Ok(timesyncd_status())
            } else {
                Err(Failure {
                    kind: "not_running",
                    message: "not running".into(),
                })
            },
            kernel_offset_seconds: Some(0.0),
            kernel_error: None,
            now_unix_seconds: 1_800_000_000.0,
            params: Default::default(),
        }
    }

    fn timesyncd_status() -> crate::timesyncd::Status {
        use crate::timesyncd::{NtpMessage, ServerAddress, Status};
        Status {
            server_name: "ntp".into(),
            server_address: ServerAddress {
                family: 2,
                bytes: vec![127, 0, 0, 2],
            },
            poll_interval_usec: 32_000_000,
            poll_interval_min_usec: 32_000_000,
            poll_interval_max_usec: 2_048_000_000,
            root_distance_max_usec: 5_000_000,
            frequency: 0,
            ntp_message: NtpMessage {
                leap: 0,
                version: 4,
                mode: 4,
                stratum: 1,
                precision: -20,
                root_delay_usec: 0,
                root_dispersion_usec: 10,
                reference_id: *b"GPS\0",
                origin_usec: 1_799_999_999_000_000,
                receive_usec: 1_799_999_999_000_050,
                transmit_usec: 1_799_999_999_000_060,
                destination_usec: 1_799_999_999_000_100,
                spike: false,
                packet_count: 3,
                jitter_usec: 5,
            },
        }
    }

    /// Detection: chronyd answering, then timesyncd on the bus, then
    /// chronyd (unknown); a named bus makes a timesyncd node; ptp4l first.
    #[test]
    fn timesyncd_decides_when_named_or_when_chronyd_is_silent() {
        let with = |chrony_up: bool, view| {
            let mut s = snapshot(false, false);
            s.chrony.up = chrony_up;
            s.timesyncd = Some(view);
            s
        };
        assert_eq!(
            deciding_daemon(&with(true, timesyncd_view(true, true))),
            Daemon::Chrony
        );
        assert_eq!(
            deciding_daemon(&with(false, timesyncd_view(true, true))),
            Daemon::Timesyncd
        );
        assert_eq!(
            deciding_daemon(&with(false, timesyncd_view(true, false))),
            Daemon::Chrony
        );
        assert_eq!(
            deciding_daemon(&with(true, timesyncd_view(false, false))),
            Daemon::Timesyncd
        );
        let mut ptp = snapshot(false, true);
        ptp.timesyncd = Some(timesyncd_view(false, true));
        assert_eq!(deciding_daemon(&ptp), Daemon::Ptp4l);

        let v = assess(
            &with(false, timesyncd_view(true, true)),
            &Settings::default(),
        );
        assert_eq!(
            (v.daemon, v.state),
            (Daemon::Timesyncd, SyncState::Synchronized)
        );
        assert!(v.bound_seconds.is_finite());
        let v = assess(
            &with(true, timesyncd_view(false, false)),
            &Settings::default(),
        );
        assert_eq!((v.daemon, v.state), (Daemon::Timesyncd, SyncState::Unknown));
    }

    /// The probe checks a PTP bound as it checks chrony's.
    #[test]
    fn the_probe_cross_checks_the_ptp_bound() {
        use crate::collect::PtpInstance;
        use crate::probe::{ProbeResult, ProbeSample};
        use crate::ptp::sample::{report, T0};
        use crate::ptp::PtpMemory;

        let mut snap = snapshot(true, true);
        if let Some(view) = snap.ptp.as_mut() {
            view.now.realtime_ns = T0 + 500_000_000;
            view.instances.push(PtpInstance {
                socket: "/var/run/ptp4l".into(),
                report: Ok(report(ptpmgmt::PortState::Slave)),
                memory: PtpMemory::default(),
            });
        }
        let probe = |offset: f64| ProbeResult {
            server: format!("ntp{offset}"),
            address: None,
            sample: Some(ProbeSample {
                offset,
                delay: 1e-4,
                stratum: 1,
                root_distance: 1e-5,
                uncertainty: 6e-5,
                valid: 4,
                completed: 4,
            }),
            failure: None,
            last_success: None,
            rounds: 1,
            interval: std::time::Duration::from_secs(64),
            stopped: false,
        };
        // The bound is 2.4 µs: 1 µs ± 60 µs agrees, 1 ms ± 60 µs does not.
        snap.probes = vec![probe(1e-6), probe(1e-3)];
        let v = assess(&snap, &Settings::default());
        assert_eq!(
            (v.daemon, v.state),
            (Daemon::Ptp4l, SyncState::Synchronized)
        );
        let checks: Vec<Option<bool>> = v.probes.iter().map(|p| p.contradicted).collect();
        assert_eq!(checks, [Some(false), Some(true)]);
    }
}
