//! The words clockwatch's exporter and its report share: metric names,
//! label names, units and the sync states. The exporter writes these names
//! and the report's PromQL reads them; with one definition a typo cannot make
//! the two disagree, and a metric is named through a typed constant, never
//! looked up by a string.

use serde::Serialize;

/// The clock's sync state, as `clockwatch_sync_state{state}` exports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncState {
    /// The daemon answers, its reference is a real source and was updated
    /// recently: the bound holds.
    Synchronized,
    /// As synchronized, but the reference was not updated for longer than
    /// the daemon's rule allows: the bound is still computed, and flagged.
    Stale,
    /// The daemon serves its own clock: looks perfect, not traceable to UTC.
    Local,
    /// The daemon (or the kernel) says the clock is not synchronised.
    Unsynchronized,
    /// Nothing answered (daemon down, timeout, permission), or nothing was
    /// asked.
    Unknown,
}

impl SyncState {
    pub const ALL: [SyncState; 5] = [
        SyncState::Synchronized,
        SyncState::Stale,
        SyncState::Local,
        SyncState::Unsynchronized,
        SyncState::Unknown,
    ];

    /// The `state` label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            SyncState::Synchronized => "synchronized",
            SyncState::Stale => "stale",
            SyncState::Local => "local",
            SyncState::Unsynchronized => "unsynchronized",
            SyncState::Unknown => "unknown",
        }
    }

    pub fn from_label(label: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == label)
    }

    /// Whether the exported bound is a bound on the clock error.
    pub fn bound_holds(self) -> bool {
        matches!(self, SyncState::Synchronized | SyncState::Stale)
    }
}

/// Label names.
pub mod label {
    pub const STATE: &str = "state";
    pub const COLLECTOR: &str = "collector";
    pub const VERSION: &str = "version";
    pub const REVISION: &str = "revision";
    pub const DAEMON: &str = "daemon";
    pub const KIND: &str = "kind";
    pub const REFERENCE: &str = "reference";
    pub const REFERENCE_ID: &str = "reference_id";
    pub const TRACKING_ADDRESS: &str = "tracking_address";
    pub const TRACKING_NAME: &str = "tracking_name";
    pub const TRACKING_REFID: &str = "tracking_refid";
    pub const SOURCE_ADDRESS: &str = "source_address";
    pub const SOURCE_NAME: &str = "source_name";
    pub const SOURCE_STATE: &str = "source_state";
    pub const SOURCE_MODE: &str = "source_mode";
    /// A probed NTP server, as configured (`host:port`).
    pub const SERVER: &str = "server";
    pub const REASON: &str = "reason";
    /// A ptp4l instance, by its management socket (`--ptp.socket`). Not
    /// `instance`: Prometheus sets that label on every series it scrapes.
    pub const SOCKET: &str = "socket";
    /// A PTP port's number on its clock (1, 2, ...).
    pub const PORT: &str = "port";
    pub const PORT_IDENTITY: &str = "port_identity";
    pub const INTERFACE: &str = "interface";
    pub const TIMESTAMPING: &str = "timestamping";
    pub const DELAY_MECHANISM: &str = "delay_mechanism";
    pub const CLOCK_IDENTITY: &str = "clock_identity";
    pub const DOMAIN: &str = "domain";
    pub const GRANDMASTER_IDENTITY: &str = "grandmaster_identity";
    pub const PARENT_PORT_IDENTITY: &str = "parent_port_identity";
    /// A PTP hardware clock device (`--ptp.phc`).
    pub const DEVICE: &str = "device";
    /// timesyncd's server as configured (a name or an address) and the
    /// address it resolved to.
    pub const SERVER_NAME: &str = "server_name";
    pub const SERVER_ADDRESS: &str = "server_address";
    /// The node's timezone (an IANA name, or the TZ rule of its TZif file).
    pub const TIMEZONE: &str = "timezone";
    /// Labels Prometheus adds to every scraped series.
    pub const JOB: &str = "job";
    pub const INSTANCE: &str = "instance";
    /// The node a series is about, added by the shipped scrape configs'
    /// relabeling (deploy/); the report falls back to `instance`.
    pub const NODE: &str = "node";
}

/// Series that Prometheus writes itself, not clockwatch.
pub mod prometheus {
    /// 1 when the scrape of a target succeeded, 0 when it failed.
    pub const UP: &str = "up";
}

/// Units: how a number of seconds is shown to people.
pub mod unit {
    /// Scales seconds to the unit that keeps the number readable (ns, µs,
    /// ms or s). Shared by the status output and the compliance report,
    /// which differ only in how they print the number.
    pub fn scale_seconds(v: f64) -> (f64, &'static str) {
        let a = v.abs();
        if a == 0.0 {
            (0.0, "s")
        } else if a < 1e-6 {
            (v * 1e9, "ns")
        } else if a < 1e-3 {
            (v * 1e6, "µs")
        } else if a < 1.0 {
            (v * 1e3, "ms")
        } else {
            (v, "s")
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    Counter,
    /// A constant 1 whose labels carry strings (`*_info`).
    Info,
    /// `_bucket{le}` (cumulative), `_sum` and `_count` series under one
    /// family name.
    Histogram,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
            Kind::Info => "info",
            Kind::Histogram => "histogram",
        }
    }
}

/// One exported metric: name, type, labels, unit and meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    pub name: &'static str,
    pub kind: Kind,
    pub labels: &'static [&'static str],
    /// Unit, for the reference table ("seconds", "ratio", "ppm", "" …).
    pub unit: &'static str,
    /// Which collector produces it ("always": every scrape).
    pub collector: &'static str,
    pub help: &'static str,
}

const SRC: &[&str] = &[label::SOURCE_ADDRESS, label::SOURCE_NAME];
const PROBE: &[&str] = &[label::SERVER];
const PTP: &[&str] = &[label::SOCKET];
const PTP_PORT: &[&str] = &[label::SOCKET, label::PORT];
const PHC: &[&str] = &[label::DEVICE];

/// Defines each metric as a constant and [`ALL`] as their list, from one
/// table, so that no metric can be exported without being listed.
macro_rules! metrics {
    ($( $ident:ident = ($name:literal, $kind:ident, $labels:expr, $unit:literal, $collector:literal, $help:literal); )*) => {
        $(
            pub const $ident: Metric = Metric {
                name: $name,
                kind: Kind::$kind,
                labels: $labels,
                unit: $unit,
                collector: $collector,
                help: $help,
            };
        )*
        /// Every metric, in the order the README's reference table lists them.
        pub const ALL: &[Metric] = &[$($ident),*];
    };
}

#[rustfmt::skip]
metrics! {
    // clockwatch's own verdict
    CLOCKWATCH_CLOCK_ERROR_BOUND_SECONDS = ("clockwatch_clock_error_bound_seconds", Gauge, &[], "seconds", "always", "Upper bound on the system clock's error, from the daemon the verdict rests on (chrony: |current correction| + root dispersion + root delay/2, + configured PHC error; ptp4l: |offset from master| + mean path delay + the grandmaster's stated accuracy (+ the measured system clock to PHC offset), grown in holdover; timesyncd: |kernel offset still to slew| + delay/2 + the server's root distance + 50 ppm × the last sample's age (docs/timesyncd.md); kernel only: |offset| + maxerror); +Inf unless the state is synchronized or stale, or when nothing bounds it.");
    CLOCKWATCH_SYNC_STATE = ("clockwatch_sync_state", Gauge, &[label::STATE], "", "always", "1 for the current sync state (synchronized, stale, local, unsynchronized, unknown), 0 for the others.");
    CLOCKWATCH_CLOCK_SYNCHRONIZED = ("clockwatch_clock_synchronized", Gauge, &[], "", "always", "1 if the state is synchronized (the bound holds and the reference is fresh), else 0.");
    CLOCKWATCH_REFERENCE_AGE_SECONDS = ("clockwatch_reference_age_seconds", Gauge, &[], "seconds", "always", "Time since the daemon last updated its reference, on its own timescale (absent when there is no reference time).");
    CLOCKWATCH_REFERENCE_INFO = ("clockwatch_reference_info", Info, &[label::DAEMON, label::KIND, label::REFERENCE, label::REFERENCE_ID], "", "always", "What the verdict rests on: the daemon (chrony, ptp4l, timesyncd, kernel, none), the kind of reference (remote, refclock, local, none, unknown), its address or name as the daemon's own client prints it (ptp4l: the grandmaster's clock identity), and its reference ID (ptp4l: the parent port identity; timesyncd: its server's IPv4 address in hex, as chronyd's reference ID of that server).");
    CLOCKWATCH_REFERENCE_TRACEABLE = ("clockwatch_reference_traceable", Gauge, &[], "", "always", "1 if the reference is traceable to UTC as far as the daemon knows (chrony: a real source; ptp4l: the grandmaster announces timeTraceable), 0 if the daemon says it is not (chrony's local clock; timeTraceable false): a traceability warning in status and check. Absent when nothing can tell (the kernel only, no reference).");
    CLOCKWATCH_REFERENCE_STRATUM = ("clockwatch_reference_stratum", Gauge, &[], "", "always", "Stratum of the system clock as the daemon reports it (absent without a reference).");
    CLOCKWATCH_SYSTEM_TIME_SECONDS = ("clockwatch_system_time_seconds", Gauge, &[], "seconds", "always", "The node's clock at scrape time; timestamp(m) - m is the node's offset as Prometheus sees it.");
    CLOCKWATCH_BUILD_INFO = ("clockwatch_build_info", Info, &[label::VERSION, label::REVISION], "", "always", "Build of the running clockwatch.");
    CLOCKWATCH_COLLECTOR_SUCCESS = ("clockwatch_collector_success", Gauge, &[label::COLLECTOR], "", "always", "1 if the collector succeeded in this scrape.");
    CLOCKWATCH_COLLECTOR_DURATION_SECONDS = ("clockwatch_collector_duration_seconds", Gauge, &[label::COLLECTOR], "seconds", "always", "Time the collector took in this scrape. The chrony collectors share one pipelined exchange: theirs is the time until their last reply.");
    // time accounting, sampled every --sample.interval (not per scrape)
    CLOCKWATCH_CLOCK_ERROR_BOUND_TIME_SECONDS = ("clockwatch_clock_error_bound_time_seconds", Histogram, &[], "seconds", "sampler", "Seconds during which the clock was synchronized with the bound at most le (_bucket), seconds synchronized (_count), and the integral of the bound over them (_sum, bound x seconds). Between two samples the larger bound and the worse state count; a gap over 3 sample intervals counts as unknown.");
    CLOCKWATCH_SYNC_STATE_SECONDS_TOTAL = ("clockwatch_sync_state_seconds_total", Counter, &[label::STATE], "seconds", "sampler", "Seconds clockwatch observed in each sync state since it started; their sum is the time observed.");
    CLOCKWATCH_CLOCK_ERROR_BOUND_MAX_SECONDS = ("clockwatch_clock_error_bound_max_seconds", Gauge, &[], "seconds", "sampler", "Peak of the bound over the last --sample.window (+Inf if any sample in it was not synchronized or stale).");
    // the independent NTP probe (--probe.server)
    CLOCKWATCH_PROBE_SUCCESS = ("clockwatch_probe_success", Gauge, PROBE, "", "probe", "1 if the last probe round to the server gave a valid sample, else 0.");
    CLOCKWATCH_PROBE_OFFSET_SECONDS = ("clockwatch_probe_offset_seconds", Gauge, PROBE, "seconds", "probe", "The node's clock minus the server's, from the last good round's lowest-delay sample: positive when the node is ahead.");
    CLOCKWATCH_PROBE_DELAY_SECONDS = ("clockwatch_probe_delay_seconds", Gauge, PROBE, "seconds", "probe", "Round-trip delay of that sample.");
    CLOCKWATCH_PROBE_UNCERTAINTY_SECONDS = ("clockwatch_probe_uncertainty_seconds", Gauge, PROBE, "seconds", "probe", "delay/2 + the server's root distance: the node's offset from UTC lies in offset ± this, if the server's own claim holds.");
    CLOCKWATCH_PROBE_SERVER_ROOT_DISTANCE_SECONDS = ("clockwatch_probe_server_root_distance_seconds", Gauge, PROBE, "seconds", "probe", "The server's root delay/2 + root dispersion, as it reported them.");
    CLOCKWATCH_PROBE_SERVER_STRATUM = ("clockwatch_probe_server_stratum", Gauge, PROBE, "", "probe", "Stratum the server reported.");
    CLOCKWATCH_PROBE_LAST_SUCCESS_TIMESTAMP_SECONDS = ("clockwatch_probe_last_success_timestamp_seconds", Gauge, PROBE, "seconds", "probe", "When the last good round started (Unix time, the node's clock); absent before the first.");
    CLOCKWATCH_PROBE_BOUND_CONTRADICTED = ("clockwatch_probe_bound_contradicted", Gauge, PROBE, "", "probe", "1 if the probe's interval (offset ± uncertainty) lies wholly outside ±clockwatch_clock_error_bound_seconds: an independent measurement says the bound is wrong; 0 if they agree; absent when either has no valid value.");
    CLOCKWATCH_PROBE_FAILURE_INFO = ("clockwatch_probe_failure_info", Info, &[label::SERVER, label::REASON], "", "probe", "Why the last round to the server failed (timeout, refused, resolve, not_ours, kiss_rate, kiss_deny, kiss_rstr, unsynchronised, …); absent when it succeeded.");
    CLOCKWATCH_PROBE_STOPPED = ("clockwatch_probe_stopped", Gauge, PROBE, "", "probe", "1 once the server sent Kiss-o'-Death DENY or RSTR: it is not probed again until clockwatch restarts.");
    CLOCKWATCH_PROBE_INTERVAL_SECONDS = ("clockwatch_probe_interval_seconds", Gauge, PROBE, "seconds", "probe", "Time between rounds to the server: --probe.interval, doubled by each Kiss-o'-Death RATE.");
    // ptp4l (--ptp.socket): one series per instance (`socket`) and port
    CLOCKWATCH_PTP_UP = ("clockwatch_ptp_up", Gauge, PTP, "", "ptp", "1 if the ptp4l instance answered every dataset in this scrape, else 0.");
    CLOCKWATCH_PTP_FAILURE_INFO = ("clockwatch_ptp_failure_info", Info, &[label::SOCKET, label::REASON], "", "ptp", "Why the instance could not be read (socket_missing, not_listening, permission, bind, timeout, refused, io); absent when it answered.");
    CLOCKWATCH_PTP_CLOCK_INFO = ("clockwatch_ptp_clock_info", Info, &[label::SOCKET, label::CLOCK_IDENTITY, label::DOMAIN], "", "ptp", "The instance's own clock identity and PTP domain (DEFAULT_DATA_SET).");
    CLOCKWATCH_PTP_PORT_STATE = ("clockwatch_ptp_port_state", Gauge, &[label::SOCKET, label::PORT, label::STATE], "", "ptp", "1 for the port's current state (initializing, faulty, disabled, listening, pre_master, master, passive, uncalibrated, slave), 0 for the others (PORT_DATA_SET).");
    CLOCKWATCH_PTP_PORT_INFO = ("clockwatch_ptp_port_info", Info, &[label::SOCKET, label::PORT, label::PORT_IDENTITY, label::INTERFACE, label::TIMESTAMPING, label::DELAY_MECHANISM], "", "ptp", "Each port's identity, network interface and timestamping (PORT_PROPERTIES_NP; empty when ptp4l did not say) and delay mechanism.");
    CLOCKWATCH_PTP_PORT_SYNC_INTERVAL_SECONDS = ("clockwatch_ptp_port_sync_interval_seconds", Gauge, PTP_PORT, "seconds", "ptp", "2^logSyncInterval of the port: a measurement is fresh for 8 of these.");
    CLOCKWATCH_PTP_PORT_PEER_MEAN_PATH_DELAY_SECONDS = ("clockwatch_ptp_port_peer_mean_path_delay_seconds", Gauge, PTP_PORT, "seconds", "ptp", "peerMeanPathDelay of the port (peer delay mechanism; 0 with E2E).");
    CLOCKWATCH_PTP_OFFSET_FROM_MASTER_SECONDS = ("clockwatch_ptp_offset_from_master_seconds", Gauge, PTP, "seconds", "ptp", "offsetFromMaster (CURRENT_DATA_SET): this clock minus its master at the last measurement, assuming a symmetric path.");
    CLOCKWATCH_PTP_MEAN_PATH_DELAY_SECONDS = ("clockwatch_ptp_mean_path_delay_seconds", Gauge, PTP, "seconds", "ptp", "meanPathDelay (CURRENT_DATA_SET): the one-way delay to the master, the bound's worst case of path asymmetry.");
    CLOCKWATCH_PTP_STEPS_REMOVED = ("clockwatch_ptp_steps_removed", Gauge, PTP, "", "ptp", "stepsRemoved: paths between this clock and the grandmaster (1: directly from it).");
    CLOCKWATCH_PTP_INGRESS_TIMESTAMP_SECONDS = ("clockwatch_ptp_ingress_timestamp_seconds", Gauge, PTP, "seconds", "ptp", "When the last sync message arrived (TIME_STATUS_NP ingress time) on ptp4l's clock: the system clock with software timestamping, the PHC with hardware timestamping. Absent before the first.");
    CLOCKWATCH_PTP_GM_PRESENT = ("clockwatch_ptp_gm_present", Gauge, PTP, "", "ptp", "1 if a grandmaster other than this clock is selected (TIME_STATUS_NP gmPresent).");
    CLOCKWATCH_PTP_GRANDMASTER_INFO = ("clockwatch_ptp_grandmaster_info", Info, &[label::SOCKET, label::GRANDMASTER_IDENTITY, label::PARENT_PORT_IDENTITY], "", "ptp", "The grandmaster's clock identity and the master port this clock follows (PARENT_DATA_SET), as pmc prints them.");
    CLOCKWATCH_PTP_GRANDMASTER_CLOCK_CLASS = ("clockwatch_ptp_grandmaster_clock_class", Gauge, PTP, "", "ptp", "The grandmaster's clockClass: 6 locked to a primary reference, 7 in holdover, 52/58/187/193 degraded, 248 default (free-running), 255 slave-only.");
    CLOCKWATCH_PTP_GRANDMASTER_CLOCK_ACCURACY_SECONDS = ("clockwatch_ptp_grandmaster_clock_accuracy_seconds", Gauge, PTP, "seconds", "ptp", "The grandmaster's stated clockAccuracy (0x21: 100 ns ... 0x30: 10 s); absent when it states none (0xFE unknown, linuxptp's default; > 10 s; profile-specific).");
    CLOCKWATCH_PTP_GRANDMASTER_OFFSET_SCALED_LOG_VARIANCE = ("clockwatch_ptp_grandmaster_offset_scaled_log_variance", Gauge, PTP, "", "ptp", "The grandmaster's offsetScaledLogVariance (0xFFFF: not computed).");
    CLOCKWATCH_PTP_GRANDMASTER_PRIORITY1 = ("clockwatch_ptp_grandmaster_priority1", Gauge, PTP, "", "ptp", "The grandmaster's priority1 (lower wins the best master clock algorithm).");
    CLOCKWATCH_PTP_GRANDMASTER_PRIORITY2 = ("clockwatch_ptp_grandmaster_priority2", Gauge, PTP, "", "ptp", "The grandmaster's priority2.");
    CLOCKWATCH_PTP_CURRENT_UTC_OFFSET_SECONDS = ("clockwatch_ptp_current_utc_offset_seconds", Gauge, PTP, "seconds", "ptp", "currentUtcOffset (TIME_PROPERTIES_DATA_SET): TAI - UTC as the grandmaster announces it.");
    CLOCKWATCH_PTP_CURRENT_UTC_OFFSET_VALID = ("clockwatch_ptp_current_utc_offset_valid", Gauge, PTP, "", "ptp", "1 if the grandmaster says currentUtcOffset is valid.");
    CLOCKWATCH_PTP_LEAP61 = ("clockwatch_ptp_leap61", Gauge, PTP, "", "ptp", "1 if the last minute of the current UTC day has 61 seconds.");
    CLOCKWATCH_PTP_LEAP59 = ("clockwatch_ptp_leap59", Gauge, PTP, "", "ptp", "1 if the last minute of the current UTC day has 59 seconds.");
    CLOCKWATCH_PTP_PTP_TIMESCALE = ("clockwatch_ptp_ptp_timescale", Gauge, PTP, "", "ptp", "1 if the time scale is PTP (TAI), 0 if arbitrary (ptpTimescale).");
    CLOCKWATCH_PTP_TIME_TRACEABLE = ("clockwatch_ptp_time_traceable", Gauge, PTP, "", "ptp", "1 if the grandmaster says its time is traceable to a primary reference (timeTraceable); 0 is a traceability warning.");
    CLOCKWATCH_PTP_FREQUENCY_TRACEABLE = ("clockwatch_ptp_frequency_traceable", Gauge, PTP, "", "ptp", "1 if the grandmaster says its frequency is traceable to a primary reference (frequencyTraceable).");
    CLOCKWATCH_PTP_TIME_SOURCE = ("clockwatch_ptp_time_source", Gauge, PTP, "", "ptp", "The grandmaster's timeSource: 16 atomic clock, 32 GNSS, 48 terrestrial radio, 57 serial time code, 64 PTP, 80 NTP, 96 hand set, 144 other, 160 internal oscillator.");
    // the PTP hardware clock (--ptp.phc)
    CLOCKWATCH_PTP_PHC_OFFSET_SECONDS = ("clockwatch_ptp_phc_offset_seconds", Gauge, PHC, "seconds", "phc", "PHC minus system clock at the middle of the narrowest of 9 reads (PTP_SYS_OFFSET_EXTENDED); with a PTP time scale the PHC keeps TAI, so expect currentUtcOffset.");
    CLOCKWATCH_PTP_PHC_READ_WINDOW_SECONDS = ("clockwatch_ptp_phc_read_window_seconds", Gauge, PHC, "seconds", "phc", "Width of that read's system clock window: the offset is exact to half of it.");
    // systemd-timesyncd (--timesyncd.bus): its properties on the system bus
    CLOCKWATCH_TIMESYNCD_UP = ("clockwatch_timesyncd_up", Gauge, &[], "", "timesyncd", "1 if timesyncd answered on the system bus in this scrape, else 0 (with --timesyncd.bus auto: present only where timesyncd runs).");
    CLOCKWATCH_TIMESYNCD_FAILURE_INFO = ("clockwatch_timesyncd_failure_info", Info, &[label::REASON], "", "timesyncd", "Why timesyncd could not be read (socket_missing, permission, not_listening, handshake, not_running, access_denied, timeout, decode, bus, …); absent when it answered.");
    CLOCKWATCH_TIMESYNCD_SERVER_INFO = ("clockwatch_timesyncd_server_info", Info, &[label::SERVER_NAME, label::SERVER_ADDRESS], "", "timesyncd", "ServerName (as configured) and ServerAddress (the address in use; empty before it is resolved) of timesyncd's server; both empty when it has none.");
    CLOCKWATCH_TIMESYNCD_POLL_INTERVAL_SECONDS = ("clockwatch_timesyncd_poll_interval_seconds", Gauge, &[], "seconds", "timesyncd", "PollIntervalUSec: the interval before timesyncd's next request; a sample older than 4 of these is stale.");
    CLOCKWATCH_TIMESYNCD_POLL_INTERVAL_MIN_SECONDS = ("clockwatch_timesyncd_poll_interval_min_seconds", Gauge, &[], "seconds", "timesyncd", "PollIntervalMinUSec (PollIntervalMinSec=).");
    CLOCKWATCH_TIMESYNCD_POLL_INTERVAL_MAX_SECONDS = ("clockwatch_timesyncd_poll_interval_max_seconds", Gauge, &[], "seconds", "timesyncd", "PollIntervalMaxUSec (PollIntervalMaxSec=).");
    CLOCKWATCH_TIMESYNCD_ROOT_DISTANCE_MAX_SECONDS = ("clockwatch_timesyncd_root_distance_max_seconds", Gauge, &[], "seconds", "timesyncd", "RootDistanceMaxUSec (RootDistanceMaxSec=): timesyncd refuses a server above it, and the state is unsynchronized once the bound passes it.");
    CLOCKWATCH_TIMESYNCD_FREQUENCY_PPM = ("clockwatch_timesyncd_frequency_ppm", Gauge, &[], "ppm", "timesyncd", "Frequency: the kernel's frequency correction after timesyncd's last adjustment (2^-16 ppm on the bus).");
    CLOCKWATCH_TIMESYNCD_NTP_LEAP = ("clockwatch_timesyncd_ntp_leap", Gauge, &[], "", "timesyncd", "NTPMessage leap indicator of the last reply: 0 none, 1 insert, 2 delete, 3 not synchronised.");
    CLOCKWATCH_TIMESYNCD_NTP_VERSION = ("clockwatch_timesyncd_ntp_version", Gauge, &[], "", "timesyncd", "NTPMessage version of the last reply.");
    CLOCKWATCH_TIMESYNCD_NTP_MODE = ("clockwatch_timesyncd_ntp_mode", Gauge, &[], "", "timesyncd", "NTPMessage mode of the last reply (4: server).");
    CLOCKWATCH_TIMESYNCD_NTP_STRATUM = ("clockwatch_timesyncd_ntp_stratum", Gauge, &[], "", "timesyncd", "NTPMessage stratum: the server's.");
    CLOCKWATCH_TIMESYNCD_NTP_PRECISION_SECONDS = ("clockwatch_timesyncd_ntp_precision_seconds", Gauge, &[], "seconds", "timesyncd", "2^precision of the server's clock (NTPMessage precision, log2 s).");
    CLOCKWATCH_TIMESYNCD_NTP_ROOT_DELAY_SECONDS = ("clockwatch_timesyncd_ntp_root_delay_seconds", Gauge, &[], "seconds", "timesyncd", "NTPMessage root delay: the server's, whole µs.");
    CLOCKWATCH_TIMESYNCD_NTP_ROOT_DISPERSION_SECONDS = ("clockwatch_timesyncd_ntp_root_dispersion_seconds", Gauge, &[], "seconds", "timesyncd", "NTPMessage root dispersion: the server's, whole µs.");
    CLOCKWATCH_TIMESYNCD_NTP_REFERENCE_INFO = ("clockwatch_timesyncd_ntp_reference_info", Info, &[label::REFERENCE_ID], "", "timesyncd", "NTPMessage reference ID: the server's own reference, as timedatectl shows it (text for stratum 1, else 8 hex digits).");
    CLOCKWATCH_TIMESYNCD_NTP_ORIGIN_TIMESTAMP_SECONDS = ("clockwatch_timesyncd_ntp_origin_timestamp_seconds", Gauge, &[], "seconds", "timesyncd", "NTPMessage origin timestamp T1 (the node's clock when it sent the request, before the sample's correction; Unix time).");
    CLOCKWATCH_TIMESYNCD_NTP_RECEIVE_TIMESTAMP_SECONDS = ("clockwatch_timesyncd_ntp_receive_timestamp_seconds", Gauge, &[], "seconds", "timesyncd", "NTPMessage receive timestamp T2 (the server's clock).");
    CLOCKWATCH_TIMESYNCD_NTP_TRANSMIT_TIMESTAMP_SECONDS = ("clockwatch_timesyncd_ntp_transmit_timestamp_seconds", Gauge, &[], "seconds", "timesyncd", "NTPMessage transmit timestamp T3 (the server's clock).");
    CLOCKWATCH_TIMESYNCD_NTP_DESTINATION_TIMESTAMP_SECONDS = ("clockwatch_timesyncd_ntp_destination_timestamp_seconds", Gauge, &[], "seconds", "timesyncd", "NTPMessage destination timestamp T4 (the node's clock when the reply arrived, before the sample's correction).");
    CLOCKWATCH_TIMESYNCD_NTP_SPIKE = ("clockwatch_timesyncd_ntp_spike", Gauge, &[], "", "timesyncd", "1 if timesyncd judged the last sample a spike and did not correct the clock with it.");
    CLOCKWATCH_TIMESYNCD_NTP_PACKETS_TOTAL = ("clockwatch_timesyncd_ntp_packets_total", Counter, &[], "", "timesyncd", "NTPMessage packet count: replies received since timesyncd started (spikes included).");
    CLOCKWATCH_TIMESYNCD_JITTER_SECONDS = ("clockwatch_timesyncd_jitter_seconds", Gauge, &[], "seconds", "timesyncd", "NTPMessage jitter: RMS of timesyncd's last offsets.");
    CLOCKWATCH_TIMESYNCD_LAST_SAMPLE_OFFSET_SECONDS = ("clockwatch_timesyncd_last_sample_offset_seconds", Gauge, &[], "seconds", "timesyncd", "The last sample's offset ((T2 - T1) + (T3 - T4)) / 2, server minus node as timedatectl prints it (positive: the node was behind); absent without a valid sample.");
    CLOCKWATCH_TIMESYNCD_LAST_SAMPLE_DELAY_SECONDS = ("clockwatch_timesyncd_last_sample_delay_seconds", Gauge, &[], "seconds", "timesyncd", "The last sample's round-trip delay (T4 - T1) - (T3 - T2).");
    CLOCKWATCH_TIMESYNCD_LAST_SAMPLE_AGE_SECONDS = ("clockwatch_timesyncd_last_sample_age_seconds", Gauge, &[], "seconds", "timesyncd", "Time since the last sample, on the corrected timescale (the bound grows with it).");
    // chronyd, names of the Go chrony_exporter where they overlap
    CHRONY_UP = ("chrony_up", Gauge, &[], "", "always", "1 if chronyd answered in this scrape, 0 if not (absent in timex-only mode).");
    CHRONY_CLOCK_ERROR_MS = ("chrony_clock_error_ms", Gauge, &[], "milliseconds", "tracking", "Legacy (Azure chrony-tracker): |last offset| + root dispersion + root delay/2 in ms. Not the documented bound; use clockwatch_clock_error_bound_seconds.");
    CHRONY_TRACKING_INFO = ("chrony_tracking_info", Info, &[label::TRACKING_ADDRESS, label::TRACKING_NAME, label::TRACKING_REFID], "", "tracking", "chronyd's reference: address, name and reference ID.");
    CHRONY_TRACKING_STRATUM = ("chrony_tracking_stratum", Gauge, &[], "", "tracking", "Stratum of the system clock.");
    CHRONY_TRACKING_LEAP_STATUS = ("chrony_tracking_leap_status", Gauge, &[], "", "tracking", "Leap status: 0 normal, 1 insert second, 2 delete second, 3 not synchronised.");
    CHRONY_TRACKING_REFERENCE_TIMESTAMP_SECONDS = ("chrony_tracking_reference_timestamp_seconds", Gauge, &[], "seconds", "tracking", "When chronyd last updated its reference (Unix time).");
    CHRONY_TRACKING_SYSTEM_TIME_SECONDS = ("chrony_tracking_system_time_seconds", Gauge, &[], "seconds", "tracking", "Current correction ('System time'), which chronyd is slewing away: positive when the system clock is slow (behind true time), negative when fast.");
    CHRONY_TRACKING_LAST_OFFSET_SECONDS = ("chrony_tracking_last_offset_seconds", Gauge, &[], "seconds", "tracking", "Offset measured at the last clock update.");
    CHRONY_TRACKING_RMS_OFFSET_SECONDS = ("chrony_tracking_rms_offset_seconds", Gauge, &[], "seconds", "tracking", "Long-term average of the offset.");
    CHRONY_TRACKING_FREQUENCY_PPMS = ("chrony_tracking_frequency_ppms", Gauge, &[], "ppm", "tracking", "Rate by which the system clock would be wrong if chronyd did not correct it (positive: fast).");
    CHRONY_TRACKING_RESIDUAL_FREQUENCY_PPMS = ("chrony_tracking_residual_frequency_ppms", Gauge, &[], "ppm", "tracking", "Difference between the reference's frequency and the one in use.");
    CHRONY_TRACKING_SKEW_PPMS = ("chrony_tracking_skew_ppms", Gauge, &[], "ppm", "tracking", "Estimated error bound on the frequency.");
    CHRONY_TRACKING_ROOT_DELAY_SECONDS = ("chrony_tracking_root_delay_seconds", Gauge, &[], "seconds", "tracking", "Total network path delay to the stratum-1 source.");
    CHRONY_TRACKING_ROOT_DISPERSION_SECONDS = ("chrony_tracking_root_dispersion_seconds", Gauge, &[], "seconds", "tracking", "Total dispersion accumulated up to the stratum-1 source, grown to the time of the scrape.");
    CHRONY_TRACKING_UPDATE_INTERVAL_SECONDS = ("chrony_tracking_update_interval_seconds", Gauge, &[], "seconds", "tracking", "Interval between the last two clock updates.");
    CHRONY_TRACKING_REMOTE_REFERENCE = ("chrony_tracking_remote_reference", Gauge, &[], "", "tracking", "1 if the reference is a remote source, 0 if chronyd serves its local clock.");
    CHRONY_SOURCES_STATE_INFO = ("chrony_sources_state_info", Info, &[label::SOURCE_ADDRESS, label::SOURCE_NAME, label::SOURCE_STATE, label::SOURCE_MODE], "", "sources", "Selection state (sync, unreach, falseticker, jittery, candidate, outlier) and mode (server, peer, reference clock) of each source.");
    CHRONY_SOURCES_STRATUM = ("chrony_sources_stratum", Gauge, SRC, "", "sources", "Stratum of the source.");
    CHRONY_SOURCES_POLLING_INTERVAL_SECONDS = ("chrony_sources_polling_interval_seconds", Gauge, SRC, "seconds", "sources", "Polling interval of the source.");
    CHRONY_SOURCES_REACHABILITY_RATIO = ("chrony_sources_reachability_ratio", Gauge, SRC, "ratio", "sources", "Share of the last 8 polls that got a reply.");
    CHRONY_SOURCES_REACHABILITY_SUCCESS = ("chrony_sources_reachability_success", Gauge, SRC, "", "sources", "1 if the last poll got a reply.");
    CHRONY_SOURCES_LAST_SAMPLE_AGE_SECONDS = ("chrony_sources_last_sample_age_seconds", Gauge, SRC, "seconds", "sources", "Time since the last good sample (absent if there was none).");
    CHRONY_SOURCES_LAST_SAMPLE_OFFSET_SECONDS = ("chrony_sources_last_sample_offset_seconds", Gauge, SRC, "seconds", "sources", "Offset of the last sample, adjusted for later slews.");
    CHRONY_SOURCES_LAST_SAMPLE_ERROR_MARGIN_SECONDS = ("chrony_sources_last_sample_error_margin_seconds", Gauge, SRC, "seconds", "sources", "Error margin of the last sample.");
    CHRONY_SOURCESTATS_SAMPLES = ("chrony_sourcestats_samples", Gauge, SRC, "", "sourcestats", "Number of samples retained for the source.");
    CHRONY_SOURCESTATS_RUNS = ("chrony_sourcestats_runs", Gauge, SRC, "", "sourcestats", "Number of runs of residuals with the same sign.");
    CHRONY_SOURCESTATS_SPAN_SECONDS = ("chrony_sourcestats_span_seconds", Gauge, SRC, "seconds", "sourcestats", "Time between the oldest and newest sample.");
    CHRONY_SOURCESTATS_FREQUENCY_PPMS = ("chrony_sourcestats_frequency_ppms", Gauge, SRC, "ppm", "sourcestats", "Estimated residual frequency of the source.");
    CHRONY_SOURCESTATS_FREQUENCY_SKEW_PPMS = ("chrony_sourcestats_frequency_skew_ppms", Gauge, SRC, "ppm", "sourcestats", "Estimated error bound on that frequency.");
    CHRONY_SOURCESTATS_OFFSET = ("chrony_sourcestats_offset", Gauge, SRC, "seconds", "sourcestats", "Estimated offset of the source (name kept from chrony_exporter).");
    CHRONY_SOURCESTATS_STDDEV = ("chrony_sourcestats_stddev", Gauge, SRC, "seconds", "sourcestats", "Estimated sample standard deviation (name kept from chrony_exporter).");
    CHRONY_SOURCES_PEER_OFFSET_SECONDS = ("chrony_sources_peer_offset_seconds", Gauge, SRC, "seconds", "ntpdata", "Offset of the last NTP measurement (unix socket only; the chrony_sources_peer_* series are absent for a source that never answered).");
    CHRONY_SOURCES_PEER_DELAY_SECONDS = ("chrony_sources_peer_delay_seconds", Gauge, SRC, "seconds", "ntpdata", "Round-trip delay of the last NTP measurement.");
    CHRONY_SOURCES_PEER_DISPERSION_SECONDS = ("chrony_sources_peer_dispersion_seconds", Gauge, SRC, "seconds", "ntpdata", "Dispersion of the last NTP measurement.");
    CHRONY_SOURCES_PEER_RESPONSE_TIME_SECONDS = ("chrony_sources_peer_response_time_seconds", Gauge, SRC, "seconds", "ntpdata", "Server's processing time of the last NTP measurement.");
    CHRONY_SOURCES_PEER_JITTER_ASYMMETRY_SECONDS = ("chrony_sources_peer_jitter_asymmetry_seconds", Gauge, SRC, "", "ntpdata", "Estimated asymmetry of the network jitter (a ratio, -0.5 to 0.5; name kept from chrony_exporter).");
    CHRONY_SERVERSTATS_NTP_PACKETS_RECEIVED_TOTAL = ("chrony_serverstats_ntp_packets_received_total", Counter, &[], "", "serverstats", "NTP requests received (unix socket only).");
    CHRONY_SERVERSTATS_NTP_PACKETS_DROPPED_TOTAL = ("chrony_serverstats_ntp_packets_dropped_total", Counter, &[], "", "serverstats", "NTP requests dropped by rate limiting.");
    CHRONY_SERVERSTATS_COMMAND_PACKETS_RECEIVED_TOTAL = ("chrony_serverstats_command_packets_received_total", Counter, &[], "", "serverstats", "Command requests received.");
    CHRONY_SERVERSTATS_COMMAND_PACKETS_DROPPED_TOTAL = ("chrony_serverstats_command_packets_dropped_total", Counter, &[], "", "serverstats", "Command requests dropped by rate limiting.");
    CHRONY_SERVERSTATS_CLIENT_LOG_RECORDS_DROPPED_TOTAL = ("chrony_serverstats_client_log_records_dropped_total", Counter, &[], "", "serverstats", "Client log records dropped for lack of memory.");
    CHRONY_SERVERSTATS_NTS_KE_CONNECTIONS_ACCEPTED_TOTAL = ("chrony_serverstats_nts_ke_connections_accepted_total", Counter, &[], "", "serverstats", "NTS-KE connections accepted (chrony 4.0+).");
    CHRONY_SERVERSTATS_NTS_KE_CONNECTIONS_DROPPED_TOTAL = ("chrony_serverstats_nts_ke_connections_dropped_total", Counter, &[], "", "serverstats", "NTS-KE connections dropped (chrony 4.0+).");
    CHRONY_SERVERSTATS_AUTHENTICATED_NTP_PACKETS_TOTAL = ("chrony_serverstats_authenticated_ntp_packets_total", Counter, &[], "", "serverstats", "Authenticated NTP requests (chrony 4.0+).");
    CHRONY_SERVERSTATS_INTERLEAVED_NTP_PACKETS_TOTAL = ("chrony_serverstats_interleaved_ntp_packets_total", Counter, &[], "", "serverstats", "Interleaved NTP requests (chrony 4.2+).");
    CHRONY_SERVERSTATS_NTP_DAEMON_RX_TIMESTAMPS_TOTAL = ("chrony_serverstats_ntp_daemon_rx_timestamps_total", Counter, &[], "", "serverstats", "NTP requests whose receive timestamp chronyd took itself (chrony 4.4+).");
    CHRONY_SERVERSTATS_NTP_DAEMON_TX_TIMESTAMPS_TOTAL = ("chrony_serverstats_ntp_daemon_tx_timestamps_total", Counter, &[], "", "serverstats", "NTP responses whose transmit timestamp chronyd took itself (chrony 4.4+).");
    CHRONY_SERVERSTATS_NTP_KERNEL_RX_TIMESTAMPS_TOTAL = ("chrony_serverstats_ntp_kernel_rx_timestamps_total", Counter, &[], "", "serverstats", "NTP requests whose receive timestamp the kernel took (chrony 4.4+).");
    CHRONY_SERVERSTATS_NTP_KERNEL_TX_TIMESTAMPS_TOTAL = ("chrony_serverstats_ntp_kernel_tx_timestamps_total", Counter, &[], "", "serverstats", "NTP responses whose transmit timestamp the kernel took (chrony 4.4+).");
    CHRONY_SERVERSTATS_NTP_HARDWARE_RX_TIMESTAMPS_TOTAL = ("chrony_serverstats_ntp_hardware_rx_timestamps_total", Counter, &[], "", "serverstats", "NTP requests whose receive timestamp the network hardware took (chrony 4.4+).");
    CHRONY_SERVERSTATS_NTP_HARDWARE_TX_TIMESTAMPS_TOTAL = ("chrony_serverstats_ntp_hardware_tx_timestamps_total", Counter, &[], "", "serverstats", "NTP responses whose transmit timestamp the network hardware took (chrony 4.4+).");
    CHRONY_SERVERSTATS_NTP_TIMESTAMPS_HELD = ("chrony_serverstats_ntp_timestamps_held", Gauge, &[], "", "serverstats", "Timestamps held for interleaved mode (chrony 4.2+).");
    CHRONY_SERVERSTATS_NTP_TIMESTAMP_SPAN_SECONDS = ("chrony_serverstats_ntp_timestamp_span_seconds", Gauge, &[], "seconds", "serverstats", "Span of the held timestamps (chrony 4.2+).");
    // the kernel's view
    CLOCKWATCH_TIMEX_SYNC_STATUS = ("clockwatch_timex_sync_status", Gauge, &[], "", "timex", "1 if the kernel considers the clock synchronised (STA_UNSYNC clear, state not TIME_ERROR).");
    CLOCKWATCH_TIMEX_STATE = ("clockwatch_timex_state", Gauge, &[], "", "timex", "adjtimex return value: 0 OK, 1 INS, 2 DEL, 3 OOP, 4 WAIT, 5 ERROR.");
    CLOCKWATCH_TIMEX_STATUS = ("clockwatch_timex_status", Gauge, &[], "", "timex", "Kernel clock status bits (STA_*).");
    CLOCKWATCH_TIMEX_MAXERROR_SECONDS = ("clockwatch_timex_maxerror_seconds", Gauge, &[], "seconds", "timex", "Kernel's maximum error estimate (grows by 500 ppm unless refreshed).");
    CLOCKWATCH_TIMEX_ESTIMATED_ERROR_SECONDS = ("clockwatch_timex_estimated_error_seconds", Gauge, &[], "seconds", "timex", "Kernel's estimated error.");
    CLOCKWATCH_TIMEX_OFFSET_SECONDS = ("clockwatch_timex_offset_seconds", Gauge, &[], "seconds", "timex", "Offset the kernel PLL is still correcting.");
    CLOCKWATCH_TIMEX_FREQUENCY_ADJUSTMENT_RATIO = ("clockwatch_timex_frequency_adjustment_ratio", Gauge, &[], "ratio", "timex", "Frequency adjustment of the kernel clock.");
    CLOCKWATCH_TIMEX_TAI_OFFSET_SECONDS = ("clockwatch_timex_tai_offset_seconds", Gauge, &[], "seconds", "timex", "TAI - UTC as set in the kernel.");
    // steps
    CLOCKWATCH_CLOCK_STEPS_TOTAL = ("clockwatch_clock_steps_total", Counter, &[], "", "steps", "Discontinuous changes of the system clock seen since clockwatch started.");
    CLOCKWATCH_CLOCK_LAST_STEP_SECONDS = ("clockwatch_clock_last_step_seconds", Gauge, &[], "seconds", "steps", "Signed size of the last step (0 before the first).");
    // facts about the node (--node.localtime)
    CLOCKWATCH_NODE_TIMEZONE_INFO = ("clockwatch_node_timezone_info", Info, &[label::TIMEZONE], "", "timezone", "The node's timezone from its /etc/localtime (--node.localtime): the IANA name of a link into zoneinfo, else the TZ rule of the TZif file's footer (a host file mounted into a pod); absent when the file cannot be read.");
}

/// The README reference table, generated from [`ALL`].
pub fn reference_table() -> String {
    let mut out = String::from(
        "| name | type | labels | unit | collector | meaning |\n|---|---|---|---|---|---|\n",
    );
    for m in ALL {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for m in ALL {
            assert!(seen.insert(m.name), "{} listed twice", m.name);
            assert!(
                m.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{}",
                m.name
            );
            // Base units, `_total` only on counters, strings only in `*_info`.
            assert_eq!(
                m.kind == Kind::Counter,
                m.name.ends_with("_total"),
                "{}",
                m.name
            );
            assert_eq!(
                m.kind == Kind::Info,
                m.name.ends_with("_info"),
                "{}",
                m.name
            );
            // A histogram's series add these suffixes to its name.
            if m.kind == Kind::Histogram {
                for suffix in ["_bucket", "_sum", "_count"] {
                    assert!(!m.name.ends_with(suffix), "{}", m.name);
                }
                assert!(m.labels.iter().all(|l| *l != "le"), "{}", m.name);
            }
        }
    }

    #[test]
    fn seconds_scale_to_the_unit_that_reads_best() {
        use unit::scale_seconds;
        assert_eq!(scale_seconds(0.0), (0.0, "s"));
        assert_eq!(scale_seconds(2.5e-7), (250.0, "ns"));
        assert_eq!(scale_seconds(-0.0001).1, "µs");
        assert!((scale_seconds(-0.0001).0 + 100.0).abs() < 1e-9);
        assert_eq!(scale_seconds(0.001), (1.0, "ms"));
        assert_eq!(scale_seconds(1.0), (1.0, "s"));
        assert_eq!(scale_seconds(-90.0), (-90.0, "s"));
    }

    #[test]
    fn states_round_trip_through_their_labels() {
        for s in SyncState::ALL {
            assert_eq!(SyncState::from_label(s.as_str()), Some(s));
        }
        assert_eq!(SyncState::from_label("holdover"), None);
    }
}
