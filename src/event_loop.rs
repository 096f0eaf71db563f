//! The one poll loop, once [`crate::setup`] has opened what it watches.
//!
//! # Theory of operation
//! Everything that can happen to tend arrives on a descriptor: signals on a
//! signalfd (SIGCHLD, SIGTERM, SIGINT…, all blocked), each service's output
//! on its log pipe, a readiness newline on a readiness pipe, a forked
//! child's exec (end-of-file) or failed start (its step and errno) on its
//! close-on-exec report pipe, requests on the control socket and its
//! clients.
//!
//! A round ([`supervise`]'s loop) is four steps:
//! 1. `fire_deadlines`: the supervisor fires what is due (a backoff
//!    retry, a stop timeout) and starts or stops what can go now; then the
//!    ending ([`Ending`], PID 1's shutdown or a plain exit) learns whether
//!    every service has stopped and whether its grace is over.
//! 2. `serve_clients`: each client gets as much of its reply as it takes.
//! 3. `wait`: one poll of every descriptor, with `poll_timeout` — the
//!    nearest of every deadline (the supervisor's, the clients', the log
//!    pipes' and the control socket's rests, the ending's) — as its
//!    timeout; none when nothing is due, so an idle tend sleeps in one
//!    poll and makes no wakeups.
//! 4. `handle`: what poll found ready, in order: signals, new clients,
//!    log pipes drained into the rings, report and readiness pipes told to
//!    the supervisor, client requests. What a signal asks tend to do —
//!    reap, reload or end — is carried out by `read_signals`; what a
//!    request asks (a client's start, stop, restart, signal, reload or
//!    shutdown), by `obey`. An end goes through the ending's state
//!    machine, whose acts (`act_out`) are the only route to stopping every
//!    service.
//!
//! Nothing in a round waits for another process: starting a service is a
//! fork, and the service is `starting` until its report pipe tells. A child
//! reaped before its report was read has the report read first, so an exec
//! failure is never taken for an exit.

use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::fd::AsFd;
use rustix::io::Errno;
use rustix::process::{WaitOptions, WaitStatus};

use linux_raw_sys::general as sig;

use crate::conf::SvcId;
use crate::ctl::{self, Client};
use crate::ending::{self, Act, Ending, How};
use crate::limits::*;
use crate::load::c_path;
use crate::pid1;
#[cfg(feature = "reload")]
use crate::reload;
use crate::reply;
use crate::report;
use crate::service::{Event, Exit, State};
use crate::setup;
use crate::shell::{self, drain, Shell};
use crate::slot::LogPipe;
use crate::spawn::{self, Report};
use crate::status::View;
use crate::supervisor::{self, Supervisor};
use crate::sys::{self, Fd};
use crate::table::Table;
use crate::world::{Slot, World};

pub use crate::setup::Options;

/// Every source of events, numbered in the order they are polled and
/// handled: tend's own three, then every service's log pipe, every report
/// pipe and every readiness pipe, then the clients (see [`src`]).
const SOURCES: usize = 3 + 3 * MAX_SERVICES + MAX_CLIENTS;
const _: () = assert!(SOURCES <= 256 && SOURCES == POLL_MAX);

/// What poll found ready: the sources' numbers, in the poll set's order.
type Ready = heapless::Vec<u8, POLL_MAX, u8>;

/// What a poll entry is.
#[derive(Clone, Copy)]
enum Src {
    Signals,
    Listener,
    /// The syslog socket (`[tend] syslog`).
    Syslog,
    Log(u8),
    Exec(u8),
    Ready(u8),
    Client(u8),
}

/// Source number `n` (see [`SOURCES`]).
fn src(n: usize) -> Src {
    let i = (n.wrapping_sub(3) % MAX_SERVICES) as u8;
    match n {
        0 => Src::Signals,
        1 => Src::Listener,
        2 => Src::Syslog,
        _ => match (n - 3) / MAX_SERVICES {
            0 => Src::Log(i),
            1 => Src::Exec(i),
            2 => Src::Ready(i),
            _ => Src::Client(i),
        },
    }
}

/// What the loop holds besides the world: its own descriptors, how it was
/// started, and how far its ending has come.
struct Loop<'a> {
    /// Its descriptors, as start-up opened them (kept as one, not moved
    /// field by field).
    fds: setup::Started,
    opt: &'a Options<'a>,
    ending: Ending,
    /// A log pipe had more to read than a round's budget: poll again at once.
    busy: bool,
    /// When the pages of `world.log_buf` are to be given back:
    /// [`LOG_BUF_KEEP_MS`] after a flood was last read into it; u64::MAX
    /// once they are (or were never used).
    flood_release_at: u64,
    /// The watchdog device, when the table names one and it opened.
    #[cfg(feature = "watchdog")]
    dog: Option<crate::watchdog_dev::Dog>,
    /// When a critical service out of its good state would outlast the
    /// watchdog's grace (u64::MAX: none is).
    #[cfg(feature = "watchdog")]
    unwell_until: u64,
    /// The directory evidence is kept in, when the table names one and it
    /// opened; when a crash record waits to be kept (u64::MAX: none does).
    #[cfg(feature = "keep")]
    keep: Option<crate::keep::Keep>,
    #[cfg(feature = "keep")]
    keep_due: u64,
    /// Oneshots done when the watchdog and the keep directory were last
    /// tried: they are tried again when one more is (it may have loaded
    /// the driver or mounted the disk).
    #[cfg(any(feature = "watchdog", feature = "keep"))]
    done: usize,
}

/// Supervises until told to stop; returns the exit status. As PID 1 it
/// never returns: it ends in reboot(2).
pub fn supervise(world: &mut World, arena: &'static mut [u8], opt: &Options<'_>) -> i32 {
    let mut lp = match setup::start(world, arena, opt) {
        Ok(s) => Loop {
            fds: s,
            opt,
            ending: Ending::Running,
            busy: false,
            flood_release_at: u64::MAX,
            #[cfg(feature = "watchdog")]
            dog: None,
            #[cfg(feature = "watchdog")]
            unwell_until: u64::MAX,
            #[cfg(feature = "keep")]
            keep: None,
            #[cfg(feature = "keep")]
            keep_due: u64::MAX,
            #[cfg(any(feature = "watchdog", feature = "keep"))]
            done: 0,
        },
        Err(code) => return code,
    };
    #[cfg(any(feature = "watchdog", feature = "keep"))]
    open_late(world, &mut lp, sys::now_ms(), true);
    // Start-up's code and deep stack are not needed again: their pages go
    // (open_late, where it is built, has just done so).
    #[cfg(not(any(feature = "watchdog", feature = "keep")))]
    sys::drop_cold();
    // From now on, tend must not die: every failure is reported and retried.
    loop {
        let now = sys::now_ms();
        fire_deadlines(world, &mut lp, now);
        serve_clients(world, &lp, now);
        if let Some(code) = lp.ending.exit_status() {
            // A `supervise` that is not PID 1 disarms the watchdog.
            #[cfg(feature = "watchdog")]
            if let Some(dog) = lp.dog.take() {
                crate::watchdog_dev::disarm(dog);
            }
            // tend exits with it at once: what the loop holds is closed
            // by the kernel, without drop code.
            core::mem::forget(lp);
            return code;
        }
        let mut ready = Ready::new();
        match wait(world, &lp, now, &mut ready) {
            Ok(()) => handle(world, &mut lp, &ready, sys::now_ms()),
            Err(Errno::INTR) => {}
            Err(e) => report::failed(Some((&mut world.own, now)), b"poll", b"", e),
        }
    }
}

/// What is due at the top of a round: the control socket's spare, the
/// supervisor's deadlines and whatever can start or stop now, then the
/// ending's.
// Out of line: inlined into the loop it makes the binary bigger.
#[inline(never)]
fn fire_deadlines(world: &mut World, lp: &mut Loop<'_>, now: u64) {
    if let Some(door) = lp.fds.door.as_mut() {
        door.restock(&lp.fds.null);
    }
    settle(world, &lp.fds.null, now);
    // A service a reload removed, gone after the reload was done.
    #[cfg(feature = "reload")]
    if reload::forget_left(world) {
        sys::drop_cold();
    }
    if lp.flood_release_at <= now {
        sys::release(world.log_buf.pages());
        lp.flood_release_at = u64::MAX;
    }
    #[cfg(any(feature = "watchdog", feature = "keep"))]
    open_late(world, lp, now, false);
    #[cfg(feature = "watchdog")]
    watch(world, lp, now);
    #[cfg(feature = "keep")]
    if let Some(keep) = lp.keep.as_mut() {
        lp.keep_due = keep
            .crashes(&mut world.table.slots, &mut world.own, now)
            .unwrap_or(u64::MAX);
    }
    if world.sup.finished(&world.table.slots) {
        end(world, lp, ending::Event::ServicesStopped, now);
    }
    if lp.ending.poll_at().is_some_and(|at| at <= now) {
        end(world, lp, ending::Event::Timer, now);
    }
}

/// Opens the watchdog and the keep directory the table names, unless they
/// are open: at start (`first`: a failure is said), then, while one is
/// missing and tend is not ending (the end closes the keep directory for
/// good), each time one more oneshot is done. The cold code it ran (and, at
/// start, start-up's) is dropped after.
#[cfg(any(feature = "watchdog", feature = "keep"))]
#[inline(never)]
fn open_late(world: &mut World, lp: &mut Loop<'_>, now: u64, first: bool) {
    let settings = &world.table.settings;
    let mut missing = false;
    #[cfg(feature = "keep")]
    {
        missing |= lp.keep.is_none() && settings.keep.len > 0;
    }
    #[cfg(feature = "watchdog")]
    {
        missing |= lp.dog.is_none() && settings.watchdog.len > 0;
    }
    if !(first || missing && matches!(lp.ending, Ending::Running)) {
        return;
    }
    let slots = &world.table.slots;
    let done = slots.iter().filter(|s| s.svc.state == State::Done).count();
    let more = core::mem::replace(&mut lp.done, done) < done;
    if !(first || more) {
        return;
    }
    let (settings, pool, own) = (&world.table.settings, &world.table.pool, &mut world.own);
    #[cfg(feature = "keep")]
    if lp.keep.is_none() {
        lp.keep = crate::keep::open(settings, pool, own, now, first);
    }
    #[cfg(feature = "watchdog")]
    if lp.dog.is_none() {
        lp.dog = crate::watchdog_dev::open(settings, pool, own, now, first);
    }
    sys::drop_cold();
}

/// Feeds the watchdog while every critical service is well, or lets the
/// board reset once one has been out of its good state for longer than the
/// grace (tend(8), WATCHDOG): said on the console and in tend's log, the
/// disks synced, the feeding stopped for good.
#[cfg(feature = "watchdog")]
#[inline(never)]
fn watch(world: &mut World, lp: &mut Loop<'_>, now: u64) {
    use crate::watchdog::{self, Health};
    let Some(dog) = lp.dog.as_mut().filter(|d| !d.feeder.stopped) else {
        return;
    };
    let grace = u64::from(world.table.settings.watchdog_grace_ms());
    lp.unwell_until = u64::MAX;
    match watchdog::check(&mut world.table.slots, grace, now) {
        Health::Fine(until) => {
            lp.unwell_until = until.unwrap_or(u64::MAX);
            crate::watchdog_dev::feed(dog, now);
        }
        Health::Sick(id) => {
            dog.feeder.stopped = true;
            let name = world.table.conf(id).map_or(&b""[..], |c| &c.name);
            // Why, said on the console and, after `watchdog: `, how this
            // boot ends as `tend last-boot` will say it.
            let mut why = crate::say::Buf::<96>::new();
            why.s(name).s(b" not up for ").u(grace / 1000).byte(b's');
            let why = why.as_bytes();
            let parts: [&[u8]; 2] = [b"watchdog: letting the board reset: ", why];
            report::say(Some((&mut world.own, now)), &parts);
            #[cfg(feature = "keep")]
            if let Some(keep) = lp.keep.as_mut() {
                let end: [&[u8]; 2] = [b"watchdog: ", why];
                keep.write(&mut world.table.slots, &mut world.own, &end, true, now);
            }
            rustix::fs::sync();
        }
    }
}

/// The poll timeout, from `at`, the nearest deadline of the sources
/// ([`entry`] has brought it down to theirs): until the nearest deadline of
/// all — the supervisor's (backoff retries, stop timeouts), the clients',
/// the log pipes', the control socket's and an `accept = yes` socket's
/// rests, the flood buffer's release, the ending's grace — or none when
/// nothing is due, so an idle tend makes no wakeups. 0 while a log pipe
/// has more to read; a second at most without a signalfd, as PID 1 then
/// reaps once a second. u64::MAX for none.
fn poll_timeout(lp: &Loop<'_>, now: u64, mut at: u64) -> u64 {
    if lp.busy {
        return 0;
    }
    let mut due = |d: Option<u64>| at = at.min(d.unwrap_or(u64::MAX));
    due(lp.ending.poll_at());
    due(Some(lp.flood_release_at));
    #[cfg(feature = "keep")]
    due(Some(lp.keep_due));
    #[cfg(feature = "watchdog")]
    if let Some(dog) = lp.dog.as_ref() {
        due(dog.feeder.due());
        due(Some(lp.unwell_until));
    }
    due(lp.fds.signals.is_none().then(|| now.saturating_add(1000)));
    // u64::MAX: nothing due.
    if at < u64::MAX {
        at.saturating_sub(now)
    } else {
        at
    }
}

/// Handles what poll found ready, in the poll set's order.
// Out of line: inlined into the loop it makes the binary bigger.
#[inline(never)]
fn handle(world: &mut World, lp: &mut Loop<'_>, ready: &Ready, now: u64) {
    lp.busy = false;
    if lp.fds.signals.is_none() {
        reap_all(world, lp, now);
    }
    for &n in ready {
        match src(usize::from(n)) {
            Src::Signals => read_signals(world, lp, now),
            Src::Listener => accept_client(world, lp, now),
            Src::Log(i) => lp.busy |= drain_log(world, lp, usize::from(i), now),
            Src::Ready(i) => on_pipe(world, &lp.fds.null, SvcId(i), now, false, false),
            Src::Exec(i) => on_pipe(world, &lp.fds.null, SvcId(i), now, true, false),
            Src::Syslog => lp.busy |= read_syslog(world, lp, now),
            Src::Client(i) => {
                if let Some(asked) = read_client(world, lp, i, now) {
                    obey(world, lp, usize::from(i), asked, now);
                }
            }
        }
    }
    ctl::expire(&mut world.clients, now);
}

/// Reaps every child that ended (SIGCHLD); once none is left, the ending
/// is told.
fn reap_all(world: &mut World, lp: &mut Loop<'_>, now: u64) {
    // (Services a reload removed are forgotten at the top of the next
    // round, with the deadlines.)
    if reap(world, &lp.fds.null, now) {
        end(world, lp, ending::Event::ChildrenGone, now);
    }
}

/// Carries out what client `i` asked for; tells it when that failed.
// Out of line: inlined into the loop it makes the binary bigger.
#[inline(never)]
fn obey(world: &mut World, lp: &mut Loop<'_>, i: usize, asked: reply::Intent, now: u64) {
    use reply::Intent as Asked;
    match asked {
        Asked::Power(power) => end(world, lp, ending::Event::Asked(How::System(power)), now),
        Asked::Start(set) | Asked::Stop(set) | Asked::Restart(set) => {
            let event = match asked {
                Asked::Start(_) => Event::Start,
                Asked::Stop(_) => Event::Stop,
                _ => Event::Restart,
            };
            let (sup, slots, mut sh) = parts(world, &lp.fds.null);
            for id in (0..slots.len()).map(|i| SvcId(i as u8)) {
                if set.has(id) {
                    sup.command(slots, id, event, now, &mut sh);
                }
            }
        }
        #[cfg(feature = "reload")]
        Asked::Reload { json } => {
            reload::reload(world, &lp.fds.null, lp.opt.table, now, Some((i, json)));
            sys::drop_cold();
        }
        // Refused by the parser in a tend built without it.
        #[cfg(not(feature = "reload"))]
        Asked::Reload { .. } => {}
        Asked::Signal { id, pid, sig } => {
            // An `accept = yes` service's instances, each in its group.
            #[cfg(feature = "listen")]
            if pid == 0 {
                return shell::signal_instances(&world.instances, id, sig, false);
            }
            let _ = id;
            // The reply checked that the service runs: its child is not
            // reaped.
            let sent = shell::signal_child(pid, sig.into(), false);
            if let (Err(e), Some(c)) = (sent, world.clients.get_mut(i)) {
                ctl::failed(c, b"signal", e);
            }
        }
    }
}

/// Feeds `event` to the ending and carries out the acts it decides, and
/// those that their outcome decides in turn.
fn end(world: &mut World, lp: &mut Loop<'_>, event: ending::Event, now: u64) {
    let mut next = Some(event);
    while let Some(event) = next.take() {
        for &act in lp.ending.step(event, now).iter() {
            next = act_out(world, lp, act, now).or(next);
        }
    }
}

/// What the acts of the ending say, in [`act_out`]'s order, each followed
/// by a NUL byte.
const SAID: &[u8] = b"stopping every service to %\0SIG%: stopping every service\0\
every service stopped; sending SIGTERM to every process\0\
sending SIGKILL to every process; %\0every service stopped; exiting\0reboot(2) failed: %\0";

/// Carries out one act of the ending; the event its outcome is, if any.
// Out of line: inlined into the loop it makes the binary bigger.
#[inline(never)]
fn act_out(world: &mut World, lp: &mut Loop<'_>, act: Act, now: u64) -> Option<ending::Event> {
    // What the act says, its `%` standing for the act's word (by index in
    // SAID; past its end, nothing).
    let (k, word): (usize, &[u8]) = match act {
        Act::StopServices(How::System(power)) => (0, power.doing()),
        Act::StopServices(How::Exit { signal }) => (1, crate::signal::name(signal)),
        Act::TermEveryone => (2, b""),
        Act::KillEveryone(power) => (3, power.doing()),
        Act::Exit => (4, b""),
        Act::SayRebootFailed(errno) => (5, crate::errno::describe(errno)),
        Act::Keep(_) | Act::Sync | Act::Unmount | Act::Reboot(_) => (6, b""),
    };
    let said = crate::say::nth(SAID, k);
    if !said.is_empty() {
        let at = said.iter().position(|&b| b == b'%').unwrap_or(said.len());
        let (first, rest) = said.split_at(at);
        let rest = rest.get(1..).unwrap_or_default();
        report::say(Some((&mut world.own, now)), &[first, word, rest]);
    }
    match act {
        Act::StopServices(_) => {
            let (sup, slots, mut sh) = parts(world, &lp.fds.null);
            sup.shutdown(slots, now, &mut sh);
        }
        Act::TermEveryone => {
            pid1::signal_everyone(sig::SIGTERM);
            // With nothing left to end, no SIGCHLD will come to end the
            // grace: the loop's reap finds no child, and it ends now
            // (tend(8), PID 1).
            if reap(world, &lp.fds.null, now) {
                return Some(ending::Event::ChildrenGone);
            }
        }
        Act::KillEveryone(_) => pid1::kill_everyone(),
        // Closed once written: its file system can then be unmounted.
        #[cfg(feature = "keep")]
        Act::Keep(power) => {
            if let Some(mut keep) = lp.keep.take() {
                let how = power.map_or(&b"stopped"[..], ending::Power::word);
                keep.write(&mut world.table.slots, &mut world.own, &[how], true, now);
            }
        }
        #[cfg(not(feature = "keep"))]
        Act::Keep(_) => {}
        Act::Sync => rustix::fs::sync(),
        Act::Unmount => pid1::unmount_all(world.scratch.pages()),
        Act::Reboot(power) => {
            let failed = pid1::reboot(power).err();
            return failed.map(|e| ending::Event::RebootFailed(crate::errno::of(e)));
        }
        Act::SayRebootFailed(_) => {}
        Act::Exit => {
            let mut pbuf = [0u8; 256];
            if let Some(p) = c_path(lp.opt.socket, &mut pbuf) {
                let _ = rustix::fs::unlink(p);
            }
        }
    }
    None
}

/// A flooding service's pipe, grown once to [`LOG_FLOOD_PIPE_BYTES`] and
/// read up to its size per round: the writer runs at its own speed while
/// tend still reads in batches. Left as it is when the kernel refuses (an
/// unprivileged tend past `/proc/sys/fs/pipe-user-pages-soft`).
fn grow_for_flood(pipe: &mut LogPipe<Fd>) {
    let size = rustix::pipe::fcntl_setpipe_size(&pipe.read, LOG_FLOOD_PIPE_BYTES).unwrap_or(0);
    pipe.flood_budget = size.max(PIPE_READ_BUDGET_BYTES) as u32;
}

/// The supervisor, the services' slots, and a [`Shell`] over what they
/// share, for the supervisor to route an event.
fn parts<'w>(
    world: &'w mut World,
    null: &'w Fd,
) -> (&'w mut Supervisor, &'w mut [Slot], Shell<'w>) {
    let World {
        table,
        sup,
        own,
        #[cfg(feature = "listen")]
        instances,
        ..
    } = world;
    let Table { slots, pool, .. } = table;
    let sh = Shell {
        pool,
        own,
        null: null.as_fd(),
        #[cfg(feature = "listen")]
        inst: instances,
    };
    (sup, slots, sh)
}

fn settle(world: &mut World, null: &Fd, now: u64) {
    let (sup, slots, mut sh) = parts(world, null);
    sup.settle(slots, now, &mut sh);
    // A readiness pipe is only of use while its service starts, a report
    // pipe while its child lives (it is closed once read, in any case), a
    // `listen` socket while it is to run again.
    for slot in slots.iter_mut() {
        let state = slot.svc.state;
        if !matches!(state, State::Forked | State::Starting) {
            slot.ready = None;
        }
        if !state.running() {
            slot.exec = None;
        }
        #[cfg(feature = "listen")]
        if !crate::listen_in::keeps_socket(state) {
            slot.socket = None;
        }
    }
}

/// Sends each client as much of its reply as it takes.
#[inline(never)]
fn serve_clients(world: &mut World, lp: &Loop<'_>, now: u64) {
    let (view, clients) = view(world, lp, now);
    for c in clients.iter_mut() {
        ctl::pump(c, &view);
    }
}

/// What the clients' replies read, and the clients.
fn view<'w>(
    world: &'w mut World,
    lp: &Loop<'_>,
    now: u64,
) -> (View<'w, Fd>, &'w mut [Client; MAX_CLIENTS]) {
    let World {
        table,
        sup,
        own,
        syslog,
        clients,
        ..
    } = world;
    // What `tend status` says of the watchdog: fed, until it lets go.
    #[cfg(feature = "watchdog")]
    let dog = lp.dog.as_ref().map(|d| crate::status::Dog {
        every_ms: d.feeder.every_ms,
        fed: !d.feeder.stopped,
    });
    #[cfg(not(feature = "watchdog"))]
    let dog = {
        let _ = lp;
        None
    };
    let view = View {
        table,
        sup,
        own,
        syslog,
        dog: dog.unwrap_or_default(),
        now,
    };
    (view, clients)
}

/// Polls every descriptor tend watches, until [`poll_timeout`]; puts in
/// `ready` the sources ready to be read, in order (a client only writable
/// is left to `serve_clients`).
// Out of line: its poll set (a `PollFd` per descriptor, 1.6 KB) is then on
// the stack only while tend polls, not under every handler.
#[inline(never)]
fn wait(world: &World, lp: &Loop<'_>, now: u64, ready: &mut Ready) -> Result<(), Errno> {
    let mut fds: heapless::Vec<PollFd<'_>, POLL_MAX> = heapless::Vec::new();
    // The source of each entry of the poll set.
    let mut polled = [0u8; POLL_MAX];
    // The nearest of the sources' deadlines (u64::MAX: none).
    let mut at = u64::MAX;
    for n in 0..SOURCES {
        if let Some((fd, flags)) = entry(world, lp, now, n, &mut at) {
            if let Some(at) = polled.get_mut(fds.len()) {
                *at = n as u8;
                // (Room: POLL_MAX is SOURCES.)
                let _ = fds.push(PollFd::new(fd, flags));
            }
        }
    }
    let ms = poll_timeout(lp, now, at);
    let ts = Timespec {
        tv_sec: (ms / 1000) as _,
        tv_nsec: ((ms % 1000) * 1_000_000) as _,
    };
    poll(&mut fds, (ms < u64::MAX).then_some(&ts))?;
    for (fd, &n) in fds.iter().zip(&polled) {
        // Anything but POLLOUT, which only a client asks for.
        if fd.revents().intersects(!PollFlags::OUT) {
            let _ = ready.push(n);
        }
    }
    Ok(())
}

/// Source `n`'s descriptor, if it is polled, and what for; brings `at`
/// down to the source's deadline: a client's, a resting log pipe's,
/// control socket's or (with its report pipe) `accept = yes` socket's, and
/// (with the log pipe) its service's.
fn entry<'w>(
    world: &'w World,
    lp: &'w Loop<'_>,
    now: u64,
    n: usize,
    at: &mut u64,
) -> Option<(&'w Fd, PollFlags)> {
    let slot = |i: u8| world.table.slots.get(usize::from(i));
    let mut due = |d: Option<u64>| {
        *at = (*at).min(d.unwrap_or(u64::MAX));
        d.is_none()
    };
    let mut flags = PollFlags::IN;
    let fd = match src(n) {
        Src::Signals => lp.fds.signals.as_ref(),
        Src::Listener => lp
            .fds
            .door
            .as_ref()
            .filter(|d| due(d.resting(now)))
            .map(|d| &d.listener),
        Src::Syslog if cfg!(feature = "syslog") => lp.fds.syslog.as_ref(),
        // (Always None then: the compiler is told so.)
        Src::Syslog => None,
        Src::Log(i) => slot(i)
            .filter(|s| {
                due(s.svc.deadline_ms);
                due(s.pace.resting(now))
            })
            .and_then(|s| s.log.as_ref())
            .map(|p| &p.read),
        // Report pipes before readiness pipes: an exec is confirmed before
        // the newline that follows it, when both arrive in one round. An
        // `accept = yes` service has no child of its own, so no report
        // pipe: its socket is polled in its place while it takes more
        // instances.
        #[cfg(feature = "listen")]
        Src::Exec(i) => slot(i).and_then(|s| {
            // A resting socket's rest ends then.
            due((s.rest_until > now).then_some(s.rest_until));
            (s.exec.as_ref()).or_else(|| crate::listen_in::ready_socket(s, &world.instances, now))
        }),
        #[cfg(not(feature = "listen"))]
        Src::Exec(i) => slot(i).and_then(|s| s.exec.as_ref()),
        Src::Ready(i) => slot(i).and_then(|s| s.ready.as_ref()),
        Src::Client(i) => world
            .clients
            .get(usize::from(i))
            .and_then(|c| {
                due(c.deadline());
                ctl::poll_fd(c)
            })
            .map(|(fd, out)| {
                if out {
                    flags |= PollFlags::OUT;
                }
                fd
            }),
    };
    Some((fd?, flags))
}

/// Reads every pending signal and carries out what each asks for: a reap
/// (SIGCHLD), a reload (SIGHUP), or an end (tend(8), SIGNALS and "Running
/// as PID 1").
#[inline(never)]
fn read_signals(world: &mut World, lp: &mut Loop<'_>, now: u64) {
    while let Some(signo) = lp.fds.signals.as_ref().and_then(sys::read_signal) {
        match signo {
            sig::SIGCHLD => reap_all(world, lp, now),
            #[cfg(feature = "reload")]
            sig::SIGHUP => {
                reload::reload(world, &lp.fds.null, lp.opt.table, now, None);
                sys::drop_cold();
            }
            _ => {
                if let Some(how) = How::of_signal(signo, lp.opt.pid1) {
                    end(world, lp, ending::Event::Asked(how), now);
                }
            }
        }
    }
}

/// Reaps every child that ended, services and orphans alike. True when no
/// child is left.
fn reap(world: &mut World, null: &Fd, now: u64) -> bool {
    loop {
        let (pid, status) = match rustix::process::wait(WaitOptions::NOHANG) {
            Ok(Some(ended)) => ended,
            Ok(None) => return false,
            Err(e) => return e == Errno::CHILD,
        };
        let pid = pid.as_raw_nonzero().get();
        #[cfg(feature = "listen")]
        if crate::listen_in::reaped(&mut world.instances, &mut world.table.slots, pid) {
            continue;
        }
        // Anything else is an orphan's end. A child that ended before its
        // report was read: the report says whether this is an exec failure
        // (exit 127: the service then forgot the pid, and its end is
        // nobody's) or a run that ended.
        if let Some(id) = supervisor::service_of(&world.table.slots, pid) {
            on_pipe(world, null, id, now, true, true);
            let (sup, slots, mut sh) = parts(world, null);
            if slots.get(id.index()).is_some_and(|s| s.svc.pid == pid) {
                sup.on_end(slots, id, exit_of(status), now, &mut sh);
            }
        }
    }
}

/// A new client at the control socket.
#[inline(never)]
fn accept_client(world: &mut World, lp: &mut Loop<'_>, now: u64) {
    let door = lp.fds.door.as_mut();
    if let Some(e) = door.and_then(|d| ctl::accept(d, &mut world.clients, now)) {
        let parts: [&[u8]; 3] = [
            b"control socket: ",
            crate::errno::symbol(crate::errno::of(e)),
            b": clients wait until a descriptor is free",
        ];
        report::say(Some((&mut world.own, now)), &parts);
    }
}

/// Reads the syslog socket through the flood buffer (given back once
/// messages stop coming, as after a flood). True when more waits than a
/// round's budget.
fn read_syslog(world: &mut World, lp: &mut Loop<'_>, now: u64) -> bool {
    #[cfg(feature = "syslog")]
    if let Some(fd) = lp.fds.syslog.as_ref() {
        lp.flood_release_at = now.saturating_add(LOG_BUF_KEEP_MS);
        let World {
            table,
            syslog,
            log_buf,
            ..
        } = world;
        return crate::syslog_in::read(fd, &mut table.slots, syslog, log_buf.pages(), now);
    }
    let _ = (world, lp, now);
    false
}

/// Reads service `i`'s log pipe into its ring, unless it rests. True when
/// the pipe had more than a round's budget.
fn drain_log(world: &mut World, lp: &mut Loop<'_>, i: usize, now: u64) -> bool {
    let Some(Slot {
        log: Some(pipe),
        ring,
        pace,
        ..
    }) = world.table.slots.get_mut(i)
    else {
        return false;
    };
    if pace.read_now(now) {
        // A flood is read through the big buffer, given back once it ends.
        let flood = match pipe.flood_budget {
            0 => None,
            _ => {
                lp.flood_release_at = now.saturating_add(LOG_BUF_KEEP_MS);
                Some(world.log_buf.pages())
            }
        };
        return drain(pipe, ring, flood, now);
    }
    if pipe.flood_budget == 0 {
        grow_for_flood(pipe);
    }
    false
}

/// Reads the report pipe (`exec`) of a service's child or its readiness
/// pipe, if it still has that pipe, and tells the supervisor once the pipe
/// has told: the exec, or the step that failed before it; the readiness
/// newline. `ended`: the child is reaped, so what its report pipe holds is
/// all it will ever hold.
fn on_pipe(world: &mut World, null: &Fd, id: SvcId, now: u64, exec: bool, ended: bool) {
    let Table { slots, pool, .. } = &mut world.table;
    #[cfg(not(feature = "listen"))]
    let _ = pool;
    let Some(slot) = slots.get_mut(id.index()) else {
        return;
    };
    // An `accept = yes` service's socket, in place of a report pipe: a
    // connection, and an instance started on it (closed if that fails).
    #[cfg(feature = "listen")]
    if exec && slot.conf.accept && !ended {
        let mut peer = [0u8; 28];
        let Some(conn) = crate::listen_in::accept(slot, &mut peer, now) else {
            return;
        };
        let started = shell::start(pool, null.as_fd(), slot, Some((conn.as_fd(), &peer)));
        if let Ok(pid) = started {
            world.instances.add(pid, id);
            slot.instances += 1;
            slot.served = slot.served.wrapping_add(1);
        }
        return;
    }
    let pipe = if exec {
        &mut slot.exec
    } else {
        &mut slot.ready
    };
    let Some(fd) = pipe.as_ref() else { return };
    let event = if exec {
        match spawn::read_report(fd) {
            Report::Pending if !ended => return,
            Report::Pending | Report::Execd => Some(Event::Execd),
            Report::Failed(err) => Some(Event::SpawnFailed(err)),
        }
    } else {
        // Only the newline counts; the pipe's end (or an error) is no
        // readiness, and the pipe goes all the same.
        let mut buf = [0u8; 64];
        match rustix::io::read(fd, &mut buf) {
            Ok(n @ 1..) => match buf.get(..n).is_some_and(|b| crate::say::has(b, b'\n')) {
                true => Some(Event::Ready),
                false => return,
            },
            Err(Errno::AGAIN | Errno::INTR) => return,
            Ok(0) | Err(_) => None,
        }
    };
    *pipe = None;
    if let Some(event) = event {
        let (sup, slots, mut sh) = parts(world, null);
        sup.on_child(slots, id, event, now, &mut sh);
    }
}

fn exit_of(status: WaitStatus) -> Exit {
    match (status.exit_status(), status.terminating_signal()) {
        (Some(code), _) => Exit::Code(code as u8),
        (None, Some(s)) => Exit::Signal(s as u8),
        (None, None) => Exit::Code(255),
    }
}

/// Reads a client's request and begins its reply; what it asks tend to do,
/// if anything.
fn read_client(world: &mut World, lp: &Loop<'_>, i: u8, now: u64) -> Option<reply::Intent> {
    let (view, clients) = view(world, lp, now);
    ctl::on_readable(clients.get_mut(usize::from(i))?, &view, lp.opt.pid1)
}
