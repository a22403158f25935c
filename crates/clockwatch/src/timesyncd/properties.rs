//! The properties of `org.freedesktop.timesync1.Manager` that clockwatch
//! reads, decoded from the `a{sv}` of one `GetAll` call.
//!
//! Signatures as org.freedesktop.timesync1(5) documents them and as
//! `busctl introspect` of systemd 252's timesyncd shows them:
//!
//! | property | signature | unit |
//! |---|---|---|
//! | ServerName | `s` | host name or address as configured; empty when none |
//! | ServerAddress | `(iay)` | address family (AF_INET 2, AF_INET6 10, AF_UNSPEC 0) and the address's bytes |
//! | PollIntervalUSec, PollIntervalMinUSec, PollIntervalMaxUSec | `t` | µs |
//! | RootDistanceMaxUSec | `t` | µs: timesyncd refuses a server whose root distance exceeds it |
//! | Frequency | `x` | the kernel's frequency correction after timesyncd's last adjustment, in 2^-16 ppm (adjtimex's `freq`) |
//! | NTPMessage | `(uuuuittayttttbtt)` | the last reply timesyncd accepted, see [`NtpMessage`] |

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;
use zbus::zvariant::{OwnedValue, Value};

pub const BUS_NAME: &str = "org.freedesktop.timesync1";
pub const OBJECT_PATH: &str = "/org/freedesktop/timesync1";
pub const INTERFACE: &str = "org.freedesktop.timesync1.Manager";

const AF_UNSPEC: i32 = 0;
const AF_INET: i32 = 2;
const AF_INET6: i32 = 10;

/// One consistent reading of timesyncd's properties.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    /// The server timesyncd uses now, as configured (name or address);
    /// empty when it has none.
    pub server_name: String,
    pub server_address: ServerAddress,
    /// The interval timesyncd waits before its next request, µs.
    pub poll_interval_usec: u64,
    pub poll_interval_min_usec: u64,
    pub poll_interval_max_usec: u64,
    /// timesyncd's `RootDistanceMaxSec=`, µs.
    pub root_distance_max_usec: u64,
    /// The kernel's frequency correction after the last adjustment, in
    /// 2^-16 ppm (adjtimex's scaled ppm).
    pub frequency: i64,
    pub ntp_message: NtpMessage,
}

impl Status {
    pub fn frequency_ppm(&self) -> f64 {
        self.frequency as f64 / 65536.0
    }

    pub fn poll_interval_seconds(&self) -> f64 {
        usec(self.poll_interval_usec)
    }

    pub fn root_distance_max_seconds(&self) -> f64 {
        usec(self.root_distance_max_usec)
    }

    /// Whether timesyncd has a server to talk to.
    pub fn has_server(&self) -> bool {
        !self.server_name.is_empty()
    }
}

/// `ServerAddress`: the address family and the address's bytes, kept as
/// sent; [`ServerAddress::ip`] reads them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerAddress {
    pub family: i32,
    pub bytes: Vec<u8>,
}

impl ServerAddress {
    /// The address, or None while timesyncd has none (AF_UNSPEC, no bytes:
    /// no server, or its name not resolved yet) or for a family or length
    /// that is not IPv4/IPv6.
    pub fn ip(&self) -> Option<IpAddr> {
        match (self.family, self.bytes.len()) {
            (AF_INET, 4) => {
                let b: [u8; 4] = self.bytes.as_slice().try_into().ok()?;
                Some(IpAddr::V4(Ipv4Addr::from(b)))
            }
            (AF_INET6, 16) => {
                let b: [u8; 16] = self.bytes.as_slice().try_into().ok()?;
                Some(IpAddr::V6(Ipv6Addr::from(b)))
            }
            _ => None,
        }
    }

    pub fn is_unset(&self) -> bool {
        self.family == AF_UNSPEC && self.bytes.is_empty()
    }
}

/// `NTPMessage`: the header of the last NTP reply timesyncd accepted (it
/// discards replies with leap "not synchronised", stratum 0 or >= 16, or a
/// root distance above RootDistanceMaxSec), with timesyncd's own two
/// timestamps. All zero before the first reply.
///
/// The four timestamps are µs since the Unix epoch: origin (T1, the node's
/// clock when it sent the request) and destination (T4, the kernel's
/// receive timestamp of the reply) on the node's clock *before* timesyncd
/// corrected it with this sample; receive (T2) and transmit (T3) on the
/// server's clock. Root delay and dispersion are the server's, converted
/// from NTP's 16.16 format to whole µs (rounded down).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NtpMessage {
    /// 0 none, 1 insert, 2 delete, 3 not synchronised.
    pub leap: u32,
    pub version: u32,
    /// 4 for a server reply.
    pub mode: u32,
    pub stratum: u32,
    /// log2 seconds of the server's clock precision.
    pub precision: i32,
    pub root_delay_usec: u64,
    pub root_dispersion_usec: u64,
    pub reference_id: [u8; 4],
    pub origin_usec: u64,
    pub receive_usec: u64,
    pub transmit_usec: u64,
    pub destination_usec: u64,
    /// timesyncd judged the sample a spike and did **not** correct the clock
    /// with it ("Ignored" in `timedatectl show-timesync`).
    pub spike: bool,
    /// Samples received since timesyncd started (spikes included).
    pub packet_count: u64,
    /// RMS of the offsets of its last samples, µs.
    pub jitter_usec: u64,
}

impl NtpMessage {
    pub const SIGNATURE: &'static str = "(uuuuittayttttbtt)";

    /// The server's root distance, root delay / 2 + root dispersion, in
    /// seconds (what timesyncd compares with RootDistanceMaxSec).
    pub fn root_distance_seconds(&self) -> f64 {
        usec(self.root_delay_usec) / 2.0 + usec(self.root_dispersion_usec)
    }

    /// The reference ID as `timedatectl` shows it: text for stratum 0-1
    /// (a reference clock's name, e.g. "GPS"), else 8 hex digits (an IPv4
    /// address or a hash of an IPv6 one; chronyd's local clock is 7F7F0101).
    pub fn reference_id_text(&self) -> String {
        if self.stratum <= 1 {
            self.reference_id
                .iter()
                .take_while(|&&b| b != 0)
                .map(|&b| {
                    if b.is_ascii_graphic() {
                        char::from(b)
                    } else {
                        '?'
                    }
                })
                .collect()
        } else {
            format!("{:08X}", u32::from_be_bytes(self.reference_id))
        }
    }
}

fn usec(value: u64) -> f64 {
    value as f64 * 1e-6
}

/// A property missing or of another type than the interface documents.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("property {property}: {problem}")]
pub struct DecodeError {
    pub property: &'static str,
    pub problem: String,
}

/// Decodes the reply of `GetAll("org.freedesktop.timesync1.Manager")`.
/// Properties clockwatch does not use are ignored; one it uses that is
/// missing or of another signature is an error naming it.
pub fn decode(properties: &HashMap<String, OwnedValue>) -> Result<Status, DecodeError> {
    let get = |name: &'static str| -> Result<&Value<'_>, DecodeError> {
        properties
            .get(name)
            .map(|v| &**v)
            .ok_or_else(|| DecodeError {
                property: name,
                problem: "missing from the reply".to_string(),
            })
    };
    Ok(Status {
        server_name: string(get("ServerName")?, "ServerName")?,
        server_address: server_address(get("ServerAddress")?)?,
        poll_interval_usec: u64_of(get("PollIntervalUSec")?, "PollIntervalUSec")?,
        poll_interval_min_usec: u64_of(get("PollIntervalMinUSec")?, "PollIntervalMinUSec")?,
        poll_interval_max_usec: u64_of(get("PollIntervalMaxUSec")?, "PollIntervalMaxUSec")?,
        root_distance_max_usec: u64_of(get("RootDistanceMaxUSec")?, "RootDistanceMaxUSec")?,
        frequency: match get("Frequency")? {
            Value::I64(v) => *v,
            other => return Err(wrong("Frequency", "x", other)),
        },
        ntp_message: ntp_message(get("NTPMessage")?)?,
    })
}

fn wrong(property: &'static str, expected: &str, got: &Value<'_>) -> DecodeError {
    DecodeError {
        property,
        problem: format!(
            "expected signature {expected}, got {}",
            got.value_signature()
        ),
    }
}

fn string(value: &Value<'_>, property: &'static str) -> Result<String, DecodeError> {
    match value {
        Value::Str(s) => Ok(s.as_str().to_string()),
        other => Err(wrong(property, "s", other)),
    }
}

fn u64_of(value: &Value<'_>, property: &'static str) -> Result<u64, DecodeError> {
    match value {
        Value::U64(v) => Ok(*v),
        other => Err(wrong(property, "t", other)),
    }
}

fn bytes(value: &Value<'_>) -> Option<Vec<u8>> {
    match value {
        Value::Array(a) if a.element_signature() == &zbus::zvariant::Signature::U8 => a
            .inner()
            .iter()
            .map(|b| match b {
                Value::U8(b) => Some(*b),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

fn server_address(value: &Value<'_>) -> Result<ServerAddress, DecodeError> {
    let property = "ServerAddress";
    let Value::Structure(s) = value else {
        return Err(wrong(property, "(iay)", value));
    };
    match s.fields() {
        [Value::I32(family), addr] => match bytes(addr) {
            Some(bytes) => Ok(ServerAddress {
                family: *family,
                bytes,
            }),
            None => Err(wrong(property, "(iay)", value)),
        },
        _ => Err(wrong(property, "(iay)", value)),
    }
}

fn ntp_message(value: &Value<'_>) -> Result<NtpMessage, DecodeError> {
    let property = "NTPMessage";
    let bad = || wrong(property, NtpMessage::SIGNATURE, value);
    let Value::Structure(s) = value else {
        return Err(bad());
    };
    let [Value::U32(leap), Value::U32(version), Value::U32(mode), Value::U32(stratum), Value::I32(precision), Value::U64(root_delay_usec), Value::U64(root_dispersion_usec), refid, Value::U64(origin_usec), Value::U64(receive_usec), Value::U64(transmit_usec), Value::U64(destination_usec), Value::Bool(spike), Value::U64(packet_count), Value::U64(jitter_usec)] =
        s.fields()
    else {
        return Err(bad());
    };
    let refid = bytes(refid).ok_or_else(bad)?;
    let reference_id: [u8; 4] = refid.as_slice().try_into().map_err(|_| DecodeError {
        property,
        problem: format!("reference ID has {} bytes, expected 4", refid.len()),
    })?;
    Ok(NtpMessage {
        leap: *leap,
        version: *version,
        mode: *mode,
        stratum: *stratum,
        precision: *precision,
        root_delay_usec: *root_delay_usec,
        root_dispersion_usec: *root_dispersion_usec,
        reference_id,
        origin_usec: *origin_usec,
        receive_usec: *receive_usec,
        transmit_usec: *transmit_usec,
        destination_usec: *destination_usec,
        spike: *spike,
        packet_count: *packet_count,
        jitter_usec: *jitter_usec,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use zbus::zvariant::StructureBuilder;

    fn owned(v: Value<'static>) -> OwnedValue {
        match OwnedValue::try_from(v) {
            Ok(o) => o,
            Err(e) => panic!("{e}"),
        }
    }

    /// The message of systemd 252's timesyncd synchronised to a chronyd on
    /// 127.0.0.2 (`busctl get-property … NTPMessage`, 2026-12-02):
    /// `(uuuuittayttttbtt) 0 4 4 2 -25 0 0 4 127 127 1 1 1796186580384107
    /// 1796186580384136 1796186580384281 1796186580384294 false 2 2`.
    pub(crate) fn message_value(refid: Vec<u8>) -> Value<'static> {
        StructureBuilder::new()
            .add_field(0u32)
            .add_field(4u32)
            .add_field(4u32)
            .add_field(2u32)
            .add_field(-25i32)
            .add_field(0u64)
            .add_field(0u64)
            .add_field(refid)
            .add_field(1_796_186_580_384_107u64)
            .add_field(1_796_186_580_384_136u64)
            .add_field(1_796_186_580_384_281u64)
            .add_field(1_796_186_580_384_294u64)
            .add_field(false)
            .add_field(2u64)
            .add_field(2u64)
            .build()
            .map(Value::Structure)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    pub(crate) fn properties() -> HashMap<String, OwnedValue> {
        let address = StructureBuilder::new()
            .add_field(2i32)
            .add_field(vec![127u8, 0, 0, 2])
            .build()
            .map(Value::Structure)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut p = HashMap::new();
        p.insert("ServerName".into(), owned(Value::from("127.0.0.2")));
        p.insert("ServerAddress".into(), owned(address));
        p.insert("PollIntervalUSec".into(), owned(Value::U64(16_000_000)));
        p.insert("PollIntervalMinUSec".into(), owned(Value::U64(16_000_000)));
        p.insert("PollIntervalMaxUSec".into(), owned(Value::U64(16_000_000)));
        p.insert("RootDistanceMaxUSec".into(), owned(Value::U64(5_000_000)));
        p.insert("Frequency".into(), owned(Value::I64(16111)));
        p.insert(
            "NTPMessage".into(),
            owned(message_value(vec![127, 127, 1, 1])),
        );
        // Present in the reply, not used.
        p.insert(
            "SystemNTPServers".into(),
            owned(Value::from(vec!["127.0.0.2"])),
        );
        p
    }

    #[test]
    fn decodes_what_the_real_daemon_sent() {
        let s = decode(&properties()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.server_name, "127.0.0.2");
        assert_eq!(s.server_address.ip(), Some(IpAddr::from([127, 0, 0, 2])));
        assert_eq!(s.poll_interval_seconds(), 16.0);
        assert_eq!(s.poll_interval_min_usec, 16_000_000);
        assert_eq!(s.poll_interval_max_usec, 16_000_000);
        assert_eq!(s.root_distance_max_seconds(), 5.0);
        assert_eq!(s.frequency, 16111);
        assert!((s.frequency_ppm() - 0.245834).abs() < 1e-6);
        let m = &s.ntp_message;
        assert_eq!(
            (m.leap, m.version, m.mode, m.stratum, m.precision),
            (0, 4, 4, 2, -25)
        );
        assert_eq!(m.reference_id, [127, 127, 1, 1]);
        assert_eq!(m.reference_id_text(), "7F7F0101");
        assert_eq!(m.origin_usec, 1_796_186_580_384_107);
        assert_eq!(m.receive_usec, 1_796_186_580_384_136);
        assert_eq!(m.transmit_usec, 1_796_186_580_384_281);
        assert_eq!(m.destination_usec, 1_796_186_580_384_294);
        assert!(!m.spike);
        assert_eq!((m.packet_count, m.jitter_usec), (2, 2));
    }

    #[test]
    fn stratum_one_reference_ids_are_text() {
        let mut m = decode(&properties())
            .unwrap_or_else(|e| panic!("{e}"))
            .ntp_message;
        m.stratum = 1;
        m.reference_id = *b"GPS\0";
        assert_eq!(m.reference_id_text(), "GPS");
    }

    #[test]
    fn server_addresses_of_every_family() {
        let a = |family, bytes: Vec<u8>| ServerAddress { family, bytes };
        assert_eq!(a(0, vec![]).ip(), None);
        assert!(a(0, vec![]).is_unset());
        assert_eq!(
            a(10, [0u8; 15].into_iter().chain([1]).collect()).ip(),
            Some(IpAddr::V6(Ipv6Addr::LOCALHOST))
        );
        assert_eq!(a(2, vec![127, 0, 0]).ip(), None);
        assert_eq!(a(7, vec![1, 2, 3, 4]).ip(), None);
    }

    #[test]
    fn a_missing_or_retyped_property_is_named() {
        let mut p = properties();
        p.remove("PollIntervalUSec");
        assert_eq!(
            decode(&p).map_err(|e| e.to_string()),
            Err("property PollIntervalUSec: missing from the reply".to_string())
        );

        let mut p = properties();
        p.insert("Frequency".into(), owned(Value::U32(1)));
        assert_eq!(
            decode(&p).map_err(|e| e.to_string()),
            Err("property Frequency: expected signature x, got u".to_string())
        );

        let mut p = properties();
        let shorter = StructureBuilder::new()
            .add_field(0u32)
            .add_field(4u32)
            .build()
            .map(Value::Structure)
            .unwrap_or_else(|e| panic!("{e}"));
        p.insert("NTPMessage".into(), owned(shorter));
        assert_eq!(
            decode(&p).map_err(|e| e.to_string()),
            Err("property NTPMessage: expected signature (uuuuittayttttbtt), got (uu)".to_string())
        );

        let mut p = properties();
        p.insert("NTPMessage".into(), owned(message_value(vec![1, 2, 3])));
        assert_eq!(
            decode(&p).map_err(|e| e.to_string()),
            Err("property NTPMessage: reference ID has 3 bytes, expected 4".to_string())
        );

        let mut p = properties();
        p.insert("ServerAddress".into(), owned(Value::from("127.0.0.2")));
        assert_eq!(
            decode(&p).map_err(|e| e.to_string()),
            Err("property ServerAddress: expected signature (iay), got s".to_string())
        );
    }
}
