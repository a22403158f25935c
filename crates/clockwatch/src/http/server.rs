//! The HTTP server: `/metrics`, the status page, `/healthz`, `/readyz`.
//! GET and HEAD only; header size and read time are bounded, and so is the
//! number of connections, so that slow or hostile clients cannot pile up.
//! With a web config, connections are TLS (the handshake has its own
//! deadline) and every path but `/healthz` and `/readyz` needs basic auth.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{
    HeaderName, HeaderValue, ACCEPT, ALLOW, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE,
    WWW_AUTHENTICATE,
};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use super::auth::{BasicAuth, CHALLENGE};
use super::page;
use crate::render::{render_with, BuildInfo, Format};
use crate::scrape::SharedCollector;

/// Limits on what clients may do.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    /// Time a client has to send its request headers.
    pub header_timeout: Duration,
    /// Largest request head accepted (hyper's minimum is 8 KiB).
    pub max_header_bytes: usize,
    /// Time in-flight requests get to finish after SIGTERM.
    pub shutdown_grace: Duration,
    /// Time a client has to complete the TLS handshake.
    pub tls_handshake_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 64,
            header_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            shutdown_grace: Duration::from_secs(5),
            tls_handshake_timeout: Duration::from_secs(10),
        }
    }
}

pub struct App {
    pub shared: SharedCollector,
    pub build: BuildInfo,
    pub telemetry_path: String,
    pub limits: Limits,
    pub security: Security,
}

/// What the web config adds: TLS, basic auth, extra response headers.
#[derive(Default)]
pub struct Security {
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    pub auth: Option<BasicAuth>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

type Body = Full<Bytes>;

/// Serves until `shutdown` resolves, then lets in-flight requests finish
/// within the grace period.
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(app.limits.max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
        };
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let app = app.clone();
        let limits = app.limits;
        let stop = stop_rx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match app.security.tls.clone() {
                None => serve_connection(app, stream, peer, stop).await,
                Some(acceptor) => {
                    let handshake =
                        tokio::time::timeout(limits.tls_handshake_timeout, acceptor.accept(stream));
                    match handshake.await {
                        Ok(Ok(tls)) => serve_connection(app, tls, peer, stop).await,
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    // Wait for connections to finish, at most the grace period.
    let all = u32::try_from(app.limits.max_connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(app.limits.shutdown_grace, permits.acquire_many(all)).await;
}

async fn serve_connection<S>(
    app: Arc<App>,
    stream: S,
    peer: SocketAddr,
    mut stop: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let limits = app.limits;
    let service = service_fn(move |req| {
        let app = app.clone();
        async move {
            let mut resp = handle(&app, req, peer).await;
            for (name, value) in &app.security.headers {
                resp.headers_mut().insert(name.clone(), value.clone());
            }
            Ok::<_, Infallible>(resp)
        }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.max_header_bytes);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        res = conn.as_mut() => {
            if let Err(e) = res {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        }
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// True if the request may see protected content (no auth configured, or
/// valid credentials).
async fn authorized(app: &App, req: &Request<Incoming>) -> bool {
    match &app.security.auth {
        None => true,
        Some(auth) => {
            auth.check(req.headers().get(AUTHORIZATION).map(|v| v.as_bytes()))
                .await
        }
    }
}

async fn handle(app: &App, req: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
    let head_only = req.method() == Method::HEAD;
    if req.method() != Method::GET && !head_only {
        let mut resp = plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET and HEAD are supported\n",
        );
        resp.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return resp;
    }
    let path = req.uri().path();
    tracing::debug!(%peer, %path, "request");
    // Probes stay open (kubelet cannot hold a password) and cheap: they
    // never run bcrypt, whatever Authorization header a caller sends.
    // /readyz tells why it is not ready only to a client whose credentials
    // were verified before.
    let open = path == "/healthz" || path == "/readyz";
    let authed = if open {
        app.security.auth.as_ref().is_none_or(|auth| {
            auth.check_remembered(req.headers().get(AUTHORIZATION).map(|v| v.as_bytes()))
        })
    } else {
        authorized(app, &req).await
    };
    if !open && !authed {
        tracing::debug!(%peer, %path, "unauthorized");
        let mut resp = plain(StatusCode::UNAUTHORIZED, "unauthorized\n");
        resp.headers_mut()
            .insert(WWW_AUTHENTICATE, HeaderValue::from_static(CHALLENGE));
        return resp;
    }
    let mut resp = if path == app.telemetry_path {
        let format = Format::negotiate(req.headers().get(ACCEPT).and_then(|v| v.to_str().ok()));
        let scrape = app.shared.scrape().await;
        let text = render_with(
            &scrape.snapshot,
            &scrape.verdict,
            scrape.counters.as_ref(),
            &app.build,
            format,
        );
        respond(StatusCode::OK, format.content_type(), text)
    } else {
        match path {
            "/" => {
                let scrape = app.shared.scrape().await;
                let history = app.shared.history();
                let html = page::render_page(&scrape, &app.build, &app.telemetry_path, &history);
                respond(StatusCode::OK, "text/html; charset=utf-8", html)
            }
            "/healthz" => plain(StatusCode::OK, "ok\n"),
            "/readyz" => readiness(app, authed).await,
            _ => plain(
                StatusCode::NOT_FOUND,
                "not found; try /, /metrics, /healthz or /readyz\n",
            ),
        }
    };
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if head_only {
        *resp.body_mut() = Full::new(Bytes::new());
    }
    resp
}

/// How old a collection /readyz may answer from: a kubelet probing every
/// few seconds reuses the last scrape's collection instead of costing
/// chronyd one of its own.
const READINESS_REUSE: Duration = Duration::from_secs(10);

/// Ready when the configured daemons answer (chronyd; every ptp4l
/// instance), or when none is configured.
async fn readiness(app: &App, detail: bool) -> Response<Body> {
    let collector = app.shared.collector();
    let chrony = !collector.client().is_disabled();
    let timesyncd_named = collector.timesyncd().is_some_and(|t| !t.detect);
    if !chrony && !collector.reads_ptp() && !timesyncd_named {
        return plain(
            StatusCode::OK,
            "ready: timex-only mode (no chronyd configured)\n",
        );
    }
    let scrape = app.shared.recent(READINESS_REUSE).await;
    let snap = &scrape.snapshot;
    let mut answer = Vec::new();
    let mut why = Vec::new();
    if chrony {
        if snap.chrony.up {
            answer.push("chronyd");
        } else if snap
            .timesyncd
            .as_ref()
            .is_some_and(|t| t.detect && t.running())
        {
            // Detection: a timesyncd node, where chronyd is not expected.
            answer.push("timesyncd");
        } else {
            why.push(
                snap.chrony
                    .error
                    .clone()
                    .unwrap_or_else(|| "no answer".into()),
            );
        }
    }
    if let Some(view) = &snap.ptp {
        let failed: Vec<String> = view
            .instances
            .iter()
            .filter_map(|i| i.report.as_ref().err().map(|f| f.message.clone()))
            .collect();
        if failed.is_empty() {
            answer.push("ptp4l");
        }
        why.extend(failed);
    }
    if let Some(view) = snap.timesyncd.as_ref().filter(|t| !t.detect) {
        match &view.result {
            Ok(_) => answer.push("timesyncd"),
            Err(f) => why.push(f.message.clone()),
        }
    }
    if why.is_empty() {
        let verb = if answer.len() == 1 {
            "answers"
        } else {
            "answer"
        };
        plain(
            StatusCode::OK,
            &format!("ready: {} {verb}\n", answer.join(" and ")),
        )
    } else if !detail {
        plain(StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    } else {
        plain(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("not ready: {}\n", why.join("; ")),
        )
    }
}

fn plain(status: StatusCode, text: &str) -> Response<Body> {
    respond(status, "text/plain; charset=utf-8", text.to_string())
}

fn respond(status: StatusCode, content_type: &'static str, body: String) -> Response<Body> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}
