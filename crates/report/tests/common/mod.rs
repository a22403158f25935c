//! What the report's tests share: the binary, and from clockwatch-testkit
//! the loud skip, a real Prometheus on loopback and headless Chromium.
#![allow(dead_code)]

#[allow(unused_imports)] // each test binary uses a different part
pub use clockwatch_testkit::{chromium, skip_unless, test_output_dir, Prometheus};

pub const BIN: &str = env!("CARGO_BIN_EXE_clockwatch-report");

/// The start of the hour `hours` hours before this one, in Unix seconds:
/// a history placed there is old enough that Prometheus serves all of it
/// (its head block takes the last hour or so) and is recent enough to keep.
pub fn hours_ago(hours: i64) -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .expect("clock after 1970");
    now / 3600 * 3600 - hours * 3600
}
