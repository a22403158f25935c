//! The chronyd client: sessions over UDP or the unix socket, random initial
//! sequence numbers, pipelined requests, retransmission with a new attempt
//! number, and one deadline for the whole exchange.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use cmdmon::{ReplyBody, ReplyError, ReplyHeader, Request};
use tokio::time::Instant;

use super::address::{ChronyAddress, DEFAULT_SOCKET};
use super::error::{refusal_hint, ChronyError};
use super::resolve::Resolver;
use super::socket::{random_u32, Socket};

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
/// Requests are resent this many times within the timeout.
const ATTEMPTS: u16 = 3;
/// Large enough for any reply (the longest is 284 bytes).
const RECV_BUF: usize = 1024;

/// Which transport a session uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Unix,
}

/// A resolved place to send requests to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Endpoint {
    Udp(SocketAddr),
    Unix(std::path::PathBuf),
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
    /// For `auto`: the endpoint that answered last, tried first next time.
    last_good: Mutex<Option<Endpoint>>,
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
        Self {
            address,
            udp,
            timeout,
            sequence: AtomicU32::new(random_u32()),
            last_good: Mutex::new(None),
            idle: Mutex::new(None),
        }
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
    /// With `auto`, tries the unix socket, then 127.0.0.1:323, then
    /// [::1]:323, and sticks with whichever answered.
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
        let kept = self
            .idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .filter(|(kept_for, socket)| kept_for == endpoint && socket.still_reaches_peer());
        let socket = match kept {
            Some((_, socket)) => socket,
            None => match endpoint {
                Endpoint::Udp(addr) => Socket::udp(*addr).await?,
                Endpoint::Unix(path) => Socket::unix(path)?,
            },
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
        let cached = self
            .last_good
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(endpoint) = cached {
            if let Ok(session) = self.open(&endpoint, deadline).await {
                return Ok(session);
            }
        }
        let [v4, v6] = ChronyAddress::auto_udp_fallbacks();
        let candidates = [
            Endpoint::Unix(DEFAULT_SOCKET.into()),
            Endpoint::Udp(v4),
            Endpoint::Udp(v6),
        ];
        let mut first_error = None;
        for endpoint in candidates {
            match self.open(&endpoint, deadline).await {
                // A UDP socket opens whether or not chronyd listens: probe.
                Ok(session) if session.socket().is_udp() => {
                    match session.query(Request::NSources).await {
                        Ok(_) => {
                            *self.last_good.lock().unwrap_or_else(|p| p.into_inner()) =
                                Some(endpoint);
                            return Ok(session);
                        }
                        Err(e) => {
                            first_error.get_or_insert(e);
                        }
                    }
                }
                Ok(session) => {
                    *self.last_good.lock().unwrap_or_else(|p| p.into_inner()) = Some(endpoint);
                    return Ok(session);
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(first_error.unwrap_or(ChronyError::Disabled))
    }

    /// Reserves `n` consecutive sequence numbers.
    fn next_sequences(&self, n: usize) -> u32 {
        self.sequence.fetch_add(n as u32, Ordering::Relaxed)
    }
}

/// One socket and the queries made over it.
pub struct Session<'a> {
    client: &'a ChronyClient,
    endpoint: Endpoint,
    /// Always present until the session is dropped, which hands a healthy
    /// socket back to the client.
    socket: Option<Socket>,
    /// No transport error, timeout or garbage so far: the socket may be
    /// reused. A refusal from chronyd does not count; it proves the socket
    /// works. Late replies to this session's requests that reach the next
    /// one are told apart by sequence number.
    healthy: AtomicBool,
    /// When the session's time is up, whatever is still unanswered.
    deadline: Instant,
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        if !self.healthy.load(Ordering::Relaxed) {
            return;
        }
        if let Some(socket) = self.socket.take() {
            *self.client.idle.lock().unwrap_or_else(|p| p.into_inner()) =
                Some((self.endpoint.clone(), socket));
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

    /// Sends all requests, up to a window at a time, and collects their
    /// replies in order. Unanswered requests are resent (same sequence, next
    /// attempt number) and the batch ends at the session's deadline, so a
    /// chronyd that never answers costs at most the timeout per session, not
    /// per query.
    ///
    /// The bookkeeping per reply is constant: a scrape of 100 sources sends
    /// some 300 requests, and a scan of all of them per reply would cost as
    /// much as the datagrams themselves.
    pub async fn query_many(&self, requests: &[Request]) -> Vec<Result<ReplyBody, ChronyError>> {
        let n = requests.len();
        let base = self.client.next_sequences(n);
        let timeout = self.client.timeout;
        let deadline = self.deadline;
        let resend_every = timeout / u32::from(ATTEMPTS);
        let address = self.socket().address();
        if Instant::now() >= deadline {
            // An earlier query of this session used up the time: send nothing.
            return (0..n)
                .map(|_| {
                    Err(ChronyError::Timeout {
                        address: address.clone(),
                        timeout,
                        attempts: 0,
                    })
                })
                .collect();
        }

        let mut results: Vec<Option<Result<ReplyBody, ChronyError>>> =
            (0..n).map(|_| None).collect();
        let mut attempts = vec![0u16; n];
        // Requests sent and waiting for a reply, with when each is due for
        // a resend. Sends happen in time order, so this is ordered by due
        // time; answered entries are dropped when they reach the front.
        let window = if self.socket().is_udp() {
            WINDOW_UDP
        } else {
            WINDOW_UNIX
        };
        let mut waiting: VecDeque<(usize, Instant)> = VecDeque::with_capacity(window);
        let mut sent = 0usize;
        let mut pending = n;
        let mut buf = [0u8; RECV_BUF];

        'exchange: while pending > 0 {
            let now = Instant::now();
            let mut due = Vec::new();
            while let Some(&(i, at)) = waiting.front() {
                if results[i].is_some() {
                    waiting.pop_front();
                    continue;
                }
                if at > now {
                    break;
                }
                waiting.pop_front();
                // Out of attempts: it waits for a late reply until the deadline.
                if attempts[i] < ATTEMPTS {
                    due.push(i);
                }
            }
            // Fill the window: sent, minus those answered.
            while sent < n && sent - (n - pending) < window {
                due.push(sent);
                sent += 1;
            }
            for i in due {
                let packet = requests[i].encode(base.wrapping_add(i as u32), attempts[i]);
                attempts[i] += 1;
                waiting.push_back((i, now + resend_every));
                if let Err(e) = self.socket().send(&packet).await {
                    self.spoilt();
                    let err = io_error(&address, e);
                    fail_pending(&mut results, &mut pending, |_| clone_err(&err, &address));
                    break 'exchange;
                }
            }
            // Wait for a reply until the next resend is due or the deadline.
            let wake = waiting
                .iter()
                .find(|(i, _)| results[*i].is_none())
                .map_or(deadline, |&(_, at)| at.min(deadline));
            match tokio::time::timeout_at(wake, self.socket().recv(&mut buf)).await {
                Err(_elapsed) if Instant::now() >= deadline => {
                    self.spoilt();
                    let attempts_made = attempts.iter().copied().max().unwrap_or(0);
                    fail_pending(&mut results, &mut pending, |_| ChronyError::Timeout {
                        address: address.clone(),
                        timeout,
                        attempts: attempts_made,
                    });
                }
                Err(_elapsed) => {} // time to resend
                Ok(Err(e)) => {
                    self.spoilt();
                    let err = io_error(&address, e);
                    fail_pending(&mut results, &mut pending, |_| clone_err(&err, &address));
                }
                Ok(Ok(len)) => self.accept_reply(
                    &buf[..len],
                    base,
                    requests,
                    sent,
                    &mut results,
                    &mut pending,
                ),
            }
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or(Err(ChronyError::Disabled)))
            .collect()
    }

    /// Matches a received packet to its request by sequence number, among
    /// the requests sent so far. Replies to other requests (late answers to
    /// an earlier batch) are ignored; a
    /// packet that is not a chrony reply at all fails every pending request,
    /// since the peer is evidently not chronyd.
    fn accept_reply(
        &self,
        packet: &[u8],
        base: u32,
        requests: &[Request],
        sent: usize,
        results: &mut [Option<Result<ReplyBody, ChronyError>>],
        pending: &mut usize,
    ) {
        let header = match ReplyHeader::decode(packet) {
            Ok(h) => h,
            Err(e) => {
                self.spoilt();
                let address = self.socket().address();
                let reply_error = ReplyError::Decode(e);
                fail_pending(results, pending, |i| ChronyError::Protocol {
                    address: address.clone(),
                    command: requests[i].name(),
                    source: reply_error.clone(),
                });
                return;
            }
        };
        let index = header.sequence.wrapping_sub(base) as usize;
        if index >= sent || results[index].is_some() {
            return; // stray, duplicate, or a guess at a request not sent yet
        }
        let request = &requests[index];
        let outcome = match request.parse_reply(header.sequence, packet) {
            Ok(body) => Ok(body),
            Err(e) if e.is_stray() => return,
            Err(ReplyError::Status(status)) => Err(ChronyError::Refused {
                command: request.name(),
                status,
                hint: refusal_hint(status, self.socket().is_udp()),
            }),
            Err(source) => Err(ChronyError::Protocol {
                address: self.socket().address(),
                command: request.name(),
                source,
            }),
        };
        results[index] = Some(outcome);
        *pending -= 1;
    }
}

fn fail_pending(
    results: &mut [Option<Result<ReplyBody, ChronyError>>],
    pending: &mut usize,
    make: impl Fn(usize) -> ChronyError,
) {
    for (i, slot) in results.iter_mut().enumerate() {
        if slot.is_none() {
            *slot = Some(Err(make(i)));
            *pending -= 1;
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
