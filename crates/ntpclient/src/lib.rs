//! NTP client mode (RFC 5905), sans-IO: a request, the checks its reply
//! must pass, and the offset, delay and root distance it measures. No
//! sockets and no clock: the caller sends the bytes, reads its own clock
//! when the request leaves and when the reply arrives, and draws the
//! request's random cookie.
//!
//! ```
//! use std::num::NonZeroU64;
//! use ntpclient::{NtpTimestamp, Request};
//!
//! let request = Request::new(NonZeroU64::new(0x1234_5678_9abc_def0).unwrap());
//! let datagram = request.encode();
//! # let sent = NtpTimestamp::from_unix(1_700_000_000, 0);
//! // ... send `datagram`, note the local send time `sent` (T1) ...
//! # let reply = ntpclient::testing::server_reply(&request, sent, -0.25, 0.010);
//! # let received = NtpTimestamp::from_unix(1_700_000_000, 10_000_000);
//! // ... receive `reply`, note the local receive time `received` (T4) ...
//! let m = request.measure(&reply, sent, received).expect("a valid reply");
//! // Node clock minus server clock: the server was 0.25 s behind.
//! assert!((m.offset - 0.25).abs() < 1e-6);
//! println!("offset {:+.6} s ± {:.6} s", m.offset, m.uncertainty());
//! ```

pub mod client;
pub mod packet;
pub mod testing;
pub mod timestamp;

pub use client::{offset_and_delay, Kiss, Measurement, ReplyError, Request, VERSION};
pub use packet::{DecodeError, Leap, Mode, Packet, HEADER_LEN, MAX_PACKET_LEN};
pub use timestamp::{NtpDelta, NtpShort, NtpTimestamp, UNIX_EPOCH_NTP_SECONDS};
