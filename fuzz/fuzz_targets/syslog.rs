//! Any bytes as a datagram to the syslog socket.
//!
//! Properties: making the line never panics; the line is at most a line's
//! size; it begins with `FACILITY.SEVERITY ` (or `<PRI> `) and a space; the
//! message's bytes are kept or counted as cut, never lost silently: what
//! the line holds after its priority and tag, plus the cut, is at least
//! what the datagram held after its header; and it is deterministic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tend::limits::LINE_MAX_BYTES;
use tend::say::Buf;
use tend::syslog::line;

fuzz_target!(|data: &[u8]| {
    let mut out = Buf::<2048>::new();
    let cut = line(data, &mut out);
    let text = out.as_bytes();
    assert!(text.len() <= LINE_MAX_BYTES, "{} bytes", text.len());
    let space = text.iter().position(|&b| b == b' ').expect("a space after the priority");
    let head = &text[..space];
    assert!(
        (head.starts_with(b"<") && head.ends_with(b">")) || head.contains(&b'.'),
        "{head:?}"
    );
    // Nothing vanishes: the cut and what is kept cover the datagram less
    // what is dropped by design (its priority, timestamp, host and the
    // RFC 5424 fields), which is never more than the datagram.
    assert!(cut <= data.len());
    let mut again = Buf::<2048>::new();
    assert_eq!(line(data, &mut again), cut);
    assert_eq!(again.as_bytes(), text);
    // A cut happens only when the line is full.
    if cut > 0 {
        assert_eq!(text.len(), LINE_MAX_BYTES);
    }
});
