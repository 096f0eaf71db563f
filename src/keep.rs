//! Evidence kept across reboots (tend(8), KEPT EVIDENCE): why the last boot
//! ended, its crash records and the tails of its rings, in the directory
//! `[tend] keep` names.
//!
//! The directory holds plain text, as `tend last-boot` shows it:
//! - `boot`: this boot's record. Its first line is how the boot ended —
//!   [`UNKNOWN`] until an end is recorded — then every service's last
//!   crash (its stamped lines under a stamped header), then, once an end
//!   is recorded, the last lines of tend's ring and of every service's.
//! - `last-boot`: the previous boot's `boot`, set aside when tend starts.
//! - `last-panic`: the panic and oops logs the kernel's pstore held at
//!   start, moved out of it (their last lines), when there were any.
//!
//! Each file is written whole as `.tmp`, synced and renamed over the old
//! one, so a reset in the middle of a write leaves the last whole record.
//! A record is made again from what tend holds each time: a crash is kept
//! as it is frozen, at most once a minute per service (flash wears).

use core::ffi::CStr;

use rustix::fs::{self, AtFlags, OFlags};
use rustix::io::Errno;

use crate::conf::Pool;
use crate::report::{self, write_all, EXIT_FAILED, EXIT_OK};
use crate::ring::Ring;
use crate::say::{Buf, Text};
use crate::settings::Settings;
use crate::sys::{self, Fd};
use crate::world::Slot;

/// How a boot ended when no end was recorded.
pub const UNKNOWN: &[u8] =
    b"unknown (no orderly end recorded: power loss, kernel panic or hardware reset)";
/// A service's crash is kept at most this often.
const CRASH_EVERY_MS: u64 = 60_000;
/// Bytes of each ring's tail kept at an end, and of each pstore log.
const TAIL_BYTES: usize = 1024;
/// (A panic's stack trace alone takes 2 KiB.)
const PSTORE_TAIL_BYTES: usize = 4096;
const _: () = assert!(PSTORE_TAIL_BYTES <= OUT_BYTES);
/// What a record is written through: room for the first line, a header
/// and a whole crash record or tail, a line longer than the tail's bytes
/// included (each is flushed after it).
const OUT_BYTES: usize = 4096;

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::CLOEXEC);
const READ_FLAGS: OFlags = OFlags::RDONLY.union(OFlags::CLOEXEC);

/// The directory, open.
pub struct Keep {
    dir: Fd,
    /// A failed write was said (once).
    said: bool,
    /// An end is recorded.
    ended: bool,
}

/// Opens the `keep` directory, sets the previous boot's record aside,
/// moves pstore's logs out, and starts this boot's record. `None` when
/// there is no `keep`, or it cannot be opened or written: said when
/// `say`, as tend tries again later (each time a oneshot finishes).
#[inline(never)]
pub fn open(
    settings: &Settings,
    pool: &Pool,
    own: &mut Ring<'static>,
    now: u64,
    say: bool,
) -> Option<Keep> {
    let path = Settings::path(pool, settings.keep);
    if path.is_empty() {
        return None;
    }
    let opened = crate::load::open(path, DIR_FLAGS);
    let mut keep = match opened {
        Ok(dir) => Keep {
            dir,
            said: false,
            ended: false,
        },
        Err(e) => {
            if say {
                report::failed(Some((own, now)), b"keep: cannot open ", path, e);
            }
            return None;
        }
    };
    let dir = &keep.dir;
    if let Err(Errno::NOENT) = fs::renameat(dir, c"boot", dir, c"last-boot") {
        // The previous boot kept nothing here: an older record is not its.
        let _ = fs::unlinkat(dir, c"last-boot", AtFlags::empty());
    }
    let _ = fs::unlinkat(dir, c"last-panic", AtFlags::empty());
    move_pstore(dir, c"/sys/fs/pstore");
    let first = keep.write(&mut [], own, &[UNKNOWN], false, now);
    first.then_some(keep)
}

/// Copies the last lines of each panic or oops log in pstore (mounted at
/// `pstore`) to
/// `last-panic`, then, once the copy is safe, removes the logs, so that
/// each is shown once.
#[inline(never)]
fn move_pstore(dir: &Fd, pstore: &CStr) {
    let Ok(store) = sys::open(pstore, DIR_FLAGS, 0) else {
        return;
    };
    let kept = write_whole(dir, c"last-panic", &mut |file| {
        let mut found = false;
        dmesg_logs(&store, &mut |name| {
            found = true;
            let Ok(log) = sys::openat(&store, name, READ_FLAGS, 0) else {
                return;
            };
            let mut tail = [0u8; PSTORE_TAIL_BYTES];
            let size = fs::fstat(&log).map_or(0, |st| st.st_size as u64);
            let from = size.saturating_sub(PSTORE_TAIL_BYTES as u64);
            let n = rustix::io::pread(&log, &mut tail, from).unwrap_or(0);
            let mut text = tail.get(..n).unwrap_or(&[]);
            if from > 0 {
                // From the first whole line.
                let first = text.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1);
                text = text.get(first..).unwrap_or(&[]);
            }
            file.out.s(b"pstore ").s(name.to_bytes()).s(b":\n");
            file.flush();
            // (The whole tail fits the buffer.)
            file.out.s(text);
            file.flush();
            // (Flushed with what follows.)
            // (Not `ends_with`: with the listen feature Rust 1.88, the MSRV,
            // leaves its bounds check in, a panic path.)
            if text.last() != Some(&b'\n') {
                file.out.byte(b'\n');
            }
        });
        found
    });
    if kept == Ok(true) {
        let _ = fs::seek(&store, fs::SeekFrom::Start(0));
        dmesg_logs(&store, &mut |name| {
            let _ = fs::unlinkat(&store, name, AtFlags::empty());
        });
    }
}

/// Writes the file `name` in `dir` whole: `.tmp` through a buffer, filled
/// by `fill`, then synced and renamed to `name` — unless `fill` says there
/// is nothing to keep (false, then `.tmp` stays). (Named so that link.ld
/// counts it as cold code.)
#[inline(never)]
fn write_whole(
    dir: &Fd,
    name: &CStr,
    fill: &mut dyn FnMut(&mut File<'_>) -> bool,
) -> Result<bool, Errno> {
    let mut out = Buf::<OUT_BYTES>::new();
    let mut file = File::create(dir, &mut out)?;
    if !fill(&mut file) {
        return Ok(false);
    }
    file.finish(dir, name)?;
    Ok(true)
}

/// Calls `each` with the name of every panic or oops log in pstore
/// (`dmesg-*`).
fn dmesg_logs(store: &Fd, each: &mut dyn FnMut(&CStr)) {
    let mut dents = [0u8; 1024];
    while let Ok(filled @ 1..) = sys::getdents(store, &mut dents) {
        let mut rest = dents.get(..filled).unwrap_or(&[]);
        // `struct linux_dirent64`: inode, offset, record length (u16),
        // type, then the NUL-ended name.
        while let Some(&[lo, hi]) = rest.get(16..18) {
            let len = usize::from(u16::from_ne_bytes([lo, hi]));
            let name = match rest.get(19..len) {
                Some(n @ [b'd', b'm', b'e', b's', b'g', b'-', ..]) => sys::c_str(n),
                _ => None,
            };
            rest = rest.get(len.max(1)..).unwrap_or(&[]);
            if let Some(name) = name {
                each(name);
            }
        }
    }
}

/// `.tmp`, being written through a buffer (the caller's: a `File` moves
/// without it).
struct File<'b> {
    fd: Fd,
    out: &'b mut Text,
    failed: Option<Errno>,
}

impl<'b> File<'b> {
    fn create(dir: &Fd, out: &'b mut Text) -> Result<File<'b>, Errno> {
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::CLOEXEC;
        Ok(File {
            fd: sys::openat(dir, c".tmp", flags, 0o600)?,
            out,
            failed: None,
        })
    }

    /// Writes out what the buffer holds, unless a write failed before.
    #[inline(never)]
    fn flush(&mut self) {
        let mut bytes = self.out.as_bytes();
        while !bytes.is_empty() && self.failed.is_none() {
            match rustix::io::write(&self.fd, bytes) {
                Ok(n) => bytes = bytes.get(n..).unwrap_or(&[]),
                Err(Errno::INTR) => {}
                Err(e) => self.failed = Some(e),
            }
        }
        self.out.clear();
    }

    /// Flushes, syncs and renames it to `name`: whole, or not at all.
    /// (Borrowed, not taken: a `File` taken by value is copied first.)
    fn finish(&mut self, dir: &Fd, name: &CStr) -> Result<(), Errno> {
        self.flush();
        if let Some(e) = self.failed {
            return Err(e);
        }
        fs::fsync(&self.fd)?;
        fs::renameat(dir, c".tmp", dir, name)?;
        // The rename itself on the disk.
        let _ = fs::fsync(dir);
        Ok(())
    }
}

impl Keep {
    /// Keeps the crash records frozen since the last write, unless each
    /// service's was kept less than a minute ago; when the next may be
    /// kept, if one waits. Nothing once an end is recorded: that record
    /// stands.
    #[inline(never)]
    pub fn crashes(
        &mut self,
        slots: &mut [Slot],
        own: &mut Ring<'static>,
        now: u64,
    ) -> Option<u64> {
        if self.ended {
            return None;
        }
        // The earliest a record waits for (none: u64::MAX).
        let mut due = u64::MAX;
        for crash in slots.iter().map(|s| &s.crash) {
            if !crash.recorded || crash.kept {
                continue;
            }
            let at = match crash.kept_at {
                0 => 0,
                at => at + CRASH_EVERY_MS,
            };
            due = due.min(at);
        }
        match due {
            u64::MAX => None,
            at if at <= now => {
                self.write(slots, own, &[UNKNOWN], false, now);
                // The writing code is cold (see link.ld): its pages go.
                crate::sys::drop_cold();
                None
            }
            at => Some(at),
        }
    }

    /// Writes this boot's record: how it ended (`end`'s parts make the
    /// first line), every crash record, and with `tails` the last lines of
    /// every ring; an end (`tails`) is final. Marks the crash records kept.
    /// A failure is said once.
    #[inline(never)]
    pub fn write(
        &mut self,
        slots: &mut [Slot],
        own: &mut Ring<'static>,
        end: &[&[u8]],
        tails: bool,
        now: u64,
    ) -> bool {
        self.ended |= tails;
        let written = write_whole(&self.dir, c"boot", &mut |file| {
            for part in end {
                file.out.s(part);
            }
            file.out.byte(b'\n');
            for slot in slots.iter().filter(|s| s.crash.recorded) {
                let crash = &slot.crash;
                file.out
                    .stamp(crash.at_ms)
                    .s(&slot.conf.name)
                    .s(b": crashed, ");
                crate::status::exit_words(file.out, crash.exit);
                file.out.s(b"; its last lines:\n").s(crash.text());
                file.flush();
            }
            if tails {
                file.tail(b"tend", own);
                for slot in slots.iter() {
                    file.tail(&slot.conf.name, &slot.ring);
                }
            }
            true
        });
        match written {
            Ok(_) => {
                for crash in slots.iter_mut().map(|s| &mut s.crash) {
                    if crash.recorded && !crash.kept {
                        crash.kept = true;
                        crash.kept_at = now.max(1);
                    }
                }
                true
            }
            Err(e) => {
                if !core::mem::replace(&mut self.said, true) {
                    report::failed(Some((own, now)), b"keep: cannot write ", b"boot", e);
                }
                false
            }
        }
    }
}

impl File<'_> {
    /// `NAME: its last lines:` and the ring's last [`TAIL_BYTES`].
    fn tail(&mut self, name: &[u8], ring: &Ring<'_>) {
        let start = self.out.len();
        self.out.s(name).s(b": its last lines:\n");
        if ring.render_tail(0, self.out, TAIL_BYTES) == 0 {
            // An empty ring: no header.
            let len = self.out.len();
            self.out.cut(start, len - start);
        }
        self.flush();
    }
}

/// `tend last-boot`, once the supervisor said where it keeps its records
/// (`dir`): the previous boot's record, then pstore's logs if it held any,
/// shown as `tend log` shows a service's bytes (tend(8), LOGS). Exit 1
/// when nothing was kept.
#[inline(never)]
pub fn show(dir: &[u8]) -> i32 {
    let shown = crate::load::open(dir, DIR_FLAGS).and_then(|d| {
        show_file(&d, c"last-boot")?;
        let _ = show_file(&d, c"last-panic");
        Ok(())
    });
    match shown {
        Ok(()) => EXIT_OK,
        Err(Errno::NOENT) => {
            let parts: [&[u8]; 3] = [
                b"last-boot: nothing kept in ",
                dir,
                b" from the previous boot",
            ];
            report::say(None, &parts);
            EXIT_FAILED
        }
        Err(e) => {
            report::failed(None, b"last-boot: cannot read ", dir, e);
            EXIT_FAILED
        }
    }
}

/// Copies the file `name` in `dir` to stdout, its control bytes shown as
/// `\xNN`.
fn show_file(dir: &Fd, name: &CStr) -> Result<(), Errno> {
    let fd = sys::openat(dir, name, READ_FLAGS, 0)?;
    let mut buf = [0u8; 1024];
    let mut at = 0;
    // Read again from the first byte not shown: a character cut by the
    // read's end is read whole by the next.
    while let Ok(n @ 1..) = rustix::io::pread(&fd, &mut buf, at) {
        let mut out = Buf::<{ 4 * 1024 }>::new();
        let took = out.shown(buf.get(..n).unwrap_or(&[]), &[], 0, n == buf.len());
        write_all(sys::stdout(), out.as_bytes());
        at += took.max(1) as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The last whole lines of each panic log go to `last-panic`, a log
    /// without a last newline gets one, and the logs go once copied.
    #[test]
    fn pstore_logs_move_to_last_panic() {
        let tmp = std::env::temp_dir().join(format!("tend-pstore-{}", std::process::id()));
        let (store, keep) = (tmp.join("store"), tmp.join("keep"));
        std::fs::create_dir_all(&store).unwrap();
        std::fs::create_dir_all(&keep).unwrap();
        let long: String = (0..1000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(store.join("dmesg-ramoops-0"), &long).unwrap();
        std::fs::write(store.join("dmesg-ramoops-1"), "oops").unwrap();
        std::fs::write(store.join("console-ramoops-0"), "kept\n").unwrap();
        let c = |p: &std::path::Path| std::ffi::CString::new(p.to_str().unwrap()).unwrap();
        move_pstore(&sys::open(&c(&keep), DIR_FLAGS, 0).unwrap(), &c(&store));
        let text = std::fs::read_to_string(keep.join("last-panic")).unwrap();
        let tail = &long[long.len() - 4096..];
        let tail = &tail[tail.find('\n').unwrap() + 1..];
        let want0 = format!("pstore dmesg-ramoops-0:\n{tail}");
        let want1 = "pstore dmesg-ramoops-1:\noops\n";
        assert!(
            text == format!("{want0}{want1}") || text == format!("{want1}{want0}"),
            "{text}"
        );
        let mut left: Vec<_> = std::fs::read_dir(&store)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["console-ramoops-0"]);
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn dmesg_logs_lists_each_panic_log_once() {
        let dir = std::env::temp_dir().join(format!("tend-keep-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["dmesg-ramoops-0", "dmesg-ramoops-1", "console-ramoops-0"] {
            std::fs::write(dir.join(name), "x\n").unwrap();
        }
        let path = std::ffi::CString::new(dir.to_str().unwrap()).unwrap();
        let store = sys::open(&path, DIR_FLAGS, 0).unwrap();
        let mut names = Vec::new();
        dmesg_logs(&store, &mut |n| names.push(n.to_str().unwrap().to_string()));
        names.sort();
        assert_eq!(names, ["dmesg-ramoops-0", "dmesg-ramoops-1"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
