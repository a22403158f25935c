//! A batch of requests to chronyd as a state machine, without I/O.
//!
//! chronyd answers each request with one datagram, in any order, and may
//! lose either. [`Exchange`] decides what to send and when, matches what
//! comes back to the request it answers, and ends the batch at one deadline;
//! the caller owns the socket and the clock and only drives it:
//!
//! ```
//! use std::time::{Duration, Instant};
//! use cmdmon::{Exchange, ExchangeConfig, Request};
//!
//! let requests = [Request::Tracking, Request::NSources];
//! let config = ExchangeConfig { window: 8, attempts: 3, resend_after: Duration::from_millis(300) };
//! let start = Instant::now();
//! let deadline = start + Duration::from_secs(1);
//! let mut exchange = Exchange::new(&requests, 0x1234, config, deadline, start);
//! # let mut peer = |packet: &[u8]| {
//! #     let (_, sequence, _) = Request::decode(packet).expect("a request");
//! #     cmdmon::testing::tracking_reply(sequence) // answers tracking, not n_sources
//! # };
//! // The caller's clock: here a virtual one that jumps to each wake-up.
//! let mut now = start;
//! while !exchange.is_done() {
//!     while let Some(packet) = exchange.poll_transmit(now) {
//!         // socket.send(&packet); this peer answers at once.
//!         let reply = peer(&packet);
//!         exchange.on_datagram(now, &reply);
//!     }
//!     // A transport waits for a datagram until next_wakeup() and hands it
//!     // to on_datagram(); when none came, it calls on_timeout().
//!     if let Some(wake) = exchange.next_wakeup() {
//!         now = wake;
//!         exchange.on_timeout(now);
//!     }
//! }
//! let results = exchange.into_results();
//! assert!(results[0].is_ok());
//! assert!(results[1].is_err()); // never answered: timed out at the deadline
//! ```
//!
//! The rules, each a unit test below:
//!
//! - request `i` goes out with sequence number `base_sequence + i`; at most
//!   `window` requests are outstanding (sent, not yet answered), and the
//!   window is refilled as replies arrive;
//! - a request without a reply `resend_after` after it was sent is sent
//!   again with the same sequence number and the next attempt number, up to
//!   `attempts` sends in all; after the last it waits for a late reply;
//! - a reply is matched by sequence number and command; a reply to any
//!   attempt answers the request. Duplicates, replies to another command and
//!   replies to other batches (their sequence numbers lie outside this one's)
//!   are ignored;
//! - a datagram that is not a chrony reply at all (its header does not
//!   decode) is discarded and counted, and the batch keeps waiting: one stray
//!   datagram cannot fail the batch;
//! - a reply that answers a request but refuses it (a failure status), or
//!   whose body does not decode, is that request's outcome alone;
//! - at the deadline every request still without a reply has timed out.
//!   Every method taking `now` applies the deadline first.
//!
//! The work per datagram is constant: a batch of a few hundred requests
//! (a scrape of 100 sources) costs no scan of the batch per reply.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::error::{DecodeError, ReplyError};
use crate::reply::{ReplyBody, ReplyHeader};
use crate::request::Request;
use crate::status::Status;

/// How a batch is paced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExchangeConfig {
    /// Most requests outstanding at once (at least 1).
    pub window: usize,
    /// Sends of each request at most, the first included (at least 1).
    pub attempts: u16,
    /// How long a sent request waits for its reply before it is sent again.
    pub resend_after: Duration,
}

/// Why a request of the batch has no reply body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// chronyd answered with a failure status.
    Refused(Status),
    /// The reply answers this request but does not decode (wrong length,
    /// a value out of range, a reply type that does not answer the command).
    Malformed(ReplyError),
    /// No reply before the deadline, after this many sends (0: the deadline
    /// came before the window had room for it).
    TimedOut {
        /// How many times the request was sent.
        attempts: u16,
    },
    /// The caller gave up on the batch ([`Exchange::abort`]): the transport
    /// failed, and the caller knows why.
    Aborted,
}

/// What [`Exchange::on_datagram`] made of a datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// The reply to request `index` (its outcome may be a refusal or a
    /// malformed body).
    Answered {
        /// The request's index in the batch.
        index: usize,
    },
    /// A chrony reply that answers no outstanding request: a duplicate, a
    /// reply to another command, to another batch, or one that came after
    /// the batch ended. Ignored.
    Stray,
    /// Not a chrony reply (the header does not decode): discarded and
    /// counted in [`Exchange::discarded`].
    Discarded(DecodeError),
}

/// Datagrams discarded because they were not chrony replies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discarded {
    /// How many.
    pub count: u32,
    /// Why the first one did not decode.
    pub first: Option<DecodeError>,
}

/// One batch of requests: see the [module documentation](self).
#[derive(Debug)]
pub struct Exchange<'a> {
    requests: &'a [Request],
    base_sequence: u32,
    config: ExchangeConfig,
    deadline: Instant,
    /// Each request's outcome, once it has one.
    outcomes: Vec<Option<Result<ReplyBody, Failure>>>,
    /// Each request's sends so far; the next send's attempt number.
    sends: Vec<u16>,
    /// Requests sent and waiting for a reply, each with when it is due for
    /// a resend. Sends happen in time order with one interval, so this is
    /// ordered by due time. Answered entries are dropped once they reach
    /// the front; the front is never an answered one.
    waiting: VecDeque<(usize, Instant)>,
    /// Requests sent at least once: indices `0..sent`.
    sent: usize,
    /// Requests with an outcome.
    finished: usize,
    discarded: Discarded,
}

impl<'a> Exchange<'a> {
    /// A batch of `requests` that must be over by `deadline`. Request `i`
    /// carries sequence number `base_sequence + i` (wrapping); the caller
    /// reserves the range so that batches never share a number.
    pub fn new(
        requests: &'a [Request],
        base_sequence: u32,
        config: ExchangeConfig,
        deadline: Instant,
        now: Instant,
    ) -> Self {
        let config = ExchangeConfig {
            window: config.window.max(1),
            attempts: config.attempts.max(1),
            ..config
        };
        let n = requests.len();
        let mut exchange = Self {
            requests,
            base_sequence,
            config,
            deadline,
            outcomes: vec![None; n],
            sends: vec![0; n],
            waiting: VecDeque::with_capacity(config.window.min(n)),
            sent: 0,
            finished: 0,
            discarded: Discarded::default(),
        };
        exchange.apply_deadline(now);
        exchange
    }

    /// The next datagram to send now, or None when nothing is due. Call it
    /// until it returns None: first the resends that are due, then new
    /// requests while the window has room.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Vec<u8>> {
        self.apply_deadline(now);
        if self.is_done() {
            return None;
        }
        while let Some(&(index, due)) = self.waiting.front() {
            if due > now {
                break;
            }
            self.waiting.pop_front();
            self.drop_answered_front();
            // Out of attempts: it waits for a late reply until the deadline.
            if self.sends[index] < self.config.attempts {
                return Some(self.send(index, now));
            }
        }
        let outstanding = self.sent - self.finished;
        if self.sent < self.requests.len() && outstanding < self.config.window {
            let index = self.sent;
            self.sent += 1;
            return Some(self.send(index, now));
        }
        None
    }

    /// When the caller must call back (with [`poll_transmit`] and
    /// [`on_timeout`]) if no datagram arrives before: the next resend or
    /// the deadline. None once the batch is done.
    ///
    /// [`poll_transmit`]: Exchange::poll_transmit
    /// [`on_timeout`]: Exchange::on_timeout
    pub fn next_wakeup(&self) -> Option<Instant> {
        if self.is_done() {
            return None;
        }
        Some(match self.waiting.front() {
            Some(&(_, due)) => due.min(self.deadline),
            None => self.deadline,
        })
    }

    /// The wake-up time came without a datagram: applies the deadline. Due
    /// resends then come from [`poll_transmit`](Exchange::poll_transmit).
    pub fn on_timeout(&mut self, now: Instant) {
        self.apply_deadline(now);
    }

    /// A datagram arrived from the peer.
    pub fn on_datagram(&mut self, now: Instant, datagram: &[u8]) -> Received {
        self.apply_deadline(now);
        let header = match ReplyHeader::decode(datagram) {
            Ok(header) => header,
            Err(e) => {
                self.discarded.count = self.discarded.count.saturating_add(1);
                self.discarded.first.get_or_insert_with(|| e.clone());
                return Received::Discarded(e);
            }
        };
        let index = header.sequence.wrapping_sub(self.base_sequence) as usize;
        // Not sent yet (a guess at a future number), or answered already.
        if index >= self.sent || self.outcomes[index].is_some() {
            return Received::Stray;
        }
        let outcome = match self.requests[index].parse_reply(header.sequence, datagram) {
            Ok(body) => Ok(body),
            Err(e) if e.is_stray() => return Received::Stray,
            Err(ReplyError::Status(status)) => Err(Failure::Refused(status)),
            Err(e) => Err(Failure::Malformed(e)),
        };
        self.finish(index, outcome);
        self.drop_answered_front();
        Received::Answered { index }
    }

    /// Gives up: every request still without an outcome fails with
    /// [`Failure::Aborted`] (the caller's transport failed).
    pub fn abort(&mut self) {
        self.fail_unfinished(|_| Failure::Aborted);
    }

    /// True once every request has an outcome.
    pub fn is_done(&self) -> bool {
        self.finished == self.requests.len()
    }

    /// The datagrams discarded so far as not chrony replies.
    pub fn discarded(&self) -> &Discarded {
        &self.discarded
    }

    /// Each request's outcome, in the order of the requests. A request
    /// still without one (the batch was not done) is reported as
    /// [`Failure::Aborted`].
    pub fn into_results(self) -> Vec<Result<ReplyBody, Failure>> {
        self.outcomes
            .into_iter()
            .map(|outcome| outcome.unwrap_or(Err(Failure::Aborted)))
            .collect()
    }

    fn send(&mut self, index: usize, now: Instant) -> Vec<u8> {
        let sequence = self.base_sequence.wrapping_add(index as u32);
        let packet = self.requests[index].encode(sequence, self.sends[index]);
        self.sends[index] += 1;
        self.waiting
            .push_back((index, now + self.config.resend_after));
        packet
    }

    fn finish(&mut self, index: usize, outcome: Result<ReplyBody, Failure>) {
        self.outcomes[index] = Some(outcome);
        self.finished += 1;
    }

    fn drop_answered_front(&mut self) {
        while let Some(&(index, _)) = self.waiting.front() {
            if self.outcomes[index].is_none() {
                break;
            }
            self.waiting.pop_front();
        }
    }

    fn apply_deadline(&mut self, now: Instant) {
        if now >= self.deadline && !self.is_done() {
            let sends = std::mem::take(&mut self.sends);
            self.fail_unfinished(|index| Failure::TimedOut {
                attempts: sends[index],
            });
            self.sends = sends;
        }
    }

    fn fail_unfinished(&mut self, failure: impl Fn(usize) -> Failure) {
        for (index, outcome) in self.outcomes.iter_mut().enumerate() {
            if outcome.is_none() {
                *outcome = Some(Err(failure(index)));
                self.finished += 1;
            }
        }
        self.waiting.clear();
    }
}

#[cfg(test)]
mod tests;
