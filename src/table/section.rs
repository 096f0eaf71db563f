//! One `[service]` section as it is read: its keys checked and its values
//! parsed, before the section ends and goes into the table.

use super::*;

/// `stop-signal` when the table says nothing.
pub(super) const STOP_SIGNAL_DEFAULT: u8 = 15;
/// Longest `stop-timeout`: an hour.
pub(super) const STOP_TIMEOUT_MAX_MS: u64 = 3_600_000;
/// Smallest ring that is not 0.
pub(super) const LOG_MIN_BYTES: u64 = 256;

/// A key of a service section. Adding one: a variant here, its row in
/// [`KEYS`], its arm in [`Section::apply`] (the match has no wildcard, so a
/// key without an arm does not build), and its entry in tend.conf(5).
#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(Debug))]
pub(super) enum Key {
    Run,
    Type,
    Restart,
    After,
    Ready,
    Log,
    Console,
    User,
    Group,
    Env,
    Chdir,
    StopSignal,
    StopTimeout,
}

/// How a key is written in the table, and what the parser knows of it.
pub(super) struct KeyDef {
    pub(super) name: &'static [u8],
    pub(super) key: Key,
    /// Given more than once, its values add up (`after`, `env`); otherwise
    /// a second one is an error.
    pub(super) repeat: bool,
    /// The cargo feature the key needs, and whether this tend has it: a key
    /// of a left-out feature is an error that names the feature.
    pub(super) feature: Option<(&'static [u8], bool)>,
}

const fn key(name: &'static [u8], key: Key, repeat: bool) -> KeyDef {
    KeyDef {
        name,
        key,
        repeat,
        feature: None,
    }
}

/// Every key of a service section, `run` first (its bit in
/// [`Section::seen`] is [`RUN_SEEN`]).
pub(super) const KEYS: &[KeyDef] = &[
    key(b"run", Key::Run, false),
    key(b"type", Key::Type, false),
    key(b"restart", Key::Restart, false),
    key(b"after", Key::After, true),
    key(b"ready", Key::Ready, false),
    key(b"log", Key::Log, false),
    key(b"console", Key::Console, false),
    key(b"user", Key::User, false),
    key(b"group", Key::Group, false),
    key(b"env", Key::Env, true),
    key(b"chdir", Key::Chdir, false),
    key(b"stop-signal", Key::StopSignal, false),
    key(b"stop-timeout", Key::StopTimeout, false),
];
// One bit of `seen` per key.
const _: () = assert!(KEYS.len() <= 32);
/// The bit of `run` in [`Section::seen`].
pub(super) const RUN_SEEN: u32 = 1;
/// The bit of `restart` in [`Section::seen`] ([`KEYS`] is in the order of
/// [`Key`]).
pub(super) const RESTART_SEEN: u32 = 1 << Key::Restart as u32;

pub(super) const KINDS: &[(&[u8], Kind)] =
    &[(b"daemon", Kind::Daemon), (b"oneshot", Kind::Oneshot)];
pub(super) const RESTARTS: &[(&[u8], Restart)] = &[
    (b"always", Restart::Always),
    (b"on-failure", Restart::OnFailure),
    (b"never", Restart::Never),
];
pub(super) const YES_NO: &[(&[u8], bool)] = &[(b"yes", true), (b"no", false)];

/// A section as read so far: the service's conf, filled in as its keys
/// come, and what it needs until the section ends. Its strings point into
/// the table text and are copied into the pool when it ends.
#[derive(Default)]
pub(super) struct Section<'a> {
    pub(super) conf: ServiceConf,
    /// Keys seen, one bit per row of [`KEYS`].
    pub(super) seen: u32,
    pub(super) run: Option<&'a [u8]>,
    /// Names given to `after` so far.
    pub(super) after: usize,
    /// The line of `ready = fd:N`.
    pub(super) ready_line: u32,
    /// The line of `log`, else of the header.
    pub(super) log_line: u32,
    /// `(uid, gid)` of `user`, and the user's supplementary groups.
    pub(super) user: Option<(u32, u32)>,
    pub(super) groups: heapless::Vec<u32, MAX_GROUPS>,
    pub(super) group: Option<u32>,
    pub(super) env: heapless::Vec<&'a [u8], MAX_ENV>,
    pub(super) chdir: Option<&'a [u8]>,
}

impl<'a> Section<'a> {
    pub(super) fn pair(
        &mut self,
        line: u32,
        key: &[u8],
        value: &'a [u8],
        acc: &dyn Accounts,
        errs: &mut Errs,
    ) {
        if key.is_empty() {
            return errs.at(line, msg::NO_KEY, b"");
        }
        let Some(index) = KEYS.iter().position(|k| k.name == key) else {
            return errs.at(line, msg::KEY, key);
        };
        let Some(def) = KEYS.get(index) else {
            return;
        };
        if let Some((feature, false)) = def.feature {
            return errs.at2(line, key, msg::WITHOUT_FEATURE, feature);
        }
        let bit = 1u32 << index;
        if self.seen & bit != 0 && !def.repeat {
            return errs.at(line, msg::DUP_KEY, key);
        }
        self.seen |= bit;
        if value.is_empty() {
            return errs.at(line, msg::NO_VALUE, key);
        }
        self.apply(def.key, line, value, acc, errs);
    }

    /// Checks and keeps `value`, given to `key` at `line`.
    #[inline(never)]
    fn apply(&mut self, key: Key, line: u32, value: &'a [u8], acc: &dyn Accounts, errs: &mut Errs) {
        match key {
            Key::Run => match words(value, &mut |_| {}) {
                Ok(argc) => (self.run, self.conf.argc) = (Some(value), argc),
                Err(why) => errs.say(line, why, b"", MAX_ARGS),
            },
            Key::Type => {
                if let Some(kind) = errs.check(choice(value, KINDS), line, msg::TYPE, value) {
                    self.conf.kind = kind;
                }
            }
            Key::Restart => {
                if let Some(r) = errs.check(choice(value, RESTARTS), line, msg::RESTART, value) {
                    self.conf.restart = r;
                }
            }
            Key::After => self.after(line, value, errs),
            Key::Ready => self.ready(line, value, errs),
            Key::Log => match parse_size(value) {
                Some(1..LOG_MIN_BYTES) => errs.at(line, msg::LOG_MIN, b""),
                Some(n) => {
                    self.conf.log_bytes = u32::try_from(n).unwrap_or(u32::MAX);
                    self.log_line = line;
                }
                None => errs.at(line, msg::SIZE, value),
            },
            Key::Console => {
                if let Some(yes) = errs.check(choice(value, YES_NO), line, msg::CONSOLE, value) {
                    self.conf.console = yes;
                }
            }
            Key::User => self.user(line, value, acc, errs),
            Key::Group => {
                let gid = id_number(value).or_else(|| acc.group(value));
                self.group = errs.check(gid, line, msg::GROUP, value);
            }
            Key::Env => self.env(line, value, errs),
            Key::Chdir => {
                let dir = Some(value).filter(|v| v.starts_with(b"/"));
                self.chdir = errs.check(dir, line, msg::CHDIR, value);
            }
            Key::StopSignal => {
                let sig = crate::signal::number(value);
                if let Some(sig) = errs.check(sig, line, msg::SIGNAL, value) {
                    self.conf.stop_signal = sig;
                }
            }
            Key::StopTimeout => match parse_duration(value) {
                Some(ms @ 0..=STOP_TIMEOUT_MAX_MS) => {
                    self.conf.stop_timeout_ms = u32::try_from(ms).unwrap_or(u32::MAX)
                }
                Some(_) => errs.at(line, msg::TIMEOUT_MAX, b""),
                None => errs.at(line, msg::DURATION, value),
            },
        }
    }

    pub(super) fn after(&mut self, line: u32, value: &[u8], errs: &mut Errs) {
        for name in after_names(value) {
            if name == self.conf.name {
                errs.at(line, msg::AFTER_SELF, name);
                continue;
            }
            self.after = self.after.saturating_add(1);
            if self.after == MAX_AFTER + 1 {
                errs.say(line, msg::AFTER_MANY, b"", MAX_AFTER);
            }
        }
    }

    pub(super) fn ready(&mut self, line: u32, value: &[u8], errs: &mut Errs) {
        let fd = value.strip_prefix(b"fd:").and_then(crate::say::parse_u64);
        match fd {
            _ if crate::say::eq_ignore_case(value, b"none") => self.conf.ready_fd = None,
            Some(0..=2) => errs.at(line, msg::READY_STDIO, b""),
            Some(fd) => match u8::try_from(fd) {
                Ok(fd) => (self.conf.ready_fd, self.ready_line) = (Some(fd), line),
                Err(_) => errs.at(line, msg::READY_FD, b""),
            },
            None => errs.at(line, msg::READY, value),
        }
    }

    pub(super) fn user(&mut self, line: u32, value: &[u8], acc: &dyn Accounts, errs: &mut Errs) {
        if let Some(uid) = id_number(value) {
            let gid = acc.user_by_id(uid).map_or(uid, |(_, gid)| gid);
            self.user = Some((uid, gid));
        } else if let Some(found) = acc.user(value) {
            self.user = Some(found);
            acc.groups_of(value, &mut self.groups);
        } else {
            errs.at(line, msg::USER, value);
        }
    }

    pub(super) fn env(&mut self, line: u32, value: &'a [u8], errs: &mut Errs) {
        let Some(eq) = value.iter().position(|&b| b == b'=') else {
            return errs.at(line, msg::ENV, value);
        };
        let name = value.get(..eq).unwrap_or(&[]);
        let lead = name.first().is_some_and(|b| !b.is_ascii_digit());
        if !lead || !name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_') {
            errs.at(line, msg::ENV_NAME, name);
        } else if self.env.iter().any(|e| e.get(..=eq) == value.get(..=eq)) {
            errs.at(line, msg::ENV_TWICE, name);
        } else if self.env.push(value).is_err() {
            errs.say(line, msg::ENV_MANY, b"", MAX_ENV);
        }
    }

    /// `user` and `group` resolved into the conf: the group, else the
    /// user's; in the groups, that gid and then the user's supplementary
    /// groups.
    pub(super) fn resolve_identity(&mut self) {
        let ident = &mut self.conf.ident;
        ident.uid = self.user.map(|(uid, _)| uid);
        let gid = self.group.or(self.user.map(|(_, gid)| gid));
        ident.gid = gid;
        for g in gid.iter().chain(&self.groups) {
            if !ident.groups.contains(g) {
                // A user in more groups than tend keeps loses the last ones.
                let _ = ident.groups.push(*g);
            }
        }
    }
}

pub(super) fn name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'@' | b'-')
}

/// `value` as one of `choices`, in any case.
pub(super) fn choice<T: Copy>(value: &[u8], choices: &[(&[u8], T)]) -> Option<T> {
    let found = choices
        .iter()
        .find(|(text, _)| crate::say::eq_ignore_case(text, value));
    found.map(|&(_, v)| v)
}

pub(super) use crate::accounts::id_number;

/// The names of an `after` value, separated by blanks and/or commas.
pub(super) fn after_names(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    let names = value.split(|&b| b == b' ' || b == b'\t' || b == b',');
    names.filter(|name| !name.is_empty())
}

/// A size in bytes: digits, then optionally `k` or `m` (in either case).
pub(super) fn parse_size(text: &[u8]) -> Option<u64> {
    let (digits, unit) = match text.split_last() {
        Some((b'k' | b'K', digits)) => (digits, 1 << 10),
        Some((b'm' | b'M', digits)) => (digits, 1 << 20),
        _ => (text, 1),
    };
    crate::say::parse_u64(digits)?.checked_mul(unit)
}

/// A duration in milliseconds: digits, then `ms`, `s` or `m`.
pub(super) fn parse_duration(text: &[u8]) -> Option<u64> {
    let units: [(&[u8], u64); 3] = [(b"ms", 1), (b"s", 1000), (b"m", 60_000)];
    let mut split = units
        .iter()
        .map(|&(suffix, unit)| (text.strip_suffix(suffix), unit));
    let (digits, unit) = split.find_map(|(digits, unit)| Some((digits?, unit)))?;
    crate::say::parse_u64(digits)?.checked_mul(unit)
}
