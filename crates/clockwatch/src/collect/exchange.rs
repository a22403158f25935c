//! One collection's exchange with chronyd, in as few round trips as the
//! source list allows.
//!
//! Each chronyd request costs a datagram each way, and each round trip a
//! sleep and a wakeup; on a small VM those dominate a scrape's CPU time. So
//! everything is pipelined: the first round trip asks for tracking, server
//! statistics, the source count and every per-source record of the sources
//! the previous collection saw. Only when the list has changed do further
//! rounds follow: records for indices past the guessed count, then the
//! per-address records (NTP data, names) of sources not seen before.

use std::collections::HashSet;

use cmdmon::{Address, Request, SourceMode};

use super::gather::{Gather, Wants};
use super::memory::SourceMemory;
use super::{ChronyView, CollectorOutcome, Enabled};
use crate::chrony::Session;

pub(super) async fn collect(
    session: &Session<'_>,
    enabled: Enabled,
    memory: &SourceMemory,
    view: &mut ChronyView,
    outcomes: &mut Vec<CollectorOutcome>,
) {
    let wants = Wants::new(enabled, session.transport());
    let mut gather = Gather::new(wants);
    let mut asked = HashSet::new();
    let guess = if wants.list {
        memory.guess()
    } else {
        Default::default()
    };

    let mut first = Vec::new();
    if wants.tracking {
        first.push(Request::Tracking);
    }
    if wants.serverstats {
        first.push(Request::ServerStats);
    }
    if wants.list {
        first.push(Request::NSources);
        first.extend(per_index(wants, 0..guess.count));
        first.extend(per_address(
            wants,
            guess.sources.iter().copied(),
            memory,
            &mut asked,
        ));
    }
    round(session, &mut gather, &first, memory).await;

    let Some(count) = gather.count() else {
        return gather.finish(view, outcomes, memory);
    };
    // The list grew: the records past the guessed end.
    if count > guess.count {
        let more: Vec<Request> = per_index(wants, guess.count..count).collect();
        round(session, &mut gather, &more, memory).await;
    }
    // Sources the guess did not have (new, or re-resolved to a new address).
    let new: Vec<(Address, SourceMode)> = gather
        .listed()
        .map(|d| (d.ip_addr, d.mode))
        .filter(|source| !asked.contains(&source.0))
        .collect();
    let last: Vec<Request> = per_address(wants, new.into_iter(), memory, &mut asked).collect();
    round(session, &mut gather, &last, memory).await;
    gather.finish(view, outcomes, memory);
}

async fn round(
    session: &Session<'_>,
    gather: &mut Gather,
    requests: &[Request],
    memory: &SourceMemory,
) {
    if requests.is_empty() {
        return;
    }
    let replies = session.query_many(requests).await;
    gather.absorb(requests, replies, memory);
}

/// source_data (and sourcestats, when wanted) for each index.
fn per_index(wants: Wants, indices: std::ops::Range<u32>) -> impl Iterator<Item = Request> {
    let data = indices.clone().filter_map(|index| {
        i32::try_from(index)
            .ok()
            .map(|index| Request::SourceData { index })
    });
    let stats = indices
        .filter(move |_| wants.sourcestats)
        .map(|index| Request::SourceStats { index });
    data.chain(stats)
}

/// ntp_data (when wanted) and, for names not known yet, ntp_source_name for
/// each NTP source. Reference clocks have neither. Each address is asked
/// once per collection.
fn per_address<'a>(
    wants: Wants,
    sources: impl Iterator<Item = (Address, SourceMode)> + 'a,
    memory: &'a SourceMemory,
    asked: &'a mut HashSet<Address>,
) -> impl Iterator<Item = Request> + 'a {
    sources
        .filter(|(_, mode)| *mode != SourceMode::RefClock)
        .filter(move |(address, _)| asked.insert(*address))
        .flat_map(move |(address, _)| {
            let ntp = wants.ntpdata.then_some(Request::NtpData { address });
            let name = memory
                .name(&address)
                .is_none()
                .then_some(Request::NtpSourceName { address });
            ntp.into_iter().chain(name)
        })
}
