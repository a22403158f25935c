//! ptp4l management responses: decoding never panics, and a decoded
//! response (or GET) re-encodes to bytes that decode to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ptpmgmt::{GetRequest, Response};

fuzz_target!(|data: &[u8]| {
    if let Ok(response) = Response::decode(data) {
        let again = Response::decode(&response.encode()).expect("an encoded response decodes");
        assert_eq!(again, response, "decode -> encode -> decode changed the response");
    }
    if let Ok(request) = GetRequest::decode(data) {
        let again = GetRequest::decode(&request.encode()).expect("an encoded GET decodes");
        assert_eq!(again, request, "decode -> encode -> decode changed the GET");
    }
});
