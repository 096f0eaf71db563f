//! Every capacity tend is built with, and the RAM and descriptor budget they
//! add up to. All storage is static; nothing grows at run time.

/// Services in one table.
pub const MAX_SERVICES: usize = 64;
/// Bytes of a service name (`[A-Za-z0-9_.@-]`).
pub const NAME_MAX_BYTES: usize = 32;
/// Bytes of the table file.
pub const TABLE_MAX_BYTES: usize = 32 * 1024;
/// Bytes of /etc/passwd and of /etc/group read to resolve `user`/`group`.
pub const ACCOUNTS_MAX_BYTES: usize = 16 * 1024;
/// Bytes of the string pool holding every service's argv, env and chdir.
pub const POOL_BYTES: usize = 16 * 1024;
/// Arguments of one `run` line.
pub const MAX_ARGS: usize = 32;
/// `env` entries of one service.
pub const MAX_ENV: usize = 16;
/// Names in one service's `after`.
pub const MAX_AFTER: usize = 8;
/// Supplementary groups of one service's user.
pub const MAX_GROUPS: usize = 16;
/// Errors reported for one table before giving up.
pub const MAX_TABLE_ERRORS: usize = 32;

/// RAM shared by all log rings (tend's own ring included).
pub const LOG_ARENA_BYTES: usize = 1024 * 1024;
/// A service's ring when the table says nothing.
pub const LOG_DEFAULT_BYTES: u32 = 4 * 1024;
/// tend's own ring (`tend log tend`).
pub const LOG_SELF_BYTES: u32 = 8 * 1024;
/// The ring `syslog` (`tend log syslog`): messages to the syslog socket
/// from outside every service.
pub const SYSLOG_RING_BYTES: usize = 4 * 1024;
/// A longer line is split into pieces of this size.
pub const LINE_MAX_BYTES: usize = 1024;
/// Bytes of log lines frozen in a service's last-crash record.
pub const CRASH_TAIL_BYTES: usize = 1024;
/// The arena in `.bss` that the rings ([`LOG_ARENA_BYTES`]) and the lines
/// of the crash records (the rest) are carved from: RAM is used only as
/// they fill.
pub const ARENA_BYTES: usize = LOG_ARENA_BYTES + MAX_SERVICES * CRASH_TAIL_BYTES;
/// Bytes read from one log pipe per poll round, so one flood cannot starve
/// the others (a pipe grown for a flood: its size).
pub const PIPE_READ_BUDGET_BYTES: usize = 64 * 1024;
/// A log pipe found flooding (readable again within [`LOG_BATCH_MS`] of its
/// last read) is grown to this size once (`F_SETPIPE_SZ`, kernel memory,
/// not tend's), so that a writer at full speed does not find it full
/// between two reads.
pub const LOG_FLOOD_PIPE_BYTES: usize = 256 * 1024;

/// Bytes of one read(2) from a log pipe grown for a flood: fewer, larger
/// reads cost a flood less CPU. They land in the one buffer of this size
/// that all pipes share (`world::LogBuf`, in `.bss`), whose pages are given
/// back [`LOG_BUF_KEEP_MS`] after the last such read: it costs RAM only
/// while a flood lasts.
pub const LOG_READ_BYTES: usize = 16 * 1024;
/// Bytes of one read(2) from any other log pipe, into a buffer on the stack:
/// small, as every page the stack ever reaches stays in tend's memory (a
/// burst is read in a few reads in the same round).
pub const LOG_QUIET_READ_BYTES: usize = 2 * 1024;
/// The flood buffer's pages are given back this long after a flood was last
/// read into it: far longer than a flood's pipe rests between two reads
/// ([`LOG_BATCH_MS`]), so that a flood does not fault them in again every
/// round.
pub const LOG_BUF_KEEP_MS: u64 = 100;

/// Syslog messages read per poll round at most, so that a flood of them
/// cannot starve the rest of the loop.
pub const SYSLOG_READ_BUDGET: usize = 64;

/// A log pipe that turns readable again this soon after it was read waits
/// out the rest of this time before it is read (see `world::LogPace`).
pub const LOG_BATCH_MS: u64 = 1;

/// Control clients served at once; more are refused with a message.
pub const MAX_CLIENTS: usize = 8;
/// Bytes of one control request.
pub const REQUEST_MAX_BYTES: usize = 2304;
/// Bytes of one client's output buffer (replies are produced as it drains).
/// It holds one service's `status --json` object at its largest (see
/// `status::JSON_SERVICE_MAX_BYTES`): a crash record of control bytes is
/// six times its size once escaped.
pub const CLIENT_OUT_BYTES: usize = 8 * 1024;
/// A client that has not sent a whole request by then is dropped.
pub const CLIENT_REQUEST_TIMEOUT_MS: u64 = 2_000;
/// A client whose reply has not drained by then is dropped (not `-f`).
pub const CLIENT_REPLY_TIMEOUT_MS: u64 = 10_000;
/// Out of descriptors with the spare in use, the control socket is polled
/// again after this long (see `ctl::Door`).
pub const ACCEPT_REST_MS: u64 = 250;

/// First restart delay of a service that keeps dying.
pub const RESTART_MIN_DELAY_MS: u64 = 100;
/// The delay doubles up to this cap.
pub const RESTART_MAX_DELAY_MS: u64 = 60_000;
/// A service that ran this long (or became ready) is restarted at once.
pub const STABLE_RUN_MS: u64 = 1_000;
/// `stop-timeout` when the table says nothing.
pub const STOP_TIMEOUT_DEFAULT_MS: u32 = 5_000;

/// Instances of `accept = yes` services that run at once, every service's
/// together (tend(8), SOCKETS); one service's `instances` is at most this.
pub const MAX_INSTANCES: usize = 64;
/// `instances` when the table says nothing.
pub const INSTANCES_DEFAULT: u8 = 8;

/// Descriptors tend holds at most: per service a log pipe (2) and, while it
/// starts, a readiness pipe (1) and the pipe that confirms its exec (1),
/// and with `listen` its socket (1); the clients; the listening socket and
/// its spare, the signalfd, /dev/null and fds 0–2. (While one service is
/// forked, 2 more for a moment: the write ends of its two pipes, or an
/// instance's connection and its pipe.)
pub const FD_BUDGET: usize = MAX_SERVICES * 5 + MAX_CLIENTS + 7;
/// Entries of the poll set: signalfd, listener, syslog socket, log pipes,
/// readiness pipes, exec-confirmation pipes, clients.
pub const POLL_MAX: usize = 3 + MAX_SERVICES * 3 + MAX_CLIENTS;
