//! What to ask Prometheus, and how the answers become per-node cells.
//!
//! Every query is a range query evaluated at the *end* of each grid cell,
//! with a range selector exactly one step long, so each evaluation sees only
//! the samples inside its own cell and never the 5-minute lookback that an
//! instant vector selector would use to fill a gap:
//!
//! | query | keeps |
//! |---|---|
//! | `max_over_time(clockwatch_clock_error_bound_seconds{SEL}[STEP])` | the peak bound in the cell (absent: no sample) |
//! | `max_over_time(clockwatch_sync_state{SEL,state!="synchronized"}[STEP]) > 0` | every other state seen in the cell |
//! | `min_over_time(chrony_up{SEL,job=~"JOBS"}[STEP]) < 1` | chronyd unreachable at some scrape |
//! | `min_over_time(up{SEL,job=~"JOBS"}[STEP]) < 1` | a failed scrape (also finds nodes never scraped) |
//!
//! The last three only return the cells where something went wrong, so they
//! stay small. `JOBS` are the jobs of the clockwatch series found by the
//! first query, so that other exporters' `up` series do not count.

use std::collections::{BTreeMap, BTreeSet};

use clockwatch_vocab::{label, prometheus, SyncState};
use clockwatch_vocab::{CHRONY_UP, CLOCKWATCH_CLOCK_ERROR_BOUND_SECONDS, CLOCKWATCH_SYNC_STATE};

use super::analysis::{CellInput, Grid, Reasons};
use super::prom::{Client, Series};
use super::ReportError;

/// A query range: first and last evaluation instant, and the cells they cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    /// First cell.
    pub first_cell: usize,
    /// Number of cells.
    pub cells: usize,
}

/// Splits the grid into chunks of at most `max_points` evaluations each
/// (Prometheus refuses more than 11,000 points per series).
pub fn chunks(grid: &Grid, max_points: usize) -> Vec<Chunk> {
    let per = max_points.max(1);
    (0..grid.cells)
        .step_by(per)
        .map(|first| Chunk {
            first_cell: first,
            cells: per.min(grid.cells - first),
        })
        .collect()
}

/// The matchers inside a user selector: `{cluster="prod"}` -> `cluster="prod"`.
pub fn selector_matchers(selector: &str) -> Result<String, ReportError> {
    let s = selector.trim();
    if s.is_empty() {
        return Ok(String::new());
    }
    let inner = s
        .strip_prefix('{')
        .and_then(|r| r.strip_suffix('}'))
        .ok_or_else(|| {
            ReportError::Argument(format!(
                "--selector {selector:?}: expected label matchers in braces, e.g. '{{cluster=\"prod\"}}'"
            ))
        })?;
    Ok(inner.trim().trim_end_matches(',').trim().to_string())
}

/// `metric{user matchers, extra}`.
pub fn vector(metric: &str, matchers: &str, extra: &[String]) -> String {
    let mut all: Vec<&str> = Vec::new();
    if !matchers.is_empty() {
        all.push(matchers);
    }
    all.extend(extra.iter().map(String::as_str));
    if all.is_empty() {
        return metric.to_string();
    }
    format!("{metric}{{{}}}", all.join(","))
}

/// PromQL range duration in ms (`[15000ms]`).
pub fn range(step_ms: i64) -> String {
    format!("[{step_ms}ms]")
}

/// The bound query.
pub fn bound_query(matchers: &str, step_ms: i64) -> String {
    format!(
        "max_over_time({}{})",
        vector(CLOCKWATCH_CLOCK_ERROR_BOUND_SECONDS.name, matchers, &[]),
        range(step_ms)
    )
}

/// The non-synchronized state query.
pub fn state_query(matchers: &str, step_ms: i64) -> String {
    format!(
        "max_over_time({}{}) > 0",
        vector(
            CLOCKWATCH_SYNC_STATE.name,
            matchers,
            &[format!(
                "{}!=\"{}\"",
                label::STATE,
                SyncState::Synchronized.as_str()
            )]
        ),
        range(step_ms)
    )
}

/// The queries that find what went wrong, after the bound query found the
/// jobs: every state other than synchronized, chronyd unreachable, and
/// failed scrapes. Run by [`fetch`] and printed in the report.
pub fn problem_queries(
    matchers: &str,
    jobs: &BTreeSet<String>,
    step_ms: i64,
) -> [(Kind, String); 3] {
    [
        (Kind::State, state_query(matchers, step_ms)),
        (
            Kind::ChronyDown,
            down_query(CHRONY_UP.name, matchers, jobs, step_ms),
        ),
        (
            Kind::ExporterDown,
            down_query(prometheus::UP, matchers, jobs, step_ms),
        ),
    ]
}

/// `min_over_time(metric{…,job=~"JOBS"}[STEP]) < 1` for `up` and `chrony_up`.
pub fn down_query(metric: &str, matchers: &str, jobs: &BTreeSet<String>, step_ms: i64) -> String {
    let alternatives: Vec<String> = jobs.iter().map(|j| regex_escape(j)).collect();
    let job = format!(
        "{}=~\"{}\"",
        label::JOB,
        promql_escape(&alternatives.join("|"))
    );
    format!(
        "min_over_time({}{}) < 1",
        vector(metric, matchers, &[job]),
        range(step_ms)
    )
}

fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn promql_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The label naming a series' node (`--node-label`). Set once, by the
/// command line, before the first query; `node` (what the shipped scrape
/// configurations write) when never set.
static NODE_LABEL: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The label naming a series' node: `--node-label`, else `node`.
pub fn node_label() -> &'static str {
    NODE_LABEL.get().map_or(label::NODE, String::as_str)
}

/// Sets `--node-label` for this run, after checking it is a label name a
/// selector can use (not a reserved `__` one).
pub fn set_node_label(name: &str) -> Result<(), ReportError> {
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__");
    if !valid {
        return Err(ReportError::Argument(format!(
            "--node-label {name:?}: not a label name (letters, digits and _, not starting with a digit or __)"
        )));
    }
    match NODE_LABEL.get_or_init(|| name.to_string()) {
        set if set == name => Ok(()),
        set => Err(ReportError::Argument(format!(
            "--node-label {name:?}: this process already reports by {set:?}"
        ))),
    }
}

/// The node a series belongs to: its [`node_label`], else `instance`.
pub fn node_of(labels: &BTreeMap<String, String>) -> Option<String> {
    labels
        .get(node_label())
        .filter(|v| !v.is_empty())
        .or_else(|| labels.get(label::INSTANCE).filter(|v| !v.is_empty()))
        .cloned()
}

/// What kind of answer a series is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Peak bound.
    Bound,
    /// Non-synchronized state seen.
    State,
    /// chronyd unreachable.
    ChronyDown,
    /// Scrape failed.
    ExporterDown,
}

/// Per-node cells, built up from query answers.
#[derive(Debug, Default)]
pub struct Assembly {
    /// node -> cells.
    pub nodes: BTreeMap<String, Vec<CellInput>>,
    /// Jobs of the bound series.
    pub jobs: BTreeSet<String>,
    /// Points that fell off the grid (should be 0).
    pub off_grid: usize,
    /// Series without a `node` label (named by their labels; at most
    /// [`UNLABELLED_KEPT`] kept), and how many there were.
    pub unlabelled: BTreeSet<String>,
    /// Number of series without a `node` label.
    pub unlabelled_count: usize,
    /// node -> which scrape targets had a bound sample / a failed scrape
    /// in each cell (see [`Assembly::finish`]).
    pub targets: BTreeMap<String, crate::fetch::Targets>,
}

/// How many series without `node` are named in the warning.
pub const UNLABELLED_KEPT: usize = 20;

impl Assembly {
    /// Adds one query's answer. Series without `node`/`instance` are kept
    /// under `(unlabelled)`.
    pub fn add(&mut self, grid: &Grid, kind: Kind, series: &[Series]) {
        for s in series {
            if s.labels.get(node_label()).is_none_or(|v| v.is_empty()) {
                self.unlabelled_count += 1;
                if self.unlabelled.len() < UNLABELLED_KEPT {
                    self.unlabelled
                        .insert(crate::fetch::describe(kind, &s.labels));
                }
            }
            let node = node_of(&s.labels).unwrap_or_else(|| "(unlabelled)".to_string());
            let target = s
                .labels
                .get(label::INSTANCE)
                .map(String::as_str)
                .unwrap_or("");
            if matches!(kind, Kind::Bound | Kind::ExporterDown) {
                let t = self.targets.entry(node.clone()).or_default();
                t.record(grid, kind, target, &s.points);
                if kind == Kind::ExporterDown {
                    // Applied by finish(), once every series is in.
                    self.nodes
                        .entry(node.clone())
                        .or_insert_with(|| vec![CellInput::default(); grid.cells]);
                    self.off_grid += s
                        .points
                        .iter()
                        .filter(|p| grid.cell_at_eval(p.0).is_none())
                        .count();
                    continue;
                }
            }
            if kind == Kind::Bound {
                if let Some(job) = s.labels.get(label::JOB) {
                    self.jobs.insert(job.clone());
                }
            }
            let state = s.labels.get(label::STATE).map(String::as_str).unwrap_or("");
            let cells = self
                .nodes
                .entry(node)
                .or_insert_with(|| vec![CellInput::default(); grid.cells]);
            for &(t, v) in &s.points {
                let Some(i) = grid.cell_at_eval(t) else {
                    self.off_grid += 1;
                    continue;
                };
                let mut one = CellInput::default();
                match kind {
                    Kind::Bound => one.bound_peak = Some(v),
                    Kind::State => one.states = Reasons::from_state(state),
                    Kind::ChronyDown => one.chrony_down = true,
                    Kind::ExporterDown => one.exporter_down = true,
                }
                if let Some(c) = cells.get_mut(i) {
                    c.merge(&one);
                }
            }
        }
    }

    /// Applies the rule for failed scrapes (rollouts, replicas): a cell is
    /// "exporter down" when a scrape of the node failed in it and no scrape
    /// target of the node that had a bound sample in the cell was free of
    /// failed scrapes in it. Targets are told apart by `instance`.
    pub fn finish(&mut self) {
        for (node, t) in &self.targets {
            if let Some(cells) = self.nodes.get_mut(node) {
                t.apply(cells);
            }
        }
        self.targets.clear();
    }
}

/// Progress callback: `(done, total)` queries.
pub type Progress<'a> = &'a mut dyn FnMut(usize, usize);

/// Runs every query over every chunk and assembles the cells.
pub async fn fetch(
    client: &Client,
    grid: &Grid,
    matchers: &str,
    max_points: usize,
    progress: Progress<'_>,
) -> Result<Assembly, ReportError> {
    let parts = chunks(grid, max_points);
    let total = parts.len() * 4;
    let mut done = 0;
    let mut asm = Assembly::default();
    let bound = bound_query(matchers, grid.step_ms);
    progress(done, total);
    for c in &parts {
        let s = run(client, grid, &bound, c).await?;
        asm.add(grid, Kind::Bound, &s);
        done += 1;
        progress(done, total);
    }
    if asm.jobs.is_empty() {
        // No clockwatch bound sample at all: nothing to report on.
        return Ok(asm);
    }
    let queries = problem_queries(matchers, &asm.jobs, grid.step_ms);
    for (kind, q) in &queries {
        for c in &parts {
            let s = run(client, grid, q, c).await?;
            asm.add(grid, *kind, &s);
            done += 1;
            progress(done, total);
        }
    }
    Ok(asm)
}

async fn run(client: &Client, grid: &Grid, q: &str, c: &Chunk) -> Result<Vec<Series>, ReportError> {
    client
        .query_range(
            q,
            grid.cell_end(c.first_cell),
            grid.cell_end(c.first_cell + c.cells - 1),
            grid.step_ms,
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> Grid {
        Grid {
            start_ms: 0,
            step_ms: 15_000,
            cells: 25,
        }
    }

    #[test]
    fn chunking_covers_every_cell_once() {
        let c = chunks(&grid(), 10);
        assert_eq!(
            c,
            vec![
                Chunk {
                    first_cell: 0,
                    cells: 10
                },
                Chunk {
                    first_cell: 10,
                    cells: 10
                },
                Chunk {
                    first_cell: 20,
                    cells: 5
                },
            ]
        );
        assert_eq!(chunks(&grid(), 11_000).len(), 1);
    }

    #[test]
    fn queries() {
        let m = selector_matchers("{cluster=\"prod\"}").expect("sel");
        assert_eq!(m, "cluster=\"prod\"");
        assert_eq!(
            bound_query(&m, 15_000),
            "max_over_time(clockwatch_clock_error_bound_seconds{cluster=\"prod\"}[15000ms])"
        );
        assert_eq!(
            state_query("", 60_000),
            "max_over_time(clockwatch_sync_state{state!=\"synchronized\"}[60000ms]) > 0"
        );
        let jobs: BTreeSet<String> = ["clockwatch".to_string(), "a.b".to_string()].into();
        assert_eq!(
            down_query("up", &m, &jobs, 15_000),
            "min_over_time(up{cluster=\"prod\",job=~\"a\\\\.b|clockwatch\"}[15000ms]) < 1"
        );
        assert!(selector_matchers("cluster=prod").is_err());
        assert_eq!(selector_matchers("").expect("empty"), "");
    }

    #[test]
    fn assembly_merges_series_of_one_node() {
        let g = grid();
        let mut a = Assembly::default();
        let labels = |node: &str, inst: &str| -> BTreeMap<String, String> {
            [
                ("node".to_string(), node.to_string()),
                ("instance".to_string(), inst.to_string()),
                ("job".to_string(), "cw".to_string()),
            ]
            .into()
        };
        a.add(
            &g,
            Kind::Bound,
            &[
                Series {
                    labels: labels("n1", "10.0.0.1:9707"),
                    points: vec![(15_000, 0.1), (30_000, 0.2)],
                },
                Series {
                    labels: labels("n1", "10.0.0.9:9707"),
                    points: vec![(30_000, 0.3), (31_000, 0.3)],
                },
            ],
        );
        let mut state_labels = labels("n1", "10.0.0.1:9707");
        state_labels.insert("state".to_string(), "stale".to_string());
        a.add(
            &g,
            Kind::State,
            &[Series {
                labels: state_labels,
                points: vec![(45_000, 1.0)],
            }],
        );
        a.add(
            &g,
            Kind::ExporterDown,
            &[Series {
                labels: [("instance".to_string(), "n2:9707".to_string())].into(),
                points: vec![(60_000, 0.0)],
            }],
        );
        a.finish();
        let n1 = &a.nodes["n1"];
        assert_eq!(n1[0].bound_peak, Some(0.1));
        assert_eq!(n1[1].bound_peak, Some(0.3));
        assert_eq!(n1[2].states, Reasons::STALE);
        assert!(a.nodes["n2:9707"][3].exporter_down);
        assert_eq!(a.off_grid, 1);
        assert!(a.jobs.contains("cw"));
    }
}
