//! Compliance analysis: pure functions over an in-memory grid of cells.
//!
//! The period is cut into cells of one step. Cell `i` covers
//! `(start + i·step, start + (i+1)·step]`; what Prometheus saw inside that
//! cell is summarised by a [`CellInput`] (peak bound, non-synchronized states,
//! failed scrapes). Each cell is then classified exactly once:
//!
//! 1. **out of tolerance** when the peak of a finite bound inside the cell is
//!    above the tolerance (a breach that was seen counts, whatever else
//!    happened in the cell);
//! 2. **unmeasured** when there is no bound sample, the bound did not hold
//!    (+Inf), the value is not a number, the state was anything other than
//!    `synchronized` (including `stale`), chronyd was unreachable, or a scrape
//!    of the exporter failed, at any moment inside the cell;
//! 3. **within tolerance** otherwise (peak bound <= tolerance; equal counts
//!    as within).
//!
//! Nothing here reads a clock or talks to the network.

use std::fmt;

use clockwatch_vocab::SyncState;

use super::timeline::Timeline;

/// The evaluation grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grid {
    /// Start of the first cell, unix ms.
    pub start_ms: i64,
    /// Cell length, ms (> 0).
    pub step_ms: i64,
    /// Number of cells (> 0).
    pub cells: usize,
}

impl Grid {
    /// Start of cell `i` (exclusive bound of the cell).
    pub fn cell_start(&self, i: usize) -> i64 {
        self.start_ms + (i as i64) * self.step_ms
    }
    /// End of cell `i`: the instant the cell is evaluated at.
    pub fn cell_end(&self, i: usize) -> i64 {
        self.cell_start(i) + self.step_ms
    }
    /// End of the last cell.
    pub fn end_ms(&self) -> i64 {
        self.cell_end(self.cells.saturating_sub(1))
    }
    /// Total length, ms.
    pub fn span_ms(&self) -> i64 {
        self.step_ms * self.cells as i64
    }
    /// The cell evaluated at `t_ms`, if `t_ms` is one of the grid instants.
    pub fn cell_at_eval(&self, t_ms: i64) -> Option<usize> {
        let off = t_ms - self.start_ms;
        if off <= 0 || off % self.step_ms != 0 {
            return None;
        }
        let i = usize::try_from(off / self.step_ms - 1).ok()?;
        (i < self.cells).then_some(i)
    }
}

/// Why a cell is unmeasured (a set; several reasons may hold at once).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Reasons(u16);

impl Reasons {
    /// No bound sample in the cell.
    pub const NO_SAMPLE: Reasons = Reasons(1);
    /// A scrape of the exporter failed (`up` == 0).
    pub const EXPORTER_DOWN: Reasons = Reasons(1 << 1);
    /// chronyd did not answer the exporter (`chrony_up` == 0).
    pub const CHRONY_DOWN: Reasons = Reasons(1 << 2);
    /// Sync state `stale`.
    pub const STALE: Reasons = Reasons(1 << 3);
    /// Sync state `local`.
    pub const LOCAL: Reasons = Reasons(1 << 4);
    /// Sync state `unsynchronized`.
    pub const UNSYNCHRONIZED: Reasons = Reasons(1 << 5);
    /// Sync state `unknown`.
    pub const UNKNOWN: Reasons = Reasons(1 << 6);
    /// The bound was +Inf (it did not hold).
    pub const BOUND_NOT_HOLDING: Reasons = Reasons(1 << 7);
    /// The bound was NaN or negative.
    pub const INVALID_VALUE: Reasons = Reasons(1 << 8);
    /// The exporter's counters did not cover this time (not running,
    /// restarted): counters method only.
    pub const NOT_OBSERVED: Reasons = Reasons(1 << 9);

    const NAMES: [(Reasons, &'static str); 10] = [
        (Reasons::NO_SAMPLE, "no sample"),
        (Reasons::EXPORTER_DOWN, "exporter down"),
        (Reasons::CHRONY_DOWN, "chronyd unreachable"),
        // A state seen is named by its `state` label value.
        (Reasons::STALE, SyncState::Stale.as_str()),
        (Reasons::LOCAL, SyncState::Local.as_str()),
        (Reasons::UNSYNCHRONIZED, SyncState::Unsynchronized.as_str()),
        (Reasons::UNKNOWN, SyncState::Unknown.as_str()),
        (Reasons::BOUND_NOT_HOLDING, "bound not holding"),
        (Reasons::INVALID_VALUE, "invalid value"),
        (Reasons::NOT_OBSERVED, "not observed by the exporter"),
    ];

    /// The empty set.
    pub const fn empty() -> Self {
        Reasons(0)
    }
    /// Whether no reason is set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// Whether every reason of `other` is set.
    pub fn contains(self, other: Reasons) -> bool {
        self.0 & other.0 == other.0
    }
    /// Adds the reasons of `other`.
    pub fn insert(&mut self, other: Reasons) {
        self.0 |= other.0;
    }
    /// The reason for a `clockwatch_sync_state` label value other than
    /// `synchronized`; a value the exporter never writes counts as unknown.
    pub fn from_state(state: &str) -> Reasons {
        match SyncState::from_label(state) {
            Some(SyncState::Synchronized) => Reasons::empty(),
            Some(SyncState::Stale) => Reasons::STALE,
            Some(SyncState::Local) => Reasons::LOCAL,
            Some(SyncState::Unsynchronized) => Reasons::UNSYNCHRONIZED,
            Some(SyncState::Unknown) | None => Reasons::UNKNOWN,
        }
    }
    /// Stable names, in a fixed order.
    pub fn names(self) -> Vec<&'static str> {
        Self::NAMES
            .iter()
            .filter(|(r, _)| self.contains(*r))
            .map(|(_, n)| *n)
            .collect()
    }
}

impl fmt::Display for Reasons {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join(", "))
    }
}

/// What Prometheus saw inside one cell for one node.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CellInput {
    /// `max_over_time` of the bound inside the cell; `None` without samples.
    pub bound_peak: Option<f64>,
    /// Non-synchronized states seen inside the cell.
    pub states: Reasons,
    /// `chrony_up` was 0 at some sample inside the cell.
    pub chrony_down: bool,
    /// `up` was 0 at some sample inside the cell.
    pub exporter_down: bool,
}

impl CellInput {
    /// Merges what another series of the same node saw in the same cell
    /// (two exporter pods during a rollout, two Prometheus replicas): the
    /// larger peak, every problem of either.
    pub fn merge(&mut self, other: &CellInput) {
        self.bound_peak = match (self.bound_peak, other.bound_peak) {
            (None, b) | (b, None) => b,
            (Some(a), Some(b)) if a.is_nan() || b.is_nan() => Some(f64::NAN),
            (Some(a), Some(b)) => Some(a.max(b)),
        };
        self.states.insert(other.states);
        self.chrony_down |= other.chrony_down;
        self.exporter_down |= other.exporter_down;
    }
}

/// Class of a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CellClass {
    /// Peak bound <= tolerance, synchronized throughout.
    Within,
    /// Peak finite bound > tolerance.
    OutOfTolerance,
    /// Not measured (see [`Reasons`]).
    Unmeasured,
}

/// A classified cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CellOutcome {
    /// The class.
    pub class: CellClass,
    /// Peak bound seen (finite values only; `None` if none or not finite).
    pub peak: Option<f64>,
    /// Why it is unmeasured (empty otherwise).
    pub reasons: Reasons,
}

/// Classifies one cell against `tolerance` (seconds).
pub fn classify(cell: &CellInput, tolerance: f64) -> CellOutcome {
    let mut reasons = cell.states;
    if cell.chrony_down {
        reasons.insert(Reasons::CHRONY_DOWN);
    }
    if cell.exporter_down {
        reasons.insert(Reasons::EXPORTER_DOWN);
    }
    let peak = match cell.bound_peak {
        None => {
            reasons.insert(Reasons::NO_SAMPLE);
            None
        }
        Some(v) if v.is_nan() || v < 0.0 => {
            reasons.insert(Reasons::INVALID_VALUE);
            None
        }
        Some(v) if v.is_infinite() => {
            reasons.insert(Reasons::BOUND_NOT_HOLDING);
            None
        }
        Some(v) => Some(v),
    };
    if let Some(v) = peak {
        if v > tolerance {
            return CellOutcome {
                class: CellClass::OutOfTolerance,
                peak,
                reasons: Reasons::empty(),
            };
        }
    }
    if reasons.is_empty() {
        CellOutcome {
            class: CellClass::Within,
            peak,
            reasons,
        }
    } else {
        CellOutcome {
            class: CellClass::Unmeasured,
            peak,
            reasons,
        }
    }
}

/// A run of consecutive cells of one class.
#[derive(Debug, Clone, PartialEq)]
pub struct Interval {
    /// Start, unix ms (start of the first cell).
    pub start_ms: i64,
    /// End, unix ms (end of the last cell).
    pub end_ms: i64,
    /// Largest finite bound seen in the interval.
    pub peak: Option<f64>,
    /// Union of the reasons (gaps only).
    pub reasons: Reasons,
}

impl Interval {
    /// Length, ms.
    pub fn duration_ms(&self) -> i64 {
        self.end_ms - self.start_ms
    }
}

/// The analysis of one node.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeReport {
    /// Node name (label `node`, else `instance`).
    pub node: String,
    /// Cells within tolerance.
    pub cells_within: usize,
    /// Cells out of tolerance.
    pub cells_out: usize,
    /// Cells unmeasured.
    pub cells_unmeasured: usize,
    /// Largest finite peak bound over measured cells.
    pub worst_bound: Option<f64>,
    /// 99th percentile (nearest rank) of the per-cell peak bounds over
    /// measured cells.
    pub p99_bound: Option<f64>,
    /// Every out-of-tolerance interval.
    pub breaches: Vec<Interval>,
    /// Every unmeasured interval.
    pub gaps: Vec<Interval>,
    /// End of the first cell with any bound sample.
    pub first_sample_ms: Option<i64>,
    /// End of the last cell with any bound sample.
    pub last_sample_ms: Option<i64>,
    /// What the HTML timeline draws of the cells.
    pub timeline: Timeline,
    /// How the node's time was measured (grid unless the counters were used).
    pub method: MethodUsed,
}

/// How a node's time was measured, and why that way.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MethodUsed {
    /// The exporter's time counters (`None`: the grid of scrapes).
    pub counters: Option<TimeAccount>,
    /// Why this method, in words.
    pub why: String,
}

impl MethodUsed {
    /// `counters` or `grid`.
    pub fn name(&self) -> &'static str {
        if self.counters.is_some() {
            "counters"
        } else {
            "grid"
        }
    }
}

/// Seconds of a node's period from the exporter's time counters.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TimeAccount {
    /// Length of the period.
    pub wall_s: f64,
    /// Seconds the exporter observed (sum of the sync state counters).
    pub observed_s: f64,
    /// Seconds synchronized (histogram `_count`).
    pub synchronized_s: f64,
    /// Seconds synchronized with the bound at most [`TimeAccount::bucket_le`].
    pub within_s: f64,
    /// The bucket used for the tolerance (the largest `le` at or below it).
    pub bucket_le: f64,
    /// Exporter restarts (counter resets) seen.
    pub resets: usize,
    /// Seconds not synchronized or not observed: per stretch between two
    /// readings, the time between their scrapes minus the synchronized
    /// seconds counted; plus every cell without readings around it.
    pub lost_s: f64,
    /// Of that, the seconds not observed at all.
    pub not_observed_acc_s: f64,
}

impl TimeAccount {
    /// Synchronized seconds with the bound above the bucket.
    pub fn out_s(&self) -> f64 {
        (self.synchronized_s - self.within_s).max(0.0)
    }
    /// Seconds not synchronized or not observed at all.
    pub fn unmeasured_s(&self) -> f64 {
        self.lost_s.min(self.wall_s)
    }
    /// Seconds the exporter did not observe (not running, restarted).
    pub fn not_observed_s(&self) -> f64 {
        self.not_observed_acc_s.min(self.wall_s)
    }
}

impl NodeReport {
    /// Number of cells.
    pub fn cells(&self) -> usize {
        self.cells_within + self.cells_out + self.cells_unmeasured
    }
    /// Share of the period within tolerance (seconds from the counters,
    /// else cells).
    pub fn within_ratio(&self) -> f64 {
        match &self.method.counters {
            Some(a) => share(a.within_s, a.wall_s),
            None => ratio(self.cells_within, self.cells()),
        }
    }
    /// Share of the period out of tolerance.
    pub fn out_ratio(&self) -> f64 {
        match &self.method.counters {
            Some(a) => share(a.out_s(), a.wall_s),
            None => ratio(self.cells_out, self.cells()),
        }
    }
    /// Share of the period unmeasured.
    pub fn unmeasured_ratio(&self) -> f64 {
        match &self.method.counters {
            Some(a) => share(a.unmeasured_s(), a.wall_s),
            None => ratio(self.cells_unmeasured, self.cells()),
        }
    }
    /// Compliant: nothing out of tolerance, unmeasured share at most
    /// `allowed_unmeasured`.
    pub fn compliant(&self, allowed_unmeasured: f64) -> bool {
        self.cells_out == 0 && self.unmeasured_ratio() <= allowed_unmeasured
    }
}

fn share(n: f64, d: f64) -> f64 {
    if d > 0.0 {
        (n / d).clamp(0.0, 1.0)
    } else {
        0.0
    }
}

fn ratio(n: usize, d: usize) -> f64 {
    if d == 0 {
        0.0
    } else {
        n as f64 / d as f64
    }
}

/// Analyses one node's cells (`cells.len()` must equal `grid.cells`; missing
/// cells count as unmeasured).
pub fn analyze_node(node: &str, grid: &Grid, cells: &[CellInput], tolerance: f64) -> NodeReport {
    let (mut report, outcomes) = analyze_cells(node, grid, cells, tolerance);
    report.timeline = Timeline::of(&outcomes);
    report
}

/// [`analyze_node`] without the timeline, and the per-cell outcomes it was
/// computed from (for a caller that changes their peaks before drawing).
pub fn analyze_cells(
    node: &str,
    grid: &Grid,
    cells: &[CellInput],
    tolerance: f64,
) -> (NodeReport, Vec<CellOutcome>) {
    let empty = CellInput::default();
    let outcomes: Vec<CellOutcome> = (0..grid.cells)
        .map(|i| classify(cells.get(i).unwrap_or(&empty), tolerance))
        .collect();
    let mut report = NodeReport {
        node: node.to_string(),
        cells_within: 0,
        cells_out: 0,
        cells_unmeasured: 0,
        worst_bound: None,
        p99_bound: None,
        breaches: Vec::new(),
        gaps: Vec::new(),
        first_sample_ms: None,
        last_sample_ms: None,
        timeline: Timeline::default(),
        method: MethodUsed::default(),
    };
    let mut measured_peaks = Vec::new();
    let mut open: Option<(CellClass, Interval)> = None;
    for (i, (o, input)) in outcomes
        .iter()
        .zip(cells.iter().chain(std::iter::repeat(&empty)))
        .enumerate()
    {
        match o.class {
            CellClass::Within => report.cells_within += 1,
            CellClass::OutOfTolerance => report.cells_out += 1,
            CellClass::Unmeasured => report.cells_unmeasured += 1,
        }
        if input.bound_peak.is_some() {
            report.first_sample_ms.get_or_insert(grid.cell_end(i));
            report.last_sample_ms = Some(grid.cell_end(i));
        }
        if o.class != CellClass::Unmeasured {
            if let Some(p) = o.peak {
                measured_peaks.push(p);
            }
        }
        // Extend or close the running interval.
        match &mut open {
            Some((class, iv)) if *class == o.class => {
                iv.end_ms = grid.cell_end(i);
                iv.peak = max_opt(iv.peak, o.peak);
                iv.reasons.insert(o.reasons);
            }
            _ => {
                if let Some((class, iv)) = open.take() {
                    push_interval(&mut report, class, iv);
                }
                open = Some((
                    o.class,
                    Interval {
                        start_ms: grid.cell_start(i),
                        end_ms: grid.cell_end(i),
                        peak: o.peak,
                        reasons: o.reasons,
                    },
                ));
            }
        }
    }
    if let Some((class, iv)) = open.take() {
        push_interval(&mut report, class, iv);
    }
    report.worst_bound = measured_peaks.iter().copied().reduce(f64::max);
    report.p99_bound = percentile(&mut measured_peaks, 0.99);
    (report, outcomes)
}

fn push_interval(report: &mut NodeReport, class: CellClass, iv: Interval) {
    match class {
        CellClass::OutOfTolerance => report.breaches.push(iv),
        CellClass::Unmeasured => report.gaps.push(iv),
        CellClass::Within => {}
    }
}

fn max_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// Nearest-rank percentile (`q` in (0, 1]) of finite values.
pub fn percentile(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = (q * values.len() as f64).ceil() as usize;
    values.get(rank.clamp(1, values.len()) - 1).copied()
}

/// Cluster-wide figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Nodes in the report.
    pub nodes: usize,
    /// Nodes that are compliant.
    pub nodes_compliant: usize,
    /// Nodes with at least one breach.
    pub nodes_with_breaches: usize,
    /// Nodes with unmeasured time.
    pub nodes_with_gaps: usize,
    /// Share of all node-cells within tolerance.
    pub within_ratio: f64,
    /// Share of all node-cells out of tolerance.
    pub out_ratio: f64,
    /// Share of all node-cells unmeasured.
    pub unmeasured_ratio: f64,
    /// Largest finite bound of any node.
    pub worst_bound: Option<f64>,
    /// Node with the largest bound.
    pub worst_node: Option<String>,
    /// Number of breaches over all nodes.
    pub breaches: usize,
    /// Number of gaps over all nodes.
    pub gaps: usize,
    /// The verdict.
    pub compliant: bool,
}

/// Summarises the nodes.
pub fn summarize(nodes: &[NodeReport], allowed_unmeasured: f64) -> Summary {
    // Every node covers the same period: the fleet share is the mean of
    // the nodes' shares (cells or counter seconds alike).
    let mean = |f: fn(&NodeReport) -> f64| {
        if nodes.is_empty() {
            0.0
        } else {
            nodes.iter().map(f).sum::<f64>() / nodes.len() as f64
        }
    };
    let mut worst: Option<(f64, &str)> = None;
    for n in nodes {
        if let Some(w) = n.worst_bound {
            let better = match worst {
                None => true,
                Some((b, _)) => w > b,
            };
            if better {
                worst = Some((w, &n.node));
            }
        }
    }
    let nodes_compliant = nodes
        .iter()
        .filter(|n| n.compliant(allowed_unmeasured))
        .count();
    Summary {
        nodes: nodes.len(),
        nodes_compliant,
        nodes_with_breaches: nodes.iter().filter(|n| n.cells_out > 0).count(),
        nodes_with_gaps: nodes.iter().filter(|n| n.cells_unmeasured > 0).count(),
        within_ratio: mean(NodeReport::within_ratio),
        out_ratio: mean(NodeReport::out_ratio),
        unmeasured_ratio: mean(NodeReport::unmeasured_ratio),
        worst_bound: worst.map(|(b, _)| b),
        worst_node: worst.map(|(_, n)| n.to_string()),
        breaches: nodes.iter().map(|n| n.breaches.len()).sum(),
        gaps: nodes.iter().map(|n| n.gaps.len()).sum(),
        compliant: !nodes.is_empty() && nodes_compliant == nodes.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOL: f64 = 0.0001;

    fn grid(cells: usize) -> Grid {
        Grid {
            start_ms: 1_000_000,
            step_ms: 15_000,
            cells,
        }
    }

    fn ok(v: f64) -> CellInput {
        CellInput {
            bound_peak: Some(v),
            ..CellInput::default()
        }
    }

    #[test]
    fn grid_maps_eval_instants_to_cells() {
        let g = grid(4);
        assert_eq!(g.cell_at_eval(1_015_000), Some(0));
        assert_eq!(g.cell_at_eval(1_060_000), Some(3));
        assert_eq!(g.cell_at_eval(1_075_000), None);
        assert_eq!(g.cell_at_eval(1_000_000), None);
        assert_eq!(g.cell_at_eval(1_016_000), None);
        assert_eq!(g.end_ms(), 1_060_000);
    }

    #[test]
    fn exactly_at_tolerance_is_within() {
        let o = classify(&ok(0.0001), "0.0001".parse().expect("f"));
        assert_eq!(o.class, CellClass::Within);
        let o = classify(&ok(0.000_100_000_1), TOL);
        assert_eq!(o.class, CellClass::OutOfTolerance);
    }

    #[test]
    fn infinite_bound_is_unmeasured_not_compliant() {
        let mut c = ok(f64::INFINITY);
        c.states = Reasons::UNSYNCHRONIZED;
        let o = classify(&c, TOL);
        assert_eq!(o.class, CellClass::Unmeasured);
        assert!(o.reasons.contains(Reasons::BOUND_NOT_HOLDING));
        assert!(o.reasons.contains(Reasons::UNSYNCHRONIZED));
        assert_eq!(o.peak, None);
    }

    #[test]
    fn stale_small_bound_is_unmeasured_but_stale_breach_is_a_breach() {
        let mut c = ok(0.00005);
        c.states = Reasons::STALE;
        assert_eq!(classify(&c, TOL).class, CellClass::Unmeasured);
        let mut c = ok(0.5);
        c.states = Reasons::STALE;
        assert_eq!(classify(&c, TOL).class, CellClass::OutOfTolerance);
    }

    #[test]
    fn failed_scrape_or_chrony_down_taints_the_cell() {
        let mut c = ok(0.00001);
        c.exporter_down = true;
        assert_eq!(classify(&c, TOL).class, CellClass::Unmeasured);
        let mut c = ok(0.00001);
        c.chrony_down = true;
        let o = classify(&c, TOL);
        assert_eq!(o.class, CellClass::Unmeasured);
        assert_eq!(o.reasons.names(), vec!["chronyd unreachable"]);
        assert_eq!(classify(&ok(f64::NAN), TOL).class, CellClass::Unmeasured);
        assert_eq!(classify(&ok(-1.0), TOL).class, CellClass::Unmeasured);
    }

    #[test]
    fn breach_boundaries_and_peaks() {
        // cells: ok ok BAD BAD ok BAD ok ok
        let vals = [
            0.00005, 0.0001, 0.0002, 0.0003, 0.00001, 0.002, 0.00002, 0.00003,
        ];
        let cells: Vec<_> = vals.iter().map(|v| ok(*v)).collect();
        let g = grid(cells.len());
        let r = analyze_node("n", &g, &cells, TOL);
        assert_eq!(r.cells_out, 3);
        assert_eq!(r.cells_within, 5);
        assert_eq!(r.cells_unmeasured, 0);
        assert_eq!(r.breaches.len(), 2);
        assert_eq!(r.breaches[0].start_ms, g.cell_start(2));
        assert_eq!(r.breaches[0].end_ms, g.cell_end(3));
        assert_eq!(r.breaches[0].duration_ms(), 30_000);
        assert_eq!(r.breaches[0].peak, Some(0.0003));
        assert_eq!(r.breaches[1].start_ms, g.cell_start(5));
        assert_eq!(r.breaches[1].duration_ms(), 15_000);
        assert_eq!(r.breaches[1].peak, Some(0.002));
        assert_eq!(r.worst_bound, Some(0.002));
        assert!(!r.compliant(0.0));
        assert!((r.out_ratio() - 3.0 / 8.0).abs() < 1e-12);
    }

    #[test]
    fn gaps_and_series_starting_mid_period() {
        let mut cells = vec![CellInput::default(); 10];
        for c in cells.iter_mut().skip(4) {
            *c = ok(0.00002);
        }
        cells[7] = CellInput {
            exporter_down: true,
            ..CellInput::default()
        };
        let g = grid(10);
        let r = analyze_node("n", &g, &cells, TOL);
        assert_eq!(r.cells_unmeasured, 5);
        assert_eq!(r.cells_within, 5);
        assert_eq!(r.gaps.len(), 2);
        assert_eq!(r.gaps[0].start_ms, g.start_ms);
        assert_eq!(r.gaps[0].end_ms, g.cell_end(3));
        assert_eq!(r.gaps[0].reasons, Reasons::NO_SAMPLE);
        assert_eq!(r.gaps[1].start_ms, g.cell_start(7));
        assert_eq!(r.gaps[1].duration_ms(), 15_000);
        assert!(r.gaps[1].reasons.contains(Reasons::EXPORTER_DOWN));
        assert_eq!(r.first_sample_ms, Some(g.cell_end(4)));
        assert_eq!(r.last_sample_ms, Some(g.cell_end(9)));
        assert!(!r.compliant(0.0));
        assert!(r.compliant(0.5));
        assert!(!r.compliant(0.49));
    }

    #[test]
    fn short_input_counts_missing_cells_as_unmeasured() {
        let r = analyze_node("n", &grid(4), &[ok(0.0)], TOL);
        assert_eq!(r.cells_within, 1);
        assert_eq!(r.cells_unmeasured, 3);
        assert_eq!(r.gaps.len(), 1);
    }

    #[test]
    fn node_never_scraped() {
        let cells = vec![
            CellInput {
                exporter_down: true,
                ..CellInput::default()
            };
            6
        ];
        let r = analyze_node("n", &grid(6), &cells, TOL);
        assert_eq!(r.cells_unmeasured, 6);
        assert_eq!(r.worst_bound, None);
        assert_eq!(r.p99_bound, None);
        assert_eq!(r.first_sample_ms, None);
        assert_eq!(r.gaps.len(), 1);
    }

    #[test]
    fn p99_is_nearest_rank_over_measured_cells() {
        let mut cells: Vec<_> = (1..=200).map(|i| ok(f64::from(i) * 1e-7)).collect();
        cells.push(CellInput::default());
        let r = analyze_node("n", &grid(cells.len()), &cells, TOL);
        assert_eq!(r.p99_bound, Some(198.0 * 1e-7));
        assert_eq!(r.worst_bound, Some(200.0 * 1e-7));
    }

    #[test]
    fn merge_keeps_worst_and_every_problem() {
        let mut a = ok(0.00001);
        let b = CellInput {
            bound_peak: Some(0.00003),
            states: Reasons::STALE,
            chrony_down: false,
            exporter_down: true,
        };
        a.merge(&b);
        assert_eq!(a.bound_peak, Some(0.00003));
        assert_eq!(a.states, Reasons::STALE);
        assert!(a.exporter_down);
        let mut c = CellInput::default();
        c.merge(&ok(f64::INFINITY));
        assert_eq!(c.bound_peak, Some(f64::INFINITY));
    }

    #[test]
    fn summary_verdict() {
        let g = grid(4);
        let good = analyze_node("a", &g, &[ok(0.00001); 4], TOL);
        let bad = analyze_node("b", &g, &[ok(0.00001), ok(0.001), ok(0.0), ok(0.0)], TOL);
        let s = summarize(std::slice::from_ref(&good), 0.0);
        assert!(s.compliant);
        let s = summarize(&[good, bad], 0.0);
        assert!(!s.compliant);
        assert_eq!(s.nodes_compliant, 1);
        assert_eq!(s.worst_node.as_deref(), Some("b"));
        assert_eq!(s.breaches, 1);
        assert!((s.out_ratio - 1.0 / 8.0).abs() < 1e-12);
        assert!(!summarize(&[], 0.0).compliant);
    }

    #[test]
    fn every_state_label_has_its_reason() {
        let reason = |label: &str| Reasons::from_state(label).names();
        assert!(reason("synchronized").is_empty());
        assert_eq!(reason("stale"), ["stale"]);
        assert_eq!(reason("local"), ["local"]);
        assert_eq!(reason("unsynchronized"), ["unsynchronized"]);
        assert_eq!(reason("unknown"), ["unknown"]);
        // A label value no exporter writes is not evidence of anything.
        assert_eq!(reason("holdover"), ["unknown"]);
        assert_eq!(reason(""), ["unknown"]);
    }
}
