//! Every metric clockwatch exports: name, type, labels, unit and meaning.
//! The renderer takes help texts from here, and a test keeps the README's
//! reference table identical to this list.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    Counter,
    /// A constant 1 whose labels carry strings (`*_info`).
    Info,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
            Kind::Info => "info",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct MetricDef {
    pub name: &'static str,
    pub kind: Kind,
    pub labels: &'static [&'static str],
    /// Unit, for the reference table ("seconds", "ratio", "ppm", "" …).
    pub unit: &'static str,
    /// Which collector produces it.
    pub collector: &'static str,
    pub help: &'static str,
}

const SRC: &[&str] = &["source_address", "source_name"];

macro_rules! m {
    ($name:literal, $kind:ident, $labels:expr, $unit:literal, $collector:literal, $help:literal) => {
        MetricDef {
            name: $name,
            kind: Kind::$kind,
            labels: $labels,
            unit: $unit,
            collector: $collector,
            help: $help,
        }
    };
}

pub const METRICS: &[MetricDef] = &[
    // clockwatch's own verdict
    m!("clockwatch_clock_error_bound_seconds", Gauge, &[], "seconds", "tracking", "Upper bound on the system clock's error: |chrony current correction| + root dispersion + root delay/2 (+ configured PHC error); +Inf unless the state is synchronized or stale."),
    m!("clockwatch_sync_state", Gauge, &["state"], "", "tracking", "1 for the current sync state (synchronized, stale, local, unsynchronized, unknown), 0 for the others."),
    m!("clockwatch_clock_synchronized", Gauge, &[], "", "tracking", "1 if the state is synchronized (the bound holds and the reference is fresh), else 0."),
    m!("clockwatch_reference_age_seconds", Gauge, &[], "seconds", "tracking", "Time since chronyd last updated its reference."),
    m!("clockwatch_system_time_seconds", Gauge, &[], "seconds", "always", "The node's clock at scrape time; timestamp(m) - m is the node's offset as Prometheus sees it."),
    m!("clockwatch_build_info", Info, &["version", "revision"], "", "always", "Build of the running clockwatch."),
    m!("clockwatch_collector_success", Gauge, &["collector"], "", "always", "1 if the collector succeeded in this scrape."),
    m!("clockwatch_collector_duration_seconds", Gauge, &["collector"], "seconds", "always", "Time the collector took in this scrape. The chrony collectors share one pipelined exchange: theirs is the time until their last reply."),
    // chronyd, names of the Go chrony_exporter where they overlap
    m!("chrony_up", Gauge, &[], "", "always", "1 if chronyd answered in this scrape, 0 if not (absent in timex-only mode)."),
    m!("chrony_clock_error_ms", Gauge, &[], "milliseconds", "tracking", "Legacy (Azure chrony-tracker): |last offset| + root dispersion + root delay/2 in ms. Not the documented bound; use clockwatch_clock_error_bound_seconds."),
    m!("chrony_tracking_info", Info, &["tracking_address", "tracking_name", "tracking_refid"], "", "tracking", "chronyd's reference: address, name and reference ID."),
    m!("chrony_tracking_stratum", Gauge, &[], "", "tracking", "Stratum of the system clock."),
    m!("chrony_tracking_leap_status", Gauge, &[], "", "tracking", "Leap status: 0 normal, 1 insert second, 2 delete second, 3 not synchronised."),
    m!("chrony_tracking_reference_timestamp_seconds", Gauge, &[], "seconds", "tracking", "When chronyd last updated its reference (Unix time)."),
    m!("chrony_tracking_system_time_seconds", Gauge, &[], "seconds", "tracking", "Current correction ('System time'), which chronyd is slewing away: positive when the system clock is slow (behind true time), negative when fast."),
    m!("chrony_tracking_last_offset_seconds", Gauge, &[], "seconds", "tracking", "Offset measured at the last clock update."),
    m!("chrony_tracking_rms_offset_seconds", Gauge, &[], "seconds", "tracking", "Long-term average of the offset."),
    m!("chrony_tracking_frequency_ppms", Gauge, &[], "ppm", "tracking", "Rate by which the system clock would be wrong if chronyd did not correct it (positive: fast)."),
    m!("chrony_tracking_residual_frequency_ppms", Gauge, &[], "ppm", "tracking", "Difference between the reference's frequency and the one in use."),
    m!("chrony_tracking_skew_ppms", Gauge, &[], "ppm", "tracking", "Estimated error bound on the frequency."),
    m!("chrony_tracking_root_delay_seconds", Gauge, &[], "seconds", "tracking", "Total network path delay to the stratum-1 source."),
    m!("chrony_tracking_root_dispersion_seconds", Gauge, &[], "seconds", "tracking", "Total dispersion accumulated up to the stratum-1 source, grown to the time of the scrape."),
    m!("chrony_tracking_update_interval_seconds", Gauge, &[], "seconds", "tracking", "Interval between the last two clock updates."),
    m!("chrony_tracking_remote_reference", Gauge, &[], "", "tracking", "1 if the reference is a remote source, 0 if chronyd serves its local clock."),
    m!("chrony_sources_state_info", Info, &["source_address", "source_name", "source_state", "source_mode"], "", "sources", "Selection state (sync, unreach, falseticker, jittery, candidate, outlier) and mode (server, peer, reference clock) of each source."),
    m!("chrony_sources_stratum", Gauge, SRC, "", "sources", "Stratum of the source."),
    m!("chrony_sources_polling_interval_seconds", Gauge, SRC, "seconds", "sources", "Polling interval of the source."),
    m!("chrony_sources_reachability_ratio", Gauge, SRC, "ratio", "sources", "Share of the last 8 polls that got a reply."),
    m!("chrony_sources_reachability_success", Gauge, SRC, "", "sources", "1 if the last poll got a reply."),
    m!("chrony_sources_last_sample_age_seconds", Gauge, SRC, "seconds", "sources", "Time since the last good sample (absent if there was none)."),
    m!("chrony_sources_last_sample_offset_seconds", Gauge, SRC, "seconds", "sources", "Offset of the last sample, adjusted for later slews."),
    m!("chrony_sources_last_sample_error_margin_seconds", Gauge, SRC, "seconds", "sources", "Error margin of the last sample."),
    m!("chrony_sourcestats_samples", Gauge, SRC, "", "sourcestats", "Number of samples retained for the source."),
    m!("chrony_sourcestats_runs", Gauge, SRC, "", "sourcestats", "Number of runs of residuals with the same sign."),
    m!("chrony_sourcestats_span_seconds", Gauge, SRC, "seconds", "sourcestats", "Time between the oldest and newest sample."),
    m!("chrony_sourcestats_frequency_ppms", Gauge, SRC, "ppm", "sourcestats", "Estimated residual frequency of the source."),
    m!("chrony_sourcestats_frequency_skew_ppms", Gauge, SRC, "ppm", "sourcestats", "Estimated error bound on that frequency."),
    m!("chrony_sourcestats_offset", Gauge, SRC, "seconds", "sourcestats", "Estimated offset of the source (name kept from chrony_exporter)."),
    m!("chrony_sourcestats_stddev", Gauge, SRC, "seconds", "sourcestats", "Estimated sample standard deviation (name kept from chrony_exporter)."),
    m!("chrony_sources_peer_offset_seconds", Gauge, SRC, "seconds", "ntpdata", "Offset of the last NTP measurement (unix socket only)."),
    m!("chrony_sources_peer_delay_seconds", Gauge, SRC, "seconds", "ntpdata", "Round-trip delay of the last NTP measurement."),
    m!("chrony_sources_peer_dispersion_seconds", Gauge, SRC, "seconds", "ntpdata", "Dispersion of the last NTP measurement."),
    m!("chrony_sources_peer_response_time_seconds", Gauge, SRC, "seconds", "ntpdata", "Server's processing time of the last NTP measurement."),
    m!("chrony_sources_peer_jitter_asymmetry_seconds", Gauge, SRC, "", "ntpdata", "Estimated asymmetry of the network jitter (a ratio, -0.5 to 0.5; name kept from chrony_exporter)."),
    m!("chrony_serverstats_ntp_packets_received_total", Counter, &[], "", "serverstats", "NTP requests received (unix socket only)."),
    m!("chrony_serverstats_ntp_packets_dropped_total", Counter, &[], "", "serverstats", "NTP requests dropped by rate limiting."),
    m!("chrony_serverstats_command_packets_received_total", Counter, &[], "", "serverstats", "Command requests received."),
    m!("chrony_serverstats_command_packets_dropped_total", Counter, &[], "", "serverstats", "Command requests dropped by rate limiting."),
    m!("chrony_serverstats_client_log_records_dropped_total", Counter, &[], "", "serverstats", "Client log records dropped for lack of memory."),
    m!("chrony_serverstats_nts_ke_connections_accepted_total", Counter, &[], "", "serverstats", "NTS-KE connections accepted (chrony 4.0+)."),
    m!("chrony_serverstats_nts_ke_connections_dropped_total", Counter, &[], "", "serverstats", "NTS-KE connections dropped (chrony 4.0+)."),
    m!("chrony_serverstats_authenticated_ntp_packets_total", Counter, &[], "", "serverstats", "Authenticated NTP requests (chrony 4.0+)."),
    m!("chrony_serverstats_interleaved_ntp_packets_total", Counter, &[], "", "serverstats", "Interleaved NTP requests (chrony 4.2+)."),
    m!("chrony_serverstats_ntp_timestamps_held", Gauge, &[], "", "serverstats", "Timestamps held for interleaved mode (chrony 4.2+)."),
    m!("chrony_serverstats_ntp_timestamp_span_seconds", Gauge, &[], "seconds", "serverstats", "Span of the held timestamps (chrony 4.2+)."),
    // the kernel's view
    m!("clockwatch_timex_sync_status", Gauge, &[], "", "timex", "1 if the kernel considers the clock synchronised (STA_UNSYNC clear, state not TIME_ERROR)."),
    m!("clockwatch_timex_state", Gauge, &[], "", "timex", "adjtimex return value: 0 OK, 1 INS, 2 DEL, 3 OOP, 4 WAIT, 5 ERROR."),
    m!("clockwatch_timex_status", Gauge, &[], "", "timex", "Kernel clock status bits (STA_*)."),
    m!("clockwatch_timex_maxerror_seconds", Gauge, &[], "seconds", "timex", "Kernel's maximum error estimate (grows by 500 ppm unless refreshed)."),
    m!("clockwatch_timex_estimated_error_seconds", Gauge, &[], "seconds", "timex", "Kernel's estimated error."),
    m!("clockwatch_timex_offset_seconds", Gauge, &[], "seconds", "timex", "Offset the kernel PLL is still correcting."),
    m!("clockwatch_timex_frequency_adjustment_ratio", Gauge, &[], "ratio", "timex", "Frequency adjustment of the kernel clock."),
    m!("clockwatch_timex_tai_offset_seconds", Gauge, &[], "seconds", "timex", "TAI - UTC as set in the kernel."),
    // steps
    m!("clockwatch_clock_steps_total", Counter, &[], "", "steps", "Discontinuous changes of the system clock seen since clockwatch started."),
    m!("clockwatch_clock_last_step_seconds", Gauge, &[], "seconds", "steps", "Signed size of the last step (0 before the first)."),
];

/// The README reference table, generated from [`METRICS`].
pub fn reference_table() -> String {
    let mut out = String::from(
        "| name | type | labels | unit | collector | meaning |\n|---|---|---|---|---|---|\n",
    );
    for m in METRICS {
        let labels = if m.labels.is_empty() {
            String::from("—")
        } else {
            m.labels
                .iter()
                .map(|l| format!("`{l}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let unit = if m.unit.is_empty() { "—" } else { m.unit };
        let kind = if m.kind == Kind::Info {
            "gauge (info)"
        } else {
            m.kind.as_str()
        };
        out.push_str(&format!(
            "| `{}` | {kind} | {labels} | {unit} | {} | {} |\n",
            m.name,
            m.collector,
            m.help.replace('|', "\\|")
        ));
    }
    out
}
