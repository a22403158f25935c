//! The `clockwatch` binary: argument parsing and dispatch only; every
//! capability lives in the library so that tests can reach it.

use std::process::ExitCode;

/// The image is a static musl binary. musl's allocator hands freed groups
/// back to the kernel, so every scrape mapped and unmapped its response
/// buffer and touched fresh pages: about a fifth more CPU per scrape than
/// the glibc build on the benchmark's VM. mimalloc keeps them.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    clockwatch::cli::main()
}
