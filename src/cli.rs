//! The command line: `tend supervise`, `tend check`, and the client
//! commands that talk to a running supervisor.

use crate::client;
use crate::event_loop::{self, Options};
use crate::limits::REQUEST_MAX_BYTES;
use crate::load;
use crate::proto::{self, part, HELP};
use crate::report::{self, write_all, EXIT_FAILED, EXIT_OK};
use crate::say::{self, Buf};
use crate::sys;
use crate::world::World;

/// The process's argument vector, without allocation.
pub trait Argv {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn get(&self, i: usize) -> Option<&[u8]>;
}

pub const DEFAULT_TABLE: &[u8] = part(b"/etc/tend.conf");
pub const DEFAULT_SOCKET: &[u8] = part(b"/run/tend.sock");

/// Exit status for usage errors and tables that do not load.
pub use crate::report::EXIT_USAGE as USAGE;

/// The options of the client commands, listed here with the rest of the
/// command line's words (tend(8) must document each; its test reads them
/// from this file). `proto::parse` reads them, from `proto::OPTIONS`: the
/// core uses nothing of the command line's module.
const OPTIONS: &[u8] = b"--json\0-j\0-f\0--follow\0-t\0-n\0";
const _: () = assert!(same(OPTIONS, proto::OPTIONS));

/// `a == b`, at compile time.
const fn same(mut a: &[u8], mut b: &[u8]) -> bool {
    loop {
        match (a.split_first(), b.split_first()) {
            (Some((x, ra)), Some((y, rb))) if *x == *y => (a, b) = (ra, rb),
            (None, None) => return true,
            _ => return false,
        }
    }
}

fn usage(why: &[u8]) -> i32 {
    report::say(None, &[b"usage: ", why, b" (tend help for the commands)"]);
    USAGE
}

fn env_var<'a>(env: &'a dyn Argv, key: &[u8]) -> Option<&'a [u8]> {
    let mut i = 0;
    while let Some(kv) = env.get(i) {
        i += 1;
        if let Some([b'=', value @ ..]) = crate::say::strip(kv, key) {
            return Some(value);
        }
    }
    None
}

/// Runs the command `args` asks for; returns the exit status.
pub fn main(args: &dyn Argv, env: &dyn Argv, world: &mut World, arena: &'static mut [u8]) -> i32 {
    let socket = env_var(env, const { part(b"TEND_SOCKET") })
        .filter(|s| !s.is_empty())
        .unwrap_or(DEFAULT_SOCKET);
    if rustix::process::getpid().is_init() {
        let opt = Options {
            table: pid1_table(args),
            socket,
            pid1: true,
        };
        return event_loop::supervise(world, arena, &opt);
    }
    // The words `supervise` and `check` take, read once.
    let [_, cmd, a2, a3, a4, a5] = core::array::from_fn(|i| args.get(i));
    let Some(cmd) = cmd else {
        return usage(b"no command");
    };
    // By index: supervise, check, then help's three spellings.
    match say::position(b"supervise\0check\0help\0--help\0-h\0", cmd) {
        Some(0) => {
            let table = match (a2, a3, a4) {
                (None, _, _) => DEFAULT_TABLE,
                (Some(b"-c"), Some(file), None) => file,
                _ => return usage(const { part(b"supervise [-c FILE]") }),
            };
            event_loop::supervise(
                world,
                arena,
                &Options {
                    table,
                    socket,
                    pid1: false,
                },
            )
        }
        Some(1) => {
            // `-r ROOT` first, if given; then FILE, which only after it may
            // start with `-`.
            let r = matches!((a2, a3), (Some(b"-r"), Some(_)));
            let [root, file, more] = if r { [a3, a4, a5] } else { [None, a2, a3] };
            let file = match (file, more) {
                (None, _) => DEFAULT_TABLE,
                (Some(file), None) if r || file.first() != Some(&b'-') => file,
                _ => return usage(const { part(b"check [-r ROOT] [FILE]") }),
            };
            let root = root.unwrap_or_default();
            check(world, file, root)
        }
        Some(_) => {
            write_all(sys::stdout(), HELP);
            EXIT_OK
        }
        _ => client(args, socket),
    }
}

/// The table PID 1 supervises: FILE of `supervise -c FILE` (given after
/// `--` on the kernel command line, or by a wrapper's exec), else
/// /etc/tend.conf. PID 1 never refuses to start: any other argument (the
/// kernel hands init the words of its command line it does not know) is
/// said on the console and passed over.
#[inline(never)]
fn pid1_table(args: &dyn Argv) -> &[u8] {
    let mut table = DEFAULT_TABLE;
    // What goes before the next word passed over: the head of the line
    // before the first, a space after.
    let mut sep: &[u8] = b"tend: as PID 1, ignoring arguments: ";
    let mut i = 1;
    while let Some(a) = args.get(i) {
        i += 1;
        // By index: supervise, -c.
        match (say::position(b"supervise\0-c\0", a), args.get(i)) {
            (Some(0), _) if i == 2 => {}
            (Some(1), Some(file)) if !file.is_empty() => {
                table = file;
                i += 1;
            }
            _ => {
                write_all(sys::stderr(), sep);
                sep = b" ";
                write_all(sys::stderr(), a);
            }
        }
    }
    if sep.len() == 1 {
        write_all(sys::stderr(), b" (only supervise -c FILE is taken)\n");
    }
    table
}

/// A client command. Not inlined: its buffers would otherwise sit in
/// `main`'s frame, under the whole supervisor's stack.
#[inline(never)]
fn client(args: &dyn Argv, socket: &[u8]) -> i32 {
    // The request is the command line itself (see `proto`). A space within
    // an argument becomes a newline, which no word `proto::parse` takes: it
    // refuses the argument as it is, and the line stays whole.
    let mut line = Buf::<REQUEST_MAX_BYTES>::new();
    let mut i = 1;
    while let Some(a) = args.get(i) {
        if i > 1 {
            line.byte(b' ');
        }
        for &b in a {
            line.byte(if b == b' ' { b'\n' } else { b });
        }
        i += 1;
    }
    match proto::parse(line.as_bytes()) {
        Ok(req) => {
            let (json, last_boot) = (req.json, req.verb == proto::Verb::LastBoot);
            client::run(socket, &mut line, json, last_boot)
        }
        Err(why) => usage(why),
    }
}

fn check(world: &mut World, file: &[u8], root: &[u8]) -> i32 {
    let errors = load::load(world, file, root, false);
    if errors > 0 {
        return EXIT_FAILED;
    }
    let n = world.table.len();
    let mut msg = Buf::<320>::new();
    msg.s(file).s(b": ok, ").u(n as u64).s(if n == 1 {
        b" service\n"
    } else {
        b" services\n"
    });
    write_all(sys::stdout(), msg.as_bytes());
    EXIT_OK
}
