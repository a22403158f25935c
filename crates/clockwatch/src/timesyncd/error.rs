//! What can go wrong reading systemd-timesyncd, each with what to do
//! about it. Every one of them makes the state "unknown".

use std::path::PathBuf;
use std::time::Duration;

use super::DecodeError;

#[derive(Debug, thiserror::Error)]
pub enum TimesyncdError {
    #[error("bad system bus address {address:?}: {reason}")]
    BadAddress { address: String, reason: String },

    #[error("the system bus socket {} does not exist: is dbus-daemon running (in a pod: is the host's /run/dbus mounted)? Use --timesyncd.bus to point elsewhere", path.display())]
    SocketMissing { path: PathBuf },

    #[error("permission denied on the system bus socket {}: {detail}", path.display())]
    Permission { path: PathBuf, detail: String },

    #[error("nothing listens on the system bus socket {}: the bus daemon is not running (a socket file left behind)", path.display())]
    NotListening { path: PathBuf },

    #[error("I/O error on the system bus socket {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("the system bus at {address} did not accept clockwatch: {detail}")]
    Handshake { address: String, detail: String },

    #[error("systemd-timesyncd is not on the system bus at {address} (nobody owns org.freedesktop.timesync1): is it running? On a chrony node this is expected")]
    NotRunning { address: String },

    #[error("the bus policy of {address} does not let uid {uid} read org.freedesktop.timesync1 ({message}); timesyncd's policy file (org.freedesktop.timesync1.conf) allows Get and GetAll to everyone")]
    AccessDenied {
        address: String,
        uid: u32,
        message: String,
    },

    #[error("systemd-timesyncd answered {address} with the error {name}: {message}")]
    Daemon {
        address: String,
        name: String,
        message: String,
    },

    #[error("no answer within {timeout:?} from {step} at {address}")]
    Timeout {
        address: String,
        timeout: Duration,
        step: Step,
    },

    #[error("malformed reply from systemd-timesyncd at {address}: {source}")]
    Decode {
        address: String,
        source: DecodeError,
    },

    #[error("the system bus at {address} failed: {detail}")]
    Bus { address: String, detail: String },
}

/// The part of a read that did not finish in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// connect(2) on the socket.
    Connecting,
    /// The D-Bus authentication and Hello.
    Handshake,
    /// The GetAll call to timesyncd.
    Reading,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Step::Connecting => "the system bus (connecting)",
            Step::Handshake => "the system bus (authenticating)",
            Step::Reading => "systemd-timesyncd (reading its properties)",
        })
    }
}

impl TimesyncdError {
    /// A short, stable reason for logs, status output and `clockwatch
    /// doctor`.
    pub fn kind(&self) -> &'static str {
        match self {
            TimesyncdError::BadAddress { .. } => "bad_address",
            TimesyncdError::SocketMissing { .. } => "socket_missing",
            TimesyncdError::Permission { .. } => "permission",
            TimesyncdError::NotListening { .. } => "not_listening",
            TimesyncdError::Io { .. } => "io",
            TimesyncdError::Handshake { .. } => "handshake",
            TimesyncdError::NotRunning { .. } => "not_running",
            TimesyncdError::AccessDenied { .. } => "access_denied",
            TimesyncdError::Daemon { .. } => "daemon_error",
            TimesyncdError::Timeout { .. } => "timeout",
            TimesyncdError::Decode { .. } => "decode",
            TimesyncdError::Bus { .. } => "bus",
        }
    }

    /// True when the bus answered and said timesyncd is not on it: the
    /// node runs another daemon (or none), which detection may prefer to
    /// "timesyncd is broken".
    pub fn timesyncd_absent(&self) -> bool {
        matches!(self, TimesyncdError::NotRunning { .. })
    }
}
