//! Snapshot -> exposition text, in the Prometheus text format 0.0.4 or in
//! OpenMetrics 1.0 when the scraper asks for it. Pure: no clock, no I/O
//! (only the size of the last exposition is kept, to size the next buffer,
//! and the constant HELP and TYPE lines are formatted once).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use cmdmon::{SourceMode, SourceState};

use clockwatch_vocab::{self as metric, label, Kind, Metric};

use crate::collect::{CollectorName, PtpView, Snapshot, Source, TimesyncdView};
use crate::sampler::Counters;
use crate::verdict::{ReferenceKind, SyncState, Verdict};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Prometheus,
    OpenMetrics,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }

    /// OpenMetrics only when the Accept header names it (Prometheus does,
    /// with a higher preference, when it supports it).
    pub fn negotiate(accept: Option<&str>) -> Self {
        match accept {
            Some(a)
                if a.split(',')
                    .any(|part| part.trim().starts_with("application/openmetrics-text")) =>
            {
                Format::OpenMetrics
            }
            _ => Format::Prometheus,
        }
    }
}

/// Version and revision of this build, for `clockwatch_build_info`.
#[derive(Debug, Clone)]
pub struct BuildInfo {
    pub version: String,
    pub revision: String,
}

impl BuildInfo {
    pub fn current() -> Self {
        Self {
            version: env!("CARGO_PKG_VERSION").to_string(),
            revision: option_env!("CLOCKWATCH_REVISION")
                .unwrap_or("unknown")
                .to_string(),
        }
    }
}

struct Out {
    buf: String,
    format: Format,
}

impl Out {
    /// Starts a metric family: HELP and TYPE lines from the metric table,
    /// formatted once per process (see [`headers`]).
    fn family(&mut self, m: &Metric) {
        match headers().get(m.name) {
            Some(header) => self.buf.push_str(match self.format {
                Format::Prometheus => &header.prometheus,
                Format::OpenMetrics => &header.openmetrics,
            }),
            // Every constant is in metric::ALL (one macro makes both), so
            // this is not reached; if it were, the lines are still right.
            None => self.buf.push_str(&header_lines(m, self.format)),
        }
    }

    fn sample(&mut self, m: &Metric, labels: &[(&str, &str)], value: f64) {
        self.buf.push_str(m.name);
        push_label_set(&mut self.buf, labels);
        self.value(value);
    }

    /// A sample whose label set ([`label_set`]) is shared by several
    /// families: a source's labels are escaped once per scrape, not once
    /// per family.
    fn sample_labelled(&mut self, m: &Metric, label_set: &str, value: f64) {
        self.buf.push_str(m.name);
        self.buf.push_str(label_set);
        self.value(value);
    }

    fn sample_u64(&mut self, m: &Metric, labels: &[(&str, &str)], value: u64) {
        self.buf.push_str(m.name);
        push_label_set(&mut self.buf, labels);
        self.buf.push(' ');
        self.buf.push_str(itoa::Buffer::new().format(value));
        self.buf.push('\n');
    }

    /// The end of a sample line: ` value\n`.
    fn value(&mut self, value: f64) {
        self.buf.push(' ');
        push_float(&mut self.buf, value);
        self.buf.push('\n');
    }

    /// A family with one unlabelled sample.
    fn single(&mut self, m: &Metric, value: f64) {
        self.family(m);
        self.sample(m, &[], value);
    }
}

/// HELP and TYPE lines of one family, in both formats.
struct Header {
    prometheus: String,
    openmetrics: String,
}

/// The HELP and TYPE lines of every metric, by name. They are constant;
/// formatting and escaping them at every scrape made about 400 of the 1400
/// small memory copies of a 10-source scrape (counted with a uprobe on the
/// musl binary, whose memcpy is slow for small sizes).
fn headers() -> &'static HashMap<&'static str, Header> {
    static HEADERS: OnceLock<HashMap<&'static str, Header>> = OnceLock::new();
    HEADERS.get_or_init(|| {
        metric::ALL
            .iter()
            .map(|def| {
                let header = Header {
                    prometheus: header_lines(def, Format::Prometheus),
                    openmetrics: header_lines(def, Format::OpenMetrics),
                };
                (def.name, header)
            })
            .collect()
    })
}

fn header_lines(def: &Metric, format: Format) -> String {
    let name = def.name;
    let (family, kind) = match (format, def.kind) {
        (Format::OpenMetrics, Kind::Counter) => (name.trim_end_matches("_total"), "counter"),
        (Format::OpenMetrics, Kind::Info) => (name.trim_end_matches("_info"), "info"),
        (Format::Prometheus, Kind::Info) => (name, "gauge"),
        (_, kind) => (name, kind.as_str()),
    };
    let help = def.help.replace('\\', "\\\\").replace('\n', "\\n");
    format!("# HELP {family} {help}\n# TYPE {family} {kind}\n")
}

/// `{k="v",…}` with escaped values; nothing for no labels.
fn push_label_set(buf: &mut String, labels: &[(&str, &str)]) {
    if labels.is_empty() {
        return;
    }
    buf.push('{');
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            buf.push(',');
        }
        buf.push_str(k);
        buf.push_str("=\"");
        push_label_value(buf, v);
        buf.push('"');
    }
    buf.push('}');
}

/// A label set rendered once, for [`Out::sample_labelled`].
fn label_set(labels: &[(&str, &str)]) -> String {
    let mut set = String::new();
    push_label_set(&mut set, labels);
    set
}

/// Escapes a label value. Almost every value (addresses, names, states)
/// needs no escaping, and a scrape of 100 sources writes thousands of them:
/// those are copied whole.
fn push_label_value(buf: &mut String, value: &str) {
    if !value.contains(['\\', '"', '\n']) {
        buf.push_str(value);
        return;
    }
    for c in value.chars() {
        match c {
            '\\' => buf.push_str("\\\\"),
            '"' => buf.push_str("\\\""),
            '\n' => buf.push_str("\\n"),
            c => buf.push(c),
        }
    }
}

/// Go's ParseFloat (Prometheus) and OpenMetrics accept these spellings.
fn push_float(buf: &mut String, v: f64) {
    if v.is_nan() {
        buf.push_str("NaN");
    } else if v == f64::INFINITY {
        buf.push_str("+Inf");
    } else if v == f64::NEG_INFINITY {
        buf.push_str("-Inf");
    } else if v == v.trunc() && v.abs() < 1e15 {
        buf.push_str(itoa::Buffer::new().format(v as i64));
    } else {
        // Shortest representation that round-trips, exponent when small or
        // large; one copy into the buffer (core::fmt makes several).
        buf.push_str(ryu::Buffer::new().format_finite(v));
    }
}

pub fn source_state_label(state: SourceState) -> &'static str {
    // The Go chrony_exporter's words, which match chronyc's symbols.
    match state {
        SourceState::Selected => "sync",
        SourceState::NonSelectable => "unreach",
        SourceState::Falseticker => "falseticker",
        SourceState::Jittery => "jittery",
        SourceState::Unselected => "candidate",
        SourceState::Selectable => "outlier",
    }
}

pub fn source_mode_label(mode: SourceMode) -> &'static str {
    match mode {
        SourceMode::Client => "server",
        SourceMode::Peer => "peer",
        SourceMode::RefClock => "reference clock",
    }
}

/// Renders one scrape and its verdict.
pub fn render(snap: &Snapshot, verdict: &Verdict, build: &BuildInfo, format: Format) -> String {
    render_with(snap, verdict, None, build, format)
}

/// Renders one scrape, its verdict and the sampler's counters (absent
/// without sampling).
pub fn render_with(
    snap: &Snapshot,
    verdict: &Verdict,
    counters: Option<&Counters>,
    build: &BuildInfo,
    format: Format,
) -> String {
    // Sized like the last exposition (180 KB with 100 sources), so the
    // buffer is not regrown and copied several times per scrape.
    static LAST_LEN: AtomicUsize = AtomicUsize::new(8 * 1024);
    let mut o = Out {
        buf: String::with_capacity(LAST_LEN.load(Ordering::Relaxed) + 1024),
        format,
    };

    render_verdict(&mut o, verdict);
    o.single(&metric::CLOCKWATCH_SYSTEM_TIME_SECONDS, snap.system_time);
    o.family(&metric::CLOCKWATCH_BUILD_INFO);
    o.sample(
        &metric::CLOCKWATCH_BUILD_INFO,
        &[
            (label::VERSION, &build.version),
            (label::REVISION, &build.revision),
        ],
        1.0,
    );
    o.family(&metric::CLOCKWATCH_COLLECTOR_SUCCESS);
    for c in &snap.collectors {
        o.sample(
            &metric::CLOCKWATCH_COLLECTOR_SUCCESS,
            &[(label::COLLECTOR, c.name.as_str())],
            f64::from(u8::from(c.success)),
        );
    }
    o.family(&metric::CLOCKWATCH_COLLECTOR_DURATION_SECONDS);
    for c in &snap.collectors {
        o.sample(
            &metric::CLOCKWATCH_COLLECTOR_DURATION_SECONDS,
            &[(label::COLLECTOR, c.name.as_str())],
            c.duration.as_secs_f64(),
        );
    }
    if let Some(c) = counters {
        render_counters(&mut o, c);
    }

    if !snap.chrony_disabled {
        o.single(&metric::CHRONY_UP, f64::from(u8::from(snap.chrony.up)));
    }
    if let Some(t) = &snap.chrony.tracking {
        render_tracking(&mut o, t, verdict);
    }
    render_sources(&mut o, snap);
    if let Some(s) = &snap.chrony.server_stats {
        render_server_stats(&mut o, s);
    }
    if let Some(t) = &snap.timex {
        o.single(
            &metric::CLOCKWATCH_TIMEX_SYNC_STATUS,
            f64::from(u8::from(t.synchronized())),
        );
        o.single(&metric::CLOCKWATCH_TIMEX_STATE, f64::from(t.state));
        o.single(&metric::CLOCKWATCH_TIMEX_STATUS, f64::from(t.status));
        o.single(
            &metric::CLOCKWATCH_TIMEX_MAXERROR_SECONDS,
            t.maxerror_seconds,
        );
        o.single(
            &metric::CLOCKWATCH_TIMEX_ESTIMATED_ERROR_SECONDS,
            t.esterror_seconds,
        );
        o.single(&metric::CLOCKWATCH_TIMEX_OFFSET_SECONDS, t.offset_seconds);
        o.single(
            &metric::CLOCKWATCH_TIMEX_FREQUENCY_ADJUSTMENT_RATIO,
            t.frequency_ratio,
        );
        o.single(
            &metric::CLOCKWATCH_TIMEX_TAI_OFFSET_SECONDS,
            f64::from(t.tai_offset_seconds),
        );
    }
    render_probes(&mut o, snap, verdict);
    if let Some(view) = &snap.ptp {
        render_ptp(&mut o, view);
    }
    if let Some(view) = snap.timesyncd.as_ref().filter(|v| v.reported()) {
        render_timesyncd(&mut o, view);
    }
    if let Some(s) = &snap.steps {
        o.family(&metric::CLOCKWATCH_CLOCK_STEPS_TOTAL);
        o.sample_u64(&metric::CLOCKWATCH_CLOCK_STEPS_TOTAL, &[], s.total);
        o.single(
            &metric::CLOCKWATCH_CLOCK_LAST_STEP_SECONDS,
            s.last_step_seconds,
        );
    }
    if let Some(tz) = &snap.timezone {
        o.family(&metric::CLOCKWATCH_NODE_TIMEZONE_INFO);
        o.sample(
            &metric::CLOCKWATCH_NODE_TIMEZONE_INFO,
            &[(label::TIMEZONE, &tz.name)],
            1.0,
        );
    }
    if format == Format::OpenMetrics {
        o.buf.push_str("# EOF\n");
    }
    LAST_LEN.store(o.buf.len(), Ordering::Relaxed);
    o.buf
}

/// The sampler's time accounting: the bound histogram (cumulative buckets,
/// +Inf = _count), the seconds per state, the windowed peak.
fn render_counters(o: &mut Out, c: &Counters) {
    let h = &metric::CLOCKWATCH_CLOCK_ERROR_BOUND_TIME_SECONDS;
    o.family(h);
    let bucket = format!("{}_bucket", h.name);
    for (le, seconds) in c.bucket_bounds.iter().zip(&c.bucket_seconds) {
        o.buf.push_str(&bucket);
        o.buf.push_str("{le=\"");
        o.buf.push_str(&le_label(*le));
        o.buf.push_str("\"}");
        o.value(*seconds);
    }
    o.buf.push_str(&bucket);
    o.buf.push_str("{le=\"+Inf\"}");
    o.value(c.count_seconds);
    o.buf.push_str(h.name);
    o.buf.push_str("_sum");
    o.value(c.sum);
    o.buf.push_str(h.name);
    o.buf.push_str("_count");
    o.value(c.count_seconds);
    o.family(&metric::CLOCKWATCH_SYNC_STATE_SECONDS_TOTAL);
    for state in SyncState::ALL {
        o.sample(
            &metric::CLOCKWATCH_SYNC_STATE_SECONDS_TOTAL,
            &[(label::STATE, state.as_str())],
            c.state(state),
        );
    }
    if let Some(max) = c.window_max {
        o.single(&metric::CLOCKWATCH_CLOCK_ERROR_BOUND_MAX_SECONDS, max);
    }
}

/// A bucket's `le` as Prometheus 3 normalises it (and OpenMetrics spells
/// it): Go's shortest `%g` (exponent below 1e-4 and from 1e6, two exponent
/// digits at least), with `.0` on a whole number: 1e-06, 0.0001, 0.05, 1.0.
/// Written so, the stored label is the same under Prometheus 2 and 3.
pub fn le_label(v: f64) -> String {
    if v.is_infinite() && v > 0.0 {
        return "+Inf".into();
    }
    let sci = format!("{v:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let s = if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        format!("{v}")
    };
    if s.contains(['.', 'e', 'E']) {
        s
    } else {
        s + ".0"
    }
}

/// Every node carries the verdict's series, whatever the daemon, so that
/// the state alerts and the report treat all nodes alike.
fn render_verdict(o: &mut Out, v: &Verdict) {
    o.single(
        &metric::CLOCKWATCH_CLOCK_ERROR_BOUND_SECONDS,
        v.bound_seconds,
    );
    o.family(&metric::CLOCKWATCH_SYNC_STATE);
    for state in SyncState::ALL {
        o.sample(
            &metric::CLOCKWATCH_SYNC_STATE,
            &[(label::STATE, state.as_str())],
            f64::from(u8::from(state == v.state)),
        );
    }
    o.single(
        &metric::CLOCKWATCH_CLOCK_SYNCHRONIZED,
        f64::from(u8::from(v.state == SyncState::Synchronized)),
    );
    if let Some(age) = v.reference_age_seconds {
        o.single(&metric::CLOCKWATCH_REFERENCE_AGE_SECONDS, age);
    }
    o.family(&metric::CLOCKWATCH_REFERENCE_INFO);
    o.sample(
        &metric::CLOCKWATCH_REFERENCE_INFO,
        &[
            (label::DAEMON, v.daemon.as_str()),
            (label::KIND, v.reference.kind.as_str()),
            (label::REFERENCE, &v.reference.name),
            (label::REFERENCE_ID, &v.reference.id),
        ],
        1.0,
    );
    if let Some(stratum) = v.reference.stratum {
        o.single(&metric::CLOCKWATCH_REFERENCE_STRATUM, f64::from(stratum));
    }
    if let Some(traceable) = v.traceability.traceable {
        o.single(
            &metric::CLOCKWATCH_REFERENCE_TRACEABLE,
            f64::from(u8::from(traceable)),
        );
    }
}

/// timesyncd's properties as read, the last sample computed from them. A
/// detecting collector that found no timesyncd renders nothing.
fn render_timesyncd(o: &mut Out, view: &TimesyncdView) {
    let flag = |b: bool| f64::from(u8::from(b));
    let usec = |v: u64| v as f64 / 1e6;
    o.single(&metric::CLOCKWATCH_TIMESYNCD_UP, flag(view.running()));
    let s = match &view.result {
        Ok(s) => s,
        Err(f) => {
            o.family(&metric::CLOCKWATCH_TIMESYNCD_FAILURE_INFO);
            o.sample(
                &metric::CLOCKWATCH_TIMESYNCD_FAILURE_INFO,
                &[(label::REASON, f.kind)],
                1.0,
            );
            return;
        }
    };
    let address = s
        .server_address
        .ip()
        .map(|ip| ip.to_string())
        .unwrap_or_default();
    o.family(&metric::CLOCKWATCH_TIMESYNCD_SERVER_INFO);
    o.sample(
        &metric::CLOCKWATCH_TIMESYNCD_SERVER_INFO,
        &[
            (label::SERVER_NAME, &s.server_name),
            (label::SERVER_ADDRESS, &address),
        ],
        1.0,
    );
    o.single(
        &metric::CLOCKWATCH_TIMESYNCD_POLL_INTERVAL_SECONDS,
        usec(s.poll_interval_usec),
    );
    o.single(
        &metric::CLOCKWATCH_TIMESYNCD_POLL_INTERVAL_MIN_SECONDS,
        usec(s.poll_interval_min_usec),
    );
    o.single(
        &metric::CLOCKWATCH_TIMESYNCD_POLL_INTERVAL_MAX_SECONDS,
        usec(s.poll_interval_max_usec),
    );
    o.single(
        &metric::CLOCKWATCH_TIMESYNCD_ROOT_DISTANCE_MAX_SECONDS,
        usec(s.root_distance_max_usec),
    );
    o.single(
        &metric::CLOCKWATCH_TIMESYNCD_FREQUENCY_PPM,
        s.frequency_ppm(),
    );
    let m = &s.ntp_message;
    o.single(&metric::CLOCKWATCH_TIMESYNCD_NTP_LEAP, f64::from(m.leap));
    o.single(
        &metric::CLOCKWATCH_TIMESYNCD_NTP_VERSION,
        f64::from(m.version),
    );
    o.single(&metric::CLOCKWATCH_TIMESYNCD_NTP_MODE, f64::from(m.mode));
    o.single(
        &metric::CLOCKWATCH_TIMESYNCD_NTP_STRATUM,
        f64::from(m.stratum),
    );
    o.single(
        &metric::CLOCKWATCH_TIMESYNCD_NTP_PRECISION_SECONDS,
        2f64.powi(m.precision),
    );
    o.single(
        &metric::CLOCKWATCH_TIMESYNCD_NTP_ROOT_DELAY_SECONDS,
        usec(m.root_delay_usec),
    );
    o.single(
        &metric::CLOCKWATCH_TIMESYNCD_NTP_ROOT_DISPERSION_SECONDS,
        usec(m.root_dispersion_usec),
    );
    o.family(&metric::CLOCKWATCH_TIMESYNCD_NTP_REFERENCE_INFO);
    o.sample(
        &metric::CLOCKWATCH_TIMESYNCD_NTP_REFERENCE_INFO,
        &[(label::REFERENCE_ID, &m.reference_id_text())],
        1.0,
    );
    for (metric, value) in [
        (
            &metric::CLOCKWATCH_TIMESYNCD_NTP_ORIGIN_TIMESTAMP_SECONDS,
            m.origin_usec,
        ),
        (
            &metric::CLOCKWATCH_TIMESYNCD_NTP_RECEIVE_TIMESTAMP_SECONDS,
            m.receive_usec,
        ),
        (
            &metric::CLOCKWATCH_TIMESYNCD_NTP_TRANSMIT_TIMESTAMP_SECONDS,
            m.transmit_usec,
        ),
        (
            &metric::CLOCKWATCH_TIMESYNCD_NTP_DESTINATION_TIMESTAMP_SECONDS,
            m.destination_usec,
        ),
    ] {
        // Whole seconds and µs apart: the µs survive the float.
        o.single(
            metric,
            (value / 1_000_000) as f64 + (value % 1_000_000) as f64 * 1e-6,
        );
    }
    o.single(&metric::CLOCKWATCH_TIMESYNCD_NTP_SPIKE, flag(m.spike));
    o.family(&metric::CLOCKWATCH_TIMESYNCD_NTP_PACKETS_TOTAL);
    o.sample_u64(
        &metric::CLOCKWATCH_TIMESYNCD_NTP_PACKETS_TOTAL,
        &[],
        m.packet_count,
    );
    o.single(
        &metric::CLOCKWATCH_TIMESYNCD_JITTER_SECONDS,
        usec(m.jitter_usec),
    );
    let a = view.assessment();
    if let Some(sample) = a.sample {
        o.single(
            &metric::CLOCKWATCH_TIMESYNCD_LAST_SAMPLE_OFFSET_SECONDS,
            sample.offset_seconds,
        );
        o.single(
            &metric::CLOCKWATCH_TIMESYNCD_LAST_SAMPLE_DELAY_SECONDS,
            sample.delay_seconds,
        );
    }
    if let Some(age) = a.sample_age_seconds {
        o.single(&metric::CLOCKWATCH_TIMESYNCD_LAST_SAMPLE_AGE_SECONDS, age);
    }
}

/// The states of `clockwatch_ptp_port_state`: IEEE 1588's, as pmc names
/// them, in lower case.
const PTP_PORT_STATES: [ptpmgmt::PortState; 9] = {
    use ptpmgmt::PortState::*;
    [
        Initializing,
        Faulty,
        Disabled,
        Listening,
        PreMaster,
        Master,
        Passive,
        Uncalibrated,
        Slave,
    ]
};

/// ptp4l's datasets, one series per instance (and port), whether or not it
/// answered (`clockwatch_ptp_up`); the PHC reading.
fn render_ptp(o: &mut Out, view: &PtpView) {
    let flag = |b: bool| f64::from(u8::from(b));
    let sockets: Vec<String> = view
        .instances
        .iter()
        .map(|i| i.socket.display().to_string())
        .collect();
    let label_sets: Vec<String> = sockets
        .iter()
        .map(|s| label_set(&[(label::SOCKET, s)]))
        .collect();
    o.family(&metric::CLOCKWATCH_PTP_UP);
    for (i, labels) in view.instances.iter().zip(&label_sets) {
        o.sample_labelled(&metric::CLOCKWATCH_PTP_UP, labels, flag(i.report.is_ok()));
    }
    if view.instances.iter().any(|i| i.report.is_err()) {
        o.family(&metric::CLOCKWATCH_PTP_FAILURE_INFO);
        for (i, socket) in view.instances.iter().zip(&sockets) {
            if let Err(f) = &i.report {
                o.sample(
                    &metric::CLOCKWATCH_PTP_FAILURE_INFO,
                    &[(label::SOCKET, socket), (label::REASON, f.kind)],
                    1.0,
                );
            }
        }
    }
    // The instances that answered, with their label sets.
    let answered: Vec<(&crate::ptp::PtpReport, &String, &String)> = view
        .instances
        .iter()
        .zip(sockets.iter().zip(&label_sets))
        .filter_map(|(i, (socket, labels))| i.report.as_ref().ok().map(|r| (r, socket, labels)))
        .collect();
    if !answered.is_empty() {
        o.family(&metric::CLOCKWATCH_PTP_CLOCK_INFO);
        for (r, socket, _) in &answered {
            o.sample(
                &metric::CLOCKWATCH_PTP_CLOCK_INFO,
                &[
                    (label::SOCKET, socket),
                    (
                        label::CLOCK_IDENTITY,
                        &r.default_ds.clock_identity.to_string(),
                    ),
                    (label::DOMAIN, &r.default_ds.domain_number.to_string()),
                ],
                1.0,
            );
        }
        render_ptp_ports(o, &answered);
        o.family(&metric::CLOCKWATCH_PTP_GRANDMASTER_INFO);
        for (r, socket, _) in &answered {
            o.sample(
                &metric::CLOCKWATCH_PTP_GRANDMASTER_INFO,
                &[
                    (label::SOCKET, socket),
                    (
                        label::GRANDMASTER_IDENTITY,
                        &r.parent_ds.grandmaster_identity.to_string(),
                    ),
                    (
                        label::PARENT_PORT_IDENTITY,
                        &r.parent_ds.parent_port_identity.to_string(),
                    ),
                ],
                1.0,
            );
        }
    }
    type Get = fn(&crate::ptp::PtpReport) -> Option<f64>;
    let per_instance: [(&Metric, Get); 18] = [
        (&metric::CLOCKWATCH_PTP_OFFSET_FROM_MASTER_SECONDS, |r| {
            interval_seconds(r.current_ds.offset_from_master)
        }),
        (&metric::CLOCKWATCH_PTP_MEAN_PATH_DELAY_SECONDS, |r| {
            interval_seconds(r.current_ds.mean_path_delay)
        }),
        (&metric::CLOCKWATCH_PTP_STEPS_REMOVED, |r| {
            Some(f64::from(r.current_ds.steps_removed))
        }),
        (&metric::CLOCKWATCH_PTP_INGRESS_TIMESTAMP_SECONDS, |r| {
            (r.time_status.ingress_time != 0).then(|| r.time_status.ingress_time as f64 / 1e9)
        }),
        (&metric::CLOCKWATCH_PTP_GM_PRESENT, |r| {
            Some(f64::from(u8::from(r.time_status.gm_present)))
        }),
        (&metric::CLOCKWATCH_PTP_GRANDMASTER_CLOCK_CLASS, |r| {
            Some(f64::from(r.parent_ds.grandmaster_clock_quality.clock_class))
        }),
        (
            &metric::CLOCKWATCH_PTP_GRANDMASTER_CLOCK_ACCURACY_SECONDS,
            |r| {
                r.parent_ds
                    .grandmaster_clock_quality
                    .clock_accuracy
                    .seconds()
            },
        ),
        (
            &metric::CLOCKWATCH_PTP_GRANDMASTER_OFFSET_SCALED_LOG_VARIANCE,
            |r| {
                Some(f64::from(
                    r.parent_ds
                        .grandmaster_clock_quality
                        .offset_scaled_log_variance,
                ))
            },
        ),
        (&metric::CLOCKWATCH_PTP_GRANDMASTER_PRIORITY1, |r| {
            Some(f64::from(r.parent_ds.grandmaster_priority1))
        }),
        (&metric::CLOCKWATCH_PTP_GRANDMASTER_PRIORITY2, |r| {
            Some(f64::from(r.parent_ds.grandmaster_priority2))
        }),
        (&metric::CLOCKWATCH_PTP_CURRENT_UTC_OFFSET_SECONDS, |r| {
            Some(f64::from(r.time_properties_ds.current_utc_offset))
        }),
        (&metric::CLOCKWATCH_PTP_CURRENT_UTC_OFFSET_VALID, |r| {
            Some(f64::from(u8::from(
                r.time_properties_ds.current_utc_offset_valid,
            )))
        }),
        (&metric::CLOCKWATCH_PTP_LEAP61, |r| {
            Some(f64::from(u8::from(r.time_properties_ds.leap61)))
        }),
        (&metric::CLOCKWATCH_PTP_LEAP59, |r| {
            Some(f64::from(u8::from(r.time_properties_ds.leap59)))
        }),
        (&metric::CLOCKWATCH_PTP_PTP_TIMESCALE, |r| {
            Some(f64::from(u8::from(r.time_properties_ds.ptp_timescale)))
        }),
        (&metric::CLOCKWATCH_PTP_TIME_TRACEABLE, |r| {
            Some(f64::from(u8::from(r.time_properties_ds.time_traceable)))
        }),
        (&metric::CLOCKWATCH_PTP_FREQUENCY_TRACEABLE, |r| {
            Some(f64::from(u8::from(
                r.time_properties_ds.frequency_traceable,
            )))
        }),
        (&metric::CLOCKWATCH_PTP_TIME_SOURCE, |r| {
            Some(f64::from(r.time_properties_ds.time_source.to_wire()))
        }),
    ];
    for (m, get) in per_instance {
        let values: Vec<(f64, &String)> = answered
            .iter()
            .filter_map(|(r, _, labels)| get(r).map(|v| (v, *labels)))
            .collect();
        if values.is_empty() {
            continue;
        }
        o.family(m);
        for (v, labels) in values {
            o.sample_labelled(m, labels, v);
        }
    }
    if let Some(phc) = &view.phc {
        if let Ok(offset) = &phc.result {
            let device = phc.device.display().to_string();
            let labels = [(label::DEVICE, device.as_str())];
            o.family(&metric::CLOCKWATCH_PTP_PHC_OFFSET_SECONDS);
            o.sample(
                &metric::CLOCKWATCH_PTP_PHC_OFFSET_SECONDS,
                &labels,
                offset.phc_minus_sys_ns as f64 / 1e9,
            );
            o.family(&metric::CLOCKWATCH_PTP_PHC_READ_WINDOW_SECONDS);
            o.sample(
                &metric::CLOCKWATCH_PTP_PHC_READ_WINDOW_SECONDS,
                &labels,
                offset.window_ns as f64 / 1e9,
            );
        }
    }
}

/// A TimeInterval in seconds, None when ptp4l reports it too large.
/// Divided rather than multiplied by 1e-9, so that whole nanoseconds print
/// as they are (3e-7, not 3.0000000000000004e-7).
fn interval_seconds(t: ptpmgmt::TimeInterval) -> Option<f64> {
    (!t.is_saturated()).then(|| t.nanoseconds() / 1e9)
}

/// Per port: its state (a state set), identity and interface, sync
/// interval and peer delay.
fn render_ptp_ports(o: &mut Out, answered: &[(&crate::ptp::PtpReport, &String, &String)]) {
    let ports: Vec<(&crate::ptp::PortReport, &String, String)> = answered
        .iter()
        .flat_map(|(r, socket, _)| r.ports.iter().map(move |p| (p, *socket)))
        .map(|(p, socket)| {
            let number = p.number().to_string();
            let labels = label_set(&[(label::SOCKET, socket), (label::PORT, &number)]);
            (p, socket, labels)
        })
        .collect();
    if ports.is_empty() {
        return;
    }
    o.family(&metric::CLOCKWATCH_PTP_PORT_STATE);
    for (p, socket, _) in &ports {
        let number = p.number().to_string();
        for state in PTP_PORT_STATES {
            let word = state.name().unwrap_or("").to_ascii_lowercase();
            o.sample(
                &metric::CLOCKWATCH_PTP_PORT_STATE,
                &[
                    (label::SOCKET, socket),
                    (label::PORT, &number),
                    (label::STATE, &word),
                ],
                f64::from(u8::from(p.state() == state)),
            );
        }
    }
    o.family(&metric::CLOCKWATCH_PTP_PORT_INFO);
    for (p, socket, _) in &ports {
        let props = p.properties.as_ref();
        let timestamping = props
            .map(|p| p.timestamping.to_string().to_ascii_lowercase())
            .unwrap_or_default();
        o.sample(
            &metric::CLOCKWATCH_PTP_PORT_INFO,
            &[
                (label::SOCKET, socket),
                (label::PORT, &p.number().to_string()),
                (label::PORT_IDENTITY, &p.data_set.port_identity.to_string()),
                (label::INTERFACE, p.interface().unwrap_or("")),
                (label::TIMESTAMPING, &timestamping),
                (
                    label::DELAY_MECHANISM,
                    &p.data_set.delay_mechanism.to_string().to_ascii_lowercase(),
                ),
            ],
            1.0,
        );
    }
    o.family(&metric::CLOCKWATCH_PTP_PORT_SYNC_INTERVAL_SECONDS);
    for (p, _, labels) in &ports {
        o.sample_labelled(
            &metric::CLOCKWATCH_PTP_PORT_SYNC_INTERVAL_SECONDS,
            labels,
            2f64.powi(i32::from(p.data_set.log_sync_interval)),
        );
    }
    o.family(&metric::CLOCKWATCH_PTP_PORT_PEER_MEAN_PATH_DELAY_SECONDS);
    for (p, _, labels) in &ports {
        if let Some(delay) = interval_seconds(p.data_set.peer_mean_path_delay) {
            o.sample_labelled(
                &metric::CLOCKWATCH_PTP_PORT_PEER_MEAN_PATH_DELAY_SECONDS,
                labels,
                delay,
            );
        }
    }
}

/// chronyd's tracking report as the Go chrony_exporter names it. The
/// reference's name and kind come from the verdict, which reads them as
/// chronyc prints them.
fn render_tracking(o: &mut Out, t: &cmdmon::Tracking, v: &Verdict) {
    let name = &v.reference.name;
    if let Some(legacy) = v.legacy_clock_error_ms {
        o.single(&metric::CHRONY_CLOCK_ERROR_MS, legacy);
    }
    o.family(&metric::CHRONY_TRACKING_INFO);
    o.sample(
        &metric::CHRONY_TRACKING_INFO,
        &[
            (label::TRACKING_ADDRESS, name),
            (label::TRACKING_NAME, name),
            (label::TRACKING_REFID, &v.reference.id),
        ],
        1.0,
    );
    o.single(&metric::CHRONY_TRACKING_STRATUM, f64::from(t.stratum));
    o.single(
        &metric::CHRONY_TRACKING_LEAP_STATUS,
        f64::from(t.leap_status.to_wire()),
    );
    // chronyd reports 0 when it has no reference time: left out, like
    // clockwatch_reference_age_seconds.
    if let Some(at) = v.reference_time {
        o.single(&metric::CHRONY_TRACKING_REFERENCE_TIMESTAMP_SECONDS, at);
    }
    o.single(
        &metric::CHRONY_TRACKING_SYSTEM_TIME_SECONDS,
        t.current_correction,
    );
    o.single(&metric::CHRONY_TRACKING_LAST_OFFSET_SECONDS, t.last_offset);
    o.single(&metric::CHRONY_TRACKING_RMS_OFFSET_SECONDS, t.rms_offset);
    o.single(&metric::CHRONY_TRACKING_FREQUENCY_PPMS, t.freq_ppm);
    o.single(
        &metric::CHRONY_TRACKING_RESIDUAL_FREQUENCY_PPMS,
        t.resid_freq_ppm,
    );
    o.single(&metric::CHRONY_TRACKING_SKEW_PPMS, t.skew_ppm);
    o.single(&metric::CHRONY_TRACKING_ROOT_DELAY_SECONDS, t.root_delay);
    o.single(
        &metric::CHRONY_TRACKING_ROOT_DISPERSION_SECONDS,
        t.root_dispersion,
    );
    o.single(
        &metric::CHRONY_TRACKING_UPDATE_INTERVAL_SECONDS,
        t.last_update_interval,
    );
    // 1 for a server, peer or reference clock; 0 for the local clock and for
    // no reference at all (ref id 0).
    o.single(
        &metric::CHRONY_TRACKING_REMOTE_REFERENCE,
        f64::from(u8::from(matches!(
            v.reference.kind,
            ReferenceKind::Remote | ReferenceKind::Refclock
        ))),
    );
}

fn render_sources(o: &mut Out, snap: &Snapshot) {
    let sources = &snap.chrony.sources;
    // Every per-source family carries the same two labels.
    let label_sets: Vec<String> = sources
        .iter()
        .map(|s| {
            label_set(&[
                (label::SOURCE_ADDRESS, &s.address),
                (label::SOURCE_NAME, &s.name),
            ])
        })
        .collect();
    let listed = snap
        .collectors
        .iter()
        .any(|c| c.name == CollectorName::Sources && c.success);
    if listed && !sources.is_empty() {
        o.family(&metric::CHRONY_SOURCES_STATE_INFO);
        for s in sources {
            o.sample(
                &metric::CHRONY_SOURCES_STATE_INFO,
                &[
                    (label::SOURCE_ADDRESS, &s.address),
                    (label::SOURCE_NAME, &s.name),
                    (label::SOURCE_STATE, source_state_label(s.data.state)),
                    (label::SOURCE_MODE, source_mode_label(s.data.mode)),
                ],
                1.0,
            );
        }
        type Get = fn(&cmdmon::SourceData) -> Option<f64>;
        let per_source: [(&Metric, Get); 7] = [
            (&metric::CHRONY_SOURCES_STRATUM, |d| {
                Some(f64::from(d.stratum))
            }),
            (&metric::CHRONY_SOURCES_POLLING_INTERVAL_SECONDS, |d| {
                Some(2f64.powi(i32::from(d.poll)))
            }),
            (&metric::CHRONY_SOURCES_REACHABILITY_RATIO, |d| {
                Some(f64::from((d.reachability & 0xff).count_ones()) / 8.0)
            }),
            (&metric::CHRONY_SOURCES_REACHABILITY_SUCCESS, |d| {
                Some(f64::from(d.reachability & 1))
            }),
            // chronyd reports u32::MAX when there never was a sample.
            (&metric::CHRONY_SOURCES_LAST_SAMPLE_AGE_SECONDS, |d| {
                (d.since_sample != u32::MAX).then_some(f64::from(d.since_sample))
            }),
            (&metric::CHRONY_SOURCES_LAST_SAMPLE_OFFSET_SECONDS, |d| {
                Some(d.latest_meas)
            }),
            (
                &metric::CHRONY_SOURCES_LAST_SAMPLE_ERROR_MARGIN_SECONDS,
                |d| Some(d.latest_meas_err),
            ),
        ];
        for (name, get) in per_source {
            o.family(name);
            for (s, labels) in sources.iter().zip(&label_sets) {
                if let Some(v) = get(&s.data) {
                    o.sample_labelled(name, labels, v);
                }
            }
        }
    }
    if sources.iter().any(|s| s.stats.is_some()) {
        type Get = fn(&cmdmon::SourceStats) -> f64;
        let per_source: [(&Metric, Get); 7] = [
            (&metric::CHRONY_SOURCESTATS_SAMPLES, |s| {
                f64::from(s.n_samples)
            }),
            (&metric::CHRONY_SOURCESTATS_RUNS, |s| f64::from(s.n_runs)),
            (&metric::CHRONY_SOURCESTATS_SPAN_SECONDS, |s| {
                f64::from(s.span_seconds)
            }),
            (&metric::CHRONY_SOURCESTATS_FREQUENCY_PPMS, |s| {
                s.resid_freq_ppm
            }),
            (&metric::CHRONY_SOURCESTATS_FREQUENCY_SKEW_PPMS, |s| {
                s.skew_ppm
            }),
            (&metric::CHRONY_SOURCESTATS_OFFSET, |s| s.est_offset),
            (&metric::CHRONY_SOURCESTATS_STDDEV, |s| s.std_dev),
        ];
        for (name, get) in per_source {
            o.family(name);
            for (s, labels) in sources.iter().zip(&label_sets) {
                if let Some(stats) = &s.stats {
                    o.sample_labelled(name, labels, get(stats));
                }
            }
        }
    }
    // Sources that never answered are left out, as their last sample age is.
    if sources.iter().any(|s| measured(s).is_some()) {
        type Get = fn(&cmdmon::NtpData) -> f64;
        let per_source: [(&Metric, Get); 5] = [
            (&metric::CHRONY_SOURCES_PEER_OFFSET_SECONDS, |d| d.offset),
            (&metric::CHRONY_SOURCES_PEER_DELAY_SECONDS, |d| d.peer_delay),
            (&metric::CHRONY_SOURCES_PEER_DISPERSION_SECONDS, |d| {
                d.peer_dispersion
            }),
            (&metric::CHRONY_SOURCES_PEER_RESPONSE_TIME_SECONDS, |d| {
                d.response_time
            }),
            (&metric::CHRONY_SOURCES_PEER_JITTER_ASYMMETRY_SECONDS, |d| {
                d.jitter_asymmetry
            }),
        ];
        for (name, get) in per_source {
            o.family(name);
            for (s, labels) in sources.iter().zip(&label_sets) {
                if let Some(d) = measured(s) {
                    o.sample_labelled(name, labels, get(d));
                }
            }
        }
    }
}

/// The independent NTP probe: one series per configured server, whether or
/// not its last round succeeded, so that a failing server is visible.
fn render_probes(o: &mut Out, snap: &Snapshot, verdict: &Verdict) {
    if snap.probes.is_empty() {
        return;
    }
    let label_sets: Vec<String> = snap
        .probes
        .iter()
        .map(|p| label_set(&[(label::SERVER, &p.server)]))
        .collect();
    let each = |o: &mut Out, m: &Metric, value: &dyn Fn(usize) -> Option<f64>| {
        o.family(m);
        for (i, labels) in label_sets.iter().enumerate() {
            if let Some(v) = value(i) {
                o.sample_labelled(m, labels, v);
            }
        }
    };
    let probes = &snap.probes;
    let flag = |b: bool| f64::from(u8::from(b));
    each(o, &metric::CLOCKWATCH_PROBE_SUCCESS, &|i| {
        Some(flag(probes[i].success()))
    });
    type Get = fn(&crate::probe::ProbeSample) -> f64;
    let per_sample: [(&Metric, Get); 5] = [
        (&metric::CLOCKWATCH_PROBE_OFFSET_SECONDS, |s| s.offset),
        (&metric::CLOCKWATCH_PROBE_DELAY_SECONDS, |s| s.delay),
        (&metric::CLOCKWATCH_PROBE_UNCERTAINTY_SECONDS, |s| {
            s.uncertainty
        }),
        (
            &metric::CLOCKWATCH_PROBE_SERVER_ROOT_DISTANCE_SECONDS,
            |s| s.root_distance,
        ),
        (&metric::CLOCKWATCH_PROBE_SERVER_STRATUM, |s| {
            f64::from(s.stratum)
        }),
    ];
    for (m, get) in per_sample {
        each(o, m, &|i| probes[i].sample.as_ref().map(get));
    }
    each(
        o,
        &metric::CLOCKWATCH_PROBE_LAST_SUCCESS_TIMESTAMP_SECONDS,
        &|i| {
            probes[i]
                .last_success
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_secs_f64())
        },
    );
    // The verdict checks the servers in the same, configured, order.
    each(o, &metric::CLOCKWATCH_PROBE_BOUND_CONTRADICTED, &|i| {
        verdict.probes.get(i).and_then(|c| c.contradicted).map(flag)
    });
    if probes.iter().any(|p| p.failure.is_some()) {
        o.family(&metric::CLOCKWATCH_PROBE_FAILURE_INFO);
        for p in probes {
            if let Some(f) = &p.failure {
                o.sample(
                    &metric::CLOCKWATCH_PROBE_FAILURE_INFO,
                    &[(label::SERVER, &p.server), (label::REASON, f.kind)],
                    1.0,
                );
            }
        }
    }
    each(o, &metric::CLOCKWATCH_PROBE_STOPPED, &|i| {
        Some(flag(probes[i].stopped))
    });
    each(o, &metric::CLOCKWATCH_PROBE_INTERVAL_SECONDS, &|i| {
        Some(probes[i].interval.as_secs_f64())
    });
}

/// A source's NTP data, unless it never answered: then it is zeros, not
/// a measurement.
fn measured(s: &Source) -> Option<&cmdmon::NtpData> {
    s.ntp.as_ref().filter(|d| d.total_rx_count > 0)
}

fn render_server_stats(o: &mut Out, s: &cmdmon::ServerStats) {
    let counters: [(&Metric, Option<u64>); 15] = [
        (
            &metric::CHRONY_SERVERSTATS_NTP_PACKETS_RECEIVED_TOTAL,
            Some(s.ntp_hits),
        ),
        (
            &metric::CHRONY_SERVERSTATS_NTP_PACKETS_DROPPED_TOTAL,
            Some(s.ntp_drops),
        ),
        (
            &metric::CHRONY_SERVERSTATS_COMMAND_PACKETS_RECEIVED_TOTAL,
            Some(s.cmd_hits),
        ),
        (
            &metric::CHRONY_SERVERSTATS_COMMAND_PACKETS_DROPPED_TOTAL,
            Some(s.cmd_drops),
        ),
        (
            &metric::CHRONY_SERVERSTATS_CLIENT_LOG_RECORDS_DROPPED_TOTAL,
            Some(s.log_drops),
        ),
        (
            &metric::CHRONY_SERVERSTATS_NTS_KE_CONNECTIONS_ACCEPTED_TOTAL,
            s.nke_hits,
        ),
        (
            &metric::CHRONY_SERVERSTATS_NTS_KE_CONNECTIONS_DROPPED_TOTAL,
            s.nke_drops,
        ),
        (
            &metric::CHRONY_SERVERSTATS_AUTHENTICATED_NTP_PACKETS_TOTAL,
            s.ntp_auth_hits,
        ),
        (
            &metric::CHRONY_SERVERSTATS_INTERLEAVED_NTP_PACKETS_TOTAL,
            s.ntp_interleaved_hits,
        ),
        (
            &metric::CHRONY_SERVERSTATS_NTP_DAEMON_RX_TIMESTAMPS_TOTAL,
            s.ntp_daemon_rx_timestamps,
        ),
        (
            &metric::CHRONY_SERVERSTATS_NTP_DAEMON_TX_TIMESTAMPS_TOTAL,
            s.ntp_daemon_tx_timestamps,
        ),
        (
            &metric::CHRONY_SERVERSTATS_NTP_KERNEL_RX_TIMESTAMPS_TOTAL,
            s.ntp_kernel_rx_timestamps,
        ),
        (
            &metric::CHRONY_SERVERSTATS_NTP_KERNEL_TX_TIMESTAMPS_TOTAL,
            s.ntp_kernel_tx_timestamps,
        ),
        (
            &metric::CHRONY_SERVERSTATS_NTP_HARDWARE_RX_TIMESTAMPS_TOTAL,
            s.ntp_hw_rx_timestamps,
        ),
        (
            &metric::CHRONY_SERVERSTATS_NTP_HARDWARE_TX_TIMESTAMPS_TOTAL,
            s.ntp_hw_tx_timestamps,
        ),
    ];
    for (name, value) in counters {
        if let Some(v) = value {
            o.family(name);
            o.sample_u64(name, &[], v);
        }
    }
    if let Some(v) = s.ntp_timestamps {
        o.family(&metric::CHRONY_SERVERSTATS_NTP_TIMESTAMPS_HELD);
        o.sample_u64(&metric::CHRONY_SERVERSTATS_NTP_TIMESTAMPS_HELD, &[], v);
    }
    if let Some(v) = s.ntp_span_seconds {
        o.family(&metric::CHRONY_SERVERSTATS_NTP_TIMESTAMP_SPAN_SECONDS);
        o.sample_u64(
            &metric::CHRONY_SERVERSTATS_NTP_TIMESTAMP_SPAN_SECONDS,
            &[],
            v,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped_only_where_needed() {
        let escape = |v: &str| {
            let mut s = String::new();
            push_label_value(&mut s, v);
            s
        };
        assert_eq!(escape("ntp1.example.net"), "ntp1.example.net");
        assert_eq!(escape("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
        assert_eq!(escape("zürich\n"), "zürich\\n");
    }

    #[test]
    fn floats_in_exposition_spelling() {
        let f = |v: f64| {
            let mut s = String::new();
            push_float(&mut s, v);
            s
        };
        assert_eq!(f(f64::INFINITY), "+Inf");
        assert_eq!(f(f64::NEG_INFINITY), "-Inf");
        assert_eq!(f(f64::NAN), "NaN");
        assert_eq!(f(3.0), "3");
        assert_eq!(f(1.5e-7), "1.5e-7");
        assert_eq!(f(0.25), "0.25");
        assert_eq!(f(1_795_248_769.817_104_6), "1795248769.8171046");
        assert_eq!(f(-2.5e-9), "-2.5e-9");
        // Whatever the notation, the text parses back to the same value.
        let mut v = 1.234_567_890_123_e-12_f64;
        while v < 1e22 {
            for x in [v, -v, v * 3.0, (v * 7.0).trunc()] {
                assert_eq!(f(x).parse::<f64>().ok(), Some(x), "{x:?} -> {}", f(x));
            }
            v *= 10.0;
        }
    }

    #[test]
    fn le_labels_as_prometheus_normalises_them() {
        let cases = [
            (1e-6, "1e-06"),
            (1e-5, "1e-05"),
            (1e-4, "0.0001"),
            (1e-3, "0.001"),
            (0.05, "0.05"),
            (0.1, "0.1"),
            (1.0, "1.0"),
            (2.5e-7, "2.5e-07"),
            (60.0, "60.0"),
            (1e21, "1e+21"),
            (1e6, "1e+06"),
            (123456.0, "123456.0"),
            (f64::INFINITY, "+Inf"),
        ];
        for (v, want) in cases {
            assert_eq!(le_label(v), want, "{v}");
        }
    }

    #[test]
    fn negotiation() {
        assert_eq!(Format::negotiate(None), Format::Prometheus);
        assert_eq!(
            Format::negotiate(Some("text/plain;version=0.0.4")),
            Format::Prometheus
        );
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1")),
            Format::OpenMetrics
        );
    }
}
