//! `clockwatch report`: runs the report binary, `clockwatch-report`.
//!
//! The report is its own crate and binary (crates/report) so that this
//! binary, which runs on every node, carries no HTTP client, CSV or HTML
//! code. The subcommand stays for the users and scripts that call it: it
//! finds `clockwatch-report` next to the running executable, else on PATH,
//! and replaces this process with it, every argument passed through
//! unchanged (`--help` included), so the exit status, the output and the
//! signals are the report's own.

use std::ffi::{OsStr, OsString};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The report binary's name.
pub const BINARY: &str = "clockwatch-report";

/// What `clockwatch report` takes: everything, for `clockwatch-report`.
/// Only `clockwatch --help` and `clockwatch help report` see this through
/// clap: the arguments themselves are taken by [`invocation`] before clap
/// parses anything, since clap would drop a leading `--`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// The arguments of clockwatch-report (`clockwatch report --help` lists them).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        num_args = 0..,
        value_name = "ARGS"
    )]
    pub args: Vec<OsString>,
}

/// `clockwatch report ARGS`: `ARGS` exactly as given, or None when the
/// command line is not the report's. `report` must be the first argument,
/// as for every subcommand (no serve flag goes with a subcommand).
pub fn invocation(mut argv: impl Iterator<Item = OsString>) -> Option<Vec<OsString>> {
    argv.next()?;
    (argv.next()? == "report").then(|| argv.collect())
}

/// Where to look, in order: the directory of the running executable (as
/// installed side by side, or `target/release/`), then each PATH entry.
pub fn candidates(exe: Option<&Path>, path: Option<&OsStr>) -> Vec<PathBuf> {
    let beside = exe.and_then(Path::parent).map(|dir| dir.join(BINARY));
    let on_path = path
        .into_iter()
        .flat_map(std::env::split_paths)
        // An empty PATH entry means the working directory: not a place an
        // installed program is looked up from.
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(BINARY));
    beside.into_iter().chain(on_path).collect()
}

/// The first candidate that is an executable file.
pub fn find(candidates: &[PathBuf]) -> Option<&PathBuf> {
    candidates.iter().find(|p| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// Replaces this process with `clockwatch-report ARGS`; returns only when
/// that is impossible, with exit code 2 and what to install.
pub fn run(args: Vec<OsString>) -> ExitCode {
    let exe = std::env::current_exe().ok();
    let path = std::env::var_os("PATH");
    let candidates = candidates(exe.as_deref(), path.as_deref());
    let Some(binary) = find(&candidates) else {
        eprintln!("{}", missing_message(exe.as_deref()));
        return ExitCode::from(2);
    };
    // exec only returns on failure.
    let error = std::process::Command::new(binary).args(&args).exec();
    eprintln!(
        "clockwatch report: cannot run {}: {error}",
        binary.display()
    );
    ExitCode::from(2)
}

/// Says where the report binary was looked for and how to install it.
pub fn missing_message(exe: Option<&Path>) -> String {
    let beside = exe
        .and_then(Path::parent)
        .map(|dir| format!("not in {} (beside clockwatch) and ", dir.display()))
        .unwrap_or_default();
    format!(
        "clockwatch report: error: the report is a separate program, {BINARY}, and it is {beside}not on PATH.\n\
         Install {BINARY} beside clockwatch or on PATH, from the source tree:\n    \
         cargo build --release -p clockwatch-report   (writes target/release/{BINARY}, beside target/release/clockwatch)\n    \
         cargo install --locked --path crates/report  (into ~/.cargo/bin)\n\
         The node image leaves it out on purpose: it carries no HTTP client (docs/compliance.md)."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_s_arguments_are_taken_as_given() {
        let argv = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            invocation(argv(&["clockwatch", "report", "--", "-x", ""]).into_iter()),
            Some(argv(&["--", "-x", ""]))
        );
        assert_eq!(
            invocation(argv(&["/bin/clockwatch", "report"]).into_iter()),
            Some(vec![])
        );
        assert_eq!(invocation(argv(&["clockwatch"]).into_iter()), None);
        assert_eq!(
            invocation(argv(&["clockwatch", "status", "report"]).into_iter()),
            None
        );
        assert_eq!(
            invocation(argv(&["clockwatch", "--log.level", "report"]).into_iter()),
            None
        );
    }

    #[test]
    fn beside_the_executable_comes_first_then_path_in_order() {
        let c = candidates(
            Some(Path::new("/opt/cw/bin/clockwatch")),
            Some(OsStr::new("/usr/local/bin::/usr/bin")),
        );
        assert_eq!(
            c,
            [
                PathBuf::from("/opt/cw/bin/clockwatch-report"),
                PathBuf::from("/usr/local/bin/clockwatch-report"),
                PathBuf::from("/usr/bin/clockwatch-report"),
            ]
        );
        assert!(candidates(None, None).is_empty());
    }

    #[test]
    fn only_executable_files_are_found() {
        let dir = tempfile::tempdir().expect("tempdir");
        let plain = dir.path().join("a");
        std::fs::create_dir(&plain).expect("mkdir");
        std::fs::write(plain.join(BINARY), "").expect("write");
        let a_dir = dir.path().join("b");
        std::fs::create_dir_all(a_dir.join(BINARY)).expect("mkdir");
        let good = dir.path().join("c");
        std::fs::create_dir(&good).expect("mkdir");
        std::fs::write(good.join(BINARY), "#!/bin/sh\n").expect("write");
        std::fs::set_permissions(good.join(BINARY), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        let c: Vec<PathBuf> = ["a", "b", "missing", "c"]
            .iter()
            .map(|d| dir.path().join(d).join(BINARY))
            .collect();
        assert_eq!(find(&c), Some(&good.join(BINARY)));
        assert_eq!(find(&c[..3]), None);
    }

    #[test]
    fn the_message_says_where_it_looked_and_what_to_install() {
        let m = missing_message(Some(Path::new("/opt/cw/bin/clockwatch")));
        assert!(
            m.contains("not in /opt/cw/bin (beside clockwatch) and not on PATH"),
            "{m}"
        );
        assert!(
            m.contains("cargo install --locked --path crates/report"),
            "{m}"
        );
        assert!(missing_message(None).contains("it is not on PATH"));
    }
}
