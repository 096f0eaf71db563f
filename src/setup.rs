//! Everything before the loop (tend(8), PID 1; README, "Running as PID
//! 1"): tend's own ring, PID 1's set-up, the table (or the rescue table),
//! the signal mask and signalfd, the log rings and pipes, and the control
//! socket. What it opens, the loop ([`crate::event_loop`]) keeps.

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::net;

use linux_raw_sys::general as sig;

#[cfg(not(feature = "reload"))]
use crate::crash::Crash;
use crate::ctl::Door;
use crate::limits::*;
use crate::load::{self, c_path};
use crate::pid1;
use crate::report::{self, EXIT_SYSTEM, EXIT_USAGE};
use crate::ring::Ring;
use crate::say::decimal;
use crate::slot::LogPipe;
use crate::sys::{self, Fd, SigSet};
use crate::table::{self, EtcAccounts};
use crate::world::{Slot, World};

/// How this supervisor was started.
pub struct Options<'a> {
    pub table: &'a [u8],
    pub socket: &'a [u8],
    pub pid1: bool,
}

/// The descriptors tend opened to supervise.
pub struct Started {
    /// None only when PID 1 could not make one: it then reaps once a second.
    pub signals: Option<Fd>,
    /// None when PID 1 could not listen: it runs on without clients.
    pub door: Option<Door>,
    /// The syslog socket, when the table asks for one and it was bound.
    pub syslog: Option<Fd>,
    /// /dev/null (for PID 1 without one, a copy of its console).
    pub null: Fd,
}

/// The signals tend takes through its signalfd (all others keep their
/// default action).
pub fn handled() -> SigSet {
    SigSet::EMPTY
        .with(sig::SIGCHLD)
        .with(sig::SIGTERM)
        .with(sig::SIGINT)
        .with(sig::SIGHUP)
        .with(sig::SIGUSR1)
        .with(sig::SIGUSR2)
        .with(sig::SIGPIPE)
}

/// Everything before the loop: PID 1's set-up, the table (or the rescue
/// table), signals, the log pipes, the control socket. When tend cannot
/// supervise (never as PID 1), it exits here, with the status tend(8)
/// gives: nothing it opened needs closing first. (Never `Err`.)
#[inline(never)]
pub fn start(
    world: &mut World,
    arena: &'static mut [u8],
    opt: &Options<'_>,
) -> Result<Started, i32> {
    // tend's own ring first, so that everything said from here on, the
    // table's errors included, can be read again with `tend log tend`.
    let (own, arena) = arena.split_at_mut((LOG_SELF_BYTES as usize).min(arena.len()));
    ring_in(&mut world.own, own);
    let now = sys::now_ms();
    if opt.pid1 {
        early_setup(&mut world.own, now);
    }
    // With 0–2 closed, the first descriptors tend opens would become a
    // service's stdio or take tend's own messages. The first /dev/null
    // above them is the one tend keeps.
    let null = loop {
        match sys::open(c"/dev/null", OFlags::RDWR, 0) {
            Ok(fd) if fd.raw() <= 2 => _ = fd.leak(),
            other => break other,
        }
    };
    // Descriptors inherited from whoever started tend must not leak into
    // the services: tend's own are all close-on-exec (that /dev/null too).
    sys::cloexec_from(3);
    let errors = load::load(world, opt.table, b"", true);
    if errors > 0 {
        let mut digits = [0u8; 20];
        let n = decimal(errors as u64, &mut digits);
        let own = Some((&mut world.own, now));
        report::say(own, &[opt.table, b": not started: ", n, b" error(s)"]);
        if !opt.pid1 {
            sys::exit_group(EXIT_USAGE);
        }
        report::say(
            Some((&mut world.own, now)),
            &[b"starting the rescue shell instead"],
        );
        let none = EtcAccounts {
            passwd: b"",
            group: b"",
        };
        // What the broken table's sections left goes first (parse takes
        // an empty table).
        world.table.clear();
        table::parse(pid1::RESCUE_TABLE, &none, &mut world.table, &mut |_, _| {});
    }
    let set = handled();
    let signals = match sys::set_signal_mask(set).and_then(|()| sys::signalfd(set)) {
        Ok(fd) => Some(fd),
        Err(e) => {
            failed(world, now, opt.pid1, b"signalfd", b"", e);
            None
        }
    };
    if !opt.pid1 {
        if let Err(e) = sys::set_child_subreaper() {
            let what = b"warning: cannot become the child subreaper";
            failed(world, now, true, what, b"", e);
        }
    }
    let null = match null {
        Ok(fd) => fd,
        Err(e) if !opt.pid1 => fatal(world, now, b"/dev/null", e),
        // PID 1 without /dev/null: services get the console as stdin.
        Err(_) => match sys::dup_at_least(sys::stdin(), 3) {
            Ok(fd) => fd,
            Err(e) => fatal(world, now, b"/dev/null", e),
        },
    };
    if let Err(e) = set_up_logs(world, arena) {
        failed(world, now, opt.pid1, b"log pipes", b"", e);
    }
    // The control socket, mode 0600.
    let door = match bind_at(opt.socket, false, 0o600) {
        Ok(fd) => Some(Door::new(fd)),
        Err(e) => {
            let why = if e == Errno::ADDRINUSE {
                b"another tend is already running on ".as_slice()
            } else {
                CANNOT_LISTEN
            };
            failed(world, now, opt.pid1, why, opt.socket, e);
            None
        }
    };
    let syslog = listen_syslog(world, now);
    let now = sys::now_ms();
    let n = world.table.len();
    let mut digits = [0u8; 20];
    let parts: [&[u8]; 4] = [
        b"supervising ",
        decimal(n as u64, &mut digits),
        if n == 1 {
            b" service from "
        } else {
            b" services from "
        },
        opt.table,
    ];
    report::say(Some((&mut world.own, now)), &parts);
    Ok(Started {
        signals,
        door,
        syslog,
        null,
    })
}

/// PID 1's set-up. Out of line: its buffers are then not under the whole
/// loop.
#[inline(never)]
fn early_setup(own: &mut Ring<'static>, now: u64) {
    pid1::early_setup(own, now);
}

/// Binds the syslog socket the `[tend]` section asks for; a failure is said
/// and supervision goes on without it.
fn listen_syslog(world: &mut World, now: u64) -> Option<Fd> {
    #[cfg(feature = "syslog")]
    {
        let table = &world.table;
        let path = crate::settings::Settings::path(&table.pool, table.settings.syslog);
        if path.is_empty() {
            return None;
        }
        // Mode 0666: every daemon may log. A stale socket file left by an
        // earlier tend or syslogd is replaced.
        match bind_at(path, true, 0o666) {
            Ok(fd) => return Some(fd),
            Err(e) => report::failed(Some((&mut world.own, now)), LISTEN, path, e),
        }
    }
    let _ = (world, now);
    None
}

/// What a socket that cannot be bound is said with: the syslog socket's,
/// and the control socket's, without the first word (one copy of the
/// text, in a tend built with syslog).
const LISTEN: &[u8] = b"syslog: cannot listen on ";
const CANNOT_LISTEN: &[u8] = match cfg!(feature = "syslog") {
    true => LISTEN.split_at(8).1,
    false => b"cannot listen on ",
};

/// Says that `what` failed; unless tend is PID 1 (which goes on without
/// it), for good: it exits.
#[inline(never)]
fn failed(world: &mut World, now: u64, pid1: bool, what: &[u8], detail: &[u8], e: Errno) {
    report::failed(Some((&mut world.own, now)), what, detail, e);
    if !pid1 {
        sys::exit_group(EXIT_SYSTEM);
    }
}

/// Says that `what` failed, for good, and exits.
fn fatal(world: &mut World, now: u64, what: &[u8], e: Errno) -> ! {
    report::failed(Some((&mut world.own, now)), what, b"", e);
    sys::exit_group(EXIT_SYSTEM)
}

/// Carves the rest of the arena (tend's own ring is taken) into rings and
/// the crash records' lines, and opens a log pipe per service with one.
fn set_up_logs(world: &mut World, arena: &'static mut [u8]) -> Result<(), Errno> {
    // The crash records' lines at the end, apart from the rings: their
    // pages are touched only by a crash.
    let rings_len = arena.len().saturating_sub(MAX_SERVICES * CRASH_TAIL_BYTES);
    #[allow(unused_mut)]
    let (mut rings, mut crashes) = arena.split_at_mut(rings_len);
    #[cfg(feature = "syslog")]
    if world.table.settings.syslog.len > 0 {
        ring_in(&mut world.syslog, take(&mut rings, SYSLOG_RING_BYTES));
    }
    // With reload, its layout places the rings, as for the services a
    // reload adds (one copy of the code).
    #[cfg(feature = "reload")]
    {
        world.ring_spare = Some(rings);
        world.crash_spare = Some(crashes);
        lay_out_rings(world, sys::arena::Join::new());
        log_pipes(&mut world.table.slots, &[], 0)?;
    }
    #[cfg(not(feature = "reload"))]
    for slot in world.table.slots.iter_mut() {
        slot.crash = Crash::with_store(take(&mut crashes, CRASH_TAIL_BYTES));
        if slot.conf.console {
            continue;
        }
        // `log = 0` still gets a pipe, into an empty ring that counts what
        // it drops.
        if slot.conf.log_bytes > 0 {
            ring_in(
                &mut slot.ring,
                take(&mut rings, slot.conf.log_bytes as usize),
            );
        }
        // A slot just read has no pipe: no drop code for the None.
        core::mem::forget(slot.log.replace(log_pipe()?));
    }
    Ok(())
}

/// The first `n` bytes of `rest` (all of it, when shorter), the rest left
/// there.
fn take(rest: &mut &'static mut [u8], n: usize) -> &'static mut [u8] {
    let all = core::mem::take(rest);
    let (mine, others) = all.split_at_mut(n.min(all.len()));
    *rest = others;
    mine
}

/// The first `n` bytes of `spare`, if it has them.
#[cfg(feature = "reload")]
fn carve(spare: &mut Option<&'static mut [u8]>, n: usize) -> Option<&'static mut [u8]> {
    let all = spare.take()?;
    let (mine, rest) = all.split_at_mut_checked(n)?;
    *spare = Some(rest);
    Some(mine)
}

/// The rings laid out anew for the table (after a reload, the combined
/// one): its rings, those that went (in `join`) and the spare are joined
/// back into one stretch of the arena; the rings that stay are placed in
/// the order they lay in, what each keeps moved there, new rings after
/// them; the rest is the spare. And room for its crash record's lines for
/// every service added (those that stay brought theirs). Start-up lays
/// its first rings out with it too (every service new, no ring yet).
#[cfg(feature = "reload")]
pub fn lay_out_rings(world: &mut World, mut join: sys::arena::Join) {
    let World {
        table: next,
        ring_spare: spare,
        crash_free,
        crash_spare,
        ..
    } = world;
    let slots = &mut next.slots;
    // (A const: all zero bytes, one `memset`.)
    const NO_RINGS: [crate::arena::Piece; MAX_SERVICES] = [crate::arena::Piece::NONE; MAX_SERVICES];
    let mut rings = NO_RINGS;
    let n = slots.len();
    for ((j, slot), ring) in slots.iter_mut().enumerate().zip(rings.iter_mut()) {
        if !slot.crash.has_store() {
            if let Some(store) = crash_free
                .pop()
                .or_else(|| carve(crash_spare, CRASH_TAIL_BYTES))
            {
                slot.crash.adopt(store);
            }
        }
        // No ring for a service leaving or whose output goes to the console.
        let size = match slot.leaving || slot.conf.console {
            true => 0,
            false => slot.conf.log_bytes as usize,
        };
        slot.ring.shrink_to(size);
        let (buf, len) = slot.ring.take_store();
        // A new ring comes after every old one, in table order.
        let (from, len) = match &buf {
            Some(b) => (b.as_ptr() as usize, len),
            None => (usize::MAX - MAX_SERVICES + j, 0),
        };
        // (A ring of no size is given an empty place: it keeps nothing.)
        *ring = crate::arena::Piece {
            from,
            len: len as u32,
            size: size as u32,
            slot: j as u8,
        };
        join.add(buf);
    }
    join.add(spare.take());
    let Some(whole) = join.whole() else {
        return; // Never: they are the arena's. The rings keep nothing.
    };
    let rings = rings.get_mut(..n).unwrap_or(&mut []);
    let move_bytes = sys::arena::move_bytes;
    *spare = Some(crate::arena::lay_out(whole, rings, move_bytes, |j, buf| {
        if let Some(slot) = slots.get_mut(usize::from(j)) {
            slot.ring.adopt(buf);
        }
    }));
}

/// A ring over `buf` in `ring`'s place. Out of line: the binary is then
/// smaller.
#[inline(never)]
fn ring_in(ring: &mut Ring<'static>, buf: &'static mut [u8]) {
    *ring = Ring::new(buf);
}

/// A service's log pipe: both ends close-on-exec, the read end
/// non-blocking (the loop never waits on it).
pub fn log_pipe() -> Result<LogPipe<Fd>, Errno> {
    let (read, write) = sys::pipe(linux_raw_sys::general::O_CLOEXEC)?;
    rustix::fs::fcntl_setfl(&read, OFlags::NONBLOCK)?;
    Ok(LogPipe::new(read, write))
}

/// Opens a log pipe for each of `slots` whose output does not go to the
/// console, but those whose kind in `kinds` is `keeps` (a reload's
/// services that bring theirs): start-up's and a reload's.
pub fn log_pipes(slots: &mut [Slot], kinds: &[u8], keeps: u8) -> Result<(), Errno> {
    for (i, slot) in slots.iter_mut().enumerate() {
        if slot.conf.console || kinds.get(i) == Some(&keeps) {
            continue;
        }
        // `log = 0` still gets a pipe, into an empty ring that counts what
        // it drops. A slot just read has no pipe: no drop code for the None.
        core::mem::forget(slot.log.replace(log_pipe()?));
    }
    Ok(())
}

/// The syslog socket, with its deep queue; in a tend built without syslog,
/// never called.
#[cfg(feature = "syslog")]
use crate::syslog_in::socket as dgram_socket;
#[cfg(not(feature = "syslog"))]
use sys::unix_dgram_socket as dgram_socket;

/// A non-blocking Unix socket bound at `path`, mode `mode`, replacing a
/// socket file left there: the control socket (a stream, listening;
/// refused, with `ADDRINUSE`, when a live tend answers there already) or
/// the syslog socket (`dgram`: datagrams, with their senders'
/// credentials).
// Out of line: its buffers are then not under the whole loop.
#[inline(never)]
pub fn bind_at(path: &[u8], dgram: bool, mode: u32) -> Result<Fd, Errno> {
    use linux_raw_sys::general::{O_CLOEXEC, O_NONBLOCK};
    let mut pbuf = [0u8; 256];
    let cpath = c_path(path, &mut pbuf).ok_or(Errno::NAMETOOLONG)?;
    let addr = sys::unix_addr(cpath)?;
    let fd = if cfg!(feature = "syslog") && dgram {
        let fd = dgram_socket(O_CLOEXEC | O_NONBLOCK)?;
        rustix::net::sockopt::set_socket_passcred(&fd, true)?;
        let _ = rustix::fs::unlink(cpath);
        fd
    } else {
        let probe = sys::unix_socket(O_CLOEXEC)?;
        if sys::connect(&probe, &addr).is_ok() {
            return Err(Errno::ADDRINUSE);
        }
        drop(probe);
        let _ = rustix::fs::unlink(cpath);
        sys::unix_socket(O_CLOEXEC | O_NONBLOCK)?
    };
    let old = rustix::process::umask(Mode::from_raw_mode(0o077));
    let bound = sys::bind(&fd, &addr);
    rustix::process::umask(old);
    bound?;
    rustix::fs::chmod(cpath, Mode::from_raw_mode(mode))?;
    if !dgram {
        net::listen(&fd, 64)?;
    }
    Ok(fd)
}
