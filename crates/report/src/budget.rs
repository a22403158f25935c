//! The memory budget of a report: an up-front estimate from the survey
//! (nodes × cells, queries in flight), refused above `--max-memory` with
//! exit 2 and one line saying what to change, instead of an allocation
//! failure (SIGABRT) half-way through.

use std::mem::size_of;

use super::analysis::{CellInput, CellOutcome};
use super::ReportError;

/// Default of `--max-memory`.
pub const DEFAULT_MAX_MEMORY: &str = "4GiB";
/// Resident bytes per node and cell: the cell while the answers are merged
/// and the scrape-target bits of the rollout rule. Once a node is analysed
/// its cells are freed and only [`node_bytes`] stay.
pub const BYTES_PER_CELL: u64 = (size_of::<CellInput>() + 2) as u64;
/// What stays of an analysed node over `cells` cells: its outcomes, at most
/// the timeline columns (see [`crate::compact`]), and its name, intervals
/// and counts, roughly.
pub fn node_bytes(cells: usize) -> u64 {
    (cells.min(2 * crate::compact::TIMELINE_COLUMNS) * size_of::<CellOutcome>() + 1024) as u64
}
/// Bytes per sample of one answer in flight: its JSON text (about 28 B)
/// and the parsed point (16 B), rounded up.
pub const BYTES_PER_SAMPLE_IN_FLIGHT: u64 = 48;
/// The program, the HTTP client and the rendered text, roughly.
pub const BASE_BYTES: u64 = 64 << 20;

/// Parses `512MiB`, `4GiB`, `2G`, `1000000` (bytes).
pub fn parse_size(text: &str) -> Result<u64, ReportError> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "ki" | "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mi" | "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gi" | "gib" => 1 << 30,
        "t" | "tb" => 1_000_000_000_000,
        "ti" | "tib" => 1 << 40,
        _ => 0,
    };
    let v: f64 = num.parse().unwrap_or(-1.0);
    if scale == 0 || v <= 0.0 || !v.is_finite() {
        return Err(ReportError::Argument(format!(
            "--max-memory {text:?}: expected a size such as 512MiB or 4GiB"
        )));
    }
    Ok((v * scale as f64) as u64)
}

/// Estimated peak bytes of a report over `nodes` × `cells` with
/// `concurrency` answers of at most `samples_per_query` in flight.
pub fn estimate(nodes: usize, cells: usize, concurrency: usize, samples_per_query: u64) -> u64 {
    let grid = (nodes as u64)
        .saturating_mul(cells as u64)
        .saturating_mul(BYTES_PER_CELL)
        .saturating_add((nodes as u64).saturating_mul(node_bytes(cells)))
        // The one node being analysed: its full outcomes.
        .saturating_add((cells as u64).saturating_mul(size_of::<CellOutcome>() as u64 + 8));
    let largest_answer = samples_per_query.min((nodes as u64).saturating_mul(cells as u64).max(1));
    let flight = (concurrency.max(1) as u64)
        .saturating_mul(largest_answer)
        .saturating_mul(BYTES_PER_SAMPLE_IN_FLIGHT);
    BASE_BYTES.saturating_add(grid).saturating_add(flight)
}

/// Refuses a run whose estimate is above `limit`.
pub fn check(
    nodes: usize,
    cells: usize,
    concurrency: usize,
    samples_per_query: u64,
    limit_text: &str,
) -> Result<u64, ReportError> {
    let limit = parse_size(limit_text)?;
    let need = estimate(nodes, cells, concurrency, samples_per_query);
    if need > limit {
        return Err(ReportError::Memory {
            need: mib(need),
            limit: limit_text.trim().to_string(),
            nodes,
            cells,
        });
    }
    Ok(need)
}

/// `1234.5 MiB`.
pub fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1u64 << 20) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512MiB").expect("s"), 512 << 20);
        assert_eq!(parse_size("4GiB").expect("s"), 4 << 30);
        assert_eq!(parse_size("2G").expect("s"), 2_000_000_000);
        assert_eq!(parse_size("1.5GiB").expect("s"), 3 << 29);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("0").is_err());
        assert!(parse_size("5XB").is_err());
    }

    #[test]
    fn estimate_refuses_with_what_to_change() {
        // 10,000 nodes × 30 days at 60 s.
        let e = check(10_000, 43_200, 3, 5_000_000, "4GiB").expect_err("too big");
        let text = e.to_string();
        assert!(text.contains("--max-memory 4GiB"), "{text}");
        assert!(text.contains("--step"), "{text}");
        assert!(check(8, 480, 3, 5_000_000, "64MiB").is_err());
        assert!(check(8, 480, 3, 5_000_000, "256MiB").is_ok());
    }
}

/// How many nodes one group may hold so that the run stays within
/// `limit_text`: every node's kept result, plus one group's cells being
/// merged and the answers in flight. `Err` when not even one node fits.
pub fn group_size(
    nodes: usize,
    cells: usize,
    concurrency: usize,
    samples_per_query: u64,
    limit_text: &str,
) -> Result<usize, ReportError> {
    let limit = parse_size(limit_text)?;
    let fixed = BASE_BYTES
        .saturating_add((nodes as u64).saturating_mul(node_bytes(cells)))
        .saturating_add((cells as u64).saturating_mul(size_of::<CellOutcome>() as u64 + 8));
    let per_node = (cells as u64).saturating_mul(BYTES_PER_CELL);
    let fits = |g: u64| {
        let flight = (concurrency.max(1) as u64)
            .saturating_mul(samples_per_query.min(g.saturating_mul(cells as u64)).max(1))
            .saturating_mul(BYTES_PER_SAMPLE_IN_FLIGHT);
        fixed
            .saturating_add(g.saturating_mul(per_node))
            .saturating_add(flight)
            <= limit
    };
    if !fits(1) {
        return Err(ReportError::Memory {
            need: mib(estimate(nodes, cells, concurrency, samples_per_query).min(
                fixed
                    .saturating_add(per_node)
                    .saturating_add(BYTES_PER_SAMPLE_IN_FLIGHT * cells as u64),
            )),
            limit: limit_text.trim().to_string(),
            nodes,
            cells,
        });
    }
    // Largest g in [1, nodes] that fits (fits is monotonic).
    let (mut lo, mut hi) = (1u64, nodes.max(1) as u64);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    Ok(lo as usize)
}

#[cfg(test)]
mod group_tests {
    use super::*;

    #[test]
    fn groups_fit_the_budget() {
        // 10,000 nodes × 30 days at 60 s in 4 GiB: groups, not a refusal.
        let g = group_size(10_000, 43_200, 3, 5_000_000, "4GiB").expect("fits");
        assert!(g > 100 && g < 10_000, "{g}");
        assert_eq!(group_size(8, 480, 3, 5_000_000, "4GiB").expect("fits"), 8);
        assert!(group_size(8, 480, 3, 5_000_000, "16MiB").is_err());
    }
}
