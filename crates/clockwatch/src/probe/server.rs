//! The servers a user names: `HOST[:PORT]`, port 123 unless given.

use std::fmt;
use std::str::FromStr;

use crate::chrony::address::{split_host_port, HostPortError};

/// NTP's port.
pub const NTP_PORT: u16 = 123;

/// One server to probe: an IP literal or a DNS name, and a port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerSpec {
    pub host: String,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServerSpecError {
    #[error("empty NTP server (use HOST or HOST:PORT)")]
    Empty,
    #[error("NTS (nts://) is not supported yet: probe {0:?} without authentication as HOST[:PORT], see docs/probe.md")]
    Nts(String),
    #[error("unsupported scheme {0:?} in NTP server (use HOST or HOST:PORT)")]
    Scheme(String),
    #[error("invalid port {port:?} in NTP server {given:?}")]
    Port { given: String, port: String },
    #[error("invalid host {host:?} in NTP server {given:?}")]
    Host { given: String, host: String },
}

impl FromStr for ServerSpec {
    type Err = ServerSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err(ServerSpecError::Empty);
        }
        if let Some((scheme, _)) = s.split_once("://") {
            return Err(if scheme.eq_ignore_ascii_case("nts") {
                ServerSpecError::Nts(s.to_string())
            } else {
                ServerSpecError::Scheme(scheme.to_string())
            });
        }
        let given = s.to_string();
        let (host, port) = split_host_port(s, NTP_PORT).map_err(|e| match e {
            HostPortError::Port(port) => ServerSpecError::Port { given, port },
            HostPortError::Host(host) => ServerSpecError::Host { given, host },
        })?;
        Ok(ServerSpec {
            host: host.to_string(),
            port,
        })
    }
}

impl fmt::Display for ServerSpec {
    /// `host:port`, `[v6]:port`: what the metrics label and the logs say.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(host: &str, port: u16) -> ServerSpec {
        ServerSpec {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn parses_hosts_with_and_without_ports() {
        for (text, want, shown) in [
            ("127.0.0.1", spec("127.0.0.1", 123), "127.0.0.1:123"),
            ("127.0.0.1:1123", spec("127.0.0.1", 1123), "127.0.0.1:1123"),
            ("::1", spec("::1", 123), "[::1]:123"),
            ("[::1]:1123", spec("::1", 1123), "[::1]:1123"),
            (
                " ntp.example.org ",
                spec("ntp.example.org", 123),
                "ntp.example.org:123",
            ),
            (
                "time-1.example:4123",
                spec("time-1.example", 4123),
                "time-1.example:4123",
            ),
        ] {
            assert_eq!(text.parse::<ServerSpec>(), Ok(want.clone()), "{text}");
            assert_eq!(want.to_string(), shown);
            assert_eq!(shown.parse::<ServerSpec>(), Ok(want));
        }
    }

    #[test]
    fn rejects_bad_servers_precisely() {
        assert_eq!("".parse::<ServerSpec>(), Err(ServerSpecError::Empty));
        let nts = "nts://time.example".parse::<ServerSpec>().expect_err("nts");
        assert!(nts.to_string().contains("not supported yet"), "{nts}");
        assert_eq!(
            "udp://x".parse::<ServerSpec>(),
            Err(ServerSpecError::Scheme("udp".into()))
        );
        assert_eq!(
            "x:0".parse::<ServerSpec>().map_err(|e| e.to_string()),
            Err("invalid port \"0\" in NTP server \"x:0\"".into())
        );
        assert_eq!(
            "x:99999".parse::<ServerSpec>().map_err(|e| e.to_string()),
            Err("invalid port \"99999\" in NTP server \"x:99999\"".into())
        );
        assert!(matches!(
            "bad_host!".parse::<ServerSpec>(),
            Err(ServerSpecError::Host { .. })
        ));
        assert!(matches!(
            "[::1".parse::<ServerSpec>(),
            Err(ServerSpecError::Host { .. })
        ));
    }
}
