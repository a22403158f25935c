//! Reading linuxptp's ptp4l through its unix-socket management interface:
//! the transport and the collection of every dataset ([`client`]), the
//! decoded result ([`report`]), and the PTP bound and state computed from
//! it with time passed in ([`bound`]). The protocol itself is the
//! `ptpmgmt` crate's.
//!
//! One [`PtpClient`] per ptp4l instance (per socket); a collection asks
//! for every dataset at once and ends at one deadline.

pub mod bound;
pub mod client;
pub mod error;
pub mod phc;
pub mod report;
#[doc(hidden)]
pub mod sample;
mod socket;

pub use bound::{
    assess, BoundConfig, BoundTerms, Now, PtpAssessment, PtpMemory, PtpState, Traceability,
    UnsyncReason,
};
pub use client::{PtpClient, DEFAULT_SOCKET};
pub use error::PtpError;
pub use phc::{read_phc_offset, PhcError};
pub use report::{PortReport, PtpReport};
pub use socket::ReplySocket;
