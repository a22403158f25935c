//! The memory budget of a report: an up-front estimate from the survey
//! (nodes × cells, queries in flight), refused above `--max-memory` with
//! exit 2 and one line saying what to change, instead of an allocation
//! failure (SIGABRT) half-way through.

use std::mem::size_of;

use super::analysis::{CellInput, CellOutcome};
use super::timeline::Timeline;
use super::ReportError;

/// Default of `--max-memory`: a 10,000-node × 30-day report at 60 s runs
/// within it (in groups of nodes, see [`group_size`]).
pub const DEFAULT_MAX_MEMORY: &str = "512MiB";
/// Resident bytes per node and cell of the grid: the cell while the answers
/// are merged and the scrape-target bits of the rollout rule. Once a node
/// is analysed its cells are freed and only [`NODE_BYTES`] stay.
pub const GRID_BYTES_PER_CELL: u64 = (size_of::<CellInput>() + 2) as u64;
/// Resident bytes per counters series and instant while a group is
/// analysed: one reading (`Option<f64>`) per bucket, `_count`, its scrape
/// time, the summed state counters and the windowed peak, plus the five
/// state series summed into one.
pub const COUNTER_BYTES_PER_CELL: u64 =
    ((crate::counters::SERIES_PER_NODE + 4 + clockwatch_vocab::SyncState::ALL.len())
        * size_of::<Option<f64>>()) as u64;
/// What stays of an analysed node whatever the period: its timeline
/// columns, and its name, counts, method and intervals, roughly (a node
/// with thousands of breaches keeps every one: they are listed in full).
pub const NODE_BYTES: u64 = (Timeline::BYTES + 1024) as u64;
/// Bytes per sample of one answer in flight: its JSON text (about 28 B)
/// and the parsed point (16 B), rounded up.
pub const BYTES_PER_SAMPLE_IN_FLIGHT: u64 = 48;
/// The program, the HTTP client and the rendered text, roughly.
pub const BASE_BYTES: u64 = 64 << 20;

/// Bytes per node and cell of one group: the grid, and the counters when
/// the counters method will read them (`counter_series` of them over
/// `nodes`, e.g. two per node with replicas).
pub fn bytes_per_cell(nodes: usize, counter_series: usize, counters: bool) -> u64 {
    let per_node = if counters {
        (counter_series as u64).div_ceil(nodes.max(1) as u64)
    } else {
        0
    };
    GRID_BYTES_PER_CELL + per_node * COUNTER_BYTES_PER_CELL
}

/// What a run holds: `nodes` × `cells`, `per_cell` bytes each while a
/// group is fetched, and `concurrency` answers of at most
/// `samples_per_query` in flight.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// Nodes of the fleet.
    pub nodes: usize,
    /// Cells per node.
    pub cells: usize,
    /// Bytes per node and cell while fetched (see [`bytes_per_cell`]).
    pub per_cell: u64,
    /// Queries in flight.
    pub concurrency: usize,
    /// Samples one query may load.
    pub samples_per_query: u64,
}

impl Load {
    /// Bytes held whatever the grouping: the base, every node's kept
    /// result, and the one node being analysed (its outcomes).
    fn fixed(&self) -> u64 {
        BASE_BYTES
            .saturating_add((self.nodes as u64).saturating_mul(NODE_BYTES))
            .saturating_add((self.cells as u64).saturating_mul(size_of::<CellOutcome>() as u64 + 8))
    }

    /// Peak bytes with groups of `group` nodes.
    pub fn with_group(&self, group: u64) -> u64 {
        let cells = self.cells as u64;
        let answer = self
            .samples_per_query
            .min(group.saturating_mul(cells))
            .max(1);
        let flight = (self.concurrency.max(1) as u64)
            .saturating_mul(answer)
            .saturating_mul(BYTES_PER_SAMPLE_IN_FLIGHT);
        self.fixed()
            .saturating_add(group.saturating_mul(cells).saturating_mul(self.per_cell))
            .saturating_add(flight)
    }

    /// Estimated peak bytes with the whole fleet in one group.
    pub fn estimate(&self) -> u64 {
        self.with_group(self.nodes.max(1) as u64)
    }

    fn refusal(&self, need: u64, limit_text: &str) -> ReportError {
        ReportError::Memory {
            need: mib(need),
            limit: limit_text.trim().to_string(),
            nodes: self.nodes,
            cells: self.cells,
        }
    }
}

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

/// Refuses a run whose estimate (one group) is above `limit_text`.
pub fn check(load: &Load, limit_text: &str) -> Result<u64, ReportError> {
    let limit = parse_size(limit_text)?;
    let need = load.estimate();
    if need > limit {
        return Err(load.refusal(need, limit_text));
    }
    Ok(need)
}

/// How many nodes one group may hold so that the run stays within
/// `limit_text`: every node's kept result, plus one group's cells being
/// merged and the answers in flight. `Err` when not even one node fits.
pub fn group_size(load: &Load, limit_text: &str) -> Result<usize, ReportError> {
    let limit = parse_size(limit_text)?;
    if load.with_group(1) > limit {
        return Err(load.refusal(load.with_group(1), limit_text));
    }
    // Largest g in [1, nodes] that fits (the peak grows with g).
    let (mut lo, mut hi) = (1u64, load.nodes.max(1) as u64);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if load.with_group(mid) <= limit {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    Ok(lo as usize)
}

/// `1234.5 MiB`.
pub fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1u64 << 20) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(nodes: usize, cells: usize, per_cell: u64) -> Load {
        Load {
            nodes,
            cells,
            per_cell,
            concurrency: 3,
            samples_per_query: crate::fetch::DEFAULT_MAX_SAMPLES,
        }
    }

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
        // 10,000 nodes × 30 days at 60 s in one group.
        let e = check(&load(10_000, 43_200, GRID_BYTES_PER_CELL), "4GiB").expect_err("too big");
        let text = e.to_string();
        assert!(text.contains("--max-memory 4GiB"), "{text}");
        assert!(text.contains("--step"), "{text}");
        assert!(check(&load(8, 480, GRID_BYTES_PER_CELL), "64MiB").is_err());
        assert!(check(&load(8, 480, GRID_BYTES_PER_CELL), "256MiB").is_ok());
    }

    #[test]
    fn the_largest_fleet_fits_the_default_in_groups() {
        // 10,000 nodes × 30 days at 60 s: the grid alone (47 groups of
        // 215), with the counters of one exporter per node, and of two
        // (replicas).
        for (counter_series, counters) in [(0, false), (10_000, true), (20_000, true)] {
            let per_cell = bytes_per_cell(10_000, counter_series, counters);
            let l = load(10_000, 43_200, per_cell);
            let g = group_size(&l, DEFAULT_MAX_MEMORY).expect("fits");
            assert!((5..10_000).contains(&g), "{g}");
            if !counters {
                assert_eq!(g, 215);
            }
            let limit = parse_size(DEFAULT_MAX_MEMORY).expect("size");
            assert!(l.with_group(g as u64) <= limit);
            assert!(l.with_group(g as u64 + 1) > limit);
        }
        // Without counters the groups are larger.
        let grid_only = load(10_000, 43_200, bytes_per_cell(10_000, 10_000, false));
        let counted = load(10_000, 43_200, bytes_per_cell(10_000, 10_000, true));
        assert!(
            group_size(&grid_only, DEFAULT_MAX_MEMORY).expect("fits")
                > 5 * group_size(&counted, DEFAULT_MAX_MEMORY).expect("fits")
        );
        assert_eq!(
            group_size(&load(8, 480, GRID_BYTES_PER_CELL), "4GiB").expect("fits"),
            8
        );
        assert!(group_size(&load(8, 480, GRID_BYTES_PER_CELL), "16MiB").is_err());
    }
}
