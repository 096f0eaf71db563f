//! The watchdog device (tend(8), WATCHDOG): opened at start (or once a
//! oneshot has loaded its driver) with the
//! timeout tend asks for, fed by the loop while the device is healthy
//! (`watchdog` decides when), disarmed with the magic close character when
//! a `supervise` that is not PID 1 exits.

use rustix::fs::OFlags;

use crate::conf::Pool;
use crate::report;
use crate::ring::Ring;
use crate::say::Buf;
use crate::settings::Settings;
use crate::sys::{self, Fd};
use crate::watchdog::Feeder;

/// `WDIOC_SETTIMEOUT`: `_IOWR('W', 6, int)`, and `WDIOC_GETTIMEOUT`:
/// `_IOR('W', 7, int)` (Linux's watchdog API), as the architecture encodes
/// them (MIPS's read bit is not x86's).
use linux_raw_sys::ioctl::{WDIOC_GETTIMEOUT, WDIOC_SETTIMEOUT};

/// The open device and its feeding schedule.
pub struct Dog {
    pub fd: Fd,
    pub feeder: Feeder,
}

/// Opens the device the `[tend]` section names (without waiting: a FIFO
/// standing in for it with no reader is refused at once), asks the driver
/// for the timeout and reads back the one in force; feeds every third of
/// the shorter. A driver without the ioctls (or a FIFO standing in for the
/// device) is said once and fed every third of the timeout asked for.
/// `None` when there is no device or it cannot be opened: said when
/// `say`, as tend tries again later (each time a oneshot finishes).
// Out of line: its buffers are then not under the whole loop.
#[inline(never)]
pub fn open(
    settings: &Settings,
    pool: &Pool,
    own: &mut Ring<'static>,
    now: u64,
    say: bool,
) -> Option<Dog> {
    let path = Settings::path(pool, settings.watchdog);
    if path.is_empty() {
        return None;
    }
    let flags = OFlags::WRONLY | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = match crate::load::open(path, flags) {
        Ok(fd) => fd,
        Err(e) => {
            if say {
                report::failed(Some((own, now)), b"watchdog: cannot open ", path, e);
            }
            return None;
        }
    };
    let asked = u64::from(settings.watchdog_timeout_ms());
    // (At least a second: tend.conf(5), `watchdog-timeout`.)
    let secs = (asked / 1000) as i32;
    let in_force = sys::ioctl_int(&fd, WDIOC_SETTIMEOUT, secs)
        .and_then(|_| sys::ioctl_int(&fd, WDIOC_GETTIMEOUT, 0));
    let in_force_ms = match in_force {
        Ok(s @ 1..) => s as u64 * 1000,
        _ => u64::MAX,
    };
    let feeder = Feeder::new(asked.min(in_force_ms), now);
    if let Err(e) = in_force {
        // (At most 23 bytes: a timeout is a u32 of ms, a third of it at
        // most `16d13h`.)
        let mut every = Buf::<24>::new();
        every.s(b"): feeding every ").dur(feeder.every_ms);
        let parts: [&[u8]; 5] = [
            b"watchdog: ",
            path,
            b": cannot set its timeout (",
            report::why(e),
            every.as_bytes(),
        ];
        report::say(Some((own, now)), &parts);
    }
    Some(Dog { fd, feeder })
}

/// Feeds the watchdog when it is due at `now`.
pub fn feed(dog: &mut Dog, now: u64) {
    if dog.feeder.feed_now(now) {
        let _ = rustix::io::write(&dog.fd, b"\0");
    }
}

/// Disarms the watchdog before tend (not PID 1) exits: the magic close
/// character, then the close.
pub fn disarm(dog: Dog) {
    let _ = rustix::io::write(&dog.fd, b"V");
}
