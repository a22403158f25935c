//! Fetching by groups of nodes when the whole fleet's cells would not fit
//! in `--max-memory`: each group (a `node=~"…"` matcher over at most
//! [`crate::budget::group_size`] nodes, and one group `node=""` for series
//! without the label) is fetched, analysed and freed before the next, so
//! only the analysed results of every node stay.

use std::collections::BTreeSet;

use super::analysis::{self, Grid, NodeReport};
use super::budget;
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
    /// Nodes per group (the whole fleet when one group).
    pub group_size: usize,
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
    analyze: &dyn Fn(&str, &[analysis::CellInput]) -> NodeReport,
    progress: source::Progress<'_>,
    notes: &mut Vec<String>,
    check_memory: &dyn Fn(usize) -> Result<(), ReportError>,
) -> Result<Fetched, ReportError> {
    let size = if survey.known {
        budget::group_size(
            survey.nodes,
            grid.cells,
            args.prometheus_concurrency,
            args.max_samples_per_query,
            &args.max_memory,
        )?
    } else {
        usize::MAX
    };
    let mut out = Fetched {
        nodes: Vec::new(),
        jobs: BTreeSet::new(),
        stats: Stats::default(),
        group_size: size.min(survey.nodes),
    };
    let analyse = |asm: source::Assembly, out: &mut Fetched| {
        out.jobs.extend(asm.jobs.iter().cloned());
        out.nodes.extend(asm.nodes.into_iter().map(|(name, cells)| {
            let mut n = analyze(&name, &cells);
            crate::compact::compact(&mut n);
            n
        }));
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
        analyse(asm, &mut out);
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
        out.stats.queries += stats.queries;
        out.stats.splits += stats.splits;
        if out.stats.first_pass.is_none() {
            out.stats.first_pass = stats
                .first_pass
                .map(|_| fetch::first_pass_query(matchers, grid.step_ms));
        }
        analyse(asm, &mut out);
    }
    out.nodes.sort_by(|a, b| a.node.cmp(&b.node));
    Ok(out)
}
