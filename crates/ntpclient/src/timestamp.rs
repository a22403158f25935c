//! NTP's fixed-point time formats (RFC 5905 §6) and the arithmetic that
//! survives era rollovers.
//!
//! A timestamp is 32 bits of seconds and 32 bits of fraction since the
//! start of its *era*; era 0 began on 1900-01-01 and era 1 begins on
//! 2036-02-07 06:28:16 UTC. The era number is not on the wire, so two rules
//! make the arithmetic correct across the rollover:
//!
//! - a difference of two timestamps is taken modulo 2^64 and read as a
//!   signed 32.32 number ([`NtpTimestamp::since`]): right whenever the two
//!   instants are less than 2^31 s (68 years) apart, whichever eras they
//!   fall in;
//! - an absolute time is recovered relative to a pivot the caller knows
//!   (its own clock): the instant in the era that puts the timestamp
//!   closest to the pivot ([`NtpTimestamp::to_unix_near`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds from the NTP prime epoch (1900-01-01) to the Unix epoch.
pub const UNIX_EPOCH_NTP_SECONDS: i64 = 2_208_988_800;

/// 2^32, the scale of the 32.32 formats.
const FRACTION_SCALE: f64 = 4_294_967_296.0;

/// An NTP timestamp: seconds since the start of its era (high 32 bits) and
/// the fraction of a second (low 32 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NtpTimestamp(u64);

impl NtpTimestamp {
    /// The zero timestamp, which RFC 5905 reserves for "unknown".
    pub const ZERO: NtpTimestamp = NtpTimestamp(0);

    pub const fn from_bits(bits: u64) -> Self {
        Self(bits)
    }

    pub const fn to_bits(self) -> u64 {
        self.0
    }

    pub const fn from_parts(seconds: u32, fraction: u32) -> Self {
        Self(((seconds as u64) << 32) | fraction as u64)
    }

    pub const fn seconds(self) -> u32 {
        (self.0 >> 32) as u32
    }

    pub const fn fraction(self) -> u32 {
        self.0 as u32
    }

    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// The timestamp of a Unix time (`nanos` < 10^9). Instants before 1900
    /// and after 2036 land in their own eras: only the era number is lost.
    pub fn from_unix(seconds: i64, nanos: u32) -> Self {
        let ntp_seconds =
            (i128::from(seconds) + i128::from(UNIX_EPOCH_NTP_SECONDS)).rem_euclid(1 << 32) as u32;
        Self::from_parts(ntp_seconds, nanos_to_fraction(nanos.min(999_999_999)))
    }

    /// The timestamp of a system time, before 1970 included.
    pub fn from_system_time(time: SystemTime) -> Self {
        match time.duration_since(UNIX_EPOCH) {
            Ok(after) => Self::from_unix(after.as_secs() as i64, after.subsec_nanos()),
            Err(before) => {
                let before = before.duration();
                let (mut secs, mut nanos) = (-(before.as_secs() as i64), before.subsec_nanos());
                if nanos > 0 {
                    secs -= 1;
                    nanos = 1_000_000_000 - nanos;
                }
                Self::from_unix(secs, nanos)
            }
        }
    }

    /// The Unix time (seconds, nanoseconds) this timestamp denotes in the
    /// era that puts it within 2^31 s of `pivot_seconds` (a Unix time the
    /// caller trusts, typically its own clock).
    pub fn to_unix_near(self, pivot_seconds: i64) -> (i64, u32) {
        let pivot = Self::from_unix(pivot_seconds, 0);
        let total = (i128::from(pivot_seconds) << 32) + i128::from(self.since(pivot).to_bits());
        let seconds = (total >> 32) as i64;
        let fraction = (total & 0xFFFF_FFFF) as u32;
        (seconds, fraction_to_nanos(fraction))
    }

    /// `self - earlier`, wrap-safe: exact whenever the two instants are
    /// less than 2^31 s apart, across an era boundary too.
    pub const fn since(self, earlier: NtpTimestamp) -> NtpDelta {
        NtpDelta(self.0.wrapping_sub(earlier.0) as i64)
    }

    /// `self + duration`, wrapping into the next era like the wire format.
    /// Durations beyond 2^32 s lose their whole eras.
    pub fn wrapping_add(self, duration: Duration) -> Self {
        let bits = (duration.as_secs() << 32)
            .wrapping_add(u64::from(nanos_to_fraction(duration.subsec_nanos())));
        Self(self.0.wrapping_add(bits))
    }
}

impl std::fmt::Display for NtpTimestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:08x}.{:08x}", self.seconds(), self.fraction())
    }
}

/// A signed difference of two timestamps in 32.32 fixed point: ±2^31 s at
/// a resolution of 2^-32 s (233 ps).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct NtpDelta(i64);

impl NtpDelta {
    pub const fn from_bits(bits: i64) -> Self {
        Self(bits)
    }

    pub const fn to_bits(self) -> i64 {
        self.0
    }

    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / FRACTION_SCALE
    }
}

/// NTP short format: unsigned 16.16 seconds (root delay, root dispersion).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct NtpShort(u32);

impl NtpShort {
    pub const fn from_bits(bits: u32) -> Self {
        Self(bits)
    }

    pub const fn to_bits(self) -> u32 {
        self.0
    }

    pub fn as_secs_f64(self) -> f64 {
        f64::from(self.0) / 65_536.0
    }

    /// The nearest short value to `seconds`, clamped to 0..65536 s.
    pub fn from_secs_f64(seconds: f64) -> Self {
        let scaled = (seconds * 65_536.0).round();
        if scaled.is_nan() || scaled <= 0.0 {
            Self(0)
        } else if scaled >= f64::from(u32::MAX) {
            Self(u32::MAX)
        } else {
            Self(scaled as u32)
        }
    }
}

/// floor(nanos × 2^32 / 10^9): every nanosecond count has its own fraction,
/// and [`fraction_to_nanos`] gives it back.
fn nanos_to_fraction(nanos: u32) -> u32 {
    ((u64::from(nanos) << 32) / 1_000_000_000) as u32
}

/// The nearest nanosecond count, capped at 999 999 999.
fn fraction_to_nanos(fraction: u32) -> u32 {
    let nanos = (u64::from(fraction) * 1_000_000_000 + (1 << 31)) >> 32;
    nanos.min(999_999_999) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2036-02-07 06:28:16 UTC, the first second of era 1.
    const ERA1_UNIX: i64 = (1 << 32) - UNIX_EPOCH_NTP_SECONDS;

    #[test]
    fn the_unix_epoch_is_2208988800_ntp_seconds() {
        let t = NtpTimestamp::from_unix(0, 500_000_000);
        assert_eq!(t.seconds(), 2_208_988_800);
        assert_eq!(t.fraction(), 1 << 31);
        assert_eq!(t.to_unix_near(0), (0, 500_000_000));
    }

    #[test]
    fn the_2036_rollover_wraps_to_era_1() {
        let last = NtpTimestamp::from_unix(ERA1_UNIX - 1, 0);
        let first = NtpTimestamp::from_unix(ERA1_UNIX, 0);
        assert_eq!(last.seconds(), u32::MAX);
        assert_eq!(first.seconds(), 0);
        // Differences across the boundary are small and signed.
        assert_eq!(first.since(last).as_secs_f64(), 1.0);
        assert_eq!(last.since(first).as_secs_f64(), -1.0);
        // The era comes from the pivot: near 2036 a small seconds field is 2036, not 1900.
        assert_eq!(first.to_unix_near(ERA1_UNIX - 10), (ERA1_UNIX, 0));
        assert_eq!(
            NtpTimestamp::from_parts(10, 0).to_unix_near(ERA1_UNIX),
            (ERA1_UNIX + 10, 0)
        );
        // And far from it the same field is 1900.
        assert_eq!(
            NtpTimestamp::from_parts(10, 0).to_unix_near(-UNIX_EPOCH_NTP_SECONDS),
            (10 - UNIX_EPOCH_NTP_SECONDS, 0)
        );
    }

    #[test]
    fn differences_are_signed_fixed_point() {
        let a = NtpTimestamp::from_unix(1_700_000_000, 250_000_000);
        let b = NtpTimestamp::from_unix(1_700_000_002, 750_000_000);
        assert_eq!(b.since(a).as_secs_f64(), 2.5);
        assert_eq!(a.since(b).as_secs_f64(), -2.5);
        assert_eq!(b.since(a).to_bits(), 5 << 31);
    }

    #[test]
    fn adding_a_duration_carries_into_seconds_and_wraps_eras() {
        let t = NtpTimestamp::from_parts(u32::MAX, 0xC000_0000);
        let later = t.wrapping_add(Duration::from_millis(500));
        assert_eq!(later.seconds(), 0);
        assert_eq!(later.since(t).as_secs_f64(), 0.5);
    }

    #[test]
    fn system_times_before_1970_are_encoded() {
        let t = UNIX_EPOCH - Duration::from_millis(1500);
        let ts = NtpTimestamp::from_system_time(t);
        assert_eq!(ts.to_unix_near(0), (-2, 500_000_000));
        let after = NtpTimestamp::from_system_time(UNIX_EPOCH + Duration::from_millis(1500));
        assert_eq!(after.since(ts).as_secs_f64(), 3.0);
    }

    #[test]
    fn short_format_is_16_16() {
        assert_eq!(NtpShort::from_bits(0x0001_8000).as_secs_f64(), 1.5);
        assert_eq!(NtpShort::from_secs_f64(1.5).to_bits(), 0x0001_8000);
        assert_eq!(NtpShort::from_secs_f64(-1.0).to_bits(), 0);
        assert_eq!(NtpShort::from_secs_f64(f64::NAN).to_bits(), 0);
        assert_eq!(NtpShort::from_secs_f64(1e9).to_bits(), u32::MAX);
    }

    #[test]
    fn nanoseconds_survive_the_fraction() {
        for nanos in [0, 1, 2, 499_999_999, 500_000_000, 999_999_998, 999_999_999] {
            assert_eq!(
                fraction_to_nanos(nanos_to_fraction(nanos)),
                nanos,
                "{nanos}"
            );
        }
    }
}
