//! Starting one service: fork, set up the child (signal mask, session,
//! descriptors, identity, directory), exec. The child reports a failure
//! through a close-on-exec pipe: the step that failed and its errno, or,
//! when the exec happens, nothing but the pipe's end-of-file. The parent
//! does not wait for either: [`spawn`] returns right after the fork with
//! the pipe's read end, which the event loop polls and reads with
//! [`read_report`], so a child that is slow to be scheduled holds up
//! nothing else (see the README, "The loop never waits").
//!
//! tend's own descriptors are all close-on-exec, so the child closes
//! nothing itself. The child builds its argv and envp arrays from its copy
//! of the table (nothing to carry across the fork, and the parent is back
//! in its loop sooner) and makes only the system calls that must be its
//! own (mask, session, dup2s, identity, directory), then execs; a bare
//! program name costs one `execve` per `PATH` entry tried.

use rustix::fd::{AsFd, AsRawFd, BorrowedFd};
use rustix::io::{self, Errno};

use crate::conf::{Pool, ServiceConf};
use crate::errno;
use crate::limits::{MAX_ARGS, MAX_ENV};
use crate::say::Buf;
use crate::service::{StartError, Step};
use crate::sys::{self, Fd};

/// The exit status of a child that could not exec (as a shell's 127); tend
/// reads the failed step and errno from the report pipe, not this.
const CHILD_NO_EXEC: i32 = 127;

/// The environment entry of [`DEFAULT_PATH`], NUL-ended.
const DEFAULT_PATH_ENV: &[u8] =
    b"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\0";
/// The `PATH` a service gets unless its `env` sets one (one copy of the
/// text: the value of [`DEFAULT_PATH_ENV`], without its NUL).
pub const DEFAULT_PATH: &[u8] = match DEFAULT_PATH_ENV.split_at(5).1.split_last() {
    Some((_, path)) => path,
    None => b"",
};

/// Where the child's descriptors 0–2 and its readiness fd come from.
pub struct Stdio<'a> {
    /// /dev/null, for stdin (and for output when the ring size is 0).
    pub null: BorrowedFd<'a>,
    /// The write end of the service's log pipe (None: /dev/null).
    pub log: Option<BorrowedFd<'a>>,
    /// The write end of the readiness pipe, for `ready = fd:N`.
    pub ready: Option<BorrowedFd<'a>>,
    /// The `listen` socket, for descriptor 3 (with `LISTEN_PID`, which the
    /// child writes itself).
    #[cfg(feature = "listen")]
    pub listen: Option<BorrowedFd<'a>>,
    /// An instance's connection, for stdin and stdout, and its peer's
    /// address (for the UCSPI environment).
    #[cfg(feature = "listen")]
    pub conn: Option<(BorrowedFd<'a>, &'a [u8; 28])>,
}

/// Entries the environment may have past the table's: `PATH`, and the
/// variables of `listen` (at most five, the UCSPI ones, or three).
const ENV_MORE: usize = 1 + if cfg!(feature = "listen") { 5 } else { 0 };

/// Room for the variables of `listen`: the UCSPI ones (an instance's), or
/// `LISTEN_FDS`, `LISTEN_FDNAMES` and `LISTEN_PID`.
#[cfg(feature = "listen")]
const LISTEN_ENV_BYTES: usize = 256;

/// Where the envp starts in the child's array of pointers: after the argv
/// and its null (one array: one fill).
const ENVP: usize = MAX_ARGS + 1;

/// A forked child whose exec is not confirmed yet.
pub struct Child {
    pub pid: i32,
    /// The read end of its close-on-exec report pipe (nonblocking): read it
    /// with [`read_report`] once it polls readable. None for an instance.
    pub report: Option<Fd>,
}

/// What a child's report pipe says.
#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(Debug))]
pub enum Report {
    /// Nothing yet: the child has neither exec'd nor failed.
    Pending,
    /// End-of-file without a report: the exec happened (or the child died
    /// before it, of a signal, which its exit status then shows).
    Execd,
    /// The step that failed, with its errno.
    Failed(StartError),
}

/// Forks the child of `conf`, which sets itself up and execs. Returns at
/// once, without waiting for the child to be scheduled; its report follows
/// through [`Child::report`].
pub fn spawn(pool: &Pool, conf: &ServiceConf, stdio: &Stdio<'_>) -> Result<Child, StartError> {
    // Nothing waits for an instance's exec (tend(8), SOCKETS): it has no
    // report pipe, and one that cannot exec just ends with status 127.
    #[cfg(feature = "listen")]
    let report = stdio.conn.is_none();
    #[cfg(not(feature = "listen"))]
    let report = true;
    let mut step = Step::Pipe;
    let forked = (|| {
        // Nonblocking on both ends: the loop must never wait on it, and the
        // child's one 4-byte write into an empty pipe cannot fill it.
        let pipe = match report {
            true => {
                let (r, mut w) = sys::pipe(
                    linux_raw_sys::general::O_CLOEXEC | linux_raw_sys::general::O_NONBLOCK,
                )?;
                // The child dup2s onto its ready fd; the report pipe must
                // not sit there.
                if let Some(n) = conf.ready_fd {
                    if w.raw() == i32::from(n) {
                        w = sys::dup_at_least(&w, i32::from(n) + 1)?;
                    }
                }
                Some((r, w))
            }
            false => None,
        };
        step = Step::Fork;
        match sys::fork()? {
            0 => {
                // The read end is left to the exec (close-on-exec): one
                // system call fewer before it.
                let (step, e) = child(pool, conf, stdio);
                let errno = errno::of(e).to_le_bytes();
                if let Some((_, w)) = &pipe {
                    let _ = io::write(w, &[step as u8, 0, errno[0], errno[1]]);
                }
                sys::exit_group(CHILD_NO_EXEC)
            }
            // Only the child holds the write end now (it drops here): its
            // exec (or exit) closes it.
            pid => Ok(Child {
                pid: pid as i32,
                report: pipe.map(|(r, _)| r),
            }),
        }
    })();
    forked.map_err(|e| StartError {
        step,
        errno: errno::of(e),
    })
}

/// Reads a child's report pipe without waiting. The child writes its 4-byte
/// report in one `write` (atomic, below `PIPE_BUF`), so one read sees all of
/// it or none.
pub fn read_report(fd: &Fd) -> Report {
    let mut report = [0u8; 4];
    loop {
        return match io::read(fd, &mut report) {
            Ok(4) => Report::Failed(StartError {
                step: Step::from_number(report[0]),
                errno: u16::from_le_bytes([report[2], report[3]]),
            }),
            Err(Errno::INTR) => continue,
            Err(Errno::AGAIN) => Report::Pending,
            // End-of-file; or a report cut short, or a pipe that cannot be
            // read, neither of which a child of ours makes: its exit status
            // tells the rest.
            Ok(_) | Err(_) => Report::Execd,
        };
    }
}

/// Runs in the child: returns only on failure, with the step that failed.
// Out of line: inlined into `spawn` it makes the binary bigger.
#[inline(never)]
fn child(pool: &Pool, conf: &ServiceConf, stdio: &Stdio<'_>) -> (Step, Errno) {
    if let Err(e) = set_up(conf, stdio) {
        return (Step::Setup, e);
    }
    // The table allows at most MAX_ARGS arguments and MAX_ENV entries
    // (tend.conf(5)), so these always have room for them, the default
    // PATH and the null pointers that end them.
    let mut ptrs = [core::ptr::null(); ENVP + MAX_ENV + ENV_MORE + 1];
    let mut program: &[u8] = b"";
    for (n, arg) in pool.strings(conf.argv).enumerate() {
        if n == 0 {
            program = arg;
        }
        if let Some(to) = ptrs.get_mut(n..MAX_ARGS).and_then(|a| a.first_mut()) {
            *to = arg.as_ptr();
        }
    }
    let mut path = DEFAULT_PATH;
    let mut n = 0;
    for var in pool.strings(conf.env) {
        if let Some(p) = crate::say::strip(var, b"PATH=") {
            path = p;
        }
        if let Some(to) = ptrs
            .get_mut(ENVP + n..ENVP + MAX_ENV)
            .and_then(|a| a.first_mut())
        {
            *to = var.as_ptr();
            n += 1;
        }
    }
    if path.as_ptr() == DEFAULT_PATH.as_ptr() {
        if let Some(to) = ptrs.get_mut(ENVP + n) {
            *to = DEFAULT_PATH_ENV.as_ptr();
        }
    }

    // The variables of `listen`, in the places left for them at the end
    // of the environment: an instance's (UCSPI), or those of the socket,
    // with `LISTEN_PID`, this child's pid, known only now.
    #[cfg(feature = "listen")]
    let mut more = Buf::<{ LISTEN_ENV_BYTES }>::new();
    #[cfg(feature = "listen")]
    {
        if let Some((conn, peer)) = stdio.conn {
            use crate::listen::{family, AF_UNIX};
            let mut local = [0u8; 28];
            // (No descriptor comes back: nothing to drop.)
            let _ = sys::sock_name(conn, &mut local, true).map(core::mem::forget);
            let cred = sys::peer_cred(conn).unwrap_or_default();
            let unix = family(peer) == AF_UNIX;
            crate::listen::ucspi_env(&mut more, unix, [peer, &local], cred);
        }
        if stdio.listen.is_some() {
            let me = rustix::process::getpid().as_raw_nonzero().get() as u64;
            more.s(b"LISTEN_FDS=1\0LISTEN_FDNAMES=")
                .s(&conf.name)
                .s(b"\0LISTEN_PID=")
                .u(me)
                .byte(0);
        }
        let mut vars = crate::say::split(more.as_bytes(), 0).filter(|v| !v.is_empty());
        // (At most ENV_MORE - 1 of them, beside at most MAX_ENV and PATH:
        // the last place stays null.)
        let free = ptrs.iter_mut().skip(ENVP);
        for (to, var) in free.filter(|p| p.is_null()).zip(&mut vars) {
            *to = var.as_ptr();
        }
    }
    if let Err(e) = set_identity(conf) {
        return e;
    }
    let dir = sys::c_str(pool.bytes(conf.chdir)).unwrap_or(c"/");
    if let Err(e) = rustix::process::chdir(dir) {
        return (Step::Chdir, e);
    }
    let (argv, envp) = ptrs.split_at(ENVP);
    (Step::Exec, exec(program, argv, envp, path))
}

/// The child's signal mask, session and descriptors.
fn set_up(conf: &ServiceConf, stdio: &Stdio<'_>) -> Result<(), Errno> {
    sys::set_signal_mask(sys::SigSet::EMPTY)?;
    sys::setsid()?;
    if !conf.console {
        let out = stdio.log.unwrap_or(stdio.null);
        #[allow(unused_mut)]
        let (mut input, mut output) = (stdio.null, out);
        #[cfg(feature = "listen")]
        if let Some((conn, _)) = stdio.conn {
            (input, output) = (conn, conn);
        }
        dup_onto(input, 0)?;
        dup_onto(output, 1)?;
        dup_onto(out, 2)?;
    } else {
        // A console service (getty, shell) wants it as controlling terminal.
        let _ = rustix::process::ioctl_tiocsctty(sys::stdin());
    }
    #[cfg(feature = "listen")]
    if let Some(socket) = stdio.listen {
        dup_onto(socket, 3)?;
    }
    if let (Some(n), Some(w)) = (conf.ready_fd, stdio.ready) {
        dup_onto(w, i32::from(n))?;
    }
    Ok(())
}

/// dup2 `fd` onto `target`; when it already is `target`, clear close-on-exec.
fn dup_onto(fd: BorrowedFd<'_>, target: i32) -> Result<(), Errno> {
    if fd.as_raw_fd() == target {
        return io::fcntl_setfd(fd, io::FdFlags::empty());
    }
    sys::dup2(fd.as_fd(), target)
}

fn set_identity(conf: &ServiceConf) -> Result<(), (Step, Errno)> {
    let id = &conf.ident;
    if id.uid.is_none() && id.gid.is_none() {
        return Ok(());
    }
    rustix::thread::set_thread_groups(sys::gids(&id.groups)).map_err(|e| (Step::Setgroups, e))?;
    if let Some(g) = id.gid {
        rustix::thread::set_thread_res_gid(
            rustix::process::Gid::from_raw(g),
            rustix::process::Gid::from_raw(g),
            rustix::process::Gid::from_raw(g),
        )
        .map_err(|e| (Step::Setgid, e))?;
    }
    if let Some(u) = id.uid {
        rustix::thread::set_thread_res_uid(
            rustix::process::Uid::from_raw(u),
            rustix::process::Uid::from_raw(u),
            rustix::process::Uid::from_raw(u),
        )
        .map_err(|e| (Step::Setuid, e))?;
    }
    Ok(())
}

/// execve the program, searching `path` for a bare name as execvp does:
/// the first error other than "not found" wins.
fn exec(program: &[u8], argv: &[*const u8], envp: &[*const u8], path: &[u8]) -> Errno {
    let mut buf = Buf::<256>::new();
    // A name with a slash is tried as it is: one round, with no directory.
    let slash = crate::say::has(program, b'/');
    let mut err = Errno::NOENT;
    for dir in crate::say::split(path, b':') {
        buf.clear();
        if !slash {
            buf.s(if dir.is_empty() { b"." } else { dir }).byte(b'/');
        }
        buf.s(program).byte(0);
        let candidate = match sys::c_str(buf.as_bytes()) {
            Some(c) if !buf.overflowed() => c,
            _ if slash => return Errno::NAMETOOLONG,
            _ => continue,
        };
        match sys::execve(candidate, argv, envp) {
            e if slash => return e,
            Errno::NOENT | Errno::NOTDIR => {}
            e => {
                if err == Errno::NOENT {
                    err = e;
                }
            }
        }
    }
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report_pipe() -> (Fd, Fd) {
        sys::pipe(linux_raw_sys::general::O_CLOEXEC | linux_raw_sys::general::O_NONBLOCK).unwrap()
    }

    #[test]
    fn a_report_is_pending_then_an_exec_or_a_failed_step() {
        // Nothing yet, the child holding the write end: pending.
        let (r, w) = report_pipe();
        assert_eq!(read_report(&r), Report::Pending);
        // The exec closed the write end without a word.
        drop(w);
        assert_eq!(read_report(&r), Report::Execd);
        // The child's report: the step, a pad byte, the errno (LE).
        let (r, w) = report_pipe();
        let errno = (linux_raw_sys::errno::ENOENT as u16).to_le_bytes();
        io::write(&w, &[Step::Exec as u8, 0, errno[0], errno[1]]).unwrap();
        drop(w);
        assert_eq!(
            read_report(&r),
            Report::Failed(StartError {
                step: Step::Exec,
                errno: linux_raw_sys::errno::ENOENT as u16
            })
        );
        // Every step survives the trip.
        let steps = core::iter::successors(Some(Step::Pipe), |s| s.next());
        for step in steps {
            let (r, w) = report_pipe();
            io::write(&w, &[step as u8, 0, 11, 0]).unwrap();
            assert_eq!(
                read_report(&r),
                Report::Failed(StartError { step, errno: 11 })
            );
        }
    }
}
