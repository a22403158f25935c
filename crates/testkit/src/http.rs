//! The one HTTP/1.1 client of the tests: a request on a fresh connection
//! (`Connection: close`), every wait bounded by one overall limit, and the
//! answer with its status, head, body and how long it took.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::exposition::Exposition;

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub head: String,
    pub body: String,
    pub took: Duration,
}

impl Response {
    /// A header's value (the first of that name, case-insensitive).
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }

    /// The body as an exposition; panics if it is not a valid one.
    pub fn exposition(&self) -> Exposition {
        Exposition::parse(&self.body)
    }

    /// Value of the first sample of `series`: a name, or a name with label
    /// matchers (e.g. `clockwatch_sync_state{state="unknown"}`).
    pub fn metric(&self, series: &str) -> Option<f64> {
        let (name, matchers) = series
            .split_once('{')
            .map_or((series, ""), |(n, l)| (n, l.trim_end_matches('}')));
        self.exposition().get(name, matchers)
    }
}

/// One request to `addr`. `limit` bounds the whole exchange: each read
/// waits only for what is left of it.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    extra_headers: &[(&str, &str)],
    limit: Duration,
) -> std::io::Result<Response> {
    let started = Instant::now();
    let until = started + limit;
    let left = || {
        until
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "response took too long")
            })
    };
    let mut stream = TcpStream::connect_timeout(&addr, limit)?;
    stream.set_write_timeout(Some(left()?))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in extra_headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        stream.set_read_timeout(Some(left()?))?;
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if raw.is_empty() => return Err(e),
            // A reset after a complete answer still leaves the answer.
            Err(e)
                if e.kind() != std::io::ErrorKind::WouldBlock
                    && e.kind() != std::io::ErrorKind::TimedOut =>
            {
                break
            }
            Err(e) => return Err(e),
        }
    }
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("no complete response head: {text:?}"),
        )
    })?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line: {head:?}")))?;
    Ok(Response {
        status,
        head: head.to_string(),
        body: body.to_string(),
        took,
    })
}

/// `GET path` on 127.0.0.1:`port` with an optional Accept header, within
/// 10 s; panics if the exchange fails (not if the status is an error).
pub fn get(port: u16, path: &str, accept: Option<&str>) -> Response {
    let headers: Vec<(&str, &str)> = accept.map(|a| ("Accept", a)).into_iter().collect();
    request(
        SocketAddr::from(([127, 0, 0, 1], port)),
        "GET",
        path,
        &headers,
        Duration::from_secs(10),
    )
    .unwrap_or_else(|e| panic!("GET 127.0.0.1:{port}{path} failed: {e}"))
}
