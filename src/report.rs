//! Every message tend writes, in one voice, and the exit statuses of every
//! command (tend(8), DIAGNOSTICS and EXIT STATUS).
//!
//! A message is `tend: WHAT` or, for something that failed, `tend: WHAT:
//! WHY` (`tend: cannot read /etc/tend.conf: no such file or directory`). It
//! goes to stderr — the console, when tend is PID 1 — and, from the
//! supervisor, into tend's own ring as well, without the `tend: `, so that
//! what scrolled past on a console can be read again with `tend log tend`.
//! A table's errors are `FILE:LINE: MESSAGE`, the same two ways. Client
//! commands have no ring: stderr only.

use rustix::fd::BorrowedFd;
use rustix::io::{self, Errno};

use crate::ring::Ring;
use crate::say::Buf;
use crate::sys;

pub use crate::exit::*;

/// tend's own ring and the time now, where a message is kept besides
/// stderr; `None` for a client, which has none.
pub type Own<'r> = Option<(&'r mut Ring<'static>, u64)>;

/// Writes one message: `prefix` and `parts` and a newline on stderr;
/// `parts` and the newline in `own`.
#[inline(never)]
pub fn line(own: Own<'_>, prefix: &[u8], parts: &[&[u8]]) {
    let mut msg = Buf::<512>::new();
    msg.s(prefix);
    let start = msg.len();
    for part in parts {
        msg.s(part);
    }
    msg.byte(b'\n');
    write_all(sys::stderr(), msg.as_bytes());
    if let Some((ring, now)) = own {
        ring.push(now, msg.as_bytes().get(start..).unwrap_or(&[]));
    }
}

/// `tend: PARTS…`
pub fn say(own: Own<'_>, parts: &[&[u8]]) {
    line(own, b"tend: ", parts);
}

/// `tend: WHAT DETAIL: WHY`, for a system call that failed with `e`.
pub fn failed(own: Own<'_>, what: &[u8], detail: &[u8], e: Errno) {
    say(own, &[what, detail, b": ", why(e)]);
}

/// What an errno means, in words (`no such file or directory`).
pub fn why(e: Errno) -> &'static [u8] {
    crate::errno::describe(crate::errno::of(e))
}

/// Writes all of `bytes` to a blocking descriptor (stdout, stderr), giving
/// up on errors: a broken console must never stop the supervisor.
pub fn write_all(fd: BorrowedFd<'_>, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        match io::write(fd, bytes) {
            Ok(n @ 1..) => bytes = bytes.get(n..).unwrap_or(&[]),
            Err(Errno::INTR) => {}
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_goes_into_the_ring_without_its_prefix() {
        // (Leaked: tend's own ring lives in 'static storage.)
        let buf: &'static mut [u8] = Box::leak(vec![0u8; 1024].into_boxed_slice());
        let ring = &mut Ring::new(buf);
        say(Some((&mut *ring, 1234)), &[b"cannot ", b"do it"]);
        failed(Some((&mut *ring, 1300)), b"poll", b"", Errno::INVAL);
        line(Some((&mut *ring, 1400)), b"", &[b"/etc/tend.conf:3: bad"]);
        say(None, &[b"a client's message has no ring"]);
        let mut pos = 0;
        let mut got = Vec::new();
        while let Some(l) = ring.read(&mut pos) {
            got.push((l.stamp_ms, [l.head, l.tail].concat()));
        }
        assert_eq!(
            got,
            [
                (1234, b"cannot do it\n".to_vec()),
                (
                    1300,
                    if cfg!(feature = "verbose") {
                        b"poll: invalid argument\n".to_vec()
                    } else {
                        b"poll: EINVAL\n".to_vec()
                    }
                ),
                (1400, b"/etc/tend.conf:3: bad\n".to_vec()),
            ]
        );
    }
}
