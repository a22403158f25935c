//! Keeps only what the report shows of a node's cells: its counts and
//! intervals are computed over every cell by the analysis, and the per-cell
//! outcomes are then reduced to what the HTML timeline draws (one column of
//! [`TIMELINE_COLUMNS`] per pixel: the worst class and the peak of the
//! measured cells), so a node costs a fixed amount however long the period.
//!
//! Each column becomes two outcomes, the column's worst class without a
//! peak and a within-tolerance outcome carrying its measured peak, which the
//! renderer folds back into exactly the same column (checked by a test that
//! renders both).

use super::analysis::{CellClass, CellOutcome, NodeReport, Reasons};

/// Above this many nodes the HTML draws timelines for the non-compliant
/// nodes only (every node stays in its table; Markdown, CSV and JSON are
/// complete at any size).
pub const LARGE_FLEET: usize = 50;

/// Columns of a timeline (the plot width of `render_html`: 960 − 56).
pub const TIMELINE_COLUMNS: usize = 904;

/// Reduces `n.outcomes` to 2 × [`TIMELINE_COLUMNS`] entries when longer.
pub fn compact(n: &mut NodeReport) {
    let cells = n.outcomes.len();
    let cols = TIMELINE_COLUMNS;
    if cells <= 2 * cols {
        return;
    }
    let mut out = Vec::with_capacity(2 * cols);
    for c in 0..cols {
        let a = c * cells / cols;
        let b = ((c + 1) * cells / cols).max(a + 1);
        let slice = &n.outcomes[a..b];
        let class = if slice.iter().any(|o| o.class == CellClass::OutOfTolerance) {
            CellClass::OutOfTolerance
        } else if slice.iter().any(|o| o.class == CellClass::Unmeasured) {
            CellClass::Unmeasured
        } else {
            CellClass::Within
        };
        let peak = slice
            .iter()
            .filter(|o| o.class != CellClass::Unmeasured)
            .filter_map(|o| o.peak)
            .reduce(f64::max);
        out.push(CellOutcome {
            class,
            peak: None,
            reasons: Reasons::empty(),
        });
        out.push(CellOutcome {
            class: CellClass::Within,
            peak,
            reasons: Reasons::empty(),
        });
    }
    n.outcomes = out;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{self, CellInput, Grid};

    #[test]
    fn html_is_unchanged_by_compaction() {
        let cells = 43_201;
        let grid = Grid {
            start_ms: 1_714_521_600_000,
            step_ms: 60_000,
            cells,
        };
        let input: Vec<CellInput> = (0..cells)
            .map(|i| CellInput {
                bound_peak: match i % 997 {
                    0 => None,
                    5 => Some(0.0003),
                    7 => Some(f64::INFINITY),
                    _ => Some(0.00001 + (i % 13) as f64 * 1e-6),
                },
                exporter_down: i % 4999 == 3,
                ..CellInput::default()
            })
            .collect();
        let node = analysis::analyze_node("n", &grid, &input, 0.0001);
        let mut small = node.clone();
        compact(&mut small);
        assert_eq!(small.outcomes.len(), 2 * TIMELINE_COLUMNS);
        let report = |n: NodeReport| {
            let nodes = vec![n];
            crate::Report {
                generated_ms: 0,
                prometheus: "http://p".into(),
                selector: String::new(),
                requested_from_ms: grid.start_ms,
                requested_to_ms: grid.end_ms(),
                grid,
                tolerance: crate::profile::parse_tolerance("mifid2-hft").expect("tol"),
                allowed_unmeasured: 0.0,
                summary: analysis::summarize(&nodes, 0.0),
                nodes,
                queries: vec![],
                traceability: Default::default(),
            }
        };
        let full = crate::render_html::render(&report(node));
        let compacted = crate::render_html::render(&report(small));
        assert!(full == compacted, "the timeline must not change");
        assert!(full.contains("<svg"));
    }
}
