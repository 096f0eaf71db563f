//! The log ring against a model: a queue of whole records with the same
//! capacity rule, written plainly.
//!
//! The input is a ring size and a sequence of operations: push a chunk of
//! bytes (newlines anywhere, lines longer than the line limit), close the
//! open line (its writer died), advance the clock. After every operation the
//! ring's counters equal the model's, `written == kept + dropped`, and reading
//! the ring from its oldest record gives exactly the model's records, stamps
//! included (checked every eighth operation and at the end); `last_lines` and
//! `render_tail` from a stamp agree with the model too.
#![no_main]

use std::collections::VecDeque;

use libfuzzer_sys::fuzz_target;
use tend::limits::LINE_MAX_BYTES;
use tend::ring::{Ring, RECORD_HEADER_BYTES};

const HEADER: usize = RECORD_HEADER_BYTES;
const STAMP_MASK: u64 = (1 << 48) - 1;

/// What the ring should hold.
struct Model {
    cap: usize,
    limit: usize,
    records: VecDeque<(u64, Vec<u8>)>,
    open: Option<(u64, Vec<u8>)>,
    /// Bytes the records take, headers included (the open one too).
    used: usize,
    written: u64,
    dropped: u64,
}

impl Model {
    fn new(cap: usize) -> Model {
        let (cap, limit) = if cap >= 256 {
            (cap, LINE_MAX_BYTES.min(cap / 2 - HEADER))
        } else {
            (0, 0)
        };
        Model {
            cap,
            limit,
            records: VecDeque::new(),
            open: None,
            used: 0,
            written: 0,
            dropped: 0,
        }
    }

    fn push(&mut self, now: u64, mut data: &[u8]) {
        self.written += data.len() as u64;
        if self.cap == 0 {
            self.dropped += data.len() as u64;
            return;
        }
        while !data.is_empty() {
            let open_len = self.open.as_ref().map_or(0, |(_, c)| c.len());
            let room = self.limit - open_len;
            let window = &data[..room.min(data.len())];
            let (take, close) = match window.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (window.len(), window.len() >= room),
            };
            let need = take + if self.open.is_some() { 0 } else { HEADER };
            while !self.records.is_empty() && self.used + need > self.cap {
                let (_, c) = self.records.pop_front().unwrap();
                self.dropped += c.len() as u64;
                self.used -= HEADER + c.len();
            }
            self.used += need;
            let open = self.open.get_or_insert((now & STAMP_MASK, Vec::new()));
            open.1.extend_from_slice(&data[..take]);
            if close {
                self.close();
            }
            data = &data[take..];
        }
    }

    fn close(&mut self) {
        if let Some(r) = self.open.take() {
            self.records.push_back(r);
        }
    }

    fn kept(&self) -> u64 {
        let done: usize = self.records.iter().map(|(_, c)| c.len()).sum();
        (done + self.open.as_ref().map_or(0, |(_, c)| c.len())) as u64
    }
}

/// The counters, after every operation.
fn check_counts(ring: &Ring<'_>, model: &Model) {
    assert_eq!(ring.capacity(), model.cap);
    assert_eq!(ring.written(), model.written);
    assert_eq!(ring.dropped(), model.dropped);
    assert_eq!(ring.kept(), model.kept());
    assert_eq!(ring.written(), ring.kept() + ring.dropped());
    assert_eq!(ring.lines(), model.records.len());
}

/// The records themselves (every few operations, and at the end).
fn check(ring: &Ring<'_>, model: &Model) {
    check_counts(ring, model);
    let mut pos = ring.oldest();
    let mut got = Vec::new();
    while let Some(line) = ring.read(&mut pos) {
        got.push((line.stamp_ms, [line.head, line.tail].concat()));
    }
    assert_eq!(pos, ring.end());
    let want: Vec<_> = model.records.iter().cloned().collect();
    assert_eq!(got, want);
    // The last n lines, and the lines since a stamp.
    for n in [0, 1, 3] {
        let mut pos = ring.last_lines(n);
        let mut count = 0;
        while ring.read(&mut pos).is_some() {
            count += 1;
        }
        assert_eq!(count, n.min(want.len()));
    }
    // (`render_tail` shows the lines from the first stamped at or after
    // the stamp on: a ring of under 5000 bytes renders in far less than
    // the buffer.)
    if let Some((stamp, _)) = want.get(want.len() / 2) {
        let mut out = Box::new(tend::say::Buf::<{ 1 << 16 }>::new());
        let shown = ring.render_tail(*stamp, &mut out, 1 << 15);
        let from = want.iter().position(|(s, _)| s >= stamp).unwrap_or(want.len());
        assert_eq!(shown, want.len() - from);
    }
}

fuzz_target!(|data: &[u8]| {
    let [a, b, ops @ ..] = data else {
        return;
    };
    // Sizes around the interesting edges: under the minimum, small rings
    // whose line limit is under LINE_MAX_BYTES, and large ones.
    let cap = usize::from(u16::from_le_bytes([*a, *b]) % 5000);
    let mut store = vec![0u8; cap];
    let mut ring = Ring::new(&mut store);
    let mut model = Model::new(cap);
    let mut now = 1_000u64;
    let mut rest = ops;
    let mut n = 0u32;
    while let [op, tail @ ..] = rest {
        n += 1;
        rest = tail;
        match op {
            // Push the next n bytes of the input (n up to 2.5 KiB).
            0..=199 => {
                let n = (usize::from(*op) * 13) % rest.len().max(1);
                let n = n.min(rest.len());
                let (chunk, tail) = rest.split_at(n);
                ring.push(now, chunk);
                model.push(now, chunk);
                rest = tail;
            }
            // A run of one byte: long lines and floods of empty lines.
            200..=229 => {
                let byte = if op % 2 == 0 { b'\n' } else { b'x' };
                let chunk = vec![byte; usize::from(op - 199) * 41];
                ring.push(now, &chunk);
                model.push(now, &chunk);
            }
            230..=239 => {
                ring.end_line();
                model.close();
            }
            240..=254 => now += u64::from(op - 239) * 7,
            255 => now = now.wrapping_add(1 << 47),
        }
        if n % 8 == 0 {
            check(&ring, &model);
        } else {
            check_counts(&ring, &model);
        }
    }
    check(&ring, &model);
});
