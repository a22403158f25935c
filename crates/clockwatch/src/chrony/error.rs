//! What can go wrong talking to chronyd, each with what to do about it.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cmdmon::Status;

#[derive(Debug, thiserror::Error)]
pub enum ChronyError {
    #[error("no reply from chronyd at {address} within {timeout:?} ({attempts} attempts)")]
    Timeout {
        address: String,
        timeout: Duration,
        attempts: u16,
    },

    #[error("no reply from chronyd at {address} within {timeout:?}; received {discarded} datagram(s) that are not chrony replies (the first: {first}): is chronyd what listens there?")]
    NotChrony {
        address: String,
        timeout: Duration,
        discarded: u32,
        first: cmdmon::DecodeError,
    },

    #[error("nothing is listening at {address}: is chronyd running, with its command port enabled (cmdport)?")]
    NotListening { address: String },

    #[error("chronyd's socket {} does not exist: is chronyd running? Without the socket use --chrony.address=udp://127.0.0.1:323 (tracking and sources only)", path.display())]
    SocketMissing { path: PathBuf },

    #[error("permission denied on {}: {detail}", path.display())]
    Permission { path: PathBuf, detail: String },

    #[error("chronyd refused {command}: {status}{hint}")]
    Refused {
        command: &'static str,
        status: Status,
        hint: &'static str,
    },

    #[error("malformed reply from {address} to {command}: {source}")]
    Protocol {
        address: String,
        command: &'static str,
        source: cmdmon::ReplyError,
    },

    #[error("cannot resolve chrony host {host}: {source}")]
    Resolve { host: String, source: io::Error },

    #[error("I/O error talking to chronyd at {address}: {source}")]
    Io { address: String, source: io::Error },

    #[error("chronyd is not queried (--chrony.address=none)")]
    Disabled,
}

impl ChronyError {
    /// A short, stable reason for logs and the `reason` of status output.
    pub fn kind(&self) -> &'static str {
        match self {
            ChronyError::Timeout { .. } => "timeout",
            ChronyError::NotListening { .. } => "not_listening",
            ChronyError::SocketMissing { .. } => "socket_missing",
            ChronyError::Permission { .. } => "permission",
            ChronyError::Refused { .. } => "refused",
            ChronyError::Protocol { .. } | ChronyError::NotChrony { .. } => "protocol",
            ChronyError::Resolve { .. } => "resolve",
            ChronyError::Io { .. } => "io",
            ChronyError::Disabled => "disabled",
        }
    }

    /// True when the command itself was refused although chronyd answered
    /// (e.g. a unix-socket-only command over UDP): chronyd is up.
    pub fn chronyd_answered(&self) -> bool {
        matches!(self, ChronyError::Refused { .. })
    }
}

/// Hint for a refusal: over UDP chronyd answers only monitoring commands.
pub(crate) fn refusal_hint(status: Status, over_udp: bool) -> &'static str {
    match status {
        Status::Unauthorised if over_udp => {
            " (over UDP chronyd answers only some monitoring commands; ntpdata and serverstats need its unix socket, --chrony.address=unix:///run/chrony/chronyd.sock)"
        }
        Status::BadPacketVersion => " (chronyd speaks another protocol version)",
        _ => "",
    }
}

/// "PATH is owned by uid U gid G with mode 0750", for permission messages.
pub(crate) fn describe_owner(p: &Path) -> String {
    match std::fs::metadata(p) {
        Ok(m) => format!(
            "{} is owned by uid {} gid {} with mode {:04o}",
            p.display(),
            m.uid(),
            m.gid(),
            m.mode() & 0o7777
        ),
        Err(e) => format!("{} cannot be inspected ({e})", p.display()),
    }
}

/// Builds the message for a permission error on `path` (the server socket or
/// the directory the reply socket is bound in): who owns it, who we are, and
/// what to run as.
pub(crate) fn permission_detail(path: &Path) -> String {
    let (uid, gid) = crate::sys::effective_ids();
    let describe = describe_owner;
    let dir = path.parent().unwrap_or(Path::new("/"));
    let owner = std::fs::metadata(dir).ok().map(|m| (m.uid(), m.gid()));
    let advice = match owner {
        Some((duid, dgid)) => format!(
            "run clockwatch as chronyd's user and group (uid {duid} gid {dgid}; in Kubernetes runAsUser: {duid}, runAsGroup: {dgid}), \
             or use --chrony.address=udp://127.0.0.1:323 for tracking and sources only"
        ),
        None => "run clockwatch as chronyd's user, or use --chrony.address=udp://127.0.0.1:323".to_string(),
    };
    format!(
        "{}; {}; clockwatch runs as uid {uid} gid {gid} and needs to write in that directory to receive chronyd's replies; {advice}",
        describe(dir),
        describe(path)
    )
}
