//! The sources, sourcestats and ntpdata collectors. They share the source
//! list, so they run together: one n_sources, then every per-source request
//! of a kind pipelined in one batch rather than one round trip each.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cmdmon::{Address, ReplyBody, Request, SourceMode};

use super::{note_error, ChronyView, CollectorName, CollectorOutcome, Enabled, Source};
use crate::chrony::{ChronyError, Session, Transport};

/// Configured names by address, with when they were learnt.
pub(crate) type NameCache = Mutex<HashMap<Address, (String, Instant)>>;

/// How long a learnt name is trusted before it is asked again.
const NAME_TTL: Duration = Duration::from_secs(600);

pub(super) async fn collect(
    session: &Session<'_>,
    enabled: Enabled,
    names: &NameCache,
    view: &mut ChronyView,
    outcomes: &mut Vec<CollectorOutcome>,
) {
    let started = Instant::now();
    let listed = list_sources(session, view, names).await;
    let list_time = started.elapsed();
    let (sources, total) = match listed {
        Ok(listed) => listed,
        Err(error) => {
            for (on, name) in [
                (enabled.sources, CollectorName::Sources),
                (enabled.sourcestats, CollectorName::Sourcestats),
                (
                    enabled.ntpdata && session.transport() == Transport::Unix,
                    CollectorName::Ntpdata,
                ),
            ] {
                if on {
                    outcomes.push(CollectorOutcome {
                        name,
                        success: false,
                        duration: list_time,
                        error: Some(error.clone()),
                    });
                }
            }
            return;
        }
    };
    view.sources = sources;
    if enabled.sources {
        outcomes.push(CollectorOutcome {
            name: CollectorName::Sources,
            success: true,
            duration: list_time,
            error: None,
        });
    }
    if enabled.sourcestats {
        let started = Instant::now();
        let error = collect_stats(session, view, total).await;
        outcomes.push(CollectorOutcome {
            name: CollectorName::Sourcestats,
            success: error.is_none(),
            duration: started.elapsed(),
            error,
        });
    }
    if enabled.ntpdata {
        if session.transport() == Transport::Udp {
            tracing::debug!("ntpdata skipped: chronyd answers it only over its unix socket");
        } else {
            let started = Instant::now();
            let error = collect_ntp_data(session, view).await;
            outcomes.push(CollectorOutcome {
                name: CollectorName::Ntpdata,
                success: error.is_none(),
                duration: started.elapsed(),
                error,
            });
        }
    }
}

/// The source list with names. Sources chronyd has not resolved yet (ID
/// addresses) are left out, as chronyc does without `-a`.
/// Also returns how many sources chronyd has in all, for sourcestats.
async fn list_sources(
    session: &Session<'_>,
    view: &mut ChronyView,
    names: &NameCache,
) -> Result<(Vec<Source>, i32), String> {
    let n = match session.query(Request::NSources).await {
        Ok(ReplyBody::NSources(n)) => {
            view.up = true;
            n
        }
        Ok(other) => return Err(format!("unexpected reply to n_sources: {other:?}")),
        Err(e) => return Err(fail(view, &e)),
    };
    // chronyd has at most a few hundred sources; anything beyond is garbage.
    let n = i32::try_from(n.min(4096)).unwrap_or(4096);
    let requests: Vec<Request> = (0..n).map(|index| Request::SourceData { index }).collect();
    let mut sources = Vec::with_capacity(requests.len());
    for reply in session.query_many(&requests).await {
        match reply {
            Ok(ReplyBody::SourceData(data)) => {
                if matches!(data.ip_addr, Address::Id(_) | Address::Unspecified) {
                    continue;
                }
                let address = source_address(&data.ip_addr, data.mode);
                sources.push(Source {
                    name: address.clone(),
                    address,
                    data,
                    stats: None,
                    ntp: None,
                });
            }
            // The list can shrink between n_sources and source_data.
            Err(ChronyError::Refused {
                status: cmdmon::Status::NoSuchSource,
                ..
            }) => {}
            Ok(other) => return Err(format!("unexpected reply to source_data: {other:?}")),
            Err(e) => return Err(fail(view, &e)),
        }
    }
    // Names as configured, from chronyd itself (no reverse DNS). A name
    // only changes when chronyd is reconfigured, so it is asked once per
    // address and kept for a while: in steady state a scrape sends no name
    // requests at all.
    let now = Instant::now();
    let wanted: Vec<Address> = {
        let mut cache = names.lock().unwrap_or_else(|p| p.into_inner());
        cache.retain(|addr, (_, at)| {
            now.duration_since(*at) < NAME_TTL && sources.iter().any(|s| s.data.ip_addr == *addr)
        });
        sources
            .iter()
            .filter(|s| s.data.mode != SourceMode::RefClock && !cache.contains_key(&s.data.ip_addr))
            .map(|s| s.data.ip_addr)
            .collect()
    };
    let requests: Vec<Request> = wanted
        .iter()
        .map(|&address| Request::NtpSourceName { address })
        .collect();
    let replies = session.query_many(&requests).await;
    let mut cache = names.lock().unwrap_or_else(|p| p.into_inner());
    for (address, reply) in wanted.into_iter().zip(replies) {
        match reply {
            Ok(ReplyBody::NtpSourceName(name)) if !name.0.is_empty() => {
                cache.insert(address, (name.to_string(), now));
            }
            // chrony before 4.0 has no source names: the address stands in.
            Ok(_) | Err(ChronyError::Refused { .. }) => {
                cache.insert(address, (address.to_string(), now));
            }
            // Not answered this time: ask again next scrape.
            Err(_) => {}
        }
    }
    for source in sources.iter_mut() {
        if let Some((name, _)) = cache.get(&source.data.ip_addr) {
            source.name = name.clone();
        }
    }
    Ok((sources, n))
}

/// Reference clocks report their reference ID (e.g. "GPS", "PHC0") in the
/// IPv4 field, which is how chronyc names them.
fn source_address(ip: &Address, mode: SourceMode) -> String {
    match (mode, ip) {
        (SourceMode::RefClock, Address::V4(v4)) => cmdmon::RefId(u32::from(*v4)).to_ascii(),
        _ => ip.to_string(),
    }
}

/// sourcestats is indexed like source_data; replies are matched to sources
/// by address, since unresolved sources were left out of the list.
async fn collect_stats(session: &Session<'_>, view: &mut ChronyView, total: i32) -> Option<String> {
    let requests: Vec<Request> = (0..total.max(0) as u32)
        .map(|index| Request::SourceStats { index })
        .collect();
    for reply in session.query_many(&requests).await {
        match reply {
            Ok(ReplyBody::SourceStats(stats)) => {
                if let Some(source) = view
                    .sources
                    .iter_mut()
                    .find(|s| s.data.ip_addr == stats.ip_addr)
                {
                    source.stats = Some(stats);
                } else if let Some(source) = view.sources.iter_mut().find(|s| {
                    s.data.mode == SourceMode::RefClock
                        && stats.ip_addr == Address::Unspecified
                        && s.address == stats.ref_id.to_ascii()
                }) {
                    source.stats = Some(stats);
                }
            }
            Err(ChronyError::Refused {
                status: cmdmon::Status::NoSuchSource,
                ..
            }) => {}
            Ok(other) => return Some(format!("unexpected reply to sourcestats: {other:?}")),
            Err(e) => return Some(fail(view, &e)),
        }
    }
    None
}

async fn collect_ntp_data(session: &Session<'_>, view: &mut ChronyView) -> Option<String> {
    let targets: Vec<usize> = (0..view.sources.len())
        .filter(|&i| view.sources[i].data.mode != SourceMode::RefClock)
        .collect();
    let requests: Vec<Request> = targets
        .iter()
        .map(|&i| Request::NtpData {
            address: view.sources[i].data.ip_addr,
        })
        .collect();
    let replies = session.query_many(&requests).await;
    for (i, reply) in targets.into_iter().zip(replies) {
        match reply {
            Ok(ReplyBody::NtpData(d)) => view.sources[i].ntp = Some(d),
            // A source removed meanwhile.
            Err(ChronyError::Refused {
                status: cmdmon::Status::NoSuchSource,
                ..
            }) => {}
            Ok(other) => return Some(format!("unexpected reply to ntpdata: {other:?}")),
            Err(e) => return Some(fail(view, &e)),
        }
    }
    None
}

fn fail(view: &mut ChronyView, e: &ChronyError) -> String {
    note_error(view, e);
    e.to_string()
}
