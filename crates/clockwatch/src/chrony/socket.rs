//! The datagram sockets a query goes through: UDP connected to chronyd's
//! command port, or a unix datagram socket bound next to chronyd's socket
//! (chronyd replies to the sender's address, so the client needs a name of
//! its own, writable by chronyd, and must remove it when done; its name
//! carries 128 random bits, see [`reply_socket_name`]). A socket is
//! kept from one session to the next while it works: binding a named socket
//! costs more than the queries of a small scrape.

use std::collections::HashSet;
use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
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
        remove_dead_reply_sockets(dir);
        let own = dir.join(reply_socket_name());
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

/// Removes the reply sockets in `dir` that are provably dead, once per
/// directory and process: a socket file with our prefix that nobody has
/// bound any more (a connect to it is refused), left by a process killed
/// before it could clean up. A name says nothing about liveness: in a
/// container every process is pid 1, and two clockwatch processes in
/// different pid namespaces (a surge rollout, a debug pod) may share
/// /run/chrony. A live socket, of this process or another, is never touched:
/// a connect to it succeeds, or fails with EPERM when it is connected to
/// chronyd. Files that are not sockets are left alone too.
fn remove_dead_reply_sockets(dir: &Path) {
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
    for entry in entries.flatten() {
        let name = entry.file_name();
        let ours = name
            .to_str()
            .is_some_and(|n| n.starts_with(REPLY_SOCKET_PREFIX) && n.ends_with(".sock"));
        let is_socket = entry.file_type().is_ok_and(|t| t.is_socket());
        if ours && is_socket && nobody_bound(&entry.path()) {
            tracing::debug!(path = %entry.path().display(), "removed a dead reply socket");
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// True only when a datagram connect to `path` is refused: the file is a
/// socket nobody is bound to. Any other answer (connected, EPERM from a
/// socket connected elsewhere, EACCES, ...) leaves it in doubt.
fn nobody_bound(path: &Path) -> bool {
    let Ok(probe) = std::os::unix::net::UnixDatagram::unbound() else {
        return false;
    };
    matches!(probe.connect(path), Err(e) if e.kind() == io::ErrorKind::ConnectionRefused)
}

/// A reply socket's file name: the prefix and 128 random bits. No pid: pids
/// repeat across pid namespaces (every container's first process is 1), 128
/// random bits do not.
fn reply_socket_name() -> String {
    use std::fmt::Write;
    let mut name = String::with_capacity(REPLY_SOCKET_PREFIX.len() + 32 + 5);
    name.push_str(REPLY_SOCKET_PREFIX);
    for byte in random_bytes::<16>() {
        let _ = write!(name, "{byte:02x}");
    }
    name.push_str(".sock");
    name
}

pub(crate) fn random_u32() -> u32 {
    u32::from_ne_bytes(random_bytes())
}

/// Bytes from the OS's random source. getrandom fails only where the OS has
/// no entropy source at all; the fallback (the clock, the pid, a counter,
/// mixed) still keeps names and sequences of this process distinct.
fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    if getrandom::fill(&mut bytes).is_ok() {
        return bytes;
    }
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    for (k, chunk) in bytes.chunks_mut(8).enumerate() {
        // RandomState is seeded per process (from the OS when it can).
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(nanos);
        h.write_u32(std::process::id());
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_usize(k);
        chunk.copy_from_slice(&h.finish().to_ne_bytes()[..chunk.len()]);
    }
    bytes
}
