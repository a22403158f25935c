//! HTTP side: the server and the status page.

pub mod page;
pub mod server;
