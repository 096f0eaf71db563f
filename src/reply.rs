//! What a control client is answered (tend(8), COMMANDS, STATUS, LOGS): the
//! exit byte, then the text, produced piece by piece into the client's
//! buffer as the client drains it, so a reply of any length streams through
//! a small fixed buffer.
//!
//! Pure: no system calls. A reply reads the service records at one instant
//! ([`View`]) and writes bytes; what a client asks tend to *do* (`start`,
//! `stop`, `restart`, `signal`, `halt`, `poweroff`, `reboot`) comes back from
//! [`Reply::begin`] as an [`Intent`], which the event loop carries out. The socket
//! side (accepting, reading the request, sending, deadlines) is `ctl`.
//!
//! A reply is a `Job`, a small state machine that [`Reply::produce`] steps
//! through its stages:
//!
//! ```text
//! Request ─begin─▶ Rows ─────────────────────▶ Close   status [--json]
//!                  Rows ─▶ Lines ─▶ Close               status NAME
//!                  Lines ─▶ Close                       log [-n N] [-t]
//!                  Lines (for ever)                     log -f
//!                  Close                                everything else
//! ```

use crate::conf::SvcId;
use crate::ending::Power;
use crate::exit::{EXIT_FAILED, EXIT_NOT_AS_WANTED, EXIT_OK, EXIT_UNKNOWN_NAME};
use crate::limits::{CLIENT_OUT_BYTES, CRASH_TAIL_BYTES, LINE_MAX_BYTES, MAX_SERVICES};
use crate::proto::{Request, Verb};
use crate::ring::Ring;
use crate::say::Buf;
use crate::status::{self, View, Widths, JSON_SERVICE_MAX_BYTES, ROW_MAX_BYTES};
use crate::table::Table;

/// A client's output buffer.
pub type Out = Buf<CLIENT_OUT_BYTES>;

/// The ring a `log` reply reads: `src`'s, or tend's own.
#[inline(never)]
fn ring<'a, F>(view: &View<'a, F>, src: SvcId) -> &'a Ring<'static> {
    if src == SYSLOG {
        return view.syslog;
    }
    match view.table.get(src) {
        Some(s) => &s.ring,
        None => view.own,
    }
}

/// The source of `tend log syslog`: the ring of syslog messages from
/// outside every service (tend(8), SYSLOG). No service has this number.
const SYSLOG: SvcId = SvcId(u8::MAX);
/// The source of `tend log tend`: tend's own ring. No service has this
/// number either.
const OWN: SvcId = SvcId(u8::MAX - 1);
const _: () = assert!(MAX_SERVICES < OWN.0 as usize);

/// The ring `log NAME` reads when NAME is one of tend's own: [`OWN`] for
/// `tend`, [`SYSLOG`] for `syslog`; `None` for any other name.
fn own_log(name: &[u8]) -> Option<SvcId> {
    match crate::say::position(b"tend\0syslog\0", name)? {
        0 => Some(OWN),
        _ if cfg!(feature = "syslog") => Some(SYSLOG),
        _ => None,
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
    #[inline(never)]
    fn bit(id: SvcId) -> u64 {
        1u64.checked_shl(u32::from(id.0)).unwrap_or(0)
    }

    fn with(self, id: SvcId) -> Set {
        Set(self.0 | Set::bit(id))
    }

    pub fn has(self, id: SvcId) -> bool {
        self.0 & Set::bit(id) != 0
    }

    /// The services of `table` in the set, in table order (for the tests:
    /// the loop asks `has`).
    #[cfg(test)]
    pub fn ids<F>(self, table: &Table<F>) -> impl Iterator<Item = SvcId> {
        table.ids().filter(move |&id| self.has(id))
    }

    /// Every service of `table`, and no bit past its end: the rows of a
    /// set are its bits.
    fn all<F>(table: &Table<F>) -> Set {
        // (A plain cast: MAX_SERVICES is below `OWN`, see there.)
        let past = Set::bit(SvcId(table.len() as u8));
        Set(past.wrapping_sub(1))
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
    /// (to the child itself while it has no group yet); with pid 0 (an
    /// `accept = yes` service, which has no child of its own), to its
    /// instances' groups. Its reply says success; one that fails is
    /// answered again with [`Reply::refuse`].
    Signal {
        id: SvcId,
        pid: i32,
        sig: u8,
    },
    /// `tend halt|poweroff|reboot`, PID 1 only.
    Power(Power),
    /// `tend reload`; the reply is written once it is done
    /// ([`Reply::answer`]).
    Reload {
        json: bool,
    },
}

/// Where a reply is.
///
/// `repr(u8)`, 0 for [`Stage::Request`]: an idle client is all zero bytes,
/// so the clients stay in .bss (a non-zero tag would move the whole static
/// world into the binary).
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Stage {
    /// Waiting for the request line.
    Request,
    /// Rows of the status table, or JSON objects.
    Rows,
    /// Log lines.
    Lines,
    /// Everything produced: close once the buffer is sent.
    Close,
}

/// What a client's reply still has to produce: its stage, and the fields
/// the stages use, changed in place as it goes.
struct Job {
    stage: Stage,
    /// Whose log (`log`, `status NAME`): a service's, [`OWN`] or
    /// [`SYSLOG`].
    src: SvcId,
    /// Rows: the services not shown yet.
    left: Set,
    /// Rows: JSON objects, not rows.
    json: bool,
    w: Widths,
    /// `status NAME`: the last lines and the crash record of `src` follow the
    /// row.
    detail: bool,
    /// `-f`: keep the client for new lines.
    follow: bool,
    /// `-t`: stamps as times of day.
    utc: bool,
    /// `-t`: the real-time clock's offset from boot time, in ms.
    offset: u64,
    /// Lines: the position of the next line in the ring. Rows: not zero
    /// once a JSON object is written (a comma goes before the next).
    pos: u64,
    /// Lines: bytes of the line at `pos` already shown while it was still
    /// being written (a follower sees the rest when it is ended).
    shown: u16,
}

impl Job {
    /// Waiting for a request: all zero bytes (see `Stage`).
    const IDLE: Job = Job {
        stage: Stage::Request,
        src: SvcId(0),
        left: Set(0),
        json: false,
        w: Widths::ZERO,
        detail: false,
        follow: false,
        utc: false,
        offset: 0,
        pos: 0,
        shown: 0,
    };
}

/// A client's reply: the bytes queued for it and what is still to come.
/// All zero bytes while it waits for a request (see `Stage`).
// In this order (the job first, the buffer after): a reply touches the
// pages of its job and of the start of its buffer, which follow the
// client's request (see `ctl::Client`), not one more page past the buffer.
#[repr(C)]
pub struct Reply {
    job: Job,
    out: Out,
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
            job: Job::IDLE,
        }
    }

    /// Back to waiting for a request, nothing queued.
    pub fn clear(&mut self) {
        self.out.clear();
        self.job = Job::IDLE;
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
        self.job.stage == Stage::Request
    }

    /// Everything produced and sent: the connection can close.
    pub fn finished(&self) -> bool {
        self.job.stage == Stage::Close && self.out.is_empty()
    }

    /// A follower (`log -f`) with nothing queued: it waits for new lines,
    /// with no deadline.
    pub fn idle_follower(&self) -> bool {
        self.job.stage == Stage::Lines && self.job.follow && self.out.is_empty()
    }

    /// Starts the reply to `req`: writes its exit byte (or the whole
    /// refusal); returns what the client asks tend to do. `pid1`: tend is
    /// PID 1 (`halt`, `poweroff` and `reboot` are taken); `wall_ms`: the
    /// real-time clock now (`log -t`).
    // Out of line, as `produce`: inlined into the loop they make the binary
    // bigger.
    #[inline(never)]
    pub fn begin<F>(
        &mut self,
        req: &Request<'_>,
        view: &View<'_, F>,
        pid1: bool,
        wall_ms: u64,
    ) -> Option<Intent> {
        begin(self, req, view, pid1, wall_ms)
    }

    /// Replaces whatever is queued by `tend: WHAT: WHY[DETAIL]` with exit
    /// status `code`; the reply closes once it is sent. (Returns no intent,
    /// for `begin`'s sake.)
    pub fn refuse(&mut self, code: i32, what: &[u8], why: &[u8], detail: &[u8]) -> Option<Intent> {
        self.refusal(code, what, why).s(detail).byte(b'\n');
        None
    }

    /// Replaces whatever is queued by `tend: WHAT: WHY` with exit status
    /// `code`, for the rest of the line to follow; the reply closes once it
    /// is sent.
    #[inline(never)]
    fn refusal(&mut self, code: i32, what: &[u8], why: &[u8]) -> &mut Out {
        self.answer(code, b"tend: ");
        self.out.s(what).s(b": ").s(why);
        &mut self.out
    }

    /// The whole reply, once what was asked is done: exit status `code`,
    /// then `text`.
    #[inline(never)]
    pub fn answer(&mut self, code: i32, text: &[u8]) {
        self.out.clear();
        self.out.byte(code as u8).s(text);
        self.job.stage = Stage::Close;
    }

    /// The services moved (`tend reload`): `map[old]` is each one's new
    /// index, or none when it went. A `log -f` follows its service (and
    /// ends when it went), a status of every service goes on without the
    /// ones that went; any other reply about a service under way ends.
    pub fn remap(&mut self, map: &[Option<u8>]) {
        let job = &mut self.job;
        match (job.stage, job.src) {
            (Stage::Request | Stage::Close, _) | (Stage::Lines, OWN | SYSLOG) => {}
            (Stage::Lines, id) if !job.detail => match map.get(id.index()) {
                Some(&Some(j)) => job.src = SvcId(j),
                _ => job.stage = Stage::Close,
            },
            // A status under way goes on with the services still there (a
            // forgotten one not shown yet is left out): its JSON stays
            // whole.
            (Stage::Rows, _) if !job.detail => {
                let mut left = Set::default();
                for (i, to) in map.iter().enumerate() {
                    if let (true, Some(j)) = (job.left.has(SvcId(i as u8)), to) {
                        left = left.with(SvcId(*j));
                    }
                }
                job.left = left;
            }
            _ => job.stage = Stage::Close,
        }
    }

    /// Exit status 0 and nothing more; `intent` is what was asked.
    fn succeed(&mut self, intent: Intent) -> Option<Intent> {
        self.answer(EXIT_OK, b"");
        Some(intent)
    }

    /// Produces as much of the reply as fits.
    pub fn produce<F>(&mut self, view: &View<'_, F>) {
        produce(&mut self.job, &mut self.out, view);
    }
}

/// Bytes of output queued before a reply waits for the client to read: a
/// reply touches only the first page of the buffer unless one JSON object
/// needs more.
const OUT_SOFT_BYTES: usize = 2048;
/// The most a log line takes once shown: every byte as `\xNN`, a stamp and
/// a newline.
const LINE_SHOWN_MAX_BYTES: usize = 4 * LINE_MAX_BYTES + 48;
// Under OUT_SOFT_BYTES queued, a whole row or log line fits.
const _: () = assert!(CLIENT_OUT_BYTES - OUT_SOFT_BYTES >= LINE_SHOWN_MAX_BYTES);
const _: () = assert!(CLIENT_OUT_BYTES - OUT_SOFT_BYTES >= ROW_MAX_BYTES + 64);
/// The most a crash record takes once shown: its head, and every byte of
/// its text as `\xNN`.
const CRASH_SHOWN_MAX_BYTES: usize = 4 * CRASH_TAIL_BYTES + 64;
// Under OUT_SOFT_BYTES queued, a whole crash record fits.
const _: () = assert!(CLIENT_OUT_BYTES - OUT_SOFT_BYTES >= CRASH_SHOWN_MAX_BYTES);
// A line's bytes taken fit `Job::shown`.
const _: () = assert!(LINE_MAX_BYTES <= u16::MAX as usize);

/// Starts the reply to `req`: writes its exit byte (or the whole refusal)
/// and sets the job that produces the rest; returns what the client asks
/// tend to do.
fn begin<F>(
    r: &mut Reply,
    req: &Request<'_>,
    view: &View<'_, F>,
    pid1: bool,
    wall_ms: u64,
) -> Option<Intent> {
    // Every name must be known before anything happens.
    let asked = match named(req, view.table) {
        Err(name) => Err((Why::Unknown, name)),
        Ok((set, src)) => {
            r.job.src = src;
            match req.verb {
                Verb::Status => return begin_status(r, req, set, view),
                Verb::Log => return begin_log(r, req, view, wall_ms),
                Verb::Start | Verb::Stop | Verb::Restart => change(req.verb, set, view),
                Verb::Signal => signal(req, src, view),
                // Written by the loop once done.
                Verb::Reload if cfg!(feature = "reload") => {
                    return Some(Intent::Reload { json: req.json })
                }
                Verb::Halt | Verb::Poweroff | Verb::Reboot => power(req.verb, pid1),
                Verb::LastBoot if cfg!(feature = "keep") => return begin_last_boot(r, view),
                // `proto::parse` refuses them when tend is built without
                // reload or keep.
                Verb::Reload | Verb::LastBoot => return None,
            }
        }
    };
    // One place answers what is done at once, or refuses it.
    match asked {
        Ok(intent) => r.succeed(intent),
        Err((why, detail)) => deny(r, req.verb, why, detail),
    }
}

/// What `begin` asks the loop to do, or why it refuses, with the detail
/// that follows the reason.
type Asked<'a> = Result<Intent, (Why, &'a [u8])>;

/// `last-boot`: where the records are kept, for the client to read
/// (`keep::show`).
fn begin_last_boot<F>(r: &mut Reply, view: &View<'_, F>) -> Option<Intent> {
    let table = view.table;
    match crate::settings::Settings::path(&table.pool, table.settings.keep) {
        b"" => {
            let why = b"nothing kept: the table has no keep directory";
            deny(r, Verb::LastBoot, Why::NoKeep, why)
        }
        dir => {
            r.answer(EXIT_OK, dir);
            None
        }
    }
}

/// The services `req` names (`log tend` names none) and the last name's
/// (for `log`: the ring it reads, see [`own_log`]; `log`, `signal` and
/// `status NAME` name one), or the first name that is no service's.
fn named<'r, F>(req: &Request<'r>, table: &Table<F>) -> Result<(Set, SvcId), &'r [u8]> {
    let mut set = Set::default();
    let mut last = OWN;
    for name in req.names() {
        last = match own_log(name).filter(|_| req.verb == Verb::Log) {
            Some(own) => own,
            None => table.find(name).ok_or(name)?,
        };
        set = set.with(last);
    }
    Ok((set, last))
}

/// Why `begin` refuses a request; the index into [`WHY`] and [`WHY_CODE`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Why {
    Unknown,
    ShuttingDown,
    NotRunning,
    NotPid1,
    NoKeep,
}

/// The words of each [`Why`], each followed by a NUL byte. `NoKeep` has
/// none here (past the end: empty): its words come as its detail, from
/// code only a tend built with keep has.
const WHY: &[u8] =
    b"no service named \"\0shutting down\0not running: \0tend is not PID 1 here; stop it with SIGTERM\0";

/// The exit status of each [`Why`].
const WHY_CODE: [u8; 5] = [
    EXIT_UNKNOWN_NAME as u8,
    EXIT_FAILED as u8,
    EXIT_NOT_AS_WANTED as u8,
    EXIT_FAILED as u8,
    EXIT_FAILED as u8,
];

/// `tend: VERB: WHY[DETAIL]`, or `tend: VERB: no service named "NAME"`,
/// with the exit status of `why`.
#[inline(never)]
fn deny(r: &mut Reply, verb: Verb, why: Why, detail: &[u8]) -> Option<Intent> {
    let i = why as usize;
    let code = WHY_CODE.get(i).copied().unwrap_or(0);
    let out = r.refusal(code.into(), verb.word(), crate::say::nth(WHY, i));
    // The name's closing quote, for an unknown one.
    let end = b"\"\n".get(usize::from(why != Why::Unknown)..);
    out.s(detail).s(end.unwrap_or_default());
    None
}

/// `status [NAME…]`: exit status 0 when every service shown is as it should
/// be, else 3; then the header and the rows.
fn begin_status<F>(
    r: &mut Reply,
    req: &Request<'_>,
    named: Set,
    view: &View<'_, F>,
) -> Option<Intent> {
    // No name: every service (a set is read through the table).
    let set = match req.count == 0 {
        true => Set::all(view.table),
        false => named,
    };
    // The set's bits, lowest first, one a slot.
    let mut bits = set.0;
    let shown = view.table.slots.iter().filter(|_| {
        let has = bits & 1 != 0;
        bits >>= 1;
        has
    });
    let (w, all_ok) = Widths::measure(shown);
    let code = if all_ok { EXIT_OK } else { EXIT_NOT_AS_WANTED };
    r.out.byte(code as u8);
    let j = &mut r.job;
    j.stage = Stage::Rows;
    j.left = set;
    j.json = req.json;
    j.w = w;
    j.detail = req.count == 1;
    let json = json(j);
    status::opening(&mut r.out, view.dog, json);
    if !json {
        status::header(&mut r.out, j.w);
    }
    None
}

/// `log NAME [-n N] [-f] [-t]`.
fn begin_log<F>(
    r: &mut Reply,
    req: &Request<'_>,
    view: &View<'_, F>,
    wall_ms: u64,
) -> Option<Intent> {
    r.out.byte(EXIT_OK as u8);
    let j = &mut r.job;
    start_lines(j, view, req.lines);
    j.follow = req.follow;
    // The real-time clock's distance from boot time now, which turns
    // every stamp into a time of day (tend(8), COMMANDS, `log -t`).
    j.utc = req.utc;
    j.offset = wall_ms.saturating_sub(view.now);
    None
}

/// `start|stop|restart NAME…`; while tend shuts down, only `stop`.
fn change<'v, F>(verb: Verb, set: Set, view: &View<'v, F>) -> Asked<'v> {
    Ok(match verb {
        Verb::Stop => Intent::Stop(set),
        _ if view.sup.shutting_down() => return Err((Why::ShuttingDown, b"")),
        Verb::Start => Intent::Start(set),
        _ => Intent::Restart(set),
    })
}

/// `signal NAME SIG`: exit status 3 when the service is not running.
fn signal<'v, F>(req: &Request<'_>, id: SvcId, view: &View<'v, F>) -> Asked<'v> {
    match view.table.get(id) {
        Some(s) if s.svc.state.running() => Ok(Intent::Signal {
            id,
            pid: s.svc.pid,
            sig: req.signal,
        }),
        s => {
            let name = s.map_or(&[][..], |s| s.conf.name.as_slice());
            Err((Why::NotRunning, name))
        }
    }
}

/// `halt|poweroff|reboot`: PID 1 only.
fn power(verb: Verb, pid1: bool) -> Asked<'static> {
    match (pid1, Power::of_verb(verb)) {
        (true, Some(power)) => Ok(Intent::Power(power)),
        _ => Err((Why::NotPid1, b"")),
    }
}

/// Produces as much of the reply as fits in `out`: a piece at a time, each
/// whole, while under OUT_SOFT_BYTES are queued.
#[inline(never)]
fn produce<F>(j: &mut Job, out: &mut Out, view: &View<'_, F>) {
    while out.len() < OUT_SOFT_BYTES {
        let go_on = match j.stage {
            Stage::Request | Stage::Close => return,
            Stage::Rows => put_row(j, out, view),
            Stage::Lines => put_line(j, out, view),
        };
        if !go_on {
            return;
        }
    }
}

/// The log's lines begin: the last `lines` of the ring of `j.src` (all for
/// u32::MAX, as no ring holds that many).
fn start_lines<F>(j: &mut Job, view: &View<'_, F>, lines: u32) {
    j.pos = ring(view, j.src).last_lines(lines as usize);
    j.stage = Stage::Lines;
}

/// Whether the rows are JSON objects. Without the json feature its code
/// goes: false whatever the request held.
fn json(j: &Job) -> bool {
    j.json && cfg!(feature = "json")
}

/// One status row or JSON object, whole; after the last, the end of the
/// JSON document, or for `status NAME` the service's last ten lines.
/// Whether the reply can go on at once.
fn put_row<F>(j: &mut Job, out: &mut Out, view: &View<'_, F>) -> bool {
    let json = json(j);
    // Room for a whole object, so none is ever cut (a row always fits).
    if json && out.room() < JSON_SERVICE_MAX_BYTES + 64 {
        return false;
    }
    let left = j.left.0;
    if left == 0 {
        j.stage = Stage::Close;
        if json {
            out.s(b"]}\n");
        } else if j.detail {
            #[cfg(feature = "listen")]
            if let Some(s) = view.table.get(j.src).filter(|s| s.conf.accept) {
                out.s(b"\ninstances: ").u(s.instances.into());
                out.s(b" running, ").u(s.served.into()).s(b" served\n");
            }
            out.s(b"\nlast lines:\n");
            start_lines(j, view, 10);
        }
        return true;
    }
    let id = SvcId(left.trailing_zeros() as u8);
    // Without its lowest bit, this row's.
    let left = left & left.wrapping_sub(1);
    j.left = Set(left);
    if json {
        // A comma between two objects: before the next one, since a
        // service not shown yet may be forgotten before its turn (remap).
        if j.pos != 0 {
            out.byte(b',');
        }
        j.pos = 1;
        status::json_service(out, view, id);
    } else {
        status::row(out, j.w, view, id);
    }
    true
}

/// One log line, whole; at the end, the line still being written, then
/// (for `status NAME`) the crash record. Whether the reply can go on at
/// once.
fn put_line<F>(j: &mut Job, out: &mut Out, view: &View<'_, F>) -> bool {
    let ring = ring(view, j.src);
    let read = ring.read(&mut j.pos);
    let whole = read.is_some();
    // Output not yet ended by a newline, shown as the last line; a
    // follower gets the rest as it comes (tend(8), COMMANDS, `log`).
    // Not in `status NAME`'s last lines, which are whole lines only.
    let pending = || {
        ring.pending()
            .filter(|p| !j.detail && p.len() > usize::from(j.shown))
    };
    let Some(line) = read.or_else(pending) else {
        if j.follow {
            return false;
        }
        if j.detail {
            return put_crash(j, out, view);
        }
        j.stage = Stage::Close;
        return true;
    };
    // A line partly shown while pending goes on where it stopped,
    // unstamped.
    if j.shown == 0 {
        match j.utc {
            true => out.utc_stamp(line.stamp_ms.saturating_add(j.offset)),
            false => out.stamp(line.stamp_ms),
        };
    }
    let hold = !whole && j.follow;
    let took = out.shown(line.head, line.tail, usize::from(j.shown), hold);
    if hold {
        // (A plain cast: a line's bytes fit a u16, see `LINE_MAX_BYTES`'s
        // assert below.)
        j.shown = took as u16;
        return false;
    }
    if !line.ends_with_newline() {
        out.byte(b'\n');
    }
    j.shown = 0;
    if !whole {
        j.stage = Stage::Close;
    }
    true
}

/// `last crash: signal SEGV 2m05s ago` and its text, shown escaped
/// (tend(8), LOGS); or `none`. Whole: it always fits (see
/// CRASH_SHOWN_MAX_BYTES). Whether the reply can go on at once.
#[inline(never)]
fn put_crash<F>(j: &mut Job, out: &mut Out, view: &View<'_, F>) -> bool {
    let slot = view.table.get(j.src);
    j.stage = Stage::Close;
    out.s(b"\nlast crash: ");
    let Some(crash) = slot.map(|s| &s.crash).filter(|c| c.recorded) else {
        out.s(b"none\n");
        return true;
    };
    status::exit_words(out, crash.exit);
    let ago = view.now.saturating_sub(crash.at_ms);
    out.byte(b' ').dur(ago).s(b" ago\n");
    out.shown(crash.text(), &[], 0, false);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::EtcAccounts;
    use crate::crash::Crash;
    use crate::proto;
    use crate::service::{Event, Exit, StartError};
    use crate::slot::Slot;
    use crate::supervisor::{Effects, Supervisor};
    #[cfg(feature = "json")]
    use serde_json::Value;

    /// Forks nothing: the children are pids 100, 101… in the order they
    /// are started.
    struct NoFork(i32);

    impl Effects<()> for NoFork {
        fn spawn(&mut self, _slot: &mut Slot<()>, _now: u64) -> Result<i32, StartError> {
            self.0 += 1;
            Ok(99 + self.0)
        }
        fn signal_group(&mut self, _id: SvcId, _pid: i32, _sig: u8, _reaped: bool) {}
        fn crashed(&mut self, _slot: &mut Slot<()>, _exit: Exit, _now: u64) {}
        fn changed(&mut self, _slot: &Slot<()>, _now: u64) {}
    }

    fn ring(bytes: usize) -> Ring<'static> {
        // (Leaked: rings live in 'static storage.)
        Ring::new(Box::leak(vec![0u8; bytes].into_boxed_slice()))
    }

    /// The service records a reply reads, without the rest of tend.
    struct Fixture {
        table: Box<Table<()>>,
        sup: Supervisor,
        own: Ring<'static>,
    }

    /// A reply as a client reads it.
    struct Got {
        code: u8,
        text: String,
        intent: Option<Intent>,
    }

    impl Fixture {
        /// The services of table `conf`, each forked at 0 (service `i` as
        /// pid 100 + i) and up at 10.
        fn new(conf: &str) -> Fixture {
            let mut table = Box::new(Table::new());
            let none = EtcAccounts {
                passwd: b"",
                group: b"",
            };
            let errors = crate::table::parse(conf.as_bytes(), &none, &mut table, &mut |n, m| {
                panic!("line {n}: {:?}", m)
            });
            assert_eq!(errors, 0);
            for slot in table.slots.iter_mut() {
                slot.ring = ring(8192);
                let store = vec![0u8; crate::limits::CRASH_TAIL_BYTES];
                slot.crash = Crash::with_store(Box::leak(store.into_boxed_slice()));
            }
            let mut sup = Supervisor::new();
            sup.settle(&mut table.slots, 0, &mut NoFork(0));
            for i in 0..table.len() {
                let id = SvcId(i as u8);
                sup.on_exec(&mut table.slots, id, Ok(()), 10, &mut NoFork(0));
            }
            Fixture {
                own: ring(4096),
                table,
                sup,
            }
        }

        fn id(&self, name: &str) -> SvcId {
            self.table.find(name.as_bytes()).unwrap()
        }

        /// `name` writes `bytes` at `now`.
        fn log(&mut self, name: &str, now: u64, bytes: &[u8]) {
            let i = self.id(name).index();
            self.table.slots[i].ring.push(now, bytes);
        }

        /// `name`'s child ends with `exit` at `now`; a crash is recorded as
        /// the shell records it.
        fn exit(&mut self, name: &str, exit: Exit, now: u64) {
            let i = self.id(name).index();
            let slot = &mut self.table.slots[i];
            let (pid, started) = (slot.svc.pid, slot.svc.started_ms);
            if exit.failed() {
                slot.ring.end_line();
                slot.crash.record(exit, now, started, &slot.ring);
            }
            let slots = &mut self.table.slots;
            assert!(self.sup.on_exit(slots, pid, exit, now, &mut NoFork(0)));
        }

        /// `name` is stopped by hand at `now`.
        fn stop(&mut self, name: &str, now: u64) {
            let id = self.id(name);
            let slots = &mut self.table.slots;
            self.sup
                .command(slots, id, Event::Stop, now, &mut NoFork(0));
        }

        fn view(&self, now: u64) -> View<'_, ()> {
            View {
                table: &self.table,
                sup: &self.sup,
                own: &self.own,
                syslog: &self.own,
                dog: crate::status::Dog::default(),
                now,
            }
        }

        /// Begins the reply to `line` at `now` (the real-time clock at
        /// `wall_ms`; tend is PID 1 if `pid1`).
        fn begin(&self, line: &str, now: u64, wall_ms: u64, pid1: bool) -> (Reply, Option<Intent>) {
            let req = proto::parse(line.as_bytes()).unwrap();
            let mut r = Reply::new();
            let intent = r.begin(&req, &self.view(now), pid1, wall_ms);
            (r, intent)
        }

        /// The whole reply to `line` at `now`, read `chunk` bytes at a time.
        fn ask_in(&self, line: &str, now: u64, chunk: usize) -> Got {
            let (mut r, intent) = self.begin(line, now, 0, false);
            let bytes = self.drain(&mut r, now, chunk);
            assert!(r.finished(), "{line}: the reply ends");
            let (&code, text) = bytes.split_first().expect("an exit byte");
            let text = String::from_utf8(text.to_vec()).unwrap();
            Got { code, text, intent }
        }

        fn ask(&self, line: &str, now: u64) -> Got {
            self.ask_in(line, now, usize::MAX)
        }

        /// What the client reads until the reply waits or ends, `chunk`
        /// bytes at a time (a slow reader leaves bytes queued).
        fn drain(&self, r: &mut Reply, now: u64, chunk: usize) -> Vec<u8> {
            let view = self.view(now);
            let mut got = Vec::new();
            loop {
                r.produce(&view);
                assert!(!r.out.overflowed(), "a piece was cut");
                let n = r.queued().len().min(chunk);
                if n == 0 {
                    return got;
                }
                got.extend_from_slice(&r.queued()[..n]);
                r.sent(n);
            }
        }
    }

    /// The text after each line's `[  secs.mmm] ` stamp.
    fn texts(text: &str) -> Vec<&str> {
        text.lines()
            .map(|l| l.split_once("] ").map_or(l, |(_, t)| t))
            .collect()
    }

    #[test]
    fn status_rows_and_the_exit_byte() {
        let mut f = Fixture::new("[web]\nrun = /bin/web\n[db]\nrun = /bin/db\n");
        let got = f.ask("status", 2010);
        assert_eq!(got.code, EXIT_OK as u8);
        assert_eq!(
            got.text,
            "SERVICE  STATE     PID  UPTIME  RESTARTS  LAST EXIT\n\
             web      up        100      2s         0  -\n\
             db       up        101      2s         0  -\n"
        );
        // Dead within a second: backoff, so not as it should be.
        f.exit("db", Exit::Code(1), 500);
        let got = f.ask("status", 550);
        assert_eq!(got.code, EXIT_NOT_AS_WANTED as u8);
        let db = got.text.lines().nth(2).unwrap();
        assert!(db.starts_with("db       backoff     -       -  "), "{db:?}");
        assert!(db.ends_with("exit 1, retry in 50ms"), "{db:?}");
        // Only the services named count.
        assert_eq!(f.ask("status web", 550).code, EXIT_OK as u8);
        assert_eq!(f.ask("status db", 550).code, EXIT_NOT_AS_WANTED as u8);
        assert!(got.intent.is_none());
    }

    #[test]
    #[cfg(feature = "json")]
    fn status_json_parses_and_stays_whole_across_buffer_boundaries() {
        // Sixteen crash records of control bytes (each escaped six times
        // over) and a name of the longest kind: many times the buffer.
        let long = "n".repeat(31);
        let mut conf = format!("[{long}]\nrun = /bin/sleep 1000\n");
        for i in 0..16 {
            conf += &format!("[crash{i}]\nrun = /bin/false\n");
        }
        let mut f = Fixture::new(&conf);
        let line = [vec![1u8; 900], b"\n".to_vec()].concat();
        for i in 0..16 {
            let name = format!("crash{i}");
            f.log(&name, 100, &line);
            f.exit(&name, Exit::Code(1), 200);
        }
        for chunk in [usize::MAX, 4096, 1000, 7] {
            let got = f.ask_in("status -j", 300, chunk);
            assert_eq!(got.code, EXIT_NOT_AS_WANTED as u8);
            assert!(got.text.len() > 16 * 5000, "{} bytes", got.text.len());
            let doc: Value = serde_json::from_str(&got.text).expect("whole JSON");
            let services = doc["services"].as_array().unwrap();
            assert_eq!(services.len(), 17);
            assert_eq!(services[0]["name"], long.as_str());
            assert_eq!(services[0]["last_crash"], Value::Null);
            for s in &services[1..] {
                assert_eq!(s["state"], "backoff", "{s}");
                assert_eq!(s["last_exit"]["code"], 1, "{s}");
                assert_eq!(s["last_crash"]["what"], "exit 1", "{s}");
                assert_eq!(s["last_crash"]["ago_ms"], 100, "{s}");
                let lines = s["last_crash"]["lines"].as_str().unwrap();
                assert!(lines.contains(&"\u{1}".repeat(900)), "{s}");
            }
        }
    }

    #[test]
    #[cfg(all(feature = "json", feature = "reload"))]
    fn a_status_under_way_goes_on_without_the_services_a_reload_forgot() {
        // Enough services that the reply takes several rounds.
        const N: usize = 60;
        let conf: String = (0..N)
            .map(|i| format!("[svc{i:02}]\nrun = /bin/sleep 1000\n"))
            .collect();
        for json in [true, false] {
            let mut f = Fixture::new(&conf);
            let (mut r, _) = f.begin(if json { "status -j" } else { "status" }, 300, 0, false);
            r.produce(&f.view(300));
            let mut got = r.queued().to_vec();
            r.sent(got.len());
            // The services shown so far stay; every other one is forgotten
            // (the last slots of the table, as a reload leaves them).
            let shown = String::from_utf8_lossy(&got).matches("svc").count();
            assert!((1..N).contains(&shown), "{shown} shown at once");
            let map: Vec<Option<u8>> = (0..N).map(|i| (i < shown).then_some(i as u8)).collect();
            r.remap(&map);
            f.table.slots.truncate(shown);
            got.extend(f.drain(&mut r, 300, usize::MAX));
            assert!(r.finished());
            let text = String::from_utf8(got[1..].to_vec()).unwrap();
            assert_eq!(text.matches("svc").count(), shown, "{text}");
            if json {
                let doc: Value = serde_json::from_str(&text).expect("whole JSON");
                assert_eq!(doc["services"].as_array().unwrap().len(), shown);
            }
        }
    }

    #[test]
    fn log_lines_are_stamped_and_n_takes_the_last() {
        let mut f = Fixture::new("[web]\nrun = /bin/web\n");
        f.log("web", 1234, b"first\nsecond\n");
        f.log("web", 65_432_100, b"third\n");
        let got = f.ask("log web", 70_000_000);
        assert_eq!(got.code, EXIT_OK as u8);
        assert_eq!(
            got.text,
            "[     1.234] first\n[     1.234] second\n[ 65432.100] third\n"
        );
        assert_eq!(f.ask("log -n 2 web", 0).text.lines().count(), 2);
        assert_eq!(texts(&f.ask("log -n 1 web", 0).text), ["third"]);
        assert_eq!(f.ask("log -n 0 web", 0).text, "");
        // tend's own ring.
        f.own.push(5, b"supervising 1 service\n");
        let got = f.ask("log tend", 10);
        assert_eq!(got.text, "[     0.005] supervising 1 service\n");
    }

    #[test]
    fn log_t_stamps_with_the_wall_clock_it_is_given() {
        let mut f = Fixture::new("[web]\nrun = /bin/web\n");
        f.log("web", 1234, b"hello\n");
        // The real-time clock reads 2026-12-05T18:40:12.345Z less 1.234 s
        // plus `now`: the line's stamp is that time of day.
        let now = 10_000;
        let wall = 1_796_496_012_345 - 1234 + now;
        let (mut r, _) = f.begin("log -t web", now, wall, false);
        let bytes = f.drain(&mut r, now, usize::MAX);
        assert_eq!(bytes, b"\x002026-12-05T18:40:12.345Z hello\n");
    }

    #[test]
    fn log_shows_control_bytes_escaped_and_utf8_as_it_is() {
        let mut f = Fixture::new("[web]\nrun = /bin/web\n");
        f.log("web", 0, b"\x1b[2Jgone\x07\r\n");
        f.log("web", 0, "h\u{e9}llo \u{2192} \u{1f980}\tok\n".as_bytes());
        f.log("web", 0, b"bad \xff\xc2\x9b end\n");
        let got = f.ask("log web", 0);
        assert_eq!(
            texts(&got.text),
            [
                "\\x1b[2Jgone\\x07\\x0d",
                "h\u{e9}llo \u{2192} \u{1f980}\tok",
                "bad \\xff\\xc2\\x9b end"
            ]
        );
    }

    #[test]
    fn the_pending_line_is_shown_last() {
        let mut f = Fixture::new("[asker]\nrun = /bin/asker\n");
        f.log("asker", 1000, b"first\nprompt> ");
        let got = f.ask("log asker", 2000);
        assert_eq!(got.text, "[     1.000] first\n[     1.000] prompt> \n");
        // Not in `status NAME`'s last lines, which are whole lines only.
        let got = f.ask("status asker", 2000);
        assert!(got
            .text
            .contains("last lines:\n[     1.000] first\n\nlast crash"));
    }

    #[test]
    fn a_follower_continues_a_pending_line() {
        let mut f = Fixture::new("[asker]\nrun = /bin/asker\n");
        f.log("asker", 1000, b"first\nprompt> ");
        let (mut r, _) = f.begin("log -f asker", 2000, 0, false);
        let got = f.drain(&mut r, 2000, usize::MAX);
        assert_eq!(got, b"\0[     1.000] first\n[     1.000] prompt> ");
        assert!(r.idle_follower() && !r.finished(), "it waits for more");
        // Nothing new: nothing more.
        assert_eq!(f.drain(&mut r, 2500, usize::MAX), b"");
        // The rest of the line, unstamped; then new lines as they come.
        f.log("asker", 3000, b"done\n");
        assert_eq!(f.drain(&mut r, 3000, usize::MAX), b"done\n");
        f.log("asker", 4000, b"next\nhalf");
        assert_eq!(
            f.drain(&mut r, 4000, usize::MAX),
            b"[     4.000] next\n[     4.000] half"
        );
        // A character cut in two waits for its end.
        f.log("asker", 4100, b" \xe2\x86");
        assert_eq!(f.drain(&mut r, 4100, usize::MAX), b" ");
        f.log("asker", 4200, b"\x92\n");
        assert_eq!(f.drain(&mut r, 4200, usize::MAX), "\u{2192}\n".as_bytes());
    }

    #[test]
    fn an_unknown_name_is_refused_before_anything_happens() {
        let f = Fixture::new("[web]\nrun = /bin/web\n");
        for (line, verb) in [
            ("status nope", "status"),
            ("log nope", "log"),
            ("stop web nope", "stop"),
            ("signal nope 1", "signal"),
        ] {
            let got = f.ask(line, 0);
            assert_eq!(got.code, EXIT_UNKNOWN_NAME as u8, "{line}");
            assert_eq!(
                got.text,
                format!("tend: {verb}: no service named \"nope\"\n")
            );
            assert!(got.intent.is_none(), "{line}");
        }
        // `tend` is a name for `log` only.
        assert_eq!(f.ask("status tend", 0).code, EXIT_UNKNOWN_NAME as u8);
    }

    #[test]
    fn status_name_adds_the_last_lines_and_the_last_crash() {
        let mut f = Fixture::new("[web]\nrun = /bin/web\n[calm]\nrun = /bin/calm\n");
        for i in 0..12 {
            f.log("web", 100 + i, format!("line {i}\n").as_bytes());
        }
        f.log("web", 400, b"oops \x1b[31m\n");
        f.exit("web", Exit::Signal(11), 500);
        let got = f.ask("status web", 2500);
        assert_eq!(got.code, EXIT_NOT_AS_WANTED as u8);
        let (rows, rest) = got.text.split_once("\nlast lines:\n").unwrap();
        assert_eq!(rows.lines().count(), 2, "{rows}");
        assert!(rows.contains("signal SEGV, retry in"), "{rows}");
        let (lines, crash) = rest.split_once("\nlast crash: ").unwrap();
        let want: Vec<String> = (3..12).map(|i| format!("line {i}")).collect();
        let mut want: Vec<&str> = want.iter().map(String::as_str).collect();
        want.push("oops \\x1b[31m");
        assert_eq!(texts(lines), want);
        let (head, text) = crash.split_once('\n').unwrap();
        assert_eq!(head, "signal SEGV 2s ago");
        assert!(text.starts_with("[     0.100] line 0\n"), "{text:?}");
        assert!(text.ends_with("] oops \\x1b[31m\n"), "{text:?}");
        // Escaped, whatever the reader's pace.
        assert_eq!(f.ask_in("status web", 2500, 3).text, got.text);
        // No crash yet.
        let got = f.ask("status calm", 2500);
        assert!(got.text.ends_with("\nlast lines:\n\nlast crash: none\n"));
        // Two names: rows only.
        let got = f.ask("status web calm", 2500);
        assert_eq!(got.text.lines().count(), 3);
    }

    #[test]
    fn a_set_is_read_through_the_table() {
        let f = Fixture::new("[a]\nrun = /bin/a\n[b]\nrun = /bin/b\n[c]\nrun = /bin/c\n");
        let t = &f.table;
        assert_eq!(Set::all(t), Set(0b111));
        assert_eq!(Set::all(&*Box::new(Table::<()>::new())), Set(0));
        // Bits past the table's end are no services.
        assert_eq!(Set(0b1010).ids(t).collect::<Vec<_>>(), [SvcId(1)]);
        let all: Vec<SvcId> = Set(u64::MAX).ids(t).collect();
        assert_eq!(all, [SvcId(0), SvcId(1), SvcId(2)]);
    }

    #[test]
    fn what_a_client_asks_comes_back_as_an_intent() {
        let mut f = Fixture::new("[a]\nrun = /bin/a\n[b]\nrun = /bin/b\n[c]\nrun = /bin/c\n");
        let both = Set::default().with(SvcId(0)).with(SvcId(2));
        for (line, want) in [
            ("start a c", Intent::Start(both)),
            ("stop c a", Intent::Stop(both)),
            ("restart a c a", Intent::Restart(both)),
            (
                "signal b 10",
                Intent::Signal {
                    id: SvcId(1),
                    pid: 101,
                    sig: 10,
                },
            ),
        ] {
            let got = f.ask(line, 0);
            assert_eq!((got.code, got.text.as_str()), (EXIT_OK as u8, ""), "{line}");
            assert_eq!(got.intent, Some(want), "{line}");
        }
        // Not running: no signal.
        f.stop("b", 20);
        f.exit("b", Exit::Signal(15), 30);
        let got = f.ask("signal b 10", 40);
        assert_eq!(got.code, EXIT_NOT_AS_WANTED as u8);
        assert_eq!(got.text, "tend: signal: not running: b\n");
        assert!(got.intent.is_none());
        // Power: PID 1 only.
        let got = f.ask("reboot", 40);
        assert_eq!(got.code, EXIT_FAILED as u8);
        assert_eq!(
            got.text,
            "tend: reboot: tend is not PID 1 here; stop it with SIGTERM\n"
        );
        assert!(got.intent.is_none());
        let (mut r, intent) = f.begin("poweroff", 40, 0, true);
        assert_eq!(intent, Some(Intent::Power(Power::Poweroff)));
        assert_eq!(f.drain(&mut r, 40, usize::MAX), b"\0");
        // Shutting down: only `stop` is taken.
        f.sup.shutdown(&mut f.table.slots, 50, &mut NoFork(0));
        let got = f.ask("start a", 60);
        assert_eq!(got.code, EXIT_FAILED as u8);
        assert_eq!(got.text, "tend: start: shutting down\n");
        assert!(got.intent.is_none());
        assert_eq!(f.ask("stop a", 60).intent, Some(Intent::Stop(Set(1))));
        // A failure the loop meets when it carries one out replaces the
        // reply.
        let (mut r, _) = f.begin("signal a 10", 60, 0, false);
        r.refuse(EXIT_FAILED, b"signal", b"no such process", b"");
        assert_eq!(
            f.drain(&mut r, 60, usize::MAX),
            b"\x01tend: signal: no such process\n"
        );
        assert!(r.finished());
    }
}
