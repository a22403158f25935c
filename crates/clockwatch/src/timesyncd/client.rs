//! One read of timesyncd's properties: connect to the bus socket, the
//! D-Bus handshake, one `GetAll` call, all within one deadline.
//!
//! A fresh connection per read: a scrape every 15-60 s costs the bus four
//! small exchanges (auth, Hello, GetAll, and the reply), and there is no
//! long-lived connection whose death has to be noticed. The call carries
//! NO_AUTO_START: on a node where timesyncd is installed but stopped, a
//! plain call would make the bus start it through systemd (its package
//! ships a D-Bus activation file), and a monitor must never start a second
//! daemon steering the clock next to chronyd.

use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use futures_core::Stream;
use tokio::time::{timeout_at, Instant};
use zbus::message::Flags;
use zbus::zvariant::OwnedValue;

use super::error::Step;
use super::{decode, BusAddress, Status, TimesyncdError, BUS_NAME, INTERFACE, OBJECT_PATH};
use crate::chrony::error::describe_owner;

const PROPERTIES_INTERFACE: &str = "org.freedesktop.DBus.Properties";

/// Reads timesyncd's properties from the bus at `bus`. `timeout` bounds the
/// whole read (connect, handshake, call): a bus that never answers is a
/// [`TimesyncdError::Timeout`] naming the step, never a hang.
pub async fn read(bus: &BusAddress, timeout: Duration) -> Result<Status, TimesyncdError> {
    let deadline = Instant::now() + timeout;
    let address = bus.to_string();
    let timed_out = |step| TimesyncdError::Timeout {
        address: address.clone(),
        timeout,
        step,
    };

    let stream = timeout_at(deadline, tokio::net::UnixStream::connect(bus.socket()))
        .await
        .map_err(|_| timed_out(Step::Connecting))?
        .map_err(|e| connect_error(bus.socket(), e))?;

    let connection = timeout_at(
        deadline,
        zbus::connection::Builder::unix_stream(stream).build(),
    )
    .await
    .map_err(|_| timed_out(Step::Handshake))?
    .map_err(|e| handshake_error(&address, e))?;

    let properties = timeout_at(deadline, get_all(&connection))
        .await
        .map_err(|_| timed_out(Step::Reading))?
        .map_err(|e| call_error(&address, e))?;

    decode(&properties).map_err(|source| TimesyncdError::Decode { address, source })
}

/// The call, built by hand rather than through a zbus `Proxy`: a proxy
/// brings property caching and signal matching this one call has no use for
/// (156 kB of the static binary). The stream is opened before the call
/// is sent, so the reply cannot slip past it.
async fn get_all(connection: &zbus::Connection) -> zbus::Result<HashMap<String, OwnedValue>> {
    let call = zbus::Message::method_call(OBJECT_PATH, "GetAll")?
        .destination(BUS_NAME)?
        .interface(PROPERTIES_INTERFACE)?
        .with_flags(Flags::NoAutoStart)?
        .build(&(INTERFACE,))?;
    let serial = call.primary_header().serial_num();
    let mut incoming = zbus::MessageStream::from(connection);
    connection.send(&call).await?;
    loop {
        let message = std::future::poll_fn(|cx| Pin::new(&mut incoming).poll_next(cx))
            .await
            .ok_or(zbus::Error::InvalidReply)??;
        let header = message.header();
        if header.reply_serial() != Some(serial) {
            continue;
        }
        return match header.message_type() {
            zbus::message::Type::MethodReturn => message.body().deserialize(),
            // A MethodError with the error's name and text.
            _ => Err(zbus::Error::from(message.clone())),
        };
    }
}

fn connect_error(path: &Path, e: io::Error) -> TimesyncdError {
    let path = path.to_path_buf();
    match e.kind() {
        io::ErrorKind::NotFound => TimesyncdError::SocketMissing { path },
        io::ErrorKind::PermissionDenied => TimesyncdError::Permission {
            detail: permission_detail(&path),
            path,
        },
        io::ErrorKind::ConnectionRefused => TimesyncdError::NotListening { path },
        _ => TimesyncdError::Io { path, source: e },
    }
}

/// Who owns the socket and who we are: connect(2) needs write permission
/// on the socket and search permission on every directory above it.
fn permission_detail(path: &Path) -> String {
    let (uid, gid) = crate::sys::effective_ids();
    let dir = path.parent().unwrap_or(Path::new("/"));
    format!(
        "{}; {}; clockwatch runs as uid {uid} gid {gid} and needs write permission on the socket and search permission on its directory (the system bus socket is normally mode 0666)",
        describe_owner(dir),
        describe_owner(path)
    )
}

fn handshake_error(address: &str, e: zbus::Error) -> TimesyncdError {
    let address = address.to_string();
    match e {
        zbus::Error::Handshake(detail) => TimesyncdError::Handshake { address, detail },
        other => TimesyncdError::Bus {
            address,
            detail: other.to_string(),
        },
    }
}

fn call_error(address: &str, e: zbus::Error) -> TimesyncdError {
    let address = address.to_string();
    match e {
        zbus::Error::MethodError(name, message, _) => {
            let message = message.unwrap_or_default();
            match name.as_str() {
                "org.freedesktop.DBus.Error.ServiceUnknown"
                | "org.freedesktop.DBus.Error.NameHasNoOwner" => {
                    TimesyncdError::NotRunning { address }
                }
                "org.freedesktop.DBus.Error.AccessDenied" => TimesyncdError::AccessDenied {
                    address,
                    uid: crate::sys::effective_ids().0,
                    message,
                },
                other => TimesyncdError::Daemon {
                    address,
                    name: other.to_string(),
                    message,
                },
            }
        }
        other => TimesyncdError::Bus {
            address,
            detail: other.to_string(),
        },
    }
}
