//! `tend reload` and SIGHUP (tend(8), RELOAD): the table tend was started
//! with is read again into [`World::next`], checked whole — with any error
//! nothing changes — and the difference applied, services matched by name:
//!
//! - unchanged (every key the same): left alone;
//! - changed: stopped with their old stop signal and timeout, then started
//!   with the new settings once their `after` are met (a service stopped by
//!   hand stays stopped);
//! - removed: leaving — stopped in reverse dependency order, never
//!   restarted, forgotten once all their processes are gone
//!   ([`forget_left`]);
//! - added: started once their `after` are met.
//!
//! The new table becomes the table: the slots of the services that stay
//! move into it (state, ring, crash record, pipes), the leaving ones after
//! it. The rings are laid out anew in the arena (a changed `log` keeps the
//! newest lines that fit); a crash record's lines move with its slot.
//! `next`'s pages are given back. Clients reading a service's log or status
//! follow it to its new place, or end when it went.

use rustix::fd::AsFd;
use rustix::io::Errno;

use crate::arena::{self, Move};
use crate::conf::{ServiceConf, SvcId};
use crate::ctl;
use crate::limits::{CRASH_TAIL_BYTES, MAX_SERVICES};
use crate::load;
use crate::reply::Out;
use crate::report::{self, EXIT_FAILED, EXIT_OK, EXIT_SYSTEM};
use crate::say::Buf;
use crate::service::Event;
use crate::shell::Shell;
use crate::sys::{self, Fd};
use crate::table::Table;
use crate::world::{CrashFree, Slot, World};

/// Reads the table at `path` again and applies the difference. `client`:
/// the client that asked, and whether it wants JSON; none for SIGHUP.
/// tend's own log says what happened, as the client's reply does.
pub fn reload(world: &mut World, null: &Fd, path: &[u8], now: u64, client: Option<(usize, bool)>) {
    let mut out = Out::new();
    let mut answer = Answer {
        out: &mut out,
        json: client.is_some_and(|(_, j)| j),
        comma: false,
    };
    let code = match try_reload(world, null, path, now, &mut answer) {
        Ok(()) => EXIT_OK,
        Err(code) => code,
    };
    // `next` holds nothing now: its pages go back.
    world.next.clear();
    sys::release_table(&mut world.next);
    if let Some(c) = client.and_then(|(i, _)| world.clients.get_mut(i)) {
        ctl::answer(c, code, out.as_bytes());
    }
}

/// The reply to `tend reload` as it is written: lines of text, or JSON.
struct Answer<'o> {
    out: &'o mut Out,
    json: bool,
    /// A JSON list has an item already.
    comma: bool,
}

impl Answer<'_> {
    /// One item: the line `VERB NAME` as text, `"NAME"` in a JSON list.
    #[inline(never)]
    fn item(&mut self, verb: &[u8], name: &[u8]) {
        if !self.json {
            self.out.s(verb).s(name).byte(b'\n');
            return;
        }
        self.out
            .s(if self.comma { b"," } else { b"" })
            .json_str(name);
        self.comma = true;
    }

    /// JSON only: `text`, a list or the object opening or closing.
    #[inline(never)]
    fn json(&mut self, text: &[u8]) {
        if self.json {
            self.out.s(text);
        }
        self.comma = false;
    }
}

#[inline(never)]
fn try_reload(
    world: &mut World,
    null: &Fd,
    path: &[u8],
    now: u64,
    answer: &mut Answer<'_>,
) -> Result<(), i32> {
    if world.sup.shutting_down() {
        return Err(refuse(
            world,
            now,
            answer,
            b"tend is shutting down",
            EXIT_FAILED,
        ));
    }
    answer.json(b"{\"ok\":false,\"errors\":[");
    let World {
        next, own, scratch, ..
    } = &mut *world;
    let errors = load::read_into(
        scratch,
        path,
        b"",
        next,
        &mut |prefix: &[u8], line: &[u8]| {
            report::line(Some((&mut *own, now)), prefix, &[line]);
            answer.item(prefix, line);
        },
    );
    if errors > 0 {
        let mut msg = Buf::<320>::new();
        msg.s(path)
            .s(b": not reloaded: ")
            .u(errors as u64)
            .s(b" error(s)");
        report::say(Some((&mut world.own, now)), &[msg.as_bytes()]);
        if !answer.json {
            answer.item(b"", msg.as_bytes());
        }
        answer.json(b"]}\n");
        return Err(EXIT_FAILED);
    }
    answer.out.clear();
    // Room for the new table's services and those that leave it still
    // running.
    let next = &world.next;
    let staying = |s: &Slot| !s.leaving && next.find(&s.conf.name).is_some();
    let slots = world.table.slots.iter();
    let going = slots
        .filter(|s| s.svc.state.running() && !staying(s))
        .count();
    if next.len() + going > MAX_SERVICES {
        let why = b"more services than tend is built for, with those removed still stopping";
        return Err(refuse(world, now, answer, why, EXIT_FAILED));
    }
    let mut msg = Buf::<64>::new();
    // Log pipes for the services that need one and inherit none: a failure
    // here still changes nothing.
    if let Err(e) = open_pipes(world) {
        msg.s(b"log pipe: ").s(report::why(e));
        return Err(refuse(world, now, answer, msg.as_bytes(), EXIT_SYSTEM));
    }
    let counts = apply(world, null, now, answer);
    let mut msg = Buf::<128>::new();
    let words: [&[u8]; 4] = [b" added, ", b" removed, ", b" restarted, ", b" unchanged"];
    msg.s(b"reloaded: ");
    for (n, w) in counts.iter().zip(words) {
        msg.u(*n).s(w);
    }
    report::say(Some((&mut world.own, now)), &[msg.as_bytes()]);
    if answer.json {
        answer.out.s(b",\"unchanged\":").u(counts[3]).s(b"}\n");
    } else {
        answer.item(b"", msg.as_bytes());
    }
    Ok(())
}

/// Says why the table was not reloaded, to tend's log and to the client.
#[inline(never)]
fn refuse(world: &mut World, now: u64, answer: &mut Answer<'_>, why: &[u8], code: i32) -> i32 {
    report::say(Some((&mut world.own, now)), &[b"reload: ", why]);
    answer.out.clear();
    answer.json(b"{\"ok\":false,\"errors\":[");
    answer.item(b"tend: reload: ", why);
    answer.json(b"]}\n");
    code
}

/// Opens a log pipe for every new service that keeps its output and does
/// not inherit one from the service of the same name.
fn open_pipes(world: &mut World) -> Result<(), Errno> {
    let World { table, next, .. } = world;
    for slot in next.slots.iter_mut().filter(|s| !s.conf.console) {
        let old = table.find(&slot.conf.name).and_then(|id| table.get(id));
        if !old.is_some_and(|old| old.log.is_some() && !old.leaving) {
            slot.log = Some(crate::setup::log_pipe()?);
        }
    }
    Ok(())
}

/// Whether two services' settings are the same: every key, the line they
/// are on aside (`after` compared by names).
#[inline(never)]
fn same<F>(a: &ServiceConf, at: &Table<F>, b: &ServiceConf, bt: &Table<F>) -> bool {
    fn name<F>(t: &Table<F>, id: SvcId) -> Option<&[u8]> {
        t.conf(id).map(|c| c.name.as_slice())
    }
    fn strings<'t, F>(c: &ServiceConf, t: &'t Table<F>) -> [&'t [u8]; 3] {
        [c.argv, c.env, c.chdir].map(|span| t.pool.bytes(span))
    }
    (
        a.kind,
        a.restart,
        a.argc,
        a.envc,
        a.ready_fd,
        a.log_bytes,
        a.console,
    ) == (
        b.kind,
        b.restart,
        b.argc,
        b.envc,
        b.ready_fd,
        b.log_bytes,
        b.console,
    ) && (a.ident.uid, a.ident.gid, a.stop_signal, a.stop_timeout_ms)
        == (b.ident.uid, b.ident.gid, b.stop_signal, b.stop_timeout_ms)
        && a.ident.groups == b.ident.groups
        && strings(a, at) == strings(b, bt)
        && a.after.len() == b.after.len()
        && a.after
            .iter()
            .zip(&b.after)
            .all(|(&x, &y)| name(at, x) == name(bt, y))
}

/// What becomes of an old slot; where it goes in the combined table.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fate {
    Unchanged(u8),
    Changed(u8),
    /// Removed now, or leaving already.
    Removed,
}

/// Applies the new table (checked, its pipes open): builds the combined
/// table in `next`, lays the rings out anew, then makes it the table.
/// Returns how many services were added, removed, restarted, unchanged.
#[inline(never)]
fn apply(world: &mut World, null: &Fd, now: u64, answer: &mut Answer<'_>) -> [u64; 4] {
    let mut fates = [Fate::Removed; MAX_SERVICES];
    for (fate, old) in fates.iter_mut().zip(&world.table.slots) {
        let Some(j) = world.next.find(&old.conf.name).filter(|_| !old.leaving) else {
            continue;
        };
        *fate = match world.next.conf(j) {
            Some(new) if same(&old.conf, &world.table, new, &world.next) => Fate::Unchanged(j.0),
            _ => Fate::Changed(j.0),
        };
    }
    let fates = fates.get(..world.table.len()).unwrap_or(&[]);
    let counts = tell(world, fates, answer);
    let new_len = world.next.len();
    // Where each old slot goes: its index in the combined table.
    let mut map = [None::<u8>; MAX_SERVICES];
    for ((i, fate), to) in fates.iter().enumerate().zip(map.iter_mut()) {
        let World {
            table,
            next,
            sup,
            own,
            ..
        } = &mut *world;
        let Some(old) = table.slots.get_mut(i) else {
            continue;
        };
        *to = match *fate {
            Fate::Unchanged(j) => Some(j),
            Fate::Changed(j) => {
                // Stopped with its old settings; back with the new.
                let mut sh = Shell {
                    pool: &table.pool,
                    own,
                    null: null.as_fd(),
                };
                sup.command(
                    &mut table.slots,
                    SvcId(i as u8),
                    Event::Changed,
                    now,
                    &mut sh,
                );
                Some(j)
            }
            // Still running: leaving, after the new table.
            Fate::Removed if old.svc.state.running() => {
                let at = next.len() as u8;
                let mut conf = core::mem::take(&mut old.conf);
                // Its strings are the old table's: it never starts again.
                (conf.argv, conf.argc, conf.env, conf.envc, conf.chdir) = Default::default();
                next.slots
                    .push(crate::slot::Slot::new(conf))
                    .ok()
                    .map(|()| at)
            }
            Fate::Removed => None,
        };
        let (Some(old), Some(new)) = (
            table.slots.get_mut(i),
            to.and_then(|j| next.slots.get_mut(usize::from(j))),
        ) else {
            continue;
        };
        move_state(old, new);
        new.leaving = to.is_some_and(|j| usize::from(j) >= new_len);
    }
    // The leaving services' `after`, renumbered; what went is no one's.
    for slot in world.next.slots.iter_mut().skip(new_len) {
        renumber(&mut slot.conf, &map);
    }
    lay_out_rings(world);
    // Room for its crash record's lines for every service added (those
    // that stay brought theirs).
    let World {
        next,
        crash_free,
        crash_spare,
        ..
    } = &mut *world;
    for slot in next.slots.iter_mut().filter(|s| !s.crash.has_store()) {
        if let Some(store) = crash_free
            .pop()
            .or_else(|| carve(crash_spare, CRASH_TAIL_BYTES))
        {
            slot.crash.adopt(store);
        }
    }
    core::mem::swap(&mut world.table, &mut world.next);
    // What the old table still holds (removed services) goes with `next`;
    // their crash records' storage is kept.
    for slot in world.next.slots.iter_mut() {
        give_back(&mut slot.crash, &mut world.crash_free);
    }
    for c in world.clients.iter_mut() {
        ctl::remap(c, &map);
    }
    counts
}

/// Writes what the reload does: the services restarted, removed (in the
/// old table's order) and added (in the new one's), as `VERB NAME` lines or
/// JSON lists. Returns how many were added, removed, restarted and left
/// unchanged.
#[inline(never)]
fn tell(world: &World, fates: &[Fate], answer: &mut Answer<'_>) -> [u64; 4] {
    let (old, new) = (&world.table.slots, &world.next.slots);
    let old = old.iter().zip(fates);
    let restarted = old.clone().filter(|(_, f)| matches!(f, Fate::Changed(_)));
    let restarted = list(
        answer,
        b"{\"ok\":true,\"restarted\":[",
        b"restarted ",
        restarted,
    );
    let removed = old.filter(|(s, f)| **f == Fate::Removed && !s.leaving);
    let removed = list(answer, b"],\"removed\":[", b"removed ", removed);
    let added = new
        .iter()
        .enumerate()
        .filter(|&(k, _)| !fates.iter().any(|f| f.to() == Some(k)));
    let added = list(
        answer,
        b"],\"added\":[",
        b"added ",
        added.map(|(_, s)| (s, &Fate::Removed)),
    );
    answer.json(b"]");
    let unchanged = fates.iter().filter(|f| matches!(f, Fate::Unchanged(_)));
    [added, removed, restarted, unchanged.count() as u64]
}

/// One list of [`tell`]: `json` (a JSON list's opening), then an item
/// `VERB NAME` for each slot; how many.
fn list<'s>(
    answer: &mut Answer<'_>,
    json: &[u8],
    verb: &[u8],
    slots: impl Iterator<Item = (&'s Slot, &'s Fate)>,
) -> u64 {
    answer.json(json);
    let mut n = 0;
    for (slot, _) in slots {
        answer.item(verb, &slot.conf.name);
        n += 1;
    }
    n
}

impl Fate {
    /// Its index in the new table, when it stays.
    fn to(self) -> Option<usize> {
        match self {
            Fate::Unchanged(j) | Fate::Changed(j) => Some(usize::from(j)),
            Fate::Removed => None,
        }
    }
}

/// Moves the run-time part of a slot (state, ring, crash record, pipes,
/// pace) into `to`, a slot just read (never run, no ring), whose conf and
/// log pipe (if it has one) stay: the two trade everything, then `to` takes
/// its conf back, and its pipe if it had one; the crash record storage it
/// had goes spare.
#[inline(never)]
fn move_state(from: &mut Slot, to: &mut Slot) {
    use core::mem::swap;
    swap(from, to);
    swap(&mut from.conf, &mut to.conf);
    if from.log.is_some() || to.conf.console {
        swap(&mut from.log, &mut to.log);
    }
}

/// Keeps a crash record's storage for the services a reload adds.
fn give_back(crash: &mut crate::crash::Crash<'static>, free: &mut CrashFree) {
    if let Some(s) = crash.take_store() {
        let _ = free.push(s);
    }
}

/// The first `n` bytes of `spare`, if it has them.
#[inline(never)]
fn carve(spare: &mut Option<&'static mut [u8]>, n: usize) -> Option<&'static mut [u8]> {
    let all = spare.take()?;
    let (mine, rest) = all.split_at_mut_checked(n)?;
    *spare = Some(rest);
    Some(mine)
}

/// `after` renumbered by `map` (old index to new); what went is dropped.
fn renumber(conf: &mut ServiceConf, map: &[Option<u8>]) {
    let mut after = heapless::Vec::new();
    for id in &conf.after {
        if let Some(&Some(to)) = map.get(id.index()) {
            let _ = after.push(SvcId(to));
        }
    }
    conf.after = after;
}

/// Pieces of the ring part of the arena at most: every ring of the old and
/// the combined table, and the spare.
const PIECES: usize = 2 * MAX_SERVICES + 1;

/// The rings laid out anew for the combined table in `next`: every ring
/// the old and the combined slots hold, and the spare, are joined back
/// into one stretch of the arena; what each ring that stays keeps moves to
/// its new place, in the order the rings lay in, new rings after them; the
/// stretch is carved again in the new sizes.
#[inline(never)]
fn lay_out_rings(world: &mut World) {
    let World {
        table,
        next,
        ring_spare,
        ..
    } = world;
    // Address, bytes to keep, and slot of `next` (or none) of each piece.
    let mut info = [(usize::MAX, 0usize, None::<u8>); PIECES];
    let mut pieces = [const { None::<&'static mut [u8]> }; PIECES];
    let mut n = 0;
    for slot in table.slots.iter_mut() {
        slot.ring.shrink_to(0);
        let (buf, _) = slot.ring.take_store();
        add_piece(&mut info, &mut pieces, &mut n, buf, 0, None);
    }
    for (j, slot) in next.slots.iter_mut().enumerate() {
        slot.ring.shrink_to(ring_size(slot));
        let (buf, used) = slot.ring.take_store();
        add_piece(&mut info, &mut pieces, &mut n, buf, used, Some(j as u8));
    }
    add_piece(&mut info, &mut pieces, &mut n, ring_spare.take(), 0, None);
    let Some(whole) = sys::arena::join(&mut pieces) else {
        return; // Never: they are the arena's. The rings keep nothing.
    };
    let size = |j: u8| next.slots.get(usize::from(j)).map_or(0, ring_size);
    let mut moves = [Move {
        from: 0,
        to: 0,
        len: 0,
    }; PIECES];
    let mut plan = [(0u8, 0usize); MAX_SERVICES];
    let (mut to, mut m, mut p) = (0, 0, 0);
    // New places: the rings that stay, in the order they lay in (picked
    // one by one: no more than 129, a sort would cost more); then the new
    // ones.
    let mut start = None;
    let mut last = None;
    let mut j = 0;
    loop {
        let later = info
            .iter()
            .filter(|i| i.0 != usize::MAX && last.is_none_or(|l| i.0 > l));
        let (from, used, slot) = match later.min_by_key(|i| i.0) {
            Some(&(at, used, slot)) => {
                last = Some(at);
                let start = *start.get_or_insert(at);
                (at - start, used, slot)
            }
            None if j < next.len() => {
                j += 1;
                let new = j as u8 - 1;
                let had = info.iter().any(|i| i.2 == Some(new));
                (0, 0, Some(new).filter(|_| !had))
            }
            None => break,
        };
        let Some(slot) = slot else { continue };
        let len = size(slot);
        if let (true, Some(entry)) = (len > 0, plan.get_mut(p)) {
            if let Some(mv) = moves.get_mut(m).filter(|_| used > 0) {
                *mv = Move {
                    from,
                    to,
                    len: used,
                };
                m += 1;
            }
            *entry = (slot, len);
            p += 1;
            to += len;
        }
    }
    arena::relocate(whole, moves.get(..m).unwrap_or(&[]));
    let mut rest = Some(whole);
    for &(j, len) in plan.get(..p).unwrap_or(&[]) {
        if let (Some(buf), Some(slot)) = (carve(&mut rest, len), next.slots.get_mut(usize::from(j)))
        {
            slot.ring.adopt(buf);
        }
    }
    *ring_spare = rest;
}

/// A ring's size in the combined table: none for a leaving service or one
/// whose output goes to the console.
fn ring_size(s: &Slot) -> usize {
    match s.leaving || s.conf.console {
        true => 0,
        false => s.conf.log_bytes as usize,
    }
}

/// Notes piece `n` (its address, the bytes it keeps, its slot) and takes it.
#[inline(never)]
fn add_piece(
    info: &mut [(usize, usize, Option<u8>); PIECES],
    pieces: &mut [Option<&'static mut [u8]>; PIECES],
    n: &mut usize,
    buf: Option<&'static mut [u8]>,
    used: usize,
    slot: Option<u8>,
) {
    if let (Some(buf), Some(i), Some(p)) = (buf, info.get_mut(*n), pieces.get_mut(*n)) {
        *i = (buf.as_ptr() as usize, used, slot);
        *p = Some(buf);
        *n += 1;
    }
}

/// Forgets the leaving services once the processes of all of them are
/// gone (until then one that stopped shows as down): they are the last
/// slots of the table, so nothing else moves.
pub fn forget_left(world: &mut World) {
    let slots = &world.table.slots;
    let Some(first) = slots.iter().position(|s| s.leaving) else {
        return;
    };
    if slots.iter().any(|s| s.leaving && s.svc.state.running()) {
        return;
    }
    while world.table.len() > first {
        if let Some(mut gone) = world.table.slots.pop() {
            give_back(&mut gone.crash, &mut world.crash_free);
        }
    }
    let mut map = [None::<u8>; MAX_SERVICES];
    for (i, m) in map.iter_mut().enumerate().take(first) {
        *m = Some(i as u8);
    }
    for c in world.clients.iter_mut() {
        ctl::remap(c, &map);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{parse, EtcAccounts};

    const BASE: &str = "[dep]\nrun = /bin/true\n\n[svc]\nrun = /bin/sleep 5\ntype = daemon\n\
        restart = always\nafter = dep\nready = none\nlog = 4k\nconsole = no\nuser = www\n\
        group = dialout\nenv = A=1\nchdir = /tmp\nstop-signal = TERM\nstop-timeout = 5s\n";

    fn table(text: &str) -> Box<Table<()>> {
        let acc = EtcAccounts {
            passwd: b"root:x:0:0::/:/bin/sh\nwww:x:33:33::/:/bin/sh\nftp:x:21:21::/:/bin/sh\n",
            group: b"root:x:0:\nwww:x:33:\ndialout:x:20:www\nftp:x:21:\n",
        };
        let mut t = Box::new(Table::new());
        let errors = parse(text.as_bytes(), &acc, &mut t, &mut |line, parts| {
            panic!("{line}: {}", String::from_utf8_lossy(&parts.concat()))
        });
        assert_eq!(errors, 0);
        t
    }

    fn same_svc(a: &str, b: &str) -> bool {
        let (ta, tb) = (table(a), table(b));
        let (ia, ib) = (ta.find(b"svc").unwrap(), tb.find(b"svc").unwrap());
        same(ta.conf(ia).unwrap(), &ta, tb.conf(ib).unwrap(), &tb)
    }

    #[test]
    fn every_key_counts_and_nothing_else_does() {
        // The same settings elsewhere in the file, and in another order of
        // services, are the same.
        let moved = format!("# a comment\n\n[other]\nrun = /bin/false\n{BASE}");
        assert!(same_svc(BASE, &moved));
        // A change to any one key is a change. Every key of the table
        // (tend.conf(5)) has a line here.
        for (key, to) in [
            ("run = /bin/sleep 5", "run = /bin/sleep 6"),
            ("type = daemon", "type = oneshot"),
            ("restart = always", "restart = never"),
            ("after = dep", "after = other"),
            ("ready = none", "ready = fd:3"),
            ("log = 4k", "log = 8k"),
            ("console = no", "console = yes"),
            ("user = www", "user = ftp"),
            ("group = dialout", "group = ftp"),
            ("env = A=1", "env = A=2"),
            ("chdir = /tmp", "chdir = /"),
            ("stop-signal = TERM", "stop-signal = INT"),
            ("stop-timeout = 5s", "stop-timeout = 6s"),
        ] {
            assert!(BASE.contains(key), "{key}");
            let changed = format!("[other]\nrun = /bin/false\n{}", BASE.replace(key, to));
            assert!(!same_svc(BASE, &changed), "{key} -> {to}");
        }
        let keys = crate::table::key_count();
        assert_eq!(keys, 13, "a new key needs its line above, and in `same`");
    }
}
