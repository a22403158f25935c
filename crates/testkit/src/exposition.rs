//! A strict reader of the Prometheus text exposition format 0.0.4, for
//! tests: every line must be a comment, a HELP/TYPE line or a well-formed
//! sample, or parsing fails with the line and what is wrong with it. A
//! lenient reader would let a test pass on output that Prometheus rejects;
//! this one is stricter still (only the documented value spellings, no
//! TYPE after its samples). promtool is the second opinion where a test
//! needs one.
//!
//! No crate is used: the maintained parsers live inside Prometheus client
//! libraries (and expose only their own registries), and this one must
//! also refuse what they tolerate (a duplicate series, a TYPE after its
//! samples).

use std::collections::BTreeMap;
use std::fmt;

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    /// In the order written, values unescaped.
    pub labels: Vec<(String, String)>,
    pub value: f64,
    pub timestamp_ms: Option<i64>,
}

impl Sample {
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every `(name, value)` of `matchers` is one of this sample's labels.
    pub fn matches(&self, matchers: &[(String, String)]) -> bool {
        matchers
            .iter()
            .all(|(k, v)| self.label(k) == Some(v.as_str()))
    }
}

/// What the HELP and TYPE lines say of one metric family.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Family {
    pub help: Option<String>,
    pub kind: Option<String>,
}

/// Why a text is not a valid exposition.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    /// 1-based.
    pub line: usize,
    pub text: String,
    pub why: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}: {:?}", self.line, self.why, self.text)
    }
}

impl std::error::Error for ParseError {}

/// A parsed exposition: its samples in order, and its families.
#[derive(Debug, Clone)]
pub struct Exposition {
    pub text: String,
    pub samples: Vec<Sample>,
    pub families: BTreeMap<String, Family>,
}

const TYPES: &[&str] = &["counter", "gauge", "histogram", "summary", "untyped"];

impl Exposition {
    /// Parses, panicking with the offending line: test code.
    pub fn parse(text: &str) -> Self {
        Self::try_parse(text).unwrap_or_else(|e| panic!("not a valid exposition: {e}\n{text}"))
    }

    pub fn try_parse(text: &str) -> Result<Self, ParseError> {
        let mut samples: Vec<Sample> = Vec::new();
        let mut families: BTreeMap<String, Family> = BTreeMap::new();
        let mut seen_series = std::collections::HashSet::new();
        let mut sampled_families = std::collections::HashSet::new();
        for (index, line) in text.lines().enumerate() {
            let fail = |why: &str| ParseError {
                line: index + 1,
                text: line.to_string(),
                why: why.to_string(),
            };
            if line.trim().is_empty() {
                continue;
            }
            if let Some(comment) = line.strip_prefix('#') {
                let mut words = comment.trim_start().splitn(3, ' ');
                let keyword = words.next().unwrap_or("");
                if keyword != "HELP" && keyword != "TYPE" {
                    continue; // a plain comment
                }
                let name = words.next().ok_or_else(|| fail("no metric name"))?;
                check_metric_name(name).map_err(|why| fail(&why))?;
                let rest = words.next().unwrap_or("");
                let family = families.entry(name.to_string()).or_default();
                if keyword == "HELP" {
                    if family.help.is_some() {
                        return Err(fail("second HELP for this metric"));
                    }
                    family.help = Some(unescape(rest, false).map_err(|why| fail(&why))?);
                } else {
                    if family.kind.is_some() {
                        return Err(fail("second TYPE for this metric"));
                    }
                    if !TYPES.contains(&rest) {
                        return Err(fail("unknown metric type"));
                    }
                    if sampled_families.contains(name) {
                        return Err(fail("TYPE after the metric's samples"));
                    }
                    family.kind = Some(rest.to_string());
                }
                continue;
            }
            let sample = parse_sample(line).map_err(|why| fail(&why))?;
            let mut key = sample.labels.clone();
            key.sort();
            if !seen_series.insert((sample.name.clone(), key)) {
                return Err(fail("the same series twice"));
            }
            sampled_families.insert(family_of(&sample.name, &families));
            samples.push(sample);
        }
        Ok(Self {
            text: text.to_string(),
            samples,
            families,
        })
    }

    /// The family a sample of `name` belongs to (a histogram's `_bucket`,
    /// `_sum` and `_count` belong to the histogram).
    pub fn family(&self, name: &str) -> Option<&Family> {
        self.families.get(&family_of(name, &self.families))
    }

    /// The samples of `name` carrying every label pair of `matchers`
    /// (`a="x",b="y"`; empty matches all).
    pub fn find<'a>(&'a self, name: &'a str, matchers: &str) -> impl Iterator<Item = &'a Sample> {
        let matchers = parse_matchers(matchers);
        self.samples
            .iter()
            .filter(move |s| s.name == name && s.matches(&matchers))
    }

    /// The value of the first sample of `name` matching `matchers`.
    pub fn get(&self, name: &str, matchers: &str) -> Option<f64> {
        self.find(name, matchers).next().map(|s| s.value)
    }

    /// The values of `label` across the samples of `name`, sorted.
    pub fn label_values(&self, name: &str, label: &str) -> Vec<String> {
        let mut found: Vec<String> = self
            .find(name, "")
            .filter_map(|s| s.label(label).map(str::to_string))
            .collect();
        found.sort();
        found
    }

    /// The value of the one sample of `name`; panics if there is none.
    pub fn value(&self, name: &str) -> f64 {
        self.get(name, "")
            .unwrap_or_else(|| panic!("{name} missing from:\n{}", self.text))
    }

    pub fn has(&self, name: &str) -> bool {
        self.find(name, "").next().is_some()
    }

    /// The state whose `clockwatch_sync_state` is 1; panics unless exactly
    /// one is.
    pub fn state(&self) -> String {
        let current: Vec<&str> = self
            .find("clockwatch_sync_state", "")
            .filter(|s| s.value == 1.0)
            .filter_map(|s| s.label("state"))
            .collect();
        match current.as_slice() {
            [one] => one.to_string(),
            _ => panic!(
                "{} current states {current:?} in:\n{}",
                current.len(),
                self.text
            ),
        }
    }
}

/// `a="x",b="y"` as label pairs; panics on anything else (test code).
pub fn parse_matchers(text: &str) -> Vec<(String, String)> {
    if text.trim().is_empty() {
        return Vec::new();
    }
    parse_labels(text.trim())
        .and_then(|(labels, rest)| {
            if rest.is_empty() {
                Ok(labels)
            } else {
                Err(format!("left over: {rest:?}"))
            }
        })
        .unwrap_or_else(|why| panic!("bad label matchers {text:?}: {why}"))
}

/// The family a sample belongs to: a histogram's or summary's `_bucket`,
/// `_sum`, `_count` belong to the base name when that has a TYPE.
fn family_of(name: &str, families: &BTreeMap<String, Family>) -> String {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix) {
            if families
                .get(base)
                .is_some_and(|f| matches!(f.kind.as_deref(), Some("histogram") | Some("summary")))
            {
                return base.to_string();
            }
        }
    }
    name.to_string()
}

fn check_metric_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    if ok {
        Ok(())
    } else {
        Err(format!("bad metric name {name:?}"))
    }
}

fn check_label_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!("bad label name {name:?}"))
    }
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or("no value")?;
    let name = &line[..name_end];
    check_metric_name(name)?;
    let (labels, rest) = match line[name_end..].strip_prefix('{') {
        Some(after) => {
            let (labels, rest) = parse_labels(after)?;
            let rest = rest.strip_prefix('}').ok_or("labels not closed by }")?;
            (labels, rest)
        }
        None => (Vec::new(), &line[name_end..]),
    };
    let rest = rest.strip_prefix(' ').ok_or("no space before the value")?;
    let mut fields = rest.split(' ');
    let value = parse_value(fields.next().unwrap_or(""))?;
    let timestamp_ms = match fields.next() {
        None => None,
        Some(t) => Some(t.parse().map_err(|_| format!("bad timestamp {t:?}"))?),
    };
    if fields.next().is_some() {
        return Err("fields after the timestamp".into());
    }
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
        timestamp_ms,
    })
}

type Labels = Vec<(String, String)>;

/// Label pairs up to (not including) a `}` or the end; returns the rest.
fn parse_labels(mut text: &str) -> Result<(Labels, &str), String> {
    let mut labels: Labels = Vec::new();
    loop {
        if text.is_empty() || text.starts_with('}') {
            return Ok((labels, text));
        }
        let (name, after) = text.split_once('=').ok_or("label without =")?;
        check_label_name(name)?;
        let after = after.strip_prefix('"').ok_or("label value not quoted")?;
        let end = closing_quote(after).ok_or("label value not terminated")?;
        let value = unescape(&after[..end], true)?;
        if labels.iter().any(|(k, _)| k == name) {
            return Err(format!("label {name:?} twice"));
        }
        labels.push((name.to_string(), value));
        text = &after[end + 1..];
        if let Some(next) = text.strip_prefix(',') {
            text = next;
        } else if !text.is_empty() && !text.starts_with('}') {
            return Err("labels not separated by a comma".into());
        }
    }
}

/// The index of the quote that ends a label value (not an escaped one).
fn closing_quote(text: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(i),
            _ => {}
        }
    }
    None
}

/// Label values may escape `\\`, `\"` and `\n`; HELP text `\\` and `\n`.
fn unescape(text: &str, label_value: bool) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('"') if label_value => out.push('"'),
            other => return Err(format!("bad escape \\{}", other.unwrap_or(' '))),
        }
    }
    Ok(out)
}

fn parse_value(text: &str) -> Result<f64, String> {
    match text {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        // Only the spellings the format documents: Rust's parser (and
        // Go's, which Prometheus uses) would also take "inf" and
        // "infinity", which no exporter should write.
        t if t
            .chars()
            .any(|c| c.is_ascii_alphabetic() && c != 'e' && c != 'E') =>
        {
            Err(format!("bad value {t:?}"))
        }
        t => t.parse().map_err(|_| format!("bad value {t:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "# HELP a_seconds What \\\\ it is\\n.\n# TYPE a_seconds gauge\n\
        a_seconds{x=\"1\",y=\"q\\\"uote\\\\\\n\"} 1.5e-3\na_seconds{x=\"2\"} +Inf 1700000000000\n\
        # a comment\n# TYPE h histogram\nh_bucket{le=\"1\"} 3\nh_sum 2\nh_count 3\nb NaN\n";

    #[test]
    fn reads_what_the_format_allows() {
        let e = Exposition::parse(GOOD);
        assert_eq!(e.samples.len(), 6);
        let first = &e.samples[0];
        assert_eq!(first.label("y"), Some("q\"uote\\\n"));
        assert_eq!(first.value, 1.5e-3);
        assert_eq!(e.get("a_seconds", "x=\"2\""), Some(f64::INFINITY));
        assert_eq!(e.samples[1].timestamp_ms, Some(1_700_000_000_000));
        assert_eq!(
            e.families["a_seconds"].help.as_deref(),
            Some("What \\ it is\n.")
        );
        assert_eq!(e.families["h"].kind.as_deref(), Some("histogram"));
        assert!(e.value("b").is_nan());
        assert_eq!(e.label_values("a_seconds", "x"), ["1", "2"]);
    }

    #[test]
    fn matchers_are_whole_label_pairs_not_substrings() {
        let e = Exposition::parse("m{server=\"a.example\",port=\"1\"} 1\nm{server=\"a\"} 2\n");
        assert_eq!(e.get("m", "server=\"a\""), Some(2.0));
        assert_eq!(e.get("m", "port=\"1\",server=\"a.example\""), Some(1.0));
        assert_eq!(e.get("m", "server=\"a.ex\""), None);
        assert_eq!(e.find("m", "").count(), 2);
    }

    #[test]
    fn refuses_malformed_lines() {
        for (bad, why) in [
            ("1m 1", "bad metric name"),
            ("m{x=\"1} 1", "not terminated"),
            ("m{x=\"\\t\"} 1", "bad escape"),
            ("m{x=\"1\",x=\"2\"} 1", "twice"),
            ("m{x=1} 1", "not quoted"),
            ("m{1x=\"1\"} 1", "bad label name"),
            ("m one", "bad value"),
            ("m inf", "bad value"),
            ("m 1 2 3", "after the timestamp"),
            ("m 1 soon", "bad timestamp"),
            ("m 1\nm 2", "same series twice"),
            (
                "m{a=\"1\",b=\"2\"} 1\nm{b=\"2\",a=\"1\"} 2",
                "same series twice",
            ),
            ("m 1\n# TYPE m gauge", "TYPE after"),
            ("# TYPE m meter", "unknown metric type"),
            ("# TYPE m gauge\n# TYPE m gauge", "second TYPE"),
            ("m{x=\"1\"}1", "no space"),
            ("m", "no value"),
        ] {
            let err = Exposition::try_parse(bad).expect_err(bad);
            assert!(err.why.contains(why), "{bad:?}: {err}");
        }
    }
}
