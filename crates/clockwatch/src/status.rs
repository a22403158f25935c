//! Words for people and scripts: the one-line verdict, human durations,
//! `clockwatch status` (text and JSON) and `clockwatch check` (monitoring
//! plugin exit codes and perfdata).

use std::fmt::Write as _;
use std::time::Duration;

use clockwatch_vocab::unit::scale_seconds;
use serde::Serialize;

use crate::collect::{PtpInstance, PtpView, TimesyncdView};
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

/// One line that says what the state means: the verdict in words, what
/// says the time may not be traceable, and an independent measurement that
/// contradicts it.
pub fn headline(scrape: &Scrape) -> String {
    let mut line = state_words(&scrape.verdict);
    let warnings = &scrape.verdict.traceability.warnings;
    if !warnings.is_empty() {
        let _ = write!(line, " — traceability: {}", warnings.join("; "));
    }
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
        (SyncState::Synchronized, _) if !v.bound_seconds.is_finite() => format!(
            "Synchronized to {}, but no bound: {reason}",
            reference_words(v)
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
        // That it is not traceable, the traceability warning says.
        (SyncState::Local, _) => "Serving the local clock: no bound".to_string(),
        (SyncState::Unsynchronized, _) => format!("Not synchronised: {reason}; no bound"),
        (SyncState::Unknown, _) => format!("Unknown: {reason}"),
    }
}

/// "127.0.0.1 (stratum 2)", "PHC0 (stratum 1)", "grandmaster
/// 02af4d.fffe.8c52e8", or the ID when nameless.
pub fn reference_words(v: &Verdict) -> String {
    let r = &v.reference;
    let name = if r.name.is_empty() { &r.id } else { &r.name };
    match (r.stratum, v.daemon) {
        (Some(stratum), _) => format!("{name} (stratum {stratum})"),
        (None, Daemon::Ptp4l) => format!("grandmaster {name}"),
        (None, _) => name.clone(),
    }
}

/// "yes", "NO (why; why)", "unknown" for the traceability line.
pub fn traceability_words(v: &Verdict) -> String {
    let t = &v.traceability;
    let word = match t.traceable {
        Some(true) => "yes",
        Some(false) => "NO",
        None => "unknown",
    };
    if t.warnings.is_empty() {
        word.to_string()
    } else {
        format!("{word} ({})", t.warnings.join("; "))
    }
}

/// Whose report the verdict rests on, with the instance when named.
pub fn daemon_words(v: &Verdict) -> String {
    match &v.instance {
        Some(instance) => format!("{} ({instance})", v.daemon.as_str()),
        None => v.daemon.as_str().to_string(),
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
    let _ = writeln!(s, "Verdict from    : {}", daemon_words(v));
    match v.reference_age_seconds {
        Some(age) => {
            let _ = writeln!(s, "Last update     : {} ago", format_seconds(age));
        }
        None if v.daemon == Daemon::Chrony && snap.chrony.tracking.is_some() => {
            let _ = writeln!(s, "Last update     : never");
        }
        None => {}
    }
    if matches!(v.daemon, Daemon::Ptp4l | Daemon::Timesyncd) {
        let r = &v.reference;
        if !r.name.is_empty() {
            let _ = writeln!(s, "Reference       : {} via {}", reference_words(v), r.id);
        }
    }
    let _ = writeln!(s, "Traceable       : {}", traceability_words(v));
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
    if let Some(view) = &snap.ptp {
        s.push_str(&ptp_text(view));
    }
    if let Some(view) = snap.timesyncd.as_ref().filter(|t| t.reported()) {
        let _ = writeln!(s, "\nsystemd-timesyncd ({}):", view.bus);
        for line in timesyncd_lines(view) {
            let _ = writeln!(s, "  {line}");
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

/// timesyncd in a few lines, in timedatectl's words (shared by the status
/// page).
pub fn timesyncd_lines(view: &TimesyncdView) -> Vec<String> {
    let status = match &view.result {
        Ok(s) => s,
        Err(f) => return vec![format!("NOT READ ({}): {}", f.kind, f.message)],
    };
    let mut lines = Vec::new();
    let address = status
        .server_address
        .ip()
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| "unresolved".into());
    if status.has_server() {
        lines.push(format!(
            "Server          : {} ({address}), poll {}",
            status.server_name,
            format_seconds(status.poll_interval_seconds())
        ));
    } else {
        lines.push("Server          : none".to_string());
    }
    let m = &status.ntp_message;
    let a = view.assessment();
    match (a.sample, a.sample_age_seconds) {
        (Some(sample), age) => lines.push(format!(
            "Last sample     : offset {:+.6} s, delay {}, {} ago{}; stratum {}, reference {}, {} packets, jitter {}",
            sample.offset_seconds,
            format_seconds(sample.delay_seconds),
            age.map(format_seconds).unwrap_or_else(|| "?".into()),
            if m.spike { " (ignored as a spike)" } else { "" },
            m.stratum,
            m.reference_id_text(),
            m.packet_count,
            format_seconds(m.jitter_usec as f64 * 1e-6)
        )),
        (None, _) => lines.push(format!(
            "Last sample     : none ({} packets)",
            m.packet_count
        )),
    }
    if let Some(t) = a.terms {
        lines.push(format!(
            "Bound terms     : kernel offset {} + delay/2 {} + root distance {} + growth {} + spike {} + rounding {}",
            format_seconds(t.kernel_offset),
            format_seconds(t.half_delay),
            format_seconds(t.root_distance),
            format_seconds(t.growth),
            format_seconds(t.spike_offset),
            format_seconds(t.rounding)
        ));
    }
    lines.push(format!(
        "State           : {} ({})",
        a.state.as_str(),
        a.why.describe()
    ));
    lines
}

/// The PTP section of `clockwatch status`: each instance's datasets in
/// pmc's words, then the PHC reading.
fn ptp_text(view: &PtpView) -> String {
    let mut s = String::from("\nPTP (ptp4l):\n");
    for instance in &view.instances {
        for line in ptp_instance_lines(instance) {
            let _ = writeln!(s, "  {line}");
        }
    }
    if let Some(phc) = &view.phc {
        let _ = writeln!(s, "  {}", phc_words(phc));
    }
    s
}

/// One ptp4l instance in a few lines (shared by the status page).
pub fn ptp_instance_lines(instance: &PtpInstance) -> Vec<String> {
    let socket = instance.socket.display();
    let r = match &instance.report {
        Ok(r) => r,
        Err(f) => return vec![format!("{socket}: not read: {}", f.message)],
    };
    let mut lines = vec![format!(
        "{socket}: clock {}, domain {}{}",
        r.default_ds.clock_identity,
        r.default_ds.domain_number,
        if r.default_ds.slave_only {
            ", slave only"
        } else {
            ""
        }
    )];
    for p in &r.ports {
        let timestamping = p
            .properties
            .as_ref()
            .map(|p| {
                format!(
                    ", {} timestamping",
                    p.timestamping.to_string().to_lowercase()
                )
            })
            .unwrap_or_default();
        lines.push(format!(
            "  port {} ({}): {}{timestamping}, sync every {}",
            p.number(),
            p.interface().unwrap_or("?"),
            p.state(),
            format_seconds(2f64.powi(i32::from(p.data_set.log_sync_interval)))
        ));
    }
    let c = &r.current_ds;
    let seconds = |t: ptpmgmt::TimeInterval| {
        if t.is_saturated() {
            "too large".to_string()
        } else {
            format_seconds(t.seconds())
        }
    };
    lines.push(format!(
        "  offset from master {}, mean path delay {}, {} step(s) from the grandmaster{}",
        seconds(c.offset_from_master),
        seconds(c.mean_path_delay),
        c.steps_removed,
        if r.time_status.gm_present {
            ""
        } else {
            " (no grandmaster present)"
        }
    ));
    let p = &r.parent_ds;
    let q = &p.grandmaster_clock_quality;
    let accuracy = match q.clock_accuracy.seconds() {
        Some(a) => format!("{} ({})", format_seconds(a), q.clock_accuracy),
        None => format!("not stated ({})", q.clock_accuracy),
    };
    let t = &r.time_properties_ds;
    lines.push(format!(
        "  grandmaster {} via {}: clockClass {}, accuracy {accuracy}, time source {}, priority1 {}, priority2 {}",
        p.grandmaster_identity,
        p.parent_port_identity,
        q.clock_class,
        t.time_source,
        p.grandmaster_priority1,
        p.grandmaster_priority2
    ));
    let yes = |b: bool| if b { "yes" } else { "NO" };
    lines.push(format!(
        "  time traceable {}, frequency traceable {}, UTC offset {} s ({}), {} timescale{}",
        yes(t.time_traceable),
        yes(t.frequency_traceable),
        t.current_utc_offset,
        if t.current_utc_offset_valid {
            "valid"
        } else {
            "not valid"
        },
        if t.ptp_timescale { "PTP" } else { "arbitrary" },
        match (t.leap61, t.leap59) {
            (true, _) => ", leap second (61) at the end of the day",
            (_, true) => ", leap second (59) at the end of the day",
            _ => "",
        }
    ));
    lines
}

/// The PHC reading in words.
pub fn phc_words(phc: &crate::collect::PhcReading) -> String {
    match &phc.result {
        Ok(o) => format!(
            "PHC {}: PHC - system {:+.9} s (read window {})",
            phc.device.display(),
            o.phc_minus_sys_ns as f64 * 1e-9,
            format_seconds(o.window_ns as f64 * 1e-9)
        ),
        Err(f) => format!("PHC {}: not read: {}", phc.device.display(), f.message),
    }
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
    /// Whose report the verdict rests on: chrony, ptp4l, kernel or none.
    daemon: &'static str,
    /// The daemon's instance, where several are read (ptp4l's socket).
    #[serde(skip_serializing_if = "Option::is_none")]
    instance: Option<&'a str>,
    reference: &'a Reference,
    /// Traceable to UTC as far as the daemon knows; null: nothing tells.
    traceable: Option<bool>,
    traceability_warnings: &'a [String],
    reason: Option<&'a str>,
    chrony_up: Option<bool>,
    chrony_error: Option<&'a str>,
    tracking: Option<TrackingJson>,
    sources: Vec<SourceJson<'a>>,
    kernel: Option<KernelJson>,
    probes: Vec<ProbeJson<'a>>,
    /// Each ptp4l instance (absent without --ptp.socket).
    #[serde(skip_serializing_if = "Option::is_none")]
    ptp: Option<Vec<PtpJson<'a>>>,
    /// The PHC reading (absent without --ptp.phc).
    #[serde(skip_serializing_if = "Option::is_none")]
    phc: Option<PhcJson<'a>>,
    /// systemd-timesyncd (absent when not read, or detected absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    timesyncd: Option<TimesyncdJson<'a>>,
    system_time: f64,
}

#[derive(Serialize)]
struct TimesyncdJson<'a> {
    bus: &'a str,
    up: bool,
    failure: Option<&'static str>,
    failure_message: Option<&'a str>,
    /// The properties as read (µs, as the bus has them).
    properties: Option<&'a crate::timesyncd::Status>,
    /// The last sample (offset: server minus node) and its age.
    sample: Option<crate::timesyncd::Sample>,
    sample_age_seconds: Option<f64>,
    /// timesyncd's own state and why, and the bound's terms.
    state: &'static str,
    why: &'static str,
    bound_terms: Option<crate::timesyncd::bound::Terms>,
}

fn timesyncd_json(view: &TimesyncdView) -> TimesyncdJson<'_> {
    let a = view.assessment();
    TimesyncdJson {
        bus: &view.bus,
        up: view.running(),
        failure: view.result.as_ref().err().map(|f| f.kind),
        failure_message: view.result.as_ref().err().map(|f| f.message.as_str()),
        properties: view.result.as_ref().ok(),
        sample: a.sample,
        sample_age_seconds: a.sample_age_seconds,
        state: a.state.as_str(),
        why: a.why.as_str(),
        bound_terms: a.terms,
    }
}

#[derive(Serialize)]
struct PtpJson<'a> {
    socket: String,
    up: bool,
    failure: Option<&'a str>,
    failure_message: Option<&'a str>,
    #[serde(flatten)]
    datasets: Option<PtpDatasetsJson>,
}

#[derive(Serialize)]
struct PtpDatasetsJson {
    clock_identity: String,
    domain: u8,
    slave_only: bool,
    ports: Vec<PtpPortJson>,
    /// null when ptp4l reports it too large (saturated).
    offset_from_master_seconds: Option<f64>,
    mean_path_delay_seconds: Option<f64>,
    steps_removed: u16,
    /// Nanoseconds on ptp4l's clock; 0 before the first sync.
    ingress_time_ns: i64,
    gm_present: bool,
    grandmaster: GrandmasterJson,
    time_properties: TimePropertiesJson,
}

#[derive(Serialize)]
struct PtpPortJson {
    port: u16,
    port_identity: String,
    interface: Option<String>,
    /// As pmc prints it: SLAVE, LISTENING, ...
    state: String,
    timestamping: Option<String>,
    delay_mechanism: String,
    sync_interval_seconds: f64,
    peer_mean_path_delay_seconds: Option<f64>,
}

#[derive(Serialize)]
struct GrandmasterJson {
    identity: String,
    parent_port_identity: String,
    clock_class: u8,
    /// As pmc prints it, e.g. "0x21".
    clock_accuracy: String,
    /// null when the grandmaster states none.
    clock_accuracy_seconds: Option<f64>,
    offset_scaled_log_variance: u16,
    priority1: u8,
    priority2: u8,
}

#[derive(Serialize)]
struct TimePropertiesJson {
    current_utc_offset: i16,
    current_utc_offset_valid: bool,
    leap61: bool,
    leap59: bool,
    ptp_timescale: bool,
    time_traceable: bool,
    frequency_traceable: bool,
    /// As pmc prints it, e.g. "0x20".
    time_source: String,
}

#[derive(Serialize)]
struct PhcJson<'a> {
    device: String,
    offset_seconds: Option<f64>,
    window_seconds: Option<f64>,
    failure: Option<&'a str>,
    failure_message: Option<&'a str>,
}

fn ptp_json(view: &PtpView) -> (Vec<PtpJson<'_>>, Option<PhcJson<'_>>) {
    let interval = |t: ptpmgmt::TimeInterval| (!t.is_saturated()).then(|| t.seconds());
    let instances = view
        .instances
        .iter()
        .map(|i| {
            let failure = i.report.as_ref().err();
            PtpJson {
                socket: i.socket.display().to_string(),
                up: i.report.is_ok(),
                failure: failure.map(|f| f.kind),
                failure_message: failure.map(|f| f.message.as_str()),
                datasets: i.report.as_ref().ok().map(|r| {
                    let p = &r.parent_ds;
                    let q = &p.grandmaster_clock_quality;
                    let t = &r.time_properties_ds;
                    PtpDatasetsJson {
                        clock_identity: r.default_ds.clock_identity.to_string(),
                        domain: r.default_ds.domain_number,
                        slave_only: r.default_ds.slave_only,
                        ports: r
                            .ports
                            .iter()
                            .map(|port| PtpPortJson {
                                port: port.number(),
                                port_identity: port.data_set.port_identity.to_string(),
                                interface: port.interface().map(str::to_string),
                                state: port.state().to_string(),
                                timestamping: port
                                    .properties
                                    .as_ref()
                                    .map(|p| p.timestamping.to_string()),
                                delay_mechanism: port.data_set.delay_mechanism.to_string(),
                                sync_interval_seconds: 2f64
                                    .powi(i32::from(port.data_set.log_sync_interval)),
                                peer_mean_path_delay_seconds: interval(
                                    port.data_set.peer_mean_path_delay,
                                ),
                            })
                            .collect(),
                        offset_from_master_seconds: interval(r.current_ds.offset_from_master),
                        mean_path_delay_seconds: interval(r.current_ds.mean_path_delay),
                        steps_removed: r.current_ds.steps_removed,
                        ingress_time_ns: r.time_status.ingress_time,
                        gm_present: r.time_status.gm_present,
                        grandmaster: GrandmasterJson {
                            identity: p.grandmaster_identity.to_string(),
                            parent_port_identity: p.parent_port_identity.to_string(),
                            clock_class: q.clock_class,
                            clock_accuracy: q.clock_accuracy.to_string(),
                            clock_accuracy_seconds: q.clock_accuracy.seconds(),
                            offset_scaled_log_variance: q.offset_scaled_log_variance,
                            priority1: p.grandmaster_priority1,
                            priority2: p.grandmaster_priority2,
                        },
                        time_properties: TimePropertiesJson {
                            current_utc_offset: t.current_utc_offset,
                            current_utc_offset_valid: t.current_utc_offset_valid,
                            leap61: t.leap61,
                            leap59: t.leap59,
                            ptp_timescale: t.ptp_timescale,
                            time_traceable: t.time_traceable,
                            frequency_traceable: t.frequency_traceable,
                            time_source: format!("{:#04x}", t.time_source.to_wire()),
                        },
                    }
                }),
            }
        })
        .collect();
    let phc = view.phc.as_ref().map(|p| {
        let ok = p.result.as_ref().ok();
        let failure = p.result.as_ref().err();
        PhcJson {
            device: p.device.display().to_string(),
            offset_seconds: ok.map(|o| o.phc_minus_sys_ns as f64 * 1e-9),
            window_seconds: ok.map(|o| o.window_ns as f64 * 1e-9),
            failure: failure.map(|f| f.kind),
            failure_message: failure.map(|f| f.message.as_str()),
        }
    });
    (instances, phc)
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
    let (ptp, phc) = match snap.ptp.as_ref().map(ptp_json) {
        Some((instances, phc)) => (Some(instances), phc),
        None => (None, None),
    };
    let doc = StatusJson {
        state: v.state.as_str(),
        bound_seconds: v.bound_seconds.into(),
        reference_age_seconds: v.reference_age_seconds,
        verdict: headline(scrape),
        daemon: v.daemon.as_str(),
        instance: v.instance.as_deref(),
        reference: &v.reference,
        traceable: v.traceability.traceable,
        traceability_warnings: &v.traceability.warnings,
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
        ptp,
        phc,
        timesyncd: snap
            .timesyncd
            .as_ref()
            .filter(|t| t.reported())
            .map(timesyncd_json),
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
/// is CRITICAL; stale, and a traceability warning, are at least WARNING.
/// Whatever the daemon, the bound is the one `/metrics` exports.
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
    let warned = v.state == SyncState::Stale || !v.traceability.warnings.is_empty();
    if warned && status == CheckStatus::Ok {
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
    use std::time::Instant;

    use ptpmgmt::PortState;

    use crate::collect::{ChronyView, Snapshot};
    use crate::ptp::sample::{self, T0};
    use crate::ptp::{BoundConfig, Now, PtpMemory};
    use crate::verdict::{assess, Settings};

    /// A PTP node's scrape, 0.5 s after the sample's last sync, with the
    /// grandmaster's traceability flags as given.
    fn ptp_scrape(time_traceable: bool, frequency_traceable: bool) -> Scrape {
        let mut report = sample::report(PortState::Slave);
        report.time_properties_ds.time_traceable = time_traceable;
        report.time_properties_ds.frequency_traceable = frequency_traceable;
        let snapshot = Snapshot {
            system_time: T0 as f64 / 1e9 + 0.5,
            chrony_disabled: true,
            chrony: ChronyView::default(),
            timex: None,
            steps: None,
            probes: Vec::new(),
            ptp: Some(PtpView {
                instances: vec![PtpInstance {
                    socket: "/var/run/ptp4lro".into(),
                    report: Ok(report),
                    memory: PtpMemory::default(),
                }],
                phc: None,
                now: Now {
                    monotonic: Duration::from_secs(100),
                    realtime_ns: T0 + 500_000_000,
                },
                config: BoundConfig::default(),
            }),
            timesyncd: None,
            timezone: None,
            collectors: Vec::new(),
        };
        let verdict = assess(&snapshot, &Settings::default());
        Scrape {
            snapshot,
            verdict,
            finished: Instant::now(),
            counters: None,
        }
    }

    #[test]
    fn a_ptp_node_reads_like_a_chrony_node() {
        let scrape = ptp_scrape(true, true);
        assert_eq!(
            headline(&scrape),
            "Synchronized to grandmaster 090909.0909.090909: clock error ≤ 2.400 µs"
        );
        let text = status_text(&scrape);
        for line in [
            "State           : synchronized",
            "Error bound     : 2.400 µs",
            "Verdict from    : ptp4l (/var/run/ptp4lro)",
            "Reference       : grandmaster 090909.0909.090909 via 090909.0909.090909-1",
            "Traceable       : yes",
            "  /var/run/ptp4lro: clock 010101.0101.010101, domain 0, slave only",
            "    port 1 (eth1): SLAVE, software timestamping, sync every 1.000 s",
        ] {
            assert!(text.contains(line), "{line:?} not in\n{text}");
        }
        let (status, line) = check(
            &scrape,
            Duration::from_millis(10),
            Duration::from_millis(100),
        );
        assert_eq!(status, CheckStatus::Ok, "{line}");
    }

    #[test]
    fn an_untraceable_grandmaster_is_a_warning_everywhere() {
        let scrape = ptp_scrape(false, true);
        let words = "traceability: the grandmaster says its time is not traceable to a primary reference (timeTraceable 0)";
        assert!(headline(&scrape).ends_with(words), "{}", headline(&scrape));
        assert!(status_text(&scrape).contains("Traceable       : NO (the grandmaster says"));
        let (status, line) = check(
            &scrape,
            Duration::from_millis(10),
            Duration::from_millis(100),
        );
        assert_eq!(status, CheckStatus::Warning, "{line}");
        assert!(line.starts_with("CLOCKWATCH WARNING - Synchronized to grandmaster"));
        let json: serde_json::Value =
            serde_json::from_str(&status_json(&scrape)).expect("status JSON");
        assert_eq!(json["daemon"], "ptp4l");
        assert_eq!(json["traceable"], false);
        assert_eq!(
            json["traceability_warnings"].as_array().map(Vec::len),
            Some(1)
        );
        assert_eq!(json["ptp"][0]["time_properties"]["time_traceable"], false);
        assert_eq!(json["ptp"][0]["ports"][0]["state"], "SLAVE");
        assert_eq!(json["ptp"][0]["grandmaster"]["clock_accuracy"], "0x21");
        assert!(json.get("phc").is_none(), "no --ptp.phc");

        // A frequency that is not traceable, alone, is a warning too.
        let (status, _) = check(
            &ptp_scrape(true, false),
            Duration::from_millis(10),
            Duration::from_millis(100),
        );
        assert_eq!(status, CheckStatus::Warning);
    }

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
