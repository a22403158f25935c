//! Does an independent measurement contradict the local clock error bound?
//! The probe ([`crate::probe`]) measures the node's clock against a server
//! the user trusts; if the server is right, the node's true offset lies in
//! the probe's interval, and a bound that excludes the whole interval is
//! wrong.

use super::{ProbeCheck, Verdict};
use crate::probe::ProbeResult;

/// The cross-check of each probed server against the verdict's bound. A
/// bound that does not hold (state neither synchronized nor stale) cannot
/// be contradicted: the check is absent then, as it is for a server whose
/// last round failed.
pub(super) fn cross_check(verdict: &Verdict, probes: &[ProbeResult]) -> Vec<ProbeCheck> {
    let bound = verdict.state.bound_holds().then_some(verdict.bound_seconds);
    probes
        .iter()
        .map(|p| ProbeCheck {
            server: p.server.clone(),
            contradicted: p
                .sample
                .and_then(|s| contradicts(Some(s.offset), Some(s.uncertainty), bound)),
        })
        .collect()
}

/// True when the probe's interval, `offset ± uncertainty`, lies wholly
/// outside `[-bound, +bound]`: the clock cannot be within the bound if the
/// server's time is right, so the bound is contradicted. False when the
/// two overlap (touching counts as overlapping). None when either side has
/// no valid value: missing, not finite, or negative (an unbounded clock,
/// bound +Inf, cannot be contradicted and is not "consistent" either).
///
/// `offset` is node minus server, as the probe measures it.
pub fn contradicts(
    offset: Option<f64>,
    uncertainty: Option<f64>,
    bound: Option<f64>,
) -> Option<bool> {
    let valid = |v: Option<f64>| v.filter(|v| v.is_finite() && *v >= 0.0);
    let offset = offset.filter(|o| o.is_finite())?;
    let uncertainty = valid(uncertainty)?;
    let bound = valid(bound)?;
    Some(offset - uncertainty > bound || offset + uncertainty < -bound)
}

#[cfg(test)]
mod tests {
    use super::contradicts;

    #[test]
    fn an_interval_wholly_outside_the_bound_contradicts_it() {
        // The node 2.5 s ahead ± 1 ms against chrony's 1 ms bound.
        assert_eq!(contradicts(Some(2.5), Some(0.001), Some(0.001)), Some(true));
        // Behind, too.
        assert_eq!(contradicts(Some(-3.0), Some(0.01), Some(0.5)), Some(true));
    }

    #[test]
    fn an_overlapping_interval_is_consistent() {
        assert_eq!(
            contradicts(Some(0.0004), Some(0.0002), Some(0.001)),
            Some(false)
        );
        // Offset outside, but the uncertainty reaches into the bound.
        assert_eq!(
            contradicts(Some(0.004), Some(0.003), Some(0.002)),
            Some(false)
        );
        assert_eq!(
            contradicts(Some(-0.004), Some(0.003), Some(0.002)),
            Some(false)
        );
        // Touching: consistent.
        assert_eq!(contradicts(Some(0.5), Some(0.25), Some(0.25)), Some(false));
        assert_eq!(contradicts(Some(-0.5), Some(0.25), Some(0.25)), Some(false));
        // A zero bound and an exact probe agree only on zero.
        assert_eq!(contradicts(Some(0.0), Some(0.0), Some(0.0)), Some(false));
        assert_eq!(contradicts(Some(1e-9), Some(0.0), Some(0.0)), Some(true));
    }

    #[test]
    fn a_missing_or_invalid_side_gives_no_answer() {
        assert_eq!(contradicts(None, Some(0.001), Some(0.001)), None);
        assert_eq!(contradicts(Some(1.0), None, Some(0.001)), None);
        assert_eq!(contradicts(Some(1.0), Some(0.001), None), None);
        assert_eq!(
            contradicts(Some(1.0), Some(0.001), Some(f64::INFINITY)),
            None
        );
        assert_eq!(contradicts(Some(f64::NAN), Some(0.001), Some(0.001)), None);
        assert_eq!(contradicts(Some(1.0), Some(-0.001), Some(0.001)), None);
        assert_eq!(contradicts(Some(1.0), Some(0.001), Some(-1.0)), None);
    }
}
