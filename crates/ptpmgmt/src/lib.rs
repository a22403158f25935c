#![forbid(unsafe_code)]
#![deny(missing_docs)]
//! IEEE 1588 (PTP version 2) management messages, as linuxptp's ptp4l
//! answers them on its unix-domain management socket, without I/O.
//!
//! ptp4l listens on a unix datagram socket (`/var/run/ptp4l` by default,
//! `uds_address`; 4.x adds a read-only one, `uds_ro_address`) and answers
//! management messages there the way `pmc -u` sends them. This crate
//! encodes GET requests for the datasets a monitor needs and decodes the
//! RESPONSE messages: DEFAULT_DATA_SET, CURRENT_DATA_SET, PARENT_DATA_SET,
//! TIME_PROPERTIES_DATA_SET, PORT_DATA_SET, linuxptp's TIME_STATUS_NP and
//! PORT_PROPERTIES_NP, and MANAGEMENT_ERROR_STATUS. It never touches a
//! socket: the caller chooses the transport and the timeouts.
//!
//! The layouts are IEEE 1588-2008/2019 clause 15 and linuxptp's documented
//! `_NP` ("non-portable") TLVs, checked against the bytes ptp4l 3.1.1 and
//! 4.2 send (the golden tests). Every decoder is bounds-checked and strict:
//! truncated, oversized or malformed input is a typed [`DecodeError`], never
//! a panic.
//!
//! A GET sent to the wildcard port ([`PortIdentity::WILDCARD`]) is answered
//! once for a clock's dataset and once by every port for a port's dataset
//! ([`ManagementId::is_per_port`]), all with the request's sequence id.
//! With `boundary_hops` 0 (the default here, `pmc -b 0`) ptp4l keeps the
//! request to itself instead of forwarding it to the network.
//!
//! # Example
//!
//! ```
//! use ptpmgmt::{Dataset, GetRequest, ManagementId, PortIdentity, Response, ResponseBody};
//!
//! let me = PortIdentity { port_number: 0x4242, ..Default::default() };
//! let request = GetRequest::new(ManagementId::CurrentDataSet, me, 7);
//! let datagram = request.encode();
//! // ... send `datagram` to ptp4l's socket, receive `reply` ...
//! # let reply = ptpmgmt::testing::current_data_set_response(&request);
//! let response = Response::decode(&reply).expect("a well-formed response");
//! assert_eq!(response.header.sequence_id, 7);
//! match response.body {
//!     ResponseBody::Dataset(Dataset::CurrentDataSet(current)) => {
//!         let offset = current.offset_from_master.seconds();
//!         let delay = current.mean_path_delay.seconds();
//!         assert!(offset.abs() < 1.0 && delay >= 0.0);
//!     }
//!     ResponseBody::Error(e) => panic!("ptp4l refused: {}", e.error),
//!     other => panic!("not the dataset asked for: {other:?}"),
//! }
//! ```

pub mod datasets;
pub mod error;
pub mod message;
pub mod types;
mod wire;

#[doc(hidden)]
pub mod testing;

pub use datasets::{
    CurrentDataSet, DefaultDataSet, ParentDataSet, PortDataSet, PortPropertiesNp,
    TimePropertiesDataSet, TimeStatusNp,
};
pub use error::DecodeError;
pub use message::{
    Action, Dataset, GetRequest, Header, ManagementErrorStatus, ManagementId, Response,
    ResponseBody,
};
pub use types::{
    ClockAccuracy, ClockIdentity, ClockQuality, DelayMechanism, ManagementErrorId, PortIdentity,
    PortState, ScaledNs, TimeInterval, TimeSource, Timestamping,
};
