//! The supervisor's side of the control socket, its door: accepting
//! clients, checking who they are (only root and tend's own user: README,
//! Commands), reading one request each and sending the reply as the client
//! drains it. Everything is non-blocking and every client has a deadline,
//! so a slow or hostile client can never stall the loop. What a reply says
//! is [`crate::reply`]'s.

use rustix::io::Errno;
use rustix::net::{self, RecvFlags, SendFlags};

use crate::limits::*;
use crate::proto;
use crate::reply::{Intent, Reply};
use crate::report::{self, EXIT_FAILED, EXIT_USAGE};
use crate::say::Buf;
use crate::status::View;
use crate::sys::{self, Fd};

/// One control client. In this order: what a client touches — its
/// descriptor and deadline, its request (short), its reply's job and the
/// start of its reply's buffer (a reply waits for the client to read once a
/// couple of KB are queued) — lies together, on two pages or three.
#[repr(C)]
pub struct Client {
    fd: Option<Fd>,
    deadline_ms: u64,
    input: Buf<REQUEST_MAX_BYTES>,
    reply: Reply,
}

impl Client {
    pub const fn new() -> Client {
        Client {
            fd: None,
            input: Buf::new(),
            reply: Reply::new(),
            deadline_ms: 0,
        }
    }

    /// Waiting to send: poll for POLLOUT.
    pub fn wants_write(&self) -> bool {
        !self.reply.queued().is_empty()
    }

    /// The time by which it must have finished its current phase (`None` for
    /// an idle follower).
    pub fn deadline(&self) -> Option<u64> {
        match (self.fd.is_some(), self.reply.idle_follower()) {
            (false, _) | (true, true) => None,
            (true, false) => Some(self.deadline_ms),
        }
    }

    fn drop_connection(&mut self) {
        self.fd = None;
        self.input.clear();
        self.reply.clear();
    }
}

impl Default for Client {
    fn default() -> Self {
        Self::new()
    }
}

/// The control socket's door. A spare descriptor is kept so that one
/// client still gets in when tend has run out of descriptors — `tend status`
/// is wanted then most of all. When even the spare is taken, the listener
/// rests out of the poll set for [`ACCEPT_REST_MS`] rather than wake tend in
/// a loop, and clients wait in the listen backlog.
pub struct Door {
    pub listener: Fd,
    spare: Option<Fd>,
    /// Until when it rests (0: it has not).
    rest_until: u64,
    /// The failure that made it rest was told; not again until an accept
    /// works.
    told: bool,
}

impl Door {
    /// A door at `listener`. Its spare is taken by the loop's first round
    /// ([`Door::restock`]), before it first polls the listener.
    pub fn new(listener: Fd) -> Door {
        Door {
            listener,
            spare: None,
            rest_until: 0,
            told: false,
        }
    }

    /// Takes a descriptor for the spare again once one is free.
    pub fn restock(&mut self, null: &Fd) {
        if self.spare.is_none() {
            if let Ok(fd) = sys::dup_at_least(null, 3) {
                // It replaces None: no drop code for it.
                core::mem::forget(self.spare.replace(fd));
            }
        }
    }

    /// Until when the listener stays out of the poll set, if it rests at
    /// `now`.
    pub fn resting(&self, now: u64) -> Option<u64> {
        (now < self.rest_until).then_some(self.rest_until)
    }
}

/// Accepts every pending connection; refuses strangers and, when every slot
/// is taken, evicts the client that has waited longest without a request.
/// Returns why accepting failed when the door starts to rest and that was
/// not told yet.
pub fn accept(door: &mut Door, clients: &mut [Client; MAX_CLIENTS], now: u64) -> Option<Errno> {
    loop {
        let fd = match sys::accept(
            &door.listener,
            linux_raw_sys::general::O_CLOEXEC | linux_raw_sys::general::O_NONBLOCK,
        ) {
            Ok(fd) => fd,
            Err(Errno::AGAIN) => return None,
            Err(Errno::INTR | Errno::CONNABORTED) => continue,
            Err(e) => {
                // Out of descriptors (or memory): give up the spare so this
                // client gets in, or rest when it is gone already.
                if let Some(spare) = door.spare.take() {
                    drop(spare);
                    continue;
                }
                door.rest_until = now.saturating_add(ACCEPT_REST_MS);
                let untold = !door.told;
                door.told = true;
                return untold.then_some(e);
            }
        };
        door.told = false;
        let me = rustix::process::geteuid().as_raw();
        if !matches!(sys::peer_uid(&fd), Ok(uid) if uid == 0 || uid == me) {
            refuse_stranger(&fd, me);
            continue;
        }
        let Some(c) = slot_for_newcomer(clients) else {
            let _ = net::send(
                &fd,
                b"\x01tend: busy: too many clients\n",
                SendFlags::DONTWAIT | SendFlags::NOSIGNAL,
            );
            continue;
        };
        c.drop_connection();
        // (It replaces None, the connection dropped just above: no drop
        // code for it.)
        core::mem::forget(c.fd.replace(fd));
        c.deadline_ms = now.saturating_add(CLIENT_REQUEST_TIMEOUT_MS);
    }
}

/// Tells a peer that is neither root nor tend's own user `me` why it is
/// refused (README, Commands).
// Out of line: its buffers are on the stack only while it refuses.
#[inline(never)]
fn refuse_stranger(fd: &Fd, me: u32) {
    let mut msg = Buf::<96>::new();
    msg.byte(EXIT_FAILED as u8)
        .s(b"tend: refused: only root and uid ")
        .u(me.into())
        .s(b" may control this supervisor\n");
    let _ = net::send(
        fd,
        msg.as_bytes(),
        SendFlags::DONTWAIT | SendFlags::NOSIGNAL,
    );
    // Take in what it sent, so closing does not reset the connection
    // before it reads the refusal; a bounded amount, so a client that keeps
    // sending cannot hold the loop here.
    let _ = net::shutdown(fd, net::Shutdown::Write);
    let mut sink = [0u8; 256];
    for _ in 0..16 {
        match net::recv(fd, &mut sink, RecvFlags::DONTWAIT) {
            Ok((n, _)) if n > 0 => {}
            _ => break,
        }
    }
}

/// A free slot; with every slot taken, the slot of the client that has been
/// stuck longest, one still sending its request or one not reading its
/// reply, so a flood of such clients cannot lock the operator out. `None`
/// when every client is busy being served.
fn slot_for_newcomer(clients: &mut [Client; MAX_CLIENTS]) -> Option<&mut Client> {
    // One walk: the first free slot, else the first of the stuck clients
    // with the earliest deadline.
    let mut stuck: Option<&mut Client> = None;
    for c in clients.iter_mut() {
        if c.fd.is_none() {
            return Some(c);
        }
        let waits = c.reply.awaits_request() || c.wants_write();
        if waits && stuck.as_ref().is_none_or(|s| c.deadline_ms < s.deadline_ms) {
            stuck = Some(c);
        }
    }
    stuck
}

/// Drops clients whose deadline passed.
pub fn expire(clients: &mut [Client; MAX_CLIENTS], now: u64) {
    for c in clients.iter_mut() {
        if c.deadline().is_some_and(|d| d <= now) {
            c.drop_connection();
        }
    }
}

/// The client's socket is readable (or hung up): take in request bytes;
/// once the request is whole, begin its reply. What the client asks tend
/// to do, if anything, for the loop to carry out. `pid1`: tend is PID 1.
#[inline(never)]
pub fn on_readable(c: &mut Client, view: &View<'_, Fd>, pid1: bool) -> Option<Intent> {
    let fd = c.fd.as_ref()?;
    let mut buf = [0u8; 512];
    // Its end (or an error) drops it; what comes after its request is
    // not read.
    let n = match net::recv(fd, &mut buf, RecvFlags::DONTWAIT) {
        Err(Errno::AGAIN | Errno::INTR) => return None,
        Ok((n, _)) if n > 0 => n,
        _ => {
            c.drop_connection();
            return None;
        }
    };
    if !c.reply.awaits_request() {
        return None;
    }
    c.input.s(buf.get(..n).unwrap_or(&[]));
    let request = match proto::frame(c.input.as_bytes()) {
        Ok(None) => return None,
        Ok(Some(len)) => {
            c.deadline_ms = view.now.saturating_add(CLIENT_REPLY_TIMEOUT_MS);
            proto::parse(c.input.as_bytes().get(..len).unwrap_or(&[]))
        }
        Err(why) => Err(why),
    };
    match request {
        Ok(req) => {
            let wall_ms = if req.utc { sys::wall_ms() } else { 0 };
            c.reply.begin(&req, view, pid1, wall_ms)
        }
        Err(why) => c.reply.refuse(EXIT_USAGE, b"bad request", why, b""),
    }
}

/// The whole reply to what the client asked, once the loop did it.
pub fn answer(c: &mut Client, code: i32, text: &[u8]) {
    c.reply.answer(code, text);
}

/// The services moved (`tend reload`); see [`Reply::remap`].
pub fn remap(c: &mut Client, map: &[Option<u8>]) {
    c.reply.remap(map);
}

/// What the client asked for failed when the loop carried it out: the
/// reply says so instead (`tend: WHAT: WHY`, exit status 1).
pub fn failed(c: &mut Client, what: &[u8], e: Errno) {
    c.reply.refuse(EXIT_FAILED, what, report::why(e), b"");
}

/// Produces as much of the reply as fits and sends what the socket takes.
pub fn pump(c: &mut Client, view: &View<'_, Fd>) {
    if c.fd.is_none() {
        return;
    }
    loop {
        c.reply.produce(view);
        let Some(fd) = c.fd.as_ref() else { return };
        if c.reply.queued().is_empty() {
            break;
        }
        match net::send(
            fd,
            c.reply.queued(),
            SendFlags::DONTWAIT | SendFlags::NOSIGNAL,
        ) {
            Ok(n) => {
                c.reply.sent(n);
                // Progress: a slow reader is not a stuck one.
                c.deadline_ms = view.now.saturating_add(CLIENT_REPLY_TIMEOUT_MS);
            }
            Err(Errno::AGAIN) => return,
            Err(Errno::INTR) => {}
            Err(_) => return c.drop_connection(),
        }
    }
    if c.reply.finished() {
        c.drop_connection();
    }
}

/// The socket's descriptor for poll, with whether to wait for POLLOUT.
pub fn poll_fd(c: &Client) -> Option<(&Fd, bool)> {
    c.fd.as_ref().map(|fd| (fd, c.wants_write()))
}
