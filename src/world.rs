//! All of tend's run-time storage in one place, sized at build time and
//! living in one static (see main.rs): the table (a slot per service, see
//! [`crate::slot`], and their strings), whether tend shuts down, tend's own
//! ring, the control clients, the scratch the table is read into and the
//! buffer flooding log pipes are read into.

use crate::ctl::Client;
use crate::limits::*;
use crate::ring::Ring;
use crate::supervisor::Supervisor;
use crate::sys::Fd;
use crate::table::Table;

/// One service's record, as the world holds it.
pub type Slot = crate::slot::Slot<Fd>;

/// Bytes of [`Scratch`]: the table file and the two account files.
pub const SCRATCH_BYTES: usize = TABLE_MAX_BYTES + 2 * ACCOUNTS_MAX_BYTES;

/// Bytes given back whole once used (`sys::release`): used only through
/// [`Pages::pages`], the `N - PAGE` of them that start on a page boundary,
/// so that no neighbour's page, nor the length of a buffer, stays behind.
/// (Not aligned by type: the linker would pad the binary to align the whole
/// .bss.)
pub struct Pages<const N: usize>([u8; N]);

const PAGE: usize = 4096;

impl<const N: usize> Default for Pages<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Pages<N> {
    pub const fn new() -> Pages<N> {
        Pages([0; N])
    }

    /// The `N - PAGE` bytes that start on a page boundary.
    pub fn pages(&mut self) -> &mut [u8] {
        let skip = self.0.as_ptr().align_offset(PAGE).min(PAGE);
        self.0.get_mut(skip..skip + (N - PAGE)).unwrap_or(&mut [])
    }
}

/// Memory needed only while the table loads (the table file and the two
/// account files), and /proc/mounts at PID 1's end.
pub type Scratch = Pages<{ SCRATCH_BYTES + PAGE }>;

/// What a flooding log pipe is read into on its way to the service's ring
/// (`shell::drain`), [`LOG_READ_BYTES`] at a time. Static rather than on
/// the stack, so that its pages can be given back once the flood is over
/// (the event loop does, [`LOG_BUF_KEEP_MS`] after it last read a flood).
pub type LogBuf = Pages<{ LOG_READ_BYTES + PAGE }>;

/// Storage for crash records' lines that services removed by a reload gave
/// back, for those a reload adds.
#[cfg(feature = "reload")]
pub type CrashFree = heapless::Vec<&'static mut [u8], MAX_SERVICES>;

// In this order (`repr(C)`), for the pages a running tend touches: the
// first client shares the page of the binary's few writable bytes, the
// small records lie together just before the table (the supervisor's few
// bytes, left to the compiler, came last and took a page of their own),
// and what is given back once used comes last.
#[repr(C)]
pub struct World {
    pub clients: [Client; MAX_CLIENTS],
    pub sup: Supervisor,
    /// tend's own messages (`tend log tend`).
    pub own: Ring<'static>,
    /// Messages to the syslog socket from outside every service (`tend log
    /// syslog`); keeps nothing without one.
    pub syslog: Ring<'static>,
    /// The part of the arena no ring uses, and of the crash records'
    /// part, kept for the rings and records a reload adds.
    #[cfg(feature = "reload")]
    pub ring_spare: Option<&'static mut [u8]>,
    #[cfg(feature = "reload")]
    pub crash_spare: Option<&'static mut [u8]>,
    pub table: Table<Fd>,
    /// Storage for crash records' lines given back by services a reload
    /// removed, for those it adds. (After the table: only a reload uses it.)
    #[cfg(feature = "reload")]
    pub crash_free: CrashFree,
    /// The instances of `accept = yes` services that run.
    #[cfg(feature = "listen")]
    pub instances: crate::listen::Instances,
    /// What flooding log pipes are read into.
    pub log_buf: LogBuf,
    /// The table file, /etc/passwd and /etc/group while the table loads;
    /// /proc/mounts at PID 1's end.
    pub scratch: Scratch,
    /// The table as `tend reload` reads it again, while it is checked and
    /// applied (see `reload`); empty, its pages given back, otherwise.
    pub next: Table<Fd>,
}

impl World {
    pub const fn new() -> World {
        World {
            clients: [const { Client::new() }; MAX_CLIENTS],
            sup: Supervisor::new(),
            own: Ring::empty(),
            syslog: Ring::empty(),
            #[cfg(feature = "reload")]
            ring_spare: None,
            #[cfg(feature = "reload")]
            crash_spare: None,
            table: Table::new(),
            #[cfg(feature = "reload")]
            crash_free: heapless::Vec::new(),
            #[cfg(feature = "listen")]
            instances: crate::listen::Instances::new(),
            log_buf: LogBuf::new(),
            scratch: Scratch::new(),
            next: Table::new(),
        }
    }
}

impl Default for World {
    fn default() -> Self {
        Self::new()
    }
}
