//! The datagram sockets a query goes through: UDP connected to chronyd's
//! command port, or a unix datagram socket bound next to chronyd's socket
//! (chronyd replies to the sender's address, so the client needs a name of
//! its own, writable by chronyd, and must remove it when done; its name
//! carries 128 random bits, see [`crate::replysocket`]). A socket is
//! kept from one session to the next while it works: binding a named socket
//! costs more than the queries of a small scrape.

use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tokio::net::{UdpSocket, UnixDatagram};

use crate::replysocket::{self, RemoveOnDrop};

use super::error::{permission_detail, ChronyError};

/// Prefix of the reply sockets this program binds.
const REPLY_SOCKET_PREFIX: &str = "clockwatch-";

pub(crate) enum Socket {
    Udp {
        socket: UdpSocket,
        peer: SocketAddr,
    },
    Unix {
        socket: UnixDatagram,
        peer: PathBuf,
        /// chronyd's socket file as it was when this socket connected to
        /// it; None if it was gone by then (the socket is never reused).
        peer_file: Option<FileId>,
        own: RemoveOnDrop,
    },
}

/// Tells a file from a re-created one at the same path. The inode number
/// alone does not: a filesystem may hand a freed number to the next file
/// (ext4 does), so the change time goes with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileId {
    dev: u64,
    ino: u64,
    ctime: (i64, i64),
}

impl FileId {
    /// The file at `path` now (one statx), or None if there is none (or it
    /// cannot be looked at).
    pub(crate) fn of(path: &Path) -> Option<Self> {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).ok().map(|m| FileId {
            dev: m.dev(),
            ino: m.ino(),
            ctime: (m.ctime(), m.ctime_nsec()),
        })
    }

    /// A file id for tests of code that only compares them.
    #[cfg(test)]
    pub(crate) fn fake(n: u64) -> Self {
        FileId {
            dev: 0,
            ino: n,
            ctime: (0, 0),
        }
    }
}

/// A resolved place to send requests to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Udp(SocketAddr),
    Unix(PathBuf),
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Udp(addr) => write!(f, "udp://{addr}"),
            Endpoint::Unix(path) => write!(f, "unix://{}", path.display()),
        }
    }
}

impl Socket {
    pub(crate) async fn open(endpoint: &Endpoint) -> Result<Self, ChronyError> {
        match endpoint {
            Endpoint::Udp(addr) => Socket::udp(*addr).await,
            Endpoint::Unix(path) => Socket::unix(path),
        }
    }

    pub(crate) async fn udp(peer: SocketAddr) -> Result<Self, ChronyError> {
        let address = peer.to_string();
        let io_err = |source| ChronyError::Io {
            address: address.clone(),
            source,
        };
        let local: SocketAddr = if peer.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            ([0u16; 8], 0).into()
        };
        let socket = UdpSocket::bind(local).await.map_err(io_err)?;
        // Connected: the kernel drops datagrams from anyone else, and an
        // ICMP port unreachable surfaces as ECONNREFUSED.
        socket.connect(peer).await.map_err(io_err)?;
        Ok(Socket::Udp { socket, peer })
    }

    pub(crate) fn unix(peer: &Path) -> Result<Self, ChronyError> {
        let dir = peer.parent().unwrap_or(Path::new("/"));
        if !peer.exists() {
            // Distinguish "missing" from "cannot look": a 0750 directory we
            // cannot search makes the socket look missing.
            return Err(match std::fs::read_dir(dir) {
                Err(e) if e.kind() == io::ErrorKind::PermissionDenied => ChronyError::Permission {
                    path: peer.to_path_buf(),
                    detail: permission_detail(peer),
                },
                _ => ChronyError::SocketMissing {
                    path: peer.to_path_buf(),
                },
            });
        }
        replysocket::sweep_dead(dir, REPLY_SOCKET_PREFIX);
        let own = dir.join(replysocket::name(REPLY_SOCKET_PREFIX));
        let socket = UnixDatagram::bind(&own).map_err(|e| match e.kind() {
            io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
                ChronyError::Permission {
                    path: peer.to_path_buf(),
                    detail: permission_detail(peer),
                }
            }
            _ => ChronyError::Io {
                address: format!("unix://{}", own.display()),
                source: e,
            },
        })?;
        let guard = RemoveOnDrop(own.clone());
        // chronyd (often another uid than ours) must be able to send to it.
        std::fs::set_permissions(&own, std::fs::Permissions::from_mode(0o666)).map_err(|e| {
            ChronyError::Io {
                address: format!("unix://{}", own.display()),
                source: e,
            }
        })?;
        socket.connect(peer).map_err(|e| match e.kind() {
            io::ErrorKind::PermissionDenied => ChronyError::Permission {
                path: peer.to_path_buf(),
                detail: permission_detail(peer),
            },
            io::ErrorKind::ConnectionRefused => ChronyError::NotListening {
                address: format!("unix://{}", peer.display()),
            },
            io::ErrorKind::NotFound => ChronyError::SocketMissing {
                path: peer.to_path_buf(),
            },
            _ => ChronyError::Io {
                address: format!("unix://{}", peer.display()),
                source: e,
            },
        })?;
        // Between the exists() check and connect() chronyd may have gone.
        let peer_file = FileId::of(peer);
        Ok(Socket::Unix {
            socket,
            peer: peer.to_path_buf(),
            peer_file,
            own: guard,
        })
    }

    /// Whether a socket kept from an earlier session still reaches the
    /// same chronyd. A restarted chronyd has a new socket file (the old
    /// connection only gets ECONNREFUSED), and chronyd can only answer while
    /// our own file is still in place (a restart may have emptied the
    /// directory). Over UDP a restarted chronyd on the same port is reached
    /// as before.
    pub(crate) fn still_reaches_peer(&self) -> bool {
        match self {
            Socket::Udp { .. } => true,
            Socket::Unix {
                peer,
                peer_file,
                own,
                ..
            } => peer_file.is_some() && FileId::of(peer) == *peer_file && own.0.exists(),
        }
    }

    pub(crate) fn address(&self) -> String {
        match self {
            Socket::Udp { peer, .. } => peer.to_string(),
            Socket::Unix { peer, .. } => format!("unix://{}", peer.display()),
        }
    }

    pub(crate) fn is_udp(&self) -> bool {
        matches!(self, Socket::Udp { .. })
    }

    pub(crate) async fn send(&self, packet: &[u8]) -> io::Result<()> {
        match self {
            Socket::Udp { socket, .. } => socket.send(packet).await.map(drop),
            Socket::Unix { socket, .. } => socket.send(packet).await.map(drop),
        }
    }

    pub(crate) async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Socket::Udp { socket, .. } => socket.recv(buf).await,
            Socket::Unix { socket, .. } => socket.recv(buf).await,
        }
    }
}
