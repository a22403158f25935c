//! Host names in `udp://NAME:PORT` (and the NTP probe's servers), looked up
//! without ever stalling a scrape.
//!
//! The system resolver (`getaddrinfo`) blocks, and with an unreachable DNS
//! server it blocks for `timeout × attempts` of resolv.conf (10 s by
//! default, more with search domains). On the serving thread that would
//! stall every endpoint, `/healthz` included. So the lookup runs on tokio's
//! blocking pool, and:
//!
//! - the first scrape waits for it at most until its chrony deadline;
//! - once a name has resolved, scrapes use that address at once and a
//!   fresh lookup runs in the background every [`REFRESH`], so a DNS outage
//!   costs no scrape and a moved chronyd is followed within a minute;
//! - one lookup at a time: a resolver that never answers holds one blocking
//!   thread, not one per scrape.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::error::ChronyError;

/// How old an answer may grow before a scrape starts a new lookup.
pub(crate) const REFRESH: Duration = Duration::from_secs(60);

type Lookup = JoinHandle<io::Result<SocketAddr>>;
/// How a name becomes an address: the system resolver, or a scripted one
/// in the tests of the caching below.
type LookupFn = Arc<dyn Fn(&str, u16) -> io::Result<SocketAddr> + Send + Sync>;

pub(crate) struct Resolver {
    /// Whose host this is, for messages: "chrony" or "probe".
    role: &'static str,
    host: String,
    port: u16,
    refresh: Duration,
    lookup: LookupFn,
    state: tokio::sync::Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The last address the name resolved to, and when.
    known: Option<(SocketAddr, Instant)>,
    /// The lookup under way, if any.
    pending: Option<Lookup>,
}

impl Resolver {
    /// chronyd's host: errors are [`ChronyError::Resolve`].
    pub(crate) fn new(host: &str, port: u16) -> Self {
        Self::for_role("chrony", host, port)
    }

    /// Another user's host (`role` names it in messages: "probe"); its
    /// lookups go through [`Resolver::lookup`].
    pub(crate) fn for_role(role: &'static str, host: &str, port: u16) -> Self {
        Self::with_lookup(role, host, port, REFRESH, Arc::new(system_lookup))
    }

    fn with_lookup(
        role: &'static str,
        host: &str,
        port: u16,
        refresh: Duration,
        lookup: LookupFn,
    ) -> Self {
        Self {
            role,
            host: host.to_string(),
            port,
            refresh,
            lookup,
            state: Default::default(),
        }
    }

    /// The address to send to: the last answer while it is fresh or while a
    /// refresh is under way; otherwise waits for a lookup, until `deadline`.
    pub(crate) async fn address(&self, deadline: Instant) -> Result<SocketAddr, ChronyError> {
        self.lookup(deadline)
            .await
            .map_err(|source| ChronyError::Resolve {
                host: self.host.clone(),
                source,
            })
    }

    /// [`Resolver::address`] with the lookup's own error.
    pub(crate) async fn lookup(&self, deadline: Instant) -> io::Result<SocketAddr> {
        let mut state = self.state.lock().await;
        if let Some(lookup) = state.pending.take_if(|lookup| lookup.is_finished()) {
            let outcome = joined(lookup.await);
            // A lookup that failed with nothing known is retried below.
            let _ = self.absorb(&mut state, outcome);
        }
        if let Some((address, at)) = state.known {
            if at.elapsed() >= self.refresh && state.pending.is_none() {
                state.pending = Some(self.spawn());
            }
            return Ok(address);
        }
        let lookup = state.pending.get_or_insert_with(|| self.spawn());
        let outcome = match tokio::time::timeout_at(deadline, lookup).await {
            Ok(result) => joined(result),
            // The lookup goes on; the next scrape picks up its answer.
            Err(_elapsed) => return Err(still_resolving(self.role)),
        };
        state.pending = None;
        self.absorb(&mut state, outcome)
    }

    fn spawn(&self) -> Lookup {
        let (host, port, lookup) = (self.host.clone(), self.port, self.lookup.clone());
        tokio::task::spawn_blocking(move || lookup(&host, port))
    }

    /// Records a finished lookup. A failed refresh keeps the last answer:
    /// the address that worked is the best guess while DNS is down.
    fn absorb(&self, state: &mut State, outcome: io::Result<SocketAddr>) -> io::Result<SocketAddr> {
        match outcome {
            Ok(address) => {
                state.known = Some((address, Instant::now()));
                Ok(address)
            }
            Err(e) => match state.known {
                Some((address, _)) => {
                    tracing::warn!(host = %self.host, error = %e, %address,
                        "cannot re-resolve the {} host; keeping its last address", self.role);
                    Ok(address)
                }
                None => Err(e),
            },
        }
    }
}

/// getaddrinfo's first answer (its order follows RFC 6724).
fn system_lookup(host: &str, port: u16) -> io::Result<SocketAddr> {
    (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no addresses"))
}

fn joined(
    result: Result<io::Result<SocketAddr>, tokio::task::JoinError>,
) -> io::Result<SocketAddr> {
    result.unwrap_or_else(|e| Err(io::Error::other(format!("the lookup failed: {e}"))))
}

fn still_resolving(role: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("no answer from the system resolver within the {role} timeout (the lookup goes on in the background)"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A resolver whose lookups answer from `script` in turn (the last
    /// answer repeats), each after `delay`; counts the lookups made.
    fn scripted(
        refresh: Duration,
        delay: Duration,
        script: Vec<Result<SocketAddr, &'static str>>,
    ) -> (Resolver, Arc<AtomicUsize>) {
        let made = Arc::new(AtomicUsize::new(0));
        let counter = made.clone();
        let lookup: LookupFn = Arc::new(move |_, _| {
            let turn = counter.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(delay);
            let answer = script[turn.min(script.len() - 1)];
            answer.map_err(io::Error::other)
        });
        (
            Resolver::with_lookup("chrony", "chronyd.example", 323, refresh, lookup),
            made,
        )
    }

    fn at(last_octet: u8) -> SocketAddr {
        SocketAddr::from(([192, 0, 2, last_octet], 323))
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(2)
    }

    /// Waits (at most 5 s) until the background lookup has finished, so
    /// the next call sees its answer however slow the machine is.
    async fn settle(resolver: &Resolver) {
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            let finished = resolver
                .state
                .lock()
                .await
                .pending
                .as_ref()
                .is_none_or(JoinHandle::is_finished);
            if finished {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("the background lookup did not finish within 5 s");
    }

    #[tokio::test]
    async fn an_answer_is_kept_until_it_is_due_for_refresh() {
        let (resolver, made) = scripted(Duration::from_secs(60), Duration::ZERO, vec![Ok(at(1))]);
        for _ in 0..3 {
            assert_eq!(resolver.address(soon()).await.expect("resolves"), at(1));
        }
        assert_eq!(made.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failed_first_lookup_is_an_error_and_is_retried() {
        let (resolver, made) = scripted(
            Duration::from_secs(60),
            Duration::ZERO,
            vec![Err("no such name"), Ok(at(1))],
        );
        let error = resolver
            .address(soon())
            .await
            .expect_err("first lookup fails");
        assert!(
            error
                .to_string()
                .contains("cannot resolve chrony host chronyd.example: no such name"),
            "{error}"
        );
        assert_eq!(resolver.address(soon()).await.expect("retried"), at(1));
        assert_eq!(made.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn refreshes_run_behind_the_scrapes_and_a_failed_one_keeps_the_address() {
        let (resolver, made) = scripted(
            Duration::ZERO,
            Duration::ZERO,
            vec![Ok(at(1)), Err("DNS down"), Ok(at(2))],
        );
        assert_eq!(resolver.address(soon()).await.expect("resolves"), at(1));
        // Due for refresh: answered from memory, the refresh starts.
        assert_eq!(resolver.address(soon()).await.expect("kept"), at(1));
        settle(&resolver).await;
        // The refresh failed: still the known address; another starts.
        assert_eq!(resolver.address(soon()).await.expect("kept"), at(1));
        settle(&resolver).await;
        // That one moved the name.
        assert_eq!(resolver.address(soon()).await.expect("moved"), at(2));
        assert!(made.load(Ordering::SeqCst) >= 3);
    }

    #[tokio::test]
    async fn a_hanging_lookup_ends_at_the_deadline_and_is_not_repeated() {
        let (resolver, made) = scripted(
            Duration::from_secs(60),
            Duration::from_millis(400),
            vec![Ok(at(1))],
        );
        let deadline = Instant::now() + Duration::from_millis(100);
        let error = resolver.address(deadline).await.expect_err("times out");
        // Well before the lookup's own end, 300 ms after the deadline.
        assert!(Instant::now() < deadline + Duration::from_millis(200));
        assert!(
            error.to_string().contains("within the chrony timeout"),
            "{error}"
        );
        // The next scrape waits for the same lookup, which then answers.
        assert_eq!(resolver.address(soon()).await.expect("resolves"), at(1));
        assert_eq!(made.load(Ordering::SeqCst), 1);
    }
}
