//! How tend ends (tend(8), "Running as PID 1"). As PID 1: every service
//! stops in reverse dependency order, then SIGTERM goes to every remaining
//! process, a grace of 2 s follows (shorter when all are gone), then
//! SIGKILL, sync, every file system unmounted or remounted read-only, and
//! `reboot(2)`; if that fails, PID 1 stays up. Not PID 1: every service
//! stops, then tend exits 0.
//!
//! The whole machine is [`Ending::step`]: one `match (state, event)` with
//! no wildcard arm, like `Service::step`. It does no I/O: the event loop
//! passes the time in, carries out the [`Act`]s that come out, and asks
//! [`Ending::poll_at`] for its deadline.

use crate::proto::Verb;
use linux_raw_sys::general as sig;

/// Grace between SIGTERM to every process and SIGKILL.
pub const KILL_GRACE_MS: u64 = 2_000;

/// What PID 1 asks of `reboot(2)` at the end.
#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(Debug))]
pub enum Power {
    Halt,
    Poweroff,
    Reboot,
}

impl Power {
    /// As `tend last-boot` says it: the command's word, "poweroff".
    pub fn word(self) -> &'static [u8] {
        match self {
            Power::Halt => Verb::Halt,
            Power::Poweroff => Verb::Poweroff,
            Power::Reboot => Verb::Reboot,
        }
        .word()
    }

    /// As said on the console: "stopping every service to power off".
    pub fn doing(self) -> &'static [u8] {
        // By power, in their order: one string, not a table of pointers.
        crate::say::nth(b"halt\0power off\0reboot\0", self as usize)
    }

    /// `tend halt|poweroff|reboot`.
    pub fn of_verb(verb: Verb) -> Option<Power> {
        match verb {
            Verb::Halt => Some(Power::Halt),
            Verb::Poweroff => Some(Power::Poweroff),
            Verb::Reboot => Some(Power::Reboot),
            Verb::Status
            | Verb::Log
            | Verb::Start
            | Verb::Stop
            | Verb::Restart
            | Verb::Signal
            | Verb::Reload
            | Verb::LastBoot => None,
        }
    }
}

/// What an ending is for.
#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(Debug))]
pub enum How {
    /// PID 1: end the system.
    System(Power),
    /// Not PID 1: exit 0. `signal` asked for it.
    Exit { signal: u8 },
}

impl How {
    /// The ending `signo` asks for (tend(8), SIGNALS): as PID 1, BusyBox's
    /// `halt` (SIGUSR1), `poweroff` (SIGUSR2) and `reboot` (SIGTERM; SIGINT
    /// is ctrl-alt-del); otherwise SIGTERM and SIGINT.
    pub fn of_signal(signo: u32, pid1: bool) -> Option<How> {
        match (signo, pid1) {
            (sig::SIGUSR1, true) => Some(How::System(Power::Halt)),
            (sig::SIGUSR2, true) => Some(How::System(Power::Poweroff)),
            (sig::SIGTERM | sig::SIGINT, true) => Some(How::System(Power::Reboot)),
            (sig::SIGTERM | sig::SIGINT, false) => Some(How::Exit {
                signal: signo as u8,
            }),
            _ => None,
        }
    }
}

/// How far the ending has come.
#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(Debug))]
pub enum Ending {
    /// Supervising; nothing asked tend to end.
    Running,
    /// Every service was asked to stop, in reverse dependency order.
    Stopping(How),
    /// PID 1: every service stopped and SIGTERM sent to every process;
    /// SIGKILL at `until`, or once no child is left.
    Grace { power: Power, until: u64 },
    /// PID 1: everything killed, synced and unmounted; `reboot(2)` asked.
    Rebooting(Power),
    /// PID 1: `reboot(2)` failed; asked once more, to restart.
    Retrying,
    /// PID 1: `reboot(2)` failed again. It stays up: reaping, serving
    /// clients, with nothing left to do.
    Stuck,
    /// Not PID 1: every service stopped; tend exits 0.
    Exited,
}

/// What an event decides.
#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(Debug))]
pub enum Event {
    /// A signal or a client asked tend to end.
    Asked(How),
    /// No service has a process left (reported while stopping).
    ServicesStopped,
    /// A reap found no child left.
    ChildrenGone,
    /// [`Ending::poll_at`] has come.
    Timer,
    /// `reboot(2)` returned, failing with this errno.
    RebootFailed(u16),
}

/// What the event loop carries out, in order.
#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(Debug))]
pub enum Act {
    /// Say "stopping every service to …" (not PID 1: "SIGTERM: stopping
    /// every service"), and stop them all in reverse dependency order.
    StopServices(How),
    /// Say "every service stopped; sending SIGTERM to every process", and
    /// send it to every process but PID 1.
    TermEveryone,
    /// Say "sending SIGKILL to every process; …", send it, and reap what
    /// has ended.
    KillEveryone(Power),
    /// Keep the evidence of how this boot ended (tend(8), KEPT EVIDENCE):
    /// the power's word, or with none `stopped`.
    Keep(Option<Power>),
    /// `sync(2)`.
    Sync,
    /// Unmount every file system, newest first; what cannot be unmounted
    /// (the root, busy ones) is remounted read-only.
    Unmount,
    /// `reboot(2)`; report [`Event::RebootFailed`] if it returns.
    Reboot(Power),
    /// Say "reboot(2) failed: …".
    SayRebootFailed(u16),
    /// Say "every service stopped; exiting", and remove the control socket.
    Exit,
}

/// The acts of one step: at most the six of the end.
pub type Acts = heapless::Vec<Act, 6>;

fn acts(list: &[Act]) -> Acts {
    Acts::from_slice(list).unwrap_or_default()
}

impl Ending {
    /// The state machine. Every (state, event) pair is listed.
    // Out of line: inlined into the loop it makes the binary bigger.
    #[inline(never)]
    pub fn step(&mut self, event: Event, now: u64) -> Acts {
        use Ending as S;
        use Event as E;
        // No two arms overlap but the two of a grace's timer, the guarded
        // one first; so the order is the one that compiles smallest.
        match (*self, event) {
            (S::Rebooting(_), E::RebootFailed(errno)) => {
                *self = S::Retrying;
                acts(&[Act::SayRebootFailed(errno), Act::Reboot(Power::Reboot)])
            }
            (S::Running, E::Asked(how)) => {
                *self = S::Stopping(how);
                acts(&[Act::StopServices(how)])
            }
            // Only the supervisor's shutdown stops every service, and only
            // this machine asks for it; nothing is due while running.
            (S::Running, E::ServicesStopped | E::ChildrenGone | E::Timer | E::RebootFailed(_)) => {
                acts(&[])
            }
            (S::Stopping(How::System(power)), E::ServicesStopped) => {
                *self = S::Grace {
                    power,
                    until: now.saturating_add(KILL_GRACE_MS),
                };
                acts(&[Act::TermEveryone])
            }
            (S::Stopping(How::Exit { .. }), E::ServicesStopped) => {
                *self = S::Exited;
                acts(&[Act::Keep(None), Act::Exit])
            }
            // The first ending asked for is the one; the services stop on
            // their own stop timeouts.
            (S::Stopping(_), E::Asked(_) | E::ChildrenGone | E::Timer | E::RebootFailed(_)) => {
                acts(&[])
            }
            (S::Grace { power, .. }, E::ChildrenGone) => self.end(power),
            (
                S::Rebooting(_) | S::Retrying,
                E::Asked(_) | E::ServicesStopped | E::ChildrenGone | E::Timer,
            )
            | (
                S::Stuck | S::Exited,
                E::Asked(_) | E::ServicesStopped | E::ChildrenGone | E::Timer | E::RebootFailed(_),
            ) => acts(&[]),
            (S::Grace { power, until }, E::Timer) if now >= until => self.end(power),
            (S::Grace { .. }, E::Timer) => acts(&[]),
            (S::Grace { .. }, E::Asked(_) | E::ServicesStopped | E::RebootFailed(_)) => acts(&[]),
            (S::Retrying, E::RebootFailed(_)) => {
                *self = S::Stuck;
                acts(&[])
            }
        }
    }

    /// SIGKILL, the evidence kept, sync, unmount, sync, `reboot(2)`.
    fn end(&mut self, power: Power) -> Acts {
        *self = Ending::Rebooting(power);
        acts(&[
            Act::KillEveryone(power),
            Act::Keep(Some(power)),
            Act::Sync,
            Act::Unmount,
            Act::Sync,
            Act::Reboot(power),
        ])
    }

    /// When [`Event::Timer`] is due, if ever.
    pub fn poll_at(&self) -> Option<u64> {
        match *self {
            Ending::Grace { until, .. } => Some(until),
            Ending::Running
            | Ending::Stopping(_)
            | Ending::Rebooting(_)
            | Ending::Retrying
            | Ending::Stuck
            | Ending::Exited => None,
        }
    }

    /// The status tend exits with, once it is to exit (never as PID 1).
    pub fn exit_status(&self) -> Option<i32> {
        (*self == Ending::Exited).then_some(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POWEROFF: How = How::System(Power::Poweroff);
    const EXIT: How = How::Exit {
        signal: sig::SIGTERM as u8,
    };

    fn all_states() -> [Ending; 9] {
        [
            Ending::Running,
            Ending::Stopping(POWEROFF),
            Ending::Stopping(EXIT),
            Ending::Grace {
                power: Power::Halt,
                until: 3000,
            },
            Ending::Rebooting(Power::Halt),
            Ending::Retrying,
            Ending::Stuck,
            Ending::Exited,
            // Grace whose time has come (see `at`).
            Ending::Grace {
                power: Power::Halt,
                until: 1000,
            },
        ]
    }

    fn events() -> [Event; 6] {
        [
            Event::Asked(POWEROFF),
            Event::Asked(EXIT),
            Event::ServicesStopped,
            Event::ChildrenGone,
            Event::Timer,
            Event::RebootFailed(1),
        ]
    }

    const END_HALT: [Act; 6] = [
        Act::KillEveryone(Power::Halt),
        Act::Keep(Some(Power::Halt)),
        Act::Sync,
        Act::Unmount,
        Act::Sync,
        Act::Reboot(Power::Halt),
    ];

    /// The expected (state, acts) for every pair at time 2000, written out
    /// independently of `step`'s match.
    fn expected(state: Ending, event: Event) -> (Ending, Vec<Act>) {
        use Ending as S;
        let grace = S::Grace {
            power: Power::Poweroff,
            until: 2000 + KILL_GRACE_MS,
        };
        match (state, event) {
            (S::Running, Event::Asked(how)) => (S::Stopping(how), vec![Act::StopServices(how)]),
            (S::Stopping(POWEROFF), Event::ServicesStopped) => (grace, vec![Act::TermEveryone]),
            (S::Stopping(EXIT), Event::ServicesStopped) => {
                (S::Exited, vec![Act::Keep(None), Act::Exit])
            }
            (S::Grace { .. }, Event::ChildrenGone) => {
                (S::Rebooting(Power::Halt), END_HALT.to_vec())
            }
            (S::Grace { until: 1000, .. }, Event::Timer) => {
                (S::Rebooting(Power::Halt), END_HALT.to_vec())
            }
            (S::Rebooting(_), Event::RebootFailed(e)) => (
                S::Retrying,
                vec![Act::SayRebootFailed(e), Act::Reboot(Power::Reboot)],
            ),
            (S::Retrying, Event::RebootFailed(_)) => (S::Stuck, vec![]),
            _ => (state, vec![]),
        }
    }

    #[test]
    fn every_state_event_pair() {
        let mut pairs = 0;
        for state in all_states() {
            for event in events() {
                let mut s = state;
                let acts = s.step(event, 2000);
                assert_eq!(
                    (s, acts.to_vec()),
                    expected(state, event),
                    "{state:?} + {event:?}"
                );
                pairs += 1;
            }
        }
        assert_eq!(pairs, 9 * 6);
    }

    /// Feeds `events` at their times; returns every act in order.
    fn run(s: &mut Ending, events: &[(u64, Event)]) -> Vec<Act> {
        events
            .iter()
            .flat_map(|&(now, e)| s.step(e, now).to_vec())
            .collect()
    }

    #[test]
    fn pid1_stops_services_then_terms_waits_kills_syncs_unmounts_and_reboots() {
        let mut s = Ending::Running;
        assert_eq!(s.poll_at(), None, "idle: no wakeup");
        let acts = run(
            &mut s,
            &[
                (100, Event::Asked(POWEROFF)),
                // A second request while stopping changes nothing.
                (150, Event::Asked(How::System(Power::Reboot))),
                (900, Event::ServicesStopped),
            ],
        );
        assert_eq!(acts, [Act::StopServices(POWEROFF), Act::TermEveryone]);
        assert_eq!(s.poll_at(), Some(900 + KILL_GRACE_MS));
        // Processes that ignore SIGTERM: the grace runs out.
        assert_eq!(run(&mut s, &[(2899, Event::Timer)]), []);
        assert_eq!(
            run(&mut s, &[(2900, Event::Timer)]),
            [
                Act::KillEveryone(Power::Poweroff),
                Act::Keep(Some(Power::Poweroff)),
                Act::Sync,
                Act::Unmount,
                Act::Sync,
                Act::Reboot(Power::Poweroff),
            ]
        );
        assert_eq!(s.poll_at(), None);
        assert_eq!(s.exit_status(), None, "PID 1 never exits");
    }

    #[test]
    fn the_grace_is_shorter_when_every_process_is_gone() {
        let mut s = Ending::Running;
        run(
            &mut s,
            &[
                (0, Event::Asked(How::System(Power::Reboot))),
                (10, Event::ServicesStopped),
            ],
        );
        let acts = run(&mut s, &[(300, Event::ChildrenGone)]);
        assert_eq!(acts.first(), Some(&Act::KillEveryone(Power::Reboot)));
        assert_eq!(acts.last(), Some(&Act::Reboot(Power::Reboot)));
        // The timer that was due later finds it done.
        assert_eq!(run(&mut s, &[(2010, Event::Timer)]), []);
    }

    #[test]
    fn a_reboot_failure_keeps_pid1_up() {
        let mut s = Ending::Rebooting(Power::Halt);
        assert_eq!(
            run(&mut s, &[(0, Event::RebootFailed(1))]),
            [Act::SayRebootFailed(1), Act::Reboot(Power::Reboot)],
            "said, then tried once more as a restart"
        );
        assert_eq!(run(&mut s, &[(1, Event::RebootFailed(1))]), []);
        assert_eq!(s, Ending::Stuck);
        assert_eq!((s.poll_at(), s.exit_status()), (None, None));
        let later = [
            Event::Asked(POWEROFF),
            Event::ServicesStopped,
            Event::ChildrenGone,
            Event::Timer,
        ];
        for e in later {
            assert!(s.step(e, 5).is_empty());
        }
    }

    #[test]
    fn not_pid1_stops_services_then_exits_0() {
        let mut s = Ending::Running;
        let acts = run(
            &mut s,
            &[
                (0, Event::ChildrenGone),
                (5, Event::Asked(EXIT)),
                (6, Event::ChildrenGone),
                (40, Event::ServicesStopped),
            ],
        );
        assert_eq!(acts, [Act::StopServices(EXIT), Act::Keep(None), Act::Exit]);
        assert_eq!(s.exit_status(), Some(0));
        assert_eq!(s.poll_at(), None);
    }

    #[test]
    fn signals_ask_for_busybox_endings_as_pid1_and_for_an_exit_otherwise() {
        use How::*;
        use Power::*;
        let exit = |s: u32| Some(Exit { signal: s as u8 });
        for (signo, pid1, how) in [
            (sig::SIGUSR1, true, Some(System(Halt))),
            (sig::SIGUSR2, true, Some(System(Poweroff))),
            (sig::SIGTERM, true, Some(System(Reboot))),
            (sig::SIGINT, true, Some(System(Reboot))),
            (sig::SIGHUP, true, None),
            (sig::SIGCHLD, true, None),
            (sig::SIGTERM, false, exit(sig::SIGTERM)),
            (sig::SIGINT, false, exit(sig::SIGINT)),
            (sig::SIGUSR1, false, None),
            (sig::SIGUSR2, false, None),
            (sig::SIGHUP, false, None),
        ] {
            assert_eq!(How::of_signal(signo, pid1), how, "{signo} pid1={pid1}");
        }
        assert_eq!(Power::of_verb(Verb::Poweroff), Some(Poweroff));
        assert_eq!(
            [Halt, Poweroff, Reboot].map(Power::doing),
            [&b"halt"[..], b"power off", b"reboot"]
        );
        assert_eq!(Power::of_verb(Verb::Status), None);
        assert_eq!(
            [Halt, Poweroff, Reboot].map(Power::word),
            [&b"halt"[..], b"poweroff", b"reboot"]
        );
    }
}
