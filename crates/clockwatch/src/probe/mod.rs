//! clockwatch's own NTP probe: an independent measurement of the node's
//! clock against servers the user names, so that chronyd's bound can be
//! checked by something other than chronyd (docs/probe.md).
//!
//! Data flows one way: server names ([`server`]) -> rounds of requests and
//! replies ([`exchange`], protocol in the `ntpclient` crate) -> the latest
//! result per server ([`prober`], or [`prober::probe_once`] for the CLI)
//! -> the verdict's cross-check against the bound
//! ([`crate::verdict::contradicts`]) -> text ([`oneshot`] for `clockwatch
//! probe`; metrics are rendered with the rest of a scrape).
//!
//! The probe never adjusts the clock and never runs on the scrape path: a
//! background task per server probes every interval, and readers copy its
//! latest result.

pub mod exchange;
pub mod oneshot;
pub mod prober;
pub mod server;

pub use exchange::{Burst, ProbeError};
pub use oneshot::ProbeArgs;
pub use prober::{
    probe_once, probe_once_with, ProbeConfig, ProbeConfigError, ProbeFailure, ProbeResult,
    ProbeSample, Prober,
};
pub use server::{ServerSpec, ServerSpecError, NTP_PORT};
