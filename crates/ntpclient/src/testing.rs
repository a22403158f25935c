//! Server replies for examples and test peers. Not part of the stable API.

use crate::client::Request;
use crate::packet::{Leap, Mode, Packet};
use crate::timestamp::{NtpShort, NtpTimestamp};

/// A valid stratum-2 reply to `request` from a server whose clock is
/// `server_minus_client` seconds from the client's, reached over a
/// symmetric path of `delay` seconds round trip, for a request sent at
/// `sent` (client clock). The server answers at once.
pub fn server_reply(
    request: &Request,
    sent: NtpTimestamp,
    server_minus_client: f64,
    delay: f64,
) -> Vec<u8> {
    let shift = |t: NtpTimestamp, seconds: f64| {
        NtpTimestamp::from_bits(
            t.to_bits()
                .wrapping_add((seconds * 4_294_967_296.0) as i64 as u64),
        )
    };
    let received = shift(sent, delay / 2.0 + server_minus_client);
    Packet {
        transmit: received,
        receive: received,
        ..server_packet(request.cookie())
    }
    .encode()
    .to_vec()
}

/// A plausible server header echoing `origin`; its timestamps are left for
/// the caller to set.
pub fn server_packet(origin: NtpTimestamp) -> Packet {
    Packet {
        leap: Leap::NoWarning,
        version: 4,
        mode: Mode::Server,
        stratum: 2,
        poll: 6,
        precision: -20,
        root_delay: NtpShort::from_secs_f64(0.002),
        root_dispersion: NtpShort::from_secs_f64(0.001),
        reference_id: [127, 0, 0, 1],
        reference: NtpTimestamp::ZERO,
        origin,
        receive: NtpTimestamp::ZERO,
        transmit: NtpTimestamp::ZERO,
    }
}
