//! clockwatch: reads chronyd's view of the clock through its own command
//! protocol and the kernel's view through adjtimex, turns them into a clock
//! error bound and a sync state, and serves them as Prometheus metrics.
//!
//! Data flows one way: transport ([`chrony`]) -> decoded reports ->
//! collector snapshot ([`collect`]) -> the verdict ([`verdict`]: state,
//! bound, reference) -> text ([`render`] for /metrics, [`http::page`],
//! [`status`] for `status` and `check`), shared between concurrent scrapes
//! by [`scrape`].

pub mod chrony;
pub mod cli;
pub mod collect;
pub mod doctor;
pub mod http;
pub mod logging;
pub mod nodefacts;
pub mod probe;
pub mod ptp;
pub mod render;
mod replysocket;
pub mod report;
pub mod sampler;
pub mod scrape;
pub mod status;
pub mod sys;
pub mod timesyncd;
pub mod verdict;
