//! `--from` / `--to` parsing and timestamp formatting. Times are unix
//! milliseconds (Prometheus' resolution); "now" is passed in.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::profile::parse_duration;
use super::ReportError;

/// Parses RFC 3339 (`2024-05-01T00:00:00Z`, offsets allowed), unix seconds
/// (`1714521600`, fractions allowed), or `now`, `now-7d`, `now-1h30m`.
pub fn parse_time(flag: &str, text: &str, now_ms: i64) -> Result<i64, ReportError> {
    let t = text.trim();
    let bad = |why: String| {
        ReportError::Argument(format!(
            "{flag} {text:?}: {why}; expected RFC 3339 (2024-05-01T00:00:00Z), unix seconds, or now / now-7d"
        ))
    };
    if let Some(rest) = t.strip_prefix("now") {
        let rest = rest.trim();
        if rest.is_empty() {
            return Ok(now_ms);
        }
        let (sign, dur) = if let Some(d) = rest.strip_prefix('-') {
            (-1i64, d)
        } else if let Some(d) = rest.strip_prefix('+') {
            (1i64, d)
        } else {
            return Err(bad("after \"now\" comes -DURATION".to_string()));
        };
        let d = parse_duration(dur).map_err(bad)?;
        let ms = i64::try_from(d.as_millis()).map_err(|_| bad("too large".to_string()))?;
        return Ok(now_ms.saturating_add(sign.saturating_mul(ms)));
    }
    if !t.is_empty() && t.chars().all(|c| c.is_ascii_digit() || c == '.') {
        let secs: f64 = t.parse().map_err(|_| bad("not a number".to_string()))?;
        if !secs.is_finite() || secs > 1e13 {
            return Err(bad("out of range".to_string()));
        }
        return Ok((secs * 1000.0).round() as i64);
    }
    let dt = OffsetDateTime::parse(t, &Rfc3339).map_err(|e| bad(e.to_string()))?;
    i64::try_from(dt.unix_timestamp_nanos() / 1_000_000).map_err(|_| bad("out of range".into()))
}

/// Formats unix milliseconds as RFC 3339 in UTC (`2024-05-01T00:00:00Z`,
/// with milliseconds only when they are not zero).
pub fn format_ms(ms: i64) -> String {
    match OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) {
        Ok(dt) => dt.format(&Rfc3339).unwrap_or_else(|_| format!("{ms}ms")),
        Err(_) => format!("{ms}ms"),
    }
}

/// Formats a span of milliseconds: `1h 2m 3s`, `15s`, `250ms`.
pub fn format_span(ms: i64) -> String {
    if ms <= 0 {
        return "0s".to_string();
    }
    let d = std::time::Duration::from_millis(ms.unsigned_abs());
    humantime::format_duration(d).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_714_521_600_000; // 2024-05-01T00:00:00Z

    #[test]
    fn parses_forms() {
        assert_eq!(parse_time("--to", "now", NOW).expect("now"), NOW);
        assert_eq!(
            parse_time("--from", "now-7d", NOW).expect("rel"),
            NOW - 7 * 86_400_000
        );
        assert_eq!(
            parse_time("--from", "now-1h30m", NOW).expect("rel"),
            NOW - 5_400_000
        );
        assert_eq!(
            parse_time("--from", "2024-05-01T00:00:00Z", 0).expect("rfc"),
            NOW
        );
        assert_eq!(
            parse_time("--from", "2024-05-01T02:00:00+02:00", 0).expect("rfc offset"),
            NOW
        );
        assert_eq!(parse_time("--from", "1714521600", 0).expect("unix"), NOW);
        assert_eq!(
            parse_time("--from", "1714521600.5", 0).expect("unix"),
            NOW + 500
        );
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["yesterday", "now-", "now*3", "2024-13-01T00:00:00Z", ""] {
            assert!(parse_time("--from", bad, NOW).is_err(), "{bad}");
        }
    }

    #[test]
    fn formats() {
        assert_eq!(format_ms(NOW), "2024-05-01T00:00:00Z");
        assert_eq!(format_ms(NOW + 250), "2024-05-01T00:00:00.25Z");
        assert_eq!(format_span(3_723_000), "1h 2m 3s");
    }
}
