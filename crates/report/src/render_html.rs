//! HTML renderer: one self-contained file (inline CSS and SVG, no script,
//! nothing fetched), with a timeline per node, readable when printed.

use std::fmt::Write;

use super::analysis::{CellClass, NodeReport};
use super::profile::format_seconds;
use super::timeparse::{format_ms, format_span};
use super::{method_notes, node_verdict, opt_seconds, pct, verdict_line, Report};

/// Width of a timeline, in SVG units.
const W: f64 = 960.0;
/// Height of the bound plot.
const PLOT_H: f64 = 70.0;
/// Height of the status strip.
const STRIP_H: f64 = 14.0;
/// Left margin for axis labels.
const LEFT: f64 = 56.0;
/// Top margin, so the highest axis label is not clipped.
const TOP: f64 = 8.0;

const GREEN: &str = "#2e7d32";
const RED: &str = "#c62828";
const GREY: &str = "#9e9e9e";

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

const STYLE: &str = r#"
:root { --green: #2e7d32; --red: #c62828; --grey: #9e9e9e; }
* { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #111; margin: 2em auto; max-width: 1060px; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: .2em; }
h2 { font-size: 1.25em; border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 1.6em; }
h3 { font-size: 1.05em; margin: 1.2em 0 .3em; }
table { border-collapse: collapse; margin: .5em 0 1em; }
th, td { border: 1px solid #ccc; padding: .25em .55em; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
tr > td:first-child { white-space: nowrap; }
th { background: #f3f3f3; }
.verdict { font-size: 1.3em; font-weight: 700; padding: .5em .8em; border-radius: 4px; display: inline-block; color: #fff; }
.verdict.ok { background: var(--green); }
.verdict.bad { background: var(--red); }
.bad-text { color: var(--red); font-weight: 600; }
.ok-text { color: var(--green); font-weight: 600; }
.node { break-inside: avoid; page-break-inside: avoid; margin-bottom: 1.2em; }
.legend span { display: inline-block; width: .9em; height: .9em; vertical-align: -.1em; margin: 0 .3em 0 1em; }
code { font-size: .9em; word-break: break-all; }
ul.notes li { margin-bottom: .3em; }
svg { display: block; max-width: 100%; height: auto; }
@media print {
  body { margin: 0; max-width: none; font-size: 11px; }
  h2 { break-after: avoid; page-break-after: avoid; }
  table { break-inside: auto; }
  tr { break-inside: avoid; page-break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
@page { size: A4; margin: 14mm; }
"#;

fn color(c: CellClass) -> &'static str {
    match c {
        CellClass::Within => GREEN,
        CellClass::OutOfTolerance => RED,
        CellClass::Unmeasured => GREY,
    }
}

/// The timeline of one node: peak bound per column on a log scale with the
/// tolerance as a dashed line, and a strip coloured by class.
fn timeline(r: &Report, n: &NodeReport) -> String {
    let tol = r.tolerance.seconds();
    let plot_w = W - LEFT;
    let cols = n.timeline.columns();
    let count = cols.len().max(1) as f64;
    let cw = plot_w / count;
    // Log scale covering the tolerance and every peak.
    let positive: Vec<f64> = cols
        .iter()
        .filter_map(|c| c.peak())
        .filter(|v| *v > 0.0)
        .collect();
    let lo = positive
        .iter()
        .copied()
        .fold(tol / 10.0, f64::min)
        .max(1e-9);
    let hi = positive.iter().copied().fold(tol * 10.0, f64::max);
    let (llo, lhi) = (
        lo.log10().floor(),
        hi.log10().ceil().max(lo.log10().floor() + 1.0),
    );
    let y = |v: f64| -> f64 {
        let v = v.max(10f64.powf(llo));
        TOP + PLOT_H - (v.log10() - llo) / (lhi - llo) * PLOT_H
    };
    let total_h = TOP + PLOT_H + 6.0 + STRIP_H + 16.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {total_h}" width="{W}" height="{total_h}" role="img" shape-rendering="crispEdges" aria-label="timeline of {}">"#,
        esc(&n.node)
    );
    let _ = write!(
        s,
        r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{PLOT_H}" fill="#fafafa" stroke="#ddd"/>"##
    );
    // Decade grid lines and labels.
    let mut d = llo;
    while d <= lhi {
        let yy = y(10f64.powf(d));
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" x2="{W}" y1="{yy:.1}" y2="{yy:.1}" stroke="#e4e4e4"/><text x="{:.1}" y="{:.1}" font-size="9" text-anchor="end" fill="#555">{}</text>"##,
            LEFT - 4.0,
            yy + 3.0,
            esc(&format_seconds(10f64.powf(d)))
        );
        d += 1.0;
    }
    // Peak bound bars: runs of equal columns as one bar, and all bars of a
    // colour as one path (a rectangle element per bar made a 30-day
    // timeline about 80 KB of SVG and 500 KB of PDF).
    let base = TOP + PLOT_H;
    let (mut within, mut over) = (String::new(), String::new());
    let mut i = 0;
    while i < cols.len() {
        let Some(p) = cols[i].peak() else {
            i += 1;
            continue;
        };
        // Red where the column is out of tolerance (its class, from the
        // f64 cells: the f32 peak of a cell exactly at the tolerance may
        // round above it).
        let out = cols[i].class == CellClass::OutOfTolerance;
        let mut j = i + 1;
        while j < cols.len()
            && cols[j].peak() == Some(p)
            && (cols[j].class == CellClass::OutOfTolerance) == out
        {
            j += 1;
        }
        let x = LEFT + i as f64 * cw;
        let top = y(p).min(base - 0.5);
        let width = ((j - i) as f64 * cw).max(0.6);
        let d = if out { &mut over } else { &mut within };
        let _ = write!(d, "M{x:.2} {base}V{top:.2}h{width:.2}V{base}Z");
        i = j;
    }
    for (d, fill) in [(within, "#1565c0"), (over, RED)] {
        if !d.is_empty() {
            let _ = write!(s, r#"<path d="{d}" fill="{fill}" opacity="0.75"/>"#);
        }
    }
    // Tolerance line.
    let ty = y(tol);
    let _ = write!(
        s,
        r#"<line x1="{LEFT}" x2="{W}" y1="{ty:.1}" y2="{ty:.1}" stroke="{RED}" stroke-dasharray="5,3" stroke-width="1.2"/><text x="{:.1}" y="{:.1}" font-size="9" text-anchor="end" fill="{RED}">tolerance {}</text>"#,
        W - 2.0,
        ty - 2.0,
        esc(&format_seconds(tol))
    );
    // Status strip, runs merged.
    let sy = TOP + PLOT_H + 6.0;
    let mut i = 0;
    while i < cols.len() {
        let class = cols[i].class;
        let mut j = i + 1;
        while j < cols.len() && cols[j].class == class {
            j += 1;
        }
        let _ = write!(
            s,
            r#"<rect x="{:.2}" y="{sy}" width="{:.2}" height="{STRIP_H}" fill="{}"/>"#,
            LEFT + i as f64 * cw,
            (j - i) as f64 * cw,
            color(class)
        );
        i = j;
    }
    let ay = sy + STRIP_H + 12.0;
    let _ = write!(
        s,
        r##"<text x="{LEFT}" y="{ay}" font-size="9" fill="#555">{}</text><text x="{W}" y="{ay}" font-size="9" text-anchor="end" fill="#555">{}</text>"##,
        esc(&format_ms(r.grid.start_ms)),
        esc(&format_ms(r.grid.end_ms()))
    );
    s.push_str("</svg>");
    s
}

/// Renders the report as a self-contained HTML page.
pub fn render(r: &Report) -> String {
    let s = &r.summary;
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Clock synchronisation compliance report {} to {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(&format_ms(r.grid.start_ms)),
        esc(&format_ms(r.grid.end_ms()))
    );
    let _ = writeln!(o, "<h1>Clock synchronisation compliance report</h1>");
    let _ = writeln!(
        o,
        "<p><span class=\"verdict {}\" id=\"verdict\">{}</span></p>\n<p>{}</p>",
        if s.compliant { "ok" } else { "bad" },
        if s.compliant {
            "COMPLIANT"
        } else {
            "NOT COMPLIANT"
        },
        esc(&verdict_line(r))
    );

    let _ = writeln!(o, "<h2>Parameters</h2>\n<table>");
    let rows = [
        (
            "Period",
            format!(
                "{} to {} ({})",
                format_ms(r.grid.start_ms),
                format_ms(r.grid.end_ms()),
                format_span(r.grid.span_ms())
            ),
        ),
        (
            "Grid",
            format!(
                "{} cells of {} (step)",
                r.grid.cells,
                format_span(r.grid.step_ms)
            ),
        ),
        ("Tolerance", r.tolerance.label()),
        ("Source of the tolerance", r.tolerance.source.clone()),
        ("Unmeasured share allowed", pct(r.allowed_unmeasured)),
        ("Prometheus", r.prometheus.clone()),
        (
            "Selector",
            if r.selector.is_empty() {
                "{}".to_string()
            } else {
                r.selector.clone()
            },
        ),
        ("Generated", format_ms(r.generated_ms)),
    ];
    for (k, v) in rows {
        let _ = writeln!(o, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(&v));
    }
    let _ = writeln!(o, "</table>");

    let _ = writeln!(o, "<h2>How to read this report</h2>\n<ul class=\"notes\">");
    for n in method_notes(r) {
        let _ = writeln!(o, "<li>{}</li>", esc(&n));
    }
    let _ = writeln!(o, "</ul>");

    let _ = writeln!(o, "<h2>Cluster summary</h2>\n<table id=\"summary\">");
    let worst = format!(
        "{}{}",
        opt_seconds(s.worst_bound),
        s.worst_node
            .as_deref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default()
    );
    let srows = [
        (
            "Nodes compliant",
            format!("{} of {}", s.nodes_compliant, s.nodes),
        ),
        ("Nodes with breaches", s.nodes_with_breaches.to_string()),
        ("Nodes with unmeasured time", s.nodes_with_gaps.to_string()),
        ("Within tolerance", pct(s.within_ratio)),
        ("Out of tolerance", pct(s.out_ratio)),
        ("Unmeasured", pct(s.unmeasured_ratio)),
        ("Worst bound", worst),
        ("Breaches", s.breaches.to_string()),
        ("Gaps", s.gaps.to_string()),
    ];
    for (k, v) in srows {
        let _ = writeln!(o, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(&v));
    }
    let _ = writeln!(o, "</table>");

    let _ = writeln!(o, "<h2>Nodes</h2>\n<table id=\"nodes\">\n<tr><th>Node</th><th>Within</th><th>Out of tolerance</th><th>Unmeasured</th><th>Worst bound</th><th>p99 bound</th><th>Breaches</th><th>Gaps</th><th>Verdict</th></tr>");
    for n in &r.nodes {
        let ok = n.compliant(r.allowed_unmeasured);
        let _ = writeln!(
            o,
            "<tr data-node=\"{}\"><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"{}\">{}</td></tr>",
            esc(&n.node),
            esc(&n.node),
            pct(n.within_ratio()),
            pct(n.out_ratio()),
            pct(n.unmeasured_ratio()),
            esc(&opt_seconds(n.worst_bound)),
            esc(&opt_seconds(n.p99_bound)),
            n.breaches.len(),
            n.gaps.len(),
            if ok { "ok-text" } else { "bad-text" },
            esc(&node_verdict(r, n))
        );
    }
    let _ = writeln!(o, "</table>");

    let _ = writeln!(
        o,
        "<h2>Timelines</h2>\n<p class=\"legend\">Bars: peak clock error bound per column (log scale), dashed line: tolerance. Strip:<span style=\"background:{GREEN}\"></span>within tolerance<span style=\"background:{RED}\"></span>out of tolerance<span style=\"background:{GREY}\"></span>unmeasured</p>"
    );
    let large = r.nodes.len() > crate::timeline::LARGE_FLEET;
    if large {
        let _ = writeln!(
            o,
            "<p class=\"legend\">{} nodes: timelines are drawn for the non-compliant nodes only; every node is in the table above, and the Markdown, CSV and JSON reports are complete.</p>",
            r.nodes.len()
        );
    }
    for n in &r.nodes {
        if large && n.compliant(r.allowed_unmeasured) {
            continue;
        }
        let _ = writeln!(o, "<div class=\"node\">\n<h3>{}</h3>", esc(&n.node));
        let _ = writeln!(o, "{}", timeline(r, n));
        if !n.breaches.is_empty() {
            let _ = writeln!(o, "<table class=\"breaches\"><tr><th>Breach start</th><th>End</th><th>Duration</th><th>Peak bound</th></tr>");
            for b in &n.breaches {
                let _ = writeln!(
                    o,
                    "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                    esc(&format_ms(b.start_ms)),
                    esc(&format_ms(b.end_ms)),
                    esc(&format_span(b.duration_ms())),
                    esc(&opt_seconds(b.peak))
                );
            }
            let _ = writeln!(o, "</table>");
        }
        if !n.gaps.is_empty() {
            let _ = writeln!(o, "<table class=\"gaps\"><tr><th>Unmeasured from</th><th>To</th><th>Duration</th><th>Reasons</th></tr>");
            for g in &n.gaps {
                let _ = writeln!(
                    o,
                    "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
                    esc(&format_ms(g.start_ms)),
                    esc(&format_ms(g.end_ms)),
                    esc(&format_span(g.duration_ms())),
                    esc(&g.reasons.to_string())
                );
            }
            let _ = writeln!(o, "</table>");
        }
        let _ = writeln!(o, "</div>");
    }
    o.push_str(&super::render_evidence::html(r));
    let _ = writeln!(o, "<h2>Queries</h2>\n<ul>");
    for q in &r.queries {
        let _ = writeln!(o, "<li><code>{}</code></li>", esc(q));
    }
    let _ = writeln!(o, "</ul>\n</body>\n</html>");
    o
}

#[cfg(test)]
mod tests {
    use crate::analysis::{self, CellInput, Grid};

    fn report_of(peak: f64) -> crate::Report {
        let grid = Grid {
            start_ms: 1_714_521_600_000,
            step_ms: 60_000,
            cells: 43_200,
        };
        let tolerance = crate::profile::parse_tolerance("1ms").expect("tol");
        let cells: Vec<CellInput> = (0..grid.cells)
            .map(|_| CellInput {
                bound_peak: Some(peak),
                ..CellInput::default()
            })
            .collect();
        let nodes = vec![analysis::analyze_node(
            "n",
            &grid,
            &cells,
            tolerance.seconds(),
        )];
        crate::Report {
            generated_ms: 0,
            prometheus: "http://p".into(),
            selector: String::new(),
            requested_from_ms: grid.start_ms,
            requested_to_ms: grid.end_ms(),
            grid,
            tolerance,
            allowed_unmeasured: 0.0,
            summary: analysis::summarize(&nodes, 0.0),
            nodes,
            queries: vec![],
            traceability: Default::default(),
        }
    }

    #[test]
    fn a_bound_exactly_at_the_tolerance_is_drawn_within() {
        // 1 ms as f64 rounds up as f32: the bars' colour comes from the
        // cells' class, not from the rounded peak.
        assert!(f64::from(0.001f32) > 0.001);
        let at = super::render(&report_of(0.001));
        assert!(at.contains(r##"fill="#1565c0" opacity"##), "blue bars");
        assert!(
            !at.contains(&format!(r#"fill="{}" opacity"#, super::RED)),
            "no red bar"
        );
        let over = super::render(&report_of(0.0011));
        assert!(
            over.contains(&format!(r#"fill="{}" opacity"#, super::RED)),
            "red bars"
        );
    }
}
