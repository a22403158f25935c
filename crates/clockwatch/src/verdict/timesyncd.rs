//! systemd-timesyncd's rules: the verdict from [`crate::timesyncd::bound`]
//! (the bound built from its last sample, the states synchronized / stale /
//! unsynchronized / unknown), with the reading and the kernel's remaining
//! offset as the snapshot delivers them.
//!
//! In clockwatch's words: the reference is timesyncd's server (a remote
//! one, named by its address as `timedatectl timesync-status` prints it);
//! its id is the server's IPv4 address as 8 hex digits, the reference ID
//! chronyd would give the same server, so that nodes of both daemons
//! following one server compare equal (an IPv6 server has none: chronyd's
//! is a hash timesyncd does not report); the stratum is the server's plus
//! one, the node's own as chronyd reports it. A server serving its own
//! local clock (reference ID 7F7F0101, chronyd's `local`) is followed, and
//! not traceable to UTC.

use super::{unknown, Daemon, Reference, ReferenceKind, SyncState, Traceability, Verdict};
use crate::collect::TimesyncdView;
use crate::timesyncd::bound::Why;
use crate::timesyncd::Status;

/// chronyd's reference ID when it serves its local clock (127.127.1.1).
const LOCAL_REFERENCE_ID: [u8; 4] = [127, 127, 1, 1];

pub(super) fn assess(view: &TimesyncdView) -> Verdict {
    let status = match (&view.result, &view.kernel_error) {
        (Err(failure), _) => {
            return unknown(
                Daemon::Timesyncd,
                format!("timesyncd could not be read: {}", failure.message),
            )
        }
        (Ok(_), Some(e)) => {
            return unknown(
                Daemon::Timesyncd,
                format!("the kernel's remaining offset could not be read: {e}"),
            )
        }
        (Ok(status), None) => status,
    };
    let a = view.assessment();
    let reason = match a.state {
        SyncState::Synchronized => None,
        _ => Some(format!("timesyncd: {}", a.why.describe())),
    };
    let age = a.sample_age_seconds.filter(|age| age.is_finite());
    let has_sample = a.sample.is_some() && a.why != Why::NoServer;
    Verdict {
        daemon: Daemon::Timesyncd,
        instance: None,
        state: a.state,
        bound_seconds: a.bound_seconds,
        reference_age_seconds: age,
        reference_time: age.map(|age| view.now_unix_seconds - age),
        reference: reference(status, has_sample),
        traceability: traceability(status, has_sample),
        reason,
        legacy_clock_error_ms: None,
        probes: Vec::new(),
    }
}

fn reference(status: &Status, has_sample: bool) -> Reference {
    if !status.has_server() {
        return Reference {
            kind: ReferenceKind::None,
            name: String::new(),
            id: String::new(),
            stratum: None,
        };
    }
    let ip = status.server_address.ip();
    let name = ip
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| status.server_name.clone());
    let id = match ip {
        Some(std::net::IpAddr::V4(v4)) => format!("{:08X}", u32::from(v4)),
        _ => String::new(),
    };
    let stratum = status.ntp_message.stratum;
    Reference {
        kind: ReferenceKind::Remote,
        name,
        id,
        stratum: (has_sample && (1..16).contains(&stratum))
            .then(|| u16::try_from(stratum + 1).unwrap_or(u16::MAX)),
    }
}

fn traceability(status: &Status, has_sample: bool) -> Traceability {
    if !status.has_server() || !has_sample {
        return Traceability::default();
    }
    let m = &status.ntp_message;
    if m.stratum > 1 && m.reference_id == LOCAL_REFERENCE_ID {
        return Traceability {
            traceable: Some(false),
            warnings: vec![format!(
                "timesyncd's server {} serves its own local clock (reference ID 7F7F0101): not traceable to UTC",
                status.server_name
            )],
        };
    }
    Traceability {
        traceable: Some(true),
        warnings: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::Failure;
    use crate::timesyncd::bound::Params;

    // The bound's own fixture: a node 100 µs behind its server, delay
    // 400 µs, root delay 2 ms, root dispersion 1 ms, poll 64 s.
    use crate::timesyncd::bound::tests::status;
    const T4: u64 = crate::timesyncd::bound::tests::T4 as u64;

    fn view(result: Result<Status, Failure>, now: f64) -> TimesyncdView {
        TimesyncdView {
            bus: "unix:path=/run/dbus/system_bus_socket".into(),
            detect: false,
            result,
            kernel_offset_seconds: Some(0.0),
            kernel_error: None,
            now_unix_seconds: now,
            params: Params::default(),
        }
    }

    #[test]
    fn a_fresh_sample_is_synchronized_with_the_timesyncd_bound() {
        let v = view(Ok(status()), T4 as f64 + 10.0);
        let verdict = assess(&v);
        assert_eq!(verdict.daemon, Daemon::Timesyncd);
        assert_eq!(verdict.state, SyncState::Synchronized);
        assert_eq!(verdict.bound_seconds, v.assessment().bound_seconds);
        assert!(verdict.bound_seconds.is_finite());
        assert_eq!(verdict.reference.name, "10.0.0.1");
        assert_eq!(verdict.reference.id, "0A000001");
        assert_eq!(verdict.reference.stratum, Some(3));
        assert_eq!(verdict.traceability.traceable, Some(true));
        assert_eq!(verdict.reason, None);
        let age = verdict.reference_age_seconds.unwrap_or(f64::NAN);
        assert!((age - 10.0).abs() < 1e-3, "{age}");
    }

    #[test]
    fn a_server_on_its_local_clock_is_not_traceable() {
        let mut s = status();
        s.ntp_message.reference_id = LOCAL_REFERENCE_ID;
        let verdict = assess(&view(Ok(s), T4 as f64 + 1.0));
        assert_eq!(verdict.state, SyncState::Synchronized);
        assert_eq!(verdict.traceability.traceable, Some(false));
        assert_eq!(verdict.traceability.warnings.len(), 1);
    }

    #[test]
    fn stale_and_unread_have_reasons() {
        let verdict = assess(&view(Ok(status()), T4 as f64 + 1000.0));
        assert_eq!(verdict.state, SyncState::Stale);
        assert!(verdict.reason.unwrap_or_default().contains("4 poll"));
        let failure = Failure {
            kind: "socket_missing",
            message: "the system bus socket /x does not exist".into(),
        };
        let verdict = assess(&view(Err(failure), T4 as f64));
        assert_eq!(
            (verdict.daemon, verdict.state),
            (Daemon::Timesyncd, SyncState::Unknown)
        );
        assert_eq!(verdict.bound_seconds, f64::INFINITY);
        assert!(verdict
            .reason
            .unwrap_or_default()
            .contains("/x does not exist"));

        let mut v = view(Ok(status()), T4 as f64 + 1.0);
        v.kernel_offset_seconds = None;
        v.kernel_error = Some("adjtimex: EPERM".into());
        assert_eq!(assess(&v).state, SyncState::Unknown);
    }

    #[test]
    fn no_server_has_no_reference() {
        let mut s = status();
        s.server_name.clear();
        let verdict = assess(&view(Ok(s), T4 as f64 + 1.0));
        assert_eq!(verdict.state, SyncState::Unsynchronized);
        assert_eq!(verdict.reference.kind, ReferenceKind::None);
        assert_eq!(verdict.traceability.traceable, None);
    }
}
