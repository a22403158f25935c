//! Words for people and scripts: the one-line verdict, human durations,
//! `clockwatch status` (text and JSON) and `clockwatch check` (monitoring
//! plugin exit codes and perfdata).

use std::fmt::Write as _;
use std::time::Duration;

use clockwatch_vocab::unit::scale_seconds;
use serde::Serialize;

use crate::probe::ProbeResult;
use crate::render::{source_mode_label, source_state_label};
use crate::scrape::Scrape;
use crate::verdict::{Daemon, ProbeCheck, Reference, SyncState, Verdict};

/// A signed duration in the unit that reads best; "+Inf" as "unbounded".
pub fn format_seconds(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return "unbounded".into();
    }
    let (value, unit) = scale_seconds(v);
    format!("{value:.3} {unit}")
}

/// One line that says what the state means: the verdict in words, and an
/// independent measurement that contradicts it.
pub fn headline(scrape: &Scrape) -> String {
    let mut line = state_words(&scrape.verdict);
    let against: Vec<&str> = scrape.verdict.contradicted_by().collect();
    if !against.is_empty() {
        let _ = write!(
            line,
            " — CONTRADICTED by the NTP probe of {}",
            against.join(", ")
        );
    }
    line
}

fn state_words(v: &Verdict) -> String {
    let reason = v.reason.as_deref().unwrap_or("no reason given");
    match (v.state, v.daemon) {
        (SyncState::Synchronized, Daemon::Kernel) => format!(
            "Kernel clock synchronised (kernel only): clock error ≤ {} (the kernel's maximum error, as the daemon steering it set it)",
            format_seconds(v.bound_seconds)
        ),
        (SyncState::Synchronized, _) => format!(
            "Synchronized to {}: clock error ≤ {}",
            reference_words(v),
            format_seconds(v.bound_seconds)
        ),
        (SyncState::Stale, _) => format!(
            "Stale: {reason}; clock error ≤ {} if the reference still holds",
            format_seconds(v.bound_seconds)
        ),
        (SyncState::Local, _) => "Serving the local clock: not traceable to UTC, no bound".to_string(),
        (SyncState::Unsynchronized, _) => format!("Not synchronised: {reason}; no bound"),
        (SyncState::Unknown, _) => format!("Unknown: {reason}"),
    }
}

/// "127.0.0.1 (stratum 2)", "PHC0 (stratum 1)", or the ID when nameless.
fn reference_words(v: &Verdict) -> String {
    let r = &v.reference;
    let name = if r.name.is_empty() { &r.id } else { &r.name };
    match r.stratum {
        Some(stratum) => format!("{name} (stratum {stratum})"),
        None => name.clone(),
    }
}

/// `clockwatch status` as text, in the manner of `chronyc tracking`.
pub fn status_text(scrape: &Scrape) -> String {
    let snap = &scrape.snapshot;
    let mut s = String::new();
    let _ = writeln!(s, "{}", headline(scrape));
    let _ = writeln!(s);
    let v = &scrape.verdict;
    let _ = writeln!(s, "State           : {}", v.state.as_str());
    let _ = writeln!(s, "Error bound     : {}", format_seconds(v.bound_seconds));
    let _ = writeln!(s, "Verdict from    : {}", v.daemon.as_str());
    match v.reference_age_seconds {
        Some(age) => {
            let _ = writeln!(s, "Last update     : {} ago", format_seconds(age));
        }
        None if v.daemon == Daemon::Chrony && snap.chrony.tracking.is_some() => {
            let _ = writeln!(s, "Last update     : never");
        }
        None => {}
    }
    if let Some(t) = &snap.chrony.tracking {
        let _ = writeln!(
            s,
            "Reference ID    : {} ({})",
            t.ref_id.to_hex(),
            v.reference.name
        );
        let _ = writeln!(s, "Stratum         : {}", t.stratum);
        let _ = writeln!(
            s,
            "System time     : {:+.9} seconds (current correction)",
            t.current_correction
        );
        let _ = writeln!(s, "Last offset     : {:+.9} seconds", t.last_offset);
        let _ = writeln!(s, "RMS offset      : {:.9} seconds", t.rms_offset);
        let _ = writeln!(s, "Frequency       : {:+.3} ppm", t.freq_ppm);
        let _ = writeln!(s, "Skew            : {:.3} ppm", t.skew_ppm);
        let _ = writeln!(s, "Root delay      : {:.9} seconds", t.root_delay);
        let _ = writeln!(s, "Root dispersion : {:.9} seconds", t.root_dispersion);
        let _ = writeln!(s, "Update interval : {:.1} seconds", t.last_update_interval);
        let _ = writeln!(s, "Leap status     : {}", t.leap_status.as_str());
    }
    if !snap.chrony.sources.is_empty() {
        let _ = writeln!(s, "\nSources:");
        for src in &snap.chrony.sources {
            let d = &src.data;
            let _ = writeln!(
                s,
                "  {}{} {:<30} stratum {:>2}  reach {:03o}  {:<11} offset {:>12} ± {}",
                d.mode.symbol(),
                d.state.symbol(),
                src.name,
                d.stratum,
                d.reachability,
                source_state_label(d.state),
                format_seconds(d.latest_meas),
                format_seconds(d.latest_meas_err)
            );
        }
    }
    if !snap.probes.is_empty() {
        let _ = writeln!(s, "\nNTP probe:");
        for (p, check) in snap.probes.iter().zip(&v.probes) {
            let _ = writeln!(s, "  {:<30} {}", p.server, probe_words(p, check));
        }
    }
    if let Some(t) = &snap.timex {
        let _ = writeln!(
            s,
            "\nKernel clock    : {} (max error {}, est. error {}, status 0x{:04x})",
            if t.synchronized() {
                "synchronised"
            } else {
                "NOT synchronised"
            },
            format_seconds(t.maxerror_seconds),
            format_seconds(t.esterror_seconds),
            t.status
        );
    }
    s
}

/// One probed server in words: its measurement and how it compares with
/// the bound, or why its last round failed.
pub fn probe_words(p: &ProbeResult, check: &ProbeCheck) -> String {
    let Some(sample) = &p.sample else {
        return match &p.failure {
            Some(f) => format!("failed: {}", f.message),
            None => "not probed yet".to_string(),
        };
    };
    let agreement = match check.contradicted {
        Some(true) => "CONTRADICTS the bound",
        Some(false) => "agrees with the bound",
        None => "no bound to check",
    };
    format!(
        "offset {} ± {} (delay {}, stratum {}): {agreement}",
        format_seconds(sample.offset),
        format_seconds(sample.uncertainty),
        format_seconds(sample.delay),
        sample.stratum
    )
}

#[derive(Serialize)]
struct ProbeJson<'a> {
    server: &'a str,
    address: Option<String>,
    success: bool,
    offset_seconds: Option<f64>,
    uncertainty_seconds: Option<f64>,
    delay_seconds: Option<f64>,
    server_stratum: Option<u8>,
    server_root_distance_seconds: Option<f64>,
    bound_contradicted: Option<bool>,
    failure: Option<&'a str>,
    failure_message: Option<&'a str>,
}

#[derive(Serialize)]
struct StatusJson<'a> {
    state: &'static str,
    bound_seconds: JsonFloat,
    reference_age_seconds: Option<f64>,
    verdict: String,
    /// Whose report the verdict rests on: chrony, kernel or none.
    daemon: &'static str,
    reference: &'a Reference,
    reason: Option<&'a str>,
    chrony_up: Option<bool>,
    chrony_error: Option<&'a str>,
    tracking: Option<TrackingJson>,
    sources: Vec<SourceJson<'a>>,
    kernel: Option<KernelJson>,
    probes: Vec<ProbeJson<'a>>,
    system_time: f64,
}

/// JSON has no infinity: +Inf is written as the string "+Inf".
#[derive(Serialize)]
#[serde(untagged)]
enum JsonFloat {
    Finite(f64),
    Special(&'static str),
}

impl From<f64> for JsonFloat {
    fn from(v: f64) -> Self {
        if v.is_finite() {
            JsonFloat::Finite(v)
        } else if v.is_nan() {
            JsonFloat::Special("NaN")
        } else if v > 0.0 {
            JsonFloat::Special("+Inf")
        } else {
            JsonFloat::Special("-Inf")
        }
    }
}

#[derive(Serialize)]
struct TrackingJson {
    ref_id: String,
    address: String,
    stratum: u16,
    leap_status: &'static str,
    /// None when chronyd has no reference time (it reports 0).
    reference_time: Option<f64>,
    current_correction: f64,
    last_offset: f64,
    rms_offset: f64,
    frequency_ppm: f64,
    residual_frequency_ppm: f64,
    skew_ppm: f64,
    root_delay: f64,
    root_dispersion: f64,
    update_interval: f64,
}

#[derive(Serialize)]
struct SourceJson<'a> {
    address: &'a str,
    name: &'a str,
    state: &'static str,
    mode: &'static str,
    stratum: u16,
    poll_seconds: f64,
    reachability: u16,
    last_sample_age_seconds: Option<u32>,
    offset_seconds: f64,
    error_seconds: f64,
}

#[derive(Serialize)]
struct KernelJson {
    synchronized: bool,
    state: i32,
    status: i32,
    maxerror_seconds: f64,
    estimated_error_seconds: f64,
    offset_seconds: f64,
    frequency_ratio: f64,
    tai_offset_seconds: i32,
}

pub fn status_json(scrape: &Scrape) -> String {
    let snap = &scrape.snapshot;
    let v = &scrape.verdict;
    let doc = StatusJson {
        state: v.state.as_str(),
        bound_seconds: v.bound_seconds.into(),
        reference_age_seconds: v.reference_age_seconds,
        verdict: headline(scrape),
        daemon: v.daemon.as_str(),
        reference: &v.reference,
        reason: v.reason.as_deref(),
        chrony_up: (!snap.chrony_disabled).then_some(snap.chrony.up),
        chrony_error: snap.chrony.error.as_deref(),
        tracking: snap.chrony.tracking.as_ref().map(|t| TrackingJson {
            ref_id: t.ref_id.to_hex(),
            address: v.reference.name.clone(),
            stratum: t.stratum,
            leap_status: t.leap_status.as_str(),
            reference_time: v.reference_time,
            current_correction: t.current_correction,
            last_offset: t.last_offset,
            rms_offset: t.rms_offset,
            frequency_ppm: t.freq_ppm,
            residual_frequency_ppm: t.resid_freq_ppm,
            skew_ppm: t.skew_ppm,
            root_delay: t.root_delay,
            root_dispersion: t.root_dispersion,
            update_interval: t.last_update_interval,
        }),
        sources: snap
            .chrony
            .sources
            .iter()
            .map(|s| SourceJson {
                address: &s.address,
                name: &s.name,
                state: source_state_label(s.data.state),
                mode: source_mode_label(s.data.mode),
                stratum: s.data.stratum,
                poll_seconds: 2f64.powi(i32::from(s.data.poll)),
                reachability: s.data.reachability,
                last_sample_age_seconds: (s.data.since_sample != u32::MAX)
                    .then_some(s.data.since_sample),
                offset_seconds: s.data.latest_meas,
                error_seconds: s.data.latest_meas_err,
            })
            .collect(),
        kernel: snap.timex.map(|t| KernelJson {
            synchronized: t.synchronized(),
            state: t.state,
            status: t.status,
            maxerror_seconds: t.maxerror_seconds,
            estimated_error_seconds: t.esterror_seconds,
            offset_seconds: t.offset_seconds,
            frequency_ratio: t.frequency_ratio,
            tai_offset_seconds: t.tai_offset_seconds,
        }),
        probes: snap
            .probes
            .iter()
            .zip(&v.probes)
            .map(|(p, check)| ProbeJson {
                server: &p.server,
                address: p.address.map(|a| a.to_string()),
                success: p.success(),
                offset_seconds: p.sample.map(|s| s.offset),
                uncertainty_seconds: p.sample.map(|s| s.uncertainty),
                delay_seconds: p.sample.map(|s| s.delay),
                server_stratum: p.sample.map(|s| s.stratum),
                server_root_distance_seconds: p.sample.map(|s| s.root_distance),
                bound_contradicted: check.contradicted,
                failure: p.failure.as_ref().map(|f| f.kind),
                failure_message: p.failure.as_ref().map(|f| f.message.as_str()),
            })
            .collect(),
        system_time: snap.system_time,
    };
    serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

/// Monitoring-plugin result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckStatus {
    Ok = 0,
    Warning = 1,
    Critical = 2,
    Unknown = 3,
}

impl CheckStatus {
    fn word(self) -> &'static str {
        match self {
            CheckStatus::Ok => "OK",
            CheckStatus::Warning => "WARNING",
            CheckStatus::Critical => "CRITICAL",
            CheckStatus::Unknown => "UNKNOWN",
        }
    }
}

/// `clockwatch check`: the verdict's bound against thresholds. Nothing
/// measured (state unknown) is UNKNOWN; no bound (local, unsynchronised)
/// is CRITICAL; stale is at least WARNING. Whatever the daemon, the bound is
/// the one `/metrics` exports.
pub fn check(scrape: &Scrape, warn: Duration, crit: Duration) -> (CheckStatus, String) {
    let (w, c) = (warn.as_secs_f64(), crit.as_secs_f64());
    let v = &scrape.verdict;
    let mut status = if v.state == SyncState::Unknown {
        CheckStatus::Unknown
    } else if v.bound_seconds > c {
        CheckStatus::Critical
    } else if v.bound_seconds > w {
        CheckStatus::Warning
    } else {
        CheckStatus::Ok
    };
    if v.state == SyncState::Stale && status == CheckStatus::Ok {
        status = CheckStatus::Warning;
    }
    let perf_bound = if v.bound_seconds.is_finite() {
        format!("{:.9}s", v.bound_seconds)
    } else {
        "U".to_string()
    };
    let line = format!(
        "CLOCKWATCH {} - {} | bound={perf_bound};{w};{c};0;",
        status.word(),
        headline(scrape)
    );
    (status, line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(format_seconds(0.0), "0.000 s");
        assert_eq!(format_seconds(1.5e-8), "15.000 ns");
        assert_eq!(format_seconds(-2.5e-5), "-25.000 µs");
        assert_eq!(format_seconds(0.0123), "12.300 ms");
        assert_eq!(format_seconds(90.0), "90.000 s");
        assert_eq!(format_seconds(f64::INFINITY), "unbounded");
    }
}
