//! systemd-timesyncd's view of the clock, read from its D-Bus interface
//! `org.freedesktop.timesync1` (org.freedesktop.timesync1(5)) on the system
//! bus, and the error bound and sync state of a node it keeps.
//!
//! Data flows one way: [`read`] (one D-Bus round trip, bounded by one
//! timeout) -> [`Status`] (the daemon's properties, decoded) -> [`Sample`]
//! (offset and delay of its last NTP exchange, as `timedatectl
//! timesync-status` computes them) -> [`bound::assess`] (state and bound,
//! a pure function with the time and the kernel's remaining offset passed
//! in). docs/timesyncd.md explains the bound and its assumptions.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use clockwatch::timesyncd::{self, bound, BusAddress};
//! let bus = BusAddress::system()?; // DBUS_SYSTEM_BUS_ADDRESS or /run/dbus/system_bus_socket
//! let status = timesyncd::read(&bus, std::time::Duration::from_secs(1)).await;
//! let kernel = clockwatch::sys::adjtimex_read()?;
//! let now = std::time::SystemTime::now()
//!     .duration_since(std::time::UNIX_EPOCH)?
//!     .as_secs_f64();
//! let verdict = bound::assess(
//!     status.as_ref().ok(),
//!     kernel.offset_seconds,
//!     now,
//!     &bound::Params::default(),
//! );
//! println!("{} {}", verdict.state.as_str(), verdict.bound_seconds);
//! # Ok(()) }
//! ```

mod address;
pub mod bound;
mod client;
mod error;
mod properties;
mod sample;

pub use address::BusAddress;
pub use client::read;
pub use error::TimesyncdError;
pub use properties::{
    decode, DecodeError, NtpMessage, ServerAddress, Status, BUS_NAME, INTERFACE, OBJECT_PATH,
};
pub use sample::{InvalidSample, Sample};
