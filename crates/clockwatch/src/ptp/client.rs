//! The ptp4l client: one reply socket per collection, every GET sent at
//! once, answers matched by sequence id and dataset, one deadline for the
//! whole collection. Stray, duplicate and undecodable datagrams are counted
//! and thrown away; they fail nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use ptpmgmt::{
    CurrentDataSet, Dataset, DefaultDataSet, GetRequest, Header, ManagementId, ParentDataSet,
    PortDataSet, PortIdentity, PortPropertiesNp, Response, ResponseBody, TimePropertiesDataSet,
    TimeStatusNp,
};
use tokio::time::Instant;

use super::error::PtpError;
use super::report::{PortReport, PtpReport};
use super::socket::{self, ReplySocket};
use crate::replysocket::{self, random_u32};

/// ptp4l's management socket when its configuration sets no uds_address.
pub const DEFAULT_SOCKET: &str = "/var/run/ptp4l";

/// Large enough for any response (the longest, PORT_PROPERTIES_NP with a
/// 255-byte name, is 322 bytes); a longer datagram is cut, fails to decode
/// and is discarded.
const RECV_BUF: usize = 2048;

/// The GETs of one collection, in the order of their sequence ids.
const REQUESTS: [ManagementId; 7] = ManagementId::ALL;

/// A client of one ptp4l instance.
pub struct PtpClient {
    socket: PathBuf,
    timeout: Duration,
    reply: ReplySocket,
    domain_number: u8,
    transport_specific: u8,
    /// Our port identity in requests (ptp4l addresses its answers to it).
    me: PortIdentity,
    sequence: AtomicU16,
}

impl PtpClient {
    /// A client of the ptp4l listening at `socket` (its uds_address, or in
    /// linuxptp 4.x the read-only uds_ro_address), replying to an abstract
    /// socket, for domain 0 and transportSpecific 0. `timeout` bounds a
    /// whole collection.
    pub fn new(socket: impl Into<PathBuf>, timeout: Duration) -> Self {
        let tag = random_u32();
        Self {
            socket: socket.into(),
            timeout,
            reply: ReplySocket::Abstract,
            domain_number: 0,
            transport_specific: 0,
            me: PortIdentity {
                port_number: tag as u16,
                ..PortIdentity::default()
            },
            sequence: AtomicU16::new((tag >> 16) as u16),
        }
    }

    /// Where replies are received (see [`ReplySocket`]). A directory is
    /// swept of reply sockets left by killed processes.
    pub fn with_reply_socket(mut self, reply: ReplySocket) -> Self {
        if let ReplySocket::Directory(dir) = &reply {
            replysocket::sweep_dead(dir, socket::PREFIX);
        }
        self.reply = reply;
        self
    }

    /// The PTP domain of the ptp4l instance (its `domainNumber`): ptp4l
    /// ignores management messages of any other domain.
    pub fn with_domain(mut self, domain_number: u8) -> Self {
        self.domain_number = domain_number;
        self
    }

    /// The instance's `transportSpecific` (1 for 802.1AS / gPTP
    /// configurations): ptp4l ignores messages with another value.
    pub fn with_transport_specific(mut self, transport_specific: u8) -> Self {
        self.transport_specific = transport_specific & 0x0f;
        self
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Reads every dataset of the instance: the clock's (default, current,
    /// parent, time properties, TIME_STATUS_NP) and every port's
    /// (PORT_DATA_SET, and PORT_PROPERTIES_NP where ptp4l answers it).
    /// Takes at most the timeout, however ptp4l behaves.
    pub async fn collect(&self) -> Result<PtpReport, PtpError> {
        let deadline = Instant::now() + self.timeout;
        let connected = socket::connect(&self.reply, &self.socket)?;
        let socket = &connected.socket;
        let base = self
            .sequence
            .fetch_add(REQUESTS.len() as u16, Ordering::Relaxed);
        let mut collection = Collection::new(base);

        for (i, id) in REQUESTS.into_iter().enumerate() {
            let request = GetRequest {
                header: Header {
                    domain_number: self.domain_number,
                    transport_specific: self.transport_specific,
                    ..Header::request(self.me, base.wrapping_add(i as u16))
                },
                id,
            };
            // ptp4l's queue is shared with its other clients (pmc,
            // phc2sys): when it is full, the send waits for room.
            match tokio::time::timeout_at(deadline, socket.send(&request.encode())).await {
                Err(_elapsed) => return collection.at_deadline(&self.socket, self.timeout),
                Ok(Err(e)) => return Err(self.io_error(e)),
                Ok(Ok(_)) => {}
            }
        }

        let mut buf = [0u8; RECV_BUF];
        loop {
            if let Some(report) = collection.take_report(&self.socket) {
                return Ok(report);
            }
            match tokio::time::timeout_at(deadline, socket.recv(&mut buf)).await {
                Err(_elapsed) => return collection.at_deadline(&self.socket, self.timeout),
                Ok(Err(e)) => return Err(self.io_error(e)),
                Ok(Ok(len)) => collection.accept(&buf[..len], &self.socket)?,
            }
        }
    }

    fn io_error(&self, e: std::io::Error) -> PtpError {
        match e.kind() {
            // ptp4l went away between connect and send.
            std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::NotFound => {
                PtpError::NotListening {
                    path: self.socket.clone(),
                }
            }
            _ => PtpError::Io {
                path: self.socket.clone(),
                source: e,
            },
        }
    }
}

/// The answers of one collection so far: no I/O, so every rule about
/// matching, duplicates and completeness is tested with datagrams passed
/// in.
#[derive(Debug)]
struct Collection {
    base: u16,
    default_ds: Option<DefaultDataSet>,
    current_ds: Option<CurrentDataSet>,
    parent_ds: Option<ParentDataSet>,
    time_properties_ds: Option<TimePropertiesDataSet>,
    time_status: Option<TimeStatusNp>,
    port_ds: BTreeMap<u16, PortDataSet>,
    port_properties: BTreeMap<u16, PortPropertiesNp>,
    /// ptp4l answered PORT_PROPERTIES_NP with an error: do not wait for it.
    properties_refused: bool,
    discarded: u32,
    last_discard: Option<String>,
}

impl Collection {
    fn new(base: u16) -> Self {
        Self {
            base,
            default_ds: None,
            current_ds: None,
            parent_ds: None,
            time_properties_ds: None,
            time_status: None,
            port_ds: BTreeMap::new(),
            port_properties: BTreeMap::new(),
            properties_refused: false,
            discarded: 0,
            last_discard: None,
        }
    }

    fn discard(&mut self, why: String) {
        self.discarded += 1;
        self.last_discard = Some(why);
    }

    /// Takes one datagram. Only a refusal of a dataset the report needs is
    /// an error; anything else unusable is discarded.
    fn accept(&mut self, datagram: &[u8], path: &Path) -> Result<(), PtpError> {
        let response = match Response::decode(datagram) {
            Ok(r) => r,
            Err(e) => {
                self.discard(format!("undecodable datagram: {e}"));
                return Ok(());
            }
        };
        let sequence = response.header.sequence_id;
        let Some(&id) = REQUESTS.get(usize::from(sequence.wrapping_sub(self.base))) else {
            self.discard(format!(
                "sequence id {sequence} is not one of this collection's"
            ));
            return Ok(());
        };
        if response.management_id() != id.to_wire() {
            self.discard(format!(
                "sequence id {sequence} answers management id {:#06x}, not {}",
                response.management_id(),
                id.name()
            ));
            return Ok(());
        }
        let port = response.header.source_port_identity.port_number;
        let dataset = match response.body {
            ResponseBody::Dataset(d) => d,
            ResponseBody::Error(_) if id == ManagementId::PortPropertiesNp => {
                // Optional: only names the interfaces.
                self.properties_refused = true;
                return Ok(());
            }
            ResponseBody::Error(e) => {
                return Err(PtpError::Refused {
                    path: path.to_path_buf(),
                    id: id.name(),
                    error: e.error,
                    display: if e.display_data.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", e.display_data)
                    },
                })
            }
        };
        let fresh = match dataset {
            Dataset::DefaultDataSet(d) => put(&mut self.default_ds, d),
            Dataset::CurrentDataSet(d) => put(&mut self.current_ds, d),
            Dataset::ParentDataSet(d) => put(&mut self.parent_ds, d),
            Dataset::TimePropertiesDataSet(d) => put(&mut self.time_properties_ds, d),
            Dataset::TimeStatusNp(d) => put(&mut self.time_status, d),
            Dataset::PortDataSet(d) => put_port(&mut self.port_ds, port, d),
            Dataset::PortPropertiesNp(d) => put_port(&mut self.port_properties, port, d),
        };
        if !fresh {
            self.discard(format!("duplicate {} from port {port}", id.name()));
        }
        Ok(())
    }

    fn number_ports(&self) -> Option<usize> {
        self.default_ds
            .as_ref()
            .map(|d| usize::from(d.number_ports))
    }

    fn is_complete(&self) -> bool {
        let Some(ports) = self.number_ports() else {
            return false;
        };
        self.current_ds.is_some()
            && self.parent_ds.is_some()
            && self.time_properties_ds.is_some()
            && self.time_status.is_some()
            && self.port_ds.len() >= ports
            && (self.properties_refused || self.port_properties.len() >= ports)
    }

    fn missing(&self) -> String {
        let mut missing: Vec<String> = [
            (self.default_ds.is_none(), ManagementId::DefaultDataSet),
            (self.current_ds.is_none(), ManagementId::CurrentDataSet),
            (self.parent_ds.is_none(), ManagementId::ParentDataSet),
            (
                self.time_properties_ds.is_none(),
                ManagementId::TimePropertiesDataSet,
            ),
            (self.time_status.is_none(), ManagementId::TimeStatusNp),
        ]
        .into_iter()
        .filter(|(absent, _)| *absent)
        .map(|(_, id)| id.name().to_string())
        .collect();
        let ports = self.number_ports();
        let port_sets = [
            (ManagementId::PortDataSet, self.port_ds.len(), false),
            (
                ManagementId::PortPropertiesNp,
                self.port_properties.len(),
                self.properties_refused,
            ),
        ];
        for (id, got, refused) in port_sets {
            match ports {
                _ if refused => {}
                Some(n) if got < n => {
                    missing.push(format!("{} ({got} of {n} ports)", id.name()));
                }
                Some(_) => {}
                None => missing.push(format!("{} ({got} ports so far)", id.name())),
            }
        }
        missing.join(", ")
    }

    /// The deadline passed. PORT_PROPERTIES_NP only names interfaces, so a
    /// collection without all of it still makes a report; anything else
    /// missing is a timeout.
    fn at_deadline(&mut self, path: &Path, timeout: Duration) -> Result<PtpReport, PtpError> {
        self.properties_refused = true;
        if let Some(report) = self.take_report(path) {
            return Ok(report);
        }
        Err(PtpError::Timeout {
            path: path.to_path_buf(),
            timeout,
            missing: self.missing(),
            discarded: match &self.last_discard {
                Some(why) => format!(
                    "; {} datagram(s) discarded, the last: {why}",
                    self.discarded
                ),
                None => String::new(),
            },
        })
    }

    /// The report, once every dataset is in; None (and nothing taken)
    /// before.
    fn take_report(&mut self, path: &Path) -> Option<PtpReport> {
        if !self.is_complete() {
            return None;
        }
        let mut properties = std::mem::take(&mut self.port_properties);
        let ports = std::mem::take(&mut self.port_ds)
            .into_iter()
            .map(|(number, data_set)| PortReport {
                data_set,
                properties: properties.remove(&number),
            })
            .collect();
        Some(PtpReport {
            socket: path.to_path_buf(),
            default_ds: self.default_ds.take()?,
            current_ds: self.current_ds.take()?,
            parent_ds: self.parent_ds.take()?,
            time_properties_ds: self.time_properties_ds.take()?,
            time_status: self.time_status.take()?,
            ports,
            discarded: self.discarded,
        })
    }
}

/// Stores a clock's dataset; false if it was there already.
fn put<T>(slot: &mut Option<T>, value: T) -> bool {
    if slot.is_some() {
        return false;
    }
    *slot = Some(value);
    true
}

/// Stores a port's dataset; false if that port answered already.
fn put_port<T>(map: &mut BTreeMap<u16, T>, port: u16, value: T) -> bool {
    if map.contains_key(&port) {
        return false;
    }
    map.insert(port, value);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use ptpmgmt::{
        ClockIdentity, ManagementErrorId, ManagementErrorStatus, PortState, TimeInterval,
        Timestamping,
    };

    const CLOCK: ClockIdentity = ClockIdentity([2, 0xaf, 0x4d, 0xff, 0xfe, 0x8c, 0x52, 0xe8]);
    const PATH: &str = "/run/test-ptp4l";

    fn response(base: u16, id: ManagementId, port: u16, body: ResponseBody) -> Vec<u8> {
        let index = REQUESTS.iter().position(|r| *r == id).unwrap_or(0);
        Response {
            header: Header {
                source_port_identity: PortIdentity {
                    clock_identity: CLOCK,
                    port_number: port,
                },
                ..Header::request(PortIdentity::default(), base.wrapping_add(index as u16))
            },
            body,
        }
        .encode()
    }

    fn port_identity(port: u16) -> PortIdentity {
        PortIdentity {
            clock_identity: CLOCK,
            port_number: port,
        }
    }

    fn clock_answers(base: u16, ports: u16) -> Vec<Vec<u8>> {
        let data = |d| ResponseBody::Dataset(d);
        vec![
            response(
                base,
                ManagementId::DefaultDataSet,
                0,
                data(Dataset::DefaultDataSet(DefaultDataSet {
                    two_step: true,
                    slave_only: true,
                    number_ports: ports,
                    priority1: 128,
                    clock_quality: Default::default(),
                    priority2: 128,
                    clock_identity: CLOCK,
                    domain_number: 0,
                })),
            ),
            response(
                base,
                ManagementId::CurrentDataSet,
                0,
                data(Dataset::CurrentDataSet(CurrentDataSet {
                    steps_removed: 1,
                    offset_from_master: TimeInterval(100 << 16),
                    mean_path_delay: TimeInterval(2000 << 16),
                })),
            ),
            response(
                base,
                ManagementId::ParentDataSet,
                0,
                data(Dataset::ParentDataSet(ParentDataSet {
                    parent_port_identity: port_identity(1),
                    parent_stats: false,
                    observed_parent_offset_scaled_log_variance: 0xffff,
                    observed_parent_clock_phase_change_rate: 0x7fff_ffff,
                    grandmaster_priority1: 10,
                    grandmaster_clock_quality: Default::default(),
                    grandmaster_priority2: 128,
                    grandmaster_identity: ClockIdentity([9; 8]),
                })),
            ),
            response(
                base,
                ManagementId::TimePropertiesDataSet,
                0,
                data(Dataset::TimePropertiesDataSet(TimePropertiesDataSet {
                    current_utc_offset: 37,
                    leap61: false,
                    leap59: false,
                    current_utc_offset_valid: true,
                    ptp_timescale: true,
                    time_traceable: true,
                    frequency_traceable: true,
                    time_source: ptpmgmt::TimeSource::Gnss,
                })),
            ),
            response(
                base,
                ManagementId::TimeStatusNp,
                0,
                data(Dataset::TimeStatusNp(TimeStatusNp {
                    master_offset: 100,
                    ingress_time: 1_700_000_000_000_000_000,
                    cumulative_scaled_rate_offset: 0,
                    scaled_last_gm_phase_change: 0,
                    gm_time_base_indicator: 0,
                    last_gm_phase_change: Default::default(),
                    gm_present: true,
                    gm_identity: ClockIdentity([9; 8]),
                })),
            ),
        ]
    }

    fn port_answers(base: u16, port: u16, state: PortState) -> [Vec<u8>; 2] {
        [
            response(
                base,
                ManagementId::PortDataSet,
                port,
                ResponseBody::Dataset(Dataset::PortDataSet(PortDataSet {
                    port_identity: port_identity(port),
                    port_state: state,
                    log_min_delay_req_interval: 0,
                    peer_mean_path_delay: TimeInterval(0),
                    log_announce_interval: 1,
                    announce_receipt_timeout: 3,
                    log_sync_interval: 0,
                    delay_mechanism: ptpmgmt::DelayMechanism::E2e,
                    log_min_pdelay_req_interval: 0,
                    version_number: 2,
                    minor_version_number: 0,
                })),
            ),
            response(
                base,
                ManagementId::PortPropertiesNp,
                port,
                ResponseBody::Dataset(Dataset::PortPropertiesNp(PortPropertiesNp {
                    port_identity: port_identity(port),
                    port_state: state,
                    timestamping: Timestamping::Hardware,
                    interface: format!("eth{port}"),
                })),
            ),
        ]
    }

    fn feed(c: &mut Collection, datagrams: &[Vec<u8>]) {
        for d in datagrams {
            c.accept(d, Path::new(PATH)).expect("no refusal");
        }
    }

    #[test]
    fn every_port_answers_in_any_order() {
        let base = 0xfffe; // the sequence ids wrap around within the collection
        let mut c = Collection::new(base);
        let [p2, props2] = port_answers(base, 2, PortState::Listening);
        let [p1, props1] = port_answers(base, 1, PortState::Slave);
        feed(&mut c, &[props2, p1]);
        assert!(
            c.take_report(Path::new(PATH)).is_none(),
            "the clock has not answered"
        );
        feed(&mut c, &clock_answers(base, 2));
        assert!(
            c.take_report(Path::new(PATH)).is_none(),
            "port 2 is missing"
        );
        feed(&mut c, &[p2]);
        assert!(
            c.take_report(Path::new(PATH)).is_none(),
            "port 1's properties"
        );
        feed(&mut c, &[props1]);
        let report = c.take_report(Path::new(PATH)).expect("complete");
        let numbers: Vec<u16> = report.ports.iter().map(PortReport::number).collect();
        assert_eq!(numbers, [1, 2]);
        assert_eq!(report.slave_port().map(PortReport::number), Some(1));
        assert_eq!(report.ports[1].interface(), Some("eth2"));
        assert_eq!(report.discarded, 0);
        assert_eq!(report.socket, Path::new(PATH));
    }

    #[test]
    fn strays_duplicates_and_garbage_are_discarded() {
        let base = 100;
        let mut c = Collection::new(base);
        let clock = clock_answers(base, 1);
        let [p1, props1] = port_answers(base, 1, PortState::Slave);
        // Another collection's answers (sequence ids 7 before ours).
        let earlier = clock_answers(base.wrapping_sub(7), 1);
        feed(&mut c, &earlier);
        // The right sequence id with another dataset in it: CURRENT_DATA_SET's
        // sequence id carrying PARENT_DATA_SET.
        let mut swapped = clock[2].clone();
        swapped[30..32].copy_from_slice(&(base + 1).to_be_bytes());
        feed(&mut c, &[swapped]);
        feed(&mut c, &clock);
        feed(&mut c, &[clock[0].clone(), p1.clone(), p1]); // duplicates
        feed(&mut c, &[vec![0x0d, 0x02, 0, 200], b"not ptp".to_vec()]);
        feed(&mut c, &[props1]);
        let report = c.take_report(Path::new(PATH)).expect("complete");
        assert_eq!(report.discarded, 5 + 1 + 2 + 2);
        assert_eq!(report.current_ds.offset_from_master.nanoseconds(), 100.0);
    }

    #[test]
    fn refused_clock_dataset_fails_refused_properties_do_not() {
        let base = 7;
        let refusal = |id: ManagementId| {
            response(
                base,
                id,
                1,
                ResponseBody::Error(ManagementErrorStatus {
                    error: ManagementErrorId::NoSuchId,
                    management_id: id.to_wire(),
                    display_data: String::new(),
                }),
            )
        };
        let mut c = Collection::new(base);
        feed(&mut c, &clock_answers(base, 1));
        feed(
            &mut c,
            &[port_answers(base, 1, PortState::Slave)[0].clone()],
        );
        feed(&mut c, &[refusal(ManagementId::PortPropertiesNp)]);
        let report = c
            .take_report(Path::new(PATH))
            .expect("complete without properties");
        assert_eq!(report.ports[0].properties, None);

        let mut c = Collection::new(base);
        let err = c
            .accept(&refusal(ManagementId::TimeStatusNp), Path::new(PATH))
            .expect_err("TIME_STATUS_NP is needed");
        assert_eq!(err.kind(), "refused");
        assert!(
            err.to_string().contains("TIME_STATUS_NP: NO_SUCH_ID"),
            "{err}"
        );
    }

    #[test]
    fn deadline_keeps_a_report_without_properties_but_not_without_a_port() {
        let base = 1;
        let [p1, _] = port_answers(base, 1, PortState::Slave);
        let [p2, props2] = port_answers(base, 2, PortState::Listening);
        let mut c = Collection::new(base);
        feed(&mut c, &clock_answers(base, 2));
        feed(&mut c, &[p1.clone(), p2, props2]);
        let report = c
            .at_deadline(Path::new(PATH), Duration::from_secs(1))
            .expect("only port 1's properties are missing");
        assert_eq!(report.ports[0].properties, None);
        assert_eq!(report.ports[1].interface(), Some("eth2"));

        let mut c = Collection::new(base);
        feed(&mut c, &clock_answers(base, 2)[1..]);
        feed(&mut c, &[p1, b"junk".to_vec()]);
        let err = c
            .at_deadline(Path::new(PATH), Duration::from_secs(1))
            .expect_err("no default data set");
        assert_eq!(err.kind(), "timeout");
        let text = err.to_string();
        assert!(
            text.contains("missing DEFAULT_DATA_SET, PORT_DATA_SET (1 ports so far)"),
            "{text}"
        );
        assert!(
            text.contains("1 datagram(s) discarded, the last: undecodable"),
            "{text}"
        );

        let mut c = Collection::new(base);
        feed(&mut c, &clock_answers(base, 2));
        let err = c
            .at_deadline(Path::new(PATH), Duration::from_secs(1))
            .expect_err("no port answered");
        assert!(
            err.to_string()
                .ends_with("missing PORT_DATA_SET (0 of 2 ports)"),
            "{err}"
        );
    }
}
