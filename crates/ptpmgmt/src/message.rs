//! Management messages: the common PTP header, the management fields, and
//! one management TLV. GET requests are encoded (and decoded, for test
//! peers); RESPONSE messages are decoded (and encoded, for test peers and
//! the fuzzer's round trip).

use crate::datasets::{
    read_port_identity, write_port_identity, CurrentDataSet, DefaultDataSet, ParentDataSet,
    PortDataSet, PortPropertiesNp, TimePropertiesDataSet, TimeStatusNp,
};
use crate::error::DecodeError;
use crate::types::{ManagementErrorId, PortIdentity};
use crate::wire::{Reader, Writer};

/// Length of the common PTP message header.
pub const HEADER_LEN: usize = 34;
/// Length of a management message before its TLV: the common header, the
/// target port identity, the two boundary hop counts, the action and a
/// reserved octet.
pub const MANAGEMENT_LEN: usize = HEADER_LEN + 14;
/// The PTP version this crate speaks.
pub const PTP_VERSION: u8 = 2;
/// messageType of a management message.
pub const MESSAGE_TYPE_MANAGEMENT: u8 = 0xd;
/// tlvType of a management TLV.
pub const TLV_MANAGEMENT: u16 = 0x0001;
/// tlvType of a management error status TLV.
pub const TLV_MANAGEMENT_ERROR_STATUS: u16 = 0x0002;
/// controlField of a management message (1588-2008; 1588-2019 senders,
/// linuxptp 4.x among them, send 0 and receivers ignore it).
pub const CONTROL_MANAGEMENT: u8 = 0x04;
/// logMessageInterval of a management message.
pub const LOG_INTERVAL_MANAGEMENT: i8 = 0x7f;

/// What a management message asks or answers (actionField).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Read a dataset.
    Get = 0,
    /// Write a dataset.
    Set = 1,
    /// The answer to a GET or SET.
    Response = 2,
    /// Run a command.
    Command = 3,
    /// The answer to a COMMAND.
    Acknowledge = 4,
}

/// The datasets this crate reads (managementId).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ManagementId {
    /// DEFAULT_DATA_SET, 0x2000.
    DefaultDataSet,
    /// CURRENT_DATA_SET, 0x2001.
    CurrentDataSet,
    /// PARENT_DATA_SET, 0x2002.
    ParentDataSet,
    /// TIME_PROPERTIES_DATA_SET, 0x2003.
    TimePropertiesDataSet,
    /// PORT_DATA_SET, 0x2004: answered once per port.
    PortDataSet,
    /// linuxptp's TIME_STATUS_NP, 0xC000.
    TimeStatusNp,
    /// linuxptp's PORT_PROPERTIES_NP, 0xC004: answered once per port.
    PortPropertiesNp,
}

impl ManagementId {
    /// Every id, clock-level ones first.
    pub const ALL: [ManagementId; 7] = [
        ManagementId::DefaultDataSet,
        ManagementId::CurrentDataSet,
        ManagementId::ParentDataSet,
        ManagementId::TimePropertiesDataSet,
        ManagementId::TimeStatusNp,
        ManagementId::PortDataSet,
        ManagementId::PortPropertiesNp,
    ];

    /// The managementId on the wire.
    pub fn to_wire(self) -> u16 {
        match self {
            ManagementId::DefaultDataSet => 0x2000,
            ManagementId::CurrentDataSet => 0x2001,
            ManagementId::ParentDataSet => 0x2002,
            ManagementId::TimePropertiesDataSet => 0x2003,
            ManagementId::PortDataSet => 0x2004,
            ManagementId::TimeStatusNp => 0xc000,
            ManagementId::PortPropertiesNp => 0xc004,
        }
    }

    /// The id for a managementId, if this crate decodes it.
    pub fn from_wire(v: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|id| id.to_wire() == v)
    }

    /// The name linuxptp's `pmc` uses.
    pub fn name(self) -> &'static str {
        match self {
            ManagementId::DefaultDataSet => "DEFAULT_DATA_SET",
            ManagementId::CurrentDataSet => "CURRENT_DATA_SET",
            ManagementId::ParentDataSet => "PARENT_DATA_SET",
            ManagementId::TimePropertiesDataSet => "TIME_PROPERTIES_DATA_SET",
            ManagementId::PortDataSet => "PORT_DATA_SET",
            ManagementId::TimeStatusNp => "TIME_STATUS_NP",
            ManagementId::PortPropertiesNp => "PORT_PROPERTIES_NP",
        }
    }

    /// True for a port's dataset: every port answers a GET of it sent to
    /// the wildcard port. A clock's dataset is answered once.
    pub fn is_per_port(self) -> bool {
        matches!(
            self,
            ManagementId::PortDataSet | ManagementId::PortPropertiesNp
        )
    }
}

/// Everything of a management message before its TLV, except the action:
/// the common PTP header and the management fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// transportSpecific, 4 bits (1 for 802.1AS / gPTP; a daemon ignores
    /// messages whose value is not its own).
    pub transport_specific: u8,
    /// minorVersionPTP, 4 bits (1 from 1588-2019 senders).
    pub minor_version: u8,
    /// domainNumber: ptp4l ignores management messages of another domain.
    pub domain_number: u8,
    /// minorSdoId (1588-2019; reserved before).
    pub minor_sdo_id: u8,
    /// flagField.
    pub flags: u16,
    /// correctionField (unused by management).
    pub correction: i64,
    /// messageTypeSpecific (reserved in 1588-2008).
    pub message_type_specific: u32,
    /// The sender's port.
    pub source_port_identity: PortIdentity,
    /// sequenceId: a response carries its request's.
    pub sequence_id: u16,
    /// controlField.
    pub control: u8,
    /// logMessageInterval.
    pub log_message_interval: i8,
    /// The port (or wildcard) the message is for; a response is addressed
    /// to its request's source port.
    pub target_port_identity: PortIdentity,
    /// startingBoundaryHops.
    pub starting_boundary_hops: u8,
    /// boundaryHops: how many more boundary clocks may forward it. 0 keeps a
    /// request to the daemon it is sent to.
    pub boundary_hops: u8,
}

impl Header {
    /// A request header as a local client sends it: domain 0, transport 0,
    /// addressed to every port, forwarded to no other clock.
    pub fn request(source_port_identity: PortIdentity, sequence_id: u16) -> Self {
        Self {
            transport_specific: 0,
            minor_version: 0,
            domain_number: 0,
            minor_sdo_id: 0,
            flags: 0,
            correction: 0,
            message_type_specific: 0,
            source_port_identity,
            sequence_id,
            control: CONTROL_MANAGEMENT,
            log_message_interval: LOG_INTERVAL_MANAGEMENT,
            target_port_identity: PortIdentity::WILDCARD,
            starting_boundary_hops: 0,
            boundary_hops: 0,
        }
    }

    /// Reads the header, checks the message type, version and length, and
    /// returns it with the action and a reader positioned at the TLV.
    fn decode(bytes: &[u8]) -> Result<(Self, u8, Reader<'_>), DecodeError> {
        let mut r = Reader::new(bytes);
        let first = r.u8()?;
        let second = r.u8()?;
        let message_type = first & 0x0f;
        let version = second & 0x0f;
        let message_length = usize::from(r.u16()?);
        if bytes.len() < HEADER_LEN {
            return Err(DecodeError::Truncated {
                needed: HEADER_LEN,
                available: bytes.len(),
            });
        }
        if message_type != MESSAGE_TYPE_MANAGEMENT {
            return Err(DecodeError::WrongMessageType(message_type));
        }
        if version != PTP_VERSION {
            return Err(DecodeError::WrongVersion(version));
        }
        if message_length > bytes.len() {
            return Err(DecodeError::Truncated {
                needed: message_length,
                available: bytes.len(),
            });
        }
        if message_length < bytes.len() {
            return Err(DecodeError::Oversized {
                message_length,
                received: bytes.len(),
            });
        }
        if message_length < MANAGEMENT_LEN {
            return Err(DecodeError::Truncated {
                needed: MANAGEMENT_LEN,
                available: message_length,
            });
        }
        let header = Header {
            transport_specific: first >> 4,
            minor_version: second >> 4,
            domain_number: r.u8()?,
            minor_sdo_id: r.u8()?,
            flags: r.u16()?,
            correction: r.i64()?,
            message_type_specific: r.u32()?,
            source_port_identity: read_port_identity(&mut r)?,
            sequence_id: r.u16()?,
            control: r.u8()?,
            log_message_interval: r.i8()?,
            target_port_identity: read_port_identity(&mut r)?,
            starting_boundary_hops: r.u8()?,
            boundary_hops: r.u8()?,
        };
        let action = r.u8()? & 0x0f;
        let _reserved = r.u8()?;
        Ok((header, action, r))
    }

    /// Writes the header with a zero length, which [`finish`] fills in.
    fn encode(&self, action: Action) -> Writer {
        let mut w = Writer::default();
        w.u8((self.transport_specific & 0x0f) << 4 | MESSAGE_TYPE_MANAGEMENT);
        w.u8((self.minor_version & 0x0f) << 4 | PTP_VERSION);
        w.u16(0);
        w.u8(self.domain_number);
        w.u8(self.minor_sdo_id);
        w.u16(self.flags);
        w.i64(self.correction);
        w.u32(self.message_type_specific);
        write_port_identity(&mut w, &self.source_port_identity);
        w.u16(self.sequence_id);
        w.u8(self.control);
        w.i8(self.log_message_interval);
        write_port_identity(&mut w, &self.target_port_identity);
        w.u8(self.starting_boundary_hops);
        w.u8(self.boundary_hops);
        w.u8(action as u8);
        w.u8(0);
        w
    }
}

/// Reads the TLV header and checks that the TLV ends where the message
/// does; returns its type and value.
fn read_tlv<'a>(r: &mut Reader<'a>) -> Result<(u16, &'a [u8]), DecodeError> {
    let tlv_type = r.u16()?;
    let declared = usize::from(r.u16()?);
    let remaining = r.remaining();
    if declared != remaining {
        return Err(DecodeError::TlvLengthMismatch {
            declared,
            remaining,
        });
    }
    Ok((tlv_type, r.take(declared)?))
}

/// Writes a TLV's type and a placeholder length; returns where the length
/// goes.
fn begin_tlv(w: &mut Writer, tlv_type: u16) -> usize {
    w.u16(tlv_type);
    let at = w.len();
    w.u16(0);
    at
}

/// Pads the TLV to an even length, fills in its length and the message's.
fn finish(mut w: Writer, tlv_length_at: usize) -> Vec<u8> {
    let value_start = tlv_length_at + 2;
    w.pad_even_from(value_start);
    let tlv_len = w.len() - value_start;
    w.set_u16_at(tlv_length_at, tlv_len as u16);
    let total = w.len();
    w.set_u16_at(2, total as u16);
    w.into_vec()
}

/// A GET of one dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetRequest {
    /// Header and management fields.
    pub header: Header,
    /// The dataset asked for.
    pub id: ManagementId,
}

impl GetRequest {
    /// A GET of `id` to every port of the daemon it is sent to (see
    /// [`Header::request`]).
    pub fn new(id: ManagementId, source_port_identity: PortIdentity, sequence_id: u16) -> Self {
        Self {
            header: Header::request(source_port_identity, sequence_id),
            id,
        }
    }

    /// The datagram: the TLV carries the managementId and an empty data
    /// field, which ptp4l 3.1 and 4.x answer (pmc sends a zero-filled one
    /// of the dataset's length; both are accepted).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = self.header.encode(Action::Get);
        let at = begin_tlv(&mut w, TLV_MANAGEMENT);
        w.u16(self.id.to_wire());
        finish(w, at)
    }

    /// Decodes a GET (as a test peer receives it). The data field, empty or
    /// zero-filled, is not looked at.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (header, action, mut r) = Header::decode(bytes)?;
        if action != Action::Get as u8 {
            return Err(DecodeError::WrongAction {
                expected: Action::Get as u8,
                got: action,
            });
        }
        let (tlv_type, value) = read_tlv(&mut r)?;
        if tlv_type != TLV_MANAGEMENT {
            return Err(DecodeError::UnknownTlv(tlv_type));
        }
        let mut v = Reader::new(value);
        let raw_id = v.u16()?;
        let id = ManagementId::from_wire(raw_id).ok_or(DecodeError::UnknownManagementId(raw_id))?;
        Ok(Self { header, id })
    }
}

/// One dataset of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)] // each variant is its dataset
pub enum Dataset {
    DefaultDataSet(DefaultDataSet),
    CurrentDataSet(CurrentDataSet),
    ParentDataSet(ParentDataSet),
    TimePropertiesDataSet(TimePropertiesDataSet),
    PortDataSet(PortDataSet),
    TimeStatusNp(TimeStatusNp),
    PortPropertiesNp(PortPropertiesNp),
}

impl Dataset {
    /// Which dataset this is.
    pub fn id(&self) -> ManagementId {
        match self {
            Dataset::DefaultDataSet(_) => ManagementId::DefaultDataSet,
            Dataset::CurrentDataSet(_) => ManagementId::CurrentDataSet,
            Dataset::ParentDataSet(_) => ManagementId::ParentDataSet,
            Dataset::TimePropertiesDataSet(_) => ManagementId::TimePropertiesDataSet,
            Dataset::PortDataSet(_) => ManagementId::PortDataSet,
            Dataset::TimeStatusNp(_) => ManagementId::TimeStatusNp,
            Dataset::PortPropertiesNp(_) => ManagementId::PortPropertiesNp,
        }
    }

    fn decode(id: ManagementId, data: &[u8]) -> Result<Self, DecodeError> {
        let fixed = |expected: usize| {
            if data.len() == expected {
                Ok(())
            } else {
                Err(DecodeError::DataLengthMismatch {
                    id: id.name(),
                    expected,
                    actual: data.len(),
                })
            }
        };
        let mut r = Reader::new(data);
        Ok(match id {
            ManagementId::DefaultDataSet => {
                fixed(DefaultDataSet::LEN)?;
                Dataset::DefaultDataSet(DefaultDataSet::decode(&mut r)?)
            }
            ManagementId::CurrentDataSet => {
                fixed(CurrentDataSet::LEN)?;
                Dataset::CurrentDataSet(CurrentDataSet::decode(&mut r)?)
            }
            ManagementId::ParentDataSet => {
                fixed(ParentDataSet::LEN)?;
                Dataset::ParentDataSet(ParentDataSet::decode(&mut r)?)
            }
            ManagementId::TimePropertiesDataSet => {
                fixed(TimePropertiesDataSet::LEN)?;
                Dataset::TimePropertiesDataSet(TimePropertiesDataSet::decode(&mut r)?)
            }
            ManagementId::PortDataSet => {
                fixed(PortDataSet::LEN)?;
                Dataset::PortDataSet(PortDataSet::decode(&mut r)?)
            }
            ManagementId::TimeStatusNp => {
                fixed(TimeStatusNp::LEN)?;
                Dataset::TimeStatusNp(TimeStatusNp::decode(&mut r)?)
            }
            ManagementId::PortPropertiesNp => {
                let short = DecodeError::DataLengthMismatch {
                    id: id.name(),
                    expected: PortPropertiesNp::MIN_LEN,
                    actual: data.len(),
                };
                let d = PortPropertiesNp::decode(&mut r).map_err(|e| match e {
                    DecodeError::Truncated { .. } => short,
                    other => other,
                })?;
                // The interface name, then at most the one octet that pads
                // the TLV to an even length.
                let used = data.len() - r.remaining();
                if r.remaining() > used % 2 {
                    return Err(DecodeError::DataLengthMismatch {
                        id: id.name(),
                        expected: used + used % 2,
                        actual: data.len(),
                    });
                }
                Dataset::PortPropertiesNp(d)
            }
        })
    }

    fn encode(&self, w: &mut Writer) {
        match self {
            Dataset::DefaultDataSet(d) => d.encode(w),
            Dataset::CurrentDataSet(d) => d.encode(w),
            Dataset::ParentDataSet(d) => d.encode(w),
            Dataset::TimePropertiesDataSet(d) => d.encode(w),
            Dataset::PortDataSet(d) => d.encode(w),
            Dataset::TimeStatusNp(d) => d.encode(w),
            Dataset::PortPropertiesNp(d) => d.encode(w),
        }
    }
}

/// A MANAGEMENT_ERROR_STATUS TLV: the daemon could not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagementErrorStatus {
    /// What went wrong.
    pub error: ManagementErrorId,
    /// The managementId of the request (raw: it may be one this crate does
    /// not decode).
    pub management_id: u16,
    /// The optional displayData text (empty when absent).
    pub display_data: String,
}

impl ManagementErrorStatus {
    /// managementErrorId, managementId and 4 reserved octets.
    const MIN_LEN: usize = 8;

    fn decode(value: &[u8]) -> Result<Self, DecodeError> {
        if value.len() < Self::MIN_LEN {
            return Err(DecodeError::DataLengthMismatch {
                id: "MANAGEMENT_ERROR_STATUS",
                expected: Self::MIN_LEN,
                actual: value.len(),
            });
        }
        let mut r = Reader::new(value);
        let error = ManagementErrorId::from_wire(r.u16()?);
        let management_id = r.u16()?;
        let _reserved = r.u32()?;
        let display_data = if r.remaining() > 0 {
            r.text()?
        } else {
            String::new()
        };
        let used = value.len() - r.remaining();
        if r.remaining() > used % 2 {
            return Err(DecodeError::DataLengthMismatch {
                id: "MANAGEMENT_ERROR_STATUS",
                expected: used + used % 2,
                actual: value.len(),
            });
        }
        Ok(Self {
            error,
            management_id,
            display_data,
        })
    }

    fn encode(&self, w: &mut Writer) {
        w.u16(self.error.to_wire());
        w.u16(self.management_id);
        w.u32(0);
        if !self.display_data.is_empty() {
            w.text(&self.display_data);
        }
    }
}

/// What a response carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseBody {
    /// The dataset asked for.
    Dataset(Dataset),
    /// The daemon's refusal.
    Error(ManagementErrorStatus),
}

/// A RESPONSE message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Header and management fields: `sequence_id` is the request's, and
    /// `source_port_identity` the answering clock's or port's.
    pub header: Header,
    /// The dataset or the error.
    pub body: ResponseBody,
}

impl Response {
    /// Decodes a RESPONSE with a MANAGEMENT or MANAGEMENT_ERROR_STATUS TLV.
    /// Strict: the datagram must be exactly the message, the TLV must end
    /// where the message does, and each dataset must have its layout's
    /// length.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (header, action, mut r) = Header::decode(bytes)?;
        if action != Action::Response as u8 {
            return Err(DecodeError::WrongAction {
                expected: Action::Response as u8,
                got: action,
            });
        }
        let (tlv_type, value) = read_tlv(&mut r)?;
        let body = match tlv_type {
            TLV_MANAGEMENT => {
                let mut v = Reader::new(value);
                let raw_id = v.u16()?;
                let id = ManagementId::from_wire(raw_id)
                    .ok_or(DecodeError::UnknownManagementId(raw_id))?;
                ResponseBody::Dataset(Dataset::decode(id, &value[2..])?)
            }
            TLV_MANAGEMENT_ERROR_STATUS => {
                ResponseBody::Error(ManagementErrorStatus::decode(value)?)
            }
            other => return Err(DecodeError::UnknownTlv(other)),
        };
        Ok(Self { header, body })
    }

    /// The datagram (for test peers and round trips).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = self.header.encode(Action::Response);
        let at = match &self.body {
            ResponseBody::Dataset(d) => {
                let at = begin_tlv(&mut w, TLV_MANAGEMENT);
                w.u16(d.id().to_wire());
                d.encode(&mut w);
                at
            }
            ResponseBody::Error(e) => {
                let at = begin_tlv(&mut w, TLV_MANAGEMENT_ERROR_STATUS);
                e.encode(&mut w);
                at
            }
        };
        finish(w, at)
    }

    /// The managementId answered: the dataset's, or the one the error is
    /// about.
    pub fn management_id(&self) -> u16 {
        match &self.body {
            ResponseBody::Dataset(d) => d.id().to_wire(),
            ResponseBody::Error(e) => e.management_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ClockIdentity;

    const ME: PortIdentity = PortIdentity {
        clock_identity: ClockIdentity([0; 8]),
        port_number: 0x1234,
    };

    fn current() -> Response {
        Response {
            header: Header {
                source_port_identity: PortIdentity {
                    clock_identity: ClockIdentity([1, 2, 3, 0xff, 0xfe, 4, 5, 6]),
                    port_number: 0,
                },
                target_port_identity: ME,
                ..Header::request(ME, 9)
            },
            body: ResponseBody::Dataset(Dataset::CurrentDataSet(CurrentDataSet {
                steps_removed: 1,
                offset_from_master: crate::TimeInterval(-5 << 16),
                mean_path_delay: crate::TimeInterval(2860 << 16),
            })),
        }
    }

    #[test]
    fn get_request_has_the_documented_layout() {
        let bytes = GetRequest::new(ManagementId::TimeStatusNp, ME, 0xbeef).encode();
        let mut expected = vec![
            0x0d, 0x02, 0x00, 54, // management, version 2, length 54
            0, 0, 0, 0, // domain, minorSdoId, flags
        ];
        expected.extend([0; 8]); // correction
        expected.extend([0; 4]); // messageTypeSpecific
        expected.extend([0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34]); // source port
        expected.extend([0xbe, 0xef, 0x04, 0x7f]); // sequence, control, interval
        expected.extend([0xff; 10]); // wildcard target
        expected.extend([0, 0, 0, 0]); // hops 0, 0, GET, reserved
        expected.extend([0, 1, 0, 2, 0xc0, 0x00]); // MANAGEMENT, length 2, TIME_STATUS_NP
        assert_eq!(bytes, expected);
        let back = GetRequest::decode(&bytes).expect("decodes");
        assert_eq!(back.id, ManagementId::TimeStatusNp);
        assert_eq!(back.header.sequence_id, 0xbeef);
    }

    #[test]
    fn get_request_decodes_pmc_zero_filled_data() {
        // pmc 3.1.1's GET CURRENT_DATA_SET: TLV length 20, 18 zero octets.
        let mut bytes = GetRequest::new(ManagementId::CurrentDataSet, ME, 1).encode();
        bytes[50..52].copy_from_slice(&20u16.to_be_bytes());
        bytes.extend([0; 18]);
        bytes[2..4].copy_from_slice(&72u16.to_be_bytes());
        assert_eq!(
            GetRequest::decode(&bytes).expect("decodes").id,
            ManagementId::CurrentDataSet
        );
    }

    #[test]
    fn response_round_trips() {
        let r = current();
        let bytes = r.encode();
        assert_eq!(bytes.len(), MANAGEMENT_LEN + 4 + 2 + CurrentDataSet::LEN);
        assert_eq!(Response::decode(&bytes), Ok(r));
    }

    #[test]
    fn truncated_at_every_length() {
        let bytes = current().encode();
        for n in 0..bytes.len() {
            let err = Response::decode(&bytes[..n]).expect_err("a prefix is not a message");
            assert!(
                matches!(err, DecodeError::Truncated { .. }),
                "{n} bytes: {err}"
            );
        }
    }

    #[test]
    fn oversized_datagram() {
        let mut bytes = current().encode();
        bytes.push(0);
        assert_eq!(
            Response::decode(&bytes),
            Err(DecodeError::Oversized {
                message_length: 72,
                received: 73
            })
        );
    }

    #[test]
    fn wrong_version_type_and_action() {
        let bytes = current().encode();
        let mut v1 = bytes.clone();
        v1[1] = 0x01;
        assert_eq!(Response::decode(&v1), Err(DecodeError::WrongVersion(1)));
        let mut sync = bytes.clone();
        sync[0] = 0x00;
        assert_eq!(
            Response::decode(&sync),
            Err(DecodeError::WrongMessageType(0))
        );
        let mut get = bytes.clone();
        get[46] = Action::Get as u8;
        assert_eq!(
            Response::decode(&get),
            Err(DecodeError::WrongAction {
                expected: 2,
                got: 0
            })
        );
        // A response is not a request either.
        assert_eq!(
            GetRequest::decode(&bytes),
            Err(DecodeError::WrongAction {
                expected: 0,
                got: 2
            })
        );
        // minorVersionPTP and transportSpecific are kept, not refused.
        let mut v21 = bytes;
        v21[0] = 0x1d;
        v21[1] = 0x12;
        let r = Response::decode(&v21).expect("version 2.1, transport 1");
        assert_eq!(
            (r.header.minor_version, r.header.transport_specific),
            (1, 1)
        );
    }

    #[test]
    fn unknown_tlv_and_management_id() {
        let bytes = current().encode();
        let mut tlv = bytes.clone();
        tlv[48..50].copy_from_slice(&0x0003u16.to_be_bytes());
        assert_eq!(Response::decode(&tlv), Err(DecodeError::UnknownTlv(3)));
        let mut id = bytes;
        id[52..54].copy_from_slice(&0x2005u16.to_be_bytes()); // PRIORITY1
        assert_eq!(
            Response::decode(&id),
            Err(DecodeError::UnknownManagementId(0x2005))
        );
    }

    #[test]
    fn tlv_and_data_length_mismatches() {
        let bytes = current().encode();
        let mut long = bytes.clone();
        long[50..52].copy_from_slice(&22u16.to_be_bytes());
        assert_eq!(
            Response::decode(&long),
            Err(DecodeError::TlvLengthMismatch {
                declared: 22,
                remaining: 20
            })
        );
        // A consistent TLV whose data is two octets too long for the layout.
        let mut data = bytes;
        data.extend([0, 0]);
        data[2..4].copy_from_slice(&74u16.to_be_bytes());
        data[50..52].copy_from_slice(&22u16.to_be_bytes());
        assert_eq!(
            Response::decode(&data),
            Err(DecodeError::DataLengthMismatch {
                id: "CURRENT_DATA_SET",
                expected: 18,
                actual: 20
            })
        );
    }

    #[test]
    fn management_error_status_with_and_without_text() {
        // ptp4l 4.2's answer to a GET of id 0x7777, as captured.
        let mut bytes = Header::request(ME, 1).encode(Action::Response).into_vec();
        bytes.extend([0, 2, 0, 8, 0, 2, 0x77, 0x77, 0, 0, 0, 0]);
        bytes[2..4].copy_from_slice(&60u16.to_be_bytes());
        let r = Response::decode(&bytes).expect("decodes");
        let ResponseBody::Error(e) = &r.body else {
            panic!("not an error: {r:?}")
        };
        assert_eq!(e.error, ManagementErrorId::NoSuchId);
        assert_eq!(r.management_id(), 0x7777);
        assert_eq!(e.display_data, "");
        assert_eq!(r.encode(), bytes);

        let with_text = Response {
            body: ResponseBody::Error(ManagementErrorStatus {
                error: ManagementErrorId::NotSupported,
                management_id: 0xc000,
                display_data: "odd".into(),
            }),
            ..r
        };
        let bytes = with_text.encode();
        assert_eq!(bytes.len() % 2, 0, "padded to an even length");
        assert_eq!(Response::decode(&bytes), Ok(with_text));
    }

    #[test]
    fn port_properties_text_is_checked() {
        let props = |interface: &str| Response {
            body: ResponseBody::Dataset(Dataset::PortPropertiesNp(PortPropertiesNp {
                port_identity: ME,
                port_state: crate::PortState::Slave,
                timestamping: crate::Timestamping::Hardware,
                interface: interface.into(),
            })),
            ..current()
        };
        for name in ["", "e", "eth0", "cwsl0"] {
            let r = props(name);
            assert_eq!(Response::decode(&r.encode()), Ok(r), "{name:?}");
        }
        // The text's length octet says more than there is.
        let mut bytes = props("eth0").encode();
        let len_at = MANAGEMENT_LEN + 4 + 2 + 12;
        bytes[len_at] = 9;
        assert!(matches!(
            Response::decode(&bytes),
            Err(DecodeError::DataLengthMismatch { expected: 13, .. })
        ));
        // Not UTF-8.
        let mut bytes = props("eth0").encode();
        bytes[len_at + 1] = 0xff;
        assert_eq!(Response::decode(&bytes), Err(DecodeError::BadText));
        // Two octets after the name: more than the padding.
        let mut bytes = props("eth0").encode();
        bytes.extend([0, 0]);
        let total = bytes.len() as u16;
        bytes[2..4].copy_from_slice(&total.to_be_bytes());
        let tlv = total - MANAGEMENT_LEN as u16 - 4;
        bytes[50..52].copy_from_slice(&tlv.to_be_bytes());
        assert!(matches!(
            Response::decode(&bytes),
            Err(DecodeError::DataLengthMismatch { .. })
        ));
    }

    #[test]
    fn ids_round_trip_and_port_datasets_are_per_port() {
        for id in ManagementId::ALL {
            assert_eq!(ManagementId::from_wire(id.to_wire()), Some(id));
        }
        assert_eq!(ManagementId::from_wire(0x2005), None);
        let per_port: Vec<_> = ManagementId::ALL
            .into_iter()
            .filter(|id| id.is_per_port())
            .collect();
        assert_eq!(
            per_port,
            [ManagementId::PortDataSet, ManagementId::PortPropertiesNp]
        );
    }
}
