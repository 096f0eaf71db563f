//! The supervisor's decisions: which service starts or stops when, from the
//! events the event loop reports. Pure: the loop passes the time in and the
//! [`Effects`] it implements carry out what is decided.
//!
//! It writes no service's state itself: it routes each event to the
//! service's machine ([`Service::step`]), user commands and shutdown
//! included, and picks which service goes when — a `Down` one once its
//! `after` is met ([`Event::AfterMet`]), and in shutdown a running one once
//! nothing running depends on it ([`Event::Stop`]).

use crate::limits::MAX_SERVICES;
use crate::service::{Action, Event, Exit, Service, StartError, State};
use crate::table::{Kind, SvcId, Table};

/// What the supervisor asks of the world.
pub trait Effects {
    /// Fork the service's child; its pid, or why it could not. Whether the
    /// child's exec happened comes later, through [`Supervisor::on_exec`].
    fn spawn(&mut self, id: SvcId, now: u64) -> Result<i32, StartError>;
    /// Send `sig` to the process group led by `pid` (and SIGCONT after it,
    /// unless it is SIGKILL). Unless `reaped`, `pid` is a child not yet
    /// reaped, which gets the signal itself when it has not made its group
    /// yet (forked, before its `setsid`).
    fn signal_group(&mut self, pid: i32, sig: u8, reaped: bool);
    /// The service's run that began at `started_ms` died abnormally: freeze
    /// its last lines.
    fn crashed(&mut self, id: SvcId, exit: Exit, started_ms: u64, now: u64);
    /// The service changed state: say so.
    fn changed(&mut self, id: SvcId, svc: &Service, now: u64);
}

pub struct Supervisor {
    svcs: [Service; MAX_SERVICES],
    len: usize,
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
            svcs: [Service::new(); MAX_SERVICES],
            len: 0,
            shutting_down: false,
        }
    }

    /// Sets up one record per service of `table`, all wanted and down.
    pub fn load(&mut self, table: &Table) {
        self.len = table.len().min(MAX_SERVICES);
        self.svcs = [Service::new(); MAX_SERVICES];
        self.shutting_down = false;
    }

    pub fn get(&self, id: SvcId) -> Option<&Service> {
        self.svcs.get(..self.len)?.get(id.index())
    }

    pub fn shutting_down(&self) -> bool {
        self.shutting_down
    }

    /// Shutdown is complete: no service has a process left.
    pub fn finished(&self) -> bool {
        self.shutting_down && self.all().all(|(_, s)| !s.state.running())
    }

    fn all(&self) -> impl Iterator<Item = (SvcId, &Service)> {
        self.svcs
            .iter()
            .take(self.len)
            .enumerate()
            .map(|(i, s)| (SvcId(i as u8), s))
    }

    /// Feeds one event to one service and carries out what it decides.
    fn apply(&mut self, table: &Table, id: SvcId, event: Event, now: u64, fx: &mut dyn Effects) {
        let (Some(conf), Some(svc)) = (table.get(id), self.svcs.get_mut(id.index())) else {
            return;
        };
        let before = svc.state;
        let pid = svc.pid;
        let action = svc.step(conf, event, now);
        match action {
            Action::None => {}
            Action::Spawn => {
                let result = match fx.spawn(id, now) {
                    Ok(pid) => Event::Spawned { pid },
                    Err(err) => Event::SpawnFailed(err),
                };
                svc.step(conf, result, now);
            }
            Action::Signal(sig) => fx.signal_group(pid, sig, false),
            Action::Kill => fx.signal_group(
                pid,
                linux_raw_sys::general::SIGKILL as u8,
                matches!(event, Event::Exited { .. }),
            ),
        }
        if svc.state.shown() != before.shown() || matches!(event, Event::Exited { .. }) {
            fx.changed(id, svc, now);
        }
    }

    /// A child ended. Returns false when it was none of the services (an
    /// orphan that was reaped).
    pub fn on_exit(
        &mut self,
        table: &Table,
        pid: i32,
        exit: Exit,
        now: u64,
        fx: &mut dyn Effects,
    ) -> bool {
        let Some((id, svc)) = self
            .service_of(pid)
            .and_then(|id| Some((id, self.get(id)?)))
        else {
            return false;
        };
        if exit.failed() && !svc.state.stopping() {
            fx.crashed(id, exit, svc.started_ms, now);
        }
        let ending = self.shutting_down;
        self.apply(table, id, Event::Exited { exit, ending }, now, fx);
        true
    }

    /// The service whose child is `pid`, while that child is not reaped.
    pub fn service_of(&self, pid: i32) -> Option<SvcId> {
        if pid <= 0 {
            return None;
        }
        self.all()
            .find(|(_, s)| s.pid == pid && s.state.running())
            .map(|(id, _)| id)
    }

    /// The service's child told how its start went: `Ok` once its exec
    /// happened, or the step that failed before it.
    pub fn on_exec(
        &mut self,
        table: &Table,
        id: SvcId,
        result: Result<(), StartError>,
        now: u64,
        fx: &mut dyn Effects,
    ) {
        let event = match result {
            Ok(()) => Event::Execd,
            Err(err) => Event::SpawnFailed(err),
        };
        self.apply(table, id, event, now, fx);
    }

    /// The service wrote its readiness newline.
    pub fn on_ready(&mut self, table: &Table, id: SvcId, now: u64, fx: &mut dyn Effects) {
        self.apply(table, id, Event::Ready, now, fx);
    }

    /// `tend start`: wanted again, and started now unless its `after` waits.
    /// Not while shutting down.
    pub fn start(&mut self, table: &Table, id: SvcId, now: u64, fx: &mut dyn Effects) {
        if !self.shutting_down {
            self.apply(table, id, Event::Start, now, fx);
        }
    }

    /// `tend stop`: not wanted until `tend start`.
    pub fn stop(&mut self, table: &Table, id: SvcId, now: u64, fx: &mut dyn Effects) {
        self.apply(table, id, Event::Stop, now, fx);
    }

    /// `tend restart`: stop if running, then start again; else as `start`.
    /// Not while shutting down.
    pub fn restart(&mut self, table: &Table, id: SvcId, now: u64, fx: &mut dyn Effects) {
        if !self.shutting_down {
            self.apply(table, id, Event::Restart, now, fx);
        }
    }

    /// Stop everything in reverse dependency order; see [`Self::finished`].
    pub fn shutdown(&mut self, table: &Table, now: u64, fx: &mut dyn Effects) {
        self.shutting_down = true;
        for id in table.ids().take(self.len) {
            self.apply(table, id, Event::Shutdown, now, fx);
        }
        self.settle(table, now, fx);
    }

    /// Fires due deadlines and starts (or, in shutdown, stops) whatever can
    /// go now. Call after every batch of events.
    pub fn settle(&mut self, table: &Table, now: u64, fx: &mut dyn Effects) {
        for _ in 0..=self.len {
            let mut acted = false;
            for i in 0..self.len {
                let id = SvcId(i as u8);
                let Some(svc) = self.get(id) else { continue };
                let (state, due) = (svc.state, svc.deadline_ms.is_some_and(|d| d <= now));
                let event = if due {
                    Some(Event::Timer)
                } else if self.shutting_down {
                    let stoppable = matches!(
                        state,
                        State::Forked | State::Starting | State::Up | State::Ready | State::Backoff
                    );
                    (stoppable && !self.has_running_dependent(table, id)).then_some(Event::Stop)
                } else {
                    let waits = state == State::Down;
                    (waits && self.after_met(table, id)).then_some(Event::AfterMet)
                };
                if let Some(event) = event {
                    self.apply(table, id, event, now, fx);
                    acted = true;
                }
            }
            if !acted {
                break;
            }
        }
    }

    /// Every service named in `after` is up (or ready, when it declares
    /// `ready`), or, for a oneshot, done.
    pub fn after_met(&self, table: &Table, id: SvcId) -> bool {
        let Some(conf) = table.get(id) else {
            return false;
        };
        conf.after.iter().all(|&dep| self.dep_met(table, dep))
    }

    /// `dep` is as far as its dependents wait for: up, ready when it
    /// declares `ready`, or done for a oneshot.
    pub fn dep_met(&self, table: &Table, dep: SvcId) -> bool {
        let (Some(dc), Some(ds)) = (table.get(dep), self.get(dep)) else {
            return false;
        };
        match (dc.kind, dc.ready_fd.is_some()) {
            (Kind::Oneshot, _) => ds.state.shown() == State::Done,
            (Kind::Daemon, true) => ds.state == State::Ready,
            (Kind::Daemon, false) => matches!(ds.state, State::Up | State::Ready),
        }
    }

    fn has_running_dependent(&self, table: &Table, id: SvcId) -> bool {
        self.all().any(|(other, s)| {
            s.state.running() && table.get(other).is_some_and(|c| c.after.contains(&id))
        })
    }

    /// The earliest deadline (backoff retry or SIGKILL), for poll's timeout.
    pub fn next_deadline(&self) -> Option<u64> {
        self.all().filter_map(|(_, s)| s.deadline_ms).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::tests::conf;
    use crate::service::Step;
    use crate::table::Restart;

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

    impl Effects for Record {
        fn spawn(&mut self, id: SvcId, _now: u64) -> Result<i32, StartError> {
            self.calls.push(format!("spawn {}", id.0));
            if let Some(e) = self.fail {
                return Err(e);
            }
            self.next_pid += 1;
            self.pending.push(id);
            Ok(100 + self.next_pid)
        }
        fn signal_group(&mut self, pid: i32, sig: u8, reaped: bool) {
            let group = if reaped { " reaped" } else { "" };
            self.calls.push(format!("signal {pid} {sig}{group}"));
        }
        fn crashed(&mut self, id: SvcId, exit: Exit, started_ms: u64, _now: u64) {
            self.calls
                .push(format!("crashed {} {exit:?} {started_ms}", id.0));
        }
        fn changed(&mut self, _id: SvcId, _svc: &Service, _now: u64) {}
    }

    fn table(confs: Vec<crate::table::ServiceConf>) -> Table {
        let mut t = Table::new();
        for c in confs {
            let _ = t.services.push(c);
        }
        t
    }

    fn after(mut c: crate::table::ServiceConf, deps: &[u8]) -> crate::table::ServiceConf {
        for &d in deps {
            c.after.push(SvcId(d)).unwrap();
        }
        c
    }

    fn state(sup: &Supervisor, i: u8) -> State {
        sup.get(SvcId(i)).unwrap().state
    }

    /// Every forked child tells that its exec happened, as the loop learns
    /// from the end-of-file of its pipe.
    fn execd(sup: &mut Supervisor, t: &Table, now: u64, fx: &mut Record) {
        for id in std::mem::take(&mut fx.pending) {
            sup.on_exec(t, id, Ok(()), now, fx);
        }
    }

    /// `Supervisor::settle`, with every exec confirmed as it happens, until
    /// nothing more starts.
    fn settle(sup: &mut Supervisor, t: &Table, now: u64, fx: &mut Record) {
        sup.settle(t, now, fx);
        while !fx.pending.is_empty() {
            execd(sup, t, now, fx);
            sup.settle(t, now, fx);
        }
    }

    #[test]
    fn after_waits_for_oneshot_done_and_for_readiness() {
        let t = table(vec![
            conf(Kind::Oneshot, Restart::Never, false),
            conf(Kind::Daemon, Restart::Always, true),
            after(conf(Kind::Daemon, Restart::Always, false), &[0, 1]),
        ]);
        let mut sup = Supervisor::new();
        sup.load(&t);
        let mut fx = Record::default();
        settle(&mut sup, &t, 0, &mut fx);
        assert_eq!(fx.calls, ["spawn 0", "spawn 1"]);
        assert_eq!(state(&sup, 2), State::Down);
        sup.on_exit(&t, 101, Exit::Code(0), 10, &mut fx);
        settle(&mut sup, &t, 10, &mut fx);
        assert_eq!(state(&sup, 0), State::Done);
        assert_eq!(state(&sup, 2), State::Down, "daemon 1 is not ready yet");
        sup.on_ready(&t, SvcId(1), 20, &mut fx);
        settle(&mut sup, &t, 20, &mut fx);
        assert_eq!(state(&sup, 2), State::Up);
        assert_eq!(fx.calls.last().unwrap(), "spawn 2");
    }

    #[test]
    fn a_failed_oneshot_holds_its_dependents() {
        let t = table(vec![
            conf(Kind::Oneshot, Restart::Never, false),
            after(conf(Kind::Daemon, Restart::Always, false), &[0]),
        ]);
        let mut sup = Supervisor::new();
        sup.load(&t);
        let mut fx = Record::default();
        settle(&mut sup, &t, 0, &mut fx);
        sup.on_exit(&t, 101, Exit::Code(3), 5, &mut fx);
        settle(&mut sup, &t, 5, &mut fx);
        assert_eq!(fx.calls, ["spawn 0", "crashed 0 Code(3) 0"]);
        assert_eq!(state(&sup, 1), State::Down);
        assert!(!sup.after_met(&t, SvcId(1)));
    }

    #[test]
    fn a_done_oneshot_stopped_is_still_done_for_its_dependents() {
        let t = table(vec![
            conf(Kind::Oneshot, Restart::Never, false),
            after(conf(Kind::Daemon, Restart::Always, false), &[0]),
        ]);
        let mut sup = Supervisor::new();
        sup.load(&t);
        let mut fx = Record::default();
        settle(&mut sup, &t, 0, &mut fx);
        sup.on_exit(&t, 101, Exit::Code(0), 5, &mut fx);
        settle(&mut sup, &t, 5, &mut fx);
        assert_eq!(state(&sup, 1), State::Up);
        sup.stop(&t, SvcId(0), 6, &mut fx);
        assert_eq!(state(&sup, 0), State::DoneStopped);
        sup.stop(&t, SvcId(1), 7, &mut fx);
        sup.on_exit(&t, 102, Exit::Signal(15), 8, &mut fx);
        sup.start(&t, SvcId(1), 9, &mut fx);
        settle(&mut sup, &t, 9, &mut fx);
        assert_eq!(state(&sup, 1), State::Up);
        assert_eq!(fx.calls.last().unwrap(), "spawn 1");
    }

    #[test]
    fn crash_then_backoff_then_timer_restart() {
        let t = table(vec![conf(Kind::Daemon, Restart::Always, false)]);
        let mut sup = Supervisor::new();
        sup.load(&t);
        let mut fx = Record::default();
        settle(&mut sup, &t, 0, &mut fx);
        assert!(sup.on_exit(&t, 101, Exit::Signal(11), 50, &mut fx));
        assert_eq!(state(&sup, 0), State::Backoff);
        assert_eq!(sup.next_deadline(), Some(150));
        settle(&mut sup, &t, 149, &mut fx);
        assert_eq!(state(&sup, 0), State::Backoff);
        settle(&mut sup, &t, 150, &mut fx);
        assert_eq!(state(&sup, 0), State::Up);
        assert_eq!(fx.calls, ["spawn 0", "crashed 0 Signal(11) 0", "spawn 0"]);
        assert!(
            !sup.on_exit(&t, 4242, Exit::Code(0), 200, &mut fx),
            "an orphan is nobody's"
        );
    }

    #[test]
    fn exec_failure_is_not_a_crash() {
        let t = table(vec![conf(Kind::Daemon, Restart::Always, false)]);
        let mut sup = Supervisor::new();
        sup.load(&t);
        let mut fx = Record {
            fail: Some(StartError {
                step: Step::Exec,
                errno: 2,
            }),
            ..Default::default()
        };
        settle(&mut sup, &t, 0, &mut fx);
        assert_eq!(state(&sup, 0), State::Failed);
        settle(&mut sup, &t, 100_000, &mut fx);
        assert_eq!(
            fx.calls,
            ["spawn 0"],
            "failed stays failed until started by hand"
        );
        fx.fail = None;
        sup.start(&t, SvcId(0), 100_001, &mut fx);
        execd(&mut sup, &t, 100_001, &mut fx);
        assert_eq!(state(&sup, 0), State::Up);
    }

    #[test]
    fn stop_is_remembered_until_start() {
        let t = table(vec![conf(Kind::Daemon, Restart::Always, false)]);
        let mut sup = Supervisor::new();
        sup.load(&t);
        let mut fx = Record::default();
        settle(&mut sup, &t, 0, &mut fx);
        sup.stop(&t, SvcId(0), 10, &mut fx);
        assert_eq!(fx.calls.last().unwrap(), "signal 101 15");
        sup.on_exit(&t, 101, Exit::Signal(15), 20, &mut fx);
        settle(&mut sup, &t, 20, &mut fx);
        assert_eq!(state(&sup, 0), State::Stopped);
        assert!(
            !fx.calls.iter().any(|c| c.starts_with("crashed")),
            "a requested stop is no crash"
        );
        settle(&mut sup, &t, 99_999, &mut fx);
        assert_eq!(state(&sup, 0), State::Stopped);
        sup.start(&t, SvcId(0), 100_000, &mut fx);
        settle(&mut sup, &t, 100_000, &mut fx);
        assert_eq!(state(&sup, 0), State::Up);
    }

    #[test]
    fn restart_stops_then_starts() {
        let t = table(vec![conf(Kind::Daemon, Restart::Always, false)]);
        let mut sup = Supervisor::new();
        sup.load(&t);
        let mut fx = Record::default();
        settle(&mut sup, &t, 0, &mut fx);
        sup.restart(&t, SvcId(0), 10, &mut fx);
        assert_eq!(state(&sup, 0), State::Restarting);
        sup.on_exit(&t, 101, Exit::Signal(15), 20, &mut fx);
        settle(&mut sup, &t, 20, &mut fx);
        assert_eq!(state(&sup, 0), State::Up);
        assert_eq!(sup.get(SvcId(0)).unwrap().pid, 102);
    }

    #[test]
    fn a_start_while_stopping_brings_it_back() {
        let t = table(vec![conf(Kind::Daemon, Restart::Always, false)]);
        let mut sup = Supervisor::new();
        sup.load(&t);
        let mut fx = Record::default();
        settle(&mut sup, &t, 0, &mut fx);
        sup.stop(&t, SvcId(0), 10, &mut fx);
        sup.start(&t, SvcId(0), 11, &mut fx);
        assert_eq!(state(&sup, 0), State::Restarting);
        sup.on_exit(&t, 101, Exit::Signal(15), 20, &mut fx);
        settle(&mut sup, &t, 20, &mut fx);
        assert_eq!(state(&sup, 0), State::Up);
        assert_eq!(
            fx.calls,
            ["spawn 0", "signal 101 15", "signal 101 9 reaped", "spawn 0"]
        );
    }

    #[test]
    fn an_end_before_its_turn_in_shutdown_is_not_restarted() {
        // 1 is after 0: 0 is stopped once 1 has ended.
        let t = table(vec![
            conf(Kind::Daemon, Restart::Always, false),
            after(conf(Kind::Daemon, Restart::Always, false), &[0]),
        ]);
        let mut sup = Supervisor::new();
        sup.load(&t);
        let mut fx = Record::default();
        settle(&mut sup, &t, 0, &mut fx);
        fx.calls.clear();
        sup.shutdown(&t, 2000, &mut fx);
        assert_eq!(fx.calls, ["signal 102 15"]);
        // 0 dies on its own, after a stable run: no restart.
        sup.on_exit(&t, 101, Exit::Code(1), 2010, &mut fx);
        settle(&mut sup, &t, 2010, &mut fx);
        assert_eq!(state(&sup, 0), State::Stopped);
        assert_eq!(sup.get(SvcId(0)).unwrap().restarts, 0);
        assert_eq!(fx.calls, ["signal 102 15", "crashed 0 Code(1) 0"]);
        sup.on_exit(&t, 102, Exit::Signal(15), 2020, &mut fx);
        assert!(sup.finished());
    }

    #[test]
    fn shutdown_stops_a_backoff_at_once() {
        // 1 is after 0; 0 dies too soon and backs off while 1 runs.
        let t = table(vec![
            conf(Kind::Daemon, Restart::Always, false),
            after(conf(Kind::Daemon, Restart::Always, false), &[0]),
        ]);
        let mut sup = Supervisor::new();
        sup.load(&t);
        let mut fx = Record::default();
        settle(&mut sup, &t, 0, &mut fx);
        sup.on_exit(&t, 101, Exit::Code(1), 10, &mut fx);
        assert_eq!(state(&sup, 0), State::Backoff);
        sup.shutdown(&t, 20, &mut fx);
        assert_eq!(state(&sup, 0), State::Stopped);
        assert_eq!(sup.next_deadline(), Some(20 + 5000), "1's kill only");
        // Its retry time passes while 1 stops: nothing starts.
        settle(&mut sup, &t, 1000, &mut fx);
        assert!(
            !fx.calls.iter().skip(3).any(|c| c.starts_with("spawn")),
            "{:?}",
            fx.calls
        );
    }

    #[test]
    fn restart_of_a_waiting_service_still_waits_for_after() {
        let t = table(vec![
            conf(Kind::Oneshot, Restart::Never, false),
            after(conf(Kind::Daemon, Restart::Always, false), &[0]),
        ]);
        let mut sup = Supervisor::new();
        sup.load(&t);
        let mut fx = Record::default();
        settle(&mut sup, &t, 0, &mut fx);
        sup.restart(&t, SvcId(1), 5, &mut fx);
        settle(&mut sup, &t, 5, &mut fx);
        assert_eq!(fx.calls, ["spawn 0"]);
        assert_eq!(state(&sup, 1), State::Down);
    }

    #[test]
    fn shutdown_goes_in_reverse_dependency_order() {
        // 0 <- 1 <- 2, and 3 independent.
        let t = table(vec![
            conf(Kind::Daemon, Restart::Always, false),
            after(conf(Kind::Daemon, Restart::Always, false), &[0]),
            after(conf(Kind::Daemon, Restart::Always, false), &[1]),
            conf(Kind::Daemon, Restart::Always, false),
        ]);
        let mut sup = Supervisor::new();
        sup.load(&t);
        let mut fx = Record::default();
        settle(&mut sup, &t, 0, &mut fx);
        assert_eq!(fx.calls.len(), 4);
        // (Each starts once what it is after is up, so not in table order.)
        let pid: Vec<i32> = (0..4).map(|i| sup.get(SvcId(i)).unwrap().pid).collect();
        fx.calls.clear();
        sup.shutdown(&t, 10, &mut fx);
        assert_eq!(
            fx.calls,
            [
                format!("signal {} 15", pid[2]),
                format!("signal {} 15", pid[3])
            ],
            "only services nobody depends on"
        );
        sup.on_exit(&t, pid[2], Exit::Signal(15), 20, &mut fx);
        sup.on_exit(&t, pid[3], Exit::Signal(15), 20, &mut fx);
        settle(&mut sup, &t, 20, &mut fx);
        assert_eq!(fx.calls.last().unwrap(), &format!("signal {} 15", pid[1]));
        assert!(!sup.finished());
        // Service 1 ignores SIGTERM: SIGKILL at its deadline.
        settle(&mut sup, &t, 20 + 5000, &mut fx);
        assert_eq!(fx.calls.last().unwrap(), &format!("signal {} 9", pid[1]));
        sup.on_exit(&t, pid[1], Exit::Signal(9), 5021, &mut fx);
        settle(&mut sup, &t, 5021, &mut fx);
        assert_eq!(fx.calls.last().unwrap(), &format!("signal {} 15", pid[0]));
        sup.on_exit(&t, pid[0], Exit::Code(0), 5030, &mut fx);
        settle(&mut sup, &t, 5030, &mut fx);
        assert!(sup.finished());
        assert!(
            !fx.calls.iter().any(|c| c.starts_with("spawn")),
            "nothing restarts in shutdown"
        );
    }

    #[test]
    fn an_exec_failure_told_after_the_fork_is_no_crash() {
        let t = table(vec![conf(Kind::Daemon, Restart::Always, false)]);
        let mut sup = Supervisor::new();
        sup.load(&t);
        let mut fx = Record::default();
        sup.settle(&t, 0, &mut fx);
        assert_eq!(state(&sup, 0), State::Forked);
        assert_eq!(sup.service_of(101), Some(SvcId(0)));
        let enoent = StartError {
            step: Step::Exec,
            errno: 2,
        };
        sup.on_exec(&t, SvcId(0), Err(enoent), 3, &mut fx);
        assert_eq!(state(&sup, 0), State::Failed);
        // The child's exit 127 that follows is nobody's: no crash, no run.
        assert_eq!(sup.service_of(101), None);
        assert!(!sup.on_exit(&t, 101, Exit::Code(127), 4, &mut fx));
        sup.settle(&t, 100_000, &mut fx);
        assert_eq!(fx.calls, ["spawn 0"]);
        assert_eq!(sup.get(SvcId(0)).unwrap().restarts, 0);
    }

    #[test]
    fn dependents_wait_for_the_exec_to_be_confirmed() {
        let t = table(vec![
            conf(Kind::Daemon, Restart::Always, false),
            after(conf(Kind::Daemon, Restart::Always, false), &[0]),
        ]);
        let mut sup = Supervisor::new();
        sup.load(&t);
        let mut fx = Record::default();
        sup.settle(&t, 0, &mut fx);
        sup.settle(&t, 1, &mut fx);
        assert_eq!(fx.calls, ["spawn 0"], "0 is forked, not up yet");
        execd(&mut sup, &t, 2, &mut fx);
        sup.settle(&t, 2, &mut fx);
        assert_eq!(fx.calls, ["spawn 0", "spawn 1"]);
    }

    #[test]
    fn shutdown_while_an_exec_is_not_confirmed() {
        let t = table(vec![conf(Kind::Daemon, Restart::Always, false)]);
        let mut sup = Supervisor::new();
        sup.load(&t);
        let mut fx = Record::default();
        sup.settle(&t, 0, &mut fx);
        sup.shutdown(&t, 1, &mut fx);
        // Sent to the child itself should it not lead its group yet.
        assert_eq!(fx.calls, ["spawn 0", "signal 101 15"]);
        assert_eq!(state(&sup, 0), State::Stopping);
        assert!(!sup.finished());
        sup.on_exec(&t, SvcId(0), Ok(()), 2, &mut fx);
        assert_eq!(state(&sup, 0), State::Stopping);
        sup.on_exit(&t, 101, Exit::Signal(15), 3, &mut fx);
        // What the leader left in its group: the group alone is signalled.
        assert_eq!(fx.calls.last().unwrap(), "signal 101 9 reaped");
        assert!(sup.finished());
        // Or its exec failed meanwhile: down, and finished as well.
        let mut sup = Supervisor::new();
        sup.load(&t);
        sup.settle(&t, 0, &mut fx);
        sup.shutdown(&t, 1, &mut fx);
        let err = StartError {
            step: Step::Exec,
            errno: 13,
        };
        sup.on_exec(&t, SvcId(0), Err(err), 2, &mut fx);
        assert_eq!(state(&sup, 0), State::Stopped);
        assert!(sup.finished());
    }
}
