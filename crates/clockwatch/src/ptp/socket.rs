//! The client's end of ptp4l's management socket. ptp4l answers each
//! datagram by sending to the sender's address, so the client needs an
//! address of its own that ptp4l can reach:
//!
//! - an abstract-namespace name (the default): no file, nothing to clean
//!   up, gone with the socket. Abstract names belong to a network
//!   namespace, so ptp4l must share clockwatch's: true on a host, and for a
//!   `hostNetwork` pod.
//! - a socket file in a directory ptp4l can reach (same mount namespace, or
//!   a directory shared with it, such as the one that holds ptp4l's own
//!   socket): works across network namespaces. The file is removed when the
//!   collection ends, however it ends; files left by a killed process are
//!   swept, once provably dead ([`crate::replysocket`]), when the next
//!   client for that directory is made.
//!
//! Either way the socket is connected to ptp4l's: the kernel then delivers
//! to it only ptp4l's datagrams, and ptp4l's answers are not held to the
//! small unix datagram queue limit (`net.unix.max_dgram_qlen`), which only
//! applies to a receiver not connected back to its sender.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use tokio::net::UnixDatagram;

use super::error::PtpError;
use crate::replysocket::{self, RemoveOnDrop};

/// Prefix of the reply sockets' names (abstract and file).
pub(crate) const PREFIX: &str = "clockwatch-ptp-";

/// Where the client's reply socket lives.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ReplySocket {
    /// A Linux abstract-namespace name; ptp4l must be in the same network
    /// namespace.
    #[default]
    Abstract,
    /// A socket file in this directory; ptp4l must be able to reach the
    /// directory (and, unless it runs as root, write the file).
    Directory(PathBuf),
}

/// A bound reply socket connected to ptp4l's socket.
pub(crate) struct Connected {
    pub(crate) socket: UnixDatagram,
    _file: Option<RemoveOnDrop>,
}

/// Binds a reply socket as `reply` says and connects it to `peer`.
pub(crate) fn connect(reply: &ReplySocket, peer: &Path) -> Result<Connected, PtpError> {
    let bind_err = |source| PtpError::Bind {
        path: peer.to_path_buf(),
        source,
    };
    let (std_socket, file) = match reply {
        ReplySocket::Abstract => {
            use std::os::linux::net::SocketAddrExt;
            let addr =
                std::os::unix::net::SocketAddr::from_abstract_name(replysocket::name(PREFIX))
                    .map_err(bind_err)?;
            let s = std::os::unix::net::UnixDatagram::bind_addr(&addr).map_err(bind_err)?;
            (s, None)
        }
        ReplySocket::Directory(dir) => {
            let own = dir.join(replysocket::name(PREFIX));
            let s = std::os::unix::net::UnixDatagram::bind(&own).map_err(|e| PtpError::Bind {
                path: peer.to_path_buf(),
                source: io::Error::new(e.kind(), format!("{}: {e}", own.display())),
            })?;
            (s, Some(RemoveOnDrop(own)))
        }
    };
    std_socket.set_nonblocking(true).map_err(bind_err)?;
    std_socket.connect(peer).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => PtpError::SocketMissing {
            path: peer.to_path_buf(),
        },
        io::ErrorKind::ConnectionRefused => PtpError::NotListening {
            path: peer.to_path_buf(),
        },
        io::ErrorKind::PermissionDenied => PtpError::Permission {
            path: peer.to_path_buf(),
            detail: permission_detail(peer),
        },
        _ => PtpError::Io {
            path: peer.to_path_buf(),
            source: e,
        },
    })?;
    let socket = UnixDatagram::from_std(std_socket).map_err(bind_err)?;
    Ok(Connected {
        socket,
        _file: file,
    })
}

/// Who owns ptp4l's socket, who we are, and what would let us in.
fn permission_detail(peer: &Path) -> String {
    let (uid, gid) = crate::sys::effective_ids();
    let owner = match std::fs::metadata(peer) {
        Ok(m) => format!(
            "it is owned by uid {} gid {} with mode {:04o}",
            m.uid(),
            m.gid(),
            m.mode() & 0o7777
        ),
        Err(e) => format!("it cannot be inspected ({e})"),
    };
    format!(
        "{owner}; clockwatch runs as uid {uid} gid {gid} and needs write permission on it. \
         Run clockwatch in the socket's group, or (linuxptp 4.x) use ptp4l's read-only socket \
         (uds_ro_address, default /var/run/ptp4lro, mode uds_ro_file_mode 0666), which answers GET"
    )
}
