//! `clockwatch report`: compliance evidence from Prometheus history.
//! (Placeholder: filled in by the report work.)

use std::process::ExitCode;

/// Arguments of `clockwatch report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {}

/// Runs the report; exit code 0 compliant, 1 not compliant, 2 error.
pub fn run(_args: ReportArgs) -> ExitCode {
    eprintln!("clockwatch report: not implemented yet");
    ExitCode::from(2)
}
