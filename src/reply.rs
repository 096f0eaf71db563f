//! What a control client is answered (tend(8), COMMANDS, STATUS, LOGS): the
//! exit byte, then the text, produced piece by piece into the client's
//! buffer as the client drains it, so a reply of any length streams through
//! a small fixed buffer.
//!
//! Pure: no system calls. A reply reads the service records at one instant
//! ([`Records`]) and writes bytes; what a client asks tend to *do* (`start`,
//! `stop`, `restart`, `signal`, `halt`, `poweroff`, `reboot`) comes back from
//! [`begin`] as an [`Intent`], which the event loop carries out. The socket
//! side (accepting, reading the request, sending, deadlines) is `ctl`.
//!
//! A reply is a [`Job`], a small state machine that [`produce`] steps:
//!
//! ```text
//! Request ─begin─▶ Rows ──────────────▶ Close       status [--json]
//!                  Rows ─▶ Lines ─▶ Crash ─▶ Close   status NAME
//!                  LogStart ─▶ Lines ─▶ Close        log [-n N] [-t]
//!                  LogStart ─▶ Lines (for ever)      log -f
//!                  Close                             everything else
//! ```

use crate::ending::Power;
use crate::limits::{CLIENT_OUT_BYTES, LINE_MAX_BYTES};
use crate::proto::{Request, Verb};
use crate::report::{EXIT_FAILED, EXIT_NOT_AS_WANTED, EXIT_OK, EXIT_UNKNOWN_NAME, EXIT_USAGE};
use crate::ring::{Line, Ring};
use crate::say::Buf;
use crate::status::{self, View, Widths, JSON_SERVICE_MAX_BYTES, ROW_MAX_BYTES};
use crate::table::{SvcId, Table};

/// A client's output buffer.
pub type Out = Buf<CLIENT_OUT_BYTES>;

/// Everything a reply reads, at one instant: what `tend status` shows and
/// tend's own ring (`tend log tend`).
pub struct Records<'a> {
    pub view: View<'a>,
    pub own: &'a Ring<'static>,
}

impl<'a> Records<'a> {
    fn ring(&self, src: LogSrc) -> &'a Ring<'static> {
        match src {
            LogSrc::Own => self.own,
            LogSrc::Service(id) => self.view.rings.get(id.index()).unwrap_or(self.own),
        }
    }
}

/// A set of services, a bit per service.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(test, derive(Debug))]
pub struct Set(u64);

// A set is one u64: tend built for more services than that must not build
// (its status would hide the rest).
const _: () = assert!(crate::limits::MAX_SERVICES <= u64::BITS as usize);

impl Set {
    fn bit(id: SvcId) -> u64 {
        1u64.checked_shl(u32::from(id.0)).unwrap_or(0)
    }

    fn with(self, id: SvcId) -> Set {
        Set(self.0 | Set::bit(id))
    }

    fn without(self, id: SvcId) -> Set {
        Set(self.0 & !Set::bit(id))
    }

    pub fn has(self, id: SvcId) -> bool {
        self.0 & Set::bit(id) != 0
    }

    /// The services of `table` in the set, in table order.
    pub fn ids(self, table: &Table) -> impl Iterator<Item = SvcId> {
        table.ids().filter(move |&id| self.has(id))
    }

    fn first(self, table: &Table) -> Option<SvcId> {
        self.ids(table).next()
    }
}

/// What a client asks tend to do; the event loop carries it out.
#[derive(Clone, Copy)]
#[cfg_attr(test, derive(Debug, PartialEq, Eq))]
pub enum Intent {
    Start(Set),
    Stop(Set),
    Restart(Set),
    /// `sig` to the process group led by `pid`, a running service's child
    /// (to the child itself while it has no group yet). Its reply says
    /// success; one that fails is answered again with [`refuse`].
    Signal {
        pid: i32,
        sig: u8,
    },
    /// `tend halt|poweroff|reboot`, PID 1 only.
    Power(Power),
}

/// Whose log a `log` reply reads.
#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(Debug))]
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
    /// Rows of the status table, or JSON objects.
    Rows(Rows),
    /// A `log` reply about to start.
    LogStart(LogStart),
    /// Log lines.
    Lines(Lines),
    /// The frozen crash text of a service, from byte `off`.
    Crash { id: SvcId, off: usize },
    /// Everything produced: close once the buffer is sent.
    Close,
}

/// A client's reply: the bytes queued for it and what is still to come.
/// All zero bytes while it waits for a request (see [`Job`]).
pub struct Reply {
    out: Out,
    job: Job,
}

impl Default for Reply {
    fn default() -> Self {
        Self::new()
    }
}

impl Reply {
    pub const fn new() -> Reply {
        Reply {
            out: Buf::new(),
            job: Job::Request,
        }
    }

    /// Back to waiting for a request, nothing queued.
    pub fn clear(&mut self) {
        self.out.clear();
        self.job = Job::Request;
    }

    /// The bytes produced and not sent yet.
    pub fn queued(&self) -> &[u8] {
        self.out.as_bytes()
    }

    /// The first `n` queued bytes were sent.
    pub fn sent(&mut self, n: usize) {
        self.out.consume(n);
    }

    pub fn awaits_request(&self) -> bool {
        matches!(self.job, Job::Request)
    }

    /// Everything produced and sent: the connection can close.
    pub fn finished(&self) -> bool {
        matches!(self.job, Job::Close) && self.out.is_empty()
    }

    /// A follower (`log -f`) with nothing queued: it waits for new lines,
    /// with no deadline.
    pub fn idle_follower(&self) -> bool {
        matches!(self.job, Job::Lines(Lines { follow: true, .. })) && self.out.is_empty()
    }

    /// Starts the reply to `req`: writes its exit byte (or the whole
    /// refusal); returns what the client asks tend to do. `pid1`: tend is
    /// PID 1 (`halt`, `poweroff` and `reboot` are taken); `wall_ms`: the
    /// real-time clock now (`log -t`).
    // Out of line, as `produce`: inlined into the loop they make the binary
    // bigger.
    #[inline(never)]
    pub fn begin(
        &mut self,
        req: &Request<'_>,
        recs: &Records<'_>,
        pid1: bool,
        wall_ms: u64,
    ) -> Option<Intent> {
        begin(self, req, recs, pid1, wall_ms)
    }

    /// Replaces whatever is queued by `tend: WHAT: WHY[DETAIL]` with exit
    /// status `code`; the reply closes once it is sent. (Returns no intent,
    /// for [`begin`]'s sake.)
    pub fn refuse(&mut self, code: i32, what: &[u8], why: &[u8], detail: &[u8]) -> Option<Intent> {
        self.out.clear();
        self.out
            .byte(code as u8)
            .s(b"tend: ")
            .s(what)
            .s(b": ")
            .s(why)
            .s(detail)
            .byte(b'\n');
        self.job = Job::Close;
        None
    }

    /// Exit status 0 and nothing more; `intent` is what was asked.
    fn succeed(&mut self, intent: Intent) -> Option<Intent> {
        self.out.byte(EXIT_OK as u8);
        self.job = Job::Close;
        Some(intent)
    }

    /// Produces as much of the reply as fits.
    pub fn produce(&mut self, recs: &Records<'_>) {
        produce(&mut self.job, &mut self.out, recs);
    }
}

/// The status rows (or JSON objects) still to produce.
#[derive(Clone, Copy)]
struct Rows {
    /// The services not shown yet.
    left: Set,
    json: bool,
    w: Widths,
    /// The header (or `{"services":[`) comes first.
    first: bool,
    /// `status NAME`: the one service whose last lines and crash follow.
    detail: Option<SvcId>,
}

/// A `log` reply before its first line: the last `lines` lines (or all).
#[derive(Clone, Copy)]
struct LogStart {
    src: LogSrc,
    lines: Option<u32>,
    follow: bool,
    /// `-t`: the real-time clock's offset from boot time, in ms.
    utc: Option<u64>,
}

/// Log lines from `pos` on.
#[derive(Clone, Copy)]
struct Lines {
    src: LogSrc,
    pos: u64,
    /// `-f`: keep the client for new lines.
    follow: bool,
    /// `status NAME`: the crash record follows the lines.
    then_crash: Option<SvcId>,
    /// `-t`: the real-time clock's offset from boot time, in ms.
    utc: Option<u64>,
    /// Bytes of the line at `pos` already shown while it was still being
    /// written (a follower sees the rest when it is ended).
    shown: u16,
}

/// Bytes of output queued before a reply waits for the client to read.
const OUT_SOFT_BYTES: usize = 2048;
/// The most a log line takes once shown: every byte as `\xNN`, a stamp and
/// a newline.
const LINE_SHOWN_MAX_BYTES: usize = 4 * LINE_MAX_BYTES + 48;
const _: () = assert!(CLIENT_OUT_BYTES - OUT_SOFT_BYTES >= LINE_SHOWN_MAX_BYTES);

/// Starts the reply to `req`: writes its exit byte (or the whole refusal)
/// and sets the job that produces the rest; returns what the client asks
/// tend to do.
fn begin(
    r: &mut Reply,
    req: &Request<'_>,
    recs: &Records<'_>,
    pid1: bool,
    wall_ms: u64,
) -> Option<Intent> {
    // Every name must be known before anything happens.
    let set = match named(req, recs.view.table) {
        Ok(set) => set,
        Err(name) => return refuse_unknown(r, req.verb, name),
    };
    match req.verb {
        Verb::Status => begin_status(r, req, set, &recs.view),
        Verb::Log => begin_log(r, req, set, recs, wall_ms),
        Verb::Start | Verb::Stop | Verb::Restart => begin_change(r, req.verb, set, &recs.view),
        Verb::Signal => begin_signal(r, req, set, &recs.view),
        Verb::Halt | Verb::Poweroff | Verb::Reboot => begin_power(r, req.verb, pid1),
    }
}

/// The services `req` names (`log tend` names none), or the first name
/// that is no service's.
fn named<'r>(req: &Request<'r>, table: &Table) -> Result<Set, &'r [u8]> {
    let mut set = Set::default();
    for &name in &req.names {
        if req.verb == Verb::Log && name == b"tend" {
            continue;
        }
        set = set.with(table.find(name).ok_or(name)?);
    }
    Ok(set)
}

/// `tend: VERB: no service named "NAME"`, exit status 4.
fn refuse_unknown(r: &mut Reply, verb: Verb, name: &[u8]) -> Option<Intent> {
    let mut quoted = Buf::<48>::new();
    quoted.byte(b'"').s(name).byte(b'"');
    let (what, why) = (verb.word(), b"no service named ");
    r.refuse(EXIT_UNKNOWN_NAME, what, why, quoted.as_bytes())
}

/// `status [NAME…]`: exit status 0 when every service shown is as it should
/// be, else 3; then the rows.
fn begin_status(r: &mut Reply, req: &Request<'_>, named: Set, view: &View<'_>) -> Option<Intent> {
    let set = match req.names.is_empty() {
        true => view.table.ids().fold(Set::default(), Set::with),
        false => named,
    };
    let all_ok = set
        .ids(view.table)
        .all(|id| match (view.table.get(id), view.sup.get(id)) {
            (Some(conf), Some(svc)) => svc.as_expected(conf),
            _ => false,
        });
    let code = if all_ok { EXIT_OK } else { EXIT_NOT_AS_WANTED };
    r.out.byte(code as u8);
    r.job = Job::Rows(Rows {
        left: set,
        json: req.json,
        w: Widths::measure(view, set.ids(view.table)),
        first: true,
        detail: set.first(view.table).filter(|_| req.names.len() == 1),
    });
    None
}

/// `log NAME [-n N] [-f] [-t]`.
fn begin_log(
    r: &mut Reply,
    req: &Request<'_>,
    set: Set,
    recs: &Records<'_>,
    wall_ms: u64,
) -> Option<Intent> {
    let src = match set.first(recs.view.table) {
        Some(id) => LogSrc::Service(id),
        None => LogSrc::Own,
    };
    r.out.byte(EXIT_OK as u8);
    r.job = Job::LogStart(LogStart {
        src,
        lines: req.lines,
        follow: req.follow,
        // The real-time clock's distance from boot time now, which turns
        // every stamp into a time of day (tend(8), COMMANDS, `log -t`).
        utc: req.utc.then(|| wall_ms.saturating_sub(recs.view.now)),
    });
    None
}

/// `start|stop|restart NAME…`; while tend shuts down, only `stop`.
fn begin_change(r: &mut Reply, verb: Verb, set: Set, view: &View<'_>) -> Option<Intent> {
    let intent = match verb {
        Verb::Stop => Intent::Stop(set),
        _ if view.sup.shutting_down() => {
            return r.refuse(EXIT_FAILED, verb.word(), b"shutting down", b"");
        }
        Verb::Start => Intent::Start(set),
        _ => Intent::Restart(set),
    };
    r.succeed(intent)
}

/// `signal NAME SIG`: exit status 3 when the service is not running.
fn begin_signal(r: &mut Reply, req: &Request<'_>, set: Set, view: &View<'_>) -> Option<Intent> {
    let what = req.verb.word();
    let Some(id) = set.first(view.table) else {
        return r.refuse(EXIT_USAGE, what, b"no service", b"");
    };
    let (pid, running) = view
        .sup
        .get(id)
        .map_or((0, false), |s| (s.pid, s.state.running()));
    if !running {
        let name = view.table.get(id).map_or(&[][..], |s| s.name.as_slice());
        return r.refuse(EXIT_NOT_AS_WANTED, what, b"not running: ", name);
    }
    let sig = req.signal.unwrap_or(15);
    r.succeed(Intent::Signal { pid, sig })
}

/// `halt|poweroff|reboot`: PID 1 only.
fn begin_power(r: &mut Reply, verb: Verb, pid1: bool) -> Option<Intent> {
    match (pid1, Power::of_verb(verb)) {
        (true, Some(power)) => r.succeed(Intent::Power(power)),
        _ => {
            let why = b"tend is not PID 1 here; stop it with SIGTERM";
            r.refuse(EXIT_FAILED, verb.word(), why, b"")
        }
    }
}

/// What producing one piece of a reply leads to.
enum Step {
    /// The next piece can follow at once.
    Go(Job),
    /// Not now: the buffer is full enough, or a follower waits for lines.
    Wait(Job),
}

/// Produces as much of the reply as fits in `out`.
#[inline(never)]
fn produce(job: &mut Job, out: &mut Out, recs: &Records<'_>) {
    loop {
        let step = match *job {
            Job::Request | Job::Close => return,
            Job::Rows(rows) => put_row(rows, out, &recs.view),
            Job::LogStart(start) => Step::Go(seek_log(start, recs)),
            Job::Lines(lines) => put_line(lines, out, recs),
            Job::Crash { id, off } => put_crash_text(id, off, out, &recs.view),
        };
        match step {
            Step::Go(next) => *job = next,
            Step::Wait(next) => {
                *job = next;
                return;
            }
        }
    }
}

/// The header first, then one status row or JSON object, whole.
fn put_row(rows: Rows, out: &mut Out, view: &View<'_>) -> Step {
    // Without the json feature its code goes: the flag is false whatever
    // the job holds.
    let json = rows.json && cfg!(feature = "json");
    // Room for a whole object or row, so none is ever cut; and no more
    // than OUT_SOFT_BYTES queued, so a reply touches only the first page
    // of the buffer unless one object needs more.
    let need = if json {
        JSON_SERVICE_MAX_BYTES
    } else {
        ROW_MAX_BYTES
    };
    if out.room() < need + 64 || out.len() >= OUT_SOFT_BYTES {
        return Step::Wait(Job::Rows(rows));
    }
    match (rows.first, json) {
        (true, true) => {
            out.s(b"{\"services\":[");
        }
        (true, false) => status::header(out, rows.w),
        (false, _) => {}
    }
    let Some(id) = rows.left.first(view.table) else {
        return Step::Go(end_rows(rows, json, out, view));
    };
    if json {
        if !rows.first {
            out.byte(b',');
        }
        status::json_service(out, view, id);
    } else {
        status::row(out, rows.w, view, id);
    }
    Step::Go(Job::Rows(Rows {
        left: rows.left.without(id),
        first: false,
        ..rows
    }))
}

/// After the last row: the end of the JSON document, or for `status NAME`
/// the service's last ten lines.
fn end_rows(rows: Rows, json: bool, out: &mut Out, view: &View<'_>) -> Job {
    if json {
        out.s(b"]}\n");
        return Job::Close;
    }
    let Some(id) = rows.detail else {
        return Job::Close;
    };
    out.s(b"\nlast lines:\n");
    Job::Lines(Lines {
        src: LogSrc::Service(id),
        pos: view.rings.get(id.index()).map_or(0, |r| r.last_lines(10)),
        follow: false,
        then_crash: Some(id),
        utc: None,
        shown: 0,
    })
}

/// Where a `log` reply starts in its ring.
fn seek_log(start: LogStart, recs: &Records<'_>) -> Job {
    let ring = recs.ring(start.src);
    Job::Lines(Lines {
        src: start.src,
        pos: match start.lines {
            Some(n) => ring.last_lines(n as usize),
            None => ring.oldest(),
        },
        follow: start.follow,
        then_crash: None,
        utc: start.utc,
        shown: 0,
    })
}

/// One log line; at the end, the line still being written, then (for
/// `status NAME`) the crash record.
fn put_line(mut lines: Lines, out: &mut Out, recs: &Records<'_>) -> Step {
    if out.room() < LINE_SHOWN_MAX_BYTES || out.len() >= OUT_SOFT_BYTES {
        return Step::Wait(Job::Lines(lines));
    }
    let ring = recs.ring(lines.src);
    if let Some(line) = ring.read(&mut lines.pos) {
        // A line partly shown while pending goes on where it stopped,
        // unstamped.
        if lines.shown == 0 {
            put_stamp(out, lines.utc, line.stamp_ms);
        }
        out.shown(line.head, line.tail, usize::from(lines.shown), false);
        if line.tail.last().or(line.head.last()) != Some(&b'\n') {
            out.byte(b'\n');
        }
        lines.shown = 0;
        return Step::Go(Job::Lines(lines));
    }
    let pending = ring
        .pending()
        .filter(|p| lines.then_crash.is_none() && p.len() > usize::from(lines.shown));
    if let Some(p) = pending {
        return put_pending(lines, p, out);
    }
    if lines.follow {
        return Step::Wait(Job::Lines(lines));
    }
    match lines.then_crash {
        Some(id) => Step::Go(put_crash_head(id, out, &recs.view)),
        None => Step::Go(Job::Close),
    }
}

/// Output not yet ended by a newline, shown as the last line; a follower
/// gets the rest as it comes (tend(8), COMMANDS, `log`).
fn put_pending(lines: Lines, p: Line<'_>, out: &mut Out) -> Step {
    if lines.shown == 0 {
        put_stamp(out, lines.utc, p.stamp_ms);
    }
    let took = out.shown(p.head, p.tail, usize::from(lines.shown), lines.follow);
    if lines.follow {
        let shown = u16::try_from(took).unwrap_or(u16::MAX);
        return Step::Wait(Job::Lines(Lines { shown, ..lines }));
    }
    out.byte(b'\n');
    Step::Go(Job::Close)
}

/// `[    12.345] `, or with `-t` the time of day.
fn put_stamp(out: &mut Out, utc: Option<u64>, ms: u64) {
    match utc {
        Some(offset) => out.utc_stamp(ms.saturating_add(offset)),
        None => out.stamp(ms),
    };
}

/// `last crash: signal SEGV 2m05s ago` (its text follows), or `none`.
fn put_crash_head(id: SvcId, out: &mut Out, view: &View<'_>) -> Job {
    let Some(crash) = view.crashes.get(id.index()).filter(|c| c.recorded) else {
        out.s(b"\nlast crash: none\n");
        return Job::Close;
    };
    out.s(b"\nlast crash: ");
    status::exit_words(out, crash.exit);
    let ago = view.now.saturating_sub(crash.at_ms);
    out.byte(b' ').dur(ago).s(b" ago\n");
    Job::Crash { id, off: 0 }
}

/// As much of the crash record's text as fits, shown escaped (tend(8),
/// LOGS): up to four bytes out for each in; a character cut by the chunk's
/// end waits.
fn put_crash_text(id: SvcId, off: usize, out: &mut Out, view: &View<'_>) -> Step {
    let text = view
        .crashes
        .get(id.index())
        .map_or(&[][..], |c| c.text.as_bytes());
    let rest = text.get(off..).unwrap_or(&[]);
    let chunk = rest.get(..out.room() / 4).unwrap_or(rest);
    let took = out.shown(chunk, &[], 0, chunk.len() < rest.len());
    if took == rest.len() {
        return Step::Go(Job::Close);
    }
    Step::Wait(Job::Crash {
        id,
        off: off + took,
    })
}
