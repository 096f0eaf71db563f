//! The control protocol between `tend COMMAND` and the supervisor.
//!
//! A request is the command line itself: the words after `tend`, each
//! followed by one space but the last, which is followed by `\n`. The client
//! and the supervisor read it with the same [`parse`]: the client to refuse
//! a usage error before it connects, the supervisor to take the request.
//! The reply is one byte — the exit status the client ends with — then text
//! until the supervisor closes the connection. Text of a reply whose status
//! is 0 or 3, and JSON, goes to stdout; any other to stderr.

use crate::limits::{MAX_SERVICES, NAME_MAX_BYTES, REQUEST_MAX_BYTES};
use crate::say::{self, parse_u64};

#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(Debug))]
pub enum Verb {
    Status,
    Log,
    Start,
    Stop,
    Restart,
    Signal,
    Reload,
    Halt,
    Poweroff,
    Reboot,
    LastBoot,
}

/// Every verb, in declaration order (its discriminant is its index).
const VERBS: [Verb; 11] = [
    Verb::Status,
    Verb::Log,
    Verb::Start,
    Verb::Stop,
    Verb::Restart,
    Verb::Signal,
    Verb::Reload,
    Verb::Halt,
    Verb::Poweroff,
    Verb::Reboot,
    Verb::LastBoot,
];
/// The word of each of [`VERBS`], each followed by a NUL byte.
const WORDS: &[u8] =
    b"status\0log\0start\0stop\0restart\0signal\0reload\0halt\0poweroff\0reboot\0last-boot\0";

impl Verb {
    pub fn word(self) -> &'static [u8] {
        crate::say::nth(WORDS, self as usize)
    }

    pub fn from_word(word: &[u8]) -> Option<Verb> {
        VERBS.get(crate::say::position(WORDS, word)?).copied()
    }

    /// Whether `words`, the names and a signal, suit the verb: any number
    /// of names for `status`, one for `log`, one and its signal for
    /// `signal`, one or more for `start`, `stop` and `restart`, none for the
    /// others. Tables indexed by the verb: smaller than a `match`.
    pub fn fits(self, words: u8) -> bool {
        const LEAST: [u8; 11] = [0, 1, 1, 1, 1, 2, 0, 0, 0, 0, 0];
        const ALL: u8 = MAX_SERVICES as u8;
        const MOST: [u8; 11] = [ALL, 1, ALL, ALL, ALL, 2, 0, 0, 0, 0, 0];
        let i = self as usize;
        let least = LEAST.get(i).copied().unwrap_or(0);
        let most = MOST.get(i).copied().unwrap_or(0);
        least <= words && words <= most
    }
}

// A request's count of names, with its signal, and `fits`'s bounds are u8s.
const _: () = assert!(MAX_SERVICES < u8::MAX as usize);

/// The options of the client commands, by index: --json, -j, -f, --follow,
/// -t, -n.
pub const OPTIONS: &[u8] = b"--json\0-j\0-f\0--follow\0-t\0-n\0";

/// A request as [`parse`] reads it; its names stay in its line.
#[cfg_attr(test, derive(Debug))]
pub struct Request<'a> {
    pub verb: Verb,
    /// `--json` (`-j`).
    pub json: bool,
    /// `-f` (`--follow`).
    pub follow: bool,
    /// `-t`: wall-clock (UTC) stamps instead of seconds since boot (`log`).
    pub utc: bool,
    /// `-n`: lines of log wanted (`u32::MAX` without `-n`: all, as no
    /// ring holds that many).
    pub lines: u32,
    /// `signal NAME SIG`: the signal's number (0: none given; no signal
    /// has it).
    pub signal: u8,
    /// How many service names [`Request::names`] gives (a u8: at most
    /// MAX_SERVICES, see `parse`).
    pub count: u8,
    line: &'a [u8],
}

impl<'a> Request<'a> {
    /// The service names, in the order given: the words after the verb that
    /// are no option nor an option's number (`-n N`), and for `signal` only
    /// the first (the next is its signal). [`parse`] checked every word.
    #[inline(never)]
    pub fn names(&self) -> impl Iterator<Item = &'a [u8]> {
        // Not the verb, nor the word after `-n`.
        let mut skip = true;
        words(self.line)
            .filter(move |&w| {
                let after = core::mem::replace(&mut skip, w == b"-n");
                !after && w.first() != Some(&b'-')
            })
            .take(self.count.into())
    }
}

fn words(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    say::split(line, b' ')
}

/// A service name: 1 to NAME_MAX_BYTES-1 bytes of `[A-Za-z0-9_.@-]`.
pub fn valid_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name.len() < NAME_MAX_BYTES
        && name
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'@' | b'-'))
}

/// Finds the end of a request in what has arrived: `Ok(Some(len))` with the
/// line's length (without `\n`), `Ok(None)` to wait for more.
pub fn frame(received: &[u8]) -> Result<Option<usize>, &'static [u8]> {
    match received.iter().position(|&b| b == b'\n') {
        Some(n) => Ok(Some(n)),
        None if received.len() >= REQUEST_MAX_BYTES => Err(b"request too long"),
        None => Ok(None),
    }
}

/// Reads a request line (without its `\n`): the command line's words after
/// `tend`, as tend(8) gives them. Says what is wrong in the words of a
/// usage message.
#[inline(never)]
pub fn parse(line: &[u8]) -> Result<Request<'_>, &'static [u8]> {
    let mut words = words(line);
    let verb = words.next().and_then(Verb::from_word);
    let verb = verb.ok_or(b"unknown command".as_slice())?;
    if verb == Verb::Reload && !cfg!(feature = "reload") {
        return Err(b"reload: this tend is built without reload");
    }
    if verb == Verb::LastBoot && !cfg!(feature = "keep") {
        return Err(b"last-boot: this tend is built without keep");
    }
    let mut req = Request {
        verb,
        json: false,
        follow: false,
        utc: false,
        lines: u32::MAX,
        signal: 0,
        count: 0,
        line,
    };
    while let Some(a) = words.next() {
        let option = say::position(OPTIONS, a);
        match (verb, option) {
            (Verb::Status | Verb::Reload, Some(0 | 1)) if cfg!(feature = "json") => req.json = true,
            (Verb::Status, Some(0 | 1)) => {
                return Err(b"status: --json: this tend is built without json");
            }
            // (A tend without reload refused the verb above: its words go.)
            (Verb::Reload, Some(0 | 1)) if cfg!(feature = "reload") => {
                return Err(b"reload: --json: this tend is built without json");
            }
            (Verb::Log, Some(2 | 3)) => req.follow = true,
            (Verb::Log, Some(4)) => req.utc = true,
            (Verb::Log, Some(5)) => {
                req.lines = match words.next().and_then(parse_u64) {
                    Some(n @ ..=0xffff_ffff) => n as u32,
                    _ => return Err(b"log: -n takes a number of lines"),
                };
            }
            (Verb::Signal, _) if req.count == 1 => {
                let sig = crate::signal::number(a);
                req.signal = sig.ok_or(b"signal: unknown signal".as_slice())?;
            }
            // An option the verb does not take.
            _ if a.first() == Some(&b'-') => return Err(usage_of(verb)),
            _ if valid_name(a) => {
                if usize::from(req.count) == MAX_SERVICES {
                    return Err(b"too many names");
                }
                req.count += 1;
            }
            _ => return Err(b"bad argument"),
        }
    }
    // (Only `signal` takes a signal.)
    if verb.fits(req.count + u8::from(req.signal != 0)) {
        Ok(req)
    } else {
        Err(usage_of(verb))
    }
}

/// The verb's line of `tend help`.
fn usage_of(verb: Verb) -> &'static [u8] {
    // Where the usage is in HELP, times 32, plus its length (under 32),
    // in one u16: a table of 22 bytes.
    const fn usage(text: &[u8]) -> u16 {
        let at = at(text);
        assert!(at < 2048 && text.len() < 32);
        (at * 32 + text.len()) as u16
    }
    const CHANGE: u16 = usage(b"start|stop|restart NAME...");
    const POWER: u16 = usage(b"reboot|poweroff|halt");
    // By verb: status, log, start, stop, restart, signal, reload, halt,
    // poweroff, reboot, last-boot.
    const USAGES: [u16; 11] = [
        usage(b"status [NAME...] [--json]"),
        usage(b"log NAME [-n N] [-f] [-t]"),
        CHANGE,
        CHANGE,
        CHANGE,
        usage(b"signal NAME SIG"),
        usage(b"reload [--json]"),
        POWER,
        POWER,
        POWER,
        usage(b"last-boot"),
    ];
    let u = usize::from(USAGES.get(verb as usize).copied().unwrap_or(0));
    let (at, len) = (u / 32, u % 32);
    HELP.get(at..at + len).unwrap_or(&[])
}

/// Builds [`HELP`] from its rows: a command's usage, the spaces to the
/// description column, the description, and what a build without
/// `verbose` (tend(8), BUILD PROFILES) shows after the usage instead.
macro_rules! help {
    ($(($usage:literal, $pad:literal, $what:literal, $terse:literal),)*) => {
        /// `tend help`. The usage lines, the default table and socket are
        /// parts of it ([`part`]): one copy of each in the binary.
        #[cfg(feature = "verbose")]
        pub const HELP: &[u8] = concat!(
            "usage: tend COMMAND [ARGS]  (see tend(8))\n",
            $("  ", $usage, $pad, $what, "\n",)*
            "Control socket: /run/tend.sock, or $TEND_SOCKET.\n",
        )
        .as_bytes();
        /// `tend help` without `verbose`: the commands and their
        /// arguments, without a description of each.
        #[cfg(not(feature = "verbose"))]
        pub const HELP: &[u8] = concat!(
            "usage: tend COMMAND [ARGS]  (see tend(8))\n",
            $("  ", $usage, $terse, "\n",)*
            "Control socket: /run/tend.sock, or $TEND_SOCKET.\n",
        )
        .as_bytes();
    };
}

help! {
    ("supervise [-c FILE]", "        ", "supervise FILE's services (default /etc/tend.conf)",
        "  (default /etc/tend.conf)"),
    ("check [-r ROOT] [FILE]", "     ", "check a table offline (users, groups from ROOT/etc)", ""),
    ("status [NAME...] [--json]", "  ", "show services: exit 0 all as wanted, 3 not, 4 unknown", ""),
    ("log NAME [-n N] [-f] [-t]", "  ", "show a log (tend: tend's own); -f follow, -t UTC", ""),
    ("start|stop|restart NAME...", " ", "start and keep running, stop until started, restart", ""),
    ("signal NAME SIG", "            ", "send SIG to the service's process group", ""),
    ("reload [--json]", "            ", "read the table again and apply what changed", ""),
    ("last-boot", "                  ", "how the previous boot ended, and what it kept", ""),
    ("reboot|poweroff|halt", "       ", "ask tend as PID 1 to shut down", ""),
}

/// `text`, as the bytes of [`HELP`] it is found at (the build fails when
/// it is not there).
pub const fn part(text: &[u8]) -> &'static [u8] {
    let found = at(text);
    assert!(found < HELP.len(), "not in HELP");
    match HELP.split_at_checked(found) {
        Some((_, rest)) => match rest.split_at_checked(text.len()) {
            Some((part, _)) => part,
            None => b"",
        },
        None => b"",
    }
}

/// Where `text` first is in [`HELP`] (past its end when it is not).
const fn at(text: &[u8]) -> usize {
    let mut rest = HELP;
    let mut i = 0;
    while !starts_with(rest, text) {
        match rest {
            [_, more @ ..] => rest = more,
            [] => return usize::MAX,
        }
        i += 1;
    }
    i
}

/// `text.starts_with(prefix)`, at compile time.
const fn starts_with(mut text: &[u8], mut prefix: &[u8]) -> bool {
    loop {
        match (text, prefix) {
            (_, []) => return true,
            ([a, t @ ..], [b, p @ ..]) if *a == *b => (text, prefix) = (t, p),
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names_of<'a>(req: &Request<'a>) -> Vec<&'a [u8]> {
        req.names().collect()
    }

    #[test]
    fn parses_the_command_line() {
        let req = parse(b"log -f svc -n 20 -t").unwrap();
        assert_eq!(req.verb, Verb::Log);
        assert!(req.follow && req.utc && !req.json);
        assert_eq!(req.lines, 20);
        assert_eq!(names_of(&req), [b"svc"]);
        // A number after -n is not a name, even one that could be.
        let req = parse(b"log -n 5 7").unwrap();
        assert_eq!((req.lines, names_of(&req)), (5, vec![b"7".as_slice()]));

        let req = parse(b"signal a-b_c.d@e HUP").unwrap();
        assert_eq!(req.signal, 1);
        assert_eq!(names_of(&req), [b"a-b_c.d@e"]);
        assert_eq!(parse(b"signal x sigkill").unwrap().signal, 9);
        assert_eq!(parse(b"signal x 64").unwrap().signal, 64);

        let req = parse(b"status a b").unwrap();
        assert_eq!(names_of(&req), [b"a", b"b"]);
        assert_eq!(req.count, 2);
        if cfg!(feature = "json") {
            let req = parse(b"status a --json b -j").unwrap();
            assert!(req.json);
            assert_eq!(names_of(&req), [b"a", b"b"]);
        }
        let req = parse(b"status").unwrap();
        assert_eq!((req.count, names_of(&req).len()), (0, 0));
        assert_eq!(names_of(&parse(b"stop a b c").unwrap()), [b"a", b"b", b"c"]);
        let many: Vec<u8> = (0..MAX_SERVICES)
            .flat_map(|i| format!(" s{i}").into_bytes())
            .collect();
        let line = [b"restart".as_slice(), &many].concat();
        let req = parse(&line).unwrap();
        assert_eq!(names_of(&req).len(), MAX_SERVICES);
        assert_eq!(names_of(&req)[MAX_SERVICES - 1], b"s63");
    }

    #[test]
    fn says_what_is_wrong() {
        let why = |line: &[u8]| String::from_utf8(parse(line).unwrap_err().to_vec()).unwrap();
        assert_eq!(why(b""), "unknown command");
        assert_eq!(why(b"explode"), "unknown command");
        assert_eq!(why(b"stat"), "unknown command");
        assert_eq!(why(b"status a/b"), "bad argument");
        assert_eq!(why(b"status \xff"), "bad argument");
        // An empty word, a word with a space (as the client sends it).
        assert_eq!(why(b"status "), "bad argument");
        assert_eq!(why(b"status a\nb"), "bad argument");
        assert_eq!(why(b"status  a"), "bad argument");
        assert_eq!(why(b"status -x"), "status [NAME...] [--json]");
        assert_eq!(why(b"status -t"), "status [NAME...] [--json]");
        assert_eq!(why(b"status -"), "status [NAME...] [--json]");
        assert_eq!(why(b"log"), "log NAME [-n N] [-f] [-t]");
        assert_eq!(why(b"log a b"), "log NAME [-n N] [-f] [-t]");
        assert_eq!(why(b"log a -j"), "log NAME [-n N] [-f] [-t]");
        assert_eq!(why(b"log a -n"), "log: -n takes a number of lines");
        assert_eq!(why(b"log a -n x"), "log: -n takes a number of lines");
        assert_eq!(
            why(b"log a -n 4294967296"),
            "log: -n takes a number of lines"
        );
        assert_eq!(why(b"start"), "start|stop|restart NAME...");
        assert_eq!(why(b"restart -f a"), "start|stop|restart NAME...");
        assert_eq!(why(b"signal a"), "signal NAME SIG");
        assert_eq!(why(b"signal -s 9 a"), "signal NAME SIG");
        assert_eq!(why(b"signal a 0"), "signal: unknown signal");
        assert_eq!(why(b"signal a 65"), "signal: unknown signal");
        assert_eq!(why(b"signal a -9"), "signal: unknown signal");
        assert_eq!(why(b"reboot a"), "reboot|poweroff|halt");
        let reload = if cfg!(feature = "reload") {
            "reload [--json]"
        } else {
            "reload: this tend is built without reload"
        };
        assert_eq!(why(b"reload a"), reload);
        assert_eq!(why(b"reload -f"), reload);
        if !cfg!(feature = "json") {
            assert_eq!(
                why(b"status -j"),
                "status: --json: this tend is built without json"
            );
        }
        let many: Vec<u8> = (0..=MAX_SERVICES)
            .flat_map(|i| format!(" s{i}").into_bytes())
            .collect();
        assert_eq!(
            why(&[b"status".as_slice(), &many].concat()),
            "too many names"
        );
    }

    #[test]
    fn accepts_every_verb() {
        for verb in VERBS {
            let word = verb.word();
            assert_eq!(Verb::from_word(word), Some(verb));
            let line = match verb {
                Verb::Status
                | Verb::Reload
                | Verb::Halt
                | Verb::Poweroff
                | Verb::Reboot
                | Verb::LastBoot => word.to_vec(),
                Verb::Signal => [word, &b" x TERM"[..]].concat(),
                _ => [word, &b" x"[..]].concat(),
            };
            if verb == Verb::Reload && !cfg!(feature = "reload")
                || verb == Verb::LastBoot && !cfg!(feature = "keep")
            {
                continue;
            }
            assert_eq!(parse(&line).unwrap().verb, verb);
        }
        let words: Vec<&[u8]> = VERBS.iter().map(|v| v.word()).collect();
        assert_eq!(
            words.concat(),
            b"statuslogstartstoprestartsignalreloadhaltpoweroffrebootlast-boot"
        );
        assert_eq!(Verb::from_word(b""), None);
        assert_eq!(Verb::from_word(b"stat"), None);
    }

    #[test]
    fn framing() {
        assert_eq!(frame(b"status"), Ok(None));
        assert_eq!(frame(b"status\nrest"), Ok(Some(6)));
        assert!(frame(&[b'x'; REQUEST_MAX_BYTES]).is_err());
    }

    #[test]
    fn names() {
        assert!(valid_name(b"getty@ttyS0"));
        assert!(!valid_name(b""));
        assert!(!valid_name(&[b'a'; NAME_MAX_BYTES]));
        assert!(valid_name(&[b'a'; NAME_MAX_BYTES - 1]));
        assert!(!valid_name(b"a b"));
    }
}
