//! cmdmon replies: decoding never panics, a decoded reply re-encodes to
//! bytes that decode to the same reply, and matching a reply to the
//! tracking request never panics.
#![no_main]

use cmdmon::{Reply, Request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(reply) = Reply::decode(data) {
        let again = Reply::decode(&reply.encode()).expect("an encoded reply decodes");
        assert_eq!(again, reply, "decode -> encode -> decode changed the reply");
    }
    let seq = data
        .get(..4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .unwrap_or(0);
    let _ = Request::Tracking.parse_reply(seq, data);
});
