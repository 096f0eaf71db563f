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

use core::mem::swap;

use rustix::fd::AsFd;

use crate::conf::{ServiceConf, Span, SvcId};
use crate::ctl;
use crate::limits::MAX_SERVICES;
use crate::load;
use crate::reply::Out;
use crate::report::{self, EXIT_FAILED, EXIT_OK, EXIT_SYSTEM};
use crate::say::{nth, Buf};
use crate::service::Event;
use crate::shell::Shell;
use crate::sys::{self, Fd};
use crate::table::Table;
use crate::world::{CrashFree, World};

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
    let code = try_reload(world, null, path, now, &mut answer);
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
        if core::mem::replace(&mut self.comma, true) {
            self.out.byte(b',');
        }
        self.out.json_str(name);
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

/// What a reload does to each service of the old table (`RESTARTED`,
/// `REMOVED`, `UNCHANGED`, or `LEAVING` already) and of the new one
/// (`ADDED`, or it stays, from an old service with a log pipe or not):
/// the first four, XOR 2, are the lists of the reply and the count, in
/// its order (`ADDED` is 0: a plan starts all zeros).
const RESTARTED: u8 = 2;
const REMOVED: u8 = 3;
const ADDED: u8 = 0;
const UNCHANGED: u8 = 1;
const LEAVING: u8 = 4;
const STAYS: u8 = 5;
/// `STAYS` + 1.
const STAYS_WITH_PIPE: u8 = 6;

/// What happens to each service: its kind, old and new, and where each
/// old one goes in the combined table (the new one, then those leaving).
struct Plan {
    old: [u8; MAX_SERVICES],
    new: [u8; MAX_SERVICES],
    map: [Option<u8>; MAX_SERVICES],
}

impl Plan {
    /// Nothing planned yet: every service added (all zero bytes).
    const NEW: Plan = Plan {
        old: [ADDED; MAX_SERVICES],
        new: [ADDED; MAX_SERVICES],
        map: [None; MAX_SERVICES],
    };
}

/// Reloads; returns the exit status of the reply.
#[inline(never)]
fn try_reload(world: &mut World, null: &Fd, path: &[u8], now: u64, answer: &mut Answer<'_>) -> i32 {
    // A refusal's JSON reply, until the reload is applied.
    answer.json(b"{\"ok\":false,\"errors\":[");
    if world.sup.shutting_down() {
        return refuse(world, now, answer, b"tend is shutting down", EXIT_FAILED);
    }
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
    // What the log and the client are told at the end (one buffer for
    // every ending).
    let mut msg = Buf::<320>::new();
    if errors > 0 {
        msg.s(path)
            .s(b": not reloaded: ")
            .u(errors as u64)
            .s(b" error(s)");
        conclude(world, now, answer, msg.as_bytes());
        answer.json(b"]}\n");
        return EXIT_FAILED;
    }
    let mut plan = Plan::NEW;
    // Services matched by name (one leaving already stays leaving); room
    // for the new table's and for those removed still running.
    let (table, next) = (&world.table, &world.next);
    let mut slots = next.len();
    let kinds = plan.old.iter_mut().zip(plan.map.iter_mut());
    for (old, (kind, to)) in table.slots.iter().zip(kinds) {
        (*kind, *to) = match next.find(&old.conf.name).filter(|_| !old.leaving) {
            Some(j) => {
                if let Some(new) = plan.new.get_mut(j.index()) {
                    *new = STAYS + u8::from(old.log.is_some());
                }
                let new = next.conf(j);
                let same = new.is_some_and(|new| same(&old.conf, table, new, next));
                (if same { UNCHANGED } else { RESTARTED }, Some(j.0))
            }
            None => {
                let at = slots as u8;
                slots += usize::from(old.svc.state.running());
                let kind = if old.leaving { LEAVING } else { REMOVED };
                (kind, Some(at).filter(|_| old.svc.state.running()))
            }
        };
    }
    if slots > MAX_SERVICES {
        let why = b"more services than tend is built for, with those removed still stopping";
        return refuse(world, now, answer, why, EXIT_FAILED);
    }
    // Log pipes for the services that need one and inherit none: a failure
    // here still changes nothing.
    if let Err(e) = crate::setup::log_pipes(&mut world.next.slots, &plan.new, STAYS_WITH_PIPE) {
        msg.s(b"log pipe: ").s(report::why(e));
        return refuse(world, now, answer, msg.as_bytes(), EXIT_SYSTEM);
    }
    answer.out.clear();
    let counts = tell(world, &plan, answer);
    let (table, next) = (&world.table, &world.next);
    let tend_same = same_settings(table, next);
    apply(world, null, now, &plan);
    // The counts by kind, where a byte of the kind's number stands (`ADDED`
    // 2, `REMOVED` 1, `RESTARTED` 0, `UNCHANGED` 3).
    for &b in b"reloaded: \x02 added, \x01 removed, \x00 restarted, \x03 unchanged" {
        match counts.get(usize::from(b)) {
            Some(&n) => msg.u(n),
            None => msg.byte(b),
        };
    }
    if !tend_same {
        msg.s(b"; [tend] changed: it takes effect at the next start");
    }
    conclude(world, now, answer, msg.as_bytes());
    EXIT_OK
}

/// Says `msg`, how the reload ended, to tend's log and, as text, to the
/// client.
#[inline(never)]
fn conclude(world: &mut World, now: u64, answer: &mut Answer<'_>, msg: &[u8]) {
    report::say(Some((&mut world.own, now)), &[msg]);
    if !answer.json {
        answer.item(b"", msg);
    }
}

/// Says why the table was not reloaded, to tend's log and to the client
/// (the table had no error: the reply holds nothing yet, or its JSON
/// opening); returns `code`.
#[inline(never)]
fn refuse(world: &mut World, now: u64, answer: &mut Answer<'_>, why: &[u8], code: i32) -> i32 {
    report::say(Some((&mut world.own, now)), &[b"reload: ", why]);
    answer.item(b"tend: reload: ", why);
    answer.json(b"]}\n");
    code
}

/// Whether two services' settings are the same: every key, the line they
/// are on aside (`after` compared by names).
#[inline(never)]
fn same<F>(a: &ServiceConf, at: &Table<F>, b: &ServiceConf, bt: &Table<F>) -> bool {
    let spans = [
        (a.argv, b.argv),
        (a.env, b.env),
        (a.chdir, b.chdir),
        #[cfg(feature = "listen")]
        (a.listen, b.listen),
    ];
    key(a) == key(b)
        && a.ident.groups == b.ident.groups
        && same_strings(at, bt, &spans)
        && a.after.len() == b.after.len()
        && a.after
            .iter()
            .zip(&b.after)
            .all(|(&x, &y)| name(at, x) == name(bt, y))
}

/// Whether each pair of strings, the first in `at`'s pool, the second in
/// `bt`'s, are the same.
#[inline(never)]
fn same_strings<F>(at: &Table<F>, bt: &Table<F>, spans: &[(Span, Span)]) -> bool {
    spans
        .iter()
        .all(|&(x, y)| at.pool.bytes(x) == bt.pool.bytes(y))
}

/// How many numbers a service's settings that are numbers make (`key`).
const KEYS: usize = 14 + 2 * cfg!(feature = "listen") as usize;

/// The settings of `c` that are numbers, as numbers.
#[inline(never)]
fn key(c: &ServiceConf) -> [u32; KEYS] {
    [
        c.kind as u32,
        c.restart as u32,
        c.argc.into(),
        c.envc.into(),
        c.ready_fd.map_or(256, u32::from),
        c.log_bytes,
        c.console.into(),
        c.ident.uid.is_some().into(),
        c.ident.uid.unwrap_or(0),
        c.ident.gid.is_some().into(),
        c.ident.gid.unwrap_or(0),
        c.stop_signal.into(),
        c.stop_timeout_ms,
        c.critical.into(),
        #[cfg(feature = "listen")]
        c.accept.into(),
        #[cfg(feature = "listen")]
        c.instances.into(),
    ]
}

/// Whether two tables' `[tend]` sections say the same.
fn same_settings<F>(at: &Table<F>, bt: &Table<F>) -> bool {
    let (a, b) = (&at.settings, &bt.settings);
    let spans = [
        (a.syslog, b.syslog),
        (a.watchdog, b.watchdog),
        (a.keep, b.keep),
    ];
    (a.watchdog_timeout, a.watchdog_grace) == (b.watchdog_timeout, b.watchdog_grace)
        && same_strings(at, bt, &spans)
}

/// The name of service `id` of `t` (empty when there is none).
fn name<F>(t: &Table<F>, id: SvcId) -> &[u8] {
    t.conf(id).map_or(&[], |c| c.name.as_slice())
}

/// Writes what the reload does: the services restarted, removed (in the
/// old table's order) and added (in the new one's), as `VERB NAME` lines,
/// or the whole JSON reply. Returns how many of each kind there are.
fn tell(world: &World, plan: &Plan, answer: &mut Answer<'_>) -> [u64; 4] {
    let mut counts = [0; 4];
    let old = world.table.slots.iter().zip(&plan.old);
    let all = old.chain(world.next.slots.iter().zip(&plan.new));
    for (k, n) in counts.iter_mut().enumerate() {
        answer.json(nth(
            b"{\"ok\":true,\"restarted\":[\0],\"removed\":[\0],\"added\":[\0],\"unchanged\":",
            k,
        ));
        for (slot, _) in all.clone().filter(|s| usize::from(*s.1 ^ 2) == k) {
            if k < 3 {
                answer.item(nth(b"restarted \0removed \0added ", k), &slot.conf.name);
            }
            *n += 1;
        }
    }
    if answer.json {
        answer.out.u(counts[3]).s(b"}\n");
    }
    counts
}

/// Applies the new table (checked, its pipes open): builds the combined
/// table in `next`, lays the rings out anew, then makes it the table.
fn apply(world: &mut World, null: &Fd, now: u64, plan: &Plan) {
    let World {
        table,
        next,
        sup,
        own,
        crash_free,
        #[cfg(feature = "listen")]
        instances,
        ..
    } = &mut *world;
    let new_len = next.len();
    let mut sh = Shell {
        pool: &table.pool,
        own,
        null: null.as_fd(),
        #[cfg(feature = "listen")]
        inst: instances,
    };
    // The rings of the services that went, for the new layout.
    let mut join = sys::arena::Join::new();
    for (i, &kind) in plan.old.iter().enumerate() {
        if kind == RESTARTED {
            // Stopped with its old settings; back with the new (and its
            // socket bound again, to its new address).
            sup.command(
                &mut table.slots,
                SvcId(i as u8),
                Event::Changed,
                now,
                &mut sh,
            );
            #[cfg(feature = "listen")]
            if let Some(slot) = table.slots.get_mut(i) {
                slot.socket = None;
            }
        }
    }
    // From the first: the leaving ones go after the new table in order.
    for &to in plan.map.iter() {
        if table.slots.is_empty() {
            break;
        }
        let mut slot = table.slots.remove(0);
        match to.map(usize::from) {
            // It stays: the two trade everything, then the new slot takes
            // its conf back, and its log pipe if it had one (else the old
            // one's, unless its output goes to the console).
            Some(j) if j < new_len => {
                if let Some(new) = next.slots.get_mut(j) {
                    swap(&mut slot, new);
                    swap(&mut slot.conf, &mut new.conf);
                    if slot.log.is_some() || new.conf.console {
                        swap(&mut slot.log, &mut new.log);
                    }
                }
            }
            // Still running: leaving, after the new table.
            Some(_) => {
                slot.leaving = true;
                let c = &mut slot.conf;
                // Its strings are the old table's: it never starts again.
                (c.argv, c.argc, c.env, c.envc, c.chdir) = Default::default();
                // Its `after`, renumbered; what went is no one's.
                let mut after = heapless::Vec::new();
                for id in &c.after {
                    if let Some(&Some(to)) = plan.map.get(id.index()) {
                        let _ = after.push(SvcId(to));
                    }
                }
                c.after = after;
                // Room was made sure of (`try_reload`): the push cannot
                // fail, and what it would hand back needs no drop code.
                core::mem::forget(next.slots.push(slot));
            }
            None => {
                give_back(&mut slot.crash, crash_free);
                join.add(slot.ring.take_store().0);
            }
        }
    }
    swap(&mut world.table, &mut world.next);
    crate::setup::lay_out_rings(world, join);
    for c in world.clients.iter_mut() {
        ctl::remap(c, &plan.map);
    }
    #[cfg(feature = "listen")]
    world.instances.remap(&plan.map);
}

/// Keeps a crash record's storage for the services a reload adds.
fn give_back(crash: &mut crate::crash::Crash<'static>, free: &mut CrashFree) {
    if let Some(s) = crash.take_store() {
        let _ = free.push(s);
    }
}

/// Forgets the leaving services once the processes of all of them are
/// gone (until then one that stopped shows as down): they are the last
/// slots of the table, so nothing else moves. True when it forgot some:
/// it then ran cold code (the rest of this module), which the loop drops.
pub fn forget_left(world: &mut World) -> bool {
    let slots = &mut world.table.slots;
    if slots.iter().any(|s| s.leaving && s.svc.state.running()) {
        return false;
    }
    let mut map = [None::<u8>; MAX_SERVICES];
    let mut kept = 0;
    for (slot, to) in slots.iter_mut().zip(map.iter_mut()) {
        if slot.leaving {
            give_back(&mut slot.crash, &mut world.crash_free);
        } else {
            *to = Some(kept as u8);
            kept += 1;
        }
    }
    if kept == slots.len() {
        return false;
    }
    slots.truncate(kept);
    for c in world.clients.iter_mut() {
        ctl::remap(c, &map);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{parse, EtcAccounts};

    const BASE: &str = "[dep]\nrun = /bin/true\n\n[svc]\nrun = /bin/sleep 5\ntype = daemon\n\
        restart = always\nafter = dep\nready = none\nlog = 4k\nconsole = no\nuser = www\n\
        group = dialout\nenv = A=1\nchdir = /tmp\nstop-signal = TERM\nstop-timeout = 5s\n\
        critical = no\nlisten = tcp:127.0.0.1:1\naccept = no\ninstances = 8\n";

    fn table(text: &str) -> Box<Table<()>> {
        let acc = EtcAccounts {
            passwd: b"root:x:0:0::/:/bin/sh\nwww:x:33:33::/:/bin/sh\nftp:x:21:21::/:/bin/sh\n",
            group: b"root:x:0:\nwww:x:33:\ndialout:x:20:www\nftp:x:21:\n",
        };
        let mut t = Box::new(Table::new());
        let errors = parse(text.as_bytes(), &acc, &mut t, &mut |line, parts| {
            panic!("{line}: {}", String::from_utf8_lossy(parts))
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
        // (The keys of `listen` only in a tend built with it.)
        let listen = "listen = tcp:127.0.0.1:1\naccept = no\ninstances = 8\n";
        let base = match cfg!(feature = "listen") {
            true => BASE.to_string(),
            false => BASE.replace(listen, ""),
        };
        let moved = format!("# a comment\n\n[other]\nrun = /bin/false\n{base}");
        assert!(same_svc(&base, &moved));
        // A change to any one key is a change. Every key of the table
        // (tend.conf(5)) has a line here.
        for (key, to) in [
            ("run = /bin/sleep 5", "run = /bin/sleep 6"),
            ("type = daemon", "type = oneshot"),
            ("restart = always", "restart = never"),
            ("after = dep", "after = other"),
            ("ready = none", "ready = fd:4"),
            ("log = 4k", "log = 8k"),
            ("console = no", "console = yes"),
            ("user = www", "user = ftp"),
            ("group = dialout", "group = ftp"),
            ("env = A=1", "env = A=2"),
            ("chdir = /tmp", "chdir = /"),
            ("stop-signal = TERM", "stop-signal = INT"),
            ("stop-timeout = 5s", "stop-timeout = 6s"),
            ("critical = no", "critical = yes"),
            ("listen = tcp:127.0.0.1:1", "listen = tcp:127.0.0.1:2"),
            ("accept = no", "accept = yes"),
            ("instances = 8", "instances = 9"),
        ] {
            if listen.contains(key) && !cfg!(feature = "listen") {
                continue;
            }
            assert!(base.contains(key), "{key}");
            let changed = format!("[other]\nrun = /bin/false\n{}", base.replace(key, to));
            assert!(!same_svc(&base, &changed), "{key} -> {to}");
        }
        let keys = crate::table::key_count();
        assert_eq!(keys, 17, "a new key needs its line above, and in `same`");
    }
}
