//! HTTP side: web configuration (TLS, basic auth, headers) and the server.

pub mod webconfig;
