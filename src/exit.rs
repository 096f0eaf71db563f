//! The exit status of every command (tend(8), EXIT STATUS), by name: no
//! bare number stands for one anywhere else.

/// Success; `status`: every service shown is as it should be.
pub const EXIT_OK: i32 = 0;
/// `check`: the table has errors; a client: the supervisor cannot be
/// reached, or refused what was asked.
pub const EXIT_FAILED: i32 = 1;
/// `status`: a service shown is not as it should be; `signal`: the service
/// is not running.
pub const EXIT_NOT_AS_WANTED: i32 = 3;
/// A name that is no service's.
pub const EXIT_UNKNOWN_NAME: i32 = 4;
/// A usage error; `supervise`: the table did not load (nothing started).
pub const EXIT_USAGE: i32 = 100;
/// An internal error (a panic, which only a debug build can have).
pub const EXIT_BUG: i32 = 101;
/// `supervise`: a system call it cannot do without failed.
pub const EXIT_SYSTEM: i32 = 111;
