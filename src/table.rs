//! The service table (`/etc/tend.conf`): parsing, validation and the
//! resolved form the supervisor runs from.
//!
//! Pure code: the caller hands in the file's bytes and an [`EtcAccounts`]
//! to resolve `user`/`group`, and gets a [`Table`] or errors as
//! `(line, message)`, which it prints as `FILE:LINE: message`.
//!
//! The parser fills the table's slots ([`Slot`]) directly: each service's
//! [`ServiceConf`] lives in its slot and nowhere else, beside the run-time
//! state tend keeps about it, and its strings in the one [`Pool`] they
//! share.

use crate::accounts::lines;
pub use crate::accounts::EtcAccounts;
use crate::argv::words;
use crate::conf::{Kind, Pool, Restart, ServiceConf, Span, SvcId};
use crate::limits::*;
use crate::slot::Slot;
use msg::Msg;
use section::*;

/// A loaded table: one slot per service, in file order (its conf filled in
/// here, the rest empty until tend runs it), and the strings they use.
// The settings first: written whenever a table loads, they share the
// first slots' page rather than take a page of their own past the pool.
#[repr(C)]
pub struct Table<F> {
    /// The `[tend]` section.
    pub settings: crate::settings::Settings,
    pub slots: heapless::Vec<Slot<F>, MAX_SERVICES>,
    pub pool: Pool,
}

// A slot's index is a `SvcId`, a byte.
const _: () = assert!(MAX_SERVICES <= u8::MAX as usize);

impl<F> Default for Table<F> {
    fn default() -> Self {
        Self::new()
    }
}

impl<F> Table<F> {
    pub const fn new() -> Self {
        Table {
            slots: heapless::Vec::new(),
            pool: Pool::new(),
            settings: crate::settings::Settings::new(),
        }
    }

    pub fn clear(&mut self) {
        self.slots.clear();
        self.pool.0.clear();
        self.settings = crate::settings::Settings::new();
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    pub fn get(&self, id: SvcId) -> Option<&Slot<F>> {
        self.slots.get(id.index())
    }

    /// The conf of service `id`.
    pub fn conf(&self, id: SvcId) -> Option<&ServiceConf> {
        self.get(id).map(|s| &s.conf)
    }

    /// The service called `name`.
    pub fn find(&self, name: &[u8]) -> Option<SvcId> {
        let at = self.slots.iter().position(|s| s.conf.name == name)?;
        Some(SvcId(at as u8))
    }

    /// Every service, in table order.
    pub fn ids(&self) -> impl Iterator<Item = SvcId> {
        (0..self.slots.len() as u8).map(SvcId)
    }
}

/// Reads a table from `src` into `table`, an empty one (new, or emptied by
/// [`Table::clear`]: every caller has one, and emptying it here would add a
/// loop dropping slots to every build), resolving `user` and `group`
/// through `acc`. Each error goes to `err` as its 1-based line and the
/// text of its message; the number of errors reported is returned. After
/// [`MAX_TABLE_ERRORS`] errors, a last `too many errors` ends the parse.
/// With any error the table's content is unspecified.
///
/// The first pass reads every line; the second resolves `after` names, which
/// may name later services (past too many errors, neither goes on); the
/// last looks for dependency cycles.
pub fn parse<F>(
    src: &[u8],
    acc: &EtcAccounts,
    table: &mut Table<F>,
    err: &mut dyn FnMut(u32, &[u8]),
) -> usize {
    debug_assert!(table.is_empty() && table.pool.0.is_empty());
    // Every default `chdir` shares this one string.
    add(&mut table.pool.0, b"/");
    let mut p = Parser {
        table,
        acc,
        errs: Errs {
            out: err,
            line: 0,
            count: 0,
        },
        sec: None,
        outside: true,
        log_total: u64::from(LOG_SELF_BYTES),
        said_log: false,
        said_pool: false,
        said_full: false,
        second: false,
        at: usize::MAX,
        next: 0,
    };
    // Each line numbered from 1, without outer blanks (nor `\r`).
    for second in [false, true] {
        (p.second, p.errs.line) = (second, 0);
        for text in lines(src) {
            if p.errs.done() {
                break;
            }
            p.errs.line += 1;
            p.line(text.trim_ascii());
        }
        p.end_section();
    }
    p.check_cycles();
    p.errs.count
}

pub(crate) mod section;

/// Every message: `%` stands for the offending text, `#` for a number.
pub(crate) mod msg {
    use crate::argv::Bad;

    /// A message: its index in [`TEXTS`] (one string for them all has no
    /// table of pointers, and an index passes in a byte).
    #[derive(Clone, Copy)]
    #[cfg_attr(test, derive(Debug, PartialEq))]
    pub struct Msg(u8);

    impl Msg {
        /// The message as kept: a byte from 1 to 31 stands for a piece of
        /// [`PIECES`] (see [`piece`]).
        pub fn text(self) -> &'static [u8] {
            crate::say::nth(&TEXTS, usize::from(self.0))
        }

        /// The message of a wrong `run` value.
        pub fn of(why: Bad) -> Msg {
            Msg(why as u8)
        }
    }

    // `Msg::of` holds: the messages of `Bad` come first, in its order.
    const _: () = assert!(
        QUOTE.0 == Bad::Quote as u8
            && DQUOTE.0 == Bad::DQuote as u8
            && BACKSLASH.0 == Bad::Backslash as u8
            && ARGS.0 == Bad::Args as u8
            && PROGRAM.0 == Bad::Program as u8
    );

    macro_rules! messages {
        ($($name:ident = $text:literal $(if $feature:literal)?,)*) => {
            #[allow(non_camel_case_types, clippy::upper_case_acronyms, dead_code)]
            enum Id {
                $($name,)*
            }
            /// Every message as written, and whether this tend has it: one
            /// marked with a cargo feature only in a tend built with it.
            const ALL: &[(&str, bool)] = &[$(($text, true $(&& cfg!(feature = $feature))?),)*];
            $($(#[cfg(feature = $feature)])? pub const $name: Msg = Msg(rank(Id::$name as usize));)*
        };
    }

    /// The number of a message: how many of those this tend has come
    /// before it.
    const fn rank(id: usize) -> u8 {
        let (mut n, mut i, mut rest) = (0, 0, ALL);
        while let [(_, has), more @ ..] = rest {
            if i == id {
                break;
            }
            (n, i, rest) = (n + *has as u8, i + 1, more);
        }
        n
    }

    /// The texts this tend has, in order, each followed by a NUL byte
    /// (read at build time only: [`TEXTS`] is what is kept); with no room
    /// in `out`, only their length.
    const fn plain(mut out: &mut [u8]) -> usize {
        let (mut n, mut rest) = (0, ALL);
        while let [(text, has), more @ ..] = rest {
            rest = more;
            if !*has {
                continue;
            }
            let mut text = text.as_bytes();
            while let [b, t @ ..] = text {
                if let [slot, after @ ..] = out {
                    *slot = *b;
                    out = after;
                }
                (text, n) = (t, n + 1);
            }
            // The NUL byte already there.
            if let [_, after @ ..] = out {
                out = after;
            }
            n += 1;
        }
        n
    }

    const PLAIN_BYTES: [u8; plain(&mut [])] = {
        let mut out = [0; plain(&mut [])];
        plain(&mut out);
        out
    };
    const PLAIN: &[u8] = &PLAIN_BYTES;

    /// Pieces of text the messages share, each followed by a NUL byte: in
    /// [`TEXTS`], the byte `k` (1 to 31) stands for the `k`th, so that each
    /// is kept once. The longest first: where two would fit, the first
    /// listed is taken.
    const PIECES: &[u8] = b" the # bytes tend is built with\0 use fd:3 to fd:255\0\
        first at line #)\0 an absolute path\0tend is built \0: at most 1 \0duplicate \0\
        expected \0, not \"%\"\0 (write \0\x20\"%\" is \0 more than\0watchdog-\0too many \0\
        unknown \0missing \0service\0 header\0ready:\0after:\0 name\0 byte\0 \"%\"\0\
        \x20or \0bad \0the \0run:\0env:\0key\0on\0s \0";

    /// The messages as kept: [`PLAIN`] with each of [`PIECES`] in it
    /// replaced by its byte.
    const TEXTS: [u8; pack(PLAIN, &mut [])] = {
        let mut out = [0; pack(PLAIN, &mut [])];
        pack(PLAIN, &mut out);
        out
    };

    /// The piece byte `b` stands for, or `b` itself.
    pub fn piece(b: &u8) -> &[u8] {
        match b {
            1..=31 => crate::say::nth(PIECES, usize::from(b - 1)),
            _ => core::slice::from_ref(b),
        }
    }

    /// Writes `plain` into `out`, each of [`PIECES`] replaced by its byte
    /// (as much as fits); returns the bytes it takes.
    const fn pack(mut plain: &[u8], mut out: &mut [u8]) -> usize {
        let mut n = 0;
        while let [first, rest @ ..] = plain {
            // The first piece there, if any, and its byte.
            let mut pieces = PIECES;
            let mut code = 1u8;
            let mut took: &[u8] = rest;
            let mut byte = *first;
            while !pieces.is_empty() {
                let (piece, more) = word(pieces);
                if let Some(after) = strip(plain, piece) {
                    assert!(code < 32, "at most 31 pieces");
                    (took, byte) = (after, code);
                    break;
                }
                (pieces, code) = (more, code + 1);
            }
            if let [slot, after @ ..] = out {
                *slot = byte;
                out = after;
            }
            plain = took;
            n += 1;
        }
        n
    }

    /// The first of the NUL-ended words of `list`, and the rest.
    const fn word(list: &[u8]) -> (&[u8], &[u8]) {
        let mut rest = list;
        let mut i = 0;
        while let [b, more @ ..] = rest {
            if *b == 0 {
                break;
            }
            (rest, i) = (more, i + 1);
        }
        match list.split_at_checked(i) {
            Some((word, [_, rest @ ..])) => (word, rest),
            Some((word, [])) => (word, &[]),
            None => (list, &[]),
        }
    }

    /// `text` without `prefix` at its start, if it starts so.
    const fn strip<'t>(mut text: &'t [u8], mut prefix: &[u8]) -> Option<&'t [u8]> {
        loop {
            match (text, prefix) {
                (_, []) => return Some(text),
                ([a, t @ ..], [b, p @ ..]) if *a == *b => (text, prefix) = (t, p),
                _ => return None,
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn every_message_unpacks_to_its_text() {
            let count = PLAIN.iter().filter(|&&b| b == 0).count();
            assert_eq!(TEXTS.iter().filter(|&&b| b == 0).count(), count);
            for i in 0..count {
                let plain = crate::say::nth(PLAIN, i);
                let text = Msg(i as u8).text();
                let got: Vec<u8> = text.iter().flat_map(piece).copied().collect();
                assert_eq!(got, plain, "{}", String::from_utf8_lossy(plain));
                assert!(text.len() <= plain.len());
            }
            // Every piece is in some message, so each pays for itself (in
            // a tend with every feature: some are in a feature's messages
            // only).
            for piece in PIECES.split(|&b| b == 0).filter(|p| !p.is_empty()) {
                let used = ALL
                    .iter()
                    .any(|(text, _)| text.as_bytes().windows(piece.len()).any(|w| w == piece));
                assert!(
                    used,
                    "piece {:?} is not used",
                    String::from_utf8_lossy(piece)
                );
            }
            // And kept: in a tend with every message, each piece's byte.
            if ALL.iter().all(|&(_, has)| has) {
                let pieces = PIECES.iter().filter(|&&b| b == 0).count();
                for code in 1..=pieces as u8 {
                    assert!(TEXTS.contains(&code), "piece {code} is not used");
                }
            }
        }
    }

    messages! {
        // Why a `run` value is wrong: first, in the order of `argv::Bad`.
        QUOTE = "run: missing closing '",
        DQUOTE = "run: missing closing \"",
        BACKSLASH = "run: trailing backslash",
        ARGS = "run: more than # arguments",
        PROGRAM = "run: the program must be an absolute path or a bare name",
        NUL = "the line holds a NUL byte",
        KEY_OUTSIDE = "key \"%\" comes before any [service] header",
        OUTSIDE = "expected a [service] header, not \"%\"",
        NOT_PAIR = "expected \"key = value\", not \"%\"",
        HEADER = "bad section header \"%\"",
        LONG_NAME = "service name \"%\" is longer than # bytes",
        NAME = "bad service name \"%\" (use letters, digits and _ . @ -)",
        RESERVED = "the name \"%\" is reserved for tend's own log",
        DUP_TEND = "a second [tend] section (the first at line #)",
        DUP_SERVICE = "duplicate service \"%\" (first at line #)",
        SERVICES = "too many services (tend is built for #)",
        NO_RUN = "[%] has no run line",
        POOL = "the table's strings exceed the # bytes tend is built with",
        NO_KEY = "missing key before \"=\"",
        KEY = "unknown key \"%\"",
        DUP_KEY = "duplicate key \"%\"",
        WITHOUT_FEATURE = "%: this tend is built without ",
        NO_VALUE = "%: missing value",
        TYPE = "type: expected daemon or oneshot, not \"%\"",
        RESTART = "restart: expected always, on-failure or never, not \"%\"",
        AFTER_SELF = "after: \"%\" is this service itself",
        AFTER_MANY = "after: more than # names",
        AFTER = "after: no service named \"%\"",
        CYCLE = "dependency cycle: %",
        READY = "ready: expected none or fd:N, not \"%\"",
        READY_STDIO = "ready: fds 0 to 2 are stdio; use fd:3 to fd:255",
        READY_FD = "ready: use fd:3 to fd:255",
        READY_ONESHOT = "ready: a oneshot cannot declare readiness (it is done when it exits 0)",
        LOG_MIN = "log: at least 256 bytes, or 0",
        LOG_ARENA = "log: the rings would need more than the # bytes tend is built with",
        SIZE = "bad size \"%\" (write 4096, 16k or 1m)",
        CONSOLE = "console: expected yes or no, not \"%\"",
        USER = "unknown user \"%\"",
        GROUP = "unknown group \"%\"",
        ENV = "env: expected KEY=VALUE, not \"%\"",
        ENV_NAME = "env: bad variable name \"%\"",
        ENV_TWICE = "env: \"%\" is set twice",
        ENV_MANY = "env: more than # entries",
        CHDIR = "chdir: \"%\" is not an absolute path",
        SIGNAL = "stop-signal: unknown signal \"%\"",
        DURATION = "bad duration \"%\" (write 500ms, 5s or 2m)",
        TIMEOUT_MAX = "stop-timeout: at most 1 hour",
        CRITICAL = "critical: expected yes or no, not \"%\"" if "watchdog",
        WATCHDOG_TIMEOUT = "watchdog-timeout: from 1s to 1 hour" if "watchdog",
        WATCHDOG_GRACE = "watchdog-grace: at most 1 day" if "watchdog",
        KEEP = "keep: \"%\" is not an absolute path" if "keep",
        TOO_MANY = "too many errors",
        LISTEN = "listen: expected tcp:ADDR:PORT, udp:ADDR:PORT or unix:/PATH, not \"%\"" if "listen",
        ACCEPT = "accept: expected yes or no, not \"%\"" if "listen",
        ACCEPT_LISTEN = "accept: needs a listen on tcp or unix" if "listen",
        ACCEPT_KIND = "accept: not with type = oneshot, nor with ready" if "listen",
        READY_LISTEN = "ready: fd:3 is the listening socket" if "listen",
        INSTANCES = "instances: from 1 to #" if "listen",
    }
}

/// Errors, counted and capped.
struct Errs<'e> {
    out: &'e mut dyn FnMut(u32, &[u8]),
    /// Where errors are reported: the line being read, or the line an
    /// error found later is about.
    line: u32,
    count: usize,
}

impl Errs<'_> {
    /// Past [`MAX_TABLE_ERRORS`], the last said `too many errors`.
    fn done(&self) -> bool {
        self.count > MAX_TABLE_ERRORS
    }

    /// Reports `msg` at `line` with its `%` replaced by `text` and its `#`
    /// by `n`, in one part of at most 512 bytes (the most `load` prints of
    /// any message).
    fn put(&mut self, line: u32, msg: Msg, text: &[u8], n: usize) {
        self.put_then(line, msg, text, n, b"");
    }

    /// [`Errs::put`], `tail` after the message; past the last error that
    /// is said, `too many errors` instead.
    #[inline(never)]
    fn put_then(&mut self, line: u32, msg: Msg, text: &[u8], n: usize, tail: &[u8]) {
        if self.done() {
            return;
        }
        self.count += 1;
        let (msg, tail) = match self.done() {
            true => (msg::TOO_MANY, &b""[..]),
            false => (msg, tail),
        };
        let mut out = crate::say::Buf::<512>::new();
        for b in msg.text() {
            for &b in msg::piece(b) {
                match b {
                    b'%' => out.s(text),
                    b'#' => out.u(n as u64),
                    _ => out.byte(b),
                };
            }
        }
        out.s(tail);
        (self.out)(line, out.as_bytes());
    }

    /// Reports `msg` on the current line, about `text` and `n`.
    #[inline(never)]
    fn say(&mut self, msg: Msg, text: &[u8], n: usize) {
        self.put(self.line, msg, text, n);
    }

    /// Reports `msg` on the current line, about `text`.
    #[inline(never)]
    fn at(&mut self, msg: Msg, text: &[u8]) {
        self.put(self.line, msg, text, 0);
    }

    /// Reports `msg` about `text`, then `last`.
    fn at2(&mut self, text: &[u8], msg: Msg, last: &[u8]) {
        self.put_then(self.line, msg, text, 0, last);
    }
}

struct Parser<'t, 'a, 'e, F> {
    table: &'t mut Table<F>,
    acc: &'a EtcAccounts<'a>,
    errs: Errs<'e>,
    /// The section being read: none before the first header or after a
    /// refused one, whose lines are skipped.
    sec: Option<Section<'a>>,
    /// No header yet.
    outside: bool,
    /// Bytes of every ring so far, tend's own included.
    log_total: u64,
    /// Errors said once per table: [`msg::LOG_ARENA`], [`msg::POOL`],
    /// [`msg::SERVICES`].
    said_log: bool,
    said_pool: bool,
    said_full: bool,
    /// The second pass, the slot of the section it reads (`usize::MAX`,
    /// none, for one refused, or the `[tend]` section), and that of the
    /// next service.
    second: bool,
    at: usize,
    next: usize,
}

enum Line<'a> {
    Blank,
    /// `[…]` and what is inside the brackets, or `None` when a line starts
    /// with `[` but does not end with `]`.
    Header(Option<&'a [u8]>),
    Pair(&'a [u8], &'a [u8]),
    Other,
}

fn classify(text: &[u8]) -> Line<'_> {
    let Some((&first, rest)) = text.split_first() else {
        return Line::Blank;
    };
    match first {
        b'#' => Line::Blank,
        b'[' => Line::Header(match rest.split_last() {
            Some((b']', inner)) => Some(inner),
            _ => None,
        }),
        _ => match text.iter().position(|&b| b == b'=') {
            Some(at) => {
                let key = text.get(..at).unwrap_or(&[]);
                let value = text.get(at + 1..).unwrap_or(&[]);
                Line::Pair(key.trim_ascii(), value.trim_ascii())
            }
            None => Line::Other,
        },
    }
}

/// A new section, begun at `line`, in `sec`: a service's with its
/// defaults (the `[tend]` section's uses none of them).
fn open<'s, 'a>(sec: &'s mut Option<Section<'a>>, line: u32) -> &'s mut Section<'a> {
    sec.insert(Section {
        conf: ServiceConf {
            line,
            log_bytes: LOG_DEFAULT_BYTES,
            stop_signal: STOP_SIGNAL_DEFAULT,
            stop_timeout_ms: STOP_TIMEOUT_DEFAULT_MS,
            #[cfg(feature = "listen")]
            instances: INSTANCES_DEFAULT,
            ..ServiceConf::default()
        },
        log_line: line,
        ..Section::default()
    })
}

/// Reports `msg` at `line` about `n`, unless `said` (once per table).
#[inline(never)]
fn once(said: &mut bool, errs: &mut Errs<'_>, line: u32, msg: Msg, n: usize) {
    if !core::mem::replace(said, true) {
        errs.put(line, msg, b"", n);
    }
}

impl<'a, F> Parser<'_, 'a, '_, F> {
    /// Reads a line; in the second pass, only headers and `after`.
    #[inline(never)]
    fn line(&mut self, text: &'a [u8]) {
        let second = self.second;
        if crate::say::has(text, 0) {
            if !second {
                self.errs.at(msg::NUL, b"");
            }
            return;
        }
        let errs = &mut self.errs;
        match (classify(text), &mut self.sec) {
            // The slots are in the order of their headers: the next one's
            // header, if this header was not refused.
            (Line::Header(_), _) if second => {
                let next = self.next;
                let slot = self.table.slots.get(next);
                let ours = slot.is_some_and(|s| s.conf.line == errs.line);
                self.at = if ours { next } else { usize::MAX };
                self.next += ours as usize;
            }
            // (A list: smaller than a match on the bytes.)
            (Line::Pair(key, value), _)
                if second && crate::say::position(b"after\0", key).is_some() =>
            {
                for name in after_names(value) {
                    self.add_after(name);
                }
            }
            _ if second => {}
            (Line::Blank, _) => {}
            (Line::Header(inner), _) => {
                self.end_section();
                self.outside = false;
                self.header(text, inner);
            }
            (Line::Pair(key, value), Some(sec)) => sec.pair(key, value, self.acc, errs),
            (Line::Other, Some(_)) => errs.at(msg::NOT_PAIR, text),
            // Only the first line before any header is reported.
            (Line::Pair(key, _), None) if self.outside => {
                self.outside = false;
                errs.at(msg::KEY_OUTSIDE, key);
            }
            (Line::Other, None) if self.outside => {
                self.outside = false;
                errs.at(msg::OUTSIDE, text);
            }
            (_, None) => {}
        }
    }

    fn header(&mut self, text: &'a [u8], inner: Option<&'a [u8]>) {
        let errs = &mut self.errs;
        let slots = &self.table.slots;
        let Some(name) = inner else {
            return errs.at(msg::HEADER, text);
        };
        // By index: the names of tend's own rings, `tend` and `syslog`.
        let own = crate::say::position(b"tend\0syslog\0", name);
        if name.len() >= NAME_MAX_BYTES {
            errs.say(msg::LONG_NAME, name, NAME_MAX_BYTES - 1);
        } else if !crate::proto::valid_name(name) {
            errs.at(msg::NAME, name);
        } else if own == Some(0) {
            match self.table.settings.line {
                0 => {
                    self.table.settings.line = errs.line;
                    open(&mut self.sec, errs.line).tend = true;
                }
                first => errs.say(msg::DUP_TEND, b"", first as usize),
            }
        } else if own.is_some() {
            errs.at(msg::RESERVED, name);
        } else if let Some(first) = self.table.find(name).and_then(|id| self.table.conf(id)) {
            let first = first.line as usize;
            errs.say(msg::DUP_SERVICE, name, first);
        } else if slots.is_full() {
            once(
                &mut self.said_full,
                errs,
                errs.line,
                msg::SERVICES,
                MAX_SERVICES,
            );
        } else {
            let sec = open(&mut self.sec, errs.line);
            // Cannot fail: the name is shorter than NAME_MAX_BYTES. (Byte by
            // byte: smaller than `extend_from_slice`.)
            for &b in name {
                let _ = sec.conf.name.push(b);
            }
        }
    }

    /// Checks the section just read, applies its defaults and adds it to the
    /// table.
    fn end_section(&mut self) {
        let add = self.close_section();
        let slots = &mut self.table.slots;
        // A header is refused when the table is full (this check spares
        // the code of a failed push; what a push that cannot fail hands
        // back, a slot with no descriptor, needs no drop code).
        if add && slots.len() < MAX_SERVICES {
            if let Some(sec) = self.sec.take() {
                core::mem::forget(slots.push(Slot::new(sec.conf)));
            }
        }
        self.sec = None;
    }

    /// Checks the section just read where it is, in `sec`, and applies
    /// its defaults; whether it is a service's, to be added. (Taking it
    /// out of `sec` first copied it whole, and its conf twice more on the
    /// way to its slot; now only the conf moves, once.)
    fn close_section(&mut self) -> bool {
        let Some(sec) = &mut self.sec else {
            return false;
        };
        let errs = &mut self.errs;
        if sec.tend {
            self.end_tend();
            return false;
        }
        let conf = &mut sec.conf;
        // A `run` line that was wrong has been reported already.
        if sec.seen & RUN_SEEN == 0 {
            errs.put(conf.line, msg::NO_RUN, &conf.name, 0);
        }
        // Unless the table says, a daemon restarts always, a oneshot never
        // (tend.conf(5)).
        if sec.seen & RESTART_SEEN == 0 && conf.kind == Kind::Oneshot {
            conf.restart = Restart::Never;
        }
        if conf.kind == Kind::Oneshot && conf.ready_fd.is_some() {
            errs.put(sec.ready_line, msg::READY_ONESHOT, b"", 0);
        }
        // `accept` needs a stream socket to accept on (of `tcp:`, `udp:`
        // and `unix:`, `udp:` alone has a `d` second).
        #[cfg(feature = "listen")]
        if conf.accept && sec.listen.is_none_or(|l| l.get(1) == Some(&b'd')) {
            errs.put(sec.accept_line, msg::ACCEPT_LISTEN, b"", 0);
        }
        // Instances are not the service's own process: nothing of theirs
        // ends a oneshot or says the service is ready.
        #[cfg(feature = "listen")]
        if conf.accept && (conf.kind == Kind::Oneshot || conf.ready_fd.is_some()) {
            errs.put(sec.accept_line, msg::ACCEPT_KIND, b"", 0);
        }
        // Without accept, the socket is the service's fd 3.
        #[cfg(feature = "listen")]
        if !conf.accept && sec.listen.is_some() && conf.ready_fd == Some(3) {
            errs.put(sec.ready_line, msg::READY_LISTEN, b"", 0);
        }
        let (bytes, line) = (conf.log_bytes.into(), sec.log_line);
        self.count_log(bytes, line);
        let Some(sec) = &mut self.sec else {
            return false;
        };
        let pool = &mut self.table.pool.0;
        let mark = pool.len();
        if !sec.store(pool) {
            pool.truncate(mark);
            once(
                &mut self.said_pool,
                &mut self.errs,
                sec.conf.line,
                msg::POOL,
                POOL_BYTES,
            );
        }
        sec.resolve_identity();
        true
    }

    /// The `[tend]` section just read: its paths into the pool, with a NUL
    /// byte (tend opens them), and the ring `syslog` counted with the
    /// services' rings.
    fn end_tend(&mut self) {
        // A tend built without them has no key of the section to keep.
        if !cfg!(any(
            feature = "syslog",
            feature = "watchdog",
            feature = "keep"
        )) {
            return;
        }
        let Some(sec) = &self.sec else {
            return;
        };
        let pool = &mut self.table.pool.0;
        let settings = &mut self.table.settings;
        let line = settings.line;
        settings.watchdog_timeout = sec.watchdog_timeout;
        settings.watchdog_grace = sec.watchdog_grace;
        // (One not given gets an empty span, as good as none.)
        let fits = add_all(pool, sec.syslog.as_slice(), &mut settings.syslog)
            & add_all(pool, sec.watchdog.as_slice(), &mut settings.watchdog)
            & add_all(pool, sec.keep.as_slice(), &mut settings.keep);
        if !fits {
            once(
                &mut self.said_pool,
                &mut self.errs,
                line,
                msg::POOL,
                POOL_BYTES,
            );
        }
        if sec.syslog.is_some() {
            self.count_log(SYSLOG_RING_BYTES as u64, line);
        }
    }

    /// Counts a ring of `bytes` (given on `line`) with the others: past
    /// what the arena holds, an error, once per table.
    #[inline(never)]
    fn count_log(&mut self, bytes: u64, line: u32) {
        // (At most 65 rings of at most 4 GiB each: no overflow.)
        self.log_total += bytes;
        if self.log_total > LOG_ARENA_BYTES as u64 {
            let (said, errs) = (&mut self.said_log, &mut self.errs);
            once(said, errs, line, msg::LOG_ARENA, LOG_ARENA_BYTES);
        }
    }

    // A plain loop, where `contains` brings in an unrolled search.
    #[allow(clippy::manual_contains)]
    /// In the second pass, adds `name` to the `after` of the section read.
    fn add_after(&mut self, name: &[u8]) {
        let at = self.at;
        let target = self.table.find(name);
        let Some(sec) = self.table.slots.get_mut(at).map(|s| &mut s.conf) else {
            return;
        };
        match target {
            // The first pass reported a service naming itself (names are
            // unique: it is the one found), and a list that overflows.
            Some(id) if id.index() == at || sec.after.iter().any(|&a| a == id) => {}
            Some(id) => {
                let _ = sec.after.push(id);
            }
            None => self.errs.at(msg::AFTER, name),
        }
    }

    /// Reports each dependency cycle once, at the header of the service
    /// where the search found it closing (depth first, in table order).
    fn check_cycles(&mut self) {
        let mut search = Search {
            slots: &self.table.slots,
            errs: &mut self.errs,
            seen: 0,
            on_path: 0,
            path: heapless::Vec::new(),
        };
        for root in 0..search.slots.len() {
            if search.seen & bit(root) == 0 {
                search.visit(root);
            }
        }
    }
}

// A service is a bit of a `u64` (see `Search`).
const _: () = assert!(MAX_SERVICES <= 64);

/// The bit of service `n` in [`Search`]'s sets.
fn bit(n: usize) -> u64 {
    1 << (n & 63)
}

/// The depth-first search for dependency cycles.
struct Search<'s, 'e, F> {
    slots: &'s [Slot<F>],
    errs: &'s mut Errs<'e>,
    /// The services visited, and those on the path explored, a bit each.
    seen: u64,
    on_path: u64,
    /// The services on the path explored, from its root.
    path: heapless::Vec<SvcId, MAX_SERVICES, u8>,
}

impl<F> Search<'_, '_, F> {
    /// Explores what `node` comes after, in the order of its `after`
    /// (depth at most [`MAX_SERVICES`]: a service goes on the path once).
    fn visit(&mut self, node: usize) {
        let Some(slot) = self.slots.get(node) else {
            return;
        };
        self.seen |= bit(node);
        self.on_path |= bit(node);
        // (`node` is below MAX_SERVICES: its slot is there.)
        let _ = self.path.push(SvcId(node as u8));
        for next in slot.conf.after.iter().map(|id| id.index()) {
            if self.on_path & bit(next) != 0 {
                report_cycle(self.errs, self.slots, &self.path, next);
            } else if self.seen & bit(next) == 0 {
                self.visit(next);
            }
        }
        self.path.pop();
        self.on_path &= !bit(node);
    }
}

/// Reports the dependency cycle that `path` closes by returning to `to`.
fn report_cycle<F>(errs: &mut Errs<'_>, slots: &[Slot<F>], path: &[SvcId], to: usize) {
    let name = |n: usize| slots.get(n).map_or(&b"?"[..], |s| s.conf.name.as_slice());
    let from = path.iter().position(|n| n.index() == to).unwrap_or(0);
    // As long as any message can be: `load` prints at most 512 bytes.
    let mut text = crate::say::Buf::<512>::new();
    for n in path.get(from..).unwrap_or(&[]) {
        text.s(name(n.index())).s(b" -> ");
    }
    text.s(name(to));
    let line = slots.get(to).map_or(0, |s| s.conf.line);
    errs.put(line, msg::CYCLE, text.as_bytes(), 0);
}

const _: () = assert!(POOL_BYTES <= u16::MAX as usize);

/// Adds `text` and a NUL byte to `pool`; false when they do not fit.
#[inline(never)]
fn add(pool: &mut heapless::Vec<u8, POOL_BYTES>, text: &[u8]) -> bool {
    pool.extend_from_slice(text).is_ok() && pool.push(0).is_ok()
}

/// Adds each of `texts` and a NUL byte to `pool`, their span to `to`
/// (what fitted, when not all did: the table then has an error); false
/// when they do not fit.
#[inline(never)]
fn add_all(pool: &mut heapless::Vec<u8, POOL_BYTES>, texts: &[&[u8]], to: &mut Span) -> bool {
    let start = pool.len();
    let mut fits = true;
    for text in texts {
        fits &= add(pool, text);
    }
    *to = span(pool, start);
    fits
}

/// The span of `pool` from `start` to its end.
#[inline(never)]
fn span(pool: &heapless::Vec<u8, POOL_BYTES>, start: usize) -> Span {
    // (The pool's offsets fit 16 bits.)
    let off = start as u16;
    let len = (pool.len() - start) as u16;
    Span { off, len }
}

/// How many keys a service section has, the `[tend]` section's not counted
/// (tests elsewhere check they cover them all).
#[cfg(all(test, feature = "reload"))]
pub(crate) fn key_count() -> usize {
    section::KEYS.len() - section::TEND.count_ones() as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::argv::Bad;

    /// A table as the parser fills it, without descriptors.
    type Table = super::Table<()>;

    /// Users: root 0/0, sensor 1001/1001 (also in i2c 50 and dialout 20),
    /// www 33/33. Groups: i2c 50, dialout 20, sensor 1001, www 33.
    const FAKE: EtcAccounts = EtcAccounts {
        passwd: b"root:x:0:0::/:\nsensor:x:1001:1001::/:\nwww:x:33:33::/:\n",
        group: b"i2c:x:50:sensor\ndialout:x:20:sensor\nsensor:x:1001:\nwww:x:33:\n",
    };

    fn load_with(src: &str, acc: &EtcAccounts) -> (Box<Table>, Vec<(u32, String)>) {
        let mut table = Box::new(Table::new());
        let mut errs = Vec::new();
        let n = parse(src.as_bytes(), acc, &mut table, &mut |line, parts| {
            errs.push((line, String::from_utf8(parts.to_vec()).unwrap()));
        });
        assert_eq!(n, errs.len());
        (table, errs)
    }

    fn load(src: &str) -> (Box<Table>, Vec<(u32, String)>) {
        load_with(src, &FAKE)
    }

    fn errors(lines: &[&str]) -> Vec<(u32, String)> {
        load(&lines.join("\n")).1
    }

    #[track_caller]
    fn good(lines: &[&str]) -> Box<Table> {
        let (t, errs) = load(&lines.join("\n"));
        assert!(errs.is_empty(), "{errs:?}");
        t
    }

    /// The one error `lines` hold.
    #[track_caller]
    fn error(lines: &[&str]) -> (u32, String) {
        let errs = errors(lines);
        assert_eq!(errs.len(), 1, "{errs:?}");
        errs.into_iter().next().unwrap()
    }

    fn e(line: u32, msg: &str) -> (u32, String) {
        (line, msg.to_string())
    }

    fn svc<'t>(t: &'t Table, name: &str) -> &'t ServiceConf {
        t.conf(t.find(name.as_bytes()).unwrap()).unwrap()
    }

    fn texts<'t>(it: impl Iterator<Item = &'t [u8]>) -> Vec<String> {
        it.map(|s| String::from_utf8(s.to_vec()).unwrap()).collect()
    }

    fn argv(t: &Table, name: &str) -> Vec<String> {
        texts(t.pool.strings(svc(t, name).argv))
    }

    fn env(t: &Table, name: &str) -> Vec<String> {
        texts(t.pool.strings(svc(t, name).env))
    }

    fn after(t: &Table, name: &str) -> Vec<String> {
        svc(t, name)
            .after
            .iter()
            .map(|&id| String::from_utf8(t.conf(id).unwrap().name.to_vec()).unwrap())
            .collect()
    }

    fn split(text: &str) -> Result<Vec<String>, Bad> {
        let mut out = vec![Vec::new()];
        let argc = words(text.as_bytes(), &mut |p| match p {
            Some(b) => out.last_mut().unwrap().push(b),
            None => out.push(Vec::new()),
        })?;
        out.pop();
        assert_eq!(usize::from(argc), out.len());
        Ok(out
            .into_iter()
            .map(|a| String::from_utf8(a).unwrap())
            .collect())
    }

    const EXAMPLE: &str = "\
[mount]
type = oneshot
run = /bin/mount -a

[ntpd]
run = /usr/sbin/ntpd -n -p pool.ntp.org
after = mount

[dropbear]
run = /usr/sbin/dropbear -F -E -p 22
after = mount
log = 16k

[sensord]
run = /usr/bin/sensord --notify-fd 3
ready = fd:3
user = sensor
env = SENSORD_BUS=/dev/i2c-1

[getty]
run = /sbin/getty -L 115200 console vt100
console = yes
";

    #[test]
    fn the_design_example_loads() {
        let (t, errs) = load(EXAMPLE);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(t.len(), 5);
        assert!(!t.is_empty());
        let names: Vec<_> = t
            .ids()
            .map(|id| String::from_utf8(t.conf(id).unwrap().name.to_vec()).unwrap())
            .collect();
        assert_eq!(names, ["mount", "ntpd", "dropbear", "sensord", "getty"]);
        assert_eq!(t.find(b"sensord"), Some(SvcId(3)));
        assert_eq!(t.find(b"nope"), None);
        assert!(t.conf(SvcId(5)).is_none());

        let mount = svc(&t, "mount");
        assert_eq!(mount.line, 1);
        assert_eq!(mount.kind, Kind::Oneshot);
        assert_eq!(mount.restart, Restart::Never);
        assert_eq!(argv(&t, "mount"), ["/bin/mount", "-a"]);
        assert_eq!(mount.argc, 2);
        assert_eq!(t.pool.bytes(mount.argv), b"/bin/mount\0-a\0");

        let ntpd = svc(&t, "ntpd");
        assert_eq!(ntpd.line, 5);
        assert_eq!(ntpd.kind, Kind::Daemon);
        assert_eq!(ntpd.restart, Restart::Always);
        assert_eq!(
            argv(&t, "ntpd"),
            ["/usr/sbin/ntpd", "-n", "-p", "pool.ntp.org"]
        );
        assert_eq!(after(&t, "ntpd"), ["mount"]);
        assert_eq!(ntpd.log_bytes, LOG_DEFAULT_BYTES);

        assert_eq!(svc(&t, "dropbear").log_bytes, 16 * 1024);
        assert_eq!(after(&t, "dropbear"), ["mount"]);

        let sensord = svc(&t, "sensord");
        assert_eq!(sensord.ready_fd, Some(3));
        assert_eq!(sensord.ident.uid, Some(1001));
        assert_eq!(sensord.ident.gid, Some(1001));
        assert_eq!(sensord.ident.groups.as_slice(), [1001, 50, 20]);
        assert_eq!(env(&t, "sensord"), ["SENSORD_BUS=/dev/i2c-1"]);
        assert_eq!(sensord.envc, 1);
        assert!(sensord.after.is_empty());

        let getty = svc(&t, "getty");
        assert!(getty.console);
        assert_eq!(getty.argc, 5);
        assert!(!svc(&t, "ntpd").console);
        for id in t.ids() {
            let s = t.conf(id).unwrap();
            assert_eq!(t.pool.bytes(s.chdir), b"/\0");
            assert_eq!(s.stop_signal, 15);
            assert_eq!(s.stop_timeout_ms, STOP_TIMEOUT_DEFAULT_MS);
            if s.name.as_slice() != b"sensord" {
                assert!(
                    s.ident.uid.is_none() && s.ident.gid.is_none() && s.ident.groups.is_empty()
                );
                assert_eq!(s.ready_fd, None);
                assert_eq!(s.envc, 0);
                assert_eq!(t.pool.strings(s.env).count(), 0);
            }
        }
    }

    #[test]
    #[cfg(all(
        feature = "syslog",
        feature = "watchdog",
        feature = "keep",
        feature = "listen"
    ))]
    fn every_key_has_one_row_and_run_comes_first() {
        // A new Key without a slot here does not build.
        let slot = |k: Key| match k {
            Key::Run => 0,
            Key::Type => 1,
            Key::Restart => 2,
            Key::After => 3,
            Key::Ready => 4,
            Key::Log => 5,
            Key::Console => 6,
            Key::User => 7,
            Key::Group => 8,
            Key::Env => 9,
            Key::Chdir => 10,
            Key::StopSignal => 11,
            Key::StopTimeout => 12,
            Key::Critical => 13,
            Key::Listen => 14,
            Key::Accept => 15,
            Key::Instances => 16,
            Key::Syslog => 17,
            Key::Watchdog => 18,
            Key::WatchdogTimeout => 19,
            Key::WatchdogGrace => 20,
            Key::Keep => 21,
        };
        let mut rows = [0; 22];
        for def in &DEFS {
            rows[slot(def.key)] += 1;
            assert!(
                def.feature.is_none_or(|(_, built)| built),
                "every feature is in the default build"
            );
        }
        assert_eq!(rows, [1; 22]);
        assert_eq!(DEFS[0].key, Key::Run);
        assert_eq!(RUN_SEEN, 1);
        let names: Vec<&[u8]> = DEFS.iter().map(|d| d.name).collect();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
        // The tables made of DEFS for the parser.
        let joined: Vec<&[u8]> = KEY_NAMES.split(|&b| b == 0).collect();
        assert_eq!(joined[..22], names[..]);
        assert_eq!(joined[22], b"");
        assert_eq!(KEYS.map(slot), core::array::from_fn(|i| i));
        assert_eq!(REPEAT, 1 << slot(Key::After) | 1 << slot(Key::Env));
        assert_eq!(RESTART_SEEN, 1 << slot(Key::Restart));
        // Only listen's keys are left out by default.
        let listen = 1 << slot(Key::Listen) | 1 << slot(Key::Accept) | 1 << slot(Key::Instances);
        assert_eq!(LEFT_OUT, if cfg!(feature = "listen") { 0 } else { listen });
        // The feature of each key this tend is built without, up to the
        // last one.
        let features: Vec<&[u8]> = (0..22).map(|i| crate::say::nth(&FEATURES, i)).collect();
        let want: Vec<&[u8]> = [&b""[..]; 13]
            .into_iter()
            .chain([
                &b"watchdog"[..],
                b"listen",
                b"listen",
                b"listen",
                b"syslog",
                b"watchdog",
                b"watchdog",
                b"watchdog",
                b"keep",
            ])
            .enumerate()
            .map(|(i, f)| if LEFT_OUT >> i & 1 != 0 { f } else { b"" })
            .collect();
        assert_eq!(features, want);
        let last = (0..22).filter(|i| LEFT_OUT >> i & 1 != 0).max();
        let end = last.map_or(0, |i| want[..=i].iter().map(|f| f.len() + 1).sum());
        assert_eq!(FEATURES.len(), end);
        // The keys of the [tend] section, and only they, are marked so.
        let tend = [
            Key::Syslog,
            Key::Watchdog,
            Key::WatchdogTimeout,
            Key::WatchdogGrace,
            Key::Keep,
        ];
        assert_eq!(TEND, tend.iter().map(|&k| 1u32 << slot(k)).sum::<u32>());
    }

    #[test]
    fn every_key_is_stored() {
        let t = good(&[
            "[web]",
            "run = httpd -f -p 8080",
            "type = daemon",
            "restart = on-failure",
            "ready = fd:255",
            "log = 0",
            "console = no",
            "user = www",
            "group = dialout",
            "env = A=1",
            "env = EMPTY=",
            "env = PATH=/opt/bin:/bin",
            "env = SPACES= a  b ",
            "chdir = /srv/my www",
            "stop-signal = SIGquit",
            "stop-timeout = 1500ms",
        ]);
        let s = svc(&t, "web");
        assert_eq!(argv(&t, "web"), ["httpd", "-f", "-p", "8080"]);
        assert_eq!(s.restart, Restart::OnFailure);
        assert_eq!(s.ready_fd, Some(255));
        assert_eq!(s.log_bytes, 0);
        assert!(!s.console);
        assert_eq!((s.ident.uid, s.ident.gid), (Some(33), Some(20)));
        assert_eq!(s.ident.groups.as_slice(), [20]);
        assert_eq!(
            env(&t, "web"),
            ["A=1", "EMPTY=", "PATH=/opt/bin:/bin", "SPACES= a  b"]
        );
        assert_eq!(s.envc, 4);
        assert_eq!(t.pool.bytes(s.chdir), b"/srv/my www\0");
        assert_eq!(texts(t.pool.strings(s.chdir)), ["/srv/my www"]);
        assert_eq!(s.stop_signal, 3);
        assert_eq!(s.stop_timeout_ms, 1500);
    }

    #[test]
    fn values_interleave_yet_spans_stay_whole() {
        let t = good(&[
            "[a]",
            "env = X=1",
            "run = /bin/a 1",
            "chdir = /tmp",
            "env = Y=2",
            "[b]",
            "env = Z=3",
            "run = b",
        ]);
        assert_eq!(env(&t, "a"), ["X=1", "Y=2"]);
        assert_eq!(argv(&t, "a"), ["/bin/a", "1"]);
        assert_eq!(t.pool.bytes(svc(&t, "a").chdir), b"/tmp\0");
        assert_eq!(env(&t, "b"), ["Z=3"]);
        assert_eq!(argv(&t, "b"), ["b"]);
    }

    #[test]
    #[cfg(feature = "syslog")]
    fn the_tend_section() {
        let t = good(&[
            "[a]",
            "run = x",
            "",
            "[tend]",
            "# tend's own",
            "syslog = /dev/log",
        ]);
        assert_eq!(t.len(), 1, "[tend] is no service");
        assert_eq!(t.settings.line, 4);
        assert_eq!(t.pool.bytes(t.settings.syslog), b"/dev/log\0");
        assert_eq!(good(&["[tend]"]).settings.syslog.len, 0, "empty: no socket");
        // Its keys are not a service's, and a service's are not its.
        assert_eq!(
            errors(&[
                "[tend]",
                "run = x",
                "log = 1k",
                "[a]",
                "run = x",
                "syslog = /dev/log"
            ]),
            [
                e(2, "unknown key \"run\""),
                e(3, "unknown key \"log\""),
                e(6, "unknown key \"syslog\"")
            ]
        );
        assert_eq!(
            errors(&["[tend]", "[a]", "run = x", "[tend]", "syslog = x"]),
            [e(4, "a second [tend] section (the first at line 1)")]
        );
        assert_eq!(
            errors(&["[tend]", "syslog = a", "syslog = b"]),
            [e(3, "duplicate key \"syslog\"")]
        );
        // The ring `syslog` counts with the services' rings.
        let (_, errs) = load("[a]\nrun = x\nlog = 1013k\n[tend]\nsyslog = /dev/log\n");
        assert_eq!(
            errs,
            [e(
                4,
                "log: the rings would need more than the 1048576 bytes tend is built with"
            )]
        );
    }

    #[test]
    fn defaults() {
        let t = good(&[
            "[d]",
            "run = /bin/d",
            "[o]",
            "type = oneshot",
            "run = /bin/o",
            "[o2]",
            "restart = on-failure",
            "type = oneshot",
            "run = /bin/o2",
            "[d2]",
            "restart = never",
            "run = /bin/d2",
        ]);
        assert_eq!(svc(&t, "d").restart, Restart::Always);
        assert_eq!(svc(&t, "d").kind, Kind::Daemon);
        assert_eq!(svc(&t, "o").restart, Restart::Never);
        assert_eq!(svc(&t, "o").kind, Kind::Oneshot);
        assert_eq!(svc(&t, "o2").restart, Restart::OnFailure);
        assert_eq!(svc(&t, "d2").restart, Restart::Never);
        for id in t.ids() {
            let s = t.conf(id).unwrap();
            assert_eq!(s.log_bytes, 4096);
            assert_eq!(s.stop_signal, 15);
            assert_eq!(s.stop_timeout_ms, 5000);
            assert_eq!(texts(t.pool.strings(s.chdir)), ["/"]);
            assert!(!s.console);
            assert_eq!(s.ready_fd, None);
            assert!(s.ident.uid.is_none() && s.ident.gid.is_none() && s.ident.groups.is_empty());
        }
    }

    #[test]
    fn comments_blanks_and_line_ends() {
        let src = "# head\r\n\r\n  \t\n[a]\r\n  # indented comment\n\trun\t=\t/bin/echo #not-a-comment  \r\nlog = 1k\r\n\n";
        let (t, errs) = load(src);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(argv(&t, "a"), ["/bin/echo", "#not-a-comment"]);
        assert_eq!(svc(&t, "a").log_bytes, 1024);
        assert_eq!(svc(&t, "a").line, 4);
        assert!(load("").1.is_empty());
        assert!(load("").0.is_empty());
        assert!(load("\n# only a comment\n").1.is_empty());
    }

    #[test]
    fn quoting() {
        let ok = |text: &str, want: &[&str]| assert_eq!(split(text).unwrap(), want, "{text}");
        ok("/bin/x a b", &["/bin/x", "a", "b"]);
        ok("  x \t a\t\tb  ", &["x", "a", "b"]);
        ok("x a'b c'd", &["x", "ab cd"]);
        ok("x '' y", &["x", "", "y"]);
        ok("x \"\"", &["x", ""]);
        ok("x ''''", &["x", ""]);
        ok(r#"x "a\"b""#, &["x", "a\"b"]);
        ok(r#"x "a\\b""#, &["x", "a\\b"]);
        ok(r#"x "a\nb""#, &["x", "anb"]);
        ok(r"x 'a\b'", &["x", "a\\b"]);
        ok(r"x 'a\'", &["x", "a\\"]);
        ok(r"x a\ b", &["x", "a b"]);
        ok(r"x \'", &["x", "'"]);
        ok(r"x \\", &["x", "\\"]);
        ok(r#"x "it's""#, &["x", "it's"]);
        ok(r#"x 'say "hi"'"#, &["x", "say \"hi\""]);
        ok(r#"x a"b"'c'\d"#, &["x", "abcd"]);
        ok("x #1 a=b", &["x", "#1", "a=b"]);
        ok(
            "/bin/sh -c 'echo $HOME; exit 1'",
            &["/bin/sh", "-c", "echo $HOME; exit 1"],
        );
        ok("'/usr/bin/my prog' -v", &["/usr/bin/my prog", "-v"]);
        ok(r"bare", &["bare"]);
        ok("\"sh\"", &["sh"]);
        ok("/", &["/"]);
        let many = format!("x{}", " a".repeat(MAX_ARGS - 1));
        assert_eq!(split(&many).unwrap().len(), MAX_ARGS);

        assert_eq!(split("x 'abc"), Err(Bad::Quote));
        assert_eq!(split("x \"abc"), Err(Bad::DQuote));
        assert_eq!(split(r#"x "abc\""#), Err(Bad::DQuote));
        assert_eq!(split(r#"x "abc\"#), Err(Bad::DQuote));
        assert_eq!(split(r"x abc\"), Err(Bad::Backslash));
        assert_eq!(split(&format!("{many} b")), Err(Bad::Args));
        for bad in ["bin/x", "./x", "a/b c", "''", "\"\" x", "'.'/x", ""] {
            assert_eq!(split(bad), Err(Bad::Program), "{bad}");
        }
    }

    #[test]
    fn run_errors() {
        let at3 = |run: &str| error(&["# x", "[a]", &format!("run = {run}")]);
        assert_eq!(at3("/bin/x 'abc"), e(3, "run: missing closing '"));
        assert_eq!(at3("/bin/x \"abc"), e(3, "run: missing closing \""));
        assert_eq!(at3(r"/bin/x abc\"), e(3, "run: trailing backslash"));
        assert_eq!(
            at3(&format!("x{}", " a".repeat(MAX_ARGS))),
            e(3, "run: more than 32 arguments")
        );
        assert_eq!(
            at3("bin/x"),
            e(
                3,
                "run: the program must be an absolute path or a bare name"
            )
        );
        assert_eq!(
            at3("./x -v"),
            e(
                3,
                "run: the program must be an absolute path or a bare name"
            )
        );
        assert_eq!(
            at3("'' -v"),
            e(
                3,
                "run: the program must be an absolute path or a bare name"
            )
        );
        assert_eq!(error(&["[a]", "run ="]), e(2, "run: missing value"));
        assert_eq!(
            error(&["[a]", "run = x", "run = y"]),
            e(3, "duplicate key \"run\"")
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size(b"0"), Some(0));
        assert_eq!(parse_size(b"0k"), Some(0));
        assert_eq!(parse_size(b"256"), Some(256));
        assert_eq!(parse_size(b"4k"), Some(4096));
        assert_eq!(parse_size(b"4K"), Some(4096));
        assert_eq!(parse_size(b"1M"), Some(1 << 20));
        assert_eq!(parse_size(b"2m"), Some(2 << 20));
        for bad in [
            &b""[..],
            b"k",
            b"m",
            b"12q",
            b"4kb",
            b"4 k",
            b"-1",
            b"1.5k",
            b"99999999999999999m",
        ] {
            assert_eq!(parse_size(bad), None, "{}", String::from_utf8_lossy(bad));
        }
        let log = |v: &str| load(&format!("[a]\nrun = x\nlog = {v}"));
        assert_eq!(svc(&log("0").0, "a").log_bytes, 0);
        assert_eq!(svc(&log("256").0, "a").log_bytes, 256);
        assert_eq!(svc(&log("4k").0, "a").log_bytes, 4096);
        assert_eq!(svc(&log("1000K").0, "a").log_bytes, 1_024_000);
        assert_eq!(log("255").1, [e(3, "log: at least 256 bytes, or 0")]);
        assert_eq!(log("1").1, [e(3, "log: at least 256 bytes, or 0")]);
        assert_eq!(
            log("12q").1,
            [e(3, "bad size \"12q\" (write 4096, 16k or 1m)")]
        );
        // The arena holds tend's own ring too: 1m alone is too much.
        let budget = "log: the rings would need more than the 1048576 bytes tend is built with";
        assert_eq!(log("1m").1, [e(3, budget)]);
        assert_eq!(log("99999999999m").1, [e(3, budget)]);
        assert_eq!(log("1016k").1, []);
        assert_eq!(log("1017k").1, [e(3, budget)]);
    }

    #[test]
    fn the_log_budget_is_shared() {
        let budget = "log: the rings would need more than the 1048576 bytes tend is built with";
        let errs = errors(&[
            "[a]",
            "run = a",
            "log = 512k",
            "[b]",
            "run = b",
            "log = 512k",
            "[c]",
            "run = c",
            "log = 1m",
        ]);
        assert_eq!(errs, [e(6, budget)]);
        // 8k + 1008k + 4k + 4k = 1024k fits; the next default ring does not,
        // and the error sits on the header of the service with no log line.
        let errs = errors(&[
            "[a]",
            "run = a",
            "log = 1008k",
            "[b]",
            "run = b",
            "[c]",
            "run = c",
            "[d]",
            "run = d",
        ]);
        assert_eq!(errs, [e(8, budget)]);
        let errs = errors(&[
            "[a]",
            "run = a",
            "log = 1008k",
            "[b]",
            "run = b",
            "[c]",
            "run = c",
            "log = 0",
            "[d]",
            "run = d",
        ]);
        assert_eq!(errs, []);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration(b"500ms"), Some(500));
        assert_eq!(parse_duration(b"5s"), Some(5000));
        assert_eq!(parse_duration(b"2m"), Some(120_000));
        assert_eq!(parse_duration(b"0s"), Some(0));
        assert_eq!(parse_duration(b"0ms"), Some(0));
        for bad in [
            &b""[..],
            b"5",
            b"5h",
            b"s",
            b"ms",
            b"5 s",
            b"1.5s",
            b"5S",
            b"-1s",
            b"5sec",
            b"99999999999999999m",
        ] {
            assert_eq!(
                parse_duration(bad),
                None,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let timeout = |v: &str| load(&format!("[a]\nrun = x\nstop-timeout = {v}"));
        assert_eq!(svc(&timeout("250ms").0, "a").stop_timeout_ms, 250);
        assert_eq!(svc(&timeout("60m").0, "a").stop_timeout_ms, 3_600_000);
        assert_eq!(svc(&timeout("3600s").0, "a").stop_timeout_ms, 3_600_000);
        assert_eq!(timeout("61m").1, [e(3, "stop-timeout: at most 1 hour")]);
        assert_eq!(
            timeout("3600001ms").1,
            [e(3, "stop-timeout: at most 1 hour")]
        );
        assert_eq!(
            timeout("5").1,
            [e(3, "bad duration \"5\" (write 500ms, 5s or 2m)")]
        );
        assert_eq!(
            timeout("1h").1,
            [e(3, "bad duration \"1h\" (write 500ms, 5s or 2m)")]
        );
    }

    #[test]
    fn stop_signals() {
        let sig = |v: &str| load(&format!("[a]\nrun = x\nstop-signal = {v}"));
        assert_eq!(svc(&sig("INT").0, "a").stop_signal, 2);
        assert_eq!(svc(&sig("sighup").0, "a").stop_signal, 1);
        assert_eq!(svc(&sig("9").0, "a").stop_signal, 9);
        assert_eq!(sig("FOO").1, [e(3, "stop-signal: unknown signal \"FOO\"")]);
        assert_eq!(sig("0").1, [e(3, "stop-signal: unknown signal \"0\"")]);
    }

    #[test]
    fn after_resolves_forward_and_backward() {
        let t = good(&[
            "[a]",
            "run = a",
            "after = c, b",
            "after = d",
            "after = b",
            "[b]",
            "run = b",
            "[c]",
            "run = c",
            "after = b,,d\td",
            "[d]",
            "run = d",
        ]);
        assert_eq!(after(&t, "a"), ["c", "b", "d"]);
        assert!(after(&t, "b").is_empty());
        assert_eq!(after(&t, "c"), ["b", "d"]);
    }

    #[test]
    fn after_errors() {
        let lines = [
            "[a]",
            "run = a",
            "after = b",
            "[b]",
            "run = b",
            "after = x y",
        ];
        assert_eq!(
            errors(&lines),
            [
                e(6, "after: no service named \"x\""),
                e(6, "after: no service named \"y\"")
            ]
        );
        assert_eq!(
            error(&["[a]", "run = a", "after = a"]),
            e(3, "after: \"a\" is this service itself")
        );
        assert_eq!(
            error(&["[a]", "run = a", "after = b a", "[b]", "run = b"]),
            e(3, "after: \"a\" is this service itself")
        );
        assert!(errors(&["[a]", "run = a", "after = ,"]).is_empty());
        // Targets that were refused or never existed are unknown.
        assert_eq!(
            errors(&[
                "[a]",
                "run = a",
                "after = tend",
                "[b!]",
                "run = x",
                "[c]",
                "run = c",
                "after = b!"
            ]),
            [
                e(
                    4,
                    "bad service name \"b!\" (use letters, digits and _ . @ -)"
                ),
                e(3, "after: no service named \"tend\""),
                e(8, "after: no service named \"b!\"")
            ]
        );
        let mut lines = vec![
            "[a]".to_string(),
            "run = a".to_string(),
            "after = s0 s1 s2 s3 s4".into(),
            "after = s5 s6 s7".into(),
            "after = s8".into(),
        ];
        for i in 0..9 {
            lines.push(format!("[s{i}]"));
            lines.push(format!("run = s{i}"));
        }
        let lines: Vec<&str> = lines.iter().map(|s| s.as_str()).collect();
        assert_eq!(error(&lines), e(5, "after: more than 8 names"));
    }

    #[test]
    fn dependency_cycles() {
        // Length 2, with the second one named forward.
        assert_eq!(
            error(&["[a]", "run = a", "after = b", "[b]", "run = b", "after = a"]),
            e(1, "dependency cycle: a -> b -> a")
        );
        // Length 3.
        assert_eq!(
            error(&[
                "[x]",
                "run = x",
                "[a]",
                "run = a",
                "after = b",
                "[b]",
                "run = b",
                "after = c",
                "[c]",
                "run = c",
                "after = a"
            ]),
            e(3, "dependency cycle: a -> b -> c -> a")
        );
        // A cycle reached from a service outside it is reported at one of
        // its own members.
        assert_eq!(
            error(&[
                "[x]",
                "run = x",
                "after = a",
                "[a]",
                "run = a",
                "after = b",
                "[b]",
                "run = b",
                "after = a"
            ]),
            e(4, "dependency cycle: a -> b -> a")
        );
        // A long cycle is said in full up to 512 bytes, the most `load`
        // prints of any message.
        let name = |i: usize| format!("{i:0>31}");
        let long: Vec<String> = (0..20)
            .flat_map(|i| {
                let next = name((i + 1) % 20);
                [
                    format!("[{}]", name(i)),
                    "run = x".into(),
                    format!("after = {next}"),
                ]
            })
            .collect();
        let long: Vec<&str> = long.iter().map(|s| s.as_str()).collect();
        let (line, text) = error(&long);
        let full: Vec<String> = (0..=20).map(|i| name(i % 20)).collect();
        let full = format!("dependency cycle: {}", full.join(" -> "));
        assert_eq!((line, text.as_str()), (1, &full[..512]));
        // Two separate cycles are both reported; a diamond is no cycle.
        assert_eq!(
            errors(&[
                "[a]",
                "run = a",
                "after = b",
                "[b]",
                "run = b",
                "after = a",
                "[c]",
                "run = c",
                "after = d",
                "[d]",
                "run = d",
                "after = c"
            ]),
            [
                e(1, "dependency cycle: a -> b -> a"),
                e(7, "dependency cycle: c -> d -> c")
            ]
        );
        assert!(errors(&[
            "[a]",
            "run = a",
            "after = b c",
            "[b]",
            "run = b",
            "after = d",
            "[c]",
            "run = c",
            "after = d",
            "[d]",
            "run = d"
        ])
        .is_empty());
    }

    #[test]
    fn users_and_groups() {
        let ident = |keys: &[&str]| {
            let mut lines = vec!["[a]", "run = a"];
            lines.extend_from_slice(keys);
            let t = good(&lines);
            let i = svc(&t, "a").ident.clone();
            (i.uid, i.gid, i.groups.to_vec())
        };
        assert_eq!(ident(&[]), (None, None, vec![]));
        assert_eq!(
            ident(&["user = sensor"]),
            (Some(1001), Some(1001), vec![1001, 50, 20])
        );
        assert_eq!(
            ident(&["user = sensor", "group = dialout"]),
            (Some(1001), Some(20), vec![20, 50])
        );
        assert_eq!(
            ident(&["group = i2c", "user = sensor"]),
            (Some(1001), Some(50), vec![50, 20])
        );
        assert_eq!(ident(&["user = www"]), (Some(33), Some(33), vec![33]));
        assert_eq!(ident(&["user = root"]), (Some(0), Some(0), vec![0]));
        assert_eq!(
            ident(&["user = 1001"]),
            (Some(1001), Some(1001), vec![1001])
        );
        assert_eq!(
            ident(&["user = 4242"]),
            (Some(4242), Some(4242), vec![4242])
        );
        assert_eq!(
            ident(&["user = 4242", "group = 7"]),
            (Some(4242), Some(7), vec![7])
        );
        assert_eq!(ident(&["group = i2c"]), (None, Some(50), vec![50]));
        assert_eq!(ident(&["group = 77"]), (None, Some(77), vec![77]));

        assert_eq!(
            error(&["[a]", "run = a", "user = nobody"]),
            e(3, "unknown user \"nobody\"")
        );
        assert_eq!(
            error(&["[a]", "run = a", "user = 4294967295"]),
            e(3, "unknown user \"4294967295\"")
        );
        assert_eq!(
            error(&["[a]", "run = a", "group = wheel"]),
            e(3, "unknown group \"wheel\"")
        );
        assert_eq!(
            error(&["[a]", "run = a", "user = www", "user = www"]),
            e(4, "duplicate key \"user\"")
        );
    }

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
broken line
sensor:x:1001:1001:Sensor:/var/empty:/bin/false\r
bad:x:notanumber:1::/:
:x:5:5::/:
short:x:7
www:x:33:33
";

    const GROUP: &str = "root:x:0:
i2c:x:50:sensor,www
dialout:x:20:sensor\r
sensor:x:1001:
nogid:x::sensor
junk
video:x:44
audio:x:45:www,sensorx
";

    #[test]
    fn etc_accounts() {
        let acc = EtcAccounts {
            passwd: PASSWD.as_bytes(),
            group: GROUP.as_bytes(),
        };
        assert_eq!(acc.user(b"root", None), Some((0, 0)));
        assert_eq!(acc.user(b"sensor", None), Some((1001, 1001)));
        assert_eq!(acc.user(b"www", None), Some((33, 33)));
        assert_eq!(acc.user(b"bad", None), None);
        assert_eq!(acc.user(b"short", None), None);
        assert_eq!(acc.user(b"", None), None);
        assert_eq!(acc.user(b"broken line", None), None);
        assert_eq!(acc.user(b"", Some(1)), Some((1, 1)));
        assert_eq!(acc.user(b"root", Some(1)), Some((1, 1)));
        assert_eq!(acc.user(b"", Some(5)), None);
        assert_eq!(acc.user(b"", Some(99)), None);
        assert_eq!(acc.group(b"i2c"), Some(50));
        assert_eq!(acc.group(b"video"), Some(44));
        assert_eq!(acc.group(b"nogid"), None);
        assert_eq!(acc.group(b"junk"), None);
        let groups = |user: &[u8]| {
            let mut out = heapless::Vec::new();
            acc.groups_of(user, &mut out);
            out.to_vec()
        };
        assert_eq!(groups(b"sensor"), [50, 20]);
        assert_eq!(groups(b"www"), [50, 45]);
        assert_eq!(groups(b"root"), [] as [u32; 0]);
        assert_eq!(groups(b"sensorx"), [45]);

        let src = "[s]\nrun = s\nuser = sensor\n[w]\nrun = w\nuser = www\ngroup = video\n[n]\nrun = n\nuser = 1\n[x]\nrun = x\nuser = ghost\n";
        let (t, errs) = load_with(src, &acc);
        assert_eq!(errs, [e(13, "unknown user \"ghost\"")]);
        let s = &svc(&t, "s").ident;
        assert_eq!(
            (s.uid, s.gid, s.groups.as_slice()),
            (Some(1001), Some(1001), &[1001, 50, 20][..])
        );
        let w = &svc(&t, "w").ident;
        assert_eq!(
            (w.uid, w.gid, w.groups.as_slice()),
            (Some(33), Some(44), &[44, 50, 45][..])
        );
        let n = &svc(&t, "n").ident;
        assert_eq!(
            (n.uid, n.gid, n.groups.as_slice()),
            (Some(1), Some(1), &[1][..])
        );
    }

    #[test]
    fn header_errors() {
        assert_eq!(error(&["[x", "run = x"]), e(1, "bad section header \"[x\""));
        assert_eq!(
            error(&["[a] # note", "run = x"]),
            e(1, "bad section header \"[a] # note\"")
        );
        assert_eq!(
            error(&["[a b]", "run = x"]),
            e(
                1,
                "bad service name \"a b\" (use letters, digits and _ . @ -)"
            )
        );
        assert_eq!(
            error(&["[ a ]", "run = x"]),
            e(
                1,
                "bad service name \" a \" (use letters, digits and _ . @ -)"
            )
        );
        assert_eq!(
            error(&["[]"]),
            e(1, "bad service name \"\" (use letters, digits and _ . @ -)")
        );
        let long = "n".repeat(NAME_MAX_BYTES);
        assert_eq!(
            error(&[&format!("[{long}]"), "run = x"]),
            e(
                1,
                &format!("service name \"{long}\" is longer than 31 bytes")
            )
        );
        let longest = "n".repeat(NAME_MAX_BYTES - 1);
        assert_eq!(good(&[&format!("[{longest}]"), "run = x"]).len(), 1);
        let t = good(&["[a.b@c-d_E9]", "run = x"]);
        assert!(t.find(b"a.b@c-d_E9").is_some());
        assert_eq!(
            error(&["[syslog]", "run = x"]),
            e(1, "the name \"syslog\" is reserved for tend's own log")
        );
        // The keys under a refused header are skipped without more errors.
        assert_eq!(
            error(&[
                "[bad!]",
                "colour = red",
                "nonsense",
                "run = 'x",
                "[ok]",
                "run = x"
            ]),
            e(
                1,
                "bad service name \"bad!\" (use letters, digits and _ . @ -)"
            )
        );
        assert_eq!(
            errors(&["[a]", "run = a", "", "[a]", "run = b", "colour = x"]),
            [e(4, "duplicate service \"a\" (first at line 1)")]
        );
        assert_eq!(
            error(&["# c", "[a]", "type = daemon", "[b]", "run = b"]),
            e(2, "[a] has no run line")
        );
    }

    #[test]
    fn line_errors() {
        assert_eq!(
            errors(&["run = x", "log = 0", "[a]", "run = a"]),
            [e(1, "key \"run\" comes before any [service] header")]
        );
        assert_eq!(
            errors(&["hello", "run = x", "[a]", "run = a"]),
            [e(1, "expected a [service] header, not \"hello\"")]
        );
        // A message stops at 512 bytes, the most `load` prints of any.
        let long = "x".repeat(600);
        let (line, text) = error(&["[a]", "run = a", &long]);
        let full = format!("expected \"key = value\", not \"{long}\"");
        assert_eq!((line, text.as_str()), (3, &full[..512]));
        assert_eq!(
            error(&["[a]", "run = a", "hello world"]),
            e(3, "expected \"key = value\", not \"hello world\"")
        );
        assert_eq!(
            error(&["[a]", "run = a", "= x"]),
            e(3, "missing key before \"=\"")
        );
        assert_eq!(
            error(&["[a]", "run = a", "colour = red"]),
            e(3, "unknown key \"colour\"")
        );
        assert_eq!(
            error(&["[a]", "run = a", "Run = a"]),
            e(3, "unknown key \"Run\"")
        );
        assert_eq!(
            error(&["[a]", "run = a", "log ="]),
            e(3, "log: missing value")
        );
        assert_eq!(
            error(&["[a]", "run = a", "env = "]),
            e(3, "env: missing value")
        );
        assert_eq!(
            error(&["[a]", "run = a", "env = X=\0"]),
            e(3, "the line holds a NUL byte")
        );
    }

    #[test]
    fn value_errors() {
        let at3 = |kv: &str| error(&["[a]", "run = a", kv]);
        assert_eq!(
            at3("type = service"),
            e(3, "type: expected daemon or oneshot, not \"service\"")
        );
        assert_eq!(
            at3("restart = sometimes"),
            e(
                3,
                "restart: expected always, on-failure or never, not \"sometimes\""
            )
        );
        assert_eq!(
            at3("ready = fd3"),
            e(3, "ready: expected none or fd:N, not \"fd3\"")
        );
        assert_eq!(
            at3("ready = fd:"),
            e(3, "ready: expected none or fd:N, not \"fd:\"")
        );
        assert_eq!(
            at3("ready = fd:1"),
            e(3, "ready: fds 0 to 2 are stdio; use fd:3 to fd:255")
        );
        assert_eq!(
            at3("ready = fd:0"),
            e(3, "ready: fds 0 to 2 are stdio; use fd:3 to fd:255")
        );
        assert_eq!(at3("ready = fd:256"), e(3, "ready: use fd:3 to fd:255"));
        assert_eq!(
            at3("console = maybe"),
            e(3, "console: expected yes or no, not \"maybe\"")
        );
        assert_eq!(
            at3("chdir = srv"),
            e(3, "chdir: \"srv\" is not an absolute path")
        );
        assert_eq!(
            at3("env = NOVALUE"),
            e(3, "env: expected KEY=VALUE, not \"NOVALUE\"")
        );
        assert_eq!(at3("env = 1X=2"), e(3, "env: bad variable name \"1X\""));
        assert_eq!(at3("env = A-B=2"), e(3, "env: bad variable name \"A-B\""));
        assert_eq!(at3("env = =2"), e(3, "env: bad variable name \"\""));
        assert_eq!(
            error(&["[a]", "run = a", "env = A=1", "env = A=2"]),
            e(4, "env: \"A\" is set twice")
        );
        assert!(errors(&["[a]", "run = a", "env = A=1", "env = AB=2", "env = _x9="]).is_empty());
        let mut lines = vec!["[a]".to_string(), "run = a".to_string()];
        lines.extend((0..=MAX_ENV).map(|i| format!("env = V{i}=x")));
        let lines: Vec<&str> = lines.iter().map(|s| s.as_str()).collect();
        assert_eq!(error(&lines), e(19, "env: more than 16 entries"));
        assert_eq!(
            error(&["[a]", "run = a", "ready = fd:3", "type = oneshot"]),
            e(
                3,
                "ready: a oneshot cannot declare readiness (it is done when it exits 0)"
            )
        );
        assert!(errors(&["[a]", "run = a", "ready = none", "type = oneshot"]).is_empty());
        assert!(errors(&[
            "[a]",
            "run = a",
            "type = ONESHOT",
            "console = Yes",
            "restart = Never"
        ])
        .is_empty());
        for key in [
            "type = daemon",
            "restart = never",
            "ready = none",
            "log = 0",
            "console = no",
            "group = 7",
            "chdir = /",
            "stop-signal = 1",
            "stop-timeout = 1s",
        ] {
            let name = key.split(' ').next().unwrap();
            assert_eq!(
                error(&["[a]", "run = a", key, key]),
                e(4, &format!("duplicate key \"{name}\""))
            );
        }
    }

    #[test]
    fn too_many_services() {
        let mut src = String::new();
        for i in 0..MAX_SERVICES + 2 {
            src.push_str(&format!("[s{i}]\nrun = s\nlog = 0\n"));
        }
        let (t, errs) = load(&src);
        assert_eq!(
            errs,
            [e(3 * 64 + 1, "too many services (tend is built for 64)")]
        );
        assert_eq!(t.len(), MAX_SERVICES);
        assert_eq!(t.ids().last(), Some(SvcId(63)));
    }

    #[test]
    fn the_string_pool_is_bounded() {
        let arg = "a".repeat(1000);
        let big = format!("run = /bin/x{}", format!(" {arg}").repeat(20));
        let (t, errs) = load(
            &[
                "[a]",
                "run = a",
                "[b]",
                &big,
                "env = X=1",
                "[c]",
                "run = /bin/c",
                "chdir = /c",
            ]
            .join("\n"),
        );
        assert_eq!(
            errs,
            [e(
                3,
                "the table's strings exceed the 16384 bytes tend is built with"
            )]
        );
        // What did not fit was taken back, so later services still fit.
        assert_eq!(argv(&t, "c"), ["/bin/c"]);
        assert_eq!(t.pool.bytes(svc(&t, "c").chdir), b"/c\0");
        // Reported once even when several services overflow.
        let lines = ["[a]", &big, "[b]", &big, "[c]", &big];
        assert_eq!(errors(&lines).len(), 1);
    }

    #[test]
    fn every_error_is_reported() {
        let errs = errors(&[
            "log = 4k",         // 1
            "[a]",              // 2
            "run = /bin/a",     // 3
            "type = deamon",    // 4
            "colour = blue",    // 5
            "after = nope",     // 6
            "[b c]",            // 7
            "run = x",          // 8
            "[b]",              // 9
            "log = 12q",        // 10
            "stop-timeout = 5", // 11
            "[c]",              // 12
            "run = rel/x",      // 13
            "ready = fd:1",     // 14
            "[a]",              // 15
            "run = y",          // 16
            "[d]",              // 17
            "run = d",          // 18
            "after = e",        // 19
            "[e]",              // 20
            "run = e",          // 21
            "after = d",        // 22
        ]);
        assert_eq!(
            errs,
            [
                e(1, "key \"log\" comes before any [service] header"),
                e(4, "type: expected daemon or oneshot, not \"deamon\""),
                e(5, "unknown key \"colour\""),
                e(
                    7,
                    "bad service name \"b c\" (use letters, digits and _ . @ -)"
                ),
                e(10, "bad size \"12q\" (write 4096, 16k or 1m)"),
                e(11, "bad duration \"5\" (write 500ms, 5s or 2m)"),
                e(9, "[b] has no run line"),
                e(
                    13,
                    "run: the program must be an absolute path or a bare name"
                ),
                e(14, "ready: fds 0 to 2 are stdio; use fd:3 to fd:255"),
                e(15, "duplicate service \"a\" (first at line 2)"),
                e(6, "after: no service named \"nope\""),
                e(17, "dependency cycle: d -> e -> d"),
            ]
        );
    }

    #[test]
    fn errors_are_capped() {
        let mut lines = vec!["[a]".to_string(), "run = a".to_string()];
        lines.extend((0..40).map(|i| format!("bad{i} = x")));
        lines.push("after = nope".into());
        let lines: Vec<&str> = lines.iter().map(|s| s.as_str()).collect();
        let (_, errs) = load(&lines.join("\n"));
        assert_eq!(errs.len(), MAX_TABLE_ERRORS + 1);
        assert_eq!(errs[0], e(3, "unknown key \"bad0\""));
        assert_eq!(errs[MAX_TABLE_ERRORS - 1], e(34, "unknown key \"bad31\""));
        assert_eq!(errs[MAX_TABLE_ERRORS], e(35, "too many errors"));
        // Exactly at the cap, no "too many".
        let mut lines = vec!["[a]".to_string(), "run = a".to_string()];
        lines.extend((0..MAX_TABLE_ERRORS).map(|i| format!("bad{i} = x")));
        let lines: Vec<&str> = lines.iter().map(|s| s.as_str()).collect();
        let errs = errors(&lines);
        assert_eq!(errs.len(), MAX_TABLE_ERRORS);
        assert!(errs.iter().all(|(_, m)| m != "too many errors"));
    }

    #[test]
    fn a_table_is_reused() {
        let mut table = Table::new();
        let mut none = |_: u32, _: &[u8]| panic!("no error expected");
        assert_eq!(parse(EXAMPLE.as_bytes(), &FAKE, &mut table, &mut none), 0);
        assert_eq!(table.len(), 5);
        table.clear();
        assert_eq!(
            parse(b"[x]\nrun = /bin/x\n", &FAKE, &mut table, &mut none),
            0
        );
        assert_eq!(table.len(), 1);
        assert_eq!(
            texts(table.pool.strings(table.conf(SvcId(0)).unwrap().argv)),
            ["/bin/x"]
        );
        table.clear();
        assert!(table.is_empty());
        assert_eq!(table.pool.bytes(Span { off: 100, len: 5 }), b"");
        assert_eq!(table.pool.strings(Span::default()).count(), 0);
    }

    #[test]
    fn garbage_never_panics_and_spans_stay_sound() {
        let bytes = [
            "[a]",
            "[b]",
            "[tend]",
            "[",
            "]",
            "run",
            "=",
            " ",
            "\t",
            "'",
            "\"",
            "\\",
            "#",
            ",",
            "after",
            "env",
            "X=",
            "log",
            "0",
            "256",
            "k",
            "m",
            "fd:3",
            "ready",
            "type",
            "oneshot",
            "user",
            "sensor",
            "group",
            "chdir",
            "/",
            "stop-timeout",
            "5s",
            "\n",
            "\n",
            "\r\n",
            "\0",
        ];
        let lines = [
            "[a]\n",
            "[b]\n",
            "[c]\n",
            "run = /bin/x 'a b' \"c\\\"d\" e\\ f\n",
            "run = x ''\n",
            "type = oneshot\n",
            "after = b\n",
            "after = a, c\n",
            "env = X=1\n",
            "env = Y=\n",
            "log = 0\n",
            "log = 1k\n",
            "chdir = /tmp\n",
            "user = sensor\n",
            "group = i2c\n",
            "ready = fd:3\n",
            "stop-signal = KILL\n",
            "# c\n",
            "\n",
            "console = yes\n",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let mut clean = 0;
        for round in 0..4000 {
            let pieces: &[&str] = if round % 2 == 0 { &bytes } else { &lines };
            let src: String = (0..next(60)).map(|_| pieces[next(pieces.len())]).collect();
            let (t, errs) = load(&src);
            assert!(errs.len() <= MAX_TABLE_ERRORS + 1);
            if !errs.is_empty() {
                continue;
            }
            clean += 1;
            for id in t.ids() {
                let s = t.conf(id).unwrap();
                assert_eq!(
                    t.pool.strings(s.argv).count(),
                    usize::from(s.argc),
                    "{src:?}"
                );
                assert_eq!(
                    t.pool.strings(s.env).count(),
                    usize::from(s.envc),
                    "{src:?}"
                );
                assert_eq!(t.pool.bytes(s.chdir).last(), Some(&0), "{src:?}");
                assert!(s.after.iter().all(|a| *a != id && a.index() < t.len()));
            }
        }
        assert!(clean > 100, "{clean}");
    }
}
