//! JSON renderer. Schema `clockwatch.report/v1`, documented in
//! docs/compliance.md; fields are only ever added within a version.

use serde::Serialize;

use super::analysis::{Interval, NodeReport};
use super::timeparse::format_ms;
use super::{method_notes, node_verdict, Report, ReportError};

/// Schema identifier.
pub const SCHEMA: &str = "clockwatch.report/v1";

#[derive(Serialize)]
struct Doc<'a> {
    schema: &'static str,
    generated_at: String,
    prometheus: &'a str,
    selector: &'a str,
    period: Period,
    tolerance: Tol<'a>,
    verdict: Verdict,
    summary: SummaryJ<'a>,
    method: Vec<String>,
    queries: &'a [String],
    nodes: Vec<Node<'a>>,
}

#[derive(Serialize)]
struct Period {
    requested_from: String,
    requested_to: String,
    from: String,
    to: String,
    step_seconds: f64,
    cells: usize,
    seconds: f64,
}

#[derive(Serialize)]
struct Tol<'a> {
    profile: Option<&'a str>,
    seconds: f64,
    source: &'a str,
}

#[derive(Serialize)]
struct Verdict {
    compliant: bool,
    max_unmeasured_ratio: f64,
    text: String,
}

#[derive(Serialize)]
struct SummaryJ<'a> {
    nodes: usize,
    nodes_compliant: usize,
    nodes_with_breaches: usize,
    nodes_with_gaps: usize,
    within_ratio: f64,
    out_of_tolerance_ratio: f64,
    unmeasured_ratio: f64,
    worst_bound_seconds: Option<f64>,
    worst_node: Option<&'a str>,
    breaches: usize,
    gaps: usize,
}

#[derive(Serialize)]
struct Node<'a> {
    node: &'a str,
    compliant: bool,
    verdict: String,
    cells: usize,
    within_ratio: f64,
    out_of_tolerance_ratio: f64,
    unmeasured_ratio: f64,
    within_seconds: f64,
    out_of_tolerance_seconds: f64,
    unmeasured_seconds: f64,
    worst_bound_seconds: Option<f64>,
    p99_bound_seconds: Option<f64>,
    first_sample_cell_end: Option<String>,
    last_sample_cell_end: Option<String>,
    breaches: Vec<Iv>,
    gaps: Vec<Iv>,
    method: MethodJ,
    traceability: Option<&'a super::traceability::NodeTrace>,
}

#[derive(Serialize)]
struct MethodJ {
    name: &'static str,
    why: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    counters: Option<CountersJ>,
}

#[derive(Serialize)]
struct CountersJ {
    bucket_le_seconds: f64,
    observed_seconds: f64,
    synchronized_seconds: f64,
    not_observed_seconds: f64,
    resets: usize,
}

#[derive(Serialize)]
struct Iv {
    start: String,
    end: String,
    duration_seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    peak_bound_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    reasons: Vec<&'static str>,
}

fn iv(i: &Interval, with_peak: bool) -> Iv {
    Iv {
        start: format_ms(i.start_ms),
        end: format_ms(i.end_ms),
        duration_seconds: i.duration_ms() as f64 / 1000.0,
        peak_bound_seconds: if with_peak { i.peak } else { None },
        reasons: i.reasons.names(),
    }
}

fn node<'a>(r: &'a Report, n: &'a NodeReport) -> Node<'a> {
    let (within_s, out_s, unmeasured_s) = super::node_seconds(r, n);
    Node {
        node: &n.node,
        compliant: n.compliant(r.allowed_unmeasured),
        verdict: node_verdict(r, n),
        cells: n.cells(),
        within_ratio: n.within_ratio(),
        out_of_tolerance_ratio: n.out_ratio(),
        unmeasured_ratio: n.unmeasured_ratio(),
        within_seconds: within_s,
        out_of_tolerance_seconds: out_s,
        unmeasured_seconds: unmeasured_s,
        worst_bound_seconds: n.worst_bound,
        p99_bound_seconds: n.p99_bound,
        first_sample_cell_end: n.first_sample_ms.map(format_ms),
        last_sample_cell_end: n.last_sample_ms.map(format_ms),
        breaches: n.breaches.iter().map(|b| iv(b, true)).collect(),
        gaps: n.gaps.iter().map(|g| iv(g, false)).collect(),
        traceability: r.traceability.get(&n.node),
        method: MethodJ {
            name: n.method.name(),
            why: n.method.why.clone(),
            counters: n.method.counters.map(|a| CountersJ {
                bucket_le_seconds: a.bucket_le,
                observed_seconds: a.observed_s,
                synchronized_seconds: a.synchronized_s,
                not_observed_seconds: a.not_observed_s(),
                resets: a.resets,
            }),
        },
    }
}

/// Renders the report as pretty JSON.
pub fn render(r: &Report) -> Result<String, ReportError> {
    let s = &r.summary;
    let doc = Doc {
        schema: SCHEMA,
        generated_at: format_ms(r.generated_ms),
        prometheus: &r.prometheus,
        selector: &r.selector,
        period: Period {
            requested_from: format_ms(r.requested_from_ms),
            requested_to: format_ms(r.requested_to_ms),
            from: format_ms(r.grid.start_ms),
            to: format_ms(r.grid.end_ms()),
            step_seconds: r.grid.step_ms as f64 / 1000.0,
            cells: r.grid.cells,
            seconds: r.grid.span_ms() as f64 / 1000.0,
        },
        tolerance: Tol {
            profile: r.tolerance.profile,
            seconds: r.tolerance.seconds(),
            source: &r.tolerance.source,
        },
        verdict: Verdict {
            compliant: s.compliant,
            max_unmeasured_ratio: r.allowed_unmeasured,
            text: super::verdict_line(r),
        },
        summary: SummaryJ {
            nodes: s.nodes,
            nodes_compliant: s.nodes_compliant,
            nodes_with_breaches: s.nodes_with_breaches,
            nodes_with_gaps: s.nodes_with_gaps,
            within_ratio: s.within_ratio,
            out_of_tolerance_ratio: s.out_ratio,
            unmeasured_ratio: s.unmeasured_ratio,
            worst_bound_seconds: s.worst_bound,
            worst_node: s.worst_node.as_deref(),
            breaches: s.breaches,
            gaps: s.gaps,
        },
        method: method_notes(r),
        queries: &r.queries,
        nodes: r.nodes.iter().map(|n| node(r, n)).collect(),
    };
    let mut text =
        serde_json::to_string_pretty(&doc).map_err(|e| ReportError::Render(e.to_string()))?;
    text.push('\n');
    Ok(text)
}
