//! Names for the errors tend reports (`tend: what: why`), without libc's
//! strerror.

use linux_raw_sys::errno::*;

/// Builds [`NUMBERS`] and [`TEXT`] from `SYMBOL "description"` rows: one
/// string and one small number per error, not a table of pointers. A build
/// without `verbose` (tend(8), BUILD PROFILES) keeps only the symbols, and
/// describes an error by its symbol.
macro_rules! errors {
    ($($sym:ident $text:literal,)*) => {
        /// The errors a supervisor meets, by number.
        // One byte each: every number listed is below 256.
        const NUMBERS: &[u8] = &[$($sym as u8),*];
        const _: () = assert!($($sym < 256)&&*);
        /// For each of [`NUMBERS`], its symbol and its description, each
        /// followed by a NUL byte.
        #[cfg(feature = "verbose")]
        const TEXT: &[u8] = concat!($(stringify!($sym), "\0", $text, "\0"),*).as_bytes();
        /// For each of [`NUMBERS`], its symbol, followed by a NUL byte.
        #[cfg(not(feature = "verbose"))]
        const TEXT: &[u8] = concat!($(stringify!($sym), "\0"),*).as_bytes();
    };
}

/// The entries of [`TEXT`] per error: the symbol, and the description.
const PARTS: usize = if cfg!(feature = "verbose") { 2 } else { 1 };

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
    let i = NUMBERS.iter().position(|&n| u16::from(n) == errno)?;
    Some(crate::say::nth(TEXT, PARTS * i + part))
}

/// The symbol, like `ENOENT`, or `E?` for one tend does not know.
pub fn symbol(errno: u16) -> &'static [u8] {
    entry(errno, 0).unwrap_or(b"E?")
}

/// The description, like `no such file or directory` (`ENOENT` in a build
/// without `verbose`).
#[cfg(feature = "verbose")]
pub fn describe(errno: u16) -> &'static [u8] {
    entry(errno, 1).unwrap_or(b"unknown error")
}

/// The symbol, like `ENOENT`: a build without `verbose` has no descriptions.
#[cfg(not(feature = "verbose"))]
pub fn describe(errno: u16) -> &'static [u8] {
    symbol(errno)
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
        assert_eq!(symbol(4000), b"E?");
        assert_eq!(symbol(ENOBUFS as u16), b"ENOBUFS");
        assert_eq!(TEXT.split(|&b| b == 0).count(), PARTS * NUMBERS.len() + 1);
    }

    #[cfg(feature = "verbose")]
    #[test]
    fn described() {
        assert_eq!(describe(EACCES as u16), b"permission denied");
        assert_eq!(of(rustix::io::Errno::NOENT), ENOENT as u16);
        assert_eq!(describe(ENOBUFS as u16), b"no buffer space available");
        assert_eq!(describe(EPERM as u16), b"operation not permitted");
        assert_eq!(describe(4000), b"unknown error");
    }

    #[cfg(not(feature = "verbose"))]
    #[test]
    fn symbols_only() {
        assert_eq!(describe(ENOENT as u16), b"ENOENT");
        assert_eq!(describe(4000), b"E?");
    }
}
