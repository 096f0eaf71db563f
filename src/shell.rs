//! The supervisor's [`Effects`], carried out for real: spawning with the
//! service's pipes, signalling process groups, freezing crash records and
//! saying what happened on stderr and in tend's own ring.

use rustix::fd::{AsFd, BorrowedFd};
use rustix::io::{self, Errno};

use crate::crash::Crash;
use crate::errno;
use crate::limits::MAX_SERVICES;
use crate::report::{self, write_all};
use crate::ring::Ring;
use crate::say::Buf;
use crate::service::{Exit, Outcome, Service, StartError, State, Step};
use crate::spawn::{self, Stdio};
use crate::status;
use crate::supervisor::Effects;
use crate::sys::{self, Fd};
use crate::table::{SvcId, Table};
use crate::world::LogPipe;

pub struct Shell<'w> {
    pub table: &'w Table,
    pub rings: &'w mut [Ring<'static>; MAX_SERVICES],
    pub crashes: &'w mut [Crash; MAX_SERVICES],
    pub own: &'w mut Ring<'static>,
    pub pipes: &'w [Option<LogPipe>; MAX_SERVICES],
    pub ready: &'w mut [Option<Fd>; MAX_SERVICES],
    pub execs: &'w mut [Option<Fd>; MAX_SERVICES],
    pub null: BorrowedFd<'w>,
}

/// Writes a service's bytes to a terminal (stderr) as a person may see
/// them: control bytes but tab, and malformed UTF-8, as `\xNN` (see
/// [`crate::display`]), so a service cannot drive the console.
pub fn write_shown(fd: BorrowedFd<'_>, text: &[u8]) {
    /// Bytes escaped per write: at most four times as many come out.
    const CHUNK: usize = 120;
    let mut out = Buf::<{ 4 * CHUNK }>::new();
    let mut rest = text;
    while !rest.is_empty() {
        out.clear();
        let took = out.shown_prefix(rest, CHUNK);
        write_all(fd, out.as_bytes());
        rest = rest.get(took..).unwrap_or(&[]);
    }
}

/// `sig` to the process group that a service's child `pid` leads; unless
/// `reaped`, to `pid` itself when there is no such group yet (the child has
/// not reached its `setsid`; not reaped, `pid` is still it).
pub fn signal_child(pid: i32, sig: u32, reaped: bool) -> Result<(), Errno> {
    match sys::kill_group(pid, sig) {
        Err(Errno::SRCH) if !reaped => sys::kill(pid, sig),
        r => r,
    }
}

/// Reads what the service's pipe holds into its ring, up to its per-round
/// budget. Returns true when the budget ran out with data left.
pub fn drain(pipe: &LogPipe, ring: &mut Ring<'static>, now: u64) -> bool {
    let mut buf = [0u8; 4096];
    let mut total = 0;
    let budget = pipe.budget();
    while total < budget {
        match io::read(&pipe.read, &mut buf) {
            Ok(0) => return false,
            Ok(n) => {
                ring.push(now, buf.get(..n).unwrap_or(&[]));
                total += n;
            }
            Err(Errno::INTR) => {}
            Err(_) => return false,
        }
    }
    true
}

impl Shell<'_> {
    fn name(&self, id: SvcId) -> &[u8] {
        self.table.get(id).map_or(b"?", |c| c.name.as_slice())
    }
}

impl Effects for Shell<'_> {
    fn spawn(&mut self, id: SvcId, _now: u64) -> Result<i32, StartError> {
        let conf = self.table.get(id).ok_or(StartError {
            step: Step::Setup,
            errno: linux_raw_sys::errno::EINVAL as u16,
        })?;
        let slot = self.ready.get_mut(id.index()).ok_or(StartError {
            step: Step::Setup,
            errno: linux_raw_sys::errno::EINVAL as u16,
        })?;
        *slot = None;
        let ready = match conf.ready_fd {
            Some(_) => {
                Some(
                    sys::pipe(linux_raw_sys::general::O_CLOEXEC).map_err(|e| StartError {
                        step: Step::Pipe,
                        errno: errno::of(e),
                    })?,
                )
            }
            None => None,
        };
        let log = self
            .pipes
            .get(id.index())
            .and_then(|p| p.as_ref())
            .map(|p| p.write.as_fd());
        let stdio = Stdio {
            null: self.null,
            log,
            ready: ready.as_ref().map(|(_, w)| w.as_fd()),
        };
        let child = spawn::spawn(self.table, conf, &stdio)?;
        // Read by the loop: end-of-file once the exec happened, or the step
        // that failed.
        if let Some(exec) = self.execs.get_mut(id.index()) {
            *exec = Some(child.report);
        }
        if let Some((r, _w)) = ready {
            // The write end closes here (`_w` drops): only the child holds it.
            let _ = rustix::fs::fcntl_setfl(&r, rustix::fs::OFlags::NONBLOCK);
            *slot = Some(r);
        }
        Ok(child.pid)
    }

    fn signal_group(&mut self, pid: i32, sig: u8, reaped: bool) {
        let _ = signal_child(pid, sig.into(), reaped);
        if u32::from(sig) != linux_raw_sys::general::SIGKILL {
            let _ = signal_child(pid, linux_raw_sys::general::SIGCONT, reaped);
        }
    }

    fn crashed(&mut self, id: SvcId, exit: Exit, started_ms: u64, now: u64) {
        let table = self.table;
        let name = table.get(id).map_or(b"?".as_slice(), |c| c.name.as_slice());
        let (Some(ring), Some(crash)) = (
            self.rings.get_mut(id.index()),
            self.crashes.get_mut(id.index()),
        ) else {
            return;
        };
        // Its last words may still be in the pipe.
        // One round's budget is a full pipe; a stray writer still flooding
        // it must not hold the loop here.
        if let Some(pipe) = self.pipes.get(id.index()).and_then(|p| p.as_ref()) {
            drain(pipe, ring, now);
        }
        ring.end_line();
        crash.record(exit, now, started_ms, ring);
        let mut msg = Buf::<128>::new();
        msg.s(name).s(b": crashed, ");
        status::exit_words(&mut msg, exit);
        if !crash.text.is_empty() {
            msg.s(b"; its last lines:");
        }
        report::say(Some((self.own, now)), &[msg.as_bytes()]);
        write_shown(sys::stderr(), crash.text.as_bytes());
    }

    fn changed(&mut self, id: SvcId, svc: &Service, now: u64) {
        let state = svc.state.shown();
        if state == State::Forked {
            return; // said once the child has told how its exec went
        }
        let mut msg = Buf::<256>::new();
        msg.s(self.name(id)).s(b": ").s(state.name());
        match (state, svc.last) {
            (State::Starting | State::Up, _) => {
                msg.s(b", pid ").u(svc.pid.unsigned_abs().into());
            }
            (State::Backoff, Outcome::Exited { exit, .. }) => {
                msg.s(b", ");
                status::exit_words(&mut msg, exit);
            }
            (State::Backoff | State::Failed, Outcome::NotStarted { err, .. }) => {
                msg.s(b", ")
                    .s(err.step.name())
                    .s(b": ")
                    .s(errno::describe(err.errno));
            }
            (State::Down | State::Done, Outcome::Exited { exit, .. }) => {
                msg.s(b", ");
                status::exit_words(&mut msg, exit);
            }
            _ => {}
        }
        if let (State::Backoff, Some(d)) = (state, svc.deadline_ms) {
            msg.s(b", retry in ").dur(d.saturating_sub(now));
        }
        report::say(Some((self.own, now)), &[msg.as_bytes()]);
    }
}
