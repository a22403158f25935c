//! Fetching a fleet's history within a query engine's limits.
//!
//! 1. **Survey** (`/api/v1/series`, the index only, no sample loaded): how
//!    many series each query touches, and how many nodes there are (for the
//!    memory estimate of [`crate::budget`]).
//! 2. **Chunks sized by cost**: a range query makes the engine hold about
//!    `series × evaluation steps` samples (Prometheus counts the whole
//!    result matrix of `max_over_time(…)` before `> 0` filters it), so each
//!    query's chunk is `--max-samples-per-query / series` cells long (at
//!    most `--max-points`).
//! 3. **Halve on refusal**: an engine that still refuses a chunk as too
//!    large (Prometheus: HTTP 422 "query processing would load too many
//!    samples") gets that chunk in two halves, recursively, down to one
//!    cell; the report says so once. A one-cell chunk refused is an error
//!    naming the limit and the flags.
//! 4. **Concurrency**: up to `--prometheus-concurrency` queries in flight;
//!    each answer is merged into the cells as soon as it arrives and then
//!    dropped, so in-flight memory is bounded by concurrency × chunk size.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use clockwatch_vocab::CLOCKWATCH_CLOCK_ERROR_BOUND_TIME_SECONDS;
use clockwatch_vocab::{label, prometheus, CHRONY_UP, CLOCKWATCH_SYNC_STATE};
use clockwatch_vocab::{SyncState, CLOCKWATCH_CLOCK_ERROR_BOUND_SECONDS};
use tokio::task::JoinSet;

use super::analysis::{CellInput, Grid};
use super::prom::{Client, Series};
use super::source::{self, Assembly, Chunk, Kind};
use super::ReportError;

/// Whether the split note was printed (once per process).
static SAID_SPLIT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Says, once per run whatever the groups and queries, that the query
/// engine refused a chunk and chunks are being split.
pub(crate) fn note_split(cells: usize, query: &str, error: &str, max_samples: u64) {
    if !SAID_SPLIT.swap(true, std::sync::atomic::Ordering::Relaxed) {
        eprintln!(
            "clockwatch report: note: the query engine refused a chunk of {cells} cells of {query} as too large ({error}); splitting such chunks in half and retrying (--max-samples-per-query {max_samples} sets the starting size)"
        );
    }
}

/// Default of `--max-samples-per-query`: a fiftieth of Prometheus' default
/// `--query.max-samples` (50,000,000), so that three answers in flight
/// (about 48 B per sample each while parsed) fit the default
/// `--max-memory` with room for the cells, and smaller queries cost the
/// engine less peak memory than a few large ones.
pub const DEFAULT_MAX_SAMPLES: u64 = 1_000_000;
/// Default of `--prometheus-concurrency`.
pub const DEFAULT_CONCURRENCY: usize = 3;

/// The flags of fleet-scale fetching.
#[derive(Debug, Clone, clap::Args)]
pub struct FleetArgs {
    /// Target number of samples one query may make the engine load
    /// (series × evaluation steps). Chunks are sized to it; a chunk the
    /// engine still refuses is split in half and retried.
    #[arg(long, default_value_t = DEFAULT_MAX_SAMPLES)]
    pub max_samples_per_query: u64,
    /// Queries in flight at once (1 = strictly one after the other).
    #[arg(long, default_value_t = DEFAULT_CONCURRENCY)]
    pub prometheus_concurrency: usize,
    /// Skip the cheap first pass (one `synchronized` series per node) and
    /// run the sync-state query over every node and chunk.
    #[arg(long)]
    pub no_first_pass: bool,
    /// Memory the report may use (e.g. 512MiB, 4GiB). A run estimated
    /// above it is refused up front with exit 2.
    #[arg(long, default_value = crate::budget::DEFAULT_MAX_MEMORY)]
    pub max_memory: String,
}

/// What the series index says before any sample is loaded.
#[derive(Debug, Clone, Default)]
pub struct Survey {
    /// Bound series.
    pub bound_series: usize,
    /// Distinct nodes among them (`node`, else `instance`).
    pub nodes: usize,
    /// Whether the engine answered `/api/v1/series` (else chunks fall back
    /// to `--max-points` and halving, and the memory check runs on the
    /// nodes the bound query found).
    pub known: bool,
    /// The `node` label values of the bound series and of the `up` series
    /// of their jobs (sorted).
    pub labelled: BTreeSet<String>,
    /// Whether some of those series have no `node` label.
    pub unlabelled: bool,
    /// Jobs of the bound series.
    pub jobs: BTreeSet<String>,
    /// Series of the time-accounting counters (`…_bound_time_seconds_count`):
    /// zero where the exporters predate them, and then the counters method
    /// costs no memory.
    pub counter_series: usize,
}

/// Counts the bound series and the nodes they belong to.
pub async fn survey(client: &Client, grid: &Grid, matchers: &str) -> Result<Survey, ReportError> {
    let sel = source::vector(CLOCKWATCH_CLOCK_ERROR_BOUND_SECONDS.name, matchers, &[]);
    let labels = match client
        .series_labels(&sel, grid.start_ms, grid.end_ms())
        .await
    {
        Ok(l) => l,
        // An engine (or proxy) without the series API: plan without it.
        Err(ReportError::NotPrometheus { .. } | ReportError::Query { .. }) => {
            return Ok(Survey::default())
        }
        Err(e) => return Err(e),
    };
    let mut nodes: BTreeSet<String> = labels.iter().filter_map(source::node_of).collect();
    let jobs: BTreeSet<String> = labels
        .iter()
        .filter_map(|l| l.get(label::JOB).cloned())
        .collect();
    let mut all = labels;
    if !jobs.is_empty() {
        // Nodes that were never scraped successfully have `up` only.
        let up = source::vector(prometheus::UP, matchers, &[job_matcher(&jobs)]);
        let up = client
            .series_labels(&up, grid.start_ms, grid.end_ms())
            .await?;
        nodes.extend(up.iter().filter_map(source::node_of));
        all.extend(up);
    }
    let counted = source::vector(
        &format!("{}_count", CLOCKWATCH_CLOCK_ERROR_BOUND_TIME_SECONDS.name),
        matchers,
        &[],
    );
    let counter_series = client
        .series_labels(&counted, grid.start_ms, grid.end_ms())
        .await?
        .len();
    let mut labelled = BTreeSet::new();
    let mut unlabelled = false;
    for l in &all {
        match l.get(source::node_label()).filter(|v| !v.is_empty()) {
            Some(n) => {
                labelled.insert(n.clone());
            }
            None => unlabelled = true,
        }
    }
    Ok(Survey {
        bound_series: all
            .iter()
            .filter(|l| {
                l.get("__name__").map(String::as_str)
                    == Some(CLOCKWATCH_CLOCK_ERROR_BOUND_SECONDS.name)
            })
            .count()
            .max(1),
        nodes: nodes.len().max(1),
        known: true,
        labelled,
        unlabelled,
        jobs,
        counter_series,
    })
}

/// `job=~"a|b"` for a set of jobs (escaped).
fn job_matcher(jobs: &BTreeSet<String>) -> String {
    let q = source::down_query("m", "", jobs, 1000);
    q.split_once('{')
        .and_then(|(_, r)| r.rsplit_once('}'))
        .map(|(m, _)| m.to_string())
        .unwrap_or_default()
}

/// The user's matchers plus `node=~"a|b|…"` (exact names, escaped), or
/// `node=""` (series without the label) for `None`.
pub fn with_nodes(matchers: &str, nodes: Option<&BTreeSet<String>>) -> String {
    let node = match nodes {
        Some(set) => {
            let m = job_matcher(set);
            format!(
                "{}{}",
                source::node_label(),
                m.strip_prefix(label::JOB).unwrap_or(&m)
            )
        }
        None => format!("{}=\"\"", source::node_label()),
    };
    if matchers.is_empty() {
        node
    } else {
        format!("{matchers},{node}")
    }
}

/// Counters of one fetch, for the user and the bench.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Chunks split after the engine refused them as too large.
    pub splits: usize,
    /// The first-pass query, when one ran.
    pub first_pass: Option<String>,
}

/// `min_over_time(clockwatch_sync_state{SEL,state="synchronized"}[STEP]) < 1`:
/// the cells where some series of a node was not `synchronized` at every
/// sample. The exporter writes all five states at every scrape, exactly one
/// of them 1, so a cell it does not return has no other state set in it,
/// and the detailed state query is needed only for the nodes and chunks it
/// returns.
pub fn first_pass_query(matchers: &str, step_ms: i64) -> String {
    format!(
        "min_over_time({}{}) < 1",
        source::vector(
            CLOCKWATCH_SYNC_STATE.name,
            matchers,
            &[format!(
                "{}=\"{}\"",
                label::STATE,
                SyncState::Synchronized.as_str()
            )]
        ),
        source::range(step_ms)
    )
}

/// Above this many flagged nodes the detailed state query runs for every
/// node (over the flagged chunks only) instead of a `node=~` matcher.
pub const MAX_FLAGGED_NODES: usize = 500;

/// What the first pass found.
#[derive(Debug, Default)]
struct Flagged {
    nodes: BTreeSet<String>,
    /// A flagged series without a `node` label: no node matcher.
    unlabelled: bool,
    cells: BTreeSet<usize>,
}

impl Flagged {
    fn add(&mut self, grid: &Grid, series: &[Series]) {
        for s in series {
            match s.labels.get(source::node_label()).filter(|v| !v.is_empty()) {
                Some(n) => {
                    self.nodes.insert(n.clone());
                }
                None => self.unlabelled = true,
            }
            // Points off the grid are counted by the detailed query.
            self.cells
                .extend(s.points.iter().filter_map(|p| grid.cell_at_eval(p.0)));
        }
    }

    /// The user's matchers, plus `node=~"…"` when that is exact and short.
    fn matchers(&self, matchers: &str) -> String {
        if self.unlabelled || self.nodes.len() > MAX_FLAGGED_NODES {
            return matchers.to_string();
        }
        with_nodes(matchers, Some(&self.nodes))
    }
}

/// Cells per chunk for a query touching `series` series.
pub fn cells_per_chunk(series: usize, max_samples: u64, max_points: usize) -> usize {
    let per = max_samples / (series.max(1) as u64);
    usize::try_from(per)
        .unwrap_or(usize::MAX)
        .clamp(1, max_points.max(1))
}

struct Job {
    kind: Kind,
    query: usize,
    chunk: Chunk,
}

/// Runs every query over chunks sized by cost, `concurrency` at a time,
/// and assembles the cells. `notes` receives what the user should know
/// (a split, points off the grid, series without `node`).
#[allow(clippy::too_many_arguments)]
pub async fn fetch(
    client: &Client,
    grid: &Grid,
    matchers: &str,
    survey: &Survey,
    args: &FleetArgs,
    max_points: usize,
    progress: source::Progress<'_>,
    notes: &mut Vec<String>,
    check_memory: &dyn Fn(usize) -> Result<(), ReportError>,
    group: bool,
) -> Result<(Assembly, Stats), ReportError> {
    let mut asm = Assembly::default();
    let mut stats = Stats::default();
    let mut progress_state = (0usize, 0usize);
    let bound = source::bound_query(matchers, grid.step_ms);
    let per = if survey.known {
        cells_per_chunk(survey.bound_series, args.max_samples_per_query, max_points)
    } else {
        max_points
    };
    let queries = vec![bound];
    let jobs: Vec<Job> = source::chunks(grid, per)
        .into_iter()
        .map(|chunk| Job {
            kind: Kind::Bound,
            query: 0,
            chunk,
        })
        .collect();
    run_jobs(
        client,
        grid,
        &queries,
        jobs,
        args,
        &mut |_, kind, series| asm.add(grid, kind, series),
        &mut stats,
        progress,
        &mut progress_state,
    )
    .await?;
    if group {
        // A group's nodes may have `up` only (never scraped successfully).
        asm.jobs.extend(survey.jobs.iter().cloned());
    }
    if asm.jobs.is_empty() {
        return Ok((asm, stats));
    }
    if !survey.known {
        check_memory(asm.nodes.len())?;
    }
    let problems = source::problem_queries(matchers, &asm.jobs, grid.step_ms);
    let first_pass = survey.known && !args.no_first_pass;
    let mut queries = Vec::new();
    let mut jobs = Vec::new();
    for (i, (kind, q)) in problems.iter().enumerate() {
        if first_pass && *kind == Kind::State {
            // One series per node instead of four: the cells where
            // `synchronized` was not 1 at every sample.
            let per = cells_per_chunk(survey.bound_series, args.max_samples_per_query, max_points);
            queries.push(first_pass_query(matchers, grid.step_ms));
            jobs.extend(source::chunks(grid, per).into_iter().map(|chunk| Job {
                kind: *kind,
                query: i,
                chunk,
            }));
            continue;
        }
        let per = if survey.known {
            let series = client
                .series_count(
                    &inner_selector(*kind, matchers, &asm.jobs),
                    grid.start_ms,
                    grid.end_ms(),
                )
                .await?;
            cells_per_chunk(series, args.max_samples_per_query, max_points)
        } else {
            max_points
        };
        queries.push(q.clone());
        jobs.extend(source::chunks(grid, per).into_iter().map(|chunk| Job {
            kind: *kind,
            query: i,
            chunk,
        }));
    }
    let mut flagged = Flagged::default();
    run_jobs(
        client,
        grid,
        &queries,
        jobs,
        args,
        &mut |q, kind, series| {
            if first_pass && q == 0 {
                flagged.add(grid, series);
            } else {
                asm.add(grid, kind, series);
            }
        },
        &mut stats,
        progress,
        &mut progress_state,
    )
    .await?;
    if first_pass {
        stats.first_pass = Some(queries[0].clone());
        if !flagged.cells.is_empty() {
            let state_matchers = flagged.matchers(matchers);
            let series = client
                .series_count(
                    &inner_selector(Kind::State, &state_matchers, &asm.jobs),
                    grid.start_ms,
                    grid.end_ms(),
                )
                .await?;
            let per = cells_per_chunk(series, args.max_samples_per_query, max_points);
            let detail = vec![source::state_query(&state_matchers, grid.step_ms)];
            let jobs: Vec<Job> = source::chunks(grid, per)
                .into_iter()
                .filter(|c| {
                    flagged
                        .cells
                        .range(c.first_cell..c.first_cell + c.cells)
                        .next()
                        .is_some()
                })
                .map(|chunk| Job {
                    kind: Kind::State,
                    query: 0,
                    chunk,
                })
                .collect();
            run_jobs(
                client,
                grid,
                &detail,
                jobs,
                args,
                &mut |_, kind, series| asm.add(grid, kind, series),
                &mut stats,
                progress,
                &mut progress_state,
            )
            .await?;
        }
    }
    asm.finish();
    if asm.off_grid > 0 {
        notes.push(format!(
            "warning: {} point(s) came back off the evaluation grid and were not counted; the query engine may be rounding timestamps (step {} ms)",
            asm.off_grid, grid.step_ms
        ));
    }
    if asm.unlabelled_count > 0 {
        let shown: Vec<&str> = asm.unlabelled.iter().map(String::as_str).collect();
        notes.push(format!(
            "warning: {} series without a `{}` label were attributed to their `instance` (or `(unlabelled)`), which may make one machine count as several nodes: {}{}",
            asm.unlabelled_count,
            source::node_label(),
            shown.join(", "),
            if asm.unlabelled_count > shown.len() {
                format!(", and {} more", asm.unlabelled_count - shown.len())
            } else {
                String::new()
            }
        ));
    }
    Ok((asm, stats))
}

/// The vector selector a problem query reads (what its series count is).
fn inner_selector(kind: Kind, matchers: &str, jobs: &BTreeSet<String>) -> String {
    let job = || {
        let q = source::down_query("m", "", jobs, 1000);
        // `min_over_time(m{job=~"…"}[1000ms]) < 1` -> `job=~"…"`.
        q.split_once('{')
            .and_then(|(_, r)| r.rsplit_once('}'))
            .map(|(m, _)| m.to_string())
            .unwrap_or_default()
    };
    match kind {
        Kind::State => source::vector(
            CLOCKWATCH_SYNC_STATE.name,
            matchers,
            &[format!(
                "{}!=\"{}\"",
                label::STATE,
                SyncState::Synchronized.as_str()
            )],
        ),
        Kind::ChronyDown => source::vector(CHRONY_UP.name, matchers, &[job()]),
        Kind::ExporterDown => source::vector(prometheus::UP, matchers, &[job()]),
        Kind::Bound => source::vector(CLOCKWATCH_CLOCK_ERROR_BOUND_SECONDS.name, matchers, &[]),
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_jobs(
    client: &Client,
    grid: &Grid,
    queries: &[String],
    jobs: Vec<Job>,
    args: &FleetArgs,
    sink: &mut dyn FnMut(usize, Kind, &[Series]),
    stats: &mut Stats,
    progress: source::Progress<'_>,
    (done, total): &mut (usize, usize),
) -> Result<(), ReportError> {
    let concurrency = args.prometheus_concurrency.max(1);
    let mut queue: VecDeque<Job> = jobs.into();
    *total += queue.len();
    progress(*done, *total);
    let mut running: JoinSet<(Job, Result<Vec<Series>, ReportError>)> = JoinSet::new();
    loop {
        while running.len() < concurrency {
            let Some(job) = queue.pop_front() else { break };
            let client = client.clone();
            let q = queries[job.query].clone();
            let (start, end) = (
                grid.cell_end(job.chunk.first_cell),
                grid.cell_end(job.chunk.first_cell + job.chunk.cells - 1),
            );
            let step = grid.step_ms;
            running.spawn(async move {
                let r = client.query_range(&q, start, end, step).await;
                (job, r)
            });
        }
        let Some(joined) = running.join_next().await else {
            return Ok(());
        };
        let (job, result) = joined.map_err(|e| ReportError::Render(format!("query task: {e}")))?;
        match result {
            Ok(series) => {
                sink(job.query, job.kind, &series);
                *done += 1;
                progress(*done, *total);
            }
            Err(ReportError::TooLarge { query, error }) if job.chunk.cells > 1 => {
                note_split(job.chunk.cells, &query, &error, args.max_samples_per_query);
                stats.splits += 1;
                let a = job.chunk.cells / 2;
                let first = Chunk {
                    first_cell: job.chunk.first_cell,
                    cells: a,
                };
                let second = Chunk {
                    first_cell: job.chunk.first_cell + a,
                    cells: job.chunk.cells - a,
                };
                *total += 1;
                queue.push_front(Job {
                    chunk: second,
                    ..job
                });
                queue.push_front(Job {
                    chunk: first,
                    ..job
                });
            }
            Err(ReportError::TooLarge { query, error }) => {
                return Err(ReportError::TooLargeUnsplittable {
                    query,
                    at: super::timeparse::format_ms(grid.cell_end(job.chunk.first_cell)),
                    error,
                });
            }
            Err(e) => return Err(e),
        }
    }
}

/// `metric{labels}` of a series, for warnings.
pub fn describe(kind: Kind, labels: &BTreeMap<String, String>) -> String {
    let metric = match kind {
        Kind::Bound => CLOCKWATCH_CLOCK_ERROR_BOUND_SECONDS.name,
        Kind::State => CLOCKWATCH_SYNC_STATE.name,
        Kind::ChronyDown => CHRONY_UP.name,
        Kind::ExporterDown => prometheus::UP,
    };
    let inner: Vec<String> = labels
        .iter()
        .filter(|(k, _)| k.as_str() != "__name__")
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect();
    format!("{metric}{{{}}}", inner.join(","))
}

/// Which scrape targets of one node had a bound sample, and which a failed
/// scrape, in each cell: one bit per target (`instance`), eight slots (a
/// ninth target shares the last slot, which can only make a cell count as
/// down, never hide a failure).
#[derive(Debug, Clone, Default)]
pub struct Targets {
    names: Vec<String>,
    /// (bound, down) bits per cell; empty until the first point.
    bits: Vec<(u8, u8)>,
}

impl Targets {
    fn slot(&mut self, target: &str) -> u8 {
        let i = match self.names.iter().position(|n| n == target) {
            Some(i) => i,
            None if self.names.len() < 8 => {
                self.names.push(target.to_string());
                self.names.len() - 1
            }
            None => 7,
        };
        1 << i
    }

    /// Records the points of one bound or `up < 1` series.
    pub fn record(&mut self, grid: &Grid, kind: Kind, target: &str, points: &[(i64, f64)]) {
        let bit = self.slot(target);
        if self.bits.is_empty() {
            self.bits = vec![(0, 0); grid.cells];
        }
        for &(t, _) in points {
            if let Some(b) = grid.cell_at_eval(t).and_then(|i| self.bits.get_mut(i)) {
                match kind {
                    Kind::Bound => b.0 |= bit,
                    _ => b.1 |= bit,
                }
            }
        }
    }

    /// Sets `exporter_down` where a scrape failed and no target with a
    /// bound sample in the cell was free of failures.
    pub fn apply(&self, cells: &mut [CellInput]) {
        for (c, &(bound, down)) in cells.iter_mut().zip(&self.bits) {
            if down != 0 && bound & !down == 0 {
                c.exporter_down = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_size_follows_cost() {
        assert_eq!(cells_per_chunk(1000, 5_000_000, 10_000), 5000);
        assert_eq!(cells_per_chunk(40_000, 5_000_000, 10_000), 125);
        assert_eq!(cells_per_chunk(10, 5_000_000, 10_000), 10_000);
        assert_eq!(cells_per_chunk(10_000_000, 5_000_000, 10_000), 1);
        assert_eq!(cells_per_chunk(0, 5, 10), 5);
    }

    #[test]
    fn rollout_rule() {
        let g = Grid {
            start_ms: 0,
            step_ms: 1000,
            cells: 3,
        };
        let mut t = Targets::default();
        // Old pod: bound in cells 0,1, fails in cells 1,2. New pod: bound in 1,2.
        t.record(&g, Kind::Bound, "old", &[(1000, 0.1), (2000, 0.1)]);
        t.record(&g, Kind::ExporterDown, "old", &[(2000, 0.0), (3000, 0.0)]);
        t.record(&g, Kind::Bound, "new", &[(2000, 0.1), (3000, 0.1)]);
        let mut cells = vec![CellInput::default(); 3];
        t.apply(&mut cells);
        assert!(cells.iter().all(|c| !c.exporter_down));
        // Alone, the old pod's failures count.
        let mut t = Targets::default();
        t.record(&g, Kind::Bound, "old", &[(1000, 0.1), (2000, 0.1)]);
        t.record(&g, Kind::ExporterDown, "old", &[(2000, 0.0), (3000, 0.0)]);
        let mut cells = vec![CellInput::default(); 3];
        t.apply(&mut cells);
        assert_eq!(
            cells.iter().map(|c| c.exporter_down).collect::<Vec<_>>(),
            [false, true, true]
        );
    }
}
