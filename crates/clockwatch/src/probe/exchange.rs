//! The network side of the probe: one request and its reply (a sample), and
//! a round (a short burst of samples to one server, the lowest-delay valid
//! one kept). The protocol itself is the `ntpclient` crate's.
//!
//! Every sample has its own socket, bound to a fresh ephemeral port and
//! connected to the server: the kernel drops datagrams from any other
//! address, a late reply to an earlier sample finds its socket closed, and
//! an ICMP "port unreachable" ends the sample at once. A reply that does
//! not echo the request's cookie is dropped and the sample goes on waiting
//! for the real one until its deadline.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU64;
use std::time::{Duration, SystemTime};

use ntpclient::{Kiss, Measurement, NtpTimestamp, ReplyError, Request};
use tokio::net::UdpSocket;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::server::ServerSpec;
use crate::chrony::resolve::Resolver;

/// Receive buffer: larger than any packet accepted, so that an oversized
/// one is seen as such (and its length told right up to this size).
const RECEIVE_BUFFER: usize = 4096;

/// Why a sample or a round gave no measurement.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("cannot resolve {host}: {source}")]
    Resolve { host: String, source: io::Error },
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    #[error("nothing listens on {0} (ICMP port unreachable)")]
    Refused(SocketAddr),
    #[error("bad reply: {0}")]
    Reply(#[from] ReplyError),
    #[error("no random source for the request's cookie: {0}")]
    Random(getrandom::Error),
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
}

impl ProbeError {
    /// A short, stable reason for logs, JSON and labels.
    pub fn kind(&self) -> &'static str {
        match self {
            ProbeError::Resolve { .. } => "resolve",
            ProbeError::Timeout(_) => "timeout",
            ProbeError::Refused(_) => "refused",
            ProbeError::Reply(e) => e.kind(),
            ProbeError::Random(_) => "random",
            ProbeError::Io(_) => "io",
        }
    }

    pub fn kiss(&self) -> Option<Kiss> {
        match self {
            ProbeError::Reply(ReplyError::Kiss(kiss)) => Some(*kiss),
            _ => None,
        }
    }

    /// Which failure a round reports when all its samples failed: a kiss
    /// (the server said what to do), then a bad reply (the server answered
    /// something), then anything else.
    fn rank(&self) -> u8 {
        match self {
            ProbeError::Reply(ReplyError::Kiss(_)) => 3,
            ProbeError::Reply(ReplyError::NotOurs { .. }) => 1,
            ProbeError::Reply(_) => 2,
            _ => 0,
        }
    }
}

/// Where a server is: an IP literal, or a name looked up off-thread.
pub(crate) enum Target {
    Literal(SocketAddr),
    Name(Resolver),
}

impl Target {
    pub(crate) fn new(spec: &ServerSpec) -> Self {
        match spec.host.parse::<IpAddr>() {
            Ok(ip) => Target::Literal(SocketAddr::new(ip, spec.port)),
            Err(_) => Target::Name(Resolver::for_role("probe", &spec.host, spec.port)),
        }
    }

    async fn address(&self, host: &str, deadline: Instant) -> Result<SocketAddr, ProbeError> {
        match self {
            Target::Literal(address) => Ok(*address),
            Target::Name(resolver) => {
                resolver
                    .lookup(deadline)
                    .await
                    .map_err(|source| ProbeError::Resolve {
                        host: host.to_string(),
                        source,
                    })
            }
        }
    }
}

/// How one round is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Burst {
    /// Requests per round.
    pub samples: u32,
    /// Time between two requests of a round.
    pub spacing: Duration,
    /// How long each request waits for its reply.
    pub timeout: Duration,
}

impl Burst {
    /// The longest a round can take: the last request leaves after
    /// (samples − 1) × spacing and waits at most the timeout.
    pub fn longest(&self) -> Duration {
        self.spacing * self.samples.saturating_sub(1) + self.timeout
    }
}

/// What one round found.
#[derive(Debug)]
pub struct Round {
    pub address: Option<SocketAddr>,
    /// The valid sample with the lowest delay, or why there was none.
    pub best: Result<Measurement, ProbeError>,
    /// A Kiss-o'-Death any sample got (the round stops sending at the first).
    pub kiss: Option<Kiss>,
    /// Samples that ended (answered, failed or timed out), and of them the
    /// valid ones.
    pub completed: u32,
    pub valid: u32,
    /// When the round started (system clock).
    pub at: SystemTime,
}

/// One round to `target`: `burst.samples` requests `burst.spacing` apart,
/// each waiting `burst.timeout` for its reply, the first one at once. Ends
/// at the first Kiss-o'-Death: a server that asks for less traffic gets no
/// more requests in this round.
pub(crate) async fn round(spec: &ServerSpec, target: &Target, burst: Burst) -> Round {
    let at = SystemTime::now();
    let start = Instant::now();
    let address = match target.address(&spec.host, start + burst.timeout).await {
        Ok(address) => address,
        Err(e) => {
            return Round {
                address: None,
                best: Err(e),
                kiss: None,
                completed: 0,
                valid: 0,
                at,
            }
        }
    };
    let mut samples = JoinSet::new();
    for i in 0..burst.samples.max(1) {
        let send_at = start + burst.spacing * i;
        samples.spawn(async move {
            tokio::time::sleep_until(send_at).await;
            sample(address, burst.timeout).await
        });
    }
    let (mut best, mut failure): (Option<Measurement>, Option<ProbeError>) = (None, None);
    let (mut completed, mut valid, mut kiss) = (0, 0, None);
    while let Some(joined) = samples.join_next().await {
        // Samples aborted after a kiss have nothing to say.
        let Ok(outcome) = joined else { continue };
        completed += 1;
        match outcome {
            Ok(m) => {
                valid += 1;
                if best.is_none_or(|b| m.delay < b.delay) {
                    best = Some(m);
                }
            }
            Err(e) => {
                if let Some(k) = e.kiss() {
                    kiss.get_or_insert(k);
                    // The requests not yet sent are not sent.
                    samples.abort_all();
                }
                if failure.as_ref().is_none_or(|f| e.rank() > f.rank()) {
                    failure = Some(e);
                }
            }
        }
    }
    let best = match (best, failure) {
        (Some(m), _) => Ok(m),
        (None, Some(e)) => Err(e),
        (None, None) => Err(ProbeError::Timeout(burst.timeout)),
    };
    Round {
        address: Some(address),
        best,
        kiss,
        completed,
        valid,
        at,
    }
}

/// One request to `address` and its reply, within `timeout`.
pub(crate) async fn sample(
    address: SocketAddr,
    timeout: Duration,
) -> Result<Measurement, ProbeError> {
    let deadline = Instant::now() + timeout;
    let request = Request::new(cookie()?);
    let local: SocketAddr = match address {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(address).await?;
    // T1 on the system clock; T4 = T1 + the monotonic time in between, so
    // that a clock step during the exchange cannot distort the delay.
    let sent_at = SystemTime::now();
    let sent_mono = Instant::now();
    socket.send(&request.encode()).await?;
    let sent = NtpTimestamp::from_system_time(sent_at);
    let mut buffer = [0u8; RECEIVE_BUFFER];
    let mut ignored: Option<ReplyError> = None;
    loop {
        let len = match tokio::time::timeout_at(deadline, socket.recv(&mut buffer)).await {
            Ok(Ok(len)) => len,
            Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {
                return Err(ProbeError::Refused(address))
            }
            Ok(Err(e)) => return Err(ProbeError::Io(e)),
            // Only replies that were not ours came: say so, it is the news.
            Err(_elapsed) => {
                return Err(ignored.map_or(ProbeError::Timeout(timeout), ProbeError::Reply))
            }
        };
        let received = sent.wrapping_add(sent_mono.elapsed());
        match request.measure(&buffer[..len], sent, received) {
            Ok(m) => return Ok(m),
            Err(e @ ReplyError::NotOurs { .. }) => {
                tracing::debug!(%address, error = %e, "ignoring a reply that is not ours");
                ignored = Some(e);
            }
            Err(e) => return Err(ProbeError::Reply(e)),
        }
    }
}

/// A fresh random transmit timestamp. No weak fallback: a predictable
/// cookie would let an off-path attacker forge replies.
fn cookie() -> Result<NonZeroU64, ProbeError> {
    loop {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).map_err(ProbeError::Random)?;
        if let Some(c) = NonZeroU64::new(u64::from_be_bytes(bytes)) {
            return Ok(c);
        }
    }
}
