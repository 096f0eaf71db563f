//! The one poll loop.
//!
//! # Theory of operation
//! Everything that can happen to tend arrives on a descriptor: signals on a
//! signalfd (SIGCHLD, SIGTERM, SIGINT…, all blocked), each service's output
//! on its log pipe, a readiness newline on a readiness pipe, a forked
//! child's exec (end-of-file) or failed start (its step and errno) on its
//! close-on-exec report pipe, requests on the control socket and its
//! clients. Each round polls them all with the nearest deadline (a backoff
//! retry, a stop timeout, a client's) as the timeout — none when there is
//! nothing to wait for, so an idle tend sleeps in one poll and makes no
//! wakeups. The round then reaps every child that ended (orphans too),
//! reads the pipes into the rings, serves the clients, and lets the
//! supervisor settle: fire due deadlines and start or stop what can go.
//!
//! Nothing in a round waits for another process: starting a service is a
//! fork, and the service is `starting` until its report pipe tells. A child
//! reaped before its report was read has the report read first, so an exec
//! failure is never taken for an exit.

use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::fd::AsFd;
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::net;
use rustix::process::{WaitOptions, WaitStatus};

use linux_raw_sys::general as sig;

use crate::ctl::{self, Client, Ctx, Door};
use crate::limits::*;
use crate::load::{self, c_path, complain};
use crate::pid1;
use crate::proto::Verb;
use crate::ring::Ring;
use crate::say::Buf;
use crate::service::{Exit, State};
use crate::shell::write_all;
use crate::shell::{drain, say, Shell};
use crate::spawn::{self, Report};
use crate::status::View;
use crate::supervisor::Supervisor;
use crate::sys::{self, Fd, SigSet};
use crate::table::SvcId;
use crate::table::Table;
use crate::table::{self, EtcAccounts};
use crate::world::{LogPipe, World};

/// How this supervisor was started.
pub struct Options<'a> {
    pub table: &'a [u8],
    pub socket: &'a [u8],
    pub pid1: bool,
}

/// What a poll entry is.
#[derive(Clone, Copy)]
enum Src {
    Signals,
    Listener,
    Log(u8),
    Ready(u8),
    Exec(u8),
    Client(u8),
}

/// The signals tend takes through its signalfd (all others keep their
/// default action).
fn handled() -> SigSet {
    SigSet::EMPTY
        .with(sig::SIGCHLD)
        .with(sig::SIGTERM)
        .with(sig::SIGINT)
        .with(sig::SIGHUP)
        .with(sig::SIGUSR1)
        .with(sig::SIGUSR2)
        .with(sig::SIGPIPE)
}

/// The descriptors the loop waits on, besides the services' pipes.
struct Io {
    /// None only when PID 1 could not make one: it then reaps once a second.
    signals: Option<Fd>,
    /// None when PID 1 could not listen: it runs on without clients.
    door: Option<Door>,
    null: Fd,
}

/// How far an ending has come.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ending {
    Running,
    /// Services stopping; then, for PID 1, `verb`.
    Stopping(Verb),
    /// PID 1: SIGTERM sent to every process; SIGKILL at `until`.
    Grace {
        verb: Verb,
        until: u64,
    },
    /// PID 1: reboot(2) failed; nothing left to do but stay alive.
    Stuck,
}

/// Supervises until told to stop; returns the exit status. As PID 1 it
/// never returns: it ends in reboot(2).
pub fn supervise(world: &mut World, arena: &'static mut [u8], opt: &Options<'_>) -> i32 {
    let mut io = match start(world, arena, opt) {
        Ok(io) => io,
        Err(code) => return code,
    };
    // From now on, tend must not die: every failure is reported and retried.
    let mut ending = Ending::Running;
    let mut more_input = false;
    loop {
        let now = sys::now_ms();
        if let Some(door) = io.door.as_mut() {
            door.restock(&io.null);
        }
        settle(world, &io.null, now);
        pump_clients(world, now);
        if world.sup.finished() {
            match ending {
                _ if !opt.pid1 => {
                    say(&mut world.own, now, b"every service stopped; exiting");
                    let mut pbuf = [0u8; 256];
                    if let Some(p) = c_path(opt.socket, &mut pbuf) {
                        let _ = rustix::fs::unlink(p);
                    }
                    return 0;
                }
                Ending::Running | Ending::Stopping(_) => {
                    let verb = if let Ending::Stopping(v) = ending {
                        v
                    } else {
                        Verb::Reboot
                    };
                    say(
                        &mut world.own,
                        now,
                        b"every service stopped; sending SIGTERM to every process",
                    );
                    pid1::signal_everyone(sig::SIGTERM);
                    ending = Ending::Grace {
                        verb,
                        until: now.saturating_add(pid1::KILL_GRACE_MS),
                    };
                }
                Ending::Grace { verb, until } if now >= until || !children_left() => {
                    let mut msg = Buf::<64>::new();
                    msg.s(b"sending SIGKILL to every process; ")
                        .s(pid1::verb_doing(verb));
                    say(&mut world.own, now, msg.as_bytes());
                    pid1::finish(verb, world.scratch.pages());
                    ending = Ending::Stuck;
                }
                Ending::Grace { .. } | Ending::Stuck => {}
            }
        }
        let mut timeout = next_timeout(world, &io, now, more_input);
        if let Ending::Grace { until, .. } = ending {
            timeout = Some(timeout.unwrap_or(u64::MAX).min(until.saturating_sub(now)));
        }
        if io.signals.is_none() {
            timeout = Some(timeout.unwrap_or(1000).min(1000));
        }
        let mut events: heapless::Vec<(Src, PollFlags), POLL_MAX> = heapless::Vec::new();
        if let Err(e) = wait(world, &io, now, timeout, &mut events) {
            if e != Errno::INTR {
                complain(b"poll", b"", e);
            }
            continue;
        }
        let now = sys::now_ms();
        more_input = false;
        let mut power: Option<Verb> = None;
        if io.signals.is_none() {
            reap_children(world, &io.null, now);
        }
        for &(src, flags) in &events {
            match src {
                Src::Signals => on_signals(world, &io, now, opt.pid1, &mut power),
                Src::Listener => {
                    let door = io.door.as_mut();
                    if let Some(e) = door.and_then(|d| ctl::accept(d, &mut world.clients, now)) {
                        let mut msg = Buf::<96>::new();
                        msg.s(b"control socket: ")
                            .s(crate::errno::symbol(crate::errno::of(e)))
                            .s(b": clients wait until a descriptor is free");
                        say(&mut world.own, now, msg.as_bytes());
                    }
                }
                Src::Log(i) => {
                    let i = usize::from(i);
                    if let (Some(Some(pipe)), Some(ring), Some(pace)) = (
                        world.pipes.get_mut(i),
                        world.rings.get_mut(i),
                        world.paces.get_mut(i),
                    ) {
                        if pace.read_now(now) {
                            more_input |= drain(pipe, ring, now);
                        } else if pipe.flood_budget == 0 {
                            grow_for_flood(pipe);
                        }
                    }
                }
                Src::Ready(i) => on_ready_pipe(world, &io.null, SvcId(i), now),
                Src::Exec(i) => on_exec_pipe(world, &io.null, SvcId(i), now, false),
                Src::Client(i) => on_client(
                    world,
                    &io.null,
                    usize::from(i),
                    flags,
                    now,
                    &mut power,
                    opt.pid1,
                ),
            }
        }
        ctl::expire(&mut world.clients, now);
        if let (Some(verb), Ending::Running) = (power, ending) {
            let mut msg = Buf::<64>::new();
            msg.s(b"stopping every service to ")
                .s(pid1::verb_doing(verb));
            say(&mut world.own, now, msg.as_bytes());
            ending = Ending::Stopping(verb);
            run_shell(world, &io.null, |sup, table, sh| {
                sup.shutdown(table, now, sh)
            });
        }
    }
}

/// Everything before the loop: PID 1's set-up, the table (or the rescue
/// table), signals, the log pipes, the control socket. `Err` holds the exit
/// status when tend cannot supervise (never as PID 1).
fn start(world: &mut World, arena: &'static mut [u8], opt: &Options<'_>) -> Result<Io, i32> {
    // Descriptors inherited from whoever started tend must not leak into
    // the services: tend's own are all close-on-exec.
    sys::cloexec_from(3);
    if opt.pid1 {
        pid1::early_setup();
    }
    // With 0–2 closed, the first descriptors tend opens would become a
    // service's stdio or take tend's own messages.
    while sys::open(c"/dev/null", OFlags::RDWR, 0).is_ok_and(|fd| fd.raw() <= 2 && fd.leak()) {}
    let errors = load::load(world, opt.table, b"");
    if errors > 0 {
        let mut msg = Buf::<320>::new();
        msg.s(b"tend: ")
            .s(opt.table)
            .s(b": not started: ")
            .u(errors as u64)
            .s(b" error(s)\n");
        write_all(sys::stderr(), msg.as_bytes());
        if !opt.pid1 {
            return Err(100);
        }
        pid1::announce(b"starting the rescue shell instead");
        let none = EtcAccounts {
            passwd: b"",
            group: b"",
        };
        table::parse(pid1::RESCUE_TABLE, &none, &mut world.table, &mut |_, _| {});
    }
    let set = handled();
    let signals = match sys::set_signal_mask(set).and_then(|()| sys::signalfd(set)) {
        Ok(fd) => Some(fd),
        Err(e) if opt.pid1 => {
            complain(b"signalfd", b"", e);
            None
        }
        Err(e) => return Err(fatal(b"signalfd", e)),
    };
    if !opt.pid1 {
        if let Err(e) = rustix::process::set_child_subreaper(Some(rustix::process::getpid())) {
            complain(b"warning: cannot become the child subreaper", b"", e);
        }
    }
    let null = match sys::open(c"/dev/null", OFlags::RDWR | OFlags::CLOEXEC, 0) {
        Ok(fd) => fd,
        Err(e) if !opt.pid1 => return Err(fatal(b"/dev/null", e)),
        // PID 1 without /dev/null: services get the console as stdin.
        Err(_) => sys::dup_at_least(sys::stdin(), 3).map_err(|e| fatal(b"/dev/null", e))?,
    };
    if let Err(e) = set_up_logs(world, arena) {
        complain(b"log pipes", b"", e);
        if !opt.pid1 {
            return Err(111);
        }
    }
    let door = match listen(opt.socket) {
        Ok(fd) => Some(Door::new(fd, &null)),
        Err(e) => {
            let why = if e == Errno::ADDRINUSE {
                b"another tend is already running on ".as_slice()
            } else {
                b"cannot listen on "
            };
            complain(why, opt.socket, e);
            if !opt.pid1 {
                return Err(111);
            }
            None
        }
    };
    let now = sys::now_ms();
    world.sup.load(&world.table);
    let mut msg = Buf::<320>::new();
    let n = world.table.len();
    msg.s(b"supervising ")
        .u(n as u64)
        .s(if n == 1 {
            b" service from "
        } else {
            b" services from "
        })
        .s(opt.table);
    say(&mut world.own, now, msg.as_bytes());
    Ok(Io {
        signals,
        door,
        null,
    })
}

/// Whether any child is left to wait for.
fn children_left() -> bool {
    !matches!(
        rustix::process::wait(WaitOptions::NOHANG),
        Err(Errno::CHILD)
    )
}

fn fatal(what: &[u8], e: Errno) -> i32 {
    complain(what, b"", e);
    111
}

/// Carves the arena into rings and opens a log pipe per service with one.
fn set_up_logs(world: &mut World, arena: &'static mut [u8]) -> Result<(), Errno> {
    let mut rest = arena;
    let take = |rest: &mut &'static mut [u8], n: usize| -> &'static mut [u8] {
        let all = core::mem::take(rest);
        let n = n.min(all.len());
        let (mine, others) = all.split_at_mut(n);
        *rest = others;
        mine
    };
    world.own = Ring::new(take(&mut rest, LOG_SELF_BYTES as usize));
    for id in world.table.ids() {
        let Some(conf) = world.table.get(id) else {
            continue;
        };
        let i = id.index();
        if conf.console {
            continue;
        }
        // `log = 0` still gets a pipe, into an empty ring that counts what
        // it drops.
        if let (Some(r), true) = (world.rings.get_mut(i), conf.log_bytes > 0) {
            *r = Ring::new(take(&mut rest, conf.log_bytes as usize));
        }
        let (read, write) = sys::pipe(linux_raw_sys::general::O_CLOEXEC)?;
        rustix::fs::fcntl_setfl(&read, OFlags::NONBLOCK)?;
        if let Some(p) = world.pipes.get_mut(i) {
            *p = Some(LogPipe::new(read, write));
        }
    }
    Ok(())
}

/// A flooding service's pipe, grown once to [`LOG_FLOOD_PIPE_BYTES`] and
/// read up to its size per round: the writer runs at its own speed while
/// tend still reads in batches. Left as it is when the kernel refuses (an
/// unprivileged tend past `/proc/sys/fs/pipe-user-pages-soft`).
fn grow_for_flood(pipe: &mut LogPipe) {
    let size = rustix::pipe::fcntl_setpipe_size(&pipe.read, LOG_FLOOD_PIPE_BYTES).unwrap_or(0);
    pipe.flood_budget = size.max(PIPE_READ_BUDGET_BYTES);
}

/// Binds the control socket, mode 0600; refuses if a live tend answers
/// there already.
fn listen(path: &[u8]) -> Result<Fd, Errno> {
    let mut pbuf = [0u8; 256];
    let cpath = c_path(path, &mut pbuf).ok_or(Errno::NAMETOOLONG)?;
    let addr = sys::unix_addr(cpath)?;
    let probe = sys::unix_socket(linux_raw_sys::general::O_CLOEXEC)?;
    if sys::connect(&probe, &addr).is_ok() {
        return Err(Errno::ADDRINUSE);
    }
    drop(probe);
    let _ = rustix::fs::unlink(cpath);
    let fd =
        sys::unix_socket(linux_raw_sys::general::O_CLOEXEC | linux_raw_sys::general::O_NONBLOCK)?;
    let old = rustix::process::umask(Mode::from_raw_mode(0o077));
    let bound = sys::bind(&fd, &addr);
    rustix::process::umask(old);
    bound?;
    rustix::fs::chmod(cpath, Mode::from_raw_mode(0o600))?;
    net::listen(&fd, 64)?;
    Ok(fd)
}

/// The world's parts as the supervisor and the clients need them: the
/// supervisor, a [`Shell`] over the rest, and the clients.
fn split<'w>(
    world: &'w mut World,
    null: &'w Fd,
) -> (&'w mut Supervisor, Shell<'w>, &'w mut [Client; MAX_CLIENTS]) {
    let World {
        table,
        sup,
        rings,
        crashes,
        own,
        pipes,
        ready,
        execs,
        clients,
        ..
    } = world;
    (
        sup,
        Shell {
            table,
            rings,
            crashes,
            own,
            pipes,
            ready,
            execs,
            null: null.as_fd(),
        },
        clients,
    )
}

/// Runs `f` with the supervisor and a [`Shell`] over the world's parts.
fn run_shell<R>(
    world: &mut World,
    null: &Fd,
    f: impl FnOnce(&mut Supervisor, &Table, &mut Shell<'_>) -> R,
) -> R {
    let (sup, mut sh, _) = split(world, null);
    let table = sh.table;
    f(sup, table, &mut sh)
}

fn settle(world: &mut World, null: &Fd, now: u64) {
    run_shell(world, null, |sup, table, sh| sup.settle(table, now, sh));
    // A readiness pipe is only of use while its service starts, a report
    // pipe while its child lives (it is closed once read, in any case).
    for id in world.table.ids() {
        let state = world.sup.get(id).map(|s| s.state);
        let starting = matches!(state, Some(State::Forked | State::Starting));
        if let (false, Some(slot)) = (starting, world.ready.get_mut(id.index())) {
            *slot = None;
        }
        let running = state.is_some_and(State::running);
        if let (false, Some(slot)) = (running, world.execs.get_mut(id.index())) {
            *slot = None;
        }
    }
}

fn pump_clients(world: &mut World, now: u64) {
    let World {
        table,
        sup,
        rings,
        crashes,
        own,
        clients,
        ..
    } = world;
    let view = View {
        table,
        sup,
        rings: rings.as_slice(),
        crashes: crashes.as_slice(),
        now,
    };
    for c in clients.iter_mut() {
        ctl::pump(c, &view, own);
    }
}

fn next_timeout(world: &World, io: &Io, now: u64, busy: bool) -> Option<u64> {
    if busy {
        return Some(0);
    }
    let clients = world.clients.iter().filter_map(|c| c.deadline()).min();
    let resting = world.paces.iter().filter_map(|p| p.resting(now)).min();
    let door = io.door.as_ref().and_then(|d| d.resting(now));
    [world.sup.next_deadline(), clients, resting, door]
        .into_iter()
        .flatten()
        .min()
        .map(|d| d.saturating_sub(now))
}

/// Polls every descriptor tend watches; fills `events` with what is ready.
fn wait(
    world: &World,
    io: &Io,
    now: u64,
    timeout_ms: Option<u64>,
    events: &mut heapless::Vec<(Src, PollFlags), POLL_MAX>,
) -> Result<(), Errno> {
    let mut fds: heapless::Vec<PollFd<'_>, POLL_MAX> = heapless::Vec::new();
    let mut srcs: heapless::Vec<Src, POLL_MAX> = heapless::Vec::new();
    fn push<'a>(
        fds: &mut heapless::Vec<PollFd<'a>, POLL_MAX>,
        srcs: &mut heapless::Vec<Src, POLL_MAX>,
        fd: PollFd<'a>,
        src: Src,
    ) {
        if fds.push(fd).is_ok() {
            let _ = srcs.push(src);
        }
    }
    let mut add = |fd, src| push(&mut fds, &mut srcs, fd, src);
    if let Some(fd) = io.signals.as_ref() {
        add(PollFd::new(fd, PollFlags::IN), Src::Signals);
    }
    if let Some(door) = io.door.as_ref().filter(|d| d.resting(now).is_none()) {
        add(PollFd::new(&door.listener, PollFlags::IN), Src::Listener);
    }
    for (i, (pipe, pace)) in world.pipes.iter().zip(&world.paces).enumerate() {
        if let (Some(p), None) = (pipe, pace.resting(now)) {
            add(PollFd::new(&p.read, PollFlags::IN), Src::Log(i as u8));
        }
    }
    // Report pipes before readiness pipes: an exec is confirmed before the
    // newline that follows it, when both arrive in one round.
    for (i, r) in world.execs.iter().enumerate() {
        if let Some(fd) = r {
            add(PollFd::new(fd, PollFlags::IN), Src::Exec(i as u8));
        }
    }
    for (i, r) in world.ready.iter().enumerate() {
        if let Some(fd) = r {
            add(PollFd::new(fd, PollFlags::IN), Src::Ready(i as u8));
        }
    }
    for (i, c) in world.clients.iter().enumerate() {
        if let Some((fd, out)) = ctl::poll_fd(c) {
            let flags = if out {
                PollFlags::IN | PollFlags::OUT
            } else {
                PollFlags::IN
            };
            add(PollFd::new(fd, flags), Src::Client(i as u8));
        }
    }
    let ts = timeout_ms.map(|ms| Timespec {
        tv_sec: (ms / 1000) as _,
        tv_nsec: ((ms % 1000) * 1_000_000) as _,
    });
    poll(&mut fds, ts.as_ref())?;
    for (fd, src) in fds.iter().zip(srcs.iter()) {
        let r = fd.revents();
        if !r.is_empty() {
            let _ = events.push((*src, r));
        }
    }
    Ok(())
}

fn on_signals(world: &mut World, io: &Io, now: u64, pid1: bool, power: &mut Option<Verb>) {
    let Some(fd) = io.signals.as_ref() else {
        return;
    };
    let mut reap = false;
    while let Some(signo) = sys::read_signal(fd) {
        match signo {
            sig::SIGCHLD => reap = true,
            _ if pid1 => *power = pid1::power_verb(signo).or(*power),
            sig::SIGTERM | sig::SIGINT if !world.sup.shutting_down() => {
                let mut msg = Buf::<64>::new();
                msg.s(b"SIG")
                    .s(crate::signal::name(signo as u8))
                    .s(b": stopping every service");
                say(&mut world.own, now, msg.as_bytes());
                run_shell(world, &io.null, |sup, table, sh| {
                    sup.shutdown(table, now, sh)
                });
            }
            _ => {}
        }
    }
    if reap {
        reap_children(world, &io.null, now);
    }
}

/// Reaps every child that ended, services and orphans alike.
fn reap_children(world: &mut World, null: &Fd, now: u64) {
    while let Ok(Some((pid, status))) = rustix::process::wait(WaitOptions::NOHANG) {
        let pid = pid.as_raw_nonzero().get();
        // A child that ended before its report was read: the report says
        // whether this is an exec failure (exit 127) or a run that ended.
        if let Some(id) = world.sup.service_of(pid) {
            on_exec_pipe(world, null, id, now, true);
        }
        let exit = exit_of(status);
        run_shell(world, null, |sup, table, sh| {
            sup.on_exit(table, pid, exit, now, sh)
        });
    }
}

/// Reads the report pipe of a service's child, if it still has one, and
/// tells the supervisor once it has told. `ended`: the child is reaped, so
/// what the pipe holds is all it will ever hold.
fn on_exec_pipe(world: &mut World, null: &Fd, id: SvcId, now: u64, ended: bool) {
    let Some(slot) = world.execs.get_mut(id.index()) else {
        return;
    };
    let Some(fd) = slot.as_ref() else { return };
    let result = match spawn::read_report(fd) {
        Report::Pending if !ended => return,
        Report::Pending | Report::Execd => Ok(()),
        Report::Failed(err) => Err(err),
    };
    *slot = None;
    run_shell(world, null, |sup, table, sh| {
        sup.on_exec(table, id, result, now, sh)
    });
}

fn exit_of(status: WaitStatus) -> Exit {
    match (status.exit_status(), status.terminating_signal()) {
        (Some(code), _) => Exit::Code(code as u8),
        (None, Some(s)) => Exit::Signal(s as u8),
        (None, None) => Exit::Code(255),
    }
}

fn on_ready_pipe(world: &mut World, null: &Fd, id: SvcId, now: u64) {
    let Some(slot) = world.ready.get_mut(id.index()) else {
        return;
    };
    let Some(fd) = slot.as_ref() else { return };
    let mut buf = [0u8; 64];
    let ready = match rustix::io::read(fd, &mut buf) {
        Ok(0) => {
            *slot = None;
            false
        }
        Ok(n) => buf.get(..n).is_some_and(|b| b.contains(&b'\n')),
        Err(Errno::AGAIN | Errno::INTR) => false,
        Err(_) => {
            *slot = None;
            false
        }
    };
    if ready {
        *slot = None;
        run_shell(world, null, |sup, table, sh| {
            sup.on_ready(table, id, now, sh)
        });
    }
}

fn on_client(
    world: &mut World,
    null: &Fd,
    i: usize,
    flags: PollFlags,
    now: u64,
    power: &mut Option<Verb>,
    pid1: bool,
) {
    if !flags.intersects(PollFlags::IN | PollFlags::HUP | PollFlags::ERR) {
        return; // only writable: pump_clients sends.
    }
    let (sup, mut sh, clients) = split(world, null);
    let Some(c) = clients.get_mut(i) else { return };
    let table = sh.table;
    let mut ctx = Ctx {
        table,
        sup,
        shell: &mut sh,
        now,
        power,
        pid1,
    };
    ctl::on_readable(c, &mut ctx);
}
