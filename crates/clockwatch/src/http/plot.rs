//! The status page's history plot: the bound (and the probe's |offset|)
//! over the last hour of the sampler's history, as inline SVG (no script,
//! nothing fetched). Pure: the points come in, a string goes out.
//!
//! Read at a glance: a log scale in seconds with a labelled line per
//! decade, the time in UTC every 10 minutes, the line broken wherever no
//! bound held (not synchronized or stale) or nothing was observed, and
//! under it a strip with each 10 s step's worst state in the page's
//! colours (blank: not observed).

use std::fmt::Write as _;

use clockwatch_vocab::unit::scale_seconds;

use crate::sampler::history::{Point, STEP};
use crate::verdict::SyncState;

const W: f64 = 760.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 740.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 200.0;
const STRIP_TOP: f64 = 208.0;
const STRIP_H: f64 = 12.0;
const H: f64 = 262.0;
/// The span shown: the last hour.
const SPAN: f64 = 3600.0;

const BOUND_COLOUR: &str = "#0969da";
const PROBE_COLOUR: &str = "#8250df";

pub fn state_colour(state: SyncState) -> &'static str {
    match state {
        SyncState::Synchronized => "#1a7f37",
        SyncState::Stale => "#9a6700",
        SyncState::Local | SyncState::Unsynchronized => "#cf222e",
        SyncState::Unknown => "#57606a",
    }
}

/// "1 µs", "100 ms", "10 s" for a power of ten.
fn decade_label(exp: i32) -> String {
    let (v, unit) = scale_seconds(10f64.powi(exp));
    format!("{} {unit}", v.round())
}

fn utc_hhmm(unix: f64) -> String {
    let day = unix.rem_euclid(86_400.0) as u32;
    format!("{:02}:{:02}", day / 3600, day % 3600 / 60)
}

/// The plot, or a sentence when there is nothing yet.
pub fn history_svg(points: &[Point]) -> String {
    let Some(last) = points.last() else {
        return "<p id=\"history-empty\">No samples yet.</p>".into();
    };
    let t1 = last.unix + STEP.as_secs_f64();
    let t0 = t1 - SPAN;
    let shown: Vec<&Point> = points.iter().filter(|p| p.unix >= t0).collect();
    let values = shown
        .iter()
        .flat_map(|p| [p.bound_max, p.probe_abs_max])
        .flatten()
        .filter(|v| v.is_finite() && *v > 0.0);
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    // Whole decades around the values, at least two, 1 ns to 1000 s.
    let (mut e_lo, mut e_hi) = if lo.is_finite() {
        (lo.log10().floor() as i32, hi.log10().ceil() as i32)
    } else {
        (-6, -3)
    };
    if e_hi - e_lo < 2 {
        e_lo = e_hi - 2;
    }
    e_lo = e_lo.max(-9);
    e_hi = e_hi.clamp(e_lo + 1, 3);
    let x = |unix: f64| LEFT + (unix - t0) / SPAN * (RIGHT - LEFT);
    let y = |v: f64| {
        let e = v.max(10f64.powi(e_lo)).log10();
        BOTTOM - (e - f64::from(e_lo)) / f64::from(e_hi - e_lo) * (BOTTOM - TOP)
    };

    let mut s = String::with_capacity(16 * 1024);
    let _ = write!(
        s,
        "<svg id=\"history\" role=\"img\" viewBox=\"0 0 {W} {H}\" width=\"100%\" style=\"max-width:{W}px\" \
         xmlns=\"http://www.w3.org/2000/svg\" font-family=\"system-ui,sans-serif\" font-size=\"11\">\
         <title>Clock error bound over the last hour, log scale</title>\
         <rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{}\" height=\"{}\" fill=\"#fff\" stroke=\"#d0d7de\"/>",
        RIGHT - LEFT,
        BOTTOM - TOP
    );
    for e in e_lo..=e_hi {
        let yy = y(10f64.powi(e));
        let _ = write!(
            s,
            "<line x1=\"{LEFT}\" x2=\"{RIGHT}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#eaeef2\"/>\
             <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#57606a\">{}</text>",
            LEFT - 6.0,
            yy + 4.0,
            decade_label(e)
        );
    }
    // Every 10 minutes, on the minute.
    let mut tick = (t0 / 600.0).ceil() * 600.0;
    while tick <= t1 {
        let xx = x(tick);
        let _ = write!(
            s,
            "<line x1=\"{xx:.1}\" x2=\"{xx:.1}\" y1=\"{TOP}\" y2=\"{BOTTOM}\" stroke=\"#eaeef2\"/>\
             <text x=\"{xx:.1}\" y=\"{}\" text-anchor=\"middle\" fill=\"#57606a\">{}</text>",
            STRIP_TOP + STRIP_H + 14.0,
            utc_hhmm(tick)
        );
        tick += 600.0;
    }
    let _ = write!(
        s,
        "<text x=\"14\" y=\"{:.1}\" transform=\"rotate(-90 14 {:.1})\" text-anchor=\"middle\" fill=\"#1f2328\">seconds (log)</text>\
         <text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\" fill=\"#1f2328\">time (UTC)</text>",
        (TOP + BOTTOM) / 2.0,
        (TOP + BOTTOM) / 2.0,
        (LEFT + RIGHT) / 2.0,
        H - 4.0
    );

    let step_px = STEP.as_secs_f64() / SPAN * (RIGHT - LEFT);
    // State strip.
    let _ = write!(
        s,
        "<rect x=\"{LEFT}\" y=\"{STRIP_TOP}\" width=\"{}\" height=\"{STRIP_H}\" fill=\"none\" stroke=\"#d0d7de\"/>",
        RIGHT - LEFT
    );
    for p in &shown {
        let _ = write!(
            s,
            "<rect class=\"state-{}\" x=\"{:.2}\" y=\"{STRIP_TOP}\" width=\"{:.2}\" height=\"{STRIP_H}\" fill=\"{}\"/>",
            p.state.as_str(),
            x(p.unix),
            step_px,
            state_colour(p.state)
        );
    }
    let bound_paths = polylines(&shown, |p| p.bound_max, &x, &y);
    let probe_paths = polylines(&shown, |p| p.probe_abs_max, &x, &y);
    for d in &bound_paths {
        let _ = write!(
            s,
            "<path class=\"bound\" d=\"{d}\" fill=\"none\" stroke=\"{BOUND_COLOUR}\" stroke-width=\"1.5\"/>"
        );
    }
    for d in &probe_paths {
        let _ = write!(
            s,
            "<path class=\"probe\" d=\"{d}\" fill=\"none\" stroke=\"{PROBE_COLOUR}\" stroke-width=\"1.2\" stroke-dasharray=\"4 2\"/>"
        );
    }
    // Legend.
    let _ = write!(
        s,
        "<line x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" stroke=\"{BOUND_COLOUR}\" stroke-width=\"2\"/>\
         <text x=\"{}\" y=\"{}\">error bound (peak per 10 s)</text>",
        LEFT + 8.0,
        LEFT + 28.0,
        TOP + 12.0,
        TOP + 12.0,
        LEFT + 32.0,
        TOP + 16.0
    );
    if !probe_paths.is_empty() {
        let _ = write!(
            s,
            "<line x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" stroke=\"{PROBE_COLOUR}\" stroke-width=\"2\" stroke-dasharray=\"4 2\"/>\
             <text x=\"{}\" y=\"{}\">|probe offset|</text>",
            LEFT + 200.0,
            LEFT + 220.0,
            TOP + 12.0,
            TOP + 12.0,
            LEFT + 224.0,
            TOP + 16.0
        );
    }
    s.push_str("</svg>");
    s
}

/// SVG path data, one per run of consecutive steps with a value; a step
/// without one (no bound held, no probe result) or a missing step (not
/// observed) breaks the line. A lone point is a short flat stroke.
fn polylines(
    points: &[&Point],
    value: impl Fn(&Point) -> Option<f64>,
    x: &impl Fn(f64) -> f64,
    y: &impl Fn(f64) -> f64,
) -> Vec<String> {
    let step_px = STEP.as_secs_f64() / SPAN * (RIGHT - LEFT);
    let mut out = Vec::new();
    let mut current = String::new();
    let mut previous_slot = None;
    for p in points {
        let v = value(p).filter(|v| v.is_finite());
        let contiguous = previous_slot.is_some_and(|s: u64| p.slot == s + 1);
        match v {
            Some(v) => {
                let (xx, yy) = (x(p.unix), y(v));
                if current.is_empty() || !contiguous {
                    if !current.is_empty() {
                        out.push(std::mem::take(&mut current));
                    }
                    let _ = write!(current, "M{xx:.1} {yy:.1}");
                } else {
                    let _ = write!(current, "L{xx:.1} {yy:.1}");
                }
                // Hold the value over the step.
                let _ = write!(current, "L{:.1} {yy:.1}", xx + step_px);
                previous_slot = Some(p.slot);
            }
            None => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
                previous_slot = None;
            }
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(slot: u64, state: SyncState, bound: Option<f64>, probe: Option<f64>) -> Point {
        Point {
            slot,
            unix: 1_800_000_000.0 + slot as f64 * 10.0,
            state,
            bound_max: bound,
            probe_abs_max: probe,
        }
    }

    #[test]
    fn an_empty_history_says_so() {
        assert!(history_svg(&[]).contains("No samples yet"));
    }

    #[test]
    fn gaps_break_the_line_and_show_in_the_strip() {
        use SyncState::*;
        let points = [
            point(0, Synchronized, Some(2e-6), None),
            point(1, Synchronized, Some(3e-6), None),
            point(2, Unsynchronized, None, None),
            point(3, Synchronized, Some(2e-6), None),
            // slots 4 and 5 not observed
            point(6, Synchronized, Some(5e-3), None),
            point(7, Unknown, None, None),
        ];
        let svg = history_svg(&points);
        assert_eq!(svg.matches("class=\"bound\"").count(), 3, "{svg}");
        assert_eq!(svg.matches("<rect class=\"state-").count(), 6);
        assert_eq!(svg.matches("class=\"state-unsynchronized\"").count(), 1);
        assert_eq!(svg.matches("class=\"state-unknown\"").count(), 1);
        // Decades from 1 µs to 10 ms, labelled in their units.
        for label in [">1 µs<", ">10 µs<", ">1 ms<", ">10 ms<"] {
            assert!(svg.contains(label), "{label} missing");
        }
        assert!(!svg.contains("|probe offset|"));
        assert!(!svg.contains("<script"));
        // Time labels in UTC every 10 minutes: 1_800_000_000 is 08:00 UTC,
        // the hour shown starts at 07:01.
        assert!(svg.contains(">08:00<") && svg.contains(">07:10<"), "{svg}");
        assert!(!svg.contains(">07:00<"));
    }

    #[test]
    fn the_probe_offset_has_its_own_line() {
        let points = [
            point(0, SyncState::Synchronized, Some(1e-4), Some(2e-5)),
            point(1, SyncState::Synchronized, Some(1e-4), Some(3e-5)),
        ];
        let svg = history_svg(&points);
        assert_eq!(svg.matches("class=\"probe\"").count(), 1);
        assert!(svg.contains("|probe offset|"));
    }

    #[test]
    fn a_larger_bound_is_drawn_higher() {
        let svg = history_svg(&[
            point(0, SyncState::Synchronized, Some(1e-6), None),
            point(10, SyncState::Synchronized, Some(1e-3), None),
        ]);
        // Each path starts "M<x> <y>".
        let ys: Vec<f64> = svg
            .split("class=\"bound\" d=\"M")
            .skip(1)
            .filter_map(|rest| rest.split(['L', '"']).next())
            .filter_map(|xy| xy.split_whitespace().nth(1))
            .filter_map(|y| y.parse().ok())
            .collect();
        assert_eq!(ys.len(), 2, "{svg}");
        // SVG's y grows downwards: 1 ms above 1 µs, both inside the plot.
        assert!(ys[1] < ys[0], "{ys:?}");
        assert!(ys.iter().all(|y| (TOP..=BOTTOM).contains(y)));
    }
}
