//! The datasets a GET can return, each with its exact layout: IEEE 1588's
//! defaultDS, currentDS, parentDS, timePropertiesDS and portDS (clause 15.5),
//! and linuxptp's TIME_STATUS_NP and PORT_PROPERTIES_NP, whose fields are
//! the ones `pmc` prints, in the order and widths ptp4l sends them (checked
//! against captures of ptp4l 3.1.1 and 4.2, tests/golden).

use crate::error::DecodeError;
use crate::types::{
    ClockAccuracy, ClockIdentity, ClockQuality, DelayMechanism, PortIdentity, PortState, ScaledNs,
    TimeInterval, TimeSource, Timestamping,
};
use crate::wire::{Reader, Writer};

/// DEFAULT_DATA_SET: the clock's own attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultDataSet {
    /// twoStepFlag: the clock sends follow-up messages.
    pub two_step: bool,
    /// slaveOnly: the clock never becomes master.
    pub slave_only: bool,
    /// numberPorts: how many PTP ports the clock has (linuxptp does not
    /// count its management sockets).
    pub number_ports: u16,
    /// priority1 of the clock.
    pub priority1: u8,
    /// The clock's own quality (what it would announce as master).
    pub clock_quality: ClockQuality,
    /// priority2 of the clock.
    pub priority2: u8,
    /// The clock's identity.
    pub clock_identity: ClockIdentity,
    /// The PTP domain the clock works in.
    pub domain_number: u8,
}

/// CURRENT_DATA_SET: where the clock stands relative to its master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentDataSet {
    /// stepsRemoved: boundary clocks between this clock and the
    /// grandmaster, plus one (0 when this clock is the grandmaster).
    pub steps_removed: u16,
    /// offsetFromMaster: this clock's time minus the master's, as last
    /// measured.
    pub offset_from_master: TimeInterval,
    /// meanPathDelay: the mean one-way delay to the master (half the round
    /// trip; the real delays each way may differ).
    pub mean_path_delay: TimeInterval,
}

/// PARENT_DATA_SET: the master this clock follows, and the grandmaster at
/// the root of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentDataSet {
    /// The master's port.
    pub parent_port_identity: PortIdentity,
    /// parentStats: the two observed values below are measured.
    pub parent_stats: bool,
    /// observedParentOffsetScaledLogVariance (0xFFFF: not measured).
    pub observed_parent_offset_scaled_log_variance: u16,
    /// observedParentClockPhaseChangeRate (0x7FFFFFFF: not measured).
    pub observed_parent_clock_phase_change_rate: i32,
    /// The grandmaster's priority1.
    pub grandmaster_priority1: u8,
    /// The grandmaster's stated quality: class, accuracy, variance.
    pub grandmaster_clock_quality: ClockQuality,
    /// The grandmaster's priority2.
    pub grandmaster_priority2: u8,
    /// The grandmaster's identity.
    pub grandmaster_identity: ClockIdentity,
}

/// TIME_PROPERTIES_DATA_SET: what the grandmaster says about its time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimePropertiesDataSet {
    /// currentUtcOffset: TAI minus UTC, in seconds.
    pub current_utc_offset: i16,
    /// leap61: the last minute of the day has 61 seconds.
    pub leap61: bool,
    /// leap59: the last minute of the day has 59 seconds.
    pub leap59: bool,
    /// currentUtcOffsetValid: the UTC offset is known to be right.
    pub current_utc_offset_valid: bool,
    /// ptpTimescale: the grandmaster's time scale is PTP (TAI); otherwise
    /// it is arbitrary.
    pub ptp_timescale: bool,
    /// timeTraceable: the time is traceable to a primary reference.
    pub time_traceable: bool,
    /// frequencyTraceable: the frequency is traceable to a primary
    /// reference.
    pub frequency_traceable: bool,
    /// Where the grandmaster gets its time.
    pub time_source: TimeSource,
}

/// PORT_DATA_SET: one port's state and message intervals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortDataSet {
    /// The port.
    pub port_identity: PortIdentity,
    /// Its state.
    pub port_state: PortState,
    /// log2 of the delay request interval, in seconds.
    pub log_min_delay_req_interval: i8,
    /// The peer delay measured on the link (P2P only).
    pub peer_mean_path_delay: TimeInterval,
    /// log2 of the announce interval, in seconds.
    pub log_announce_interval: i8,
    /// Announce intervals without an announce before the master is
    /// considered gone.
    pub announce_receipt_timeout: u8,
    /// log2 of the sync interval, in seconds.
    pub log_sync_interval: i8,
    /// How the path delay is measured.
    pub delay_mechanism: DelayMechanism,
    /// log2 of the peer delay request interval, in seconds.
    pub log_min_pdelay_req_interval: i8,
    /// The PTP version the port speaks (2).
    pub version_number: u8,
    /// The minor version (1588-2019; 0 before).
    pub minor_version_number: u8,
}

/// TIME_STATUS_NP (linuxptp): the servo's view of the last measurement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeStatusNp {
    /// The last measured offset from the master, in nanoseconds.
    pub master_offset: i64,
    /// When the last sync message was received, in nanoseconds of the
    /// local clock's time scale (the system clock with software
    /// timestamping, the PTP hardware clock with hardware timestamping):
    /// 0 before the first one.
    pub ingress_time: i64,
    /// cumulativeScaledRateOffset: (rate ratio to the grandmaster - 1) x
    /// 2^41.
    pub cumulative_scaled_rate_offset: i32,
    /// scaledLastGmPhaseChange (802.1AS).
    pub scaled_last_gm_phase_change: i32,
    /// gmTimeBaseIndicator (802.1AS).
    pub gm_time_base_indicator: u16,
    /// lastGmPhaseChange (802.1AS).
    pub last_gm_phase_change: ScaledNs,
    /// A grandmaster other than this clock is selected (false when this
    /// clock is its own grandmaster, or no master is heard).
    pub gm_present: bool,
    /// The grandmaster's identity (this clock's own when none is present).
    pub gm_identity: ClockIdentity,
}

impl TimeStatusNp {
    /// The rate ratio to the grandmaster minus one.
    pub fn rate_offset(&self) -> f64 {
        f64::from(self.cumulative_scaled_rate_offset) / (1u64 << 41) as f64
    }
}

/// PORT_PROPERTIES_NP (linuxptp): a port's state, timestamping and network
/// interface name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortPropertiesNp {
    /// The port.
    pub port_identity: PortIdentity,
    /// Its state.
    pub port_state: PortState,
    /// How it timestamps.
    pub timestamping: Timestamping,
    /// The network interface (e.g. `eth0`).
    pub interface: String,
}

pub(crate) fn read_clock_identity(r: &mut Reader<'_>) -> Result<ClockIdentity, DecodeError> {
    Ok(ClockIdentity(r.bytes()?))
}

pub(crate) fn read_port_identity(r: &mut Reader<'_>) -> Result<PortIdentity, DecodeError> {
    Ok(PortIdentity {
        clock_identity: read_clock_identity(r)?,
        port_number: r.u16()?,
    })
}

pub(crate) fn write_port_identity(w: &mut Writer, p: &PortIdentity) {
    w.bytes(&p.clock_identity.0);
    w.u16(p.port_number);
}

fn read_clock_quality(r: &mut Reader<'_>) -> Result<ClockQuality, DecodeError> {
    Ok(ClockQuality {
        clock_class: r.u8()?,
        clock_accuracy: ClockAccuracy(r.u8()?),
        offset_scaled_log_variance: r.u16()?,
    })
}

fn write_clock_quality(w: &mut Writer, q: &ClockQuality) {
    w.u8(q.clock_class);
    w.u8(q.clock_accuracy.0);
    w.u16(q.offset_scaled_log_variance);
}

fn bit(flags: u8, n: u8) -> bool {
    flags & (1 << n) != 0
}

fn flag(v: bool, n: u8) -> u8 {
    u8::from(v) << n
}

impl DefaultDataSet {
    pub(crate) const LEN: usize = 20;

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let flags = r.u8()?;
        let _reserved = r.u8()?;
        let d = Self {
            two_step: bit(flags, 0),
            slave_only: bit(flags, 1),
            number_ports: r.u16()?,
            priority1: r.u8()?,
            clock_quality: read_clock_quality(r)?,
            priority2: r.u8()?,
            clock_identity: read_clock_identity(r)?,
            domain_number: r.u8()?,
        };
        let _reserved = r.u8()?;
        Ok(d)
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.u8(flag(self.two_step, 0) | flag(self.slave_only, 1));
        w.u8(0);
        w.u16(self.number_ports);
        w.u8(self.priority1);
        write_clock_quality(w, &self.clock_quality);
        w.u8(self.priority2);
        w.bytes(&self.clock_identity.0);
        w.u8(self.domain_number);
        w.u8(0);
    }
}

impl CurrentDataSet {
    pub(crate) const LEN: usize = 18;

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            steps_removed: r.u16()?,
            offset_from_master: TimeInterval(r.i64()?),
            mean_path_delay: TimeInterval(r.i64()?),
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.u16(self.steps_removed);
        w.i64(self.offset_from_master.0);
        w.i64(self.mean_path_delay.0);
    }
}

impl ParentDataSet {
    pub(crate) const LEN: usize = 32;

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let parent_port_identity = read_port_identity(r)?;
        let flags = r.u8()?;
        let _reserved = r.u8()?;
        Ok(Self {
            parent_port_identity,
            parent_stats: bit(flags, 0),
            observed_parent_offset_scaled_log_variance: r.u16()?,
            observed_parent_clock_phase_change_rate: r.i32()?,
            grandmaster_priority1: r.u8()?,
            grandmaster_clock_quality: read_clock_quality(r)?,
            grandmaster_priority2: r.u8()?,
            grandmaster_identity: read_clock_identity(r)?,
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        write_port_identity(w, &self.parent_port_identity);
        w.u8(flag(self.parent_stats, 0));
        w.u8(0);
        w.u16(self.observed_parent_offset_scaled_log_variance);
        w.i32(self.observed_parent_clock_phase_change_rate);
        w.u8(self.grandmaster_priority1);
        write_clock_quality(w, &self.grandmaster_clock_quality);
        w.u8(self.grandmaster_priority2);
        w.bytes(&self.grandmaster_identity.0);
    }
}

impl TimePropertiesDataSet {
    pub(crate) const LEN: usize = 4;

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let current_utc_offset = r.i16()?;
        let flags = r.u8()?;
        Ok(Self {
            current_utc_offset,
            leap61: bit(flags, 0),
            leap59: bit(flags, 1),
            current_utc_offset_valid: bit(flags, 2),
            ptp_timescale: bit(flags, 3),
            time_traceable: bit(flags, 4),
            frequency_traceable: bit(flags, 5),
            time_source: TimeSource::from_wire(r.u8()?),
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.i16(self.current_utc_offset);
        w.u8(flag(self.leap61, 0)
            | flag(self.leap59, 1)
            | flag(self.current_utc_offset_valid, 2)
            | flag(self.ptp_timescale, 3)
            | flag(self.time_traceable, 4)
            | flag(self.frequency_traceable, 5));
        w.u8(self.time_source.to_wire());
    }
}

impl PortDataSet {
    pub(crate) const LEN: usize = 26;

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let d = Self {
            port_identity: read_port_identity(r)?,
            port_state: PortState::from_wire(r.u8()?),
            log_min_delay_req_interval: r.i8()?,
            peer_mean_path_delay: TimeInterval(r.i64()?),
            log_announce_interval: r.i8()?,
            announce_receipt_timeout: r.u8()?,
            log_sync_interval: r.i8()?,
            delay_mechanism: DelayMechanism::from_wire(r.u8()?),
            log_min_pdelay_req_interval: r.i8()?,
            version_number: 0,
            minor_version_number: 0,
        };
        let versions = r.u8()?;
        Ok(Self {
            version_number: versions & 0x0f,
            minor_version_number: versions >> 4,
            ..d
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        write_port_identity(w, &self.port_identity);
        w.u8(self.port_state.to_wire());
        w.i8(self.log_min_delay_req_interval);
        w.i64(self.peer_mean_path_delay.0);
        w.i8(self.log_announce_interval);
        w.u8(self.announce_receipt_timeout);
        w.i8(self.log_sync_interval);
        w.u8(self.delay_mechanism.to_wire());
        w.i8(self.log_min_pdelay_req_interval);
        w.u8((self.minor_version_number & 0x0f) << 4 | (self.version_number & 0x0f));
    }
}

impl TimeStatusNp {
    pub(crate) const LEN: usize = 50;

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            master_offset: r.i64()?,
            ingress_time: r.i64()?,
            cumulative_scaled_rate_offset: r.i32()?,
            scaled_last_gm_phase_change: r.i32()?,
            gm_time_base_indicator: r.u16()?,
            last_gm_phase_change: ScaledNs {
                nanoseconds_msb: r.u16()?,
                nanoseconds_lsb: r.u64()?,
                fractional_nanoseconds: r.u16()?,
            },
            gm_present: r.i32()? != 0,
            gm_identity: read_clock_identity(r)?,
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.i64(self.master_offset);
        w.i64(self.ingress_time);
        w.i32(self.cumulative_scaled_rate_offset);
        w.i32(self.scaled_last_gm_phase_change);
        w.u16(self.gm_time_base_indicator);
        w.u16(self.last_gm_phase_change.nanoseconds_msb);
        w.u64(self.last_gm_phase_change.nanoseconds_lsb);
        w.u16(self.last_gm_phase_change.fractional_nanoseconds);
        w.i32(i32::from(self.gm_present));
        w.bytes(&self.gm_identity.0);
    }
}

impl PortPropertiesNp {
    /// The length without the interface name's bytes.
    pub(crate) const MIN_LEN: usize = 13;

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            port_identity: read_port_identity(r)?,
            port_state: PortState::from_wire(r.u8()?),
            timestamping: Timestamping::from_wire(r.u8()?),
            interface: r.text()?,
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        write_port_identity(w, &self.port_identity);
        w.u8(self.port_state.to_wire());
        w.u8(self.timestamping.to_wire());
        w.text(&self.interface);
    }
}
