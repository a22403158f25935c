//! Command line: `clockwatch [serve]`, `status`, `check`, `report`.
//!
//! Flags follow the Prometheus exporter conventions (`--web.listen-address`,
//! `--collector.NAME` / `--no-collector.NAME`, `--log.level`) and each has a
//! `CLOCKWATCH_*` environment variable. Bad flags exit with code 2.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{ArgAction, Args, Parser, Subcommand};

use crate::chrony::{ChronyAddress, ChronyClient};
use crate::collect::{Collector, Enabled, PtpConfig, StepTracker, TimesyncdConfig};
use crate::http::server::{serve, App, Limits, Security};
use crate::probe::{ProbeConfig, ProbeConfigError, Prober, ServerSpec};
use crate::ptp::{BoundConfig, ReplySocket};
use crate::render::BuildInfo;
use crate::sampler::{SampleConfig, SampleConfigError};
use crate::scrape::{collect_once, SharedCollector};
use crate::verdict::{Settings, SyncState};
use crate::{logging, report, status};

/// Default listen port: collides with neither node_exporter (9100) nor
/// chrony_exporter (9123).
pub const DEFAULT_PORT: u16 = 9707;

#[derive(Debug, Parser)]
#[command(
    name = "clockwatch",
    version,
    about = "Clock error bound and sync state from chrony, ptp4l and the kernel, as Prometheus metrics and compliance evidence",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(flatten)]
    pub serve: ServeArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve /metrics, the status page, /healthz and /readyz (the default).
    Serve(ServeArgs),
    /// Print the clock's state once, like `chronyc tracking` plus the bound.
    Status(StatusArgs),
    /// Check the bound against thresholds; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    Check(CheckArgs),
    /// Build a compliance report from Prometheus history (runs clockwatch-report; `clockwatch report --help`).
    #[command(disable_help_flag = true)]
    Report(report::ReportArgs),
    /// Measure the clock against NTP servers once; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    Probe(ProbeCommandArgs),
    /// Run the node time-sync checklist: each check OK, WARN, FAIL or SKIP with its fix; exit 0 OK, 1 WARN, 2 FAIL.
    Doctor(DoctorArgs),
}

/// `clockwatch doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print the checks as JSON.
    #[arg(long)]
    pub json: bool,
    /// FAIL unless the node's timezone (from --node.localtime) is this, e.g. Etc/UTC, or the TZ rule a mounted file gives (UTC0).
    #[arg(long = "expect-timezone", value_name = "ZONE")]
    pub expect_timezone: Option<String>,
    /// chrony.conf to read for makestep (repeatable; the first readable is used).
    #[arg(long = "chrony.conf", value_name = "PATH", default_values = ["/etc/chrony/chrony.conf", "/etc/chrony.conf"])]
    pub chrony_conf: Vec<PathBuf>,
    /// Where to list the running time daemons (the host's /proc; in a pod, only with hostPID).
    #[arg(long = "proc", value_name = "DIR", default_value = "/proc")]
    pub proc: PathBuf,
    /// Probe this NTP server (HOST[:PORT]) instead of the one the time daemon follows.
    #[arg(long = "server", value_name = "HOST[:PORT]", value_parser = parse_server)]
    pub server: Option<ServerSpec>,
    /// The NTP port of the server the daemon follows (its address is known, its port is not).
    #[arg(long = "server-port", default_value_t = 123)]
    pub server_port: u16,
    /// Deadline for each NTP reply of the probe.
    #[arg(long = "probe-timeout", default_value = "1s", value_parser = parse_timeout)]
    pub probe_timeout: Duration,
    /// Requests of the probe, 2 s apart; the one with the lowest delay counts (1 to 8).
    #[arg(long = "probe-samples", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=8))]
    pub probe_samples: u32,
    #[command(flatten)]
    pub source: SourceArgs,
}

/// How to read the clock: shared by serve, status and check.
#[derive(Debug, Clone, Args)]
pub struct SourceArgs {
    /// chronyd: auto, unix:///run/chrony/chronyd.sock, udp://127.0.0.1:323, HOST:PORT, or none (kernel only).
    #[arg(long = "chrony.address", env = "CLOCKWATCH_CHRONY_ADDRESS", default_value = "auto", value_parser = parse_address)]
    pub chrony_address: ChronyAddress,
    /// Deadline for all of one scrape's requests to chronyd.
    #[arg(long = "chrony.timeout", env = "CLOCKWATCH_CHRONY_TIMEOUT", default_value = "1s", value_parser = parse_timeout)]
    pub chrony_timeout: Duration,
    /// Error of a PTP hardware clock reference that chrony cannot see, added to the bound.
    #[arg(long = "clock.phc-error-bound", env = "CLOCKWATCH_CLOCK_PHC_ERROR_BOUND", default_value = "0s", value_parser = parse_duration)]
    pub phc_error_bound: Duration,
    #[command(flatten)]
    pub ptp: PtpFlags,
    #[command(flatten)]
    pub timesyncd: TimesyncdFlags,
    /// The node's /etc/localtime, for clockwatch_node_timezone_info (in a pod: the host's file mounted read-only), or none. A missing file exports nothing.
    #[arg(
        long = "node.localtime",
        env = "CLOCKWATCH_NODE_LOCALTIME",
        default_value = "/etc/localtime",
        value_name = "PATH"
    )]
    pub localtime: PathBuf,
    #[command(flatten)]
    pub collectors: CollectorFlags,
    /// Log level: error, warn, info or debug.
    #[arg(long = "log.level", env = "CLOCKWATCH_LOG_LEVEL", default_value = "info", value_parser = ["error", "warn", "info", "debug"])]
    pub log_level: String,
    /// Log format: logfmt or json.
    #[arg(long = "log.format", env = "CLOCKWATCH_LOG_FORMAT", default_value = "logfmt", value_parser = ["logfmt", "json"])]
    pub log_format: String,
}

impl SourceArgs {
    /// What the verdict needs from the flags.
    pub fn settings(&self) -> Settings {
        Settings {
            phc_error_seconds: self.phc_error_bound.as_secs_f64(),
        }
    }

    /// The collector these flags describe (`steps`: the step tracker of a
    /// long-running server). Checks what clap cannot: a bad combination is
    /// an error for exit code 2.
    pub fn collector(
        &self,
        enabled: Enabled,
        steps: Option<Arc<StepTracker>>,
    ) -> Result<Collector, String> {
        let ptp = self.ptp.config()?;
        let timesyncd = self
            .timesyncd
            .config(self.chrony_address == ChronyAddress::Auto)?;
        let client = ChronyClient::new(self.chrony_address.clone(), self.chrony_timeout);
        let collector = Collector::new(client, enabled, steps);
        let collector = match ptp {
            Some(ptp) => collector.with_ptp(ptp),
            None => collector,
        };
        let collector = match timesyncd {
            Some(t) => collector.with_timesyncd(t),
            None => collector,
        };
        Ok(if self.localtime.as_os_str() == "none" {
            collector
        } else {
            collector.with_localtime(self.localtime.clone())
        })
    }
}

/// What `--timesyncd.bus` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimesyncdBus {
    /// Detect: read the system bus when `--chrony.address auto`.
    Auto,
    None,
    /// A bus named: the verdict rests on timesyncd.
    Named(crate::timesyncd::BusAddress),
}

fn parse_timesyncd_bus(s: &str) -> Result<TimesyncdBus, String> {
    match s.trim() {
        "auto" => Ok(TimesyncdBus::Auto),
        "none" => Ok(TimesyncdBus::None),
        "system" => crate::timesyncd::BusAddress::system()
            .map(TimesyncdBus::Named)
            .map_err(|e| e.to_string()),
        other => crate::timesyncd::BusAddress::parse(other)
            .map(TimesyncdBus::Named)
            .map_err(|e| e.to_string()),
    }
}

/// systemd-timesyncd on the system bus (docs/timesyncd.md).
#[derive(Debug, Clone, Args)]
pub struct TimesyncdFlags {
    /// systemd-timesyncd's bus: auto (with --chrony.address auto, read the system bus, $DBUS_SYSTEM_BUS_ADDRESS or /run/dbus/system_bus_socket, and let timesyncd decide when chronyd does not answer), system or unix:path=/run/dbus/system_bus_socket or a socket path (the verdict rests on timesyncd), or none.
    #[arg(id = "timesyncd.bus", long = "timesyncd.bus", env = "CLOCKWATCH_TIMESYNCD_BUS", default_value = "auto", value_parser = parse_timesyncd_bus, value_name = "ADDRESS")]
    pub bus: TimesyncdBus,
    /// Deadline of one read of timesyncd (connect, authenticate, read; 10ms to 60s).
    #[arg(id = "timesyncd.timeout", long = "timesyncd.timeout", env = "CLOCKWATCH_TIMESYNCD_TIMEOUT", default_value = "1s", value_parser = parse_timeout)]
    pub timeout: Duration,
    /// Rate at which the timesyncd bound grows after its last sample: 50ppm (the default, AWS ClockBound's advice for a bound), 1ppm (chrony's maxclockerror) or a ratio (above 0, at most 1000ppm).
    #[arg(id = "timesyncd.drift", long = "timesyncd.drift", env = "CLOCKWATCH_TIMESYNCD_DRIFT", default_value = "50ppm", value_parser = parse_drift)]
    pub drift: f64,
}

impl TimesyncdFlags {
    /// The timesyncd collector's configuration: named; detecting (`auto`
    /// and chronyd `auto`); None otherwise.
    pub fn config(&self, chrony_auto: bool) -> Result<Option<TimesyncdConfig>, String> {
        let (bus, detect) = match &self.bus {
            TimesyncdBus::None => return Ok(None),
            TimesyncdBus::Auto if !chrony_auto => return Ok(None),
            // A system bus clockwatch cannot speak to (an abstract or TCP
            // $DBUS_SYSTEM_BUS_ADDRESS) is no timesyncd to detect.
            TimesyncdBus::Auto => match crate::timesyncd::BusAddress::system() {
                Ok(bus) => (bus, true),
                Err(_) => return Ok(None),
            },
            TimesyncdBus::Named(bus) => (bus.clone(), false),
        };
        Ok(Some(TimesyncdConfig {
            bus,
            timeout: self.timeout,
            detect,
            params: crate::timesyncd::bound::Params {
                drift_rate: self.drift,
            },
        }))
    }
}

/// ptp4l (linuxptp): read when at least one socket is named; the verdict
/// then rests on ptp4l (docs/ptp.md).
#[derive(Debug, Clone, Args)]
pub struct PtpFlags {
    /// ptp4l management socket to read: its uds_address, or linuxptp 4.x's read-only uds_ro_address (repeatable, one per ptp4l instance; none by default). With one, the verdict rests on ptp4l.
    #[arg(
        id = "ptp.socket",
        long = "ptp.socket",
        env = "CLOCKWATCH_PTP_SOCKETS",
        value_delimiter = ',',
        value_name = "PATH"
    )]
    pub sockets: Vec<PathBuf>,
    /// PTP hardware clock phc2sys steers the system clock from (/dev/ptpN): the system clock is measured against it and the offset joins the bound.
    #[arg(
        id = "ptp.phc",
        long = "ptp.phc",
        env = "CLOCKWATCH_PTP_PHC",
        value_name = "DEVICE"
    )]
    pub phc: Option<PathBuf>,
    /// Deadline for all of one scrape's requests to each ptp4l instance (10ms to 60s).
    #[arg(id = "ptp.timeout", long = "ptp.timeout", env = "CLOCKWATCH_PTP_TIMEOUT", default_value = "1s", value_parser = parse_timeout)]
    pub timeout: Duration,
    /// PTP domain of the instances (ptp4l ignores management messages of another domain).
    #[arg(
        long = "ptp.domain",
        env = "CLOCKWATCH_PTP_DOMAIN",
        default_value_t = 0
    )]
    pub domain: u8,
    /// transportSpecific of the instances (1 for 802.1AS/gPTP configurations; 0 to 15).
    #[arg(id = "ptp.transport-specific", long = "ptp.transport-specific", env = "CLOCKWATCH_PTP_TRANSPORT_SPECIFIC", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=15))]
    pub transport_specific: u8,
    /// Directory for the reply socket file, instead of an abstract name: for a clockwatch outside ptp4l's network namespace. ptp4l must reach it at the same path, and clockwatch must be able to create files in it.
    #[arg(
        long = "ptp.reply-dir",
        env = "CLOCKWATCH_PTP_REPLY_DIR",
        value_name = "DIR"
    )]
    pub reply_dir: Option<PathBuf>,
    /// Error to assume for a grandmaster that states no clockAccuracy (0xFE "unknown", linuxptp's default), e.g. 1us; without it such a grandmaster gives no bound (1ns to 10s).
    #[arg(id = "ptp.assumed-grandmaster-accuracy", long = "ptp.assumed-grandmaster-accuracy", env = "CLOCKWATCH_PTP_ASSUMED_GRANDMASTER_ACCURACY", value_parser = parse_assumed_accuracy)]
    pub assumed_grandmaster_accuracy: Option<Duration>,
    /// Frequency error of the clock without a master, the rate the holdover bound grows at: 1ppm, 50ppb or a ratio (above 0, at most 1000ppm).
    #[arg(id = "ptp.holdover-drift", long = "ptp.holdover-drift", env = "CLOCKWATCH_PTP_HOLDOVER_DRIFT", default_value = "1ppm", value_parser = parse_drift)]
    pub holdover_drift: f64,
    /// How long after the last good measurement the state stays stale (holdover) before it is unsynchronized (0s to 24h).
    #[arg(id = "ptp.holdover-limit", long = "ptp.holdover-limit", env = "CLOCKWATCH_PTP_HOLDOVER_LIMIT", default_value = "5m", value_parser = parse_holdover_limit)]
    pub holdover_limit: Duration,
}

impl PtpFlags {
    /// The PTP collectors' configuration; None without a socket.
    pub fn config(&self) -> Result<Option<PtpConfig>, String> {
        if self.sockets.is_empty() {
            return match &self.phc {
                Some(_) => Err(
                    "--ptp.phc needs --ptp.socket: the PHC term belongs to ptp4l's bound".into(),
                ),
                None => Ok(None),
            };
        }
        for (i, socket) in self.sockets.iter().enumerate() {
            if socket.as_os_str().is_empty() {
                return Err("--ptp.socket: an empty path".into());
            }
            if self.sockets[..i].contains(socket) {
                return Err(format!("--ptp.socket {} is named twice", socket.display()));
            }
        }
        let reply = match &self.reply_dir {
            Some(dir) if !dir.is_dir() => {
                return Err(format!(
                    "--ptp.reply-dir {} is not a directory",
                    dir.display()
                ))
            }
            Some(dir) => ReplySocket::Directory(dir.clone()),
            None => ReplySocket::Abstract,
        };
        Ok(Some(PtpConfig {
            sockets: self.sockets.clone(),
            timeout: self.timeout,
            domain: self.domain,
            transport_specific: self.transport_specific,
            reply,
            phc: self.phc.clone(),
            bound: BoundConfig {
                holdover_drift: self.holdover_drift,
                holdover_limit: self.holdover_limit,
                assumed_grandmaster_accuracy: self
                    .assumed_grandmaster_accuracy
                    .map(|d| d.as_secs_f64()),
                ..BoundConfig::default()
            },
        }))
    }
}

fn parse_assumed_accuracy(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d.is_zero() || d > Duration::from_secs(10) {
        return Err("must be above 0 and at most 10s".into());
    }
    Ok(d)
}

/// "1ppm", "50ppb" or a plain ratio ("1e-6").
fn parse_drift(s: &str) -> Result<f64, String> {
    let s = s.trim();
    let (number, per) = if let Some(n) = s.strip_suffix("ppm") {
        (n, 1e6)
    } else if let Some(n) = s.strip_suffix("ppb") {
        (n, 1e9)
    } else {
        (s, 1.0)
    };
    let value = number
        .trim()
        .parse::<f64>()
        .map_err(|_| format!("{s:?} is not a rate (examples: 1ppm, 50ppb, 1e-6)"))?
        / per;
    if !(value > 0.0 && value <= 1e-3) {
        return Err("must be above 0 and at most 1000ppm".into());
    }
    Ok(value)
}

fn parse_holdover_limit(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d > Duration::from_secs(24 * 3600) {
        return Err("must be at most 24h".into());
    }
    Ok(d)
}

macro_rules! collector_flags {
    ($($field:ident, $no:ident, $on:literal, $off:literal, $env:literal;)*) => {
        /// `--collector.NAME` / `--no-collector.NAME`: all collectors are on by default.
        #[derive(Debug, Clone, Args)]
        pub struct CollectorFlags {
            $(
                #[arg(long = $on, env = $env, action = ArgAction::Set, num_args = 0..=1, default_value_t = true,
                      default_missing_value = "true", overrides_with = stringify!($no),
                      help = concat!("Enable the ", stringify!($field), " collector"))]
                pub $field: bool,
                #[arg(long = $off, overrides_with = stringify!($field),
                      help = concat!("Disable the ", stringify!($field), " collector"))]
                pub $no: bool,
            )*
        }

        impl CollectorFlags {
            pub fn enabled(&self) -> Enabled {
                Enabled { $($field: self.$field && !self.$no,)* }
            }
        }
    };
}

collector_flags! {
    tracking, no_tracking, "collector.tracking", "no-collector.tracking", "CLOCKWATCH_COLLECTOR_TRACKING";
    sources, no_sources, "collector.sources", "no-collector.sources", "CLOCKWATCH_COLLECTOR_SOURCES";
    sourcestats, no_sourcestats, "collector.sourcestats", "no-collector.sourcestats", "CLOCKWATCH_COLLECTOR_SOURCESTATS";
    ntpdata, no_ntpdata, "collector.ntpdata", "no-collector.ntpdata", "CLOCKWATCH_COLLECTOR_NTPDATA";
    serverstats, no_serverstats, "collector.serverstats", "no-collector.serverstats", "CLOCKWATCH_COLLECTOR_SERVERSTATS";
    timex, no_timex, "collector.timex", "no-collector.timex", "CLOCKWATCH_COLLECTOR_TIMEX";
    steps, no_steps, "collector.steps", "no-collector.steps", "CLOCKWATCH_COLLECTOR_STEPS";
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on; ":PORT" means every interface.
    #[arg(
        long = "web.listen-address",
        env = "CLOCKWATCH_WEB_LISTEN_ADDRESS",
        default_value = ":9707"
    )]
    pub listen_address: String,
    /// Path of the metrics endpoint.
    #[arg(long = "web.telemetry-path", env = "CLOCKWATCH_WEB_TELEMETRY_PATH", default_value = "/metrics", value_parser = parse_path)]
    pub telemetry_path: String,
    /// Most connections served at once; further clients wait.
    #[arg(long = "web.max-connections", env = "CLOCKWATCH_WEB_MAX_CONNECTIONS", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub max_connections: u32,
    /// exporter-toolkit web configuration file: TLS, basic auth, extra headers.
    #[arg(long = "web.config.file", env = "CLOCKWATCH_WEB_CONFIG_FILE")]
    pub web_config_file: Option<std::path::PathBuf>,
    /// Time a client has to send its request headers; a silent one is dropped (100ms to 5m).
    #[arg(long = "web.header-timeout", env = "CLOCKWATCH_WEB_HEADER_TIMEOUT", default_value = "10s", value_parser = parse_client_timeout)]
    pub header_timeout: Duration,
    /// Time a client has to complete the TLS handshake (100ms to 5m).
    #[arg(long = "web.tls-handshake-timeout", env = "CLOCKWATCH_WEB_TLS_HANDSHAKE_TIMEOUT", default_value = "10s", value_parser = parse_client_timeout)]
    pub tls_handshake_timeout: Duration,
    #[command(flatten)]
    pub probe: ProbeFlags,
    #[command(flatten)]
    pub sample: SampleFlags,
    #[command(flatten)]
    pub source: SourceArgs,
}

/// The sampler of `serve` (docs/sampling.md): time accounting between
/// scrapes.
#[derive(Debug, Clone, Args)]
pub struct SampleFlags {
    /// Time between two samples of the verdict (tracking, timex, ptp4l), independent of scrapes (100ms to 60s).
    #[arg(id = "sample.interval", long = "sample.interval", env = "CLOCKWATCH_SAMPLE_INTERVAL", default_value = "1s", value_parser = parse_duration)]
    pub interval: Duration,
    /// Window of clockwatch_clock_error_bound_max_seconds (at least the interval, at most 1h).
    #[arg(id = "sample.window", long = "sample.window", env = "CLOCKWATCH_SAMPLE_WINDOW", default_value = "60s", value_parser = parse_duration)]
    pub window: Duration,
    /// Upper bounds (seconds, comma-separated, strictly increasing) of the clockwatch_clock_error_bound_time_seconds buckets; +Inf is added.
    #[arg(id = "sample.bound-buckets", long = "sample.bound-buckets", env = "CLOCKWATCH_SAMPLE_BOUND_BUCKETS", default_value = "1e-6,1e-5,1e-4,1e-3,0.01,0.05,0.1,1", value_parser = parse_buckets)]
    pub buckets: BucketList,
}

/// `--sample.bound-buckets`, parsed (a newtype: clap would take a Vec as
/// repeated values).
#[derive(Debug, Clone, PartialEq)]
pub struct BucketList(pub Vec<f64>);

fn parse_buckets(s: &str) -> Result<BucketList, String> {
    crate::sampler::parse_buckets(s)
        .map(BucketList)
        .map_err(|e| e.to_string())
}

impl SampleFlags {
    pub fn config(&self) -> Result<SampleConfig, SampleConfigError> {
        SampleConfig::new(self.interval, self.window, self.buckets.0.clone())
    }
}

/// The independent NTP probe of `serve`: off unless servers are named.
#[derive(Debug, Clone, Args)]
pub struct ProbeFlags {
    /// NTP server to measure the clock against, independently of chronyd: HOST or HOST:PORT (repeatable; none by default, never the public pool).
    #[arg(long = "probe.server", env = "CLOCKWATCH_PROBE_SERVERS", value_delimiter = ',', value_name = "HOST[:PORT]", value_parser = parse_server)]
    pub servers: Vec<ServerSpec>,
    /// Time between two rounds to one server (at least 16s: NTP servers rate-limit).
    #[arg(long = "probe.interval", env = "CLOCKWATCH_PROBE_INTERVAL", default_value = "64s", value_parser = parse_duration)]
    pub interval: Duration,
    /// How long each probe request waits for its reply (10ms to 10s).
    #[arg(long = "probe.timeout", env = "CLOCKWATCH_PROBE_TIMEOUT", default_value = "1s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Requests per round, 2 s apart; the one with the lowest delay counts (1 to 8).
    #[arg(long = "probe.samples", env = "CLOCKWATCH_PROBE_SAMPLES", default_value_t = crate::probe::prober::DEFAULT_SAMPLES)]
    pub samples: u32,
}

impl ProbeFlags {
    /// The prober's configuration, checked; None when no server is named.
    pub fn config(&self) -> Result<Option<ProbeConfig>, ProbeConfigError> {
        if self.servers.is_empty() {
            return Ok(None);
        }
        let config = ProbeConfig {
            interval: self.interval,
            timeout: self.timeout,
            samples: self.samples,
            ..ProbeConfig::new(self.servers.clone())
        };
        config.validate()?;
        Ok(Some(config))
    }
}

fn parse_server(s: &str) -> Result<ServerSpec, String> {
    s.parse::<ServerSpec>().map_err(|e| e.to_string())
}

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// Print JSON for scripts instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub source: SourceArgs,
}

/// `clockwatch probe`: the servers to probe, and how to read the local
/// clock whose bound their measurements are checked against.
#[derive(Debug, Clone, Args)]
pub struct ProbeCommandArgs {
    #[command(flatten)]
    pub probe: crate::probe::ProbeArgs,
    #[command(flatten)]
    pub source: SourceArgs,
}

#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// WARNING above this bound.
    #[arg(long, env = "CLOCKWATCH_CHECK_WARN", default_value = "10ms", value_parser = parse_duration)]
    pub warn: Duration,
    /// CRITICAL above this bound.
    #[arg(long, env = "CLOCKWATCH_CHECK_CRIT", default_value = "100ms", value_parser = parse_duration)]
    pub crit: Duration,
    #[command(flatten)]
    pub source: SourceArgs,
}

fn parse_address(s: &str) -> Result<ChronyAddress, String> {
    s.parse::<ChronyAddress>().map_err(|e| e.to_string())
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim()).map_err(|e| format!("{e} (examples: 500ms, 1s, 250us)"))
}

fn parse_timeout(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < Duration::from_millis(10) || d > Duration::from_secs(60) {
        return Err("must be between 10ms and 60s".into());
    }
    Ok(d)
}

fn parse_client_timeout(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < Duration::from_millis(100) || d > Duration::from_secs(300) {
        return Err("must be between 100ms and 5m".into());
    }
    Ok(d)
}

fn parse_path(s: &str) -> Result<String, String> {
    if !s.starts_with('/') || s == "/" || ["/healthz", "/readyz"].contains(&s) {
        return Err("must start with / and not be /, /healthz or /readyz".into());
    }
    Ok(s.to_string())
}

/// ":9707" -> every interface (IPv6 and IPv4 where the host has both).
pub fn parse_listen_address(s: &str) -> anyhow::Result<Vec<SocketAddr>> {
    if let Some(port) = s.strip_prefix(':') {
        let port: u16 = port
            .parse()
            .with_context(|| format!("invalid port in --web.listen-address {s:?}"))?;
        return Ok(vec![
            SocketAddr::from(([0u16; 8], port)),
            SocketAddr::from(([0, 0, 0, 0], port)),
        ]);
    }
    s.parse::<SocketAddr>().map(|a| vec![a]).with_context(|| {
        format!("invalid --web.listen-address {s:?} (use :PORT, IP:PORT or [IPv6]:PORT)")
    })
}

pub fn main() -> ExitCode {
    if let Some(args) = report::invocation(std::env::args_os()) {
        return report::run(args);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command {
        Some(Command::Report(args)) => report::run(args.args),
        Some(Command::Probe(args)) => run_probe(&args),
        Some(Command::Status(args)) => run_oneshot(&args.source, |scrape| {
            if args.json {
                println!("{}", status::status_json(scrape));
            } else {
                print!("{}", status::status_text(scrape));
            }
            if scrape.verdict.state == SyncState::Unknown {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }),
        Some(Command::Check(args)) => run_oneshot(&args.source, |scrape| {
            let (status, line) = status::check(scrape, args.warn, args.crit);
            println!("{line}");
            ExitCode::from(status as u8)
        }),
        Some(Command::Doctor(args)) => run_doctor(&args),
        Some(Command::Serve(args)) => run_serve(args),
        None => run_serve(cli.serve),
    }
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    // One thread: the work is a few datagrams per scrape, and it keeps the
    // memory footprint small.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

fn run_oneshot(
    source: &SourceArgs,
    show: impl FnOnce(&crate::scrape::Scrape) -> ExitCode,
) -> ExitCode {
    logging::init(&source.log_level, &source.log_format, "warn");
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("clockwatch: cannot start the runtime: {e}");
            return ExitCode::from(3);
        }
    };
    let code = rt.block_on(async {
        let mut enabled = source.collectors.enabled();
        enabled.steps = false; // a one-shot run sees no steps
        let collector = match source.collector(enabled, None) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("clockwatch: {e}");
                return ExitCode::from(2);
            }
        };
        let scrape = collect_once(&collector, &source.settings()).await;
        show(&scrape)
    });
    stop(rt);
    code
}

/// `clockwatch doctor`: one collection, then the checklist.
fn run_doctor(args: &DoctorArgs) -> ExitCode {
    use crate::doctor::{self, gather};
    let source = &args.source;
    logging::init(&source.log_level, &source.log_format, "warn");
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("clockwatch: cannot start the runtime: {e}");
            return ExitCode::from(3);
        }
    };
    let mut enabled = source.collectors.enabled();
    enabled.steps = false;
    enabled.timex = true;
    let collector = match source.collector(enabled, None) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("clockwatch: {e}");
            stop(rt);
            return ExitCode::from(2);
        }
    };
    let places = gather::Places {
        proc: args.proc.clone(),
        chrony_conf: args.chrony_conf.clone(),
        localtime: source.localtime.clone(),
        server: args.server.clone(),
        server_port: args.server_port,
        probe_timeout: args.probe_timeout,
        probe_samples: args.probe_samples,
        expect_timezone: args.expect_timezone.clone(),
    };
    let code = rt.block_on(async {
        let scrape = collect_once(&collector, &source.settings()).await;
        let probe = gather::probe(&scrape, &places).await;
        let facts = gather::facts(&scrape, &places, probe);
        let checks = doctor::checks(&facts);
        if args.json {
            println!("{}", doctor::json(&checks));
        } else {
            print!("{}", doctor::text(&checks));
        }
        ExitCode::from(doctor::overall(&checks).exit_code())
    });
    stop(rt);
    code
}

/// `clockwatch probe`: the probe rounds and a collection of the local clock
/// run together; the collection's bound is what the probe cross-checks.
fn run_probe(args: &ProbeCommandArgs) -> ExitCode {
    use crate::probe::oneshot::{self, PluginStatus};
    let source = &args.source;
    logging::init(&source.log_level, &source.log_format, "warn");
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("clockwatch: cannot start the runtime: {e}");
            return ExitCode::from(PluginStatus::Unknown as u8);
        }
    };
    let mut enabled = source.collectors.enabled();
    enabled.steps = false;
    let collector = match source.collector(enabled, None) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("clockwatch: {e}");
            stop(rt);
            return ExitCode::from(2);
        }
    };
    let (status, text) = rt.block_on(async {
        let settings = source.settings();
        let p = &args.probe;
        let (scrape, results) = tokio::join!(
            collect_once(&collector, &settings),
            crate::probe::probe_once(&p.servers, p.timeout, p.samples)
        );
        let bound = scrape
            .verdict
            .state
            .bound_holds()
            .then_some(scrape.verdict.bound_seconds);
        oneshot::report(&results, bound, p)
    });
    stop(rt);
    print!("{text}");
    ExitCode::from(status as u8)
}

/// Drops the runtime without waiting for its blocking pool: a host-name
/// lookup stuck there (a DNS server that never answers) must not hold the
/// exit. Everything else has finished by then.
fn stop(rt: tokio::runtime::Runtime) {
    rt.shutdown_background();
}

fn run_serve(args: ServeArgs) -> ExitCode {
    // A bad probe or PTP setting is a bad flag: exit 2 before anything
    // starts.
    let probe = match args.probe.config() {
        Ok(probe) => probe,
        Err(e) => {
            eprintln!("clockwatch: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = args
        .source
        .ptp
        .config()
        .and(args.source.timesyncd.config(true))
    {
        eprintln!("clockwatch: {e}");
        return ExitCode::from(2);
    }
    let sample = match args.sample.config() {
        Ok(sample) => sample,
        Err(e) => {
            eprintln!("clockwatch: {e}");
            return ExitCode::from(2);
        }
    };
    logging::init(
        &args.source.log_level,
        &args.source.log_format,
        &args.source.log_level,
    );
    match serve_main(args, probe, sample) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("clockwatch: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn serve_main(
    args: ServeArgs,
    probe: Option<ProbeConfig>,
    sample: SampleConfig,
) -> anyhow::Result<()> {
    let addresses = parse_listen_address(&args.listen_address)?;
    let security = match &args.web_config_file {
        Some(path) => load_security(path)?,
        None => Security::default(),
    };
    let rt = runtime().context("cannot start the runtime")?;
    let served = rt.block_on(async move {
        let listener = bind_first(&addresses).await?;
        let local = listener.local_addr().context("listener address")?;
        let enabled = args.source.collectors.enabled();
        let steps = enabled.steps.then(StepTracker::start);
        // Checked before the runtime started.
        let mut collector = args
            .source
            .collector(enabled, steps)
            .map_err(|e| anyhow::anyhow!(e))?;
        if let Some(config) = probe {
            // Validated above; a failure here would be a bug, said plainly.
            collector = collector.with_prober(Prober::start(config)?);
        }
        let app = Arc::new(App {
            shared: SharedCollector::new(collector, args.source.settings())
                .with_sampling(sample.clone()),
            build: BuildInfo::current(),
            telemetry_path: args.telemetry_path.clone(),
            limits: Limits {
                max_connections: args.max_connections as usize,
                header_timeout: args.header_timeout,
                tls_handshake_timeout: args.tls_handshake_timeout,
                ..Limits::default()
            },
            security,
        });
        tracing::info!(
            listen = %local,
            chrony = %args.source.chrony_address,
            timeout = ?args.source.chrony_timeout,
            ptp = ?args.source.ptp.sockets,
            sample_interval = ?sample.interval,
            version = env!("CARGO_PKG_VERSION"),
            "clockwatch serving"
        );
        let sampler = app.clone();
        let sampling = tokio::spawn(async move { sampler.shared.sample_forever().await });
        serve(listener, app, shutdown_signal()).await;
        sampling.abort();
        tracing::info!("clockwatch stopped");
        Ok(())
    });
    stop(rt);
    served
}

/// Reads the web config and everything it names; any problem is fatal.
fn load_security(path: &std::path::Path) -> anyhow::Result<Security> {
    use crate::http::{auth::BasicAuth, tls, webconfig::WebConfig};
    let config = WebConfig::load(path)?;
    let tls = match &config.tls {
        Some(settings) => Some(tokio_rustls::TlsAcceptor::from(tls::server_config(
            settings,
        )?)),
        None => None,
    };
    let auth = if config.basic_auth_users.is_empty() {
        None
    } else {
        if tls.is_none() {
            tracing::warn!("basic auth without TLS: passwords cross the network in the clear");
        }
        Some(BasicAuth::new(config.basic_auth_users.clone())?)
    };
    let mut headers = Vec::new();
    for (name, value) in &config.headers {
        let name = hyper::header::HeaderName::from_bytes(name.as_bytes())
            .with_context(|| format!("invalid header name {name:?}"))?;
        let value = hyper::header::HeaderValue::from_str(value)
            .with_context(|| format!("invalid value for header {name}"))?;
        headers.push((name, value));
    }
    tracing::info!(
        file = %path.display(),
        tls = tls.is_some(),
        basic_auth = auth.is_some(),
        headers = headers.len(),
        "web config loaded"
    );
    Ok(Security { tls, auth, headers })
}

async fn bind_first(addresses: &[SocketAddr]) -> anyhow::Result<tokio::net::TcpListener> {
    let mut last = None;
    for addr in addresses {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => return Ok(l),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                anyhow::bail!("cannot listen on {addr}: the port is already in use (choose another with --web.listen-address)")
            }
            Err(e) => last = Some((addr, e)),
        }
    }
    match last {
        Some((addr, e)) => Err(anyhow::anyhow!("cannot listen on {addr}: {e}")),
        None => Err(anyhow::anyhow!("no address to listen on")),
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (mut term, mut int) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(t), Ok(i)) => (t, i),
        _ => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// clap checks its definitions (unique ids, valid defaults) only when
    /// asked, or at run time in debug builds.
    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn ptp_rates_and_limits_parse_in_their_units() {
        assert_eq!(parse_drift("1ppm"), Ok(1e-6));
        assert_eq!(parse_drift("50ppb"), Ok(50e-9));
        assert_eq!(parse_drift(" 2e-7 "), Ok(2e-7));
        assert!(parse_drift("0").is_err());
        assert!(parse_drift("2000ppm").is_err());
        assert!(parse_drift("NaN").is_err());
        assert_eq!(parse_holdover_limit("0s"), Ok(Duration::ZERO));
        assert!(parse_holdover_limit("25h").is_err());
        assert_eq!(
            parse_assumed_accuracy("250ns"),
            Ok(Duration::from_nanos(250))
        );
        assert!(parse_assumed_accuracy("11s").is_err());
    }
}
