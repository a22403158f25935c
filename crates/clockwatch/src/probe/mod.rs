//! clockwatch's own NTP probe: an independent measurement of the node's
//! clock against servers the user names, so that chronyd's bound can be
//! checked by something other than chronyd (docs/probe.md).
//!
//! Data flows one way: server names ([`server`]) -> rounds of requests and
//! replies ([`exchange`], protocol in the `ntpclient` crate) -> the latest
//! result per server ([`prober`], or [`prober::probe_once`] for the CLI)
//! -> the cross-check against the bound ([`crosscheck`]) -> text
//! ([`oneshot`] for `clockwatch probe`; metrics are rendered elsewhere).
//!
//! The probe never adjusts the clock and never runs on the scrape path: a
//! background task per server probes every interval, and readers copy its
//! latest result.

pub mod crosscheck;
pub mod exchange;
pub mod oneshot;
pub mod prober;
pub mod server;

pub use crosscheck::contradicts;
pub use exchange::{Burst, ProbeError};
pub use oneshot::ProbeArgs;
pub use prober::{
    probe_once, probe_once_with, ProbeConfig, ProbeConfigError, ProbeFailure, ProbeResult,
    ProbeSample, Prober,
};
pub use server::{ServerSpec, ServerSpecError, NTP_PORT};
