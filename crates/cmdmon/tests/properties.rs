//! Property tests: the float codec's precision and special exponents, and
//! the reply decoder on arbitrary input.

use cmdmon::{float, Reply, ReplyType, Request};
use proptest::prelude::*;

/// Relative precision of the 25-bit signed coefficient after rounding.
const REL_PRECISION: f64 = 1.0 / (1u64 << 23) as f64;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn float_round_trip_within_precision(mantissa in -1.0f64..1.0, exp in -85i32..60) {
        let x = mantissa * 2f64.powi(exp);
        let back = float::decode(float::encode(x));
        let tolerance = x.abs() * REL_PRECISION + 2f64.powi(-89);
        prop_assert!((back - x).abs() <= tolerance, "x={x:e} back={back:e}");
        // The sign survives (zero may come back for the tiniest values).
        prop_assert!(back == 0.0 || back.signum() == x.signum());
    }

    /// Every word decodes to a value that encodes back to the same value:
    /// covers all exponents including the extremes -64 and +63 and the
    /// most negative coefficient.
    #[test]
    fn every_word_is_a_fixed_point(word in any::<u32>()) {
        let v = float::decode(word);
        prop_assert!(v.is_finite());
        prop_assert_eq!(float::decode(float::encode(v)), v);
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = Reply::decode(&bytes);
        let _ = Request::decode(&bytes);
        let _ = Request::Tracking.parse_reply(0, &bytes);
    }

    /// A well-formed header with any reply type and random body bytes of the
    /// right length: decoding either fails cleanly or round-trips.
    #[test]
    fn decode_encode_decode_is_stable(
        reply_type in prop::sample::select(vec![1u16, 2, 3, 5, 6, 12, 14, 16, 19, 22, 24, 25, 26]),
        seq in any::<u32>(),
        body in proptest::collection::vec(any::<u8>(), 300),
    ) {
        let rt = ReplyType::from_wire(reply_type).expect("listed type");
        let mut packet = vec![6u8, 2, 0, 0, 0, 33];
        packet.extend_from_slice(&reply_type.to_be_bytes());
        packet.extend_from_slice(&[0u8; 8]);
        packet.extend_from_slice(&seq.to_be_bytes());
        packet.extend_from_slice(&[0u8; 8]);
        packet.extend_from_slice(&body[..rt.data_len()]);
        if let Ok(first) = Reply::decode(&packet) {
            let again = Reply::decode(&first.encode()).expect("re-encoded reply decodes");
            prop_assert_eq!(first, again);
        }
    }
}

#[test]
fn special_exponents_decode_as_documented() {
    // exponent field 0x40 is -64, 0x3f is +63; coefficient 0x1000000 is -2^24.
    assert_eq!(float::decode(0x40 << 25 | 1), 2f64.powi(-89));
    assert_eq!(
        float::decode(0x3f << 25 | 0x0ff_ffff),
        (2f64.powi(24) - 1.0) * 2f64.powi(38)
    );
    assert_eq!(float::decode(0x3f << 25 | 0x100_0000), -(2f64.powi(62)));
    assert_eq!(float::decode(0x7f << 25 | 0x1ff_ffff), -(2f64.powi(-26)));
}
