//! The report's error paths against tiny local HTTP servers: wrong
//! URL, closed port, refused credentials, credentials actually sent, empty
//! result, bad ranges. Every error must exit 2 with a precise message.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod common;
use common::BIN;

/// A received request: method, path, headers (lower-case names), body.
#[derive(Debug, Clone, Default)]
struct Request {
    line: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

type Handler = dyn Fn(&Request) -> (u16, &'static str, String) + Send + Sync;

/// Serves on 127.0.0.1 until the process ends; records requests.
fn serve(handler: Box<Handler>) -> (u16, Arc<Mutex<Vec<Request>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming().take(64) {
            let Ok(stream) = stream else { continue };
            if let Some(req) = handle(stream, &*handler) {
                if let Ok(mut l) = log.lock() {
                    l.push(req);
                }
            }
        }
    });
    (port, seen)
}

fn handle(mut stream: TcpStream, handler: &Handler) -> Option<Request> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut req = Request::default();
    reader.read_line(&mut req.line).ok()?;
    let mut len = 0usize;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            let k = k.trim().to_ascii_lowercase();
            if k == "content-length" {
                len = v.trim().parse().unwrap_or(0);
            }
            req.headers.push((k, v.trim().to_string()));
        }
    }
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).ok()?;
    req.body = String::from_utf8_lossy(&body).into_owned();
    let (status, ctype, text) = handler(&req);
    let reason = match status {
        200 => "OK",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        _ => "Other",
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    Some(req)
}

const EMPTY_MATRIX: &str = r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;

fn report(port: u16, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(BIN);
    c.arg("--prometheus")
        .arg(format!("http://127.0.0.1:{port}"))
        .args([
            "--from",
            "now-1h",
            "--to",
            "now-5m",
            "--tolerance",
            "mifid2-hft",
        ])
        .args(extra)
        .env_remove("CLOCKWATCH_PROMETHEUS_BEARER_TOKEN")
        .env_remove("CLOCKWATCH_PROMETHEUS_BASIC_AUTH_PASSWORD")
        .env_remove("CLOCKWATCH_PROMETHEUS_URL");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run clockwatch-report")
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn assert_error(o: &Output, needle: &str) {
    assert_eq!(o.status.code(), Some(2), "exit code; stderr: {}", err(o));
    assert!(
        err(o).contains(needle),
        "stderr lacks {needle:?}: {}",
        err(o)
    );
    assert!(o.stdout.is_empty(), "no report on error");
}

fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let p = l.local_addr().expect("addr").port();
    drop(l);
    p
}

#[test]
fn closed_port_is_a_connection_error() {
    let port = closed_port();
    let o = report(port, &[], &[]);
    assert_error(
        &o,
        &format!("cannot reach Prometheus at http://127.0.0.1:{port}"),
    );
    assert!(err(&o).to_lowercase().contains("refused"), "{}", err(&o));
}

#[test]
fn plain_web_server_is_not_prometheus() {
    let (port, _) = serve(Box::new(|_| {
        (
            200,
            "text/html",
            "<html><body>It works!</body></html>".to_string(),
        )
    }));
    let o = report(port, &[], &[]);
    assert_error(&o, "is not a Prometheus query API");
    assert!(err(&o).contains("/api/v1/query_range"), "{}", err(&o));

    let (port, _) = serve(Box::new(|_| {
        (404, "text/plain", "404 page not found".to_string())
    }));
    let o = report(port, &[], &[]);
    assert_error(&o, "is not a Prometheus query API (HTTP 404 Not Found");
}

#[test]
fn refused_credentials() {
    let (port, _) = serve(Box::new(|_| {
        (401, "text/plain", "Unauthorized".to_string())
    }));
    let o = report(port, &[], &[]);
    assert_error(&o, "refused the request: HTTP 401 Unauthorized");
    assert!(err(&o).contains("--bearer-token-file"), "{}", err(&o));

    let (port, _) = serve(Box::new(|_| (403, "application/json", "{}".to_string())));
    assert_error(
        &report(port, &[], &[]),
        "refused the request: HTTP 403 Forbidden",
    );
}

fn authed(expected: &'static str) -> Box<Handler> {
    Box::new(move |req: &Request| {
        if req.header("authorization") == Some(expected) {
            (200, "application/json", EMPTY_MATRIX.to_string())
        } else {
            (401, "text/plain", "Unauthorized".to_string())
        }
    })
}

#[test]
fn bearer_token_from_env_and_file_and_basic_auth_are_sent() {
    // Env (Azure Monitor workspaces): accepted, then the empty result error.
    let (port, seen) = serve(authed("Bearer s3cret"));
    let o = report(
        port,
        // --method grid: the time counters' queries would come first.
        &["--method", "grid", "--selector", "{cluster=\"prod\"}"],
        &[("CLOCKWATCH_PROMETHEUS_BEARER_TOKEN", "s3cret")],
    );
    assert_error(&o, "no clockwatch series matched {cluster=\"prod\"}");
    let reqs = seen.lock().expect("lock").clone();
    // The survey of the series index comes first, then the range queries.
    let first = reqs
        .iter()
        .find(|r| !r.line.starts_with("POST /api/v1/series "))
        .expect("a request");
    assert!(
        first.line.starts_with("POST /api/v1/query_range "),
        "{first:?}"
    );
    assert!(
        first
            .body
            .contains("clockwatch_clock_error_bound_seconds%7Bcluster%3D%22prod%22%7D"),
        "{}",
        first.body
    );

    // Token file.
    let dir = tempfile::tempdir().expect("tempdir");
    let token = dir.path().join("token");
    std::fs::write(&token, "filetoken\n").expect("write token");
    let (port, _) = serve(authed("Bearer filetoken"));
    let o = report(
        port,
        &["--bearer-token-file", &token.to_string_lossy()],
        &[],
    );
    assert_error(&o, "no clockwatch series matched {}");

    // Basic auth, password from a file: "alice:pw" in base64.
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "pw").expect("write pw");
    let (port, _) = serve(authed("Basic YWxpY2U6cHc="));
    let o = report(
        port,
        &[
            "--basic-auth-user",
            "alice",
            "--basic-auth-password-file",
            &pw.to_string_lossy(),
        ],
        &[],
    );
    assert_error(&o, "no clockwatch series matched");

    // Wrong token: 401.
    let (port, _) = serve(authed("Bearer s3cret"));
    let o = report(
        port,
        &[],
        &[("CLOCKWATCH_PROMETHEUS_BEARER_TOKEN", "wrong")],
    );
    assert_error(&o, "HTTP 401");
}

#[test]
fn prometheus_query_errors_are_reported() {
    let (port, _) = serve(Box::new(|_| {
        (
            400,
            "application/json",
            r#"{"status":"error","errorType":"bad_data","error":"exceeded maximum resolution of 11,000 points per timeseries"}"#
                .to_string(),
        )
    }));
    let o = report(port, &[], &[]);
    assert_error(&o, "Prometheus rejected the query");
    assert!(
        err(&o).contains("bad_data: exceeded maximum resolution"),
        "{}",
        err(&o)
    );
}

#[test]
fn bad_ranges_fail_before_any_request() {
    let port = closed_port();
    let run = |args: &[&str]| {
        Command::new(BIN)
            .arg("--prometheus")
            .arg(format!("http://127.0.0.1:{port}"))
            .args(args)
            .output()
            .expect("run")
    };
    let o = run(&["--from", "now-1h", "--to", "now+1h", "--tolerance", "1ms"]);
    assert_error(&o, "--to ");
    assert!(err(&o).contains("is in the future"), "{}", err(&o));

    let o = run(&["--from", "now-1h", "--to", "now-2h", "--tolerance", "1ms"]);
    assert_error(&o, "is not before --to");

    let o = run(&[
        "--from",
        "2024-01-01T00:00:00Z",
        "--to",
        "2024-01-01T00:00:00Z",
        "--tolerance",
        "1ms",
    ]);
    assert_error(&o, "is not before --to");

    let o = run(&["--from", "last tuesday", "--tolerance", "1ms"]);
    assert_error(&o, "--from \"last tuesday\"");

    let o = run(&["--from", "now-1h", "--tolerance", "mifid3"]);
    assert_error(&o, "--tolerance \"mifid3\"");
    assert!(
        err(&o).contains("mifid2-hft"),
        "lists the profiles: {}",
        err(&o)
    );

    let o = run(&[
        "--from",
        "now-1h",
        "--tolerance",
        "1ms",
        "--selector",
        "cluster=prod",
    ]);
    assert_error(&o, "--selector");

    // A bad budget is a bad flag, not a Prometheus that cannot be reached.
    let o = run(&[
        "--from",
        "now-1h",
        "--tolerance",
        "1ms",
        "--max-memory",
        "lots",
    ]);
    assert_error(&o, "--max-memory \"lots\": expected a size such as 512MiB");

    let o = Command::new(BIN)
        .args([
            "--prometheus",
            "not a url",
            "--from",
            "now-1h",
            "--tolerance",
            "1ms",
        ])
        .output()
        .expect("run");
    assert_error(&o, "--prometheus \"not a url\": not a URL");
}

#[test]
fn bad_flags_exit_2_and_help_exits_0() {
    let o = Command::new(BIN)
        .args(["--from", "now-1h", "--tolerance", "1ms", "--bogus"])
        .env("CLOCKWATCH_PROMETHEUS_URL", "http://127.0.0.1:1")
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(err(&o).contains("--bogus"), "{}", err(&o));

    let o = Command::new(BIN)
        .env_remove("CLOCKWATCH_PROMETHEUS_URL")
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(err(&o).contains("--prometheus <PROMETHEUS>"), "{}", err(&o));

    let o = Command::new(BIN).arg("--help").output().expect("run");
    assert_eq!(o.status.code(), Some(0));
    let help = String::from_utf8_lossy(&o.stdout);
    assert!(help.contains("Usage: clockwatch-report"), "{help}");
    for flag in [
        "--tolerance",
        "--selector",
        "--bearer-token-file",
        "--max-points",
    ] {
        assert!(help.contains(flag), "help lacks {flag}: {help}");
    }
}

#[test]
fn timeout_says_timeout_and_names_the_query_and_chunk() {
    let (port, _) = serve(Box::new(|req: &Request| {
        if req.line.starts_with("POST /api/v1/series ") {
            return (
                200,
                "application/json",
                r#"{"status":"success","data":[]}"#.to_string(),
            );
        }
        std::thread::sleep(Duration::from_millis(1500));
        (200, "application/json", EMPTY_MATRIX.to_string())
    }));
    let o = report(
        port,
        &["--method", "grid", "--prometheus-timeout", "300ms"],
        &[],
    );
    assert_error(&o, "did not answer within --prometheus-timeout 300ms: timeout of max_over_time(clockwatch_clock_error_bound_seconds[60000ms]) over ");
    assert!(!err(&o).contains("cannot reach"), "{}", err(&o));
}

#[test]
fn too_many_samples_for_one_step_names_the_limit_and_the_flags() {
    let (port, _) = serve(Box::new(|_| {
        (
            422,
            "application/json",
            r#"{"status":"error","errorType":"execution","error":"query processing would load too many samples into memory in query execution"}"#
                .to_string(),
        )
    }));
    let o = report(port, &["--method", "grid"], &[]);
    assert_error(&o, "even for a single evaluation step");
    let e = err(&o);
    assert!(
        e.contains("--query.max-samples") && e.contains("--selector"),
        "{e}"
    );
    assert_eq!(e.matches("splitting such chunks in half").count(), 1, "{e}");
}
