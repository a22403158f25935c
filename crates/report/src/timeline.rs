//! What the report keeps of a node's cells once they are analysed: the
//! counts and intervals come from every cell (see [`crate::analysis`]), and
//! the per-cell outcomes are reduced to the columns the HTML timeline draws
//! (one per pixel of its plot: the worst class and the highest measured
//! peak of the cells under it). A node then costs a fixed
//! [`Timeline::BYTES`] however long the period, so a 10,000-node fleet's
//! kept results stay in tens of MiB at any length.

use super::analysis::{CellClass, CellOutcome};

/// Above this many nodes the HTML draws timelines for the non-compliant
/// nodes only (every node stays in its table; Markdown, CSV and JSON are
/// complete at any size).
pub const LARGE_FLEET: usize = 50;

/// Columns of a timeline (the plot width of `render_html`: 960 − 56).
pub const TIMELINE_COLUMNS: usize = 904;

/// One column of a timeline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Column {
    /// Worst class of its cells: out of tolerance, else unmeasured, else
    /// within.
    pub class: CellClass,
    /// Highest finite peak of its measured cells, NaN when none. Single
    /// precision: it sets a bar's height in pixels, nothing is computed
    /// from it (the report's figures come from the f64 outcomes).
    peak: f32,
}

impl Column {
    /// Highest finite peak of the column's measured cells.
    pub fn peak(&self) -> Option<f64> {
        (!self.peak.is_nan()).then_some(f64::from(self.peak))
    }
}

/// The columns of one node's timeline (at most [`TIMELINE_COLUMNS`]; one
/// per cell when the period has fewer cells).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Timeline(Vec<Column>);

impl Timeline {
    /// Upper bound on the bytes one timeline holds.
    pub const BYTES: usize = TIMELINE_COLUMNS * std::mem::size_of::<Column>();

    /// Reduces `outcomes` to at most [`TIMELINE_COLUMNS`] columns.
    pub fn of(outcomes: &[CellOutcome]) -> Self {
        let cells = outcomes.len();
        if cells == 0 {
            return Self::default();
        }
        let n = TIMELINE_COLUMNS.min(cells);
        Self(
            (0..n)
                .map(|c| {
                    let a = c * cells / n;
                    let b = ((c + 1) * cells / n).max(a + 1);
                    column(&outcomes[a..b])
                })
                .collect(),
        )
    }

    /// The columns, in time order.
    pub fn columns(&self) -> &[Column] {
        &self.0
    }
}

fn column(slice: &[CellOutcome]) -> Column {
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
    Column {
        class,
        // Rounded to the nearest f32: a relative error of 6e-8, far below
        // a pixel; an infinite peak stays infinite.
        peak: peak.map_or(f32::NAN, |p| p as f32),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::Reasons;

    fn o(class: CellClass, peak: Option<f64>) -> CellOutcome {
        CellOutcome {
            class,
            peak,
            reasons: Reasons::empty(),
        }
    }

    #[test]
    fn a_column_is_its_worst_class_and_measured_peak() {
        // 43,201 cells (30 days at 60 s, one more than divides evenly).
        let cells: Vec<CellOutcome> = (0..43_201)
            .map(|i| match i {
                100 => o(CellClass::OutOfTolerance, Some(0.0003)),
                // An unmeasured cell's peak is not drawn.
                20_000 => o(CellClass::Unmeasured, Some(0.9)),
                _ => o(CellClass::Within, Some(0.00001)),
            })
            .collect();
        let t = Timeline::of(&cells);
        let cols = t.columns();
        assert_eq!(cols.len(), TIMELINE_COLUMNS);
        let per = 43_201.0 / TIMELINE_COLUMNS as f64;
        let of = |cell: usize| (cell as f64 / per) as usize;
        assert_eq!(cols[of(100)].class, CellClass::OutOfTolerance);
        assert_eq!(cols[of(100)].peak(), Some(f64::from(0.0003f32)));
        assert_eq!(cols[of(20_000)].class, CellClass::Unmeasured);
        assert_eq!(cols[of(20_000)].peak(), Some(f64::from(0.00001f32)));
        let others = cols
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != of(100) && *i != of(20_000));
        for (i, c) in others {
            assert_eq!(c.class, CellClass::Within, "column {i}");
        }
        // Fewer cells than columns: one column per cell, None kept.
        let short = Timeline::of(&[
            o(CellClass::Unmeasured, None),
            o(CellClass::Within, Some(f64::INFINITY)),
        ]);
        assert_eq!(short.columns().len(), 2);
        assert_eq!(short.columns()[0].peak(), None);
        assert_eq!(short.columns()[1].peak(), Some(f64::INFINITY));
        assert!(std::mem::size_of::<Column>() <= 8);
    }
}
