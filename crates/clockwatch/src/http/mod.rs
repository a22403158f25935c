//! HTTP side: the server, the status page, and the web configuration
//! (TLS with certificate reload, basic auth, extra headers).

pub mod auth;
pub mod page;
pub mod plot;
pub mod server;
pub mod tls;
pub mod webconfig;
