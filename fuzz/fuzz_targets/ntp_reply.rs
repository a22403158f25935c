//! NTP replies: decoding and validation never panic, a decoded header
//! re-encodes to bytes that decode to the same header, and a reply that
//! passes validation measures finite values.
#![no_main]

use std::num::NonZeroU64;

use libfuzzer_sys::fuzz_target;
use ntpclient::{NtpTimestamp, Packet, Request};

fuzz_target!(|data: &[u8]| {
    if let Ok(packet) = Packet::decode(data) {
        let again = Packet::decode(&packet.encode()).expect("an encoded header decodes");
        assert_eq!(again, packet, "decode -> encode -> decode changed the header");
    }
    // The cookie the reply echoes, so that the checks after the origin run too.
    let cookie = data
        .get(24..32)
        .map(|b| u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
        .and_then(NonZeroU64::new)
        .unwrap_or(NonZeroU64::MIN);
    let request = Request::new(cookie);
    let sent = NtpTimestamp::from_unix(1_700_000_000, 0);
    let received = NtpTimestamp::from_unix(1_700_000_000, 20_000_000);
    if let Ok(m) = request.measure(data, sent, received) {
        assert!(m.offset.is_finite() && m.delay.is_finite() && m.uncertainty().is_finite());
        assert!((1..=15).contains(&m.stratum));
    }
});
