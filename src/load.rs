//! Reading the table and the account files, and reporting a table's errors
//! as `FILE:LINE: message`.

use core::ffi::CStr;

use rustix::fs::OFlags;
use rustix::io::{self, Errno};

use crate::limits::{ACCOUNTS_MAX_BYTES, TABLE_MAX_BYTES};
use crate::report;
use crate::say::Buf;
use crate::sys;
use crate::sys::Fd;
use crate::table::{self, EtcAccounts, Table};
use crate::world::{Scratch, World};

/// A path as a C string, in a caller's buffer.
pub fn c_path<'a>(path: &[u8], buf: &'a mut [u8; 256]) -> Option<&'a CStr> {
    crate::say::copy(buf.get_mut(..path.len())?, path);
    *buf.get_mut(path.len())? = 0;
    sys::c_str(buf).filter(|c| c.to_bytes().len() == path.len())
}

/// Opens `path` with `flags` (ENAMETOOLONG when it does not fit a C
/// string's buffer). Out of line where `keep` and `watchdog` call it too.
#[cfg_attr(any(feature = "keep", feature = "watchdog"), inline(never))]
pub fn open(path: &[u8], flags: OFlags) -> Result<Fd, Errno> {
    let mut pbuf = [0u8; 256];
    let cpath = c_path(path, &mut pbuf).ok_or(Errno::NAMETOOLONG)?;
    sys::open(cpath, flags, 0)
}

/// Reads a whole file into `out`; returns what it read, or EFBIG when the
/// file does not fit.
pub fn read_file<'a>(path: &[u8], out: &'a mut [u8]) -> Result<&'a [u8], Errno> {
    let fd = open(path, OFlags::RDONLY | OFlags::CLOEXEC)?;
    let mut len = 0;
    let mut one = [0u8; 1];
    loop {
        // Full: only the end of the file may come now, and a byte read
        // past `out` says it does not fit.
        let rest = match out.get_mut(len..) {
            Some(rest) if !rest.is_empty() => rest,
            _ => &mut one[..],
        };
        match io::read(&fd, rest) {
            Ok(0) => return Ok(out.get(..len).unwrap_or(&[])),
            Ok(_) if len >= out.len() => return Err(Errno::FBIG),
            Ok(n) => len += n,
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
}

/// Loads the table at `path` into `world.table`, printing every error
/// (and, for the supervisor, `keep`, keeping them in tend's own ring:
/// after a broken table, `tend log tend` in the rescue shell shows why).
/// `root` prefixes /etc/passwd and /etc/group (for `tend check -r`).
/// Returns the number of errors (0: loaded).
pub fn load(world: &mut World, path: &[u8], root: &[u8], keep: bool) -> usize {
    let now = sys::now_ms();
    let World {
        table,
        own,
        scratch,
        ..
    } = world;
    let error = &mut |prefix: &[u8], line: &[u8]| {
        report::line(keep.then_some((&mut *own, now)), prefix, &[line]);
    };
    // One copy of the reading with `reload`, which reads through it too;
    // without, the printing is inlined into it.
    #[cfg(feature = "reload")]
    let error: &mut dyn FnMut(&[u8], &[u8]) = error;
    read_with(scratch, path, root, table, error)
}

/// The file `root` then `path` (an account file) as read into `out`, or
/// nothing.
#[inline(never)]
fn read_etc<'b>(root: &[u8], path: &[u8], out: &'b mut [u8]) -> &'b [u8] {
    let mut p = Buf::<256>::new();
    p.s(root).s(path);
    read_file(p.as_bytes(), out).unwrap_or(&[])
}

/// Reads the table at `path` into `table` through `scratch`, resolving
/// users and groups from `root`/etc; each error goes to `error` as one
/// `FILE:LINE: message` (a file that cannot be read, as `cannot read
/// FILE: …` with the prefix `tend: `). Returns the number of errors.
#[cfg(feature = "reload")]
pub fn read_into(
    scratch: &mut Scratch,
    path: &[u8],
    root: &[u8],
    table: &mut Table<Fd>,
    error: &mut dyn FnMut(&[u8], &[u8]),
) -> usize {
    read_with(scratch, path, root, table, error)
}

/// [`read_into`], to `error` of any type.
fn read_with<E: FnMut(&[u8], &[u8]) + ?Sized>(
    scratch: &mut Scratch,
    path: &[u8],
    root: &[u8],
    table: &mut Table<Fd>,
    error: &mut E,
) -> usize {
    let (conf, accounts) = scratch.pages().split_at_mut(TABLE_MAX_BYTES);
    let (passwd, group) = accounts.split_at_mut(ACCOUNTS_MAX_BYTES);
    let conf = match read_file(path, conf) {
        Ok(text) => text,
        Err(e) => {
            let mut msg = Buf::<320>::new();
            msg.s(b"cannot read ").s(path).s(b": ").s(report::why(e));
            error(b"tend: ", msg.as_bytes());
            return 1;
        }
    };
    let passwd = read_etc(root, b"/etc/passwd", passwd);
    let group = read_etc(root, b"/etc/group", group);
    let accounts = EtcAccounts { passwd, group };
    let mut report = |line: u32, text: &[u8]| {
        let mut msg = Buf::<512>::new();
        msg.s(path).byte(b':').u(line.into()).s(b": ").s(text);
        error(b"", msg.as_bytes());
    };
    let errors = table::parse(conf, &accounts, table, &mut report);
    // The table keeps its own copies: the texts are not needed any more, and
    // on a router their pages are better given back.
    sys::release(scratch.pages());
    errors
}
