//! A small client for the Prometheus HTTP query API (`/api/v1/query_range`),
//! usable with Prometheus, Thanos, Mimir, VictoriaMetrics and Azure Monitor
//! managed Prometheus: bearer token or basic auth, custom CA, client
//! certificate, timeout.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use reqwest::{StatusCode, Url};
use serde::Deserialize;

use super::ReportError;

/// How to reach the query API.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Base URL (`http://prometheus:9090`, with any path prefix).
    pub url: String,
    /// Bearer token.
    pub bearer_token: Option<String>,
    /// Basic auth user and password.
    pub basic_auth: Option<(String, String)>,
    /// Extra CA certificate (PEM).
    pub ca_file: Option<PathBuf>,
    /// Client certificate and key (PEM).
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// Per-request timeout.
    pub timeout: Duration,
}

/// One series of a range query result.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Labels (no `__name__` for `*_over_time` results).
    pub labels: BTreeMap<String, String>,
    /// `(unix ms, value)` points.
    pub points: Vec<(i64, f64)>,
}

/// The query API client (cheap to clone: clones share one connection pool).
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    endpoint: Url,
    series_endpoint: Url,
    timeout: Duration,
    display: String,
    bearer_token: Option<String>,
    basic_auth: Option<(String, String)>,
    /// Range requests sent by this client and its clones.
    range_requests: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// Where every answer goes for the evidence bundle, when asked for.
    recorded: Option<std::sync::Arc<crate::bundle::Spool>>,
}

#[derive(Deserialize)]
struct Envelope {
    status: Option<String>,
    #[serde(rename = "errorType")]
    error_type: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct Data<'a> {
    #[serde(rename = "resultType")]
    result_type: String,
    #[serde(borrow)]
    result: Vec<RawSeries<'a>>,
}

// Values are borrowed from the body: no allocation per point.
#[derive(Deserialize)]
struct RawSeries<'a> {
    metric: BTreeMap<String, String>,
    #[serde(default, borrow)]
    values: Vec<(f64, &'a str)>,
}

#[derive(Deserialize)]
struct SeriesEnvelope<T> {
    status: Option<String>,
    data: Option<Vec<T>>,
    error: Option<String>,
}

impl Client {
    /// Builds the client; reads the CA and client certificate files.
    pub fn new(cfg: &ClientConfig) -> Result<Client, ReportError> {
        let mut base = Url::parse(cfg.url.trim()).map_err(|e| {
            ReportError::Argument(format!(
                "--prometheus {:?}: not a URL ({e}); expected e.g. http://prometheus:9090",
                cfg.url
            ))
        })?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(ReportError::Argument(format!(
                "--prometheus {:?}: scheme must be http or https",
                cfg.url
            )));
        }
        // Credentials in the URL become basic auth; never shown in reports.
        let mut basic_auth = cfg.basic_auth.clone();
        if !base.username().is_empty() && basic_auth.is_none() {
            basic_auth = Some((
                base.username().to_string(),
                base.password().unwrap_or_default().to_string(),
            ));
        }
        let _ = base.set_username("");
        let _ = base.set_password(None);
        let mut path = base.path().trim_end_matches('/').to_string();
        for suffix in ["/api/v1/query_range", "/api/v1/query", "/api/v1"] {
            if let Some(p) = path.strip_suffix(suffix) {
                path = p.to_string();
                break;
            }
        }
        base.set_path(&path);
        base.set_query(None);
        let display = base.as_str().trim_end_matches('/').to_string();
        let endpoint = Url::parse(&format!("{display}/api/v1/query_range"))
            .map_err(|e| ReportError::Argument(format!("--prometheus {:?}: {e}", cfg.url)))?;

        let mut builder = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("clockwatch-report/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = &cfg.ca_file {
            let pem = read_file("--ca-file", ca)?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| ReportError::Argument(format!("--ca-file {}: {e}", ca.display())))?;
            if certs.is_empty() {
                return Err(ReportError::Argument(format!(
                    "--ca-file {}: no PEM certificate found",
                    ca.display()
                )));
            }
            for c in certs {
                builder = builder.add_root_certificate(c);
            }
        }
        if let Some((cert, key)) = &cfg.client_cert {
            let mut pem = read_file("--cert-file", cert)?;
            pem.push(b'\n');
            pem.extend(read_file("--key-file", key)?);
            let id = reqwest::Identity::from_pem(&pem).map_err(|e| {
                ReportError::Argument(format!(
                    "--cert-file {} / --key-file {}: {e}",
                    cert.display(),
                    key.display()
                ))
            })?;
            builder = builder.identity(id);
        }
        let http = builder
            .build()
            .map_err(|e| ReportError::Argument(format!("HTTP client: {}", chain(&e))))?;
        let series_endpoint = Url::parse(&format!("{display}/api/v1/series"))
            .map_err(|e| ReportError::Argument(format!("--prometheus {:?}: {e}", cfg.url)))?;
        Ok(Client {
            http,
            endpoint,
            series_endpoint,
            timeout: cfg.timeout,
            display,
            bearer_token: cfg.bearer_token.clone(),
            basic_auth,
            range_requests: Default::default(),
            recorded: None,
        })
    }

    /// Range requests sent so far (retried halves included).
    pub fn range_requests(&self) -> usize {
        self.range_requests
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Writes every answer from now on into `spool` (for `--bundle`).
    pub fn record(&mut self, spool: std::sync::Arc<crate::bundle::Spool>) {
        self.recorded = Some(spool);
    }

    /// The base URL without credentials, for the report.
    pub fn display_url(&self) -> &str {
        &self.display
    }

    /// Runs a range query evaluated at `start, start+step, …, end` (ms).
    pub async fn query_range(
        &self,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<Vec<Series>, ReportError> {
        let form = [
            ("query", query.to_string()),
            ("start", secs(start_ms)),
            ("end", secs(end_ms)),
            ("step", secs(step_ms)),
        ];
        self.range_requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut req = self.http.post(self.endpoint.clone()).form(&form);
        if let Some(token) = &self.bearer_token {
            req = req.bearer_auth(token);
        }
        if let Some((user, pass)) = &self.basic_auth {
            req = req.basic_auth(user, Some(pass));
        }
        let what = || (query, start_ms, end_ms);
        let resp = req
            .send()
            .await
            .map_err(|e| self.transport_error(&e, what()))?;
        let status = resp.status();
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = resp
            .bytes()
            .await
            .map_err(|e| self.transport_error(&e, what()))?;
        if let Some(spool) = &self.recorded {
            spool.record(query, start_ms, end_ms, step_ms, status.as_u16(), &body);
        }
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(ReportError::Auth {
                url: self.display.clone(),
                status: status.to_string(),
            });
        }
        // The envelope without the data first (an error has none), then
        // the data borrowing from the body.
        let envelope: Option<Envelope> = serde_json::from_slice(&body).ok();
        let Some(envelope) = envelope.filter(|e| e.status.is_some()) else {
            return Err(ReportError::NotPrometheus {
                url: self.endpoint.to_string(),
                detail: format!(
                    "HTTP {status}, content type {:?}, body starts {:?}",
                    content_type,
                    String::from_utf8_lossy(&body[..body.len().min(60)])
                ),
            });
        };
        if envelope.status.as_deref() != Some("success") {
            let error = envelope.error.clone().unwrap_or_default();
            if is_too_large(status, &error) {
                return Err(ReportError::TooLarge {
                    query: query.to_string(),
                    error: format!("{error} (HTTP {status})"),
                });
            }
            return Err(ReportError::Query {
                query: query.to_string(),
                error: format!(
                    "{}: {} (HTTP {status})",
                    envelope.error_type.unwrap_or_default(),
                    envelope.error.unwrap_or_default()
                ),
            });
        }
        let full: WithData =
            serde_json::from_slice(&body).map_err(|e| ReportError::NotPrometheus {
                url: self.endpoint.to_string(),
                detail: format!("cannot parse the answer: {e}"),
            })?;
        let data = full.data.ok_or_else(|| ReportError::NotPrometheus {
            url: self.endpoint.to_string(),
            detail: "status success without data".to_string(),
        })?;
        if data.result_type != "matrix" {
            return Err(ReportError::NotPrometheus {
                url: self.endpoint.to_string(),
                detail: format!("range query returned {:?}, not a matrix", data.result_type),
            });
        }
        Ok(data
            .result
            .into_iter()
            .map(|s| Series {
                labels: s.metric,
                points: s
                    .values
                    .into_iter()
                    .map(|(t, v)| ((t * 1000.0).round() as i64, parse_value(v)))
                    .collect(),
            })
            .collect())
    }

    /// How many series `selector` matches between `start_ms` and `end_ms`
    /// (`/api/v1/series`: the index only, no sample is loaded).
    pub async fn series_count(
        &self,
        selector: &str,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<usize, ReportError> {
        Ok(self
            .series::<serde::de::IgnoredAny>(selector, start_ms, end_ms)
            .await?
            .len())
    }

    /// The label sets of the series `selector` matches (`/api/v1/series`).
    pub async fn series_labels(
        &self,
        selector: &str,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<BTreeMap<String, String>>, ReportError> {
        self.series(selector, start_ms, end_ms).await
    }

    async fn series<T: serde::de::DeserializeOwned>(
        &self,
        selector: &str,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<T>, ReportError> {
        let form = [
            ("match[]", selector.to_string()),
            ("start", secs(start_ms)),
            ("end", secs(end_ms)),
        ];
        let mut req = self.http.post(self.series_endpoint.clone()).form(&form);
        if let Some(token) = &self.bearer_token {
            req = req.bearer_auth(token);
        }
        if let Some((user, pass)) = &self.basic_auth {
            req = req.basic_auth(user, Some(pass));
        }
        let what = || (selector, start_ms, end_ms);
        let resp = req
            .send()
            .await
            .map_err(|e| self.transport_error(&e, what()))?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|e| self.transport_error(&e, what()))?;
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(ReportError::Auth {
                url: self.display.clone(),
                status: status.to_string(),
            });
        }
        match serde_json::from_slice::<SeriesEnvelope<T>>(&body) {
            Ok(SeriesEnvelope {
                status: Some(st),
                data: Some(d),
                ..
            }) if st == "success" => Ok(d),
            Ok(SeriesEnvelope {
                status: Some(_),
                error,
                ..
            }) => Err(ReportError::Query {
                query: format!("series {selector}"),
                error: format!("{} (HTTP {status})", error.unwrap_or_default()),
            }),
            _ => Err(ReportError::NotPrometheus {
                url: self.series_endpoint.to_string(),
                detail: format!(
                    "HTTP {status}, body starts {:?}",
                    String::from_utf8_lossy(&body[..body.len().min(60)])
                ),
            }),
        }
    }

    fn transport_error(
        &self,
        e: &reqwest::Error,
        (query, start_ms, end_ms): (&str, i64, i64),
    ) -> ReportError {
        if e.is_timeout() {
            return ReportError::Timeout {
                url: self.display.clone(),
                timeout: humantime::format_duration(self.timeout).to_string(),
                query: query.to_string(),
                from: super::timeparse::format_ms(start_ms),
                to: super::timeparse::format_ms(end_ms),
            };
        }
        ReportError::Connect {
            url: self.display.clone(),
            detail: chain(e),
        }
    }
}

#[derive(Deserialize)]
struct WithData<'a> {
    #[serde(borrow)]
    data: Option<Data<'a>>,
}

/// Whether an error answer means "this query is too big" (Prometheus:
/// HTTP 422 `query processing would load too many samples into memory`;
/// Thanos, Mimir and VictoriaMetrics use 422 or 400 with similar words).
pub fn is_too_large(status: StatusCode, error: &str) -> bool {
    let e = error.to_ascii_lowercase();
    let words = e.contains("too many samples")
        || e.contains("maximum number of samples")
        || e.contains("max samples")
        || e.contains("exceeded the limit")
        || (e.contains("limit") && (e.contains("sample") || e.contains("series")));
    (status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::BAD_REQUEST) && words
}

/// Prometheus sample values: decimal, `+Inf`, `-Inf`, `NaN`.
pub fn parse_value(v: &str) -> f64 {
    match v {
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        _ => v.parse().unwrap_or(f64::NAN),
    }
}

fn secs(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let a = ms.unsigned_abs();
    format!("{sign}{}.{:03}", a / 1000, a % 1000)
}

fn read_file(flag: &str, p: &PathBuf) -> Result<Vec<u8>, ReportError> {
    std::fs::read(p).map_err(|e| ReportError::Argument(format!("{flag} {}: {e}", p.display())))
}

/// An error and its causes on one line.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert_eq!(parse_value("+Inf"), f64::INFINITY);
        assert_eq!(parse_value("0.0001"), 0.0001);
        assert!(parse_value("NaN").is_nan());
        assert!(parse_value("bogus").is_nan());
    }

    #[test]
    fn seconds_format() {
        assert_eq!(secs(1_500), "1.500");
        assert_eq!(secs(15_000), "15.000");
    }

    #[test]
    fn url_normalisation_hides_credentials() {
        let cfg = ClientConfig {
            url: "https://user:secret@example.invalid/prom/api/v1/".to_string(),
            bearer_token: None,
            basic_auth: None,
            ca_file: None,
            client_cert: None,
            timeout: Duration::from_secs(5),
        };
        let c = Client::new(&cfg).expect("client");
        assert_eq!(c.display_url(), "https://example.invalid/prom");
        assert_eq!(
            c.endpoint.as_str(),
            "https://example.invalid/prom/api/v1/query_range"
        );
        assert_eq!(
            c.basic_auth,
            Some(("user".to_string(), "secret".to_string()))
        );
        assert!(Client::new(&ClientConfig {
            url: "ftp://x".to_string(),
            ..cfg
        })
        .is_err());
    }
}
