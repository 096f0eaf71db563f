//! The fenced module of raw system calls: the few calls rustix does not offer
//! publicly (fork, execve, exit_group, sigprocmask, signalfd, kill of any
//! signal number), and the ones whose rustix forms keep a panic path alive:
//! every call that creates a descriptor (rustix's `OwnedFd` asserts it is not
//! -1, which the compiler cannot prove on 64-bit targets — see [`Fd`]),
//! `clock_gettime` (rustix goes through the vDSO, with asserts) and
//! `SO_PEERCRED` (rustix asserts the length), and `bind`/`connect` to a
//! Unix socket path (rustix's `SocketAddrUnix::new` indexes the path array,
//! a bounds check that survives `opt-level = "z"`).
//!
//! # Inventory of unsafe operations
//! - `arch::syscall6` (and `arch::syscall3`, for calls that read at most
//!   three arguments): inline assembly entering the kernel. Every caller below
//!   passes arguments of the types and lengths the kernel expects for that
//!   call number, listed at each call.
//! - `fork`: `clone(SIGCHLD)` without a new stack. Sound because tend is
//!   single-threaded: the child gets a copy of the only thread, and runs only
//!   plain system calls until it execs or exits.
//! - `execve`: pointers to NUL-terminated strings and null-terminated arrays
//!   that outlive the call (the kernel copies them).
//! - `exit_group`: never returns.
//! - `rt_sigprocmask`, `signalfd4`, `clock_gettime`, `getsockopt`, `pipe2`,
//!   `newfstatat` (`fstatat64`: into `MaybeUninit` room larger than the
//!   structure, of which only the first word is read, once written),
//!   `openat`, `getdents64`, `bind`, `connect`, `recvmmsg`, `getsockname`,
//!   `accept4` (with an address), `ioctl` (of one `int`):
//!   plain-old-data buffers or C strings owned by the caller, of the exact
//!   size passed.
//! - `madvise(MADV_DONTNEED)` in [`drop_cold`]: only the pages of the cold
//!   code's own read-only mapping, which are read back from the file, and
//!   stack pages below every live frame.
//! - `madvise(MADV_DONTNEED)` in [`release`]: only whole pages inside a
//!   buffer the caller borrows mutably; they read back as zeros (tend's
//!   statics are private anonymous memory), and any value is a valid `u8`.
//!   In [`release_table`]: only whole pages of an empty table, which zeros
//!   leave as it is (its storage is `MaybeUninit`, its lengths 0).
//! - `socket`, `accept4`, `fcntl`, `dup3`, `kill`, `close_range`: no
//!   pointers; descriptors are owned by [`Fd`] values, closed once on drop.
//! - `mem::zeroed` in [`Received::new`]: of `recvmmsg`'s headers, integers
//!   and raw pointers, for which zero bytes are valid (null pointers).
//! - `slice::from_raw_parts` in [`gids`]: the same slice, of a
//!   `repr(transparent)` type over its element type.
//! - `CStr::from_bytes_with_nul_unchecked` in [`c_str`]: on a slice that
//!   ends with its first NUL byte, which it has just found.
//! - `hint::assert_unchecked` in [`Fd::raw`]: that the number is not
//!   negative, as every `Fd` is made masked below 2^31.
//! - `BorrowedFd::borrow_raw`: for [`Fd`] (open while the value lives) and for
//!   descriptors 0–2, which tend never closes.
#![allow(unsafe_code)]

mod arch;
pub mod arena;

use core::ffi::CStr;
use core::mem::size_of;
use core::sync::atomic::{AtomicUsize, Ordering};
use linux_raw_sys::general as nr;
use rustix::fd::{AsFd, AsRawFd, BorrowedFd};
use rustix::io::Errno;

/// A set of signals, as the kernel's 64-bit `sigset_t` (bit `n-1` for
/// signal `n`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SigSet(pub u64);

impl SigSet {
    pub const EMPTY: SigSet = SigSet(0);
    pub const fn with(self, sig: u32) -> SigSet {
        SigSet(self.0 | (1u64 << (sig - 1)))
    }
}

fn check(ret: isize) -> Result<usize, Errno> {
    if (-4095..0).contains(&ret) {
        Err(Errno::from_raw_os_error(-ret as i32))
    } else {
        Ok(ret as usize)
    }
}

/// `clone(SIGCHLD, 0)`—the classic `fork(2)`: the child's pid in the
/// parent, 0 in the child.
pub fn fork() -> Result<u32, Errno> {
    // SAFETY: no new stack, no shared memory (see the inventory): with one
    // thread this is fork(2). The flags word is SIGCHLD so the parent is told.
    let ret =
        check(unsafe { arch::syscall6(nr::__NR_clone, [nr::SIGCHLD as usize, 0, 0, 0, 0, 0]) })?;
    Ok(ret as u32)
}

/// `execve(2)`: returns only on failure, with the error.
///
/// `argv` and `envp` must end with a null pointer; every other entry must
/// point to a NUL-terminated string.
pub fn execve(path: &CStr, argv: &[*const u8], envp: &[*const u8]) -> Errno {
    if argv.last().is_none_or(|p| !p.is_null()) || envp.last().is_none_or(|p| !p.is_null()) {
        return Errno::INVAL;
    }
    // SAFETY: both arrays are null-terminated (checked above) and their
    // entries point at NUL-terminated strings that outlive the call.
    let ret = unsafe {
        arch::syscall3(
            nr::__NR_execve,
            [
                path.as_ptr() as usize,
                argv.as_ptr() as usize,
                envp.as_ptr() as usize,
            ],
        )
    };
    match check(ret) {
        Err(e) => e,
        Ok(_) => Errno::INVAL,
    }
}

/// Group numbers as rustix's `Gid`s, in place (not copied one by one).
pub fn gids(groups: &[u32]) -> &[rustix::process::Gid] {
    const _: () = assert!(size_of::<rustix::process::Gid>() == size_of::<u32>());
    // SAFETY: `Gid` is `repr(transparent)` over the `u32` `gid_t` (as
    // asserted): the same size, alignment and valid values, so the same
    // slice.
    unsafe { core::slice::from_raw_parts(groups.as_ptr().cast(), groups.len()) }
}

/// `setsid(2)`: a new session and process group, led by this process.
pub fn setsid() -> Result<(), Errno> {
    // SAFETY: no arguments.
    check(unsafe { arch::syscall3(nr::__NR_setsid, [0, 0, 0]) }).map(drop)
}

/// `prctl(PR_SET_CHILD_SUBREAPER, 1)`: orphans below this process are
/// reparented to it, not to PID 1.
pub fn set_child_subreaper() -> Result<(), Errno> {
    const PR_SET_CHILD_SUBREAPER: usize = 36;
    // SAFETY: no pointer arguments.
    check(unsafe { arch::syscall3(nr::__NR_prctl, [PR_SET_CHILD_SUBREAPER, 1, 0]) }).map(drop)
}

/// `exit_group(2)`.
pub fn exit_group(code: i32) -> ! {
    loop {
        // SAFETY: ends the process; no pointer arguments.
        unsafe { arch::syscall3(nr::__NR_exit_group, [code as usize, 0, 0]) };
    }
}

/// The kernel's `sigset_t`: `_NSIG` bits (64; 128 on MIPS) in `unsigned
/// long` words, signal n at bit (n-1) % word of word (n-1) / word — so on
/// a 32-bit big-endian machine the 64-bit [`SigSet`] is two words, its low
/// half first, not the u64's bytes.
type KernelSigSet = [usize; nr::_NSIG as usize / usize::BITS as usize];

fn kernel_sigset(set: SigSet) -> KernelSigSet {
    let mut words = [0; nr::_NSIG as usize / usize::BITS as usize];
    words[0] = set.0 as usize;
    if usize::BITS == 32 {
        if let Some(high) = words.get_mut(1) {
            *high = (set.0 >> 32) as usize;
        }
    }
    words
}

/// `rt_sigprocmask(SIG_SETMASK, set)`: replaces the blocked-signal mask.
pub fn set_signal_mask(set: SigSet) -> Result<(), Errno> {
    let mask = kernel_sigset(set);
    // SAFETY: `mask` is a kernel sigset that lives across the call; the old
    // set pointer is null; the size is the kernel's sigset size.
    let ret = unsafe {
        arch::syscall6(
            nr::__NR_rt_sigprocmask,
            [
                nr::SIG_SETMASK as usize,
                mask.as_ptr() as usize,
                0,
                size_of::<KernelSigSet>(),
                0,
                0,
            ],
        )
    };
    check(ret).map(drop)
}

/// An owned file descriptor, closed on drop.
///
/// rustix's own `OwnedFd` asserts, each time it is made or borrowed, that it
/// is not -1, and on 64-bit targets the compiler cannot prove that away: a
/// panic path in every call. `Fd` holds a number below 2^31 by construction,
/// so its borrow has no assert. Every descriptor tend opens is an `Fd`, made
/// by the calls below.
pub struct Fd(u32);

impl Fd {
    /// Takes ownership of a descriptor number a system call just returned.
    fn from_ret(ret: usize) -> Fd {
        Fd(ret as u32 & 0x7fff_ffff)
    }

    pub fn raw(&self) -> i32 {
        let fd = self.0 as i32;
        // SAFETY: `from_ret`, the only maker of an `Fd`, masks the number
        // below 2^31: it is never negative (so never -1, which rustix's
        // borrow asserts against), and the compiler is told so here rather
        // than made to mask it again at every use.
        unsafe { core::hint::assert_unchecked(fd >= 0) };
        fd
    }

    /// Gives the descriptor up without closing it (it stays open for the
    /// life of the process). Returns true, for use in conditions.
    pub fn leak(self) -> bool {
        core::mem::forget(self);
        true
    }
}

impl AsFd for Fd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the descriptor is open while `self` lives (closed only on
        // drop), and masked to be non-negative, so never -1.
        unsafe { BorrowedFd::borrow_raw(self.raw()) }
    }
}

impl Drop for Fd {
    #[inline(never)]
    fn drop(&mut self) {
        // SAFETY: closes the descriptor this value owns; nothing else refers
        // to it once the owner is gone.
        unsafe { arch::syscall3(nr::__NR_close, [self.raw() as usize, 0, 0]) };
    }
}

/// The C string at the start of `bytes` (up to its first NUL byte), found
/// without core's `CStr::from_bytes_until_nul`, whose memchr costs 400
/// bytes of code for these few short strings.
#[inline(never)]
pub fn c_str(bytes: &[u8]) -> Option<&CStr> {
    let n = bytes.iter().position(|&b| b == 0)?;
    let with_nul = bytes.get(..=n)?;
    // SAFETY: `with_nul` ends with a NUL byte, its only one.
    Some(unsafe { CStr::from_bytes_with_nul_unchecked(with_nul) })
}

/// `openat(AT_FDCWD, path, flags, mode)`.
pub fn open(path: &CStr, flags: rustix::fs::OFlags, mode: u32) -> Result<Fd, Errno> {
    openat_raw(nr::AT_FDCWD, path, flags, mode)
}

/// `openat(dir, path, flags, mode)`.
pub fn openat(
    dir: impl AsFd,
    path: &CStr,
    flags: rustix::fs::OFlags,
    mode: u32,
) -> Result<Fd, Errno> {
    openat_raw(dir.as_fd().as_raw_fd(), path, flags, mode)
}

#[inline(never)]
fn openat_raw(dir: i32, path: &CStr, flags: rustix::fs::OFlags, mode: u32) -> Result<Fd, Errno> {
    // SAFETY: `path` is NUL-terminated and lives across the call.
    let ret = unsafe {
        arch::syscall6(
            nr::__NR_openat,
            [
                dir as isize as usize,
                path.as_ptr() as usize,
                flags.bits() as usize,
                mode as usize,
                0,
                0,
            ],
        )
    };
    check(ret).map(Fd::from_ret)
}

/// `getdents64(fd, buf)`: directory entries into `buf`, as the kernel's
/// `struct linux_dirent64` records; the bytes filled (0 at the end).
/// (rustix's `RawDir` reads a name with `strlen` and indexes its buffer.)
pub fn getdents(fd: impl AsFd, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: `buf` is writable for its length, which is passed.
    let ret = unsafe {
        arch::syscall3(
            nr::__NR_getdents64,
            [
                fd.as_fd().as_raw_fd() as usize,
                buf.as_mut_ptr() as usize,
                buf.len(),
            ],
        )
    };
    check(ret)
}

/// The device the file at `path` lives on (`st_dev` of its `stat`; on a
/// 32-bit target, its low word), None if it cannot be stat'ed: rustix's
/// `stat` returns the whole structure (through `statx` and a conversion
/// on 32-bit targets) where only this is wanted.
pub fn dev_of(path: &CStr) -> Option<usize> {
    #[cfg(target_pointer_width = "64")]
    const STAT_AT: u32 = nr::__NR_newfstatat;
    #[cfg(target_pointer_width = "32")]
    const STAT_AT: u32 = nr::__NR_fstatat64;
    // Room for the largest of the targets' `struct stat` (x86_64's 144
    // bytes) and `struct stat64`; each starts with `st_dev` (a `long long`
    // on 32-bit ARM, a `long` elsewhere).
    let mut st = core::mem::MaybeUninit::<[usize; 192 / size_of::<usize>()]>::uninit();
    // SAFETY: `path` is NUL-terminated and `st` is writable for more than
    // the structure the kernel writes; both live across the call.
    let ret = unsafe {
        arch::syscall6(
            STAT_AT,
            [
                nr::AT_FDCWD as usize,
                path.as_ptr() as usize,
                st.as_mut_ptr() as usize,
                0,
                0,
                0,
            ],
        )
    };
    check(ret).ok()?;
    // SAFETY: the call succeeded, so the kernel wrote the structure, whose
    // first word is (the low word of) `st_dev`.
    Some(unsafe { st.as_ptr().cast::<usize>().read() })
}

/// `pipe2(fds, flags)`: `(read end, write end)`.
pub fn pipe(flags: u32) -> Result<(Fd, Fd), Errno> {
    let mut fds = [0i32; 2];
    // SAFETY: `fds` has room for the two descriptors the kernel writes.
    let ret = unsafe {
        arch::syscall3(
            nr::__NR_pipe2,
            [fds.as_mut_ptr() as usize, flags as usize, 0],
        )
    };
    check(ret)?;
    Ok((Fd::from_ret(fds[0] as usize), Fd::from_ret(fds[1] as usize)))
}

/// `socket(AF_UNIX, SOCK_STREAM | flags, 0)`.
pub fn unix_socket(flags: u32) -> Result<Fd, Errno> {
    socket(linux_raw_sys::net::SOCK_STREAM | flags)
}

/// `socket(AF_UNIX, SOCK_DGRAM | flags, 0)`.
pub fn unix_dgram_socket(flags: u32) -> Result<Fd, Errno> {
    socket(linux_raw_sys::net::SOCK_DGRAM | flags)
}

fn socket(kind: u32) -> Result<Fd, Errno> {
    socket_of(linux_raw_sys::net::AF_UNIX, kind)
}

/// `socket(family, kind, 0)`.
#[inline(never)]
pub fn socket_of(family: u32, kind: u32) -> Result<Fd, Errno> {
    // SAFETY: no pointer arguments.
    let ret = unsafe { arch::syscall3(nr::__NR_socket, [family as usize, kind as usize, 0]) };
    check(ret).map(Fd::from_ret)
}

/// `bind(2)` to the socket address `addr` (a `sockaddr_in` or
/// `sockaddr_in6`, whole).
#[cfg(feature = "listen")]
pub fn bind_raw(fd: impl AsFd, addr: &[u8]) -> Result<(), Errno> {
    // SAFETY: `addr` is readable for its length, which is passed.
    let ret = unsafe {
        arch::syscall3(
            nr::__NR_bind,
            [
                fd.as_fd().as_raw_fd() as usize,
                addr.as_ptr() as usize,
                addr.len(),
            ],
        )
    };
    check(ret).map(drop)
}

/// `accept4(fd, addr, &len, SOCK_CLOEXEC)` (`local`: `getsockname(fd,
/// addr, &len)`, and no descriptor): the peer's (or the local) address
/// goes into `addr`, cut to its size.
#[cfg(feature = "listen")]
pub fn sock_name(fd: impl AsFd, addr: &mut [u8], local: bool) -> Result<Option<Fd>, Errno> {
    sock_name_of(fd.as_fd().as_raw_fd(), addr, local)
}

/// [`sock_name`] of a descriptor number: one copy of the call whatever
/// descriptor type its callers hold.
#[cfg(feature = "listen")]
#[inline(never)]
fn sock_name_of(fd: i32, addr: &mut [u8], local: bool) -> Result<Option<Fd>, Errno> {
    let mut len = addr.len() as u32;
    let call = if local {
        nr::__NR_getsockname
    } else {
        nr::__NR_accept4
    };
    // SAFETY: `addr` is writable for `len` bytes, and `len` lives across
    // the call; the kernel writes at most that much.
    let ret = unsafe {
        arch::syscall6(
            call,
            [
                fd as usize,
                addr.as_mut_ptr() as usize,
                &mut len as *mut u32 as usize,
                nr::O_CLOEXEC as usize,
                0,
                0,
            ],
        )
    };
    let ret = check(ret)?;
    Ok((!local).then(|| Fd::from_ret(ret)))
}

/// `accept4(fd, NULL, NULL, flags)`.
pub fn accept(fd: impl AsFd, flags: u32) -> Result<Fd, Errno> {
    // SAFETY: null address pointers: the peer's address is not wanted.
    let ret = unsafe {
        arch::syscall6(
            nr::__NR_accept4,
            [fd.as_fd().as_raw_fd() as usize, 0, 0, flags as usize, 0, 0],
        )
    };
    check(ret).map(Fd::from_ret)
}

/// A Unix socket address: the path, short enough for `sun_path` with its
/// NUL. The `sockaddr_un` is made only by the call that passes it: a
/// short value to return and move, where the whole structure (110 bytes)
/// was copied at each step.
pub struct UnixAddr<'a> {
    path: &'a [u8],
}

/// The address of the socket at `path`; `NAMETOOLONG` when it does not fit
/// `sun_path` with its NUL.
pub fn unix_addr(path: &CStr) -> Result<UnixAddr<'_>, Errno> {
    let path = path.to_bytes();
    if path.len() >= 108 {
        return Err(Errno::NAMETOOLONG);
    }
    Ok(UnixAddr { path })
}

#[inline(never)]
fn sock_call(call: u32, fd: i32, addr: &UnixAddr<'_>) -> Result<(), Errno> {
    let mut sa = linux_raw_sys::net::sockaddr_un {
        sun_family: linux_raw_sys::net::AF_UNIX as _,
        sun_path: [0; 108],
    };
    for (dst, &src) in sa.sun_path.iter_mut().zip(addr.path) {
        *dst = src as _;
    }
    // SAFETY: `sa` is a whole `sockaddr_un` that lives across the call; the
    // length passed is at most its size (unix_addr keeps the path and its
    // NUL inside sun_path).
    let ret = unsafe {
        arch::syscall3(
            call,
            [
                fd as usize,
                &sa as *const _ as usize,
                size_of::<u16>() + addr.path.len() + 1,
            ],
        )
    };
    check(ret).map(drop)
}

/// `bind(2)` to a Unix socket address.
pub fn bind(fd: impl AsFd, addr: &UnixAddr<'_>) -> Result<(), Errno> {
    sock_call(nr::__NR_bind, fd.as_fd().as_raw_fd(), addr)
}

/// `connect(2)` to a Unix socket address.
pub fn connect(fd: impl AsFd, addr: &UnixAddr<'_>) -> Result<(), Errno> {
    sock_call(nr::__NR_connect, fd.as_fd().as_raw_fd(), addr)
}

/// Gives the whole pages inside `buf` back to the kernel: they stop counting
/// in tend's memory until written again, and read as zeros. For buffers that
/// were needed once, like the table text after it loaded.
pub fn release(buf: &mut [u8]) {
    // SAFETY: (of the call) the range is `buf`, borrowed mutably, and any
    // value (zeros) is a valid byte.
    unsafe { release_range(buf.as_mut_ptr() as usize, buf.len()) }
}

/// Gives the whole pages of an emptied table back (`World::next` once a
/// reload is done); nothing when it is not empty.
pub fn release_table(table: &mut crate::table::Table<Fd>) {
    if !table.is_empty() || !table.pool.0.is_empty() {
        return;
    }
    // SAFETY: (of the call) the range is the table, borrowed mutably. An
    // empty table's only initialised bytes are its two lengths, 0 already
    // (its slots and its pool are `heapless::Vec`s, whose storage is
    // `MaybeUninit`): zero pages leave it the same empty table.
    unsafe {
        release_range(
            table as *mut crate::table::Table<Fd> as usize,
            size_of::<crate::table::Table<Fd>>(),
        )
    }
}

/// Where link.ld put the code tend runs only now and then (the table's
/// parser, start-up, `reload`, `keep`, the client, the ending): an
/// executable mapping of its own, so that the kernel maps its pages only
/// when that code runs. Set once by the entry module; empty until then.
static COLD: [AtomicUsize; 2] = [AtomicUsize::new(0), AtomicUsize::new(0)];

/// How far below its frame [`drop_cold`] drops the stack: further than
/// tend's calls ever go (a few KiB; 8 MiB is the kernel's usual limit).
const STACK_DROP_BYTES: usize = 64 * 1024;

/// Records where the cold code lies (see [`drop_cold`]).
pub fn set_cold(start: usize, end: usize) {
    COLD[0].store(start, Ordering::Relaxed);
    COLD[1].store(end, Ordering::Relaxed);
}

/// Takes the cold code's pages out of tend's memory once it has run (after
/// start-up, after a reload): the kernel reads them from the binary again
/// if that code runs again. Without it, every page stays mapped for good:
/// the kernel maps up to 64 KiB of a file around each page that faults.
/// The stack pages below the caller's, which start-up's deeper calls (the
/// table's parser) or a reload's reply left behind, go too: the loop's
/// calls take fresh ones as they need them.
#[inline(never)]
pub fn drop_cold() {
    let page = rustix::param::page_size();
    if !page.is_power_of_two() {
        return;
    }
    let here = 0u8;
    // 2 KiB under this frame: below the system call's own frame, whatever
    // the compiler makes of it.
    let below = (core::ptr::addr_of!(here) as usize).saturating_sub(2048) & !(page - 1);
    let from = below.saturating_sub(STACK_DROP_BYTES);
    // SAFETY: [from, below) lies wholly below this function's frame and
    // that of the system call it makes: on a downward stack, memory below
    // the innermost frame holds nothing (tend has no signal handlers, and
    // runs one thread), and dropped stack pages read back as zeros. Any part
    // of it below the stack's mapping is in the stack's guard gap, which
    // the kernel keeps unmapped: madvise skips it (and says ENOMEM).
    let _ = unsafe {
        arch::syscall3(
            nr::__NR_madvise,
            [from, below - from, nr::MADV_DONTNEED as usize],
        )
    };
    let (start, end) = (
        COLD[0].load(Ordering::Relaxed),
        COLD[1].load(Ordering::Relaxed),
    );
    if end <= start {
        return;
    }
    let (first, last) = (
        start & !(page - 1),
        end.saturating_add(page - 1) & !(page - 1),
    );
    // SAFETY: [first, last) is the cold code's own mapping (link.ld makes it
    // a segment of its own, 64 KiB from the rest of the code, and the
    // writable segment after it starts on a page of its own, as the kernel
    // maps each segment with its own permissions). It is read-only and
    // never written, so dropping its pages loses nothing: they are read
    // back from the file at their next use, even by a return into a cold
    // caller still on the stack.
    let _ = unsafe {
        arch::syscall3(
            nr::__NR_madvise,
            [first, last - first, nr::MADV_DONTNEED as usize],
        )
    };
}

/// `madvise(MADV_DONTNEED)` on the whole pages inside `[start, start+len)`.
///
/// # Safety
/// The range must be memory the caller borrows mutably, in which zero
/// bytes are a valid value wherever a page is given back.
unsafe fn release_range(start: usize, len: usize) {
    let page = rustix::param::page_size();
    if page == 0 || !page.is_power_of_two() {
        return;
    }
    let first = start.saturating_add(page - 1) & !(page - 1);
    let end = start.saturating_add(len) & !(page - 1);
    if end <= first {
        return;
    }
    // SAFETY: [first, end) is whole pages inside the range, which the
    // caller vouches for; they read back as zeros (tend's statics are
    // private anonymous memory).
    let _ = unsafe {
        arch::syscall3(
            nr::__NR_madvise,
            [first, end - first, nr::MADV_DONTNEED as usize],
        )
    };
}

/// `fcntl(fd, F_DUPFD_CLOEXEC, min)`: a copy numbered `min` or above.
pub fn dup_at_least(fd: impl AsFd, min: i32) -> Result<Fd, Errno> {
    // SAFETY: no pointer arguments.
    let ret = unsafe {
        arch::syscall3(
            nr::__NR_fcntl,
            [
                fd.as_fd().as_raw_fd() as usize,
                nr::F_DUPFD_CLOEXEC as usize,
                min as usize,
            ],
        )
    };
    check(ret).map(Fd::from_ret)
}

/// `signalfd4(-1, set, SFD_CLOEXEC|SFD_NONBLOCK)`.
pub fn signalfd(set: SigSet) -> Result<Fd, Errno> {
    let mask = kernel_sigset(set);
    let flags = nr::O_CLOEXEC | nr::O_NONBLOCK;
    // SAFETY: as for set_signal_mask; fd -1 asks for a new descriptor.
    let ret = unsafe {
        arch::syscall6(
            nr::__NR_signalfd4,
            [
                usize::MAX,
                mask.as_ptr() as usize,
                size_of::<KernelSigSet>(),
                flags as usize,
                0,
                0,
            ],
        )
    };
    check(ret).map(Fd::from_ret)
}

/// Reads one signal number from a signalfd, or `None` when none is pending.
pub fn read_signal(fd: impl AsFd) -> Option<u32> {
    // struct signalfd_siginfo is 128 bytes; ssi_signo is its first u32.
    let mut info = [0u8; 128];
    match rustix::io::read(fd, &mut info) {
        Ok(128) => Some(u32::from_ne_bytes([info[0], info[1], info[2], info[3]])),
        _ => None,
    }
}

/// Milliseconds since boot (`CLOCK_BOOTTIME`), by the plain system call.
pub fn now_ms() -> u64 {
    clock_ms(nr::CLOCK_BOOTTIME as usize)
}

/// Milliseconds since 1970 by the real-time clock (`CLOCK_REALTIME`): the
/// wall clock, which NTP or an operator may set at any time.
pub fn wall_ms() -> u64 {
    clock_ms(nr::CLOCK_REALTIME as usize)
}

/// `clock_gettime(2)` of `clock` in milliseconds (0 if it fails).
fn clock_ms(clock: usize) -> u64 {
    // `struct timespec` is two `long`s on all three targets.
    let mut ts = [0isize; 2];
    // SAFETY: `ts` is a timespec-sized buffer that lives across the call.
    let ret =
        unsafe { arch::syscall3(nr::__NR_clock_gettime, [clock, ts.as_mut_ptr() as usize, 0]) };
    if check(ret).is_err() {
        return 0;
    }
    (ts[0] as u64)
        .wrapping_mul(1000)
        .wrapping_add(ts[1] as u64 / 1_000_000)
}

/// The uid of the process at the other end of a Unix socket (`SO_PEERCRED`).
pub fn peer_uid(fd: impl AsFd) -> Result<u32, Errno> {
    peer_cred(fd).map(|c| c[1])
}

/// The pid, uid and gid of the process at the other end of a Unix socket
/// (`SO_PEERCRED`).
pub fn peer_cred(fd: impl AsFd) -> Result<[u32; 3], Errno> {
    // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
    let mut cred = [0u32; 3];
    let mut len: u32 = size_of::<[u32; 3]>() as u32;
    // SAFETY: `cred` and `len` live across the call and `len` holds
    // `cred`'s size, so the kernel writes at most that much.
    let ret = unsafe {
        arch::syscall6(
            nr::__NR_getsockopt,
            [
                fd.as_fd().as_raw_fd() as usize,
                linux_raw_sys::net::SOL_SOCKET as usize,
                linux_raw_sys::net::SO_PEERCRED as usize,
                cred.as_mut_ptr() as usize,
                &mut len as *mut u32 as usize,
                0,
            ],
        )
    };
    check(ret)?;
    if len as usize != size_of::<[u32; 3]>() {
        return Err(Errno::INVAL);
    }
    Ok(cred)
}

/// `ioctl(fd, request, &value)` for the requests that read and write one
/// `int`; the value the kernel leaves there.
pub fn ioctl_int(fd: impl AsFd, request: u32, value: i32) -> Result<i32, Errno> {
    let mut v = value;
    // SAFETY: the requests passed here take a pointer to one `int`, which
    // lives across the call.
    let ret = unsafe {
        arch::syscall3(
            nr::__NR_ioctl,
            [
                fd.as_fd().as_raw_fd() as usize,
                request as usize,
                &mut v as *mut i32 as usize,
            ],
        )
    };
    check(ret).map(|_| v)
}

/// `struct iovec`.
#[repr(C)]
struct IoVec {
    base: *mut u8,
    len: usize,
}

/// `struct msghdr`.
#[repr(C)]
struct MsgHdr {
    name: usize,
    namelen: i32,
    iov: *mut IoVec,
    iovlen: usize,
    control: *mut Creds,
    controllen: usize,
    flags: u32,
}

/// One `SCM_CREDENTIALS` control message: `struct cmsghdr` and the `struct
/// ucred` after it. The header's size is a multiple of a `long` on every
/// target, so the data follows it at once, as `CMSG_DATA` finds it, and the
/// whole is `CMSG_SPACE(sizeof(struct ucred))` bytes.
#[repr(C)]
struct Creds {
    len: usize,
    level: i32,
    kind: i32,
    pid: i32,
    uid: u32,
    gid: u32,
}

/// How many datagrams [`recv_many`] takes in one call.
pub const BATCH: usize = 8;

/// `struct mmsghdr`.
#[repr(C)]
struct MMsgHdr {
    hdr: MsgHdr,
    len: u32,
}

/// The headers of one [`recv_many`], kept by its caller across calls (made
/// once, not once a call), and what each datagram came with.
pub struct Received {
    msgs: [MMsgHdr; BATCH],
    iov: [IoVec; BATCH],
    creds: [Creds; BATCH],
}

impl Received {
    pub fn new() -> Received {
        // SAFETY: all integers and raw pointers, for which zero bytes are a
        // valid value (null pointers).
        unsafe { core::mem::zeroed() }
    }

    /// The `i`th datagram of the last [`recv_many`]: its whole length (more
    /// than its part of the buffer holds when it was cut) and its sender's
    /// pid, as the kernel vouches for it (0 if it did not say). `i` is
    /// below [`BATCH`].
    pub fn got(&self, i: usize) -> (usize, i32) {
        // (Modulo BATCH: always there, so no branch for a miss is left.)
        match (self.msgs.get(i % BATCH), self.creds.get(i % BATCH)) {
            (Some(m), Some(c)) => {
                let told = m.hdr.controllen >= size_of::<Creds>()
                    && c.level == linux_raw_sys::net::SOL_SOCKET as i32
                    && c.kind == linux_raw_sys::net::SCM_CREDENTIALS as i32;
                (m.len as usize, if told { c.pid } else { 0 })
            }
            _ => (0, 0),
        }
    }
}

impl Default for Received {
    fn default() -> Received {
        Received::new()
    }
}

/// Receives up to [`BATCH`] datagrams in one `recvmmsg(2)` from a socket
/// with `SO_PASSCRED` set, without waiting, the `i`th into the `i`th
/// [`BATCH`]th of `buf`: how many came, each described by `r`'s
/// [`Received::got`]. One call for eight: a flood costs fewer system calls.
pub fn recv_many(fd: impl AsFd, buf: &mut [u8], r: &mut Received) -> Result<usize, Errno> {
    let part = buf.len() / BATCH;
    let base = buf.as_mut_ptr();
    for (i, ((m, v), c)) in r
        .msgs
        .iter_mut()
        .zip(&mut r.iov)
        .zip(&mut r.creds)
        .enumerate()
    {
        *v = IoVec {
            base: base.wrapping_add(i * part),
            len: part,
        };
        m.hdr.iov = v;
        m.hdr.iovlen = 1;
        m.hdr.control = c;
        m.hdr.controllen = size_of::<Creds>();
    }
    let flags = linux_raw_sys::net::MSG_DONTWAIT | linux_raw_sys::net::MSG_TRUNC;
    // SAFETY: each of `r.msgs` points at one iovec over its own `part` of
    // `buf` and at its own `r.creds`, with their exact lengths (no name);
    // all live across the call, and the kernel writes at most those
    // lengths, into at most `BATCH` headers.
    let ret = unsafe {
        arch::syscall6(
            nr::__NR_recvmmsg,
            [
                fd.as_fd().as_raw_fd() as usize,
                r.msgs.as_mut_ptr() as usize,
                BATCH,
                flags as usize,
                0,
                0,
            ],
        )
    };
    Ok(check(ret)?.min(BATCH))
}

/// Standard output. Descriptors 0–2 are never closed by tend (as PID 1 it
/// points them at the console first), so a `'static` borrow is sound.
pub fn stdout() -> BorrowedFd<'static> {
    // SAFETY: fd 1 stays open for the life of the process (see above).
    unsafe { BorrowedFd::borrow_raw(1) }
}

/// Standard error, as [`stdout`].
pub fn stderr() -> BorrowedFd<'static> {
    // SAFETY: fd 2 stays open for the life of the process (see above).
    unsafe { BorrowedFd::borrow_raw(2) }
}

/// Standard input, as [`stdout`].
pub fn stdin() -> BorrowedFd<'static> {
    // SAFETY: fd 0 stays open for the life of the process (see above).
    unsafe { BorrowedFd::borrow_raw(0) }
}

/// `dup3(fd, target, 0)`: makes `target` a copy of `fd`, without
/// close-on-exec. For the child's descriptor set-up before exec, where the
/// target number is fixed (0–2, or the readiness fd) and owned by nobody.
pub fn dup2(fd: impl AsFd, target: i32) -> Result<(), Errno> {
    // SAFETY: no pointer arguments; `target` is replaced atomically, and no
    // Rust object in the child owns it.
    let ret = unsafe {
        arch::syscall3(
            nr::__NR_dup3,
            [fd.as_fd().as_raw_fd() as usize, target as usize, 0],
        )
    };
    check(ret).map(drop)
}

/// `kill(-pgid, sig)`: signals a whole process group. Any signal number,
/// real-time ones included (rustix's `Signal` names only the classic ones).
#[inline(never)]
pub fn kill_group(pgid: i32, sig: u32) -> Result<(), Errno> {
    if pgid <= 1 {
        return Err(Errno::INVAL);
    }
    // SAFETY: no pointer arguments.
    let ret = unsafe {
        arch::syscall3(
            nr::__NR_kill,
            [pgid.wrapping_neg() as usize, sig as usize, 0],
        )
    };
    check(ret).map(drop)
}

/// Marks every descriptor from `first` on close-on-exec
/// (`close_range(first, ~0, CLOSE_RANGE_CLOEXEC)`, Linux 5.11); on older
/// kernels, one `fcntl` at a time up to 1024.
pub fn cloexec_from(first: u32) {
    const CLOSE_RANGE_CLOEXEC: usize = 1 << 2;
    // SAFETY: no pointer arguments; only flags change, no descriptor closes.
    let ret = unsafe {
        arch::syscall3(
            nr::__NR_close_range,
            [first as usize, u32::MAX as usize, CLOSE_RANGE_CLOEXEC],
        )
    };
    if check(ret).is_ok() {
        return;
    }
    for fd in first..1024 {
        // SAFETY: F_SETFD on a number that may or may not be open: the
        // kernel answers EBADF for a closed one; no memory is involved.
        unsafe {
            arch::syscall3(
                nr::__NR_fcntl,
                [fd as usize, nr::F_SETFD as usize, nr::FD_CLOEXEC as usize],
            )
        };
    }
}

/// `kill(pid, sig)`: signals one process, any signal number.
pub fn kill(pid: i32, sig: u32) -> Result<(), Errno> {
    if pid <= 1 {
        return Err(Errno::INVAL);
    }
    // SAFETY: no pointer arguments.
    let ret = unsafe { arch::syscall3(nr::__NR_kill, [pid as usize, sig as usize, 0]) };
    check(ret).map(drop)
}

/// `kill(-1, sig)`: every process this one may signal, except itself (and,
/// for PID 1, that is every process but init).
pub fn kill_all(sig: u32) -> Result<(), Errno> {
    // SAFETY: no pointer arguments.
    let ret = unsafe { arch::syscall3(nr::__NR_kill, [usize::MAX, sig as usize, 0]) };
    check(ret).map(drop)
}
