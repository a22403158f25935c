//! The status page a person reads: the state in words and colour, the
//! bound, the reference and its traceability, chronyd's sources or
//! ptp4l's datasets, and the kernel's view. Plain HTML with inline CSS,
//! refreshed every few seconds; no script.

use std::fmt::Write as _;

use crate::render::{source_mode_label, source_state_label, BuildInfo};
use crate::sampler::Point;
use crate::scrape::Scrape;
use crate::status::{
    daemon_words, format_seconds, headline, phc_words, probe_words, ptp_instance_lines,
    reference_words, timesyncd_lines, traceability_words,
};
use crate::verdict::{Daemon, SyncState};

const REFRESH_SECONDS: u32 = 5;

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn colour(state: SyncState) -> &'static str {
    super::plot::state_colour(state)
}

/// A span of time as a person reads it: 42.0 s, 12 min 5 s, 3 h 20 min.
fn duration_words(seconds: f64) -> String {
    if seconds < 60.0 {
        return format!("{seconds:.1} s");
    }
    let whole = seconds as u64;
    if whole < 3600 {
        format!("{} min {} s", whole / 60, whole % 60)
    } else {
        format!("{} h {} min", whole / 3600, whole % 3600 / 60)
    }
}

/// The page; `history`: the sampler's points, oldest first (empty: no
/// plot, as without sampling).
pub fn render_page(
    scrape: &Scrape,
    build: &BuildInfo,
    metrics_path: &str,
    history: &[Point],
) -> String {
    let snap = &scrape.snapshot;
    let verdict = &scrape.verdict;
    let state = verdict.state;
    // An independent measurement that contradicts the bound outranks what
    // chronyd says of itself.
    let badge = if verdict.contradicted_by().next().is_some() {
        "#cf222e"
    } else {
        colour(state)
    };
    let mut h = String::with_capacity(8 * 1024);
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"{REFRESH_SECONDS}\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>clockwatch: {}</title><style>\
         body{{font-family:system-ui,sans-serif;margin:2rem;color:#1f2328;max-width:70rem}}\
         .state{{display:inline-block;padding:.4rem 1rem;border-radius:.4rem;color:#fff;font-size:1.6rem;font-weight:600}}\
         table{{border-collapse:collapse;margin:1rem 0}}td,th{{padding:.25rem .8rem;border-bottom:1px solid #d0d7de;text-align:left}}\
         th{{background:#f6f8fa}}.num{{font-variant-numeric:tabular-nums;text-align:right}}small{{color:#57606a}}\
         </style></head><body>",
        escape(state.as_str())
    );
    let _ = write!(h, "<h1>clockwatch</h1>");
    let _ = write!(
        h,
        "<p><span class=\"state\" id=\"state\" style=\"background:{}\">{}</span></p><p id=\"verdict\">{}</p>",
        badge,
        escape(state.as_str()),
        escape(&headline(scrape))
    );

    h.push_str("<h2>Clock error</h2><table id=\"summary\">");
    let mut row = |k: &str, id: &str, v: String| {
        let _ = write!(
            h,
            "<tr><th>{k}</th><td class=\"num\" id=\"{id}\">{}</td></tr>",
            escape(&v)
        );
    };
    row(
        "Error bound",
        "bound",
        format_seconds(verdict.bound_seconds),
    );
    row("Verdict from", "daemon", daemon_words(verdict));
    row("Traceable", "traceable", traceability_words(verdict));
    if matches!(verdict.daemon, Daemon::Ptp4l | Daemon::Timesyncd)
        && !verdict.reference.name.is_empty()
    {
        row(
            "Reference",
            "reference",
            format!("{} via {}", reference_words(verdict), verdict.reference.id),
        );
    }
    match verdict.reference_age_seconds {
        Some(age) => row("Last update", "age", format!("{} ago", format_seconds(age))),
        None if snap.chrony.tracking.is_some() => row("Last update", "age", "never".into()),
        None => {}
    }
    if let Some(t) = &snap.chrony.tracking {
        row(
            "Offset (system time)",
            "offset",
            format_seconds(t.current_correction),
        );
        row(
            "Root dispersion",
            "dispersion",
            format_seconds(t.root_dispersion),
        );
        row("Root delay", "delay", format_seconds(t.root_delay));
        row(
            "Reference",
            "reference",
            format!("{} ({})", verdict.reference.name, verdict.reference.id),
        );
        row("Stratum", "stratum", t.stratum.to_string());
        row("Leap status", "leap", t.leap_status.as_str().to_string());
        row("Frequency", "frequency", format!("{:+.3} ppm", t.freq_ppm));
    }
    if let Some(e) = &snap.chrony.error {
        row("chronyd", "chrony-error", e.clone());
    }
    h.push_str("</table>");

    if !history.is_empty() {
        h.push_str("<h2>Last hour</h2>");
        h.push_str(&super::plot::history_svg(history));
        if let Some(c) = &scrape.counters {
            let observed = c.observed();
            let synced = c.state(SyncState::Synchronized);
            let _ = write!(
                h,
                "<p id=\"accounting\"><small>Since clockwatch started: {} observed, {} synchronized; \
                 peak bound over the window: {}. The strip shows each 10 s step's worst state; \
                 blank is time not observed.</small></p>",
                escape(&duration_words(observed)),
                escape(&duration_words(synced)),
                escape(&c.window_max.map_or_else(|| "none yet".into(), format_seconds)),
            );
        }
    }

    if !snap.chrony.sources.is_empty() {
        h.push_str(
            "<h2>Sources</h2><table id=\"sources\"><tr><th>Name</th><th>Address</th><th>State</th><th>Mode</th>\
             <th>Stratum</th><th>Poll</th><th>Reach</th><th>Last sample</th><th>Offset</th><th>± error</th></tr>",
        );
        for s in &snap.chrony.sources {
            let d = &s.data;
            let last = if d.since_sample == u32::MAX {
                "never".to_string()
            } else {
                format!("{} s ago", d.since_sample)
            };
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{} {}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{} s</td>\
                 <td class=\"num\">{:03o}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                escape(&s.name),
                escape(&s.address),
                d.state.symbol(),
                source_state_label(d.state),
                source_mode_label(d.mode),
                d.stratum,
                2f64.powi(i32::from(d.poll)),
                d.reachability,
                last,
                escape(&format_seconds(d.latest_meas)),
                escape(&format_seconds(d.latest_meas_err)),
            );
        }
        h.push_str("</table>");
    }

    if let Some(view) = &snap.ptp {
        h.push_str("<h2>PTP (ptp4l)</h2><div id=\"ptp\">");
        for instance in &view.instances {
            h.push_str("<pre>");
            h.push_str(&escape(&ptp_instance_lines(instance).join("\n")));
            h.push_str("</pre>");
        }
        if let Some(phc) = &view.phc {
            let _ = write!(h, "<p id=\"phc\">{}</p>", escape(&phc_words(phc)));
        }
        h.push_str("</div>");
    }

    if let Some(view) = snap.timesyncd.as_ref().filter(|t| t.reported()) {
        h.push_str("<h2>systemd-timesyncd</h2><div id=\"timesyncd\"><pre>");
        h.push_str(&escape(&timesyncd_lines(view).join("\n")));
        h.push_str("</pre></div>");
    }

    if !snap.probes.is_empty() {
        h.push_str(
            "<h2>Independent NTP probe</h2><table id=\"probes\"><tr><th>Server</th><th>Measurement</th></tr>",
        );
        for (p, check) in snap.probes.iter().zip(&verdict.probes) {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td></tr>",
                escape(&p.server),
                escape(&probe_words(p, check))
            );
        }
        h.push_str("</table>");
    }

    if let Some(t) = &snap.timex {
        h.push_str("<h2>Kernel clock (adjtimex)</h2><table id=\"kernel\">");
        let mut row = |k: &str, v: String| {
            let _ = write!(
                h,
                "<tr><th>{k}</th><td class=\"num\">{}</td></tr>",
                escape(&v)
            );
        };
        row(
            "Synchronised",
            if t.synchronized() {
                "yes".into()
            } else {
                "no (STA_UNSYNC or TIME_ERROR)".into()
            },
        );
        row("Maximum error", format_seconds(t.maxerror_seconds));
        row("Estimated error", format_seconds(t.esterror_seconds));
        row("Offset", format_seconds(t.offset_seconds));
        row("Frequency", format!("{:+.3} ppm", t.frequency_ratio * 1e6));
        row("Status bits", format!("0x{:04x}", t.status));
        row("TAI offset", format!("{} s", t.tai_offset_seconds));
        h.push_str("</table>");
    }
    if let Some(s) = &snap.steps {
        let _ = write!(h, "<p id=\"steps\">Clock steps since start: {}", s.total);
        if s.total > 0 {
            let _ = write!(h, ", last {}", escape(&format_seconds(s.last_step_seconds)));
        }
        h.push_str("</p>");
    }
    let _ = write!(
        h,
        "<p><small>clockwatch {} · <a href=\"{}\">metrics</a> · refreshes every {REFRESH_SECONDS} s</small></p></body></html>",
        escape(&build.version),
        escape(metrics_path)
    );
    h
}
