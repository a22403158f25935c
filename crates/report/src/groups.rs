//! Fetching by groups of nodes when the whole fleet's cells would not fit
//! in `--max-memory`: each group (a `node=~"…"` matcher over at most
//! [`crate::budget::group_size`] nodes, and one group `node=""` for series
//! without the label) has its cells and, for the counters method, its
//! counters fetched, is analysed and freed before the next, so only the
//! analysed results of every node stay.

use std::collections::{BTreeMap, BTreeSet};

use super::analysis::{self, Grid, NodeReport};
use super::budget::{self, Load};
use super::counters::{self, NodeCounters};
use super::fetch::{self, FleetArgs, Stats, Survey};
use super::prom::Client;
use super::source;
use super::ReportError;

/// Every node analysed, the jobs found, the counters.
pub struct Fetched {
    /// Per node, sorted by name.
    pub nodes: Vec<NodeReport>,
    /// Jobs of the bound series.
    pub jobs: BTreeSet<String>,
    /// Counters.
    pub stats: Stats,
    /// The estimated peak memory of that grouping (`None`: the engine has
    /// no series index, so the estimate came after the bound query).
    pub estimated_bytes: Option<u64>,
}

/// Analyses one node from its cells and, where read, its counters.
pub type Analyze<'a> =
    dyn Fn(&str, &[analysis::CellInput], Option<&NodeCounters>) -> NodeReport + 'a;

/// What a fleet fetch of `survey` holds (see [`crate::budget`]).
pub fn load(survey: &Survey, cells: usize, args: &FleetArgs, counters: bool) -> Load {
    Load {
        nodes: survey.nodes,
        cells,
        per_cell: budget::bytes_per_cell(survey.nodes, survey.counter_series, counters),
        concurrency: args.prometheus_concurrency,
        samples_per_query: args.max_samples_per_query,
    }
}

/// Fetches and analyses the fleet, in groups when needed.
#[allow(clippy::too_many_arguments)]
pub async fn fetch_all(
    client: &Client,
    grid: &Grid,
    matchers: &str,
    survey: &Survey,
    args: &FleetArgs,
    max_points: usize,
    counters: bool,
    analyze: &Analyze<'_>,
    progress: source::Progress<'_>,
    notes: &mut Vec<String>,
    check_memory: &dyn Fn(usize) -> Result<(), ReportError>,
) -> Result<Fetched, ReportError> {
    // Nothing to count where the index has no counters series.
    let counters = counters && (!survey.known || survey.counter_series > 0);
    let planned = load(survey, grid.cells, args, counters);
    let size = if survey.known {
        budget::group_size(&planned, &args.max_memory)?
    } else {
        usize::MAX
    };
    // The counters of one group's nodes (chunks sized as the grid's, for
    // the widest of the counters' queries: every bucket series).
    let read_counters = |m: String, bound_series: usize| async move {
        if !counters {
            return Ok(BTreeMap::new());
        }
        let per = fetch::cells_per_chunk(
            bound_series.max(1) * counters::SERIES_PER_NODE,
            args.max_samples_per_query,
            max_points,
        );
        counters::fetch(client, grid, &m, per, args.max_samples_per_query).await
    };
    let mut out = Fetched {
        nodes: Vec::new(),
        jobs: BTreeSet::new(),
        stats: Stats::default(),
        estimated_bytes: survey
            .known
            .then(|| planned.with_group(size.min(survey.nodes) as u64)),
    };
    let analyse =
        |asm: source::Assembly, counted: BTreeMap<String, NodeCounters>, out: &mut Fetched| {
            out.jobs.extend(asm.jobs.iter().cloned());
            out.nodes.extend(
                asm.nodes
                    .into_iter()
                    .map(|(name, cells)| analyze(&name, &cells, counted.get(&name))),
            );
        };
    if size >= survey.nodes || !survey.known {
        let (asm, stats) = fetch::fetch(
            client,
            grid,
            matchers,
            survey,
            args,
            max_points,
            progress,
            notes,
            check_memory,
            false,
        )
        .await?;
        out.stats = stats;
        let counted = read_counters(matchers.to_string(), survey.bound_series).await?;
        analyse(asm, counted, &mut out);
        return Ok(out);
    }
    let names: Vec<&String> = survey.labelled.iter().collect();
    let mut groups: Vec<Option<BTreeSet<String>>> = names
        .chunks(size.max(1))
        .map(|c| Some(c.iter().map(|s| (*s).clone()).collect()))
        .collect();
    if survey.unlabelled {
        groups.push(None);
    }
    notes.push(format!(
        "note: {} nodes fetched in {} groups of at most {size} to stay within --max-memory {}",
        survey.nodes,
        groups.len(),
        args.max_memory.trim()
    ));
    let ratio = survey.bound_series as f64 / survey.nodes.max(1) as f64;
    for g in &groups {
        let m = fetch::with_nodes(matchers, g.as_ref());
        let n = g
            .as_ref()
            .map_or(survey.nodes - survey.labelled.len(), BTreeSet::len);
        let part = Survey {
            bound_series: ((n as f64 * ratio).ceil() as usize).max(1),
            nodes: n.max(1),
            ..survey.clone()
        };
        let (asm, stats) = fetch::fetch(
            client,
            grid,
            &m,
            &part,
            args,
            max_points,
            progress,
            notes,
            check_memory,
            true,
        )
        .await?;
        out.stats.splits += stats.splits;
        if out.stats.first_pass.is_none() {
            out.stats.first_pass = stats
                .first_pass
                .map(|_| fetch::first_pass_query(matchers, grid.step_ms));
        }
        let counted = read_counters(m, part.bound_series).await?;
        analyse(asm, counted, &mut out);
    }
    out.nodes.sort_by(|a, b| a.node.cmp(&b.node));
    Ok(out)
}
