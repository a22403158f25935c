//! `clockwatch doctor`: the node time-sync checklist, each check OK, WARN,
//! FAIL or SKIP (cannot tell here, or not applicable) with the fix in one
//! line.
//!
//! Data flows one way: [`gather`] reads the node (one collection and its
//! verdict, /proc, chrony.conf, /etc/localtime, one NTP probe of the
//! selected server) into [`Facts`]; [`checks`] is a pure function of them;
//! [`text`] and [`json`] format the result. The verdict is not recomputed
//! here: the daemon check reports the one verdict.

pub mod gather;

use serde::Serialize;

use crate::collect::Snapshot;
use crate::nodefacts::{RunningDaemon, TimeDaemon, Timezone};
use crate::probe::ProbeResult;
use crate::verdict::{Daemon, SyncState, Verdict};
use cmdmon::SourceState;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Status {
    #[serde(rename = "OK")]
    Ok,
    /// Not applicable, or nothing here can tell: counts as OK.
    #[serde(rename = "SKIP")]
    Skip,
    #[serde(rename = "WARN")]
    Warn,
    #[serde(rename = "FAIL")]
    Fail,
}

impl Status {
    pub fn word(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Skip => "SKIP",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        }
    }

    /// Exit codes as `clockwatch check`'s: 0 OK, 1 WARNING, 2 CRITICAL.
    pub fn exit_code(self) -> u8 {
        match self {
            Status::Ok | Status::Skip => 0,
            Status::Warn => 1,
            Status::Fail => 2,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable: daemon, kernel_sync, makestep, sources, server_answers,
    /// timezone, daemons_fighting.
    pub name: &'static str,
    pub status: Status,
    pub message: String,
    /// What to do, in one line; empty when nothing is to be done.
    pub fix: String,
}

fn check(name: &'static str, status: Status, message: String, fix: &str) -> Check {
    Check {
        name,
        status,
        message,
        fix: fix.to_string(),
    }
}

/// What chrony.conf says, when it could be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChronyConf {
    Read {
        path: String,
        makestep: bool,
        rtcsync: bool,
    },
    Unreadable(String),
}

/// Everything the checks need.
#[derive(Debug)]
pub struct Facts<'a> {
    pub snapshot: &'a Snapshot,
    pub verdict: &'a Verdict,
    /// The time daemons running (None: /proc unreadable, the message).
    pub running: Result<Vec<RunningDaemon>, String>,
    /// chrony.conf, when the verdict rests on chronyd.
    pub chrony_conf: Option<ChronyConf>,
    /// The probe of the selected server (None: no server to probe).
    pub probe: Option<ProbeResult>,
    /// `--expect-timezone` and what the node's file says.
    pub expect_timezone: Option<String>,
    pub timezone: Option<Result<Timezone, String>>,
}

/// The checklist, in order.
pub fn checks(f: &Facts) -> Vec<Check> {
    let mut out = vec![daemon(f), kernel_sync(f)];
    if f.verdict.daemon == Daemon::Chrony {
        out.push(makestep(f));
    }
    out.push(sources(f));
    out.push(server_answers(f));
    if let Some(expected) = &f.expect_timezone {
        out.push(timezone(expected, f.timezone.as_ref()));
    }
    out.push(fighting(f));
    out
}

/// The worst status of all.
pub fn overall(checks: &[Check]) -> Status {
    checks.iter().map(|c| c.status).max().unwrap_or(Status::Ok)
}

fn daemon_name(d: Daemon) -> &'static str {
    match d {
        Daemon::Chrony => "chronyd",
        Daemon::Ptp4l => "ptp4l",
        Daemon::Timesyncd => "systemd-timesyncd",
        Daemon::Kernel => "the kernel (no daemon read)",
        Daemon::None => "nothing",
    }
}

fn daemon(f: &Facts) -> Check {
    let v = f.verdict;
    let who = daemon_name(v.daemon);
    let reason = v.reason.clone().unwrap_or_default();
    let bound = crate::status::format_seconds(v.bound_seconds);
    match v.state {
        SyncState::Synchronized => check(
            "daemon",
            Status::Ok,
            format!(
                "{who} is synchronised to {}: clock error ≤ {bound}",
                crate::status::reference_words(v)
            ),
            "",
        ),
        SyncState::Stale => check(
            "daemon",
            Status::Warn,
            format!("{who}: stale ({reason}); clock error ≤ {bound} if the reference holds"),
            "check that the server is reachable (UDP 123) and answers: see the sources check",
        ),
        SyncState::Local => check(
            "daemon",
            Status::Fail,
            format!("{who} serves its own local clock: not synchronised to UTC"),
            "give chronyd a server or pool it can reach (chrony.conf server/pool)",
        ),
        SyncState::Unsynchronized => check(
            "daemon",
            Status::Fail,
            format!("{who} is not synchronised: {reason}"),
            match v.daemon {
                Daemon::Timesyncd => "check NTP= in timesyncd.conf and that the server answers (timedatectl timesync-status)",
                _ => "check the daemon's servers and that they answer (chronyc sources -v)",
            },
        ),
        SyncState::Unknown => check(
            "daemon",
            Status::Fail,
            format!("no time daemon could be read: {reason}"),
            "start the node's time daemon (systemctl enable --now chrony or systemd-timesyncd), or point clockwatch at it (--chrony.address, --timesyncd.bus)",
        ),
    }
}

fn kernel_sync(f: &Facts) -> Check {
    let Some(t) = &f.snapshot.timex else {
        return check(
            "kernel_sync",
            Status::Skip,
            "the kernel's clock state (adjtimex) could not be read".into(),
            "",
        );
    };
    if t.synchronized() {
        return check(
            "kernel_sync",
            Status::Ok,
            format!(
                "the kernel says the clock is synchronised (STA_UNSYNC clear; node_timex_sync_status 1), status 0x{:04x}",
                t.status
            ),
            "",
        );
    }
    let daemon_ok = f.verdict.state == SyncState::Synchronized;
    match (f.verdict.daemon, daemon_ok) {
        (Daemon::Chrony, true) => check(
            "kernel_sync",
            Status::Warn,
            "chronyd is synchronised but the kernel's STA_UNSYNC flag is set (node_timex_sync_status 0, timedatectl says \"System clock synchronized: no\")".into(),
            "add rtcsync to chrony.conf (chronyd then tells the kernel the clock is synchronised) and restart chronyd",
        ),
        (_, true) => check(
            "kernel_sync",
            Status::Warn,
            format!(
                "{} is synchronised but the kernel's STA_UNSYNC flag is set",
                daemon_name(f.verdict.daemon)
            ),
            "wait for the daemon's next adjustment; if it stays set, the daemon does not update the kernel's status",
        ),
        (_, false) => check(
            "kernel_sync",
            Status::Fail,
            format!(
                "the kernel says the clock is not synchronised (STA_UNSYNC set, status 0x{:04x})",
                t.status
            ),
            "get the time daemon synchronised first (see the daemon check)",
        ),
    }
}

fn makestep(f: &Facts) -> Check {
    match &f.chrony_conf {
        Some(ChronyConf::Read {
            path,
            makestep: true,
            ..
        }) => check(
            "makestep",
            Status::Ok,
            format!("{path} has makestep: a large offset at start is stepped away"),
            "",
        ),
        Some(ChronyConf::Read {
            path,
            makestep: false,
            ..
        }) => check(
            "makestep",
            Status::Warn,
            format!("{path} has no makestep: a node that starts far off slews for hours (at most 0.5 ms/s)"),
            "add `makestep 1 3` to chrony.conf (step if off by more than 1 s in the first 3 updates)",
        ),
        Some(ChronyConf::Unreadable(why)) => check(
            "makestep",
            Status::Skip,
            format!("unknown: {why}"),
            "",
        ),
        None => check(
            "makestep",
            Status::Skip,
            "unknown: chrony.conf was not read".into(),
            "",
        ),
    }
}

fn sources(f: &Facts) -> Check {
    let snap = f.snapshot;
    match f.verdict.daemon {
        Daemon::Chrony if !snap.chrony.sources.is_empty() => {
            let sources = &snap.chrony.sources;
            let unreachable: Vec<&str> = sources
                .iter()
                .filter(|s| s.data.reachability == 0)
                .map(|s| s.name.as_str())
                .collect();
            let falsetickers: Vec<&str> = sources
                .iter()
                .filter(|s| s.data.state == SourceState::Falseticker)
                .map(|s| s.name.as_str())
                .collect();
            let selected = sources
                .iter()
                .any(|s| s.data.state == SourceState::Selected);
            let summary = sources
                .iter()
                .map(|s| format!("{} reach {:03o}", s.name, s.data.reachability))
                .collect::<Vec<_>>()
                .join(", ");
            if unreachable.len() == sources.len() {
                check(
                    "sources",
                    Status::Fail,
                    format!("no source answers ({summary})"),
                    "let UDP 123 through to the servers (firewall, NetworkPolicy, security group) and check their names resolve",
                )
            } else if !falsetickers.is_empty() {
                check(
                    "sources",
                    Status::Warn,
                    format!(
                        "sources disagree: falseticker {} ({summary})",
                        falsetickers.join(", ")
                    ),
                    "replace the falseticker, or add servers so that a majority agrees (at least 3, better 4)",
                )
            } else if !unreachable.is_empty() || !selected {
                check(
                    "sources",
                    Status::Warn,
                    format!(
                        "{} ({summary})",
                        if selected {
                            format!("unreachable: {}", unreachable.join(", "))
                        } else {
                            "no source selected".to_string()
                        }
                    ),
                    "check UDP 123 to the unreachable servers, or remove them from chrony.conf",
                )
            } else {
                check(
                    "sources",
                    Status::Ok,
                    format!("every source answers and they agree ({summary})"),
                    "",
                )
            }
        }
        Daemon::Chrony => check(
            "sources",
            if snap.chrony.up {
                Status::Fail
            } else {
                Status::Skip
            },
            if snap.chrony.up {
                "chronyd has no sources".into()
            } else {
                "chronyd's sources could not be read".into()
            },
            if snap.chrony.up {
                "add server or pool lines to chrony.conf"
            } else {
                ""
            },
        ),
        Daemon::Timesyncd => {
            let Some(view) = &snap.timesyncd else {
                return check("sources", Status::Skip, "timesyncd was not read".into(), "");
            };
            let a = view.assessment();
            let m = view.result.as_ref().ok().map(|s| &s.ntp_message);
            match (a.state, m) {
                (SyncState::Synchronized, Some(m)) => check(
                    "sources",
                    Status::Ok,
                    format!(
                        "timesyncd's server answers ({} replies, last {} ago); timesyncd uses one server at a time, so nothing checks it agrees",
                        m.packet_count,
                        crate::status::format_seconds(a.sample_age_seconds.unwrap_or(0.0))
                    ),
                    "",
                ),
                _ => check(
                    "sources",
                    Status::Fail,
                    format!("timesyncd's server: {}", a.why.describe()),
                    "let UDP 123 through to the server and check NTP= in timesyncd.conf",
                ),
            }
        }
        _ => check(
            "sources",
            Status::Skip,
            format!(
                "{} has no NTP sources to check",
                daemon_name(f.verdict.daemon)
            ),
            "",
        ),
    }
}

fn server_answers(f: &Facts) -> Check {
    let Some(p) = &f.probe else {
        return check(
            "server_answers",
            Status::Skip,
            "no selected NTP server to probe".into(),
            "",
        );
    };
    match (&p.sample, &p.failure) {
        (Some(s), _) => check(
            "server_answers",
            Status::Ok,
            format!(
                "{} answers NTP: stratum {}, offset {:+.6} s ± {}",
                p.server,
                s.stratum,
                s.offset,
                crate::status::format_seconds(s.uncertainty)
            ),
            "",
        ),
        (None, Some(failure)) => check(
            "server_answers",
            Status::Fail,
            format!("{} does not answer NTP from here: {}", p.server, failure.message),
            "let UDP 123 through between this node and the server (firewall, NetworkPolicy, security group)",
        ),
        (None, None) => check(
            "server_answers",
            Status::Fail,
            format!("{} was not probed", p.server),
            "",
        ),
    }
}

fn timezone(expected: &str, found: Option<&Result<Timezone, String>>) -> Check {
    match found {
        Some(Ok(tz)) if tz.name == expected => check(
            "timezone",
            Status::Ok,
            format!("the timezone is {expected}, as expected"),
            "",
        ),
        Some(Ok(tz)) => check(
            "timezone",
            Status::Fail,
            format!("the timezone is {}, not {expected}", tz.name),
            &format!("timedatectl set-timezone {expected}"),
        ),
        Some(Err(e)) => check(
            "timezone",
            Status::Fail,
            format!("the timezone could not be read: {e}"),
            &format!("timedatectl set-timezone {expected}"),
        ),
        None => check(
            "timezone",
            Status::Skip,
            "the timezone was not read".into(),
            "",
        ),
    }
}

fn fighting(f: &Facts) -> Check {
    let running = match &f.running {
        Ok(r) => r,
        Err(e) => {
            return check(
                "daemons_fighting",
                Status::Skip,
                format!("the running daemons could not be listed: {e}"),
                "",
            )
        }
    };
    let fighting = crate::nodefacts::fighting_daemons(running);
    let list = |ds: &[&RunningDaemon]| {
        ds.iter()
            .map(|d| format!("{} (pid {})", d.daemon.as_str(), d.pid))
            .collect::<Vec<_>>()
            .join(" and ")
    };
    if fighting.is_empty() {
        let steering: Vec<&RunningDaemon> =
            running.iter().filter(|d| d.steers_system_clock).collect();
        return check(
            "daemons_fighting",
            Status::Ok,
            match steering.as_slice() {
                [] => "no time daemon steering the system clock was found in /proc".to_string(),
                one => format!("only {} steers the system clock", list(one)),
            },
            "",
        );
    }
    let fix = if fighting
        .iter()
        .any(|d| d.daemon == TimeDaemon::SystemdTimesyncd)
        && fighting.iter().any(|d| d.daemon == TimeDaemon::Chronyd)
    {
        "keep one: systemctl disable --now systemd-timesyncd (chrony) or systemctl disable --now chrony (timesyncd)"
    } else {
        "keep one daemon steering the clock and stop the others"
    };
    check(
        "daemons_fighting",
        Status::Fail,
        format!(
            "{} {} steer the system clock: they fight over it",
            list(&fighting),
            if fighting.len() == 2 { "both" } else { "all" }
        ),
        fix,
    )
}

/// The checklist as text, one line per check and its fix.
pub fn text(checks: &[Check]) -> String {
    let mut s = String::new();
    for c in checks {
        s.push_str(&format!(
            "{:<4}  {:<16} {}\n",
            c.status.word(),
            c.name,
            c.message
        ));
        if !c.fix.is_empty() && matches!(c.status, Status::Warn | Status::Fail) {
            s.push_str(&format!("      {:<16} fix: {}\n", "", c.fix));
        }
    }
    let o = overall(checks);
    s.push_str(&format!("\n{}\n", o.word()));
    s
}

#[derive(Serialize)]
struct Report<'a> {
    status: Status,
    checks: &'a [Check],
}

pub fn json(checks: &[Check]) -> String {
    serde_json::to_string_pretty(&Report {
        status: overall(checks),
        checks,
    })
    .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

/// `makestep` and `rtcsync` directives of a chrony.conf text (comments
/// after `#`, `!`, `;` or `%` ignored, as chrony does).
pub fn parse_chrony_conf(text: &str) -> (bool, bool) {
    let mut makestep = false;
    let mut rtcsync = false;
    for line in text.lines() {
        let line = line.trim_start();
        if line.starts_with(['#', '!', ';', '%']) {
            continue;
        }
        match line.split_whitespace().next() {
            Some(d) if d.eq_ignore_ascii_case("makestep") => makestep = true,
            Some(d) if d.eq_ignore_ascii_case("rtcsync") => rtcsync = true,
            _ => {}
        }
    }
    (makestep, rtcsync)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chrony_conf_directives_outside_comments() {
        assert_eq!(
            parse_chrony_conf("server a iburst\nmakestep 1 3\n# rtcsync\n"),
            (true, false)
        );
        assert_eq!(
            parse_chrony_conf("  rtcsync\n!makestep 1 3\n"),
            (false, true)
        );
        assert_eq!(parse_chrony_conf(""), (false, false));
    }

    #[test]
    fn the_worst_status_decides_and_skip_is_ok() {
        let c = |status| check("x", status, String::new(), "");
        assert_eq!(overall(&[c(Status::Ok), c(Status::Skip)]).exit_code(), 0);
        assert_eq!(overall(&[c(Status::Ok), c(Status::Warn)]), Status::Warn);
        assert_eq!(overall(&[c(Status::Fail), c(Status::Warn)]).exit_code(), 2);
    }
}
