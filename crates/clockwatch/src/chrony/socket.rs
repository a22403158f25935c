//! The datagram sockets a query goes through: UDP connected to chronyd's
//! command port, or a unix datagram socket bound next to chronyd's socket
//! (chronyd replies to the sender's address, so the client needs a name of
//! its own, writable by chronyd, and must remove it when done). A socket is
//! kept from one session to the next while it works: binding a named socket
//! costs more than the queries of a small scrape.

use std::collections::HashSet;
use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tokio::net::{UdpSocket, UnixDatagram};

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
    fn of(path: &Path) -> Option<Self> {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).ok().map(|m| FileId {
            dev: m.dev(),
            ino: m.ino(),
            ctime: (m.ctime(), m.ctime_nsec()),
        })
    }
}

impl Socket {
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
        remove_stale_reply_sockets(dir);
        let own = dir.join(format!(
            "{REPLY_SOCKET_PREFIX}{}-{:08x}.sock",
            std::process::id(),
            random_u32()
        ));
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

/// Removes the client's own socket file when the query is done, whatever
/// way it ends (including a cancelled future).
pub(crate) struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Removes reply sockets left by earlier runs of this program (killed before
/// it could clean up), once per directory and process. A file is stale when
/// the pid in its name is not running, or is ours: in a container the pid is
/// often 1 at every start, and this process has not bound any yet.
fn remove_stale_reply_sockets(dir: &Path) {
    static SWEPT: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);
    {
        let mut swept = SWEPT.lock().unwrap_or_else(|p| p.into_inner());
        if !swept
            .get_or_insert_with(HashSet::new)
            .insert(dir.to_path_buf())
        {
            return;
        }
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let me = std::process::id();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(REPLY_SOCKET_PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let alive = pid != me && Path::new(&format!("/proc/{pid}")).exists();
        if !alive {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

pub(crate) fn random_u32() -> u32 {
    let mut bytes = [0u8; 4];
    // getrandom only fails if the OS has no entropy source at all; a
    // time-derived fallback still keeps names and sequences distinct.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        return nanos ^ std::process::id().rotate_left(16);
    }
    u32::from_ne_bytes(bytes)
}
