//! Errors: a reply that cannot be decoded, and a reply that decodes but
//! does not answer the request (or answers it with a failure status).

use crate::status::Status;

/// A reply packet that is not well-formed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("reply truncated: needed {needed} bytes, got {available}")]
    Truncated { needed: usize, available: usize },
    #[error("reply is {actual} bytes, but a {reply} reply is {expected} bytes")]
    WrongLength {
        reply: &'static str,
        expected: usize,
        actual: usize,
    },
    #[error("unsupported protocol version {0} (this client speaks version 6)")]
    BadVersion(u8),
    #[error("packet type {got} where type {expected} was expected (1 request, 2 reply)")]
    WrongPacketType { expected: u8, got: u8 },
    #[error("unknown reply type {0}")]
    UnknownReplyType(u16),
    #[error("invalid address family {0}")]
    BadAddressFamily(u16),
    #[error("invalid nanoseconds {nanos} in a timestamp")]
    BadTimespec { nanos: u32 },
    #[error("invalid {field} {value}")]
    BadEnum { field: &'static str, value: u32 },
}

/// A reply that does not answer the request it is matched against.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("chronyd answered: {0}")]
    Status(Status),
    #[error("reply is for command {got}, the request was command {expected}")]
    WrongCommand { expected: u16, got: u16 },
    #[error("reply has sequence number {got:#010x}, the request had {expected:#010x}")]
    WrongSequence { expected: u32, got: u32 },
    #[error("reply type {reply} does not answer command {command}")]
    UnexpectedReply { command: u16, reply: u16 },
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
