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
/// [`DEFS`] (at the same place) and in [`row`], its arm in
/// [`Section::apply`] (the match covers every row up to the last, so a key
/// without an arm does not build), and its entry in tend.conf(5).
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
    Critical,
    Listen,
    Accept,
    Instances,
    /// Keys of the `[tend]` section (tend.conf(5), THE [tend] SECTION).
    Syslog,
    Watchdog,
    WatchdogTimeout,
    WatchdogGrace,
    Keep,
}

/// The row of each key in [`DEFS`], for a `match` on it (a key's row is
/// the key as a number: [`keys`] checks it), which spares a table of the
/// key of each row.
#[allow(non_upper_case_globals)]
pub(super) mod row {
    use super::Key;
    /// Past the last row.
    pub const END: usize = super::DEFS.len();
    pub const Run: usize = Key::Run as usize;
    pub const Type: usize = Key::Type as usize;
    pub const Restart: usize = Key::Restart as usize;
    pub const After: usize = Key::After as usize;
    pub const Ready: usize = Key::Ready as usize;
    pub const Log: usize = Key::Log as usize;
    pub const Console: usize = Key::Console as usize;
    pub const User: usize = Key::User as usize;
    pub const Group: usize = Key::Group as usize;
    pub const Env: usize = Key::Env as usize;
    pub const Chdir: usize = Key::Chdir as usize;
    pub const StopSignal: usize = Key::StopSignal as usize;
    pub const StopTimeout: usize = Key::StopTimeout as usize;
    pub const Critical: usize = Key::Critical as usize;
    pub const Listen: usize = Key::Listen as usize;
    pub const Accept: usize = Key::Accept as usize;
    pub const Instances: usize = Key::Instances as usize;
    pub const Syslog: usize = Key::Syslog as usize;
    pub const Watchdog: usize = Key::Watchdog as usize;
    pub const WatchdogTimeout: usize = Key::WatchdogTimeout as usize;
    pub const WatchdogGrace: usize = Key::WatchdogGrace as usize;
    pub const Keep: usize = Key::Keep as usize;
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
    /// A key of the `[tend]` section, not of a service's.
    pub(super) tend: bool,
}

const fn key(name: &'static [u8], key: Key, repeat: bool) -> KeyDef {
    KeyDef {
        name,
        key,
        repeat,
        feature: None,
        tend: false,
    }
}

/// A key of cargo feature `feature`, which this tend has when `built`; of
/// the `[tend]` section when `tend`, else of a service's.
const fn feature_key(
    name: &'static [u8],
    key: Key,
    (feature, built): (&'static [u8], bool),
    tend: bool,
) -> KeyDef {
    KeyDef {
        name,
        key,
        repeat: false,
        feature: Some((feature, built)),
        tend,
    }
}

/// Every key, a service's and then the `[tend]` section's, `run` first (its
/// bit in [`Section::seen`] is [`RUN_SEEN`]), in the order of [`Key`]. Read at
/// build time only: the parser uses the tables made of it below, with no
/// pointers in them.
pub(super) const DEFS: [KeyDef; 22] = [
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
    feature_key(b"critical", Key::Critical, WATCHDOG, false),
    feature_key(b"listen", Key::Listen, LISTEN, false),
    feature_key(b"accept", Key::Accept, LISTEN, false),
    feature_key(b"instances", Key::Instances, LISTEN, false),
    feature_key(b"syslog", Key::Syslog, SYSLOG, true),
    feature_key(b"watchdog", Key::Watchdog, WATCHDOG, true),
    feature_key(b"watchdog-timeout", Key::WatchdogTimeout, WATCHDOG, true),
    feature_key(b"watchdog-grace", Key::WatchdogGrace, WATCHDOG, true),
    feature_key(b"keep", Key::Keep, KEEP, true),
];
/// The features of those keys, and whether this tend has them.
const SYSLOG: (&[u8], bool) = (b"syslog", cfg!(feature = "syslog"));
const WATCHDOG: (&[u8], bool) = (b"watchdog", cfg!(feature = "watchdog"));
const KEEP: (&[u8], bool) = (b"keep", cfg!(feature = "keep"));
const LISTEN: (&[u8], bool) = (b"listen", cfg!(feature = "listen"));
/// `watchdog-timeout`: from a second (the driver counts seconds) to an hour.
#[cfg(feature = "watchdog")]
pub(super) const WATCHDOG_TIMEOUT_MS: core::ops::RangeInclusive<u64> = 1_000..=3_600_000;
/// Most `instances`, as the parser compares it.
#[cfg(feature = "listen")]
const MAX_INSTANCES_U64: u64 = MAX_INSTANCES as u64;
/// Longest `watchdog-grace`: a day.
#[cfg(feature = "watchdog")]
pub(super) const WATCHDOG_GRACE_MAX_MS: u64 = 86_400_000;
// One bit of `seen` per key; `envc` is a byte.
const _: () = assert!(MAX_ENV <= 255);
const _: () = assert!(DEFS.len() <= 32);

/// The names of the keys, each followed by a NUL byte, for
/// `say::position`.
pub(super) const KEY_NAMES: [u8; joined_len(&DEFS, false)] = joined(&DEFS, false);
/// The key of each row, checked (at build time) to be the row's number:
/// the parser matches rows (see [`row`]).
#[cfg_attr(not(test), allow(dead_code))]
pub(super) const KEYS: [Key; DEFS.len()] = keys(&DEFS);
const _: [Key; DEFS.len()] = KEYS;
/// The keys whose values add up, one bit each.
pub(super) const REPEAT: u32 = mask(&DEFS, Mask::Repeat);
/// The keys of the `[tend]` section, one bit each.
pub(super) const TEND: u32 = mask(&DEFS, Mask::Tend);
/// The keys of the cargo features this tend is built without, one bit
/// each, and the feature of each of those keys (nothing for the others),
/// each followed by a NUL byte, up to the last such key's.
pub(super) const LEFT_OUT: u32 = mask(&DEFS, Mask::LeftOut);
pub(super) const FEATURES: [u8; joined_len(&DEFS, true)] = joined(&DEFS, true);
/// The bit of `run` in [`Section::seen`].
pub(super) const RUN_SEEN: u32 = 1 << Key::Run as u32;
/// The bit of `restart` in [`Section::seen`].
pub(super) const RESTART_SEEN: u32 = 1 << Key::Restart as u32;

/// A row's name, or with `feature` the name of the feature it needs when
/// this tend is built without it.
const fn name_of(def: &KeyDef, feature: bool) -> &'static [u8] {
    match (feature, def.feature) {
        (false, _) => def.name,
        (true, Some((name, false))) => name,
        (true, _) => b"",
    }
}

/// The bytes of [`joined`]: with `feature`, up to the last name.
const fn joined_len(defs: &[KeyDef], feature: bool) -> usize {
    let (mut n, mut end) = (0, 0);
    let mut rest = defs;
    while let [def, tail @ ..] = rest {
        let len = name_of(def, feature).len();
        n += len + 1;
        if len > 0 || !feature {
            end = n;
        }
        rest = tail;
    }
    end
}

/// The names of `defs` (see [`name_of`]), each followed by a NUL byte.
const fn joined<const N: usize>(defs: &[KeyDef], feature: bool) -> [u8; N] {
    let mut out = [0u8; N];
    let mut to: &mut [u8] = &mut out;
    let mut rest = defs;
    while let [def, tail @ ..] = rest {
        let mut name = name_of(def, feature);
        // Each byte, then the NUL already there.
        while let [b, more @ ..] = name {
            if let [slot, after @ ..] = to {
                *slot = *b;
                to = after;
            }
            name = more;
        }
        if let [_, after @ ..] = to {
            to = after;
        }
        rest = tail;
    }
    out
}

/// The keys of `defs`, checked to be in the order of [`Key`].
const fn keys<const N: usize>(defs: &[KeyDef; N]) -> [Key; N] {
    let mut out = [Key::Run; N];
    let mut to: &mut [Key] = &mut out;
    let mut rest: &[KeyDef] = defs;
    let mut i = 0;
    while let [def, tail @ ..] = rest {
        assert!(def.key as usize == i, "DEFS is in the order of Key");
        if let [slot, after @ ..] = to {
            *slot = def.key;
            to = after;
        }
        i += 1;
        rest = tail;
    }
    out
}

/// What [`mask`] picks.
#[derive(Clone, Copy)]
enum Mask {
    Repeat,
    LeftOut,
    Tend,
}

/// One bit per row of `defs` that repeats, needs a feature this tend is
/// built without, or belongs to the `[tend]` section.
const fn mask(defs: &[KeyDef], pick: Mask) -> u32 {
    let mut bits = 0;
    let mut rest = defs;
    while let [def, tail @ ..] = rest {
        let set = match (pick, def.feature) {
            (Mask::Repeat, _) => def.repeat,
            (Mask::LeftOut, Some((_, built))) => !built,
            (Mask::LeftOut, None) => false,
            (Mask::Tend, _) => def.tend,
        };
        if set {
            bits |= 1 << def.key as u32;
        }
        rest = tail;
    }
    bits
}

/// The values of `type`, `restart` and `console`, in the order of their
/// enums.
pub(crate) const KINDS: &[u8] = b"daemon\0oneshot\0";
pub(super) const RESTARTS: &[u8] = b"always\0on-failure\0never\0";
pub(super) const YES_NO: &[u8] = b"yes\0no\0";
/// The `restart` of each of [`RESTARTS`].
const RESTART_OF: [Restart; 3] = [Restart::Always, Restart::OnFailure, Restart::Never];

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
    pub(super) groups: crate::accounts::Groups,
    pub(super) group: Option<u32>,
    pub(super) env: heapless::Vec<&'a [u8], MAX_ENV>,
    pub(super) chdir: Option<&'a [u8]>,
    /// `listen`, as written; the line of `accept`.
    #[cfg(feature = "listen")]
    pub(super) listen: Option<&'a [u8]>,
    #[cfg(feature = "listen")]
    pub(super) accept_line: u32,
    /// This is the `[tend]` section.
    pub(super) tend: bool,
    /// Its `syslog`, `watchdog` and `keep` paths.
    pub(super) syslog: Option<&'a [u8]>,
    pub(super) watchdog: Option<&'a [u8]>,
    pub(super) keep: Option<&'a [u8]>,
    /// Its `watchdog-timeout` and `watchdog-grace` (see `Settings`).
    pub(super) watchdog_timeout: u32,
    pub(super) watchdog_grace: u32,
}

impl<'a> Section<'a> {
    pub(super) fn pair(&mut self, key: &[u8], value: &'a [u8], acc: &EtcAccounts, errs: &mut Errs) {
        if key.is_empty() {
            return errs.at(msg::NO_KEY, b"");
        }
        // A key of the other kind of section is as unknown as any.
        let found = crate::say::position(&KEY_NAMES, key)
            .filter(|&index| (TEND >> index & 1 != 0) == self.tend);
        let Some(index) = found else {
            return errs.at(msg::KEY, key);
        };
        let bit = 1u32 << index;
        if LEFT_OUT >> index & 1 != 0 {
            let feature = crate::say::nth(&FEATURES, index);
            return errs.at2(key, msg::WITHOUT_FEATURE, feature);
        }
        if self.seen & bit & !REPEAT != 0 {
            return errs.at(msg::DUP_KEY, key);
        }
        self.seen |= bit;
        if value.is_empty() {
            return errs.at(msg::NO_VALUE, key);
        }
        self.apply(index, value, acc, errs);
    }

    /// Checks and keeps `value`, given to `key` on the current line.
    fn apply(&mut self, key: usize, value: &'a [u8], acc: &EtcAccounts, errs: &mut Errs) {
        let conf = &mut self.conf;
        match key {
            row::Run => match words(value, &mut |_| {}) {
                Ok(argc) => (self.run, conf.argc) = (Some(value), argc),
                Err(why) => errs.say(Msg::of(why), b"", MAX_ARGS),
            },
            row::Type => match choice(value, KINDS) {
                Some(i) => conf.kind = if i == 0 { Kind::Daemon } else { Kind::Oneshot },
                None => errs.at(msg::TYPE, value),
            },
            row::Restart => match choice(value, RESTARTS).and_then(|i| RESTART_OF.get(i)) {
                Some(&restart) => conf.restart = restart,
                None => errs.at(msg::RESTART, value),
            },
            row::After => self.after(value, errs),
            row::Ready => self.ready(value, errs),
            row::Log => match parse_size(value) {
                Some(1..LOG_MIN_BYTES) => errs.at(msg::LOG_MIN, b""),
                Some(n) => {
                    conf.log_bytes = u32::try_from(n).unwrap_or(u32::MAX);
                    self.log_line = errs.line;
                }
                None => errs.at(msg::SIZE, value),
            },
            row::Console => match choice(value, YES_NO) {
                Some(i) => conf.console = i == 0,
                None => errs.at(msg::CONSOLE, value),
            },
            row::User => self.user(value, acc, errs),
            row::Group => match id_number(value).or_else(|| acc.group(value)) {
                Some(gid) => self.group = Some(gid),
                None => errs.at(msg::GROUP, value),
            },
            row::Env => self.env(value, errs),
            row::Chdir => match value.first() == Some(&b'/') {
                true => self.chdir = Some(value),
                false => errs.at(msg::CHDIR, value),
            },
            row::StopSignal => match crate::signal::number(value) {
                Some(sig) => conf.stop_signal = sig,
                None => errs.at(msg::SIGNAL, value),
            },
            row::StopTimeout => match parse_duration(value) {
                Some(ms @ 0..=STOP_TIMEOUT_MAX_MS) => conf.stop_timeout_ms = ms as u32,
                Some(_) => errs.at(msg::TIMEOUT_MAX, b""),
                None => errs.at(msg::DURATION, value),
            },
            #[cfg(feature = "watchdog")]
            row::Critical => match choice(value, YES_NO) {
                Some(i) => conf.critical = i == 0,
                None => errs.at(msg::CRITICAL, value),
            },
            #[cfg(feature = "listen")]
            row::Listen => match crate::listen::parse(value) {
                Some(_) => self.listen = Some(value),
                None => errs.at(msg::LISTEN, value),
            },
            #[cfg(feature = "listen")]
            row::Accept => match choice(value, YES_NO) {
                Some(i) => (conf.accept, self.accept_line) = (i == 0, errs.line),
                None => errs.at(msg::ACCEPT, value),
            },
            #[cfg(feature = "listen")]
            row::Instances => match crate::say::parse_u64(value) {
                Some(n @ 1..=MAX_INSTANCES_U64) => conf.instances = n as u8,
                _ => errs.say(msg::INSTANCES, b"", MAX_INSTANCES),
            },
            // Refused before this in a tend built without them.
            #[cfg(not(feature = "listen"))]
            row::Listen | row::Accept | row::Instances => {}
            #[cfg(not(feature = "watchdog"))]
            row::Critical | row::Watchdog | row::WatchdogTimeout | row::WatchdogGrace => {}
            #[cfg(not(feature = "syslog"))]
            row::Syslog => {}
            #[cfg(not(feature = "keep"))]
            row::Keep => {}
            #[cfg(feature = "syslog")]
            row::Syslog => self.syslog = Some(value),
            #[cfg(feature = "watchdog")]
            row::Watchdog => self.watchdog = Some(value),
            #[cfg(feature = "keep")]
            row::Keep => match value.first() == Some(&b'/') {
                true => self.keep = Some(value),
                false => errs.at(msg::KEEP, value),
            },
            #[cfg(feature = "watchdog")]
            row::WatchdogTimeout => match parse_duration(value) {
                Some(ms) if WATCHDOG_TIMEOUT_MS.contains(&ms) => self.watchdog_timeout = ms as u32,
                Some(_) => errs.at(msg::WATCHDOG_TIMEOUT, b""),
                None => errs.at(msg::DURATION, value),
            },
            // Kept one more than given: 0 stands for "not given".
            #[cfg(feature = "watchdog")]
            row::WatchdogGrace => match parse_duration(value) {
                Some(ms @ 0..=WATCHDOG_GRACE_MAX_MS) => self.watchdog_grace = ms as u32 + 1,
                Some(_) => errs.at(msg::WATCHDOG_GRACE, b""),
                None => errs.at(msg::DURATION, value),
            },
            // No row: every one below has its arm (else this does not build).
            row::END.. => {}
        }
    }

    pub(super) fn after(&mut self, value: &[u8], errs: &mut Errs) {
        for name in after_names(value) {
            if name == self.conf.name {
                errs.at(msg::AFTER_SELF, name);
                continue;
            }
            // (A name takes two bytes of a table: no overflow.)
            self.after += 1;
            if self.after == MAX_AFTER + 1 {
                errs.say(msg::AFTER_MANY, b"", MAX_AFTER);
            }
        }
    }

    pub(super) fn ready(&mut self, value: &[u8], errs: &mut Errs) {
        if choice(value, b"none\0").is_some() {
            self.conf.ready_fd = None;
            return;
        }
        match crate::say::strip(value, b"fd:").and_then(crate::say::parse_u64) {
            Some(0..=2) => errs.at(msg::READY_STDIO, b""),
            Some(fd @ 3..=255) => {
                (self.conf.ready_fd, self.ready_line) = (Some(fd as u8), errs.line)
            }
            Some(_) => errs.at(msg::READY_FD, b""),
            None => errs.at(msg::READY, value),
        }
    }

    /// A user by name (with its supplementary groups), or by uid (its gid
    /// that of its entry, else the uid).
    pub(super) fn user(&mut self, value: &[u8], acc: &EtcAccounts, errs: &mut Errs) {
        let uid = id_number(value);
        let Some(found) = acc.user(value, uid).or(uid.map(|uid| (uid, uid))) else {
            return errs.at(msg::USER, value);
        };
        self.user = Some(found);
        if uid.is_none() {
            acc.groups_of(value, &mut self.groups);
        }
    }

    pub(super) fn env(&mut self, value: &'a [u8], errs: &mut Errs) {
        let Some(eq) = value.iter().position(|&b| b == b'=') else {
            return errs.at(msg::ENV, value);
        };
        let name = value.get(..eq).unwrap_or(&[]);
        // `NAME=`, which another entry for the same variable starts with.
        let prefix = value.get(..=eq).unwrap_or(value);
        let lead = name.first().is_some_and(|b| !b.is_ascii_digit());
        if !lead || !name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_') {
            errs.at(msg::ENV_NAME, name);
        } else if self
            .env
            .iter()
            .any(|e| crate::say::strip(e, prefix).is_some())
        {
            errs.at(msg::ENV_TWICE, name);
        } else if self.env.push(value).is_err() {
            errs.say(msg::ENV_MANY, b"", MAX_ENV);
        }
    }

    /// Copies the strings of `run`, `env` and `chdir` into `pool`, and
    /// their spans into the conf; false when they do not fit.
    pub(super) fn store(&mut self, pool: &mut heapless::Vec<u8, POOL_BYTES>) -> bool {
        let conf = &mut self.conf;
        let mut fits = true;
        let start = pool.len();
        if let Some(run) = self.run {
            let _ = words(run, &mut |b| fits &= pool.push(b.unwrap_or(0)).is_ok());
        }
        conf.argv = span(pool, start);
        fits &= add_all(pool, &self.env, &mut conf.env);
        conf.envc = self.env.len() as u8;
        // (Without `listen`, an empty span, as good as none.)
        #[cfg(feature = "listen")]
        {
            fits &= add_all(pool, self.listen.as_slice(), &mut conf.listen);
        }
        fits &= add_all(pool, self.chdir.as_slice(), &mut conf.chdir);
        // Without `chdir`, the `/` at the start of every pool.
        if conf.chdir.len == 0 {
            conf.chdir = Span { off: 0, len: 2 };
        }
        fits
    }

    /// `user` and `group` resolved into the conf: the group, else the
    /// user's; in the groups, that gid and then the user's supplementary
    /// groups (which `groups_of` gave without repeats).
    pub(super) fn resolve_identity(&mut self) {
        let ident = &mut self.conf.ident;
        ident.uid = self.user.map(|(uid, _)| uid);
        let gid = self.group.or(self.user.map(|(_, gid)| gid));
        ident.gid = gid;
        // (The user's groups have no repeats: only the gid may be among
        // them. A user in more groups than tend keeps loses the last ones.)
        if let Some(g) = gid {
            crate::accounts::add_group(&mut ident.groups, g);
        }
        for &g in &self.groups {
            crate::accounts::add_group(&mut ident.groups, g);
        }
    }
}

/// Where `value` is among `choices` (each followed by a NUL byte), in any
/// case.
pub(super) fn choice(value: &[u8], choices: &[u8]) -> Option<usize> {
    crate::say::position_any_case(choices, value)
}

pub(super) use crate::accounts::id_number;

/// The names of an `after` value, separated by blanks and/or commas.
pub(super) fn after_names(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    let names = value.split(|&b| b == b' ' || b == b'\t' || b == b',');
    names.filter(|name| !name.is_empty())
}

/// A size in bytes: digits, then optionally `k` or `m` (in either case).
pub(super) fn parse_size(text: &[u8]) -> Option<u64> {
    let (digits, unit) = match text {
        [digits @ .., b'k' | b'K'] => (digits, 1 << 10),
        [digits @ .., b'm' | b'M'] => (digits, 1 << 20),
        _ => (text, 1),
    };
    crate::say::parse_u64(digits)?.checked_mul(unit)
}

/// A duration in milliseconds: digits, then `ms`, `s` or `m`.
pub(super) fn parse_duration(text: &[u8]) -> Option<u64> {
    let (digits, unit) = match text.split_last()? {
        (b's', rest) => match rest.split_last() {
            Some((b'm', digits)) => (digits, 1),
            _ => (rest, 1000),
        },
        (b'm', digits) => (digits, 60_000),
        _ => return None,
    };
    crate::say::parse_u64(digits)?.checked_mul(unit)
}
