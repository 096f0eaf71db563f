//! Any bytes as what a control client sends.
//!
//! Properties: framing and parsing never panic; a frame is found exactly
//! when a newline is there, and an unframed request is refused once it
//! reaches the size limit; a request that parses gives as many names as it
//! counts, each a valid name and a word of the line, and parsing the line
//! again gives the same request.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tend::limits::{MAX_SERVICES, REQUEST_MAX_BYTES};
use tend::proto::{self, Request};

fn same(a: &Request<'_>, b: &Request<'_>) -> bool {
    a.verb == b.verb
        && a.json == b.json
        && a.follow == b.follow
        && a.utc == b.utc
        && a.lines == b.lines
        && a.signal == b.signal
        && a.names().eq(b.names())
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
    let Ok(req) = proto::parse(line) else {
        return;
    };
    let names: Vec<&[u8]> = req.names().collect();
    assert_eq!(names.len(), usize::from(req.count), "{line:?}");
    assert!(usize::from(req.count) <= MAX_SERVICES);
    let mut words = line.split(|&b| b == b' ').skip(1);
    for name in &names {
        assert!(proto::valid_name(name) && name[0] != b'-', "{line:?}");
        assert!(words.any(|w| w == *name), "{line:?}");
    }
    let Ok(again) = proto::parse(line) else {
        panic!("a request parses once only: {line:?}");
    };
    assert!(same(&req, &again), "{line:?}");
});
