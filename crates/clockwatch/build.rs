//! Stamps the git revision into the binary, for
//! `clockwatch_build_info{revision}`: evidence names the exact build that
//! produced it. A release pipeline may set CLOCKWATCH_REVISION itself;
//! outside a git checkout (a crate tarball) the revision stays "unknown".

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

fn main() {
    println!("cargo:rerun-if-env-changed=CLOCKWATCH_REVISION");
    if std::env::var_os("CLOCKWATCH_REVISION").is_some() {
        return;
    }
    let Some(revision) = git(&["rev-parse", "--short=12", "HEAD"]) else {
        return;
    };
    // Rebuild when HEAD moves: a commit updates the branch's ref (loose or
    // packed); a checkout changes HEAD itself.
    if let (Some(dir), Some(common)) = (
        git(&["rev-parse", "--absolute-git-dir"]),
        git(&["rev-parse", "--path-format=absolute", "--git-common-dir"]),
    ) {
        println!("cargo:rerun-if-changed={dir}/HEAD");
        println!("cargo:rerun-if-changed={common}/packed-refs");
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            println!("cargo:rerun-if-changed={common}/{branch}");
        }
    }
    println!("cargo:rustc-env=CLOCKWATCH_REVISION={revision}");
}
