//! `--chrony.address` parsing never panics, and what it accepts prints back
//! to a string that parses to the same address.
#![no_main]

use std::str::FromStr;

use clockwatch::chrony::ChronyAddress;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(addr) = ChronyAddress::from_str(text) {
            let shown = addr.to_string();
            let again = ChronyAddress::from_str(&shown).expect("a displayed address parses");
            assert_eq!(again, addr, "{text:?} -> {shown:?} changed the address");
        }
    }
});
