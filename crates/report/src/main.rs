//! The `clockwatch-report` binary (also run by the node's `clockwatch
//! report`): argument parsing and the report live in the library, where the
//! tests reach them.

use std::process::ExitCode;

fn main() -> ExitCode {
    clockwatch_report::main()
}
