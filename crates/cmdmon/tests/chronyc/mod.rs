//! What `chronyc -c` prints for each chrony version, and decoded replies
//! compared with it field by field: the independent source every value is
//! checked against.
//!
//! Shared by cmdmon's golden tests (replies and chronyc's output captured
//! together) and clockwatch's tests against live daemons, which include this
//! file by path (`#[path]`), so that both check the same thing the same way.
//!
//! The column counts are those of chronyc's CSV reports as each release's
//! manual documents them: a chronyc that prints another number of fields
//! fails the comparison, it is not read past its end.
#![allow(dead_code)] // each test binary uses a different part

use cmdmon::{
    Activity, Address, NtpData, ServerStats, ServerStatsFormat, SourceData, SourceName,
    SourceStats, Tracking,
};

/// The versions the tests run side by side: Debian bullseye's, bookworm's,
/// trixie's and sid's chrony (docs/chrony-versions.md).
pub const MATRIX: [&str; 4] = ["4.0", "4.3", "4.6.1", "4.9"];

/// A chrony release number, ordered: 4.0 < 4.3 < 4.6.1 < 4.9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32, pub u32, pub u32);

impl Version {
    /// "4.6.1" or "4.3"; None for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split('.').map(|p| p.parse::<u32>().ok());
        let major = parts.next()??;
        let minor = parts.next()??;
        let patch = parts.next().unwrap_or(Some(0))?;
        parts.next().is_none().then_some(Self(major, minor, patch))
    }

    fn at_least(self, major: u32, minor: u32) -> bool {
        self >= Self(major, minor, 0)
    }

    /// Fields of `chronyc -c ntpdata`: "Total good RX" came with 4.3, the
    /// kernel and hardware timestamp counts (NTP_DATA2) with 4.6.
    pub fn ntpdata_columns(self) -> usize {
        if self.at_least(4, 6) {
            38
        } else if self.at_least(4, 3) {
            34
        } else {
            33
        }
    }

    /// Fields of `chronyc -c serverstats`: 8 in 4.0 and 4.1
    /// (SERVER_STATS2), 11 in 4.2 and 4.3 (SERVER_STATS3: interleaved
    /// mode), 17 from 4.4 (SERVER_STATS4: timestamp sources).
    pub fn serverstats_columns(self) -> usize {
        if self.at_least(4, 4) {
            17
        } else if self.at_least(4, 2) {
            11
        } else {
            8
        }
    }

    /// The server statistics reply this version answers with.
    pub fn server_stats_format(self) -> ServerStatsFormat {
        if self.at_least(4, 4) {
            ServerStatsFormat::V4
        } else if self.at_least(4, 2) {
            ServerStatsFormat::V3
        } else if self.at_least(4, 0) {
            ServerStatsFormat::V2
        } else {
            ServerStatsFormat::V1
        }
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.2 {
            0 => write!(f, "{}.{}", self.0, self.1),
            patch => write!(f, "{}.{}.{patch}", self.0, self.1),
        }
    }
}

/// Fields of the reports that did not change from 4.0 to 4.9.
pub const TRACKING_COLUMNS: usize = 14;
pub const SOURCES_COLUMNS: usize = 10;
pub const SOURCESTATS_COLUMNS: usize = 8;
pub const ACTIVITY_COLUMNS: usize = 5;

/// Parses one CSV line of chronyc into fields.
pub fn csv_fields(line: &str) -> Vec<String> {
    line.trim().split(',').map(str::to_string).collect()
}

/// The fields of `line`, which must be exactly `expected` of them.
fn columns(report: &str, line: &str, expected: usize) -> Result<Vec<String>, String> {
    let f = csv_fields(line);
    if f.len() == expected {
        Ok(f)
    } else {
        Err(format!(
            "chronyc {report} printed {} fields, this version documents {expected}: {line:?}",
            f.len()
        ))
    }
}

pub fn same<T: PartialEq + std::fmt::Debug>(what: &str, ours: T, theirs: T) -> Result<(), String> {
    if ours == theirs {
        Ok(())
    } else {
        Err(format!("{what}: ours {ours:?} vs chronyc {theirs:?}"))
    }
}

/// Compares a value we read with chronyc's printed one, within chrony's
/// float precision (relative 2^-23) plus `abs_slack` for chronyc's rounding.
pub fn close(what: &str, ours: f64, theirs: &str, abs_slack: f64) -> Result<(), String> {
    let theirs: f64 = theirs
        .parse()
        .map_err(|e| format!("{what}: chronyc printed {theirs:?}: {e}"))?;
    let tol = ours.abs().max(theirs.abs()) * 2f64.powi(-23) + abs_slack;
    if (ours - theirs).abs() <= tol {
        Ok(())
    } else {
        Err(format!("{what}: ours {ours:e} vs chronyc {theirs:e}"))
    }
}

/// For values chronyd computes when it answers (the correction shrinks as it
/// slews, the dispersion grows): chronyc's reading, taken between two of
/// ours, must lie between them.
pub fn between(what: &str, before: f64, theirs: &str, after: f64) -> Result<(), String> {
    let theirs: f64 = theirs
        .parse()
        .map_err(|e| format!("{what}: chronyc printed {theirs:?}: {e}"))?;
    let tol = before.abs().max(after.abs()) * 2f64.powi(-23) + 5e-10;
    if theirs >= before.min(after) - tol && theirs <= before.max(after) + tol {
        Ok(())
    } else {
        Err(format!(
            "{what}: chronyc {theirs:e} not between ours {before:e} and {after:e}"
        ))
    }
}

/// `chronyc -c tracking` against the replies taken just before and after it.
pub fn tracking(t: &Tracking, line: &str, after: &Tracking) -> Result<(), String> {
    let f = columns("tracking", line, TRACKING_COLUMNS)?;
    same("same reference update", t.ref_time, after.ref_time)?;
    same("ref id", t.ref_id.to_hex(), f[0].clone())?;
    same("address", t.ip_addr.to_string(), f[1].clone())?;
    same("stratum", t.stratum.to_string(), f[2].clone())?;
    same("ref time", timespec(t.ref_time), f[3].clone())?;
    between(
        "system time",
        t.current_correction,
        &f[4],
        after.current_correction,
    )?;
    close("last offset", t.last_offset, &f[5], 5e-10)?;
    close("rms offset", t.rms_offset, &f[6], 5e-10)?;
    close("frequency", t.freq_ppm, &f[7], 5e-4)?;
    close("residual frequency", t.resid_freq_ppm, &f[8], 5e-4)?;
    close("skew", t.skew_ppm, &f[9], 5e-4)?;
    close("root delay", t.root_delay, &f[10], 5e-10)?;
    between(
        "root dispersion",
        t.root_dispersion,
        &f[11],
        after.root_dispersion,
    )?;
    close("update interval", t.last_update_interval, &f[12], 0.05)?;
    same("leap status", t.leap_status.as_str(), f[13].as_str())
}

/// One line of `chronyc -c -n sources`, against the source's data taken
/// just before and after it: the time since the last sample and the offset
/// adjusted for later slews move on between the two, the rest must not.
/// (The reply's option flags are not in that report.)
pub fn source(s: &SourceData, line: &str, after: &SourceData) -> Result<(), String> {
    let f = columns("sources", line, SOURCES_COLUMNS)?;
    same(
        "the same sample before and after chronyc",
        (s.ip_addr, s.reachability, s.orig_latest_meas.to_bits()),
        (
            after.ip_addr,
            after.reachability,
            after.orig_latest_meas.to_bits(),
        ),
    )?;
    same("mode", s.mode.symbol().to_string(), f[0].clone())?;
    same("state", s.state.symbol().to_string(), f[1].clone())?;
    same("name", s.ip_addr.to_string(), f[2].clone())?;
    same("stratum", s.stratum.to_string(), f[3].clone())?;
    same("poll", s.poll.to_string(), f[4].clone())?;
    same("reach", format!("{:o}", s.reachability), f[5].clone())?;
    between(
        "last rx",
        s.since_sample.into(),
        &f[6],
        after.since_sample.into(),
    )?;
    between("adjusted offset", s.latest_meas, &f[7], after.latest_meas)?;
    close("measured offset", s.orig_latest_meas, &f[8], 5e-10)?;
    close("error", s.latest_meas_err, &f[9], 5e-10)
}

/// One line of `chronyc -c -n sourcestats`, against the statistics taken
/// just before and after it: the estimated offset is extrapolated to the
/// moment chronyd answers, the rest must not move. (The reply's estimated
/// offset error is not in that report; its ref id is, for an NTP source,
/// the address, which is.)
pub fn sourcestats(s: &SourceStats, line: &str, after: &SourceStats) -> Result<(), String> {
    let f = columns("sourcestats", line, SOURCESTATS_COLUMNS)?;
    same(
        "the same samples before and after chronyc",
        (
            s.ip_addr,
            s.n_samples,
            s.span_seconds,
            s.resid_freq_ppm.to_bits(),
        ),
        (
            after.ip_addr,
            after.n_samples,
            after.span_seconds,
            after.resid_freq_ppm.to_bits(),
        ),
    )?;
    same("name", s.ip_addr.to_string(), f[0].clone())?;
    if let Some(v4) = ipv4_refid(s.ip_addr) {
        same("ref id of an NTP source", s.ref_id.to_hex(), v4)?;
    }
    same("samples", s.n_samples.to_string(), f[1].clone())?;
    same("runs", s.n_runs.to_string(), f[2].clone())?;
    same("span", s.span_seconds.to_string(), f[3].clone())?;
    close("frequency", s.resid_freq_ppm, &f[4], 5e-4)?;
    close("skew", s.skew_ppm, &f[5], 5e-4)?;
    between("offset", s.est_offset, &f[6], after.est_offset)?;
    close("std dev", s.std_dev, &f[7], 5e-10)
}

/// `chronyc -c ntpdata ADDRESS`, every field this version prints; the
/// counters it does not print must be what that version sends (a reserved
/// word of ones, or nothing).
pub fn ntpdata(version: Version, d: &NtpData, line: &str) -> Result<(), String> {
    let f = columns("ntpdata", line, version.ntpdata_columns())?;
    same("remote", d.remote_addr.to_string(), f[0].clone())?;
    if let Some(hex) = ipv4_refid(d.remote_addr) {
        same("remote as ref id", hex, f[1].clone())?;
    }
    same("port", d.remote_port.to_string(), f[2].clone())?;
    same("local", d.local_addr.to_string(), f[3].clone())?;
    if let Some(hex) = ipv4_refid(d.local_addr) {
        same("local as ref id", hex, f[4].clone())?;
    }
    same("leap", leap_words(d.leap), f[5].as_str())?;
    same("version", d.version.to_string(), f[6].clone())?;
    same("mode", mode_words(d.mode), f[7].as_str())?;
    same("stratum", d.stratum.to_string(), f[8].clone())?;
    same("poll", d.poll.to_string(), f[9].clone())?;
    close("poll interval", 2f64.powi(d.poll.into()), &f[10], 0.5)?;
    same("precision", d.precision.to_string(), f[11].clone())?;
    close("precision", 2f64.powi(d.precision.into()), &f[12], 5e-10)?;
    close("root delay", d.root_delay, &f[13], 5e-7)?;
    close("root dispersion", d.root_dispersion, &f[14], 5e-7)?;
    same("ref id", d.ref_id.to_hex(), f[15].clone())?;
    // chronyc names the reference only of a stratum-1 server, and drops
    // the bytes it cannot print.
    let name: String = if d.stratum <= 1 {
        d.ref_id
            .0
            .to_be_bytes()
            .iter()
            .filter(|b| b.is_ascii_graphic() || **b == b' ')
            .map(|&b| b as char)
            .collect()
    } else {
        String::new()
    };
    same("ref name", name, f[16].clone())?;
    same("ref time", timespec(d.ref_time), f[17].clone())?;
    close("offset", d.offset, &f[18], 5e-10)?;
    close("peer delay", d.peer_delay, &f[19], 5e-10)?;
    close("peer dispersion", d.peer_dispersion, &f[20], 5e-10)?;
    close("response time", d.response_time, &f[21], 5e-10)?;
    close("jitter asymmetry", d.jitter_asymmetry, &f[22], 5e-3)?;
    // The ten test bits, as three groups of binary digits.
    let tests = [
        format!("{:03b}", (d.flags >> 7) & 0x7),
        format!("{:03b}", (d.flags >> 4) & 0x7),
        format!("{:04b}", d.flags & 0xf),
    ];
    same("NTP tests", tests.to_vec(), f[23..26].to_vec())?;
    same("interleaved", yes_no(d.flags & 0x4000 != 0), f[26].as_str())?;
    same(
        "authenticated",
        yes_no(d.flags & 0x8000 != 0),
        f[27].as_str(),
    )?;
    same(
        "TX timestamping",
        stamp_words(d.tx_tss_char),
        f[28].as_str(),
    )?;
    same(
        "RX timestamping",
        stamp_words(d.rx_tss_char),
        f[29].as_str(),
    )?;
    same("total tx", d.total_tx_count.to_string(), f[30].clone())?;
    same("total rx", d.total_rx_count.to_string(), f[31].clone())?;
    same(
        "total valid",
        d.total_valid_count.to_string(),
        f[32].clone(),
    )?;
    match f.get(33) {
        Some(good) => same("total good", d.total_good_count.to_string(), good.clone())?,
        // A reserved word before 4.3, which chronyd fills with ones.
        None => same(
            "total good (not printed: reserved)",
            d.total_good_count,
            u32::MAX,
        )?,
    }
    match (&d.extended, f.get(34..38)) {
        (Some(x), Some(printed)) => same(
            "kernel TX, kernel RX, hardware TX, hardware RX timestamps",
            [
                x.total_kernel_tx_ts,
                x.total_kernel_rx_ts,
                x.total_hw_tx_ts,
                x.total_hw_rx_ts,
            ]
            .map(|v| v.to_string())
            .to_vec(),
            printed.to_vec(),
        ),
        (None, None) => Ok(()),
        (ours, _) => Err(format!(
            "chrony {version} prints {} ntpdata fields, but the reply's timestamp counts are {ours:?}",
            f.len()
        )),
    }
}

/// `chronyc -c serverstats`, taken just after our request: every field this
/// version prints, in its order; the counters it does not print must be
/// absent from the reply, and the reply must be this version's.
pub fn serverstats(version: Version, s: &ServerStats, line: &str) -> Result<(), String> {
    let f = columns("serverstats", line, version.serverstats_columns())?;
    same("reply format", s.format, version.server_stats_format())?;
    // chronyc's order, which is not the reply's.
    let ours = [
        ("NTP packets received", Some(s.ntp_hits)),
        ("NTP packets dropped", Some(s.ntp_drops)),
        ("command packets received", Some(s.cmd_hits)),
        ("command packets dropped", Some(s.cmd_drops)),
        ("client log records dropped", Some(s.log_drops)),
        ("NTS-KE connections accepted", s.nke_hits),
        ("NTS-KE connections dropped", s.nke_drops),
        ("authenticated NTP packets", s.ntp_auth_hits),
        ("interleaved NTP packets", s.ntp_interleaved_hits),
        ("NTP timestamps held", s.ntp_timestamps),
        ("NTP timestamp span", s.ntp_span_seconds),
        ("NTP daemon RX timestamps", s.ntp_daemon_rx_timestamps),
        ("NTP daemon TX timestamps", s.ntp_daemon_tx_timestamps),
        ("NTP kernel RX timestamps", s.ntp_kernel_rx_timestamps),
        ("NTP kernel TX timestamps", s.ntp_kernel_tx_timestamps),
        ("NTP hardware RX timestamps", s.ntp_hw_rx_timestamps),
        ("NTP hardware TX timestamps", s.ntp_hw_tx_timestamps),
    ];
    for (i, (what, value)) in ours.iter().enumerate() {
        match (value, f.get(i)) {
            (Some(ours), Some(theirs)) => {
                let theirs: u64 = theirs
                    .parse()
                    .map_err(|e| format!("{what}: chronyc printed {theirs:?}: {e}"))?;
                // chronyc's own request is counted after ours (and a
                // concurrent chronyc's, if any).
                let fits = if i == 2 {
                    theirs > *ours && theirs <= ours + 10
                } else {
                    theirs == *ours
                };
                if !fits {
                    return Err(format!("{what}: ours {ours} vs chronyc {theirs}"));
                }
            }
            (None, None) => {}
            (Some(v), None) => {
                return Err(format!(
                    "{what}: decoded {v} from a chrony {version} reply, which has no such field"
                ))
            }
            (None, Some(theirs)) => {
                return Err(format!("{what}: chronyc printed {theirs}, not decoded"))
            }
        }
    }
    Ok(())
}

/// `chronyc -c activity`.
pub fn activity(a: &Activity, line: &str) -> Result<(), String> {
    let f = columns("activity", line, ACTIVITY_COLUMNS)?;
    same(
        "online, offline, burst online, burst offline, unresolved",
        [
            a.online,
            a.offline,
            a.burst_online,
            a.burst_offline,
            a.unresolved,
        ]
        .map(|v| v.to_string())
        .to_vec(),
        f,
    )
}

/// The line of `chronyc -c -N sources` for the same source: the name as
/// configured.
pub fn source_name(name: &SourceName, line: &str) -> Result<(), String> {
    let f = columns("-N sources", line, SOURCES_COLUMNS)?;
    same("configured name", name.to_string(), f[2].clone())
}

/// Seconds and nanoseconds as chronyc prints a time in CSV.
fn timespec(t: cmdmon::Timespec) -> String {
    format!("{}.{:09}", t.seconds, t.nanos)
}

/// An IPv4 address as chronyc prints it as a reference ID.
fn ipv4_refid(address: Address) -> Option<String> {
    match address {
        Address::V4(ip) => Some(format!("{:08X}", u32::from(ip))),
        _ => None,
    }
}

fn yes_no(flag: bool) -> &'static str {
    if flag {
        "Yes"
    } else {
        "No"
    }
}

/// NTP leap indicator as chronyc words it.
fn leap_words(leap: u8) -> &'static str {
    match leap {
        0 => "Normal",
        1 => "Insert second",
        2 => "Delete second",
        3 => "Not synchronised",
        _ => "Invalid",
    }
}

/// NTP association mode as chronyc words it (only modes a source reports).
fn mode_words(mode: u8) -> &'static str {
    match mode {
        1 => "Symmetric active",
        2 => "Symmetric passive",
        4 => "Server",
        _ => "Invalid",
    }
}

/// Where a timestamp was taken: daemon, kernel or hardware.
fn stamp_words(source: u8) -> &'static str {
    match source {
        b'D' => "Daemon",
        b'K' => "Kernel",
        b'H' => "Hardware",
        _ => "Invalid",
    }
}
