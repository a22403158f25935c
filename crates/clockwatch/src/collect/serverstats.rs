//! The serverstats collector: chronyd's NTP and command server counters.
//! Only chronyd's unix socket answers it; over UDP it is skipped quietly.

use std::time::Instant;

use cmdmon::{ReplyBody, Request};

use super::{note_error, ChronyView, CollectorName, CollectorOutcome};
use crate::chrony::{Session, Transport};

pub(super) async fn collect(
    session: &Session<'_>,
    view: &mut ChronyView,
    outcomes: &mut Vec<CollectorOutcome>,
) {
    if session.transport() == Transport::Udp {
        tracing::debug!("serverstats skipped: chronyd answers it only over its unix socket");
        return;
    }
    let started = Instant::now();
    let error = match session.query(Request::ServerStats).await {
        Ok(ReplyBody::ServerStats(s)) => {
            view.up = true;
            view.server_stats = Some(s);
            None
        }
        Ok(other) => Some(format!("unexpected reply to serverstats: {other:?}")),
        Err(e) => {
            note_error(view, &e);
            Some(e.to_string())
        }
    };
    outcomes.push(CollectorOutcome {
        name: CollectorName::Serverstats,
        success: error.is_none(),
        duration: started.elapsed(),
        error,
    });
}
