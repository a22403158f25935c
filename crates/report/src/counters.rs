//! The counters method: time in tolerance from the exporter's time-weighted
//! counters (`clockwatch_clock_error_bound_time_seconds`,
//! `clockwatch_sync_state_seconds_total`) instead of the grid of scrapes.
//!
//! The counters are read at every grid instant (`from`, and the end of every
//! cell) with `last_over_time(m[STEP])`: the last value scraped inside the
//! cell. The increase between two readings is the exporter's own count of
//! seconds between those two scrapes, whatever happened between (a missed
//! scrape, a Prometheus outage), so:
//!
//! - within tolerance = increase of `_bucket{le=B}`, B the largest bucket at
//!   or below the tolerance (conservative when the tolerance is not a
//!   bucket boundary);
//! - out of tolerance = increase of `_count` − that;
//! - unmeasured = wall time − increase of `_count` (not synchronized, or not
//!   observed: wall time − the sum of the state counters);
//! - a reading below the previous one is a restart (reset): as Prometheus'
//!   `increase()` does, the counter is taken to have restarted from 0, so
//!   the time before the restart back to the previous reading is not
//!   observed, i.e. unmeasured.
//!
//! Per cell the same increases say where a breach or a gap lies; across
//! cells without readings (a Prometheus gap) the totals stay exact and the
//! whole stretch carries what happened in it. The bound shown for a breach
//! is `max_over_time` of `clockwatch_clock_error_bound_max_seconds` over its
//! cells (the peak of the exporter's window, so a breach between scrapes
//! has its size); the window reaches back before the cell, so that peak
//! locates nothing on its own: the bucket increase does.
//!
//! Nothing here decides a clock's state: the exporter did; this only sums.

use std::collections::BTreeMap;

use clockwatch_vocab::{
    label, CLOCKWATCH_CLOCK_ERROR_BOUND_MAX_SECONDS, CLOCKWATCH_CLOCK_ERROR_BOUND_TIME_SECONDS,
    CLOCKWATCH_SYNC_STATE_SECONDS_TOTAL,
};

use super::analysis::{CellInput, Grid, Reasons, TimeAccount};
use super::prom::{Client, Series};
use super::source::{node_of, range, vector};
use super::ReportError;

/// Below this many seconds a difference of float counters is rounding.
const EPS: f64 = 1e-6;
/// A stretch between two readings whose counters fall short of the time
/// between their scrapes by at most this (+ 0.1 % of the stretch) is whole:
/// scrape-time jitter and the sampler's own rounding, not lost time.
pub const ROUNDING_S: f64 = 0.05;

/// `--method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    /// Counters for each node that has them for the whole period, else grid.
    Auto,
    /// Counters for every node (time without counters is unmeasured).
    Counters,
    /// The grid of scrapes only.
    Grid,
}

/// Which series a reading query returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Stamp,
    Bucket,
    Count,
    State,
    Peak,
}

/// The counter readings of one node at the grid instants: index 0 is
/// `from`, index `i + 1` the end of cell `i`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeCounters {
    /// Series (instance) the readings come from.
    pub instance: String,
    /// Other series of the same node that were not used.
    pub ignored_series: usize,
    /// `le` -> readings of `_bucket`.
    pub buckets: Vec<(f64, Vec<Option<f64>>)>,
    /// Readings of `_count`.
    pub count: Vec<Option<f64>>,
    /// Scrape time (unix s) of the latest `_count` sample at each instant.
    pub stamp: Vec<Option<f64>>,
    /// Readings of the sum over states of the state counters.
    pub observed: Vec<Option<f64>>,
    /// Per cell: largest windowed peak bound scraped inside it.
    pub peak: Vec<Option<f64>>,
}

/// The queries the counters method runs (for the report's list).
pub fn queries(matchers: &str, step_ms: i64) -> Vec<String> {
    [
        Part::Bucket,
        Part::Count,
        Part::Stamp,
        Part::State,
        Part::Peak,
    ]
    .iter()
    .map(|p| query(*p, matchers, step_ms))
    .collect()
}

fn query(part: Part, matchers: &str, step_ms: i64) -> String {
    let h = CLOCKWATCH_CLOCK_ERROR_BOUND_TIME_SECONDS.name;
    if part == Part::Stamp {
        // The scrape time of the reading (the latest sample at the instant
        // is the one last_over_time found inside the cell).
        return format!(
            "timestamp({})",
            vector(&format!("{h}_count"), matchers, &[])
        );
    }
    let (f, m) = match part {
        Part::Stamp => ("", String::new()),
        Part::Bucket => ("last_over_time", format!("{h}_bucket")),
        Part::Count => ("last_over_time", format!("{h}_count")),
        Part::State => (
            "last_over_time",
            CLOCKWATCH_SYNC_STATE_SECONDS_TOTAL.name.to_string(),
        ),
        Part::Peak => (
            "max_over_time",
            CLOCKWATCH_CLOCK_ERROR_BOUND_MAX_SECONDS.name.to_string(),
        ),
    };
    format!("{f}({}{})", vector(&m, matchers, &[]), range(step_ms))
}

/// Series per node of the widest counters query: one per bucket of the
/// default layout (eight bounds and +Inf), plus room for a changed layout.
pub const SERIES_PER_NODE: usize = 12;

/// Reads every node's counters over the grid, `max_points` instants per
/// range query. A chunk the query engine refuses as too large (HTTP 422
/// "too many samples") is fetched again in two halves, down to one
/// instant, as the cells are (fetch.rs); `max_samples` is only named in
/// the note that says so.
pub async fn fetch(
    client: &Client,
    grid: &Grid,
    matchers: &str,
    max_points: usize,
    max_samples: u64,
) -> Result<BTreeMap<String, NodeCounters>, ReportError> {
    let mut raw: BTreeMap<(String, String), NodeCounters> = BTreeMap::new();
    let mut states: BTreeMap<(String, String), StateReadings> = BTreeMap::new();
    let instants = grid.cells + 1;
    let per = max_points.max(1);
    for part in [
        Part::Bucket,
        Part::Count,
        Part::Stamp,
        Part::State,
        Part::Peak,
    ] {
        let q = query(part, matchers, grid.step_ms);
        // (first instant, instants), in time order; a refused one is
        // replaced by its halves.
        let mut chunks: std::collections::VecDeque<(usize, usize)> = (0..instants)
            .step_by(per)
            .map(|first| (first, per.min(instants - first)))
            .collect();
        while let Some((first, n)) = chunks.pop_front() {
            let start = grid.start_ms + first as i64 * grid.step_ms;
            let end = start + (n as i64 - 1) * grid.step_ms;
            match client.query_range(&q, start, end, grid.step_ms).await {
                Ok(series) => add(&mut raw, &mut states, grid, part, &series),
                Err(ReportError::TooLarge { query, error }) if n > 1 => {
                    super::fetch::note_split(n, &query, &error, max_samples);
                    let half = n / 2;
                    chunks.push_front((first + half, n - half));
                    chunks.push_front((first, half));
                }
                Err(ReportError::TooLarge { query, error }) => {
                    return Err(ReportError::TooLargeUnsplittable {
                        query,
                        at: super::timeparse::format_ms(start),
                        error,
                    })
                }
                Err(e) => return Err(e),
            }
        }
    }
    // Sum the state counters per instant (present only where every state
    // series of the node has a reading).
    for (key, per_state) in states {
        let nc = raw.entry(key).or_default();
        nc.observed = (0..instants)
            .map(|k| {
                per_state
                    .values()
                    .map(|s| s.get(k).copied().flatten())
                    .sum::<Option<f64>>()
            })
            .collect();
    }
    // One series per node: the one with the most count readings.
    let mut out: BTreeMap<String, NodeCounters> = BTreeMap::new();
    for ((node, instance), mut nc) in raw {
        nc.instance = instance;
        nc.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        let readings = |c: &NodeCounters| c.count.iter().flatten().count();
        match out.get_mut(&node) {
            Some(have) if readings(have) >= readings(&nc) => have.ignored_series += 1,
            Some(have) => {
                nc.ignored_series = have.ignored_series + 1;
                *have = nc;
            }
            None => {
                out.insert(node, nc);
            }
        }
    }
    Ok(out)
}

fn add(
    raw: &mut BTreeMap<(String, String), NodeCounters>,
    states: &mut BTreeMap<(String, String), StateReadings>,
    grid: &Grid,
    part: Part,
    series: &[Series],
) {
    let instants = grid.cells + 1;
    for s in series {
        let Some(node) = node_of(&s.labels) else {
            continue;
        };
        let instance = s.labels.get(label::INSTANCE).cloned().unwrap_or_default();
        let key = (node, instance);
        let nc = raw.entry(key.clone()).or_default();
        let mut values = vec![None; instants];
        for &(t, v) in &s.points {
            let off = t - grid.start_ms;
            if off < 0 || off % grid.step_ms != 0 {
                continue;
            }
            if let Some(slot) = usize::try_from(off / grid.step_ms)
                .ok()
                .and_then(|k| values.get_mut(k))
            {
                *slot = Some(v);
            }
        }
        match part {
            // A bucket or a state comes once per chunk of instants: each
            // chunk fills its own instants of the same row.
            Part::Bucket => {
                let le = s
                    .labels
                    .get("le")
                    .map(|l| super::prom::parse_value(l))
                    .unwrap_or(f64::NAN);
                if le.is_nan() {
                    continue;
                }
                match nc.buckets.iter_mut().find(|(have, _)| *have == le) {
                    Some((_, row)) => merge(row, values),
                    None => nc.buckets.push((le, values)),
                }
            }
            Part::Count => merge(&mut nc.count, values),
            Part::Stamp => merge(&mut nc.stamp, values),
            Part::State => {
                let state = s.labels.get(label::STATE).cloned().unwrap_or_default();
                merge(
                    states.entry(key).or_default().entry(state).or_default(),
                    values,
                );
            }
            Part::Peak => {
                // Per cell: instant i + 1 is the end of cell i.
                let cells: Vec<Option<f64>> = values.into_iter().skip(1).collect();
                merge(&mut nc.peak, cells);
            }
        }
    }
}

/// Per state label, its counter's readings per instant.
type StateReadings = BTreeMap<String, Vec<Option<f64>>>;

fn merge(into: &mut Vec<Option<f64>>, values: Vec<Option<f64>>) {
    if into.is_empty() {
        *into = values;
    } else {
        for (a, b) in into.iter_mut().zip(values) {
            if b.is_some() {
                *a = b;
            }
        }
    }
}

/// The counters' verdict on one node: per-cell inputs for the shared
/// classification and the exact seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Counted {
    /// Per cell, for [`super::analysis::analyze_node`].
    pub cells: Vec<CellInput>,
    /// The seconds.
    pub account: TimeAccount,
    /// Why (which bucket, restarts, series).
    pub notes: Vec<String>,
}

/// Whether the node's counters cover the whole period (auto picks them
/// then): a reading at `from` and at the end of the period.
pub fn covers_period(nc: &NodeCounters) -> Result<(), String> {
    let first = nc.count.first().copied().flatten();
    let last = nc.count.last().copied().flatten();
    let obs_first = nc.observed.first().copied().flatten();
    match (first, last, obs_first) {
        (Some(_), Some(_), Some(_)) => Ok(()),
        (None, _, _) | (_, _, None) => Err(
            "no time counter was scraped in the step before the start of the period (exporter without the sampler, or not running)".to_string(),
        ),
        (_, None, _) => {
            Err("no time counter was scraped in the last step of the period".to_string())
        }
    }
}

/// Sums a node's counters over the grid against `tolerance` (seconds).
pub fn count(nc: &NodeCounters, grid: &Grid, tolerance: f64) -> Result<Counted, String> {
    let Some((le, bucket)) = nc
        .buckets
        .iter()
        .filter(|(le, _)| *le <= tolerance)
        .max_by(|a, b| a.0.total_cmp(&b.0))
    else {
        return Err(format!(
            "no bucket of {} at or below the tolerance",
            CLOCKWATCH_CLOCK_ERROR_BOUND_TIME_SECONDS.name
        ));
    };
    let next_le = nc
        .buckets
        .iter()
        .map(|(l, _)| *l)
        .filter(|l| *l > *le && l.is_finite())
        .reduce(f64::min);
    let step_s = grid.step_ms as f64 / 1000.0;
    let mut account = TimeAccount {
        wall_s: grid.span_ms() as f64 / 1000.0,
        bucket_le: *le,
        ..TimeAccount::default()
    };
    let mut notes = Vec::new();
    if *le < tolerance {
        notes.push(format!(
            "the tolerance {} is not a bucket boundary: within-tolerance time is the time with the bound at most {} (the next lower bucket), which is conservative",
            super::profile::format_seconds(tolerance),
            super::profile::format_seconds(*le)
        ));
    }
    if nc.ignored_series > 0 {
        notes.push(format!(
            "{} other series of this node ignored; used instance {:?}",
            nc.ignored_series, nc.instance
        ));
    }
    let mut cells = vec![CellInput::default(); grid.cells];
    let mut covered = vec![false; grid.cells];
    let get = |v: &Vec<Option<f64>>, k: usize| v.get(k).copied().flatten();
    let mut prev: Option<usize> = None;
    for k in 0..=grid.cells {
        let (Some(c), Some(b), Some(o)) = (get(&nc.count, k), get(bucket, k), get(&nc.observed, k))
        else {
            continue;
        };
        let Some(p) = prev else {
            prev = Some(k);
            continue;
        };
        prev = Some(k);
        let (pc, pb, po) = (
            get(&nc.count, p).unwrap_or(0.0),
            get(bucket, p).unwrap_or(0.0),
            get(&nc.observed, p).unwrap_or(0.0),
        );
        let reset = o + EPS < po || c + EPS < pc || b + EPS < pb;
        let inc = |now: f64, before: f64| if reset { now } else { now - before };
        let (dc, db, dobs) = (inc(c, pc), inc(b, pb), inc(o, po));
        if reset {
            account.resets += 1;
        }
        account.synchronized_s += dc;
        account.within_s += db;
        account.observed_s += dobs;
        // The stretch of cells p..k (cells p, …, k-1) carries these seconds.
        // Its length is the time between the two readings' scrapes when
        // known (the counters count to the scrape, not to the cell end).
        let span = match (get(&nc.stamp, p), get(&nc.stamp, k)) {
            (Some(a), Some(b)) if b > a => b - a,
            _ => (k - p) as f64 * step_s,
        };
        let slack = ROUNDING_S + span * 1e-3;
        let out = dc - db > EPS;
        let unsynced = span - dc > slack;
        let not_observed = reset || span - dobs > slack;
        if unsynced || reset {
            account.lost_s += (span - dc).max(0.0);
        }
        if not_observed {
            account.not_observed_acc_s += (span - dobs).max(0.0);
        }
        covered[p..k].iter_mut().for_each(|c| *c = true);
        for cell in cells.iter_mut().take(k).skip(p) {
            if out {
                cell.bound_peak = Some(next_le.unwrap_or(f64::MAX).max(tolerance * 2.0));
            } else {
                cell.bound_peak = Some(*le);
            }
            if not_observed {
                cell.states.insert(Reasons::NOT_OBSERVED);
            }
            if unsynced && !not_observed {
                // Observed but not synchronized: which state, the state
                // counters could tell; the grid's state query names it.
                cell.states.insert(Reasons::UNKNOWN);
            }
        }
    }
    // Cells before the first or after the last reading were not observed.
    for (cell, c) in cells.iter_mut().zip(&covered) {
        if !c {
            account.lost_s += step_s;
            account.not_observed_acc_s += step_s;
        }
        if cell.bound_peak.is_none() {
            cell.states.insert(Reasons::NOT_OBSERVED);
            cell.bound_peak = Some(*le);
        }
    }
    if account.resets > 0 {
        notes.push(format!(
            "{} exporter restart(s): the time between the last reading before each restart and the restart is unmeasured",
            account.resets
        ));
    }
    Ok(Counted {
        cells,
        account,
        notes,
    })
}

/// Peaks shown for a node measured by the counters: the windowed peaks
/// scraped (`clockwatch_clock_error_bound_max_seconds`), never the bucket
/// edges the cells were classified with.
pub fn real_peaks(
    n: &mut super::analysis::NodeReport,
    outcomes: &mut [super::analysis::CellOutcome],
    nc: &NodeCounters,
    grid: &Grid,
) {
    let finite = |i: usize| nc.peak.get(i).copied().flatten().filter(|p| p.is_finite());
    for (i, o) in outcomes.iter_mut().enumerate() {
        o.peak = finite(i);
    }
    let cell_of = |t: i64| usize::try_from((t - grid.start_ms) / grid.step_ms).unwrap_or(0);
    for b in &mut n.breaches {
        b.peak = (cell_of(b.start_ms)..cell_of(b.end_ms))
            .filter_map(finite)
            .reduce(f64::max);
    }
    let mut peaks: Vec<f64> = (0..grid.cells).filter_map(finite).collect();
    n.worst_bound = peaks.iter().copied().reduce(f64::max);
    n.p99_bound = super::analysis::percentile(&mut peaks, 0.99);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(cells: usize) -> Grid {
        Grid {
            start_ms: 0,
            step_ms: 60_000,
            cells,
        }
    }

    fn nc(count: &[Option<f64>], within: &[Option<f64>], observed: &[Option<f64>]) -> NodeCounters {
        NodeCounters {
            instance: "i".into(),
            ignored_series: 0,
            buckets: vec![(0.0001, within.to_vec()), (0.001, count.to_vec())],
            count: count.to_vec(),
            stamp: Vec::new(),
            observed: observed.to_vec(),
            peak: vec![None; count.len() - 1],
        }
    }

    #[test]
    fn increases_resets_and_gaps() {
        let g = grid(4);
        // 60 s per cell; a 2 s breach in cell 1; Prometheus misses the
        // reading at the end of cell 2; a restart before the end of cell 3
        // (30 s observed after it).
        let counts = [Some(1000.0), Some(1060.0), Some(1120.0), None, Some(30.0)];
        let within = [Some(900.0), Some(960.0), Some(1018.0), None, Some(30.0)];
        let n = nc(&counts, &within, &counts);
        let c = count_node(&n, &g);
        assert_eq!(c.account.resets, 1);
        assert!((c.account.within_s - 148.0).abs() < 1e-9, "{:?}", c.account);
        assert!((c.account.synchronized_s - 150.0).abs() < 1e-9);
        assert!((c.account.out_s() - 2.0).abs() < 1e-9);
        assert!((c.account.unmeasured_s() - 90.0).abs() < 1e-9);
        assert!((c.account.not_observed_s() - 90.0).abs() < 1e-9);
        assert!(c.cells[1].bound_peak.is_some_and(|b| b > 0.0001));
        assert!(c.cells[0].states.is_empty());
        assert!(c.cells[2].states.contains(Reasons::NOT_OBSERVED));
        assert!(c.cells[3].states.contains(Reasons::NOT_OBSERVED));
        // 250 µs is not a boundary: the 100 µs bucket, and a note.
        let c = count(&n, &g, 0.00025).expect("count");
        assert_eq!(c.account.bucket_le, 0.0001);
        assert!(c.notes[0].contains("next lower bucket"), "{:?}", c.notes);
        assert!(count(&n, &g, 0.00001).is_err());
    }

    fn count_node(n: &NodeCounters, g: &Grid) -> Counted {
        count(n, g, 0.0001).expect("count")
    }

    #[test]
    fn coverage() {
        let n = nc(&[None, Some(1.0)], &[None, Some(1.0)], &[None, Some(1.0)]);
        assert!(covers_period(&n).is_err());
        let n = nc(
            &[Some(0.0), Some(1.0)],
            &[Some(0.0), Some(1.0)],
            &[Some(0.0), Some(1.0)],
        );
        assert!(covers_period(&n).is_ok());
    }
}
