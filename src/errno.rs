//! Names for the errors tend reports (`tend: what: why`), without libc's
//! strerror.

use linux_raw_sys::errno::*;

/// `(number, symbol, description)` for the errors a supervisor meets.
const TABLE: &[(u32, &[u8], &[u8])] = &[
    (EPERM, b"EPERM", b"operation not permitted"),
    (ENOENT, b"ENOENT", b"no such file or directory"),
    (ESRCH, b"ESRCH", b"no such process"),
    (EINTR, b"EINTR", b"interrupted"),
    (EIO, b"EIO", b"input/output error"),
    (E2BIG, b"E2BIG", b"argument list too long"),
    (ENOEXEC, b"ENOEXEC", b"exec format error"),
    (EBADF, b"EBADF", b"bad file descriptor"),
    (ECHILD, b"ECHILD", b"no child processes"),
    (EAGAIN, b"EAGAIN", b"resource temporarily unavailable"),
    (ENOMEM, b"ENOMEM", b"out of memory"),
    (EACCES, b"EACCES", b"permission denied"),
    (EFAULT, b"EFAULT", b"bad address"),
    (EBUSY, b"EBUSY", b"device or resource busy"),
    (EEXIST, b"EEXIST", b"file exists"),
    (ENOTDIR, b"ENOTDIR", b"not a directory"),
    (EISDIR, b"EISDIR", b"is a directory"),
    (EINVAL, b"EINVAL", b"invalid argument"),
    (ENFILE, b"ENFILE", b"too many open files in system"),
    (EMFILE, b"EMFILE", b"too many open files"),
    (ETXTBSY, b"ETXTBSY", b"text file busy"),
    (EFBIG, b"EFBIG", b"file too large"),
    (ENOSPC, b"ENOSPC", b"no space left on device"),
    (EROFS, b"EROFS", b"read-only file system"),
    (EPIPE, b"EPIPE", b"broken pipe"),
    (ENAMETOOLONG, b"ENAMETOOLONG", b"file name too long"),
    (ENOSYS, b"ENOSYS", b"function not implemented"),
    (ELOOP, b"ELOOP", b"too many levels of symbolic links"),
    (ELIBBAD, b"ELIBBAD", b"accessing a corrupted shared library"),
    (ENOTSOCK, b"ENOTSOCK", b"not a socket"),
    (EADDRINUSE, b"EADDRINUSE", b"address in use"),
    (ECONNREFUSED, b"ECONNREFUSED", b"connection refused"),
    (ECONNRESET, b"ECONNRESET", b"connection reset"),
    (ETIMEDOUT, b"ETIMEDOUT", b"timed out"),
    (ENOBUFS, b"ENOBUFS", b"no buffer space available"),
];

/// The symbol, like `ENOENT`, or `E?` for one tend does not know.
pub fn symbol(errno: u16) -> &'static [u8] {
    TABLE
        .iter()
        .find(|e| e.0 == u32::from(errno))
        .map_or(b"E?", |e| e.1)
}

/// The description, like `no such file or directory`.
pub fn describe(errno: u16) -> &'static [u8] {
    TABLE
        .iter()
        .find(|e| e.0 == u32::from(errno))
        .map_or(b"unknown error", |e| e.2)
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
    }
}
