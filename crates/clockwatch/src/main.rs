//! The `clockwatch` binary: argument parsing and dispatch only; every
//! capability lives in the library so that tests can reach it.

use std::process::ExitCode;

fn main() -> ExitCode {
    clockwatch::cli::main()
}
