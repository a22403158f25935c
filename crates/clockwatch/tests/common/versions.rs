//! The chrony versions the tests run side by side (docs/chrony-versions.md):
//! where each one's chronyd and chronyc are. scripts/build-chrony-versions.sh
//! builds them into $CLOCKWATCH_CHRONY_VERSIONS_ROOT/chrony-VERSION (default
//! /opt); the installed chrony stands for its own version.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{is_root, which, Version};

/// The chronyd and chronyc of one chrony build, and the version both report.
#[derive(Debug, Clone)]
pub struct ChronyBinaries {
    pub chronyd: PathBuf,
    pub chronyc: PathBuf,
    pub version: Version,
}

/// The version of the form "4.6" or "4.6.1", from a `--version` line:
/// "chronyd (chrony) version 4.6.1 (+CMDMON ...)", and the word itself.
fn version_of(binary: &Path) -> Option<(Version, String)> {
    let out = Command::new(binary).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let word = text.split_whitespace().nth(3)?.to_string();
    Some((Version::parse(&word)?, word))
}

impl ChronyBinaries {
    /// The installed chrony (PATH, /usr/sbin). A missing chronyc fails
    /// only when a test runs it.
    pub fn installed() -> Self {
        let chronyd = which("chronyd").expect("chronyd installed");
        let chronyc = which("chronyc").unwrap_or_else(|| PathBuf::from("chronyc"));
        let (version, _) = version_of(&chronyd)
            .unwrap_or_else(|| panic!("{} --version names no version", chronyd.display()));
        Self {
            chronyd,
            chronyc,
            version,
        }
    }

    /// chronyd and chronyc in `prefix`, if both are there and report `version`;
    /// a build that reports another version is a mistake, not a skip.
    fn in_prefix(prefix: &Path, version: &str) -> Option<Self> {
        let chronyd = prefix.join("sbin/chronyd");
        let chronyc = prefix.join("bin/chronyc");
        if !chronyd.is_file() || !chronyc.is_file() {
            return None;
        }
        for binary in [&chronyd, &chronyc] {
            let reported = version_of(binary).map(|(_, word)| word);
            assert_eq!(
                reported.as_deref(),
                Some(version),
                "{} is not chrony {version}",
                binary.display()
            );
        }
        Some(Self {
            chronyd,
            chronyc,
            version: Version::parse(version).expect("a version number"),
        })
    }
}

/// Where scripts/build-chrony-versions.sh puts chrony `version`.
pub fn build_prefix(version: &str) -> PathBuf {
    let root = std::env::var_os("CLOCKWATCH_CHRONY_VERSIONS_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt"));
    root.join(format!("chrony-{version}"))
}

/// chrony `version` of the matrix: its build, or the installed chrony if
/// that is the version. If neither exists (or the tests do not run as root,
/// which chronyd needs), says so loudly and returns None; under CI=true that
/// is a failure.
pub fn chrony_of_version(version: &str) -> Option<ChronyBinaries> {
    let prefix = build_prefix(version);
    let found = ChronyBinaries::in_prefix(&prefix, version).or_else(|| {
        let chronyd = which("chronyd")?;
        which("chronyc")?;
        let (_, word) = version_of(&chronyd)?;
        (word == version).then(ChronyBinaries::installed)
    });
    let why = match (&found, is_root()) {
        (Some(_), true) => return found,
        (Some(_), false) => format!("chrony {version} needs root (chronyd sets up its sockets as root)"),
        (None, _) => format!(
            "chrony {version} is not built ({} missing, and the installed chronyd is not {version}): \
             run sudo scripts/build-chrony-versions.sh",
            prefix.display()
        ),
    };
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("in CI nothing may skip: {why}");
    }
    eprintln!("\n*** SKIP: {why} ***\n");
    None
}
