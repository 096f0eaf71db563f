//! `tend reload` and SIGHUP (tend(8), RELOAD): the table tend was started
//! with is read again into [`World::next`], checked whole — with any error
//! nothing changes — and the difference applied, services matched by name:
//!
//! - unchanged (every key the same): left alone;
//! - changed: stopped with their old stop signal and timeout, then started
//!   with the new settings once their `after` are met (a service stopped by
//!   hand stays stopped);
//! - removed: leaving — stopped in reverse dependency order, never
//!   restarted, forgotten once their process is gone ([`forget_left`]);
//! - added: started once their `after` are met.
//!
//! The new table becomes the table: the slots of the services that stay
//! move into it (state, ring, crash record, pipes), the leaving ones after
//! it. The rings are laid out anew in the arena (a changed `log` keeps the
//! newest lines that fit); a crash record's lines move with its slot.
//! `next`'s pages are given back. Clients reading a service's log or status
//! follow it to its new place, or end when it went.

use rustix::fd::AsFd;
use rustix::fs::OFlags;
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
use crate::slot::LogPipe;
use crate::sys::{self, Fd};
use crate::table::Table;
use crate::world::{Slot, World};

/// Reads the table at `path` again and applies the difference. `client`:
/// the client that asked, and whether it wants JSON; none for SIGHUP.
/// tend's own log says what happened, as the client's reply does.
pub fn reload(world: &mut World, null: &Fd, path: &[u8], now: u64, client: Option<(usize, bool)>) {
    let json = client.is_some_and(|(_, j)| j);
    let mut out = Out::new();
    let code = match try_reload(world, null, path, now, json, &mut out) {
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

#[inline(never)]
fn try_reload(
    world: &mut World,
    null: &Fd,
    path: &[u8],
    now: u64,
    json: bool,
    out: &mut Out,
) -> Result<(), i32> {
    if world.sup.shutting_down() {
        return Err(refuse(
            world,
            now,
            out,
            json,
            b"tend is shutting down",
            EXIT_FAILED,
        ));
    }
    let mut n = Buf::<20>::new();
    let errors = {
        let World {
            next, own, scratch, ..
        } = &mut *world;
        out.s(if json {
            b"{\"ok\":false,\"errors\":["
        } else {
            b""
        });
        let mut comma = b"".as_slice();
        load::read_into(
            scratch,
            path,
            b"",
            next,
            &mut |prefix: &[u8], line: &[u8]| {
                report::line(Some((&mut *own, now)), prefix, &[line]);
                if json {
                    out.s(comma).json_str(line);
                    comma = b",";
                } else {
                    out.s(prefix).s(line).byte(b'\n');
                }
            },
        )
    };
    if errors > 0 {
        n.u(errors as u64);
        let say = [path, b": not reloaded: ", n.as_bytes(), b" error(s)"];
        report::say(Some((&mut world.own, now)), &say);
        if json {
            out.s(b"]}\n");
        } else {
            for part in say {
                out.s(part);
            }
            out.byte(b'\n');
        }
        return Err(EXIT_FAILED);
    }
    out.clear();
    // Room for the new table's services and those that leave it still
    // running.
    let next = &world.next;
    let staying = |s: &Slot| !s.leaving && next.find(&s.conf.name).is_some();
    let going = world
        .table
        .slots
        .iter()
        .filter(|s| s.svc.state.running() && !staying(s));
    let going = going.count();
    if next.len() + going > MAX_SERVICES {
        let mut msg = Buf::<96>::new();
        msg.s(b"too many services while ")
            .u(going as u64)
            .s(b" removed ones stop (tend is built for ")
            .u(MAX_SERVICES as u64)
            .byte(b')');
        return Err(refuse(world, now, out, json, msg.as_bytes(), EXIT_FAILED));
    }
    // Log pipes for the services that need one and inherit none: a failure
    // here still changes nothing.
    if let Err(e) = open_pipes(world) {
        let mut msg = Buf::<64>::new();
        msg.s(b"log pipe: ").s(report::why(e));
        return Err(refuse(world, now, out, json, msg.as_bytes(), EXIT_SYSTEM));
    }
    let counts = apply(world, null, now, json, out);
    let mut msg = Buf::<128>::new();
    let words: [&[u8]; 4] = [b" added, ", b" removed, ", b" restarted, ", b" unchanged"];
    msg.s(b"reloaded: ");
    for (n, w) in counts.iter().zip(words) {
        msg.u(*n).s(w);
    }
    report::say(Some((&mut world.own, now)), &[msg.as_bytes()]);
    if json {
        out.s(b",\"unchanged\":").u(counts[3]).s(b"}\n");
    } else {
        out.s(msg.as_bytes()).byte(b'\n');
    }
    Ok(())
}

/// Says why the table was not reloaded, to tend's log and to the client.
#[inline(never)]
fn refuse(world: &mut World, now: u64, out: &mut Out, json: bool, why: &[u8], code: i32) -> i32 {
    report::say(Some((&mut world.own, now)), &[b"reload: ", why]);
    out.clear();
    if json {
        out.s(b"{\"ok\":false,\"errors\":[")
            .json_str(why)
            .s(b"]}\n");
    } else {
        out.s(b"tend: reload: ").s(why).byte(b'\n');
    }
    code
}

/// Opens a log pipe for every new service that keeps its output and does
/// not inherit one from the service of the same name.
fn open_pipes(world: &mut World) -> Result<(), Errno> {
    let World { table, next, .. } = world;
    for slot in next.slots.iter_mut().filter(|s| !s.conf.console) {
        let old = table.find(&slot.conf.name).and_then(|id| table.get(id));
        if !old.is_some_and(|old| old.log.is_some() && !old.leaving) {
            let (read, write) = sys::pipe(linux_raw_sys::general::O_CLOEXEC)?;
            rustix::fs::fcntl_setfl(&read, OFlags::NONBLOCK)?;
            slot.log = Some(LogPipe::new(read, write));
        }
    }
    Ok(())
}

/// Whether two services' settings are the same: every key, the line they
/// are on aside (`after` compared by names).
#[inline(never)]
fn same(a: &ServiceConf, at: &Table<Fd>, b: &ServiceConf, bt: &Table<Fd>) -> bool {
    fn name(t: &Table<Fd>, id: SvcId) -> Option<&[u8]> {
        t.conf(id).map(|c| c.name.as_slice())
    }
    fn strings<'t>(c: &ServiceConf, t: &'t Table<Fd>) -> [&'t [u8]; 3] {
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
fn apply(world: &mut World, null: &Fd, now: u64, json: bool, out: &mut Out) -> [u64; 4] {
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
    let counts = tell(world, fates, json, out);
    let new_len = world.next.len();
    // Where each old slot goes: its index in the combined table.
    let mut map = [None::<u8>; MAX_SERVICES];
    for ((i, fate), to) in fates.iter().enumerate().zip(map.iter_mut()) {
        let World {
            table,
            next,
            sup,
            own,
            crash_free,
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
                let gone = crate::slot::Slot::new(old.conf.leaving());
                next.slots.push(gone).ok().map(|()| at)
            }
            Fate::Removed => None,
        };
        let (Some(old), Some(new)) = (
            table.slots.get_mut(i),
            to.and_then(|j| next.slots.get_mut(usize::from(j))),
        ) else {
            continue;
        };
        move_state(old, new, crash_free);
        new.leaving = to.is_some_and(|j| usize::from(j) >= new_len);
    }
    // The leaving services' `after`, renumbered; what went is no one's.
    for slot in world.next.slots.iter_mut().skip(new_len) {
        renumber(&mut slot.conf, &map);
    }
    lay_out_rings(world);
    // A crash record's lines for every slot with a ring, none for others.
    let World {
        next,
        crash_free,
        crash_spare,
        ..
    } = &mut *world;
    for slot in next.slots.iter_mut() {
        let had = slot.crash.take_store().0;
        let store = match (slot.ring.capacity() > 0, had) {
            (true, Some(store)) => Some(store),
            (true, None) => crash_free
                .pop()
                .or_else(|| carve(crash_spare, CRASH_TAIL_BYTES)),
            (false, had) => {
                if let Some(s) = had {
                    let _ = crash_free.push(s);
                }
                None
            }
        };
        slot.crash.adopt(store.unwrap_or_default());
    }
    core::mem::swap(&mut world.table, &mut world.next);
    // What the old table still holds (removed services) goes with `next`;
    // their crash records' storage is kept.
    for slot in world.next.slots.iter_mut() {
        if let (Some(s), _) = slot.crash.take_store() {
            let _ = world.crash_free.push(s);
        }
    }
    for c in world.clients.iter_mut() {
        ctl::remap(c, &map);
    }
    counts
}

/// Writes what the reload does: the services restarted, removed (in the
/// old table's order) and added (in the new one's), as `VERB NAME` lines or
/// as JSON lists. Returns how many were added, removed, restarted and left
/// unchanged.
#[inline(never)]
fn tell(world: &World, fates: &[Fate], json: bool, out: &mut Out) -> [u64; 4] {
    let (old, new) = (&world.table.slots, &world.next.slots);
    let stays = |j: usize| {
        fates
            .iter()
            .any(|f| matches!(*f, Fate::Unchanged(k) | Fate::Changed(k) if usize::from(k) == j))
    };
    let of = |k: usize, which: usize| -> Option<&[u8]> {
        let old = || old.get(k).zip(fates.get(k));
        let name = match which {
            0 => old()
                .filter(|(_, f)| matches!(f, Fate::Changed(_)))
                .map(|(s, _)| s),
            1 => old()
                .filter(|(s, f)| **f == Fate::Removed && !s.leaving)
                .map(|(s, _)| s),
            _ => new.get(k).filter(|_| !stays(k)),
        };
        name.map(|s| s.conf.name.as_slice())
    };
    let mut counts = [0u64; 4];
    out.s(if json { b"{\"ok\":true" } else { b"" });
    for (which, (key, verb)) in [
        (b",\"restarted\":[".as_slice(), b"restarted ".as_slice()),
        (b"],\"removed\":[", b"removed "),
        (b"],\"added\":[", b"added "),
    ]
    .into_iter()
    .enumerate()
    {
        out.s(if json { key } else { b"" });
        let mut comma = b"".as_slice();
        for name in (0..MAX_SERVICES).filter_map(|k| of(k, which)) {
            if json {
                out.s(comma).json_str(name);
                comma = b",";
            } else {
                out.s(verb).s(name).byte(b'\n');
            }
            if let Some(n) = counts.get_mut(2 - which) {
                *n += 1;
            }
        }
    }
    out.s(if json { b"]" } else { b"" });
    counts[3] = fates
        .iter()
        .filter(|f| matches!(f, Fate::Unchanged(_)))
        .count() as u64;
    counts
}

/// Moves the run-time part of a slot (state, ring, crash record, pipes,
/// pace) into `to`, whose conf and log pipe (if it has one) stay.
#[inline(never)]
fn move_state(from: &mut Slot, to: &mut Slot, crash_free: &mut CrashFree) {
    use core::mem::take;
    to.svc = take(&mut from.svc);
    to.ring = core::mem::replace(&mut from.ring, crate::ring::Ring::empty());
    if let (Some(s), _) = to.crash.take_store() {
        let _ = crash_free.push(s);
    }
    to.crash = take(&mut from.crash);
    to.pace = take(&mut from.pace);
    to.ready = take(&mut from.ready);
    to.exec = take(&mut from.exec);
    if to.log.is_none() && !to.conf.console {
        to.log = take(&mut from.log);
    }
}

/// Spare storage for crash records' lines (see [`World::crash_free`]).
pub type CrashFree = heapless::Vec<&'static mut [u8], MAX_SERVICES>;

/// The first `n` bytes of `spare`, if it has them.
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
    // In the order they lie in (no more than 129: a sort would cost more).
    let after = |at: usize| {
        let later = info
            .iter()
            .filter(move |i| i.0 != usize::MAX && (i.0 > at || at == usize::MAX));
        later.min_by_key(|i| i.0).copied()
    };
    let order = core::iter::successors(after(usize::MAX), |i| after(i.0));
    let start = order.clone().next().map_or(0, |i| i.0);
    // New places: the rings that stay, in the order they lay in; then the
    // new ones.
    let size = |j: u8| next.slots.get(usize::from(j)).map_or(0, ring_size);
    let mut moves = [Move {
        from: 0,
        to: 0,
        len: 0,
    }; PIECES];
    let mut plan = [(0u8, 0usize); MAX_SERVICES];
    let (mut to, mut m, mut p) = (0, 0, 0);
    let had = |j: u8| info.iter().any(|i| i.2 == Some(j));
    let staying = order.filter_map(|i| Some((i.2?, i.0 - start, i.1)));
    let added = (0..next.len() as u8)
        .filter(|&j| !had(j))
        .map(|j| (j, 0, 0));
    for (j, from, used) in staying.chain(added) {
        let len = size(j);
        if let (true, Some(slot)) = (len > 0, plan.get_mut(p)) {
            if let Some(mv) = moves.get_mut(m).filter(|_| used > 0) {
                *mv = Move {
                    from,
                    to,
                    len: used,
                };
                m += 1;
            }
            *slot = (j, len);
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

/// Forgets the leaving services whose processes are all gone, and
/// renumbers the ones after them (only leaving ones come after).
pub fn forget_left(world: &mut World) {
    while let Some(k) = world
        .table
        .slots
        .iter()
        .position(|s| s.leaving && !s.svc.state.running())
    {
        let mut map = [None::<u8>; MAX_SERVICES];
        for (i, m) in map.iter_mut().enumerate() {
            *m = match i.cmp(&k) {
                core::cmp::Ordering::Less => Some(i as u8),
                core::cmp::Ordering::Equal => None,
                core::cmp::Ordering::Greater => Some(i as u8 - 1),
            };
        }
        // To the end, then off (heapless' `remove` keeps a panic path).
        let tail = world.table.slots.get_mut(k..).unwrap_or(&mut []);
        let mut it = tail.iter_mut();
        if let Some(mut prev) = it.next() {
            for cur in it {
                core::mem::swap(prev, cur);
                prev = cur;
            }
        }
        if let Some(mut gone) = world.table.slots.pop() {
            if let (Some(s), _) = gone.crash.take_store() {
                let _ = world.crash_free.push(s);
            }
        }
        for slot in world.table.slots.iter_mut().skip(k) {
            renumber(&mut slot.conf, &map);
        }
        for c in world.clients.iter_mut() {
            ctl::remap(c, &map);
        }
    }
}
