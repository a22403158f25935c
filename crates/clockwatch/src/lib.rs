//! clockwatch: reads chronyd's view of the clock through its own command
//! protocol and the kernel's view through adjtimex, turns them into a clock
//! error bound and a sync state, and serves them as Prometheus metrics.
//!
//! Data flows one way: transport ([`chrony`]) -> decoded reports ->
//! collector snapshot ([`collect`]) -> bound and state ([`bound`]) ->
//! rendered text ([`render`]), shared between concurrent scrapes by
//! [`scrape`].

pub mod bound;
pub mod chrony;
pub mod cli;
pub mod collect;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod nodefacts;
pub mod render;
pub mod report;
pub mod scrape;
pub mod sys;
pub mod timesyncd;
pub mod verdict;
