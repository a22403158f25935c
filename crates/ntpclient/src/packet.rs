//! The 48-byte NTP packet header (RFC 5905 §7.3): its fields, and how many
//! bytes may follow it.
//!
//! Extension fields (RFC 7822) and a MAC may follow the header; this crate
//! neither needs nor reads them, but accepts them up to
//! [`MAX_PACKET_LEN`] bytes in all, in whole 32-bit words as the format
//! requires. Anything longer is not a plain NTP reply to a plain request.

use crate::timestamp::{NtpShort, NtpTimestamp};

/// Length of the header, and of a request.
pub const HEADER_LEN: usize = 48;

/// The longest packet accepted: the header plus 976 bytes of extension
/// fields and MAC. A reply to a plain request carries at most a 20- or
/// 24-byte symmetric-key MAC; an NTS reply (RFC 8915) with a handful of
/// fresh cookies stays well below this too.
pub const MAX_PACKET_LEN: usize = 1024;

/// Leap indicator: the warning of an impending leap second, or 3 when the
/// sender's clock is not synchronised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Leap {
    NoWarning,
    /// The last minute of the day has 61 seconds.
    InsertSecond,
    /// The last minute of the day has 59 seconds.
    DeleteSecond,
    /// The sender's clock is not synchronised.
    Unsynchronised,
}

impl Leap {
    pub const fn from_bits(bits: u8) -> Self {
        match bits & 3 {
            0 => Leap::NoWarning,
            1 => Leap::InsertSecond,
            2 => Leap::DeleteSecond,
            _ => Leap::Unsynchronised,
        }
    }

    pub const fn to_bits(self) -> u8 {
        match self {
            Leap::NoWarning => 0,
            Leap::InsertSecond => 1,
            Leap::DeleteSecond => 2,
            Leap::Unsynchronised => 3,
        }
    }
}

/// Association mode (RFC 5905 Figure 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    Reserved,
    SymmetricActive,
    SymmetricPassive,
    Client,
    Server,
    Broadcast,
    Control,
    Private,
}

impl Mode {
    pub const fn from_bits(bits: u8) -> Self {
        match bits & 7 {
            0 => Mode::Reserved,
            1 => Mode::SymmetricActive,
            2 => Mode::SymmetricPassive,
            3 => Mode::Client,
            4 => Mode::Server,
            5 => Mode::Broadcast,
            6 => Mode::Control,
            _ => Mode::Private,
        }
    }

    pub const fn to_bits(self) -> u8 {
        match self {
            Mode::Reserved => 0,
            Mode::SymmetricActive => 1,
            Mode::SymmetricPassive => 2,
            Mode::Client => 3,
            Mode::Server => 4,
            Mode::Broadcast => 5,
            Mode::Control => 6,
            Mode::Private => 7,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Mode::Reserved => "reserved",
            Mode::SymmetricActive => "symmetric active",
            Mode::SymmetricPassive => "symmetric passive",
            Mode::Client => "client",
            Mode::Server => "server",
            Mode::Broadcast => "broadcast",
            Mode::Control => "control",
            Mode::Private => "private",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.to_bits(), self.name())
    }
}

/// The header fields, as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Packet {
    pub leap: Leap,
    /// Version number, 0..=7 (3 bits on the wire).
    pub version: u8,
    pub mode: Mode,
    /// 0 unspecified (a Kiss-o'-Death in a reply), 1 primary, 2..=15
    /// secondary, 16 unsynchronised.
    pub stratum: u8,
    /// log2 of the poll interval in seconds.
    pub poll: i8,
    /// log2 of the sender clock's precision in seconds.
    pub precision: i8,
    pub root_delay: NtpShort,
    pub root_dispersion: NtpShort,
    /// The reference ID, or the ASCII kiss code when the stratum is 0.
    pub reference_id: [u8; 4],
    pub reference: NtpTimestamp,
    /// T1 in a reply: the transmit timestamp of the request it answers.
    pub origin: NtpTimestamp,
    /// T2: when the server received the request.
    pub receive: NtpTimestamp,
    /// T3: when the server sent the reply.
    pub transmit: NtpTimestamp,
}

/// Why a datagram is not an NTP packet this client accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("truncated packet: {len} bytes, an NTP header has 48")]
    Truncated { len: usize },
    #[error("oversized packet: {len} bytes, more than the {MAX_PACKET_LEN} accepted")]
    Oversized { len: usize },
    #[error("malformed packet: {len} bytes is not a whole number of 32-bit words")]
    Misaligned { len: usize },
}

impl Packet {
    /// The header of `bytes`, after checking its length; extension fields
    /// and MAC after it are accepted (see [`MAX_PACKET_LEN`]) and ignored.
    pub fn decode(bytes: &[u8]) -> Result<Packet, DecodeError> {
        let len = bytes.len();
        if len < HEADER_LEN {
            return Err(DecodeError::Truncated { len });
        }
        if len > MAX_PACKET_LEN {
            return Err(DecodeError::Oversized { len });
        }
        if !len.is_multiple_of(4) {
            return Err(DecodeError::Misaligned { len });
        }
        let word = |at: usize| {
            u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        let stamp = |at: usize| NtpTimestamp::from_parts(word(at), word(at + 4));
        Ok(Packet {
            leap: Leap::from_bits(bytes[0] >> 6),
            version: (bytes[0] >> 3) & 7,
            mode: Mode::from_bits(bytes[0]),
            stratum: bytes[1],
            poll: bytes[2] as i8,
            precision: bytes[3] as i8,
            root_delay: NtpShort::from_bits(word(4)),
            root_dispersion: NtpShort::from_bits(word(8)),
            reference_id: [bytes[12], bytes[13], bytes[14], bytes[15]],
            reference: stamp(16),
            origin: stamp(24),
            receive: stamp(32),
            transmit: stamp(40),
        })
    }

    /// The 48 header bytes. A version above 7 keeps its low 3 bits.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0] = (self.leap.to_bits() << 6) | ((self.version & 7) << 3) | self.mode.to_bits();
        out[1] = self.stratum;
        out[2] = self.poll as u8;
        out[3] = self.precision as u8;
        out[4..8].copy_from_slice(&self.root_delay.to_bits().to_be_bytes());
        out[8..12].copy_from_slice(&self.root_dispersion.to_bits().to_be_bytes());
        out[12..16].copy_from_slice(&self.reference_id);
        for (at, stamp) in [
            (16, self.reference),
            (24, self.origin),
            (32, self.receive),
            (40, self.transmit),
        ] {
            out[at..at + 8].copy_from_slice(&stamp.to_bits().to_be_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Packet {
        Packet {
            leap: Leap::InsertSecond,
            version: 4,
            mode: Mode::Server,
            stratum: 2,
            poll: 6,
            precision: -23,
            root_delay: NtpShort::from_bits(0x0000_0831),
            root_dispersion: NtpShort::from_bits(0x0001_0002),
            reference_id: [127, 0, 0, 1],
            reference: NtpTimestamp::from_bits(0x0102_0304_0506_0708),
            origin: NtpTimestamp::from_bits(0x1112_1314_1516_1718),
            receive: NtpTimestamp::from_bits(0x2122_2324_2526_2728),
            transmit: NtpTimestamp::from_bits(0x3132_3334_3536_3738),
        }
    }

    #[test]
    fn fields_sit_where_rfc_5905_puts_them() {
        let bytes = sample().encode();
        assert_eq!(bytes[0], 0b01_100_100);
        assert_eq!(&bytes[1..4], &[2, 6, 0xE9]);
        assert_eq!(&bytes[4..8], &[0, 0, 0x08, 0x31]);
        assert_eq!(&bytes[8..12], &[0, 1, 0, 2]);
        assert_eq!(&bytes[12..16], &[127, 0, 0, 1]);
        assert_eq!(bytes[16], 0x01);
        assert_eq!(bytes[24], 0x11);
        assert_eq!(bytes[32], 0x21);
        assert_eq!(
            &bytes[40..48],
            &[0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38]
        );
        assert_eq!(Packet::decode(&bytes), Ok(sample()));
    }

    #[test]
    fn lengths_are_checked() {
        let header = sample().encode();
        assert_eq!(
            Packet::decode(&header[..47]),
            Err(DecodeError::Truncated { len: 47 })
        );
        assert_eq!(Packet::decode(&[]), Err(DecodeError::Truncated { len: 0 }));
        // A 20-byte MAC (key ID + MD5) after the header is fine.
        let mut with_mac = header.to_vec();
        with_mac.extend([0xAA; 20]);
        assert_eq!(Packet::decode(&with_mac), Ok(sample()));
        // Up to the maximum, not beyond.
        let mut longest = header.to_vec();
        longest.resize(MAX_PACKET_LEN, 0);
        assert_eq!(Packet::decode(&longest), Ok(sample()));
        longest.extend([0; 4]);
        assert_eq!(
            Packet::decode(&longest),
            Err(DecodeError::Oversized {
                len: MAX_PACKET_LEN + 4
            })
        );
        let mut odd = header.to_vec();
        odd.push(0);
        assert_eq!(
            Packet::decode(&odd),
            Err(DecodeError::Misaligned { len: 49 })
        );
    }

    #[test]
    fn every_mode_and_leap_value_round_trips() {
        for bits in 0..8 {
            assert_eq!(Mode::from_bits(bits).to_bits(), bits);
        }
        for bits in 0..4 {
            assert_eq!(Leap::from_bits(bits).to_bits(), bits);
        }
        assert_eq!(Mode::Server.to_string(), "4 (server)");
    }
}
