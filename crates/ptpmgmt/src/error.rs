//! A management message that cannot be decoded.

/// Why a datagram is not a management message this crate can decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The datagram ends before a field does (or before the length its
    /// header states).
    #[error("message truncated: needed {needed} bytes, got {available}")]
    Truncated {
        /// Bytes the field (or the stated message length) needs.
        needed: usize,
        /// Bytes there are.
        available: usize,
    },
    /// The datagram is longer than the message length its header states.
    #[error("datagram is {received} bytes, but its header says the message is {message_length}")]
    Oversized {
        /// The header's messageLength.
        message_length: usize,
        /// The datagram's length.
        received: usize,
    },
    /// versionPTP is not 2.
    #[error("unsupported PTP version {0} (this decoder speaks version 2)")]
    WrongVersion(u8),
    /// Not a management message (messageType 0xD).
    #[error("message type {0:#x} is not a management message (0xd)")]
    WrongMessageType(u8),
    /// The actionField is not the one expected (RESPONSE for a reply, GET
    /// for a request).
    #[error("management action {got} where {expected} was expected (0 GET, 1 SET, 2 RESPONSE, 3 COMMAND, 4 ACKNOWLEDGE)")]
    WrongAction {
        /// The action wanted.
        expected: u8,
        /// The action found.
        got: u8,
    },
    /// A TLV type other than MANAGEMENT (1) and MANAGEMENT_ERROR_STATUS (2).
    #[error("unknown TLV type {0:#06x}")]
    UnknownTlv(u16),
    /// A managementId this crate does not decode.
    #[error("unknown management id {0:#06x}")]
    UnknownManagementId(u16),
    /// The TLV's lengthField does not end where the message does.
    #[error("TLV length {declared} does not match the {remaining} bytes after the TLV header")]
    TlvLengthMismatch {
        /// The TLV's lengthField.
        declared: usize,
        /// Bytes after the TLV's type and length fields.
        remaining: usize,
    },
    /// A dataset whose data field has not the length its layout has.
    #[error("{id} data is {actual} bytes, but its layout is {expected} bytes")]
    DataLengthMismatch {
        /// The managementId's name.
        id: &'static str,
        /// The layout's length (the minimum, for a variable-length one).
        expected: usize,
        /// The data field's length.
        actual: usize,
    },
    /// A PTPText that is not UTF-8.
    #[error("text field is not UTF-8")]
    BadText,
}
