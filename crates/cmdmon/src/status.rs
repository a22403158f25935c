//! Reply status codes (`STT_*`).

use std::fmt;

/// The status chronyd put in a reply. Anything but [`Status::Success`] means
/// the command was not carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// `STT_SUCCESS`: the command was carried out.
    Success,
    /// `STT_FAILED`: the command failed.
    Failed,
    /// `STT_UNAUTH`: the command is allowed only over chronyd's unix socket
    /// (over UDP chronyd accepts monitoring commands only).
    Unauthorised,
    /// `STT_INVALID`: unknown or malformed command.
    Invalid,
    /// `STT_NOSUCHSOURCE`: no source with that address or index.
    NoSuchSource,
    /// `STT_INVALIDTS`: stale or duplicate request (a leftover of the old
    /// command authentication).
    InvalidTimestamp,
    /// `STT_NOTENABLED`: the facility is not enabled in chronyd.
    NotEnabled,
    /// `STT_BADSUBNET`: invalid subnet.
    BadSubnet,
    /// `STT_ACCESSALLOWED`: answer to an access check: allowed.
    AccessAllowed,
    /// `STT_ACCESSDENIED`: answer to an access check: denied.
    AccessDenied,
    /// `STT_NOHOSTACCESS`: no command access from this host (no longer
    /// sent).
    NoHostAccess,
    /// `STT_SOURCEALREADYKNOWN`: the source is already present.
    SourceAlreadyKnown,
    /// `STT_TOOMANYSOURCES`: too many sources present.
    TooManySources,
    /// `STT_NORTC`: the RTC driver is not running.
    NoRtc,
    /// `STT_BADRTCFILE`: the RTC parameters cannot be written.
    BadRtcFile,
    /// `STT_INACTIVE`: the facility (e.g. client logging) is not active.
    Inactive,
    /// `STT_BADSAMPLE`: sample index out of range.
    BadSample,
    /// `STT_INVALIDAF`: invalid address family.
    InvalidAddressFamily,
    /// `STT_BADPKTVERSION`: protocol version mismatch.
    BadPacketVersion,
    /// `STT_BADPKTLENGTH`: packet length mismatch (e.g. a request shorter
    /// than its reply).
    BadPacketLength,
    /// `STT_INVALIDNAME`: invalid name.
    InvalidName,
    /// A code this crate does not know.
    Other(u16),
}

impl Status {
    /// Decodes a status code; unknown codes are kept as [`Status::Other`].
    pub fn from_wire(v: u16) -> Self {
        match v {
            0 => Status::Success,
            1 => Status::Failed,
            2 => Status::Unauthorised,
            3 => Status::Invalid,
            4 => Status::NoSuchSource,
            5 => Status::InvalidTimestamp,
            6 => Status::NotEnabled,
            7 => Status::BadSubnet,
            8 => Status::AccessAllowed,
            9 => Status::AccessDenied,
            10 => Status::NoHostAccess,
            11 => Status::SourceAlreadyKnown,
            12 => Status::TooManySources,
            13 => Status::NoRtc,
            14 => Status::BadRtcFile,
            15 => Status::Inactive,
            16 => Status::BadSample,
            17 => Status::InvalidAddressFamily,
            18 => Status::BadPacketVersion,
            19 => Status::BadPacketLength,
            21 => Status::InvalidName,
            other => Status::Other(other),
        }
    }

    /// The code chronyd sends for this status.
    pub fn to_wire(self) -> u16 {
        match self {
            Status::Success => 0,
            Status::Failed => 1,
            Status::Unauthorised => 2,
            Status::Invalid => 3,
            Status::NoSuchSource => 4,
            Status::InvalidTimestamp => 5,
            Status::NotEnabled => 6,
            Status::BadSubnet => 7,
            Status::AccessAllowed => 8,
            Status::AccessDenied => 9,
            Status::NoHostAccess => 10,
            Status::SourceAlreadyKnown => 11,
            Status::TooManySources => 12,
            Status::NoRtc => 13,
            Status::BadRtcFile => 14,
            Status::Inactive => 15,
            Status::BadSample => 16,
            Status::InvalidAddressFamily => 17,
            Status::BadPacketVersion => 18,
            Status::BadPacketLength => 19,
            Status::InvalidName => 21,
            Status::Other(v) => v,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Status::Success => "success",
            Status::Failed => "command failed",
            Status::Unauthorised => {
                "not authorised (this command is only allowed over chronyd's unix socket)"
            }
            Status::Invalid => "invalid command",
            Status::NoSuchSource => "no such source",
            Status::InvalidTimestamp => "invalid timestamp",
            Status::NotEnabled => "facility not enabled",
            Status::BadSubnet => "bad subnet",
            Status::AccessAllowed => "access allowed",
            Status::AccessDenied => "access denied",
            Status::NoHostAccess => "no host access",
            Status::SourceAlreadyKnown => "source already known",
            Status::TooManySources => "too many sources",
            Status::NoRtc => "no RTC driver",
            Status::BadRtcFile => "bad RTC file",
            Status::Inactive => "inactive",
            Status::BadSample => "bad sample",
            Status::InvalidAddressFamily => "invalid address family",
            Status::BadPacketVersion => "protocol version mismatch",
            Status::BadPacketLength => "bad packet length",
            Status::InvalidName => "invalid name",
            Status::Other(v) => return write!(f, "unknown status {v}"),
        };
        f.write_str(text)
    }
}
