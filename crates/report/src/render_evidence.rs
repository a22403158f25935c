//! The evidence sections every format carries after the node table: the
//! measurement method per node (and the traceability of each node's
//! reference). Built once as plain tables, then written as Markdown, HTML
//! or CSV rows by the three small functions here; JSON carries the same
//! facts as fields of each node.

use std::fmt::Write;

use super::render_html::esc;
use super::timeparse::{format_ms, format_span};
use super::traceability::{leap_name, NO_INFO};
use super::{node_seconds, opt_seconds, pct, Report};

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
    let mut out = vec![Section {
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
    }];
    out.extend(traceability(r));
    out
}

fn share_and_time(r: &Report, cells: usize) -> (String, String) {
    let total = r.grid.cells.max(1);
    (
        pct(cells as f64 / total as f64),
        format_span(cells as i64 * r.grid.step_ms),
    )
}

/// The traceability tables: references (time share), changes, leap
/// status, and agreement with the independent server.
fn traceability(r: &Report) -> Vec<Section> {
    let mut refs = Vec::new();
    let mut changes = Vec::new();
    let mut leap = Vec::new();
    let mut probes = Vec::new();
    for n in &r.nodes {
        let Some(t) = r.traceability.get(&n.node) else {
            refs.push(vec![
                n.node.clone(),
                NO_INFO.to_string(),
                pct(1.0),
                format_span(r.grid.span_ms()),
            ]);
            continue;
        };
        for s in &t.references {
            let (share, time) = share_and_time(r, s.cells);
            refs.push(vec![n.node.clone(), s.reference.clone(), share, time]);
        }
        for c in &t.changes {
            changes.push(vec![
                n.node.clone(),
                format_ms(c.at_ms),
                c.from.clone(),
                c.to.clone(),
            ]);
        }
        for (v, cells) in &t.leap {
            let (share, time) = share_and_time(r, *cells);
            leap.push(vec![
                n.node.clone(),
                format!("{v} ({})", leap_name(*v)),
                share,
                time,
            ]);
        }
        for p in &t.probes {
            let (probed, _) = share_and_time(r, p.cells_probed);
            let (_, contra) = share_and_time(r, p.cells_contradicted);
            probes.push(vec![
                n.node.clone(),
                p.server.clone(),
                opt_seconds(p.worst_abs_offset),
                probed,
                contra,
                p.contradictions.to_string(),
            ]);
        }
    }
    vec![
        Section {
            title: "Traceability: references followed",
            record: "reference",
            header: vec!["Node", "Reference", "Share of the period", "Time"],
            rows: refs,
        },
        Section {
            title: "Traceability: reference changes",
            record: "reference_change",
            header: vec!["Node", "Seen in the cell ending", "From", "To"],
            rows: changes,
        },
        Section {
            title: "Traceability: leap status (chrony_tracking_leap_status)",
            record: "leap",
            header: vec!["Node", "Leap status", "Share of the period", "Time"],
            rows: leap,
        },
        Section {
            title: "Traceability: agreement with the independent server (probe)",
            record: "probe",
            header: vec![
                "Node",
                "Server",
                "Worst |offset|",
                "Share of the period probed",
                "Time contradicting the bound",
                "Contradictions",
            ],
            rows: probes,
        },
    ]
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
        if s.rows.is_empty() {
            let _ = writeln!(o, "None in the period.\n");
            continue;
        }
        let header: Vec<String> = s.header.iter().map(|h| md_cell(h)).collect();
        let _ = writeln!(o, "| {} |", header.join(" | "));
        let _ = writeln!(o, "|{}", "---|".repeat(s.header.len()));
        for row in &s.rows {
            let cells: Vec<String> = row.iter().map(|c| md_cell(c)).collect();
            let _ = writeln!(o, "| {} |", cells.join(" | "));
        }
        let _ = writeln!(o);
    }
    o
}

/// Rows that are the same but for the node (the first column), merged
/// into one whose node cell names how many and the first of them, in the
/// order they first appear.
fn merge_alike(rows: &[Vec<String>]) -> Vec<Vec<String>> {
    let mut order: Vec<(&[String], Vec<&str>)> = Vec::new();
    let mut index: std::collections::HashMap<&[String], usize> = std::collections::HashMap::new();
    for row in rows {
        let Some((node, rest)) = row.split_first() else {
            continue;
        };
        match index.get(rest) {
            Some(&i) => order[i].1.push(node),
            None => {
                index.insert(rest, order.len());
                order.push((rest, vec![node]));
            }
        }
    }
    order
        .into_iter()
        .map(|(rest, nodes)| {
            let who = match nodes.as_slice() {
                [one] => (*one).to_string(),
                [a, b] => format!("2 nodes: {a}, {b}"),
                [a, b, c] => format!("3 nodes: {a}, {b}, {c}"),
                [a, b, .., z] => format!("{} nodes: {a}, {b}, … {z}", nodes.len()),
                [] => String::new(),
            };
            std::iter::once(who).chain(rest.iter().cloned()).collect()
        })
        .collect()
}

/// HTML. Above [`crate::timeline::LARGE_FLEET`] nodes, rows that are the
/// same but for the node are merged (a fleet of compliant nodes is then a
/// few rows, not thousands of pages); Markdown, CSV and JSON keep every row.
pub fn html(r: &Report) -> String {
    let mut o = String::new();
    let large = r.nodes.len() > crate::timeline::LARGE_FLEET;
    for mut s in sections(r) {
        let _ = writeln!(o, "<h2>{}</h2>", esc(s.title));
        if large && !s.rows.is_empty() {
            let before = s.rows.len();
            s.rows = merge_alike(&s.rows);
            let _ = writeln!(
                o,
                "<p class=\"legend\">{before} rows; rows the same but for the node are merged into {} (the Markdown, CSV and JSON reports list every node).</p>",
                s.rows.len()
            );
        }
        let _ = writeln!(o, "<table class=\"{}\">", s.record);
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

#[cfg(test)]
mod tests {
    use super::merge_alike;

    fn row(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| (*c).to_string()).collect()
    }

    #[test]
    fn rows_alike_but_for_the_node_merge_in_first_seen_order() {
        let rows = vec![
            row(&["a", "grid", "60"]),
            row(&["b", "counters", "59"]),
            row(&["c", "grid", "60"]),
            row(&["d", "grid", "60"]),
            row(&["e", "counters", "59"]),
            row(&["f", "grid", "1"]),
            row(&["g", "grid", "60"]),
        ];
        assert_eq!(
            merge_alike(&rows),
            vec![
                row(&["4 nodes: a, c, … g", "grid", "60"]),
                row(&["2 nodes: b, e", "counters", "59"]),
                row(&["f", "grid", "1"]),
            ]
        );
        assert!(merge_alike(&[]).is_empty());
    }
}
