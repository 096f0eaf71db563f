//! The supervisor's decisions: which service starts or stops when, from the
//! events the event loop reports. Pure: the loop passes the time in and the
//! [`Effects`] it implements carry out what is decided.
//!
//! It writes no service's state itself: it routes each event to the
//! service's machine ([`Service::step`]), user commands and shutdown
//! included, and picks which service goes when — a `Down` one once its
//! `after` is met ([`Event::AfterMet`]), and in shutdown a running one once
//! nothing running depends on it ([`Event::Stop`]). It works on the
//! services' slots ([`Slot`]), which the caller lends it with each event;
//! what it keeps itself is only whether tend shuts down.
//!
//! [`Service::step`]: crate::service::Service::step

use crate::conf::{Kind, SvcId};
use crate::service::{Action, Event, Exit, StartError, State};
use crate::slot::Slot;

/// What the supervisor asks of the world, for services whose descriptors
/// are `F`. (Taken as a type parameter, not `dyn`: tend has one, whose
/// calls are then direct.)
pub trait Effects<F> {
    /// Fork the service's child (and keep in its slot the pipes it will
    /// tell through); its pid, or why it could not. Whether the child's
    /// exec happened comes later, through [`Supervisor::on_exec`].
    fn spawn(&mut self, slot: &mut Slot<F>, now: u64) -> Result<i32, StartError>;
    /// Send `sig` to the process group led by `pid`, service `id`'s child
    /// (and SIGCONT after it, unless it is SIGKILL); with no child (pid 0),
    /// to the groups of its instances (`accept = yes`). Unless `reaped`,
    /// `pid` is a child not yet reaped, which gets the signal itself when
    /// it has not made its group yet (forked, before its `setsid`).
    fn signal_group(&mut self, id: SvcId, pid: i32, sig: u8, reaped: bool);
    /// The service's run (begun at its `started_ms`) died abnormally:
    /// freeze its last lines.
    fn crashed(&mut self, slot: &mut Slot<F>, exit: Exit, now: u64);
    /// The service changed state: say so.
    fn changed(&mut self, slot: &Slot<F>, now: u64);
}

/// What the supervisor knows beyond the services' slots.
pub struct Supervisor {
    shutting_down: bool,
}

impl Default for Supervisor {
    fn default() -> Self {
        Self::new()
    }
}

impl Supervisor {
    pub const fn new() -> Supervisor {
        Supervisor {
            shutting_down: false,
        }
    }

    pub fn shutting_down(&self) -> bool {
        self.shutting_down
    }

    /// Shutdown is complete: no service has a process left.
    pub fn finished<F>(&self, slots: &[Slot<F>]) -> bool {
        self.shutting_down && slots.iter().all(|s| !s.svc.state.running())
    }

    /// A child ended. Returns false when it was none of the services (an
    /// orphan that was reaped).
    pub fn on_exit<F, E: Effects<F> + ?Sized>(
        &mut self,
        slots: &mut [Slot<F>],
        pid: i32,
        exit: Exit,
        now: u64,
        fx: &mut E,
    ) -> bool {
        let Some(id) = service_of(slots, pid) else {
            return false;
        };
        self.on_end(slots, id, exit, now, fx);
        true
    }

    /// Service `id`'s process ended (or, for an `accept = yes` service,
    /// which has none, its last instance once it was stopped).
    pub fn on_end<F, E: Effects<F> + ?Sized>(
        &mut self,
        slots: &mut [Slot<F>],
        id: SvcId,
        exit: Exit,
        now: u64,
        fx: &mut E,
    ) {
        let mut ending = self.shutting_down;
        if let Some(slot) = slots.get_mut(id.index()) {
            if exit.failed() && !slot.svc.state.stopping() && !slot.leaving {
                fx.crashed(slot, exit, now);
            }
            // A service `tend reload` removed is not restarted either.
            ending |= slot.leaving;
        }
        apply(slots, id, Event::Exited { exit, ending }, now, fx);
    }

    /// The service's child told how its start went: `Ok` once its exec
    /// happened, or the step that failed before it.
    pub fn on_exec<F, E: Effects<F> + ?Sized>(
        &mut self,
        slots: &mut [Slot<F>],
        id: SvcId,
        result: Result<(), StartError>,
        now: u64,
        fx: &mut E,
    ) {
        let event = match result {
            Ok(()) => Event::Execd,
            Err(err) => Event::SpawnFailed(err),
        };
        apply(slots, id, event, now, fx);
    }

    /// The service's child told, through its pipes, how its start went
    /// ([`Event::Execd`], [`Event::SpawnFailed`]) or that it is ready
    /// ([`Event::Ready`]).
    pub fn on_child<F, E: Effects<F> + ?Sized>(
        &mut self,
        slots: &mut [Slot<F>],
        id: SvcId,
        event: Event,
        now: u64,
        fx: &mut E,
    ) {
        apply(slots, id, event, now, fx);
    }

    /// `tend start`, `stop` or `restart` (`event`) of one service. Only
    /// `stop` while shutting down.
    pub fn command<F, E: Effects<F> + ?Sized>(
        &mut self,
        slots: &mut [Slot<F>],
        id: SvcId,
        event: Event,
        now: u64,
        fx: &mut E,
    ) {
        if matches!(event, Event::Stop) || !self.shutting_down {
            apply(slots, id, event, now, fx);
        }
    }

    /// Stop everything in reverse dependency order; see [`Self::finished`].
    pub fn shutdown<F, E: Effects<F> + ?Sized>(
        &mut self,
        slots: &mut [Slot<F>],
        now: u64,
        fx: &mut E,
    ) {
        self.shutting_down = true;
        for i in 0..slots.len() {
            apply(slots, SvcId(i as u8), Event::Shutdown, now, fx);
        }
        self.settle(slots, now, fx);
    }

    /// Fires due deadlines and starts (or, in shutdown, stops) whatever can
    /// go now; last, moves `accept = yes` services on (see `accept_move`).
    /// Call after every batch of events.
    pub fn settle<F, E: Effects<F> + ?Sized>(
        &mut self,
        slots: &mut [Slot<F>],
        now: u64,
        fx: &mut E,
    ) {
        for _ in 0..slots.len() + 1 {
            let mut acted = false;
            for i in 0..slots.len() {
                let id = SvcId(i as u8);
                let Some(slot) = slots.get(i) else {
                    continue;
                };
                let (svc, leaving) = (&slot.svc, slot.leaving);
                // (None as u64::MAX: never due, `now` being ms since boot.)
                let (state, due) = (svc.state, svc.deadline_ms.unwrap_or(u64::MAX) <= now);
                let event = if due {
                    Some(Event::Timer)
                } else if self.shutting_down || leaving {
                    let stoppable = matches!(
                        state,
                        State::Forked | State::Starting | State::Up | State::Ready | State::Backoff
                    );
                    (stoppable && !has_running_dependent(slots, id)).then_some(Event::Stop)
                } else {
                    let waits = state == State::Down;
                    (waits && after_met(slots, id)).then_some(Event::AfterMet)
                };
                #[cfg(feature = "listen")]
                let event = event.or_else(|| accept_move(slot, self.shutting_down || leaving));
                if let Some(event) = event {
                    apply(slots, id, event, now, fx);
                    acted = true;
                }
            }
            if !acted {
                break;
            }
        }
    }
}

/// What moves an `accept = yes` service, which has no child of its own
/// (tend(8), SOCKETS): forked (its socket bound) is up at once; stopping,
/// it ends once its last instance has. `ending`: while tend shuts down, or
/// `tend reload` removed it.
#[cfg(feature = "listen")]
fn accept_move<F>(slot: &Slot<F>, ending: bool) -> Option<Event> {
    let state = slot.svc.state;
    if !slot.conf.accept {
        return None;
    }
    if state == State::Forked {
        return Some(Event::Execd);
    }
    let exit = Exit::Code(0);
    (state.stopping() && slot.instances == 0).then_some(Event::Exited { exit, ending })
}

/// Feeds one event to one service and carries out what it decides.
fn apply<F, E: Effects<F> + ?Sized>(
    slots: &mut [Slot<F>],
    id: SvcId,
    event: Event,
    now: u64,
    fx: &mut E,
) {
    let Some(slot) = slots.get_mut(id.index()) else {
        return;
    };
    let before = slot.svc.state;
    let pid = slot.svc.pid;
    let action = slot.svc.step(&slot.conf, event, now);
    let sig = match action {
        Action::None => None,
        Action::Spawn => {
            let result = match fx.spawn(slot, now) {
                Ok(pid) => Event::Spawned { pid },
                Err(err) => Event::SpawnFailed(err),
            };
            slot.svc.step(&slot.conf, result, now);
            None
        }
        Action::Signal(sig) => Some(sig),
        Action::Kill => Some(linux_raw_sys::general::SIGKILL as u8),
    };
    // A stop signal never answers an exit: only a SIGKILL goes to the group
    // of a child already reaped.
    if let Some(sig) = sig {
        fx.signal_group(id, pid, sig, matches!(event, Event::Exited { .. }));
    }
    if slot.svc.state.shown() != before.shown() || matches!(event, Event::Exited { .. }) {
        fx.changed(slot, now);
    }
}

/// The service whose child is `pid`, while that child is not reaped. (A
/// service keeps its child's pid exactly while it runs: [`Service::step`]
/// sets it on a spawn and clears it on every way out of the running states.)
///
/// [`Service::step`]: crate::service::Service::step
pub fn service_of<F>(slots: &[Slot<F>], pid: i32) -> Option<SvcId> {
    if pid <= 0 {
        return None;
    }
    let at = slots.iter().position(|s| s.svc.pid == pid)?;
    Some(SvcId(at as u8))
}

/// Every service named in `after` is up (or ready, when it declares
/// `ready`), or, for a oneshot, done.
pub fn after_met<F>(slots: &[Slot<F>], id: SvcId) -> bool {
    let Some(slot) = slots.get(id.index()) else {
        return false;
    };
    slot.conf.after.iter().all(|&dep| dep_met(slots, dep))
}

/// `dep` is as far as its dependents wait for: up, ready when it declares
/// `ready`, or done for a oneshot.
pub fn dep_met<F>(slots: &[Slot<F>], dep: SvcId) -> bool {
    let Some(slot) = slots.get(dep.index()) else {
        return false;
    };
    let state = slot.svc.state;
    match (slot.conf.kind, slot.conf.ready_fd.is_some()) {
        (Kind::Oneshot, _) => state.shown() == State::Done,
        (Kind::Daemon, true) => state == State::Ready,
        (Kind::Daemon, false) => matches!(state, State::Up | State::Ready),
    }
}

#[inline(never)]
fn has_running_dependent<F>(slots: &[Slot<F>], id: SvcId) -> bool {
    slots
        .iter()
        .any(|s| s.svc.state.running() && s.conf.after.contains(&id))
}

/// The earliest deadline (backoff retry or SIGKILL), for poll's timeout.
pub fn next_deadline<F>(slots: &[Slot<F>]) -> Option<u64> {
    slots.iter().filter_map(|s| s.svc.deadline_ms).min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conf::{Restart, ServiceConf};
    use crate::service::tests::conf;
    use crate::service::Step;
    use crate::table::Table;

    /// Records what the supervisor asked for.
    #[derive(Default)]
    struct Record {
        calls: Vec<String>,
        next_pid: i32,
        /// The fork fails with this.
        fail: Option<StartError>,
        /// Forked children that have not told yet how their exec went.
        pending: Vec<SvcId>,
    }

    impl Effects<()> for Record {
        fn spawn(&mut self, slot: &mut Slot<()>, _now: u64) -> Result<i32, StartError> {
            let id = SvcId(slot.conf.name[3] - b'0');
            self.calls.push(format!("spawn {}", id.0));
            if let Some(e) = self.fail {
                return Err(e);
            }
            self.next_pid += 1;
            self.pending.push(id);
            Ok(100 + self.next_pid)
        }
        fn signal_group(&mut self, _id: SvcId, pid: i32, sig: u8, reaped: bool) {
            let group = if reaped { " reaped" } else { "" };
            self.calls.push(format!("signal {pid} {sig}{group}"));
        }
        fn crashed(&mut self, slot: &mut Slot<()>, exit: Exit, _now: u64) {
            let id = slot.conf.name[3] - b'0';
            let started_ms = slot.svc.started_ms;
            self.calls
                .push(format!("crashed {id} {exit:?} {started_ms}"));
        }
        fn changed(&mut self, _slot: &Slot<()>, _now: u64) {}
    }

    /// The services of `confs`, named svc0, svc1… in their order.
    fn table(confs: Vec<ServiceConf>) -> Table<()> {
        let mut t = Table::new();
        for (i, mut c) in confs.into_iter().enumerate() {
            c.name.push(b'0' + i as u8).unwrap();
            let _ = t.slots.push(Slot::new(c));
        }
        t
    }

    fn after(mut c: ServiceConf, deps: &[u8]) -> ServiceConf {
        for &d in deps {
            c.after.push(SvcId(d)).unwrap();
        }
        c
    }

    fn state(t: &Table<()>, i: u8) -> State {
        t.slots[usize::from(i)].svc.state
    }

    /// Every forked child tells that its exec happened, as the loop learns
    /// from the end-of-file of its pipe.
    fn execd(sup: &mut Supervisor, t: &mut Table<()>, now: u64, fx: &mut Record) {
        for id in std::mem::take(&mut fx.pending) {
            sup.on_exec(&mut t.slots, id, Ok(()), now, fx);
        }
    }

    /// `Supervisor::settle`, with every exec confirmed as it happens, until
    /// nothing more starts.
    fn settle(sup: &mut Supervisor, t: &mut Table<()>, now: u64, fx: &mut Record) {
        sup.settle(&mut t.slots, now, fx);
        while !fx.pending.is_empty() {
            execd(sup, t, now, fx);
            sup.settle(&mut t.slots, now, fx);
        }
    }

    #[test]
    fn after_waits_for_oneshot_done_and_for_readiness() {
        let mut t = table(vec![
            conf(Kind::Oneshot, Restart::Never, false),
            conf(Kind::Daemon, Restart::Always, true),
            after(conf(Kind::Daemon, Restart::Always, false), &[0, 1]),
        ]);
        let mut sup = Supervisor::new();
        let mut fx = Record::default();
        settle(&mut sup, &mut t, 0, &mut fx);
        assert_eq!(fx.calls, ["spawn 0", "spawn 1"]);
        assert_eq!(state(&t, 2), State::Down);
        sup.on_exit(&mut t.slots, 101, Exit::Code(0), 10, &mut fx);
        settle(&mut sup, &mut t, 10, &mut fx);
        assert_eq!(state(&t, 0), State::Done);
        assert_eq!(state(&t, 2), State::Down, "daemon 1 is not ready yet");
        sup.on_child(&mut t.slots, SvcId(1), Event::Ready, 20, &mut fx);
        settle(&mut sup, &mut t, 20, &mut fx);
        assert_eq!(state(&t, 2), State::Up);
        assert_eq!(fx.calls.last().unwrap(), "spawn 2");
    }

    #[test]
    fn a_failed_oneshot_holds_its_dependents() {
        let mut t = table(vec![
            conf(Kind::Oneshot, Restart::Never, false),
            after(conf(Kind::Daemon, Restart::Always, false), &[0]),
        ]);
        let mut sup = Supervisor::new();
        let mut fx = Record::default();
        settle(&mut sup, &mut t, 0, &mut fx);
        sup.on_exit(&mut t.slots, 101, Exit::Code(3), 5, &mut fx);
        settle(&mut sup, &mut t, 5, &mut fx);
        assert_eq!(fx.calls, ["spawn 0", "crashed 0 Code(3) 0"]);
        assert_eq!(state(&t, 1), State::Down);
        assert!(!after_met(&t.slots, SvcId(1)));
    }

    #[test]
    fn a_done_oneshot_stopped_is_still_done_for_its_dependents() {
        let mut t = table(vec![
            conf(Kind::Oneshot, Restart::Never, false),
            after(conf(Kind::Daemon, Restart::Always, false), &[0]),
        ]);
        let mut sup = Supervisor::new();
        let mut fx = Record::default();
        settle(&mut sup, &mut t, 0, &mut fx);
        sup.on_exit(&mut t.slots, 101, Exit::Code(0), 5, &mut fx);
        settle(&mut sup, &mut t, 5, &mut fx);
        assert_eq!(state(&t, 1), State::Up);
        sup.command(&mut t.slots, SvcId(0), Event::Stop, 6, &mut fx);
        assert_eq!(state(&t, 0), State::DoneStopped);
        sup.command(&mut t.slots, SvcId(1), Event::Stop, 7, &mut fx);
        sup.on_exit(&mut t.slots, 102, Exit::Signal(15), 8, &mut fx);
        sup.command(&mut t.slots, SvcId(1), Event::Start, 9, &mut fx);
        settle(&mut sup, &mut t, 9, &mut fx);
        assert_eq!(state(&t, 1), State::Up);
        assert_eq!(fx.calls.last().unwrap(), "spawn 1");
    }

    #[test]
    fn crash_then_backoff_then_timer_restart() {
        let mut t = table(vec![conf(Kind::Daemon, Restart::Always, false)]);
        let mut sup = Supervisor::new();
        let mut fx = Record::default();
        settle(&mut sup, &mut t, 0, &mut fx);
        assert!(sup.on_exit(&mut t.slots, 101, Exit::Signal(11), 50, &mut fx));
        assert_eq!(state(&t, 0), State::Backoff);
        assert_eq!(next_deadline(&t.slots), Some(150));
        settle(&mut sup, &mut t, 149, &mut fx);
        assert_eq!(state(&t, 0), State::Backoff);
        settle(&mut sup, &mut t, 150, &mut fx);
        assert_eq!(state(&t, 0), State::Up);
        assert_eq!(fx.calls, ["spawn 0", "crashed 0 Signal(11) 0", "spawn 0"]);
        assert!(
            !sup.on_exit(&mut t.slots, 4242, Exit::Code(0), 200, &mut fx),
            "an orphan is nobody's"
        );
    }

    #[test]
    fn exec_failure_is_not_a_crash() {
        let mut t = table(vec![conf(Kind::Daemon, Restart::Always, false)]);
        let mut sup = Supervisor::new();
        let mut fx = Record {
            fail: Some(StartError {
                step: Step::Exec,
                errno: 2,
            }),
            ..Default::default()
        };
        settle(&mut sup, &mut t, 0, &mut fx);
        assert_eq!(state(&t, 0), State::Failed);
        settle(&mut sup, &mut t, 100_000, &mut fx);
        assert_eq!(
            fx.calls,
            ["spawn 0"],
            "failed stays failed until started by hand"
        );
        fx.fail = None;
        sup.command(&mut t.slots, SvcId(0), Event::Start, 100_001, &mut fx);
        execd(&mut sup, &mut t, 100_001, &mut fx);
        assert_eq!(state(&t, 0), State::Up);
    }

    #[test]
    fn stop_is_remembered_until_start() {
        let mut t = table(vec![conf(Kind::Daemon, Restart::Always, false)]);
        let mut sup = Supervisor::new();
        let mut fx = Record::default();
        settle(&mut sup, &mut t, 0, &mut fx);
        sup.command(&mut t.slots, SvcId(0), Event::Stop, 10, &mut fx);
        assert_eq!(fx.calls.last().unwrap(), "signal 101 15");
        sup.on_exit(&mut t.slots, 101, Exit::Signal(15), 20, &mut fx);
        settle(&mut sup, &mut t, 20, &mut fx);
        assert_eq!(state(&t, 0), State::Stopped);
        assert!(
            !fx.calls.iter().any(|c| c.starts_with("crashed")),
            "a requested stop is no crash"
        );
        settle(&mut sup, &mut t, 99_999, &mut fx);
        assert_eq!(state(&t, 0), State::Stopped);
        sup.command(&mut t.slots, SvcId(0), Event::Start, 100_000, &mut fx);
        settle(&mut sup, &mut t, 100_000, &mut fx);
        assert_eq!(state(&t, 0), State::Up);
    }

    #[test]
    fn restart_stops_then_starts() {
        let mut t = table(vec![conf(Kind::Daemon, Restart::Always, false)]);
        let mut sup = Supervisor::new();
        let mut fx = Record::default();
        settle(&mut sup, &mut t, 0, &mut fx);
        sup.command(&mut t.slots, SvcId(0), Event::Restart, 10, &mut fx);
        assert_eq!(state(&t, 0), State::Restarting);
        sup.on_exit(&mut t.slots, 101, Exit::Signal(15), 20, &mut fx);
        settle(&mut sup, &mut t, 20, &mut fx);
        assert_eq!(state(&t, 0), State::Up);
        assert_eq!(t.slots[0].svc.pid, 102);
    }

    #[test]
    fn a_start_while_stopping_brings_it_back() {
        let mut t = table(vec![conf(Kind::Daemon, Restart::Always, false)]);
        let mut sup = Supervisor::new();
        let mut fx = Record::default();
        settle(&mut sup, &mut t, 0, &mut fx);
        sup.command(&mut t.slots, SvcId(0), Event::Stop, 10, &mut fx);
        sup.command(&mut t.slots, SvcId(0), Event::Start, 11, &mut fx);
        assert_eq!(state(&t, 0), State::Restarting);
        sup.on_exit(&mut t.slots, 101, Exit::Signal(15), 20, &mut fx);
        settle(&mut sup, &mut t, 20, &mut fx);
        assert_eq!(state(&t, 0), State::Up);
        assert_eq!(
            fx.calls,
            ["spawn 0", "signal 101 15", "signal 101 9 reaped", "spawn 0"]
        );
    }

    #[test]
    fn an_end_before_its_turn_in_shutdown_is_not_restarted() {
        // 1 is after 0: 0 is stopped once 1 has ended.
        let mut t = table(vec![
            conf(Kind::Daemon, Restart::Always, false),
            after(conf(Kind::Daemon, Restart::Always, false), &[0]),
        ]);
        let mut sup = Supervisor::new();
        let mut fx = Record::default();
        settle(&mut sup, &mut t, 0, &mut fx);
        fx.calls.clear();
        sup.shutdown(&mut t.slots, 2000, &mut fx);
        assert_eq!(fx.calls, ["signal 102 15"]);
        // 0 dies on its own, after a stable run: no restart.
        sup.on_exit(&mut t.slots, 101, Exit::Code(1), 2010, &mut fx);
        settle(&mut sup, &mut t, 2010, &mut fx);
        assert_eq!(state(&t, 0), State::Stopped);
        assert_eq!(t.slots[0].svc.restarts, 0);
        assert_eq!(fx.calls, ["signal 102 15", "crashed 0 Code(1) 0"]);
        sup.on_exit(&mut t.slots, 102, Exit::Signal(15), 2020, &mut fx);
        assert!(sup.finished(&t.slots));
    }

    #[test]
    fn shutdown_stops_a_backoff_at_once() {
        // 1 is after 0; 0 dies too soon and backs off while 1 runs.
        let mut t = table(vec![
            conf(Kind::Daemon, Restart::Always, false),
            after(conf(Kind::Daemon, Restart::Always, false), &[0]),
        ]);
        let mut sup = Supervisor::new();
        let mut fx = Record::default();
        settle(&mut sup, &mut t, 0, &mut fx);
        sup.on_exit(&mut t.slots, 101, Exit::Code(1), 10, &mut fx);
        assert_eq!(state(&t, 0), State::Backoff);
        sup.shutdown(&mut t.slots, 20, &mut fx);
        assert_eq!(state(&t, 0), State::Stopped);
        assert_eq!(next_deadline(&t.slots), Some(20 + 5000), "1's kill only");
        // Its retry time passes while 1 stops: nothing starts.
        settle(&mut sup, &mut t, 1000, &mut fx);
        assert!(
            !fx.calls.iter().skip(3).any(|c| c.starts_with("spawn")),
            "{:?}",
            fx.calls
        );
    }

    #[test]
    fn restart_of_a_waiting_service_still_waits_for_after() {
        let mut t = table(vec![
            conf(Kind::Oneshot, Restart::Never, false),
            after(conf(Kind::Daemon, Restart::Always, false), &[0]),
        ]);
        let mut sup = Supervisor::new();
        let mut fx = Record::default();
        settle(&mut sup, &mut t, 0, &mut fx);
        sup.command(&mut t.slots, SvcId(1), Event::Restart, 5, &mut fx);
        settle(&mut sup, &mut t, 5, &mut fx);
        assert_eq!(fx.calls, ["spawn 0"]);
        assert_eq!(state(&t, 1), State::Down);
    }

    #[test]
    fn shutdown_goes_in_reverse_dependency_order() {
        // 0 <- 1 <- 2, and 3 independent.
        let mut t = table(vec![
            conf(Kind::Daemon, Restart::Always, false),
            after(conf(Kind::Daemon, Restart::Always, false), &[0]),
            after(conf(Kind::Daemon, Restart::Always, false), &[1]),
            conf(Kind::Daemon, Restart::Always, false),
        ]);
        let mut sup = Supervisor::new();
        let mut fx = Record::default();
        settle(&mut sup, &mut t, 0, &mut fx);
        assert_eq!(fx.calls.len(), 4);
        // (Each starts once what it is after is up, so not in table order.)
        let pid: Vec<i32> = (0..4).map(|i| t.slots[i].svc.pid).collect();
        fx.calls.clear();
        sup.shutdown(&mut t.slots, 10, &mut fx);
        assert_eq!(
            fx.calls,
            [
                format!("signal {} 15", pid[2]),
                format!("signal {} 15", pid[3])
            ],
            "only services nobody depends on"
        );
        sup.on_exit(&mut t.slots, pid[2], Exit::Signal(15), 20, &mut fx);
        sup.on_exit(&mut t.slots, pid[3], Exit::Signal(15), 20, &mut fx);
        settle(&mut sup, &mut t, 20, &mut fx);
        assert_eq!(fx.calls.last().unwrap(), &format!("signal {} 15", pid[1]));
        assert!(!sup.finished(&t.slots));
        // Service 1 ignores SIGTERM: SIGKILL at its deadline.
        settle(&mut sup, &mut t, 20 + 5000, &mut fx);
        assert_eq!(fx.calls.last().unwrap(), &format!("signal {} 9", pid[1]));
        sup.on_exit(&mut t.slots, pid[1], Exit::Signal(9), 5021, &mut fx);
        settle(&mut sup, &mut t, 5021, &mut fx);
        assert_eq!(fx.calls.last().unwrap(), &format!("signal {} 15", pid[0]));
        sup.on_exit(&mut t.slots, pid[0], Exit::Code(0), 5030, &mut fx);
        settle(&mut sup, &mut t, 5030, &mut fx);
        assert!(sup.finished(&t.slots));
        assert!(
            !fx.calls.iter().any(|c| c.starts_with("spawn")),
            "nothing restarts in shutdown"
        );
    }

    #[test]
    fn an_exec_failure_told_after_the_fork_is_no_crash() {
        let mut t = table(vec![conf(Kind::Daemon, Restart::Always, false)]);
        let mut sup = Supervisor::new();
        let mut fx = Record::default();
        sup.settle(&mut t.slots, 0, &mut fx);
        assert_eq!(state(&t, 0), State::Forked);
        assert_eq!(service_of(&t.slots, 101), Some(SvcId(0)));
        let enoent = StartError {
            step: Step::Exec,
            errno: 2,
        };
        sup.on_exec(&mut t.slots, SvcId(0), Err(enoent), 3, &mut fx);
        assert_eq!(state(&t, 0), State::Failed);
        // The child's exit 127 that follows is nobody's: no crash, no run.
        assert_eq!(service_of(&t.slots, 101), None);
        assert!(!sup.on_exit(&mut t.slots, 101, Exit::Code(127), 4, &mut fx));
        sup.settle(&mut t.slots, 100_000, &mut fx);
        assert_eq!(fx.calls, ["spawn 0"]);
        assert_eq!(t.slots[0].svc.restarts, 0);
    }

    #[test]
    fn dependents_wait_for_the_exec_to_be_confirmed() {
        let mut t = table(vec![
            conf(Kind::Daemon, Restart::Always, false),
            after(conf(Kind::Daemon, Restart::Always, false), &[0]),
        ]);
        let mut sup = Supervisor::new();
        let mut fx = Record::default();
        sup.settle(&mut t.slots, 0, &mut fx);
        sup.settle(&mut t.slots, 1, &mut fx);
        assert_eq!(fx.calls, ["spawn 0"], "0 is forked, not up yet");
        execd(&mut sup, &mut t, 2, &mut fx);
        sup.settle(&mut t.slots, 2, &mut fx);
        assert_eq!(fx.calls, ["spawn 0", "spawn 1"]);
    }

    #[test]
    fn shutdown_while_an_exec_is_not_confirmed() {
        let mut t = table(vec![conf(Kind::Daemon, Restart::Always, false)]);
        let mut sup = Supervisor::new();
        let mut fx = Record::default();
        sup.settle(&mut t.slots, 0, &mut fx);
        sup.shutdown(&mut t.slots, 1, &mut fx);
        // Sent to the child itself should it not lead its group yet.
        assert_eq!(fx.calls, ["spawn 0", "signal 101 15"]);
        assert_eq!(state(&t, 0), State::Stopping);
        assert!(!sup.finished(&t.slots));
        sup.on_exec(&mut t.slots, SvcId(0), Ok(()), 2, &mut fx);
        assert_eq!(state(&t, 0), State::Stopping);
        sup.on_exit(&mut t.slots, 101, Exit::Signal(15), 3, &mut fx);
        // What the leader left in its group: the group alone is signalled.
        assert_eq!(fx.calls.last().unwrap(), "signal 101 9 reaped");
        assert!(sup.finished(&t.slots));
        // Or its exec failed meanwhile: down, and finished as well.
        let mut t = table(vec![conf(Kind::Daemon, Restart::Always, false)]);
        let mut sup = Supervisor::new();
        sup.settle(&mut t.slots, 0, &mut fx);
        sup.shutdown(&mut t.slots, 1, &mut fx);
        let err = StartError {
            step: Step::Exec,
            errno: 13,
        };
        sup.on_exec(&mut t.slots, SvcId(0), Err(err), 2, &mut fx);
        assert_eq!(state(&t, 0), State::Stopped);
        assert!(sup.finished(&t.slots));
    }
}
