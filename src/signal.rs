//! Signal names and numbers (Linux; the same on x86_64, aarch64 and arm).

use linux_raw_sys::general as g;

/// Highest signal number (the last realtime signal).
pub const MAX: u8 = 64;

/// Every named signal, without its `SIG` prefix. The first entry for a
/// number is its canonical name; aliases follow it.
const NAMES: &[(&[u8], u32)] = &[
    (b"HUP", g::SIGHUP),
    (b"INT", g::SIGINT),
    (b"QUIT", g::SIGQUIT),
    (b"ILL", g::SIGILL),
    (b"TRAP", g::SIGTRAP),
    (b"ABRT", g::SIGABRT),
    (b"BUS", g::SIGBUS),
    (b"FPE", g::SIGFPE),
    (b"KILL", g::SIGKILL),
    (b"USR1", g::SIGUSR1),
    (b"SEGV", g::SIGSEGV),
    (b"USR2", g::SIGUSR2),
    (b"PIPE", g::SIGPIPE),
    (b"ALRM", g::SIGALRM),
    (b"TERM", g::SIGTERM),
    (b"STKFLT", g::SIGSTKFLT),
    (b"CHLD", g::SIGCHLD),
    (b"CONT", g::SIGCONT),
    (b"STOP", g::SIGSTOP),
    (b"TSTP", g::SIGTSTP),
    (b"TTIN", g::SIGTTIN),
    (b"TTOU", g::SIGTTOU),
    (b"URG", g::SIGURG),
    (b"XCPU", g::SIGXCPU),
    (b"XFSZ", g::SIGXFSZ),
    (b"VTALRM", g::SIGVTALRM),
    (b"PROF", g::SIGPROF),
    (b"WINCH", g::SIGWINCH),
    (b"IO", g::SIGIO),
    (b"PWR", g::SIGPWR),
    (b"SYS", g::SIGSYS),
    // Aliases, accepted by `number` but never printed by `name`.
    (b"IOT", g::SIGIOT),
    (b"POLL", g::SIGPOLL),
    (b"CLD", g::SIGCHLD),
];

/// The number of a signal given as `TERM`, `SIGTERM` (any case) or a decimal
/// number from 1 to 64.
pub fn number(name: &[u8]) -> Option<u8> {
    if let Some(n) = crate::say::parse_u64(name) {
        return u8::try_from(n).ok().filter(|n| (1..=MAX).contains(n));
    }
    let bare = match name.get(..3) {
        Some(sig) if sig.eq_ignore_ascii_case(b"SIG") => name.get(3..).unwrap_or(&[]),
        _ => name,
    };
    NAMES
        .iter()
        .find(|(text, _)| text.eq_ignore_ascii_case(bare))
        .and_then(|&(_, n)| u8::try_from(n).ok())
}

/// The name of signal `n` without its `SIG` prefix (`TERM`), or `?`.
pub fn name(n: u8) -> &'static [u8] {
    NAMES
        .iter()
        .find(|&&(_, num)| num == u32::from(n))
        .map_or(b"?", |&(text, _)| text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_to_numbers() {
        assert_eq!(number(b"TERM"), Some(15));
        assert_eq!(number(b"SIGTERM"), Some(15));
        assert_eq!(number(b"sigterm"), Some(15));
        assert_eq!(number(b"Term"), Some(15));
        assert_eq!(number(b"KILL"), Some(9));
        assert_eq!(number(b"hup"), Some(1));
        assert_eq!(number(b"USR1"), Some(10));
        assert_eq!(number(b"SIGUSR2"), Some(12));
        assert_eq!(number(b"CHLD"), Some(17));
        assert_eq!(number(b"WINCH"), Some(28));
        assert_eq!(number(b"SYS"), Some(31));
        assert_eq!(number(b"IOT"), Some(6));
    }

    #[test]
    fn numbers() {
        assert_eq!(number(b"1"), Some(1));
        assert_eq!(number(b"15"), Some(15));
        assert_eq!(number(b"64"), Some(64));
        assert_eq!(number(b"0"), None);
        assert_eq!(number(b"65"), None);
        assert_eq!(number(b"256"), None);
        assert_eq!(number(b"99999999999999999999999"), None);
        assert_eq!(number(b"-1"), None);
    }

    #[test]
    fn rejects_nonsense() {
        for bad in [
            &b""[..],
            b"SIG",
            b"sig",
            b"TERMX",
            b"SIGSIGTERM",
            b" TERM",
            b"TERM ",
            b"SIG15",
            b"RTMIN",
        ] {
            assert_eq!(number(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn numbers_to_names() {
        assert_eq!(name(15), b"TERM");
        assert_eq!(name(9), b"KILL");
        assert_eq!(name(11), b"SEGV");
        assert_eq!(name(6), b"ABRT");
        assert_eq!(name(29), b"IO");
        assert_eq!(name(17), b"CHLD");
        assert_eq!(name(0), b"?");
        assert_eq!(name(34), b"?");
        assert_eq!(name(200), b"?");
    }

    #[test]
    fn every_name_round_trips() {
        for n in 1..=31u8 {
            let text = name(n);
            assert_ne!(text, b"?", "signal {n}");
            assert_eq!(number(text), Some(n));
            let mut sig = b"SIG".to_vec();
            sig.extend_from_slice(text);
            assert_eq!(number(&sig), Some(n));
        }
    }
}
