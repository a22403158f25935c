//! Talking to chronyd: address syntax, transports (UDP and unix datagram),
//! sequence numbers, timeouts and retries. The protocol itself is the
//! `cmdmon` crate's.

pub mod address;
pub mod client;
pub mod error;
pub(crate) mod resolve;
mod socket;

pub use address::{AddressError, ChronyAddress, DEFAULT_SOCKET};
pub use client::{ChronyClient, Session, Transport};
pub use error::ChronyError;
