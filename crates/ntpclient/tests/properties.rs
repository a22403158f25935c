//! Property tests: packets round-trip, decoding and validation never panic
//! on any input, era arithmetic is exact within ±2^31 s whichever eras the
//! instants fall in, and a measured offset is within delay/2 of the truth.

use std::num::NonZeroU64;

use ntpclient::{
    offset_and_delay, Leap, Mode, NtpShort, NtpTimestamp, Packet, ReplyError, Request,
    UNIX_EPOCH_NTP_SECONDS,
};
use proptest::prelude::*;

fn leap() -> impl Strategy<Value = Leap> {
    prop_oneof![
        Just(Leap::NoWarning),
        Just(Leap::InsertSecond),
        Just(Leap::DeleteSecond),
        Just(Leap::Unsynchronised),
    ]
}

fn mode() -> impl Strategy<Value = Mode> {
    (0u8..8).prop_map(Mode::from_bits)
}

fn timestamp() -> impl Strategy<Value = NtpTimestamp> {
    any::<u64>().prop_map(NtpTimestamp::from_bits)
}

fn short() -> impl Strategy<Value = NtpShort> {
    any::<u32>().prop_map(NtpShort::from_bits)
}

fn packet() -> impl Strategy<Value = Packet> {
    (
        (
            leap(),
            0u8..8,
            mode(),
            any::<u8>(),
            any::<i8>(),
            any::<i8>(),
        ),
        (short(), short(), any::<[u8; 4]>()),
        (timestamp(), timestamp(), timestamp(), timestamp()),
    )
        .prop_map(
            |(
                (leap, version, mode, stratum, poll, precision),
                (root_delay, root_dispersion, reference_id),
                (reference, origin, receive, transmit),
            )| Packet {
                leap,
                version,
                mode,
                stratum,
                poll,
                precision,
                root_delay,
                root_dispersion,
                reference_id,
                reference,
                origin,
                receive,
                transmit,
            },
        )
}

fn cookie() -> impl Strategy<Value = NonZeroU64> {
    (1u64..=u64::MAX).prop_map(|c| NonZeroU64::new(c).expect("non-zero by range"))
}

/// Unix seconds from 1800 to 2400: four eras, the 2036 rollover among them.
fn unix_seconds() -> impl Strategy<Value = i64> {
    -5_364_662_400i64..13_569_465_600
}

/// Nanoseconds since 1970 to a timestamp.
fn at_nanos(nanos: i128) -> NtpTimestamp {
    let seconds = nanos.div_euclid(1_000_000_000) as i64;
    NtpTimestamp::from_unix(seconds, nanos.rem_euclid(1_000_000_000) as u32)
}

/// The first instant of era 1 (2036-02-07), in nanoseconds since 1970.
const ERA1_NANOS: i128 = ((1i128 << 32) - UNIX_EPOCH_NTP_SECONDS as i128) * 1_000_000_000;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn packets_round_trip(p in packet()) {
        prop_assert_eq!(Packet::decode(&p.encode()), Ok(p));
    }

    #[test]
    fn decoding_and_validating_arbitrary_bytes_never_panics(
        bytes in proptest::collection::vec(any::<u8>(), 0..1100),
        c in cookie(),
    ) {
        if let Ok(p) = Packet::decode(&bytes) {
            prop_assert_eq!(Packet::decode(&p.encode()), Ok(p));
        }
        let request = Request::new(c);
        let now = NtpTimestamp::from_unix(1_700_000_000, 0);
        let _ = request.measure(&bytes, now, now);
    }

    /// Whatever else a reply says, one that does not echo the cookie is
    /// rejected as not ours, and nothing else is reported about it.
    #[test]
    fn only_our_cookie_is_accepted(p in packet(), c in cookie(), bit in 0u32..64) {
        let request = Request::new(c);
        let mut reply = p;
        reply.origin = NtpTimestamp::from_bits(c.get() ^ (1 << bit));
        prop_assert_eq!(
            request.validate(&reply.encode()),
            Err(ReplyError::NotOurs { got: reply.origin })
        );
    }

    #[test]
    fn unix_times_come_back_from_any_nearby_pivot(
        seconds in unix_seconds(),
        nanos in 0u32..1_000_000_000,
        pivot_shift in -(1i64 << 31) + 1..(1i64 << 31) - 1,
    ) {
        let t = NtpTimestamp::from_unix(seconds, nanos);
        prop_assert_eq!(t.to_unix_near(seconds + pivot_shift), (seconds, nanos));
    }

    /// Differences are exact (to the nanosecond grid) for instants less than
    /// 68 years apart, whatever the eras; around 2036 in particular.
    #[test]
    fn differences_are_exact_across_eras(
        near_rollover in any::<bool>(),
        base in -2_000_000_000_000_000_000i128..4_000_000_000_000_000_000,
        gap in -2_000_000_000_000_000_000i128..2_000_000_000_000_000_000,
    ) {
        let a = if near_rollover { ERA1_NANOS + base / 1_000_000_000 } else { base };
        let b = a + gap;
        let measured = at_nanos(b).since(at_nanos(a)).as_secs_f64();
        let truth = gap as f64 / 1e9;
        prop_assert!((measured - truth).abs() <= 2e-9 + truth.abs() * 1e-15,
            "measured {measured} truth {truth}");
    }

    /// With outbound `d1`, return `d2` and processing `p`, the measured
    /// offset is the true one plus (d2 - d1)/2, so the truth is within
    /// delay/2 of it, and the delay is d1 + d2; anywhere in four eras.
    #[test]
    fn offset_is_within_half_the_delay_of_the_truth(
        near_rollover in any::<bool>(),
        start in -5_000_000_000_000_000_000i128..13_000_000_000_000_000_000,
        node_minus_server in -1_000_000_000_000_000i128..1_000_000_000_000_000,
        d1 in 0i128..2_000_000_000,
        d2 in 0i128..2_000_000_000,
        p in 0i128..100_000_000,
    ) {
        let t1n = if near_rollover { ERA1_NANOS + start / 1_000_000_000 } else { start };
        let t2n = t1n + d1 - node_minus_server;
        let t3n = t2n + p;
        let t4n = t1n + d1 + p + d2;
        let (offset, delay) = offset_and_delay(at_nanos(t1n), at_nanos(t2n), at_nanos(t3n), at_nanos(t4n));
        let truth = node_minus_server as f64 / 1e9;
        let expected_delay = (d1 + d2) as f64 / 1e9;
        let grid = 4e-9 + truth.abs() * 1e-15;
        prop_assert!((delay - expected_delay).abs() <= grid, "delay {delay} vs {expected_delay}");
        let skew = (d2 - d1) as f64 / 2e9;
        prop_assert!((offset - (truth + skew)).abs() <= grid, "offset {offset} vs {truth} + {skew}");
        prop_assert!((offset - truth).abs() <= delay / 2.0 + grid);
    }
}
