//! Snapshot -> exposition text, in the Prometheus text format 0.0.4 or in
//! OpenMetrics 1.0 when the scraper asks for it. Pure: no clock, no I/O
//! (only the size of the last exposition is kept, to size the next buffer,
//! and the constant HELP and TYPE lines are formatted once).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use cmdmon::{SourceMode, SourceState};

use crate::bound::{is_local_reference, legacy_clock_error_ms, Assessment, SyncState};
use crate::collect::{CollectorName, Snapshot};
use crate::metrics::{Kind, MetricDef, METRICS};

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
    fn family(&mut self, name: &str) {
        let Some(header) = headers().get(name) else {
            debug_assert!(false, "metric {name} is not in metrics::METRICS");
            return;
        };
        self.buf.push_str(match self.format {
            Format::Prometheus => &header.prometheus,
            Format::OpenMetrics => &header.openmetrics,
        });
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.buf.push_str(name);
        push_label_set(&mut self.buf, labels);
        self.value(value);
    }

    /// A sample whose label set ([`label_set`]) is shared by several
    /// families: a source's labels are escaped once per scrape, not once
    /// per family.
    fn sample_labelled(&mut self, name: &str, label_set: &str, value: f64) {
        self.buf.push_str(name);
        self.buf.push_str(label_set);
        self.value(value);
    }

    fn sample_u64(&mut self, name: &str, labels: &[(&str, &str)], value: u64) {
        self.buf.push_str(name);
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
    fn single(&mut self, name: &str, value: f64) {
        self.family(name);
        self.sample(name, &[], value);
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
        METRICS
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

fn header_lines(def: &MetricDef, format: Format) -> String {
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

/// Renders one scrape. `assessment` is None in timex-only mode, where no
/// chrony-derived verdict exists.
pub fn render(
    snap: &Snapshot,
    assessment: Option<&Assessment>,
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

    // No chrony verdict (timex-only mode, tracking collector off) is
    // exported as state unknown with an infinite bound, so that every node
    // carries the series and the state alerts can ignore it.
    let unknown = Assessment {
        state: SyncState::Unknown,
        bound_seconds: f64::INFINITY,
        reference_age_seconds: None,
    };
    {
        let a = assessment.unwrap_or(&unknown);
        o.single("clockwatch_clock_error_bound_seconds", a.bound_seconds);
        o.family("clockwatch_sync_state");
        for state in SyncState::ALL {
            o.sample(
                "clockwatch_sync_state",
                &[("state", state.as_str())],
                f64::from(u8::from(state == a.state)),
            );
        }
        o.single(
            "clockwatch_clock_synchronized",
            f64::from(u8::from(a.state == SyncState::Synchronized)),
        );
        if let Some(age) = a.reference_age_seconds {
            o.single("clockwatch_reference_age_seconds", age);
        }
    }
    o.single("clockwatch_system_time_seconds", snap.system_time);
    o.family("clockwatch_build_info");
    o.sample(
        "clockwatch_build_info",
        &[("version", &build.version), ("revision", &build.revision)],
        1.0,
    );
    o.family("clockwatch_collector_success");
    for c in &snap.collectors {
        o.sample(
            "clockwatch_collector_success",
            &[("collector", c.name.as_str())],
            f64::from(u8::from(c.success)),
        );
    }
    o.family("clockwatch_collector_duration_seconds");
    for c in &snap.collectors {
        o.sample(
            "clockwatch_collector_duration_seconds",
            &[("collector", c.name.as_str())],
            c.duration.as_secs_f64(),
        );
    }

    if !snap.chrony_disabled {
        o.single("chrony_up", f64::from(u8::from(snap.chrony.up)));
    }
    if let Some(t) = &snap.chrony.tracking {
        render_tracking(&mut o, t);
    }
    render_sources(&mut o, snap);
    if let Some(s) = &snap.chrony.server_stats {
        render_server_stats(&mut o, s);
    }
    if let Some(t) = &snap.timex {
        o.single(
            "clockwatch_timex_sync_status",
            f64::from(u8::from(t.synchronized())),
        );
        o.single("clockwatch_timex_state", f64::from(t.state));
        o.single("clockwatch_timex_status", f64::from(t.status));
        o.single("clockwatch_timex_maxerror_seconds", t.maxerror_seconds);
        o.single(
            "clockwatch_timex_estimated_error_seconds",
            t.esterror_seconds,
        );
        o.single("clockwatch_timex_offset_seconds", t.offset_seconds);
        o.single(
            "clockwatch_timex_frequency_adjustment_ratio",
            t.frequency_ratio,
        );
        o.single(
            "clockwatch_timex_tai_offset_seconds",
            f64::from(t.tai_offset_seconds),
        );
    }
    if let Some(s) = &snap.steps {
        o.family("clockwatch_clock_steps_total");
        o.sample_u64("clockwatch_clock_steps_total", &[], s.total);
        o.single("clockwatch_clock_last_step_seconds", s.last_step_seconds);
    }
    if format == Format::OpenMetrics {
        o.buf.push_str("# EOF\n");
    }
    LAST_LEN.store(o.buf.len(), Ordering::Relaxed);
    o.buf
}

fn render_tracking(o: &mut Out, t: &cmdmon::Tracking) {
    let address = match t.ip_addr {
        cmdmon::Address::Unspecified | cmdmon::Address::Id(_) => t.ref_id.to_ascii(),
        ip => ip.to_string(),
    };
    o.single("chrony_clock_error_ms", legacy_clock_error_ms(t));
    o.family("chrony_tracking_info");
    o.sample(
        "chrony_tracking_info",
        &[
            ("tracking_address", &address),
            ("tracking_name", &address),
            ("tracking_refid", &t.ref_id.to_hex()),
        ],
        1.0,
    );
    o.single("chrony_tracking_stratum", f64::from(t.stratum));
    o.single(
        "chrony_tracking_leap_status",
        f64::from(t.leap_status.to_wire()),
    );
    o.single(
        "chrony_tracking_reference_timestamp_seconds",
        t.ref_time.as_secs_f64(),
    );
    o.single("chrony_tracking_system_time_seconds", t.current_correction);
    o.single("chrony_tracking_last_offset_seconds", t.last_offset);
    o.single("chrony_tracking_rms_offset_seconds", t.rms_offset);
    o.single("chrony_tracking_frequency_ppms", t.freq_ppm);
    o.single("chrony_tracking_residual_frequency_ppms", t.resid_freq_ppm);
    o.single("chrony_tracking_skew_ppms", t.skew_ppm);
    o.single("chrony_tracking_root_delay_seconds", t.root_delay);
    o.single("chrony_tracking_root_dispersion_seconds", t.root_dispersion);
    o.single(
        "chrony_tracking_update_interval_seconds",
        t.last_update_interval,
    );
    o.single(
        "chrony_tracking_remote_reference",
        f64::from(u8::from(!is_local_reference(t))),
    );
}

fn render_sources(o: &mut Out, snap: &Snapshot) {
    let sources = &snap.chrony.sources;
    // Every per-source family carries the same two labels.
    let label_sets: Vec<String> = sources
        .iter()
        .map(|s| label_set(&[("source_address", &s.address), ("source_name", &s.name)]))
        .collect();
    let listed = snap
        .collectors
        .iter()
        .any(|c| c.name == CollectorName::Sources && c.success);
    if listed && !sources.is_empty() {
        o.family("chrony_sources_state_info");
        for s in sources {
            o.sample(
                "chrony_sources_state_info",
                &[
                    ("source_address", &s.address),
                    ("source_name", &s.name),
                    ("source_state", source_state_label(s.data.state)),
                    ("source_mode", source_mode_label(s.data.mode)),
                ],
                1.0,
            );
        }
        type Get = fn(&cmdmon::SourceData) -> Option<f64>;
        let per_source: [(&str, Get); 7] = [
            ("chrony_sources_stratum", |d| Some(f64::from(d.stratum))),
            ("chrony_sources_polling_interval_seconds", |d| {
                Some(2f64.powi(i32::from(d.poll)))
            }),
            ("chrony_sources_reachability_ratio", |d| {
                Some(f64::from((d.reachability & 0xff).count_ones()) / 8.0)
            }),
            ("chrony_sources_reachability_success", |d| {
                Some(f64::from(d.reachability & 1))
            }),
            // chronyd reports u32::MAX when there never was a sample.
            ("chrony_sources_last_sample_age_seconds", |d| {
                (d.since_sample != u32::MAX).then_some(f64::from(d.since_sample))
            }),
            ("chrony_sources_last_sample_offset_seconds", |d| {
                Some(d.latest_meas)
            }),
            ("chrony_sources_last_sample_error_margin_seconds", |d| {
                Some(d.latest_meas_err)
            }),
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
        let per_source: [(&str, Get); 7] = [
            ("chrony_sourcestats_samples", |s| f64::from(s.n_samples)),
            ("chrony_sourcestats_runs", |s| f64::from(s.n_runs)),
            ("chrony_sourcestats_span_seconds", |s| {
                f64::from(s.span_seconds)
            }),
            ("chrony_sourcestats_frequency_ppms", |s| s.resid_freq_ppm),
            ("chrony_sourcestats_frequency_skew_ppms", |s| s.skew_ppm),
            ("chrony_sourcestats_offset", |s| s.est_offset),
            ("chrony_sourcestats_stddev", |s| s.std_dev),
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
    if sources.iter().any(|s| s.ntp.is_some()) {
        type Get = fn(&cmdmon::NtpData) -> f64;
        let per_source: [(&str, Get); 5] = [
            ("chrony_sources_peer_offset_seconds", |d| d.offset),
            ("chrony_sources_peer_delay_seconds", |d| d.peer_delay),
            ("chrony_sources_peer_dispersion_seconds", |d| {
                d.peer_dispersion
            }),
            ("chrony_sources_peer_response_time_seconds", |d| {
                d.response_time
            }),
            ("chrony_sources_peer_jitter_asymmetry_seconds", |d| {
                d.jitter_asymmetry
            }),
        ];
        for (name, get) in per_source {
            o.family(name);
            for (s, labels) in sources.iter().zip(&label_sets) {
                if let Some(d) = &s.ntp {
                    o.sample_labelled(name, labels, get(d));
                }
            }
        }
    }
}

fn render_server_stats(o: &mut Out, s: &cmdmon::ServerStats) {
    let counters: [(&str, Option<u64>); 9] = [
        (
            "chrony_serverstats_ntp_packets_received_total",
            Some(s.ntp_hits),
        ),
        (
            "chrony_serverstats_ntp_packets_dropped_total",
            Some(s.ntp_drops),
        ),
        (
            "chrony_serverstats_command_packets_received_total",
            Some(s.cmd_hits),
        ),
        (
            "chrony_serverstats_command_packets_dropped_total",
            Some(s.cmd_drops),
        ),
        (
            "chrony_serverstats_client_log_records_dropped_total",
            Some(s.log_drops),
        ),
        (
            "chrony_serverstats_nts_ke_connections_accepted_total",
            s.nke_hits,
        ),
        (
            "chrony_serverstats_nts_ke_connections_dropped_total",
            s.nke_drops,
        ),
        (
            "chrony_serverstats_authenticated_ntp_packets_total",
            s.ntp_auth_hits,
        ),
        (
            "chrony_serverstats_interleaved_ntp_packets_total",
            s.ntp_interleaved_hits,
        ),
    ];
    for (name, value) in counters {
        if let Some(v) = value {
            o.family(name);
            o.sample_u64(name, &[], v);
        }
    }
    if let Some(v) = s.ntp_timestamps {
        o.family("chrony_serverstats_ntp_timestamps_held");
        o.sample_u64("chrony_serverstats_ntp_timestamps_held", &[], v);
    }
    if let Some(v) = s.ntp_span_seconds {
        o.family("chrony_serverstats_ntp_timestamp_span_seconds");
        o.sample_u64("chrony_serverstats_ntp_timestamp_span_seconds", &[], v);
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
