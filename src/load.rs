//! Reading the table and the account files, and reporting a table's errors
//! as `FILE:LINE: message`.

use core::ffi::CStr;

use rustix::fs::OFlags;
use rustix::io::{self, Errno};

use crate::say::Buf;
use crate::shell::write_all;
use crate::sys;
use crate::table::{self, EtcAccounts};
use crate::world::World;

/// A path as a C string, in a caller's buffer.
pub fn c_path<'a>(path: &[u8], buf: &'a mut [u8; 256]) -> Option<&'a CStr> {
    sys::copy(buf.get_mut(..path.len())?, path);
    *buf.get_mut(path.len())? = 0;
    CStr::from_bytes_until_nul(buf)
        .ok()
        .filter(|c| c.to_bytes().len() == path.len())
}

/// Reads a whole file into `out`; EFBIG when it does not fit.
pub fn read_file<const N: usize>(path: &[u8], out: &mut Buf<N>) -> Result<(), Errno> {
    out.clear();
    let mut pbuf = [0u8; 256];
    let cpath = c_path(path, &mut pbuf).ok_or(Errno::NAMETOOLONG)?;
    let fd = sys::open(cpath, OFlags::RDONLY | OFlags::CLOEXEC, 0)?;
    let mut chunk = [0u8; 1024];
    loop {
        match io::read(&fd, &mut chunk) {
            Ok(0) => return Ok(()),
            Ok(n) => {
                out.s(chunk.get(..n).unwrap_or(&[]));
                if out.overflowed() {
                    return Err(Errno::FBIG);
                }
            }
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
}

/// Prints `tend: WHAT: WHY` on stderr.
pub fn complain(what: &[u8], detail: &[u8], e: Errno) {
    let mut msg = Buf::<384>::new();
    msg.s(b"tend: ")
        .s(what)
        .s(detail)
        .s(b": ")
        .s(crate::errno::describe(crate::errno::of(e)))
        .byte(b'\n');
    write_all(sys::stderr(), msg.as_bytes());
}

/// Loads the table at `path` into `world.table`, printing every error.
/// `root` prefixes /etc/passwd and /etc/group (for `tend check -r`).
/// Returns the number of errors (0: loaded).
pub fn load(world: &mut World, path: &[u8], root: &[u8]) -> usize {
    if let Err(e) = read_file(path, &mut world.conf_text) {
        complain(b"cannot read ", path, e);
        return 1;
    }
    let mut p = Buf::<256>::new();
    p.s(root).s(b"/etc/passwd");
    if read_file(p.as_bytes(), &mut world.passwd_text).is_err() {
        world.passwd_text.clear();
    }
    p.clear();
    p.s(root).s(b"/etc/group");
    if read_file(p.as_bytes(), &mut world.group_text).is_err() {
        world.group_text.clear();
    }
    let accounts = EtcAccounts {
        passwd: world.passwd_text.as_bytes(),
        group: world.group_text.as_bytes(),
    };
    let mut report = |line: u32, parts: &[&[u8]]| {
        let mut msg = Buf::<512>::new();
        msg.s(path).byte(b':').u(line.into()).s(b": ");
        for part in parts {
            msg.s(part);
        }
        msg.byte(b'\n');
        write_all(sys::stderr(), msg.as_bytes());
    };
    let errors = table::parse(
        world.conf_text.as_bytes(),
        &accounts,
        &mut world.table,
        &mut report,
    );
    // The table keeps its own copies: the texts are not needed any more, and
    // on a router their pages are better given back.
    world.conf_text.release();
    world.passwd_text.release();
    world.group_text.release();
    errors
}
