//! The chronyd client: sessions over UDP or the unix socket, random initial
//! sequence numbers, and `auto`'s choice of endpoint. A batch of queries is
//! paced by [`cmdmon::Exchange`] (window, resends with the next attempt
//! number, sequence matching, one deadline); this module only drives it
//! with a socket and the clock.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use cmdmon::{Discarded, Exchange, ExchangeConfig, Failure, Received, ReplyBody, Request};
use tokio::time::Instant;

use super::address::{ChronyAddress, DEFAULT_SOCKET};
use super::auto::{AutoChoice, Plan, SOCKET_RETRY};
use super::error::{refusal_hint, ChronyError};
use super::resolve::Resolver;
use super::socket::{Endpoint, FileId, Socket};
use crate::replysocket::random_u32;

/// How many requests may be outstanding at once in one session over UDP.
/// Keeps the replies well inside a default socket receive buffer.
const WINDOW_UDP: usize = 32;
/// Over the unix socket the limit is chronyd's receive queue, shared with
/// every other client (chronyc, other tools): the kernel queues at most
/// `net.unix.max_dgram_qlen` + 1 datagrams (11 by default) for chronyd, and a
/// client finding it full gets EAGAIN; chronyc then fails at once with "506
/// Cannot talk to daemon". Eight outstanding requests keep chronyd as busy
/// as ten did (measured with 10 and 100 sources; four were slower) and leave
/// three places for the others.
const WINDOW_UNIX: usize = 8;
/// Requests are sent this many times at most within the timeout.
const ATTEMPTS: u16 = 3;
/// Large enough for any reply (the longest is 284 bytes).
const RECV_BUF: usize = 1024;

/// Which transport a session uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Unix,
}

/// What `auto` tries, in order: chronyd's socket, then each UDP address.
/// The default is chronyd's own: /run/chrony/chronyd.sock, 127.0.0.1:323,
/// [::1]:323. Tests (and unusual layouts) point it elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoTargets {
    pub socket: PathBuf,
    pub udp: Vec<SocketAddr>,
    /// While `auto` uses UDP, how often a socket file that failed is tried
    /// again (a new file is tried at once).
    pub socket_retry: Duration,
}

impl Default for AutoTargets {
    fn default() -> Self {
        Self {
            socket: DEFAULT_SOCKET.into(),
            udp: ChronyAddress::auto_udp_fallbacks().to_vec(),
            socket_retry: SOCKET_RETRY,
        }
    }
}

/// A UDP address as given: an IP literal, or a name to look up.
enum UdpTarget {
    Literal(SocketAddr),
    Name(Resolver),
}

pub struct ChronyClient {
    address: ChronyAddress,
    /// Where `udp://HOST:PORT` sends to.
    udp: Option<UdpTarget>,
    timeout: Duration,
    sequence: AtomicU32,
    /// For `auto`: the candidates, and which one is used.
    auto_targets: AutoTargets,
    auto: Mutex<AutoChoice>,
    /// The socket of the last session that ended without a transport
    /// error, for the next session to the same endpoint.
    idle: Mutex<Option<(Endpoint, Socket)>>,
}

impl ChronyClient {
    pub fn new(address: ChronyAddress, timeout: Duration) -> Self {
        let udp = match &address {
            ChronyAddress::Udp { host, port } => Some(match host.parse::<IpAddr>() {
                Ok(ip) => UdpTarget::Literal(SocketAddr::new(ip, *port)),
                Err(_) => UdpTarget::Name(Resolver::new(host, *port)),
            }),
            _ => None,
        };
        let auto_targets = AutoTargets::default();
        Self {
            address,
            udp,
            timeout,
            sequence: AtomicU32::new(random_u32()),
            auto: Mutex::new(AutoChoice::new(auto_targets.socket_retry)),
            auto_targets,
            idle: Mutex::new(None),
        }
    }

    /// The same client with other candidates for `auto`.
    pub fn with_auto_targets(mut self, targets: AutoTargets) -> Self {
        self.auto = Mutex::new(AutoChoice::new(targets.socket_retry));
        self.auto_targets = targets;
        self
    }

    pub fn address(&self) -> &ChronyAddress {
        &self.address
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn is_disabled(&self) -> bool {
        self.address == ChronyAddress::None
    }

    /// Opens a session: one socket for a batch of queries (one scrape).
    /// With `auto`, see [`super::auto`] for which endpoint it takes.
    ///
    /// The timeout is one deadline for the whole session, set here: all the
    /// queries of a scrape together take at most the timeout.
    pub async fn session(&self) -> Result<Session<'_>, ChronyError> {
        let deadline = Instant::now() + self.timeout;
        match &self.address {
            ChronyAddress::None => Err(ChronyError::Disabled),
            ChronyAddress::Unix(path) => self.open(&Endpoint::Unix(path.clone()), deadline).await,
            ChronyAddress::Udp { .. } => {
                let addr = match &self.udp {
                    Some(UdpTarget::Literal(addr)) => *addr,
                    Some(UdpTarget::Name(resolver)) => resolver.address(deadline).await?,
                    None => return Err(ChronyError::Disabled),
                };
                self.open(&Endpoint::Udp(addr), deadline).await
            }
            ChronyAddress::Auto => self.open_auto(deadline).await,
        }
    }

    async fn open(
        &self,
        endpoint: &Endpoint,
        deadline: Instant,
    ) -> Result<Session<'_>, ChronyError> {
        let kept = lock(&self.idle)
            .take()
            .filter(|(kept_for, socket)| kept_for == endpoint && socket.still_reaches_peer());
        let socket = match kept {
            Some((_, socket)) => socket,
            None => Socket::open(endpoint).await?,
        };
        Ok(Session {
            client: self,
            endpoint: endpoint.clone(),
            socket: Some(socket),
            healthy: AtomicBool::new(true),
            deadline,
        })
    }

    async fn open_auto(&self, deadline: Instant) -> Result<Session<'_>, ChronyError> {
        let socket_path = &self.auto_targets.socket;
        let plan = lock(&self.auto).plan(std::time::Instant::now(), || FileId::of(socket_path));
        match plan {
            Plan::Use(endpoint) => {
                if let Ok(session) = self.open(&endpoint, deadline).await {
                    return Ok(session);
                }
                lock(&self.auto).failed(&endpoint);
            }
            Plan::TrySocket { file, fallback } => {
                match self
                    .open(&Endpoint::Unix(socket_path.clone()), deadline)
                    .await
                {
                    Ok(session) => {
                        self.chose(&session.endpoint);
                        return Ok(session);
                    }
                    Err(e) => {
                        tracing::debug!(socket = %socket_path.display(), error = %e,
                            "chronyd's socket is still not usable; staying on UDP");
                        lock(&self.auto).socket_failed(file, std::time::Instant::now());
                    }
                }
                if let Ok(session) = self.open(&fallback, deadline).await {
                    return Ok(session);
                }
                lock(&self.auto).failed(&fallback);
            }
            Plan::Search => {}
        }
        self.search(deadline).await
    }

    /// Tries every candidate in order; the first that works is chosen.
    async fn search(&self, deadline: Instant) -> Result<Session<'_>, ChronyError> {
        let targets = &self.auto_targets;
        let socket_error = match self
            .open(&Endpoint::Unix(targets.socket.clone()), deadline)
            .await
        {
            Ok(session) => {
                self.chose(&session.endpoint);
                return Ok(session);
            }
            Err(e) => e,
        };
        lock(&self.auto).socket_failed(FileId::of(&targets.socket), std::time::Instant::now());
        for addr in &targets.udp {
            // A UDP socket opens whether or not chronyd listens: probe.
            if let Ok(session) = self.open(&Endpoint::Udp(*addr), deadline).await {
                if session.query(Request::NSources).await.is_ok() {
                    self.chose(&session.endpoint);
                    return Ok(session);
                }
            }
        }
        // The first candidate's reason: the socket is what `auto` prefers.
        Err(socket_error)
    }

    /// Records `auto`'s choice; a change is logged once.
    fn chose(&self, endpoint: &Endpoint) {
        let Some(change) = lock(&self.auto).chose(endpoint) else {
            return;
        };
        let udp = matches!(change.to, Endpoint::Udp(_));
        let note = if udp {
            "ntpdata and serverstats need chronyd's socket: skipped until it is usable"
        } else {
            "all collectors available"
        };
        match change.from {
            None => tracing::info!(chrony = %change.to, "chronyd reached (auto): {note}"),
            Some(from) => tracing::info!(%from, to = %change.to,
                "chronyd transport changed (auto): {note}"),
        }
    }

    /// Reserves `n` consecutive sequence numbers.
    fn next_sequences(&self, n: usize) -> u32 {
        self.sequence.fetch_add(n as u32, Ordering::Relaxed)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// One socket and the queries made over it.
pub struct Session<'a> {
    client: &'a ChronyClient,
    endpoint: Endpoint,
    /// Always present until the session is dropped, which hands a healthy
    /// socket back to the client.
    socket: Option<Socket>,
    /// No transport error or timeout so far: the socket may be reused. A
    /// refusal from chronyd does not count (it proves the socket works),
    /// nor does a discarded datagram in a batch that completed. Late
    /// replies to this session's requests that reach the next one are told
    /// apart by sequence number.
    healthy: AtomicBool,
    /// When the session's time is up, whatever is still unanswered.
    deadline: Instant,
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        if !self.healthy.load(Ordering::Relaxed) {
            if self.client.address == ChronyAddress::Auto {
                lock(&self.client.auto).failed(&self.endpoint);
            }
            return;
        }
        if let Some(socket) = self.socket.take() {
            *lock(&self.client.idle) = Some((self.endpoint.clone(), socket));
        }
    }
}

impl Session<'_> {
    fn socket(&self) -> &Socket {
        self.socket
            .as_ref()
            .expect("a session holds its socket until it is dropped")
    }

    fn spoilt(&self) {
        self.healthy.store(false, Ordering::Relaxed);
    }

    pub fn transport(&self) -> Transport {
        if self.socket().is_udp() {
            Transport::Udp
        } else {
            Transport::Unix
        }
    }

    pub fn address(&self) -> String {
        self.socket().address()
    }

    pub async fn query(&self, request: Request) -> Result<ReplyBody, ChronyError> {
        let mut results = self.query_many(&[request]).await;
        results.pop().unwrap_or(Err(ChronyError::Disabled))
    }

    /// Sends all requests and collects their replies in order, driving a
    /// [`cmdmon::Exchange`] with this session's socket: it sends what the
    /// exchange asks for, hands it every datagram, and sleeps until its next
    /// wake-up. The batch ends at the session's deadline, so a chronyd that
    /// never answers costs at most the timeout per session, not per query.
    pub async fn query_many(&self, requests: &[Request]) -> Vec<Result<ReplyBody, ChronyError>> {
        let config = ExchangeConfig {
            window: if self.socket().is_udp() {
                WINDOW_UDP
            } else {
                WINDOW_UNIX
            },
            attempts: ATTEMPTS,
            resend_after: self.client.timeout / u32::from(ATTEMPTS),
        };
        let base = self.client.next_sequences(requests.len());
        // One clock reading per wake-up, for the datagram and the sends it
        // lets out.
        let mut now = Instant::now().into_std();
        let mut exchange = Exchange::new(requests, base, config, self.deadline.into_std(), now);
        let socket = self.socket();
        let mut buf = [0u8; RECV_BUF];
        let mut transport_error = None;
        'batch: while !exchange.is_done() {
            while let Some(packet) = exchange.poll_transmit(now) {
                if let Err(e) = socket.send(&packet).await {
                    transport_error = Some(e);
                    break 'batch;
                }
            }
            let Some(wake) = exchange.next_wakeup() else {
                break;
            };
            let received =
                tokio::time::timeout_at(Instant::from_std(wake), socket.recv(&mut buf)).await;
            now = Instant::now().into_std();
            match received {
                Err(_elapsed) => exchange.on_timeout(now),
                Ok(Ok(len)) => {
                    if let Received::Discarded(e) = exchange.on_datagram(now, &buf[..len]) {
                        tracing::debug!(peer = %socket.address(), error = %e, len,
                            "discarded a datagram that is not a chrony reply");
                    }
                }
                Ok(Err(e)) => {
                    transport_error = Some(e);
                    break;
                }
            }
        }
        if transport_error.is_some() {
            exchange.abort();
        }
        let discarded = exchange.discarded().clone();
        let address = socket.address();
        let transport_error = transport_error.map(|e| io_error(&address, e));
        let results: Vec<Result<ReplyBody, ChronyError>> = exchange
            .into_results()
            .into_iter()
            .zip(requests)
            .map(|(result, request)| {
                result.map_err(|failure| {
                    self.error(request, failure, &discarded, transport_error.as_ref())
                })
            })
            .collect();
        let timed_out = results.iter().any(|r| {
            matches!(
                r,
                Err(ChronyError::Timeout { .. } | ChronyError::NotChrony { .. })
            )
        });
        if transport_error.is_some() || timed_out {
            self.spoilt();
        }
        results
    }

    fn error(
        &self,
        request: &Request,
        failure: Failure,
        discarded: &Discarded,
        transport_error: Option<&ChronyError>,
    ) -> ChronyError {
        let address = self.socket().address();
        match failure {
            Failure::Refused(status) => ChronyError::Refused {
                command: request.name(),
                status,
                hint: refusal_hint(status, self.socket().is_udp()),
            },
            Failure::Malformed(source) => ChronyError::Protocol {
                address,
                command: request.name(),
                source,
            },
            Failure::TimedOut { attempts } => match &discarded.first {
                // Nothing answered, but something sent garbage: say so.
                Some(first) => ChronyError::NotChrony {
                    address,
                    timeout: self.client.timeout,
                    discarded: discarded.count,
                    first: first.clone(),
                },
                None => ChronyError::Timeout {
                    address,
                    timeout: self.client.timeout,
                    attempts,
                },
            },
            Failure::Aborted => match transport_error {
                Some(err) => clone_err(err, &address),
                None => ChronyError::Io {
                    address,
                    source: std::io::Error::other("the exchange was abandoned"),
                },
            },
        }
    }
}

fn io_error(address: &str, e: std::io::Error) -> ChronyError {
    if e.kind() == std::io::ErrorKind::ConnectionRefused {
        ChronyError::NotListening {
            address: address.to_string(),
        }
    } else {
        ChronyError::Io {
            address: address.to_string(),
            source: e,
        }
    }
}

/// io::Error is not Clone; keep the kind and message.
fn clone_err(err: &ChronyError, address: &str) -> ChronyError {
    match err {
        ChronyError::NotListening { .. } => ChronyError::NotListening {
            address: address.to_string(),
        },
        ChronyError::Io { source, .. } => ChronyError::Io {
            address: address.to_string(),
            source: std::io::Error::new(source.kind(), source.to_string()),
        },
        other => ChronyError::Io {
            address: address.to_string(),
            source: std::io::Error::other(other.to_string()),
        },
    }
}
