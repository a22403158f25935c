//! What can go wrong reading ptp4l, each with what to do about it.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use ptpmgmt::ManagementErrorId;

#[derive(Debug, thiserror::Error)]
pub enum PtpError {
    #[error("ptp4l's socket {} does not exist: is ptp4l running, and is this its uds_address?", path.display())]
    SocketMissing { path: PathBuf },

    #[error("nothing is listening at {}: ptp4l is not running (the socket file is left from an earlier run)", path.display())]
    NotListening { path: PathBuf },

    #[error("permission denied on {}: {detail}", path.display())]
    Permission { path: PathBuf, detail: String },

    #[error("cannot bind a reply socket for {}: {source}", path.display())]
    Bind { path: PathBuf, source: io::Error },

    #[error("no complete answer from ptp4l at {} within {timeout:?}: missing {missing}{discarded}", path.display())]
    Timeout {
        path: PathBuf,
        timeout: Duration,
        /// The datasets (and ports) that did not arrive, comma-separated.
        missing: String,
        /// Why datagrams were thrown away, if any were (starts with "; ").
        discarded: String,
    },

    #[error("ptp4l at {} refused GET {id}: {error}{display}", path.display())]
    Refused {
        path: PathBuf,
        id: &'static str,
        error: ManagementErrorId,
        /// ptp4l's displayData, if any (starts with ": ").
        display: String,
    },

    #[error("I/O error talking to ptp4l at {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
}

impl PtpError {
    /// A short, stable reason for logs, metrics and status output.
    pub fn kind(&self) -> &'static str {
        match self {
            PtpError::SocketMissing { .. } => "socket_missing",
            PtpError::NotListening { .. } => "not_listening",
            PtpError::Permission { .. } => "permission",
            PtpError::Bind { .. } => "bind",
            PtpError::Timeout { .. } => "timeout",
            PtpError::Refused { .. } => "refused",
            PtpError::Io { .. } => "io",
        }
    }
}
