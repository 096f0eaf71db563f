//! What `tend status` shows: the table of services (tend(8), STATUS), the
//! JSON form, and the words for a service's last exit.
//!
//! Rendering goes one row at a time into the caller's buffer, so a reply of
//! any length streams through a small, fixed client buffer.

use crate::conf::SvcId;
use crate::limits::{CLIENT_OUT_BYTES, CRASH_TAIL_BYTES, NAME_MAX_BYTES};
use crate::ring::Ring;
use crate::say::{decimal, Buf, Text};
use crate::service::{Exit, Outcome, State};
use crate::signal;
use crate::slot::Slot;
use crate::supervisor::{self, Supervisor};
use crate::table::Table;

/// Everything a reply to a client reads, at one instant: the services'
/// slots, whether tend shuts down, and tend's own ring (`tend log tend`).
pub struct View<'a, F> {
    pub table: &'a Table<F>,
    pub sup: &'a Supervisor,
    pub own: &'a Ring<'static>,
    /// The ring `syslog` (tend(8), SYSLOG).
    pub syslog: &'a Ring<'static>,
    /// The watchdog (tend(8), WATCHDOG).
    pub dog: Dog,
    pub now: u64,
}

/// Column widths, measured over the services shown.
#[derive(Clone, Copy, Default)]
pub struct Widths {
    // (u32s: shorter loads on x86-64; a name is under NAME_MAX_BYTES.)
    name: u32,
    pid: u32,
}

/// The widest bytes a row can take, so callers can wait for that much room.
pub const ROW_MAX_BYTES: usize = 200;

/// The most bytes [`json_service`] writes: the keys and numbers (under 600
/// bytes), the name, and the crash record's lines, every byte of which may
/// be escaped as `\u00XX`.
pub const JSON_SERVICE_MAX_BYTES: usize = 600 + 6 * (NAME_MAX_BYTES + CRASH_TAIL_BYTES);
const _: () = assert!(JSON_SERVICE_MAX_BYTES + 64 <= CLIENT_OUT_BYTES);

impl Widths {
    pub const ZERO: Widths = Widths { name: 0, pid: 0 };

    /// The widths of the rows of `ids`, and whether every one of those
    /// services is as it should be.
    pub fn measure<'s, F: 's>(slots: impl Iterator<Item = &'s Slot<F>>) -> (Widths, bool) {
        let mut name = b"SERVICE".len();
        // The widest pid is the largest: its digits are counted once.
        let mut most = 0u32;
        let mut all_ok = true;
        for slot in slots {
            all_ok &= slot.svc.as_expected(&slot.conf);
            name = name.max(slot.conf.name.len());
            most = most.max(slot.svc.pid.unsigned_abs());
        }
        let mut d = [0u8; 20];
        let pid = decimal(most.into(), &mut d).len().max(2);
        let w = Widths {
            name: name as u32 + 2,
            pid: pid as u32 + 1,
        };
        (w, all_ok)
    }
}

/// The watchdog as `tend status` shows it. All zero bytes without one (as
/// the world holds it: it stays in .bss).
#[derive(Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(Debug))]
pub struct Dog {
    /// How often it is fed; 0: there is no watchdog.
    pub every_ms: u64,
    /// False once tend let the board reset.
    pub fed: bool,
}

/// What comes before the services: as text, the watchdog's line when
/// there is one; as JSON, the object's start with its `watchdog` field.
#[inline(never)]
pub fn opening(out: &mut Text, dog: Dog, json: bool) {
    // A tend built without the watchdog has none to show.
    let dog = Some(dog).filter(|d| cfg!(feature = "watchdog") && d.every_ms > 0);
    match (json, dog) {
        (true, None) => out.s(b"{\"watchdog\":null,\"services\":["),
        (true, Some(d)) => out
            .s(b"{\"watchdog\":{\"fed\":")
            .s(bool_word(d.fed))
            .s(b",\"every_ms\":")
            .u(d.every_ms)
            .s(b"},\"services\":["),
        (
            false,
            Some(Dog {
                fed: true,
                every_ms,
            }),
        ) => out.s(b"watchdog: fed every ").dur(every_ms).byte(b'\n'),
        (false, Some(_)) => out.s(b"watchdog: not fed: letting the board reset\n"),
        (false, None) => out,
    };
}

pub fn header(out: &mut Text, w: Widths) {
    // `STATE` in its 9 bytes, `PID` right-aligned in its (of 3 or more).
    let (name, pid) = (w.name as usize, w.pid as usize);
    out.left(b"SERVICE", name)
        .left(b"STATE", b"STATE".len() + pid + 1);
    out.s(b"PID  UPTIME  RESTARTS  LAST EXIT\n");
}

#[inline(never)]
pub fn row<F>(out: &mut Text, w: Widths, view: &View<'_, F>, id: SvcId) {
    let Some(slot) = view.table.get(id) else {
        return;
    };
    let (conf, svc) = (&slot.conf, &slot.svc);
    let (name, pid) = (w.name as usize, w.pid as usize);
    out.left(&conf.name, name).left(svc.state.name(), 9);
    let mut uptime = Buf::<24>::new();
    if svc.state.running() {
        // (An `accept = yes` service has no process of its own: pid 0.)
        match svc.pid {
            0 if cfg!(feature = "listen") => out.right(b"-", pid),
            p => out.num(p.unsigned_abs().into(), pid, b' '),
        };
        uptime.dur(view.now.saturating_sub(svc.started_ms));
    } else {
        out.right(b"-", pid);
        uptime.byte(b'-');
    }
    out.s(b"  ").right(uptime.as_bytes(), 6).s(b"  ");
    out.num(svc.restarts.into(), 8, b' ').s(b"  ");
    last_exit(out, view, slot, id);
    out.byte(b'\n');
}

/// `exit 1, retry in 8s`, `signal SEGV 2m05s ago`, `exec: ENOENT`, `-`:
/// of `slot`, service `id`.
fn last_exit<F>(out: &mut Text, view: &View<'_, F>, slot: &Slot<F>, id: SvcId) {
    let svc = &slot.svc;
    let slots = &view.table.slots;
    let at = match svc.last {
        Outcome::None => None,
        Outcome::Exited { exit, at_ms } => {
            exit_words(out, exit);
            Some(at_ms)
        }
        Outcome::NotStarted { err, at_ms } => {
            out.s(err.step.name())
                .s(b": ")
                .s(crate::errno::symbol(err.errno));
            Some(at_ms)
        }
    };
    let now = view.now;
    if svc.state == State::Down && !supervisor::after_met(slots, id) {
        if at.is_some() {
            out.s(b", ");
        }
        out.s(b"waiting for");
        let waiting = slot.conf.after.iter();
        for &dep in waiting.filter(|&&d| !supervisor::dep_met(slots, d)) {
            if let Some(dep) = view.table.conf(dep) {
                out.byte(b' ').s(&dep.name);
            }
        }
        return;
    }
    let (before, ms, after): (&[u8], u64, &[u8]) = match (svc.state, at, svc.deadline_ms) {
        (State::Backoff, _, Some(deadline)) => (b", retry in ", deadline.saturating_sub(now), b""),
        (state, Some(at), _) if state.running() => (b" ", now.saturating_sub(at), b" ago"),
        (_, None, _) => {
            out.byte(b'-');
            return;
        }
        _ => return,
    };
    out.s(before).dur(ms).s(after);
}

/// `exit 1` or `signal SEGV`.
pub fn exit_words(out: &mut Text, exit: Exit) {
    match exit {
        Exit::Code(c) => out.s(b"exit ").u(c.into()),
        Exit::Signal(s) => out.s(b"signal ").s(signal::name(s)),
    };
}

/// [`json_service`]'s keys with their punctuation, in the order written,
/// each followed by a NUL byte.
const JSON_KEYS: &[u8] = b"{\"name\":\0,\"type\":\0,\"state\":\0,\"ok\":\0,\"wanted\":\0\
,\"pid\":\0,\"uptime_ms\":\0,\"restarts\":\0,\"last_exit\":\0{\"code\":\0,\"signal\":\0\
,\"start_error\":\0{\"step\":\0,\"errno\":\0}\0,\"ago_ms\":\0}\0,\"retry_in_ms\":\0\
,\"log\":{\"size\":\0,\"kept\":\0,\"dropped\":\0,\"written\":\0},\"last_crash\":\0\
{\"what\":\"\0\",\"ago_ms\":\0,\"lines\":\0}\0,\"instances\":\0,\"served\":\0}\0";

/// [`Keys::opt`]'s `null`: a sentinel, one register fewer than an Option.
const NONE: u64 = u64::MAX;

/// Writes [`JSON_KEYS`] one at a time, each before its value.
struct Keys<'o> {
    out: &'o mut Text,
    next: usize,
}

impl Keys<'_> {
    /// Writes the next key; its value follows.
    #[inline(never)]
    fn key(&mut self) -> &mut Text {
        let key = crate::say::nth(JSON_KEYS, self.next);
        self.next += 1;
        self.out.s(key)
    }

    /// The next key with `null`, and the next `skip` keys (an object's
    /// fields) left out.
    #[inline(never)]
    fn null(&mut self, skip: usize) {
        self.key().s(b"null");
        self.next += skip;
    }

    /// The next key with a number.
    #[inline(never)]
    fn num(&mut self, n: u64) {
        self.key().u(n);
    }

    /// The next key with a number, or `null` for [`NONE`] (no pid,
    /// uptime or delay comes near it).
    #[inline(never)]
    fn opt(&mut self, n: u64) {
        match n {
            NONE => self.null(0),
            n => self.num(n),
        }
    }

    /// The next key with a string.
    #[inline(never)]
    fn str(&mut self, text: &[u8]) {
        self.key().json_str(text);
    }

    /// The next key with `true` or `false`.
    #[inline(never)]
    fn bool(&mut self, b: bool) {
        self.key().s(bool_word(b));
    }
}

/// One service as a JSON object (stable field names, see the README).
#[inline(never)]
pub fn json_service<F>(out: &mut Text, view: &View<'_, F>, id: SvcId) {
    let Some(slot) = view.table.get(id) else {
        return;
    };
    let (conf, svc, now) = (&slot.conf, &slot.svc, view.now);
    let mut j = Keys { out, next: 0 };
    j.str(&conf.name);
    j.str(crate::say::nth(
        crate::table::section::KINDS,
        conf.kind as usize,
    ));
    j.str(svc.state.name());
    j.bool(svc.as_expected(conf));
    // While tend shuts down, nothing is wanted any more.
    j.bool(svc.state.wanted() && !view.sup.shutting_down());
    let running = svc.state.running();
    j.opt(match running && svc.pid != 0 {
        true => svc.pid.unsigned_abs().into(),
        false => NONE,
    });
    j.opt(match running {
        true => now.saturating_sub(svc.started_ms),
        false => NONE,
    });
    j.num(svc.restarts.into());
    let at = match svc.last {
        Outcome::None => {
            // code, signal, start_error, step, errno, }, ago_ms, }
            j.null(8);
            None
        }
        Outcome::Exited { exit, at_ms } => {
            j.key();
            match exit {
                Exit::Code(c) => {
                    j.num(c.into());
                    j.null(0);
                }
                Exit::Signal(s) => {
                    j.null(0);
                    j.str(signal::name(s));
                }
            }
            // step, errno, }
            j.null(3);
            Some(at_ms)
        }
        Outcome::NotStarted { err, at_ms } => {
            j.key();
            j.null(0);
            j.null(0);
            j.key();
            j.str(err.step.name());
            j.str(crate::errno::symbol(err.errno));
            j.key();
            Some(at_ms)
        }
    };
    if let Some(at) = at {
        j.num(now.saturating_sub(at));
        j.key();
    }
    j.opt(match (svc.state, svc.deadline_ms) {
        (State::Backoff, Some(d)) => d.saturating_sub(now),
        _ => NONE,
    });
    let ring = &slot.ring;
    j.num(ring.capacity() as u64);
    // (Dropped is written less kept, as `Ring::dropped` has it: `kept` read
    // once.)
    let (kept, written) = (ring.kept(), ring.written());
    j.num(kept);
    j.num(written.wrapping_sub(kept));
    j.num(written);
    let crash = &slot.crash;
    if crash.recorded {
        j.key();
        j.key();
        exit_words(j.out, crash.exit);
        j.num(now.saturating_sub(crash.at_ms));
        j.str(crash.text());
        j.key();
    } else {
        // what, ago_ms, lines, }
        j.null(4);
    }
    // An `accept = yes` service's instances running, connections served.
    #[cfg(feature = "listen")]
    {
        let (instances, served) = match conf.accept {
            true => (slot.instances.into(), slot.served.into()),
            false => (NONE, NONE),
        };
        j.opt(instances);
        j.opt(served);
    }
    #[cfg(not(feature = "listen"))]
    {
        j.next += 2;
    }
    j.key();
}

fn bool_word(b: bool) -> &'static [u8] {
    if b {
        b"true"
    } else {
        b"false"
    }
}
