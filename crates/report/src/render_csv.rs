//! CSV renderer: one header, one table, typed rows (column `record`):
//! `cluster` (one row), then per node a `node` row followed by its `breach`
//! and `gap` rows, then the evidence rows (`method`, … with the facts as
//! `column=value` pairs in `reasons`; see [`super::render_evidence`]).
//! Columns that do not apply to a record are empty. Numbers
//! are plain decimals in seconds or ratios (0..1); times are RFC 3339 UTC.

use super::analysis::Interval;
use super::timeparse::format_ms;
use super::{Report, ReportError};

/// The header, in order.
pub const HEADER: [&str; 17] = [
    "record",
    "node",
    "start",
    "end",
    "duration_seconds",
    "within_ratio",
    "out_of_tolerance_ratio",
    "unmeasured_ratio",
    "worst_bound_seconds",
    "p99_bound_seconds",
    "peak_bound_seconds",
    "breaches",
    "gaps",
    "reasons",
    "compliant",
    "tolerance_seconds",
    "step_seconds",
];

fn num(v: f64) -> String {
    v.to_string()
}

fn opt(v: Option<f64>) -> String {
    v.map(num).unwrap_or_default()
}

fn secs(ms: i64) -> String {
    num(ms as f64 / 1000.0)
}

fn interval_row(kind: &str, node: &str, i: &Interval) -> [String; 17] {
    let mut row: [String; 17] = Default::default();
    row[0] = kind.to_string();
    row[1] = node.to_string();
    row[2] = format_ms(i.start_ms);
    row[3] = format_ms(i.end_ms);
    row[4] = secs(i.duration_ms());
    if kind == "breach" {
        row[10] = opt(i.peak);
    }
    row[13] = i.reasons.names().join(";");
    row
}

/// Renders the report as CSV.
pub fn render(r: &Report) -> Result<String, ReportError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let err = |e: csv::Error| ReportError::Render(e.to_string());
    w.write_record(HEADER).map_err(err)?;
    let s = &r.summary;
    let mut cluster: [String; 17] = Default::default();
    cluster[0] = "cluster".to_string();
    cluster[2] = format_ms(r.grid.start_ms);
    cluster[3] = format_ms(r.grid.end_ms());
    cluster[4] = secs(r.grid.span_ms());
    cluster[5] = num(s.within_ratio);
    cluster[6] = num(s.out_ratio);
    cluster[7] = num(s.unmeasured_ratio);
    cluster[8] = opt(s.worst_bound);
    cluster[11] = s.breaches.to_string();
    cluster[12] = s.gaps.to_string();
    cluster[14] = s.compliant.to_string();
    cluster[15] = num(r.tolerance.seconds());
    cluster[16] = secs(r.grid.step_ms);
    w.write_record(&cluster).map_err(err)?;
    for n in &r.nodes {
        let mut row: [String; 17] = Default::default();
        row[0] = "node".to_string();
        row[1] = n.node.clone();
        row[2] = format_ms(r.grid.start_ms);
        row[3] = format_ms(r.grid.end_ms());
        row[4] = secs(r.grid.span_ms());
        row[5] = num(n.within_ratio());
        row[6] = num(n.out_ratio());
        row[7] = num(n.unmeasured_ratio());
        row[8] = opt(n.worst_bound);
        row[9] = opt(n.p99_bound);
        row[11] = n.breaches.len().to_string();
        row[12] = n.gaps.len().to_string();
        row[14] = n.compliant(r.allowed_unmeasured).to_string();
        w.write_record(&row).map_err(err)?;
        for b in &n.breaches {
            w.write_record(interval_row("breach", &n.node, b))
                .map_err(err)?;
        }
        for g in &n.gaps {
            w.write_record(interval_row("gap", &n.node, g))
                .map_err(err)?;
        }
    }
    for (record, node, text) in super::render_evidence::csv_rows(r) {
        let mut row: [String; 17] = Default::default();
        row[0] = record.to_string();
        row[1] = node;
        row[13] = text;
        w.write_record(&row).map_err(err)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| ReportError::Render(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| ReportError::Render(e.to_string()))
}
