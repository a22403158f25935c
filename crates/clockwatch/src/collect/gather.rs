//! Turns chronyd's replies, whatever round trip they came in, into the
//! chrony part of a [`Snapshot`](super::Snapshot) and the chrony
//! collectors' outcomes.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use cmdmon::{
    Address, NtpData, ReplyBody, Request, ServerStats, SourceData, SourceMode, SourceStats, Status,
    Tracking,
};

use super::memory::{SourceGuess, SourceMemory};
use super::{ChronyView, CollectorName, CollectorOutcome, Enabled, Source};
use crate::chrony::{ChronyError, Transport};

/// chronyd has at most a few hundred sources; a larger count is garbage.
const MAX_SOURCES: u32 = 4096;

/// What this collection asks chronyd for.
#[derive(Debug, Clone, Copy)]
pub(super) struct Wants {
    pub tracking: bool,
    /// The source list: needed by each of the three per-source collectors.
    pub list: bool,
    pub sourcestats: bool,
    pub ntpdata: bool,
    pub serverstats: bool,
    /// Which collectors were enabled, for the outcomes.
    enabled: Enabled,
}

impl Wants {
    /// ntpdata and serverstats are answered only over chronyd's unix
    /// socket: over UDP they are skipped, not failed.
    pub fn new(enabled: Enabled, transport: Transport) -> Self {
        let unix = transport == Transport::Unix;
        if !unix && (enabled.ntpdata || enabled.serverstats) {
            tracing::debug!(
                "ntpdata and serverstats skipped: chronyd answers them only over its unix socket"
            );
        }
        Self {
            tracking: enabled.tracking,
            list: enabled.sources || enabled.sourcestats || enabled.ntpdata,
            sourcestats: enabled.sourcestats,
            ntpdata: enabled.ntpdata && unix,
            serverstats: enabled.serverstats && unix,
            enabled,
        }
    }
}

/// The collectors whose requests can fail, each with its own outcome.
#[derive(Debug, Clone, Copy)]
enum Part {
    Tracking,
    /// n_sources and source_data: the sources collector, and the list
    /// every per-source collector needs.
    List,
    Stats,
    Ntp,
    ServerStats,
}

const PARTS: usize = 5;

pub(super) struct Gather {
    wants: Wants,
    started: Instant,
    up: bool,
    first_error: Option<String>,
    errors: [Option<String>; PARTS],
    /// When the last reply of each part arrived, from the start.
    done_at: [Duration; PARTS],
    tracking: Option<Tracking>,
    server_stats: Option<ServerStats>,
    count: Option<u32>,
    data: BTreeMap<i32, SourceData>,
    stats: Vec<SourceStats>,
    ntp: HashMap<Address, NtpData>,
}

impl Gather {
    pub fn new(wants: Wants) -> Self {
        Self {
            wants,
            started: Instant::now(),
            up: false,
            first_error: None,
            errors: Default::default(),
            done_at: [Duration::ZERO; PARTS],
            tracking: None,
            server_stats: None,
            count: None,
            data: BTreeMap::new(),
            stats: Vec::new(),
            ntp: HashMap::new(),
        }
    }

    /// chronyd's source count, once n_sources was answered and the list has
    /// not failed.
    pub fn count(&self) -> Option<u32> {
        self.count
            .filter(|_| self.errors[Part::List as usize].is_none())
    }

    /// The resolved sources found so far, in chronyd's order.
    pub fn listed(&self) -> impl Iterator<Item = &SourceData> {
        self.data.values().filter(|d| is_resolved(&d.ip_addr))
    }

    /// Files the replies to one round of requests.
    pub fn absorb(
        &mut self,
        requests: &[Request],
        replies: Vec<Result<ReplyBody, ChronyError>>,
        memory: &SourceMemory,
    ) {
        for (request, reply) in requests.iter().zip(replies) {
            self.absorb_one(request, reply, memory);
        }
    }

    fn absorb_one(
        &mut self,
        request: &Request,
        reply: Result<ReplyBody, ChronyError>,
        memory: &SourceMemory,
    ) {
        if reply.is_ok() {
            self.up = true;
        }
        if let Request::NtpSourceName { address } = *request {
            match reply {
                Ok(ReplyBody::NtpSourceName(name)) if !name.0.is_empty() => {
                    memory.learn_name(address, name.to_string());
                }
                // chrony before 4.0 has no source names: the address stands in.
                Ok(_) | Err(ChronyError::Refused { .. }) => {
                    self.up = true;
                    memory.learn_name(address, address.to_string());
                }
                // Not answered this time: asked again next collection.
                Err(_) => {}
            }
            return;
        }
        let Some(part) = part_of(request) else {
            return;
        };
        self.done_at[part as usize] = self.started.elapsed();
        match (request, reply) {
            // A source that left the list (or a guessed index past its end).
            (
                Request::SourceData { .. } | Request::SourceStats { .. } | Request::NtpData { .. },
                Err(ChronyError::Refused {
                    status: Status::NoSuchSource,
                    ..
                }),
            ) => self.up = true,
            (_, Err(e)) => self.fail(part, &e),
            (Request::Tracking, Ok(ReplyBody::Tracking(t))) => self.tracking = Some(t),
            (Request::NSources, Ok(ReplyBody::NSources(n))) => {
                self.count = Some(n.min(MAX_SOURCES));
            }
            (Request::SourceData { index }, Ok(ReplyBody::SourceData(d))) => {
                self.data.insert(*index, d);
            }
            (Request::SourceStats { .. }, Ok(ReplyBody::SourceStats(s))) => self.stats.push(s),
            (Request::NtpData { address }, Ok(ReplyBody::NtpData(d))) => {
                self.ntp.insert(*address, d);
            }
            (Request::ServerStats, Ok(ReplyBody::ServerStats(s))) => self.server_stats = Some(s),
            (request, Ok(other)) => {
                let error = format!("unexpected reply to {}: {other:?}", request.name());
                self.first_error.get_or_insert_with(|| error.clone());
                self.errors[part as usize].get_or_insert(error);
            }
        }
    }

    fn fail(&mut self, part: Part, e: &ChronyError) {
        if e.chronyd_answered() {
            self.up = true;
        }
        self.first_error.get_or_insert_with(|| e.to_string());
        self.errors[part as usize].get_or_insert_with(|| e.to_string());
    }

    /// Writes what was gathered into `view` and `outcomes`, and remembers
    /// the source list for the next collection.
    pub fn finish(
        self,
        view: &mut ChronyView,
        outcomes: &mut Vec<CollectorOutcome>,
        memory: &SourceMemory,
    ) {
        let wants = self.wants;
        let enabled = wants.enabled;
        let outcome = |name, part: Part, error: Option<String>| CollectorOutcome {
            name,
            success: error.is_none(),
            duration: self.done_at[part as usize],
            error,
        };
        view.up = self.up;
        view.error.clone_from(&self.first_error);
        if wants.tracking {
            let error = self.missing(Part::Tracking, self.tracking.is_none(), "tracking");
            outcomes.push(outcome(CollectorName::Tracking, Part::Tracking, error));
            view.tracking.clone_from(&self.tracking);
        }
        if wants.list {
            match self.list_error() {
                Some(error) => {
                    for (on, name) in [
                        (enabled.sources, CollectorName::Sources),
                        (wants.sourcestats, CollectorName::Sourcestats),
                        (wants.ntpdata, CollectorName::Ntpdata),
                    ] {
                        if on {
                            outcomes.push(outcome(name, Part::List, Some(error.clone())));
                        }
                    }
                }
                None => {
                    let (sources, guess) = self.sources(memory);
                    memory.remember(guess);
                    view.sources = sources;
                    if enabled.sources {
                        outcomes.push(outcome(CollectorName::Sources, Part::List, None));
                    }
                    if wants.sourcestats {
                        let error = self.errors[Part::Stats as usize].clone();
                        outcomes.push(outcome(CollectorName::Sourcestats, Part::Stats, error));
                    }
                    if wants.ntpdata {
                        let error = self.errors[Part::Ntp as usize].clone();
                        outcomes.push(outcome(CollectorName::Ntpdata, Part::Ntp, error));
                    }
                }
            }
        }
        if wants.serverstats {
            let error = self.missing(
                Part::ServerStats,
                self.server_stats.is_none(),
                "server_stats",
            );
            outcomes.push(outcome(
                CollectorName::Serverstats,
                Part::ServerStats,
                error,
            ));
            view.server_stats.clone_from(&self.server_stats);
        }
    }

    /// The part's error; a part with no error and no data (which the client
    /// does not produce) still fails rather than passing empty.
    fn missing(&self, part: Part, absent: bool, command: &str) -> Option<String> {
        self.errors[part as usize]
            .clone()
            .or_else(|| absent.then(|| format!("no reply to {command}")))
    }

    fn list_error(&self) -> Option<String> {
        self.missing(Part::List, self.count.is_none(), "n_sources")
    }

    /// The source list with names, statistics and NTP data. Sources chronyd
    /// has not resolved yet (ID addresses) are left out, as chronyc does
    /// without `-a`; a source seen at two indices (the list shifted during
    /// the collection) is kept once.
    fn sources(&self, memory: &SourceMemory) -> (Vec<Source>, SourceGuess) {
        // sourcestats is indexed like source_data but matched by address,
        // since indices shift when the list changes. A reference clock's
        // statistics carry no address, only its reference ID.
        let mut stats_by_address = HashMap::with_capacity(self.stats.len());
        let mut refclock_stats = HashMap::new();
        for stats in &self.stats {
            if stats.ip_addr == Address::Unspecified {
                refclock_stats.insert(stats.ref_id.to_ascii(), stats);
            } else {
                stats_by_address.insert(stats.ip_addr, stats);
            }
        }
        let mut seen = HashSet::with_capacity(self.data.len());
        let mut sources: Vec<Source> = Vec::with_capacity(self.data.len());
        for data in self.listed() {
            if !seen.insert(data.ip_addr) {
                continue;
            }
            let address = source_address(&data.ip_addr, data.mode);
            let name = memory
                .name(&data.ip_addr)
                .unwrap_or_else(|| address.clone());
            let (stats, ntp) = if data.mode == SourceMode::RefClock {
                (refclock_stats.get(&address), None)
            } else {
                (
                    stats_by_address.get(&data.ip_addr),
                    self.ntp.get(&data.ip_addr).cloned(),
                )
            };
            sources.push(Source {
                data: data.clone(),
                address,
                name,
                stats: stats.map(|s| (*s).clone()),
                ntp,
            });
        }
        let guess = SourceGuess {
            count: self.count.unwrap_or(0),
            sources: sources
                .iter()
                .map(|s| (s.data.ip_addr, s.data.mode))
                .collect(),
        };
        (sources, guess)
    }
}

fn part_of(request: &Request) -> Option<Part> {
    match request {
        Request::Tracking => Some(Part::Tracking),
        Request::NSources | Request::SourceData { .. } => Some(Part::List),
        Request::SourceStats { .. } => Some(Part::Stats),
        Request::NtpData { .. } => Some(Part::Ntp),
        Request::ServerStats => Some(Part::ServerStats),
        Request::Activity | Request::NtpSourceName { .. } => None,
    }
}

fn is_resolved(address: &Address) -> bool {
    !matches!(address, Address::Id(_) | Address::Unspecified)
}

/// Reference clocks report their reference ID (e.g. "GPS", "PHC0") in the
/// IPv4 field, which is how chronyc names them.
fn source_address(ip: &Address, mode: SourceMode) -> String {
    match (mode, ip) {
        (SourceMode::RefClock, Address::V4(v4)) => cmdmon::RefId(u32::from(*v4)).to_ascii(),
        _ => ip.to_string(),
    }
}
