//! `clockwatch probe HOST[:PORT]...`: one round to each server, printed
//! for people (or as JSON), with monitoring-plugin exit codes on |offset|:
//! 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN when no server answered. A server
//! that did not answer while others did makes it at least WARNING.

use std::time::{Duration, UNIX_EPOCH};

use clap::Args;

use super::prober::{ProbeResult, DEFAULT_SAMPLES, MAX_SAMPLES};
use super::server::ServerSpec;
use crate::verdict::contradicts;

#[derive(Debug, Clone, Args)]
pub struct ProbeArgs {
    /// NTP servers to probe: HOST or HOST:PORT (port 123 by default).
    #[arg(required = true, value_name = "HOST[:PORT]", value_parser = parse_server)]
    pub servers: Vec<ServerSpec>,
    /// Print JSON for scripts instead of text.
    #[arg(long)]
    pub json: bool,
    /// WARNING when a server's |offset| is above this.
    #[arg(long, default_value = "100ms", value_parser = parse_duration)]
    pub warn: Duration,
    /// CRITICAL when a server's |offset| is above this.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub crit: Duration,
    /// How long each request waits for its reply (10ms to 10s).
    #[arg(long, default_value = "1s", value_parser = parse_timeout)]
    pub timeout: Duration,
    /// Requests per server, 2 s apart; the one with the lowest delay counts.
    #[arg(long, default_value_t = DEFAULT_SAMPLES, value_parser = clap::value_parser!(u32).range(1..=MAX_SAMPLES as i64))]
    pub samples: u32,
}

fn parse_server(s: &str) -> Result<ServerSpec, String> {
    s.parse::<ServerSpec>().map_err(|e| e.to_string())
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim()).map_err(|e| format!("{e} (examples: 50ms, 1s)"))
}

fn parse_timeout(s: &str) -> Result<Duration, String> {
    parse_duration(s).and_then(|d| {
        if d < Duration::from_millis(10) || d > Duration::from_secs(10) {
            Err("must be between 10ms and 10s".into())
        } else {
            Ok(d)
        }
    })
}

/// Monitoring-plugin status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PluginStatus {
    Ok = 0,
    Warning = 1,
    Critical = 2,
    Unknown = 3,
}

impl PluginStatus {
    pub fn word(self) -> &'static str {
        match self {
            PluginStatus::Ok => "OK",
            PluginStatus::Warning => "WARNING",
            PluginStatus::Critical => "CRITICAL",
            PluginStatus::Unknown => "UNKNOWN",
        }
    }
}

/// The status of a probe: the worst |offset| against the thresholds
/// (strictly above is over); at least WARNING when some server failed;
/// UNKNOWN when none answered.
pub fn status(results: &[ProbeResult], warn: Duration, crit: Duration) -> PluginStatus {
    let offsets: Vec<f64> = results
        .iter()
        .filter_map(|r| r.sample.map(|s| s.offset.abs()))
        .collect();
    if offsets.is_empty() {
        return PluginStatus::Unknown;
    }
    let worst = offsets.iter().copied().fold(0.0, f64::max);
    let by_offset = if worst > crit.as_secs_f64() {
        PluginStatus::Critical
    } else if worst > warn.as_secs_f64() {
        PluginStatus::Warning
    } else {
        PluginStatus::Ok
    };
    if offsets.len() < results.len() {
        by_offset.max(PluginStatus::Warning)
    } else {
        by_offset
    }
}

/// The status and the printed text (the plugin line first, then one line
/// per server; or JSON) for `results`, cross-checked against the local
/// `bound` when there is one.
pub fn report(
    results: &[ProbeResult],
    bound: Option<f64>,
    args: &ProbeArgs,
) -> (PluginStatus, String) {
    let status = status(results, args.warn, args.crit);
    let text = if args.json {
        format!("{}\n", json(results, bound, status, args))
    } else {
        text(results, bound, status, args)
    };
    (status, text)
}

fn text(
    results: &[ProbeResult],
    bound: Option<f64>,
    status: PluginStatus,
    args: &ProbeArgs,
) -> String {
    let (w, c) = (args.warn.as_secs_f64(), args.crit.as_secs_f64());
    let worst = results
        .iter()
        .filter_map(|r| r.sample.map(|s| (r, s)))
        .max_by(|(_, a), (_, b)| a.offset.abs().total_cmp(&b.offset.abs()));
    let failed = results.iter().filter(|r| !r.success()).count();
    let mut summary = match worst {
        Some((r, s)) => format!("largest offset {:+.6} s ({})", s.offset, r.server),
        None => "no NTP server answered".to_string(),
    };
    if failed > 0 && worst.is_some() {
        summary.push_str(&format!(
            ", {failed} of {} servers did not answer",
            results.len()
        ));
    }
    let perfdata: Vec<String> = results
        .iter()
        .filter_map(|r| {
            let s = r.sample?;
            Some(format!(
                "'offset_{0}'={1:.9}s;{w};{c};; 'uncertainty_{0}'={2:.9}s;;;0;",
                r.server, s.offset, s.uncertainty
            ))
        })
        .collect();
    let mut out = format!("PROBE {} - {summary}", status.word());
    if !perfdata.is_empty() {
        out.push_str(" | ");
        out.push_str(&perfdata.join(" "));
    }
    out.push('\n');
    for r in results {
        let address = r
            .address
            .map_or_else(|| "unresolved".to_string(), |a| a.to_string());
        match (&r.sample, &r.failure) {
            (Some(s), _) => {
                out.push_str(&format!(
                    "{} ({address}): offset {:+.6} s ± {:.6} s, delay {:.6} s, stratum {}, root distance {:.6} s",
                    r.server, s.offset, s.uncertainty, s.delay, s.stratum, s.root_distance
                ));
                if let Some(b) = bound {
                    let verdict = match contradicts(Some(s.offset), Some(s.uncertainty), Some(b)) {
                        Some(true) => "CONTRADICTED",
                        Some(false) => "consistent",
                        None => "not comparable",
                    };
                    out.push_str(&format!("; local bound ±{b:.6} s: {verdict}"));
                }
                out.push('\n');
            }
            (None, failure) => {
                let (kind, message) = failure
                    .as_ref()
                    .map_or(("none", "no round ran"), |f| (f.kind, f.message.as_str()));
                out.push_str(&format!(
                    "{} ({address}): failed ({kind}): {message}\n",
                    r.server
                ));
            }
        }
    }
    out
}

fn json(
    results: &[ProbeResult],
    bound: Option<f64>,
    status: PluginStatus,
    args: &ProbeArgs,
) -> serde_json::Value {
    let finite = |v: f64| v.is_finite().then_some(v);
    let servers: Vec<serde_json::Value> = results
        .iter()
        .map(|r| {
            let s = r.sample;
            serde_json::json!({
                "server": r.server,
                "address": r.address.map(|a| a.to_string()),
                "success": r.success(),
                "offset_seconds": s.and_then(|s| finite(s.offset)),
                "delay_seconds": s.and_then(|s| finite(s.delay)),
                "stratum": s.map(|s| s.stratum),
                "root_distance_seconds": s.and_then(|s| finite(s.root_distance)),
                "uncertainty_seconds": s.and_then(|s| finite(s.uncertainty)),
                "samples_valid": s.map(|s| s.valid),
                "samples_completed": s.map(|s| s.completed),
                "bound_contradicted": contradicts(s.map(|s| s.offset), s.map(|s| s.uncertainty), bound),
                "last_success_timestamp_seconds": r.last_success
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map(|d| d.as_secs_f64()),
                "reason": r.failure.as_ref().map(|f| f.kind),
                "error": r.failure.as_ref().map(|f| f.message.clone()),
            })
        })
        .collect();
    serde_json::json!({
        "status": status.word(),
        "exit_code": status as u8,
        "warn_seconds": args.warn.as_secs_f64(),
        "crit_seconds": args.crit.as_secs_f64(),
        "bound_seconds": bound.and_then(finite),
        "servers": servers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::prober::{ProbeFailure, ProbeSample};
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: ProbeArgs,
    }

    fn args(extra: &[&str]) -> ProbeArgs {
        Cli::try_parse_from(["probe"].iter().chain(extra))
            .expect("valid flags")
            .args
    }

    fn answered(server: &str, offset: f64) -> ProbeResult {
        ProbeResult {
            server: server.into(),
            address: Some(([127, 0, 0, 1], 123).into()),
            sample: Some(ProbeSample {
                offset,
                delay: 0.002,
                stratum: 2,
                root_distance: 0.001,
                uncertainty: 0.002,
                valid: 4,
                completed: 4,
            }),
            failure: None,
            last_success: Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
            rounds: 1,
            interval: Duration::ZERO,
            stopped: false,
        }
    }

    fn failed(server: &str) -> ProbeResult {
        ProbeResult {
            sample: None,
            failure: Some(ProbeFailure {
                kind: "timeout",
                message: "no reply within 1s".into(),
            }),
            last_success: None,
            ..answered(server, 0.0)
        }
    }

    #[test]
    fn exit_codes_follow_the_worst_offset() {
        let (w, c) = (Duration::from_millis(100), Duration::from_secs(1));
        let s = |results: &[ProbeResult]| status(results, w, c);
        assert_eq!(s(&[answered("a", 0.05)]), PluginStatus::Ok);
        assert_eq!(
            s(&[answered("a", 0.1)]),
            PluginStatus::Ok,
            "at the threshold is not over"
        );
        assert_eq!(s(&[answered("a", -0.2)]), PluginStatus::Warning);
        assert_eq!(
            s(&[answered("a", 0.05), answered("b", -2.5)]),
            PluginStatus::Critical
        );
        assert_eq!(
            s(&[answered("a", 0.05), failed("b")]),
            PluginStatus::Warning
        );
        assert_eq!(
            s(&[answered("a", 2.0), failed("b")]),
            PluginStatus::Critical
        );
        assert_eq!(s(&[failed("a"), failed("b")]), PluginStatus::Unknown);
        assert_eq!(s(&[]), PluginStatus::Unknown);
    }

    #[test]
    fn text_has_the_plugin_line_then_one_line_per_server() {
        let a = args(&["127.0.0.1", "ntp.example:1123", "--warn", "10ms"]);
        assert_eq!(a.servers[1].port, 1123);
        let (status, out) = report(
            &[answered("127.0.0.1:123", 0.025), failed("ntp.example:1123")],
            Some(0.001),
            &a,
        );
        assert_eq!(status, PluginStatus::Warning);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        assert!(lines[0].starts_with("PROBE WARNING - largest offset +0.025000 s (127.0.0.1:123), 1 of 2 servers did not answer | 'offset_127.0.0.1:123'=0.025000000s;0.01;1;;"), "{out}");
        assert!(lines[1].contains("offset +0.025000 s ± 0.002000 s, delay 0.002000 s, stratum 2, root distance 0.001000 s; local bound ±0.001000 s: CONTRADICTED"), "{out}");
        assert_eq!(
            lines[2],
            "ntp.example:1123 (127.0.0.1:123): failed (timeout): no reply within 1s"
        );
    }

    #[test]
    fn json_carries_every_value_and_the_cross_check() {
        let a = args(&["127.0.0.1", "--json"]);
        let (status, out) = report(
            &[answered("127.0.0.1:123", -0.0005), failed("b:123")],
            Some(0.01),
            &a,
        );
        assert_eq!(status, PluginStatus::Warning);
        let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
        assert_eq!(v["status"], "WARNING");
        assert_eq!(v["exit_code"], 1);
        assert_eq!(v["servers"][0]["offset_seconds"], -0.0005);
        assert_eq!(v["servers"][0]["bound_contradicted"], false);
        assert_eq!(
            v["servers"][0]["last_success_timestamp_seconds"],
            1_700_000_000.0
        );
        assert_eq!(v["servers"][1]["success"], false);
        assert_eq!(v["servers"][1]["reason"], "timeout");
        assert!(v["servers"][1]["bound_contradicted"].is_null());
        assert!(v["servers"][1]["offset_seconds"].is_null());
    }

    #[test]
    fn bad_flags_are_refused() {
        let parse = |extra: &[&str]| Cli::try_parse_from(["probe"].iter().chain(extra)).map(|_| ());
        assert!(parse(&[]).is_err(), "a server is required");
        assert!(parse(&["nts://time.example"]).is_err());
        assert!(parse(&["127.0.0.1", "--samples", "0"]).is_err());
        assert!(parse(&["127.0.0.1", "--samples", "9"]).is_err());
        assert!(parse(&["127.0.0.1", "--timeout", "1ms"]).is_err());
        assert!(parse(&["127.0.0.1", "--timeout", "20s"]).is_err());
        assert!(parse(&["127.0.0.1", "--warn", "soon"]).is_err());
    }
}
