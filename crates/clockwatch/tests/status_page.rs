//! The status page as a person sees it: headless Chromium renders it from a
//! clockwatch serving a real chronyd; the key figures must be in the DOM,
//! and the screenshot is kept in target/test-output/status-page.png.

mod common;

use common::{skip_unless, Clockwatch};

#[test]
fn chromium_shows_state_bound_reference_and_sources() {
    if skip_unless(&["chronyd", "chronyc", "chromium"], true) {
        return;
    }
    let pair = common::shared_pair();
    let cw = Clockwatch::start(&[&format!("--chrony.address={}", pair.unix_address())]);
    let out_dir = common::test_output_dir();
    let profile = tempfile::tempdir().expect("profile dir");
    let chromium = |extra: &[&str]| {
        common::chromium(profile.path())
            .arg("--window-size=1100,900")
            .args(extra)
            .arg(cw.url("/"))
            .output()
            .expect("run chromium")
    };
    let dom = String::from_utf8_lossy(&chromium(&["--dump-dom"]).stdout).into_owned();
    let shot = out_dir.join("status-page.png");
    let _ = chromium(&[&format!("--screenshot={}", shot.display())]);
    assert!(
        dom.contains("id=\"state\"") && dom.contains(">synchronized<"),
        "state missing: {dom}"
    );
    assert!(dom.contains("id=\"bound\""), "bound missing");
    let bound_cell = dom
        .split("id=\"bound\">")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .unwrap_or("");
    assert!(
        bound_cell.ends_with("µs") || bound_cell.ends_with("ms") || bound_cell.ends_with("ns"),
        "bound cell {bound_cell:?}"
    );
    assert!(dom.contains("127.0.0.1 (7F000001)"), "reference missing");
    assert!(dom.contains("id=\"stratum\">4<"), "stratum missing");
    assert!(dom.contains("id=\"sources\""), "source table missing");
    // The kernel table is closed before the footer (a browser would
    // otherwise move the footer above it).
    let kernel = dom.split("id=\"kernel\"").nth(1).expect("kernel table");
    assert!(
        kernel.find("</table>") < kernel.find("refreshes every"),
        "kernel table not closed"
    );
    assert!(shot.exists(), "no screenshot written");
    eprintln!("status page screenshot: {}", shot.display());
}

/// The last hour's plot (issue 18): inline SVG, no script, the bound and
/// the probe's |offset| drawn on labelled log axes, the state strip, and the
/// sampler's figures.
#[test]
fn chromium_shows_the_history_plot() {
    if skip_unless(&["chronyd", "chronyc", "chromium"], true) {
        return;
    }
    let pair = common::shared_pair();
    // The upstream chronyd serves NTP: the probe measures the node against
    // it, and its |offset| gets a line of its own.
    let cw = Clockwatch::start(&[
        &format!("--chrony.address={}", pair.unix_address()),
        "--sample.interval=100ms",
        &format!("--probe.server=127.0.0.1:{}", pair.ntp_port),
        "--probe.samples=1",
    ]);
    let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while cw.metrics().get("clockwatch_probe_success", "") != Some(1.0) {
        assert!(
            std::time::Instant::now() < until,
            "no probe round: {}",
            cw.metrics().text
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // A few samples (a tenth of a second each) after it.
    std::thread::sleep(std::time::Duration::from_millis(1000));
    let out_dir = common::test_output_dir();
    let profile = tempfile::tempdir().expect("profile dir");
    let chromium = |extra: &[&str]| {
        common::chromium(profile.path())
            .arg("--window-size=1100,1100")
            .args(extra)
            .arg(cw.url("/"))
            .output()
            .expect("run chromium")
    };
    let dom = String::from_utf8_lossy(&chromium(&["--dump-dom"]).stdout).into_owned();
    let shot = out_dir.join("status-page-history.png");
    let _ = chromium(&[&format!("--screenshot={}", shot.display())]);
    let svg = dom
        .split("<svg id=\"history\"")
        .nth(1)
        .and_then(|rest| rest.split("</svg>").next())
        .unwrap_or_else(|| panic!("no history plot: {dom}"));
    assert!(svg.contains("class=\"bound\""), "no bound line: {svg}");
    assert!(svg.contains("class=\"probe\""), "no probe line: {svg}");
    assert!(svg.contains("|probe offset|"));
    assert!(
        svg.contains("class=\"state-synchronized\""),
        "no state strip: {svg}"
    );
    assert!(svg.contains("seconds (log)") && svg.contains("time (UTC)"));
    assert!(
        svg.contains(" µs<") || svg.contains(" ns<") || svg.contains(" ms<"),
        "no decade labels: {svg}"
    );
    assert!(!dom.contains("<script"), "the page carries a script");
    let accounting = dom
        .split("id=\"accounting\">")
        .nth(1)
        .expect("the sampler's figures");
    assert!(accounting.contains("observed"), "{accounting}");
    assert!(shot.exists(), "no screenshot written");
    eprintln!("history screenshot: {}", shot.display());
}
