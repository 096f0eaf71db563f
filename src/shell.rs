//! The supervisor's [`Effects`], carried out for real: spawning with the
//! service's pipes, signalling process groups, freezing crash records and
//! saying what happened on stderr and in tend's own ring. What each needs
//! of one service is in the slot the supervisor hands it; the [`Shell`]
//! holds only what every service shares.

use rustix::fd::{AsFd, BorrowedFd};
use rustix::io::{self, Errno};

use crate::conf::Pool;
use crate::conf::SvcId;
use crate::errno;
use crate::limits::LOG_QUIET_READ_BYTES;
use crate::report::{self, write_all};
use crate::ring::Ring;
use crate::say::Buf;
use crate::service::{Exit, Outcome, StartError, State, Step};
use crate::slot::LogPipe;
use crate::spawn::{self, Stdio};
use crate::status;
use crate::supervisor::Effects;
use crate::sys::{self, Fd};
use crate::world::Slot;

/// What every service shares, for the supervisor's effects: the strings
/// of their argv, env and chdir, tend's own ring and /dev/null.
pub struct Shell<'w> {
    pub pool: &'w Pool,
    pub own: &'w mut Ring<'static>,
    pub null: BorrowedFd<'w>,
    /// The instances of `accept = yes` services.
    #[cfg(feature = "listen")]
    pub inst: &'w mut crate::listen::Instances,
}

/// Writes a service's bytes to a terminal (stderr) as a person may see
/// them: control bytes but tab, and malformed UTF-8, as `\xNN` (see
/// [`crate::display`]), so a service cannot drive the console.
pub fn write_shown(fd: BorrowedFd<'_>, text: &[u8]) {
    /// Bytes escaped per write: at most four times as many come out.
    const CHUNK: usize = 128;
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
/// budget. Returns true when the budget ran out with data left. Through
/// `flood` if given (for a pipe grown for a flood: the [`LOG_READ_BYTES`]
/// of the loop's [`LogBuf`]), else [`LOG_QUIET_READ_BYTES`] at a time
/// through a buffer on the stack: the stack goes about as deep when the
/// table loads or a control request is read, so that costs no page of its
/// own, where a page of the static buffer would stay in tend's memory.
///
/// [`LOG_READ_BYTES`]: crate::limits::LOG_READ_BYTES
/// [`LogBuf`]: crate::world::LogBuf
pub fn drain(
    pipe: &LogPipe<Fd>,
    ring: &mut Ring<'static>,
    flood: Option<&mut [u8]>,
    now: u64,
) -> bool {
    let mut quiet = [0u8; LOG_QUIET_READ_BYTES];
    let buf = match flood {
        Some(buf) => buf,
        None => &mut quiet,
    };
    let mut total = 0;
    let budget = pipe.budget();
    while total < budget {
        match io::read(&pipe.read, &mut *buf) {
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

/// `sig` to the process group `pid` leads (and SIGCONT after it, unless
/// it is SIGKILL); see [`signal_child`].
#[inline(never)]
fn signal_group(pid: i32, sig: u8, reaped: bool) {
    let _ = signal_child(pid, sig.into(), reaped);
    if u32::from(sig) != linux_raw_sys::general::SIGKILL {
        let _ = signal_child(pid, linux_raw_sys::general::SIGCONT, reaped);
    }
}

/// `sig` to the instances of service `id`, each in its group; with
/// `cont`, SIGCONT after it (see [`signal_group`]).
#[cfg(feature = "listen")]
#[inline(never)]
pub fn signal_instances(inst: &crate::listen::Instances, id: SvcId, sig: u8, cont: bool) {
    for pid in inst.of(id) {
        if cont {
            signal_group(pid, sig, false);
        } else {
            let _ = signal_child(pid, sig.into(), false);
        }
    }
}

/// Starts a service (see [`start`]), its `listen` socket first, bound
/// unless it is (as root: the child drops its privileges after the fork)
/// and handed to the child (see `spawn`). An `accept = yes` service has
/// no process of its own: it is up at once (pid 0).
#[cfg(feature = "listen")]
fn start_listening(pool: &Pool, null: BorrowedFd<'_>, slot: &mut Slot) -> Result<i32, StartError> {
    let text = crate::settings::Settings::path(pool, slot.conf.listen);
    if slot.socket.is_none() && !text.is_empty() {
        let fd = crate::listen_in::bind_to(text, slot.conf.accept).map_err(|e| StartError {
            step: Step::Bind,
            errno: errno::of(e),
        })?;
        // It replaces a None: no drop code for it.
        core::mem::forget(slot.socket.replace(fd));
    }
    if slot.conf.accept {
        return Ok(0);
    }
    start(pool, null, slot, None)
}

/// Forks the child of service `slot` (see `spawn`); its pid. With `conn`,
/// an instance of an `accept = yes` service on that connection, with the
/// UCSPI environment of its peer: it has no readiness pipe, and no report
/// pipe (nothing waits for its exec). (Out of line where two call it.)
#[cfg_attr(feature = "listen", inline(never))]
pub fn start(
    pool: &Pool,
    null: BorrowedFd<'_>,
    slot: &mut Slot,
    #[cfg(feature = "listen")] conn: Option<(BorrowedFd<'_>, &[u8; 28])>,
) -> Result<i32, StartError> {
    // (No `ready` beside `accept = yes`: tend.conf(5) refuses it.)
    let ready = match slot.conf.ready_fd {
        Some(_) => {
            slot.ready = None;
            Some(
                sys::pipe(linux_raw_sys::general::O_CLOEXEC).map_err(|e| StartError {
                    step: Step::Pipe,
                    errno: errno::of(e),
                })?,
            )
        }
        _ => None,
    };
    let stdio = Stdio {
        null,
        log: slot.log.as_ref().map(|p| p.write.as_fd()),
        ready: ready.as_ref().map(|(_, w)| w.as_fd()),
        #[cfg(feature = "listen")]
        listen: slot
            .socket
            .as_ref()
            .filter(|_| conn.is_none())
            .map(|s| s.as_fd()),
        #[cfg(feature = "listen")]
        conn,
    };
    let child = spawn::spawn(pool, &slot.conf, &stdio)?;
    // Read by the loop: end-of-file once the exec happened, or the step
    // that failed. (None for an instance: an `accept = yes` service has no
    // report pipe of its own.)
    slot.exec = child.report;
    if let Some((r, _w)) = ready {
        // The write end closes here (`_w` drops): only the child holds it.
        let _ = rustix::fs::fcntl_setfl(&r, rustix::fs::OFlags::NONBLOCK);
        // It replaces the None set above: no drop code for it.
        core::mem::forget(slot.ready.replace(r));
    }
    Ok(child.pid)
}

impl Effects<Fd> for Shell<'_> {
    fn spawn(&mut self, slot: &mut Slot, _now: u64) -> Result<i32, StartError> {
        #[cfg(feature = "listen")]
        return start_listening(self.pool, self.null, slot);
        #[cfg(not(feature = "listen"))]
        start(self.pool, self.null, slot)
    }

    fn signal_group(&mut self, _id: SvcId, pid: i32, sig: u8, reaped: bool) {
        #[cfg(feature = "listen")]
        if pid == 0 {
            return signal_instances(self.inst, _id, sig, true);
        }
        signal_group(pid, sig, reaped);
    }

    fn crashed(&mut self, slot: &mut Slot, exit: Exit, now: u64) {
        let Slot {
            conf,
            svc,
            ring,
            crash,
            log,
            ..
        } = slot;
        // Its last words may still be in the pipe.
        // One round's budget is a full pipe; a stray writer still flooding
        // it must not hold the loop here. Through the stack buffer: the
        // flood buffer is the loop's, given back on its timer.
        if let Some(pipe) = log {
            drain(pipe, ring, None, now);
        }
        ring.end_line();
        crash.record(exit, now, svc.started_ms, ring);
        let mut msg = Buf::<256>::new();
        msg.s(&conf.name).s(b": crashed, ");
        status::exit_words(&mut msg, exit);
        if !crash.text().is_empty() {
            msg.s(b"; its last lines:");
        }
        report::say(Some((self.own, now)), &[msg.as_bytes()]);
        write_shown(sys::stderr(), crash.text());
    }

    fn changed(&mut self, slot: &Slot, now: u64) {
        let svc = &slot.svc;
        let state = svc.state.shown();
        if state == State::Forked {
            return; // said once the child has told how its exec went
        }
        let mut msg = Buf::<256>::new();
        msg.s(&slot.conf.name).s(b": ").s(state.name());
        match (state, svc.last) {
            // (An `accept = yes` service has no process of its own.)
            (State::Starting | State::Up, _) if svc.pid != 0 || !cfg!(feature = "listen") => {
                msg.s(b", pid ").u(svc.pid.unsigned_abs().into());
            }
            (State::Backoff | State::Failed, Outcome::NotStarted { err, .. }) => {
                msg.s(b", ")
                    .s(err.step.name())
                    .s(b": ")
                    .s(errno::describe(err.errno));
            }
            (State::Backoff | State::Down | State::Done, Outcome::Exited { exit, .. }) => {
                status::exit_words(msg.s(b", "), exit);
            }
            _ => {}
        }
        if let (State::Backoff, Some(d)) = (state, svc.deadline_ms) {
            msg.s(b", retry in ").dur(d.saturating_sub(now));
        }
        report::say(Some((self.own, now)), &[msg.as_bytes()]);
    }
}
