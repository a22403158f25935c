//! Markdown renderer.

use std::fmt::Write;

use super::analysis::Interval;
use super::profile::format_seconds;
use super::timeparse::{format_ms, format_span};
use super::{method_notes, node_verdict, opt_seconds, pct, verdict_line, Report};

/// Escapes text for a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('\n', " ")
        .replace('<', "&lt;")
}

fn interval_times(i: &Interval) -> (String, String, String) {
    (
        format_ms(i.start_ms),
        format_ms(i.end_ms),
        format_span(i.duration_ms()),
    )
}

/// Renders the report as Markdown.
pub fn render(r: &Report) -> String {
    let mut o = String::new();
    let s = &r.summary;
    let _ = writeln!(o, "# Clock synchronisation compliance report\n");
    let _ = writeln!(
        o,
        "**Verdict: {}**\n\n{}\n",
        if s.compliant {
            "COMPLIANT"
        } else {
            "NOT COMPLIANT"
        },
        cell(&verdict_line(r))
    );
    let _ = writeln!(o, "## Parameters\n");
    let _ = writeln!(o, "| | |\n|---|---|");
    let _ = writeln!(
        o,
        "| Period | {} to {} ({}) |",
        format_ms(r.grid.start_ms),
        format_ms(r.grid.end_ms()),
        format_span(r.grid.span_ms())
    );
    let _ = writeln!(
        o,
        "| Grid | {} cells of {} (step) |",
        r.grid.cells,
        format_span(r.grid.step_ms)
    );
    let _ = writeln!(o, "| Tolerance | {} |", cell(&r.tolerance.label()));
    let _ = writeln!(
        o,
        "| Source of the tolerance | {} |",
        cell(&r.tolerance.source)
    );
    let _ = writeln!(
        o,
        "| Unmeasured share allowed | {} |",
        pct(r.allowed_unmeasured)
    );
    let _ = writeln!(o, "| Prometheus | {} |", cell(&r.prometheus));
    let _ = writeln!(
        o,
        "| Selector | `{}` |",
        cell(if r.selector.is_empty() {
            "{}"
        } else {
            &r.selector
        })
    );
    let _ = writeln!(o, "| Generated | {} |\n", format_ms(r.generated_ms));

    let _ = writeln!(o, "## How to read this report\n");
    for n in method_notes(r) {
        let _ = writeln!(o, "- {}", cell(&n));
    }
    let _ = writeln!(o);

    let _ = writeln!(o, "## Cluster summary\n");
    let _ = writeln!(o, "| | |\n|---|---|");
    let _ = writeln!(
        o,
        "| Nodes compliant | {} of {} |",
        s.nodes_compliant, s.nodes
    );
    let _ = writeln!(o, "| Nodes with breaches | {} |", s.nodes_with_breaches);
    let _ = writeln!(o, "| Nodes with unmeasured time | {} |", s.nodes_with_gaps);
    let _ = writeln!(o, "| Within tolerance | {} |", pct(s.within_ratio));
    let _ = writeln!(o, "| Out of tolerance | {} |", pct(s.out_ratio));
    let _ = writeln!(o, "| Unmeasured | {} |", pct(s.unmeasured_ratio));
    let _ = writeln!(
        o,
        "| Worst bound | {}{} |",
        opt_seconds(s.worst_bound),
        s.worst_node
            .as_deref()
            .map(|n| format!(" ({})", cell(n)))
            .unwrap_or_default()
    );
    let _ = writeln!(o, "| Breaches | {} |", s.breaches);
    let _ = writeln!(o, "| Gaps | {} |\n", s.gaps);

    let _ = writeln!(o, "## Nodes\n");
    let _ = writeln!(
        o,
        "| Node | Within | Out of tolerance | Unmeasured | Worst bound | p99 bound | Breaches | Gaps | Verdict |"
    );
    let _ = writeln!(o, "|---|---:|---:|---:|---:|---:|---:|---:|---|");
    for n in &r.nodes {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(&n.node),
            pct(n.within_ratio()),
            pct(n.out_ratio()),
            pct(n.unmeasured_ratio()),
            opt_seconds(n.worst_bound),
            opt_seconds(n.p99_bound),
            n.breaches.len(),
            n.gaps.len(),
            cell(&node_verdict(r, n))
        );
    }
    let _ = writeln!(o);

    for n in &r.nodes {
        if n.breaches.is_empty() && n.gaps.is_empty() {
            continue;
        }
        let _ = writeln!(o, "### {}\n", cell(&n.node));
        if !n.breaches.is_empty() {
            let _ = writeln!(
                o,
                "Breaches (bound above {}):\n",
                format_seconds(r.tolerance.seconds())
            );
            let _ = writeln!(o, "| Start | End | Duration | Peak bound |");
            let _ = writeln!(o, "|---|---|---:|---:|");
            for b in &n.breaches {
                let (a, e, d) = interval_times(b);
                let _ = writeln!(o, "| {a} | {e} | {d} | {} |", opt_seconds(b.peak));
            }
            let _ = writeln!(o);
        }
        if !n.gaps.is_empty() {
            let _ = writeln!(o, "Unmeasured intervals:\n");
            let _ = writeln!(o, "| Start | End | Duration | Reasons |");
            let _ = writeln!(o, "|---|---|---:|---|");
            for g in &n.gaps {
                let (a, e, d) = interval_times(g);
                let _ = writeln!(o, "| {a} | {e} | {d} | {} |", g.reasons);
            }
            let _ = writeln!(o);
        }
    }
    o.push_str(&super::render_evidence::markdown(r));
    let _ = writeln!(o, "## Queries\n");
    for q in &r.queries {
        let _ = writeln!(o, "- `{q}`");
    }
    o
}
