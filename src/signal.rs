//! Signal names and numbers (Linux's for the architecture built for: the
//! same on x86_64, aarch64, arm and riscv64; MIPS numbers most differently).

use linux_raw_sys::general as g;

/// Highest signal number (the last realtime signal).
pub const MAX: u8 = 64;

/// Builds [`NUMBERS`] and [`NAMES`] from `NAME SIGNAL` rows: one string and
/// one byte per name, not a table of pointers.
macro_rules! signals {
    ($($name:ident $sig:ident,)*) => {
        /// Every named signal's number. The first entry for a number is its
        /// canonical name; aliases follow it.
        const NUMBERS: &[u8] = &[$(g::$sig as u8),*];
        /// The name of each of [`NUMBERS`], without its `SIG` prefix, each
        /// followed by a NUL byte.
        const NAMES: &[u8] = concat!($(stringify!($name), "\0"),*).as_bytes();
    };
}

/// The rows of [`signals!`], with `$arch` (the one signal that differs by
/// architecture) in its place.
macro_rules! table {
    ($($arch:tt)*) => { signals! {
    HUP SIGHUP,
    INT SIGINT,
    QUIT SIGQUIT,
    ILL SIGILL,
    TRAP SIGTRAP,
    ABRT SIGABRT,
    BUS SIGBUS,
    FPE SIGFPE,
    KILL SIGKILL,
    USR1 SIGUSR1,
    SEGV SIGSEGV,
    USR2 SIGUSR2,
    PIPE SIGPIPE,
    ALRM SIGALRM,
    TERM SIGTERM,
    $($arch)*
    CHLD SIGCHLD,
    CONT SIGCONT,
    STOP SIGSTOP,
    TSTP SIGTSTP,
    TTIN SIGTTIN,
    TTOU SIGTTOU,
    URG SIGURG,
    XCPU SIGXCPU,
    XFSZ SIGXFSZ,
    VTALRM SIGVTALRM,
    PROF SIGPROF,
    WINCH SIGWINCH,
    IO SIGIO,
    PWR SIGPWR,
    SYS SIGSYS,
    // Aliases, accepted by `number` but never printed by `name`.
    IOT SIGIOT,
    POLL SIGPOLL,
    CLD SIGCHLD,
    } };
}

// MIPS has no SIGSTKFLT; its signal 7 is SIGEMT.
#[cfg(not(target_arch = "mips"))]
table!(STKFLT SIGSTKFLT,);
#[cfg(target_arch = "mips")]
table!(EMT SIGEMT,);

/// The number of a signal given as `TERM`, `SIGTERM` (any case) or a decimal
/// number from 1 to 64.
pub fn number(name: &[u8]) -> Option<u8> {
    if let Some(n) = crate::say::parse_u64(name) {
        const LAST: u64 = MAX as u64;
        return match n {
            1..=LAST => Some(n as u8),
            _ => None,
        };
    }
    let bare = match name.split_at_checked(3) {
        Some((sig, bare)) if crate::say::position_any_case(b"SIG", sig).is_some() => bare,
        _ => name,
    };
    let i = crate::say::position_any_case(NAMES, bare)?;
    NUMBERS.get(i).copied()
}

/// The name of signal `n` without its `SIG` prefix (`TERM`), or `?`.
pub fn name(n: u8) -> &'static [u8] {
    match NUMBERS.iter().position(|&num| num == n) {
        Some(i) => crate::say::nth(NAMES, i),
        None => b"?",
    }
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
