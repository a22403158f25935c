//! The client's own end of a daemon's unix datagram socket. chronyd and
//! ptp4l answer each datagram by sending to the sender's address, so a
//! client needs a socket file of its own beside theirs, must remove it when
//! done, and must never remove another live client's.
//!
//! Names carry 128 random bits and no pid: pids repeat across pid
//! namespaces (every container's first process is 1), and two clockwatch
//! processes may share one directory (a surge rollout, a debug pod). A file
//! left by a process killed before it could clean up is removed only when it
//! is provably dead: a datagram connect to it is refused (nobody is bound).

use std::collections::HashSet;
use std::io;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A reply socket's file name: `prefix`, 128 random bits in hex, `.sock`.
pub(crate) fn name(prefix: &str) -> String {
    use std::fmt::Write;
    let mut name = String::with_capacity(prefix.len() + 32 + 5);
    name.push_str(prefix);
    for byte in random_bytes::<16>() {
        let _ = write!(name, "{byte:02x}");
    }
    name.push_str(".sock");
    name
}

/// Removes the socket file when the exchange is done, whatever way it ends
/// (including a cancelled future).
pub(crate) struct RemoveOnDrop(pub(crate) PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Removes the reply sockets named with `prefix` in `dir` that are provably
/// dead, once per directory and process. A live socket, of this process or
/// another, is never touched: a connect to it succeeds, or fails with EPERM
/// when it is connected to the daemon. Files that are not sockets, and
/// sockets of other programs, are left alone.
pub(crate) fn sweep_dead(dir: &Path, prefix: &str) {
    static SWEPT: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);
    {
        let mut swept = SWEPT.lock().unwrap_or_else(|p| p.into_inner());
        if !swept
            .get_or_insert_with(HashSet::new)
            .insert(dir.join(prefix))
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
            .is_some_and(|n| n.starts_with(prefix) && n.ends_with(".sock"));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_prefix_and_128_random_bits() {
        let a = name("clockwatch-");
        let b = name("clockwatch-");
        assert_ne!(a, b);
        let hex = a
            .strip_prefix("clockwatch-")
            .and_then(|r| r.strip_suffix(".sock"))
            .expect("prefix and suffix");
        assert_eq!(hex.len(), 32);
        assert!(hex.bytes().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn the_sweep_removes_only_dead_sockets_with_the_prefix() {
        let dir = tempfile::tempdir().expect("tempdir");
        let live_path = dir.path().join(name("cw-test-"));
        let _live = std::os::unix::net::UnixDatagram::bind(&live_path).expect("bind");
        let dead_path = dir.path().join(name("cw-test-"));
        drop(std::os::unix::net::UnixDatagram::bind(&dead_path).expect("bind"));
        let other_path = dir.path().join(name("other-"));
        drop(std::os::unix::net::UnixDatagram::bind(&other_path).expect("bind"));
        let file_path = dir.path().join(name("cw-test-"));
        std::fs::write(&file_path, b"not a socket").expect("write");
        sweep_dead(dir.path(), "cw-test-");
        assert!(live_path.exists(), "a live socket survives");
        assert!(!dead_path.exists(), "a dead one is removed");
        assert!(other_path.exists(), "another program's is left alone");
        assert!(file_path.exists(), "a plain file is left alone");
    }
}
