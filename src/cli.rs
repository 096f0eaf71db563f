//! The command line: `tend supervise`, `tend check`, and the client
//! commands that talk to a running supervisor.

use crate::client;
use crate::event_loop::{self, Options};
use crate::load;
use crate::proto::{valid_name, Request, Verb};
use crate::report::{self, write_all, EXIT_FAILED, EXIT_OK};
use crate::say::{self, parse_u64, Buf};
use crate::signal;
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

pub const DEFAULT_TABLE: &[u8] = b"/etc/tend.conf";
pub const DEFAULT_SOCKET: &[u8] = b"/run/tend.sock";

/// Exit status for usage errors and tables that do not load.
pub use crate::report::EXIT_USAGE as USAGE;

const HELP: &[u8] = b"usage: tend COMMAND [ARGS]  (see tend(8))
  supervise [-c FILE]        supervise FILE's services (default /etc/tend.conf)
  check [-r ROOT] [FILE]     check a table offline (users, groups from ROOT/etc)
  status [NAME...] [--json]  show services: exit 0 all as wanted, 3 not, 4 unknown
  log NAME [-n N] [-f] [-t]  show a log (tend: tend's own); -f follow, -t UTC
  start|stop|restart NAME... start and keep running, stop until started, restart
  signal NAME SIG            send SIG to the service's process group
  reload [--json]            read the table again and apply what changed
  reboot|poweroff|halt       ask tend as PID 1 to shut down
Control socket: /run/tend.sock, or $TEND_SOCKET.
";

fn usage(why: &[u8]) -> i32 {
    report::say(None, &[b"usage: ", why, b" (tend help for the commands)"]);
    USAGE
}

fn env_var<'a>(env: &'a dyn Argv, key: &[u8]) -> Option<&'a [u8]> {
    (0..env.len()).filter_map(|i| env.get(i)).find_map(|kv| {
        let rest = kv.strip_prefix(key)?;
        rest.strip_prefix(b"=")
    })
}

/// Runs the command `args` asks for; returns the exit status.
pub fn main(args: &dyn Argv, env: &dyn Argv, world: &mut World, arena: &'static mut [u8]) -> i32 {
    let socket = env_var(env, b"TEND_SOCKET")
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
    let arg = |i: usize| args.get(i);
    let Some(cmd) = arg(1) else {
        return usage(b"no command");
    };
    // By index: supervise, check, then help's three spellings.
    match say::position(b"supervise\0check\0help\0--help\0-h\0", cmd) {
        Some(0) => {
            let table = match (arg(2), arg(3), arg(4)) {
                (None, _, _) => DEFAULT_TABLE,
                (Some(b"-c"), Some(file), None) => file,
                _ => return usage(b"supervise [-c FILE]"),
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
            let (root, file) = match (arg(2), arg(3), arg(4), arg(5)) {
                (None, ..) => (b"".as_slice(), DEFAULT_TABLE),
                (Some(b"-r"), Some(root), None, _) => (root, DEFAULT_TABLE),
                (Some(b"-r"), Some(root), Some(file), None) => (root, file),
                (Some(file), None, ..) if !file.starts_with(b"-") => (b"".as_slice(), file),
                _ => return usage(b"check [-r ROOT] [FILE]"),
            };
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
    let mut said = false;
    let mut i = 1;
    while let Some(a) = args.get(i) {
        i += 1;
        match (a, args.get(i)) {
            (b"supervise", _) if i == 2 => {}
            (b"-c", Some(file)) if !file.is_empty() => {
                table = file;
                i += 1;
            }
            _ => {
                if !said {
                    write_all(sys::stderr(), b"tend: as PID 1, ignoring arguments:");
                    said = true;
                }
                write_all(sys::stderr(), b" ");
                write_all(sys::stderr(), a);
            }
        }
    }
    if said {
        write_all(sys::stderr(), b" (only supervise -c FILE is taken)\n");
    }
    table
}

/// A client command. Not inlined: its buffers would otherwise sit in
/// `main`'s frame, under the whole supervisor's stack.
#[inline(never)]
fn client(args: &dyn Argv, socket: &[u8]) -> i32 {
    match client_request(args) {
        Ok(req) => client::run(socket, &req),
        Err(why) => usage(why),
    }
}

#[inline(never)]
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

/// Builds the request for a client command, or says what is wrong.
fn client_request(args: &dyn Argv) -> Result<Request<'_>, &'static [u8]> {
    let cmd = args.get(1).unwrap_or(b"");
    let verb = Verb::from_word(cmd).ok_or(b"unknown command".as_slice())?;
    if verb == Verb::Reload && !cfg!(feature = "reload") {
        return Err(b"reload: this tend is built without reload");
    }
    let mut req = Request::new(verb);
    let mut i = 2;
    while let Some(a) = args.get(i) {
        i += 1;
        // By index: --json, -j, -f, --follow, -t, -n.
        let option = say::position(b"--json\0-j\0-f\0--follow\0-t\0-n\0", a);
        match (verb, option) {
            (Verb::Status | Verb::Reload, Some(0 | 1)) if cfg!(feature = "json") => req.json = true,
            (Verb::Status, Some(0 | 1)) => {
                return Err(b"status: --json: this tend is built without json");
            }
            (Verb::Reload, Some(0 | 1)) => {
                return Err(b"reload: --json: this tend is built without json");
            }
            (Verb::Log, Some(2 | 3)) => req.follow = true,
            (Verb::Log, Some(4)) => req.utc = true,
            (Verb::Log, Some(5)) => {
                let n = args
                    .get(i)
                    .and_then(parse_u64)
                    .and_then(|n| u32::try_from(n).ok());
                req.lines = Some(n.ok_or(b"log: -n takes a number of lines".as_slice())?);
                i += 1;
            }
            (Verb::Signal, _) if req.names.len() == 1 => {
                req.signal = Some(signal::number(a).ok_or(b"signal: unknown signal".as_slice())?);
            }
            _ if valid_name(a) => {
                req.names
                    .push(a)
                    .map_err(|_| b"too many names".as_slice())?;
            }
            _ => return Err(b"bad argument"),
        }
    }
    if verb.fits(req.names.len(), req.signal.is_some()) {
        return Ok(req);
    }
    // By verb: status, log, start, stop, restart, signal, reload, halt,
    // poweroff, reboot.
    const USAGE_OF: [u8; 10] = [0, 2, 3, 3, 3, 4, 1, 5, 5, 5];
    let usages: &'static [u8] = b"status [NAME...] [--json]\0reload [--json]\0\
        log NAME [-n N] [-f] [-t]\0start|stop|restart NAME...\0signal NAME SIG\0\
        reboot|poweroff|halt\0";
    let i = USAGE_OF.get(verb as usize).copied().unwrap_or(0);
    Err(say::nth(usages, usize::from(i)))
}
