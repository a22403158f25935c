//! Reply status codes (`STT_*`).

use std::fmt;

/// The status chronyd put in a reply. Anything but [`Status::Success`] means
/// the command was not carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Success,
    Failed,
    /// The command needs chronyd's unix socket: over UDP only monitoring
    /// commands that are opened with `opencommands` are allowed.
    Unauthorised,
    Invalid,
    NoSuchSource,
    InvalidTimestamp,
    NotEnabled,
    BadSubnet,
    AccessAllowed,
    AccessDenied,
    NoHostAccess,
    SourceAlreadyKnown,
    TooManySources,
    NoRtc,
    BadRtcFile,
    Inactive,
    BadSample,
    InvalidAddressFamily,
    BadPacketVersion,
    BadPacketLength,
    InvalidName,
    Other(u16),
}

impl Status {
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
