//! The control protocol between `tend COMMAND` and the supervisor.
//!
//! A request is one line of space-separated words, ended by `\n`:
//! the verb, then flags (`-j` JSON, `-f` follow, `-nN` lines, `-sN` signal)
//! and service names. The reply is one byte — the exit status the client
//! ends with — then text until the supervisor closes the connection. Text
//! of a reply whose status is 0 or 3, and JSON, goes to stdout; any other
//! to stderr.

use crate::limits::{MAX_SERVICES, NAME_MAX_BYTES, REQUEST_MAX_BYTES};
use crate::say::{parse_u64, Text};

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
}

/// Every verb, in declaration order (its discriminant is its index).
const VERBS: [Verb; 10] = [
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
];
/// The word of each of [`VERBS`], each followed by a NUL byte.
const WORDS: &[u8] = b"status\0log\0start\0stop\0restart\0signal\0reload\0halt\0poweroff\0reboot\0";

impl Verb {
    pub fn word(self) -> &'static [u8] {
        crate::say::nth(WORDS, self as usize)
    }

    pub fn from_word(word: &[u8]) -> Option<Verb> {
        VERBS.get(crate::say::position(WORDS, word)?).copied()
    }

    /// Whether `names` names and a signal (`signal`) suit the verb: any
    /// number for `status`, one for `log` and `signal` (which needs its
    /// signal), one or more for `start`, `stop` and `restart`, none for the
    /// others. Tables indexed by the verb: smaller than a `match`.
    #[inline(never)]
    pub fn fits(self, names: usize, signal: bool) -> bool {
        const LEAST: [u8; 10] = [0, 1, 1, 1, 1, 1, 0, 0, 0, 0];
        const ALL: u8 = MAX_SERVICES as u8;
        const MOST: [u8; 10] = [ALL, 1, ALL, ALL, ALL, 1, 0, 0, 0, 0];
        let i = self as usize;
        let least = LEAST.get(i).copied().unwrap_or(0);
        let most = MOST.get(i).copied().unwrap_or(0);
        (usize::from(least)..=usize::from(most)).contains(&names)
            && (signal || self != Verb::Signal)
    }
}

/// A decoded request; names borrow from the request bytes.
#[cfg_attr(test, derive(Debug))]
pub struct Request<'a> {
    pub verb: Verb,
    pub json: bool,
    pub follow: bool,
    /// `-n`: lines of log wanted (None: all).
    pub lines: Option<u32>,
    /// `-t`: wall-clock (UTC) stamps instead of seconds since boot (`log`).
    pub utc: bool,
    /// `-s`: signal number.
    pub signal: Option<u8>,
    pub names: heapless::Vec<&'a [u8], MAX_SERVICES>,
}

impl<'a> Request<'a> {
    pub fn new(verb: Verb) -> Request<'a> {
        Request {
            verb,
            json: false,
            follow: false,
            utc: false,
            lines: None,
            signal: None,
            names: heapless::Vec::new(),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(Debug))]
pub enum ProtoError {
    /// No `\n` within REQUEST_MAX_BYTES.
    TooLong,
    Empty,
    UnknownVerb,
    BadFlag,
    BadName,
    TooManyNames,
    /// The verb's arguments are not all there (or too many).
    Arguments,
}

impl ProtoError {
    pub fn describe(self) -> &'static [u8] {
        match self {
            ProtoError::TooLong => b"request too long",
            ProtoError::Empty => b"empty request",
            ProtoError::UnknownVerb => b"unknown command",
            ProtoError::BadFlag => b"bad option",
            ProtoError::BadName => b"bad service name",
            ProtoError::TooManyNames => b"too many names",
            ProtoError::Arguments => b"wrong arguments for this command",
        }
    }
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
pub fn frame(received: &[u8]) -> Result<Option<usize>, ProtoError> {
    match received.iter().position(|&b| b == b'\n') {
        Some(n) => Ok(Some(n)),
        None if received.len() >= REQUEST_MAX_BYTES => Err(ProtoError::TooLong),
        None => Ok(None),
    }
}

/// Decodes one request line (without its `\n`).
#[inline(never)]
pub fn decode(line: &[u8]) -> Result<Request<'_>, ProtoError> {
    let mut words = line.split(|&b| b == b' ').filter(|w| !w.is_empty());
    let verb =
        Verb::from_word(words.next().ok_or(ProtoError::Empty)?).ok_or(ProtoError::UnknownVerb)?;
    let mut req = Request::new(verb);
    for word in words {
        match word {
            [b'-', flag, rest @ ..] => {
                let n = parse_u64(rest);
                match flag {
                    b'j' if rest.is_empty() => req.json = true,
                    b'f' if rest.is_empty() => req.follow = true,
                    b't' if rest.is_empty() => req.utc = true,
                    b'n' => {
                        req.lines = Some(
                            n.and_then(|n| u32::try_from(n).ok())
                                .ok_or(ProtoError::BadFlag)?,
                        )
                    }
                    b's' => {
                        req.signal = Some(
                            n.filter(|n| (1..=64).contains(n))
                                .ok_or(ProtoError::BadFlag)? as u8,
                        )
                    }
                    _ => return Err(ProtoError::BadFlag),
                }
            }
            [b'-', ..] => return Err(ProtoError::BadFlag),
            name if valid_name(name) => {
                req.names.push(name).map_err(|_| ProtoError::TooManyNames)?
            }
            _ => return Err(ProtoError::BadName),
        }
    }
    // The options each verb takes, by bit: 1 -j, 2 -f, 4 -n, 8 -s, 16 -t
    // (a `signal` takes -s, a stop or restart is given it and passes it
    // over).
    const TAKES: [u8; 10] = [1, 2 | 4 | 16, 8, 8, 8, 8, 1, 8, 8, 8];
    let given = u8::from(req.json)
        | u8::from(req.follow) << 1
        | u8::from(req.lines.is_some()) << 2
        | u8::from(req.signal.is_some()) << 3
        | u8::from(req.utc) << 4;
    let takes = TAKES.get(verb as usize).copied().unwrap_or(0);
    if given & !takes == 0 && verb.fits(req.names.len(), req.signal.is_some()) {
        Ok(req)
    } else {
        Err(ProtoError::Arguments)
    }
}

/// Encodes a request as its line, `\n` included.
#[inline(never)]
pub fn encode(req: &Request<'_>, out: &mut Text) {
    out.s(req.verb.word());
    if req.json {
        out.s(b" -j");
    }
    if req.follow {
        out.s(b" -f");
    }
    if req.utc {
        out.s(b" -t");
    }
    if let Some(n) = req.lines {
        out.s(b" -n").u(u64::from(n));
    }
    if let Some(s) = req.signal {
        out.s(b" -s").u(u64::from(s));
    }
    for name in &req.names {
        out.byte(b' ').s(name);
    }
    out.byte(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::say::Buf;

    fn roundtrip(req: &Request<'_>) -> Vec<u8> {
        let mut b = Buf::<REQUEST_MAX_BYTES>::new();
        encode(req, &mut b);
        b.as_bytes().to_vec()
    }

    #[test]
    fn encode_decode_roundtrip() {
        let mut req = Request::new(Verb::Log);
        req.follow = true;
        req.lines = Some(20);
        req.names.push(b"ntpd").unwrap();
        let line = roundtrip(&req);
        assert_eq!(line, b"log -f -n20 ntpd\n");
        let got = decode(&line[..line.len() - 1]).unwrap();
        assert_eq!(got.verb, Verb::Log);
        assert!(got.follow && !got.json);
        assert_eq!(got.lines, Some(20));
        assert_eq!(got.names.as_slice(), &[b"ntpd".as_slice()]);

        let mut req = Request::new(Verb::Signal);
        req.signal = Some(10);
        req.names.push(b"a-b_c.d@e").unwrap();
        let line = roundtrip(&req);
        let got = decode(&line[..line.len() - 1]).unwrap();
        assert_eq!(got.signal, Some(10));
        assert_eq!(got.names[0], b"a-b_c.d@e");
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(decode(b"").unwrap_err(), ProtoError::Empty);
        assert_eq!(decode(b"   ").unwrap_err(), ProtoError::Empty);
        assert_eq!(decode(b"explode").unwrap_err(), ProtoError::UnknownVerb);
        assert_eq!(decode(b"status -x").unwrap_err(), ProtoError::BadFlag);
        assert_eq!(decode(b"status -nx").unwrap_err(), ProtoError::BadFlag);
        assert_eq!(decode(b"status -jj").unwrap_err(), ProtoError::BadFlag);
        assert_eq!(decode(b"status -").unwrap_err(), ProtoError::BadFlag);
        assert_eq!(decode(b"log -n x").unwrap_err(), ProtoError::BadFlag);
        assert_eq!(decode(b"signal -s a").unwrap_err(), ProtoError::BadFlag);
        assert_eq!(decode(b"signal -s0 a").unwrap_err(), ProtoError::BadFlag);
        assert_eq!(decode(b"signal -s65 a").unwrap_err(), ProtoError::BadFlag);
        assert_eq!(decode(b"status a/b").unwrap_err(), ProtoError::BadName);
        assert_eq!(decode(b"status \xff").unwrap_err(), ProtoError::BadName);
        assert_eq!(decode(b"log").unwrap_err(), ProtoError::Arguments);
        assert_eq!(decode(b"log a b").unwrap_err(), ProtoError::Arguments);
        assert_eq!(decode(b"start").unwrap_err(), ProtoError::Arguments);
        assert_eq!(decode(b"signal a").unwrap_err(), ProtoError::Arguments);
        assert_eq!(decode(b"reboot a").unwrap_err(), ProtoError::Arguments);
        assert_eq!(decode(b"reload a").unwrap_err(), ProtoError::Arguments);
        assert_eq!(decode(b"reload -f").unwrap_err(), ProtoError::Arguments);
        assert_eq!(decode(b"status -f").unwrap_err(), ProtoError::Arguments);
        let many: Vec<u8> = (0..=MAX_SERVICES)
            .flat_map(|i| format!(" s{i}").into_bytes())
            .collect();
        let line = [b"status".as_slice(), &many].concat();
        assert_eq!(decode(&line).unwrap_err(), ProtoError::TooManyNames);
    }

    #[test]
    fn accepts_every_verb() {
        for verb in VERBS {
            let word = verb.word();
            assert_eq!(Verb::from_word(word), Some(verb));
            let line = match verb {
                Verb::Status | Verb::Reload | Verb::Halt | Verb::Poweroff | Verb::Reboot => {
                    word.to_vec()
                }
                Verb::Signal => [word, &b" -s15 x"[..]].concat(),
                _ => [word, &b" x"[..]].concat(),
            };
            assert_eq!(decode(&line).unwrap().verb, verb);
        }
        let words: Vec<&[u8]> = VERBS.iter().map(|v| v.word()).collect();
        assert_eq!(
            words.concat(),
            b"statuslogstartstoprestartsignalreloadhaltpoweroffreboot"
        );
        assert_eq!(Verb::from_word(b""), None);
        assert_eq!(Verb::from_word(b"stat"), None);
    }

    #[test]
    fn framing() {
        assert_eq!(frame(b"status"), Ok(None));
        assert_eq!(frame(b"status\nrest"), Ok(Some(6)));
        assert_eq!(frame(&[b'x'; REQUEST_MAX_BYTES]), Err(ProtoError::TooLong));
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
