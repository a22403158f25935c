//! Regulatory tolerance profiles and `--tolerance` parsing.
//!
//! A tolerance is the largest clock error bound that still counts as
//! compliant. A bound exactly equal to the tolerance is within tolerance.

use std::time::Duration;

use super::ReportError;

/// A named regulatory profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    /// The name given to `--tolerance`.
    pub name: &'static str,
    /// Largest allowed divergence, in nanoseconds.
    pub nanos: u64,
    /// Where the number comes from.
    pub source: &'static str,
}

/// Every profile `--tolerance` knows by name.
pub const PROFILES: &[Profile] = &[
    Profile {
        name: "mifid2-hft",
        nanos: 100_000,
        source: "MiFID II RTS 25 (Commission Delegated Regulation (EU) 2017/574), Annex, Table 2: \
                 high-frequency algorithmic trading technique, maximum divergence from UTC 100 microseconds",
    },
    Profile {
        name: "mifid2-algo",
        nanos: 1_000_000,
        source: "MiFID II RTS 25 (Commission Delegated Regulation (EU) 2017/574), Annex, Table 2: \
                 any other trading activity (including algorithmic trading that is not HFT), maximum divergence from UTC 1 millisecond",
    },
    Profile {
        name: "mifid2-voice",
        nanos: 1_000_000_000,
        source: "MiFID II RTS 25 (Commission Delegated Regulation (EU) 2017/574), Annex, Table 2: \
                 voice trading systems, request-for-quote systems requiring human intervention, negotiated transactions, \
                 maximum divergence from UTC 1 second",
    },
    Profile {
        name: "finra-cat",
        nanos: 50_000_000,
        source: "FINRA Rule 4590 (Synchronization of Member Business Clocks) and CAT NMS Plan Section 6.8 \
                 (clock synchronisation): industry members' computer clocks within 50 milliseconds of NIST time",
    },
    Profile {
        name: "cat-participant",
        nanos: 100_000,
        source: "CAT NMS Plan Section 6.8 (clock synchronisation): Participants' (exchanges') business clocks \
                 within 100 microseconds of NIST time",
    },
];

/// The tolerance a report is evaluated against.
#[derive(Debug, Clone, PartialEq)]
pub struct Tolerance {
    /// Profile name, `None` for a plain duration.
    pub profile: Option<&'static str>,
    /// Tolerance in nanoseconds (exact).
    pub nanos: u64,
    /// Citation, or a note that the operator chose the number.
    pub source: String,
}

impl Tolerance {
    /// The tolerance in seconds, computed the same way Prometheus values are
    /// parsed (nearest double), so that a bound exported as exactly the
    /// tolerance compares equal.
    pub fn seconds(&self) -> f64 {
        Duration::from_nanos(self.nanos).as_secs_f64()
    }

    /// Human form: `100µs (mifid2-hft)`.
    pub fn label(&self) -> String {
        match self.profile {
            Some(name) => format!("{} ({name})", format_seconds(self.seconds())),
            None => format_seconds(self.seconds()),
        }
    }
}

/// Parses `--tolerance`: a profile name or a duration such as `250us`, `2ms`.
pub fn parse_tolerance(text: &str) -> Result<Tolerance, ReportError> {
    let text = text.trim();
    if let Some(p) = PROFILES.iter().find(|p| p.name.eq_ignore_ascii_case(text)) {
        return Ok(Tolerance {
            profile: Some(p.name),
            nanos: p.nanos,
            source: p.source.to_string(),
        });
    }
    let duration = parse_duration(text).map_err(|why| {
        ReportError::Argument(format!(
            "--tolerance {text:?}: {why}; expected a duration such as 250us or 2ms, or one of: {}",
            PROFILES
                .iter()
                .map(|p| p.name)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    let nanos = u64::try_from(duration.as_nanos())
        .map_err(|_| ReportError::Argument(format!("--tolerance {text:?}: too large")))?;
    if nanos == 0 {
        return Err(ReportError::Argument(format!(
            "--tolerance {text:?}: must be greater than zero"
        )));
    }
    Ok(Tolerance {
        profile: None,
        nanos,
        source: "chosen by the operator (no regulatory profile)".to_string(),
    })
}

/// Parses a duration (`250us`, `250µs`, `2ms`, `1h30m`, `7d`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let normalised = text.trim().replace(['µ', 'μ'], "u");
    if normalised.is_empty() {
        return Err("empty duration".to_string());
    }
    humantime::parse_duration(&normalised).map_err(|e| e.to_string())
}

/// Formats seconds with the unit that keeps the number readable:
/// `100µs`, `1.5ms`, `2s`, `+Inf`.
pub fn format_seconds(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    let (scaled, unit) = clockwatch_vocab::unit::scale_seconds(v);
    let mut s = format!("{scaled:.3}");
    while s.contains('.') && (s.ends_with('0') || s.ends_with('.')) {
        s.pop();
    }
    format!("{s}{unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_parse() {
        let t = parse_tolerance("mifid2-hft").expect("profile");
        assert_eq!(t.nanos, 100_000);
        assert_eq!(t.profile, Some("mifid2-hft"));
        assert_eq!(
            parse_tolerance("finra-cat").expect("profile").nanos,
            50_000_000
        );
        assert_eq!(
            parse_tolerance("mifid2-voice").expect("p").nanos,
            1_000_000_000
        );
        assert_eq!(
            parse_tolerance("cat-participant").expect("p").nanos,
            100_000
        );
        assert_eq!(parse_tolerance("mifid2-algo").expect("p").nanos, 1_000_000);
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_tolerance("250us").expect("d").nanos, 250_000);
        assert_eq!(parse_tolerance("250µs").expect("d").nanos, 250_000);
        assert_eq!(parse_tolerance("2ms").expect("d").nanos, 2_000_000);
        assert!(parse_tolerance("0s").is_err());
        assert!(parse_tolerance("fast").is_err());
        assert!(parse_tolerance("").is_err());
    }

    #[test]
    fn tolerance_equals_parsed_exposition_value() {
        // A bound exported as "0.0001" must compare equal to 100µs.
        let t = parse_tolerance("mifid2-hft").expect("p");
        let exported: f64 = "0.0001".parse().expect("float");
        assert_eq!(t.seconds(), exported);
        let t = parse_tolerance("250us").expect("d");
        assert_eq!(t.seconds(), "0.00025".parse::<f64>().expect("float"));
        let t = parse_tolerance("finra-cat").expect("p");
        assert_eq!(t.seconds(), "0.05".parse::<f64>().expect("float"));
    }

    #[test]
    fn formats() {
        assert_eq!(format_seconds(0.0001), "100µs");
        assert_eq!(format_seconds(0.0015), "1.5ms");
        assert_eq!(format_seconds(2.0), "2s");
        assert_eq!(format_seconds(f64::INFINITY), "+Inf");
        assert_eq!(format_seconds(0.0), "0s");
    }
}
