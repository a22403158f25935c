#![forbid(unsafe_code)]
#![deny(missing_docs)]
//! chrony's command and monitoring protocol ("cmdmon"), without I/O.
//!
//! chronyd answers monitoring requests on UDP port 323 of the loopback
//! interface and on its unix datagram socket (`/run/chrony/chronyd.sock`).
//! This crate encodes the requests and decodes the replies of protocol
//! version 6, as spoken by chrony 3.x and 4.x; it never touches a socket, so
//! the caller chooses the transport. [`Exchange`] paces a batch of requests
//! (window, resends, sequence matching, one deadline) with the time passed
//! in, for the caller's transport to drive.
//!
//! Every decoder is bounds-checked and returns a typed error on truncated,
//! oversized or malformed input: no input can make it panic.
//!
//! # Example
//!
//! ```
//! use cmdmon::{ReplyBody, Request};
//!
//! let request = Request::Tracking;
//! let sequence = 0x1234_5678;
//! let packet = request.encode(sequence, 0);
//! // Padded so that chronyd may answer with a reply of the same length.
//! assert_eq!(packet.len(), request.encoded_len());
//!
//! // ... send `packet` to chronyd and receive `reply` ...
//! # let reply = cmdmon::testing::tracking_reply(sequence);
//! match request.parse_reply(sequence, &reply) {
//!     Ok(ReplyBody::Tracking(t)) => {
//!         // chrony's documented bound on the clock error.
//!         let bound = t.current_correction.abs() + t.root_dispersion + t.root_delay / 2.0;
//!         assert!(bound >= 0.0);
//!     }
//!     Ok(other) => unreachable!("parse_reply only returns a tracking body here: {other:?}"),
//!     Err(e) if e.is_stray() => { /* another request's reply: keep waiting */ }
//!     Err(e) => panic!("chronyd refused: {e}"),
//! }
//! ```

pub mod error;
pub mod exchange;
pub mod float;
pub mod reply;
pub mod request;
pub mod status;
pub mod types;
mod wire;

#[doc(hidden)]
pub mod testing;

pub use error::{DecodeError, ReplyError};
pub use exchange::{Discarded, Exchange, ExchangeConfig, Failure, Received};
pub use reply::{Reply, ReplyBody, ReplyHeader, ReplyType};
pub use request::Request;
pub use status::Status;
pub use types::{
    Activity, Address, LeapStatus, NtpData, NtpDataTimestampCounts, RefId, ServerStats,
    ServerStatsFormat, SourceData, SourceMode, SourceName, SourceState, SourceStats, Timespec,
    Tracking, REFID_LOCAL,
};

/// The protocol version this crate speaks (chrony 2.2 and later).
pub const PROTOCOL_VERSION: u8 = 6;
/// Packet type of a request.
pub const PKT_TYPE_REQUEST: u8 = 1;
/// Packet type of a reply.
pub const PKT_TYPE_REPLY: u8 = 2;
/// The UDP port chronyd listens on for commands by default.
pub const DEFAULT_PORT: u16 = 323;
