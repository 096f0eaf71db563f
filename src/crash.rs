//! A service's last-crash record: how it died, when, and its last lines,
//! frozen at that moment so that restarts do not overwrite them.

use crate::limits::CRASH_TAIL_BYTES;
use crate::ring::Ring;
use crate::say::Buf;
use crate::service::Exit;

pub struct Crash {
    /// False until it first crashes. (Not an `Option<Exit>`: its `None`
    /// would not be all-zero, and the static world must be.)
    pub recorded: bool,
    pub exit: Exit,
    pub at_ms: u64,
    /// The last lines of the run that crashed, stamped, newline-ended.
    pub text: Buf<CRASH_TAIL_BYTES>,
}

impl Crash {
    pub const fn new() -> Crash {
        Crash {
            recorded: false,
            exit: Exit::Code(0),
            at_ms: 0,
            text: Buf::new(),
        }
    }

    /// Freezes the lines the run that started at `started_ms` left in `ring`.
    pub fn record(&mut self, exit: Exit, now: u64, started_ms: u64, ring: &Ring<'_>) {
        self.recorded = true;
        self.exit = exit;
        self.at_ms = now;
        self.text.clear();
        ring.render_tail(ring.since(started_ms), &mut self.text);
    }
}

impl Default for Crash {
    fn default() -> Self {
        Self::new()
    }
}
