//! Command line: `clockwatch [serve]`, `status`, `check`, `report`.
//!
//! Flags follow the Prometheus exporter conventions (`--web.listen-address`,
//! `--collector.NAME` / `--no-collector.NAME`, `--log.level`) and each has a
//! `CLOCKWATCH_*` environment variable.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::report;

/// Default listen port: collides with neither node_exporter (9100) nor
/// chrony_exporter (9123).
pub const DEFAULT_PORT: u16 = 9707;

#[derive(Debug, Parser)]
#[command(
    name = "clockwatch",
    version,
    about = "Clock error bound and sync state from chrony and the kernel, as Prometheus metrics and compliance evidence"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve /metrics, the status page, /healthz and /readyz (the default).
    Serve,
    /// Build a compliance report from Prometheus history.
    Report(report::ReportArgs),
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command {
        Some(Command::Report(args)) => report::run(args),
        Some(Command::Serve) | None => {
            eprintln!("clockwatch serve: not implemented yet");
            ExitCode::from(2)
        }
    }
}
