//! The settings of tend itself: the `[tend]` section of the table
//! (tend.conf(5), THE [tend] SECTION). They take effect when tend starts;
//! a reload reports a change to them as waiting for the next start.

use crate::conf::{Pool, Span};

/// What the `[tend]` section says; all empty or default without one.
#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(Debug))]
pub struct Settings {
    /// Line of the `[tend]` header (0: none).
    pub line: u32,
    /// `syslog = PATH`: where to bind the syslog socket (NUL-ended in the
    /// pool; empty: no socket).
    pub syslog: Span,
    /// `watchdog = PATH`: the watchdog device (empty: none).
    pub watchdog: Span,
    /// `keep = DIR`: where evidence is kept across reboots (empty: none).
    pub keep: Span,
    /// `watchdog-timeout`, asked of the driver (0: not given; see
    /// [`Settings::watchdog_timeout_ms`]).
    pub watchdog_timeout: u32,
    /// `watchdog-grace`, how long a critical service may be out of its good
    /// state, plus 1 (0: not given).
    pub watchdog_grace: u32,
}

/// `watchdog-timeout` when the table says nothing.
pub const WATCHDOG_TIMEOUT_DEFAULT_MS: u32 = 15_000;
/// `watchdog-grace` when the table says nothing.
pub const WATCHDOG_GRACE_DEFAULT_MS: u32 = 60_000;

impl Settings {
    /// All zero bytes, so that the table, and the world that holds it,
    /// stay in .bss and cost nothing in the binary.
    pub const fn new() -> Settings {
        Settings {
            line: 0,
            syslog: Span { off: 0, len: 0 },
            watchdog: Span { off: 0, len: 0 },
            keep: Span { off: 0, len: 0 },
            watchdog_timeout: 0,
            watchdog_grace: 0,
        }
    }
}

impl Settings {
    /// A path the section gives (`span`, NUL-ended in `pool`), without its
    /// NUL; empty when not given.
    #[inline(never)]
    pub fn path(pool: &Pool, span: Span) -> &[u8] {
        let path = pool.bytes(span);
        match path {
            [body @ .., 0] => body,
            _ => path,
        }
    }

    /// `watchdog-timeout`, or its default.
    pub fn watchdog_timeout_ms(&self) -> u32 {
        match self.watchdog_timeout {
            0 => WATCHDOG_TIMEOUT_DEFAULT_MS,
            ms => ms,
        }
    }

    /// `watchdog-grace`, or its default.
    pub fn watchdog_grace_ms(&self) -> u32 {
        match self.watchdog_grace {
            0 => WATCHDOG_GRACE_DEFAULT_MS,
            given => given - 1,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self::new()
    }
}
