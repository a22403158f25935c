//! Where chronyd is: the address syntax users type.
//!
//! - `unix:///run/chrony/chronyd.sock` — the unix socket (all commands);
//! - `udp://127.0.0.1:323`, `udp://[::1]:323`, bare `HOST:PORT` or `HOST` —
//!   UDP (monitoring commands only);
//! - `auto` — the unix socket if usable, else 127.0.0.1:323, else [::1]:323;
//! - `none` — no chronyd: timex-only mode.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;

/// chronyd's default unix socket.
pub const DEFAULT_SOCKET: &str = "/run/chrony/chronyd.sock";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChronyAddress {
    Unix(PathBuf),
    /// Host (IP literal or name, resolved when used) and port.
    Udp {
        host: String,
        port: u16,
    },
    Auto,
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("empty chrony address (use auto, none, unix:///path or udp://host:port)")]
    Empty,
    #[error("unsupported scheme {0:?} in chrony address (use unix:// or udp://)")]
    Scheme(String),
    #[error("unix socket path must be absolute: {0:?}")]
    RelativePath(String),
    #[error("invalid port {0:?} in chrony address")]
    Port(String),
    #[error("invalid host {0:?} in chrony address")]
    Host(String),
}

impl ChronyAddress {
    /// The UDP addresses `auto` falls back to, in order.
    pub fn auto_udp_fallbacks() -> [SocketAddr; 2] {
        [
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), cmdmon::DEFAULT_PORT),
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), cmdmon::DEFAULT_PORT),
        ]
    }
}

impl FromStr for ChronyAddress {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err(AddressError::Empty);
        }
        match s {
            "auto" => return Ok(ChronyAddress::Auto),
            "none" => return Ok(ChronyAddress::None),
            _ => {}
        }
        if let Some((scheme, rest)) = s.split_once("://") {
            return match scheme {
                "unix" => parse_unix(rest),
                "udp" => parse_host_port(rest),
                other => Err(AddressError::Scheme(other.to_string())),
            };
        }
        if s.starts_with('/') {
            return parse_unix(s);
        }
        parse_host_port(s)
    }
}

fn parse_unix(path: &str) -> Result<ChronyAddress, AddressError> {
    if !path.starts_with('/') {
        return Err(AddressError::RelativePath(path.to_string()));
    }
    Ok(ChronyAddress::Unix(PathBuf::from(path)))
}

fn parse_host_port(s: &str) -> Result<ChronyAddress, AddressError> {
    let (host, port) = split_host_port(s, cmdmon::DEFAULT_PORT).map_err(|e| match e {
        HostPortError::Port(p) => AddressError::Port(p),
        HostPortError::Host(h) => AddressError::Host(h),
    })?;
    Ok(ChronyAddress::Udp {
        host: host.to_string(),
        port,
    })
}

/// What is wrong with a `HOST[:PORT]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostPortError {
    Port(String),
    Host(String),
}

/// `[v6]:port`, `[v6]`, `v4:port`, `name:port`, `v4`, `name` or a bare v6
/// literal: the host (an IP literal or a DNS name) and the port, or
/// `default_port`. Shared by the chrony address and the probe's servers.
pub(crate) fn split_host_port(s: &str, default_port: u16) -> Result<(&str, u16), HostPortError> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| HostPortError::Host(s.to_string()))?;
        match after.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if after.is_empty() => (host, None),
            None => return Err(HostPortError::Host(s.to_string())),
        }
    } else if s.parse::<Ipv6Addr>().is_ok() {
        (s, None)
    } else {
        match s.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (s, None),
        }
    };
    let port = match port {
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| HostPortError::Port(p.to_string()))?,
        None => default_port,
    };
    let valid_host = !host.is_empty()
        && (host.parse::<IpAddr>().is_ok()
            || host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'));
    if !valid_host {
        return Err(HostPortError::Host(host.to_string()));
    }
    Ok((host, port))
}

impl fmt::Display for ChronyAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChronyAddress::Unix(p) => write!(f, "unix://{}", p.display()),
            ChronyAddress::Udp { host, port } if host.contains(':') => {
                write!(f, "udp://[{host}]:{port}")
            }
            ChronyAddress::Udp { host, port } => write!(f, "udp://{host}:{port}"),
            ChronyAddress::Auto => f.write_str("auto"),
            ChronyAddress::None => f.write_str("none"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn udp(host: &str, port: u16) -> ChronyAddress {
        ChronyAddress::Udp {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn parses_every_form() {
        let cases = [
            ("auto", ChronyAddress::Auto),
            ("none", ChronyAddress::None),
            (
                "unix:///run/chrony/chronyd.sock",
                ChronyAddress::Unix(DEFAULT_SOCKET.into()),
            ),
            (
                "/run/chrony/chronyd.sock",
                ChronyAddress::Unix(DEFAULT_SOCKET.into()),
            ),
            ("udp://127.0.0.1:323", udp("127.0.0.1", 323)),
            ("127.0.0.1:1323", udp("127.0.0.1", 1323)),
            ("127.0.0.1", udp("127.0.0.1", 323)),
            ("udp://[::1]:323", udp("::1", 323)),
            ("[::1]", udp("::1", 323)),
            ("::1", udp("::1", 323)),
            ("localhost:323", udp("localhost", 323)),
            ("ntp-1.example.org", udp("ntp-1.example.org", 323)),
        ];
        for (text, want) in cases {
            assert_eq!(text.parse::<ChronyAddress>(), Ok(want.clone()), "{text}");
            // Display gives back something that parses to the same address.
            assert_eq!(
                want.to_string().parse::<ChronyAddress>(),
                Ok(want),
                "{text}"
            );
        }
    }

    #[test]
    fn rejects_bad_input_precisely() {
        assert_eq!("".parse::<ChronyAddress>(), Err(AddressError::Empty));
        assert_eq!(
            "tcp://x:1".parse::<ChronyAddress>(),
            Err(AddressError::Scheme("tcp".into()))
        );
        assert_eq!(
            "unix://relative.sock".parse::<ChronyAddress>(),
            Err(AddressError::RelativePath("relative.sock".into()))
        );
        assert_eq!(
            "127.0.0.1:0".parse::<ChronyAddress>(),
            Err(AddressError::Port("0".into()))
        );
        assert_eq!(
            "127.0.0.1:99999".parse::<ChronyAddress>(),
            Err(AddressError::Port("99999".into()))
        );
        assert_eq!(
            "host name:1".parse::<ChronyAddress>(),
            Err(AddressError::Host("host name".into()))
        );
        assert_eq!(
            "[::1".parse::<ChronyAddress>(),
            Err(AddressError::Host("[::1".into()))
        );
        assert_eq!(
            ":323".parse::<ChronyAddress>(),
            Err(AddressError::Host("".into()))
        );
    }
}
