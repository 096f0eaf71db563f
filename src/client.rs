//! The client side of the control socket: send one request, copy the reply
//! to stdout (or stderr for errors), exit with the status it carries.

use rustix::io::Errno;
use rustix::net;

use crate::load::c_path;
use crate::report::{self, write_all, EXIT_FAILED, EXIT_USAGE};
use crate::say::Text;
use crate::sys;

/// Exit status when the supervisor cannot be reached.
pub const UNREACHABLE: i32 = EXIT_FAILED;

fn unreachable(socket: &[u8], e: Errno) -> i32 {
    let hint: &[u8] = if e == Errno::ACCESS || e == Errno::PERM {
        b" (only root and the supervisor's own user may control it)"
    } else {
        b""
    };
    let why = report::why(e);
    report::say(
        None,
        &[b"cannot reach the supervisor at ", socket, b": ", why, hint],
    );
    UNREACHABLE
}

/// Sends the request `line` (without its newline; `json`: it asks for JSON)
/// to the supervisor at `socket` and relays the reply. `last_boot`: the
/// reply names where the records are kept, and they are shown instead.
pub fn run(socket: &[u8], line: &mut Text, json: bool, last_boot: bool) -> i32 {
    // Every failure to reach the supervisor ends here.
    let e = 'unreachable: {
        let mut pbuf = [0u8; 256];
        let Some(path) = c_path(socket, &mut pbuf) else {
            break 'unreachable Errno::NAMETOOLONG;
        };
        let addr = match sys::unix_addr(path) {
            Ok(a) => a,
            Err(e) => break 'unreachable e,
        };
        let fd = match sys::unix_socket(linux_raw_sys::general::O_CLOEXEC) {
            Ok(fd) => fd,
            Err(e) => break 'unreachable e,
        };
        if let Err(e) = sys::connect(&fd, &addr) {
            break 'unreachable e;
        }
        line.byte(b'\n');
        if line.overflowed() {
            report::say(None, &[b"request too long"]);
            return EXIT_USAGE;
        }
        // A supervisor that refuses us replies and closes without reading the
        // request: a failed send still leaves its reply to read.
        let mut rest = line.as_bytes();
        let mut send_error = None;
        while !rest.is_empty() {
            match net::send(&fd, rest, net::SendFlags::NOSIGNAL) {
                Ok(n) => rest = rest.get(n..).unwrap_or(&[]),
                Err(Errno::INTR) => {}
                Err(e) => {
                    send_error = Some(e);
                    break;
                }
            }
        }
        let mut buf = [0u8; 4096];
        // The exit byte, once read; NONE before.
        const NONE: i32 = -1;
        let mut status = NONE;
        // Where the text goes, chosen at its first byte.
        let mut to = None;
        let mut dir = crate::say::Buf::<256>::new();
        loop {
            let n = match rustix::io::read(&fd, &mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(Errno::INTR) => continue,
                // A reset after the reply began (a refusal) ends the reply.
                Err(_) if status != NONE => break,
                Err(e) => break 'unreachable send_error.unwrap_or(e),
            };
            let mut data = buf.get(..n).unwrap_or(&[]);
            if status == NONE {
                if let Some((&code, tail)) = data.split_first() {
                    status = i32::from(code);
                    data = tail;
                }
            }
            if data.is_empty() {
                continue;
            }
            // (Only a tend built with keep has `last-boot`.)
            if cfg!(feature = "keep") && last_boot && status == 0 {
                dir.s(data);
                continue;
            }
            // JSON goes to stdout whatever the status (a refusal is text).
            let out = *to.get_or_insert_with(|| {
                match status == 0 || status == 3 || json && data.first() == Some(&b'{') {
                    true => sys::stdout(),
                    false => sys::stderr(),
                }
            });
            write_all(out, data);
        }
        return match status {
            #[cfg(feature = "keep")]
            0 if last_boot => crate::keep::show(dir.as_bytes()),
            NONE => {
                let why = b"the supervisor closed the connection without a reply";
                report::say(None, &[why]);
                UNREACHABLE
            }
            code => code,
        };
    };
    unreachable(socket, e)
}
