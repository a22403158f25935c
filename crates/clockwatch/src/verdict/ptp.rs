//! ptp4l's rules: the verdict from the PTP assessment of each configured
//! instance ([`crate::ptp::assess`]: the bound, the state, holdover), with
//! the time of the collection and the memory of earlier collections as the
//! snapshot delivers them.
//!
//! With several instances (several NICs or domains) the one that decides
//! is the one that gets furthest: synchronized before holdover before
//! unsynchronized before unknown; among equals the most conservative (the
//! largest bound), then the first configured. The others are shown beside
//! it (`clockwatch_ptp_*`), never mixed into its bound.
//!
//! In clockwatch's words: holdover is **stale** (the bound grows from the
//! last good sample), the grandmaster is the reference (a remote one,
//! named by its clock identity, its id the parent port identity: the
//! master port this clock follows), and what the grandmaster announces
//! about itself (timeTraceable, frequencyTraceable, clockClass) is the
//! traceability.

use super::{unknown, Daemon, Reference, ReferenceKind, SyncState, Traceability, Verdict};
use crate::collect::{PtpInstance, PtpView};
use crate::ptp::{self, PtpAssessment, PtpReport, PtpState};

pub(super) fn assess(view: &PtpView) -> Verdict {
    let judged: Vec<Judged> = view
        .instances
        .iter()
        .map(|instance| Judged::of(view, instance))
        .collect();
    let Some(decides) = deciding(&judged) else {
        return unknown(Daemon::Ptp4l, "no ptp4l instance is configured".into());
    };
    let instance = &view.instances[decides];
    let Judged {
        assessment: a,
        bound_seconds,
        bound_reason,
    } = &judged[decides];
    let report = instance.report.as_ref().ok();

    let state = match a.state {
        PtpState::Synchronized => SyncState::Synchronized,
        PtpState::Holdover => SyncState::Stale,
        PtpState::Unsynchronized => SyncState::Unsynchronized,
        PtpState::Unknown => SyncState::Unknown,
    };
    let why = a.reason.map(|r| r.describe());
    let reason = match (a.state, &instance.report) {
        (PtpState::Unknown, Err(failure)) => {
            Some(format!("ptp4l did not answer: {}", failure.message))
        }
        (PtpState::Holdover, _) => Some(format!(
            "holdover: {}; the last good measurement was {:.0} s ago{}",
            why.unwrap_or_default(),
            a.holdover_seconds.unwrap_or(0.0),
            bound_reason
                .as_ref()
                .map(|b| format!("; {b}"))
                .unwrap_or_default()
        )),
        (PtpState::Synchronized, _) => bound_reason.clone(),
        _ => why.map(|w| format!("ptp4l: {w}")),
    };
    // Time since the last fresh measurement: in holdover, since the last
    // good one.
    let age = match a.state {
        PtpState::Holdover => a.holdover_seconds,
        _ => a.measurement_age_seconds,
    };
    let now_seconds = view.now.realtime_ns as f64 * 1e-9;
    Verdict {
        daemon: Daemon::Ptp4l,
        instance: Some(instance.socket.display().to_string()),
        state,
        bound_seconds: *bound_seconds,
        reference_age_seconds: age,
        reference_time: age.map(|age| now_seconds - age),
        reference: report.map_or_else(Reference::unknown, reference),
        traceability: traceability(report, a),
        reason,
        legacy_clock_error_ms: None,
        probes: Vec::new(),
    }
}

/// One instance's assessment and the bound the verdict would export for it.
struct Judged {
    assessment: PtpAssessment,
    /// +Inf where the PTP bound does not bound the system clock.
    bound_seconds: f64,
    /// Why a clock whose bound should hold has none.
    bound_reason: Option<String>,
}

impl Judged {
    fn of(view: &PtpView, instance: &PtpInstance) -> Self {
        let assessment = ptp::assess(
            instance.report.as_ref().ok(),
            view.phc_offset(),
            view.now,
            &instance.memory,
            &view.config,
        );
        let (bound_seconds, bound_reason) = match no_bound_because(view, &assessment) {
            Some(why) => (f64::INFINITY, Some(why)),
            None => (assessment.bound_seconds, None),
        };
        Self {
            assessment,
            bound_seconds,
            bound_reason,
        }
    }
}

/// Why a synchronized (or holdover) assessment bounds nothing about the
/// system clock.
fn no_bound_because(view: &PtpView, a: &PtpAssessment) -> Option<String> {
    if !a.state.bound_holds() {
        return None;
    }
    if !a.covers_system_clock {
        let phc = match &view.phc {
            Some(reading) => match &reading.result {
                Err(failure) => format!(": reading it failed: {}", failure.message),
                Ok(_) => String::new(),
            },
            None => " (give --ptp.phc=/dev/ptpN, the PHC phc2sys steers the system clock from)"
                .to_string(),
        };
        return Some(format!(
            "hardware timestamping: ptp4l measures the PTP hardware clock, and the system clock was not measured against it{phc}"
        ));
    }
    if a.terms.grandmaster_accuracy.is_none() {
        let code = a
            .traceability
            .as_ref()
            .map(|t| t.clock_accuracy.to_string())
            .unwrap_or_default();
        return Some(format!(
            "the grandmaster states no clock accuracy (clockAccuracy {code}; linuxptp's default 0xfe means unknown), and none is assumed (--ptp.assumed-grandmaster-accuracy)"
        ));
    }
    if !a.bound_seconds.is_finite() {
        return Some("the offset from the master is too large for ptp4l to report".into());
    }
    None
}

/// The instance that decides: the best state, then the largest bound,
/// then the first configured.
fn deciding(judged: &[Judged]) -> Option<usize> {
    let rank = |s: PtpState| match s {
        PtpState::Synchronized => 0,
        PtpState::Holdover => 1,
        PtpState::Unsynchronized => 2,
        PtpState::Unknown => 3,
    };
    (0..judged.len()).min_by(|&x, &y| {
        let (x, y) = (&judged[x], &judged[y]);
        rank(x.assessment.state)
            .cmp(&rank(y.assessment.state))
            .then(y.bound_seconds.total_cmp(&x.bound_seconds))
    })
}

/// The grandmaster as the reference. A clock that names itself as its
/// grandmaster follows nobody: its own clock (it serves time), or nothing
/// (a slave-only clock that hears no master).
fn reference(report: &PtpReport) -> Reference {
    let parent = &report.parent_ds;
    if report.is_grandmaster() {
        let serves = !report.default_ds.slave_only;
        return Reference {
            kind: if serves {
                ReferenceKind::Local
            } else {
                ReferenceKind::None
            },
            name: if serves {
                report.default_ds.clock_identity.to_string()
            } else {
                String::new()
            },
            id: String::new(),
            stratum: None,
        };
    }
    Reference {
        kind: ReferenceKind::Remote,
        name: parent.grandmaster_identity.to_string(),
        id: parent.parent_port_identity.to_string(),
        stratum: None,
    }
}

/// What the grandmaster announces, while one is followed (synchronized or
/// in holdover, with a grandmaster other than this clock selected). A
/// clock that lost its grandmaster announces its own defaults, which say
/// nothing about the time it holds over: no traceability then.
fn traceability(report: Option<&PtpReport>, a: &PtpAssessment) -> Traceability {
    let (Some(report), Some(t)) = (report, &a.traceability) else {
        return Traceability::default();
    };
    if !a.state.bound_holds() || report.is_grandmaster() || !report.time_status.gm_present {
        return Traceability::default();
    }
    let mut warnings = Vec::new();
    if !t.time_traceable {
        warnings.push(
            "the grandmaster says its time is not traceable to a primary reference (timeTraceable 0)"
                .to_string(),
        );
    }
    if !t.frequency_traceable {
        warnings.push(
            "the grandmaster says its frequency is not traceable (frequencyTraceable 0)"
                .to_string(),
        );
    }
    warnings.extend(clock_class_warning(t.clock_class));
    Traceability {
        traceable: Some(t.time_traceable),
        warnings,
    }
}

/// clockClass (IEEE 1588-2019 table 4) in words, when it is not "locked".
fn clock_class_warning(class: u8) -> Option<String> {
    let what = match class {
        // Locked to a primary reference / to an application-specific time.
        6 | 13 => return None,
        7 | 14 => "in holdover, within its specification",
        52 | 58 | 187 | 193 => "in holdover, degraded beyond its specification",
        248 => "free-running (the default class)",
        255 => "a slave-only clock",
        _ => "not locked to a primary reference",
    };
    Some(format!("the grandmaster is {what} (clockClass {class})"))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use ptpmgmt::{ClockAccuracy, PortState, Timestamping};

    use super::*;
    use crate::collect::{Failure, PhcReading};
    use crate::ptp::sample::{port, report, GM, ME, NS, T0};
    use crate::ptp::{BoundConfig, Now, PtpMemory};
    use crate::sys::PhcOffset;

    /// `secs` after the sample's last sync, on both clocks.
    fn at(secs: f64) -> Now {
        Now {
            monotonic: Duration::from_secs_f64(1000.0 + secs),
            realtime_ns: T0 + (secs * 1e9) as i128,
        }
    }

    fn view(instances: Vec<PtpInstance>, now: Now) -> PtpView {
        PtpView {
            instances,
            phc: None,
            now,
            config: BoundConfig::default(),
        }
    }

    fn answered(socket: &str, report: PtpReport, memory: PtpMemory) -> PtpInstance {
        PtpInstance {
            socket: PathBuf::from(socket),
            report: Ok(report),
            memory,
        }
    }

    fn silent(socket: &str) -> PtpInstance {
        PtpInstance {
            socket: PathBuf::from(socket),
            report: Err(Failure {
                kind: "not_listening",
                message: format!("nothing is listening at {socket}"),
            }),
            memory: PtpMemory::default(),
        }
    }

    fn one(report: PtpReport, now: Now) -> Verdict {
        assess(&view(
            vec![answered("/var/run/ptp4l", report, PtpMemory::default())],
            now,
        ))
    }

    #[test]
    fn a_slave_port_with_a_fresh_measurement_is_synchronized_to_the_grandmaster() {
        let v = one(report(PortState::Slave), at(0.5));
        assert_eq!(v.daemon, Daemon::Ptp4l);
        assert_eq!(v.instance.as_deref(), Some("/var/run/ptp4l"));
        assert_eq!(v.state, SyncState::Synchronized);
        // |-300 ns| + 2 µs + the grandmaster's 100 ns.
        assert!(
            (v.bound_seconds - 2400e-9).abs() < 1e-15,
            "{}",
            v.bound_seconds
        );
        assert_eq!(v.reason, None);
        assert_eq!(v.reference.kind, ReferenceKind::Remote);
        assert_eq!(v.reference.name, GM.to_string());
        assert_eq!(v.reference.id, format!("{GM}-1"));
        assert_eq!(v.reference.stratum, None);
        assert!((v.reference_age_seconds.unwrap_or(-1.0) - 0.5).abs() < 1e-6);
        let at_sync = v.reference_time.unwrap_or(0.0) - T0 as f64 * 1e-9;
        assert!(at_sync.abs() < 1e-3, "reference time is the last sync");
        assert_eq!(
            v.traceability,
            Traceability {
                traceable: Some(true),
                warnings: Vec::new()
            }
        );
    }

    #[test]
    fn holdover_is_stale_with_a_growing_bound_then_unsynchronized() {
        let config = BoundConfig::default();
        let good = report(PortState::Slave);
        let memory = PtpMemory::default().after(Some(&good), None, at(0.0), &config);
        let mut lost = report(PortState::Listening);
        lost.time_status.gm_present = false;

        let in_holdover = |secs: f64| {
            assess(&view(
                vec![answered("/var/run/ptp4l", lost.clone(), memory.clone())],
                at(secs),
            ))
        };
        let early = in_holdover(10.0);
        let later = in_holdover(100.0);
        for v in [&early, &later] {
            assert_eq!(v.state, SyncState::Stale);
            assert!(v.bound_seconds.is_finite());
            let reason = v.reason.as_deref().unwrap_or("");
            assert!(
                reason.starts_with("holdover: no port in SLAVE (port LISTENING)"),
                "{reason}"
            );
            assert_eq!(v.traceability.traceable, None, "no grandmaster to trace");
        }
        assert!((later.bound_seconds - (2400e-9 + 100.0 * 1e-6)).abs() < 1e-12);
        assert!(later.bound_seconds > early.bound_seconds);
        assert_eq!(later.reference_age_seconds, Some(100.0));

        let expired = in_holdover(300.5);
        assert_eq!(expired.state, SyncState::Unsynchronized);
        assert_eq!(expired.bound_seconds, f64::INFINITY);
        assert_eq!(
            expired.reason.as_deref(),
            Some("ptp4l: no port in SLAVE (port LISTENING)")
        );
    }

    #[test]
    fn uncalibrated_is_unsynchronized_and_silence_is_unknown() {
        let v = one(report(PortState::Uncalibrated), at(0.5));
        assert_eq!(v.state, SyncState::Unsynchronized);
        assert_eq!(v.bound_seconds, f64::INFINITY);
        assert_eq!(
            v.reason.as_deref(),
            Some("ptp4l: no port in SLAVE (port UNCALIBRATED)")
        );
        assert_eq!(v.traceability, Traceability::default());

        let v = assess(&view(vec![silent("/run/ptp4l")], at(0.5)));
        assert_eq!((v.state, v.daemon), (SyncState::Unknown, Daemon::Ptp4l));
        assert_eq!(
            v.reason.as_deref(),
            Some("ptp4l did not answer: nothing is listening at /run/ptp4l")
        );
        assert_eq!(v.reference, Reference::unknown());
    }

    #[test]
    fn an_unstated_grandmaster_accuracy_is_no_bound_unless_assumed() {
        let mut r = report(PortState::Slave);
        r.parent_ds.grandmaster_clock_quality.clock_accuracy = ClockAccuracy::UNKNOWN;
        let v = one(r.clone(), at(0.5));
        assert_eq!(v.state, SyncState::Synchronized);
        assert_eq!(v.bound_seconds, f64::INFINITY);
        let reason = v.reason.unwrap_or_default();
        assert!(
            reason.contains("states no clock accuracy (clockAccuracy 0xfe")
                && reason.contains("--ptp.assumed-grandmaster-accuracy"),
            "{reason}"
        );
        let mut with_assumption = view(
            vec![answered("/var/run/ptp4l", r, PtpMemory::default())],
            at(0.5),
        );
        with_assumption.config.assumed_grandmaster_accuracy = Some(1e-6);
        let v = assess(&with_assumption);
        assert!((v.bound_seconds - 3300e-9).abs() < 1e-15);
        assert_eq!(v.reason, None);
    }

    #[test]
    fn hardware_timestamping_bounds_the_system_clock_only_with_the_phc() {
        let mut r = report(PortState::Slave);
        r.ports = vec![port(1, PortState::Slave, Timestamping::Hardware)];
        // The PHC keeps TAI: 37 s ahead, as the ingress time is.
        r.time_status.ingress_time = (T0 + 37 * NS) as i64;
        let v = one(r.clone(), at(0.5));
        assert_eq!(v.state, SyncState::Synchronized);
        assert_eq!(v.bound_seconds, f64::INFINITY);
        assert!(v
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("--ptp.phc=/dev/ptpN")));

        let mut measured = view(
            vec![answered("/var/run/ptp4l", r.clone(), PtpMemory::default())],
            at(0.5),
        );
        measured.phc = Some(PhcReading {
            device: "/dev/ptp0".into(),
            result: Ok(PhcOffset {
                phc_minus_sys_ns: 37 * NS + 1500,
                window_ns: 800,
            }),
        });
        let v = assess(&measured);
        // 2.4 µs + 1.5 µs residual + half the 800 ns window.
        assert!(
            (v.bound_seconds - 4300e-9).abs() < 1e-12,
            "{}",
            v.bound_seconds
        );
        assert_eq!(v.reason, None);

        measured.phc = Some(PhcReading {
            device: "/dev/ptp0".into(),
            result: Err(Failure {
                kind: "permission",
                message: "permission denied on /dev/ptp0".into(),
            }),
        });
        let v = assess(&measured);
        assert_eq!(v.bound_seconds, f64::INFINITY);
        assert!(v
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("reading it failed: permission denied on /dev/ptp0")));
    }

    #[test]
    fn an_untraceable_or_degraded_grandmaster_is_a_warning_not_a_state() {
        let mut r = report(PortState::Slave);
        r.time_properties_ds.time_traceable = false;
        r.parent_ds.grandmaster_clock_quality.clock_class = 7;
        let v = one(r, at(0.5));
        assert_eq!(v.state, SyncState::Synchronized);
        assert_eq!(v.traceability.traceable, Some(false));
        assert_eq!(
            v.traceability.warnings,
            [
                "the grandmaster says its time is not traceable to a primary reference (timeTraceable 0)",
                "the grandmaster is in holdover, within its specification (clockClass 7)",
            ]
        );
        assert_eq!(clock_class_warning(6), None);
        assert_eq!(
            clock_class_warning(248).as_deref(),
            Some("the grandmaster is free-running (the default class) (clockClass 248)")
        );
    }

    #[test]
    fn the_grandmaster_itself_follows_its_own_clock() {
        let mut r = report(PortState::Master);
        r.default_ds.slave_only = false;
        r.parent_ds.grandmaster_identity = ME;
        r.time_status.gm_present = false;
        let v = one(r.clone(), at(0.5));
        assert_eq!(v.state, SyncState::Unsynchronized);
        assert_eq!(v.reference.kind, ReferenceKind::Local);
        assert_eq!(v.reference.name, ME.to_string());
        // A slave-only clock that hears nobody follows nothing.
        r.default_ds.slave_only = true;
        r.ports[0].data_set.port_state = PortState::Listening;
        let v = one(r, at(0.5));
        assert_eq!(
            (v.reference.kind, v.reference.name.as_str()),
            (ReferenceKind::None, "")
        );
    }

    #[test]
    fn of_several_instances_the_furthest_along_decides_then_the_most_conservative() {
        let mut worse = report(PortState::Slave);
        worse.current_ds.offset_from_master = crate::ptp::sample::ti(-5000);
        let instances = vec![
            silent("/run/a"),
            answered("/run/b", report(PortState::Listening), PtpMemory::default()),
            answered("/run/c", report(PortState::Slave), PtpMemory::default()),
            answered("/run/d", worse, PtpMemory::default()),
        ];
        let v = assess(&view(instances, at(0.5)));
        assert_eq!(v.state, SyncState::Synchronized);
        assert_eq!(v.instance.as_deref(), Some("/run/d"), "the larger bound");
        assert!((v.bound_seconds - 7100e-9).abs() < 1e-12);

        // None synchronized: unsynchronized (with its reason) wins over
        // unknown; equals go to the first configured.
        let instances = vec![
            silent("/run/a"),
            answered("/run/b", report(PortState::Listening), PtpMemory::default()),
            answered("/run/c", report(PortState::Faulty), PtpMemory::default()),
        ];
        let v = assess(&view(instances, at(0.5)));
        assert_eq!(v.state, SyncState::Unsynchronized);
        assert_eq!(v.instance.as_deref(), Some("/run/b"));
    }
}
