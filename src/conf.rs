//! A service's configuration as the table resolves it ([`ServiceConf`]),
//! and the string pool its argv, env and chdir live in ([`Pool`], one for
//! every service). Plain data: the parser ([`crate::table`]) fills it, the
//! rest of tend reads it.

use crate::limits::*;

/// Index of a service in its table (table order).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(test, derive(Debug))]
pub struct SvcId(pub u8);

impl SvcId {
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// A range of the [`Pool`].
#[derive(Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(test, derive(Debug))]
pub struct Span {
    pub off: u16,
    pub len: u16,
}

#[derive(Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(Debug))]
pub enum Kind {
    #[default]
    Daemon,
    Oneshot,
}

#[derive(Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(Debug))]
pub enum Restart {
    #[default]
    Always,
    OnFailure,
    Never,
}

/// Who a service runs as. `None` everywhere means tend's own identity.
#[derive(Clone, Default)]
#[cfg_attr(test, derive(Debug))]
pub struct Identity {
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// Supplementary groups (set with setgroups when `uid` or `gid` is set).
    pub groups: crate::accounts::Groups,
}

/// One service as the table describes it, fully resolved. (The default is
/// what a service `tend reload` removed leaves behind.)
#[derive(Default)]
#[cfg_attr(test, derive(Debug))]
pub struct ServiceConf {
    pub name: heapless::Vec<u8, NAME_MAX_BYTES, u8>,
    /// Line of the `[name]` header.
    pub line: u32,
    pub kind: Kind,
    pub restart: Restart,
    /// The arguments of `run`, unquoted, each followed by a NUL byte.
    pub argv: Span,
    pub argc: u8,
    /// `KEY=VALUE` entries, each followed by a NUL byte.
    pub env: Span,
    pub envc: u8,
    /// The working directory, followed by a NUL byte (default `/`).
    pub chdir: Span,
    pub after: heapless::Vec<SvcId, MAX_AFTER, u8>,
    /// `ready = fd:N`: the descriptor the service writes its newline to.
    pub ready_fd: Option<u8>,
    /// Ring size in bytes; 0 discards output.
    pub log_bytes: u32,
    pub console: bool,
    pub ident: Identity,
    pub stop_signal: u8,
    pub stop_timeout_ms: u32,
    /// `critical = yes`: the watchdog is fed only while it is up.
    pub critical: bool,
    /// `listen`: the address as written, NUL-ended (empty: none).
    #[cfg(feature = "listen")]
    pub listen: Span,
    /// `accept = yes`: an instance of `run` per connection.
    #[cfg(feature = "listen")]
    pub accept: bool,
    /// `instances`: how many may run at once.
    #[cfg(feature = "listen")]
    pub instances: u8,
}

/// The strings of every service's argv, env and chdir, each NUL-ended,
/// that the [`Span`]s of their confs point into.
pub struct Pool(pub heapless::Vec<u8, POOL_BYTES>);

impl Default for Pool {
    fn default() -> Self {
        Self::new()
    }
}

impl Pool {
    pub const fn new() -> Pool {
        Pool(heapless::Vec::new())
    }

    /// The bytes of `span`, NULs included.
    #[inline(never)]
    pub fn bytes(&self, span: Span) -> &[u8] {
        let start = usize::from(span.off);
        let end = start.saturating_add(usize::from(span.len));
        self.0.get(start..end).unwrap_or(&[])
    }

    /// The NUL-terminated strings of `span`, without their NULs.
    pub fn strings(&self, span: Span) -> impl Iterator<Item = &[u8]> {
        let mut rest = self.bytes(span);
        core::iter::from_fn(move || next_string(&mut rest))
    }
}

/// The first NUL-ended string of `rest`, without its NUL; `rest` then
/// starts after it. (`split_inclusive` would keep a panic path.)
#[inline(never)]
fn next_string<'p>(rest: &mut &'p [u8]) -> Option<&'p [u8]> {
    let at = rest.iter().position(|&b| b == 0)?;
    let (string, tail) = rest.split_at_checked(at)?;
    *rest = tail.get(1..)?;
    Some(string)
}
