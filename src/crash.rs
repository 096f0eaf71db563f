//! A service's last-crash record: how it died, when, and its last lines,
//! frozen at that moment so that restarts do not overwrite them.
//!
//! The record itself is small and sits in the service's slot; the lines go
//! to [`CRASH_TAIL_BYTES`] of storage the caller hands in (tend carves it
//! from the arena, beside the rings), which is written, and so costs
//! memory, only once the service has crashed.

use crate::limits::{CRASH_TAIL_BYTES, LINE_MAX_BYTES};
use crate::ring::Ring;
use crate::say::Buf;
use crate::service::Exit;

pub struct Crash<'a> {
    /// False until it first crashes.
    pub recorded: bool,
    pub exit: Exit,
    pub at_ms: u64,
    /// This record is kept on disk (tend(8), KEPT EVIDENCE), and when the
    /// last one was (0: never).
    pub kept: bool,
    pub kept_at: u64,
    /// Where the lines are frozen; empty for a service without a ring.
    store: &'a mut [u8],
    /// Bytes of `store` the lines take.
    len: usize,
}

impl<'a> Crash<'a> {
    /// No crash yet, and no room for lines.
    pub const fn new() -> Crash<'a> {
        Crash {
            recorded: false,
            exit: Exit::Code(0),
            at_ms: 0,
            kept: false,
            kept_at: 0,
            store: &mut [],
            len: 0,
        }
    }

    /// No crash yet; its lines will be frozen in `store`, as many of the
    /// last ones as fit whole.
    pub fn with_store(store: &'a mut [u8]) -> Crash<'a> {
        Crash {
            store,
            ..Crash::new()
        }
    }

    /// Whether it has storage for its lines.
    pub fn has_store(&self) -> bool {
        !self.store.is_empty()
    }

    /// Gives up its storage (`tend reload`: the service went), and its
    /// lines with it.
    pub fn take_store(&mut self) -> Option<&'a mut [u8]> {
        self.len = 0;
        Some(core::mem::take(&mut self.store)).filter(|s| !s.is_empty())
    }

    /// Takes `store` as its storage (`tend reload`: the service is new).
    pub fn adopt(&mut self, store: &'a mut [u8]) {
        self.store = store;
    }

    /// The last lines of the run that crashed, stamped, newline-ended.
    pub fn text(&self) -> &[u8] {
        self.store.get(..self.len).unwrap_or(&[])
    }

    /// Freezes the lines the run that started at `started_ms` left in `ring`.
    #[inline(never)]
    pub fn record(&mut self, exit: Exit, now: u64, started_ms: u64, ring: &Ring<'_>) {
        self.recorded = true;
        self.kept = false;
        self.exit = exit;
        self.at_ms = now;
        // Rendered whole lines at a time, as many of the last as fit the
        // store, then frozen. (Room for a line more than a store holds: a
        // store is never larger than the tail.)
        let mut out = Buf::<{ CRASH_TAIL_BYTES + LINE_MAX_BYTES + 48 }>::new();
        ring.render_tail(started_ms, &mut out, self.store.len());
        self.len = crate::say::copy(self.store, out.as_bytes());
    }
}

impl Default for Crash<'_> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaked(bytes: usize) -> &'static mut [u8] {
        Box::leak(vec![0u8; bytes].into_boxed_slice())
    }

    #[test]
    fn the_lines_of_the_run_are_frozen_in_the_store() {
        let mut ring = Ring::new(leaked(4096));
        ring.push(100, b"an earlier run\n");
        ring.push(2000, b"its last words\n");
        let mut crash = Crash::with_store(leaked(crate::limits::CRASH_TAIL_BYTES));
        assert!(!crash.recorded && crash.text().is_empty());
        crash.record(Exit::Signal(11), 2500, 1000, &ring);
        assert_eq!(
            (crash.recorded, crash.exit, crash.at_ms),
            (true, Exit::Signal(11), 2500)
        );
        assert_eq!(crash.text(), b"[     2.000] its last words\n");
        // The next crash replaces them.
        ring.push(3000, b"again\n");
        crash.record(Exit::Code(2), 3500, 2600, &ring);
        assert_eq!(crash.text(), b"[     3.000] again\n");
        // Without a store (a service without a ring): no lines.
        let mut bare = Crash::new();
        bare.record(Exit::Code(1), 2500, 1000, &ring);
        assert!(bare.recorded && bare.text().is_empty());
    }

    #[test]
    fn the_most_recent_lines_that_fit_whole_are_kept() {
        let mut ring = Ring::new(leaked(16384));
        let mut rendered = Vec::new();
        for i in 0..200u64 {
            // Lines of every length up to the longest a ring keeps.
            let text = vec![b'a' + (i % 26) as u8; (i as usize * 37) % 1030];
            ring.push(1000 + i, &text);
            ring.push(1000 + i, b"\n");
            // A line longer than the limit is cut in records of 1024 bytes.
            let stamp = format!("[{:>6}.{:03}] ", (1000 + i) / 1000, (1000 + i) % 1000);
            let mut pieces: Vec<&[u8]> = text.chunks(1024).collect();
            if text.len().is_multiple_of(1024) {
                pieces.push(b"");
            }
            for piece in pieces {
                rendered.push(format!("{stamp}{}\n", std::str::from_utf8(piece).unwrap()));
            }
            let mut crash = Crash::with_store(leaked(crate::limits::CRASH_TAIL_BYTES));
            crash.record(Exit::Code(1), 5000, 0, &ring);
            // The longest tail of whole lines that fits.
            let mut want = String::new();
            for l in rendered.iter().rev() {
                if want.len() + l.len() > crate::limits::CRASH_TAIL_BYTES {
                    break;
                }
                want.insert_str(0, l);
            }
            let got = std::str::from_utf8(crash.text()).unwrap();
            assert_eq!(got, want, "after line {i}");
        }
    }
}
