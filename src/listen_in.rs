//! The shell of `listen` (tend(8), SOCKETS): binds a service's socket, and
//! accepts a connection of an `accept = yes` service and starts an
//! instance of `run` on it. (The supervisor's settle moves such a service,
//! which has no process of its own, through its machine.)

use rustix::io::Errno;

use crate::limits::ACCEPT_REST_MS;
use crate::listen::{self, Instances};
use crate::service::State;
use crate::sys::{self, Fd};
use crate::world::Slot;

/// A socket bound to `text` (a `listen` value the table checked),
/// close-on-exec; listening, with a backlog of 64, unless it is udp;
/// non-blocking when tend accepts on it.
#[inline(never)]
pub fn bind_to(text: &[u8], accept: bool) -> Result<Fd, Errno> {
    use linux_raw_sys::general::{O_CLOEXEC, O_NONBLOCK};
    use linux_raw_sys::net::{SOCK_DGRAM, SOCK_STREAM};
    // (Borrowed where it was made: not moved out of its `Option`.)
    let Some(a) = &listen::parse(text) else {
        return Err(Errno::INVAL);
    };
    let fd = if a.family == listen::AF_UNIX {
        // Mode 0666: the service checks who connects (UNIXREMOTEEUID).
        crate::setup::bind_at(text.get(5..).unwrap_or(&[]), false, 0o666)?
    } else {
        let kind = if a.dgram { SOCK_DGRAM } else { SOCK_STREAM };
        let fd = sys::socket_of(a.family.into(), kind | O_CLOEXEC | O_NONBLOCK)?;
        rustix::net::sockopt::set_socket_reuseaddr(&fd, true)?;
        sys::bind_raw(&fd, a.raw.get(..usize::from(a.len)).unwrap_or(&[]))?;
        if !a.dgram {
            rustix::net::listen(&fd, 64)?;
        }
        fd
    };
    // A service that accepts on it itself waits in accept(2).
    if !accept {
        rustix::fs::fcntl_setfl(&fd, rustix::fs::OFlags::empty())?;
    }
    Ok(fd)
}

/// Accepts a connection on the service's socket: the connection, and in
/// `peer` the peer's address (a `sockaddr_in6`'s room: of a unix peer's,
/// cut short, only the family is read).
/// When accept(2) fails for want of descriptors or memory, the connection
/// waits in the backlog and the socket rests [`ACCEPT_REST_MS`], as the
/// control socket does.
pub fn accept(slot: &mut Slot, peer: &mut [u8; 28], now: u64) -> Option<Fd> {
    let conn = match sys::sock_name(slot.socket.as_ref()?, peer, false) {
        Ok(conn) => conn?,
        Err(Errno::AGAIN | Errno::INTR | Errno::CONNABORTED) => return None,
        Err(_) => {
            slot.rest_until = now.saturating_add(ACCEPT_REST_MS);
            return None;
        }
    };
    Some(conn)
}

/// Whether tend accepts on the service's socket now: it is an `accept =
/// yes` one, up, not resting, and below its `instances` and the room of
/// the instance table. The socket then.
#[inline(never)]
pub fn ready_socket<'s>(slot: &'s Slot, inst: &Instances, now: u64) -> Option<&'s Fd> {
    let open = slot.conf.accept
        && slot.svc.state == State::Up
        && slot.instances < slot.conf.instances
        && slot.rest_until <= now;
    slot.socket.as_ref().filter(|_| open && inst.room())
}

/// An instance ended: its service has one fewer. False when `pid` was no
/// instance.
pub fn reaped(inst: &mut Instances, slots: &mut [Slot], pid: i32) -> bool {
    let Some(id) = inst.reaped(pid) else {
        return false;
    };
    if let Some(slot) = slots.get_mut(id.index()) {
        slot.instances = slot.instances.saturating_sub(1);
    }
    true
}

/// A service's socket is kept while it is to run again: not once it is
/// stopping, stopped, failed, held or done.
pub fn keeps_socket(state: State) -> bool {
    use State as S;
    matches!(
        state,
        S::Down | S::Forked | S::Starting | S::Up | S::Ready | S::Restarting | S::Backoff
    )
}
