//! All of tend's run-time storage in one place, sized at build time and
//! living in one static (see main.rs): the table, the supervisor's records,
//! the rings, the crash records, the descriptors and the control clients.

use crate::crash::Crash;
use crate::ctl::Client;
use crate::limits::*;
use crate::ring::Ring;
use crate::say::Buf;
use crate::supervisor::Supervisor;
use crate::sys::Fd;
use crate::table::Table;

/// A service's log pipe: tend keeps both ends for the service's whole life,
/// so output survives restarts and the read end never reports hang-up.
pub struct LogPipe {
    pub read: Fd,
    pub write: Fd,
}

pub struct World {
    pub table: Table,
    pub sup: Supervisor,
    pub rings: [Ring<'static>; MAX_SERVICES],
    pub crashes: [Crash; MAX_SERVICES],
    /// tend's own messages (`tend log tend`).
    pub own: Ring<'static>,
    pub pipes: [Option<LogPipe>; MAX_SERVICES],
    /// Read ends of readiness pipes, while a `ready = fd:N` service starts.
    pub ready: [Option<Fd>; MAX_SERVICES],
    pub clients: [Client; MAX_CLIENTS],
    /// The table file, /etc/passwd and /etc/group while the table loads.
    pub conf_text: Buf<TABLE_MAX_BYTES>,
    pub passwd_text: Buf<ACCOUNTS_MAX_BYTES>,
    pub group_text: Buf<ACCOUNTS_MAX_BYTES>,
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
            ready: [const { None }; MAX_SERVICES],
            clients: [const { Client::new() }; MAX_CLIENTS],
            conf_text: Buf::new(),
            passwd_text: Buf::new(),
            group_text: Buf::new(),
        }
    }
}

impl Default for World {
    fn default() -> Self {
        Self::new()
    }
}
