//! All of tend's run-time storage in one place, sized at build time and
//! living in one static (see main.rs): the table, the supervisor's records,
//! the rings, the crash records, the descriptors and the control clients.

use crate::crash::Crash;
use crate::ctl::Client;
use crate::limits::*;
use crate::ring::Ring;
use crate::supervisor::Supervisor;
use crate::sys::Fd;
use crate::table::Table;

/// A service's log pipe: tend keeps both ends for the service's whole life,
/// so output survives restarts and the read end never reports hang-up.
pub struct LogPipe {
    pub read: Fd,
    pub write: Fd,
    /// Bytes read from it per round once it was grown (or tried to be) for
    /// a flood: the size it has then. 0 until then: it is read up to
    /// [`PIPE_READ_BUDGET_BYTES`] a round. (No `bool` here: its niche would
    /// make `None` non-zero, and move all of `World` from .bss into the
    /// binary.)
    pub flood_budget: usize,
}

impl LogPipe {
    pub fn new(read: Fd, write: Fd) -> LogPipe {
        LogPipe {
            read,
            write,
            flood_budget: 0,
        }
    }

    /// Bytes to read from it in one round.
    pub fn budget(&self) -> usize {
        match self.flood_budget {
            0 => PIPE_READ_BUDGET_BYTES,
            n => n,
        }
    }
}

/// The pace at which a log pipe is read. A pipe that turns readable again
/// within [`LOG_BATCH_MS`] of its last read rests, out of the poll set, until
/// that much time has passed: a flood is then read in batches of up to a
/// pipe's worth instead of with one wakeup per line, while a service that
/// logs now and then is read at once and costs no extra wakeup. The first
/// rest also grows the pipe to [`LOG_FLOOD_PIPE_BYTES`] (see the event
/// loop), so the writer keeps writing while the batch gathers.
#[derive(Clone, Copy, Default)]
pub struct LogPace {
    read_at: Option<u64>,
    /// Readable again too soon after `read_at`: out of the poll set until
    /// `read_at + LOG_BATCH_MS`.
    resting: bool,
}

impl LogPace {
    pub const fn new() -> LogPace {
        LogPace {
            read_at: None,
            resting: false,
        }
    }

    /// The pipe is readable at `now`: whether to read it now (and remember
    /// when), or let it rest while a batch gathers.
    pub fn read_now(&mut self, now: u64) -> bool {
        self.resting = self
            .read_at
            .is_some_and(|at| now < at.saturating_add(LOG_BATCH_MS));
        if !self.resting {
            self.read_at = Some(now);
        }
        !self.resting
    }

    /// Until when the pipe stays out of the poll set, if it rests at `now`.
    pub fn resting(&self, now: u64) -> Option<u64> {
        let until = self.read_at?.saturating_add(LOG_BATCH_MS);
        (self.resting && now < until).then_some(until)
    }
}

/// Bytes of [`Scratch`]: the table file and the two account files.
pub const SCRATCH_BYTES: usize = TABLE_MAX_BYTES + 2 * ACCOUNTS_MAX_BYTES;

/// Memory needed only while the table loads, used through [`Scratch::pages`]
/// alone on whole pages, so that all of it can be given back afterwards
/// without a neighbour's page, or the length of a buffer, staying behind.
/// (It is not aligned by type: the linker would pad the binary to align the
/// whole .bss.)
pub struct Scratch([u8; SCRATCH_BYTES + SCRATCH_PAGE]);

const SCRATCH_PAGE: usize = 4096;

impl Default for Scratch {
    fn default() -> Self {
        Self::new()
    }
}

impl Scratch {
    pub const fn new() -> Scratch {
        Scratch([0; SCRATCH_BYTES + SCRATCH_PAGE])
    }

    /// The [`SCRATCH_BYTES`] of it that start on a page boundary.
    pub fn pages(&mut self) -> &mut [u8] {
        let skip = self.0.as_ptr().align_offset(SCRATCH_PAGE).min(SCRATCH_PAGE);
        self.0
            .get_mut(skip..skip + SCRATCH_BYTES)
            .unwrap_or(&mut [])
    }
}

pub struct World {
    pub table: Table,
    pub sup: Supervisor,
    pub rings: [Ring<'static>; MAX_SERVICES],
    pub crashes: [Crash; MAX_SERVICES],
    /// tend's own messages (`tend log tend`).
    pub own: Ring<'static>,
    pub pipes: [Option<LogPipe>; MAX_SERVICES],
    pub paces: [LogPace; MAX_SERVICES],
    /// Read ends of readiness pipes, while a `ready = fd:N` service starts.
    pub ready: [Option<Fd>; MAX_SERVICES],
    /// Read ends of the close-on-exec pipes of children whose exec is not
    /// confirmed yet (see `spawn`).
    pub execs: [Option<Fd>; MAX_SERVICES],
    pub clients: [Client; MAX_CLIENTS],
    /// The table file, /etc/passwd and /etc/group while the table loads;
    /// /proc/mounts at PID 1's end.
    pub scratch: Scratch,
}

impl World {
    pub const fn new() -> World {
        World {
            table: Table::new(),
            sup: Supervisor::new(),
            rings: [const { Ring::empty() }; MAX_SERVICES],
            crashes: [const { Crash::new() }; MAX_SERVICES],
            own: Ring::empty(),
            pipes: [const { None }; MAX_SERVICES],
            paces: [const { LogPace::new() }; MAX_SERVICES],
            ready: [const { None }; MAX_SERVICES],
            execs: [const { None }; MAX_SERVICES],
            clients: [const { Client::new() }; MAX_CLIENTS],
            scratch: Scratch::new(),
        }
    }
}

impl Default for World {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quiet_pipe_is_read_at_once_and_a_busy_one_rests() {
        let mut pace = LogPace::new();
        assert!(pace.read_now(1000), "first data: read at once");
        assert_eq!(pace.resting(1000), None);
        // Readable again within the batch time: it rests until then.
        assert!(!pace.read_now(1000 + LOG_BATCH_MS - 1));
        assert_eq!(pace.resting(1000), Some(1000 + LOG_BATCH_MS));
        assert_eq!(pace.resting(1000 + LOG_BATCH_MS), None, "rest is over");
        assert!(pace.read_now(1000 + LOG_BATCH_MS));
        // A line long after the last read is read at once, no rest.
        assert!(pace.read_now(5000));
        assert_eq!(pace.resting(5000), None);
    }
}
