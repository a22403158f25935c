//! What the report's tests share: the binary, and from clockwatch-testkit
//! the loud skip, a real Prometheus on loopback and headless Chromium.
#![allow(dead_code)]

#[allow(unused_imports)] // each test binary uses a different part
pub use clockwatch_testkit::{chromium, skip_unless, test_output_dir, Prometheus};

pub const BIN: &str = env!("CARGO_BIN_EXE_clockwatch-report");
