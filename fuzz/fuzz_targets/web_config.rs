//! The web configuration parser never panics, whatever the YAML.
#![no_main]

use std::path::Path;

use clockwatch::http::webconfig::WebConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = WebConfig::parse(text, Path::new("/etc/clockwatch"));
    }
});
