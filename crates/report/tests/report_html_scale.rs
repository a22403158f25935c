//! The HTML of a large fleet: 2000 synthetic nodes × 1 day at 60 s, 20 of
//! them non-compliant. The HTML must stay small enough for headless
//! Chromium to print it to PDF (timelines only for the non-compliant nodes,
//! every node in the table), and the Markdown must stay complete.
//! Without chromium: loud SKIP (fails under CI=true).
//! `CLOCKWATCH_HTML_SCALE_NODES=10000` runs it at the full size by
//! hand (about a minute more; CI keeps 2000).

mod common;

use clockwatch_report::analysis::{self, CellInput, Grid};
use clockwatch_report::{profile, render, Format, Report};
use common::{skip_unless, test_output_dir};

/// Nodes of the fleet: 2000, or `$CLOCKWATCH_HTML_SCALE_NODES` (≥ 100).
fn nodes() -> usize {
    std::env::var("CLOCKWATCH_HTML_SCALE_NODES")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n >= 100)
        .unwrap_or(2000)
}

fn fleet() -> Report {
    let grid = Grid {
        start_ms: 1_714_521_600_000,
        step_ms: 60_000,
        cells: 1440,
    };
    let tol = profile::parse_tolerance("mifid2-hft").expect("profile");
    let nodes: Vec<_> = (0..nodes())
        .map(|i| {
            let cells: Vec<CellInput> = (0..grid.cells)
                .map(|k| CellInput {
                    bound_peak: Some(if i % 100 == 7 && (600..620).contains(&k) {
                        0.0005
                    } else {
                        0.00002 + (k % 9) as f64 * 1e-6
                    }),
                    ..CellInput::default()
                })
                .collect();
            analysis::analyze_node(&format!("node-{i:04}"), &grid, &cells, tol.seconds())
        })
        .collect();
    let summary = analysis::summarize(&nodes, 0.0);
    Report {
        generated_ms: grid.end_ms() + 60_000,
        prometheus: "http://127.0.0.1:9090".into(),
        selector: String::new(),
        requested_from_ms: grid.start_ms,
        requested_to_ms: grid.end_ms(),
        grid,
        tolerance: tol,
        allowed_unmeasured: 0.0,
        nodes,
        summary,
        queries: vec!["q".into()],
        traceability: Default::default(),
    }
}

#[test]
fn large_fleet_html_prints_to_pdf() {
    let n = nodes();
    let r = fleet();
    let md = render(&r, Format::Md).expect("md");
    assert_eq!(
        (0..n)
            .filter(|i| md.contains(&format!("| node-{i:04} |")))
            .count(),
        n,
        "Markdown lists every node"
    );
    let html = render(&r, Format::Html).expect("html");
    // One in a hundred breaches: drawn; the others are table rows.
    assert_eq!(html.matches("<div class=\"node\">").count(), n / 100);
    assert_eq!(html.matches("<tr data-node=").count(), n);
    // About 300 B per table row and 50 KB per drawn timeline (1 in 100).
    assert!(html.len() < n * 1536, "HTML is {} bytes", html.len());
    // The evidence tables merge rows that are the same but for the node:
    // the compliant nodes are one row, the breaching ones another.
    let method = html
        .split("<table class=\"method\">")
        .nth(1)
        .and_then(|t| t.split("</table>").next())
        .expect("method table");
    assert_eq!(method.matches("<tr>").count(), 3, "{method}");
    assert!(
        method.contains(&format!(
            "{} nodes: node-0000, node-0001, … node-{:04}",
            n - n / 100,
            n - 1
        )),
        "{method}"
    );
    assert!(
        md.matches("| grid |").count() >= n,
        "Markdown keeps every row"
    );
    if skip_unless(&["chromium"], false) {
        return;
    }
    let out = test_output_dir();
    let page = out.join("large-fleet.html");
    std::fs::write(&page, &html).expect("write html");
    let pdf = out.join("large-fleet.pdf");
    let _ = std::fs::remove_file(&pdf);
    let profile = tempfile::tempdir().expect("profile");
    let o = common::chromium(profile.path())
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg("--no-pdf-header-footer")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium --print-to-pdf");
    let bytes = std::fs::read(&pdf).unwrap_or_else(|e| {
        panic!(
            "no PDF ({e}); chromium: {}",
            String::from_utf8_lossy(&o.stderr)
        )
    });
    assert!(bytes.starts_with(b"%PDF"), "not a PDF");
    // About 45 rows a page once names do not wrap and the evidence rows
    // are merged (2000 nodes: 45 pages; 10,000: 219); before, a 10,000-node
    // report took 1010.
    let pages = bytes
        .windows(12)
        .filter(|w| w.starts_with(b"/Type /Page") && w[11] != b's')
        .count();
    assert!(
        pages > 0 && pages < n / 30 + 20,
        "{pages} pages for {n} nodes"
    );
    println!(
        "large fleet: HTML {} bytes, PDF {} bytes, {pages} pages",
        html.len(),
        bytes.len()
    );
}
