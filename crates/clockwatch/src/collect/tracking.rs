//! The tracking collector: chronyd's view of the system clock.

use std::time::Instant;

use cmdmon::{ReplyBody, Request};

use super::{note_error, ChronyView, CollectorName, CollectorOutcome};
use crate::chrony::Session;

pub(super) async fn collect(
    session: &Session<'_>,
    view: &mut ChronyView,
    outcomes: &mut Vec<CollectorOutcome>,
) {
    let started = Instant::now();
    let error = match session.query(Request::Tracking).await {
        Ok(ReplyBody::Tracking(t)) => {
            view.up = true;
            view.tracking = Some(t);
            None
        }
        Ok(other) => Some(format!("unexpected reply to tracking: {other:?}")),
        Err(e) => {
            note_error(view, &e);
            Some(e.to_string())
        }
    };
    outcomes.push(CollectorOutcome {
        name: CollectorName::Tracking,
        success: error.is_none(),
        duration: started.elapsed(),
        error,
    });
}
