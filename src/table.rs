//! The service table (`/etc/tend.conf`): parsing, validation and the
//! resolved, read-only form the supervisor runs from.
//!
//! Pure code: the caller hands in the file's bytes and an [`Accounts`] to
//! resolve `user`/`group`, and gets a [`Table`] or errors as
//! `(line, message parts)`, which it prints as `FILE:LINE: message`.

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

/// A range of [`Table::pool`].
#[derive(Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(test, derive(Debug))]
pub struct Span {
    pub off: u16,
    pub len: u16,
}

#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(Debug))]
pub enum Kind {
    Daemon,
    Oneshot,
}

#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(Debug))]
pub enum Restart {
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
    pub groups: heapless::Vec<u32, MAX_GROUPS>,
}

/// One service as the table describes it, fully resolved.
#[cfg_attr(test, derive(Debug))]
pub struct ServiceConf {
    pub name: heapless::Vec<u8, NAME_MAX_BYTES>,
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
    pub after: heapless::Vec<SvcId, MAX_AFTER>,
    /// `ready = fd:N`: the descriptor the service writes its newline to.
    pub ready_fd: Option<u8>,
    /// Ring size in bytes; 0 discards output.
    pub log_bytes: u32,
    pub console: bool,
    pub ident: Identity,
    pub stop_signal: u8,
    pub stop_timeout_ms: u32,
}

/// A loaded table: the services in file order and the strings they use.
pub struct Table {
    pub services: heapless::Vec<ServiceConf, MAX_SERVICES>,
    pub pool: heapless::Vec<u8, POOL_BYTES>,
}

/// Resolves user and group names (from /etc/passwd and /etc/group).
pub trait Accounts {
    /// `(uid, primary gid)` of a user name.
    fn user(&self, name: &[u8]) -> Option<(u32, u32)>;
    /// `(uid, primary gid)` of a numeric uid, when it has an entry.
    fn user_by_id(&self, uid: u32) -> Option<(u32, u32)>;
    fn group(&self, name: &[u8]) -> Option<u32>;
    /// Adds the gids of every group that lists `user` as a member.
    fn groups_of(&self, user: &[u8], out: &mut heapless::Vec<u32, MAX_GROUPS>);
}
