//! PID 1's own duties (tend(8)): the file systems every service expects,
//! the console on descriptors 0–2, the hostname, ctrl-alt-del as SIGINT, the
//! built-in rescue table, and the steps of an orderly shutdown (in the
//! order `ending` decides): every process told to go, then killed, disks
//! synced and unmounted, `reboot(2)`.
//!
//! None of it may end PID 1: every failure here is reported on the console
//! and passed over.

use core::ffi::CStr;

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::mount::{MountFlags, UnmountFlags};
use rustix::system::RebootCommand;

use crate::ending::Power;
use crate::load::{c_path, read_file};
use crate::report;
use crate::ring::Ring;
use crate::sys;

/// The table PID 1 runs when /etc/tend.conf is missing or broken: a shell on
/// the console, so a bad edit never bricks a device.
pub const RESCUE_TABLE: &[u8] =
    b"[rescue]\nrun = /bin/sh -l\nconsole = yes\nrestart = always\nstop-signal = HUP\nstop-timeout = 1s\n";

/// The file systems every service expects, in the order they are mounted:
/// for each, its mount point, its type and its options, each followed by a
/// NUL byte (one string, not a table of pointers); its flags are in
/// [`MOUNT_FLAGS`].
const MOUNTS: &[u8] = b"/proc\0proc\0\0\
/sys\0sysfs\0\0\
/dev\0devtmpfs\0mode=0755\0\
/dev/pts\0devpts\0gid=5,mode=0620,ptmxmode=0666\0\
/dev/shm\0tmpfs\0mode=1777\0\
/run\0tmpfs\0mode=0755\0\
/tmp\0tmpfs\0mode=1777\0";

/// The flags of each of [`MOUNTS`] (a byte each: they are all below 256).
const MOUNT_FLAGS: [u8; 7] = {
    const _: () = assert!(MountFlags::NOEXEC.bits() < 256 && MountFlags::NODEV.bits() < 256);
    const NOSUID: u8 = MountFlags::NOSUID.bits() as u8;
    let nodev = NOSUID | MountFlags::NODEV.bits() as u8;
    let noexec = NOSUID | MountFlags::NOEXEC.bits() as u8;
    let all = nodev | MountFlags::NOEXEC.bits() as u8;
    [all, all, NOSUID, noexec, nodev, nodev, nodev]
};

/// Which of [`MOUNTS`] is /dev: once it is mounted, the console can be
/// opened.
const DEV: usize = 2;

/// The next NUL-ended string of `rest`, which moves past it.
fn next_c_str(rest: &mut &'static [u8]) -> &'static CStr {
    let s = crate::sys::c_str(rest).unwrap_or(c"");
    *rest = rest.get(s.to_bytes_with_nul().len()..).unwrap_or(&[]);
    s
}

/// Which of [`MOUNTS`] are below /dev (the others are the root's).
const IN_DEV: core::ops::RangeInclusive<usize> = DEV + 1..=DEV + 2;

/// `path`, one of [`MOUNTS`], is a mount point: it lives on another device
/// than its parent, /dev for those [`IN_DEV`], else the root.
fn mounted(path: &CStr, in_dev: bool) -> bool {
    let parent = if in_dev { c"/dev" } else { c"/" };
    match (sys::dev_of(path), sys::dev_of(parent)) {
        (Some(a), Some(b)) => a != b,
        _ => false,
    }
}

/// Everything PID 1 does before it reads its table. Never fails.
pub fn early_setup(own: &mut Ring<'static>, now: u64) {
    let mut rest = MOUNTS;
    for (i, &flags) in MOUNT_FLAGS.iter().enumerate() {
        let flags = MountFlags::from_bits_retain(flags.into());
        let path = next_c_str(&mut rest);
        let fstype = next_c_str(&mut rest);
        let data = next_c_str(&mut rest);
        if !mounted(path, IN_DEV.contains(&i)) {
            let _ = rustix::fs::mkdir(path, Mode::from_raw_mode(0o755));
            if let Err(e) = rustix::mount::mount(fstype, path, fstype, flags, Some(data)) {
                let what = b"warning: cannot mount ";
                report::failed(Some((&mut *own, now)), what, path.to_bytes(), e);
            }
        }
        // Once /dev is there (mounted now or before), the console can be
        // opened: the warnings after it are seen.
        if i == DEV {
            console_on_stdio();
        }
    }
    // The kernel's pstore, where a panic's log waits for the next boot
    // (tend(8), KEPT EVIDENCE), when the kernel has one: its directory
    // exists in /sys only then. Quietly passed over otherwise. (Not found
    // mounted: nothing but PID 1 mounts it, once.)
    #[cfg(feature = "keep")]
    {
        let flags = MountFlags::from_bits_retain(MOUNT_FLAGS.first().map_or(0, |&f| f.into()));
        let pstore = c"pstore";
        let _ = rustix::mount::mount(pstore, c"/sys/fs/pstore", pstore, flags, Some(c""));
    }
    // ctrl-alt-del sends SIGINT to PID 1 instead of rebooting at once.
    let _ = rustix::system::reboot(RebootCommand::CadOff);
    set_hostname(own, now);
}

/// Points descriptors 0–2 at /dev/console unless 0 already is a terminal.
#[inline(never)]
fn console_on_stdio() {
    if rustix::termios::isatty(sys::stdin()) {
        return;
    }
    let Ok(console) = sys::open(
        c"/dev/console",
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        0,
    ) else {
        return;
    };
    for fd in 0..3 {
        let _ = sys::dup2(&console, fd);
    }
}

fn set_hostname(own: &mut Ring<'static>, now: u64) {
    let mut buf = [0u8; 256];
    let Ok(text) = read_file(b"/etc/hostname", &mut buf) else {
        return;
    };
    // Its first line.
    let end = text.iter().position(|&b| b == b'\n').unwrap_or(text.len());
    let name = text.get(..end).unwrap_or(b"").trim_ascii();
    if !name.is_empty() {
        if let Err(e) = rustix::system::sethostname(name) {
            let what = b"warning: cannot set the hostname";
            report::failed(Some((own, now)), what, b"", e);
        }
    }
}

/// Sends `sig` to every process but PID 1.
pub fn signal_everyone(sig: u32) {
    let _ = sys::kill_all(sig);
}

/// SIGKILL to every process but PID 1, and a reap of those already gone.
pub fn kill_everyone() {
    signal_everyone(linux_raw_sys::general::SIGKILL);
    while let Ok(Some(_)) = rustix::process::wait(rustix::process::WaitOptions::NOHANG) {}
}

/// `reboot(2)`: returns only if it failed.
pub fn reboot(power: Power) -> Result<(), Errno> {
    let cmd = match power {
        Power::Halt => RebootCommand::Halt,
        Power::Poweroff => RebootCommand::PowerOff,
        Power::Reboot => RebootCommand::Restart,
    };
    rustix::system::reboot(cmd)
}

/// Unmounts what /proc/mounts lists, newest first; what cannot be unmounted
/// (the root, busy file systems) is remounted read-only.
pub fn unmount_all(buf: &mut [u8]) {
    // Without the list, only the root is made read-only.
    let text = read_file(b"/proc/mounts", buf).unwrap_or(&[]);
    for line in crate::say::split(text, b'\n').rev() {
        let Some(point) = crate::say::split(line, b' ').nth(1) else {
            continue;
        };
        let mut pbuf = [0u8; 256];
        let Some(path) = c_path(point, &mut pbuf) else {
            continue;
        };
        match rustix::mount::unmount(path, UnmountFlags::empty()) {
            Ok(()) => {}
            Err(Errno::INVAL | Errno::NOENT) => {}
            Err(_) => {
                let _ = rustix::mount::mount_remount(path, MountFlags::RDONLY, c"");
            }
        }
    }
    let _ = rustix::mount::mount_remount(c"/", MountFlags::RDONLY, c"");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mount_point_is_on_another_device_than_its_parent() {
        for path in [c"/", c"/proc", c"/dev"] {
            let st = rustix::fs::stat(path).unwrap();
            assert_eq!(sys::dev_of(path), Some(st.st_dev as usize), "{path:?}");
        }
        assert_eq!(sys::dev_of(c"/no/such/file"), None);
        // (The host running the tests has /proc mounted.)
        assert!(mounted(c"/proc", false));
        assert!(!mounted(c"/no/such/dir", false));
    }

    #[test]
    fn every_mount_has_a_point_a_type_and_options() {
        let mut rest = MOUNTS;
        let mut points = Vec::new();
        for _ in MOUNT_FLAGS {
            let [point, fstype, data] = [(); 3].map(|()| next_c_str(&mut rest));
            assert!(!fstype.is_empty());
            points.push((point.to_bytes(), data.to_bytes()));
        }
        assert!(rest.is_empty(), "one flags entry per mount");
        for (i, (point, _)) in points.iter().enumerate() {
            assert_eq!(IN_DEV.contains(&i), point.starts_with(b"/dev/"));
        }
        assert_eq!(points[0], (&b"/proc"[..], &b""[..]));
        assert_eq!(points[DEV].0, b"/dev");
        assert_eq!(
            points[3],
            (&b"/dev/pts"[..], &b"gid=5,mode=0620,ptmxmode=0666"[..])
        );
        assert_eq!(points[6], (&b"/tmp"[..], &b"mode=1777"[..]));
    }
}
