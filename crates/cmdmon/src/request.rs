//! Requests: the monitoring commands clockwatch sends, and their encoding.

use crate::error::{DecodeError, ReplyError};
use crate::reply::{self, ReplyBody, ReplyHeader, ReplyType};
use crate::status::Status;
use crate::types::Address;
use crate::wire::{Reader, Writer, ADDRESS_LEN};
use crate::{PKT_TYPE_REQUEST, PROTOCOL_VERSION};

/// Length of the request header.
pub const REQUEST_HEADER_LEN: usize = 20;

/// A monitoring command. All of them only read chronyd's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Request {
    /// `tracking`: the system clock's state.
    Tracking,
    /// How many sources there are; indices for [`Request::SourceData`] and
    /// [`Request::SourceStats`] run from 0 to n - 1.
    NSources,
    /// `sources`: one entry of the source list.
    SourceData {
        /// Index of the source, from 0.
        index: i32,
    },
    /// `sourcestats`: statistics of one source.
    SourceStats {
        /// Index of the source, from 0.
        index: u32,
    },
    /// The last NTP exchange with one source (unix socket only).
    NtpData {
        /// The source's address.
        address: Address,
    },
    /// Server statistics (unix socket only).
    ServerStats,
    /// `activity`: counts of sources by activity.
    Activity,
    /// The name a source was configured with.
    NtpSourceName {
        /// The source's address.
        address: Address,
    },
}

impl Request {
    /// The `REQ_*` command code.
    pub fn command(&self) -> u16 {
        match self {
            Request::NSources => 14,
            Request::SourceData { .. } => 15,
            Request::Tracking => 33,
            Request::SourceStats { .. } => 34,
            Request::Activity => 44,
            Request::ServerStats => 54,
            Request::NtpData { .. } => 57,
            Request::NtpSourceName { .. } => 65,
        }
    }

    /// A short name for messages and metrics labels.
    pub fn name(&self) -> &'static str {
        match self {
            Request::Tracking => "tracking",
            Request::NSources => "n_sources",
            Request::SourceData { .. } => "source_data",
            Request::SourceStats { .. } => "sourcestats",
            Request::NtpData { .. } => "ntp_data",
            Request::ServerStats => "server_stats",
            Request::Activity => "activity",
            Request::NtpSourceName { .. } => "ntp_source_name",
        }
    }

    /// The reply types that answer this command, oldest format first.
    pub fn reply_types(&self) -> &'static [ReplyType] {
        match self {
            Request::Tracking => &[ReplyType::Tracking],
            Request::NSources => &[ReplyType::NSources],
            Request::SourceData { .. } => &[ReplyType::SourceData],
            Request::SourceStats { .. } => &[ReplyType::SourceStats],
            Request::NtpData { .. } => &[ReplyType::NtpData, ReplyType::NtpData2],
            Request::ServerStats => &[
                ReplyType::ServerStats,
                ReplyType::ServerStats2,
                ReplyType::ServerStats3,
                ReplyType::ServerStats4,
            ],
            Request::Activity => &[ReplyType::Activity],
            Request::NtpSourceName { .. } => &[ReplyType::NtpSourceName],
        }
    }

    /// Length of the encoded request. chronyd answers only requests at least
    /// as long as the reply it will send (so that it cannot be used to
    /// amplify traffic), so a request is padded to the longest reply any
    /// chrony version sends for it.
    pub fn encoded_len(&self) -> usize {
        let longest_reply = self
            .reply_types()
            .iter()
            .map(|t| reply::REPLY_HEADER_LEN + t.data_len())
            .max()
            .unwrap_or(reply::REPLY_HEADER_LEN);
        (REQUEST_HEADER_LEN + self.data_len()).max(longest_reply)
    }

    fn data_len(&self) -> usize {
        match self {
            Request::Tracking | Request::NSources | Request::ServerStats | Request::Activity => 0,
            Request::SourceData { .. } | Request::SourceStats { .. } => 4,
            Request::NtpData { .. } | Request::NtpSourceName { .. } => ADDRESS_LEN,
        }
    }

    /// Encodes the request with a sequence number (echoed in the reply) and
    /// an attempt number (counts resends of the same sequence number).
    pub fn encode(&self, sequence: u32, attempt: u16) -> Vec<u8> {
        let len = self.encoded_len();
        let mut w = Writer::with_capacity(len);
        w.u8(PROTOCOL_VERSION);
        w.u8(PKT_TYPE_REQUEST);
        w.u8(0);
        w.u8(0);
        w.u16(self.command());
        w.u16(attempt);
        w.u32(sequence);
        w.u32(0);
        w.u32(0);
        match *self {
            Request::Tracking | Request::NSources | Request::ServerStats | Request::Activity => {}
            Request::SourceData { index } => w.i32(index),
            Request::SourceStats { index } => w.u32(index),
            Request::NtpData { address } | Request::NtpSourceName { address } => w.address(address),
        }
        w.pad_to(len);
        w.into_vec()
    }

    /// Decodes a request (what chronyd does; used by test peers and fuzzing).
    /// Returns the request, its sequence number and attempt number.
    pub fn decode(buf: &[u8]) -> Result<(Request, u32, u16), DecodeError> {
        let mut r = Reader::new(buf);
        let version = r.u8()?;
        if version != PROTOCOL_VERSION {
            return Err(DecodeError::BadVersion(version));
        }
        let pkt_type = r.u8()?;
        if pkt_type != PKT_TYPE_REQUEST {
            return Err(DecodeError::WrongPacketType {
                expected: PKT_TYPE_REQUEST,
                got: pkt_type,
            });
        }
        r.skip(2)?;
        let command = r.u16()?;
        let attempt = r.u16()?;
        let sequence = r.u32()?;
        r.skip(8)?;
        let request = match command {
            14 => Request::NSources,
            15 => Request::SourceData { index: r.i32()? },
            33 => Request::Tracking,
            34 => Request::SourceStats { index: r.u32()? },
            44 => Request::Activity,
            54 => Request::ServerStats,
            57 => Request::NtpData {
                address: r.address()?,
            },
            65 => Request::NtpSourceName {
                address: r.address()?,
            },
            other => {
                return Err(DecodeError::BadEnum {
                    field: "command",
                    value: other.into(),
                })
            }
        };
        if buf.len() < request.encoded_len() {
            return Err(DecodeError::WrongLength {
                reply: request.name(),
                expected: request.encoded_len(),
                actual: buf.len(),
            });
        }
        Ok((request, sequence, attempt))
    }

    /// Checks that `packet` answers this request sent with `sequence`, and
    /// decodes its body. A reply with another sequence number or command
    /// gives an error for which [`ReplyError::is_stray`] is true.
    pub fn parse_reply(&self, sequence: u32, packet: &[u8]) -> Result<ReplyBody, ReplyError> {
        let header = ReplyHeader::decode(packet)?;
        if header.command != self.command() {
            return Err(ReplyError::WrongCommand {
                expected: self.command(),
                got: header.command,
            });
        }
        if header.sequence != sequence {
            return Err(ReplyError::WrongSequence {
                expected: sequence,
                got: header.sequence,
            });
        }
        if header.status != Status::Success {
            return Err(ReplyError::Status(header.status));
        }
        let reply_type = ReplyType::from_wire(header.reply_type)?;
        if !self.reply_types().contains(&reply_type) {
            return Err(ReplyError::UnexpectedReply {
                command: header.command,
                reply: header.reply_type,
            });
        }
        Ok(reply::decode_body(reply_type, packet)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_padded_to_the_longest_reply() {
        // Lengths chronyd expects (header + data + padding to the reply).
        assert_eq!(Request::Tracking.encoded_len(), 28 + 76);
        assert_eq!(Request::NSources.encoded_len(), 28 + 4);
        assert_eq!(Request::SourceData { index: 0 }.encoded_len(), 28 + 48);
        assert_eq!(Request::SourceStats { index: 0 }.encoded_len(), 28 + 56);
        assert_eq!(Request::ServerStats.encoded_len(), 28 + 168);
        assert_eq!(
            Request::NtpData {
                address: Address::Unspecified
            }
            .encoded_len(),
            28 + 144
        );
        assert_eq!(Request::Activity.encoded_len(), 28 + 20);
        assert_eq!(
            Request::NtpSourceName {
                address: Address::Unspecified
            }
            .encoded_len(),
            28 + 256
        );
    }

    #[test]
    fn encode_decode_round_trip() {
        let all = [
            Request::Tracking,
            Request::NSources,
            Request::SourceData { index: -3 },
            Request::SourceStats { index: 7 },
            Request::NtpData {
                address: Address::V4([127, 0, 0, 1].into()),
            },
            Request::ServerStats,
            Request::Activity,
            Request::NtpSourceName {
                address: Address::V6(std::net::Ipv6Addr::LOCALHOST),
            },
        ];
        for req in all {
            let bytes = req.encode(0xdead_beef, 2);
            assert_eq!(bytes.len(), req.encoded_len());
            assert_eq!(&bytes[..4], &[6, 1, 0, 0]);
            assert_eq!(Request::decode(&bytes), Ok((req, 0xdead_beef, 2)));
        }
    }
}
