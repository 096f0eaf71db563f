//! Command line.

/// The process's argument vector, without allocation.
pub trait Argv {
    fn len(&self) -> usize;
    fn get(&self, i: usize) -> Option<&[u8]>;
}

pub fn main(args: &dyn Argv, _env: &dyn Argv) -> i32 {
    let _ = rustix::io::write(crate::sys::stdout(), args.get(0).unwrap_or(b"?"));
    let _ = rustix::io::write(crate::sys::stdout(), b"\n");
    crate::sys::now_ms() as i32 & 1
}
