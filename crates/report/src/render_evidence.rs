//! The evidence sections every format carries after the node table: the
//! measurement method per node (and the traceability of each node's
//! reference). Built once as plain tables, then written as Markdown, HTML
//! or CSV rows by the three small functions here; JSON carries the same
//! facts as fields of each node.

use std::fmt::Write;

use super::render_html::esc;
use super::{node_seconds, Report};

/// One table.
pub struct Section {
    /// Heading.
    pub title: &'static str,
    /// CSV record type of its rows.
    pub record: &'static str,
    /// Column names.
    pub header: Vec<&'static str>,
    /// Rows; the first column is the node.
    pub rows: Vec<Vec<String>>,
}

fn secs(v: f64) -> String {
    format!("{v:.3}")
}

/// The sections of `r`.
pub fn sections(r: &Report) -> Vec<Section> {
    let rows = r
        .nodes
        .iter()
        .map(|n| {
            let (w, o, u) = node_seconds(r, n);
            let (obs, resets) = match &n.method.counters {
                Some(a) => (secs(a.not_observed_s()), a.resets.to_string()),
                None => ("-".to_string(), "-".to_string()),
            };
            vec![
                n.node.clone(),
                n.method.name().to_string(),
                secs(w),
                secs(o),
                secs(u),
                obs,
                resets,
                n.method.why.clone(),
            ]
        })
        .collect();
    vec![Section {
        title: "Measurement method per node",
        record: "method",
        header: vec![
            "Node",
            "Method",
            "Within (s)",
            "Out of tolerance (s)",
            "Unmeasured (s)",
            "Not observed (s)",
            "Restarts",
            "Why",
        ],
        rows,
    }]
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('\n', " ")
}

/// Markdown.
pub fn markdown(r: &Report) -> String {
    let mut o = String::new();
    for s in sections(r) {
        let _ = writeln!(o, "## {}\n", s.title);
        let _ = writeln!(o, "| {} |", s.header.join(" | "));
        let _ = writeln!(o, "|{}", "---|".repeat(s.header.len()));
        for row in &s.rows {
            let cells: Vec<String> = row.iter().map(|c| md_cell(c)).collect();
            let _ = writeln!(o, "| {} |", cells.join(" | "));
        }
        let _ = writeln!(o);
    }
    o
}

/// HTML.
pub fn html(r: &Report) -> String {
    let mut o = String::new();
    for s in sections(r) {
        let _ = writeln!(
            o,
            "<h2>{}</h2>\n<table class=\"{}\">",
            esc(s.title),
            s.record
        );
        let _ = write!(o, "<tr>");
        for h in &s.header {
            let _ = write!(o, "<th>{}</th>", esc(h));
        }
        let _ = writeln!(o, "</tr>");
        for row in &s.rows {
            let _ = write!(o, "<tr>");
            for c in row {
                let _ = write!(o, "<td>{}</td>", esc(c));
            }
            let _ = writeln!(o, "</tr>");
        }
        let _ = writeln!(o, "</table>");
    }
    o
}

/// CSV records `(record, node, text)`: the row's other cells joined as
/// `column=value` pairs with `;`, in column `reasons`.
pub fn csv_rows(r: &Report) -> Vec<(&'static str, String, String)> {
    let mut out = Vec::new();
    for s in sections(r) {
        for row in s.rows {
            let text: Vec<String> = s
                .header
                .iter()
                .zip(&row)
                .skip(1)
                .map(|(h, c)| format!("{h}={c}"))
                .collect();
            out.push((s.record, row[0].clone(), text.join("; ")));
        }
    }
    out
}
