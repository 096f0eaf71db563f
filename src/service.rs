//! One service's life: its state, and the state machine that moves it.
//!
//! The whole machine is [`Service::step`]: a match on the event, then on
//! the state, so every pair is decided here and nowhere else (a few arms
//! take the states not named before them: listing those made the code
//! bigger). It does no I/O; the [`Action`] it returns is carried
//! out by the supervisor.

use crate::conf::{Kind, Restart, ServiceConf};
use crate::limits::{RESTART_MAX_DELAY_MS, RESTART_MIN_DELAY_MS, STABLE_RUN_MS};

#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(Debug))]
#[repr(u8)]
pub enum State {
    /// Wanted and not running: waiting for its `after` (the supervisor
    /// gives it [`Event::AfterMet`] once that is met), or about to start.
    Down = 0,
    /// Forked; whether its exec happened is not known yet. Shown as
    /// `starting`.
    Forked,
    /// Running, but not yet ready (`ready = fd:N`), or a oneshot running.
    Starting,
    /// Running.
    Up,
    /// Running and said it is ready.
    Ready,
    /// Sent its stop signal (`tend stop`, or its turn in shutdown); SIGKILL
    /// follows at the deadline. [`State::Stopped`] once it ends.
    Stopping,
    /// Sent its stop signal for `tend restart` (or `tend start` came while
    /// it stopped): [`State::Down`] once it ends, so it starts again. Shown
    /// as `stopping`.
    Restarting,
    /// Died too soon; restarts at the deadline.
    Backoff,
    /// A oneshot that exited 0.
    Done,
    /// A oneshot that exited 0, then was stopped by the user: shown as
    /// `done`, but not wanted.
    DoneStopped,
    /// Cannot start (exec error, bad user…) until started by hand.
    Failed,
    /// Ended, and its restart policy says no restart: wanted, but left
    /// down until `tend start`. Shown as `down`.
    Held,
    /// Stopped by the user (until `tend start`) or by shutdown: not wanted.
    /// Shown as `down`.
    Stopped,
}

/// What [`State::name`] says, each followed by a NUL byte (tend(8),
/// STATES; the unit test names each state's).
const STATE_NAMES: &[u8] = b"down\0starting\0up\0ready\0stopping\0backoff\0done\0failed\0";

impl State {
    pub fn name(self) -> &'static [u8] {
        // Which of STATE_NAMES: one string and a byte per state, not a
        // table of pointers and lengths.
        let i = match self {
            State::Down | State::Held | State::Stopped => 0,
            State::Forked | State::Starting => 1,
            State::Up => 2,
            State::Ready => 3,
            State::Stopping | State::Restarting => 4,
            State::Backoff => 5,
            State::Done | State::DoneStopped => 6,
            State::Failed => 7,
        };
        crate::say::nth(STATE_NAMES, i)
    }

    /// The state as tend tells of it: the states that only remember why a
    /// service is down, stopping or done are the one they are shown as.
    /// A change of state is said (`svc: up, pid 7`) when this changes.
    pub fn shown(self) -> State {
        match self {
            State::Held | State::Stopped => State::Down,
            State::Restarting => State::Stopping,
            State::DoneStopped => State::Done,
            State::Down
            | State::Forked
            | State::Starting
            | State::Up
            | State::Ready
            | State::Stopping
            | State::Backoff
            | State::Done
            | State::Failed => self,
        }
    }

    /// A process of this service is alive.
    pub fn running(self) -> bool {
        matches!(
            self,
            State::Forked
                | State::Starting
                | State::Up
                | State::Ready
                | State::Stopping
                | State::Restarting
        )
    }

    /// Its stop signal was sent: its end is no crash.
    pub fn stopping(self) -> bool {
        matches!(self, State::Stopping | State::Restarting)
    }

    /// The user wants it (`wanted` in `tend status --json`): false once
    /// stopped by hand, until started again.
    pub fn wanted(self) -> bool {
        !matches!(self, State::Stopping | State::Stopped | State::DoneStopped)
    }
}

/// How a process ended.
#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(Debug))]
pub enum Exit {
    Code(u8),
    Signal(u8),
}

impl Exit {
    pub fn failed(self) -> bool {
        self != Exit::Code(0)
    }
}

/// The step of starting a service that failed.
#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(Debug))]
pub enum Step {
    Pipe,
    Fork,
    Setup,
    Setgroups,
    Setgid,
    Setuid,
    Chdir,
    Exec,
    /// Binding the service's `listen` socket (in tend, before the fork).
    #[cfg(feature = "listen")]
    Bind,
}

impl Step {
    /// The step after this one: the steps in their order, from one
    /// exhaustive match (a new step must be placed here to build).
    pub const fn next(self) -> Option<Step> {
        match self {
            Step::Pipe => Some(Step::Fork),
            Step::Fork => Some(Step::Setup),
            Step::Setup => Some(Step::Setgroups),
            Step::Setgroups => Some(Step::Setgid),
            Step::Setgid => Some(Step::Setuid),
            Step::Setuid => Some(Step::Chdir),
            Step::Chdir => Some(Step::Exec),
            #[cfg(feature = "listen")]
            Step::Exec => Some(Step::Bind),
            #[cfg(feature = "listen")]
            Step::Bind => None,
            #[cfg(not(feature = "listen"))]
            Step::Exec => None,
        }
    }

    /// The step whose number (`step as u8`, as the child reports it) is
    /// `n`; [`Step::Exec`] for a number past the last.
    pub const fn from_number(n: u8) -> Step {
        let mut step = Step::Pipe;
        let mut i = 0;
        while i < n {
            match step.next() {
                Some(s) => step = s,
                None => return Step::Exec,
            }
            i += 1;
        }
        step
    }

    pub fn name(self) -> &'static [u8] {
        crate::say::nth(STEP_NAMES, self as usize)
    }
}

/// The name of each step, in their order, each followed by a NUL byte.
const STEP_NAMES: &[u8] = match cfg!(feature = "listen") {
    true => b"pipe\0fork\0setup\0setgroups\0setgid\0setuid\0chdir\0exec\0bind\0",
    false => b"pipe\0fork\0setup\0setgroups\0setgid\0setuid\0chdir\0exec\0",
};

// The chain of `next` follows the variants' numbers, so that a step's
// number read back is the step that was sent.
const _: () = {
    let mut step = Some(Step::Pipe);
    let mut n = 0;
    while let Some(s) = step {
        assert!(s as u8 == n);
        n += 1;
        step = s.next();
    }
};

/// Why a service could not be started.
#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(Debug))]
pub struct StartError {
    pub step: Step,
    pub errno: u16,
}

impl StartError {
    /// Shortage of a resource (processes, memory, descriptors), or a
    /// socket that could not be bound (its address may be freed): worth
    /// retrying later. Anything else will fail the same way again.
    pub fn temporary(self) -> bool {
        use linux_raw_sys::errno::*;
        #[cfg(feature = "listen")]
        if self.step == Step::Bind {
            return true;
        }
        matches!(
            u32::from(self.errno),
            EAGAIN | ENOMEM | EMFILE | ENFILE | ETXTBSY | EINTR | ENOBUFS
        )
    }
}

/// What the service's last run came to.
#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(Debug))]
pub enum Outcome {
    None,
    Exited { exit: Exit, at_ms: u64 },
    NotStarted { err: StartError, at_ms: u64 },
}

#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(Debug))]
pub enum Event {
    /// `tend start` (or `tend restart` of a service not running): wanted
    /// again, and started now unless it waits for its `after`.
    Start,
    /// What it is `after` is met: the supervisor's go for a service that
    /// is [`State::Down`].
    AfterMet,
    /// `tend stop`, or its turn in shutdown (the supervisor stops services
    /// in reverse dependency order).
    Stop,
    /// `tend restart`: stopped, then started again.
    Restart,
    /// tend begins to shut down: nothing comes back on its own any more.
    Shutdown,
    /// `tend reload` changed its settings; `step` gets the old ones. What
    /// runs stops with them and comes back with the new; what is down but
    /// wanted is started again; what the user stopped stays stopped.
    Changed,
    /// Forked; its exec is not confirmed yet.
    Spawned { pid: i32 },
    /// Its exec happened (the close-on-exec pipe reported end-of-file).
    Execd,
    /// It could not be started: the fork failed, or the child reported the
    /// step that failed before its exec.
    SpawnFailed(StartError),
    /// The readiness newline arrived.
    Ready,
    /// Its process ended; `ending`: while tend shuts down, so it is not
    /// restarted, whatever its policy (its own stop may not have come yet:
    /// it waits for what depends on it).
    Exited { exit: Exit, ending: bool },
    /// The deadline passed.
    Timer,
}

#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(Debug))]
pub enum Action {
    None,
    /// Fork the service's child, then report `Spawned` or `SpawnFailed`;
    /// `Execd` or `SpawnFailed` follows once the child has told.
    Spawn,
    /// Send this signal (and SIGCONT) to the service's process group.
    Signal(u8),
    /// SIGKILL the service's process group.
    Kill,
}

/// The run-time record of one service.
#[derive(Clone, Copy)]
#[cfg_attr(test, derive(Debug))]
pub struct Service {
    pub state: State,
    /// Process id while running, else 0.
    pub pid: i32,
    pub started_ms: u64,
    /// Became ready during this run.
    pub ready_seen: bool,
    /// Automatic restarts so far.
    pub restarts: u32,
    /// The delay the next too-early death will wait (0 before the first:
    /// RESTART_MIN_DELAY_MS).
    pub delay_ms: u32,
    /// Backoff retry time, or SIGKILL time while stopping.
    pub deadline_ms: Option<u64>,
    pub last: Outcome,
}

impl Service {
    pub const fn new() -> Service {
        Service {
            state: State::Down,
            pid: 0,
            started_ms: 0,
            ready_seen: false,
            restarts: 0,
            delay_ms: 0,
            deadline_ms: None,
            last: Outcome::None,
        }
    }

    /// The state machine: by event, then by state (a match on the pair
    /// compiled to long chains of compares). Every pair is named, with no
    /// wildcard arm: a new state or event does not compile until each of
    /// its pairs is decided (40 B more than wildcards on x86_64).
    pub fn step(&mut self, conf: &ServiceConf, event: Event, now: u64) -> Action {
        use Event as E;
        use State as S;
        let s = self.state;
        match event {
            // What the user asks. `start` wants it again: started now when
            // it waits for nothing but a start, else when its `after` is
            // met; a stop under way comes back.
            E::Start | E::Restart => match s {
                S::Forked | S::Starting | S::Up | S::Ready => {
                    if let E::Restart = event {
                        return self.stop(conf, S::Restarting, now);
                    }
                }
                S::Stopping | S::Restarting => self.state = S::Restarting,
                S::Down | S::Held | S::Stopped => self.state = S::Down,
                // (Of these, only a backoff has a deadline.)
                S::Backoff | S::Done | S::DoneStopped | S::Failed => {
                    self.deadline_ms = None;
                    return Action::Spawn;
                }
            },
            E::Stop => match s {
                S::Restarting => self.state = S::Stopping,
                S::Stopping => {}
                S::Down | S::Held | S::Stopped | S::Backoff | S::Failed => {
                    self.state = S::Stopped;
                    self.deadline_ms = None;
                }
                S::Done | S::DoneStopped => self.state = S::DoneStopped,
                // A child stopped before its exec gets the signal all the
                // same (see Effects::signal_group) and dies of it, or execs
                // with it pending.
                S::Forked | S::Starting | S::Up | S::Ready => {
                    return self.stop(conf, S::Stopping, now)
                }
            },
            // What runs is stopped in its turn (reverse dependency order);
            // a oneshot done or a service failed stays as it is.
            E::Shutdown => match s {
                S::Restarting => self.state = S::Stopping,
                S::Down | S::Held | S::Stopped | S::Backoff => {
                    self.state = S::Stopped;
                    self.deadline_ms = None;
                }
                S::Forked | S::Starting | S::Up | S::Ready | S::Stopping => {}
                S::Done | S::DoneStopped | S::Failed => {}
            },
            E::AfterMet => match s {
                S::Down => return Action::Spawn,
                S::Forked | S::Starting | S::Up | S::Ready | S::Stopping | S::Restarting => {}
                S::Backoff | S::Done | S::DoneStopped | S::Failed | S::Held | S::Stopped => {}
            },
            E::Changed => match s {
                S::Forked | S::Starting | S::Up | S::Ready => {
                    return self.stop(conf, S::Restarting, now)
                }
                S::Down | S::Held | S::Backoff | S::Done | S::Failed => {
                    self.state = S::Down;
                    self.deadline_ms = None;
                    self.delay_ms = 0;
                }
                S::Stopping | S::Restarting | S::DoneStopped | S::Stopped => {}
            },
            E::Timer => match s {
                S::Backoff => {
                    self.deadline_ms = None;
                    return Action::Spawn;
                }
                S::Stopping | S::Restarting => {
                    self.deadline_ms = None;
                    return Action::Kill;
                }
                S::Down | S::Forked | S::Starting | S::Up | S::Ready => {}
                S::Done | S::DoneStopped | S::Failed | S::Held | S::Stopped => {}
            },
            // Only spawned from the states not running, and the child
            // tells once.
            E::Spawned { pid } => match s {
                S::Down
                | S::Backoff
                | S::Done
                | S::DoneStopped
                | S::Failed
                | S::Held
                | S::Stopped => {
                    self.pid = pid;
                    self.started_ms = now;
                    self.ready_seen = false;
                    self.deadline_ms = None;
                    self.state = S::Forked;
                }
                S::Forked | S::Starting | S::Up | S::Ready | S::Stopping | S::Restarting => {}
            },
            E::SpawnFailed(err) => match s {
                S::Forked => {
                    // The child exits at once; its end is nobody's.
                    self.pid = 0;
                    self.not_started(err, now);
                }
                S::Stopping | S::Restarting => {
                    self.ended(Outcome::NotStarted { err, at_ms: now });
                }
                S::Starting | S::Up | S::Ready => {}
                S::Down | S::Held | S::Stopped | S::Backoff => self.not_started(err, now),
                S::Done | S::DoneStopped | S::Failed => self.not_started(err, now),
            },
            E::Execd => match s {
                S::Forked => {
                    let waits = conf.kind == Kind::Oneshot || conf.ready_fd.is_some();
                    self.state = if waits { S::Starting } else { S::Up };
                }
                S::Starting | S::Up | S::Ready | S::Stopping | S::Restarting | S::Down => {}
                S::Backoff | S::Done | S::DoneStopped | S::Failed | S::Held | S::Stopped => {}
            },
            // Only the exec'd program writes to the readiness fd, so its
            // newline also confirms the exec.
            E::Ready => match s {
                S::Forked | S::Starting => {
                    self.state = S::Ready;
                    self.ready_seen = true;
                }
                S::Up | S::Ready | S::Stopping | S::Restarting | S::Down => {}
                S::Backoff | S::Done | S::DoneStopped | S::Failed | S::Held | S::Stopped => {}
            },
            E::Exited { exit, ending } => match s {
                // Forked: the loop reads the child's report before its exit,
                // so this is an exit whose report was lost; count it as a
                // run.
                S::Forked | S::Starting | S::Up | S::Ready => {
                    return self.exited(conf, exit, ending, now)
                }
                S::Stopping | S::Restarting => {
                    self.ended(Outcome::Exited { exit, at_ms: now });
                    // Whatever the leader left behind in its group goes too.
                    return Action::Kill;
                }
                S::Down | S::Backoff | S::Done | S::DoneStopped | S::Failed => {}
                S::Held | S::Stopped => {}
            },
        }
        Action::None
    }

    /// Sends its stop signal; `then` is [`State::Stopping`] or
    /// [`State::Restarting`].
    fn stop(&mut self, conf: &ServiceConf, then: State, now: u64) -> Action {
        self.state = then;
        self.deadline_ms = Some(now.saturating_add(u64::from(conf.stop_timeout_ms)));
        Action::Signal(conf.stop_signal)
    }

    /// A stopped service's process ended (or its exec failed): down for
    /// good when stopped, down to start again when restarting.
    fn ended(&mut self, last: Outcome) {
        self.state = match self.state {
            State::Restarting => State::Down,
            _ => State::Stopped,
        };
        self.pid = 0;
        self.deadline_ms = None;
        self.last = last;
    }

    /// It could not be started: a shortage is retried after a backoff,
    /// anything else fails until started by hand.
    fn not_started(&mut self, err: StartError, now: u64) {
        self.last = Outcome::NotStarted { err, at_ms: now };
        if err.temporary() {
            self.back_off(now);
        } else {
            self.state = State::Failed;
            self.deadline_ms = None;
        }
    }

    /// A running service's process ended on its own; `ending`: while tend
    /// shuts down.
    #[inline(never)]
    fn exited(&mut self, conf: &ServiceConf, exit: Exit, ending: bool, now: u64) -> Action {
        self.pid = 0;
        self.last = Outcome::Exited { exit, at_ms: now };
        if conf.kind == Kind::Oneshot && !exit.failed() {
            self.state = State::Done;
            return Action::None;
        }
        let again = match conf.restart {
            Restart::Always => true,
            Restart::OnFailure => exit.failed(),
            Restart::Never => false,
        };
        if ending || !again {
            self.state = if ending { State::Stopped } else { State::Held };
            return Action::None;
        }
        self.restarts = self.restarts.saturating_add(1);
        if self.ready_seen || now.saturating_sub(self.started_ms) >= STABLE_RUN_MS {
            self.delay_ms = 0;
            self.state = State::Down;
            Action::Spawn
        } else {
            self.back_off(now);
            Action::None
        }
    }

    fn back_off(&mut self, now: u64) {
        // (The delays fit a u32: a minute at most.)
        let delay = self.delay_ms.max(RESTART_MIN_DELAY_MS as u32);
        self.state = State::Backoff;
        self.deadline_ms = Some(now.saturating_add(u64::from(delay)));
        self.delay_ms = delay.saturating_mul(2).min(RESTART_MAX_DELAY_MS as u32);
    }

    /// In the state it should be in, for `tend status`'s exit code: daemons
    /// up or ready, oneshots done, and what the user stopped down.
    pub fn as_expected(&self, conf: &ServiceConf) -> bool {
        match self.state {
            State::Up | State::Ready => conf.kind == Kind::Daemon,
            State::Done | State::DoneStopped => conf.kind == Kind::Oneshot,
            State::Stopped => true,
            State::Down
            | State::Forked
            | State::Starting
            | State::Stopping
            | State::Restarting
            | State::Backoff
            | State::Failed
            | State::Held => false,
        }
    }
}

impl Default for Service {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::conf::{Identity, Span};

    pub(crate) fn conf(kind: Kind, restart: Restart, ready: bool) -> ServiceConf {
        ServiceConf {
            name: heapless::Vec::from_slice(b"svc").unwrap(),
            line: 1,
            kind,
            restart,
            argv: Span::default(),
            argc: 0,
            env: Span::default(),
            envc: 0,
            chdir: Span::default(),
            after: heapless::Vec::new(),
            ready_fd: ready.then_some(3),
            log_bytes: 4096,
            console: false,
            ident: Identity::default(),
            stop_signal: 15,
            stop_timeout_ms: 5000,
            critical: false,
            #[cfg(feature = "listen")]
            listen: Span::default(),
            #[cfg(feature = "listen")]
            accept: false,
            #[cfg(feature = "listen")]
            instances: 8,
        }
    }

    /// A child's end while tend runs on.
    pub(crate) fn exited(exit: Exit) -> Event {
        Event::Exited {
            exit,
            ending: false,
        }
    }

    const ALL_STATES: [State; 13] = [
        State::Down,
        State::Forked,
        State::Starting,
        State::Up,
        State::Ready,
        State::Stopping,
        State::Restarting,
        State::Backoff,
        State::Done,
        State::DoneStopped,
        State::Failed,
        State::Held,
        State::Stopped,
    ];

    fn events() -> [Event; 15] {
        [
            Event::Start,
            Event::Changed,
            Event::AfterMet,
            Event::Stop,
            Event::Restart,
            Event::Shutdown,
            Event::Spawned { pid: 42 },
            Event::Execd,
            Event::SpawnFailed(StartError {
                step: Step::Exec,
                errno: linux_raw_sys::errno::ENOENT as u16,
            }),
            Event::SpawnFailed(StartError {
                step: Step::Fork,
                errno: linux_raw_sys::errno::EAGAIN as u16,
            }),
            Event::Ready,
            exited(Exit::Code(0)),
            exited(Exit::Signal(11)),
            Event::Exited {
                exit: Exit::Signal(11),
                ending: true,
            },
            Event::Timer,
        ]
    }

    fn in_state(state: State) -> Service {
        let mut s = Service::new();
        s.state = state;
        if state.running() {
            s.pid = 7;
            s.started_ms = 1000;
        }
        if matches!(state, State::Backoff | State::Stopping | State::Restarting) {
            s.deadline_ms = Some(5000);
        }
        s
    }

    /// The expected (state, action) for every pair, written out as a table
    /// independent of `step`'s own match, for a daemon with `restart =
    /// always`, no readiness, that ran 100 ms (too short to be stable).
    fn expected(state: State, event: Event) -> (State, Action) {
        use Action as A;
        use State as S;
        let temp = |e: &Event| matches!(e, Event::SpawnFailed(err) if err.temporary());
        let not_running = matches!(
            state,
            S::Down | S::Held | S::Stopped | S::Backoff | S::Done | S::DoneStopped | S::Failed
        );
        match event {
            Event::Start | Event::Restart => match state {
                S::Down | S::Held | S::Stopped => (S::Down, A::None),
                S::Backoff | S::Done | S::DoneStopped | S::Failed => (state, A::Spawn),
                S::Stopping | S::Restarting => (S::Restarting, A::None),
                _ if event == Event::Restart => (S::Restarting, A::Signal(15)),
                _ => (state, A::None),
            },
            Event::AfterMet => match state {
                S::Down => (S::Down, A::Spawn),
                _ => (state, A::None),
            },
            Event::Changed => match state {
                S::Forked | S::Starting | S::Up | S::Ready => (S::Restarting, A::Signal(15)),
                S::Down | S::Held | S::Backoff | S::Done | S::Failed => (S::Down, A::None),
                _ => (state, A::None),
            },
            Event::Stop => match state {
                S::Forked | S::Starting | S::Up | S::Ready => (S::Stopping, A::Signal(15)),
                S::Down | S::Held | S::Stopped | S::Backoff | S::Failed => (S::Stopped, A::None),
                S::Done | S::DoneStopped => (S::DoneStopped, A::None),
                S::Stopping | S::Restarting => (S::Stopping, A::None),
            },
            Event::Shutdown => match state {
                S::Down | S::Held | S::Stopped | S::Backoff => (S::Stopped, A::None),
                S::Restarting => (S::Stopping, A::None),
                _ => (state, A::None),
            },
            Event::Spawned { .. } if not_running => (S::Forked, A::None),
            Event::Spawned { .. } => (state, A::None),
            Event::Execd => match state {
                S::Forked => (S::Up, A::None),
                _ => (state, A::None),
            },
            Event::SpawnFailed(_) => match state {
                S::Forked if temp(&event) => (S::Backoff, A::None),
                S::Forked => (S::Failed, A::None),
                _ if not_running && temp(&event) => (S::Backoff, A::None),
                _ if not_running => (S::Failed, A::None),
                S::Stopping => (S::Stopped, A::None),
                S::Restarting => (S::Down, A::None),
                _ => (state, A::None),
            },
            Event::Ready => match state {
                S::Forked | S::Starting => (S::Ready, A::None),
                _ => (state, A::None),
            },
            Event::Exited { ending, .. } => match state {
                S::Forked | S::Starting | S::Up | S::Ready if ending => (S::Stopped, A::None),
                S::Forked | S::Starting | S::Up | S::Ready => (S::Backoff, A::None),
                S::Stopping => (S::Stopped, A::Kill),
                S::Restarting => (S::Down, A::Kill),
                _ => (state, A::None),
            },
            Event::Timer => match state {
                S::Backoff => (S::Backoff, A::Spawn),
                S::Stopping | S::Restarting => (state, A::Kill),
                _ => (state, A::None),
            },
        }
    }

    #[test]
    fn every_state_event_pair() {
        let c = conf(Kind::Daemon, Restart::Always, false);
        let mut pairs = 0;
        for state in ALL_STATES {
            for event in events() {
                let mut s = in_state(state);
                let action = s.step(&c, event, 1100);
                let (want_state, want_action) = expected(state, event);
                assert_eq!(
                    (s.state, action),
                    (want_state, want_action),
                    "{state:?} + {event:?}"
                );
                // A pid is kept only while running (supervisor::service_of
                // counts on it).
                assert!(s.pid == 0 || s.state.running(), "{state:?} + {event:?}");
                pairs += 1;
            }
        }
        assert_eq!(pairs, 13 * 15);
    }

    #[test]
    fn each_state_and_each_step_has_its_own_name() {
        // Every state's name, as tend(8) STATES lists them (its test reads
        // them here).
        for state in ALL_STATES {
            let name: &[u8] = match state {
                State::Down | State::Held | State::Stopped => b"down",
                State::Forked | State::Starting => b"starting",
                State::Up => b"up",
                State::Ready => b"ready",
                State::Stopping | State::Restarting => b"stopping",
                State::Backoff => b"backoff",
                State::Done | State::DoneStopped => b"done",
                State::Failed => b"failed",
            };
            assert_eq!(state.name(), name, "{state:?}");
        }
        let steps: Vec<&[u8]> = core::iter::successors(Some(Step::Pipe), |s| s.next())
            .map(Step::name)
            .collect();
        assert_eq!(
            steps,
            [
                &b"pipe"[..],
                b"fork",
                b"setup",
                b"setgroups",
                b"setgid",
                b"setuid",
                b"chdir",
                b"exec",
                #[cfg(feature = "listen")]
                b"bind",
            ][..]
        );
    }

    #[test]
    fn the_states_show_as_the_eight_words() {
        for state in ALL_STATES {
            let name = state.name();
            assert!(
                [
                    &b"down"[..],
                    b"starting",
                    b"up",
                    b"ready",
                    b"stopping",
                    b"backoff",
                    b"done",
                    b"failed"
                ]
                .contains(&name),
                "{state:?}"
            );
            assert_eq!(state.shown().name(), name, "{state:?}");
            assert_eq!(state.shown().shown(), state.shown(), "{state:?}");
            assert_eq!(state.shown().running(), state.running(), "{state:?}");
        }
        // Only the states that remember why are shown as another.
        let hidden: Vec<State> = ALL_STATES.into_iter().filter(|&s| s.shown() != s).collect();
        assert_eq!(
            hidden,
            [
                State::Restarting,
                State::DoneStopped,
                State::Held,
                State::Stopped
            ]
        );
        // The initial state is 0: a fresh record is all zero bytes.
        assert_eq!(State::Down as u8, 0);
    }

    #[test]
    fn stop_sets_the_kill_deadline() {
        let c = conf(Kind::Daemon, Restart::Always, false);
        let mut s = in_state(State::Up);
        assert_eq!(s.step(&c, Event::Stop, 2000), Action::Signal(15));
        assert_eq!(s.deadline_ms, Some(7000));
        assert_eq!(s.step(&c, Event::Timer, 7000), Action::Kill);
        assert_eq!(s.deadline_ms, None);
        assert_eq!(s.step(&c, exited(Exit::Signal(9)), 7001), Action::Kill);
        assert_eq!(s.state, State::Stopped);
        assert_eq!(
            s.last,
            Outcome::Exited {
                exit: Exit::Signal(9),
                at_ms: 7001
            }
        );
    }

    #[test]
    fn backoff_doubles_to_the_cap_and_resets_after_a_stable_run() {
        let c = conf(Kind::Daemon, Restart::Always, false);
        let mut s = Service::new();
        let mut now = 0;
        let mut delays = Vec::new();
        for _ in 0..12 {
            assert_eq!(s.step(&c, Event::AfterMet, now), Action::Spawn);
            s.step(&c, Event::Spawned { pid: 9 }, now);
            s.step(&c, Event::Execd, now);
            now += 10; // dies after 10 ms
            assert_eq!(s.step(&c, exited(Exit::Code(1)), now), Action::None);
            assert_eq!(s.state, State::Backoff);
            let d = s.deadline_ms.unwrap() - now;
            delays.push(d);
            now += d;
            assert_eq!(s.step(&c, Event::Timer, now), Action::Spawn);
            s.step(&c, Event::Spawned { pid: 9 }, now);
            s.step(&c, Event::Execd, now);
            now += 10;
            s.step(&c, exited(Exit::Code(1)), now);
            delays.push(s.deadline_ms.unwrap() - now);
            now = s.deadline_ms.unwrap();
            s.state = State::Down;
            s.deadline_ms = None;
        }
        assert_eq!(
            &delays[..10],
            &[100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200]
        );
        assert!(delays[10..].iter().all(|&d| d == RESTART_MAX_DELAY_MS));
        assert_eq!(s.restarts, 24);

        // A run of >= 1 s restarts at once and resets the delay.
        s.step(&c, Event::AfterMet, now);
        s.step(&c, Event::Spawned { pid: 9 }, now);
        s.step(&c, Event::Execd, now);
        now += STABLE_RUN_MS;
        assert_eq!(s.step(&c, exited(Exit::Code(1)), now), Action::Spawn);
        assert_eq!(s.state, State::Down);
        assert_eq!(s.delay_ms, 0);
    }

    #[test]
    fn ready_counts_as_stable() {
        let c = conf(Kind::Daemon, Restart::Always, true);
        let mut s = Service::new();
        s.delay_ms = 6400;
        s.step(&c, Event::Spawned { pid: 3 }, 0);
        s.step(&c, Event::Execd, 0);
        assert_eq!(s.state, State::Starting);
        s.step(&c, Event::Ready, 5);
        assert_eq!(s.state, State::Ready);
        assert_eq!(s.step(&c, exited(Exit::Signal(11)), 10), Action::Spawn);
        assert_eq!(s.delay_ms, 0);
    }

    #[test]
    fn restart_policies() {
        for (restart, exit, again) in [
            (Restart::Always, Exit::Code(0), true),
            (Restart::OnFailure, Exit::Code(0), false),
            (Restart::OnFailure, Exit::Code(2), true),
            (Restart::OnFailure, Exit::Signal(9), true),
            (Restart::Never, Exit::Code(1), false),
        ] {
            let c = conf(Kind::Daemon, restart, false);
            let mut s = in_state(State::Up);
            s.step(&c, exited(exit), 5000);
            assert_eq!(s.state == State::Held, !again, "{restart:?} {exit:?}");
        }
    }

    #[test]
    fn oneshots() {
        let c = conf(Kind::Oneshot, Restart::Never, false);
        let mut s = Service::new();
        s.step(&c, Event::Spawned { pid: 5 }, 0);
        s.step(&c, Event::Execd, 0);
        assert_eq!(s.state, State::Starting);
        s.step(&c, exited(Exit::Code(0)), 50);
        assert_eq!(s.state, State::Done);
        assert!(s.as_expected(&c));
        let mut s = in_state(State::Starting);
        s.step(&c, exited(Exit::Code(1)), 50);
        assert_eq!(s.state, State::Held);
        assert!(!s.as_expected(&c));
        let c = conf(Kind::Oneshot, Restart::OnFailure, false);
        let mut s = in_state(State::Starting);
        s.step(&c, exited(Exit::Code(1)), 1050);
        assert_eq!(s.state, State::Backoff);
    }

    #[test]
    fn unwanted_services_are_not_restarted() {
        let c = conf(Kind::Daemon, Restart::Always, false);
        // Its end while tend shuts down, before its own stop came.
        let mut s = in_state(State::Up);
        assert_eq!(s.step(&c, Event::Shutdown, 8000), Action::None);
        assert_eq!(s.state, State::Up, "stopped in its turn");
        let end = Event::Exited {
            exit: Exit::Code(0),
            ending: true,
        };
        assert_eq!(s.step(&c, end, 9000), Action::None);
        assert_eq!((s.state, s.restarts), (State::Stopped, 0));
        assert!(s.as_expected(&c) && !s.state.wanted());
        // Nothing that waits comes back once shutdown begins.
        for state in [State::Down, State::Held, State::Backoff] {
            let mut s = in_state(state);
            s.step(&c, Event::Shutdown, 8000);
            assert_eq!((s.state, s.deadline_ms), (State::Stopped, None));
            assert_eq!(s.step(&c, Event::Timer, 9000), Action::None);
            assert_eq!(s.step(&c, Event::AfterMet, 9000), Action::None);
        }
    }

    #[test]
    fn stop_is_remembered_until_start() {
        let c = conf(Kind::Daemon, Restart::Always, false);
        let mut s = in_state(State::Up);
        assert_eq!(s.step(&c, Event::Stop, 2000), Action::Signal(15));
        assert_eq!(s.step(&c, exited(Exit::Signal(15)), 2001), Action::Kill);
        assert_eq!(s.state, State::Stopped);
        assert_eq!(s.state.name(), b"down");
        assert!(s.as_expected(&c) && !s.state.wanted());
        // The supervisor's go is for what is wanted only.
        assert_eq!(s.step(&c, Event::AfterMet, 3000), Action::None);
        // `start` wants it again: down, waiting for its `after`.
        assert_eq!(s.step(&c, Event::Start, 4000), Action::None);
        assert_eq!(s.state, State::Down);
        assert!(!s.as_expected(&c) && s.state.wanted());
        assert_eq!(s.step(&c, Event::AfterMet, 4000), Action::Spawn);
    }

    #[test]
    fn restart_stops_then_comes_back() {
        let c = conf(Kind::Daemon, Restart::Always, false);
        let mut s = in_state(State::Up);
        assert_eq!(s.step(&c, Event::Restart, 2000), Action::Signal(15));
        assert_eq!((s.state, s.deadline_ms), (State::Restarting, Some(7000)));
        assert_eq!(s.state.name(), b"stopping");
        assert!(s.state.wanted() && !s.as_expected(&c));
        assert_eq!(s.step(&c, exited(Exit::Signal(15)), 2001), Action::Kill);
        assert_eq!((s.state, s.restarts), (State::Down, 0));
        // A stop meanwhile wins; a start meanwhile brings it back.
        let mut s = in_state(State::Up);
        s.step(&c, Event::Restart, 2000);
        assert_eq!(s.step(&c, Event::Stop, 2001), Action::None);
        assert_eq!((s.state, s.deadline_ms), (State::Stopping, Some(7000)));
        assert_eq!(s.step(&c, Event::Start, 2002), Action::None);
        assert_eq!(s.state, State::Restarting);
        s.step(&c, exited(Exit::Signal(15)), 2003);
        assert_eq!(s.state, State::Down);
        // Shutdown turns a restart into a stop.
        let mut s = in_state(State::Up);
        s.step(&c, Event::Restart, 2000);
        s.step(&c, Event::Shutdown, 2001);
        s.step(&c, exited(Exit::Signal(15)), 2002);
        assert_eq!(s.state, State::Stopped);
    }

    #[test]
    fn held_by_its_policy_until_start() {
        let c = conf(Kind::Daemon, Restart::Never, false);
        let mut s = in_state(State::Up);
        assert_eq!(s.step(&c, exited(Exit::Code(1)), 5000), Action::None);
        assert_eq!(s.state, State::Held);
        assert_eq!(s.state.name(), b"down");
        assert!(!s.as_expected(&c) && s.state.wanted());
        assert_eq!(s.step(&c, Event::AfterMet, 6000), Action::None);
        s.step(&c, Event::Start, 7000);
        assert_eq!(s.state, State::Down);
        assert_eq!(s.step(&c, Event::AfterMet, 7000), Action::Spawn);
    }

    #[test]
    fn a_done_oneshot_stopped_stays_done_but_unwanted() {
        let c = conf(Kind::Oneshot, Restart::Never, false);
        let mut s = in_state(State::Done);
        assert_eq!(s.step(&c, Event::Stop, 100), Action::None);
        assert_eq!(s.state, State::DoneStopped);
        assert_eq!(s.state.name(), b"done");
        assert!(s.as_expected(&c) && !s.state.wanted());
        // `start` runs it again at once, as for any oneshot done.
        assert_eq!(s.step(&c, Event::Start, 200), Action::Spawn);
        s.step(&c, Event::Spawned { pid: 4 }, 200);
        assert_eq!(s.state, State::Forked);
    }

    #[test]
    fn a_fork_is_starting_until_the_exec_is_confirmed() {
        let c = conf(Kind::Daemon, Restart::Always, false);
        let mut s = Service::new();
        assert_eq!(s.step(&c, Event::AfterMet, 0), Action::Spawn);
        s.step(&c, Event::Spawned { pid: 9 }, 0);
        assert_eq!((s.state, s.pid), (State::Forked, 9));
        assert_eq!(s.state.name(), b"starting");
        assert!(s.state.running() && !s.as_expected(&c));
        s.step(&c, Event::Execd, 3);
        assert_eq!((s.state, s.pid, s.started_ms), (State::Up, 9, 0));
        // A readiness service stays starting; its newline may come first.
        let c = conf(Kind::Daemon, Restart::Always, true);
        let mut s = Service::new();
        s.step(&c, Event::Spawned { pid: 9 }, 0);
        s.step(&c, Event::Ready, 1);
        assert_eq!(s.state, State::Ready);
        s.step(&c, Event::Execd, 2);
        assert_eq!(s.state, State::Ready, "a late report changes nothing");
    }

    #[test]
    fn an_exec_failure_reported_after_the_fork_is_no_run() {
        use linux_raw_sys::errno::*;
        let c = conf(Kind::Daemon, Restart::Always, false);
        let enoent = StartError {
            step: Step::Exec,
            errno: ENOENT as u16,
        };
        let mut s = Service::new();
        s.step(&c, Event::Spawned { pid: 9 }, 0);
        assert_eq!(s.step(&c, Event::SpawnFailed(enoent), 4), Action::None);
        assert_eq!((s.state, s.pid, s.restarts), (State::Failed, 0, 0));
        assert_eq!(
            s.last,
            Outcome::NotStarted {
                err: enoent,
                at_ms: 4
            }
        );
        // Its child's exit (127) is then nobody's: the record ignores it.
        assert_eq!(s.step(&c, exited(Exit::Code(127)), 5), Action::None);
        assert_eq!(s.state, State::Failed);
        // A shortage backs off and retries.
        let eagain = StartError {
            step: Step::Setuid,
            errno: EAGAIN as u16,
        };
        let mut s = Service::new();
        s.step(&c, Event::Spawned { pid: 9 }, 0);
        s.step(&c, Event::SpawnFailed(eagain), 4);
        assert_eq!(
            (s.state, s.deadline_ms, s.pid),
            (State::Backoff, Some(104), 0)
        );
        assert_eq!(s.step(&c, Event::Timer, 104), Action::Spawn);
    }

    #[test]
    fn a_stop_before_the_exec_is_confirmed() {
        let c = conf(Kind::Daemon, Restart::Always, false);
        // The signal goes out at once; the child's end settles it.
        let mut s = Service::new();
        s.step(&c, Event::Spawned { pid: 9 }, 0);
        assert_eq!(s.step(&c, Event::Stop, 1), Action::Signal(15));
        assert_eq!((s.state, s.deadline_ms), (State::Stopping, Some(5001)));
        assert_eq!(s.step(&c, Event::Execd, 2), Action::None);
        assert_eq!(s.state, State::Stopping);
        assert_eq!(s.step(&c, exited(Exit::Signal(15)), 3), Action::Kill);
        assert_eq!(s.state, State::Stopped);
        // Its exec failed meanwhile: down, with the reason, and no kill.
        let mut s = Service::new();
        s.step(&c, Event::Spawned { pid: 9 }, 0);
        s.step(&c, Event::Stop, 1);
        let err = StartError {
            step: Step::Chdir,
            errno: linux_raw_sys::errno::ENOENT as u16,
        };
        assert_eq!(s.step(&c, Event::SpawnFailed(err), 2), Action::None);
        assert_eq!((s.state, s.pid, s.deadline_ms), (State::Stopped, 0, None));
        assert_eq!(s.last, Outcome::NotStarted { err, at_ms: 2 });
    }

    #[test]
    fn start_errors_are_sorted() {
        use linux_raw_sys::errno::*;
        for (errno, temporary) in [
            (EAGAIN, true),
            (ENOMEM, true),
            (EMFILE, true),
            (ENOENT, false),
            (EACCES, false),
        ] {
            assert_eq!(
                StartError {
                    step: Step::Exec,
                    errno: errno as u16
                }
                .temporary(),
                temporary
            );
        }
    }
}
