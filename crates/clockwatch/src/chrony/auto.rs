//! `auto`: which of chronyd's endpoints a session uses, and when to look
//! again. Without I/O: the caller passes in the time and what it sees of
//! chronyd's socket file, and does the trying.
//!
//! The candidates are chronyd's socket, then 127.0.0.1:323, then [::1]:323;
//! the first that works is chosen and used first from then on. The choice
//! is not for ever:
//!
//! - a session on the chosen endpoint that fails (timeout, transport error)
//!   makes the next session search the candidates again, from the socket;
//! - while the choice is UDP, each session looks at the socket file (one
//!   statx). If it exists and is a different file from the one that failed
//!   last (chronyd restarted with its socket, or the socket appeared), the
//!   socket is tried at once; if it is the same file, it is tried again
//!   every [`SOCKET_RETRY`] (a permission fixed). A socket that does not
//!   exist costs that one statx per session, nothing more.

use std::time::{Duration, Instant};

use super::socket::{Endpoint, FileId};

/// How long, while on UDP, a socket file that failed waits before it is
/// tried again.
pub(crate) const SOCKET_RETRY: Duration = Duration::from_secs(60);

/// What the next session should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Use the chosen endpoint.
    Use(Endpoint),
    /// The choice is UDP, but the socket is worth a try: try it first
    /// (`file` is what was seen of it), and use `fallback` if it fails.
    TrySocket {
        file: Option<FileId>,
        fallback: Endpoint,
    },
    /// Nothing is chosen, or the choice failed: try every candidate.
    Search,
}

/// A change of endpoint, to be logged once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Change {
    pub from: Option<Endpoint>,
    pub to: Endpoint,
}

#[derive(Debug)]
pub(crate) struct AutoChoice {
    chosen: Option<Endpoint>,
    /// False once a session on `chosen` failed: the next one searches.
    trusted: bool,
    /// The socket's last failed try: its file then (None: absent), and when.
    socket_failed: Option<(Option<FileId>, Instant)>,
    socket_retry: Duration,
}

impl AutoChoice {
    pub(crate) fn new(socket_retry: Duration) -> Self {
        Self {
            chosen: None,
            trusted: false,
            socket_failed: None,
            socket_retry,
        }
    }

    /// What to do now. `socket_file` looks at the socket file; it is called
    /// only while the choice is UDP.
    pub(crate) fn plan(
        &mut self,
        now: Instant,
        socket_file: impl FnOnce() -> Option<FileId>,
    ) -> Plan {
        match &self.chosen {
            Some(chosen @ Endpoint::Udp(_)) if self.trusted => {
                let file = socket_file();
                let worth_a_try = file.is_some()
                    && match self.socket_failed {
                        None => true,
                        Some((seen, at)) => {
                            seen != file || now.saturating_duration_since(at) >= self.socket_retry
                        }
                    };
                if worth_a_try {
                    Plan::TrySocket {
                        file,
                        fallback: chosen.clone(),
                    }
                } else {
                    Plan::Use(chosen.clone())
                }
            }
            Some(chosen) if self.trusted => Plan::Use(chosen.clone()),
            _ => Plan::Search,
        }
    }

    /// The socket was tried and failed; `file` is what was seen of it.
    pub(crate) fn socket_failed(&mut self, file: Option<FileId>, now: Instant) {
        self.socket_failed = Some((file, now));
    }

    /// `endpoint` worked and is used from now on. Returns the change, if it
    /// is one.
    pub(crate) fn chose(&mut self, endpoint: &Endpoint) -> Option<Change> {
        self.trusted = true;
        if matches!(endpoint, Endpoint::Unix(_)) {
            self.socket_failed = None;
        }
        if self.chosen.as_ref() == Some(endpoint) {
            return None;
        }
        let from = self.chosen.replace(endpoint.clone());
        Some(Change {
            from,
            to: endpoint.clone(),
        })
    }

    /// A session on `endpoint` failed: if it is the choice, the next session
    /// searches again.
    pub(crate) fn failed(&mut self, endpoint: &Endpoint) {
        if self.chosen.as_ref() == Some(endpoint) {
            self.trusted = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn udp() -> Endpoint {
        Endpoint::Udp(([127, 0, 0, 1], 323).into())
    }

    fn unix() -> Endpoint {
        Endpoint::Unix("/run/chrony/chronyd.sock".into())
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn never_looked() -> Option<FileId> {
        panic!("the socket file is looked at only while on UDP")
    }

    #[test]
    fn the_first_session_searches_and_the_choice_is_used_and_logged_once() {
        let t = Instant::now();
        let mut choice = AutoChoice::new(SOCKET_RETRY);
        assert_eq!(choice.plan(t, never_looked), Plan::Search);
        assert_eq!(
            choice.chose(&unix()),
            Some(Change {
                from: None,
                to: unix()
            })
        );
        assert_eq!(choice.plan(t, never_looked), Plan::Use(unix()));
        assert_eq!(choice.chose(&unix()), None, "no change, nothing to log");
    }

    #[test]
    fn a_failed_session_makes_the_next_one_search_again() {
        let t = Instant::now();
        let mut choice = AutoChoice::new(SOCKET_RETRY);
        choice.chose(&unix());
        choice.failed(&udp()); // not the choice: no effect
        assert_eq!(choice.plan(t, never_looked), Plan::Use(unix()));
        choice.failed(&unix());
        assert_eq!(choice.plan(t, never_looked), Plan::Search);
        // The search found the socket again: no change to log.
        assert_eq!(choice.chose(&unix()), None);
        // It found UDP: a change.
        choice.failed(&unix());
        assert_eq!(
            choice.chose(&udp()),
            Some(Change {
                from: Some(unix()),
                to: udp()
            })
        );
    }

    #[test]
    fn on_udp_an_absent_socket_costs_a_look_and_nothing_more() {
        let t = Instant::now();
        let mut choice = AutoChoice::new(SOCKET_RETRY);
        choice.socket_failed(None, t);
        choice.chose(&udp());
        for k in 0..5 {
            let mut looked = false;
            let plan = choice.plan(t + secs(100 * k), || {
                looked = true;
                None
            });
            assert!(looked);
            assert_eq!(plan, Plan::Use(udp()));
        }
    }

    #[test]
    fn on_udp_a_socket_that_appears_is_tried_at_once() {
        let t = Instant::now();
        let mut choice = AutoChoice::new(SOCKET_RETRY);
        choice.socket_failed(None, t);
        choice.chose(&udp());
        let new = Some(FileId::fake(7));
        assert_eq!(
            choice.plan(t + secs(1), || new),
            Plan::TrySocket {
                file: new,
                fallback: udp()
            }
        );
        choice.socket_failed(new, t + secs(1));
        // The same file again: not before the retry interval.
        assert_eq!(choice.plan(t + secs(2), || new), Plan::Use(udp()));
        assert_eq!(choice.plan(t + secs(60), || new), Plan::Use(udp()));
        // chronyd restarted: a new file, tried at once.
        let newer = Some(FileId::fake(8));
        assert!(matches!(
            choice.plan(t + secs(3), || newer),
            Plan::TrySocket { .. }
        ));
        // It worked: the change is logged, and UDP is no longer the choice.
        assert_eq!(
            choice.chose(&unix()),
            Some(Change {
                from: Some(udp()),
                to: unix()
            })
        );
        assert_eq!(choice.plan(t + secs(4), never_looked), Plan::Use(unix()));
    }

    #[test]
    fn on_udp_a_socket_that_failed_is_tried_again_every_retry_interval() {
        let t = Instant::now();
        let mut choice = AutoChoice::new(secs(60));
        let file = Some(FileId::fake(3));
        choice.socket_failed(file, t);
        choice.chose(&udp());
        assert_eq!(choice.plan(t + secs(59), || file), Plan::Use(udp()));
        assert!(matches!(
            choice.plan(t + secs(60), || file),
            Plan::TrySocket { .. }
        ));
        // Still refused (the permission is still wrong): another minute.
        choice.socket_failed(file, t + secs(60));
        assert_eq!(choice.plan(t + secs(119), || file), Plan::Use(udp()));
        assert!(matches!(
            choice.plan(t + secs(120), || file),
            Plan::TrySocket { .. }
        ));
    }
}
