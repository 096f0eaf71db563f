//! One service's record: everything tend keeps about a service, in one
//! place, as nitro keeps its static service table — its resolved conf, the
//! state its machine is in, its log ring (the header: the bytes are in the
//! arena), its last crash, its log pipe and the pace it is read at, and
//! the pipes of a start under way. The table ([`crate::table::Table`]) is
//! a fixed-capacity list of them beside the one string pool they share.
//!
//! A slot is generic over the descriptor type `F`, so that this module and
//! everything that reads slots (the supervisor, the replies) stay free of
//! system calls: the world holds `Slot<sys::Fd>`, the unit tests
//! `Slot<()>`.

use crate::conf::ServiceConf;
use crate::crash::Crash;
use crate::limits::{LOG_BATCH_MS, PIPE_READ_BUDGET_BYTES};
use crate::ring::Ring;
use crate::service::Service;

pub struct Slot<F> {
    pub conf: ServiceConf,
    pub svc: Service,
    /// Its output, as `tend log` shows it.
    pub ring: Ring<'static>,
    /// Its last crash (the record: its lines are in the arena).
    pub crash: Crash<'static>,
    /// None for `console = yes` (its output goes to tend's own stdout and
    /// stderr), or when it could not be made.
    pub log: Option<LogPipe<F>>,
    pub pace: LogPace,
    /// The read end of its readiness pipe, while a `ready = fd:N` service
    /// starts.
    pub ready: Option<F>,
    /// The read end of the close-on-exec pipe of its child whose exec is
    /// not confirmed yet (see `spawn`).
    pub exec: Option<F>,
    /// Since when a `critical` service is out of its good state (see
    /// `watchdog`).
    pub unwell_since: Option<u64>,
    /// Removed from the table by `tend reload` while it ran: stopped in
    /// reverse dependency order, never restarted, forgotten once its
    /// process is gone (see `reload`).
    pub leaving: bool,
    /// With `listen`: its socket, bound at its first start and kept until
    /// it is not to run again (stopped, failed, held, done).
    #[cfg(feature = "listen")]
    pub socket: Option<F>,
    /// With `accept = yes`: its instances running, and the connections
    /// it was handed.
    #[cfg(feature = "listen")]
    pub instances: u8,
    #[cfg(feature = "listen")]
    pub served: u32,
    /// With `accept = yes`: until when its socket rests after accept(2)
    /// failed for want of descriptors or memory (0: it does not), so that
    /// a connection waiting in the backlog does not make the loop spin.
    #[cfg(feature = "listen")]
    pub rest_until: u64,
}

impl<F> Slot<F> {
    /// The slot of a service just read from the table: never run, with no
    /// ring or pipe yet.
    pub fn new(conf: ServiceConf) -> Slot<F> {
        Slot {
            conf,
            svc: Service::new(),
            ring: Ring::empty(),
            crash: Crash::new(),
            log: None,
            pace: LogPace::new(),
            ready: None,
            exec: None,
            unwell_since: None,
            leaving: false,
            #[cfg(feature = "listen")]
            socket: None,
            #[cfg(feature = "listen")]
            instances: 0,
            #[cfg(feature = "listen")]
            served: 0,
            #[cfg(feature = "listen")]
            rest_until: 0,
        }
    }
}

/// A service's log pipe: tend keeps both ends for the service's whole life,
/// so output survives restarts and the read end never reports hang-up.
pub struct LogPipe<F> {
    pub read: F,
    pub write: F,
    /// Bytes read from it per round once it was grown (or tried to be) for
    /// a flood: the size it has then. 0 until then: it is read up to
    /// [`PIPE_READ_BUDGET_BYTES`] a round.
    pub flood_budget: u32,
}

impl<F> LogPipe<F> {
    pub fn new(read: F, write: F) -> LogPipe<F> {
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
            n => n as usize,
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
///
/// [`LOG_FLOOD_PIPE_BYTES`]: crate::limits::LOG_FLOOD_PIPE_BYTES
#[derive(Clone, Copy, Default)]
pub struct LogPace {
    /// `LOG_BATCH_MS` after the last read (0 before the first): readable
    /// again before then, the pipe rests until then.
    until: u64,
    /// Readable again too soon after the last read: out of the poll set
    /// until `until`.
    resting: bool,
}

impl LogPace {
    pub const fn new() -> LogPace {
        LogPace {
            until: 0,
            resting: false,
        }
    }

    /// The pipe is readable at `now`: whether to read it now (and remember
    /// when), or let it rest while a batch gathers.
    pub fn read_now(&mut self, now: u64) -> bool {
        self.resting = now < self.until;
        if !self.resting {
            self.until = now.saturating_add(LOG_BATCH_MS);
        }
        !self.resting
    }

    /// Until when the pipe stays out of the poll set, if it rests at `now`.
    pub fn resting(&self, now: u64) -> Option<u64> {
        (self.resting && now < self.until).then_some(self.until)
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
