//! The syslog socket (tend.conf(5), `[tend]` section, `syslog`): a datagram
//! socket tend binds at start (see `setup`), and the loop's reading of it.
//! Each message goes into the ring of the service whose session sent it —
//! the kernel says which process sent it (`SO_PASSCRED`), never the
//! message's tag, and tend starts each service in a session of its own —
//! or else into the ring `syslog` (`tend log syslog`).

use rustix::fs::OFlags;
use rustix::io::Errno;
use rustix::process::Pid;

use crate::limits::{LINE_MAX_BYTES, SYSLOG_READ_BUDGET};
use crate::ring::Ring;
use crate::say::Buf;
use crate::slot::Slot;
use crate::sys::{self, Fd};

/// The kernel's `net.unix.max_dgram_qlen`: how many datagrams a Unix
/// socket made from now on may hold before its senders wait.
const QUEUE_KNOB: &core::ffi::CStr = c"/proc/sys/net/unix/max_dgram_qlen";
/// The queue tend's syslog socket gets (the kernel's default is 10).
const QUEUE: &[u8] = b"512";

/// The syslog socket, unbound, with a queue of [`QUEUE`] datagrams where
/// the kernel's default is less. With 10, a daemon that logs a burst waits
/// after its tenth message, and each message tend takes wakes it again: a
/// context switch a message, which costs tend more than filing it. The
/// queue is a socket's from its making, so the knob is raised for the one
/// `socket(2)` and set back at once; without root or /proc, the socket gets
/// the kernel's queue.
#[inline(never)]
pub fn socket(flags: u32) -> Result<Fd, Errno> {
    let knob = sys::open(QUEUE_KNOB, OFlags::RDWR | OFlags::CLOEXEC, 0);
    let mut was = [0u8; 12];
    // The queue to set back: none when it was not raised.
    let mut old: &[u8] = &[];
    if let Ok(k) = &knob {
        let n = rustix::io::read(k, &mut was).unwrap_or(0);
        let v = was.get(..n).unwrap_or(&[]).trim_ascii();
        if crate::say::parse_u64(v).is_some_and(|q| q < 512)
            && rustix::io::pwrite(k, QUEUE, 0).is_ok()
        {
            old = v;
        }
    }
    let fd = sys::unix_dgram_socket(flags);
    if let (Ok(k), false) = (&knob, old.is_empty()) {
        let _ = rustix::io::pwrite(k, old, 0);
    }
    fd
}

/// Reads what waits on the socket, at most [`SYSLOG_READ_BUDGET`] messages
/// (so that a flood cannot hold the loop), through `buf`, and files each.
/// True when the budget ran out with more waiting.
#[inline(never)]
pub fn read(
    fd: &Fd,
    slots: &mut [Slot<Fd>],
    other: &mut Ring<'static>,
    buf: &mut [u8],
    now: u64,
) -> bool {
    // The last sender and the service it is in: a flood from one process
    // costs one getsid(2), not one a message.
    let mut last: Option<(i32, Option<usize>)> = None;
    let mut line = Buf::<{ LINE_MAX_BYTES + 1 }>::new();
    let mut got = sys::Received::new();
    let part = buf.len() / sys::BATCH;
    for _ in 0..SYSLOG_READ_BUDGET / sys::BATCH {
        let n = match sys::recv_many(fd, buf, &mut got) {
            Ok(n) => n,
            Err(Errno::INTR) => continue,
            Err(_) => return false,
        };
        for i in 0..n {
            let (len, pid) = got.got(i);
            let got = buf.get(i * part..).unwrap_or(&[]);
            let got = got.get(..len.min(part)).unwrap_or(got);
            line.clear();
            let cut = crate::syslog::line(got, &mut line) + (len - got.len());
            line.byte(b'\n');
            let at = match last {
                Some((sender, at)) if sender == pid => at,
                _ => last.insert((pid, service_of(slots, pid))).1,
            };
            let ring = match at.and_then(|i| slots.get_mut(i)) {
                Some(s) => &mut s.ring,
                None => &mut *other,
            };
            // A message is a line of its own, even after output of the
            // service's not yet ended by a newline.
            ring.end_line();
            ring.push(now, line.as_bytes());
            ring.count_dropped(cut as u64);
        }
        if n < sys::BATCH {
            return false;
        }
    }
    true
}

/// The service in whose session `pid` runs, if it keeps a ring.
fn service_of(slots: &[Slot<Fd>], pid: i32) -> Option<usize> {
    let sid = rustix::process::getsid(Some(Pid::from_raw(pid)?))
        .ok()?
        .as_raw_nonzero()
        .get();
    slots
        .iter()
        .position(|s| s.svc.pid == sid && s.ring.capacity() > 0)
}
