//! The PTP bound and state: a pure function of one collection (or its
//! absence), the measured system-clock-to-PHC offset, and what earlier
//! collections showed, with the time passed in (never read here).
//!
//! While the clock is synchronised (a port in SLAVE, a grandmaster present,
//! a fresh measurement):
//!
//! ```text
//! bound = |offsetFromMaster|                 the last measured offset
//!       + meanPathDelay                      worst-case path asymmetry
//!       + grandmaster clockAccuracy          what the grandmaster states
//!       + |PHC - system - expected| + window/2   (when the PHC is measured)
//! ```
//!
//! Once that stops (no SLAVE port, no grandmaster, no fresh measurement) the
//! clock runs on its own: for `holdover_limit` after the last good sample
//! the state is holdover and the bound is that sample's, grown by
//! `holdover_drift` x the time since; then unsynchronised, +Inf. Every term
//! and its assumptions: docs/ptp.md.

use std::time::Duration;

use ptpmgmt::{
    ClockAccuracy, ClockIdentity, DelayMechanism, PortState, TimePropertiesDataSet, TimeSource,
    Timestamping,
};

use super::report::PtpReport;
use crate::sys::PhcOffset;

/// Sync intervals without a new measurement before the offset is stale
/// (the rule chrony's bound uses for its update interval).
pub const FRESH_INTERVALS: u32 = 8;
/// Floor of the freshness limit, for very short sync intervals.
pub const MIN_FRESH_SECONDS: f64 = 1.0;

/// What the bound assumes where no measurement tells.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundConfig {
    /// Frequency error of the clock while it runs without a master, as a
    /// ratio (1e-6 = 1 ppm): the rate the holdover bound grows at.
    pub holdover_drift: f64,
    /// How long after the last good sample the state stays holdover before
    /// it becomes unsynchronised.
    pub holdover_limit: Duration,
    /// Sync intervals (2^logSyncInterval of the SLAVE port) a measurement
    /// stays fresh.
    pub fresh_intervals: u32,
    /// The grandmaster's error to assume when it states none (clockAccuracy
    /// 0xFE "unknown", linuxptp's default, or > 10 s): None leaves the bound
    /// +Inf then.
    pub assumed_grandmaster_accuracy: Option<f64>,
}

impl Default for BoundConfig {
    fn default() -> Self {
        Self {
            holdover_drift: 1e-6,
            holdover_limit: Duration::from_secs(300),
            fresh_intervals: FRESH_INTERVALS,
            assumed_grandmaster_accuracy: None,
        }
    }
}

/// The moment of the assessment, on two clocks: a monotonic one for
/// intervals (holdover, repeated samples), and the system's realtime clock,
/// against which a software-timestamped (or PHC-corrected) ingress time is
/// aged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    pub monotonic: Duration,
    /// CLOCK_REALTIME, nanoseconds since the Unix epoch.
    pub realtime_ns: i128,
}

/// The state, in clockwatch's words: holdover is what the chrony view calls
/// stale (the bound is still computed, and flagged).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PtpState {
    /// A port in SLAVE, a grandmaster present, a fresh measurement.
    Synchronized,
    /// Synchronised until less than `holdover_limit` ago.
    Holdover,
    /// Not synchronised, and not recently.
    Unsynchronized,
    /// ptp4l did not answer.
    Unknown,
}

impl PtpState {
    pub fn as_str(self) -> &'static str {
        match self {
            PtpState::Synchronized => "synchronized",
            PtpState::Holdover => "holdover",
            PtpState::Unsynchronized => "unsynchronized",
            PtpState::Unknown => "unknown",
        }
    }

    /// Whether the bound is a bound (synchronized, holdover).
    pub fn bound_holds(self) -> bool {
        matches!(self, PtpState::Synchronized | PtpState::Holdover)
    }
}

/// Why the clock is not synchronised now (holdover and unsynchronized).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum UnsyncReason {
    /// ptp4l did not answer.
    NoAnswer,
    /// No port is in SLAVE; the most telling port state (UNCALIBRATED
    /// before LISTENING, FAULTY, ...), None for a clock without ports.
    NoSlavePort(Option<PortState>),
    /// This clock is the grandmaster: it serves its own time, which ptp4l
    /// does not check.
    IsGrandmaster,
    /// A port is SLAVE but ptp4l reports no grandmaster present.
    NoGrandmaster,
    /// No sync message was ever received (ingress time 0).
    NoMeasurement,
    /// The last measurement is older than the freshness limit (seconds;
    /// a lower bound when ptp4l's timescale is not the system clock's).
    Stale { age_seconds: f64 },
}

impl UnsyncReason {
    pub fn describe(&self) -> String {
        match self {
            UnsyncReason::NoAnswer => "ptp4l did not answer".into(),
            UnsyncReason::NoSlavePort(Some(state)) => format!("no port in SLAVE (port {state})"),
            UnsyncReason::NoSlavePort(None) => "no port in SLAVE (no ports)".into(),
            UnsyncReason::IsGrandmaster => {
                "this clock is the grandmaster: its own time is not checked by PTP".into()
            }
            UnsyncReason::NoGrandmaster => "no grandmaster present".into(),
            UnsyncReason::NoMeasurement => "no offset measured yet".into(),
            UnsyncReason::Stale { age_seconds } => {
                format!("last offset measured {age_seconds:.1} s ago")
            }
        }
    }
}

/// The bound's terms, in seconds. In holdover the first three are the last
/// good sample's.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BoundTerms {
    /// |offsetFromMaster|.
    pub offset: f64,
    /// meanPathDelay (with P2P the larger of it and the SLAVE port's
    /// peerMeanPathDelay): the worst case of path asymmetry.
    pub path_delay: f64,
    /// The grandmaster's stated clockAccuracy (or the configured
    /// assumption); None when it states none: the bound is then +Inf.
    pub grandmaster_accuracy: Option<f64>,
    /// holdover_drift x seconds since the last good sample (0 while
    /// synchronised).
    pub holdover_growth: f64,
    /// |PHC - system - expected| + read window / 2, when the PHC was read.
    pub phc: Option<f64>,
}

impl BoundTerms {
    pub fn sum(&self) -> f64 {
        match self.grandmaster_accuracy {
            Some(gm) => {
                self.offset + self.path_delay + gm + self.holdover_growth + self.phc.unwrap_or(0.0)
            }
            None => f64::INFINITY,
        }
    }
}

/// What the grandmaster says about its time, for the traceability view.
#[derive(Debug, Clone, PartialEq)]
pub struct Traceability {
    /// timeTraceable: the grandmaster's time is traceable to a primary
    /// reference (false is a traceability warning).
    pub time_traceable: bool,
    /// frequencyTraceable.
    pub frequency_traceable: bool,
    /// The grandmaster's clockClass (6: locked to a primary reference; 7:
    /// in holdover within specification; 248: default, free-running).
    pub clock_class: u8,
    pub clock_accuracy: ClockAccuracy,
    pub time_source: TimeSource,
    pub grandmaster: ClockIdentity,
    /// Boundary clocks between this clock and the grandmaster, plus one.
    pub steps_removed: u16,
    /// The time scale is PTP (TAI); else arbitrary.
    pub ptp_timescale: bool,
    pub current_utc_offset: i16,
    pub current_utc_offset_valid: bool,
}

impl Traceability {
    fn of(report: &PtpReport) -> Self {
        let tp = &report.time_properties_ds;
        let quality = &report.parent_ds.grandmaster_clock_quality;
        Self {
            time_traceable: tp.time_traceable,
            frequency_traceable: tp.frequency_traceable,
            clock_class: quality.clock_class,
            clock_accuracy: quality.clock_accuracy,
            time_source: tp.time_source,
            grandmaster: report.parent_ds.grandmaster_identity,
            steps_removed: report.current_ds.steps_removed,
            ptp_timescale: tp.ptp_timescale,
            current_utc_offset: tp.current_utc_offset,
            current_utc_offset_valid: tp.current_utc_offset_valid,
        }
    }
}

/// The verdict on one collection.
#[derive(Debug, Clone, PartialEq)]
pub struct PtpAssessment {
    pub state: PtpState,
    /// Why not synchronised (None when synchronised).
    pub reason: Option<UnsyncReason>,
    /// Seconds; +Inf unless synchronized or holdover (and then too when
    /// the grandmaster states no accuracy).
    pub bound_seconds: f64,
    pub terms: BoundTerms,
    /// None when ptp4l did not answer.
    pub traceability: Option<Traceability>,
    /// The SLAVE port's number.
    pub slave_port: Option<u16>,
    /// Seconds since the last measurement, where ptp4l's time scale can be
    /// compared with the system clock's (software timestamping, or a
    /// measured PHC).
    pub measurement_age_seconds: Option<f64>,
    /// Seconds since the last good sample (holdover only).
    pub holdover_seconds: Option<f64>,
    /// The bound is the system clock's: ptp4l steers it directly (software
    /// timestamping) or the PHC offset is in the bound. False with hardware
    /// timestamping and no PHC reading: the bound is then the PHC's.
    pub covers_system_clock: bool,
}

/// What earlier collections of one ptp4l instance leave for the next
/// assessment: the last good sample (for holdover) and the last ingress
/// time seen (to tell a repeated measurement). The collector keeps one per
/// instance and hands it to the assessment as data ([`PtpMemory::after`]
/// makes the next one); [`assess`] itself keeps nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PtpMemory {
    last_good: Option<GoodSample>,
    ingress: Option<IngressSeen>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct GoodSample {
    /// Monotonic time of the measurement.
    at: Duration,
    /// Its terms without the PHC's (re-measured at every assessment).
    terms: BoundTerms,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct IngressSeen {
    value: i64,
    /// Monotonic time of the first assessment that saw it.
    first_seen: Duration,
}

impl PtpMemory {
    /// The memory after this collection (`None`: ptp4l did not answer,
    /// which changes nothing), for the next assessment. Assessing the same
    /// collection with the memory before or after it gives the same result:
    /// the last good sample is only replaced by a good one, which does not
    /// read it, and a repeated ingress time keeps its first sighting.
    pub fn after(
        &self,
        report: Option<&PtpReport>,
        phc: Option<&PhcOffset>,
        now: Now,
        config: &BoundConfig,
    ) -> PtpMemory {
        evaluate(report, phc, now, self, config).1
    }

    /// Seconds since the last good sample at `now`, if there was one.
    pub fn since_last_good(&self, now: Duration) -> Option<f64> {
        self.last_good
            .map(|g| now.saturating_sub(g.at).as_secs_f64())
    }
}

/// Assesses one collection of one ptp4l instance (`None`: it did not
/// answer), with the system-clock-to-PHC offset if the PHC was read, at
/// `now`, given what earlier collections left in `memory`.
pub fn assess(
    report: Option<&PtpReport>,
    phc: Option<&PhcOffset>,
    now: Now,
    memory: &PtpMemory,
    config: &BoundConfig,
) -> PtpAssessment {
    evaluate(report, phc, now, memory, config).0
}

/// The rules, once: the assessment and the memory it leaves.
fn evaluate(
    report: Option<&PtpReport>,
    phc: Option<&PhcOffset>,
    now: Now,
    before: &PtpMemory,
    config: &BoundConfig,
) -> (PtpAssessment, PtpMemory) {
    let mut memory = before.clone();
    let Some(report) = report else {
        let assessment = PtpAssessment {
            state: PtpState::Unknown,
            reason: Some(UnsyncReason::NoAnswer),
            bound_seconds: f64::INFINITY,
            terms: BoundTerms::default(),
            traceability: None,
            slave_port: None,
            measurement_age_seconds: None,
            holdover_seconds: None,
            covers_system_clock: false,
        };
        return (assessment, memory);
    };
    let slave = report.slave_port();
    let timestamping = slave
        .or(report.ports.first())
        .and_then(|p| p.properties.as_ref())
        .map(|p| p.timestamping);
    let software = timestamping == Some(Timestamping::Software);
    let phc_term = phc.map(|p| phc_term(p, &report.time_properties_ds));

    let ingress = report.time_status.ingress_time;
    let repeated_for = remember_ingress(&mut memory, ingress, now.monotonic);
    let log_sync = slave.map_or(0, |p| p.data_set.log_sync_interval);
    let fresh_limit = fresh_limit(log_sync, config.fresh_intervals);
    let measured_age = measurement_age(ingress, software, phc, now.realtime_ns, fresh_limit);

    let reason = if slave.is_none() {
        Some(if report.is_grandmaster() {
            UnsyncReason::IsGrandmaster
        } else {
            UnsyncReason::NoSlavePort(most_telling_state(report))
        })
    } else if !report.time_status.gm_present {
        Some(UnsyncReason::NoGrandmaster)
    } else if ingress == 0 {
        Some(UnsyncReason::NoMeasurement)
    } else {
        match measured_age {
            Some(age) if age > fresh_limit => Some(UnsyncReason::Stale { age_seconds: age }),
            // The same measurement at assessments further apart than the
            // limit: at least that old.
            None if repeated_for > fresh_limit => Some(UnsyncReason::Stale {
                age_seconds: repeated_for,
            }),
            _ => None,
        }
    };

    let mut assessment = PtpAssessment {
        state: PtpState::Synchronized,
        reason,
        bound_seconds: f64::INFINITY,
        terms: BoundTerms::default(),
        traceability: Some(Traceability::of(report)),
        slave_port: slave.map(|p| p.number()),
        measurement_age_seconds: measured_age,
        holdover_seconds: None,
        covers_system_clock: software || phc.is_some(),
    };

    if reason.is_none() {
        let terms = BoundTerms {
            offset: interval_seconds(report.current_ds.offset_from_master).abs(),
            path_delay: path_delay(report),
            grandmaster_accuracy: report
                .parent_ds
                .grandmaster_clock_quality
                .clock_accuracy
                .seconds()
                .or(config.assumed_grandmaster_accuracy),
            holdover_growth: 0.0,
            phc: None,
        };
        let age = Duration::from_secs_f64(measured_age.unwrap_or(0.0).clamp(0.0, 1e9));
        memory.last_good = Some(GoodSample {
            at: now.monotonic.saturating_sub(age),
            terms,
        });
        assessment.terms = BoundTerms {
            phc: phc_term,
            ..terms
        };
        assessment.bound_seconds = assessment.terms.sum();
        return (assessment, memory);
    }

    // Holdover while the last good sample is recent; unsynchronised (with
    // the reason above) before the first and after the limit.
    match memory.last_good {
        Some(good) if now.monotonic.saturating_sub(good.at) <= config.holdover_limit => {
            let since = now.monotonic.saturating_sub(good.at).as_secs_f64();
            assessment.state = PtpState::Holdover;
            assessment.holdover_seconds = Some(since);
            assessment.terms = BoundTerms {
                holdover_growth: config.holdover_drift * since,
                phc: phc_term,
                ..good.terms
            };
            assessment.bound_seconds = assessment.terms.sum();
        }
        _ => assessment.state = PtpState::Unsynchronized,
    }
    (assessment, memory)
}

/// Records the ingress time; returns how long the same value has been seen
/// (0 when it is new).
fn remember_ingress(memory: &mut PtpMemory, ingress: i64, now: Duration) -> f64 {
    match memory.ingress {
        Some(seen) if seen.value == ingress => now.saturating_sub(seen.first_seen).as_secs_f64(),
        _ => {
            memory.ingress = Some(IngressSeen {
                value: ingress,
                first_seen: now,
            });
            0.0
        }
    }
}

fn fresh_limit(log_sync_interval: i8, intervals: u32) -> f64 {
    let interval = 2f64.powi(i32::from(log_sync_interval.clamp(-10, 10)));
    (f64::from(intervals) * interval).max(MIN_FRESH_SECONDS)
}

/// The measurement's age in seconds, where the ingress time's clock can be
/// compared with the system clock: it is the system clock with software
/// timestamping, and the PHC (system + measured offset) otherwise. An age
/// further in the future than the freshness limit means the time scales
/// differ after all (say a PHC in TAI read without its offset): unknown.
fn measurement_age(
    ingress: i64,
    software: bool,
    phc: Option<&PhcOffset>,
    realtime_ns: i128,
    fresh_limit: f64,
) -> Option<f64> {
    if ingress == 0 {
        return None;
    }
    let local_now = match (software, phc) {
        (true, _) => realtime_ns,
        (false, Some(p)) => realtime_ns + p.phc_minus_sys_ns,
        (false, None) => return None,
    };
    let age = (local_now - i128::from(ingress)) as f64 * 1e-9;
    (age >= -fresh_limit).then_some(age.max(0.0))
}

fn interval_seconds(t: ptpmgmt::TimeInterval) -> f64 {
    if t.is_saturated() {
        f64::INFINITY
    } else {
        t.seconds()
    }
}

/// The one-way delay the offset's asymmetry error is bounded by.
fn path_delay(report: &PtpReport) -> f64 {
    let mean = interval_seconds(report.current_ds.mean_path_delay).abs();
    let peer = report
        .slave_port()
        .filter(|p| p.data_set.delay_mechanism == DelayMechanism::P2p)
        .map_or(0.0, |p| {
            interval_seconds(p.data_set.peer_mean_path_delay).abs()
        });
    mean.max(peer)
}

/// |PHC - system - expected| + window / 2. The PHC keeps the PTP time
/// scale (TAI) when the grandmaster's is, and phc2sys then steers the
/// system clock to PHC - currentUtcOffset; with an arbitrary time scale it
/// steers it to the PHC itself.
fn phc_term(p: &PhcOffset, tp: &TimePropertiesDataSet) -> f64 {
    let expected_ns = if tp.ptp_timescale {
        i128::from(tp.current_utc_offset) * 1_000_000_000
    } else {
        0
    };
    let residual = (p.phc_minus_sys_ns - expected_ns).abs() as f64;
    (residual + p.window_ns as f64 / 2.0) * 1e-9
}

/// The state of the port that got furthest: UNCALIBRATED (a master chosen,
/// not locked yet) says more than LISTENING, which says more than FAULTY.
fn most_telling_state(report: &PtpReport) -> Option<PortState> {
    let rank = |s: PortState| match s {
        PortState::Uncalibrated => 0,
        PortState::Listening => 1,
        PortState::Faulty => 2,
        PortState::Passive => 3,
        PortState::Master | PortState::PreMaster => 4,
        PortState::Initializing => 5,
        PortState::Disabled => 6,
        PortState::Slave | PortState::Other(_) => 7,
    };
    report
        .ports
        .iter()
        .map(|p| p.state())
        .min_by_key(|s| rank(*s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ptp::sample::{port, report, ti, GM, ME, NS, T0};
    use ptpmgmt::TimeInterval;

    /// `secs` after T0 on both clocks (the monotonic clock started at T0).
    fn at(secs: f64) -> Now {
        Now {
            monotonic: Duration::from_secs_f64(1000.0 + secs),
            realtime_ns: T0 + (secs * 1e9) as i128,
        }
    }

    /// One collection: the assessment, and the memory it leaves for the
    /// next (as the collector keeps it).
    fn step(
        r: Option<&PtpReport>,
        phc: Option<&PhcOffset>,
        now: Now,
        memory: &mut PtpMemory,
        config: &BoundConfig,
    ) -> PtpAssessment {
        let a = assess(r, phc, now, memory, config);
        let next = memory.after(r, phc, now, config);
        assert_eq!(
            assess(r, phc, now, &next, config),
            a,
            "the memory after a collection assesses it the same"
        );
        *memory = next;
        a
    }

    fn run(r: Option<&PtpReport>, now: Now, memory: &mut PtpMemory) -> PtpAssessment {
        step(r, None, now, memory, &BoundConfig::default())
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 + b.abs() * 1e-9
    }

    #[test]
    fn no_answer_is_unknown() {
        let a = run(None, at(0.0), &mut PtpMemory::default());
        assert_eq!(a.state, PtpState::Unknown);
        assert_eq!(a.reason, Some(UnsyncReason::NoAnswer));
        assert_eq!(a.bound_seconds, f64::INFINITY);
        assert_eq!(a.traceability, None);
        assert!(!a.state.bound_holds());
    }

    #[test]
    fn synchronized_bound_is_offset_plus_path_delay_plus_grandmaster_accuracy() {
        let a = run(
            Some(&report(PortState::Slave)),
            at(0.5),
            &mut PtpMemory::default(),
        );
        assert_eq!(a.state, PtpState::Synchronized);
        assert_eq!(a.reason, None);
        assert!(close(a.terms.offset, 300e-9));
        assert!(close(a.terms.path_delay, 2000e-9));
        assert_eq!(a.terms.grandmaster_accuracy, Some(100e-9));
        assert_eq!((a.terms.holdover_growth, a.terms.phc), (0.0, None));
        assert!(close(a.bound_seconds, 2400e-9), "{}", a.bound_seconds);
        assert_eq!(a.slave_port, Some(1));
        assert!(close(a.measurement_age_seconds.unwrap_or(-1.0), 0.5));
        assert!(
            a.covers_system_clock,
            "software timestamping steers the system clock"
        );
    }

    #[test]
    fn phc_term_is_the_residual_after_the_utc_offset_plus_half_the_window() {
        let mut r = report(PortState::Slave);
        r.ports = vec![port(1, PortState::Slave, Timestamping::Hardware)];
        // The PHC keeps TAI: 37 s ahead, plus 1.5 µs of phc2sys error.
        let phc = PhcOffset {
            phc_minus_sys_ns: 37 * NS + 1500,
            window_ns: 800,
        };
        let mut memory = PtpMemory::default();
        // The ingress time is PHC time (TAI): 37 s ahead of the system clock.
        r.time_status.ingress_time = (T0 + 37 * NS) as i64;
        let a = step(
            Some(&r),
            Some(&phc),
            at(0.25),
            &mut memory,
            &BoundConfig::default(),
        );
        assert_eq!(a.state, PtpState::Synchronized);
        assert!(close(a.terms.phc.unwrap_or(0.0), 1900e-9));
        assert!(close(a.bound_seconds, 4300e-9), "{}", a.bound_seconds);
        assert!(a.covers_system_clock);
        // Aged on the PHC's clock: 0.25 s, less the 1.5 µs residual.
        assert!((a.measurement_age_seconds.unwrap_or(-1.0) - 0.25).abs() < 1e-5);

        // An arbitrary time scale: phc2sys steers the system clock to the
        // PHC itself, so the whole 37 s are error.
        r.time_properties_ds.ptp_timescale = false;
        let a = step(
            Some(&r),
            Some(&phc),
            at(0.25),
            &mut memory,
            &BoundConfig::default(),
        );
        assert!(a.bound_seconds > 37.0);
    }

    #[test]
    fn hardware_timestamping_without_the_phc_bounds_the_phc_only() {
        let mut r = report(PortState::Slave);
        r.ports = vec![port(1, PortState::Slave, Timestamping::Hardware)];
        let a = run(Some(&r), at(0.5), &mut PtpMemory::default());
        assert_eq!(a.state, PtpState::Synchronized);
        assert!(!a.covers_system_clock);
        assert_eq!(
            a.measurement_age_seconds, None,
            "PHC time is not system time"
        );
    }

    #[test]
    fn grandmaster_without_stated_accuracy_gives_no_bound_unless_assumed() {
        let mut r = report(PortState::Slave);
        r.parent_ds.grandmaster_clock_quality.clock_accuracy = ClockAccuracy::UNKNOWN;
        let a = run(Some(&r), at(0.1), &mut PtpMemory::default());
        assert_eq!(a.state, PtpState::Synchronized);
        assert_eq!(a.terms.grandmaster_accuracy, None);
        assert_eq!(a.bound_seconds, f64::INFINITY);
        let config = BoundConfig {
            assumed_grandmaster_accuracy: Some(1e-6),
            ..BoundConfig::default()
        };
        let a = step(Some(&r), None, at(0.1), &mut PtpMemory::default(), &config);
        assert!(close(a.bound_seconds, 3300e-9), "{}", a.bound_seconds);
    }

    #[test]
    fn saturated_offset_gives_no_bound() {
        let mut r = report(PortState::Slave);
        r.current_ds.offset_from_master = TimeInterval::SATURATED;
        let a = run(Some(&r), at(0.1), &mut PtpMemory::default());
        assert_eq!(a.bound_seconds, f64::INFINITY);
    }

    #[test]
    fn p2p_takes_the_larger_of_mean_and_peer_delay() {
        let mut r = report(PortState::Slave);
        r.current_ds.mean_path_delay = ti(0);
        r.ports[0].data_set.delay_mechanism = DelayMechanism::P2p;
        r.ports[0].data_set.peer_mean_path_delay = ti(700);
        let a = run(Some(&r), at(0.1), &mut PtpMemory::default());
        assert!(close(a.terms.path_delay, 700e-9));
        // With E2E the peer delay is not a path delay.
        r.ports[0].data_set.delay_mechanism = DelayMechanism::E2e;
        let a = run(Some(&r), at(0.1), &mut PtpMemory::default());
        assert_eq!(a.terms.path_delay, 0.0);
    }

    #[test]
    fn no_slave_port_is_unsynchronized_with_the_most_telling_state() {
        for state in [
            PortState::Uncalibrated,
            PortState::Listening,
            PortState::Faulty,
            PortState::Disabled,
        ] {
            let a = run(Some(&report(state)), at(0.1), &mut PtpMemory::default());
            assert_eq!(a.state, PtpState::Unsynchronized, "{state}");
            assert_eq!(a.reason, Some(UnsyncReason::NoSlavePort(Some(state))));
            assert_eq!(a.bound_seconds, f64::INFINITY);
            assert_eq!(a.slave_port, None);
            assert!(
                a.traceability.is_some(),
                "the grandmaster's flags still show"
            );
        }
        let mut r = report(PortState::Listening);
        r.ports
            .push(port(2, PortState::Faulty, Timestamping::Software));
        r.ports
            .push(port(3, PortState::Uncalibrated, Timestamping::Software));
        let a = run(Some(&r), at(0.1), &mut PtpMemory::default());
        assert_eq!(
            a.reason,
            Some(UnsyncReason::NoSlavePort(Some(PortState::Uncalibrated)))
        );
        r.ports.clear();
        let a = run(Some(&r), at(0.1), &mut PtpMemory::default());
        assert_eq!(a.reason, Some(UnsyncReason::NoSlavePort(None)));
    }

    #[test]
    fn the_grandmaster_itself_is_unsynchronized() {
        let mut r = report(PortState::Master);
        r.parent_ds.grandmaster_identity = ME;
        r.time_status.gm_present = false;
        let a = run(Some(&r), at(0.1), &mut PtpMemory::default());
        assert_eq!(a.state, PtpState::Unsynchronized);
        assert_eq!(a.reason, Some(UnsyncReason::IsGrandmaster));
    }

    #[test]
    fn slave_without_grandmaster_or_measurement_is_not_synchronized() {
        let mut r = report(PortState::Slave);
        r.time_status.gm_present = false;
        let a = run(Some(&r), at(0.1), &mut PtpMemory::default());
        assert_eq!(
            (a.state, a.reason),
            (PtpState::Unsynchronized, Some(UnsyncReason::NoGrandmaster))
        );
        let mut r = report(PortState::Slave);
        r.time_status.ingress_time = 0;
        let a = run(Some(&r), at(0.1), &mut PtpMemory::default());
        assert_eq!(a.reason, Some(UnsyncReason::NoMeasurement));
        assert_eq!(a.measurement_age_seconds, None);
    }

    #[test]
    fn measurement_older_than_eight_sync_intervals_is_stale() {
        let r = report(PortState::Slave);
        let a = run(Some(&r), at(7.9), &mut PtpMemory::default());
        assert_eq!(a.state, PtpState::Synchronized, "logSyncInterval 0: 8 s");
        let a = run(Some(&r), at(8.1), &mut PtpMemory::default());
        assert_eq!(
            a.state,
            PtpState::Unsynchronized,
            "no good sample to hold over"
        );
        assert!(
            matches!(a.reason, Some(UnsyncReason::Stale { age_seconds }) if close(age_seconds, 8.1))
        );

        // logSyncInterval 2 (4 s): 32 s; -4 (1/16 s): the 1 s floor.
        let mut slow = report(PortState::Slave);
        slow.ports[0].data_set.log_sync_interval = 2;
        assert_eq!(
            run(Some(&slow), at(31.0), &mut PtpMemory::default()).state,
            PtpState::Synchronized
        );
        let mut fast = report(PortState::Slave);
        fast.ports[0].data_set.log_sync_interval = -4;
        assert_eq!(
            run(Some(&fast), at(0.9), &mut PtpMemory::default()).state,
            PtpState::Synchronized
        );
        assert_eq!(
            run(Some(&fast), at(1.1), &mut PtpMemory::default()).state,
            PtpState::Unsynchronized
        );
    }

    #[test]
    fn ingress_time_far_in_the_future_is_another_time_scale() {
        let mut r = report(PortState::Slave);
        r.time_status.ingress_time = (T0 + 37 * NS) as i64; // a TAI PHC, read as system time
        let a = run(Some(&r), at(0.1), &mut PtpMemory::default());
        assert_eq!(a.measurement_age_seconds, None);
        assert_eq!(a.state, PtpState::Synchronized);
    }

    #[test]
    fn a_measurement_repeated_for_longer_than_the_limit_is_stale() {
        // Hardware timestamping without the PHC: the age cannot be
        // measured, only seen not to change.
        let mut r = report(PortState::Slave);
        r.ports = vec![port(1, PortState::Slave, Timestamping::Hardware)];
        let mut memory = PtpMemory::default();
        assert_eq!(
            run(Some(&r), at(0.0), &mut memory).state,
            PtpState::Synchronized
        );
        assert_eq!(
            run(Some(&r), at(5.0), &mut memory).state,
            PtpState::Synchronized
        );
        let a = run(Some(&r), at(9.0), &mut memory);
        assert_eq!(a.state, PtpState::Holdover);
        assert!(
            matches!(a.reason, Some(UnsyncReason::Stale { age_seconds }) if close(age_seconds, 9.0))
        );
        // A new measurement: synchronised again.
        r.time_status.ingress_time += 1;
        assert_eq!(
            run(Some(&r), at(10.0), &mut memory).state,
            PtpState::Synchronized
        );
    }

    #[test]
    fn holdover_grows_from_the_last_good_sample_then_expires() {
        let good = report(PortState::Slave);
        let mut memory = PtpMemory::default();
        // Measured 0.5 s before this assessment: the sample is at 0.0.
        let first = run(Some(&good), at(0.5), &mut memory);
        assert_eq!(first.state, PtpState::Synchronized);

        let config = BoundConfig::default();
        let mut lost = report(PortState::Listening);
        lost.time_status.gm_present = false;
        let a = step(Some(&lost), None, at(100.0), &mut memory, &config);
        assert_eq!(a.state, PtpState::Holdover);
        assert!(a.state.bound_holds());
        assert_eq!(
            a.reason,
            Some(UnsyncReason::NoSlavePort(Some(PortState::Listening)))
        );
        assert!(close(a.holdover_seconds.unwrap_or(0.0), 100.0));
        assert!(close(
            a.terms.holdover_growth,
            100.0 * config.holdover_drift
        ));
        assert!(
            close(a.bound_seconds, 2400e-9 + 100e-6),
            "{}",
            a.bound_seconds
        );

        // ptp4l not answering is unknown, and keeps the memory.
        assert_eq!(run(None, at(200.0), &mut memory).state, PtpState::Unknown);
        let a = step(Some(&lost), None, at(300.0), &mut memory, &config);
        assert_eq!(a.state, PtpState::Holdover, "the limit is inclusive");
        let a = step(Some(&lost), None, at(300.1), &mut memory, &config);
        assert_eq!(a.state, PtpState::Unsynchronized);
        assert_eq!(a.bound_seconds, f64::INFINITY);
        assert_eq!(a.holdover_seconds, None);
    }

    #[test]
    fn holdover_re_measures_the_phc_term() {
        let mut r = report(PortState::Slave);
        r.ports = vec![port(1, PortState::Slave, Timestamping::Hardware)];
        r.time_status.ingress_time = (T0 + 37 * NS) as i64;
        let mut memory = PtpMemory::default();
        let phc = |residual: i128| PhcOffset {
            phc_minus_sys_ns: 37 * NS + residual,
            window_ns: 0,
        };
        let config = BoundConfig::default();
        step(Some(&r), Some(&phc(100)), at(0.0), &mut memory, &config);
        r.ports[0].data_set.port_state = PortState::Listening;
        let a = step(Some(&r), Some(&phc(5000)), at(10.0), &mut memory, &config);
        assert_eq!(a.state, PtpState::Holdover);
        assert!(close(a.terms.phc.unwrap_or(0.0), 5000e-9));
        assert!(close(a.bound_seconds, 2400e-9 + 10.0 * 1e-6 + 5000e-9));
    }

    #[test]
    fn traceability_flags_are_surfaced() {
        let mut r = report(PortState::Slave);
        r.time_properties_ds.time_traceable = false;
        r.time_properties_ds.frequency_traceable = false;
        r.time_properties_ds.time_source = TimeSource::InternalOscillator;
        r.parent_ds.grandmaster_clock_quality.clock_class = 248;
        let a = run(Some(&r), at(0.1), &mut PtpMemory::default());
        let t = a.traceability.expect("answered");
        assert!(!t.time_traceable && !t.frequency_traceable);
        assert_eq!(
            (t.clock_class, t.time_source),
            (248, TimeSource::InternalOscillator)
        );
        assert_eq!((t.grandmaster, t.steps_removed), (GM, 1));
        assert_eq!(
            a.state,
            PtpState::Synchronized,
            "traceability is a flag, not a state"
        );
    }

    #[test]
    fn states_print_as_clockwatch_words() {
        let words: Vec<_> = [
            PtpState::Synchronized,
            PtpState::Holdover,
            PtpState::Unsynchronized,
            PtpState::Unknown,
        ]
        .map(PtpState::as_str)
        .to_vec();
        assert_eq!(
            words,
            ["synchronized", "holdover", "unsynchronized", "unknown"]
        );
        assert_eq!(
            UnsyncReason::NoSlavePort(Some(PortState::Uncalibrated)).describe(),
            "no port in SLAVE (port UNCALIBRATED)"
        );
    }
}
