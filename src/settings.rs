//! The settings of tend itself: the `[tend]` section of the table
//! (tend.conf(5), THE [tend] SECTION). They take effect when tend starts;
//! a reload reports a change to them as waiting for the next start.

use crate::conf::Span;

/// What the `[tend]` section says; all empty or default without one.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(test, derive(Debug))]
pub struct Settings {
    /// Line of the `[tend]` header (0: none).
    pub line: u32,
    /// `syslog = PATH`: where to bind the syslog socket (NUL-ended in the
    /// pool; empty: no socket).
    pub syslog: Span,
}

impl Settings {
    pub const fn new() -> Settings {
        Settings {
            line: 0,
            syslog: Span { off: 0, len: 0 },
        }
    }
}
