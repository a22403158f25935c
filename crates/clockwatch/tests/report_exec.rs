//! `clockwatch report` runs `clockwatch-report`: found beside the running
//! executable first, then on PATH, with every argument passed through and
//! its exit status and output kept; exit 2 and what to install when it is
//! missing. The clockwatch binary is linked into a scratch directory so that
//! what lies beside it is under the test's control; a stand-in script
//! records the arguments it was given (the real report binary has no way to
//! show them), and the last test runs the real one.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_clockwatch");

/// A directory holding a link to the clockwatch binary.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Self {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
        let exe = dir.path().join("bin").join("clockwatch");
        std::fs::create_dir(dir.path().join("bin")).expect("mkdir bin");
        // A hard link, not a symlink: the executable's own directory is the
        // one the link is in (a symlink resolves to target/debug).
        std::fs::hard_link(BIN, &exe)
            .or_else(|_| std::fs::copy(BIN, &exe).map(drop))
            .expect("link clockwatch");
        std::fs::create_dir(dir.path().join("path")).expect("mkdir path");
        Scratch { dir }
    }

    fn bin_dir(&self) -> PathBuf {
        self.dir.path().join("bin")
    }

    fn path_dir(&self) -> PathBuf {
        self.dir.path().join("path")
    }

    /// A stand-in `clockwatch-report` in `dir` that prints `tag`, then each
    /// argument on a line, then exits 7.
    fn stand_in(&self, dir: &Path, tag: &str) {
        let script = dir.join("clockwatch-report");
        std::fs::write(
            &script,
            format!("#!/bin/sh\necho {tag}\nfor a in \"$@\"; do echo \"[$a]\"; done\nexit 7\n"),
        )
        .expect("write stand-in");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }

    /// `clockwatch ARGS` with PATH = the scratch path directory and /bin
    /// (for the stand-in's shell).
    fn run(&self, args: &[&str]) -> Output {
        let path = std::env::join_paths([self.path_dir(), PathBuf::from("/bin")]).expect("PATH");
        Command::new(self.bin_dir().join("clockwatch"))
            .args(args)
            .env("PATH", path)
            .output()
            .expect("run clockwatch")
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn missing_report_binary_exits_2_and_says_what_to_install() {
    let s = Scratch::new();
    let o = s.run(&["report", "--from", "now-1h", "--tolerance", "1ms"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(
        err.contains(&format!(
            "not in {} (beside clockwatch) and not on PATH",
            s.bin_dir().display()
        )),
        "{err}"
    );
    assert!(
        err.contains("cargo build --release -p clockwatch-report"),
        "{err}"
    );
    assert!(
        err.contains("cargo install --locked --path crates/report"),
        "{err}"
    );
    assert!(o.stdout.is_empty());

    // A file of that name that cannot be executed is not the report.
    std::fs::write(s.bin_dir().join("clockwatch-report"), "").expect("write");
    let o = s.run(&["report", "--help"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("not on PATH"));
}

#[test]
fn every_argument_is_passed_through_and_the_exit_status_kept() {
    let s = Scratch::new();
    s.stand_in(&s.bin_dir(), "beside");
    let args = [
        "report",
        "--help",
        "--selector",
        "{cluster=\"prod\", node=~\"a b\"}",
        "-o",
        "",
        "--",
        "--from",
    ];
    let o = s.run(&args);
    assert_eq!(o.status.code(), Some(7), "{}", text(&o.stderr));
    let mut want = String::from("beside\n");
    for a in &args[1..] {
        want.push_str(&format!("[{a}]\n"));
    }
    assert_eq!(text(&o.stdout), want);
    assert!(o.stderr.is_empty(), "{}", text(&o.stderr));

    // No arguments at all: none passed; a leading `--` is kept.
    let o = s.run(&["report"]);
    assert_eq!(text(&o.stdout), "beside\n");
    let o = s.run(&["report", "--", "-V"]);
    assert_eq!(text(&o.stdout), "beside\n[--]\n[-V]\n");
}

#[test]
fn beside_the_executable_wins_over_path_and_path_is_searched() {
    let s = Scratch::new();
    s.stand_in(&s.path_dir(), "on-path");
    let o = s.run(&["report", "x"]);
    assert_eq!(o.status.code(), Some(7), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "on-path\n[x]\n");

    s.stand_in(&s.bin_dir(), "beside");
    let o = s.run(&["report", "x"]);
    assert_eq!(text(&o.stdout), "beside\n[x]\n");
}

/// The real report binary, as cargo builds it beside clockwatch (present
/// after `cargo build --workspace` or `cargo test --workspace`).
#[test]
fn help_is_the_report_binary_s_own() {
    let real = Path::new(BIN).with_file_name("clockwatch-report");
    let why = format!("no {} (cargo build -p clockwatch-report)", real.display());
    if !real.is_file() && clockwatch_testkit::skip(&why) {
        return;
    }
    let report = Command::new(&real).arg("--help").output().expect("run");
    assert_eq!(report.status.code(), Some(0));
    let through = Command::new(BIN)
        .args(["report", "--help"])
        .output()
        .expect("run");
    assert_eq!(through.status.code(), Some(0), "{}", text(&through.stderr));
    assert_eq!(text(&through.stdout), text(&report.stdout));
    assert!(text(&report.stdout).contains("--tolerance"));

    let top = Command::new(BIN).arg("--help").output().expect("run");
    assert!(
        text(&top.stdout).contains("runs clockwatch-report"),
        "{}",
        text(&top.stdout)
    );
}
