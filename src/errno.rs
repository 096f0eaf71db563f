//! Names for the errors tend reports (`tend: what: why`), without libc's
//! strerror.

use linux_raw_sys::errno::*;

/// Builds [`NUMBERS`] and [`TEXT`] from `SYMBOL "description"` rows: one
/// string and one small number per error, not a table of pointers.
macro_rules! errors {
    ($($sym:ident $text:literal,)*) => {
        /// The errors a supervisor meets, by number.
        const NUMBERS: &[u16] = &[$($sym as u16),*];
        /// For each of [`NUMBERS`], its symbol and its description, each
        /// followed by a NUL byte.
        const TEXT: &[u8] = concat!($(stringify!($sym), "\0", $text, "\0"),*).as_bytes();
    };
}

errors! {
    EPERM "operation not permitted",
    ENOENT "no such file or directory",
    ESRCH "no such process",
    EINTR "interrupted",
    EIO "input/output error",
    E2BIG "argument list too long",
    ENOEXEC "exec format error",
    EBADF "bad file descriptor",
    ECHILD "no child processes",
    EAGAIN "resource temporarily unavailable",
    ENOMEM "out of memory",
    EACCES "permission denied",
    EFAULT "bad address",
    EBUSY "device or resource busy",
    EEXIST "file exists",
    ENOTDIR "not a directory",
    EISDIR "is a directory",
    EINVAL "invalid argument",
    ENFILE "too many open files in system",
    EMFILE "too many open files",
    ETXTBSY "text file busy",
    EFBIG "file too large",
    ENOSPC "no space left on device",
    EROFS "read-only file system",
    EPIPE "broken pipe",
    ENAMETOOLONG "file name too long",
    ENOSYS "function not implemented",
    ELOOP "too many levels of symbolic links",
    ELIBBAD "accessing a corrupted shared library",
    ENOTSOCK "not a socket",
    EADDRINUSE "address in use",
    ECONNREFUSED "connection refused",
    ECONNRESET "connection reset",
    ETIMEDOUT "timed out",
    ENOBUFS "no buffer space available",
}

/// Part `part` (0 the symbol, 1 the description) of `errno`'s entry.
fn entry(errno: u16, part: usize) -> Option<&'static [u8]> {
    let i = NUMBERS.iter().position(|&n| n == errno)?;
    Some(crate::say::nth(TEXT, 2 * i + part))
}

/// The symbol, like `ENOENT`, or `E?` for one tend does not know.
pub fn symbol(errno: u16) -> &'static [u8] {
    entry(errno, 0).unwrap_or(b"E?")
}

/// The description, like `no such file or directory`.
pub fn describe(errno: u16) -> &'static [u8] {
    entry(errno, 1).unwrap_or(b"unknown error")
}

/// The number of a rustix error.
pub fn of(e: rustix::io::Errno) -> u16 {
    e.raw_os_error() as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_unknown() {
        assert_eq!(symbol(ENOENT as u16), b"ENOENT");
        assert_eq!(describe(EACCES as u16), b"permission denied");
        assert_eq!(symbol(4000), b"E?");
        assert_eq!(of(rustix::io::Errno::NOENT), ENOENT as u16);
        assert_eq!(symbol(ENOBUFS as u16), b"ENOBUFS");
        assert_eq!(describe(ENOBUFS as u16), b"no buffer space available");
        assert_eq!(describe(EPERM as u16), b"operation not permitted");
        assert_eq!(describe(4000), b"unknown error");
        assert_eq!(TEXT.split(|&b| b == 0).count(), 2 * NUMBERS.len() + 1);
    }
}
