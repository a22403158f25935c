//! Values that appear in requests and replies: addresses, timestamps,
//! reference IDs, and the decoded reports.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// chrony's `IPAddr`: an IP address, nothing, or an opaque source ID (chronyd
/// uses IDs for sources whose name is not resolved yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Address {
    /// No address (`IPADDR_UNSPEC`).
    Unspecified,
    /// An IPv4 address.
    V4(Ipv4Addr),
    /// An IPv6 address.
    V6(Ipv6Addr),
    /// An opaque source ID (`IPADDR_ID`) standing for an unresolved source.
    Id(u32),
}

impl Address {
    /// The IP address, if this is one.
    pub fn ip(&self) -> Option<IpAddr> {
        match *self {
            Address::V4(ip) => Some(IpAddr::V4(ip)),
            Address::V6(ip) => Some(IpAddr::V6(ip)),
            Address::Unspecified | Address::Id(_) => None,
        }
    }
}

impl From<IpAddr> for Address {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Address::V4(v4),
            IpAddr::V6(v6) => Address::V6(v6),
        }
    }
}

impl fmt::Display for Address {
    /// Formats like chronyc: IPv4 dotted, IPv6 compressed, `[UNSPEC]`, `ID#N`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Unspecified => f.write_str("[UNSPEC]"),
            Address::V4(ip) => write!(f, "{ip}"),
            Address::V6(ip) => write!(f, "{ip}"),
            Address::Id(id) => write!(f, "ID#{id:010}"),
        }
    }
}

/// A point in time as chronyd sends it: seconds since the Unix epoch and
/// nanoseconds. Kept as integers so that no precision is lost on the way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timespec {
    /// Whole seconds since the Unix epoch.
    pub seconds: u64,
    /// Nanoseconds within the second, below 1 000 000 000.
    pub nanos: u32,
}

impl Timespec {
    /// Seconds since the epoch as a float (nanosecond resolution is kept to
    /// well past 2100 only to about 0.2 µs; use the fields for exact work).
    pub fn as_secs_f64(&self) -> f64 {
        self.seconds as f64 + f64::from(self.nanos) * 1e-9
    }
}

/// A 32-bit NTP reference ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RefId(pub u32);

/// The local reference clock's ID, "LOCL": chronyd uses it when it serves
/// its own clock (`local` directive), which is not traceable to UTC.
pub const REFID_LOCAL: RefId = RefId(0x4C4F_434C);

impl RefId {
    /// The ID as chronyc prints it in CSV mode: 8 upper-case hex digits.
    pub fn to_hex(&self) -> String {
        format!("{:08X}", self.0)
    }

    /// The ID as text, as chronyc prints a reference clock's or the
    /// reference's name (reference clocks use ASCII IDs such as "GPS",
    /// "PHC0"): its printable ASCII bytes (space to `~`), the others left
    /// out. The local clock's ID 7F7F0101 has none and reads "".
    pub fn to_ascii(&self) -> String {
        self.0
            .to_be_bytes()
            .iter()
            .filter(|b| (0x20..=0x7e).contains(*b))
            .map(|&b| b as char)
            .collect()
    }
}

/// Leap status of the local clock as chronyd reports it in tracking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LeapStatus {
    /// No leap second pending.
    Normal,
    /// A leap second will be inserted at the end of the day.
    InsertSecond,
    /// A leap second will be deleted at the end of the day.
    DeleteSecond,
    /// The clock is not synchronised.
    Unsynchronised,
}

impl LeapStatus {
    pub(crate) fn from_wire(v: u16) -> Result<Self, crate::DecodeError> {
        match v {
            0 => Ok(LeapStatus::Normal),
            1 => Ok(LeapStatus::InsertSecond),
            2 => Ok(LeapStatus::DeleteSecond),
            3 => Ok(LeapStatus::Unsynchronised),
            other => Err(crate::DecodeError::BadEnum {
                field: "leap status",
                value: other.into(),
            }),
        }
    }

    /// The value chronyd sends for this status (`LEAP_*`).
    pub fn to_wire(self) -> u16 {
        match self {
            LeapStatus::Normal => 0,
            LeapStatus::InsertSecond => 1,
            LeapStatus::DeleteSecond => 2,
            LeapStatus::Unsynchronised => 3,
        }
    }

    /// Words as `chronyc tracking` prints them.
    pub fn as_str(self) -> &'static str {
        match self {
            LeapStatus::Normal => "Normal",
            LeapStatus::InsertSecond => "Insert second",
            LeapStatus::DeleteSecond => "Delete second",
            LeapStatus::Unsynchronised => "Not synchronised",
        }
    }
}

/// The tracking report: chronyd's view of the system clock.
#[derive(Debug, Clone, PartialEq)]
pub struct Tracking {
    /// Reference ID of the source synchronised to ("LOCL" for the `local` clock).
    pub ref_id: RefId,
    /// Address of that source; unspecified for a reference clock, the `local`
    /// clock or none.
    pub ip_addr: Address,
    /// chronyd's own stratum: hops from a computer with a reference clock.
    pub stratum: u16,
    /// Leap status of the local clock.
    pub leap_status: LeapStatus,
    /// When the reference was last updated (UTC): the last measurement used.
    pub ref_time: Timespec,
    /// "System time" in `chronyc tracking`, in seconds: the offset chronyd
    /// is still slewing away, positive when the system clock is slow of NTP
    /// time. This, not the last offset, enters chrony's documented error
    /// bound.
    pub current_correction: f64,
    /// Estimated local offset at the last clock update, in seconds.
    pub last_offset: f64,
    /// Long-term average (root mean square) of the offset, in seconds.
    pub rms_offset: f64,
    /// Rate at which the clock would drift if chronyd did not correct it,
    /// in ppm; positive means the clock runs fast.
    pub freq_ppm: f64,
    /// Residual frequency of the reference source against the frequency in
    /// use, in ppm.
    pub resid_freq_ppm: f64,
    /// Estimated error bound on the frequency, in ppm.
    pub skew_ppm: f64,
    /// Total network path delay to the stratum-1 computer, in seconds.
    pub root_delay: f64,
    /// Total dispersion accumulated back to the stratum-1 computer, in
    /// seconds.
    pub root_dispersion: f64,
    /// Interval between the last two clock updates, in seconds.
    pub last_update_interval: f64,
}

/// How a source is used (`RPY_SD_MD_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceMode {
    /// A server polled in client mode (`server`, `pool`).
    Client,
    /// A symmetric peer (`peer`).
    Peer,
    /// A local reference clock (`refclock`).
    RefClock,
}

impl SourceMode {
    pub(crate) fn from_wire(v: u16) -> Result<Self, crate::DecodeError> {
        match v {
            0 => Ok(SourceMode::Client),
            1 => Ok(SourceMode::Peer),
            2 => Ok(SourceMode::RefClock),
            other => Err(crate::DecodeError::BadEnum {
                field: "source mode",
                value: other.into(),
            }),
        }
    }

    /// The value chronyd sends for this mode (`RPY_SD_MD_*`).
    pub fn to_wire(self) -> u16 {
        match self {
            SourceMode::Client => 0,
            SourceMode::Peer => 1,
            SourceMode::RefClock => 2,
        }
    }

    /// The mode character of `chronyc sources`.
    pub fn symbol(self) -> char {
        match self {
            SourceMode::Client => '^',
            SourceMode::Peer => '=',
            SourceMode::RefClock => '#',
        }
    }
}

/// Selection state of a source (`RPY_SD_ST_*`), with the character
/// `chronyc sources` shows for it. chrony's constant names are confusing:
/// UNSELECTED is shown as `+` and SELECTABLE as `-`; this follows chronyc.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceState {
    /// `*`: the source chronyd synchronises to.
    Selected,
    /// `?`: unusable (unreachable, too few samples, or excluded by options).
    NonSelectable,
    /// `x`: its interval disagrees with the majority.
    Falseticker,
    /// `~`: too variable.
    Jittery,
    /// `+`: acceptable and combined with the selected source.
    Unselected,
    /// `-`: acceptable but left out by the combining algorithm.
    Selectable,
}

impl SourceState {
    pub(crate) fn from_wire(v: u16) -> Result<Self, crate::DecodeError> {
        match v {
            0 => Ok(SourceState::Selected),
            1 => Ok(SourceState::NonSelectable),
            2 => Ok(SourceState::Falseticker),
            3 => Ok(SourceState::Jittery),
            4 => Ok(SourceState::Unselected),
            5 => Ok(SourceState::Selectable),
            other => Err(crate::DecodeError::BadEnum {
                field: "source state",
                value: other.into(),
            }),
        }
    }

    /// The value chronyd sends for this state (`RPY_SD_ST_*`).
    pub fn to_wire(self) -> u16 {
        match self {
            SourceState::Selected => 0,
            SourceState::NonSelectable => 1,
            SourceState::Falseticker => 2,
            SourceState::Jittery => 3,
            SourceState::Unselected => 4,
            SourceState::Selectable => 5,
        }
    }

    /// The state character of `chronyc sources`.
    pub fn symbol(self) -> char {
        match self {
            SourceState::Selected => '*',
            SourceState::NonSelectable => '?',
            SourceState::Falseticker => 'x',
            SourceState::Jittery => '~',
            SourceState::Unselected => '+',
            SourceState::Selectable => '-',
        }
    }
}

/// One entry of the source list (`chronyc sources`).
#[derive(Debug, Clone, PartialEq)]
pub struct SourceData {
    /// The source's address; for a reference clock, its reference ID as an
    /// IPv4 address.
    pub ip_addr: Address,
    /// log2 of the polling interval in seconds.
    pub poll: i16,
    /// The source's stratum.
    pub stratum: u16,
    /// Selection state.
    pub state: SourceState,
    /// How the source is used.
    pub mode: SourceMode,
    /// Selection options (`RPY_SD_FLAG_*`: noselect, prefer, trust, require).
    pub flags: u16,
    /// The reachability register: an 8-bit shift register of the last 8
    /// polls, newest in bit 0, set when a valid reply arrived.
    pub reachability: u16,
    /// Seconds since the last good sample, `u32::MAX` if there is none.
    pub since_sample: u32,
    /// Measured offset of the last sample, in seconds; positive when the
    /// local clock is ahead of the source.
    pub orig_latest_meas: f64,
    /// The same offset adjusted for slews of the clock made since.
    pub latest_meas: f64,
    /// Error margin of that measurement, in seconds.
    pub latest_meas_err: f64,
}

/// Statistics of one source (`chronyc sourcestats`).
#[derive(Debug, Clone, PartialEq)]
pub struct SourceStats {
    /// The source's reference ID.
    pub ref_id: RefId,
    /// The source's address (unspecified for a reference clock).
    pub ip_addr: Address,
    /// Number of samples retained.
    pub n_samples: u32,
    /// Number of runs of residuals with the same sign after the last
    /// regression.
    pub n_runs: u32,
    /// Interval between the oldest and the newest sample, in seconds.
    pub span_seconds: u32,
    /// Estimated standard deviation of the samples, in seconds.
    pub std_dev: f64,
    /// Residual frequency of the source, in ppm.
    pub resid_freq_ppm: f64,
    /// Estimated error bound on that frequency, in ppm.
    pub skew_ppm: f64,
    /// Estimated offset of the source, in seconds.
    pub est_offset: f64,
    /// Estimated error of that offset, in seconds.
    pub est_offset_err: f64,
}

/// Counts of sources by activity (`chronyc activity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Activity {
    /// Sources that are online.
    pub online: i32,
    /// Sources that are offline.
    pub offline: i32,
    /// Sources doing a burst, to return online afterwards.
    pub burst_online: i32,
    /// Sources doing a burst, to return offline afterwards.
    pub burst_offline: i32,
    /// Sources whose address is not resolved yet.
    pub unresolved: i32,
}

/// The last NTP exchange with one source (`chronyc ntpdata`). chronyd before
/// 4.6 sends the shorter `NTP_DATA` reply, whose kernel and hardware
/// timestamp counters are absent (`None`).
#[derive(Debug, Clone, PartialEq)]
pub struct NtpData {
    /// The source's address.
    pub remote_addr: Address,
    /// The local address the exchange used.
    pub local_addr: Address,
    /// The source's port.
    pub remote_port: u16,
    /// Leap indicator of the last packet received.
    pub leap: u8,
    /// NTP version of the last packet received.
    pub version: u8,
    /// NTP mode of the last packet received.
    pub mode: u8,
    /// Stratum of the last packet received.
    pub stratum: u8,
    /// Poll interval of the last packet received, log2 seconds.
    pub poll: i8,
    /// Precision of the last packet received, log2 seconds.
    pub precision: i8,
    /// Root delay reported by the server, in seconds.
    pub root_delay: f64,
    /// Root dispersion reported by the server, in seconds.
    pub root_dispersion: f64,
    /// Reference ID reported by the server.
    pub ref_id: RefId,
    /// Reference time reported by the server.
    pub ref_time: Timespec,
    /// Offset measured in the last exchange, in seconds.
    pub offset: f64,
    /// Round-trip delay of the last exchange, in seconds.
    pub peer_delay: f64,
    /// Dispersion of the last exchange, in seconds.
    pub peer_dispersion: f64,
    /// Server processing time: from its receive to its transmit timestamp,
    /// in seconds.
    pub response_time: f64,
    /// Estimated asymmetry of the network jitter.
    pub jitter_asymmetry: f64,
    /// Bits 0x3ff: results of the packet tests (set = passed); 0x4000:
    /// interleaved mode; 0x8000: authenticated.
    pub flags: u16,
    /// Source of the transmit timestamp: `b'D'` daemon, `b'K'` kernel,
    /// `b'H'` hardware.
    pub tx_tss_char: u8,
    /// Source of the receive timestamp: `b'D'` daemon, `b'K'` kernel,
    /// `b'H'` hardware.
    pub rx_tss_char: u8,
    /// Packets sent to the source.
    pub total_tx_count: u32,
    /// Packets received from the source.
    pub total_rx_count: u32,
    /// Valid packets received from the source.
    pub total_valid_count: u32,
    /// Received packets accepted as samples (zero before chrony 4.2).
    pub total_good_count: u32,
    /// Timestamp counters of `NTP_DATA2`; `None` from chrony before 4.6.
    pub extended: Option<NtpDataTimestampCounts>,
}

/// Timestamp counters added by the `NTP_DATA2` reply (chrony 4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NtpDataTimestampCounts {
    /// Transmit timestamps taken by the kernel.
    pub total_kernel_tx_ts: u32,
    /// Receive timestamps taken by the kernel.
    pub total_kernel_rx_ts: u32,
    /// Transmit timestamps taken by the hardware.
    pub total_hw_tx_ts: u32,
    /// Receive timestamps taken by the hardware.
    pub total_hw_rx_ts: u32,
}

/// Server statistics (`chronyc serverstats`). The reply grew over chrony
/// versions; fields a version does not send are `None`, and
/// [`ServerStats::format`] says which reply arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ServerStats {
    /// Which reply these come from.
    pub format: ServerStatsFormat,
    /// NTP requests received.
    pub ntp_hits: u64,
    /// Command requests received.
    pub cmd_hits: u64,
    /// NTP requests dropped (rate limiting).
    pub ntp_drops: u64,
    /// Command requests dropped (rate limiting).
    pub cmd_drops: u64,
    /// Client log records dropped (the client log was full).
    pub log_drops: u64,
    /// NTS-KE connections accepted (V2 and later).
    pub nke_hits: Option<u64>,
    /// NTS-KE connections dropped (V2 and later).
    pub nke_drops: Option<u64>,
    /// Authenticated NTP requests received (V2 and later).
    pub ntp_auth_hits: Option<u64>,
    /// Interleaved NTP requests received (V3 and later).
    pub ntp_interleaved_hits: Option<u64>,
    /// Server timestamps held for interleaved mode (V3 and later).
    pub ntp_timestamps: Option<u64>,
    /// Span of the timestamps held, in seconds (V3 and later).
    pub ntp_span_seconds: Option<u64>,
    /// NTP responses that carried a receive timestamp taken by chronyd
    /// itself (V4: chrony 4.4 and later).
    pub ntp_daemon_rx_timestamps: Option<u64>,
    /// NTP responses that carried a transmit timestamp taken by chronyd
    /// itself (V4).
    pub ntp_daemon_tx_timestamps: Option<u64>,
    /// NTP responses that carried a receive timestamp taken by the kernel
    /// (V4).
    pub ntp_kernel_rx_timestamps: Option<u64>,
    /// NTP responses (interleaved mode) that carried a transmit timestamp
    /// taken by the kernel (V4).
    pub ntp_kernel_tx_timestamps: Option<u64>,
    /// NTP responses that carried a receive timestamp taken by the network
    /// card (V4).
    pub ntp_hw_rx_timestamps: Option<u64>,
    /// NTP responses (interleaved mode) that carried a transmit timestamp
    /// taken by the network card (V4).
    pub ntp_hw_tx_timestamps: Option<u64>,
}

/// Which server statistics reply chronyd sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServerStatsFormat {
    /// `SERVER_STATS` (chrony 3.x): 5 32-bit counters.
    #[default]
    V1,
    /// `SERVER_STATS2` (chrony 4.0 and 4.1): adds NTS-KE and authentication.
    V2,
    /// `SERVER_STATS3` (chrony 4.2 and 4.3): adds interleaved mode and the
    /// timestamp table.
    V3,
    /// `SERVER_STATS4` (chrony 4.4 and later): 64-bit counters, adds
    /// timestamp sources.
    V4,
}

/// A source's configured name as chronyd sends it: bytes up to the first
/// NUL. Host names are ASCII; anything else is shown lossily.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct SourceName(pub Vec<u8>);

impl fmt::Display for SourceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_ids_read_as_chronyc_prints_them() {
        assert_eq!(RefId(u32::from_be_bytes(*b"PHC0")).to_ascii(), "PHC0");
        assert_eq!(RefId(u32::from_be_bytes(*b"GPS\0")).to_ascii(), "GPS");
        assert_eq!(RefId(u32::from_be_bytes(*b"LOCL")).to_ascii(), "LOCL");
        // The local clock (127.127.1.1) and no reference at all: nothing
        // printable, so chronyc prints an empty name.
        assert_eq!(RefId(0x7F7F_0101).to_ascii(), "");
        assert_eq!(RefId(0).to_ascii(), "");
        assert_eq!(
            RefId(u32::from_be_bytes([b'A', 0x01, b' ', b'B'])).to_ascii(),
            "A B"
        );
    }
}
