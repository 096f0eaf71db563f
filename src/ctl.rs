//! The supervisor's side of the control socket: accepting clients, checking
//! who they are, reading one request each and streaming the reply as the
//! client drains it. Everything is non-blocking and every client has a
//! deadline, so a slow or hostile client can never stall the loop.

use rustix::io::Errno;
use rustix::net::{self, RecvFlags, SendFlags};

use crate::limits::*;
use crate::proto::{self, Request, Verb};
use crate::report::{
    self, EXIT_FAILED, EXIT_NOT_AS_WANTED, EXIT_OK, EXIT_UNKNOWN_NAME, EXIT_USAGE,
};
use crate::ring::Ring;
use crate::say::Buf;
use crate::shell::Shell;
use crate::status::{self, View, Widths, JSON_SERVICE_MAX_BYTES, ROW_MAX_BYTES};
use crate::supervisor::Supervisor;
use crate::sys::{self, Fd};
use crate::table::{SvcId, Table};

/// Whose log a `log` reply reads.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum LogSrc {
    Own,
    Service(SvcId),
}

/// What a client's reply still has to produce.
///
/// `repr(u8)`: an explicit tag, 0 for [`Job::Request`], so an idle client
/// is all zero bytes and the clients stay in .bss (a niche in a field can
/// otherwise give the first variant a non-zero tag, which moves the whole
/// static world into the binary).
#[derive(Clone, Copy)]
#[repr(u8)]
enum Job {
    /// Waiting for the request line.
    Request,
    /// Rows of the status table (or JSON objects) for the services in
    /// `set`, from `next` on; with one service, its detail follows.
    Rows {
        set: u64,
        next: u8,
        json: bool,
        w: Widths,
        first: bool,
        detail: bool,
    },
    /// A `log` reply about to start: the last `lines` lines (or all).
    LogStart {
        src: LogSrc,
        lines: Option<u32>,
        follow: bool,
        utc: bool,
    },
    /// Log lines from `pos`; `follow` keeps the client for new ones.
    Lines {
        src: LogSrc,
        pos: u64,
        follow: bool,
        then_crash: Option<SvcId>,
        /// `-t`: the wall clock's offset from boot time, in ms.
        utc: Option<u64>,
        /// Bytes of the line at `pos` already shown while it was still
        /// being written (a follower sees the rest when it is ended).
        shown: u16,
    },
    /// The frozen crash text of a service, from byte `off`.
    Crash { id: SvcId, off: usize },
    /// Everything produced: close once the buffer is sent.
    Close,
}

pub struct Client {
    fd: Option<Fd>,
    input: Buf<REQUEST_MAX_BYTES>,
    out: Buf<CLIENT_OUT_BYTES>,
    job: Job,
    deadline_ms: u64,
}

impl Client {
    pub const fn new() -> Client {
        Client {
            fd: None,
            input: Buf::new(),
            out: Buf::new(),
            job: Job::Request,
            deadline_ms: 0,
        }
    }

    /// Waiting to send: poll for POLLOUT.
    pub fn wants_write(&self) -> bool {
        !self.out.is_empty()
    }

    /// The time by which it must have finished its current phase (`None` for
    /// an idle follower).
    pub fn deadline(&self) -> Option<u64> {
        match (self.fd.is_some(), self.job) {
            (false, _) => None,
            (true, Job::Lines { follow: true, .. }) if self.out.is_empty() => None,
            (true, _) => Some(self.deadline_ms),
        }
    }

    fn drop_connection(&mut self) {
        self.fd = None;
        self.input.clear();
        self.out.clear();
        self.job = Job::Request;
    }
}

impl Default for Client {
    fn default() -> Self {
        Self::new()
    }
}

/// Everything a reply may read or change.
pub struct Ctx<'a, 'w> {
    pub table: &'a Table,
    pub sup: &'a mut Supervisor,
    pub shell: &'a mut Shell<'w>,
    pub now: u64,
    /// `tend reboot|poweroff|halt` were asked for (PID 1 acts on it).
    pub power: &'a mut Option<Verb>,
    pub pid1: bool,
}

/// The control socket's door. A spare descriptor is kept so that one
/// client still gets in when tend has run out of descriptors — `tend status`
/// is wanted then most of all. When even the spare is taken, the listener
/// rests out of the poll set for [`ACCEPT_REST_MS`] rather than wake tend in
/// a loop, and clients wait in the listen backlog.
pub struct Door {
    pub listener: Fd,
    spare: Option<Fd>,
    rest_until: Option<u64>,
    /// The failure that made it rest was told; not again until an accept
    /// works.
    told: bool,
}

impl Door {
    pub fn new(listener: Fd, null: &Fd) -> Door {
        let mut door = Door {
            listener,
            spare: None,
            rest_until: None,
            told: false,
        };
        door.restock(null);
        door
    }

    /// Takes a descriptor for the spare again once one is free.
    pub fn restock(&mut self, null: &Fd) {
        if self.spare.is_none() {
            self.spare = sys::dup_at_least(null, 3).ok();
        }
    }

    /// Until when the listener stays out of the poll set, if it rests at
    /// `now`.
    pub fn resting(&self, now: u64) -> Option<u64> {
        self.rest_until.filter(|&until| now < until)
    }
}

/// Accepts every pending connection; refuses strangers and, when every slot
/// is taken, evicts the client that has waited longest without a request.
/// Returns why accepting failed when the door starts to rest and that was
/// not told yet.
pub fn accept(door: &mut Door, clients: &mut [Client; MAX_CLIENTS], now: u64) -> Option<Errno> {
    loop {
        let fd = match sys::accept(
            &door.listener,
            linux_raw_sys::general::O_CLOEXEC | linux_raw_sys::general::O_NONBLOCK,
        ) {
            Ok(fd) => fd,
            Err(Errno::AGAIN) => return None,
            Err(Errno::INTR | Errno::CONNABORTED) => continue,
            Err(e) => {
                // Out of descriptors (or memory): give up the spare so this
                // client gets in, or rest when it is gone already.
                if let Some(spare) = door.spare.take() {
                    drop(spare);
                    continue;
                }
                door.rest_until = Some(now.saturating_add(ACCEPT_REST_MS));
                let untold = !door.told;
                door.told = true;
                return untold.then_some(e);
            }
        };
        door.told = false;
        let me = rustix::process::geteuid().as_raw();
        match sys::peer_uid(&fd) {
            Ok(uid) if uid == 0 || uid == me => {}
            _ => {
                let mut msg = Buf::<96>::new();
                msg.byte(1)
                    .s(b"tend: refused: only root and uid ")
                    .u(me.into())
                    .s(b" may control this supervisor\n");
                let _ = net::send(
                    &fd,
                    msg.as_bytes(),
                    SendFlags::DONTWAIT | SendFlags::NOSIGNAL,
                );
                // Take in what it sent, so closing does not reset the
                // connection before it reads the refusal; a bounded amount,
                // so a client that keeps sending cannot hold the loop here.
                let _ = net::shutdown(&fd, net::Shutdown::Write);
                let mut sink = [0u8; 256];
                for _ in 0..16 {
                    match net::recv(&fd, &mut sink, RecvFlags::DONTWAIT) {
                        Ok((n, _)) if n > 0 => {}
                        _ => break,
                    }
                }
                continue;
            }
        }
        let slot = match clients.iter().position(|c| c.fd.is_none()) {
            Some(i) => i,
            None => {
                // Every slot taken: the newcomer replaces the client that
                // has been stuck longest, one still sending its request or
                // one not reading its reply, so a flood of such clients
                // cannot lock the operator out.
                let stuck = clients
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| matches!(c.job, Job::Request) || !c.out.is_empty())
                    .min_by_key(|(_, c)| c.deadline_ms)
                    .map(|(i, _)| i);
                match stuck {
                    Some(i) => i,
                    None => {
                        let _ = net::send(
                            &fd,
                            b"\x01tend: busy: too many clients\n",
                            SendFlags::DONTWAIT | SendFlags::NOSIGNAL,
                        );
                        continue;
                    }
                }
            }
        };
        if let Some(c) = clients.get_mut(slot) {
            c.drop_connection();
            c.fd = Some(fd);
            c.deadline_ms = now.saturating_add(CLIENT_REQUEST_TIMEOUT_MS);
        }
    }
}

/// Drops clients whose deadline passed.
pub fn expire(clients: &mut [Client; MAX_CLIENTS], now: u64) {
    for c in clients.iter_mut() {
        if c.deadline().is_some_and(|d| d <= now) {
            c.drop_connection();
        }
    }
}

/// The client's socket is readable (or hung up): take in request bytes.
pub fn on_readable(c: &mut Client, ctx: &mut Ctx<'_, '_>) {
    let Some(fd) = c.fd.as_ref() else { return };
    let mut buf = [0u8; 512];
    match net::recv(fd, &mut buf, RecvFlags::DONTWAIT) {
        Ok((0, _)) => return c.drop_connection(),
        Ok((n, _)) => {
            if matches!(c.job, Job::Request) {
                c.input.s(buf.get(..n).unwrap_or(&[]));
            }
        }
        Err(Errno::AGAIN | Errno::INTR) => return,
        Err(_) => return c.drop_connection(),
    }
    if !matches!(c.job, Job::Request) {
        return;
    }
    match proto::frame(c.input.as_bytes()) {
        Ok(None) => {}
        Ok(Some(len)) => {
            let mut line = Buf::<REQUEST_MAX_BYTES>::new();
            line.s(c.input.as_bytes().get(..len).unwrap_or(&[]));
            c.deadline_ms = ctx.now.saturating_add(CLIENT_REPLY_TIMEOUT_MS);
            match proto::decode(line.as_bytes()) {
                Ok(req) => begin(c, &req, ctx),
                Err(e) => refuse(c, EXIT_USAGE as u8, b"bad request", e.describe(), b""),
            };
        }
        Err(e) => refuse(c, EXIT_USAGE as u8, b"bad request", e.describe(), b""),
    }
}

/// Replies `tend: WHAT: WHY[ DETAIL]` with `code`, then closes.
fn refuse(c: &mut Client, code: u8, what: &[u8], why: &[u8], detail: &[u8]) {
    c.out.clear();
    c.out
        .byte(code)
        .s(b"tend: ")
        .s(what)
        .s(b": ")
        .s(why)
        .s(detail)
        .byte(b'\n');
    c.job = Job::Close;
}

fn begin(c: &mut Client, req: &Request<'_>, ctx: &mut Ctx<'_, '_>) {
    let what = req.verb.word();
    // Every name must be known before anything happens.
    let mut set: u64 = 0;
    for name in &req.names {
        if req.verb == Verb::Log && *name == b"tend" {
            continue;
        }
        match ctx.table.find(name) {
            Some(id) => set |= bit(id.index()),
            None => {
                let mut quoted = Buf::<48>::new();
                quoted.byte(b'"').s(name).byte(b'"');
                return refuse(
                    c,
                    EXIT_UNKNOWN_NAME as u8,
                    what,
                    b"no service named ",
                    quoted.as_bytes(),
                );
            }
        }
    }
    let ids = || ctx.table.ids().filter(move |id| has(set, id.index()));
    match req.verb {
        Verb::Status => {
            if req.names.is_empty() {
                set = ctx.table.ids().fold(0, |s, id| s | bit(id.index()));
            }
            let all_ok = ctx.table.ids().filter(|id| has(set, id.index())).all(|id| {
                match (ctx.table.get(id), ctx.sup.get(id)) {
                    (Some(conf), Some(svc)) => svc.as_expected(conf),
                    _ => false,
                }
            });
            c.out
                .byte(if all_ok { EXIT_OK } else { EXIT_NOT_AS_WANTED } as u8);
            let view = View {
                table: ctx.table,
                sup: ctx.sup,
                rings: &[],
                crashes: &[],
                now: ctx.now,
            };
            let w = Widths::measure(&view, ctx.table.ids().filter(|id| has(set, id.index())));
            c.job = Job::Rows {
                set,
                next: 0,
                json: req.json,
                w,
                first: true,
                detail: req.names.len() == 1,
            };
        }
        Verb::Log => {
            let src = match ids().next() {
                Some(id) => LogSrc::Service(id),
                None => LogSrc::Own,
            };
            c.out.byte(EXIT_OK as u8);
            c.job = Job::LogStart {
                src,
                lines: req.lines,
                follow: req.follow,
                utc: req.utc,
            };
        }
        Verb::Start | Verb::Stop | Verb::Restart => {
            if ctx.sup.shutting_down() && req.verb != Verb::Stop {
                return refuse(c, EXIT_FAILED as u8, what, b"shutting down", b"");
            }
            for id in ctx.table.ids().filter(|id| has(set, id.index())) {
                match req.verb {
                    Verb::Start => ctx.sup.start(ctx.table, id, ctx.now, ctx.shell),
                    Verb::Stop => ctx.sup.stop(ctx.table, id, ctx.now, ctx.shell),
                    _ => ctx.sup.restart(ctx.table, id, ctx.now, ctx.shell),
                }
            }
            c.out.byte(EXIT_OK as u8);
            c.job = Job::Close;
        }
        Verb::Signal => {
            let Some(id) = ids().next() else {
                return refuse(c, EXIT_USAGE as u8, what, b"no service", b"");
            };
            let (pid, running) = ctx
                .sup
                .get(id)
                .map_or((0, false), |s| (s.pid, s.state.running()));
            if !running {
                return refuse(
                    c,
                    EXIT_NOT_AS_WANTED as u8,
                    what,
                    b"not running: ",
                    ctx.table.get(id).map_or(b"", |s| s.name.as_slice()),
                );
            }
            let sig = req.signal.unwrap_or(15).into();
            // A child not yet in its own group (forked, before its setsid)
            // gets it itself: it is not reaped, so `pid` is still it.
            let sent = match sys::kill_group(pid, sig) {
                Err(Errno::SRCH) => sys::kill(pid, sig),
                r => r,
            };
            match sent {
                Ok(()) => {
                    c.out.byte(EXIT_OK as u8);
                    c.job = Job::Close;
                }
                Err(e) => refuse(c, EXIT_FAILED as u8, what, report::why(e), b""),
            }
        }
        Verb::Halt | Verb::Poweroff | Verb::Reboot => {
            if !ctx.pid1 {
                return refuse(
                    c,
                    EXIT_FAILED as u8,
                    what,
                    b"tend is not PID 1 here; stop it with SIGTERM",
                    b"",
                );
            }
            *ctx.power = Some(req.verb);
            c.out.byte(EXIT_OK as u8);
            c.job = Job::Close;
        }
    }
}

/// Bytes of output queued before a reply waits for the client to read.
const OUT_SOFT_BYTES: usize = 2048;
/// The most a log line takes once shown: every byte as `\xNN`, a stamp and
/// a newline.
const LINE_SHOWN_MAX_BYTES: usize = 4 * LINE_MAX_BYTES + 48;
const _: () = assert!(CLIENT_OUT_BYTES - OUT_SOFT_BYTES >= LINE_SHOWN_MAX_BYTES);

/// Produces as much of the reply as fits and sends what the socket takes.
pub fn pump(c: &mut Client, view: &View<'_>, own: &Ring<'static>) {
    if c.fd.is_none() {
        return;
    }
    loop {
        produce(c, view, own);
        let Some(fd) = c.fd.as_ref() else { return };
        if c.out.is_empty() {
            break;
        }
        match net::send(
            fd,
            c.out.as_bytes(),
            SendFlags::DONTWAIT | SendFlags::NOSIGNAL,
        ) {
            Ok(n) => {
                c.out.consume(n);
                // Progress: a slow reader is not a stuck one.
                c.deadline_ms = view.now.saturating_add(CLIENT_REPLY_TIMEOUT_MS);
            }
            Err(Errno::AGAIN) => return,
            Err(Errno::INTR) => {}
            Err(_) => return c.drop_connection(),
        }
    }
    if matches!(c.job, Job::Close) && c.out.is_empty() {
        c.drop_connection();
    }
}

fn produce(c: &mut Client, view: &View<'_>, own: &Ring<'static>) {
    loop {
        let room = c.out.room();
        match c.job {
            Job::Request | Job::Close => return,
            Job::Rows {
                set,
                next,
                json,
                w,
                first,
                detail,
            } => {
                // Without the json feature its code goes: the flag is
                // false whatever the job holds.
                let json = json && cfg!(feature = "json");
                // Room for a whole object or row, so none is ever cut; and
                // no more than OUT_SOFT_BYTES queued, so a reply touches
                // only the first page of the buffer unless one object needs
                // more.
                let need = if json {
                    JSON_SERVICE_MAX_BYTES
                } else {
                    ROW_MAX_BYTES
                };
                if room < need + 64 || c.out.len() >= OUT_SOFT_BYTES {
                    return;
                }
                if first {
                    if json {
                        c.out.s(b"{\"services\":[");
                    } else {
                        status::header(&mut c.out, w);
                    }
                }
                let upcoming = (usize::from(next)..view.table.len()).find(|&i| has(set, i));
                match upcoming {
                    Some(i) => {
                        let id = SvcId(i as u8);
                        if json {
                            if !first {
                                c.out.byte(b',');
                            }
                            status::json_service(&mut c.out, view, id);
                        } else {
                            status::row(&mut c.out, w, view, id);
                        }
                        c.job = Job::Rows {
                            set,
                            next: (i + 1) as u8,
                            json,
                            w,
                            first: false,
                            detail,
                        };
                    }
                    None if json => {
                        c.out.s(b"]}\n");
                        c.job = Job::Close;
                    }
                    None => {
                        let id = (0..view.table.len()).find(|&i| has(set, i));
                        c.job = match (detail, id) {
                            (true, Some(i)) => {
                                let id = SvcId(i as u8);
                                let ring = view.rings.get(i);
                                c.out.s(b"\nlast lines:\n");
                                let pos = ring.map_or(0, |r| r.last_lines(10));
                                Job::Lines {
                                    src: LogSrc::Service(id),
                                    pos,
                                    follow: false,
                                    then_crash: Some(id),
                                    utc: None,
                                    shown: 0,
                                }
                            }
                            _ => Job::Close,
                        };
                    }
                }
            }
            Job::LogStart {
                src,
                lines,
                follow,
                utc,
            } => {
                let ring = ring_of(src, view, own);
                let pos = match lines {
                    Some(n) => ring.last_lines(n as usize),
                    None => ring.oldest(),
                };
                // The real-time clock's distance from boot time now, which
                // turns every stamp into a time of day (tend(8), LOGS).
                let utc = utc.then(|| sys::wall_ms().saturating_sub(view.now));
                c.job = Job::Lines {
                    src,
                    pos,
                    follow,
                    then_crash: None,
                    utc,
                    shown: 0,
                };
            }
            Job::Lines {
                src,
                mut pos,
                follow,
                then_crash,
                utc,
                shown,
            } => {
                let ring = ring_of(src, view, own);
                if room < LINE_SHOWN_MAX_BYTES || c.out.len() >= OUT_SOFT_BYTES {
                    return;
                }
                let stamp = |out: &mut Buf<CLIENT_OUT_BYTES>, ms: u64| {
                    match utc {
                        Some(offset) => out.utc_stamp(ms.saturating_add(offset)),
                        None => out.stamp(ms),
                    };
                };
                let next = |pos, shown| Job::Lines {
                    src,
                    pos,
                    follow,
                    then_crash,
                    utc,
                    shown,
                };
                let pending = ring.pending().filter(|_| then_crash.is_none());
                match ring.read(&mut pos) {
                    Some(line) => {
                        // A line partly shown while pending goes on where
                        // it stopped, unstamped.
                        if shown == 0 {
                            stamp(&mut c.out, line.stamp_ms);
                        }
                        c.out.shown(line.head, line.tail, usize::from(shown), false);
                        if line.tail.last().or(line.head.last()) != Some(&b'\n') {
                            c.out.byte(b'\n');
                        }
                        c.job = next(pos, 0);
                    }
                    // Output not yet ended by a newline, shown as the last
                    // line; a follower gets the rest as it comes.
                    None if pending
                        .as_ref()
                        .is_some_and(|p| p.len() > usize::from(shown)) =>
                    {
                        let Some(p) = pending else { return };
                        if shown == 0 {
                            stamp(&mut c.out, p.stamp_ms);
                        }
                        let took = c.out.shown(p.head, p.tail, usize::from(shown), follow);
                        if follow {
                            c.job = next(pos, u16::try_from(took).unwrap_or(u16::MAX));
                            return;
                        }
                        c.out.byte(b'\n');
                        c.job = Job::Close;
                    }
                    None if follow => {
                        c.job = next(pos, shown);
                        return;
                    }
                    None => {
                        c.job = match then_crash {
                            Some(id) => {
                                match view
                                    .crashes
                                    .get(id.index())
                                    .filter(|cr| cr.recorded)
                                    .map(|cr| (cr.exit, cr.at_ms))
                                {
                                    Some((exit, at)) => {
                                        c.out.s(b"\nlast crash: ");
                                        status::exit_words(&mut c.out, exit);
                                        c.out
                                            .byte(b' ')
                                            .dur(view.now.saturating_sub(at))
                                            .s(b" ago\n");
                                        Job::Crash { id, off: 0 }
                                    }
                                    None => {
                                        c.out.s(b"\nlast crash: none\n");
                                        Job::Close
                                    }
                                }
                            }
                            None => Job::Close,
                        };
                    }
                }
            }
            Job::Crash { id, off } => {
                let text = view
                    .crashes
                    .get(id.index())
                    .map_or(&[][..], |cr| cr.text.as_bytes());
                let rest = text.get(off..).unwrap_or(&[]);
                // Shown escaped (tend(8), LOGS): up to four bytes out for
                // each in; a character cut by the chunk's end waits.
                let chunk = rest.get(..room / 4).unwrap_or(rest);
                let take = c.out.shown(chunk, &[], 0, chunk.len() < rest.len());
                if take == rest.len() {
                    c.job = Job::Close;
                } else {
                    c.job = Job::Crash {
                        id,
                        off: off + take,
                    };
                    return;
                }
            }
        }
    }
}

/// The socket's descriptor for poll, with whether to wait for POLLOUT.
pub fn poll_fd(c: &Client) -> Option<(&Fd, bool)> {
    c.fd.as_ref().map(|fd| (fd, c.wants_write()))
}

fn ring_of<'a>(src: LogSrc, view: &View<'a>, own: &'a Ring<'static>) -> &'a Ring<'static> {
    match src {
        LogSrc::Own => own,
        LogSrc::Service(id) => view.rings.get(id.index()).unwrap_or(own),
    }
}

// A set of services is one u64, a bit per service: tend built for more
// services than that must not build (its status would hide the rest).
const _: () = assert!(crate::limits::MAX_SERVICES <= u64::BITS as usize);

/// The bit of service `i` in a set of services.
fn bit(i: usize) -> u64 {
    1u64.checked_shl(i as u32).unwrap_or(0)
}

fn has(set: u64, i: usize) -> bool {
    set & bit(i) != 0
}
