//! One client-mode exchange: the request, the checks a reply must pass,
//! and what it measures.
//!
//! The request carries nothing about the client (the data-minimisation
//! practice for NTP clients): every field is zero except version, mode and
//! the transmit timestamp, which is a random 64-bit cookie rather than the
//! send time. The server copies it into its reply's origin timestamp, so a
//! reply that does not echo it answers some other request (a spoofed or a
//! stale one) and is rejected before anything in it is believed; a blind
//! attacker has to guess 64 bits. The real send time stays with the caller,
//! which passes it to [`Request::measure`] with the receive time.

use std::num::NonZeroU64;

use crate::packet::{DecodeError, Leap, Mode, Packet, HEADER_LEN};
use crate::timestamp::{NtpShort, NtpTimestamp};

/// The version requests are sent with.
pub const VERSION: u8 = 4;

/// One request, and the cookie its reply must echo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    cookie: NtpTimestamp,
}

/// A Kiss-o'-Death: a reply with stratum 0 whose reference ID is an ASCII
/// code telling the client what to do (RFC 5905 §7.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kiss {
    /// Rate exceeded: the client must reduce its polling rate.
    Rate,
    /// Access denied: the client must stop sending to this server.
    Deny,
    /// Access restricted: the client must stop sending to this server.
    Rstr,
    /// Another code (RFC 5905 Figure 13 lists more, e.g. "INIT", "STEP").
    Other([u8; 4]),
}

impl Kiss {
    pub fn from_code(code: [u8; 4]) -> Self {
        match &code {
            b"RATE" => Kiss::Rate,
            b"DENY" => Kiss::Deny,
            b"RSTR" => Kiss::Rstr,
            _ => Kiss::Other(code),
        }
    }

    pub fn code(self) -> [u8; 4] {
        match self {
            Kiss::Rate => *b"RATE",
            Kiss::Deny => *b"DENY",
            Kiss::Rstr => *b"RSTR",
            Kiss::Other(code) => code,
        }
    }

    /// DENY and RSTR: the server asks never to be asked again.
    pub fn forbids_probing(self) -> bool {
        matches!(self, Kiss::Deny | Kiss::Rstr)
    }
}

impl std::fmt::Display for Kiss {
    /// The code as text, non-printable bytes escaped (it comes off the wire).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in self.code() {
            if b.is_ascii_graphic() || b == b' ' {
                write!(f, "{}", b as char)?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

/// Why a reply is not used, checked in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("the origin timestamp {got} is not our request's: a spoofed or stale reply")]
    NotOurs { got: NtpTimestamp },
    #[error("version {0}: only NTP versions 3 and 4 are understood")]
    Version(u8),
    #[error("mode {0}, not 4 (server)")]
    Mode(Mode),
    #[error("Kiss-o'-Death {0}")]
    Kiss(Kiss),
    #[error("the server's clock is not synchronised (leap indicator 3)")]
    Unsynchronised,
    #[error("stratum {0}: the server's clock is not synchronised (valid strata are 1 to 15)")]
    Stratum(u8),
    #[error("zero transmit timestamp: the server did not say when it answered")]
    ZeroTransmit,
    #[error("the server's transmit timestamp is earlier than its receive timestamp")]
    ServerTimesReversed,
}

impl ReplyError {
    /// A short, stable reason for logs and labels.
    pub fn kind(&self) -> &'static str {
        match self {
            ReplyError::Decode(DecodeError::Truncated { .. }) => "truncated",
            ReplyError::Decode(DecodeError::Oversized { .. }) => "oversized",
            ReplyError::Decode(DecodeError::Misaligned { .. }) => "misaligned",
            ReplyError::NotOurs { .. } => "not_ours",
            ReplyError::Version(_) => "version",
            ReplyError::Mode(_) => "mode",
            ReplyError::Kiss(Kiss::Rate) => "kiss_rate",
            ReplyError::Kiss(Kiss::Deny) => "kiss_deny",
            ReplyError::Kiss(Kiss::Rstr) => "kiss_rstr",
            ReplyError::Kiss(Kiss::Other(_)) => "kiss_other",
            ReplyError::Unsynchronised => "unsynchronised",
            ReplyError::Stratum(_) => "stratum",
            ReplyError::ZeroTransmit => "zero_transmit",
            ReplyError::ServerTimesReversed => "server_times_reversed",
        }
    }
}

/// What one valid reply measured. All values in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measurement {
    /// Node clock minus server clock: positive when the node is ahead.
    /// This is minus RFC 5905's θ (which is server minus client).
    pub offset: f64,
    /// Round-trip delay, the server's processing time excluded.
    pub delay: f64,
    pub stratum: u8,
    pub leap: Leap,
    pub root_delay: f64,
    pub root_dispersion: f64,
    pub reference_id: [u8; 4],
    pub precision: i8,
    /// T3, the server's clock when it answered.
    pub server_transmit: NtpTimestamp,
}

impl Measurement {
    /// The server's own error bound against UTC: root delay / 2 + root
    /// dispersion.
    pub fn root_distance(&self) -> f64 {
        self.root_delay / 2.0 + self.root_dispersion
    }

    /// Half the round trip (the most path asymmetry can shift the offset)
    /// plus the server's root distance: the true offset of the node's clock
    /// against UTC lies in `offset ± uncertainty`. A negative delay (server
    /// and client clocks running at different rates over a very short
    /// path) counts as zero.
    pub fn uncertainty(&self) -> f64 {
        self.delay.max(0.0) / 2.0 + self.root_distance()
    }
}

impl Request {
    /// A request with `cookie` as its transmit timestamp. The cookie must
    /// be unpredictable (drawn from the OS's random source) and fresh for
    /// every request; zero is excluded because zero means "unknown".
    pub fn new(cookie: NonZeroU64) -> Self {
        Self {
            cookie: NtpTimestamp::from_bits(cookie.get()),
        }
    }

    pub fn cookie(&self) -> NtpTimestamp {
        self.cookie
    }

    pub fn packet(&self) -> Packet {
        Packet {
            leap: Leap::NoWarning,
            version: VERSION,
            mode: Mode::Client,
            stratum: 0,
            poll: 0,
            precision: 0,
            root_delay: NtpShort::default(),
            root_dispersion: NtpShort::default(),
            reference_id: [0; 4],
            reference: NtpTimestamp::ZERO,
            origin: NtpTimestamp::ZERO,
            receive: NtpTimestamp::ZERO,
            transmit: self.cookie,
        }
    }

    pub fn encode(&self) -> [u8; HEADER_LEN] {
        self.packet().encode()
    }

    /// The reply's header if it is a usable answer to this request. The
    /// origin check comes first: nothing in a packet that does not prove it
    /// answers us is believed, a Kiss-o'-Death included.
    pub fn validate(&self, reply: &[u8]) -> Result<Packet, ReplyError> {
        let packet = Packet::decode(reply)?;
        if packet.origin != self.cookie {
            return Err(ReplyError::NotOurs { got: packet.origin });
        }
        if !(3..=4).contains(&packet.version) {
            return Err(ReplyError::Version(packet.version));
        }
        if packet.mode != Mode::Server {
            return Err(ReplyError::Mode(packet.mode));
        }
        // Before the leap check: a kiss usually carries leap 3 as well.
        if packet.stratum == 0 {
            return Err(ReplyError::Kiss(Kiss::from_code(packet.reference_id)));
        }
        if packet.leap == Leap::Unsynchronised {
            return Err(ReplyError::Unsynchronised);
        }
        if packet.stratum > 15 {
            return Err(ReplyError::Stratum(packet.stratum));
        }
        if packet.transmit.is_zero() {
            return Err(ReplyError::ZeroTransmit);
        }
        if packet.transmit.since(packet.receive).to_bits() < 0 {
            return Err(ReplyError::ServerTimesReversed);
        }
        Ok(packet)
    }

    /// Validates `reply` and measures the exchange: `sent` is the local
    /// clock when the request left (T1), `received` when the reply arrived
    /// (T4).
    pub fn measure(
        &self,
        reply: &[u8],
        sent: NtpTimestamp,
        received: NtpTimestamp,
    ) -> Result<Measurement, ReplyError> {
        let packet = self.validate(reply)?;
        let (offset, delay) = offset_and_delay(sent, packet.receive, packet.transmit, received);
        Ok(Measurement {
            offset,
            delay,
            stratum: packet.stratum,
            leap: packet.leap,
            root_delay: packet.root_delay.as_secs_f64(),
            root_dispersion: packet.root_dispersion.as_secs_f64(),
            reference_id: packet.reference_id,
            precision: packet.precision,
            server_transmit: packet.transmit,
        })
    }
}

/// Offset (node minus server) and round-trip delay from the four
/// timestamps: T1 client send, T2 server receive, T3 server send, T4 client
/// receive.
///
/// offset = ((T1 − T2) + (T4 − T3)) / 2, delay = (T4 − T1) − (T3 − T2).
/// Each difference is taken wrap-safe in 32.32 fixed point before any
/// floating point (RFC 5905 §8 asks for exactly that), so it is exact across
/// the 2036 rollover and loses no precision to large absolute values.
pub fn offset_and_delay(
    t1: NtpTimestamp,
    t2: NtpTimestamp,
    t3: NtpTimestamp,
    t4: NtpTimestamp,
) -> (f64, f64) {
    let bits = |a: NtpTimestamp, b: NtpTimestamp| i128::from(a.since(b).to_bits());
    let offset = bits(t1, t2) + bits(t4, t3);
    let delay = bits(t4, t1) - bits(t3, t2);
    const SCALE: f64 = 4_294_967_296.0;
    (offset as f64 / (2.0 * SCALE), delay as f64 / SCALE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timestamp::UNIX_EPOCH_NTP_SECONDS;

    const COOKIE: u64 = 0x0123_4567_89AB_CDEF;

    fn request() -> Request {
        Request::new(NonZeroU64::new(COOKIE).expect("non-zero"))
    }

    /// A valid reply to `request()`: the server 2.5 s behind a client whose
    /// request left at unix 1 700 000 000 and took 10 ms each way, with 1 ms
    /// of processing.
    fn reply() -> Packet {
        Packet {
            leap: Leap::NoWarning,
            version: 4,
            mode: Mode::Server,
            stratum: 2,
            poll: 6,
            precision: -20,
            root_delay: NtpShort::from_secs_f64(0.004),
            root_dispersion: NtpShort::from_secs_f64(0.001),
            reference_id: [127, 127, 1, 1],
            reference: NtpTimestamp::from_unix(1_699_999_990, 0),
            origin: NtpTimestamp::from_bits(COOKIE),
            receive: NtpTimestamp::from_unix(1_699_999_997, 510_000_000),
            transmit: NtpTimestamp::from_unix(1_699_999_997, 511_000_000),
        }
    }

    fn t1() -> NtpTimestamp {
        NtpTimestamp::from_unix(1_700_000_000, 0)
    }

    fn t4() -> NtpTimestamp {
        NtpTimestamp::from_unix(1_700_000_000, 21_000_000)
    }

    fn with(change: impl FnOnce(&mut Packet)) -> Vec<u8> {
        let mut p = reply();
        change(&mut p);
        p.encode().to_vec()
    }

    #[test]
    fn the_request_says_nothing_but_version_mode_and_cookie() {
        let bytes = request().encode();
        assert_eq!(bytes[0], 0b00_100_011, "leap 0, version 4, mode 3");
        assert!(bytes[1..40].iter().all(|b| *b == 0), "{bytes:?}");
        assert_eq!(&bytes[40..48], &COOKIE.to_be_bytes());
    }

    #[test]
    fn a_valid_reply_measures_offset_delay_and_root_distance() {
        let m = request()
            .measure(&reply().encode(), t1(), t4())
            .expect("valid");
        // Node ahead by 2.5 s: positive.
        assert!((m.offset - 2.5).abs() < 1e-9, "{}", m.offset);
        assert!((m.delay - 0.020).abs() < 1e-9, "{}", m.delay);
        assert_eq!(m.stratum, 2);
        assert!(
            (m.root_distance() - 0.003).abs() < 1e-4,
            "{}",
            m.root_distance()
        );
        assert!(
            (m.uncertainty() - 0.013).abs() < 1e-4,
            "{}",
            m.uncertainty()
        );
        assert_eq!(m.reference_id, [127, 127, 1, 1]);
    }

    #[test]
    fn a_server_ahead_gives_a_negative_offset() {
        let bytes = with(|p| {
            p.receive = NtpTimestamp::from_unix(1_700_000_003, 10_000_000);
            p.transmit = NtpTimestamp::from_unix(1_700_000_003, 11_000_000);
        });
        let m = request().measure(&bytes, t1(), t4()).expect("valid");
        assert!((m.offset + 3.0).abs() < 1e-9, "{}", m.offset);
    }

    #[test]
    fn a_reply_to_another_request_is_rejected_first() {
        let stale = with(|p| {
            p.origin = NtpTimestamp::from_bits(COOKIE + 1);
            // Even a kiss in it is not believed.
            p.stratum = 0;
            p.reference_id = *b"DENY";
        });
        assert_eq!(
            request().validate(&stale),
            Err(ReplyError::NotOurs {
                got: NtpTimestamp::from_bits(COOKIE + 1)
            })
        );
        let zero = with(|p| p.origin = NtpTimestamp::ZERO);
        assert_eq!(
            request().validate(&zero).map_err(|e| e.kind()),
            Err("not_ours")
        );
    }

    #[test]
    fn versions_3_and_4_only() {
        for v in [3, 4] {
            assert!(request().validate(&with(|p| p.version = v)).is_ok(), "{v}");
        }
        for v in [0, 1, 2, 5, 7] {
            assert_eq!(
                request().validate(&with(|p| p.version = v)),
                Err(ReplyError::Version(v))
            );
        }
    }

    #[test]
    fn only_server_mode() {
        for bits in (0..8).filter(|m| *m != 4) {
            let mode = Mode::from_bits(bits);
            assert_eq!(
                request().validate(&with(|p| p.mode = mode)),
                Err(ReplyError::Mode(mode))
            );
        }
        assert_eq!(
            ReplyError::Mode(Mode::Client).to_string(),
            "mode 3 (client), not 4 (server)"
        );
    }

    #[test]
    fn kisses_of_death_carry_their_code() {
        for (code, kiss, kind) in [
            (*b"RATE", Kiss::Rate, "kiss_rate"),
            (*b"DENY", Kiss::Deny, "kiss_deny"),
            (*b"RSTR", Kiss::Rstr, "kiss_rstr"),
            (*b"INIT", Kiss::Other(*b"INIT"), "kiss_other"),
        ] {
            // Kisses usually come with leap 3; the kiss is what is reported.
            let bytes = with(|p| {
                p.stratum = 0;
                p.leap = Leap::Unsynchronised;
                p.reference_id = code;
            });
            let error = request().validate(&bytes).expect_err("a kiss");
            assert_eq!(error, ReplyError::Kiss(kiss));
            assert_eq!(error.kind(), kind);
        }
        assert!(Kiss::Deny.forbids_probing() && Kiss::Rstr.forbids_probing());
        assert!(!Kiss::Rate.forbids_probing());
        assert_eq!(Kiss::Other(*b"A\0\x7fZ").to_string(), "A\\x00\\x7fZ");
        assert_eq!(
            ReplyError::Kiss(Kiss::Rate).to_string(),
            "Kiss-o'-Death RATE"
        );
    }

    #[test]
    fn an_unsynchronised_server_is_rejected() {
        assert_eq!(
            request().validate(&with(|p| p.leap = Leap::Unsynchronised)),
            Err(ReplyError::Unsynchronised)
        );
        for s in [16, 17, 255] {
            assert_eq!(
                request().validate(&with(|p| p.stratum = s)),
                Err(ReplyError::Stratum(s))
            );
        }
        for s in [1, 15] {
            assert!(request().validate(&with(|p| p.stratum = s)).is_ok());
        }
    }

    #[test]
    fn a_zero_transmit_timestamp_is_rejected() {
        assert_eq!(
            request().validate(&with(|p| p.transmit = NtpTimestamp::ZERO)),
            Err(ReplyError::ZeroTransmit)
        );
    }

    #[test]
    fn server_times_out_of_order_are_rejected() {
        let bytes = with(|p| p.transmit = NtpTimestamp::from_unix(1_699_999_997, 509_000_000));
        assert_eq!(
            request().validate(&bytes),
            Err(ReplyError::ServerTimesReversed)
        );
    }

    #[test]
    fn truncated_oversized_and_misaligned_packets_are_rejected() {
        let header = reply().encode();
        assert_eq!(
            request().validate(&header[..47]).map_err(|e| e.kind()),
            Err("truncated")
        );
        let mut big = header.to_vec();
        big.resize(1028, 0);
        assert_eq!(
            request().validate(&big).map_err(|e| e.kind()),
            Err("oversized")
        );
        big.truncate(49);
        assert_eq!(
            request().validate(&big).map_err(|e| e.kind()),
            Err("misaligned")
        );
        // A MAC is tolerated.
        big.resize(48 + 24, 0);
        assert!(request().validate(&big).is_ok());
    }

    #[test]
    fn offset_and_delay_hold_across_the_2036_rollover() {
        // The client sends 0.5 s before era 1 begins; the server is 1 s
        // behind, answers after 2 ms, 10 ms each way.
        let era1 = (1i64 << 32) - UNIX_EPOCH_NTP_SECONDS;
        let t1 = NtpTimestamp::from_unix(era1 - 1, 500_000_000);
        let t2 = NtpTimestamp::from_unix(era1 - 2, 510_000_000);
        let t3 = NtpTimestamp::from_unix(era1 - 2, 512_000_000);
        let t4 = NtpTimestamp::from_unix(era1 - 1, 522_000_000);
        assert!(t4.seconds() == u32::MAX && t1.seconds() == u32::MAX);
        let (offset, delay) = offset_and_delay(t1, t2, t3, t4);
        assert!((offset - 1.0).abs() < 1e-9, "{offset}");
        assert!((delay - 0.020).abs() < 1e-9, "{delay}");
        // The same exchange with the node's clock already past the boundary.
        let shift = std::time::Duration::from_secs(1);
        let (offset, delay) =
            offset_and_delay(t1.wrapping_add(shift), t2, t3, t4.wrapping_add(shift));
        assert!(t1.wrapping_add(shift).seconds() == 0);
        assert!((offset - 2.0).abs() < 1e-9, "{offset}");
        assert!((delay - 0.020).abs() < 1e-9, "{delay}");
    }

    #[test]
    fn precision_is_kept_for_large_offsets() {
        // 30 years of offset and a 1 µs delay: both exact to the tick.
        let t1 = NtpTimestamp::from_unix(2_000_000_000, 0);
        let t2 = NtpTimestamp::from_unix(2_000_000_000 - 946_080_000, 0);
        let t4 = NtpTimestamp::from_unix(2_000_000_000, 1_000);
        let (offset, delay) = offset_and_delay(t1, t2, t2, t4);
        assert!((offset - (946_080_000.0 + 0.5e-6)).abs() < 1e-6, "{offset}");
        assert!((delay - 1e-6).abs() < 1e-9, "{delay}");
    }

    #[test]
    fn a_negative_delay_adds_no_negative_uncertainty() {
        let m = Measurement {
            offset: 0.0,
            delay: -1e-6,
            stratum: 1,
            leap: Leap::NoWarning,
            root_delay: 0.0,
            root_dispersion: 1e-5,
            reference_id: *b"GPS\0",
            precision: -20,
            server_transmit: NtpTimestamp::ZERO,
        };
        assert_eq!(m.uncertainty(), 1e-5);
    }
}
