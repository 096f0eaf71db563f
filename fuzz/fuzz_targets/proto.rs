//! Any bytes as what a control client sends.
//!
//! Properties: framing and decoding never panic; a frame is found exactly
//! when a newline is there, and an unframed request is refused once it
//! reaches the size limit; a decoded request encodes back to one line that
//! decodes to the same request (and encodes to the same bytes again).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tend::limits::REQUEST_MAX_BYTES;
use tend::proto::{self, Request};
use tend::say::Buf;

fn same(a: &Request<'_>, b: &Request<'_>) -> bool {
    a.verb == b.verb
        && a.json == b.json
        && a.follow == b.follow
        && a.utc == b.utc
        && a.lines == b.lines
        && a.signal == b.signal
        && a.names == b.names
}

fuzz_target!(|data: &[u8]| {
    match proto::frame(data) {
        Ok(Some(n)) => assert_eq!(data.iter().position(|&b| b == b'\n'), Some(n)),
        Ok(None) => assert!(!data.contains(&b'\n') && data.len() < REQUEST_MAX_BYTES),
        Err(_) => assert!(!data.contains(&b'\n') && data.len() >= REQUEST_MAX_BYTES),
    }
    let line = match data.iter().position(|&b| b == b'\n') {
        Some(n) => &data[..n],
        None => data,
    };
    let Ok(req) = proto::decode(line) else {
        return;
    };
    let mut out = Buf::<REQUEST_MAX_BYTES>::new();
    proto::encode(&req, &mut out);
    assert!(!out.overflowed());
    let bytes = out.as_bytes();
    assert_eq!(bytes.last(), Some(&b'\n'));
    assert!(matches!(proto::frame(bytes), Ok(Some(n)) if n == bytes.len() - 1));
    let Ok(back) = proto::decode(&bytes[..bytes.len() - 1]) else {
        panic!("an encoded request does not decode: {bytes:?}");
    };
    assert!(same(&req, &back), "round trip of {line:?}");
    let mut again = Buf::<REQUEST_MAX_BYTES>::new();
    proto::encode(&back, &mut again);
    assert_eq!(again.as_bytes(), bytes);
});
