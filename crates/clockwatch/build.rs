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
    // packed); a checkout changes HEAD itself. Only files that exist are
    // watched: cargo takes a missing one as changed, and reran this script
    // and relinked every binary at every build.
    if let (Some(dir), Some(common)) = (
        git(&["rev-parse", "--absolute-git-dir"]),
        git(&["rev-parse", "--path-format=absolute", "--git-common-dir"]),
    ) {
        let mut watched = vec![format!("{dir}/HEAD"), format!("{common}/packed-refs")];
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watched.push(format!("{common}/{branch}"));
        }
        for path in watched.iter().filter(|p| std::path::Path::new(p).exists()) {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    println!("cargo:rustc-env=CLOCKWATCH_REVISION={revision}");
}
