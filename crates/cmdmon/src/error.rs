//! Errors: a reply that cannot be decoded, and a reply that decodes but
//! does not answer the request (or answers it with a failure status).

use crate::status::Status;

/// A reply packet that is not well-formed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The packet ends before a field does.
    #[error("reply truncated: needed {needed} bytes, got {available}")]
    Truncated {
        /// Bytes the field needs the packet to have.
        needed: usize,
        /// Bytes the packet has.
        available: usize,
    },
    /// The packet is not exactly as long as its type requires.
    #[error("reply is {actual} bytes, but a {reply} reply is {expected} bytes")]
    WrongLength {
        /// The reply (or request) type's name.
        reply: &'static str,
        /// The length that type has.
        expected: usize,
        /// The length of the packet.
        actual: usize,
    },
    /// The protocol version is not 6.
    #[error("unsupported protocol version {0} (this client speaks version 6)")]
    BadVersion(u8),
    /// A request where a reply was expected, or the other way round.
    #[error("packet type {got} where type {expected} was expected (1 request, 2 reply)")]
    WrongPacketType {
        /// The packet type wanted.
        expected: u8,
        /// The packet type found.
        got: u8,
    },
    /// A reply type this crate does not know.
    #[error("unknown reply type {0}")]
    UnknownReplyType(u16),
    /// An address family other than unspecified, IPv4, IPv6 or ID.
    #[error("invalid address family {0}")]
    BadAddressFamily(u16),
    /// A timestamp with 1 000 000 000 nanoseconds or more.
    #[error("invalid nanoseconds {nanos} in a timestamp")]
    BadTimespec {
        /// The nanoseconds found.
        nanos: u32,
    },
    /// A value outside an enumeration (leap status, source state, command...).
    #[error("invalid {field} {value}")]
    BadEnum {
        /// Which field.
        field: &'static str,
        /// The value found.
        value: u32,
    },
}

/// A reply that does not answer the request it is matched against.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// The reply is not well-formed.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// chronyd refused the command with this status.
    #[error("chronyd answered: {0}")]
    Status(Status),
    /// The reply answers another command (see [`ReplyError::is_stray`]).
    #[error("reply is for command {got}, the request was command {expected}")]
    WrongCommand {
        /// The request's command code.
        expected: u16,
        /// The reply's command code.
        got: u16,
    },
    /// The reply answers another request (see [`ReplyError::is_stray`]).
    #[error("reply has sequence number {got:#010x}, the request had {expected:#010x}")]
    WrongSequence {
        /// The request's sequence number.
        expected: u32,
        /// The reply's sequence number.
        got: u32,
    },
    /// The reply's type is not one that answers the command.
    #[error("reply type {reply} does not answer command {command}")]
    UnexpectedReply {
        /// The command code.
        command: u16,
        /// The reply type code.
        reply: u16,
    },
}

impl ReplyError {
    /// True when the reply belongs to another request (a late answer to an
    /// earlier attempt, or another client's): the caller should ignore it
    /// and keep waiting rather than fail.
    pub fn is_stray(&self) -> bool {
        matches!(
            self,
            ReplyError::WrongSequence { .. } | ReplyError::WrongCommand { .. }
        )
    }
}
