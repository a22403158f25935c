//! Reading a PTP hardware clock against the system clock, with errors that
//! say what the device is (the ioctl and its arithmetic are in sys.rs).

use std::io;
use std::path::{Path, PathBuf};

use crate::sys::{self, PhcOffset};

#[derive(Debug, thiserror::Error)]
pub enum PhcError {
    #[error("{} does not exist: no PTP hardware clock there (see /sys/class/ptp)", path.display())]
    Missing { path: PathBuf },

    #[error("{} is not a PTP hardware clock (its driver does not know the PTP ioctls)", path.display())]
    NotPhc { path: PathBuf },

    #[error("the driver of {} cannot read its clock between two system clock reads (PTP_SYS_OFFSET_EXTENDED unsupported)", path.display())]
    Unsupported { path: PathBuf },

    #[error("{} has no device behind it (unplugged, or its driver unloaded)", path.display())]
    NoDevice { path: PathBuf },

    #[error("permission denied on {}: clockwatch needs read access to the device", path.display())]
    Permission { path: PathBuf },

    #[error("reading {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
}

impl PhcError {
    /// A short, stable reason for logs, metrics and status output.
    pub fn kind(&self) -> &'static str {
        match self {
            PhcError::Missing { .. } => "missing",
            PhcError::NotPhc { .. } => "not_phc",
            PhcError::Unsupported { .. } => "unsupported",
            PhcError::NoDevice { .. } => "no_device",
            PhcError::Permission { .. } => "permission",
            PhcError::Io { .. } => "io",
        }
    }

    fn from_io(path: &Path, e: io::Error) -> Self {
        let path = path.to_path_buf();
        match e.raw_os_error() {
            Some(libc::ENOENT) => PhcError::Missing { path },
            Some(libc::ENOTTY) | Some(libc::EINVAL) => PhcError::NotPhc { path },
            Some(libc::EOPNOTSUPP) => PhcError::Unsupported { path },
            Some(libc::ENODEV) | Some(libc::ENXIO) => PhcError::NoDevice { path },
            Some(libc::EACCES) | Some(libc::EPERM) => PhcError::Permission { path },
            _ => PhcError::Io { path, source: e },
        }
    }
}

/// The PHC's offset from the system clock and the read window. A PHC read
/// takes microseconds; it does not block.
pub fn read_phc_offset(device: &Path) -> Result<PhcOffset, PhcError> {
    sys::phc_offset(device).map_err(|e| PhcError::from_io(device, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_say_what_the_device_is() {
        let missing = read_phc_offset(Path::new("/dev/ptp-clockwatch-none")).expect_err("none");
        assert_eq!(missing.kind(), "missing");
        let null = read_phc_offset(Path::new("/dev/null")).expect_err("not a PHC");
        assert_eq!(null.kind(), "not_phc");
        assert!(null
            .to_string()
            .contains("/dev/null is not a PTP hardware clock"));
        let errno = |n| PhcError::from_io(Path::new("/dev/ptp0"), io::Error::from_raw_os_error(n));
        assert_eq!(errno(libc::EOPNOTSUPP).kind(), "unsupported");
        assert_eq!(errno(libc::ENODEV).kind(), "no_device");
        assert_eq!(errno(libc::EACCES).kind(), "permission");
        assert_eq!(errno(libc::EIO).kind(), "io");
    }
}
