//! The last sample's offset and delay, from the four timestamps of
//! `NTPMessage`, as `timedatectl timesync-status` computes them (RFC 5905,
//! 8): with T1 origin, T2 receive, T3 transmit, T4 destination,
//!
//! ```text
//! offset = ((T2 - T1) + (T3 - T4)) / 2      delay = (T4 - T1) - (T3 - T2)
//! ```
//!
//! **Sign.** A positive offset means the server's clock is ahead of the
//! node's: it is *reference minus node*, the correction timesyncd applies,
//! printed by timedatectl as `Offset: +8us`. chrony's current correction
//! ("System time … slow of NTP time") has the same sign: positive when the
//! node is behind. clockwatch's "node minus reference" is the negation,
//! [`Sample::node_minus_reference_seconds`].
//!
//! timedatectl divides whole µs and so rounds the offset toward zero; here
//! the half µs is kept.

use serde::Serialize;

use super::NtpMessage;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sample {
    /// Reference minus node at the time of the sample, seconds.
    pub offset_seconds: f64,
    /// Round-trip delay of the exchange, seconds (never negative).
    pub delay_seconds: f64,
    /// The node's clock when the reply arrived (T4), seconds since the
    /// epoch, before timesyncd corrected it with this sample.
    pub destination_unix_seconds: f64,
}

/// Why an `NTPMessage` yields no sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InvalidSample {
    /// Packet count 0: timesyncd has had no reply since it started.
    #[error("timesyncd has had no reply from a server since it started")]
    NoReply,
    /// timedatectl's "Invalid NTP response": a timestamp before the one
    /// it answers, or a server that held the request longer than the
    /// round trip took.
    #[error("the timestamps of timesyncd's last NTP message are inconsistent (T4 < T1, T3 < T2 or T4 - T1 < T3 - T2)")]
    Inconsistent,
}

/// µs since the epoch as seconds, rounded once (whole seconds stay exact).
fn usec_to_unix_seconds(usec: u64) -> f64 {
    (usec / 1_000_000) as f64 + (usec % 1_000_000) as f64 * 1e-6
}

impl Sample {
    pub fn from_message(m: &NtpMessage) -> Result<Self, InvalidSample> {
        if m.packet_count == 0 {
            return Err(InvalidSample::NoReply);
        }
        let (t1, t2, t3, t4) = (
            i128::from(m.origin_usec),
            i128::from(m.receive_usec),
            i128::from(m.transmit_usec),
            i128::from(m.destination_usec),
        );
        if t4 < t1 || t3 < t2 || t4 - t1 < t3 - t2 {
            return Err(InvalidSample::Inconsistent);
        }
        // Twice the offset, exact in integers; halved as a float.
        let offset_usec_2 = (t2 + t3) - (t1 + t4);
        let delay_usec = (t4 - t1) - (t3 - t2);
        Ok(Sample {
            offset_seconds: offset_usec_2 as f64 * 0.5e-6,
            delay_seconds: delay_usec as f64 * 1e-6,
            destination_unix_seconds: usec_to_unix_seconds(m.destination_usec),
        })
    }

    /// clockwatch's sign: node minus reference (positive: the node's clock
    /// was ahead).
    pub fn node_minus_reference_seconds(&self) -> f64 {
        -self.offset_seconds
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(t1: u64, t2: u64, t3: u64, t4: u64) -> NtpMessage {
        NtpMessage {
            leap: 0,
            version: 4,
            mode: 4,
            stratum: 2,
            precision: -25,
            root_delay_usec: 0,
            root_dispersion_usec: 0,
            reference_id: [127, 127, 1, 1],
            origin_usec: t1,
            receive_usec: t2,
            transmit_usec: t3,
            destination_usec: t4,
            spike: false,
            packet_count: 2,
            jitter_usec: 2,
        }
    }

    #[test]
    fn offset_and_delay_of_the_real_daemons_sample() {
        // busctl's NTPMessage of a timesyncd synchronised to chronyd on
        // 127.0.0.2: ((136-107) + (281-294)) / 2 = +8 µs (timedatectl
        // "Offset: +8us"), delay (294-107) - (281-136) = 42 µs.
        let s = Sample::from_message(&message(
            1_796_186_580_384_107,
            1_796_186_580_384_136,
            1_796_186_580_384_281,
            1_796_186_580_384_294,
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert!((s.offset_seconds - 8e-6).abs() < 1e-12, "{s:?}");
        assert!((s.delay_seconds - 42e-6).abs() < 1e-12, "{s:?}");
        assert!((s.node_minus_reference_seconds() + 8e-6).abs() < 1e-12);
        assert!((s.destination_unix_seconds - 1_796_186_580.384_294).abs() < 1e-6);
    }

    #[test]
    fn a_node_ahead_of_its_server_has_a_negative_offset() {
        // The node is 1 s ahead: it sends at its 101.0 s (true 100.0), the
        // server stamps 100.010 and 100.011, the reply lands at its 101.021.
        let s = Sample::from_message(&message(101_000_000, 100_010_000, 100_011_000, 101_021_000))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!((s.offset_seconds + 1.0).abs() < 1e-9, "{s:?}");
        assert!((s.delay_seconds - 0.020).abs() < 1e-9, "{s:?}");
        assert!((s.node_minus_reference_seconds() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn the_half_microsecond_is_kept() {
        // (2 + 1 - 0 - 0) / 2 = 1.5 µs; timedatectl would print 1us.
        let s = Sample::from_message(&message(0, 2, 2, 1)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.offset_seconds, 1.5e-6);
    }

    #[test]
    fn no_reply_and_inconsistent_timestamps_are_no_sample() {
        let mut m = message(10, 20, 30, 40);
        m.packet_count = 0;
        assert_eq!(Sample::from_message(&m), Err(InvalidSample::NoReply));
        // Destination before origin, transmit before receive, and a server
        // that held the request longer than the round trip.
        for (t1, t2, t3, t4) in [(40, 20, 30, 10), (10, 30, 20, 40), (10, 11, 50, 20)] {
            assert_eq!(
                Sample::from_message(&message(t1, t2, t3, t4)),
                Err(InvalidSample::Inconsistent),
                "{t1} {t2} {t3} {t4}"
            );
        }
    }
}
