//! Replies: header, the typed bodies, and their exact-length decoding (and
//! encoding, which test peers and the fuzzer's round trip need).

use crate::error::DecodeError;
use crate::status::Status;
use crate::types::{
    Activity, LeapStatus, NtpData, NtpDataTimestampCounts, RefId, ServerStats, ServerStatsFormat,
    SourceData, SourceMode, SourceName, SourceState, SourceStats, Tracking,
};
use crate::wire::{Reader, Writer, ADDRESS_LEN, TIMESPEC_LEN};
use crate::{PKT_TYPE_REPLY, PROTOCOL_VERSION};

/// Length of the reply header.
pub const REPLY_HEADER_LEN: usize = 28;

/// Length of the name field of an `NTP_SOURCE_NAME` reply.
pub const SOURCE_NAME_LEN: usize = 256;

/// The reply formats this crate understands (`RPY_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplyType {
    /// `RPY_NULL`: no data (a failure status, or a command with no report).
    Null,
    /// `RPY_N_SOURCES`: the number of sources.
    NSources,
    /// `RPY_SOURCE_DATA`: one entry of the source list.
    SourceData,
    /// `RPY_TRACKING`: the tracking report.
    Tracking,
    /// `RPY_SOURCESTATS`: statistics of one source.
    SourceStats,
    /// `RPY_ACTIVITY`: counts of sources by activity.
    Activity,
    /// `RPY_SERVER_STATS`: server statistics, chrony 3.x.
    ServerStats,
    /// `RPY_NTP_DATA`: the last NTP exchange with a source, before chrony 4.6.
    NtpData,
    /// `RPY_NTP_SOURCE_NAME`: a source's configured name.
    NtpSourceName,
    /// `RPY_SERVER_STATS2`: server statistics, chrony 4.0 and 4.1.
    ServerStats2,
    /// `RPY_SERVER_STATS3`: server statistics, chrony 4.2 and 4.3.
    ServerStats3,
    /// `RPY_SERVER_STATS4`: server statistics, chrony 4.4 and later.
    ServerStats4,
    /// `RPY_NTP_DATA2`: the last NTP exchange with a source, chrony 4.6 and
    /// later.
    NtpData2,
}

impl ReplyType {
    /// Decodes a reply type code; unknown codes are an error.
    pub fn from_wire(v: u16) -> Result<Self, DecodeError> {
        Ok(match v {
            1 => ReplyType::Null,
            2 => ReplyType::NSources,
            3 => ReplyType::SourceData,
            5 => ReplyType::Tracking,
            6 => ReplyType::SourceStats,
            12 => ReplyType::Activity,
            14 => ReplyType::ServerStats,
            16 => ReplyType::NtpData,
            19 => ReplyType::NtpSourceName,
            22 => ReplyType::ServerStats2,
            24 => ReplyType::ServerStats3,
            25 => ReplyType::ServerStats4,
            26 => ReplyType::NtpData2,
            other => return Err(DecodeError::UnknownReplyType(other)),
        })
    }

    /// The `RPY_*` code of this reply type.
    pub fn to_wire(self) -> u16 {
        match self {
            ReplyType::Null => 1,
            ReplyType::NSources => 2,
            ReplyType::SourceData => 3,
            ReplyType::Tracking => 5,
            ReplyType::SourceStats => 6,
            ReplyType::Activity => 12,
            ReplyType::ServerStats => 14,
            ReplyType::NtpData => 16,
            ReplyType::NtpSourceName => 19,
            ReplyType::ServerStats2 => 22,
            ReplyType::ServerStats3 => 24,
            ReplyType::ServerStats4 => 25,
            ReplyType::NtpData2 => 26,
        }
    }

    /// chrony's name for the type, without the `RPY_` prefix.
    pub fn name(self) -> &'static str {
        match self {
            ReplyType::Null => "NULL",
            ReplyType::NSources => "N_SOURCES",
            ReplyType::SourceData => "SOURCE_DATA",
            ReplyType::Tracking => "TRACKING",
            ReplyType::SourceStats => "SOURCESTATS",
            ReplyType::Activity => "ACTIVITY",
            ReplyType::ServerStats => "SERVER_STATS",
            ReplyType::NtpData => "NTP_DATA",
            ReplyType::NtpSourceName => "NTP_SOURCE_NAME",
            ReplyType::ServerStats2 => "SERVER_STATS2",
            ReplyType::ServerStats3 => "SERVER_STATS3",
            ReplyType::ServerStats4 => "SERVER_STATS4",
            ReplyType::NtpData2 => "NTP_DATA2",
        }
    }

    /// Bytes after the header: chronyd sends exactly this many.
    pub fn data_len(self) -> usize {
        const F: usize = 4; // Float, uint32 and int32 alike
        match self {
            ReplyType::Null => 0,
            ReplyType::NSources => 4,
            ReplyType::SourceData => ADDRESS_LEN + 6 * 2 + 4 + 3 * F,
            ReplyType::Tracking => 4 + ADDRESS_LEN + 2 * 2 + TIMESPEC_LEN + 9 * F,
            ReplyType::SourceStats => 4 + ADDRESS_LEN + 3 * 4 + 5 * F,
            ReplyType::Activity => 5 * 4,
            ReplyType::ServerStats => 5 * 4,
            ReplyType::ServerStats2 => 8 * 4,
            ReplyType::ServerStats3 => 11 * 4,
            ReplyType::ServerStats4 => 21 * 8,
            ReplyType::NtpData => NTP_DATA_COMMON_LEN + 4 * 4,
            ReplyType::NtpData2 => NTP_DATA_COMMON_LEN + 9 * 4,
            ReplyType::NtpSourceName => SOURCE_NAME_LEN,
        }
    }
}

/// The part of both NTP data replies up to and including `total_valid_count`.
const NTP_DATA_COMMON_LEN: usize =
    2 * ADDRESS_LEN + 2 + 6 + 2 * 4 + 4 + TIMESPEC_LEN + 5 * 4 + 4 + 3 * 4;

/// The fixed reply header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyHeader {
    /// The command answered (`REQ_*`), echoed from the request.
    pub command: u16,
    /// The reply type code (`RPY_*`); see [`ReplyType::from_wire`].
    pub reply_type: u16,
    /// Whether the command was carried out.
    pub status: Status,
    /// The request's sequence number, echoed.
    pub sequence: u32,
}

impl ReplyHeader {
    /// Decodes and checks the header: protocol version 6 and packet type
    /// reply. The body is not looked at.
    pub fn decode(packet: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(packet);
        let version = r.u8()?;
        let pkt_type = r.u8()?;
        if version != PROTOCOL_VERSION {
            return Err(DecodeError::BadVersion(version));
        }
        if pkt_type != PKT_TYPE_REPLY {
            return Err(DecodeError::WrongPacketType {
                expected: PKT_TYPE_REPLY,
                got: pkt_type,
            });
        }
        r.skip(2)?;
        let command = r.u16()?;
        let reply_type = r.u16()?;
        let status = Status::from_wire(r.u16()?);
        r.skip(6)?;
        let sequence = r.u32()?;
        r.skip(8)?;
        Ok(Self {
            command,
            reply_type,
            status,
            sequence,
        })
    }

    fn encode(&self, w: &mut Writer) {
        w.u8(PROTOCOL_VERSION);
        w.u8(PKT_TYPE_REPLY);
        w.u8(0);
        w.u8(0);
        w.u16(self.command);
        w.u16(self.reply_type);
        w.u16(self.status.to_wire());
        w.zeros(6);
        w.u32(self.sequence);
        w.zeros(8);
    }
}

/// A decoded reply body.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplyBody {
    /// No data.
    Null,
    /// The number of sources.
    NSources(u32),
    /// One entry of the source list.
    SourceData(SourceData),
    /// The tracking report.
    Tracking(Tracking),
    /// Statistics of one source.
    SourceStats(SourceStats),
    /// Counts of sources by activity.
    Activity(Activity),
    /// Server statistics, in any of the four formats.
    ServerStats(ServerStats),
    /// The last NTP exchange with a source, in either format.
    NtpData(NtpData),
    /// The name the source was configured with.
    NtpSourceName(SourceName),
}

impl ReplyBody {
    /// The reply type this body is sent as.
    pub fn reply_type(&self) -> ReplyType {
        match self {
            ReplyBody::Null => ReplyType::Null,
            ReplyBody::NSources(_) => ReplyType::NSources,
            ReplyBody::SourceData(_) => ReplyType::SourceData,
            ReplyBody::Tracking(_) => ReplyType::Tracking,
            ReplyBody::SourceStats(_) => ReplyType::SourceStats,
            ReplyBody::Activity(_) => ReplyType::Activity,
            ReplyBody::ServerStats(s) => match s.format {
                ServerStatsFormat::V1 => ReplyType::ServerStats,
                ServerStatsFormat::V2 => ReplyType::ServerStats2,
                ServerStatsFormat::V3 => ReplyType::ServerStats3,
                ServerStatsFormat::V4 => ReplyType::ServerStats4,
            },
            ReplyBody::NtpData(d) if d.extended.is_some() => ReplyType::NtpData2,
            ReplyBody::NtpData(_) => ReplyType::NtpData,
            ReplyBody::NtpSourceName(_) => ReplyType::NtpSourceName,
        }
    }
}

/// A whole reply: header and body.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The header; [`Reply::encode`] takes the reply type from the body.
    pub header: ReplyHeader,
    /// The decoded body.
    pub body: ReplyBody,
}

impl Reply {
    /// Decodes any reply this crate understands, without matching it to a
    /// request. A failure status carries no body ([`ReplyBody::Null`]).
    pub fn decode(packet: &[u8]) -> Result<Self, DecodeError> {
        let header = ReplyHeader::decode(packet)?;
        let reply_type = ReplyType::from_wire(header.reply_type)?;
        let body = decode_body(reply_type, packet)?;
        Ok(Self { header, body })
    }

    /// Encodes the reply as chronyd would send it. The header's reply type
    /// is taken from the body.
    pub fn encode(&self) -> Vec<u8> {
        let reply_type = self.body.reply_type();
        let mut w = Writer::with_capacity(REPLY_HEADER_LEN + reply_type.data_len());
        ReplyHeader {
            reply_type: reply_type.to_wire(),
            ..self.header
        }
        .encode(&mut w);
        encode_body(&self.body, &mut w);
        debug_assert_eq!(w.len(), REPLY_HEADER_LEN + reply_type.data_len());
        w.into_vec()
    }
}

/// Decodes the body of a reply of a known type; the packet must be exactly
/// as long as that type's reply, neither truncated nor padded.
pub(crate) fn decode_body(reply_type: ReplyType, packet: &[u8]) -> Result<ReplyBody, DecodeError> {
    let expected = REPLY_HEADER_LEN + reply_type.data_len();
    if packet.len() != expected {
        return Err(DecodeError::WrongLength {
            reply: reply_type.name(),
            expected,
            actual: packet.len(),
        });
    }
    let mut r = Reader::new(&packet[REPLY_HEADER_LEN..]);
    let body = match reply_type {
        ReplyType::Null => ReplyBody::Null,
        ReplyType::NSources => ReplyBody::NSources(r.u32()?),
        ReplyType::SourceData => ReplyBody::SourceData(SourceData {
            ip_addr: r.address()?,
            poll: r.i16()?,
            stratum: r.u16()?,
            state: SourceState::from_wire(r.u16()?)?,
            mode: SourceMode::from_wire(r.u16()?)?,
            flags: r.u16()?,
            reachability: r.u16()?,
            since_sample: r.u32()?,
            orig_latest_meas: r.float()?,
            latest_meas: r.float()?,
            latest_meas_err: r.float()?,
        }),
        ReplyType::Tracking => ReplyBody::Tracking(Tracking {
            ref_id: RefId(r.u32()?),
            ip_addr: r.address()?,
            stratum: r.u16()?,
            leap_status: LeapStatus::from_wire(r.u16()?)?,
            ref_time: r.timespec()?,
            current_correction: r.float()?,
            last_offset: r.float()?,
            rms_offset: r.float()?,
            freq_ppm: r.float()?,
            resid_freq_ppm: r.float()?,
            skew_ppm: r.float()?,
            root_delay: r.float()?,
            root_dispersion: r.float()?,
            last_update_interval: r.float()?,
        }),
        ReplyType::SourceStats => ReplyBody::SourceStats(SourceStats {
            ref_id: RefId(r.u32()?),
            ip_addr: r.address()?,
            n_samples: r.u32()?,
            n_runs: r.u32()?,
            span_seconds: r.u32()?,
            std_dev: r.float()?,
            resid_freq_ppm: r.float()?,
            skew_ppm: r.float()?,
            est_offset: r.float()?,
            est_offset_err: r.float()?,
        }),
        ReplyType::Activity => ReplyBody::Activity(Activity {
            online: r.i32()?,
            offline: r.i32()?,
            burst_online: r.i32()?,
            burst_offline: r.i32()?,
            unresolved: r.i32()?,
        }),
        ReplyType::ServerStats => ReplyBody::ServerStats(decode_server_stats_v1(&mut r)?),
        ReplyType::ServerStats2 | ReplyType::ServerStats3 => {
            ReplyBody::ServerStats(decode_server_stats_v2_v3(reply_type, &mut r)?)
        }
        ReplyType::ServerStats4 => ReplyBody::ServerStats(decode_server_stats_v4(&mut r)?),
        ReplyType::NtpData | ReplyType::NtpData2 => {
            ReplyBody::NtpData(decode_ntp_data(reply_type, &mut r)?)
        }
        ReplyType::NtpSourceName => {
            let raw: [u8; SOURCE_NAME_LEN] = r.bytes()?;
            // Like chronyc, the last byte is taken as the terminator even if
            // chronyd did not send a NUL there.
            let text = &raw[..SOURCE_NAME_LEN - 1];
            let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
            ReplyBody::NtpSourceName(SourceName(text[..end].to_vec()))
        }
    };
    debug_assert_eq!(r.remaining(), 0);
    Ok(body)
}

fn decode_server_stats_v1(r: &mut Reader<'_>) -> Result<ServerStats, DecodeError> {
    Ok(ServerStats {
        format: ServerStatsFormat::V1,
        ntp_hits: r.u32()?.into(),
        cmd_hits: r.u32()?.into(),
        ntp_drops: r.u32()?.into(),
        cmd_drops: r.u32()?.into(),
        log_drops: r.u32()?.into(),
        ..ServerStats::default()
    })
}

fn decode_server_stats_v2_v3(
    reply_type: ReplyType,
    r: &mut Reader<'_>,
) -> Result<ServerStats, DecodeError> {
    let ntp_hits = r.u32()?.into();
    let nke_hits = Some(r.u32()?.into());
    let cmd_hits = r.u32()?.into();
    let ntp_drops = r.u32()?.into();
    let nke_drops = Some(r.u32()?.into());
    let cmd_drops = r.u32()?.into();
    let log_drops = r.u32()?.into();
    let ntp_auth_hits = Some(r.u32()?.into());
    let mut stats = ServerStats {
        format: ServerStatsFormat::V2,
        ntp_hits,
        cmd_hits,
        ntp_drops,
        cmd_drops,
        log_drops,
        nke_hits,
        nke_drops,
        ntp_auth_hits,
        ..ServerStats::default()
    };
    if reply_type == ReplyType::ServerStats3 {
        stats.format = ServerStatsFormat::V3;
        stats.ntp_interleaved_hits = Some(r.u32()?.into());
        stats.ntp_timestamps = Some(r.u32()?.into());
        stats.ntp_span_seconds = Some(r.u32()?.into());
    }
    Ok(stats)
}

fn decode_server_stats_v4(r: &mut Reader<'_>) -> Result<ServerStats, DecodeError> {
    let ntp_hits = r.u64_split()?;
    let nke_hits = Some(r.u64_split()?);
    let cmd_hits = r.u64_split()?;
    let ntp_drops = r.u64_split()?;
    let nke_drops = Some(r.u64_split()?);
    let cmd_drops = r.u64_split()?;
    let log_drops = r.u64_split()?;
    let stats = ServerStats {
        format: ServerStatsFormat::V4,
        ntp_hits,
        cmd_hits,
        ntp_drops,
        cmd_drops,
        log_drops,
        nke_hits,
        nke_drops,
        ntp_auth_hits: Some(r.u64_split()?),
        ntp_interleaved_hits: Some(r.u64_split()?),
        ntp_timestamps: Some(r.u64_split()?),
        ntp_span_seconds: Some(r.u64_split()?),
        ntp_daemon_rx_timestamps: Some(r.u64_split()?),
        ntp_daemon_tx_timestamps: Some(r.u64_split()?),
        ntp_kernel_rx_timestamps: Some(r.u64_split()?),
        ntp_kernel_tx_timestamps: Some(r.u64_split()?),
        ntp_hw_rx_timestamps: Some(r.u64_split()?),
        ntp_hw_tx_timestamps: Some(r.u64_split()?),
    };
    r.skip(4 * 8)?; // reserved
    Ok(stats)
}

fn decode_ntp_data(reply_type: ReplyType, r: &mut Reader<'_>) -> Result<NtpData, DecodeError> {
    let mut data = NtpData {
        remote_addr: r.address()?,
        local_addr: r.address()?,
        remote_port: r.u16()?,
        leap: r.u8()?,
        version: r.u8()?,
        mode: r.u8()?,
        stratum: r.u8()?,
        poll: r.i8()?,
        precision: r.i8()?,
        root_delay: r.float()?,
        root_dispersion: r.float()?,
        ref_id: RefId(r.u32()?),
        ref_time: r.timespec()?,
        offset: r.float()?,
        peer_delay: r.float()?,
        peer_dispersion: r.float()?,
        response_time: r.float()?,
        jitter_asymmetry: r.float()?,
        flags: r.u16()?,
        tx_tss_char: r.u8()?,
        rx_tss_char: r.u8()?,
        total_tx_count: r.u32()?,
        total_rx_count: r.u32()?,
        total_valid_count: r.u32()?,
        // chrony before 4.2 left this word reserved (zero).
        total_good_count: r.u32()?,
        extended: None,
    };
    if reply_type == ReplyType::NtpData2 {
        data.extended = Some(NtpDataTimestampCounts {
            total_kernel_tx_ts: r.u32()?,
            total_kernel_rx_ts: r.u32()?,
            total_hw_tx_ts: r.u32()?,
            total_hw_rx_ts: r.u32()?,
        });
        r.skip(4 * 4)?;
    } else {
        r.skip(3 * 4)?;
    }
    Ok(data)
}

fn encode_body(body: &ReplyBody, w: &mut Writer) {
    match body {
        ReplyBody::Null => {}
        ReplyBody::NSources(n) => w.u32(*n),
        ReplyBody::SourceData(s) => {
            w.address(s.ip_addr);
            w.i16(s.poll);
            w.u16(s.stratum);
            w.u16(s.state.to_wire());
            w.u16(s.mode.to_wire());
            w.u16(s.flags);
            w.u16(s.reachability);
            w.u32(s.since_sample);
            w.float(s.orig_latest_meas);
            w.float(s.latest_meas);
            w.float(s.latest_meas_err);
        }
        ReplyBody::Tracking(t) => {
            w.u32(t.ref_id.0);
            w.address(t.ip_addr);
            w.u16(t.stratum);
            w.u16(t.leap_status.to_wire());
            w.timespec(t.ref_time);
            for v in [
                t.current_correction,
                t.last_offset,
                t.rms_offset,
                t.freq_ppm,
                t.resid_freq_ppm,
                t.skew_ppm,
                t.root_delay,
                t.root_dispersion,
                t.last_update_interval,
            ] {
                w.float(v);
            }
        }
        ReplyBody::SourceStats(s) => {
            w.u32(s.ref_id.0);
            w.address(s.ip_addr);
            w.u32(s.n_samples);
            w.u32(s.n_runs);
            w.u32(s.span_seconds);
            for v in [
                s.std_dev,
                s.resid_freq_ppm,
                s.skew_ppm,
                s.est_offset,
                s.est_offset_err,
            ] {
                w.float(v);
            }
        }
        ReplyBody::Activity(a) => {
            for v in [
                a.online,
                a.offline,
                a.burst_online,
                a.burst_offline,
                a.unresolved,
            ] {
                w.i32(v);
            }
        }
        ReplyBody::ServerStats(s) => encode_server_stats(s, w),
        ReplyBody::NtpData(d) => encode_ntp_data(d, w),
        ReplyBody::NtpSourceName(name) => {
            let bytes = name.0.as_slice();
            let n = bytes.len().min(SOURCE_NAME_LEN - 1);
            let mut raw = [0u8; SOURCE_NAME_LEN];
            raw[..n].copy_from_slice(&bytes[..n]);
            for b in raw {
                w.u8(b);
            }
        }
    }
}

fn encode_server_stats(s: &ServerStats, w: &mut Writer) {
    let opt = |v: Option<u64>| v.unwrap_or(0);
    match s.format {
        ServerStatsFormat::V1 => {
            for v in [
                s.ntp_hits,
                s.cmd_hits,
                s.ntp_drops,
                s.cmd_drops,
                s.log_drops,
            ] {
                w.u32(v as u32);
            }
        }
        ServerStatsFormat::V2 | ServerStatsFormat::V3 => {
            let mut words = vec![
                s.ntp_hits,
                opt(s.nke_hits),
                s.cmd_hits,
                s.ntp_drops,
                opt(s.nke_drops),
                s.cmd_drops,
                s.log_drops,
                opt(s.ntp_auth_hits),
            ];
            if s.format == ServerStatsFormat::V3 {
                words.extend([
                    opt(s.ntp_interleaved_hits),
                    opt(s.ntp_timestamps),
                    opt(s.ntp_span_seconds),
                ]);
            }
            for v in words {
                w.u32(v as u32);
            }
        }
        ServerStatsFormat::V4 => {
            for v in [
                s.ntp_hits,
                opt(s.nke_hits),
                s.cmd_hits,
                s.ntp_drops,
                opt(s.nke_drops),
                s.cmd_drops,
                s.log_drops,
                opt(s.ntp_auth_hits),
                opt(s.ntp_interleaved_hits),
                opt(s.ntp_timestamps),
                opt(s.ntp_span_seconds),
                opt(s.ntp_daemon_rx_timestamps),
                opt(s.ntp_daemon_tx_timestamps),
                opt(s.ntp_kernel_rx_timestamps),
                opt(s.ntp_kernel_tx_timestamps),
                opt(s.ntp_hw_rx_timestamps),
                opt(s.ntp_hw_tx_timestamps),
            ] {
                w.u64_split(v);
            }
            w.ones(4 * 8); // reserved, filled with 0xff as chronyd does
        }
    }
}

fn encode_ntp_data(d: &NtpData, w: &mut Writer) {
    w.address(d.remote_addr);
    w.address(d.local_addr);
    w.u16(d.remote_port);
    w.u8(d.leap);
    w.u8(d.version);
    w.u8(d.mode);
    w.u8(d.stratum);
    w.i8(d.poll);
    w.i8(d.precision);
    w.float(d.root_delay);
    w.float(d.root_dispersion);
    w.u32(d.ref_id.0);
    w.timespec(d.ref_time);
    for v in [
        d.offset,
        d.peer_delay,
        d.peer_dispersion,
        d.response_time,
        d.jitter_asymmetry,
    ] {
        w.float(v);
    }
    w.u16(d.flags);
    w.u8(d.tx_tss_char);
    w.u8(d.rx_tss_char);
    w.u32(d.total_tx_count);
    w.u32(d.total_rx_count);
    w.u32(d.total_valid_count);
    w.u32(d.total_good_count);
    match d.extended {
        Some(x) => {
            w.u32(x.total_kernel_tx_ts);
            w.u32(x.total_kernel_rx_ts);
            w.u32(x.total_hw_tx_ts);
            w.u32(x.total_hw_rx_ts);
            w.ones(4 * 4);
        }
        // chronyd fills the reserved words with 0xff.
        None => w.ones(3 * 4),
    }
}
