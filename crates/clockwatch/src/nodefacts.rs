//! Facts about the node for the cluster view and `clockwatch doctor`: its
//! timezone (from /etc/localtime) and which time daemons run (from /proc).
//! Each reader takes the path to read, so a pod reads the host's files
//! where they are mounted and tests read fixture directories.

use std::io;
use std::path::{Component, Path, PathBuf};

use serde::Serialize;

/// The node's timezone and how it was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Timezone {
    /// An IANA name ("Europe/Paris", "Etc/UTC") when /etc/localtime is a
    /// link into a zoneinfo directory; else the POSIX TZ string of the
    /// TZif file's footer ("CET-1CEST,M3.5.0,M10.5.0/3", "UTC0"), which
    /// names the rules rather than the zone: two zones with the same rules
    /// today read the same.
    pub name: String,
    pub source: TimezoneSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimezoneSource {
    /// The path after `zoneinfo/` in the link's target (what timedatectl
    /// shows). A host's /etc/localtime mounted into a pod as a file is
    /// the file the link points to, not the link: there the footer is used.
    Symlink,
    /// The footer of a TZif (RFC 8536) version 2+ file.
    TzifFooter,
}

#[derive(Debug, thiserror::Error)]
pub enum TimezoneError {
    #[error("{} does not exist (not mounted? without it the C library uses UTC)", path.display())]
    Missing { path: PathBuf },
    #[error("cannot read {}: {source}", path.display())]
    Unreadable { path: PathBuf, source: io::Error },
    #[error("{} is not a TZif file: {reason}", path.display())]
    NotTzif { path: PathBuf, reason: String },
    #[error("{} names no zone: not a link into zoneinfo, and its TZif data has no footer (version 1, or an empty TZ string)", path.display())]
    NoName { path: PathBuf },
}

/// TZif files are a few kB; a file much larger is not one.
const MAX_TZIF_BYTES: u64 = 1 << 20;

/// Reads the timezone from `localtime` (normally /etc/localtime).
pub fn read_timezone(localtime: &Path) -> Result<Timezone, TimezoneError> {
    let unreadable = |source: io::Error| {
        if source.kind() == io::ErrorKind::NotFound {
            TimezoneError::Missing {
                path: localtime.to_path_buf(),
            }
        } else {
            TimezoneError::Unreadable {
                path: localtime.to_path_buf(),
                source,
            }
        }
    };
    let meta = std::fs::symlink_metadata(localtime).map_err(unreadable)?;
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(localtime).map_err(unreadable)?;
        if let Some(name) = zone_from_link_target(&target) {
            return Ok(Timezone {
                name,
                source: TimezoneSource::Symlink,
            });
        }
    }
    let meta = std::fs::metadata(localtime).map_err(unreadable)?;
    if meta.len() > MAX_TZIF_BYTES {
        return Err(TimezoneError::NotTzif {
            path: localtime.to_path_buf(),
            reason: format!("{} bytes", meta.len()),
        });
    }
    let bytes = std::fs::read(localtime).map_err(unreadable)?;
    match tzif_footer(&bytes) {
        Ok(Some(tz)) => Ok(Timezone {
            name: tz,
            source: TimezoneSource::TzifFooter,
        }),
        Ok(None) => Err(TimezoneError::NoName {
            path: localtime.to_path_buf(),
        }),
        Err(reason) => Err(TimezoneError::NotTzif {
            path: localtime.to_path_buf(),
            reason,
        }),
    }
}

/// The zone name in a link target: the components after the last
/// `zoneinfo` directory (`../usr/share/zoneinfo/Europe/Paris` ->
/// `Europe/Paris`). None if there is no such directory or nothing after it.
pub fn zone_from_link_target(target: &Path) -> Option<String> {
    let parts: Vec<&str> = target
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => s.to_str(),
            _ => None,
        })
        .collect();
    let at = parts.iter().rposition(|&p| p == "zoneinfo")?;
    let name = parts.get(at + 1..)?.join("/");
    (!name.is_empty()).then_some(name)
}

/// The POSIX TZ string in the footer of TZif data (RFC 8536, 3.3): after
/// the version 2+ header and data block, between two newlines. Ok(None)
/// for version 1 data or an empty footer; Err for data that is not TZif.
pub fn tzif_footer(data: &[u8]) -> Result<Option<String>, String> {
    let v1 = header(data, 0)?;
    if v1.version == 0 {
        return Ok(None);
    }
    let second = 44 + v1.data_len(4);
    let v2 = header(data, second)?;
    let footer_at = second + 44 + v2.data_len(8);
    let footer = data
        .get(footer_at..)
        .ok_or_else(|| "truncated before its footer".to_string())?;
    let inner = footer
        .strip_prefix(b"\n")
        .and_then(|f| f.strip_suffix(b"\n"))
        .ok_or_else(|| "footer not enclosed in newlines".to_string())?;
    if inner.iter().any(|&b| !(0x20..0x7f).contains(&b)) {
        return Err("footer is not a printable TZ string".to_string());
    }
    Ok((!inner.is_empty()).then(|| String::from_utf8_lossy(inner).into_owned()))
}

struct TzifHeader {
    version: u8,
    counts: [usize; 6],
}

impl TzifHeader {
    /// Bytes of the data block after this header, with transition times
    /// of `time_size` bytes (4 in version 1's block, 8 in the second).
    fn data_len(&self, time_size: usize) -> usize {
        let [isut, isstd, leap, time, typ, chars] = self.counts;
        time * time_size + time + typ * 6 + chars + leap * (time_size + 4) + isstd + isut
    }
}

fn header(data: &[u8], at: usize) -> Result<TzifHeader, String> {
    let h = data
        .get(at..at + 44)
        .ok_or_else(|| format!("truncated header at byte {at}"))?;
    if &h[..4] != b"TZif" {
        return Err(format!("no TZif magic at byte {at}"));
    }
    let version = match h[4] {
        0 => 0,
        v @ b'2'..=b'9' => v - b'0',
        other => return Err(format!("unknown version byte {other:#04x}")),
    };
    let mut counts = [0usize; 6];
    for (i, c) in counts.iter_mut().enumerate() {
        let b = &h[20 + 4 * i..24 + 4 * i];
        *c = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
    }
    Ok(TzifHeader { version, counts })
}

/// A daemon that keeps time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeDaemon {
    Chronyd,
    SystemdTimesyncd,
    Ptp4l,
    Phc2sys,
    /// ntp.org's ntpd or OpenNTPD (same command name).
    Ntpd,
    /// ntpd-rs's daemon.
    NtpdRs,
}

impl TimeDaemon {
    pub const ALL: [TimeDaemon; 6] = [
        TimeDaemon::Chronyd,
        TimeDaemon::SystemdTimesyncd,
        TimeDaemon::Ptp4l,
        TimeDaemon::Phc2sys,
        TimeDaemon::Ntpd,
        TimeDaemon::NtpdRs,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TimeDaemon::Chronyd => "chronyd",
            TimeDaemon::SystemdTimesyncd => "systemd-timesyncd",
            TimeDaemon::Ptp4l => "ptp4l",
            TimeDaemon::Phc2sys => "phc2sys",
            TimeDaemon::Ntpd => "ntpd",
            TimeDaemon::NtpdRs => "ntp-daemon",
        }
    }

    /// The name in /proc/PID/comm, which the kernel cuts to 15 bytes
    /// ("systemd-timesyncd" is "systemd-timesyn" there).
    pub fn from_comm(comm: &str) -> Option<Self> {
        let comm = comm.trim_end_matches('\n');
        Self::ALL.into_iter().find(|d| {
            let name = d.as_str();
            comm == &name[..name.len().min(15)]
        })
    }
}

/// One running time daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunningDaemon {
    pub daemon: TimeDaemon,
    pub pid: u32,
    /// Whether, by its command line, it may steer the system clock:
    /// chronyd unless `-x` (or `-Q`), ptp4l only with `-S` (software
    /// timestamps: its clock is the system clock), phc2sys unless its `-c`
    /// names another clock than CLOCK_REALTIME, the others always.
    pub steers_system_clock: bool,
}

/// The time daemons running, from `proc` (normally /proc; in a pod the
/// host's only with `hostPID: true`), by pid. Processes that vanish while
/// being read are skipped.
pub fn running_time_daemons(proc: &Path) -> io::Result<Vec<RunningDaemon>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(proc)? {
        let entry = entry?;
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(comm) = std::fs::read_to_string(entry.path().join("comm")) else {
            continue;
        };
        let Some(daemon) = TimeDaemon::from_comm(&comm) else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let args: Vec<String> = cmdline
            .split(|&b| b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        found.push(RunningDaemon {
            daemon,
            pid,
            steers_system_clock: steers_system_clock(daemon, &args),
        });
    }
    found.sort_by_key(|d| d.pid);
    Ok(found)
}

fn steers_system_clock(daemon: TimeDaemon, args: &[String]) -> bool {
    let has = |flag: &str| args.iter().skip(1).any(|a| a == flag);
    match daemon {
        TimeDaemon::Chronyd => !has("-x") && !has("-Q"),
        TimeDaemon::Ptp4l => has("-S"),
        TimeDaemon::Phc2sys => match args.iter().skip(1).position(|a| a == "-c") {
            Some(i) => args.get(i + 2).is_none_or(|c| c == "CLOCK_REALTIME"),
            None => true,
        },
        TimeDaemon::SystemdTimesyncd | TimeDaemon::Ntpd | TimeDaemon::NtpdRs => true,
    }
}

/// The daemons that may steer the system clock, when there are two or more
/// of them (two kinds, or two instances of one: "daemons fighting over the
/// clock"); else empty.
pub fn fighting_daemons(running: &[RunningDaemon]) -> Vec<&RunningDaemon> {
    let steering: Vec<&RunningDaemon> = running.iter().filter(|d| d.steers_system_clock).collect();
    if steering.len() >= 2 {
        steering
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tzif(version: u8, footer: &[u8]) -> Vec<u8> {
        // One transition, two types, 8 bytes of designations, no leap
        // seconds, per RFC 8536's layout.
        let counts = |time_size: usize| {
            let mut h = Vec::new();
            h.extend_from_slice(b"TZif");
            h.push(version);
            h.extend_from_slice(&[0; 15]);
            for c in [2u32, 2, 0, 1, 2, 8] {
                h.extend_from_slice(&c.to_be_bytes());
            }
            // Data: times, type indices, ttinfo, designations, std, ut.
            h.extend(std::iter::repeat_n(0xAA, time_size));
            h.push(1);
            h.extend_from_slice(&[0, 0, 0x0e, 0x10, 0, 0]);
            h.extend_from_slice(&[0, 0, 0x1c, 0x20, 1, 4]);
            h.extend_from_slice(b"CET\0CEST");
            h.extend_from_slice(&[0, 0, 0, 0]);
            h
        };
        let mut data = counts(4);
        if version != 0 {
            data.extend(counts(8));
            data.extend_from_slice(footer);
        }
        data
    }

    #[test]
    fn footer_of_version_2_and_3_files() {
        let tz = b"\nCET-1CEST,M3.5.0,M10.5.0/3\n";
        for v in [b'2', b'3', b'4'] {
            assert_eq!(
                tzif_footer(&tzif(v, tz)),
                Ok(Some("CET-1CEST,M3.5.0,M10.5.0/3".to_string()))
            );
        }
        assert_eq!(tzif_footer(&tzif(b'2', b"\n\n")), Ok(None));
        assert_eq!(tzif_footer(&tzif(0, b"")), Ok(None));
    }

    #[test]
    fn footer_of_the_systems_own_zoneinfo_when_present() {
        // Debian's tzdata, if installed here: a real file, not our fixture.
        let paris = Path::new("/usr/share/zoneinfo/Europe/Paris");
        if let Ok(data) = std::fs::read(paris) {
            assert_eq!(
                tzif_footer(&data),
                Ok(Some("CET-1CEST,M3.5.0,M10.5.0/3".to_string()))
            );
        }
    }

    #[test]
    fn what_is_not_tzif_is_said() {
        assert!(tzif_footer(b"hello").is_err_and(|e| e.contains("truncated")));
        let mut bad = tzif(b'2', b"\nUTC0\n");
        bad[0] = b'X';
        assert!(tzif_footer(&bad).is_err_and(|e| e.contains("magic")));
        let cut = tzif(b'2', b"\nUTC0\n");
        assert!(tzif_footer(&cut[..cut.len() - 1]).is_err_and(|e| e.contains("newlines")));
        assert!(tzif_footer(&tzif(b'2', b"\nUTC\x010\n")).is_err_and(|e| e.contains("printable")));
        let mut v = tzif(b'2', b"\nUTC0\n");
        v[4] = b'x';
        assert!(tzif_footer(&v).is_err_and(|e| e.contains("version")));
    }

    #[test]
    fn zone_names_from_link_targets() {
        let z = |t: &str| zone_from_link_target(Path::new(t));
        assert_eq!(
            z("/usr/share/zoneinfo/Europe/Paris").as_deref(),
            Some("Europe/Paris")
        );
        assert_eq!(
            z("../usr/share/zoneinfo/Etc/UTC").as_deref(),
            Some("Etc/UTC")
        );
        assert_eq!(z("/usr/share/zoneinfo/UTC").as_deref(), Some("UTC"));
        assert_eq!(
            z("/usr/share/zoneinfo/posix/America/New_York").as_deref(),
            Some("posix/America/New_York")
        );
        assert_eq!(z("/usr/share/zoneinfo/"), None);
        assert_eq!(z("/etc/custom-zone"), None);
    }

    #[test]
    fn read_timezone_from_fixture_directories() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let d = dir.path();
        let zoneinfo = d.join("usr/share/zoneinfo/Europe");
        std::fs::create_dir_all(&zoneinfo).unwrap_or_else(|e| panic!("{e}"));
        let paris = zoneinfo.join("Paris");
        std::fs::write(&paris, tzif(b'2', b"\nCET-1CEST,M3.5.0,M10.5.0/3\n"))
            .unwrap_or_else(|e| panic!("{e}"));

        // A link into zoneinfo: the name, even when the target is absent.
        let link = d.join("localtime-link");
        symlink("/nonexistent/usr/share/zoneinfo/Asia/Tokyo", &link)
            .unwrap_or_else(|e| panic!("{e}"));
        let tz = read_timezone(&link).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(tz.name, "Asia/Tokyo");
        assert_eq!(tz.source, TimezoneSource::Symlink);

        // A plain file (a host's link mounted into a pod): the footer.
        let tz = read_timezone(&paris).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(tz.name, "CET-1CEST,M3.5.0,M10.5.0/3");
        assert_eq!(tz.source, TimezoneSource::TzifFooter);

        // A link outside any zoneinfo: the footer of what it points to.
        let other = d.join("localtime-custom");
        symlink(&paris, d.join("custom")).unwrap_or_else(|e| panic!("{e}"));
        symlink(d.join("custom"), &other).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            read_timezone(&other).map(|t| t.source).ok(),
            Some(TimezoneSource::TzifFooter)
        );

        // Missing, version 1, not TZif, a dangling link without a name.
        assert!(matches!(
            read_timezone(&d.join("none")),
            Err(TimezoneError::Missing { .. })
        ));
        let v1 = d.join("v1");
        std::fs::write(&v1, tzif(0, b"")).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            read_timezone(&v1),
            Err(TimezoneError::NoName { .. })
        ));
        let text = d.join("text");
        std::fs::write(&text, "Europe/Paris\n").unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            read_timezone(&text),
            Err(TimezoneError::NotTzif { .. })
        ));
        let dangling = d.join("dangling");
        symlink(d.join("gone"), &dangling).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            read_timezone(&dangling),
            Err(TimezoneError::Missing { .. })
        ));
    }

    #[test]
    fn comm_names_cut_at_fifteen_bytes() {
        assert_eq!(
            TimeDaemon::from_comm("systemd-timesyn\n"),
            Some(TimeDaemon::SystemdTimesyncd)
        );
        assert_eq!(
            TimeDaemon::from_comm("chronyd\n"),
            Some(TimeDaemon::Chronyd)
        );
        assert_eq!(
            TimeDaemon::from_comm("ntp-daemon"),
            Some(TimeDaemon::NtpdRs)
        );
        assert_eq!(TimeDaemon::from_comm("chronyc\n"), None);
        assert_eq!(TimeDaemon::from_comm("systemd-timesyncd"), None);
    }

    fn process(proc: &Path, pid: u32, comm: &str, args: &[&str]) {
        let d = proc.join(pid.to_string());
        std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(d.join("comm"), format!("{comm}\n")).unwrap_or_else(|e| panic!("{e}"));
        let mut cmdline = Vec::new();
        for a in args {
            cmdline.extend_from_slice(a.as_bytes());
            cmdline.push(0);
        }
        std::fs::write(d.join("cmdline"), cmdline).unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn time_daemons_from_a_fixture_proc() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let proc = dir.path();
        process(proc, 1, "systemd", &["/sbin/init"]);
        process(proc, 812, "chronyd", &["/usr/sbin/chronyd", "-F", "1"]);
        process(
            proc,
            900,
            "chronyd",
            &["chronyd", "-x", "-f", "/tmp/c.conf"],
        );
        process(
            proc,
            77,
            "systemd-timesyn",
            &["/lib/systemd/systemd-timesyncd"],
        );
        process(
            proc,
            1200,
            "ptp4l",
            &["ptp4l", "-i", "eth0", "-f", "gm.cfg"],
        );
        process(proc, 1201, "ptp4l", &["ptp4l", "-2", "-S", "-i", "veth0"]);
        process(
            proc,
            1300,
            "phc2sys",
            &["phc2sys", "-s", "eth0", "-c", "CLOCK_REALTIME"],
        );
        process(
            proc,
            1301,
            "phc2sys",
            &["phc2sys", "-s", "eth0", "-c", "/dev/ptp1"],
        );
        process(proc, 1400, "bash", &["bash"]);
        // Not a process directory, and a process that vanished (no comm).
        std::fs::create_dir_all(proc.join("sys")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::create_dir_all(proc.join("4242")).unwrap_or_else(|e| panic!("{e}"));

        let running = running_time_daemons(proc).unwrap_or_else(|e| panic!("{e}"));
        let seen: Vec<(u32, TimeDaemon, bool)> = running
            .iter()
            .map(|d| (d.pid, d.daemon, d.steers_system_clock))
            .collect();
        assert_eq!(
            seen,
            vec![
                (77, TimeDaemon::SystemdTimesyncd, true),
                (812, TimeDaemon::Chronyd, true),
                (900, TimeDaemon::Chronyd, false),
                (1200, TimeDaemon::Ptp4l, false),
                (1201, TimeDaemon::Ptp4l, true),
                (1300, TimeDaemon::Phc2sys, true),
                (1301, TimeDaemon::Phc2sys, false),
            ]
        );
        let fighting: Vec<u32> = fighting_daemons(&running).iter().map(|d| d.pid).collect();
        assert_eq!(fighting, vec![77, 812, 1201, 1300]);
    }

    #[test]
    fn one_steering_daemon_is_no_fight() {
        let d = |daemon, pid, steers| RunningDaemon {
            daemon,
            pid,
            steers_system_clock: steers,
        };
        // chronyd steering, a -x chronyd and a PHC-only ptp4l beside it.
        let calm = [
            d(TimeDaemon::Chronyd, 1, true),
            d(TimeDaemon::Chronyd, 2, false),
            d(TimeDaemon::Ptp4l, 3, false),
        ];
        assert!(fighting_daemons(&calm).is_empty());
        // Two steering instances of one daemon fight as well.
        let twins = [
            d(TimeDaemon::Chronyd, 1, true),
            d(TimeDaemon::Chronyd, 2, true),
        ];
        assert_eq!(fighting_daemons(&twins).len(), 2);
    }

    #[test]
    fn the_live_proc_is_readable() {
        // Whatever runs here, reading /proc must work and find only
        // daemons whose comm matches.
        let running = running_time_daemons(Path::new("/proc")).unwrap_or_else(|e| panic!("{e}"));
        for d in running {
            let comm = std::fs::read_to_string(format!("/proc/{}/comm", d.pid)).unwrap_or_default();
            if !comm.is_empty() {
                assert_eq!(TimeDaemon::from_comm(&comm), Some(d.daemon));
            }
        }
    }
}
