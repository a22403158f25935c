//! chrony's 32-bit floating point format.
//!
//! A value is sent as one big-endian 32-bit word: the top 7 bits are a signed
//! exponent, the low 25 bits a signed coefficient (two's complement, no hidden
//! bit), and the value is `coef * 2^(exp - 25)`. That gives about 24 bits of
//! precision (a relative error of at most 2^-24 after rounding) over a range
//! of roughly 2^-89 to 2^62.

const EXP_BITS: u32 = 7;
const COEF_BITS: u32 = 25;
const EXP_MIN: i32 = -(1 << (EXP_BITS - 1));
const EXP_MAX: i32 = (1 << (EXP_BITS - 1)) - 1;
const COEF_MIN: i64 = -(1 << (COEF_BITS - 1));
const COEF_MAX: i64 = (1 << (COEF_BITS - 1)) - 1;

/// Decodes one word of chrony's float format.
pub fn decode(word: u32) -> f64 {
    let mut exp = (word >> COEF_BITS) as i32;
    if exp >= 1 << (EXP_BITS - 1) {
        exp -= 1 << EXP_BITS;
    }
    let mut coef = i64::from(word & ((1 << COEF_BITS) - 1));
    if coef >= 1 << (COEF_BITS - 1) {
        coef -= 1 << COEF_BITS;
    }
    coef as f64 * 2f64.powi(exp - COEF_BITS as i32)
}

/// Encodes a value into chrony's float format with the finest exponent that
/// holds it, rounding to nearest. Values beyond the range saturate, values
/// below the smallest step round to zero and NaN is sent as zero (chronyd
/// never reports NaN; a zero is the least surprising stand-in).
pub fn encode(value: f64) -> u32 {
    if value.is_nan() || value == 0.0 {
        return 0;
    }
    if value.is_infinite() {
        return saturated(value);
    }
    // Start a little below the exponent that the magnitude needs and take
    // the first one whose rounded coefficient fits: the smallest exponent
    // gives the most precision, and rounding can carry into the next one.
    let start = (value.abs().log2().floor() as i32 + 2 - 1).clamp(EXP_MIN, EXP_MAX);
    for exp in start..=EXP_MAX {
        let coef = (value * 2f64.powi(COEF_BITS as i32 - exp)).round();
        if (COEF_MIN as f64..=COEF_MAX as f64).contains(&coef) {
            return pack(exp, coef as i64);
        }
    }
    saturated(value)
}

fn saturated(value: f64) -> u32 {
    if value > 0.0 {
        pack(EXP_MAX, COEF_MAX)
    } else {
        pack(EXP_MAX, COEF_MIN)
    }
}

fn pack(exp: i32, coef: i64) -> u32 {
    ((exp as u32 & ((1 << EXP_BITS) - 1)) << COEF_BITS) | (coef as u32 & ((1 << COEF_BITS) - 1))
}

/// The largest magnitude the format can carry.
pub fn max_value() -> f64 {
    decode(pack(EXP_MAX, COEF_MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_words() {
        assert_eq!(decode(0), 0.0);
        // exp = 1, coef = 2^24 - 1: just under 2^0 * ... check by formula
        assert_eq!(decode(pack(0, 1 << 24 >> 1)), 0.25);
        assert_eq!(decode(pack(-1, -(1 << 23))), -0.125);
        assert_eq!(decode(pack(EXP_MIN, 1)), 2f64.powi(-89));
        assert_eq!(decode(pack(EXP_MAX, COEF_MIN)), -(2f64.powi(62)));
        assert_eq!(encode(1.0), pack(2, 1 << 23));
        assert_eq!(encode(-1.0), pack(1, -(1 << 24)));
    }

    #[test]
    fn special_values() {
        assert_eq!(encode(f64::NAN), 0);
        assert_eq!(decode(encode(f64::INFINITY)), max_value());
        assert_eq!(decode(encode(f64::NEG_INFINITY)), -(2f64.powi(62)));
        assert_eq!(decode(encode(1e300)), max_value());
        assert_eq!(decode(encode(1e-300)), 0.0);
        assert_eq!(decode(encode(-0.0)), 0.0);
    }
}
