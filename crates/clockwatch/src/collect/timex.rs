//! The timex collector: the kernel's view of the clock through adjtimex(2)
//! in read-only mode, which needs no privilege. This is what monitors a node
//! whose time is kept by systemd-timesyncd or anything else but chrony.

use std::time::Instant;

use super::{CollectorName, CollectorOutcome};
use crate::sys::{adjtimex_read, Timex};

pub(super) fn collect(outcomes: &mut Vec<CollectorOutcome>) -> Option<Timex> {
    let started = Instant::now();
    let result = adjtimex_read();
    let (timex, error) = match result {
        Ok(t) => (Some(t), None),
        Err(e) => (None, Some(format!("adjtimex: {e}"))),
    };
    outcomes.push(CollectorOutcome {
        name: CollectorName::Timex,
        success: error.is_none(),
        duration: started.elapsed(),
        error,
    });
    timex
}
