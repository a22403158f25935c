//! Talking to chronyd: address syntax, transports (UDP and unix datagram)
//! and `auto`'s choice between them. The protocol, and the pacing of a batch
//! of requests (window, resends, sequence matching, deadline), are the
//! `cmdmon` crate's, without I/O; the transports here drive them.

pub mod address;
mod auto;
pub mod client;
pub mod error;
pub(crate) mod resolve;
mod socket;

pub use address::{AddressError, ChronyAddress, DEFAULT_SOCKET};
pub use client::{AutoTargets, ChronyClient, Session, Transport};
pub use error::ChronyError;
