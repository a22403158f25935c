//! Traceability: per node, what the clock followed over the period.
//!
//! Read on the same grid as the bound (one evaluation per cell, range
//! selectors one step long, so no lookback fills a gap):
//!
//! | query | gives |
//! |---|---|
//! | `last_over_time(clockwatch_reference_info{SEL}[STEP])` | daemon, kind, reference, reference ID |
//! | `last_over_time(chrony_tracking_info{SEL}[STEP])` | chronyd's tracking name, address, refid |
//! | `max_over_time(clockwatch_reference_stratum{SEL}[STEP])` | stratum |
//! | `max_over_time(chrony_tracking_leap_status{SEL}[STEP])` | leap status |
//! | `max_over_time` / `min_over_time(clockwatch_probe_offset_seconds{SEL}[STEP])` | worst \|offset\| against the independent server |
//! | `max_over_time(clockwatch_probe_bound_contradicted{SEL}[STEP])` | cells in which the probe contradicted the bound |
//!
//! A cell's reference is the combination of the first three; a cell in
//! which two references were seen counts for both (a change inside it).

use std::collections::BTreeMap;

use clockwatch_vocab::{
    label, CHRONY_TRACKING_INFO, CHRONY_TRACKING_LEAP_STATUS, CLOCKWATCH_PROBE_BOUND_CONTRADICTED,
    CLOCKWATCH_PROBE_OFFSET_SECONDS, CLOCKWATCH_REFERENCE_INFO, CLOCKWATCH_REFERENCE_STRATUM,
};

use super::analysis::Grid;
use super::prom::{Client, Series};
use super::source::{node_of, range, vector};
use super::ReportError;

/// Shown for cells without any reference information.
pub const NO_INFO: &str = "(no reference information)";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Q {
    RefInfo,
    Tracking,
    Stratum,
    Leap,
    ProbeMax,
    ProbeMin,
    Contradicted,
}

const ALL: [Q; 7] = [
    Q::RefInfo,
    Q::Tracking,
    Q::Stratum,
    Q::Leap,
    Q::ProbeMax,
    Q::ProbeMin,
    Q::Contradicted,
];

fn query(q: Q, matchers: &str, step_ms: i64) -> String {
    let (f, m) = match q {
        Q::RefInfo => ("last_over_time", CLOCKWATCH_REFERENCE_INFO.name),
        Q::Tracking => ("last_over_time", CHRONY_TRACKING_INFO.name),
        Q::Stratum => ("max_over_time", CLOCKWATCH_REFERENCE_STRATUM.name),
        Q::Leap => ("max_over_time", CHRONY_TRACKING_LEAP_STATUS.name),
        Q::ProbeMax => ("max_over_time", CLOCKWATCH_PROBE_OFFSET_SECONDS.name),
        Q::ProbeMin => ("min_over_time", CLOCKWATCH_PROBE_OFFSET_SECONDS.name),
        Q::Contradicted => ("max_over_time", CLOCKWATCH_PROBE_BOUND_CONTRADICTED.name),
    };
    format!("{f}({}{})", vector(m, matchers, &[]), range(step_ms))
}

/// The queries (for the report's list).
pub fn queries(matchers: &str, step_ms: i64) -> Vec<String> {
    ALL.iter().map(|q| query(*q, matchers, step_ms)).collect()
}

/// One reference and the time the node followed it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Share {
    /// Description (daemon, kind, reference, ref id, tracking name, stratum).
    pub reference: String,
    /// Cells in which it was seen.
    pub cells: usize,
}

/// A change of reference.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Change {
    /// End of the cell in which the new reference was first seen, unix ms.
    pub at_ms: i64,
    /// Before.
    pub from: String,
    /// After.
    pub to: String,
}

/// Agreement with one independent server (`--probe.server`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Probe {
    /// Server label.
    pub server: String,
    /// Largest |offset| seen.
    pub worst_abs_offset: Option<f64>,
    /// Cells with a probe offset.
    pub cells_probed: usize,
    /// Cells in which the probe contradicted the bound.
    pub cells_contradicted: usize,
    /// Number of contradiction intervals (runs of such cells).
    pub contradictions: usize,
}

/// Traceability of one node.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct NodeTrace {
    /// References in order of first appearance.
    pub references: Vec<Share>,
    /// Every change.
    pub changes: Vec<Change>,
    /// Leap status value -> cells.
    pub leap: BTreeMap<i64, usize>,
    /// Per probe server.
    pub probes: Vec<Probe>,
}

/// Words for a leap status value.
pub fn leap_name(v: i64) -> &'static str {
    match v {
        0 => "normal",
        1 => "insert second",
        2 => "delete second",
        3 => "not synchronised",
        _ => "unknown value",
    }
}

/// One cell of a probe: max offset, min offset, contradicted.
type ProbeCell = (Option<f64>, Option<f64>, Option<f64>);

#[derive(Default)]
struct Raw {
    /// cell -> descriptions seen (reference info, tracking).
    refinfo: Vec<Vec<String>>,
    tracking: Vec<Vec<String>>,
    stratum: Vec<Option<f64>>,
    leap: Vec<Option<f64>>,
    /// server -> per cell (max, min, contradicted).
    probes: BTreeMap<String, Vec<ProbeCell>>,
}

/// Reads and summarises every node's traceability.
pub async fn fetch(
    client: &Client,
    grid: &Grid,
    matchers: &str,
    max_points: usize,
) -> Result<BTreeMap<String, NodeTrace>, ReportError> {
    let mut raw: BTreeMap<String, Raw> = BTreeMap::new();
    let per = max_points.max(1);
    for q in ALL {
        let text = query(q, matchers, grid.step_ms);
        let mut first = 0;
        while first < grid.cells {
            let n = per.min(grid.cells - first);
            let series = client
                .query_range(
                    &text,
                    grid.cell_end(first),
                    grid.cell_end(first + n - 1),
                    grid.step_ms,
                )
                .await?;
            add(&mut raw, grid, q, &series);
            first += n;
        }
    }
    Ok(raw
        .into_iter()
        .map(|(node, r)| (node, summarize(grid, &r)))
        .collect())
}

fn describe(labels: &BTreeMap<String, String>, keys: &[(&str, &str)]) -> String {
    keys.iter()
        .filter_map(|(k, name)| {
            labels
                .get(*k)
                .filter(|v| !v.is_empty())
                .map(|v| format!("{name}{v}"))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn add(raw: &mut BTreeMap<String, Raw>, grid: &Grid, q: Q, series: &[Series]) {
    for s in series {
        let Some(node) = node_of(&s.labels) else {
            continue;
        };
        let r = raw.entry(node).or_insert_with(|| Raw {
            refinfo: vec![Vec::new(); grid.cells],
            tracking: vec![Vec::new(); grid.cells],
            stratum: vec![None; grid.cells],
            leap: vec![None; grid.cells],
            probes: BTreeMap::new(),
        });
        let server = s.labels.get(label::SERVER).cloned().unwrap_or_default();
        let text = match q {
            Q::RefInfo => describe(
                &s.labels,
                &[
                    (label::DAEMON, ""),
                    (label::KIND, ""),
                    (label::REFERENCE, ""),
                    (label::REFERENCE_ID, "refid "),
                ],
            ),
            Q::Tracking => describe(
                &s.labels,
                &[
                    (label::TRACKING_NAME, "name "),
                    (label::TRACKING_ADDRESS, "address "),
                    (label::TRACKING_REFID, "refid "),
                ],
            ),
            _ => String::new(),
        };
        for &(t, v) in &s.points {
            let Some(i) = grid.cell_at_eval(t) else {
                continue;
            };
            match q {
                Q::RefInfo => push_unique(&mut r.refinfo[i], &text),
                Q::Tracking => push_unique(&mut r.tracking[i], &text),
                Q::Stratum => r.stratum[i] = Some(v),
                Q::Leap => r.leap[i] = Some(v),
                Q::ProbeMax | Q::ProbeMin | Q::Contradicted => {
                    let cells = r
                        .probes
                        .entry(server.clone())
                        .or_insert_with(|| vec![(None, None, None); grid.cells]);
                    match q {
                        Q::ProbeMax => cells[i].0 = Some(v),
                        Q::ProbeMin => cells[i].1 = Some(v),
                        _ => cells[i].2 = Some(v),
                    }
                }
            }
        }
    }
}

fn push_unique(v: &mut Vec<String>, s: &str) {
    if !v.iter().any(|x| x == s) {
        v.push(s.to_string());
        v.sort();
    }
}

fn summarize(grid: &Grid, r: &Raw) -> NodeTrace {
    let mut t = NodeTrace::default();
    let mut prev: Option<Vec<String>> = None;
    for i in 0..grid.cells {
        let mut refs: Vec<String> = Vec::new();
        let tracking = r.tracking[i].join(" / ");
        let stratum = r.stratum[i]
            .filter(|s| s.is_finite())
            .map(|s| format!("stratum {s}"));
        let bases: Vec<String> = if r.refinfo[i].is_empty() {
            vec![String::new()]
        } else {
            r.refinfo[i].clone()
        };
        for b in bases {
            let mut parts: Vec<String> = Vec::new();
            if !b.is_empty() {
                parts.push(b);
            }
            if !tracking.is_empty() {
                parts.push(format!("(chronyd: {tracking})"));
            }
            if let Some(s) = &stratum {
                parts.push(s.clone());
            }
            if !parts.is_empty() {
                refs.push(parts.join(", "));
            }
        }
        if refs.is_empty() {
            refs.push(NO_INFO.to_string());
        }
        for x in &refs {
            match t.references.iter_mut().find(|s| &s.reference == x) {
                Some(s) => s.cells += 1,
                None => t.references.push(Share {
                    reference: x.clone(),
                    cells: 1,
                }),
            }
        }
        // A change: each reference not seen in the previous cell.
        if let Some(p) = &prev {
            for new in refs.iter().filter(|x| !p.contains(x)) {
                t.changes.push(Change {
                    at_ms: grid.cell_end(i),
                    from: p.join(" + "),
                    to: new.clone(),
                });
            }
        }
        prev = Some(refs);
        if let Some(l) = r.leap[i] {
            *t.leap.entry(l as i64).or_default() += 1;
        }
    }
    for (server, cells) in &r.probes {
        let mut p = Probe {
            server: server.clone(),
            worst_abs_offset: None,
            cells_probed: 0,
            cells_contradicted: 0,
            contradictions: 0,
        };
        let mut in_run = false;
        for &(max, min, contra) in cells {
            let abs = [max, min]
                .into_iter()
                .flatten()
                .filter(|v| v.is_finite())
                .map(f64::abs)
                .reduce(f64::max);
            if abs.is_some() {
                p.cells_probed += 1;
                p.worst_abs_offset = [p.worst_abs_offset, abs]
                    .into_iter()
                    .flatten()
                    .reduce(f64::max);
            }
            let c = contra.is_some_and(|v| v >= 1.0);
            if c {
                p.cells_contradicted += 1;
                if !in_run {
                    p.contradictions += 1;
                }
            }
            in_run = c;
        }
        t.probes.push(p);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_changes_and_probes() {
        let grid = Grid {
            start_ms: 0,
            step_ms: 60_000,
            cells: 4,
        };
        let a = "chrony remote 10.0.0.1 refid 0A000001".to_string();
        let b = "chrony refclock PHC0 refid PHC0".to_string();
        let r = Raw {
            refinfo: vec![
                vec![a.clone()],
                vec![a.clone(), b.clone()],
                vec![b.clone()],
                vec![],
            ],
            tracking: vec![vec![]; 4],
            stratum: vec![Some(2.0), Some(1.0), Some(1.0), None],
            leap: vec![Some(0.0), Some(0.0), Some(1.0), None],
            probes: [(
                "ntp1".to_string(),
                vec![
                    (Some(1e-5), Some(-3e-5), Some(0.0)),
                    (Some(2e-4), Some(1e-4), Some(1.0)),
                    (None, None, None),
                    (Some(0.0), Some(0.0), Some(1.0)),
                ],
            )]
            .into(),
        };
        let t = summarize(&grid, &r);
        assert_eq!(t.references.len(), 4, "{:?}", t.references);
        assert_eq!(t.references[3].reference, NO_INFO);
        assert_eq!(t.changes.len(), 3, "{:?}", t.changes);
        assert_eq!(t.changes[0].at_ms, 120_000);
        assert_eq!(t.leap[&0], 2);
        assert_eq!(t.leap[&1], 1);
        let p = &t.probes[0];
        assert_eq!(p.worst_abs_offset, Some(2e-4));
        assert_eq!(
            (p.cells_probed, p.cells_contradicted, p.contradictions),
            (3, 2, 2)
        );
    }
}
