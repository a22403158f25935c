//! Where the system bus is: a D-Bus server address (`unix:path=…`, the
//! D-Bus specification's "Server Addresses") or a plain socket path.
//!
//! clockwatch only speaks to the system bus over its unix socket: that is
//! where every Linux distribution's dbus-daemon (and dbus-broker) listens,
//! and what a pod can mount from its host. Abstract sockets and TCP are
//! refused with a message rather than half supported.

use std::fmt;
use std::path::{Path, PathBuf};

use super::TimesyncdError;

/// The socket of the system bus on every systemd distribution (the D-Bus
/// specification's default is /var/run/dbus/system_bus_socket, and /var/run
/// is a link to /run there; a scratch image has no /var/run, so the real
/// directory is used).
pub const DEFAULT_SYSTEM_BUS_SOCKET: &str = "/run/dbus/system_bus_socket";

/// The environment variable that overrides the system bus address, as
/// libdbus, sd-bus and zbus honour it.
pub const SYSTEM_BUS_ENV: &str = "DBUS_SYSTEM_BUS_ADDRESS";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusAddress {
    socket: PathBuf,
}

impl BusAddress {
    /// The system bus: `$DBUS_SYSTEM_BUS_ADDRESS` if set and not empty,
    /// else [`DEFAULT_SYSTEM_BUS_SOCKET`].
    pub fn system() -> Result<Self, TimesyncdError> {
        Self::system_from(std::env::var(SYSTEM_BUS_ENV).ok().as_deref())
    }

    /// [`BusAddress::system`] with the variable's value passed in.
    pub fn system_from(env_value: Option<&str>) -> Result<Self, TimesyncdError> {
        match env_value.map(str::trim) {
            Some(value) if !value.is_empty() => Self::parse(value),
            _ => Ok(Self::unix(DEFAULT_SYSTEM_BUS_SOCKET)),
        }
    }

    pub fn unix(socket: impl Into<PathBuf>) -> Self {
        Self {
            socket: socket.into(),
        }
    }

    /// Parses `unix:path=/run/dbus/system_bus_socket` (a list separated by
    /// `;` is read up to its first `unix:path=` entry, as a client tries
    /// them in order) or an absolute socket path.
    pub fn parse(text: &str) -> Result<Self, TimesyncdError> {
        let bad = |reason: String| TimesyncdError::BadAddress {
            address: text.to_string(),
            reason,
        };
        let text_trimmed = text.trim();
        if text_trimmed.starts_with('/') {
            return Ok(Self::unix(text_trimmed));
        }
        if text_trimmed.is_empty() {
            return Err(bad("empty".to_string()));
        }
        let mut refused = Vec::new();
        for entry in text_trimmed.split(';').filter(|e| !e.is_empty()) {
            let Some((transport, params)) = entry.split_once(':') else {
                return Err(bad(format!(
                    "{entry:?} has no transport (expected unix:path=/run/dbus/system_bus_socket)"
                )));
            };
            if transport != "unix" {
                refused.push(format!("{transport}: transport"));
                continue;
            }
            let mut path = None;
            for pair in params.split(',').filter(|p| !p.is_empty()) {
                let Some((key, value)) = pair.split_once('=') else {
                    return Err(bad(format!("{pair:?} is not key=value")));
                };
                match key {
                    "path" => path = Some(unescape(value).map_err(bad)?),
                    // The server's GUID: clockwatch has no use for it.
                    "guid" => {}
                    other => refused.push(format!("unix:{other}=")),
                }
            }
            if let Some(path) = path {
                if !Path::new(&path).is_absolute() {
                    return Err(bad(format!("path {path:?} is not absolute")));
                }
                return Ok(Self::unix(path));
            }
        }
        Err(bad(if refused.is_empty() {
            "no unix:path= entry".to_string()
        } else {
            format!(
                "only unix:path= is supported (the system bus's own socket), not {}",
                refused.join(", ")
            )
        }))
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }
}

impl fmt::Display for BusAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unix:path={}", self.socket.display())
    }
}

/// Undoes the specification's `%XX` escaping of address values.
fn unescape(value: &str) -> Result<String, String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad %-escape in {value:?}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("{value:?} is not UTF-8 once unescaped"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn socket(text: &str) -> PathBuf {
        match BusAddress::parse(text) {
            Ok(a) => a.socket().to_path_buf(),
            Err(e) => panic!("{text}: {e}"),
        }
    }

    fn refusal(text: &str) -> String {
        match BusAddress::parse(text) {
            Ok(a) => panic!("{text} accepted as {a}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn reads_unix_path_with_or_without_guid_and_escapes() {
        assert_eq!(
            socket("unix:path=/run/dbus/system_bus_socket"),
            PathBuf::from("/run/dbus/system_bus_socket")
        );
        assert_eq!(
            socket("unix:path=/tmp/x/bus,guid=a83791517154362ae84e7f426b0fa1b8"),
            PathBuf::from("/tmp/x/bus")
        );
        assert_eq!(
            socket("unix:path=/tmp/a%20b%2cc"),
            PathBuf::from("/tmp/a b,c")
        );
        assert_eq!(
            socket(" /host/run/dbus/socket "),
            PathBuf::from("/host/run/dbus/socket")
        );
        // A list is tried in order: the first unix:path= wins.
        assert_eq!(
            socket("tcp:host=127.0.0.1,port=1;unix:path=/b;unix:path=/c"),
            PathBuf::from("/b")
        );
    }

    #[test]
    fn refuses_what_it_cannot_use_and_says_why() {
        assert!(refusal("unix:abstract=/tmp/dbus-x").contains("only unix:path="));
        assert!(refusal("tcp:host=127.0.0.1,port=4000").contains("tcp: transport"));
        assert!(refusal("unix:path=relative/sock").contains("not absolute"));
        assert!(refusal("unix:path=/tmp/%zz").contains("bad %-escape"));
        assert!(refusal("unix:path").contains("not key=value"));
        assert!(refusal("nonsense").contains("no transport"));
        assert!(refusal("").contains("empty"));
    }

    #[test]
    fn system_bus_honours_the_environment() {
        assert_eq!(
            BusAddress::system_from(None).map(|a| a.to_string()).ok(),
            Some("unix:path=/run/dbus/system_bus_socket".to_string())
        );
        assert_eq!(
            BusAddress::system_from(Some(""))
                .map(|a| a.to_string())
                .ok(),
            Some("unix:path=/run/dbus/system_bus_socket".to_string())
        );
        assert_eq!(
            BusAddress::system_from(Some("unix:path=/tmp/t/bus"))
                .map(|a| a.to_string())
                .ok(),
            Some("unix:path=/tmp/t/bus".to_string())
        );
        assert!(BusAddress::system_from(Some("unix:abstract=x")).is_err());
    }
}
